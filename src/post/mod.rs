//! One post file in, one `Post` out: Jekyll's rules for names, front matter, taxonomies and URLs.
//! Pure: no I/O, so the same bytes always give the same post.

pub(crate) mod body;
pub(crate) mod date;
pub(crate) mod front_matter;
mod psych;
pub(crate) mod ruby_time;
mod yaml;

use std::fmt;
use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};

use crate::config::SiteConfig;
use crate::markup;
use crate::permalink::{self, Placeholders};
use crate::urls::{absolute, encode_path, has_scheme};
use body::Markup;
use front_matter::{Field, FrontMatter, SplitError};

/// A post as a feed needs it. The body is not kept: it is read again when an entry is rendered,
/// so a site of 100,000 posts costs memory for its metadata only.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Post {
    /// Path relative to the source root, `/`-separated; the post's identity in the site.
    pub(crate) source: String,
    pub(crate) title: String,
    #[serde(with = "date::stored")]
    pub(crate) date: DateTime<FixedOffset>,
    #[serde(with = "date::stored")]
    pub(crate) updated: DateTime<FixedOffset>,
    pub(crate) categories: Vec<String>,
    pub(crate) tags: Vec<String>,
    pub(crate) published: bool,
    /// Read from an archive folder (`source.archive`): shown in category and tag feeds, never in
    /// the site feed. Set by the site layer, which knows the folders.
    pub(crate) archived: bool,
    /// The post's own author; `None` means the site's.
    pub(crate) author: Option<Author>,
    /// Absolute URL where Jekyll publishes the post.
    pub url: String,
    /// Absolute entry id, equal to jekyll-feed's unless front matter pins one.
    pub(crate) id: String,
    /// Whether `id` came from front matter (`id` or `guid`).
    pub(crate) id_pinned: bool,
    pub(crate) image: Option<String>,
    pub(crate) lang: Option<String>,
    pub(crate) markup: Markup,
    /// What was read other than as written, though the post is kept.
    pub(crate) warnings: Vec<PostWarning>,
    /// The file's lines of the front-matter keys the categories and tags were read from
    /// (`category`/`categories`, `tag`/`tags`), so a note about a name can point at it.
    pub(crate) taxonomy_lines: TaxonomyLines,
}

/// Lines (1-based, the file's) of the keys that gave a post its categories and its tags; `None`
/// when the names came from folders or `_config.yml` defaults only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct TaxonomyLines {
    pub(crate) categories: Option<usize>,
    pub(crate) tags: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Author {
    pub(crate) name: String,
    pub(crate) email: Option<String>,
    pub(crate) uri: Option<String>,
}

/// Why a file is not in the feeds. Names the file and, where known, the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PostError {
    pub(crate) path: PathBuf,
    pub(crate) line: Option<usize>,
    pub(crate) kind: PostErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PostErrorKind {
    #[error("not a post: the name does not start with a date (YYYY-MM-DD-slug.ext)")]
    UndatedName,
    #[error("not a post: no front matter (Jekyll needs a first line of ---)")]
    NoFrontMatter,
    #[error("front matter is never closed (no line of --- after the first)")]
    UnclosedFrontMatter,
    #[error("invalid YAML in front matter: {0}")]
    Yaml(String),
    #[error("not UTF-8 text (first bad byte at offset {0})")]
    NotUtf8(usize),
    #[error("binary file (it contains NUL bytes)")]
    Binary,
    #[error("too large: {size} bytes, over the limit of {limit} (feeds.max_post_bytes)")]
    TooLarge { size: u64, limit: u64 },
    #[error("cannot read: {0}")]
    Unreadable(String),
    #[error("not a regular file")]
    NotAFile,
    #[error("the file name is not UTF-8: rename it")]
    NameNotUtf8,
    #[error("symbolic link to {0}, outside the source folder: never published")]
    LinkOutside(String),
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.path.display(), line, self.kind),
            None => write!(f, "{}: {}", self.path.display(), self.kind),
        }
    }
}

impl PostErrorKind {
    /// Whether the file was read but its text is not a post (front matter missing, unclosed or
    /// not YAML, bytes that are not text): what a save in progress or a typo gives, as opposed
    /// to a file that is gone, unreadable, too large or misnamed.
    pub(crate) fn is_parse_failure(&self) -> bool {
        matches!(
            self,
            PostErrorKind::NoFrontMatter
                | PostErrorKind::UnclosedFrontMatter
                | PostErrorKind::Yaml(_)
                | PostErrorKind::NotUtf8(_)
                | PostErrorKind::Binary
        )
    }
}

impl PostError {
    pub(crate) fn new(path: impl Into<PathBuf>, kind: PostErrorKind) -> PostError {
        PostError { path: path.into(), line: None, kind }
    }
}

/// Something in a post that is read other than as written: the post is kept, and this is
/// reported. The line is the file's, where known.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct PostWarning {
    pub(crate) line: Option<usize>,
    pub(crate) kind: PostWarningKind,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub(crate) enum PostWarningKind {
    #[error("front matter sets {0:?} more than once; the last value is used")]
    RepeatedKey(String),
    #[error("date {value:?} is not a date; using the file name's date {file_date}")]
    NotADate { value: String, file_date: String },
    #[error("{count} {key}; only the first {MAX_NAMES_PER_POST} make feeds and are listed in entries")]
    TooManyNames { key: String, count: usize },
}

/// Most categories, and most tags, that one post puts in feeds. Each name is a feed that lists
/// every name of the post's entry: a post with thousands would make output that grows with the
/// square of their number. The corpora's posts have at most 11.
pub(crate) const MAX_NAMES_PER_POST: usize = 100;

impl fmt::Display for PostWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

/// The bytes as text, or the offset of the first byte that is not UTF-8. The SIMD check is
/// several times faster than `std`'s on CJK text, where every character takes the slow path.
fn utf8(bytes: &[u8]) -> Result<&str, usize> {
    simdutf8::basic::from_utf8(bytes).map_err(|_| std::str::from_utf8(bytes).err().map_or(0, |e| e.valid_up_to()))
}

/// The parts of a post's file name: `2021-12-24-slug.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PostName<'a> {
    pub(crate) date: &'a str,
    pub(crate) slug: &'a str,
    pub(crate) ext: &'a str,
    /// The name without its extension.
    pub(crate) basename: &'a str,
}

/// Jekyll's `DATE_FILENAME_MATCHER`, for the last path component.
pub(crate) fn parse_name(file_name: &str) -> Option<PostName<'_>> {
    let dot = file_name.rfind('.')?;
    let (basename, ext) = (&file_name[..dot], &file_name[dot + 1..]);
    if ext.is_empty() {
        return None;
    }
    let mut dashes = basename.match_indices('-').map(|(i, _)| i);
    let (_, _, third) = (dashes.next()?, dashes.next()?, dashes.next()?);
    let date = &basename[..third];
    date::parse_ymd(date)?;
    Some(PostName { date, slug: &basename[third + 1..], ext, basename })
}

/// Parses one post. `source` is the path relative to the source root, `/`-separated, with a
/// `_posts` component; `bytes` is the whole file.
pub fn parse(source: &str, bytes: &[u8], site: &SiteConfig) -> Result<Post, PostError> {
    let fail = |kind| PostError::new(source, kind);
    let file_name = source.rsplit('/').next().unwrap_or(source);
    let name = parse_name(file_name).ok_or_else(|| fail(PostErrorKind::UndatedName))?;
    // Where the file is bad, as a line: what `check` points at.
    let at = |kind, line| PostError { path: source.into(), line: Some(line), kind };
    let line_at = |offset: usize| memchr::memchr_iter(b'\n', &bytes[..offset]).count() + 1;
    if let Some(nul) = memchr::memchr(0, bytes) {
        return Err(at(PostErrorKind::Binary, line_at(nul)));
    }
    let text = utf8(bytes).map_err(|offset| at(PostErrorKind::NotUtf8(offset), line_at(offset)))?;
    // Both are about the first line: it should be `---`, or it opens what is never closed.
    let split = front_matter::split(text).map_err(|e| {
        let kind = match e {
            SplitError::NoFrontMatter => PostErrorKind::NoFrontMatter,
            SplitError::Unclosed => PostErrorKind::UnclosedFrontMatter,
        };
        at(kind, 1)
    })?;
    let fm = front_matter::parse_yaml(split.yaml).map_err(|e| PostError {
        path: source.into(),
        line: e.line.map(|l| l + split.yaml_first_line - 1),
        kind: PostErrorKind::Yaml(e.message),
    })?;
    // Whether a top-level key's value is written unquoted: Psych reads such a timestamp as UTC.
    let bare = |key: &str| front_matter::raw_value(split.yaml, key).is_some_and(|raw| !raw.starts_with(['"', '\'']));
    let fm = with_defaults(fm, source, site);
    let line_of = |key: &str| front_matter::key_line(split.yaml, key).map(|i| i + split.yaml_first_line);
    Ok(build(source, &name, &fm, bare, line_of, site))
}

fn build(
    source: &str,
    name: &PostName,
    fm: &FrontMatter,
    bare: impl Fn(&str) -> bool,
    line_of: impl Fn(&str) -> Option<usize>,
    site: &SiteConfig,
) -> Post {
    let mut warnings: Vec<PostWarning> = fm
        .repeated
        .iter()
        .map(|key| PostWarning { line: line_of(key), kind: PostWarningKind::RepeatedKey(key.clone()) })
        .collect();
    let text = |key: &str| fm.get(key).and_then(Field::as_text).map(str::to_string);
    let nonempty = |key: &str| text(key).filter(|s| !s.trim().is_empty());

    let slug = nonempty("slug").unwrap_or_else(|| name.slug.trim_end_matches('.').to_string());
    // jekyll-feed's `title | smartify | strip_html | normalize_whitespace`, as a reader shows it.
    let title = nonempty("title")
        .map(|t| feed_title(&t))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| feed_title(&titleize(&slug)));

    let file_date = date::date_from_file_name(name.date, site.timezone).expect("the name's date was checked");
    let date = match fm.get("date") {
        None | Some(Field::Null) => file_date,
        Some(field) => match field.as_text().and_then(|t| front_matter_date(t, bare("date"), site.timezone)) {
            Some(d) => d,
            None => {
                warnings.push(PostWarning {
                    line: line_of("date"),
                    kind: PostWarningKind::NotADate { value: field_text(field), file_date: name.date.to_string() },
                });
                file_date
            }
        },
    };
    let updated = ["last_modified_at", "updated"]
        .iter()
        .find_map(|k| {
            let text = text(k)?;
            if bare(k) && date::is_yaml_timestamp_without_offset(&text) {
                return date::parse_date(&text, chrono_tz::UTC);
            }
            date::parse_date(&text, site.timezone)
        })
        .unwrap_or(date);
    // Jekyll reads every date into the site's zone (`Time#localtime` under `TZ`): `page.date`
    // and jekyll-feed's `published` show the same instant in that zone, whatever offset the
    // front matter wrote.
    let (date, updated) =
        (date.with_timezone(&site.timezone).fixed_offset(), updated.with_timezone(&site.timezone).fixed_offset());

    // The permalink uses the names as Jekyll has them; feeds show them decoded.
    let url_categories = categories(source, fm);
    let mut categories = decoded_names(&url_categories);
    let mut tags = decoded_names(&taxonomy(fm, "tag", "tags"));
    for (names, key, line) in [(&mut categories, "categories", "category"), (&mut tags, "tags", "tag")] {
        if names.len() > MAX_NAMES_PER_POST {
            let line = line_of(line).or_else(|| line_of(key));
            warnings.push(PostWarning {
                line,
                kind: PostWarningKind::TooManyNames { key: key.to_string(), count: names.len() },
            });
            names.truncate(MAX_NAMES_PER_POST);
        }
    }
    // The key `taxonomy` reads: the singular one wins unless it is null.
    let key_line = |singular: &str, plural: &str| match fm.get(singular) {
        Some(field) if !matches!(field, Field::Null) => line_of(singular),
        _ => line_of(plural),
    };
    let taxonomy_lines =
        TaxonomyLines { categories: key_line("category", "categories"), tags: key_line("tag", "tags") };

    // Jekyll publishes unless `published` is false or empty.
    // Jekyll publishes unless `published` is the boolean false or empty (a string "false" is truthy).
    let published = match fm.get("published") {
        Some(Field::Null) => false,
        Some(Field::Scalar(value)) => value != "false",
        _ => true,
    };

    // The site's author is filled in when rendering, not copied into every post.
    let author = author(fm);

    let markup = Markup::from_extension(name.ext);
    let output_ext = match markup {
        Markup::Markdown => ".html".to_string(),
        Markup::Verbatim => match name.ext.to_ascii_lowercase().as_str() {
            "htm" | "html" | "xhtml" => format!(".{}", name.ext),
            _ => format!(".{}", name.ext),
        },
    };
    let placeholders = Placeholders {
        categories: &url_categories,
        date: date.with_timezone(&site.timezone),
        slug: &slug,
        basename: name.basename,
        output_ext: &output_ext,
    };
    // What XML cannot hold never reaches a link.
    let template = nonempty("permalink").map(|p| clean(&p)).unwrap_or_else(|| site.permalink.clone());
    let path = permalink::render(&template, &placeholders);
    let url = absolute(site, &path);

    let pinned_id = nonempty("id").or_else(|| nonempty("guid")).filter(|pinned| crate::urls::harmless_id(pinned));
    let id_pinned = pinned_id.is_some();
    let id = match pinned_id {
        Some(pinned) if has_scheme(pinned.trim()) => clean(&pinned),
        Some(pinned) => absolute(site, &encode_path(&format!("/{}", pinned.trim_start_matches('/')))),
        None => {
            let dir = match path.rfind('/') {
                Some(i) if path.ends_with('/') => parent_dir(&path[..i]),
                Some(i) => &path[..i],
                None => "",
            };
            absolute(site, &encode_path(&format!("{dir}/{slug}")))
        }
    };

    let image = match fm.get("image") {
        Some(Field::Map(_)) => fm.get("image").and_then(|m| m.get("path")).and_then(Field::as_text).map(str::to_string),
        Some(f) => f.as_text().map(str::to_string),
        None => None,
    }
    .filter(|s| !s.trim().is_empty())
    .and_then(|s| {
        if has_scheme(s.trim()) {
            crate::urls::web_link(&s)
        } else {
            Some(absolute(site, &encode_path(&format!("/{}", s.trim().trim_start_matches('/')))))
        }
    });

    Post {
        source: source.to_string(),
        title,
        date,
        updated,
        categories,
        tags,
        published,
        archived: false,
        author,
        url,
        id,
        id_pinned,
        image,
        lang: nonempty("lang").map(|l| clean(&l)),
        markup,
        warnings,
        taxonomy_lines,
    }
}

/// Jekyll's YAML reader (Psych) reads a bare `YYYY-MM-DD HH:MM:SS` without offset as UTC; every
/// other offset-less form, quoted or shorter, is in the site's zone. Any other text Jekyll gives
/// to Ruby's `Time.parse`.
fn front_matter_date(text: &str, bare: bool, tz: chrono_tz::Tz) -> Option<DateTime<FixedOffset>> {
    if bare && date::is_yaml_timestamp_without_offset(text) {
        return date::parse_date(text, chrono_tz::UTC).map(|d| d.with_timezone(&tz).fixed_offset());
    }
    date::parse_date(text, tz).or_else(|| ruby_time::parse(text, tz))
}

fn parent_dir(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[..i],
        None => "",
    }
}

/// What an entry shows of a post's text. Computed only for posts that are in some feed, from the
/// file read again, so the site in memory holds no text (100,000 posts × a few KB).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntryText {
    /// Plain text: `description`, else the excerpt, as jekyll-feed makes the summary.
    pub summary: Option<String>,
    /// The body as feed HTML; `None` when feeds carry summaries only.
    pub content: Option<String>,
    /// The entry's author with what `_data/authors` says of them; `None`: the feed's author.
    pub author: Option<Author>,
    /// What went wrong in the post's Liquid: reported, never shown to readers.
    pub problems: Vec<crate::template::Problem>,
    /// Whether its Liquid ran: the text may then also depend on `site.time`, `site.posts` and
    /// the posts it looked up, besides the post, `_config.yml`, `_data` and `_includes`.
    pub liquid: bool,
    /// Whether its Liquid read a file next to the post
    /// ([`crate::template::Rendered::reads_beside`]).
    pub reads_beside: bool,
    /// The posts its Liquid looked up and what it found ([`crate::template::Rendered::lookups`]).
    pub lookups: Vec<crate::template::Lookup>,
    /// Whether its Liquid read `site.posts` ([`crate::template::Rendered::reads_posts`]).
    pub reads_posts: bool,
}

impl EntryText {
    /// Whether the same bytes at another path may make another text: its Liquid read a file next
    /// to the post, looked a post up by path or name, or read `site.posts` (which lists the post
    /// by its path).
    pub fn reads_paths(&self) -> bool {
        self.reads_beside || !self.lookups.is_empty() || self.reads_posts
    }
}

/// The body of a post's file; `None` if it no longer parses.
pub fn body_of(bytes: &[u8]) -> Option<&str> {
    let text = utf8(bytes).ok()?;
    front_matter::split(text).ok().map(|s| s.body)
}

/// The front matter laid over the `_config.yml` defaults that apply to the post, as Jekyll merges
/// them: the post's own keys win, and maps are merged key by key.
pub(crate) fn with_defaults(fm: FrontMatter, source: &str, site: &SiteConfig) -> FrontMatter {
    if site.defaults.is_empty() {
        return fm;
    }
    let defaults = crate::config::jekyll::defaults_for(&site.defaults, source, "posts");
    if defaults.is_empty() {
        return fm;
    }
    FrontMatter { fields: crate::config::jekyll::deep_merge(defaults, &fm.fields), repeated: fm.repeated }
}

/// Folders above `_posts`, then front matter `categories` (a string splits on whitespace), then
/// `category` (kept whole), each once, in that order: Jekyll's `merge_categories!` and
/// `populate_categories`.
fn categories(source: &str, fm: &FrontMatter) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |c: String| {
        if !c.is_empty() && !out.contains(&c) {
            out.push(c);
        }
    };
    for dir in source.split('/').take_while(|c| *c != "_posts") {
        if !dir.is_empty() {
            push(dir.to_string());
        }
    }
    for c in taxonomy(fm, "category", "categories") {
        push(c);
    }
    out
}

/// Jekyll's `pluralized_array_from_hash`: the singular key wins and is kept whole; the plural
/// key's string splits on whitespace; lists are flattened; numbers become text; null is nothing.
fn taxonomy(fm: &FrontMatter, singular: &str, plural: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    match fm.get(singular).filter(|f| !matches!(f, Field::Null)) {
        Some(field) => flatten(field, false, &mut names),
        None => {
            if let Some(field) = fm.get(plural) {
                flatten(field, true, &mut names);
            }
        }
    }
    let mut unique: Vec<String> = Vec::with_capacity(names.len());
    for n in names {
        let n = clean(&n);
        if !n.trim().is_empty() && !unique.contains(&n) {
            unique.push(n);
        }
    }
    unique
}

fn flatten(field: &Field, split_strings: bool, out: &mut Vec<String>) {
    match field {
        Field::Null | Field::Map(_) => {}
        Field::Text(s) if split_strings => out.extend(s.split_whitespace().map(str::to_string)),
        Field::Text(s) | Field::Scalar(s) => out.push(s.clone()),
        Field::List(items) => {
            for item in items {
                flatten(item, false, out);
            }
        }
    }
}

/// Category or tag names with their references decoded, each once, none empty.
fn decoded_names(names: &[String]) -> Vec<String> {
    let mut unique: Vec<String> = Vec::with_capacity(names.len());
    for name in names.iter().map(|n| clean_name(n)) {
        if !name.is_empty() && !unique.contains(&name) {
            unique.push(name);
        }
    }
    unique
}

/// `author` as a string or a map of name/email/uri; else the first of `authors`.
fn author(fm: &FrontMatter) -> Option<Author> {
    let field = match fm.get("author") {
        Some(Field::Null) | None => match fm.get("authors") {
            Some(Field::List(items)) => items.first()?,
            other => other?,
        },
        Some(f) => f,
    };
    let author = match field {
        Field::Map(_) => {
            let get = |k: &str| field.get(k).and_then(Field::as_text).map(clean).filter(|s| !s.trim().is_empty());
            let email = get("email");
            let name = get("name").map(|n| clean_name(&n)).filter(|n| !n.is_empty());
            let uri = get("uri").or_else(|| get("url")).and_then(|u| crate::urls::web_link(&u));
            Author { name: name.or_else(|| email.clone())?, email, uri }
        }
        other => Author { name: clean_name(other.as_text()?), email: None, uri: None },
    };
    (!author.name.trim().is_empty()).then_some(author)
}

fn field_text(field: &Field) -> String {
    match field {
        Field::Text(s) | Field::Scalar(s) => s.clone(),
        Field::Null => String::new(),
        Field::List(_) => "[…]".into(),
        Field::Map(_) => "{…}".into(),
    }
}

/// A title as jekyll-feed writes it (`smartify | strip_html | normalize_whitespace`) and a reader
/// shows it: typographic quotes and dashes, no tags, references decoded.
fn feed_title(title: &str) -> String {
    clean(&markup::plain_text(&crate::markdown::smartify(title)))
}

/// Jekyll's `titleize_slug`: words split on `-`, each capitalized.
fn titleize(slug: &str) -> String {
    slug.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect(),
                None => String::new(),
            }
        })
        .collect::<Vec<String>>()
        .join(" ")
}

pub(crate) fn clean(text: &str) -> String {
    markup::xml_safe(text).trim().to_string()
}

/// A front matter name (author, category, tag): references decoded, as in titles.
fn clean_name(text: &str) -> String {
    clean(&markup::decode_references(text))
}

#[cfg(test)]
mod tests;
