//! The tree written as kramdown's HTML converter writes it: its elements, attributes and line breaks,
//! header ids, the `{:toc}` list, footnotes, abbreviations and Rouge's code block wrapper.

use std::collections::HashMap;

use pulldown_cmark::Alignment;

use super::attributes::{self, Attrs, Ial};
use super::blocks::{BlockIal, Prepared, Stored};
use super::ids::IdGenerator;
use super::tree::{Document, Kind, Node};
use super::typography::escape_text;
use super::Options;

/// Attribute value escaping (`<`, `>`, `&` unless it starts an entity, `"`).
pub(crate) fn escape_attr(value: &str) -> String {
    escape_text(value).replace('"', "&quot;")
}

fn write_attrs(out: &mut String, attrs: &Attrs) {
    for (key, value) in &attrs.0 {
        if key == "id" && value.trim().is_empty() {
            continue;
        }
        out.push(' ');
        out.push_str(key);
        out.push_str("=\"");
        out.push_str(&escape_attr(value));
        out.push('"');
    }
}

/// Applies the block IALs of the block pass to the blocks they belong to.
pub(crate) fn apply_block_ials(root: &mut Node, ials: &[BlockIal], alds: &HashMap<String, Ial>) {
    for block_ial in ials {
        let target = if block_ial.follows_block {
            preceding_block(root, block_ial.line, block_ial.indent)
        } else {
            // Top-level blocks are in line order.
            let next = root.children.partition_point(|n| n.lines.0 <= block_ial.line);
            root.children[next..].iter_mut().find(|n| n.is_block())
        };
        if let Some(node) = target {
            attributes::apply(&mut node.attrs, &block_ial.ial, alds);
            node.refs.extend(block_ial.ial.refs.iter().cloned());
        }
    }
}

/// Gives each list item starting on a line of `item_ials` that IAL's attributes.
pub(crate) fn apply_item_ials(node: &mut Node, item_ials: &[(usize, Ial)], alds: &HashMap<String, Ial>) {
    for child in &mut node.children {
        if child.kind == Kind::Item {
            for (_, ial) in item_ials.iter().filter(|(line, _)| *line == child.lines.0) {
                attributes::apply(&mut child.attrs, ial, alds);
                child.refs.extend(ial.refs.iter().cloned());
            }
        }
        apply_item_ials(child, item_ials, alds);
    }
}

/// The block an IAL on `line` follows: the top-level block ending just before it, or, for an indented
/// IAL, the last paragraph inside that block's last list item.
fn preceding_block(root: &mut Node, line: usize, indent: usize) -> Option<&mut Node> {
    let before = root.children.partition_point(|n| n.lines.0 < line);
    let node = root.children[..before].iter_mut().rev().find(|n| n.is_block())?;
    if indent >= 2 && matches!(node.kind, Kind::List(_) | Kind::BlockQuote) {
        let mut inner = node;
        while let Some(last) = inner.children.iter_mut().rev().find(|n| n.is_block()) {
            inner = last;
            if matches!(inner.kind, Kind::Paragraph | Kind::Heading(_) | Kind::Table(_)) {
                return Some(inner);
            }
        }
        return None;
    }
    Some(node)
}

struct TocEntry {
    level: u8,
    id: String,
    heading: Node,
}

pub(crate) struct Renderer<'a> {
    options: &'a Options,
    prepared: &'a Prepared,
    footnote_defs: HashMap<String, Node>,
    /// Footnotes in the order of their first reference: name, number, how many more references.
    footnotes: Vec<(String, u32, u32)>,
    footnote_index: HashMap<String, usize>,
    next_footnote: u32,
    toc: Vec<TocEntry>,
    toc_written: bool,
    abbreviations: Abbreviations,
    /// Link definitions, for Markdown in HTML elements.
    definitions: super::tree::Definitions,
}

/// The abbreviations of a document with their titles, found where a word starts by that word:
/// one lookup for a name of word characters, which matches only a whole word, and a look at the
/// few others that begin with that word, rather than a look at every name at every word (10,000
/// abbreviations in a post took 3.8 s).
#[derive(Default)]
struct Abbreviations {
    /// Names of word characters only (`HTML`, `W3C`).
    words: HashMap<String, String>,
    /// The other names (`e.g.`, `HTML 5`, `.NET`) by the run of word characters they start with
    /// (empty for `.NET`), longest first: a match of one is longer than that word, so it comes
    /// before the word's own, as kramdown tries the longest name first.
    others: HashMap<String, Vec<(String, String)>>,
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Abbreviations {
    fn new(defined: &[(String, String)]) -> Abbreviations {
        let mut by_name: HashMap<&str, &str> = HashMap::new();
        for (name, title) in defined {
            by_name.insert(name, title);
        }
        let mut sorted: Vec<(&str, &str)> = by_name.into_iter().collect();
        sorted.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(b.0)));
        let mut abbreviations = Abbreviations::default();
        for (name, title) in sorted {
            let word = &name[..name.bytes().take_while(|b| is_word_byte(*b)).count()];
            if word.len() == name.len() {
                abbreviations.words.insert(name.to_string(), title.to_string());
            } else {
                abbreviations.others.entry(word.to_string()).or_default().push((name.to_string(), title.to_string()));
            }
        }
        abbreviations
    }

    fn is_empty(&self) -> bool {
        self.words.is_empty() && self.others.is_empty()
    }

    /// The longest name that starts `text` and is not followed by a word character, with its title.
    fn at<'s>(&'s self, text: &str) -> Option<(&'s str, &'s str)> {
        let word = &text[..text.bytes().take_while(|b| is_word_byte(*b)).count()];
        let ends_a_word = |name: &str| !text.as_bytes().get(name.len()).copied().is_some_and(is_word_byte);
        self.others
            .get(word)
            .and_then(|names| names.iter().find(|(name, _)| text.starts_with(name.as_str()) && ends_a_word(name)))
            .map(|(name, title)| (name.as_str(), title.as_str()))
            .or_else(|| self.words.get_key_value(word).map(|(name, title)| (name.as_str(), title.as_str())))
    }
}

impl<'a> Renderer<'a> {
    pub(super) fn new(options: &'a Options, prepared: &'a Prepared, document: &mut Document) -> Renderer<'a> {
        let abbreviations = Abbreviations::new(&prepared.abbreviations);
        Renderer {
            options,
            prepared,
            footnote_defs: std::mem::take(&mut document.footnotes),
            footnotes: Vec::new(),
            footnote_index: HashMap::new(),
            next_footnote: options.footnote_nr,
            toc: Vec::new(),
            toc_written: false,
            abbreviations,
            definitions: std::mem::take(&mut document.definitions),
        }
    }

    /// Gives headers their ids and collects the table of contents: all headers, those in lists and quotes
    /// too, in document order.
    pub(super) fn number_headers(&mut self, root: &mut Node) {
        let mut ids = IdGenerator::default();
        let mut html_depth = 0usize;
        self.number_headers_in(root, &mut ids, &mut html_depth);
    }

    fn number_headers_in(&mut self, parent: &mut Node, ids: &mut IdGenerator, html_depth: &mut usize) {
        let options = self.options;
        for node in parent.children.iter_mut() {
            match &node.kind {
                Kind::Stored(i) => match self.prepared.stored.get(*i) {
                    Some(Stored::Open { .. }) => *html_depth += 1,
                    Some(Stored::Close(_)) => *html_depth = html_depth.saturating_sub(1),
                    _ => {}
                },
                Kind::Heading(level) => {
                    let level = *level;
                    if node.attrs.get("id").is_none() && options.auto_ids {
                        let mut text = String::new();
                        node.plain_text(&mut text);
                        // kramdown-parser-gfm skips headers inside HTML elements; the converter's own ids
                        // then apply to those.
                        let id = if options.gfm() && *html_depth == 0 {
                            ids.gfm(&text, &options.auto_id_prefix)
                        } else {
                            ids.kramdown(&text, &options.auto_id_prefix)
                        };
                        node.attrs.0.push(("id".to_string(), id));
                    }
                    let no_toc = node.attrs.get("class").is_some_and(|c| c.split_whitespace().any(|c| c == "no_toc"));
                    if let Some(id) = node.attrs.get("id") {
                        if options.toc_levels.contains(&level) && !no_toc {
                            self.toc.push(TocEntry { level, id: id.to_string(), heading: node.clone() });
                        }
                    }
                }
                Kind::List(_) | Kind::Item | Kind::BlockQuote | Kind::DefinitionList | Kind::Definition => {
                    self.number_headers_in(node, ids, html_depth);
                }
                _ => {}
            }
        }
    }

    pub(super) fn document(&mut self, root: &Node) -> String {
        let mut out = String::with_capacity(4096);
        for child in &root.children {
            self.block(child, &mut out);
        }
        self.footnote_section(&mut out);
        out
    }

    fn block(&mut self, node: &Node, out: &mut String) {
        match &node.kind {
            Kind::Paragraph => {
                out.push_str("<p");
                write_attrs(out, &node.attrs);
                out.push('>');
                self.inlines(&node.children, out, false);
                trim_trailing_newline(out);
                out.push_str("</p>\n");
            }
            Kind::Heading(level) => {
                let level = (i32::from(*level) + self.options.header_offset).clamp(1, 6);
                out.push_str(&format!("<h{level}"));
                write_attrs(out, &node.attrs);
                out.push('>');
                self.inlines(&node.children, out, false);
                out.push_str(&format!("</h{level}>\n"));
            }
            Kind::BlockQuote => self.container("blockquote", node, out),
            Kind::CodeBlock { info, code } => {
                let lang = info.as_ref().map(|i| i.split('?').next().unwrap_or(i).to_string());
                self.code_block(lang.as_deref(), code, &node.attrs, out);
            }
            Kind::List(ordered) => {
                if !self.toc_written && node.refs.iter().any(|r| r == "toc") {
                    self.toc_written = true;
                    self.table_of_contents(node, out);
                    return;
                }
                let ordered = *ordered;
                let mut attrs = node.attrs.clone();
                // kramdown-parser-gfm: from the first task item on, every item whose first block is a
                // paragraph is a task item, and the list a task list.
                let mut tasks = false;
                let task_items: Vec<bool> = node
                    .children
                    .iter()
                    .map(|item| {
                        let first = item.children.first();
                        if first.is_some_and(|f| !f.is_block() || f.kind == Kind::Paragraph) {
                            tasks |= starts_with_task_marker(item);
                        }
                        tasks && first.is_some_and(|f| !f.is_block() || f.kind == Kind::Paragraph)
                    })
                    .collect();
                if tasks {
                    attrs.add_class("task-list");
                }
                let tag = if ordered { "ol" } else { "ul" };
                out.push_str(&format!("<{tag}"));
                write_attrs(out, &attrs);
                out.push_str(">\n");
                for (item, &task) in node.children.iter().zip(&task_items) {
                    match item.kind {
                        Kind::Item => self.item("li", item, task, out),
                        // Content of items nested past the depth limit lands here.
                        _ if item.is_block() => self.block(item, out),
                        _ => self.inline(item, out, false),
                    }
                }
                out.push_str(&format!("</{tag}>\n"));
            }
            Kind::Item => self.item("li", node, starts_with_task_marker(node), out),
            Kind::DefinitionList => self.container("dl", node, out),
            Kind::Term => {
                out.push_str("<dt");
                write_attrs(out, &node.attrs);
                out.push('>');
                self.inlines(&node.children, out, false);
                out.push_str("</dt>\n");
            }
            Kind::Definition => self.item("dd", node, false, out),
            Kind::Table(alignments) => {
                out.push_str("<table");
                write_attrs(out, &node.attrs);
                out.push_str(">\n");
                let mut body_open = false;
                let headless = self.prepared.headless_tables.contains(&node.lines.0);
                for part in &node.children {
                    match part.kind {
                        Kind::TableHead if !headless => {
                            out.push_str("<thead>\n<tr>\n");
                            self.cells(part, alignments, "th", out);
                            out.push_str("</tr>\n</thead>\n");
                        }
                        _ => {
                            if !body_open {
                                out.push_str("<tbody>\n");
                                body_open = true;
                            }
                            out.push_str("<tr>\n");
                            self.cells(part, alignments, "td", out);
                            out.push_str("</tr>\n");
                        }
                    }
                }
                if body_open {
                    out.push_str("</tbody>\n");
                }
                out.push_str("</table>\n");
            }
            Kind::Rule => {
                out.push_str("<hr");
                write_attrs(out, &node.attrs);
                out.push_str(" />\n");
            }
            Kind::HtmlBlock(html) => {
                out.push_str(html);
                if !html.ends_with('\n') {
                    out.push('\n');
                }
            }
            Kind::Stored(i) => self.stored(*i, &node.attrs, out),
            Kind::TableHead | Kind::TableRow | Kind::TableCell | Kind::Root => {
                for child in &node.children {
                    self.block(child, out);
                }
            }
            _ => {
                // Inline content where a block was expected (a tight list item's text).
                self.inline(node, out, false);
            }
        }
    }

    fn container(&mut self, tag: &str, node: &Node, out: &mut String) {
        out.push_str(&format!("<{tag}"));
        write_attrs(out, &node.attrs);
        out.push_str(">\n");
        for child in &node.children {
            self.block(child, out);
        }
        out.push_str(&format!("</{tag}>\n"));
    }

    /// A list item or definition: inline content stays on the tag's line, blocks go on lines of their own.
    fn item(&mut self, tag: &str, node: &Node, task: bool, out: &mut String) {
        let mut attrs = node.attrs.clone();
        if task {
            attrs.add_class("task-list-item");
        }
        out.push_str(&format!("<{tag}"));
        write_attrs(out, &attrs);
        out.push('>');
        let mut last_was_block = false;
        for (i, child) in node.children.iter().enumerate() {
            if child.is_block() {
                if i == 0 || !last_was_block {
                    out.push('\n');
                }
                self.block(child, out);
                last_was_block = true;
            } else {
                self.inline(child, out, false);
                last_was_block = false;
            }
        }
        out.push_str(&format!("</{tag}>\n"));
    }

    fn cells(&mut self, row: &Node, alignments: &[Alignment], tag: &str, out: &mut String) {
        for (i, cell) in row.children.iter().enumerate() {
            let mut attrs = cell.attrs.clone();
            let align = match alignments.get(i) {
                Some(Alignment::Left) => Some("left"),
                Some(Alignment::Center) => Some("center"),
                Some(Alignment::Right) => Some("right"),
                _ => None,
            };
            if let Some(align) = align {
                let style = match attrs.get("style") {
                    Some(style) => format!("{style}; text-align: {align}"),
                    None => format!("text-align: {align}"),
                };
                attrs.set("style", style);
            }
            out.push_str(&format!("<{tag}"));
            write_attrs(out, &attrs);
            out.push('>');
            let before = out.len();
            self.inlines(&cell.children, out, false);
            if out.len() == before {
                out.push('\u{A0}');
            }
            out.push_str(&format!("</{tag}>\n"));
        }
    }

    fn stored(&mut self, index: usize, attrs: &Attrs, out: &mut String) {
        let Some(stored) = self.prepared.stored.get(index) else { return };
        match stored {
            Stored::Code { info: _, lang, code } => self.code_block(lang.as_deref(), code, attrs, out),
            Stored::Html(html) => {
                out.push_str(html);
                out.push('\n');
            }
            Stored::Open { name, attrs: own } => {
                let mut all = own.clone();
                for (k, v) in &attrs.0 {
                    if k == "class" {
                        all.add_class(v);
                    } else {
                        all.set(k, v.clone());
                    }
                }
                out.push_str(&format!("<{name}"));
                write_attrs(out, &all);
                out.push_str(">\n");
            }
            Stored::Close(name) => out.push_str(&format!("</{name}>\n")),
            Stored::Inline { html, .. } => out.push_str(html),
            Stored::Span { name, attrs: own, markdown } => {
                out.push_str(&format!("<{name}"));
                write_attrs(out, own);
                out.push('>');
                self.span_markdown(markdown, out);
                out.push_str(&format!("</{name}>\n"));
            }
            Stored::HtmlWithMarkdown { html, nested } => {
                let mut from = 0;
                for element in nested {
                    out.push_str(&html[from..element.at]);
                    from = element.at;
                    out.push_str(&format!("<{}", element.name));
                    write_attrs(out, &Attrs(element.attrs.clone()));
                    out.push('>');
                    if element.span {
                        self.span_markdown(&element.markdown, out);
                    } else {
                        out.push('\n');
                        out.push_str(&super::render_nested(
                            &element.markdown,
                            self.options,
                            &self.prepared.abbreviations,
                            &self.definitions,
                        ));
                    }
                    out.push_str(&format!("</{}>", element.name));
                }
                out.push_str(&html[from..]);
                out.push('\n');
            }
        }
    }

    /// Span-level Markdown in an element: rendered, without the paragraph it makes.
    fn span_markdown(&self, markdown: &str, out: &mut String) {
        let inner = super::render_nested(markdown, self.options, &self.prepared.abbreviations, &self.definitions);
        let inner = inner.trim_end();
        out.push_str(inner.strip_prefix("<p>").and_then(|i| i.strip_suffix("</p>")).unwrap_or(inner));
    }

    /// A code block as Jekyll's kramdown writes it with Rouge (token markup left out), or a bare
    /// `<pre><code>` when highlighting is off.
    fn code_block(&mut self, lang: Option<&str>, code: &str, attrs: &Attrs, out: &mut String) {
        let mut attrs = attrs.clone();
        if self.options.syntax_highlighting {
            let lang = lang.unwrap_or(&self.options.default_lang);
            let class = match attrs.get("class") {
                Some(class) => format!("language-{lang} {class} highlighter-rouge"),
                None => format!("language-{lang} highlighter-rouge"),
            };
            attrs.set("class", class);
            out.push_str("<div");
            write_attrs(out, &attrs);
            out.push_str("><div class=\"highlight\"><pre class=\"highlight\"><code>");
            out.push_str(&escape_code(code));
            out.push_str("</code></pre></div></div>\n");
        } else {
            out.push_str("<pre");
            write_attrs(out, &attrs);
            out.push_str("><code");
            if let Some(lang) = lang {
                out.push_str(&format!(" class=\"language-{}\"", escape_attr(lang)));
            }
            out.push('>');
            out.push_str(escape_code(code).trim_end_matches('\n'));
            out.push_str("\n</code></pre>\n");
        }
    }

    fn inlines(&mut self, nodes: &[Node], out: &mut String, toc: bool) {
        for node in nodes {
            self.inline(node, out, toc);
        }
    }

    fn inline(&mut self, node: &Node, out: &mut String, toc: bool) {
        match &node.kind {
            Kind::Text(text) => self.text(text, out),
            Kind::Code(code) => {
                out.push_str("<code");
                let mut attrs = node.attrs.clone();
                if self.options.syntax_highlighting {
                    // Rouge's class for a code span without a language.
                    let class = match attrs.get("class") {
                        Some(class) => format!("language-{} {class} highlighter-rouge", self.options.default_lang),
                        None => format!("language-{} highlighter-rouge", self.options.default_lang),
                    };
                    attrs.set("class", class);
                }
                write_attrs(out, &attrs);
                out.push('>');
                out.push_str(&escape_code(code));
                out.push_str("</code>");
            }
            Kind::InlineHtml(html) => out.push_str(html),
            Kind::Emphasis => self.span("em", node, out, toc),
            Kind::Strong => self.span("strong", node, out, toc),
            Kind::Strikethrough => self.span("del", node, out, toc),
            Kind::Link { url, title, .. } => {
                if toc {
                    self.inlines(&node.children, out, toc);
                    return;
                }
                let mut attrs = Attrs(vec![("href".to_string(), url.clone())]);
                if !title.is_empty() {
                    attrs.set("title", title.clone());
                }
                for (k, v) in &node.attrs.0 {
                    if k == "class" {
                        attrs.add_class(v);
                    } else {
                        attrs.set(k, v.clone());
                    }
                }
                out.push_str("<a");
                write_attrs(out, &attrs);
                out.push('>');
                self.inlines(&node.children, out, toc);
                out.push_str("</a>");
            }
            Kind::Image { url, title } => {
                let mut alt = String::new();
                node.children.iter().for_each(|c| c.plain_text(&mut alt));
                let mut attrs = Attrs(vec![("src".to_string(), url.clone()), ("alt".to_string(), alt)]);
                if !title.is_empty() {
                    attrs.set("title", title.clone());
                }
                for (k, v) in &node.attrs.0 {
                    if k == "class" {
                        attrs.add_class(v);
                    } else {
                        attrs.set(k, v.clone());
                    }
                }
                out.push_str("<img");
                write_attrs(out, &attrs);
                out.push_str(" />");
            }
            Kind::FootnoteRef(label) => {
                if !toc {
                    self.footnote_ref(label, out);
                }
            }
            Kind::HardBreak => out.push_str("<br />\n"),
            Kind::TaskMarker(checked) => out.push_str(if *checked {
                "<input type=\"checkbox\" class=\"task-list-item-checkbox\" disabled=\"disabled\" checked=\"checked\" />"
            } else {
                "<input type=\"checkbox\" class=\"task-list-item-checkbox\" disabled=\"disabled\" />"
            }),
            _ => {
                if node.is_block() {
                    self.block(node, out);
                } else {
                    self.inlines(&node.children, out, toc);
                }
            }
        }
    }

    fn span(&mut self, tag: &str, node: &Node, out: &mut String, toc: bool) {
        out.push_str(&format!("<{tag}"));
        write_attrs(out, &node.attrs);
        out.push('>');
        self.inlines(&node.children, out, toc);
        out.push_str(&format!("</{tag}>"));
    }

    /// Text, escaped, with abbreviations wrapped where they stand as words.
    fn text(&self, text: &str, out: &mut String) {
        if self.options.hard_wrap && self.options.gfm() && text.contains('\n') {
            // GFM's hard_wrap: every line break inside a paragraph is a `<br />`.
            let mut first = true;
            for line in text.split('\n') {
                if !first {
                    out.push_str("<br />\n");
                }
                first = false;
                self.text_line(line, out);
            }
            return;
        }
        self.text_line(text, out);
    }

    /// A line of text: every `&` is escaped, for the text holds what entities stood for (`&amp;amp;` is
    /// `&amp;` here, to be shown as such) and kramdown shows an unknown one (`&foo;`) as text.
    fn text_line(&self, text: &str, out: &mut String) {
        if self.abbreviations.is_empty() {
            escape_all_into(text, out);
            return;
        }
        let mut plain_from = 0;
        let mut i = 0;
        let bytes = text.as_bytes();
        while i < text.len() {
            if !text.is_char_boundary(i) {
                i += 1;
                continue;
            }
            let starts_word = i == 0 || {
                let before = text[..i].chars().next_back().unwrap_or(' ');
                !(before.is_ascii_alphanumeric() || before == '_')
            };
            if starts_word {
                if let Some((name, title)) = self.abbreviations.at(&text[i..]) {
                    escape_all_into(&text[plain_from..i], out);
                    out.push_str("<abbr");
                    if !title.is_empty() {
                        out.push_str(&format!(" title=\"{}\"", escape_attr(title)));
                    }
                    out.push('>');
                    escape_all_into(name, out);
                    out.push_str("</abbr>");
                    i += name.len();
                    plain_from = i;
                    continue;
                }
            }
            i += 1;
            let _ = bytes;
        }
        escape_all_into(&text[plain_from..], out);
    }

    fn footnote_ref(&mut self, label: &str, out: &mut String) {
        if !self.footnote_defs.contains_key(label) {
            out.push_str(&escape_text(&format!("[^{label}]")));
            return;
        }
        let name = format!("{}{label}", self.options.footnote_prefix);
        let (number, repeat) = match self.footnote_index.get(label) {
            Some(&i) => {
                self.footnotes[i].2 += 1;
                (self.footnotes[i].1, format!(":{}", self.footnotes[i].2))
            }
            None => {
                let number = self.next_footnote;
                self.next_footnote += 1;
                self.footnote_index.insert(label.to_string(), self.footnotes.len());
                self.footnotes.push((label.to_string(), number, 0));
                (number, String::new())
            }
        };
        let name = escape_attr(&name);
        out.push_str(&format!(
            "<sup id=\"fnref:{name}{repeat}\" role=\"doc-noteref\"><a href=\"#fn:{name}\" class=\"footnote\" rel=\"footnote\">{number}</a></sup>"
        ));
    }

    fn footnote_section(&mut self, out: &mut String) {
        if self.footnotes.is_empty() {
            return;
        }
        let mut list = String::new();
        let mut i = 0;
        // Footnotes may reference further footnotes, which are appended while this runs.
        while i < self.footnotes.len() {
            let label = self.footnotes[i].0.clone();
            let Some(definition) = self.footnote_defs.get(&label).cloned() else {
                i += 1;
                continue;
            };
            let name = escape_attr(&format!("{}{label}", self.options.footnote_prefix));
            let mut body = String::new();
            let blocks: Vec<&Node> = definition.children.iter().collect();
            let backlink_in_last = blocks.last().is_some_and(|b| matches!(b.kind, Kind::Paragraph | Kind::Heading(_)))
                || (self.options.footnote_backlink_inline && !blocks.is_empty());
            for block in &blocks {
                self.block(block, &mut body);
            }
            let backlinks = self.backlinks(&name, i, backlink_in_last);
            if backlink_in_last {
                if let Some(close) = body.rfind("</p>").or_else(|| body.rfind("</h")) {
                    body.insert_str(close, &backlinks);
                } else {
                    body.push_str(&format!("<p>{backlinks}</p>\n"));
                }
            } else if !backlinks.is_empty() {
                body.push_str(&format!("<p>{backlinks}</p>\n"));
            }
            list.push_str(&format!("<li id=\"fn:{name}\" role=\"doc-endnote\">\n{body}</li>\n"));
            i += 1;
        }
        out.push_str("<div class=\"footnotes\" role=\"doc-endnotes\">\n<ol");
        if self.options.footnote_nr != 1 {
            out.push_str(&format!(" start=\"{}\"", self.options.footnote_nr));
        }
        out.push_str(">\n");
        out.push_str(&list);
        out.push_str("</ol>\n</div>\n");
    }

    fn backlinks(&self, name: &str, index: usize, after_text: bool) -> String {
        let backlink = &self.options.footnote_backlink;
        if backlink.is_empty() {
            return String::new();
        }
        let text = escape_text(backlink);
        let mut links = format!(
            "{}<a href=\"#fnref:{name}\" class=\"reversefootnote\" role=\"doc-backlink\">{text}</a>",
            if after_text { "\u{A0}" } else { "" }
        );
        for repeat in 1..=self.footnotes[index].2 {
            links.push_str(&format!(
                "\u{A0}<a href=\"#fnref:{name}:{repeat}\" class=\"reversefootnote\" role=\"doc-backlink\">{text}<sup>{}</sup></a>",
                repeat + 1
            ));
        }
        links
    }

    /// kramdown's `generate_toc_tree`: each header nests under the nearest earlier one of a lower level.
    fn table_of_contents(&mut self, list: &Node, out: &mut String) {
        if self.toc.is_empty() {
            return;
        }
        let ordered = matches!(list.kind, Kind::List(true));
        let tag = if ordered { "ol" } else { "ul" };
        let mut attrs = list.attrs.clone();
        if attrs.get("id").is_none() {
            attrs.0.push(("id".to_string(), "markdown-toc".to_string()));
        }
        let toc_id = attrs.get("id").unwrap_or("markdown-toc").to_string();
        // Parent of each entry (None: top level), by kramdown's stack rule.
        let mut parents: Vec<Option<usize>> = Vec::with_capacity(self.toc.len());
        let mut stack: Vec<usize> = Vec::new();
        for (i, entry) in self.toc.iter().enumerate() {
            while let Some(&top) = stack.last() {
                if self.toc[top].level < entry.level {
                    break;
                }
                stack.pop();
            }
            parents.push(stack.last().copied());
            stack.push(i);
        }
        let entries = std::mem::take(&mut self.toc);
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); entries.len() + 1];
        for (i, parent) in parents.iter().enumerate() {
            children[parent.map_or(entries.len(), |p| p)].push(i);
        }
        out.push_str(&format!("<{tag}"));
        write_attrs(out, &attrs);
        out.push_str(">\n");
        self.toc_level(&entries, &children, entries.len(), tag, &toc_id, out, 0);
        out.push_str(&format!("</{tag}>\n"));
        self.toc = entries;
    }

    #[allow(clippy::too_many_arguments)]
    fn toc_level(
        &mut self,
        entries: &[TocEntry],
        children: &[Vec<usize>],
        parent: usize,
        tag: &str,
        toc_id: &str,
        out: &mut String,
        depth: usize,
    ) {
        for &i in &children[parent] {
            let entry = &entries[i];
            let id = escape_attr(&entry.id);
            out.push_str(&format!("<li><a href=\"#{id}\" id=\"{}-{id}\">", escape_attr(toc_id)));
            self.inlines(&entry.heading.children, out, true);
            out.push_str("</a>");
            if depth < super::tree::MAX_DEPTH && !children[i].is_empty() {
                out.push_str(&format!("\n<{tag}>\n"));
                self.toc_level(entries, children, i, tag, toc_id, out, depth + 1);
                out.push_str(&format!("</{tag}>\n"));
            }
            out.push_str("</li>\n");
        }
    }
}

/// An item whose text starts with a task list checkbox (`- [ ] x`), bare or in a paragraph.
fn starts_with_task_marker(item: &Node) -> bool {
    match item.children.first() {
        Some(Node { kind: Kind::TaskMarker(_), .. }) => true,
        Some(Node { kind: Kind::Paragraph, children, .. }) => {
            matches!(children.first(), Some(Node { kind: Kind::TaskMarker(_), .. }))
        }
        _ => false,
    }
}

fn trim_trailing_newline(out: &mut String) {
    while out.ends_with('\n') {
        out.pop();
    }
}

/// Code is escaped like Rouge does it: `&`, `<`, `>`.
fn escape_code(code: &str) -> String {
    let mut out = String::with_capacity(code.len() + 16);
    escape_all_into(code, &mut out);
    out
}

/// `&`, `<` and `>` escaped, appended to `out`.
fn escape_all_into(text: &str, out: &mut String) {
    let mut plain_from = 0;
    for (i, byte) in text.bytes().enumerate() {
        let replacement = match byte {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            _ => continue,
        };
        out.push_str(&text[plain_from..i]);
        out.push_str(replacement);
        plain_from = i + 1;
    }
    out.push_str(&text[plain_from..]);
}
