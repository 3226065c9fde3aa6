//! Fuzz target: any request line and headers must get a well-formed answer from `respond`,
//! nothing but the snapshot's files and pages is ever served, and no HTML page served leaves
//! anything runnable for a browser (html5ever) to find. The snapshot is built by `regen` from a
//! hostile site: the XSS seeds as posts, and a site title, description, category, tag and post
//! titles made to break out of the index page and the feeds.
#![no_main]

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};
use hyper::{Method, StatusCode, Uri};
use libfuzzer_sys::fuzz_target;
use postfeed::config::Config;
use postfeed::http::{respond, Served};
use postfeed::regen;
use postfeed::snapshot::Storage;

#[path = "../../tests/common/markup.rs"]
mod markup;
use markup::{unsafe_feed, unsafe_page};

const BREAK_OUT: &str = "\\\"'></title></a></td><script>alert(1)</script><img src=x onerror=alert(2)>";

fn served() -> &'static Served {
    static SERVED: OnceLock<Served> = OnceLock::new();
    SERVED.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("postfeed-fuzz-http-{}", std::process::id()));
        let posts = dir.join("site/_posts");
        std::fs::create_dir_all(&posts).expect("temp site");
        let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/fuzz");
        let mut seeds: Vec<_> = std::fs::read_dir(&seeds).expect("seeds").map(|e| e.expect("seed").path()).collect();
        seeds.sort();
        for (i, seed) in seeds.iter().enumerate() {
            std::fs::copy(seed, posts.join(format!("2021-12-{:02}-seed-{i}.md", i % 28 + 1))).expect("seed copied");
        }
        let front_matter = format!("title: {BREAK_OUT:?}\ncategories: [{BREAK_OUT:?}]\ntags: [{BREAK_OUT:?}, \"&lt;img src=x onerror=alert(3)&gt;\"]");
        std::fs::write(posts.join("2021-12-30-break-out.md"), format!("---\n{front_matter}\n---\nbody\n")).expect("post");
        let config_text = format!(
            "[site]\nurl = \"https://news.example.com\"\ntitle = {t:?}\ndescription = {t:?}\nauthor = {t:?}\nlanguage = {t:?}\n[source]\ndir = \"site\"\n[output]\ndir = \"out\"\n",
            t = BREAK_OUT
        );
        let config = Config::parse(&config_text, &dir).expect("fixed config");
        let build = regen::build(&config, Storage::Heap).expect("the hostile site builds");
        std::fs::remove_dir_all(&dir).expect("temp site removed");
        assert!(build.snapshot.files.len() > 4, "{:?}", build.snapshot.files.keys());
        for (path, file) in &build.snapshot.files {
            assert_eq!(unsafe_feed(&file.bytes), None, "{path}");
        }
        Served::new(Arc::new(build.snapshot), &config)
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

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split("\r\n");
    let Some(request_line) = lines.next() else { return };
    let mut parts = request_line.splitn(2, ' ');
    let Ok(method) = Method::from_bytes(parts.next().unwrap_or("GET").as_bytes()) else { return };
    let Ok(uri) = parts.next().unwrap_or("/").parse::<Uri>() else { return };
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
    let response = respond(served(), &method, &uri, &headers, 300);
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
        let body = body_bytes(response);
        assert_eq!(unsafe_page(&String::from_utf8_lossy(&body)), None, "{uri}");
    }
});
