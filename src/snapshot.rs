//! Rendered feeds as one immutable snapshot: bytes, ETag, dates, compressed bodies on demand; and
//! writing a snapshot to the output folder atomically.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use anyhow::{Context, Result};
use bytes::Bytes;
use chrono::{DateTime, FixedOffset, Utc};
use rayon::prelude::*;

use crate::config::{Config, ContentMode};
use crate::feed::{self, FeedInput, FeedKey, Format};
use crate::memfile::MemFile;
use crate::post::{self, EntryText, Post};
use crate::site::Site;

/// One file as served and written.
#[derive(Debug)]
pub struct Rendered {
    pub bytes: Bytes,
    /// Strong validator: a hash of the bytes, quoted.
    pub etag: String,
    pub updated: DateTime<FixedOffset>,
    /// When these bytes were first made (kept while they do not change): `Last-Modified`.
    pub modified: SystemTime,
    pub mime: &'static str,
    /// The memory file `bytes` live in, once moved there for `sendfile`.
    file: Option<Arc<MemFile>>,
    gzip: OnceLock<Bytes>,
    brotli: OnceLock<Bytes>,
}

impl Rendered {
    pub fn new(bytes: Vec<u8>, updated: DateTime<FixedOffset>, mime: &'static str) -> Rendered {
        let etag = format!("\"{:016x}\"", xxhash(&bytes));
        Rendered {
            bytes: Bytes::from(bytes),
            etag,
            updated,
            modified: whole_second(SystemTime::now()),
            mime,
            file: None,
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
        }
    }

    /// Moves the bytes into a sealed memory file, so they can be sent with `sendfile`; they stay
    /// on the heap if the system refuses one.
    pub fn move_to_memfile(&mut self) {
        if self.file.is_some() {
            return;
        }
        match MemFile::new(&self.bytes) {
            Ok(file) => {
                self.bytes = file.bytes();
                self.file = Some(file);
            }
            Err(error) => tracing::debug!(%error, "feed bytes stay on the heap"),
        }
    }

    /// The memory file holding `bytes`, if they were moved to one.
    pub fn memfile(&self) -> Option<&Arc<MemFile>> {
        self.file.as_ref()
    }

    /// gzip body, made on first use and kept for this version.
    pub fn gzip(&self) -> &Bytes {
        self.gzip.get_or_init(|| {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(&self.bytes).expect("in-memory gzip");
            Bytes::from(enc.finish().expect("in-memory gzip"))
        })
    }

    /// Brotli body, made on first use and kept for this version.
    pub fn brotli(&self) -> &Bytes {
        self.brotli.get_or_init(|| {
            let mut out = Vec::new();
            let params = brotli::enc::BrotliEncoderParams { quality: 9, lgwin: 22, ..Default::default() };
            brotli::BrotliCompress(&mut &self.bytes[..], &mut out, &params).expect("in-memory brotli");
            Bytes::from(out)
        })
    }
}

fn whole_second(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)
}

fn xxhash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// What one feed is, for the index page and OPML.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedInfo {
    pub key: FeedKey,
    pub title: String,
    pub entries: usize,
    pub updated: DateTime<FixedOffset>,
}

/// Every feed of one version of the site. Readers hold an `Arc<Snapshot>`; updates build a new one.
#[derive(Debug, Default, Clone)]
pub struct Snapshot {
    /// Output-relative path (`feed/by_tag/x.xml`) to file.
    pub files: BTreeMap<String, Arc<Rendered>>,
    pub feeds: BTreeMap<FeedKey, FeedInfo>,
}

impl Snapshot {
    /// Bytes held in memory files: memory of this process that its RSS does not show until the
    /// pages are mapped in.
    pub fn memfile_bytes(&self) -> usize {
        self.files.values().filter(|f| f.memfile().is_some()).map(|f| f.bytes.len()).sum()
    }
}

/// Where rendered feed bytes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Storage {
    /// On the heap: `regen`, which writes them out and ends.
    Heap,
    /// In sealed memory files, each moved there as soon as it is rendered: the daemon, which
    /// serves identity bodies from them with `sendfile`.
    MemFiles,
}

/// A post's entry text and the hash of the bytes it came from.
type CachedText = (u64, Arc<EntryText>);
/// One feed's files (Atom and/or RSS) and what the index shows of it.
type RenderedFeed = (FeedKey, FeedInfo, Vec<(String, Rendered)>);

/// Entry texts (summary and content) of the posts in feeds, kept across updates, keyed by source
/// path and checked against the hash of the bytes the post was parsed from.
#[derive(Default)]
pub struct ContentCache {
    entries: HashMap<String, CachedText>,
}

impl ContentCache {
    fn get(&self, site: &Site, post: &Post) -> Option<Arc<EntryText>> {
        let (hash, text) = self.entries.get(&post.source)?;
        (Some(*hash) == site.hash_of(&post.source)).then(|| Arc::clone(text))
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Bytes of text held, for debug logs.
    pub fn bytes(&self) -> usize {
        self.entries.values().flat_map(|(_, t)| [&t.summary, &t.content]).flatten().map(String::len).sum()
    }

    /// Drops contents of posts no longer in any feed.
    fn retain(&mut self, keep: &BTreeSet<String>) {
        self.entries.retain(|k, _| keep.contains(k));
    }
}

/// Renders the feeds named in `keys` (all feeds when `None`) on top of `previous`, removing feeds
/// that no longer exist. Returns the new snapshot and the paths whose bytes changed.
pub fn render(
    site: &Site,
    config: &Config,
    now: DateTime<Utc>,
    previous: &Snapshot,
    keys: Option<&BTreeSet<FeedKey>>,
    cache: &mut ContentCache,
    storage: Storage,
) -> (Snapshot, Vec<String>) {
    let (existing, lists) = feeds_to_render(site, config, now, keys, cache);
    let rendered: Vec<RenderedFeed> = lists
        .par_iter()
        .map(|(key, entries)| {
            let (info, files) = render_feed(site, config, cache, key, entries);
            let files = files
                .into_iter()
                .map(|(path, bytes, mime)| {
                    let mut file = Rendered::new(bytes, info.updated, mime);
                    if storage == Storage::MemFiles {
                        file.move_to_memfile();
                    }
                    (path, file)
                })
                .collect();
            (key.clone(), info, files)
        })
        .collect();

    let mut next = previous.clone();
    // Feeds that are gone (no visible post left, or disabled).
    let gone: Vec<FeedKey> = next.feeds.keys().filter(|k| !existing.contains(k)).cloned().collect();
    let mut changed = Vec::new();
    for key in gone {
        next.feeds.remove(&key);
        for format in [Format::Atom, Format::Rss] {
            if next.files.remove(&key.path(format)).is_some() {
                changed.push(key.path(format));
            }
        }
    }
    for (key, info, files) in rendered {
        for (path, mut file) in files {
            let same = next.files.get(&path).is_some_and(|old| old.bytes == file.bytes);
            if !same {
                // HTTP dates have whole seconds: a second version within the same second must
                // still get a later Last-Modified, or If-Modified-Since would hide it.
                if let Some(old) = next.files.get(&path) {
                    file.modified = file.modified.max(old.modified + std::time::Duration::from_secs(1));
                }
                changed.push(path.clone());
                next.files.insert(path, Arc::new(file));
            }
        }
        next.feeds.insert(key, info);
    }
    if keys.is_none() {
        let in_feeds: BTreeSet<String> = next
            .feeds
            .keys()
            .flat_map(|k| site.entries(k, now, config.feeds.limit))
            .map(|p| p.source.clone())
            .collect();
        cache.retain(&in_feeds);
    }
    (next, changed)
}

/// Renders every feed and writes each to `dir` as soon as it is made (an unchanged file is left
/// alone), then removes feeds that no longer exist, as [`write_folder`] does. `regen`'s path: no
/// feed's bytes outlive its write, so memory holds the site and the entry texts only.
pub fn render_to_folder(site: &Site, config: &Config, now: DateTime<Utc>, dir: &Path) -> Result<(WriteStats, usize)> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create output folder {}", dir.display()))?;
    let mut cache = ContentCache::default();
    let (_, lists) = feeds_to_render(site, config, now, None, &mut cache);
    let results: Vec<Vec<(String, bool)>> = lists
        .par_iter()
        .map(|(key, entries)| {
            let (_, files) = render_feed(site, config, &cache, key, entries);
            files
                .into_iter()
                .map(|(rel, bytes, _)| {
                    let written = write_if_changed(dir, &rel, &bytes)?;
                    Ok((rel, written))
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<_>>()?;
    let mut stats = WriteStats::default();
    let mut keep = BTreeSet::new();
    for (rel, written) in results.into_iter().flatten() {
        if written {
            stats.written += 1;
        } else {
            stats.unchanged += 1;
        }
        keep.insert(rel);
    }
    stats.removed = remove_stale(dir, &keep)?;
    Ok((stats, keep.len()))
}

/// A feed and its entries, newest first.
type FeedEntries = (FeedKey, Vec<Arc<Post>>);

/// The feeds that exist at `now` (enabled, with a visible entry; the site feed always), and the
/// entries of those to render, with every entry text they need in `cache`.
fn feeds_to_render(
    site: &Site,
    config: &Config,
    now: DateTime<Utc>,
    keys: Option<&BTreeSet<FeedKey>>,
    cache: &mut ContentCache,
) -> (BTreeSet<FeedKey>, Vec<FeedEntries>) {
    let existing: BTreeSet<FeedKey> = site.feed_keys(now).into_iter().filter(|k| k.is_enabled(config)).collect();
    let todo: Vec<FeedKey> = match keys {
        None => existing.iter().cloned().collect(),
        Some(keys) => keys.iter().filter(|k| existing.contains(k)).cloned().collect(),
    };
    let lists: Vec<FeedEntries> = todo
        .into_iter()
        .map(|k| {
            let entries = site.entries(&k, now, config.feeds.limit);
            (k, entries)
        })
        .collect();

    // Entry texts first, each post once, on all cores.
    let mut needed: BTreeMap<String, Arc<Post>> = BTreeMap::new();
    for (_, entries) in &lists {
        for p in entries {
            if cache.get(site, p).is_none() {
                needed.entry(p.source.clone()).or_insert_with(|| Arc::clone(p));
            }
        }
    }
    let fresh: Vec<(String, Option<CachedText>)> = needed
        .into_par_iter()
        .map(|(source, p)| {
            let loaded = load_text(site, config, &p);
            (source, loaded)
        })
        .collect();
    for (source, loaded) in fresh {
        if let Some(entry) = loaded {
            cache.entries.insert(source, entry);
        }
    }
    (existing, lists)
}

/// One rendered file: output-relative path, bytes and MIME type.
type FeedFile = (String, Vec<u8>, &'static str);

/// One feed's files, in the configured formats.
fn render_feed(
    site: &Site,
    config: &Config,
    cache: &ContentCache,
    key: &FeedKey,
    entries: &[Arc<Post>],
) -> (FeedInfo, Vec<FeedFile>) {
    let texts: Vec<Arc<EntryText>> = entries.iter().map(|p| cache.get(site, p).unwrap_or_default()).collect();
    let input = FeedInput { key, config, entries, texts: &texts };
    let updated = input.updated();
    let mut files = Vec::new();
    if config.feeds.atom {
        files.push((key.path(Format::Atom), feed::atom::render(&input), Format::Atom.mime()));
    }
    if config.feeds.rss {
        files.push((key.path(Format::Rss), feed::rss::render(&input), Format::Rss.mime()));
    }
    (FeedInfo { key: key.clone(), title: input.title(), entries: entries.len(), updated }, files)
}

/// A post's entry text: the file read again, if its bytes are still the ones the post was parsed
/// from. Otherwise the file changed since, the watcher has reported it or will, and the entry
/// carries no text until then (never text that belongs to other metadata).
fn load_text(site: &Site, config: &Config, p: &Post) -> Option<CachedText> {
    let path = site.path_of(&p.source)?;
    let candidate = crate::scan::Candidate::new(p.source.clone(), path.to_path_buf());
    let bytes = site.tree.read(&candidate, config.feeds.max_post_bytes).ok()?.bytes;
    let hash = crate::site::content_hash(&bytes);
    if Some(hash) != site.hash_of(&p.source) {
        return None;
    }
    let with_content = config.feeds.content == ContentMode::Full;
    let text = post::entry_text(p, &bytes, config.feeds.sanitize, with_content)?;
    Some((hash, Arc::new(text)))
}

/// Finds the snapshot's files that the output folder already holds byte for byte, and takes
/// their `modified` from the file's mtime (kept across runs, as unchanged files are never
/// rewritten), so `Last-Modified` survives a restart. Returns their paths, for
/// [`write_folder_except`].
pub fn adopt_folder(dir: &Path, snapshot: &mut Snapshot) -> BTreeSet<String> {
    let same: Vec<(String, SystemTime)> = snapshot
        .files
        .par_iter()
        .filter_map(|(rel, file)| {
            let path = dir.join(rel);
            let equal = fs::read(&path).is_ok_and(|old| old == file.bytes);
            equal.then(|| Some((rel.clone(), fs::metadata(&path).and_then(|m| m.modified()).ok()?))).flatten()
        })
        .collect();
    let mut adopted = BTreeSet::new();
    for (rel, mtime) in same {
        if let Some(file) = snapshot.files.get_mut(&rel).and_then(Arc::get_mut) {
            file.modified = mtime.min(file.modified);
        }
        adopted.insert(rel);
    }
    adopted
}

/// What writing a snapshot to the output folder did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    pub written: usize,
    pub unchanged: usize,
    pub removed: usize,
}

/// Makes the output folder hold exactly the snapshot's feeds: changed files are written to a
/// temporary file beside them and renamed into place; equal files are left alone (mtime kept);
/// feeds that no longer exist, and temporary files left by a crash, are removed. Other files
/// in the folder are never touched.
pub fn write_folder(dir: &Path, snapshot: &Snapshot) -> Result<WriteStats> {
    write_folder_except(dir, snapshot, &BTreeSet::new())
}

/// [`write_folder`], taking the files at `known_same` as already on disk (see [`adopt_folder`]).
pub fn write_folder_except(dir: &Path, snapshot: &Snapshot, known_same: &BTreeSet<String>) -> Result<WriteStats> {
    fs::create_dir_all(dir).with_context(|| format!("cannot create output folder {}", dir.display()))?;
    let mut stats = WriteStats::default();
    // On all cores: at thousands of feeds, reading each old file to compare is most of the time.
    let written: Vec<bool> = snapshot
        .files
        .par_iter()
        .map(|(rel, file)| if known_same.contains(rel) { Ok(false) } else { write_if_changed(dir, rel, &file.bytes) })
        .collect::<Result<_>>()?;
    stats.written = written.iter().filter(|w| **w).count();
    stats.unchanged = written.len() - stats.written;
    let keep: BTreeSet<String> = snapshot.files.keys().cloned().collect();
    stats.removed = remove_stale(dir, &keep)?;
    Ok(stats)
}

/// Writes `bytes` to `dir/rel` atomically unless the file already holds them (its mtime is then
/// kept). Returns whether it wrote.
fn write_if_changed(dir: &Path, rel: &str, bytes: &[u8]) -> Result<bool> {
    let path = dir.join(rel);
    if fs::read(&path).is_ok_and(|old| old == bytes) {
        return Ok(false);
    }
    write_atomically(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(true)
}

/// Removes the feeds in `dir` that are not in `keep`, and temporary files left by a crash.
/// Returns how many feeds it removed.
fn remove_stale(dir: &Path, keep: &BTreeSet<String>) -> Result<usize> {
    let mut removed = 0;
    for rel in owned_files(dir) {
        let is_temp = rel.rsplit('/').next().is_some_and(|n| n.starts_with(".postfeed-"));
        if is_temp || !keep.contains(&rel) {
            let path = dir.join(&rel);
            fs::remove_file(&path).with_context(|| format!("cannot remove stale feed {}", path.display()))?;
            if !is_temp {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Brings the output folder up to date after an update that changed only `changed` paths.
pub fn write_changed(dir: &Path, snapshot: &Snapshot, changed: &[String]) -> Result<WriteStats> {
    /// What happened to one path.
    enum Done {
        Written,
        Removed,
        Absent,
    }
    // On all cores: a batch of new posts changes hundreds of feeds, and each rename over an old
    // file makes ext4 start writing the new one's data.
    let done: Vec<Done> = changed
        .par_iter()
        .map(|rel| {
            let path = dir.join(rel);
            match snapshot.files.get(rel) {
                Some(file) => {
                    write_atomically(&path, &file.bytes).with_context(|| format!("cannot write {}", path.display()))?;
                    Ok(Done::Written)
                }
                None => match fs::remove_file(&path) {
                    Ok(()) => Ok(Done::Removed),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Done::Absent),
                    Err(e) => Err(e).with_context(|| format!("cannot remove stale feed {}", path.display())),
                },
            }
        })
        .collect::<Result<_>>()?;
    let mut stats = WriteStats::default();
    for d in done {
        match d {
            Done::Written => stats.written += 1,
            Done::Removed => stats.removed += 1,
            Done::Absent => {}
        }
    }
    Ok(stats)
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("feed paths have a folder");
    fs::create_dir_all(dir)?;
    let name = path.file_name().expect("feed paths have a name").to_string_lossy();
    let tmp = dir.join(format!(".postfeed-{}-{name}", std::process::id()));
    let result = (|| {
        // No fsync: a rename over the old file is atomic against crashes of this process, and
        // ext4 (auto_da_alloc) and XFS flush the data of a file renamed over another before the
        // rename; an fsync per feed would cost milliseconds per update.
        fs::File::create(&tmp)?.write_all(bytes)?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Files in the output folder that postfeed writes: `feed.xml`/`feed.rss` and `*.xml`/`*.rss`
/// under `feed/`, plus its temporary files.
fn owned_files(dir: &Path) -> Vec<String> {
    let is_feed = |name: &str| name.ends_with(".xml") || name.ends_with(".rss") || name.starts_with(".postfeed-");
    let mut out = Vec::new();
    for top in ["feed.xml", "feed.rss"] {
        if dir.join(top).is_file() {
            out.push(top.to_string());
        }
    }
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".postfeed-") {
                out.push(name);
            }
        }
    }
    for sub in ["feed", "feed/by_tag"] {
        if let Ok(entries) = fs::read_dir(dir.join(sub)) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.file_type().is_ok_and(|t| t.is_file()) && is_feed(&name) {
                    out.push(format!("{sub}/{name}"));
                }
            }
        }
    }
    out
}
