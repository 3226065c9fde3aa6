//! Which feeds exist at one moment and what each holds: the one place that decides it.
//!
//! Today: the site feed always; a feed per category and per tag that has a post visible at that
//! moment, when `feeds.categories` / `feeds.tags` are on and `_config.yml`'s `feed:` block lists
//! it (`categories`, `tags: {only, except}`); each in the configured formats, at its jekyll-feed
//! path; its entries the newest `feeds.limit` visible posts.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{FeedKey, Format};
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
    keys: BTreeSet<FeedKey>,
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
    /// The feeds of `site` at `now` under `config`.
    pub(crate) fn new(site: &'s Site, config: &FeedsConfig, now: DateTime<Utc>) -> FeedSet<'s> {
        let listed = |list: &Option<Vec<String>>, name: &String| list.as_ref().is_none_or(|names| names.contains(name));
        let wanted = |key: &FeedKey| match key {
            FeedKey::Site => true,
            FeedKey::Category(name) => config.categories && listed(&config.only_categories, name),
            FeedKey::Tag(name) => config.tags && listed(&config.only_tags, name) && !config.except_tags.contains(name),
        };
        let mut keys: BTreeSet<FeedKey> =
            site.index_keys().filter(|key| wanted(key) && site.has_entries_at(key, now)).cloned().collect();
        keys.insert(FeedKey::Site);
        let formats = Format::ALL.into_iter().filter(|&format| wanted_format(config, format)).collect();
        FeedSet { site, now, limit: config.limit, formats, keys }
    }

    /// Whether the feed `key` exists.
    pub(crate) fn contains(&self, key: &FeedKey) -> bool {
        self.keys.contains(key)
    }

    /// The feed `key` with its files and entries (also for a key that does not exist: no entries).
    pub(crate) fn feed(&self, key: &FeedKey) -> Feed {
        Feed {
            key: key.clone(),
            files: self.formats.iter().map(|&format| (format, key.path(format))).collect(),
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
