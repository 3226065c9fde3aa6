//! Splits a template into text, `{{ output }}` and `{% tag %}` tokens where Ruby Liquid splits it,
//! and reads the parts of a token (name, markup, whitespace control) the way Ruby Liquid reads them.

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

#[cfg(test)]
mod tests {
    use super::*;

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
