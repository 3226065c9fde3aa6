//! Entry texts (summary and content) of the posts feeds show. Made in the site layer, so that
//! rendering never touches a file: a post's file is read again, checked against the hash of the
//! bytes the post was parsed from, and turned into feed text. Kept while some feed shows the post,
//! so memory holds the texts of those posts only, never of every post in the site. The daemon
//! strips a text down to its problems once the entry's bytes are made from it
//! ([`EntryTexts::strip`]): from then on the bytes are what the entry shows.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use rayon::prelude::*;

use super::{content_hash, ContentRenderer, FeedKey, Site};
use crate::post::{EntryText, Post};
use crate::scan::Candidate;
use crate::template;

/// A post's entry text, the hash of the file bytes it was made from, and its version: a number
/// no other text made here has, which the entry bytes made from the text remember.
#[derive(Debug)]
struct Versioned {
    hash: u64,
    version: u64,
    text: Arc<EntryText>,
    /// Only the problems are left: the entry's bytes were made and hold the rest.
    stripped: bool,
    /// The same text holds for the same bytes at another path read as the same post (see
    /// [`EntryTexts::carry`]): it has no problem (whose messages name the path), and its Liquid
    /// neither read a file next to the post nor looked a post up ([`EntryText::reads_paths`]).
    movable: bool,
    /// The posts its Liquid looked up and what it found: the text is stale once one of them would
    /// be found elsewhere (see [`EntryTexts::drop_stale`]).
    lookups: Vec<template::Lookup>,
    /// Whether Liquid ran on it ([`EntryText::liquid`]).
    liquid: bool,
    /// Whether its Liquid read `site.posts`: the text is stale once any post changed.
    reads_posts: bool,
    /// Whether its entry may be kept for the next run ([`EntryTexts::storable`]): no problem
    /// (reported again by every run that makes it) and no file read beside the post (whose
    /// changes nothing records).
    storable: bool,
    /// Its entry was kept by an earlier run and reused, not made ([`EntryTexts::adopt`]).
    adopted: bool,
}

/// What an entry kept for the next run was made from, besides its post: see
/// [`crate::entry_store`].
#[derive(Debug)]
pub(crate) struct Made<'t> {
    pub(crate) version: u64,
    /// The content hash of the file the text was made from.
    pub(crate) hash: u64,
    pub(crate) liquid: bool,
    pub(crate) lookups: &'t [template::Lookup],
    /// It was reused from the state folder, not made by this run.
    pub(crate) adopted: bool,
}

static NEXT_VERSION: AtomicU64 = AtomicU64::new(0);

/// A version number unique in the process, so that no set of texts ever reuses another's.
fn next_version() -> u64 {
    NEXT_VERSION.fetch_add(1, Ordering::Relaxed)
}

/// The texts of the posts in feeds, by source path, each for one version (content hash) of its
/// file; and which posts each feed shows, so that a text goes when no feed shows its post.
#[derive(Debug, Default)]
pub(crate) struct EntryTexts {
    /// Source path to the text and what it was made from.
    texts: HashMap<String, Versioned>,
    /// The posts (source paths) each feed showed when it was last rendered.
    shown: HashMap<FeedKey, Vec<String>>,
    /// How many feeds show each post.
    uses: HashMap<String, usize>,
    /// How many texts were made in all.
    made: u64,
    /// How many of them may be kept in the state folder: the file is behind only when one of
    /// those was made.
    made_storable: u64,
    /// Posts whose text was dropped since [`EntryTexts::take_dropped`], so that what is held
    /// beside the texts (the entries' bytes) is dropped with them, without a pass over all.
    dropped: Vec<String>,
    /// Texts made before they were needed (see [`crate::site::Prefetch`]), by source path, with
    /// the hash of the bytes they were made from: [`EntryTexts::load`] takes one instead of
    /// making it if the post was parsed from those bytes.
    offered: HashMap<String, (u64, EntryText)>,
}

impl EntryTexts {
    /// The posts whose text was dropped since the last call (some may have one again since).
    pub(crate) fn take_dropped(&mut self) -> Vec<String> {
        std::mem::take(&mut self.dropped)
    }

    /// Drops the text of the post at `source`, noting it.
    fn drop_text(&mut self, source: &str) -> Option<Versioned> {
        let held = self.texts.remove(source)?;
        self.dropped.push(source.to_string());
        Some(held)
    }

    /// Offers a text made from the bytes with `hash` of the post at `source`, by the renderer
    /// that [`EntryTexts::load`] is given next.
    pub(crate) fn offer(&mut self, source: String, hash: u64, text: EntryText) {
        self.offered.insert(source, (hash, text));
    }

    /// Drops the offered texts that no load took.
    pub(crate) fn withdraw_offers(&mut self) {
        self.offered = HashMap::new();
    }

    #[cfg(test)]
    pub(crate) fn offers(&self) -> usize {
        self.offered.len()
    }

    /// The text of the post at `source`, as [`EntryTexts::load`] left it.
    pub(crate) fn get(&self, source: &str) -> Option<&Arc<EntryText>> {
        self.texts.get(source).map(|held| &held.text)
    }

    /// The text of the post at `source` and its version.
    pub(crate) fn versioned(&self, source: &str) -> Option<(u64, &Arc<EntryText>)> {
        self.texts.get(source).map(|held| (held.version, &held.text))
    }

    /// Makes sure each of `posts` has the text of the file version it was parsed from: a cached
    /// text of that version is kept, the others are made on all cores. A post whose file changed
    /// since it was parsed gets no text (the watcher has reported the change or will, and the
    /// entry must not carry text that belongs to other metadata). A stripped text counts only
    /// while `bytes_held` says the entry's bytes made from it (post and version) are still there.
    /// Returns the template problems of the texts it made.
    pub(crate) fn load<'p>(
        &mut self,
        site: &Site,
        renderer: &ContentRenderer,
        posts: impl IntoIterator<Item = &'p Arc<Post>>,
        bytes_held: impl Fn(&Arc<Post>, u64) -> bool,
    ) -> Vec<template::Problem> {
        let mut needed: BTreeMap<&str, &Arc<Post>> = BTreeMap::new();
        for post in posts {
            if !self.is_fresh(site, post, |version| bytes_held(post, version)) {
                needed.entry(&post.source).or_insert(post);
            }
        }
        let mut offered = Vec::new();
        if !self.offered.is_empty() {
            needed.retain(|source, _| match self.offered.remove(*source) {
                Some((hash, text)) if Some(hash) == site.hash_of(source) => {
                    offered.push((source.to_string(), Some((hash, text))));
                    false
                }
                _ => true,
            });
        }
        let mut made: Vec<(String, Option<(u64, EntryText)>)> = needed
            .into_par_iter()
            .map(|(source, post)| (source.to_string(), make_text(site, renderer, post)))
            .collect();
        made.append(&mut offered);
        let mut problems = Vec::new();
        self.made += made.len() as u64;
        for (source, text) in made {
            match text {
                Some((hash, mut text)) => {
                    problems.extend(text.problems.iter().cloned());
                    let movable = text.problems.is_empty() && !text.reads_paths();
                    let storable = text.problems.is_empty() && !text.reads_beside;
                    self.made_storable += u64::from(storable);
                    let lookups = std::mem::take(&mut text.lookups);
                    let (liquid, reads_posts) = (text.liquid, text.reads_posts);
                    let text = Arc::new(text);
                    let held = Versioned {
                        hash,
                        version: next_version(),
                        text,
                        stripped: false,
                        movable,
                        lookups,
                        liquid,
                        reads_posts,
                        storable,
                        adopted: false,
                    };
                    self.texts.insert(source, held)
                }
                None => self.drop_text(&source),
            };
        }
        problems
    }

    /// Whether the post has the text of the file version it was parsed from, and, if the text
    /// was stripped, `bytes_held` says its entry's bytes are still there (see [`EntryTexts::load`]).
    pub(crate) fn is_fresh(&self, site: &Site, post: &Post, bytes_held: impl Fn(u64) -> bool) -> bool {
        self.texts.get(&post.source).is_some_and(|held| {
            Some(held.hash) == site.hash_of(&post.source) && (!held.stripped || bytes_held(held.version))
        })
    }

    /// What the text of the post at `source` was made from, if its entry may be kept for the next
    /// run.
    pub(crate) fn storable(&self, source: &str) -> Option<Made<'_>> {
        let held = self.texts.get(source).filter(|held| held.storable)?;
        Some(Made {
            version: held.version,
            hash: held.hash,
            liquid: held.liquid,
            lookups: &held.lookups,
            adopted: held.adopted,
        })
    }

    /// Files a text kept from an earlier run for the post at `source`: only its entry's bytes were
    /// kept, so it counts as stripped, with no problem. Returns its version, for those bytes.
    pub(crate) fn adopt(&mut self, source: &str, hash: u64, liquid: bool, lookups: Vec<template::Lookup>) -> u64 {
        let version = next_version();
        let held = Versioned {
            hash,
            version,
            text: Arc::new(EntryText::default()),
            stripped: true,
            movable: lookups.is_empty(),
            lookups,
            liquid,
            // No entry whose Liquid read `site.posts` is kept (see `Build::keep_entries`).
            reads_posts: false,
            storable: true,
            adopted: true,
        };
        self.texts.insert(source.to_string(), held);
        version
    }

    /// Keeps only the problems of the texts of `sources` whose entry bytes `bytes_made` says were
    /// made from them (source path and version): summary, content and author are then in those
    /// bytes, and holding them twice would cost about a third of what a shown post costs the
    /// daemon.
    pub(crate) fn strip<'s>(
        &mut self,
        sources: impl IntoIterator<Item = &'s str>,
        bytes_made: impl Fn(&str, u64) -> bool,
    ) {
        for source in sources {
            if let Some(held) = self.texts.get_mut(source) {
                if !held.stripped && bytes_made(source, held.version) {
                    held.text = Arc::new(EntryText { problems: held.text.problems.clone(), ..EntryText::default() });
                    held.stripped = true;
                }
            }
        }
    }

    /// Files the text of the post at `old` under `new`, where the same bytes now are and are read
    /// as the same post: the feeds that showed it (some of `keys`, the feeds it was in) are
    /// counted as showing it at its new path, so the text lasts while they do. Returns the text's
    /// version, or `None` (nothing carried) when there was no text or it may differ at the new
    /// path (see [`Versioned::movable`]).
    pub(crate) fn carry(&mut self, old: &str, new: &str, keys: &[FeedKey]) -> Option<u64> {
        if self.texts.get(old).is_none_or(|held| !held.movable) || self.texts.contains_key(new) {
            return None;
        }
        let mut held = self.drop_text(old)?;
        // The kept entries hold it under its old path: it is no longer what they hold.
        held.adopted = false;
        let version = held.version;
        self.texts.insert(new.to_string(), held);
        if let Some(count) = self.uses.remove(old) {
            *self.uses.entry(new.to_string()).or_default() += count;
        }
        for key in keys {
            for source in self.shown.get_mut(key).into_iter().flatten().filter(|source| *source == old) {
                new.clone_into(source);
            }
        }
        Some(version)
    }

    /// Posts changed: drops the texts that read `site.posts`, and those that looked a post up and
    /// would now find something else (`holds` says whether a lookup still finds what it found: a
    /// post added, removed or moved), so that they are made again; returns their posts' source
    /// paths, whose feeds must be rendered again.
    pub(crate) fn drop_stale(&mut self, holds: impl Fn(&template::Lookup) -> bool) -> Vec<String> {
        let stale: Vec<String> = self
            .texts
            .iter()
            .filter(|(_, held)| held.reads_posts || held.lookups.iter().any(|lookup| !holds(lookup)))
            .map(|(source, _)| source.clone())
            .collect();
        for source in &stale {
            self.drop_text(source);
        }
        stale
    }

    /// Records that the feed `key` now shows `entries`; texts of posts that no feed shows any
    /// more are dropped.
    pub(crate) fn show(&mut self, key: &FeedKey, entries: &[Arc<Post>]) {
        let now: Vec<String> = entries.iter().map(|p| p.source.clone()).collect();
        for source in &now {
            *self.uses.entry(source.clone()).or_default() += 1;
        }
        let before = self.shown.insert(key.clone(), now).unwrap_or_default();
        self.release(before);
    }

    /// Forgets the feeds that `keep` refuses (they no longer exist), and the texts only they showed.
    pub(crate) fn retain_feeds(&mut self, keep: impl Fn(&FeedKey) -> bool) {
        let gone: Vec<FeedKey> = self.shown.keys().filter(|k| !keep(k)).cloned().collect();
        for key in gone {
            if let Some(before) = self.shown.remove(&key) {
                self.release(before);
            }
        }
    }

    fn release(&mut self, sources: Vec<String>) {
        for source in sources {
            if let Some(count) = self.uses.get_mut(&source) {
                *count -= 1;
                if *count == 0 {
                    self.uses.remove(&source);
                    self.drop_text(&source);
                }
            }
        }
    }

    /// The template problems of every text held, that is of every entry some feed shows.
    pub(crate) fn problems(&self) -> impl Iterator<Item = &template::Problem> {
        self.texts.values().flat_map(|held| held.text.problems.iter())
    }

    /// How many texts were made in all (kept ones adopted not counted).
    #[cfg(test)]
    pub(crate) fn made(&self) -> u64 {
        self.made
    }

    /// How many texts were made that may be kept in the state folder (no template problem, no
    /// file read beside the post): an entry that can never be kept is no reason to write it.
    pub(crate) fn made_storable(&self) -> u64 {
        self.made_storable
    }

    /// How many posts have a text.
    pub(crate) fn len(&self) -> usize {
        self.texts.len()
    }

    /// Bytes of text held, for debug logs.
    pub(crate) fn bytes(&self) -> usize {
        self.texts.values().flat_map(|held| [&held.text.summary, &held.text.content]).flatten().map(String::len).sum()
    }
}

/// A post's entry text from its file, if the file still holds the bytes the post was parsed from.
fn make_text(site: &Site, renderer: &ContentRenderer, post: &Post) -> Option<(u64, EntryText)> {
    let path = site.path_of(&post.source)?;
    let candidate = Candidate::new(post.source.clone(), path.to_path_buf());
    let bytes = site.tree.read(&candidate, site.max_post_bytes).ok()?.bytes;
    let hash = content_hash(&bytes);
    if Some(hash) != site.hash_of(&post.source) {
        return None;
    }
    let text = renderer.entry_text(post, &bytes)?;
    Some((hash, text))
}
