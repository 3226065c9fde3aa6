//! Jekyll's filters, with Jekyll 4.3's semantics, and the standard filters whose liquid-rust
//! version reads its input differently from Ruby Liquid (`date`, `sort`, `where`).

use std::fmt;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use liquid_core::model::{Object, ObjectView, Value, ValueView};
use liquid_core::parser::{FilterArguments, FilterReflection, Language, ParameterReflection, ParseFilter};
use liquid_core::runtime::{Expression, Runtime, StackFrame};
use liquid_core::{Error, Filter, Result};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use regex::Regex;

use super::Shared;
use crate::urls::has_scheme;

type Func = fn(&Ctx<'_>, &dyn ValueView, &[Value]) -> std::result::Result<Value, String>;

/// What a filter may use besides its input and arguments.
struct Ctx<'a> {
    shared: &'a Shared,
    runtime: &'a dyn Runtime,
}

const FILTERS: &[(&str, Func)] = &[
    ("relative_url", |c, i, _| Ok(nil_or(i, |s| relative_url(&c.shared.baseurl, s)))),
    ("absolute_url", |c, i, _| Ok(nil_or(i, |s| absolute_url(&c.shared.url, &c.shared.baseurl, s)))),
    ("date_to_xmlschema", |c, i, _| date_filter(c, i, |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, false))),
    ("date_to_rfc822", |c, i, _| date_filter(c, i, |t| t.format("%a, %d %b %Y %H:%M:%S %z").to_string())),
    ("date_to_string", |c, i, a| date_filter(c, i, |t| stringify_date(t, "%b", a))),
    ("date_to_long_string", |c, i, a| date_filter(c, i, |t| stringify_date(t, "%B", a))),
    ("date", date),
    ("xml_escape", |_, i, _| Ok(nil_or(i, xml_escape))),
    ("cgi_escape", |_, i, _| Ok(Value::scalar(cgi_escape(&i.to_kstr())))),
    ("uri_escape", |_, i, _| Ok(nil_or(i, uri_escape))),
    ("slugify", |_, i, a| Ok(nil_or(i, |s| slugify(s, arg_str(a, 0).as_deref())))),
    ("markdownify", |c, i, _| Ok(Value::scalar((c.shared.markdownify)(&i.to_kstr())))),
    ("smartify", |c, i, _| Ok(Value::scalar((c.shared.smartify)(&i.to_kstr())))),
    ("jsonify", |_, i, _| Ok(Value::scalar(jsonify(i)))),
    ("where", where_filter),
    ("where_exp", |c, i, a| select_exp(c, i, a, false)),
    ("find", find),
    ("find_exp", |c, i, a| select_exp(c, i, a, true)),
    ("group_by", group_by),
    ("group_by_exp", group_by_exp),
    ("sort", sort),
    ("array_to_sentence_string", array_to_sentence_string),
    ("number_of_words", |_, i, a| Ok(Value::scalar(number_of_words(&i.to_kstr(), arg_str(a, 0).as_deref())))),
    ("normalize_whitespace", |_, i, _| Ok(Value::scalar(i.to_kstr().split_whitespace().collect::<Vec<_>>().join(" ")))),
    ("inspect", |_, i, _| Ok(Value::scalar(xml_escape(&inspect(i))))),
    ("to_integer", |_, i, _| Ok(Value::scalar(to_integer(i)))),
    ("sample", sample),
    (super::prepare::SHOW, |_, i, _| Ok(show(i))),
    // Standard filters whose liquid-rust version differs from Ruby Liquid's.
    ("size", |_, i, _| Ok(Value::scalar(size(i)))),
    ("first", |_, i, _| Ok(i.as_array().and_then(|a| a.first().map(|v| v.to_value())).unwrap_or(Value::Nil))),
    ("last", |_, i, _| Ok(i.as_array().and_then(|a| a.last().map(|v| v.to_value())).unwrap_or(Value::Nil))),
    ("capitalize", |_, i, _| Ok(Value::scalar(capitalize(&ruby_to_s(i))))),
    ("truncate", truncate),
    ("truncatewords", truncatewords),
    ("reverse", |_, i, _| Ok(Value::Array(input_items(i).into_iter().rev().collect()))),
    ("url_encode", |_, i, _| Ok(nil_or(i, cgi_escape))),
    ("split", |_, i, a| Ok(Value::Array(ruby_split(&ruby_to_s(i), &arg_str(a, 0).unwrap_or_default())))),
    ("map", map),
    ("default", default),
    ("plus", |_, i, a| arithmetic(i, a, Op::Plus)),
    ("minus", |_, i, a| arithmetic(i, a, Op::Minus)),
    ("times", |_, i, a| arithmetic(i, a, Op::Times)),
    ("divided_by", |_, i, a| arithmetic(i, a, Op::DividedBy)),
    ("modulo", |_, i, a| arithmetic(i, a, Op::Modulo)),
    // Liquid's own, with the size of the result checked before it is made: one `replace` or
    // `join` can make a value far larger than its input and arguments.
    ("replace", |c, i, a| replace(c, i, a)),
    ("join", |c, i, a| join(c, i, a)),
    ("split", |c, i, a| split(c, i, a)),
];

/// Liquid's `split`, as Ruby's `String#split` does it: `" "` splits on runs of whitespace and
/// ignores leading ones, `""` into characters, anything else on itself; empty strings at the
/// end are dropped.
fn split(c: &Ctx<'_>, input: &dyn ValueView, args: &[Value]) -> std::result::Result<Value, String> {
    let text = if input.is_nil() { Default::default() } else { input.to_kstr() };
    let pattern = arg_str(args, 0).unwrap_or_else(|| " ".to_string());
    // Every piece costs a value besides its text: checked before they are made.
    let most_pieces =
        if pattern.is_empty() { text.chars().count() } else { text.matches(pattern.as_str()).count() + 1 };
    if text.len() + most_pieces.saturating_mul(48) > super::render::values_left(c.runtime.registers()) {
        return Err("the result would be larger than the limit".into());
    }
    let mut pieces: Vec<&str> = if pattern == " " {
        text.split_whitespace().collect()
    } else if pattern.is_empty() {
        text.char_indices().map(|(at, ch)| &text[at..at + ch.len_utf8()]).collect()
    } else {
        text.split(pattern.as_str()).collect()
    };
    while pieces.last().is_some_and(|piece| piece.is_empty()) {
        pieces.pop();
    }
    Ok(Value::Array(pieces.into_iter().map(|piece| Value::scalar(piece.to_string())).collect()))
}

/// Liquid's `replace`: every `search` in the input replaced.
fn replace(c: &Ctx<'_>, input: &dyn ValueView, args: &[Value]) -> std::result::Result<Value, String> {
    let text = if input.is_nil() { Default::default() } else { input.to_kstr() };
    let search = arg_str(args, 0).unwrap_or_default();
    let with = arg_str(args, 1).unwrap_or_default();
    let count = if search.is_empty() { text.chars().count() + 1 } else { text.matches(search.as_str()).count() };
    let size = (text.len() + count.saturating_mul(with.len())).saturating_sub(count * search.len());
    if size > super::render::values_left(c.runtime.registers()) {
        return Err("the result would be larger than the limit".into());
    }
    Ok(Value::scalar(text.replace(search.as_str(), &with)))
}

/// Liquid's `join`: the items as text, with `separator` (a space by default) between them.
fn join(c: &Ctx<'_>, input: &dyn ValueView, args: &[Value]) -> std::result::Result<Value, String> {
    let separator = args.first().map_or_else(|| " ".to_string(), |v| v.to_kstr().to_string());
    // Ruby's `Array#join`: a list inside the list is joined with the same separator, a hash is
    // inspected, nil is empty.
    fn flatten(item: &dyn ValueView, items: &mut Vec<String>) {
        match item.as_array() {
            Some(array) => array.values().for_each(|v| flatten(v, items)),
            None if item.is_nil() => items.push(String::new()),
            None => items.push(show(item).to_kstr().to_string()),
        }
    }
    let mut items = Vec::new();
    match input.as_array() {
        Some(array) => array.values().for_each(|v| flatten(v, &mut items)),
        None if input.is_nil() => {}
        None => items.push(show(input).to_kstr().to_string()),
    }
    let size = items.iter().map(String::len).sum::<usize>() + items.len().saturating_mul(separator.len());
    if size > super::render::values_left(c.runtime.registers()) {
        return Err("the result would be larger than the limit".into());
    }
    Ok(Value::scalar(items.join(&separator)))
}

/// An output value as Ruby's `to_s` shows it where liquid-rust differs: floats keep their `.0`,
/// lists are their items' texts joined, hashes are shown as Ruby's `inspect` shows them
/// (`{"k"=>"v"}`).
pub(crate) fn show(input: &dyn ValueView) -> Value {
    if let Some(array) = input.as_array() {
        let shown: String = array.values().map(|v| show(v).to_kstr().to_string()).collect();
        return Value::scalar(shown);
    }
    if input.as_object().is_some() {
        return Value::scalar(inspect(input));
    }
    match input.as_scalar() {
        Some(s) if s.type_name() == "fractional number" => {
            let f = s.to_float().unwrap_or(0.0);
            Value::scalar(if f.is_finite() && f == f.trunc() && f.abs() < 1e16 {
                format!("{f:.1}")
            } else {
                format!("{f}")
            })
        }
        _ => input.to_value(),
    }
}

/// Ruby Liquid's `InputIterator`: a list's items, a hash or any other value as one item, nothing
/// for nil.
fn input_items(input: &dyn ValueView) -> Vec<Value> {
    match input.as_array() {
        Some(array) => array.values().map(|v| v.to_value()).collect(),
        None if input.is_nil() => Vec::new(),
        None => vec![input.to_value()],
    }
}

/// Liquid's `Utils.to_integer` of an argument, or `default` when it is not given.
fn integer_arg(args: &[Value], i: usize, default: i64) -> std::result::Result<i64, String> {
    let Some(arg) = args.get(i) else { return Ok(default) };
    if let Some(n) = arg.as_scalar().filter(|s| s.type_name() == "whole number").and_then(|s| s.to_integer()) {
        return Ok(n);
    }
    ruby_to_s(arg).trim_matches(super::lexer::is_ruby_space).parse().map_err(|_| "invalid integer".to_owned())
}

/// Ruby Liquid's `truncate`: lengths in characters, the ellipsis's included.
fn truncate(_c: &Ctx<'_>, input: &dyn ValueView, args: &[Value]) -> std::result::Result<Value, String> {
    if input.is_nil() {
        return Ok(Value::Nil);
    }
    let text = ruby_to_s(input);
    let length = integer_arg(args, 0, 50)?;
    let ellipsis = args.get(1).map_or_else(|| "...".to_owned(), |v| ruby_to_s(v));
    if text.chars().count() as i64 <= length {
        return Ok(Value::scalar(text));
    }
    let keep = usize::try_from(length - ellipsis.chars().count() as i64).unwrap_or(0);
    Ok(Value::scalar(text.chars().take(keep).collect::<String>() + &ellipsis))
}

/// Ruby Liquid's `truncatewords`: words are split at runs of whitespace, newlines included (15 by
/// default, at least 1), and joined again by single spaces when some are cut.
fn truncatewords(_c: &Ctx<'_>, input: &dyn ValueView, args: &[Value]) -> std::result::Result<Value, String> {
    if input.is_nil() {
        return Ok(Value::Nil);
    }
    let text = ruby_to_s(input);
    let words = usize::try_from(integer_arg(args, 0, 15)?).unwrap_or(0).max(1);
    let mut list = text.split(super::lexer::is_ruby_space).filter(|w| !w.is_empty());
    let kept: Vec<&str> = list.by_ref().take(words).collect();
    if list.next().is_none() {
        return Ok(Value::scalar(text));
    }
    let ellipsis = args.get(1).map_or_else(|| "...".to_owned(), |v| ruby_to_s(v));
    Ok(Value::scalar(kept.join(" ") + &ellipsis))
}

/// Ruby's `size`: characters of a string, items of a list or hash, 0 for nil; an integer answers
/// its size in bytes, 8, and other values 0.
fn size(input: &dyn ValueView) -> i64 {
    match input.as_scalar().map(|s| s.type_name()) {
        Some("whole number") => return 8,
        Some("fractional number" | "boolean" | "date time" | "date") => return 0,
        _ => {}
    }
    if let Some(array) = input.as_array() {
        return array.size();
    }
    if let Some(object) = input.as_object() {
        return object.size();
    }
    if input.is_nil() {
        return 0;
    }
    input.to_kstr().chars().count() as i64
}

/// Ruby's `String#split`: `" "` splits on runs of whitespace, `""` into characters, and empty
/// strings at the end are dropped.
fn ruby_split(s: &str, separator: &str) -> Vec<Value> {
    let parts: Vec<&str> = match separator {
        " " => s.split_whitespace().collect(),
        "" => s.char_indices().map(|(i, c)| &s[i..i + c.len_utf8()]).collect(),
        sep => {
            let mut parts: Vec<&str> = s.split(sep).collect();
            while parts.last().is_some_and(|p| p.is_empty()) {
                parts.pop();
            }
            parts
        }
    };
    parts.into_iter().map(|p| Value::scalar(p.to_owned())).collect()
}

/// Ruby's `String#capitalize`: the first character up, the rest down.
fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars.flat_map(char::to_lowercase)).collect(),
        None => String::new(),
    }
}

#[derive(Clone, Copy)]
enum Op {
    Plus,
    Minus,
    Times,
    DividedBy,
    Modulo,
}

/// A number as Ruby Liquid's `to_number` reads it: integers stay integers, `"1.5"` is a float,
/// other text its leading integer, anything else 0.
enum Number {
    Int(i64),
    Float(f64),
}

fn to_number(v: &dyn ValueView) -> Number {
    if let Some(s) = v.as_scalar() {
        match s.type_name() {
            "whole number" => return Number::Int(s.to_integer().unwrap_or(0)),
            "fractional number" => return Number::Float(s.to_float().unwrap_or(0.0)),
            "string" => {
                let text = s.to_kstr();
                let t = text.trim();
                let body = t.strip_prefix('-').unwrap_or(t);
                if let Some((int, frac)) = body.split_once('.') {
                    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
                    if digits(int) && digits(frac) {
                        return Number::Float(t.parse().unwrap_or(0.0));
                    }
                }
            }
            _ => {}
        }
    }
    Number::Int(super::tags::ruby_to_i(v))
}

/// `f` as an exact decimal: digits and how many of them are after the point (Ruby Liquid does
/// float math in BigDecimal, from the shortest text of each float).
fn to_decimal(f: f64) -> Option<(i128, u32)> {
    let text = format!("{f}");
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let scale = u32::try_from(frac.len()).ok().filter(|s| *s <= 30)?;
    Some((format!("{int}{frac}").parse().ok()?, scale))
}

fn from_decimal(digits: i128, scale: u32) -> f64 {
    format!("{digits}e-{scale}").parse().unwrap_or(f64::NAN)
}

/// `a op b` in decimal, as BigDecimal computes it and `to_f` returns it; `None` past i128.
fn decimal_op(a: f64, b: f64, op: Op) -> Option<f64> {
    let ((x, xs), (y, ys)) = (to_decimal(a)?, to_decimal(b)?);
    let scale = xs.max(ys);
    let x = x.checked_mul(10i128.checked_pow(scale - xs)?)?;
    let y = y.checked_mul(10i128.checked_pow(scale - ys)?)?;
    match op {
        Op::Plus => Some(from_decimal(x.checked_add(y)?, scale)),
        Op::Minus => Some(from_decimal(x.checked_sub(y)?, scale)),
        Op::Times => Some(from_decimal(x.checked_mul(y)?, scale.checked_mul(2)?)),
        Op::DividedBy | Op::Modulo => None,
    }
}

/// Ruby Liquid's math filters: integer math on integers (floored division and modulo), decimal
/// math otherwise; dividing by zero is an error.
fn arithmetic(input: &dyn ValueView, args: &[Value], op: Op) -> std::result::Result<Value, String> {
    let operand = args.first().map_or(Number::Int(0), |v| to_number(v));
    match (to_number(input), operand) {
        (Number::Int(a), Number::Int(b)) => {
            let result = match op {
                Op::Plus => a.checked_add(b),
                Op::Minus => a.checked_sub(b),
                Op::Times => a.checked_mul(b),
                Op::DividedBy | Op::Modulo if b == 0 => return Err("divided by 0".into()),
                // Ruby rounds toward negative infinity.
                Op::DividedBy => a.checked_div(b).map(|q| if a % b != 0 && ((a < 0) != (b < 0)) { q - 1 } else { q }),
                Op::Modulo => a.checked_rem(b).map(|r| if r != 0 && ((r < 0) != (b < 0)) { r + b } else { r }),
            };
            result.map(Value::scalar).ok_or_else(|| "the number is too large".into())
        }
        (a, b) => {
            let float = |n: Number| match n {
                Number::Int(i) => i as f64,
                Number::Float(f) => f,
            };
            let (a, b) = (float(a), float(b));
            if let Some(exact) = decimal_op(a, b, op) {
                return Ok(Value::scalar(exact));
            }
            let result = match op {
                Op::Plus => a + b,
                Op::Minus => a - b,
                Op::Times => a * b,
                Op::DividedBy if b == 0.0 => return Err("divided by 0".into()),
                Op::DividedBy => a / b,
                Op::Modulo if b == 0.0 => return Err("divided by 0".into()),
                Op::Modulo => a - b * (a / b).floor(),
            };
            Ok(Value::scalar(result))
        }
    }
}

pub(crate) fn register(language: &mut Language, shared: &Arc<Shared>) {
    use liquid_lib::stdlib;
    let standard: Vec<Box<dyn ParseFilter>> = vec![
        Box::new(stdlib::Abs),
        Box::new(stdlib::Append),
        Box::new(stdlib::AtLeast),
        Box::new(stdlib::AtMost),
        Box::new(stdlib::Capitalize),
        Box::new(stdlib::Ceil),
        Box::new(stdlib::Compact),
        Box::new(stdlib::Concat),
        Box::new(stdlib::DividedBy),
        Box::new(stdlib::Downcase),
        Box::new(stdlib::Escape),
        Box::new(stdlib::EscapeOnce),
        Box::new(stdlib::First),
        Box::new(stdlib::Floor),
        Box::new(stdlib::Last),
        Box::new(stdlib::Lstrip),
        Box::new(stdlib::Minus),
        Box::new(stdlib::Modulo),
        Box::new(stdlib::NewlineToBr),
        Box::new(stdlib::Plus),
        Box::new(stdlib::Prepend),
        Box::new(stdlib::Remove),
        Box::new(stdlib::RemoveFirst),
        Box::new(stdlib::ReplaceFirst),
        Box::new(stdlib::Reverse),
        Box::new(stdlib::Round),
        Box::new(stdlib::Rstrip),
        Box::new(stdlib::Size),
        Box::new(stdlib::Slice),
        Box::new(stdlib::SortNatural),
        Box::new(stdlib::Strip),
        Box::new(stdlib::StripHtml),
        Box::new(stdlib::StripNewlines),
        Box::new(stdlib::Times),
        Box::new(stdlib::Truncate),
        Box::new(stdlib::TruncateWords),
        Box::new(stdlib::Uniq),
        Box::new(stdlib::Upcase),
        Box::new(stdlib::UrlDecode),
        Box::new(stdlib::UrlEncode),
        Box::new(liquid_lib::jekyll::Push),
        Box::new(liquid_lib::jekyll::Pop),
        Box::new(liquid_lib::jekyll::Shift),
        Box::new(liquid_lib::jekyll::Unshift),
    ];
    for filter in standard {
        let name = filter.reflection().name().to_owned();
        let fallback = Fallback::of(&name);
        language.filters.register(name, Box::new(Lenient { inner: filter, fallback }));
    }
    for &(name, func) in FILTERS {
        language.filters.register(name.to_owned(), Box::new(JekyllFilter { name, func, shared: shared.clone() }));
    }
}

/// What Ruby Liquid makes of an input that liquid-rust's version of a standard filter rejects
/// (nil, or text where a number is expected): the filter is tried again on that.
#[derive(Clone, Copy, Debug)]
enum Fallback {
    /// Math filters read any input as a number (`nil` and `"abc"` are 0).
    Number,
    /// `first`/`last` of what is not a list is nil.
    Nil,
    /// `size` of what has none is 0.
    Zero,
    /// List filters read nil as an empty list.
    List,
    /// String filters read nil as "".
    Text,
}

impl Fallback {
    fn of(name: &str) -> Fallback {
        match name {
            "plus" | "minus" | "times" | "divided_by" | "modulo" | "at_least" | "at_most" | "abs" | "ceil"
            | "floor" | "round" => Fallback::Number,
            "first" | "last" => Fallback::Nil,
            "size" => Fallback::Zero,
            "join" | "sort_natural" | "uniq" | "reverse" | "compact" | "concat" | "push" | "pop" | "shift"
            | "unshift" => Fallback::List,
            _ => Fallback::Text,
        }
    }
}

/// A liquid-rust standard filter made as forgiving of its input as Ruby Liquid's.
#[derive(Clone)]
struct Lenient {
    inner: Box<dyn ParseFilter>,
    fallback: Fallback,
}

impl ParseFilter for Lenient {
    fn parse(&self, arguments: FilterArguments<'_>) -> Result<Box<dyn Filter>> {
        Ok(Box::new(LenientCall { inner: self.inner.parse(arguments)?, fallback: self.fallback }))
    }
    fn reflection(&self) -> &dyn FilterReflection {
        self.inner.reflection()
    }
}

#[derive(Debug)]
struct LenientCall {
    inner: Box<dyn Filter>,
    fallback: Fallback,
}

impl fmt::Display for LenientCall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Filter for LenientCall {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        charged(runtime, self.evaluate_leniently(input, runtime))
    }
}

/// A filter's result, charged to the render's budget for values.
fn charged(runtime: &dyn Runtime, result: Result<Value>) -> Result<Value> {
    let value = result?;
    if super::render::charge_values(runtime.registers(), super::render::value_bytes(&value)) {
        Ok(value)
    } else {
        Err(Error::with_msg("values larger than the limit"))
    }
}

impl LenientCall {
    fn evaluate_leniently(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let error = match self.inner.evaluate(input, runtime) {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let substitute = match self.fallback {
            Fallback::Number => {
                let number = input.as_scalar().and_then(|s| s.to_float().filter(|_| s.to_integer().is_none()));
                match number {
                    Some(f) => Value::scalar(f),
                    None => Value::scalar(super::tags::ruby_to_i(input)),
                }
            }
            Fallback::Nil if input.as_array().is_none() => return Ok(Value::Nil),
            Fallback::Zero => return Ok(Value::scalar(0i64)),
            Fallback::List if input.is_nil() => Value::Array(Vec::new()),
            Fallback::Text if input.is_nil() => Value::scalar(""),
            _ => return Err(error),
        };
        if substitute == input.to_value() {
            return Err(error);
        }
        self.inner.evaluate(&substitute, runtime)
    }
}

#[derive(Clone)]
struct JekyllFilter {
    name: &'static str,
    func: Func,
    shared: Arc<Shared>,
}

impl FilterReflection for JekyllFilter {
    fn name(&self) -> &str {
        self.name
    }
    fn description(&self) -> &str {
        "a Jekyll filter"
    }
    fn positional_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
    fn keyword_parameters(&self) -> &'static [ParameterReflection] {
        &[]
    }
}

impl ParseFilter for JekyllFilter {
    fn parse(&self, arguments: FilterArguments<'_>) -> Result<Box<dyn Filter>> {
        let args = arguments.positional.collect();
        let keywords = arguments.keyword.map(|(name, value)| (name.to_owned(), value)).collect();
        Ok(Box::new(Call { name: self.name, func: self.func, args, keywords, shared: self.shared.clone() }))
    }
    fn reflection(&self) -> &dyn FilterReflection {
        self
    }
}

struct Call {
    name: &'static str,
    func: Func,
    args: Vec<Expression>,
    /// `name: value` arguments, which Ruby Liquid passes as a hash after the others.
    keywords: Vec<(String, Expression)>,
    shared: Arc<Shared>,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call").field("name", &self.name).field("args", &self.args).finish()
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl Filter for Call {
    fn evaluate(&self, input: &dyn ValueView, runtime: &dyn Runtime) -> Result<Value> {
        let value = |e: &Expression| e.try_evaluate(runtime).map_or(Value::Nil, |v| v.into_owned());
        let mut args: Vec<Value> = self.args.iter().map(value).collect();
        if !self.keywords.is_empty() {
            let options: Object = self.keywords.iter().map(|(k, e)| (k.clone().into(), value(e))).collect();
            args.push(Value::Object(options));
        }
        let ctx = Ctx { shared: &self.shared, runtime };
        let result = (self.func)(&ctx, input, &args)
            .map_err(|message| Error::with_msg(format!("filter `{}`: {message}", self.name)));
        charged(runtime, result)
    }
}

fn nil_or(input: &dyn ValueView, f: impl FnOnce(&str) -> String) -> Value {
    if input.is_nil() {
        Value::Nil
    } else {
        Value::scalar(f(&input.to_kstr()))
    }
}

fn arg_str(args: &[Value], i: usize) -> Option<String> {
    args.get(i).filter(|v| !v.is_nil()).map(|v| v.to_kstr().to_string())
}

/// Jekyll's `relative_url`: absolute URLs as they are, anything else under the baseurl.
pub(crate) fn relative_url(baseurl: &str, input: &str) -> String {
    if has_scheme(input) {
        return input.to_owned();
    }
    let base = baseurl.trim_end_matches('/');
    let mut joined = String::with_capacity(base.len() + input.len() + 2);
    for part in [base, input] {
        if !part.is_empty() && !part.starts_with('/') {
            joined.push('/');
        }
        joined.push_str(part);
    }
    normalize_url(&joined)
}

/// Jekyll's `absolute_url`: the site URL before the relative URL.
pub(crate) fn absolute_url(url: &str, baseurl: &str, input: &str) -> String {
    if has_scheme(input) {
        return input.to_owned();
    }
    let relative = relative_url(baseurl, input);
    if url.is_empty() {
        return relative;
    }
    normalize_url(&format!("{url}{relative}"))
}

/// Characters Addressable's normalization percent-encodes in a URL: controls, space, non-ASCII and
/// the few ASCII characters a URL never holds as they are.
const URL_ESCAPE: &AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'<')
    .add(b'>')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

fn normalize_url(url: &str) -> String {
    // Keep existing escapes: encode only what is not already a valid URL character.
    utf8_percent_encode(url, URL_ESCAPE).to_string()
}

/// Any input Jekyll's date filters accept, as a time (`None` for what Ruby cannot read as a date).
pub(crate) fn to_time(
    input: &dyn ValueView,
    zone: Option<chrono_tz::Tz>,
    now: DateTime<FixedOffset>,
) -> Option<DateTime<FixedOffset>> {
    let scalar = input.as_scalar()?;
    match scalar.type_name() {
        "date time" => {
            let t = scalar.to_date_time()?;
            let offset = FixedOffset::east_opt(t.offset().whole_seconds())?;
            offset.timestamp_opt(t.unix_timestamp(), t.nanosecond()).single()
        }
        "date" => {
            let d = scalar.to_date()?;
            let naive = NaiveDate::from_ymd_opt(d.year(), d.month().into(), d.day().into())?.and_hms_opt(0, 0, 0)?;
            local(naive, zone)
        }
        "whole number" => epoch(scalar.to_integer()?, zone),
        // Liquid reads a string of digits as seconds since 1970 too.
        _ if !scalar.to_kstr().is_empty() && scalar.to_kstr().bytes().all(|b| b.is_ascii_digit()) => {
            epoch(scalar.to_kstr().parse().ok()?, zone)
        }
        _ => parse_time(scalar.to_kstr().trim(), zone, now),
    }
}

/// Seconds since 1970 as a time in the site's zone, as Ruby's `Time.at` gives it.
fn epoch(seconds: i64, zone: Option<chrono_tz::Tz>) -> Option<DateTime<FixedOffset>> {
    let t = Utc.timestamp_opt(seconds, 0).single()?;
    Some(match zone {
        Some(tz) => t.with_timezone(&tz).fixed_offset(),
        None => t.fixed_offset(),
    })
}

fn local(naive: NaiveDateTime, zone: Option<chrono_tz::Tz>) -> Option<DateTime<FixedOffset>> {
    match zone {
        Some(tz) => tz.from_local_datetime(&naive).earliest().map(|t| t.fixed_offset()),
        None => Some(Utc.from_utc_datetime(&naive).fixed_offset()),
    }
}

/// A date text as Liquid's `Time.parse` reads it (see `post::ruby_time`); `now` and `today` are
/// `now`, and a time without a zone is in the site's.
fn parse_time(s: &str, zone: Option<chrono_tz::Tz>, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
    if s.eq_ignore_ascii_case("now") || s.eq_ignore_ascii_case("today") {
        return Some(now);
    }
    crate::post::ruby_time::parse(s, zone.unwrap_or(chrono_tz::UTC))
}

pub(crate) fn to_liquid_time(t: DateTime<FixedOffset>) -> liquid_core::model::DateTime {
    let mut out = liquid_core::model::DateTime::now();
    let offset = time::UtcOffset::from_whole_seconds(t.offset().local_minus_utc()).unwrap_or(time::UtcOffset::UTC);
    if let Ok(odt) = time::OffsetDateTime::from_unix_timestamp(t.timestamp()) {
        *out = odt.to_offset(offset);
    }
    out
}

/// A Jekyll date filter: the input in the site's zone, formatted; nil and empty stay as they are.
fn date_filter(
    c: &Ctx<'_>,
    input: &dyn ValueView,
    format: impl FnOnce(DateTime<FixedOffset>) -> String,
) -> std::result::Result<Value, String> {
    if input.is_nil() || input.to_kstr().is_empty() {
        return Ok(input.to_value());
    }
    let now = c.shared.site.time();
    let t =
        to_time(input, c.shared.timezone, now).ok_or_else(|| format!("`{}` is not a valid date", input.to_kstr()))?;
    let t = match c.shared.timezone {
        Some(tz) => t.with_timezone(&tz).fixed_offset(),
        None => t.with_timezone(&Utc).fixed_offset(),
    };
    Ok(Value::scalar(format(t)))
}

fn stringify_date(t: DateTime<FixedOffset>, month: &str, args: &[Value]) -> String {
    let month = t.format(month).to_string();
    if arg_str(args, 0).as_deref() == Some("ordinal") {
        let day = t.day();
        let suffix = match (day % 100, day % 10) {
            (11..=13, _) => "th",
            (_, 1) => "st",
            (_, 2) => "nd",
            (_, 3) => "rd",
            _ => "th",
        };
        if arg_str(args, 1).as_deref() == Some("US") {
            return format!("{month} {day}{suffix}, {}", t.year());
        }
        return format!("{day}{suffix} {month} {}", t.year());
    }
    format!("{} {month} {}", t.format("%d"), t.year())
}

/// Liquid's `date`: Ruby's strftime on the input as it is (its own offset); unreadable input and an
/// empty format give the input back.
fn date(c: &Ctx<'_>, input: &dyn ValueView, args: &[Value]) -> std::result::Result<Value, String> {
    let format = arg_str(args, 0).unwrap_or_default();
    if format.is_empty() {
        return Ok(input.to_value());
    }
    let Some(t) = to_time(input, c.shared.timezone, c.shared.site.time()) else { return Ok(input.to_value()) };
    // liquid-rust writes an offset for `%Z`; Ruby writes the zone's name.
    let format = with_zone_name(&format, || zone_name(input, t, c.shared.timezone));
    to_liquid_time(t).format(&format).map(Value::scalar).map_err(|e| e.to_string())
}

/// Ruby's `Time#zone` for `t`, read from `input` by [`to_time`]: `UTC` for a text that says UTC;
/// else the name of the site's zone (`CST`, `CEST`; `UTC` without one) when `t` has its offset,
/// since Ruby's `Time.parse` keeps the local zone for any offset it can show; else none, as
/// for a fixed offset in Ruby.
fn zone_name(input: &dyn ValueView, t: DateTime<FixedOffset>, zone: Option<chrono_tz::Tz>) -> String {
    let says_utc = input.as_scalar().is_some_and(|s| s.type_name() == "string" && text_says_utc(&s.to_kstr()));
    if says_utc {
        return "UTC".to_owned();
    }
    let (local_offset, local_name) = match zone {
        Some(tz) => {
            let local = t.with_timezone(&tz);
            (chrono::Offset::fix(local.offset()).local_minus_utc(), local.format("%Z").to_string())
        }
        None => (0, "UTC".to_owned()),
    };
    if t.offset().local_minus_utc() == local_offset {
        local_name
    } else {
        String::new()
    }
}

/// Whether a date text ends in a zone Ruby's `Time.parse` reads as UTC itself (`zone_utc?`):
/// `Z`, `UTC`, `UT`, `-00:00`, `-0000` or `-00`. (`GMT` and `+0000` are the local zone when it has
/// that offset, else a fixed offset.)
fn text_says_utc(text: &str) -> bool {
    let upper = text.trim_end().to_ascii_uppercase();
    let after_time = |before: &str| before.contains(':') && before.ends_with(|c: char| c.is_ascii_digit());
    let after_date = |before: &str| before.ends_with(|c: char| c.is_ascii_digit() || c == ' ');
    ["-00:00", "-0000", "-00"].iter().any(|zone| upper.strip_suffix(zone).is_some_and(after_time))
        || ["UTC", "UT", "Z"].iter().any(|zone| upper.strip_suffix(zone).is_some_and(after_date))
}

/// `format` with each `%Z` (with its flags and width: `%^Z`, `%-10Z`) replaced by the zone's
/// name, asked for only when there is one.
fn with_zone_name<'f>(format: &'f str, name: impl FnOnce() -> String) -> std::borrow::Cow<'f, str> {
    if !format.contains('Z') {
        return std::borrow::Cow::Borrowed(format);
    }
    let mut name = Some(name);
    let mut zone = String::new();
    let mut out = String::with_capacity(format.len());
    let mut rest = format;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let spec = &rest[at + 1..];
        let flags_len = spec.bytes().take_while(|b| b"-_0^#".contains(b)).count();
        let width_len = spec[flags_len..].bytes().take_while(u8::is_ascii_digit).count();
        let end = flags_len + width_len;
        if spec[end..].starts_with('Z') {
            if let Some(name) = name.take() {
                zone = name();
            }
            let flags = &spec[..flags_len];
            let mut shown = if flags.contains('^') {
                zone.to_uppercase()
            } else if flags.contains('#') {
                zone.to_lowercase()
            } else {
                zone.clone()
            };
            let width: usize = spec[flags_len..end].parse().unwrap_or(0);
            // Ruby pads a zone's name, but not the lack of one.
            if !flags.contains('-') && !shown.is_empty() && width > shown.chars().count() {
                let pad = if flags.contains('0') { "0" } else { " " };
                shown = pad.repeat(width - shown.chars().count()) + &shown;
            }
            out.push_str(&shown.replace('%', "%%"));
            rest = &spec[end + 1..];
        } else {
            // `%%` and every other conversion are copied for liquid-rust's strftime.
            let copied = if spec.starts_with('%') { 2 } else { 1 };
            out.push_str(&rest[at..at + copied.min(rest.len() - at)]);
            rest = &rest[at + copied.min(rest.len() - at)..];
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Jekyll's `xml_escape`: `&`, `<`, `>`, `"` and `'` as entities.
pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const CGI_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'_').remove(b'.').remove(b'-').remove(b'~').remove(b' ');

/// Ruby's `CGI.escape`: form encoding, space as `+`.
fn cgi_escape(s: &str) -> String {
    utf8_percent_encode(s, CGI_ESCAPE).to_string().replace(' ', "+")
}

/// Addressable's `normalize_component`: what a URL cannot hold is percent-encoded, the rest kept.
fn uri_escape(s: &str) -> String {
    normalize_url(s)
}

static SLUG_DEFAULT: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[^\p{M}\p{L}\p{Nd}]+").expect("valid"));
static SLUG_PRETTY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[^\p{M}\p{L}\p{Nd}._~!$&'()+,;=@]+").expect("valid"));
static SLUG_ASCII: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[^A-Za-z0-9]+").expect("valid"));
static SLUG_RAW: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").expect("valid"));

/// Jekyll's `slugify` with its modes (`raw`, `default`, `pretty`, `ascii`, `latin`, `none`).
pub(crate) fn slugify(s: &str, mode: Option<&str>) -> String {
    let mode = mode.unwrap_or("default");
    let latin;
    let (regex, text) = match mode {
        "raw" => (&*SLUG_RAW, s),
        "default" => (&*SLUG_DEFAULT, s),
        "pretty" => (&*SLUG_PRETTY, s),
        "ascii" => (&*SLUG_ASCII, s),
        "latin" => {
            latin = deunicode::deunicode_with_tofu(s, "?");
            (&*SLUG_ASCII, latin.as_str())
        }
        _ => return s.to_lowercase(),
    };
    let slug = regex.replace_all(text, "-");
    let slug = slug.strip_prefix('-').unwrap_or(&slug);
    let slug = slug.strip_suffix('-').unwrap_or(slug);
    slug.to_lowercase()
}

/// Ruby's `to_json` of a Liquid value.
fn jsonify(input: &dyn ValueView) -> String {
    serde_json::to_string(&to_json(input)).unwrap_or_default()
}

fn to_json(v: &dyn ValueView) -> serde_json::Value {
    if let Some(array) = v.as_array() {
        return serde_json::Value::Array(array.values().map(to_json).collect());
    }
    if let Some(object) = v.as_object() {
        return serde_json::Value::Object(object.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect());
    }
    let Some(scalar) = v.as_scalar() else { return serde_json::Value::Null };
    match scalar.type_name() {
        "whole number" => scalar.to_integer().map_or(serde_json::Value::Null, Into::into),
        "fractional number" => scalar.to_float().map_or(serde_json::Value::Null, Into::into),
        "boolean" => scalar.to_bool().map_or(serde_json::Value::Null, Into::into),
        "date time" => scalar
            .to_date_time()
            .map_or(serde_json::Value::Null, |t| t.format("%Y-%m-%d %H:%M:%S %z").unwrap_or_default().into()),
        _ => serde_json::Value::String(scalar.to_kstr().to_string()),
    }
}

/// The items of an array, or the values of a hash (as Jekyll's array filters take them).
fn items(input: &dyn ValueView) -> Option<Vec<&dyn ValueView>> {
    if let Some(array) = input.as_array() {
        return Some(array.values().collect());
    }
    input.as_object().map(|o| sorted_pairs(o).into_iter().map(|(_, v)| v).collect())
}

/// An object's entries by key: liquid-rust's objects forget their order, and a fixed one keeps the
/// output the same from run to run.
fn sorted_pairs(object: &dyn ObjectView) -> Vec<(liquid_core::model::KStringCow<'_>, &dyn ValueView)> {
    let mut pairs: Vec<_> = object.iter().collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    pairs
}

/// A property of an item by a dotted path, with Jekyll's reading of numbers in strings.
fn item_property(item: &dyn ValueView, property: &str) -> Value {
    // Walked by reference: only the property found is copied, never the whole item.
    fn step<'v>(value: &'v dyn ValueView, key: &str) -> Option<&'v dyn ValueView> {
        if let Some(object) = value.as_object() {
            object.get(key)
        } else {
            let index = key.parse::<usize>().ok().and_then(|i| i64::try_from(i).ok())?;
            value.as_array()?.get(index)
        }
    }
    let mut current = Some(item);
    for key in property.split('.') {
        current = current.and_then(|v| step(v, key));
    }
    let value = current.map_or(Value::Nil, ValueView::to_value);
    if let Value::Scalar(s) = &value {
        if s.type_name() == "string" {
            let text = s.to_kstr();
            if let Ok(i) = text.parse::<i64>() {
                if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                    return Value::scalar(i);
                }
            }
            if let Ok(f) = text.parse::<f64>() {
                if text.contains('.') && text.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b'.') {
                    return Value::scalar(f);
                }
            }
        }
    }
    value
}

/// Ruby's `to_s` of a Liquid value, as used when Jekyll compares properties.
fn ruby_to_s(v: &dyn ValueView) -> String {
    if v.is_nil() {
        return String::new();
    }
    if let Some(array) = v.as_array() {
        return array.values().map(ruby_to_s).collect();
    }
    v.to_kstr().to_string()
}

/// Jekyll's `compare_property_vs_target`.
///
/// `target` is the target's `to_s`, made once for all the items; `None` for a nil target.
fn property_matches(property: &Value, target: Option<&str>) -> bool {
    let Some(target) = target else { return property.is_nil() };
    match property {
        Value::Scalar(s) if s.type_name() == "string" => s.to_kstr() == target,
        Value::Array(a) => a.iter().any(|p| ruby_to_s(p) == target),
        Value::Nil => false,
        other => ruby_to_s(other) == target,
    }
}

/// The `to_s` of a `where` or `find` target, as [`property_matches`] takes it.
fn target_text(target: &Value) -> Option<String> {
    (!target.is_nil()).then(|| ruby_to_s(target))
}

fn where_filter(_c: &Ctx<'_>, input: &dyn ValueView, args: &[Value]) -> std::result::Result<Value, String> {
    let Some(property) = arg_str(args, 0) else { return Ok(input.to_value()) };
    let target = args.get(1).cloned().unwrap_or(Value::Nil);
    if matches!(target, Value::Array(_) | Value::Object(_)) {
        return Ok(input.to_value());
    }
    let Some(items) = items(input) else { return Ok(input.to_value()) };
    let target = target_text(&target);
    let kept = items
        .into_iter()
        .filter(|item| property_matches(&item_property(*item, &property), target.as_deref()))
        .map(|i| i.to_value());
    Ok(Value::Array(kept.collect()))
}

fn find(_c: &Ctx<'_>, input: &dyn ValueView, args: &[Value]) -> std::result::Result<Value, String> {
    let Some(property) = arg_str(args, 0) else { return Ok(input.to_value()) };
    let target = args.get(1).cloned().unwrap_or(Value::Nil);
    let Some(items) = items(input) else { return Ok(input.to_value()) };
    let target = target_text(&target);
    Ok(items
        .into_iter()
        .find(|item| property_matches(&item_property(*item, &property), target.as_deref()))
        .map_or(Value::Nil, |i| i.to_value()))
}

/// A condition or expression from a filter argument, parsed with the site's language.
fn parse_exp(c: &Ctx<'_>, template: &str) -> std::result::Result<liquid_core::runtime::Template, String> {
    let language = c.shared.language().ok_or("the engine is gone")?;
    liquid_core::parser::parse(template, &language)
        .map(liquid_core::runtime::Template::new)
        .map_err(|e| format!("cannot read `{template}`: {}", e.to_string().lines().next().unwrap_or("")))
}

fn render_with(
    c: &Ctx<'_>,
    template: &liquid_core::runtime::Template,
    variable: &str,
    item: &dyn ValueView,
) -> std::result::Result<String, String> {
    let mut scope = Object::new();
    scope.insert(super::lexer::renamed(variable).into_owned().into(), item.to_value());
    let frame = super::render::lax(StackFrame::new(c.runtime, &scope));
    liquid_core::Renderable::render(template, &frame).map_err(|e| e.to_string())
}

/// `where_exp` (all matches) and `find_exp` (the first), with the condition read as Jekyll reads it
/// (Liquid's strict parser) and evaluated as `if` evaluates it.
fn select_exp(c: &Ctx<'_>, input: &dyn ValueView, args: &[Value], first: bool) -> std::result::Result<Value, String> {
    use super::condition::{self, Context};
    let (Some(variable), Some(expression)) = (arg_str(args, 0), arg_str(args, 1)) else { return Ok(input.to_value()) };
    let Some(items) = items(input) else { return Ok(input.to_value()) };
    let condition = condition::parse(&super::lexer::normalize(&expression), Context::WhereExp)
        .map_err(|e| format!("cannot read `{expression}`: {e}"))?;
    let variable = super::lexer::renamed(&variable).into_owned();
    let mut kept = Vec::new();
    for item in items {
        let mut scope = Object::new();
        scope.insert(variable.clone().into(), item.to_value());
        let frame = super::render::lax(StackFrame::new(c.runtime, &scope));
        if condition.evaluate(&frame)? {
            if first {
                return Ok(item.to_value());
            }
            kept.push(item.to_value());
        }
    }
    Ok(if first { Value::Nil } else { Value::Array(kept) })
}

fn grouped(groups: Vec<(String, Vec<Value>)>) -> Value {
    Value::Array(
        groups
            .into_iter()
            .map(|(name, items)| {
                let mut group = Object::new();
                group.insert("name".into(), Value::scalar(name));
                group.insert("size".into(), Value::scalar(items.len() as i64));
                group.insert("items".into(), Value::Array(items));
                Value::Object(group)
            })
            .collect(),
    )
}

fn push_group(groups: &mut Vec<(String, Vec<Value>)>, name: String, item: Value) {
    match groups.iter_mut().find(|(n, _)| *n == name) {
        Some((_, list)) => list.push(item),
        None => groups.push((name, vec![item])),
    }
}

fn group_by(_c: &Ctx<'_>, input: &dyn ValueView, args: &[Value]) -> std::result::Result<Value, String> {
    let property = arg_str(args, 0).unwrap_or_default();
    let Some(items) = items(input) else { return Ok(input.to_value()) };
    let mut groups = Vec::new();
    for item in items {
        push_group(&mut groups, ruby_to_s(&item_property(item, &property)), item.to_value());
    }
    Ok(grouped(groups))
}

fn group_by_exp(c: &Ctx<'_>, input: &dyn ValueView, args: &[Value]) -> std::result::Result<Value, String> {
    let (Some(variable), Some(expression)) = (arg_str(args, 0), arg_str(args, 1)) else { return Ok(input.to_value()) };
    let Some(items) = items(input) else { return Ok(input.to_value()) };
    let template = parse_exp(c, &format!("{{{{ {} }}}}", super::lexer::normalize(&expression)))?;
    let mut groups = Vec::new();
    for item in items {
        push_group(&mut groups, render_with(c, &template, &variable, item)?, item.to_value());
    }
    Ok(grouped(groups))
}

/// Ruby's `<=>` on the values Jekyll sorts: numbers with numbers, otherwise by their text.
fn compare(a: &Value, b: &Value) -> std::cmp::Ordering {
    let number = |v: &Value| {
        v.as_scalar()
            .filter(|s| matches!(s.type_name(), "whole number" | "fractional number"))
            .and_then(|s| s.to_float())
    };
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Equal),
        _ => match (a.as_scalar(), b.as_scalar()) {
            // A scalar's `to_s` is its text, here borrowed rather than copied for each comparison.
            (Some(x), Some(y)) => x.to_kstr().as_str().cmp(y.to_kstr().as_str()),
            _ => ruby_to_s(a).cmp(&ruby_to_s(b)),
        },
    }
}

fn sort(_c: &Ctx<'_>, input: &dyn ValueView, args: &[Value]) -> std::result::Result<Value, String> {
    if input.is_nil() {
        return Err("cannot sort a null object".into());
    }
    let property = arg_str(args, 0);
    if let (Some(object), None) = (input.as_object(), &property) {
        // Ruby's `Hash#sort`: the `[key, value]` pairs, by key (`site.tags | sort`).
        let pairs = sorted_pairs(object).into_iter();
        return Ok(Value::Array(
            pairs.map(|(k, v)| Value::Array(vec![Value::scalar(k.into_owned()), v.to_value()])).collect(),
        ));
    }
    let Some(items) = items(input) else { return Ok(input.to_value()) };
    let mut values: Vec<Value> = items.into_iter().map(|v| v.to_value()).collect();
    match property {
        None => values.sort_by(compare),
        Some(property) => {
            let nils_first = match arg_str(args, 1).as_deref() {
                None | Some("first") => true,
                Some("last") => false,
                Some(other) => return Err(format!("invalid nils order `{other}`: it must be `first` or `last`")),
            };
            let mut keyed: Vec<(Value, Value)> =
                values.into_iter().map(|v| (item_property(&v, &property), v)).collect();
            keyed.sort_by(|(a, _), (b, _)| match (a.is_nil(), b.is_nil()) {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) if nils_first => std::cmp::Ordering::Less,
                (true, false) => std::cmp::Ordering::Greater,
                (false, true) if nils_first => std::cmp::Ordering::Greater,
                (false, true) => std::cmp::Ordering::Less,
                (false, false) => compare(a, b),
            });
            values = keyed.into_iter().map(|(_, v)| v).collect();
        }
    }
    Ok(Value::Array(values))
}

fn array_to_sentence_string(_c: &Ctx<'_>, input: &dyn ValueView, args: &[Value]) -> std::result::Result<Value, String> {
    let connector = arg_str(args, 0).unwrap_or_else(|| "and".into());
    let Some(array) = input.as_array() else { return Ok(input.to_value()) };
    let words: Vec<String> = array.values().map(ruby_to_s).collect();
    Ok(Value::scalar(match words.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [a, b] => format!("{a} {connector} {b}"),
        [init @ .., last] => format!("{}, {connector} {last}", init.join(", ")),
    }))
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x2E80..=0x2FDF | 0x3005 | 0x3007 | 0x3021..=0x3029 | 0x3038..=0x303B | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF | 0x20000..=0x2FFFF | 0x30000..=0x3134F
        | 0x3041..=0x309F | 0x30A0..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9D
        | 0x1100..=0x11FF | 0x3130..=0x318F | 0xA960..=0xA97F | 0xAC00..=0xD7AF | 0xD7B0..=0xD7FF | 0xFFA0..=0xFFDC)
}

/// Jekyll's `number_of_words`: whitespace-separated words, or with `cjk`/`auto` each CJK character
/// counted as a word.
fn number_of_words(s: &str, mode: Option<&str>) -> i64 {
    let cjk = || s.chars().filter(|c| is_cjk(*c)).count() as i64;
    let others = || s.split(|c: char| c.is_whitespace() || is_cjk(c)).filter(|w| !w.is_empty()).count() as i64;
    match mode {
        Some("cjk") => cjk() + others(),
        Some("auto") => match cjk() {
            0 => s.split_whitespace().count() as i64,
            n => n + others(),
        },
        _ => s.split_whitespace().count() as i64,
    }
}

/// Liquid's `map`: the property of each item of a list (nested lists flattened), of a hash as a
/// list of one, of nothing for nil; a string item gives the property's text if it holds it (Ruby's
/// `String#[]`), an item without properties nil.
fn map(_c: &Ctx<'_>, input: &dyn ValueView, args: &[Value]) -> std::result::Result<Value, String> {
    fn flatten<'v>(v: &'v dyn ValueView, out: &mut Vec<&'v dyn ValueView>) {
        match v.as_array() {
            Some(array) => array.values().for_each(|item| flatten(item, out)),
            None => out.push(v),
        }
    }
    let property = args.first().map(|p| ruby_to_s(p)).unwrap_or_default();
    let mut items = Vec::new();
    if !input.is_nil() {
        flatten(input, &mut items);
    }
    let mut mapped = Vec::with_capacity(items.len());
    for item in items {
        let value = if property == "to_liquid" {
            item.to_value()
        } else if let Some(object) = item.as_object() {
            object.get(&property).map_or(Value::Nil, |v| v.to_value())
        } else {
            match item.as_scalar() {
                Some(s) if s.type_name() == "string" => {
                    if s.to_kstr().contains(property.as_str()) {
                        Value::scalar(property.clone())
                    } else {
                        Value::Nil
                    }
                }
                Some(s) if s.type_name() == "whole number" => {
                    return Err(format!("cannot select the property '{property}'"));
                }
                _ => Value::Nil,
            }
        };
        mapped.push(value);
    }
    Ok(Value::Array(mapped))
}

/// Jekyll's `sample`, made deterministic: the first item of a list (Jekyll picks one at random),
/// or with a count the first that many; anything but a list as it is.
fn sample(_c: &Ctx<'_>, input: &dyn ValueView, args: &[Value]) -> std::result::Result<Value, String> {
    let Some(array) = input.as_array() else { return Ok(input.to_value()) };
    // Liquid's `to_integer`, and 1 where it fails, as Jekyll rescues it.
    let count = match args.first().and_then(|a| a.as_scalar()) {
        None => 1,
        Some(n) if n.type_name() == "whole number" => n.to_integer().unwrap_or(1),
        Some(n) if n.type_name() == "string" => n.to_kstr().trim().parse::<i64>().unwrap_or(1),
        Some(_) => 1,
    };
    if count == 1 {
        return Ok(array.first().map_or(Value::Nil, |v| v.to_value()));
    }
    let count = usize::try_from(count).map_err(|_| "negative sample number".to_owned())?;
    Ok(Value::Array(array.values().take(count).map(|v| v.to_value()).collect()))
}

/// Liquid's `default`: the fallback (`""` without one) for nil, false, and an empty string, list or
/// hash; with `allow_false: true`, false is kept.
fn default(_c: &Ctx<'_>, input: &dyn ValueView, args: &[Value]) -> std::result::Result<Value, String> {
    let fallback = args.first().cloned().unwrap_or_else(|| Value::scalar(""));
    let allow_false = args
        .get(1)
        .and_then(|options| options.as_object())
        .and_then(|options| options.get("allow_false"))
        .is_some_and(super::condition::truthy);
    let missing = if allow_false { input.is_nil() } else { !super::condition::truthy(input) };
    let empty = match (input.as_array(), input.as_object(), input.as_scalar()) {
        (Some(a), _, _) => a.size() == 0,
        (_, Some(o), _) => o.size() == 0,
        (_, _, Some(s)) => s.type_name() == "string" && s.to_kstr().is_empty(),
        _ => false,
    };
    Ok(if missing || empty { fallback } else { input.to_value() })
}

/// Ruby's `inspect` of a Liquid value.
pub(crate) fn inspect(v: &dyn ValueView) -> String {
    if v.is_nil() {
        return "nil".into();
    }
    if let Some(array) = v.as_array() {
        return format!("[{}]", array.values().map(inspect).collect::<Vec<_>>().join(", "));
    }
    if let Some(object) = v.as_object() {
        let pairs: Vec<String> =
            sorted_pairs(object).into_iter().map(|(k, v)| format!("{:?}=>{}", k.as_str(), inspect(v))).collect();
        return format!("{{{}}}", pairs.join(", "));
    }
    match v.as_scalar() {
        Some(s) if s.type_name() == "string" => format!("{:?}", s.to_kstr().as_str()),
        _ => show(v).to_kstr().to_string(),
    }
}

fn to_integer(v: &dyn ValueView) -> i64 {
    match v.as_scalar() {
        Some(s) if s.type_name() == "boolean" => i64::from(s.to_bool().unwrap_or(false)),
        _ => super::tags::ruby_to_i(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_url_puts_the_baseurl_before_paths_and_leaves_absolute_urls() {
        assert_eq!(relative_url("/blog", "x"), "/blog/x");
        assert_eq!(relative_url("/blog/", "/x"), "/blog/x");
        assert_eq!(relative_url("", "x"), "/x");
        assert_eq!(relative_url("", ""), "");
        assert_eq!(relative_url("/blog", "https://e.org/a"), "https://e.org/a");
        assert_eq!(relative_url("/blog", "/a b/ü"), "/blog/a%20b/%C3%BC");
    }

    #[test]
    fn absolute_url_joins_url_baseurl_and_path() {
        assert_eq!(absolute_url("https://ex.org", "/blog", "/x"), "https://ex.org/blog/x");
        assert_eq!(absolute_url("", "/blog", "x"), "/blog/x");
    }

    #[test]
    fn slugify_modes_follow_jekyll() {
        assert_eq!(slugify("The _cönfig.yml file?", None), "the-cönfig-yml-file");
        assert_eq!(slugify("The _cönfig.yml file?", Some("pretty")), "the-_cönfig.yml-file");
        assert_eq!(slugify("The _cönfig.yml file", Some("latin")), "the-config-yml-file");
        assert_eq!(slugify("The _cönfig.yml file", Some("ascii")), "the-c-nfig-yml-file");
        assert_eq!(slugify("a  b", Some("raw")), "a-b");
        assert_eq!(slugify("A B", Some("none")), "a b");
        assert_eq!(slugify("A B", Some("bogus")), "a b");
    }

    #[test]
    fn escapes_follow_ruby() {
        assert_eq!(cgi_escape("a b&c/é~"), "a+b%26c%2F%C3%A9~");
        assert_eq!(xml_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn math_follows_ruby_liquid() {
        let calc = |a: Value, b: Value, op| arithmetic(&a, &[b], op).map(|v| v.to_kstr().to_string());
        let int = |i: i64| Value::scalar(i);
        let float = |f: f64| Value::scalar(f);
        assert_eq!(calc(int(-7), int(2), Op::DividedBy).unwrap(), "-4");
        assert_eq!(calc(int(7), int(-2), Op::DividedBy).unwrap(), "-4");
        assert_eq!(calc(int(7), int(2), Op::DividedBy).unwrap(), "3");
        assert_eq!(calc(int(-7), int(2), Op::Modulo).unwrap(), "1");
        assert_eq!(calc(int(7), int(-2), Op::Modulo).unwrap(), "-1");
        assert_eq!(calc(float(0.1), float(0.2), Op::Plus).unwrap(), "0.3");
        assert_eq!(calc(float(1.1), float(3.0), Op::Times).unwrap(), "3.3");
        assert_eq!(calc(int(10), float(3.0), Op::DividedBy).unwrap(), "3.3333333333333335");
        assert_eq!(calc(Value::scalar("1.5"), int(1), Op::Plus).unwrap(), "2.5");
        assert_eq!(calc(Value::scalar("abc"), int(1), Op::Plus).unwrap(), "1");
        assert_eq!(calc(Value::Nil, int(3), Op::Times).unwrap(), "0");
        assert!(calc(int(1), int(0), Op::DividedBy).is_err());
        assert!(calc(int(i64::MAX), int(1), Op::Plus).is_err());
    }

    #[test]
    fn size_first_last_and_capitalize_follow_ruby() {
        assert_eq!(size(&Value::scalar("日本語テキスト")), 7);
        assert_eq!(size(&Value::Nil), 0);
        assert_eq!(capitalize("hELLO wORLD"), "Hello world");
        let split = |s: &str, sep: &str| ruby_split(s, sep).len();
        assert_eq!(
            (
                split("a  b", " "),
                split(" a b ", " "),
                split("a,b,,", ","),
                split(",a", ","),
                split("", ","),
                split("abc", "")
            ),
            (2, 2, 2, 2, 0, 3)
        );
    }

    #[test]
    fn number_of_words_counts_cjk_characters_in_cjk_mode() {
        assert_eq!(number_of_words("héllo wörld 日本", None), 3);
        assert_eq!(number_of_words("héllo wörld 日本語", Some("cjk")), 5);
        assert_eq!(number_of_words("日本語です hello", Some("auto")), 6);
        assert_eq!(number_of_words("plain words here", Some("auto")), 3);
    }

    #[test]
    fn dates_are_read_in_the_forms_front_matter_uses() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap().fixed_offset();
        let t = |s: &str| parse_time(s, Some(chrono_tz::Europe::Paris), now).map(|t| t.to_rfc3339());
        assert_eq!(t("2020-01-05").as_deref(), Some("2020-01-05T00:00:00+01:00"));
        assert_eq!(t("2020-01-05 10:00:00 +0800").as_deref(), Some("2020-01-05T10:00:00+08:00"));
        assert_eq!(t("2020-07-05 10:00").as_deref(), Some("2020-07-05T10:00:00+02:00"));
        assert_eq!(t("now").as_deref(), Some("2026-01-01T00:00:00+00:00"));
        // Each as `TZ=Europe/Paris ruby -rtime -e 'Time.parse(s)'` reads it.
        for (text, ruby) in [
            ("2024-07-04T15:05:09Z", "2024-07-04T15:05:09+00:00"),
            ("2024-07-04T15:05:09.123+02:00", "2024-07-04T15:05:09.123+02:00"),
            ("Thu, 04 Jul 2024 15:05:09 +0000", "2024-07-04T15:05:09+00:00"),
            ("2024/07/04", "2024-07-04T00:00:00+02:00"),
            ("July 4, 2024", "2024-07-04T00:00:00+02:00"),
            ("4 Jul 2024", "2024-07-04T00:00:00+02:00"),
            ("2024-07-04 15:05:09.5 -0300", "2024-07-04T15:05:09.500-03:00"),
            ("2024-07-04T15:05", "2024-07-04T15:05:00+02:00"),
            ("Jul 4 2024 3pm EST", "2024-07-04T15:00:00-05:00"),
        ] {
            let read = parse_time(text, Some(chrono_tz::Europe::Paris), now);
            assert_eq!(
                read.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false)).as_deref(),
                Some(ruby),
                "{text}"
            );
        }
        assert_eq!(t("not a date"), None);
    }
}
