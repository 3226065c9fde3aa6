//! HTML as kramdown's parser reads it: tags (`<name attr="v">`), where an HTML block ends (the matching end
//! tag, not a blank line), and which names are span-level.

/// kramdown's `HTML_SPAN_ELEMENTS`: a line starting with one of these is a paragraph, not an HTML block.
const SPAN_ELEMENTS: &[&str] = &[
    "a", "abbr", "acronym", "b", "big", "bdo", "br", "button", "cite", "code", "del", "dfn", "em", "i", "img", "input",
    "ins", "kbd", "label", "mark", "option", "q", "rb", "rbc", "rp", "rt", "rtc", "ruby", "samp", "select", "small",
    "span", "strong", "sub", "sup", "tt", "u", "var",
];

/// kramdown's `HTML_BLOCK_ELEMENTS`: written inside a paragraph, these tags show as text.
const BLOCK_ELEMENTS: &[&str] = &[
    "address",
    "article",
    "aside",
    "applet",
    "body",
    "blockquote",
    "caption",
    "col",
    "colgroup",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "html",
    "head",
    "iframe",
    "legend",
    "menu",
    "li",
    "main",
    "map",
    "nav",
    "ol",
    "optgroup",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tfoot",
    "tr",
    "ul",
];

/// kramdown's `HTML_ELEMENTS_WITHOUT_BODY`.
const VOID_ELEMENTS: &[&str] = &[
    "area", "base", "br", "col", "command", "embed", "hr", "img", "input", "keygen", "link", "meta", "param", "source",
    "track", "wbr",
];

const CONTENT_BLOCK: &[&str] = &[
    "address",
    "applet",
    "article",
    "aside",
    "blockquote",
    "body",
    "dd",
    "details",
    "div",
    "dl",
    "fieldset",
    "figure",
    "figcaption",
    "footer",
    "form",
    "header",
    "hgroup",
    "iframe",
    "li",
    "main",
    "map",
    "menu",
    "nav",
    "noscript",
    "object",
    "section",
    "summary",
    "td",
];
const CONTENT_SPAN: &[&str] = &[
    "a", "abbr", "acronym", "b", "bdo", "big", "button", "cite", "caption", "del", "dfn", "dt", "em", "h1", "h2", "h3",
    "h4", "h5", "h6", "i", "ins", "label", "legend", "optgroup", "p", "q", "rb", "rbc", "rp", "rt", "rtc", "ruby",
    "select", "small", "span", "strong", "sub", "sup", "th", "tt",
];

pub(crate) fn is_span_element(name: &str) -> bool {
    SPAN_ELEMENTS.contains(&name.to_ascii_lowercase().as_str())
}

pub(crate) fn is_block_element(name: &str) -> bool {
    BLOCK_ELEMENTS.contains(&name.to_ascii_lowercase().as_str())
}

pub(crate) fn is_void_element(name: &str) -> bool {
    VOID_ELEMENTS.contains(&name.to_ascii_lowercase().as_str())
}

/// How kramdown reads the inside of an element (`HTML_CONTENT_MODEL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentModel {
    Block,
    Span,
    Raw,
}

pub(crate) fn content_model(name: &str) -> ContentModel {
    let name = name.to_ascii_lowercase();
    if CONTENT_BLOCK.contains(&name.as_str()) {
        ContentModel::Block
    } else if CONTENT_SPAN.contains(&name.as_str()) {
        ContentModel::Span
    } else {
        ContentModel::Raw
    }
}

/// A start tag as kramdown's `HTML_TAG_RE` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StartTag {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub self_closed: bool,
    /// Bytes from `<` to `>` inclusive.
    pub len: usize,
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | ':' | '\u{B7}')
}

/// An XML name at the start of `text`, and its length.
fn name_at(text: &str) -> Option<usize> {
    let mut chars = text.char_indices();
    let (_, first) = chars.next()?;
    if !is_name_start(first) {
        return None;
    }
    Some(chars.find(|(_, c)| !is_name_char(*c)).map_or(text.len(), |(i, _)| i))
}

fn skip_space(text: &str, i: usize) -> usize {
    i + text[i..].find(|c: char| !c.is_whitespace()).unwrap_or(text.len() - i)
}

/// Parses `<name attr="value" attr=word attr>` at the start of `text` (attributes may span lines).
pub(crate) fn start_tag(text: &str) -> Option<StartTag> {
    let body = text.strip_prefix('<')?;
    let name_len = name_at(body)?;
    let name = body[..name_len].to_string();
    let mut i = 1 + name_len;
    let mut attrs = Vec::new();
    loop {
        let j = skip_space(text, i);
        let rest = &text[j..];
        if rest.starts_with("/>") {
            return Some(StartTag { name, attrs, self_closed: true, len: j + 2 });
        }
        if rest.starts_with('>') {
            return Some(StartTag { name, attrs, self_closed: false, len: j + 1 });
        }
        if j == i && !attrs.is_empty() {
            return None;
        }
        let attr_len = name_at(rest)?;
        let attr_name = rest[..attr_len].to_ascii_lowercase();
        let mut k = j + attr_len;
        let after_name = skip_space(text, k);
        let mut value = String::new();
        if text[after_name..].starts_with('=') {
            let v = skip_space(text, after_name + 1);
            let value_text = &text[v..];
            if let Some(quote) = value_text.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let end = value_text[1..].find(quote)?;
                value = value_text[1..1 + end].to_string();
                k = v + 1 + end + 1;
            } else {
                let word = value_text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(value_text.len());
                if word == 0 {
                    return None;
                }
                value = value_text[..word].to_string();
                k = v + word;
            }
        }
        attrs.push((attr_name, value));
        i = k;
    }
}

/// `</name >` at the start of `text`: the name and the tag's length.
pub(crate) fn end_tag(text: &str) -> Option<(&str, usize)> {
    let body = text.strip_prefix("</")?;
    let name_len = name_at(body)?;
    let after = skip_space(body, name_len);
    body[after..].starts_with('>').then(|| (&body[..name_len], 2 + after + 1))
}

/// Where raw HTML that starts with an element's start tag ends, as kramdown's `parse_raw_html` finds it:
/// nested elements must close in order, an end tag that closes nothing open is shown as text, and an
/// element left open runs to the end of the document.
pub(crate) struct RawBlock {
    /// Byte offset just after the block (after the outer end tag, or the end of the text).
    pub end: usize,
    /// The HTML to write: the source, with stray end tags and bare `<` escaped and open elements closed.
    pub html: String,
    /// Elements inside it whose content is Markdown, by their `markdown` attribute.
    pub nested: Vec<NestedMarkdown>,
}

/// An element inside raw HTML whose content kramdown reads as Markdown (`<td markdown="span">`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NestedMarkdown {
    /// Where the element goes in the block's HTML (a byte offset).
    pub at: usize,
    pub name: String,
    /// Its attributes, without `markdown`.
    pub attrs: Vec<(String, String)>,
    pub markdown: String,
    /// Span-level (`markdown="span"`, or `"1"` on a `p`, `th`…) or block-level content.
    pub span: bool,
}

/// The start tag of `name` with `attrs` (values escaped).
pub(crate) fn write_start_tag(name: &str, attrs: &[(String, String)]) -> String {
    let mut tag = format!("<{name}");
    for (key, value) in attrs {
        tag.push_str(&format!(" {key}=\"{}\"", super::render::escape_attr(value)));
    }
    tag.push('>');
    tag
}

/// Scans raw HTML from `text[start..]`, just after the start tag of `name` (already copied to `out`).
pub(crate) fn scan_raw(text: &str, start: usize, name: &str, mut html: String) -> RawBlock {
    let mut open: Vec<String> = vec![name.to_ascii_lowercase()];
    let mut nested = Vec::new();
    let mut i = start;
    if matches!(open[0].as_str(), "script" | "style") {
        return finish_raw_text(text, i, &open[0], html);
    }
    while let Some(offset) = text[i..].find('<') {
        html.push_str(&text[i..i + offset]);
        i += offset;
        let rest = &text[i..];
        if rest.starts_with("<!--") {
            if let Some(end) = rest.find("-->") {
                html.push_str(&rest[..end + 3]);
                i += end + 3;
                continue;
            }
        } else if rest.starts_with("<?") {
            if let Some(end) = rest.find("?>") {
                html.push_str(&rest[..end + 2]);
                i += end + 2;
                continue;
            }
        } else if let Some(tag) = start_tag(rest) {
            let lower = tag.name.to_ascii_lowercase();
            if tag.attrs.iter().any(|(key, _)| key == "markdown") {
                // kramdown reads the attribute on any element and leaves it out of the HTML.
                let mut attrs = tag.attrs.clone();
                let value = attrs.iter().position(|(key, _)| key == "markdown").map(|at| attrs.remove(at).1);
                let model = match value.as_deref() {
                    Some("1") => content_model(&lower),
                    Some("block") => ContentModel::Block,
                    Some("span") => ContentModel::Span,
                    _ => ContentModel::Raw,
                };
                let has_body = !tag.self_closed && !is_void_element(&lower);
                let after_tag = i + tag.len;
                let content_end = match model {
                    ContentModel::Span => find_end_tag(text, after_tag, &lower),
                    ContentModel::Block => find_matching_end_tag(text, after_tag, &lower),
                    ContentModel::Raw => None,
                };
                if let Some((at, len)) = content_end.filter(|_| has_body) {
                    nested.push(NestedMarkdown {
                        at: html.len(),
                        name: tag.name.clone(),
                        attrs,
                        markdown: text[after_tag..at].to_string(),
                        span: model == ContentModel::Span,
                    });
                    i = at + len;
                    continue;
                }
                let mut start = write_start_tag(&tag.name, &attrs);
                if !has_body {
                    start.insert_str(start.len() - 1, " /");
                }
                html.push_str(&start);
            } else {
                html.push_str(&rest[..tag.len]);
            }
            i += tag.len;
            if lower == "script" || lower == "style" {
                let end = find_end_tag(text, i, &lower);
                let stop = end.map_or(text.len(), |(at, _)| at);
                html.push_str(&text[i..stop]);
                match end {
                    Some((at, len)) => {
                        html.push_str(&text[at..at + len]);
                        i = at + len;
                    }
                    None => {
                        html.push_str(&format!("</{lower}>"));
                        i = text.len();
                    }
                }
            } else if !tag.self_closed && !is_void_element(&lower) {
                open.push(lower);
            }
            continue;
        } else if let Some((closing, len)) = end_tag(rest) {
            if open.last().is_some_and(|top| top.eq_ignore_ascii_case(closing)) {
                html.push_str(&rest[..len]);
                i += len;
                open.pop();
                if open.is_empty() {
                    return RawBlock { end: i, html, nested };
                }
            } else {
                html.push_str("&lt;");
                html.push_str(&rest[1..len]);
                i += len;
            }
            continue;
        }
        html.push_str("&lt;");
        i += 1;
    }
    html.push_str(&text[i..]);
    while let Some(name) = open.pop() {
        html.push_str(&format!("</{name}>"));
    }
    RawBlock { end: text.len(), html, nested }
}

fn finish_raw_text(text: &str, i: usize, name: &str, mut html: String) -> RawBlock {
    match find_end_tag(text, i, name) {
        Some((at, len)) => {
            html.push_str(&text[i..at + len]);
            RawBlock { end: at + len, html, nested: Vec::new() }
        }
        None => {
            html.push_str(&text[i..]);
            html.push_str(&format!("</{name}>"));
            RawBlock { end: text.len(), html, nested: Vec::new() }
        }
    }
}

/// The `</name>` (any case) that closes an element of `name` whose content starts at `from`, counting
/// the elements of that name opened inside: its offset and length.
fn find_matching_end_tag(text: &str, from: usize, name: &str) -> Option<(usize, usize)> {
    let mut depth = 0usize;
    let mut i = from;
    while let Some(offset) = text[i..].find('<') {
        let at = i + offset;
        if let Some((found, len)) = end_tag(&text[at..]) {
            if found.eq_ignore_ascii_case(name) {
                if depth == 0 {
                    return Some((at, len));
                }
                depth -= 1;
            }
            i = at + len;
        } else if let Some(tag) = start_tag(&text[at..]) {
            if tag.name.eq_ignore_ascii_case(name) && !tag.self_closed {
                depth += 1;
            }
            i = at + tag.len;
        } else {
            i = at + 1;
        }
    }
    None
}

/// The next `</name>` (any case) at or after `from`: its offset and length.
pub(crate) fn find_end_tag(text: &str, from: usize, name: &str) -> Option<(usize, usize)> {
    let mut i = from;
    while let Some(offset) = text[i..].find("</") {
        let at = i + offset;
        if let Some((found, len)) = end_tag(&text[at..]) {
            if found.eq_ignore_ascii_case(name) {
                return Some((at, len));
            }
        }
        i = at + 2;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_tags_as_kramdown_reads_them() {
        let tag = start_tag("<div class=\"a b\"\n  id='x' hidden data-n=3>rest").unwrap();
        assert_eq!(tag.name, "div");
        assert_eq!(tag.attrs[0], ("class".to_string(), "a b".to_string()));
        assert_eq!(tag.attrs[2], ("hidden".to_string(), String::new()));
        assert_eq!(tag.attrs[3], ("data-n".to_string(), "3".to_string()));
        assert_eq!(&"<div class=\"a b\"\n  id='x' hidden data-n=3>rest"[tag.len..], "rest");
        assert!(start_tag("<br/>").unwrap().self_closed);
        assert_eq!(start_tag("<a href=/x>"), None, "an unquoted value must be a word");
        assert_eq!(start_tag("<div class=\"open>"), None);
        assert_eq!(start_tag("< div>"), None);
        assert_eq!(end_tag("</div >x"), Some(("div", 7)));
    }

    #[test]
    fn raw_blocks_run_to_the_matching_end_tag_across_blank_lines() {
        let text = "<figure><pre><code>a\n\n<b>b</b>\n</code></pre></figure>\nafter";
        let tag = start_tag(text).unwrap();
        let block = scan_raw(text, tag.len, &tag.name, text[..tag.len].to_string());
        assert_eq!(&text[block.end..], "\nafter");
        assert_eq!(block.html, &text[..block.end]);
    }

    #[test]
    fn stray_end_tags_become_text_and_open_elements_run_to_the_end() {
        let text = "<div><p>a</div>\n\nmore";
        let tag = start_tag(text).unwrap();
        let block = scan_raw(text, tag.len, &tag.name, text[..tag.len].to_string());
        assert_eq!(block.end, text.len());
        assert_eq!(block.html, "<div><p>a&lt;/div>\n\nmore</p></div>");
    }

    #[test]
    fn script_bodies_are_not_read_as_html() {
        let text = "<script>if (a < b) { x = '</div>'; }</script>\nz";
        let tag = start_tag(text).unwrap();
        let block = scan_raw(text, tag.len, &tag.name, text[..tag.len].to_string());
        assert_eq!(&text[block.end..], "\nz");
    }

    #[test]
    fn element_kinds() {
        assert!(is_span_element("SPAN") && !is_span_element("div"));
        assert!(is_block_element("p") && !is_block_element("span"));
        assert_eq!(content_model("div"), ContentModel::Block);
        assert_eq!(content_model("p"), ContentModel::Span);
        assert_eq!(content_model("pre"), ContentModel::Raw);
        assert_eq!(content_model("custom-thing"), ContentModel::Raw);
    }
}
