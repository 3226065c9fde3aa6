//! Helpers: temporary sites and configs, running the binary, and reading feeds back with feed-rs;
//! [`daemon`] runs `postfeed serve`, [`http`] is the one HTTP client.

pub mod daemon;
pub mod http;
pub mod webdriver;

pub use daemon::{Daemon, CHANGE_WAIT};

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use chrono::{DateTime, FixedOffset, Utc};
use feed_rs::model::{Entry, Feed};
use tempfile::TempDir;

/// What feed-rs is told to use as an entry id when a feed has none, so that a missing id (or
/// RSS guid) shows up in comparisons instead of a made-up hash.
pub const MISSING_ID: &str = "<no id in the feed>";

/// The repository's root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The shared corpora (`$POSTFEED_CORPORA`, else `../shared/corpora` beside the repository).
pub fn corpora_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("POSTFEED_CORPORA") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("../shared/corpora"),
    };
    dir.is_dir().then_some(dir)
}

// ---------------------------------------------------------------------------------------------
// Running the binary

/// One finished run of `postfeed`.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    #[track_caller]
    pub fn assert_code(&self, code: i32) -> &Run {
        assert_eq!(self.code, Some(code), "unexpected exit code\n{self}");
        self
    }

    /// Lines of stderr that report something about `source` (a path relative to the source root).
    pub fn stderr_lines_about(&self, source: &str) -> Vec<&str> {
        lines_about(&self.stderr, source)
    }

    /// Lines of stdout that start with `source:`, as `check` prints them.
    pub fn stdout_lines_about(&self, source: &str) -> Vec<&str> {
        let prefix = format!("{source}:");
        self.stdout.lines().filter(|l| l.starts_with(&prefix)).collect()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit code: {:?}\n--- stdout ---\n{}--- stderr ---\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Lines of `text` that mention `source` followed by `:` (`path: reason` or `path:line: reason`).
pub fn lines_about<'a>(text: &'a str, source: &str) -> Vec<&'a str> {
    let needle = format!("{source}:");
    text.lines().filter(|l| l.contains(&needle)).collect()
}

/// Runs the binary with a clean logging environment, so that output is what a user sees.
pub fn postfeed<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    postfeed_in(&std::env::current_dir().expect("a working folder"), args)
}

/// [`postfeed`] run in `dir`, so that a `config.toml` of the working folder is not found.
pub fn postfeed_in<I, S>(dir: &Path, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let out = Command::new(env!("CARGO_BIN_EXE_postfeed"))
        .args(args)
        .current_dir(dir)
        .env_remove("RUST_LOG")
        .env_remove("JOURNAL_STREAM")
        .output()
        .expect("the postfeed binary runs");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub fn regen(config: &Path) -> Run {
    postfeed([OsStr::new("regen"), OsStr::new("--config"), config.as_os_str()])
}

pub fn check(config: &Path) -> Run {
    postfeed([OsStr::new("check"), OsStr::new("--config"), config.as_os_str()])
}

// ---------------------------------------------------------------------------------------------
// Temporary sites and configs

/// The settings a test config file varies.
#[derive(Debug, Clone)]
pub struct Settings {
    pub url: String,
    pub title: String,
    pub timezone: String,
    pub author: Option<String>,
    pub limit: Option<usize>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            url: "https://blog.example.org".into(),
            title: "Test Blog".into(),
            timezone: "Asia/Shanghai".into(),
            author: Some("Site Author".into()),
            limit: None,
        }
    }
}

/// A TOML basic string, quoted and escaped.
pub fn toml_str(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// Writes a config file at `path` for `source` → `output`.
pub fn write_config(path: &Path, source: &Path, output: &Path, settings: &Settings) {
    let mut text = format!(
        "[site]\nurl = {}\ntitle = {}\ntimezone = {}\n",
        toml_str(&settings.url),
        toml_str(&settings.title),
        toml_str(&settings.timezone)
    );
    if let Some(author) = &settings.author {
        text += &format!("author = {}\n", toml_str(author));
    }
    text += &format!(
        "[source]\ndir = {}\n[output]\ndir = {}\n",
        toml_str(&source.to_string_lossy()),
        toml_str(&output.to_string_lossy())
    );
    if let Some(limit) = settings.limit {
        text += &format!("[feeds]\nlimit = {limit}\n");
    }
    fs::write(path, text).expect("config written");
}

/// Writes `dir/config.toml`: the repository's config.toml with its source folder pointed at the
/// example site, its output folder at `output`, and `feeds.limit` replaced if asked.
pub fn write_example_config(dir: &Path, output: &Path, limit: Option<i64>) -> PathBuf {
    let text = fs::read_to_string(repo_root().join("config.toml")).expect("config.toml");
    let mut config: toml::Table = text.parse().expect("config.toml is TOML");
    let mut set = |table: &str, key: &str, value: toml::Value| {
        let section = config.entry(table).or_insert_with(|| toml::Value::Table(toml::Table::new()));
        section.as_table_mut().expect("a table").insert(key.into(), value);
    };
    set("source", "dir", toml::Value::String(repo_root().join("examples/site").to_string_lossy().into_owned()));
    set("output", "dir", toml::Value::String(output.to_string_lossy().into_owned()));
    if let Some(limit) = limit {
        set("feeds", "limit", toml::Value::Integer(limit));
    }
    let path = dir.join("config.toml");
    fs::write(&path, toml::to_string(&config).expect("TOML out")).expect("config written");
    path
}

/// A temporary folder holding a site (`site/`), configs and output folders side by side.
pub struct Workspace {
    dir: TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        let dir = tempfile::Builder::new().prefix("postfeed-it-").tempdir().expect("temp dir");
        fs::create_dir(dir.path().join("site")).expect("site dir");
        Workspace { dir }
    }

    pub fn with_posts<C: AsRef<[u8]>>(posts: &[(&str, C)]) -> Workspace {
        let ws = Workspace::new();
        for (source, content) in posts {
            ws.write(source, content);
        }
        ws
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn site(&self) -> PathBuf {
        self.dir.path().join("site")
    }

    /// Writes a file at `source`, relative to the site root, creating folders.
    pub fn write(&self, source: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.site().join(source);
        fs::create_dir_all(path.parent().expect("a parent")).expect("folders created");
        fs::write(&path, content).expect("file written");
        path
    }

    /// The output folder `out-<name>` and a config `<name>.toml` that writes into it.
    pub fn config(&self, name: &str, settings: &Settings) -> (PathBuf, PathBuf) {
        let config = self.root().join(format!("{name}.toml"));
        let output = self.root().join(format!("out-{name}"));
        write_config(&config, &self.site(), &output, settings);
        (config, output)
    }

    /// Runs `regen` into `out-<name>`; returns the run and the output folder.
    pub fn regen(&self, name: &str, settings: &Settings) -> (Run, PathBuf) {
        let (config, output) = self.config(name, settings);
        (regen(&config), output)
    }
}

/// A post file's text: front matter lines, then the body.
pub fn post(front_matter: &str, body: &str) -> String {
    format!("---\n{}\n---\n{body}\n", front_matter.trim_end())
}

/// A small, valid site that the bad-input tests add one file to.
pub fn base_posts() -> Vec<(&'static str, String)> {
    vec![
        (
            "_posts/2021-03-01-first-post.md",
            post(
                "title: First post\ndate: 2021-03-01 09:00:00 +0800\ncategories: news\ntags: [alpha, 标签]",
                "The first post, with [a link](/about/) and ![an image](img/a.png).",
            ),
        ),
        (
            "_posts/2021-03-02-second-post.md",
            post(
                "title: Second post\ndate: 2021-03-02 10:00:00 +0800\ncategories: [news, markets]\ntags: beta",
                "Second body.\n\nMore text.",
            ),
        ),
        (
            "business/_posts/2021-03-03-third-post.html",
            post(
                "title: Third post\ndate: 2021-03-03 11:00:00 +0800\ntags: [alpha]",
                "<p>Third, in <a href=\"../x.html\">HTML</a>.</p>",
            ),
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// Output folders and feeds

/// The browser view's stylesheet in an output folder (checked by `browser.rs`, not a feed).
pub const STYLESHEET: &str = "feed.xsl";

/// The files postfeed keeps in the output folder besides feeds: the feed state and the lists of
/// retired feeds. They are not feeds and are never served; `tests/it/keepalive.rs` checks them.
pub const SIDE_FILES: [&str; 3] = ["postfeed-state.json", "retired.txt", "retired.nginx.conf"];

/// Whether the output-relative path `rel` is one of [`SIDE_FILES`] or the [`STYLESHEET`]: a file
/// of the output folder that is no feed.
pub fn is_side_file(rel: &str) -> bool {
    SIDE_FILES.contains(&rel) || rel == STYLESHEET
}

/// Copies the feed state of the output folder `from` into `to`, so that a `regen` into `to`
/// knows the feeds that `from`'s runs saw lose their posts: the same tree and the same state give
/// the same feeds (a kept feed is not in the tree alone).
pub fn share_feed_state(from: &Path, to: &Path) {
    if let Ok(bytes) = fs::read(from.join(SIDE_FILES[0])) {
        fs::create_dir_all(to).expect("output folder");
        fs::write(to.join(SIDE_FILES[0]), bytes).expect("state copied");
    }
}

/// Every feed file under `dir` (no [`is_side_file`]), by `/`-separated relative path, with its bytes.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let mut entries: Vec<_> =
            fs::read_dir(dir).expect("folder readable").map(|e| e.expect("entry").path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).expect("under root");
                let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                if !is_side_file(&rel) {
                    out.insert(rel, fs::read(&path).expect("file readable"));
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out.remove(STYLESHEET);
    out
}

/// Asserts two output folders hold the same files with the same bytes, naming the differences.
#[track_caller]
pub fn assert_same_tree(expected: &Path, actual: &Path) {
    let (a, b) = (tree(expected), tree(actual));
    let only_expected: Vec<&String> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let only_actual: Vec<&String> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    let differ: Vec<&String> = a.keys().filter(|k| b.get(*k).is_some_and(|v| v != &a[*k])).collect();
    assert!(
        only_expected.is_empty() && only_actual.is_empty() && differ.is_empty(),
        "output folders differ: {} vs {}\nonly in the first: {only_expected:?}\nonly in the second: {only_actual:?}\ndifferent bytes: {differ:?}",
        expected.display(),
        actual.display()
    );
}

/// A feed as feed-rs reads it, plus every timestamp text it saw, in document order.
pub struct ReadFeed {
    pub feed: Feed,
    pub timestamps: Vec<String>,
}

/// Strict timestamps: RFC 3339 (Atom) or RFC 2822 (RSS), nothing lenient.
pub fn parse_timestamp(text: &str) -> Option<DateTime<FixedOffset>> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text).or_else(|_| DateTime::parse_from_rfc2822(text)).ok()
}

/// Parses feed bytes with feed-rs; missing ids become `MISSING_ID`, dates must be strict. The
/// bytes must first be well-formed XML to roxmltree, which is strict where feed-rs is lenient
/// (a bare `&` in an attribute, say).
pub fn parse_feed(bytes: &[u8]) -> Result<ReadFeed, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    roxmltree::Document::parse(text).map_err(|e| format!("not well-formed XML: {e}"))?;
    parse_with(bytes, |text| parse_timestamp(text).map(|d| d.with_timezone(&Utc)))
}

/// Parses JSON Feed bytes with feed-rs, as [`parse_feed`] does XML: missing ids become
/// `MISSING_ID`, and every date must be strict RFC 3339 (JSON Feed allows nothing else).
pub fn parse_json_feed(bytes: &[u8]) -> Result<ReadFeed, String> {
    std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let read = parse_with(bytes, |text| DateTime::parse_from_rfc3339(text).ok().map(|d| d.with_timezone(&Utc)))?;
    if read.feed.feed_type != feed_rs::model::FeedType::JSON {
        return Err(format!("feed-rs read it as {:?}, not JSON Feed", read.feed.feed_type));
    }
    Ok(read)
}

/// feed-rs with missing ids as `MISSING_ID`, dates read by `date` only, and every date text kept.
fn parse_with(bytes: &[u8], date: fn(&str) -> Option<DateTime<Utc>>) -> Result<ReadFeed, String> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let record = Rc::clone(&seen);
    let parser = feed_rs::parser::Builder::new()
        .id_generator(|_, _, _| MISSING_ID.to_string())
        .timestamp_parser(move |text| {
            record.borrow_mut().push(text.to_string());
            date(text)
        })
        .build();
    let feed = parser.parse(bytes).map_err(|e| e.to_string())?;
    let timestamps = seen.borrow().clone();
    Ok(ReadFeed { feed, timestamps })
}

/// The URL a feed at output-relative `rel` is published at under `site_url`: each segment
/// percent-encoded but for unreserved characters.
pub fn published_url(site_url: &str, rel: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');
    let encoded: Vec<String> =
        rel.split('/').map(|s| percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()).collect();
    format!("{site_url}/{}", encoded.join("/"))
}

#[track_caller]
pub fn read_feed(path: &Path) -> ReadFeed {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    parse_feed(&bytes).unwrap_or_else(|e| panic!("feed-rs cannot parse {}: {e}", path.display()))
}

/// Every `.xml` and `.rss` file under an output folder, by relative path, parsed on all cores;
/// panics naming the first file feed-rs rejects.
#[track_caller]
pub fn read_all_feeds(out: &Path) -> BTreeMap<String, ReadFeed> {
    let files: Vec<(String, Vec<u8>)> =
        tree(out).into_iter().filter(|(rel, _)| rel.ends_with(".xml") || rel.ends_with(".rss")).collect();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = files.len().div_ceil(threads).max(1);
    let parsed: Vec<Result<(String, ReadFeed), String>> = std::thread::scope(|scope| {
        let workers: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(rel, bytes)| {
                            parse_feed(bytes).map(|f| (rel.clone(), f)).map_err(|e| format!("{rel}: {e}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("parser thread")).collect()
    });
    parsed
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("feed-rs cannot parse a feed in {}: {e}", out.display())))
        .collect()
}

/// The entry's page: its `alternate` link (RSS `<link>` has no rel).
pub fn link(entry: &Entry) -> &str {
    entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .map(|l| l.href.as_str())
        .unwrap_or("")
}

pub fn title(entry: &Entry) -> String {
    entry.title.as_ref().map(|t| t.content.clone()).unwrap_or_default()
}

/// Category terms in document order.
pub fn terms(entry: &Entry) -> Vec<String> {
    entry.categories.iter().map(|c| c.term.clone()).collect()
}

pub fn content(entry: &Entry) -> &str {
    entry.content.as_ref().and_then(|c| c.body.as_deref()).unwrap_or("")
}

/// The feed's `rel="self"` link.
pub fn self_link(feed: &Feed) -> Option<&str> {
    feed.links.iter().find(|l| l.rel.as_deref() == Some("self")).map(|l| l.href.as_str())
}

/// A summary of each entry that two runs must agree on.
pub fn entry_digest(feed: &Feed) -> Vec<(String, String, String, Option<DateTime<Utc>>)> {
    feed.entries.iter().map(|e| (e.id.clone(), link(e).to_string(), title(e), e.published)).collect()
}

/// Every `href` and `src` attribute value in an HTML fragment.
pub fn html_urls(html: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for attr in ["href=", "src="] {
        let mut rest = html;
        while let Some(i) = rest.find(attr) {
            let after = &rest[i + attr.len()..];
            let (quote, value) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => (q, &after[1..]),
                _ => (' ', after),
            };
            let end = value.find([quote, '>']).unwrap_or(value.len());
            urls.push(value[..end].to_string());
            rest = &value[end..];
        }
    }
    urls
}

/// Copies a folder tree (regular files and folders only).
pub fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("destination created");
    for entry in fs::read_dir(from).expect("source readable") {
        let entry = entry.expect("entry");
        let kind = entry.file_type().expect("file type");
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_file() {
            fs::copy(entry.path(), &target).expect("file copied");
        }
    }
}

/// The date at local midnight of `ymd` in UTC+8 (the test sites' zone).
pub fn shanghai_midnight(ymd: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{ymd}T00:00:00+08:00")).expect("a date").with_timezone(&Utc)
}
