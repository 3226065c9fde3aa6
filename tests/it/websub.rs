//! WebSub: every feed names its hubs and its own URL (Atom and RSS `atom:link`, JSON Feed
//! `hubs` and `feed_url`), read back with roxmltree and serde_json; and `serve` announces exactly
//! the feeds whose bytes changed to hubs that run on loopback in the test (a small HTTP/1.1
//! server on a std `TcpListener`), retrying after a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{self, post, tree, Daemon, Workspace, CHANGE_WAIT};

const SITE_URL: &str = "https://blog.example.org";
const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

/// One request a hub received.
#[derive(Debug, Clone)]
struct HubRequest {
    method: String,
    target: String,
    content_type: Option<String>,
    form: Vec<(String, String)>,
}

impl HubRequest {
    fn urls(&self) -> BTreeSet<String> {
        self.form.iter().filter(|(k, _)| k == "hub.url").map(|(_, v)| v.clone()).collect()
    }
}

/// A hub on loopback: answers each request with the next of `statuses` (then 204) and records it.
struct Hub {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<HubRequest>>>,
}

impl Hub {
    fn start(statuses: &[u16]) -> Hub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("hub binds");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = Arc::clone(&seen);
        let mut statuses: Vec<u16> = statuses.iter().rev().copied().collect();
        // Ends with the test process; each connection gets one answer and is closed.
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let Some(request) = read_request(&mut stream) else { continue };
                record.lock().unwrap().push(request);
                let status = statuses.pop().unwrap_or(204);
                let reason = if status < 300 { "OK" } else { "Oops" };
                let _ = write!(stream, "HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            }
        });
        Hub { addr, seen }
    }

    fn url(&self) -> String {
        format!("http://{}/hub", self.addr)
    }

    fn requests(&self) -> Vec<HubRequest> {
        self.seen.lock().unwrap().clone()
    }

    #[track_caller]
    fn wait_requests(&self, count: usize, daemon: &Daemon) -> Vec<HubRequest> {
        daemon.wait_for(&format!("{count} requests at the hub {}", self.url()), Duration::from_secs(15), || {
            let requests = self.requests();
            (requests.len() >= count).then_some(requests)
        })
    }
}

fn read_request(stream: &mut std::net::TcpStream) -> Option<HubRequest> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_string(), parts.next()?.to_string());
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let form = url::form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    Some(HubRequest { method, target, content_type: headers.get("content-type").cloned(), form })
}

/// A three-post site whose feeds are the site, `news`, `markets`, `business`, `#alpha`, `#标签`
/// and `#beta`, in every format, configured with `hubs`.
fn site(hubs: &[String]) -> (Workspace, PathBuf, PathBuf) {
    let ws = Workspace::with_posts(&support::base_posts());
    let (config, output) = ws.config("websub", &support::Settings { url: SITE_URL.into(), ..Default::default() });
    let hubs: Vec<String> = hubs.iter().map(|h| support::toml_str(h)).collect();
    let mut text = fs::read_to_string(&config).unwrap();
    text += &format!(
        "[feeds]\nformats = [\"atom\", \"rss\", \"json\"]\n[server]\nquiet_ms = 100\n[websub]\nhubs = [{}]\n",
        hubs.join(", ")
    );
    fs::write(&config, text).unwrap();
    (ws, config, output)
}

/// The URL a feed at output-relative `rel` is published at.
fn feed_url(rel: &str) -> String {
    support::published_url(SITE_URL, rel)
}

/// Replaces the site file at `rel` in one step (written beside it, then renamed), so that the
/// daemon never sees it half written and one edit is one update.
fn replace(ws: &Workspace, rel: &str, content: impl AsRef<[u8]>) {
    let path = ws.site().join(rel);
    let temporary = path.with_file_name(".replacing");
    fs::write(&temporary, content).unwrap();
    fs::rename(&temporary, &path).unwrap();
}

/// Every feed the daemon serves (from the index's links), with its bytes, by URL.
fn served_feeds(daemon: &Daemon) -> BTreeMap<String, Vec<u8>> {
    crate::serve::index_feed_paths(&daemon.get("/").text())
        .into_iter()
        .map(|path| {
            let response = daemon.get(&path);
            assert_eq!(response.status, 200, "{path}");
            (format!("{SITE_URL}{path}"), response.body)
        })
        .collect()
}

#[test]
fn every_feed_names_its_hubs_and_its_own_url() {
    let hubs = ["https://hub.example.net/".to_string(), "http://127.0.0.1:9/hub?x=1&y=2".to_string()];
    let (_ws, config, out) = site(&hubs);
    support::regen(&config).assert_code(0);
    let files = tree(&out);
    assert_eq!(files.len(), 21, "{:?}", files.keys());
    for (rel, bytes) in &files {
        let url = feed_url(rel);
        let text = std::str::from_utf8(bytes).unwrap();
        let (hub_links, self_links) = if rel.ends_with(".json") {
            let feed: Value = serde_json::from_str(text).unwrap();
            let hubs: Vec<String> = feed["hubs"]
                .as_array()
                .unwrap_or_else(|| panic!("{rel} has no hubs"))
                .iter()
                .map(|h| {
                    assert_eq!(h["type"], "WebSub", "{rel}");
                    h["url"].as_str().unwrap().to_string()
                })
                .collect();
            (hubs, vec![feed["feed_url"].as_str().unwrap().to_string()])
        } else {
            let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{rel}: {e}"));
            // Atom: links of <feed>; RSS: atom:link children of <channel>. Entries' links aside.
            let parent = if rel.ends_with(".rss") {
                doc.root_element().children().find(|n| n.has_tag_name("channel")).expect("channel")
            } else {
                doc.root_element()
            };
            let links = |rel_value: &str| -> Vec<String> {
                parent
                    .children()
                    .filter(|n| n.has_tag_name((ATOM_NS, "link")) && n.attribute("rel") == Some(rel_value))
                    .map(|n| n.attribute("href").expect("href").to_string())
                    .collect()
            };
            (links("hub"), links("self"))
        };
        assert_eq!(hub_links, hubs, "{rel}");
        assert_eq!(self_links, [url], "{rel}");
    }

    // Without hubs, no feed names one.
    let (_ws, config, out) = site(&[]);
    support::regen(&config).assert_code(0);
    for (rel, bytes) in tree(&out) {
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("\"hub\"") && !text.contains("\"hubs\""), "{rel}: {text}");
    }
}

#[test]
fn serve_announces_exactly_the_changed_feeds_to_every_hub() {
    let hubs = [Hub::start(&[]), Hub::start(&[])];
    let (ws, config, _out) = site(&hubs.iter().map(Hub::url).collect::<Vec<_>>());
    let daemon = Daemon::start(&config);
    daemon.wait_quiet(Duration::from_millis(500), CHANGE_WAIT);
    let before = served_feeds(&daemon);
    assert_eq!(before.len(), 21);
    // Starting changed nothing that was served before: nothing is announced.
    thread::sleep(Duration::from_secs(1));
    for hub in &hubs {
        assert!(hub.requests().is_empty(), "announced at start: {:?}", hub.requests());
    }

    // "Second post" is in the site feed, news, markets and #beta; first and third are not touched.
    replace(
        &ws,
        "_posts/2021-03-02-second-post.md",
        post(
            "title: Second post, edited\ndate: 2021-03-02 10:00:00 +0800\ncategories: [news, markets]\ntags: beta",
            "Edited.",
        ),
    );
    for hub in &hubs {
        hub.wait_requests(1, &daemon);
    }
    daemon.wait_quiet(Duration::from_millis(500), CHANGE_WAIT);
    thread::sleep(Duration::from_secs(1));
    let after = served_feeds(&daemon);
    let changed: BTreeSet<String> =
        after.iter().filter(|(url, bytes)| before.get(*url) != Some(*bytes)).map(|(url, _)| url.clone()).collect();
    let expected: BTreeSet<String> = ["feed", "feed/news", "feed/markets", "feed/by_tag/beta"]
        .iter()
        .flat_map(|stem| ["xml", "rss", "json"].map(|ext| format!("{SITE_URL}/{stem}.{ext}")))
        .collect();
    assert_eq!(changed, expected, "the edit changed other feeds than expected");
    for hub in &hubs {
        let requests = hub.requests();
        assert_eq!(requests.len(), 1, "one update, one batch: {requests:?}");
        let request = &requests[0];
        assert_eq!((request.method.as_str(), request.target.as_str()), ("POST", "/hub"));
        assert_eq!(request.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
        assert_eq!(
            request.form.iter().filter(|(k, _)| k == "hub.mode").collect::<Vec<_>>(),
            [&("hub.mode".to_string(), "publish".to_string())]
        );
        assert_eq!(request.urls(), changed, "announced other feeds than those that changed");
        assert_eq!(request.form.len(), 1 + changed.len(), "{:?}", request.form);
    }

    // The same bytes written again: the post is read again, no feed changes, nothing is announced.
    let same = fs::read(ws.site().join("_posts/2021-03-02-second-post.md")).unwrap();
    replace(&ws, "_posts/2021-03-02-second-post.md", &same);
    daemon.wait_quiet(Duration::from_millis(500), CHANGE_WAIT);
    thread::sleep(Duration::from_secs(1));
    assert_eq!(served_feeds(&daemon), after);
    for hub in &hubs {
        assert_eq!(hub.requests().len(), 1, "announced although nothing changed: {:?}", hub.requests());
    }

    // A new post in a new tag: its new feed is announced with the ones it changed.
    replace(&ws, "_posts/2021-03-09-new.md", post("title: New\ndate: 2021-03-09 10:00:00 +0800\ntags: fresh", "New."));
    for hub in &hubs {
        let requests = hub.wait_requests(2, &daemon);
        let urls = requests[1].urls();
        for ext in ["xml", "rss", "json"] {
            assert!(urls.contains(&format!("{SITE_URL}/feed/by_tag/fresh.{ext}")), "{urls:?}");
            assert!(urls.contains(&format!("{SITE_URL}/feed.{ext}")), "{urls:?}");
        }
        assert_eq!(urls.len(), 6, "{urls:?}");
    }
}

#[test]
fn a_hub_that_fails_gets_the_batch_again() {
    let hub = Hub::start(&[500]);
    let (ws, config, _out) = site(&[hub.url()]);
    let daemon = Daemon::start(&config);
    daemon.wait_quiet(Duration::from_millis(500), CHANGE_WAIT);
    replace(
        &ws,
        "business/_posts/2021-03-03-third-post.html",
        post("title: Third post, edited\ndate: 2021-03-03 11:00:00 +0800\ntags: [alpha]", "<p>Third.</p>"),
    );
    let started = Instant::now();
    let requests = hub.wait_requests(2, &daemon);
    let expected: BTreeSet<String> = ["feed", "feed/business", "feed/by_tag/alpha"]
        .iter()
        .flat_map(|stem| ["xml", "rss", "json"].map(|ext| format!("{SITE_URL}/{stem}.{ext}")))
        .collect();
    assert_eq!(requests[0].urls(), expected);
    assert_eq!(requests[1].urls(), expected, "the retry carries the same feeds");
    let log = daemon.log();
    assert!(log.contains(&hub.url()) && log.contains("500"), "the failure is logged:\n{log}");
    // Accepted the second time: no third request.
    thread::sleep(Duration::from_secs(2).saturating_sub(started.elapsed()) + Duration::from_secs(1));
    assert_eq!(hub.requests().len(), 2, "{:?}", hub.requests());
    assert!(daemon.get("/healthz").status == 200);
}

#[test]
fn a_reload_with_another_hub_announces_every_feed_there() {
    let (old, new) = (Hub::start(&[]), Hub::start(&[]));
    let (_ws, config, _out) = site(&[old.url()]);
    let daemon = Daemon::start(&config);
    daemon.wait_quiet(Duration::from_millis(500), CHANGE_WAIT);
    let text = fs::read_to_string(&config).unwrap().replace(&old.url(), &new.url());
    fs::write(&config, text).unwrap();
    daemon.signal("HUP");
    new.wait_requests(1, &daemon);
    daemon.wait_quiet(Duration::from_millis(500), CHANGE_WAIT);
    // Each feed names its hubs, so the new hub changed every feed's bytes.
    let served: BTreeSet<String> = served_feeds(&daemon).into_keys().collect();
    assert_eq!(served.len(), 21);
    let announced: BTreeSet<String> = new.requests().iter().flat_map(HubRequest::urls).collect();
    assert_eq!(announced, served);
    assert!(old.requests().is_empty(), "the old hub was told: {:?}", old.requests());
    let feed = daemon.get("/feed.xml").text();
    assert!(feed.contains(&new.url()) && !feed.contains(&old.url()), "{feed}");
}
