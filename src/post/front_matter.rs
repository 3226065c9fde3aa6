//! Splits a post into front matter and body, and reads the front matter's YAML into plain values.

/// A post's text cut in two: the YAML between the `---` lines and the body after them.
pub(crate) struct Split<'a> {
    pub(crate) yaml: &'a str,
    pub(crate) body: &'a str,
    /// 1-based line of the first YAML line, so YAML errors can name the file's line.
    pub(crate) yaml_first_line: usize,
    /// 1-based line of the body's first line.
    pub(crate) body_first_line: usize,
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
            let body_start = after_blank_lines(text, line_end.unwrap_or(text.len()));
            let body_first_line = 1 + text[..body_start].matches('\n').count();
            return Ok(Split {
                yaml: &text[yaml_start..pos],
                body: &text[body_start..],
                yaml_first_line: 2,
                body_first_line,
            });
        }
        match line_end {
            Some(e) => pos = e + 1,
            None => break,
        }
    }
    Err(SplitError::Unclosed)
}

/// Where the body starts, from the end of the closing marker (`at`): Jekyll's pattern ends the
/// front matter with `(---|\.\.\.)\s*$\n?`, and Ruby's `\s` takes line breaks, so every blank
/// line after the marker goes with it. The body starts after the last line break of the
/// whitespace that follows the marker, keeping the indent of its first line (an indented code
/// block stays one); a body of only whitespace is empty.
fn after_blank_lines(text: &str, at: usize) -> usize {
    let rest = &text[at..];
    let blank = rest.len() - rest.trim_start_matches([' ', '\t', '\r', '\n', '\x0c', '\x0b']).len();
    if blank == rest.len() {
        return text.len();
    }
    rest[..blank].rfind('\n').map_or(at, |last| at + last + 1)
}

/// A YAML value reduced to what front matter fields can hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Field {
    Null,
    /// A string as written (YAML strings, and dates and times, which stay as written).
    Text(String),
    /// A number or boolean, turned into text as Ruby's `to_s` would (`8` for `010`, `false` for
    /// `no`).
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

/// Parses front-matter YAML as Jekyll's reader does (YAML 1.1, see [`super::yaml`]). Empty YAML
/// is an empty mapping; anything but a mapping is an error. Depth and alias expansion are
/// bounded, so bombs fail fast instead of growing.
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
    match super::yaml::load::<Field>(yaml, LIMITS)? {
        None | Some(Field::Null) => Ok(FrontMatter::default()),
        Some(Field::Map(fields)) => {
            let mut repeated: Vec<String> = Vec::new();
            for (i, (key, _)) in fields.iter().enumerate() {
                if fields[..i].iter().any(|(k, _)| k == key) && !repeated.contains(key) {
                    repeated.push(key.clone());
                }
            }
            Ok(FrontMatter { fields, repeated })
        }
        Some(_) => Err(YamlError { message: "front matter is not a mapping of keys to values".into(), line: Some(1) }),
    }
}

/// YAML with its types (numbers, booleans, null) as Jekyll's reader gives them, for Liquid:
/// `_data` files, `_config.yml` as `site`, front matter as `page`. Empty YAML is null. Bounded
/// as front matter is, but for size: the caller decides how much to read.
pub(crate) fn parse_value(yaml: &str) -> Result<serde_yaml::Value, YamlError> {
    if let Some(line) = too_deep(yaml) {
        return Err(YamlError { message: format!("nests more than {MAX_FLOW_DEPTH} levels deep"), line: Some(line) });
    }
    Ok(super::yaml::load(yaml, LIMITS)?.unwrap_or(serde_yaml::Value::Null))
}

/// serde_yaml's depth limit, which front matter was read with before.
const LIMITS: super::yaml::Limits = super::yaml::Limits { max_depth: 128 };

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

    /// Jekyll's `(---|\.\.\.)\s*$\n?` takes the blank lines after the marker with it, but not the
    /// indent of the first line that has text.
    #[test]
    fn blank_lines_after_the_marker_are_not_the_body() {
        for (text, body, line) in [
            ("---\na: 1\n---\n\n\nFirst words.\n\nMore.\n", "First words.\n\nMore.\n", 6),
            ("---\na: 1\n---  \n \t\n\n    code\n", "    code\n", 6),
            ("---\r\na: 1\r\n---\r\n\r\nText\r\n", "Text\r\n", 5),
            ("---\na: 1\n---\n\n  \n", "", 6),
            ("---\na: 1\n---\nText", "Text", 4),
        ] {
            let s = split(text).unwrap();
            assert_eq!((s.body, s.body_first_line), (body, line), "{text:?}");
        }
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
        assert_eq!(fm.get("inf"), Some(&Field::Scalar("Infinity".into())));
        assert_eq!(fm.get("1"), Some(&Field::Text("one".into())));
        assert_eq!(fm.get("true"), Some(&Field::Scalar("true".into())));
        assert_eq!(fm.fields.len(), 6, "{:?}", fm.fields);
    }

    /// Jekyll reads YAML with Psych (YAML 1.1): `no` is false, `010` is 8, `1:30` is 5400, at
    /// any depth; quoted and block scalars stay text. Each value checked with Ruby 3.1's Psych.
    #[test]
    fn plain_scalars_are_typed_as_psych_types_them_quoted_ones_stay_text() {
        let fm = parse_yaml(
            "published: no
title: 010
duration: 1:30
hex: 0x1f
big: 1_000
flag: On
quoted: 'no'
double: \"010\"
block: |\n  no\nletter: n\ntags: [no, 'yes', 1e5]\nnested:\n  - deep: {on: off}\n",
        )
        .unwrap();
        let scalar = |s: &str| Some(Field::Scalar(s.into()));
        let text = |s: &str| Some(Field::Text(s.into()));
        assert_eq!(fm.get("published").cloned(), scalar("false"));
        assert_eq!(fm.get("title").cloned(), scalar("8"));
        assert_eq!(fm.get("duration").cloned(), scalar("5400"));
        assert_eq!(fm.get("hex").cloned(), scalar("31"));
        assert_eq!(fm.get("big").cloned(), scalar("1000"));
        assert_eq!(fm.get("flag").cloned(), scalar("true"));
        assert_eq!(fm.get("quoted").cloned(), text("no"));
        assert_eq!(fm.get("double").cloned(), text("010"));
        assert_eq!(fm.get("block").cloned(), text("no\n"));
        assert_eq!(fm.get("letter").cloned(), text("n"));
        assert_eq!(
            fm.get("tags").cloned(),
            Some(Field::List(vec![
                Field::Scalar("false".into()),
                Field::Text("yes".into()),
                Field::Text("1e5".into())
            ]))
        );
        let Some(Field::List(nested)) = fm.get("nested") else { panic!("nested is a list") };
        assert_eq!(nested[0].get("deep").and_then(|d| d.get("true")), Some(&Field::Scalar("false".into())));
    }

    #[test]
    fn tags_anchors_and_merge_keys_as_psych_reads_them() {
        let fm = parse_yaml(
            "a: !!str no\nb: !custom 'no'\nc: &flag off\nd: *flag\nbase: &base {x: 1, y: 2}\nm:\n  <<: *base\n  y: 3\nl:\n  <<: [{x: a}, {x: b, z: c}]\nq: {'<<': {k: v}}\ns: {!!str '<<': {k: v}}\n",
        )
        .unwrap();
        assert_eq!(fm.get("a"), Some(&Field::Text("no".into())));
        assert_eq!(fm.get("b"), Some(&Field::Scalar("false".into())));
        assert_eq!(fm.get("d"), Some(&Field::Scalar("false".into())));
        let m = fm.get("m").unwrap();
        assert_eq!((m.get("x"), m.get("y")), (Some(&Field::Scalar("1".into())), Some(&Field::Scalar("3".into()))));
        let l = fm.get("l").unwrap();
        assert_eq!((l.get("x"), l.get("z")), (Some(&Field::Text("a".into())), Some(&Field::Text("c".into()))));
        assert_eq!(fm.get("q").and_then(|q| q.get("k")), Some(&Field::Text("v".into())));
        assert!(fm.get("s").and_then(|s| s.get("<<")).is_some());
        assert!(fm.repeated.is_empty(), "{:?}", fm.repeated);
    }

    #[test]
    fn what_psych_refuses_is_an_error_with_its_line() {
        let err = parse_yaml("title: ok\nmood: :)\n").unwrap_err();
        assert_eq!(err.line, Some(2), "{err:?}");
        assert!(err.message.contains("symbol"), "{err:?}");
        let err = parse_yaml("a: 1\nb: *nowhere\n").unwrap_err();
        assert_eq!(err.line, Some(2), "{err:?}");
    }

    #[test]
    fn values_for_liquid_keep_psychs_types() {
        use serde_yaml::Value;
        let value = parse_value("a: no\nb: 010\nc: 1.5\nd: 'yes'\ne: ~\n").unwrap();
        assert_eq!(value.get("a"), Some(&Value::Bool(false)));
        assert_eq!(value.get("b"), Some(&Value::Number(8.into())));
        assert_eq!(value.get("c"), Some(&Value::Number(1.5.into())));
        assert_eq!(value.get("d"), Some(&Value::String("yes".into())));
        assert_eq!(value.get("e"), Some(&Value::Null));
        assert_eq!(parse_value("").unwrap(), Value::Null);
        assert_eq!(parse_value("- on\n").unwrap(), Value::Sequence(vec![Value::Bool(true)]));
        // Only the first document, as Psych's `safe_load`.
        assert_eq!(parse_value("a: 1\n---\nb: 2\n").unwrap().get("b"), None);
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
