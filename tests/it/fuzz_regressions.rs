//! Inputs the fuzzers found, and the seeds they start from (tests/fixtures/fuzz/), replayed with
//! the fuzz targets' checks: each post parses or fails with a typed error, its content carries
//! nothing runnable, and its feeds parse and carry nothing runnable either; each request
//! (`http_request-*`) gets an allowed answer, nothing but feeds and pages is served, and no page
//! carries anything runnable. The `xss-*` files are seeds written for the fuzzers, in the shapes
//! that XSS filter-evasion lists catalogue.

use std::path::Path;
use std::sync::Arc;

use postfeed::config::Config;
use postfeed::feed::{atom, rss, FeedInput, FeedKey};
use postfeed::template::NoIndex;
use postfeed::{post, ContentRenderer};

use crate::markup::{unsafe_feed, unsafe_markup};

#[path = "../common/http_request.rs"]
mod http_request;

#[test]
fn every_saved_fuzz_input_is_handled() {
    let config = Config::parse(
        "[site]\nurl = \"https://news.example.com/base\"\ntimezone = \"Asia/Shanghai\"\n",
        Path::new("/nonexistent-postfeed-site"),
    )
    .unwrap();
    let renderer = ContentRenderer::new(&config, Arc::new(NoIndex), chrono::DateTime::UNIX_EPOCH.fixed_offset());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        seen += 1;
        for source in ["_posts/2021-12-24-a.md", "cat/_posts/2021-12-24-b.html"] {
            let Ok(p) = post::parse(source, &bytes, &config.site) else { continue };
            let text = renderer.entry_text(&p, &bytes).expect("a post that parsed has entry text");
            let html = text.content.clone().unwrap_or_default();
            assert_eq!(unsafe_markup(&html), None, "{}: {html}", path.display());
            let posts = vec![Arc::new(p)];
            let texts = vec![Arc::new(text)];
            let input = FeedInput { key: &FeedKey::Site, config: &config, entries: &posts, texts: &texts };
            for bytes in [atom::render(&input), rss::render(&input)] {
                let feed = feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert_eq!(feed.entries.len(), 1, "{}", path.display());
                assert_eq!(unsafe_feed(&bytes), None, "{}", path.display());
            }
        }
    }
    assert!(seen > 0, "no saved inputs in {}", dir.display());
}

#[test]
fn every_saved_request_is_answered() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let expected = [
        ("http_request-negotiated-conditional-get.txt", 200),
        ("http_request-cjk-path-if-modified-since.txt", 304),
        ("http_request-escaped-traversal.txt", 404),
        ("http_request-post-to-a-page.txt", 405),
        ("http_request-asterisk-form.txt", 400),
    ];
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("http_request-") {
            continue;
        }
        seen += 1;
        let status = http_request::answer_and_check(&std::fs::read(&path).unwrap())
            .unwrap_or_else(|| panic!("{name}: not a request line the fuzz target reads"));
        if let Some((_, want)) = expected.iter().find(|(n, _)| *n == name) {
            assert_eq!(status.as_u16(), *want, "{name}");
        }
    }
    assert!(seen >= expected.len(), "saved requests missing from {}", dir.display());
}

#[test]
fn the_check_finds_what_a_browser_would_run() {
    assert!(unsafe_markup("<p><script>x</script>").is_some());
    assert!(unsafe_markup("<SCRIPT\tsrc=x>").is_some());
    assert!(unsafe_markup("<a href=\" java\tscript:x()\">a</a>").is_some());
    assert!(unsafe_markup("<img src=x onerror=alert(1)>").is_some());
    assert!(unsafe_markup("engin<scripteering effort").is_none());
    assert!(unsafe_markup("<layout: on>").is_none());
    assert!(unsafe_markup("<style+0800 the<script x>").is_none());
    assert!(unsafe_markup("&lt;script&gt;").is_none());
    assert!(unsafe_markup("<svg><a xlink:href=\"&#x6a;avascript:x()\">a</a></svg>").is_some());
    assert!(unsafe_markup("<a title=\"x\" href=\"&#106;avascript:x()\">a</a>").is_some());
    assert!(unsafe_markup("<img srcset=\"a.png 1x, data:image/svg+xml,x 2x\">").is_some());
    assert!(unsafe_markup("<iframe srcdoc=\"x\"></iframe>").is_some());
    assert!(unsafe_markup("<b srcdoc=\"x\">b</b>").is_some());
    assert!(unsafe_markup("<p style=\"width: exp/**/ression(x)\">p</p>").is_some());
    assert!(unsafe_markup("<form><input></form>").is_some());
    assert!(unsafe_markup("<p style=\"color: red\" title=\"javascript is fun\">p</p>").is_none());
    assert!(unsafe_markup("<a href=\"https://x.org/data:x\">a</a>").is_none());
}
