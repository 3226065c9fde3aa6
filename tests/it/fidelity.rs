//! What a reader sees inside each entry, against real `jekyll build` with jekyll-feed on the same
//! site: the visible text of the content, its link and image targets, the title, the summary and
//! the author. The sites are in `tests/fixtures/sites/`; postfeed reads them with no config file,
//! from their `_config.yml` alone. Expectations come from running Jekyll, never from a stored copy
//! of its output.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;

use feed_rs::model::{Entry, Text};
use scraper::{Html, Node};
use url::Url;

use crate::support::{self, link, read_feed};

fn jekyll_with_plugins() -> bool {
    Command::new("ruby")
        .args(["-e", "require 'jekyll'; require 'jekyll-feed'; require 'jekyll-include-cache'"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Elements a reader shows as blocks: their text never runs into the text beside them.
const BLOCKS: [&str; 30] = [
    "p",
    "div",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "td",
    "th",
    "pre",
    "blockquote",
    "figure",
    "figcaption",
    "br",
    "hr",
    "section",
    "details",
    "summary",
    "footer",
];

/// The text a reader shows for an HTML fragment: tags dropped, references decoded, block edges
/// kept as spaces, whitespace runs collapsed.
pub fn visible_text(html: &str) -> String {
    let fragment = Html::parse_fragment(html);
    let mut text = String::new();
    fn walk(node: ego_tree::NodeRef<'_, Node>, text: &mut String) {
        match node.value() {
            Node::Text(t) => text.push_str(t),
            Node::Element(e) => {
                if matches!(e.name(), "script" | "style" | "template") {
                    return;
                }
                let block = BLOCKS.contains(&e.name());
                if block {
                    text.push(' ');
                }
                for child in node.children() {
                    walk(child, text);
                }
                if block {
                    text.push(' ');
                }
            }
            _ => {
                for child in node.children() {
                    walk(child, text);
                }
            }
        }
    }
    walk(fragment.tree.root(), &mut text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every link and image target in an HTML fragment, resolved against the entry's own URL.
fn targets(html: &str, base: &Url) -> Vec<String> {
    let fragment = Html::parse_fragment(html);
    let mut out = Vec::new();
    for node in fragment.tree.nodes() {
        let Some(e) = node.value().as_element() else { continue };
        let attr = match e.name() {
            "a" => "href",
            "img" => "src",
            _ => continue,
        };
        if let Some(value) = e.attr(attr) {
            out.push(base.join(value.trim()).map(String::from).unwrap_or_else(|_| value.to_string()));
        }
    }
    out
}

/// What a reader shows for a title or summary: HTML when the feed says so, else text as it is.
fn shown(text: Option<&Text>) -> String {
    match text {
        None => String::new(),
        Some(t) if t.content_type.subty() == "html" => visible_text(&t.content),
        Some(t) => t.content.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

/// One entry as a reader sees it.
#[derive(Debug, PartialEq)]
struct Seen {
    title: String,
    text: String,
    targets: Vec<String>,
    /// `None` when the entry has no summary: jekyll-feed writes an empty one for a post whose
    /// excerpt has no text, and none for a front-matter `excerpt: ""`.
    summary: Option<String>,
    author: (String, Option<String>, Option<String>),
}

fn seen(entry: &Entry) -> Seen {
    let base = Url::parse(link(entry)).expect("entry links are absolute");
    let html = entry.content.as_ref().and_then(|c| c.body.clone()).unwrap_or_default();
    let author = entry.authors.first().map(|p| (p.name.trim().to_string(), p.email.clone(), p.uri.clone()));
    Seen {
        title: shown(entry.title.as_ref()),
        text: visible_text(&html),
        targets: targets(&html, &base),
        summary: entry.summary.as_ref().map(|summary| shown(Some(summary))),
        author: author.unwrap_or_default(),
    }
}

/// Entries by id.
type Entries = BTreeMap<String, Seen>;

/// Builds `site` with jekyll and with postfeed and returns each side's entries by id.
fn build_both(name: &str) -> Option<(Entries, Entries, support::Run)> {
    if !jekyll_with_plugins() {
        eprintln!("\n*** skipped: jekyll with jekyll-feed and jekyll-include-cache is not installed ***\n");
        return None;
    }
    let tmp = tempfile::Builder::new().prefix("postfeed-fidelity-").tempdir().unwrap();
    let site = tmp.path().join("site");
    support::copy_dir(&support::repo_root().join("tests/fixtures/sites").join(name), &site);
    let built = Command::new("jekyll")
        .args(["build", "--disable-disk-cache", "--quiet"])
        .current_dir(&site)
        .output()
        .expect("jekyll runs");
    assert!(
        built.status.success(),
        "jekyll build failed:\n{}{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    let theirs = read_feed(&site.join("_site/feed.xml"));
    fs::remove_dir_all(site.join("_site")).unwrap();

    let out = tmp.path().join("out");
    // Run where there is no config.toml: the site's _config.yml alone configures postfeed.
    let output = Command::new(env!("CARGO_BIN_EXE_postfeed"))
        .arg("regen")
        .arg("--source")
        .arg(&site)
        .arg("--output")
        .arg(&out)
        .current_dir(tmp.path())
        .env_remove("RUST_LOG")
        .output()
        .expect("postfeed runs");
    let run = support::Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    run.assert_code(0);
    let ours = read_feed(&out.join("feed.xml"));
    // The feed's own author is compared too, as a pseudo-entry with nothing else.
    let by_id = |feed: &feed_rs::model::Feed| {
        let mut entries = feed.entries.iter().map(|e| (e.id.clone(), seen(e))).collect::<BTreeMap<_, _>>();
        let author = feed.authors.first().map(|p| (p.name.trim().to_string(), p.email.clone(), p.uri.clone()));
        let empty = || String::new();
        let feed_author = Seen {
            title: empty(),
            text: empty(),
            targets: Vec::new(),
            summary: None,
            author: author.unwrap_or_default(),
        };
        entries.insert("(the feed itself)".to_string(), feed_author);
        entries
    };
    Some((by_id(&theirs.feed), by_id(&ours.feed), run))
}

/// A difference from jekyll-feed that postfeed makes on purpose, as the README names it.
struct Deliberate {
    id_ends_with: &'static str,
    field: &'static str,
    /// What jekyll-feed shows, and what postfeed shows instead.
    theirs: &'static str,
    ours: &'static str,
}

/// Compares every entry field by field; a difference is allowed only where `deliberate` names it
/// exactly.
#[track_caller]
fn assert_same_entries(name: &str, deliberate: &[Deliberate]) {
    let Some((theirs, ours, run)) = build_both(name) else { return };
    assert_eq!(
        theirs.keys().collect::<Vec<_>>(),
        ours.keys().collect::<Vec<_>>(),
        "{name}: the entry ids differ\n{run}"
    );
    let mut differences = Vec::new();
    for (id, expected) in &theirs {
        let actual = &ours[id];
        let fields: [(&str, String, String); 5] = [
            ("title", expected.title.clone(), actual.title.clone()),
            ("text", expected.text.clone(), actual.text.clone()),
            ("targets", format!("{:?}", expected.targets), format!("{:?}", actual.targets)),
            ("summary", format!("{:?}", expected.summary), format!("{:?}", actual.summary)),
            ("author", format!("{:?}", expected.author), format!("{:?}", actual.author)),
        ];
        for (field, want, got) in fields {
            if want == got {
                continue;
            }
            let allowed = deliberate.iter().any(|d| {
                id.ends_with(d.id_ends_with)
                    && d.field == field
                    && want.replace(d.theirs, d.ours) == got
                    && want.contains(d.theirs)
            });
            if !allowed {
                differences.push(format!("{id} {field}:\n  jekyll-feed: {want}\n  postfeed:    {got}"));
            }
        }
    }
    assert!(differences.is_empty(), "{name}: {} differences\n{}\n{run}", differences.len(), differences.join("\n"));
}

#[test]
fn liquid_site_entries_read_as_jekyll_feed_writes_them() {
    assert_same_entries("liquid", &[]);
}

#[test]
fn liquid2_site_entries_read_as_jekyll_feed_writes_them() {
    assert_same_entries("liquid2", &[]);
}

#[test]
fn liquid3_site_entries_read_as_jekyll_feed_writes_them() {
    assert_same_entries("liquid3", &[]);
}

#[test]
fn liquid4_site_entries_read_as_jekyll_feed_writes_them() {
    assert_same_entries("liquid4", &[]);
}

#[test]
fn kramdown_site_entries_read_as_jekyll_feed_writes_them() {
    assert_same_entries("kramdown", &[]);
}

#[test]
fn kramdown2_site_entries_read_as_jekyll_feed_writes_them() {
    assert_same_entries("kramdown2", &[]);
}

/// Blank lines after the front matter, CRLF line ends (no excerpt cut), `#` lines with no header
/// text, a code span wrapped before a `:symbol`, links with an empty target.
#[test]
fn kramdown3_site_entries_read_as_jekyll_feed_writes_them() {
    assert_same_entries("kramdown3", &[]);
}

/// `{% link %}` to pages, collection documents and static files, not only to posts.
#[test]
fn links_to_pages_documents_and_files_read_as_jekyll_feed_writes_them() {
    assert_same_entries("links", &[]);
}

#[test]
fn authors_and_summaries_read_as_jekyll_feed_writes_them() {
    assert_same_entries("authors", &[]);
}

/// Dates Jekyll reads with Ruby's `Time.parse` (`June 2, 2020`, `2016-03-21 12:00 EDT`,
/// `2017-09-27 (optional)`) give the entry jekyll-feed's id and link, and no warning.
#[test]
fn dates_written_as_people_write_them_read_as_jekyll_reads_them() {
    assert_same_entries("dates", &[]);
    let Some((_, _, run)) = build_both("dates") else { return };
    assert!(!run.stderr.contains("is not a date"), "{run}");
}

#[test]
fn visible_text_keeps_block_edges_and_decodes_references() {
    assert_eq!(visible_text("<p>a&amp;b</p><p>c <em>d</em>e</p>"), "a&b c de");
    assert_eq!(visible_text("<ul><li>x</li><li>y</li></ul>tail"), "x y tail");
    assert_eq!(visible_text("<script>alert(1)</script>shown"), "shown");
    assert!(Path::new(&support::repo_root().join("tests/fixtures/sites/liquid/_config.yml")).is_file());
}
