//! The pages served beside the feeds, made from one snapshot and the configuration: the index at
//! `/`, the list of problems at `/problems`, the OPML subscription list at `/feeds.opml` and the
//! health check at `/healthz`, the HTML ones with their inline CSS and script allowed by hash;
//! and [`Served`], which finds what a request path names. No HTTP types here.

use std::fmt::Write as _;
use std::sync::{Arc, LazyLock, OnceLock};
use std::time::UNIX_EPOCH;

use chrono::{DateTime, FixedOffset};

use crate::config::Config;
use crate::feed::{FeedKey, Format};
use crate::markup::escape_markup as escape;
use crate::snapshot::{FeedInfo, Rendered, Snapshot};
use crate::urls;

/// Content type of the index page at `/`.
pub(crate) const INDEX_MIME: &str = "text/html; charset=utf-8";
/// Content type of `/feeds.opml`: `text/x-opml` is what feed readers and browsers recognise.
pub(crate) const OPML_MIME: &str = "text/x-opml; charset=utf-8";

const INDEX_PATH: &str = "/";
const OPML_PATH: &str = "/feeds.opml";
const HEALTH_PATH: &str = "/healthz";
const PROBLEMS_PATH: &str = "/problems";
/// The body of `/healthz`.
pub(super) const HEALTH_TEXT: &str = "ok";

/// One snapshot as served: its feed files plus the pages made from it.
#[derive(Debug)]
pub struct Served {
    snapshot: Arc<Snapshot>,
    config: Config,
    /// Made on first request: with thousands of feeds they cost milliseconds, and an update
    /// should not pay them for pages nobody may ask for before the next one.
    index: OnceLock<Rendered>,
    opml: OnceLock<Rendered>,
    problems: OnceLock<Rendered>,
}

impl Served {
    /// `/` and `/feeds.opml` are functions of the snapshot and the configuration only (no
    /// clock), so equal inputs give equal bytes and ETags.
    pub fn new(snapshot: Arc<Snapshot>, config: &Config) -> Served {
        Served {
            snapshot,
            config: config.clone(),
            index: OnceLock::new(),
            opml: OnceLock::new(),
            problems: OnceLock::new(),
        }
    }

    #[cfg(test)]
    pub(crate) fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// The index page served at `/`.
    pub(crate) fn index(&self) -> &Rendered {
        self.index.get_or_init(|| {
            let mut page = self.page(index_html(&self.snapshot, &self.config), INDEX_MIME);
            page.policy = Some(index_policy());
            page
        })
    }

    /// The list of problems served at `/problems`.
    pub(crate) fn problems(&self) -> &Rendered {
        self.problems.get_or_init(|| {
            let mut page = self.page(problems_html(&self.snapshot, &self.config), INDEX_MIME);
            page.policy = Some(problems_policy());
            page
        })
    }

    /// The OPML subscription list served at `/feeds.opml`.
    pub(crate) fn opml(&self) -> &Rendered {
        self.opml.get_or_init(|| self.page(opml_xml(&self.snapshot, &self.config), OPML_MIME))
    }

    fn page(&self, text: String, mime: &'static str) -> Rendered {
        let mut page = Rendered::new(text.into_bytes(), mime);
        // The pages change when a feed does. (A feed that disappears changes no feed's time: an
        // If-Modified-Since client may then keep its page a while; ETag clients do not.)
        page.modified = self.snapshot.files.values().map(|f| f.modified).max().unwrap_or(UNIX_EPOCH);
        page
    }

    /// What the decoded request `path` names, if anything.
    pub(super) fn lookup(&self, path: &str) -> Option<Target<'_>> {
        match path {
            INDEX_PATH => Some(Target::File(self.index())),
            OPML_PATH => Some(Target::File(self.opml())),
            PROBLEMS_PATH => Some(Target::File(self.problems())),
            HEALTH_PATH => Some(Target::Health),
            _ => {
                let relative = path.strip_prefix('/')?;
                match self.snapshot.files.get(relative) {
                    Some(file) => Some(Target::File(file)),
                    None => self.snapshot.gone.contains(relative).then_some(Target::Gone),
                }
            }
        }
    }
}

/// What a request path names.
pub(super) enum Target<'a> {
    File(&'a Rendered),
    Health,
    /// A retired feed: 410 Gone.
    Gone,
}

/// The newest feed update, or the epoch when there are no feeds.
fn newest_update(snapshot: &Snapshot) -> DateTime<FixedOffset> {
    snapshot.feeds.values().map(|f| f.updated).max().unwrap_or_else(|| DateTime::UNIX_EPOCH.fixed_offset())
}

/// Each feed with the formats the snapshot holds for it and their output-relative paths.
fn feed_files(snapshot: &Snapshot) -> Vec<(&FeedInfo, Vec<&(Format, String)>)> {
    snapshot
        .feeds
        .values()
        .map(|info| {
            let files = info.files.iter().filter(|(_, path)| snapshot.files.contains_key(path)).collect();
            (info, files)
        })
        .filter(|(_, files): &(_, Vec<_>)| !files.is_empty())
        .collect()
}

/// Rows of the index per chunk that the browser lays out as one.
const ROWS_PER_CHUNK: usize = 100;

/// The index page's own CSS and script, inlined and allowed by their hashes.
const INDEX_CSS: &str = include_str!("assets/index.css");
const INDEX_JS: &str = include_str!("assets/index.js");
const PROBLEMS_CSS: &str = include_str!("assets/problems.css");

/// A policy that allows the page's own inline `css` and `script` blocks and nothing else: no
/// other script, style, image, font, frame, form target or base URL.
fn page_policy(css: &str, script: Option<&str>) -> String {
    let script = script.map_or_else(|| "'none'".to_string(), crate::csp::hash_source);
    format!(
        "default-src 'none'; style-src {}; script-src {script}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        crate::csp::hash_source(css)
    )
}

/// The policy of the index page.
pub(crate) fn index_policy() -> &'static str {
    static POLICY: LazyLock<String> = LazyLock::new(|| page_policy(INDEX_CSS, Some(INDEX_JS)));
    &POLICY
}

/// The policy of `/problems`: its style, no script.
pub(crate) fn problems_policy() -> &'static str {
    static POLICY: LazyLock<String> = LazyLock::new(|| page_policy(PROBLEMS_CSS, None));
    &POLICY
}

/// `<html>` and the `<head>` up to its end, without `</head>`.
fn page_head(h: &mut String, config: &Config, title: &str, css: &str) {
    h.push_str("<!DOCTYPE html>\n");
    match &config.site.language {
        Some(lang) => _ = writeln!(h, "<html lang=\"{}\">", escape(&lang.replace('_', "-"))),
        None => h.push_str("<html>\n"),
    }
    h.push_str("<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    _ = writeln!(h, "<title>{}</title>", escape(title));
    _ = writeln!(h, "<style>{css}</style>");
}

/// The name a feed is listed under in its section: the site's title, a category, `#tag`.
fn list_name(info: &FeedInfo, config: &Config) -> String {
    match &info.key {
        FeedKey::Site => config.site.title.clone(),
        FeedKey::Category(name) => name.clone(),
        FeedKey::Tag(name) => format!("#{name}"),
    }
}

/// The index page: one section each for the site feed, the categories and the tags, a row per
/// feed with its entry count, last update and subscribe links; a filter box and sorting (the
/// page's one script, which it works without). Links are relative (no leading `/`) so the page
/// works both when the daemon is reached directly and when it sits behind a proxy under the
/// site's base path.
fn index_html(snapshot: &Snapshot, config: &Config) -> String {
    let site = &config.site;
    let feeds = feed_files(snapshot);
    let title = format!("{} — feeds", site.title);
    let mut h = String::with_capacity(4096 + feeds.len() * 700);
    page_head(&mut h, config, &title, INDEX_CSS);
    for (info, files) in &feeds {
        for (format, path) in files {
            _ = writeln!(
                h,
                "<link rel=\"alternate\" type=\"{}\" title=\"{} ({})\" href=\"{}\">",
                format.media_type(),
                escape(&info.title),
                format.name(),
                escape(&urls::encode_path(path))
            );
        }
    }
    h.push_str("</head>\n<body>\n<header>\n");
    _ = writeln!(h, "<h1>{}</h1>", escape(&title));
    if !site.description.trim().is_empty() {
        _ = writeln!(h, "<p>{}</p>", escape(&site.description));
    }
    let problems = snapshot.problems.len();
    _ = writeln!(
        h,
        "<p><a href=\"feeds.opml\" type=\"text/x-opml\">All feeds as OPML</a> · <a href=\"problems\">Problems ({problems})</a></p>"
    );
    h.push_str("</header>\n");
    if feeds.is_empty() {
        h.push_str("<p>No feeds yet.</p>\n");
    } else {
        h.push_str(concat!(
            "<div class=\"controls\">",
            "<label>Filter <input id=\"filter\" type=\"search\" placeholder=\"part of a name\" autocomplete=\"off\" disabled></label>",
            "<label>Sort <select id=\"sort\" disabled><option value=\"name\">by name</option>",
            "<option value=\"recent\">most recent first</option></select></label>",
            "<span id=\"shown\" aria-live=\"polite\"></span></div>\n"
        ));
        let section = |key: &FeedKey| match key {
            FeedKey::Site => 0,
            FeedKey::Category(_) => 1,
            FeedKey::Tag(_) => 2,
        };
        let mut row = 0;
        for (number, (id, heading)) in
            [("site", "Site"), ("categories", "Categories"), ("tags", "Tags")].iter().enumerate()
        {
            let listed: Vec<_> = feeds.iter().filter(|(info, _)| section(&info.key) == number).collect();
            if listed.is_empty() {
                continue;
            }
            _ = writeln!(h, "<section id=\"{id}\">\n<h2>{heading} ({})</h2>", listed.len());
            h.push_str("<table class=\"head\"><thead><tr><th>Feed</th><th>Entries</th><th>Last update</th><th>Subscribe</th></tr></thead></table>\n");
            // Rows in chunks the browser lays out only when they are scrolled to (CSS
            // `content-visibility`), so that thousands of rows load, filter and sort quickly.
            for chunk in listed.chunks(ROWS_PER_CHUNK) {
                h.push_str("<div class=\"chunk\"><table><tbody>\n");
                for (info, files) in chunk {
                    index_row(&mut h, info, files, config, row);
                    row += 1;
                }
                h.push_str("</tbody></table></div>\n");
            }
            h.push_str("</section>\n");
        }
    }
    _ = writeln!(h, "<script>{INDEX_JS}</script>");
    h.push_str("</body>\n</html>\n");
    h
}

/// One feed's row: its name linking to its first format, the entry count, the last update, a
/// link per format and a button that copies the first one's address.
fn index_row(h: &mut String, info: &FeedInfo, files: &[&(Format, String)], config: &Config, row: usize) {
    let name = list_name(info, config);
    let href = |path: &str| escape(&urls::encode_path(path));
    let first = files.first().map(|(_, path)| href(path)).unwrap_or_default();
    let entries = if info.entries == 1 { "1 entry".to_string() } else { format!("{} entries", info.entries) };
    _ = write!(
        h,
        "<tr data-i=\"{row}\" data-t=\"{}\" data-name=\"{}\"><td><a href=\"{first}\">{}</a></td><td class=\"n\">{entries}</td>",
        info.updated.timestamp(),
        escape(&name.to_lowercase()),
        escape(&name)
    );
    _ = write!(
        h,
        "<td><time datetime=\"{}\">{}</time></td><td>",
        info.updated.to_rfc3339(),
        info.updated.format("%Y-%m-%d %H:%M")
    );
    for (format, path) in files {
        _ = write!(h, "<a href=\"{}\" type=\"{}\">{}</a> ", href(path), format.media_type(), format.name());
    }
    _ = writeln!(h, "<button type=\"button\" data-url=\"{first}\">Copy URL</button></td></tr>");
}

/// `/problems`: every post skipped or not in the feeds as written, with where and why. Plain
/// HTML, no script.
fn problems_html(snapshot: &Snapshot, config: &Config) -> String {
    let title = format!("{} — problems", config.site.title);
    let mut h = String::new();
    page_head(&mut h, config, &title, PROBLEMS_CSS);
    h.push_str("</head>\n<body>\n");
    _ = writeln!(h, "<h1>{}</h1>", escape(&title));
    h.push_str("<p><a href=\"./\">All feeds</a></p>\n");
    if snapshot.problems.is_empty() {
        h.push_str("<p id=\"none\">No problems: every post is in the feeds as written.</p>\n");
    } else {
        let count = match snapshot.problems.len() {
            1 => "1 problem".to_string(),
            n => format!("{n} problems, worst first"),
        };
        _ = writeln!(h, "<p>{count}.</p>");
        h.push_str("<table>\n<thead><tr><th>Severity</th><th>Where</th><th>Problem</th></tr></thead>\n<tbody>\n");
        for problem in snapshot.problems.iter() {
            let severity = problem.severity;
            _ = writeln!(
                h,
                "<tr><td>{severity}</td><td><code>{}</code></td><td>{}</td></tr>",
                escape(&problem.location().unwrap_or_default()),
                escape(&problem.public_message())
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str("</body>\n</html>\n");
    h
}

/// OPML 2.0 with one outline per feed, in the first of its formats in [`Format::ALL`]'s order
/// (Atom, then RSS, then JSON Feed), so that importing it subscribes to each feed once. `dateModified` is the newest feed's update.
fn opml_xml(snapshot: &Snapshot, config: &Config) -> String {
    let site = &config.site;
    let feeds = feed_files(snapshot);
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n<head>\n");
    _ = writeln!(x, "<title>{}</title>", escape(&format!("{} — feeds", site.title)));
    if !feeds.is_empty() {
        _ = writeln!(x, "<dateModified>{}</dateModified>", newest_update(snapshot).to_rfc2822());
    }
    if let Some(author) = &site.author {
        _ = writeln!(x, "<ownerName>{}</ownerName>", escape(author));
    }
    x.push_str("</head>\n<body>\n");
    for (info, files) in &feeds {
        let Some((_, path)) = files.first() else {
            continue;
        };
        let url = urls::file_url(site, path);
        _ = writeln!(
            x,
            "<outline type=\"rss\" text=\"{title}\" title=\"{title}\" xmlUrl=\"{}\" htmlUrl=\"{}\"/>",
            escape(&url),
            escape(site.url.as_str()),
            title = escape(&info.title)
        );
    }
    x.push_str("</body>\n</opml>\n");
    x
}

#[cfg(test)]
mod tests {
    use hyper::header;
    use hyper::StatusCode;

    use super::*;
    use crate::http::fixtures::{body, config, get, header, served, tag_uri, TAG};

    #[test]
    fn index_links_every_feed_for_autodiscovery() {
        let served = served();
        let response = get(&served, "/", &[]);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, header::CONTENT_TYPE), Some(INDEX_MIME));
        assert_eq!(header(&response, header::ETAG), Some(served.index().etag.as_str()));
        let html = String::from_utf8(body(response).to_vec()).unwrap();
        let head = &html[..html.find("</head>").unwrap()];
        for info in served.snapshot().feeds.values() {
            for (format, kind) in [(Format::Atom, "atom+xml"), (Format::Rss, "rss+xml"), (Format::Json, "feed+json")] {
                let href = urls::encode_path(&info.key.path(&config().feeds.paths, format));
                let tag = format!(
                    "<link rel=\"alternate\" type=\"application/{kind}\" title=\"{} ({})\" href=\"{href}\">",
                    escape(&info.title),
                    format.name()
                );
                assert!(head.contains(&tag), "{tag}\n{html}");
                assert!(html.contains(&format!("<a href=\"{href}\"")), "{href}");
            }
        }
        assert!(html.contains("<html lang=\"zh-CN\">"));
        assert!(html.contains("Tom &amp; Jerry&#39;s &lt;blog&gt; · #荆州日报新闻"), "{html}");
        assert!(!html.contains("<blog>"));
        assert!(html.contains("3 entries") && html.contains("1 entry"));
        assert!(html.contains("2024-03-01 08:30"));
        // Deterministic: the same snapshot renders the same bytes.
        assert_eq!(
            served.index().body.to_bytes(),
            Served::new(Arc::clone(served.snapshot()), &config()).index().body.to_bytes()
        );
    }

    #[test]
    fn opml_lists_every_feed_once_with_absolute_urls() {
        let served = served();
        let response = get(&served, "/feeds.opml", &[]);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, header::CONTENT_TYPE), Some(OPML_MIME));
        let opml = String::from_utf8(body(response).to_vec()).unwrap();
        assert!(opml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">"));
        assert!(opml.contains("<dateModified>Fri, 1 Mar 2024 08:30:00 +0800</dateModified>"), "{opml}");
        assert_eq!(opml.matches("<outline ").count(), served.snapshot().feeds.len());
        for url in [
            "https://example.org/blog/feed.xml".to_string(),
            "https://example.org/blog/feed/news.xml".to_string(),
            format!("https://example.org/blog{}", tag_uri()),
        ] {
            assert!(opml.contains(&format!("xmlUrl=\"{url}\"")), "{url}\n{opml}");
        }
        assert!(opml.contains("title=\"Tom &amp; Jerry&#39;s &lt;blog&gt;\""));
        assert_eq!(
            served.opml().body.to_bytes(),
            Served::new(Arc::clone(served.snapshot()), &config()).opml().body.to_bytes()
        );
    }

    /// The text of each `tag` element of `html`.
    fn blocks(html: &str, tag: &str) -> Vec<String> {
        let doc = scraper::Html::parse_document(html);
        let selector = scraper::Selector::parse(tag).unwrap();
        doc.select(&selector).map(|e| e.text().collect()).collect()
    }

    /// The policy's sources for `directive`.
    fn sources<'p>(policy: &'p str, directive: &str) -> Vec<&'p str> {
        policy
            .split(';')
            .map(str::trim)
            .find_map(|d| d.strip_prefix(directive).filter(|rest| rest.starts_with(' ')))
            .map(|rest| rest.split_whitespace().collect())
            .unwrap_or_default()
    }

    #[test]
    fn pages_allow_exactly_their_own_inline_blocks() {
        let served = served();
        for (path, scripts) in [("/", 1), ("/problems", 0)] {
            let response = get(&served, path, &[]);
            let policy = header(&response, header::CONTENT_SECURITY_POLICY).unwrap().to_string();
            let html = String::from_utf8(body(response).to_vec()).unwrap();
            assert_eq!(sources(&policy, "default-src"), ["'none'"], "{policy}");
            let hash = |text: &str| {
                use base64::Engine as _;
                use sha2::Digest as _;
                let digest = sha2::Sha256::digest(text.as_bytes());
                format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(digest))
            };
            let styles: Vec<String> = blocks(&html, "style").iter().map(|s| hash(s)).collect();
            assert_eq!(styles.len(), 1, "{path}");
            assert_eq!(sources(&policy, "style-src"), styles, "{path}: {policy}");
            let found: Vec<String> = blocks(&html, "script").iter().map(|s| hash(s)).collect();
            assert_eq!(found.len(), scripts, "{path}");
            if scripts == 0 {
                assert_eq!(sources(&policy, "script-src"), ["'none'"], "{path}");
            } else {
                assert_eq!(sources(&policy, "script-src"), found, "{path}: {policy}");
            }
            // Nothing else inline: no style or event-handler attributes, no javascript: links.
            let doc = scraper::Html::parse_document(&html);
            for element in doc.root_element().descendants().filter_map(scraper::ElementRef::wrap) {
                for (name, value) in element.value().attrs() {
                    assert!(name != "style" && !name.starts_with("on"), "{path}: {name}={value}");
                    assert!(!value.trim_start().to_ascii_lowercase().starts_with("javascript:"), "{path}: {value}");
                }
            }
        }
    }

    #[test]
    fn index_has_a_section_per_kind_with_linked_names_counts_and_copy_buttons() {
        let served = served();
        let html = String::from_utf8(body(get(&served, "/", &[])).to_vec()).unwrap();
        let doc = scraper::Html::parse_document(&html);
        let rows = |section: &str| -> Vec<Vec<String>> {
            let selector = scraper::Selector::parse(&format!("section#{section} tbody tr")).unwrap();
            doc.select(&selector)
                .map(|row| row.children().filter_map(scraper::ElementRef::wrap).map(|td| td.text().collect()).collect())
                .collect()
        };
        assert_eq!(rows("site")[0][..3], ["Tom & Jerry's <blog>", "3 entries", "2024-03-01 08:30"]);
        assert_eq!(rows("categories")[0][..2], ["news", "2 entries"]);
        assert_eq!(rows("tags")[0][..2], [format!("#{TAG}"), "1 entry".to_string()]);
        let link = scraper::Selector::parse("section#tags tbody tr td:first-child a").unwrap();
        let href = doc.select(&link).next().unwrap().value().attr("href").unwrap();
        assert_eq!(format!("/{href}"), tag_uri());
        let button = scraper::Selector::parse("section#tags button[data-url]").unwrap();
        assert_eq!(doc.select(&button).next().unwrap().value().attr("data-url"), Some(href));
        assert!(html.contains("<a href=\"problems\">Problems (0)</a>"), "{html}");
    }

    #[test]
    fn problems_page_lists_where_and_why() {
        use crate::post::PostErrorKind;
        use crate::problem::{Problem, ProblemKind, Severity};
        let mut snapshot = served().snapshot().as_ref().clone();
        snapshot.problems = Arc::new(vec![
            Problem {
                severity: Severity::Error,
                path: Some("_posts/2024-01-01-<b>.md".into()),
                line: Some(3),
                kind: ProblemKind::Skipped(PostErrorKind::Yaml("did not find expected key".into())),
            },
            Problem {
                severity: Severity::Note,
                path: Some("_posts/2024-01-02-kept.md".into()),
                line: Some(2),
                kind: ProblemKind::KeptLastGood(PostErrorKind::UnclosedFrontMatter),
            },
            Problem {
                severity: Severity::Error,
                path: Some("_posts/2024-01-03-link.md".into()),
                line: None,
                kind: ProblemKind::Skipped(PostErrorKind::LinkOutside("/home/alice/private/notes.md".into())),
            },
        ]);
        let served = Served::new(Arc::new(snapshot), &config());
        let response = get(&served, "/problems", &[]);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, header::CONTENT_TYPE), Some(INDEX_MIME));
        let html = String::from_utf8(body(response).to_vec()).unwrap();
        let doc = scraper::Html::parse_document(&html);
        let cells = scraper::Selector::parse("tbody tr").unwrap();
        let rows: Vec<Vec<String>> = doc
            .select(&cells)
            .map(|row| row.children().filter_map(scraper::ElementRef::wrap).map(|td| td.text().collect()).collect())
            .collect();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0][..2], ["error", "_posts/2024-01-01-<b>.md:3"]);
        assert!(rows[0][2].contains("did not find expected key"));
        assert_eq!(rows[1][..2], ["note", "_posts/2024-01-02-kept.md:2"]);
        assert!(rows[1][2].contains("its last good version stays in the feeds"), "{}", rows[1][2]);
        assert!(!html.contains("<b>"));
        // Where a link outside the source folder points is the server's business, not the page's.
        assert_eq!(rows[2][..2], ["error", "_posts/2024-01-03-link.md"]);
        assert!(rows[2][2].contains("outside the source folder"), "{}", rows[2][2]);
        assert!(!html.contains("alice"), "{html}");
        let index = String::from_utf8(body(get(&served, "/", &[])).to_vec()).unwrap();
        assert!(index.contains("<a href=\"problems\">Problems (3)</a>"));
    }

    #[test]
    fn opml_lists_json_feeds_when_they_are_the_only_format() {
        let mut snapshot = (**served().snapshot()).clone();
        for info in snapshot.feeds.values_mut() {
            info.files.retain(|(format, _)| *format == Format::Json);
        }
        snapshot.files.retain(|path, _| path.ends_with(".json"));
        let served = Served::new(Arc::new(snapshot), &config());
        let opml = String::from_utf8(body(get(&served, "/feeds.opml", &[])).to_vec()).unwrap();
        assert_eq!(opml.matches("<outline ").count(), 3, "{opml}");
        for url in ["https://example.org/blog/feed.json", "https://example.org/blog/feed/news.json"] {
            assert!(opml.contains(&format!("xmlUrl=\"{url}\"")), "{url}\n{opml}");
        }
        let html = String::from_utf8(body(get(&served, "/", &[])).to_vec()).unwrap();
        assert!(html.contains("<link rel=\"alternate\" type=\"application/feed+json\""), "{html}");
        assert!(!html.contains("application/atom+xml"), "{html}");
    }

    #[test]
    fn empty_snapshot_pages_render() {
        let served = Served::new(Arc::new(Snapshot::default()), &config());
        let html = String::from_utf8(body(get(&served, "/", &[])).to_vec()).unwrap();
        assert!(html.contains("No feeds yet."));
        let opml = String::from_utf8(body(get(&served, "/feeds.opml", &[])).to_vec()).unwrap();
        assert!(!opml.contains("<outline") && !opml.contains("dateModified"));
        assert_eq!(header(&get(&served, "/", &[]), header::LAST_MODIFIED), Some("Thu, 01 Jan 1970 00:00:00 GMT"));
    }
}
