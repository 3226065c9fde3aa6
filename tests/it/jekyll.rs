//! Compatibility with Jekyll itself: jekyll-feed's own test fixture built by `jekyll build`, and
//! the same fixture through `postfeed regen`. Expectations come from running Jekyll, never from a
//! stored copy of its output.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, Utc};

use crate::support::{self, link, read_feed, ReadFeed, Settings};

const URL: &str = "http://example.org";

fn jekyll_installed() -> bool {
    Command::new("jekyll").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn fixture() -> Option<PathBuf> {
    support::corpora_dir().map(|d| d.join("jekyll__jekyll-feed/spec/fixtures")).filter(|d| d.join("_posts").is_dir())
}

/// Entries by id: (link, published).
fn by_id(feed: &ReadFeed) -> BTreeMap<String, (String, Option<DateTime<Utc>>)> {
    feed.feed.entries.iter().map(|e| (e.id.clone(), (link(e).to_string(), e.published))).collect()
}

/// The file Jekyll writes for a page URL under `site_dir` (`/a/` → `a/index.html`, `/a` → `a.html`).
fn file_for(site_dir: &Path, href: &str) -> PathBuf {
    let path = href.strip_prefix(URL).unwrap_or_else(|| panic!("{href} is not under {URL}"));
    let path = percent_encoding::percent_decode_str(path).decode_utf8().expect("UTF-8 path").into_owned();
    let rel = path.trim_start_matches('/');
    if rel.is_empty() || rel.ends_with('/') {
        site_dir.join(rel).join("index.html")
    } else if Path::new(rel).extension().is_none() {
        site_dir.join(format!("{rel}.html"))
    } else {
        site_dir.join(rel)
    }
}

#[test]
fn postfeed_lists_the_posts_jekyll_feed_lists_with_the_same_ids_and_links() {
    let Some(fixture) = fixture() else {
        eprintln!("\n*** skipped: the jekyll-feed fixture is not there (set POSTFEED_CORPORA or put it in ../shared/corpora) ***\n");
        return;
    };
    if !jekyll_installed() {
        eprintln!("\n*** skipped: jekyll not installed ***\n");
        return;
    }
    let tmp = tempfile::Builder::new().prefix("postfeed-jekyll-").tempdir().unwrap();
    let site = tmp.path().join("site");
    support::copy_dir(&fixture, &site);
    let mut config = fs::read_to_string(site.join("_config.yml")).unwrap();
    config += &format!("\nurl: {URL}\nplugins: [jekyll-feed]\n");
    fs::write(site.join("_config.yml"), config).unwrap();

    let built = Command::new("jekyll")
        .args(["build", "--disable-disk-cache"])
        .current_dir(&site)
        .output()
        .expect("jekyll runs");
    assert!(
        built.status.success(),
        "jekyll build failed:\n{}{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );
    let jekyll = read_feed(&site.join("_site/feed.xml"));
    assert!(!jekyll.feed.entries.is_empty(), "jekyll-feed listed no post");

    let out = tmp.path().join("out");
    let postfeed_config = tmp.path().join("postfeed.toml");
    let settings = Settings { url: URL.into(), timezone: "UTC".into(), author: None, ..Settings::default() };
    support::write_config(&postfeed_config, &site, &out, &settings);
    let run = support::regen(&postfeed_config);
    run.assert_code(0);
    assert!(run.stdout.contains("10 posts read, 0 skipped"), "{run}");
    let ours = read_feed(&out.join("feed.xml"));
    assert_eq!(ours.feed.entries.len(), 10, "{run}");

    let (theirs, mine) = (by_id(&jekyll), by_id(&ours));
    for (id, (href, published)) in &theirs {
        let Some((our_href, our_published)) = mine.get(id) else {
            panic!("jekyll-feed lists {id} ({href}); postfeed's ids are {:?}", mine.keys());
        };
        assert_eq!(our_href, href, "link of {id}");
        assert_eq!(our_published, published, "published date of {id}");
    }

    // Every page postfeed links to is a page Jekyll built.
    let rss = read_feed(&out.join("feed.rss"));
    for e in ours.feed.entries.iter().chain(&rss.feed.entries) {
        let file = file_for(&site.join("_site"), link(e));
        assert!(file.is_file(), "{} → {} was not built by jekyll", link(e), file.display());
    }
}

/// Titles and category terms by entry id.
fn titles_and_terms(feed: &ReadFeed) -> BTreeMap<String, (String, Vec<String>)> {
    feed.feed
        .entries
        .iter()
        .map(|e| {
            let title = e.title.as_ref().map(|t| t.content.clone()).unwrap_or_default();
            let mut terms: Vec<String> = e.categories.iter().map(|c| c.term.clone()).collect();
            terms.sort();
            (e.id.clone(), (title, terms))
        })
        .collect()
}

/// Jekyll reads front matter as YAML 1.1 (Psych): `published: no` hides a post, `title: 010` is
/// the number 8, `tags: [no, 0x1f]` are `false` and `31`; quoted, each stays as written.
#[test]
fn front_matter_reads_as_jekylls_yaml_11() {
    if !jekyll_installed() {
        eprintln!("\n*** skipped: jekyll not installed ***\n");
        return;
    }
    let tmp = tempfile::Builder::new().prefix("postfeed-yaml11-").tempdir().unwrap();
    let site = tmp.path().join("site");
    fs::create_dir_all(site.join("_posts")).unwrap();
    fs::write(site.join("_config.yml"), format!("url: {URL}\nplugins: [jekyll-feed]\n")).unwrap();
    for (name, front_matter) in [
        ("2021-01-01-hidden.md", "title: Hidden\npublished: no"),
        ("2021-01-02-numbers.md", "title: 010\ntags: [no, 0x1f, 1:30]\ncategory: On"),
        ("2021-01-03-quoted.md", "title: '010'\npublished: 'no'\ntags: ['no', \"0x1f\"]"),
        ("2021-01-04-words.md", "title: n\ntags: [y, 1e5]"),
    ] {
        fs::write(site.join("_posts").join(name), support::post(front_matter, "Text.")).unwrap();
    }
    let built = Command::new("jekyll")
        .args(["build", "--disable-disk-cache"])
        .current_dir(&site)
        .output()
        .expect("jekyll runs");
    assert!(built.status.success(), "jekyll build failed:\n{}", String::from_utf8_lossy(&built.stderr));
    let jekyll = titles_and_terms(&read_feed(&site.join("_site/feed.xml")));
    assert_eq!(jekyll.len(), 3, "jekyll-feed lists every post but the hidden one: {jekyll:?}");

    let out = tmp.path().join("out");
    let config = tmp.path().join("postfeed.toml");
    let settings = Settings { url: URL.into(), timezone: "UTC".into(), author: None, ..Settings::default() };
    support::write_config(&config, &site, &out, &settings);
    let run = support::regen(&config);
    run.assert_code(0);
    assert_eq!(titles_and_terms(&read_feed(&out.join("feed.xml"))), jekyll, "{run}");
}
