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

#[cfg(test)]
thread_local! {
    /// Set by tests to render every excerpt on its own, as before [`Render::html_with_excerpt`].
    static EXCERPT_APART: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

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
        context.url = liquid_site_url(&raw, &origin);
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
        let body_line = u32::try_from(split.body_first_line).unwrap_or(0);
        let mut render = Render::new(self, post, &fm, split.yaml, split.body, body_line);
        // jekyll-feed's `post.feed.excerpt_only | default: site.feed.excerpt_only`.
        let excerpt_only =
            fm.get("feed").and_then(|feed| feed.get("excerpt_only")).is_some_and(crate::config::jekyll::truthy);
        let excerpt_separator = self.excerpt_separator(&fm);
        let wants_content = self.with_content && !excerpt_only;
        let mut content_and_excerpt = match excerpt_separator {
            // A body that reads `page.excerpt` needs the excerpt made first, on its own.
            Some(separator) if wants_content && !render.reads_page_excerpt() => {
                render.html_with_excerpt(split.body, separator)
            }
            _ => None,
        };
        let excerpt_html = content_and_excerpt.as_mut().map(|(_, excerpt)| std::mem::take(excerpt));
        let content = wants_content.then(|| {
            let html = match content_and_excerpt {
                Some((content, _)) => content,
                None => render.body_html(),
            };
            let (content, as_text) = self.finish(post, &html);
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
        let summary = self.summary(&mut render, &fm, excerpt_html);
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
        let mut render = Render::new(self, post, &fm, split.yaml, split.body, 1);
        Some(self.finish(post, &render.body_html()).0)
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
    /// normalize_whitespace` (see [`Render::excerpt`]). It may be empty (a first paragraph that
    /// is an image): jekyll-feed then writes an empty `<summary>`.
    ///
    /// `excerpt_html` is the excerpt already rendered with the content, if it was.
    fn summary(&self, render: &mut Render<'_>, fm: &FrontMatter, excerpt_html: Option<String>) -> Option<String> {
        let nonempty = |key: &str| fm.get(key).and_then(Field::as_text).filter(|t| !t.is_empty());
        let html: Cow<'_, str> = match (nonempty("description"), excerpt_html) {
            (Some(description), _) => Cow::Borrowed(description),
            (None, Some(excerpt)) => Cow::Owned(excerpt),
            (None, None) => Cow::Owned(render.excerpt()?.to_owned()),
        };
        // jekyll-feed writes a summary when the HTML it comes from is not empty, even if its text is.
        (!html.is_empty()).then(|| post::clean(&markup::plain_text(&html)))
    }

    /// The separator the summary's excerpt is cut at, when the summary is made from the excerpt:
    /// no `description`, no front-matter `excerpt`, and a separator that is not empty.
    fn excerpt_separator<'f>(&'f self, fm: &'f FrontMatter) -> Option<&'f str> {
        let has_description = fm.get("description").and_then(Field::as_text).is_some_and(|t| !t.is_empty());
        if has_description || !matches!(fm.get("excerpt"), Some(Field::Null) | None) {
            return None;
        }
        let separator = match fm.get("excerpt_separator") {
            Some(Field::Null) | None => self.site.excerpt_separator.as_str(),
            Some(field) => field.as_text().unwrap_or_default(),
        };
        (!separator.is_empty()).then_some(separator)
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
    /// The text after the front matter.
    body: &'a str,
    body_line: u32,
    liquid: bool,
    page: Option<Object>,
    /// Jekyll's excerpt as HTML, once made (`None` inside: the post has none).
    excerpt: Option<Option<String>>,
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
        body: &'a str,
        body_line: u32,
    ) -> Render<'a> {
        let liquid = !matches!(fm.get("render_with_liquid"), Some(Field::Scalar(off)) if off == "false");
        Render {
            renderer,
            post,
            fm,
            yaml,
            body,
            body_line,
            liquid,
            page: None,
            excerpt: None,
            problems: Vec::new(),
            ran_liquid: false,
            reads_beside: false,
            lookups: Vec::new(),
            reads_posts: false,
        }
    }

    /// Whether the body's Liquid may read `page.excerpt` (`.excerpt`, `["excerpt"]`): prose that
    /// says "excerpt" is no reason to make the excerpt first.
    fn reads_page_excerpt(&self) -> bool {
        let names = |text: &str| [".excerpt", "[\"excerpt\"]", "['excerpt']"].iter().any(|key| text.contains(key));
        self.liquid && names(self.body) && template::has_markup(self.body)
    }

    /// The post's content: its body as [`Render::html`] makes it. Liquid that may read
    /// `page.excerpt` gets Jekyll's, the excerpt as HTML, made first.
    fn body_html(&mut self) -> String {
        if self.reads_page_excerpt() {
            if let Some(excerpt) = self.excerpt().map(str::to_owned) {
                let page = self.page();
                if !page.contains_key("excerpt") {
                    page.insert("excerpt".into(), Value::scalar(excerpt));
                }
            }
        }
        self.html(self.body, false)
    }

    /// Jekyll's excerpt as HTML: a front-matter `excerpt` as written; else the body up to the
    /// excerpt separator, made as the content is, with Jekyll's excerpt page (see
    /// [`excerpt_page`]); `None` when the separator is empty.
    fn excerpt(&mut self) -> Option<&str> {
        if self.excerpt.is_none() {
            let excerpt = match self.fm.get("excerpt") {
                Some(Field::Null) | None => {
                    let separator = match self.fm.get("excerpt_separator") {
                        Some(Field::Null) | None => self.renderer.site.excerpt_separator.as_str(),
                        Some(field) => field.as_text().unwrap_or_default(),
                    };
                    (!separator.is_empty()).then(|| self.html(&excerpt_source(self.body, separator), true))
                }
                Some(field) => field.as_text().map(str::to_owned),
            };
            self.excerpt = Some(excerpt);
        }
        self.excerpt.as_ref().and_then(Option::as_deref)
    }

    /// Liquid's `page` for the post, made once.
    fn page(&mut self) -> &mut Object {
        let renderer = self.renderer;
        let (post, fm, yaml) = (self.post, self.fm, self.yaml);
        self.page.get_or_insert_with(|| page_object(post, &renderer.read_as(post), fm, yaml, &renderer.site))
    }

    /// Liquid (with the post's page, or the excerpt's when `in_excerpt`), then the post's
    /// converter (kramdown for Markdown, none for HTML).
    fn html(&mut self, text: &str, in_excerpt: bool) -> String {
        let text = self.liquid(text, in_excerpt);
        self.convert(text)
    }

    /// The HTML of the body and of its excerpt (the body up to `separator`) from one Liquid
    /// render, when that gives what two would: the excerpt is the body's head as it stands, cut
    /// where no tag, output or block is open and no whitespace control reaches across. Liquid
    /// renders in order, so the head's output is then the body's output up to the cut, which a
    /// marker put there shows. A body without the separator is its own excerpt. `None` when the
    /// excerpt has to be rendered on its own.
    fn html_with_excerpt(&mut self, body: &str, separator: &str) -> Option<(String, String)> {
        /// Private-use characters, kept by XML, Liquid and [`markup::xml_safe`].
        const CUT: &str = "\u{E000}postfeed-excerpt\u{E001}";
        #[cfg(test)]
        if EXCERPT_APART.get() {
            return None;
        }
        // Jekyll looks for the separator in the text as written: in a file with CRLF line ends,
        // the default "\n\n" is never found and the excerpt is the whole body.
        if !body.contains(separator) {
            // The excerpt is the whole body, but Liquid in it sees another page.
            if reads_excerpt_fields(body) {
                return None;
            }
            let html = self.html(body, false);
            return Some((html.clone(), html));
        }
        let xml_clean = matches!(markup::xml_safe(body), Cow::Borrowed(_));
        let crlf = body.contains('\r');
        if !self.liquid || !(body.contains("{{") || body.contains("{%")) || body.contains(CUT) || !xml_clean || crlf {
            return None;
        }
        let cut = shared_excerpt_cut(body, separator)?;
        if reads_excerpt_fields(&body[..cut]) {
            return None;
        }
        let marked = [&body[..cut], CUT, &body[cut..]].concat();
        let rendered = self.render_liquid(&marked, false);
        if rendered.problems.iter().any(|problem| problem.message.contains(CUT)) {
            return None;
        }
        let rendered = self.absorb(rendered);
        let (head, tail) = rendered.split_once(CUT).filter(|(_, tail)| !tail.contains(CUT))?;
        let excerpt = self.convert(head.to_owned());
        let content = self.convert([head, tail].concat());
        Some((content, excerpt))
    }

    /// Liquid over `text`, unless the post turned it off or there is none.
    fn liquid(&mut self, text: &str, in_excerpt: bool) -> String {
        let text = normalize_newlines(&markup::xml_safe(text)).into_owned();
        if self.liquid && (text.contains("{{") || text.contains("{%")) {
            let rendered = self.render_liquid(&text, in_excerpt);
            self.absorb(rendered)
        } else {
            text
        }
    }

    /// Liquid over `text` with the post's page, or the excerpt's when `in_excerpt`.
    fn render_liquid(&mut self, text: &str, in_excerpt: bool) -> template::Rendered {
        let page = self.page();
        let page = if in_excerpt { excerpt_page(page) } else { page.clone() };
        self.renderer.engine.render(&Entry { path: &self.post.source, body: text, body_line: self.body_line, page })
    }

    /// Keeps what a render read and its problems; gives its output.
    fn absorb(&mut self, rendered: template::Rendered) -> String {
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
    }

    /// The post's converter over Liquid's output: kramdown for Markdown, none for HTML.
    fn convert(&self, text: String) -> String {
        match self.post.markup {
            Markup::Markdown => {
                let html = markdown::render(&text, &self.renderer.markdown);
                // kramdown writes a blank line as a line break, so a text that makes nothing else
                // is one line break if it has a blank line (or no text at all), else nothing; an
                // excerpt's summary is there or not by that (see `summary`).
                if html.is_empty() && (text.trim().is_empty() || text.lines().any(|line| line.trim().is_empty())) {
                    "\n".to_string()
                } else {
                    html
                }
            }
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

/// Whether Liquid in `text` may read what Jekyll's excerpt page has apart from the post's page
/// (`page.id`, `page.path`, `page.relative_path`, `page.excerpt`, or any field by `page[…]`): then
/// the excerpt cannot share the body's render. (An include that reads them is not seen.)
fn reads_excerpt_fields(text: &str) -> bool {
    ["page.id", "page.path", "page.relative_path", "page.excerpt", "page["].iter().any(|field| text.contains(field))
}

/// `page` as Liquid in Jekyll's excerpt sees it: the post's, but with the excerpt's own `id`,
/// `path` and `relative_path` (the post's with `#excerpt`), and no `excerpt`.
fn excerpt_page(page: &Object) -> Object {
    use liquid_core::ValueView;
    let mut page = page.clone();
    page.remove("excerpt");
    for (key, suffix) in [("id", "#excerpt"), ("path", "/#excerpt"), ("relative_path", "/#excerpt")] {
        if let Some(value) = page.get(key).map(|v| format!("{}{suffix}", v.to_kstr())) {
            page.insert(key.into(), Value::scalar(value));
        }
    }
    page
}

/// Where the body's excerpt ends, if one Liquid render of the body can give the excerpt's output
/// too (see [`Render::html_with_excerpt`]): the excerpt is the body's head unchanged (no end tags
/// or link definitions added), no `{{`/`{%` is open at the cut, no block is open (a tag counts as a
/// block when Liquid knows it as one or the body has its `end` tag), and no `-%}`/`{%-` trims the
/// whitespace around the cut.
fn shared_excerpt_cut(body: &str, separator: &str) -> Option<usize> {
    if separator.contains(['{', '}', '%']) {
        return None;
    }
    let cut = body.find(separator)?;
    let (head, tail) = body.split_at(cut);
    if excerpt_source(body, separator) != head {
        return None;
    }
    let open_after_close =
        |open: &str, close: &str| head.rfind(open).is_some_and(|o| head.rfind(close).is_none_or(|c| c < o + 2));
    if open_after_close("{{", "}}") || open_after_close("{%", "%}") || head.ends_with('{') {
        return None;
    }
    let trimmed_end = head.trim_end();
    let trimmed_start = tail.trim_start();
    if trimmed_end.ends_with("-%}") || trimmed_end.ends_with("-}}") {
        return None;
    }
    if trimmed_start.starts_with("{%-") || trimmed_start.starts_with("{{-") {
        return None;
    }
    let all_tags = liquid_tag_names(body);
    let mut depth = 0usize;
    for name in liquid_tag_names(head) {
        if let Some(opened) = name.strip_prefix("end") {
            if LIQUID_BLOCKS.contains(&opened) || all_tags.iter().any(|t| t == opened) {
                depth = depth.checked_sub(1)?;
            }
        } else if LIQUID_BLOCKS.contains(&name.as_str()) || all_tags.iter().any(|t| *t == format!("end{name}")) {
            depth += 1;
        }
    }
    (depth == 0).then_some(cut)
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
    let (name, ext) = name_and_ext(&post.source);
    page.insert("name".into(), Value::scalar(name.to_string()));
    page.insert("ext".into(), Value::scalar(ext.to_string()));
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

/// Jekyll's `page.name` and `page.ext`: the file name (`2020-01-02-a.md`) and its extension
/// with the dot (`.md`).
pub(super) fn name_and_ext(source: &str) -> (&str, &str) {
    let name = source.rsplit('/').next().unwrap_or_default();
    (name, name.rfind('.').map_or("", |dot| &name[dot..]))
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

/// `site.url` as Liquid sees it: `url` as `_config.yml` writes it, a final `/` included, as Jekyll
/// keeps it (`{{ site.url }}/x` and `absolute_url` then give `https://x.org//x`), when it is the
/// `origin` the feeds use; else `origin`.
fn liquid_site_url(raw: &serde_yaml::Value, origin: &str) -> String {
    match raw.get("url").and_then(serde_yaml::Value::as_str) {
        Some(url) if url.ends_with('/') && url.trim_end_matches('/') == origin => url.to_string(),
        _ => origin.to_string(),
    }
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
    fn site_url_keeps_the_final_slash_config_yml_gives_it() {
        let config = |yaml: &str| serde_yaml::from_str::<serde_yaml::Value>(yaml).unwrap();
        assert_eq!(liquid_site_url(&config("url: https://x.org/\n"), "https://x.org"), "https://x.org/");
        assert_eq!(liquid_site_url(&config("url: https://x.org\n"), "https://x.org"), "https://x.org");
        // A url that config.toml replaced, or none, gives the feeds' origin.
        assert_eq!(liquid_site_url(&config("url: https://y.org/\n"), "https://x.org"), "https://x.org");
        assert_eq!(liquid_site_url(&serde_yaml::Value::Null, "https://x.org"), "https://x.org");
    }

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
    fn an_excerpt_shares_the_bodys_render_only_where_it_is_cut_at_the_top_level() {
        let cut = |body: &str| shared_excerpt_cut(body, "\n\n");
        assert_eq!(cut("{{ page.title }} one.\n\n{% include x.html %}"), Some(21));
        assert_eq!(cut("{% if a %}x{% endif %}\n\ny"), Some(22));
        assert_eq!(cut("{% if a %}x\n\ny{% endif %}"), None, "an open block");
        assert_eq!(cut("{% figure %}x\n\ny{% endfigure %}"), None, "an unknown block");
        assert_eq!(cut("{{ 'a\n\nb' }}"), None, "an open output");
        assert_eq!(cut("{% assign a = 1 -%}\n\nb"), None, "trimmed after");
        assert_eq!(cut("a\n\n{%- assign a = 1 %}"), None, "trimmed before");
        assert_eq!(cut("[a][r]\n\nb\n\n[r]: /r"), None, "a link definition added");
        assert_eq!(cut("no separator"), None);
    }

    /// Bodies made of pieces chosen to cut the excerpt everywhere: blocks, trims, state that
    /// later pieces read, includes that assign, broken tags.
    fn liquid_body() -> impl proptest::strategy::Strategy<Value = String> {
        const PIECES: &[&str] = &[
            "Text.",
            "\n\n",
            "\n",
            "<!--more-->",
            "{% assign n = n | plus: 1 %}",
            "{{ n }}",
            "{% increment k %}",
            "{% if true %}",
            "{% endif %}",
            "{% for i in (1..2) %}{{ i }}",
            "{% endfor %}",
            "{% raw %}",
            "{% endraw %}",
            "{%- comment -%}c{%- endcomment -%}",
            "{{- 'w' -}}",
            "{% capture c %}",
            "{% endcapture %}{{ c }}",
            "{% include x.html %}",
            "{{ page.title }}",
            "{% unknown %}",
            "{% figure %}",
            "{% endfigure %}",
            "{{ 'a' | bogus }}",
            "{%",
            "}}",
            "*em*",
            "[a][r]",
            "[r]: /r",
        ];
        proptest::collection::vec(proptest::sample::select(PIECES), 0..14).prop_map(|pieces| pieces.concat())
    }

    use proptest::strategy::Strategy;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 400, ..Default::default() })]

        #[test]
        fn one_render_for_body_and_excerpt_gives_what_two_give(body in liquid_body(), more in proptest::bool::ANY) {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("_includes")).unwrap();
            std::fs::write(dir.path().join("_includes/x.html"), "[{% assign n = n | plus: 10 %}{{ n }}]").unwrap();
            let config = Config::parse("[site]\nurl = \"https://e.example\"\n", dir.path()).unwrap();
            let renderer = ContentRenderer::new(&config, Arc::new(template::NoIndex), chrono::DateTime::UNIX_EPOCH.fixed_offset());
            let separator = if more { "excerpt_separator: <!--more-->\n" } else { "" };
            let text = format!("---\ntitle: T\n{separator}---\n{body}");
            let post = post::parse("_posts/2021-01-01-x.md", text.as_bytes(), &config.site).unwrap();
            let once = renderer.entry_text(&post, text.as_bytes());
            EXCERPT_APART.set(true);
            let apart = renderer.entry_text(&post, text.as_bytes());
            EXCERPT_APART.set(false);
            proptest::prop_assert_eq!(once, apart);
        }
    }

    /// The content and summary of a post of a site at `https://example.org`.
    fn content_and_summary(source: &str, text: &str) -> (String, Option<String>) {
        let config =
            Config::parse("[site]\nurl = \"https://example.org\"\n", std::path::Path::new("/nonexistent")).unwrap();
        let renderer =
            ContentRenderer::new(&config, Arc::new(template::NoIndex), chrono::DateTime::UNIX_EPOCH.fixed_offset());
        let post = crate::post::parse(source, text.as_bytes(), &config.site).unwrap();
        let entry = renderer.entry_text(&post, text.as_bytes()).unwrap();
        (entry.content.unwrap_or_default(), entry.summary)
    }

    #[test]
    fn page_excerpt_is_the_excerpt_as_html_and_the_excerpt_has_its_own_page_id() {
        // As Jekyll 4.3 renders them: the excerpt's Liquid sees `page.id` and `page.path` with
        // `#excerpt` and no `page.excerpt`; the body's `page.excerpt` is the excerpt made.
        let text = "---\ntitle: F\n---\nIntro *{{ page.id }}* {{ page.path }} [{{ page.excerpt }}].\n\n\
                    Body [{{ page.excerpt | strip_html | strip }}] {{ page.id }}\n";
        let (content, summary) = content_and_summary("_posts/2024-01-09-f.md", text);
        assert_eq!(summary.as_deref(), Some("Intro /2024/01/09/f#excerpt _posts/2024-01-09-f.md/#excerpt []."));
        assert!(
            content.contains(
                "<p>Body [Intro /2024/01/09/f#excerpt _posts/2024-01-09-f.md/#excerpt [].] /2024/01/09/f</p>"
            ),
            "{content}"
        );
        assert!(content.contains("<em>/2024/01/09/f</em>"), "{content}");
        // An excerpt that does not share the body's render when it reads the excerpt's own page,
        // whether cut from the body or the whole body.
        let (content, summary) = content_and_summary(
            "_posts/2024-01-10-g.md",
            "---\ntitle: G\n---\nG {{ page.id }}.\n\nRest {{ page.title }}.\n",
        );
        assert_eq!(summary.as_deref(), Some("G /2024/01/10/g#excerpt."));
        assert_eq!(content, "<p>G /2024/01/10/g.</p>\n<p>Rest G.</p>");
        let (content, summary) =
            content_and_summary("_posts/2024-01-11-i.md", "---\ntitle: I\n---\nI {{ page.path }}.\n");
        assert_eq!(summary.as_deref(), Some("I _posts/2024-01-11-i.md/#excerpt."));
        assert_eq!(content, "<p>I _posts/2024-01-11-i.md.</p>");
        // A front-matter excerpt is given as written, its Liquid not run.
        let text = "---\ntitle: H\nexcerpt: \"Front {{ page.title }}\"\n---\nH[{{ page.excerpt }}]\n";
        let (content, summary) = content_and_summary("_posts/2024-01-08-h.md", text);
        assert_eq!(content, "<p>H[Front {{ page.title }}]</p>");
        assert_eq!(summary.as_deref(), Some("Front {{ page.title }}"));
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
