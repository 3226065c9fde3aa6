//! The `site` variable: `_config.yml` values, `site.data`, `site.time`, `site.url`, `site.baseurl`,
//! and `site.posts`, which is asked of the site layer only when a template reads it.

use std::cell::OnceCell;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, FixedOffset};

use liquid_core::model::{DisplayCow, KStringCow, ObjectView, State, Value, ValueView};
use liquid_core::Object;

use super::{SiteContext, SiteIndex};

pub(crate) struct SiteObject {
    /// Everything but `posts`.
    fields: Value,
    /// `site.posts` as last asked of the site layer; `None` until a template reads it, and again
    /// once the posts changed.
    posts: Mutex<Option<Arc<Value>>>,
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

    fn posts(&self) -> Arc<Value> {
        self.posts_read.store(true, Ordering::Relaxed);
        let mut posts = self.posts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        Arc::clone(posts.get_or_insert_with(|| Arc::new(Value::Array(self.index.posts()))))
    }
}

/// `site` as one render sees it: `site.posts` is taken once, when the render first reads it, and
/// stays the same to its end.
pub(crate) struct SiteView<'s> {
    site: &'s SiteObject,
    posts: OnceCell<Arc<Value>>,
}

impl fmt::Debug for SiteView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.site.fmt(f)
    }
}

impl<'s> SiteView<'s> {
    pub(crate) fn new(site: &'s SiteObject) -> SiteView<'s> {
        SiteView { site, posts: OnceCell::new() }
    }

    /// Whether this render read `site.posts`: its output depends on every post.
    pub(crate) fn read_posts(&self) -> bool {
        self.posts.get().is_some()
    }

    fn object(&self) -> &Object {
        self.site.object()
    }

    fn posts(&self) -> &Value {
        self.posts.get_or_init(|| self.site.posts())
    }

    fn full(&self) -> Value {
        let mut all = self.object().clone();
        all.insert("posts".into(), self.posts().clone());
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
        self.object().len() as i64 + 1
    }
    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        Box::new(
            self.object()
                .keys()
                .map(|k| KStringCow::from_ref(k.as_str()))
                .chain(std::iter::once(KStringCow::from_static("posts"))),
        )
    }
    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(self.iter().map(|(_, v)| v))
    }
    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        let fields = self.object().iter().map(|(k, v)| (KStringCow::from_ref(k.as_str()), v as &dyn ValueView));
        Box::new(fields.chain(std::iter::once((KStringCow::from_static("posts"), self.posts() as &dyn ValueView))))
    }
    fn contains_key(&self, index: &str) -> bool {
        index == "posts" || self.object().contains_key(index)
    }
    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        if index == "posts" {
            return Some(self.posts());
        }
        self.object().get(index).map(|v| v as &dyn ValueView)
    }
}
