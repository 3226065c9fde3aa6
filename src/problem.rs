//! What a build finds wrong, as typed values with a severity, a path and a line where known; and
//! the one reporter that prints them, one line each, for `regen`, `check` and `serve`.

use std::collections::BTreeMap;
use std::fmt;

use crate::feed::{FeedKey, FeedPaths};
use crate::post::{PostError, PostErrorKind, PostWarning, PostWarningKind};
use crate::site::Site;

/// How much a problem costs the feeds. `check` fails on errors (on notes too with `--strict`).
///
/// The rule: an **error** is a post that the feeds lose or show other than its author meant
/// (it cannot be read or parsed, its date is not a date, two names are mixed in one feed); a
/// **note** is something the feeds handle as Jekyll does, or that only changes where a feed is
/// (a key set twice, a file in `_posts` without a date that Jekyll skips too, a name that is
/// not plain and so gets a hashed feed path, where jekyll-feed makes no feed at all).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    Error,
    Note,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Note => "note",
        })
    }
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) severity: Severity,
    /// The file, relative to the source root (`_posts/x.md`); for a name, the first post (by
    /// path) that carries it. `None` only when no post does.
    pub(crate) path: Option<String>,
    /// The file's line, where known.
    pub(crate) line: Option<usize>,
    pub(crate) kind: ProblemKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProblemKind {
    /// The file is not in the feeds.
    Skipped(PostErrorKind),
    /// The post is in the feeds with something read other than as written.
    Kept(PostWarningKind),
    /// The file no longer parses; the daemon keeps the post's last good version in the feeds.
    KeptLastGood(PostErrorKind),
    /// Several category or tag names have one feed path.
    SharedFeedPath { keys: Vec<FeedKey>, feed: String },
    /// A category or tag whose feed path is not its name (it is made safe and tagged with a hash).
    NotPlainName { key: FeedKey, feed: String },
    /// Liquid that postfeed left out of an entry (an unknown tag, a missing include, a syntax
    /// error…), or a `_data` file it could not read. The entry is published without it.
    Template { kind: crate::template::ProblemKind, message: String },
    /// A setting of the site's `_config.yml` that postfeed ignores (a value of the wrong shape,
    /// a path it refuses); the default is used instead.
    SiteConfig(String),
}

impl ProblemKind {
    /// The severity of this kind of problem, by the rule on [`Severity`].
    fn severity(&self) -> Severity {
        match self {
            ProblemKind::Skipped(PostErrorKind::UndatedName) => Severity::Note,
            ProblemKind::Skipped(_) => Severity::Error,
            // The feeds show a version of the post that its file no longer holds.
            ProblemKind::KeptLastGood(_) => Severity::Error,
            ProblemKind::Kept(PostWarningKind::NotADate { .. }) => Severity::Error,
            ProblemKind::Kept(PostWarningKind::RepeatedKey(_)) => Severity::Note,
            // The feeds lose names the author wrote.
            ProblemKind::Kept(PostWarningKind::TooManyNames { .. }) => Severity::Error,
            ProblemKind::SharedFeedPath { .. } => Severity::Error,
            ProblemKind::NotPlainName { .. } => Severity::Note,
            // An unknown filter passes its value through, as Jekyll's Liquid does; every other
            // template problem but an unreadable output leaves something out that Jekyll keeps
            // or stops on.
            ProblemKind::Template { kind: crate::template::ProblemKind::UnknownFilter, .. } => Severity::Note,
            // An output Liquid cannot read prints nothing, as in Jekyll's default lax parsing.
            ProblemKind::Template { kind: crate::template::ProblemKind::OutputSyntax, .. } => Severity::Note,
            ProblemKind::Template { .. } => Severity::Error,
            ProblemKind::SiteConfig(_) => Severity::Note,
        }
    }

    /// A stable name for machines (`check --format json`).
    fn name(&self) -> &'static str {
        match self {
            ProblemKind::Skipped(kind) => match kind {
                PostErrorKind::UndatedName => "undated_name",
                PostErrorKind::NoFrontMatter => "no_front_matter",
                PostErrorKind::UnclosedFrontMatter => "unclosed_front_matter",
                PostErrorKind::Yaml(_) => "invalid_yaml",
                PostErrorKind::NotUtf8(_) => "not_utf8",
                PostErrorKind::Binary => "binary",
                PostErrorKind::TooLarge { .. } => "too_large",
                PostErrorKind::Unreadable(_) => "unreadable",
                PostErrorKind::NotAFile => "not_a_file",
                PostErrorKind::NameNotUtf8 => "name_not_utf8",
                PostErrorKind::LinkOutside(_) => "link_outside",
            },
            ProblemKind::KeptLastGood(_) => "kept_last_good",
            ProblemKind::Kept(PostWarningKind::NotADate { .. }) => "bad_date",
            ProblemKind::Kept(PostWarningKind::RepeatedKey(_)) => "repeated_key",
            ProblemKind::Kept(PostWarningKind::TooManyNames { .. }) => "too_many_names",
            ProblemKind::SharedFeedPath { .. } => "shared_feed_path",
            ProblemKind::NotPlainName { .. } => "not_plain_name",
            ProblemKind::Template { kind, .. } => match kind {
                crate::template::ProblemKind::Syntax => "liquid_syntax",
                crate::template::ProblemKind::OutputSyntax => "liquid_output_syntax",
                crate::template::ProblemKind::UnknownTag => "liquid_unknown_tag",
                crate::template::ProblemKind::UnknownFilter => "liquid_unknown_filter",
                crate::template::ProblemKind::Include => "liquid_include",
                crate::template::ProblemKind::Link => "liquid_link",
                crate::template::ProblemKind::Render => "liquid_render",
                crate::template::ProblemKind::Limit => "liquid_limit",
                crate::template::ProblemKind::Data => "data_file",
            },
            ProblemKind::SiteConfig(_) => "site_config",
        }
    }
}

impl Problem {
    /// A file left out.
    pub(crate) fn skipped(error: &PostError) -> Problem {
        let kind = ProblemKind::Skipped(error.kind.clone());
        Problem {
            severity: kind.severity(),
            path: Some(error.path.to_string_lossy().into_owned()),
            line: error.line,
            kind,
        }
    }

    /// A post whose file broke, kept in the feeds as it was last parsed.
    pub(crate) fn kept_last_good(error: &PostError) -> Problem {
        let kind = ProblemKind::KeptLastGood(error.kind.clone());
        Problem {
            severity: kind.severity(),
            path: Some(error.path.to_string_lossy().into_owned()),
            line: error.line,
            kind,
        }
    }

    /// A post at `source` kept with `warning`.
    pub(crate) fn kept(source: &str, warning: &PostWarning) -> Problem {
        let kind = ProblemKind::Kept(warning.kind.clone());
        Problem { severity: kind.severity(), path: Some(source.to_string()), line: warning.line, kind }
    }

    /// A problem of a name, pinned to `at`: the post and line that carry the name.
    fn of_name(kind: ProblemKind, at: Option<(String, Option<usize>)>) -> Problem {
        let (path, line) = at.map_or((None, None), |(path, line)| (Some(path), line));
        Problem { severity: kind.severity(), path, line, kind }
    }

    /// [`Problem::message`] as `/problems` shows it to anyone who asks: without the target of a
    /// link that points outside the source folder, a path on the server that the site does not
    /// publish (the log and `check` still name it).
    pub(crate) fn public_message(&self) -> String {
        const LINK_OUTSIDE: &str = "symbolic link to a file outside the source folder: never published";
        match &self.kind {
            ProblemKind::Skipped(PostErrorKind::LinkOutside(_)) => LINK_OUTSIDE.to_string(),
            ProblemKind::KeptLastGood(PostErrorKind::LinkOutside(_)) => {
                format!("{LINK_OUTSIDE}; its last good version stays in the feeds")
            }
            _ => self.message(),
        }
    }

    /// What is wrong, without the place.
    pub(crate) fn message(&self) -> String {
        match &self.kind {
            ProblemKind::Skipped(kind) => kind.to_string(),
            ProblemKind::Kept(kind) => kind.to_string(),
            ProblemKind::KeptLastGood(kind) => format!("{kind}; its last good version stays in the feeds"),
            ProblemKind::SharedFeedPath { keys, feed } => {
                let names: Vec<String> = keys.iter().map(describe_key).collect();
                format!("{} share one feed, {feed}", names.join(", "))
            }
            ProblemKind::NotPlainName { key, feed } => {
                format!("{} is not a plain name (letters, digits, - and _), so its feed is {feed}", describe_key(key))
            }
            ProblemKind::Template { message, .. } => message.clone(),
            ProblemKind::SiteConfig(message) => message.clone(),
        }
    }

    /// The place as `path:line: `, `path: ` or nothing.
    fn place(&self) -> String {
        self.location().map(|at| format!("{at}: ")).unwrap_or_default()
    }
}

/// `category "x"`, `tag "x"`.
fn describe_key(key: &FeedKey) -> String {
    match key {
        FeedKey::Category(name) => format!("category {name:?}"),
        FeedKey::Tag(name) => format!("tag {name:?}"),
        FeedKey::Site => "the site".to_string(),
    }
}

impl Problem {
    /// A problem in a post's templates or in `_data`.
    pub(crate) fn template(problem: &crate::template::Problem) -> Problem {
        let kind = ProblemKind::Template { kind: problem.kind, message: problem.message.clone() };
        let line = (problem.line > 0).then_some(problem.line as usize);
        Problem { severity: kind.severity(), path: Some(problem.path.clone()), line, kind }
    }
}

impl Problem {
    /// `path:line`, `path`, or `None` without a path.
    pub(crate) fn location(&self) -> Option<String> {
        match (&self.path, self.line) {
            (Some(path), Some(line)) => Some(format!("{path}:{line}")),
            (Some(path), None) => Some(path.clone()),
            (None, _) => None,
        }
    }
}

/// `path:line: message`, `path: message` or, without a path, the message alone.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.place(), self.message())
    }
}

/// One problem as `check --format json` prints it.
#[derive(Debug, serde::Serialize)]
struct Finding<'a> {
    severity: Severity,
    path: Option<&'a str>,
    line: Option<usize>,
    kind: &'static str,
    message: String,
}

impl<'a> From<&'a Problem> for Finding<'a> {
    fn from(problem: &'a Problem) -> Finding<'a> {
        Finding {
            severity: problem.severity,
            path: problem.path.as_deref(),
            line: problem.line,
            kind: problem.kind.name(),
            message: problem.message(),
        }
    }
}

/// The notes on the site's `_config.yml`: settings it has that postfeed ignores.
pub(crate) fn config_problems(config: &crate::config::Config) -> Vec<Problem> {
    let Some(jekyll) = &config.jekyll else { return Vec::new() };
    let path = crate::scan::source_name(&config.source_dir, &jekyll.path);
    jekyll
        .notes
        .iter()
        .map(|note| {
            let kind = ProblemKind::SiteConfig(note.message.clone());
            Problem { severity: kind.severity(), path: Some(path.clone()), line: note.line, kind }
        })
        .collect()
}

/// A file's recorded error as a problem: skipped, or kept as it last parsed.
fn file_problem(site: &Site, source: &str, error: &PostError) -> Problem {
    if site.kept_last_good(source) {
        Problem::kept_last_good(error)
    } else {
        Problem::skipped(error)
    }
}

/// The problems of the posts: files left out of the feeds, posts kept as they last parsed, and
/// posts kept with a warning.
pub(crate) fn post_problems(site: &Site) -> Vec<Problem> {
    let mut problems: Vec<Problem> = site.problems().map(|(source, error)| file_problem(site, source, error)).collect();
    for post in site.posts() {
        problems.extend(post.warnings.iter().map(|w| Problem::kept(&post.source, w)));
    }
    problems.extend(site.sleeping_warnings().map(|(source, w)| Problem::kept(source, w)));
    problems
}

/// `problems` in the order the reporter prints them: by severity, then by line.
pub(crate) fn sorted(problems: Vec<Problem>) -> Vec<Problem> {
    let mut keyed: Vec<(Severity, String, Problem)> =
        problems.into_iter().map(|p| (p.severity, p.to_string(), p)).collect();
    keyed.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    keyed.into_iter().map(|(_, _, p)| p).collect()
}

/// The problems of the file at `source` (relative to the source root), as [`post_problems`] has them.
pub(crate) fn problems_of(site: &Site, source: &str) -> Vec<Problem> {
    let mut problems: Vec<Problem> =
        site.problem(source).map(|error| file_problem(site, source, error)).into_iter().collect();
    problems.extend(site.warnings_of(source).iter().map(|w| Problem::kept(source, w)));
    problems
}

/// The problems of the category and tag names: names that share a feed path, and names that
/// are not plain (their feed path is not the name). Each is pinned to the first post, by path,
/// that carries the name, at the line of its `categories:`/`tags:` key.
pub(crate) fn name_problems(site: &Site, paths: &FeedPaths) -> Vec<Problem> {
    let mut by_stem: BTreeMap<String, Vec<FeedKey>> = BTreeMap::new();
    // The site feed too: `feed.path` may put it where a category or tag feed is.
    for key in std::iter::once(&FeedKey::Site).chain(site.index_keys().filter(|k| **k != FeedKey::Site)) {
        by_stem.entry(key.stem(paths)).or_default().push(key.clone());
    }
    let mut found: Vec<(ProblemKind, FeedKey)> = Vec::new();
    for (stem, keys) in by_stem {
        let feed = format!("{stem}.xml");
        for key in &keys {
            if let FeedKey::Category(name) | FeedKey::Tag(name) = key {
                if !stem.ends_with(name.as_str()) {
                    found.push((ProblemKind::NotPlainName { key: key.clone(), feed: feed.clone() }, key.clone()));
                }
            }
        }
        if keys.len() > 1 {
            // Pinned to a name's post: the site feed has none.
            let first = keys.iter().find(|k| **k != FeedKey::Site).unwrap_or(&keys[0]).clone();
            found.push((ProblemKind::SharedFeedPath { keys, feed }, first));
        }
    }
    let places = first_carriers(site, found.iter().map(|(_, key)| key));
    found.into_iter().map(|(kind, key)| Problem::of_name(kind, places.get(&key).cloned())).collect()
}

/// For each of `keys`, the first post by path that carries the name, and the line of the key
/// the name was read from.
fn first_carriers<'a>(
    site: &Site,
    keys: impl Iterator<Item = &'a FeedKey>,
) -> BTreeMap<FeedKey, (String, Option<usize>)> {
    let wanted: std::collections::BTreeSet<&FeedKey> = keys.collect();
    let mut places = BTreeMap::new();
    if wanted.is_empty() {
        return places;
    }
    // An unpublished post is no reason for a feed; sleeping posts are all published.
    let awake = site
        .posts()
        .filter(|p| p.published)
        .map(|post| (post.source.as_str(), crate::site::keys_of(post), post.taxonomy_lines));
    let asleep = site.sleeping_names().map(|(source, keys, lines)| (source, keys.to_vec(), lines));
    for (source, keys, lines) in awake.chain(asleep) {
        for key in keys {
            if !wanted.contains(&key)
                || places.get(&key).is_some_and(|(first, _): &(String, _)| first.as_str() < source)
            {
                continue;
            }
            let line = match &key {
                // A name from the post's folders has no key in its front matter.
                FeedKey::Category(name) if from_folder(source, name) => None,
                FeedKey::Category(_) => lines.categories,
                _ => lines.tags,
            };
            places.insert(key, (source.to_string(), line));
        }
    }
    places
}

/// Whether `name` is one of the folders above `source`'s `_posts`.
fn from_folder(source: &str, name: &str) -> bool {
    source.split('/').take_while(|c| *c != "_posts").any(|c| c == name)
}

/// How `check` prints its findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CheckFormat {
    /// One line each: `path:line: error: message`.
    #[default]
    Text,
    /// One JSON array of `{severity, path, line, kind, message}`, and nothing else.
    Json,
}

/// How many findings of each severity `check` printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub errors: usize,
    pub notes: usize,
}

/// Where a command's problems go. Problems are sorted by severity and then by their line; the
/// commands differ in where they go and in the words around them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reporter {
    /// `check`: on stdout, as lines (`path:line: error: message`) or as one JSON list.
    Check(CheckFormat),
    /// `regen`: on stderr, after `warning: ` (and `skipped ` for a file left out).
    Regen,
    /// `serve`: logged as warnings, after `skipped ` for a file left out.
    Serve,
}

impl Reporter {
    /// Prints `problems`; returns how many there were of each severity.
    pub(crate) fn report(self, problems: Vec<Problem>) -> Counts {
        let mut problems: Vec<(Severity, String, Problem)> =
            problems.into_iter().map(|p| (p.severity, self.line(&p), p)).collect();
        problems.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let counts = Counts {
            errors: problems.iter().filter(|p| p.0 == Severity::Error).count(),
            notes: problems.iter().filter(|p| p.0 == Severity::Note).count(),
        };
        if self == Reporter::Check(CheckFormat::Json) {
            let findings: Vec<Finding<'_>> = problems.iter().map(|(_, _, p)| Finding::from(p)).collect();
            let json = serde_json::to_string_pretty(&findings).expect("findings are plain data");
            println!("{json}");
            return counts;
        }
        for (_, line, _) in &problems {
            match self {
                Reporter::Check(_) => println!("{line}"),
                Reporter::Regen => eprintln!("warning: {line}"),
                Reporter::Serve => tracing::warn!("{line}"),
            }
        }
        counts
    }

    fn line(self, problem: &Problem) -> String {
        match (self, &problem.kind) {
            (Reporter::Check(_), _) => format!("{}{}: {}", problem.place(), problem.severity, problem.message()),
            (Reporter::Regen | Reporter::Serve, ProblemKind::Skipped(_)) => format!("skipped {problem}"),
            _ => problem.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_the_path_and_the_line_where_known() {
        let error = PostError { path: "_posts/a.md".into(), line: Some(3), kind: PostErrorKind::Binary };
        let skipped = Problem::skipped(&error);
        assert_eq!(skipped.severity, Severity::Error);
        assert_eq!(skipped.to_string(), "_posts/a.md:3: binary file (it contains NUL bytes)");
        assert_eq!(Reporter::Regen.line(&skipped), "skipped _posts/a.md:3: binary file (it contains NUL bytes)");
        assert_eq!(
            Reporter::Check(CheckFormat::Text).line(&skipped),
            "_posts/a.md:3: error: binary file (it contains NUL bytes)"
        );

        let warning = PostWarning { line: None, kind: PostWarningKind::RepeatedKey("title".into()) };
        let kept = Problem::kept("_posts/b.md", &warning);
        assert_eq!(kept.severity, Severity::Note);
        assert_eq!(kept.to_string(), "_posts/b.md: front matter sets \"title\" more than once; the last value is used");
        assert_eq!(Reporter::Serve.line(&kept), kept.to_string());

        let key = FeedKey::Tag("a b".into());
        let name = Problem::of_name(
            ProblemKind::NotPlainName { key, feed: "feed/by_tag/a-b-1.xml".into() },
            Some(("_posts/c.md".into(), Some(4))),
        );
        assert_eq!(
            Reporter::Check(CheckFormat::Text).line(&name),
            "_posts/c.md:4: note: tag \"a b\" is not a plain name (letters, digits, - and _), so its feed is feed/by_tag/a-b-1.xml"
        );
    }

    /// The rule of [`Severity`], kind by kind: what loses or misstates a post is an error.
    #[test]
    fn each_kind_has_its_severity() {
        let error = |kind| ProblemKind::Skipped(kind).severity();
        for kind in [
            PostErrorKind::NoFrontMatter,
            PostErrorKind::UnclosedFrontMatter,
            PostErrorKind::Yaml("x".into()),
            PostErrorKind::NotUtf8(1),
            PostErrorKind::Binary,
            PostErrorKind::TooLarge { size: 2, limit: 1 },
            PostErrorKind::Unreadable("x".into()),
            PostErrorKind::NotAFile,
            PostErrorKind::NameNotUtf8,
            PostErrorKind::LinkOutside("x".into()),
        ] {
            assert_eq!(error(kind.clone()), Severity::Error, "{kind:?}");
        }
        assert_eq!(error(PostErrorKind::UndatedName), Severity::Note, "Jekyll skips it too");
        let date = PostWarningKind::NotADate { value: "x".into(), file_date: "2021-01-01".into() };
        assert_eq!(ProblemKind::Kept(date).severity(), Severity::Error);
        assert_eq!(ProblemKind::Kept(PostWarningKind::RepeatedKey("x".into())).severity(), Severity::Note);
        let tag = FeedKey::Tag("a b".into());
        assert_eq!(ProblemKind::NotPlainName { key: tag.clone(), feed: String::new() }.severity(), Severity::Note);
        let shared = ProblemKind::SharedFeedPath { keys: vec![tag.clone(), tag], feed: String::new() };
        assert_eq!(shared.severity(), Severity::Error);
    }
}
