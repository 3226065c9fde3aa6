//! RSS 2.0 bytes, written with the `rss` crate (atom:link, content:encoded, dc:creator): each
//! post's `<item>` once, and each feed as its head, the `<item>` bytes of its posts, and its tail.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use rss::extension::atom::{AtomExtension, Link as AtomLink};
use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::Extension;
use rss::{Category, Channel, Guid, Item};

use bytes::Bytes;

use super::{
    concat, entry_author, splice, EntryBytes, FeedInput, Format, Hole, SharedTexts, CONTENT_MARKER, GENERATOR,
    SUMMARY_MARKER,
};
use crate::config::Config;
use crate::post::{EntryText, Post};

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";
const CONTENT_NS: &str = "http://purl.org/rss/1.0/modules/content/";
/// The title of the placeholder item that marks where a feed's items go.
const SLOT_TITLE: &str = "urn:postfeed:items";

/// The whole feed in one buffer.
pub fn render(input: &FeedInput) -> Vec<u8> {
    let entries = || input.entries.iter().zip(input.texts);
    let items: Vec<EntryBytes> =
        entries().map(|(post, text)| item(input.config, post, text, &SharedTexts::of(text))).collect();
    let uses = entries().fold(Uses::default(), |uses, (post, text)| uses.and(Uses::of(input.config, post, text)));
    concat(&document(input, &items, uses))
}

/// The post's `<item>` element, as every RSS feed that shows the post holds it (the feed's root
/// declares the namespaces), around its `shared` content and summary. Both go escaped rather than
/// in CDATA, so they are the very bytes its Atom entry holds: the same text to an XML reader.
pub(crate) fn item(config: &Config, post: &Post, text: &EntryText, shared: &SharedTexts) -> EntryBytes {
    let item = item_of(config, post, text);
    let mut holes = Vec::new();
    if let (Some(_), Some(escaped)) = (&item.description, &shared.summary_as_html) {
        holes.push(Hole {
            before: b"<description>",
            span: SUMMARY_CDATA.as_bytes(),
            after: b"</description>",
            text: escaped.clone(),
        });
    }
    if let (Some(_), Some(escaped)) = (&item.content, &shared.content) {
        holes.push(Hole {
            before: b"<content:encoded>",
            span: CONTENT_CDATA.as_bytes(),
            after: b"</content:encoded>",
            text: escaped.clone(),
        });
    }
    splice(&fragment(item), holes)
}

/// The markers as the `rss` crate writes `description` and `content:encoded`: in CDATA.
const SUMMARY_CDATA: &str = concat!("<![CDATA[", super::summary_marker!(), "]]>");
const CONTENT_CDATA: &str = concat!("<![CDATA[", super::content_marker!(), "]]>");

fn item_of(config: &Config, post: &Post, text: &EntryText) -> Item {
    // `author` holds an e-mail address by the RSS spec; names go to dc:creator.
    let (name, known) = entry_author(config, post, text);
    let (author, creator) = match known.and_then(|a| a.email.as_ref()) {
        Some(email) => (Some(as_html(&format!("{email} ({name})"))), None),
        None => (None, Some(as_html(name))),
    };
    let mut item = Item {
        title: Some(as_html(&post.title)),
        link: Some(post.url.clone()),
        // The summary and the content are spliced in where their markers are written (`item`).
        // An empty summary (Atom keeps it, as jekyll-feed does) would be an empty synopsis here.
        description: text.summary.as_ref().filter(|s| !s.is_empty()).map(|_| SUMMARY_MARKER.into()),
        author,
        categories: post
            .categories
            .iter()
            .chain(&post.tags)
            .map(|c| Category { name: as_html(c), domain: None })
            .collect(),
        guid: Some(guid(post)),
        pub_date: Some(post.date.to_rfc2822()),
        content: text.content.as_ref().map(|_| CONTENT_MARKER.into()),
        dublin_core_ext: creator.map(|c| DublinCoreExtension { creators: vec![c], ..DublinCoreExtension::default() }),
        ..Item::default()
    };
    if let Some(image) = &post.image {
        let mut attrs = BTreeMap::new();
        attrs.insert("url".to_string(), image.clone());
        let thumbnail = Extension { name: "media:thumbnail".into(), attrs, ..Extension::default() };
        item.extensions.entry("media".into()).or_default().insert("thumbnail".into(), vec![thumbnail]);
    }
    item
}

/// A text field, which many readers show as HTML although RSS does not say it is (see
/// [`crate::markup::text_for_html_readers`]).
fn as_html(text: &str) -> String {
    crate::markup::text_for_html_readers(text).into_owned()
}

/// An item's bytes as they appear inside a feed. The `rss` crate writes items only as part of a
/// channel, so the item is written in an otherwise empty one and cut out: nothing else in it can
/// hold `<item>` or `</item>`.
fn fragment(item: Item) -> Vec<u8> {
    let channel = Channel { items: vec![item], ..Channel::default() };
    let mut bytes = channel.write_to(Vec::new()).expect("writing to memory cannot fail");
    let start = memchr::memmem::find(&bytes, b"<item>").expect("the channel holds an item");
    let end = memchr::memmem::rfind(&bytes, b"</item>").expect("the channel holds an item") + b"</item>".len();
    bytes.truncate(end);
    bytes.drain(..start);
    bytes
}

/// The namespaces items use besides RSS's own. The items are written apart from the channel, so
/// the channel declares what they say they use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Uses {
    content: bool,
    dc: bool,
    media: bool,
}

impl Uses {
    /// What the item of `post` uses.
    pub(crate) fn of(config: &Config, post: &Post, text: &EntryText) -> Uses {
        Uses {
            content: text.content.is_some(),
            dc: entry_author(config, post, text).1.and_then(|a| a.email.as_ref()).is_none(),
            media: post.image.is_some(),
        }
    }

    /// What either uses.
    pub(crate) fn and(self, other: Uses) -> Uses {
        Uses { content: self.content || other.content, dc: self.dc || other.dc, media: self.media || other.media }
    }
}

/// The feed in pieces: its head, `items` (the `<item>` bytes of `input.entries`, in order), and
/// its tail; `uses` is what the items use, together.
pub(crate) fn document(input: &FeedInput, items: &[EntryBytes], uses: Uses) -> Vec<Bytes> {
    let config = input.config;
    let mut namespaces = BTreeMap::new();
    namespaces.insert("atom".to_string(), rss::extension::atom::NAMESPACE.to_string());
    for (used, prefix, uri) in [
        (uses.content, "content", CONTENT_NS),
        (uses.dc, "dc", rss::extension::dublincore::NAMESPACE),
        (uses.media, "media", MEDIA_NS),
    ] {
        if used {
            namespaces.insert(prefix.to_string(), uri.to_string());
        }
    }
    let title = input.title();
    let description = as_html(if config.site.description.is_empty() { &title } else { &config.site.description });
    let (slot, slot_bytes) = slot();
    let channel = Channel {
        title: as_html(&title),
        link: config.site.url.to_string(),
        description,
        language: input.language(),
        generator: Some(format!("{GENERATOR} {}", env!("CARGO_PKG_VERSION"))),
        last_build_date: Some(input.updated().to_rfc2822()),
        atom_ext: Some(AtomExtension {
            links: std::iter::once(AtomLink {
                href: input.self_url(Format::Rss),
                rel: "self".into(),
                mime_type: Some(Format::Rss.media_type().into()),
                ..AtomLink::default()
            })
            .chain(input.hubs().map(|hub| AtomLink { href: hub.to_string(), rel: "hub".into(), ..AtomLink::default() }))
            .collect(),
        }),
        items: vec![slot.clone()],
        namespaces,
        ..Channel::default()
    };
    let bytes = channel.write_to(Vec::new()).expect("writing to memory cannot fail");
    super::pieces(input, Format::Rss, super::split_at_slot(bytes, slot_bytes), items, None)
}

/// The placeholder item and its bytes, made once.
fn slot() -> &'static (Item, Bytes) {
    static SLOT: OnceLock<(Item, Bytes)> = OnceLock::new();
    SLOT.get_or_init(|| {
        let item = Item { title: Some(SLOT_TITLE.into()), ..Item::default() };
        let bytes = Bytes::from(fragment(item.clone()));
        (item, bytes)
    })
}

/// The post's URL as a permalink guid; an id pinned in front matter, as it is, otherwise.
fn guid(post: &crate::post::Post) -> Guid {
    if post.id_pinned {
        Guid { value: post.id.clone(), permalink: false }
    } else {
        Guid { value: post.url.clone(), permalink: true }
    }
}
