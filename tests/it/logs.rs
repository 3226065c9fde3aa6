//! Logs as an operator reads them: no colour codes in a file or pipe, colour on a terminal unless
//! `NO_COLOR`, one JSON object a line with `--log-format json`, the same words in `regen` and
//! `serve`, no update line when nothing changed, and a prompt exit on SIGTERM.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{self, base_posts, post, Daemon, Settings, Workspace, CHANGE_WAIT};

/// A site with one skipped file, so that every command has a warning to log.
fn site_with_a_warning() -> (Workspace, std::path::PathBuf) {
    let ws = Workspace::with_posts(&base_posts());
    ws.write("_posts/2021-03-09-broken.md", "---\ntitle: [unclosed\n---\nBody.\n");
    let (config, _) = ws.config("logs", &Settings::default());
    (ws, config)
}

/// Runs `serve` with its stderr going to `log` (a file), waits for its start line, sends
/// SIGTERM and waits for the exit; returns the log's bytes.
fn serve_to_file(config: &Path, log: &Path, env: &[(&str, &str)], extra: &[&str]) -> Vec<u8> {
    let file = fs::File::create(log).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_postfeed"));
    command.args(["serve", "--config"]).arg(config).args(["--listen", "127.0.0.1:0"]).args(extra);
    for name in ["RUST_LOG", "JOURNAL_STREAM", "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "NO_COLOR"] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let mut child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(file).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !fs::read_to_string(log).unwrap_or_default().contains("listening on") {
        assert!(Instant::now() < deadline, "no start line\n{}", fs::read_to_string(log).unwrap_or_default());
        assert!(child.try_wait().unwrap().is_none(), "serve exited\n{}", fs::read_to_string(log).unwrap());
        thread::sleep(Duration::from_millis(20));
    }
    Command::new("kill").args(["-s", "TERM", &child.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not exit after SIGTERM");
        thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success(), "{status}");
    fs::read(log).unwrap()
}

#[test]
fn logs_to_a_file_or_a_pipe_carry_no_colour_codes() {
    let (ws, config) = site_with_a_warning();
    // regen and check: stderr is a pipe here.
    for run in [support::regen(&config), support::check(&config)] {
        let both = format!("{}{}", run.stdout, run.stderr);
        assert!(both.contains("broken.md"), "{run}");
        assert!(!both.contains('\u{1b}'), "ESC on a pipe\n{run:?}");
    }
    // A tracing log line through a pipe (RUST_LOG=debug makes regen log one).
    let out = Command::new(env!("CARGO_BIN_EXE_postfeed"))
        .args(["regen", "--config"])
        .arg(&config)
        .env("RUST_LOG", "debug")
        .env_remove("NO_COLOR")
        .env_remove("JOURNAL_STREAM")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DEBUG"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "ESC on a pipe\n{stderr:?}");
    // serve: stderr is a file; NO_COLOR is not set, so only the file decides.
    let log = serve_to_file(&config, &ws.root().join("serve.log"), &[], &[]);
    let text = String::from_utf8_lossy(&log);
    assert!(text.contains("WARN") && text.contains("broken.md"), "{text}");
    assert!(!log.contains(&0x1b), "ESC in a log file\n{text:?}");
}

/// `script` runs the command on a pseudo-terminal: there colour is on, unless `NO_COLOR`.
#[test]
fn colour_on_a_terminal_unless_no_color() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: script(1) (util-linux) is not installed");
        return;
    }
    let (_ws, config) = site_with_a_warning();
    // regen's logs go through tracing; RUST_LOG=debug makes some.
    let debug_log = |no_color: Option<&str>| {
        let command = format!("{} regen --config {}", env!("CARGO_BIN_EXE_postfeed"), config.display());
        let mut script = Command::new("script");
        script.args(["-qec", &command, "/dev/null"]).env("RUST_LOG", "debug").env_remove("JOURNAL_STREAM");
        match no_color {
            Some(value) => script.env("NO_COLOR", value),
            None => script.env_remove("NO_COLOR"),
        };
        let out = script.stdin(Stdio::null()).output().unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = debug_log(None);
    assert!(coloured.contains("DEBUG"), "{coloured}");
    assert!(coloured.contains('\u{1b}'), "no colour on a terminal\n{coloured:?}");
    let empty = debug_log(Some(""));
    assert!(empty.contains('\u{1b}'), "an empty NO_COLOR counts as unset\n{empty:?}");
    let plain = debug_log(Some("1"));
    assert!(plain.contains("DEBUG"), "{plain}");
    assert!(!plain.contains('\u{1b}'), "NO_COLOR=1 on a terminal still coloured\n{plain:?}");
}

#[test]
fn json_logs_are_one_object_a_line() {
    let (ws, config) = site_with_a_warning();
    let log = serve_to_file(&config, &ws.root().join("json.log"), &[], &["--log-format", "json"]);
    let text = String::from_utf8(log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}")))
        .collect();
    let messages: Vec<(&str, &str)> =
        lines.iter().map(|l| (l["level"].as_str().unwrap(), l["message"].as_str().unwrap())).collect();
    assert!(lines.iter().all(|l| l["timestamp"].is_string()), "{text}");
    assert!(messages.iter().any(|(level, m)| *level == "WARN" && m.contains("broken.md")), "{messages:?}");
    assert!(
        messages.iter().any(|(level, m)| *level == "INFO" && m.starts_with("listening on http://")),
        "{messages:?}"
    );
    assert_eq!(messages.last().map(|m| m.1), Some("stopped"), "{messages:?}");
}

/// The example site through `regen` and `serve`: the same counts in the same words.
#[test]
fn regen_and_serve_say_the_same_things_in_the_same_words() {
    let dir = tempfile::tempdir().unwrap();
    let config = support::write_example_config(dir.path(), &dir.path().join("out"), None);
    let run = support::regen(&config);
    run.assert_code(0);
    // `postfeed: 27 posts read, 1 skipped; 42 feeds (84 files): 84 written, …`
    let summary = run.stdout.trim().strip_prefix("postfeed: ").and_then(|s| s.split("): ").next()).expect(&run.stdout);
    let summary = format!("{summary})");
    assert!(summary.contains(" posts read, 1 skipped; ") && summary.ends_with(" files)"), "{summary}");
    let daemon = Daemon::start(&config);
    let log = daemon.log();
    let start = log.lines().find(|l| l.contains("listening on")).unwrap();
    assert!(start.contains(&format!(": {summary}, ready in ")), "regen: {summary}\nserve: {start}");
}

#[test]
fn an_idle_start_up_logs_no_update_and_a_change_logs_one() {
    let ws = Workspace::with_posts(&base_posts());
    // A skipped file too: it is read again by every look at the tree, and is still no change.
    ws.write("_posts/2021-03-09-broken.md", "---\ntitle: [unclosed\n---\nBody.\n");
    let (config, _) = ws.config("idle", &Settings::default());
    let text = fs::read_to_string(&config).unwrap() + "[server]\nquiet_ms = 50\n";
    fs::write(&config, text).unwrap();
    let mut daemon = Daemon::start(&config);
    // The catch-up after start-up has run once the watcher is up; give it time to log.
    daemon.wait_quiet(Duration::from_millis(500), Duration::from_secs(10));
    let log = daemon.log();
    assert!(!log.contains("update ("), "an update line with nothing changed\n{log}");

    ws.write("_posts/2021-03-10-new.md", post("title: New\ndate: 2021-03-10 09:00:00 +0800", "New."));
    let line = daemon.wait_for("an update line", CHANGE_WAIT, || {
        daemon.log().lines().find(|l| l.contains("update (files)")).map(str::to_string)
    });
    // The post may have been read as the batch gathered, or not, as the machine's load has it.
    assert!(line.contains(" paths, 1 post files read") && line.contains(", 0 removed; "), "{line}");
    assert!(line.contains(" feeds (") && line.contains(" files) changed in "), "{line}");

    // SIGTERM: "stopped" is the last line, and the process is gone with status 0.
    daemon.signal("TERM");
    let status = daemon.wait_exit(Duration::from_secs(30));
    assert!(status.success(), "{status}");
    let log = daemon.log();
    let last = log.lines().last().unwrap_or("");
    assert!(last.ends_with("stopped"), "{log}");
}

#[test]
fn a_fatal_error_is_a_json_line_too() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_postfeed"))
        .args(["--log-format", "json", "serve", "--config"])
        .arg(&missing)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<serde_json::Value> = stderr.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert_eq!(lines[0]["level"], "ERROR");
    assert!(lines[0]["message"].as_str().unwrap().contains("absent.toml"), "{stderr}");
}
