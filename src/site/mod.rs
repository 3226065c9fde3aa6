//! The in-memory site: every post by source path, kept sorted per feed ([`index`]), updated file
//! by file; and the entry texts of the posts in feeds ([`texts`]), read from their files on demand.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, Utc};
use rayon::prelude::*;

use crate::config::Config;
use crate::post::{self, Post, PostError, PostErrorKind};
use crate::scan::{self, Candidate, Found, ReadError, Stamp, Tree};
use post_index::PostIndex;

mod content;
mod dormant;
mod index;
mod links;
mod pages;
pub(crate) mod post_index;
mod prefetch;
mod texts;

pub use content::ContentRenderer;
pub(crate) use index::keys_of;
pub use index::FeedKey;
use index::{bulk_index, Order};
use links::PostLinks;
#[cfg(test)]
pub(crate) use prefetch::EarlyText;
pub(crate) use prefetch::{Prefetch, Prefetched};
pub(crate) use texts::EntryTexts;

struct Loaded {
    post: Arc<Post>,
    stamp: Option<Stamp>,
    /// Hash of the file's bytes: tells an edit apart even when size and mtime did not change
    /// (mtimes are only as fine as the kernel's clock tick).
    hash: u64,
    path: PathBuf,
}

/// The version of a file's bytes, for the content cache and change detection.
pub(crate) fn content_hash(bytes: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(bytes)
}

/// The posts of one source tree.
pub(crate) struct Site {
    pub(crate) tree: Tree,
    pub(crate) max_post_bytes: u64,
    /// Sorted, so the posts below a folder are one range.
    posts: BTreeMap<String, Loaded>,
    problems: BTreeMap<String, PostError>,
    /// Published posts (future ones included) per feed, in feed order. Sleeping posts are not in it.
    index: BTreeMap<FeedKey, BTreeSet<Order>>,
    /// Archived posts no feed shows, not kept parsed (see [`Site::settle`]).
    dormant: dormant::Dormant,
    /// Per feed, the first post past its entries when [`Site::settle`] last looked (`None`: the
    /// list ended before `limit`), marked stale once the list changes.
    cuts: HashMap<FeedKey, Cut>,
    /// Archived posts stored since the last [`Site::settle`]: they may be out of sight already.
    unsettled: BTreeSet<String>,
    /// Posts that are symbolic links, by the file they point at: an edit of the target is
    /// reported under the target's path.
    links: HashMap<PathBuf, BTreeSet<String>>,
    /// The published posts by the names templates link to them with.
    pub(crate) post_links: Arc<PostLinks>,
    /// The site's URL (with its base path and a final `/`): post URLs minus this are URL paths.
    site_url: String,
    /// The thread writing the post index after a load, if one is.
    index_writer: Option<std::thread::JoinHandle<()>>,
    /// How many posts the load took from the post index instead of reading their files.
    pub(crate) from_index: usize,
}

/// What one refresh changed.
#[derive(Debug, Default)]
pub struct Changes {
    /// Files read again because they are new or their stamp changed.
    pub(crate) files_read: usize,
    /// Their source names, so that their problems can be reported (a catch-up scan names only
    /// the root).
    pub(crate) read: Vec<String>,
    /// How many of the files read were read while the batch gathered (see [`Prefetch`]).
    pub(crate) read_early: usize,
    /// Posts that are gone.
    pub(crate) removed: usize,
    /// Feeds whose entries may differ now.
    pub feeds: BTreeSet<FeedKey>,
    /// Posts that moved with nothing else changed: the same bytes, read as the same post (into or
    /// out of an archive folder, see [`Tree::archived_as`]), so their entry text and bytes still
    /// hold under the new path.
    pub(crate) moved: Vec<Moved>,
}

/// A post that moved from `from` to `to` with its bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Moved {
    pub(crate) from: String,
    pub(crate) to: String,
    /// The feeds it was in before the move.
    pub(crate) keys: Vec<FeedKey>,
}

impl Site {
    /// Scans and parses the whole tree, on all cores.
    pub(crate) fn load(config: &Config) -> std::io::Result<Site> {
        let started = std::time::Instant::now();
        let tree = Tree::of(config);
        let mut site = Site {
            tree,
            max_post_bytes: config.feeds.max_post_bytes,
            posts: BTreeMap::new(),
            problems: BTreeMap::new(),
            index: BTreeMap::new(),
            dormant: dormant::Dormant::default(),
            cuts: HashMap::new(),
            unsettled: BTreeSet::new(),
            links: HashMap::new(),
            post_links: Arc::new(PostLinks::new(pages::SiteFileUrls::new(config))),
            site_url: config.site.url.to_string(),
            index_writer: None,
            from_index: 0,
        };
        let scan_started = std::time::SystemTime::now();
        let index_file = config.post_index_file();
        // An index that cannot serve is not waited for: every file is read as the walk finds it.
        let usable_index = index_file.as_deref().filter(|file| PostIndex::may_serve(file, config));
        if let (Some(file), None) = (index_file.as_deref(), usable_index) {
            if file.exists() {
                tracing::info!(
                    "the post index {} is damaged or was written with another configuration or program; every post is read",
                    file.display()
                );
            }
        }
        let parse = |c: Candidate| {
            let read = read_and_parse(&site.tree, &c, site.max_post_bytes, config);
            (c, read)
        };
        let found_problem = |source: String, error| {
            // Reported under its path; it has no file to keep.
            let problem = not_read(&source, error);
            (Candidate::new(source, PathBuf::new()), Read::Failed(problem))
        };
        let (known, parsed, from_index): (PostIndex, Vec<(Candidate, Read)>, usize) = match usable_index {
            // The index is read on a thread of its own while the walk lists the post files (on
            // one core: handing each file to another core as it is found cost more than the
            // `stat`) and then `stat`s them on all cores; then the files whose stamp it records
            // are taken from it, and the others read and parsed.
            Some(file) => {
                let (known, found) = std::thread::scope(|scope| {
                    let loading = scope.spawn(|| PostIndex::load(file, config));
                    let found: std::io::Result<Vec<(Found, Option<Stamp>)>> =
                        site.tree.walk(&site.tree.root).map(|walk| {
                            walk.collect::<Vec<Found>>()
                                .into_par_iter()
                                .map(|found| {
                                    let stamp = match &found {
                                        Found::Post(c) => stamp_of(c),
                                        Found::Problem(..) => None,
                                    };
                                    (found, stamp)
                                })
                                .collect()
                        });
                    (loading.join().unwrap_or_default(), found)
                });
                tracing::debug!("post index: {} posts read, files found, in {:?}", known.len(), started.elapsed());
                let mut known = known;
                let (mut parsed, mut to_read) = (Vec::new(), Vec::new());
                // In source order, as the index holds its posts: they are taken out, not copied,
                // in one pass beside the files; then the rest are read on all cores.
                let mut found = found?;
                found.par_sort_unstable_by(|(a, _), (b, _)| a.source().cmp(b.source()));
                for (found, stamp) in found {
                    match found {
                        Found::Post(c) => match stamp.and_then(|stamp| indexed(&mut known, &c, stamp)) {
                            Some(read) => parsed.push((c, read)),
                            None => to_read.push(Found::Post(c)),
                        },
                        problem @ Found::Problem(..) => to_read.push(problem),
                    }
                }
                let from_index = parsed.len();
                parsed.par_extend(to_read.into_par_iter().map(|found| match found {
                    Found::Post(c) => parse(c),
                    Found::Problem(source, error) => found_problem(source, error),
                }));
                (known, parsed, from_index)
            }
            // Files are read and parsed on all cores while the walk goes on.
            None => {
                let parsed = site
                    .tree
                    .walk(&site.tree.root)?
                    .par_bridge()
                    .map(|found| match found {
                        Found::Post(c) => parse(c),
                        Found::Problem(source, error) => found_problem(source, error),
                    })
                    .collect();
                (PostIndex::default(), parsed, 0)
            }
        };
        site.from_index = from_index;
        tracing::debug!(
            "read and parse: {:?}, {} of {} posts in the index taken from it ({})",
            started.elapsed(),
            site.from_index,
            known.len(),
            crate::logging::memory()
        );
        let known_len = known.len();
        drop(known);
        let mut posts = Vec::with_capacity(parsed.len());
        for (candidate, read) in parsed {
            match read {
                Read::Parsed { post, hash, stamp, is_link } => {
                    if is_link {
                        site.note_link(&candidate);
                    }
                    let loaded = Loaded { post: Arc::from(post), stamp: Some(stamp), hash, path: candidate.path };
                    posts.push((candidate.source, loaded));
                }
                Read::Failed(error) => {
                    site.problems.insert(candidate.source, error);
                }
                Read::Unchanged => {}
            }
        }
        site.index = bulk_index(posts.iter().map(|(_, loaded)| &loaded.post));
        site.post_links.extend(
            &site.site_url,
            posts
                .iter()
                .filter(|(_, loaded)| loaded.post.published)
                .map(|(_, loaded)| Arc::clone(&loaded.post))
                .collect(),
        );
        // Sorted first on all cores, so the map is built in one pass.
        posts.par_sort_unstable_by(|a, b| a.0.cmp(&b.0));
        site.posts = posts.into_iter().collect();
        tracing::debug!("indexed: {:?} ({})", started.elapsed(), crate::logging::memory());
        if let Some(file) = index_file {
            // Links are read every time (`indexed` never takes one): their stamp is the target's.
            let linked: std::collections::HashSet<&String> = site.links.values().flatten().collect();
            let records: Vec<post_index::Record> = site
                .posts
                .iter()
                .filter(|(source, _)| !linked.contains(*source))
                .filter_map(|(_, loaded)| Some((loaded.stamp?, loaded.hash, Arc::clone(&loaded.post))))
                .collect();
            // Every post came from the index, and the index holds no other: it would be written
            // again as it is.
            if known_len > 0 && site.from_index == records.len() && known_len == records.len() {
                tracing::debug!("post index: unchanged, not written again");
            } else {
                site.index_writer = Some(spawn_index_writer(file, config.clone(), scan_started, records));
            }
        }
        Ok(site)
    }

    /// Waits until the post index written after the load is on disk (`regen` does, before it
    /// exits; the daemon lets it finish on its own).
    pub(crate) fn wait_for_index(&mut self) {
        if let Some(writer) = self.index_writer.take() {
            let _ = writer.join();
        }
    }

    /// [`Site::refresh_with`] with nothing read early.
    #[cfg(test)]
    pub(crate) fn refresh(&mut self, paths: &[PathBuf], config: &Config) -> Changes {
        self.refresh_with(paths, config, Prefetched::default())
    }

    /// Folds in whatever happened at `paths` (files or folders, created, changed or gone). Files
    /// named in `paths` are read again; files found under a named folder only if their stamp
    /// changed, so a rescan of the whole tree costs a `stat` per unchanged post. A file `early`
    /// holds a read of, taken with the stamp it still has, is not read again (see [`Prefetch`]).
    pub(crate) fn refresh_with(&mut self, paths: &[PathBuf], config: &Config, mut early: Prefetched) -> Changes {
        let mut changes = Changes::default();
        // Awake posts whose files are gone, by the source they are read as: one may have moved.
        let mut gone: HashMap<String, (String, u64, Arc<Post>)> = HashMap::new();
        // source -> (candidate, read even if the stamp is unchanged)
        let mut candidates: BTreeMap<String, (Candidate, bool)> = BTreeMap::new();
        // Files that were not posts are read again every time (no stamp is kept for them); the
        // same problem again is no change.
        let mut known: BTreeMap<String, PostError> = BTreeMap::new();
        for path in paths {
            let is_root = path == &self.tree.root;
            if !is_root && !self.tree.may_matter(path) {
                continue;
            }
            for source in self.links.get(path).into_iter().flatten() {
                if let Some(loaded) = self.posts.get(source) {
                    let candidate = Candidate::new(source.clone(), loaded.path.clone());
                    candidates.insert(source.clone(), (candidate, true));
                }
            }
            let prefix = scan::source_name(&self.tree.root, path);
            let folder = format!("{prefix}/");
            let below = |source: &str| is_root || source == prefix || source.starts_with(&folder);
            // Known files at or below the path (one range of the sorted maps): they may be gone
            // or renamed.
            let start = if is_root { String::new() } else { prefix.clone() };
            let in_range = |s: &String| is_root || s.starts_with(&prefix);
            for (source, loaded) in self.posts.range(start.clone()..).take_while(|(s, _)| in_range(s)) {
                if below(source) {
                    let candidate = Candidate::new(source.clone(), loaded.path.clone());
                    candidates.insert(source.clone(), (candidate, false));
                }
            }
            for (source, _) in self.dormant.range(&start) {
                if below(source) {
                    let candidate = Candidate::new(source.clone(), self.tree.root.join(source));
                    candidates.insert(source.clone(), (candidate, false));
                }
            }
            let known_problems: Vec<String> = self
                .problems
                .range(start..)
                .take_while(|(s, _)| in_range(s))
                .map(|(s, _)| s)
                .filter(|s| below(s))
                .cloned()
                .collect();
            for source in known_problems {
                let path = self.tree.root.join(&source);
                if let Some(error) = self.problems.remove(&source) {
                    known.insert(source.clone(), error);
                }
                candidates.insert(source.clone(), (Candidate::new(source, path), true));
            }
            match std::fs::symlink_metadata(path) {
                Ok(_) if self.tree.through_link(path) => {}
                Ok(meta) if meta.is_dir() => {
                    if let Ok(scan) = self.tree.scan_under(path) {
                        for c in scan.candidates {
                            if is_post_name(&c.source) {
                                candidates.entry(c.source.clone()).or_insert((c, false));
                            } else {
                                self.problems.insert(c.source.clone(), undated(&c.source));
                            }
                        }
                        for (source, error) in scan.problems {
                            let problem = not_read(&source, error);
                            self.problems.insert(source, problem);
                        }
                    }
                }
                Ok(_) => {
                    if let Some(c) = self.tree.candidate(path) {
                        if is_post_name(&c.source) {
                            candidates.insert(c.source.clone(), (c, true));
                        } else {
                            self.problems.insert(c.source.clone(), undated(&c.source));
                        }
                    }
                }
                Err(_) => {}
            }
        }
        let work: Vec<(Candidate, bool, Option<Read>)> = candidates
            .into_values()
            .map(|(c, force)| {
                let read = early.take(&c.path);
                (c, force, read)
            })
            .collect();
        let results: Vec<(Candidate, Option<Read>, bool)> = work
            .into_par_iter()
            .map(|(c, force, early)| {
                let stamp = Stamp::of(&c.path);
                match (stamp, early) {
                    (None, _) => (c, None, false),
                    (Some(_), _) if !force && self.file_of(&c.source).is_some_and(|(known, _)| known == stamp) => {
                        (c, Some(Read::Unchanged), false)
                    }
                    // A linked post is read again: its target's events come under another path.
                    (Some(now), Some(read @ Read::Parsed { stamp: then, is_link: false, .. })) if then == now => {
                        (c, Some(read), true)
                    }
                    (Some(_), _) => {
                        let read = read_and_parse(&self.tree, &c, self.max_post_bytes, config);
                        (c, Some(read), false)
                    }
                }
            })
            .collect();
        for (candidate, read, early) in results {
            match read {
                None => {
                    self.problems.remove(&candidate.source);
                    if let Some(loaded) = self.posts.get(&candidate.source) {
                        let read_as = self.tree.read_as(&candidate.source).into_owned();
                        gone.insert(read_as, (candidate.source.clone(), loaded.hash, Arc::clone(&loaded.post)));
                    }
                    if let Some(keys) = self.remove(&candidate.source) {
                        changes.removed += 1;
                        changes.feeds.extend(keys);
                    }
                }
                Some(Read::Unchanged) => {}
                Some(Read::Parsed { hash, stamp, .. })
                    if self.file_of(&candidate.source).is_some_and(|(_, known)| known == hash) =>
                {
                    if let Some(loaded) = self.posts.get_mut(&candidate.source) {
                        loaded.stamp = Some(stamp);
                    } else if let Some(record) = self.dormant.get_mut(&candidate.source) {
                        record.stamp = Some(stamp);
                    }
                    // Back to the bytes of the version kept: nothing is wrong any more.
                    self.problems.remove(&candidate.source);
                }
                Some(Read::Failed(error)) if known.get(&candidate.source) == Some(&error) => {
                    self.problems.insert(candidate.source, error);
                }
                Some(read) => {
                    changes.files_read += 1;
                    changes.read_early += usize::from(early);
                    changes.read.push(candidate.source.clone());
                    self.store(candidate, read, &mut changes, config.server.keep_last_good);
                }
            }
        }
        if !gone.is_empty() {
            changes.moved = self.moves_among(&changes.read, &gone);
        }
        changes
    }

    /// Which of the posts just `read` are posts of `gone` (by the source they are read as) moved
    /// to a new path with their bytes, and so everything a feed shows of them, unchanged.
    fn moves_among(&self, read: &[String], gone: &HashMap<String, (String, u64, Arc<Post>)>) -> Vec<Moved> {
        let mut moved = Vec::new();
        for source in read {
            let Some(loaded) = self.posts.get(source) else { continue };
            let Some((old_source, hash, old)) = gone.get(&*self.tree.read_as(source)) else { continue };
            let same_post = || {
                let mut new = Post::clone(&loaded.post);
                new.source.clone_from(&old.source);
                new.archived = old.archived;
                new == **old
            };
            if loaded.hash == *hash && old_source != source && same_post() {
                moved.push(Moved { from: old_source.clone(), to: source.clone(), keys: keys_of(old) });
            }
        }
        moved
    }

    /// The post at `source`, if it is awake.
    pub(crate) fn post(&self, source: &str) -> Option<&Arc<Post>> {
        self.posts.get(source).map(|loaded| &loaded.post)
    }

    /// Puts what was read at `candidate` in the site. With `keep_last_good`, a post whose file no
    /// longer parses stays as it was last parsed, with the reason recorded as its problem.
    fn store(&mut self, candidate: Candidate, read: Read, changes: &mut Changes, keep_last_good: bool) {
        let read = match read {
            Read::Failed(error)
                if keep_last_good && error.kind.is_parse_failure() && self.file_of(&candidate.source).is_some() =>
            {
                self.problems.insert(candidate.source, error);
                return;
            }
            other => other,
        };
        if let Some(keys) = self.remove(&candidate.source) {
            changes.feeds.extend(keys);
        }
        self.problems.remove(&candidate.source);
        match read {
            Read::Parsed { post, hash, stamp, is_link } => {
                let post: Arc<Post> = Arc::from(post);
                if post.published {
                    let order = Order::of(&post);
                    for key in keys_of(&post) {
                        self.mark_changed(&key);
                        changes.feeds.insert(key.clone());
                        self.index.entry(key).or_default().insert(order.clone());
                    }
                    if post.archived {
                        self.unsettled.insert(candidate.source.clone());
                    }
                }
                if is_link {
                    self.note_link(&candidate);
                }
                if post.published {
                    self.post_links.insert(&post, url_path(&self.site_url, &post.url));
                }
                self.posts.insert(candidate.source, Loaded { post, stamp: Some(stamp), hash, path: candidate.path });
            }
            Read::Failed(error) => {
                self.problems.insert(candidate.source, error);
            }
            Read::Unchanged => {}
        }
    }

    /// Remembers which file a linked post points at, so an edit of the target reaches it.
    fn note_link(&mut self, candidate: &Candidate) {
        if let Ok(target) = std::fs::canonicalize(&candidate.path) {
            self.links.entry(target).or_default().insert(candidate.source.clone());
        }
    }

    /// Takes the post at `source` out of the site; returns the feeds it was in.
    fn remove(&mut self, source: &str) -> Option<Vec<FeedKey>> {
        self.post_links.remove(source);
        if let Some(record) = self.dormant.remove(source) {
            return Some(record.keys.into_vec());
        }
        let loaded = self.posts.remove(source)?;
        self.links.retain(|_, sources| {
            sources.remove(source);
            !sources.is_empty()
        });
        if loaded.post.published {
            let order = Order::of(&loaded.post);
            for key in keys_of(&loaded.post) {
                self.mark_changed(&key);
                if let Some(set) = self.index.get_mut(&key) {
                    set.remove(&order);
                    if set.is_empty() {
                        self.index.remove(&key);
                    }
                }
            }
        }
        Some(keys_of(&loaded.post))
    }

    /// Notes that the list of `key` changed: where its entries end must be looked up again.
    fn mark_changed(&mut self, key: &FeedKey) {
        if let Some(cut) = self.cuts.get_mut(key) {
            cut.fresh = false;
        }
    }

    /// The stamp and the content hash of the file at `source`, awake or asleep, if it is a post.
    fn file_of(&self, source: &str) -> Option<(Option<Stamp>, u64)> {
        match self.posts.get(source) {
            Some(loaded) => Some((loaded.stamp, loaded.hash)),
            None => self.dormant.get(source).map(|record| (record.stamp, record.hash)),
        }
    }

    /// The entries of one feed at `now`: published, not in the future, newest first, at most
    /// `limit`. A post that is both in `_posts` and in an archive folder (copied, or caught
    /// half-way through a move) is one entry, the one in `_posts`.
    pub(crate) fn entries(&self, key: &FeedKey, now: DateTime<Utc>, limit: usize) -> Vec<Arc<Post>> {
        self.walk(key, now, limit).0
    }

    /// [`Site::entries`], and where the list goes on past them, if it does (see [`Full`]).
    fn walk(&self, key: &FeedKey, now: DateTime<Utc>, limit: usize) -> (Vec<Arc<Post>>, Option<Full<'_>>) {
        let Some(set) = self.index.get(key) else { return (Vec::new(), None) };
        let mut entries: Vec<Arc<Post>> = Vec::with_capacity(limit.min(set.len()));
        let mut last = None;
        for order in set.iter().filter(|o| o.is_visible_at(now)) {
            let post = &order.post;
            let twin = entries.iter().position(|taken| (taken.archived || post.archived) && taken.id == post.id);
            match (twin, last) {
                (Some(i), _) if entries[i].archived && !post.archived => entries[i] = Arc::clone(post),
                (Some(_), _) => {}
                (None, Some(last)) if entries.len() == limit => return (entries, Some(Full { last, past: order })),
                (None, _) => {
                    entries.push(Arc::clone(post));
                    last = Some(order);
                }
            }
        }
        (entries, None)
    }

    /// Puts to sleep the archived posts no feed shows at `now`, and first wakes the sleeping
    /// posts of the feeds in `keys` (every feed when `None`) that may have to show one again.
    /// Sleeping keeps a [`dormant::Record`] instead of the parsed post: the archive grows by
    /// every post that moves, and nearly all of it is out of sight. What feeds show is the same
    /// either way (`settling_never_changes_the_feeds`); it is called before each render.
    pub(crate) fn settle(
        &mut self,
        now: DateTime<Utc>,
        limit: usize,
        keys: Option<&BTreeSet<FeedKey>>,
        config: &Config,
    ) {
        // A feed wakes its sleepers when it shows fewer than `limit` entries or when its first
        // sleeper comes before the last post it shows: those may belong in sight.
        let feeds: Vec<&FeedKey> = match keys {
            Some(keys) => keys.iter().filter(|key| self.dormant.has_key(key)).collect(),
            None => self.dormant.keys().collect(),
        };
        let waking_feeds: HashSet<&FeedKey> = feeds
            .into_iter()
            .filter(|key| {
                let first = self.dormant.first(key);
                let in_sight = |full: Full| {
                    first.is_some_and(|(time, url, source)| (time, &**url, &**source) < full.last.sort_key())
                };
                self.walk(key, now, limit).1.is_none_or(in_sight)
            })
            .collect();
        let waking = self.dormant.sources_of(&waking_feeds);
        let woken = waking.len();
        let reads: Vec<(Candidate, Read)> = waking
            .into_par_iter()
            .map(|source| {
                let candidate = Candidate::new(source.clone(), self.tree.root.join(&source));
                let read = read_and_parse(&self.tree, &candidate, self.max_post_bytes, config);
                (candidate, read)
            })
            .collect();
        for (candidate, read) in reads {
            // Its feeds are being rendered anyway: what changes is not reported again.
            self.store(candidate, read, &mut Changes::default(), false);
        }
        // Who may have gone out of sight since the last settle: the archived posts stored since,
        // and in each feed named in `keys` those between where its entries end now and where they
        // ended before (newer posts pushed them past). Posts further down were looked at then.
        let mut candidates: BTreeSet<String> = std::mem::take(&mut self.unsettled);
        let lists: Vec<FeedKey> = match keys {
            Some(keys) => keys.iter().cloned().collect(),
            None => {
                self.cuts.clear();
                self.index.keys().cloned().collect()
            }
        };
        for key in lists {
            let now_past = self.walk(&key, now, limit).1.map(|full| full.past.clone());
            let before = self.cuts.insert(key.clone(), Cut { past: now_past.clone(), fresh: true });
            let (Some(from), Some(set)) = (now_past, self.index.get(&key)) else { continue };
            let range = match before.and_then(|cut| cut.past) {
                Some(to) if to > from => set.range(&from..&to),
                // The entries end further down than before (posts left): nothing new is past them.
                Some(_) => continue,
                None => set.range(&from..),
            };
            candidates.extend(range.filter(|o| o.post.archived).map(|o| o.post.source.clone()));
        }
        let mut sleepers: Vec<String> = Vec::new();
        for source in candidates {
            let Some(loaded) = self.posts.get(&source) else { continue };
            // A symbolic link is read through its own path, which a record does not keep.
            if !loaded.post.archived || !loaded.post.published || loaded.path != self.tree.root.join(&source) {
                continue;
            }
            let post = Arc::clone(&loaded.post);
            let order = Order::of(&post);
            let out_of_sight = keys_of(&post).into_iter().all(|key| {
                let past = match self.cuts.get(&key) {
                    Some(cut) if cut.fresh => cut.past.clone(),
                    _ => {
                        let past = self.walk(&key, now, limit).1.map(|full| full.past.clone());
                        self.cuts.insert(key, Cut { past: past.clone(), fresh: true });
                        past
                    }
                };
                past.is_some_and(|past| order >= past)
            });
            if out_of_sight {
                sleepers.push(source);
            }
        }
        let slept = sleepers.len();
        for source in sleepers {
            self.put_to_sleep(&source);
        }
        if woken + slept > 0 {
            tracing::debug!("archived posts: {woken} woken, {slept} put to sleep, {} asleep", self.dormant.len());
        }
    }

    /// Replaces the post at `source` by its [`dormant::Record`] (see [`Site::settle`]).
    fn put_to_sleep(&mut self, source: &str) {
        let Some(loaded) = self.posts.remove(source) else { return };
        let order = Order::of(&loaded.post);
        let keys = keys_of(&loaded.post);
        for key in &keys {
            if let Some(set) = self.index.get_mut(key) {
                set.remove(&order);
            }
        }
        let post = &loaded.post;
        let place = (order.newest_first, post.url.as_str().into(), source.into());
        let record = dormant::Record {
            stamp: loaded.stamp,
            hash: loaded.hash,
            keys: keys.into_boxed_slice(),
            warnings: post.warnings.clone().into_boxed_slice(),
            taxonomy_lines: post.taxonomy_lines,
        };
        self.dormant.insert(source.to_string(), record, place);
    }

    /// Whether the list of `key` has a post visible at `now` (archived ones included).
    pub(crate) fn has_entries_at(&self, key: &FeedKey, now: DateTime<Utc>) -> bool {
        self.index.get(key).is_some_and(|set| set.iter().any(|o| o.is_visible_at(now)))
    }

    /// Whether the list of `key` has a post from `_posts` (not archived) visible at `now`.
    pub(crate) fn has_live_entries_at(&self, key: &FeedKey, now: DateTime<Utc>) -> bool {
        self.index.get(key).is_some_and(|set| set.iter().any(|o| !o.post.archived && o.is_visible_at(now)))
    }

    /// The earliest date after `now` at which a future post becomes visible.
    pub(crate) fn next_publication(&self, now: DateTime<Utc>) -> Option<DateTime<FixedOffset>> {
        let set = self.index.get(&FeedKey::Site)?;
        set.iter().take_while(|o| !o.is_visible_at(now)).last().map(|o| o.post.date)
    }

    /// Feeds with a post whose date lies in (`after`, `until`]: they change when time passes.
    pub(crate) fn feeds_published_between(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> BTreeSet<FeedKey> {
        let mut keys = BTreeSet::new();
        if let Some(set) = self.index.get(&FeedKey::Site) {
            for o in set.iter().skip_while(|o| !o.is_visible_at(until)).take_while(|o| !o.is_visible_at(after)) {
                keys.extend(keys_of(&o.post));
            }
        }
        keys
    }

    /// Path on disk of a post's file.
    pub(crate) fn path_of(&self, source: &str) -> Option<&Path> {
        self.posts.get(source).map(|l| l.path.as_path())
    }

    /// The hash of the bytes the post was parsed from.
    pub(crate) fn hash_of(&self, source: &str) -> Option<u64> {
        self.posts.get(source).map(|l| l.hash)
    }

    /// Parsed posts, including unpublished ones.
    pub(crate) fn posts(&self) -> impl Iterator<Item = &Arc<Post>> {
        self.posts.values().map(|l| &l.post)
    }

    /// Posts that parsed, sleeping ones included.
    pub(crate) fn post_count(&self) -> usize {
        self.posts.len() + self.dormant.len()
    }

    /// How many archived posts sleep (see [`Site::settle`]).
    pub(crate) fn sleeping(&self) -> usize {
        self.dormant.len()
    }

    /// The warnings of the sleeping posts, which [`Site::posts`] does not list.
    pub(crate) fn sleeping_warnings(&self) -> impl Iterator<Item = (&str, &post::PostWarning)> {
        self.dormant.iter().flat_map(|(source, record)| record.warnings.iter().map(move |w| (source.as_str(), w)))
    }

    /// The warnings of the post at `source`, awake or asleep.
    pub(crate) fn warnings_of(&self, source: &str) -> &[post::PostWarning] {
        match self.posts.get(source) {
            Some(loaded) => &loaded.post.warnings,
            None => self.dormant.get(source).map_or(&[], |record| &record.warnings),
        }
    }

    /// Each sleeping post's source path, feeds and the lines its names were read from.
    pub(crate) fn sleeping_names(&self) -> impl Iterator<Item = (&str, &[FeedKey], post::TaxonomyLines)> {
        self.dormant.iter().map(|(source, record)| (source.as_str(), &record.keys[..], record.taxonomy_lines))
    }

    /// Files under `_posts` that are not in the feeds, and why; and the posts kept as they were
    /// last parsed, with what is wrong with their file now (see [`Site::kept_last_good`]).
    pub(crate) fn problems(&self) -> impl Iterator<Item = (&str, &PostError)> {
        self.problems.iter().map(|(source, error)| (source.as_str(), error))
    }

    /// Whether the post at `source` is in the feeds as it was last parsed, its file being broken
    /// now (see `server.keep_last_good`).
    pub(crate) fn kept_last_good(&self, source: &str) -> bool {
        self.problems.contains_key(source) && self.file_of(source).is_some()
    }

    /// Why the file at `source` is not in the feeds (or, when [`Site::kept_last_good`], is in
    /// them as it was), if it is not.
    pub(crate) fn problem(&self, source: &str) -> Option<&PostError> {
        self.problems.get(source)
    }

    /// The key of every list in the index: the site, and each category and tag some published
    /// post names (future posts included).
    pub(crate) fn index_keys(&self) -> impl Iterator<Item = &FeedKey> {
        self.index.keys()
    }
}

/// The stamp of a post file that may be taken from the index: `None` for a symbolic link (never
/// taken from it) or a file that cannot be `stat`ed.
fn stamp_of(candidate: &Candidate) -> Option<Stamp> {
    let meta = std::fs::symlink_metadata(&candidate.path).ok()?;
    meta.is_file().then(|| Stamp::from_metadata(&meta))
}

/// The post the index holds for `candidate`, if its file still has the stamp recorded (a `stat`
/// instead of a read and a parse).
fn indexed(index: &mut PostIndex, candidate: &Candidate, stamp: Stamp) -> Option<Read> {
    let (post, hash) = index.take(&candidate.source, &stamp)?;
    Some(Read::Parsed { post: Box::new(post), hash, stamp, is_link: false })
}

/// Writes the post index on a thread of its own, at low priority, so that the first feeds are
/// not held up by it.
fn spawn_index_writer(
    file: std::path::PathBuf,
    config: Config,
    scan_started: std::time::SystemTime,
    records: Vec<post_index::Record>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        crate::threads::lower_priority();
        let started = std::time::Instant::now();
        match post_index::write(&file, &config, scan_started, &records) {
            Ok(kept) => {
                tracing::debug!("post index: {kept} posts written to {} in {:?}", file.display(), started.elapsed())
            }
            Err(e) => {
                tracing::warn!("cannot write the post index {}: {e}; the next start reads every post", file.display())
            }
        }
    })
}

/// Where a feed's entries ended when [`Site::settle`] last looked.
#[derive(Debug, Clone)]
struct Cut {
    past: Option<Order>,
    /// Whether the list is as it was then.
    fresh: bool,
}

/// Where a feed's list goes on past the entries it shows.
#[derive(Clone, Copy)]
struct Full<'a> {
    /// The post that took the last place.
    last: &'a Order,
    /// The first post past the entries: it and all after it are out of sight.
    past: &'a Order,
}

/// A file read for the site.
enum Read {
    /// `hash` is the bytes' [`content_hash`]; `stamp` and `is_link` come from opening the file.
    Parsed {
        post: Box<Post>,
        hash: u64,
        stamp: Stamp,
        is_link: bool,
    },
    Failed(PostError),
    /// Same stamp as last time: not read.
    Unchanged,
}

/// Whether the file at `source` is named like a post (`2021-12-24-slug.md`).
/// A post's URL as a path below the site's URL (`/2020/01/02/a.html`), as templates use it.
pub(super) fn url_path(site_url: &str, url: &str) -> String {
    match url.strip_prefix(site_url) {
        Some(rest) => format!("/{rest}"),
        None => url.to_string(),
    }
}

fn is_post_name(source: &str) -> bool {
    post::parse_name(source.rsplit('/').next().unwrap_or(source)).is_some()
}

fn undated(source: &str) -> PostError {
    PostError::new(source, PostErrorKind::UndatedName)
}

/// Why the file at `source` is not in the feeds, when it could not be read.
fn not_read(source: &str, error: ReadError) -> PostError {
    let kind = match error {
        ReadError::Unreadable(reason) => PostErrorKind::Unreadable(reason),
        ReadError::NotAFile => PostErrorKind::NotAFile,
        ReadError::NameNotUtf8 => PostErrorKind::NameNotUtf8,
        ReadError::TooLarge { size, limit } => PostErrorKind::TooLarge { size, limit },
        ReadError::LinkOutside(target) => PostErrorKind::LinkOutside(target),
    };
    PostError::new(source, kind)
}

fn read_and_parse(tree: &Tree, candidate: &Candidate, limit: u64, config: &Config) -> Read {
    read_and_parse_keeping_bytes(tree, candidate, limit, config).0
}

/// [`read_and_parse`], with the bytes of a post that parsed.
fn read_and_parse_keeping_bytes(
    tree: &Tree,
    candidate: &Candidate,
    limit: u64,
    config: &Config,
) -> (Read, Option<Vec<u8>>) {
    if !is_post_name(&candidate.source) {
        return (Read::Failed(undated(&candidate.source)), None);
    }
    // A file in an archive folder is read as the post it was in `_posts`, so that its link and id
    // stay those its subscribers already have; it keeps its own source path.
    let archived_as = tree.archived_as(&candidate.source);
    let parse_as = archived_as.as_deref().unwrap_or(&candidate.source);
    match tree.read(candidate, limit) {
        Ok(file) => {
            let hash = content_hash(&file.bytes);
            match post::parse(parse_as, &file.bytes, &config.site) {
                Ok(mut post) => {
                    if archived_as.is_some() {
                        post.source = candidate.source.clone();
                        post.archived = true;
                    }
                    let read = Read::Parsed { post: Box::new(post), hash, stamp: file.stamp, is_link: file.is_link };
                    (read, Some(file.bytes))
                }
                Err(mut e) => {
                    e.path = PathBuf::from(&candidate.source);
                    (Read::Failed(e), None)
                }
            }
        }
        Err(e) => (Read::Failed(not_read(&candidate.source, e)), None),
    }
}

#[cfg(test)]
mod tests {
    use super::dormant::site_tests::config;
    use super::*;

    fn post_text(title: &str) -> String {
        format!("---\ntitle: {title}\ndate: 2021-12-01 08:00:00 +0800\ncategories: [paper]\n---\nbody\n")
    }

    /// What [`prefetch::Prefetch`] would have read at `path` now, with its title replaced, so that
    /// the test sees whether the refresh used it or read the file itself.
    fn early_read(site: &Site, config: &Config, path: &Path, title: &str) -> Prefetched {
        let candidate = site.tree.candidate(path).unwrap();
        let mut read = read_and_parse(&site.tree, &candidate, site.max_post_bytes, config);
        let Read::Parsed { post, .. } = &mut read else { panic!("not parsed") };
        post.title = title.to_string();
        let mut early = Prefetched::default();
        early.insert(path.to_path_buf(), read);
        early
    }

    #[test]
    fn a_post_read_early_is_used_while_its_file_keeps_the_stamp_it_was_read_with() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("_posts")).unwrap();
        let config = config(root);
        let mut site = Site::load(&config).unwrap();
        let source = "_posts/2021-12-01-a.md";
        let path = root.join(source);

        std::fs::write(&path, post_text("On disk")).unwrap();
        let early = early_read(&site, &config, &path, "Read early");
        let changes = site.refresh_with(std::slice::from_ref(&path), &config, early);
        assert_eq!(changes.read, [source]);
        assert_eq!(site.post(source).unwrap().title, "Read early", "the early read was not used");

        // Read early, then written again: the refresh reads the file.
        let early = early_read(&site, &config, &path, "Read early");
        std::fs::write(&path, post_text("Written since")).unwrap();
        site.refresh_with(std::slice::from_ref(&path), &config, early);
        assert_eq!(site.post(source).unwrap().title, "Written since", "an early read of older bytes was used");

        // Read early, then replaced by a rename with bytes of the same length.
        let early = early_read(&site, &config, &path, "Read early");
        let other = root.join("_posts/.2021-12-01-a.md.tmp");
        std::fs::write(&other, post_text("Renamed since")).unwrap();
        assert_eq!(std::fs::metadata(&other).unwrap().len(), std::fs::metadata(&path).unwrap().len());
        std::fs::rename(&other, &path).unwrap();
        site.refresh_with(std::slice::from_ref(&path), &config, early);
        assert_eq!(site.post(source).unwrap().title, "Renamed since", "an early read of a replaced file was used");

        // Read early, then written in place with bytes of the same length and the old mtime put
        // back: the change time still tells.
        let early = early_read(&site, &config, &path, "Read early");
        let modified = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::fs::write(&path, post_text("Same length")).unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_times(std::fs::FileTimes::new().set_modified(modified)).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), modified);
        site.refresh_with(std::slice::from_ref(&path), &config, early);
        assert_eq!(site.post(source).unwrap().title, "Same length", "an early read of older bytes was used");
    }

    #[test]
    fn a_linked_post_is_read_again_by_the_update() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("_posts")).unwrap();
        std::fs::write(root.join("target.md"), post_text("On disk")).unwrap();
        let source = "_posts/2021-12-01-linked.md";
        let path = root.join(source);
        std::os::unix::fs::symlink(root.join("target.md"), &path).unwrap();
        let config = config(root);
        let mut site = Site::load(&config).unwrap();
        assert_eq!(site.post(source).unwrap().title, "On disk");
        // Its target changes under another path, whose events an early read of the link is not
        // checked against.
        std::fs::write(root.join("target.md"), post_text("Changed")).unwrap();
        let early = early_read(&site, &config, &path, "Read early");
        site.refresh_with(std::slice::from_ref(&path), &config, early);
        assert_eq!(site.post(source).unwrap().title, "Changed", "an early read of a linked post was used");
    }
}
