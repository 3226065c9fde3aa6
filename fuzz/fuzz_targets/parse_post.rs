//! Fuzz target: any bytes as a post file must give a post or a typed error, never a panic; a
//! post's content must render, and leave nothing runnable for a browser (html5ever) to find.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postfeed::config::Config;
use postfeed::post;

#[path = "../../tests/common/markup.rs"]
mod markup;
use markup::unsafe_markup;

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
                // Trusted authors: no sanitizing, links still made absolute, never a panic.
                post::content_html(&p, body, false);
            }
        }
    }
});
