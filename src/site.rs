//! The in-memory site: every post by source path, kept sorted per feed, updated file by file.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use chrono::{DateTime, FixedOffset, Utc};
use rayon::prelude::*;

use crate::config::Config;
use crate::feed::FeedKey;
use crate::post::{self, Post, PostError};
use crate::scan::{Candidate, Tree};

/// What tells a file's version apart without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    pub len: u64,
    pub modified: Option<SystemTime>,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Stamp { len: meta.len(), modified: meta.modified().ok() })
    }
}

/// A post's place in every feed: newest first, ties broken by URL, then by source path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Order {
    newest_first: Reverse<(i64, u32)>,
    url: String,
    source: String,
}

impl Order {
    fn of(post: &Post) -> Order {
        let utc = post.date.with_timezone(&Utc);
        Order {
            newest_first: Reverse((utc.timestamp(), utc.timestamp_subsec_nanos())),
            url: post.url.clone(),
            source: post.source.clone(),
        }
    }

    fn is_visible_at(&self, now: DateTime<Utc>) -> bool {
        let (secs, nanos) = self.newest_first.0;
        (secs, nanos) <= (now.timestamp(), now.timestamp_subsec_nanos())
    }
}

struct Loaded {
    post: Arc<Post>,
    stamp: Option<Stamp>,
    path: PathBuf,
}

/// The posts of one source tree.
pub struct Site {
    pub tree: Tree,
    max_post_bytes: u64,
    posts: HashMap<String, Loaded>,
    problems: BTreeMap<String, PostError>,
    /// Published posts (future ones included) per feed, in feed order.
    index: BTreeMap<FeedKey, BTreeSet<Order>>,
}

/// What one refresh changed.
#[derive(Debug, Default)]
pub struct Changes {
    /// Files read again because they are new or their stamp changed.
    pub files_read: usize,
    /// Posts that are gone.
    pub removed: usize,
    /// Feeds whose entries may differ now.
    pub feeds: BTreeSet<FeedKey>,
}

impl Site {
    /// Scans and parses the whole tree, on all cores.
    pub fn load(config: &Config) -> std::io::Result<Site> {
        let tree = Tree::new(&config.source_dir, &config.output_dir);
        let scan = tree.scan()?;
        let mut site = Site {
            tree,
            max_post_bytes: config.feeds.max_post_bytes,
            posts: HashMap::new(),
            problems: BTreeMap::new(),
            index: BTreeMap::new(),
        };
        for problem in scan.problems {
            site.problems.insert(problem.path.to_string_lossy().into_owned(), problem);
        }
        let parsed: Vec<(Candidate, Option<Stamp>, Result<Post, PostError>)> = scan
            .candidates
            .into_par_iter()
            .map(|c| {
                let stamp = Stamp::of(&c.path);
                let result = site.tree.read(&c, site.max_post_bytes).and_then(|bytes| post::parse(&c.source, &bytes, &config.site));
                (c, stamp, result)
            })
            .collect();
        for (candidate, stamp, result) in parsed {
            site.store(candidate, stamp, result, &mut Changes::default());
        }
        Ok(site)
    }

    /// Folds in whatever happened at `paths` (files or folders, created, changed or gone): only
    /// files whose stamp changed are read again.
    pub fn refresh(&mut self, paths: &[PathBuf], config: &Config) -> Changes {
        let mut changes = Changes::default();
        let mut candidates: BTreeMap<String, Candidate> = BTreeMap::new();
        for path in paths {
            if !self.tree.may_matter(path) && path != &self.tree.root {
                continue;
            }
            let prefix = post::source_name(&self.tree.root, path);
            // Known posts at or below the path: they may be gone or renamed.
            for (source, loaded) in &self.posts {
                if path == &self.tree.root || source == &prefix || source.starts_with(&format!("{prefix}/")) {
                    candidates.insert(source.clone(), Candidate { source: source.clone(), path: loaded.path.clone() });
                }
            }
            for source in self.problems.keys() {
                if path == &self.tree.root || source == &prefix || source.starts_with(&format!("{prefix}/")) {
                    candidates.insert(source.clone(), Candidate { source: source.clone(), path: self.tree.root.join(source) });
                }
            }
            match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.is_dir() => {
                    if let Ok(scan) = self.tree.scan_under(path) {
                        for c in scan.candidates {
                            candidates.insert(c.source.clone(), c);
                        }
                        for p in scan.problems {
                            let source = p.path.to_string_lossy().into_owned();
                            self.problems.insert(source, p);
                        }
                    }
                }
                Ok(_) => {
                    if let Some(c) = self.tree.candidate(path) {
                        candidates.insert(c.source.clone(), c);
                    }
                }
                Err(_) => {}
            }
        }
        let work: Vec<Candidate> = candidates.into_values().collect();
        let results: Vec<(Candidate, Option<Stamp>, Option<Result<Post, PostError>>)> = work
            .into_par_iter()
            .map(|c| {
                let stamp = Stamp::of(&c.path);
                let unchanged = stamp.is_some() && self.posts.get(&c.source).is_some_and(|l| l.stamp == stamp);
                let result = match stamp {
                    None => None,
                    Some(_) if unchanged => {
                        let post = Post::clone(&self.posts[&c.source].post);
                        return (c, stamp, Some(Ok(post)));
                    }
                    Some(_) => Some(self.tree.read(&c, self.max_post_bytes).and_then(|bytes| post::parse(&c.source, &bytes, &config.site))),
                };
                (c, stamp, result)
            })
            .collect();
        for (candidate, stamp, result) in results {
            match result {
                None => {
                    self.problems.remove(&candidate.source);
                    if let Some(old) = self.remove(&candidate.source) {
                        changes.removed += 1;
                        changes.feeds.extend(keys_of(&old));
                    }
                }
                Some(Ok(post)) if self.posts.get(&candidate.source).is_some_and(|l| l.stamp == stamp && *l.post == post) => {}
                Some(result) => {
                    changes.files_read += 1;
                    self.store(candidate, stamp, result, &mut changes);
                }
            }
        }
        changes
    }

    fn store(&mut self, candidate: Candidate, stamp: Option<Stamp>, result: Result<Post, PostError>, changes: &mut Changes) {
        if let Some(old) = self.remove(&candidate.source) {
            changes.feeds.extend(keys_of(&old));
        }
        self.problems.remove(&candidate.source);
        match result {
            Ok(post) => {
                let post = Arc::new(post);
                if post.published {
                    let order = Order::of(&post);
                    for key in keys_of(&post) {
                        changes.feeds.insert(key.clone());
                        self.index.entry(key).or_default().insert(order.clone());
                    }
                }
                self.posts.insert(candidate.source, Loaded { post, stamp, path: candidate.path });
            }
            Err(error) => {
                self.problems.insert(candidate.source, error);
            }
        }
    }

    fn remove(&mut self, source: &str) -> Option<Arc<Post>> {
        let loaded = self.posts.remove(source)?;
        if loaded.post.published {
            let order = Order::of(&loaded.post);
            for key in keys_of(&loaded.post) {
                if let Some(set) = self.index.get_mut(&key) {
                    set.remove(&order);
                    if set.is_empty() {
                        self.index.remove(&key);
                    }
                }
            }
        }
        Some(loaded.post)
    }

    /// The entries of one feed at `now`: published, not in the future, newest first, at most `limit`.
    pub fn entries(&self, key: &FeedKey, now: DateTime<Utc>, limit: usize) -> Vec<Arc<Post>> {
        let Some(set) = self.index.get(key) else { return Vec::new() };
        set.iter()
            .filter(|o| o.is_visible_at(now))
            .take(limit)
            .map(|o| Arc::clone(&self.posts[&o.source].post))
            .collect()
    }

    /// Every feed that has at least one visible entry at `now`; the site feed always.
    pub fn feed_keys(&self, now: DateTime<Utc>) -> Vec<FeedKey> {
        let mut keys: Vec<FeedKey> = self
            .index
            .iter()
            .filter(|(_, set)| set.iter().any(|o| o.is_visible_at(now)))
            .map(|(k, _)| k.clone())
            .collect();
        if !keys.contains(&FeedKey::Site) {
            keys.insert(0, FeedKey::Site);
        }
        keys
    }

    /// The earliest date after `now` at which a future post becomes visible.
    pub fn next_publication(&self, now: DateTime<Utc>) -> Option<DateTime<FixedOffset>> {
        let set = self.index.get(&FeedKey::Site)?;
        set.iter()
            .take_while(|o| !o.is_visible_at(now))
            .last()
            .map(|o| self.posts[&o.source].post.date)
    }

    /// Feeds with a post whose date lies in (`after`, `until`]: they change when time passes.
    pub fn feeds_published_between(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> BTreeSet<FeedKey> {
        let mut keys = BTreeSet::new();
        if let Some(set) = self.index.get(&FeedKey::Site) {
            for o in set.iter().skip_while(|o| !o.is_visible_at(until)).take_while(|o| !o.is_visible_at(after)) {
                keys.extend(keys_of(&self.posts[&o.source].post));
            }
        }
        keys
    }

    /// Path on disk of a post's file.
    pub fn path_of(&self, source: &str) -> Option<&Path> {
        self.posts.get(source).map(|l| l.path.as_path())
    }

    pub fn stamp_of(&self, source: &str) -> Option<Stamp> {
        self.posts.get(source).and_then(|l| l.stamp)
    }

    /// Parsed posts, including unpublished ones.
    pub fn posts(&self) -> impl Iterator<Item = &Arc<Post>> {
        self.posts.values().map(|l| &l.post)
    }

    pub fn post_count(&self) -> usize {
        self.posts.len()
    }

    /// Files under `_posts` that are not in the feeds, and why.
    pub fn problems(&self) -> impl Iterator<Item = &PostError> {
        self.problems.values()
    }

    /// Every category and tag name, for reporting path collisions.
    pub fn taxonomy_names(&self) -> impl Iterator<Item = &FeedKey> {
        self.index.keys()
    }
}

/// The feeds a post belongs to.
pub fn keys_of(post: &Post) -> Vec<FeedKey> {
    let mut keys = Vec::with_capacity(1 + post.categories.len() + post.tags.len());
    keys.push(FeedKey::Site);
    keys.extend(post.categories.iter().map(|c| FeedKey::Category(c.clone())));
    keys.extend(post.tags.iter().map(|t| FeedKey::Tag(t.clone())));
    keys
}
