//! What a build finds wrong, as typed values with a severity, a path and a line where known; and
//! the one reporter that prints them, one line each, for `regen`, `check` and `serve`.

use std::collections::BTreeMap;
use std::fmt;

use crate::feed::FeedKey;
use crate::post::{PostError, PostErrorKind, PostWarning, PostWarningKind};
use crate::site::Site;

/// How much a problem costs the feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Severity {
    /// A file is left out of the feeds.
    Error,
    /// A post is in the feeds, but not as written (a date that is no date, a repeated key).
    Warning,
    /// Nothing is lost, but the feeds may not be where one expects them.
    Note,
}

/// One problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) severity: Severity,
    /// The file, relative to the source root (`_posts/x.md`), or the feed path several names
    /// share; `None` for a name that is not a plain one.
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
    SharedFeedPath(Vec<FeedKey>),
    /// A category or tag whose feed path is not its name (it is made safe and tagged with a hash).
    NotPlainName { key: FeedKey, feed: String },
}

impl Problem {
    /// A file left out.
    pub(crate) fn skipped(error: &PostError) -> Problem {
        Problem {
            severity: Severity::Error,
            path: Some(error.path.to_string_lossy().into_owned()),
            line: error.line,
            kind: ProblemKind::Skipped(error.kind.clone()),
        }
    }

    /// A post whose file broke, kept in the feeds as it was last parsed.
    pub(crate) fn kept_last_good(error: &PostError) -> Problem {
        Problem {
            severity: Severity::Warning,
            path: Some(error.path.to_string_lossy().into_owned()),
            line: error.line,
            kind: ProblemKind::KeptLastGood(error.kind.clone()),
        }
    }

    /// A post at `source` kept with `warning`.
    pub(crate) fn kept(source: &str, warning: &PostWarning) -> Problem {
        Problem {
            severity: Severity::Warning,
            path: Some(source.to_string()),
            line: warning.line,
            kind: ProblemKind::Kept(warning.kind.clone()),
        }
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

    /// What is wrong, without where.
    pub(crate) fn reason(&self) -> String {
        self.kind.to_string()
    }
}

/// `path:line: message`, `path: message` or, without a path, the message alone.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = self.location() {
            write!(f, "{location}: ")?;
        }
        self.kind.fmt(f)
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProblemKind::Skipped(kind) => write!(f, "{kind}"),
            ProblemKind::Kept(kind) => write!(f, "{kind}"),
            ProblemKind::KeptLastGood(kind) => write!(f, "{kind}; its last good version stays in the feeds"),
            ProblemKind::SharedFeedPath(keys) => write!(f, "names share one feed path: {keys:?}"),
            ProblemKind::NotPlainName { key, feed } => {
                let (kind, name) = match key {
                    FeedKey::Category(name) => ("category", name),
                    FeedKey::Tag(name) => ("tag", name),
                    FeedKey::Site => ("site", &String::new()),
                };
                write!(f, "{kind} {name:?}: not a plain name, its feed is {feed}")
            }
        }
    }
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
    if let Some(post) = site.post(source) {
        problems.extend(post.warnings.iter().map(|w| Problem::kept(source, w)));
    }
    problems
}

/// The problems of the category and tag names: names that share a feed path, and names that
/// are not plain (their feed path is not the name).
pub(crate) fn name_problems(site: &Site) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut by_stem: BTreeMap<String, Vec<FeedKey>> = BTreeMap::new();
    for key in site.index_keys() {
        by_stem.entry(key.stem()).or_default().push(key.clone());
    }
    for (stem, keys) in by_stem {
        let plain = |name: &str| stem.ends_with(name);
        for key in &keys {
            if let FeedKey::Category(name) | FeedKey::Tag(name) = key {
                if !plain(name) {
                    let feed = format!("{stem}.xml");
                    problems.push(Problem {
                        severity: Severity::Note,
                        path: None,
                        line: None,
                        kind: ProblemKind::NotPlainName { key: key.clone(), feed },
                    });
                }
            }
        }
        if keys.len() > 1 {
            let kind = ProblemKind::SharedFeedPath(keys);
            problems.push(Problem { severity: Severity::Warning, path: Some(stem), line: None, kind });
        }
    }
    problems
}

/// Where a command's problems go. Every problem is one line, [`Problem`]'s `Display`, sorted by
/// severity and then by that line; the commands differ only in where the line goes and in the
/// word before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reporter {
    /// `check`: the lines themselves, on stdout.
    Check,
    /// `regen`: on stderr, after `warning: ` (and `skipped ` for a file left out).
    Regen,
    /// `serve`: logged as warnings, after `skipped ` for a file left out.
    Serve,
}

impl Reporter {
    /// Prints `problems`; returns how many there were.
    pub(crate) fn report(self, mut problems: Vec<Problem>) -> usize {
        let mut lines: Vec<(Severity, String)> = problems.drain(..).map(|p| (p.severity, self.line(&p))).collect();
        lines.sort();
        for (_, line) in &lines {
            match self {
                Reporter::Check => println!("{line}"),
                Reporter::Regen => eprintln!("warning: {line}"),
                Reporter::Serve => tracing::warn!("{line}"),
            }
        }
        lines.len()
    }

    fn line(self, problem: &Problem) -> String {
        match (self, &problem.kind) {
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
        assert_eq!(Reporter::Check.line(&skipped), skipped.to_string());

        let warning = PostWarning { line: None, kind: PostWarningKind::RepeatedKey("title".into()) };
        let kept = Problem::kept("_posts/b.md", &warning);
        assert_eq!(kept.severity, Severity::Warning);
        assert_eq!(kept.to_string(), "_posts/b.md: front matter sets \"title\" more than once; the last value is used");
        assert_eq!(Reporter::Serve.line(&kept), kept.to_string());

        let name = Problem {
            severity: Severity::Note,
            path: None,
            line: None,
            kind: ProblemKind::NotPlainName { key: FeedKey::Tag("a b".into()), feed: "feed/by_tag/a-b-1.xml".into() },
        };
        assert_eq!(name.to_string(), "tag \"a b\": not a plain name, its feed is feed/by_tag/a-b-1.xml");
    }
}
