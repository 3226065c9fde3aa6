//! Parsing and rendering with recovery: a token that fails to parse or to render is dropped and
//! reported, and the rest tried again; undefined variables render empty; every render runs under
//! budgets of steps and output bytes, and never panics out.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::Arc;

use liquid_core::model::{KStringCow, ObjectView, ScalarCow, Value, ValueCow, ValueView};
use liquid_core::parser::Language;
use liquid_core::runtime::{PartialStore, Registers, Runtime, RuntimeBuilder, Template};
use liquid_core::Renderable;

use super::assemble::assemble;
use super::prepare::{Prepared, Special};
use super::site::{PageView, SiteView};
use super::{Entry, Limits, Problem, ProblemKind, Rendered, Shared};

/// What the placeholder tags of the template being parsed refer to.
#[derive(Clone)]
struct ParseTable {
    specials: Arc<Vec<Special>>,
    source: Arc<str>,
}

thread_local! {
    /// The side table of the template being parsed on this thread, for the placeholder tags
    /// (liquid-rust gives a tag only its tokens and the language).
    static TABLE: RefCell<Option<ParseTable>> = const { RefCell::new(None) };
}

/// The special a placeholder tag stands for, while its template is being parsed on this thread.
pub(crate) fn special(index: usize) -> Option<Special> {
    TABLE.with(|t| t.borrow().as_ref().and_then(|table| table.specials.get(index).cloned()))
}

/// The source text of the template being parsed on this thread.
pub(crate) fn source() -> Option<Arc<str>> {
    TABLE.with(|t| t.borrow().as_ref().map(|table| table.source.clone()))
}

/// Parses `text` with the tables of `prepared` visible to the placeholder tags; a panic is an
/// error here.
fn parse_with(text: &str, prepared: &Prepared, language: &Language) -> Result<Template, String> {
    let table = ParseTable { specials: prepared.specials.clone(), source: prepared.source().clone() };
    let previous = TABLE.with(|t| t.replace(Some(table)));
    let parsed = catch_unwind(AssertUnwindSafe(|| liquid_core::parser::parse(text, language)));
    TABLE.with(|t| *t.borrow_mut() = previous);
    match parsed {
        Ok(Ok(elements)) => Ok(Template::new(elements)),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the Liquid parser failed on this markup".into()),
    }
}

/// Where a liquid-rust error points in its input: pest's ` --> line:col`.
fn error_offset(message: &str, text: &str) -> Option<usize> {
    let at = message.find("--> ")? + 4;
    let rest = &message[at..];
    let line_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let line: usize = rest[..line_len].parse().ok()?;
    let rest = rest[line_len..].strip_prefix(':')?;
    let col_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let col: usize = rest[..col_len].parse().ok()?;
    let line_start = if line <= 1 { 0 } else { memchr::memchr_iter(b'\n', text.as_bytes()).nth(line - 2)? + 1 };
    let offset =
        text[line_start..].char_indices().nth(col.saturating_sub(1)).map_or(text.len(), |(i, _)| line_start + i);
    Some(offset)
}

/// The gist of a liquid-rust error, without pest's drawing of the source line.
fn short_message(message: &str) -> String {
    let message = message.strip_prefix("liquid:").unwrap_or(message).trim();
    if let Some(gist) = message.lines().find_map(|l| l.trim_start().strip_prefix("= ")) {
        return gist.trim().to_owned();
    }
    message
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with("-->") && !l.contains('|'))
        .unwrap_or("Liquid cannot read this")
        .to_owned()
}

/// A parsed template and the items left out to get it.
pub(crate) struct Compiled {
    pub template: Template,
    pub dropped: HashSet<usize>,
    /// Whether step markers are in it (only after a render error: they cost a tag each).
    pub markers: bool,
}

/// Parses `prepared`, dropping each item liquid-rust rejects (reported in `found`) until it parses.
/// Past `limits.max_attempts`, the text alone is kept.
pub(crate) fn compile(
    prepared: &Prepared,
    language: &Language,
    shared: &Arc<Shared>,
    dropped: HashSet<usize>,
    found: &mut Vec<(u32, ProblemKind, String)>,
) -> Compiled {
    compile_with(prepared, language, shared, dropped, false, found)
}

/// How many broken tags a text may drop and be parsed again: fewer the more tags it has, so
/// that all its attempts together parse at most `limits.max_parsed_items` tags.
fn attempts(prepared: &Prepared, limits: &Limits) -> usize {
    let items = prepared.liquid_items().count().max(1);
    (limits.max_parsed_items / items).clamp(1, limits.max_attempts)
}

/// [`compile`], with step markers before each tag and output when `markers` is set.
fn compile_with(
    prepared: &Prepared,
    language: &Language,
    shared: &Arc<Shared>,
    mut dropped: HashSet<usize>,
    markers: bool,
    found: &mut Vec<(u32, ProblemKind, String)>,
) -> Compiled {
    let limits = &shared.limits;
    // Only what liquid-rust's parser alone builds, or a piece at fault, needs the whole text parsed.
    let parse_text = |dropped: &HashSet<usize>, text_only: bool| {
        assemble(prepared, dropped, text_only, markers, language, shared).ok_or(()).or_else(|()| {
            let written = prepared.write(dropped, text_only, markers);
            parse_with(&written.text, prepared, language).map_err(|error| (error, written))
        })
    };
    let items = prepared.liquid_items().count();
    if items > limits.max_parsed_items {
        found.push((
            0,
            ProblemKind::Limit,
            format!(
                "more than {} Liquid tags and outputs: the text is kept without its Liquid",
                limits.max_parsed_items
            ),
        ));
        dropped.extend(prepared.liquid_items());
        let template = parse_text(&dropped, true).unwrap_or_else(|_| Template::new(Vec::new()));
        return Compiled { template, dropped, markers };
    }
    for _ in 0..attempts(prepared, limits) {
        let (error, written) = match parse_text(&dropped, false) {
            Ok(template) => return Compiled { template, dropped, markers },
            Err(failed) => failed,
        };
        let located = error_offset(&error, &written.text).and_then(|offset| {
            let at = written.starts.partition_point(|&(start, _)| start <= offset);
            at.checked_sub(1).map(|i| written.starts[i].1)
        });
        // liquid-rust places some errors (those met inside a block's body) off their token: only a
        // tag or output of the template is taken at its word, anything else is looked for.
        let culprit = located.filter(|&item| !dropped.contains(&item) && prepared.is_liquid(item)).or_else(|| {
            prepared
                .liquid_items()
                .filter(|item| !dropped.contains(item))
                .find(|&item| prepared.alone(item).is_some_and(|alone| parse_with(&alone, prepared, language).is_err()))
        });
        let Some(culprit) = culprit else { break };
        let what =
            prepared.markup_of(culprit).map(|m| format!("`{}`: ", super::prepare::excerpt(&m))).unwrap_or_default();
        let kind = if prepared.is_output(culprit) { ProblemKind::OutputSyntax } else { ProblemKind::Syntax };
        found.push((prepared.line_of(culprit), kind, format!("{what}{}; it is left out", short_message(&error))));
        prepared.dropping(culprit, &mut dropped);
    }
    found.push((0, ProblemKind::Syntax, "too many Liquid errors: the text is kept without its Liquid".into()));
    let template = parse_text(&dropped, true).unwrap_or_else(|_| Template::new(Vec::new()));
    Compiled { template, dropped, markers }
}

/// Budgets shared by every writer and step marker of one render.
#[derive(Default)]
pub(crate) struct Budget {
    pub steps_left: Cell<u64>,
    pub output_left: Cell<usize>,
    pub values_left: Cell<usize>,
    /// Tags and outputs that parsing again after a render error may still read, over every
    /// retry of the post and its includes.
    pub reparse_left: Cell<usize>,
    /// Set when a budget ran out: the render is abandoned, not retried.
    pub exhausted: RefCell<Option<String>>,
}

/// One template being rendered: the post, or an include inside it.
pub(crate) struct Frame {
    pub path: Arc<str>,
    /// The item of the last step marker run, to blame for a render error.
    pub at: Option<usize>,
}

/// Per-render state, kept in liquid-rust's registers.
#[derive(Default)]
pub(crate) struct RenderState {
    pub budget: Rc<Budget>,
    pub frames: Vec<Frame>,
    pub problems: Vec<Problem>,
    pub includes: BTreeSet<String>,
    /// The post being rendered (for `include_relative`).
    pub entry_path: Arc<str>,
    /// Whether the render read a file next to the post (see [`Rendered::reads_beside`]).
    pub reads_beside: bool,
    /// The posts looked up (see [`Rendered::lookups`]).
    pub lookups: BTreeSet<super::Lookup>,
}

impl RenderState {
    /// Reports a problem at `line` of the template being rendered.
    pub(crate) fn report(&mut self, line: u32, kind: ProblemKind, message: String) {
        let path = self.frames.last().map_or_else(|| self.entry_path.to_string(), |f| f.path.to_string());
        self.problems.push(Problem { path, line, kind, message });
    }
}

pub(crate) fn state(registers: &Registers) -> std::cell::RefMut<'_, RenderState> {
    registers.get_mut::<RenderState>()
}

/// Charges `bytes` of values made (a filter's result, a variable assigned) to the render's budget.
/// False once it is spent: the render is then abandoned, as when the output budget runs out.
pub(crate) fn charge_values(registers: &Registers, bytes: usize) -> bool {
    let st = state(registers);
    let left = st.budget.values_left.get();
    if bytes > left {
        st.budget.exhausted.replace(Some("the template makes values larger than the limit".into()));
        st.budget.values_left.set(0);
        st.budget.output_left.set(0);
        return false;
    }
    st.budget.values_left.set(left - bytes);
    true
}

/// What is left of the render's budget for values.
pub(crate) fn values_left(registers: &Registers) -> usize {
    state(registers).budget.values_left.get()
}

/// About how many bytes `value` holds: its text, and every item of its lists and maps.
pub(crate) fn value_bytes(value: &dyn ValueView) -> usize {
    if let Some(array) = value.as_array() {
        array.values().map(|item| 16 + value_bytes(item)).sum()
    } else if let Some(object) = value.as_object() {
        object.iter().map(|(key, item)| 16 + key.len() + value_bytes(item)).sum()
    } else if let Some(scalar) = value.as_scalar() {
        scalar.to_kstr().len()
    } else {
        0
    }
}

/// A buffer that stops accepting bytes when the render's output budget is spent.
pub(crate) struct LimitedBuf {
    pub buf: Vec<u8>,
    budget: Rc<Budget>,
}

impl LimitedBuf {
    pub(crate) fn new(budget: Rc<Budget>) -> LimitedBuf {
        LimitedBuf { buf: Vec::new(), budget }
    }
}

impl Write for LimitedBuf {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let left = self.budget.output_left.get();
        if data.len() > left {
            self.budget.exhausted.replace(Some("output is larger than the limit".into()));
            return Err(std::io::Error::other("output limit"));
        }
        self.budget.output_left.set(left - data.len());
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders `compiled` (from `prepared`) in `runtime`, dropping and reporting each item that fails,
/// and returns the output. `Err` only when a budget ran out.
pub(crate) fn render_recovering(
    prepared: &Arc<Prepared>,
    compiled: &Compiled,
    path: &Arc<str>,
    language: &Language,
    shared: &Arc<Shared>,
    runtime: &dyn Runtime,
) -> Result<Vec<u8>, String> {
    let limits = &shared.limits;
    let budget = state(runtime.registers()).budget.clone();
    // Each retry parses the text again with a step marker before every tag and output: twice
    // its items, charged to the render's budget, which every retry of the post and of its
    // includes shares. Without it, thousands of failing outputs would cost a parse each.
    let retry_items = 2 * prepared.liquid_items().count().max(1);
    let can_retry = || {
        let left = budget.reparse_left.get();
        let affordable = left >= retry_items;
        if affordable {
            budget.reparse_left.set(left - retry_items);
        }
        affordable
    };
    state(runtime.registers()).frames.push(Frame { path: path.clone(), at: None });
    let mut retried: Option<Compiled> = None;
    // An attempt that fails is rendered again from the start, so its loops start again too.
    let loop_offsets = super::tags::LoopOffsets::saved(runtime.registers());
    let result = loop {
        let current = retried.as_ref().unwrap_or(compiled);
        if retried.is_some() {
            super::tags::LoopOffsets::restore(runtime.registers(), &loop_offsets);
        }
        if let Some(frame) = state(runtime.registers()).frames.last_mut() {
            frame.at = None;
        }
        let mut out = LimitedBuf::new(budget.clone());
        let rendered = catch_unwind(AssertUnwindSafe(|| current.template.render_to(&mut out, runtime)));
        let error = match rendered {
            Ok(Ok(())) => break Ok(out.buf),
            Ok(Err(e)) => short_message(&e.to_string()),
            Err(_) => "a tag failed while rendering".to_owned(),
        };
        if let Some(why) = budget.exhausted.borrow().clone() {
            break Err(why);
        }
        if !current.markers && can_retry() {
            // Render again with step markers, which record which tag fails.
            let mut found = Vec::new();
            retried = Some(compile_with(prepared, language, shared, current.dropped.clone(), true, &mut found));
            continue;
        }
        let mut st = state(runtime.registers());
        let culprit = st.frames.last().and_then(|f| f.at).filter(|c| !current.dropped.contains(c));
        let Some(culprit) = culprit.filter(|_| current.dropped.len() < attempts(prepared, limits) && can_retry())
        else {
            let line = culprit.map_or(0, |c| prepared.line_of(c));
            st.report(line, ProblemKind::Render, format!("{error}; the text is kept without its Liquid"));
            drop(st);
            break Ok(prepared.text_only().into_bytes());
        };
        let line = prepared.line_of(culprit);
        let what =
            prepared.markup_of(culprit).map(|m| format!("`{}`: ", super::prepare::excerpt(&m))).unwrap_or_default();
        let gone =
            if prepared.drops_content(culprit) { "the block is left out, with its content" } else { "it is left out" };
        st.report(line, ProblemKind::Render, format!("{what}{error}; {gone}"));
        drop(st);
        let mut dropped = current.dropped.clone();
        prepared.dropping(culprit, &mut dropped);
        let mut found = Vec::new();
        let next = compile_with(prepared, language, shared, dropped, true, &mut found);
        let mut st = state(runtime.registers());
        for (line, kind, message) in found {
            st.report(line, kind, message);
        }
        drop(st);
        retried = Some(next);
    };
    state(runtime.registers()).frames.pop();
    result
}

/// A runtime frame that makes undefined variables nil, as Jekyll's non-strict Liquid does.
/// liquid-rust fails on an unknown variable or index, and looks names up in the innermost frame
/// that has them, so every frame postfeed pushes is wrapped in one.
pub(crate) struct Lax<P> {
    parent: P,
}

pub(crate) fn lax<P: Runtime>(parent: P) -> Lax<P> {
    Lax { parent }
}

impl<P: Runtime> Runtime for Lax<P> {
    fn partials(&self) -> &dyn PartialStore {
        self.parent.partials()
    }
    fn name(&self) -> Option<liquid_core::model::KStringRef<'_>> {
        self.parent.name()
    }
    fn roots(&self) -> BTreeSet<KStringCow<'_>> {
        self.parent.roots()
    }
    fn try_get(&self, path: &[ScalarCow<'_>]) -> Option<ValueCow<'_>> {
        self.parent.try_get(path)
    }
    fn get(&self, path: &[ScalarCow<'_>]) -> liquid_core::Result<ValueCow<'_>> {
        Ok(self.parent.get(path).unwrap_or(ValueCow::Owned(Value::Nil)))
    }
    fn set_global(&self, name: liquid_core::model::KString, val: Value) -> Option<Value> {
        // `assign` and `capture` land here; once the budget is spent the value is not kept.
        if !charge_values(self.registers(), value_bytes(&val)) {
            return self.parent.set_global(name, Value::Nil);
        }
        self.parent.set_global(name, val)
    }
    fn set_index(&self, name: liquid_core::model::KString, val: Value) -> Option<Value> {
        self.parent.set_index(name, val)
    }
    fn get_index<'a>(&'a self, name: &str) -> Option<ValueCow<'a>> {
        self.parent.get_index(name)
    }
    fn registers(&self) -> &Registers {
        self.parent.registers()
    }
}

/// The `jekyll` variable.
fn jekyll_object() -> Value {
    let mut jekyll = liquid_core::Object::new();
    jekyll.insert("version".into(), Value::scalar("4.3.1"));
    jekyll.insert("environment".into(), Value::scalar("production"));
    Value::Object(jekyll)
}

pub(crate) fn render_entry(language: &Arc<Language>, shared: &Arc<Shared>, entry: &Entry<'_>) -> Rendered {
    let limits = &shared.limits;
    let path: Arc<str> = Arc::from(entry.path);
    let prepared = Arc::new(Prepared::new(Arc::from(entry.body), entry.body_line.max(1), language, limits));
    let mut found = Vec::new();
    let compiled = compile(&prepared, language, shared, HashSet::new(), &mut found);

    let jekyll = jekyll_object();
    let site = SiteView::new(&shared.site);
    let page = PageView::new(&entry.page, entry.path, &site);
    let mut globals: HashMap<KStringCow<'_>, &dyn ValueView> = HashMap::new();
    globals.insert(KStringCow::from_static("site"), &site);
    globals.insert(KStringCow::from_static("page"), &page);
    globals.insert(KStringCow::from_static("jekyll"), &jekyll);
    let globals: &dyn ObjectView = &globals;
    let runtime = Lax { parent: RuntimeBuilder::new().set_globals(globals).build() };
    {
        let mut st = state(runtime.registers());
        st.budget = Rc::new(Budget {
            steps_left: Cell::new(limits.max_steps),
            output_left: Cell::new(limits.max_output_bytes),
            values_left: Cell::new(limits.max_value_bytes),
            reparse_left: Cell::new(limits.max_reparsed_items),
            exhausted: RefCell::new(None),
        });
        st.entry_path = path.clone();
    }
    let rendered = render_recovering(&prepared, &compiled, &path, language, shared, &runtime);
    let mut st = state(runtime.registers());
    let output = match rendered {
        Ok(bytes) => String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        Err(why) => {
            st.problems.push(Problem {
                path: path.to_string(),
                line: 0,
                kind: ProblemKind::Limit,
                message: format!("{why}: the text is kept without its Liquid"),
            });
            prepared.text_only()
        }
    };
    let mut problems: Vec<Problem> = prepared
        .problems
        .iter()
        .map(|f| Problem { path: path.to_string(), line: f.line, kind: f.kind, message: f.message.clone() })
        .chain(found.into_iter().map(|(line, kind, message)| Problem { path: path.to_string(), line, kind, message }))
        .chain(std::mem::take(&mut st.problems))
        .collect();
    problems.sort();
    problems.dedup();
    let includes = std::mem::take(&mut st.includes).into_iter().collect();
    let lookups = std::mem::take(&mut st.lookups).into_iter().collect();
    Rendered { output, problems, includes, reads_beside: st.reads_beside, lookups, reads_posts: site.read_posts() }
}
