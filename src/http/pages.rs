//! The pages served beside the feeds, made from one snapshot and the configuration: the index at
//! `/`, the OPML subscription list at `/feeds.opml` and the health check at `/healthz`; and
//! [`Served`], which finds what a request path names. No HTTP types here.

use std::fmt::Write as _;
use std::sync::{Arc, OnceLock};
use std::time::UNIX_EPOCH;

use chrono::{DateTime, FixedOffset};

use crate::config::Config;
use crate::feed::Format;
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
}

impl Served {
    /// `/` and `/feeds.opml` are functions of the snapshot and the configuration only (no
    /// clock), so equal inputs give equal bytes and ETags.
    pub fn new(snapshot: Arc<Snapshot>, config: &Config) -> Served {
        Served { snapshot, config: config.clone(), index: OnceLock::new(), opml: OnceLock::new() }
    }

    #[cfg(test)]
    pub(crate) fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// The index page served at `/`.
    pub(crate) fn index(&self) -> &Rendered {
        self.index.get_or_init(|| self.page(index_html(&self.snapshot, &self.config), INDEX_MIME))
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

fn feed_type(format: Format) -> &'static str {
    match format {
        Format::Atom => "application/atom+xml",
        Format::Rss => "application/rss+xml",
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Atom => "Atom",
        Format::Rss => "RSS",
    }
}

/// The index page. Links are relative (no leading `/`) so the page works both when the daemon
/// is reached directly and when it sits behind a proxy under the site's base path.
fn index_html(snapshot: &Snapshot, config: &Config) -> String {
    let site = &config.site;
    let feeds = feed_files(snapshot);
    let title = format!("{} — feeds", site.title);
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n");
    match &site.language {
        Some(lang) => _ = writeln!(h, "<html lang=\"{}\">", escape(&lang.replace('_', "-"))),
        None => h.push_str("<html>\n"),
    }
    h.push_str("<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    _ = writeln!(h, "<title>{}</title>", escape(&title));
    for (info, files) in &feeds {
        for (format, path) in files {
            _ = writeln!(
                h,
                "<link rel=\"alternate\" type=\"{}\" title=\"{} ({})\" href=\"{}\">",
                feed_type(*format),
                escape(&info.title),
                format_name(*format),
                escape(&urls::encode_path(path))
            );
        }
    }
    h.push_str("</head>\n<body>\n");
    _ = writeln!(h, "<h1>{}</h1>", escape(&title));
    if !site.description.trim().is_empty() {
        _ = writeln!(h, "<p>{}</p>", escape(&site.description));
    }
    if feeds.is_empty() {
        h.push_str("<p>No feeds yet.</p>\n");
    } else {
        h.push_str("<table>\n<thead><tr><th>Feed</th><th>Entries</th><th>Last update</th><th>Subscribe</th></tr></thead>\n<tbody>\n");
        for (info, files) in &feeds {
            let links: Vec<String> = files
                .iter()
                .map(|(format, path)| {
                    format!(
                        "<a href=\"{}\" type=\"{}\">{}</a>",
                        escape(&urls::encode_path(path)),
                        feed_type(*format),
                        format_name(*format)
                    )
                })
                .collect();
            let entries = if info.entries == 1 { "1 entry".to_string() } else { format!("{} entries", info.entries) };
            _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td><time datetime=\"{}\">{}</time></td><td>{}</td></tr>",
                escape(&info.title),
                entries,
                info.updated.to_rfc3339(),
                info.updated.format("%Y-%m-%d %H:%M"),
                links.join(" ")
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str("<p><a href=\"feeds.opml\" type=\"text/x-opml\">All feeds as OPML</a></p>\n");
    h.push_str("</body>\n</html>\n");
    h
}

/// OPML 2.0 with one outline per feed, Atom preferred when both formats exist, so that
/// importing it subscribes to each feed once. `dateModified` is the newest feed's update.
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
        let url = urls::absolute(site, &urls::encode_path(&format!("/{path}")));
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
    use crate::http::fixtures::{body, config, get, header, served, tag_uri};

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
            for (format, kind) in [(Format::Atom, "atom"), (Format::Rss, "rss")] {
                let href = urls::encode_path(&info.key.path(format));
                let tag = format!(
                    "<link rel=\"alternate\" type=\"application/{kind}+xml\" title=\"{} ({})\" href=\"{href}\">",
                    escape(&info.title),
                    format_name(format)
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
        assert_eq!(served.index().bytes, Served::new(Arc::clone(served.snapshot()), &config()).index().bytes);
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
        assert_eq!(served.opml().bytes, Served::new(Arc::clone(served.snapshot()), &config()).opml().bytes);
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
