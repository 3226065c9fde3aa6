//! Liquid as Jekyll renders it: an [`Engine`] built once per site version turns a post body into
//! what Jekyll's Liquid pass makes of it, before Markdown. Built on the `liquid` crate (liquid-rust)
//! with Jekyll's tags and filters added, and a reading of the template that never lets a problem
//! cost the reader: unknown tags and filters, missing includes, syntax errors and runaway templates
//! are left out and reported with `path:line`, and no `{{`/`{%` markup reaches the output.
//!
//! The caller decides when to render: a post whose front matter says `render_with_liquid: false`
//! is not given to [`Engine::render`] at all (see [`renders_liquid`]).

mod assemble;
mod condition;
mod data;
mod files;
mod filters;
mod lexer;
mod prepare;
mod render;
mod site;
mod tags;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, OnceLock, RwLock, Weak};

use chrono::{DateTime, FixedOffset};
use liquid_core::parser::Language;
use liquid_core::Object;

pub use data::{from_json, from_yaml, load_data};
pub use files::{IncludeError, RecordedFiles, SiteFiles};
pub(crate) use filters::to_liquid_time;
pub(crate) use lexer::has_markup;

use prepare::IncludeKind;

/// What went wrong in a template, where: `path:line: message`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Problem {
    /// The file, relative to the site root: the post, an include, or a data file.
    pub path: String,
    /// 1-based line in that file; 0 when unknown.
    pub line: u32,
    pub kind: ProblemKind,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}", self.path, self.line, self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// The sort of a [`Problem`], for counting and filtering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProblemKind {
    /// Markup Liquid cannot read: an unclosed tag or block, a bad expression.
    Syntax,
    /// An output (`{{ … }}`) Liquid cannot read, such as another template language's
    /// `{{ #each }}`. Jekyll's default (`liquid: error_mode: warn`) warns and prints nothing for
    /// it, as postfeed does.
    OutputSyntax,
    /// A tag postfeed does not know (a site plugin's). A block keeps its content.
    UnknownTag,
    /// A filter postfeed does not know; the value passes through unchanged, as in Jekyll.
    UnknownFilter,
    /// An include that is missing, outside its folder, or nested too deeply.
    Include,
    /// A `post_url` or `link` target that is not in the site.
    Link,
    /// A tag or filter that failed while rendering.
    Render,
    /// A template that went past a limit (size, nesting, loop length, work, output).
    Limit,
    /// A `_data` file that could not be read.
    Data,
}

impl ProblemKind {
    pub fn name(self) -> &'static str {
        match self {
            ProblemKind::Syntax => "syntax",
            ProblemKind::OutputSyntax => "output syntax",
            ProblemKind::UnknownTag => "unknown tag",
            ProblemKind::UnknownFilter => "unknown filter",
            ProblemKind::Include => "include",
            ProblemKind::Link => "link",
            ProblemKind::Render => "render",
            ProblemKind::Limit => "limit",
            ProblemKind::Data => "data",
        }
    }
}

/// Bounds that keep a hostile template from hurting the process that renders it.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Includes inside includes, at most (a loop of includes stops here).
    pub max_include_depth: usize,
    /// Blocks inside blocks, at most (liquid-rust's parser recurses on them).
    pub max_nesting: usize,
    /// Longest markup of one tag or output.
    pub max_markup_bytes: usize,
    /// Most numbers in a `(a..b)` range.
    pub max_range: usize,
    /// Most loop iterations in one render, nested loops and loops in includes counted alike.
    pub max_steps: u64,
    /// Most bytes written in one render, counted at every include level.
    pub max_output_bytes: usize,
    /// Most bytes of values made in one render by filters and assignments (`assign`, `capture`),
    /// each counted whole, so that a string doubled in a loop stops long before memory does.
    pub max_value_bytes: usize,
    /// Most broken tags dropped and retried before the text is given without Liquid.
    pub max_attempts: usize,
    /// Most tags and outputs parsed for one render, over every attempt: a text with more than
    /// this is given without its Liquid, and one with many gets fewer attempts (liquid-rust's
    /// parser reads about ten tags a millisecond here, so each attempt costs the whole text).
    pub max_parsed_items: usize,
    /// Most tags and outputs parsed again to find and drop the tags that fail to render, over
    /// every retry of one render, its includes' included: each retry reads the text's items
    /// twice (with step markers), so a text with thousands of failing outputs is soon given
    /// without its Liquid rather than parsed once per failure.
    pub max_reparsed_items: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_include_depth: 16,
            max_nesting: 64,
            max_markup_bytes: 16 * 1024,
            max_range: 100_000,
            max_steps: 2_000_000,
            max_output_bytes: 64 * 1024 * 1024,
            max_value_bytes: 64 * 1024 * 1024,
            max_attempts: 32,
            max_parsed_items: 20_000,
            max_reparsed_items: 20_000,
        }
    }
}

/// The include files of a site, as the engine asks for them. The engine does no file I/O itself;
/// [`SiteFiles`] is the implementation that reads a site folder.
pub trait Files: Send + Sync {
    /// `{% include name %}`: the text of `_includes/<name>`.
    fn include(&self, name: &str) -> Result<Arc<str>, IncludeError>;
    /// `{% include_relative name %}` in the post at `post_path` (relative to the site root): the
    /// text of `name` relative to the post's folder.
    fn include_relative(&self, post_path: &str, name: &str) -> Result<Arc<str>, IncludeError>;
}

/// What the engine needs to know about the site's other pages, from the site layer.
pub trait SiteIndex: Send + Sync {
    /// `{% post_url name %}`: the URL path (without baseurl, starting with `/`) of the post whose
    /// file name without extension is `name` (`2020-01-02-slug`, or `folder/2020-01-02-slug` for a
    /// post in `_posts/folder/` or `folder/_posts/`).
    fn post_url(&self, name: &str) -> Option<String>;
    /// `{% link path %}`: the URL path (without baseurl) of the page or post at `path` relative to
    /// the site root (`_posts/2020-01-02-slug.md`, `about.md`).
    fn link(&self, path: &str) -> Option<String>;
    /// `site.posts`, newest first, as Jekyll gives it to templates. Asked for at most once per
    /// engine, and only when a template reads `site.posts`.
    fn posts(&self) -> Vec<liquid_core::Value> {
        Vec::new()
    }
}

/// A [`SiteIndex`] that knows no page: every `post_url` and `link` is reported as missing.
pub struct NoIndex;

impl SiteIndex for NoIndex {
    fn post_url(&self, _name: &str) -> Option<String> {
        None
    }
    fn link(&self, _path: &str) -> Option<String> {
        None
    }
}

/// A text transformation the caller provides (`markdownify`, `smartify`).
pub type TextHook = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Everything a site gives its templates. Built by the caller once per site version.
pub struct SiteContext {
    /// `_config.yml` as a Liquid object: every key becomes `site.<key>`.
    pub config: Object,
    /// `site.data`, from [`load_data`].
    pub data: Object,
    /// `site.time`. Jekyll uses the build time; a caller that wants byte-identical output for the
    /// same tree passes a time derived from the tree instead.
    pub time: DateTime<FixedOffset>,
    /// `site.url` (wins over `config`).
    pub url: String,
    /// `site.baseurl` (wins over `config`), as `/path` or empty.
    pub baseurl: String,
    /// Zone of the date filters' output, as Jekyll's `timezone`; UTC when `None`.
    pub timezone: Option<chrono_tz::Tz>,
    pub files: Arc<dyn Files>,
    pub index: Arc<dyn SiteIndex>,
    /// `markdownify`: Markdown to HTML, as the site's Markdown converter does it.
    pub markdownify: TextHook,
    /// `smartify`: straight quotes, dashes and ellipses to typographic ones.
    pub smartify: TextHook,
    pub limits: Limits,
}

impl SiteContext {
    /// A context with no config, data, includes or pages; hooks return their input unchanged.
    pub fn empty(url: &str, baseurl: &str) -> SiteContext {
        SiteContext {
            config: Object::new(),
            data: Object::new(),
            time: DateTime::UNIX_EPOCH.fixed_offset(),
            url: url.trim_end_matches('/').to_owned(),
            baseurl: baseurl.trim_end_matches('/').to_owned(),
            timezone: None,
            files: Arc::new(files::NoFiles),
            index: Arc::new(NoIndex),
            markdownify: Arc::new(|s: &str| s.to_owned()),
            smartify: Arc::new(|s: &str| s.to_owned()),
            limits: Limits::default(),
        }
    }
}

/// One text to render: a post body with where it sits in its file.
pub struct Entry<'a> {
    /// The post's path relative to the site root, for messages and `include_relative`.
    pub path: &'a str,
    /// The body after front matter.
    pub body: &'a str,
    /// The file line on which `body` starts (1 for a file without front matter).
    pub body_line: u32,
    /// `page`: front matter plus `url`, `id`, `date`, `categories`, `tags`, `slug`, `excerpt`, `path`.
    pub page: Object,
}

/// The result of rendering one entry: always some output, and what went wrong on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub output: String,
    /// Sorted, without duplicates.
    pub problems: Vec<Problem>,
    /// Include files the render asked for (found or not), as site-relative paths, sorted: a change
    /// to any of them changes the output.
    pub includes: Vec<String>,
    /// Whether the render read a file next to the post (`include_relative`, in the post or in an
    /// include): the output may differ when the post moves, or when that file changes.
    pub reads_beside: bool,
    /// The posts it looked up and what it found, sorted, without duplicates: the output changes
    /// when one of them would be found elsewhere, or not at all, or found when it was not.
    pub lookups: Vec<Lookup>,
    /// Whether the render read `site.posts`: the output may change with any post.
    pub reads_posts: bool,
}

impl Rendered {
    /// Whether the output depends on where posts are: it read a file next to the post, or looked
    /// a post up by its path or name (`link`, `post_url`).
    pub fn reads_paths(&self) -> bool {
        self.reads_beside || !self.lookups.is_empty()
    }
}

/// A post looked up by `{% post_url name %}` (`post`) or `{% link path %}`, and the URL path
/// found (`None`: no such post).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Lookup {
    pub post: bool,
    pub target: String,
    pub found: Option<String>,
}

impl Lookup {
    /// Whether `index` finds what this lookup found.
    pub fn holds(&self, index: &dyn SiteIndex) -> bool {
        let now = if self.post { index.post_url(&self.target) } else { index.link(&self.target) };
        now == self.found
    }
}

/// Whether Jekyll renders Liquid in a page with this front matter (`render_with_liquid: false`
/// turns it off). Takes the front-matter value of `render_with_liquid`, if any.
pub fn renders_liquid(render_with_liquid: Option<&serde_yaml::Value>) -> bool {
    !matches!(render_with_liquid, Some(serde_yaml::Value::Bool(false)))
}

/// A parsed include, shared by every entry and thread that uses it.
pub(crate) struct CompiledInclude {
    pub path: Arc<str>,
    pub prepared: Arc<prepare::Prepared>,
    pub compiled: render::Compiled,
    /// Problems found while parsing, reported by every render that uses the include.
    pub problems: Vec<Problem>,
}

/// An include as parsed, or why it could not be read.
pub(crate) type CachedInclude = Arc<Result<CompiledInclude, IncludeError>>;

/// State shared by the engine's tags and filters.
pub(crate) struct Shared {
    pub site: site::SiteObject,
    pub files: Arc<dyn Files>,
    pub index: Arc<dyn SiteIndex>,
    pub markdownify: TextHook,
    pub smartify: TextHook,
    pub url: String,
    pub baseurl: String,
    pub timezone: Option<chrono_tz::Tz>,
    pub limits: Limits,
    /// The language the tags parse includes with; weak, as the language holds the tags.
    pub language: OnceLock<Weak<Language>>,
    /// Parsed includes by kind and resolved name (each parsed once).
    pub includes: RwLock<HashMap<(IncludeKind, String), CachedInclude>>,
    /// Standard tags and outputs, each parsed once.
    pub parsed: assemble::ParsedPieces,
}

impl Shared {
    pub(crate) fn language(&self) -> Option<Arc<Language>> {
        self.language.get().and_then(Weak::upgrade)
    }
}

/// Renders Liquid as Jekyll does, for one site version. Cheap to share: `render` takes `&self` and
/// runs on any number of threads at once.
pub struct Engine {
    language: Arc<Language>,
    shared: Arc<Shared>,
}

impl Engine {
    pub fn new(site: SiteContext) -> Engine {
        let site_object = site::SiteObject::new(&site);
        let shared = Arc::new(Shared {
            site: site_object,
            files: site.files,
            index: site.index,
            markdownify: site.markdownify,
            smartify: site.smartify,
            url: site.url,
            baseurl: site.baseurl,
            timezone: site.timezone,
            limits: site.limits,
            language: OnceLock::new(),
            includes: RwLock::new(HashMap::new()),
            parsed: assemble::ParsedPieces::default(),
        });
        let language = Arc::new(build_language(&shared));
        let _ = shared.language.set(Arc::downgrade(&language));
        Engine { language, shared }
    }

    /// `site.time`, which is also "now" for the date filters.
    pub fn site_time(&self) -> DateTime<FixedOffset> {
        self.shared.site.time()
    }

    /// Whether some template has read `site.posts`: then any output may depend on every post.
    pub fn has_read_site_posts(&self) -> bool {
        self.shared.site.posts_read()
    }

    /// The site's posts changed: a render that reads `site.posts` from now on gets them anew.
    pub fn forget_posts(&self) {
        self.shared.site.forget_posts();
    }

    /// Renders `entry`'s Liquid. A body without `{{` or `{%` is returned as it is, without parsing.
    pub fn render(&self, entry: &Entry<'_>) -> Rendered {
        if !lexer::has_markup(entry.body) {
            return Rendered {
                output: entry.body.to_owned(),
                problems: Vec::new(),
                includes: Vec::new(),
                reads_beside: false,
                lookups: Vec::new(),
                reads_posts: false,
            };
        }
        render::render_entry(&self.language, &self.shared, entry)
    }

    /// How many includes have been parsed (and cached) so far.
    pub fn cached_includes(&self) -> usize {
        self.shared.includes.read().map_or(0, |m| m.len())
    }
}

fn build_language(shared: &Arc<Shared>) -> Language {
    use liquid_lib::stdlib;
    let mut language = Language::empty();
    let tags: Vec<Box<dyn liquid_core::parser::ParseTag>> = vec![
        Box::new(stdlib::AssignTag),
        Box::new(stdlib::BreakTag),
        Box::new(stdlib::ContinueTag),
        Box::new(stdlib::CycleTag),
        Box::new(stdlib::IncrementTag),
        Box::new(stdlib::DecrementTag),
    ];
    for tag in tags {
        language.tags.register(tag.reflection().tag().to_owned(), tag);
    }
    let blocks: Vec<Box<dyn liquid_core::parser::ParseBlock>> =
        vec![Box::new(stdlib::IfChangedBlock), Box::new(stdlib::ForBlock), Box::new(stdlib::CaptureBlock)];
    for block in blocks {
        language.blocks.register(block.reflection().start_tag().to_owned(), block);
    }
    tags::register(&mut language, shared);
    filters::register(&mut language, shared);
    language
}

#[cfg(test)]
mod tests;
