//! `site.data` from a site's `_data/` folder, as Jekyll reads it: YAML, JSON, CSV and TSV files
//! (tables with a header row become arrays of hashes), folders as nested hashes. A file that cannot
//! be read is reported with its line and left out; nothing here is fatal.

use std::path::Path;

use liquid_core::model::Value;
use liquid_core::Object;

use super::{Problem, ProblemKind};

/// Largest data file read; larger ones are reported and left out.
const MAX_DATA_FILE_BYTES: u64 = 32 * 1024 * 1024;

/// Reads `<site_root>/_data`. A missing folder gives an empty object.
pub fn load_data(site_root: &Path) -> (Object, Vec<Problem>) {
    let mut problems = Vec::new();
    let dir = site_root.join("_data");
    let data = match dir.canonicalize() {
        // A `_data` that is a link out of the site would publish whatever it points at.
        Ok(canonical) if !site_root.canonicalize().is_ok_and(|root| canonical.starts_with(root)) => {
            problems.push(problem("_data", 0, "links outside the site; site.data is left empty".into()));
            Object::new()
        }
        Ok(canonical) => read_folder(&dir, &canonical, "_data", 0, &mut problems),
        Err(_) => Object::new(),
    };
    (data, problems)
}

/// Jekyll's `sanitize_filename` for data keys: drops what is not a word character, space or `-`,
/// and joins words with `_`.
fn data_key(stem: &str) -> String {
    let kept: String =
        stem.chars().filter(|c| c.is_alphanumeric() || *c == '_' || *c == '-' || c.is_whitespace()).collect();
    kept.split_whitespace().collect::<Vec<_>>().join("_")
}

fn read_folder(dir: &Path, root: &Path, shown: &str, depth: usize, problems: &mut Vec<Problem>) -> Object {
    let mut data = Object::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return data };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if name.starts_with('.') {
            continue;
        }
        let shown_path = format!("{shown}/{name}");
        // Symbolic links are followed only inside `_data`.
        let Ok(canonical) = path.canonicalize() else { continue };
        if !canonical.starts_with(root) {
            problems.push(problem(&shown_path, 0, "links outside `_data`; left out".into()));
            continue;
        }
        if canonical.is_dir() {
            if depth < 16 {
                let nested = read_folder(&path, root, &shown_path, depth + 1, problems);
                data.insert(data_key(name).into(), Value::Object(nested));
            }
            continue;
        }
        let Some((stem, extension)) = name.rsplit_once('.') else { continue };
        let extension = extension.to_ascii_lowercase();
        if !matches!(extension.as_str(), "yml" | "yaml" | "json" | "csv" | "tsv") {
            continue;
        }
        match read_file(&canonical, &extension) {
            Ok(value) => {
                data.insert(data_key(stem).into(), value);
            }
            Err((line, message)) => {
                problems.push(problem(&shown_path, line, format!("{message}; the file is left out of site.data")))
            }
        }
    }
    data
}

fn problem(path: &str, line: u32, message: String) -> Problem {
    Problem { path: path.to_owned(), line, kind: ProblemKind::Data, message }
}

fn read_file(path: &Path, extension: &str) -> Result<Value, (u32, String)> {
    let meta = std::fs::metadata(path).map_err(|e| (0, e.to_string()))?;
    // Reading a FIFO or a device would wait for a writer that may never come.
    if !meta.is_file() {
        return Err((0, "not a regular file".to_owned()));
    }
    let size = meta.len();
    if size > MAX_DATA_FILE_BYTES {
        return Err((0, format!("larger than {MAX_DATA_FILE_BYTES} bytes")));
    }
    let bytes = std::fs::read(path).map_err(|e| (0, e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|_| (0, "not UTF-8".to_owned()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    match extension {
        "json" => serde_json::from_str::<serde_json::Value>(text)
            .map(from_json)
            .map_err(|e| (e.line() as u32, format!("JSON: {e}"))),
        "csv" => read_table(text, b','),
        "tsv" => read_table(text, b'\t'),
        _ => {
            if text.trim().is_empty() {
                return Ok(Value::Nil);
            }
            crate::post::front_matter::parse_value(text)
                .map(from_yaml)
                .map_err(|e| (e.line.map_or(0, |l| l as u32), format!("YAML: {}", e.message)))
        }
    }
}

/// A table with a header row: one hash per row, header → cell text (nil for a missing cell).
fn read_table(text: &str, delimiter: u8) -> Result<Value, (u32, String)> {
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).flexible(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| (csv_line(&e), format!("table: {e}")))?.clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| (csv_line(&e), format!("table: {e}")))?;
        let mut row = Object::new();
        for (i, header) in headers.iter().enumerate() {
            let cell = record.get(i).filter(|c| !c.is_empty()).map_or(Value::Nil, |c| Value::scalar(c.to_owned()));
            row.insert(header.to_owned().into(), cell);
        }
        rows.push(Value::Object(row));
    }
    Ok(Value::Array(rows))
}

fn csv_line(e: &csv::Error) -> u32 {
    e.position().map_or(0, |p| p.line() as u32)
}

/// A YAML value as a Liquid value; keys become text.
pub fn from_yaml(value: serde_yaml::Value) -> Value {
    match value {
        serde_yaml::Value::Null => Value::Nil,
        serde_yaml::Value::Bool(b) => Value::scalar(b),
        serde_yaml::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::scalar(i),
            None => Value::scalar(n.as_f64().unwrap_or(0.0)),
        },
        serde_yaml::Value::String(s) => Value::scalar(s),
        serde_yaml::Value::Sequence(items) => Value::Array(items.into_iter().map(from_yaml).collect()),
        serde_yaml::Value::Mapping(map) => {
            let mut object = Object::new();
            for (key, value) in map {
                let key = match key {
                    serde_yaml::Value::String(s) => s,
                    serde_yaml::Value::Number(n) => n.to_string(),
                    serde_yaml::Value::Bool(b) => b.to_string(),
                    serde_yaml::Value::Null => String::new(),
                    other => serde_yaml::to_string(&other).unwrap_or_default().trim().to_owned(),
                };
                object.insert(key.into(), from_yaml(value));
            }
            Value::Object(object)
        }
        serde_yaml::Value::Tagged(tagged) => from_yaml(tagged.value),
    }
}

/// A JSON value as a Liquid value.
pub fn from_json(value: serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::Nil,
        serde_json::Value::Bool(b) => Value::scalar(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::scalar(i),
            None => Value::scalar(n.as_f64().unwrap_or(0.0)),
        },
        serde_json::Value::String(s) => Value::scalar(s),
        serde_json::Value::Array(items) => Value::Array(items.into_iter().map(from_json).collect()),
        serde_json::Value::Object(map) => {
            let mut object = Object::new();
            for (key, value) in map {
                object.insert(key.into(), from_json(value));
            }
            Value::Object(object)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use liquid_core::model::ValueView;

    fn write(root: &Path, path: &str, text: &str) {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn get<'a>(object: &'a Object, path: &[&str]) -> Option<&'a Value> {
        let (first, rest) = path.split_first()?;
        let value = object.get(*first)?;
        if rest.is_empty() {
            return Some(value);
        }
        match value {
            Value::Object(o) => get(o, rest),
            _ => None,
        }
    }

    #[test]
    fn yaml_json_csv_and_tsv_files_and_folders_become_site_data() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "_data/authors.yml", "alice:\n  name: Alice\n  email: a@x.org\n");
        write(dir.path(), "_data/nav.json", r#"[{"title": "Home", "url": "/"}, {"title": "About", "url": "/about/"}]"#);
        write(dir.path(), "_data/people.csv", "name,role\nAnn,editor\nBo,\n");
        write(dir.path(), "_data/sub/deep/items.tsv", "k\tv\na\t1\n");
        write(dir.path(), "_data/my file.yaml", "x: 1\n");
        write(dir.path(), "_data/ignored.txt", "nope");
        let (data, problems) = load_data(dir.path());
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(get(&data, &["authors", "alice", "name"]).unwrap().to_kstr(), "Alice");
        let Value::Array(nav) = get(&data, &["nav"]).unwrap() else { panic!("nav is an array") };
        assert_eq!(nav.len(), 2);
        let Value::Array(people) = get(&data, &["people"]).unwrap() else { panic!("people is an array") };
        let Value::Object(bo) = &people[1] else { panic!("rows are hashes") };
        assert_eq!(bo.get("name").unwrap().to_kstr(), "Bo");
        assert!(bo.get("role").unwrap().is_nil());
        let Value::Array(items) = get(&data, &["sub", "deep", "items"]).unwrap() else { panic!("tsv is an array") };
        let Value::Object(row) = &items[0] else { panic!("rows are hashes") };
        assert_eq!(row.get("v").unwrap().to_kstr(), "1");
        assert!(get(&data, &["my_file", "x"]).is_some());
        assert!(data.get("ignored").is_none());
    }

    #[test]
    fn a_broken_file_is_reported_with_its_line_and_the_others_still_load() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "_data/good.yml", "a: 1\n");
        write(dir.path(), "_data/bad.yml", "a: 1\nb: [unclosed\nc: 3\n");
        write(dir.path(), "_data/bad.json", "{\n  \"a\": 1,\n  oops\n}");
        let (data, problems) = load_data(dir.path());
        assert!(data.get("good").is_some());
        assert!(data.get("bad").is_none());
        let shown: Vec<String> = problems.iter().map(|p| format!("{}:{}", p.path, p.line)).collect();
        assert!(shown.contains(&"_data/bad.json:3".to_string()), "{shown:?}");
        assert!(shown.iter().any(|s| s.starts_with("_data/bad.yml:") && !s.ends_with(":0")), "{shown:?}");
        assert!(problems.iter().all(|p| p.kind == ProblemKind::Data));
    }

    #[test]
    fn no_data_folder_is_no_data() {
        let dir = tempfile::tempdir().unwrap();
        let (data, problems) = load_data(dir.path());
        assert!(data.is_empty() && problems.is_empty());
    }
}
