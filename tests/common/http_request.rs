//! Shared by the `http_request` fuzz target and `tests/it/fuzz_regressions.rs`: one input read as
//! a request (`METHOD target`, then `Name: value` lines, CRLF-separated) and answered by
//! `respond`, with the checks every answer must pass: an allowed status, nothing but the
//! snapshot's files and pages served, and no HTML page served leaving anything runnable for a
//! browser (html5ever) to find. The snapshot is built from a hostile site: the saved post inputs
//! of tests/fixtures/fuzz as posts, and a site title, description, category, tag and post title
//! made to break out of the index page and the feeds. The includer declares `mod markup`
//! (tests/common/markup.rs) at its root.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::SystemTime;

use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use hyper::{Method, StatusCode, Uri};
use postfeed::build::Build;
use postfeed::config::Config;
use postfeed::http::{respond, Served};
use postfeed::snapshot::{Snapshot, Storage};

use crate::markup::{unsafe_feed, unsafe_page, unsafe_page_under};

const BREAK_OUT: &str = "\\\"'></title></a></td><script>alert(1)</script><img src=x onerror=alert(2)>";

/// tests/fixtures/fuzz, from the package's folder or from fuzz/ beside it.
pub fn fixtures() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    [manifest.join("tests/fixtures/fuzz"), manifest.join("../tests/fixtures/fuzz")]
        .into_iter()
        .find(|dir| dir.is_dir())
        .expect("tests/fixtures/fuzz")
}

fn served() -> &'static Served {
    static SERVED: OnceLock<Served> = OnceLock::new();
    SERVED.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("postfeed-fuzz-http-{}", std::process::id()));
        let posts = dir.join("site/_posts");
        std::fs::create_dir_all(&posts).expect("temp site");
        let mut seeds: Vec<PathBuf> = std::fs::read_dir(fixtures())
            .expect("seeds")
            .map(|e| e.expect("seed").path())
            .filter(|p| !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("http_request-")))
            .collect();
        seeds.sort();
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::copy(seed, posts.join(format!("2021-12-{:02}-seed-{i}.md", i % 28 + 1))).expect("seed copied");
        }
        let front_matter = format!(
            "title: {BREAK_OUT:?}\ncategories: [{BREAK_OUT:?}]\ntags: [{BREAK_OUT:?}, \"&lt;img src=x onerror=alert(3)&gt;\"]"
        );
        std::fs::write(posts.join("2021-12-30-break-out.md"), format!("---\n{front_matter}\n---\nbody\n")).expect("post");
        let config_text = format!(
            "[site]\nurl = \"https://news.example.com\"\ntitle = {t:?}\ndescription = {t:?}\nauthor = {t:?}\nlanguage = {t:?}\n[source]\ndir = \"site\"\n[output]\ndir = \"out\"\n",
            t = BREAK_OUT
        );
        let config = Config::parse(&config_text, &dir).expect("fixed config");
        let mut build = Build::load(config.clone()).expect("the hostile site loads");
        let (snapshot, _) = build.render(chrono::Utc::now(), &Snapshot::default(), None, Storage::Heap);
        std::fs::remove_dir_all(&dir).expect("temp site removed");
        assert!(snapshot.files.len() > 4, "{:?}", snapshot.files.keys());
        for (path, file) in &snapshot.files {
            // The browser view's stylesheet is no feed; tests/it/browser.rs checks what it makes.
            if path != "feed.xsl" {
                assert_eq!(unsafe_feed(&file.body.to_bytes()), None, "{path}");
            }
        }
        Served::new(Arc::new(snapshot), &config)
    })
}

/// The whole body of a response (`Full` is always ready).
fn body_bytes(response: hyper::Response<impl hyper::body::Body<Data = hyper::body::Bytes> + Unpin>) -> Vec<u8> {
    let mut body = response.into_body();
    let mut out = Vec::new();
    let mut cx = Context::from_waker(Waker::noop());
    while let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) {
        if let Ok(data) = frame.into_data() {
            out.extend_from_slice(&data);
        }
    }
    out
}

/// Answers `data` as a request and panics if the answer breaks a rule. Returns the status, or
/// `None` when `data` is not a request line `hyper` could have parsed.
pub fn answer_and_check(data: &[u8]) -> Option<StatusCode> {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split("\r\n");
    let request_line = lines.next()?;
    let mut parts = request_line.splitn(2, ' ');
    let method = Method::from_bytes(parts.next().unwrap_or("GET").as_bytes()).ok()?;
    let uri = parts.next().unwrap_or("/").parse::<Uri>().ok()?;
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if let (Ok(n), Ok(v)) =
                (HeaderName::from_bytes(name.trim().as_bytes()), HeaderValue::from_str(value.trim()))
            {
                headers.append(n, v);
            }
        }
    }
    let response = respond(served(), &method, &uri, &headers, 300, SystemTime::now());
    let status = response.status();
    assert!(
        [
            StatusCode::OK,
            StatusCode::NOT_MODIFIED,
            StatusCode::NOT_FOUND,
            StatusCode::METHOD_NOT_ALLOWED,
            StatusCode::BAD_REQUEST
        ]
        .contains(&status),
        "{status}"
    );
    if status == StatusCode::OK && uri.path().contains("config") {
        panic!("served {uri}");
    }
    let html = response.headers().get(CONTENT_TYPE).is_some_and(|t| t.as_bytes().starts_with(b"text/html"));
    let identity = response.headers().get(CONTENT_ENCODING).is_none();
    if status == StatusCode::OK && html && identity {
        // Pages carry their policy: what it allows by hash is theirs, anything else is not.
        let policy = response.headers().get(CONTENT_SECURITY_POLICY).map(|p| p.to_str().unwrap_or("").to_string());
        let body = String::from_utf8_lossy(&body_bytes(response)).into_owned();
        let found = match &policy {
            Some(policy) => unsafe_page_under(&body, policy),
            None => unsafe_page(&body),
        };
        assert_eq!(found, None, "{uri}");
    }
    Some(status)
}
