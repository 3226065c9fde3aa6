//! Feeds: which exist and what each holds ([`set`]), which once existed ([`lifecycle`]), where
//! each lives and what it is called, and their bytes ([`atom`], [`rss`], [`json`]).

pub mod atom;
pub(crate) mod fragments;
pub mod json;
pub(crate) mod lifecycle;
pub mod rss;
pub(crate) mod set;
pub(crate) mod stylesheet;

pub(crate) use crate::config::FeedPaths;
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, FixedOffset};

use crate::config::Config;
use crate::post::{Author, EntryText, Post};
use crate::urls;

pub use crate::site::FeedKey;
pub(crate) use set::{Feed, FeedSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Format {
    Atom,
    Rss,
    /// JSON Feed 1.1.
    Json,
}

impl Format {
    /// Every format, in the order a feed lists its files (and OPML prefers them).
    pub(crate) const ALL: [Format; 3] = [Format::Atom, Format::Rss, Format::Json];

    pub(crate) fn extension(self) -> &'static str {
        match self {
            Format::Atom => "xml",
            Format::Rss => "rss",
            Format::Json => "json",
        }
    }

    /// The `Content-Type` the feed is served with.
    pub(crate) fn mime(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml; charset=utf-8",
            Format::Rss => "application/rss+xml; charset=utf-8",
            // JSON is UTF-8 by definition (RFC 8259); the type registers no charset parameter.
            Format::Json => "application/feed+json",
        }
    }

    /// The media type without parameters: `<link rel="alternate" type=…>` and `atom:link`.
    pub(crate) fn media_type(self) -> &'static str {
        match self {
            Format::Atom => "application/atom+xml",
            Format::Rss => "application/rss+xml",
            Format::Json => "application/feed+json",
        }
    }

    /// What people call the format.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Atom => "Atom",
            Format::Rss => "RSS",
            Format::Json => "JSON Feed",
        }
    }
}

// The key is the site index's (`crate::site::FeedKey`); naming its feed is this layer's job.
impl FeedKey {
    /// The feed's path without extension, relative to the output folder and the site root:
    /// `feed`, `feed/<category>`, `feed/by_tag/<tag>` (jekyll-feed's layout), or where `paths`
    /// put the site and tag feeds.
    pub(crate) fn stem(&self, paths: &FeedPaths) -> String {
        match self {
            FeedKey::Site => paths.site_stem.clone(),
            FeedKey::Category(name) => format!("feed/{}", path_segment(name)),
            FeedKey::Tag(name) => format!("{}{}", paths.tags_dir, path_segment(name)),
        }
    }

    /// The feed's file in `format`, relative to the output folder and the site root.
    pub(crate) fn path(&self, paths: &FeedPaths, format: Format) -> String {
        match (self, format) {
            (FeedKey::Site, Format::Atom) => paths.site_atom.clone(),
            _ => format!("{}.{}", self.stem(paths), format.extension()),
        }
    }

    /// "Site", "Site · category", "Site · #tag".
    pub(crate) fn title(&self, site_title: &str) -> String {
        match self {
            FeedKey::Site => site_title.to_string(),
            FeedKey::Category(name) => format!("{site_title} · {name}"),
            FeedKey::Tag(name) => format!("{site_title} · #{name}"),
        }
    }
}

/// Longest name, in bytes, used as it is; longer ones are shortened and tagged with a hash.
const MAX_SEGMENT_BYTES: usize = 120;

/// A category or tag name as one file-name-safe path segment. Names of letters (any script),
/// digits, `-` and `_` are used as they are; any other name becomes its safe characters joined by
/// `-`, followed by a hash of the whole name, so that `C++` and `C` never share a path and a
/// name's path never depends on which other names exist.
pub(crate) fn path_segment(name: &str) -> String {
    let plain = |c: char| c.is_alphanumeric() || c == '-' || c == '_';
    if !name.is_empty() && name.len() <= MAX_SEGMENT_BYTES && name.chars().all(plain) {
        return name.to_string();
    }
    let mut slug = String::new();
    for c in name.chars() {
        let c = if plain(c) { c } else { '-' };
        if c == '-' && (slug.is_empty() || slug.ends_with('-')) {
            continue;
        }
        if slug.len() + c.len_utf8() > MAX_SEGMENT_BYTES - 10 {
            break;
        }
        slug.push(c);
    }
    let slug = slug.trim_end_matches('-');
    let hash = fnv1a(name.as_bytes()) as u32;
    if slug.is_empty() {
        format!("_{hash:08x}")
    } else {
        format!("{slug}-{hash:08x}")
    }
}

/// FNV-1a: tiny, and fixed forever, which is what a path that subscribers keep needs.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Everything a renderer needs about one feed.
pub struct FeedInput<'a> {
    pub key: &'a FeedKey,
    pub config: &'a Config,
    pub entries: &'a [Arc<Post>],
    /// Each entry's summary and content, in the same order.
    pub texts: &'a [Arc<EntryText>],
}

impl FeedInput<'_> {
    pub(crate) fn title(&self) -> String {
        self.key.title(&self.config.site.title)
    }

    pub(crate) fn self_url(&self, format: Format) -> String {
        urls::file_url(&self.config.site, &self.key.path(&self.config.feeds.paths, format))
    }

    /// The newest entry's `updated`; the epoch for an empty feed, never the clock.
    pub(crate) fn updated(&self) -> DateTime<FixedOffset> {
        self.entries.iter().map(|p| p.updated.max(p.date)).max().unwrap_or_else(|| DateTime::UNIX_EPOCH.fixed_offset())
    }

    /// Adds the browser view's `<?xml-stylesheet?>` to the feed's bytes, when it is on.
    pub(crate) fn add_stylesheet(&self, bytes: &mut Vec<u8>, format: Format) {
        if self.config.feeds.browser_view && stylesheet::applies_to(format) {
            stylesheet::insert_instruction(bytes, &self.key.path(&self.config.feeds.paths, format));
        }
    }

    pub(crate) fn language(&self) -> Option<String> {
        self.config.site.language.as_ref().map(|l| l.replace('_', "-"))
    }

    /// The WebSub hubs every feed names (`websub.hubs`), in the configured order.
    pub(crate) fn hubs(&self) -> impl Iterator<Item = &str> {
        self.config.websub.hubs.iter().map(|u| u.as_str())
    }
}

pub(crate) const GENERATOR: &str = "postfeed";

/// The entry's author as its text found it (the post's or the site's, with what `_data/authors`
/// says of them), else the post's, else the site's name, else the site's title: Atom needs a name.
pub(crate) fn entry_author<'p>(
    config: &'p Config,
    post: &'p Post,
    text: &'p EntryText,
) -> (&'p str, Option<&'p Author>) {
    match text.author.as_ref().or(post.author.as_ref()) {
        Some(author) => (&author.name, Some(author)),
        None => (config.site.author.as_deref().unwrap_or(&config.site.title), None),
    }
}

/// `document`, a feed as its crate wrote it around one placeholder entry whose bytes are `slot`,
/// cut into what comes before the placeholder and what comes after it.
pub(crate) fn split_at_slot(mut document: Vec<u8>, slot: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let at = memchr::memmem::find(&document, slot).expect("the placeholder entry is in the document");
    let tail = document[at + slot.len()..].to_vec();
    document.truncate(at);
    (document, tail)
}

/// A feed's pieces: `head` (with the browser view's instruction, when it is on), `entries` (with
/// `separator` between them), and `tail` (with the final newline).
pub(crate) fn pieces(
    input: &FeedInput,
    format: Format,
    (mut head, mut tail): (Vec<u8>, Vec<u8>),
    entries: &[EntryBytes],
    separator: Option<&'static [u8]>,
) -> Vec<Bytes> {
    input.add_stylesheet(&mut head, format);
    tail.push(b'\n');
    head.shrink_to_fit();
    tail.shrink_to_fit();
    let mut pieces = Vec::with_capacity(entries.iter().map(|e| e.pieces().len() + 1).sum::<usize>() + 2);
    pieces.push(Bytes::from(head));
    for (n, entry) in entries.iter().enumerate() {
        if let (Some(separator), true) = (separator, n > 0) {
            pieces.push(Bytes::from_static(separator));
        }
        pieces.extend(entry.pieces().iter().cloned());
    }
    pieces.push(Bytes::from(tail));
    pieces
}

/// One entry's bytes in one format, in the pieces a feed holds them as. The Atom and RSS bytes of
/// an entry share its escaped content (and its summary, when both formats escape it alike), so
/// the largest part of an entry is held once however many formats show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryBytes(Box<[Bytes]>);

impl EntryBytes {
    /// Bytes that share nothing.
    pub(crate) fn whole(bytes: Bytes) -> EntryBytes {
        EntryBytes(Box::new([bytes]))
    }

    /// Bytes in the pieces given.
    pub(crate) fn from_pieces(pieces: Vec<Bytes>) -> EntryBytes {
        EntryBytes(pieces.into_boxed_slice())
    }

    pub(crate) fn pieces(&self) -> &[Bytes] {
        &self.0
    }
}

/// An entry's content and summary escaped as XML text, once for both its Atom and RSS bytes:
/// Atom's `<content type="html">` and RSS's `<content:encoded>` hold the same escaped HTML; Atom's
/// `<summary>` is plain text and RSS's `<description>` HTML, which escape alike unless the summary
/// has `&`, `<` or `>`.
#[derive(Debug, Default)]
pub(crate) struct SharedTexts {
    content: Option<Bytes>,
    summary: Option<Bytes>,
    summary_as_html: Option<Bytes>,
}

impl SharedTexts {
    pub(crate) fn of(text: &EntryText) -> SharedTexts {
        let escaped = |text: &str| {
            // As bytes: the result goes into `Bytes`, so there is no need to check again that it is UTF-8.
            let mut escaped = htmlize::escape_text_bytes(text.as_bytes()).into_owned();
            // Held for as long as a feed shows the entry: no spare capacity.
            escaped.shrink_to_fit();
            Bytes::from(escaped)
        };
        let summary = text.summary.as_deref().map(escaped);
        let summary_as_html = match (&summary, text.summary.as_deref().map(crate::markup::text_as_html)) {
            (Some(_), Some(std::borrow::Cow::Owned(html))) => Some(escaped(&html)),
            (summary, _) => summary.clone(),
        };
        SharedTexts { content: text.content.as_deref().map(escaped), summary, summary_as_html }
    }
}

/// Where a marker stands in an entry as its crate wrote it: `span` (the marker, with what the
/// crate put around it, such as CDATA) is found with `before` and `after` beside it, which no
/// escaped text can hold, so a title or a name that holds the marker is never taken for it.
pub(crate) struct Hole {
    pub(super) before: &'static [u8],
    pub(super) span: &'static [u8],
    pub(super) after: &'static [u8],
    pub(super) text: Bytes,
}

impl Hole {
    /// Where the first span with `before` and `after` beside it starts in `written`: where
    /// `before`, `span` and `after` together are first found, without building a searcher for
    /// them for each entry.
    fn find_in(&self, written: &[u8]) -> Option<usize> {
        let (&first, _) = self.span.split_first()?;
        let mut from = 0;
        while let Some(offset) = memchr::memchr(first, &written[from..]) {
            let at = from + offset;
            if written[at..].starts_with(self.span)
                && written[..at].ends_with(self.before)
                && written[at + self.span.len()..].starts_with(self.after)
            {
                return Some(at);
            }
            from = at + 1;
        }
        None
    }
}

/// The marker literals, as macros so that a format can also name them inside `concat!` (RSS
/// writes them in CDATA).
macro_rules! content_marker {
    () => {
        "\u{e000}postfeed:content\u{e001}"
    };
}
macro_rules! summary_marker {
    () => {
        "\u{e000}postfeed:summary\u{e001}"
    };
}
pub(crate) use {content_marker, summary_marker};

/// What stands in for an entry's content in the element its crate writes, to be spliced out.
pub(crate) const CONTENT_MARKER: &str = content_marker!();
/// What stands in for an entry's summary.
pub(crate) const SUMMARY_MARKER: &str = summary_marker!();

/// `written` with each hole's span replaced by its text, as pieces that keep the text shared.
pub(crate) fn splice(written: &[u8], holes: Vec<Hole>) -> EntryBytes {
    let mut cuts: Vec<(usize, usize, Bytes)> = holes
        .into_iter()
        .map(|hole| {
            let start = hole.find_in(written).expect("the marker is where its crate writes it");
            (start, start + hole.span.len(), hole.text)
        })
        .collect();
    cuts.sort_by_key(|cut| cut.0);
    let mut kept = Vec::with_capacity(written.len() - cuts.iter().map(|(start, end, _)| end - start).sum::<usize>());
    let mut bounds = Vec::with_capacity(cuts.len());
    let mut from = 0;
    for (start, end, _) in &cuts {
        kept.extend_from_slice(&written[from..*start]);
        bounds.push(kept.len());
        from = *end;
    }
    kept.extend_from_slice(&written[from..]);
    let kept = Bytes::from(kept);
    let mut pieces = Vec::with_capacity(cuts.len() * 2 + 1);
    let mut from = 0;
    for ((_, _, text), bound) in cuts.into_iter().zip(bounds) {
        pieces.push(kept.slice(from..bound));
        pieces.push(text);
        from = bound;
    }
    pieces.push(kept.slice(from..));
    pieces.retain(|piece| !piece.is_empty());
    EntryBytes(pieces.into_boxed_slice())
}

/// Pieces joined into one buffer.
pub(crate) fn concat(pieces: &[Bytes]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(pieces.iter().map(Bytes::len).sum());
    for piece in pieces {
        bytes.extend_from_slice(piece);
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A title that holds the marker itself is not taken for the hole: only the marker with the
    /// element's own tags beside it is.
    #[test]
    fn a_hole_is_found_only_between_its_own_tags() {
        let written =
            format!("<entry><title>{CONTENT_MARKER}</title><content type=\"html\">{CONTENT_MARKER}</content></entry>");
        let hole = Hole {
            before: b"<content type=\"html\">",
            span: CONTENT_MARKER.as_bytes(),
            after: b"</content>",
            text: Bytes::from_static(b"&lt;p&gt;body&lt;/p&gt;"),
        };
        let at = hole.find_in(written.as_bytes()).unwrap();
        assert_eq!(at, written.rfind(CONTENT_MARKER).unwrap());
        let spliced = splice(written.as_bytes(), vec![hole]).0.concat();
        assert_eq!(
            String::from_utf8(spliced).unwrap(),
            format!("<entry><title>{CONTENT_MARKER}</title><content type=\"html\">&lt;p&gt;body&lt;/p&gt;</content></entry>")
        );
        let elsewhere =
            Hole { before: b"<summary>", span: CONTENT_MARKER.as_bytes(), after: b"</summary>", text: Bytes::new() };
        assert_eq!(elsewhere.find_in(written.as_bytes()), None);
    }

    #[test]
    fn plain_names_are_kept() {
        for name in ["jingzhouribao", "荆州日报新闻", "21caijingAPP", "2013", "a_b-c", "Ünïcode"] {
            assert_eq!(path_segment(name), name);
        }
    }

    #[test]
    fn other_names_become_one_safe_distinct_segment() {
        let names = [
            "../x",
            "a/b",
            "C++",
            "C",
            "",
            "~",
            ".",
            "..",
            ".hidden",
            "a b",
            "anxinguojizhengquan(xianggang)",
            "x\u{0}y",
            "x\ny",
        ];
        let segments: Vec<String> = names.iter().map(|n| path_segment(n)).collect();
        for (name, seg) in names.iter().zip(&segments) {
            assert!(!seg.is_empty() && !seg.contains('/') && !seg.starts_with('.'), "{name:?} -> {seg:?}");
            assert!(seg.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_'), "{name:?} -> {seg:?}");
        }
        let unique: std::collections::BTreeSet<&String> = segments.iter().collect();
        assert_eq!(unique.len(), names.len(), "{segments:?}");
        assert_eq!(path_segment("C++"), path_segment("C++"));
        assert!(path_segment("a b").starts_with("a-b-"));
        assert!(path_segment(&"长".repeat(300)).len() <= MAX_SEGMENT_BYTES);
    }

    #[test]
    fn feed_paths_follow_jekyll_feed() {
        let d = &FeedPaths::default();
        assert_eq!(FeedKey::Site.path(d, Format::Atom), "feed.xml");
        assert_eq!(FeedKey::Category("news".into()).path(d, Format::Rss), "feed/news.rss");
        assert_eq!(FeedKey::Tag("荆州日报新闻".into()).path(d, Format::Atom), "feed/by_tag/荆州日报新闻.xml");
        assert_eq!(FeedKey::Site.path(d, Format::Json), "feed.json");
        assert_eq!(FeedKey::Category("news".into()).path(d, Format::Json), "feed/news.json");
        assert_eq!(
            FeedKey::Tag("C++".into()).path(d, Format::Json),
            format!("feed/by_tag/{}.json", path_segment("C++"))
        );
        assert!(d.is_default());
        assert_eq!(FeedPaths::new(None, None), *d);
    }

    #[test]
    fn custom_paths_move_the_site_and_tag_feeds_only() {
        let p = &FeedPaths::new(Some("/atom.xml"), Some("alt/tags"));
        assert_eq!(FeedKey::Site.path(p, Format::Atom), "atom.xml");
        assert_eq!(FeedKey::Site.path(p, Format::Rss), "atom.rss");
        assert_eq!(FeedKey::Site.path(p, Format::Json), "atom.json");
        assert_eq!(FeedKey::Tag("t".into()).path(p, Format::Atom), "alt/tags/t.xml");
        assert_eq!(FeedKey::Tag("C++".into()).stem(p), format!("alt/tags/{}", path_segment("C++")));
        assert_eq!(FeedKey::Category("news".into()).path(p, Format::Atom), "feed/news.xml");
        let p = &FeedPaths::new(Some("blog/feed.atom"), Some("/alt/tags/"));
        assert_eq!(FeedKey::Site.path(p, Format::Atom), "blog/feed.atom");
        assert_eq!(FeedKey::Site.path(p, Format::Rss), "blog/feed.rss");
        assert_eq!(p.tags_dir, "alt/tags/");
        assert!(!p.is_default());
    }

    #[test]
    fn bad_custom_paths_are_refused_and_leave_the_default() {
        for bad in [
            "",
            "/",
            "feed.rss",
            "feed.json",
            "feed",
            "blog/",
            "blog/feed.xml/",
            "../atom.xml",
            "a/../atom.xml",
            "a//atom.xml",
            "./atom.xml",
            ".xml",
            "a/.xml",
            ".postfeed-1.xml",
            "a b.xml",
            "a\\b.xml",
            "a\"b.xml",
            "feed.xsl",
            "feed.XML",
        ] {
            assert!(FeedPaths::site_file(bad).is_err(), "{bad:?}");
            assert_eq!(FeedPaths::new(Some(bad), None), FeedPaths::default(), "{bad:?}");
        }
        for good in ["/atom.xml", "atom.xml", "//atom.xml", "blog/feed.atom", "新闻/feed.xml", "a.b-c_d.xml"] {
            assert!(FeedPaths::site_file(good).is_ok(), "{good:?}");
        }
        for bad in ["", "/", "//", "..", "alt/../..", "alt/./tags", "alt//tags", ".hidden/", "a b/", "a\"/"] {
            assert!(FeedPaths::tags_folder(bad).is_err(), "{bad:?}");
            assert_eq!(FeedPaths::new(None, Some(bad)), FeedPaths::default(), "{bad:?}");
        }
        assert_eq!(FeedPaths::tags_folder("alt/tags").as_deref(), Ok("alt/tags/"));
        assert_eq!(FeedPaths::tags_folder("/alt/tags/").as_deref(), Ok("alt/tags/"));
    }
}
