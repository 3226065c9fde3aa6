//! The systemd deployment: the unit files (`systemd-analyze verify` and `security`), the example
//! config and install.sh, and the daemon's side of the protocol (sd_notify readiness, watchdog,
//! reload and stop; socket activation) checked against a fake service manager: a datagram socket
//! in NOTIFY_SOCKET and a listening socket handed over as fd 3.

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{http, Daemon};

const BIN: &str = env!("CARGO_BIN_EXE_postfeed");
const UNITS: [&str; 4] = ["postfeed.service", "postfeed.socket", "postfeed-regen.service", "postfeed-regen.path"];
const SERVICES: [&str; 2] = ["postfeed.service", "postfeed-regen.service"];
/// The most `systemd-analyze security` may rate a service (0 = locked down, 10 = exposed).
const MAX_EXPOSURE: f64 = 2.0;
/// How long the daemon gets for anything (start, reload, stop) on a three-post site.
const PATIENCE: Duration = Duration::from_secs(30);

fn systemd_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd")
}

fn read_unit(name: &str) -> String {
    fs::read_to_string(systemd_dir().join(name)).unwrap_or_else(|e| panic!("systemd/{name}: {e}"))
}

/// `systemd-analyze`, or `None` after saying loudly why the test does nothing.
fn systemd_analyze(test: &str) -> Option<Command> {
    match Command::new("systemd-analyze").arg("--version").output() {
        Ok(out) if out.status.success() => Some(Command::new("systemd-analyze")),
        _ => {
            eprintln!("\n*** SKIPPED {test}: systemd-analyze is not installed (apt-get install systemd) ***\n");
            None
        }
    }
}

/// Copies of the units in a temporary folder, pointing at the built binary and at paths that
/// exist: a site with `_posts` and a config.
fn units_for_test() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("postfeed-units-").tempdir().unwrap();
    let site = dir.path().join("site");
    fs::create_dir_all(site.join("_posts")).unwrap();
    let config = dir.path().join("config.toml");
    fs::copy(systemd_dir().join("config.toml"), &config).unwrap();
    for unit in UNITS {
        let text = read_unit(unit)
            .replace("/usr/local/bin/postfeed", BIN)
            .replace("/etc/postfeed/config.toml", &config.to_string_lossy())
            .replace("/srv/site", &site.to_string_lossy());
        fs::write(dir.path().join(unit), text).unwrap();
    }
    dir
}

#[test]
fn units_pass_systemd_analyze_verify_without_a_word() {
    let Some(_) = systemd_analyze("units_pass_systemd_analyze_verify_without_a_word") else {
        return;
    };
    let dir = units_for_test();
    for unit in UNITS {
        let out = Command::new("systemd-analyze")
            .arg("verify")
            .arg(dir.path().join(unit))
            .current_dir(dir.path())
            .env("SYSTEMD_LOG_COLOR", "0")
            .output()
            .unwrap();
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && said.is_empty(), "systemd-analyze verify {unit}: {}\n{said}", out.status);
    }
}

/// The score in `→ Overall exposure level for postfeed.service: 0.9 SAFE 😀`.
fn exposure(report: &str) -> Option<f64> {
    let line = report.lines().find(|l| l.contains("Overall exposure level"))?;
    line.rsplit(": ").next()?.split_whitespace().next()?.parse().ok()
}

#[test]
fn services_score_at_most_2_in_systemd_analyze_security() {
    let Some(_) = systemd_analyze("services_score_at_most_2_in_systemd_analyze_security") else {
        return;
    };
    let dir = units_for_test();
    for unit in SERVICES {
        // --offline=yes reads the unit file instead of asking a running systemd (there may be
        // none, as in containers); the relative path makes it take the file given.
        let out = Command::new("systemd-analyze")
            .args(["security", "--offline=yes", "--no-pager"])
            .arg(format!("./{unit}"))
            .current_dir(dir.path())
            .output()
            .unwrap();
        let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        let score = exposure(&report).unwrap_or_else(|| panic!("no exposure level for {unit}:\n{report}"));
        eprintln!("{unit}: exposure {score}");
        assert!(score <= MAX_EXPOSURE, "{unit} scores {score} > {MAX_EXPOSURE}:\n{report}");
    }
}

/// The WebSub drop-in example (systemd/websub.conf) applied to the service: systemd reads it
/// without a word, it only adds addresses to IPAddressAllow= (the default unit keeps denying any
/// other), and the service still scores at most 2.0.
#[test]
fn websub_drop_in_only_adds_allowed_addresses() {
    let service = read_unit("postfeed.service");
    let default_allow: Vec<&str> = service.lines().filter_map(|l| l.strip_prefix("IPAddressAllow=")).collect();
    assert_eq!(default_allow, ["localhost"]);
    assert_eq!(unit_value("postfeed.service", "IPAddressDeny"), "any");
    let drop_in = fs::read_to_string(systemd_dir().join("websub.conf")).unwrap();
    let settings: Vec<&str> =
        drop_in.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#') && *l != "[Service]").collect();
    assert!(!settings.is_empty() && settings.iter().all(|l| l.starts_with("IPAddressAllow=")), "{settings:?}");
    let Some(_) = systemd_analyze("websub_drop_in_only_adds_allowed_addresses") else {
        return;
    };
    let dir = units_for_test();
    let drop_ins = dir.path().join("postfeed.service.d");
    fs::create_dir(&drop_ins).unwrap();
    fs::write(drop_ins.join("websub.conf"), &drop_in).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(dir.path().join("postfeed.service"))
        .current_dir(dir.path())
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && said.is_empty(), "systemd-analyze verify with websub.conf: {}\n{said}", out.status);
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager", "./postfeed.service"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let score = exposure(&report).unwrap_or_else(|| panic!("no exposure level:\n{report}"));
    assert!(score <= MAX_EXPOSURE, "postfeed.service with websub.conf scores {score}:\n{report}");
}

#[test]
fn exposure_is_read_from_the_report() {
    let report = "✗ UMask=   Files created by service are world-readable by default   0.1\n\n→ Overall exposure level for postfeed.service: 0.9 SAFE 😀\n";
    assert_eq!(exposure(report), Some(0.9));
    assert_eq!(exposure("→ Overall exposure level for x.service: 9.6 UNSAFE 😨"), Some(9.6));
    assert_eq!(exposure("nothing"), None);
}

/// The value of `key=` in a unit file (the last one, as systemd reads it).
fn unit_value(unit: &str, key: &str) -> String {
    let prefix = format!("{key}=");
    read_unit(unit)
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{unit} has no {key}="))
        .to_string()
}

#[test]
fn example_config_matches_the_units() {
    let text = fs::read_to_string(systemd_dir().join("config.toml")).unwrap();
    let config = postfeed::config::Config::parse(&text, Path::new("/")).expect("systemd/config.toml is valid");
    assert_eq!(config.source_dir, Path::new("/srv/site"));
    // The only writable place under ProtectSystem=strict is StateDirectory=postfeed.
    assert_eq!(unit_value("postfeed.service", "StateDirectory"), "postfeed");
    assert!(config.output_dir.starts_with("/var/lib/postfeed/"), "{}", config.output_dir.display());
    // Same address with and without postfeed.socket.
    let socket: SocketAddr = unit_value("postfeed.socket", "ListenStream").parse().unwrap();
    assert_eq!(config.server.listen, socket);
    assert_eq!(PathBuf::from(unit_value("postfeed-regen.path", "PathChanged")), config.source_dir.join("_posts"));
    for service in SERVICES {
        let exec = unit_value(service, "ExecStart");
        assert!(exec.starts_with("/usr/local/bin/postfeed "), "{service}: {exec}");
        assert!(exec.ends_with(" --config /etc/postfeed/config.toml"), "{service}: {exec}");
    }
    assert_eq!(unit_value("postfeed.service", "Type"), "notify");
    assert_eq!(unit_value("postfeed-regen.service", "Type"), "oneshot");
}

#[test]
fn install_sh_stages_binary_units_and_config_without_overwriting_it() {
    let destdir = tempfile::tempdir().unwrap();
    let install = |prefix: &str| {
        let out = Command::new("sh")
            .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("install.sh"))
            .args(["--bin", BIN, "--prefix", prefix])
            .env("DESTDIR", destdir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "install.sh: {}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    install("/opt/postfeed");
    let root = destdir.path();
    assert!(root.join("opt/postfeed/bin/postfeed").is_file());
    for unit in UNITS {
        let installed = fs::read_to_string(root.join("etc/systemd/system").join(unit)).unwrap();
        assert!(!installed.contains("/usr/local/bin/"), "{unit} still names /usr/local/bin");
    }
    let service = fs::read_to_string(root.join("etc/systemd/system/postfeed.service")).unwrap();
    assert!(service.contains("ExecStart=/opt/postfeed/bin/postfeed serve --config /etc/postfeed/config.toml"));
    let config = root.join("etc/postfeed/config.toml");
    assert_eq!(fs::read(&config).unwrap(), fs::read(systemd_dir().join("config.toml")).unwrap());

    fs::write(&config, "# mine\n").unwrap();
    let said = install("/usr/local");
    assert_eq!(fs::read_to_string(&config).unwrap(), "# mine\n");
    assert!(said.contains("kept the existing"), "{said}");
    let service = fs::read_to_string(root.join("etc/systemd/system/postfeed.service")).unwrap();
    assert!(service.contains("ExecStart=/usr/local/bin/postfeed serve"));
}

// ---------------------------------------------------------------------------------------------
// The daemon under a fake service manager

/// A site with three posts and a config serving it on `listen`.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new(listen: SocketAddr) -> Site {
        let dir = tempfile::Builder::new().prefix("postfeed-sd-").tempdir().unwrap();
        let posts = dir.path().join("site/_posts");
        fs::create_dir_all(&posts).unwrap();
        let post = |name: &str, title: &str, date: &str, category: &str, tags: &str| {
            let text = format!(
                "---\ntitle: {title}\ndate: {date}\ncategories: [{category}]\ntags: [{tags}]\n---\n\nBody of {title}.\n"
            );
            fs::write(posts.join(name), text).unwrap();
        };
        post("2021-12-24-a.md", "Christmas Eve", "2021-12-24 10:00:00 +0800", "news", "holiday, winter");
        post("2021-12-25-b.md", "Christmas Day", "2021-12-25 09:30:00 +0800", "news", "holiday");
        post("2021-12-26-c.md", "Boxing Day", "2021-12-26 08:00:00 +0800", "sport", "winter");
        let config = format!(
            "[site]\nurl = \"https://blog.example.org\"\ntitle = \"Test Blog\"\ntimezone = \"Asia/Shanghai\"\n\
             [source]\ndir = \"site\"\n[output]\ndir = \"out\"\n[server]\nlisten = \"{listen}\"\n"
        );
        fs::write(dir.path().join("config.toml"), config).unwrap();
        Site { dir }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }
}

/// The fake service manager's end of NOTIFY_SOCKET.
struct Manager {
    socket: UnixDatagram,
    path: PathBuf,
    /// Every datagram received so far, for failure messages.
    seen: Vec<String>,
}

impl Manager {
    fn new(dir: &Path) -> Manager {
        let path = dir.join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        Manager { socket, path, seen: Vec::new() }
    }

    /// Waits for a datagram with the line `line`; returns the whole datagram.
    #[track_caller]
    fn expect(&mut self, line: &str, daemon: &mut Daemon) -> String {
        let deadline = Instant::now() + PATIENCE;
        let mut buf = vec![0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!("no {line} within {PATIENCE:?}; got {:?}\n{}", self.seen, daemon.log());
            }
            self.socket.set_read_timeout(Some(left.min(Duration::from_millis(250)))).unwrap();
            match self.socket.recv(&mut buf) {
                Ok(n) => {
                    let message = String::from_utf8_lossy(&buf[..n]).into_owned();
                    self.seen.push(message.clone());
                    if message.lines().any(|l| l == line) {
                        return message;
                    }
                }
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    if let Some(status) = daemon.exited() {
                        panic!("postfeed exited ({status}) before {line}; got {:?}\n{}", self.seen, daemon.log());
                    }
                }
                Err(e) => panic!("notify socket: {e}"),
            }
        }
    }
}

/// `postfeed serve --config CONFIG` started the way systemd starts it, through `sh` so that
/// WATCHDOG_PID and LISTEN_PID can name the daemon's own pid (sh's `$$`, kept by exec). With
/// `listener`, the socket becomes fd 3 and LISTEN_FDS=1.
fn start(site: &Site, manager: &Manager, watchdog_usec: Option<u64>, listener: Option<TcpListener>) -> Daemon {
    let mut launch = Daemon::launch(&site.config())
        .listen_from_config()
        .env("NOTIFY_SOCKET", &manager.path)
        .env("RUST_LOG", "debug");
    if let Some(usec) = watchdog_usec {
        launch = launch.shell(&format!("export WATCHDOG_USEC={usec} WATCHDOG_PID=$$"));
    }
    if let Some(listener) = listener {
        launch = launch
            .shell("exec 3<&0 0</dev/null; export LISTEN_FDS=1 LISTEN_PID=$$")
            .stdin(Stdio::from(OwnedFd::from(listener)));
    }
    launch.spawn()
}

/// A port free a moment ago.
fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// GET `path`: the status code and body. Fails rather than waits on a refused connection, so that
/// it tells whether the socket is serving right now.
fn get(address: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    http::get(address, path).map(|r| (r.status, r.text()))
}

#[test]
fn serve_notifies_ready_watchdog_reloading_and_stopping() {
    let address = free_address();
    let site = Site::new(address);
    let mut manager = Manager::new(site.dir.path());
    let mut daemon = start(&site, &manager, Some(200_000), None);

    manager.expect("READY=1", &mut daemon);
    // Ready means serving: the socket answers at once, with no retry.
    let (code, _) =
        get(address, "/healthz").unwrap_or_else(|e| panic!("READY=1 before /healthz answers: {e}\n{}", daemon.log()));
    assert_eq!(code, 200, "{}", daemon.log());
    assert!(site.dir.path().join("out/feed.xml").is_file(), "READY=1 before the first build is written");

    // WatchdogSec=200ms: pings at least every 100 ms.
    let started = Instant::now();
    for _ in 0..3 {
        manager.expect("WATCHDOG=1", &mut daemon);
    }
    assert!(started.elapsed() < Duration::from_secs(5), "watchdog pings too slow: {:?}", started.elapsed());

    daemon.signal("HUP");
    let reloading = manager.expect("RELOADING=1", &mut daemon);
    let usec = reloading.lines().find_map(|l| l.strip_prefix("MONOTONIC_USEC="));
    assert!(usec.is_some_and(|u| u.parse::<u64>().is_ok()), "RELOADING=1 without MONOTONIC_USEC: {reloading:?}");
    manager.expect("READY=1", &mut daemon);
    assert_eq!(get(address, "/healthz").unwrap().0, 200, "{}", daemon.log());
    manager.expect("WATCHDOG=1", &mut daemon);

    daemon.signal("TERM");
    manager.expect("STOPPING=1", &mut daemon);
    let status = daemon.wait_exit(PATIENCE);
    assert!(status.success(), "exit after SIGTERM: {status}\n{}", daemon.log());
}

#[test]
fn serve_takes_its_socket_from_systemd() {
    // server.listen names a port this test holds: the daemon must not try to bind it.
    let occupied = TcpListener::bind("127.0.0.1:0").unwrap();
    let site = Site::new(occupied.local_addr().unwrap());
    let activated = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = activated.local_addr().unwrap();
    let mut manager = Manager::new(site.dir.path());

    // A client that connects before the daemon runs waits in the backlog, as under systemd.
    let early = std::thread::spawn(move || get(address, "/healthz"));
    let mut daemon = start(&site, &manager, None, Some(activated));

    manager.expect("READY=1", &mut daemon);
    let (code, body) = get(address, "/feed.xml").unwrap_or_else(|e| panic!("GET /feed.xml: {e}\n{}", daemon.log()));
    assert_eq!(code, 200, "{body}\n{}", daemon.log());
    assert!(body.contains("Boxing Day") && body.contains("Christmas Eve"), "{body}");
    let (code, _) = early.join().unwrap().unwrap_or_else(|e| panic!("early client: {e}\n{}", daemon.log()));
    assert_eq!(code, 200);

    daemon.signal("TERM");
    manager.expect("STOPPING=1", &mut daemon);
    let status = daemon.wait_exit(PATIENCE);
    assert!(status.success(), "exit after SIGTERM: {status}\n{}", daemon.log());
    drop(occupied);
}
