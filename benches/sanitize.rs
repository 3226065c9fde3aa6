//! Cost of an entry's content: Liquid, kramdown, links made absolute, and sanitizing, per entry.
//! `cargo bench --bench sanitize -- DIR...` reads every post under each `DIR`'s `_posts`
//! folders, renders each body with and without sanitizing (`feeds.sanitize`), `--runs` times
//! (default 15), timing this thread's CPU time, and prints the median per entry of each and of their difference (taken per run).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use postfeed::config::Config;
use postfeed::post::{self, Post};
use postfeed::template::NoIndex;
use postfeed::ContentRenderer;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).filter(|a| a != "--bench").collect();
    let runs = match args.iter().position(|a| a == "--runs") {
        Some(i) => {
            let n = args.get(i + 1).and_then(|n| n.parse().ok()).expect("--runs N");
            args.drain(i..i + 2);
            n
        }
        None => 15,
    };
    for dir in &args {
        let config = |sanitize: bool| {
            let text = format!("[site]\nurl = \"https://bench.example.org/blog\"\n[source]\ndir = \"{dir}\"\n[feeds]\nsanitize = {sanitize}\n");
            Config::parse(&text, Path::new("/")).expect("config")
        };
        let renderer = |sanitize: bool| {
            ContentRenderer::new(&config(sanitize), Arc::new(NoIndex), chrono::DateTime::UNIX_EPOCH.fixed_offset())
        };
        let (trusting, sanitizing) = (renderer(false), renderer(true));
        let posts = load(Path::new(dir), &config(true));
        let bytes: usize = posts.iter().map(|(_, body)| body.len()).sum();
        // Each run measures both, one after the other, so that load from elsewhere on a shared
        // machine shifts both alike; the difference is taken per run.
        let pairs: Vec<(Duration, Duration)> =
            (0..runs).map(|_| (render(&posts, &trusting), render(&posts, &sanitizing))).collect();
        let plain = median(pairs.iter().map(|p| p.0).collect());
        let sanitized = median(pairs.iter().map(|p| p.1).collect());
        let difference = median(pairs.iter().map(|p| p.1.saturating_sub(p.0)).collect());
        let per_entry = |d: Duration| d.as_secs_f64() * 1e6 / posts.len() as f64;
        println!(
            "{dir}: {} entries, {:.1} KB per body; per entry (median of {runs}): {:.1} µs unsanitized, {:.1} µs sanitized, sanitizing {:.1} µs ({:.2} µs/KB)",
            posts.len(),
            bytes as f64 / posts.len() as f64 / 1024.0,
            per_entry(plain),
            per_entry(sanitized),
            per_entry(difference),
            difference.as_secs_f64() * 1e6 / (bytes as f64 / 1024.0),
        );
    }
}

fn load(dir: &Path, config: &Config) -> Vec<(Post, Vec<u8>)> {
    let mut posts = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name().into_iter().filter_map(Result::ok) {
        let path = entry.path();
        if !entry.file_type().is_file() || !path.components().any(|c| c.as_os_str() == "_posts") {
            continue;
        }
        let source = path.strip_prefix(dir).unwrap_or(path).to_string_lossy().into_owned();
        let Ok(bytes) = std::fs::read(path) else { continue };
        if let Ok(p) = post::parse(&source, &bytes, &config.site) {
            posts.push((p, bytes));
        }
    }
    assert!(!posts.is_empty(), "no posts under {}", dir.display());
    posts
}

fn render(posts: &[(Post, Vec<u8>)], renderer: &ContentRenderer) -> Duration {
    let started = thread_cpu_time();
    let mut total = 0;
    for (p, bytes) in posts {
        total += std::hint::black_box(renderer.content_html(p, bytes)).map_or(0, |html| html.len());
    }
    std::hint::black_box(total);
    thread_cpu_time() - started
}

/// CPU time of this thread: on a machine shared with other work, wall time counts their turns too.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is always available on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}
