//! `regen` as a build step: deterministic output, no needless writes, stale feeds removed, other
//! files kept, and clear failures.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::support::{
    self, assert_same_tree, base_posts, post, read_all_feeds, regen, tree, write_config, Settings, Workspace,
};

fn example_run(dir: &Path, name: &str) -> std::path::PathBuf {
    let sub = dir.join(name);
    fs::create_dir(&sub).unwrap();
    let output = sub.join("out");
    let config = support::write_example_config(&sub, &output, None);
    regen(&config).assert_code(0);
    output
}

#[test]
fn two_runs_into_two_folders_write_byte_identical_trees() {
    let tmp = tempfile::tempdir().unwrap();
    let first = example_run(tmp.path(), "one");
    let second = example_run(tmp.path(), "two");
    assert!(tree(&first).len() > 40, "the example site has many feeds");
    assert_same_tree(&first, &second);
}

#[test]
fn a_second_run_into_the_same_folder_rewrites_nothing() {
    let ws = Workspace::with_posts(&base_posts());
    let (config, out) = ws.config("same", &Settings::default());
    regen(&config).assert_code(0);
    // Backdate every file: a rewrite, however fast, would give it a new mtime.
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800);
    let files = tree(&out);
    assert!(files.len() >= 10, "{:?}", files.keys());
    for rel in files.keys() {
        fs::File::options().write(true).open(out.join(rel)).unwrap().set_modified(past).unwrap();
    }
    let second = regen(&config);
    second.assert_code(0);
    assert!(second.stdout.contains(": 0 written"), "{second}");
    // The feed state, the lists of retired feeds and the stylesheet are not feeds, and are not counted.
    assert!(second.stdout.contains(&format!("{} unchanged", files.len())), "{second}");
    for rel in files.keys() {
        let mtime = fs::metadata(out.join(rel)).unwrap().modified().unwrap();
        assert_eq!(mtime, past, "{rel} was written again");
    }
    assert_eq!(tree(&out), files);
}

#[test]
fn a_tag_no_post_carries_any_more_keeps_its_feeds_empty_and_others_stay() {
    let ws = Workspace::with_posts(&base_posts());
    ws.write(
        "_posts/2021-03-04-tagged.md",
        post("title: Tagged\ndate: 2021-03-04 08:00:00 +0800\ntags: [doomed, alpha]", "Body."),
    );
    let (config, out) = ws.config("tags", &Settings::default());
    regen(&config).assert_code(0);
    let before = tree(&out);
    for path in ["feed/by_tag/doomed.xml", "feed/by_tag/doomed.rss"] {
        assert!(before.contains_key(path), "{path} missing: {:?}", before.keys());
        let feed = support::read_feed(&out.join(path));
        assert_eq!(feed.feed.entries.iter().map(support::title).collect::<Vec<_>>(), ["Tagged"], "{path}");
    }

    ws.write(
        "_posts/2021-03-04-tagged.md",
        post("title: Tagged\ndate: 2021-03-04 08:00:00 +0800\ntags: [alpha]", "Body."),
    );
    let run = regen(&config);
    run.assert_code(0);
    // Kept answering, empty, until feeds.retire_after_days (tests/it/keepalive.rs retires it).
    assert!(run.stdout.contains("0 removed"), "{run}");
    let after = tree(&out);
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>());
    for path in ["feed/by_tag/doomed.xml", "feed/by_tag/doomed.rss"] {
        assert!(support::read_feed(&out.join(path)).feed.entries.is_empty(), "{path}");
    }
    read_all_feeds(&out);
}

#[test]
fn files_in_the_output_folder_that_are_not_feeds_are_left_alone() {
    let ws = Workspace::with_posts(&base_posts());
    let (config, out) = ws.config("keep", &Settings::default());
    let ours = [
        ("index.html", "<h1>hi</h1>"),
        ("feed/README.txt", "notes"),
        ("feed/by_tag/style.css", "x{}"),
        ("feed/sub/x.xml", "<x/>"),
    ];
    for (rel, text) in ours {
        fs::create_dir_all(out.join(rel).parent().unwrap()).unwrap();
        fs::write(out.join(rel), text).unwrap();
    }
    regen(&config).assert_code(0);
    regen(&config).assert_code(0);
    for (rel, text) in ours {
        assert_eq!(fs::read_to_string(out.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}")), text, "{rel}");
    }
    assert!(out.join("feed.xml").is_file());
}

#[test]
fn regen_exits_zero_when_posts_are_skipped() {
    let ws = Workspace::with_posts(&base_posts());
    ws.write("_posts/2021-03-05-broken.md", "---\ntitle: [unclosed\n---\nbody\n");
    let (run, out) = ws.regen("skips", &Settings::default());
    run.assert_code(0);
    assert_eq!(run.stderr_lines_about("_posts/2021-03-05-broken.md").len(), 1, "{run}");
    assert_eq!(read_all_feeds(&out)["feed.xml"].feed.entries.len(), 3);
}

/// The one line of stderr of a failed run.
#[track_caller]
fn one_line_error(run: &support::Run) -> String {
    assert!(run.code.is_some_and(|c| c != 0), "expected a failure\n{run}");
    let lines: Vec<&str> = run.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr\n{run}");
    assert!(run.stdout.trim().is_empty(), "nothing on stdout\n{run}");
    lines[0].to_string()
}

#[test]
fn a_missing_source_folder_fails_with_one_line_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-site");
    let config = tmp.path().join("c.toml");
    write_config(&config, &missing, &tmp.path().join("out"), &Settings::default());
    for run in [regen(&config), support::check(&config)] {
        let line = one_line_error(&run);
        assert!(line.contains("no-such-site"), "{line}");
    }
    assert!(!tmp.path().join("out").exists(), "nothing written");
}

/// Writes a config for the base site with `[feeds] limitt = 5`, a misspelt key.
fn config_with_unknown_key(ws: &Workspace) -> (std::path::PathBuf, std::path::PathBuf) {
    let (config, out) = ws.config("typo", &Settings::default());
    let text = fs::read_to_string(&config).unwrap() + "[feeds]\nlimitt = 5\n";
    fs::write(&config, text).unwrap();
    (config, out)
}

#[test]
fn an_unknown_config_key_fails_naming_the_key() {
    let ws = Workspace::with_posts(&base_posts());
    let (config, out) = config_with_unknown_key(&ws);
    for run in [regen(&config), support::check(&config)] {
        assert_eq!(run.code, Some(2), "{run}");
        let first = run.stderr.lines().next().unwrap_or("");
        assert!(first.contains("limitt") || run.stderr.contains("unknown field `limitt`"), "{run}");
        assert!(run.stdout.trim().is_empty(), "{run}");
    }
    assert!(!out.exists(), "nothing written");

    let site_typo =
        fs::read_to_string(&config).unwrap().replace("[site]\n", "[site]\ntitel = \"x\"\n").replace("limitt", "limit");
    fs::write(&config, site_typo).unwrap();
    let run = regen(&config);
    assert_eq!(run.code, Some(2), "{run}");
    assert!(run.stderr.contains("titel"), "{run}");
}

#[test]
fn an_unknown_config_key_fails_with_one_line_naming_it() {
    let ws = Workspace::with_posts(&base_posts());
    let (config, _) = config_with_unknown_key(&ws);
    let line = one_line_error(&regen(&config));
    assert!(line.contains("limitt"), "{line}");
}

#[test]
fn a_missing_config_file_fails_with_one_line_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let line = one_line_error(&regen(&tmp.path().join("absent.toml")));
    assert!(line.contains("absent.toml"), "{line}");
}

#[test]
fn an_unwritable_output_folder_fails_with_one_line_naming_it() {
    let ws = Workspace::with_posts(&base_posts());
    // A folder below a regular file cannot be created, whoever runs the test (root included).
    let blocker = ws.root().join("blocker");
    fs::write(&blocker, "a file, not a folder").unwrap();
    let config = ws.root().join("c.toml");
    write_config(&config, &ws.site(), &blocker.join("out"), &Settings::default());
    let line = one_line_error(&regen(&config));
    assert!(line.contains("blocker"), "{line}");
    assert_eq!(fs::read_to_string(&blocker).unwrap(), "a file, not a folder");
}

/// `check` reads without writing and reports every kind of problem, one line each, with the
/// file's line where it is known; `regen` reports the same post problems the same way (as
/// warnings on stderr) and leaves the name notes to `check`.
#[test]
fn check_reports_post_and_name_problems_without_writing() {
    let mut posts = base_posts();
    posts.push(("_posts/2021-03-05-broken.md", "---\ntitle: [unclosed\n---\nbody\n".to_string()));
    posts.push(("_posts/2021-03-06-odd.md", post("title: Odd\ndate: someday\ntags: [a b]", "Body.")));
    let ws = Workspace::with_posts(&posts);
    let (config, out) = ws.config("check", &Settings::default());
    let checked = support::check(&config);
    checked.assert_code(1);
    assert!(!out.exists(), "check wrote the output folder\n{checked}");
    let lines: Vec<&str> = checked.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{checked}");
    assert!(lines.iter().any(|l| l.starts_with("_posts/2021-03-05-broken.md:3: error: invalid YAML")), "{checked}");
    assert!(
        lines.contains(
            &"_posts/2021-03-06-odd.md:3: error: date \"someday\" is not a date; using the file name's date 2021-03-06"
        ),
        "{checked}"
    );
    // The note names the post that carries the tag, at its `tags:` line.
    let name = lines
        .iter()
        .find(|l| l.starts_with("_posts/2021-03-06-odd.md:4: note: tag \"a b\" is not a plain name"))
        .expect(&checked.stdout);
    let feed = name.rsplit(' ').next().unwrap();

    let run = regen(&config);
    run.assert_code(0);
    assert!(out.join(feed).is_file(), "{feed} not written\n{run}");
    let mut problems: Vec<&str> = run.stderr.lines().collect();
    problems.sort();
    assert_eq!(
        problems,
        [
            "warning: _posts/2021-03-06-odd.md:3: date \"someday\" is not a date; using the file name's date 2021-03-06",
            lines
                .iter()
                .find(|l| l.contains("broken"))
                .map(|l| format!("warning: skipped {}", l.replacen(" error: ", " ", 1)))
                .unwrap()
                .as_str(),
        ]
    );
}
