//! JSON Feed 1.1 (`feeds.formats = ["json"]`): every JSON feed `regen` writes and `serve` serves
//! is read back twice, as plain JSON (`serde_json::Value`) against each MUST of the JSON Feed 1.1
//! spec, and by feed-rs, whose entries must equal those of the Atom feed of the same site.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use chrono::DateTime;
use serde_json::Value;

use crate::serve::{index_feed_paths, opml_feed_paths};
use crate::support::{self, post, tree, Daemon, Workspace, CHANGE_WAIT};

const SITE_URL: &str = "https://blog.example.org/news";
const HUB: &str = "https://hub.example.net/publish";

/// The base posts plus one with every field an entry can carry: an author with a page and one
/// with only an e-mail address, an image, a pinned id, a later update, and a tag whose feed path
/// is a safe segment with a hash (`C++`).
fn workspace() -> Workspace {
    let mut posts: Vec<(&str, String)> = support::base_posts();
    posts.push((
        "_posts/2021-03-04-everything.md",
        post(
            "title: \"Everything & more\"\ndate: 2021-03-04 12:00:00 +0800\nlast_modified_at: 2021-03-05 08:00:00 +0800\ncategories: news\ntags: [C++, alpha]\nauthor:\n  name: Ann Writer\n  uri: https://ann.example.org/\nimage: /img/cover.png\nid: tag:blog.example.org,2021:everything\ndescription: A summary of everything.",
            "Everything, with <b>bold</b> text.",
        ),
    ));
    posts.push((
        "_posts/2021-03-05-mailed.md",
        post(
            "title: Mailed\ndate: 2021-03-05 12:00:00 +0800\nauthor:\n  name: Bo\n  email: bo@example.org",
            "Mailed body.",
        ),
    ));
    Workspace::with_posts(&posts)
}

/// A config `<name>.toml` writing to `out-<name>`, with `feeds` lines in `[feeds]` and the hub.
fn config(ws: &Workspace, name: &str, feeds: &str) -> (PathBuf, PathBuf) {
    let path = ws.root().join(format!("{name}.toml"));
    let output = ws.root().join(format!("out-{name}"));
    let text = format!(
        "[site]\nurl = \"{SITE_URL}\"\ntitle = \"Test <Blog>\"\ndescription = \"About things\"\nauthor = \"Site Author\"\nlanguage = \"zh_CN\"\ntimezone = \"Asia/Shanghai\"\n[source]\ndir = {}\n[output]\ndir = {}\n[feeds]\n{feeds}\n[websub]\nhubs = [\"{HUB}\"]\n[server]\nquiet_ms = 100\n",
        support::toml_str(&ws.site().to_string_lossy()),
        support::toml_str(&output.to_string_lossy()),
    );
    fs::write(&path, text).expect("config written");
    (path, output)
}

const ALL_FORMATS: &str = "formats = [\"atom\", \"rss\", \"json\"]";

/// The URL a feed at output-relative `rel` is published at.
fn feed_url(rel: &str) -> String {
    support::published_url(SITE_URL, rel)
}

/// The request path of output-relative `rel` (the daemon serves without the site's base path).
fn request_path(rel: &str) -> String {
    feed_url(rel).strip_prefix(SITE_URL).expect("under the site").to_string()
}

fn is_absolute_http_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|u| (u.scheme() == "https" || u.scheme() == "http") && u.has_host())
}

/// Checks every MUST (and each "required") of JSON Feed 1.1 on one document, plus that its
/// `feed_url` is `served_at`. Panics naming the first breach.
#[track_caller]
fn assert_json_feed_spec(bytes: &[u8], served_at: &str) {
    let text = std::str::from_utf8(bytes).expect("JSON Feed is UTF-8");
    let feed: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON: {e}\n{text}"));
    let object = feed.as_object().unwrap_or_else(|| panic!("the top level must be an object: {text}"));
    assert_eq!(object.get("version").and_then(Value::as_str), Some("https://jsonfeed.org/version/1.1"), "{text}");
    let title = object.get("title").and_then(Value::as_str).unwrap_or_else(|| panic!("title is required: {text}"));
    assert!(!title.is_empty());
    for key in ["home_page_url", "feed_url"] {
        let url = object[key].as_str().unwrap_or_else(|| panic!("{key} must be a string: {text}"));
        assert!(is_absolute_http_url(url), "{key} {url:?} is not absolute");
    }
    assert_eq!(object["feed_url"], served_at);
    for key in ["description", "language"] {
        assert!(object.get(key).is_none_or(Value::is_string), "{key} must be a string: {text}");
    }
    if let Some(authors) = object.get("authors") {
        assert_authors(authors, text);
    }
    assert!(object.get("author").is_none(), "1.1 feeds use authors, not the deprecated author: {text}");
    if let Some(hubs) = object.get("hubs") {
        for hub in hubs.as_array().unwrap_or_else(|| panic!("hubs must be an array: {text}")) {
            assert!(hub["type"].is_string() && hub["url"].is_string(), "a hub needs type and url: {hub}");
        }
    }
    let items = object.get("items").and_then(Value::as_array).unwrap_or_else(|| panic!("items is required: {text}"));
    let mut ids = BTreeSet::new();
    for item in items {
        let id = item["id"].as_str().unwrap_or_else(|| panic!("an item id must be a string: {item}"));
        assert!(!id.is_empty() && ids.insert(id.to_string()), "item ids must be unique: {id}");
        assert!(
            item.get("content_html").is_some_and(Value::is_string)
                || item.get("content_text").is_some_and(Value::is_string),
            "content_html or content_text must be present: {item}"
        );
        for key in ["url", "image"] {
            if let Some(url) = item.get(key) {
                assert!(url.as_str().is_some_and(is_absolute_http_url), "{key} must be an absolute URL: {item}");
            }
        }
        for key in ["title", "summary", "content_html", "content_text"] {
            assert!(item.get(key).is_none_or(Value::is_string), "{key} must be a string: {item}");
        }
        for key in ["date_published", "date_modified"] {
            let date = item[key].as_str().unwrap_or_else(|| panic!("{key} missing: {item}"));
            DateTime::parse_from_rfc3339(date).unwrap_or_else(|e| panic!("{key} {date:?} is not RFC 3339: {e}"));
        }
        if let Some(tags) = item.get("tags") {
            let tags = tags.as_array().unwrap_or_else(|| panic!("tags must be an array: {item}"));
            assert!(tags.iter().all(Value::is_string), "tags must be strings: {item}");
        }
        if let Some(authors) = item.get("authors") {
            assert_authors(authors, text);
        }
        assert!(item.get("author").is_none(), "{item}");
    }
}

#[track_caller]
fn assert_authors(authors: &Value, text: &str) {
    let authors = authors.as_array().unwrap_or_else(|| panic!("authors must be an array: {text}"));
    for author in authors {
        let author = author.as_object().unwrap_or_else(|| panic!("an author must be an object: {text}"));
        assert!(
            ["name", "url", "avatar"].iter().any(|k| author.get(*k).is_some_and(Value::is_string)),
            "an author must have a name, url or avatar: {author:?}"
        );
    }
}

/// What feed-rs reads from an entry that the Atom and the JSON feed must agree on.
type EntryFacts = (String, String, String, Option<String>, Option<String>, Vec<String>, Vec<String>, String, String);

/// `with_content: false` leaves content out: without it, feed-rs gives a JSON item's
/// `content_text` as content, where the Atom entry has none.
fn entry_facts(feed: &feed_rs::model::Feed, with_content: bool) -> Vec<EntryFacts> {
    feed.entries
        .iter()
        .map(|e| {
            (
                e.id.clone(),
                support::link(e).to_string(),
                support::title(e),
                e.published.map(|d| d.to_rfc3339()),
                e.updated.map(|d| d.to_rfc3339()),
                e.authors.iter().map(|a| a.name.clone()).collect(),
                support::terms(e),
                e.summary.as_ref().map(|s| s.content.clone()).unwrap_or_default(),
                if with_content { support::content(e).to_string() } else { String::new() },
            )
        })
        .collect()
}

/// Every JSON feed in `out` meets the spec, and reads as its Atom twin does; returns how many.
#[track_caller]
fn assert_json_feeds_match_atom(out: &Path, with_content: bool) -> usize {
    let files = tree(out);
    let json: Vec<&String> = files.keys().filter(|k| k.ends_with(".json")).collect();
    let atom: Vec<&String> = files.keys().filter(|k| k.ends_with(".xml")).collect();
    assert_eq!(json.len(), atom.len(), "one JSON feed per Atom feed: {json:?} / {atom:?}");
    for rel in json {
        let bytes = &files[rel];
        assert_json_feed_spec(bytes, &feed_url(rel));
        let from_json = support::parse_json_feed(bytes).unwrap_or_else(|e| panic!("feed-rs on {rel}: {e}")).feed;
        let atom_rel = format!("{}.xml", rel.strip_suffix(".json").unwrap());
        let from_atom = support::parse_feed(&files[&atom_rel]).unwrap_or_else(|e| panic!("{atom_rel}: {e}")).feed;
        assert_eq!(
            entry_facts(&from_json, with_content),
            entry_facts(&from_atom, with_content),
            "{rel} and {atom_rel} differ"
        );
        assert!(!from_json.entries.is_empty(), "{rel} has no entries");
        assert_eq!(from_json.title.as_ref().map(|t| &t.content), from_atom.title.as_ref().map(|t| &t.content));
        let atom_self = support::self_link(&from_atom).expect("Atom self link");
        let value: Value = serde_json::from_slice(bytes).unwrap();
        assert_eq!(value["feed_url"].as_str().map(|u| u.replace(".json", ".xml")).as_deref(), Some(atom_self));
        assert_eq!(value["language"], "zh-CN");
        assert_eq!(value["description"], "About things");
        assert_eq!(value["hubs"], serde_json::json!([{"type": "WebSub", "url": HUB}]));
    }
    files.keys().filter(|k| k.ends_with(".json")).count()
}

#[test]
fn regen_writes_json_feeds_that_meet_the_spec_and_match_atom() {
    let ws = workspace();
    let (config, out) = config(&ws, "all", ALL_FORMATS);
    support::regen(&config).assert_code(0);
    let files = tree(&out);
    // The same paths as Atom and RSS, custom (hashed) tag paths included.
    for rel in ["feed.json", "feed/news.json", "feed/business.json", "feed/by_tag/alpha.json", "feed/by_tag/标签.json"]
    {
        assert!(files.contains_key(rel), "{rel} missing: {:?}", files.keys());
    }
    let cpp: Vec<&String> = files.keys().filter(|k| k.starts_with("feed/by_tag/C-") && k.ends_with(".json")).collect();
    assert_eq!(cpp.len(), 1, "{:?}", files.keys());
    assert!(files.contains_key(&cpp[0].replace(".json", ".xml")));
    assert_eq!(assert_json_feeds_match_atom(&out, true), 8);

    // The fields that only some entries carry.
    let site: Value = serde_json::from_slice(&files["feed.json"]).unwrap();
    let items = site["items"].as_array().unwrap();
    let everything = items.iter().find(|i| i["title"] == "Everything & more").expect("the full post");
    assert_eq!(everything["id"], "tag:blog.example.org,2021:everything");
    assert_eq!(everything["image"], format!("{SITE_URL}/img/cover.png"));
    assert_eq!(everything["authors"], serde_json::json!([{"name": "Ann Writer", "url": "https://ann.example.org/"}]));
    assert_eq!(everything["tags"], serde_json::json!(["news", "C++", "alpha"]));
    assert_eq!(everything["summary"], "A summary of everything.");
    assert_eq!(everything["date_published"], "2021-03-04T12:00:00+08:00");
    assert_eq!(everything["date_modified"], "2021-03-05T08:00:00+08:00");
    assert!(everything["content_html"].as_str().unwrap().contains("<b>bold</b>"), "{everything}");
    let mailed = items.iter().find(|i| i["title"] == "Mailed").expect("the mailed post");
    assert_eq!(mailed["authors"], serde_json::json!([{"name": "Bo", "url": "mailto:bo@example.org"}]));
    let second = items.iter().find(|i| i["title"] == "Second post").expect("a post without an author");
    assert_eq!(second["authors"], serde_json::json!([{"name": "Site Author"}]));
    assert_eq!(site["authors"], serde_json::json!([{"name": "Site Author"}]));
    assert_eq!(site["title"], "Test <Blog>");
    assert_eq!(site["home_page_url"], format!("{SITE_URL}/"));
    assert!(site.get("icon").is_none(), "no icon is known");

    // Deterministic: another run into another folder gives the same bytes.
    let (again, out_again) = self::config(&ws, "again", ALL_FORMATS);
    support::regen(&again).assert_code(0);
    support::assert_same_tree(&out, &out_again);
}

#[test]
fn summaries_only_feeds_give_the_summary_as_content_text() {
    let ws = workspace();
    let (config, out) = config(&ws, "excerpt", "formats = [\"json\", \"atom\"]\ncontent = \"excerpt\"");
    support::regen(&config).assert_code(0);
    assert_eq!(assert_json_feeds_match_atom(&out, false), 8);
    let site: Value = serde_json::from_slice(&fs::read(out.join("feed.json")).unwrap()).unwrap();
    for item in site["items"].as_array().unwrap() {
        assert!(item.get("content_html").is_none(), "{item}");
        assert_eq!(
            item["content_text"],
            item.get("summary").cloned().unwrap_or(Value::String(String::new())),
            "{item}"
        );
    }
}

#[test]
fn json_alone_writes_only_json_and_dropping_it_removes_it() {
    let ws = workspace();
    let (config, out) = config(&ws, "json", "formats = [\"json\"]");
    support::regen(&config).assert_code(0);
    let files = tree(&out);
    assert!(files.keys().all(|k| k.ends_with(".json")), "{:?}", files.keys());
    assert_eq!(files.len(), 8);
    for (rel, bytes) in &files {
        assert_json_feed_spec(bytes, &feed_url(rel));
    }
    // The same folder without JSON: the JSON feeds are stale and go.
    let text = fs::read_to_string(&config).unwrap().replace("formats = [\"json\"]", "formats = [\"atom\"]");
    fs::write(&config, text).unwrap();
    support::regen(&config).assert_code(0);
    let files = tree(&out);
    assert!(files.keys().all(|k| k.ends_with(".xml")), "{:?}", files.keys());
}

#[test]
fn serve_serves_json_feeds_with_headers_listed_in_index_and_opml_and_follows_edits() {
    let ws = workspace();
    let (config, out) = config(&ws, "serve", ALL_FORMATS);
    let (json_only, _) = self::config(&ws, "json-only", "formats = [\"json\"]");
    let (regen_config, regen_out) = self::config(&ws, "regen", ALL_FORMATS);
    support::regen(&regen_config).assert_code(0);
    let daemon = Daemon::start(&config);

    // The index's autodiscovery links name every JSON feed regen wrote, with their type.
    let index = daemon.get("/").text();
    let listed: BTreeSet<String> = index_feed_paths(&index).into_iter().filter(|p| p.ends_with(".json")).collect();
    let written: BTreeMap<String, Vec<u8>> =
        tree(&regen_out).into_iter().filter(|(k, _)| k.ends_with(".json")).collect();
    assert_eq!(listed.len(), written.len(), "{listed:?}");
    assert_eq!(index.matches("type=\"application/feed+json\"").count(), 2 * written.len(), "link and a per feed");
    for (rel, bytes) in &written {
        let response = daemon.get(&request_path(rel));
        assert_eq!(response.status, 200, "{rel}");
        assert_eq!(response.header("content-type"), Some("application/feed+json"), "{rel}");
        assert_eq!(&response.body, bytes, "serve and regen differ on {rel}");
        assert!(listed.contains(&request_path(rel)), "{rel}: {listed:?}");
    }
    // Conditional requests and compression, as for the other formats.
    let first = daemon.get("/feed.json");
    let etag = first.expect_header("etag").to_string();
    assert_eq!(daemon.request("GET", "/feed.json", &[("if-none-match", &etag)]).status, 304);
    let last_modified = first.expect_header("last-modified").to_string();
    assert_eq!(daemon.request("GET", "/feed.json", &[("if-modified-since", &last_modified)]).status, 304);
    for encoding in ["gzip", "br"] {
        let response = daemon.request("GET", "/feed.json", &[("accept-encoding", encoding)]);
        assert_eq!(response.header("content-encoding"), Some(encoding));
        assert_eq!(response.header("content-type"), Some("application/feed+json"));
        assert_eq!(response.header("vary"), Some("accept-encoding"));
        assert_ne!(response.body, first.body);
    }
    // OPML prefers Atom, so that importing it subscribes once per feed; with JSON alone, JSON.
    let opml = opml_feed_paths(&daemon.get("/feeds.opml").text(), SITE_URL);
    assert!(opml.iter().all(|p| p.ends_with(".xml")) && opml.len() == written.len(), "{opml:?}");

    // An edit reaches the JSON feed like the Atom feed, and the folder follows.
    ws.write(
        "_posts/2021-03-02-second-post.md",
        post(
            "title: Second post, edited\ndate: 2021-03-02 10:00:00 +0800\ncategories: [news, markets]\ntags: beta",
            "New.",
        ),
    );
    daemon.wait_for("the edit in /feed.json", CHANGE_WAIT, || {
        let feed = support::parse_json_feed(&daemon.get("/feed.json").body).ok()?.feed;
        feed.entries.iter().any(|e| support::title(e) == "Second post, edited").then_some(())
    });
    // The writer thread follows: wait until every file in the folder is what is served, and no
    // temporary file is left.
    daemon.wait_for("the output folder to hold what is served", CHANGE_WAIT, || {
        let files = tree(&out);
        let settled = files.iter().all(|(rel, bytes)| {
            !rel.rsplit('/').next().unwrap().starts_with(".postfeed-") && daemon.get(&request_path(rel)).body == *bytes
        });
        (settled && files.get("feed.json") == Some(&daemon.get("/feed.json").body)).then_some(())
    });
    assert_json_feeds_match_atom(&out, true);
    drop(daemon);

    let daemon = Daemon::start(&json_only);
    let opml = opml_feed_paths(&daemon.get("/feeds.opml").text(), SITE_URL);
    assert_eq!(opml.len(), written.len(), "{opml:?}");
    assert!(opml.iter().all(|p| p.ends_with(".json")), "{opml:?}");
    assert_eq!(daemon.get("/feed.xml").status, 404);
}
