//! Finding post files in a source tree, and reading one safely (size limit, no escape by symlink).
//! The first stage of the flow: it knows files and folders, not what a post is.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use walkdir::WalkDir;

/// A file inside some `_posts` folder that may be a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// Relative to the source root, `/`-separated.
    pub(crate) source: String,
    pub(crate) path: PathBuf,
    /// The type of the entry itself (a link is a link), when the folder listing told it: saves
    /// an `lstat` per post on a full scan.
    pub(crate) file_type: Option<fs::FileType>,
}

impl Candidate {
    pub(crate) fn new(source: String, path: PathBuf) -> Candidate {
        Candidate { source, path, file_type: None }
    }
}

/// What tells a file's version apart without reading it: size and mtime, and the inode and ctime,
/// which every write, rename over and `touch` moves on, whatever mtime is set to afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Stamp {
    pub(crate) len: u64,
    pub(crate) modified: Option<SystemTime>,
    pub(crate) device: u64,
    pub(crate) inode: u64,
    /// ctime as seconds and nanoseconds since the epoch.
    pub(crate) changed: (i64, i64),
}

impl Stamp {
    /// The stamp of the file at `path` (following a symbolic link), if it exists.
    pub(crate) fn of(path: &Path) -> Option<Stamp> {
        fs::metadata(path).ok().map(|meta| Stamp::from_metadata(&meta))
    }

    pub(crate) fn from_metadata(meta: &fs::Metadata) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        Stamp {
            len: meta.len(),
            modified: meta.modified().ok(),
            device: meta.dev(),
            inode: meta.ino(),
            changed: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// The paths whose stamps differ between `before` and `after`, including those in only one.
pub(crate) fn changed_between(before: &BTreeMap<PathBuf, Stamp>, after: &BTreeMap<PathBuf, Stamp>) -> Vec<PathBuf> {
    let gone = before.keys().filter(|path| !after.contains_key(*path));
    let new_or_changed = after.iter().filter(|(path, stamp)| before.get(*path) != Some(stamp)).map(|(path, _)| path);
    gone.chain(new_or_changed).cloned().collect()
}

/// A post file's bytes and what was learnt opening it.
#[derive(Debug)]
pub(crate) struct FileRead {
    pub(crate) bytes: Vec<u8>,
    pub(crate) stamp: Stamp,
    /// The candidate is a symbolic link (to a file inside the root).
    pub(crate) is_link: bool,
}

/// Why a file that may be a post cannot be read as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadError {
    Unreadable(String),
    NotAFile,
    NameNotUtf8,
    TooLarge {
        size: u64,
        limit: u64,
    },
    /// A symbolic link to this place, outside the source folder.
    LinkOutside(String),
}

/// The files a full scan found, and what it skipped that `check` should mention.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    pub(crate) candidates: Vec<Candidate>,
    /// Source path and why.
    pub(crate) problems: Vec<(String, ReadError)>,
}

/// One thing the walk found: a file that may be a post, or one it must report.
#[derive(Debug)]
pub(crate) enum Found {
    Post(Candidate),
    Problem(String, ReadError),
}

impl Found {
    /// The path, relative to the source root, of what was found.
    pub(crate) fn source(&self) -> &str {
        match self {
            Found::Post(candidate) => &candidate.source,
            Found::Problem(source, _) => source,
        }
    }
}

/// Files that are not posts but change what the feeds hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Settings {
    /// `_data/` or `_includes/`: what templates read.
    Templates,
    /// `_config.yml`: URLs, permalinks, defaults, everything.
    Config,
}

/// The source tree's rules, fixed for one configuration.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    pub(crate) root: PathBuf,
    /// The output folder, never read even when it sits inside the source root.
    pub(crate) output: PathBuf,
    /// Archive folders (`source.archive`): their files are read as posts that moved out of
    /// `_posts`, as source names relative to the root (`old_post`).
    archives: Vec<String>,
}

impl Tree {
    pub(crate) fn new(root: &Path, output: &Path) -> Tree {
        let canonical = |p: &Path| fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        Tree { root: canonical(root), output: canonical(output), archives: Vec::new() }
    }

    /// The tree `config` names: its source folder, output folder and archive folders.
    pub(crate) fn of(config: &crate::config::Config) -> Tree {
        Tree::new(&config.source_dir, &config.output_dir).with_archives(&config.archive_dirs, &config.source_dir)
    }

    /// The same tree with archive folders (absolute paths below the root, as the config has them).
    pub(crate) fn with_archives(mut self, folders: &[PathBuf], configured_root: &Path) -> Tree {
        self.archives = folders
            .iter()
            .filter_map(|f| f.strip_prefix(configured_root).ok())
            .map(|rel| source_name(Path::new(""), rel))
            .filter(|name| !name.is_empty())
            .collect();
        self
    }

    /// For a file in an archive folder, the source name it is read as: the archive folder taken
    /// as the site root, so `old_post/x.md` reads as `_posts/x.md` and
    /// `old_post/news/_posts/x.md` as `news/_posts/x.md`. `None` for files outside the archives.
    pub(crate) fn archived_as(&self, source: &str) -> Option<String> {
        let rest = self.archives.iter().find_map(|a| source.strip_prefix(a.as_str())?.strip_prefix('/'))?;
        if rest.split('/').rev().skip(1).any(|c| c == "_posts") {
            Some(rest.to_string())
        } else {
            Some(format!("_posts/{rest}"))
        }
    }

    /// The source a post file is read as: its [`Tree::archived_as`] path, else its own.
    pub(crate) fn read_as<'s>(&self, source: &'s str) -> std::borrow::Cow<'s, str> {
        self.archived_as(source).map_or(std::borrow::Cow::Borrowed(source), std::borrow::Cow::Owned)
    }

    /// Whether `path` is an archive folder or lies below one.
    fn in_archive(&self, path: &Path) -> bool {
        let Ok(rel) = path.strip_prefix(&self.root) else { return false };
        self.archives.iter().any(|a| rel.starts_with(a))
    }

    /// Walks the tree as Jekyll does: `_posts` folders at any depth, nothing under folders whose
    /// name starts with `.`, `_`, `#` or `~` (so `_drafts` and `_site` are out), nor the output
    /// folder. Symbolic links to folders are not followed.
    #[cfg(test)]
    pub(crate) fn scan(&self) -> std::io::Result<Scan> {
        self.scan_under(&self.root)
    }

    /// The same walk from a folder inside the root (one that `may_matter`).
    pub(crate) fn scan_under(&self, start: &Path) -> std::io::Result<Scan> {
        let mut scan = Scan::default();
        for found in self.walk(start)? {
            match found {
                Found::Post(candidate) => scan.candidates.push(candidate),
                Found::Problem(source, error) => scan.problems.push((source, error)),
            }
        }
        Ok(scan)
    }

    /// The walk of [`Tree::scan_under`] as it goes, so that reading can start on other cores
    /// before it ends. Unsorted: the site keeps posts in sorted maps, so the order never shows.
    pub(crate) fn walk<'t>(&'t self, start: &Path) -> std::io::Result<impl Iterator<Item = Found> + Send + 't> {
        fs::read_dir(start)?;
        let walker = WalkDir::new(start).follow_links(false).into_iter();
        let walker = walker.filter_entry(|e| e.depth() == 0 || !e.file_type().is_dir() || self.enter_dir(e.path()));
        let mut folder = Folder::default();
        Ok(walker.filter_map(move |entry| self.found(entry, &mut folder)))
    }

    fn found(&self, entry: walkdir::Result<walkdir::DirEntry>, folder: &mut Folder) -> Option<Found> {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().filter(|p| self.in_posts(p))?;
                let source = source_name(&self.root, path);
                return Some(Found::Problem(source, ReadError::Unreadable(e.to_string())));
            }
        };
        if entry.file_type().is_dir() {
            return None;
        }
        // The files of a folder come one after another: what their folder says is worked out
        // once for them all.
        let parent = entry.path().parent().unwrap_or(Path::new(""));
        if folder.path != parent {
            parent.clone_into(&mut folder.path);
            folder.in_posts = self.in_posts(entry.path());
            folder.prefix = source_name(&self.root, parent);
            if !folder.prefix.is_empty() {
                folder.prefix.push('/');
            }
            folder.is_utf8 = parent.to_str().is_some();
        }
        let name = entry.file_name().to_string_lossy();
        if !folder.in_posts || ignored_name(&name) {
            return None;
        }
        let mut source = folder.prefix.clone();
        push_escaped(&mut source, entry.file_name());
        if !folder.is_utf8 || matches!(name, std::borrow::Cow::Owned(_)) {
            return Some(Found::Problem(source, ReadError::NameNotUtf8));
        }
        let file_type = Some(entry.file_type());
        Some(Found::Post(Candidate { source, path: entry.into_path(), file_type }))
    }

    fn enter_dir(&self, path: &Path) -> bool {
        let name = path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
        if path == self.output {
            return false;
        }
        if name == "_posts" {
            return true;
        }
        if let Ok(rel) = path.strip_prefix(&self.root) {
            // An archive folder, or a folder on the way to one, is entered whatever its name.
            if self.archives.iter().any(|a| Path::new(a).starts_with(rel)) {
                return true;
            }
            if self.in_archive(path) {
                return !ignored_name(&name);
            }
        }
        !ignored_name(&name) && (!["node_modules", "vendor"].contains(&name.as_ref()) || self.in_posts(path))
    }

    /// Whether `path` lies inside a `_posts` folder (at any depth) below the root, or inside an
    /// archive folder.
    pub(crate) fn in_posts(&self, path: &Path) -> bool {
        match path.strip_prefix(&self.root) {
            Ok(rel) => rel.parent().is_some_and(|folders| {
                folders.components().any(|c| c.as_os_str() == "_posts")
                    || self.archives.iter().any(|a| folders.starts_with(a))
            }),
            Err(_) => false,
        }
    }

    /// Whether a path the watcher reports could be, or could hold, a post: inside the root, outside
    /// the output folder, and under no folder or name that Jekyll skips.
    pub(crate) fn may_matter(&self, path: &Path) -> bool {
        let Ok(rel) = path.strip_prefix(&self.root) else { return false };
        if path.starts_with(&self.output) {
            return false;
        }
        if let Some(inside) = self.archives.iter().find_map(|a| rel.strip_prefix(a).ok()) {
            return inside.components().all(|c| !ignored_name(&c.as_os_str().to_string_lossy()));
        }
        // A folder that holds an archive folder (`archive/old` holds `archive/old/x.md`).
        if self.archives.iter().any(|a| Path::new(a).starts_with(rel)) {
            return true;
        }
        rel.components().all(|c| {
            let name = c.as_os_str().to_string_lossy();
            name == "_posts" || !ignored_name(&name)
        })
    }

    /// What a change at `path` means for the site's settings: `_config.yml` (everything is read
    /// again), `_data/` or `_includes/` (every entry is rendered again), or nothing.
    pub(crate) fn settings_at(&self, path: &Path) -> Option<Settings> {
        let rel = path.strip_prefix(&self.root).ok()?;
        let first = rel.components().next()?.as_os_str();
        if first == "_config.yml" || first == "_config.yaml" {
            Some(Settings::Config)
        } else if first == "_data" || first == "_includes" {
            Some(Settings::Templates)
        } else {
            None
        }
    }

    /// The weightiest of what `settings_at` says of `paths`.
    pub(crate) fn settings_among(&self, paths: &[PathBuf]) -> Option<Settings> {
        paths.iter().filter_map(|p| self.settings_at(p)).max()
    }

    /// The stamp of every file that `settings_at` names (`_config.yml`, `_config.yaml` and the
    /// files under `_data/` and `_includes/`), by path. Two of them taken apart tell which
    /// settings changed in between, when no watcher was looking.
    pub(crate) fn settings_stamps(&self) -> BTreeMap<PathBuf, Stamp> {
        let configs = ["_config.yml", "_config.yaml"].map(|name| self.root.join(name));
        let folders = ["_data", "_includes"].map(|name| self.root.join(name));
        let files = folders
            .iter()
            .flat_map(|folder| WalkDir::new(folder).into_iter().filter_map(Result::ok))
            .filter(|entry| !entry.file_type().is_dir())
            .map(walkdir::DirEntry::into_path);
        configs
            .into_iter()
            .chain(files)
            .filter_map(|path| {
                let meta = fs::symlink_metadata(&path).ok()?;
                Some((path, Stamp::from_metadata(&meta)))
            })
            .collect()
    }

    /// Whether a folder between the root and `path` is a symbolic link: such paths are never
    /// read, as the walk never enters linked folders.
    pub(crate) fn through_link(&self, path: &Path) -> bool {
        let Ok(rel) = path.strip_prefix(&self.root) else { return true };
        let mut at = self.root.clone();
        let components: Vec<_> = rel.components().collect();
        for c in components.iter().take(components.len().saturating_sub(1)) {
            at.push(c);
            if fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                return true;
            }
        }
        false
    }

    /// Reads a candidate: regular files only, at most `limit` bytes, and a symbolic link only when
    /// it resolves inside the source root. Costs an `lstat`, `open`, `fstat`, one `read` and
    /// `close` for a plain file: at 100,000 posts every extra system call is a tenth of a second.
    pub(crate) fn read(&self, candidate: &Candidate, limit: u64) -> Result<FileRead, ReadError> {
        let unreadable = |e: std::io::Error| ReadError::Unreadable(e.to_string());
        let file_type = match candidate.file_type {
            Some(known) => known,
            None => fs::symlink_metadata(&candidate.path).map_err(unreadable)?.file_type(),
        };
        let is_link = file_type.is_symlink();
        // What is opened: the file itself, or the link's target resolved once and checked.
        let mut open_path = candidate.path.as_path();
        let target;
        if is_link {
            target = fs::canonicalize(&candidate.path).map_err(unreadable)?;
            if !target.starts_with(&self.root) {
                return Err(ReadError::LinkOutside(target.display().to_string()));
            }
            if !fs::metadata(&target).map_err(unreadable)?.is_file() {
                return Err(ReadError::NotAFile);
            }
            open_path = &target;
        } else if !file_type.is_file() {
            // A FIFO or device named like a post is never opened.
            return Err(ReadError::NotAFile);
        }
        // Without blocking, in case a FIFO is swapped in since the check above; and without
        // following a link that appeared since (it could point anywhere).
        let flags = libc::O_NONBLOCK | libc::O_NOFOLLOW;
        let mut file = match fs::OpenOptions::new().read(true).custom_flags(flags).open(open_path) {
            Ok(file) => file,
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) && candidate.file_type.is_some() => {
                // Replaced by a link since the folder was listed: look again.
                return self.read(&Candidate::new(candidate.source.clone(), candidate.path.clone()), limit);
            }
            Err(e) => return Err(unreadable(e)),
        };
        let meta = file.metadata().map_err(unreadable)?;
        if !meta.is_file() {
            return Err(ReadError::NotAFile);
        }
        if meta.len() > limit {
            return Err(ReadError::TooLarge { size: meta.len(), limit });
        }
        // Exactly the length `fstat` gave, so one `read` suffices. A file that grows meanwhile
        // is cut at that length; its new stamp makes the watcher's event read it again.
        let mut bytes = vec![0; meta.len() as usize];
        let mut filled = 0;
        while filled < bytes.len() {
            match file.read(&mut bytes[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(unreadable(e)),
            }
        }
        bytes.truncate(filled);
        Ok(FileRead { bytes, stamp: Stamp::from_metadata(&meta), is_link })
    }

    /// The candidate for a path under the root, if its name could be a post file. Names that
    /// are not UTF-8 are not candidates (`scan` reports them).
    pub(crate) fn candidate(&self, path: &Path) -> Option<Candidate> {
        if !self.in_posts(path) || ignored_name(path.file_name()?.to_str()?) || self.through_link(path) {
            return None;
        }
        Some(Candidate::new(source_name(&self.root, path), path.to_path_buf()))
    }
}

/// The folder of the files a walk is passing: its path, whether files in it can be posts, the
/// start of their source names (`_posts/`), and whether its path is UTF-8.
#[derive(Default)]
struct Folder {
    path: PathBuf,
    in_posts: bool,
    prefix: String,
    is_utf8: bool,
}

/// Paths inside the source tree are reported relative to it, `/`-separated. Bytes that are not
/// UTF-8 are written as `\xFF`, so two names that differ only in them stay two names (a lossy
/// conversion would give both the same `\u{FFFD}`), and a report says which bytes to fix.
pub(crate) fn source_name(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    let mut name = String::with_capacity(rel.as_os_str().len());
    for (i, c) in rel.components().enumerate() {
        if i > 0 {
            name.push('/');
        }
        push_escaped(&mut name, c.as_os_str());
    }
    name
}

/// Appends one file or folder name to `to`, its bytes that are not UTF-8 written as `\xFF`.
fn push_escaped(to: &mut String, name: &std::ffi::OsStr) {
    use std::os::unix::ffi::OsStrExt as _;
    for chunk in name.as_bytes().utf8_chunks() {
        to.push_str(chunk.valid());
        for byte in chunk.invalid() {
            to.push_str(&format!("\\x{byte:02X}"));
        }
    }
}

/// Names Jekyll skips (leading `.`, `_`, `#`, `~`, trailing `~`), which also covers editors'
/// swap, backup and lock files (`.x.swp`, `x~`, `#x#`, `.#x`).
pub(crate) fn ignored_name(name: &str) -> bool {
    name.starts_with(['.', '_', '#', '~']) || name.ends_with('~')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree_with_post(text: &str) -> (tempfile::TempDir, Tree, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let posts = dir.path().join("site/_posts");
        fs::create_dir_all(&posts).unwrap();
        let path = posts.join("2024-01-01-a.md");
        fs::write(&path, text).unwrap();
        let tree = Tree::new(&dir.path().join("site"), &dir.path().join("out"));
        (dir, tree, path)
    }

    #[test]
    fn the_walk_names_every_file_as_its_own_path_would_name_it() {
        use std::os::unix::ffi::OsStrExt as _;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        let files: &[&[u8]] = &[
            b"_posts/2024-01-01-a.md",
            b"_posts/2024-01-02-b.md",
            b"_posts/desk/2024-01-03-c.md",
            b"_posts/desk/deeper/2024-01-04-d.md",
            b"_posts/2024-01-05-e.md",
            b"_posts/.2024-01-06-hidden.md",
            b"_posts/2024-01-07-backup.md~",
            b"_posts/2024-01-08-bad\xffname.md",
            b"_posts/caf\xe9/2024-01-09-in-a-latin1-folder.md",
            b"news/_posts/2024-01-10-f.md",
            b"news/2024-01-11-not-in-posts.md",
            b"2024-01-12-at-the-root.md",
            b"old_post/2024-01-13-archived.md",
            b"old_post/news/_posts/2024-01-14-archived.md",
        ];
        for file in files {
            let path = root.join(std::ffi::OsStr::from_bytes(file));
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, "---\n---\n").unwrap();
        }
        let tree = Tree::new(&root, &dir.path().join("out")).with_archives(&[root.join("old_post")], &root);
        let mut walked: Vec<(String, bool)> = tree
            .walk(&root)
            .unwrap()
            .map(|found| match found {
                Found::Post(c) => (c.source, true),
                Found::Problem(source, error) => {
                    assert!(matches!(error, ReadError::NameNotUtf8), "{source}: {error:?}");
                    (source, false)
                }
            })
            .collect();
        walked.sort();
        // Each file on its own: in a posts or archive folder, not a skipped name, named by its
        // whole path, and a problem when some part of that path is not UTF-8.
        let mut expected: Vec<(String, bool)> = files
            .iter()
            .map(|file| root.join(std::ffi::OsStr::from_bytes(file)))
            .filter(|path| tree.in_posts(path) && !ignored_name(&path.file_name().unwrap().to_string_lossy()))
            .map(|path| (source_name(&root, &path), path.to_str().is_some()))
            .collect();
        expected.sort();
        assert_eq!(walked, expected);
        assert_eq!(expected.len(), 10);
        assert!(expected.contains(&("_posts/caf\\xE9/2024-01-09-in-a-latin1-folder.md".to_string(), false)));
        assert!(expected.contains(&("_posts/2024-01-08-bad\\xFFname.md".to_string(), false)));
    }

    #[test]
    fn settings_stamps_hold_config_data_and_includes_and_nothing_else() {
        let (dir, tree, post) = tree_with_post("---\ntitle: A\n---\n");
        let site = dir.path().join("site");
        for (file, text) in [
            ("_config.yml", "url: https://a.example\n"),
            ("_data/people/team.yml", "- Ann\n"),
            ("_includes/note.html", "<p>note</p>"),
            ("_layouts/post.html", "{{ content }}"),
            ("about.md", "About"),
        ] {
            fs::create_dir_all(site.join(file).parent().unwrap()).unwrap();
            fs::write(site.join(file), text).unwrap();
        }
        let before = tree.settings_stamps();
        let names: Vec<_> = before.keys().map(|p| p.strip_prefix(&tree.root).unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["_config.yml", "_data/people/team.yml", "_includes/note.html"]);
        assert_eq!(tree.settings_among(&before.keys().cloned().collect::<Vec<_>>()), Some(Settings::Config));
        assert_eq!(tree.settings_among(&[post]), None);

        // A write of the same length in the same second still moves the stamp (ctime, inode).
        let team = site.join("_data/people/team.yml");
        fs::write(site.join("swap"), "- Bob\n").unwrap();
        fs::rename(site.join("swap"), &team).unwrap();
        let moved = changed_between(&before, &tree.settings_stamps());
        assert_eq!(moved, [tree.root.join("_data/people/team.yml")]);
        assert_eq!(tree.settings_among(&moved), Some(Settings::Templates));
        // A file gone and one new are changes too.
        fs::remove_file(site.join("_includes/note.html")).unwrap();
        fs::write(site.join("_includes/new.html"), "new").unwrap();
        let changed = changed_between(&before, &tree.settings_stamps());
        let names: Vec<_> = changed.iter().map(|p| p.strip_prefix(&tree.root).unwrap().to_str().unwrap()).collect();
        assert_eq!(names, ["_includes/note.html", "_data/people/team.yml", "_includes/new.html"]);
    }

    #[test]
    fn reads_the_bytes_with_the_stamp_of_the_opened_file() {
        let (_dir, tree, _) = tree_with_post("---\ntitle: a\n---\nbody\n");
        let scan = tree.scan().unwrap();
        assert_eq!(scan.candidates.len(), 1);
        assert!(scan.candidates[0].file_type.is_some_and(|t| t.is_file()));
        let read = tree.read(&scan.candidates[0], 1024).unwrap();
        assert_eq!(read.bytes, b"---\ntitle: a\n---\nbody\n");
        assert_eq!(Some(read.stamp), Stamp::of(&scan.candidates[0].path));
        assert!(!read.is_link);
    }

    #[test]
    fn a_file_swapped_for_an_outside_link_after_the_scan_is_not_read() {
        let (dir, tree, path) = tree_with_post("---\ntitle: a\n---\n");
        let scan = tree.scan().unwrap();
        let secret = dir.path().join("secret.md");
        fs::write(&secret, "---\ntitle: secret\n---\n").unwrap();
        fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&secret, &path).unwrap();
        let err = tree.read(&scan.candidates[0], 1024).unwrap_err();
        assert!(matches!(err, ReadError::LinkOutside(_)), "{err:?}");
    }

    #[test]
    fn archive_folders_are_read_as_the_posts_they_were() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        for rel in [
            "_posts/2024-01-01-live.md",
            "old_post/2024-01-02-a.md",
            "old_post/2023/2024-01-03-b.md",
            "old_post/news/_posts/2024-01-04-c.md",
            "old_post/.2024-01-05-tmp.md",
            "_archive/x/2024-01-06-d.md",
            "other/2024-01-07-e.md",
        ] {
            let path = root.join(rel);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "---\n---\n").unwrap();
        }
        let archives = [root.join("old_post"), root.join("_archive/x")];
        let tree = Tree::new(&root, &dir.path().join("out")).with_archives(&archives, &root);
        let mut found: Vec<String> = tree.scan().unwrap().candidates.into_iter().map(|c| c.source).collect();
        found.sort();
        assert_eq!(
            found,
            [
                "_archive/x/2024-01-06-d.md",
                "_posts/2024-01-01-live.md",
                "old_post/2023/2024-01-03-b.md",
                "old_post/2024-01-02-a.md",
                "old_post/news/_posts/2024-01-04-c.md"
            ]
        );
        assert_eq!(tree.archived_as("old_post/2024-01-02-a.md").as_deref(), Some("_posts/2024-01-02-a.md"));
        assert_eq!(tree.archived_as("old_post/2023/2024-01-03-b.md").as_deref(), Some("_posts/2023/2024-01-03-b.md"));
        assert_eq!(
            tree.archived_as("old_post/news/_posts/2024-01-04-c.md").as_deref(),
            Some("news/_posts/2024-01-04-c.md")
        );
        assert_eq!(tree.archived_as("_posts/2024-01-01-live.md"), None);
        assert_eq!(tree.archived_as("old_postx/2024-01-02-a.md"), None);
        // What the watcher reports: the archive folders, what is in them, and the way to them.
        for path in ["old_post", "old_post/2024-01-02-a.md", "_archive", "_archive/x/2024-01-06-d.md"] {
            assert!(tree.may_matter(&root.join(path)), "{path}");
        }
        for path in ["_archive/y/2024-01-06-d.md", "old_post/.2024-01-05-tmp.md", "_drafts/2024-01-01-x.md"] {
            assert!(!tree.may_matter(&root.join(path)), "{path}");
        }
        assert!(tree.candidate(&root.join("old_post/2024-01-02-a.md")).is_some());
        assert!(tree.candidate(&root.join("other/2024-01-07-e.md")).is_none());
    }

    #[test]
    fn reads_at_most_the_limit() {
        let (_dir, tree, _) = tree_with_post(&"x".repeat(100));
        let scan = tree.scan().unwrap();
        let err = tree.read(&scan.candidates[0], 99).unwrap_err();
        assert_eq!(err, ReadError::TooLarge { size: 100, limit: 99 });
    }
}
