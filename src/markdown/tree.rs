//! pulldown-cmark's events as a tree, with kramdown's readings applied while it is built: text educated
//! (smart quotes, symbols) from its source context, span IALs (`*x*{: .c}`) attached, HTML tags that kramdown
//! shows as text turned into text, and footnote definitions set aside.

use std::collections::HashMap;
use std::ops::Range;

use pulldown_cmark::{Alignment, CodeBlockKind, CowStr, Event, LinkType, Options as CmarkOptions, Parser, Tag, TagEnd};

use super::attributes::{Attrs, Ial};
use super::blocks::{self, Prepared, Stored};
use super::html_scan;
use super::inline::{self, Token};
use super::typography::{self, Piece};
use super::Options;

/// Containers nested deeper than this are flattened into their parent, so that rendering never recurses
/// without bound (`>>>>>…` or `- - - - …` ten thousand deep).
pub(crate) const MAX_DEPTH: usize = 48;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    Root,
    Paragraph,
    Heading(u8),
    BlockQuote,
    /// A code block pulldown-cmark found (indented, or fenced inside a container).
    CodeBlock {
        info: Option<String>,
        code: String,
    },
    /// True for an ordered list.
    List(bool),
    Item,
    DefinitionList,
    Term,
    Definition,
    Table(Vec<Alignment>),
    TableHead,
    TableRow,
    TableCell,
    Rule,
    HtmlBlock(String),
    /// A placeholder of the block pass.
    Stored(usize),
    Text(String),
    Code(String),
    InlineHtml(String),
    Emphasis,
    Strong,
    Strikethrough,
    /// `shortcut`: written `[label]`, which kramdown may join with a `[text]` before it.
    Link {
        url: String,
        title: String,
        shortcut: bool,
    },
    Image {
        url: String,
        title: String,
    },
    FootnoteRef(String),
    HardBreak,
    TaskMarker(bool),
}

#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub kind: Kind,
    pub attrs: Attrs,
    /// ALD references of the IALs applied (`toc`).
    pub refs: Vec<String>,
    pub children: Vec<Node>,
    /// First and last line in the prepared text.
    pub lines: (usize, usize),
}

impl Node {
    pub(crate) fn new(kind: Kind, lines: (usize, usize)) -> Node {
        Node { kind, attrs: Attrs::default(), refs: Vec::new(), children: Vec::new(), lines }
    }

    pub(super) fn is_block(&self) -> bool {
        matches!(
            self.kind,
            Kind::Root
                | Kind::Paragraph
                | Kind::Heading(_)
                | Kind::BlockQuote
                | Kind::CodeBlock { .. }
                | Kind::List(_)
                | Kind::Item
                | Kind::DefinitionList
                | Kind::Term
                | Kind::Definition
                | Kind::Table(_)
                | Kind::TableHead
                | Kind::TableRow
                | Kind::TableCell
                | Kind::Rule
                | Kind::HtmlBlock(_)
                | Kind::Stored(_)
        )
    }

    /// The text of the node as kramdown's GFM parser collects it for header ids.
    pub(super) fn plain_text(&self, into: &mut String) {
        match &self.kind {
            Kind::Text(text) | Kind::Code(text) => into.push_str(text),
            Kind::Image { .. } | Kind::FootnoteRef(_) | Kind::InlineHtml(_) => {}
            Kind::HardBreak => into.push('\n'),
            _ => self.children.iter().for_each(|c| c.plain_text(into)),
        }
    }
}

/// The tree and the footnote definitions found in it.
pub(crate) struct Document {
    pub root: Node,
    pub footnotes: HashMap<String, Node>,
    /// The link definitions this text sees: its own and those of the texts around it.
    pub definitions: Definitions,
}

/// Link definitions by label (see [`label_key`]): destination and title. kramdown's are the whole
/// document's, so Markdown inside an HTML element (`<span markdown="1">`), rendered on its own,
/// is given those of the text around it.
pub(crate) type Definitions = HashMap<String, (String, String)>;

/// A link label as references match it: case and runs of whitespace do not count.
fn label_key(label: &str) -> String {
    label.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

fn cmark_options(options: &Options) -> CmarkOptions {
    let mut cmark = CmarkOptions::ENABLE_TABLES
        | CmarkOptions::ENABLE_FOOTNOTES
        | CmarkOptions::ENABLE_HEADING_ATTRIBUTES
        | CmarkOptions::ENABLE_DEFINITION_LIST;
    if options.gfm() {
        cmark |= CmarkOptions::ENABLE_STRIKETHROUGH | CmarkOptions::ENABLE_TASKLISTS;
    }
    cmark
}

struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        LineIndex(std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect())
    }

    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&start| start <= offset).saturating_sub(1)
    }

    fn lines(&self, range: &Range<usize>) -> (usize, usize) {
        (self.line(range.start), self.line(range.end.saturating_sub(1).max(range.start)))
    }
}

/// Builds the tree of the prepared text.
///
/// A reference to a label `outer` defines, and this text does not, links there.
pub(crate) fn build(prepared: &Prepared, options: &Options, outer: &Definitions) -> Document {
    let text = prepared.text.as_str();
    let index = LineIndex::new(text);
    let mut builder = Builder {
        source: text,
        stored: &prepared.stored,
        unescaped_dashes: &prepared.unescaped_dashes,
        prepared_code_backslashes: &prepared.code_backslashes,
        options,
        alds: &prepared.alds,
        stack: vec![Node::new(Kind::Root, (0, 0))],
        pending: vec![Vec::new()],
        skipped: 0,
        open_html: Vec::new(),
        footnotes: HashMap::new(),
        pieces: Vec::new(),
        autolink_text: None,
        literal_until: 0,
        drop_mailto: false,
        raw_span: None,
        orphan_ends: 0,
        prev_end: 0,
    };
    let defined_around = |link: pulldown_cmark::BrokenLink<'_>| {
        let (url, title) = outer.get(&label_key(&link.reference))?;
        Some((url.clone().into(), title.clone().into()))
    };
    let mut events =
        Parser::new_with_broken_link_callback(text, cmark_options(options), Some(defined_around)).into_offset_iter();
    for (event, range) in &mut events {
        builder.event(event, range, &index);
    }
    let mut definitions = outer.clone();
    for (label, definition) in events.reference_definitions().iter() {
        let title = definition.title.as_deref().unwrap_or_default().to_string();
        definitions.insert(label_key(label), (definition.dest.to_string(), title));
    }
    while builder.stack.len() > 1 {
        builder.close();
    }
    builder.flush();
    let mut root = builder.stack.pop().unwrap_or_else(|| Node::new(Kind::Root, (0, 0)));
    let mut footnotes = builder.footnotes;
    let blank = |line: usize, in_quote: bool, backwards: bool| -> bool {
        let mut line = line;
        while prepared.filler_lines.contains(&line) {
            match backwards {
                true if line == 0 => return false,
                true => line -= 1,
                false => line += 1,
            }
        }
        let Some(&start) = index.0.get(line) else { return false };
        let end = index.0.get(line + 1).copied().unwrap_or(text.len());
        text[start..end].chars().all(|c| c.is_whitespace() || (in_quote && c == '>'))
    };
    settle_lists(&mut root, &blank, false);
    for definition in footnotes.values_mut() {
        settle_lists(definition, &blank, false);
    }
    Document { root, footnotes, definitions }
}

/// Which list items keep their first paragraph bare (`<li>text</li>`): CommonMark decides for a whole list
/// (pulldown-cmark wraps every item's text in `<p>` or none), kramdown item by item. In kramdown a first
/// paragraph is bare unless a blank line follows it in the item (the blank line before the next item
/// counts; after the last item only when more blocks follow in it); and the last item's is bare only when
/// an earlier item's first block is not such a wrapped paragraph. Only the first paragraph can be bare.
/// A definition's first paragraph is bare unless a blank line comes right before the definition.
/// `blank` tells whether a line of the prepared text is blank for kramdown (`>` ignored in a quote), the
/// lines the block pass put in skipped forwards or backwards.
fn settle_lists(node: &mut Node, blank: &dyn Fn(usize, bool, bool) -> bool, in_quote: bool) {
    let in_quote = in_quote || matches!(node.kind, Kind::BlockQuote);
    for child in node.children.iter_mut().filter(|c| c.is_block()) {
        settle_lists(child, blank, in_quote);
    }
    if node.kind == Kind::DefinitionList {
        for definition in node.children.iter_mut().filter(|c| c.kind == Kind::Definition) {
            let after_blank = definition.lines.0 > 0 && blank(definition.lines.0 - 1, in_quote, true);
            reshape_item(definition, !after_blank);
        }
        return;
    }
    if !matches!(node.kind, Kind::List(_)) {
        return;
    }
    let count = node.children.iter().filter(|c| c.kind == Kind::Item).count();
    // Some earlier item's first block is not a wrapped paragraph.
    let mut earlier_not_wrapped = false;
    for (i, item) in node.children.iter_mut().filter(|c| c.kind == Kind::Item).enumerate() {
        let last = i + 1 == count;
        let bare = match item.children.first() {
            Some(first) if !first.is_block() || first.kind == Kind::Paragraph => {
                // pulldown-cmark's bare text never has a blank line after it inside a list that stays tight.
                let blank_after = first.kind == Kind::Paragraph && blank(first.lines.1 + 1, in_quote, false);
                let alone = item.children.len() == 1;
                (!blank_after || (last && alone)) && (!last || count == 1 || earlier_not_wrapped)
            }
            _ => {
                earlier_not_wrapped = true;
                continue;
            }
        };
        earlier_not_wrapped |= bare;
        reshape_item(item, bare);
    }
}

/// Puts an item's text in paragraphs, the first one bare or not.
fn reshape_item(item: &mut Node, first_bare: bool) {
    let children = std::mem::take(&mut item.children);
    let mut run: Vec<Node> = Vec::new();
    let mut first = true;
    let flush = |run: &mut Vec<Node>, first: &mut bool, out: &mut Vec<Node>| {
        if run.is_empty() {
            return;
        }
        if *first && first_bare {
            out.append(run);
        } else {
            let mut paragraph = Node::new(Kind::Paragraph, (0, 0));
            paragraph.children = std::mem::take(run);
            out.push(paragraph);
        }
        *first = false;
    };
    for child in children {
        if !child.is_block() {
            run.push(child);
            continue;
        }
        flush(&mut run, &mut first, &mut item.children);
        if first && first_bare && child.kind == Kind::Paragraph {
            item.children.extend(child.children);
        } else {
            item.children.push(child);
        }
        first = false;
    }
    flush(&mut run, &mut first, &mut item.children);
}

struct Builder<'a> {
    source: &'a str,
    stored: &'a [Stored],
    /// See [`Prepared::unescaped_dashes`].
    unescaped_dashes: &'a std::collections::HashSet<usize>,
    /// See [`Prepared::code_backslashes`].
    prepared_code_backslashes: &'a std::collections::HashSet<usize>,
    options: &'a Options,
    alds: &'a HashMap<String, Ial>,
    stack: Vec<Node>,
    /// Inline content of each open node, resolved when a block starts in it or it ends.
    pending: Vec<Vec<Token>>,
    /// Start events not opened because the tree was too deep; their ends are skipped too.
    skipped: usize,
    /// Span-level HTML elements open in the current block, for telling stray end tags.
    open_html: Vec<String>,
    footnotes: HashMap<String, Node>,
    pieces: Vec<Piece>,
    /// Inside an autolink shown as text: the offset where it ends (its text and end event are skipped).
    autolink_text: Option<usize>,
    /// Inside an autolink kramdown makes: the offset where it ends. Its text is the URL as written,
    /// never educated (`a--b` keeps its dashes).
    literal_until: usize,
    /// In `<mailto:…>`: its text is shown without the scheme, as kramdown shows it.
    drop_mailto: bool,
    /// Inside a span element whose content kramdown does not parse (`<s>`, `<u>`, `<kbd>`).
    raw_span: Option<RawSpan>,
    /// Ends of links, images and strikethroughs that started inside such an element and end after it:
    /// their starts were not opened, so these are skipped.
    orphan_ends: usize,
    /// Where the last event other than a start ended.
    prev_end: usize,
}

/// A span element whose content is raw to kramdown (`HTML_CONTENT_MODEL` `:raw`, or any element when
/// `parse_span_html` is off): its text is shown as written, with no Markdown, quotes or symbols, up to its
/// end tag (or the end of the block, where kramdown closes it).
struct RawSpan {
    name: String,
    /// Where its content starts in the source.
    from: usize,
    /// Where the last event inside it ended.
    last_end: usize,
    /// Elements of the same name open inside it.
    depth: usize,
    /// Links, images and strikethroughs started inside it and not ended yet.
    open: usize,
}

/// kramdown's autolinks: the schemes in lower case only (`<HTTP://x>` is text), and addresses of letters,
/// digits, `-`, `_` and `.` only (`<a+b@x.org>` is text).
fn kramdown_autolink(link_type: LinkType, url: &str) -> bool {
    if link_type == LinkType::Email {
        let address_char = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | '.');
        return url.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && !domain.is_empty() && local.chars().chain(domain.chars()).all(address_char)
        });
    }
    ["http:", "https:", "ftp:", "ftps:", "mailto:"].iter().any(|scheme| url.starts_with(scheme))
}

fn is_inline_container(kind: &Kind) -> bool {
    matches!(kind, Kind::Link { .. } | Kind::Image { .. } | Kind::Strikethrough)
}

impl Builder<'_> {
    fn top(&mut self) -> &mut Node {
        self.stack.last_mut().expect("the root stays on the stack")
    }

    fn token(&mut self, token: Token) {
        if let Some(pending) = self.pending.last_mut() {
            pending.push(token);
        }
    }

    /// Resolves the inline content waiting in the top node into its children.
    fn flush(&mut self) {
        let Some(pending) = self.pending.last_mut() else { return };
        if pending.is_empty() {
            return;
        }
        let tokens = std::mem::take(pending);
        let nodes = inline::resolve(&tokens, self.source, self.options, self.alds);
        self.top().children.extend(nodes);
    }

    fn open(&mut self, kind: Kind, lines: (usize, usize)) {
        if self.stack.len() >= MAX_DEPTH {
            self.skipped += 1;
            return;
        }
        if !is_inline_container(&kind) {
            self.flush();
        }
        self.stack.push(Node::new(kind, lines));
        self.pending.push(Vec::new());
    }

    fn close(&mut self) {
        if self.skipped > 0 {
            self.skipped -= 1;
            return;
        }
        if self.stack.len() < 2 {
            return;
        }
        if self.stack.last().is_some_and(|node| is_inline_container(&node.kind)) {
            // Its content is resolved with the emphasis around it (see [`Token::Container`]).
            let tokens = self.pending.pop().unwrap_or_default();
            let node = self.stack.pop().expect("checked above");
            self.token(Token::Container(Box::new(node), tokens));
            return;
        }
        self.flush();
        self.pending.pop();
        let node = self.stack.pop().expect("checked above");
        {
            self.flush();
            self.top().children.push(node);
        }
    }

    /// The delimiter characters of an emphasis pulldown-cmark found, given back as text for kramdown's rules.
    fn delimiters(&mut self, at: usize, len: usize) {
        for offset in at..at + len {
            match self.source.as_bytes().get(offset) {
                Some(&c @ (b'*' | b'_')) => self.token(Token::Char(Piece::at(char::from(c), offset))),
                _ => return,
            }
        }
    }

    fn event(&mut self, event: Event<'_>, range: Range<usize>, index: &LineIndex) {
        if let Some(end) = self.autolink_text {
            // Its text and its end are skipped; not the end of the table cell or block it closes with.
            match event {
                Event::End(TagEnd::Link) => {
                    self.autolink_text = None;
                    return;
                }
                Event::Text(_) if range.start < end => return,
                _ => self.autolink_text = None,
            }
        }
        if self.raw_span.is_some() && self.in_raw_span(&event, &range) {
            return;
        }
        if self.orphan_ends > 0
            && matches!(event, Event::End(TagEnd::Link | TagEnd::Image | TagEnd::Strikethrough))
            && !matches!(event, Event::End(TagEnd::Strikethrough) if !self.source[range.start..].starts_with("~~"))
        {
            // What closes it (`](/url)`, `~~`) is text.
            self.orphan_ends -= 1;
            let from = self.prev_end.clamp(range.start, range.end);
            for (i, c) in self.source[from..range.end].char_indices() {
                self.token(Token::Char(Piece::at(c, from + i)));
            }
            self.prev_end = range.end;
            return;
        }
        if !matches!(event, Event::Start(_)) {
            self.prev_end = range.end;
        }
        match event {
            Event::Start(tag) => {
                let lines = index.lines(&range);
                if is_block_tag(&tag) {
                    self.open_html.clear();
                }
                if let Tag::FootnoteDefinition(label) = &tag {
                    self.open(Kind::Root, lines);
                    if self.skipped == 0 {
                        self.top().attrs.set("footnote", label.to_string());
                    }
                    return;
                }
                let kind = match tag {
                    Tag::Paragraph => Kind::Paragraph,
                    Tag::Heading { level, id, classes, attrs: _ } => {
                        self.open(Kind::Heading(level as u8), lines);
                        if self.skipped == 0 {
                            if let Some(id) = id {
                                self.top().attrs.set("id", id.to_string());
                            }
                            for class in classes {
                                self.top().attrs.add_class(&class);
                            }
                        }
                        return;
                    }
                    Tag::BlockQuote(_) => Kind::BlockQuote,
                    Tag::CodeBlock(kind) => {
                        let info = match kind {
                            CodeBlockKind::Fenced(info) => info.split_whitespace().next().map(str::to_string),
                            CodeBlockKind::Indented => None,
                        };
                        Kind::CodeBlock { info, code: String::new() }
                    }
                    Tag::HtmlBlock => Kind::HtmlBlock(String::new()),
                    Tag::List(start) => Kind::List(start.is_some()),
                    Tag::Item => Kind::Item,
                    Tag::DefinitionList => Kind::DefinitionList,
                    Tag::DefinitionListTitle => Kind::Term,
                    Tag::DefinitionListDefinition => Kind::Definition,
                    Tag::Table(alignments) => Kind::Table(alignments),
                    Tag::TableHead => Kind::TableHead,
                    Tag::TableRow => Kind::TableRow,
                    Tag::TableCell => Kind::TableCell,
                    Tag::Emphasis => return self.delimiters(range.start, 1),
                    Tag::Strong => return self.delimiters(range.start, 2),
                    Tag::Strikethrough => {
                        // GFM in kramdown knows `~~x~~` only; pulldown-cmark also takes `~x~`.
                        if !self.source[range.start..].starts_with("~~") {
                            return self.token(Token::Char(Piece::literal('~')));
                        }
                        Kind::Strikethrough
                    }
                    Tag::Link { link_type: link_type @ (LinkType::Autolink | LinkType::Email), dest_url, .. }
                        if !kramdown_autolink(link_type, &dest_url) =>
                    {
                        self.autolink_text = Some(range.end);
                        for c in format!("<{dest_url}>").chars() {
                            self.token(Token::Char(Piece::literal(c)));
                        }
                        return;
                    }
                    Tag::Link { link_type, dest_url, title, .. } => {
                        if matches!(link_type, LinkType::Autolink | LinkType::Email) {
                            self.literal_until = range.end;
                            self.drop_mailto = link_type == LinkType::Autolink && dest_url.starts_with("mailto:");
                        }
                        let url = if link_type == LinkType::Email && !dest_url.starts_with("mailto:") {
                            format!("mailto:{dest_url}")
                        } else {
                            dest_url.to_string()
                        };
                        Kind::Link {
                            url,
                            title: title.to_string(),
                            shortcut: matches!(link_type, LinkType::Shortcut | LinkType::ShortcutUnknown),
                        }
                    }
                    Tag::Image { dest_url, title, .. } => {
                        Kind::Image { url: dest_url.to_string(), title: title.to_string() }
                    }
                    _ => Kind::Paragraph,
                };
                self.open(kind, lines);
            }
            Event::End(end) => {
                match end {
                    TagEnd::Emphasis => return self.delimiters(range.end.saturating_sub(1), 1),
                    TagEnd::Strong => return self.delimiters(range.end.saturating_sub(2), 2),
                    TagEnd::Strikethrough if !self.source[range.start..].starts_with("~~") => {
                        return self.token(Token::Char(Piece::literal('~')));
                    }
                    _ => {}
                }
                if self.skipped > 0 {
                    self.skipped -= 1;
                    return;
                }
                if matches!(end, TagEnd::FootnoteDefinition) && self.stack.len() >= 2 {
                    self.flush();
                    self.pending.pop();
                    let mut node = self.stack.pop().expect("checked above");
                    if let Some(label) = node.attrs.remove("footnote") {
                        self.footnotes.entry(label).or_insert(node);
                    }
                    return;
                }
                if is_block_end(&end) {
                    self.open_html.clear();
                }
                if matches!(end, TagEnd::Heading(_)) {
                    self.flush();
                    // kramdown strips the header text's trailing whitespace (a tab pulldown-cmark keeps).
                    if let Some(Node { kind: Kind::Text(text), .. }) = self.top().children.last_mut() {
                        let kept = text.trim_end_matches([' ', '\t']).len();
                        text.truncate(kept);
                    }
                }
                self.close();
            }
            Event::Text(text) => self.text(&text, range),
            Event::Code(code) => {
                let code = self.without_code_backslashes(code, &range);
                let code = kramdown_code_spaces(&code, self.source.get(range).unwrap_or(""));
                self.token(Token::Atom(Box::new(Node::new(Kind::Code(code), (0, 0)))))
            }
            Event::Html(html) => {
                let lines = index.lines(&range);
                // pulldown-cmark may run raw HTML lines and several placeholders into one block
                // (CommonMark's HTML block of kind 7 goes on to a blank line): each placeholder
                // becomes a node of its own, and raw lines around it blocks of their own.
                let top_is_stored = matches!(self.stack.last(), Some(Node { kind: Kind::Stored(_), .. }));
                if let Some(i) = blocks::placeholder_index(&html) {
                    match self.stack.last() {
                        Some(Node { kind: Kind::HtmlBlock(block), .. }) if block.is_empty() => {
                            self.top().kind = Kind::Stored(i);
                        }
                        Some(Node { kind: Kind::HtmlBlock(_), .. }) => {
                            self.close();
                            self.top().children.push(Node::new(Kind::Stored(i), lines));
                            self.open(Kind::HtmlBlock(String::new()), lines);
                        }
                        _ if top_is_stored => {
                            self.close();
                            self.open(Kind::Stored(i), lines);
                        }
                        _ => {
                            self.flush();
                            self.top().children.push(Node::new(Kind::Stored(i), lines));
                        }
                    }
                    return;
                }
                if top_is_stored {
                    self.close();
                    self.open(Kind::HtmlBlock(html.to_string()), lines);
                    return;
                }
                match self.stack.last_mut() {
                    Some(Node { kind: Kind::HtmlBlock(block), .. }) => block.push_str(&html),
                    _ => {
                        self.flush();
                        self.top().children.push(Node::new(Kind::HtmlBlock(html.to_string()), lines));
                    }
                }
            }
            Event::InlineHtml(html) => {
                // `<<word>>`: kramdown reads `<<` as a guillemet before any tag.
                let after_lt = matches!(self.pending.last().and_then(|p| p.last()), Some(Token::Char(p)) if p.c == '<' && p.offset() == range.start.checked_sub(1));
                // A tag CommonMark reads but kramdown does not (`<a onclick=alert(1)>`: its
                // attribute pattern refuses the parentheses) is text to kramdown, quotes educated.
                let refused = html.starts_with('<')
                    && html[1..].starts_with(|c: char| c.is_ascii_alphabetic())
                    && html_scan::start_tag(&html).is_none();
                if (after_lt && self.options.typographic_symbols) || refused {
                    let start = range.start;
                    for (i, c) in html.char_indices() {
                        self.token(Token::Char(Piece::at(c, start + i)));
                    }
                } else {
                    self.inline_html(&html, range.end);
                }
            }
            Event::FootnoteReference(label) => {
                self.token(Token::Atom(Box::new(Node::new(Kind::FootnoteRef(label.to_string()), (0, 0)))))
            }
            Event::SoftBreak => {
                let offset = self.source[range.clone()].find('\n').map(|i| range.start + i);
                self.token(Token::Char(offset.map_or(Piece::literal('\n'), |o| Piece::at('\n', o))));
            }
            Event::HardBreak => self.token(Token::Atom(Box::new(Node::new(Kind::HardBreak, (0, 0))))),
            Event::Rule => {
                self.flush();
                self.top().children.push(Node::new(Kind::Rule, index.lines(&range)));
            }
            Event::TaskListMarker(checked) => {
                self.token(Token::Atom(Box::new(Node::new(Kind::TaskMarker(checked), (0, 0)))))
            }
            Event::InlineMath(math) | Event::DisplayMath(math) => self.text(&math, range),
        }
    }

    fn text(&mut self, text: &str, range: Range<usize>) {
        if std::mem::take(&mut self.drop_mailto) {
            if let Some(address) = text.strip_prefix("mailto:") {
                return self.text(address, range.start + "mailto:".len()..range.end);
            }
        }
        let stored = self.stored;
        if let Some(Node { kind: Kind::CodeBlock { code, .. }, .. }) = self.stack.last_mut() {
            code.push_str(&restore_inline(text, stored));
            return;
        }
        if let Some(Node { kind: Kind::HtmlBlock(block), .. }) = self.stack.last_mut() {
            block.push_str(text);
            return;
        }
        let start = range.start;
        let source = self.source.get(start..range.end).unwrap_or("");
        let mut pieces = std::mem::take(&mut self.pieces);
        pieces.clear();
        align(text, source, start, &mut pieces);
        if start < self.literal_until {
            pieces.iter_mut().for_each(|piece| *piece = Piece::literal(piece.c));
        }
        // pulldown-cmark reports an escaped character (`\"`, `\*`) without its backslash: it is not markup and
        // not a quote to educate.
        let backslashes =
            self.source.as_bytes()[..start.min(self.source.len())].iter().rev().take_while(|&&b| b == b'\\').count();
        let ours = start.checked_sub(1).is_some_and(|at| self.unescaped_dashes.contains(&at));
        if backslashes % 2 == 1 && !ours && text.starts_with(|c: char| c.is_ascii_punctuation()) {
            if let Some(first) = pieces.first_mut() {
                *first = Piece::literal(first.c);
                if !kramdown_escapable(first.c) {
                    // kramdown escapes fewer characters than CommonMark: `\?` keeps its backslash.
                    pieces.insert(0, Piece::literal('\\'));
                    // And `\&amp;` is a backslash and an entity.
                    let entity = typography::entity_len(source).map_or("", |len| &source[..len]);
                    let decoded = htmlize::unescape(entity);
                    if text.starts_with('&') && text.starts_with(entity) && decoded != entity {
                        pieces.splice(1..(1 + entity.len()).min(pieces.len()), decoded.chars().map(Piece::literal));
                    }
                }
            }
        }
        // `<stdint.h>`, `<xs:element>`: a start tag for kramdown (an XML name), text for CommonMark. Its content
        // is raw to kramdown, up to the end of the block: the rest of this text is the element's.
        if let Some((at, tag)) = self.xml_name_tag(&pieces, start) {
            let split = pieces.iter().position(|p| p.offset() == Some(at)).unwrap_or(pieces.len());
            if let Some(pending) = self.pending.last_mut() {
                pending.extend(pieces[..split].iter().map(|p| Token::Char(*p)));
            }
            self.pieces = pieces;
            self.inline_html(&tag, at + tag.len());
            if let Some(raw) = self.raw_span.as_mut() {
                raw.last_end = raw.last_end.max(range.end);
            }
            return;
        }
        if let Some(pending) = self.pending.last_mut() {
            pending.extend(pieces.iter().map(|p| Token::Char(*p)));
        }
        self.pieces = pieces;
    }

    /// The first start tag in a text run whose name CommonMark refuses but kramdown reads (an XML name with
    /// `.` or `:`), with where it starts: only where the characters of the run stand as written, and on one
    /// line.
    fn xml_name_tag(&self, pieces: &[Piece], start: usize) -> Option<(usize, String)> {
        for (k, piece) in pieces.iter().enumerate() {
            let Some(at) = piece.offset().filter(|&at| piece.c == '<' && at >= start) else { continue };
            let Some(tag) = html_scan::start_tag(self.source.get(at..)?) else { continue };
            let text = &self.source[at..at + tag.len];
            if !tag.name.contains(['.', ':']) || !text.is_ascii() {
                continue;
            }
            // pulldown-cmark may end the text run at the `<`: the rest of the tag is in the next one.
            let run = pieces.len() - k;
            let written = (0..tag.len.min(run)).all(|i| pieces.get(k + i).is_some_and(|p| p.offset() == Some(at + i)));
            if written && !text.contains('\n') {
                return Some((at, text.to_string()));
            }
        }
        None
    }

    /// Span-level HTML as kramdown reads it: block-level start tags and end tags that close nothing open
    /// are shown as text.
    fn inline_html(&mut self, html: &str, at: usize) {
        if let Some(Stored::Inline { html: stored, .. }) =
            blocks::inline_placeholder_index(html).and_then(|i| self.stored.get(i))
        {
            let stored = stored.clone();
            self.token(Token::Atom(Box::new(Node::new(Kind::InlineHtml(stored), (0, 0)))));
            return;
        }
        if let Some((name, _)) = html_scan::end_tag(html) {
            if self.open_html.last().is_some_and(|open| open.eq_ignore_ascii_case(name)) {
                self.open_html.pop();
                self.token(Token::Atom(Box::new(Node::new(Kind::InlineHtml(html.to_string()), (0, 0)))));
            } else {
                self.push_text_literal(html);
            }
            return;
        }
        if let Some(tag) = html_scan::start_tag(html) {
            if html_scan::is_block_element(&tag.name) {
                self.push_text_literal(html);
                return;
            }
            if !tag.self_closed && !html_scan::is_void_element(&tag.name) {
                self.open_html.push(tag.name.clone());
                let markdown = tag.attrs.iter().find(|(name, _)| name == "markdown").map(|(_, v)| v.as_str());
                let model = html_scan::content_model(&tag.name);
                let parsed = match markdown {
                    Some("span") => true,
                    Some("1") => model != html_scan::ContentModel::Raw,
                    Some("0") => false,
                    _ => self.options.parse_span_html && model != html_scan::ContentModel::Raw,
                };
                if !parsed {
                    self.raw_span = Some(RawSpan { name: tag.name, from: at, last_end: at, depth: 0, open: 0 });
                }
            }
        }
        self.token(Token::Atom(Box::new(Node::new(Kind::InlineHtml(html.to_string()), (0, 0)))));
    }

    /// An event inside a raw span element: true when it is taken into the element. The element ends at its
    /// end tag, and where its block or an enclosing link ends (kramdown closes it there).
    fn in_raw_span(&mut self, event: &Event<'_>, range: &Range<usize>) -> bool {
        let Some(raw) = self.raw_span.as_mut() else { return false };
        let tilde2 = |range: &Range<usize>| self.source[range.start..].starts_with("~~");
        let mut end = None;
        let mut closed = false;
        match event {
            Event::InlineHtml(html) => {
                if html_scan::end_tag(html).is_some_and(|(name, _)| name.eq_ignore_ascii_case(&raw.name)) {
                    if raw.depth == 0 {
                        end = Some(range.start);
                        closed = true;
                    } else {
                        raw.depth -= 1;
                    }
                } else if html_scan::start_tag(html)
                    .is_some_and(|tag| !tag.self_closed && tag.name.eq_ignore_ascii_case(&raw.name))
                {
                    raw.depth += 1;
                }
            }
            Event::Start(tag) if is_block_tag(tag) => end = Some(raw.last_end),
            Event::End(tag) if is_block_end(tag) => end = Some(raw.last_end),
            Event::Start(Tag::Link { .. } | Tag::Image { .. }) => raw.open += 1,
            Event::Start(Tag::Strikethrough) if tilde2(range) => raw.open += 1,
            Event::End(TagEnd::Link | TagEnd::Image) | Event::End(TagEnd::Strikethrough)
                if !matches!(event, Event::End(TagEnd::Strikethrough)) || tilde2(range) =>
            {
                if raw.open == 0 {
                    end = Some(raw.last_end);
                } else {
                    raw.open -= 1;
                }
            }
            _ => {}
        }
        let Some(end) = end else {
            // How far the element's content has come: a start event's range is the whole span, of which
            // only the opening delimiter has been seen.
            let seen = match event {
                Event::Start(Tag::Emphasis) => range.start + 1,
                Event::Start(Tag::Strong) => range.start + 2,
                Event::Start(Tag::Strikethrough) => range.start + if tilde2(range) { 2 } else { 1 },
                Event::Start(_) => range.start + 1,
                _ => range.end,
            };
            raw.last_end = raw.last_end.max(seen.min(self.source.len()));
            return true;
        };
        let raw = self.raw_span.take().expect("checked above");
        self.orphan_ends += raw.open;
        self.raw_text(raw.from, end.max(raw.from));
        if !closed {
            // kramdown closes the element where its block ends.
            if let Some(at) = self.open_html.iter().rposition(|open| open.eq_ignore_ascii_case(&raw.name)) {
                self.open_html.truncate(at);
            }
            self.token(Token::Atom(Box::new(Node::new(Kind::InlineHtml(format!("</{}>", raw.name)), (0, 0)))));
        }
        false
    }

    /// The source from `from` to `to` as kramdown shows the content of a raw element: tags and comments as
    /// HTML, the rest as text (entities decoded, to be written escaped), continuation lines without their
    /// indentation and quote markers.
    fn raw_text(&mut self, from: usize, to: usize) {
        let in_quote = self.stack.iter().any(|node| node.kind == Kind::BlockQuote);
        let mut text = String::with_capacity(to - from);
        for (i, line) in self.source[from..to].split('\n').enumerate() {
            let line_start = from + (line.as_ptr() as usize - self.source[from..].as_ptr() as usize);
            let mut kept = line;
            if i > 0 {
                text.push('\n');
                kept = kept.trim_start();
                while in_quote && kept.starts_with('>') {
                    kept = kept[1..].trim_start();
                }
            }
            let kept_start = line_start + (line.len() - kept.len());
            for (j, c) in kept.char_indices() {
                // A backslash the block pass put before a `-` is not in the post.
                if c == '\\' && self.unescaped_dashes.contains(&(kept_start + j)) {
                    continue;
                }
                text.push(c);
            }
        }
        let text = restore_inline(&text, self.stored).into_owned();
        let mut rest = text.as_str();
        let mut plain = String::new();
        // Elements opened inside and not closed there: kramdown closes them with the element.
        let mut nested: Vec<String> = Vec::new();
        while !rest.is_empty() {
            let markup = if rest.starts_with("<!--") {
                rest.find("-->").map(|e| e + 3)
            } else if rest.starts_with('<') {
                if let Some(tag) = html_scan::start_tag(rest) {
                    if !tag.self_closed && !html_scan::is_void_element(&tag.name) {
                        nested.push(tag.name);
                    }
                    Some(tag.len)
                } else if let Some((name, len)) = html_scan::end_tag(rest) {
                    // An end tag that closes nothing opened inside is text, as kramdown shows it.
                    let at = nested.iter().rposition(|open| open.eq_ignore_ascii_case(name));
                    at.map(|at| {
                        nested.truncate(at);
                        len
                    })
                } else {
                    None
                }
            } else {
                None
            };
            match markup {
                Some(len) => {
                    self.raw_plain(&plain);
                    plain.clear();
                    self.token(Token::Atom(Box::new(Node::new(Kind::InlineHtml(rest[..len].to_string()), (0, 0)))));
                    rest = &rest[len..];
                }
                None => {
                    let c = rest.chars().next().expect("not empty");
                    plain.push(c);
                    rest = &rest[c.len_utf8()..];
                }
            }
        }
        self.raw_plain(&plain);
        for name in nested.iter().rev() {
            self.token(Token::Atom(Box::new(Node::new(Kind::InlineHtml(format!("</{name}>")), (0, 0)))));
        }
    }

    fn raw_plain(&mut self, text: &str) {
        if !text.is_empty() {
            let decoded = htmlize::unescape(text);
            self.push_text_literal(&decoded);
        }
    }

    fn push_text_literal(&mut self, text: &str) {
        for c in text.chars() {
            self.token(Token::Char(Piece::literal(c)));
        }
    }
}

fn is_block_tag(tag: &Tag<'_>) -> bool {
    !matches!(
        tag,
        Tag::Emphasis
            | Tag::Strong
            | Tag::Strikethrough
            | Tag::Link { .. }
            | Tag::Image { .. }
            | Tag::Superscript
            | Tag::Subscript
    )
}

fn is_block_end(end: &TagEnd) -> bool {
    !matches!(
        end,
        TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Link
            | TagEnd::Image
            | TagEnd::Superscript
            | TagEnd::Subscript
    )
}

/// A code span's text with the spaces kramdown keeps: CommonMark strips one space at each end when both
/// ends have one; kramdown strips none inside single backticks, and inside longer runs one space at each
/// end on its own. `source` is the span with its backticks.
impl Builder<'_> {
    /// The code span's text without the backslashes the block pass put at the start of its lines
    /// ([`Prepared::code_backslashes`]): each is found in the code after the space its line break
    /// became, and after the ones before it.
    fn without_code_backslashes<'c>(&self, code: CowStr<'c>, range: &std::ops::Range<usize>) -> CowStr<'c> {
        let added = &self.prepared_code_backslashes;
        if added.is_empty() || !added.iter().any(|at| range.contains(at)) {
            return code;
        }
        let mut offsets: Vec<usize> = added.iter().copied().filter(|at| range.contains(at)).collect();
        offsets.sort_unstable();
        let mut text = code.to_string();
        let mut from = 0;
        for at in offsets {
            // The line break before it is a space in the code.
            let Some(next) = self.source.get(at + 1..).and_then(|rest| rest.chars().next()) else { continue };
            let needle = format!(" \\{next}");
            if let Some(found) = text.get(from..).and_then(|t| t.find(&needle)) {
                text.remove(from + found + 1);
                from += found + 1;
            }
        }
        CowStr::from(text)
    }
}

fn kramdown_code_spaces(code: &str, source: &str) -> String {
    let run = source.len() - source.trim_start_matches('`').len();
    let Some(inner) = source.get(run..source.len().saturating_sub(run)).filter(|_| source.len() >= 2 * run) else {
        return code.to_string();
    };
    let space = |c: Option<char>| matches!(c, Some(' ' | '\n'));
    let both = inner.len() >= 2 && space(inner.chars().next()) && space(inner.chars().next_back());
    let stripped = both && !inner.chars().all(|c| c == ' ' || c == '\n');
    if run == 1 && stripped {
        return format!(" {code} ");
    }
    if run > 1 && !stripped {
        return code.strip_prefix(' ').or_else(|| code.strip_suffix(' ')).unwrap_or(code).to_string();
    }
    code.to_string()
}

/// Code keeps `$$…$$` and span extensions as written: the inline placeholders the block pass put there
/// are undone.
fn restore_inline<'t>(text: &'t str, stored: &[Stored]) -> std::borrow::Cow<'t, str> {
    if !text.contains("<kramdown-inline-") {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("<kramdown-inline-") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('>').map_or(rest.len(), |e| at + e + 1);
        match blocks::inline_placeholder_index(&rest[at..end]).and_then(|i| stored.get(i)) {
            Some(Stored::Inline { source, .. }) => out.push_str(source),
            _ => out.push_str(&rest[at..end]),
        }
        rest = &rest[end..];
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// The characters a backslash escapes in kramdown's GFM parser (`ESCAPED_CHARS_GFM`).
fn kramdown_escapable(c: char) -> bool {
    matches!(
        c,
        '\\' | '.'
            | '*'
            | '_'
            | '+'
            | '`'
            | '<'
            | '>'
            | '('
            | ')'
            | '['
            | ']'
            | '{'
            | '}'
            | '#'
            | '!'
            | ':'
            | '|'
            | '"'
            | '\''
            | '$'
            | '='
            | '-'
            | '~'
    )
}

/// Pairs each character of `text` with its offset in the source when it stands there literally;
/// characters that came from escapes or entities get none.
fn align(text: &str, source: &str, base: usize, into: &mut Vec<Piece>) {
    if text == source {
        into.extend(text.char_indices().map(|(i, c)| Piece::at(c, base + i)));
        return;
    }
    let mut s = 0;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let rest = &source[s.min(source.len())..];
        if rest.starts_with(c) {
            into.push(Piece::at(c, base + s));
            s += c.len_utf8();
        } else if rest.starts_with('\\') && rest[1..].starts_with(c) {
            if !kramdown_escapable(c) {
                into.push(Piece::literal('\\'));
            }
            into.push(Piece::literal(c));
            s += 1 + c.len_utf8();
        } else if rest.starts_with('&') {
            into.push(Piece::literal(c));
            let end = rest.find(';').map_or(rest.len(), |i| i + 1);
            s += end;
            // An entity that stands for two characters.
            if let Some(&next) = chars.peek() {
                if !source[s.min(source.len())..].starts_with(next)
                    && !source[s.min(source.len())..].starts_with(['\\', '&'])
                {
                    chars.next();
                    into.push(Piece::literal(next));
                }
            }
        } else {
            into.push(Piece::literal(c));
            s += rest.chars().next().map_or(0, char::len_utf8);
        }
    }
}
