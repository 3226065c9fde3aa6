//! Keeps the output folder in step with the served snapshots on a thread of its own, so the
//! update loop never waits on the disk: a batch that rewrites hundreds of feed files no longer
//! delays the next batch's feeds. Work that piles up is merged: only the newest snapshot is
//! written, for every path changed since the last write.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use tracing::{debug, error};

use crate::snapshot::{self, Snapshot};

/// How often a folder that could not be written is tried again.
const RETRY: Duration = Duration::from_secs(1);

enum Job {
    /// These paths of this snapshot changed.
    Changed(Arc<Snapshot>, Vec<String>),
    /// The folder must hold exactly this snapshot (after a reload, or a failed write).
    Whole(Arc<Snapshot>),
}

/// The handle the update loop holds; dropping it (or [`OutputWriter::finish`]) lets the thread
/// write what is pending and end.
pub struct OutputWriter {
    jobs: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl OutputWriter {
    /// Starts the writer for `dir`. `behind` says the folder missed `snapshot` already (the first
    /// write failed): it is then retried until it works.
    pub fn start(dir: PathBuf, snapshot: Arc<Snapshot>, behind: bool) -> std::io::Result<OutputWriter> {
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("postfeed-output".into())
            .spawn(move || run(&dir, queue, snapshot, behind))?;
        Ok(OutputWriter { jobs: Some(jobs), thread: Some(thread) })
    }

    /// Writes `changed` paths of `snapshot`, or the whole folder when `changed` is `None`.
    pub fn write(&self, snapshot: Arc<Snapshot>, changed: Option<&[String]>) {
        let job = match changed {
            Some(paths) => Job::Changed(snapshot, paths.to_vec()),
            None => Job::Whole(snapshot),
        };
        if let Some(jobs) = &self.jobs {
            // Fails only if the thread is gone, which it never is while the handle lives.
            let _ = jobs.send(job);
        }
    }

    /// Waits until everything sent so far is written (or has failed and been logged).
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for OutputWriter {
    fn drop(&mut self) {
        self.stop();
    }
}

fn run(dir: &std::path::Path, queue: Receiver<Job>, mut latest: Arc<Snapshot>, mut behind: bool) {
    // Paths to write from `latest`; `None` means the whole folder.
    let mut pending: Option<BTreeSet<String>> = if behind { None } else { Some(BTreeSet::new()) };
    let mut open = true;
    while open {
        let first =
            if behind { queue.recv_timeout(RETRY) } else { queue.recv().map_err(|_| RecvTimeoutError::Disconnected) };
        match first {
            Ok(job) => merge(job, &mut latest, &mut pending),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => open = false,
        }
        // Everything else already queued: one write for all of it, of the newest snapshot.
        while let Ok(job) = queue.try_recv() {
            merge(job, &mut latest, &mut pending);
        }
        if pending.as_ref().is_some_and(BTreeSet::is_empty) {
            continue;
        }
        let result = match &pending {
            Some(paths) => {
                let paths: Vec<String> = paths.iter().cloned().collect();
                snapshot::write_changed(dir, &latest, &paths)
            }
            None => snapshot::write_folder(dir, &latest),
        };
        match result {
            Ok(stats) => {
                if behind {
                    debug!("output folder {} in step: {stats:?}", dir.display());
                }
                behind = false;
                pending = Some(BTreeSet::new());
            }
            Err(e) => {
                if !behind {
                    error!("{e:#}; still serving from memory, will retry");
                } else {
                    debug!("output folder still not writable: {e:#}");
                }
                behind = true;
                pending = None;
                if !open {
                    // Shutting down: one last try was made; the next start rewrites the folder.
                    break;
                }
            }
        }
    }
}

fn merge(job: Job, latest: &mut Arc<Snapshot>, pending: &mut Option<BTreeSet<String>>) {
    match job {
        Job::Changed(snapshot, paths) => {
            *latest = snapshot;
            if let Some(set) = pending {
                set.extend(paths);
            }
        }
        Job::Whole(snapshot) => {
            *latest = snapshot;
            *pending = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::snapshot::Rendered;

    fn snapshot_with(path: &str, text: &str) -> Arc<Snapshot> {
        let mut snapshot = Snapshot::default();
        let updated = chrono::DateTime::UNIX_EPOCH.fixed_offset();
        snapshot.files.insert(path.into(), Arc::new(Rendered::new(text.as_bytes().to_vec(), updated, "text/xml")));
        Arc::new(snapshot)
    }

    #[test]
    fn a_blocked_folder_is_retried_and_gets_the_newest_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        // A file where the `feed` folder must go: every write under it fails.
        std::fs::write(out.join("feed"), "in the way").unwrap();
        let writer = OutputWriter::start(out.clone(), Arc::new(Snapshot::default()), false).unwrap();
        writer.write(snapshot_with("feed/x.xml", "one"), Some(&["feed/x.xml".to_string()]));
        std::thread::sleep(Duration::from_millis(200));
        writer.write(snapshot_with("feed/x.xml", "two"), Some(&["feed/x.xml".to_string()]));
        std::fs::remove_file(out.join("feed")).unwrap();
        let started = Instant::now();
        while std::fs::read_to_string(out.join("feed/x.xml")).ok().as_deref() != Some("two") {
            assert!(started.elapsed() < Duration::from_secs(10), "the folder was never written");
            std::thread::sleep(Duration::from_millis(20));
        }
        writer.finish();
    }

    #[test]
    fn finish_writes_what_is_pending() {
        let dir = tempfile::tempdir().unwrap();
        let writer = OutputWriter::start(dir.path().to_path_buf(), Arc::new(Snapshot::default()), false).unwrap();
        for i in 0..50 {
            writer.write(snapshot_with("feed.xml", &format!("v{i}")), Some(&["feed.xml".to_string()]));
        }
        writer.finish();
        assert_eq!(std::fs::read_to_string(dir.path().join("feed.xml")).unwrap(), "v49");
    }
}
