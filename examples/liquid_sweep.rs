//! Liquid engine tool: `sweep DIR…` renders every post under the given Jekyll sites and counts
//! what is left and what was reported; `bench` times Liquid-heavy and Liquid-free entries.
//!
//! cargo run --release --example liquid_sweep -- sweep ../shared/corpora/*/
//! cargo run --release --example liquid_sweep -- bench
//! cargo run --example liquid_sweep -- render < templates   (separated by lines `====`)

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use liquid_core::model::Value;
use liquid_core::Object;
use postfeed::template::{self, Engine, Entry, Files, IncludeError, SiteContext, SiteFiles};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("sweep") => args[1..].iter().for_each(|dir| sweep(Path::new(dir))),
        Some("bench") => bench(),
        Some("render") => render_stdin(),
        _ => eprintln!("usage: liquid_sweep sweep DIR… | bench | render < templates"),
    }
}

/// Front matter (as a Liquid object) and the body with its first line.
fn split(text: &str) -> Option<(Object, &str, u32)> {
    let rest = text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n"))?;
    let end = rest.find("\n---")?;
    let yaml = &rest[..end];
    let after = &rest[end + 4..];
    let body = after.find('\n').map_or("", |i| &after[i + 1..]);
    let line = 4 + yaml.matches('\n').count() as u32;
    let object = match serde_yaml::from_str::<serde_yaml::Value>(yaml).map(template::from_yaml) {
        Ok(Value::Object(o)) => o,
        _ => Object::new(),
    };
    Some((object, body, line))
}

/// Replaces what is inside `{% raw %}…{% endraw %}` so that text shown on purpose is not counted.
fn without_raw_bodies(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(start) = find_tag(rest, "raw") {
        let open_end = start + rest[start..].find("%}").map_or(rest.len() - start, |e| e + 2);
        out.push_str(&rest[..open_end]);
        match find_tag(&rest[open_end..], "endraw") {
            Some(close) => {
                out.push_str("RAW");
                rest = &rest[open_end + close..];
            }
            None => {
                rest = &rest[open_end..];
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

fn find_tag(text: &str, name: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = text[from..].find("{%") {
        let at = from + i;
        let inner = text[at + 2..].trim_start_matches('-').trim_start();
        if inner.starts_with(name) && inner[name.len()..].trim_start().starts_with(['%', '-']) {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

fn sweep(root: &Path) {
    let config: Object = std::fs::read_to_string(root.join("_config.yml"))
        .ok()
        .and_then(|t| serde_yaml::from_str::<serde_yaml::Value>(&t).ok())
        .map(template::from_yaml)
        .and_then(|v| match v {
            Value::Object(o) => Some(o),
            _ => None,
        })
        .unwrap_or_default();
    let text = |key: &str| config.get(key).map(|v| liquid_core::ValueView::to_kstr(v).to_string()).unwrap_or_default();
    let mut site = SiteContext::empty(&text("url"), &text("baseurl"));
    let (data, data_problems) = template::load_data(root);
    site.config = config;
    site.data = data;
    site.files = Arc::new(SiteFiles::new(root, 1 << 20));
    let engine = Engine::new(site);

    let mut posts = 0;
    let mut with_liquid = 0;
    let mut left = Vec::new();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut examples: BTreeMap<&str, String> = BTreeMap::new();
    let started = Instant::now();
    for entry in walkdir::WalkDir::new(root).into_iter().filter_map(Result::ok) {
        let path = entry.path();
        let relative = path.strip_prefix(root).unwrap_or(path).to_string_lossy().replace('\\', "/");
        if !entry.file_type().is_file() || !relative.split('/').any(|c| c == "_posts") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(path) else { continue };
        let Some((mut page, body, line)) = split(&text) else { continue };
        posts += 1;
        if body.contains("{{") || body.contains("{%") {
            with_liquid += 1;
        }
        page.insert("path".into(), Value::scalar(relative.clone()));
        let body = without_raw_bodies(body);
        let rendered = engine.render(&Entry { path: &relative, body: &body, body_line: line, page });
        if rendered.output.contains("{{") || rendered.output.contains("{%") {
            left.push(relative.clone());
        }
        for problem in &rendered.problems {
            let kind = problem.kind.name();
            *kinds.entry(kind).or_default() += 1;
            examples.entry(kind).or_insert_with(|| problem.to_string());
        }
    }
    println!("{}: {posts} posts, {with_liquid} with Liquid, rendered in {:.2?}", root.display(), started.elapsed());
    println!("  posts with {{{{ or {{% left outside raw: {}", left.len());
    for path in left.iter().take(5) {
        println!("    {path}");
    }
    println!("  data problems: {}", data_problems.len());
    for (kind, count) in &kinds {
        println!("  {kind}: {count} (e.g. {})", examples[kind]);
    }
}

/// Includes held in memory, for the benchmark.
struct MemFiles(BTreeMap<&'static str, &'static str>);

impl Files for MemFiles {
    fn include(&self, name: &str) -> Result<Arc<str>, IncludeError> {
        self.0.get(name).map(|s| Arc::from(*s)).ok_or(IncludeError::NotFound)
    }
    fn include_relative(&self, _post: &str, _name: &str) -> Result<Arc<str>, IncludeError> {
        Err(IncludeError::NotFound)
    }
}

const HEAVY: &str = r#"Intro with {{ page.title }} on {{ site.title }}.
{% include figure.html src="/img/a.png" alt="First" caption=page.title %}
{% for p in site.data.people %}{% include person.html name=p.name role=p.role %}{% endfor %}
{% assign editors = site.data.people | where: "role", "editor" | sort: "name" %}
<p>{{ editors | map: "name" | array_to_sentence_string }}</p>
{% highlight rust %}
fn main() { println!("{}", 1 < 2 && true); }
{% endhighlight %}
<p>{{ page.date | date: "%B %-d, %Y" }} · {{ page.title | slugify }} · <a href="{{ "/about/" | relative_url }}">about</a></p>
{% include figure.html src="/img/b.png" alt="Second" %}
{% if page.tags contains "rust" %}<p>rusty</p>{% endif %}
"#;

/// CPU time this process has used (user + system), less disturbed by other load than wall time.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

fn median_micros(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(|a, b| a.total_cmp(b));
    runs[runs.len() / 2]
}

fn bench() {
    let mut site = SiteContext::empty("https://example.org", "/blog");
    site.config.insert("title".into(), Value::scalar("Bench"));
    let people: Vec<Value> = (0..20)
        .map(|i| {
            let mut o = Object::new();
            o.insert("name".into(), Value::scalar(format!("Person {i}")));
            o.insert("role".into(), Value::scalar(if i % 3 == 0 { "editor" } else { "writer" }));
            Value::Object(o)
        })
        .collect();
    site.data.insert("people".into(), Value::Array(people));
    site.files = Arc::new(MemFiles(BTreeMap::from([
        ("figure.html", "<figure><img src=\"{{ include.src | relative_url }}\" alt=\"{{ include.alt }}\">{% if include.caption %}<figcaption>{{ include.caption }}</figcaption>{% endif %}</figure>"),
        ("person.html", "<li>{{ include.name | escape }} ({{ include.role | upcase }})</li>"),
    ])));
    let engine = Engine::new(site);
    let mut page = Object::new();
    page.insert("title".into(), Value::scalar("A Liquid-heavy post"));
    page.insert(
        "date".into(),
        Value::scalar(liquid_core::model::DateTime::from_str("2024-05-06 07:08:09 +0000").expect("date")),
    );
    page.insert("tags".into(), Value::Array(vec![Value::scalar("rust")]));
    let plain = "A post without Liquid. ".repeat(150);
    for (name, body) in [
        ("liquid-heavy (2 includes + 20 in a data loop, where/sort, highlight, filters)", HEAVY),
        ("no Liquid (3.4 KB, fast path)", plain.as_str()),
    ] {
        let rendered =
            engine.render(&Entry { path: "_posts/2024-05-06-bench.md", body, body_line: 4, page: page.clone() });
        assert!(rendered.problems.is_empty(), "{:?}", rendered.problems);
        let cpu_before = cpu_seconds();
        let runs: Vec<f64> = (0..2000)
            .map(|_| {
                let started = Instant::now();
                let rendered = engine.render(&Entry {
                    path: "_posts/2024-05-06-bench.md",
                    body,
                    body_line: 4,
                    page: page.clone(),
                });
                std::hint::black_box(rendered);
                started.elapsed().as_secs_f64() * 1e6
            })
            .collect();
        let cpu = (cpu_seconds() - cpu_before) / 2000.0 * 1e6;
        println!(
            "{name}: median {:.1} µs per entry over {} runs (CPU time {cpu:.1} µs per entry)",
            median_micros(runs),
            2000
        );
    }
    println!("includes parsed: {}", engine.cached_includes());
}

/// Renders each template read from stdin (separated by `====` lines) with an empty site whose
/// url is `https://ex.org` and baseurl `/blog`, and prints the output as a quoted string.
fn render_stdin() {
    let mut input = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut input).expect("stdin");
    let engine = Engine::new(SiteContext::empty("https://ex.org", "/blog"));
    for template in input.split("\n====\n") {
        let mut page = Object::new();
        page.insert("title".into(), Value::scalar("T"));
        let rendered = engine.render(&Entry { path: "x.html", body: template, body_line: 1, page });
        println!("{:?}", rendered.output);
    }
}
