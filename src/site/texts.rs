//! Entry texts (summary and content) of the posts feeds show. Made in the site layer, so that
//! rendering never touches a file: a post's file is read again, checked against the hash of the
//! bytes the post was parsed from, and turned into feed text. Kept while some feed shows the post,
//! so memory holds the texts of those posts only, never of every post in the site.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use rayon::prelude::*;

use super::{content_hash, ContentRenderer, FeedKey, Site};
use crate::post::{EntryText, Post};
use crate::scan::Candidate;
use crate::template;

/// A post's entry text and the hash of the file bytes it was made from.
type Versioned = (u64, Arc<EntryText>);

/// The texts of the posts in feeds, by source path, each for one version (content hash) of its
/// file; and which posts each feed shows, so that a text goes when no feed shows its post.
#[derive(Debug, Default)]
pub(crate) struct EntryTexts {
    /// Source path to the hash of the bytes the text was made from, and the text.
    texts: HashMap<String, Versioned>,
    /// The posts (source paths) each feed showed when it was last rendered.
    shown: HashMap<FeedKey, Vec<String>>,
    /// How many feeds show each post.
    uses: HashMap<String, usize>,
}

impl EntryTexts {
    /// The text of the post at `source`, as [`EntryTexts::load`] left it.
    pub(crate) fn get(&self, source: &str) -> Option<&Arc<EntryText>> {
        self.texts.get(source).map(|(_, text)| text)
    }

    /// Makes sure each of `posts` has the text of the file version it was parsed from: a cached
    /// text of that version is kept, the others are made on all cores. A post whose file changed
    /// since it was parsed gets no text (the watcher has reported the change or will, and the
    /// entry must not carry text that belongs to other metadata). Returns the template problems
    /// of the texts it made.
    pub(crate) fn load<'p>(
        &mut self,
        site: &Site,
        renderer: &ContentRenderer,
        posts: impl IntoIterator<Item = &'p Arc<Post>>,
    ) -> Vec<template::Problem> {
        let mut needed: BTreeMap<&str, &Arc<Post>> = BTreeMap::new();
        for post in posts {
            let fresh = self.texts.get(&post.source).is_some_and(|(hash, _)| Some(*hash) == site.hash_of(&post.source));
            if !fresh {
                needed.entry(&post.source).or_insert(post);
            }
        }
        let made: Vec<(String, Option<Versioned>)> = needed
            .into_par_iter()
            .map(|(source, post)| (source.to_string(), make_text(site, renderer, post)))
            .collect();
        let mut problems = Vec::new();
        for (source, text) in made {
            match text {
                Some(text) => {
                    problems.extend(text.1.problems.iter().cloned());
                    self.texts.insert(source, text)
                }
                None => self.texts.remove(&source),
            };
        }
        problems
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
                    self.texts.remove(&source);
                }
            }
        }
    }

    /// The template problems of every text held, that is of every entry some feed shows.
    pub(crate) fn problems(&self) -> impl Iterator<Item = &template::Problem> {
        self.texts.values().flat_map(|(_, text)| text.problems.iter())
    }

    /// How many posts have a text.
    pub(crate) fn len(&self) -> usize {
        self.texts.len()
    }

    /// Bytes of text held, for debug logs.
    pub(crate) fn bytes(&self) -> usize {
        self.texts.values().flat_map(|(_, t)| [&t.summary, &t.content]).flatten().map(String::len).sum()
    }
}

/// A post's entry text from its file, if the file still holds the bytes the post was parsed from.
fn make_text(site: &Site, renderer: &ContentRenderer, post: &Post) -> Option<Versioned> {
    let path = site.path_of(&post.source)?;
    let candidate = Candidate::new(post.source.clone(), path.to_path_buf());
    let bytes = site.tree.read(&candidate, site.max_post_bytes).ok()?.bytes;
    let hash = content_hash(&bytes);
    if Some(hash) != site.hash_of(&post.source) {
        return None;
    }
    let text = renderer.entry_text(post, &bytes)?;
    Some((hash, Arc::new(text)))
}
