//! Faults around a running `postfeed serve`: an output folder that cannot be written, a source
//! root that disappears and comes back, SIGKILL in the middle of a write storm, and files
//! deleted between `regen`'s scan and its read.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::hostile::{configs, converge, read_tree, tail, Rng, StopOnDrop};
use crate::support::http::get;
use crate::support::{self, parse_feed, post, read_all_feeds, Daemon, Settings, Workspace};

/// Log lines of one write failure episode.
const WRITE_ERROR: &str = "still serving from memory";

fn count(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

/// Makes writes under `out/feed/` fail: the `feed` folder is replaced by a regular file. This
/// works as root too, where `chmod 0555` would not stop a write.
fn break_output(out: &Path) {
    let feed = out.join("feed");
    if feed.is_dir() {
        fs::remove_dir_all(&feed).expect("feed folder removed");
    }
    fs::write(&feed, "not a folder\n").expect("blocker written");
}

fn repair_output(out: &Path) {
    fs::remove_file(out.join("feed")).expect("blocker removed");
}

/// Waits (bounded) until the served `target` contains `needle`.
#[track_caller]
fn wait_served(daemon: &Daemon, target: &str, needle: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let body = get(daemon.addr(), target).map(|r| r.body).unwrap_or_default();
        if String::from_utf8_lossy(&body).contains(needle) {
            return;
        }
        assert!(Instant::now() < deadline, "{target} never served {needle:?}\n{}", tail(&daemon.log(), 30));
        thread::sleep(Duration::from_millis(100));
    }
}

fn news_post(ws: &Workspace, version: &str) {
    ws.write("news/_posts/2021-06-01-edited.md", post(&format!("title: \"edited {version}\"\ntags: [t1]"), "Body."));
}

/// The output folder stops accepting writes twice: the daemon keeps serving new feeds from
/// memory, logs one error per episode, and brings the folder in step once it can write again.
#[test]
fn unwritable_output_is_served_from_memory_logged_once_and_caught_up() {
    let ws = Workspace::with_posts(&support::base_posts());
    news_post(&ws, "v0");
    let c = configs(&ws, &Settings::default(), "");
    let daemon = Daemon::start(&c.serve);
    converge(&daemon, &c.out, &c.regen, &c.regen_out, Duration::from_secs(20));
    assert_eq!(count(&daemon.log(), WRITE_ERROR), 0, "{}", daemon.log());

    for episode in 1..=2 {
        break_output(&c.out);
        for edit in 0..3 {
            let version = format!("e{episode}-{edit}");
            news_post(&ws, &version);
            wait_served(&daemon, "/feed/news.xml", &version, Duration::from_secs(10));
            thread::sleep(Duration::from_millis(300));
        }
        // A housekeeping retry or two inside the episode must stay quiet too.
        thread::sleep(Duration::from_millis(2200));
        assert_eq!(count(&daemon.log(), WRITE_ERROR), episode, "one error line per episode\n{}", daemon.log());
        assert!(c.out.join("feed").is_file(), "the blocker is still there");
        repair_output(&c.out);
        converge(&daemon, &c.out, &c.regen, &c.regen_out, Duration::from_secs(15));
        assert_eq!(count(&daemon.log(), WRITE_ERROR), episode, "{}", daemon.log());
    }
}

/// An output folder that cannot be written when the daemon starts is an episode too.
#[test]
fn unwritable_output_at_start_is_logged() {
    let ws = Workspace::with_posts(&support::base_posts());
    let c = configs(&ws, &Settings::default(), "");
    fs::create_dir_all(&c.out).expect("out");
    break_output(&c.out);
    let daemon = Daemon::start(&c.serve);
    thread::sleep(Duration::from_millis(1500));
    assert_eq!(count(&daemon.log(), WRITE_ERROR), 1, "one error line for the failure at start\n{}", daemon.log());
    repair_output(&c.out);
    converge(&daemon, &c.out, &c.regen, &c.regen_out, Duration::from_secs(15));
}

/// The source root is renamed away for a few seconds (edited meanwhile), then comes back; then
/// it is deleted and a different tree is made in its place.
#[test]
fn source_root_disappears_and_comes_back() {
    let ws = Workspace::with_posts(&support::base_posts());
    news_post(&ws, "v0");
    let c = configs(&ws, &Settings::default(), "");
    let daemon = Daemon::start(&c.serve);
    let before = converge(&daemon, &c.out, &c.regen, &c.regen_out, Duration::from_secs(20));

    let away = ws.root().join("site-away");
    fs::rename(ws.site(), &away).expect("root renamed away");
    let started = Instant::now();
    let mut checks = 0;
    while started.elapsed() < Duration::from_millis(2500) {
        let served = crate::hostile::served_files(daemon.addr()).expect("served while the root is away");
        assert!(served == before, "the feeds changed while the source root was away\n{}", daemon.log());
        checks += 1;
        if checks == 3 {
            fs::write(away.join("news/_posts/2021-06-01-edited.md"), post("title: \"edited away\"\ntags: [t1]", "x"))
                .expect("edit while away");
        }
        thread::sleep(Duration::from_millis(200));
    }
    assert!(daemon.log().contains("is gone"), "the absence is logged\n{}", daemon.log());
    fs::rename(&away, ws.site()).expect("root back");
    let back = converge(&daemon, &c.out, &c.regen, &c.regen_out, Duration::from_secs(15));
    assert!(String::from_utf8_lossy(&back["feed/news.xml"]).contains("edited away"), "the edit made while away shows");

    // Deleted outright, then a different tree appears after a few seconds.
    fs::remove_dir_all(ws.site()).expect("root deleted");
    thread::sleep(Duration::from_millis(2500));
    let served = crate::hostile::served_files(daemon.addr()).expect("served while the root is gone");
    assert!(served == back, "the feeds changed while the source root was gone");
    fs::create_dir(ws.site()).expect("root again");
    ws.write("other/_posts/2021-07-01-new-tree.md", post("title: new tree", "x"));
    let new = converge(&daemon, &c.out, &c.regen, &c.regen_out, Duration::from_secs(15));
    // The old tree's category once existed: kept, empty (tests/it/keepalive.rs).
    let news_kept =
        new.get("feed/news.xml").is_some_and(|b| support::parse_feed(b).is_ok_and(|f| f.feed.entries.is_empty()));
    assert!(new.contains_key("feed/other.xml") && news_kept, "{:?}", new.keys());
    assert!(daemon.log().contains("is back"), "{}", daemon.log());
}

/// Deploy by swapping folders (`mv site site.old; mv site.new site`), faster than the daemon's
/// one-second housekeeping tick: later edits in the new tree must still be seen.
#[test]
fn source_root_swapped_quickly_is_watched_again() {
    let ws = Workspace::with_posts(&[("_posts/2021-01-01-a.md", post("title: a", "x"))]);
    let c = configs(&ws, &Settings::default(), "");
    let daemon = Daemon::start(&c.serve);
    converge(&daemon, &c.out, &c.regen, &c.regen_out, Duration::from_secs(10));
    let fresh = ws.root().join("site-new");
    fs::create_dir_all(fresh.join("_posts")).expect("new tree");
    fs::write(fresh.join("_posts/2021-01-02-b.md"), post("title: b", "x")).expect("b");
    fs::rename(ws.site(), ws.root().join("site-old")).expect("swap 1");
    fs::rename(&fresh, ws.site()).expect("swap 2");
    thread::sleep(Duration::from_millis(2500));
    ws.write("_posts/2021-01-03-c.md", post("title: c", "x"));
    converge(&daemon, &c.out, &c.regen, &c.regen_out, Duration::from_secs(10));
}

/// Writes, edits and deletes posts until `stop`, bounded by a count and a time; returns ops.
fn write_storm(ws: &Workspace, stop: &AtomicBool, ops: &AtomicUsize) {
    let mut rng = Rng::new(42);
    let started = Instant::now();
    let body = "A sentence of body text that makes every feed a little longer. ".repeat(40);
    while !stop.load(Ordering::Relaxed)
        && started.elapsed() < Duration::from_secs(300)
        && ops.load(Ordering::Relaxed) < 1_000_000
    {
        let i = rng.below(120);
        let cat = format!("cat{}", i % 12);
        let rel = format!("{cat}/_posts/2021-08-{:02}-p{i}.md", 1 + i % 28);
        if rng.below(10) == 0 {
            let _ = fs::remove_file(ws.site().join(&rel));
        } else {
            let n = ops.load(Ordering::Relaxed);
            let text = post(&format!("title: \"p{i} v{n}\"\ntags: [t{}, t{}]", i % 7, n % 9), &body);
            ws.write(&rel, text);
        }
        ops.fetch_add(1, Ordering::Relaxed);
        thread::sleep(Duration::from_millis(2));
    }
}

/// Every feed file in `out` is whole (feed-rs parses it); returns the `.postfeed-*` temporary
/// files found, by name.
#[track_caller]
fn assert_whole(out: &Path, after: &str) -> Vec<String> {
    if !out.exists() {
        return Vec::new(); // killed before its first write
    }
    let files = read_tree(out).unwrap_or_else(|| panic!("output unreadable {after}"));
    let mut temps = Vec::new();
    for (rel, bytes) in files {
        let name = rel.rsplit('/').next().unwrap_or(&rel);
        if name.starts_with(".postfeed-") {
            temps.push(rel);
            continue;
        }
        parse_feed(&bytes).unwrap_or_else(|e| panic!("{rel} is not a whole feed {after} ({} bytes): {e}", bytes.len()));
    }
    temps
}

/// The pid in a temporary file's name, `.postfeed-<pid>-<name>`.
fn temp_pid(rel: &str) -> Option<u32> {
    rel.rsplit('/').next()?.strip_prefix(".postfeed-")?.split('-').next()?.parse().ok()
}

/// SIGKILL, 20 times, while a writer thread keeps changing posts: after every kill each feed
/// file is whole; temporary files may be left, but the next start removes them.
#[test]
fn sigkill_during_a_write_storm_leaves_whole_feeds() {
    const KILLS: usize = 20;
    let ws = Workspace::new();
    let c = configs(&ws, &Settings { limit: Some(50), ..Settings::default() }, "");
    let stop = AtomicBool::new(false);
    let ops = AtomicUsize::new(0);
    let mut rng = Rng::new(9);
    let (mut temps_seen, mut before_listen) = (0, 0);
    let mut served_checks = 0;
    thread::scope(|scope| {
        let writer = scope.spawn(|| write_storm(&ws, &stop, &ops));
        let _stop = StopOnDrop(&stop);
        thread::sleep(Duration::from_millis(300));
        for kill in 0..KILLS {
            let mut daemon = Daemon::spawn(&c.serve);
            if kill % 3 == 0 {
                // Killed at any moment, often during the first full write, before listening.
                thread::sleep(Duration::from_millis(rng.below(250)));
                if listening(&daemon).is_none() {
                    before_listen += 1;
                }
            } else {
                daemon.wait_ready(Duration::from_secs(60));
                let stale: Vec<String> = read_tree(&c.out)
                    .map(|t| t.into_keys().filter(|k| temp_pid(k).is_some_and(|p| p != daemon.pid())).collect())
                    .unwrap_or_default();
                assert!(stale.is_empty(), "temporary files of an earlier run survived a start: {stale:?}");
                let r = get(daemon.addr(), "/feed.xml").expect("served");
                assert_eq!(r.status, 200);
                parse_feed(&r.body).expect("served feed parses");
                served_checks += 1;
                thread::sleep(Duration::from_millis(rng.below(400)));
            }
            daemon.kill();
            temps_seen += assert_whole(&c.out, &format!("after kill {}", kill + 1)).len();
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().expect("writer");
    });
    // One more start after the storm: no temporary file left, and the folder is regen's.
    let daemon = Daemon::start(&c.serve);
    let temps: Vec<String> = read_tree(&c.out).expect("out").into_keys().filter(|k| temp_pid(k).is_some()).collect();
    assert!(temps.is_empty(), "temporary files after a clean start: {temps:?}");
    converge(&daemon, &c.out, &c.regen, &c.regen_out, Duration::from_secs(30));
    read_all_feeds(&c.out);
    eprintln!(
        "sigkill: {KILLS} kills ({before_listen} before listening), {} storm operations, {temps_seen} temporary files seen after kills, {served_checks} served checks",
        ops.load(Ordering::Relaxed)
    );
}

fn listening(daemon: &Daemon) -> Option<()> {
    daemon.log().contains("listening on").then_some(())
}

/// A deleter races `regen`: files vanish (and come back) between the scan and the read, 30 runs.
#[test]
fn files_deleted_between_scan_and_read_do_not_fail_regen() {
    const RUNS: usize = 30;
    let ws = Workspace::new();
    let body = "Body text. ".repeat(200);
    let rels: Vec<String> = (0..300).map(|i| format!("c{}/_posts/2021-09-{:02}-r{i}.md", i % 5, 1 + i % 28)).collect();
    for (i, rel) in rels.iter().enumerate() {
        ws.write(rel, post(&format!("title: r{i}\ntags: [x{}]", i % 4), &body));
    }
    let (config, out) = ws.config("race", &Settings::default());
    let stop = AtomicBool::new(false);
    let deletions = AtomicUsize::new(0);
    let mut skipped_runs = 0;
    thread::scope(|scope| {
        let deleter = scope.spawn(|| {
            let mut rng = Rng::new(3);
            let started = Instant::now();
            while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120) {
                let rel = &rels[rng.below(rels.len() as u64) as usize];
                let path = ws.site().join(rel);
                if let Ok(bytes) = fs::read(&path) {
                    if fs::remove_file(&path).is_ok() {
                        deletions.fetch_add(1, Ordering::Relaxed);
                    }
                    thread::sleep(Duration::from_micros(rng.below(500)));
                    fs::write(&path, bytes).expect("restored");
                }
            }
        });
        let _stop = StopOnDrop(&stop);
        for run in 0..RUNS {
            let r = support::regen(&config);
            assert_eq!(r.code, Some(0), "regen run {run} failed\n{r}");
            if r.stderr.contains("warning") {
                skipped_runs += 1;
            }
            read_all_feeds(&out);
        }
        stop.store(true, Ordering::Relaxed);
        deleter.join().expect("deleter");
    });
    eprintln!(
        "scan/read race: {RUNS} regen runs, {} deletions, {skipped_runs} runs reported a vanished file",
        deletions.load(Ordering::Relaxed)
    );
}
