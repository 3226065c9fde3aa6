//! The site's posts by the names Liquid's `{% post_url %}` and `{% link %}` look them up with,
//! kept in step with the site as posts come and go.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::post::Post;
use liquid_core::{Object, Value};

use crate::template::SiteIndex;

/// Post URL paths by source path and by `post_url` name. Shared with the template engine, which
/// may look a post up from any rendering thread while the site layer holds no lock.
///
/// The maps are built the first time they are needed (a template looks a post up, or the site
/// changes), or by [`PostLinks::settle`]: the posts a start-up records all at once only wait
/// in a list, so a site whose templates never ask costs its start-up nothing for them.
#[derive(Debug, Default)]
pub(crate) struct PostLinks {
    inner: RwLock<Inner>,
    /// `{% link %}`'s answer for what is not a post.
    files: super::pages::SiteFileUrls,
}

#[derive(Debug, Default)]
struct Inner {
    /// Source path (`_posts/2020-01-02-a.md`) to URL path without baseurl (`/2020/01/02/a.html`).
    by_source: HashMap<String, String>,
    /// `post_url` name to the source paths that answer to it, in path order; the first wins.
    /// Nearly always one path: a sorted `Vec` holds it in one small allocation, where a set
    /// would take a whole tree node per name.
    by_name: HashMap<String, Vec<String>>,
    /// The published posts by source path, for `site.posts`.
    posts: HashMap<String, Arc<Post>>,
    /// Posts recorded by [`PostLinks::extend`] and not in the maps yet, with the site's URL their
    /// URL paths are taken below.
    waiting: Option<(String, Vec<Arc<Post>>)>,
}

impl PostLinks {
    /// No posts yet; `{% link %}` finds the site's other files as `files` says.
    pub(crate) fn new(files: super::pages::SiteFileUrls) -> PostLinks {
        PostLinks { inner: RwLock::default(), files }
    }

    /// Records the published `post` as published at `url_path`.
    pub(crate) fn insert(&self, post: &Arc<Post>, url_path: String) {
        let mut inner = self.write();
        inner.insert(post, post_url_names(&post.source), url_path);
    }

    /// Records the published `posts` of a site at `site_url` all at once, to be worked into the
    /// maps when they are first needed.
    pub(crate) fn extend(&self, site_url: &str, posts: Vec<Arc<Post>>) {
        // Any posts still waiting are worked in first, by `write`.
        self.write().waiting = Some((site_url.to_string(), posts));
    }

    /// Builds the maps now, if posts are waiting: the daemon does it on a thread of its own once
    /// it serves, so that neither a template nor the first update waits for it.
    pub(crate) fn settle(&self) {
        drop(self.write());
    }

    /// Forgets the post at `source`.
    pub(crate) fn remove(&self, source: &str) {
        let mut inner = self.write();
        inner.posts.remove(source);
        if inner.by_source.remove(source).is_none() {
            return;
        }
        for name in post_url_names(source) {
            if let Some(sources) = inner.by_name.get_mut(&name) {
                sources.retain(|s| s != source);
                if sources.is_empty() {
                    inner.by_name.remove(&name);
                }
            }
        }
    }

    /// The maps, with every waiting post in them.
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        {
            let inner = self.inner.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            if inner.waiting.is_none() {
                return inner;
            }
        }
        drop(self.write());
        self.inner.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        let mut inner = self.inner.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((site_url, posts)) = inner.waiting.take() {
            inner.work_in(&site_url, posts);
        }
        inner
    }
}

impl Inner {
    /// Puts `posts` into the maps, grown once. On this thread alone: it holds the lock, and a
    /// rayon worker waiting for other cores could pick up a render that waits for the lock.
    fn work_in(&mut self, site_url: &str, posts: Vec<Arc<Post>>) {
        self.by_source.reserve(posts.len());
        self.by_name.reserve(posts.len());
        self.posts.reserve(posts.len());
        for post in posts {
            let url_path = super::url_path(site_url, &post.url);
            self.insert(&post, post_url_names(&post.source), url_path);
        }
    }

    fn insert(&mut self, post: &Arc<Post>, names: Vec<String>, url_path: String) {
        let source = post.source.as_str();
        self.posts.insert(source.to_string(), Arc::clone(post));
        for name in names {
            let sources = self.by_name.entry(name).or_default();
            if let Err(at) = sources.binary_search_by(|s| s.as_str().cmp(source)) {
                sources.insert(at, source.to_string());
            }
        }
        self.by_source.insert(source.to_string(), url_path);
    }
}

impl SiteIndex for PostLinks {
    fn post_url(&self, name: &str) -> Option<String> {
        let inner = self.read();
        let source = inner.by_name.get(name.trim().trim_start_matches('/'))?.first()?;
        inner.by_source.get(source).cloned()
    }

    fn link(&self, path: &str) -> Option<String> {
        let post = self.read().by_source.get(path.trim().trim_start_matches('/')).cloned();
        post.or_else(|| self.files.url_path(path))
    }

    /// The posts Jekyll publishes now (not archived, not in the future), newest first; posts of
    /// one date in reverse path order, as Jekyll sorts them and `site.posts` reverses them.
    fn posts(&self) -> Vec<Value> {
        let inner = self.read();
        let now = chrono::Utc::now();
        let mut posts: Vec<(&Arc<Post>, &str)> = inner
            .posts
            .values()
            .filter(|post| !post.archived && post.date <= now)
            .filter_map(|post| Some((post, inner.by_source.get(&post.source)?.as_str())))
            .collect();
        posts.sort_unstable_by(|(a, _), (b, _)| (b.date, &b.source).cmp(&(a.date, &a.source)));
        posts.into_iter().map(|(post, url_path)| post_value(post, url_path)).collect()
    }
}

/// A post as an item of `site.posts`: what Jekyll's post drop gives that the site keeps of a post
/// (its front matter is not kept, nor its content or excerpt).
fn post_value(post: &Post, url_path: &str) -> Value {
    let strings = |items: &[String]| Value::Array(items.iter().map(|s| Value::scalar(s.clone())).collect());
    let mut item = Object::new();
    item.insert("title".into(), Value::scalar(post.title.clone()));
    item.insert("url".into(), Value::scalar(url_path.to_string()));
    item.insert("id".into(), Value::scalar(super::content::page_id(url_path)));
    item.insert("date".into(), Value::scalar(crate::template::to_liquid_time(post.date)));
    item.insert("categories".into(), strings(&post.categories));
    item.insert("tags".into(), strings(&post.tags));
    item.insert("slug".into(), Value::scalar(super::content::slug_of(&post.source).to_string()));
    let (name, ext) = super::content::name_and_ext(&post.source);
    item.insert("name".into(), Value::scalar(name.to_string()));
    item.insert("ext".into(), Value::scalar(ext.to_string()));
    item.insert("path".into(), Value::scalar(post.source.clone()));
    item.insert("relative_path".into(), Value::scalar(post.source.clone()));
    item.insert("collection".into(), Value::scalar("posts"));
    item.insert("draft".into(), Value::scalar(false));
    if let Some(author) = &post.author {
        item.insert("author".into(), Value::scalar(author.name.clone()));
    }
    if let Some(image) = &post.image {
        item.insert("image".into(), Value::scalar(image.clone()));
    }
    if let Some(lang) = &post.lang {
        item.insert("lang".into(), Value::scalar(lang.clone()));
    }
    Value::Object(item)
}

/// The names `{% post_url %}` finds a post by, as Jekyll 4 matches them: the file name without
/// extension, and that name after the folder it sits in, above `_posts` (`news/_posts/x.md` is
/// `news/x`) or below it (`_posts/news/x.md` is also `news/x`).
fn post_url_names(source: &str) -> Vec<String> {
    let (folders, file) = source.rsplit_once('/').unwrap_or(("", source));
    let stem = file.rsplit_once('.').map_or(file, |(stem, _)| stem).to_string();
    let (above, below) = match folders.split_once("_posts") {
        Some((above, below)) => (above.trim_matches('/'), below.trim_matches('/')),
        None => (folders, ""),
    };
    let mut names = vec![stem.clone()];
    for folder in [above, below] {
        if !folder.is_empty() {
            names.push(format!("{folder}/{stem}"));
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posts_are_found_by_name_and_by_path_until_removed() {
        let links = PostLinks::default();
        links.insert(&post_at("_posts/2020-01-02-a.md"), "/2020/01/02/a.html".into());
        links.insert(&post_at("news/_posts/2020-01-03-b.markdown"), "/news/2020/01/03/b.html".into());
        links.insert(&post_at("_posts/desk/2020-01-04-c.md"), "/2020/01/04/c.html".into());
        assert_eq!(links.post_url("2020-01-02-a").as_deref(), Some("/2020/01/02/a.html"));
        assert_eq!(links.post_url("/news/2020-01-03-b").as_deref(), Some("/news/2020/01/03/b.html"));
        assert_eq!(links.post_url("2020-01-03-b").as_deref(), Some("/news/2020/01/03/b.html"));
        assert_eq!(links.post_url("desk/2020-01-04-c").as_deref(), Some("/2020/01/04/c.html"));
        assert_eq!(links.link("_posts/2020-01-02-a.md").as_deref(), Some("/2020/01/02/a.html"));
        assert_eq!(links.post_url("2020-01-05-missing"), None);
        links.remove("_posts/2020-01-02-a.md");
        assert_eq!(links.post_url("2020-01-02-a"), None);
        assert_eq!(links.link("_posts/2020-01-02-a.md"), None);
    }

    #[test]
    fn of_two_posts_with_one_name_the_first_by_path_wins() {
        let links = PostLinks::default();
        links.insert(&post_at("b/_posts/2020-01-02-a.md"), "/b/a.html".into());
        links.insert(&post_at("a/_posts/2020-01-02-a.md"), "/a/a.html".into());
        assert_eq!(links.post_url("2020-01-02-a").as_deref(), Some("/a/a.html"));
        links.remove("a/_posts/2020-01-02-a.md");
        assert_eq!(links.post_url("2020-01-02-a").as_deref(), Some("/b/a.html"));
    }

    fn post_at(source: &str) -> Arc<Post> {
        posts(&[source]).1.remove(0)
    }

    /// Posts of a site at `https://example.org`, each with the URL its permalink gives.
    fn posts(sources: &[&str]) -> (String, Vec<Arc<Post>>) {
        let config =
            crate::config::Config::parse("[site]\nurl = \"https://example.org\"\n", std::path::Path::new("/")).unwrap();
        let posts = sources
            .iter()
            .map(|source| Arc::new(crate::post::parse(source, b"---\ntitle: t\n---\nx\n", &config.site).unwrap()))
            .collect();
        (config.site.url.to_string(), posts)
    }

    #[test]
    fn posts_recorded_at_once_are_found_as_if_recorded_one_by_one() {
        let sources = ["b/_posts/2020-01-02-a.md", "a/_posts/2020-01-02-a.md", "_posts/desk/2020-01-04-c.md"];
        let (site_url, posts) = posts(&sources);
        let (one_by_one, at_once) = (PostLinks::default(), PostLinks::default());
        for post in &posts {
            one_by_one.insert(post, super::super::url_path(&site_url, &post.url));
        }
        at_once.extend(&site_url, posts.clone());
        for name in ["2020-01-02-a", "a/2020-01-02-a", "b/2020-01-02-a", "desk/2020-01-04-c", "2020-01-04-c", "x"] {
            assert_eq!(at_once.post_url(name), one_by_one.post_url(name), "{name}");
        }
        assert_eq!(at_once.post_url("2020-01-02-a").as_deref(), Some("/a/2020/01/02/a.html"));
        for source in sources {
            assert_eq!(at_once.link(source), one_by_one.link(source), "{source}");
            assert!(at_once.link(source).is_some());
        }
    }

    #[test]
    fn changes_made_before_the_first_lookup_come_after_the_posts_recorded_at_once() {
        let (more_url, more) = posts(&["_posts/2020-01-04-c.md"]);
        let (site_url, posts) = posts(&["_posts/2020-01-02-a.md", "_posts/2020-01-03-b.md"]);
        let links = PostLinks::default();
        links.extend(&more_url, more);
        links.extend(&site_url, posts);
        // Removed and recorded again elsewhere before anything looked: the maps are built first,
        // so the later change wins.
        links.remove("_posts/2020-01-02-a.md");
        links.insert(&post_at("_posts/2020-01-03-b.md"), "/moved/b.html".into());
        links.settle();
        assert_eq!(links.post_url("2020-01-02-a"), None);
        assert_eq!(links.link("_posts/2020-01-02-a.md"), None);
        assert_eq!(links.post_url("2020-01-03-b").as_deref(), Some("/moved/b.html"));
        assert_eq!(links.post_url("2020-01-04-c").as_deref(), Some("/2020/01/04/c.html"));
    }

    #[test]
    fn lookups_from_many_rendering_threads_at_once_all_find_their_posts() {
        use rayon::prelude::*;
        let sources: Vec<String> = (0..5000).map(|i| format!("_posts/{}/2020-02-01-p{i}.md", i % 50)).collect();
        let (site_url, posts) = posts(&sources.iter().map(String::as_str).collect::<Vec<_>>());
        let links = Arc::new(PostLinks::default());
        links.extend(&site_url, posts);
        // The first lookup builds the maps while the others wait for the lock; each then finds
        // its post. Run where a hang is a failure, on more threads than cores.
        let (done, finished) = std::sync::mpsc::channel();
        let looking = Arc::clone(&links);
        std::thread::spawn(move || {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(8).build().unwrap();
            let found = pool.install(|| {
                (0..2000).into_par_iter().filter(|i| looking.post_url(&format!("2020-02-01-p{i}")).is_some()).count()
            });
            let _ = done.send(found);
        });
        let found = finished.recv_timeout(std::time::Duration::from_secs(60)).expect("lookups waited for each other");
        assert_eq!(found, 2000);
    }

    #[test]
    fn site_posts_are_the_published_posts_newest_first_as_jekyll_lists_them() {
        use liquid_core::ValueView;
        let config = crate::config::Config::parse(
            "[site]\nurl = \"https://example.org\"\ntimezone = \"Asia/Shanghai\"\n",
            std::path::Path::new("/"),
        )
        .unwrap();
        let post = |source: &str, front: &str| {
            let text = format!("---\n{front}\n---\nx\n");
            Arc::new(crate::post::parse(source, text.as_bytes(), &config.site).unwrap())
        };
        let links = PostLinks::default();
        let site_url = config.site.url.to_string();
        let all = [
            post("_posts/2020-01-02-older.md", "title: Older\ntags: [a, b]"),
            post("_posts/2020-01-03-b-same-day.md", "title: Same day B\ncategories: news"),
            post("_posts/2020-01-03-a-same-day.md", "title: Same day A"),
            post("_posts/2999-01-01-future.md", "title: Future"),
            post("_posts/2020-01-05-gone.md", "title: Gone"),
        ];
        let mut archived = (*post("old_post/2020-01-04-archived.md", "title: Archived")).clone();
        archived.archived = true;
        links.extend(&site_url, all.to_vec());
        links.insert(&Arc::new(archived), "/2020/01/04/archived.html".into());
        links.remove("_posts/2020-01-05-gone.md");

        let listed = links.posts();
        let field = |item: &Value, key: &str| item.as_object().unwrap().get(key).map(|v| v.to_kstr().into_owned());
        let titles: Vec<_> = listed.iter().map(|item| field(item, "title").unwrap()).collect();
        assert_eq!(titles, ["Same day B", "Same day A", "Older"]);
        let newest = &listed[0];
        assert_eq!(field(newest, "url").as_deref(), Some("/news/2020/01/03/b-same-day.html"));
        assert_eq!(field(newest, "id").as_deref(), Some("/news/2020/01/03/b-same-day"));
        assert_eq!(field(newest, "slug").as_deref(), Some("b-same-day"));
        assert_eq!(field(newest, "path").as_deref(), Some("_posts/2020-01-03-b-same-day.md"));
        assert_eq!(field(newest, "name").as_deref(), Some("2020-01-03-b-same-day.md"));
        assert_eq!(field(newest, "ext").as_deref(), Some(".md"));
        assert_eq!(field(newest, "date").as_deref(), Some("2020-01-03 00:00:00 +0800"));
        let tags = listed[2].as_object().unwrap().get("tags").unwrap().to_value();
        assert_eq!(tags, Value::Array(vec![Value::scalar("a"), Value::scalar("b")]));
    }
}
