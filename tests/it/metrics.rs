//! `/metrics`: off by default (a 404 like any path that is not a feed); with `server.metrics =
//! true`, the Prometheus text format, read back with `prometheus-parse`, whose values follow
//! what the daemon does.

use std::fs;
use std::path::PathBuf;

use prometheus_parse::{Scrape, Value};

use crate::support::{base_posts, post, Daemon, Settings, Workspace, CHANGE_WAIT};

fn config(ws: &Workspace, metrics: Option<bool>) -> PathBuf {
    let (config, _) = ws.config("metrics", &Settings::default());
    let mut text = fs::read_to_string(&config).unwrap() + "[server]\nquiet_ms = 50\n";
    if let Some(on) = metrics {
        text += &format!("metrics = {on}\n");
    }
    fs::write(&config, text).unwrap();
    config
}

/// `/metrics` parsed; panics unless it is a 200 in the text format whose every sample is of a
/// declared type.
#[track_caller]
fn scrape(daemon: &Daemon) -> Scrape {
    let response = daemon.get("/metrics");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    let text = response.text();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap_or_else(|e| panic!("{e}\n{text}"));
    // prometheus-parse gives a histogram's `_sum` and `_count` lines no type of their own.
    let histogram = |name: &str| {
        let base = name.strip_suffix("_sum").or_else(|| name.strip_suffix("_count"));
        base.is_some_and(|base| text.contains(&format!("# TYPE {base} histogram\n")))
    };
    for sample in &scrape.samples {
        let typed = !matches!(sample.value, Value::Untyped(_)) || histogram(&sample.metric);
        assert!(typed, "{} has no # TYPE\n{text}", sample.metric);
    }
    scrape
}

/// The sum of the samples named `metric` whose labels include `labels`.
fn value(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            Value::Summary(_) => panic!("no summaries here"),
        })
        .sum()
}

#[test]
fn metrics_are_off_by_default_and_then_a_404_like_any_other_path() {
    let ws = Workspace::with_posts(&base_posts());
    for setting in [None, Some(false)] {
        let daemon = Daemon::start(&config(&ws, setting));
        let metrics = daemon.get("/metrics");
        let other = daemon.get("/no-such-path");
        assert_eq!((metrics.status, other.status), (404, 404));
        assert_eq!(metrics.body, other.body);
        assert_eq!(metrics.header("content-type"), other.header("content-type"));
    }
}

#[test]
fn metrics_follow_posts_requests_and_updates() {
    let ws = Workspace::with_posts(&base_posts());
    let daemon = Daemon::start(&config(&ws, Some(true)));
    let first = scrape(&daemon);
    assert_eq!(value(&first, "postfeed_posts", &[]), 3.0);
    assert_eq!(value(&first, "postfeed_problems", &[]), 0.0);
    let feeds = value(&first, "postfeed_feeds", &[]);
    // The site, categories news, markets, business, tags alpha, 标签, beta.
    assert_eq!(feeds, 7.0);
    assert_eq!(value(&first, "postfeed_feed_files", &[]), 2.0 * feeds);

    // Requests, by status and coding, and the bytes of their bodies.
    let ok_gzip = [("status", "200"), ("encoding", "gzip")];
    let before = value(&first, "postfeed_http_requests_total", &ok_gzip);
    let sent_before = value(&first, "postfeed_http_sent_bytes_total", &[]);
    let missing_before = value(&first, "postfeed_http_requests_total", &[("status", "404")]);
    let mut sent = 0;
    for _ in 0..3 {
        let response = daemon.request("GET", "/feed.xml", &[("Accept-Encoding", "gzip")]);
        assert_eq!(response.header("content-encoding"), Some("gzip"));
        sent += response.body.len();
    }
    daemon.get("/no-such-feed.xml");
    let after = scrape(&daemon);
    assert_eq!(value(&after, "postfeed_http_requests_total", &ok_gzip), before + 3.0);
    assert_eq!(value(&after, "postfeed_http_requests_total", &[("status", "404")]), missing_before + 1.0);
    // The scrape before this one counts too (its body was sent after it was made).
    assert!(value(&after, "postfeed_http_sent_bytes_total", &[]) >= sent_before + sent as f64);

    // An edit: one update more, timed, and the new post and the broken file counted. Made once
    // the daemon watches (its start-up catch-up has run), so that the watcher sees it: before,
    // the catch-up alone could fold it in, and no "files" update would follow.
    let after = daemon.wait_for("the start-up catch-up", CHANGE_WAIT, || {
        let scrape = scrape(&daemon);
        (value(&scrape, "postfeed_updates_total", &[("trigger", "catch-up")]) >= 1.0).then_some(scrape)
    });
    let updates = value(&after, "postfeed_updates_total", &[("trigger", "files")]);
    let timed = value(&after, "postfeed_update_duration_seconds", &[]);
    ws.write("_posts/2021-03-10-new.md", post("title: New\ndate: 2021-03-10 09:00:00 +0800\ntags: [fresh]", "New."));
    ws.write("_posts/2021-03-11-broken.md", "---\ntitle: [unclosed\n---\n");
    let edited = daemon.wait_for("the edit in the metrics", CHANGE_WAIT, || {
        let scrape = scrape(&daemon);
        (value(&scrape, "postfeed_problems", &[]) == 1.0 && value(&scrape, "postfeed_posts", &[]) == 4.0)
            .then_some(scrape)
    });
    assert!(value(&edited, "postfeed_updates_total", &[("trigger", "files")]) > updates);
    assert!(value(&edited, "postfeed_update_duration_seconds", &[]) > timed);
    assert_eq!(value(&edited, "postfeed_feeds", &[]), feeds + 1.0, "the tag fresh");
}
