//! The configuration file: its shape, its defaults, and the checks that turn a bad file into one clear error.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use chrono_tz::Tz;
use serde::Deserialize;
use url::Url;

/// Everything `config.toml` can say, with every default filled in and every path absolute.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub site: SiteConfig,
    pub source_dir: PathBuf,
    pub output_dir: PathBuf,
    pub(crate) feeds: FeedsConfig,
    pub server: ServerConfig,
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
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FeedsConfig {
    pub(crate) limit: usize,
    pub(crate) content: ContentMode,
    pub(crate) categories: bool,
    pub(crate) tags: bool,
    pub(crate) atom: bool,
    pub(crate) rss: bool,
    /// Remove scripts, event handlers and `javascript:` URLs from entry content.
    pub(crate) sanitize: bool,
    /// Files larger than this are reported and skipped.
    pub(crate) max_post_bytes: u64,
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    site: RawSite,
    #[serde(default)]
    source: RawSource,
    #[serde(default)]
    output: RawOutput,
    #[serde(default)]
    feeds: RawFeeds,
    #[serde(default)]
    server: RawServer,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    url: String,
    title: Option<String>,
    description: Option<String>,
    author: Option<String>,
    language: Option<String>,
    timezone: Option<String>,
    permalink: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    dir: Option<PathBuf>,
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
}

pub(crate) const DEFAULT_LIMIT: usize = 20;
pub(crate) const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub(crate) const DEFAULT_MAX_POST_BYTES: u64 = 16 * 1024 * 1024;

impl Config {
    /// Reads and checks the file at `path`; relative paths in it resolve from its folder.
    pub fn load(path: &Path) -> Result<Config> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read config file {}", path.display()))?;
        let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let base =
            std::path::absolute(base).with_context(|| format!("cannot resolve the folder of {}", path.display()))?;
        Config::parse(&text, &base).with_context(|| format!("invalid config file {}", path.display()))
    }

    /// Parses config text; `base` is the folder relative paths resolve from.
    pub fn parse(text: &str, base: &Path) -> Result<Config> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| anyhow::anyhow!(one_line(text, &e)))?;
        let site = site_config(raw.site)?;
        let resolve = |p: Option<PathBuf>, default: &str| base.join(p.unwrap_or_else(|| PathBuf::from(default)));
        let formats = raw.feeds.formats.unwrap_or_else(|| vec!["atom".into(), "rss".into()]);
        for f in &formats {
            if f != "atom" && f != "rss" {
                bail!("feeds.formats: unknown format {f:?} (expected \"atom\" and/or \"rss\")");
            }
        }
        if formats.is_empty() {
            bail!("feeds.formats: name at least one of \"atom\" and \"rss\"");
        }
        let limit = raw.feeds.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 {
            bail!("feeds.limit must be at least 1");
        }
        let listen_text = raw.server.listen.unwrap_or_else(|| DEFAULT_LISTEN.into());
        let listen = listen_text
            .parse()
            .with_context(|| format!("server.listen: {listen_text:?} is not an address like 127.0.0.1:8080"))?;
        Ok(Config {
            site,
            source_dir: resolve(raw.source.dir, "."),
            output_dir: resolve(raw.output.dir, "feeds"),
            feeds: FeedsConfig {
                limit,
                content: raw.feeds.content.unwrap_or(ContentMode::Full),
                categories: raw.feeds.categories.unwrap_or(true),
                tags: raw.feeds.tags.unwrap_or(true),
                atom: formats.iter().any(|f| f == "atom"),
                rss: formats.iter().any(|f| f == "rss"),
                sanitize: raw.feeds.sanitize.unwrap_or(true),
                max_post_bytes: raw.feeds.max_post_bytes.unwrap_or(DEFAULT_MAX_POST_BYTES),
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
            },
        })
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

fn site_config(raw: RawSite) -> Result<SiteConfig> {
    let mut url =
        Url::parse(raw.url.trim()).with_context(|| format!("site.url: {:?} is not an absolute URL", raw.url))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        bail!("site.url: {:?} must start with http:// or https://", raw.url);
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("site.url: {:?} must not have a query or a fragment", raw.url);
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    let timezone = match raw.timezone.as_deref() {
        None => Tz::UTC,
        Some(name) => name.parse().map_err(|_| {
            anyhow::anyhow!("site.timezone: {name:?} is not an IANA time zone such as \"Asia/Shanghai\"")
        })?,
    };
    let permalink = expand_style(raw.permalink.as_deref().unwrap_or("date"));
    let title = raw.title.unwrap_or_default();
    Ok(SiteConfig {
        title: if title.trim().is_empty() { url.host_str().unwrap_or("postfeed").to_string() } else { title },
        url,
        description: raw.description.unwrap_or_default(),
        author: raw.author.filter(|a| !a.trim().is_empty()),
        language: raw.language.filter(|l| !l.trim().is_empty()),
        timezone,
        permalink,
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
        assert_eq!(c.feeds.limit, 20);
        assert!(c.feeds.atom && c.feeds.rss && c.feeds.categories && c.feeds.tags);
        assert_eq!(c.site.timezone, Tz::UTC);
        assert_eq!(c.site.permalink, "/:categories/:year/:month/:day/:title:output_ext");
        assert_eq!(c.server.max_age, 300);
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
            ("[site]\nurl = \"https://e.org\"\n[feeds]\nformats = [\"json\"]\n", "feeds.formats"),
            ("[site]\nurl = \"https://e.org\"\n[feeds]\nlimit = 0\n", "feeds.limit"),
            ("[site]\nurl = \"https://e.org\"\n[server]\nlisten = \"nowhere\"\n", "server.listen"),
        ] {
            let err = Config::parse(text, Path::new("/")).unwrap_err();
            assert!(format!("{err:#}").contains(needle), "{text}: {err:#}");
        }
    }
}
