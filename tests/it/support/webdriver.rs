//! Headless Chromium driven over WebDriver: Debian's `chromedriver` on a free loopback port, one
//! fresh profile per session, spoken to with fantoccini. Every wait is bounded.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tempfile::TempDir;

/// How long chromedriver may take to listen.
const DRIVER_WAIT: Duration = Duration::from_secs(30);

/// A running chromedriver and the profile folder of its browser; both go when it is dropped.
pub struct Driver {
    child: Child,
    addr: SocketAddr,
    profile: TempDir,
}

impl Driver {
    /// Starts `chromedriver` on a free port and waits until it listens.
    pub fn start() -> Driver {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (apt-get install chromium-driver)");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        while TcpStream::connect(addr).is_err() {
            assert!(started.elapsed() < DRIVER_WAIT, "chromedriver did not listen on {addr}");
            thread::sleep(Duration::from_millis(50));
        }
        Driver { child, addr, profile: tempfile::tempdir().expect("profile folder") }
    }

    /// A new headless browser session.
    pub async fn session(&self) -> Client {
        let options = json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1280,900",
                format!("--user-data-dir={}", self.profile.path().display()),
            ],
        });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), options);
        capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://{}", self.addr))
            .await
            .expect("a WebDriver session with headless Chromium")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `future` on a runtime of its own (the tests are synchronous).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

/// Polls the script `condition` (a JavaScript expression) until it is true, for at most `within`.
pub async fn wait_until(client: &Client, condition: &str, within: Duration) {
    let started = Instant::now();
    loop {
        let value = client.execute(&format!("return !!({condition});"), vec![]).await.expect("script runs");
        if value.as_bool() == Some(true) {
            return;
        }
        assert!(started.elapsed() < within, "waited {within:?} for: {condition}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// chromedriver's browser log (console messages, CSP reports among them) since the last call.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (hyper::Method, Option<String>) {
        (hyper::Method::POST, Some(json!({"type": "browser"}).to_string()))
    }
}

/// The browser's console messages since the last call, as `LEVEL message`.
pub async fn console(client: &Client) -> Vec<String> {
    let entries = client.issue_cmd(BrowserLog).await.expect("chromedriver gives the browser log");
    entries
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| format!("{} {}", e["level"].as_str().unwrap_or(""), e["message"].as_str().unwrap_or("")))
                .collect()
        })
        .unwrap_or_default()
}
