//! A Jekyll site's own `_config.yml`: the settings feeds need, front-matter `defaults:` and
//! jekyll-feed's `feed:` block, read the way Jekyll and jekyll-feed read them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::FeedPaths;
use crate::post::front_matter::{self, Field};

/// The file names Jekyll looks for, in its order of preference.
const CONFIG_NAMES: [&str; 2] = ["_config.yml", "_config.yaml"];

/// What `_config.yml` says, with the line of every top-level key.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct JekyllConfig {
    /// The file it came from.
    pub(crate) path: PathBuf,
    /// Every top-level key in file order: what templates see as `site.*`.
    pub(crate) values: Vec<(String, Field)>,
    key_lines: HashMap<String, usize>,
    /// Front-matter defaults, in file order.
    pub(crate) defaults: Vec<DefaultsSet>,
    /// jekyll-feed's settings.
    pub(crate) feed: FeedBlock,
    /// Values that are there but cannot be used, each with its line.
    pub(crate) notes: Vec<Note>,
    /// The whole file as YAML values with their types, for templates (`site.*`) and kramdown's options.
    pub(crate) raw: serde_yaml::Value,
}

/// A value in `_config.yml` that postfeed reads past, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Note {
    pub(crate) line: Option<usize>,
    pub(crate) message: String,
}

/// Why `_config.yml` could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub(crate) struct JekyllConfigError {
    pub(crate) path: PathBuf,
    pub(crate) line: Option<usize>,
    pub(crate) message: String,
}

/// One entry of `defaults:`: values for the documents under `path` (and of `kind`, if given).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DefaultsSet {
    /// Site-relative path prefix; may hold `*` globs; empty means everywhere.
    pub(crate) path: String,
    /// `posts`, `pages`, `drafts` or a collection; `None` means every type.
    pub(crate) kind: Option<String>,
    pub(crate) values: Vec<(String, Field)>,
}

/// jekyll-feed's `feed:` block.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FeedBlock {
    /// `feed.path`: where the site feed lives, root-relative (`/atom.xml`); `None` when unset or
    /// when postfeed cannot write a feed there (see [`FeedPaths::site_file`]; noted).
    pub(crate) path: Option<String>,
    pub(crate) posts_limit: Option<usize>,
    pub(crate) excerpt_only: Option<bool>,
    /// `feed.categories`: the categories that get a feed. `None`: not set.
    pub(crate) categories: Option<Vec<String>>,
    pub(crate) tags: TagFeeds,
}

/// `feed.tags`: jekyll-feed writes no tag feeds unless asked.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) enum TagFeeds {
    /// Not set.
    #[default]
    Unset,
    /// `tags: false` (or any other false value).
    Off,
    /// `tags: true`, or a map of `only`, `except` and `path` (`None` when unset or unusable,
    /// see [`FeedPaths::tags_folder`]; noted).
    On { only: Option<Vec<String>>, except: Vec<String>, path: Option<String> },
}

/// Whether `path` resolves to a place inside `root`, links followed.
fn inside(root: &Path, path: &Path) -> bool {
    match (root.canonicalize(), path.canonicalize()) {
        (Ok(root), Ok(path)) => path.starts_with(root),
        _ => false,
    }
}

impl JekyllConfig {
    /// Reads `_config.yml` (or `_config.yaml`) from the site root; `Ok(None)` when there is none.
    pub(crate) fn load(site_root: &Path) -> Result<Option<JekyllConfig>, JekyllConfigError> {
        for name in CONFIG_NAMES {
            let path = site_root.join(name);
            match std::fs::metadata(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                // A FIFO would hang the read; a link out of the site would publish its values.
                Ok(meta) if !meta.is_file() => {
                    return Err(JekyllConfigError { path, line: None, message: "not a regular file".into() });
                }
                Ok(_) if !inside(site_root, &path) => {
                    return Err(JekyllConfigError { path, line: None, message: "links outside the site".into() });
                }
                _ => {}
            }
            match std::fs::read(&path) {
                Ok(bytes) => {
                    let text = String::from_utf8(bytes).map_err(|e| JekyllConfigError {
                        path: path.clone(),
                        line: None,
                        message: format!("not UTF-8 text (first bad byte at offset {})", e.utf8_error().valid_up_to()),
                    })?;
                    return JekyllConfig::parse(&text, &path).map(Some);
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(JekyllConfigError { path, line: None, message: format!("cannot read: {e}") });
                }
            }
        }
        Ok(None)
    }

    /// Parses the text of `_config.yml`; `path` is only used in messages.
    pub(crate) fn parse(text: &str, path: &Path) -> Result<JekyllConfig, JekyllConfigError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let fm = front_matter::parse_yaml(text).map_err(|e| JekyllConfigError {
            path: path.to_path_buf(),
            line: e.line,
            message: format!("invalid YAML: {}", e.message),
        })?;
        let mut config =
            JekyllConfig { path: path.to_path_buf(), key_lines: top_level_key_lines(text), ..JekyllConfig::default() };
        // A repeated key keeps its last value, as Ruby's YAML reader does.
        for (key, value) in fm.fields {
            config.values.retain(|(k, _)| *k != key);
            config.values.push((key, value));
        }
        config.raw = front_matter::parse_value(text).unwrap_or(serde_yaml::Value::Null);
        config.defaults = config.read_defaults();
        config.feed = config.read_feed_block();
        Ok(config)
    }

    /// A top-level value.
    pub(crate) fn get(&self, key: &str) -> Option<&Field> {
        self.values.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A top-level value as text, if it is a non-empty string, number or boolean.
    pub(crate) fn text(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Field::as_text).map(str::trim).filter(|s| !s.is_empty())
    }

    /// The 1-based line where a top-level key is set (the last time).
    pub(crate) fn line_of(&self, key: &str) -> Option<usize> {
        self.key_lines.get(key).copied()
    }

    /// `url` joined with `baseurl`, as Jekyll's `absolute_url` joins them.
    pub(crate) fn site_url(&self) -> Option<String> {
        let url = self.text("url")?.trim_end_matches('/');
        let base = self.text("baseurl").unwrap_or("").trim_matches('/');
        Some(if base.is_empty() { url.to_string() } else { format!("{url}/{base}") })
    }

    /// `excerpt_separator`: Jekyll's default is a blank line. An empty value turns excerpts off.
    pub(crate) fn excerpt_separator(&self) -> Option<String> {
        match self.get("excerpt_separator")? {
            Field::Null => Some(String::new()),
            field => field.as_text().map(str::to_string),
        }
    }

    fn note(&mut self, key: &str, message: String) {
        let line = self.line_of(key);
        self.notes.push(Note { line, message });
    }

    fn read_defaults(&mut self) -> Vec<DefaultsSet> {
        let Some(field) = self.get("defaults").cloned() else { return Vec::new() };
        let Field::List(items) = field else {
            if field != Field::Null {
                self.note("defaults", "defaults: is not a list of scope/values sets; ignored".into());
            }
            return Vec::new();
        };
        let mut sets = Vec::new();
        for item in items {
            let Some(Field::Map(values)) = item.get("values").cloned() else {
                self.note("defaults", "a defaults set without a values: mapping is ignored".into());
                continue;
            };
            let scope = item.get("scope");
            let path = scope.and_then(|s| s.get("path")).and_then(Field::as_text).unwrap_or("").to_string();
            let kind = scope.and_then(|s| s.get("type")).and_then(Field::as_text).map(|t| match t {
                // Jekyll's deprecated singular names.
                "post" => "posts".to_string(),
                "page" => "pages".to_string(),
                "draft" => "drafts".to_string(),
                other => other.to_string(),
            });
            sets.push(DefaultsSet { path, kind, values });
        }
        sets
    }

    fn read_feed_block(&mut self) -> FeedBlock {
        let Some(feed) = self.get("feed").cloned() else { return FeedBlock::default() };
        if !matches!(feed, Field::Map(_)) {
            if feed != Field::Null {
                self.note("feed", "feed: is not a mapping; ignored".into());
            }
            return FeedBlock::default();
        }
        let path = feed.get("path").and_then(Field::as_text).map(str::trim).filter(|p| !p.is_empty()).map(|p| {
            // `path` may be a whole URL (`https://example.org/atom.xml`); its path is what counts.
            match url::Url::parse(p) {
                Ok(u) if u.has_host() => {
                    percent_encoding::percent_decode_str(u.path()).decode_utf8_lossy().into_owned()
                }
                _ => format!("/{}", p.trim_start_matches('/')),
            }
        });
        // A path postfeed cannot write its feeds at leaves the default.
        let path = path.filter(|p| match FeedPaths::site_file(p) {
            Ok(_) => true,
            Err(why) => {
                self.note("feed", format!("feed.path {p:?} {why}; the site feed stays at feed.xml"));
                false
            }
        });
        let mut block = FeedBlock { path, ..FeedBlock::default() };
        block.posts_limit = match feed.get("posts_limit") {
            None | Some(Field::Null) => None,
            Some(f) => match f.as_text().and_then(|t| t.trim().parse::<usize>().ok()).filter(|n| *n > 0) {
                Some(n) => Some(n),
                None => {
                    self.note("feed", "feed.posts_limit is not a positive whole number; ignored".into());
                    None
                }
            },
        };
        block.excerpt_only = feed.get("excerpt_only").map(truthy);
        block.categories = feed.get("categories").map(|categories| {
            if let Field::Map(entries) = categories {
                // jekyll-feed's map form (`news: {path: /news.xml}`): the names are the keys;
                // the category feeds stay at `feed/<name>`.
                if entries.iter().any(|(_, value)| value.get("path").is_some()) {
                    self.note(
                        "feed",
                        "feed.categories paths are not applied; category feeds stay at feed/<name>".into(),
                    );
                }
                return entries.iter().map(|(name, _)| name.clone()).collect();
            }
            names(categories)
        });
        block.tags = match feed.get("tags") {
            None | Some(Field::Null) => TagFeeds::Unset,
            Some(map @ Field::Map(_)) => TagFeeds::On {
                only: map.get("only").map(names),
                except: map.get("except").map(names).unwrap_or_default(),
                path: map.get("path").and_then(Field::as_text).map(|p| p.trim().to_string()).filter(|p| {
                    match FeedPaths::tags_folder(p) {
                        Ok(_) => true,
                        Err(why) => {
                            self.note("feed", format!("feed.tags.path {p:?} {why}; tag feeds stay in feed/by_tag/"));
                            false
                        }
                    }
                }),
            },
            Some(other) if truthy(other) => TagFeeds::On { only: None, except: Vec::new(), path: None },
            Some(_) => TagFeeds::Off,
        };
        block
    }
}

/// Ruby's truthiness as Liquid and jekyll-feed see it: only `false` and nil are false (YAML's
/// `no` and `off` are `false`; the text `'false'` is true).
pub(crate) fn truthy(field: &Field) -> bool {
    !matches!(field, Field::Null) && *field != Field::Scalar("false".into())
}

/// A list of names, or one name.
fn names(field: &Field) -> Vec<String> {
    match field {
        Field::List(items) => items.iter().filter_map(Field::as_text).map(str::to_string).collect(),
        other => other.as_text().map(|t| vec![t.to_string()]).unwrap_or_default(),
    }
}

/// The line of each top-level key (the last line that sets it): a line that starts in column 0
/// with a plain or quoted key followed by `:`.
fn top_level_key_lines(text: &str) -> HashMap<String, usize> {
    let mut lines = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let Some(first) = line.chars().next() else { continue };
        if first.is_whitespace() || matches!(first, '#' | '-' | '[' | '{' | '}' | ']') {
            continue;
        }
        let key = if let Some(quoted) = line.strip_prefix(['"', '\'']) {
            quoted.split_once(['"', '\'']).map(|(k, _)| k)
        } else {
            line.split_once(':').map(|(k, _)| k.trim_end())
        };
        if let Some(key) = key.filter(|k| !k.is_empty()) {
            lines.insert(key.to_string(), i + 1);
        }
    }
    lines
}

impl DefaultsSet {
    /// Jekyll's `applies?`: the type matches (or none is given) and the path is under the scope.
    fn applies_to(&self, source: &str, kind: &str) -> bool {
        self.kind.as_deref().is_none_or(|k| k == kind) && scope_matches(&self.path, source)
    }
}

/// Front-matter defaults for the document at `source` (site-relative, `/`-separated) of type
/// `kind`, merged as Jekyll merges them: a more specific scope (longer path, then one with a type)
/// wins, and maps are merged key by key.
pub(crate) fn defaults_for(sets: &[DefaultsSet], source: &str, kind: &str) -> Vec<(String, Field)> {
    let mut merged: Vec<(String, Field)> = Vec::new();
    let mut winner: Option<&DefaultsSet> = None;
    for set in sets.iter().filter(|s| s.applies_to(source, kind)) {
        if has_precedence(winner, set) {
            merged = deep_merge(merged, &set.values);
            winner = Some(set);
        } else {
            merged = deep_merge(set.values.clone(), &merged);
        }
    }
    merged
}

/// Jekyll's `has_precedence?`.
fn has_precedence(old: Option<&DefaultsSet>, new: &DefaultsSet) -> bool {
    let Some(old) = old else { return true };
    let (new_len, old_len) = (clean_scope(&new.path).len(), clean_scope(&old.path).len());
    if new_len != old_len {
        new_len >= old_len
    } else {
        new.kind.is_some() || old.kind.is_none()
    }
}

/// Jekyll strips a leading `/` and a `./` from scope paths before comparing them.
fn clean_scope(path: &str) -> &str {
    path.trim_start_matches("./").trim_start_matches('/')
}

fn scope_matches(scope: &str, source: &str) -> bool {
    let scope = clean_scope(scope);
    if scope.is_empty() {
        return true;
    }
    if !scope.contains('*') {
        // A plain prefix of the text, as Jekyll's `start_with?`.
        return source.starts_with(scope);
    }
    // Jekyll globs the scope against the files on disk and then checks for a prefix; matching the
    // pattern against the leading components of the path gives the same answer for files that exist.
    let pattern: Vec<&str> = scope.trim_end_matches('/').split('/').collect();
    let parts: Vec<&str> = source.split('/').collect();
    parts.len() >= pattern.len() && pattern.iter().zip(&parts).all(|(p, s)| glob_component(p, s))
}

/// `*` matches any run of characters within one path component (`**` as well).
fn glob_component(pattern: &str, text: &str) -> bool {
    let pieces: Vec<&str> = pattern.split('*').collect();
    if pieces.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for piece in &pieces[1..pieces.len() - 1] {
        match rest.find(piece) {
            Some(i) => rest = &rest[i + piece.len()..],
            None => return false,
        }
    }
    true
}

/// `base` with `over` laid on top: keys of `over` win; two maps under one key are merged.
pub(crate) fn deep_merge(base: Vec<(String, Field)>, over: &[(String, Field)]) -> Vec<(String, Field)> {
    let mut out = base;
    for (key, value) in over {
        match out.iter_mut().find(|(k, _)| k == key) {
            Some((_, existing)) => {
                *existing = match (std::mem::replace(existing, Field::Null), value) {
                    (Field::Map(old), Field::Map(new)) => Field::Map(deep_merge(old, new)),
                    (_, new) => new.clone(),
                };
            }
            None => out.push((key.clone(), value.clone())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> JekyllConfig {
        JekyllConfig::parse(text, Path::new("_config.yml")).unwrap()
    }

    fn text(value: &str) -> Field {
        Field::Text(value.into())
    }

    #[test]
    fn site_values_and_their_lines() {
        let c = parse(
            "# a site\ntitle: 财经快讯\nurl: \"https://news.example.com/\"\nbaseurl: /blog\ntimezone: Asia/Shanghai\n",
        );
        assert_eq!(c.text("title"), Some("财经快讯"));
        assert_eq!(c.site_url().as_deref(), Some("https://news.example.com/blog"));
        assert_eq!(c.line_of("url"), Some(3));
        assert_eq!(c.line_of("timezone"), Some(5));
        assert_eq!(parse("url: https://a.org\nbaseurl: \"\"\n").site_url().as_deref(), Some("https://a.org"));
        assert_eq!(parse("title: x\n").site_url(), None);
    }

    #[test]
    fn broken_yaml_names_the_line() {
        let err = JekyllConfig::parse("title: a\nurl: [unclosed\n", Path::new("/s/_config.yml")).unwrap_err();
        assert!(err.line.is_some(), "{err}");
        assert!(err.to_string().starts_with("/s/_config.yml:"), "{err}");
    }

    #[test]
    fn excerpt_separator_empty_and_set() {
        assert_eq!(parse("excerpt_separator: <!--more-->\n").excerpt_separator().as_deref(), Some("<!--more-->"));
        assert_eq!(parse("excerpt_separator: \"\"\n").excerpt_separator().as_deref(), Some(""));
        assert_eq!(parse("title: x\n").excerpt_separator(), None);
    }

    #[test]
    fn feed_block_as_jekyll_feed_reads_it() {
        let c = parse(
            "feed:\n  path: https://example.org/atom.xml\n  posts_limit: 15\n  excerpt_only: true\n  categories: [news, updates]\n  tags:\n    only: [a, b]\n    except: [b]\n    path: /alt/tags/\n",
        );
        assert_eq!(c.feed.path.as_deref(), Some("/atom.xml"));
        assert_eq!(c.feed.posts_limit, Some(15));
        assert_eq!(c.feed.excerpt_only, Some(true));
        assert_eq!(c.feed.categories, Some(vec!["news".to_string(), "updates".to_string()]));
        assert_eq!(
            c.feed.tags,
            TagFeeds::On {
                only: Some(vec!["a".into(), "b".into()]),
                except: vec!["b".into()],
                path: Some("/alt/tags/".into())
            }
        );
        assert_eq!(parse("feed:\n  tags: true\n").feed.tags, TagFeeds::On { only: None, except: vec![], path: None });
        assert_eq!(parse("feed:\n  tags: false\n").feed.tags, TagFeeds::Off);
        assert_eq!(parse("feed:\n  path: feed/atom.xml\n").feed.path.as_deref(), Some("/feed/atom.xml"));
        let bad = parse("feed:\n  posts_limit: lots\n");
        assert_eq!(bad.feed.posts_limit, None);
        assert_eq!(bad.notes.len(), 1);
        assert_eq!(bad.notes[0].line, Some(1));
    }

    /// `_config.yml` is read as Jekyll reads it (Psych, YAML 1.1), each checked with Ruby's Psych.
    #[test]
    fn settings_are_read_as_yaml_11() {
        assert_eq!(parse("feed:\n  excerpt_only: yes\n").feed.excerpt_only, Some(true));
        assert_eq!(parse("feed:\n  excerpt_only: off\n").feed.excerpt_only, Some(false));
        assert_eq!(parse("feed:\n  excerpt_only: 'false'\n").feed.excerpt_only, Some(true));
        assert_eq!(parse("feed:\n  tags: no\n").feed.tags, TagFeeds::Off);
        assert_eq!(parse("feed:\n  posts_limit: 0x10\n").feed.posts_limit, Some(16));
        let c = parse("title: 010\nshow_drafts: No\n");
        assert_eq!(c.text("title"), Some("8"));
        assert_eq!(c.raw.get("show_drafts"), Some(&serde_yaml::Value::Bool(false)));
    }

    #[test]
    fn unusable_feed_paths_are_noted_and_dropped() {
        for (yml, site, tags) in [
            ("feed:\n  path: /feed.rss\n  tags:\n    path: ../up/\n", None, None),
            ("feed:\n  path: blog/\n  tags:\n    path: /\n", None, None),
            ("feed:\n  path: a/../atom.xml\n  tags:\n    path: a b\n", None, None),
            (
                "feed:\n  path: https://e.org/%E6%96%B0.atom\n  tags:\n    path: alt/tags\n",
                Some("/新.atom"),
                Some("alt/tags"),
            ),
        ] {
            let c = parse(yml);
            assert_eq!(c.feed.path.as_deref(), site, "{yml}");
            let TagFeeds::On { path, .. } = &c.feed.tags else { panic!("{yml}") };
            assert_eq!(path.as_deref(), tags, "{yml}");
            let expected = usize::from(site.is_none()) + usize::from(tags.is_none());
            assert_eq!(c.notes.len(), expected, "{yml}: {:?}", c.notes);
            assert!(c.notes.iter().all(|n| n.line == Some(1) && n.message.contains("path")), "{:?}", c.notes);
        }
    }

    #[test]
    fn the_map_form_of_feed_categories_names_its_keys_and_notes_the_paths() {
        let c = parse("feed:\n  categories:\n    news:\n      path: /news.xml\n    updates:\n      path: /u.xml\n");
        assert_eq!(c.feed.categories, Some(vec!["news".to_string(), "updates".to_string()]));
        assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
        assert!(c.notes[0].message.contains("feed.categories paths"), "{:?}", c.notes);
        let plain = parse("feed:\n  categories: [news]\n");
        assert_eq!(plain.feed.categories, Some(vec!["news".to_string()]));
        assert!(plain.notes.is_empty());
    }

    #[test]
    fn defaults_apply_by_path_and_type_with_jekylls_precedence() {
        let c = parse(
            "defaults:\n  - scope: {path: \"\"}\n    values: {author: site, layout: default, image: {path: /a.png, alt: x}}\n  - scope: {path: \"\", type: posts}\n    values: {layout: post}\n  - scope: {path: _posts/notes, type: post}\n    values: {author: notes, image: {alt: y}}\n  - scope: {path: \"*/_posts\"}\n    values: {lang: en}\n  - scope: {path: _posts, type: pages}\n    values: {author: never}\n",
        );
        assert_eq!(c.defaults.len(), 5);
        let d = defaults_for(&c.defaults, "_posts/notes/2020-01-01-a.md", "posts");
        let get = |key: &str| d.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        assert_eq!(get("author"), Some(text("notes")));
        assert_eq!(get("layout"), Some(text("post")));
        // Maps merge key by key.
        let image = get("image").unwrap();
        assert_eq!((image.get("path"), image.get("alt")), (Some(&text("/a.png")), Some(&text("y"))));
        assert_eq!(get("lang"), None);
        let d = defaults_for(&c.defaults, "en/_posts/2020-01-01-a.md", "posts");
        assert_eq!(d.iter().find(|(k, _)| k == "lang").map(|(_, v)| v.clone()), Some(text("en")));
        assert_eq!(d.iter().find(|(k, _)| k == "author").map(|(_, v)| v.clone()), Some(text("site")));
    }

    #[test]
    fn globs_match_one_component_each() {
        assert!(glob_component("*", "anything"));
        assert!(glob_component("2020-*-post", "2020-01-post"));
        assert!(!glob_component("2020-*-post", "2021-01-post"));
        assert!(glob_component("a*b*c", "abc"));
        assert!(!glob_component("a*b*c", "ac"));
        assert!(scope_matches("*/_posts", "zh_cn/_posts/2020-01-01-x.md"));
        assert!(!scope_matches("*/_posts", "_posts/2020-01-01-x.md"));
        assert!(scope_matches("/_posts", "_posts/x.md"));
    }

    #[test]
    fn odd_shapes_are_noted_not_fatal() {
        let c = parse("defaults: yes please\nfeed: [a]\n");
        assert!(c.defaults.is_empty());
        assert_eq!(c.feed, FeedBlock::default());
        assert_eq!(c.notes.len(), 2, "{:?}", c.notes);
        let c = parse("defaults:\n  - scope: {path: x}\n");
        assert!(c.defaults.is_empty());
        assert_eq!(c.notes.len(), 1);
    }
}
