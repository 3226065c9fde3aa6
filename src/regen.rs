//! `postfeed regen` and `postfeed check`: one full build, written out or only checked.

use std::time::Instant;

use anyhow::Result;
use chrono::Utc;

use crate::build::Build;
use crate::config::Config;
use crate::problem::{self, CheckFormat, Counts, Reporter};

/// Reads the tree, reports the posts' problems on stderr, and writes every feed.
pub fn regen(config: &Config) -> Result<()> {
    let started = Instant::now();
    let mut build = Build::load(config.clone())?;
    Reporter::Regen.report(problem::post_problems(&build.site));
    let writing = Instant::now();
    // Each feed is written as soon as it is rendered, and its bytes dropped: the same bytes
    // `serve` renders, without holding all of them at once.
    let (stats, feeds, files) = build.render_to_folder(Utc::now())?;
    Reporter::Regen.report(build.take_problems());
    tracing::debug!("rendered and wrote {files} files in {:?} ({})", writing.elapsed(), crate::logging::memory());
    build.site.wait_for_index();
    println!(
        "postfeed: {}: {} written, {} unchanged, {} removed in {} ({:.0} ms)",
        build.summary(feeds, files),
        stats.written,
        stats.unchanged,
        stats.removed,
        config.output_dir.display(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    // A one-shot command: freeing 100,000 posts one by one would take most of a second, and the
    // process is about to end anyway.
    std::mem::forget(build);
    Ok(())
}

/// Reads the tree and makes the entries' texts without rendering a feed, and prints every problem
/// of the posts, their templates and the category and tag names on stdout in `format`, with a
/// count on stderr; returns the counts.
pub fn check(config: &Config, format: CheckFormat) -> Result<Counts> {
    let mut build = Build::load_for_check(config.clone())?;
    let mut problems = problem::post_problems(&build.site);
    problems.extend(problem::name_problems(&build.site, &build.config.feeds.paths));
    // The entries' Liquid is run (no feed is rendered) to find what their templates lack.
    build.make_texts(Utc::now());
    problems.extend(build.take_problems());
    let counts = Reporter::Check(format).report(problems);
    build.site.wait_for_index();
    eprintln!(
        "postfeed check: {} posts read; {} errors, {} notes",
        build.site.post_count(),
        counts.errors,
        counts.notes
    );
    Ok(counts)
}
