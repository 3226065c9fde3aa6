//! The `site` variable: `_config.yml` values, `site.data`, `site.time`, `site.url`, `site.baseurl`,
//! and `site.posts`, which is asked of the site layer only when a template reads it, with
//! `site.tags` and `site.categories` made from it; and the `page` variable, whose `previous` and
//! `next` are found in `site.posts` the same way.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, FixedOffset};

use liquid_core::model::{DisplayCow, KStringCow, ObjectView, State, Value, ValueView};
use liquid_core::Object;

use super::{SiteContext, SiteIndex};

pub(crate) struct SiteObject {
    /// Everything but `posts`.
    fields: Value,
    /// `site.posts` as last asked of the site layer; `None` until a template reads it, and again
    /// once the posts changed.
    posts: Mutex<Option<Arc<Posts>>>,
    /// Whether any template has read `site.posts`.
    posts_read: AtomicBool,
    index: Arc<dyn SiteIndex>,
    time: DateTime<FixedOffset>,
}

impl fmt::Debug for SiteObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SiteObject").field("fields", &self.fields).finish_non_exhaustive()
    }
}

impl SiteObject {
    pub(crate) fn new(site: &SiteContext) -> SiteObject {
        let mut fields = site.config.clone();
        fields.remove("posts");
        fields.insert("data".into(), Value::Object(site.data.clone()));
        fields.insert("url".into(), Value::scalar(site.url.clone()));
        fields.insert("baseurl".into(), Value::scalar(site.baseurl.clone()));
        fields.insert("time".into(), Value::scalar(super::filters::to_liquid_time(site.time)));
        SiteObject {
            fields: Value::Object(fields),
            posts: Mutex::new(None),
            posts_read: AtomicBool::new(false),
            index: site.index.clone(),
            time: site.time,
        }
    }

    /// `site.time`, which is also "now" for the date filters.
    pub(crate) fn time(&self) -> DateTime<FixedOffset> {
        self.time
    }

    fn object(&self) -> &Object {
        self.fields.as_object_ref()
    }

    /// Whether `site.posts` was ever asked for.
    pub(crate) fn posts_read(&self) -> bool {
        self.posts_read.load(Ordering::Relaxed)
    }

    /// The posts changed: the next render that reads `site.posts` asks the site layer again.
    pub(crate) fn forget_posts(&self) {
        *self.posts.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
    }

    fn posts(&self) -> Arc<Posts> {
        self.posts_read.store(true, Ordering::Relaxed);
        let mut posts = self.posts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let posts = posts.get_or_insert_with(|| {
            Arc::new(Posts { list: Value::Array(self.index.posts()), positions: OnceLock::new() })
        });
        Arc::clone(posts)
    }
}

/// `site.posts` as asked of the site layer, and where each post is in it, found when a template
/// first asks for a post's neighbours (`page.previous`, `page.next`).
struct Posts {
    list: Value,
    positions: OnceLock<HashMap<String, usize>>,
}

impl Posts {
    fn items(&self) -> &[Value] {
        match &self.list {
            Value::Array(items) => items,
            _ => &[],
        }
    }

    /// The post after (`newer`) or before the one at `path`, as Jekyll's `page.next` and
    /// `page.previous` give them; nil at either end, or for a page that is not a listed post.
    fn neighbour(&self, path: &str, newer: bool) -> Value {
        let positions = self.positions.get_or_init(|| {
            let path_of = |item: &Value| Some(item.as_object()?.get("path")?.to_kstr().into_owned());
            self.items().iter().enumerate().filter_map(|(at, item)| Some((path_of(item)?.to_string(), at))).collect()
        });
        let Some(&at) = positions.get(path) else { return Value::Nil };
        // Newest first: the newer post is the one before.
        let neighbour = if newer { at.checked_sub(1) } else { at.checked_add(1) };
        neighbour.and_then(|at| self.items().get(at)).cloned().unwrap_or(Value::Nil)
    }
}

/// `site` as one render sees it: `site.posts` is taken once, when the render first reads it, and
/// stays the same to its end.
pub(crate) struct SiteView<'s> {
    site: &'s SiteObject,
    posts: OnceCell<Arc<Posts>>,
    tags: OnceCell<Value>,
    categories: OnceCell<Value>,
}

/// The fields made from `site.posts`.
const FROM_POSTS: [&str; 3] = ["posts", "tags", "categories"];

impl fmt::Debug for SiteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.site.fmt(f)
    }
}

impl<'s> SiteView<'s> {
    pub(crate) fn new(site: &'s SiteObject) -> SiteView<'s> {
        SiteView { site, posts: OnceCell::new(), tags: OnceCell::new(), categories: OnceCell::new() }
    }

    /// Whether this render read `site.posts`: its output depends on every post.
    pub(crate) fn read_posts(&self) -> bool {
        self.posts.get().is_some()
    }

    fn object(&self) -> &Object {
        self.site.object()
    }

    fn posts(&self) -> &Value {
        &self.posts.get_or_init(|| self.site.posts()).list
    }

    /// `page.next` (`newer`) or `page.previous` of the post at `path`.
    fn neighbour(&self, path: &str, newer: bool) -> Value {
        self.posts.get_or_init(|| self.site.posts()).neighbour(path, newer)
    }

    /// `site.tags` or `site.categories` (`key` names the posts' field): each name with the posts
    /// that have it, newest first, as Jekyll's `post_attr_hash` gives them.
    fn posts_by(&self, key: &str) -> Value {
        let mut groups = Object::new();
        if let Value::Array(posts) = self.posts() {
            for post in posts {
                let names = post.as_object().and_then(|p| p.get(key)).and_then(|v| v.as_array());
                for name in names.iter().flat_map(|names| names.values()) {
                    let group = groups.entry(name.to_kstr().into_owned()).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(group) = group {
                        group.push(post.clone());
                    }
                }
            }
        }
        Value::Object(groups)
    }

    /// A field made from `site.posts`.
    fn made_from_posts(&self, index: &str) -> Option<&Value> {
        match index {
            "posts" => Some(self.posts()),
            "tags" => Some(self.tags.get_or_init(|| self.posts_by("tags"))),
            "categories" => Some(self.categories.get_or_init(|| self.posts_by("categories"))),
            _ => None,
        }
    }

    fn full(&self) -> Value {
        let mut all = self.object().clone();
        for key in FROM_POSTS {
            all.insert(key.into(), self.made_from_posts(key).cloned().unwrap_or_default());
        }
        Value::Object(all)
    }
}

trait AsObjectRef {
    fn as_object_ref(&self) -> &Object;
}

impl AsObjectRef for Value {
    fn as_object_ref(&self) -> &Object {
        match self {
            Value::Object(o) => o,
            _ => unreachable!("site fields are built as an object"),
        }
    }
}

impl ValueView for SiteView<'_> {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(self.full().render().to_string()))
    }
    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(self.full().source().to_string()))
    }
    fn type_name(&self) -> &'static str {
        "object"
    }
    fn query_state(&self, state: State) -> bool {
        matches!(state, State::Truthy)
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        KStringCow::from_string(self.full().render().to_string())
    }
    fn to_value(&self) -> Value {
        self.full()
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl ObjectView for SiteView<'_> {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        self.keys().count() as i64
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        Box::new(
            self.object()
                .keys()
                .filter(|k| !FROM_POSTS.contains(&k.as_str()))
                .map(|k| KStringCow::from_ref(k.as_str()))
                .chain(FROM_POSTS.into_iter().map(KStringCow::from_static)),
        )
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(self.iter().map(|(_, v)| v))
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(self.keys().filter_map(|k| {
            let value = self.get(k.as_str())?;
            Some((k, value))
        }))
    }
    fn contains_key(&self, index: &str) -> bool {
        FROM_POSTS.contains(&index) || self.object().contains_key(index)
    }
    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        if let Some(value) = self.made_from_posts(index) {
            return Some(value);
        }
        self.object().get(index).map(|v| v as &dyn ValueView)
    }
}

/// `page` as one render sees it: the page's own fields, and `page.previous` and `page.next`,
/// its neighbours in `site.posts`, found only when a template reads them (which reads
/// `site.posts`). As in Jekyll, they win over front-matter keys of the same names.
pub(crate) struct PageView<'p> {
    page: &'p Object,
    path: &'p str,
    site: &'p SiteView<'p>,
    previous: OnceCell<Value>,
    next: OnceCell<Value>,
}

/// The fields of `page` made from `site.posts`.
const NEIGHBOURS: [&str; 2] = ["previous", "next"];

impl fmt::Debug for PageView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.page.fmt(f)
    }
}

impl<'p> PageView<'p> {
    /// The page of the post at `path` (relative to the site root, as `site.posts` gives it).
    pub(crate) fn new(page: &'p Object, path: &'p str, site: &'p SiteView<'p>) -> PageView<'p> {
        PageView { page, path, site, previous: OnceCell::new(), next: OnceCell::new() }
    }

    fn neighbour(&self, index: &str) -> Option<&Value> {
        match index {
            "previous" => Some(self.previous.get_or_init(|| self.site.neighbour(self.path, false))),
            "next" => Some(self.next.get_or_init(|| self.site.neighbour(self.path, true))),
            _ => None,
        }
    }

    fn full(&self) -> Value {
        let mut all = self.page.clone();
        for key in NEIGHBOURS {
            all.insert(key.into(), self.neighbour(key).cloned().unwrap_or_default());
        }
        Value::Object(all)
    }
}

impl ValueView for PageView<'_> {
    fn as_debug(&self) -> &dyn fmt::Debug {
        self
    }
    fn render(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(self.full().render().to_string()))
    }
    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(self.full().source().to_string()))
    }
    fn type_name(&self) -> &'static str {
        "object"
    }
    fn query_state(&self, state: State) -> bool {
        match state {
            State::Truthy => true,
            State::DefaultValue | State::Empty | State::Blank => false,
        }
    }
    fn to_kstr(&self) -> KStringCow<'_> {
        KStringCow::from_string(self.full().render().to_string())
    }
    fn to_value(&self) -> Value {
        self.full()
    }
    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl ObjectView for PageView<'_> {
    fn as_value(&self) -> &dyn ValueView {
        self
    }
    fn size(&self) -> i64 {
        self.keys().count() as i64
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        Box::new(
            self.page
                .keys()
                .filter(|k| !NEIGHBOURS.contains(&k.as_str()))
                .map(|k| KStringCow::from_ref(k.as_str()))
                .chain(NEIGHBOURS.into_iter().map(KStringCow::from_static)),
        )
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(self.iter().map(|(_, v)| v))
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(self.keys().filter_map(|k| {
            let value = self.get(k.as_str())?;
            Some((k, value))
        }))
    }
    fn contains_key(&self, index: &str) -> bool {
        NEIGHBOURS.contains(&index) || self.page.contains_key(index)
    }
    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        if let Some(value) = self.neighbour(index) {
            return Some(value);
        }
        self.page.get(index).map(|v| v as &dyn ValueView)
    }
}
