//! Archived posts that no feed shows, kept as a record of their file and their feeds instead of
//! parsed. An archive folder only grows (a week of the finance site moves 47,000 posts into
//! `old_post/`), and an archived post past the newest `feeds.limit` of each of its feeds cannot
//! be seen until newer posts leave one of them; then it is read from its file again.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap};

use crate::post::{PostWarning, TaxonomyLines};
use crate::scan::Stamp;

use super::FeedKey;

/// What is kept of a sleeping post: enough to tell whether its file changed, which feeds to
/// wake it for, and what `check` reports about it.
#[derive(Debug)]
pub(super) struct Record {
    pub(super) stamp: Option<Stamp>,
    pub(super) hash: u64,
    pub(super) keys: Box<[FeedKey]>,
    pub(super) warnings: Box<[PostWarning]>,
    pub(super) taxonomy_lines: TaxonomyLines,
}

/// A post's place in feed order (newest first, then by URL, then by source path), owned.
pub(super) type Place = (Reverse<(i64, u32)>, Box<str>, Box<str>);

/// The sleeping posts by source path, and per feed how many sleep and the first place any of
/// them has had. That place is never moved back by a removal, so it may be ahead of every
/// sleeper left: a feed whose first sleeper could be in sight is woken, and what is still out
/// of sight sleeps again.
#[derive(Debug, Default)]
pub(super) struct Dormant {
    records: BTreeMap<String, Record>,
    per_key: HashMap<FeedKey, Sleepers>,
}

#[derive(Debug, Clone)]
struct Sleepers {
    count: usize,
    first: Place,
}

impl Dormant {
    /// Puts `source` to sleep; `place` is where it stands in its feeds.
    pub(super) fn insert(&mut self, source: String, record: Record, place: Place) {
        for key in record.keys.iter() {
            let sleepers =
                self.per_key.entry(key.clone()).or_insert_with(|| Sleepers { count: 0, first: place.clone() });
            sleepers.count += 1;
            if place < sleepers.first {
                sleepers.first = place.clone();
            }
        }
        if let Some(old) = self.records.insert(source, record) {
            self.forget_keys(&old);
        }
    }

    pub(super) fn remove(&mut self, source: &str) -> Option<Record> {
        let record = self.records.remove(source)?;
        self.forget_keys(&record);
        Some(record)
    }

    fn forget_keys(&mut self, record: &Record) {
        for key in record.keys.iter() {
            if let Some(sleepers) = self.per_key.get_mut(key) {
                sleepers.count -= 1;
                if sleepers.count == 0 {
                    self.per_key.remove(key);
                }
            }
        }
    }

    pub(super) fn get(&self, source: &str) -> Option<&Record> {
        self.records.get(source)
    }

    pub(super) fn get_mut(&mut self, source: &str) -> Option<&mut Record> {
        self.records.get_mut(source)
    }

    /// Whether some post of the feed `key` sleeps.
    pub(super) fn has_key(&self, key: &FeedKey) -> bool {
        self.per_key.contains_key(key)
    }

    /// The first place in feed order a sleeping post of `key` may have (see [`Dormant`]).
    pub(super) fn first(&self, key: &FeedKey) -> Option<&Place> {
        self.per_key.get(key).map(|s| &s.first)
    }

    /// The feeds some sleeping post is in.
    pub(super) fn keys(&self) -> impl Iterator<Item = &FeedKey> {
        self.per_key.keys()
    }

    /// The sleeping posts of any of the feeds `keys`, by source path: one pass over the records
    /// for all of them, however many feeds wake at once.
    pub(super) fn sources_of(&self, keys: &std::collections::HashSet<&FeedKey>) -> Vec<String> {
        if !keys.iter().any(|key| self.has_key(key)) {
            return Vec::new();
        }
        self.records
            .iter()
            .filter(|(_, r)| r.keys.iter().any(|key| keys.contains(key)))
            .map(|(source, _)| source.clone())
            .collect()
    }

    /// The sleeping posts whose source path starts with `prefix`, in path order.
    pub(super) fn range<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a String, &'a Record)> + 'a {
        self.records.range(prefix.to_string()..).take_while(move |(s, _)| s.starts_with(prefix))
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&String, &Record)> {
        self.records.iter()
    }

    pub(super) fn len(&self) -> usize {
        self.records.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(secs: i64, url: &str) -> Place {
        (Reverse((secs, 0)), url.into(), "s".into())
    }

    fn record(keys: &[FeedKey]) -> Record {
        Record {
            stamp: None,
            hash: 0,
            keys: keys.into(),
            warnings: Box::default(),
            taxonomy_lines: TaxonomyLines::default(),
        }
    }

    #[test]
    fn counts_per_feed_follow_inserts_replacements_and_removals() {
        let a = FeedKey::Category("a".into());
        let b = FeedKey::Tag("b".into());
        let mut dormant = Dormant::default();
        dormant.insert("old/1.md".into(), record(&[a.clone(), b.clone()]), place(10, "u1"));
        dormant.insert("old/2.md".into(), record(std::slice::from_ref(&a)), place(20, "u2"));
        assert!(dormant.has_key(&a) && dormant.has_key(&b));
        let of = |keys: &[&FeedKey]| dormant.sources_of(&keys.iter().copied().collect());
        assert_eq!(of(&[&a]), ["old/1.md", "old/2.md"]);
        assert_eq!(of(&[&b]), ["old/1.md"]);
        assert_eq!(of(&[&a, &b]), ["old/1.md", "old/2.md"]);
        assert_eq!(of(&[&FeedKey::Site]), Vec::<String>::new());
        // The newer post comes first; on the same date, the URL decides.
        assert_eq!(dormant.first(&a), Some(&place(20, "u2")));
        assert_eq!(dormant.first(&b), Some(&place(10, "u1")));
        dormant.insert("old/3.md".into(), record(std::slice::from_ref(&b)), place(10, "u0"));
        assert_eq!(dormant.first(&b), Some(&place(10, "u0")));
        assert!(dormant.remove("old/3.md").is_some());
        // The same file again, now in `a` only: `b` has no sleeper left.
        dormant.insert("old/1.md".into(), record(std::slice::from_ref(&a)), place(10, "u1"));
        assert!(!dormant.has_key(&b));
        assert!(dormant.remove("old/1.md").is_some());
        assert_eq!(dormant.sources_of(&[&a].into()), ["old/2.md"]);
        assert!(dormant.remove("old/2.md").is_some());
        assert!(!dormant.has_key(&a) && dormant.keys().next().is_none());
        assert_eq!(dormant.len(), 0);
        assert!(dormant.remove("old/2.md").is_none());
    }

    #[test]
    fn range_lists_the_files_below_a_folder_only() {
        let mut dormant = Dormant::default();
        for source in ["old/a.md", "old/b/c.md", "older/d.md", "n.md"] {
            dormant.insert(source.into(), record(&[]), place(0, source));
        }
        let below: Vec<&String> = dormant.range("old/").map(|(s, _)| s).collect();
        assert_eq!(below, ["old/a.md", "old/b/c.md"]);
    }
}

#[cfg(test)]
pub(super) mod site_tests {
    use std::collections::BTreeMap;
    use std::fs;
    use std::path::{Path, PathBuf};

    use chrono::Utc;

    use crate::config::Config;
    use crate::site::{FeedKey, Site};

    pub(super) const LIMIT: usize = 3;

    /// A site at `root` with an archive folder, `old_post`, and feeds of [`LIMIT`] entries.
    pub(in crate::site) fn config(root: &Path) -> Config {
        let text = format!(
            "[site]\nurl = \"https://news.example.com\"\ntitle = \"T\"\n[source]\ndir = \"{}\"\narchive = [\"old_post\"]\n[output]\ndir = \"{}\"\n[feeds]\nlimit = {LIMIT}\n",
            root.display(),
            root.join("_site").display()
        );
        Config::parse(&text, Path::new("/")).unwrap()
    }

    fn write(root: &Path, rel: &str, day: u32, tags: &str) -> PathBuf {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let text = format!("---\ntitle: post {day}\ndate: 2021-12-{day:02} 08:00:00 +0800\ncategories: [paper]\ntags: [{tags}]\n---\nbody {day}\n");
        fs::write(&path, text).unwrap();
        path
    }

    /// Every feed's entries (their sources), as the site shows them now.
    pub(super) fn shown(site: &Site) -> BTreeMap<FeedKey, Vec<String>> {
        let now = Utc::now();
        let keys: Vec<FeedKey> = site.index_keys().cloned().collect();
        keys.into_iter()
            .map(|key| {
                let entries = site.entries(&key, now, LIMIT).iter().map(|p| p.source.clone()).collect();
                (key, entries)
            })
            .filter(|(_, entries): &(FeedKey, Vec<String>)| !entries.is_empty())
            .collect()
    }

    /// The site as a fresh load has it, no post asleep: what the feeds must show.
    pub(super) fn truth(config: &Config) -> BTreeMap<FeedKey, Vec<String>> {
        let site = Site::load(config).unwrap();
        assert_eq!(site.sleeping(), 0);
        shown(&site)
    }

    fn settle(site: &mut Site, config: &Config, keys: Option<&std::collections::BTreeSet<FeedKey>>) {
        site.settle(Utc::now(), LIMIT, keys, config);
    }

    #[test]
    fn settling_never_changes_the_feeds() {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        let live: Vec<PathBuf> =
            [20, 21].iter().map(|&d| write(&root, &format!("_posts/2021-12-{d}-live.md"), d, "t")).collect();
        let mut archived = Vec::new();
        for day in 1..=6 {
            // Day 5 is also the only post of its own tag: shown there, so never asleep.
            let tags = if day == 5 { "t, lonely" } else { "t" };
            archived.push(write(&root, &format!("old_post/2021-12-0{day}-old.md"), day, tags));
        }
        let config = config(&root);
        let mut site = Site::load(&config).unwrap();
        let expected = truth(&config);
        settle(&mut site, &config, None);
        // `paper` and `t` show days 21, 20 and 6; 5 is in `lonely`; 1 to 4 are out of sight.
        assert_eq!(site.sleeping(), 4);
        assert_eq!(site.post_count(), 8);
        assert_eq!(shown(&site), expected);
        let asleep = "old_post/2021-12-01-old.md";
        assert!(site.posts().all(|p| p.source != asleep) && site.file_of(asleep).is_some());

        // The live posts go: `paper` and `t` must show 6, 5 and 4, and 4 was asleep.
        for path in &live {
            fs::remove_file(path).unwrap();
        }
        let changes = site.refresh(&live, &config);
        settle(&mut site, &config, Some(&changes.feeds));
        assert_eq!(shown(&site), truth(&config));
        assert!(shown(&site)[&FeedKey::Category("paper".into())].contains(&"old_post/2021-12-04-old.md".to_string()));
        assert_eq!(site.sleeping(), 3);

        // A sleeping file edited to a newer date is read again and shown.
        write(&root, "old_post/2021-12-01-old.md", 25, "t");
        let changes = site.refresh(&archived[..1], &config);
        assert_eq!(changes.files_read, 1);
        settle(&mut site, &config, Some(&changes.feeds));
        assert_eq!(shown(&site), truth(&config));
        assert_eq!(site.sleeping(), 3);

        // A sleeping file deleted is gone from the site, found by a scan of the whole tree too.
        fs::remove_file(&archived[1]).unwrap();
        let changes = site.refresh(std::slice::from_ref(&root), &config);
        assert_eq!(changes.removed, 1);
        settle(&mut site, &config, Some(&changes.feeds));
        assert_eq!(shown(&site), truth(&config));
        assert_eq!(site.post_count(), 5);
        assert_eq!(site.post_count(), Site::load(&config).unwrap().post_count());
    }

    #[test]
    fn a_sleeping_post_whose_file_breaks_is_reported_and_left_out_once_a_feed_needs_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        let live: Vec<PathBuf> =
            (10..=12).map(|d| write(&root, &format!("_posts/2021-12-{d}-live.md"), d, "t")).collect();
        let old = write(&root, "old_post/2021-12-01-old.md", 1, "t");
        let source = "old_post/2021-12-01-old.md";
        let config = config(&root);
        assert!(config.server.keep_last_good);
        let mut site = Site::load(&config).unwrap();
        settle(&mut site, &config, None);
        assert_eq!(site.sleeping(), 1);
        // Broken while asleep: kept as it was (asleep), and reported as such.
        fs::write(&old, "---\ntitle: [unclosed\n---\nbody\n").unwrap();
        let changes = site.refresh(std::slice::from_ref(&old), &config);
        settle(&mut site, &config, Some(&changes.feeds));
        assert_eq!(site.sleeping(), 1);
        assert!(site.kept_last_good(source));
        // A feed needs it again: there is no parsed version to show, so it is left out.
        for path in &live {
            fs::remove_file(path).unwrap();
        }
        let changes = site.refresh(&live, &config);
        settle(&mut site, &config, Some(&changes.feeds));
        assert_eq!(site.sleeping(), 0);
        assert!(shown(&site).is_empty());
        assert!(!site.kept_last_good(source));
        let problems: Vec<String> = crate::problem::post_problems(&site).iter().map(|p| p.to_string()).collect();
        assert!(problems.iter().any(|p| p.contains(source) && p.contains("YAML")), "{problems:?}");
    }

    #[test]
    fn a_sleeping_post_s_warnings_are_still_reported() {
        let dir = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(dir.path()).unwrap();
        for day in 10..=12 {
            write(&root, &format!("_posts/2021-12-{day}-live.md"), day, "t");
        }
        // A key set twice is read other than as written: a warning, and the post is kept.
        let path = root.join("old_post/2021-12-01-old.md");
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "---\ntitle: old\ntitle: older\ncategories: [paper]\ntags: [t]\n---\nbody\n").unwrap();
        let config = config(&root);
        let mut site = Site::load(&config).unwrap();
        let before: Vec<String> = crate::problem::post_problems(&site).iter().map(|p| p.to_string()).collect();
        assert!(before.iter().any(|p| p.contains("old_post/2021-12-01-old.md")), "{before:?}");
        settle(&mut site, &config, None);
        assert_eq!(site.sleeping(), 1);
        let after: Vec<String> = crate::problem::post_problems(&site).iter().map(|p| p.to_string()).collect();
        assert_eq!(before, after);
        let of_file = crate::problem::problems_of(&site, "old_post/2021-12-01-old.md");
        assert_eq!(of_file.len(), 1);
    }
}

#[cfg(test)]
mod properties {
    use std::collections::BTreeSet;
    use std::fs;
    use std::path::{Path, PathBuf};

    use proptest::prelude::*;

    use super::site_tests::{config, shown, truth, LIMIT};
    use crate::config::Config;
    use crate::site::Site;

    /// A post: archived or not, its day, its category (of 2), its tags (a subset of 3), and
    /// when it comes: 0 before the load, 1 after it, 2 after it and deleted in the last step.
    type Spec = (bool, u32, usize, u8, u8);

    fn spec() -> impl Strategy<Value = Spec> {
        (any::<bool>(), 1..28u32, 0..2usize, 0..8u8, 0..3u8)
    }

    fn write(root: &Path, i: usize, &(archived, day, category, tags, _): &Spec) -> PathBuf {
        let folder = if archived { "old_post" } else { "_posts" };
        let path = root.join(format!("{folder}/2021-12-{day:02}-p{i}.md"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        let tags: Vec<&str> =
            ["x", "y", "z"].into_iter().enumerate().filter(|(b, _)| tags & (1 << b) != 0).map(|(_, t)| t).collect();
        // Same-second posts in one feed: ties are broken by URL, then by path.
        let text = format!(
            "---\ntitle: p{i}\ndate: 2021-12-{day:02} 08:00:00 +0800\ncategories: [c{category}]\ntags: [{}]\n---\nbody\n",
            tags.join(", ")
        );
        fs::write(&path, text).unwrap();
        path
    }

    fn asleep(site: &Site) -> BTreeSet<String> {
        site.dormant.iter().map(|(source, _)| source.clone()).collect()
    }

    /// What a fresh load settled at once puts to sleep: every archived post out of sight.
    fn all_out_of_sight(config: &Config) -> BTreeSet<String> {
        let mut site = Site::load(config).unwrap();
        site.settle(chrono::Utc::now(), LIMIT, None, config);
        asleep(&site)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// After each step (load, new posts, deletions) the feeds show what a fresh load shows,
        /// and exactly the posts a fresh load would put to sleep are asleep: none is missed by
        /// the incremental settle, and none is asleep that a feed shows.
        #[test]
        fn settling_step_by_step_equals_settling_a_fresh_load(specs in prop::collection::vec(spec(), 1..28)) {
            let dir = tempfile::tempdir().unwrap();
            let root = fs::canonicalize(dir.path()).unwrap();
            for (i, spec) in specs.iter().enumerate().filter(|(_, s)| s.4 == 0) {
                write(&root, i, spec);
            }
            let config = config(&root);
            let mut site = Site::load(&config).unwrap();
            site.settle(chrono::Utc::now(), LIMIT, None, &config);
            prop_assert_eq!(shown(&site), truth(&config));
            prop_assert_eq!(asleep(&site), all_out_of_sight(&config));

            let added: Vec<PathBuf> =
                specs.iter().enumerate().filter(|(_, s)| s.4 > 0).map(|(i, spec)| write(&root, i, spec)).collect();
            let changes = site.refresh(&added, &config);
            site.settle(chrono::Utc::now(), LIMIT, Some(&changes.feeds), &config);
            prop_assert_eq!(shown(&site), truth(&config));
            prop_assert_eq!(asleep(&site), all_out_of_sight(&config));

            let doomed: Vec<PathBuf> =
                specs.iter().enumerate().filter(|(_, s)| s.4 == 2).map(|(i, spec)| write(&root, i, spec)).collect();
            for path in &doomed {
                fs::remove_file(path).unwrap();
            }
            let changes = site.refresh(&doomed, &config);
            site.settle(chrono::Utc::now(), LIMIT, Some(&changes.feeds), &config);
            prop_assert_eq!(shown(&site), truth(&config));
            prop_assert_eq!(asleep(&site), all_out_of_sight(&config));
            prop_assert_eq!(site.post_count(), specs.len() - doomed.len());
        }
    }
}
