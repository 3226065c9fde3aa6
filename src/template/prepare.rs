//! Reads a template the way Ruby Liquid and Jekyll read it, then writes a version that liquid-rust can
//! parse: Jekyll's tags (whose markup liquid-rust's grammar cannot read) become placeholders whose
//! parsed form waits in a side table, `raw` and `comment` are resolved here, unknown tags and filters
//! are left out and reported, and blocks are balanced. A token that still fails to parse, or to
//! render, can be dropped and the rest written again (with step markers that tell which one failed).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;

use liquid_core::parser::Language;

use super::condition::{self, Condition};
use super::lexer::{self, Kind, Token};
use super::{Limits, ProblemKind};

/// The include tags, which share Jekyll's syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum IncludeKind {
    Include,
    Relative,
    Cached,
}

impl IncludeKind {
    pub(crate) fn tag(self) -> &'static str {
        match self {
            IncludeKind::Include => "include",
            IncludeKind::Relative => "include_relative",
            IncludeKind::Cached => "include_cached",
        }
    }
}

/// An include parameter's value as written: `key="text"`, `key='text'` or `key=variable`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParamValue {
    Text(String),
    Variable(String),
}

/// What a placeholder stands for; parsed here, picked up by the placeholder's tag plugin.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Special {
    Include {
        kind: IncludeKind,
        /// The file name, with `{{ }}` left in it when it names variables.
        file: String,
        params: Option<Vec<(String, ParamValue)>>,
        line: u32,
    },
    Link {
        path: String,
        line: u32,
    },
    PostUrl {
        name: String,
        line: u32,
    },
    Highlight {
        lang: String,
        linenos: bool,
    },
    /// `{% for var in collection … %}`, read as Ruby Liquid reads it.
    For {
        var: String,
        /// A value, or `(start..stop)`.
        collection: String,
        reversed: bool,
        limit: Option<String>,
        offset: Option<String>,
        line: u32,
    },
    /// Text output as it is: the body of `{% raw %}`.
    Literal(Arc<str>),
    /// The condition of an `if`, `unless` or `elsif`, and its markup as written (for messages).
    Condition {
        condition: Arc<Condition>,
        markup: String,
    },
    /// The value a `case` compares each `when` with.
    Case(condition::Operand),
    /// The comparisons of a `when`, one per value it lists, and its markup as written.
    When {
        conditions: Arc<[Condition]>,
        markup: String,
    },
    /// A counted range `(start..stop)` of a `tablerow`, evaluated with a size limit into `var`.
    Range {
        start: String,
        stop: String,
        var: String,
        line: u32,
    },
}

/// What one item writes.
#[derive(Debug, Clone)]
enum Emit {
    /// A slice of the source.
    Text(usize, usize),
    /// A tag or output for liquid-rust, normalized (no whitespace-control dashes).
    Liquid(String),
    /// A placeholder tag `{% name N %}` for `specials[N]`.
    Special(&'static str, usize),
    /// `{% endname %}` of a placeholder block.
    EndSpecial(&'static str),
    Nothing,
}

#[derive(Debug, Clone)]
struct Item {
    line: u32,
    emit: Emit,
    /// Items that go when this one goes: a block's branches and its end tag.
    linked: Vec<usize>,
    /// A step marker goes before this item when markers are asked for (it can fail at render time).
    step_before: bool,
    /// A step marker goes right after this item (the first thing in each loop iteration).
    step_after: bool,
    /// A range placeholder goes before this item.
    range_before: Option<usize>,
    /// For `if` and `unless`: the item of its end tag. Dropping the block drops everything up to
    /// it, text included: its condition could not be evaluated, and showing a body the condition
    /// may hide would show what Jekyll does not.
    body_end: Option<usize>,
}

/// A problem found while reading the template, with its line in the file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Found {
    pub line: u32,
    pub kind: ProblemKind,
    pub message: String,
}

/// A template read once; `write` turns it into liquid-rust's input, leaving out dropped items.
#[derive(Debug)]
pub(crate) struct Prepared {
    source: Arc<str>,
    items: Vec<Item>,
    pub specials: Arc<Vec<Special>>,
    pub problems: Vec<Found>,
}

/// liquid-rust's input, with where each item starts in it.
pub(crate) struct Written {
    pub text: String,
    /// (offset in `text`, item index), ascending.
    pub starts: Vec<(usize, usize)>,
}

/// One piece of liquid-rust's input (see [`Prepared::for_each_piece`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Piece<'p> {
    /// The range placeholder for `specials[N]`, before a `tablerow`.
    Range(usize),
    /// A step marker for item N, before it.
    Step(usize),
    /// A step marker for item N, right after it (the first thing in each loop iteration).
    StepAfter(usize),
    /// A slice of the source, by byte range.
    Text(usize, usize),
    /// A standard tag or an output, as liquid-rust reads it.
    Liquid(&'p str),
    /// A placeholder tag for `specials[N]`.
    Special(&'static str, usize),
    /// The end tag of a placeholder block.
    EndSpecial(&'static str),
    /// An item that writes nothing.
    Empty,
}

/// Tags liquid-rust renders as Ruby Liquid 4 does.
const STANDARD_BLOCKS: &[&str] = &["if", "unless", "case", "for", "tablerow", "capture", "ifchanged"];
pub(crate) const STANDARD_TAGS: &[&str] = &["assign", "cycle", "increment", "decrement", "break", "continue"];

/// Name of a placeholder block for a tag postfeed does not know; it renders its body.
pub(crate) const PASS_THROUGH: &str = "pf_block";
pub(crate) const STEP: &str = "pf_step";
pub(crate) const LITERAL: &str = "pf_literal";
/// A slice of the template's text, by byte range: pest reads text one character at a time, so
/// text is kept out of its input.
pub(crate) const TEXT: &str = "pf_text";
pub(crate) const RANGE: &str = "pf_range";
/// The filter that ends every output: values shown as Ruby shows them (`3.0`, not `3`).
pub(crate) const SHOW: &str = "pf_show";

struct Open {
    name: String,
    item: usize,
    /// For `case`: whether a `when` was seen (nothing before the first one is rendered).
    seen_when: bool,
    /// For `if` and `unless`: a condition could not be read, so the block goes with its content.
    hidden: bool,
}

impl Prepared {
    /// Reads `source`; `first_line` is the file line of its first line (after front matter).
    pub(crate) fn new(source: Arc<str>, first_line: u32, language: &Language, limits: &Limits) -> Prepared {
        let tokens = lexer::tokenize(&source);
        let mut reader = Reader {
            source: &source,
            tokens: &tokens,
            language,
            limits,
            first_line,
            items: Vec::with_capacity(tokens.len()),
            specials: Vec::new(),
            problems: Vec::new(),
            stack: Vec::new(),
            trim_next: false,
            end_tags: end_tag_positions(&source, &tokens),
        };
        reader.read();
        let Reader { items, specials, problems, .. } = reader;
        Prepared { source, items, specials: Arc::new(specials), problems }
    }

    pub(crate) fn line_of(&self, item: usize) -> u32 {
        self.items.get(item).map_or(0, |i| i.line)
    }

    /// The items that go with `item` (itself, its branches and end tag).
    pub(crate) fn dropping(&self, item: usize, dropped: &mut HashSet<usize>) {
        if dropped.insert(item) {
            if let Some(it) = self.items.get(item) {
                for &other in &it.linked {
                    self.dropping(other, dropped);
                }
                if let Some(end) = it.body_end {
                    for inner in item + 1..end {
                        if !matches!(self.items[inner].emit, Emit::Text(..)) {
                            self.dropping(inner, dropped);
                        }
                    }
                }
            }
        }
    }

    /// Whether dropping `item` drops the content of its block too.
    pub(crate) fn drops_content(&self, item: usize) -> bool {
        self.items.get(item).is_some_and(|i| i.body_end.is_some())
    }

    /// liquid-rust's input without the `dropped` items. With `text_only`, every Liquid item goes.
    /// With `markers`, a step marker goes before each tag and output, to tell which one fails.
    pub(crate) fn write(&self, dropped: &HashSet<usize>, text_only: bool, markers: bool) -> Written {
        let mut text = String::with_capacity(self.source.len() + self.items.len() * 8);
        let mut starts = Vec::with_capacity(self.items.len());
        self.for_each_piece(dropped, text_only, markers, |index, piece| {
            if !matches!(piece, Piece::StepAfter(_)) {
                starts.push((text.len(), index));
            }
            match piece {
                Piece::Range(range) => {
                    let _ = write!(text, "{{% {RANGE} {range} %}}");
                }
                Piece::Step(item) | Piece::StepAfter(item) => {
                    let _ = write!(text, "{{% {STEP} {item} %}}");
                }
                Piece::Text(start, end) => {
                    let _ = write!(text, "{{% {TEXT} {start} {end} %}}");
                }
                Piece::Liquid(liquid) => text.push_str(liquid),
                Piece::Special(name, n) => {
                    let _ = write!(text, "{{% {name} {n} %}}");
                }
                Piece::EndSpecial(name) => {
                    let _ = write!(text, "{{% end{name} %}}");
                }
                Piece::Empty => {}
            }
        });
        Written { text, starts }
    }

    /// Calls `f` with each piece of liquid-rust's input, in order, with the item it comes from:
    /// what [`Prepared::write`] writes, and what the template assembler builds from.
    pub(crate) fn for_each_piece<'p>(
        &'p self,
        dropped: &HashSet<usize>,
        text_only: bool,
        markers: bool,
        mut f: impl FnMut(usize, Piece<'p>),
    ) {
        // The blocks dropped with their content.
        let mut hidden: Vec<(usize, usize)> =
            dropped.iter().filter_map(|&i| Some((i, self.items.get(i)?.body_end?))).collect();
        hidden.sort_unstable();
        for (index, item) in self.items.iter().enumerate() {
            let is_text = matches!(item.emit, Emit::Text(..));
            if (dropped.contains(&index) || text_only) && !is_text {
                continue;
            }
            if is_text && !text_only && hidden.iter().any(|&(start, end)| start < index && index < end) {
                continue;
            }
            if let Some(range) = item.range_before {
                f(index, Piece::Range(range));
            }
            if item.step_before && markers {
                f(index, Piece::Step(index));
            }
            f(
                index,
                match &item.emit {
                    Emit::Text(start, end) if start < end => Piece::Text(*start, *end),
                    Emit::Liquid(liquid) => Piece::Liquid(liquid),
                    Emit::Special(name, n) => Piece::Special(name, *n),
                    Emit::EndSpecial(name) => Piece::EndSpecial(name),
                    Emit::Text(..) | Emit::Nothing => Piece::Empty,
                },
            );
            if item.step_after {
                f(index, Piece::StepAfter(index));
            }
        }
    }

    /// The template's text without any of its Liquid: what is kept when the Liquid cannot be used.
    pub(crate) fn text_only(&self) -> String {
        let mut out = String::new();
        for item in &self.items {
            if let Emit::Text(start, end) = item.emit {
                out.push_str(&self.source[start..end]);
            }
        }
        out
    }

    pub(crate) fn source(&self) -> &Arc<str> {
        &self.source
    }

    /// The Liquid markup an item writes, if it is a tag or output.
    /// Whether `item` is an output (`{{ … }}`) rather than a tag.
    pub(crate) fn is_output(&self, item: usize) -> bool {
        matches!(&self.items.get(item).map(|i| &i.emit), Some(Emit::Liquid(l)) if l.ends_with(&format!(" | {SHOW} }}}}")))
    }

    /// The Liquid of `item` as messages show it: an output without the filter postfeed adds.
    pub(crate) fn markup_of(&self, item: usize) -> Option<std::borrow::Cow<'_, str>> {
        match &self.items.get(item)?.emit {
            Emit::Liquid(liquid) => {
                let output = liquid.strip_prefix("{{ ").and_then(|l| l.strip_suffix(&format!(" | {SHOW} }}}}")));
                Some(match output {
                    Some(inner) => {
                        format!("{{{{ {} }}}}", lexer::restore_names(inner.trim_matches(lexer::is_ruby_space))).into()
                    }
                    None => lexer::restore_names(liquid),
                })
            }
            Emit::Special(tag, n) => match self.specials.get(*n)? {
                Special::Condition { markup, .. } | Special::When { markup, .. } => {
                    Some(format!("{{% {tag} {markup} %}}").into())
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether `item` is a tag or output handed to liquid-rust as written (not text or a placeholder).
    pub(crate) fn is_liquid(&self, item: usize) -> bool {
        matches!(self.items.get(item).map(|i| &i.emit), Some(Emit::Liquid(_)))
    }

    /// Item indexes of every Liquid item, in order: candidates when an error names no position.
    pub(crate) fn liquid_items(&self) -> impl Iterator<Item = usize> + '_ {
        self.items.iter().enumerate().filter(|(_, i)| matches!(i.emit, Emit::Liquid(_))).map(|(n, _)| n)
    }

    /// A small template with just `item` (closed if it opens a block), to test alone.
    pub(crate) fn alone(&self, item: usize) -> Option<String> {
        let Emit::Liquid(liquid) = &self.items.get(item)?.emit else { return None };
        let parts = lexer::tag_parts(liquid);
        Some(match parts.map(|p| p.name) {
            Some(name) if STANDARD_BLOCKS.contains(&name) => format!("{liquid}{{% end{name} %}}"),
            // Written by postfeed (`{% else %}`), or an `elsif` placeholder: nothing to test.
            Some("else" | "elsif") => return None,
            Some("when") => format!("{{% case 1 %}}{liquid}{{% endcase %}}"),
            Some(name) if name.starts_with("end") => String::new(),
            _ => liquid.clone(),
        })
    }
}

/// Where each `{% endname %}` tag is, by name.
fn end_tag_positions<'s>(source: &'s str, tokens: &[Token]) -> HashMap<&'s str, Vec<usize>> {
    let mut ends: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, t) in tokens.iter().enumerate() {
        if t.kind == Kind::Tag {
            if let Some(parts) = lexer::tag_parts(&source[t.start..t.end]) {
                if let Some(name) = parts.name.strip_prefix("end") {
                    ends.entry(name).or_default().push(i);
                }
            }
        }
    }
    ends
}

struct Reader<'a> {
    source: &'a str,
    tokens: &'a [Token],
    language: &'a Language,
    limits: &'a Limits,
    first_line: u32,
    items: Vec<Item>,
    specials: Vec<Special>,
    problems: Vec<Found>,
    stack: Vec<Open>,
    /// The previous tag ended with `-%}`: strip the whitespace that starts the next text.
    trim_next: bool,
    end_tags: HashMap<&'a str, Vec<usize>>,
}

impl Reader<'_> {
    fn read(&mut self) {
        let mut i = 0;
        while i < self.tokens.len() {
            i = self.token(i);
        }
        while let Some(open) = self.stack.pop() {
            let line = self.items[open.item].line;
            self.problem(line, ProblemKind::Syntax, format!("`{}` is never closed; its tag is left out", open.name));
            self.drop_item(open.item);
        }
    }

    fn line(&self, token: &Token) -> u32 {
        token.line + self.first_line - 1
    }

    fn problem(&mut self, line: u32, kind: ProblemKind, message: String) {
        self.problems.push(Found { line, kind, message });
    }

    fn push(&mut self, line: u32, emit: Emit) -> usize {
        self.items.push(Item {
            line,
            emit,
            linked: Vec::new(),
            step_before: false,
            step_after: false,
            range_before: None,
            body_end: None,
        });
        self.items.len() - 1
    }

    fn drop_item(&mut self, item: usize) {
        let mut all = HashSet::new();
        let mut todo = vec![item];
        while let Some(i) = todo.pop() {
            if all.insert(i) {
                todo.extend(self.items[i].linked.iter().copied());
            }
        }
        for i in all {
            let it = &mut self.items[i];
            it.emit = Emit::Nothing;
            it.step_before = false;
            it.step_after = false;
            it.range_before = None;
        }
    }

    /// Strips the whitespace at the end of the last text item (`{%-`).
    fn trim_previous_text(&mut self) {
        if let Some(Item { emit: Emit::Text(start, end), .. }) = self.items.last_mut() {
            let trimmed = self.source[*start..*end].trim_end_matches(lexer::is_ruby_space);
            *end = *start + trimmed.len();
        }
    }

    /// Reads the token at `i`; returns the index of the next unread token.
    fn token(&mut self, i: usize) -> usize {
        let token = self.tokens[i];
        let text = &self.source[token.start..token.end];
        let line = self.line(&token);
        match token.kind {
            Kind::Text => {
                let mut start = token.start;
                if std::mem::take(&mut self.trim_next) {
                    start = token.end - text.trim_start_matches(lexer::is_ruby_space).len();
                }
                self.push(line, Emit::Text(start, token.end));
            }
            Kind::Unterminated => {
                self.trim_next = false;
                let what = if text.starts_with("{%") { "tag" } else { "output" };
                self.problem(
                    line,
                    ProblemKind::Syntax,
                    format!("{what} `{}` is not closed; it is left out", excerpt(text)),
                );
            }
            Kind::Output => {
                let (markup, trim_before, trim_after) = lexer::output_parts(text);
                if trim_before {
                    self.trim_previous_text();
                }
                self.trim_next = trim_after;
                self.output(markup, line);
            }
            Kind::Tag => {
                let Some(parts) = lexer::tag_parts(text) else {
                    self.trim_next = false;
                    self.problem(
                        line,
                        ProblemKind::Syntax,
                        format!("`{}` is not a valid tag; it is left out", excerpt(text)),
                    );
                    return i + 1;
                };
                if parts.trim_before {
                    self.trim_previous_text();
                }
                self.trim_next = parts.trim_after;
                return self.tag(i, parts, line);
            }
        }
        i + 1
    }

    fn output(&mut self, markup: &str, line: u32) {
        if markup.trim_matches(lexer::is_ruby_space).is_empty() {
            return;
        }
        if let Some(why) = self.too_complex(markup) {
            self.problem(line, ProblemKind::Limit, format!("`{{{{{}}}}}` {why}; it is left out", excerpt(markup)));
            return;
        }
        let cleaned = self.known_filters(&lexer::normalize(markup), line);
        let item = self.push(line, Emit::Liquid(format!("{{{{ {cleaned} | {SHOW} }}}}")));
        self.items[item].step_before = true;
    }

    /// Guards liquid-rust's recursive parser against markup built to exhaust the stack.
    fn too_complex(&self, markup: &str) -> Option<&'static str> {
        if markup.len() > self.limits.max_markup_bytes {
            return Some("is too long");
        }
        let mut depth = 0usize;
        for b in markup.bytes() {
            match b {
                b'[' | b'(' => {
                    depth += 1;
                    if depth > 16 {
                        return Some("nests brackets too deeply");
                    }
                }
                b']' | b')' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        None
    }

    /// The markup with unknown filters left out, as Ruby Liquid ignores them when filters are not strict.
    fn known_filters(&mut self, markup: &str, line: u32) -> String {
        let segments = lexer::split_outside_quotes(markup, '|');
        let mut kept = String::with_capacity(markup.len());
        kept.push_str(segments[0].trim_matches(lexer::is_ruby_space));
        for segment in &segments[1..] {
            let Some(name) = lexer::leading_word(segment) else { continue };
            if self.language.filters.get(name).is_some() {
                kept.push_str(" | ");
                kept.push_str(segment.trim_matches(lexer::is_ruby_space));
            } else {
                self.problem(line, ProblemKind::UnknownFilter, format!("unknown filter `{name}` is ignored"));
            }
        }
        kept
    }

    fn tag(&mut self, i: usize, parts: lexer::TagParts<'_>, line: u32) -> usize {
        let name = parts.name;
        let markup = parts.markup.trim_end_matches(lexer::is_ruby_space);
        if let Some(why) = self.too_complex(markup) {
            let what = if matches!(name, "if" | "unless") {
                "the block is left out, with its content"
            } else {
                "it is left out"
            };
            self.problem(line, ProblemKind::Limit, format!("`{{% {name} %}}` {why}; {what}"));
            // Still open the block so that its end tag pairs up; a condition not read hides its content.
            if STANDARD_BLOCKS.contains(&name) || name == "highlight" {
                let item = self.push(line, Emit::Nothing);
                self.open(name, item, line);
                if matches!(name, "if" | "unless") {
                    self.hide_open_block(item);
                }
            }
            return i + 1;
        }
        match name {
            "raw" => return self.raw(i, line),
            "comment" => return self.comment(i, line),
            "include" => self.include(IncludeKind::Include, markup, line),
            "include_relative" => self.include(IncludeKind::Relative, markup, line),
            "include_cached" => self.include(IncludeKind::Cached, markup, line),
            "link" => {
                let path = lexer::normalize_outputs(markup.trim_start_matches(lexer::is_ruby_space)).into_owned();
                let special = Special::Link { path, line };
                self.special("link", special, line);
            }
            "post_url" => {
                let special =
                    Special::PostUrl { name: markup.trim_start_matches(lexer::is_ruby_space).to_owned(), line };
                self.special("post_url", special, line);
            }
            "highlight" => self.highlight(markup, line),
            "for" => match parse_for(&lexer::normalize(markup), line) {
                Some(special) => {
                    self.specials.push(special);
                    let item = self.push(line, Emit::Special("for", self.specials.len() - 1));
                    self.items[item].step_before = true;
                    self.open("for", item, line);
                }
                None => {
                    self.problem(
                        line,
                        ProblemKind::Syntax,
                        format!("`for {}` is not `for item in collection`; the loop is left out", excerpt(markup)),
                    );
                    let item = self.push(line, Emit::Nothing);
                    self.open("for", item, line);
                }
            },
            "if" | "unless" => self.conditional(name, markup, line),
            "case" => self.case(markup, line),
            "else" | "elsif" | "when" => self.branch(name, markup, line),
            _ if STANDARD_BLOCKS.contains(&name) => {
                let is_loop = name == "tablerow";
                let markup = match name {
                    "capture" => capture_target(markup).map_or(lexer::normalize(markup), Cow::Owned),
                    _ => lexer::normalize(markup),
                };
                let (markup, range) =
                    if is_loop { self.bounded_range(&markup, line) } else { (markup.into_owned(), None) };
                let item = self.push(line, Emit::Liquid(format!("{{% {name} {markup} %}}")));
                self.items[item].step_before = true;
                self.items[item].step_after = is_loop;
                self.items[item].range_before = range;
                self.open(name, item, line);
            }
            "assign" => {
                let markup = lexer::normalize(markup);
                let markup = match markup.split_once('=') {
                    Some((target, value)) => format!("{} = {}", target.trim(), self.known_filters(value, line)),
                    None => markup.into_owned(),
                };
                self.simple(format!("{{% assign {markup} %}}"), line);
            }
            _ if STANDARD_TAGS.contains(&name) => {
                self.simple(format!("{{% {name} {} %}}", lexer::normalize(markup)), line)
            }
            _ => match name.strip_prefix("end") {
                Some(opened) if !opened.is_empty() => self.close(opened, line),
                _ => self.unknown(i, name, line),
            },
        }
        i + 1
    }

    fn simple(&mut self, liquid: String, line: u32) {
        let item = self.push(line, Emit::Liquid(liquid));
        self.items[item].step_before = true;
    }

    fn special(&mut self, tag: &'static str, special: Special, line: u32) {
        self.specials.push(special);
        let item = self.push(line, Emit::Special(tag, self.specials.len() - 1));
        self.items[item].step_before = true;
    }

    fn open(&mut self, name: &str, item: usize, line: u32) {
        if self.stack.len() >= self.limits.max_nesting {
            self.problem(line, ProblemKind::Limit, format!("`{name}` is nested too deeply; its tags are left out"));
            self.drop_item(item);
            // Its end tag will find no opener and be reported as well.
            return;
        }
        self.stack.push(Open { name: name.to_owned(), item, seen_when: false, hidden: false });
    }

    fn close(&mut self, opened: &str, line: u32) {
        let Some(depth) = self.stack.iter().rposition(|o| o.name == opened) else {
            self.problem(line, ProblemKind::Syntax, format!("`end{opened}` closes nothing; it is left out"));
            return;
        };
        while self.stack.len() > depth + 1 {
            let open = self.stack.pop().expect("deeper than depth");
            let open_line = self.items[open.item].line;
            self.problem(
                open_line,
                ProblemKind::Syntax,
                format!("`{}` is never closed; its tag is left out", open.name),
            );
            self.drop_item(open.item);
        }
        let open = self.stack.pop().expect("found at depth");
        let emit = match &self.items[open.item].emit {
            Emit::Special(name, _) => Emit::EndSpecial(name),
            Emit::Nothing => Emit::Nothing,
            _ => Emit::Liquid(format!("{{% end{opened} %}}")),
        };
        let end = self.push(line, emit);
        self.items[open.item].linked.push(end);
        if open.hidden {
            for item in &mut self.items[open.item..=end] {
                item.emit = Emit::Nothing;
                item.step_before = false;
                item.step_after = false;
                item.range_before = None;
            }
        } else if matches!(opened, "if" | "unless") {
            self.items[open.item].body_end = Some(end);
        }
    }

    fn branch(&mut self, name: &str, markup: &str, line: u32) {
        let allowed: &[&str] = match name {
            "else" => &["if", "unless", "case", "for"],
            "elsif" => &["if", "unless"],
            _ => &["case"],
        };
        let Some(open) = self.stack.last_mut().filter(|o| allowed.contains(&o.name.as_str())) else {
            self.problem(
                line,
                ProblemKind::Syntax,
                format!("`{name}` is outside {}; it is left out", allowed.join("/")),
            );
            return;
        };
        if name == "when" {
            open.seen_when = true;
        }
        let opener = open.item;
        if matches!(self.items[opener].emit, Emit::Nothing) {
            return;
        }
        let emit = match name {
            // Ruby Liquid ignores what follows `else` (`{% else if x %}` is an `else`).
            "else" => Emit::Liquid("{% else %}".into()),
            "when" => match self.when(opener, markup, line) {
                Some(n) => Emit::Special("when", n),
                None => {
                    if let Some(open) = self.stack.last_mut() {
                        open.hidden = true;
                    }
                    return;
                }
            },
            "elsif" => match self.condition(name, markup, line) {
                Some(n) => Emit::Special("elsif", n),
                None => {
                    if let Some(open) = self.stack.last_mut() {
                        open.hidden = true;
                    }
                    return;
                }
            },
            _ => return,
        };
        let item = self.push(line, emit);
        self.items[opener].linked.push(item);
    }

    /// `{% case %}`: a block placeholder for the value its `when`s compare with.
    fn case(&mut self, markup: &str, line: u32) {
        match condition::case_operand(&lexer::normalize(markup)) {
            Ok(left) => {
                self.specials.push(Special::Case(left));
                let item = self.push(line, Emit::Special("case", self.specials.len() - 1));
                self.items[item].step_before = true;
                self.open("case", item, line);
            }
            Err(why) => {
                let shown = excerpt(&format!("case {markup}"));
                let message = format!("`{shown}`: {why}; the block is left out, with its content");
                self.problem(line, ProblemKind::Syntax, message);
                let item = self.push(line, Emit::Nothing);
                self.open("case", item, line);
                self.hide_open_block(item);
            }
        }
    }

    /// A `when` of the `case` at `opener`, read into the side table; `None` (reported) when Liquid
    /// cannot read it.
    fn when(&mut self, opener: usize, markup: &str, line: u32) -> Option<usize> {
        let Emit::Special("case", n) = self.items[opener].emit else { return None };
        let Special::Case(left) = &self.specials[n] else { return None };
        match condition::when_conditions(left, &lexer::normalize(markup)) {
            Ok(conditions) => {
                let special = Special::When { conditions: conditions.into(), markup: markup.to_owned() };
                self.specials.push(special);
                Some(self.specials.len() - 1)
            }
            Err(why) => {
                let shown = excerpt(&format!("when {markup}"));
                self.problem(line, ProblemKind::Syntax, format!("`{shown}`: {why}; the case is left out"));
                None
            }
        }
    }

    /// `{% if %}` and `{% unless %}`: a block placeholder for the condition, read here.
    fn conditional(&mut self, name: &str, markup: &str, line: u32) {
        let tag = if name == "if" { "if" } else { "unless" };
        let (item, hidden) = match self.condition(name, markup, line) {
            Some(n) => {
                let item = self.push(line, Emit::Special(tag, n));
                self.items[item].step_before = true;
                (item, false)
            }
            None => (self.push(line, Emit::Nothing), true),
        };
        self.open(name, item, line);
        if hidden {
            self.hide_open_block(item);
        }
    }

    /// Marks the block just opened at `item` to go with its content when it closes.
    fn hide_open_block(&mut self, item: usize) {
        if let Some(open) = self.stack.last_mut().filter(|o| o.item == item) {
            open.hidden = true;
        }
    }

    /// Reads a condition into the side table; `None` (reported) when Liquid cannot read it.
    fn condition(&mut self, tag: &str, markup: &str, line: u32) -> Option<usize> {
        match condition::parse(&lexer::normalize(markup), condition::Context::Tag) {
            Ok(condition) => {
                let markup = markup.to_owned();
                self.specials.push(Special::Condition { condition: Arc::new(condition), markup });
                Some(self.specials.len() - 1)
            }
            Err(why) => {
                let shown = excerpt(&format!("{tag} {markup}"));
                self.problem(
                    line,
                    ProblemKind::Syntax,
                    format!("`{shown}`: {why}; the block is left out, with its content"),
                );
                None
            }
        }
    }

    fn unknown(&mut self, i: usize, name: &str, line: u32) {
        let has_end = self.end_tags.get(name).is_some_and(|ends| ends.iter().any(|&e| e > i));
        if has_end {
            self.problem(
                line,
                ProblemKind::UnknownTag,
                format!("unknown block `{name}`: its tags are left out, its content kept"),
            );
            let item = self.push(line, Emit::Special(PASS_THROUGH, 0));
            self.open(name, item, line);
        } else {
            self.problem(line, ProblemKind::UnknownTag, format!("unknown tag `{name}` is left out"));
        }
    }

    /// `{% raw %}…{% endraw %}`: the body as it is, up to the first `endraw`.
    fn raw(&mut self, i: usize, line: u32) -> usize {
        let mut body = String::new();
        let mut j = i + 1;
        while j < self.tokens.len() {
            let t = self.tokens[j];
            let text = &self.source[t.start..t.end];
            if t.kind == Kind::Tag {
                // A tag runs to the first `%}`: a `{%` in the body can run up to the end of
                // `{% endraw %}`, and Ruby's `raw` still ends there, keeping the text before it.
                let last_tag = text.rfind("{%").unwrap_or(0);
                if let Some(parts) = lexer::tag_parts(&text[last_tag..]) {
                    if parts.name == "endraw" {
                        body.push_str(&text[..last_tag]);
                        self.trim_next = parts.trim_after;
                        if !body.is_empty() {
                            self.specials.push(Special::Literal(body.into()));
                            self.push(line, Emit::Special(LITERAL, self.specials.len() - 1));
                        }
                        return j + 1;
                    }
                }
            }
            body.push_str(text);
            j += 1;
        }
        self.problem(line, ProblemKind::Syntax, "`raw` is never closed; its tag is left out".into());
        i + 1
    }

    /// `{% comment %}…{% endcomment %}`, nested comments included: nothing.
    fn comment(&mut self, i: usize, line: u32) -> usize {
        let mut depth = 1;
        let mut j = i + 1;
        while j < self.tokens.len() {
            let t = self.tokens[j];
            if t.kind == Kind::Tag {
                if let Some(parts) = lexer::tag_parts(&self.source[t.start..t.end]) {
                    match parts.name {
                        "comment" => depth += 1,
                        "endcomment" => {
                            depth -= 1;
                            if depth == 0 {
                                self.trim_next = parts.trim_after;
                                return j + 1;
                            }
                        }
                        _ => {}
                    }
                }
            }
            j += 1;
        }
        self.problem(line, ProblemKind::Syntax, "`comment` is never closed; the rest of the text is left out".into());
        self.tokens.len()
    }

    fn highlight(&mut self, markup: &str, line: u32) {
        match parse_highlight(markup) {
            Some((lang, linenos)) => {
                self.specials.push(Special::Highlight { lang, linenos });
                let item = self.push(line, Emit::Special("highlight", self.specials.len() - 1));
                self.open("highlight", item, line);
            }
            None => {
                self.problem(
                    line,
                    ProblemKind::Syntax,
                    format!(
                        "`highlight {}` is not `highlight <lang> [linenos]`; the code is kept without it",
                        excerpt(markup)
                    ),
                );
                let item = self.push(line, Emit::Special(PASS_THROUGH, 0));
                self.open("highlight", item, line);
            }
        }
    }

    fn include(&mut self, kind: IncludeKind, markup: &str, line: u32) {
        match parse_include(markup) {
            Ok((file, params, bad_params)) => {
                // Variables are named in liquid-rust's input as the rest of the template names them.
                let file = lexer::normalize_outputs(&file).into_owned();
                let params = params.map(|params| {
                    params
                        .into_iter()
                        .map(|(key, value)| match value {
                            ParamValue::Variable(name) => {
                                (key, ParamValue::Variable(lexer::normalize(&name).into_owned()))
                            }
                            text => (key, text),
                        })
                        .collect()
                });
                if let Some(bad) = bad_params {
                    self.problem(
                        line,
                        ProblemKind::Syntax,
                        format!(
                            "`{}` parameters `{}` are not `key=\"value\"` or `key=variable`",
                            kind.tag(),
                            excerpt(&bad)
                        ),
                    );
                }
                self.special(kind.tag(), Special::Include { kind, file, params, line }, line);
            }
            Err(message) => {
                self.problem(line, ProblemKind::Include, format!("`{}`: {message}; it is left out", kind.tag()))
            }
        }
    }

    /// Replaces a counted range in a `tablerow` markup (`for` is postfeed's own) by a variable that a range placeholder
    /// fills with at most `limits.max_range` numbers (liquid-rust would build any range in memory).
    fn bounded_range(&mut self, markup: &str, line: u32) -> (String, Option<usize>) {
        let unchanged = || (markup.to_owned(), None);
        let Some(open) = markup.find('(') else { return unchanged() };
        let Some(close) = markup[open..].find(')').map(|c| open + c) else { return unchanged() };
        let Some((start, stop)) = markup[open + 1..close].split_once("..") else { return unchanged() };
        let var = format!("pf_range_{}", self.items.len());
        self.specials.push(Special::Range {
            start: start.trim().to_owned(),
            stop: stop.trim().to_owned(),
            var: var.clone(),
            line,
        });
        (format!("{}{var}{}", &markup[..open], &markup[close + 1..]), Some(self.specials.len() - 1))
    }
}

/// The variable `{% capture %}` writes to, read as Ruby's capture reads it: the first run of name
/// characters, brackets, dots and parentheses anywhere in the markup (`/dev/null` captures into
/// `dev`). A name liquid-rust cannot hold (`a.b`, `(x)`) is one that no output can read, as in Ruby,
/// where it is a key no lookup reaches. `None` when the markup holds no name character at all.
fn capture_target(markup: &str) -> Option<String> {
    let is_name_char = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'[' | b']');
    let bytes = markup.as_bytes();
    let first = bytes.iter().position(|&c| is_name_char(c))?;
    let start = if first > 0 && bytes[first - 1] == b'(' { first - 1 } else { first };
    let len = bytes[first..].iter().take_while(|&&c| is_name_char(c) || matches!(c, b'(' | b')')).count();
    let name = &markup[start..first + len];
    let plain = name.as_bytes()[0].is_ascii_alphabetic() || name.starts_with('_');
    if plain && name.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-')) {
        Some(lexer::renamed(name).into_owned())
    } else {
        // `pfk_` alone is never the renamed form of a name (see `lexer::renamed`).
        Some("pfk_".to_owned())
    }
}

/// Ruby Liquid's `for` markup: `var in collection [reversed] [limit: n] [offset: n]`.
fn parse_for(markup: &str, line: u32) -> Option<Special> {
    let markup = markup.trim();
    let (var, rest) = markup.split_once(char::is_whitespace)?;
    if var.is_empty() || !var.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        return None;
    }
    let rest = rest.trim_start().strip_prefix("in")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let rest = rest.trim_start();
    let (collection, mut rest) = if rest.starts_with('(') {
        let close = rest.find(')')?;
        (rest[..=close].to_owned(), &rest[close + 1..])
    } else {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        (rest[..end].to_owned(), &rest[end..])
    };
    let mut reversed = false;
    let (mut limit, mut offset) = (None, None);
    rest = rest.trim_start();
    if let Some(after) = rest.strip_prefix("reversed") {
        reversed = true;
        rest = after;
    }
    // Attributes are `name: value` (Ruby's TagAttributes), separated by spaces or commas.
    for name in ["limit", "offset"] {
        let Some(at) = rest.find(name) else { continue };
        let Some(value) = rest[at + name.len()..].trim_start().strip_prefix(':') else { continue };
        let value = value.trim_start();
        let end = value.find(|c: char| c.is_whitespace() || c == ',').unwrap_or(value.len());
        let value = Some(value[..end].to_owned()).filter(|v| !v.is_empty());
        if name == "limit" {
            limit = value;
        } else {
            offset = value;
        }
    }
    Some(Special::For { var: var.to_owned(), collection, reversed, limit, offset, line })
}

/// Jekyll's `highlight` markup: `<lang> [linenos] [key=value …]`. Returns the lowercased language
/// and whether line numbers are asked for.
pub(crate) fn parse_highlight(markup: &str) -> Option<(String, bool)> {
    let mut words = markup.split_whitespace();
    let lang = words.next()?;
    if !lang.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+#-".contains(&b)) {
        return None;
    }
    let rest: Vec<&str> = words.collect();
    let rest = rest.join(" ");
    // Options are `word` or `word=value` or `word="1 2 3"`.
    let mut linenos = false;
    let mut s = rest.as_str();
    while !s.is_empty() {
        let key_len = s.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
        if key_len == 0 {
            return None;
        }
        let key = &s[..key_len];
        s = &s[key_len..];
        let mut value = None;
        if let Some(v) = s.strip_prefix('=') {
            if let Some(q) = v.strip_prefix('"') {
                let end = q.find('"')?;
                if !q[..end].bytes().all(|b| b.is_ascii_digit() || b == b' ') {
                    return None;
                }
                value = Some(&q[..end]);
                s = &q[end + 1..];
            } else {
                let len = v.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_').count();
                if len == 0 {
                    return None;
                }
                value = Some(&v[..len]);
                s = &v[len..];
            }
        }
        if key == "linenos" {
            linenos = value.is_none_or(|v| v != "false");
        }
        if !s.is_empty() && !s.starts_with(' ') {
            return None;
        }
        s = s.trim_start();
    }
    Some((lang.to_lowercase(), linenos))
}

type IncludeMarkup = (String, Option<Vec<(String, ParamValue)>>, Option<String>);

/// Jekyll's include markup: a file name (which may hold `{{ variables }}`) and `key=value` parameters.
/// Returns the file, the parameters (none when there is no parameter text) and the parameter text
/// that did not read as parameters, if any.
pub(crate) fn parse_include(markup: &str) -> Result<IncludeMarkup, String> {
    let markup = markup.trim_matches(lexer::is_ruby_space);
    let (file, params) = split_include_file(markup);
    if file.is_empty() {
        return Err("no file name".into());
    }
    let params = params.trim_matches(lexer::is_ruby_space);
    if params.is_empty() {
        return Ok((file.to_owned(), None, None));
    }
    let (parsed, rest) = parse_params(params);
    let bad = (!rest.is_empty()).then(|| rest.to_owned());
    Ok((file.to_owned(), Some(parsed), bad))
}

/// The file part of include markup. With `{{ }}` in it, the name runs to the first whitespace after
/// the last `}}`; otherwise to the first whitespace.
fn split_include_file(markup: &str) -> (&str, &str) {
    if markup.contains("{{") {
        let mut end = 0;
        let mut rest = markup;
        while let Some(open) = rest.find("{{") {
            let Some(close) = rest[open..].find("}}") else { break };
            let after = open + close + 2;
            let word_end =
                rest[after..].find(|c: char| lexer::is_ruby_space(c) || c == '{').map_or(rest.len(), |w| after + w);
            end += word_end;
            rest = &rest[word_end..];
            if !rest.trim_start().starts_with("{{") && !rest.starts_with(|c: char| !lexer::is_ruby_space(c)) {
                break;
            }
        }
        if end > 0 {
            return (markup[..end].trim(), &markup[end..]);
        }
    }
    match markup.find(lexer::is_ruby_space) {
        Some(at) => (&markup[..at], &markup[at..]),
        None => (markup, ""),
    }
}

/// Reads `key=value` pairs as Jekyll's `VALID_SYNTAX` does; returns them and the unread remainder.
fn parse_params(mut s: &str) -> (Vec<(String, ParamValue)>, &str) {
    let mut params = Vec::new();
    loop {
        s = s.trim_start_matches(lexer::is_ruby_space);
        if s.is_empty() {
            return (params, s);
        }
        let key_len = s.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-').count();
        if key_len == 0 {
            return (params, s);
        }
        let key = &s[..key_len];
        let Some(after_eq) = s[key_len..].trim_start_matches(lexer::is_ruby_space).strip_prefix('=') else {
            return (params, s);
        };
        let v = after_eq.trim_start_matches(lexer::is_ruby_space);
        let (value, rest) = match v.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let Some((text, len)) = quoted(&v[1..], q) else { return (params, s) };
                (ParamValue::Text(text), &v[1 + len + 1..])
            }
            _ => {
                let len = v.bytes().take_while(|b| b.is_ascii_alphanumeric() || b"_.-".contains(b)).count();
                if len == 0 {
                    return (params, s);
                }
                (ParamValue::Variable(v[..len].to_owned()), &v[len..])
            }
        };
        if !rest.is_empty() && !rest.starts_with(lexer::is_ruby_space) {
            return (params, s);
        }
        params.push((key.to_owned(), value));
        s = rest;
    }
}

/// A quoted string's text up to the closing `q` (backslash-escaped quotes allowed) and its length.
fn quoted(s: &str, q: char) -> Option<(String, usize)> {
    let mut text = String::new();
    let mut chars = s.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            if let Some((_, next)) = chars.next() {
                if next == q {
                    text.push(q);
                } else {
                    text.push('\\');
                    text.push(next);
                }
            }
        } else if c == q {
            return Some((text, i));
        } else {
            text.push(c);
        }
    }
    None
}

/// The start of `text`, short enough for a message.
pub(crate) fn excerpt(text: &str) -> String {
    let one_line: String = text.chars().map(|c| if c == '\n' { ' ' } else { c }).take(60).collect();
    if text.chars().count() > 60 {
        format!("{one_line}…")
    } else {
        one_line
    }
}
