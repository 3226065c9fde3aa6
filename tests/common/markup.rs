//! Shared by the fuzz targets and the tests: what a browser's HTML parser (html5ever, through
//! `scraper`) finds in our output that could run code or load what the reader did not ask for.
//! It looks at the tree a browser builds, not at the text, and once more after that tree is
//! written out and parsed again, as readers that clean entries themselves do (mutation XSS).
#![allow(dead_code)]

use scraper::node::Element;
use scraper::Html;

/// Elements that run code, load other documents or styles, submit forms, or switch to SVG or
/// MathML; the sanitizer keeps none of them, in any namespace.
const RUNNABLE_ELEMENTS: &[&str] = &[
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "portal", "base", "meta", "link",
    "form", "input", "button", "select", "textarea", "keygen", "isindex", "svg", "math",
];

/// Attributes that hold a URL (`srcset` holds several).
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "srcset",
    "xlink:href",
    "action",
    "formaction",
    "poster",
    "data",
    "background",
    "cite",
    "ping",
    "lowsrc",
    "dynsrc",
    "longdesc",
    "codebase",
    "archive",
    "classid",
    "manifest",
    "icon",
    "usemap",
    "profile",
];

const SCRIPT_SCHEMES: &[&str] = &["javascript:", "vbscript:", "livescript:"];

/// The first thing in entry HTML `html` that can run code, if any.
pub fn unsafe_markup(html: &str) -> Option<String> {
    let fragment = Html::parse_fragment(html);
    if let Some(found) = first_unsafe(&fragment, &[]) {
        return Some(found);
    }
    let reparsed = fragment.root_element().inner_html();
    first_unsafe(&Html::parse_fragment(&reparsed), &[]).map(|found| format!("{found}, once reparsed from {reparsed:?}"))
}

/// The first thing in the whole page `html` that can run code, if any. A page may have what
/// the index page needs in its head: `<meta charset>`, `<meta name="viewport">` and
/// `<link rel="alternate">` to a feed.
pub fn unsafe_page(html: &str) -> Option<String> {
    first_unsafe(&Html::parse_document(html), &["meta", "link"])
}

/// [`unsafe_page`] for a page served with the Content-Security-Policy `policy`: its inline
/// `<style>` and `<script>` blocks are let through when the policy allows exactly them by hash
/// (a browser refuses any other), and its form controls when the policy lets no form submit
/// (`form-action 'none'`; they run nothing by themselves). The policy itself must load nothing
/// by default and allow nothing inline by a keyword.
pub fn unsafe_page_under(html: &str, policy: &str) -> Option<String> {
    let directive = |name: &str| -> Vec<&str> {
        policy
            .split(';')
            .map(str::trim)
            .find_map(|d| d.strip_prefix(name).filter(|rest| rest.starts_with(' ')))
            .map(|rest| rest.split_whitespace().collect())
            .unwrap_or_default()
    };
    if directive("default-src") != ["'none'"] {
        return Some(format!("policy {policy:?} does not start from default-src 'none'"));
    }
    if ["'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "data:", "http:", "https:"]
        .iter()
        .any(|keyword| policy.split_whitespace().any(|w| w.trim_end_matches(';') == *keyword))
    {
        return Some(format!("policy {policy:?} allows more than its own blocks"));
    }
    let (styles, scripts) = (directive("style-src"), directive("script-src"));
    let no_forms = directive("form-action") == ["'none'"];
    let hash = |text: &str| {
        use base64::Engine as _;
        use sha2::Digest as _;
        format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(text)))
    };
    first_unsafe_but(&Html::parse_document(html), &["meta", "link"], |element| {
        let text: String = element.text().collect();
        match element.value().name() {
            "style" => styles.contains(&hash(&text).as_str()),
            "script" => element.value().attr("src").is_none() && scripts.contains(&hash(&text).as_str()),
            "input" | "select" | "button" => no_forms,
            _ => false,
        }
    })
}

/// The first entry of the Atom or RSS feed `bytes` whose content, or RSS description, can run
/// code, as feed-rs reads them back. Both are HTML to a reader; Atom summaries and all titles
/// are written as text (`type="text"`, or RSS titles that readers show as text).
pub fn unsafe_feed(bytes: &[u8]) -> Option<String> {
    let feed = match feed_rs::parser::parse(bytes) {
        Ok(feed) => feed,
        Err(e) => return Some(format!("the feed does not parse: {e}")),
    };
    for entry in &feed.entries {
        let content = entry.content.as_ref().and_then(|c| c.body.as_deref());
        let description = (feed.feed_type == feed_rs::model::FeedType::RSS2)
            .then(|| entry.summary.as_ref().map(|s| s.content.as_str()))
            .flatten();
        for html in content.into_iter().chain(description) {
            if let Some(found) = unsafe_markup(html) {
                return Some(format!("entry {}: {found} in {html:?}", entry.id));
            }
        }
    }
    None
}

fn first_unsafe(document: &Html, allowed_in_head: &[&str]) -> Option<String> {
    first_unsafe_but(document, allowed_in_head, |_| false)
}

/// [`first_unsafe`], with the elements `allowed` says are the page's own let through.
fn first_unsafe_but(
    document: &Html,
    allowed_in_head: &[&str],
    allowed: impl Fn(scraper::ElementRef) -> bool,
) -> Option<String> {
    for node in document.tree.nodes() {
        let Some(element) = node.value().as_element() else { continue };
        let name = element.name().to_ascii_lowercase();
        if RUNNABLE_ELEMENTS.contains(&name.as_str())
            && !(allowed_in_head.contains(&name.as_str()) && harmless(element))
            && !scraper::ElementRef::wrap(node).is_some_and(&allowed)
        {
            return Some(format!("<{name}> element"));
        }
        for (attribute, value) in element.attrs() {
            if let Some(why) = unsafe_attribute(&attribute.to_ascii_lowercase(), value) {
                return Some(format!("{attribute}={value:?} on <{name}>: {why}"));
            }
        }
    }
    None
}

/// `<meta charset>`, `<meta name=viewport>`, `<link rel=alternate>`.
fn harmless(element: &Element) -> bool {
    match element.name() {
        "meta" => {
            element.attr("http-equiv").is_none()
                && element.attr("content").is_none_or(|_| element.attr("name") == Some("viewport"))
        }
        "link" => element.attr("rel").is_some_and(|rel| rel.eq_ignore_ascii_case("alternate")),
        _ => false,
    }
}

fn unsafe_attribute(attribute: &str, value: &str) -> Option<&'static str> {
    // Event handlers are `on` and a name (`onclick`); a bare `on` runs nothing.
    if attribute.len() > 2 && attribute.starts_with("on") {
        return Some("event handler");
    }
    if attribute == "srcdoc" {
        return Some("a document in an attribute");
    }
    let compacted = compact(value);
    if attribute == "style" {
        let css = compacted.replace('\\', "").replace("/**/", "");
        if ["expression(", "javascript:", "vbscript:", "-moz-binding", "behavior:"].iter().any(|s| css.contains(s)) {
            return Some("script in CSS");
        }
    }
    if SCRIPT_SCHEMES.iter().any(|s| compacted.starts_with(s)) {
        return Some("script URL");
    }
    if URL_ATTRIBUTES.contains(&attribute) {
        let urls: Vec<String> = if attribute == "srcset" {
            value.split(',').filter_map(|c| c.split_whitespace().next()).map(compact).collect()
        } else {
            vec![compacted]
        };
        if urls.iter().any(|url| url.starts_with("data:") || SCRIPT_SCHEMES.iter().any(|s| url.starts_with(s))) {
            return Some("script-capable URL");
        }
    }
    None
}

/// The value as a browser could read a scheme in it: lowercased, without whitespace and control
/// characters (browsers skip some of them, and readers' parsers differ).
fn compact(value: &str) -> String {
    value.chars().filter(|c| !c.is_whitespace() && !c.is_control()).collect::<String>().to_lowercase()
}
