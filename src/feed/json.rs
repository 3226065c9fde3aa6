//! JSON Feed 1.1 bytes for one feed (<https://www.jsonfeed.org/version/1.1/>), written with serde.
//!
//! It carries what the Atom feed carries: the same ids, links, dates (RFC 3339), authors, tags
//! (categories, then tags), summaries and content. Struct fields serialize in declaration order
//! and no map is used, so equal input gives equal bytes.

use bytes::Bytes;
use serde::Serialize;

use super::{concat, entry_author, EntryBytes, FeedInput, Format};
use crate::config::Config;
use crate::post::{Author, EntryText, Post};

/// The `version` every JSON Feed 1.1 document starts with.
pub(crate) const VERSION: &str = "https://jsonfeed.org/version/1.1";
const EMPTY_ITEMS: &[u8] = b"\"items\":[]";

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: String,
    home_page_url: &'a str,
    feed_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    language: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<JsonAuthor<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub<'a>>,
    items: Vec<Item<'a>>,
}

#[derive(Serialize)]
struct JsonAuthor<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
}

#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
}

#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    url: &'a str,
    title: &'a str,
    /// The spec wants `content_html` or `content_text`: an entry without content (summaries
    /// only) gives its summary as `content_text`.
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<&'a str>,
    date_published: String,
    date_modified: String,
    authors: Vec<JsonAuthor<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<&'a str>,
}

/// The whole feed in one buffer.
pub fn render(input: &FeedInput) -> Vec<u8> {
    let items: Vec<EntryBytes> =
        input.entries.iter().zip(input.texts).map(|(post, text)| item(input.config, post, text)).collect();
    concat(&document(input, &items))
}

/// The post's item object, as every JSON feed that shows the post holds it.
pub(crate) fn item(config: &Config, post: &Post, text: &EntryText) -> EntryBytes {
    let mut bytes = serde_json::to_vec(&item_of(config, post, text)).expect("writing to memory cannot fail");
    bytes.shrink_to_fit();
    EntryBytes::whole(Bytes::from(bytes))
}

/// The feed in pieces: its head (up to `"items":[`), `items` (the item objects of
/// `input.entries`, in order, with commas between them), and its tail.
pub(crate) fn document(input: &FeedInput, items: &[EntryBytes]) -> Vec<Bytes> {
    let site = &input.config.site;
    let feed = JsonFeed {
        version: VERSION,
        title: input.title(),
        home_page_url: site.url.as_str(),
        feed_url: input.self_url(Format::Json),
        description: Some(site.description.as_str()).filter(|d| !d.is_empty()),
        language: input.language(),
        authors: site.author.iter().map(|name| JsonAuthor { name, url: None }).collect(),
        hubs: input.hubs().map(|url| Hub { kind: "WebSub", url }).collect(),
        items: Vec::new(),
    };
    let bytes = serde_json::to_vec(&feed).expect("writing to memory cannot fail");
    // `items` is the last field, so the document ends with it: `…,"items":[]}`.
    let (mut head, rest) = super::split_at_slot(bytes, EMPTY_ITEMS);
    head.extend_from_slice(b"\"items\":[");
    let tail = [&b"]"[..], &rest].concat();
    super::pieces(input, Format::Json, (head, tail), items, Some(b","))
}

fn item_of<'a>(config: &'a Config, post: &'a Post, text: &'a EntryText) -> Item<'a> {
    let content_html = text.content.as_deref();
    let summary = text.summary.as_deref().filter(|s| !s.is_empty());
    let (author, author_details) = entry_author(config, post, text);
    Item {
        id: &post.id,
        url: &post.url,
        title: &post.title,
        content_html,
        content_text: content_html.is_none().then(|| summary.unwrap_or("")),
        summary,
        image: post.image.as_deref(),
        date_published: post.date.to_rfc3339(),
        date_modified: post.updated.to_rfc3339(),
        authors: vec![JsonAuthor { name: author, url: author_url(author_details) }],
        tags: post.categories.iter().chain(&post.tags).map(String::as_str).collect(),
    }
}

/// The author's page, else a `mailto:` address (JSON Feed has no e-mail field, and its `url`
/// may be a `mailto:` URI).
fn author_url(author: Option<&Author>) -> Option<String> {
    let author = author?;
    author.uri.clone().or_else(|| author.email.as_ref().map(|e| format!("mailto:{e}")))
}
