//! Entries kept in the state folder between runs: the bytes each shown post's entry was made
//! into, in every format, and what they were made from, so that a start-up or a reload makes
//! again only the entries whose post, site or program changed since. Like the post index, the
//! store is never trusted over the files. An entry is used only for a post parsed from a file
//! with the very content hash it was made from, into the very same post, by the same program with
//! the same settings, `_data` and `_includes`; an entry whose Liquid ran also needs the same
//! `site.time`, and each post it looked up found where it was. Entries with a template problem
//! (which every run that makes them reports), or whose Liquid read a file beside the post (which
//! nothing records), are not kept.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::feed::{rss, EntryBytes};
use crate::post::Post;
use crate::template::{Lookup, SiteIndex};

/// Bumped whenever what is stored changes shape.
const SCHEMA: u32 = 1;

/// The first bytes of a store file, before its schema number.
const MAGIC: &[u8; 8] = b"pfentry\0";

/// What a store file holds after its magic bytes and schema number: the lengths of its two parts
/// and a checksum over both (the file is not synced, so a crash may leave it cut short).
const FRAME: usize = 24;

/// One entry as stored. Its pieces follow the list of entries, in order.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    source: String,
    /// The content hash of the file its text was made from.
    hash: u64,
    /// [`post_digest`] of the post its bytes were made from.
    post: u64,
    /// `site.time` when its Liquid ran (see [`Liquid`]); `None`: no Liquid ran.
    liquid: Option<Liquid>,
    /// The lengths of its distinct pieces of bytes, in the order they are stored.
    pieces: Vec<u32>,
    /// For each format of [`crate::feed::fragments::slot`], its bytes as indexes into `pieces`:
    /// Atom and RSS share the escaped content, and so do the entries read back.
    formats: [Option<Vec<u32>>; 3],
    rss_uses: rss::Uses,
}

/// What an entry whose Liquid ran depends on besides its post, the settings, `_data` and
/// `_includes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Liquid {
    /// `site.time` ([`stored_time`]).
    time: (i64, i32),
    /// The posts it looked up and what each found.
    lookups: Vec<Lookup>,
}

/// `site.time` as stored: seconds since the epoch and the offset in seconds.
fn stored_time(time: DateTime<FixedOffset>) -> (i64, i32) {
    (time.timestamp(), time.offset().local_minus_utc())
}

/// The list of entries, as written: the pieces go to the second part of the file.
#[derive(Debug, Serialize, Deserialize)]
struct Index {
    fingerprint: u64,
    /// Each include the templates read, and a hash of what it gave: the entries hold while every
    /// one of them gives the same.
    includes: Vec<(String, u64)>,
    entries: Vec<Stored>,
}

/// One entry to keep: the post and text version its bytes were made from, and the bytes.
pub(crate) struct Keep {
    pub(crate) post: Arc<Post>,
    /// The content hash of the file its text was made from.
    pub(crate) hash: u64,
    /// When its Liquid ran: `site.time` and the posts it looked up.
    pub(crate) liquid: Option<(DateTime<FixedOffset>, Vec<Lookup>)>,
    pub(crate) bytes: [Option<EntryBytes>; 3],
    pub(crate) rss_uses: rss::Uses,
    /// Reused from the file, not made by this run.
    pub(crate) reused: bool,
}

/// An entry read back, not yet checked against the site.
#[derive(Debug)]
pub(crate) struct Kept {
    hash: u64,
    post: u64,
    liquid: Option<Liquid>,
    bytes: [Option<EntryBytes>; 3],
    rss_uses: rss::Uses,
}

/// What a run may reuse of a kept entry: its bytes, and what its text looked up.
pub(crate) struct Reuse {
    pub(crate) hash: u64,
    pub(crate) liquid: bool,
    pub(crate) lookups: Vec<Lookup>,
    pub(crate) bytes: [Option<EntryBytes>; 3],
    pub(crate) rss_uses: rss::Uses,
}

/// What the site says an entry must have been made from to be reused.
pub(crate) struct Now<'a> {
    pub(crate) site_time: DateTime<FixedOffset>,
    pub(crate) index: &'a dyn SiteIndex,
    /// The formats the feeds need ([`crate::feed::fragments::slot`] order).
    pub(crate) formats: [bool; 3],
}

impl Kept {
    /// The entry's bytes and what they need, if they were made from `post`, parsed from a file
    /// with content hash `hash`, as the site now has it (see the module's notes).
    pub(crate) fn reuse(self, post: &Post, hash: Option<u64>, now: &Now<'_>) -> Option<Reuse> {
        let same_post = Some(self.hash) == hash && self.post == post_digest(post);
        let formats = now.formats.iter().zip(&self.bytes).all(|(needed, held)| !needed || held.is_some());
        let liquid_holds = self.liquid.as_ref().is_none_or(|liquid| {
            liquid.time == stored_time(now.site_time) && liquid.lookups.iter().all(|lookup| lookup.holds(now.index))
        });
        (same_post && formats && liquid_holds).then(|| Reuse {
            hash: self.hash,
            liquid: self.liquid.is_some(),
            lookups: self.liquid.map(|liquid| liquid.lookups).unwrap_or_default(),
            bytes: self.bytes,
            rss_uses: self.rss_uses,
        })
    }
}

/// The entries of a store file, by source path, for the fingerprint they were written with.
#[derive(Debug, Default)]
pub(crate) struct Stash {
    fingerprint: u64,
    includes: Vec<(String, u64)>,
    entries: HashMap<String, Kept>,
}

impl Stash {
    /// The entries of the store at `path`. A missing file is an empty stash; an unreadable,
    /// foreign or damaged one is too, logged.
    pub(crate) fn read(path: &Path) -> Stash {
        let opened = fs::File::open(path).and_then(|file| Ok((file.metadata()?.len(), file)));
        let (len, file) = match opened {
            Ok(opened) => opened,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Stash::default(),
            Err(e) => {
                tracing::warn!("cannot read the kept entries {}: {e}; every entry is made", path.display());
                return Stash::default();
            }
        };
        // Read piece by piece, not whole: the file is about as large as the entries it holds.
        match decode(&mut std::io::BufReader::with_capacity(1 << 20, file), len) {
            Ok(stash) => stash,
            Err(why) => {
                tracing::info!("{} is not usable ({why}); every entry is made", path.display());
                Stash::default()
            }
        }
    }

    /// Takes the entry kept for the post at `source`, if it was written with `fingerprint`.
    pub(crate) fn take(&mut self, source: &str, fingerprint: u64) -> Option<Kept> {
        if self.fingerprint != fingerprint {
            return None;
        }
        self.entries.remove(source)
    }

    /// How many entries it holds, for the debug log.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it was written with `fingerprint`, and each include it records gives what it gave
    /// then (`include_hash` says what one gives now).
    pub(crate) fn holds(&self, fingerprint: u64, include_hash: impl Fn(&str) -> u64) -> bool {
        self.fingerprint == fingerprint && self.includes.iter().all(|(name, hash)| include_hash(name) == *hash)
    }

    /// The includes it records, and what each gave.
    pub(crate) fn includes(&self) -> &[(String, u64)] {
        &self.includes
    }
}

/// The entries of a store file of `len` bytes read from `file`.
fn decode(file: &mut impl std::io::Read, len: u64) -> Result<Stash, String> {
    let mut read = |n: usize| -> Result<Vec<u8>, String> {
        let mut bytes = vec![0; n];
        file.read_exact(&mut bytes).map_err(|e| format!("cut short: {e}"))?;
        Ok(bytes)
    };
    let head = read(MAGIC.len() + 4).map_err(|_| "not a store of kept entries of this version")?;
    if head[..MAGIC.len()] != MAGIC[..] || head[MAGIC.len()..] != SCHEMA.to_le_bytes() {
        return Err("not a store of kept entries of this version".into());
    }
    let frame = read(FRAME)?;
    let number = |at: usize| u64::from_le_bytes(frame[at..at + 8].try_into().expect("8 bytes"));
    let (index_len, pieces_len, checksum) = (number(0), number(8), number(16));
    // The lengths are checked against the file's before anything is allocated by them.
    if Some(len)
        != index_len.checked_add(pieces_len).and_then(|body| body.checked_add((MAGIC.len() + 4 + FRAME) as u64))
    {
        return Err("cut short or damaged".into());
    }
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let index = read(usize::try_from(index_len).map_err(|e| e.to_string())?)?;
    hasher.update(&index);
    let index: Index = postcard::from_bytes(&index).map_err(|e| e.to_string())?;
    let mut left = pieces_len;
    let mut entries = HashMap::with_capacity(index.entries.len());
    for stored in index.entries {
        let mut distinct = Vec::with_capacity(stored.pieces.len());
        for piece_len in &stored.pieces {
            left = left.checked_sub(u64::from(*piece_len)).ok_or("a piece out of bounds")?;
            let piece = read(*piece_len as usize)?;
            hasher.update(&piece);
            distinct.push(Bytes::from(piece));
        }
        let mut bytes: [Option<EntryBytes>; 3] = [None, None, None];
        for (slot, indexes) in stored.formats.iter().enumerate() {
            if let Some(indexes) = indexes {
                let of_format: Option<Vec<Bytes>> =
                    indexes.iter().map(|i| distinct.get(*i as usize).cloned()).collect();
                bytes[slot] = Some(EntryBytes::from_pieces(of_format.ok_or("a piece index out of bounds")?));
            }
        }
        let kept =
            Kept { hash: stored.hash, post: stored.post, liquid: stored.liquid, bytes, rss_uses: stored.rss_uses };
        entries.insert(stored.source, kept);
    }
    if left != 0 || hasher.digest() != checksum {
        return Err("damaged".into());
    }
    Ok(Stash { fingerprint: index.fingerprint, includes: index.includes, entries })
}

/// Writes `entries` to the store at `path` with `fingerprint` and the includes they may have read,
/// atomically (a temporary file renamed over it), creating its folder if needed. Returns how many
/// were written.
pub(crate) fn write(
    path: &Path,
    fingerprint: u64,
    includes: Vec<(String, u64)>,
    entries: &[Keep],
) -> std::io::Result<usize> {
    let mut stored = Vec::with_capacity(entries.len());
    let mut pieces: Vec<&Bytes> = Vec::new();
    for keep in entries {
        // Pieces shared between formats are written once, by where they are in memory.
        let mut distinct: Vec<&Bytes> = Vec::new();
        let mut formats: [Option<Vec<u32>>; 3] = [None, None, None];
        for (slot, bytes) in keep.bytes.iter().enumerate() {
            let Some(bytes) = bytes else { continue };
            let indexes = bytes
                .pieces()
                .iter()
                .map(|piece| {
                    let same = |held: &&Bytes| held.as_ptr() == piece.as_ptr() && held.len() == piece.len();
                    let at = distinct.iter().position(same).unwrap_or_else(|| {
                        distinct.push(piece);
                        distinct.len() - 1
                    });
                    u32::try_from(at).expect("an entry has few pieces")
                })
                .collect();
            formats[slot] = Some(indexes);
        }
        let Ok(lengths) = distinct.iter().map(|piece| u32::try_from(piece.len())).collect::<Result<Vec<u32>, _>>()
        else {
            continue;
        };
        stored.push(Stored {
            source: keep.post.source.clone(),
            hash: keep.hash,
            post: post_digest(&keep.post),
            liquid: keep.liquid.clone().map(|(time, lookups)| Liquid { time: stored_time(time), lookups }),
            pieces: lengths,
            formats,
            rss_uses: keep.rss_uses,
        });
        pieces.extend(distinct);
    }
    let count = stored.len();
    let index =
        postcard::to_allocvec(&Index { fingerprint, includes, entries: stored }).map_err(std::io::Error::other)?;
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    hasher.update(&index);
    pieces.iter().for_each(|piece| hasher.update(piece));
    let pieces_len: u64 = pieces.iter().map(|piece| piece.len() as u64).sum();

    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    // One write at a time in this process; other processes write temporary files of their own.
    static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = WRITING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    crate::site::post_index::remove_abandoned(path);
    let tmp = crate::site::post_index::temporary_path(path);
    let result = (|| {
        let mut file = std::io::BufWriter::with_capacity(1 << 20, fs::File::create(&tmp)?);
        file.write_all(MAGIC)?;
        file.write_all(&SCHEMA.to_le_bytes())?;
        for number in [index.len() as u64, pieces_len, hasher.digest()] {
            file.write_all(&number.to_le_bytes())?;
        }
        file.write_all(&index)?;
        for piece in &pieces {
            file.write_all(piece)?;
        }
        file.flush()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| count)
}

/// A digest of everything a post parsed into: an entry is reused only for the same post.
fn post_digest(post: &Post) -> u64 {
    postcard::to_allocvec(post).map_or(0, |bytes| xxhash_rust::xxh3::xxh3_64(&bytes))
}

/// What every entry depends on besides its post and the includes it read: the program (as for
/// the post index), the settings that reach entries, `_config.yml`, and `site.data` as the
/// renderer read it (`data_hash`).
pub(crate) fn fingerprint(config: &Config, data_hash: u64) -> u64 {
    let settings = format!(
        "{SCHEMA}\n{}\n{:?}\n{:?}\n{:?}\n{:?}\n{:?}\n{data_hash}",
        crate::site::post_index::program_identity(),
        config.site,
        config.feeds,
        config.source_dir,
        config.archive_dirs,
        config.jekyll.as_ref().map(|jekyll| &jekyll.raw),
    );
    xxhash_rust::xxh3::xxh3_64(settings.as_bytes())
}

/// The store of a site in the state folder, as a build uses it.
pub(crate) struct Store {
    file: PathBuf,
    /// What the entries made now depend on besides their posts and includes ([`fingerprint`]),
    /// set once the renderer has read `_data`.
    pub(crate) fingerprint: u64,
    /// The file's entries, read on a thread of their own until the first render takes them.
    reading: Option<std::thread::JoinHandle<Stash>>,
    /// How many entry texts had been made when the file was last written or read.
    made_at_write: u64,
    /// How many entries the file holds when every one of them was reused: then a run that would
    /// keep those same entries, and no entry it made, has nothing to write.
    all_reused: Option<usize>,
    /// The last write, when it runs on a thread: the next waits for it.
    writing: Option<std::thread::JoinHandle<()>>,
    /// The includes that the entries reused from the file read, and what each gave: they hold
    /// for those entries, whose Liquid did not run again.
    reused_includes: Vec<(String, u64)>,
}

impl Store {
    /// Starts reading the store of the site `config` describes, if it has a state folder.
    pub(crate) fn open(config: &Config) -> Option<Store> {
        let file = config.entry_store_file()?;
        let reading = {
            let file = file.clone();
            std::thread::spawn(move || Stash::read(&file))
        };
        Some(Store {
            fingerprint: 0,
            file,
            reading: Some(reading),
            made_at_write: 0,
            all_reused: None,
            writing: None,
            reused_includes: Vec::new(),
        })
    }

    /// The entries read, the first time it is asked; `None` after.
    pub(crate) fn take_stash(&mut self) -> Option<Stash> {
        let reading = self.reading.take()?;
        Some(reading.join().unwrap_or_else(|_| {
            tracing::warn!("reading the kept entries failed; every entry is made");
            Stash::default()
        }))
    }

    /// Records that the entries reused from the file read `includes` (see [`Stash::includes`]).
    pub(crate) fn reused(&mut self, includes: Vec<(String, u64)>) {
        self.reused_includes = includes;
    }

    /// Forgets what [`Store::reused`] recorded: every entry is made anew.
    pub(crate) fn forget_reused(&mut self) {
        self.reused_includes.clear();
        self.all_reused = None;
    }

    /// The includes the entries to keep may have read: those of the reused entries and those
    /// the renderer read (`read`), or `None` when one of them gave two things (it changed during
    /// the run, and the entries were made from both).
    pub(crate) fn includes(&self, read: Vec<(String, u64)>) -> Option<Vec<(String, u64)>> {
        let mut all: std::collections::BTreeMap<String, u64> = self.reused_includes.iter().cloned().collect();
        for (name, hash) in read {
            if *all.entry(name).or_insert(hash) != hash {
                return None;
            }
        }
        Some(all.into_iter().collect())
    }

    /// Records that the file holds what `made` texts left (`u64::MAX`: it needs writing anyway).
    pub(crate) fn written(&mut self, made: u64) {
        self.made_at_write = made;
    }

    /// Whether entry texts were made (`made` in all) since the file was last written or read.
    pub(crate) fn is_behind(&self, made: u64) -> bool {
        made != self.made_at_write
    }

    /// Records whether every entry the file held was reused, `held` of them.
    pub(crate) fn reused_all(&mut self, held: Option<usize>) {
        self.all_reused = held;
    }

    /// Whether the file already holds exactly `entries`: all of them reused from it, and as many
    /// as it held. (Texts made since, such as those a template reading `site.posts` keeps out of
    /// the file, are then no reason to write it again.)
    pub(crate) fn holds_exactly(&self, entries: &[Keep]) -> bool {
        self.all_reused == Some(entries.len()) && entries.iter().all(|entry| entry.reused)
    }

    /// Waits for the last write on a thread of its own.
    pub(crate) fn wait(&mut self) {
        if let Some(writing) = self.writing.take() {
            let _ = writing.join();
        }
    }

    /// Writes `entries`, which may have read `includes`, as what `made` texts left, here or on a
    /// thread of its own.
    pub(crate) fn write(&mut self, entries: Vec<Keep>, includes: Vec<(String, u64)>, made: u64, on_thread: bool) {
        self.made_at_write = made;
        // The file no longer holds only what was reused from it.
        self.all_reused = None;
        if let Some(writing) = self.writing.take() {
            let _ = writing.join();
        }
        let (file, fingerprint) = (self.file.clone(), self.fingerprint);
        let write = move || {
            let started = std::time::Instant::now();
            match write(&file, fingerprint, includes, &entries) {
                Ok(count) => {
                    tracing::debug!("kept entries: {count} written to {} in {:?}", file.display(), started.elapsed())
                }
                Err(e) => tracing::warn!(
                    "cannot write the kept entries {}: {e}; the next start makes every entry",
                    file.display()
                ),
            }
        };
        if on_thread {
            self.writing = Some(std::thread::spawn(move || {
                crate::threads::lower_priority();
                write();
            }));
        } else {
            write();
        }
    }
}

/// The store file for the site at `source_dir` in the state folder `state_dir`.
pub(crate) fn file_for(state_dir: &Path, source_dir: &Path) -> PathBuf {
    let site = xxhash_rust::xxh3::xxh3_64(source_dir.as_os_str().as_encoded_bytes());
    state_dir.join(format!("entries-{site:016x}.store"))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::build::Build;
    use crate::snapshot::{Snapshot, Storage};

    /// A site whose posts each depend on something else besides their own file.
    const POSTS: [(&str, &str); 6] = [
        ("2021-01-01-plain.md", "Only *Markdown*."),
        (
            "2021-01-02-include.md",
            "{% include note.html text=\"hi\" %} in {{ site.time | date: \"%Y-%m\" }}, {{ site.data.site.motto }}",
        ),
        ("2021-01-03-lookup.md", "[the target]({% post_url 2021-01-04-target %})"),
        (TARGET, "The target."),
        ("2021-01-05-problem.md", "before {% youtube abc %} after"),
        ("2021-01-06-beside.md", "{% include_relative snippet.txt %}"),
    ];

    const TARGET: &str = "2021-01-04-target.md";

    fn write(root: &Path, rel: &str, text: &str) {
        let path = root.join("site").join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn post(root: &Path, name: &str, body: &str) {
        write(root, &format!("_posts/{name}"), &format!("---\ntitle: {name}\n---\n{body}\n"));
    }

    fn site(root: &Path) {
        write(root, "_includes/note.html", "<em>{{ include.text }}</em>");
        write(root, "_data/site.yml", "motto: one\n");
        write(root, "_posts/snippet.txt", "snippet one");
        for (name, body) in POSTS {
            post(root, name, body);
        }
    }

    fn config(root: &Path, title: &str, state: bool) -> Config {
        let state =
            if state { format!("[state]\ndir = \"{}\"\n", root.join("state").display()) } else { String::new() };
        let text = format!(
            "[site]\nurl = \"https://example.org\"\ntitle = \"{title}\"\n[source]\ndir = \"{}\"\n[output]\ndir = \"{}\"\n{state}",
            root.join("site").display(),
            root.join("out").display()
        );
        Config::parse(&text, Path::new("/")).unwrap()
    }

    /// A start of the daemon: every feed rendered, with the state folder or without. Returns how
    /// many entry texts it made (the others were reused), and the snapshot.
    fn start(root: &Path, title: &str, state: bool) -> (u64, Snapshot) {
        let (build, snapshot) = running(Build::load(config(root, title, state)).unwrap());
        (build.texts.made(), snapshot)
    }

    /// The clock every render here is made at.
    fn now() -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2022, 1, 1, 0, 0, 0).unwrap()
    }

    /// `build` after its first render, with what that render kept written.
    fn running(mut build: Build) -> (Build, Snapshot) {
        let (snapshot, _) = build.render(now(), &Snapshot::default(), None, Storage::Heap);
        build.wait_for_kept_entries();
        (build, snapshot)
    }

    /// Starts with the state folder, asserts that it renders what a start without one renders,
    /// file for file and problem for problem, and returns how many entry texts it made.
    fn start_again(root: &Path, title: &str) -> u64 {
        let (made, kept) = start(root, title, true);
        let (_, fresh) = start(root, title, false);
        assert_eq!(kept.files.keys().collect::<Vec<_>>(), fresh.files.keys().collect::<Vec<_>>());
        for (path, file) in &fresh.files {
            assert!(kept.files[path].body == file.body, "{path} differs from a render without kept entries");
        }
        assert_eq!(kept.problems, fresh.problems);
        made
    }

    fn store_file(root: &Path) -> PathBuf {
        config(root, "T", true).entry_store_file().unwrap()
    }

    #[test]
    fn a_start_reuses_the_kept_entries_that_still_hold_and_renders_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        site(root);
        assert_eq!(start(root, "T", true).0, 6);
        // The post with a template problem and the one that read a file beside it are made again
        // every time; the others are reused.
        assert_eq!(start_again(root, "T"), 2);
        assert_eq!(start_again(root, "T"), 2);

        // Its file edited: that post's entry is made again.
        post(root, POSTS[0].0, "Edited *Markdown*.");
        assert_eq!(start_again(root, "T"), 3);
        assert_eq!(start_again(root, "T"), 2);

        // The post `post_url` found moves to another URL, then goes, then comes back: the entry
        // that looked it up is made again each time (while it finds nothing, a problem, always).
        write(root, &format!("_posts/{TARGET}"), "---\ntitle: Target\npermalink: /moved/\n---\nMoved.\n");
        assert_eq!(start_again(root, "T"), 4);
        assert_eq!(start_again(root, "T"), 2);
        fs::remove_file(root.join("site/_posts").join(TARGET)).unwrap();
        assert_eq!(start_again(root, "T"), 3);
        assert_eq!(start_again(root, "T"), 3);
        post(root, TARGET, "Back.");
        assert_eq!(start_again(root, "T"), 4);
        assert_eq!(start_again(root, "T"), 2);

        // A newer post moves `site.time`: the entries whose Liquid ran are made again.
        post(root, "2021-02-01-newest.md", "Newest.");
        assert_eq!(start_again(root, "T"), 5);
        assert_eq!(start_again(root, "T"), 2);

        // An include changed, `_data`, or a setting: every entry is made again.
        write(root, "_includes/note.html", "<strong>{{ include.text }}</strong>");
        assert_eq!(start_again(root, "T"), 7);
        assert_eq!(start_again(root, "T"), 2);
        write(root, "_data/site.yml", "motto: two\n");
        assert_eq!(start_again(root, "T"), 7);
        assert_eq!(start_again(root, "T"), 2);
        assert_eq!(start_again(root, "Another title"), 7);
        assert_eq!(start_again(root, "Another title"), 2);
    }

    #[test]
    fn once_a_template_reads_site_posts_no_entry_whose_liquid_ran_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        site(root);
        post(root, "2021-01-07-count.md", "{{ site.posts | size }} posts");
        assert_eq!(start(root, "T", true).0, 7);
        // Kept: the posts without Liquid only.
        assert_eq!(start_again(root, "T"), 5);
        // A post added changes `site.posts` (not `site.time`: it is older than the newest).
        post(root, "2020-12-31-older.md", "Older.");
        assert_eq!(start_again(root, "T"), 6);
    }

    #[test]
    fn a_damaged_or_foreign_store_is_left_aside_and_written_again() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        site(root);
        start(root, "T", true);
        let file = store_file(root);
        let whole = fs::read(&file).unwrap();
        let damaged: [(&str, Vec<u8>); 5] = [
            ("cut short", whole[..whole.len() - 10].to_vec()),
            ("a byte changed", {
                let mut bytes = whole.clone();
                let last = bytes.len() - 1;
                bytes[last] ^= 1;
                bytes
            }),
            ("another schema", [&MAGIC[..], &(SCHEMA + 1).to_le_bytes()[..], &whole[12..]].concat()),
            ("empty", Vec::new()),
            ("a length forged", {
                let mut bytes = whole.clone();
                bytes[12..20].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
                bytes
            }),
        ];
        for (what, bytes) in damaged {
            fs::write(&file, bytes).unwrap();
            assert_eq!(start_again(root, "T"), 6, "{what}");
            assert_eq!(start_again(root, "T"), 2, "{what}: not written again");
        }
    }

    #[test]
    fn what_the_daemon_made_after_its_first_render_is_kept_when_it_stops() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        site(root);
        let (mut build, first) = running(Build::load(config(root, "T", true)).unwrap());
        // An older post arrives while it runs (`site.time` stays), then it stops.
        post(root, "2020-12-01-late.md", "Late.");
        let changes = build.refresh(&[root.join("site/_posts/2020-12-01-late.md")]);
        build.render(now(), &first, Some(&changes.feeds), Storage::Heap);
        build.keep_entries(false);
        assert_eq!(start_again(root, "T"), 2, "the late post's entry was not kept");
    }

    #[test]
    fn an_include_changed_while_a_start_reads_it_is_checked_by_what_was_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        site(root);
        // The include says A when the load begins and B when the render reads it; the entries
        // are kept, and the include goes back to A before the next start.
        let build = Build::load(config(root, "T", true)).unwrap();
        write(root, "_includes/note.html", "<b>B {{ include.text }}</b>");
        running(build);
        write(root, "_includes/note.html", "<em>{{ include.text }}</em>");
        // Every entry is made again, as for any change of an include read.
        assert_eq!(start_again(root, "T"), 6);
        assert_eq!(start_again(root, "T"), 2);
    }

    #[test]
    fn entries_made_again_for_a_changed_include_are_kept_when_the_daemon_stops() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        site(root);
        let (mut build, first) = running(Build::load(config(root, "T", true)).unwrap());
        // What `serve` does when `_includes` changes: every entry made again.
        write(root, "_includes/note.html", "<strong>{{ include.text }}</strong>");
        build.reload_templates();
        build.render(now(), &first, None, Storage::Heap);
        build.keep_entries(false);
        assert_eq!(start_again(root, "T"), 2, "the entries made after the change were not kept");
    }

    #[test]
    fn regen_keeps_and_reuses_entries_and_writes_the_same_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        site(root);
        let regen = |state: bool, out: &str| {
            let mut config = config(root, "T", state);
            config.output_dir = root.join(out);
            let mut build = Build::load(config).unwrap();
            build.render_to_folder(now()).unwrap();
            build.texts.made()
        };
        let files = |out: &str| -> Vec<(PathBuf, Vec<u8>)> {
            let mut files: Vec<_> = walkdir::WalkDir::new(root.join(out))
                .sort_by_file_name()
                .into_iter()
                .flatten()
                .filter(|e| e.file_type().is_file())
                .map(|e| (e.path().strip_prefix(root.join(out)).unwrap().to_path_buf(), fs::read(e.path()).unwrap()))
                .collect();
            files.sort();
            files
        };
        assert_eq!(regen(true, "kept"), 6);
        regen(false, "fresh");
        assert_eq!(files("kept"), files("fresh"));
        fs::remove_dir_all(root.join("kept")).unwrap();
        assert_eq!(regen(true, "kept"), 2);
        assert_eq!(files("kept"), files("fresh"));
        assert!(files("fresh").iter().any(|(path, _)| path.ends_with("feed.xml")));
    }

    #[test]
    fn the_file_is_written_again_only_when_it_would_change() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for day in 1..=3 {
            post(root, &format!("2021-01-0{day}-p{day}.md"), "Plain.");
        }
        assert_eq!(start(root, "T", true).0, 3);
        let written = fs::metadata(store_file(root)).unwrap();
        assert_eq!(start_again(root, "T"), 0);
        assert_eq!(fs::metadata(store_file(root)).unwrap().ino(), written.ino(), "written again as it was");
        // A post deleted: its entry leaves the file, though no entry is made.
        fs::remove_file(root.join("site/_posts/2021-01-01-p1.md")).unwrap();
        assert_eq!(start_again(root, "T"), 0);
        assert!(fs::metadata(store_file(root)).unwrap().len() < written.len());

        // An entry that can never be kept (a template problem) is made at every start, and is no
        // reason to write the file again; an entry that can be is.
        post(root, "2021-01-05-plugin.md", "Before {% youtube abc %} after.");
        assert_eq!(start_again(root, "T"), 1);
        let written = fs::metadata(store_file(root)).unwrap();
        assert_eq!(start_again(root, "T"), 1);
        assert_eq!(fs::metadata(store_file(root)).unwrap().ino(), written.ino(), "written again for nothing");
        post(root, "2021-01-06-p6.md", "Plain.");
        assert_eq!(start_again(root, "T"), 2);
        assert_ne!(fs::metadata(store_file(root)).unwrap().ino(), written.ino(), "a new entry not kept");
    }

    #[test]
    fn a_site_whose_templates_read_site_posts_writes_the_file_only_when_it_would_change() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        post(root, "2021-01-01-p1.md", "Plain.");
        post(root, "2021-01-02-p2.md", "Plain.");
        // Its Liquid reads `site.posts`, so no Liquid entry is kept: it is made at every start.
        post(root, "2021-01-03-count.md", "One of {{ site.posts | size }} posts.");
        assert_eq!(start(root, "T", true).0, 3);
        let written = fs::metadata(store_file(root)).unwrap();
        for _ in 0..2 {
            assert_eq!(start_again(root, "T"), 1);
            assert_eq!(fs::metadata(store_file(root)).unwrap().ino(), written.ino(), "written again for nothing");
        }
        post(root, "2021-01-04-p4.md", "Plain.");
        assert_eq!(start_again(root, "T"), 2);
        assert_ne!(fs::metadata(store_file(root)).unwrap().ino(), written.ino(), "a new entry not kept");

        // A daemon that reused every entry, then saw one of them edited, keeps the new one.
        let written = fs::metadata(store_file(root)).unwrap();
        let (mut build, snapshot) = running(Build::load(config(root, "T", true)).unwrap());
        post(root, "2021-01-01-p1.md", "Edited.");
        let changes = build.refresh(&[root.join("site/_posts/2021-01-01-p1.md")]);
        build.render(now(), &snapshot, Some(&changes.feeds), Storage::Heap);
        build.keep_entries(false);
        assert_ne!(fs::metadata(store_file(root)).unwrap().ino(), written.ino(), "an edited entry not kept");
    }

    /// A change between two starts, for the proptest below.
    #[derive(Debug, Clone)]
    enum Change {
        /// The post in `slot` written (created or edited): its day and which body it has.
        Post {
            slot: u8,
            day: u8,
            body: u8,
        },
        Delete {
            slot: u8,
        },
        /// The include every Liquid post uses, or the file one reads beside it, rewritten.
        Include {
            text: u8,
        },
        Beside {
            text: u8,
        },
    }

    fn change() -> impl proptest::strategy::Strategy<Value = Change> {
        use proptest::prelude::*;
        prop_oneof![
            5 => (0..6u8, 1..28u8, any::<u8>()).prop_map(|(slot, day, body)| Change::Post { slot, day, body }),
            2 => (0..6u8).prop_map(|slot| Change::Delete { slot }),
            1 => any::<u8>().prop_map(|text| Change::Include { text }),
            1 => any::<u8>().prop_map(|text| Change::Beside { text }),
        ]
    }

    fn name(slot: u8) -> String {
        format!("2021-03-{:02}-slot{slot}.md", slot + 1)
    }

    fn apply(root: &Path, change: &Change) {
        match *change {
            Change::Post { slot, day, body } => {
                let other = name(body % 6);
                let other = other.trim_end_matches(".md");
                let text = match body % 7 {
                    0 => format!("Plain {body}."),
                    1 => format!("{{% include note.html text=\"{body}\" %}}"),
                    2 => format!("[other]({{% post_url {other} %}})"),
                    3 => format!("[other]({{% link _posts/{other}.md %}})"),
                    4 => format!("{{{{ site.time | date: \"%F\" }}}} {body}"),
                    5 => format!("{{% include_relative snippet.txt %}} {body}"),
                    _ => format!("{{% nosuchtag %}} {body}"),
                };
                // The date in the front matter moves the post in time (and `site.time` with it)
                // while its file keeps its name.
                let path = format!("_posts/{}", name(slot));
                write(root, &path, &format!("---\ntitle: S{slot}\ndate: 2021-03-{day:02}\n---\n{text}\n"));
            }
            Change::Delete { slot } => {
                let _ = fs::remove_file(root.join("site/_posts").join(name(slot)));
            }
            Change::Include { text } => {
                write(root, "_includes/note.html", &format!("<em>{text}{{{{ include.text }}}}</em>"))
            }
            Change::Beside { text } => write(root, "_posts/snippet.txt", &format!("snippet {text}")),
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 32, ..Default::default() })]

        /// After any changes between starts, a start with the entries kept by the last one renders
        /// what a start without them renders (`start_again` compares them file for file).
        #[test]
        fn starts_with_kept_entries_render_what_fresh_starts_render(
            batches in proptest::collection::vec(proptest::collection::vec(change(), 1..4), 1..6)
        ) {
            let dir = tempfile::tempdir().unwrap();
            let root = dir.path();
            write(root, "_includes/note.html", "<em>{{ include.text }}</em>");
            write(root, "_posts/snippet.txt", "snippet");
            for slot in 0..3 {
                apply(root, &Change::Post { slot, day: slot + 1, body: slot });
            }
            start(root, "T", true);
            for batch in &batches {
                for change in batch {
                    apply(root, change);
                }
                start_again(root, "T");
            }
        }
    }
}
