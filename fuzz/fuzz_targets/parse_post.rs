//! Fuzz target: any bytes as a post file must give a post or a typed error, never a panic, and a
//! post's content must render.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postfeed::config::Config;
use postfeed::post;

/// What a browser's HTML parser (html5ever, independent of the sanitizer's lol_html) finds in
/// the content: any element or attribute that can run code.
fn unsafe_markup(html: &str) -> Option<String> {
    let fragment = scraper::Html::parse_fragment(html);
    for node in fragment.tree.nodes() {
        if let Some(element) = node.value().as_element() {
            let name = element.name();
            if ["script", "iframe", "object", "embed", "frame", "frameset", "applet", "base", "meta", "link", "style"]
                .contains(&name)
            {
                return Some(format!("<{name}> element"));
            }
            for (attr, value) in element.attrs() {
                let compact: String =
                    value.chars().filter(|c| !c.is_ascii_whitespace() && !c.is_ascii_control()).collect();
                let attr_lower = attr.to_ascii_lowercase();
                // Event handlers are `on` and a name (`onclick`); a bare `on` runs nothing.
                let handler = attr_lower.len() > 2 && attr_lower.starts_with("on");
                if handler || compact.to_ascii_lowercase().starts_with("javascript:") {
                    return Some(format!("{attr}={value:?} on <{name}>"));
                }
            }
        }
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let config = Config::parse(
        "[site]\nurl = \"https://news.example.com/base\"\ntimezone = \"Asia/Shanghai\"\n",
        std::path::Path::new("/"),
    )
    .expect("fixed config");
    for source in ["_posts/2021-12-24-a.md", "cat/_posts/2021-12-24-b.html"] {
        if let Ok(p) = post::parse(source, data, &config.site) {
            assert!(p.url.starts_with("https://news.example.com/base/"), "{}", p.url);
            if let Some(body) = post::body_of(data) {
                let html = post::content_html(&p, body, true);
                assert_eq!(unsafe_markup(&html), None, "{html}");
            }
        }
    }
});
