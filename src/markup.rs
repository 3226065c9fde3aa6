//! Text fields and markup: HTML character references decoded, plain text taken from HTML, text
//! escaped for XML and HTML, and characters that XML forbids dropped.

use std::borrow::Cow;

/// Decodes every HTML5 character reference as a browser does in text: all 2,231 named ones
/// (including the legacy ones without `;`, such as `&eacute`), decimal and hexadecimal ones,
/// with the spec's replacements (`&#0;` and surrogates become U+FFFD, `&#x80;` becomes `€`).
/// Anything that is not a reference stays as it is (`AT&T`, `&bogus;`).
pub(crate) fn decode_references(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    htmlize::unescape(text)
}

/// HTML to plain text, as jekyll-feed makes titles and summaries (`strip_html | normalize_whitespace`)
/// and a reader then shows them: tags dropped without a trace (with the contents of `script` and
/// `style`, and comments), runs of ASCII whitespace collapsed to one space as Ruby's `\s` does
/// (an ideographic space stays), references decoded. Unlike Liquid's `strip_html`, a `<` that
/// starts no tag in HTML (`a < b`, `<投入>`, one left open at the end) is text, as a browser
/// shows it, not the start of something to delete.
pub(crate) fn plain_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        text.push_str(&rest[..lt]);
        let tag = &rest[lt..];
        let starts_with = |name: &[u8]| tag.as_bytes().get(..name.len()).is_some_and(|b| b.eq_ignore_ascii_case(name));
        let skip_until = if starts_with(b"<script") {
            Some("</script")
        } else if starts_with(b"<style") {
            Some("</style")
        } else if tag.starts_with("<!--") {
            Some("-->")
        } else {
            None
        };
        let is_markup = tag[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?');
        if !is_markup {
            text.push('<');
            rest = &tag[1..];
            continue;
        }
        let after = match skip_until {
            Some(end) => match tag.to_ascii_lowercase().find(end) {
                Some(i) => tag[i..].find('>').map(|j| i + j + 1).unwrap_or(tag.len()),
                None => tag.len(),
            },
            None => match tag.find('>') {
                Some(gt) => gt + 1,
                None => {
                    text.push('<');
                    1
                }
            },
        };
        rest = &tag[after..];
    }
    text.push_str(rest);
    decode_references(&normalize_whitespace(&text)).into_owned()
}

/// Deepest nesting of elements that an HTML parser is given: the tree builder looks through
/// the open elements at each tag, so its time grows with the square of the depth (a 320 KB post
/// of `<ul><li>` took 71 s). Browsers stop nesting at 512 too.
pub(crate) const MAX_HTML_DEPTH: usize = 512;

/// Whether `html` may nest elements deeper than `limit`: the elements open at the deepest point,
/// where an end tag closes the innermost open element of its name and those inside it, and one
/// that names no open element closes nothing (as in the parser: `<ul><li>x</zz>` repeated nests
/// ever deeper). Void elements, self-closed tags, and elements whose end tag HTML lets one leave
/// out (`p`, `li`, `td`…: the next one closes them) do not count, so loose but ordinary HTML
/// never trips it.
pub(crate) fn nests_deeper_than(html: &str, limit: usize) -> bool {
    const NOT_NESTING: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr", "p",
        "li", "dt", "dd", "option", "optgroup", "tr", "td", "th", "thead", "tbody", "tfoot", "colgroup", "caption",
        "rb", "rt", "rp", "rtc",
    ];
    let bytes = html.as_bytes();
    let mut open: Vec<&str> = Vec::new();
    let mut at = 0usize;
    while let Some(offset) = memchr::memchr(b'<', &bytes[at..]) {
        let start = at + offset + 1;
        let closing = bytes.get(start) == Some(&b'/');
        let name_start = start + usize::from(closing);
        let name_len = bytes[name_start..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'-').count();
        at = name_start + name_len;
        if name_len == 0 || !bytes[name_start].is_ascii_alphabetic() {
            continue;
        }
        let name = &html[name_start..at];
        if NOT_NESTING.iter().any(|void| void.eq_ignore_ascii_case(name)) {
            continue;
        }
        let end = memchr::memchr(b'>', &bytes[at..]).map_or(bytes.len(), |gt| at + gt);
        if closing {
            // At most `limit` deep, so this look is bounded too.
            if let Some(innermost) = open.iter().rposition(|element| element.eq_ignore_ascii_case(name)) {
                open.truncate(innermost);
            }
        } else if !html[at..end].ends_with('/') {
            open.push(name);
            if open.len() > limit {
                return true;
            }
        }
    }
    false
}

/// Most work html5ever's serializer may do escaping text, in bytes scanned. For each `&` or
/// no-break space it escapes it looks through the rest of the text node for `<` and `>` again,
/// so a node of 400 KB of `&` took 1.7 s, and its time grows with the square of the size.
pub(crate) const MAX_ESCAPE_SCAN: u64 = 2_000_000_000;

/// About how many bytes html5ever's serializer would scan to escape the text of `html`: for each
/// run of text between tags, the characters it escapes one by one (`&`, no-break space) times
/// the run's length.
pub(crate) fn escape_scan(html: &str) -> u64 {
    html.split(['<', '>'])
        .map(|run| {
            let hits = memchr::memchr2_iter(b'&', 0xC2, run.as_bytes()).count() as u64;
            hits * run.len() as u64
        })
        .sum()
}

/// Most attribute comparisons html5ever's tokenizer may make, over all tags: it compares each
/// attribute's name with those before it in its tag, to drop repeats, so its time grows with the
/// square of a tag's attributes (one tag of 100,000 took 25 s).
pub(crate) const MAX_ATTRIBUTE_PAIRS: u64 = 100_000_000;

/// About how many comparisons html5ever would make between the attribute names of each tag of
/// `html`: the sum over its tags of the number of attributes squared. Attribute values, quoted
/// or not, are skipped as the tokenizer skips them; a `<` that starts no tag is passed over.
pub(crate) fn attribute_pairs(html: &str) -> u64 {
    let bytes = html.as_bytes();
    let mut pairs = 0u64;
    let mut at = 0;
    while let Some(offset) = memchr::memchr(b'<', &bytes[at..]) {
        at += offset + 1;
        if !bytes.get(at).is_some_and(u8::is_ascii_alphabetic) {
            continue;
        }
        while at < bytes.len() && !bytes[at].is_ascii_whitespace() && !matches!(bytes[at], b'>' | b'/') {
            at += 1;
        }
        let mut attributes = 0u64;
        loop {
            while at < bytes.len() && (bytes[at].is_ascii_whitespace() || bytes[at] == b'/') {
                at += 1;
            }
            if at >= bytes.len() || bytes[at] == b'>' {
                break;
            }
            attributes += 1;
            // The name (a first `=` belongs to it), then the value, if there is one.
            at += 1;
            while at < bytes.len() && !bytes[at].is_ascii_whitespace() && !matches!(bytes[at], b'>' | b'/' | b'=') {
                at += 1;
            }
            while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            if bytes.get(at) != Some(&b'=') {
                continue;
            }
            at += 1;
            while at < bytes.len() && bytes[at].is_ascii_whitespace() {
                at += 1;
            }
            match bytes.get(at) {
                Some(&quote @ (b'"' | b'\'')) => {
                    at = memchr::memchr(quote, &bytes[at + 1..]).map_or(bytes.len(), |end| at + 1 + end + 1);
                }
                _ => {
                    while at < bytes.len() && !bytes[at].is_ascii_whitespace() && bytes[at] != b'>' {
                        at += 1;
                    }
                }
            }
        }
        pairs = pairs.saturating_add(attributes * attributes);
    }
    pairs
}

/// Why an HTML parser should not be given `html`, if it should not: it nests too deep, its
/// text would take too long to write back out, or its tags have too many attributes (see
/// [`MAX_HTML_DEPTH`], [`MAX_ESCAPE_SCAN`], [`MAX_ATTRIBUTE_PAIRS`]).
pub(crate) fn too_costly_to_parse(html: &str) -> Option<String> {
    // Both counts are at most the square of the length (a run's escapes and a tag's attributes
    // are each at most its bytes), so a short body needs neither scan.
    let most = (html.len() as u64).saturating_mul(html.len() as u64);
    if nests_deeper_than(html, MAX_HTML_DEPTH) {
        Some(format!("HTML nested more than {MAX_HTML_DEPTH} elements deep"))
    } else if most > MAX_ESCAPE_SCAN && escape_scan(html) > MAX_ESCAPE_SCAN {
        Some("text with too many `&` or no-break spaces between two tags".to_string())
    } else if most > MAX_ATTRIBUTE_PAIRS && attribute_pairs(html) > MAX_ATTRIBUTE_PAIRS {
        Some("tags with too many attributes (thousands in one tag)".to_string())
    } else {
        None
    }
}

/// Jekyll's `normalize_whitespace`: runs of `[ \t\r\n\f\v]` become one space, and the ends are trimmed.
pub(crate) fn normalize_whitespace(text: &str) -> String {
    text.split([' ', '\t', '\r', '\n', '\x0c', '\x0b']).filter(|word| !word.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Escapes text for XML and HTML text and attribute values. Characters XML 1.0 forbids become
/// U+FFFD; tabs and line breaks become references so attribute values keep them.
pub(crate) fn escape_markup(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => _ = write!(out, "&#{};", u32::from(c)),
            '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}' => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Plain text as HTML that shows it: `&`, `<` and `>` escaped. For RSS `description`, which
/// readers show as HTML: a summary that talks about `<script>` must not become one.
pub(crate) fn text_as_html(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let longer_by: usize =
        memchr::memchr3_iter(b'&', b'<', b'>', bytes).map(|at| if bytes[at] == b'&' { 4 } else { 3 }).sum();
    if longer_by == 0 {
        return Cow::Borrowed(text);
    }
    // The exact size: entry texts are held for as long as a feed shows them.
    let mut out = String::with_capacity(text.len() + longer_by);
    let mut copied = 0;
    // Cut only at these ASCII bytes, so every piece is whole UTF-8 and nothing is checked again.
    for at in memchr::memchr3_iter(b'&', b'<', b'>', bytes) {
        out.push_str(&text[copied..at]);
        out.push_str(match bytes[at] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            _ => "&gt;",
        });
        copied = at + 1;
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// Plain text for an RSS field that readers may show as HTML or as text (a title, a name, a
/// category): as it is when HTML shows it unchanged, else escaped as [`text_as_html`]. A `<`
/// would be read as markup (`<img src=x onerror=…>` from a title written `&lt;img …&gt;`), and
/// an `&` that starts a character reference would be decoded once more; other text, `Q&A` and
/// `a > b` included, goes as it is, so that readers that show it as text show it as written.
pub(crate) fn text_for_html_readers(text: &str) -> Cow<'_, str> {
    if text.contains('<') || decode_references(text) != text {
        text_as_html(text)
    } else {
        Cow::Borrowed(text)
    }
}

/// Whether XML 1.0 forbids `c`, or it is a C1 control: allowed by XML but never meant as text,
/// and validators flag it. Tab, LF and CR are fine.
pub(crate) fn forbidden_in_xml(c: char) -> bool {
    (c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
        || ('\u{7f}'..='\u{9f}').contains(&c)
        || c == '\u{fffe}'
        || c == '\u{ffff}'
}

/// Drops what XML 1.0 forbids and the C1 controls (see [`forbidden_in_xml`]).
pub(crate) fn xml_safe(text: &str) -> Cow<'_, str> {
    if text.chars().any(forbidden_in_xml) {
        Cow::Owned(text.chars().filter(|c| !forbidden_in_xml(*c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_as_the_parser_nests() {
        assert!(!nests_deeper_than(&("<div>".repeat(512) + &"</div>".repeat(512)), 512));
        assert!(nests_deeper_than(&"<div>".repeat(513), 512));
        for flat in ["<div>x</div>", "<div><span>x</div>", "<p>x", "<ul><li>a<li>b</ul>", "<br><img src=x><hr/>"] {
            assert!(!nests_deeper_than(&flat.repeat(2000), 512), "{flat}");
        }
        // An end tag that closes nothing open does not make up for a start tag.
        for deep in ["<ul><li>x</zz>", "<div>x</span>", "<blockquote>x</q>"] {
            assert!(nests_deeper_than(&deep.repeat(600), 512), "{deep}");
        }
    }

    #[test]
    fn attribute_pairs_count_each_tags_attributes_squared() {
        assert_eq!(attribute_pairs("<p>a < b</p><br/><img src=x alt='a b > c' title = \"t\" hidden>"), 16);
        assert_eq!(attribute_pairs(r#"<a href="/x?a=1&b=2" class=c>x</a> 1<2 <!-- <b c d> -->"#), 4 + 4);
        let one_tag = format!("<a {}>x</a>", (0..20_000).map(|i| format!("a{i}=1")).collect::<Vec<_>>().join(" "));
        assert_eq!(attribute_pairs(&one_tag), 400_000_000);
        assert!(too_costly_to_parse(&one_tag).is_some_and(|why| why.contains("attributes")));
        // Ordinary markup is far from the limit: a thousand tags of ten attributes each.
        assert!(attribute_pairs(&"<img a=1 b=2 c=3 d=4 e=5 f=6 g=7 h=8 i=9 j=10>".repeat(1000)) < MAX_ATTRIBUTE_PAIRS);
    }

    #[test]
    fn text_for_html_readers_escapes_only_what_html_would_change() {
        for same in ["Q&A", "AT&T & co", "a > b", "R&D 投入", "&bogus;", "plain"] {
            assert!(matches!(text_for_html_readers(same), Cow::Borrowed(_)), "{same}");
        }
        assert_eq!(text_for_html_readers("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
        assert_eq!(text_for_html_readers("a <b and R&D"), "a &lt;b and R&amp;D");
        // What HTML would decode once more keeps its `&`: `&copy` is shown, not ©.
        assert_eq!(text_for_html_readers("&copy 2024"), "&amp;copy 2024");
        assert_eq!(text_for_html_readers("say &lt;"), "say &amp;lt;");
    }

    #[test]
    fn plain_text_strips_and_decodes() {
        assert_eq!(
            plain_text("<p>R&amp;D &lt;投入&gt;</p>\n <p>a&#x4e2d;&#20013;</p><script>x</script>"),
            "R&D <投入> a中中"
        );
        assert_eq!(plain_text("a < b and c"), "a < b and c");
        assert_eq!(plain_text("R&D <投入> <span class=\"x\">增长</span>"), "R&D <投入> 增长");
        assert_eq!(plain_text("AT&T &bogus; &"), "AT&T &bogus; &");
        assert_eq!(plain_text("Caf&eacute; &mdash; ok"), "Café — ok");
    }

    /// The six names the old hand-written table knew were not enough: every HTML5 name decodes,
    /// the legacy ones without `;` too, and numbers follow the spec's replacement table.
    #[test]
    fn every_html5_reference_decodes() {
        for (text, decoded) in [
            ("Caf&eacute; &mdash; ok", "Café — ok"),
            ("&hellip;&ldquo;x&rdquo;&nbsp;&copy;&trade;&euro;&frac12;", "…“x”\u{a0}©™€½"),
            ("&NotNestedGreaterGreater;&fjlig;", "\u{2AA2}\u{338}fj"),
            ("Caf&eacute &copy 2024 &amp co", "Café © 2024 & co"),
            ("&#x6a;avascript &#106; &#X4E2D;", "javascript j 中"),
            ("&#x80; &#150; &#0; &#xD800; &#x110000;", "€ – \u{FFFD} \u{FFFD} \u{FFFD}"),
            ("AT&T &bogus; & &#; &#x;", "AT&T &bogus; & &#; &#x;"),
        ] {
            assert_eq!(decode_references(text), decoded, "{text}");
        }
        assert!(matches!(decode_references("plain 中文"), Cow::Borrowed(_)));
    }

    #[test]
    fn text_as_html_escapes_markup_characters_once_and_borrows_plain_text() {
        assert_eq!(text_as_html("a < b && c > d 中文 &amp;"), "a &lt; b &amp;&amp; c &gt; d 中文 &amp;amp;");
        assert!(matches!(text_as_html("plain 中文 \"quotes\""), Cow::Borrowed(_)));
    }

    #[test]
    fn nesting_reads_tag_names_in_any_case() {
        let deep = "<DIV><div>".repeat(300);
        assert!(nests_deeper_than(&deep, MAX_HTML_DEPTH));
        let closed = "<DIV>x</div>".repeat(2000);
        assert!(!nests_deeper_than(&closed, MAX_HTML_DEPTH));
        let loose = "<LI>item<P>text".repeat(2000);
        assert!(!nests_deeper_than(&loose, MAX_HTML_DEPTH));
    }

    /// Short bodies skip the two scans by their bound; long ones are still scanned.
    #[test]
    fn the_costly_checks_still_catch_long_bodies() {
        let amps = format!("<p>{}</p>", "&".repeat(50_000));
        assert!(too_costly_to_parse(&amps).is_some_and(|why| why.contains('&')));
        assert!(too_costly_to_parse(&format!("<p>{}</p>", "&".repeat(40_000))).is_none());
    }

    #[test]
    fn escape_markup_escapes_once() {
        assert_eq!(escape_markup("Café — <b> & \"q\" 'a'\t"), "Café — &lt;b&gt; &amp; &quot;q&quot; &#39;a&#39;&#9;");
        assert_eq!(escape_markup("a\u{1}b"), "a\u{FFFD}b");
    }

    #[test]
    fn xml_safe_drops_forbidden_characters() {
        assert_eq!(xml_safe("a\u{1}b\tc\u{fffe}d\u{85}e\n"), "ab\tcde\n");
        assert!(matches!(xml_safe("plain 中文"), Cow::Borrowed(_)));
    }
}
