//! `postfeed check` as a CI step: errors fail it, notes only with `--strict`, every finding names
//! its post as `path:line`, and `--format json` is one list that a JSON parser reads back.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::Path;

use crate::support::{base_posts, post, postfeed, Run, Settings, Workspace};

fn check(config: &Path, extra: &[&str]) -> Run {
    let mut args = vec![OsStr::new("check"), OsStr::new("--config"), config.as_os_str()];
    args.extend(extra.iter().map(OsStr::new));
    postfeed(args)
}

/// The base site plus posts that have notes only: a tag with a space (a block list), a category
/// with one (`category:` keeps it whole), a key set twice, and a file in `_posts` without a date.
fn notes_only() -> Workspace {
    let ws = Workspace::with_posts(&base_posts());
    ws.write(
        "_posts/2021-03-04-spaced.md",
        post("title: Spaced\ndate: 2021-03-04 09:00:00 +0800\ntags:\n  - one tag\n  - plain", "Body."),
    );
    ws.write("_posts/2021-03-05-cat.md", post("title: Cat\ntitle: Cat again\ncategory: two words", "Body."));
    ws.write("_posts/readme.md", "Not a post: no date in the name.\n");
    ws
}

/// `path:line: severity: message` split up; panics on a line that is not of that shape.
fn parse_line(line: &str) -> (String, usize, String) {
    let mut parts = line.splitn(4, ": ");
    let place = parts.next().unwrap();
    let severity = parts.next().unwrap_or_else(|| panic!("no severity in {line:?}"));
    assert!(parts.next().is_some_and(|m| !m.is_empty()), "no message in {line:?}");
    let (path, number) = place.rsplit_once(':').unwrap_or_else(|| panic!("no path:line in {line:?}"));
    let number = number.parse().unwrap_or_else(|_| panic!("no line number in {line:?}"));
    assert!(["error", "note"].contains(&severity), "severity {severity:?} in {line:?}");
    (path.to_string(), number, severity.to_string())
}

#[test]
fn notes_pass_unless_strict_and_errors_always_fail() {
    let ws = Workspace::with_posts(&base_posts());
    let (config, _) = ws.config("clean", &Settings::default());
    check(&config, &[]).assert_code(0);
    check(&config, &["--strict"]).assert_code(0);

    let ws = notes_only();
    let (config, out) = ws.config("notes", &Settings::default());
    let run = check(&config, &[]);
    run.assert_code(0);
    assert!(run.stdout.lines().all(|l| l.contains(": note: ") && !l.contains(": error: ")), "{run}");
    assert_eq!(run.stdout.lines().count(), 4, "{run}");
    assert!(run.stderr.contains("0 errors, 4 notes"), "{run}");
    let strict = check(&config, &["--strict"]);
    strict.assert_code(1);
    assert_eq!(strict.stdout, run.stdout, "--strict changes the exit code only");
    assert!(!out.exists(), "check wrote the output folder");

    // One error among the notes: a date that is no date.
    ws.write("_posts/2021-03-06-when.md", post("title: When\ndate: someday", "Body."));
    let run = check(&config, &[]);
    run.assert_code(1);
    check(&config, &["--strict"]).assert_code(1);
    let errors: Vec<&str> = run.stdout.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(errors.len(), 1, "{run}");
    assert_eq!(parse_line(errors[0]), ("_posts/2021-03-06-when.md".to_string(), 3, "error".to_string()));
    // Errors come first.
    assert!(run.stdout.starts_with("_posts/2021-03-06-when.md:3: error: date \"someday\""), "{run}");
}

#[test]
fn every_line_names_the_post_and_the_line() {
    let ws = notes_only();
    ws.write("_posts/2021-03-06-when.md", post("title: When\ndate: someday", "Body."));
    // The typo of issue 13: a category `MVE]`, found only by a grep before.
    ws.write("_posts/2021-03-07-typo.md", "---\ntitle: ok\ncategories: MVE]\n---\nBody.\n");
    ws.write("_posts/2021-03-08-yaml.md", "---\ntitle: ok\ntags: a: b\n---\nBody.\n");
    ws.write("_posts/2021-03-09-none.md", "No front matter.\n");
    ws.write("_posts/2021-03-10-latin1.md", b"---\ntitle: ok\n---\n\nCaf\xe9\n".as_slice());
    ws.write("_posts/2021-03-11-binary.md", b"---\ntitle: ok\n---\n\0\0".as_slice());
    // A category from a folder and one from front matter, both with a space.
    ws.write("x y/_posts/2021-03-12-folder.md", post("title: Folder\ncategories: [\"z w\"]", "Body."));
    let (config, _) = ws.config("lines", &Settings::default());
    let run = check(&config, &[]);
    run.assert_code(1);

    // Two findings are about a file as a whole, with no line to point at: a name without a
    // date (not a post), and a category that is a folder's name.
    let whole_file = [
        "_posts/readme.md: note: not a post",
        "x y/_posts/2021-03-12-folder.md: note: category \"x y\" is not a plain name",
    ];
    let mut found: BTreeSet<(String, usize, String)> = BTreeSet::new();
    for line in run.stdout.lines() {
        if whole_file.iter().any(|start| line.starts_with(start)) {
            continue;
        }
        let (path, number, severity) = parse_line(line);
        assert!(ws.site().join(&path).is_file(), "{path} is not a file of the site: {line}");
        found.insert((path, number, severity));
    }
    for start in whole_file {
        assert_eq!(run.stdout.lines().filter(|l| l.starts_with(start)).count(), 1, "{start}\n{run}");
    }
    let expected: BTreeSet<(String, usize, String)> = [
        ("_posts/2021-03-04-spaced.md", 4, "note"), // the `tags:` line of tag "one tag"
        ("_posts/2021-03-05-cat.md", 3, "note"),    // `title` set twice: the last one
        ("_posts/2021-03-05-cat.md", 4, "note"),    // the `category:` line of "two words"
        ("_posts/2021-03-06-when.md", 3, "error"),  // the `date:` line
        ("_posts/2021-03-07-typo.md", 3, "note"),   // the `categories:` line of "MVE]"
        ("_posts/2021-03-08-yaml.md", 3, "error"),  // where YAML stops
        ("_posts/2021-03-09-none.md", 1, "error"),  // no front matter: the first line
        ("_posts/2021-03-10-latin1.md", 5, "error"), // the line of the bad byte
        ("_posts/2021-03-11-binary.md", 4, "error"), // the line of the first NUL
        ("x y/_posts/2021-03-12-folder.md", 3, "note"), // `categories:`, for "z w"
    ]
    .into_iter()
    .map(|(p, l, s)| (p.to_string(), l, s.to_string()))
    .collect();
    assert_eq!(found, expected, "{run}");
}

#[test]
fn json_findings_parse_back_with_the_same_places_as_the_lines() {
    let ws = notes_only();
    ws.write("_posts/2021-03-06-when.md", post("title: When\ndate: someday", "Body."));
    let (config, _) = ws.config("json", &Settings::default());
    let text = check(&config, &[]);
    let json = check(&config, &["--format", "json"]);
    json.assert_code(1);
    check(&config, &["--format", "json", "--strict"]).assert_code(1);

    // The whole of stdout is one JSON value: nothing else is printed there.
    let findings: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap_or_else(|e| panic!("{e}\n{json}"));
    assert_eq!(findings.len(), text.stdout.lines().count(), "{json}");
    for (finding, line) in findings.iter().zip(text.stdout.lines()) {
        let object = finding.as_object().expect("each finding is an object");
        let keys: BTreeSet<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["severity", "path", "line", "kind", "message"]), "{finding}");
        let severity = finding["severity"].as_str().unwrap();
        let path = finding["path"].as_str().unwrap();
        let message = finding["message"].as_str().unwrap();
        assert!(finding["kind"].as_str().is_some_and(|k| !k.is_empty()), "{finding}");
        let place = match finding["line"].as_u64() {
            Some(n) => format!("{path}:{n}"),
            None => path.to_string(),
        };
        assert_eq!(line, format!("{place}: {severity}: {message}"), "the text line says what the JSON says");
    }
    let date = findings.iter().find(|f| f["kind"] == "bad_date").expect(&json.stdout);
    assert_eq!((date["severity"].as_str(), date["line"].as_u64()), (Some("error"), Some(3)));
    assert_eq!(date["path"], "_posts/2021-03-06-when.md");
    let name = findings.iter().find(|f| f["kind"] == "not_plain_name").expect(&json.stdout);
    assert_eq!(name["severity"], "note");

    // A clean site is an empty list, and still valid JSON.
    let clean = Workspace::with_posts(&base_posts());
    let (config, _) = clean.config("clean", &Settings::default());
    let run = check(&config, &["--format", "json"]);
    run.assert_code(0);
    assert_eq!(serde_json::from_str::<Vec<serde_json::Value>>(&run.stdout).unwrap(), Vec::<serde_json::Value>::new());
}
