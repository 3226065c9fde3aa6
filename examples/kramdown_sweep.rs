//! Corpus sweep: renders every post body of the corpora that has no Liquid with `postfeed::markdown` and
//! with Jekyll's own kramdown converter, and counts the posts whose visible text and link targets agree.
//!
//! ```sh
//! cargo run --release --example kramdown_sweep -- [--corpora DIR] [--only NAME] [--show N]
//! ```
//! Jekyll's output is cached in `target/kramdown-sweep/jekyll.jsonl` (keyed by post and content), so only
//! the first run pays for Ruby (about six minutes for the ~11,000 posts).

#[path = "../tests/kramdown/visible.rs"]
mod visible;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use postfeed::markdown::{render, Options};
use visible::{first_difference, visible};

// As in the postfeed binary, so that timings are the daemon's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Post {
    id: String,
    corpus: String,
    markdown: String,
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned())
}

/// Jekyll's front matter: `---` first, up to the next `---` or `...` line.
fn strip_front_matter(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("---")?;
    let first_end = rest.find('\n')?;
    if !rest[..first_end].trim().is_empty() {
        return None;
    }
    let mut pos = first_end + 1;
    while pos <= rest.len() {
        let end = rest[pos..].find('\n').map_or(rest.len(), |i| pos + i);
        let line = rest[pos..end].trim_end();
        if line == "---" || line == "..." {
            return Some(&rest[(end + 1).min(rest.len())..]);
        }
        if end >= rest.len() {
            break;
        }
        pos = end + 1;
    }
    None
}

fn collect(dir: &Path, corpus: &str, root: &Path, posts: &mut Vec<Post>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, corpus, root, posts);
            continue;
        }
        let in_posts = path.components().any(|c| c.as_os_str() == "_posts");
        let markdown_ext =
            matches!(path.extension().and_then(|e| e.to_str()), Some("md" | "markdown" | "mkd" | "mkdn" | "mkdown"));
        if !in_posts || !markdown_ext {
            continue;
        }
        let Ok(bytes) = fs::read(&path) else { continue };
        let text = String::from_utf8_lossy(&bytes);
        let Some(body) = strip_front_matter(&text) else { continue };
        if body.contains("{%") || body.contains("{{") {
            continue;
        }
        let id = path.strip_prefix(root).unwrap_or(&path).display().to_string();
        posts.push(Post { id, corpus: corpus.to_string(), markdown: body.to_string() });
    }
}

fn key(post: &Post) -> String {
    format!("{}#{:016x}", post.id, xxhash_rust::xxh3::xxh3_64(post.markdown.as_bytes()))
}

/// Jekyll's HTML for every post, from the cache or from one Ruby process for those missing.
fn jekyll_html(posts: &[Post], cache: &Path) -> HashMap<String, String> {
    let mut known: HashMap<String, String> = HashMap::new();
    if let Ok(file) = fs::File::open(cache) {
        for line in BufReader::new(file).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                if let (Some(k), Some(h)) = (v["id"].as_str(), v["html"].as_str()) {
                    known.insert(k.to_string(), h.to_string());
                }
            }
        }
    }
    let missing: Vec<&Post> = posts.iter().filter(|p| !known.contains_key(&key(p))).collect();
    if missing.is_empty() {
        return known;
    }
    eprintln!("rendering {} posts with Jekyll…", missing.len());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kramdown/convert.rb");
    let mut child = Command::new("ruby")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ruby with jekyll is needed for the sweep");
    let mut stdin = child.stdin.take().expect("piped");
    let requests: Vec<String> =
        missing.iter().map(|p| serde_json::json!({"id": key(p), "markdown": p.markdown}).to_string()).collect();
    let writer = std::thread::spawn(move || {
        for request in requests {
            writeln!(stdin, "{request}").expect("ruby reads");
        }
    });
    fs::create_dir_all(cache.parent().expect("cache in a folder")).expect("cache folder");
    let mut out = fs::OpenOptions::new().create(true).append(true).open(cache).expect("cache file");
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        writeln!(out, "{line}").expect("cache written");
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
            if let (Some(k), Some(h)) = (v["id"].as_str(), v["html"].as_str()) {
                known.insert(k.to_string(), h.to_string());
            }
        }
    }
    writer.join().expect("writer thread");
    child.wait().expect("ruby ends");
    known
}

fn main() {
    let corpora = arg("--corpora")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpora"));
    let only = arg("--only");
    let show: usize = arg("--show").and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut posts = Vec::new();
    let mut names: Vec<PathBuf> =
        fs::read_dir(&corpora).expect("corpora folder").filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    for dir in names.iter().filter(|p| p.is_dir()) {
        let corpus = dir.file_name().unwrap_or_default().to_string_lossy().to_string();
        if only.as_ref().is_some_and(|o| !corpus.contains(o.as_str())) {
            continue;
        }
        collect(dir, &corpus, &corpora, &mut posts);
    }
    if let Some(rounds) = arg("--render-only").and_then(|n| n.parse::<usize>().ok()) {
        // For profilers: only our renderer, no Jekyll and no comparison.
        let started = Instant::now();
        for _ in 0..rounds {
            for post in &posts {
                std::hint::black_box(render(&post.markdown, &Options::default()));
            }
        }
        println!("{} renders in {:.2?}", rounds * posts.len(), started.elapsed());
        return;
    }
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/kramdown-sweep/jekyll.jsonl");
    let expected = jekyll_html(&posts, &cache);
    let options = Options::default();
    let mut per_corpus: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut micros = Vec::with_capacity(posts.len());
    let mut baseline_micros = Vec::with_capacity(posts.len());
    let mut shown = 0;
    let mut failures = String::new();
    for post in &posts {
        let Some(jekyll) = expected.get(&key(post)) else { continue };
        // The fastest of three runs, against what postfeed did before (pulldown-cmark's own HTML writer).
        let mut ours = String::new();
        let mut best = f64::MAX;
        let mut best_baseline = f64::MAX;
        for _ in 0..3 {
            let started = Instant::now();
            ours = render(&post.markdown, &options);
            best = best.min(started.elapsed().as_secs_f64() * 1e6);
            let started = Instant::now();
            let mut html = String::new();
            let cmark = pulldown_cmark::Options::ENABLE_TABLES
                | pulldown_cmark::Options::ENABLE_FOOTNOTES
                | pulldown_cmark::Options::ENABLE_STRIKETHROUGH;
            pulldown_cmark::html::push_html(&mut html, pulldown_cmark::Parser::new_ext(&post.markdown, cmark));
            best_baseline = best_baseline.min(started.elapsed().as_secs_f64() * 1e6);
            std::hint::black_box(html);
        }
        micros.push(best);
        baseline_micros.push(best_baseline);
        let (want, got) = (visible(jekyll), visible(&ours));
        let entry = per_corpus.entry(post.corpus.clone()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(want.text == got.text);
        entry.2 += usize::from(want.targets == got.targets);
        if want.text != got.text || want.targets != got.targets {
            failures.push_str(&post.id);
            failures.push('\n');
        }
        if shown < show && (want.text != got.text || want.targets != got.targets) {
            shown += 1;
            println!("--- {}", post.id);
            if want.text != got.text {
                println!("  {}", first_difference(&want.text, &got.text));
            } else {
                let i = want.targets.iter().zip(&got.targets).take_while(|(a, b)| a == b).count();
                println!("  targets: jekyll {:?} / ours {:?}", want.targets.get(i), got.targets.get(i));
            }
        }
    }
    if let Some(path) = arg("--failures") {
        fs::write(path, &failures).expect("failures file written");
    }
    let mut total = (0, 0, 0);
    for (corpus, (n, text, targets)) in &per_corpus {
        println!("{corpus}: {n} posts, visible text identical {text}, links identical {targets}");
        total = (total.0 + n, total.1 + text, total.2 + targets);
    }
    println!("all: {} posts, visible text identical {}, links identical {}", total.0, total.1, total.2);
    micros.sort_by(f64::total_cmp);
    baseline_micros.sort_by(f64::total_cmp);
    if !micros.is_empty() {
        let pct = |v: &[f64], p: f64| v[((v.len() - 1) as f64 * p) as usize];
        println!(
            "render time per post (fastest of 3): median {:.1} µs, p90 {:.1} µs, max {:.1} µs; pulldown-cmark's push_html: median {:.1} µs, p90 {:.1} µs",
            pct(&micros, 0.5),
            pct(&micros, 0.9),
            pct(&micros, 1.0),
            pct(&baseline_micros, 0.5),
            pct(&baseline_micros, 0.9)
        );
    }
}
