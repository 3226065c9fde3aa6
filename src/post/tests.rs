//! Unit tests for reading one post by Jekyll's rules.

use super::*;
use std::path::Path;

use crate::config::Config;

fn site() -> SiteConfig {
    Config::parse(
        "[site]\nurl = \"https://news.example.com\"\ntimezone = \"Asia/Shanghai\"\nauthor = \"编辑部\"\n",
        Path::new("/"),
    )
    .unwrap()
    .site
}

fn post(source: &str, text: &str) -> Post {
    parse(source, text.as_bytes(), &site()).unwrap()
}

fn renderer() -> crate::site::ContentRenderer {
    let config = Config::parse(
        "[site]\nurl = \"https://news.example.com\"\ntimezone = \"Asia/Shanghai\"\nauthor = \"编辑部\"\n",
        Path::new("/nonexistent"),
    )
    .unwrap();
    crate::site::ContentRenderer::new(
        &config,
        std::sync::Arc::new(crate::template::NoIndex),
        chrono::DateTime::UNIX_EPOCH.fixed_offset(),
    )
}

fn summary(source: &str, text: &str) -> Option<String> {
    renderer().entry_text(&post(source, text), text.as_bytes()).unwrap().summary
}

fn err(source: &str, bytes: &[u8]) -> PostError {
    parse(source, bytes, &site()).unwrap_err()
}

const SAMPLE: &str = "---\nlayout: post\ntitle: \"某银行数字金融为小微企业发展保驾护航\"\ndate: 2021-12-24 08:59:45 +0800\ncategories: jingzhouribao\ntags: 荆州日报新闻\n---\n<p>□记者某某通讯员某某</p>\n <p>……</p><p class=\"em_media\">（文章来源：荆州日报）</p>\n\n<http://news.example.org/x?infoCode=NW1>\n\n[返回](//news.example.com/category/jingzhouribao.html)｜[返回首页](//news.example.com/)\n";

#[test]
fn the_finance_site_post() {
    let p = post("_posts/2021-12-24-某银行.md", SAMPLE);
    assert_eq!(p.title, "某银行数字金融为小微企业发展保驾护航");
    assert_eq!(p.date.to_rfc3339(), "2021-12-24T08:59:45+08:00");
    assert_eq!(p.categories, ["jingzhouribao"]);
    assert_eq!(p.tags, ["荆州日报新闻"]);
    assert_eq!(p.url, "https://news.example.com/jingzhouribao/2021/12/24/%E6%9F%90%E9%93%B6%E8%A1%8C.html");
    assert_eq!(p.id, "https://news.example.com/jingzhouribao/2021/12/24/%E6%9F%90%E9%93%B6%E8%A1%8C");
    assert_eq!(
        summary("_posts/2021-12-24-x.md", SAMPLE).as_deref(),
        Some("□记者某某通讯员某某 …… （文章来源：荆州日报）")
    );
    // No author of its own: feeds fall back to the site's (see feed::FeedInput::author).
    assert_eq!(p.author, None);
    assert!(p.published && p.warnings.is_empty());
    let html = renderer().content_html(&post("_posts/2021-12-24-x.md", SAMPLE), SAMPLE.as_bytes()).unwrap();
    assert!(html.contains("href=\"https://news.example.com/category/jingzhouribao.html\""), "{html}");
    assert!(html.contains("href=\"http://news.example.org/x?infoCode=NW1\""), "{html}");
}

#[test]
fn names_follow_jekylls_pattern() {
    assert_eq!(parse_name("2021-12-24-a-b.md").unwrap().slug, "a-b");
    assert_eq!(parse_name("2017-2-5-i-dont-like-zeroes.md").unwrap().date, "2017-2-5");
    assert_eq!(parse_name("2013-03-19-x.y.markdown").unwrap().slug, "x.y");
    for bad in
        ["notes.md", "2021-12-24.md", "2021-12-24-x", "-202205262391921712.md", "2021-13-01-x.md", "12021-12-01-x.md"]
    {
        assert!(parse_name(bad).is_none(), "{bad}");
    }
    assert_eq!(err("_posts/readme.md", b"---\n---\n").kind, PostErrorKind::UndatedName);
}

#[test]
fn title_falls_back_to_the_slug() {
    assert_eq!(post("_posts/2021-01-01-hello-big-world.md", "---\n---\n").title, "Hello Big World");
    assert_eq!(post("_posts/2021-01-01-hello-WORLD.md", "---\ntitle: \"\"\n---\n").title, "Hello World");
    assert_eq!(post("_posts/2021-01-01-trailing-dots...md", "---\n---\n").title, "Trailing Dots");
}

#[test]
fn dates_front_matter_wins_and_bad_ones_warn() {
    let p = post("_posts/2021-01-01-x.md", "---\ndate: 2021-02-03 04:05\n---\n");
    assert_eq!(p.date.to_rfc3339(), "2021-02-03T04:05:00+08:00");
    assert_eq!(p.url, "https://news.example.com/2021/02/03/x.html");
    let p = post("_posts/2021-01-01-x.md", "---\ndate:  +0800\n---\n");
    assert_eq!(p.date.to_rfc3339(), "2021-01-01T00:00:00+08:00");
    assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    assert!(p.warnings[0].to_string().contains("+0800"));
    assert_eq!(p.warnings[0].line, Some(2), "the line of `date:` in the file");
    // The instant written, in the site's zone, as Jekyll has it (`page.date`, `published`).
    let p = post(
        "_posts/2021-01-01-x.md",
        "---\ndate: \"2013-05-06 02:12:52 +0200\"\nupdated: 2013-05-07 01:00:00 -0500\n---\n",
    );
    assert_eq!(p.date.to_rfc3339(), "2013-05-06T08:12:52+08:00");
    assert_eq!(p.updated.to_rfc3339(), "2013-05-07T14:00:00+08:00");
    // Date parts of the URL are in the site's zone.
    assert_eq!(p.url, "https://news.example.com/2013/05/06/x.html");
    let p = post("_posts/2021-01-01-x.md", "---\ndate: 2021-01-01 23:30:00 +0000\n---\n");
    assert_eq!(p.url, "https://news.example.com/2021/01/02/x.html");
    // Bare timestamps with seconds and no offset are UTC to Jekyll; quoted or shorter ones are local.
    let p = post("_posts/2021-01-01-x.md", "---\ndate: 2021-12-08 20:00:00\n---\n");
    assert_eq!(p.date.to_rfc3339(), "2021-12-09T04:00:00+08:00");
    assert_eq!(p.url, "https://news.example.com/2021/12/09/x.html");
    let p = post("_posts/2021-01-01-x.md", "---\ndate: \"2021-12-08 20:00:00\"\n---\n");
    assert_eq!(p.date.to_rfc3339(), "2021-12-08T20:00:00+08:00");
    let p = post("_posts/2021-01-01-x.md", "---\ndate: 2021-12-08 20:00\n---\n");
    assert_eq!(p.date.to_rfc3339(), "2021-12-08T20:00:00+08:00");
    let p = post("_posts/2021-01-01-x.md", "---\nlast_modified_at: 2021-03-01\n---\n");
    assert_eq!(p.updated.to_rfc3339(), "2021-03-01T00:00:00+08:00");
}

#[test]
fn taxonomies_merge_as_jekyll_does() {
    let p = post("foo/bar/_posts/sub/2021-01-01-x.md", "---\ncategories: baz qux\ncategory: \"a b\"\n---\n");
    assert_eq!(p.categories, ["foo", "bar", "a b"]);
    let p = post("foo/_posts/2021-01-01-x.md", "---\ncategories: \"21shijijingjibaodao 21caijingAPP foo\"\n---\n");
    assert_eq!(p.categories, ["foo", "21shijijingjibaodao", "21caijingAPP"]);
    let p = post("_posts/2021-01-01-x.md", "---\ncategories: [Java, 2013, ~, \"a b\"]\ntags: [java, sh, 7]\n---\n");
    assert_eq!(p.categories, ["Java", "2013", "a b"]);
    assert_eq!(p.tags, ["java", "sh", "7"]);
    let p = post("_posts/2021-01-01-x.md", "---\ncategory: 2013\ntag: \"C++ 语言\"\ntags: ignored\n---\n");
    assert_eq!(p.categories, ["2013"]);
    assert_eq!(p.tags, ["C++ 语言"]);
    let p = post("_posts/2021-01-01-x.md", "---\ncategory: ~\ncategories:\ntags: ~\n---\n");
    assert!(p.categories.is_empty() && p.tags.is_empty());
}

#[test]
fn published_false_and_null_are_unpublished() {
    assert!(!post("_posts/2021-01-01-x.md", "---\npublished: false\n---\n").published);
    assert!(!post("_posts/2021-01-01-x.md", "---\npublished:\n---\n").published);
    assert!(post("_posts/2021-01-01-x.md", "---\npublished: true\n---\n").published);
    assert!(post("_posts/2021-01-01-x.md", "---\npublished: flase\n---\n").published);
}

#[test]
fn authors_summaries_images_ids() {
    let text = "---\nauthor: {name: Ann, email: ann@example.org, uri: \"https://ann.example\"}\ndescription: \"<b>Short</b> &amp; sweet\"\nimage: {path: /img/a.png}\nid: urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66\nlang: en\n---\nBody.\n";
    let p = post("_posts/2021-01-01-x.md", text);
    assert_eq!(
        p.author,
        Some(Author {
            name: "Ann".into(),
            email: Some("ann@example.org".into()),
            uri: Some("https://ann.example".into())
        })
    );
    assert_eq!(summary("_posts/2021-01-01-x.md", text).as_deref(), Some("Short & sweet"));
    let p2 = post("_posts/2021-01-01-x.md", "---\ntitle: <span class=\"highlight\">Sparkling</span> Title\n---\n");
    assert_eq!(p2.title, "Sparkling Title");
    assert_eq!(p.image.as_deref(), Some("https://news.example.com/img/a.png"));
    assert_eq!(p.id, "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66");
    assert_eq!(p.lang.as_deref(), Some("en"));
    let text = "---\nauthors: [Bo, Cy]\nexcerpt: \"\"\n---\nBody.\n";
    assert_eq!(post("_posts/2021-01-01-x.md", text).author.unwrap().name, "Bo");
    assert_eq!(summary("_posts/2021-01-01-x.md", text), None);
}

#[test]
fn pinned_ids_and_images_with_a_scheme_are_kept_as_written() {
    // A scheme by RFC 3986's syntax is enough (crate::urls::has_scheme), as for links in the
    // body: a URL that does not parse is not turned into a path of the site.
    let p = post(
        "_posts/2021-01-01-x.md",
        "---\nid: \" http://exa mple.org/1 \"\nimage: https://cdn.example.org/a.png\n---\n",
    );
    assert_eq!(p.id, "http://exa mple.org/1");
    assert_eq!(p.image.as_deref(), Some("https://cdn.example.org/a.png"));
    // An image a reader loads must be a web URL; an id must not run or embed anything.
    let p = post("_posts/2021-01-01-x.md", "---\nid: tag:x,2021:a\nimage: tag:x,2021:a.png\n---\n");
    assert_eq!((p.id.as_str(), p.image), ("tag:x,2021:a", None));
    let p = post("_posts/2021-01-01-x.md", "---\nid: \"javascript:alert(1)\"\nimage: \"data:image/svg+xml,<svg onload=alert(1)>\"\nauthor: {name: Eve, uri: \"javascript:alert(1)\"}\n---\n");
    assert_eq!((p.id.as_str(), p.image, p.author.unwrap().uri), ("https://news.example.com/2021/01/01/x", None, None));
    let p = post("_posts/2021-01-01-x.md", "---\nid: a b:c\nimage: \" /img/a b.png\"\n---\n");
    assert_eq!(p.id, "https://news.example.com/a%20b:c");
    assert_eq!(p.image.as_deref(), Some("https://news.example.com/img/a%20b.png"));
}

#[test]
fn front_matter_permalink_wins() {
    let p = post("_posts/2021-01-01-my-post.md", "---\npermalink: /special/:title/\n---\n");
    assert_eq!(p.url, "https://news.example.com/special/my-post/");
    assert_eq!(p.id, "https://news.example.com/special/my-post");
}

#[test]
fn html_posts_keep_their_extension_and_body() {
    let p = post("_posts/2021-01-01-page.html", "---\n---\n<p>x</p>\n\nmore");
    assert_eq!(p.url, "https://news.example.com/2021/01/01/page.html");
    assert_eq!(p.markup, Markup::Verbatim);
}

#[test]
fn bom_crlf_and_control_characters() {
    let text = "\u{feff}---\r\ntitle: \"A\\u0001B ]]> &amp;\"\r\ntags: [\"x\\u0002\"]\r\n---\r\nBody\r\n\r\nMore\r\n";
    let p = post("_posts/2021-01-01-x.md", text);
    assert_eq!(p.title, "AB ]]> &");
    assert_eq!(p.tags, ["x"]);
    // Jekyll looks for its "\n\n" excerpt separator in the text as written, with its CRLFs: it
    // is not there, so the excerpt is the whole body.
    assert_eq!(summary("_posts/2021-01-01-x.md", text).as_deref(), Some("Body More"));
}

#[test]
fn bad_files_are_typed_errors_with_lines() {
    assert_eq!(err("_posts/2021-01-01-x.md", b"").kind, PostErrorKind::NoFrontMatter);
    assert_eq!(err("_posts/2021-01-01-x.md", b"just text\n").kind, PostErrorKind::NoFrontMatter);
    assert_eq!(err("_posts/2021-01-01-x.md", b"---\ntitle: a\n").kind, PostErrorKind::UnclosedFrontMatter);
    assert_eq!(err("_posts/2021-01-01-x.md", b"---\ntitle: ok\n\xff\xfe\n---\n").kind, PostErrorKind::NotUtf8(14));
    assert_eq!(err("_posts/2021-01-01-x.md", b"\x7fELF\x02\x01\x00\x00").kind, PostErrorKind::Binary);
    // The line where the file goes wrong: the first line for front matter, the bad byte's line.
    let line = |bytes: &[u8]| err("_posts/2021-01-01-x.md", bytes).line;
    assert_eq!(line(b""), Some(1));
    assert_eq!(line(b"---\ntitle: a\n"), Some(1));
    assert_eq!(line(b"---\ntitle: ok\n\xff\xfe\n---\n"), Some(3));
    assert_eq!(line(b"---\ntitle: ok\n---\nbody\n\x00"), Some(5));
    let e = err("_posts/2021-01-01-x.md", b"---\nlayout: post\ntitle: GitHub - CloakHQ: x\n---\n");
    assert!(matches!(e.kind, PostErrorKind::Yaml(_)));
    assert_eq!(e.line, Some(3));
    assert!(e.to_string().starts_with("_posts/2021-01-01-x.md:3: invalid YAML"), "{e}");
}

#[test]
fn a_repeated_key_is_a_warning_not_a_skipped_post() {
    let p = post(
        "_posts/2021-01-01-x.md",
        "---\ntitle: old\ntags: [a]\ntitle: new\ndate: 2021-01-01 08:00:00 +0800\n---\n",
    );
    assert_eq!(p.title, "new");
    assert_eq!(p.tags, ["a"]);
    assert!(p.warnings.iter().any(|w| w.to_string().contains("\"title\" more than once")), "{:?}", p.warnings);
    // The line of the value that is used.
    assert_eq!(p.warnings[0].line, Some(4));
}

/// Jekyll's YAML reader (Psych, YAML 1.1) makes `no` false and `010` the number 8; quoted, they
/// are text. serde_yaml alone (YAML 1.2) published the first post and titled the second "010".
#[test]
fn front_matter_is_read_as_jekylls_yaml_11() {
    assert!(!post("_posts/2021-01-01-x.md", "---\npublished: no\n---\n").published);
    assert!(!post("_posts/2021-01-01-x.md", "---\npublished: Off\n---\n").published);
    assert!(post("_posts/2021-01-01-x.md", "---\npublished: 'no'\n---\n").published);
    assert!(post("_posts/2021-01-01-x.md", "---\npublished: n\n---\n").published);
    let p = post("_posts/2021-01-01-x.md", "---\ntitle: 010\ntags: [0x1f, 'off', off]\ncategory: 1:30\n---\n");
    assert_eq!(p.title, "8");
    assert_eq!(p.tags, ["31", "off", "false"]);
    assert_eq!(p.categories, ["5400"]);
    assert_eq!(post("_posts/2021-01-01-x.md", "---\ntitle: \"010\"\n---\n").title, "010");
    let bad = err("_posts/2021-01-01-x.md", b"---\ntitle: x\nmood: :)\n---\n");
    assert_eq!(bad.line, Some(3));
    assert!(matches!(bad.kind, PostErrorKind::Yaml(_)), "{bad}");
}

/// Psych reads an unquoted `YYYY-MM-DD HH:MM:SS` as UTC wherever it is, so jekyll-feed's
/// `<updated>` for `last_modified_at: 2021-01-02 10:00:00` is 18:00 in Shanghai (checked with
/// `jekyll build`); quoted, it is read in the site's zone.
#[test]
fn an_unquoted_last_modified_at_without_offset_is_utc_as_in_jekyll() {
    let p = post("_posts/2021-01-01-x.md", "---\nlast_modified_at: 2021-01-02 10:00:00\n---\n");
    assert_eq!(p.updated.to_rfc3339(), "2021-01-02T18:00:00+08:00");
    let p = post("_posts/2021-01-01-x.md", "---\nupdated: \"2021-01-02 10:00:00\"\n---\n");
    assert_eq!(p.updated.to_rfc3339(), "2021-01-02T10:00:00+08:00");
}
