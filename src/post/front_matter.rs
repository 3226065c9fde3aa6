//! Splits a post into front matter and body, and reads the front matter's YAML into plain values.
//! The only module that touches `serde_yaml` (deprecated upstream, so it stays contained here).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};

/// A post's text cut in two: the YAML between the `---` lines and the body after them.
pub(crate) struct Split<'a> {
    pub(crate) yaml: &'a str,
    pub(crate) body: &'a str,
    /// 1-based line of the first YAML line, so YAML errors can name the file's line.
    pub(crate) yaml_first_line: usize,
}

#[derive(Debug, PartialEq)]
pub(crate) enum SplitError {
    NoFrontMatter,
    Unclosed,
}

/// Jekyll's rule: the file starts with `---` (after an optional BOM) on a line of its own, and the
/// front matter ends at the next line that is `---` or `...`. CRLF line ends are accepted.
pub(crate) fn split(text: &str) -> Result<Split<'_>, SplitError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_end = text.find('\n').ok_or(SplitError::NoFrontMatter)?;
    let first = &text[..first_end];
    if !first.starts_with("---") || !first[3..].trim().is_empty() {
        return Err(SplitError::NoFrontMatter);
    }
    let yaml_start = first_end + 1;
    let mut pos = yaml_start;
    while pos <= text.len() {
        let line_end = text[pos..].find('\n').map(|i| pos + i);
        let line = &text[pos..line_end.unwrap_or(text.len())];
        let marker = line.trim_end();
        if (marker.starts_with("---") || marker.starts_with("..."))
            && marker[3..].trim().is_empty()
            && marker.len() >= 3
        {
            let body_start = line_end.map(|e| e + 1).unwrap_or(text.len());
            return Ok(Split { yaml: &text[yaml_start..pos], body: &text[body_start..], yaml_first_line: 2 });
        }
        match line_end {
            Some(e) => pos = e + 1,
            None => break,
        }
    }
    Err(SplitError::Unclosed)
}

/// A YAML value reduced to what front matter fields can hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    Null,
    /// A string as written (YAML strings, and unquoted dates, which YAML 1.2 reads as strings).
    Text(String),
    /// A number or boolean, turned into text as Jekyll's `to_s` would.
    Scalar(String),
    List(Vec<Field>),
    Map(Vec<(String, Field)>),
}

impl Field {
    /// The text of a string, number or boolean.
    pub(crate) fn as_text(&self) -> Option<&str> {
        match self {
            Field::Text(s) | Field::Scalar(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn get(&self, key: &str) -> Option<&Field> {
        match self {
            Field::Map(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// The front matter's top-level mapping, in file order.
#[derive(Debug, Default)]
pub(crate) struct FrontMatter {
    pub(crate) fields: Vec<(String, Field)>,
    /// Keys set more than once; as in Jekyll's YAML reader, the last value is the one used.
    pub(crate) repeated: Vec<String>,
}

impl FrontMatter {
    pub(crate) fn get(&self, key: &str) -> Option<&Field> {
        self.fields.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

#[derive(Debug)]
pub(crate) struct YamlError {
    pub(crate) message: String,
    /// 1-based line within the YAML text, where the parser knows it.
    pub(crate) line: Option<usize>,
}

/// Parses front-matter YAML. Empty YAML is an empty mapping; anything but a mapping is an error.
/// `serde_yaml` bounds recursion depth and alias expansion, so bombs fail fast instead of growing.
pub(crate) fn parse_yaml(yaml: &str) -> Result<FrontMatter, YamlError> {
    if yaml.trim().is_empty() {
        return Ok(FrontMatter::default());
    }
    // libyaml parses a whole document before serde_yaml's depth limit applies, in time that grows
    // with the square of the nesting: refuse deep flow nesting and huge front matter up front.
    if yaml.len() > MAX_YAML_BYTES {
        return Err(YamlError { message: format!("front matter is over {} KiB", MAX_YAML_BYTES / 1024), line: None });
    }
    if let Some(line) = too_deep(yaml) {
        return Err(YamlError {
            message: format!("front matter nests more than {MAX_FLOW_DEPTH} levels deep"),
            line: Some(line),
        });
    }
    // Straight into `Field`s, without building `serde_yaml::Value`s first: at 100,000 posts
    // that intermediate tree was a fifth of the parse time.
    let document: Document = serde_yaml::from_str(yaml)
        .map_err(|e| YamlError { line: e.location().map(|l| l.line()), message: first_line(&e.to_string()) })?;
    match document.0 {
        Field::Null => Ok(FrontMatter::default()),
        Field::Map(fields) => {
            let mut repeated: Vec<String> = Vec::new();
            for (i, (key, _)) in fields.iter().enumerate() {
                if fields[..i].iter().any(|(k, _)| k == key) && !repeated.contains(key) {
                    repeated.push(key.clone());
                }
            }
            Ok(FrontMatter { fields, repeated })
        }
        _ => Err(YamlError { message: "front matter is not a mapping of keys to values".into(), line: Some(1) }),
    }
}

/// A whole YAML document as one `Field`.
struct Document(Field);

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Document, D::Error> {
        deserializer.deserialize_any(FieldVisitor).map(Document)
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Field, D::Error> {
        deserializer.deserialize_any(FieldVisitor)
    }
}

/// Numbers and booleans become text as Ruby's `to_s` writes them; tags (`!foo x`) are dropped,
/// keeping the value; keys that are lists or maps are dropped with their values.
struct FieldVisitor;

impl<'de> Visitor<'de> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }

    fn visit_unit<E>(self) -> Result<Field, E> {
        Ok(Field::Null)
    }

    fn visit_none<E>(self) -> Result<Field, E> {
        Ok(Field::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Field, E> {
        Ok(Field::Scalar(v.to_string()))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Field, E> {
        Ok(Field::Scalar(v.to_string()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Field, E> {
        Ok(Field::Scalar(v.to_string()))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Field, E> {
        Ok(Field::Scalar(v.to_string()))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Field, E> {
        Ok(Field::Scalar(v.to_string()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Field, E> {
        Ok(Field::Scalar(serde_yaml::Number::from(v).to_string()))
    }

    fn visit_str<E>(self, v: &str) -> Result<Field, E> {
        Ok(Field::Text(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Field, E> {
        Ok(Field::Text(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Field, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element::<Field>()? {
            items.push(item);
        }
        Ok(Field::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Field, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(key) = map.next_key::<Field>()? {
            let value = map.next_value::<Field>()?;
            if let Some(key) = key.as_text() {
                entries.push((key.to_string(), value));
            }
        }
        Ok(Field::Map(entries))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Field, A::Error> {
        let (_tag, value): (de::IgnoredAny, _) = data.variant()?;
        value.newtype_variant::<Field>()
    }
}

const MAX_YAML_BYTES: usize = 1024 * 1024;
const MAX_FLOW_DEPTH: usize = 64;

/// The line where `[`/`{` nesting first passes the limit. Brackets inside quotes count too: a
/// false alarm needs dozens of unclosed brackets in one value.
fn too_deep(yaml: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, line) in yaml.lines().enumerate() {
        for b in line.bytes() {
            match b {
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some(i + 1);
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
    }
    None
}

fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message);
    // serde_yaml appends " at line N column M"; the caller reports the line itself.
    match line.find(" at line ") {
        Some(i) => line[..i].to_string(),
        None => line.to_string(),
    }
}

/// The text after `key:` on the last top-level line that sets `key`, as written (quotes and
/// all). YAML loses quoting, and Jekyll's YAML reader treats quoted and bare dates differently.
pub(crate) fn raw_value<'a>(yaml: &'a str, key: &str) -> Option<&'a str> {
    yaml.lines().rev().find_map(|line| {
        let rest = line.strip_prefix(key)?.trim_start_matches([' ', '\t']);
        rest.strip_prefix(':').map(str::trim)
    })
}

/// The 0-based index, within `yaml`, of the last top-level line that sets `key` (the value that
/// is used), by the same rule as [`raw_value`].
pub(crate) fn key_line(yaml: &str, key: &str) -> Option<usize> {
    yaml.lines()
        .enumerate()
        .filter(|(_, line)| {
            line.strip_prefix(key).is_some_and(|rest| rest.trim_start_matches([' ', '\t']).starts_with(':'))
        })
        .last()
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lf_crlf_and_bom() {
        let s = split("---\ntitle: a\n---\nbody\n").unwrap();
        assert_eq!((s.yaml, s.body), ("title: a\n", "body\n"));
        let s = split("\u{feff}---\r\ntitle: a\r\n---\r\nbody\r\n").unwrap();
        assert_eq!((s.yaml, s.body), ("title: a\r\n", "body\r\n"));
        let s = split("---\n---\n").unwrap();
        assert_eq!((s.yaml, s.body), ("", ""));
        let s = split("--- \ntitle: a\n...\nbody").unwrap();
        assert_eq!(s.body, "body");
        let s = split("---\na: 1\n---").unwrap();
        assert_eq!((s.yaml, s.body), ("a: 1\n", ""));
    }

    #[test]
    fn rejects_what_jekyll_does_not_read_as_front_matter() {
        assert_eq!(split("").err(), Some(SplitError::NoFrontMatter));
        assert_eq!(split("title: a\n").err(), Some(SplitError::NoFrontMatter));
        assert_eq!(split("----\na: 1\n---\n").err(), Some(SplitError::NoFrontMatter));
        assert_eq!(split("---\ntitle: a\nbody\n").err(), Some(SplitError::Unclosed));
        assert_eq!(split("---title\n---\n").err(), Some(SplitError::NoFrontMatter));
    }

    #[test]
    fn yaml_values_become_fields() {
        let fm = parse_yaml("title: \"x\"\ncount: 3\nok: false\nnone:\nlist: [a, 1]\nmap: {name: n}\n").unwrap();
        assert_eq!(fm.get("title"), Some(&Field::Text("x".into())));
        assert_eq!(fm.get("count"), Some(&Field::Scalar("3".into())));
        assert_eq!(fm.get("ok"), Some(&Field::Scalar("false".into())));
        assert_eq!(fm.get("none"), Some(&Field::Null));
        assert_eq!(fm.get("list"), Some(&Field::List(vec![Field::Text("a".into()), Field::Scalar("1".into())])));
        assert_eq!(fm.get("map").and_then(|m| m.get("name")), Some(&Field::Text("n".into())));
    }

    #[test]
    fn tags_big_numbers_floats_and_odd_keys() {
        let fm = parse_yaml(
            "title: !custom tagged\nbig: 123456789012345678901234567890\nf: 1.0\ninf: .inf\n? [a, b]\n: dropped\n1: one\ntrue: yes\n",
        )
        .unwrap();
        assert_eq!(fm.get("title"), Some(&Field::Text("tagged".into())));
        assert_eq!(fm.get("big"), Some(&Field::Scalar("123456789012345678901234567890".into())));
        assert_eq!(fm.get("f"), Some(&Field::Scalar("1.0".into())));
        assert_eq!(fm.get("inf"), Some(&Field::Scalar(".inf".into())));
        assert_eq!(fm.get("1"), Some(&Field::Text("one".into())));
        assert_eq!(fm.get("true"), Some(&Field::Text("yes".into())));
        assert_eq!(fm.fields.len(), 6, "{:?}", fm.fields);
    }

    #[test]
    fn a_repeated_key_keeps_the_last_value_and_is_reported() {
        let fm = parse_yaml("title: first\ndate: 2020-01-01\ntitle: second\nmap: {a: 1, a: 2}\n").unwrap();
        assert_eq!(fm.get("title"), Some(&Field::Text("second".into())));
        assert_eq!(fm.get("map").and_then(|m| m.get("a")), Some(&Field::Scalar("2".into())));
        assert_eq!(fm.repeated, vec!["title".to_string()]);
        assert_eq!(raw_value("date: '2020-01-01'\ndate: 2021-01-01\n", "date"), Some("2021-01-01"));
    }

    #[test]
    fn yaml_errors_carry_a_line() {
        let err = parse_yaml("layout: a\ntitle: GitHub - x: y\n").unwrap_err();
        assert_eq!(err.line, Some(2), "{err:?}");
        assert!(parse_yaml("- a\n- b\n").is_err());
    }

    #[test]
    fn alias_bombs_and_deep_nesting_fail_fast() {
        let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            bomb.push_str(&format!("a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"));
        }
        assert!(parse_yaml(&bomb).is_err());
        let deep = format!("a: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        assert!(parse_yaml(&deep).is_err());
    }
}
