//! Splits a template into text, `{{ output }}` and `{% tag %}` tokens where Ruby Liquid splits it,
//! and reads the parts of a token (name, markup, whitespace control) the way Ruby Liquid reads them.

use std::borrow::Cow;

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Text,
    Output,
    Tag,
    /// A `{{` or `{%` that Ruby Liquid rejects: no closing delimiter, or an output closed by a single `}`.
    Unterminated,
}

/// One token: a byte range of the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
    /// 1-based line of `start` in the source.
    pub line: u32,
}

/// Tokens as Ruby Liquid's tokenizer cuts them: a tag runs from `{%` to the first `%}`, an output from
/// `{{` to the first `}` (plus one more `}` if it follows).
pub(crate) fn tokenize(source: &str) -> Vec<Token> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    let mut line = 1u32;
    let push = |tokens: &mut Vec<Token>, kind, start: usize, end: usize, line: &mut u32| {
        tokens.push(Token { kind, start, end, line: *line });
        *line += count_newlines(&bytes[start..end]);
    };
    while pos < bytes.len() {
        let Some(open) = find_opening(bytes, pos) else {
            push(&mut tokens, Kind::Text, pos, bytes.len(), &mut line);
            break;
        };
        if open > pos {
            push(&mut tokens, Kind::Text, pos, open, &mut line);
        }
        let body = open + 2;
        let (kind, end) = if bytes[open + 1] == b'%' {
            match memchr::memmem::find(&bytes[body..], b"%}") {
                Some(at) => (Kind::Tag, body + at + 2),
                None => (Kind::Unterminated, body),
            }
        } else {
            match memchr::memchr(b'}', &bytes[body..]) {
                Some(at) => {
                    let mut end = body + at + 1;
                    if bytes.get(end) == Some(&b'}') {
                        end += 1;
                        (Kind::Output, end)
                    } else {
                        (Kind::Unterminated, end)
                    }
                }
                None => (Kind::Unterminated, body),
            }
        };
        push(&mut tokens, kind, open, end, &mut line);
        pos = end;
    }
    tokens
}

/// Where the next `{{` or `{%` starts, at or after `from`.
fn find_opening(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(found) = memchr::memchr(b'{', &bytes[at..]) {
        let i = at + found;
        match bytes.get(i + 1) {
            Some(b'{') | Some(b'%') => return Some(i),
            Some(_) => at = i + 1,
            None => return None,
        }
    }
    None
}

pub(crate) fn count_newlines(bytes: &[u8]) -> u32 {
    memchr::memchr_iter(b'\n', bytes).count() as u32
}

/// Whether `text` holds anything Liquid would act on; text without it is output as it is.
pub(crate) fn has_markup(text: &str) -> bool {
    find_opening(text.as_bytes(), 0).is_some()
}

/// The parts of a `{% name markup %}` token, or `None` where Ruby Liquid finds no tag name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TagParts<'a> {
    pub name: &'a str,
    /// Everything after the name, untrimmed.
    pub markup: &'a str,
    /// `{%-`: strip the whitespace before the tag.
    pub trim_before: bool,
    /// `-%}`: strip the whitespace after the tag.
    pub trim_after: bool,
}

pub(crate) fn tag_parts(token: &str) -> Option<TagParts<'_>> {
    let inner = token.strip_prefix("{%")?.strip_suffix("%}")?;
    let (trim_before, inner) = match inner.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    let (trim_after, inner) = match inner.strip_suffix('-') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    let inner = inner.trim_start_matches(is_ruby_space);
    let name_len = inner.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
    if name_len == 0 {
        return None;
    }
    let (name, rest) = inner.split_at(name_len);
    Some(TagParts { name, markup: rest.trim_start_matches(is_ruby_space), trim_before, trim_after })
}

/// The markup of a `{{ markup }}` token and its whitespace control.
pub(crate) fn output_parts(token: &str) -> (&str, bool, bool) {
    let inner = token.strip_prefix("{{").and_then(|t| t.strip_suffix("}}")).unwrap_or("");
    let (trim_before, inner) = match inner.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    let (trim_after, inner) = match inner.strip_suffix('-') {
        Some(rest) => (true, rest),
        None => (false, inner),
    };
    (inner, trim_before, trim_after)
}

/// Ruby's `\s` (and `String#strip`'s set, minus NUL).
pub(crate) fn is_ruby_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\x0b' | '\x0c' | '\r')
}

/// Splits `markup` at each `sep` that is outside single or double quotes.
pub(crate) fn split_outside_quotes(markup: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut quote = None;
    let mut start = 0;
    for (i, c) in markup.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == sep => {
                parts.push(&markup[start..i]);
                start = i + c.len_utf8();
            }
            None => {}
        }
    }
    parts.push(&markup[start..]);
    parts
}

/// The leading `\w+` of a filter segment (Ruby Liquid takes the first word as the filter's name).
pub(crate) fn leading_word(segment: &str) -> Option<&str> {
    let s = segment.trim_start_matches(is_ruby_space);
    let len = s.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
    (len > 0).then(|| &s[..len])
}

/// The words liquid-rust's grammar reads as literals wherever a value starts, even as the start of
/// a longer name: `nil_count` is read as `nil` followed by `_count`.
const KEYWORDS: &[&str] = &["nil", "null", "true", "false", "empty", "blank"];

/// What a variable whose name starts with a keyword is called in liquid-rust's input. Names that
/// already start with it get it too, so that no two names meet.
const RENAMED: &str = "pfk_";

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// Whether the variable `name` needs another name for liquid-rust to read it.
fn needs_rename(name: &str) -> bool {
    name.starts_with(RENAMED)
        || KEYWORDS
            .iter()
            .any(|k| name.len() > k.len() && name.starts_with(k) && is_name_byte(name.as_bytes()[k.len()]))
}

/// What liquid-rust calls Ruby's `tablerowloop`, the loop object inside `tablerow`.
const TABLEROW_LOOP: &str = "tablerow";

/// The name liquid-rust's input uses for the variable `name` (see [`normalize`]).
pub(crate) fn renamed(name: &str) -> Cow<'_, str> {
    if name == "tablerowloop" {
        return Cow::Borrowed(TABLEROW_LOOP);
    }
    if needs_rename(name) {
        Cow::Owned(format!("{RENAMED}{name}"))
    } else {
        Cow::Borrowed(name)
    }
}

/// Tag or output markup rewritten so that liquid-rust's grammar reads it as Ruby Liquid does:
/// - a variable whose name starts with `nil`, `null`, `true`, `false`, `empty` or `blank`
///   (`empty_msg`, `nil_count`) is renamed (see [`renamed`]), everywhere it is named, so that
///   assignments and uses still meet; properties (`page.nil_x`), filter names, keyword arguments
///   and quoted text keep their names;
/// - an integer literal too large for 64 bits, which liquid-rust's parser panics on, becomes a
///   float literal (`9999999999999999999.0`): Ruby keeps it exact, liquid-rust has nothing larger;
/// - `tablerowloop` is `tablerow`, liquid-rust's name for it;
/// - a `.` between a name and a `[` is left out (`include.[key]` is `include[key]`): Ruby's
///   lookups read the names and brackets and skip the dots.
pub(crate) fn normalize(markup: &str) -> Cow<'_, str> {
    let bytes = markup.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' || b == b'\'' {
            i = memchr::memchr(b, &bytes[i + 1..]).map_or(bytes.len(), |at| i + 1 + at + 1);
            continue;
        }
        let previous = i.checked_sub(1).map(|p| bytes[p]);
        // A name or number right after a single `.` is a property or a fraction, not a value.
        let after_dot = previous == Some(b'.') && (i < 2 || bytes[i - 2] != b'.');
        if b.is_ascii_alphabetic() || b == b'_' {
            let end = i + bytes[i..].iter().take_while(|&&c| is_name_byte(c)).count();
            let word = &markup[i..end];
            let rest = markup[end..].trim_start_matches(is_ruby_space);
            let before = markup[..i].trim_end_matches(is_ruby_space);
            let is_value = !after_dot && !rest.starts_with(':') && !before.ends_with('|');
            if is_value && needs_rename(word) {
                let out = out.get_or_insert_with(|| String::with_capacity(markup.len() + 8));
                out.push_str(&markup[copied..i]);
                out.push_str(RENAMED);
                copied = i;
            } else if is_value && word == "tablerowloop" {
                let out = out.get_or_insert_with(|| String::with_capacity(markup.len()));
                out.push_str(&markup[copied..i]);
                out.push_str(TABLEROW_LOOP);
                copied = end;
            }
            i = end;
        } else if b == b'.' && bytes.get(i + 1) == Some(&b'[') && previous.is_some_and(|p| is_name_byte(p) || p == b']')
        {
            let out = out.get_or_insert_with(|| String::with_capacity(markup.len()));
            out.push_str(&markup[copied..i]);
            copied = i + 1;
            i += 1;
        } else if b.is_ascii_digit() {
            let digits = bytes[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            let end = i + digits;
            let fraction = bytes.get(end) == Some(&b'.') && bytes.get(end + 1).is_some_and(u8::is_ascii_digit);
            // liquid-rust's integers take a sign (names never start with digits, so a `-` before
            // them is not part of a name).
            let start = if matches!(previous, Some(b'-' | b'+')) { i - 1 } else { i };
            if !fraction && !after_dot && markup[start..end].parse::<i64>().is_err() {
                let out = out.get_or_insert_with(|| String::with_capacity(markup.len() + 8));
                out.push_str(&markup[copied..end]);
                out.push_str(".0");
                copied = end;
            }
            // Letters right after digits (`2nil`) are not a name either.
            i = end + bytes[end..].iter().take_while(|c| c.is_ascii_alphabetic() || **c == b'_').count();
        } else {
            i += 1;
        }
    }
    match out {
        Some(mut out) => {
            out.push_str(&markup[copied..]);
            Cow::Owned(out)
        }
        None => Cow::Borrowed(markup),
    }
}

/// Markup written by [`normalize`] with the variables' own names back, for messages.
pub(crate) fn restore_names(markup: &str) -> Cow<'_, str> {
    if !markup.contains(RENAMED) {
        return Cow::Borrowed(markup);
    }
    let bytes = markup.as_bytes();
    let mut out = String::with_capacity(markup.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'"' || b == b'\'' {
            let end = memchr::memchr(b, &bytes[i + 1..]).map_or(bytes.len(), |at| i + 1 + at + 1);
            out.push_str(&markup[i..end]);
            i = end;
        } else if b.is_ascii_alphabetic() || b == b'_' {
            let end = i + bytes[i..].iter().take_while(|&&c| is_name_byte(c)).count();
            let word = &markup[i..end];
            let after_dot = i > 0 && bytes[i - 1] == b'.' && (i < 2 || bytes[i - 2] != b'.');
            match word.strip_prefix(RENAMED).filter(|name| !after_dot && needs_rename(name)) {
                Some(name) => out.push_str(name),
                None => out.push_str(word),
            }
            i = end;
        } else {
            let len = markup[i..].chars().next().map_or(1, char::len_utf8);
            out.push_str(&markup[i..i + len]);
            i += len;
        }
    }
    Cow::Owned(out)
}

/// `text` (an include's file name, a link's path) with the markup of each `{{ … }}` in it normalized.
pub(crate) fn normalize_outputs(text: &str) -> Cow<'_, str> {
    if !text.contains("{{") {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for token in tokenize(text) {
        let part = &text[token.start..token.end];
        match token.kind {
            Kind::Output => {
                let inner = &part[2..part.len() - 2];
                out.push_str("{{");
                out.push_str(&normalize(inner));
                out.push_str("}}");
            }
            _ => out.push_str(part),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_start_with_a_keyword_are_renamed_where_they_are_values() {
        assert_eq!(normalize("nil_count"), "pfk_nil_count");
        assert_eq!(normalize("empty_msg = \"m\""), "pfk_empty_msg = \"m\"");
        assert_eq!(normalize("x in true_list limit: 2"), "x in pfk_true_list limit: 2");
        assert_eq!(
            normalize("a[blank-x] | default: falsey, allow_false: true"),
            "a[pfk_blank-x] | default: pfk_falsey, allow_false: true"
        );
        assert_eq!(normalize("(1..nullable)"), "(1..pfk_nullable)");
        assert_eq!(normalize("pfk_x"), "pfk_pfk_x");
        assert_eq!(normalize("2nil"), "2nil");
        assert_eq!(normalize("include.[k] | a: x.[\"y\"].[0]"), "include[k] | a: x[\"y\"][0]");
        assert_eq!(normalize("'a.[b]' | x: ..[1]"), "'a.[b]' | x: ..[1]");
        // Properties, quoted text, literals, other names and filter names stay.
        for same in [
            "page.nil_x",
            "'nil_x' == \"true_y\"",
            "nil == true",
            "x == false",
            "empty",
            "blank",
            "annil",
            "x | nil_filter: 1",
            "nil_key: 1",
        ] {
            assert_eq!(normalize(same), same);
            assert!(matches!(normalize(same), Cow::Borrowed(_)));
        }
    }

    #[test]
    fn restoring_names_undoes_the_renaming() {
        for markup in ["nil_count | plus: true_x", "a[blank-x].nil_y", "pfk_x == 'pfk_nil'", "(1..nullable)"] {
            assert_eq!(restore_names(&normalize(markup)), markup);
        }
        assert_eq!(renamed("nil_x"), "pfk_nil_x");
        assert_eq!(renamed("page"), "page");
    }

    #[test]
    fn integers_past_64_bits_become_floats() {
        assert_eq!(normalize("9999999999999999999 | plus: 1"), "9999999999999999999.0 | plus: 1");
        assert_eq!(normalize("x | minus: -99999999999999999999"), "x | minus: -99999999999999999999.0");
        assert_eq!(normalize("(1..99999999999999999999)"), "(1..99999999999999999999.0)");
        assert_eq!(normalize("a[99999999999999999999]"), "a[99999999999999999999.0]");
        assert_eq!(normalize("9223372036854775808"), "9223372036854775808.0");
        assert_eq!(normalize("99999999999999999999abc"), "99999999999999999999.0abc");
        assert_eq!(normalize("2-99999999999999999999"), "2-99999999999999999999.0");
        for same in [
            "9223372036854775807",
            "-9223372036854775808",
            "1.99999999999999999999",
            "99999999999999999999.5",
            "x99999999999999999999",
            "'99999999999999999999'",
            "a.99999999999999999999",
        ] {
            assert_eq!(normalize(same), same);
        }
    }

    #[test]
    fn outputs_inside_names_are_normalized() {
        assert_eq!(normalize_outputs("dyn-{{ nil_x }}.html"), "dyn-{{ pfk_nil_x }}.html");
        assert_eq!(normalize_outputs("plain.html"), "plain.html");
    }

    fn kinds(source: &str) -> Vec<(Kind, &str)> {
        tokenize(source).into_iter().map(|t| (t.kind, &source[t.start..t.end])).collect()
    }

    #[test]
    fn text_outputs_and_tags_are_cut_where_ruby_liquid_cuts_them() {
        assert_eq!(
            kinds("a {{ b }} c {% if x %}d{% endif %}"),
            vec![
                (Kind::Text, "a "),
                (Kind::Output, "{{ b }}"),
                (Kind::Text, " c "),
                (Kind::Tag, "{% if x %}"),
                (Kind::Text, "d"),
                (Kind::Tag, "{% endif %}"),
            ]
        );
    }

    #[test]
    fn a_tag_ends_at_the_first_percent_brace_even_inside_quotes() {
        assert_eq!(kinds(r#"{% assign a = "%}" %}"#)[0], (Kind::Tag, r#"{% assign a = "%}"#));
    }

    #[test]
    fn an_output_closed_by_one_brace_or_not_at_all_is_unterminated() {
        assert_eq!(kinds("{{ a } b")[0], (Kind::Unterminated, "{{ a }"));
        assert_eq!(kinds("x {{ a")[1], (Kind::Unterminated, "{{"));
        assert_eq!(kinds("x {% a")[1], (Kind::Unterminated, "{%"));
    }

    #[test]
    fn single_braces_and_percent_signs_are_text() {
        assert_eq!(kinds("a { b } % c }} %}"), vec![(Kind::Text, "a { b } % c }} %}")]);
        assert!(!has_markup("{ } %} }}"));
        assert!(has_markup("x{{"));
        assert!(has_markup("{%"));
    }

    #[test]
    fn tokens_know_their_line() {
        let tokens = tokenize("a\nb\n{{ x\n }}\n{% y %}");
        let lines: Vec<u32> = tokens.iter().map(|t| t.line).collect();
        assert_eq!(lines, vec![1, 3, 4, 5]);
    }

    #[test]
    fn tag_parts_read_name_markup_and_whitespace_control() {
        let parts = tag_parts("{%- include a.html x=1 -%}").unwrap();
        assert_eq!(parts.name, "include");
        assert_eq!(parts.markup, "a.html x=1 ");
        assert!(parts.trim_before && parts.trim_after);
        assert_eq!(tag_parts("{%   %}"), None);
        assert_eq!(tag_parts("{% -x %}"), None);
    }

    #[test]
    fn quotes_protect_separators() {
        assert_eq!(split_outside_quotes(r#"a | b: "x|y" | c: 'p|q'"#, '|'), vec!["a ", r#" b: "x|y" "#, " c: 'p|q'"]);
    }
}
