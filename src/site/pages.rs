//! Where Jekyll writes the site's files that are not posts (pages, collection documents, static
//! files), so that `{% link path %}` finds them as Jekyll's `link` tag does.
//!
//! Nothing is kept: each lookup reads the target's front matter again, so an answer is never older
//! than the file, and a lookup recorded for an entry (see [`crate::template::Lookup`]) is checked
//! against the file as it is when posts change.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use crate::config::jekyll::DefaultsSet;
use crate::config::Config;
use crate::permalink;
use crate::post::front_matter::{self, Field};

/// What Jekyll writes when the site has no `exclude:` of its own.
const DEFAULT_EXCLUDES: [&str; 10] = [
    ".sass-cache",
    ".jekyll-cache",
    "gemfiles",
    "Gemfile",
    "Gemfile.lock",
    "node_modules",
    "vendor/bundle",
    "vendor/cache",
    "vendor/gems",
    "vendor/ruby",
];

/// The most of a page read for its front matter.
const MAX_PAGE_BYTES: u64 = 1 << 20;

/// The URL paths of a site's pages, collection documents and static files.
#[derive(Debug, Default)]
pub(crate) struct SiteFileUrls {
    source: PathBuf,
    /// The site's permalink, a named style already expanded: it decides pages' endings.
    permalink_style: String,
    /// Collections whose documents Jekyll writes (`output: true`), by label, with their permalink.
    collections: HashMap<String, Option<String>>,
    /// `collections_dir`, without slashes around it; empty for the site root.
    collections_dir: String,
    markdown_exts: Vec<String>,
    include: Vec<String>,
    exclude: Vec<String>,
    defaults: Vec<DefaultsSet>,
}

impl SiteFileUrls {
    pub(crate) fn new(config: &Config) -> SiteFileUrls {
        let raw = config.jekyll.as_ref().map(|jekyll| &jekyll.raw);
        let setting = |key: &str| raw.and_then(|raw| raw.get(key));
        let strings = |key: &str| -> Option<Vec<String>> {
            let list = setting(key)?.as_sequence()?;
            Some(list.iter().filter_map(|v| v.as_str()).map(|s| s.trim_matches('/').to_string()).collect())
        };
        let mut collections = HashMap::new();
        if let Some(serde_yaml::Value::Mapping(map)) = setting("collections") {
            for (label, metadata) in map {
                let Some(label) = label.as_str() else { continue };
                let output = metadata.get("output").and_then(serde_yaml::Value::as_bool).unwrap_or(false);
                if output && label != "posts" {
                    let permalink = metadata.get("permalink").and_then(|p| p.as_str()).map(crate::config::expand_style);
                    collections.insert(label.to_string(), permalink);
                }
            }
        }
        let markdown_exts = setting("markdown_ext")
            .and_then(|v| v.as_str())
            .unwrap_or("markdown,mkdown,mkdn,mkd,md")
            .split(',')
            .map(|ext| ext.trim().to_ascii_lowercase())
            .collect();
        SiteFileUrls {
            source: config.source_dir.clone(),
            permalink_style: config.site.permalink.clone(),
            collections,
            collections_dir: setting("collections_dir").and_then(|v| v.as_str()).unwrap_or("").trim_matches('/').into(),
            markdown_exts,
            include: strings("include").unwrap_or_default(),
            exclude: strings("exclude").unwrap_or_else(|| DEFAULT_EXCLUDES.map(String::from).to_vec()),
            defaults: config.site.defaults.clone(),
        }
    }

    /// The URL path (without baseurl) Jekyll writes the file at `path` to, relative to the site
    /// root; `None` when Jekyll does not write it (no such file, a file Jekyll skips, a path out of
    /// the site).
    pub(crate) fn url_path(&self, path: &str) -> Option<String> {
        let path = path.trim().trim_start_matches('/');
        let relative = Path::new(path);
        if path.is_empty() || !relative.components().all(|c| matches!(c, Component::Normal(_))) {
            return None;
        }
        let file = self.source.join(relative);
        // No symbolic link, anywhere on the way: Jekyll's safe mode does not follow them either.
        let mut walked = self.source.clone();
        for component in relative.components() {
            walked.push(component);
            if std::fs::symlink_metadata(&walked).ok()?.file_type().is_symlink() {
                return None;
            }
        }
        if !std::fs::metadata(&file).ok()?.is_file() {
            return None;
        }
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let (stem, ext) = match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
            _ => (name, String::new()),
        };
        let output_ext = self.output_ext(&ext);

        if let Some((label, permalink, inside)) = self.collection_of(path) {
            let fm = self.front_matter(&file, path, label)?;
            let stem_inside = inside.strip_suffix(ext.as_str()).unwrap_or(inside);
            let template = front_permalink(&fm)
                .or_else(|| permalink.clone())
                .unwrap_or_else(|| add_permalink_suffix("/:collection/:path", &self.permalink_style));
            let slug = fm.get("slug").and_then(Field::as_text).unwrap_or(stem).to_string();
            return Some(permalink::fill(&template, |placeholder| {
                Some(match placeholder {
                    "collection" => label.to_string(),
                    "path" => stem_inside.to_string(),
                    "name" => permalink::slugify(stem, permalink::SlugMode::Default, false),
                    "title" => permalink::slugify(&slug, permalink::SlugMode::Pretty, true),
                    "slug" => permalink::slugify(&slug, permalink::SlugMode::Default, false),
                    "output_ext" => output_ext.clone(),
                    _ => return None,
                })
            }));
        }
        if !self.written(path) {
            return None;
        }
        if !has_front_matter(&file) {
            return Some(permalink::fill(&format!("/{}", permalink::escape_path(path)), |_| None));
        }
        let fm = self.front_matter(&file, path, "pages")?;
        let template = front_permalink(&fm).unwrap_or_else(|| {
            if output_ext != ".html" {
                "/:path/:basename:output_ext".to_string()
            } else if stem == "index" {
                "/:path/".to_string()
            } else {
                add_permalink_suffix("/:path/:basename", &self.permalink_style)
            }
        });
        Some(permalink::fill(&template, |placeholder| {
            Some(match placeholder {
                "path" => dir.to_string(),
                "basename" => stem.to_string(),
                "output_ext" => output_ext.clone(),
                _ => return None,
            })
        }))
    }

    /// The collection the document at `path` belongs to: its label, permalink and the path
    /// inside the collection's folder.
    fn collection_of<'p>(&self, path: &'p str) -> Option<(&str, &Option<String>, &'p str)> {
        let in_dir = if self.collections_dir.is_empty() {
            path
        } else {
            path.strip_prefix(self.collections_dir.as_str())?.strip_prefix('/')?
        };
        let (folder, inside) = in_dir.split_once('/')?;
        let label = folder.strip_prefix('_')?;
        let (label, permalink) = self.collections.get_key_value(label)?;
        Some((label.as_str(), permalink, inside))
    }

    /// Whether Jekyll reads the file at `path` as a page or static file: no part of it hidden
    /// (`_`, `.`, `#`, `~`) unless `include:` names it, and not excluded.
    fn written(&self, path: &str) -> bool {
        let hidden = |part: &str| {
            (part.starts_with(['_', '.', '#']) || part.ends_with('~')) && !self.include.iter().any(|i| i == part)
        };
        let excluded = self.exclude.iter().any(|e| path == e || path.starts_with(&format!("{e}/")));
        !path.split('/').any(hidden) && !excluded
    }

    fn output_ext(&self, ext: &str) -> String {
        let bare = ext.trim_start_matches('.').to_ascii_lowercase();
        if self.markdown_exts.contains(&bare) {
            ".html".to_string()
        } else if bare == "scss" || bare == "sass" {
            ".css".to_string()
        } else {
            ext.to_string()
        }
    }

    /// The front matter of the page at `file`, with the `defaults:` for its path and `kind`.
    fn front_matter(&self, file: &Path, path: &str, kind: &str) -> Option<front_matter::FrontMatter> {
        let mut bytes = Vec::new();
        std::fs::File::open(file).ok()?.take(MAX_PAGE_BYTES).read_to_end(&mut bytes).ok()?;
        let text = String::from_utf8_lossy(&bytes);
        let fields = match front_matter::split(&text) {
            Ok(split) => front_matter::parse_yaml(split.yaml).ok()?,
            Err(_) => front_matter::FrontMatter::default(),
        };
        let defaults = crate::config::jekyll::defaults_for(&self.defaults, path, kind);
        if defaults.is_empty() {
            return Some(fields);
        }
        Some(front_matter::FrontMatter {
            fields: crate::config::jekyll::deep_merge(defaults, &fields.fields),
            repeated: fields.repeated,
        })
    }
}

fn has_front_matter(file: &Path) -> bool {
    let mut start = [0u8; 5];
    let read = std::fs::File::open(file).and_then(|mut f| f.read(&mut start)).unwrap_or(0);
    let start = &start[..read];
    start.starts_with(b"---\n") || start.starts_with(b"---\r\n") || start.starts_with(b"--- ")
}

fn front_permalink(fm: &front_matter::FrontMatter) -> Option<String> {
    fm.get("permalink").and_then(Field::as_text).filter(|p| !p.is_empty()).map(str::to_string)
}

/// Jekyll's `Utils.add_permalink_suffix`: a page's or document's URL ends as the site's permalink
/// style ends, with `/` or with the output extension.
fn add_permalink_suffix(template: &str, style: &str) -> String {
    let mut template = template.to_string();
    if style.ends_with('/') {
        template.push('/');
    }
    if style.ends_with(":output_ext") {
        template.push_str(":output_ext");
    }
    template
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(config_yml: &str, files: &[(&str, &str)]) -> (tempfile::TempDir, SiteFileUrls) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("_config.yml"), format!("url: https://e.example\n{config_yml}")).unwrap();
        for (path, text) in files {
            let file = dir.path().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        std::fs::write(dir.path().join("config.toml"), "[source]\ndir = \".\"\n[output]\ndir = \"out\"\n").unwrap();
        let config = Config::load(&dir.path().join("config.toml")).unwrap();
        let urls = SiteFileUrls::new(&config);
        (dir, urls)
    }

    const FILES: &[(&str, &str)] = &[
        ("about.md", "---\ntitle: About\n---\nx"),
        ("docs/index.html", "---\n---\nx"),
        ("docs/guide.markdown", "---\n---\nx"),
        ("contact.html", "---\npermalink: /reach-us/\n---\nx"),
        ("feed.xml", "---\n---\nx"),
        ("style.scss", "---\n---\nx"),
        ("assets/report 1.pdf", "%PDF"),
        ("_docs/history.md", "---\n---\nx"),
        ("_docs/api/intro.md", "---\npermalink: /api-intro/\n---\nx"),
        ("_drafts/idea.md", "---\n---\nx"),
        ("_hidden/x.md", "---\n---\nx"),
        (".well-known/security.txt", "x"),
        ("node_modules/x.js", "x"),
    ];

    #[test]
    fn pages_end_as_the_sites_permalink_style_ends() {
        let (_dir, urls) = site("", FILES);
        assert_eq!(urls.url_path("about.md").as_deref(), Some("/about.html"));
        assert_eq!(urls.url_path("/about.md").as_deref(), Some("/about.html"));
        assert_eq!(urls.url_path("docs/index.html").as_deref(), Some("/docs/"));
        assert_eq!(urls.url_path("docs/guide.markdown").as_deref(), Some("/docs/guide.html"));
        assert_eq!(urls.url_path("contact.html").as_deref(), Some("/reach-us/"));
        assert_eq!(urls.url_path("feed.xml").as_deref(), Some("/feed.xml"));
        assert_eq!(urls.url_path("style.scss").as_deref(), Some("/style.css"));
        let (_dir, pretty) = site("permalink: pretty\n", FILES);
        assert_eq!(pretty.url_path("about.md").as_deref(), Some("/about/"));
        assert_eq!(pretty.url_path("docs/guide.markdown").as_deref(), Some("/docs/guide/"));
        assert_eq!(pretty.url_path("docs/index.html").as_deref(), Some("/docs/"));
    }

    #[test]
    fn static_files_keep_their_path_escaped() {
        let (_dir, urls) = site("", FILES);
        assert_eq!(urls.url_path("assets/report 1.pdf").as_deref(), Some("/assets/report%201.pdf"));
        assert_eq!(urls.url_path(".well-known/security.txt"), None, "hidden, not included");
        let (_dir, included) = site("include: [.well-known]\n", FILES);
        assert_eq!(included.url_path(".well-known/security.txt").as_deref(), Some("/.well-known/security.txt"));
        assert_eq!(urls.url_path("node_modules/x.js"), None, "excluded by default");
    }

    #[test]
    fn documents_of_written_collections_follow_the_collections_permalink() {
        let config = "collections:\n  docs:\n    output: true\n    permalink: /:collection/:path/\n  hidden:\n    output: false\n";
        let (_dir, urls) = site(config, FILES);
        assert_eq!(urls.url_path("_docs/history.md").as_deref(), Some("/docs/history/"));
        assert_eq!(urls.url_path("_docs/api/intro.md").as_deref(), Some("/api-intro/"));
        assert_eq!(urls.url_path("_hidden/x.md"), None, "a collection Jekyll does not write");
        assert_eq!(urls.url_path("_drafts/idea.md"), None);
        let (_dir, default) = site("collections:\n  docs:\n    output: true\n", FILES);
        assert_eq!(default.url_path("_docs/history.md").as_deref(), Some("/docs/history.html"));
    }

    #[test]
    fn no_answer_outside_the_site_or_for_what_is_not_there() {
        let (dir, urls) = site("", FILES);
        assert_eq!(urls.url_path("missing.md"), None);
        assert_eq!(urls.url_path("docs"), None, "a folder");
        assert_eq!(urls.url_path("../etc/passwd"), None);
        assert_eq!(urls.url_path("docs/../about.md"), None);
        assert_eq!(urls.url_path(""), None);
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink("/etc/hostname", dir.path().join("linked.txt")).unwrap();
            assert_eq!(urls.url_path("linked.txt"), None);
        }
    }
}
