//! kramdown's typography: smart quotes chosen by its rules, the symbols `--`, `---`, `...`, `<<` and `>>`,
//! and Jekyll's `smartify` filter (kramdown's SmartyPants converter).
//!
//! kramdown decides a quote from the source around it: the character before it (when its scanner still
//! sees that character as plain text) and the characters after it. We get the same context from the
//! source offsets pulldown-cmark reports, so rules that look past the end of a text run (`"*word*"`) agree.

use super::Options;

/// One character of a text run and, when it stands literally in the source, its byte offset there.
/// Characters from escapes (`\"`) or entities (`&quot;`) have none and are never educated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Piece {
    pub c: char,
    /// The source offset plus one; 0 for none (kept small: there is one piece per character).
    source: u32,
}

impl Piece {
    pub(super) fn at(c: char, offset: usize) -> Piece {
        Piece { c, source: u32::try_from(offset + 1).unwrap_or(0) }
    }

    pub(super) fn literal(c: char) -> Piece {
        Piece { c, source: 0 }
    }

    pub(super) fn offset(&self) -> Option<usize> {
        self.source.checked_sub(1).map(|o| o as usize)
    }
}

const LSQUO: usize = 0;
const RSQUO: usize = 1;
const LDQUO: usize = 2;
const RDQUO: usize = 3;

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Ruby's `\w`: ASCII only.
fn is_ascii_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// What Ruby's `\b` counts as a word character: Unicode letters and digits.
fn is_boundary_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// kramdown's `SQ_PUNCT`.
fn is_sq_punct(c: char) -> bool {
    c.is_ascii_punctuation()
}

/// Characters that a kramdown span parser consumes even when it fails (`*` of an emphasis that does not
/// close, a backtick, `[`…), so that a quote right after one does not see it. A `<`, `{` or `&` that
/// starts no HTML, attribute list or entity is text that the quote sees (`a<'b` has `’`, `'{'` has `‘`
/// twice).
fn consumed_by_markup(c: char) -> bool {
    matches!(c, '*' | '_' | '`' | '[' | '\\')
}

/// A quote written as it is: the character kramdown's scanner takes as the one before the next quote.
const LITERAL: usize = usize::MAX;

fn left(quote: char) -> usize {
    if quote == '"' {
        LDQUO
    } else {
        LSQUO
    }
}

fn right(quote: char) -> usize {
    if quote == '"' {
        RDQUO
    } else {
        RSQUO
    }
}

/// kramdown's `SQ_RULES` for the quote `quote`, with `prev` the character its scanner sees before it and
/// `rest` the source after it. Returns the quotes to write (one, or two for `"'`/`'"`) as indices into
/// `smart_quotes`; `second_ok` says whether a following quote may be taken with this one.
fn quote_rule(prev: Option<char>, quote: char, rest: &str, second_ok: bool) -> (usize, Option<usize>) {
    let mut next = rest.chars();
    let r0 = next.next();
    let r1 = next.next();
    let r2 = next.next();
    let double_then_word = |a: char, b: char| second_ok && quote == a && r0 == Some(b) && r1.is_some_and(is_ascii_word);
    let nineties = quote == '\''
        && r0.is_some_and(|c| c.is_ascii_digit())
        && r1.is_some_and(|c| c.is_ascii_digit())
        && r2 == Some('s');
    match prev.filter(|&p| p != '\\') {
        Some(p) if is_space(p) => {
            if double_then_word('"', '\'') {
                (LDQUO, Some(LSQUO))
            } else if double_then_word('\'', '"') {
                (LSQUO, Some(LDQUO))
            } else if nineties {
                (RSQUO, None)
            } else {
                (left(quote), None)
            }
        }
        Some(p) if !matches!(p, '[' | '{' | '(' | '-') => (right(quote), None),
        Some(_) => (left(quote), None),
        None => {
            let r0_emphasis = r0.is_some_and(|c| c == '_' || c == '*') && r1.is_some_and(|c| !is_space(c));
            let r0_punct_closing = r0.is_some_and(is_sq_punct)
                && !(r1 == Some('.') && r2 == Some('.'))
                && r0.is_some_and(is_boundary_word) == r1.is_some_and(is_boundary_word);
            if r0_emphasis {
                (left(quote), None)
            } else if r0_punct_closing {
                (right(quote), None)
            } else if double_then_word('"', '\'') {
                (LDQUO, Some(LSQUO))
            } else if double_then_word('\'', '"') {
                (LSQUO, Some(LDQUO))
            } else if nineties {
                (RSQUO, None)
            } else if second_ok && r0.is_some_and(|c| c == '"' || c == '\'') {
                // `''x` where the scanner stands at the first quote: kramdown's closing rule
                // (`(SQ_CLOSE)('|")`) takes it as the character before the second, as it is.
                (LITERAL, r0.map(right))
            } else if r0.is_none_or(|c| is_space(c) || c == '\n')
                || (r0 == Some('s') && !r1.is_some_and(is_boundary_word))
            {
                (right(quote), None)
            } else {
                (left(quote), None)
            }
        }
    }
}

/// The typographic symbol starting at `pieces[k]`: what to write and how many characters it takes.
fn symbol_at(pieces: &[Piece], k: usize) -> Option<(&'static str, usize)> {
    let plain = |i: usize| pieces.get(i).filter(|p| p.offset().is_some()).map(|p| p.c);
    let (a, b, c) = (plain(k), plain(k + 1), plain(k + 2));
    match (a?, b, c) {
        ('-', Some('-'), Some('-')) => Some(("\u{2014}", 3)),
        ('-', Some('-'), _) => Some(("\u{2013}", 2)),
        ('.', Some('.'), Some('.')) => Some(("\u{2026}", 3)),
        ('<', Some('<'), Some(' ')) => Some(("\u{AB}\u{A0}", 3)),
        (' ', Some('>'), Some('>')) => Some(("\u{A0}\u{BB}", 3)),
        ('<', Some('<'), _) => Some(("\u{AB}", 2)),
        ('>', Some('>'), _) => Some(("\u{BB}", 2)),
        _ => None,
    }
}

/// Educates one run of text. `source` is the document the offsets point into; `prev` is the character
/// kramdown's scanner sees before the run (None at the start of a span or after markup). Returns the text
/// and the `prev` for a run that follows directly.
pub(crate) fn educate(
    pieces: &[Piece],
    source: &str,
    mut prev: Option<char>,
    options: &Options,
) -> (String, Option<char>) {
    let mut out = String::with_capacity(pieces.len() + 8);
    let mut k = 0;
    while k < pieces.len() {
        let piece = pieces[k];
        let Some(offset) = piece.offset() else {
            out.push(windows_1252(piece.c));
            prev = None;
            k += 1;
            continue;
        };
        if piece.c == '"' || piece.c == '\'' {
            let rest = source.get(offset + 1..).unwrap_or("");
            let second_ok = pieces.get(k + 1).is_some_and(|p| p.offset().is_some());
            let (first, second) = quote_rule(prev, piece.c, rest, second_ok);
            out.push(if first == LITERAL { piece.c } else { options.smart_quotes[first] });
            k += 1;
            if let Some(second) = second {
                out.push(options.smart_quotes[second]);
                k += 1;
            }
            prev = None;
            continue;
        }
        if options.typographic_symbols && matches!(piece.c, '-' | '.' | '<' | '>' | ' ') {
            // A quote right after this character takes it as its context before any symbol could.
            let quote_next = pieces.get(k + 1).is_some_and(|p| p.offset().is_some() && (p.c == '"' || p.c == '\''));
            if !quote_next {
                if let Some((text, len)) = symbol_at(pieces, k) {
                    out.push_str(text);
                    k += len;
                    prev = None;
                    continue;
                }
            }
        }
        out.push(piece.c);
        prev = if consumed_by_markup(piece.c) { None } else { Some(piece.c) };
        k += 1;
    }
    (out, prev)
}

/// A numeric character reference to 128–159 means the Windows-1252 character, as kramdown (and HTML)
/// read it: `&#149;` is a bullet.
fn windows_1252(c: char) -> char {
    const TABLE: [char; 32] = [
        '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}', '\u{2C6}',
        '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}', '\u{8F}', '\u{90}', '\u{2018}', '\u{2019}',
        '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}', '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}',
        '\u{153}', '\u{9D}', '\u{17E}', '\u{178}',
    ];
    match c {
        '\u{80}'..='\u{9F}' => TABLE[c as usize - 0x80],
        _ => c,
    }
}

/// Jekyll's `smartify` filter with Jekyll's default kramdown options.
pub fn smartify(text: &str) -> String {
    smartify_with(text, &Options::default())
}

/// Jekyll's `smartify` filter: kramdown's SmartyPants converter, which educates quotes and symbols, keeps
/// HTML tags and entities, escapes other `<`, `>` and `&`, and returns HTML.
pub fn smartify_with(text: &str, options: &Options) -> String {
    let source = text.replace("\r\n", "\n");
    let source = source.trim_end_matches('\n');
    let mut out = String::with_capacity(source.len() + 16);
    let mut pieces: Vec<Piece> = Vec::new();
    let mut prev = None;
    let bytes = source.as_bytes();
    let mut i = 0;
    let mut run_start = 0;
    while i < bytes.len() {
        let tail = &source[i..];
        // `<<` is a guillemet before it could start a tag.
        let after_lt = i > 0 && bytes[i - 1] == b'<';
        let markup_len = if bytes[i] == b'<' && !after_lt && !tail.starts_with("<<") {
            html_tag_len(tail)
        } else if bytes[i] == b'&' {
            entity_len(tail)
        } else {
            None
        };
        if let Some(len) = markup_len {
            push_run(&source[run_start..i], run_start, source, &mut prev, options, &mut out, &mut pieces);
            out.push_str(&tail[..len]);
            prev = None;
            i += len;
            run_start = i;
        } else {
            i += tail.chars().next().map_or(1, char::len_utf8);
        }
    }
    push_run(&source[run_start..], run_start, source, &mut prev, options, &mut out, &mut pieces);
    out
}

fn push_run(
    run: &str,
    start: usize,
    source: &str,
    prev: &mut Option<char>,
    options: &Options,
    out: &mut String,
    pieces: &mut Vec<Piece>,
) {
    pieces.clear();
    pieces.extend(run.char_indices().map(|(i, c)| Piece::at(c, start + i)));
    let (educated, after) = educate(pieces, source, *prev, options);
    *prev = after;
    escape_text_into(&educated, out);
}

/// `&name;`, `&#123;` or `&#x1F;` at the start of `text`.
pub(super) fn entity_len(text: &str) -> Option<usize> {
    let body = text.strip_prefix('&')?;
    // Entity names are short: looking further for the `;` made a text of many `&` quadratic.
    let window = &body.as_bytes()[..body.len().min(48)];
    let end = memchr::memchr(b';', window)?;
    let name = &body[..end];
    let valid = if let Some(number) = name.strip_prefix('#') {
        match number.strip_prefix(['x', 'X']) {
            Some(hex) => !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()),
            None => !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()),
        }
    } else {
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric())
    };
    valid.then_some(end + 2)
}

/// The length of an HTML tag (`<b>`, `</b>`, `<br/>`, `<!-- … -->`) at the start of `text`.
pub(crate) fn html_tag_len(text: &str) -> Option<usize> {
    if let Some(body) = text.strip_prefix("<!--") {
        return body.find("-->").map(|end| end + 7);
    }
    let body = text.strip_prefix('<')?;
    let body = body.strip_prefix('/').unwrap_or(body);
    if !body.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_') {
        return None;
    }
    let mut quote: Option<char> = None;
    for (i, c) in text.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(i + 1),
            (None, '<') => return None,
            _ => {}
        }
    }
    None
}

/// kramdown's text escaping: `<`, `>` and `&` (an `&` that starts an entity is kept).
pub(crate) fn escape_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    escape_text_into(text, &mut out);
    out
}

/// [`escape_text`], appending to `out`.
pub(crate) fn escape_text_into(text: &str, out: &mut String) {
    let mut plain_from = 0;
    for (i, byte) in text.bytes().enumerate() {
        let replacement = match byte {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' if entity_len(&text[i..]).is_none() => "&amp;",
            _ => continue,
        };
        out.push_str(&text[plain_from..i]);
        out.push_str(replacement);
        plain_from = i + 1;
    }
    out.push_str(&text[plain_from..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_follow_kramdowns_rules() {
        assert_eq!(smartify(r#""Hello," she said. "It's 'fine'.""#), "“Hello,” she said. “It’s ‘fine’.”");
        assert_eq!(smartify("rock 'n' roll in the '90s"), "rock ‘n’ roll in the ’90s");
        assert_eq!(smartify(r#"("quoted") [ 'x' ] -"y""#), "(“quoted”) [ ‘x’ ] -“y”");
        assert_eq!(smartify(r#"他说"你好""#), "他说”你好”");
        assert_eq!(smartify(r#""*emphasis*" and "'nested'""#), "“*emphasis*” and “‘nested’”");
    }

    #[test]
    fn symbols() {
        assert_eq!(smartify("a -- b --- c... d"), "a – b — c… d");
        assert_eq!(smartify("<< a >> <<b>>"), "«\u{a0}a\u{a0}» «b»");
    }

    #[test]
    fn html_and_entities_are_kept_and_the_rest_escaped() {
        assert_eq!(smartify(r#"<em>"a"</em> &amp; b & c < d"#), "<em>“a”</em> &amp; b &amp; c &lt; d");
        assert_eq!(smartify("&quot;x&quot;"), "&quot;x&quot;");
    }

    #[test]
    fn custom_quotes() {
        let options = Options { smart_quotes: ['‹', '›', '«', '»'], ..Options::default() };
        assert_eq!(smartify_with(r#""a" 'b'"#, &options), "«a» ‹b›");
    }
}
