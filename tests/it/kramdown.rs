//! `postfeed::markdown` against Jekyll's own kramdown converter (Jekyll's defaults), on Markdown documents
//! written for this test (tests/kramdown/fixtures): every construct of kramdown a post uses, and mixtures
//! of them. Both outputs are read back with an HTML parser (scraper) and compared on what a reader sees
//! (text, link and image targets) and on the structure that matters (ids, IAL classes, abbreviation titles,
//! footnote ids). Jekyll's output comes from running Jekyll, never from a stored copy.

#[path = "../kramdown/visible.rs"]
mod visible;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use postfeed::markdown::{render, Options};
use scraper::{ElementRef, Html, Node};
use visible::{first_difference, visible};

fn jekyll_available() -> bool {
    Command::new("ruby").args(["-rjekyll", "-e", "exit 0"]).output().is_ok_and(|o| o.status.success())
}

/// Renders every document with Jekyll's converter in one Ruby process.
fn jekyll_render(documents: &[(String, String)]) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kramdown/convert.rb");
    let mut child =
        Command::new("ruby").arg(&script).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("ruby starts");
    let mut stdin = child.stdin.take().expect("piped");
    for (id, markdown) in documents {
        writeln!(stdin, "{}", serde_json::json!({"id": id, "markdown": markdown})).expect("ruby reads");
    }
    drop(stdin);
    let stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut html = Vec::new();
    for line in stdout.lines() {
        let reply: serde_json::Value = serde_json::from_str(&line.expect("ruby writes")).expect("JSON from ruby");
        assert!(reply.get("error").is_none(), "Jekyll failed on {}: {}", reply["id"], reply["error"]);
        html.push(reply["html"].as_str().expect("html").to_string());
    }
    assert!(child.wait().expect("ruby ends").success());
    assert_eq!(html.len(), documents.len(), "one answer per document");
    html
}

/// Elements that carry ids, classes or titles, outside code blocks (Rouge's token spans are left out).
fn structure(html: &str) -> Vec<String> {
    const NAMES: &[&str] = &[
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "p",
        "ul",
        "ol",
        "li",
        "dl",
        "dt",
        "dd",
        "table",
        "blockquote",
        "abbr",
        "sup",
        "a",
        "img",
        "div",
        "em",
        "strong",
        "del",
        "section",
        "span",
        "input",
        "figure",
    ];
    let fragment = Html::parse_fragment(html);
    let mut found = Vec::new();
    for node in fragment.tree.root().descendants() {
        let Some(element) = ElementRef::wrap(node) else { continue };
        let inside_pre = element.ancestors().any(|a| matches!(a.value(), Node::Element(e) if e.name() == "pre"));
        let e = element.value();
        if inside_pre || !NAMES.contains(&e.name()) {
            continue;
        }
        let (id, class, title) = (e.attr("id"), e.attr("class"), e.attr("title"));
        if id.is_some() || class.is_some() || title.is_some() {
            found.push(format!("<{} id={:?} class={:?} title={:?}>", e.name(), id, class, title));
        }
    }
    found
}

#[test]
fn documents_render_as_jekylls_kramdown_renders_them() {
    if !jekyll_available() {
        eprintln!("\n*** skipped: ruby with jekyll not installed ***\n");
        return;
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kramdown/fixtures");
    let mut documents: Vec<(String, String)> = fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .map(|p| (p.file_name().unwrap().to_string_lossy().to_string(), fs::read_to_string(&p).expect("fixture")))
        .collect();
    documents.sort();
    assert!(documents.len() >= 12, "the fixtures are there");
    let expected = jekyll_render(&documents);
    let options = Options::default();
    let mut failures = Vec::new();
    for ((name, markdown), jekyll) in documents.iter().zip(&expected) {
        let ours = render(markdown, &options);
        let (want, got) = (visible(jekyll), visible(&ours));
        if want.text != got.text {
            failures.push(format!("{name}: visible text differs\n  {}", first_difference(&want.text, &got.text)));
        }
        if want.targets != got.targets {
            failures
                .push(format!("{name}: link targets differ\n  jekyll {:?}\n    ours {:?}", want.targets, got.targets));
        }
        let (want, got) = (structure(jekyll), structure(&ours));
        if want != got {
            let i = want.iter().zip(&got).take_while(|(a, b)| a == b).count();
            failures.push(format!(
                "{name}: structure differs at {i}\n  jekyll {:?}\n    ours {:?}",
                want.get(i),
                got.get(i)
            ));
        }
    }
    assert!(failures.is_empty(), "{} difference(s):\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn smartify_matches_jekylls_filter() {
    if !jekyll_available() {
        eprintln!("\n*** skipped: ruby with jekyll not installed ***\n");
        return;
    }
    let titles = [
        r#"The "Best" Post -- Ever..."#,
        "It's the '90s <<again>>",
        "Tom & Jerry's <em>\"cartoon\"</em> &amp; more",
        r#"他说"你好" --- 'ok'"#,
        "(\"paren\") [\"bracket\"] -\"dash\"",
        "",
    ];
    let script = r#"
        require "jekyll"; require "json"
        site = Jekyll::Site.new(Jekyll.configuration({"quiet" => true, "source" => Dir.pwd}))
        smarty = site.find_converter_instance(Jekyll::Converters::SmartyPants)
        STDIN.each_line { |l| puts JSON.generate(smarty.convert(JSON.parse(l))) }
    "#;
    let tmp = tempfile::tempdir().unwrap();
    let mut child = Command::new("ruby")
        .args(["-e", script])
        .current_dir(tmp.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("ruby starts");
    let mut stdin = child.stdin.take().unwrap();
    for title in titles {
        writeln!(stdin, "{}", serde_json::Value::String(title.to_string())).unwrap();
    }
    drop(stdin);
    let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap()).lines().map(Result::unwrap).collect();
    child.wait().unwrap();
    assert_eq!(lines.len(), titles.len());
    for (title, line) in titles.iter().zip(lines) {
        let jekyll: String = serde_json::from_str(&line).unwrap();
        assert_eq!(postfeed::markdown::smartify(title), jekyll, "smartify({title:?})");
    }
}
