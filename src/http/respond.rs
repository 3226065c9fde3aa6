//! One request to one response, as a pure function of the snapshot served, the request and the
//! clock passed in: routing, path decoding, status codes and the headers every answer carries.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode, Uri};

use super::body::ResponseBody;
use super::conditional::{negotiate, not_modified, wants_page, Coding, VariantTags};
use super::pages::{Served, Target, HEALTH_TEXT};
use crate::memfile::MemFile;
use crate::snapshot::Rendered;

const TEXT_MIME: &str = "text/plain; charset=utf-8";
/// The body of a retired feed's 410.
const GONE_TEXT: &str = "gone: this feed has had no posts for feeds.retire_after_days and was retired\n";

/// Answers one request from `served` at time `now`. Pure: no I/O, and the clock is read by the
/// caller, so equal arguments give equal responses.
///
/// Only GET and HEAD are served (405 with `Allow` otherwise); unknown, malformed or suspicious
/// paths are 404. Feed files and pages carry a strong ETag per encoding, `Last-Modified`,
/// `Cache-Control: public, max-age=<max_age>` and `Vary: Accept-Encoding`; `/healthz` is
/// `no-store`. When the client excludes every coding we have, including identity, the identity
/// body is sent anyway rather than a 406 (RFC 9110 §12.5.3 allows either): a reader with an odd
/// header still gets its feed.
pub fn respond(
    served: &Served,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    max_age: u32,
    now: SystemTime,
) -> Response<ResponseBody> {
    let head = *method == Method::HEAD;
    let raw_path = uri.path();
    if !raw_path.starts_with('/') {
        // asterisk-form (`OPTIONS *`) and authority-form (`CONNECT`) targets name no resource here
        return plain(StatusCode::BAD_REQUEST, "bad request\n", head);
    }
    let Some(target) = decode_path(raw_path).and_then(|path| served.lookup(&path)) else {
        return plain(StatusCode::NOT_FOUND, "not found\n", head);
    };
    if *method != Method::GET && !head {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n", false);
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    match target {
        Target::Health => {
            let mut response = plain(StatusCode::OK, HEALTH_TEXT, head);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Target::File(file) => representation(file, headers, max_age, head, now),
        Target::Gone => {
            // Cached like a feed: a reader polling a retired feed need not ask again soon.
            let mut response = plain(StatusCode::GONE, GONE_TEXT, head);
            let h = response.headers_mut();
            h.insert(header::CACHE_CONTROL, header_value(format!("public, max-age={max_age}")));
            response
        }
    }
}

/// `/metrics`: `text` (the Prometheus text format) to GET and HEAD, never cached; 405 otherwise.
pub(crate) fn metrics_page(text: String, method: &Method) -> Response<ResponseBody> {
    if *method != Method::GET && *method != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n", false);
        response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let length = text.len();
    let body = if *method == Method::HEAD { Bytes::new() } else { Bytes::from(text) };
    let mut response = Response::new(ResponseBody::from(body));
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::metrics::CONTENT_TYPE));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

/// A small text response, e.g. an error; HEAD gets the same headers and no body.
fn plain(status: StatusCode, text: &'static str, head: bool) -> Response<ResponseBody> {
    let body = if head { Bytes::new() } else { Bytes::from_static(text.as_bytes()) };
    let mut response = Response::new(ResponseBody::from(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_MIME));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn representation(
    file: &Rendered,
    headers: &HeaderMap,
    max_age: u32,
    head: bool,
    now: SystemTime,
) -> Response<ResponseBody> {
    let coding = negotiate(headers);
    let tags = VariantTags::of(&file.etag);
    // When these bytes were first made, not the newest entry's date: an edit or a deletion
    // must change Last-Modified, and it must never lie in the future (RFC 9110 8.8.2.1).
    let modified = whole_seconds(file.modified);
    let last_modified = modified.min(now);
    let mut response = Response::new(ResponseBody::default());
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, header_value(format!("public, max-age={max_age}")));
    if file.page_mime.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding, accept"));
    } else {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    h.insert(header::LAST_MODIFIED, header_value(httpdate::fmt_http_date(last_modified)));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));

    if let Some(tag) = not_modified(headers, &tags, coding, modified) {
        h.insert(header::ETAG, header_value(tag.to_string()));
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return response;
    }

    let body = match coding {
        Coding::Brotli => ResponseBody::from(file.brotli().clone()),
        Coding::Gzip => ResponseBody::from(file.gzip().clone()),
        Coding::Identity => ResponseBody::of(&file.body),
    };
    let length = hyper::body::Body::size_hint(&body).exact().unwrap_or(0);
    let mime = file.page_mime.filter(|_| wants_page(headers)).unwrap_or(file.mime);
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Some(policy) = file.policy {
        h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(policy));
    }
    h.insert(header::ETAG, header_value(tags.of_coding(coding).to_string()));
    if let Some(name) = coding.header() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if !head {
        if let (Coding::Identity, Some(memfile)) = (coding, file.memfile()) {
            response.extensions_mut().insert(Sendfile(Arc::clone(memfile)));
        }
        *response.body_mut() = body;
    }
    response
}

/// Marks a response whose body lies in a memory file: the connection may send it from there.
#[derive(Clone)]
pub(crate) struct Sendfile(pub(crate) Arc<MemFile>);

/// Header values made from our own ASCII strings (dates, hashes); an impossible bad one becomes
/// empty rather than a panic.
fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Latest date `httpdate` can write (9999-12-31T23:59:59Z); it panics outside 1970..=9999.
const MAX_HTTP_SECS: i64 = 253_402_300_799;

/// A time as `Last-Modified`: whole seconds, clamped to what an HTTP-date can say.
fn whole_seconds(t: SystemTime) -> SystemTime {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    UNIX_EPOCH + Duration::from_secs(secs.min(MAX_HTTP_SECS as u64))
}

/// Percent-decodes a request path and checks it is one plain `/`-separated path. `None` (a 404)
/// for bad escapes, an escaped `/`, NUL, backslash, invalid UTF-8 (which covers overlong forms
/// such as `%C0%AE`), and empty, `.` or `..` segments.
fn decode_path(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let high = hex_digit(*bytes.get(i + 1)?)?;
            let low = hex_digit(*bytes.get(i + 2)?)?;
            let byte = high << 4 | low;
            // `%2F` would join or split segments differently from what a proxy in front saw.
            if byte == b'/' {
                return None;
            }
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let path = String::from_utf8(out).ok()?;
    if path.contains(['\0', '\\']) {
        return None;
    }
    let rest = path.strip_prefix('/')?;
    if !rest.is_empty() && rest.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return None;
    }
    Some(path)
}

fn hex_digit(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use crate::http::fixtures::{body, config, file, get, header, in_memfiles, request, served, tag_uri, TAG};

    #[test]
    fn serves_feeds_with_their_headers() {
        let served = served();
        let response = get(&served, "/feed.xml", &[]);
        assert_eq!(response.status(), StatusCode::OK);
        let feed = file(&served, "feed.xml");
        assert_eq!(header(&response, header::CONTENT_TYPE), Some("application/atom+xml; charset=utf-8"));
        assert_eq!(header(&response, header::ETAG), Some(feed.etag.as_str()));
        assert_eq!(header(&response, header::LAST_MODIFIED), Some("Fri, 01 Mar 2024 00:30:00 GMT"));
        assert_eq!(header(&response, header::CACHE_CONTROL), Some("public, max-age=300"));
        assert_eq!(header(&response, header::VARY), Some("accept-encoding"));
        assert_eq!(header(&response, header::X_CONTENT_TYPE_OPTIONS), Some("nosniff"));
        assert_eq!(header(&response, header::CONTENT_ENCODING), None);
        assert_eq!(header(&response, header::CONTENT_LENGTH), Some(feed.body.to_bytes().len().to_string().as_str()));
        assert_eq!(body(response), feed.body.to_bytes());

        let rss = get(&served, "/feed/news.rss?utm=x", &[]);
        assert_eq!(header(&rss, header::CONTENT_TYPE), Some("application/rss+xml; charset=utf-8"));
        assert_eq!(body(rss), file(&served, "feed/news.rss").body.to_bytes());
    }

    #[test]
    fn a_feed_with_a_browser_view_is_xml_to_browsers_with_its_policy() {
        let mut snapshot = served().snapshot().as_ref().clone();
        let mut feed = Rendered::new(b"<?xml version=\"1.0\"?><feed/>".to_vec(), "application/atom+xml; charset=utf-8");
        feed.page_mime = Some("application/xml; charset=utf-8");
        feed.policy = Some("default-src 'none'");
        snapshot.files.insert("feed.xml".into(), Arc::new(feed));
        let served = Served::new(Arc::new(snapshot), &config());
        let browser = get(&served, "/feed.xml", &[("accept", "text/html,application/xml;q=0.9,*/*;q=0.8")]);
        assert_eq!(header(&browser, header::CONTENT_TYPE), Some("application/xml; charset=utf-8"));
        assert_eq!(header(&browser, header::VARY), Some("accept-encoding, accept"));
        assert_eq!(header(&browser, header::CONTENT_SECURITY_POLICY), Some("default-src 'none'"));
        let reader = get(&served, "/feed.xml", &[("accept", "application/atom+xml")]);
        assert_eq!(header(&reader, header::CONTENT_TYPE), Some("application/atom+xml; charset=utf-8"));
        assert_eq!(header(&reader, header::VARY), Some("accept-encoding, accept"));
        assert_eq!(body(browser), body(reader));
        // Without a browser view: one type for everyone, and no policy.
        let plain = get(&served, "/feed.rss", &[("accept", "text/html")]);
        assert_eq!(header(&plain, header::CONTENT_TYPE), Some("application/rss+xml; charset=utf-8"));
        assert_eq!(header(&plain, header::VARY), Some("accept-encoding"));
        assert_eq!(header(&plain, header::CONTENT_SECURITY_POLICY), None);
    }

    #[test]
    fn json_feeds_get_their_type_etag_compression_and_304s() {
        let served = served();
        let feed = file(&served, "feed/news.json");
        let response = get(&served, "/feed/news.json", &[]);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, header::CONTENT_TYPE), Some("application/feed+json"));
        assert_eq!(header(&response, header::ETAG), Some(feed.etag.as_str()));
        assert_eq!(header(&response, header::VARY), Some("accept-encoding"));
        assert_eq!(body(response), feed.body.to_bytes());
        for (accept, encoding, bytes) in [("gzip", "gzip", feed.gzip()), ("br", "br", feed.brotli())] {
            let response = get(&served, "/feed/news.json", &[("accept-encoding", accept)]);
            assert_eq!(header(&response, header::CONTENT_ENCODING), Some(encoding));
            assert_eq!(header(&response, header::CONTENT_TYPE), Some("application/feed+json"));
            assert_eq!(&body(response), bytes);
        }
        let response = get(&served, "/feed/news.json", &[("if-none-match", &feed.etag)]);
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        let response = get(&served, "/feed/news.json", &[("if-modified-since", "Fri, 01 Mar 2024 00:30:00 GMT")]);
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn cjk_paths_are_decoded() {
        let served = served();
        let uri = tag_uri();
        assert!(uri.starts_with("/feed/by_tag/%E8%8D%86"), "{uri}");
        let response = get(&served, &uri, &[]);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body(response), file(&served, &format!("feed/by_tag/{TAG}.xml")).body.to_bytes());
        let lowercase_escapes = get(&served, &uri.to_ascii_lowercase(), &[]);
        assert_eq!(lowercase_escapes.status(), StatusCode::OK);
    }

    #[test]
    fn head_is_get_without_body() {
        let served = served();
        for accept in ["", "br", "gzip"] {
            let get = get(&served, "/feed.xml", &[("accept-encoding", accept)]);
            let head = request(&served, Method::HEAD, "/feed.xml", &[("accept-encoding", accept)]);
            assert_eq!(head.status(), StatusCode::OK);
            assert_eq!(head.headers(), get.headers());
            assert!(body(head).is_empty());
        }
        let missing = request(&served, Method::HEAD, "/nope.xml", &[]);
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert!(body(missing).is_empty());
    }

    #[test]
    fn unknown_paths_are_404_and_other_methods_405() {
        let served = served();
        for uri in
            ["/nope.xml", "/feed", "/feed/", "/feed.xml/", "//feed.xml", "/feed/by_tag/", "/FEED.XML", "/feeds.opml/x"]
        {
            let response = get(&served, uri, &[]);
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
            assert_eq!(header(&response, header::CONTENT_TYPE), Some(TEXT_MIME));
            assert_eq!(body(response), "not found\n", "{uri}");
        }
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS, Method::from_str("BREW").unwrap()] {
            for uri in ["/feed.xml", "/", "/healthz"] {
                let response = request(&served, method.clone(), uri, &[]);
                assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
                assert_eq!(header(&response, header::ALLOW), Some("GET, HEAD"));
            }
        }
        assert_eq!(request(&served, Method::OPTIONS, "*", &[]).status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn traversal_and_malformed_paths_are_404() {
        let served = served();
        for uri in [
            "/../config.toml",
            "/feed/../feed.xml",
            "/./feed.xml",
            "/feed/..%2f..%2fconfig.toml",
            "/feed/..%2F..%2Fconfig.toml",
            "/feed%2fnews.rss",
            "/%2e%2e/config.toml",
            "/%2E%2E/%2e%2e/etc/passwd",
            "/feed/%2e/news.rss",
            "/feed%5cnews.rss",
            "/..%5c..%5cconfig.toml",
            "/feed.xml%00",
            "/feed.xml%00.html",
            "/%c0%ae%c0%ae/config.toml",
            "/%c0%af",
            "/feed/by_tag/%E8%8D.xml",
            "/%ed%a0%80",
            "/feed.xml%",
            "/feed.xml%2",
            "/feed%zz.xml",
            "/%",
        ] {
            let response = get(&served, uri, &[]);
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
        }
        // Straight to the decoder, for what `Uri` itself would refuse.
        for raw in ["/feed\\news.rss", "/feed.xml\0", "/a/../feed.xml", "relative", ""] {
            assert_eq!(decode_path(raw), None, "{raw:?}");
        }
        assert_eq!(decode_path("/"), Some("/".to_string()));
        assert_eq!(decode_path("/feed/by_tag/%E8%8D%86.xml"), Some("/feed/by_tag/荆.xml".to_string()));
    }

    #[test]
    fn healthz_says_ok_uncached() {
        let served = served();
        let response = get(&served, "/healthz", &[("accept-encoding", "br")]);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, header::CACHE_CONTROL), Some("no-store"));
        assert_eq!(body(response), "ok");
    }

    #[test]
    fn times_outside_http_date_range_are_clamped() {
        assert_eq!(whole_seconds(UNIX_EPOCH - Duration::from_secs(10)), UNIX_EPOCH);
        let far = UNIX_EPOCH + Duration::from_secs(400_000_000_000);
        assert_eq!(httpdate::fmt_http_date(whole_seconds(far)), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(whole_seconds(UNIX_EPOCH + Duration::from_millis(1500)), UNIX_EPOCH + Duration::from_secs(1));
    }

    #[test]
    fn only_identity_bodies_in_memory_files_are_marked_for_sendfile() {
        let snapshot = in_memfiles({
            let base = served();
            base.snapshot().as_ref().clone()
        });
        let served = Served::new(Arc::new(snapshot), &config());
        assert!(get(&served, "/feed.xml", &[]).extensions().get::<Sendfile>().is_some());
        assert!(get(&served, "/feed.xml", &[("accept-encoding", "gzip")]).extensions().get::<Sendfile>().is_none());
        assert!(request(&served, Method::HEAD, "/feed.xml", &[]).extensions().get::<Sendfile>().is_none());
        assert!(get(&served, "/", &[]).extensions().get::<Sendfile>().is_none());
    }

    #[test]
    fn the_clock_is_an_argument() {
        let served = served();
        let uri = Uri::from_static("/feed.xml");
        let ask = |now| respond(&served, &Method::GET, &uri, &HeaderMap::new(), 300, now);
        // Bytes made "after" the clock say the clock: Last-Modified never lies in the future.
        let early = UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let first = ask(early);
        assert_eq!(header(&first, header::LAST_MODIFIED), Some("Sun, 09 Sep 2001 01:46:40 GMT"));
        assert_eq!(first.headers(), ask(early).headers());
        let now = ask(SystemTime::now());
        assert_eq!(header(&now, header::LAST_MODIFIED), Some("Fri, 01 Mar 2024 00:30:00 GMT"));
    }
}
