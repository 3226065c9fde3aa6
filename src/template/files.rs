//! Include files read from a site folder, with Jekyll's containment: `include` stays inside
//! `_includes/`, `include_relative` inside the post's folder; no `..`, no absolute path, and no
//! symbolic link that resolves outside.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use super::Files;

/// Why an include could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IncludeError {
    #[error("not found")]
    NotFound,
    #[error("the name leaves its folder")]
    Outside,
    #[error("cannot be read: {0}")]
    Unreadable(String),
    #[error("larger than {0} bytes")]
    TooLarge(u64),
}

/// [`Files`] for a site on disk.
#[derive(Debug, Clone)]
pub struct SiteFiles {
    root: PathBuf,
    max_bytes: u64,
}

impl SiteFiles {
    /// Includes of the site at `root`; files over `max_bytes` are refused.
    pub fn new(root: impl Into<PathBuf>, max_bytes: u64) -> SiteFiles {
        SiteFiles { root: root.into(), max_bytes }
    }

    /// Reads `name` inside `folder` (relative to the root), refusing anything that leaves it.
    fn read_inside(&self, folder: &Path, name: &str) -> Result<Arc<str>, IncludeError> {
        let relative = Path::new(name);
        if name.is_empty() || !relative.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(IncludeError::Outside);
        }
        let base = self.root.join(folder);
        let Ok(base) = base.canonicalize() else { return Err(IncludeError::NotFound) };
        let Ok(root) = self.root.canonicalize() else { return Err(IncludeError::NotFound) };
        if !base.starts_with(&root) {
            return Err(IncludeError::Outside);
        }
        let path = match base.join(relative).canonicalize() {
            Ok(path) => path,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(IncludeError::NotFound),
            Err(e) => return Err(IncludeError::Unreadable(e.to_string())),
        };
        if !path.starts_with(&base) {
            return Err(IncludeError::Outside);
        }
        let metadata = std::fs::metadata(&path).map_err(|e| IncludeError::Unreadable(e.to_string()))?;
        if !metadata.is_file() {
            return Err(IncludeError::NotFound);
        }
        if metadata.len() > self.max_bytes {
            return Err(IncludeError::TooLarge(self.max_bytes));
        }
        let bytes = std::fs::read(&path).map_err(|e| IncludeError::Unreadable(e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|_| IncludeError::Unreadable("not UTF-8".into()))?;
        Ok(Arc::from(text))
    }
}

impl Files for SiteFiles {
    fn include(&self, name: &str) -> Result<Arc<str>, IncludeError> {
        self.read_inside(Path::new("_includes"), name)
    }

    fn include_relative(&self, post_path: &str, name: &str) -> Result<Arc<str>, IncludeError> {
        let folder = Path::new(post_path).parent().unwrap_or(Path::new(""));
        if !folder.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(IncludeError::Outside);
        }
        self.read_inside(folder, name)
    }
}

/// [`SiteFiles`] that remember what each `include` read: its name and a hash of the text (or of
/// why there was none), so that a later run can tell whether the includes read are the same.
#[derive(Debug)]
pub struct RecordedFiles {
    inner: SiteFiles,
    read: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

impl RecordedFiles {
    pub fn new(inner: SiteFiles) -> RecordedFiles {
        RecordedFiles { inner, read: std::sync::Mutex::default() }
    }

    /// Each include read so far, by name, and the hash of what it gave.
    pub fn includes_read(&self) -> Vec<(String, u64)> {
        let read = self.read.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        read.iter().map(|(name, hash)| (name.clone(), *hash)).collect()
    }

    /// The hash of what `include name` gives now, without recording it.
    pub fn include_hash(&self, name: &str) -> u64 {
        outcome_hash(&self.inner.include(name))
    }
}

fn outcome_hash(outcome: &Result<Arc<str>, IncludeError>) -> u64 {
    match outcome {
        Ok(text) => xxhash_rust::xxh3::xxh3_64(text.as_bytes()),
        Err(error) => xxhash_rust::xxh3::xxh3_64(format!("\0{error:?}").as_bytes()),
    }
}

impl Files for RecordedFiles {
    fn include(&self, name: &str) -> Result<Arc<str>, IncludeError> {
        let outcome = self.inner.include(name);
        let mut read = self.read.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        read.insert(name.to_string(), outcome_hash(&outcome));
        outcome
    }

    fn include_relative(&self, post_path: &str, name: &str) -> Result<Arc<str>, IncludeError> {
        self.inner.include_relative(post_path, name)
    }
}

/// No include files at all.
pub(crate) struct NoFiles;

impl Files for NoFiles {
    fn include(&self, _name: &str) -> Result<Arc<str>, IncludeError> {
        Err(IncludeError::NotFound)
    }
    fn include_relative(&self, _post_path: &str, _name: &str) -> Result<Arc<str>, IncludeError> {
        Err(IncludeError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> (tempfile::TempDir, SiteFiles) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("_includes/sub")).unwrap();
        std::fs::create_dir_all(dir.path().join("_posts/2020")).unwrap();
        std::fs::write(dir.path().join("_includes/a.html"), "A").unwrap();
        std::fs::write(dir.path().join("_includes/sub/b.html"), "B").unwrap();
        std::fs::write(dir.path().join("_posts/2020/snippet.txt"), "S").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "SECRET").unwrap();
        let files = SiteFiles::new(dir.path(), 1024);
        (dir, files)
    }

    #[test]
    fn includes_are_read_from_the_includes_folder() {
        let (_dir, files) = site();
        assert_eq!(&*files.include("a.html").unwrap(), "A");
        assert_eq!(&*files.include("sub/b.html").unwrap(), "B");
        assert_eq!(files.include("nope.html"), Err(IncludeError::NotFound));
        assert_eq!(files.include("sub"), Err(IncludeError::NotFound));
    }

    #[test]
    fn names_that_leave_the_folder_are_refused() {
        let (_dir, files) = site();
        assert_eq!(files.include("../secret.txt"), Err(IncludeError::Outside));
        assert_eq!(files.include("sub/../../secret.txt"), Err(IncludeError::Outside));
        assert_eq!(files.include("/etc/passwd"), Err(IncludeError::Outside));
        assert_eq!(files.include_relative("_posts/2020/x.md", "../../secret.txt"), Err(IncludeError::Outside));
        assert_eq!(files.include_relative("../x.md", "secret.txt"), Err(IncludeError::Outside));
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_out_of_the_folder_are_refused() {
        let (dir, files) = site();
        std::os::unix::fs::symlink(dir.path().join("secret.txt"), dir.path().join("_includes/link.html")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("_includes/a.html"), dir.path().join("_includes/inside.html"))
            .unwrap();
        assert_eq!(files.include("link.html"), Err(IncludeError::Outside));
        assert_eq!(&*files.include("inside.html").unwrap(), "A");
    }

    #[test]
    fn include_relative_reads_next_to_the_post() {
        let (_dir, files) = site();
        assert_eq!(&*files.include_relative("_posts/2020/x.md", "snippet.txt").unwrap(), "S");
        assert_eq!(files.include_relative("_posts/x.md", "snippet.txt"), Err(IncludeError::NotFound));
    }

    #[test]
    fn large_includes_are_refused() {
        let (dir, files) = site();
        std::fs::write(dir.path().join("_includes/big.html"), "x".repeat(2048)).unwrap();
        assert_eq!(files.include("big.html"), Err(IncludeError::TooLarge(1024)));
    }
}
