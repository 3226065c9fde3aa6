//! Feeds that once existed keep answering: a category or tag feed whose posts all left (deleted,
//! or moved to an archive folder named by `source.archive`) stays valid and served, empty or with
//! its archived entries, until `feeds.retire_after_days`; then it answers 410 Gone, never 404.
//! Checked in `regen` (files, the state file and the lists of retired feeds) and in `serve`
//! (HTTP), feeds read back with feed-rs.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::support::{self, post, Daemon, Settings, Workspace, CHANGE_WAIT};

/// A config `<name>.toml` for the workspace's site writing to `out-<name>`, with
/// `source.archive` when `archive` is set, and `feeds.retire_after_days`.
fn config(ws: &Workspace, name: &str, archive: bool, retire_after_days: u32) -> (PathBuf, PathBuf) {
    let (config, output) = ws.config(name, &Settings::default());
    let mut text = fs::read_to_string(&config).expect("config readable");
    if archive {
        text = text.replace("[source]\n", "[source]\narchive = [\"old_post\"]\n");
    }
    text += &format!("[feeds]\nretire_after_days = {retire_after_days}\n[server]\nquiet_ms = 100\n");
    fs::write(&config, text).expect("config written");
    (config, output)
}

fn news(day: u32, category: &str, tag: &str) -> String {
    post(
        &format!("title: {category} {day}\ndate: 2021-12-{day:02} 10:00:00 +0800\ncategories: {category}\ntags: {tag}"),
        &format!("News of {category} on day {day}."),
    )
}

/// Three posts: two in category `daily` (tag `日报`), one in `weekly` (tag `周刊`).
fn site() -> Workspace {
    Workspace::with_posts(&[
        ("_posts/2021-12-01-a.md", news(1, "daily", "日报")),
        ("_posts/2021-12-02-b.md", news(2, "daily", "日报")),
        ("_posts/2021-12-03-c.md", news(3, "weekly", "周刊")),
    ])
}

#[track_caller]
fn regen_ok(config: &Path) {
    let run = support::regen(config);
    assert_eq!(run.code, Some(0), "regen failed: {}", run.stderr);
}

fn ids(feed: &feed_rs::model::Feed) -> Vec<String> {
    feed.entries.iter().map(|e| e.id.clone()).collect()
}

fn read_out(out: &Path, rel: &str) -> Option<String> {
    fs::read_to_string(out.join(rel)).ok()
}

/// Writes a state file saying `kind`/`name` has had no post in `_posts` for `days` days.
fn backdate(out: &Path, kind: &str, name: &str, days: i64) {
    let since = (Utc::now() - chrono::TimeDelta::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let path = out.join("postfeed-state.json");
    let text = fs::read_to_string(&path).expect("a state file");
    let mut state: serde_json::Value = serde_json::from_str(&text).expect("state is JSON");
    let entry = state["feeds"]
        .as_array_mut()
        .expect("a list of feeds")
        .iter_mut()
        .find(|e| e["kind"] == kind && e["name"] == name)
        .unwrap_or_else(|| panic!("{kind} {name} not in the state: {text}"));
    entry["without_posts_since"] = serde_json::Value::String(since);
    fs::write(&path, serde_json::to_string(&state).expect("JSON out")).expect("state written");
}

// ---------------------------------------------------------------------------------------------
// regen

#[test]
fn regen_keeps_a_feed_whose_posts_were_deleted_valid_and_empty() {
    let ws = site();
    let (config, out) = config(&ws, "kept", false, 30);
    regen_ok(&config);
    assert_eq!(support::read_feed(&out.join("feed/weekly.xml")).feed.entries.len(), 1);
    fs::remove_file(ws.site().join("_posts/2021-12-03-c.md")).unwrap();
    regen_ok(&config);
    for rel in ["feed/weekly.xml", "feed/weekly.rss", "feed/by_tag/周刊.xml", "feed/by_tag/周刊.rss"] {
        let feed = support::read_feed(&out.join(rel)).feed;
        assert!(feed.entries.is_empty(), "{rel} still has entries");
        assert!(feed.title.is_some_and(|t| t.content.contains("weekly") || t.content.contains("周刊")), "{rel}");
    }
    let state: serde_json::Value = serde_json::from_str(&read_out(&out, "postfeed-state.json").unwrap()).unwrap();
    let weekly = state["feeds"].as_array().unwrap().iter().find(|e| e["name"] == "weekly").unwrap().clone();
    assert!(weekly["without_posts_since"].is_string(), "{state}");
    assert_eq!(read_out(&out, "retired.txt").as_deref(), Some(""));
    // Another run changes nothing: the moment the feed lost its posts is kept, not renewed.
    let before = support::tree(&out);
    regen_ok(&config);
    assert_eq!(support::tree(&out), before);
}

#[test]
fn regen_keeps_archived_entries_in_a_category_whose_posts_moved_and_never_in_the_site_feed() {
    let ws = site();
    let (config, out) = config(&ws, "archived", true, 30);
    regen_ok(&config);
    let before = support::read_feed(&out.join("feed/weekly.xml")).feed;
    let site_before = support::read_feed(&out.join("feed.xml")).feed;
    assert!(ids(&site_before).contains(&before.entries[0].id));

    fs::create_dir_all(ws.site().join("old_post")).unwrap();
    fs::rename(ws.site().join("_posts/2021-12-03-c.md"), ws.site().join("old_post/2021-12-03-c.md")).unwrap();
    regen_ok(&config);
    for stem in ["feed/weekly", "feed/by_tag/周刊"] {
        for ext in ["xml", "rss"] {
            let feed = support::read_feed(&out.join(format!("{stem}.{ext}"))).feed;
            assert_eq!(feed.entries.len(), 1, "{stem}.{ext}");
            assert_eq!(support::title(&feed.entries[0]), "weekly 3");
        }
    }
    // The same entry as before the move: same id and link, so readers do not see it as new.
    let after = support::read_feed(&out.join("feed/weekly.xml")).feed;
    assert_eq!(ids(&after), ids(&before));
    assert_eq!(support::link(&after.entries[0]), support::link(&before.entries[0]));
    // The newest post of the site, but archived: never in the site feed.
    let site_after = support::read_feed(&out.join("feed.xml")).feed;
    assert!(!ids(&site_after).contains(&before.entries[0].id));
    assert_eq!(site_after.entries.len(), 2);
    // A copy left in _posts as well is one entry, not two.
    fs::write(ws.site().join("_posts/2021-12-03-c.md"), news(3, "weekly", "周刊")).unwrap();
    regen_ok(&config);
    assert_eq!(support::read_feed(&out.join("feed/weekly.rss")).feed.entries.len(), 1);
}

#[test]
fn a_moved_post_is_rendered_as_the_post_it_was_so_its_category_feed_keeps_its_bytes() {
    let ws = site();
    // `page.path` and a front-matter default scoped to `_posts`: both name the post's folder.
    fs::write(
        ws.site().join("_config.yml"),
        "defaults:\n  - scope:\n      path: \"_posts\"\n    values:\n      desk: 财经部\n",
    )
    .unwrap();
    fs::write(
        ws.site().join("_posts/2021-12-03-c.md"),
        post(
            "title: weekly 3\ndate: 2021-12-03 10:00:00 +0800\ncategories: weekly\ntags: 周刊",
            "Filed by {{ page.desk }} from {{ page.path }}.",
        ),
    )
    .unwrap();
    let (config, out) = config(&ws, "moved", true, 30);
    regen_ok(&config);
    let before: Vec<Vec<u8>> =
        ["feed/weekly.xml", "feed/weekly.rss"].iter().map(|rel| fs::read(out.join(rel)).unwrap()).collect();
    let entry = support::read_feed(&out.join("feed/weekly.xml")).feed.entries.remove(0);
    let text = entry.content.and_then(|c| c.body).unwrap_or_default();
    assert!(text.contains("Filed by 财经部 from _posts/2021-12-03-c.md."), "{text}");

    fs::create_dir_all(ws.site().join("old_post")).unwrap();
    fs::rename(ws.site().join("_posts/2021-12-03-c.md"), ws.site().join("old_post/2021-12-03-c.md")).unwrap();
    regen_ok(&config);
    let after: Vec<Vec<u8>> =
        ["feed/weekly.xml", "feed/weekly.rss"].iter().map(|rel| fs::read(out.join(rel)).unwrap()).collect();
    assert!(before == after, "the move changed the category feed:\n{}", String::from_utf8_lossy(&after[0]));
}

#[test]
fn regen_archive_holds_only_the_latest_entries_and_category_feeds_mix_live_and_archived() {
    let ws = site();
    for day in 10..15 {
        ws.write(
            &format!("old_post/2021-11-{day}-old{day}.md"),
            news(day, "daily", "日报").replace("2021-12-", "2021-11-"),
        );
    }
    let (config, out) = config(&ws, "limit", true, 30);
    let text = fs::read_to_string(&config).unwrap().replace("[feeds]\n", "[feeds]\nlimit = 2\n");
    fs::write(&config, text).unwrap();
    regen_ok(&config);
    let daily = support::read_feed(&out.join("feed/daily.xml")).feed;
    let titles: Vec<String> = daily.entries.iter().map(support::title).collect();
    assert_eq!(titles, ["daily 2", "daily 1"]);
    fs::remove_file(ws.site().join("_posts/2021-12-01-a.md")).unwrap();
    fs::remove_file(ws.site().join("_posts/2021-12-02-b.md")).unwrap();
    regen_ok(&config);
    let daily = support::read_feed(&out.join("feed/daily.rss")).feed;
    let titles: Vec<String> = daily.entries.iter().map(support::title).collect();
    assert_eq!(titles, ["daily 14", "daily 13"]);
}

#[test]
fn regen_retires_a_feed_after_retire_after_days_and_lists_it_for_the_web_server() {
    let ws = site();
    let (config, out) = config(&ws, "retired", false, 30);
    regen_ok(&config);
    fs::remove_file(ws.site().join("_posts/2021-12-03-c.md")).unwrap();
    regen_ok(&config);
    assert!(out.join("feed/weekly.xml").is_file());
    // 29 days without posts: still kept.
    backdate(&out, "category", "weekly", 29);
    regen_ok(&config);
    assert!(out.join("feed/weekly.xml").is_file());
    assert_eq!(read_out(&out, "retired.txt").as_deref(), Some(""));
    // 31 days: retired. The files go, and both lists name them as the server sees them.
    backdate(&out, "category", "weekly", 31);
    regen_ok(&config);
    assert!(!out.join("feed/weekly.xml").exists() && !out.join("feed/weekly.rss").exists());
    assert!(out.join("feed/by_tag/周刊.xml").is_file(), "the tag has its own clock");
    assert_eq!(read_out(&out, "retired.txt").as_deref(), Some("/feed/weekly.rss\n/feed/weekly.xml\n"));
    let map = read_out(&out, "retired.nginx.conf").unwrap();
    assert!(map.contains("map $uri $postfeed_retired {") && map.contains("    \"/feed/weekly.xml\" 1;\n"), "{map}");
    assert!(!map.contains("周刊"), "{map}");
    // A new post in the category brings the feed back.
    ws.write("_posts/2021-12-09-back.md", news(9, "weekly", "周刊"));
    regen_ok(&config);
    assert_eq!(support::read_feed(&out.join("feed/weekly.xml")).feed.entries.len(), 1);
    assert_eq!(read_out(&out, "retired.txt").as_deref(), Some(""));
}

#[test]
fn regen_with_zero_days_retires_at_once_and_a_lost_state_file_is_not_fatal() {
    let ws = site();
    let (config, out) = config(&ws, "zero", false, 0);
    regen_ok(&config);
    fs::remove_file(ws.site().join("_posts/2021-12-03-c.md")).unwrap();
    regen_ok(&config);
    assert!(!out.join("feed/weekly.xml").exists());
    assert!(read_out(&out, "retired.txt").unwrap().contains("/feed/by_tag/周刊.xml\n"));
    fs::write(out.join("postfeed-state.json"), "{ damaged").unwrap();
    let run = support::regen(&config);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("postfeed-state.json"), "{}", run.stderr);
}

#[test]
fn an_archive_folder_outside_the_site_is_a_config_error() {
    let ws = site();
    let (config, _) = config(&ws, "bad", false, 30);
    let text = fs::read_to_string(&config).unwrap().replace("[source]\n", "[source]\narchive = [\"../elsewhere\"]\n");
    fs::write(&config, text).unwrap();
    let run = support::regen(&config);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("source.archive"), "{}", run.stderr);
}

#[test]
fn the_rhythm_fixture_keeps_its_archived_newspaper() {
    let ws = Workspace::new();
    support::copy_dir(&support::repo_root().join("tests/fixtures/sites/rhythm"), &ws.site());
    let (config, out) = config(&ws, "rhythm", true, 30);
    regen_ok(&config);
    // jingzhouribao has only archived posts: its feed holds them; the site feed has none of them.
    let jingzhou = support::read_feed(&out.join("feed/jingzhouribao.xml")).feed;
    assert_eq!(
        jingzhou.entries.iter().map(support::title).collect::<Vec<_>>(),
        ["荆州港集装箱吞吐量创新高", "荆州出台稳外贸十条措施"]
    );
    let site_feed = support::read_feed(&out.join("feed.xml")).feed;
    assert_eq!(site_feed.entries.len(), 3);
    let dongcai = support::read_feed(&out.join("feed/by_tag/东财滚动新闻.rss")).feed;
    assert_eq!(dongcai.entries.len(), 3, "live and archived posts of the category");
}

// ---------------------------------------------------------------------------------------------
// serve

#[test]
fn serve_keeps_a_category_answering_through_a_move_to_the_archive_without_flapping() {
    let ws = site();
    fs::create_dir_all(ws.site().join("old_post")).unwrap();
    let (config, _) = config(&ws, "serve-move", true, 30);
    // At debug level, so that the catch-up scan logs even when it finds nothing.
    let daemon = Daemon::launch(&config).env("RUST_LOG", "postfeed=debug").start();
    // After the start-up catch-up scan: a move during a full scan is seen by the scan half-way.
    daemon.wait_for("the catch-up scan", CHANGE_WAIT, || daemon.log().contains("update (catch-up)").then_some(()));
    let id = daemon.feed("/feed/weekly.xml").expect("weekly served").entries[0].id.clone();
    // Moved by rename, as git and the finews job do; the category feed is polled throughout.
    let moved = ws.site().join("old_post/2021-12-03-c.md");
    fs::rename(ws.site().join("_posts/2021-12-03-c.md"), &moved).unwrap();
    let started = Instant::now();
    let mut etags = Vec::new();
    while started.elapsed() < Duration::from_millis(1500) {
        let response = daemon.get("/feed/weekly.xml");
        assert_eq!(response.status, 200, "the category feed stopped answering\n{}", daemon.log());
        let feed = support::parse_feed(&response.body).expect("valid while moving").feed;
        assert_eq!(ids(&feed), std::slice::from_ref(&id), "the entry left the category feed");
        let etag = response.expect_header("etag").to_string();
        if etags.last() != Some(&etag) {
            etags.push(etag);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(etags.len() <= 2, "the category feed changed more than once: {etags:?}");
    daemon.wait_for("the site feed drops the archived post", CHANGE_WAIT, || {
        let feed = daemon.feed("/feed.xml")?;
        (!ids(&feed).contains(&id)).then_some(())
    });
    assert_eq!(daemon.feed("/feed/by_tag/%E5%91%A8%E5%88%8A.rss").expect("tag kept").entries.len(), 1);
    // Edited in the archive: followed by the watcher.
    fs::write(&moved, news(3, "weekly", "周刊").replace("title: weekly 3", "title: weekly 3 archived")).unwrap();
    daemon.wait_titles("/feed/weekly", "the archived edit", |t| t == Some(&["weekly 3 archived".to_string()][..]));
}

#[test]
fn serve_keeps_an_emptied_feed_across_a_restart_and_answers_410_once_retired() {
    let ws = site();
    let (config, out) = config(&ws, "serve-kept", false, 30);
    let daemon = Daemon::start(&config);
    fs::remove_file(ws.site().join("_posts/2021-12-03-c.md")).unwrap();
    daemon.wait_titles("/feed/weekly", "empty but served", |t| t.is_some_and(<[String]>::is_empty));
    drop(daemon);
    // Restarted: the state file says weekly existed, so it is still served, empty.
    let daemon = Daemon::start(&config);
    assert_eq!(daemon.titles("/feed/weekly.rss"), Some(Vec::new()));
    assert_eq!(daemon.get("/feed/never-existed.xml").status, 404);
    drop(daemon);
    // Its time comes 2 s after the start: the daemon retires it on its own, with no file event.
    let since = (Utc::now() - chrono::TimeDelta::days(30) + chrono::TimeDelta::seconds(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let text = read_out(&out, "postfeed-state.json").unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&text).unwrap();
    for entry in state["feeds"].as_array_mut().unwrap() {
        if entry["name"] == "weekly" {
            entry["without_posts_since"] = serde_json::Value::String(since.clone());
        }
    }
    fs::write(out.join("postfeed-state.json"), state.to_string()).unwrap();
    let daemon = Daemon::start(&config);
    let gone = daemon.wait_for("weekly retired", Duration::from_secs(10), || {
        let response = daemon.get("/feed/weekly.xml");
        assert!(response.status == 200 || response.status == 410, "{response:?}");
        (response.status == 410).then_some(response)
    });
    assert!(gone.expect_header("cache-control").contains("max-age="), "{gone:?}");
    assert!(gone.text().contains("retired"), "{}", gone.text());
    assert_eq!(daemon.request("HEAD", "/feed/weekly.rss", &[]).status, 410);
    assert_eq!(daemon.titles("/feed/by_tag/%E5%91%A8%E5%88%8A.xml"), Some(Vec::new()), "the tag is still kept");
    daemon.wait_for("the folder follows", CHANGE_WAIT, || {
        let listed = read_out(&out, "retired.txt")?;
        (listed == "/feed/weekly.rss\n/feed/weekly.xml\n" && !out.join("feed/weekly.xml").exists()).then_some(())
    });
    // A post in the category again: live again.
    ws.write("_posts/2021-12-09-back.md", news(9, "weekly", "周刊"));
    daemon.wait_for("weekly back", CHANGE_WAIT, || {
        let response = daemon.get("/feed/weekly.rss");
        let feed = (response.status == 200).then(|| support::parse_feed(&response.body).expect("valid").feed)?;
        (feed.entries.iter().map(support::title).collect::<Vec<_>>() == ["weekly 9"]).then_some(())
    });
    daemon.wait_for("weekly no longer listed as retired", CHANGE_WAIT, || {
        (read_out(&out, "retired.txt")?.is_empty() && out.join("feed/weekly.xml").is_file()).then_some(())
    });
}

#[test]
fn serve_with_zero_days_answers_410_as_soon_as_the_last_post_leaves() {
    let ws = site();
    let (config, _) = config(&ws, "serve-zero", true, 0);
    let daemon = Daemon::start(&config);
    fs::remove_file(ws.site().join("_posts/2021-12-03-c.md")).unwrap();
    daemon.wait_for("410 for the tag feed", CHANGE_WAIT, || {
        (daemon.get("/feed/by_tag/%E5%91%A8%E5%88%8A.xml").status == 410).then_some(())
    });
    assert_eq!(daemon.get("/feed/weekly.rss").status, 410);
    assert_eq!(daemon.titles("/feed/daily.xml").map(|t| t.len()), Some(2));
}
