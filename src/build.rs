//! The build pipeline that `regen`, `check` and `serve` share: the source tree read into a site,
//! the feeds that exist chosen, their entries' texts made by the site layer, and the feeds
//! rendered into a snapshot, or for `regen` straight into the output folder.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use chrono::{DateTime, FixedOffset, Utc};
use rayon::prelude::*;

use crate::config::Config;
use crate::entry_store::{self, Keep, Store};
use crate::feed::fragments::Fragments;
use crate::feed::lifecycle::{self, Lifecycle};
use crate::feed::{FeedKey, FeedSet};
use crate::output::{OutputFolder, WriteStats};
use crate::problem::{self, Problem};
use crate::site::{Changes, ContentRenderer, EntryTexts, Prefetched, Site};
use crate::snapshot::{self, Snapshot, Storage};

/// A site and what its feeds need between renders.
pub struct Build {
    pub(crate) config: Config,
    pub(crate) site: Site,
    /// The texts of the posts that feeds show, kept across updates.
    pub(crate) texts: EntryTexts,
    /// The bytes of those posts' entries in each format, shared by the feeds that show them.
    fragments: Fragments,
    /// Makes entry texts for this version of `_config.yml`, `_data` and `_includes`.
    renderer: Arc<ContentRenderer>,
    /// Problems found since they were last taken: `_config.yml`'s notes and `_data` on loading,
    /// then the templates of the entries each render made.
    problems: Vec<Problem>,
    /// Which category and tag feeds once existed, and since when they have no post in `_posts`.
    pub(crate) lifecycle: Lifecycle,
    /// The entries kept in the state folder between runs.
    store: Option<Store>,
}

/// How many feeds' entries have their texts and bytes made together in a render (see
/// [`Build::render`]): 256 feeds of 20 entries hold at most 5,120 texts at once.
const FEEDS_PER_SLICE: usize = 256;

/// `site.time`: the date of the newest post that Jekyll would publish now (not `published:
/// false`, not in the future, not in an archive folder) rather than the clock, so that the same
/// tree renders the same bytes.
fn site_time(site: &Site) -> DateTime<FixedOffset> {
    let now = Utc::now();
    site.posts()
        .filter(|p| p.published && !p.archived && p.date <= now)
        .map(|p| p.date)
        .max()
        .unwrap_or(DateTime::UNIX_EPOCH.fixed_offset())
}

impl Build {
    /// Reads and parses the whole source tree, and the feed state the output folder keeps,
    /// rendering nothing.
    pub fn load(config: Config) -> Result<Build> {
        let lifecycle = Lifecycle::load(&config.output_dir, &config.feeds);
        Build::load_with(config, lifecycle)
    }

    /// [`Build::load`] with the feed state already known (a reload of the daemon).
    pub(crate) fn load_with(config: Config, lifecycle: Lifecycle) -> Result<Build> {
        Build::load_parts(config, lifecycle, true)
    }

    /// [`Build::load`] for `check`, which renders no feed: the entries kept in the state folder
    /// are neither read nor written.
    pub(crate) fn load_for_check(config: Config) -> Result<Build> {
        let lifecycle = Lifecycle::load(&config.output_dir, &config.feeds);
        Build::load_parts(config, lifecycle, false)
    }

    fn load_parts(config: Config, lifecycle: Lifecycle, with_kept_entries: bool) -> Result<Build> {
        if !config.source_dir.is_dir() {
            bail!("source folder {} does not exist or is not a folder", config.source_dir.display());
        }
        // Read while the posts are.
        let mut store = if with_kept_entries { Store::open(&config) } else { None };
        let site = Site::load(&config)
            .with_context(|| format!("cannot read source folder {}", config.source_dir.display()))?;
        let time = site_time(&site);
        let renderer = Arc::new(ContentRenderer::new(&config, site.post_links.clone(), time));
        if let Some(store) = &mut store {
            store.fingerprint = entry_store::fingerprint(&config, renderer.data_hash());
        }
        let mut problems = problem::config_problems(&config);
        problems.extend(renderer.data_problems().iter().map(Problem::template));
        Ok(Build {
            config,
            site,
            texts: EntryTexts::default(),
            fragments: Fragments::default(),
            renderer,
            problems,
            lifecycle,
            store,
        })
    }

    /// Reads `_data` and `_includes` again: every entry text is made anew at the next render.
    pub(crate) fn reload_templates(&mut self) {
        let time = site_time(&self.site);
        self.renderer = Arc::new(ContentRenderer::new(&self.config, self.site.post_links.clone(), time));
        if let Some(store) = &mut self.store {
            store.fingerprint = entry_store::fingerprint(&self.config, self.renderer.data_hash());
            // Every entry is made anew, and the count of texts made starts again: the file is
            // behind whatever that count says.
            store.written(u64::MAX);
            store.forget_reused();
        }
        self.problems.extend(self.renderer.data_problems().iter().map(Problem::template));
        self.texts = EntryTexts::default();
        self.fragments = Fragments::default();
    }

    /// What makes the entry texts now: the same until `_data` or `_includes` change.
    pub(crate) fn renderer(&self) -> Arc<ContentRenderer> {
        Arc::clone(&self.renderer)
    }

    /// The template problems found since the last call: in `_data` when loading, then in the
    /// entries each render made.
    pub(crate) fn take_problems(&mut self) -> Vec<Problem> {
        std::mem::take(&mut self.problems)
    }

    /// Makes the entry texts of every feed's entries as they are at `now`, without rendering any
    /// feed: what `check` needs to find the entries' template problems.
    pub(crate) fn make_texts(&mut self, now: DateTime<Utc>) {
        self.lifecycle.observe(&self.site, &self.config.feeds, now, None);
        let feeds = FeedSet::new(&self.site, &self.config.feeds, &self.lifecycle, now);
        let todo = feeds.select(None);
        let found =
            self.texts.load(&self.site, &self.renderer, todo.iter().flat_map(|feed| &feed.entries), |_, _| false);
        self.problems.extend(found.iter().map(Problem::template));
    }

    /// Feeds that change when the clock moves from `after` to `until` with no file changed:
    /// future posts coming due, kept feeds being retired.
    pub(crate) fn feeds_due_between(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> BTreeSet<FeedKey> {
        let mut keys = self.site.feeds_published_between(after, until);
        keys.extend(self.lifecycle.retired_between(after, until));
        keys
    }

    /// The next moment after `now` at which the feeds change with no file changed.
    pub(crate) fn next_due(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let publication = self.site.next_publication(now).map(|d| d.with_timezone(&Utc));
        [publication, self.lifecycle.next_retirement(now)].into_iter().flatten().min()
    }

    /// The files the output folder holds besides the feeds: the feed state and the lists of
    /// retired feeds (see README, "Feeds that lose their posts").
    fn side_files(&self, retired: &BTreeSet<String>) -> Vec<(String, Vec<u8>)> {
        let base = percent_encoding::percent_decode_str(self.config.site.url.path()).decode_utf8_lossy();
        vec![
            (lifecycle::STATE_FILE.to_string(), self.lifecycle.to_bytes()),
            (lifecycle::RETIRED_LIST.to_string(), lifecycle::retired_list(&base, retired)),
            (lifecycle::RETIRED_NGINX.to_string(), lifecycle::retired_nginx_map(&base, retired)),
        ]
    }

    /// Folds what happened at `paths` into the site.
    pub fn refresh(&mut self, paths: &[PathBuf]) -> Changes {
        self.refresh_with(paths, Prefetched::default())
    }

    /// [`Build::refresh`], with the posts read while the batch gathered (see [`crate::site::Prefetch`]).
    pub(crate) fn refresh_with(&mut self, paths: &[PathBuf], mut early: Prefetched) -> Changes {
        for text in early.take_texts(&self.renderer) {
            self.texts.offer(text.source, text.hash, text.text);
        }
        let mut changes = self.site.refresh_with(paths, &self.config, early);
        // A post moved with its bytes (into an archive folder, most often) keeps its text and
        // entry bytes instead of having them made again under its new path.
        let mut carried = 0;
        for moved in &changes.moved {
            let post = self.site.post(&moved.to);
            if let (Some(post), Some(version)) = (post, self.texts.carry(&moved.from, &moved.to, &moved.keys)) {
                self.fragments.carry(&moved.from, post, version);
                carried += 1;
            }
        }
        if !changes.moved.is_empty() {
            tracing::debug!("{} posts moved with their bytes; {carried} kept their entries", changes.moved.len());
        }
        // Posts came or went: an entry whose `post_url` or `link` would now find another post, or
        // none, or one where it found none, is made again, and so are the feeds that show it.
        // And one that read `site.posts`, whatever changed.
        if changes.files_read > 0 || changes.removed > 0 {
            let links = self.site.post_links.clone();
            self.renderer.forget_posts();
            for source in self.texts.drop_stale(|lookup| lookup.holds(links.as_ref())) {
                if let Some(post) = self.site.post(&source) {
                    changes.feeds.extend(crate::site::keys_of(post));
                }
            }
        }
        changes
    }

    /// Renders the feeds named in `keys` (every feed when `None`) as they are at `now`, on top of
    /// `previous`; feeds that no longer exist are dropped, and so are the texts of posts no feed
    /// shows any more. Returns the new snapshot and the paths whose bytes changed.
    pub fn render(
        &mut self,
        now: DateTime<Utc>,
        previous: &Snapshot,
        keys: Option<&BTreeSet<FeedKey>>,
        storage: Storage,
    ) -> (Snapshot, Vec<String>) {
        let started = std::time::Instant::now();
        self.site.settle(now, self.config.feeds.limit, keys, &self.config);
        self.lifecycle.observe(&self.site, &self.config.feeds, now, keys);
        let feeds = FeedSet::new(&self.site, &self.config.feeds, &self.lifecycle, now);
        let todo = feeds.select(keys);
        let first_with_store = reuse_kept_entries(
            &mut self.store,
            &self.site,
            &self.renderer,
            &mut self.texts,
            &mut self.fragments,
            &todo,
        );
        make_entries(
            &self.config,
            &self.site,
            &self.renderer,
            &mut self.texts,
            &mut self.fragments,
            &mut self.problems,
            &todo,
        );
        self.texts.withdraw_offers();
        let (mut next, mut changed) =
            snapshot::render(&self.config, &feeds, &todo, &self.texts, &mut self.fragments, previous, storage);
        for (path, bytes) in self.side_files(&next.gone) {
            if next.side.get(&path).is_none_or(|old| **old != *bytes) {
                changed.push(path.clone());
                next.side.insert(path, bytes.into());
            }
        }
        for feed in &todo {
            self.texts.show(&feed.key, &feed.entries);
        }
        self.texts.retain_feeds(|key| feeds.contains(key));
        // The entry bytes go with their texts.
        for source in self.texts.take_dropped() {
            if self.texts.get(&source).is_none() {
                self.fragments.remove(&source);
            }
        }
        if first_with_store {
            self.keep_entries(true);
        }
        // What `/problems` lists: the posts' problems, `_config.yml`'s, and the templates' of the
        // entries in feeds.
        let mut problems = problem::post_problems(&self.site);
        problems.extend(problem::config_problems(&self.config));
        problems.extend(self.renderer.data_problems().iter().map(Problem::template));
        problems.extend(self.texts.problems().map(Problem::template));
        let problems = problem::sorted(problems);
        if *next.problems != problems {
            next.problems = Arc::new(problems);
        }
        if keys.is_none() {
            tracing::debug!(
                "rendered {} files, {} bytes, from {} entry texts of {} bytes, as {} entries of {} bytes, in {:?}; {} archived posts asleep ({})",
                next.files.len(),
                next.files.values().map(|f| f.body.len()).sum::<usize>(),
                self.texts.len(),
                self.texts.bytes(),
                self.fragments.len(),
                self.fragments.bytes(),
                started.elapsed(),
                self.site.sleeping(),
                crate::logging::memory()
            );
        }
        (next, changed)
    }

    /// Writes the entries the feeds now show to the state folder, if texts that may be kept were
    /// made since it was last written (on a thread of its own if `on_thread`): after the first render, at the end
    /// of a `regen`, and when the daemon reloads or stops (which also waits for a write under way).
    pub(crate) fn keep_entries(&mut self, on_thread: bool) {
        let Some(store) = &mut self.store else { return };
        let made = self.texts.made_storable();
        if !store.is_behind(made) {
            // A write started after the first render must not be cut short by the exit.
            if !on_thread {
                store.wait();
            }
            return;
        }
        let site_posts_read = self.renderer.has_read_site_posts();
        let site_time = self.renderer.site_time();
        let entries: Vec<Keep> = self
            .fragments
            .held()
            .filter_map(|(post, version, bytes, rss_uses)| {
                let made = self.texts.storable(&post.source).filter(|made| Some(made.version) == version)?;
                // Once a template read `site.posts`, any Liquid may have: such texts depend on
                // every post, which nothing records.
                if made.liquid && site_posts_read {
                    return None;
                }
                Some(Keep {
                    post: Arc::clone(post),
                    hash: made.hash,
                    liquid: made.liquid.then(|| (site_time, made.lookups.to_vec())),
                    bytes: bytes.clone(),
                    rss_uses,
                    reused: made.adopted,
                })
            })
            .collect();
        let read = self.renderer.includes_read();
        let Some(store) = &mut self.store else { return };
        if store.holds_exactly(&entries) {
            store.written(made);
            if !on_thread {
                store.wait();
            }
            return;
        }
        match store.includes(read) {
            Some(includes) => store.write(entries, includes, made, on_thread),
            None => tracing::info!("an include changed while entries were made from it; no entry is kept"),
        }
    }

    /// Waits until the entries the first render kept are in the state folder.
    #[cfg(test)]
    pub(crate) fn wait_for_kept_entries(&mut self) {
        if let Some(store) = &mut self.store {
            store.wait();
        }
    }

    /// `27 posts read, 1 skipped; 10 feeds (20 files)`: the words `regen` and `serve` both use
    /// for what a build holds.
    pub(crate) fn summary(&self, feeds: usize, files: usize) -> String {
        format!(
            "{} posts read, {} skipped; {}",
            self.site.post_count(),
            self.site.problems().count(),
            feeds_and_files(feeds, files)
        )
    }

    /// Renders every feed as it is at `now` and writes each to the output folder as soon as it is
    /// made, keeping none: the same bytes [`Build::render`] makes, without holding them all.
    /// Returns what the writes did, and how many feeds and files there are.
    pub(crate) fn render_to_folder(&mut self, now: DateTime<Utc>) -> Result<(WriteStats, usize, usize)> {
        self.site.settle(now, self.config.feeds.limit, None, &self.config);
        self.lifecycle.observe(&self.site, &self.config.feeds, now, None);
        let feeds = FeedSet::new(&self.site, &self.config.feeds, &self.lifecycle, now);
        let todo = feeds.select(None);
        let keeping = reuse_kept_entries(
            &mut self.store,
            &self.site,
            &self.renderer,
            &mut self.texts,
            &mut self.fragments,
            &todo,
        );
        let no_fragments = Fragments::default();
        let fragments = if keeping {
            // Each entry's bytes are made once and held, to be kept in the state folder.
            make_entries(
                &self.config,
                &self.site,
                &self.renderer,
                &mut self.texts,
                &mut self.fragments,
                &mut self.problems,
                &todo,
            );
            &self.fragments
        } else {
            let found =
                self.texts.load(&self.site, &self.renderer, todo.iter().flat_map(|feed| &feed.entries), |_, _| false);
            self.problems.extend(found.iter().map(Problem::template));
            // None held: holding every entry's bytes in every format until the last feed is
            // written would more than double regen's peak memory for ~2 % of its CPU time.
            &no_fragments
        };
        let texts = &self.texts;
        let side = self.side_files(&feeds.retired_paths());
        let feed_files = todo.par_iter().flat_map_iter(|feed| {
            let (_, files) = snapshot::render_feed(&self.config, feed, texts, fragments);
            files.into_iter().map(|(rel, bytes, _)| (rel, bytes))
        });
        let browser_view = self.config.feeds.browser_view.then(snapshot::stylesheet_file);
        let files = feed_files.chain(browser_view.into_par_iter().map(|(rel, bytes, _)| (rel, bytes)));
        let folder = OutputFolder::new(&self.config.output_dir).owning(self.lifecycle.owned_paths());
        let stats = folder.sync(files, &BTreeSet::new())?;
        folder.write_side(side.iter().map(|(rel, bytes)| (rel.as_str(), bytes.as_slice())))?;
        if keeping {
            self.keep_entries(false);
        }
        // Feed files only: the stylesheet is no feed, and `serve` counts the same way.
        Ok((stats, todo.len(), todo.iter().map(|feed| feed.files.len()).sum()))
    }
}

/// The first time a build with a state folder renders: the entries kept there by an earlier
/// run that still hold for the posts of `todo` are filed as if made now (see
/// [`crate::entry_store`]). Returns whether it did look.
fn reuse_kept_entries(
    store: &mut Option<Store>,
    site: &Site,
    renderer: &ContentRenderer,
    texts: &mut EntryTexts,
    fragments: &mut Fragments,
    todo: &[crate::feed::Feed],
) -> bool {
    let Some(store) = store else { return false };
    let Some(mut stash) = store.take_stash() else { return false };
    let fingerprint = store.fingerprint;
    let (kept, mut reused) = (stash.len(), 0);
    if stash.holds(fingerprint, |name| renderer.include_hash(name)) {
        store.reused(stash.includes().to_vec());
        let links = site.post_links.clone();
        let mut formats = [false; 3];
        for (format, _) in todo.iter().flat_map(|feed| &feed.files) {
            formats[crate::feed::fragments::slot(*format)] = true;
        }
        let now = entry_store::Now { site_time: renderer.site_time(), index: links.as_ref(), formats };
        for post in todo.iter().flat_map(|feed| &feed.entries) {
            let hash = site.hash_of(&post.source);
            let Some(reuse) = stash.take(&post.source, fingerprint).and_then(|kept| kept.reuse(post, hash, &now))
            else {
                continue;
            };
            let version = texts.adopt(&post.source, reuse.hash, reuse.liquid, reuse.lookups);
            fragments.adopt(post, version, reuse.bytes, reuse.rss_uses);
            reused += 1;
        }
    }
    // What the file holds counts as written unless some of it went unused.
    store.written(if reused == kept { texts.made_storable() } else { u64::MAX });
    store.reused_all((reused == kept).then_some(kept));
    tracing::debug!("kept entries: {reused} of {kept} reused");
    true
}

/// Makes the texts and entry bytes the feeds of `todo` need, a slice of the feeds at a time; each
/// text is stripped once its entry's bytes are made, so that a full render of a large site holds
/// one slice's texts at most, not every text beside every entry's bytes.
fn make_entries(
    config: &Config,
    site: &Site,
    renderer: &ContentRenderer,
    texts: &mut EntryTexts,
    fragments: &mut Fragments,
    problems: &mut Vec<Problem>,
    todo: &[crate::feed::Feed],
) {
    for slice in todo.chunks(FEEDS_PER_SLICE) {
        let posts = || slice.iter().flat_map(|feed| &feed.entries);
        let held = &*fragments;
        let found = texts.load(site, renderer, posts(), |post, version| held.holds(post, version));
        problems.extend(found.iter().map(Problem::template));
        let made = &*texts;
        fragments.prepare(config, slice, |post| snapshot::versioned_text(made, post));
        let held = &*fragments;
        texts.strip(posts().map(|post| post.source.as_str()), |source, version| held.made_from(source, version));
    }
}

/// `10 feeds (20 files)`: a feed is the site's, a category's or a tag's, one file per format.
pub(crate) fn feeds_and_files(feeds: usize, files: usize) -> String {
    format!("{feeds} feeds ({files} files)")
}

/// How many feeds the feed files at `paths` (`feed/x.xml`, `feed/x.rss`) belong to.
pub(crate) fn feeds_of(paths: &[String]) -> usize {
    let stems: BTreeSet<&str> = paths.iter().map(|p| p.rsplit_once('.').map_or(p.as_str(), |(stem, _)| stem)).collect();
    stems.len()
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::Path;

    use super::*;

    fn config(root: &Path, limit: usize) -> Config {
        let text = format!(
            "[site]\nurl = \"https://example.org\"\n[source]\ndir = \"{}\"\n[output]\ndir = \"{}\"\n[feeds]\nlimit = {limit}\n",
            root.join("site").display(),
            root.join("out").display()
        );
        Config::parse(&text, Path::new("/")).unwrap()
    }

    fn write_post(root: &Path, day: u32, tag: &str) -> PathBuf {
        let path = root.join(format!("site/_posts/2021-01-{day:02}-p{day}.md"));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, format!("---\ntitle: P{day}\ntags: [{tag}]\n---\nBody {day}.\n")).unwrap();
        path
    }

    const P1: &str = "_posts/2021-01-01-p1.md";
    const P2: &str = "_posts/2021-01-02-p2.md";
    const P3: &str = "_posts/2021-01-03-p3.md";
    const P4: &str = "_posts/2021-01-04-p4.md";

    #[test]
    fn site_time_is_the_newest_post_jekyll_would_publish_now() {
        let dir = tempfile::tempdir().unwrap();
        write_post(dir.path(), 2, "a");
        let posts = dir.path().join("site/_posts");
        fs::write(posts.join("2021-03-01-hidden.md"), "---\npublished: false\n---\nx\n").unwrap();
        fs::write(posts.join("2999-01-01-scheduled.md"), "---\ntitle: Later\n---\nx\n").unwrap();
        let build = Build::load(config(dir.path(), 5)).unwrap();
        assert_eq!(build.renderer.site_time().to_rfc3339(), "2021-01-02T00:00:00+00:00");
    }

    #[test]
    fn texts_of_posts_that_left_every_feed_are_dropped_on_updates() {
        let dir = tempfile::tempdir().unwrap();
        write_post(dir.path(), 1, "a");
        let p2 = write_post(dir.path(), 2, "b");
        // One entry per feed: the site feed shows P2, #a shows P1, #b shows P2.
        let mut build = Build::load(config(dir.path(), 1)).unwrap();
        let now = Utc::now();
        let (snapshot, _) = build.render(now, &Snapshot::default(), None, Storage::Heap);
        assert!(build.texts.get(P1).is_some() && build.texts.get(P2).is_some());

        // A newer post in #a: P1 leaves #a, its only feed; P2 leaves the site feed but stays in #b.
        let p3 = write_post(dir.path(), 3, "a");
        let changes = build.refresh(&[p3]);
        let (snapshot, _) = build.render(now, &snapshot, Some(&changes.feeds), Storage::Heap);
        assert!(build.texts.get(P1).is_none(), "the text of a post in no feed is kept");
        assert!(build.texts.get(P2).is_some() && build.texts.get(P3).is_some());
        assert_eq!(fragment_sources(&build), [P2, P3], "the entry bytes of a post in no feed are kept");

        // P2 deleted: #b is kept, empty (it once existed), and P2's text is dropped.
        fs::remove_file(&p2).unwrap();
        let changes = build.refresh(&[p2]);
        let (snapshot, _) = build.render(now, &snapshot, Some(&changes.feeds), Storage::Heap);
        assert_eq!(snapshot.feeds[&FeedKey::Tag("b".into())].entries, 0);
        assert!(build.texts.get(P2).is_none(), "the text of a deleted post is kept");
        assert_eq!(build.texts.len(), 1);
        assert_eq!(fragment_sources(&build), [P3], "the entry bytes of a deleted post are kept");

        // What the updates kept is what a full build of the same tree and feed state keeps.
        let mut fresh = Build::load_with(config(dir.path(), 1), build.lifecycle.clone()).unwrap();
        let (full, _) = fresh.render(now, &Snapshot::default(), None, Storage::Heap);
        assert_eq!(fresh.texts.len(), build.texts.len());
        assert_eq!(full.files.keys().collect::<Vec<_>>(), snapshot.files.keys().collect::<Vec<_>>());
    }

    #[test]
    fn check_neither_reads_nor_writes_the_kept_entries() {
        let dir = tempfile::tempdir().unwrap();
        write_post(dir.path(), 1, "a");
        let text = format!(
            "[site]\nurl = \"https://example.org\"\n[source]\ndir = \"{}\"\n[output]\ndir = \"{}\"\n[state]\ndir = \"{}\"\n",
            dir.path().join("site").display(),
            dir.path().join("out").display(),
            dir.path().join("state").display()
        );
        let config = Config::parse(&text, Path::new("/")).unwrap();
        assert!(Build::load(config.clone()).unwrap().store.is_some(), "regen and serve keep entries");
        let mut build = Build::load_for_check(config).unwrap();
        assert!(build.store.is_none(), "check opened the kept entries");
        build.make_texts(Utc::now());
        assert!(build.texts.get(P1).is_some());
    }

    /// The posts whose entry bytes the build holds, in path order.
    fn fragment_sources(build: &Build) -> Vec<String> {
        let mut sources: Vec<String> = build.fragments.held().map(|(post, ..)| post.source.clone()).collect();
        sources.sort();
        sources
    }

    fn pieces_of<'s>(snapshot: &'s Snapshot, path: &str) -> &'s [bytes::Bytes] {
        snapshot.files[path].body.pieces()
    }

    /// Where the pieces of the entry of `path` that links to `post` are, from its `<entry>` or
    /// `<item>` to its end tag, and their bytes joined.
    fn entry_pieces(snapshot: &Snapshot, path: &str, post: &str) -> (Vec<*const u8>, Vec<u8>) {
        let pieces = pieces_of(snapshot, path);
        let holds = |piece: &bytes::Bytes, needle: &[u8]| memchr::memmem::find(piece, needle).is_some();
        let start = pieces
            .iter()
            .position(|p| (p.starts_with(b"<entry>") || p.starts_with(b"<item>")) && holds(p, post.as_bytes()))
            .unwrap_or_else(|| panic!("{post} not in {path}"));
        let end =
            start + pieces[start..].iter().position(|p| p.ends_with(b"</entry>") || p.ends_with(b"</item>")).unwrap();
        let entry = &pieces[start..=end];
        (entry.iter().map(|p| p.as_ptr()).collect(), entry.concat())
    }

    /// The one piece of `path` that is exactly `needle`.
    fn piece_equal_to<'s>(snapshot: &'s Snapshot, path: &str, needle: &str) -> &'s bytes::Bytes {
        let mut found = pieces_of(snapshot, path).iter().filter(|p| p[..] == *needle.as_bytes());
        let piece = found.next().unwrap_or_else(|| panic!("{needle} not a piece of {path}"));
        assert!(found.next().is_none(), "{needle} twice in {path}");
        piece
    }

    #[test]
    fn feeds_share_the_bytes_of_the_entries_they_both_show_until_the_post_changes() {
        let dir = tempfile::tempdir().unwrap();
        write_post(dir.path(), 1, "a");
        let p2 = write_post(dir.path(), 2, "a");
        let mut build = Build::load(config(dir.path(), 10)).unwrap();
        let now = Utc::now();
        let (first, _) = build.render(now, &Snapshot::default(), None, Storage::Heap);
        for (site, tag, id) in [("feed.xml", "feed/by_tag/a.xml", "<id>"), ("feed.rss", "feed/by_tag/a.rss", "<guid>")]
        {
            // Two feeds, one allocation per entry: P1's and P2's bytes are the same memory in both.
            for post in ["p1.html", "p2.html"] {
                let ((in_site, bytes), (in_tag, _)) =
                    (entry_pieces(&first, site, post), entry_pieces(&first, tag, post));
                assert_eq!(in_site, in_tag, "{post} in {site} and {tag}");
                assert!(memchr::memmem::find(&bytes, id.as_bytes()).is_some(), "{bytes:?}");
            }
            // And the feeds are whole documents that an XML parser reads, entries included.
            let text = String::from_utf8(first.files[site].body.to_bytes().to_vec()).unwrap();
            let doc = roxmltree::Document::parse(&text).unwrap();
            let entries = doc.descendants().filter(|n| matches!(n.tag_name().name(), "entry" | "item")).count();
            assert_eq!(entries, 2, "{text}");
        }

        // An entry's Atom and RSS bytes hold one copy of its escaped content, and of its summary.
        for text in ["&lt;p&gt;Body 1.&lt;/p&gt;", "Body 1."] {
            let (atom, rss) = (piece_equal_to(&first, "feed.xml", text), piece_equal_to(&first, "feed.rss", text));
            assert_eq!(atom.as_ptr(), rss.as_ptr(), "{text}");
            assert_eq!(piece_equal_to(&first, "feed/by_tag/a.rss", text).as_ptr(), atom.as_ptr(), "{text}");
        }

        // P2 edited: its bytes are made again, P1's stay the very same.
        fs::write(&p2, "---\ntitle: P2 again\ntags: [a]\n---\nEdited.\n").unwrap();
        let changes = build.refresh(&[p2]);
        let (second, changed) = build.render(now, &first, Some(&changes.feeds), Storage::Heap);
        assert!(changed.contains(&"feed/by_tag/a.xml".to_string()));
        let (p1, _) = entry_pieces(&first, "feed/by_tag/a.xml", "p1.html");
        assert_eq!(entry_pieces(&second, "feed/by_tag/a.xml", "p1.html").0, p1);
        assert_eq!(entry_pieces(&second, "feed.xml", "p1.html").0, p1);
        let (edited, bytes) = entry_pieces(&second, "feed/by_tag/a.xml", "p2.html");
        assert!(memchr::memmem::find(&bytes, b"P2 again").is_some());
        assert_eq!(edited, entry_pieces(&second, "feed.xml", "p2.html").0);

        // What the updates made is what one full render of the same tree makes, byte for byte.
        assert_full_render(&build, dir.path(), now, &second);
    }

    /// Asserts that `snapshot`, made by `build`'s updates, holds the bytes one full render of the
    /// same tree and feed state makes (feeds of 10 entries), file for file.
    fn assert_full_render(build: &Build, root: &Path, now: DateTime<Utc>, snapshot: &Snapshot) {
        let mut fresh = Build::load_with(config(root, 10), build.lifecycle.clone()).unwrap();
        let (full, _) = fresh.render(now, &Snapshot::default(), None, Storage::Heap);
        for (path, file) in &full.files {
            assert!(snapshot.files[path].body == file.body, "{path}");
        }
    }

    /// The entry contents an XML parser reads in the Atom feed at `path` of `snapshot`.
    fn contents(snapshot: &Snapshot, path: &str) -> Vec<String> {
        let text = String::from_utf8(snapshot.files[path].body.to_bytes().to_vec()).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap();
        doc.descendants().filter(|n| n.has_tag_name("content")).map(|n| n.text().unwrap_or("").to_string()).collect()
    }

    /// A site of P1 and P2, both tagged `a`, loaded with feeds of 10 entries.
    fn two_posts_in_a() -> (tempfile::TempDir, Build) {
        let dir = tempfile::tempdir().unwrap();
        write_post(dir.path(), 1, "a");
        write_post(dir.path(), 2, "a");
        let build = Build::load(config(dir.path(), 10)).unwrap();
        (dir, build)
    }

    /// An entry text made ahead of the update, as [`crate::site::Prefetch`] makes them, from
    /// the bytes with `hash` of the post at `source`, by `renderer`; its content says so.
    fn early_text(renderer: Arc<ContentRenderer>, source: &str, hash: u64) -> Prefetched {
        let text = crate::post::EntryText { content: Some("<p>Made early.</p>".into()), ..Default::default() };
        let mut early = Prefetched::default();
        early.offer_text(crate::site::EarlyText { source: source.into(), hash, renderer, text });
        early
    }

    #[test]
    fn a_text_made_ahead_is_used_only_for_the_bytes_and_the_renderer_it_was_made_with() {
        let (dir, mut build) = two_posts_in_a();
        let now = Utc::now();
        let (mut snapshot, _) = build.render(now, &Snapshot::default(), None, Storage::Heap);
        let p3 = write_post(dir.path(), 3, "a");
        let hash = crate::site::content_hash(&fs::read(&p3).unwrap());
        let shows_early =
            |snapshot: &Snapshot| contents(snapshot, "feed/by_tag/a.xml").iter().any(|c| c.contains("Made early."));

        // Another renderer (`_data` or `_includes` changed since): made again.
        let other = Arc::new(ContentRenderer::new(&build.config, build.site.post_links.clone(), now.fixed_offset()));
        let changes = build.refresh_with(std::slice::from_ref(&p3), early_text(other, P3, hash));
        (snapshot, _) = build.render(now, &snapshot, Some(&changes.feeds), Storage::Heap);
        assert!(!shows_early(&snapshot), "a text made by another renderer was used");

        // Other bytes: made again.
        fs::write(&p3, "---\ntitle: P3\ntags: [a]\n---\nBody 3, edited.\n").unwrap();
        let changes = build.refresh_with(std::slice::from_ref(&p3), early_text(build.renderer(), P3, hash));
        (snapshot, _) = build.render(now, &snapshot, Some(&changes.feeds), Storage::Heap);
        assert!(!shows_early(&snapshot), "a text made from other bytes was used");
        assert!(contents(&snapshot, "feed/by_tag/a.xml").iter().any(|c| c.contains("Body 3, edited.")));

        // A new post, and a text made from its bytes by the build's renderer: used, and counted
        // as made for the state folder.
        let p4 = write_post(dir.path(), 4, "a");
        let hash = crate::site::content_hash(&fs::read(&p4).unwrap());
        let made = build.texts.made_storable();
        let changes = build.refresh_with(std::slice::from_ref(&p4), early_text(build.renderer(), P4, hash));
        (snapshot, _) = build.render(now, &snapshot, Some(&changes.feeds), Storage::Heap);
        let contents = contents(&snapshot, "feed/by_tag/a.xml");
        assert_eq!(contents.iter().filter(|c| c.contains("Made early.")).count(), 1, "{contents:?}");
        assert!(!contents.iter().any(|c| c.contains("Body 4.")), "{contents:?}");
        assert_eq!(build.texts.made_storable(), made + 1);

        // A text offered for a post no feed needs is not kept past the render.
        let p5 = write_post(dir.path(), 5, "a");
        let mut early = early_text(build.renderer(), "_posts/2020-01-01-none.md", 1);
        early.offer_text(crate::site::EarlyText {
            source: "_posts/2020-01-02-none.md".into(),
            hash: 2,
            renderer: build.renderer(),
            text: crate::post::EntryText::default(),
        });
        let changes = build.refresh_with(std::slice::from_ref(&p5), early);
        assert_eq!(build.texts.offers(), 2);
        build.render(now, &snapshot, Some(&changes.feeds), Storage::Heap);
        assert_eq!(build.texts.offers(), 0, "offered texts outlived the render");
    }

    #[test]
    fn the_daemon_keeps_an_entrys_bytes_not_its_text_and_makes_the_text_again_when_it_needs_it() {
        let (dir, mut build) = two_posts_in_a();
        let now = Utc::now();
        let (first, _) = build.render(now, &Snapshot::default(), None, Storage::Heap);
        assert_eq!(build.texts.len(), 2, "the texts' problems are kept");
        assert_eq!(build.texts.bytes(), 0, "a summary or content is kept beside the bytes made from it");

        // A new post in #a: the feeds that show P1 and P2 are made again, from their kept bytes.
        let p3 = write_post(dir.path(), 3, "a");
        let changes = build.refresh(&[p3]);
        let (second, _) = build.render(now, &first, Some(&changes.feeds), Storage::Heap);
        assert_eq!(build.texts.bytes(), 0);
        // Should the entries' bytes ever go while their stripped texts stay, the texts are made
        // again: an entry is never made from a stripped text.
        build.fragments = Fragments::default();
        let (third, _) = build.render(now, &second, None, Storage::Heap);

        for snapshot in [&second, &third] {
            for path in ["feed.xml", "feed/by_tag/a.xml"] {
                let contents = contents(snapshot, path);
                assert_eq!(contents.len(), 3, "{path}: {contents:?}");
                for day in 1..=3 {
                    assert!(contents.iter().any(|c| c.contains(&format!("Body {day}."))), "{path}: {contents:?}");
                }
            }
            assert_full_render(&build, dir.path(), now, snapshot);
        }
    }

    #[test]
    fn a_post_moved_into_the_archive_keeps_its_text_and_entry_bytes_unless_they_depend_on_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        let config = || {
            let text = format!(
                "[site]\nurl = \"https://example.org\"\n[source]\ndir = \"{}\"\narchive = [\"old_post\"]\n\
                 [output]\ndir = \"{}\"\n[feeds]\nlimit = 10\n",
                site.display(),
                dir.path().join("out").display()
            );
            Config::parse(&text, Path::new("/")).unwrap()
        };
        let bodies = [
            ("2021-01-01-plain.md", "Plain body."),
            // Reads its neighbour: `old_post/note.txt` is not `_posts/note.txt`.
            ("2021-01-02-near.md", "Note: {% include_relative note.txt %}"),
            // Its problem names its path, which the move changes.
            ("2021-01-03-broken.md", "Broken {% no_such_tag %} body."),
            // Reads its neighbour through an include, which resolves it from the post's folder.
            ("2021-01-04-via.md", "Via: {% include snip.html %}"),
            // Looks a post up by its path, which the move changes.
            ("2021-01-05-linker.md", "See [the plain one]({% link _posts/2021-01-01-plain.md %})."),
        ];
        fs::create_dir_all(site.join("_posts")).unwrap();
        fs::create_dir_all(site.join("old_post")).unwrap();
        fs::create_dir_all(site.join("_includes")).unwrap();
        for (name, body) in bodies {
            fs::write(site.join("_posts").join(name), format!("---\ntitle: {name}\ntags: [a]\n---\n{body}\n")).unwrap();
        }
        fs::write(site.join("_posts/note.txt"), "written next to the live posts").unwrap();
        fs::write(site.join("old_post/note.txt"), "written next to the archived posts").unwrap();
        fs::write(site.join("_includes/snip.html"), "{% include_relative note.txt %}").unwrap();
        let mut build = Build::load(config()).unwrap();
        let now = Utc::now();
        let (first, _) = build.render(now, &Snapshot::default(), None, Storage::Heap);
        let version_of = |build: &Build, source: &str| build.texts.versioned(source).unwrap().0;
        let before: Vec<u64> = bodies.iter().map(|(name, _)| version_of(&build, &format!("_posts/{name}"))).collect();
        let (plain_atom, _) = entry_pieces(&first, "feed/by_tag/a.xml", "plain.html");
        let (plain_rss, _) = entry_pieces(&first, "feed/by_tag/a.rss", "plain.html");
        assert!(
            contents(&first, "feed/by_tag/a.xml").iter().filter(|c| c.contains("next to the live posts")).count() == 2
        );

        // Moved the way the seed's job moves them: the new file written, the old one removed.
        let mut paths = Vec::new();
        for (name, _) in bodies {
            let (from, to) = (site.join("_posts").join(name), site.join("old_post").join(name));
            fs::rename(&from, &to).unwrap();
            paths.extend([from, to]);
        }
        let changes = build.refresh(&paths);
        let moved: Vec<(String, String)> =
            bodies.iter().map(|(name, _)| (format!("_posts/{name}"), format!("old_post/{name}"))).collect();
        assert_eq!(changes.moved.iter().map(|m| (m.from.clone(), m.to.clone())).collect::<Vec<_>>(), moved);
        let (second, _) = build.render(now, &first, Some(&changes.feeds), Storage::Heap);

        // The plain post's text and its bytes in both formats are the very ones made before the move.
        assert_eq!(version_of(&build, "old_post/2021-01-01-plain.md"), before[0]);
        assert_eq!(entry_pieces(&second, "feed/by_tag/a.xml", "plain.html").0, plain_atom);
        assert_eq!(entry_pieces(&second, "feed/by_tag/a.rss", "plain.html").0, plain_rss);
        assert!(build.texts.get("_posts/2021-01-01-plain.md").is_none());
        // The others are made again at their new paths: the neighbour read is the archive's, the
        // problems name the files where they now are, and the link finds no page at the old path.
        for (k, (name, _)) in bodies.iter().enumerate().skip(1) {
            assert_ne!(version_of(&build, &format!("old_post/{name}")), before[k], "{name}");
        }
        let shown = contents(&second, "feed/by_tag/a.xml");
        assert!(shown.iter().filter(|c| c.contains("next to the archived posts")).count() == 2, "{shown:?}");
        let mut problems: Vec<(String, crate::template::ProblemKind)> =
            build.texts.problems().map(|p| (p.path.clone(), p.kind)).collect();
        problems.sort();
        assert_eq!(
            problems,
            [
                ("old_post/2021-01-03-broken.md".to_string(), crate::template::ProblemKind::UnknownTag),
                ("old_post/2021-01-05-linker.md".to_string(), crate::template::ProblemKind::Link),
            ]
        );

        // And the feeds are what a fresh start on the moved tree makes.
        let mut fresh = Build::load_with(config(), build.lifecycle.clone()).unwrap();
        let (full, _) = fresh.render(now, &Snapshot::default(), None, Storage::Heap);
        assert_eq!(full.files.keys().collect::<Vec<_>>(), second.files.keys().collect::<Vec<_>>());
        for (path, file) in &full.files {
            assert!(second.files[path].body == file.body, "{path}");
        }
    }

    #[test]
    fn an_entry_whose_post_url_finds_another_post_after_an_update_is_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let site = dir.path().join("site");
        let write = |path: &str, text: &str| {
            let path = site.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, text).unwrap();
            path
        };
        // Alone in #a, so that only its lookup can make #a change.
        write(
            "_posts/2021-01-01-l.md",
            "---\ntitle: L\ntags: [a]\n---\nSee [later]({% post_url 2021-01-05-later %}).\n",
        );
        let mut build = Build::load(config(dir.path(), 10)).unwrap();
        let now = Utc::now();
        let (mut snapshot, _) = build.render(now, &Snapshot::default(), None, Storage::Heap);
        let link_in_a = |snapshot: &Snapshot| {
            let text = String::from_utf8(snapshot.files["feed/by_tag/a.xml"].body.to_bytes().to_vec()).unwrap();
            let doc = roxmltree::Document::parse(&text).unwrap();
            let content = doc.descendants().find(|n| n.has_tag_name("content")).unwrap().text().unwrap().to_string();
            let wrapped = format!("<div>{content}</div>");
            let html = roxmltree::Document::parse(&wrapped).unwrap();
            let anchor = html.descendants().find(|n| n.has_tag_name("a"));
            anchor.map(|a| a.attribute("href").unwrap().to_string())
        };
        // No such post yet: the tag is left out (and reported), and the Markdown link's empty
        // target is the post itself, as a reader resolves it against jekyll-feed's `xml:base`.
        assert_eq!(link_in_a(&snapshot).as_deref(), Some("https://example.org/2021/01/01/l.html"));
        assert_eq!(build.texts.problems().count(), 1);

        // The post it names appears, in another feed: #a is made again, and the link is there.
        let later = write("_posts/2021-01-05-later.md", "---\ntitle: Later\ntags: [b]\n---\nLater.\n");
        let steps: [(Vec<PathBuf>, &str); 3] = [
            (vec![later.clone()], "https://example.org/2021/01/05/later.html"),
            // It moves to a folder that changes its URL, not its name.
            (vec![later.clone(), site.join("news")], "https://example.org/news/2021/01/05/later.html"),
            // It goes: the link is the post's own again.
            (vec![site.join("news")], "https://example.org/2021/01/01/l.html"),
        ];
        for (step, (paths, expected)) in steps.into_iter().enumerate() {
            if step == 1 {
                fs::create_dir_all(site.join("news/_posts")).unwrap();
                fs::rename(&later, site.join("news/_posts/2021-01-05-later.md")).unwrap();
            } else if step == 2 {
                fs::remove_dir_all(site.join("news")).unwrap();
            }
            let changes = build.refresh(&paths);
            let (next, _) = build.render(now, &snapshot, Some(&changes.feeds), Storage::Heap);
            snapshot = next;
            assert_eq!(link_in_a(&snapshot).as_deref(), Some(expected), "step {step}");
            assert_eq!(build.texts.problems().count(), usize::from(step == 2), "step {step}");
            assert_full_render(&build, dir.path(), now, &snapshot);
        }
    }

    #[test]
    fn the_daemon_keeps_the_site_feed_in_one_memory_file_and_the_others_in_pieces() {
        let (_dir, mut build) = two_posts_in_a();
        let (snapshot, _) = build.render(Utc::now(), &Snapshot::default(), None, Storage::MemFiles);
        for path in ["feed.xml", "feed.rss"] {
            assert!(snapshot.files[path].memfile().is_some(), "{path}");
            assert_eq!(pieces_of(&snapshot, path).len(), 1, "{path}");
        }
        for path in ["feed/by_tag/a.xml", "feed/by_tag/a.rss"] {
            assert!(snapshot.files[path].memfile().is_none(), "{path}");
            // head, two entries (each around its shared content and summary), tail
            assert_eq!(pieces_of(&snapshot, path).len(), 2 + 2 * 5, "{path}");
        }
    }

    #[test]
    fn an_rss_channel_declares_the_namespaces_its_items_use_and_no_others() {
        let dir = tempfile::tempdir().unwrap();
        let post = |name: &str, front: &str| {
            let path = dir.path().join(format!("site/_posts/{name}.md"));
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, format!("---\n{front}\n---\nBody.\n")).unwrap();
        };
        post("2021-01-01-plain", "title: Plain\ntags: [plain]");
        post("2021-01-02-mailed", "title: Mailed\ntags: [mailed]\nauthor:\n  name: Ann\n  email: ann@example.org");
        post("2021-01-03-pictured", "title: Pictured\ntags: [pictured]\nimage: /img/a.png");
        let mut build = Build::load(config(dir.path(), 10)).unwrap();
        let (snapshot, _) = build.render(Utc::now(), &Snapshot::default(), None, Storage::Heap);
        let declared = |path: &str| {
            let text = String::from_utf8(snapshot.files[path].body.to_bytes().to_vec()).unwrap();
            // roxmltree refuses a prefix that is not declared.
            let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}\n{text}"));
            let mut prefixes: Vec<String> =
                doc.root_element().namespaces().filter_map(|ns| ns.name().map(str::to_string)).collect();
            prefixes.sort();
            prefixes
        };
        assert_eq!(declared("feed/by_tag/plain.rss"), ["atom", "content", "dc"]);
        assert_eq!(declared("feed/by_tag/mailed.rss"), ["atom", "content"]);
        assert_eq!(declared("feed/by_tag/pictured.rss"), ["atom", "content", "dc", "media"]);
        assert_eq!(declared("feed.rss"), ["atom", "content", "dc", "media"]);
        let atom = String::from_utf8(snapshot.files["feed/by_tag/pictured.xml"].body.to_bytes().to_vec()).unwrap();
        let doc = roxmltree::Document::parse(&atom).unwrap();
        let thumbnail = doc.descendants().find(|n| n.tag_name().name() == "thumbnail").unwrap();
        assert_eq!(thumbnail.tag_name().namespace(), Some("http://search.yahoo.com/mrss/"));
        assert!(
            !String::from_utf8_lossy(&snapshot.files["feed/by_tag/plain.xml"].body.to_bytes()).contains("xmlns:media")
        );
    }
}
