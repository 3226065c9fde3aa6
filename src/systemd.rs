//! systemd integration: sd_notify messages (ready, reloading, stopping, status, watchdog) and socket activation; every function is a no-op when not run by systemd.
//!
//! The notification functions never fail: a message that cannot be sent is logged and dropped,
//! since the daemon must keep serving whatever the service manager does. Protocol references:
//! sd_notify(3), sd_watchdog_enabled(3), sd_listen_fds(3).

use std::env;
use std::ffi::OsStr;
use std::io;
use std::net::TcpListener;
use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixDatagram;
use std::process;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use sd_notify::NotifyState;
use tracing::warn;

const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
const WATCHDOG_USEC: &str = "WATCHDOG_USEC";
const WATCHDOG_PID: &str = "WATCHDOG_PID";
const LISTEN_FDS: &str = "LISTEN_FDS";
const LISTEN_PID: &str = "LISTEN_PID";
const LISTEN_FDNAMES: &str = "LISTEN_FDNAMES";
/// The first socket systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;

/// Startup is done: the first build is written and the socket is bound (`READY=1`). Also ends
/// a reload started with [`reloading`].
pub(crate) fn ready() {
    notify(&[NotifyState::Ready]);
}

/// A reload has begun (`RELOADING=1`). Sends `MONOTONIC_USEC` along, which systemd ≥ 253
/// requires for `Type=notify-reload` and older versions ignore. Follow with [`ready`].
pub(crate) fn reloading() {
    match NotifyState::monotonic_usec_now() {
        Ok(now) => notify(&[NotifyState::Reloading, now]),
        Err(e) => {
            warn!("cannot read the monotonic clock for systemd: {e}");
            notify(&[NotifyState::Reloading]);
        }
    }
}

/// Shutdown has begun (`STOPPING=1`).
pub(crate) fn stopping() {
    notify(&[NotifyState::Stopping]);
}

/// A one-line status for `systemctl status` (`STATUS=...`); line breaks become spaces.
pub(crate) fn status(text: &str) {
    let line = one_line(text);
    notify(&[NotifyState::Status(&line)]);
}

/// How often to call [`watchdog_ping`]: half of `WatchdogSec=` as systemd passes it in
/// `WATCHDOG_USEC`, or `None` when the watchdog is off or meant for another process
/// (`WATCHDOG_PID` set to another pid).
pub(crate) fn watchdog_interval() -> Option<Duration> {
    let usec = env::var(WATCHDOG_USEC).ok();
    let pid = env::var(WATCHDOG_PID).ok();
    watchdog_interval_from(usec.as_deref(), pid.as_deref(), process::id())
}

/// Tells systemd the daemon is alive (`WATCHDOG=1`).
pub(crate) fn watchdog_ping() {
    notify(&[NotifyState::Watchdog]);
}

/// The listening socket systemd passed (socket activation: `LISTEN_FDS=1` and `LISTEN_PID` is
/// ours), made non-blocking and checked to be a listening TCP socket; `None` without one.
///
/// Takes the socket at most once: it clears `LISTEN_FDS`, `LISTEN_PID` and `LISTEN_FDNAMES` so
/// that a second call and child processes see none. Changing the environment races with other
/// threads reading it, so call this before starting the async runtime or other threads.
pub(crate) fn inherited_listener() -> Result<Option<TcpListener>> {
    let fds = env::var(LISTEN_FDS).ok();
    let pid = env::var(LISTEN_PID).ok();
    for name in [LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES] {
        env::remove_var(name);
    }
    let Some(fd) = listen_fd_from(fds.as_deref(), pid.as_deref(), process::id())? else {
        return Ok(None);
    };
    // SAFETY: systemd passed this descriptor to this process (LISTEN_PID is ours), nothing else
    // in the process refers to it, and the environment that announced it is gone, so it is
    // taken exactly once.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    listener_from_fd(fd).map(Some)
}

fn notify(states: &[NotifyState]) {
    let Some(socket) = env::var_os(NOTIFY_SOCKET) else {
        return;
    };
    if let Err(e) = send(&socket, states) {
        let what: Vec<String> = states.iter().map(ToString::to_string).collect();
        warn!("cannot notify systemd at {} ({}): {e}", socket.to_string_lossy(), what.join(", "));
    }
}

/// Sends one datagram with `states`, one per line, to the `NOTIFY_SOCKET` address `socket`: a
/// path, or `@name` for the abstract namespace.
fn send(socket: &OsStr, states: &[NotifyState]) -> io::Result<()> {
    let message: String = states.iter().map(|s| format!("{s}\n")).collect();
    let sender = UnixDatagram::unbound()?;
    let bytes = socket.as_bytes();
    let sent = match bytes.first() {
        Some(b'/') => sender.send_to(message.as_bytes(), socket)?,
        #[cfg(any(target_os = "linux", target_os = "android"))]
        Some(b'@') => {
            use std::os::linux::net::SocketAddrExt;
            let address = std::os::unix::net::SocketAddr::from_abstract_name(&bytes[1..])?;
            sender.send_to_addr(message.as_bytes(), &address)?
        }
        _ => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "NOTIFY_SOCKET is neither an absolute path nor an abstract socket (@name)",
            ))
        }
    };
    if sent != message.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "message cut short"));
    }
    Ok(())
}

fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

/// sd_watchdog_enabled(3) without the environment: half the period, as systemd advises.
fn watchdog_interval_from(usec: Option<&str>, pid: Option<&str>, own_pid: u32) -> Option<Duration> {
    let usec: u64 = usec?.trim().parse().ok().filter(|&u| u > 0 && u != u64::MAX)?;
    if let Some(pid) = pid {
        if pid.trim().parse::<u32>().ok()? != own_pid {
            return None;
        }
    }
    Some(Duration::from_micros(usec) / 2)
}

/// sd_listen_fds(3) without the environment: the one descriptor passed, if it is for us.
fn listen_fd_from(fds: Option<&str>, pid: Option<&str>, own_pid: u32) -> Result<Option<RawFd>> {
    let Some(pid) = pid else {
        return Ok(None);
    };
    let pid: u32 = pid.trim().parse().with_context(|| format!("LISTEN_PID={pid:?} is not a process id"))?;
    if pid != own_pid {
        return Ok(None);
    }
    let Some(fds) = fds else {
        return Ok(None);
    };
    let count: u32 = fds.trim().parse().with_context(|| format!("LISTEN_FDS={fds:?} is not a number"))?;
    match count {
        0 => Ok(None),
        1 => Ok(Some(LISTEN_FDS_START)),
        n => bail!("systemd passed {n} sockets but postfeed serves on exactly one: give postfeed.socket a single ListenStream="),
    }
}

/// Checks that `fd` is a listening TCP socket and turns it into a non-blocking, close-on-exec
/// listener.
fn listener_from_fd(fd: OwnedFd) -> Result<TcpListener> {
    let what = "the socket passed by systemd (fd 3)";
    #[cfg(target_os = "linux")]
    sockopt::check_listening_tcp(fd.as_fd()).with_context(|| format!("{what} is unusable"))?;
    // systemd passes it without close-on-exec; a duplicate gets the flag, and fd 3 is closed.
    let fd = fd.as_fd().try_clone_to_owned().with_context(|| format!("cannot duplicate {what}"))?;
    let listener = TcpListener::from(fd);
    listener
        .local_addr()
        .with_context(|| format!("{what} is not a TCP/IP socket: postfeed.socket needs ListenStream=[ADDRESS:]PORT"))?;
    listener.set_nonblocking(true).with_context(|| format!("cannot make {what} non-blocking"))?;
    Ok(listener)
}

/// getsockopt(2) checks std has no API for.
#[cfg(target_os = "linux")]
mod sockopt {
    use std::io;
    use std::os::fd::{AsRawFd, BorrowedFd};
    use std::os::raw::c_int;

    use anyhow::{bail, Result};
    use libc::{AF_INET, AF_INET6, AF_UNIX, SOCK_STREAM, SOL_SOCKET, SO_ACCEPTCONN, SO_DOMAIN, SO_TYPE};

    fn get(fd: BorrowedFd<'_>, name: c_int) -> io::Result<c_int> {
        let mut value: c_int = 0;
        let mut len = std::mem::size_of::<c_int>() as libc::socklen_t;
        // SAFETY: `fd` is open for the call, and value/len describe a writable c_int.
        let rc =
            unsafe { libc::getsockopt(fd.as_raw_fd(), SOL_SOCKET, name, (&mut value as *mut c_int).cast(), &mut len) };
        if rc == 0 {
            Ok(value)
        } else {
            Err(io::Error::last_os_error())
        }
    }

    pub(super) fn check_listening_tcp(fd: BorrowedFd<'_>) -> Result<()> {
        let domain = match get(fd, SO_DOMAIN) {
            Ok(domain) => domain,
            Err(e) => bail!("not a socket? {e}: postfeed.socket needs ListenStream=[ADDRESS:]PORT"),
        };
        match domain {
            AF_INET | AF_INET6 => {}
            AF_UNIX => bail!("a Unix socket, not TCP: postfeed.socket needs ListenStream=[ADDRESS:]PORT, not a path"),
            other => bail!("address family {other}, not TCP/IP: postfeed.socket needs ListenStream=[ADDRESS:]PORT"),
        }
        if get(fd, SO_TYPE)? != SOCK_STREAM {
            bail!("not a stream socket: postfeed.socket needs ListenStream=, not ListenDatagram=");
        }
        if get(fd, SO_ACCEPTCONN)? == 0 {
            bail!("not listening: postfeed.socket needs Accept=no (the default)");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpStream, UdpSocket};
    use std::os::unix::net::UnixListener;

    fn received(socket: &UnixDatagram) -> String {
        socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 4096];
        let n = socket.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn sends_one_datagram_with_a_line_per_state_to_a_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let receiver = UnixDatagram::bind(&path).unwrap();
        send(path.as_os_str(), &[NotifyState::Ready, NotifyState::Status("up")]).unwrap();
        assert_eq!(received(&receiver), "READY=1\nSTATUS=up\n");
        send(path.as_os_str(), &[NotifyState::Reloading, NotifyState::monotonic_usec_now().unwrap()]).unwrap();
        let message = received(&receiver);
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines[0], "RELOADING=1");
        let usec = lines[1].strip_prefix("MONOTONIC_USEC=").expect(&message);
        assert!(usec.parse::<u64>().unwrap() > 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn sends_to_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("postfeed-test-{}-{:?}", process::id(), std::time::Instant::now());
        let address = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let receiver = UnixDatagram::bind_addr(&address).unwrap();
        send(OsStr::new(&format!("@{name}")), &[NotifyState::Watchdog]).unwrap();
        assert_eq!(received(&receiver), "WATCHDOG=1\n");
    }

    #[test]
    fn refuses_other_notify_addresses_and_reports_missing_sockets() {
        assert!(send(OsStr::new("vsock:2:1234"), &[NotifyState::Ready]).is_err());
        assert!(send(OsStr::new(""), &[NotifyState::Ready]).is_err());
        let dir = tempfile::tempdir().unwrap();
        assert!(send(dir.path().join("absent").as_os_str(), &[NotifyState::Ready]).is_err());
    }

    #[test]
    fn status_is_one_line() {
        assert_eq!(one_line("a\nb\r\nc"), "a b  c");
    }

    #[test]
    fn watchdog_interval_is_half_the_period_and_honours_the_pid() {
        let half = Some(Duration::from_millis(15_000));
        assert_eq!(watchdog_interval_from(Some("30000000"), None, 42), half);
        assert_eq!(watchdog_interval_from(Some("30000000"), Some("42"), 42), half);
        assert_eq!(watchdog_interval_from(Some("30000000"), Some("41"), 42), None);
        assert_eq!(watchdog_interval_from(Some("30000000"), Some("x"), 42), None);
        assert_eq!(watchdog_interval_from(Some("1"), None, 42), Some(Duration::from_nanos(500)));
        assert_eq!(watchdog_interval_from(Some("0"), None, 42), None);
        assert_eq!(watchdog_interval_from(Some("-5"), None, 42), None);
        assert_eq!(watchdog_interval_from(Some("soon"), None, 42), None);
        assert_eq!(watchdog_interval_from(None, Some("42"), 42), None);
    }

    #[test]
    fn listen_fds_are_taken_only_when_meant_for_us() {
        assert_eq!(listen_fd_from(None, None, 42).unwrap(), None);
        assert_eq!(listen_fd_from(Some("1"), None, 42).unwrap(), None);
        assert_eq!(listen_fd_from(Some("1"), Some("41"), 42).unwrap(), None);
        assert_eq!(listen_fd_from(None, Some("42"), 42).unwrap(), None);
        assert_eq!(listen_fd_from(Some("0"), Some("42"), 42).unwrap(), None);
        assert_eq!(listen_fd_from(Some("1"), Some("42"), 42).unwrap(), Some(3));
        let two = listen_fd_from(Some("2"), Some("42"), 42).unwrap_err().to_string();
        assert!(two.contains("exactly one"), "{two}");
        assert!(listen_fd_from(Some("one"), Some("42"), 42).is_err());
        assert!(listen_fd_from(Some("1"), Some("me"), 42).is_err());
    }

    #[test]
    fn a_listening_tcp_socket_becomes_a_non_blocking_listener() {
        let original = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = original.local_addr().unwrap();
        let listener = listener_from_fd(OwnedFd::from(original)).unwrap();
        assert_eq!(listener.local_addr().unwrap(), address);
        assert_eq!(listener.accept().unwrap_err().kind(), io::ErrorKind::WouldBlock);
        let _client = TcpStream::connect(address).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        assert!(listener.accept().is_ok());
    }

    #[test]
    fn other_descriptors_are_refused() {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let error = format!("{:#}", listener_from_fd(OwnedFd::from(udp)).unwrap_err());
        assert!(error.contains("ListenDatagram") || error.contains("TCP"), "{error}");

        let dir = tempfile::tempdir().unwrap();
        let unix = UnixListener::bind(dir.path().join("s")).unwrap();
        let error = format!("{:#}", listener_from_fd(OwnedFd::from(unix)).unwrap_err());
        assert!(error.contains("Unix") || error.contains("TCP"), "{error}");

        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let connected = TcpStream::connect(server.local_addr().unwrap()).unwrap();
        let error = format!("{:#}", listener_from_fd(OwnedFd::from(connected)).unwrap_err());
        assert!(error.contains("Accept=no") || error.contains("listening"), "{error}");

        let file = std::fs::File::open("/dev/null").unwrap();
        assert!(listener_from_fd(OwnedFd::from(file)).is_err());
    }
}
