//! RSS 2.0 bytes for one feed, written with the `rss` crate (atom:link, content:encoded, dc:creator).

use std::collections::BTreeMap;

use rss::extension::atom::{AtomExtension, Link as AtomLink};
use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::Extension;
use rss::{Category, Channel, Guid, Item};

use super::{FeedInput, Format, GENERATOR};

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

pub fn render(input: &FeedInput) -> Vec<u8> {
    let config = input.config;
    let mut namespaces = BTreeMap::new();
    namespaces.insert("atom".to_string(), "http://www.w3.org/2005/Atom".to_string());
    let items: Vec<Item> = input
        .entries
        .iter()
        .zip(input.texts)
        .map(|(post, text)| {
            // `author` holds an e-mail address by the RSS spec; names go to dc:creator.
            let (name, known) = input.author(post, text);
            let (author, creator) = match known.and_then(|a| a.email.as_ref()) {
                Some(email) => (Some(format!("{email} ({name})")), None),
                None => (None, Some(name.to_string())),
            };
            let mut item = Item {
                title: Some(post.title.clone()),
                link: Some(post.url.clone()),
                // Plain text, and RSS readers show `description` as HTML.
                description: text.summary.as_deref().map(|s| crate::markup::text_as_html(s).into_owned()),
                author,
                categories: post
                    .categories
                    .iter()
                    .chain(&post.tags)
                    .map(|c| Category { name: c.clone(), domain: None })
                    .collect(),
                guid: Some(guid(post)),
                pub_date: Some(post.date.to_rfc2822()),
                content: text.content.clone(),
                dublin_core_ext: creator
                    .map(|c| DublinCoreExtension { creators: vec![c], ..DublinCoreExtension::default() }),
                ..Item::default()
            };
            if let Some(image) = &post.image {
                namespaces.insert("media".to_string(), MEDIA_NS.to_string());
                let mut attrs = BTreeMap::new();
                attrs.insert("url".to_string(), image.clone());
                let thumbnail = Extension { name: "media:thumbnail".into(), attrs, ..Extension::default() };
                item.extensions.entry("media".into()).or_default().insert("thumbnail".into(), vec![thumbnail]);
            }
            item
        })
        .collect();
    let description = if config.site.description.is_empty() { input.title() } else { config.site.description.clone() };
    let channel = Channel {
        title: input.title(),
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
        items,
        namespaces,
        ..Channel::default()
    };
    let mut bytes = Vec::with_capacity(input.size_hint());
    channel.write_to(&mut bytes).expect("writing to memory cannot fail");
    input.add_stylesheet(&mut bytes, Format::Rss);
    bytes.push(b'\n');
    // Kept for as long as the feed is served: no spare capacity.
    bytes.shrink_to_fit();
    bytes
}

/// The post's URL as a permalink guid; an id pinned in front matter, as it is, otherwise.
fn guid(post: &crate::post::Post) -> Guid {
    if post.id_pinned {
        Guid { value: post.id.clone(), permalink: false }
    } else {
        Guid { value: post.url.clone(), permalink: true }
    }
}
