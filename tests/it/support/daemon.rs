//! The tests' one harness for `postfeed serve`: the real binary started on a port the kernel
//! picks (read back from its start line), optionally through `sh` (limits, systemd's
//! environment), its log collected, and SIGKILLed and reaped when dropped, so a failing test
//! leaves no daemon behind. Every wait is bounded and polls; nothing asserts how fast it is.

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use feed_rs::model::Feed;

use super::http::{self, Response};

/// How long a change may take to show up before a test gives up.
pub const CHANGE_WAIT: Duration = Duration::from_secs(5);
/// How long the daemon may take to start listening.
const START_WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(20);

/// How to start the daemon; [`Daemon::launch`] makes one.
pub struct Launch {
    config: PathBuf,
    /// `--listen` (`127.0.0.1:0` unless told otherwise); `None`: the config's `server.listen`.
    listen: Option<String>,
    /// Shell commands run before the daemon is `exec`ed in the same process (same pid).
    shell: Vec<String>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Stdio>,
}

impl Launch {
    /// Runs under `ulimit -n open_files` (soft and hard).
    pub fn open_files(mut self, open_files: u32) -> Launch {
        self.shell.push(format!("ulimit -n {open_files}"));
        self
    }

    /// Runs `command` in the shell that then becomes the daemon (`$$` is the daemon's pid).
    pub fn shell(mut self, command: &str) -> Launch {
        self.shell.push(command.to_string());
        self
    }

    pub fn env(mut self, name: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Launch {
        self.env.push((name.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Listens where the config says instead of on a free port.
    pub fn listen_from_config(mut self) -> Launch {
        self.listen = None;
        self
    }

    pub fn stdin(mut self, stdin: Stdio) -> Launch {
        self.stdin = Some(stdin);
        self
    }

    /// Starts the daemon without waiting for it.
    pub fn spawn(self) -> Daemon {
        const BIN: &str = env!("CARGO_BIN_EXE_postfeed");
        let mut command = if self.shell.is_empty() {
            Command::new(BIN)
        } else {
            let mut sh = Command::new("sh");
            let script = format!("set -e; {}; exec \"$0\" \"$@\"", self.shell.join("; "));
            sh.arg("-c").arg(script).arg(BIN);
            sh
        };
        command.arg("serve").arg("--config").arg(&self.config);
        if let Some(listen) = &self.listen {
            command.args(["--listen", listen]);
        }
        // What the user's environment or a service manager might set, unless a test sets it.
        for name in ["RUST_LOG", "JOURNAL_STREAM", "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
            command.env_remove(name);
        }
        for name in ["WATCHDOG_USEC", "WATCHDOG_PID"] {
            command.env_remove(name);
        }
        command.env("NO_COLOR", "1");
        for (name, value) in &self.env {
            command.env(name, value);
        }
        let mut child = command
            .stdin(self.stdin.unwrap_or_else(Stdio::null))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("postfeed serve starts");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr piped");
        let sink = Arc::clone(&log);
        // Drains stderr so that the daemon never blocks on a full pipe; ends at EOF.
        thread::spawn(move || {
            let mut reader = BufReader::new(stderr);
            let mut line = Vec::new();
            while reader.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
                let text = strip_ansi(&String::from_utf8_lossy(&line));
                sink.lock().unwrap_or_else(|e| e.into_inner()).push_str(&text);
                line.clear();
            }
        });
        Daemon { child, log, addr: None }
    }

    /// Starts the daemon and waits until it listens and answers `/healthz`.
    #[track_caller]
    pub fn start(self) -> Daemon {
        let mut daemon = self.spawn();
        daemon.wait_ready(START_WAIT);
        daemon
    }
}

/// A running `postfeed serve`.
pub struct Daemon {
    child: Child,
    log: Arc<Mutex<String>>,
    addr: Option<SocketAddr>,
}

impl Daemon {
    /// How to start the daemon with `config`, for what [`Daemon::start`] does not cover.
    pub fn launch(config: &Path) -> Launch {
        Launch {
            config: config.to_path_buf(),
            listen: Some("127.0.0.1:0".into()),
            shell: Vec::new(),
            env: Vec::new(),
            stdin: None,
        }
    }

    /// Starts the daemon on a free port and waits until it listens and answers `/healthz`.
    #[track_caller]
    pub fn start(config: &Path) -> Daemon {
        Daemon::launch(config).start()
    }

    /// Starts the daemon without waiting for it to listen.
    pub fn spawn(config: &Path) -> Daemon {
        Daemon::launch(config).spawn()
    }

    /// Waits for the `listening on http://ADDR:` log line and a 200 from `/healthz` at that
    /// address: only the daemon's own line proves that this process answers there. Panics after
    /// `within` or if the daemon exits.
    #[track_caller]
    pub fn wait_ready(&mut self, within: Duration) -> SocketAddr {
        let deadline = Instant::now() + within;
        loop {
            if let Some(addr) = listening_addr(&self.log()) {
                if http::get(addr, "/healthz").is_ok_and(|r| r.status == 200) {
                    self.addr = Some(addr);
                    return addr;
                }
            }
            if let Some(status) = self.exited() {
                panic!("postfeed serve exited with {status} before listening\n--- log ---\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "postfeed serve not listening after {within:?}\n--- log ---\n{}",
                self.log()
            );
            thread::sleep(POLL);
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr.expect("the daemon is listening")
    }

    pub fn port(&self) -> u16 {
        self.addr().port()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the daemon logged so far, ANSI colours removed.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The exit status, if the daemon has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    pub fn is_running(&mut self) -> bool {
        self.exited().is_none()
    }

    /// Asserts that the process runs and answers `/healthz` with 200.
    #[track_caller]
    pub fn assert_alive(&mut self) {
        assert!(self.is_running(), "the daemon died\n{}", self.log());
        let r = http::get(self.addr(), "/healthz").unwrap_or_else(|e| panic!("/healthz failed: {e}\n{}", self.log()));
        assert_eq!(r.status, 200, "/healthz\n{}", self.log());
    }

    /// Sends a signal by name (`TERM`, `HUP`, `INT`) with kill(1).
    #[track_caller]
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").args(["-s", name, &self.pid().to_string()]).status().expect("kill(1) runs");
        assert!(status.success(), "kill -s {name} {} failed: {status}", self.pid());
    }

    /// Waits (bounded) for the daemon to exit.
    #[track_caller]
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                return status;
            }
            assert!(
                started.elapsed() < timeout,
                "postfeed serve did not exit within {timeout:?}\n--- log ---\n{}",
                self.log()
            );
            thread::sleep(POLL);
        }
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until nothing has been logged for `quiet` (at most `within`).
    pub fn wait_quiet(&self, quiet: Duration, within: Duration) {
        let deadline = Instant::now() + within;
        let mut seen = self.log().len();
        let mut since = Instant::now();
        while Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
            let now = self.log().len();
            if now != seen {
                seen = now;
                since = Instant::now();
            } else if since.elapsed() >= quiet {
                return;
            }
        }
    }

    #[track_caller]
    pub fn get(&self, target: &str) -> Response {
        self.request("GET", target, &[])
    }

    /// One request; panics with the log if it gets no complete response.
    #[track_caller]
    pub fn request(&self, method: &str, target: &str, headers: &[(&str, &str)]) -> Response {
        http::request(self.addr(), method, target, headers)
            .unwrap_or_else(|e| panic!("{method} {target}: {e}\n--- log ---\n{}", self.log()))
    }

    /// The feed at `path` parsed by feed-rs, or `None` on 404.
    #[track_caller]
    pub fn feed(&self, path: &str) -> Option<Feed> {
        let response = self.get(path);
        match response.status {
            404 => None,
            200 => Some(
                super::parse_feed(&response.body)
                    .unwrap_or_else(|e| panic!("feed-rs cannot parse {path}: {e}\n{}", response.text()))
                    .feed,
            ),
            other => panic!("GET {path}: unexpected status {other}\n{}", response.text()),
        }
    }

    /// The entry titles of the feed at `path` (Atom or RSS), or `None` on 404.
    #[track_caller]
    pub fn titles(&self, path: &str) -> Option<Vec<String>> {
        self.feed(path).map(|f| f.entries.iter().map(super::title).collect())
    }

    /// Polls until `check` gives a value, for at most `timeout`; panics naming `what`.
    #[track_caller]
    pub fn wait_for<T>(&self, what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(value) = check() {
                return value;
            }
            assert!(started.elapsed() < timeout, "waited {timeout:?} for: {what}\n--- log ---\n{}", self.log());
            thread::sleep(POLL);
        }
    }

    /// Waits until the feed at `stem` (`.xml` and `.rss`) satisfies `check` on its titles
    /// (`None` meaning 404).
    #[track_caller]
    pub fn wait_titles(&self, stem: &str, what: &str, check: impl Fn(Option<&[String]>) -> bool) {
        self.wait_for(&format!("{stem}.xml/.rss: {what}"), CHANGE_WAIT, || {
            let atom = self.titles(&format!("{stem}.xml"));
            let rss = self.titles(&format!("{stem}.rss"));
            (check(atom.as_deref()) && check(rss.as_deref())).then_some(())
        })
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ params final-byte
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn listening_addr(log: &str) -> Option<SocketAddr> {
    let rest = log.split("listening on http://").nth(1)?;
    rest.split(": ").next()?.parse().ok()
}
