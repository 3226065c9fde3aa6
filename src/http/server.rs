//! The HTTP/1.1 server: the accept loop with its connection cap, header and idle timeouts, and
//! graceful shutdown; each request answered by [`respond`] from the current [`Served`].

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use hyper::body::Incoming;
use hyper::header;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::respond::{metrics_page, respond, Sendfile};
use super::sendfile::Tracked;
use super::Served;
use crate::config::ServerConfig;
use crate::memfile::MemFile;
use crate::metrics::Metrics;

/// The header and idle timeouts while a client waits for a connection slot: a connection that
/// sends nothing, or sends its head slowly, or keeps alive unused, gives its slot up this soon.
/// Without it, `max_connections` idle clients would keep every reader out for the idle timeout.
const BUSY_TIMEOUT: Duration = Duration::from_secs(1);

/// Connection limits and cache lifetime for [`serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HttpLimits {
    /// Connections served at once; one more client waits for a slot, and the rest in the listen
    /// backlog.
    pub(crate) max_connections: usize,
    /// Time to receive a whole request head, counted from the connection's start or from the
    /// first byte of a later request. Zero: no limit.
    pub(crate) header_timeout: Duration,
    /// Time a connection may make no progress otherwise (idle keep-alive, a stalled reader).
    /// Zero: no limit.
    pub(crate) idle_timeout: Duration,
    /// Largest request line plus headers; larger requests get 431.
    pub(crate) max_header_bytes: usize,
    /// `Cache-Control: max-age` of feeds and pages, in seconds.
    pub(crate) max_age: u32,
}

impl HttpLimits {
    pub(crate) fn from_config(server: &ServerConfig) -> HttpLimits {
        HttpLimits {
            max_connections: server.max_connections,
            header_timeout: Duration::from_millis(server.header_timeout_ms),
            idle_timeout: Duration::from_millis(server.idle_timeout_ms),
            max_header_bytes: server.max_header_bytes,
            max_age: server.max_age,
        }
    }
}

/// Serves HTTP/1.1 on `listener` until `shutdown` completes, then stops accepting, lets every
/// open connection finish its in-flight request (idle ones close at once), and returns.
///
/// Each request reads `current` once, so it is answered from one consistent [`Served`]. When
/// `max_connections` are open, the next client accepted waits for a slot (later ones queue in
/// the kernel's backlog) and, meanwhile, every open connection's header and idle timeouts are
/// [`BUSY_TIMEOUT`]: idle and slow clients make room within it, and a response goes on for as
/// long as its reader keeps reading.
///
/// With `metrics`, `/metrics` answers with them, and every response is counted in them.
pub(crate) async fn serve(
    listener: TcpListener,
    current: Arc<ArcSwap<Served>>,
    limits: HttpLimits,
    metrics: Option<Arc<Metrics>>,
    shutdown: impl Future<Output = ()>,
) {
    let capacity = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
    let slots = Arc::new(Semaphore::new(capacity));
    let (stop, stopped) = watch::channel(());
    let mut builder = http1::Builder::new();
    // hyper's own header timer also runs while a kept-alive connection waits for its next
    // request, which would cap keep-alive at the header timeout; `Activity` times both instead.
    builder.keep_alive(true).max_header_size(limits.max_header_bytes).header_read_timeout(None);
    let mut shutdown = pin!(shutdown);
    // True while an accepted client waits for a slot: connections then get `BUSY_TIMEOUT`.
    let (pressure, pressure_seen) = watch::channel(false);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Usually out of file descriptors: pause rather than spin.
                tracing::warn!(%error, "cannot accept a connection");
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
                continue;
            }
        };
        // Accepted before a slot is free, so that the open connections learn that someone waits.
        let permit = match Arc::clone(&slots).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                tracing::debug!(%peer, "http: every connection slot is taken; idle connections make room");
                pressure.send_replace(true);
                let permit = tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    permit = Arc::clone(&slots).acquire_owned() => permit,
                };
                pressure.send_replace(false);
                match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                }
            }
        };
        let connection = Connection {
            builder: builder.clone(),
            current: Arc::clone(&current),
            limits,
            metrics: metrics.clone(),
            stopped: stopped.clone(),
            pressure: pressure_seen.clone(),
            _permit: permit,
        };
        tokio::spawn(connection.run(stream, peer));
    }
    drop(listener);
    tracing::debug!("http: stopped accepting, draining connections");
    _ = stop.send(());
    // Every connection holds a permit until it ends: having them all back means all are done.
    let capacity = u32::try_from(capacity).unwrap_or(u32::MAX);
    _ = slots.acquire_many(capacity).await;
    tracing::debug!("http: all connections closed");
}

struct Connection {
    builder: http1::Builder,
    current: Arc<ArcSwap<Served>>,
    limits: HttpLimits,
    metrics: Option<Arc<Metrics>>,
    stopped: watch::Receiver<()>,
    pressure: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    async fn run(mut self, stream: TcpStream, peer: SocketAddr) {
        _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::new());
        let outgoing: Arc<Mutex<Option<Arc<MemFile>>>> = Arc::default();
        let io = TokioIo::new(Tracked::new(stream, Arc::clone(&activity), Arc::clone(&outgoing)));
        let current = Arc::clone(&self.current);
        let max_age = self.limits.max_age;
        let request_activity = Arc::clone(&activity);
        let metrics = self.metrics.clone();
        let service = service_fn(move |request: Request<Incoming>| {
            request_activity.head_received();
            let served = current.load();
            let response = match &metrics {
                Some(metrics) if request.uri().path() == "/metrics" => metrics_page(metrics.encode(), request.method()),
                _ => respond(&served, request.method(), request.uri(), request.headers(), max_age, SystemTime::now()),
            };
            let encoding =
                response.headers().get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("identity");
            if let Some(metrics) = &metrics {
                let bytes = hyper::body::Body::size_hint(response.body()).exact().unwrap_or(0);
                metrics.request(response.status().as_u16(), encoding, bytes);
            }
            *outgoing.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
                response.extensions().get::<Sendfile>().map(|s| Arc::clone(&s.0));
            tracing::debug!(
                %peer,
                method = %request.method(),
                uri = %request.uri(),
                status = response.status().as_u16(),
                encoding,
                "request"
            );
            std::future::ready(Ok::<_, Infallible>(response))
        });
        let mut connection = pin!(self.builder.serve_connection(io, service));
        let mut expired = pin!(activity.expired(self.limits, self.pressure.clone()));
        let mut draining = false;
        loop {
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%peer, %error, "connection ended with an error");
                    }
                    return;
                }
                _ = self.stopped.changed(), if !draining => {
                    draining = true;
                    connection.as_mut().graceful_shutdown();
                    // A client still sending its request head, or one that stopped reading, has
                    // `BUSY_TIMEOUT` to finish: shutting down does not wait out the long timeouts.
                    let (_, always_busy) = watch::channel(true);
                    expired.set(activity.expired(self.limits, always_busy));
                }
                () = &mut expired => {
                    tracing::debug!(%peer, "closing a timed-out connection");
                    return;
                }
            }
        }
    }
}

/// When a connection last made progress, and since when it has been waiting for a request head.
pub(super) struct Activity {
    state: Mutex<ActivityState>,
}

struct ActivityState {
    last_progress: Instant,
    /// Set at the start and by the first byte after a request head; cleared when a head is in.
    head_since: Option<Instant>,
}

impl Activity {
    fn new() -> Activity {
        let now = Instant::now();
        Activity { state: Mutex::new(ActivityState { last_progress: now, head_since: Some(now) }) }
    }

    fn lock(&self) -> MutexGuard<'_, ActivityState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn read_some(&self) {
        let now = Instant::now();
        let mut state = self.lock();
        state.last_progress = now;
        state.head_since.get_or_insert(now);
    }

    pub(super) fn wrote_some(&self) {
        self.lock().last_progress = Instant::now();
    }

    fn head_received(&self) {
        let mut state = self.lock();
        state.last_progress = Instant::now();
        state.head_since = None;
    }

    /// When the connection times out: by the header timeout while a request head is awaited, by
    /// the idle timeout otherwise; each cut to [`BUSY_TIMEOUT`] while a client waits for a slot.
    fn deadline(&self, limits: &HttpLimits, busy: bool) -> Option<Instant> {
        let state = self.lock();
        let after = |since: Instant, limit: Duration| {
            let limit = if busy && (limit.is_zero() || limit > BUSY_TIMEOUT) { BUSY_TIMEOUT } else { limit };
            (!limit.is_zero()).then(|| since + limit)
        };
        match state.head_since {
            Some(since) => after(since, limits.header_timeout),
            None => after(state.last_progress, limits.idle_timeout),
        }
    }

    /// Completes once the connection has overrun its header or idle timeout, as `pressure` says
    /// they are now.
    async fn expired(&self, limits: HttpLimits, mut pressure: watch::Receiver<bool>) {
        loop {
            let busy = *pressure.borrow_and_update();
            let deadline = self.deadline(&limits, busy);
            if deadline.is_some_and(|deadline| deadline <= Instant::now()) {
                return;
            }
            // No limit in this state now: look again later, the state may change.
            let wake = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(1));
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                // The sender lives as long as the accept loop; once it is gone, only time counts.
                changed = pressure.changed() => if changed.is_err() {
                    tokio::time::sleep_until(wake).await;
                },
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::feed::Format;
    use crate::http::fixtures::{config, in_memfiles, served, tag_uri, TAG};
    use crate::memfile;
    use crate::snapshot::Rendered;

    fn limits() -> HttpLimits {
        HttpLimits {
            max_connections: 4,
            header_timeout: Duration::from_millis(300),
            idle_timeout: Duration::from_secs(30),
            max_header_bytes: 8192,
            max_age: 60,
        }
    }

    async fn read_response(stream: &mut TcpStream) -> String {
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out)).await.unwrap().unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn serves_over_tcp_and_shuts_down_gracefully() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let current = Arc::new(ArcSwap::from_pointee(served()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, Arc::clone(&current), limits(), None, async {
            _ = stopped.await;
        }));

        let mut stream = TcpStream::connect(addr).await.unwrap();
        let request =
            format!("GET {} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n", tag_uri());
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.unwrap();
        let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 200 ok"), "{head}");
        assert!(head.contains("content-encoding: gzip"), "{head}");
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&raw[split + 4..]).read_to_end(&mut plain).unwrap();
        assert_eq!(plain, current.load().snapshot().files[&format!("feed/by_tag/{TAG}.xml")].body.to_bytes());

        // HEAD keeps the real Content-Length on the wire.
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"HEAD /feed.xml HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let text = read_response(&mut stream).await.to_ascii_lowercase();
        let length = current.load().snapshot().files["feed.xml"].body.to_bytes().len();
        assert!(text.contains(&format!("content-length: {length}\r\n")), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "{text}");

        // A client that never sends its request head is dropped after the header timeout.
        let mut silent = TcpStream::connect(addr).await.unwrap();
        assert_eq!(read_response(&mut silent).await, "");

        // An idle kept-alive connection does not hold up shutdown.
        let mut idle = TcpStream::connect(addr).await.unwrap();
        idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = [0; 1024];
        let n = idle.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("\r\n\r\nok"));

        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap();
        assert_eq!(read_response(&mut idle).await, "");
        assert!(TcpStream::connect(addr).await.is_err());
    }

    /// Every slot held by a client that does nothing useful: one kept alive after a request, one
    /// that sent nothing, one partway through its head. A reader must still get its feed long
    /// before the (here 30 s) header and idle timeouts: the busy timeout frees the slots.
    #[tokio::test]
    async fn idle_and_slow_clients_make_room_when_every_slot_is_taken() {
        let limits = HttpLimits {
            max_connections: 3,
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(30),
            ..limits()
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, Arc::new(ArcSwap::from_pointee(served())), limits, None, async {
            _ = stopped.await;
        }));

        let mut kept_alive = TcpStream::connect(addr).await.unwrap();
        kept_alive.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = [0; 1024];
        let n = kept_alive.read(&mut buf).await.unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("\r\n\r\nok"));
        let _silent = TcpStream::connect(addr).await.unwrap();
        let mut partial = TcpStream::connect(addr).await.unwrap();
        partial.write_all(b"GET /feed.xml HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;

        let mut reader = TcpStream::connect(addr).await.unwrap();
        reader.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let answer = read_response(&mut reader).await;
        assert!(answer.starts_with("HTTP/1.1 200 OK") && answer.ends_with("ok"), "{answer}");

        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap();
    }

    /// A client that never finishes its request head (or never sends one) has [`BUSY_TIMEOUT`]
    /// once the server is stopping, not the 30 s header timeout: a `systemctl stop` is not held
    /// up by a slow or silent client.
    #[tokio::test]
    async fn clients_that_never_finish_a_request_do_not_hold_up_shutdown() {
        let limits = HttpLimits { header_timeout: Duration::from_secs(30), ..limits() };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, Arc::new(ArcSwap::from_pointee(served())), limits, None, async {
            _ = stopped.await;
        }));
        let mut partial = TcpStream::connect(addr).await.unwrap();
        partial.write_all(b"GET /feed.xml HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let mut silent = TcpStream::connect(addr).await.unwrap();
        // Both are accepted and being read before the stop.
        tokio::time::sleep(Duration::from_millis(200)).await;

        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), server).await.expect("shutdown waited for the clients").unwrap();
        assert_eq!(read_response(&mut partial).await, "");
        assert_eq!(read_response(&mut silent).await, "");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_file_bodies_arrive_whole_on_a_slow_kept_alive_connection() {
        // 4 MiB that does not compress, read slowly: sendfile returns short counts and would-block.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let big: Vec<u8> = (0..4 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                b'a' + (state % 26) as u8
            })
            .collect();
        let mut snapshot = {
            let base = served();
            base.snapshot().as_ref().clone()
        };
        snapshot.files.insert("feed.xml".into(), Arc::new(Rendered::new(big.clone(), Format::Atom.mime())));
        let snapshot = in_memfiles(snapshot);
        assert!(snapshot.files["feed.xml"].memfile().is_some());
        let current = Arc::new(ArcSwap::from_pointee(Served::new(Arc::new(snapshot), &config())));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve(listener, Arc::clone(&current), limits(), None, async {
            _ = stopped.await;
        }));
        let sent_before = memfile::BYTES_SENT.load(std::sync::atomic::Ordering::Relaxed);

        let mut stream = TcpStream::connect(addr).await.unwrap();
        let requests = format!(
            "GET /feed.xml HTTP/1.1\r\nHost: x\r\n\r\nGET {} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            tag_uri()
        );
        stream.write_all(requests.as_bytes()).await.unwrap();
        let mut raw = Vec::new();
        let mut chunk = vec![0; 64 * 1024];
        loop {
            let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await.unwrap().unwrap();
            if n == 0 {
                break;
            }
            raw.extend_from_slice(&chunk[..n]);
            if raw.len() < 1 << 20 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        let first_head = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(raw.starts_with(b"HTTP/1.1 200 OK"));
        assert_eq!(&raw[first_head..first_head + big.len()], &big[..]);
        let rest = &raw[first_head + big.len()..];
        let second_head = rest.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert!(rest.starts_with(b"HTTP/1.1 200 OK"), "{}", String::from_utf8_lossy(&rest[..second_head]));
        let served_now = current.load();
        let tag_file = &served_now.snapshot().files[&format!("feed/by_tag/{TAG}.xml")];
        assert_eq!(&rest[second_head..], &tag_file.body.to_bytes()[..]);
        let sent = memfile::BYTES_SENT.load(std::sync::atomic::Ordering::Relaxed) - sent_before;
        assert!(sent >= (big.len() + tag_file.body.to_bytes().len()) as u64, "only {sent} bytes went by sendfile");

        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), server).await.unwrap().unwrap();
    }
}
