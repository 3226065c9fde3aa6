//! Real sites from ../shared/corpora (or $POSTFEED_CORPORA): `regen` must succeed and every feed
//! it writes must parse. Each corpus is skipped, loudly, when it is not there.

use std::fs;
use std::path::{Path, PathBuf};

use url::Url;

use crate::support::{self, link, read_all_feeds, Settings, MISSING_ID};

/// The corpora with a test of their own below.
const KNOWN: [&str; 8] = [
    "18F__18f.gsa.gov",
    "bitcoinops__bitcoinops.github.io",
    "houbb__houbb.github.io",
    "jekyll__jekyll",
    "jekyll__jekyll-feed",
    "mmistakes__made-mistakes-jekyll",
    "ruby__www.ruby-lang.org",
    "zning1994__finews",
];

/// A `key: value` at the top level of a `_config.yml`, without quotes or trailing comment.
fn yaml_top_level(config: &str, key: &str) -> Option<String> {
    let prefix = format!("{key}:");
    let line = config.lines().find(|l| l.starts_with(&prefix))?;
    let raw = line[prefix.len()..].trim();
    let value = match raw.chars().next() {
        Some(q @ ('"' | '\'')) => raw[1..].split(q).next().unwrap_or(""),
        _ => raw.split(" #").next().unwrap_or("").trim(),
    };
    (!value.is_empty() && value != "~" && value != "null").then(|| value.to_string())
}

/// The `_config.yml` nearest the corpus root (breadth first).
fn nearest_config(dir: &Path) -> Option<PathBuf> {
    let mut level = vec![dir.to_path_buf()];
    while !level.is_empty() {
        let mut next = Vec::new();
        for d in level {
            if d.join("_config.yml").is_file() {
                return Some(d.join("_config.yml"));
            }
            let Ok(entries) = fs::read_dir(&d) else { continue };
            let mut subs: Vec<PathBuf> =
                entries.flatten().filter(|e| e.file_type().is_ok_and(|t| t.is_dir())).map(|e| e.path()).collect();
            subs.sort();
            next.extend(subs);
        }
        level = next;
    }
    None
}

fn settings_for(corpus: &Path) -> Settings {
    let config = nearest_config(corpus).and_then(|p| fs::read_to_string(p).ok()).unwrap_or_default();
    let url = yaml_top_level(&config, "url")
        .filter(|u| Url::parse(u).is_ok_and(|u| matches!(u.scheme(), "http" | "https")))
        .unwrap_or_else(|| "https://example.org".into());
    let timezone = yaml_top_level(&config, "timezone").unwrap_or_else(|| "UTC".into());
    Settings { url, timezone, ..Settings::default() }
}

/// Builds one corpus and reads every feed back.
fn build_corpus(name: &str) {
    let Some(corpus) = support::corpora_dir().map(|d| d.join(name)).filter(|d| d.is_dir()) else {
        eprintln!(
            "\n*** skipped: corpus {name} is not there (set POSTFEED_CORPORA or put it in ../shared/corpora) ***\n"
        );
        return;
    };
    let tmp = tempfile::Builder::new().prefix("postfeed-corpus-").tempdir().unwrap();
    let (config, out) = (tmp.path().join("config.toml"), tmp.path().join("out"));
    let settings = settings_for(&corpus);
    support::write_config(&config, &corpus, &out, &settings);
    let run = support::regen(&config);
    run.assert_code(0);
    let feeds = read_all_feeds(&out);
    // The site feed: `feed.xml`, or where `_config.yml`'s `feed.path` puts it (made-mistakes:
    // `atom.xml`), the one Atom feed at the top of the output folder.
    let (_, site) = feeds
        .iter()
        .find(|(path, _)| !path.contains('/') && (path.ends_with(".xml") || path.ends_with(".atom")))
        .unwrap_or_else(|| panic!("{name}: no site feed in {:?}", feeds.keys().collect::<Vec<_>>()));
    let site = &site.feed;
    assert!(!site.entries.is_empty(), "{name}: the site feed is empty\n{}", run.stdout);
    for (path, feed) in &feeds {
        for e in &feed.feed.entries {
            assert!(e.id != MISSING_ID && !e.id.trim().is_empty(), "{name}/{path}: an entry without id");
            let href = Url::parse(link(e)).unwrap_or_else(|err| panic!("{name}/{path}: link {:?}: {err}", link(e)));
            assert!(href.as_str().starts_with(settings.url.trim_end_matches('/')), "{name}/{path}: {href}");
            assert!(e.published.is_some(), "{name}/{path}: {href} has no date feed-rs can read");
        }
    }
    eprintln!("{name}: {} feeds parsed; {}", feeds.len(), run.stdout.trim());
}

macro_rules! corpus_tests {
    ($($(#[$attr:meta])* $test:ident => $name:literal,)*) => {
        $(
            #[test]
            $(#[$attr])*
            fn $test() {
                build_corpus($name);
            }
        )*
    };
}

corpus_tests! {
    corpus_18f_builds_and_parses => "18F__18f.gsa.gov",
    corpus_bitcoinops_builds_and_parses => "bitcoinops__bitcoinops.github.io",
    #[ignore = "slow: 50-65 s with the debug binary (regen 15-25 s, feed-rs reading 2,038 feeds the rest); run with --ignored"]
    corpus_houbb_builds_and_parses => "houbb__houbb.github.io",
    corpus_jekyll_builds_and_parses => "jekyll__jekyll",
    corpus_jekyll_feed_builds_and_parses => "jekyll__jekyll-feed",
    corpus_made_mistakes_builds_and_parses => "mmistakes__made-mistakes-jekyll",
    corpus_ruby_lang_builds_and_parses => "ruby__www.ruby-lang.org",
    corpus_finews_builds_and_parses => "zning1994__finews",
}

#[test]
fn corpora_without_a_test_of_their_own_build_and_parse_too() {
    let Some(dir) = support::corpora_dir() else {
        eprintln!("\n*** skipped: no corpora folder ***\n");
        return;
    };
    for entry in fs::read_dir(dir).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !KNOWN.contains(&name.as_str()) {
            build_corpus(&name);
        }
    }
}

#[test]
fn config_values_are_read_from_jekyll_configs() {
    let config =
        "title: x\nurl: \"https://a.example\" # the base\ntimezone: Asia/Tokyo\nbaseurl: \"\"\n  url: nested\n";
    assert_eq!(yaml_top_level(config, "url").as_deref(), Some("https://a.example"));
    assert_eq!(yaml_top_level(config, "timezone").as_deref(), Some("Asia/Tokyo"));
    assert_eq!(yaml_top_level(config, "baseurl"), None);
    assert_eq!(yaml_top_level("url: ''\n", "url"), None);
}
