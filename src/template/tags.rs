//! Jekyll's tags for liquid-rust: `include` (and `include_relative`, `include_cached`), `highlight`,
//! `link`, `post_url`, Ruby Liquid's `for`, and `if`/`unless` with the conditions of `condition.rs`,
//! plus the placeholders the reading pass writes: `raw` text, pass-through blocks for unknown plugin
//! blocks, bounded ranges, and the step markers that meter a render.

use std::fmt;
use std::io::Write;
use std::sync::Arc;

use liquid_core::model::{Object, Value, ValueView};
use liquid_core::parser::{BlockReflection, Language, ParseBlock, ParseTag, TagBlock, TagReflection, TagTokenIter};
use liquid_core::runtime::{Expression, Runtime, StackFrame, Template};
use liquid_core::{Error, Renderable, Result};

use super::condition::Condition;
use super::prepare::{self, IncludeKind, ParamValue, Prepared, Special};
use super::render::{self, state};
use super::{CachedInclude, CompiledInclude, Problem, ProblemKind, Shared};

pub(crate) fn register(language: &mut Language, shared: &Arc<Shared>) {
    for kind in [IncludeKind::Include, IncludeKind::Relative, IncludeKind::Cached] {
        let tag = Placeholder { name: kind.tag(), shared: shared.clone() };
        language.tags.register(kind.tag().to_owned(), Box::new(tag));
    }
    for name in ["link", "post_url", prepare::LITERAL, prepare::RANGE, prepare::STEP, prepare::TEXT] {
        language.tags.register(name.to_owned(), Box::new(Placeholder { name, shared: shared.clone() }));
    }
    language.blocks.register("highlight".into(), Box::new(Block { start: "highlight", end: "endhighlight" }));
    language.blocks.register("for".into(), Box::new(ForParser { shared: shared.clone() }));
    language.blocks.register("tablerow".into(), Box::new(TableRowParser));
    language.blocks.register("if".into(), Box::new(IfParser { unless: false }));
    language.blocks.register("unless".into(), Box::new(IfParser { unless: true }));
    language.blocks.register("case".into(), Box::new(CaseParser));
    let pass = Block { start: prepare::PASS_THROUGH, end: "endpf_block" };
    language.blocks.register(prepare::PASS_THROUGH.into(), Box::new(pass));
}

/// The number after a placeholder's name.
fn placeholder_index(arguments: &mut TagTokenIter<'_>) -> Result<usize> {
    let token = arguments.expect_next("placeholder index expected")?;
    let value = token.expect_value().into_result()?;
    match value.into_literal().and_then(|v| v.as_scalar().and_then(|s| s.to_integer())) {
        Some(n) if n >= 0 => Ok(n as usize),
        _ => Err(Error::with_msg("placeholder index expected")),
    }
}

fn missing_special() -> Error {
    Error::with_msg("placeholder without its tag")
}

/// A value written as `text` in markup: a literal or a variable (`page.count`, `include.n`).
fn value_expression(text: &str) -> Option<Expression> {
    match text {
        "true" => return Some(Expression::Literal(Value::scalar(true))),
        "false" => return Some(Expression::Literal(Value::scalar(false))),
        "nil" | "null" => return Some(Expression::Literal(Value::Nil)),
        _ => {}
    }
    if let Ok(n) = text.parse::<i64>() {
        return Some(Expression::Literal(Value::scalar(n)));
    }
    if let Ok(f) = text.parse::<f64>() {
        return Some(Expression::Literal(Value::scalar(f)));
    }
    if let Some(quoted) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return Some(Expression::Literal(Value::scalar(quoted.to_owned())));
    }
    if let Some(quoted) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        return Some(Expression::Literal(Value::scalar(quoted.to_owned())));
    }
    liquid_core::parser::parse_variable(text).ok().map(Expression::Variable)
}

/// Markup that may hold `{{ }}` (an include's file name, a link's path): parsed once, rendered
/// per use. Plain text needs no parse.
#[derive(Debug)]
enum Dynamic {
    Plain(String),
    Liquid(Template),
}

impl Dynamic {
    fn new(text: &str, options: &Language) -> Dynamic {
        if !text.contains("{{") {
            return Dynamic::Plain(text.to_owned());
        }
        match liquid_core::parser::parse(text, options) {
            Ok(elements) => Dynamic::Liquid(Template::new(elements)),
            Err(_) => Dynamic::Plain(String::new()),
        }
    }

    fn evaluate(&self, runtime: &dyn Runtime) -> String {
        match self {
            Dynamic::Plain(text) => text.clone(),
            Dynamic::Liquid(template) => template.render(runtime).unwrap_or_default().trim().to_owned(),
        }
    }
}

#[derive(Clone)]
struct Placeholder {
    name: &'static str,
    shared: Arc<Shared>,
}

impl TagReflection for Placeholder {
    fn tag(&self) -> &str {
        self.name
    }
    fn description(&self) -> &str {
        "a Jekyll tag, read by postfeed's template reader"
    }
}

impl ParseTag for Placeholder {
    fn parse(&self, mut arguments: TagTokenIter<'_>, options: &Language) -> Result<Box<dyn Renderable>> {
        let index = placeholder_index(&mut arguments)?;
        if self.name == prepare::STEP {
            return Ok(step(index));
        }
        if self.name == prepare::TEXT {
            let end = placeholder_index(&mut arguments)?;
            let source = render::source().ok_or_else(missing_special)?;
            if index > end || source.get(index..end).is_none() {
                return Err(missing_special());
            }
            return Ok(text_slice(source, index, end));
        }
        let special = render::special(index).ok_or_else(missing_special)?;
        special_tag(special, &self.shared, options)
    }

    fn reflection(&self) -> &dyn TagReflection {
        self
    }
}

/// What a placeholder tag that is not a block stands for: an include, a link, `raw` text, a range.
pub(crate) fn special_tag(special: Special, shared: &Arc<Shared>, options: &Language) -> Result<Box<dyn Renderable>> {
    let shared = shared.clone();
    Ok(match special {
        Special::Include { kind, file, params, line } => {
            let params = params.map(|params| {
                params
                    .into_iter()
                    .map(|(key, value)| {
                        let value = match value {
                            ParamValue::Text(text) => Param::Text(text),
                            ParamValue::Variable(name) => match value_expression(&name) {
                                Some(expression) => Param::Value(expression),
                                None => Param::Text(String::new()),
                            },
                        };
                        (key, value)
                    })
                    .collect()
            });
            Box::new(Include { kind, file: Dynamic::new(&file, options), params, line, shared })
        }
        Special::Link { path, line } => {
            Box::new(Link { path: Dynamic::new(&path, options), line, post: false, shared })
        }
        Special::PostUrl { name, line } => Box::new(Link { path: Dynamic::Plain(name), line, post: true, shared }),
        Special::Literal(text) => Box::new(Literal(text)),
        Special::Range { start, stop, var, line } => Box::new(Range {
            start: value_expression(&start),
            stop: value_expression(&stop),
            var,
            line,
            max: shared.limits.max_range,
        }),
        Special::Highlight { .. }
        | Special::For { .. }
        | Special::Condition { .. }
        | Special::Case(_)
        | Special::When { .. } => return Err(missing_special()),
    })
}

/// A step marker for `item`.
pub(crate) fn step(item: usize) -> Box<dyn Renderable> {
    Box::new(Step { item })
}

/// The bytes `start..end` of `source`, written as they are.
pub(crate) fn text_slice(source: Arc<str>, start: usize, end: usize) -> Box<dyn Renderable> {
    Box::new(TextSlice { source, start, end })
}

/// Counts a step against the render's budget and records where the render is.
#[derive(Debug)]
struct Step {
    item: usize,
}

impl Renderable for Step {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let mut st = state(runtime.registers());
        let left = st.budget.steps_left.get();
        if left == 0 {
            st.budget.exhausted.replace(Some("the template does too much work (a loop too long?)".into()));
            return Err(Error::with_msg("step limit"));
        }
        st.budget.steps_left.set(left - 1);
        if let Some(frame) = st.frames.last_mut() {
            frame.at = Some(self.item);
        }
        Ok(())
    }
}

/// Text of the template, written as it is.
#[derive(Debug)]
struct TextSlice {
    source: Arc<str>,
    start: usize,
    end: usize,
}

impl Renderable for TextSlice {
    fn render_to(&self, writer: &mut dyn Write, _runtime: &dyn Runtime) -> Result<()> {
        writer.write_all(&self.source.as_bytes()[self.start..self.end]).map_err(|_| Error::with_msg("output limit"))
    }
}

#[derive(Debug)]
struct Literal(Arc<str>);

impl Renderable for Literal {
    fn render_to(&self, writer: &mut dyn Write, _runtime: &dyn Runtime) -> Result<()> {
        writer.write_all(self.0.as_bytes()).map_err(|_| Error::with_msg("output limit"))
    }
}

/// `(start..stop)` of a loop, evaluated into `var` with at most `max` numbers.
#[derive(Debug)]
struct Range {
    start: Option<Expression>,
    stop: Option<Expression>,
    var: String,
    line: u32,
    max: usize,
}

/// Ruby's `to_i`: numbers truncated, strings read up to their first non-digit, anything else 0.
pub(crate) fn ruby_to_i(value: &dyn ValueView) -> i64 {
    let Some(scalar) = value.as_scalar() else { return 0 };
    if let Some(i) = scalar.to_integer() {
        return i;
    }
    if let Some(f) = scalar.to_float() {
        return f as i64;
    }
    let s = scalar.to_kstr();
    let s = s.trim_start();
    let (sign, digits) = match s.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let len = digits.bytes().take_while(u8::is_ascii_digit).count();
    digits[..len].parse::<i64>().map_or(0, |n| sign * n)
}

impl Renderable for Range {
    fn render_to(&self, _writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let eval = |e: &Option<Expression>| {
            e.as_ref().and_then(|e| e.try_evaluate(runtime)).map_or(0, |v| ruby_to_i(v.as_view()))
        };
        let (start, stop) = (eval(&self.start), eval(&self.stop));
        let count = (stop as i128 - start as i128 + 1).max(0);
        let kept = count.min(self.max as i128) as i64;
        if count > kept as i128 {
            state(runtime.registers()).report(
                self.line,
                ProblemKind::Limit,
                format!("range ({start}..{stop}) has more than {} numbers; only the first ones are used", self.max),
            );
        }
        let values = (0..kept).map(|i| Value::scalar(start + i)).collect();
        runtime.set_global(self.var.clone().into(), Value::Array(values));
        Ok(())
    }
}

#[derive(Debug)]
enum Param {
    Text(String),
    Value(Expression),
}

struct Include {
    kind: IncludeKind,
    file: Dynamic,
    params: Option<Vec<(String, Param)>>,
    line: u32,
    shared: Arc<Shared>,
}

impl fmt::Debug for Include {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Include").field("kind", &self.kind).field("file", &self.file).finish_non_exhaustive()
    }
}

/// Most includes (found or not) kept parsed per engine.
const MAX_CACHED_INCLUDES: usize = 10_000;

/// Jekyll's rule for include names: no `..`/`./`/`//`, and only `\w/.-()+~#@` characters.
fn valid_include_name(name: &str) -> bool {
    let bad_sequence = name.as_bytes().windows(2).any(|w| matches!(w[0], b'.' | b'/') && matches!(w[1], b'.' | b'/'));
    !name.is_empty()
        && !bad_sequence
        && !name.starts_with('/')
        && name.chars().all(|c| c.is_alphanumeric() || c == '_' || "/.-()+~#@".contains(c))
}

/// The folder of a site-relative path, with a trailing `/` (empty at the root).
fn folder_of(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..=i])
}

impl Include {
    fn compiled(&self, name: &str, entry_path: &str, language: &Language) -> CachedInclude {
        let shared = &self.shared;
        let (cache_kind, key, shown) = match self.kind {
            IncludeKind::Relative => {
                let shown = format!("{}{name}", folder_of(entry_path));
                (IncludeKind::Relative, shown.clone(), shown)
            }
            _ => (IncludeKind::Include, name.to_owned(), format!("_includes/{name}")),
        };
        if let Some(hit) = shared.includes.read().ok().and_then(|m| m.get(&(cache_kind, key.clone())).cloned()) {
            return hit;
        }
        let text = match self.kind {
            IncludeKind::Relative => shared.files.include_relative(entry_path, name),
            _ => shared.files.include(name),
        };
        let compiled = text.map(|text| {
            let path: Arc<str> = Arc::from(shown.as_str());
            let prepared = Arc::new(Prepared::new(text, 1, language, &shared.limits));
            let mut found = Vec::new();
            let compiled = render::compile(&prepared, language, shared, Default::default(), &mut found);
            let problems = prepared
                .problems
                .iter()
                .map(|f| (f.line, f.kind, f.message.clone()))
                .chain(found)
                .map(|(line, kind, message)| Problem { path: shown.clone(), line, kind, message })
                .collect();
            CompiledInclude { path, prepared, compiled, problems }
        });
        let compiled = Arc::new(compiled);
        // Names made up by a loop (`{% include x{{ i }}.html %}`) must not grow the cache forever.
        if let Ok(mut map) = shared.includes.write() {
            if map.len() < MAX_CACHED_INCLUDES {
                map.entry((cache_kind, key)).or_insert_with(|| compiled.clone());
            }
        }
        compiled
    }

    fn params(&self, runtime: &dyn Runtime) -> Option<Object> {
        let params = self.params.as_ref()?;
        let mut object = Object::new();
        for (key, param) in params {
            let value = match param {
                Param::Text(text) => Value::scalar(text.clone()),
                Param::Value(expression) => expression.try_evaluate(runtime).map_or(Value::Nil, |v| v.into_owned()),
            };
            object.insert(key.clone().into(), value);
        }
        Some(object)
    }
}

impl Renderable for Include {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let tag = self.kind.tag();
        let name = self.file.evaluate(runtime);
        let report = |kind, message: String| {
            state(runtime.registers()).report(self.line, kind, message);
        };
        if !valid_include_name(&name) {
            report(ProblemKind::Include, format!("{tag} `{name}`: not a valid file name; it is left out"));
            return Ok(());
        }
        let (depth, entry_path) = {
            let mut st = state(runtime.registers());
            st.reads_beside |= self.kind == IncludeKind::Relative;
            (st.frames.len(), st.entry_path.clone())
        };
        if depth > self.shared.limits.max_include_depth {
            report(
                ProblemKind::Include,
                format!(
                    "{tag} `{name}`: includes nested more than {} deep (does an include include itself?); it is left out",
                    self.shared.limits.max_include_depth
                ),
            );
            return Ok(());
        }
        let Some(language) = self.shared.language() else { return Ok(()) };
        let compiled = self.compiled(&name, &entry_path, &language);
        let include = match compiled.as_ref() {
            Ok(include) => include,
            Err(error) => {
                let shown = match self.kind {
                    IncludeKind::Relative => format!("{}{name}", folder_of(&entry_path)),
                    _ => format!("_includes/{name}"),
                };
                state(runtime.registers()).includes.insert(shown);
                report(ProblemKind::Include, format!("{tag} `{name}`: {error}; it is left out"));
                return Ok(());
            }
        };
        {
            let mut st = state(runtime.registers());
            st.includes.insert(include.path.to_string());
            st.problems.extend(include.problems.iter().cloned());
        }
        let output = match self.params(runtime) {
            Some(params) => {
                let mut scope = Object::new();
                scope.insert("include".into(), Value::Object(params));
                let frame = super::render::lax(StackFrame::new(runtime, &scope));
                render::render_recovering(
                    &include.prepared,
                    &include.compiled,
                    &include.path,
                    &language,
                    &self.shared,
                    &frame,
                )
            }
            None => render::render_recovering(
                &include.prepared,
                &include.compiled,
                &include.path,
                &language,
                &self.shared,
                runtime,
            ),
        };
        match output {
            Ok(bytes) => writer.write_all(&bytes).map_err(|_| Error::with_msg("output limit")),
            Err(why) => Err(Error::with_msg(why)),
        }
    }
}

/// `{% link path %}` and `{% post_url name %}`: the target's URL path, with the baseurl.
struct Link {
    path: Dynamic,
    line: u32,
    post: bool,
    shared: Arc<Shared>,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Link").field("path", &self.path).field("post", &self.post).finish_non_exhaustive()
    }
}

impl Renderable for Link {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let target = self.path.evaluate(runtime);
        let target = target.trim();
        let found = if self.post { self.shared.index.post_url(target) } else { self.shared.index.link(target) };
        {
            let mut st = state(runtime.registers());
            st.lookups.insert(super::Lookup { post: self.post, target: target.to_owned(), found: found.clone() });
        }
        match found {
            Some(url) => {
                let url = super::filters::relative_url(&self.shared.baseurl, &url);
                writer.write_all(url.as_bytes()).map_err(|_| Error::with_msg("output limit"))
            }
            None => {
                let (tag, what) = if self.post { ("post_url", "no post named") } else { ("link", "no page at") };
                state(runtime.registers()).report(
                    self.line,
                    ProblemKind::Link,
                    format!("{tag}: {what} `{target}`; it is left out"),
                );
                Ok(())
            }
        }
    }
}

/// A block placeholder: `highlight` (Rouge's markup around the escaped, rendered body) or a block
/// postfeed does not know (its body, rendered).
#[derive(Clone)]
struct Block {
    start: &'static str,
    end: &'static str,
}

impl BlockReflection for Block {
    fn start_tag(&self) -> &str {
        self.start
    }
    fn end_tag(&self) -> &str {
        self.end
    }
    fn description(&self) -> &str {
        "a block read by postfeed's template reader"
    }
}

impl ParseBlock for Block {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut block: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let index = placeholder_index(&mut arguments)?;
        let body = block.parse_all(options)?;
        block.assert_empty();
        if self.start == prepare::PASS_THROUGH {
            return Ok(pass_through(body));
        }
        highlight(render::special(index), body)
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

/// A block that renders its body: an unknown plugin's block, or a `highlight` postfeed cannot read.
pub(crate) fn pass_through(body: Vec<Box<dyn Renderable>>) -> Box<dyn Renderable> {
    Box::new(PassThrough(Template::new(body)))
}

/// `highlight` around `body`; `special` is its [`Special::Highlight`].
pub(crate) fn highlight(special: Option<Special>, body: Vec<Box<dyn Renderable>>) -> Result<Box<dyn Renderable>> {
    match special {
        Some(Special::Highlight { lang, linenos }) => {
            Ok(Box::new(Highlight { lang, linenos, body: Template::new(body) }))
        }
        _ => Err(missing_special()),
    }
}

#[derive(Debug)]
struct PassThrough(Template);

impl Renderable for PassThrough {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        self.0.render_to(writer, runtime)
    }
}

#[derive(Debug)]
struct Highlight {
    lang: String,
    linenos: bool,
    body: Template,
}

impl Renderable for Highlight {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let code = self.body.render(runtime)?;
        let html = highlight_html(&self.lang, self.linenos, &code);
        writer.write_all(html.as_bytes()).map_err(|_| Error::with_msg("output limit"))
    }
}

/// What Jekyll 4.3 with Rouge writes for `{% highlight lang [linenos] %}`, minus Rouge's token spans
/// (which carry only colours): the code escaped, leading and trailing line breaks removed.
pub(crate) fn highlight_html(lang: &str, linenos: bool, code: &str) -> String {
    let code = code.trim_matches(['\n', '\r']);
    let escaped = escape_html(code);
    let class_lang = lang.replace('+', "-");
    let inner = if linenos {
        let lines = code.split('\n').count();
        let numbers: String = (1..=lines).map(|n| format!("{n}\n")).collect();
        format!(
            "<table class=\"rouge-table\"><tbody><tr><td class=\"gutter gl\"><pre class=\"lineno\">{numbers}</pre></td><td class=\"code\"><pre>{escaped}\n</pre></td></tr></tbody></table>"
        )
    } else {
        escaped
    };
    format!("<figure class=\"highlight\"><pre><code class=\"language-{class_lang}\" data-lang=\"{lang}\">{inner}</code></pre></figure>")
}

/// Escapes `&`, `<` and `>` as Rouge does in code.
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
    }
    out
}

/// Ruby Liquid's `for`: arrays, hash pairs, a string as one item, ranges (bounded), `limit`,
/// `offset`, `reversed`, `else`, `forloop`, `break` and `continue`; each iteration counts as a step.
#[derive(Clone)]
struct ForParser {
    shared: Arc<Shared>,
}

impl BlockReflection for ForParser {
    fn start_tag(&self) -> &str {
        "for"
    }
    fn end_tag(&self) -> &str {
        "endfor"
    }
    fn description(&self) -> &str {
        "Ruby Liquid's for loop"
    }
}

impl ParseBlock for ForParser {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut block: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let special = render::special(placeholder_index(&mut arguments)?);
        let mut body = Vec::new();
        let mut otherwise = None;
        while let Some(element) = block.next()? {
            match element {
                liquid_core::parser::BlockElement::Tag(tag) if tag.name() == "else" => {
                    otherwise = Some(block.parse_all(options)?);
                    break;
                }
                element => body.push(element.parse(&mut block, options)?),
            }
        }
        block.assert_empty();
        for_loop(special, body, otherwise, &self.shared)
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

/// Ruby Liquid's `for` over `body` (and `otherwise`, its `else`); `special` is its [`Special::For`].
pub(crate) fn for_loop(
    special: Option<Special>,
    body: Vec<Box<dyn Renderable>>,
    otherwise: Option<Vec<Box<dyn Renderable>>>,
    shared: &Shared,
) -> Result<Box<dyn Renderable>> {
    let Some(Special::For { var, collection, reversed, limit, offset, line }) = special else {
        return Err(missing_special());
    };
    let collection_markup = collection.clone();
    let collection =
        match collection.strip_prefix('(').and_then(|c| c.strip_suffix(')')).and_then(|c| c.split_once("..")) {
            Some((start, stop)) => Collection::Range(value_expression(start.trim()), value_expression(stop.trim())),
            None => Collection::Value(value_expression(&collection)),
        };
    let offset = match offset.as_deref() {
        Some("continue") => Offset::Continue,
        Some(offset) => Offset::From(value_expression(offset)),
        None => Offset::From(None),
    };
    Ok(Box::new(For {
        name: loop_name(&var, &collection_markup),
        var,
        collection,
        reversed,
        limit: limit.as_deref().and_then(value_expression),
        offset,
        line,
        body: Template::new(body),
        otherwise: otherwise.map(Template::new),
        max_range: shared.limits.max_range,
    }))
}

/// Ruby Liquid's name of a loop, `var-collection` with the collection as its parser writes it
/// back (no spaces outside quotes): `forloop.name`, and the key under which the loop records
/// where it stopped, for a later `offset: continue` over the same name.
fn loop_name(var: &str, collection: &str) -> String {
    let mut name = String::with_capacity(var.len() + 1 + collection.len());
    name.push_str(&super::lexer::restore_names(var));
    name.push('-');
    let mut quote = None;
    for c in super::lexer::restore_names(collection).chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c.is_whitespace() => continue,
            None => {}
        }
        name.push(c);
    }
    name
}

/// Where a loop starts: an `offset: n` (none is 0), or `offset: continue`, where the last loop of
/// the same name stopped in this render.
#[derive(Debug)]
enum Offset {
    From(Option<Expression>),
    Continue,
}

/// Where each loop of a render stopped, by loop name (Ruby Liquid's `registers[:for]`): includes
/// share it with the post, as they share Ruby's context.
#[derive(Debug, Default, Clone)]
pub(crate) struct LoopOffsets(std::collections::HashMap<String, usize>);

impl LoopOffsets {
    /// Where the loops of this render stand now.
    pub(crate) fn saved(registers: &liquid_core::runtime::Registers) -> LoopOffsets {
        registers.get_mut::<LoopOffsets>().clone()
    }

    /// Puts the loops back where `saved` found them, for a text rendered again.
    pub(crate) fn restore(registers: &liquid_core::runtime::Registers, saved: &LoopOffsets) {
        registers.get_mut::<LoopOffsets>().0.clone_from(&saved.0);
    }
}

#[derive(Debug)]
enum Collection {
    Range(Option<Expression>, Option<Expression>),
    Value(Option<Expression>),
}

#[derive(Debug)]
struct For {
    /// Ruby's `@name` (see [`loop_name`]).
    name: String,
    var: String,
    collection: Collection,
    reversed: bool,
    limit: Option<Expression>,
    offset: Offset,
    line: u32,
    body: Template,
    otherwise: Option<Template>,
    max_range: usize,
}

impl For {
    fn items(&self, runtime: &dyn Runtime) -> Vec<Value> {
        let eval = |e: &Option<Expression>| e.as_ref().and_then(|e| e.try_evaluate(runtime)).map(|v| v.into_owned());
        match &self.collection {
            Collection::Range(start, stop) => {
                let start = eval(start).map_or(0, |v| ruby_to_i(&v));
                let stop = eval(stop).map_or(0, |v| ruby_to_i(&v));
                let count = (stop as i128 - start as i128 + 1).max(0);
                if count > self.max_range as i128 {
                    state(runtime.registers()).report(
                        self.line,
                        ProblemKind::Limit,
                        format!(
                            "range ({start}..{stop}) has more than {} numbers; only the first ones are used",
                            self.max_range
                        ),
                    );
                }
                (0..count.min(self.max_range as i128) as i64).map(|i| Value::scalar(start + i)).collect()
            }
            Collection::Value(expression) => loop_items(eval(expression)),
        }
    }
}

/// The items a loop goes over, as Ruby Liquid's `slice_collection` takes them: an array's items,
/// a hash's `[key, value]` pairs, a non-empty string as one item, nothing else.
fn loop_items(collection: Option<Value>) -> Vec<Value> {
    match collection {
        Some(Value::Array(items)) => items,
        // liquid-rust's objects forget the order of their keys; sorted, the output is at least
        // the same on every run.
        Some(Value::Object(object)) => {
            let mut pairs: Vec<_> = object.into_iter().collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            pairs.into_iter().map(|(k, v)| Value::Array(vec![Value::scalar(k.to_string()), v])).collect()
        }
        Some(Value::Scalar(s)) if !s.to_kstr().is_empty() => vec![Value::Scalar(s)],
        _ => Vec::new(),
    }
}

/// Counts one loop iteration against the render's budget; an error once it is spent.
fn take_step(runtime: &dyn Runtime) -> Result<()> {
    let st = state(runtime.registers());
    let left = st.budget.steps_left.get();
    if left == 0 {
        st.budget.exhausted.replace(Some("the template does too much work (a loop too long?)".into()));
        return Err(Error::with_msg("step limit"));
    }
    st.budget.steps_left.set(left - 1);
    Ok(())
}

impl Renderable for For {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        use liquid_core::runtime::{Interrupt, InterruptRegister};
        let mut items = self.items(runtime);
        let number = |e: &Option<Expression>| {
            e.as_ref().and_then(|e| e.try_evaluate(runtime)).map(|v| ruby_to_i(v.as_view()).max(0) as usize)
        };
        let offset = match &self.offset {
            Offset::From(offset) => number(offset).unwrap_or(0),
            Offset::Continue => runtime.registers().get_mut::<LoopOffsets>().0.get(&self.name).copied().unwrap_or(0),
        };
        items.drain(..offset.min(items.len()));
        if let Some(limit) = number(&self.limit) {
            items.truncate(limit);
        }
        if self.reversed {
            items.reverse();
        }
        // As Ruby records it: where the items taken end, whether or not the loop breaks early.
        let stopped = offset.saturating_add(items.len());
        {
            let mut offsets = runtime.registers().get_mut::<LoopOffsets>();
            match offsets.0.get_mut(&self.name) {
                Some(recorded) => *recorded = stopped,
                None => {
                    offsets.0.insert(self.name.clone(), stopped);
                }
            }
        }
        if items.is_empty() {
            return match &self.otherwise {
                Some(otherwise) => otherwise.render_to(writer, runtime),
                None => Ok(()),
            };
        }
        let parent = runtime.try_get(&[liquid_core::model::Scalar::new("forloop")]).map(|v| v.into_owned());
        let length = items.len() as i64;
        for (i, item) in items.into_iter().enumerate() {
            take_step(runtime)?;
            let i = i as i64;
            let mut forloop = Object::new();
            forloop.insert("name".into(), Value::scalar(self.name.clone()));
            forloop.insert("length".into(), Value::scalar(length));
            forloop.insert("index".into(), Value::scalar(i + 1));
            forloop.insert("index0".into(), Value::scalar(i));
            forloop.insert("rindex".into(), Value::scalar(length - i));
            forloop.insert("rindex0".into(), Value::scalar(length - i - 1));
            forloop.insert("first".into(), Value::scalar(i == 0));
            forloop.insert("last".into(), Value::scalar(i == length - 1));
            if let Some(parent) = &parent {
                forloop.insert("parentloop".into(), parent.clone());
            }
            let mut scope = Object::new();
            scope.insert("forloop".into(), Value::Object(forloop));
            scope.insert(self.var.clone().into(), item);
            let frame = super::render::lax(StackFrame::new(runtime, &scope));
            self.body.render_to(writer, &frame)?;
            if let Some(Interrupt::Break) = runtime.registers().get_mut::<InterruptRegister>().reset() {
                break;
            }
        }
        Ok(())
    }
}

/// Ruby Liquid's `tablerow`: `var in collection` with `cols`, `limit` and `offset` (any other
/// attribute is ignored, as in Ruby), written as Ruby writes it, newlines included.
#[derive(Clone)]
struct TableRowParser;

impl BlockReflection for TableRowParser {
    fn start_tag(&self) -> &str {
        "tablerow"
    }
    fn end_tag(&self) -> &str {
        "endtablerow"
    }
    fn description(&self) -> &str {
        "Ruby Liquid's tablerow"
    }
}

impl ParseBlock for TableRowParser {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut block: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        use liquid_core::parser::TryMatchToken;
        let var = arguments.expect_next("Identifier expected.")?.expect_identifier().into_result()?.to_owned();
        arguments.expect_next("\"in\" expected.")?.expect_str("in").into_result_custom_msg("\"in\" expected.")?;
        // A `(start..stop)` range is given as a variable the reading pass fills (see `Range`).
        let collection = arguments.expect_next("Array expected.")?.expect_value().into_result()?;
        let (mut cols, mut limit, mut offset) = (None, None, None);
        while let Some(name) = arguments.next() {
            let name = name.as_str().to_owned();
            let Some(colon) = arguments.next() else { break };
            if let TryMatchToken::Fails(_) = colon.expect_str(":") {
                continue;
            }
            let value = arguments.expect_next("Value expected.")?.expect_value().into_result()?;
            match name.as_str() {
                "cols" => cols = Some(value),
                "limit" => limit = Some(value),
                "offset" => offset = Some(value),
                _ => {}
            }
        }
        let body = Template::new(block.parse_all(options)?);
        block.assert_empty();
        Ok(Box::new(TableRow { var, collection, cols, limit, offset, body }))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

#[derive(Debug)]
struct TableRow {
    var: String,
    collection: Expression,
    cols: Option<Expression>,
    limit: Option<Expression>,
    offset: Option<Expression>,
    body: Template,
}

impl Renderable for TableRow {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let collection = self.collection.try_evaluate(runtime).map(|v| v.into_owned());
        // Ruby writes nothing at all for nil or false, not even the first row.
        if !collection.as_ref().is_some_and(|c| c.query_state(liquid_core::model::State::Truthy)) {
            return Ok(());
        }
        let number =
            |e: &Option<Expression>| e.as_ref().and_then(|e| e.try_evaluate(runtime)).map(|v| ruby_to_i(v.as_view()));
        let mut items = loop_items(collection);
        let from = number(&self.offset).unwrap_or(0).max(0) as usize;
        items.drain(..from.min(items.len()));
        if let Some(limit) = number(&self.limit) {
            items.truncate(limit.max(0) as usize);
        }
        let cols = number(&self.cols).unwrap_or(0);
        let length = items.len() as i64;
        let failed = |_| Error::with_msg("Failed to render");
        writer.write_all(b"<tr class=\"row1\">\n").map_err(failed)?;
        let (mut col, mut row) = (1_i64, 1_i64);
        for (index, item) in items.into_iter().enumerate() {
            take_step(runtime)?;
            let index = index as i64;
            let col_last = col == cols;
            let last = index == length - 1;
            let mut tablerowloop = Object::new();
            for (key, value) in [
                ("length", Value::scalar(length)),
                ("col", Value::scalar(col)),
                ("row", Value::scalar(row)),
                ("col0", Value::scalar(col - 1)),
                ("col_first", Value::scalar(col == 1)),
                ("col_last", Value::scalar(col_last)),
                ("index", Value::scalar(index + 1)),
                ("index0", Value::scalar(index)),
                ("rindex", Value::scalar(length - index)),
                ("rindex0", Value::scalar(length - index - 1)),
                ("first", Value::scalar(index == 0)),
                ("last", Value::scalar(last)),
            ] {
                tablerowloop.insert(key.into(), value);
            }
            let mut scope = Object::new();
            // liquid-rust's name for `tablerowloop` (see `lexer::renamed`).
            scope.insert("tablerow".into(), Value::Object(tablerowloop));
            scope.insert(self.var.clone().into(), item);
            write!(writer, "<td class=\"col{col}\">").map_err(failed)?;
            self.body.render_to(writer, &super::render::lax(StackFrame::new(runtime, &scope)))?;
            writer.write_all(b"</td>").map_err(failed)?;
            if col_last && !last {
                write!(writer, "</tr>\n<tr class=\"row{}\">", row + 1).map_err(failed)?;
            }
            if col_last {
                (col, row) = (1, row + 1);
            } else {
                col += 1;
            }
        }
        writer.write_all(b"</tr>\n").map_err(failed)
    }
}

/// `if` and `unless` with postfeed's own conditions (see `condition.rs`): `elsif` branches, an
/// `else`, and Ruby Liquid's reading of `unless` (only its first condition is reversed).
#[derive(Clone)]
struct IfParser {
    unless: bool,
}

impl BlockReflection for IfParser {
    fn start_tag(&self) -> &str {
        if self.unless {
            "unless"
        } else {
            "if"
        }
    }
    fn end_tag(&self) -> &str {
        if self.unless {
            "endunless"
        } else {
            "endif"
        }
    }
    fn description(&self) -> &str {
        "Ruby Liquid's if and unless"
    }
}

fn condition_at(index: usize) -> Result<Arc<Condition>> {
    match render::special(index) {
        Some(Special::Condition { condition, .. }) => Ok(condition),
        _ => Err(missing_special()),
    }
}

impl ParseBlock for IfParser {
    fn parse(
        &self,
        mut arguments: TagTokenIter<'_>,
        mut block: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        let first = condition_at(placeholder_index(&mut arguments)?)?;
        let mut branches: Vec<IfBranch> = vec![(Some(first), Vec::new())];
        while let Some(element) = block.next()? {
            match element {
                liquid_core::parser::BlockElement::Tag(tag) if tag.name() == "elsif" => {
                    let mut tokens = tag.into_tokens();
                    branches.push((Some(condition_at(placeholder_index(&mut tokens)?)?), Vec::new()));
                }
                // Branches after an `else` are kept but never reached, as in Ruby Liquid.
                liquid_core::parser::BlockElement::Tag(tag) if tag.name() == "else" => {
                    branches.push((None, Vec::new()))
                }
                element => {
                    let body = &mut branches.last_mut().expect("one branch at least").1;
                    body.push(element.parse(&mut block, options)?);
                }
            }
        }
        block.assert_empty();
        Ok(if_block(self.unless, branches))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

/// A branch of an `if`: its condition (`None` for `else`) with the elements of its body.
pub(crate) type IfBranch = (Option<Arc<Condition>>, Vec<Box<dyn Renderable>>);

/// `if` (or `unless`) with its branches, in order.
pub(crate) fn if_block(unless: bool, branches: Vec<IfBranch>) -> Box<dyn Renderable> {
    let branches = branches.into_iter().map(|(condition, body)| (condition, Template::new(body))).collect();
    Box::new(If { unless, branches })
}

#[derive(Debug)]
struct If {
    unless: bool,
    /// Each condition with its body; `None` for `else`.
    branches: Vec<(Option<Arc<Condition>>, Template)>,
}

impl Renderable for If {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        for (i, (condition, body)) in self.branches.iter().enumerate() {
            let taken = match condition {
                Some(condition) => condition.evaluate(runtime).map_err(Error::with_msg)? != (i == 0 && self.unless),
                None => true,
            };
            if taken {
                return body.render_to(writer, runtime);
            }
        }
        Ok(())
    }
}

/// Ruby Liquid's `case`: every `when` value that equals the case's value renders its body (again
/// for each such value), compared as `condition.rs` compares; an `else` renders when no `when`
/// before it has.
#[derive(Clone)]
struct CaseParser;

impl BlockReflection for CaseParser {
    fn start_tag(&self) -> &str {
        "case"
    }
    fn end_tag(&self) -> &str {
        "endcase"
    }
    fn description(&self) -> &str {
        "Ruby Liquid's case"
    }
}

impl ParseBlock for CaseParser {
    fn parse(
        &self,
        _arguments: TagTokenIter<'_>,
        mut block: TagBlock<'_, '_>,
        options: &Language,
    ) -> Result<Box<dyn Renderable>> {
        // What comes before the first `when` is never rendered.
        let mut branches: Vec<CaseBranch> = Vec::new();
        while let Some(element) = block.next()? {
            match element {
                liquid_core::parser::BlockElement::Tag(tag) if tag.name() == "when" => {
                    let mut tokens = tag.into_tokens();
                    let Some(Special::When { conditions, .. }) = render::special(placeholder_index(&mut tokens)?)
                    else {
                        return Err(missing_special());
                    };
                    branches.push((Some(conditions), Vec::new()));
                }
                liquid_core::parser::BlockElement::Tag(tag) if tag.name() == "else" => {
                    branches.push((None, Vec::new()))
                }
                element => {
                    let parsed = element.parse(&mut block, options)?;
                    if let Some((_, body)) = branches.last_mut() {
                        body.push(parsed);
                    }
                }
            }
        }
        block.assert_empty();
        Ok(case_block(branches))
    }

    fn reflection(&self) -> &dyn BlockReflection {
        self
    }
}

/// A branch of a `case`: its comparisons (`None` for `else`) with the elements of its body.
pub(crate) type CaseBranch = (Option<Arc<[Condition]>>, Vec<Box<dyn Renderable>>);

/// `case` with its branches, in order.
pub(crate) fn case_block(branches: Vec<CaseBranch>) -> Box<dyn Renderable> {
    let branches = branches.into_iter().map(|(conditions, body)| (conditions, Template::new(body))).collect();
    Box::new(Case { branches })
}

#[derive(Debug)]
struct Case {
    branches: Vec<(Option<Arc<[Condition]>>, Template)>,
}

impl Renderable for Case {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        let mut matched = false;
        for (conditions, body) in &self.branches {
            let Some(conditions) = conditions else {
                if !matched {
                    body.render_to(writer, runtime)?;
                }
                continue;
            };
            for condition in conditions.iter() {
                if condition.evaluate(runtime).map_err(Error::with_msg)? {
                    matched = true;
                    body.render_to(writer, runtime)?;
                }
            }
        }
        Ok(())
    }
}
