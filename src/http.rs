//! Everything HTTP: the index, OPML and health pages built once per snapshot ([`Served`]), the pure
//! request-to-response function ([`respond`]: routing, conditional GET, content negotiation) and
//! the hyper accept loop ([`serve`]: connection cap, timeouts, graceful shutdown).

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use bytes::Bytes;
use chrono::{DateTime, FixedOffset};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::{Config, ServerConfig};
use crate::feed::Format;
use crate::markup::escape_markup as escape;
use crate::memfile::{self, MemFile};
use crate::post;
use crate::snapshot::{FeedInfo, Rendered, Snapshot};

/// Content type of the index page at `/`.
pub const INDEX_MIME: &str = "text/html; charset=utf-8";
/// Content type of `/feeds.opml`: `text/x-opml` is what feed readers and browsers recognise.
pub const OPML_MIME: &str = "text/x-opml; charset=utf-8";
const TEXT_MIME: &str = "text/plain; charset=utf-8";

const INDEX_PATH: &str = "/";
const OPML_PATH: &str = "/feeds.opml";
const HEALTH_PATH: &str = "/healthz";

/// One snapshot as served: its feed files plus the pages made from it.
#[derive(Debug)]
pub struct Served {
    snapshot: Arc<Snapshot>,
    config: Config,
    /// Made on first request: with thousands of feeds they cost milliseconds, and an update
    /// should not pay them for pages nobody may ask for before the next one.
    index: OnceLock<Rendered>,
    opml: OnceLock<Rendered>,
}

impl Served {
    /// `/` and `/feeds.opml` are functions of the snapshot and the configuration only (no
    /// clock), so equal inputs give equal bytes and ETags.
    pub fn new(snapshot: Arc<Snapshot>, config: &Config) -> Served {
        Served { snapshot, config: config.clone(), index: OnceLock::new(), opml: OnceLock::new() }
    }

    pub fn snapshot(&self) -> &Arc<Snapshot> {
        &self.snapshot
    }

    /// The index page served at `/`.
    pub fn index(&self) -> &Rendered {
        self.index.get_or_init(|| self.page(index_html(&self.snapshot, &self.config), INDEX_MIME))
    }

    /// The OPML subscription list served at `/feeds.opml`.
    pub fn opml(&self) -> &Rendered {
        self.opml.get_or_init(|| self.page(opml_xml(&self.snapshot, &self.config), OPML_MIME))
    }

    fn page(&self, text: String, mime: &'static str) -> Rendered {
        let mut page = Rendered::new(text.into_bytes(), newest_update(&self.snapshot), mime);
        // The pages change when a feed does. (A feed that disappears changes no feed's time: an
        // If-Modified-Since client may then keep its page a while; ETag clients do not.)
        page.modified = self.snapshot.files.values().map(|f| f.modified).max().unwrap_or(UNIX_EPOCH);
        page
    }

    fn lookup(&self, path: &str) -> Option<Target<'_>> {
        match path {
            INDEX_PATH => Some(Target::File(self.index())),
            OPML_PATH => Some(Target::File(self.opml())),
            HEALTH_PATH => Some(Target::Health),
            _ => {
                let relative = path.strip_prefix('/')?;
                self.snapshot.files.get(relative).map(|f| Target::File(f))
            }
        }
    }
}

enum Target<'a> {
    File(&'a Rendered),
    Health,
}

/// The newest feed update, or the epoch when there are no feeds.
fn newest_update(snapshot: &Snapshot) -> DateTime<FixedOffset> {
    snapshot.feeds.values().map(|f| f.updated).max().unwrap_or_else(|| DateTime::UNIX_EPOCH.fixed_offset())
}

/// Each feed with the formats the snapshot holds for it and their output-relative paths.
fn feed_files(snapshot: &Snapshot) -> Vec<(&FeedInfo, Vec<(Format, String)>)> {
    snapshot
        .feeds
        .values()
        .map(|info| {
            let files = [Format::Atom, Format::Rss]
                .into_iter()
                .map(|format| (format, info.key.path(format)))
                .filter(|(_, path)| snapshot.files.contains_key(path))
                .collect();
            (info, files)
        })
        .filter(|(_, files): &(_, Vec<_>)| !files.is_empty())
        .collect()
}

fn feed_type(format: Format) -> &'static str {
    match format {
        Format::Atom => "application/atom+xml",
        Format::Rss => "application/rss+xml",
    }
}

fn format_name(format: Format) -> &'static str {
    match format {
        Format::Atom => "Atom",
        Format::Rss => "RSS",
    }
}

/// The index page. Links are relative (no leading `/`) so the page works both when the daemon
/// is reached directly and when it sits behind a proxy under the site's base path.
fn index_html(snapshot: &Snapshot, config: &Config) -> String {
    let site = &config.site;
    let feeds = feed_files(snapshot);
    let title = format!("{} — feeds", site.title);
    let mut h = String::new();
    h.push_str("<!DOCTYPE html>\n");
    match &site.language {
        Some(lang) => _ = writeln!(h, "<html lang=\"{}\">", escape(&lang.replace('_', "-"))),
        None => h.push_str("<html>\n"),
    }
    h.push_str("<head>\n<meta charset=\"utf-8\">\n");
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    _ = writeln!(h, "<title>{}</title>", escape(&title));
    for (info, files) in &feeds {
        for (format, path) in files {
            _ = writeln!(
                h,
                "<link rel=\"alternate\" type=\"{}\" title=\"{} ({})\" href=\"{}\">",
                feed_type(*format),
                escape(&info.title),
                format_name(*format),
                escape(&post::encode_path(path))
            );
        }
    }
    h.push_str("</head>\n<body>\n");
    _ = writeln!(h, "<h1>{}</h1>", escape(&title));
    if !site.description.trim().is_empty() {
        _ = writeln!(h, "<p>{}</p>", escape(&site.description));
    }
    if feeds.is_empty() {
        h.push_str("<p>No feeds yet.</p>\n");
    } else {
        h.push_str("<table>\n<thead><tr><th>Feed</th><th>Entries</th><th>Last update</th><th>Subscribe</th></tr></thead>\n<tbody>\n");
        for (info, files) in &feeds {
            let links: Vec<String> = files
                .iter()
                .map(|(format, path)| {
                    format!(
                        "<a href=\"{}\" type=\"{}\">{}</a>",
                        escape(&post::encode_path(path)),
                        feed_type(*format),
                        format_name(*format)
                    )
                })
                .collect();
            let entries = if info.entries == 1 { "1 entry".to_string() } else { format!("{} entries", info.entries) };
            _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td><time datetime=\"{}\">{}</time></td><td>{}</td></tr>",
                escape(&info.title),
                entries,
                info.updated.to_rfc3339(),
                info.updated.format("%Y-%m-%d %H:%M"),
                links.join(" ")
            );
        }
        h.push_str("</tbody>\n</table>\n");
    }
    h.push_str("<p><a href=\"feeds.opml\" type=\"text/x-opml\">All feeds as OPML</a></p>\n");
    h.push_str("</body>\n</html>\n");
    h
}

/// OPML 2.0 with one outline per feed, Atom preferred when both formats exist, so that
/// importing it subscribes to each feed once. `dateModified` is the newest feed's update.
fn opml_xml(snapshot: &Snapshot, config: &Config) -> String {
    let site = &config.site;
    let feeds = feed_files(snapshot);
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">\n<head>\n");
    _ = writeln!(x, "<title>{}</title>", escape(&format!("{} — feeds", site.title)));
    if !feeds.is_empty() {
        _ = writeln!(x, "<dateModified>{}</dateModified>", newest_update(snapshot).to_rfc2822());
    }
    if let Some(author) = &site.author {
        _ = writeln!(x, "<ownerName>{}</ownerName>", escape(author));
    }
    x.push_str("</head>\n<body>\n");
    for (info, files) in &feeds {
        let Some((_, path)) = files.first() else {
            continue;
        };
        let url = post::absolute(site, &post::encode_path(&format!("/{path}")));
        _ = writeln!(
            x,
            "<outline type=\"rss\" text=\"{title}\" title=\"{title}\" xmlUrl=\"{}\" htmlUrl=\"{}\"/>",
            escape(&url),
            escape(site.url.as_str()),
            title = escape(&info.title)
        );
    }
    x.push_str("</body>\n</opml>\n");
    x
}

/// Answers one request from `served`. Pure: no I/O, no clock.
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
) -> Response<Full<Bytes>> {
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
            let mut response = plain(StatusCode::OK, "ok", head);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Target::File(file) => representation(file, headers, max_age, head),
    }
}

/// A small text response, e.g. an error; HEAD gets the same headers and no body.
fn plain(status: StatusCode, text: &'static str, head: bool) -> Response<Full<Bytes>> {
    let body = if head { Bytes::new() } else { Bytes::from_static(text.as_bytes()) };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_MIME));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(text.len()));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}

fn representation(file: &Rendered, headers: &HeaderMap, max_age: u32, head: bool) -> Response<Full<Bytes>> {
    let coding = negotiate(headers);
    let tags = VariantTags::of(&file.etag);
    // When these bytes were first made, not the newest entry's date: an edit or a deletion
    // must change Last-Modified, and it must never lie in the future (RFC 9110 8.8.2.1).
    let modified = whole_seconds(file.modified);
    let last_modified = modified.min(SystemTime::now());
    let mut response = Response::new(Full::new(Bytes::new()));
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, header_value(format!("public, max-age={max_age}")));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::LAST_MODIFIED, header_value(httpdate::fmt_http_date(last_modified)));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));

    if let Some(tag) = not_modified(headers, &tags, coding, modified) {
        h.insert(header::ETAG, header_value(tag.to_string()));
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        return response;
    }

    let body = match coding {
        Coding::Brotli => file.brotli().clone(),
        Coding::Gzip => file.gzip().clone(),
        Coding::Identity => file.bytes.clone(),
    };
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(file.mime));
    h.insert(header::ETAG, header_value(tags.of_coding(coding).to_string()));
    if let Some(name) = coding.header() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    if !head {
        if let (Coding::Identity, Some(memfile)) = (coding, file.memfile()) {
            response.extensions_mut().insert(Sendfile(Arc::clone(memfile)));
        }
        *response.body_mut() = Full::new(body);
    }
    response
}

/// Marks a response whose body lies in a memory file: the connection may send it from there.
#[derive(Clone)]
pub struct Sendfile(pub Arc<MemFile>);

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

/// A content coding we can send, in our order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    Brotli,
    Gzip,
    Identity,
}

impl Coding {
    const PREFERENCE: [Coding; 3] = [Coding::Brotli, Coding::Gzip, Coding::Identity];

    /// The `Content-Encoding` value, none for identity.
    fn header(self) -> Option<&'static str> {
        match self {
            Coding::Brotli => Some("br"),
            Coding::Gzip => Some("gzip"),
            Coding::Identity => None,
        }
    }
}

/// Picks the coding from `Accept-Encoding`: the highest q-value wins, ties go to br, then gzip,
/// then identity. Without the header, identity. Weights are in thousandths.
fn negotiate(headers: &HeaderMap) -> Coding {
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
struct VariantTags {
    identity: String,
    gzip: String,
    brotli: String,
}

impl VariantTags {
    fn of(etag: &str) -> VariantTags {
        let opaque = etag.strip_prefix('"').and_then(|t| t.strip_suffix('"')).unwrap_or(etag);
        VariantTags {
            identity: format!("\"{opaque}\""),
            gzip: format!("\"{opaque}-gz\""),
            brotli: format!("\"{opaque}-br\""),
        }
    }

    fn of_coding(&self, coding: Coding) -> &str {
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
fn not_modified<'t>(
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

/// Connection limits and cache lifetime for [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpLimits {
    /// Connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// Time to receive a whole request head, counted from the connection's start or from the
    /// first byte of a later request. Zero: no limit.
    pub header_timeout: Duration,
    /// Time a connection may make no progress otherwise (idle keep-alive, a stalled reader).
    /// Zero: no limit.
    pub idle_timeout: Duration,
    /// Largest request line plus headers; larger requests get 431.
    pub max_header_bytes: usize,
    /// `Cache-Control: max-age` of feeds and pages, in seconds.
    pub max_age: u32,
}

impl HttpLimits {
    pub fn from_config(server: &ServerConfig) -> HttpLimits {
        HttpLimits {
            max_connections: server.max_connections,
            header_timeout: Duration::from_millis(server.header_timeout_ms),
            idle_timeout: Duration::from_millis(server.idle_timeout_ms),
            max_header_bytes: server.max_header_bytes,
            max_age: server.max_age,
        }
    }
}

/// Serves HTTP/1.1 on `listener` until `shutdown` completes, then stops accepting, lets every
/// open connection finish its in-flight request (idle ones close at once), and returns.
///
/// Each request reads `current` once, so it is answered from one consistent [`Served`]. When
/// `max_connections` are open, the loop stops accepting until one closes: waiting clients queue
/// in the kernel's backlog and the open ones keep being served; the timeouts bound the wait.
pub async fn serve(
    listener: TcpListener,
    current: Arc<ArcSwap<Served>>,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let capacity = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let slots = Arc::new(Semaphore::new(capacity));
    let (stop, stopped) = watch::channel(());
    let mut builder = http1::Builder::new();
    // hyper's own header timer also runs while a kept-alive connection waits for its next
    // request, which would cap keep-alive at the header timeout; `Activity` times both instead.
    builder.keep_alive(true).max_header_size(limits.max_header_bytes).header_read_timeout(None);
    let mut shutdown = pin!(shutdown);
    loop {
        let permit = tokio::select! {
            biased;
            () = &mut shutdown => break,
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                let connection = Connection {
                    builder: builder.clone(),
                    current: Arc::clone(&current),
                    limits,
                    stopped: stopped.clone(),
                    _permit: permit,
                };
                tokio::spawn(connection.run(stream, peer));
            }
            Err(error) => {
                // Usually out of file descriptors: pause rather than spin.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
        }
    }
    drop(listener);
    tracing::debug!("http: stopped accepting, draining connections");
    _ = stop.send(());
    // Every connection holds a permit until it ends: having them all back means all are done.
    let capacity = u32::try_from(capacity).unwrap_or(u32::MAX);
    _ = slots.acquire_many(capacity).await;
    tracing::debug!("http: all connections closed");
}

struct Connection {
    builder: http1::Builder,
    current: Arc<ArcSwap<Served>>,
    limits: HttpLimits,
    stopped: watch::Receiver<()>,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, peer: SocketAddr) {
        _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let outgoing: Arc<Mutex<Option<Arc<MemFile>>>> = Arc::default();
        let io = TokioIo::new(Tracked { stream, activity: Arc::clone(&activity), outgoing: Arc::clone(&outgoing) });
        let current = Arc::clone(&self.current);
        let max_age = self.limits.max_age;
        let request_activity = Arc::clone(&activity);
        let service = service_fn(move |request: Request<Incoming>| {
            request_activity.head_received();
            let served = current.load();
            let response = respond(&served, request.method(), request.uri(), request.headers(), max_age);
            *outgoing.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
                response.extensions().get::<Sendfile>().map(|s| Arc::clone(&s.0));
            tracing::debug!(
                %peer,
                method = %request.method(),
                uri = %request.uri(),
                status = response.status().as_u16(),
                encoding = response.headers().get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity"),
                "request"
            );
            std::future::ready(Ok::<_, Infallible>(response))
        });
        let mut connection = pin!(self.builder.serve_connection(io, service));
        let mut expired = pin!(activity.expired(self.limits));
        let mut draining = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                    return;
                }
                _ = self.stopped.changed(), if !draining => {
                    draining = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = &mut expired => {
                    tracing::debug!(%peer, "closing a timed-out connection");
                    return;
                }
            }
        }
    }
}

/// When a connection last made progress, and since when it has been waiting for a request head.
struct Activity {
    state: Mutex<ActivityState>,
}

struct ActivityState {
    last_progress: Instant,
    /// Set at the start and by the first byte after a request head; cleared when a head is in.
    head_since: Option<Instant>,
}

impl Activity {
    fn new() -> Activity {
        let now = Instant::now();
        Activity { state: Mutex::new(ActivityState { last_progress: now, head_since: Some(now) }) }
    }

    fn lock(&self) -> MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn read_some(&self) {
        let now = Instant::now();
        let mut state = self.lock();
        state.last_progress = now;
        state.head_since.get_or_insert(now);
    }

    fn wrote_some(&self) {
        self.lock().last_progress = Instant::now();
    }

    fn head_received(&self) {
        let mut state = self.lock();
        state.last_progress = Instant::now();
        state.head_since = None;
    }

    fn deadline(&self, limits: &HttpLimits) -> Option<Instant> {
        let state = self.lock();
        let after = |since: Instant, limit: Duration| (!limit.is_zero()).then(|| since + limit);
        match state.head_since {
            Some(since) => after(since, limits.header_timeout),
            None => after(state.last_progress, limits.idle_timeout),
        }
    }

    /// Completes once the connection has overrun its header or idle timeout.
    async fn expired(&self, limits: HttpLimits) {
        loop {
            match self.deadline(&limits) {
                Some(deadline) if deadline <= Instant::now() => return,
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                // No limit in this state now; look again later, the state may change.
                None => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    }
}

/// A TCP stream that reports progress to its connection's [`Activity`].
struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
    /// The memory file of the body being sent, if it has one: those bytes go out by `sendfile`.
    outgoing: Arc<Mutex<Option<Arc<MemFile>>>>,
}

impl Tracked {
    /// Sends from the memory file the part of `bufs` that is its bytes, or writes the slices
    /// before that part. Only bytes that lie inside the file's own mapping are sent from it, so
    /// what goes out is always exactly what hyper asked to write.
    fn poll_send(&mut self, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let file = self.outgoing.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        let mut bufs = bufs;
        if let Some(file) = file {
            let from_file = bufs.iter().position(|b| !b.is_empty() && file.offset_of(b).is_some());
            match from_file {
                Some(i) if bufs[..i].iter().all(|b| b.is_empty()) => {
                    let (slice, offset) = (&bufs[i], file.offset_of(&bufs[i]).unwrap_or_default());
                    return self.poll_sendfile(cx, &file, offset, slice.len());
                }
                Some(i) => bufs = &bufs[..i],
                None => {}
            }
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn poll_sendfile(&self, cx: &mut Context<'_>, file: &MemFile, offset: u64, len: usize) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.stream.poll_write_ready(cx))?;
            let socket = self.stream.as_fd();
            match self.stream.try_io(Interest::WRITABLE, || memfile::send(socket, file, offset, len)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
    }
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read_some();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = self.poll_send(cx, &[io::IoSlice::new(buf)]);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote_some();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = self.poll_send(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote_some();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::path::Path;
    use std::str::FromStr;

    use http_body_util::BodyExt;
    use hyper::header::HeaderName;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::feed::FeedKey;

    const TAG: &str = "荆州日报新闻";

    fn config() -> Config {
        let text =
            "[site]\nurl = \"https://example.org/blog\"\ntitle = \"Tom & Jerry's <blog>\"\nlanguage = \"zh_CN\"\n";
        Config::parse(text, Path::new("/")).unwrap()
    }

    fn updated() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2024-03-01T08:30:00+08:00").unwrap()
    }

    fn served() -> Served {
        let config = config();
        let mut snapshot = Snapshot::default();
        for (key, entries) in [(FeedKey::Site, 3), (FeedKey::Tag(TAG.into()), 1), (FeedKey::Category("news".into()), 2)]
        {
            for format in [Format::Atom, Format::Rss] {
                let body = format!("<feed>{}</feed>", format!("<entry>{key:?} {format:?} 荆州</entry>\n").repeat(40));
                let mut file = Rendered::new(body.into_bytes(), updated(), format.mime());
                file.modified = UNIX_EPOCH + Duration::from_secs(updated().timestamp().unsigned_abs());
                snapshot.files.insert(key.path(format), Arc::new(file));
            }
            let info = FeedInfo { key: key.clone(), title: key.title(&config.site.title), entries, updated: updated() };
            snapshot.feeds.insert(key, info);
        }
        Served::new(Arc::new(snapshot), &config)
    }

    fn request(served: &Served, method: Method, uri: &str, headers: &[(&str, &str)]) -> Response<Full<Bytes>> {
        let uri = Uri::from_str(uri).unwrap();
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(HeaderName::from_str(name).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        respond(served, &method, &uri, &map, 300)
    }

    fn get(served: &Served, uri: &str, headers: &[(&str, &str)]) -> Response<Full<Bytes>> {
        request(served, Method::GET, uri, headers)
    }

    fn body(response: Response<Full<Bytes>>) -> Bytes {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(response.into_body().collect()).unwrap().to_bytes()
    }

    fn header(response: &Response<Full<Bytes>>, name: HeaderName) -> Option<&str> {
        response.headers().get(name).map(|v| v.to_str().unwrap())
    }

    fn tag_uri() -> String {
        post::encode_path(&format!("/feed/by_tag/{TAG}.xml"))
    }

    fn file<'s>(served: &'s Served, path: &str) -> &'s Rendered {
        &served.snapshot().files[path]
    }

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
        assert_eq!(header(&response, header::CONTENT_LENGTH), Some(feed.bytes.len().to_string().as_str()));
        assert_eq!(body(response), feed.bytes);

        let rss = get(&served, "/feed/news.rss?utm=x", &[]);
        assert_eq!(header(&rss, header::CONTENT_TYPE), Some("application/rss+xml; charset=utf-8"));
        assert_eq!(body(rss), file(&served, "feed/news.rss").bytes);
    }

    #[test]
    fn cjk_paths_are_decoded() {
        let served = served();
        let uri = tag_uri();
        assert!(uri.starts_with("/feed/by_tag/%E8%8D%86"), "{uri}");
        let response = get(&served, &uri, &[]);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body(response), file(&served, &format!("feed/by_tag/{TAG}.xml")).bytes);
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
        assert!(gz.len() < feed.bytes.len());
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, feed.bytes);

        let response = get(&served, &uri, &[("accept-encoding", "gzip, deflate, br, zstd")]);
        assert_eq!(header(&response, header::CONTENT_ENCODING), Some("br"));
        assert_eq!(header(&response, header::ETAG), Some(format!("\"{opaque}-br\"").as_str()));
        let br = body(response);
        let mut plain = Vec::new();
        brotli::Decompressor::new(&br[..], 4096).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, feed.bytes);
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
    fn index_links_every_feed_for_autodiscovery() {
        let served = served();
        let response = get(&served, "/", &[]);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, header::CONTENT_TYPE), Some(INDEX_MIME));
        assert_eq!(header(&response, header::ETAG), Some(served.index().etag.as_str()));
        let html = String::from_utf8(body(response).to_vec()).unwrap();
        let head = &html[..html.find("</head>").unwrap()];
        for info in served.snapshot().feeds.values() {
            for (format, kind) in [(Format::Atom, "atom"), (Format::Rss, "rss")] {
                let href = post::encode_path(&info.key.path(format));
                let tag = format!(
                    "<link rel=\"alternate\" type=\"application/{kind}+xml\" title=\"{} ({})\" href=\"{href}\">",
                    escape(&info.title),
                    format_name(format)
                );
                assert!(head.contains(&tag), "{tag}\n{html}");
                assert!(html.contains(&format!("<a href=\"{href}\"")), "{href}");
            }
        }
        assert!(html.contains("<html lang=\"zh-CN\">"));
        assert!(html.contains("Tom &amp; Jerry&#39;s &lt;blog&gt; · #荆州日报新闻"), "{html}");
        assert!(!html.contains("<blog>"));
        assert!(html.contains("3 entries") && html.contains("1 entry"));
        assert!(html.contains("2024-03-01 08:30"));
        // Deterministic: the same snapshot renders the same bytes.
        assert_eq!(served.index().bytes, Served::new(Arc::clone(served.snapshot()), &config()).index().bytes);
    }

    #[test]
    fn opml_lists_every_feed_once_with_absolute_urls() {
        let served = served();
        let response = get(&served, "/feeds.opml", &[]);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(header(&response, header::CONTENT_TYPE), Some(OPML_MIME));
        let opml = String::from_utf8(body(response).to_vec()).unwrap();
        assert!(opml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\">"));
        assert!(opml.contains("<dateModified>Fri, 1 Mar 2024 08:30:00 +0800</dateModified>"), "{opml}");
        assert_eq!(opml.matches("<outline ").count(), served.snapshot().feeds.len());
        for url in [
            "https://example.org/blog/feed.xml".to_string(),
            "https://example.org/blog/feed/news.xml".to_string(),
            format!("https://example.org/blog{}", tag_uri()),
        ] {
            assert!(opml.contains(&format!("xmlUrl=\"{url}\"")), "{url}\n{opml}");
        }
        assert!(opml.contains("title=\"Tom &amp; Jerry&#39;s &lt;blog&gt;\""));
        assert_eq!(served.opml().bytes, Served::new(Arc::clone(served.snapshot()), &config()).opml().bytes);
    }

    #[test]
    fn empty_snapshot_pages_render() {
        let served = Served::new(Arc::new(Snapshot::default()), &config());
        let html = String::from_utf8(body(get(&served, "/", &[])).to_vec()).unwrap();
        assert!(html.contains("No feeds yet."));
        let opml = String::from_utf8(body(get(&served, "/feeds.opml", &[])).to_vec()).unwrap();
        assert!(!opml.contains("<outline") && !opml.contains("dateModified"));
        assert_eq!(header(&get(&served, "/", &[]), header::LAST_MODIFIED), Some("Thu, 01 Jan 1970 00:00:00 GMT"));
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

    fn limits() -> HttpLimits {
        HttpLimits {
            max_connections: 4,
            header_timeout: Duration::from_millis(300),
            idle_timeout: Duration::from_secs(30),
            max_header_bytes: 8192,
            max_age: 60,
        }
    }

    async fn read_response(stream: &mut TcpStream) -> String {
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await.unwrap().unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn serves_over_tcp_and_shuts_down_gracefully() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let current = Arc::new(ArcSwap::from_pointee(served()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, Arc::clone(&current), limits(), async {
            _ = stopped.await;
        }));

        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request =
            format!("GET {} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n", tag_uri());
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200 ok"), "{head}");
        assert!(head.contains("content-encoding: gzip"), "{head}");
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&raw[split + 4..]).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, current.load().snapshot().files[&format!("feed/by_tag/{TAG}.xml")].bytes);

        // HEAD keeps the real Content-Length on the wire.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"HEAD /feed.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let text = read_response(&mut stream).await.to_ascii_lowercase();
        let length = current.load().snapshot().files["feed.xml"].bytes.len();
        assert!(text.contains(&format!("content-length: {length}\r\n")), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "{text}");

        // A client that never sends its request head is dropped after the header timeout.
        let mut silent = TcpStream::connect(addr).await.unwrap();
        assert_eq!(read_response(&mut silent).await, "");

        // An idle kept-alive connection does not hold up shutdown.
        let mut idle = TcpStream::connect(addr).await.unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = [0; 1024];
        let n = idle.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("\r\n\r\nok"));

        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap();
        assert_eq!(read_response(&mut idle).await, "");
        assert!(TcpStream::connect(addr).await.is_err());
    }

    fn in_memfiles(mut snapshot: Snapshot) -> Snapshot {
        for file in snapshot.files.values_mut() {
            Arc::get_mut(file).expect("a snapshot of its own").move_to_memfile();
        }
        snapshot
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_file_bodies_arrive_whole_on_a_slow_kept_alive_connection() {
        // 4 MiB that does not compress, read slowly: sendfile returns short counts and would-block.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let big: Vec<u8> = (0..4 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                b'a' + (state % 26) as u8
            })
            .collect();
        let mut snapshot = {
            let base = served();
            base.snapshot().as_ref().clone()
        };
        snapshot.files.insert("feed.xml".into(), Arc::new(Rendered::new(big.clone(), updated(), Format::Atom.mime())));
        let snapshot = in_memfiles(snapshot);
        assert!(snapshot.files["feed.xml"].memfile().is_some());
        let current = Arc::new(ArcSwap::from_pointee(Served::new(Arc::new(snapshot), &config())));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, Arc::clone(&current), limits(), async {
            _ = stopped.await;
        }));
        let sent_before = memfile::BYTES_SENT.load(std::sync::atomic::Ordering::Relaxed);

        let mut stream = TcpStream::connect(addr).await.unwrap();
        let requests = format!(
            "GET /feed.xml HTTP/1.1\r\nHost: x\r\n\r\nGET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            tag_uri()
        );
        stream.write_all(requests.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        let mut chunk = vec![0; 64 * 1024];
        loop {
            let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await.unwrap().unwrap();
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&chunk[..n]);
            if raw.len() < 1 << 20 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        let first_head = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(raw.starts_with(b"HTTP/1.1 200 OK"));
        assert_eq!(&raw[first_head..first_head + big.len()], &big[..]);
        let rest = &raw[first_head + big.len()..];
        let second_head = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(rest.starts_with(b"HTTP/1.1 200 OK"), "{}", String::from_utf8_lossy(&rest[..second_head]));
        let served_now = current.load();
        let tag_file = &served_now.snapshot().files[&format!("feed/by_tag/{TAG}.xml")];
        assert_eq!(&rest[second_head..], &tag_file.bytes[..]);
        let sent = memfile::BYTES_SENT.load(std::sync::atomic::Ordering::Relaxed) - sent_before;
        assert!(sent >= (big.len() + tag_file.bytes.len()) as u64, "only {sent} bytes went by sendfile");

        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap();
    }
}
