//! File-system watching: `notify` events become batches of paths that may have changed, after a
//! quiet window; the watcher never parses anything.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use notify::{Config as NotifyConfig, EventKind, PollWatcher, RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::Notify;
use tokio::time::Instant;

/// One coalesced batch of file-system activity.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Batch {
    /// These paths (files or folders) may have been created, changed, renamed or removed.
    Paths(Vec<PathBuf>),
    /// The events cannot be trusted (overflow, error, too many paths): read the whole tree again.
    Rescan(String),
}

/// More distinct paths than this in one batch is cheaper as a rescan.
const MAX_PATHS_PER_BATCH: usize = 100_000;
/// A burst that never pauses is still cut into batches this often, so updates keep flowing.
const MAX_BATCH_WAIT_FACTOR: u32 = 20;

#[derive(Default)]
struct Pending {
    paths: BTreeSet<PathBuf>,
    rescan: Option<String>,
    /// When the newest event arrived: the quiet window is counted from it.
    last_event: Option<std::time::Instant>,
}

/// A running watch on one source tree.
pub(crate) struct SourceWatcher {
    _watcher: Box<dyn notify::Watcher + Send>,
    pending: Arc<Mutex<Pending>>,
    wake: Arc<Notify>,
    quiet: Duration,
}

impl SourceWatcher {
    /// Watches `root` recursively. `relevant` filters paths (ignored names, the output folder);
    /// `noticed` is told of each relevant path as its event arrives, before the batch it joins
    /// is delivered; `poll` selects polling at that interval for file systems without inotify.
    pub(crate) fn start(
        root: &Path,
        quiet: Duration,
        poll: Option<Duration>,
        relevant: impl Fn(&Path) -> bool + Send + Sync + 'static,
        noticed: impl Fn(&Path) + Send + Sync + 'static,
    ) -> Result<SourceWatcher> {
        let pending = Arc::new(Mutex::new(Pending::default()));
        let wake = Arc::new(Notify::new());
        let (p, w) = (Arc::clone(&pending), Arc::clone(&wake));
        let handler = move |result: notify::Result<notify::Event>| {
            let mut pending = p.lock().unwrap_or_else(|e| e.into_inner());
            pending.last_event = Some(std::time::Instant::now());
            match result {
                Ok(event) if event.need_rescan() => {
                    pending.rescan = Some("the watcher's event queue overflowed".into())
                }
                Ok(event) => {
                    if matches!(event.kind, EventKind::Access(_)) {
                        return;
                    }
                    for path in event.paths {
                        if relevant(&path) {
                            noticed(&path);
                            pending.paths.insert(path);
                        }
                    }
                    if pending.paths.len() > MAX_PATHS_PER_BATCH {
                        pending.paths.clear();
                        pending.rescan = Some(format!("more than {MAX_PATHS_PER_BATCH} paths changed at once"));
                    }
                }
                Err(error) => pending.rescan = Some(describe(&error)),
            }
            w.notify_one();
        };
        let mut watcher: Box<dyn notify::Watcher + Send> = match poll {
            // Links to folders are never followed: they could reach outside the source root.
            Some(interval) => Box::new(PollWatcher::new(
                handler,
                NotifyConfig::default().with_poll_interval(interval).with_follow_symlinks(false),
            )?),
            None => Box::new(RecommendedWatcher::new(handler, NotifyConfig::default().with_follow_symlinks(false))?),
        };
        watcher
            .watch(root, RecursiveMode::Recursive)
            .map_err(|e| anyhow::anyhow!(describe(&e)))
            .with_context(|| format!("cannot watch {}", root.display()))?;
        Ok(SourceWatcher { _watcher: watcher, pending, wake, quiet })
    }

    /// Waits for activity, then for a quiet window with no new events (or a cap on the total
    /// wait), and returns everything seen as one batch.
    pub(crate) async fn next_batch(&self) -> Batch {
        loop {
            // Cancellation-safe: `select!` may drop this future mid-wait (after it consumed the
            // wake-up), so paths already pending are a reason to go on without a new wake-up.
            if !self.has_pending() {
                self.wake.notified().await;
            }
            let started = Instant::now();
            let cap = started + self.quiet * MAX_BATCH_WAIT_FACTOR;
            // Exactly one quiet window after the newest event, not one after each time we look.
            loop {
                let last = self.last_event().map_or(started, Instant::from_std);
                let due = (last + self.quiet).min(cap);
                if Instant::now() >= due {
                    break;
                }
                tokio::time::sleep_until(due).await;
            }
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let taken = std::mem::take(&mut *pending);
            drop(pending);
            if let Some(reason) = taken.rescan {
                return Batch::Rescan(reason);
            }
            if !taken.paths.is_empty() {
                return Batch::Paths(taken.paths.into_iter().collect());
            }
        }
    }

    fn has_pending(&self) -> bool {
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        !pending.paths.is_empty() || pending.rescan.is_some()
    }

    fn last_event(&self) -> Option<std::time::Instant> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner()).last_event
    }
}

/// Says what to do about the errors an administrator can fix.
fn describe(error: &notify::Error) -> String {
    match &error.kind {
        notify::ErrorKind::MaxFilesWatch => {
            "the inotify watch limit is reached: raise it with `sysctl fs.inotify.max_user_watches=524288` \
             (and fs.inotify.max_user_instances), or set server.poll = true"
                .to_string()
        }
        notify::ErrorKind::Io(io) if io.raw_os_error() == Some(28) => {
            "the inotify watch limit is reached (ENOSPC): raise `sysctl fs.inotify.max_user_watches`, or set server.poll = true".to_string()
        }
        _ => format!("file watcher error: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watch(root: &Path, quiet_ms: u64) -> SourceWatcher {
        SourceWatcher::start(root, Duration::from_millis(quiet_ms), None, |_| true, |_| {}).unwrap()
    }

    #[tokio::test]
    async fn a_burst_is_one_batch_delivered_a_quiet_window_after_its_last_event() {
        let dir = tempfile::tempdir().unwrap();
        let watcher = watch(dir.path(), 1000);
        let writer = {
            let dir = dir.path().to_path_buf();
            tokio::spawn(async move {
                // Five writes 50 ms apart: each well inside the 1 s window of the one before.
                let mut last = Instant::now();
                for i in 0..5 {
                    std::fs::write(dir.join(format!("f{i}")), "x").unwrap();
                    last = Instant::now();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                last
            })
        };
        let batch = tokio::time::timeout(Duration::from_secs(10), watcher.next_batch()).await.unwrap();
        let delivered = Instant::now();
        let last_write = writer.await.unwrap();
        let Batch::Paths(paths) = batch else { panic!("{batch:?}") };
        let names: BTreeSet<String> =
            paths.iter().filter_map(|p| Some(p.file_name()?.to_string_lossy().into_owned())).collect();
        assert_eq!(names, (0..5).map(|i| format!("f{i}")).collect::<BTreeSet<_>>());
        assert!(delivered >= last_write + Duration::from_millis(1000), "delivered before the window closed");
    }

    #[tokio::test]
    async fn a_batch_interrupted_by_cancellation_is_still_delivered() {
        let dir = tempfile::tempdir().unwrap();
        let watcher = watch(dir.path(), 200);
        std::fs::write(dir.path().join("a"), "x").unwrap();
        // Cancelled mid-window, as `select!` does when another branch wins.
        assert!(tokio::time::timeout(Duration::from_millis(50), watcher.next_batch()).await.is_err());
        let batch = tokio::time::timeout(Duration::from_secs(10), watcher.next_batch()).await.unwrap();
        assert!(matches!(&batch, Batch::Paths(p) if p.iter().any(|p| p.ends_with("a"))), "{batch:?}");
    }
}
