//! Free memory handed back to the system after an update. mimalloc (the binary's allocator) keeps
//! a thread's freed pages until that thread allocates again, and the threads that render sit idle
//! between updates, so without this a daemon holds what its last render freed.

/// Asks mimalloc to return the free pages of every rayon worker and of this thread now. With
/// another global allocator it only tidies mimalloc's own unused heaps: harmless, and cheap.
pub(crate) fn release_free_pages() {
    rayon::broadcast(|_| collect());
    collect();
}

fn collect() {
    // SAFETY: `mi_collect` takes no pointers; it only walks the calling thread's own heap.
    unsafe { libmimalloc_sys::mi_collect(true) }
}
