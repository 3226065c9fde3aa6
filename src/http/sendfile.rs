//! The connection's byte stream: progress reported to the connection's timers, and response
//! bodies that lie in a memory file sent with `sendfile(2)` instead of copied through `write(2)`.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

use super::server::Activity;
use crate::memfile::{self, MemFile};

/// A TCP stream that reports progress to its connection's [`Activity`].
pub(super) struct Tracked {
    stream: TcpStream,
    activity: Arc<Activity>,
    /// The memory file of the body being sent, if it has one: those bytes go out by `sendfile`.
    outgoing: Arc<Mutex<Option<Arc<MemFile>>>>,
}

impl Tracked {
    pub(super) fn new(
        stream: TcpStream,
        activity: Arc<Activity>,
        outgoing: Arc<Mutex<Option<Arc<MemFile>>>>,
    ) -> Tracked {
        Tracked { stream, activity, outgoing }
    }

    /// Sends from the memory file the part of `bufs` that is its bytes, or writes the slices
    /// before that part. Only bytes that lie inside the file's own mapping are sent from it, so
    /// what goes out is always exactly what hyper asked to write.
    fn poll_send(&mut self, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let file = self.outgoing.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone();
        if let Some(file) = file {
            let from_file = bufs.iter().position(|b| !b.is_empty() && file.offset_of(b).is_some());
            match from_file {
                Some(i) if bufs[..i].iter().all(|b| b.is_empty()) => {
                    let (slice, offset) = (&bufs[i], file.offset_of(&bufs[i]).unwrap_or_default());
                    return self.poll_sendfile(cx, &file, offset, slice.len());
                }
                // The head before the file's bytes: held back (`MSG_MORE`) so that it leaves in
                // the same segments as the start of the body, not in a small packet of its own.
                Some(i) => return self.poll_send_more(cx, &bufs[..i]),
                None => {}
            }
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn poll_send_more(&self, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.stream.poll_write_ready(cx))?;
            let socket = self.stream.as_fd();
            match self.stream.try_io(Interest::WRITABLE, || send_with_more_to_come(socket, bufs)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
    }

    fn poll_sendfile(&self, cx: &mut Context<'_>, file: &MemFile, offset: u64, len: usize) -> Poll<io::Result<usize>> {
        loop {
            std::task::ready!(self.stream.poll_write_ready(cx))?;
            let socket = self.stream.as_fd();
            match self.stream.try_io(Interest::WRITABLE, || memfile::send(socket, file, offset, len)) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
    }
}

/// Writes `bufs` to `socket` with `MSG_MORE`: the kernel waits for what follows (the body, sent
/// by `sendfile`) before sending a segment that is not full.
fn send_with_more_to_come(socket: BorrowedFd<'_>, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: a zeroed msghdr is valid; `IoSlice` has `iovec`'s layout on Unix, and the slices
    // outlive the call.
    let sent = unsafe {
        let mut message: libc::msghdr = std::mem::zeroed();
        message.msg_iov = bufs.as_ptr().cast_mut().cast::<libc::iovec>();
        message.msg_iovlen = bufs.len().min(1024) as _;
        libc::sendmsg(socket.as_raw_fd(), &message, libc::MSG_MORE | libc::MSG_NOSIGNAL)
    };
    if sent < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(sent as usize)
    }
}

impl AsyncRead for Tracked {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.read_some();
        }
        result
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let result = self.poll_send(cx, &[io::IoSlice::new(buf)]);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote_some();
        }
        result
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = self.poll_send(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.wrote_some();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
