//! The output folder, and the only code that writes it, for `regen` and `serve` alike: a feed is
//! written to a temporary file beside it and renamed into place unless the folder already holds
//! its bytes (its mtime is then kept), feeds that no longer exist and temporary files left by a
//! crash are removed, and nothing else in the folder is touched but the side files (the feed
//! state and the lists of retired feeds), written the same way. [`OutputWriter`] is the daemon's
//! thread that keeps the folder in step with the snapshots it serves, so the update loop never
//! waits on the disk: work that piles up is merged, and only the newest snapshot is written, for
//! every path changed since the last write.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use rayon::prelude::*;
use tracing::{debug, error};

use bytes::Bytes;

use crate::body::Body;
use crate::feed::{FeedKey, FeedPaths, Format};
use crate::snapshot::Snapshot;

/// What writing the output folder did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    pub(crate) written: usize,
    pub(crate) unchanged: usize,
    pub(crate) removed: usize,
}

/// The output folder.
#[derive(Debug, Clone)]
pub struct OutputFolder {
    dir: PathBuf,
    /// The layouts of feed paths whose feeds here are postfeed's (see [`owned_files`]).
    places: Vec<FeedPaths>,
}

impl OutputFolder {
    /// The folder at `dir`, owning the feeds at the default paths.
    pub fn new(dir: impl Into<PathBuf>) -> OutputFolder {
        OutputFolder { dir: dir.into(), places: vec![FeedPaths::default()] }
    }

    /// The folder owning the feeds at each of `places` too (`feed.path`, `feed.tags.path`, now
    /// and before), so that stale ones there are removed.
    pub(crate) fn owning(mut self, places: Vec<FeedPaths>) -> OutputFolder {
        for place in places {
            if !self.places.contains(&place) {
                self.places.push(place);
            }
        }
        self
    }

    /// Makes the folder hold exactly `files` (output-relative path and bytes), written as they
    /// come, on all cores: changed files are replaced atomically, equal ones left alone, and the
    /// feeds not among `files` removed. Files at `known_same` are taken as on disk already (see
    /// [`OutputFolder::adopt`]). `regen` passes each feed's files as soon as they are rendered,
    /// so no feed's bytes outlive its write; the daemon passes its snapshot's.
    pub(crate) fn sync(
        &self,
        files: impl ParallelIterator<Item = (String, Body)>,
        known_same: &BTreeSet<String>,
    ) -> Result<WriteStats> {
        let dir = &self.dir;
        fs::create_dir_all(dir).with_context(|| format!("cannot create output folder {}", dir.display()))?;
        // On all cores: at thousands of feeds, reading each old file to compare is most of the time.
        let done: Vec<(String, bool)> = files
            .map(|(rel, bytes)| {
                let written = !known_same.contains(&rel) && write_if_changed(dir, &rel, &bytes)?;
                Ok((rel, written))
            })
            .collect::<Result<_>>()?;
        let mut stats = WriteStats::default();
        let mut keep = BTreeSet::new();
        for (rel, written) in done {
            // The counts are of feeds: the browser view's stylesheet is written, not counted.
            if rel != crate::feed::stylesheet::PATH {
                if written {
                    stats.written += 1;
                } else {
                    stats.unchanged += 1;
                }
            }
            keep.insert(rel);
        }
        stats.removed = remove_stale(dir, &self.places, &keep)?;
        Ok(stats)
    }

    /// [`OutputFolder::sync`] with a snapshot's files, then its side files.
    pub fn write_snapshot(&self, snapshot: &Snapshot, known_same: &BTreeSet<String>) -> Result<WriteStats> {
        let stats =
            self.sync(snapshot.files.par_iter().map(|(rel, file)| (rel.clone(), file.body.clone())), known_same)?;
        self.write_side(snapshot.side.iter().map(|(rel, bytes)| (rel.as_str(), &bytes[..])))?;
        Ok(stats)
    }

    /// Writes the side files (top-level, not feeds) that differ from what the folder holds.
    pub(crate) fn write_side<'a>(&self, files: impl Iterator<Item = (&'a str, &'a [u8])>) -> Result<WriteStats> {
        fs::create_dir_all(&self.dir).with_context(|| format!("cannot create output folder {}", self.dir.display()))?;
        let mut stats = WriteStats::default();
        for (rel, bytes) in files {
            if write_if_changed(&self.dir, rel, &Body::from(Bytes::copy_from_slice(bytes)))? {
                stats.written += 1;
            } else {
                stats.unchanged += 1;
            }
        }
        Ok(stats)
    }

    /// Brings the folder up to date after an update that changed only the `changed` paths: those
    /// the snapshot holds are written, the others removed.
    pub fn update(&self, snapshot: &Snapshot, changed: &[String]) -> Result<WriteStats> {
        /// What happened to one path.
        enum Done {
            Written,
            Removed,
            Absent,
        }
        // One file after another, on the writer's own low-priority thread: written on all cores,
        // the files of one update took both cores from the next (a batch of 500 new posts is
        // several updates, and changes hundreds of feeds).
        let done: Vec<Done> = changed
            .iter()
            .map(|rel| {
                let path = self.dir.join(rel);
                let bytes = snapshot
                    .files
                    .get(rel)
                    .map(|f| f.body.clone())
                    .or_else(|| snapshot.side.get(rel).cloned().map(Body::from));
                match bytes {
                    Some(bytes) => {
                        write_atomically(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
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

    /// Finds the snapshot's files that the folder already holds byte for byte, and takes their
    /// `modified` from the file's mtime (kept across runs, as unchanged files are never
    /// rewritten), so `Last-Modified` survives a restart. Returns their paths, for `known_same`.
    pub(crate) fn adopt(&self, snapshot: &mut Snapshot) -> BTreeSet<String> {
        let same: Vec<(String, SystemTime)> = snapshot
            .files
            .par_iter()
            .filter_map(|(rel, file)| {
                let path = self.dir.join(rel);
                let equal = fs::read(&path).is_ok_and(|old| file.body.eq_slice(&old));
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
}

/// Writes `bytes` to `dir/rel` atomically unless the file already holds them (its mtime is then
/// kept). Returns whether it wrote.
fn write_if_changed(dir: &Path, rel: &str, bytes: &Body) -> Result<bool> {
    let path = dir.join(rel);
    if fs::read(&path).is_ok_and(|old| bytes.eq_slice(&old)) {
        return Ok(false);
    }
    write_atomically(&path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(true)
}

/// Removes the feeds in `dir` that are not in `keep`, and temporary files left by a crash.
/// Returns how many feeds it removed.
fn remove_stale(dir: &Path, places: &[FeedPaths], keep: &BTreeSet<String>) -> Result<usize> {
    let mut removed = 0;
    for rel in owned_files(dir, places) {
        let is_temp = rel.rsplit('/').next().is_some_and(|n| n.starts_with(".postfeed-"));
        if is_temp || !keep.contains(&rel) {
            let path = dir.join(&rel);
            fs::remove_file(&path).with_context(|| format!("cannot remove stale feed {}", path.display()))?;
            if !is_temp && rel != crate::feed::stylesheet::PATH {
                removed += 1;
            }
        }
    }
    Ok(removed)
}

fn write_atomically(path: &Path, bytes: &Body) -> std::io::Result<()> {
    let dir = path.parent().expect("feed paths have a folder");
    fs::create_dir_all(dir)?;
    let name = path.file_name().expect("feed paths have a name").to_string_lossy();
    let tmp = dir.join(format!(".postfeed-{}-{name}", std::process::id()));
    let result = (|| {
        // No fsync: a rename over the old file is atomic against crashes of this process, and
        // ext4 (auto_da_alloc) and XFS flush the data of a file renamed over another before the
        // rename; an fsync per feed would cost milliseconds per update.
        // Buffered, so a feed of many pieces is still one write.
        let mut file = std::io::BufWriter::with_capacity(bytes.len().clamp(1, 1 << 20), fs::File::create(&tmp)?);
        bytes.write_to(&mut file)?;
        file.flush()?;
        drop(file);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Files in the output folder that postfeed writes: for each layout in `places`, the site
/// feed's files (`feed.<ext>`, or `feed.path`'s file and its stem with each other format's
/// extension), and the files with a feed extension (`xml`, `rss`, `json`) in `feed/` and in the
/// tag feeds' folder (`feed/by_tag/`, or `feed.tags.path`); the browser view's `feed.xsl`; and
/// temporary files in any of those folders. Sorted, without duplicates.
fn owned_files(dir: &Path, places: &[FeedPaths]) -> Vec<String> {
    let is_feed = |name: &str| {
        name.starts_with(".postfeed-")
            || name.rsplit_once('.').is_some_and(|(_, ext)| Format::ALL.iter().any(|f| f.extension() == ext))
    };
    let mut out = BTreeSet::new();
    // Folders whose feed files (and temporary files) are all postfeed's, and folders where only
    // the temporary files are ("" is the output folder itself).
    let mut feed_dirs = BTreeSet::from(["feed".to_string()]);
    let mut temp_dirs = BTreeSet::from([String::new()]);
    for paths in places {
        let site = Format::ALL.iter().map(|&format| FeedKey::Site.path(paths, format));
        for top in site.chain([crate::feed::stylesheet::PATH.to_string()]) {
            if dir.join(&top).is_file() {
                out.insert(top);
            }
        }
        temp_dirs.insert(paths.site_atom.rsplit_once('/').map_or("", |(folder, _)| folder).to_string());
        feed_dirs.insert(paths.tags_folder_name().to_string());
    }
    for sub in &temp_dirs {
        if let Ok(entries) = fs::read_dir(dir.join(sub)) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if name.starts_with(".postfeed-") && e.file_type().is_ok_and(|t| t.is_file()) {
                    out.insert(join(sub, &name));
                }
            }
        }
    }
    for sub in &feed_dirs {
        if let Ok(entries) = fs::read_dir(dir.join(sub)) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if e.file_type().is_ok_and(|t| t.is_file()) && is_feed(&name) {
                    out.insert(join(sub, &name));
                }
            }
        }
    }
    out.into_iter().collect()
}

/// `folder/name`, or `name` in the output folder itself.
fn join(folder: &str, name: &str) -> String {
    if folder.is_empty() {
        name.to_string()
    } else {
        format!("{folder}/{name}")
    }
}

/// How often a folder that could not be written is tried again.
const RETRY: Duration = Duration::from_secs(1);

enum Job {
    /// These paths of this snapshot changed.
    Changed(Arc<Snapshot>, Vec<String>),
    /// The folder must hold exactly this snapshot (after a reload, or a failed write).
    Whole(Arc<Snapshot>),
}

/// The handle the update loop holds; dropping it (or [`OutputWriter::finish`]) lets the thread
/// write what is pending and end.
pub(crate) struct OutputWriter {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl OutputWriter {
    /// Starts the writer for `dir`. `behind` says the folder missed `snapshot` already (the first
    /// write failed): it is then retried until it works.
    pub(crate) fn start(
        dir: PathBuf,
        places: Vec<FeedPaths>,
        snapshot: Arc<Snapshot>,
        behind: bool,
    ) -> std::io::Result<OutputWriter> {
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("postfeed-output".into())
            .spawn(move || run(&OutputFolder::new(dir).owning(places), queue, snapshot, behind))?;
        Ok(OutputWriter { jobs: Some(jobs), thread: Some(thread) })
    }

    /// Writes `changed` paths of `snapshot`, or the whole folder when `changed` is `None`.
    pub(crate) fn write(&self, snapshot: Arc<Snapshot>, changed: Option<&[String]>) {
        let job = match changed {
            Some(paths) => Job::Changed(snapshot, paths.to_vec()),
            None => Job::Whole(snapshot),
        };
        if let Some(jobs) = &self.jobs {
            // Fails only if the thread is gone, which it never is while the handle lives.
            let _ = jobs.send(job);
        }
    }

    /// Waits until everything sent so far is written (or has failed and been logged).
    pub(crate) fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for OutputWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(folder: &OutputFolder, queue: Receiver<Job>, mut latest: Arc<Snapshot>, mut behind: bool) {
    // Feeds are served from memory; the folder follows without taking cores from the next update.
    crate::threads::lower_priority();
    // Paths to write from `latest`; `None` means the whole folder.
    let mut pending: Option<BTreeSet<String>> = if behind { None } else { Some(BTreeSet::new()) };
    let mut open = true;
    while open {
        let first =
            if behind { queue.recv_timeout(RETRY) } else { queue.recv().map_err(|_| RecvTimeoutError::Disconnected) };
        match first {
            Ok(job) => merge(job, &mut latest, &mut pending),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open = false,
        }
        // Everything else already queued: one write for all of it, of the newest snapshot.
        while let Ok(job) = queue.try_recv() {
            merge(job, &mut latest, &mut pending);
        }
        if pending.as_ref().is_some_and(BTreeSet::is_empty) {
            continue;
        }
        let result = match &pending {
            Some(paths) => {
                let paths: Vec<String> = paths.iter().cloned().collect();
                folder.update(&latest, &paths)
            }
            None => folder.write_snapshot(&latest, &BTreeSet::new()),
        };
        // Writing is the last step of an update: what it read and freed goes back now.
        crate::allocator::release_free_pages();
        match result {
            Ok(stats) => {
                if behind {
                    debug!("output folder {} in step: {stats:?}", folder.dir.display());
                }
                behind = false;
                pending = Some(BTreeSet::new());
            }
            Err(e) => {
                if !behind {
                    error!("{e:#}; still serving from memory, will retry");
                } else {
                    debug!("output folder still not writable: {e:#}");
                }
                behind = true;
                pending = None;
                if !open {
                    // Shutting down: one last try was made; the next start rewrites the folder.
                    break;
                }
            }
        }
    }
}

fn merge(job: Job, latest: &mut Arc<Snapshot>, pending: &mut Option<BTreeSet<String>>) {
    match job {
        Job::Changed(snapshot, paths) => {
            *latest = snapshot;
            if let Some(set) = pending {
                set.extend(paths);
            }
        }
        Job::Whole(snapshot) => {
            *latest = snapshot;
            *pending = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::snapshot::Rendered;

    fn snapshot_with(path: &str, text: &str) -> Arc<Snapshot> {
        let mut snapshot = Snapshot::default();
        snapshot.files.insert(path.into(), Arc::new(Rendered::new(text.as_bytes().to_vec(), "text/xml")));
        Arc::new(snapshot)
    }

    #[test]
    fn a_blocked_folder_is_retried_and_gets_the_newest_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        // A file where the `feed` folder must go: every write under it fails.
        std::fs::write(out.join("feed"), "in the way").unwrap();
        let writer = OutputWriter::start(out.clone(), Vec::new(), Arc::new(Snapshot::default()), false).unwrap();
        writer.write(snapshot_with("feed/x.xml", "one"), Some(&["feed/x.xml".to_string()]));
        std::thread::sleep(Duration::from_millis(200));
        writer.write(snapshot_with("feed/x.xml", "two"), Some(&["feed/x.xml".to_string()]));
        std::fs::remove_file(out.join("feed")).unwrap();
        let started = Instant::now();
        while std::fs::read_to_string(out.join("feed/x.xml")).ok().as_deref() != Some("two") {
            assert!(started.elapsed() < Duration::from_secs(10), "the folder was never written");
            std::thread::sleep(Duration::from_millis(20));
        }
        writer.finish();
    }

    #[test]
    fn finish_writes_what_is_pending() {
        let dir = tempfile::tempdir().unwrap();
        let writer =
            OutputWriter::start(dir.path().to_path_buf(), Vec::new(), Arc::new(Snapshot::default()), false).unwrap();
        for i in 0..50 {
            writer.write(snapshot_with("feed.xml", &format!("v{i}")), Some(&["feed.xml".to_string()]));
        }
        writer.finish();
        assert_eq!(std::fs::read_to_string(dir.path().join("feed.xml")).unwrap(), "v49");
    }

    fn put(dir: &Path, rel: &str, text: &str) {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    fn read(dir: &Path, rel: &str) -> Option<String> {
        fs::read_to_string(dir.join(rel)).ok()
    }

    fn mtime(dir: &Path, rel: &str) -> SystemTime {
        fs::metadata(dir.join(rel)).unwrap().modified().unwrap()
    }

    fn set_mtime(dir: &Path, rel: &str, time: SystemTime) {
        fs::File::options().write(true).open(dir.join(rel)).unwrap().set_modified(time).unwrap();
    }

    const LONG_AGO: SystemTime = SystemTime::UNIX_EPOCH;

    #[test]
    fn sync_writes_what_changed_keeps_what_did_not_and_removes_only_stale_feeds() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        put(out, "feed.xml", "old");
        put(out, "feed/x.rss", "same");
        set_mtime(out, "feed/x.rss", LONG_AGO);
        put(out, "feed/by_tag/gone.xml", "a feed that no longer exists");
        put(out, "feed/.postfeed-1-x.rss", "left by a crash");
        put(out, "notes.txt", "not ours");
        put(out, "feed/readme.md", "not a feed");
        put(out, "feed.json", "a JSON feed no longer configured");
        put(out, "feed/by_tag/gone.json", "a JSON feed that no longer exists");
        put(out, "data.json", "not ours");
        let files = [("feed.xml", "new"), ("feed/x.rss", "same"), ("feed/by_tag/t.xml", "t"), ("feed/t.json", "j")];
        let stats = OutputFolder::new(out)
            .sync(
                files.par_iter().map(|(rel, text)| (rel.to_string(), Body::from(text.as_bytes().to_vec()))),
                &BTreeSet::new(),
            )
            .unwrap();
        assert_eq!(stats, WriteStats { written: 3, unchanged: 1, removed: 3 });
        assert_eq!(read(out, "feed/t.json").as_deref(), Some("j"));
        assert_eq!(read(out, "feed.json"), None);
        assert_eq!(read(out, "feed/by_tag/gone.json"), None);
        assert_eq!(read(out, "data.json").as_deref(), Some("not ours"));
        assert_eq!(read(out, "feed.xml").as_deref(), Some("new"));
        assert_eq!(read(out, "feed/by_tag/t.xml").as_deref(), Some("t"));
        assert_eq!(mtime(out, "feed/x.rss"), LONG_AGO, "an equal file was rewritten");
        assert_eq!(read(out, "feed/by_tag/gone.xml"), None);
        assert_eq!(read(out, "feed/.postfeed-1-x.rss"), None);
        assert_eq!(read(out, "notes.txt").as_deref(), Some("not ours"));
        assert_eq!(read(out, "feed/readme.md").as_deref(), Some("not a feed"));
    }

    #[test]
    fn sync_removes_stale_feeds_at_custom_paths_and_nothing_else_there() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        let custom = FeedPaths::new(Some("blog/atom.atom"), Some("alt/tags/"));
        for rel in ["blog/atom.atom", "blog/atom.rss", "alt/tags/gone.xml", "alt/tags/gone.json", "feed.xml"] {
            put(out, rel, "stale");
        }
        put(out, "alt/tags/.postfeed-1-t.xml", "left by a crash");
        put(out, "blog/.postfeed-1-atom.atom", "left by a crash");
        let not_ours = ["blog/other.atom", "blog/other.xml", "blog/atom.txt", "alt/tags/readme.md", "alt/x.xml"];
        let not_ours = not_ours.into_iter().chain(["alt/tags/sub/x.xml", "atom.xml", "alt/tags.xml"]);
        for rel in not_ours.clone() {
            put(out, rel, "not ours");
        }
        let files = [("blog/atom.rss", "new"), ("alt/tags/t.xml", "t")];
        // Owning the default paths only, the custom places are left alone but for feed.xml.
        let sync = |folder: OutputFolder| {
            folder.sync(
                files.par_iter().map(|(rel, text)| (rel.to_string(), Body::from(text.as_bytes().to_vec()))),
                &BTreeSet::new(),
            )
        };
        assert_eq!(sync(OutputFolder::new(out)).unwrap().removed, 1);
        assert_eq!(read(out, "alt/tags/gone.xml").as_deref(), Some("stale"));
        let stats = sync(OutputFolder::new(out).owning(vec![custom])).unwrap();
        assert_eq!(stats.removed, 3);
        for rel in ["blog/atom.atom", "alt/tags/gone.xml", "alt/tags/gone.json", "feed.xml"] {
            assert_eq!(read(out, rel), None, "{rel}");
        }
        assert_eq!(read(out, "alt/tags/.postfeed-1-t.xml"), None);
        assert_eq!(read(out, "blog/.postfeed-1-atom.atom"), None);
        assert_eq!(read(out, "blog/atom.rss").as_deref(), Some("new"));
        assert_eq!(read(out, "alt/tags/t.xml").as_deref(), Some("t"));
        for rel in not_ours {
            assert_eq!(read(out, rel).as_deref(), Some("not ours"), "{rel}");
        }
    }

    #[test]
    fn update_writes_and_removes_only_the_changed_paths() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        put(out, "feed.xml", "v1");
        put(out, "feed/old.xml", "removed from the snapshot");
        put(out, "feed/other.xml", "not changed by this update");
        let mut snapshot = (*snapshot_with("feed.xml", "v2")).clone();
        snapshot
            .files
            .insert("feed/other.xml".into(), Arc::clone(&snapshot_with("feed/other.xml", "x").files["feed/other.xml"]));
        let changed = ["feed.xml".to_string(), "feed/old.xml".to_string(), "feed/never-written.xml".to_string()];
        let stats = OutputFolder::new(out).update(&snapshot, &changed).unwrap();
        assert_eq!(stats, WriteStats { written: 1, unchanged: 0, removed: 1 });
        assert_eq!(read(out, "feed.xml").as_deref(), Some("v2"));
        assert_eq!(read(out, "feed/old.xml"), None);
        assert_eq!(read(out, "feed/other.xml").as_deref(), Some("not changed by this update"));
    }

    #[test]
    fn adopted_files_keep_their_mtime_as_last_modified_and_are_not_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        put(out, "feed.xml", "same");
        set_mtime(out, "feed.xml", LONG_AGO);
        put(out, "feed.rss", "differs on disk");
        let mut snapshot = (*snapshot_with("feed.xml", "same")).clone();
        snapshot.files.insert("feed.rss".into(), Arc::clone(&snapshot_with("feed.rss", "new").files["feed.rss"]));
        let folder = OutputFolder::new(out);
        let adopted = folder.adopt(&mut snapshot);
        assert_eq!(adopted, BTreeSet::from(["feed.xml".to_string()]));
        assert_eq!(snapshot.files["feed.xml"].modified, LONG_AGO);
        assert!(snapshot.files["feed.rss"].modified > LONG_AGO);
        let stats = folder.write_snapshot(&snapshot, &adopted).unwrap();
        assert_eq!(stats, WriteStats { written: 1, unchanged: 1, removed: 0 });
        assert_eq!(mtime(out, "feed.xml"), LONG_AGO);
        assert_eq!(read(out, "feed.rss").as_deref(), Some("new"));
    }

    #[test]
    fn a_failed_write_names_the_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        // A folder where the feed must go: the rename over it fails.
        fs::create_dir_all(out.join("feed.xml")).unwrap();
        let error =
            OutputFolder::new(out).write_snapshot(&snapshot_with("feed.xml", "x"), &BTreeSet::new()).unwrap_err();
        assert!(format!("{error:#}").contains("feed.xml"), "{error:#}");
        let names: Vec<String> =
            fs::read_dir(out).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["feed.xml"]);
    }
}
