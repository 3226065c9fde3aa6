//! The persisted index of parsed posts: what each post file parsed into, keyed by its path and
//! stamp (size, mtime, inode, ctime), kept in the state folder so that a start-up reads and
//! parses only the files that changed since the index was written. The files always win: an
//! entry is used only while the file's stamp is the one recorded, and never for a file changed
//! in the seconds before the index's scan began, whose stamp could hide a second write.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::post::Post;
use crate::scan::Stamp;

/// Bumped whenever what is stored changes shape.
const SCHEMA: u32 = 2;

/// The first bytes of an index file, before its schema number.
const MAGIC: &[u8; 8] = b"pfindex\0";

/// How long before the scan a file must have last changed for its entry to be trusted: mtime and
/// ctime are only as fine as the kernel's clock tick, so two writes within one tick can leave
/// the same stamp.
const SETTLE: Duration = Duration::from_secs(2);

/// One post file as it was read; the post's `source` is its key.
#[derive(Debug, Deserialize)]
struct Entry {
    stamp: Stamp,
    /// The bytes' content hash.
    hash: u64,
    post: Post,
}

/// An index file after its magic bytes and schema number, as read.
#[derive(Debug, Deserialize)]
struct Stored {
    /// What the posts were parsed with (see [`fingerprint`]).
    fingerprint: u64,
    /// Files whose ctime is not before this are never taken from the index.
    trusted_before: SystemTime,
    /// In the order of their sources, as written.
    entries: Vec<Entry>,
}

/// The same, as written: the posts are borrowed from the site.
#[derive(Serialize)]
struct StoredRef<'a> {
    fingerprint: u64,
    trusted_before: SystemTime,
    entries: Vec<EntryRef<'a>>,
}

#[derive(Serialize)]
struct EntryRef<'a> {
    stamp: Stamp,
    hash: u64,
    post: &'a Post,
}

/// The posts of an index file that may be used for this configuration, taken in the order of
/// their sources: a start-up matches its files against them in one pass, with no map to build.
#[derive(Debug)]
pub(crate) struct PostIndex {
    trusted_before: Option<SystemTime>,
    /// The posts not passed yet, in source order.
    entries: std::iter::Peekable<std::vec::IntoIter<Entry>>,
    /// How many it held when read.
    read: usize,
}

impl Default for PostIndex {
    fn default() -> PostIndex {
        PostIndex { trusted_before: None, entries: Vec::new().into_iter().peekable(), read: 0 }
    }
}

impl PostIndex {
    /// The index at `path`, if it was written for the same configuration and program. A missing,
    /// unreadable or foreign file is an empty index, logged (but for a missing one).
    pub(crate) fn load(path: &Path, config: &Config) -> PostIndex {
        let bytes = match fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return PostIndex::default(),
            Err(e) => {
                tracing::warn!("cannot read the post index {}: {e}; every post is read", path.display());
                return PostIndex::default();
            }
        };
        let Some(body) = bytes.strip_prefix(MAGIC.as_slice()).and_then(|rest| rest.strip_prefix(&SCHEMA.to_le_bytes()))
        else {
            tracing::info!("{} is not a post index of this version; every post is read", path.display());
            return PostIndex::default();
        };
        match postcard::from_bytes::<Stored>(body) {
            // Written in source order (were it not, posts would only be missed, and read).
            Ok(stored) if stored.fingerprint == fingerprint(config) => PostIndex {
                trusted_before: Some(stored.trusted_before),
                read: stored.entries.len(),
                entries: stored.entries.into_iter().peekable(),
            },
            Ok(_) => {
                tracing::info!("the post index was written with another configuration or program; every post is read");
                PostIndex::default()
            }
            Err(e) => {
                tracing::warn!("the post index {} is damaged ({e}); every post is read", path.display());
                PostIndex::default()
            }
        }
    }

    /// Whether the index at `path` may hold posts for this configuration and program, from its
    /// first bytes only: when not, a load reads every file without waiting for the index.
    pub(crate) fn may_serve(path: &Path, config: &Config) -> bool {
        use std::io::Read;
        let mut head = Vec::with_capacity(MAGIC.len() + 4 + 10);
        let read = fs::File::open(path).and_then(|file| file.take(head.capacity() as u64).read_to_end(&mut head));
        let Some(body) = read
            .ok()
            .and_then(|_| head.strip_prefix(MAGIC.as_slice()))
            .and_then(|rest| rest.strip_prefix(&SCHEMA.to_le_bytes()))
        else {
            return false;
        };
        // `Stored` begins with the fingerprint.
        postcard::take_from_bytes::<u64>(body).is_ok_and(|(stored, _)| stored == fingerprint(config))
    }

    /// Takes out the post the file at `source` parsed into, and its content hash, if the index
    /// holds it for a file with this very `stamp`, settled before the index's scan. Sources must
    /// be asked for in ascending order: the posts before `source` are passed for good.
    pub(crate) fn take(&mut self, source: &str, stamp: &Stamp) -> Option<(Post, u64)> {
        let trusted_before = self.trusted_before?;
        while self.entries.next_if(|entry| entry.post.source.as_str() < source).is_some() {}
        let entry = self.entries.next_if(|entry| entry.post.source == source)?;
        if entry.stamp != *stamp || changed_at(stamp)? >= trusted_before {
            return None;
        }
        Some((entry.post, entry.hash))
    }

    /// How many posts it held when read.
    pub(crate) fn len(&self) -> usize {
        self.read
    }
}

/// One post to record: the stamp and content hash of the file it was read from, and what it
/// parsed into (which names its source).
pub(crate) type Record = (Stamp, u64, Arc<Post>);

/// Writes the index of `records`, read by a scan that began at `scan_started`, to `path`:
/// atomically (a temporary file renamed over it), creating its folder if needed. Posts whose file
/// changed too shortly before the scan to ever be trusted are left out.
pub(crate) fn write(
    path: &Path,
    config: &Config,
    scan_started: SystemTime,
    records: &[Record],
) -> std::io::Result<usize> {
    let trusted_before = scan_started.checked_sub(SETTLE).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut entries: Vec<EntryRef> = records
        .iter()
        .filter(|(stamp, _, _)| changed_at(stamp).is_some_and(|changed| changed < trusted_before))
        .map(|(stamp, hash, post)| EntryRef { stamp: *stamp, hash: *hash, post })
        .collect();
    entries.sort_unstable_by(|a, b| a.post.source.cmp(&b.post.source));
    let stored = StoredRef { fingerprint: fingerprint(config), trusted_before, entries };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    // One write at a time in this process (a reload may start one while the last is under way);
    // other processes (a `regen` beside the daemon) write temporary files of their own.
    static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = WRITING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    remove_abandoned(path);
    let tmp = temporary_path(path);
    let result = (|| {
        let mut file = std::io::BufWriter::new(fs::File::create(&tmp)?);
        file.write_all(MAGIC)?;
        file.write_all(&SCHEMA.to_le_bytes())?;
        postcard::to_io(&stored, &mut file).map_err(std::io::Error::other)?;
        file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| stored.entries.len())
}

/// The file's ctime; `None` before the epoch.
fn changed_at(stamp: &Stamp) -> Option<SystemTime> {
    let (secs, nanos) = stamp.changed;
    SystemTime::UNIX_EPOCH.checked_add(Duration::new(u64::try_from(secs).ok()?, u32::try_from(nanos).ok()?))
}

/// `posts-….index.<pid>.tmp`: this process's temporary file for the file at `path`.
pub(crate) fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", std::process::id()));
    path.with_file_name(name)
}

/// Removes temporary files of the file at `path` that a process stopped while writing left
/// behind (untouched for an hour: no write takes that long).
pub(crate) fn remove_abandoned(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return;
    };
    let Ok(entries) = fs::read_dir(dir) else { return };
    let prefix = format!("{name}.");
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(file_name) = file_name.to_str() else { continue };
        let abandoned = file_name.starts_with(&prefix)
            && file_name.ends_with(".tmp")
            && entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified.elapsed().is_ok_and(|age| age > Duration::from_secs(3600)));
        if abandoned {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// What a post's parse depends on besides its file: the settings `post::parse` and the site's
/// reading of files use, and the program itself (its version, size and mtime, so that a rebuilt
/// binary never trusts what an older one parsed).
fn fingerprint(config: &Config) -> u64 {
    let text = format!(
        "{SCHEMA}\n{}\n{:?}\n{:?}\n{:?}\n{}",
        program_identity(),
        config.site,
        config.source_dir,
        config.archive_dirs,
        config.feeds.max_post_bytes
    );
    xxhash_rust::xxh3::xxh3_64(text.as_bytes())
}

/// The program's version, and its file's size and mtime: what it stores is read back only by the
/// very same build.
pub(crate) fn program_identity() -> String {
    let program = std::env::current_exe()
        .and_then(fs::metadata)
        .map(|meta| format!("{:?}", Stamp::from_metadata(&meta)))
        .unwrap_or_default();
    format!("{} {program}", env!("CARGO_PKG_VERSION"))
}

/// The index file for the site at `source_dir` in the state folder `state_dir`: one per site, so
/// that several sites can share a folder.
pub(crate) fn file_for(state_dir: &Path, source_dir: &Path) -> PathBuf {
    let site = xxhash_rust::xxh3::xxh3_64(source_dir.as_os_str().as_encoded_bytes());
    state_dir.join(format!("posts-{site:016x}.index"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::Site;
    use super::*;

    fn config(root: &Path, permalink: &str) -> Config {
        let text = format!(
            "[site]\nurl = \"https://example.org\"\npermalink = \"{permalink}\"\n[source]\ndir = \"site\"\n[output]\ndir = \"out\"\n[state]\ndir = \"state\"\n"
        );
        Config::parse(&text, root).unwrap()
    }

    fn write_post(root: &Path, day: u32, title: &str) -> PathBuf {
        let path = root.join(format!("site/_posts/2021-01-{day:02}-p{day}.md"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, format!("---\ntitle: {title}\ntags: [t{day}]\n---\nBody {day}.\n")).unwrap();
        path
    }

    fn load(config: &Config) -> Site {
        let mut site = Site::load(config).unwrap();
        site.wait_for_index();
        site
    }

    /// The site's posts as the index would record them.
    fn records(site: &Site) -> Vec<Record> {
        site.posts.values().map(|l| (l.stamp.unwrap(), l.hash, Arc::clone(&l.post))).collect()
    }

    /// Writes the index of `site` as if its scan had begun at `scan_started`.
    fn rewrite_index(config: &Config, site: &Site, scan_started: SystemTime) {
        write(&config.post_index_file().unwrap(), config, scan_started, &records(site)).unwrap();
    }

    /// The posts and hashes of `site`, to compare loads.
    fn contents(site: &Site) -> Vec<(String, Post, u64)> {
        site.posts.iter().map(|(s, l)| (s.clone(), Post::clone(&l.post), l.hash)).collect()
    }

    #[test]
    fn a_start_takes_settled_unchanged_posts_from_the_index_and_reads_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), "date");
        write_post(dir.path(), 1, "One");
        let p2 = write_post(dir.path(), 2, "Two");
        write_post(dir.path(), 3, "Three");

        // First start: nothing to take; the index is written, without the files changed in the
        // seconds before the scan (all of them here).
        let first = load(&config);
        assert_eq!((first.from_index, first.posts.len()), (0, 3));
        let file = config.post_index_file().unwrap();
        assert!(file.starts_with(dir.path().join("state")), "{}", file.display());
        assert_eq!(PostIndex::load(&file, &config).len(), 0);

        // Settled files: every post comes from the index, as it was parsed.
        rewrite_index(&config, &first, SystemTime::now() + Duration::from_secs(10));
        let second = load(&config);
        assert_eq!(second.from_index, 3);
        assert_eq!(contents(&second), contents(&first));

        // An edit changes the stamp: that post is read again, the others are still taken. (The
        // index is written again here as if the files had settled.)
        rewrite_index(&config, &second, SystemTime::now() + Duration::from_secs(10));
        fs::write(&p2, "---\ntitle: Two, edited\ntags: [t2]\n---\nBody 2.\n").unwrap();
        let third = load(&config);
        assert_eq!(third.from_index, 2);
        assert_eq!(third.posts["_posts/2021-01-02-p2.md"].post.title, "Two, edited");

        // The same size and the old mtime put back (as `touch -d` or a careless tool does): the
        // ctime still tells the edit.
        rewrite_index(&config, &third, SystemTime::now() + Duration::from_secs(10));
        let p1 = dir.path().join("site/_posts/2021-01-01-p1.md");
        let mtime = fs::metadata(&p1).unwrap().modified().unwrap();
        let before = fs::read(&p1).unwrap();
        fs::write(&p1, String::from_utf8(before.clone()).unwrap().replace("One", "Uno")).unwrap();
        fs::File::options().write(true).open(&p1).unwrap().set_modified(mtime).unwrap();
        let same = fs::metadata(&p1).unwrap();
        assert_eq!((same.len(), same.modified().unwrap()), (before.len() as u64, mtime));
        let again = load(&config);
        assert_eq!(again.from_index, 2);
        assert_eq!(again.posts["_posts/2021-01-01-p1.md"].post.title, "Uno");

        // An entry for a file that changed within the settle time before the scan is not used:
        // its stamp could be that of an earlier write in the same clock tick.
        rewrite_index(&config, &again, SystemTime::now());
        assert_eq!(load(&config).from_index, 0);

        // A deleted post is not brought back by the index.
        rewrite_index(&config, &again, SystemTime::now() + Duration::from_secs(10));
        fs::remove_file(&p2).unwrap();
        let fourth = load(&config);
        assert_eq!((fourth.from_index, fourth.posts.len()), (2, 2));
    }

    #[test]
    fn a_start_that_took_every_post_from_the_index_leaves_the_index_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let config = config(dir.path(), "date");
        write_post(dir.path(), 1, "One");
        let p2 = write_post(dir.path(), 2, "Two");
        let first = load(&config);
        rewrite_index(&config, &first, SystemTime::now() + Duration::from_secs(10));
        let file = config.post_index_file().unwrap();
        let written = fs::read(&file).unwrap();

        // Nothing changed: nothing to write (it cost a core for half a second at 100,000 posts).
        let second = load(&config);
        assert_eq!(second.from_index, 2);
        assert!(fs::read(&file).unwrap() == written, "the index was written again");

        // A post deleted: the index has one too many, and is written again.
        fs::remove_file(&p2).unwrap();
        let third = load(&config);
        assert_eq!((third.from_index, third.posts.len()), (1, 1));
        assert!(fs::read(&file).unwrap() != written, "the index still lists a deleted post");

        // No post left and a damaged index: taking nothing from nothing is no reason to keep it.
        fs::remove_file(dir.path().join("site/_posts/2021-01-01-p1.md")).unwrap();
        fs::write(&file, b"damaged").unwrap();
        let fourth = load(&config);
        assert_eq!(fourth.posts.len(), 0);
        assert!(fs::read(&file).unwrap() != b"damaged", "a damaged index is kept");
    }

    #[test]
    fn an_index_of_another_configuration_a_damaged_one_or_none_is_not_used() {
        let dir = tempfile::tempdir().unwrap();
        let date = config(dir.path(), "date");
        write_post(dir.path(), 1, "One");
        let site = load(&date);
        rewrite_index(&date, &site, SystemTime::now() + Duration::from_secs(10));
        let file = date.post_index_file().unwrap();
        assert_eq!(PostIndex::load(&file, &date).len(), 1);

        // Posts parse differently under another permalink: the index is not theirs.
        let other = config(dir.path(), "pretty");
        assert_eq!(PostIndex::load(&file, &other).len(), 0);
        assert_eq!(load(&other).posts["_posts/2021-01-01-p1.md"].post.url, "https://example.org/2021/01/01/p1/");

        // Cut short, or not an index at all: ignored, never a panic.
        rewrite_index(&date, &site, SystemTime::now() + Duration::from_secs(10));
        let bytes = fs::read(&file).unwrap();
        for damaged in [&bytes[..bytes.len() / 2], &bytes[..5], b"not an index".as_slice(), &[]] {
            fs::write(&file, damaged).unwrap();
            assert_eq!(PostIndex::load(&file, &date).len(), 0);
            assert_eq!(load(&date).posts.len(), 1);
        }

        // A temporary file a stopped process left an hour ago goes at the next write; a fresh
        // one (another process writing now) stays.
        let stale = file.with_file_name(format!("{}.1.tmp", file.file_name().unwrap().to_str().unwrap()));
        let fresh = file.with_file_name(format!("{}.2.tmp", file.file_name().unwrap().to_str().unwrap()));
        for tmp in [&stale, &fresh] {
            fs::write(tmp, b"partial").unwrap();
        }
        let hour_ago = SystemTime::now() - Duration::from_secs(3700);
        fs::File::options().write(true).open(&stale).unwrap().set_modified(hour_ago).unwrap();
        rewrite_index(&date, &site, SystemTime::now() + Duration::from_secs(10));
        assert!(!stale.exists() && fresh.exists());
        assert_eq!(PostIndex::load(&file, &date).len(), 1);

        // `state.index = false`, or no state folder: no index file at all.
        let off = Config::parse(
            "[site]\nurl = \"https://example.org\"\n[source]\ndir = \"site\"\n[state]\ndir = \"state\"\nindex = false\n",
            dir.path(),
        )
        .unwrap();
        assert_eq!(off.post_index_file(), None);
        let none =
            Config::parse("[site]\nurl = \"https://example.org\"\n[source]\ndir = \"site\"\n", dir.path()).unwrap();
        assert_eq!(none.state_dir.is_some(), std::env::var_os("STATE_DIRECTORY").is_some_and(|v| !v.is_empty()));
    }

    #[test]
    fn an_index_is_waited_for_only_when_its_first_bytes_say_it_may_serve() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write_post(root, 1, "One");
        let (same, other) = (config(root, "/:title.html"), config(root, "/:year/:title.html"));
        load(&same);
        let file = same.post_index_file().unwrap();
        assert!(PostIndex::may_serve(&file, &same));
        assert!(!PostIndex::may_serve(&file, &other));
        let mut bytes = fs::read(&file).unwrap();
        bytes[0] ^= 1;
        fs::write(&file, &bytes).unwrap();
        assert!(!PostIndex::may_serve(&file, &same));
        assert!(!PostIndex::may_serve(&root.join("none"), &same));
    }
}
