//! Posts read while the quiet window runs. The watcher names each path it sees change, and a
//! thread of its own reads and parses the posts among them at once, so that the update at the
//! window's end finds most of its files already parsed instead of reading them all then. A read
//! counts only if it began after the last change the watcher saw at its path, and only while the
//! file still has the stamp it was read with ([`Prefetched::take`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use rayon::prelude::*;

use super::{is_post_name, read_and_parse, Read};
use crate::config::Config;
use crate::scan::Tree;

/// The reads kept between two updates: which paths changed, in order, and what was read at each.
#[derive(Default)]
struct Ledger {
    /// The number the next change gets.
    next: u64,
    /// The number of the last change seen at each path.
    last_change: HashMap<PathBuf, u64>,
    /// Changes not read yet.
    queue: Vec<(PathBuf, u64)>,
    /// What was read at each path, after the change numbered.
    read: HashMap<PathBuf, (u64, Read)>,
    stopped: bool,
}

impl Ledger {
    fn note(&mut self, path: &Path) {
        let change = self.next;
        self.next += 1;
        self.last_change.insert(path.to_path_buf(), change);
        self.queue.push((path.to_path_buf(), change));
    }

    /// The changes to read now: the last one of each path (an earlier one would be read in vain).
    fn claim(&mut self) -> Vec<(PathBuf, u64)> {
        let queue = std::mem::take(&mut self.queue);
        queue.into_iter().filter(|(path, change)| self.last_change.get(path) == Some(change)).collect()
    }

    /// Files what was read at `path` after `change`, unless the path changed again meanwhile
    /// (that change is queued, and read afterwards) or the reads were taken since.
    fn finish(&mut self, path: PathBuf, change: u64, read: Read) {
        if self.last_change.get(&path) == Some(&change) {
            self.read.insert(path, (change, read));
        }
    }

    /// Every read that is still the newest of its path; the rest is forgotten, and so are reads
    /// under way (they find their change gone).
    fn take(&mut self) -> Prefetched {
        let read = std::mem::take(&mut self.read);
        let last_change = std::mem::take(&mut self.last_change);
        self.queue.clear();
        let reads = read
            .into_iter()
            .filter(|(path, (change, _))| last_change.get(path) == Some(change))
            .map(|(path, (_, read))| (path, read))
            .collect();
        Prefetched { reads }
    }
}

struct Shared {
    ledger: Mutex<Ledger>,
    wake: Condvar,
}

impl Shared {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The reading thread of one watch, for one configuration.
pub(crate) struct Prefetch {
    shared: Arc<Shared>,
}

impl Prefetch {
    /// Starts the thread that reads what [`Prefetch::note`] names, as the site `config` reads it.
    pub(crate) fn start(tree: Tree, config: Config) -> std::io::Result<Prefetch> {
        let shared = Arc::new(Shared { ledger: Mutex::new(Ledger::default()), wake: Condvar::new() });
        let worker = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("prefetch".into())
            .spawn(move || read_while_running(&worker, &tree, &config))?;
        Ok(Prefetch { shared })
    }

    /// Something changed at `path` (a file or a folder, perhaps gone).
    pub(crate) fn note(&self, path: &Path) {
        self.shared.ledger().note(path);
        self.shared.wake.notify_one();
    }

    /// The reads made since the last call; an update takes them as it starts.
    pub(crate) fn take(&self) -> Prefetched {
        self.shared.ledger().take()
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.shared.ledger().stopped = true;
        self.shared.wake.notify_one();
    }
}

fn read_while_running(shared: &Shared, tree: &Tree, config: &Config) {
    let limit = config.feeds.max_post_bytes;
    loop {
        let claimed = {
            let mut ledger = shared.ledger();
            while ledger.queue.is_empty() && !ledger.stopped {
                ledger = shared.wake.wait(ledger).unwrap_or_else(|e| e.into_inner());
            }
            if ledger.stopped {
                return;
            }
            ledger.claim()
        };
        let reads: Vec<(PathBuf, u64, Read)> = claimed
            .into_par_iter()
            .filter_map(|(path, change)| {
                let candidate = tree.candidate(&path).filter(|c| is_post_name(&c.source))?;
                let read = read_and_parse(tree, &candidate, limit, config);
                matches!(read, Read::Parsed { .. }).then_some((path, change, read))
            })
            .collect();
        let mut ledger = shared.ledger();
        for (path, change, read) in reads {
            ledger.finish(path, change, read);
        }
    }
}

/// Posts read at the paths that changed since the last update, each after its last change.
#[derive(Default)]
pub(crate) struct Prefetched {
    reads: HashMap<PathBuf, Read>,
}

impl Prefetched {
    /// What was read at `path`, if anything; [`super::Site::refresh_with`] uses it only if the
    /// file still has the stamp it was read with (a file replaced, or changed by a write the
    /// watcher has not reported yet, is read again).
    pub(super) fn take(&mut self, path: &Path) -> Option<Read> {
        self.reads.remove(path)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.reads.len()
    }

    #[cfg(test)]
    pub(super) fn insert(&mut self, path: PathBuf, read: Read) {
        self.reads.insert(path, read);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::{PostError, PostErrorKind};
    use crate::scan::Stamp;

    fn failed(n: u64) -> Read {
        // A read's outcome that tells reads apart: the size in the error.
        Read::Failed(PostError::new("_posts/2020-01-01-a.md", PostErrorKind::TooLarge { size: n, limit: 0 }))
    }

    fn size_of(read: &Read) -> u64 {
        match read {
            Read::Failed(error) => match error.kind {
                PostErrorKind::TooLarge { size, .. } => size,
                _ => panic!("{error:?}"),
            },
            _ => panic!("not a test read"),
        }
    }

    #[test]
    fn a_read_counts_only_if_it_began_after_the_last_change_at_its_path() {
        let (a, b) = (PathBuf::from("/s/_posts/a"), PathBuf::from("/s/_posts/b"));
        let mut ledger = Ledger::default();
        ledger.note(&a);
        ledger.note(&b);
        ledger.note(&a);
        // The first change of `a` is not read: the second is queued behind it.
        let claimed = ledger.claim();
        assert_eq!(claimed, [(b.clone(), 1), (a.clone(), 2)]);
        // `a` changes again while it is being read: that read is dropped.
        ledger.note(&a);
        ledger.finish(a.clone(), 2, failed(2));
        ledger.finish(b.clone(), 1, failed(1));
        assert_eq!(ledger.claim(), [(a.clone(), 3)]);
        let mut taken = ledger.take();
        assert_eq!(taken.reads.keys().collect::<Vec<_>>(), [&b], "a read older than the last change was kept");
        assert_eq!(size_of(&taken.reads.remove(&b).unwrap()), 1);
        // The read of the last change, finished after the update took the reads, is dropped:
        // that update read the file itself.
        ledger.finish(a.clone(), 3, failed(3));
        assert!(ledger.take().reads.is_empty());
        assert!(ledger.last_change.is_empty() && ledger.queue.is_empty() && ledger.read.is_empty());
    }

    #[test]
    fn the_thread_reads_the_posts_it_is_told_of_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        std::fs::create_dir_all(root.join("_posts")).unwrap();
        let path = root.join("_posts/2020-01-01-a.md");
        std::fs::write(&path, "---\ntitle: First\n---\nbody\n").unwrap();
        std::fs::write(root.join("_posts/notes.md"), "---\ntitle: Not a post\n---\n").unwrap();
        std::fs::write(root.join("about.md"), "---\ntitle: A page\n---\n").unwrap();
        let config = super::super::tests::config(&root);
        let prefetch = Prefetch::start(Tree::of(&config), config).unwrap();
        for name in ["_posts/2020-01-01-a.md", "_posts", "_posts/notes.md", "about.md", "_posts/2020-01-02-gone.md"] {
            prefetch.note(&root.join(name));
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while prefetch.shared.ledger().read.is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // The other paths were claimed with it, in the same pass.
        let mut taken = prefetch.take();
        assert_eq!(taken.len(), 1, "only the post is read");
        let Some(Read::Parsed { post, stamp, .. }) = taken.take(&path) else { panic!("the post was not read") };
        assert_eq!(post.title, "First");
        assert_eq!(Some(stamp), Stamp::of(&path));
    }
}
