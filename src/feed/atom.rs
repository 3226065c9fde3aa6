//! Atom 1.0 bytes for one feed, written with `atom_syndication`.

use std::collections::BTreeMap;

use atom_syndication::extension::Extension;
use atom_syndication::{Category, Content, Entry, Feed, Generator, Link, Person, Text, WriteConfig};

use super::{FeedInput, Format, GENERATOR};

const MEDIA_NS: &str = "http://search.yahoo.com/mrss/";

pub fn render(input: &FeedInput) -> Vec<u8> {
    let config = input.config;
    let site_url = config.site.url.to_string();
    let mut namespaces = BTreeMap::new();
    let entries: Vec<Entry> = input
        .entries
        .iter()
        .zip(input.texts)
        .map(|(post, text)| {
            let mut entry = Entry {
                title: Text::plain(post.title.clone()),
                id: post.id.clone(),
                updated: post.updated,
                published: Some(post.date),
                authors: vec![{
                    let (name, author) = input.author(post, text);
                    person(name, author)
                }],
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
                summary: text.summary.clone().map(Text::plain),
                content: text.content.as_ref().map(|html| Content {
                    value: Some(html.clone()),
                    content_type: Some("html".into()),
                    ..Content::default()
                }),
                ..Entry::default()
            };
            if let Some(image) = &post.image {
                namespaces.insert("media".to_string(), MEDIA_NS.to_string());
                entry.extensions.insert("media".into(), media_thumbnail(image));
            }
            entry
        })
        .collect();
    let feed = Feed {
        title: Text::plain(input.title()),
        subtitle: (!config.site.description.is_empty()).then(|| Text::plain(config.site.description.clone())),
        id: input.self_url(Format::Atom),
        updated: input.updated(),
        authors: config.site.author.iter().map(|a| person(a, None)).collect(),
        links: [
            Link {
                href: input.self_url(Format::Atom),
                rel: "self".into(),
                mime_type: Some(Format::Atom.media_type().into()),
                ..Link::default()
            },
            Link { href: site_url, rel: "alternate".into(), mime_type: Some("text/html".into()), ..Link::default() },
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
        entries,
        namespaces,
        ..Feed::default()
    };
    let mut bytes = Vec::with_capacity(input.size_hint());
    feed.write_with_config(&mut bytes, WriteConfig { write_document_declaration: true, indent_size: None })
        .expect("writing to memory cannot fail");
    input.add_stylesheet(&mut bytes, Format::Atom);
    bytes.push(b'\n');
    // Kept for as long as the feed is served: no spare capacity.
    bytes.shrink_to_fit();
    bytes
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
