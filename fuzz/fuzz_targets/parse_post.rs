//! Fuzz target: any bytes as a post file must give a post or a typed error, never a panic, and a
//! post's content must render.
#![no_main]

use libfuzzer_sys::fuzz_target;
use postfeed::config::Config;
use postfeed::post;

/// A real `<script` start tag, not text such as `<scripting`.
fn has_script_tag(html: &str) -> bool {
    let lower = html.to_ascii_lowercase();
    lower.match_indices("<script").any(|(i, m)| {
        lower[i + m.len()..].chars().next().is_none_or(|c| c.is_ascii_whitespace() || c == '>' || c == '/')
    })
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
                assert!(!has_script_tag(&html), "{html}");
            }
        }
    }
});
