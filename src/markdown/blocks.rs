//! The block pass that runs before pulldown-cmark. It takes out what kramdown reads differently from
//! CommonMark, line by line, and leaves a placeholder (an HTML comment on its own line) where a block was:
//! - fenced code as kramdown-parser-gfm accepts it (a fence needs its closing fence and a one-word info);
//! - HTML blocks, which in kramdown run to their matching end tag (blank lines included), and
//!   `markdown="1"` blocks, whose start and end tags become placeholders around Markdown content;
//! - block IALs (`{: .lead}`), ALDs (`{:name: …}`), `{::comment}`/`{::nomarkdown}` extensions,
//!   abbreviation definitions (`*[HTML]: …`) and the end-of-block marker `^`.

use std::borrow::Cow;
use std::collections::HashMap;

use super::attributes::{self, Attrs, Extension, Ial};
use super::html_scan::{self, ContentModel};
use super::Options;

/// What a placeholder stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stored {
    /// A fenced code block: the info word, the language for the class (before any `?`), the code.
    Code { info: Option<String>, lang: Option<String>, code: String },
    /// Raw HTML written as it is (HTML blocks, comments, `{::nomarkdown}`).
    Html(String),
    /// The start tag of a block whose content is Markdown.
    Open { name: String, attrs: Attrs },
    /// The end tag of such a block.
    Close(String),
    /// Inline math or a span extension: its HTML (`\(…\)`, a `{::nomarkdown}`'s body) and its source
    /// (`$$…$$`, the extension), for where it turns out to be code.
    Inline { html: String, source: String },
    /// An element whose content is span-level Markdown (`<p markdown="1">…</p>`).
    Span { name: String, attrs: Attrs, markdown: String },
    /// Raw HTML holding elements whose content is Markdown (`<table>…<td markdown="span">`).
    HtmlWithMarkdown { html: String, nested: Vec<html_scan::NestedMarkdown> },
}

/// A block IAL, and to which block it belongs.
#[derive(Debug, Clone)]
pub(crate) struct BlockIal {
    /// The line (in the prepared text) where the IAL stood; it is blank there now.
    pub line: usize,
    /// Its indentation, which tells an IAL for a list item's paragraph from one for the whole list.
    pub indent: usize,
    /// True when it follows a block directly (it applies to that block), false when it stands before one.
    pub follows_block: bool,
    pub ial: Ial,
}

/// The document after the block pass.
#[derive(Debug, Default)]
pub(crate) struct Prepared {
    /// What pulldown-cmark reads.
    pub text: String,
    pub stored: Vec<Stored>,
    pub ials: Vec<BlockIal>,
    /// IALs at the start of a list item's first line (`- {:#id} text`), for the item, by the line
    /// (in the prepared text) the item starts on.
    pub item_ials: Vec<(usize, Ial)>,
    pub alds: HashMap<String, Ial>,
    /// Abbreviations and their titles, in the order of definition (a later one wins).
    pub abbreviations: Vec<(String, String)>,
    /// Lines (in the prepared text) where a table without a header starts: its first row is a body row.
    pub headless_tables: std::collections::HashSet<usize>,
    /// Blank lines (in the prepared text) that were not blank in the source: what an IAL, ALD, extension
    /// or abbreviation definition leaves, and the blank line put before an item that ends a paragraph.
    pub filler_lines: std::collections::HashSet<usize>,
    /// Offsets (in the prepared text) of backslashes the block pass put before a `-` that kramdown reads
    /// as it stands.
    pub unescaped_dashes: std::collections::HashSet<usize>,
    /// Offsets (in the prepared text) of backslashes the block pass put at the start of a line that
    /// begins inside a code span (`` `a(b, `` then `` :c)` ``): not in the post, so not in the code.
    pub code_backslashes: std::collections::HashSet<usize>,
    /// What `{::options … /}` extensions set, in order: name, value, and whether only blank lines come
    /// before it in the post.
    pub inline_options: Vec<(String, String, bool)>,
}

const PLACEHOLDER_START: &str = "<!--\u{1}kd";
const PLACEHOLDER_END: &str = "\u{1}-->";

/// The tag name of inline placeholders (`<kramdown-inline-3>`).
const INLINE_PLACEHOLDER: &str = "kramdown-inline-";

/// The stored item an inline placeholder tag names, if `html` is one.
pub(crate) fn inline_placeholder_index(html: &str) -> Option<usize> {
    html.strip_prefix('<')?.strip_prefix(INLINE_PLACEHOLDER)?.strip_suffix('>')?.parse().ok()
}

fn escape_math(math: &str) -> String {
    math.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// The stored item a placeholder comment names, if `html` is one.
pub(crate) fn placeholder_index(html: &str) -> Option<usize> {
    html.trim().strip_prefix(PLACEHOLDER_START)?.strip_suffix(PLACEHOLDER_END)?.parse().ok()
}

fn indentation(line: &str) -> usize {
    let mut width = 0;
    for c in line.chars() {
        match c {
            ' ' => width += 1,
            '\t' => width += 4 - width % 4,
            _ => break,
        }
    }
    width
}

/// `* `, `- `, `+ ` or `12. ` after up to three spaces: the column where the item's content starts.
fn list_item_content(line: &str) -> Option<usize> {
    let indent = indentation(line);
    let rest = line.trim_start();
    let marker = if rest.starts_with(['*', '-', '+']) {
        1
    } else {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 || !rest[digits..].starts_with('.') {
            return None;
        }
        digits + 1
    };
    let after = &rest[marker..];
    if !after.starts_with([' ', '\t']) {
        return None;
    }
    let spaces = after.len() - after.trim_start_matches([' ', '\t']).len();
    Some(indent + marker + if after.trim().is_empty() || spaces > 4 { 1 } else { spaces })
}

/// A `#` line that CommonMark reads as a header with no text where kramdown reads it otherwise,
/// rewritten with a backslash so that pulldown-cmark reads it as kramdown does. kramdown keeps no
/// header without text: `#### ` (or `#` then spaces) is paragraph text. With GFM input (and its
/// default `paragraph_end` quirk) only a closing run after a space is cut off, so `# #` is a header
/// whose text is `#`, where CommonMark takes the second `#` as the closing run; the kramdown parser
/// cuts any closing run, so there `# #` is text too. The `#` may follow a list marker or `>`.
fn header_text_kept(line: &str, gfm: bool) -> Option<String> {
    let mut start = 0;
    loop {
        let rest = &line[start..];
        let spaces = rest.len() - rest.trim_start_matches(' ').len();
        if spaces > 3 {
            return None;
        }
        let inner = &rest[spaces..];
        if let Some(after) = inner.strip_prefix('>') {
            start += spaces + 1 + usize::from(after.starts_with(' '));
        } else if let Some(column) = list_item_content(rest).filter(|_| !is_rule(inner)) {
            // The column is a byte offset when no tab comes before the marker.
            if rest[..rest.len() - rest.trim_start().len()].contains('\t')
                || !rest.is_char_boundary(column.min(rest.len()))
            {
                return None;
            }
            start += column.min(rest.len());
        } else {
            start += spaces;
            break;
        }
    }
    let header = &line[start..];
    if !is_atx_header(header) && !matches!(header.trim_end_matches('#'), "") {
        return None;
    }
    let hashes = header.len() - header.trim_start_matches('#').len();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let text = header[hashes..].trim();
    let escape_at = if text.is_empty() {
        start
    } else if text.bytes().all(|b| b == b'#') {
        if gfm {
            start + hashes + (header[hashes..].len() - header[hashes..].trim_start().len())
        } else {
            start
        }
    } else {
        return None;
    };
    Some(format!("{}\\{}", &line[..escape_at], &line[escape_at..]))
}

/// A quoted line starting `:word` (no space after the colon) is text to kramdown, as it is
/// outside a quote, where pulldown-cmark would make the paragraph before it a definition term:
/// the colon is escaped.
fn quoted_colon_kept(line: &str) -> Option<String> {
    let (_, inner) = quote_levels(line)?;
    let after = inner.strip_prefix(':')?;
    if after.starts_with([' ', '\t', '|']) {
        return None;
    }
    let at = line.len() - inner.len();
    Some(format!("{}\\{}", &line[..at], inner))
}

fn is_atx_header(content: &str) -> bool {
    let hashes = content.len() - content.trim_start_matches('#').len();
    (1..=6).contains(&hashes) && content[hashes..].starts_with([' ', '\t'])
}

/// kramdown's fence: three or more of the same character, then at most one word of info.
fn fence_open(content: &str, gfm: bool) -> Option<(char, usize, Option<String>)> {
    let first = content.chars().next()?;
    if first != '~' && !(gfm && first == '`') {
        return None;
    }
    let run = content.len() - content.trim_start_matches(first).len();
    if run < 3 {
        return None;
    }
    let info = content[run..].trim();
    if info.contains(char::is_whitespace) || (first == '`' && info.contains('`')) {
        return None;
    }
    Some((first, run, (!info.is_empty()).then(|| info.to_string())))
}

fn is_fence_close(line: &str, fence: char, run: usize, max_indent: usize) -> bool {
    if indentation(line) > max_indent {
        return false;
    }
    let content = line.trim_start();
    let len = content.len() - content.trim_start_matches(fence).len();
    len >= run && content[len..].trim().is_empty()
}

/// Runs the block pass.
pub(crate) fn prepare(source: &str, options: &Options) -> Prepared {
    let mut pass = Pass {
        src: source,
        out: String::with_capacity(source.len() + 64),
        line: 0,
        prepared: Prepared::default(),
        open_code_run: 0,
        unclosed: Unclosed::default(),
        parse_block_html: None,
        link_labels: Vec::new(),
        item_marker: None,
        resume_indent: None,
        item_text: None,
        in_quote_line: false,
        stray_end_tag: false,
    };
    pass.run(options);
    shadow_redefined_labels(&mut pass.out, &pass.link_labels);
    let mut prepared = pass.prepared;
    prepared.text = pass.out;
    prepared
}

/// A label defined again takes its last definition in kramdown, its first in CommonMark: every
/// definition but the last of a label gets a label that no link uses.
fn shadow_redefined_labels(out: &mut String, labels: &[(String, std::ops::Range<usize>)]) {
    let mut last: HashMap<&str, usize> = HashMap::new();
    for (i, (label, _)) in labels.iter().enumerate() {
        last.insert(label, i);
    }
    // From the end, so that the ranges before each replacement still hold.
    for (i, (label, range)) in labels.iter().enumerate().rev() {
        if last[label.as_str()] != i {
            out.replace_range(range.clone(), &format!("postfeed shadowed link {i}"));
        }
    }
}

/// A link label as kramdown looks it up: runs of whitespace as one space, lower case.
fn link_label_key(label: &str) -> String {
    label.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

struct Pass<'a> {
    src: &'a str,
    out: String,
    /// Lines written so far.
    line: usize,
    prepared: Prepared,
    /// The backtick run of a code span a paragraph's line left open (0: none).
    open_code_run: usize,
    /// Searches that found nothing up to the end of the text, so that a later one from further on (which
    /// cannot find more) is not run again: without these, ten thousand unclosed `~~~x` or `<!--` lines
    /// would take quadratic time.
    unclosed: Unclosed,
    /// `parse_block_html` as a `{::options … /}` above set it: kramdown's parser reads it from there on.
    parse_block_html: Option<bool>,
    /// Each link definition written: its label as kramdown compares labels, and where the label
    /// stands in `out`.
    link_labels: Vec<(String, std::ops::Range<usize>)>,
    /// A list item's marker (`   - `) that the next placeholder starts its line with, for an item that
    /// opens with an HTML block.
    item_marker: Option<String>,
    /// The indentation of the line the pass goes on with when an HTML block ended mid-line: the rest of
    /// that line starts the next block, in the item (or at the level) the block was in.
    resume_indent: Option<usize>,
    /// For an HTML block that opens a list item (or stands on a blockquote line): where the item's text
    /// (or the line) ends, which the block cannot run past, and the columns kramdown takes off the
    /// block's lines.
    item_text: Option<(usize, usize)>,
    /// Reading HTML on a blockquote line: what follows a block on the line is left to the caller.
    in_quote_line: bool,
    /// The HTML block just read was a stray end tag, written as text.
    stray_end_tag: bool,
}

/// The elements with Markdown content (`<div markdown="1">`) whose end tag has not come yet, innermost last.
#[derive(Default)]
struct OpenElements {
    stack: Vec<OpenElement>,
    /// The list item the line being read is in: how many lists deep, and its content column (0, 0: none).
    item: (usize, usize),
}

impl OpenElements {
    /// Whether a nested list starting on the next line would split the text of the item the innermost
    /// open element is in (kramdown's `nested_list_found` is still false for it).
    fn item_split_before(&self, levels: &[ListLevel]) -> bool {
        let Some((depth, column)) = self.stack.last().map(|open| open.item) else { return false };
        depth > 0 && levels.get(depth - 1).is_some_and(|level| level.column == column && !level.nested)
    }
}

struct OpenElement {
    name: String,
    /// The list item it was opened in, as [`OpenElements::item`].
    item: (usize, usize),
}

#[derive(Default)]
struct Unclosed {
    /// Fence character and the shortest run whose closing fence was missing, outside lists.
    fence: Vec<(char, usize)>,
    comment: bool,
    extension: bool,
    /// Element names whose end tag was missing.
    end_tags: Vec<String>,
}

impl Pass<'_> {
    fn emit(&mut self, line: &str) {
        self.out.push_str(line);
        self.out.push('\n');
        self.line += 1;
    }

    /// A blank line where the source has none (see [`Prepared::filler_lines`]).
    fn emit_filler(&mut self) {
        self.prepared.filler_lines.insert(self.line);
        self.emit("");
    }

    /// A fence line that is text for kramdown: inside a paragraph it continues the paragraph (indented four
    /// columns past the content column of the list item it is in, `column`, so that pulldown-cmark takes it
    /// lazily); starting one, an empty span keeps it from being a fence. Either way its backticks can still
    /// open or close a code span, as in kramdown.
    fn emit_fence_as_text(&mut self, line: &str, content: &str, in_paragraph: bool, column: usize) {
        if in_paragraph {
            self.emit(&format!("{}{content}", " ".repeat(column + 4)));
        } else {
            let split = line.len() - content.len();
            self.emit(&format!("{}<span></span>{content}", &line[..split]));
        }
    }

    /// `[id]: url with spaces` or `[id]: url (not a title)`: kramdown takes everything up to a quoted title
    /// as the URL, spaces, parentheses and backslashes included; pulldown-cmark needs it in angle brackets,
    /// and so it does a URL with an unbalanced parenthesis (`https://x.org/a)`), which it would read as no
    /// definition at all, and then take the definitions below it as the text of a paragraph.
    fn link_definition(&mut self, line: &str, content: &str) -> bool {
        let Some(rest) = content.strip_prefix('[') else { return false };
        if rest.starts_with('^') {
            return false;
        }
        let Some(close) = rest.find("]:") else { return false };
        let label = &rest[..close];
        if label.is_empty() || label.contains(']') {
            return false;
        }
        let target = rest[close + 2..].trim();
        if target.is_empty() || target.starts_with('<') {
            return false;
        }
        let (url, title) = split_title(target);
        if !url.contains(char::is_whitespace) && !url.contains(['\\', '(', ')']) {
            return false;
        }
        let split = line.len() - content.len();
        let url = bracketed_url(url);
        let title = title.map(|t| format!(" \"{}\"", t.replace('"', "\\\""))).unwrap_or_default();
        self.emit(&format!("{}[{label}]: {url}{title}", &line[..split]));
        true
    }

    /// Block math from `start` (at `$$`): stores `\[…\]` and returns where the text goes on, or None when the
    /// closing `$$` is missing or not followed by a block boundary.
    fn block_math(&mut self, start: usize, indent: usize) -> Option<usize> {
        let src = self.src;
        let body_start = start + 2;
        let close = body_start + src[body_start..].find("$$")?;
        let line_end = src[close + 2..].find('\n').map_or(src.len(), |i| close + 2 + i);
        if !src[close + 2..line_end].trim().is_empty() {
            return None;
        }
        let next = (line_end + 1).min(src.len());
        let next_line = src[next..].split('\n').next().unwrap_or("");
        if next < src.len() && !next_line.trim().is_empty() {
            return None;
        }
        let math = src[body_start..close].trim();
        self.placeholder(indent, Stored::Html(format!("\\[{}\\]", escape_math(math))));
        Some(next)
    }

    /// `$$…$$` inside a line (not in a code span): kramdown's inline math, `\(…\)` with MathJax. Each is
    /// replaced by an inline placeholder tag.
    fn inline_math(&mut self, line: &str) -> Option<String> {
        if !line.contains("$$") {
            return None;
        }
        let mut out = String::with_capacity(line.len() + 16);
        let mut rest = line;
        let mut replaced = false;
        while let Some(open) = rest.find("$$") {
            let before = &rest[..open];
            let in_code = (out.matches('`').count() + before.matches('`').count()) % 2 == 1;
            let escaped = before.ends_with('\\');
            let Some(close) = rest[open + 2..].find("$$").map(|c| open + 2 + c) else { break };
            if in_code || escaped || close == open + 2 {
                out.push_str(&rest[..open + 2]);
                rest = &rest[open + 2..];
                continue;
            }
            let index = self.prepared.stored.len();
            let html = format!("\\({}\\)", escape_math(&rest[open + 2..close]));
            self.prepared.stored.push(Stored::Inline { html, source: rest[open..close + 2].to_string() });
            out.push_str(before);
            out.push_str(&format!("<{INLINE_PLACEHOLDER}{index}>"));
            rest = &rest[close + 2..];
            replaced = true;
        }
        out.push_str(rest);
        replaced.then_some(out)
    }

    /// Span extensions inside a line (not in a code span): `{::comment}…{:/comment}` and
    /// `{::nomarkdown}…{:/}` become inline placeholders, `{::options … /}` nothing. Unknown names and
    /// tags without their stop tag stay text, as in kramdown.
    fn span_extensions(&mut self, line: &str) -> Option<String> {
        if !line.contains("{::") {
            return None;
        }
        let mut out = String::with_capacity(line.len());
        let mut rest = line;
        let mut replaced = false;
        let mut backticks = 0;
        let mut unclosed = Vec::new();
        while let Some(open) = rest.find("{::") {
            let before = &rest[..open];
            backticks += before.matches('`').count();
            let in_code = backticks % 2 == 1;
            let found =
                if in_code || before.ends_with('\\') { None } else { span_extension(&rest[open..], &mut unclosed) };
            let Some((len, html)) = found else {
                out.push_str(&rest[..open + 3]);
                rest = &rest[open + 3..];
                continue;
            };
            if let Some(attrs) = rest[open..open + len].strip_prefix("{::options").and_then(|t| t.strip_suffix("/}")) {
                self.inline_options(attrs);
            }
            let index = self.prepared.stored.len();
            self.prepared.stored.push(Stored::Inline { html, source: rest[open..open + len].to_string() });
            out.push_str(before);
            out.push_str(&format!("<{INLINE_PLACEHOLDER}{index}>"));
            rest = &rest[open + len..];
            replaced = true;
        }
        out.push_str(rest);
        replaced.then_some(out)
    }

    /// The options a `{::options … /}` sets (`attrs`: what follows its name).
    fn inline_options(&mut self, attrs: &str) {
        let mut ial = Ial::default();
        attributes::parse(attrs, &mut ial);
        let at_start = self.out.trim().is_empty();
        for (key, value) in ial.attrs.0 {
            if key == "parse_block_html" {
                let mut options = Options::default();
                options.apply_inline(&key, &value);
                self.parse_block_html = Some(options.parse_block_html);
            }
            self.prepared.inline_options.push((key, value, at_start));
        }
    }

    fn placeholder(&mut self, indent: usize, stored: Stored) {
        self.placeholder_at(indent.min(3), stored);
    }

    /// A placeholder indented by `spaces` exactly.
    fn placeholder_at(&mut self, spaces: usize, stored: Stored) {
        let index = self.prepared.stored.len();
        self.prepared.stored.push(stored);
        let lead = self.item_marker.take().unwrap_or_else(|| " ".repeat(spaces));
        let line = format!("{lead}{PLACEHOLDER_START}{index}{PLACEHOLDER_END}");
        self.emit(&line);
    }

    fn run(&mut self, options: &Options) {
        let src = self.src;
        let mut pos = 0;
        // At a block start: kramdown would try its block parsers here, not continue a paragraph.
        let mut boundary = true;
        let mut last_blank = true;
        // Lines of the paragraph the previous line belongs to (0: not in a paragraph), and whether that
        // paragraph began at a block boundary.
        let mut para_lines = 0usize;
        let mut para_at_boundary = false;
        // The list items the line may belong to, outermost first.
        let mut levels: Vec<ListLevel> = Vec::new();
        let mut in_indented_code = false;
        // In a footnote definition's indented blocks (after its first line and a blank line).
        let mut in_footnote = false;
        let mut quote_was_empty = false;
        let mut prev_was_quote = false;
        let mut open_markdown = OpenElements::default();
        let mut quoted_fence = None;
        let mut last_in_quoted_code = false;
        while pos < src.len() {
            let line_end = src[pos..].find('\n').map_or(src.len(), |i| pos + i);
            let line = &src[pos..line_end];
            let next = (line_end + 1).min(src.len());
            // Code in a quote is pulldown-cmark's to read: no definitions or HTML are looked for in it.
            let in_quoted_code = quoted_fence_step(&mut quoted_fence, line, options.gfm());
            let after_quoted_code = std::mem::replace(&mut last_in_quoted_code, in_quoted_code);
            if line.trim().is_empty() {
                self.emit(line);
                levels.iter_mut().for_each(|level| level.nested = true);
                boundary = true;
                last_blank = true;
                para_lines = 0;
                prev_was_quote = false;
                pos = next;
                continue;
            }
            // The rest of a line after an HTML block stands where the block stood.
            let indent = self.resume_indent.take().unwrap_or_else(|| indentation(line));
            let content = line.trim_start();
            let list_item = list_item_content(line);
            if last_blank && list_item.is_none() {
                // After a blank line, a line indented less than an item's content is not in that item.
                while levels.last().is_some_and(|level| level.column > indent) {
                    levels.pop();
                }
            }
            let list_content = levels.last().map(|level| level.column);
            if last_blank && indent < 4 {
                in_footnote = false;
            }
            // A table in a footnote definition: pulldown-cmark reads the definition's indented blocks,
            // but a table needs its separator row, which kramdown does not.
            if in_footnote && last_blank && list_content.is_none() && line.starts_with("    ") {
                if let Some(after) = self.table(pos, 4, &line[4..], Some(4), false) {
                    pos = after;
                    boundary = true;
                    last_blank = false;
                    para_lines = 0;
                    continue;
                }
            }
            if indent >= 4 && list_content.is_none() && para_lines == 0 && (last_blank || in_indented_code) {
                in_indented_code = true;
                self.emit(line);
                pos = next;
                last_blank = false;
                continue;
            }
            // kramdown's indented code takes the lines that follow it up to a blank line, indented or not
            // (`    code` then `## x` is all code), unless they are IALs, `^` or HTML tags.
            if in_indented_code
                && !last_blank
                && !content.starts_with("{:")
                && !content.starts_with('<')
                && content.trim_end() != "^"
            {
                self.emit(&format!("    {content}"));
                pos = next;
                continue;
            }
            in_indented_code = false;
            // A rule (`* * *`) is no item, for pulldown-cmark and for kramdown after a blank line.
            let item = list_item.filter(|_| !is_rule(content)).map(|column| (column - indent, content.as_bytes()[0]));
            let split_before = open_markdown.item_split_before(&levels);
            let placed = place_in_lists(&mut levels, indent, item, !last_blank && can_be_lazy(content));
            let list_content = levels.last().map(|level| level.column);
            self.close_ended_items(&mut open_markdown, &levels, placed.new_item, split_before);
            open_markdown.item = (levels.len(), list_content.unwrap_or(0));
            let max_indent = list_content.map_or(3, |c| c + 3);
            if indent > max_indent {
                self.emit(line);
                pos = next;
                boundary = false;
                last_blank = false;
                continue;
            }
            let follows_block = !last_blank;
            let at_block_start = last_blank;
            last_blank = false;

            let looks_like_fence = content.starts_with("```") || content.starts_with("~~~");
            if looks_like_fence && fence_open(content, options.gfm()).is_none() {
                // Not a fence for kramdown (an info string with spaces): text, which pulldown-cmark must not
                // read as a fence either.
                self.emit_fence_as_text(line, content, para_lines > 0, list_content.unwrap_or(0));
                pos = next;
                boundary = false;
                para_lines += 1;
                continue;
            }
            if let Some((fence, run, info)) = fence_open(content, options.gfm()) {
                let columns: Vec<usize> = levels.iter().map(|level| level.column).collect();
                if let Some(after) = self.fenced_code(next, fence, run, info, indent, &columns) {
                    pos = after;
                    boundary = true;
                    para_lines = 0;
                    continue;
                }
                // No closing fence: kramdown reads the line as text, so pulldown-cmark must not open a fence.
                self.emit_fence_as_text(line, content, para_lines > 0, list_content.unwrap_or(0));
                pos = next;
                boundary = false;
                para_lines += 1;
                continue;
            }

            if let Some(column) = list_item.filter(|_| placed.new_item) {
                // `- {:#id}`: kramdown gives the attributes to the item, and reads the rest as its text.
                let body = line.get(column..).unwrap_or("");
                if let Some((Extension::Ial(text), len)) = attributes::scan_braces(body) {
                    let mut ial = Ial::default();
                    attributes::parse(text, &mut ial);
                    self.prepared.item_ials.push((self.line, ial));
                    let marker = place_line(&line[..column], &placed);
                    let rest = body[len..].trim_start();
                    self.emit(format!("{}{rest}", if rest.is_empty() { marker.trim_end() } else { &marker }).as_str());
                    pos = next;
                    boundary = rest.is_empty();
                    para_lines = usize::from(!rest.is_empty());
                    para_at_boundary = !rest.is_empty();
                    continue;
                }
            }

            if let Some(column) = list_item.filter(|_| placed.new_item) {
                // `- <details markdown="1">…`: kramdown reads the item's content as blocks, so an HTML block
                // can open the item; pulldown-cmark gets the marker and the block's placeholder.
                let body = line.get(column..).unwrap_or("");
                if opens_html_block(body) {
                    if para_lines > 0 && ordered_not_one(content) {
                        self.emit_filler();
                    }
                    let marker = place_line(&line[..column], &placed);
                    let at = marker.len();
                    self.item_marker = Some(marker);
                    let base = levels.last().map_or(0, |level| level.base);
                    let ordered = content.starts_with(|c: char| c.is_ascii_digit());
                    self.item_text = Some((list_item_end(src, next, base, column, ordered), column));
                    let found = self.html_block(pos + column, at, options, &mut open_markdown);
                    self.item_marker = None;
                    self.item_text = None;
                    if let Some(after) = found {
                        pos = after;
                        boundary = true;
                        para_lines = 0;
                        continue;
                    }
                }
            }

            if let Some((_, inner)) = quote_levels(line).filter(|_| !in_quoted_code) {
                if let Some(after) = self.quoted_html(pos, line, inner, options, &mut open_markdown) {
                    pos = after;
                    boundary = true;
                    para_lines = 0;
                    continue;
                }
            }

            if content.starts_with('<') {
                if let Some(after) =
                    self.html_block(pos + (line.len() - content.len()), placed.at, options, &mut open_markdown)
                {
                    pos = after;
                    // A stray end tag is a paragraph's text, which the next lines continue.
                    let in_paragraph = std::mem::take(&mut self.stray_end_tag);
                    boundary = !in_paragraph;
                    para_lines = usize::from(in_paragraph);
                    para_at_boundary = in_paragraph && at_block_start;
                    continue;
                }
            }

            if content.starts_with("{:") {
                if let Some(after) = self.extension_line(content, line_end, indent, follows_block) {
                    pos = after;
                    boundary = true;
                    last_blank = true;
                    para_lines = 0;
                    continue;
                }
            }

            if boundary && para_lines == 0 && content.starts_with("*[") {
                if let Some((name, title)) = content[2..].split_once("]:") {
                    if !name.is_empty() {
                        self.prepared.abbreviations.push((name.to_string(), title.trim().to_string()));
                        self.emit_filler();
                        pos = next;
                        continue;
                    }
                }
            }

            if content.trim_end() == "^" {
                // The end-of-block marker also ends a list, which pulldown-cmark must see ended too.
                if !levels.is_empty() {
                    levels.clear();
                    self.placeholder(0, Stored::Html(String::new()));
                }
                pos = next;
                boundary = true;
                last_blank = true;
                para_lines = 0;
                continue;
            }

            // A definition in a blockquote counts as one outside (kramdown's definitions are the document's),
            // unless it would continue a paragraph of the quote.
            let quoted_definition = quote_levels(line).filter(|&(depth, inner)| {
                !in_quoted_code
                    && is_link_definition(inner)
                    && (after_quoted_code || quoted_definition_may_start(previous_line(src, pos), depth))
            });
            let definition = match quoted_definition {
                Some((_, inner)) => Some(inner),
                None => (para_lines == 0 && content.starts_with('[') && is_link_definition(content)).then_some(content),
            };
            if let Some(definition) = definition {
                // A definition is a block of its own: the next line starts another block.
                let label_start = self.out.len() + (line.len() - definition.len()) + 1;
                let label = &definition[1..definition.find("]:").unwrap_or(1)];
                self.link_labels.push((link_label_key(label), label_start..label_start + label.len()));
                if !self.link_definition(line, definition) {
                    self.emit(line);
                }
                if quoted_definition.is_some() {
                    prev_was_quote = true;
                    quote_was_empty = true;
                }
                pos = next;
                boundary = true;
                continue;
            }

            // `$$ … $$` standing alone between block boundaries: kramdown's block math, `\[…\]` with MathJax.
            if at_block_start && para_lines == 0 && content.starts_with("$$") {
                if let Some(after) = self.block_math(pos + (line.len() - content.len()), indent) {
                    pos = after;
                    boundary = true;
                    continue;
                }
            }

            // `- <!-- x -->text`: kramdown reads the comment as a block of the item and the text after it as
            // a paragraph; pulldown-cmark would keep the text inside the HTML block.
            if let Some(column) = list_item {
                let item = line.get(column.min(line.len())..).unwrap_or("");
                if let Some(end) = item.strip_prefix("<!--").and_then(|c| c.find("-->")).map(|e| e + 7) {
                    if !item[end..].trim().is_empty() {
                        let marker_end = line.len() - item.len();
                        self.emit(&format!("{}{}", &line[..marker_end], &item[..end]));
                        self.emit(&format!("{}{}", " ".repeat(column), item[end..].trim_start()));
                        pos = next;
                        boundary = false;
                        para_lines = 1;
                        para_at_boundary = true;
                        continue;
                    }
                }
            }

            // A kramdown table: lines with pipes from a block start up to a block boundary.
            let quote = split_quote(line);
            let quote_start = quote.is_some() && (!prev_was_quote || quote_was_empty);
            quote_was_empty = quote.is_some_and(|(_, inner)| inner.trim().is_empty());
            prev_was_quote = quote.is_some();
            if at_block_start || list_item.is_some() || quote_start {
                let (prefix_len, first) = match (list_item, quote) {
                    (Some(column), _) => (column.min(line.len()), line.get(column.min(line.len())..).unwrap_or("")),
                    (None, Some((prefix, inner))) if quote_start => (prefix.len(), inner),
                    _ => (0, line),
                };
                let in_quote = quote_start && list_item.is_none();
                if let Some(after) = self.table(pos, prefix_len, first, list_item, in_quote) {
                    pos = after;
                    boundary = true;
                    last_blank = false;
                    para_lines = 0;
                    continue;
                }
            }

            let in_paragraph = para_lines > 0;
            let escaped = escape_for_cmark(
                line,
                content,
                indent,
                list_content.is_some(),
                in_paragraph,
                para_lines,
                para_at_boundary,
            );
            if in_paragraph && list_item.is_some_and(|_| ordered_not_one(content)) {
                // kramdown lets any ordered item end a paragraph; CommonMark only one numbered 1.
                self.emit_filler();
            }
            let escaped = escaped.or_else(|| header_text_kept(line, options.gfm())).or_else(|| quoted_colon_kept(line));
            let mut emitted = Cow::Borrowed(escaped.as_deref().unwrap_or(line));
            let dash_escaped =
                emitted.len() == line.len() + 1 && emitted.ends_with(content) && content.starts_with('-');
            let backslash_added = emitted.len() == line.len() + 1
                && emitted.ends_with(content)
                && emitted[..emitted.len() - content.len()].ends_with('\\');
            let in_code_span = in_paragraph && list_item.is_none() && self.open_code_run > 0;
            if placed.at != indentation(line) || placed.bullet.is_some() {
                // Where pulldown-cmark puts the line in the same item (a lazy line kramdown takes into the
                // item), with the marker of the list it continues.
                emitted = Cow::Owned(place_line(&emitted, &placed));
            }
            if dash_escaped {
                // A `-` line kept from being a setext underline: kramdown has no backslash there, so its
                // dashes are dashes to educate (`\----` would lose the first).
                self.prepared.unescaped_dashes.insert(self.out.len() + emitted.len() - content.len() - 1);
            }
            if backslash_added && in_code_span {
                self.prepared.code_backslashes.insert(self.out.len() + emitted.len() - content.len() - 1);
            }
            if let Some(break_kept) = backslash_line_break(&emitted) {
                emitted = Cow::Owned(break_kept);
            }
            let open_code = if in_paragraph { self.open_code_run } else { 0 };
            let mut split = || {
                let index = self.prepared.stored.len();
                self.prepared.stored.push(Stored::Inline { html: String::new(), source: String::new() });
                format!("<{INLINE_PLACEHOLDER}{index}>")
            };
            let (escaped, open_code) =
                escape_lone_backticks(&emitted, in_paragraph && list_item.is_none(), open_code, &mut split);
            self.open_code_run = open_code;
            if let Some(escaped) = escaped {
                emitted = Cow::Owned(escaped);
            }
            if let Some(bracketed) = bracket_spaced_link_urls(&emitted) {
                emitted = Cow::Owned(bracketed);
            }
            if let Some(replaced) = self.span_extensions(&emitted) {
                emitted = Cow::Owned(replaced);
            }
            if (!in_paragraph || list_item.is_some()) && lone_span_tag(block_content(line, list_item)) {
                // A span element's tag alone on a line starts a paragraph in kramdown, where CommonMark opens
                // an HTML block that runs to a blank line (`<br/>` then `## x` would stay text): an empty
                // placeholder after the tag makes it a paragraph for pulldown-cmark too.
                let index = self.prepared.stored.len();
                self.prepared.stored.push(Stored::Inline { html: String::new(), source: String::new() });
                emitted = Cow::Owned(format!("{}<{INLINE_PLACEHOLDER}{index}>", emitted.trim_end()));
            }
            match self.inline_math(&emitted) {
                Some(replaced) => self.emit(&replaced),
                None => self.emit(&emitted),
            }
            let header = is_atx_header(content) && indent == 0;
            boundary = header;
            if header || list_item.is_some() || content.starts_with('>') {
                para_lines = usize::from(list_item.is_some());
                para_at_boundary = list_item.is_some();
            } else {
                if para_lines == 0 {
                    para_at_boundary = at_block_start;
                }
                para_lines += 1;
            }
            // A footnote definition takes the lines after its first one only from an indented line on (then
            // unindented ones too): an unindented line right after it (`[r]: url`, text) is the next block.
            // pulldown-cmark would continue the definition's paragraph with it.
            if !in_paragraph && levels.is_empty() && indent <= 3 && is_footnote_definition(content) {
                in_footnote = true;
                let following = src[next..].split('\n').next().unwrap_or("");
                if !following.trim().is_empty() && indentation(following) < 4 {
                    self.emit_filler();
                    boundary = true;
                    last_blank = true;
                    para_lines = 0;
                }
            }
            pos = next;
        }
        while let Some(open) = open_markdown.stack.pop() {
            self.placeholder(0, Stored::Close(open.name));
        }
    }

    /// kramdown reads a list item's text by itself: an element with Markdown content opened in an item that
    /// has ended (the list ended, or the line starts the next item) is closed at the item's end.
    /// The same goes for the item's text up to a nested list that starts right after its text (no blank
    /// line before it): kramdown reads that part by itself too (`split_before`: the innermost open
    /// element's item had no such list or blank line before this line).
    fn close_ended_items(&mut self, open: &mut OpenElements, levels: &[ListLevel], new_item: bool, split_before: bool) {
        while let Some(last) = open.stack.last() {
            let (depth, column) = last.item;
            let ended = depth > 0
                && (levels.len() < depth
                    || (new_item && levels.len() == depth)
                    || (new_item && split_before && levels.len() == depth + 1)
                    || levels.get(depth - 1).is_some_and(|level| level.column != column));
            if !ended {
                break;
            }
            if let Some(element) = open.stack.pop() {
                self.placeholder_at(column, Stored::Close(element.name));
            }
        }
    }

    /// Rewrites a kramdown table starting at `start` as a GFM table pulldown-cmark reads the same way, or
    /// returns None when kramdown would not read a table there. The first line is `first` after `prefix_len`
    /// bytes of list marker or `>`; with `quote`, every line of the table is a blockquote line. Returns where
    /// the text goes on.
    fn table(
        &mut self,
        start: usize,
        prefix_len: usize,
        first: &str,
        list_item: Option<usize>,
        quote: bool,
    ) -> Option<usize> {
        let src = self.src;
        if !has_table_pipe(first) {
            return None;
        }
        let mut lines: Vec<(&str, &str)> = vec![(&src[start..start + prefix_len], first)];
        let mut pos = (start + src[start..].find('\n').map_or(src.len() - start, |i| i + 1)).min(src.len());
        while pos < src.len() {
            let end = src[pos..].find('\n').map_or(src.len(), |i| pos + i);
            let line = &src[pos..end];
            let (prefix, content) = if quote { split_quote(line).unwrap_or(("", line)) } else { ("", line) };
            // Each row is a line of its own: another list item is not part of this item's table.
            let new_item = list_item.is_some() && list_item_content(line).is_some();
            if content.trim().is_empty() || !has_table_pipe(content) || new_item || (quote && prefix.is_empty()) {
                // A table ends at a block boundary; anything else means it was a paragraph.
                let trimmed = content.trim_start();
                let boundary = content.trim().is_empty()
                    || new_item
                    || trimmed.trim_end() == "^"
                    || (trimmed.starts_with("{:")
                        && attributes::scan_braces(trimmed).is_some_and(|(_, l)| trimmed[l..].trim().is_empty()));
                if !boundary {
                    return None;
                }
                break;
            }
            lines.push((prefix, content));
            pos = (end + 1).min(src.len());
        }
        let contents: Vec<&str> = lines.iter().map(|(_, c)| *c).collect();
        // Span extensions in a cell (`{::nomarkdown}…{:/}`) are read as in a paragraph, cell by cell.
        let (table, headless) = gfm_table(&contents, &mut |cell| self.span_extensions(cell))?;
        if headless {
            self.prepared.headless_tables.insert(self.line);
        }
        let continuation = if quote { lines[0].0.to_string() } else { " ".repeat(list_item.unwrap_or(0)) };
        for (i, row) in table.iter().enumerate() {
            let prefix = match (i, lines.get(i.saturating_sub(1))) {
                (0, _) => lines[0].0.to_string(),
                // The separator (second line) is new; rows after it keep their own prefixes.
                (1, _) => continuation.clone(),
                (_, Some((prefix, _))) if quote => prefix.to_string(),
                _ => continuation.clone(),
            };
            self.emit(&format!("{prefix}{row}"));
        }
        Some(pos)
    }

    /// A fenced code block opening at the line before `from`, inside the list items whose content columns
    /// are `columns`: stores it and returns where the text goes on, or None when no closing fence follows
    /// (kramdown then reads the opening line as text).
    fn fenced_code(
        &mut self,
        from: usize,
        fence: char,
        run: usize,
        info: Option<String>,
        indent: usize,
        columns: &[usize],
    ) -> Option<usize> {
        let src = self.src;
        let memo_applies = columns.is_empty();
        if memo_applies && self.unclosed.fence.iter().any(|&(c, r)| c == fence && run >= r) {
            return None;
        }
        let mut pos = from;
        let mut code = String::new();
        let mut after_blank = false;
        while pos < src.len() {
            let line_end = src[pos..].find('\n').map_or(src.len(), |i| pos + i);
            let line = &src[pos..line_end];
            let next = (line_end + 1).min(src.len());
            // Inside a list item the fence must close before the item ends (a blank line, then a line
            // indented less than the item's content).
            if let Some(&column) = columns.last() {
                if after_blank && !line.trim().is_empty() && indentation(line) < column {
                    return None;
                }
                after_blank = line.trim().is_empty();
            }
            // kramdown reads the fence in the item's text: each item takes its content column off the lines
            // indented that far (a lazy line keeps its indentation); the fence itself keeps the rest.
            let stripped = columns.iter().rev().find(|&&c| c <= indentation(line)).copied().unwrap_or(0);
            if is_fence_close(line, fence, run, stripped + 3) {
                let lang = info.as_ref().map(|i| match i.find('?') {
                    Some(q) if q > 0 => i[..q].to_string(),
                    _ => i.clone(),
                });
                // In a list, the placeholder goes where pulldown-cmark keeps it in the item the fence is in.
                let at = columns.last().copied().unwrap_or(indent.min(3));
                self.placeholder_at(at, Stored::Code { info, lang, code });
                return Some(next);
            }
            code.push_str(&strip_columns(line, stripped));
            code.push('\n');
            pos = next;
        }
        if memo_applies {
            self.unclosed.fence.push((fence, run));
        }
        None
    }

    /// An HTML block (or comment) starting at `start`, on a line indented `indent` (no more than three columns
    /// past the content of the list item it is in): stores it and returns where the text goes on.
    fn html_block(
        &mut self,
        start: usize,
        indent: usize,
        options: &Options,
        open_markdown: &mut OpenElements,
    ) -> Option<usize> {
        let src = self.src;
        let rest = &src[start..];
        if rest.starts_with("<!--") {
            if self.unclosed.comment {
                return None;
            }
            let Some(end) = rest.find("-->").map(|e| e + 3) else {
                self.unclosed.comment = true;
                return None;
            };
            self.placeholder_at(indent, Stored::Html(rest[..end].to_string()));
            return Some(self.after_block(start + end, indent));
        }
        if let Some((name, len)) = html_scan::end_tag(rest) {
            if html_scan::is_span_element(name) {
                return None;
            }
            if open_markdown.stack.last().is_some_and(|open| open.name.eq_ignore_ascii_case(name)) {
                let name = open_markdown.stack.pop().map(|open| open.name).unwrap_or_default();
                self.placeholder_at(indent, Stored::Close(name));
                return Some(self.after_block(start + len, indent));
            }
            // kramdown shows a stray end tag as text.
            let line_end = rest.find('\n').unwrap_or(rest.len());
            self.emit(&format!("{}&lt;{}", " ".repeat(indent), &rest[1..line_end]));
            self.stray_end_tag = true;
            return Some((start + line_end + 1).min(src.len()));
        }
        let tag = html_scan::start_tag(rest)?;
        if html_scan::is_span_element(&tag.name) {
            return None;
        }
        let mut attrs = Attrs(tag.attrs.clone());
        let markdown = attrs.remove("markdown");
        let default_model = html_scan::content_model(&tag.name);
        let model = match markdown.as_deref() {
            Some("1") => default_model,
            Some("block") => ContentModel::Block,
            Some("span") => ContentModel::Span,
            Some("0") => ContentModel::Raw,
            _ if self.parse_block_html.unwrap_or(options.parse_block_html) => default_model,
            _ => ContentModel::Raw,
        };
        let name = if html_scan::is_block_element(&tag.name) || html_scan::is_void_element(&tag.name) {
            tag.name.to_ascii_lowercase()
        } else {
            tag.name.clone()
        };
        let after_tag = start + tag.len;
        let text_end = self.item_text.map_or(src.len(), |(end, _)| end.max(after_tag));
        if tag.self_closed || html_scan::is_void_element(&name) {
            self.placeholder_at(indent, Stored::Html(rest[..tag.len].to_string()));
            return Some(self.after_block(after_tag, indent));
        }
        match model {
            ContentModel::Block => {
                self.placeholder_at(indent, Stored::Open { name: name.clone(), attrs });
                open_markdown.stack.push(OpenElement { name, item: open_markdown.item });
                Some(self.after_block(after_tag, indent))
            }
            ContentModel::Span => {
                let found = if self.unclosed.end_tags.contains(&name) {
                    None
                } else {
                    html_scan::find_end_tag(&src[..text_end], after_tag, &name)
                };
                let (content_end, end) = match found {
                    Some((at, len)) => (at, at + len),
                    None => {
                        self.unclosed.end_tags.push(name.clone());
                        (src.len(), src.len())
                    }
                };
                let markdown = src[after_tag..content_end].to_string();
                self.placeholder_at(indent, Stored::Span { name, attrs, markdown });
                Some(self.after_block(end, indent))
            }
            ContentModel::Raw => {
                let mut start_tag = rest[..tag.len].to_string();
                if markdown.is_some() {
                    start_tag = html_scan::write_start_tag(&name, &attrs.0);
                }
                let block = html_scan::scan_raw(&src[..text_end], after_tag, &name, start_tag);
                let stored = if block.nested.is_empty() {
                    match self.item_text {
                        Some((_, column)) => Stored::Html(strip_item_indentation(&block.html, column)),
                        None => Stored::Html(block.html),
                    }
                } else {
                    Stored::HtmlWithMarkdown { html: block.html, nested: block.nested }
                };
                self.placeholder_at(indent, stored);
                Some(self.after_block(block.end, indent))
            }
        }
    }

    /// After an HTML block ends at `end`: the rest of that line, when it is not blank, starts the next block
    /// on a line of its own (as kramdown goes on mid-line). Returns where the text goes on.
    fn after_block(&mut self, end: usize, indent: usize) -> usize {
        let src = self.src;
        let line_end = src[end..].find('\n').map_or(src.len(), |i| end + i);
        let tail = &src[end..line_end];
        if src[..end].ends_with('\n') {
            // A block without its end tag that ran to the end of a list item's text.
            return end;
        }
        if tail.trim().is_empty() {
            return (line_end + 1).min(src.len());
        }
        if self.in_quote_line {
            return end + (tail.len() - tail.trim_start().len());
        }
        if tail.trim_start().starts_with('<') {
            // Another HTML block, or text: read as a line of its own, indented as the block was.
            self.resume_indent = Some(indent);
            return end + (tail.len() - tail.trim_start().len());
        }
        self.emit(&format!("{}{}", " ".repeat(indent), tail.trim_start()));
        (line_end + 1).min(src.len())
    }

    /// A blockquote line (starting at `start`) whose text `inner` starts with a tag, or a list item's marker
    /// and a tag: an element with Markdown content opens or closes there (`> <details markdown="1">`,
    /// `> - <details markdown="1">`, `>   </details>`), and the rest of the line is read as kramdown reads
    /// it, each block with the line's `>` prefix (and the item's marker, then its indentation). Returns
    /// where the text goes on, or None for other HTML, which is left to pulldown-cmark.
    fn quoted_html(
        &mut self,
        start: usize,
        line: &str,
        inner: &str,
        options: &Options,
        open: &mut OpenElements,
    ) -> Option<usize> {
        let closes_open = |text: &str, open: &OpenElements| {
            html_scan::end_tag(text)
                .is_some_and(|(name, _)| open.stack.last().is_some_and(|top| top.name.eq_ignore_ascii_case(name)))
        };
        let spaces = inner.len() - inner.trim_start_matches(' ').len();
        let marker = list_item_content(inner).filter(|&column| {
            inner.get(column..).is_some_and(|body| body.starts_with('<') && opens_markdown_element(body))
        });
        let tag_at = marker.unwrap_or(spaces);
        let tagged = inner.get(tag_at..).filter(|tagged| tagged.starts_with('<') && tag_at <= 3)?;
        if !closes_open(tagged, open) && !opens_markdown_element(tagged) {
            return None;
        }
        let quote_prefix = &line[..line.len() - inner.len()];
        let mut prefix = format!("{quote_prefix}{}", &inner[..tag_at]);
        let line_end = start + line.len();
        let mut at = line_end - tagged.len();
        loop {
            let rest = &self.src[at..line_end];
            let readable = if html_scan::end_tag(rest).is_some() {
                closes_open(rest, open)
            } else {
                opens_markdown_element(rest) || closes_on_line(rest)
            };
            let found = if readable {
                self.item_marker = Some(prefix.clone());
                // What follows on the line stands in the item, under its marker.
                prefix = format!("{quote_prefix}{}", " ".repeat(tag_at));
                self.item_text = Some((line_end, 0));
                self.in_quote_line = true;
                let found = self.html_block(at, 0, options, open);
                self.item_marker = None;
                self.item_text = None;
                self.in_quote_line = false;
                found
            } else {
                None
            };
            match found {
                Some(after) if after > line_end || after >= self.src.len() => return Some(after),
                Some(after) if self.src[after..line_end].starts_with('<') => at = after,
                found => {
                    let text = self.src[found.unwrap_or(at)..line_end].trim_start();
                    if !text.is_empty() {
                        self.emit(&format!("{prefix}{text}"));
                    }
                    return Some((line_end + 1).min(self.src.len()));
                }
            }
        }
    }

    /// `{:…}` alone on a line: an IAL, an ALD or an extension. Returns where the text goes on, or None when
    /// the line is something else (then it is text).
    fn extension_line(&mut self, content: &str, line_end: usize, indent: usize, follows_block: bool) -> Option<usize> {
        let src = self.src;
        let (kind, len) = attributes::scan_braces(content)?;
        if !content[len..].trim().is_empty() {
            return None;
        }
        let next = (line_end + 1).min(src.len());
        match kind {
            Extension::Ial(text) => {
                let mut ial = Ial::default();
                attributes::parse(text, &mut ial);
                self.prepared.ials.push(BlockIal { line: self.line, indent, follows_block, ial });
                self.emit_filler();
                Some(next)
            }
            Extension::Ald(name, text) => {
                let ald = self.prepared.alds.entry(name.to_string()).or_default();
                attributes::parse(text, ald);
                self.emit_filler();
                Some(next)
            }
            Extension::Tag => self.extension_block(content[..len].trim(), next),
        }
    }

    /// `{::comment}…{:/comment}`, `{::nomarkdown}…{:/}`, `{::options … /}`.
    fn extension_block(&mut self, tag: &str, next: usize) -> Option<usize> {
        let inner = tag.strip_prefix("{::")?.strip_suffix('}')?;
        let (head, closed) = match inner.strip_suffix('/') {
            Some(head) => (head, true),
            None => (inner, false),
        };
        let name = head.split_whitespace().next()?;
        if !matches!(name, "comment" | "nomarkdown" | "options") {
            return None;
        }
        if closed {
            if name == "options" {
                self.inline_options(&head["options".len()..]);
            }
            self.emit_filler();
            return Some(next);
        }
        // The body runs to `{:/name}` or `{:/}` alone on a line.
        if self.unclosed.extension {
            return None;
        }
        let src = self.src;
        let mut pos = next;
        while pos < src.len() {
            let line_end = src[pos..].find('\n').map_or(src.len(), |i| pos + i);
            let line = src[pos..line_end].trim();
            if indentation(&src[pos..line_end]) <= 3 && (line == "{:/}" || line == format!("{{:/{name}}}")) {
                let body = src[next..pos].strip_suffix('\n').unwrap_or(&src[next..pos]);
                match name {
                    "nomarkdown" => self.placeholder(0, Stored::Html(body.to_string())),
                    "comment" => self.placeholder(0, Stored::Html(format!("<!-- {body} -->"))),
                    _ => self.emit_filler(),
                }
                return Some((line_end + 1).min(src.len()));
            }
            pos = (line_end + 1).min(src.len());
        }
        self.unclosed.extension = true;
        None
    }
}

/// kramdown-parser-gfm reads `\\` at a line's end as a line break, where CommonMark reads an escaped
/// backslash; `\` there is a break for both. An even run of backslashes loses one, so that pulldown-cmark
/// sees the break kramdown sees (at a paragraph's end, neither breaks and both show one backslash).
fn backslash_line_break(line: &str) -> Option<String> {
    let run = line.len() - line.trim_end_matches('\\').len();
    let in_code = line.matches('`').count() % 2 == 1;
    (run >= 2 && run % 2 == 0 && !in_code).then(|| line[..line.len() - 1].to_string())
}

/// kramdown opens no code span at a single backtick with whitespace on both sides (`a ` b`), where
/// CommonMark pairs it with the next one; such backticks are escaped. The line is scanned as kramdown
/// scans its paragraph: a run of backticks closes at the next run as long, on this line or a later one,
/// and the code in between is skipped. At a line's start the whitespace before is the line end, when the
/// line continues a paragraph. `open_run` is the run of a code span the paragraph's previous lines left
/// open; the one this line leaves open is returned.
/// A span closes at the first run of its backticks even inside a longer run (`` `a``b` `` is two spans in
/// kramdown, one in CommonMark): there `split` gives an empty placeholder to put after the closing
/// backticks, which pulldown-cmark then reads as a run of their length.
fn escape_lone_backticks(
    line: &str,
    continues_paragraph: bool,
    open_run: usize,
    split: &mut dyn FnMut() -> String,
) -> (Option<String>, usize) {
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut splits = Vec::new();
    let longer_run = |at: usize, run: usize| bytes.get(at + run) == Some(&b'`');
    if open_run > 0 {
        match line.find(&"`".repeat(open_run)) {
            Some(at) => {
                i = at + open_run;
                if longer_run(at, open_run) {
                    splits.push(i);
                }
            }
            None => return (None, open_run),
        }
    }
    let mut lone = Vec::new();
    let mut left_open = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'`' => {
                let run = bytes[i..].iter().take_while(|&&b| b == b'`').count();
                let space_before = i.checked_sub(1).map_or(continues_paragraph, |b| bytes[b].is_ascii_whitespace());
                let space_after = bytes.get(i + run).is_none_or(u8::is_ascii_whitespace);
                if run == 1 && space_before && space_after {
                    lone.push(i);
                    i += 1;
                    continue;
                }
                let fence = &line[i..i + run];
                match line[i + run..].find(fence) {
                    Some(at) => {
                        let close = i + run + at;
                        i = close + run;
                        if longer_run(close, run) {
                            splits.push(i);
                        }
                    }
                    None => {
                        left_open = run;
                        break;
                    }
                }
            }
            _ => i += 1,
        }
    }
    if lone.is_empty() && splits.is_empty() {
        return (None, left_open);
    }
    let mut out = String::with_capacity(line.len() + lone.len());
    let mut from = 0;
    let mut edits: Vec<(usize, bool)> = lone.into_iter().map(|at| (at, true)).collect();
    edits.extend(splits.into_iter().map(|at| (at, false)));
    edits.sort_unstable();
    for (at, backslash) in edits {
        out.push_str(&line[from..at]);
        if backslash {
            out.push('\\');
        } else {
            out.push_str(&split());
        }
        from = at;
    }
    out.push_str(&line[from..]);
    (Some(out), left_open)
}

/// A link URL as kramdown takes it, written for pulldown-cmark: in angle brackets, with its
/// backslashes kept (kramdown reads no escapes in a URL: `a\_b` stays `a\_b`).
fn bracketed_url(url: &str) -> String {
    format!("<{}>", url.replace('\\', "\\\\").replace('<', "\\<").replace('>', "\\>"))
}

/// `[text](url with spaces)`: kramdown takes an inline link's URL up to the `)` that balances its `(`, or
/// up to a space before a quoted title, spaces and backslashes included; pulldown-cmark needs such a URL in
/// angle brackets.
fn bracket_spaced_link_urls(line: &str) -> Option<String> {
    if !line.contains("](") {
        return None;
    }
    let mut out = String::with_capacity(line.len() + 4);
    let mut rest = line;
    let mut changed = false;
    let mut backticks = 0;
    while let Some(at) = rest.find("](") {
        backticks += rest[..at].matches('`').count();
        out.push_str(&rest[..at + 2]);
        rest = &rest[at + 2..];
        if rest.starts_with('<') || backticks % 2 == 1 {
            continue;
        }
        // Up to the next link's `](` only, so that a line of them takes linear time.
        let scope = &rest[..rest.find("](").unwrap_or(rest.len())];
        let Some(len) = kramdown_link_url_len(scope) else { continue };
        let url = rest[..len].trim();
        if url.contains(char::is_whitespace) || url.contains('\\') {
            backticks += url.matches('`').count();
            out.push_str(&bracketed_url(url));
            rest = &rest[len..];
            changed = true;
        }
    }
    out.push_str(rest);
    changed.then_some(out)
}

/// Where kramdown's inline link URL ends in `text` (after the `(`): at the `)` that balances it, or at a
/// space before a quote. None when neither is on the line.
fn kramdown_link_url_len(text: &str) -> Option<usize> {
    let mut depth = 1usize;
    let mut prev_space = false;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            '"' | '\'' if prev_space => return Some(i - 1),
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    None
}

/// A span extension at the start of `text` (at `{::`): its length with its body and stop tag, and the
/// HTML kramdown writes for it. `unclosed` holds the names whose stop tag the rest of the line lacks.
fn span_extension(text: &str, unclosed: &mut Vec<&'static str>) -> Option<(usize, String)> {
    let after_open = &text[3..];
    let name_len = after_open.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after_open.len());
    let name = ["comment", "nomarkdown", "options"].into_iter().find(|&n| n == &after_open[..name_len])?;
    if unclosed.contains(&name) {
        return None;
    }
    // The tag ends at its first unescaped `}`, which is looked for up to the next `{::` only (so that a
    // line of unclosed tags takes linear time).
    let limit = after_open[name_len..].find("{::").map_or(text.len(), |at| 3 + name_len + at);
    let (Extension::Tag, tag_len) = attributes::scan_braces(&text[..limit])? else { return None };
    let after = &text[3 + name_len..tag_len - 1];
    let closed = after.ends_with('/');
    if !(after.is_empty() || after.starts_with(char::is_whitespace) || after == "/") {
        return None;
    }
    if closed {
        return Some((tag_len, String::new()));
    }
    let body = &text[tag_len..];
    let Some(stop) = [format!("{{:/{name}}}"), "{:/}".to_string()]
        .into_iter()
        .filter_map(|stop| body.find(&stop).map(|at| (at, stop.len())))
        .min()
    else {
        unclosed.push(name);
        return None;
    };
    let body = &body[..stop.0];
    let html = match name {
        "comment" => format!("<!-- {body} -->"),
        "nomarkdown" => body.to_string(),
        _ => String::new(),
    };
    Some((tag_len + stop.0 + stop.1, html))
}

/// A list item the block pass is in.
#[derive(Debug, Clone, Copy)]
struct ListLevel {
    /// The column where the list's items may start (the enclosing item's content column, or 0).
    base: usize,
    /// The column where the item's content starts.
    column: usize,
    /// The marker: `*`, `-`, `+`, or a digit for an ordered list.
    marker: u8,
    /// kramdown's `nested_list_found`: a blank line or an indented list line came in the item, after which
    /// a lazy list line is text.
    nested: bool,
}

/// Where a line goes among the open list items.
struct Placed {
    /// The indentation that puts the line where kramdown has it, for pulldown-cmark.
    at: usize,
    /// The bullet of the list a new item continues, when the item has another.
    bullet: Option<u8>,
    /// Whether the line starts a list item.
    new_item: bool,
}

/// kramdown's list parsing, for one line indented `indent`: `item` is its content width and marker when it
/// is a list item, `lazy` whether it may be a lazy line (after a non-blank line, not an IAL or an HTML
/// block tag). Each list, outermost first, takes the line as a new item (a marker of its kind, indented
/// less than the previous item's content), as content (indented that far, which is taken off), or as a
/// lazy line (as it stands); else the list ends there. A list item the innermost item takes starts a list
/// in it. `levels` is updated; the result says where pulldown-cmark needs the line.
fn place_in_lists(levels: &mut Vec<ListLevel>, indent: usize, item: Option<(usize, u8)>, lazy: bool) -> Placed {
    let ordered = |marker: u8| marker.is_ascii_digit();
    let mut rel = indent;
    let mut k = 0;
    while k < levels.len() {
        let level = levels[k];
        let width = level.column - level.base;
        if let Some((item_width, marker)) = item {
            if ordered(marker) == ordered(level.marker) && rel <= 3.min(width.saturating_sub(1)) {
                levels.truncate(k);
                let at = level.base + rel;
                let bullet = (!ordered(marker) && marker != level.marker).then_some(level.marker);
                levels.push(ListLevel {
                    base: level.base,
                    column: at + item_width,
                    marker: level.marker,
                    nested: false,
                });
                return Placed { at, bullet, new_item: true };
            }
        }
        if rel >= width {
            if item.is_some() {
                levels[k].nested = true;
            }
            rel -= width;
        } else if lazy {
            if item.is_some() && level.nested {
                // kramdown indents such a line past the item's content: it is text, not an item.
                rel += width + 4;
            }
        } else {
            levels.truncate(k);
            break;
        }
        k += 1;
    }
    let base = levels.last().map_or(0, |level| level.column);
    let new_item = item.is_some() && rel <= 3;
    if let Some((item_width, marker)) = item.filter(|_| new_item) {
        levels.push(ListLevel { base, column: base + rel + item_width, marker, nested: false });
    }
    Placed { at: base + rel, bullet: None, new_item }
}

/// `text` (a line, or its list marker) indented where `placed` says, with the bullet of the list it
/// continues.
fn place_line(text: &str, placed: &Placed) -> String {
    let mut text = text.trim_start_matches([' ', '\t']).to_string();
    if let Some(bullet) = placed.bullet {
        text.replace_range(..1, &char::from(bullet).to_string());
    }
    format!("{}{text}", " ".repeat(placed.at))
}

/// The start tag of a block element with a `markdown` attribute (`<details markdown="1">`).
fn opens_markdown_element(text: &str) -> bool {
    html_scan::start_tag(text).is_some_and(|tag| {
        !html_scan::is_span_element(&tag.name) && tag.attrs.iter().any(|(name, _)| name == "markdown")
    })
}

/// A block element's start tag at the start of `line` whose end tag is on the same line.
fn closes_on_line(line: &str) -> bool {
    let Some(tag) = html_scan::start_tag(line) else { return false };
    !html_scan::is_span_element(&tag.name)
        && (tag.self_closed
            || html_scan::is_void_element(&tag.name)
            || html_scan::find_end_tag(line, tag.len, &tag.name.to_ascii_lowercase()).is_some())
}

/// A start tag that opens an HTML block for kramdown (any element but its span elements).
fn opens_html_block(text: &str) -> bool {
    html_scan::start_tag(text).is_some_and(|tag| !html_scan::is_span_element(&tag.name))
}

/// Where kramdown ends the text of the list item whose first line ends at `from`: the item's content
/// starts at `column`, its list's items at `base`. The item takes blank lines, lines indented to its
/// content, and lines after a non-blank one that can be lazy; a new item of its list, a rule after a blank
/// line, `^`, or any other line ends it. A nested list before any blank line ends the part of the text
/// kramdown reads by itself, which is what an HTML block cannot run past.
fn list_item_end(src: &str, from: usize, base: usize, column: usize, ordered: bool) -> usize {
    let mut pos = from;
    let mut last_blank = false;
    let mut blank_seen = false;
    while pos < src.len() {
        let line_end = src[pos..].find('\n').map_or(src.len(), |i| pos + i);
        let line = &src[pos..line_end];
        let next = (line_end + 1).min(src.len());
        if line.trim().is_empty() {
            last_blank = true;
            blank_seen = true;
            pos = next;
            continue;
        }
        let indent = indentation(line);
        let content = line.trim_start();
        if !blank_seen && indent >= column && indent - column <= 3 && list_item_content(line).is_some() {
            return pos;
        }
        let own_marker = list_item_content(line).is_some()
            && content.starts_with(|c: char| c.is_ascii_digit()) == ordered
            && indent.saturating_sub(base) <= 3.min(column.saturating_sub(base + 1));
        let ends = own_marker
            || (last_blank && is_rule(content))
            || (indent == 0 && content.trim_end() == "^")
            || (indent < column && (last_blank || (indent <= column.min(3) && !can_be_lazy(content))));
        if ends {
            return pos;
        }
        last_blank = false;
        pos = next;
    }
    src.len()
}

/// An HTML block's lines in a list item as kramdown reads them: each line after the first loses the item's
/// content column when it is indented that far.
fn strip_item_indentation(html: &str, column: usize) -> String {
    let indent = " ".repeat(column);
    let mut lines = html.split('\n');
    let mut out = lines.next().unwrap_or("").to_string();
    for line in lines {
        out.push('\n');
        out.push_str(line.strip_prefix(indent.as_str()).unwrap_or(line));
    }
    out
}

/// kramdown's horizontal rule: three or more of one of `*`, `-`, `_`, with spaces between.
fn is_rule(content: &str) -> bool {
    let mut marks = content.trim_end().chars().filter(|c| !matches!(c, ' ' | '\t'));
    let Some(first) = marks.next().filter(|c| matches!(c, '*' | '-' | '_')) else { return false };
    let mut count = 1;
    for c in marks {
        if c != first {
            return false;
        }
        count += 1;
    }
    count >= 3
}

/// A line a list item can take as a lazy line: not an IAL and not an HTML block tag.
fn can_be_lazy(content: &str) -> bool {
    if content.starts_with("{:") {
        return false;
    }
    let Some(tag) = content.strip_prefix('<') else { return true };
    let tag = tag.strip_prefix('/').unwrap_or(tag);
    let name: String = tag.chars().take_while(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | '.')).collect();
    name.is_empty()
        || !name.starts_with(|c: char| c.is_alphabetic() || c == '_')
        || html_scan::is_span_element(&name)
        || name.eq_ignore_ascii_case("script")
}

/// `[label]: target` (not a footnote definition).
fn is_link_definition(content: &str) -> bool {
    let Some(rest) = content.strip_prefix('[') else { return false };
    match rest.find("]:") {
        Some(close) => {
            !rest.starts_with('^') && close > 0 && !rest[..close].contains(']') && !rest[close + 2..].trim().is_empty()
        }
        None => false,
    }
}

/// `[^name]:` (kramdown's footnote definition: the name starts with a letter, digit or `_`).
fn is_footnote_definition(content: &str) -> bool {
    let Some(rest) = content.strip_prefix("[^") else { return false };
    let name = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-').len();
    name > 0 && !rest.starts_with('-') && rest[name..].starts_with("]:")
}

/// kramdown's link definition target: the URL and a title in quotes at the end, if any.
fn split_title(target: &str) -> (&str, Option<&str>) {
    let Some(quote) = target.chars().last().filter(|c| *c == '"' || *c == '\'') else { return (target, None) };
    for (i, c) in target.char_indices() {
        if (c == ' ' || c == '\t') && i > 0 {
            let after = target[i..].trim_start_matches([' ', '\t']);
            let at = target.len() - after.len();
            if after.starts_with(quote) && after.len() >= 3 && at + 1 < target.len() - 1 {
                return (target[..i].trim_end(), Some(&target[at + 1..target.len() - 1]));
            }
        }
    }
    (target, None)
}

/// A blockquote line: its `>` prefix (with one following space) and the rest.
fn split_quote(line: &str) -> Option<(&str, &str)> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 || !line[indent..].starts_with('>') {
        return None;
    }
    let mut split = indent + 1;
    if line[split..].starts_with(' ') {
        split += 1;
    }
    Some((&line[..split], &line[split..]))
}

/// A blockquote line: how many quotes deep it is and what it holds inside them (each `>` may have up to
/// three spaces before it and one after it).
fn quote_levels(line: &str) -> Option<(usize, &str)> {
    let mut depth = 0;
    let mut rest = line;
    while let Some((_, inner)) = split_quote(rest) {
        depth += 1;
        rest = inner;
    }
    (depth > 0).then_some((depth, rest))
}

/// Follows fenced code inside block quotes, line by line: `open` is the fence of the code block open in the
/// quote. Returns whether `line` belongs to such a block (its fences included).
fn quoted_fence_step(open: &mut Option<(char, usize)>, line: &str, gfm: bool) -> bool {
    let Some((_, inner)) = quote_levels(line) else {
        *open = None;
        return false;
    };
    let inner = inner.trim_start();
    match *open {
        Some((fence, run)) => {
            let len = inner.len() - inner.trim_start_matches(fence).len();
            if len >= run && inner[len..].trim().is_empty() {
                *open = None;
            }
            true
        }
        None => match fence_open(inner, gfm) {
            Some((fence, run, _)) => {
                *open = Some((fence, run));
                true
            }
            None => false,
        },
    }
}

/// The source line before the one starting at `pos`, if `pos` starts a line.
fn previous_line(src: &str, pos: usize) -> Option<&str> {
    let before = src[..pos].strip_suffix('\n')?;
    Some(before.rsplit('\n').next().unwrap_or(before))
}

/// Whether a link definition on a blockquote line `depth` deep stands at a block start of its quote, after
/// the line `previous`: not when it continues a paragraph of the same quote (or of one nested deeper).
fn quoted_definition_may_start(previous: Option<&str>, depth: usize) -> bool {
    let Some((previous_depth, inner)) = previous.and_then(quote_levels) else { return true };
    previous_depth < depth || inner.trim().is_empty() || is_link_definition(inner) || is_atx_header(inner)
}

/// What a line holds after its list marker or blockquote markers.
fn block_content(line: &str, list_item: Option<usize>) -> &str {
    if let Some(column) = list_item {
        return line.get(column.min(line.len())..).unwrap_or("").trim_start();
    }
    let mut content = line.trim_start();
    while let Some(inner) = content.strip_prefix('>') {
        content = inner.trim_start();
    }
    content
}

/// A line holding only a start or end tag of one of kramdown's span elements (`<br/>`, `<img src=x>`,
/// `</span>`): CommonMark's HTML block of kind 7, a paragraph in kramdown. `option` is left out: CommonMark
/// reads it as an HTML block of kind 6, like `div`.
fn lone_span_tag(content: &str) -> bool {
    let content = content.trim_end();
    let (name, len) = match html_scan::start_tag(content) {
        Some(tag) => (tag.name, tag.len),
        None => match html_scan::end_tag(content) {
            Some((name, len)) => (name.to_string(), len),
            None => return false,
        },
    };
    len == content.len() && html_scan::is_span_element(&name) && !name.eq_ignore_ascii_case("option")
}

/// An ordered list item numbered other than 1.
fn ordered_not_one(content: &str) -> bool {
    content.starts_with(|c: char| c.is_ascii_digit()) && !content.starts_with("1.")
}

/// How a line must be changed so that pulldown-cmark reads it as kramdown does, if at all:
/// - `5) x` is text in kramdown (only `5.` starts a list item);
/// - `  # x` (indented) is text: GFM headers in kramdown start at the first column;
/// - inside a paragraph, `===`, `---`, `***` and `___` lines are text unless they underline a one-line
///   paragraph that began at a block boundary (a setext header), and so is a footnote definition.
fn escape_for_cmark(
    line: &str,
    content: &str,
    indent: usize,
    in_list: bool,
    in_paragraph: bool,
    para_lines: usize,
    para_at_boundary: bool,
) -> Option<String> {
    let split = line.len() - content.len();
    let digits = content.find(|c: char| !c.is_ascii_digit()).unwrap_or(0);
    if digits > 0 && content[digits..].starts_with(')') && content[digits + 1..].starts_with([' ', '\t']) {
        return Some(format!("{}{}\\{}", &line[..split], &content[..digits], &content[digits..]));
    }
    if content.starts_with(':') && !content[1..].starts_with([' ', '\t', '|']) {
        // A definition starts with `: `; `:word` is text.
        return Some(format!("{}\\{}", &line[..split], content));
    }
    if indent > 0 && !in_list && content.starts_with('#') {
        return Some(format!("{}\\{}", &line[..split], content));
    }
    if starts_like_a_tag_kramdown_rejects(content) {
        // kramdown shows `<img src=x:y(z)>` as text, where CommonMark would open an HTML block
        // (kramdown cannot escape `<` with a backslash: the reference is what it shows as `<`).
        return Some(format!("{}&lt;{}", &line[..split], &content[1..]));
    }
    if in_paragraph && is_footnote_definition(content) {
        // kramdown's footnote definition does not end a paragraph; pulldown-cmark's does.
        return Some(format!("{}\\{}", &line[..split], content));
    }
    if in_paragraph && is_delimiter_row(content) {
        // kramdown never starts a table inside a paragraph; GFM would, with this line as its delimiter row.
        return Some(format!("{}\\{}", &line[..split], content));
    }
    if in_paragraph {
        let trimmed = content.trim_end();
        let rule_of = |c: char| trimmed.len() >= 3 && trimmed.chars().all(|x| x == c);
        let underline = !trimmed.is_empty() && (trimmed.chars().all(|x| x == '=') || trimmed.chars().all(|x| x == '-'));
        let setext = underline && para_lines == 1 && para_at_boundary;
        if (underline && !setext) || rule_of('*') || rule_of('_') {
            return Some(format!("{}\\{}", &line[..split], content));
        }
    }
    None
}

/// `<` and a letter, but no start tag kramdown reads (and no autolink): text to kramdown.
fn starts_like_a_tag_kramdown_rejects(content: &str) -> bool {
    let Some(after) = content.strip_prefix('<') else { return false };
    if !after.starts_with(|c: char| c.is_ascii_alphabetic()) || html_scan::start_tag(content).is_some() {
        return false;
    }
    let inside = after.split('>').next().unwrap_or(after);
    let autolink = !inside.contains(char::is_whitespace) && inside.contains([':', '@']);
    !autolink
}

/// A GFM table delimiter row (`|---|:-:|`, `--- | ---`).
fn is_delimiter_row(content: &str) -> bool {
    let trimmed = content.trim_end();
    trimmed.contains('-') && trimmed.contains('|') && trimmed.chars().all(|c| matches!(c, '|' | ':' | '-' | ' ' | '\t'))
}

/// kramdown's `TABLE_PIPE_CHECK`: a line that starts with `|` or has an unescaped `|`.
fn has_table_pipe(line: &str) -> bool {
    let content = line.trim_start();
    if content.starts_with('|') {
        return true;
    }
    let bytes = line.as_bytes();
    (1..bytes.len()).any(|i| bytes[i] == b'|' && bytes[i - 1] != b'\\')
}

/// kramdown's separator line (`|---|:-:|`), with the alignments it gives.
fn separator_alignments(line: &str) -> Option<Vec<&'static str>> {
    let trimmed = line.trim_end();
    if !trimmed.contains('-') || !trimmed.chars().all(|c| matches!(c, '+' | '|' | ':' | ' ' | '\t' | '-')) {
        return None;
    }
    let mut alignments = Vec::new();
    let chars: Vec<char> = trimmed.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '-' || (chars[i] == ':' && chars.get(i + 1) == Some(&'-')) {
            let left = chars[i] == ':';
            let mut j = if left { i + 1 } else { i };
            while j < chars.len() && chars[j] == '-' {
                j += 1;
            }
            let right = chars.get(j) == Some(&':');
            alignments.push(match (left, right) {
                (false, false) => "---",
                (true, false) => ":--",
                (false, true) => "--:",
                (true, true) => ":-:",
            });
            i = j + usize::from(right);
        } else {
            i += 1;
        }
    }
    Some(alignments)
}

/// Splits a kramdown table row into cells: at unescaped pipes outside code spans. Pipes inside code spans
/// come back escaped, so that a GFM table keeps them in the cell.
fn table_cells(line: &str) -> Option<Vec<String>> {
    let mut cells = vec![String::new()];
    let mut outside_pipe = false;
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < line.len() {
        let c = bytes[i];
        if c == b'`' {
            let run = line[i..].len() - line[i..].trim_start_matches('`').len();
            let fence = &line[i..i + run];
            if let Some(close) = line[i + run..].find(fence).filter(|&at| !line[i + run + at + run..].starts_with('`'))
            {
                let code = &line[i..i + run + close + run];
                cells.last_mut()?.push_str(&code.replace('|', "\\|"));
                i += run + close + run;
                continue;
            }
            cells.last_mut()?.push_str(fence);
            i += run;
            continue;
        }
        if c == b'\\' && bytes.get(i + 1) == Some(&b'|') {
            cells.last_mut()?.push_str("\\|");
            i += 2;
            continue;
        }
        if c == b'|' {
            outside_pipe = true;
            cells.push(String::new());
            i += 1;
            continue;
        }
        let ch = line[i..].chars().next()?;
        cells.last_mut()?.push(ch);
        i += ch.len_utf8();
    }
    if !outside_pipe {
        return None;
    }
    if line.trim_start().starts_with('|') && cells.first().is_some_and(|c| c.trim().is_empty()) {
        cells.remove(0);
    }
    if cells.last().is_some_and(|c| c.trim().is_empty()) {
        cells.pop();
    }
    Some(cells.into_iter().map(|c| c.trim().to_string()).collect())
}

/// A kramdown table as GFM lines: the first row as the header, the separator's alignments, every row
/// padded to the widest; and whether kramdown sees no header (no separator after the first rows).
/// None when a line has no pipe outside code.
fn gfm_table(lines: &[&str], cell_text: &mut dyn FnMut(&str) -> Option<String>) -> Option<(Vec<String>, bool)> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut alignments: Option<Vec<&'static str>> = None;
    // kramdown ignores a table without body rows: rows that are neither its header nor its footer.
    let (mut in_footer, mut body_rows) = (false, 0);
    for line in lines {
        if line.trim_end().chars().all(|c| matches!(c, '+' | '|' | ':' | ' ' | '\t' | '=')) && line.contains('=') {
            in_footer = true;
            continue;
        }
        if let Some(found) = separator_alignments(line) {
            if !rows.is_empty() && alignments.is_none() && !in_footer {
                alignments = Some(found);
                body_rows = 0;
            }
            continue;
        }
        rows.push(table_cells(line)?);
        body_rows += usize::from(!in_footer);
    }
    if rows.is_empty() || body_rows == 0 {
        return None;
    }
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let alignments_found = alignments.clone();
    let alignments = alignments.unwrap_or_default();
    let mut format_row = |cells: &[String]| {
        let mut row = String::from("|");
        for i in 0..columns {
            row.push(' ');
            let cell = cells.get(i).map_or("", String::as_str);
            row.push_str(cell_text(cell).as_deref().unwrap_or(cell));
            row.push_str(" |");
        }
        row
    };
    let mut out = vec![format_row(&rows[0])];
    let mut separator = String::from("|");
    for i in 0..columns {
        separator.push_str(&format!(" {} |", alignments.get(i).copied().unwrap_or("---")));
    }
    out.push(separator);
    out.extend(rows[1..].iter().map(|r| format_row(r)));
    Some((out, alignments_found.is_none()))
}

/// Removes up to `columns` leading spaces (a list item's indentation) from a code line, as kramdown takes a
/// line into a list item: leading tabs count four spaces, and a blank line is kept as it is.
fn strip_columns(line: &str, columns: usize) -> std::borrow::Cow<'_, str> {
    if columns == 0 || line.trim().is_empty() {
        return std::borrow::Cow::Borrowed(line);
    }
    let tabs = line.len() - line.trim_start_matches('\t').len();
    if tabs > 0 {
        let expanded = format!("{}{}", " ".repeat(4 * tabs), &line[tabs..]);
        return std::borrow::Cow::Owned(strip_columns(&expanded, columns).into_owned());
    }
    let spaces = line.len() - line.trim_start_matches(' ').len();
    std::borrow::Cow::Borrowed(&line[spaces.min(columns)..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(text: &str) -> Prepared {
        prepare(text, &Options::default())
    }

    #[test]
    fn fences_need_a_closing_fence_and_one_word_of_info() {
        let p = run("```ruby\nputs 1\n\n```\n\n```foo bar\nx\n");
        assert_eq!(
            p.stored[0],
            Stored::Code { info: Some("ruby".into()), lang: Some("ruby".into()), code: "puts 1\n\n".into() }
        );
        assert!(p.text.contains("<span></span>```foo bar\nx\n"), "{}", p.text);
    }

    #[test]
    fn html_blocks_run_over_blank_lines_to_their_end_tag() {
        let p = run("<figure class=\"highlight\"><pre><code>a\n\n    b\n</code></pre></figure>\nafter\n");
        assert_eq!(p.stored.len(), 1);
        assert!(matches!(&p.stored[0], Stored::Html(h) if h.ends_with("</figure>")));
        assert!(p.text.ends_with("-->\nafter\n"), "{:?}", p.text);
    }

    #[test]
    fn markdown_blocks_keep_their_content_for_the_markdown_parser() {
        let p = run("<div class=\"note\" markdown=\"1\">\n*text*\n</div>\n");
        assert_eq!(
            p.stored[0],
            Stored::Open { name: "div".into(), attrs: Attrs(vec![("class".into(), "note".into())]) }
        );
        assert_eq!(p.stored[1], Stored::Close("div".into()));
        assert!(p.text.contains("\n*text*\n"));
    }

    #[test]
    fn ials_alds_abbreviations_and_extensions_leave_blank_lines() {
        let p = run("para\n{: .lead}\n\n{:note: .n}\n*[HTML]: Hyper Text\n{::comment}\nhidden\n{:/comment}\n^\n");
        assert_eq!(p.ials.len(), 1);
        assert!(p.ials[0].follows_block);
        assert_eq!(p.ials[0].line, 1);
        assert!(p.alds.contains_key("note"));
        assert_eq!(p.abbreviations, vec![("HTML".to_string(), "Hyper Text".to_string())]);
        assert!(!p.text.contains("hidden") && !p.text.contains('{') && !p.text.contains('^'));
    }

    #[test]
    fn a_stray_end_tag_is_text() {
        assert!(run("</div>\n").text.starts_with("&lt;/div>"));
    }
}
