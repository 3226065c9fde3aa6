//! Fuzz target: any bytes as a post file must give a post or a typed error, never a panic; a
//! post's content must render (Liquid, kramdown, links, sanitizer), and leave nothing runnable for
//! a browser (html5ever) to find.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use postfeed::config::Config;
use postfeed::template::NoIndex;
use postfeed::{post, ContentRenderer};

#[path = "../../tests/common/markup.rs"]
mod markup;
use markup::unsafe_markup;

fn renderer(sanitize: bool) -> (Config, ContentRenderer) {
    let config = Config::parse(
        &format!("[site]\nurl = \"https://news.example.com/base\"\ntimezone = \"Asia/Shanghai\"\n[feeds]\nsanitize = {sanitize}\n"),
        std::path::Path::new("/nonexistent-postfeed-site"),
    )
    .expect("fixed config");
    let renderer = ContentRenderer::new(&config, Arc::new(NoIndex), chrono::DateTime::UNIX_EPOCH.fixed_offset());
    (config, renderer)
}

fuzz_target!(|data: &[u8]| {
    let (config, sanitized) = renderer(true);
    let (_, trusting) = renderer(false);
    for source in ["_posts/2021-12-24-a.md", "cat/_posts/2021-12-24-b.html"] {
        if let Ok(p) = post::parse(source, data, &config.site) {
            assert!(p.url.starts_with("https://news.example.com/base/"), "{}", p.url);
            if let Some(html) = sanitized.content_html(&p, data) {
                assert_eq!(unsafe_markup(&html), None, "{html}");
                // Trusted authors: no sanitizing, links still made absolute, never a panic.
                trusting.content_html(&p, data);
            }
        }
    }
});
