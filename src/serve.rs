//! The daemon: first build, then a loop that folds file changes, the passing of time (future
//! posts), reloads and shutdown into new snapshots, which the HTTP side picks up atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use arc_swap::ArcSwap;
use chrono::{DateTime, Utc};
use tokio::signal::unix::{signal, SignalKind};
use tracing::{debug, error, info, warn};

use crate::build::Build;
use crate::config::{Config, Sources};
use crate::feed::lifecycle::Lifecycle;
use crate::feed::FeedKey;
use crate::http::{self, HttpLimits, Served};
use crate::metrics::Metrics;
use crate::output::{OutputFolder, OutputWriter};
use crate::problem::{self, Reporter};
use crate::scan::{Settings, Stamp, Tree};
use crate::site::{Prefetch, Prefetched};
use crate::snapshot::{Snapshot, Storage};
use crate::systemd;
use crate::watch::{Batch, SourceWatcher};
use crate::websub::Publisher;

/// Runs `postfeed serve` until SIGTERM or SIGINT.
pub fn run(sources: Sources, listen: Option<SocketAddr>) -> Result<()> {
    let mut config = Config::load_from(&sources)?;
    // Taken before anything in `_data/` or `_includes/` is read, to be compared once watching
    // has begun: a change made during the first build is not missed.
    let settings = Tree::of(&config).settings_stamps();
    if let Some(listen) = listen {
        config.server.listen = listen;
    }
    // Before any thread exists: taking the socket clears LISTEN_* from the environment.
    let inherited = systemd::inherited_listener()?;
    // Room for every connection, the watcher and the files being written, with a margin.
    let budget = crate::memfile::budget_open_files(config.server.max_connections + 512);
    debug!("up to {budget} feed files in memory files");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("postfeed")
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(daemon(sources, config, settings, inherited));
    // Dropping the runtime waits for its blocking threads to finish and go idle; there is
    // nothing left for them to do, and the process is about to end.
    runtime.shutdown_background();
    result
}

/// Everything the update loop owns. The HTTP side only ever sees `current`.
struct State {
    /// The configuration, the site and the entry texts of the posts in feeds.
    build: Build,
    snapshot: Arc<Snapshot>,
    current: Arc<ArcSwap<Served>>,
    /// When the feeds were last rendered for the clock (future posts before it are in).
    rendered_at: DateTime<Utc>,
    /// Writes the output folder on its own thread; set once the first write was tried.
    output: Option<OutputWriter>,
    /// Counts for `/metrics`, kept whether or not it is served.
    metrics: Arc<Metrics>,
    /// Device and inode of the watched source root: a folder swapped in under the same name
    /// (a `mv` deploy) is a different folder that the watcher does not see.
    root_identity: Option<(u64, u64)>,
    /// Tells the WebSub hubs of changed feeds; `None` without `websub.hubs`.
    websub: Option<Publisher>,
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().filter(|m| m.is_dir()).map(|m| (m.dev(), m.ino()))
}

async fn daemon(
    sources: Sources,
    config: Config,
    settings: BTreeMap<PathBuf, Stamp>,
    inherited: Option<std::net::TcpListener>,
) -> Result<()> {
    // Handled from the start, so a SIGTERM or SIGHUP during the first build or right after
    // READY=1 is not fatal (SIGHUP's default action ends a process).
    let mut sigterm = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut sigint = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut sighup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
    let started = Instant::now();
    let (mut build, mut first, rendered_at) = tokio::task::block_in_place(|| first_build(config, None))?;
    Reporter::Serve.report(problem::post_problems(&build.site));
    Reporter::Serve.report(build.take_problems());
    // Feeds already on disk keep their Last-Modified; the rest is written once HTTP is up.
    let output_folder = OutputFolder::new(&build.config.output_dir).owning(build.lifecycle.owned_paths());
    let on_disk = tokio::task::block_in_place(|| output_folder.adopt(&mut first));
    let snapshot = Arc::new(first);
    let current = Arc::new(ArcSwap::from_pointee(Served::new(Arc::clone(&snapshot), &build.config)));
    let metrics = Arc::new(Metrics::new());
    let websub = Publisher::start(&build.config.websub.hubs);
    let mut state = State {
        build,
        snapshot,
        current: Arc::clone(&current),
        rendered_at,
        output: None,
        metrics: Arc::clone(&metrics),
        root_identity: None,
        websub,
    };
    state.after_update();

    let listener = match inherited {
        Some(std_listener) => {
            tokio::net::TcpListener::from_std(std_listener).context("cannot use the socket passed by systemd")?
        }
        None => bind(state.build.config.server.listen)
            .with_context(|| format!("cannot listen on {}", state.build.config.server.listen))?,
    };
    let address = listener.local_addr().context("cannot read the listening address")?;
    let (stop_http, http_stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = HttpLimits::from_config(&state.build.config.server);
    // Like the address, whether /metrics is served is read once: a reload does not change it.
    let served_metrics = state.build.config.server.metrics.then(|| Arc::clone(&metrics));
    let server = tokio::spawn(http::serve(listener, Arc::clone(&current), limits, served_metrics, async {
        let _ = http_stopped.await;
    }));
    debug!("serving from memory after {} ms", started.elapsed().as_millis());
    // Ready (the log line, READY=1) once the output folder is in step too, so whoever waits for
    // readiness finds the files written.
    let dir = state.build.config.output_dir.clone();
    let places = state.build.lifecycle.owned_paths();
    let behind = match tokio::task::block_in_place(|| output_folder.write_snapshot(&state.snapshot, &on_disk)) {
        Ok(_) => false,
        Err(e) => {
            error!("{e:#}; still serving from memory, will retry");
            true
        }
    };
    // What writing the folder read and freed goes back before the daemon settles.
    tokio::task::block_in_place(crate::allocator::release_free_pages);
    state.output = Some(
        OutputWriter::start(dir, places, Arc::clone(&state.snapshot), behind)
            .context("cannot start the output writer")?,
    );
    info!("listening on http://{address}: {}, ready in {} ms", state.summary(), started.elapsed().as_millis());
    systemd::status(&state.summary());
    systemd::ready();
    debug!("memory: {}; feeds in memory files: {} bytes", crate::logging::memory(), state.snapshot.memfile_bytes());
    // Watching starts once serving has (setting up inotify on a big tree takes a good part of a
    // second), then one stat of every post catches what changed since the first scan began: a
    // post written while the feeds were being built is folded in now, not missed. The same for
    // `_config.yml`, `_data/` and `_includes/`, against their stamps from before the build.
    let mut watcher = state.start_watcher();
    let root = state.build.site.tree.root.clone();
    state.update(&[root], "catch-up", Prefetched::default());
    let changed = crate::scan::changed_between(&settings, &state.build.site.tree.settings_stamps());
    if let Some(settings) = state.build.site.tree.settings_among(&changed) {
        info!("{} files of the site's settings changed during the first build", changed.len());
        state.settings_changed(settings, &changed, Prefetched::default(), &sources, &mut watcher);
    }

    let watchdog = systemd::watchdog_interval().unwrap_or(Duration::from_secs(3600));
    let mut watchdog_tick = tokio::time::interval(watchdog);
    // Checks that need no event: the source root coming back, the output folder writable again.
    let mut housekeeping = tokio::time::interval(Duration::from_secs(1));

    loop {
        let next_publication = state.build.next_due(Utc::now());
        let until_publication = next_publication
            .map(|d| (d - Utc::now()).to_std().unwrap_or(Duration::ZERO))
            .unwrap_or(Duration::from_secs(86_400));
        tokio::select! {
            (batch, early) = next_batch(&watcher) => {
                match batch {
                    Batch::Paths(paths) => match state.build.site.tree.settings_among(&paths) {
                        Some(settings) => state.settings_changed(settings, &paths, early, &sources, &mut watcher),
                        None => state.update(&paths, "files", early),
                    },
                    Batch::Rescan(reason) => {
                        // Events were lost: what was read early may have changed since, unseen.
                        warn!("full rescan: {reason}");
                        drop(early);
                        let root = state.build.site.tree.root.clone();
                        state.update(&[root], "rescan", Prefetched::default());
                    }
                }
            }
            _ = tokio::time::sleep(until_publication) => state.publish_due(),
            _ = watchdog_tick.tick() => systemd::watchdog_ping(),
            _ = housekeeping.tick() => {
                let swapped = watcher.is_some() && state.root_identity.is_some() && identity(&state.build.site.tree.root).is_some_and(|id| Some(id) != state.root_identity);
                if swapped || (watcher.is_none() && state.build.site.tree.root.is_dir()) {
                    info!("source folder {} is back or was replaced: rescanning", state.build.site.tree.root.display());
                    watcher = state.start_watcher();
                    let root = state.build.site.tree.root.clone();
                    state.update(&[root], "rescan", Prefetched::default());
                } else if watcher.is_some() && !state.build.site.tree.root.is_dir() {
                    warn!("source folder {} is gone: serving the last feeds until it comes back", state.build.site.tree.root.display());
                    watcher = None;
                }
            }
            _ = sighup.recv() => {
                systemd::reloading();
                if let Some(new_watcher) = state.reload(&sources) {
                    watcher = new_watcher;
                }
                systemd::ready();
            }
            _ = sigterm.recv() => break,
            _ = sigint.recv() => break,
        }
    }
    systemd::stopping();
    info!("stopping: finishing requests in flight");
    let _ = stop_http.send(());
    server.await.map_err(|join_error| anyhow::anyhow!("HTTP task failed: {join_error}"))?;
    if let Some(output) = state.output.take() {
        tokio::task::block_in_place(|| output.finish());
    }
    // The entries made since the start go to the state folder for the next one.
    tokio::task::block_in_place(|| state.build.keep_entries(false));
    // Freeing every post, feed text and memory file one by one took most of a second on a site
    // of 7,000 posts, between "stopped" and the exit; the process ends now and the kernel frees
    // them at once. The watcher's inotify thread ends with the process too.
    std::mem::forget(state);
    std::mem::forget(watcher);
    info!("stopped");
    Ok(())
}

/// Reads the whole tree and renders every feed into memory files; returns the time rendered for.
/// `lifecycle` is the running daemon's feed state on a reload, else it is read from the folder.
fn first_build(config: Config, lifecycle: Option<Lifecycle>) -> Result<(Build, Snapshot, DateTime<Utc>)> {
    let mut build = match lifecycle {
        Some(lifecycle) => Build::load_with(config, lifecycle)?,
        None => Build::load(config)?,
    };
    let now = Utc::now();
    let (snapshot, _) = build.render(now, &Snapshot::default(), None, Storage::MemFiles);
    // The `post_url` names are filed while the daemon starts serving, at low priority, so that
    // neither a template nor the first update waits for them.
    let links = Arc::clone(&build.site.post_links);
    std::thread::spawn(move || {
        crate::threads::lower_priority();
        links.settle();
    });
    Ok((build, snapshot, now))
}

/// Binds with a backlog of 1024 (tokio's default is 128), so bursts of connections wait in the
/// kernel instead of having their SYNs dropped.
fn bind(address: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if address.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(1024)
}

/// The next batch of changed paths, and the posts read while it gathered.
async fn next_batch(watch: &Option<Watch>) -> (Batch, Prefetched) {
    match watch {
        Some(watch) => {
            let batch = watch.events.next_batch().await;
            (batch, watch.early.take())
        }
        None => std::future::pending().await,
    }
}

/// A watch on the source tree: batches of changed paths, and a thread reading the posts among
/// them as they come, so that an update finds them parsed (see [`Prefetch`]).
struct Watch {
    events: SourceWatcher,
    early: Arc<Prefetch>,
}

impl State {
    /// `27 posts read, 1 skipped; 10 feeds (20 files)`, in `regen`'s words; `systemctl status`
    /// shows it too.
    fn summary(&self) -> String {
        self.build.summary(self.snapshot.feeds.len(), self.snapshot.feed_file_count())
    }

    /// The site's counts into the metrics.
    /// After every update: the counts for the metrics, and the memory the render freed given
    /// back to the system.
    fn after_update(&self) {
        crate::allocator::release_free_pages();
        let site = &self.build.site;
        self.metrics.site(
            site.post_count(),
            site.problems().count(),
            self.snapshot.feeds.len(),
            self.snapshot.feed_file_count(),
        );
    }

    fn start_watcher(&mut self) -> Option<Watch> {
        self.root_identity = identity(&self.build.site.tree.root);
        let watch = watch(&self.build.site.tree, &self.build.config)?;
        watch.early.make_texts_with(self.build.renderer());
        Some(watch)
    }

    /// `_config.yml` changed: the site is read again. `_data/` or `_includes/`: every entry is
    /// rendered again, with the rest of `paths`.
    fn settings_changed(
        &mut self,
        settings: Settings,
        paths: &[PathBuf],
        early: Prefetched,
        sources: &Sources,
        watcher: &mut Option<Watch>,
    ) {
        match settings {
            // A broken `_config.yml` keeps the running configuration, as SIGHUP does.
            Settings::Config => {
                info!("_config.yml changed: reading the site again");
                if let Some(new_watcher) = self.reload(sources) {
                    *watcher = new_watcher;
                }
            }
            Settings::Templates => {
                self.rerender(paths, early);
                if let Some(watch) = watcher {
                    watch.early.make_texts_with(self.build.renderer());
                }
            }
        }
    }

    /// Folds changed paths into the site and publishes a new snapshot if any feed changed.
    fn update(&mut self, paths: &[PathBuf], what: &str, early: Prefetched) {
        if !self.build.site.tree.root.is_dir() {
            // Deleted, unmounted or being replaced: keep the last feeds rather than empty ones;
            // housekeeping rescans when it is back.
            debug!("source folder missing: update of {} paths deferred", paths.len());
            return;
        }
        let started = Instant::now();
        let now = Utc::now();
        let (changes, next, changed) = tokio::task::block_in_place(|| {
            let changes = self.build.refresh_with(paths, early);
            let mut keys = changes.feeds.clone();
            keys.extend(self.build.feeds_due_between(self.rendered_at, now));
            let (next, changed) = self.render(now, &keys);
            (changes, next, changed)
        });
        self.rendered_at = now;
        let problems = changes.read.iter().flat_map(|source| problem::problems_of(&self.build.site, source)).collect();
        Reporter::Serve.report(problems);
        Reporter::Serve.report(self.build.take_problems());
        // A post kept as it last parsed changes no feed, but /problems must show it.
        if !changed.is_empty() || next.problems != self.snapshot.problems {
            self.publish(next, Some(&changed));
        }
        let line = format!(
            "update ({what}): {} paths, {} post files read{}, {} removed; {} changed in {:.1} ms",
            paths.len(),
            changes.files_read,
            match changes.read_early {
                0 => String::new(),
                early => format!(" ({early} of them as the batch gathered)"),
            },
            changes.removed,
            crate::build::feeds_and_files(crate::build::feeds_of(&changed), changed.len()),
            started.elapsed().as_secs_f64() * 1000.0
        );
        self.after_update();
        self.metrics.update(what, started.elapsed());
        // A look that found nothing (a start-up catch-up, a rescan of an unchanged tree) is no
        // news at the info level.
        if changed.is_empty() && changes.files_read == 0 && changes.removed == 0 {
            debug!("{line}");
        } else {
            info!("{line}");
        }
    }

    /// `_data` or `_includes` changed: every entry is rendered again (with whatever else changed
    /// in the same batch).
    fn rerender(&mut self, paths: &[PathBuf], early: Prefetched) {
        let started = Instant::now();
        let now = Utc::now();
        let (next, changed) = tokio::task::block_in_place(|| {
            self.build.refresh_with(paths, early);
            self.build.reload_templates();
            self.build.render(now, &self.snapshot, None, Storage::MemFiles)
        });
        self.rendered_at = now;
        Reporter::Serve.report(self.build.take_problems());
        if !changed.is_empty() || next.problems != self.snapshot.problems {
            self.publish(next, Some(&changed));
        }
        self.after_update();
        self.metrics.update("templates", started.elapsed());
        info!(
            "update (_data or _includes): every entry rendered again; {} changed in {:.1} ms",
            crate::build::feeds_and_files(crate::build::feeds_of(&changed), changed.len()),
            started.elapsed().as_secs_f64() * 1000.0
        );
    }

    /// Renders `keys` on top of the current snapshot, the daemon's way (memory files).
    fn render(&mut self, now: DateTime<Utc>, keys: &BTreeSet<FeedKey>) -> (Snapshot, Vec<String>) {
        self.build.render(now, &self.snapshot, Some(keys), Storage::MemFiles)
    }

    /// Future posts whose time has come, and kept feeds whose retirement has.
    fn publish_due(&mut self) {
        let started = Instant::now();
        let now = Utc::now();
        let keys: BTreeSet<FeedKey> = self.build.feeds_due_between(self.rendered_at, now);
        let (next, changed) = tokio::task::block_in_place(|| self.render(now, &keys));
        self.rendered_at = now;
        let line = format!(
            "scheduled posts published or feeds retired: {} changed",
            crate::build::feeds_and_files(crate::build::feeds_of(&changed), changed.len())
        );
        if changed.is_empty() {
            debug!("{line}");
        } else {
            info!("{line}");
            self.publish(next, Some(&changed));
        }
        self.after_update();
        self.metrics.update("scheduled", started.elapsed());
    }

    fn publish(&mut self, next: Snapshot, changed: Option<&[String]>) {
        if let Some(websub) = &self.websub {
            websub.announce(changed_feed_urls(&self.build.config, &self.snapshot, &next, changed));
        }
        self.snapshot = Arc::new(next);
        self.current.store(Arc::new(Served::new(Arc::clone(&self.snapshot), &self.build.config)));
        // The output folder follows on its own thread; on failure the feeds are still served
        // from memory and it rewrites the folder whole once writing works again.
        if let Some(output) = &self.output {
            output.write(Arc::clone(&self.snapshot), changed);
        }
    }

    /// SIGHUP: read the config again and rebuild everything; a broken config keeps the old one.
    /// Returns the watcher for the new configuration, started before its rebuild (so nothing
    /// written meanwhile is missed), or `None` when the old configuration stays.
    fn reload(&mut self, sources: &Sources) -> Option<Option<Watch>> {
        let mut config = match Config::load_from(sources) {
            Ok(c) => c,
            Err(e) => {
                error!("reload: {e:#}; keeping the running configuration");
                return None;
            }
        };
        config.server.listen = self.build.config.server.listen;
        let started = Instant::now();
        let tree = Tree::of(&config);
        let root_identity = identity(&tree.root);
        let watcher = watch(&tree, &config);
        // The same output folder keeps the running feed state (the writer may not have written
        // its newest version yet); another one has its own.
        let lifecycle = (config.output_dir == self.build.config.output_dir).then(|| {
            let mut lifecycle = self.build.lifecycle.clone();
            lifecycle.set_retire_after(&config.feeds);
            lifecycle
        });
        // What the running build made goes to the state folder first, for the new one to reuse.
        tokio::task::block_in_place(|| self.build.keep_entries(false));
        match tokio::task::block_in_place(|| first_build(config, lifecycle)) {
            Ok((build, snapshot, rendered_at)) => {
                self.root_identity = root_identity;
                self.build = build;
                if let Some(watch) = &watcher {
                    watch.early.make_texts_with(self.build.renderer());
                }
                self.rendered_at = rendered_at;
                // Other hubs: the old publisher's tasks finish what they hold; the new one
                // announces every feed that this rebuild changed.
                let hubs = &self.build.config.websub.hubs;
                if self.websub.as_ref().map_or(&[][..], Publisher::hubs) != hubs.as_slice() {
                    self.websub = Publisher::start(hubs);
                }
                // The new configuration may name another output folder: the old writer finishes,
                // and a new one writes the new snapshot whole.
                if let Some(output) = self.output.take() {
                    tokio::task::block_in_place(|| output.finish());
                }
                let dir = self.build.config.output_dir.clone();
                let places = self.build.lifecycle.owned_paths();
                match OutputWriter::start(dir, places, Arc::clone(&self.snapshot), false) {
                    Ok(output) => self.output = Some(output),
                    Err(e) => error!("cannot start the output writer: {e}; feeds are served but not written"),
                }
                self.publish(snapshot, None);
                self.after_update();
                self.metrics.update("reload", started.elapsed());
                systemd::status(&self.summary());
                info!("reloaded: {} in {} ms", self.summary(), started.elapsed().as_millis());
                Some(watcher)
            }
            Err(e) => {
                error!("reload: {e:#}; keeping the running configuration");
                None
            }
        }
    }
}

/// The absolute URLs of the feeds whose bytes `next` changed: the `changed` paths it still holds,
/// or, when they are not known (a reload), every file whose bytes differ from `previous`. Feeds
/// that are gone are not announced: they have no content to fetch.
fn changed_feed_urls(config: &Config, previous: &Snapshot, next: &Snapshot, changed: Option<&[String]>) -> Vec<String> {
    let paths: Vec<&String> = match changed {
        Some(paths) => paths.iter().filter(|p| next.files.contains_key(*p)).collect(),
        None => next
            .files
            .iter()
            .filter(|(path, file)| previous.files.get(*path).is_none_or(|old| old.body != file.body))
            .map(|(path, _)| path)
            .collect(),
    };
    paths.into_iter().map(|path| crate::urls::file_url(&config.site, path)).collect()
}

/// Watches `tree` for changes, by inotify or by polling as configured; `None` (logged) when the
/// source folder cannot be watched, until housekeeping sees it again.
fn watch(tree: &Tree, config: &Config) -> Option<Watch> {
    let server = &config.server;
    let poll = server.poll.then(|| Duration::from_millis(server.poll_interval_ms));
    let early = match Prefetch::start(tree.clone(), config.clone()) {
        Ok(early) => Arc::new(early),
        Err(e) => {
            error!("cannot start a thread: {e}; feeds will not follow changes");
            return None;
        }
    };
    let noticed = Arc::clone(&early);
    let relevant = tree.clone();
    let watching = SourceWatcher::start(
        &tree.root,
        Duration::from_millis(server.quiet_ms),
        poll,
        move |p| relevant.may_matter(p) || relevant.settings_at(p).is_some() || p == relevant.root,
        move |p| noticed.note(p),
    );
    match watching {
        Ok(events) => Some(Watch { events, early }),
        Err(e) => {
            error!("{e:#}; feeds will not follow changes until the source folder is watchable");
            None
        }
    }
}
