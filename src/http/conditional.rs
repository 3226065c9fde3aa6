//! Conditional requests and content negotiation: which coding to send (`Accept-Encoding` with
//! its q-values), the ETag of each coding, and whether the client's validators
//! (`If-None-Match`, `If-Modified-Since`) make the answer a 304.
//!
//! Hand-written rather than the `headers` crate's typed headers: it has no `Accept-Encoding`
//! (q-values) at all, and its `If-None-Match` parser debug-asserts on a space inside a quoted tag
//! (`"a b"`, a valid header value), so any client could crash a debug build; it also cannot say
//! which of our tags matched, which the 304 must name. Dates go through `httpdate`, which is
//! what `headers` uses itself.

use std::time::SystemTime;

use hyper::header::{self, HeaderMap};

/// A content coding we can send, in our order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    const PREFERENCE: [Coding; 3] = [Coding::Brotli, Coding::Gzip, Coding::Identity];

    /// The `Content-Encoding` value, none for identity.
    pub(super) fn header(self) -> Option<&'static str> {
        match self {
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }
}

/// Whether the request is a browser opening a page: its `Accept` names `text/html` (with a
/// q-value above 0) and no feed type. Browsers show `application/atom+xml` and
/// `application/rss+xml` as plain text and apply a feed's stylesheet only when it comes as XML;
/// feed readers that also accept HTML name a feed type.
pub(super) fn wants_page(headers: &HeaderMap) -> bool {
    let mut html = false;
    for value in headers.get_all(header::ACCEPT) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            match name.as_str() {
                "application/atom+xml" | "application/rss+xml" => return false,
                "text/html" => html |= weight(parts).is_some_and(|q| q > 0),
                _ => {}
            }
        }
    }
    html
}

/// Picks the coding from `Accept-Encoding`: the highest q-value wins, ties go to br, then gzip,
/// then identity. Without the header, identity. Weights are in thousandths.
pub(super) fn negotiate(headers: &HeaderMap) -> Coding {
    let mut present = false;
    let (mut br, mut gzip, mut identity, mut any) = (None, None, None, None);
    for value in headers.get_all(header::ACCEPT_ENCODING) {
        present = true;
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let name = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
            let Some(q) = weight(parts) else { continue };
            let slot = match name.as_str() {
                "br" => &mut br,
                "gzip" | "x-gzip" => &mut gzip,
                "identity" => &mut identity,
                "*" => &mut any,
                _ => continue,
            };
            *slot = Some(slot.map_or(q, |old: u16| old.max(q)));
        }
    }
    if !present {
        return Coding::Identity;
    }
    let q = |coding| match coding {
        Coding::Brotli => br.or(any).unwrap_or(0),
        Coding::Gzip => gzip.or(any).unwrap_or(0),
        // Identity is acceptable unless excluded (RFC 9110 §12.5.3), but least preferred when
        // not named: `gzip;q=0.5` alone still means gzip.
        Coding::Identity => identity.or(any).unwrap_or(1),
    };
    let mut best = Coding::Identity;
    let mut best_q = 0;
    for coding in Coding::PREFERENCE {
        if q(coding) > best_q {
            best = coding;
            best_q = q(coding);
        }
    }
    best
}

/// The `q` parameter of one `Accept-Encoding` item in thousandths, 1000 when absent; `None` when
/// it is malformed, which drops the item.
fn weight<'a>(params: impl Iterator<Item = &'a str>) -> Option<u16> {
    let mut q = 1000;
    for param in params {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("q") {
            q = qvalue(value.trim())?;
        }
    }
    Some(q)
}

/// `qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`, in thousandths.
fn qvalue(text: &str) -> Option<u16> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = frac.bytes().zip([100, 10, 1]).map(|(b, scale)| u16::from(b - b'0') * scale).sum::<u16>();
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The strong ETags of one file's three encodings: `"h"`, `"h-gz"`, `"h-br"`. Each encoding has
/// its own so that a cache never answers a gzip request with a brotli body it validated.
pub(super) struct VariantTags {
    identity: String,
    gzip: String,
    brotli: String,
}

impl VariantTags {
    pub(super) fn of(etag: &str) -> VariantTags {
        let opaque = etag.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(etag);
        VariantTags {
            identity: format!("\"{opaque}\""),
            gzip: format!("\"{opaque}-gz\""),
            brotli: format!("\"{opaque}-br\""),
        }
    }

    pub(super) fn of_coding(&self, coding: Coding) -> &str {
        match coding {
            Coding::Brotli => &self.brotli,
            Coding::Gzip => &self.gzip,
            Coding::Identity => &self.identity,
        }
    }
}

/// Whether the request's validators make this a 304 (RFC 9110 §13.2.2), and with which ETag.
///
/// `If-None-Match` uses weak comparison and matches any encoding's tag: all three are the same
/// content, so whichever the client holds is fresh, and the 304 names the one it holds so its
/// cache updates that stored response. When `If-None-Match` is present, `If-Modified-Since` is
/// ignored.
pub(super) fn not_modified<'t>(
    headers: &HeaderMap,
    tags: &'t VariantTags,
    coding: Coding,
    modified: SystemTime,
) -> Option<&'t str> {
    let selected = tags.of_coding(coding);
    let mut conditions = headers.get_all(header::IF_NONE_MATCH).iter().peekable();
    if conditions.peek().is_some() {
        let ours = [selected, &tags.identity, &tags.gzip, &tags.brotli];
        for value in conditions {
            let Ok(value) = value.to_str() else { continue };
            for theirs in entity_tags(value) {
                match theirs {
                    Validator::Any => return Some(selected),
                    Validator::Tag(theirs) => {
                        if let Some(tag) = ours.iter().find(|ours| **ours == theirs) {
                            return Some(tag);
                        }
                    }
                }
            }
        }
        return None;
    }
    let since = headers.get(header::IF_MODIFIED_SINCE)?.to_str().ok()?;
    let since = httpdate::parse_http_date(since).ok()?;
    (modified <= since).then_some(selected)
}

enum Validator<'a> {
    Any,
    /// The quoted opaque tag, `W/` removed (weak comparison).
    Tag(&'a str),
}

/// The entity tags of one `If-None-Match` value, stopping at the first malformed one. Commas
/// may stand inside a quoted tag, so this scans rather than splits.
fn entity_tags(value: &str) -> impl Iterator<Item = Validator<'_>> {
    let mut rest = value;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if let Some(after) = rest.strip_prefix('*') {
            rest = after;
            return Some(Validator::Any);
        }
        let tag = rest.strip_prefix("W/").unwrap_or(rest);
        let inner = tag.strip_prefix('"')?;
        let end = inner.find('"')?;
        let (quoted, after) = tag.split_at(end + 2);
        rest = after;
        Some(Validator::Tag(quoted))
    })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use hyper::header;
    use hyper::StatusCode;

    use super::*;
    use crate::http::fixtures::{body, file, get, header, served, tag_uri, TAG};

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, value.parse().unwrap());
        headers
    }

    #[test]
    fn browsers_want_a_page_and_feed_readers_a_feed() {
        // Chromium's and Firefox's navigation headers.
        let chromium = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
        assert!(wants_page(&accept(chromium)));
        assert!(wants_page(&accept("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")));
        assert!(wants_page(&accept("TEXT/HTML")));
        // Readers that name a feed type get the feed type, even when they take HTML too.
        assert!(!wants_page(&accept("application/atom+xml, application/rss+xml, text/html;q=0.5, */*;q=0.1")));
        assert!(!wants_page(&accept("application/rss+xml, text/html")));
        assert!(!wants_page(&accept("*/*")));
        assert!(!wants_page(&accept("text/html;q=0")));
        assert!(!wants_page(&HeaderMap::new()));
    }

    #[test]
    fn if_none_match_gives_304() {
        let served = served();
        let etag = file(&served, "feed.xml").etag.clone();
        let opaque = etag.trim_matches('"');
        for inm in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"other\", {etag}"),
            format!("\"a,b\",{etag}"),
            "*".to_string(),
            format!("\"{opaque}-gz\""),
            format!("\"{opaque}-br\""),
        ] {
            let response = get(&served, "/feed.xml", &[("if-none-match", &inm)]);
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{inm}");
            assert!(header(&response, header::ETAG).is_some());
            assert_eq!(header(&response, header::CACHE_CONTROL), Some("public, max-age=300"));
            assert_eq!(header(&response, header::VARY), Some("accept-encoding"));
            assert_eq!(header(&response, header::LAST_MODIFIED), Some("Fri, 01 Mar 2024 00:30:00 GMT"));
            assert_eq!(header(&response, header::CONTENT_LENGTH), None);
            assert!(body(response).is_empty());
        }
        // The 304 names the variant the client holds.
        let gz = format!("\"{opaque}-gz\"");
        let response = get(&served, "/feed.xml", &[("if-none-match", &gz), ("accept-encoding", "br")]);
        assert_eq!(header(&response, header::ETAG), Some(gz.as_str()));

        for inm in ["\"other\"", "W/\"other\"", "garbage", "\"unterminated", &format!("\"{opaque}-zz\"")] {
            let response = get(&served, "/feed.xml", &[("if-none-match", inm)]);
            assert_eq!(response.status(), StatusCode::OK, "{inm}");
        }
    }

    #[test]
    fn if_modified_since_gives_304_unless_if_none_match_disagrees() {
        let served = served();
        for (ims, status) in [
            ("Fri, 01 Mar 2024 00:30:00 GMT", StatusCode::NOT_MODIFIED),
            ("Sat, 02 Mar 2024 00:00:00 GMT", StatusCode::NOT_MODIFIED),
            ("Fri, 01 Mar 2024 00:29:59 GMT", StatusCode::OK),
            ("not a date", StatusCode::OK),
        ] {
            let response = get(&served, "/feed.rss", &[("if-modified-since", ims)]);
            assert_eq!(response.status(), status, "{ims}");
        }
        let fresh = "Sat, 02 Mar 2024 00:00:00 GMT";
        let response = get(&served, "/feed.rss", &[("if-modified-since", fresh), ("if-none-match", "\"stale\"")]);
        assert_eq!(response.status(), StatusCode::OK);
        let etag = file(&served, "feed.rss").etag.clone();
        let response = get(
            &served,
            "/feed.rss",
            &[("if-modified-since", "Thu, 01 Jan 1970 00:00:00 GMT"), ("if-none-match", &etag)],
        );
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
    }

    #[test]
    fn compressed_bodies_decompress_to_the_feed() {
        let served = served();
        let uri = tag_uri();
        let feed = file(&served, &format!("feed/by_tag/{TAG}.xml"));
        let opaque = feed.etag.trim_matches('"');

        let response = get(&served, &uri, &[("accept-encoding", "gzip")]);
        assert_eq!(header(&response, header::CONTENT_ENCODING), Some("gzip"));
        assert_eq!(header(&response, header::ETAG), Some(format!("\"{opaque}-gz\"").as_str()));
        let gz = body(response);
        assert!(gz.len() < feed.body.to_bytes().len());
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, feed.body.to_bytes());

        let response = get(&served, &uri, &[("accept-encoding", "gzip, deflate, br, zstd")]);
        assert_eq!(header(&response, header::CONTENT_ENCODING), Some("br"));
        assert_eq!(header(&response, header::ETAG), Some(format!("\"{opaque}-br\"").as_str()));
        let br = body(response);
        let mut plain = Vec::new();
        brotli::Decompressor::new(&br[..], 4096).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, feed.body.to_bytes());
    }

    #[test]
    fn accept_encoding_q_values_are_honoured() {
        let served = served();
        for (accept, expected) in [
            ("gzip;q=0, br", Some("br")),
            ("br;q=0, gzip", Some("gzip")),
            ("br;q=0.5, gzip;q=0.8", Some("gzip")),
            ("BR;Q=0.8, GZIP;q=0.8", Some("br")),
            ("x-gzip", Some("gzip")),
            ("*", Some("br")),
            ("*;q=0.1, br;q=0", Some("gzip")),
            ("gzip;q=0.5", Some("gzip")),
            ("identity, gzip;q=0.5", None),
            ("gzip;q=0.5, identity;q=1", None),
            ("identity;q=0, *;q=0", None),
            ("*;q=0", None),
            ("identity;q=0", None),
            ("gzip;q=2", None),
            ("gzip;q=abc, br;q=1.0", Some("br")),
            ("br;q=0.0001", None),
            ("deflate, zstd", None),
            ("", None),
            (" , ;, ;q=1", None),
        ] {
            let response = get(&served, "/feed.xml", &[("accept-encoding", accept)]);
            assert_eq!(response.status(), StatusCode::OK, "{accept:?}");
            assert_eq!(header(&response, header::CONTENT_ENCODING), expected, "{accept:?}");
        }
        let split = get(&served, "/feed.xml", &[("accept-encoding", "gzip;q=0.1"), ("accept-encoding", "br")]);
        assert_eq!(header(&split, header::CONTENT_ENCODING), Some("br"));
        assert_eq!(qvalue("0.125"), Some(125));
        assert_eq!(qvalue("1.000"), Some(1000));
        assert_eq!(qvalue("1.001"), None);
        assert_eq!(qvalue("0.1234"), None);
    }

    #[test]
    fn odd_if_none_match_values_are_answered() {
        let served = served();
        let etag = file(&served, "feed.xml").etag.clone();
        for (inm, status) in [
            // A space inside quotes is a valid header value but no valid entity tag.
            ("\"a b\"".to_string(), StatusCode::OK),
            (format!("\"a b\", {etag}"), StatusCode::NOT_MODIFIED),
            // The list is read up to its first malformed tag.
            (format!("garbage, {etag}"), StatusCode::OK),
            ("\"other\", *".to_string(), StatusCode::NOT_MODIFIED),
        ] {
            assert_eq!(get(&served, "/feed.xml", &[("if-none-match", &inm)]).status(), status, "{inm}");
        }
    }
}
