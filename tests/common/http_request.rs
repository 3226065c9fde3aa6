//! Shared by the `http_request` fuzz target and `tests/it/fuzz_regressions.rs`: one input read as
//! a request (`METHOD target`, then `Name: value` lines, CRLF-separated) and answered by
//! `respond` from a fixed snapshot, with the checks every answer must pass.

use std::sync::{Arc, OnceLock};

use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, StatusCode, Uri};
use postfeed::config::Config;
use postfeed::http::{respond, Served};
use postfeed::snapshot::{Rendered, Snapshot};

fn served() -> &'static Served {
    static SERVED: OnceLock<Served> = OnceLock::new();
    SERVED.get_or_init(|| {
        let config = Config::parse("[site]\nurl = \"https://news.example.com\"\n", std::path::Path::new("/"))
            .expect("fixed config");
        let mut snapshot = Snapshot::default();
        for path in ["feed.xml", "feed.rss", "feed/by_tag/荆州日报新闻.xml"] {
            let body = format!("<feed>{path}</feed>").into_bytes();
            snapshot
                .files
                .insert(path.to_string(), Arc::new(Rendered::new(body, "application/atom+xml; charset=utf-8")));
        }
        Served::new(Arc::new(snapshot), &config)
    })
}

/// Answers `data` as a request; panics if the answer is not one of the statuses the server may
/// give, or if anything but the snapshot's files and pages was served. Returns the status, or
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
    let response = respond(served(), &method, &uri, &headers, 300, std::time::SystemTime::now());
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
    Some(status)
}
