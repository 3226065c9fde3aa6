//! The index page in headless Chromium over WebDriver: its script runs under its strict
//! Content-Security-Policy, the filter hides what does not match, sorting orders by recency and
//! back by name, and the copy button copies the feed's absolute address. Plus the timing run
//! behind BENCHMARKS.md ("Index page in Chromium"), ignored by default.

use std::time::Duration;

use fantoccini::{Client, Locator};
use serde_json::{json, Value};

use crate::support::webdriver::{block_on, console, wait_until, Driver};
use crate::support::{post, Daemon, Settings, Workspace};

const WAIT: Duration = Duration::from_secs(20);

/// Posts in categories and tags whose last updates differ: (category, tag, day of May 2024).
const POSTS: [(&str, &str, u32); 6] = [
    ("news", "apple", 3),
    ("sport", "banana", 9),
    ("weather", "cherry", 1),
    ("newsletter", "apple", 5),
    ("arts", "durian", 7),
    ("science", "banana", 2),
];

fn site() -> (Workspace, Daemon) {
    let posts: Vec<(String, String)> = POSTS
        .iter()
        .enumerate()
        .map(|(i, (category, tag, day))| {
            let front = format!(
                "title: Post {i}\ndate: 2024-05-{day:02} 09:00:00 +0800\ncategories: {category}\ntags: [{tag}]"
            );
            (format!("_posts/2024-05-{day:02}-post-{i}.md"), post(&front, "Body."))
        })
        .collect();
    let ws = Workspace::with_posts(&posts.iter().map(|(p, c)| (p.as_str(), c)).collect::<Vec<_>>());
    let (config, _) = ws.config("index", &Settings::default());
    let daemon = Daemon::start(&config);
    (ws, daemon)
}

/// Every row of the page: (section, name, hidden).
async fn rows(client: &Client) -> Vec<(String, String, bool)> {
    let script = "return Array.from(document.querySelectorAll('section tbody tr')).map(r => \
                  [r.closest('section').id, r.querySelector('td a').textContent, r.hidden]);";
    let value = client.execute(script, vec![]).await.unwrap();
    serde_json::from_value(value).unwrap()
}

fn names_in(rows: &[(String, String, bool)], section: &str) -> Vec<String> {
    rows.iter().filter(|r| r.0 == section).map(|r| r.1.clone()).collect()
}

/// Console messages about the Content-Security-Policy, waiting up to 2 s for one.
async fn client_violations(client: &Client) -> Vec<String> {
    for _ in 0..40 {
        let seen = violations(client).await;
        if !seen.is_empty() {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Vec::new()
}

/// Console messages about the Content-Security-Policy.
async fn violations(client: &Client) -> Vec<String> {
    console(client).await.into_iter().filter(|m| m.contains("Content Security Policy")).collect()
}

#[test]
fn index_filters_sorts_and_copies_in_chromium_under_its_policy() {
    let (_ws, daemon) = site();
    let index = daemon.get("/");
    let policy = index.expect_header("content-security-policy").to_string();
    assert!(policy.starts_with("default-src 'none'; style-src 'sha256-") && policy.contains("script-src 'sha256-"));
    assert!(!policy.contains("unsafe"), "{policy}");
    let driver = Driver::start();
    block_on(async {
        let client = driver.session().await;
        client.goto(&format!("http://{}/", daemon.addr())).await.unwrap();
        // The page's own script ran (it marks the page and enables the controls) and its own
        // style applies; nothing was blocked.
        wait_until(&client, "document.documentElement.hasAttribute('data-ready')", WAIT).await;
        let position =
            client.execute("return getComputedStyle(document.querySelector('.controls')).position", vec![]).await;
        assert_eq!(position.unwrap(), json!("sticky"));
        assert!(violations(&client).await.is_empty());

        let all = rows(&client).await;
        assert_eq!(names_in(&all, "site"), ["Test Blog"]);
        assert_eq!(names_in(&all, "categories"), ["arts", "news", "newsletter", "science", "sport", "weather"]);
        assert_eq!(names_in(&all, "tags"), ["#apple", "#banana", "#cherry", "#durian"]);
        assert!(all.iter().all(|r| !r.2));
        let shown = client.find(Locator::Id("shown")).await.unwrap();
        assert_eq!(shown.text().await.unwrap(), format!("{} of {} feeds", all.len(), all.len()));

        // Typing in the filter hides the rows whose name does not hold the text.
        let filter = client.find(Locator::Id("filter")).await.unwrap();
        filter.send_keys("NEWS").await.unwrap();
        let visible = |rows: &[(String, String, bool)]| -> Vec<String> {
            rows.iter().filter(|r| !r.2).map(|r| r.1.clone()).collect()
        };
        assert_eq!(visible(&rows(&client).await), ["news", "newsletter"]);
        assert_eq!(shown.text().await.unwrap(), format!("2 of {} feeds", all.len()));
        filter.clear().await.unwrap();
        filter.send_keys("an").await.unwrap();
        assert_eq!(visible(&rows(&client).await), ["#banana", "#durian"]);
        filter.clear().await.unwrap();
        filter.send_keys("zzz").await.unwrap();
        assert!(visible(&rows(&client).await).is_empty());
        filter.clear().await.unwrap();
        filter.send_keys(" ").await.unwrap();
        assert_eq!(visible(&rows(&client).await).len(), all.len());

        // Sorting: most recent first (ties keep name order), then back to names.
        let sort = client.find(Locator::Id("sort")).await.unwrap();
        sort.select_by_value("recent").await.unwrap();
        let mut by_day: Vec<(u32, &str)> = POSTS.iter().map(|(c, _, d)| (*d, *c)).collect();
        by_day.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let expected: Vec<&str> = by_day.iter().map(|(_, c)| *c).collect();
        assert_eq!(names_in(&rows(&client).await, "categories"), expected);
        assert_eq!(names_in(&rows(&client).await, "tags"), ["#banana", "#durian", "#apple", "#cherry"]);
        sort.select_by_value("name").await.unwrap();
        assert_eq!(names_in(&rows(&client).await, "categories"), names_in(&all, "categories"));

        // The copy button copies the feed's absolute address (the clipboard is stubbed: headless
        // Chromium has no clipboard to read back).
        client
            .execute(
                "navigator.clipboard.writeText = text => { window.copied = text; return Promise.resolve(); };",
                vec![],
            )
            .await
            .unwrap();
        let button = client.find(Locator::Css("section#tags tbody tr button")).await.unwrap();
        button.click().await.unwrap();
        wait_until(&client, "window.copied !== undefined", WAIT).await;
        let copied = client.execute("return window.copied", vec![]).await.unwrap();
        assert_eq!(copied, json!(format!("http://{}/feed/by_tag/apple.xml", daemon.addr())));
        assert_eq!(button.text().await.unwrap(), "Copied");
        // Feed names link to the feed.
        let link = client.find(Locator::Css("section#categories tbody tr td a")).await.unwrap();
        assert_eq!(link.attr("href").await.unwrap().as_deref(), Some("feed/arts.xml"));

        // The observer does see a violation when one happens: an image the policy forbids.
        client
            .execute(
                "const i = document.createElement('img'); i.src = 'http://127.0.0.1:9/x.png'; document.body.append(i);",
                vec![],
            )
            .await
            .unwrap();
        let seen = client_violations(&client).await;
        assert!(seen.len() == 1 && seen[0].contains("img-src"), "{seen:?}");

        // A feed's browser view: its copy button (the stylesheet's one script, allowed by hash)
        // shows and copies the feed's address; nothing is refused.
        client.goto(&format!("http://{}/feed/news.rss", daemon.addr())).await.unwrap();
        wait_until(&client, "document.getElementById('copy') && !document.getElementById('copy').hidden", WAIT).await;
        // Chromium 156 injects its own XSLT deprecation banner, with style attributes and an
        // inline click handler, which the feed's policy refuses; the page's own style block and
        // script must not be refused.
        let banner = |m: &String| m.contains("Applying inline style") || m.contains("inline event handler");
        let seen: Vec<String> = violations(&client).await.into_iter().filter(|m| !banner(m)).collect();
        assert!(seen.is_empty(), "{seen:?}");
        let position = client.execute("return getComputedStyle(document.querySelector('.note')).borderStyle", vec![]);
        assert_eq!(position.await.unwrap(), json!("solid"));
        let title = client.find(Locator::Id("feed-title")).await.unwrap().text().await.unwrap();
        assert_eq!(title, "Test Blog · news");
        client
            .execute(
                "navigator.clipboard.writeText = text => { window.copied = text; return Promise.resolve(); };",
                vec![],
            )
            .await
            .unwrap();
        let copy = client.find(Locator::Id("copy")).await.unwrap();
        copy.click().await.unwrap();
        wait_until(&client, "window.copied !== undefined", WAIT).await;
        let copied = client.execute("return window.copied", vec![]).await.unwrap();
        assert_eq!(copied, json!("https://blog.example.org/feed/news.rss"));
        assert_eq!(copy.text().await.unwrap(), "Copied");
        client.close().await.unwrap();
    });
}

/// A site with 2,000 categories and 2,000 tags (one post each), as BENCHMARKS.md measures it.
fn big_site() -> Workspace {
    let ws = Workspace::new();
    for i in 0..2000u32 {
        let day = 1 + i % 28;
        let front = format!(
            "title: Post {i}\ndate: 2024-{:02}-{day:02} 09:00:00 +0800\ncategories: section-{i}\ntags: [topic-{i}]",
            1 + i % 12
        );
        ws.write(&format!("_posts/2024-{:02}-{day:02}-post-{i}.md", 1 + i % 12), post(&front, "Body."));
    }
    ws
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Prints the medians BENCHMARKS.md reports: `cargo test --release --test it bench_index -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a test: run by hand for BENCHMARKS.md"]
fn bench_index_page_at_4000_feeds() {
    let ws = big_site();
    let (config, _) = ws.config("big", &Settings::default());
    let daemon = Daemon::start(&config);
    let index = daemon.get("/");
    let driver = Driver::start();
    const RUNS: usize = 9;
    block_on(async {
        let client = driver.session().await;
        let (mut load, mut dcl, mut keys, mut sorts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for run in 0..RUNS {
            client.goto(&format!("http://{}/?run={run}", daemon.addr())).await.unwrap();
            wait_until(&client, "document.documentElement.hasAttribute('data-ready')", WAIT).await;
            wait_until(&client, "performance.getEntriesByType('navigation')[0].loadEventEnd > 0", WAIT).await;
            let timing: Value = client
                .execute(
                    "const n = performance.getEntriesByType('navigation')[0]; return [n.domContentLoadedEventEnd, n.loadEventEnd];",
                    vec![],
                )
                .await
                .unwrap();
            dcl.push(timing[0].as_f64().unwrap());
            load.push(timing[1].as_f64().unwrap());
            // Typing "section-19" one key at a time: each key's input handler plus the frame
            // that shows its result (style, layout, paint), timed in the page.
            let typed: Vec<f64> = serde_json::from_value(
                client
                    .execute_async(
                        "const done = arguments[arguments.length - 1]; const box = document.getElementById('filter'); \
                         const text = 'section-19'; const times = []; let i = 0; \
                         function key() { if (i === text.length) { box.value = ''; box.dispatchEvent(new Event('input')); done(times); return; } \
                           const start = performance.now(); box.value = text.slice(0, ++i); box.dispatchEvent(new Event('input')); \
                           requestAnimationFrame(() => setTimeout(() => { times.push(performance.now() - start); key(); }, 0)); } \
                         key();",
                        vec![],
                    )
                    .await
                    .unwrap(),
            )
            .unwrap();
            keys.extend(typed);
            let sorted: f64 = client
                .execute_async(
                    "const done = arguments[arguments.length - 1]; const s = document.getElementById('sort'); \
                     const start = performance.now(); s.value = 'recent'; s.dispatchEvent(new Event('change')); \
                     requestAnimationFrame(() => setTimeout(() => done(performance.now() - start), 0));",
                    vec![],
                )
                .await
                .unwrap()
                .as_f64()
                .unwrap();
            sorts.push(sorted);
        }
        let rows: Value = client.execute("return document.querySelectorAll('tbody tr').length", vec![]).await.unwrap();
        println!(
            "index page, {rows} feeds, {} bytes: DOMContentLoaded {:.0} ms, load {:.0} ms, per key typed {:.1} ms, sort by recency {:.0} ms (medians of {RUNS} loads, {} keys)",
            index.body.len(),
            median(dcl),
            median(load),
            median(keys.clone()),
            median(sorts),
            keys.len()
        );
        client.close().await.unwrap();
    });
}
