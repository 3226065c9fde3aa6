//! The configuration file: its shape, its defaults, and the checks that turn a bad file into one clear error.

mod feed_paths;
pub mod jekyll;

pub(crate) use feed_paths::FeedPaths;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono_tz::Tz;
use serde::Deserialize;
use url::Url;

use crate::post::front_matter::Field;
use jekyll::{DefaultsSet, JekyllConfig, TagFeeds};

/// Everything postfeed is told, with every default filled in and every path absolute: the site's
/// own `_config.yml` first, `config.toml` over it, and the command line over both.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub site: SiteConfig,
    pub source_dir: PathBuf,
    /// `source.archive`: folders of moved posts (absolute), read like posts for category and tag
    /// feeds only.
    pub(crate) archive_dirs: Vec<PathBuf>,
    pub output_dir: PathBuf,
    pub(crate) feeds: FeedsConfig,
    pub server: ServerConfig,
    pub(crate) websub: WebSubConfig,
    /// `state.dir`, else systemd's `$STATE_DIRECTORY`: where postfeed keeps what it may rebuild
    /// (the post index). `None`: nowhere.
    pub(crate) state_dir: Option<PathBuf>,
    /// `state.index`: keep the parsed posts in the state folder for the next start.
    pub(crate) post_index: bool,
    /// The site's `_config.yml`, when it has one: templates see it as `site.*`.
    pub(crate) jekyll: Option<std::sync::Arc<JekyllConfig>>,
    /// Where each setting's value came from, in the order `check --show-config` lists them.
    pub origins: Vec<(&'static str, Origin)>,
}

/// Where a setting's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Default,
    /// The site's `_config.yml`, at this line where known.
    JekyllConfig(Option<usize>),
    ConfigToml,
    CommandLine,
    /// An environment variable, such as systemd's `STATE_DIRECTORY`.
    Environment(&'static str),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::JekyllConfig(Some(line)) => write!(f, "_config.yml:{line}"),
            Origin::JekyllConfig(None) => f.write_str("_config.yml"),
            Origin::ConfigToml => f.write_str("config.toml"),
            Origin::CommandLine => f.write_str("command line"),
            Origin::Environment(name) => write!(f, "${name}"),
        }
    }
}

/// What to read a configuration from: a `config.toml`, the command line's folders, or both.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// `config.toml`; `None` for none at all.
    pub file: Option<PathBuf>,
    /// `--source`: the site's root, over `source.dir`.
    pub source: Option<PathBuf>,
    /// `--output`: the output folder, over `output.dir`.
    pub output: Option<PathBuf>,
}

/// What a post needs to know about its site to become a feed entry.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteConfig {
    /// The site's address, always ending in `/` so that joining keeps any base path.
    pub(crate) url: Url,
    pub(crate) title: String,
    pub(crate) description: String,
    pub(crate) author: Option<String>,
    pub(crate) language: Option<String>,
    pub(crate) timezone: Tz,
    /// The permalink template, a named style already expanded.
    pub(crate) permalink: String,
    /// Jekyll's `excerpt_separator`: the excerpt is the body up to it. Empty: no excerpt.
    pub(crate) excerpt_separator: String,
    /// Front-matter defaults from `_config.yml`, applied to every post before its own front matter.
    pub(crate) defaults: Vec<DefaultsSet>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FeedsConfig {
    pub(crate) limit: usize,
    pub(crate) content: ContentMode,
    pub(crate) categories: bool,
    pub(crate) tags: bool,
    /// jekyll-feed's `feed.categories`: only these categories get a feed. `None`: every one.
    pub(crate) only_categories: Option<Vec<String>>,
    /// jekyll-feed's `feed.tags.only`: only these tags get a feed. `None`: every one.
    pub(crate) only_tags: Option<Vec<String>>,
    /// jekyll-feed's `feed.tags.except`: these tags get no feed.
    pub(crate) except_tags: Vec<String>,
    pub(crate) atom: bool,
    pub(crate) rss: bool,
    pub(crate) json: bool,
    /// Remove scripts, event handlers and `javascript:` URLs from entry content.
    pub(crate) sanitize: bool,
    /// Files larger than this are reported and skipped.
    pub(crate) max_post_bytes: u64,
    /// Atom and RSS feeds name an XSLT stylesheet that browsers render them with.
    pub(crate) browser_view: bool,
    /// Days a category or tag feed without a post in `_posts` keeps answering before it is
    /// retired (410 Gone).
    pub(crate) retire_after_days: u32,
    /// Where the site feed and the tag feeds live (jekyll-feed's `feed.path`, `feed.tags.path`).
    pub(crate) paths: FeedPaths,
}

/// `[websub]`: the hubs every feed names, and that `serve` tells of each change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WebSubConfig {
    /// Absolute `http(s)` URLs, in the configured order, without duplicates.
    pub(crate) hubs: Vec<Url>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ContentMode {
    Full,
    Excerpt,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub(crate) max_age: u32,
    pub(crate) quiet_ms: u64,
    pub(crate) poll: bool,
    pub(crate) poll_interval_ms: u64,
    pub(crate) max_connections: usize,
    pub(crate) header_timeout_ms: u64,
    pub(crate) idle_timeout_ms: u64,
    pub(crate) max_header_bytes: usize,
    /// Serve `/metrics` (Prometheus text format).
    pub(crate) metrics: bool,
    /// A post whose file no longer parses keeps its last good version in the feeds while the
    /// daemon runs.
    pub(crate) keep_last_good: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    site: RawSite,
    #[serde(default)]
    source: RawSource,
    #[serde(default)]
    output: RawOutput,
    #[serde(default)]
    feeds: RawFeeds,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    websub: RawWebSub,
    #[serde(default)]
    state: RawState,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebSub {
    hubs: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    url: Option<String>,
    title: Option<String>,
    description: Option<String>,
    author: Option<String>,
    language: Option<String>,
    timezone: Option<String>,
    permalink: Option<String>,
    excerpt_separator: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    dir: Option<PathBuf>,
    index: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    dir: Option<PathBuf>,
    archive: Option<Vec<PathBuf>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutput {
    dir: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeeds {
    limit: Option<usize>,
    content: Option<ContentMode>,
    categories: Option<bool>,
    tags: Option<bool>,
    formats: Option<Vec<String>>,
    sanitize: Option<bool>,
    max_post_bytes: Option<u64>,
    browser_view: Option<bool>,
    retire_after_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    max_age: Option<u32>,
    quiet_ms: Option<u64>,
    poll: Option<bool>,
    poll_interval_ms: Option<u64>,
    max_connections: Option<usize>,
    header_timeout_ms: Option<u64>,
    idle_timeout_ms: Option<u64>,
    max_header_bytes: Option<usize>,
    metrics: Option<bool>,
    keep_last_good: Option<bool>,
}

/// The names `feeds.formats` accepts.
const FORMATS: [&str; 3] = ["atom", "rss", "json"];

pub(crate) const DEFAULT_LIMIT: usize = 10;
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub(crate) const DEFAULT_MAX_POST_BYTES: u64 = 16 * 1024 * 1024;
pub(crate) const DEFAULT_RETIRE_AFTER_DAYS: u32 = 30;

impl Config {
    /// `site.author` as jekyll-feed reads it: a name, or a map with `name`, `email` and `uri`.
    pub(crate) fn site_author(&self) -> Option<crate::post::Author> {
        let name = self.site.author.clone()?;
        let map = self.jekyll.as_ref().and_then(|j| j.get("author")).filter(|f| matches!(f, Field::Map(_)));
        let text = |key: &str| {
            map.and_then(|m| m.get(key)).and_then(Field::as_text).map(crate::post::clean).filter(|t| !t.is_empty())
        };
        // The map counts only when it is where the name came from, not overridden by config.toml.
        let from_map = text("name").as_deref() == Some(name.as_str());
        Some(crate::post::Author {
            name,
            email: from_map.then(|| text("email")).flatten(),
            uri: from_map.then(|| text("uri")).flatten().and_then(|uri| crate::urls::web_link(&uri)),
        })
    }

    /// Reads and checks the file at `path`, and the site's `_config.yml` under it; relative paths
    /// in it resolve from its folder.
    pub fn load(path: &Path) -> Result<Config> {
        Config::load_from(&Sources { file: Some(path.to_path_buf()), ..Sources::default() })
    }

    /// Reads `config.toml` (if named), then the site's `_config.yml`, and lays them and the
    /// command line's folders over each other.
    pub fn load_from(sources: &Sources) -> Result<Config> {
        let (raw, base) = match &sources.file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read config file {}", path.display()))?;
                let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
                let base = std::path::absolute(base)
                    .with_context(|| format!("cannot resolve the folder of {}", path.display()))?;
                let raw: RawConfig = toml::from_str(&text)
                    .map_err(|e| anyhow::anyhow!(one_line(&text, &e)))
                    .with_context(|| format!("invalid config file {}", path.display()))?;
                (Some(raw), base)
            }
            None => (None, std::path::absolute(".").context("cannot resolve the current folder")?),
        };
        let absolute = |p: &PathBuf| std::path::absolute(p).with_context(|| format!("cannot resolve {}", p.display()));
        let overrides = Overrides {
            source: sources.source.as_ref().map(absolute).transpose()?,
            output: sources.output.as_ref().map(absolute).transpose()?,
        };
        let source_dir = overrides.source.clone().unwrap_or_else(|| source_dir(raw.as_ref(), &base));
        let jekyll = JekyllConfig::load(&source_dir)?;
        let what = match &sources.file {
            Some(path) => format!("invalid config file {}", path.display()),
            None => format!("cannot configure postfeed for {}", source_dir.display()),
        };
        Config::build(raw.unwrap_or_default(), &base, jekyll, &overrides).context(what)
    }

    /// Parses `config.toml` text alone, with no `_config.yml`; `base` is the folder relative paths
    /// resolve from.
    pub fn parse(text: &str, base: &Path) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| anyhow::anyhow!(one_line(text, &e)))?;
        Config::build(raw, base, None, &Overrides::default())
    }

    fn build(raw: RawConfig, base: &Path, jekyll: Option<JekyllConfig>, overrides: &Overrides) -> Result<Config> {
        let mut origins = Origins::default();
        let site = site_config(raw.site, jekyll.as_ref(), &mut origins)?;
        let resolve = |p: Option<PathBuf>, default: &str| base.join(p.unwrap_or_else(|| PathBuf::from(default)));
        let formats = raw.feeds.formats.unwrap_or_else(|| vec!["atom".into(), "rss".into()]);
        for f in &formats {
            if !FORMATS.contains(&f.as_str()) {
                bail!("feeds.formats: unknown format {f:?} (expected some of \"atom\", \"rss\" and \"json\")");
            }
        }
        if formats.is_empty() {
            bail!("feeds.formats: name at least one of \"atom\", \"rss\" and \"json\"");
        }
        let websub = websub_config(raw.websub)?;
        let feed_block = jekyll.as_ref().map(|j| &j.feed);
        let feed_line = jekyll.as_ref().and_then(|j| j.line_of("feed"));
        let limit = origins.pick(
            "feeds.limit",
            raw.feeds.limit,
            feed_block.and_then(|f| f.posts_limit).map(|l| (l, feed_line)),
            DEFAULT_LIMIT,
        );
        if limit == 0 {
            bail!("feeds.limit must be at least 1");
        }
        let excerpt_only = feed_block
            .and_then(|f| f.excerpt_only)
            .map(|e| (if e { ContentMode::Excerpt } else { ContentMode::Full }, feed_line));
        let content = origins.pick("feeds.content", raw.feeds.content, excerpt_only, ContentMode::Full);
        // jekyll-feed writes tag feeds only when asked; postfeed writes them unless told not to.
        let jekyll_tags = match feed_block.map(|f| &f.tags) {
            Some(TagFeeds::Off) => Some((false, feed_line)),
            Some(TagFeeds::On { .. }) => Some((true, feed_line)),
            Some(TagFeeds::Unset) | None => None,
        };
        let tags = origins.pick("feeds.tags", raw.feeds.tags, jekyll_tags, true);
        let (only_tags, except_tags) = match feed_block.map(|f| &f.tags) {
            Some(TagFeeds::On { only, except, .. }) => (only.clone(), except.clone()),
            _ => (None, Vec::new()),
        };
        let only_categories = feed_block.and_then(|f| f.categories.clone());
        // `_config.yml` has dropped (with a note) a path that cannot be used.
        let site_path = feed_block.and_then(|f| f.path.as_deref());
        let tags_path = match feed_block.map(|f| &f.tags) {
            Some(TagFeeds::On { path, .. }) => path.as_deref(),
            _ => None,
        };
        let paths = FeedPaths::new(site_path, tags_path);
        let path_origin = |set: bool| if set { Origin::JekyllConfig(feed_line) } else { Origin::Default };
        origins.set("feed.path", path_origin(paths.site_atom != FeedPaths::default().site_atom));
        origins.set("feed.tags.path", path_origin(paths.tags_dir != FeedPaths::default().tags_dir));
        let listen_text = raw.server.listen.unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = listen_text
            .parse()
            .with_context(|| format!("server.listen: {listen_text:?} is not an address like 127.0.0.1:8080"))?;
        let source_dir = match &overrides.source {
            Some(dir) => {
                origins.set("source.dir", Origin::CommandLine);
                dir.clone()
            }
            None => {
                origins.set("source.dir", if raw.source.dir.is_some() { Origin::ConfigToml } else { Origin::Default });
                resolve(raw.source.dir, ".")
            }
        };
        let mut archive_dirs = Vec::new();
        for folder in raw.source.archive.unwrap_or_default() {
            let plain = !folder.as_os_str().is_empty()
                && folder.components().all(|c| matches!(c, std::path::Component::Normal(_)));
            if !plain {
                bail!(
                    "source.archive: {:?} must be a folder inside the site root, such as \"old_post\"",
                    folder.display().to_string()
                );
            }
            archive_dirs.push(source_dir.join(folder));
        }
        let output_dir = match &overrides.output {
            Some(dir) => {
                origins.set("output.dir", Origin::CommandLine);
                dir.clone()
            }
            None => {
                origins.set("output.dir", if raw.output.dir.is_some() { Origin::ConfigToml } else { Origin::Default });
                resolve(raw.output.dir, "feeds")
            }
        };
        let state_dir = match raw.state.dir {
            Some(dir) => {
                origins.set("state.dir", Origin::ConfigToml);
                Some(base.join(dir))
            }
            // systemd sets it for `StateDirectory=` (several folders are separated by `:`).
            None => match std::env::var_os("STATE_DIRECTORY").filter(|v| !v.is_empty()) {
                Some(dirs) => {
                    origins.set("state.dir", Origin::Environment("STATE_DIRECTORY"));
                    std::env::split_paths(&dirs).next()
                }
                None => {
                    origins.set("state.dir", Origin::Default);
                    None
                }
            },
        };
        Ok(Config {
            site,
            source_dir,
            archive_dirs,
            output_dir,
            state_dir,
            post_index: raw.state.index.unwrap_or(true),
            feeds: FeedsConfig {
                limit,
                content,
                categories: raw.feeds.categories.unwrap_or(true),
                tags,
                only_categories,
                only_tags,
                except_tags,
                atom: formats.iter().any(|f| f == "atom"),
                rss: formats.iter().any(|f| f == "rss"),
                json: formats.iter().any(|f| f == "json"),
                sanitize: raw.feeds.sanitize.unwrap_or(true),
                max_post_bytes: raw.feeds.max_post_bytes.unwrap_or(DEFAULT_MAX_POST_BYTES),
                browser_view: raw.feeds.browser_view.unwrap_or(true),
                retire_after_days: raw.feeds.retire_after_days.unwrap_or(DEFAULT_RETIRE_AFTER_DAYS),
                paths,
            },
            server: ServerConfig {
                listen,
                max_age: raw.server.max_age.unwrap_or(300),
                quiet_ms: raw.server.quiet_ms.unwrap_or(100),
                poll: raw.server.poll.unwrap_or(false),
                poll_interval_ms: raw.server.poll_interval_ms.unwrap_or(2000),
                max_connections: raw.server.max_connections.unwrap_or(1024),
                header_timeout_ms: raw.server.header_timeout_ms.unwrap_or(5000),
                idle_timeout_ms: raw.server.idle_timeout_ms.unwrap_or(60_000),
                max_header_bytes: raw.server.max_header_bytes.unwrap_or(16 * 1024),
                metrics: raw.server.metrics.unwrap_or(false),
                keep_last_good: raw.server.keep_last_good.unwrap_or(true),
            },
            websub,
            jekyll: jekyll.map(std::sync::Arc::new),
            origins: origins.0,
        })
    }

    /// The post index file for this site, when there is a state folder and the index is on.
    pub(crate) fn post_index_file(&self) -> Option<PathBuf> {
        let dir = self.state_dir.as_ref().filter(|_| self.post_index)?;
        Some(crate::site::post_index::file_for(dir, &self.source_dir))
    }

    /// The file of entries kept between runs, when there is a state folder and the index is on.
    pub(crate) fn entry_store_file(&self) -> Option<PathBuf> {
        let dir = self.state_dir.as_ref().filter(|_| self.post_index)?;
        Some(crate::entry_store::file_for(dir, &self.source_dir))
    }

    /// Each setting that can come from more than one place, with its value and where it came from.
    pub fn describe(&self) -> Vec<(&'static str, String, &Origin)> {
        let site = &self.site;
        let value = |key: &str| -> String {
            match key {
                "site.url" => site.url.to_string(),
                "site.title" => site.title.clone(),
                "site.description" => site.description.clone(),
                "site.author" => site.author.clone().unwrap_or_default(),
                "site.language" => site.language.clone().unwrap_or_default(),
                "site.timezone" => site.timezone.name().to_string(),
                "site.permalink" => site.permalink.clone(),
                "site.excerpt_separator" => site.excerpt_separator.clone(),
                "feeds.limit" => self.feeds.limit.to_string(),
                "feeds.content" => format!("{:?}", self.feeds.content).to_lowercase(),
                "feeds.tags" => self.feeds.tags.to_string(),
                "feed.path" => self.feeds.paths.site_atom.clone(),
                "feed.tags.path" => self.feeds.paths.tags_dir.clone(),
                "source.dir" => self.source_dir.display().to_string(),
                "output.dir" => self.output_dir.display().to_string(),
                "state.dir" => self.state_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default(),
                _ => String::new(),
            }
        };
        self.origins.iter().map(|(key, origin)| (*key, value(key), origin)).collect()
    }
}

/// `[websub] hubs`: each an absolute `http(s)` URL without a fragment; duplicates are dropped.
fn websub_config(raw: RawWebSub) -> Result<WebSubConfig> {
    let mut hubs: Vec<Url> = Vec::new();
    for text in raw.hubs.unwrap_or_default() {
        let hub = Url::parse(text.trim()).with_context(|| format!("websub.hubs: {text:?} is not an absolute URL"))?;
        if hub.scheme() != "http" && hub.scheme() != "https" {
            bail!("websub.hubs: {text:?} must start with https:// or http://");
        }
        if hub.host_str().is_none_or(str::is_empty) {
            bail!("websub.hubs: {text:?} has no host");
        }
        if hub.fragment().is_some() {
            bail!("websub.hubs: {text:?} must not have a fragment");
        }
        if !hubs.contains(&hub) {
            hubs.push(hub);
        }
    }
    Ok(WebSubConfig { hubs })
}

/// The command line's folders, already absolute.
#[derive(Debug, Default)]
struct Overrides {
    source: Option<PathBuf>,
    output: Option<PathBuf>,
}

/// The site root named by `config.toml`, before the command line is taken into account.
fn source_dir(raw: Option<&RawConfig>, base: &Path) -> PathBuf {
    base.join(raw.and_then(|r| r.source.dir.clone()).unwrap_or_else(|| PathBuf::from(".")))
}

/// Records where each value came from while the layers are laid over each other.
#[derive(Default)]
struct Origins(Vec<(&'static str, Origin)>);

impl Origins {
    fn set(&mut self, key: &'static str, origin: Origin) {
        self.0.retain(|(k, _)| *k != key);
        self.0.push((key, origin));
    }

    /// `config.toml`'s value, else `_config.yml`'s (with its line), else the default.
    fn pick<T>(&mut self, key: &'static str, toml: Option<T>, jekyll: Option<(T, Option<usize>)>, default: T) -> T {
        match (toml, jekyll) {
            (Some(v), _) => {
                self.set(key, Origin::ConfigToml);
                v
            }
            (None, Some((v, line))) => {
                self.set(key, Origin::JekyllConfig(line));
                v
            }
            (None, None) => {
                self.set(key, Origin::Default);
                default
            }
        }
    }
}

/// `line N: message`, instead of toml's multi-line report with a source excerpt.
fn one_line(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().split_whitespace().collect::<Vec<_>>().join(" ");
    match error.span() {
        Some(span) => format!("line {}: {message}", text[..span.start.min(text.len())].matches('\n').count() + 1),
        None => message,
    }
}

fn site_config(raw: RawSite, jekyll: Option<&JekyllConfig>, origins: &mut Origins) -> Result<SiteConfig> {
    // A value from `_config.yml`, with the line of its key.
    let from_jekyll = |key: &str| -> Option<(String, Option<usize>)> {
        let j = jekyll?;
        j.text(key).map(|v| (v.to_string(), j.line_of(key)))
    };
    let jekyll_url = jekyll.and_then(|j| j.site_url().map(|u| (u, j.line_of("url"))));
    let url_text = origins.pick("site.url", raw.url, jekyll_url, String::new());
    if url_text.trim().is_empty() {
        bail!(
            "site.url: the site's address is not known; set `url` in the site's _config.yml or [site] url in config.toml"
        );
    }
    let mut url =
        Url::parse(url_text.trim()).with_context(|| format!("site.url: {url_text:?} is not an absolute URL"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        bail!("site.url: {url_text:?} must start with http:// or https://");
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("site.url: {url_text:?} must not have a query or a fragment");
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    let timezone_name = origins.pick("site.timezone", raw.timezone, from_jekyll("timezone"), "UTC".to_string());
    let timezone: Tz = timezone_name.parse().map_err(|_| {
        anyhow::anyhow!("site.timezone: {timezone_name:?} is not an IANA time zone such as \"Asia/Shanghai\"")
    })?;
    let permalink_text = origins.pick("site.permalink", raw.permalink, from_jekyll("permalink"), "date".to_string());
    let permalink = expand_style(&permalink_text);
    // jekyll-feed titles the feed `site.title`, else `site.name`.
    let jekyll_title = from_jekyll("title").or_else(|| from_jekyll("name"));
    let title = origins.pick("site.title", raw.title, jekyll_title, String::new());
    let description = origins.pick("site.description", raw.description, from_jekyll("description"), String::new());
    // `author` may be a name or a map with one.
    let jekyll_author = jekyll.and_then(|j| {
        let name = match j.get("author")? {
            Field::Map(_) => j.get("author")?.get("name")?.as_text()?,
            other => other.as_text()?,
        };
        Some((name.to_string(), j.line_of("author")))
    });
    let author = origins.pick("site.author", raw.author, jekyll_author, String::new());
    let language = origins.pick("site.language", raw.language, from_jekyll("lang"), String::new());
    let jekyll_separator = jekyll.and_then(|j| j.excerpt_separator().map(|s| (s, j.line_of("excerpt_separator"))));
    let excerpt_separator =
        origins.pick("site.excerpt_separator", raw.excerpt_separator, jekyll_separator, "\n\n".to_string());
    // What XML cannot hold never reaches a feed.
    let (title, description, author, language) = (
        crate::post::clean(&title),
        crate::post::clean(&description),
        crate::post::clean(&author),
        crate::post::clean(&language),
    );
    Ok(SiteConfig {
        title: if title.trim().is_empty() { url.host_str().unwrap_or("postfeed").to_string() } else { title },
        url,
        description,
        author: Some(author).filter(|a| !a.trim().is_empty()),
        language: Some(language).filter(|l| !l.trim().is_empty()),
        timezone,
        permalink,
        excerpt_separator,
        defaults: jekyll.map(|j| j.defaults.clone()).unwrap_or_default(),
    })
}

/// Expands Jekyll's named permalink styles; any other text is a template already.
pub(crate) fn expand_style(style: &str) -> String {
    match style.trim() {
        "date" => "/:categories/:year/:month/:day/:title:output_ext",
        "pretty" => "/:categories/:year/:month/:day/:title/",
        "ordinal" => "/:categories/:year/:y_day/:title:output_ext",
        "weekdate" => "/:categories/:year/W:week/:short_day/:title:output_ext",
        "none" => "/:categories/:title:output_ext",
        other => other,
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_everything_but_the_url() {
        let c = Config::parse("[site]\nurl = \"https://example.org/blog\"\n", Path::new("/srv/site")).unwrap();
        assert_eq!(c.site.url.as_str(), "https://example.org/blog/");
        assert_eq!(c.source_dir, Path::new("/srv/site/."));
        assert_eq!(c.output_dir, Path::new("/srv/site/feeds"));
        assert_eq!(c.feeds.limit, 10, "jekyll-feed's posts_limit");
        assert!(c.feeds.atom && c.feeds.rss && c.feeds.categories && c.feeds.tags);
        assert_eq!(c.site.timezone, Tz::UTC);
        assert_eq!(c.site.permalink, "/:categories/:year/:month/:day/:title:output_ext");
        assert_eq!(c.server.max_age, 300);
        assert!(!c.feeds.json);
        assert!(c.websub.hubs.is_empty());
    }

    #[test]
    fn json_is_a_format_and_hubs_are_urls() {
        let text = "[site]\nurl = \"https://e.org\"\n[feeds]\nformats = [\"json\"]\n[websub]\nhubs = [\"https://hub.example.org/\", \"http://127.0.0.1:7/h\", \"https://hub.example.org/\"]\n";
        let c = Config::parse(text, Path::new("/")).unwrap();
        assert!(c.feeds.json && !c.feeds.atom && !c.feeds.rss);
        let hubs: Vec<&str> = c.websub.hubs.iter().map(Url::as_str).collect();
        assert_eq!(hubs, ["https://hub.example.org/", "http://127.0.0.1:7/h"]);
    }

    #[test]
    fn unknown_keys_are_named() {
        let err = Config::parse("[site]\nurl = \"https://e.org\"\ntitel = \"x\"\n", Path::new("/")).unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("titel") && text.starts_with("line 3: "), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
        let err = Config::parse("[site]\nurl = \"https://e.org\"\n[feed]\n", Path::new("/")).unwrap_err();
        assert!(format!("{err:#}").contains("feed"), "{err:#}");
    }

    #[test]
    fn bad_values_are_explained() {
        for (text, needle) in [
            ("[site]\nurl = \"example.org\"\n", "site.url"),
            ("[site]\nurl = \"ftp://e.org\"\n", "site.url"),
            ("[site]\nurl = \"https://e.org\"\ntimezone = \"Mars/Base\"\n", "site.timezone"),
            ("[site]\nurl = \"https://e.org\"\n[feeds]\nformats = [\"jsonfeed\"]\n", "feeds.formats"),
            ("[site]\nurl = \"https://e.org\"\n[feeds]\nformats = []\n", "feeds.formats"),
            ("[site]\nurl = \"https://e.org\"\n[websub]\nhubs = [\"hub.example.org\"]\n", "websub.hubs"),
            ("[site]\nurl = \"https://e.org\"\n[websub]\nhubs = [\"ftp://hub.example.org/\"]\n", "websub.hubs"),
            ("[site]\nurl = \"https://e.org\"\n[websub]\nhubs = [\"https://h.example.org/#x\"]\n", "websub.hubs"),
            ("[site]\nurl = \"https://e.org\"\n[websub]\nhub = [\"https://h.example.org/\"]\n", "hub"),
            ("[site]\nurl = \"https://e.org\"\n[feeds]\nlimit = 0\n", "feeds.limit"),
            ("[site]\nurl = \"https://e.org\"\n[server]\nlisten = \"nowhere\"\n", "server.listen"),
        ] {
            let err = Config::parse(text, Path::new("/")).unwrap_err();
            assert!(format!("{err:#}").contains(needle), "{text}: {err:#}");
        }
    }

    fn with_jekyll(toml_text: &str, yml: &str) -> Result<Config> {
        let raw: RawConfig = toml::from_str(toml_text).unwrap();
        let jekyll = JekyllConfig::parse(yml, Path::new("_config.yml")).unwrap();
        Config::build(raw, Path::new("/srv"), Some(jekyll), &Overrides::default())
    }

    fn origin<'c>(config: &'c Config, key: &str) -> &'c Origin {
        &config.origins.iter().find(|(k, _)| *k == key).unwrap_or_else(|| panic!("no origin for {key}")).1
    }

    #[test]
    fn jekyll_config_supplies_what_config_toml_leaves_out() {
        let yml = "title: Harbor\nurl: https://h.example.org\nbaseurl: /notes\ntimezone: Asia/Shanghai\nlang: en\nauthor:\n  name: Desk\n  email: d@h.example.org\npermalink: pretty\nexcerpt_separator: <!--more-->\nfeed:\n  posts_limit: 7\n  excerpt_only: true\n";
        let c = with_jekyll("[source]\ndir = \"site\"\n[output]\ndir = \"out\"\n", yml).unwrap();
        assert_eq!(c.site.url.as_str(), "https://h.example.org/notes/");
        assert_eq!(c.site.title, "Harbor");
        assert_eq!(c.site.timezone.name(), "Asia/Shanghai");
        assert_eq!(c.site.language.as_deref(), Some("en"));
        assert_eq!(c.site.author.as_deref(), Some("Desk"));
        assert_eq!(c.site.permalink, "/:categories/:year/:month/:day/:title/");
        assert_eq!(c.site.excerpt_separator, "<!--more-->");
        assert_eq!((c.feeds.limit, c.feeds.content), (7, ContentMode::Excerpt));
        assert_eq!(origin(&c, "site.url"), &Origin::JekyllConfig(Some(2)));
        assert_eq!(origin(&c, "feeds.limit"), &Origin::JekyllConfig(Some(11)));
        assert_eq!(origin(&c, "source.dir"), &Origin::ConfigToml);
        assert_eq!(origin(&c, "site.description"), &Origin::Default);
        assert!(c.jekyll.is_some());
    }

    #[test]
    fn config_toml_wins_over_jekyll_config() {
        let yml = "title: Harbor\nurl: https://h.example.org\ntimezone: Asia/Shanghai\nfeed:\n  posts_limit: 7\n";
        let c = with_jekyll("[site]\nurl = \"https://feeds.example.org\"\ntitle = \"Mine\"\n[feeds]\nlimit = 3\n", yml)
            .unwrap();
        assert_eq!((c.site.url.as_str(), c.site.title.as_str()), ("https://feeds.example.org/", "Mine"));
        assert_eq!(c.site.timezone.name(), "Asia/Shanghai");
        assert_eq!(c.feeds.limit, 3);
        assert_eq!(origin(&c, "site.url"), &Origin::ConfigToml);
        assert_eq!(origin(&c, "site.timezone"), &Origin::JekyllConfig(Some(3)));
        let described = c.describe();
        assert!(described.iter().any(|(k, v, o)| *k == "feeds.limit" && v == "3" && **o == Origin::ConfigToml));
    }

    #[test]
    fn no_url_anywhere_says_where_to_put_one() {
        for yml in ["title: x\n", "url: \"\"\n"] {
            let err = with_jekyll("", yml).unwrap_err();
            let text = format!("{err:#}");
            assert!(text.contains("_config.yml") && text.contains("[site] url"), "{text}");
        }
    }

    #[test]
    fn a_site_title_falls_back_to_name_then_host() {
        let c = with_jekyll("", "name: Named\nurl: https://n.example.org\n").unwrap();
        assert_eq!(c.site.title, "Named");
        let c = with_jekyll("", "url: https://n.example.org\n").unwrap();
        assert_eq!(c.site.title, "n.example.org");
        assert_eq!(c.site.excerpt_separator, "\n\n");
    }
}
