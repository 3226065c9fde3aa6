//! `postfeed regen` and `postfeed check`: one full build, written out or only checked.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use chrono::Utc;

use crate::config::Config;
use crate::feed::FeedKey;
use crate::site::Site;
use crate::snapshot::{self, ContentCache, Snapshot, Storage, WriteStats};

/// The outcome of a full build.
pub struct Build {
    /// The time the feeds were rendered for: posts dated after it are not in them yet.
    pub now: chrono::DateTime<Utc>,
    pub site: Site,
    pub snapshot: Snapshot,
    pub cache: ContentCache,
}

/// Reads the whole tree and renders every feed, as `regen` and the daemon's first build do.
pub fn build(config: &Config, storage: Storage) -> Result<Build> {
    let site = load_site(config)?;
    let mut cache = ContentCache::default();
    let now = Utc::now();
    let started = std::time::Instant::now();
    let (snapshot, _) = snapshot::render(&site, config, now, &Snapshot::default(), None, &mut cache, storage);
    tracing::debug!(
        "rendered {} files, {} bytes, from {} entry texts of {} bytes, in {:?} ({})",
        snapshot.files.len(),
        snapshot.files.values().map(|f| f.bytes.len()).sum::<usize>(),
        cache.len(),
        cache.bytes(),
        started.elapsed(),
        crate::logging::memory()
    );
    Ok(Build { now, site, snapshot, cache })
}

fn load_site(config: &Config) -> Result<Site> {
    if !config.source_dir.is_dir() {
        bail!("source folder {} does not exist or is not a folder", config.source_dir.display());
    }
    Site::load(config).with_context(|| format!("cannot read source folder {}", config.source_dir.display()))
}

/// Summary of a `regen` run, also printed.
pub struct RegenReport {
    pub posts_read: usize,
    pub skipped: usize,
    pub stats: WriteStats,
}

pub fn regen(config: &Config) -> Result<RegenReport> {
    let started = Instant::now();
    let site = load_site(config)?;
    for problem in site.problems() {
        eprintln!("warning: skipped {problem}");
    }
    let mut warnings: Vec<String> =
        site.posts().flat_map(|p| p.warnings.iter().map(move |w| format!("{}: {w}", p.source))).collect();
    warnings.sort();
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    let writing = Instant::now();
    // Each feed is written as soon as it is rendered, and its bytes dropped: the same bytes
    // `serve` renders with `build`, without holding all of them at once.
    let (stats, files) = snapshot::render_to_folder(&site, config, Utc::now(), &config.output_dir)?;
    tracing::debug!("rendered and wrote {files} files in {:?} ({})", writing.elapsed(), crate::logging::memory());
    let report = RegenReport { posts_read: site.post_count(), skipped: site.problems().count(), stats };
    // A one-shot command: freeing 100,000 posts one by one would take most of a second, and the
    // process is about to end anyway.
    std::mem::forget(site);
    println!(
        "postfeed: {} posts read, {} skipped; {} feeds written, {} unchanged, {} removed in {} ({:.0} ms)",
        report.posts_read,
        report.skipped,
        stats.written,
        stats.unchanged,
        stats.removed,
        config.output_dir.display(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    Ok(report)
}

/// Every problem, one line each, sorted; the number of them is returned.
pub fn check(config: &Config) -> Result<usize> {
    let built = build(config, Storage::Heap)?;
    let mut lines: Vec<String> = built.site.problems().map(|p| p.to_string()).collect();
    for post in built.site.posts() {
        lines.extend(post.warnings.iter().map(|w| format!("{}: {w}", post.source)));
    }
    let mut by_path: BTreeMap<String, Vec<&FeedKey>> = BTreeMap::new();
    for key in built.site.taxonomy_names() {
        by_path.entry(key.stem()).or_default().push(key);
    }
    for (path, keys) in by_path.iter().filter(|(_, k)| k.len() > 1) {
        lines.push(format!("{path}: names share one feed path: {keys:?}"));
    }
    for key in built.site.taxonomy_names() {
        let (kind, name) = match key {
            FeedKey::Category(n) => ("category", n),
            FeedKey::Tag(n) => ("tag", n),
            FeedKey::Site => continue,
        };
        let stem = key.stem();
        if !stem.ends_with(name.as_str()) {
            lines.push(format!("{kind} {name:?}: not a plain name, its feed is {stem}.xml"));
        }
    }
    lines.sort();
    for line in &lines {
        println!("{line}");
    }
    Ok(lines.len())
}
