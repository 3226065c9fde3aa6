//! Background threads of the daemon (the output writer, the post index writer) step aside for
//! the work a reader waits for.

/// Lowers the calling thread's priority (nice 10), so that rendering the next update preempts it.
/// Best effort: a system that refuses leaves it as it is.
pub(crate) fn lower_priority() {
    // SAFETY: setpriority on this thread's own id changes nothing but its scheduling.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10);
    }
}
