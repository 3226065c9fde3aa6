//! What a reader sees inside an entry, made as `jekyll build` renders a post and jekyll-feed writes
//! it: the body through Liquid (with the site's `_config.yml`, `_data` and `_includes`), then
//! kramdown, then the sanitizer, which also makes links absolute (lol_html does, unsanitized); the summary from `description` or the
//! excerpt, rendered the same way; the author looked up in `_data/authors`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use liquid_core::{Object, Value};
use url::Url;

use crate::config::{Config, ContentMode, SiteConfig};
use crate::markdown;
use crate::markup;
use crate::post::body::{self, Markup};
use crate::post::front_matter::{self, Field, FrontMatter};
use crate::post::{self, Author, EntryText, Post};
use crate::template::{self, Engine, Entry, RecordedFiles, SiteContext, SiteFiles, SiteIndex};

/// Liquid's block tags: an excerpt cut inside one of them gets its end tag, as Jekyll adds it.
const LIQUID_BLOCKS: [&str; 9] = ["if", "unless", "for", "case", "capture", "comment", "raw", "tablerow", "highlight"];

/// Turns posts into entry texts for one version of the site's configuration, data and includes.
/// Cheap to share between threads: rendering takes `&self`.
pub struct ContentRenderer {
    engine: Engine,
    markdown: markdown::Options,
    site: SiteConfig,
    site_url: Url,
    sanitize: bool,
    with_content: bool,
    /// The site's author (`site.author`), with e-mail and URI when `_config.yml` gives them.
    site_author: Option<Author>,
    /// `_data/authors`: authors by the key posts name them with.
    authors: HashMap<String, Author>,
    /// What went wrong reading `_data`.
    data_problems: Vec<template::Problem>,
    /// The source tree's archive folders: an archived post is rendered as the post it was.
    tree: crate::scan::Tree,
    /// `_includes`, remembering what each include read.
    files: Arc<RecordedFiles>,
    /// A hash of `site.data` as read.
    data_hash: u64,
}

impl ContentRenderer {
    /// A renderer for the site `config` describes, with `_data` and `_includes` read from its
    /// source folder, posts looked up in `links`, and `site.time` set to `time` (a time taken from
    /// the tree, so that the same tree renders the same bytes).
    pub fn new(config: &Config, links: Arc<dyn SiteIndex>, time: DateTime<FixedOffset>) -> ContentRenderer {
        let raw = config.jekyll.as_ref().map(|j| j.raw.clone()).unwrap_or(serde_yaml::Value::Null);
        let markdown = match &raw {
            serde_yaml::Value::Mapping(_) => markdown::Options::from_site_config(&raw),
            _ => markdown::Options::default(),
        };
        let (data, data_problems) = template::load_data(&config.source_dir);
        let authors = data_authors(&data);
        let data_hash = {
            let mut hasher = xxhash_rust::xxh3::Xxh3::new();
            hash_value(&Value::Object(data.clone()), &mut hasher);
            hasher.digest()
        };
        let (origin, baseurl) = split_site_url(&config.site.url);
        let mut context = SiteContext::empty(&origin, &baseurl);
        if let Value::Object(object) = template::from_yaml(raw.clone()) {
            context.config = object;
        }
        context.config.insert("title".into(), Value::scalar(config.site.title.clone()));
        context.data = data;
        context.time = time;
        context.timezone = Some(config.site.timezone);
        let files = Arc::new(RecordedFiles::new(SiteFiles::new(&config.source_dir, config.feeds.max_post_bytes)));
        context.files = files.clone();
        context.index = links;
        let for_markdownify = markdown.clone();
        context.markdownify = Arc::new(move |text: &str| markdown::render(text, &for_markdownify));
        let for_smartify = markdown.clone();
        context.smartify = Arc::new(move |text: &str| markdown::smartify_with(text, &for_smartify));
        ContentRenderer {
            engine: Engine::new(context),
            markdown,
            site: config.site.clone(),
            site_url: config.site.url.clone(),
            sanitize: config.feeds.sanitize,
            with_content: config.feeds.content == ContentMode::Full,
            site_author: config.site_author(),
            authors,
            data_problems,
            tree: crate::scan::Tree::of(config),
            files,
            data_hash,
        }
    }

    /// A hash of `site.data` as this renderer read it.
    pub(crate) fn data_hash(&self) -> u64 {
        self.data_hash
    }

    /// Each include the templates read so far, and a hash of what it gave.
    pub(crate) fn includes_read(&self) -> Vec<(String, u64)> {
        self.files.includes_read()
    }

    /// The hash of what the include `name` gives now, as [`ContentRenderer::includes_read`]
    /// records it.
    pub(crate) fn include_hash(&self, name: &str) -> u64 {
        self.files.include_hash(name)
    }

    /// The source path a post's text is rendered as: an archived post's path from before its
    /// move (`old_post/x.md` as `_posts/x.md`), like its link and id, so that a move leaves its
    /// entry as it was. Front-matter defaults and `page.path` use it; messages and
    /// `include_relative` use the file's own path.
    fn read_as<'p>(&self, post: &'p Post) -> Cow<'p, str> {
        self.tree.read_as(&post.source)
    }

    /// `site.time`: what a text whose Liquid ran may depend on besides its post.
    pub(crate) fn site_time(&self) -> DateTime<FixedOffset> {
        self.engine.site_time()
    }

    /// Whether some template has read `site.posts`, so that a text whose Liquid ran may depend
    /// on every post.
    pub(crate) fn has_read_site_posts(&self) -> bool {
        self.engine.has_read_site_posts()
    }

    /// The site's posts changed: the next text that reads `site.posts` sees them as they are.
    pub(crate) fn forget_posts(&self) {
        self.engine.forget_posts();
    }

    /// What went wrong reading the site's `_data` folder.
    pub(crate) fn data_problems(&self) -> &[template::Problem] {
        &self.data_problems
    }

    /// The entry text of `post` from its file's bytes; `None` if they no longer parse.
    pub fn entry_text(&self, post: &Post, bytes: &[u8]) -> Option<EntryText> {
        let text = std::str::from_utf8(bytes).ok()?;
        let split = front_matter::split(text).ok()?;
        let fm = post::with_defaults(front_matter::parse_yaml(split.yaml).ok()?, &self.read_as(post), &self.site);
        let body_line = u32::try_from(split.yaml_first_line + split.yaml.matches('\n').count() + 1).unwrap_or(0);
        let mut render = Render::new(self, post, &fm, split.yaml, body_line);
        // jekyll-feed's `post.feed.excerpt_only | default: site.feed.excerpt_only`.
        let excerpt_only =
            fm.get("feed").and_then(|feed| feed.get("excerpt_only")).is_some_and(crate::config::jekyll::truthy);
        let content = (self.with_content && !excerpt_only).then(|| {
            let (content, as_text) = self.finish(post, &render.html(split.body));
            if let Some(why) = as_text {
                render.problems.push(template::Problem {
                    path: post.source.clone(),
                    line: 0,
                    kind: template::ProblemKind::Limit,
                    message: format!("{why}; the content is shown as plain text"),
                });
            }
            content
        });
        let summary = self.summary(&mut render, &fm, split.body);
        let (liquid, reads_beside, lookups, reads_posts) =
            (render.ran_liquid, render.reads_beside, render.lookups, render.reads_posts);
        let author = self.author(post);
        Some(EntryText {
            summary,
            content,
            author,
            problems: render.problems,
            liquid,
            reads_beside,
            lookups,
            reads_posts,
        })
    }

    /// The post's content as feed HTML from its body: rendered as [`ContentRenderer::entry_text`]
    /// renders it, whatever the content mode.
    pub fn content_html(&self, post: &Post, bytes: &[u8]) -> Option<String> {
        let text = std::str::from_utf8(bytes).ok()?;
        let split = front_matter::split(text).ok()?;
        let fm = post::with_defaults(front_matter::parse_yaml(split.yaml).ok()?, &self.read_as(post), &self.site);
        let mut render = Render::new(self, post, &fm, split.yaml, 1);
        Some(self.finish(post, &render.html(split.body)).0)
    }

    /// Links made absolute against the post's URL and, if asked, the HTML sanitized. Sanitizing
    /// makes the links absolute in its own parse and checks the final URLs, so its output is the
    /// last word; without it, lol_html rewrites the links.
    ///
    /// HTML that no parser should be given ([`markup::too_costly_to_parse`]) becomes its plain
    /// text instead; the second value then says why.
    fn finish(&self, post: &Post, html: &str) -> (String, Option<String>) {
        if let Some(why) = markup::too_costly_to_parse(html) {
            return (post::clean(&format!("<p>{}</p>", markup::text_as_html(&markup::plain_text(html)))), Some(why));
        }
        let base = Url::parse(&post.url).unwrap_or_else(|_| self.site_url.clone());
        let html = if self.sanitize {
            post::clean(&crate::sanitize::sanitize(html, Some(&base)))
        } else {
            post::clean(&body::absolutize_links(html, &base))
        };
        (html, None)
    }

    /// jekyll-feed's `post.description | default: post.excerpt`, then `strip_html |
    /// normalize_whitespace`. A front-matter `excerpt` is used as written; else the excerpt is the
    /// body up to the excerpt separator, rendered like the content; `excerpt: ""` or an empty
    /// separator means none.
    fn summary(&self, render: &mut Render<'_>, fm: &FrontMatter, body: &str) -> Option<String> {
        let nonempty = |key: &str| fm.get(key).and_then(Field::as_text).filter(|t| !t.is_empty());
        let html: Cow<'_, str> = if let Some(description) = nonempty("description") {
            Cow::Borrowed(description)
        } else {
            match fm.get("excerpt") {
                Some(Field::Null) | None => {
                    let separator = match fm.get("excerpt_separator") {
                        Some(Field::Null) | None => self.site.excerpt_separator.as_str(),
                        Some(field) => field.as_text().unwrap_or_default(),
                    };
                    if separator.is_empty() {
                        return None;
                    }
                    Cow::Owned(render.html(&excerpt_source(&normalize_newlines(body), separator)))
                }
                Some(field) => Cow::Borrowed(field.as_text()?),
            }
        };
        Some(post::clean(&markup::plain_text(&html))).filter(|s| !s.is_empty())
    }

    /// jekyll-feed's author: the post's, else the site's, then looked up in `_data/authors`.
    fn author(&self, post: &Post) -> Option<Author> {
        let author = post.author.as_ref().or(self.site_author.as_ref())?;
        let plain_name = author.email.is_none() && author.uri.is_none();
        match self.authors.get(&author.name) {
            Some(known) if plain_name => Some(known.clone()),
            _ => Some(author.clone()),
        }
    }
}

/// One post's rendering: its Liquid `page` object made once, when a template first needs it, and
/// the problems its templates had.
struct Render<'a> {
    renderer: &'a ContentRenderer,
    post: &'a Post,
    fm: &'a FrontMatter,
    yaml: &'a str,
    body_line: u32,
    liquid: bool,
    page: Option<Object>,
    problems: Vec<template::Problem>,
    /// Whether Liquid ran on any of its texts.
    ran_liquid: bool,
    /// Whether any of its templates read a file next to the post
    /// ([`template::Rendered::reads_beside`]).
    reads_beside: bool,
    /// The posts its templates looked up ([`template::Rendered::lookups`]).
    lookups: Vec<template::Lookup>,
    /// Whether any of its templates read `site.posts`.
    reads_posts: bool,
}

impl<'a> Render<'a> {
    fn new(
        renderer: &'a ContentRenderer,
        post: &'a Post,
        fm: &'a FrontMatter,
        yaml: &'a str,
        body_line: u32,
    ) -> Render<'a> {
        let liquid = !matches!(fm.get("render_with_liquid"), Some(Field::Scalar(off)) if off == "false");
        Render {
            renderer,
            post,
            fm,
            yaml,
            body_line,
            liquid,
            page: None,
            problems: Vec::new(),
            ran_liquid: false,
            reads_beside: false,
            lookups: Vec::new(),
            reads_posts: false,
        }
    }

    /// Liquid, then the post's converter (kramdown for Markdown, none for HTML).
    fn html(&mut self, text: &str) -> String {
        let text = normalize_newlines(&markup::xml_safe(text)).into_owned();
        let text = if self.liquid && (text.contains("{{") || text.contains("{%")) {
            let renderer = self.renderer;
            let (post, fm, yaml) = (self.post, self.fm, self.yaml);
            let page =
                self.page.get_or_insert_with(|| page_object(post, &renderer.read_as(post), fm, yaml, &renderer.site));
            let rendered = self.renderer.engine.render(&Entry {
                path: &self.post.source,
                body: &text,
                body_line: self.body_line,
                page: page.clone(),
            });
            self.ran_liquid = true;
            self.reads_beside |= rendered.reads_beside;
            self.reads_posts |= rendered.reads_posts;
            for lookup in rendered.lookups {
                if !self.lookups.contains(&lookup) {
                    self.lookups.push(lookup);
                }
            }
            for problem in rendered.problems {
                if !self.problems.contains(&problem) {
                    self.problems.push(problem);
                }
            }
            rendered.output
        } else {
            text
        };
        match self.post.markup {
            Markup::Markdown => markdown::render(&text, &self.renderer.markdown),
            Markup::Verbatim => text,
        }
    }
}

/// Jekyll's excerpt source: the body up to the first `separator`, any Liquid block left open
/// there closed, and the Markdown link definitions it uses from the rest appended.
fn excerpt_source(body: &str, separator: &str) -> String {
    let Some((head, tail)) = body.split_once(separator) else { return body.to_string() };
    if tail.is_empty() {
        return head.to_string();
    }
    let mut head = head.to_string();
    if head.contains("{%") {
        for name in liquid_tag_names(&head).iter().rev() {
            if LIQUID_BLOCKS.contains(&name.as_str()) && !has_end_tag(&head, name) {
                head.push_str(&format!("\n{{% end{name} %}}"));
            }
        }
    }
    let definitions: Vec<&str> = tail
        .lines()
        .filter_map(link_definition)
        .filter(|(label, _)| head.contains(label))
        .map(|(_, definition)| definition)
        .collect();
    if definitions.is_empty() {
        return head;
    }
    head.push_str("\n\n");
    head.push_str(&definitions.join("\n"));
    head
}

/// A Markdown link definition line as Jekyll's excerpt finds them (` {0,3}[label]:…`): the label
/// with its brackets, and the definition without its indent.
fn link_definition(line: &str) -> Option<(&str, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    let definition = line.get(indent.min(3)..)?;
    let close = definition.strip_prefix('[')?.find(']')? + 1;
    let rest = &definition[close + 1..];
    (close > 1 && rest.len() > 1 && rest.starts_with(':')).then_some((&definition[..=close], definition))
}

/// The tag names of `{% name … %}` tags, in order.
fn liquid_tag_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{%") {
        let after = rest[start + 2..].trim_start_matches('-').trim_start();
        let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        if !name.is_empty() {
            names.push(name);
        }
        rest = &rest[start + 2..];
    }
    names
}

fn has_end_tag(text: &str, name: &str) -> bool {
    let end = format!("end{name}");
    liquid_tag_names(text).contains(&end)
}

fn normalize_newlines(text: &str) -> Cow<'_, str> {
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Liquid's `page` for a post: its front matter (with the `_config.yml` defaults) with YAML's
/// types, and what Jekyll adds: `url`, `id`, `date`, `categories`, `tags`, `slug`, `path`.
fn page_object(post: &Post, path: &str, fm: &FrontMatter, yaml: &str, site: &SiteConfig) -> Object {
    let mut page = match front_matter::parse_value(yaml).map(template::from_yaml) {
        Ok(Value::Object(object)) => object,
        _ => Object::new(),
    };
    for (key, field) in &fm.fields {
        if !page.contains_key(key.as_str()) {
            page.insert(key.clone().into(), field_value(field));
        }
    }
    let url_path = match post.url.strip_prefix(site.url.as_str()) {
        Some(rest) => format!("/{rest}"),
        None => post.url.clone(),
    };
    let strings = |items: &[String]| Value::Array(items.iter().map(|s| Value::scalar(s.clone())).collect());
    let slug = slug_of(&post.source);
    page.insert("id".into(), Value::scalar(page_id(&url_path)));
    page.insert("url".into(), Value::scalar(url_path));
    page.insert("date".into(), Value::scalar(template::to_liquid_time(post.date)));
    page.insert("categories".into(), strings(&post.categories));
    page.insert("tags".into(), strings(&post.tags));
    if !page.contains_key("slug") {
        page.insert("slug".into(), Value::scalar(slug.to_string()));
    }
    if !page.contains_key("title") {
        page.insert("title".into(), Value::scalar(post.title.clone()));
    }
    let name = post.source.rsplit('/').next().unwrap_or_default();
    page.insert("name".into(), Value::scalar(name.to_string()));
    page.insert("ext".into(), Value::scalar(name.rfind('.').map_or("", |dot| &name[dot..]).to_string()));
    page.insert("draft".into(), Value::scalar(false));
    page.insert("path".into(), Value::scalar(path.to_string()));
    page.insert("relative_path".into(), Value::scalar(path.to_string()));
    page.insert("collection".into(), Value::scalar("posts"));
    page
}

/// Jekyll's `page.id`: the URL path without its extension, or without its trailing `/`.
pub(super) fn page_id(url_path: &str) -> String {
    match url_path.rsplit_once('.') {
        Some((stem, ext)) if !ext.contains('/') => stem.to_string(),
        _ => url_path.trim_end_matches('/').to_string(),
    }
}

/// Jekyll's `page.slug` from the file name: `2020-01-02-a-title.md` is `a-title`.
pub(super) fn slug_of(source: &str) -> &str {
    let slug = source.rsplit('/').next().unwrap_or_default();
    let slug = slug.rsplit_once('.').map_or(slug, |(stem, _)| stem);
    slug.splitn(4, '-').nth(3).unwrap_or(slug)
}

/// A front-matter value as Liquid sees it; numbers and booleans regain their type.
fn field_value(field: &Field) -> Value {
    match field {
        Field::Null => Value::Nil,
        Field::Text(text) => Value::scalar(text.clone()),
        Field::Scalar(text) => match text.as_str() {
            "true" => Value::scalar(true),
            "false" => Value::scalar(false),
            _ => match (text.parse::<i64>(), text.parse::<f64>()) {
                (Ok(n), _) => Value::scalar(n),
                (_, Ok(x)) => Value::scalar(x),
                _ => Value::scalar(text.clone()),
            },
        },
        Field::List(items) => Value::Array(items.iter().map(field_value).collect()),
        Field::Map(entries) => {
            Value::Object(entries.iter().map(|(k, v)| (k.clone().into(), field_value(v))).collect::<Object>())
        }
    }
}

/// `site.url` and `site.baseurl` from the URL feeds use (which holds both).
fn split_site_url(url: &Url) -> (String, String) {
    let path = url.path().trim_end_matches('/').to_string();
    let origin = url.as_str().strip_suffix(url.path()).unwrap_or(url.as_str()).to_string();
    (origin, path)
}

/// `site.data.authors` as name, e-mail and URI by key.
fn data_authors(data: &Object) -> HashMap<String, Author> {
    use liquid_core::ValueView;
    let Some(Value::Object(authors)) = data.get("authors") else { return HashMap::new() };
    let mut out = HashMap::new();
    for (key, value) in authors.iter() {
        let Value::Object(fields) = value else { continue };
        let text = |name: &str| {
            fields.get(name).map(|v| v.to_kstr().trim().to_string()).filter(|t| !t.is_empty() && t != "nil")
        };
        let author = Author {
            name: post::clean(&markup::decode_references(&text("name").unwrap_or_else(|| key.to_string()))),
            email: text("email").map(|email| post::clean(&email)),
            uri: text("uri").and_then(|uri| crate::urls::web_link(&uri)),
        };
        out.insert(key.to_string(), author);
    }
    out
}

/// Feeds a Liquid value into `hasher`, objects by sorted key, so that the same data gives the same
/// hash in every run (Liquid's objects are hash maps).
fn hash_value(value: &Value, hasher: &mut xxhash_rust::xxh3::Xxh3) {
    match value {
        Value::Scalar(scalar) => {
            hasher.update(b"s");
            let text = liquid_core::ValueView::to_kstr(scalar);
            hasher.update(&(text.len() as u64).to_le_bytes());
            hasher.update(text.as_bytes());
            hasher.update(liquid_core::ValueView::type_name(scalar).as_bytes());
        }
        Value::Array(items) => {
            hasher.update(b"a");
            hasher.update(&(items.len() as u64).to_le_bytes());
            items.iter().for_each(|item| hash_value(item, hasher));
        }
        Value::Object(object) => {
            hasher.update(b"o");
            hasher.update(&(object.len() as u64).to_le_bytes());
            let mut keys: Vec<_> = object.keys().collect();
            keys.sort();
            for key in keys {
                hasher.update(&(key.len() as u64).to_le_bytes());
                hasher.update(key.as_bytes());
                hash_value(&object[key], hasher);
            }
        }
        Value::State(state) => hasher.update(format!("t{state:?}").as_bytes()),
        Value::Nil => hasher.update(b"n"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_end_at_the_separator_and_keep_the_link_definitions_they_use() {
        let body = "First [a][1] and [b].\n\nSecond [c][3].\n\n[1]: https://a.example/\n[b]: /b\n[3]: /c\n";
        assert_eq!(excerpt_source(body, "\n\n"), "First [a][1] and [b].\n\n[1]: https://a.example/\n[b]: /b");
        assert_eq!(excerpt_source("One.\n<!--more-->\nTwo.", "<!--more-->"), "One.\n");
        assert_eq!(excerpt_source("No separator here.", "<!--more-->"), "No separator here.");
    }

    #[test]
    fn an_excerpt_keeps_a_link_definition_after_a_footnote_definition() {
        // Jekyll puts the definitions back one a line; kramdown ends the footnote's at the link's.
        let body = "A[^1] [x][r].\n\n[^1]: Note.\n\n[r]: https://e.com/r\n";
        let source = excerpt_source(body, "\n\n");
        assert_eq!(source, "A[^1] [x][r].\n\n[^1]: Note.\n[r]: https://e.com/r");
        let html = crate::markdown::render(&source, &crate::markdown::Options::default());
        assert!(html.contains("<a href=\"https://e.com/r\">x</a>") && !html.contains("[r]"), "{html}");
    }

    #[test]
    fn an_excerpt_cut_inside_a_liquid_block_gets_its_end_tag() {
        let body = "{% if page.x %}One.\n\nTwo.{% endif %}";
        assert_eq!(excerpt_source(body, "\n\n"), "{% if page.x %}One.\n{% endif %}");
        let closed = "{% if page.x %}One.{% endif %}\n\nTwo.";
        assert_eq!(excerpt_source(closed, "\n\n"), "{% if page.x %}One.{% endif %}");
    }

    #[test]
    fn front_matter_numbers_and_booleans_keep_their_type_for_liquid() {
        assert_eq!(field_value(&Field::Scalar("3".into())), Value::scalar(3i64));
        assert_eq!(field_value(&Field::Scalar("true".into())), Value::scalar(true));
        assert_eq!(field_value(&Field::Text("3".into())), Value::scalar("3"));
    }

    #[test]
    fn the_site_url_splits_into_url_and_baseurl() {
        let url = Url::parse("https://example.org/blog/").unwrap();
        assert_eq!(split_site_url(&url), ("https://example.org".to_string(), "/blog".to_string()));
        let root = Url::parse("https://example.org/").unwrap();
        assert_eq!(split_site_url(&root), ("https://example.org".to_string(), String::new()));
    }
}
