//! What a browser shows: feeds opened in headless Chromium (Debian's `chromium`) become pages
//! through postfeed's XSLT stylesheet, and nothing a post says can run in them. The rendered DOM
//! is read with scraper (html5ever) and compared with the feed as feed-rs reads it.

use std::fs;
use std::path::Path;
use std::process::Command;

use scraper::{Html, Selector};

use crate::support::{self, post, Daemon, Settings, Workspace};

/// Chromium's binary, as Debian names it.
const CHROMIUM: &str = "chromium";

/// The DOM Chromium builds for `url`, serialized (`--dump-dom`), after any XSLT. Each run has its
/// own profile folder, so tests can run side by side.
pub(crate) fn dump_dom(url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile folder");
    let out = Command::new("timeout")
        .arg("120")
        .arg(CHROMIUM)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .expect("chromium runs (apt-get install chromium)");
    assert!(out.status.success(), "chromium failed on {url}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("the DOM is UTF-8")
}

fn select(dom: &Html, css: &str) -> Vec<String> {
    let selector = Selector::parse(css).unwrap();
    dom.select(&selector).map(|e| e.text().collect::<String>().trim().to_string()).collect()
}

/// A site whose second post tries to get markup and script into the page through its title and
/// summary, and a daemon serving it.
fn hostile_site() -> (Workspace, Daemon) {
    let ws = Workspace::with_posts(&[
        (
            "_posts/2024-05-01-plain.md",
            post("title: A plain post\ndate: 2024-05-01 09:00:00 +0800\ndescription: Nothing to see.", "Body."),
        ),
        (
            "_posts/2024-05-02-hostile.md",
            post(
                "title: \"&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt; Tom &amp; Jerry\"\n\
                 date: 2024-05-02 09:00:00 +0800\n\
                 description: \"&lt;script&gt;alert(2)&lt;/script&gt; &lt;a href=&quot;javascript:alert(3)&quot;&gt;x&lt;/a&gt; &amp;amp; &lt;b onclick=alert(4)&gt;\"",
                "Body.",
            ),
        ),
    ]);
    let (config, _) = ws.config("browser", &Settings::default());
    let daemon = Daemon::start(&config);
    (ws, daemon)
}

/// Nothing in `dom` can run but the stylesheet's own copy-button script (its text is the one in
/// `xsl`): no other script element, no event-handler attribute, no link or source other than
/// http(s), no frame or object.
#[track_caller]
fn assert_inert(dom: &Html, xsl: &str, page: &str) {
    let own_script = xsl.split_once("<script>").and_then(|(_, rest)| rest.split_once("</script>")).unwrap().0;
    for element in dom.root_element().descendants().filter_map(scraper::ElementRef::wrap) {
        let name = element.value().name();
        if name == "script" {
            assert_eq!(element.text().collect::<String>(), own_script, "a script not the stylesheet's in {page}");
            continue;
        }
        assert!(!["iframe", "object", "embed", "img", "frame"].contains(&name), "<{name}> in {page}");
        for (attr, value) in element.value().attrs() {
            assert!(!attr.to_ascii_lowercase().starts_with("on"), "{attr}={value:?} on <{name}> in {page}");
            if matches!(attr, "href" | "src" | "action") {
                assert!(value.starts_with("https://") || value.starts_with("http://"), "{attr}={value:?} in {page}");
            }
        }
    }
}

#[test]
fn feeds_open_in_chromium_as_readable_pages_atom_and_rss() {
    let (_ws, daemon) = hostile_site();
    let xsl = daemon.get("/feed.xsl").text();
    let atom = support::parse_feed(&daemon.get("/feed.xml").body).unwrap().feed;
    let summaries: Vec<String> =
        atom.entries.iter().map(|e| e.summary.as_ref().map(|s| s.content.clone()).unwrap_or_default()).collect();
    assert!(summaries.iter().any(|s| s.contains("<script>alert(2)</script>")), "{summaries:?}");
    for path in ["/feed.xml", "/feed.rss"] {
        let feed = support::parse_feed(&daemon.get(path).body).unwrap().feed;
        let url = format!("http://{}{path}", daemon.addr());
        let html = dump_dom(&url);
        let dom = Html::parse_document(&html);
        let title = feed.title.as_ref().map(|t| t.content.clone()).unwrap();
        assert_eq!(select(&dom, "h1#feed-title"), std::slice::from_ref(&title), "{path}: {html}");
        assert_eq!(title, "Test Blog");
        // RSS holds a title that could be read as markup escaped once more as HTML; the page
        // shows the text, the Atom feed's.
        let entry_titles: Vec<String> = atom.entries.iter().map(support::title).collect();
        assert_eq!(select(&dom, "li.entry h2"), entry_titles, "{path}: {html}");
        // Titles are smartified as jekyll-feed does (`'` becomes `’`); the markup stays text.
        assert!(entry_titles.iter().any(|t| t.contains("<script>document.title=’pwned’</script>")), "{entry_titles:?}");
        // Entry titles link to the posts.
        let links: Vec<String> = dom
            .select(&Selector::parse("li.entry h2 a").unwrap())
            .map(|a| a.value().attr("href").unwrap().to_string())
            .collect();
        let posts: Vec<String> = feed.entries.iter().map(|e| e.links[0].href.clone()).collect();
        assert_eq!(links, posts, "{path}");
        // The subscribe address is the feed's own.
        let own = format!("https://blog.example.org{path}");
        assert_eq!(select(&dom, "#subscribe-url"), [own], "{path}");
        // Summaries as text, equal to the plain summary (RSS holds it escaped once more).
        assert_eq!(select(&dom, "li.entry .summary"), summaries, "{path}: {html}");
        assert_eq!(select(&dom, "li.entry time").len(), entry_titles.len(), "{path}");
        assert!(select(&dom, "li.entry time")[0].starts_with("2024-05-02") || path.ends_with(".rss"));
        assert_inert(&dom, &xsl, path);
        assert_eq!(select(&dom, "script").len(), 1, "{path}");
        // The same, judged by the browser-eyed checker against the feed's own policy.
        let policy = daemon
            .request("GET", path, &[("accept", "text/html")])
            .expect_header("content-security-policy")
            .to_string();
        assert_eq!(crate::markup::unsafe_page_under(&html, &policy), None, "{path}");
        assert!(select(&dom, "title")[0] != "pwned", "{path}: a script ran");
    }
}

#[test]
fn category_and_tag_feeds_find_the_stylesheet_from_their_folder() {
    let ws = Workspace::with_posts(&[(
        "news/_posts/2024-05-01-tagged.md",
        post("title: Tagged post\ndate: 2024-05-01 09:00:00 +0800\ntags: [荆州]", "Body."),
    )]);
    let (config, _) = ws.config("nested", &Settings::default());
    let daemon = Daemon::start(&config);
    for path in ["/feed/news.xml", "/feed/by_tag/%E8%8D%86%E5%B7%9E.rss"] {
        let dom = Html::parse_document(&dump_dom(&format!("http://{}{path}", daemon.addr())));
        let title = select(&dom, "h1#feed-title");
        assert!(title.len() == 1 && title[0].starts_with("Test Blog · "), "{path}: {title:?}");
        assert_eq!(select(&dom, "li.entry h2"), ["Tagged post"], "{path}");
    }
}

#[test]
fn stylesheet_is_served_and_written_like_a_feed() {
    let (ws, daemon) = hostile_site();
    let response = daemon.get("/feed.xsl");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/xsl; charset=utf-8"));
    assert_eq!(response.header("content-security-policy"), Some("default-src 'none'"));
    assert_eq!(response.header("cache-control"), Some("public, max-age=300"));
    assert!(response.header("etag").is_some() && response.header("last-modified").is_some());
    let xsl = response.text();
    roxmltree::Document::parse(&xsl).expect("the stylesheet is well-formed XML");
    assert!(!xsl.contains("disable-output-escaping"));
    // A browser gets the feed as XML with a policy that lets the page use the stylesheet only;
    // a feed reader gets the feed type.
    let browser = daemon.request("GET", "/feed.xml", &[("accept", "text/html,application/xml;q=0.9,*/*;q=0.8")]);
    assert_eq!(browser.header("content-type"), Some("application/xml; charset=utf-8"));
    let policy = browser.expect_header("content-security-policy");
    assert!(policy.starts_with("default-src 'none'; style-src 'sha256-") && !policy.contains("unsafe"), "{policy}");
    let reader = daemon.request("GET", "/feed.xml", &[("accept", "application/atom+xml")]);
    assert_eq!(reader.header("content-type"), Some("application/atom+xml; charset=utf-8"));
    assert_eq!(browser.body, reader.body);

    // serve writes it to its output folder, and regen writes the same stylesheet, and feeds
    // with the instruction.
    let served_out = ws.root().join("out-browser");
    daemon.wait_for("serve to write feed.xsl", support::CHANGE_WAIT, || {
        fs::read_to_string(served_out.join("feed.xsl")).ok().filter(|text| *text == xsl)
    });
    let (config, output) = ws.config("regen", &Settings::default());
    support::regen(&config).assert_code(0);
    assert_eq!(fs::read_to_string(output.join("feed.xsl")).unwrap(), xsl);
    let feed = fs::read_to_string(output.join("feed.rss")).unwrap();
    assert!(feed.contains("<?xml-stylesheet type=\"text/xsl\" href=\"feed.xsl\"?>"), "{feed}");
    assert_eq!(feed.as_bytes(), &daemon.get("/feed.rss").body[..]);
}

fn without_browser_view(config: &Path) {
    let mut text = fs::read_to_string(config).unwrap();
    text += "[feeds]\nbrowser_view = false\n";
    fs::write(config, text).unwrap();
}

#[test]
fn browser_view_off_means_no_instruction_and_no_stylesheet() {
    let ws = Workspace::with_posts(&[("_posts/2024-05-01-a.md", post("title: A\ndate: 2024-05-01", "Body."))]);
    let (config, output) = ws.config("off", &Settings::default());
    // On first: the folder holds the stylesheet; turned off, regen removes it.
    support::regen(&config).assert_code(0);
    assert!(output.join("feed.xsl").is_file());
    without_browser_view(&config);
    support::regen(&config).assert_code(0);
    assert!(!output.join("feed.xsl").exists());
    for (rel, bytes) in support::tree(&output) {
        assert!(!String::from_utf8_lossy(&bytes).contains("xml-stylesheet"), "{rel}");
    }
    let daemon = Daemon::start(&config);
    assert_eq!(daemon.get("/feed.xsl").status, 404);
    let browser = daemon.request("GET", "/feed.xml", &[("accept", "text/html")]);
    assert_eq!(browser.header("content-type"), Some("application/atom+xml; charset=utf-8"));
    assert_eq!(browser.header("content-security-policy"), None);
    assert!(!browser.text().contains("xml-stylesheet"));
    assert!(support::parse_feed(&browser.body).is_ok());
}
