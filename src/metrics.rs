//! The daemon's metrics, kept with `prometheus-client` and served at `/metrics` in the
//! Prometheus text format (0.0.4) when `server.metrics = true`.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The `Content-Type` of `/metrics`.
pub(crate) const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// One request's labels: its status code and the content coding of its body.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    status: u16,
    encoding: String,
}

/// What started an update.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct UpdateLabels {
    trigger: String,
}

/// Every metric of the daemon; cheap to update from any thread.
pub(crate) struct Metrics {
    registry: Registry,
    posts: Gauge,
    skipped: Gauge,
    feeds: Gauge,
    feed_files: Gauge,
    updates: Family<UpdateLabels, Counter>,
    update_seconds: Histogram,
    requests: Family<RequestLabels, Counter>,
    sent_bytes: Counter,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("postfeed"),
            posts: Gauge::default(),
            skipped: Gauge::default(),
            feeds: Gauge::default(),
            feed_files: Gauge::default(),
            updates: Family::default(),
            // 0.5 ms to about 16 s: an update of one post takes about a millisecond, a rescan
            // of 100,000 posts seconds.
            update_seconds: Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(0.0005, 2.0, 16)),
            requests: Family::default(),
            sent_bytes: Counter::default(),
        };
        metrics.registry.register("posts", "Posts read (published or not)", metrics.posts.clone());
        metrics.registry.register("problems", "Files under _posts left out of the feeds", metrics.skipped.clone());
        metrics.registry.register(
            "feeds",
            "Feeds served (the site's, one per category and tag)",
            metrics.feeds.clone(),
        );
        metrics.registry.register(
            "feed_files",
            "Feed files served (one per feed and format)",
            metrics.feed_files.clone(),
        );
        metrics.registry.register("updates", "Updates run, by what started them", metrics.updates.clone());
        metrics.registry.register(
            "update_duration_seconds",
            "Time an update took, from reading the files to publishing the feeds",
            metrics.update_seconds.clone(),
        );
        metrics.registry.register(
            "http_requests",
            "HTTP requests answered, by status and content coding",
            metrics.requests.clone(),
        );
        metrics.registry.register("http_sent_bytes", "Bytes of HTTP response bodies sent", metrics.sent_bytes.clone());
        metrics
    }

    /// What the site holds now.
    pub(crate) fn site(&self, posts: usize, skipped: usize, feeds: usize, feed_files: usize) {
        let set = |gauge: &Gauge, value: usize| gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
        set(&self.posts, posts);
        set(&self.skipped, skipped);
        set(&self.feeds, feeds);
        set(&self.feed_files, feed_files);
    }

    /// One update, started by `trigger` (`files`, `rescan`, `catch-up`, `scheduled`, `reload`).
    pub(crate) fn update(&self, trigger: &str, took: Duration) {
        self.updates.get_or_create(&UpdateLabels { trigger: trigger.to_string() }).inc();
        self.update_seconds.observe(took.as_secs_f64());
    }

    /// One response with `status`, a body in `encoding` (`identity`, `gzip`, `br`) of `bytes`.
    pub(crate) fn request(&self, status: u16, encoding: &str, bytes: u64) {
        self.requests.get_or_create(&RequestLabels { status, encoding: encoding.to_string() }).inc();
        self.sent_bytes.inc_by(bytes);
    }

    /// Everything, in the Prometheus text format.
    pub(crate) fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_names_every_metric_with_its_value() {
        let metrics = Metrics::new();
        metrics.site(27, 1, 42, 84);
        metrics.update("files", Duration::from_millis(3));
        metrics.request(200, "gzip", 1000);
        metrics.request(200, "gzip", 24);
        let text = metrics.encode();
        for line in [
            "postfeed_posts 27",
            "postfeed_problems 1",
            "postfeed_feeds 42",
            "postfeed_feed_files 84",
            "postfeed_updates_total{trigger=\"files\"} 1",
            "postfeed_update_duration_seconds_count 1",
            "postfeed_http_requests_total{status=\"200\",encoding=\"gzip\"} 2",
            "postfeed_http_sent_bytes_total 1024",
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line:?} in\n{text}");
        }
    }
}
