//! Each entry's bytes made once per format and shared: every feed that shows a post holds the same
//! `<entry>`, `<item>` or JSON item bytes, kept here while the post and its text stay the same.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use rayon::prelude::*;

use super::{atom, json, rss, EntryBytes, Feed, Format, SharedTexts};
use crate::config::Config;
use crate::post::{EntryText, Post};

/// One post's bytes in each format made so far, the post they were made from and the version of
/// its text (see [`crate::site::EntryTexts`]; `None`: it had none). The text itself is not kept:
/// once the bytes are made, they are what the entry shows.
#[derive(Debug)]
struct Fragment {
    post: Arc<Post>,
    version: Option<u64>,
    bytes: [Option<EntryBytes>; 3],
    /// What its RSS item uses, for the channel to declare.
    rss_uses: rss::Uses,
}

/// A post's text and its version (`None`: the post has no text).
pub(crate) type VersionedText = (Option<u64>, Arc<EntryText>);

/// Where [`Fragments`] holds an entry's bytes in `format`: Atom, RSS, then JSON.
pub(crate) fn slot(format: Format) -> usize {
    match format {
        Format::Atom => 0,
        Format::Rss => 1,
        Format::Json => 2,
    }
}

/// The entries' bytes, by post source path.
#[derive(Debug, Default)]
pub(crate) struct Fragments {
    by_source: HashMap<String, Fragment>,
}

impl Fragments {
    /// Makes, on all cores, the fragments that `feeds` need and that are not held yet for the
    /// same post (the same `Arc`: the site makes a new one whenever the file changes) and the same
    /// version of its text. `text_of` gives a post's text and its version.
    pub(crate) fn prepare<T>(&mut self, config: &Config, feeds: &[Feed], text_of: T)
    where
        T: Fn(&Post) -> VersionedText,
    {
        let formats: BTreeSet<Format> = feeds.iter().flat_map(|f| f.files.iter().map(|(format, _)| *format)).collect();
        let mut needed: HashMap<&str, (&Arc<Post>, VersionedText)> = HashMap::new();
        for post in feeds.iter().flat_map(|feed| &feed.entries) {
            if needed.contains_key(post.source.as_str()) {
                continue;
            }
            let (version, text) = text_of(post);
            let held = version.is_some_and(|version| self.holds(post, version))
                && self
                    .by_source
                    .get(&post.source)
                    .is_some_and(|held| formats.iter().all(|f| held.bytes[slot(*f)].is_some()));
            if !held {
                needed.insert(&post.source, (post, (version, text)));
            }
        }
        let made: Vec<(String, Fragment)> = needed
            .into_par_iter()
            .map(|(source, (post, (version, text)))| {
                let shared = SharedTexts::of(&text);
                let mut bytes = [None, None, None];
                for &format in &formats {
                    bytes[slot(format)] = Some(render_sharing(config, format, post, &text, &shared));
                }
                let rss_uses = rss::Uses::of(config, post, &text);
                (source.to_string(), Fragment { post: Arc::clone(post), version, bytes, rss_uses })
            })
            .collect();
        self.by_source.extend(made);
    }

    /// Whether the bytes held for `post` were made from this very post and version `version` of
    /// its text.
    pub(crate) fn holds(&self, post: &Arc<Post>, version: u64) -> bool {
        self.by_source
            .get(&post.source)
            .is_some_and(|held| Arc::ptr_eq(&held.post, post) && held.version == Some(version))
    }

    /// Whether the bytes held for the post at `source` were made from version `version` of its
    /// text (from whichever parse of the post: [`Fragments::holds`] checks that).
    pub(crate) fn made_from(&self, source: &str, version: u64) -> bool {
        self.by_source.get(source).is_some_and(|held| held.version == Some(version))
    }

    /// The bytes of `post` in `format`, if they were made for this very post.
    pub(crate) fn get(&self, post: &Arc<Post>, format: Format) -> Option<&EntryBytes> {
        let held = self.by_source.get(&post.source)?;
        Arc::ptr_eq(&held.post, post).then(|| held.bytes[slot(format)].as_ref()).flatten()
    }

    /// What the RSS item of `post` uses, if it was made for this very post.
    pub(crate) fn rss_uses(&self, post: &Arc<Post>) -> Option<rss::Uses> {
        let held = self.by_source.get(&post.source)?;
        Arc::ptr_eq(&held.post, post).then_some(held.rss_uses)
    }

    /// Files the bytes made for the post at `old` from version `version` of its text under `post`,
    /// the same post read from the same bytes at a new path (entries never show the path).
    pub(crate) fn carry(&mut self, old: &str, post: &Arc<Post>, version: u64) {
        if self.by_source.get(old).is_some_and(|held| held.version == Some(version)) {
            if let Some(mut fragment) = self.by_source.remove(old) {
                fragment.post = Arc::clone(post);
                self.by_source.insert(post.source.clone(), fragment);
            }
        }
    }

    /// Files bytes kept from an earlier run (see [`crate::entry_store`]) for `post`, as made from
    /// version `version` of its text.
    pub(crate) fn adopt(
        &mut self,
        post: &Arc<Post>,
        version: u64,
        bytes: [Option<EntryBytes>; 3],
        rss_uses: rss::Uses,
    ) {
        let fragment = Fragment { post: Arc::clone(post), version: Some(version), bytes, rss_uses };
        self.by_source.insert(post.source.clone(), fragment);
    }

    /// Every entry's bytes held: the post and the version of its text they were made from, the
    /// bytes by [`slot`], and what the RSS item uses.
    pub(crate) fn held(&self) -> impl Iterator<Item = (&Arc<Post>, Option<u64>, &[Option<EntryBytes>; 3], rss::Uses)> {
        self.by_source.values().map(|held| (&held.post, held.version, &held.bytes, held.rss_uses))
    }

    /// Drops the bytes of the entry of the post at `source`.
    pub(crate) fn remove(&mut self, source: &str) {
        self.by_source.remove(source);
    }

    pub(crate) fn len(&self) -> usize {
        self.by_source.len()
    }

    /// The bytes held, all formats together, what they share counted once.
    pub(crate) fn bytes(&self) -> usize {
        self.by_source
            .values()
            .map(|fragment| {
                let mut pieces: Vec<&Bytes> = fragment.bytes.iter().flatten().flat_map(EntryBytes::pieces).collect();
                pieces.sort_by_key(|piece| (piece.as_ptr(), piece.len()));
                pieces.dedup_by_key(|piece| (piece.as_ptr(), piece.len()));
                pieces.iter().map(|piece| piece.len()).sum::<usize>()
            })
            .sum()
    }
}

/// One post's bytes in `format`.
pub(crate) fn render(config: &Config, format: Format, post: &Post, text: &EntryText) -> EntryBytes {
    render_sharing(config, format, post, text, &SharedTexts::of(text))
}

/// One post's bytes in `format`, around the escaped texts its other formats share.
fn render_sharing(config: &Config, format: Format, post: &Post, text: &EntryText, shared: &SharedTexts) -> EntryBytes {
    match format {
        Format::Atom => atom::entry(config, post, text, shared),
        Format::Rss => rss::item(config, post, text, shared),
        Format::Json => json::item(config, post, text),
    }
}
