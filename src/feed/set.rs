//! Which feeds exist at one moment and what each holds: the one place that decides it.
//!
//! Today: the site feed always; a feed per category and per tag that has a post visible at that
//! moment (in `_posts` or in an archive folder), or that once had one and is not yet retired
//! ([`Lifecycle`]), when `feeds.categories` / `feeds.tags` are on and `_config.yml`'s `feed:` block
//! lists it (`categories`, `tags: {only, except}`); each in the configured formats, at its
//! jekyll-feed path (or `feed.path` / `feed.tags.path`); its entries the newest `feeds.limit` visible posts (archived ones only in
//! category and tag feeds). Retired feeds are listed apart: they answer 410 Gone.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::lifecycle::{Lifecycle, Standing};
use super::{FeedKey, FeedPaths, Format};
use crate::config::FeedsConfig;
use crate::post::Post;
use crate::site::Site;

/// Whether `feeds.formats` names `format`.
fn wanted_format(config: &FeedsConfig, format: Format) -> bool {
    match format {
        Format::Atom => config.atom,
        Format::Rss => config.rss,
        Format::Json => config.json,
    }
}

/// The feeds of a site at one moment.
pub(crate) struct FeedSet<'s> {
    site: &'s Site,
    now: DateTime<Utc>,
    limit: usize,
    formats: Vec<Format>,
    paths: FeedPaths,
    keys: BTreeSet<FeedKey>,
    retired: BTreeSet<FeedKey>,
}

/// One feed as it is to be rendered: which it is, its files, and its entries, newest first.
#[derive(Debug, Clone)]
pub(crate) struct Feed {
    pub(crate) key: FeedKey,
    /// Each format's output-relative path (`feed/by_tag/x.xml`).
    pub(crate) files: Vec<(Format, String)>,
    pub(crate) entries: Vec<Arc<Post>>,
}

impl<'s> FeedSet<'s> {
    /// The feeds of `site` at `now` under `config`, with what `lifecycle` remembers of feeds
    /// that lost their posts.
    pub(crate) fn new(site: &'s Site, config: &FeedsConfig, lifecycle: &Lifecycle, now: DateTime<Utc>) -> FeedSet<'s> {
        let listed = |list: &Option<Vec<String>>, name: &String| list.as_ref().is_none_or(|names| names.contains(name));
        let wanted = |key: &FeedKey| match key {
            FeedKey::Site => true,
            FeedKey::Category(name) => config.categories && listed(&config.only_categories, name),
            FeedKey::Tag(name) => config.tags && listed(&config.only_tags, name) && !config.except_tags.contains(name),
        };
        let mut keys = BTreeSet::new();
        let mut retired = BTreeSet::new();
        for key in site.index_keys().chain(lifecycle.keys()).filter(|key| wanted(key)) {
            match lifecycle.standing(key, now) {
                Some(Standing::Retired) => {
                    retired.insert(key.clone());
                }
                Some(Standing::Kept) => {
                    keys.insert(key.clone());
                }
                Some(Standing::Live) | None => {
                    if site.has_entries_at(key, now) {
                        keys.insert(key.clone());
                    }
                }
            }
        }
        keys.insert(FeedKey::Site);
        let formats = Format::ALL.into_iter().filter(|&format| wanted_format(config, format)).collect();
        FeedSet { site, now, limit: config.limit, formats, paths: config.paths.clone(), keys, retired }
    }

    /// The output-relative paths of the retired feeds' files: they answer 410 Gone.
    pub(crate) fn retired_paths(&self) -> BTreeSet<String> {
        self.retired.iter().flat_map(|key| self.formats.iter().map(|&format| key.path(&self.paths, format))).collect()
    }

    /// Whether the feed `key` exists.
    pub(crate) fn contains(&self, key: &FeedKey) -> bool {
        self.keys.contains(key)
    }

    /// The feed `key` with its files and entries (also for a key that does not exist: no entries).
    pub(crate) fn feed(&self, key: &FeedKey) -> Feed {
        Feed {
            key: key.clone(),
            files: self.formats.iter().map(|&format| (format, key.path(&self.paths, format))).collect(),
            entries: self.site.entries(key, self.now, self.limit),
        }
    }

    /// The feeds named in `keys` that exist (every feed when `None`), with their entries.
    pub(crate) fn select(&self, keys: Option<&BTreeSet<FeedKey>>) -> Vec<Feed> {
        match keys {
            None => self.keys.iter().map(|key| self.feed(key)).collect(),
            Some(keys) => keys.iter().filter(|key| self.contains(key)).map(|key| self.feed(key)).collect(),
        }
    }
}
