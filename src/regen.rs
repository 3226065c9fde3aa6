//! `postfeed regen` and `postfeed check`: one full build, written out or only checked.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::Result;
use chrono::Utc;

use crate::build::Build;
use crate::config::Config;
use crate::feed::FeedKey;
use crate::output::WriteStats;

/// Summary of a `regen` run, also printed.
pub struct RegenReport {
    pub posts_read: usize,
    pub skipped: usize,
    pub stats: WriteStats,
}

pub fn regen(config: &Config) -> Result<RegenReport> {
    let started = Instant::now();
    let mut build = Build::load(config.clone())?;
    let site = &build.site;
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
    let (posts_read, skipped) = (site.post_count(), site.problems().count());
    let (stats, files) = build.render_to_folder(Utc::now())?;
    tracing::debug!("rendered and wrote {files} files in {:?} ({})", writing.elapsed(), crate::logging::memory());
    let report = RegenReport { posts_read, skipped, stats };
    // A one-shot command: freeing 100,000 posts one by one would take most of a second, and the
    // process is about to end anyway.
    std::mem::forget(build);
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
    let built = Build::load(config.clone())?;
    let mut lines: Vec<String> = built.site.problems().map(|p| p.to_string()).collect();
    for post in built.site.posts() {
        lines.extend(post.warnings.iter().map(|w| format!("{}: {w}", post.source)));
    }
    let mut by_path: BTreeMap<String, Vec<&FeedKey>> = BTreeMap::new();
    for key in built.site.index_keys() {
        by_path.entry(key.stem()).or_default().push(key);
    }
    for (path, keys) in by_path.iter().filter(|(_, k)| k.len() > 1) {
        lines.push(format!("{path}: names share one feed path: {keys:?}"));
    }
    for key in built.site.index_keys() {
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
