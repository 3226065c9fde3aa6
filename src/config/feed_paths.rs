//! Where the site feed and the tag feeds live, as `_config.yml` may set them: a setting, read
//! and checked with the others, that the feed layer then follows.

/// Where the site feed and the tag feeds live: jekyll-feed's `feed.path` and `feed.tags.path`
/// from `_config.yml`, checked, or its defaults. Category feeds are always `feed/<category>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct FeedPaths {
    /// The site feed's Atom file, output-relative: `feed.xml`, or `atom.xml`, `blog/feed.atom`.
    pub(crate) site_atom: String,
    /// The site feed's other formats add their extension to this: `feed`, `atom`, `blog/feed`.
    pub(crate) site_stem: String,
    /// The tag feeds' folder, output-relative, ending in `/`: `feed/by_tag/`.
    pub(crate) tags_dir: String,
}

impl Default for FeedPaths {
    fn default() -> FeedPaths {
        FeedPaths { site_atom: "feed.xml".into(), site_stem: "feed".into(), tags_dir: "feed/by_tag/".into() }
    }
}

impl FeedPaths {
    /// The default paths with the site feed's Atom file at `site` and the tag feeds in `tags`,
    /// each as [`FeedPaths::site_file`] and [`FeedPaths::tags_folder`] accept them; a value they
    /// refuse leaves the default.
    pub(crate) fn new(site: Option<&str>, tags: Option<&str>) -> FeedPaths {
        let mut paths = FeedPaths::default();
        if let Some(atom) = site.and_then(|s| FeedPaths::site_file(s).ok()) {
            paths.site_stem = atom.rsplit_once('.').map_or(atom.as_str(), |(stem, _)| stem).to_string();
            paths.site_atom = atom;
        }
        if let Some(dir) = tags.and_then(|t| FeedPaths::tags_folder(t).ok()) {
            paths.tags_dir = dir;
        }
        paths
    }

    /// `feed.path` as an output-relative file (`/atom.xml` is `atom.xml`), or why it cannot be one.
    pub(crate) fn site_file(path: &str) -> Result<String, String> {
        let rel = path.trim().trim_start_matches('/');
        if rel.ends_with('/') {
            return Err("names a folder, not a file".into());
        }
        check_parts(rel)?;
        match rel.rsplit_once('.') {
            Some((stem, "xml" | "atom")) if !stem.is_empty() && !stem.ends_with('/') => Ok(rel.to_string()),
            _ => Err("must end in .xml or .atom (the other formats take its name with .rss and .json)".into()),
        }
    }

    /// `feed.tags.path` as an output-relative folder ending in `/` (`/alt/tags` is `alt/tags/`),
    /// or why it cannot be one.
    pub(crate) fn tags_folder(path: &str) -> Result<String, String> {
        let rel = path.trim().trim_start_matches('/').trim_end_matches('/');
        check_parts(rel)?;
        Ok(format!("{rel}/"))
    }

    /// The folders, output-relative without a trailing `/`, where feeds other than the site's live.
    pub(crate) fn tags_folder_name(&self) -> &str {
        self.tags_dir.trim_end_matches('/')
    }

    /// Whether these are the defaults.
    pub(crate) fn is_default(&self) -> bool {
        *self == FeedPaths::default()
    }
}

/// Checks the parts of an output-relative path: not empty, no empty, `.`, `..` or hidden parts,
/// and only letters, digits, `-`, `_` and `.` (so a path never needs quoting, nor leaves the
/// output folder).
fn check_parts(rel: &str) -> Result<(), String> {
    if rel.is_empty() {
        return Err("is empty".into());
    }
    for part in rel.split('/') {
        if part == ".." || part == "." {
            return Err("must not hold . or .. parts".into());
        }
        if part.is_empty() {
            return Err("must not hold an empty part (//)".into());
        }
        if part.starts_with('.') {
            return Err(format!("must not hold a hidden part ({part:?})"));
        }
        if !part.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.')) {
            return Err("may hold only letters, digits, -, _, . and /".into());
        }
    }
    Ok(())
}
