//! Bad input, one case per test. A skipped file must be reported (`regen`: a stderr line naming
//! it, exit 0; `check`: `path[:line]: message`, exit 1) and the output must be byte-for-byte the
//! output of the same site without that file. A post kept with a warning must change only the
//! feeds it belongs to.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;

use chrono::{DateTime, Utc};
use feed_rs::model::Entry;
use url::Url;

use crate::support::{
    self, assert_same_tree, base_posts, check, entry_digest, link, post, read_all_feeds, read_feed, shanghai_midnight,
    terms, title, tree, Run, Settings, Workspace,
};

/// Where in the file a report must point.
#[derive(Clone, Copy)]
enum Line {
    /// Nowhere: `path: reason`.
    None,
    /// This 1-based line: `path:N: reason`.
    At(usize),
    /// Some line: `path:N: reason`.
    Any,
}

impl Line {
    /// Whether `report` starts with `source`, this line (if any), and `: `.
    fn matches(self, report: &str, source: &str) -> bool {
        let Some(rest) = report.strip_prefix(source) else { return false };
        match self {
            Line::None => rest.starts_with(": "),
            Line::At(n) => rest.starts_with(&format!(":{n}: ")),
            Line::Any => rest
                .strip_prefix(':')
                .and_then(|r| r.split_once(": "))
                .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        }
    }
}

/// The base site, one clean run, then `add` and a second run. Asserts the file at `source` was
/// skipped and reported with `reason` at `line`, and that it left no trace in the output.
/// Returns the second run.
#[track_caller]
fn assert_skipped_without_trace(source: &str, reason: &str, line: Line, add: impl FnOnce(&Workspace)) -> Run {
    let ws = Workspace::with_posts(&base_posts());
    let (clean, clean_out) = ws.regen("clean", &Settings::default());
    clean.assert_code(0);
    assert!(clean.stderr.trim().is_empty(), "the base site is clean\n{clean}");

    add(&ws);
    let (config, out) = ws.config("with", &Settings::default());
    let run = support::regen(&config);
    run.assert_code(0);
    let lines = run.stderr_lines_about(source);
    assert_eq!(lines.len(), 1, "one line about {source}\n{run}");
    assert!(lines[0].to_lowercase().contains(reason), "the line about {source} should say {reason:?}\n{run}");
    let report = lines[0].trim_start_matches("warning: skipped ");
    assert!(line.matches(report, source), "the line about {source} should read `{source}[:line]: reason`\n{run}");
    assert!(run.stdout.contains("3 posts read, 1 skipped"), "{run}");
    assert_same_tree(&clean_out, &out);
    read_all_feeds(&out);

    let checked = check(&config);
    checked.assert_code(1);
    let lines = checked.stdout_lines_about(source);
    assert_eq!(lines.len(), 1, "check reports {source} once\n{checked}");
    assert!(line.matches(lines[0], source), "check should print `{source}[:line]: reason`\n{checked}");
    assert!(lines[0].to_lowercase().contains(reason), "check line should say {reason:?}\n{checked}");
    assert_eq!(checked.stdout.lines().count(), 1, "only the bad file is a problem\n{checked}");
    run
}

/// The base site with and without a post that is kept. The post must be in category `kept` only
/// (no tags), so that the only feeds it may change are the site feeds and `feed/kept.*`. Asserts
/// that, and a warning naming the file if `warning` is given; returns the post's Atom entry.
#[track_caller]
fn assert_kept(source: &str, content: &[u8], warning: Option<&str>) -> Entry {
    let ws = Workspace::with_posts(&base_posts());
    let (clean, clean_out) = ws.regen("clean", &Settings::default());
    clean.assert_code(0);
    ws.write(source, content);
    let (config, out) = ws.config("with", &Settings::default());
    let run = support::regen(&config);
    run.assert_code(0);
    assert!(run.stdout.contains("4 posts read, 0 skipped"), "{run}");
    let lines = run.stderr_lines_about(source);
    let checked = check(&config);
    match warning {
        Some(word) => {
            assert_eq!(lines.len(), 1, "one warning about {source}\n{run}");
            assert!(lines[0].to_lowercase().contains(word), "the warning should say {word:?}\n{run}");
            checked.assert_code(1);
            assert_eq!(checked.stdout_lines_about(source).len(), 1, "{checked}");
        }
        None => {
            assert!(lines.is_empty(), "no warning about {source}\n{run}");
            checked.assert_code(0);
        }
    }

    let (before, after) = (tree(&clean_out), tree(&out));
    let added: BTreeSet<&str> = after.keys().filter(|k| !before.contains_key(*k)).map(String::as_str).collect();
    assert_eq!(added, BTreeSet::from(["feed/kept.rss", "feed/kept.xml"]));
    for (rel, bytes) in &before {
        if rel != "feed.xml" && rel != "feed.rss" {
            assert!(after.get(rel) == Some(bytes), "{rel} changed");
        }
    }
    let feeds = read_all_feeds(&out);
    for site in ["feed.xml", "feed.rss"] {
        let mut with = feeds[site].feed.clone();
        let kept = read_feed(&out.join(site.replace("feed.", "feed/kept.")));
        assert_eq!(kept.feed.entries.len(), 1, "{site}");
        let new_id = &kept.feed.entries[0].id;
        with.entries.retain(|e| &e.id != new_id);
        assert_eq!(
            entry_digest(&with),
            entry_digest(&read_feed(&clean_out.join(site)).feed),
            "{site} without the post"
        );
    }
    read_feed(&out.join("feed/kept.xml")).feed.entries.remove(0)
}

#[test]
fn the_base_site_is_clean_for_check() {
    let ws = Workspace::with_posts(&base_posts());
    let (config, _) = ws.config("base", &Settings::default());
    let run = check(&config);
    run.assert_code(0);
    assert!(run.stdout.trim().is_empty(), "{run}");
}

#[test]
fn invalid_yaml_is_reported_with_its_line() {
    let source = "_posts/2021-03-10-bad-yaml.md";
    // Line 4 of the file holds a second `:` that YAML rejects.
    let text = "---\ntitle: Broken\ndate: 2021-03-10 10:00:00 +0800\ntags: a: b\n---\nBody.\n";
    assert_skipped_without_trace(source, "yaml", Line::At(4), |ws| {
        ws.write(source, text);
    });
}

#[test]
fn front_matter_never_closed_is_reported() {
    let source = "_posts/2021-03-10-unclosed.md";
    assert_skipped_without_trace(source, "never closed", Line::At(1), |ws| {
        ws.write(source, "---\ntitle: Unclosed\ndate: 2021-03-10\n\nThe body never sees a closing line.\n");
    });
}

#[test]
fn a_file_without_front_matter_is_reported() {
    let source = "_posts/2021-03-10-no-front-matter.md";
    assert_skipped_without_trace(source, "front matter", Line::At(1), |ws| {
        ws.write(source, "Just a body, no front matter.\n");
    });
}

#[test]
fn non_utf8_bytes_are_reported() {
    let source = "_posts/2021-03-10-latin1.md";
    assert_skipped_without_trace(source, "utf-8", Line::At(2), |ws| {
        ws.write(source, b"---\ntitle: Caf\xe9\n---\nCaf\xe9 cr\xe8me\n");
    });
}

#[test]
fn a_binary_file_named_md_is_reported() {
    let source = "_posts/2021-03-10-image.md";
    // The first NUL byte is on the third line.
    assert_skipped_without_trace(source, "binary", Line::At(3), |ws| {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x06\0\0\0".to_vec();
        png.extend((0..=255u8).cycle().take(4096));
        ws.write(source, png);
    });
}

#[test]
fn an_empty_file_is_reported() {
    let source = "_posts/2021-03-10-empty.md";
    assert_skipped_without_trace(source, "front matter", Line::At(1), |ws| {
        ws.write(source, "");
    });
}

#[test]
fn a_50_mb_post_over_the_default_limit_is_reported() {
    let source = "_posts/2021-03-10-huge.md";
    assert_skipped_without_trace(source, "too large", Line::None, |ws| {
        let path = ws.write(source, "---\ntitle: Huge\n---\n");
        let mut file = fs::OpenOptions::new().append(true).open(path).unwrap();
        let chunk = "All work and no play. ".repeat(4096);
        let mut written = 0;
        while written < 50 * 1024 * 1024 {
            file.write_all(chunk.as_bytes()).unwrap();
            written += chunk.len();
        }
    });
}

#[test]
fn a_yaml_alias_bomb_completes_and_is_reported() {
    let source = "_posts/2021-03-10-bomb.md";
    let mut yaml =
        String::from("title: Bomb\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for (name, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().zip(["a", "b", "c", "d", "e", "f", "g", "h"]) {
        yaml += &format!("{name}: &{name} [{}]\n", vec![format!("*{prev}"); 9].join(","));
    }
    // The line where the aliases have grown too far: `e`, with 9^5 copies of "lol".
    assert_skipped_without_trace(source, "yaml", Line::At(7), |ws| {
        ws.write(source, format!("---\n{yaml}---\nBody.\n"));
    });
}

#[test]
fn deep_flow_nesting_completes_and_is_reported() {
    let source = "_posts/2021-03-10-deep-flow.md";
    let depth = 100_000;
    let text = format!("---\ntitle: Deep\ntags: {}{}\n---\nBody.\n", "[".repeat(depth), "]".repeat(depth));
    // The nesting starts on line 3.
    assert_skipped_without_trace(source, "yaml", Line::At(3), |ws| {
        ws.write(source, text);
    });
}

#[test]
fn deep_block_nesting_completes_and_is_reported() {
    let source = "_posts/2021-03-10-deep-block.md";
    let mut yaml = String::from("title: Deep\nx:\n");
    for level in 1..1000 {
        yaml += &format!("{}a:\n", " ".repeat(level));
    }
    assert_skipped_without_trace(source, "yaml", Line::Any, |ws| {
        ws.write(source, format!("---\n{yaml}---\nBody.\n"));
    });
}

#[test]
fn an_unreadable_file_is_reported() {
    use std::os::unix::fs::PermissionsExt;
    let source = "_posts/2021-03-10-secret.md";
    let probe = tempfile::NamedTempFile::new().unwrap();
    fs::set_permissions(probe.path(), fs::Permissions::from_mode(0o000)).unwrap();
    if fs::read(probe.path()).is_ok() {
        // Root reads a chmod 000 file; a link whose target is gone cannot be read by anyone.
        eprintln!("an_unreadable_file_is_reported: running as root, using a dangling symlink instead of chmod 000");
        assert_skipped_without_trace(source, "cannot read", Line::None, |ws| {
            std::os::unix::fs::symlink(ws.site().join("_posts/gone.md"), ws.site().join(source)).unwrap();
        });
        return;
    }
    assert_skipped_without_trace(source, "cannot read", Line::None, |ws| {
        let path = ws.write(source, post("title: Secret\ndate: 2021-03-10", "Body."));
        fs::set_permissions(path, fs::Permissions::from_mode(0o000)).unwrap();
    });
}

#[test]
fn a_fifo_named_like_a_post_is_reported_without_blocking() {
    let source = "_posts/2021-03-10-pipe.md";
    assert_skipped_without_trace(source, "not a regular file", Line::None, |ws| {
        let status = std::process::Command::new("mkfifo").arg(ws.site().join(source)).status().unwrap();
        assert!(status.success(), "mkfifo failed");
    });
}

#[test]
fn a_symlink_to_a_file_outside_the_source_is_never_published() {
    let source = "_posts/2021-03-10-linked.md";
    let run = assert_skipped_without_trace(source, "outside", Line::None, |ws| {
        let outside = ws.root().join("outside.md");
        fs::write(
            &outside,
            post("title: Private notes\ndate: 2021-03-10\ncategories: private", "Never to be published."),
        )
        .unwrap();
        std::os::unix::fs::symlink(&outside, ws.site().join(source)).unwrap();
    });
    assert!(!run.stderr.contains("Never to be published"), "{run}");
}

#[test]
fn drafts_site_and_dot_folders_are_ignored() {
    let ws = Workspace::with_posts(&base_posts());
    let (_, clean_out) = ws.regen("clean", &Settings::default());
    let hidden = [
        "_drafts/2021-03-11-draft.md",
        "_site/_posts/2021-03-11-built.md",
        "_site/2021-03-11-built.md",
        ".git/_posts/2021-03-11-git.md",
        ".hidden/_posts/2021-03-11-hidden.md",
        "_posts/.hidden/2021-03-11-dot-folder.md",
        "_posts/.2021-03-11-dotfile.md",
        "_posts/2021-03-11-backup.md~",
        "node_modules/pkg/_posts/2021-03-11-module.md",
    ];
    for (i, source) in hidden.iter().enumerate() {
        ws.write(
            source,
            post(&format!("title: Hidden {i}\ndate: 2021-03-11\ncategories: hidden"), "Not a post of this site."),
        );
    }
    let (config, out) = ws.config("with", &Settings::default());
    let run = support::regen(&config);
    run.assert_code(0);
    assert!(run.stdout.contains("3 posts read, 0 skipped"), "{run}");
    for source in hidden {
        assert!(run.stderr_lines_about(source).is_empty(), "{run}");
    }
    assert_same_tree(&clean_out, &out);
    check(&config).assert_code(0);
}

#[test]
fn an_unparseable_date_keeps_the_post_with_the_file_name_date_and_a_warning() {
    let source = "_posts/2021-03-12-yesterday.md";
    let e = assert_kept(
        source,
        post("title: Yesterday\ndate: yesterday\ncategories: kept", "Body.").as_bytes(),
        Some("date"),
    );
    assert_eq!(e.published, Some(shanghai_midnight("2021-03-12")));
    assert_eq!(title(&e), "Yesterday");
    assert_eq!(link(&e), "https://blog.example.org/kept/2021/03/12/yesterday.html");
}

#[test]
fn a_date_that_is_only_an_offset_keeps_the_post_with_the_file_name_date_and_a_warning() {
    // Jekyll aborts the whole build here ("Invalid date '+0800'"); postfeed keeps the post.
    let source = "_posts/2021-03-13-offset-only.md";
    let e = assert_kept(
        source,
        post("title: Offset only\ndate:  +0800\ncategories: kept", "Body.").as_bytes(),
        Some("date"),
    );
    assert_eq!(e.published, Some(shanghai_midnight("2021-03-13")));
    assert_eq!(title(&e), "Offset only");
}

#[test]
fn a_post_without_title_is_titled_from_its_slug() {
    let source = "_posts/2021-03-14-hello-brave-new-world.md";
    let e = assert_kept(source, post("date: 2021-03-14 08:00:00 +0800\ncategories: kept", "Body.").as_bytes(), None);
    assert_eq!(title(&e), "Hello Brave New World");
    assert_eq!(
        e.published,
        Some(DateTime::parse_from_rfc3339("2021-03-14T08:00:00+08:00").unwrap().with_timezone(&Utc))
    );
}

fn is_xml_forbidden(c: char) -> bool {
    (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{fffe}' || c == '\u{ffff}'
}

#[test]
fn control_characters_and_cdata_terminators_in_title_and_body_still_parse() {
    let source = "_posts/2021-03-15-nasty.html";
    // YAML escapes put BEL, U+0001 and ESC in the title; the body has them raw.
    let front = "title: \"Bell\\a one\\x01 esc\\e ]]> end\"\ndate: 2021-03-15 09:00:00 +0800\ncategories: kept";
    let body = "<p>raw \u{1}\u{7}\u{1b} controls, a ]]> terminator and <code>&lt;![CDATA[x]]></code> too</p><img alt=\"a ]]> b\" src=\"x.png\">";
    let e = assert_kept(source, post(front, body).as_bytes(), None);
    let t = title(&e);
    assert!(!t.chars().any(is_xml_forbidden), "{t:?}");
    assert!(t.starts_with("Bell") && t.ends_with("]]> end"), "{t:?}");
    let html = support::content(&e);
    assert!(!html.chars().any(is_xml_forbidden), "{html:?}");
    // As a reader's HTML parser reads it: the sanitizer writes `>` as `&gt;`, in text and in
    // attribute values alike (html5ever follows the 2025 serialization rules).
    let parsed = scraper::Html::parse_fragment(html);
    let img = scraper::Selector::parse("img").unwrap();
    assert_eq!(parsed.select(&img).next().and_then(|i| i.attr("alt")), Some("a ]]> b"), "{html}");
    let text: String = parsed.root_element().text().collect();
    assert_eq!(text.matches("]]>").count(), 2, "{html}");
    let code = scraper::Selector::parse("code").unwrap();
    assert_eq!(parsed.select(&code).map(|c| c.text().collect::<String>()).collect::<Vec<_>>(), ["<![CDATA[x]]>"]);
}

/// The folder of an output tree's files, relative.
fn parent_of(rel: &str) -> &str {
    rel.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("")
}

#[test]
fn awkward_tag_names_get_safe_distinct_feed_paths_inside_by_tag() {
    let tags = [
        ("dotdot", "\"../x\""),
        ("slash", "\"a/b\""),
        ("cpp", "\"C++\""),
        ("c", "C"),
        ("tilde", "\"~\""),
        ("year", "2013"),
    ];
    let ws = Workspace::new();
    for (i, (slug, tag)) in tags.iter().enumerate() {
        ws.write(
            &format!("_posts/2021-04-{:02}-{slug}.md", i + 1),
            post(&format!("title: {slug}\ndate: 2021-04-{:02}\ntags: [{tag}]", i + 1), "Body."),
        );
    }
    ws.write("_posts/2021-04-20-empty-tag.md", post("title: empty-tag\ndate: 2021-04-20\ntags: [\"\"]", "Body."));
    let (run, out) = ws.regen("tags", &Settings::default());
    run.assert_code(0);

    // Nothing was written outside the output folder, nor into the site.
    let top: BTreeSet<String> =
        fs::read_dir(ws.root()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(top, BTreeSet::from(["site".to_string(), "out-tags".to_string(), "tags.toml".to_string()]));
    assert_eq!(tree(&ws.site()).len(), tags.len() + 1);

    let feeds = read_all_feeds(&out);
    let all = tree(&out);
    assert_eq!(feeds.len(), all.len(), "only feeds: {:?}", all.keys());
    let mut seen_paths = BTreeSet::new();
    for (slug, tag) in tags {
        let holding: Vec<&String> = feeds
            .iter()
            .filter(|(rel, f)| {
                rel.starts_with("feed/") && f.feed.entries.iter().map(title).collect::<Vec<_>>() == [slug]
            })
            .map(|(rel, _)| rel)
            .collect();
        assert_eq!(holding.len(), 2, "one Atom and one RSS feed for tag {tag}: {holding:?}");
        for rel in holding {
            assert_eq!(parent_of(rel), "feed/by_tag", "tag {tag} feed at {rel}");
            let name = rel.rsplit('/').next().unwrap();
            assert!(!name.starts_with('.') && name.len() > 4, "tag {tag}: file name {name:?}");
            assert!(seen_paths.insert(rel.clone()), "{rel} used twice");
            if rel.ends_with(".xml") {
                // The feed's own URL names this very file.
                let self_url = Url::parse(support::self_link(&feeds[rel].feed).expect("self link")).unwrap();
                let decoded = percent_encoding::percent_decode_str(self_url.path()).decode_utf8().unwrap().into_owned();
                assert_eq!(decoded, format!("/{rel}"), "tag {tag}");
            }
        }
    }
    // Every entry still lists its tag as a term (the empty one aside).
    let site = &feeds["feed.xml"].feed;
    assert_eq!(site.entries.len(), tags.len() + 1);
    let all_terms: BTreeSet<String> = site.entries.iter().flat_map(terms).collect();
    assert_eq!(all_terms, BTreeSet::from(["../x", "a/b", "C++", "C", "~", "2013"].map(String::from)));
    // Site feeds, and one Atom and one RSS feed per non-empty tag: nothing for "".
    assert_eq!(all.len(), 2 + 2 * tags.len(), "{:?}", all.keys());
}

/// `postfeed regen --source SITE --output OUT` with no config file (`_config.yml` alone
/// configures it); the run and the output folder.
fn regen_with_no_config(ws: &Workspace) -> (Run, std::path::PathBuf) {
    let (site, out) = (ws.site(), ws.root().join("out"));
    let args =
        [std::ffi::OsStr::new("regen"), "--source".as_ref(), site.as_os_str(), "--output".as_ref(), out.as_os_str()];
    (support::postfeed_in(ws.root(), args), out)
}

/// A site whose `_config.yml` has a `url`, with `extra` written into it, regenerated with no
/// config file.
fn regen_jekyll_site(extra: impl FnOnce(&Workspace)) -> (Workspace, Run, std::path::PathBuf) {
    let ws = Workspace::with_posts(&[
        ("_config.yml", "title: Quay\nurl: https://quay.example.org\n".to_string()),
        (
            "_posts/2024-01-02-data.md",
            post("title: Data\ndate: 2024-01-02 08:00:00 +0800", "Data: {{ site.data | jsonify }}"),
        ),
    ]);
    extra(&ws);
    let (run, out) = regen_with_no_config(&ws);
    (ws, run, out)
}

fn data_entry(out: &std::path::Path) -> String {
    let feed = read_feed(&out.join("feed.xml")).feed;
    let entry = feed.entries.iter().find(|e| title(e) == "Data").expect("the post is in the feed");
    entry.content.as_ref().and_then(|c| c.body.clone()).unwrap_or_default()
}

/// `_data` may not be a link out of the site: what it points at would be published.
#[test]
fn a_data_folder_linked_out_of_the_site_is_not_read() {
    let (_ws, run, out) = regen_jekyll_site(|ws| {
        let secret = ws.root().join("secret");
        fs::create_dir_all(&secret).unwrap();
        fs::write(secret.join("keys.yml"), "token: TOP-SECRET-YAML\n").unwrap();
        std::os::unix::fs::symlink("../secret", ws.site().join("_data")).unwrap();
    });
    run.assert_code(0);
    assert!(
        run.stderr.lines().any(|l| l.contains("_data") && l.contains("links outside the site")),
        "the refusal is reported:\n{run}"
    );
    let html = data_entry(&out);
    assert!(!html.contains("TOP-SECRET"), "{html}");
    assert!(html.contains("Data: {}"), "site.data is empty: {html}");
}

/// A FIFO in `_data` (or as `_config.yml`) is reported, never read: reading it would wait for a
/// writer forever.
#[test]
fn a_fifo_among_the_settings_is_reported_not_read() {
    let mkfifo = |path: &std::path::Path| {
        let made = std::process::Command::new("mkfifo").arg(path).status().expect("mkfifo runs");
        assert!(made.success());
    };
    let (_ws, run, out) = regen_jekyll_site(|ws| {
        fs::create_dir_all(ws.site().join("_data")).unwrap();
        fs::write(ws.site().join("_data/desk.yml"), "motto: Tides\n").unwrap();
        mkfifo(&ws.site().join("_data/pipe.yml"));
    });
    run.assert_code(0);
    assert!(run.stderr.lines().any(|l| l.contains("_data/pipe.yml") && l.contains("not a regular file")), "{run}");
    assert!(data_entry(&out).contains("Tides"), "the other data files are read");

    let (_ws, run, _) = regen_jekyll_site(|ws| {
        fs::remove_file(ws.site().join("_config.yml")).unwrap();
        mkfifo(&ws.site().join("_config.yml"));
    });
    assert_ne!(run.code, Some(0), "{run}");
    assert!(run.stderr.contains("_config.yml") && run.stderr.contains("not a regular file"), "{run}");
}

/// `_config.yml` linked out of the site is refused: its values would show in `site.*`.
#[test]
fn a_config_yml_linked_out_of_the_site_is_refused() {
    let (_ws, run, _) = regen_jekyll_site(|ws| {
        fs::write(ws.root().join("outside.yml"), "title: Quay\nurl: https://quay.example.org\nsecret: TOP-SECRET\n")
            .unwrap();
        fs::remove_file(ws.site().join("_config.yml")).unwrap();
        std::os::unix::fs::symlink("../outside.yml", ws.site().join("_config.yml")).unwrap();
    });
    assert_ne!(run.code, Some(0), "{run}");
    assert!(run.stderr.contains("_config.yml") && run.stderr.contains("links outside the site"), "{run}");
}

/// Characters XML cannot hold, in `_config.yml`, a front-matter `permalink` and
/// `_data/authors.yml`, and script URLs in metadata: every feed stays well-formed (roxmltree is
/// strict), and no link a reader follows or loads has a scheme other than http or https.
#[test]
fn metadata_never_breaks_the_xml_nor_carries_script_links() {
    let ws = Workspace::with_posts(&[
        (
            "_config.yml",
            "title: \"Quay\\x01 Daily\\uFFFE\"\nurl: https://quay.example.org\ndescription: \"Notes\\x08\"\nlang: \"en\\x0B\"\nauthor:\n  name: \"Desk\\x02\"\n  uri: \"javascript:alert(1)\"\n"
                .to_string(),
        ),
        ("_data/authors.yml", "eve:\n  name: Eve\n  email: \"eve\\x01@example.org\"\n  uri: \"java\\tscript:alert(2)\"\n".to_string()),
        ("_posts/2024-01-02-a.md", post("title: A\npermalink: \"/a\\x01b\\uFFFE/\"\nauthor: eve", "Body.")),
        (
            "_posts/2024-01-03-b.md",
            post("title: B\nimage: \"data:image/svg+xml,<svg onload=alert(3)>\"\nid: \"javascript:alert(4)\"", "Body."),
        ),
    ]);
    let (run, out) = regen_with_no_config(&ws);
    run.assert_code(0);
    let mut checked = 0;
    for (rel, bytes) in tree(&out) {
        if !(rel.ends_with(".xml") || rel.ends_with(".rss")) {
            continue;
        }
        let text = String::from_utf8(bytes).unwrap();
        let doc = roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{rel} is not well-formed: {e}"));
        for node in doc.descendants() {
            for attr in node.attributes() {
                assert!(
                    !attr.value().to_ascii_lowercase().contains("script:") && !attr.value().starts_with("data:"),
                    "{rel}: {attr:?}"
                );
            }
            if let Some(text) = node.text() {
                let lower = text.to_ascii_lowercase();
                assert!(
                    !lower.contains("javascript:") && !lower.contains("java\tscript:") && !lower.starts_with("data:"),
                    "{rel}: {text:?}"
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 2, "Atom and RSS site feeds at least: {checked}");
    let feed = read_feed(&out.join("feed.xml")).feed;
    assert_eq!(feed.title.unwrap().content, "Quay Daily");
}

/// A post with a thousand categories and tags makes at most 100 feeds of each, not a thousand
/// feeds that each list a thousand names (output growing with the square of their number).
#[test]
fn a_post_with_a_thousand_names_makes_a_hundred_feeds_of_each_and_is_reported() {
    let names = |prefix: &str| (0..1000).map(|i| format!("{prefix}{i}")).collect::<Vec<_>>().join(", ");
    let front = format!("title: Many\ncategories: [{}]\ntags: [{}]", names("c"), names("t"));
    let ws = Workspace::with_posts(&[
        ("_config.yml", "title: Quay\nurl: https://quay.example.org\n".to_string()),
        ("_posts/2024-01-02-many.md", post(&front, "Many names.")),
        ("_posts/2024-01-03-plain.md", post("title: Plain\ncategories: [news]\ntags: [t5]", "Plain.")),
    ]);
    let (run, out) = regen_with_no_config(&ws);
    run.assert_code(0);
    let about = run.stderr_lines_about("_posts/2024-01-02-many.md");
    for key in ["1000 categories", "1000 tags"] {
        assert!(about.iter().any(|l| l.contains(key) && l.contains("only the first 100")), "{key}:\n{run}");
    }
    let atom: Vec<String> = tree(&out).into_keys().filter(|p| p.ends_with(".xml")).collect();
    // The site feed, 100 + 1 categories (news), 100 tags (t5 is among them).
    assert_eq!(atom.len(), 1 + 101 + 100, "{atom:?}");
    let entry_names = |path: &str| {
        let feed = read_feed(&out.join(path)).feed;
        feed.entries.iter().find(|e| title(e) == "Many").map(|e| e.categories.len())
    };
    assert_eq!(entry_names("feed.xml"), Some(200), "the entry lists the names kept");
    assert!(out.join("feed/c99.xml").is_file() && !out.join("feed/c100.xml").exists());
    assert!(out.join("feed/news.xml").is_file() && out.join("feed/by_tag/t5.xml").is_file());
}

/// HTML an HTML parser would take minutes over (its time grows with the square of the nesting,
/// of the `&` in one run of text, and of the attributes of one tag) is shown as plain text, with a report; the other posts are
/// untouched.
#[test]
fn html_too_costly_to_parse_is_shown_as_plain_text_and_reported() {
    let ws = Workspace::with_posts(&[
        ("_config.yml", "title: Quay\nurl: https://quay.example.org\n".to_string()),
        ("_posts/2024-01-02-deep.html", format!("---\ntitle: Deep\n---\n{}deep end", "<ul><li>".repeat(2000))),
        ("_posts/2024-01-03-amps.md", post("title: Amps", &format!("{} amps end", "&".repeat(60_000)))),
        ("_posts/2024-01-04-fine.md", post("title: Fine", "A *fine* post with <b>bold</b> & more.")),
        // End tags that close nothing: the parser nests every `ul` in the one before.
        ("_posts/2024-01-06-stray.html", format!("---\ntitle: Stray\n---\n{}stray end", "<ul><li>x</zz>".repeat(3000))),
        // 40,000 attributes in one tag: html5ever compares each name with every one before it.
        (
            "_posts/2024-01-05-attributes.html",
            format!(
                "---\ntitle: Attributes\n---\n<a {}>x</a> attributes end",
                (0..40_000).map(|i| format!("a{i}=1")).collect::<Vec<_>>().join(" ")
            ),
        ),
    ]);
    let (run, out) = regen_with_no_config(&ws);
    run.assert_code(0);
    assert!(
        run.stderr_lines_about("_posts/2024-01-02-deep.html").iter().any(|l| l.contains("nested more than 512")),
        "{run}"
    );
    assert!(run.stderr_lines_about("_posts/2024-01-03-amps.md").iter().any(|l| l.contains("plain text")), "{run}");
    assert!(
        run.stderr_lines_about("_posts/2024-01-05-attributes.html").iter().any(|l| l.contains("too many attributes")),
        "{run}"
    );
    assert!(
        run.stderr_lines_about("_posts/2024-01-06-stray.html").iter().any(|l| l.contains("nested more than 512")),
        "{run}"
    );
    let feed = read_feed(&out.join("feed.xml")).feed;
    let html = |name: &str| {
        let entry = feed.entries.iter().find(|e| title(e) == name).unwrap();
        entry.content.as_ref().and_then(|c| c.body.clone()).unwrap()
    };
    let deep = html("Deep");
    assert!(deep.ends_with("deep end</p>") && !deep.contains("<ul>"), "{}", &deep[deep.len().saturating_sub(80)..]);
    let amps = html("Amps");
    assert!(amps.starts_with("<p>&amp;&amp;") && amps.ends_with("amps end</p>"));
    assert_eq!(html("Fine"), "<p>A <em>fine</em> post with <b>bold</b> &amp; more.</p>");
    assert_eq!(html("Attributes"), "<p>x attributes end</p>");
}
