//! Feeds that once existed: for each category and tag feed, whether it has a post in `_posts` or
//! since when it has had none; from that, which feeds are kept answering and which are retired
//! (410 Gone); and the state file that remembers it across `regen` runs and `serve` restarts.
//!
//! A category or tag feed is *live* while a visible post in a `_posts` folder names it. When the
//! last one leaves (deleted, unpublished, or moved to an archive folder), the first build that sees
//! it records that moment; the feed is then *kept*, holding its archived entries or none, until
//! `feeds.retire_after_days` days after that moment, and *retired* from then on. A post that comes
//! back makes it live again. A feed that only the archive folders show (never seen live, e.g. a
//! first run or a lost state file) counts from the first build that sees it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, SubsecRound, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::{FeedKey, FeedPaths};
use crate::config::FeedsConfig;
use crate::site::Site;

/// The state file, in the output folder.
pub(crate) const STATE_FILE: &str = "postfeed-state.json";
/// Retired feeds' paths, one a line, for any web server.
pub(crate) const RETIRED_LIST: &str = "retired.txt";
/// Retired feeds' paths as an nginx `map`, for a `return 410`.
pub(crate) const RETIRED_NGINX: &str = "retired.nginx.conf";

/// Where one category or tag feed stands at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Standing {
    /// A visible post in `_posts` names it.
    Live,
    /// No post in `_posts` names it; it answers with its archived entries, or none.
    Kept,
    /// Kept for `feeds.retire_after_days` already: it answers 410 Gone.
    Retired,
}

/// What the state file remembers of every category and tag feed that ever existed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Lifecycle {
    /// `None` while live; else when its last post in `_posts` was first seen gone.
    known: BTreeMap<FeedKey, Option<DateTime<Utc>>>,
    retire_after: TimeDelta,
    /// Where the feeds are written now (`feed.path`, `feed.tags.path`); the state file records it
    /// when it is not the default.
    paths: FeedPaths,
    /// Where they were written before: the state file's record, and what a reload changed.
    /// The output folder's feeds there are postfeed's to remove.
    earlier: BTreeSet<FeedPaths>,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    version: u32,
    /// The feed paths, when they are not the default. Absent in files of older versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    paths: Option<StatePaths>,
    feeds: Vec<StateEntry>,
}

#[derive(Serialize, Deserialize)]
struct StatePaths {
    site: String,
    tags: String,
}

#[derive(Serialize, Deserialize)]
struct StateEntry {
    kind: String,
    name: String,
    /// RFC 3339, whole seconds; absent while the feed is live.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    without_posts_since: Option<String>,
}

impl Lifecycle {
    pub(crate) fn new(config: &FeedsConfig) -> Lifecycle {
        Lifecycle {
            known: BTreeMap::new(),
            retire_after: TimeDelta::days(i64::from(config.retire_after_days)),
            paths: config.paths.clone(),
            earlier: BTreeSet::new(),
        }
    }

    /// Takes `feeds.retire_after_days` and the feed paths from a new configuration; the paths
    /// it replaces are remembered, for [`Lifecycle::owned_paths`].
    pub(crate) fn set_retire_after(&mut self, config: &FeedsConfig) {
        self.retire_after = TimeDelta::days(i64::from(config.retire_after_days));
        if config.paths != self.paths {
            let old = std::mem::replace(&mut self.paths, config.paths.clone());
            self.earlier.insert(old);
        }
    }

    /// Every layout of feed paths whose feeds in the output folder are postfeed's: the default
    /// (always), the current one, and those the state file or a reload left behind. Sorted, without
    /// duplicates.
    pub(crate) fn owned_paths(&self) -> Vec<FeedPaths> {
        let mut all: BTreeSet<FeedPaths> = self.earlier.clone();
        all.insert(FeedPaths::default());
        all.insert(self.paths.clone());
        all.into_iter().collect()
    }

    /// The state kept in `output_dir`; a missing file is a first run. A file that cannot be read
    /// is logged and ignored: feeds then count again from this run, so a damaged state makes
    /// feeds answer longer, never shorter.
    pub(crate) fn load(output_dir: &Path, config: &FeedsConfig) -> Lifecycle {
        let path = output_dir.join(STATE_FILE);
        let mut lifecycle = Lifecycle::new(config);
        match std::fs::read_to_string(&path) {
            Ok(text) => match lifecycle.read(&text) {
                Ok(()) => {}
                Err(e) => tracing::warn!("{}: {e}; feed retirement counts again from now", path.display()),
            },
            // No folder yet (or a file in its place, which writing the feeds reports): a first run.
            Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {}
            Err(e) => tracing::warn!("cannot read {}: {e}; feed retirement counts again from now", path.display()),
        }
        lifecycle
    }

    fn read(&mut self, text: &str) -> Result<(), String> {
        let file: StateFile = serde_json::from_str(text).map_err(|e| format!("not a postfeed state file: {e}"))?;
        if file.version != 1 {
            return Err(format!("state file version {} is not known", file.version));
        }
        // Paths from a file are checked as `_config.yml`'s are: a damaged or foreign file must
        // never make another folder postfeed's.
        let earlier = file.paths.and_then(|paths| {
            match (FeedPaths::site_file(&paths.site), FeedPaths::tags_folder(&paths.tags)) {
                (Ok(site), Ok(tags)) => Some(FeedPaths::new(Some(&site), Some(&tags))),
                _ => None,
            }
        });
        let mut known = BTreeMap::new();
        for entry in file.feeds {
            let key = match entry.kind.as_str() {
                "category" => FeedKey::Category(entry.name),
                "tag" => FeedKey::Tag(entry.name),
                other => return Err(format!("unknown feed kind {other:?}")),
            };
            let since = match entry.without_posts_since {
                None => None,
                Some(text) => Some(
                    DateTime::parse_from_rfc3339(&text)
                        .map_err(|e| format!("bad date {text:?}: {e}"))?
                        .with_timezone(&Utc),
                ),
            };
            known.insert(key, since);
        }
        self.known = known;
        self.earlier.extend(earlier);
        Ok(())
    }

    /// The state file's bytes: sorted, one feed a line, so equal states give equal files.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut out = String::from("{\"version\":1,");
        if !self.paths.is_default() {
            let paths = StatePaths { site: self.paths.site_atom.clone(), tags: self.paths.tags_dir.clone() };
            out.push_str("\"paths\":");
            out.push_str(&serde_json::to_string(&paths).expect("paths are plain data"));
            out.push(',');
        }
        out.push_str("\"feeds\":[\n");
        let mut first = true;
        for (key, since) in &self.known {
            let (kind, name) = match key {
                FeedKey::Category(name) => ("category", name),
                FeedKey::Tag(name) => ("tag", name),
                FeedKey::Site => continue,
            };
            let since = since.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
            let entry = StateEntry { kind: kind.into(), name: name.clone(), without_posts_since: since };
            if !first {
                out.push_str(",\n");
            }
            first = false;
            out.push_str(&serde_json::to_string(&entry).expect("a state entry is plain data"));
        }
        out.push_str("\n]}\n");
        out.into_bytes()
    }

    /// Notes, at `now`, which of the category and tag feeds named in `keys` (every one the site
    /// or the state knows when `None`) have a visible post in `_posts`.
    pub(crate) fn observe(
        &mut self,
        site: &Site,
        config: &FeedsConfig,
        now: DateTime<Utc>,
        keys: Option<&BTreeSet<FeedKey>>,
    ) {
        let now = now.trunc_subsecs(0);
        let all: BTreeSet<FeedKey>;
        let keys = match keys {
            Some(keys) => keys,
            None => {
                all = site.index_keys().chain(self.known.keys()).cloned().collect();
                &all
            }
        };
        for key in keys {
            let wanted = match key {
                FeedKey::Site => false,
                FeedKey::Category(_) => config.categories,
                FeedKey::Tag(_) => config.tags,
            };
            if !wanted {
                continue;
            }
            if site.has_live_entries_at(key, now) {
                self.known.insert(key.clone(), None);
                continue;
            }
            match self.known.get_mut(key) {
                Some(since @ None) => *since = Some(now),
                Some(Some(_)) => {}
                // Only the archive shows it: it existed, and counts from now.
                None if site.has_entries_at(key, now) => {
                    self.known.insert(key.clone(), Some(now));
                }
                None => {}
            }
        }
    }

    /// Where `key` stands at `now`; `None` for a feed the state does not know.
    pub(crate) fn standing(&self, key: &FeedKey, now: DateTime<Utc>) -> Option<Standing> {
        Some(match self.known.get(key)? {
            None => Standing::Live,
            Some(since) if now >= *since + self.retire_after => Standing::Retired,
            Some(_) => Standing::Kept,
        })
    }

    /// Every feed the state knows.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &FeedKey> {
        self.known.keys()
    }

    /// Feeds whose retirement falls in (`after`, `until`]: they change when time passes.
    pub(crate) fn retired_between(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> BTreeSet<FeedKey> {
        self.known
            .iter()
            .filter_map(|(key, since)| {
                let due = (*since)? + self.retire_after;
                (after < due && due <= until).then(|| key.clone())
            })
            .collect()
    }

    /// The first retirement after `now`.
    pub(crate) fn next_retirement(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.known.values().filter_map(|since| Some((*since)? + self.retire_after)).filter(|due| *due > now).min()
    }
}

/// The retired feeds' paths as the web server sees them (`/blog/feed/x.xml`), one a line.
pub(crate) fn retired_list(base_path: &str, retired: &BTreeSet<String>) -> Vec<u8> {
    let mut out = String::new();
    for rel in retired {
        out.push_str(base_path);
        out.push_str(rel);
        out.push('\n');
    }
    out.into_bytes()
}

/// The same paths as an nginx `map` from `$uri` to 1, which a `return 410` can test.
pub(crate) fn retired_nginx_map(base_path: &str, retired: &BTreeSet<String>) -> Vec<u8> {
    let mut out = String::from(
        "# Written by postfeed: feeds retired after feeds.retire_after_days. In nginx's http block:\n\
         #   include /path/to/feeds/retired.nginx.conf;\n\
         # and where the feeds are served:\n\
         #   if ($postfeed_retired) { return 410; }\n\
         map $uri $postfeed_retired {\n    default 0;\n",
    );
    for rel in retired {
        // Feed paths hold letters, digits, `-`, `_`, `/` and `.` only (see `path_segment`).
        out.push_str(&format!("    \"{base_path}{rel}\" 1;\n"));
    }
    out.push_str("}\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(days: u32) -> FeedsConfig {
        let mut config =
            crate::config::Config::parse("[site]\nurl = \"https://example.org\"\n", Path::new("/")).unwrap().feeds;
        config.retire_after_days = days;
        config
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn standing_moves_from_kept_to_retired_after_the_configured_days() {
        let mut lifecycle = Lifecycle::new(&config(2));
        let key = FeedKey::Tag("t".into());
        lifecycle.known.insert(key.clone(), Some(at("2026-01-01T00:00:00Z")));
        lifecycle.known.insert(FeedKey::Category("c".into()), None);
        assert_eq!(lifecycle.standing(&key, at("2026-01-02T23:59:59Z")), Some(Standing::Kept));
        assert_eq!(lifecycle.standing(&key, at("2026-01-03T00:00:00Z")), Some(Standing::Retired));
        assert_eq!(
            lifecycle.standing(&FeedKey::Category("c".into()), at("2030-01-01T00:00:00Z")),
            Some(Standing::Live)
        );
        assert_eq!(lifecycle.standing(&FeedKey::Tag("unknown".into()), at("2026-01-01T00:00:00Z")), None);
        assert_eq!(lifecycle.next_retirement(at("2026-01-01T00:00:00Z")), Some(at("2026-01-03T00:00:00Z")));
        assert_eq!(lifecycle.next_retirement(at("2026-01-03T00:00:00Z")), None);
        let due = lifecycle.retired_between(at("2026-01-02T00:00:00Z"), at("2026-01-03T00:00:00Z"));
        assert_eq!(due, BTreeSet::from([key.clone()]));
        assert!(lifecycle.retired_between(at("2026-01-03T00:00:00Z"), at("2026-02-01T00:00:00Z")).is_empty());
    }

    #[test]
    fn the_state_file_round_trips_and_is_sorted() {
        let mut lifecycle = Lifecycle::new(&config(30));
        lifecycle.known.insert(FeedKey::Tag("新闻 \"x\"\n".into()), Some(at("2026-01-01T00:00:00Z")));
        lifecycle.known.insert(FeedKey::Category("b".into()), None);
        lifecycle.known.insert(FeedKey::Category("a".into()), Some(at("2026-02-01T10:00:00Z")));
        let bytes = lifecycle.to_bytes();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["feeds"][0]["name"], "a");
        assert_eq!(value["feeds"][0]["without_posts_since"], "2026-02-01T10:00:00Z");
        assert!(value["feeds"][1].get("without_posts_since").is_none());
        let mut again = Lifecycle::new(&config(30));
        again.read(std::str::from_utf8(&bytes).unwrap()).unwrap();
        assert_eq!(again, lifecycle);
        assert_eq!(again.to_bytes(), bytes);
    }

    #[test]
    fn the_state_file_remembers_custom_paths_only() {
        let default = Lifecycle::new(&config(30));
        assert!(!String::from_utf8(default.to_bytes()).unwrap().contains("paths"));
        assert_eq!(default.owned_paths(), vec![FeedPaths::default()]);
        let custom = FeedPaths::new(Some("atom.xml"), Some("alt/tags/"));
        let mut config_custom = config(30);
        config_custom.paths = custom.clone();
        let bytes = Lifecycle::new(&config_custom).to_bytes();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\"version\":1,\"paths\":{\"site\":\"atom.xml\",\"tags\":\"alt/tags/\"},"), "{text}");
        // The next run, back on the defaults, still owns the custom places once.
        let mut next = Lifecycle::new(&config(30));
        next.read(&text).unwrap();
        assert!(next.owned_paths().contains(&custom) && next.owned_paths().contains(&FeedPaths::default()));
        assert!(!String::from_utf8(next.to_bytes()).unwrap().contains("paths"));
        // A reload that changes them owns the old ones too.
        let mut reloaded = Lifecycle::new(&config_custom);
        reloaded.set_retire_after(&config(30));
        assert_eq!(reloaded.owned_paths().len(), 2);
        // Paths a state file cannot have come from postfeed are not taken.
        let mut hostile = Lifecycle::new(&config(30));
        hostile.read("{\"version\":1,\"paths\":{\"site\":\"../x.xml\",\"tags\":\"/\"},\"feeds\":[]}").unwrap();
        assert_eq!(hostile.owned_paths(), vec![FeedPaths::default()]);
    }

    #[test]
    fn a_damaged_state_file_is_ignored_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        for text in
            ["not json", "{\"version\":9,\"feeds\":[]}", "{\"version\":1,\"feeds\":[{\"kind\":\"x\",\"name\":\"n\"}]}"]
        {
            std::fs::write(dir.path().join(STATE_FILE), text).unwrap();
            let lifecycle = Lifecycle::load(dir.path(), &config(30));
            assert_eq!(lifecycle.keys().count(), 0, "{text}");
        }
    }

    #[test]
    fn retired_lists_name_the_served_paths() {
        let retired = BTreeSet::from(["feed/a.xml".to_string(), "feed/by_tag/新闻.rss".to_string()]);
        assert_eq!(retired_list("/blog/", &retired), "/blog/feed/a.xml\n/blog/feed/by_tag/新闻.rss\n".as_bytes());
        let map = String::from_utf8(retired_nginx_map("/", &retired)).unwrap();
        assert!(map.contains("map $uri $postfeed_retired {\n    default 0;\n    \"/feed/a.xml\" 1;\n"), "{map}");
    }
}
