//! The site's index: for the whole site, each category and each tag, its published posts (future
//! ones included) in feed order. Each list is what one feed can show.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::post::Post;

/// One list of the index, and so one feed the site can have: the whole site, one category, or one
/// tag. Named here, below the feeds, because the index is kept per feed; what a feed is called
/// and where it is written is the feed layer's business (`crate::feed`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FeedKey {
    Site,
    Category(String),
    Tag(String),
}

/// A post's place in every feed: newest first, ties broken by URL, then by source path. It
/// holds the post itself, so an index entry costs a pointer, not copies of its strings.
#[derive(Debug, Clone)]
pub(super) struct Order {
    pub(super) newest_first: Reverse<(i64, u32)>,
    pub(super) post: Arc<Post>,
}

impl Order {
    pub(super) fn of(post: &Arc<Post>) -> Order {
        let utc = post.date.with_timezone(&Utc);
        Order { newest_first: Reverse((utc.timestamp(), utc.timestamp_subsec_nanos())), post: Arc::clone(post) }
    }

    pub(super) fn is_visible_at(&self, now: DateTime<Utc>) -> bool {
        let (secs, nanos) = self.newest_first.0;
        (secs, nanos) <= (now.timestamp(), now.timestamp_subsec_nanos())
    }

    pub(super) fn sort_key(&self) -> (&Reverse<(i64, u32)>, &str, &str) {
        (&self.newest_first, &self.post.url, &self.post.source)
    }
}

impl PartialEq for Order {
    fn eq(&self, other: &Self) -> bool {
        self.sort_key() == other.sort_key()
    }
}

impl Eq for Order {}

impl PartialOrd for Order {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Order {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.sort_key().cmp(&other.sort_key())
    }
}

/// The index of a whole site at once: each feed's entries gathered, then sorted on all cores,
/// instead of 100,000 inserts into ordered sets one post at a time.
pub(super) fn bulk_index<'a>(posts: impl Iterator<Item = &'a Arc<Post>>) -> BTreeMap<FeedKey, BTreeSet<Order>> {
    let mut site = Vec::new();
    let mut categories: HashMap<&str, Vec<Order>> = HashMap::new();
    let mut tags: HashMap<&str, Vec<Order>> = HashMap::new();
    for post in posts.filter(|p| p.published) {
        let order = Order::of(post);
        for category in &post.categories {
            categories.entry(category).or_default().push(order.clone());
        }
        for tag in &post.tags {
            tags.entry(tag).or_default().push(order.clone());
        }
        if !post.archived {
            site.push(order);
        }
    }
    let mut lists: Vec<(FeedKey, Vec<Order>)> = Vec::with_capacity(1 + categories.len() + tags.len());
    lists.push((FeedKey::Site, site));
    lists.extend(categories.into_iter().map(|(name, list)| (FeedKey::Category(name.to_string()), list)));
    lists.extend(tags.into_iter().map(|(name, list)| (FeedKey::Tag(name.to_string()), list)));
    lists
        .into_par_iter()
        .map(|(key, mut list)| {
            list.par_sort_unstable();
            (key, list.into_iter().collect::<BTreeSet<Order>>())
        })
        .collect()
}

/// The feeds a post belongs to: an archived post is in its categories' and tags' feeds only.
pub(crate) fn keys_of(post: &Post) -> Vec<FeedKey> {
    let mut keys = Vec::with_capacity(1 + post.categories.len() + post.tags.len());
    if !post.archived {
        keys.push(FeedKey::Site);
    }
    keys.extend(post.categories.iter().map(|c| FeedKey::Category(c.clone())));
    keys.extend(post.tags.iter().map(|t| FeedKey::Tag(t.clone())));
    keys
}
