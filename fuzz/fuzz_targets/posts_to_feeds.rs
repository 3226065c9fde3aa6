//! Fuzz target: a few arbitrary posts (inputs split on a 0xFF byte) rendered to Atom and RSS must
//! be well-formed feeds that feed-rs parses, with one entry per post, and whose entries, read
//! back, leave nothing runnable for a browser (html5ever) to find.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use postfeed::config::Config;
use postfeed::feed::{atom, rss, FeedInput, FeedKey};
use postfeed::template::NoIndex;
use postfeed::{post, ContentRenderer};

#[path = "../../tests/common/markup.rs"]
mod markup;
use markup::unsafe_feed;

fuzz_target!(|data: &[u8]| {
    let config = Config::parse(
        "[site]\nurl = \"https://news.example.com\"\ntitle = \"T & <t>\"\ntimezone = \"Asia/Shanghai\"\n",
        std::path::Path::new("/nonexistent-postfeed-site"),
    )
    .expect("fixed config");
    let renderer = ContentRenderer::new(&config, Arc::new(NoIndex), chrono::DateTime::UNIX_EPOCH.fixed_offset());
    let mut posts = Vec::new();
    let mut texts = Vec::new();
    for (i, chunk) in data.split(|b| *b == 0xFF).take(5).enumerate() {
        let source = format!("_posts/2021-12-{:02}-p{i}.md", i + 1);
        if let Ok(p) = post::parse(&source, chunk, &config.site) {
            let text = renderer.entry_text(&p, chunk).expect("a post that parsed has entry text");
            posts.push(Arc::new(p));
            texts.push(Arc::new(text));
        }
    }
    let keys = [FeedKey::Site, FeedKey::Category("c/../x".into()), FeedKey::Tag("荆州 ]]>".into())];
    for key in &keys {
        let input = FeedInput { key, config: &config, entries: &posts, texts: &texts };
        for bytes in [atom::render(&input), rss::render(&input)] {
            let parsed = feed_rs::parser::parse(&bytes[..]).expect("the feed parses");
            assert_eq!(parsed.entries.len(), posts.len());
            assert_eq!(unsafe_feed(&bytes), None, "{}", String::from_utf8_lossy(&bytes));
        }
    }
});
