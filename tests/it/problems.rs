//! `/problems` and `server.keep_last_good`, end to end: the daemon on a temporary site whose
//! posts break and get fixed while it runs; feeds read back with feed-rs, the page with scraper.

use std::fs;

use scraper::{Html, Selector};

use crate::support::{self, post, Daemon, Settings, Workspace, CHANGE_WAIT};

const KEPT: &str = "_posts/2024-06-01-kept.md";
const OTHER: &str = "_posts/2024-06-02-other.md";

fn good() -> String {
    post("title: Kept post\ndate: 2024-06-01 09:00:00 +0800\ncategories: news", "Kept body.")
}

/// The same post with a front matter YAML cannot read (an unclosed flow sequence).
fn broken() -> String {
    "---\ntitle: Kept post, edited\ndate: 2024-06-01 09:00:00 +0800\ncategories: [news\n---\nKept body.\n".to_string()
}

fn site(extra: &str) -> (Workspace, Daemon) {
    let ws = Workspace::with_posts(&[
        (KEPT, good()),
        (OTHER, post("title: Other post\ndate: 2024-06-02 09:00:00 +0800\ncategories: news", "Other.")),
    ]);
    let (config, _) = ws.config("problems", &Settings::default());
    let mut text = fs::read_to_string(&config).unwrap();
    text += "[server]\nquiet_ms = 50\n";
    text += extra;
    fs::write(&config, text).unwrap();
    let daemon = Daemon::start(&config);
    (ws, daemon)
}

/// The rows of `/problems`: severity, where, why.
fn problem_rows(daemon: &Daemon) -> Vec<[String; 3]> {
    let response = daemon.get("/problems");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), Some("text/html; charset=utf-8"));
    let policy = response.expect_header("content-security-policy");
    assert!(policy.starts_with("default-src 'none';") && policy.contains("script-src 'none'"), "{policy}");
    let dom = Html::parse_document(&response.text());
    let rows = Selector::parse("tbody tr").unwrap();
    dom.select(&rows)
        .map(|row| {
            let cells: Vec<String> =
                row.children().filter_map(scraper::ElementRef::wrap).map(|c| c.text().collect()).collect();
            [cells[0].clone(), cells[1].clone(), cells[2].clone()]
        })
        .collect()
}

fn rows_about(daemon: &Daemon, source: &str) -> Vec<[String; 3]> {
    let prefix = format!("{source}:");
    problem_rows(daemon).into_iter().filter(|r| r[1] == source || r[1].starts_with(&prefix)).collect()
}

/// Where `check` says the broken post's problem is, `path:line`: the line the page must show.
fn checked_location(ws: &Workspace) -> String {
    let (config, _) = ws.config("check", &Settings::default());
    let run = support::check(&config);
    let line = run.stdout_lines_about(KEPT).first().copied().unwrap_or_else(|| panic!("{run}")).to_string();
    let mut parts = line.splitn(3, ':');
    let location = format!("{}:{}", parts.next().unwrap(), parts.next().unwrap());
    assert!(location[KEPT.len() + 1..].parse::<usize>().is_ok(), "no line number in {line:?}");
    location
}

fn titles(daemon: &Daemon, path: &str) -> Vec<String> {
    daemon.titles(path).unwrap_or_default()
}

#[test]
fn a_broken_post_keeps_its_last_good_version_and_is_listed_until_fixed() {
    let (ws, daemon) = site("");
    assert!(problem_rows(&daemon).is_empty());
    assert!(daemon.get("/").text().contains("<a href=\"problems\">Problems (0)</a>"));

    ws.write(KEPT, broken());
    let location = checked_location(&ws);
    let rows = daemon.wait_for("/problems to list the broken post", CHANGE_WAIT, || {
        let rows = rows_about(&daemon, KEPT);
        (!rows.is_empty()).then_some(rows)
    });
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][1], location);
    assert!(rows[0][2].contains("YAML") && rows[0][2].contains("last good version"), "{rows:?}");
    assert_eq!(rows[0][0], "error");
    // Still in every feed it was in, as it was: the title is the last good one.
    for path in ["/feed.xml", "/feed.rss", "/feed/news.xml", "/feed/news.rss"] {
        let titles = titles(&daemon, path);
        assert!(titles.contains(&"Kept post".to_string()), "{path}: {titles:?}");
        assert!(!titles.iter().any(|t| t.contains("edited")), "{path}: {titles:?}");
    }
    assert!(daemon.get("/").text().contains("<a href=\"problems\">Problems (1)</a>"));

    // Fixed (with a new title): the new version is in, and the problem gone.
    ws.write(KEPT, post("title: Kept post, fixed\ndate: 2024-06-01 09:00:00 +0800\ncategories: news", "Fixed."));
    daemon.wait_titles("/feed/news", "the fixed post", |t| t.is_some_and(|t| t.contains(&"Kept post, fixed".into())));
    daemon.wait_for("/problems to drop the fixed post", CHANGE_WAIT, || {
        rows_about(&daemon, KEPT).is_empty().then_some(())
    });

    // Broken, then put back byte for byte as the version kept: nothing is wrong any more.
    let fixed = fs::read(ws.site().join(KEPT)).unwrap();
    ws.write(KEPT, broken());
    daemon.wait_for("the broken post listed", CHANGE_WAIT, || (!rows_about(&daemon, KEPT).is_empty()).then_some(()));
    ws.write(KEPT, &fixed);
    daemon.wait_for("the restored post unlisted", CHANGE_WAIT, || rows_about(&daemon, KEPT).is_empty().then_some(()));

    // Broken, then deleted: a deleted post is not kept.
    ws.write(KEPT, broken());
    daemon.wait_for("the broken post listed", CHANGE_WAIT, || (!rows_about(&daemon, KEPT).is_empty()).then_some(()));
    fs::remove_file(ws.site().join(KEPT)).unwrap();
    daemon.wait_titles("/feed/news", "the deleted post gone", |t| t.is_some_and(|t| t == ["Other post"]));
    daemon.wait_for("the deleted post unlisted", CHANGE_WAIT, || rows_about(&daemon, KEPT).is_empty().then_some(()));
    assert_eq!(titles(&daemon, "/feed.xml"), ["Other post"]);
}

#[test]
fn without_keep_last_good_a_broken_post_drops_out_and_is_listed_as_skipped() {
    let (ws, daemon) = site("keep_last_good = false\n");
    ws.write(KEPT, broken());
    daemon.wait_titles("/feed/news", "the broken post dropped", |t| t.is_some_and(|t| t == ["Other post"]));
    let rows = daemon.wait_for("/problems to list the broken post", CHANGE_WAIT, || {
        let rows = rows_about(&daemon, KEPT);
        (!rows.is_empty()).then_some(rows)
    });
    assert_eq!(rows[0][0], "error");
    assert_eq!(rows[0][1], checked_location(&ws));
    assert!(!rows[0][2].contains("last good"), "{rows:?}");
}

#[test]
fn a_post_broken_before_the_start_has_nothing_to_keep() {
    let ws = Workspace::with_posts(&[(KEPT, broken()), (OTHER, post("title: Other post\ndate: 2024-06-02", "Other."))]);
    let (config, _) = ws.config("start", &Settings::default());
    let daemon = Daemon::start(&config);
    assert_eq!(titles(&daemon, "/feed.xml"), ["Other post"]);
    let rows = rows_about(&daemon, KEPT);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], "error");
}

#[test]
fn liquid_problems_of_entries_in_feeds_are_listed_until_fixed() {
    let (ws, daemon) = site("");
    ws.write(
        OTHER,
        post(
            "title: Other post\ndate: 2024-06-02 09:00:00 +0800\ncategories: news",
            "Before.\n\n{% include missing.html %}\n",
        ),
    );
    let rows = daemon.wait_for("/problems to list the missing include", CHANGE_WAIT, || {
        let rows = rows_about(&daemon, OTHER);
        (!rows.is_empty()).then_some(rows)
    });
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][0], "error");
    assert!(rows[0][1].starts_with(&format!("{OTHER}:")), "{rows:?}");
    assert!(rows[0][2].contains("missing.html"), "{rows:?}");

    ws.write(OTHER, post("title: Other post\ndate: 2024-06-02 09:00:00 +0800\ncategories: news", "Before.\n"));
    daemon.wait_for("/problems to drop the fixed include", CHANGE_WAIT, || {
        rows_about(&daemon, OTHER).is_empty().then_some(())
    });
}
