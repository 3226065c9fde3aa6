//! Convergence: after any sequence of file operations, folding the touched paths into the site
//! one batch at a time gives byte-identical feeds to a fresh full build of the final tree.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use chrono::Utc;
use postfeed::build::Build;
use postfeed::config::Config;
use postfeed::output::OutputFolder;
use postfeed::snapshot::{Snapshot, Storage};
use proptest::prelude::*;

const CATEGORIES: [&str; 4] = ["jingzhouribao", "renminribao", "a b", "C++"];
const TAGS: [&str; 4] = ["荆州日报新闻", "金融", "C", "x/y"];
/// `old_post` is the archive folder: posts moved there stay in their category and tag feeds, and
/// those past the newest `limit` of every feed they are in sleep (not kept parsed) until needed.
const FOLDERS: [&str; 4] = ["_posts", "business/_posts", "_posts/2022", "old_post"];

#[derive(Debug, Clone)]
enum Op {
    Create { folder: usize, slot: u8, day: u8, category: usize, tag: usize, body: u8 },
    Edit { slot: u8, day: u8, tag: usize, body: u8 },
    Rename { slot: u8, to_folder: usize, to_slot: u8 },
    Delete { slot: u8 },
    Break { slot: u8 },
    RemoveFolder { folder: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4usize, 0..12u8, 1..28u8, 0..4usize, 0..4usize, any::<u8>())
            .prop_map(|(folder, slot, day, category, tag, body)| Op::Create { folder, slot, day, category, tag, body }),
        3 => (0..12u8, 1..28u8, 0..4usize, any::<u8>()).prop_map(|(slot, day, tag, body)| Op::Edit { slot, day, tag, body }),
        2 => (0..12u8, 0..4usize, 0..12u8).prop_map(|(slot, to_folder, to_slot)| Op::Rename { slot, to_folder, to_slot }),
        2 => (0..12u8).prop_map(|slot| Op::Delete { slot }),
        1 => (0..12u8).prop_map(|slot| Op::Break { slot }),
        1 => (0..4usize).prop_map(|folder| Op::RemoveFolder { folder }),
    ]
}

fn post_text(day: u8, category: usize, tag: usize, body: u8) -> String {
    // Some posts look another slot's post up, which may come, move, change its URL or go.
    let other = body % 12;
    let stem = format!("2021-12-{:02}-post-{other}", other % 28 + 1);
    let lookup = match body % 3 {
        0 => format!("\n[其他]({{% post_url {stem} %}})\n"),
        1 => format!("\n[其他]({{% link _posts/{stem}.md %}})\n"),
        _ => String::new(),
    };
    format!(
        "---\ntitle: \"第{body}号 post {day}\"\ndate: 2021-12-{day:02} 08:{:02}:00 +0800\ncategories: [\"{}\"]\ntags: [\"{}\"]\n---\n<p>正文 {body}</p>\n\n[link](/x/{body}.html)\n{lookup}",
        body % 60,
        CATEGORIES[category],
        TAGS[tag]
    )
}

/// The tree, as the test knows it: slot → (folder, file name).
struct Tree {
    root: PathBuf,
    files: BTreeMap<u8, PathBuf>,
}

impl Tree {
    fn name(slot: u8) -> String {
        format!("2021-12-{:02}-post-{slot}.md", slot % 28 + 1)
    }

    /// Applies one operation and returns the paths a watcher would report.
    fn apply(&mut self, op: &Op) -> Vec<PathBuf> {
        match *op {
            Op::Create { folder, slot, day, category, tag, body } => {
                let dir = self.root.join(FOLDERS[folder]);
                fs::create_dir_all(&dir).unwrap();
                let path = dir.join(Self::name(slot));
                if let Some(old) = self.files.insert(slot, path.clone()) {
                    let _ = fs::remove_file(&old);
                    fs::write(&path, post_text(day, category, tag, body)).unwrap();
                    return vec![old, path];
                }
                fs::write(&path, post_text(day, category, tag, body)).unwrap();
                vec![path]
            }
            Op::Edit { slot, day, tag, body } => match self.files.get(&slot) {
                Some(path) => {
                    fs::write(path, post_text(day, usize::from(body) % 4, tag, body)).unwrap();
                    vec![path.clone()]
                }
                None => vec![],
            },
            Op::Rename { slot, to_folder, to_slot } => {
                let Some(from) = self.files.remove(&slot) else { return vec![] };
                let dir = self.root.join(FOLDERS[to_folder]);
                fs::create_dir_all(&dir).unwrap();
                let to = dir.join(Self::name(to_slot));
                let mut touched = vec![from.clone(), to.clone()];
                if let Some(replaced) = self.files.insert(to_slot, to.clone()) {
                    if replaced != to && replaced != from {
                        let _ = fs::remove_file(&replaced);
                        touched.push(replaced);
                    }
                }
                fs::rename(&from, &to).unwrap();
                touched
            }
            Op::Delete { slot } => match self.files.remove(&slot) {
                Some(path) => {
                    fs::remove_file(&path).unwrap();
                    vec![path]
                }
                None => vec![],
            },
            Op::Break { slot } => match self.files.get(&slot) {
                Some(path) => {
                    fs::write(path, "---\ntitle: [unclosed\n---\nbody\n").unwrap();
                    vec![path.clone()]
                }
                None => vec![],
            },
            Op::RemoveFolder { folder } => {
                let dir = self.root.join(FOLDERS[folder]);
                if !dir.exists() {
                    return vec![];
                }
                fs::remove_dir_all(&dir).unwrap();
                self.files.retain(|_, p| !p.starts_with(&dir));
                vec![dir]
            }
        }
    }
}

/// Without `keep_last_good`: a post kept as it last parsed differs from a full build on purpose
/// until its file parses again (tests/it/problems.rs covers it).
fn config(root: &Path, out: &Path) -> Config {
    let text = format!(
        "[site]\nurl = \"https://news.example.com\"\ntitle = \"T\"\ntimezone = \"Asia/Shanghai\"\n[source]\ndir = \"{}\"\narchive = [\"old_post\"]\n[output]\ndir = \"{}\"\n[feeds]\nlimit = 3\n[server]\nkeep_last_good = false\n",
        root.display(),
        out.display()
    );
    Config::parse(&text, Path::new("/")).unwrap()
}

fn bytes_of(snapshot: &Snapshot) -> BTreeMap<String, Vec<u8>> {
    snapshot.files.iter().map(|(k, v)| (k.clone(), v.body.to_bytes().to_vec())).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn incremental_updates_equal_a_full_build(batches in prop::collection::vec(prop::collection::vec(op(), 1..5), 1..8)) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("site");
        fs::create_dir_all(root.join("_posts")).unwrap();
        let out = dir.path().join("out");
        let config = config(&root, &out);
        let mut tree = Tree { root: fs::canonicalize(&root).unwrap(), files: BTreeMap::new() };
        // Kept as the daemon keeps them (memory files), compared with a build kept as regen does.
        let mut build = Build::load(config.clone()).unwrap();
        let (mut snap, _) = build.render(Utc::now(), &Snapshot::default(), None, Storage::MemFiles);
        let folder = OutputFolder::new(&out);
        folder.write_snapshot(&snap, &Default::default()).unwrap();
        for batch in &batches {
            let mut paths = Vec::new();
            for op in batch {
                paths.extend(tree.apply(op));
            }
            let changes = build.refresh(&paths);
            let (next, changed) = build.render(Utc::now(), &snap, Some(&changes.feeds), Storage::MemFiles);
            folder.update(&next, &changed).unwrap();
            snap = next;
        }
        let (fresh, _) = Build::load(config.clone()).unwrap().render(Utc::now(), &Snapshot::default(), None, Storage::Heap);
        prop_assert_eq!(bytes_of(&snap), bytes_of(&fresh));
        // The output folder, kept up to date file by file, equals a full write too.
        let full_out = dir.path().join("full");
        OutputFolder::new(&full_out).write_snapshot(&fresh, &Default::default()).unwrap();
        prop_assert_eq!(read_tree(&out), read_tree(&full_out));
    }
}

fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.insert(p.strip_prefix(dir).unwrap().to_string_lossy().into_owned(), fs::read(&p).unwrap());
            }
        }
    }
    files
}
