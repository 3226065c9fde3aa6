//! The tests' one HTTP/1.1 client: requests written byte for byte over `std::net::TcpStream` (no
//! HTTP client crate), so that malformed and hostile requests reach the server unchanged, and
//! responses read back strictly.

use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// How long a connection may take to open, and each read or write.
const TIMEOUT: Duration = Duration::from_secs(20);

/// One response as read off the wire.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body; for a response that has none (HEAD, 304), whatever followed the head, so that
    /// a test can assert it is empty.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    #[track_caller]
    pub fn expect_header(&self, name: &str) -> &str {
        self.header(name).unwrap_or_else(|| panic!("no {name} header in {self:?}"))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` on a fresh connection and reads until the server closes it (or `timeout`).
pub fn exchange(addr: SocketAddr, request: &[u8], timeout: Duration) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(request)?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// One request on a fresh connection (`Connection: close`), the target sent exactly as given;
/// the answer must be exactly one complete response.
pub fn request(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> io::Result<Response> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if !matches!(method, "GET" | "HEAD") {
        head += "Content-Length: 0\r\n";
    }
    head += "\r\n";
    let raw = exchange(addr, head.as_bytes(), TIMEOUT)?;
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
    let (response, rest) = split_response(&raw, method == "HEAD").map_err(invalid)?;
    if !rest.is_empty() {
        return Err(invalid(format!("{} bytes after the response: {:?}", rest.len(), String::from_utf8_lossy(rest))));
    }
    Ok(response)
}

/// `GET target` (sent as it is: percent-encode it first).
pub fn get(addr: SocketAddr, target: &str) -> io::Result<Response> {
    request(addr, "GET", target, &[])
}

/// The first complete response in `raw` to a request that was not HEAD, if there is one.
pub fn parse_response(raw: &[u8]) -> Option<Response> {
    split_response(raw, false).ok().map(|(response, _)| response)
}

/// The first response in `raw` and the bytes after it. Errors say what is missing or wrong.
pub fn split_response(raw: &[u8], head_request: bool) -> Result<(Response, &[u8]), String> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no end of the response head")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|e| format!("response head is not UTF-8: {e}"))?;
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    if !parts.next().unwrap_or_default().starts_with("HTTP/1.") {
        return Err(format!("bad status line {status_line:?}"));
    }
    let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or(format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(format!("bad header line {line:?}"))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let mut response = Response { status, headers, body: Vec::new() };
    let no_body = head_request || status == 304 || status == 204 || (100..200).contains(&status);
    let after: &[u8] = if no_body {
        response.body = rest.to_vec();
        &[]
    } else if response.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let (body, after) = dechunk(rest)?;
        response.body = body;
        after
    } else if let Some(length) = response.header("content-length") {
        let length: usize = length.parse().map_err(|_| format!("bad Content-Length {length:?}"))?;
        if rest.len() < length {
            return Err(format!("Content-Length {length} but {} body bytes", rest.len()));
        }
        response.body = rest[..length].to_vec();
        &rest[length..]
    } else {
        response.body = rest.to_vec();
        &[]
    };
    Ok((response, after))
}

/// A chunked body and the bytes after it.
fn dechunk(mut rest: &[u8]) -> Result<(Vec<u8>, &[u8]), String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").ok_or("truncated chunk size")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| "bad chunk size")?;
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            // Trailer fields, if any, then an empty line.
            let end = match rest.strip_prefix(b"\r\n") {
                Some(_) => 2,
                None => rest.windows(4).position(|w| w == b"\r\n\r\n").ok_or("truncated chunked trailer")? + 4,
            };
            return Ok((body, &rest[end..]));
        }
        if rest.len() < size + 2 {
            return Err("truncated chunk".into());
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}
