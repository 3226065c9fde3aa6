//! Feed bytes in sealed memory files (`memfd`), so the HTTP side can pass them to the socket with
//! `sendfile(2)` straight from the page cache, as nginx sends files, instead of copying them
//! through `write(2)`. Copying was nearly half of the daemon's CPU time under `wrk` (perf).

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;

/// Immutable bytes in a sealed memory file, mapped read-only.
pub(crate) struct MemFile {
    fd: OwnedFd,
    map: NonNull<u8>,
    len: usize,
}

impl std::fmt::Debug for MemFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemFile").field("fd", &self.fd).field("len", &self.len).finish()
    }
}

// SAFETY: the mapping is read-only and the file is sealed against writes, growing and
// shrinking, so the memory never changes while it is mapped; it is unmapped only on drop.
unsafe impl Send for MemFile {}
unsafe impl Sync for MemFile {}

impl MemFile {
    /// Copies `bytes` into a new sealed memory file. Fails for empty input, or when the system
    /// refuses (no `memfd`, out of file descriptors): callers keep the bytes on the heap then.
    pub(crate) fn new(bytes: &[u8]) -> io::Result<Arc<MemFile>> {
        if bytes.is_empty() {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty"));
        }
        // Counted before the file exists, so racing threads cannot overshoot the budget.
        let live = LIVE.fetch_add(1, Ordering::Relaxed);
        let budget = BUDGET.load(Ordering::Relaxed);
        let made =
            if live < budget { MemFile::create(bytes) } else { Err(io::Error::other("memory file budget spent")) };
        if made.is_err() {
            LIVE.fetch_sub(1, Ordering::Relaxed);
        }
        made
    }

    fn create(bytes: &[u8]) -> io::Result<Arc<MemFile>> {
        // SAFETY: a valid NUL-terminated name and flags; the result is checked.
        let raw = unsafe { libc::memfd_create(c"postfeed-feed".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut file = File::from(fd);
        file.write_all(bytes)?;
        let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
        // SAFETY: plain fcntl on a descriptor we own.
        if unsafe { libc::fcntl(file.as_raw_fd(), libc::F_ADD_SEALS, seals) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: maps `len` bytes of a file that holds exactly `len` bytes, read-only and shared;
        // the result is checked, and the mapping is released in `Drop`.
        let map = unsafe {
            libc::mmap(std::ptr::null_mut(), bytes.len(), libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0)
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let map = NonNull::new(map.cast::<u8>()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Arc::new(MemFile { fd: file.into(), map, len: bytes.len() }))
    }

    /// The file's bytes as `Bytes`, without a copy; they keep the file alive.
    pub(crate) fn bytes(self: &Arc<Self>) -> Bytes {
        Bytes::from_owner(Mapped(Arc::clone(self)))
    }

    fn as_slice(&self) -> &[u8] {
        // SAFETY: `map` points at `len` mapped, immutable bytes for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.map.as_ptr(), self.len) }
    }

    /// Where `slice` starts in the file, if it lies wholly inside this file's mapping.
    pub(crate) fn offset_of(&self, slice: &[u8]) -> Option<u64> {
        let start = self.map.as_ptr() as usize;
        let at = slice.as_ptr() as usize;
        (at >= start && at + slice.len() <= start + self.len).then(|| (at - start) as u64)
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl Drop for MemFile {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
        // SAFETY: unmaps exactly the mapping made in `new`; no slice of it outlives `self`,
        // since every `Bytes` made from it holds an `Arc<MemFile>`.
        unsafe {
            libc::munmap(self.map.as_ptr().cast(), self.len);
        }
    }
}

struct Mapped(Arc<MemFile>);

impl AsRef<[u8]> for Mapped {
    fn as_ref(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// Bytes sent by [`send`] since start, for tests and debug logs.
pub(crate) static BYTES_SENT: AtomicU64 = AtomicU64::new(0);

/// Sends `len` bytes of `file` from `offset` to the socket `socket`, without copying them
/// through user space. Returns the number of bytes sent, or `WouldBlock`.
pub(crate) fn send(socket: BorrowedFd<'_>, file: &MemFile, offset: u64, len: usize) -> io::Result<usize> {
    let mut offset = libc::off_t::try_from(offset).map_err(|_| io::Error::other("offset too large"))?;
    // SAFETY: valid descriptors; `offset` is a local the kernel updates.
    let sent = unsafe { libc::sendfile(socket.as_raw_fd(), file.fd().as_raw_fd(), &mut offset, len) };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        BYTES_SENT.fetch_add(sent as u64, Ordering::Relaxed);
        Ok(sent as usize)
    }
}

/// Memory files alive now, and how many may be: each holds a file descriptor.
static LIVE: AtomicUsize = AtomicUsize::new(0);
static BUDGET: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Raises the soft limit on open files to the hard limit (each served feed is one memory file,
/// and the usual soft limit of 1,024 is below the feed count of a big site), then keeps
/// `reserve` descriptors out of the memory files' reach, for connections and the watcher.
/// Feeds past the budget stay on the heap and are copied to sockets instead.
pub(crate) fn budget_open_files(reserve: usize) -> usize {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: get/setrlimit with a valid pointer to a local.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    let budget = usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX).saturating_sub(reserve);
    BUDGET.store(budget, Ordering::Relaxed);
    budget
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_the_bytes_and_knows_its_slices() {
        let file = MemFile::new(b"<feed>hello</feed>").unwrap();
        let bytes = file.bytes();
        assert_eq!(&bytes[..], b"<feed>hello</feed>");
        assert_eq!(file.offset_of(&bytes[6..11]), Some(6));
        assert_eq!(file.offset_of(b"hello"), None);
        assert!(MemFile::new(b"").is_err());
    }

    #[test]
    fn the_file_is_sealed_against_writes() {
        let file = MemFile::new(b"abc").unwrap();
        let mut handle = File::from(file.fd().try_clone_to_owned().unwrap());
        assert!(handle.write_all(b"x").is_err());
        assert_eq!(&file.bytes()[..], b"abc");
    }

    #[test]
    fn bytes_outlive_the_handle() {
        let bytes = MemFile::new(b"still here").unwrap().bytes();
        assert_eq!(&bytes[..], b"still here");
    }

    #[test]
    fn sends_through_a_socket() {
        use std::io::Read;
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let file = MemFile::new(b"0123456789").unwrap();
        assert_eq!(send(a.as_fd(), &file, 3, 4).unwrap(), 4);
        drop(a);
        let mut got = Vec::new();
        b.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"3456");
    }
}
