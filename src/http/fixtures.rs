//! What the HTTP tests share: a snapshot of three feeds in every format, and `respond` asked
//! about it the way the server asks.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use chrono::{DateTime, FixedOffset};
use http_body_util::BodyExt;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Response, Uri};

use super::{respond, ResponseBody, Served};
use crate::config::Config;
use crate::feed::{FeedKey, Format};
use crate::snapshot::{FeedInfo, Rendered, Snapshot};

pub(super) const TAG: &str = "荆州日报新闻";

pub(super) fn config() -> Config {
    let text = "[site]\nurl = \"https://example.org/blog\"\ntitle = \"Tom & Jerry's <blog>\"\nlanguage = \"zh_CN\"\n";
    Config::parse(text, Path::new("/")).unwrap()
}

pub(super) fn updated() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2024-03-01T08:30:00+08:00").unwrap()
}

pub(super) fn served() -> Served {
    let config = config();
    let mut snapshot = Snapshot::default();
    for (key, entries) in [(FeedKey::Site, 3), (FeedKey::Tag(TAG.into()), 1), (FeedKey::Category("news".into()), 2)] {
        for format in Format::ALL {
            let body = format!("<feed>{}</feed>", format!("<entry>{key:?} {format:?} 荆州</entry>\n").repeat(40));
            let mut file = Rendered::new(body.into_bytes(), format.mime());
            file.modified = UNIX_EPOCH + Duration::from_secs(updated().timestamp().unsigned_abs());
            snapshot.files.insert(key.path(&config.feeds.paths, format), Arc::new(file));
        }
        let files = Format::ALL.into_iter().map(|format| (format, key.path(&config.feeds.paths, format))).collect();
        let title = key.title(&config.site.title);
        let info = FeedInfo { key: key.clone(), title, entries, updated: updated(), files };
        snapshot.feeds.insert(key, info);
    }
    Served::new(Arc::new(snapshot), &config)
}

pub(super) fn request(served: &Served, method: Method, uri: &str, headers: &[(&str, &str)]) -> Response<ResponseBody> {
    let uri = Uri::from_str(uri).unwrap();
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        map.append(HeaderName::from_str(name).unwrap(), HeaderValue::from_str(value).unwrap());
    }
    respond(served, &method, &uri, &map, 300, SystemTime::now())
}

pub(super) fn get(served: &Served, uri: &str, headers: &[(&str, &str)]) -> Response<ResponseBody> {
    request(served, Method::GET, uri, headers)
}

pub(super) fn body(response: Response<ResponseBody>) -> Bytes {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    runtime.block_on(response.into_body().collect()).unwrap().to_bytes()
}

pub(super) fn header(response: &Response<ResponseBody>, name: HeaderName) -> Option<&str> {
    response.headers().get(name).map(|v| v.to_str().unwrap())
}

pub(super) fn tag_uri() -> String {
    crate::urls::encode_path(&format!("/feed/by_tag/{TAG}.xml"))
}

pub(super) fn file<'s>(served: &'s Served, path: &str) -> &'s Rendered {
    &served.snapshot().files[path]
}

/// The snapshot with every file moved to a memory file, as the daemon keeps them.
pub(super) fn in_memfiles(mut snapshot: Snapshot) -> Snapshot {
    for file in snapshot.files.values_mut() {
        Arc::get_mut(file).expect("a snapshot of its own").move_to_memfile();
    }
    snapshot
}
