//! The WebSub publisher (W3C Recommendation, 2018-01-23): after each update, the daemon tells
//! every hub in `websub.hubs` which feed URLs have new bytes, so that the hubs fetch them and push
//! them to their subscribers.
//!
//! Each hub has a task of its own fed by a bounded channel, so that a slow or failing hub delays
//! neither the updates, nor serving, nor the other hubs. The update loop never waits: when a
//! hub's channel is full, its URLs are merged into a set that the task takes with its next batch.
//! A batch is every URL of one update (and of any updates queued behind it), sent as one
//! `hub.mode=publish` request with one `hub.url` per feed, at most [`URLS_PER_REQUEST`] per
//! request. A request that fails (no answer, or a status other than 2xx) is retried with
//! exponential backoff, merged with what arrived meanwhile, and given up after [`MAX_ATTEMPTS`].

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONTENT_TYPE, USER_AGENT};
use hyper::{Method, Request};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::mpsc::{self, error::TrySendError};
use tracing::{debug, warn};
use url::Url;

/// Batches waiting for one hub before further URLs are merged instead of queued.
const QUEUE: usize = 16;
/// Most `hub.url` values in one request, to keep request bodies a few kilobytes.
const URLS_PER_REQUEST: usize = 64;
/// Attempts of one batch before it is given up (waits of 0.5, 1, 2, … 32 s between them).
const MAX_ATTEMPTS: u32 = 7;
const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(60);
/// How long a hub may take to answer one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The daemon's handle on its hubs' tasks; dropping it lets each task finish its batch and end.
pub(crate) struct Publisher {
    hubs: Vec<Url>,
    queues: Vec<HubQueue>,
}

impl Publisher {
    /// Starts one task per hub on the current tokio runtime; `None` when there are no hubs.
    pub(crate) fn start(hubs: &[Url]) -> Option<Publisher> {
        if hubs.is_empty() {
            return None;
        }
        let client = http_client();
        let queues = hubs
            .iter()
            .map(|hub| {
                let (queue, batches) = HubQueue::new(QUEUE);
                tokio::spawn(run(client.clone(), hub.clone(), batches, Arc::clone(&queue.overflow)));
                queue
            })
            .collect();
        Some(Publisher { hubs: hubs.to_vec(), queues })
    }

    /// The hubs this publisher tells.
    pub(crate) fn hubs(&self) -> &[Url] {
        &self.hubs
    }

    /// Queues `urls` (absolute feed URLs) for every hub; never waits.
    pub(crate) fn announce(&self, urls: Vec<String>) {
        if urls.is_empty() {
            return;
        }
        for queue in &self.queues {
            queue.push(urls.clone());
        }
    }
}

/// The sending side of one hub's channel, and the set that takes URLs while the channel is full.
struct HubQueue {
    batches: mpsc::Sender<Vec<String>>,
    overflow: Arc<Mutex<BTreeSet<String>>>,
}

impl HubQueue {
    fn new(capacity: usize) -> (HubQueue, mpsc::Receiver<Vec<String>>) {
        let (batches, receiver) = mpsc::channel(capacity);
        (HubQueue { batches, overflow: Arc::default() }, receiver)
    }

    fn push(&self, urls: Vec<String>) {
        match self.batches.try_send(urls) {
            Ok(()) | Err(TrySendError::Closed(_)) => {}
            Err(TrySendError::Full(urls)) => {
                lock(&self.overflow).extend(urls);
                // The merged URLs must be seen: either this empty batch is queued, or the channel
                // is full now, after they were merged, and the task reads some batch later on.
                // Both ways the task takes the overflow after this point.
                let _ = self.batches.try_send(Vec::new());
            }
        }
    }
}

fn lock(set: &Mutex<BTreeSet<String>>) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
    set.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Everything waiting for the hub right now: the batches in the channel and the overflow.
fn take_waiting(
    batches: &mut mpsc::Receiver<Vec<String>>,
    overflow: &Mutex<BTreeSet<String>>,
    into: &mut BTreeSet<String>,
) {
    while let Ok(batch) = batches.try_recv() {
        into.extend(batch);
    }
    into.append(&mut lock(overflow));
}

/// One hub's task: takes a batch, merges what else waits, and sends it until it is accepted or
/// given up; ends when the publisher is dropped and nothing is left.
async fn run(
    client: HttpClient,
    hub: Url,
    mut batches: mpsc::Receiver<Vec<String>>,
    overflow: Arc<Mutex<BTreeSet<String>>>,
) {
    while let Some(first) = batches.recv().await {
        let mut pending: BTreeSet<String> = first.into_iter().collect();
        let mut attempt = 1;
        let mut wait = FIRST_RETRY;
        loop {
            take_waiting(&mut batches, &overflow, &mut pending);
            if pending.is_empty() {
                break;
            }
            let total = pending.len();
            match send_all(&client, &hub, &mut pending).await {
                Ok(()) => {
                    debug!("websub: {hub} told of {total} changed feeds");
                    break;
                }
                Err(reason) if attempt < MAX_ATTEMPTS => {
                    warn!(
                        "websub: {hub}: {reason}; {} feed URLs to announce again in {:.1} s",
                        pending.len(),
                        wait.as_secs_f64()
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    wait = (wait * 2).min(MAX_RETRY);
                }
                Err(reason) => {
                    warn!("websub: {hub}: {reason}; giving up on {} feed URLs after {attempt} attempts", pending.len());
                    break;
                }
            }
        }
    }
    debug!("websub: publisher for {hub} stopped");
}

/// Sends `pending` in requests of at most [`URLS_PER_REQUEST`] URLs, removing those a request
/// delivered; stops at the first failure.
async fn send_all(client: &HttpClient, hub: &Url, pending: &mut BTreeSet<String>) -> Result<(), String> {
    while !pending.is_empty() {
        let chunk: Vec<String> = pending.iter().take(URLS_PER_REQUEST).cloned().collect();
        send(client, hub, &chunk).await?;
        for url in &chunk {
            pending.remove(url);
        }
    }
    Ok(())
}

/// One publish request; `Err` says why the hub did not accept it.
async fn send(client: &HttpClient, hub: &Url, urls: &[String]) -> Result<(), String> {
    let request = Request::builder()
        .method(Method::POST)
        .uri(hub.as_str())
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(USER_AGENT, concat!("postfeed/", env!("CARGO_PKG_VERSION"), " (WebSub publisher)"))
        .body(Full::new(Bytes::from(publish_body(urls))))
        .map_err(|e| format!("cannot make a request to it: {e}"))?;
    match tokio::time::timeout(REQUEST_TIMEOUT, client.request(request)).await {
        Err(_) => Err(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())),
        Ok(Err(e)) => Err(format!("request failed: {}", error_chain(&e))),
        Ok(Ok(response)) if response.status().is_success() => Ok(()),
        Ok(Ok(response)) => Err(format!("answered {}", response.status())),
    }
}

/// `hub.mode=publish` and one `hub.url` per feed, form-encoded.
pub(crate) fn publish_body(urls: &[String]) -> String {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("hub.mode", "publish");
    for url in urls {
        form.append_pair("hub.url", url);
    }
    form.finish()
}

/// An error with its causes, which hyper keeps in `source()`.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// HTTP/1.1 over TCP, or TLS with rustls (ring) and Mozilla's root certificates (webpki-roots):
/// no OpenSSL, and no dependence on the host's certificate folder, which a sandbox may hide.
fn http_client() -> HttpClient {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
        .expect("ring supports rustls' default protocol versions")
        .https_or_http()
        .enable_http1()
        .build();
    Client::builder(TokioExecutor::new()).build(connector)
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_body_is_a_publish_form_with_one_hub_url_per_feed() {
        let urls =
            vec!["https://e.org/feed.xml".to_string(), "https://e.org/feed/by_tag/%E8%8D%86&x=1.json".to_string()];
        let body = publish_body(&urls);
        let pairs: Vec<(String, String)> =
            url::form_urlencoded::parse(body.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        assert_eq!(
            pairs,
            [
                ("hub.mode".to_string(), "publish".to_string()),
                ("hub.url".to_string(), urls[0].clone()),
                ("hub.url".to_string(), urls[1].clone()),
            ]
        );
    }

    #[test]
    fn a_full_queue_merges_instead_of_waiting() {
        let (queue, mut batches) = HubQueue::new(2);
        // Nobody reads: without merging, the third push would have to wait or be lost.
        for i in 0..100 {
            queue.push(vec![format!("https://e.org/{i}.xml"), "https://e.org/feed.xml".to_string()]);
        }
        let mut all = BTreeSet::new();
        take_waiting(&mut batches, &queue.overflow, &mut all);
        assert_eq!(all.len(), 101);
        assert!(all.contains("https://e.org/99.xml") && all.contains("https://e.org/0.xml"));
        assert!(lock(&queue.overflow).is_empty());
    }

    /// A loopback hub that answers 204 to `expected` requests and returns their bodies.
    fn accepting_hub(expected: usize) -> (Url, std::thread::JoinHandle<Vec<String>>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let hub: Url = format!("http://{}/", listener.local_addr().unwrap()).parse().unwrap();
        let server = std::thread::spawn(move || {
            let mut bodies = Vec::new();
            for _ in 0..expected {
                let (mut socket, _) = listener.accept().unwrap();
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                // Head, then as many body bytes as Content-Length says.
                let body_start = loop {
                    let n = socket.read(&mut buffer).unwrap();
                    request.extend_from_slice(&buffer[..n]);
                    if let Some(i) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&request[..body_start]).to_ascii_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .unwrap();
                while request.len() < body_start + length {
                    let n = socket.read(&mut buffer).unwrap();
                    request.extend_from_slice(&buffer[..n]);
                }
                bodies.push(String::from_utf8(request[body_start..].to_vec()).unwrap());
                std::io::Write::write_all(&mut socket, b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
                    .unwrap();
            }
            bodies
        });
        (hub, server)
    }

    #[test]
    fn many_urls_go_in_requests_of_at_most_64() {
        let (hub, server) = accepting_hub(3);
        let urls: Vec<String> = (0..150).map(|i| format!("https://e.org/feed/{i:03}.xml")).collect();
        let mut pending: BTreeSet<String> = urls.iter().cloned().collect();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(send_all(&http_client(), &hub, &mut pending)).unwrap();
        assert!(pending.is_empty());
        let bodies = server.join().unwrap();
        let sent: Vec<Vec<String>> = bodies
            .iter()
            .map(|b| {
                url::form_urlencoded::parse(b.as_bytes())
                    .filter(|(k, _)| k == "hub.url")
                    .map(|(_, v)| v.into_owned())
                    .collect()
            })
            .collect();
        assert_eq!(sent.iter().map(Vec::len).collect::<Vec<_>>(), [64, 64, 22]);
        assert_eq!(sent.concat(), urls);
    }

    #[test]
    fn no_hubs_no_publisher() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async { assert!(Publisher::start(&[]).is_none()) });
    }

    /// An `https://` hub gets a TLS handshake (rustls with ring), not plain HTTP: the first bytes
    /// on the wire are a TLS handshake record. The loopback "hub" then hangs up.
    #[test]
    fn https_hubs_are_spoken_to_over_tls() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut socket, _) = listener.accept().unwrap();
            let mut head = [0u8; 3];
            socket.read_exact(&mut head).unwrap();
            head
        });
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let hub: Url = format!("https://localhost:{port}/hub").parse().unwrap();
        let result = runtime.block_on(send(&http_client(), &hub, &["https://e.org/feed.xml".to_string()]));
        let head = server.join().unwrap();
        // 0x16: handshake record; 0x03: TLS's major version byte.
        assert_eq!(&head[..2], &[0x16, 0x03], "{head:?}");
        assert!(result.is_err(), "a server that hangs up cannot have accepted it");
    }
}
