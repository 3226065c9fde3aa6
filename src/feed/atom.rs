//! Atom 1.0 bytes, written with `atom_syndication`: each post's `<entry>` once, and each feed as
//! its head, the `<entry>` bytes of its posts, and its tail.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use atom_syndication::extension::Extension;
use atom_syndication::{Category, Content, Entry, Feed, Generator, Link, Person, Text, WriteConfig};
use bytes::Bytes;

use super::{
    concat, entry_author, splice, EntryBytes, FeedInput, Format, Hole, SharedTexts, CONTENT_MARKER, GENERATOR,
    SUMMARY_MARKER,
};
use crate::config::Config;
use crate::post::{EntryText, Post};

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";
const ATOM_NS_ATTRIBUTE: &[u8] = b" xmlns=\"http://www.w3.org/2005/Atom\"";
/// The id of the placeholder entry that marks where a feed's entries go.
const SLOT_ID: &str = "urn:postfeed:entries";
const NO_INDENT: WriteConfig = WriteConfig { write_document_declaration: false, indent_size: None };

/// The whole feed in one buffer.
pub fn render(input: &FeedInput) -> Vec<u8> {
    let entries: Vec<EntryBytes> = input
        .entries
        .iter()
        .zip(input.texts)
        .map(|(post, text)| entry(input.config, post, text, &SharedTexts::of(text)))
        .collect();
    concat(&document(input, &entries))
}

/// The post's `<entry>` element, as every Atom feed that shows the post holds it (the feed's root
/// declares the namespaces), around its `shared` content and summary.
pub(crate) fn entry(config: &Config, post: &Post, text: &EntryText, shared: &SharedTexts) -> EntryBytes {
    let entry = entry_of(config, post, text);
    let mut holes = Vec::new();
    if let (Some(_), Some(escaped)) = (&entry.summary, &shared.summary) {
        holes.push(Hole {
            before: b"<summary>",
            span: SUMMARY_MARKER.as_bytes(),
            after: b"</summary>",
            text: escaped.clone(),
        });
    }
    if let (Some(_), Some(escaped)) = (&entry.content, &shared.content) {
        holes.push(Hole {
            before: b"<content type=\"html\">",
            span: CONTENT_MARKER.as_bytes(),
            after: b"</content>",
            text: escaped.clone(),
        });
    }
    splice(&fragment(&entry), holes)
}

fn entry_of(config: &Config, post: &Post, text: &EntryText) -> Entry {
    let (name, author) = entry_author(config, post, text);
    let mut entry = Entry {
        title: Text::plain(post.title.clone()),
        id: post.id.clone(),
        updated: post.updated,
        published: Some(post.date),
        authors: vec![person(name, author)],
        links: vec![Link {
            href: post.url.clone(),
            rel: "alternate".into(),
            mime_type: Some("text/html".into()),
            title: Some(post.title.clone()),
            ..Link::default()
        }],
        categories: post
            .categories
            .iter()
            .chain(&post.tags)
            .map(|term| Category { term: term.clone(), ..Category::default() })
            .collect(),
        // The summary and the content are spliced in where their markers are written (`entry`).
        summary: text.summary.as_ref().map(|_| Text::plain(SUMMARY_MARKER)),
        content: text.content.as_ref().map(|_| Content {
            value: Some(CONTENT_MARKER.into()),
            content_type: Some("html".into()),
            ..Content::default()
        }),
        ..Entry::default()
    };
    if let Some(image) = &post.image {
        entry.extensions.insert("media".into(), media_thumbnail(image));
    }
    entry
}

/// An entry's bytes as they appear inside a feed: written alone, without the Atom namespace
/// declaration that a standalone entry carries and the feed's root already makes.
fn fragment(entry: &Entry) -> Vec<u8> {
    let mut bytes = Vec::new();
    entry.write_with_config(&mut bytes, NO_INDENT).expect("writing to memory cannot fail");
    if bytes.get(6..6 + ATOM_NS_ATTRIBUTE.len()) == Some(ATOM_NS_ATTRIBUTE) {
        bytes.drain(6..6 + ATOM_NS_ATTRIBUTE.len());
    }
    bytes
}

/// The feed in pieces: its head, `entries` (the `<entry>` bytes of `input.entries`, in order),
/// and its tail.
pub(crate) fn document(input: &FeedInput, entries: &[EntryBytes]) -> Vec<Bytes> {
    let config = input.config;
    let mut namespaces = BTreeMap::new();
    if input.entries.iter().any(|post| post.image.is_some()) {
        namespaces.insert("media".to_string(), MEDIA_NS.to_string());
    }
    let (slot, slot_bytes) = slot();
    let feed = Feed {
        title: Text::plain(input.title()),
        subtitle: (!config.site.description.is_empty()).then(|| Text::plain(config.site.description.clone())),
        id: input.self_url(Format::Atom),
        updated: input.updated(),
        authors: config.site_author().iter().map(|a| person(&a.name, Some(a))).collect(),
        links: [
            Link {
                href: input.self_url(Format::Atom),
                rel: "self".into(),
                mime_type: Some(Format::Atom.media_type().into()),
                ..Link::default()
            },
            Link {
                href: config.site.url.to_string(),
                rel: "alternate".into(),
                mime_type: Some("text/html".into()),
                ..Link::default()
            },
        ]
        .into_iter()
        .chain(input.hubs().map(|hub| Link { href: hub.to_string(), rel: "hub".into(), ..Link::default() }))
        .collect(),
        generator: Some(Generator {
            value: GENERATOR.into(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        lang: input.language(),
        entries: vec![slot.clone()],
        namespaces,
        ..Feed::default()
    };
    let mut bytes = Vec::new();
    feed.write_with_config(&mut bytes, WriteConfig { write_document_declaration: true, indent_size: None })
        .expect("writing to memory cannot fail");
    super::pieces(input, Format::Atom, super::split_at_slot(bytes, slot_bytes), entries, None)
}

/// The placeholder entry and its bytes, made once.
fn slot() -> &'static (Entry, Bytes) {
    static SLOT: OnceLock<(Entry, Bytes)> = OnceLock::new();
    SLOT.get_or_init(|| {
        let entry = Entry { id: SLOT_ID.into(), ..Entry::default() };
        let bytes = Bytes::from(fragment(&entry));
        (entry, bytes)
    })
}

fn person(name: &str, author: Option<&crate::post::Author>) -> Person {
    Person {
        name: name.to_string(),
        email: author.and_then(|a| a.email.clone()),
        uri: author.and_then(|a| a.uri.clone()),
        ..Person::default()
    }
}

fn media_thumbnail(url: &str) -> BTreeMap<String, Vec<Extension>> {
    let mut attrs = BTreeMap::new();
    // atom_syndication 0.12 writes extension attributes without escaping them (unlike the rss
    // crate), so a `&` in a URL would make the feed ill-formed.
    attrs.insert("url".to_string(), crate::markup::escape_markup(url));
    let thumbnail = Extension { name: "media:thumbnail".into(), attrs, ..Extension::default() };
    let mut map = BTreeMap::new();
    map.insert("thumbnail".to_string(), vec![thumbnail]);
    map
}
