//! Posts read while the quiet window runs. The watcher names each path it sees change, and a
//! thread of its own reads and parses the posts among them at once, so that the update at the
//! window's end finds most of its files already parsed instead of reading them all then. A read
//! counts only if it began after the last change the watcher saw at its path ([`Ledger`]), and
//! only while the file still has the stamp it was read with ([`super::Site::refresh_with`]). It
//! is never used for a linked post, nor after a rescan, and a burst past [`MAX_EARLY_READS`] is
//! left to the update. A post outside the archive
//! folders whose file holds no Liquid also gets its entry text made, as a new post needs one; a
//! text counts only for the same bytes and the renderer it was made with
//! ([`Prefetched::take_texts`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use rayon::prelude::*;

use super::{is_post_name, read_and_parse_keeping_bytes, ContentRenderer, Read};
use crate::config::Config;
use crate::post::EntryText;
use crate::scan::Tree;

/// At most this many paths are read early between two updates, and at most this many entry texts
/// made: a burst beyond it (a first `git clone`, an `rsync` of the archive) is read by the update
/// itself, and memory never holds the texts of posts no feed may show.
const MAX_EARLY_READS: usize = 20_000;
const MAX_EARLY_TEXTS: usize = 2_000;

/// The reads kept between two updates: which paths changed, in order, and what was read at each.
struct Ledger {
    /// How many paths may be noted, and texts made, until the reads are taken.
    max_reads: usize,
    max_texts: usize,
    /// Texts that may still be made until the reads are taken.
    texts_left: usize,
    /// The number the next change gets.
    next: u64,
    /// The number of the last change seen at each path.
    last_change: HashMap<PathBuf, u64>,
    /// Changes not read yet.
    queue: Vec<(PathBuf, u64)>,
    /// What was read at each path, after the change numbered.
    read: HashMap<PathBuf, (u64, Early)>,
    /// What makes entry texts now, if anything.
    renderer: Option<Arc<ContentRenderer>>,
    stopped: bool,
}

/// What was read at a path: the post, and its entry text if it was made.
struct Early {
    read: Read,
    text: Option<EarlyText>,
}

/// An entry text made from a post's bytes (`hash`), by `renderer`.
pub(crate) struct EarlyText {
    pub(crate) source: String,
    pub(crate) hash: u64,
    pub(crate) renderer: Arc<ContentRenderer>,
    pub(crate) text: EntryText,
}

impl Default for Ledger {
    fn default() -> Ledger {
        Ledger::with_limits(MAX_EARLY_READS, MAX_EARLY_TEXTS)
    }
}

impl Ledger {
    fn with_limits(max_reads: usize, max_texts: usize) -> Ledger {
        Ledger {
            max_reads,
            max_texts,
            texts_left: max_texts,
            next: 0,
            last_change: HashMap::new(),
            queue: Vec::new(),
            read: HashMap::new(),
            renderer: None,
            stopped: false,
        }
    }

    /// A path changed. Past `max_reads` paths, a new one is left to the update.
    fn note(&mut self, path: &Path) {
        if self.last_change.len() >= self.max_reads && !self.last_change.contains_key(path) {
            return;
        }
        let change = self.next;
        self.next += 1;
        self.last_change.insert(path.to_path_buf(), change);
        self.queue.push((path.to_path_buf(), change));
    }

    /// May one more text be made before the reads are taken?
    fn may_make_text(&mut self) -> bool {
        let may = self.texts_left > 0;
        self.texts_left = self.texts_left.saturating_sub(1);
        may
    }

    /// The changes to read now: the last one of each path (an earlier one would be read in vain).
    fn claim(&mut self) -> Vec<(PathBuf, u64)> {
        let queue = std::mem::take(&mut self.queue);
        queue.into_iter().filter(|(path, change)| self.last_change.get(path) == Some(change)).collect()
    }

    /// Files what was read at `path` after `change`, unless the path changed again meanwhile
    /// (that change is queued, and read afterwards) or the reads were taken since. Returns what
    /// it did not keep, or replaced, for the caller to drop once the ledger is unlocked.
    fn finish(&mut self, path: PathBuf, change: u64, early: Early) -> Option<Early> {
        if self.last_change.get(&path) == Some(&change) {
            self.read.insert(path, (change, early)).map(|(_, replaced)| replaced)
        } else {
            Some(early)
        }
    }

    /// Every read that is still the newest of its path; the rest is forgotten, and so are reads
    /// under way (they find their change gone).
    fn take(&mut self) -> Prefetched {
        let read = std::mem::take(&mut self.read);
        let last_change = std::mem::take(&mut self.last_change);
        self.queue.clear();
        self.texts_left = self.max_texts;
        let mut taken = Prefetched::default();
        for (path, (change, early)) in read {
            if last_change.get(&path) == Some(&change) {
                taken.texts.extend(early.text);
                taken.reads.insert(path, early.read);
            }
        }
        taken
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

    /// Entry texts are made with `renderer` from now on (none before the first call).
    pub(crate) fn make_texts_with(&self, renderer: Arc<ContentRenderer>) {
        self.shared.ledger().renderer = Some(renderer);
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
        let (claimed, renderer) = {
            let mut ledger = shared.ledger();
            while ledger.queue.is_empty() && !ledger.stopped {
                ledger = shared.wake.wait(ledger).unwrap_or_else(|e| e.into_inner());
            }
            if ledger.stopped {
                return;
            }
            (ledger.claim(), ledger.renderer.clone())
        };
        let reads: Vec<(PathBuf, u64, Early)> = claimed
            .into_par_iter()
            .filter_map(|(path, change)| {
                let candidate = tree.candidate(&path).filter(|c| is_post_name(&c.source))?;
                let (read, bytes) = read_and_parse_keeping_bytes(tree, &candidate, limit, config);
                // A linked post's target changes under another path, whose events this read
                // would not be checked against: the update reads it itself.
                let Read::Parsed { post, hash, is_link: false, .. } = &read else { return None };
                let text = match (&renderer, bytes) {
                    (Some(renderer), Some(bytes))
                        if is_plain_new_post(post, &bytes) && shared.ledger().may_make_text() =>
                    {
                        early_text(renderer, post, *hash, &bytes)
                    }
                    _ => None,
                };
                Some((path, change, Early { read, text }))
            })
            .collect();
        let mut ledger = shared.ledger();
        let unused: Vec<Early> =
            reads.into_iter().filter_map(|(path, change, early)| ledger.finish(path, change, early)).collect();
        drop(ledger);
        drop(unused);
    }
}

/// Whether the post is what a new file most likely is, and its text depends on nothing else:
/// outside the archive folders, and with no Liquid in its file (whose output may depend on the
/// rest of the site).
fn is_plain_new_post(post: &crate::post::Post, bytes: &[u8]) -> bool {
    !post.archived && std::str::from_utf8(bytes).is_ok_and(|text| !crate::template::has_markup(text))
}

/// The entry text of a plain post; `None` when it has a problem or depends on something besides
/// the post after all.
fn early_text(renderer: &Arc<ContentRenderer>, post: &crate::post::Post, hash: u64, bytes: &[u8]) -> Option<EarlyText> {
    let text = renderer.entry_text(post, bytes)?;
    let plain = !text.liquid && !text.reads_beside && text.lookups.is_empty() && text.problems.is_empty();
    plain.then(|| EarlyText { source: post.source.clone(), hash, renderer: Arc::clone(renderer), text })
}

/// Posts read at the paths that changed since the last update, each after its last change, and
/// the entry texts made of some of them.
#[derive(Default)]
pub(crate) struct Prefetched {
    reads: HashMap<PathBuf, Read>,
    texts: Vec<EarlyText>,
}

impl Prefetched {
    /// The entry texts made with `renderer` (the others are dropped). The site takes the reads
    /// afterwards, and [`super::EntryTexts`] uses a text only for a post parsed from the same
    /// bytes.
    pub(crate) fn take_texts(&mut self, renderer: &Arc<ContentRenderer>) -> Vec<EarlyText> {
        let mut texts = std::mem::take(&mut self.texts);
        texts.retain(|early| Arc::ptr_eq(&early.renderer, renderer));
        texts
    }

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

    #[cfg(test)]
    pub(crate) fn offer_text(&mut self, text: EarlyText) {
        self.texts.push(text);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::{PostError, PostErrorKind};
    use crate::scan::Stamp;

    fn failed(n: u64) -> Early {
        // A read's outcome that tells reads apart: the size in the error.
        let read =
            Read::Failed(PostError::new("_posts/2020-01-01-a.md", PostErrorKind::TooLarge { size: n, limit: 0 }));
        Early { read, text: None }
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
    fn a_burst_past_the_limits_is_left_to_the_update() {
        let path = |n: u32| PathBuf::from(format!("/s/_posts/{n}"));
        let mut ledger = Ledger::with_limits(2, 1);
        for n in 0..3 {
            ledger.note(&path(n));
        }
        // A path already noted still counts its changes: its earlier read must not be used.
        ledger.note(&path(0));
        assert_eq!(ledger.claim(), [(path(1), 1), (path(0), 2)]);
        assert!(ledger.may_make_text() && !ledger.may_make_text(), "more texts than the limit");
        assert!(ledger.finish(path(1), 1, failed(1)).is_none());
        assert!(ledger.finish(path(1), 0, failed(0)).is_some(), "a read of an older change was kept");
        assert_eq!(ledger.take().reads.len(), 1);
        // The next window starts afresh.
        assert!(ledger.may_make_text());
        ledger.note(&path(2));
        assert_eq!(ledger.claim(), [(path(2), 3)]);
    }

    #[test]
    fn the_thread_reads_the_posts_it_is_told_of_and_makes_texts_of_the_new_plain_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        std::fs::create_dir_all(root.join("_posts")).unwrap();
        std::fs::create_dir_all(root.join("old_post")).unwrap();
        let write = |name: &str, text: &str| std::fs::write(root.join(name), text).unwrap();
        write("_posts/2020-01-01-plain.md", "---\ntitle: Plain\n---\nPlain body.\n");
        write("_posts/2020-01-02-liquid.md", "---\ntitle: Liquid\n---\nOn {{ site.title }}.\n");
        write("old_post/2020-01-03-archived.md", "---\ntitle: Archived\n---\nArchived body.\n");
        write("_posts/notes.md", "---\ntitle: Not a post\n---\n");
        write("about.md", "---\ntitle: A page\n---\n");
        let config = super::super::dormant::site_tests::config(&root);
        let prefetch = Prefetch::start(Tree::of(&config), config.clone()).unwrap();
        let links: Arc<super::super::PostLinks> = Arc::default();
        let renderer = Arc::new(ContentRenderer::new(&config, links, chrono::Utc::now().fixed_offset()));
        prefetch.make_texts_with(Arc::clone(&renderer));
        let posts = ["_posts/2020-01-01-plain.md", "_posts/2020-01-02-liquid.md", "old_post/2020-01-03-archived.md"];
        let others = ["_posts", "_posts/notes.md", "about.md", "_posts/2020-01-04-gone.md"];
        for name in posts.iter().chain(&others) {
            prefetch.note(&root.join(name));
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while prefetch.shared.ledger().read.len() < posts.len() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        // The other paths were claimed with them, in the same pass.
        let mut taken = prefetch.take();
        assert_eq!(taken.len(), posts.len(), "only the posts are read");
        for name in posts {
            let path = root.join(name);
            let Some(Read::Parsed { post, stamp, .. }) = taken.take(&path) else { panic!("{name} was not read") };
            assert_eq!(Some(stamp), Stamp::of(&path));
            assert_eq!(post.source, name);
        }
        let texts = taken.take_texts(&renderer);
        let made: Vec<&str> = texts.iter().map(|early| early.source.as_str()).collect();
        assert_eq!(made, ["_posts/2020-01-01-plain.md"], "texts are made of plain posts outside the archive only");
        let content = texts[0].text.content.as_deref().unwrap_or_default();
        assert!(content.contains("Plain body."), "{content}");
        assert_eq!(texts[0].hash, crate::site::content_hash(&std::fs::read(root.join(posts[0])).unwrap()));
    }
}
