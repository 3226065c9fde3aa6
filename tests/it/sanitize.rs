//! Entry HTML that no reader can be attacked through, one class of filter evasion per test: each
//! hostile body is published by `postfeed regen` as a Markdown and as an HTML post, and every
//! feed written is read back with feed-rs and its entries parsed by html5ever, as a browser
//! would (`tests/common/markup.rs`). Each of these tests failed on the lol_html sanitizer it
//! replaces. Text fields are checked the same way: decoded once, escaped once.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use feed_rs::model::{Entry, Feed};

use crate::markup::{unsafe_feed, unsafe_markup};
use crate::support::{self, content, post, terms, title, tree, Run, Settings, Workspace};

/// What `regen` wrote for a site of one hostile post, as a `.md` and as a `.html` file.
struct Published {
    run: Run,
    out: PathBuf,
    _ws: Workspace,
}

impl Published {
    fn feeds(&self) -> BTreeMap<String, Vec<u8>> {
        tree(&self.out).into_iter().filter(|(rel, _)| rel.ends_with(".xml") || rel.ends_with(".rss")).collect()
    }

    fn site_feed(&self, format: &str) -> Feed {
        support::read_feed(&self.out.join(format!("feed.{format}"))).feed
    }
}

fn publish(front_matter: &str, body: &str, extra_config: &str) -> Published {
    let text = post(front_matter, body);
    let ws = Workspace::with_posts(&[
        ("_posts/2021-03-01-as-markdown.md", text.as_str()),
        ("_posts/2021-03-02-as-html.html", text.as_str()),
    ]);
    let (config, out) = ws.config("run", &Settings::default());
    if !extra_config.is_empty() {
        let mut toml = fs::read_to_string(&config).expect("config");
        toml.push_str(extra_config);
        fs::write(&config, toml).expect("config written");
    }
    let run = support::regen(&config);
    run.assert_code(0);
    Published { run, out, _ws: ws }
}

fn fixture(name: &str) -> String {
    let path = support::repo_root().join("tests/fixtures/fuzz").join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Publishes the seed file `name` (front matter and body) and asserts that no feed carries
/// anything runnable, and that both posts are in the site feed with the text `kept`.
#[track_caller]
fn assert_nothing_runnable(name: &str, kept: &str) -> Published {
    let text = fixture(name);
    let rest = text.strip_prefix("---\n").expect("front matter");
    let (front_matter, body) = rest.split_once("\n---\n").expect("closed front matter");
    let published = publish(front_matter, body, "");
    let feeds = published.feeds();
    assert!(feeds.len() >= 2, "{feeds:?}\n{}", published.run);
    for (rel, bytes) in &feeds {
        assert_eq!(unsafe_feed(bytes), None, "{name}: {rel}");
    }
    for format in ["xml", "rss"] {
        let feed = published.site_feed(format);
        assert_eq!(feed.entries.len(), 2, "{name}: feed.{format}");
        for entry in &feed.entries {
            assert!(content(entry).contains(kept), "{name}: {kept:?} lost from {:?}", content(entry));
        }
    }
    published
}

/// The first bypass of the issue: the old rewriter stopped on the parse ambiguity of
/// `<select><xmp>` and published the whole body unchanged, script and all.
#[test]
fn select_xmp_before_a_script_does_not_switch_sanitizing_off() {
    assert_nothing_runnable("xss-select-xmp-before-script.md", "Intro paragraph.");
}

/// The second bypass: `xlink:href="&#x6a;avascript:…"` on an SVG link was not decoded before the
/// scheme check. SVG and MathML are dropped whole now.
#[test]
fn svg_link_with_an_encoded_javascript_scheme_is_removed() {
    let published = assert_nothing_runnable("xss-svg-xlink-encoded-scheme.md", "");
    for bytes in published.feeds().values() {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("xlink") && !text.contains("svg"), "{text}");
    }
}

/// noscript, xmp, template, namespace confusion between HTML, SVG and MathML, mglyph and
/// malignmark, and the other raw-text elements.
#[test]
fn mutation_xss_shapes_leave_nothing_runnable() {
    assert_nothing_runnable("xss-mutation-namespaces.md", "");
}

/// Schemes hidden by decimal, hexadecimal (with and without `;`) and named references, by
/// whitespace and control characters, in `href`, `src`, `srcset` and Markdown links.
#[test]
fn encoded_and_whitespace_split_schemes_are_removed() {
    let published = assert_nothing_runnable("xss-encoded-and-split-schemes.md", "hex, no semicolons");
    for format in ["xml", "rss"] {
        for entry in &published.site_feed(format).entries {
            let html = content(entry);
            assert!(html.contains("<a>decimal</a>") && !html.contains("srcset"), "{html}");
        }
    }
}

#[test]
fn unclosed_tags_and_comments_leave_nothing_runnable() {
    assert_nothing_runnable("xss-unclosed-tags-and-comments.md", "");
}

/// `</script` (and `</style`, `</div`) inside attribute values stays text in the value.
#[test]
fn script_end_tags_inside_attributes_stay_inside() {
    assert_nothing_runnable("xss-script-end-in-attributes.md", "x</a>");
}

/// objects, forms, `poster`, `srcdoc`, CSS `expression(`, `base`, `meta` refresh, `link`, every
/// `on*` handler, `background`.
#[test]
fn elements_and_attributes_off_the_allowlist_are_removed() {
    // The link's text survives: as a link in the HTML post, as text in the Markdown one (kramdown
    // reads `<a … ONMOUSEOVER=alert(16)>` as text: its attribute pattern refuses the parentheses).
    assert_nothing_runnable("xss-elements-and-attributes.md", "handlers");
}

/// What Jekyll's Markdown and highlighter write, and what pulldown-cmark writes, reaches readers
/// with its ids, classes and roles (footnotes and highlighting keep working).
#[test]
fn footnotes_and_highlighting_survive_sanitizing() {
    let body = r##"<p>Claim<sup id="fnref:1" role="doc-noteref"><a href="#fn:1" class="footnote" rel="footnote">1</a></sup>.</p>
<div class="language-ruby highlighter-rouge"><div class="highlight"><pre class="highlight"><code><span class="k">def</span> <span class="nf">run</span></code></pre></div></div>
<figure class="highlight"><pre><code class="language-rust" data-lang="rust"><span class="k">fn</span> main</code></pre></figure>
<table class="rouge-table"><tbody><tr><td class="gutter gl"><pre class="lineno">1</pre></td><td class="code"><pre>x</pre></td></tr></tbody></table>
<h2 id="usage">Usage</h2>
<div class="footnotes" role="doc-endnotes"><ol><li id="fn:1" role="doc-endnote"><p>Note. <a href="#fnref:1" class="reversefootnote" role="doc-backlink">&#8617;</a></p></li></ol></div>
"##;
    let published = publish("title: Kramdown", body, "");
    for format in ["xml", "rss"] {
        for entry in &published.site_feed(format).entries {
            let html = scraper::Html::parse_fragment(content(entry));
            for selector in [
                "sup#fnref\\:1[role=doc-noteref] > a.footnote[rel=footnote][href$='#fn:1']",
                "div.language-ruby.highlighter-rouge > div.highlight > pre.highlight > code > span.k",
                "figure.highlight > pre > code.language-rust[data-lang=rust] > span.k",
                "table.rouge-table td.gutter.gl > pre.lineno",
                "table.rouge-table td.code > pre",
                "h2#usage",
                "div.footnotes[role=doc-endnotes] li#fn\\:1[role=doc-endnote] a.reversefootnote[role=doc-backlink]",
            ] {
                let parsed = scraper::Selector::parse(selector).expect("selector");
                assert!(html.select(&parsed).next().is_some(), "{selector} not in {}", content(entry));
            }
        }
    }
}

/// `feeds.sanitize = false`: content is left as written, except that links are made absolute.
#[test]
fn sanitize_false_keeps_content_and_still_absolutizes_links() {
    let body = r#"<p onclick="x()">hi<script>alert(1)</script><a href="/about/">a</a><img src="i.png"></p>"#;
    let published = publish("title: Trusted", body, "[feeds]\nsanitize = false\n");
    let entry = &published.site_feed("xml").entries[0];
    let html = content(entry);
    assert!(html.contains("<script>alert(1)</script>") && html.contains(r#"onclick="x()""#), "{html}");
    assert!(html.contains(r#"href="https://blog.example.org/about/""#), "{html}");
    assert!(html.contains(r#"src="https://blog.example.org/2021/03/0"#), "{html}");
    assert!(unsafe_markup(html).is_some(), "the oracle sees the script");
}

fn author(entry: &Entry) -> String {
    entry.authors.first().map(|a| a.name.clone()).unwrap_or_default()
}

fn summary(entry: &Entry) -> String {
    entry.summary.as_ref().map(|s| s.content.clone()).unwrap_or_default()
}

/// Titles, summaries, author names and category and tag names decode every HTML5 reference,
/// then are escaped once: a reader shows `Café — ok`, not `Caf&eacute; &mdash; ok`.
#[test]
fn text_fields_decode_every_reference_in_both_formats() {
    let published = publish(
        "title: Caf&eacute; &mdash; ok\ndescription: \"&ldquo;Na&iuml;ve&rdquo; caf&eacute &hellip; &#x4e2d;&#25991;\"\nauthor: Jos&eacute; &amp; Ana\ncategories: [\"caf&eacute;\"]\ntags: [\"&euro;uro\", \"R&amp;D\"]",
        "Body.",
        "",
    );
    for format in ["xml", "rss"] {
        let feed = published.site_feed(format);
        assert_eq!(feed.entries.len(), 2);
        for entry in &feed.entries {
            assert_eq!(title(entry), "Café — ok", "feed.{format}");
            assert_eq!(summary(entry), "“Naïve” café … 中文", "feed.{format}");
            assert_eq!(author(entry), "José & Ana", "feed.{format}");
            assert_eq!(terms(entry), ["café", "€uro", "R&D"], "feed.{format}");
            // The permalink is built from the names as Jekyll has them, as before.
            assert!(support::link(entry).contains("/caf&eacute;/2021/03/0"), "{}", support::link(entry));
        }
    }
}

/// A summary is plain text; RSS puts it in `description`, which readers show as HTML, so there
/// it is escaped as HTML too. Text about markup stays text about markup.
#[test]
fn summaries_about_markup_stay_text_in_rss() {
    let published = assert_nothing_runnable("xss-text-fields.md", "Second paragraph.");
    let atom = published.site_feed("xml");
    let rss = published.site_feed("rss");
    for (atom_entry, rss_entry) in atom.entries.iter().zip(&rss.entries) {
        // Atom: a text construct, read back as the text itself.
        assert_eq!(summary(atom_entry), "<script>alert(2)</script> & <img src=x onerror=alert(3)>", "Atom summary");
        // RSS: HTML, whose text is the same.
        let text: String = scraper::Html::parse_fragment(&summary(rss_entry)).root_element().text().collect();
        assert_eq!(text, summary(atom_entry), "RSS description {:?}", summary(rss_entry));
        assert_eq!(title(atom_entry), "Café — <img src=x onerror=alert(1)>");
    }
}

/// RSS says nothing of whether a title, a name or a category is text or HTML, and many readers
/// show them as HTML. Those that could be read as markup go escaped once as HTML: read back with
/// an independent XML parser and then parsed as HTML, no element is left in any of them (the
/// title written `&lt;img src=x onerror=…&gt;` used to reach the reader as an `img`), and the
/// text is the Atom feed's text. Text that HTML shows as it is goes unchanged.
#[test]
fn rss_text_fields_are_never_markup() {
    let published = assert_nothing_runnable("xss-text-fields.md", "Second paragraph.");
    let as_html = |text: &str| {
        let fragment = scraper::Html::parse_fragment(text);
        let elements = fragment.root_element().descendants().filter(|n| n.value().is_element()).count();
        // The fragment's own `html` element is the one element there always is.
        assert_eq!(elements, 1, "{text:?} is markup when read as HTML");
        fragment.root_element().text().collect::<String>()
    };
    let mut seen = Vec::new();
    for (rel, bytes) in published.feeds().into_iter().filter(|(rel, _)| rel.ends_with(".rss")) {
        let text = String::from_utf8(bytes).expect("UTF-8");
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{rel}: {e}"));
        for node in doc.descendants().filter(|n| {
            matches!(n.tag_name().name(), "title" | "category" | "creator" | "author")
                || (n.tag_name().name() == "description" && n.parent().is_some_and(|p| p.has_tag_name("channel")))
        }) {
            seen.push(as_html(node.text().unwrap_or_default()));
        }
    }
    let atom = published.site_feed("xml");
    let entry = &atom.entries[0];
    for text in [title(entry), author(entry)].into_iter().chain(terms(entry)) {
        assert!(seen.contains(&text), "{text:?} is not shown by any RSS field: {seen:?}");
    }
    assert!(seen.iter().any(|t| t.ends_with(" · <script>")), "a category feed's title: {seen:?}");
    // Text that HTML shows unchanged is written unchanged: `R&D` stays `R&D`.
    let rss = String::from_utf8(fs::read(published.out.join("feed.rss")).expect("feed.rss")).expect("UTF-8");
    assert!(rss.contains("<category>R&amp;D</category>"), "{rss}");
    assert!(rss.contains("<title>Café — &amp;lt;img src=x onerror=alert(1)&amp;gt;</title>"), "{rss}");
}

/// html5ever logs "foster parenting not implemented" for text misplaced in a table (which it
/// does handle); a post's markup must not fill the log with it.
#[test]
fn misplaced_table_text_is_not_logged() {
    let published = publish("title: Tables", "<table>stray text<tr><td>x</td></tr></table>", "");
    assert!(published.run.stderr.trim().is_empty(), "{}", published.run);
    let entry = &published.site_feed("xml").entries[0];
    assert!(content(entry).contains("stray text") && content(entry).contains("<td>x</td>"), "{}", content(entry));
}
