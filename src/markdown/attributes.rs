//! kramdown's inline attribute lists (`{: .class #id key="value" ref}`) and attribute list definitions
//! (`{:ref: …}`): parsing them, and merging them into an element's attributes as kramdown does.

use std::collections::HashMap;

/// HTML attributes in the order they were set, as kramdown writes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Attrs(pub Vec<(String, String)>);

impl Attrs {
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub(super) fn set(&mut self, name: &str, value: String) {
        match self.0.iter_mut().find(|(k, _)| k == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_string(), value)),
        }
    }

    pub(super) fn remove(&mut self, name: &str) -> Option<String> {
        let index = self.0.iter().position(|(k, _)| k == name)?;
        Some(self.0.remove(index).1)
    }

    /// Appends to `class`, as kramdown's `"#{old} #{new}".lstrip`.
    pub(super) fn add_class(&mut self, class: &str) {
        let joined = match self.get("class") {
            Some(old) => format!("{old} {class}").trim_start().to_string(),
            None => class.to_string(),
        };
        self.set("class", joined);
    }
}

/// A parsed `{: …}`: references to ALDs (such as `toc`) and attributes (class accumulated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Ial {
    pub refs: Vec<String>,
    pub attrs: Attrs,
}

fn merge_attrs(target: &mut Attrs, from: &Attrs) {
    for (key, value) in &from.0 {
        if key == "class" {
            target.add_class(value);
        } else {
            target.set(key, value.clone());
        }
    }
}

/// Applies an IAL to an element's attributes: first the ALDs it references (recursively, as kramdown's
/// `update_attr_with_ial`), then its own attributes.
pub(crate) fn apply(attrs: &mut Attrs, ial: &Ial, alds: &HashMap<String, Ial>) {
    apply_depth(attrs, ial, alds, 0);
}

fn apply_depth(attrs: &mut Attrs, ial: &Ial, alds: &HashMap<String, Ial>, depth: usize) {
    // ALDs may reference each other in a cycle; kramdown would recurse forever, we stop.
    if depth < 16 {
        for name in &ial.refs {
            if let Some(ald) = alds.get(name) {
                apply_depth(attrs, ald, alds, depth + 1);
            }
        }
    }
    merge_attrs(attrs, &ial.attrs);
}

fn is_id_start(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parses the inside of `{: …}` (or of an ALD). Tokens kramdown would not understand are skipped.
pub(crate) fn parse(text: &str, into: &mut Ial) {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        // key="value" / key='value', where the value may hold `\}` and an escaped quote.
        if is_id_start(chars[i]) {
            let mut j = i;
            while j < chars.len() && (is_word(chars[j]) || chars[j] == '-') {
                j += 1;
            }
            if j + 1 < chars.len() && chars[j] == '=' && (chars[j + 1] == '"' || chars[j + 1] == '\'') {
                let quote = chars[j + 1];
                let mut k = j + 2;
                let mut value = String::new();
                let mut closed = false;
                while k < chars.len() {
                    if chars[k] == '\\' && k + 1 < chars.len() && (chars[k + 1] == '}' || chars[k + 1] == quote) {
                        value.push(chars[k + 1]);
                        k += 2;
                    } else if chars[k] == quote {
                        closed = true;
                        break;
                    } else {
                        value.push(chars[k]);
                        k += 1;
                    }
                }
                if closed && (k + 1 >= chars.len() || chars[k + 1].is_whitespace()) {
                    let key: String = chars[i..j].iter().collect();
                    if key == "class" {
                        into.attrs.add_class(&value);
                    } else {
                        into.attrs.set(&key, value);
                    }
                    i = k + 1;
                    continue;
                }
            }
        }
        let end = chars[i..].iter().position(|c| c.is_whitespace()).map_or(chars.len(), |p| i + p);
        let token: String = chars[i..end].iter().collect();
        i = end;
        if token.starts_with('.') || token.starts_with('#') {
            parse_ids_and_classes(&token, into);
        } else if token.chars().next().is_some_and(is_id_start) && token.chars().all(|c| is_word(c) || c == '-') {
            into.refs.push(token);
        }
    }
}

/// `.a.b#c`: classes are added, the last id wins. A token kramdown's pattern rejects is dropped whole.
fn parse_ids_and_classes(token: &str, into: &mut Ial) {
    let mut parts: Vec<(char, &str)> = Vec::new();
    let mut rest = token;
    while let Some(marker) = rest.chars().next() {
        let body = &rest[1..];
        let len = body.find(['.', '#']).unwrap_or(body.len());
        let name = &body[..len];
        let valid = match marker {
            '.' => !name.is_empty(),
            _ => {
                name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && name.chars().all(|c| is_word(c) || c == ':' || c == '-')
            }
        };
        if !valid {
            return;
        }
        parts.push((marker, name));
        rest = &body[len..];
    }
    for (marker, name) in parts {
        if marker == '.' {
            into.attrs.add_class(name);
        } else {
            into.attrs.set("id", name.to_string());
        }
    }
}

/// What a `{:` line or span holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Extension<'a> {
    /// `{: …}` or `{:toc}`: an inline attribute list.
    Ial(&'a str),
    /// `{:name: …}`: an attribute list definition.
    Ald(&'a str, &'a str),
    /// `{::name …}` (`/}` closed) or `{:/name}`: an extension tag.
    Tag,
}

/// Reads one `{:…}` at the start of `text`; returns it and its length in bytes. `\}` does not close it.
/// Block extensions stand on one line.
pub(crate) fn scan_braces(text: &str) -> Option<(Extension<'_>, usize)> {
    scan_braces_within(text, false)
}

/// [`scan_braces`] for a span IAL, which may run over line ends as kramdown allows.
pub(crate) fn scan_span_braces(text: &str) -> Option<(Extension<'_>, usize)> {
    scan_braces_within(text, true)
}

fn scan_braces_within(text: &str, multiline: bool) -> Option<(Extension<'_>, usize)> {
    let inner_start = 2;
    if !text.starts_with("{:") {
        return None;
    }
    let bytes = text.as_bytes();
    let mut i = inner_start;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if bytes.get(i + 1) == Some(&b'}') => i += 2,
            b'}' => break,
            b'\n' if !multiline => return None,
            _ => i += 1,
        }
    }
    if i >= bytes.len() || i == inner_start {
        return None;
    }
    let inner = &text[inner_start..i];
    let len = i + 1;
    if inner.starts_with(':') || inner.starts_with('/') {
        return Some((Extension::Tag, len));
    }
    // `{:name: …}` defines an ALD when the name is a word.
    if let Some((name, body)) = inner.split_once(':') {
        if !name.is_empty()
            && name.chars().next().is_some_and(is_id_start)
            && name.chars().all(|c| is_word(c) || c == '-')
            && !body.is_empty()
        {
            return Some((Extension::Ald(name, body), len));
        }
    }
    Some((Extension::Ial(inner), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ial(text: &str) -> Ial {
        let mut ial = Ial::default();
        parse(text, &mut ial);
        ial
    }

    #[test]
    fn classes_ids_pairs_and_references() {
        let parsed = ial(r#" .lead #intro.wide data-x="a \" b" toc title='it''s' "#);
        assert_eq!(parsed.refs, vec!["toc".to_string()]);
        assert_eq!(parsed.attrs.get("class"), Some("lead wide"));
        assert_eq!(parsed.attrs.get("id"), Some("intro"));
        assert_eq!(parsed.attrs.get("data-x"), Some("a \" b"));
        assert_eq!(parsed.attrs.get("title"), None, "a value followed by more text is not a pair");
    }

    #[test]
    fn references_apply_before_own_attributes_and_cycles_stop() {
        let mut alds = HashMap::new();
        alds.insert("note".to_string(), ial(".note #n other"));
        alds.insert("other".to_string(), ial(".other note"));
        let mut attrs = Attrs::default();
        attrs.add_class("x");
        apply(&mut attrs, &ial("note .mine #mine"), &alds);
        assert_eq!(attrs.get("class").unwrap().split(' ').next_back(), Some("mine"));
        assert!(attrs.get("class").unwrap().starts_with("x other"));
        assert_eq!(attrs.get("id"), Some("mine"));
    }

    #[test]
    fn brace_kinds() {
        assert_eq!(scan_braces("{:toc}"), Some((Extension::Ial("toc"), 6)));
        assert_eq!(scan_braces("{: .a}x"), Some((Extension::Ial(" .a"), 6)));
        assert_eq!(scan_braces("{:ref: .a}"), Some((Extension::Ald("ref", " .a"), 10)));
        assert_eq!(scan_braces("{::comment}"), Some((Extension::Tag, 11)));
        assert_eq!(scan_braces("{:/}"), Some((Extension::Tag, 4)));
        assert_eq!(scan_braces("{:}"), None);
        assert_eq!(scan_braces("{: .a"), None);
        assert_eq!(scan_braces(r"{: title='\}'}"), Some((Extension::Ial(r" title='\}'"), 14)));
    }
}
