//! Feeds turned into bytes: one immutable snapshot of every feed file (bytes, ETag, dates,
//! compressed bodies made on demand), rendered from the feed set and the entry texts the site
//! layer made. No file is read or written here.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use bytes::Bytes;
use chrono::{DateTime, FixedOffset};
use rayon::prelude::*;

use crate::body::Body;
use crate::config::Config;
use crate::feed::fragments::{Fragments, VersionedText};
use crate::feed::rss::Uses;
use crate::feed::{self, stylesheet, EntryBytes, Feed, FeedInput, FeedKey, FeedSet, Format};
use crate::memfile::MemFile;
use crate::post::{EntryText, Post};
use crate::problem::Problem;
use crate::site::EntryTexts;

/// One file as served and written.
#[derive(Debug)]
pub struct Rendered {
    /// The bytes: a feed's pieces (sharing its entries' bytes with other feeds), or one buffer.
    pub body: Body,
    /// Strong validator: a hash of the bytes, quoted.
    pub(crate) etag: String,
    /// When these bytes were first made (kept while they do not change): `Last-Modified`.
    pub(crate) modified: SystemTime,
    pub(crate) mime: &'static str,
    /// The type sent instead of `mime` to a browser opening the file as a page: a feed with a
    /// browser view is XML to a browser, which applies its stylesheet to XML only.
    pub(crate) page_mime: Option<&'static str>,
    /// The `Content-Security-Policy` sent with it, if any.
    pub(crate) policy: Option<&'static str>,
    /// The memory file the bytes live in, once moved there for `sendfile`.
    file: Option<Arc<MemFile>>,
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
}

impl Rendered {
    pub fn new(body: impl Into<Body>, mime: &'static str) -> Rendered {
        let body = body.into();
        let etag = format!("\"{:016x}\"", body.hash());
        Rendered {
            body,
            etag,
            modified: whole_second(SystemTime::now()),
            mime,
            page_mime: None,
            policy: None,
            file: None,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
        }
    }

    /// Moves the bytes into a sealed memory file, in one piece, so they can be sent with
    /// `sendfile`; they stay on the heap if the system refuses one.
    pub(crate) fn move_to_memfile(&mut self) {
        if self.file.is_some() {
            return;
        }
        match MemFile::new(&self.body.to_bytes()) {
            Ok(file) => {
                self.body = Body::from(file.bytes());
                self.file = Some(file);
            }
            Err(error) => tracing::debug!(%error, "feed bytes stay on the heap"),
        }
    }

    /// The memory file holding the bytes, if they were moved to one.
    pub(crate) fn memfile(&self) -> Option<&Arc<MemFile>> {
        self.file.as_ref()
    }

    /// gzip body, made on first use and kept for this version.
    pub(crate) fn gzip(&self) -> &Bytes {
        self.gzip.get_or_init(|| {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            self.body.write_to(&mut enc).expect("in-memory gzip");
            Bytes::from(enc.finish().expect("in-memory gzip"))
        })
    }

    /// Brotli body, made on first use and kept for this version.
    pub(crate) fn brotli(&self) -> &Bytes {
        self.brotli.get_or_init(|| {
            let params = brotli::enc::BrotliEncoderParams { quality: 9, lgwin: 22, ..Default::default() };
            let mut enc = brotli::CompressorWriter::with_params(Vec::new(), 4096, &params);
            self.body.write_to(&mut enc).expect("in-memory brotli");
            Bytes::from(enc.into_inner())
        })
    }
}

fn whole_second(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

/// What one feed is, for the index page and OPML.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FeedInfo {
    pub(crate) key: FeedKey,
    pub(crate) title: String,
    pub(crate) entries: usize,
    pub(crate) updated: DateTime<FixedOffset>,
    /// Each format's output-relative path, as the feed set named them.
    pub(crate) files: Vec<(Format, String)>,
}

/// Every feed of one version of the site. Readers hold an `Arc<Snapshot>`; updates build a new one.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Output-relative path (`feed/by_tag/x.xml`) to file.
    pub files: BTreeMap<String, Arc<Rendered>>,
    pub(crate) feeds: BTreeMap<FeedKey, FeedInfo>,
    /// The posts' problems when the snapshot was made, sorted, for `/problems`.
    pub(crate) problems: Arc<Vec<Problem>>,
    /// Output-relative paths of retired feeds: they answer 410 Gone, and the folder lacks them.
    pub(crate) gone: Arc<BTreeSet<String>>,
    /// Files the output folder holds besides feeds (the feed state, the lists of retired feeds),
    /// by output-relative path: written, never served.
    pub(crate) side: BTreeMap<String, Bytes>,
}

impl Snapshot {
    /// How many feed files there are (the stylesheet, when there is one, is not a feed file).
    pub(crate) fn feed_file_count(&self) -> usize {
        self.feeds.values().map(|feed| feed.files.len()).sum()
    }

    /// Bytes held in memory files: memory of this process that its RSS does not show until the
    /// pages are mapped in.
    pub(crate) fn memfile_bytes(&self) -> usize {
        self.files.values().filter(|f| f.memfile().is_some()).map(|f| f.body.len()).sum()
    }
}

/// Where rendered feed bytes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// On the heap: `regen`, which writes them out and ends.
    Heap,
    /// The site feed's files in sealed memory files, each moved there as soon as it is
    /// rendered, the other feeds' pieces on the heap: the daemon, which serves identity bodies
    /// from memory files with `sendfile`. The site feed is the one every reader of the site
    /// polls; the thousands of category and tag feeds share their entries' bytes instead.
    MemFiles,
}

/// One feed's files (Atom, RSS, JSON Feed: those configured) and what the index shows of it.
type RenderedFeed = (FeedKey, FeedInfo, Vec<(String, Option<Rendered>)>);

/// Renders the feeds in `todo` (drawn from `feeds`) on top of `previous`, and drops the feeds
/// `feeds` no longer has. Returns the new snapshot and the paths whose bytes changed. Touches no
/// file: every entry's text comes from `texts`, and its bytes from `fragments` (made there first
/// when missing).
pub(crate) fn render(
    config: &Config,
    feeds: &FeedSet,
    todo: &[Feed],
    texts: &EntryTexts,
    fragments: &mut Fragments,
    previous: &Snapshot,
    storage: Storage,
) -> (Snapshot, Vec<String>) {
    fragments.prepare(config, todo, |post| versioned_text(texts, post));
    let fragments = &*fragments;

    let mut next = previous.clone();
    // Feeds that are gone (no visible post left, or disabled).
    let gone: Vec<FeedKey> = next.feeds.keys().filter(|k| !feeds.contains(k)).cloned().collect();
    let mut changed = Vec::new();
    for key in gone {
        if let Some(info) = next.feeds.remove(&key) {
            for (_, path) in info.files {
                if next.files.remove(&path).is_some() {
                    changed.push(path);
                }
            }
        }
    }
    let retired = feeds.retired_paths();
    if *next.gone != retired {
        next.gone = Arc::new(retired);
    }

    // Paths that two feeds of `todo` share (a configuration can make a tag's and a category's
    // feed the same file): the last one rendered wins, as the merge below compares each with
    // what is there by then.
    let mut seen = HashSet::new();
    let shared: HashSet<&str> =
        todo.iter().flat_map(|feed| &feed.files).map(|(_, path)| path.as_str()).filter(|p| !seen.insert(*p)).collect();
    let served = &next.files;
    let rendered: Vec<RenderedFeed> = todo
        .par_iter()
        .map(|feed| {
            let (info, files) = render_feed(config, feed, texts, fragments);
            // `render_feed` gives one file per format of `feed.files`, in that order. A file
            // whose bytes are those already served stays as it is (`None`), found so on all
            // cores: its ETag, date and memory file hold.
            let files = files
                .into_iter()
                .zip(&feed.files)
                .map(|((path, bytes, mime), (format, _))| {
                    if !shared.contains(path.as_str()) && served.get(&path).is_some_and(|old| old.body == bytes) {
                        return (path, None);
                    }
                    let mut file = Rendered::new(bytes, mime);
                    if config.feeds.browser_view && stylesheet::applies_to(*format) {
                        file.page_mime = Some(stylesheet::PAGE_MIME);
                        file.policy = Some(stylesheet::feed_policy());
                    }
                    if storage == Storage::MemFiles && feed.key == FeedKey::Site {
                        file.move_to_memfile();
                    }
                    (path, Some(file))
                })
                .collect();
            (feed.key.clone(), info, files)
        })
        .collect();

    for (key, info, files) in rendered {
        for (path, mut file) in files.into_iter().filter_map(|(path, file)| Some((path, file?))) {
            // Changed bytes most often differ early (the feed's date): this costs little.
            if next.files.get(&path).is_some_and(|old| old.body == file.body) {
                continue;
            }
            // HTTP dates have whole seconds: a second version within the same second must
            // still get a later Last-Modified, or If-Modified-Since would hide it.
            if let Some(old) = next.files.get(&path) {
                file.modified = file.modified.max(old.modified + std::time::Duration::from_secs(1));
            }
            changed.push(path.clone());
            next.files.insert(path, Arc::new(file));
        }
        next.feeds.insert(key, info);
    }
    sync_stylesheet(config, &mut next, &mut changed);
    (next, changed)
}

/// The browser view's stylesheet, when it is on: put in the snapshot (or taken out) like a feed.
fn sync_stylesheet(config: &Config, next: &mut Snapshot, changed: &mut Vec<String>) {
    let path = stylesheet::PATH;
    if config.feeds.browser_view {
        if !next.files.contains_key(path) {
            let (_, bytes, mime) = stylesheet_file();
            let mut file = Rendered::new(bytes, mime);
            file.policy = Some(stylesheet::POLICY);
            next.files.insert(path.to_string(), Arc::new(file));
            changed.push(path.to_string());
        }
    } else if next.files.remove(path).is_some() {
        changed.push(path.to_string());
    }
}

/// The browser view's stylesheet as a file to write.
pub(crate) fn stylesheet_file() -> FeedFile {
    (stylesheet::PATH.to_string(), Body::from(stylesheet::BYTES), stylesheet::MIME)
}

/// One rendered file: output-relative path, bytes and MIME type.
pub(crate) type FeedFile = (String, Body, &'static str);

/// The text of `post` and its version, for [`Fragments::prepare`].
pub(crate) fn versioned_text(texts: &EntryTexts, post: &Post) -> VersionedText {
    match texts.versioned(&post.source) {
        Some((version, text)) => (Some(version), Arc::clone(text)),
        None => (None, Arc::default()),
    }
}

/// The text of `post`; an entry without one (its file changed since it was parsed) has neither
/// summary nor content until the change is read.
fn text_of(texts: &EntryTexts, post: &Post) -> Arc<EntryText> {
    texts.get(&post.source).cloned().unwrap_or_default()
}

/// One feed's files, in the formats it has: each its head and tail around the bytes its entries
/// have in `fragments` (made here if missing).
pub(crate) fn render_feed(
    config: &Config,
    feed: &Feed,
    texts: &EntryTexts,
    fragments: &Fragments,
) -> (FeedInfo, Vec<FeedFile>) {
    let entry_texts: Vec<Arc<EntryText>> = feed.entries.iter().map(|p| text_of(texts, p)).collect();
    let input = FeedInput { key: &feed.key, config, entries: &feed.entries, texts: &entry_texts };
    let updated = input.updated();
    let files = feed
        .files
        .iter()
        .map(|(format, path)| {
            let entries: Vec<EntryBytes> = feed
                .entries
                .iter()
                .zip(&entry_texts)
                .map(|(post, text)| match fragments.get(post, *format) {
                    Some(bytes) => bytes.clone(),
                    None => feed::fragments::render(config, *format, post, text),
                })
                .collect();
            let pieces = match format {
                Format::Atom => feed::atom::document(&input, &entries),
                Format::Rss => {
                    let uses = feed.entries.iter().zip(&entry_texts).fold(Uses::default(), |uses, (post, text)| {
                        uses.and(fragments.rss_uses(post).unwrap_or_else(|| Uses::of(config, post, text)))
                    });
                    feed::rss::document(&input, &entries, uses)
                }
                Format::Json => feed::json::document(&input, &entries),
            };
            (path.clone(), Body::new(pieces), format.mime())
        })
        .collect();
    let info = FeedInfo {
        key: feed.key.clone(),
        title: input.title(),
        entries: feed.entries.len(),
        updated,
        files: feed.files.clone(),
    };
    (info, files)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::io::Read;
    use std::path::{Path, PathBuf};

    use chrono::{DateTime, Utc};

    use super::*;
    use crate::feed::lifecycle::Lifecycle;
    use crate::site::{ContentRenderer, Site};

    fn config(root: &Path) -> Config {
        let text = format!(
            "[site]\nurl = \"https://example.org\"\ntitle = \"T\"\n[source]\ndir = \"{}\"\n[output]\ndir = \"{}\"\n",
            root.join("site").display(),
            root.join("out").display()
        );
        Config::parse(&text, Path::new("/")).unwrap()
    }

    fn write_post(root: &Path, day: u32, tag: &str, body: &str) -> PathBuf {
        let path = root.join(format!("site/_posts/2021-01-{day:02}-p{day}.md"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, format!("---\ntitle: P{day}\ntags: [{tag}]\n---\n{body}\n")).unwrap();
        path
    }

    /// Renders the feeds named in `keys` (all when `None`) of the site as it is on disk.
    fn render_site(
        config: &Config,
        site: &Site,
        texts: &mut EntryTexts,
        previous: &Snapshot,
        keys: Option<&std::collections::BTreeSet<FeedKey>>,
    ) -> (Snapshot, Vec<String>) {
        let feeds = FeedSet::new(site, &config.feeds, &Lifecycle::new(&config.feeds), Utc::now());
        let todo = feeds.select(keys);
        let renderer = ContentRenderer::new(config, site.post_links.clone(), DateTime::UNIX_EPOCH.fixed_offset());
        texts.load(site, &renderer, todo.iter().flat_map(|f| &f.entries), |_, _| false);
        render(config, &feeds, &todo, texts, &mut Fragments::default(), previous, Storage::Heap)
    }

    fn sorted(mut paths: Vec<String>) -> Vec<String> {
        paths.sort();
        paths
    }

    #[test]
    fn render_reports_the_paths_that_changed_and_drops_gone_feeds() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        write_post(dir.path(), 1, "a", "One.");
        let p2 = write_post(dir.path(), 2, "b", "Two.");
        let mut site = Site::load(&config).unwrap();
        let mut texts = EntryTexts::default();

        let (first, changed) = render_site(&config, &site, &mut texts, &Snapshot::default(), None);
        let all = [
            "feed.rss",
            "feed.xml",
            "feed.xsl",
            "feed/by_tag/a.rss",
            "feed/by_tag/a.xml",
            "feed/by_tag/b.rss",
            "feed/by_tag/b.xml",
        ];
        assert_eq!(sorted(changed), all);
        assert_eq!(first.files.keys().map(String::as_str).collect::<Vec<_>>(), all);
        assert_eq!(
            first.feeds[&FeedKey::Tag("b".into())].files,
            [(Format::Atom, "feed/by_tag/b.xml".to_string()), (Format::Rss, "feed/by_tag/b.rss".to_string())]
        );

        // The same site again: nothing changed, and the old files are kept as they were.
        let (again, changed) = render_site(&config, &site, &mut texts, &first, None);
        assert!(changed.is_empty(), "{changed:?}");
        assert!(Arc::ptr_eq(&first.files["feed.xml"], &again.files["feed.xml"]));

        // P2 deleted: the site feed changes, #b goes with its files, #a is not rendered.
        fs::remove_file(&p2).unwrap();
        let changes = site.refresh(&[p2], &config);
        let (next, changed) = render_site(&config, &site, &mut texts, &again, Some(&changes.feeds));
        assert_eq!(sorted(changed), ["feed.rss", "feed.xml", "feed/by_tag/b.rss", "feed/by_tag/b.xml"]);
        assert!(!next.feeds.contains_key(&FeedKey::Tag("b".into())));
        assert!(!next.files.contains_key("feed/by_tag/b.xml"));
        assert!(Arc::ptr_eq(&again.files["feed/by_tag/a.xml"], &next.files["feed/by_tag/a.xml"]));
    }

    #[test]
    fn a_file_two_feeds_share_is_the_last_rendered_ones_and_stays_when_the_other_goes() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("site/_posts")).unwrap();
        // Tag feeds in `feed/`, where the category feeds are (`feed.tags.path` in `_config.yml`):
        // tag `x` and category `x` are both `feed/x.xml`.
        let mut config = config(dir.path());
        config.feeds.paths = crate::config::FeedPaths::new(None, Some("feed/"));
        let write = |name: &str, front: &str| {
            fs::write(dir.path().join("site/_posts").join(name), format!("---\n{front}\n---\nBody.\n")).unwrap()
        };
        write("2021-01-01-in-category.md", "title: In the category\ncategories: [x]");
        write("2021-01-02-tagged.md", "title: Tagged\ntags: [x]");
        let site = Site::load(&config).unwrap();
        let mut texts = EntryTexts::default();
        let titles = |snapshot: &Snapshot| {
            let text = String::from_utf8(snapshot.files["feed/x.xml"].body.to_bytes().to_vec()).unwrap();
            let doc = roxmltree::Document::parse(&text).unwrap();
            let entries = doc.descendants().filter(|n| n.has_tag_name("entry"));
            entries
                .map(|e| e.children().find(|c| c.has_tag_name("title")).unwrap().text().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        let (first, _) = render_site(&config, &site, &mut texts, &Snapshot::default(), None);
        let both = [FeedKey::Category("x".into()), FeedKey::Tag("x".into())];
        let last = render_site(&config, &site, &mut texts, &first, Some(&both.iter().cloned().collect())).0;
        assert_eq!(titles(&last), titles(&first), "the feed rendered last does not win");

        // Category feeds turned off: the category's feed is gone, the tag's stays at the path.
        config.feeds.categories = false;
        let (next, _) = render_site(&config, &site, &mut texts, &last, Some(&both.iter().cloned().collect()));
        assert!(next.files.contains_key("feed/x.xml"), "the tag feed's file went with the category's");
        assert_eq!(titles(&next), ["Tagged"]);
    }

    #[test]
    fn the_browser_view_adds_the_stylesheet_and_its_instruction_and_can_be_turned_off() {
        let dir = tempfile::tempdir().unwrap();
        let on = config(dir.path());
        write_post(dir.path(), 1, "a", "One.");
        let site = Site::load(&on).unwrap();
        let mut texts = EntryTexts::default();
        let (with_view, _) = render_site(&on, &site, &mut texts, &Snapshot::default(), None);
        let xsl = &with_view.files[stylesheet::PATH];
        assert_eq!(xsl.body.to_bytes(), stylesheet::BYTES);
        assert_eq!(xsl.mime, "text/xsl; charset=utf-8");
        for (path, href) in [("feed.xml", "feed.xsl"), ("feed/by_tag/a.rss", "../../feed.xsl")] {
            let text = String::from_utf8(with_view.files[path].body.to_bytes().to_vec()).unwrap();
            let doc = roxmltree::Document::parse(&text).unwrap();
            let pi = doc.root().children().find_map(|n| n.pi()).expect("a processing instruction");
            assert_eq!(pi.target, "xml-stylesheet");
            assert_eq!(pi.value, Some(format!("type=\"text/xsl\" href=\"{href}\"").as_str()));
            assert!(with_view.files[path].policy.is_some_and(|p| p.starts_with("default-src 'none'")));
        }

        let mut off = on.clone();
        off.feeds.browser_view = false;
        let (without, changed) = render_site(&off, &site, &mut texts, &with_view, None);
        assert!(!without.files.contains_key(stylesheet::PATH));
        assert!(changed.contains(&stylesheet::PATH.to_string()) && changed.contains(&"feed.xml".to_string()));
        for (path, file) in &without.files {
            assert!(!String::from_utf8_lossy(&file.body.to_bytes()).contains("xml-stylesheet"), "{path}");
            assert!(file.policy.is_none() && file.page_mime.is_none(), "{path}");
        }
    }

    #[test]
    fn rendering_reads_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        write_post(dir.path(), 1, "a", "Text that only the file holds.");
        let site = Site::load(&config).unwrap();
        let feeds = FeedSet::new(&site, &config.feeds, &Lifecycle::new(&config.feeds), Utc::now());
        let todo = feeds.select(None);
        let mut texts = EntryTexts::default();
        let renderer = ContentRenderer::new(&config, site.post_links.clone(), DateTime::UNIX_EPOCH.fixed_offset());
        texts.load(&site, &renderer, todo.iter().flat_map(|f| &f.entries), |_, _| false);
        // Gone from disk once the site layer has made the texts: the bytes still carry them.
        fs::remove_dir_all(dir.path().join("site")).unwrap();
        let (snapshot, _) =
            render(&config, &feeds, &todo, &texts, &mut Fragments::default(), &Snapshot::default(), Storage::Heap);
        let atom = String::from_utf8(snapshot.files["feed.xml"].body.to_bytes().to_vec()).unwrap();
        assert!(atom.contains("Text that only the file holds."), "{atom}");
    }

    #[test]
    fn a_new_version_within_the_same_second_gets_a_later_modified() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let path = write_post(dir.path(), 1, "a", "First.");
        let mut site = Site::load(&config).unwrap();
        let mut texts = EntryTexts::default();
        let (first, _) = render_site(&config, &site, &mut texts, &Snapshot::default(), None);
        write_post(dir.path(), 1, "a", "Second.");
        let changes = site.refresh(&[path], &config);
        let (second, changed) = render_site(&config, &site, &mut texts, &first, Some(&changes.feeds));
        assert!(changed.contains(&"feed.xml".to_string()));
        let (before, after) = (first.files["feed.xml"].modified, second.files["feed.xml"].modified);
        assert!(after >= before + std::time::Duration::from_secs(1), "{before:?} then {after:?}");
    }

    #[test]
    fn bodies_have_a_content_etag_and_compress_to_the_same_bytes() {
        let text = "<feed>荆州 &amp; more</feed>\n".repeat(50).into_bytes();
        let file = Rendered::new(text.clone(), Format::Atom.mime());
        assert_eq!(file.etag, Rendered::new(text.clone(), "x").etag);
        assert_ne!(file.etag, Rendered::new(b"other".to_vec(), "x").etag);
        assert!(file.etag.starts_with('"') && file.etag.ends_with('"') && file.etag.len() == 18, "{}", file.etag);
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&file.gzip()[..]).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, text);
        let mut plain = Vec::new();
        brotli::Decompressor::new(&file.brotli()[..], 4096).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, text);
        assert!(file.gzip().len() < text.len() && file.brotli().len() < text.len());

        let mut kept = Rendered::new(text.clone(), Format::Atom.mime());
        kept.move_to_memfile();
        assert!(kept.memfile().is_some());
        assert_eq!(kept.body.to_bytes(), text);
        assert_eq!(kept.etag, file.etag);
    }

    #[test]
    fn shared_texts_are_spliced_where_their_markers_are_written_and_nowhere_else() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path());
        let hostile = format!("{} and {} ]]>", feed::CONTENT_MARKER, feed::SUMMARY_MARKER);
        let path = dir.path().join("site/_posts/2021-01-05-x.md");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let front = format!("title: \"{hostile}\"\nauthor: \"{hostile}\"\ndescription: \"a & b ]]> {hostile}\"");
        fs::write(&path, format!("---\n{front}\n---\nFish &amp; chips ]]&gt; <b>{hostile}</b>\n")).unwrap();
        let plain = dir.path().join("site/_posts/2021-01-06-y.md");
        fs::write(&plain, "---\ntitle: Y\ndescription: plain words\n---\nWords.\n").unwrap();
        let site = Site::load(&config).unwrap();
        let (snapshot, _) = render_site(&config, &site, &mut EntryTexts::default(), &Snapshot::default(), None);

        let read = |path: &str| feed_rs::parser::parse(&snapshot.files[path].body.to_bytes()[..]).unwrap();
        let (atom, rss) = (read("feed.xml"), read("feed.rss"));
        for (feed, name) in [(&atom, "Atom"), (&rss, "RSS")] {
            let entry = feed.entries.iter().find(|e| e.links[0].href.ends_with("x.html")).unwrap();
            assert_eq!(entry.title.as_ref().unwrap().content, hostile, "{name}");
            let content = entry.content.as_ref().and_then(|c| c.body.as_deref()).unwrap();
            let in_html = hostile.replace('>', "&gt;");
            assert_eq!(content, format!("<p>Fish &amp; chips ]]&gt; <b>{in_html}</b></p>"), "{name}");
            let summary = &entry.summary.as_ref().unwrap().content;
            // Atom's summary is text; RSS's description is HTML, so its text escaped once more.
            let expected = format!("a & b ]]> {hostile}");
            let expected = if name == "RSS" { crate::markup::text_as_html(&expected).into_owned() } else { expected };
            assert_eq!(*summary, expected, "{name}");
        }
        // Each writes its own escaped summary when they differ, and one shared copy when not.
        let pieces = |path: &str| snapshot.files[path].body.pieces().to_vec();
        let (atom, rss) = (pieces("feed.xml"), pieces("feed.rss"));
        let shared = |needle: &[u8]| {
            let find = |pieces: &[bytes::Bytes]| {
                pieces
                    .iter()
                    .find(|p| p.starts_with(needle))
                    .map(|p| p.as_ptr())
                    .unwrap_or_else(|| panic!("{needle:?}"))
            };
            find(&atom) == find(&rss)
        };
        assert!(shared(b"plain words"));
        assert!(shared(b"&lt;p&gt;Words."));
        assert!(shared(b"&lt;p&gt;Fish"));
        assert!(!shared(b"a &amp;"));
    }
}
