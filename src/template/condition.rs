//! Conditions (`if`, `elsif`, `unless`, and Jekyll's `where_exp`) read and evaluated as Ruby Liquid 5
//! does under Jekyll's default `error_mode: warn`: the strict parser first, its lax one when the
//! strict one fails, and Ruby's comparisons (`nil == false` is false, `"1" == 1` is false, `and`
//! and `or` group from the right, with no precedence).
//!
//! liquid-rust's own `if` differs in each of these, and cannot read what the lax parser accepts
//! (`{% if !x %}`, `{% if a && b %}`, `{% if (x) %}`), so postfeed evaluates conditions itself.

use std::borrow::Cow;
use std::cmp::Ordering;

use liquid_core::model::{Scalar, ScalarCow, Value, ValueCow, ValueView};
use liquid_core::runtime::Runtime;

use super::lexer::is_ruby_space;

/// A value in a condition, as Ruby Liquid's `Expression.parse` reads it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// `(start..stop)`.
    Range(Box<Operand>, Box<Operand>),
    /// A variable and the keys after it (`a.b[0][c]`). The first key is the variable's name.
    Lookup(Vec<Key>),
    /// The `empty` literal of a condition, which asks the other side whether it is empty.
    Empty,
    /// The `blank` literal of a condition, which asks the other side `blank?`: no value answers
    /// that in Jekyll (it has no ActiveSupport), so a comparison with it is never true.
    Blank,
}

/// One key of a variable lookup.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Key {
    /// `.name` (or the variable's name).
    Name(String),
    /// `[expression]`.
    Index(Operand),
}

/// `left`, or `left op right`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Comparison {
    left: Operand,
    op: Option<String>,
    right: Operand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    And,
    Or,
}

/// Comparisons joined by `and`/`or`, grouped from the right: `a and b or c` is `a and (b or c)`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Condition {
    first: Comparison,
    rest: Vec<(Join, Comparison)>,
}

/// Where a condition is written, which decides how `empty` and `blank` are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// `if`, `elsif`, `unless`: Liquid's condition parsing, `empty`/`blank` ask the other side.
    Tag,
    /// Jekyll's `where_exp`/`find_exp`: the strict parser alone, `empty`/`blank` are `""`.
    WhereExp,
}

/// Reads a condition (markup already normalized for liquid-rust, see `lexer::normalize`).
pub(crate) fn parse(markup: &str, context: Context) -> Result<Condition, String> {
    match strict_parse(markup, context) {
        Ok(condition) => Ok(condition),
        Err(e) if context == Context::WhereExp => Err(e),
        Err(_) => lax_parse(markup),
    }
}

// ---- Values ----------------------------------------------------------------------------------

/// Ruby Liquid's `Expression.parse` (with a condition's `empty`/`blank` in [`Context::Tag`]).
fn parse_operand(markup: &str, context: Context) -> Operand {
    if context == Context::Tag {
        match markup {
            "empty" => return Operand::Empty,
            "blank" => return Operand::Blank,
            _ => {}
        }
    }
    let m = markup.trim_matches(|c: char| is_ruby_space(c) || c == '\0');
    if m.len() >= 2 && ((m.starts_with('"') && m.ends_with('"')) || (m.starts_with('\'') && m.ends_with('\''))) {
        return Operand::Str(m[1..m.len() - 1].to_owned());
    }
    if m.len() == 1 && (m == "\"" || m == "'") {
        // Starts and ends with the quote: Ruby's `markup[1..-2]` of one character is "".
        return Operand::Str(String::new());
    }
    let digits = m.strip_prefix('-').unwrap_or(m);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match m.parse::<i64>() {
            Ok(n) => Operand::Int(n),
            Err(_) => Operand::Float(m.parse().unwrap_or(0.0)),
        };
    }
    if let Some((start, stop)) = range_parts(m) {
        return Operand::Range(Box::new(parse_operand(start, context)), Box::new(parse_operand(stop, context)));
    }
    if digits.len() >= 2
        && digits.as_bytes()[0].is_ascii_digit()
        && digits.bytes().all(|b| b.is_ascii_digit() || b == b'.')
    {
        return Operand::Float(ruby_to_f(m));
    }
    match m {
        "nil" | "null" | "" => Operand::Nil,
        "true" => Operand::Bool(true),
        "false" => Operand::Bool(false),
        "blank" | "empty" => Operand::Str(String::new()),
        _ => Operand::Lookup(parse_lookup(m, context)),
    }
}

/// Ruby's `String#to_f` of digits and dots: the leading `-?\d+(\.\d+)?`.
fn ruby_to_f(text: &str) -> f64 {
    let body = text.strip_prefix('-').unwrap_or(text);
    let int = body.bytes().take_while(u8::is_ascii_digit).count();
    let mut end = int;
    if body.as_bytes().get(int) == Some(&b'.') {
        let frac = body[int + 1..].bytes().take_while(u8::is_ascii_digit).count();
        if frac > 0 {
            end = int + 1 + frac;
        }
    }
    let value: f64 = body[..end].parse().unwrap_or(0.0);
    if body.len() < text.len() {
        -value
    } else {
        value
    }
}

/// `(start..stop)` as Ruby Liquid's `RANGES_REGEX` splits it: `start` is the longest run of
/// non-space characters followed by `..`.
fn range_parts(m: &str) -> Option<(&str, &str)> {
    let inner = m.strip_prefix('(')?.strip_suffix(')')?;
    let inner = inner.trim_start_matches(is_ruby_space);
    let first_len = inner.find(is_ruby_space).unwrap_or(inner.len());
    // The last `..` inside the first run, or the first `..` after it past spaces.
    let (start, rest) = match inner[..first_len].rfind("..") {
        Some(at) if at > 0 => (&inner[..at], &inner[at + 2..]),
        _ => {
            let after = inner[first_len..].trim_start_matches(is_ruby_space);
            (&inner[..first_len], after.strip_prefix("..")?)
        }
    };
    let stop = rest.trim_matches(is_ruby_space);
    if start.is_empty() || stop.is_empty() || stop.contains(is_ruby_space) {
        return None;
    }
    Some((start, stop))
}

/// Ruby Liquid's `VariableLookup`: the parts matched by `\[[^\]]+\]|[\w-]+\??`.
fn parse_lookup(markup: &str, context: Context) -> Vec<Key> {
    let bytes = markup.as_bytes();
    let mut keys = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'[' {
            if let Some(close) = markup[i + 1..].find(']').filter(|&c| c > 0) {
                keys.push(Key::Index(parse_operand(&markup[i + 1..i + 1 + close], context)));
                i += close + 2;
                continue;
            }
        } else if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
            let mut end =
                i + bytes[i..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c == b'-').count();
            if bytes.get(end) == Some(&b'?') {
                end += 1;
            }
            keys.push(Key::Name(markup[i..end].to_owned()));
            i = end;
            continue;
        }
        i += markup[i..].chars().next().map_or(1, char::len_utf8);
    }
    keys
}

// ---- The strict parser -----------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    Comparison(&'a str),
    Str(&'a str),
    Number(&'a str),
    Id(&'a str),
    DotDot,
    /// One of `|.:,[]()?-`.
    Special(u8),
    End,
}

/// Ruby Liquid's `Lexer`.
fn tokenize(markup: &str) -> Result<Vec<Token<'_>>, String> {
    let bytes = markup.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    loop {
        while i < bytes.len() && is_ruby_space(bytes[i] as char) {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let rest = &markup[i..];
        let (token, len) = if let Some(len) = comparison_len(rest) {
            (Token::Comparison(&rest[..len]), len)
        } else if let Some(len) = quoted_len(rest) {
            (Token::Str(&rest[..len]), len)
        } else if let Some(len) = number_len(rest) {
            (Token::Number(&rest[..len]), len)
        } else if let Some(len) = identifier_len(rest) {
            (Token::Id(&rest[..len]), len)
        } else if rest.starts_with("..") {
            (Token::DotDot, 2)
        } else if b"|.:,[]()?-".contains(&bytes[i]) {
            (Token::Special(bytes[i]), 1)
        } else {
            let c = rest.chars().next().unwrap_or('?');
            return Err(format!("Unexpected character {c}"));
        };
        tokens.push(token);
        i += len;
    }
    tokens.push(Token::End);
    Ok(tokens)
}

/// `==|!=|<>|<=?|>=?|contains(?=\s)`
fn comparison_len(s: &str) -> Option<usize> {
    for op in ["==", "!=", "<>", "<=", "<", ">=", ">"] {
        if s.starts_with(op) {
            return Some(op.len());
        }
    }
    let after = s.strip_prefix("contains")?;
    after.starts_with(is_ruby_space).then_some("contains".len())
}

/// `'[^']*'` or `"[^"]*"`
fn quoted_len(s: &str) -> Option<usize> {
    let q = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    s[1..].find(q).map(|at| at + 2)
}

/// `-?\d+(\.\d+)?`
fn number_len(s: &str) -> Option<usize> {
    let sign = usize::from(s.starts_with('-'));
    let int = s[sign..].bytes().take_while(u8::is_ascii_digit).count();
    if int == 0 {
        return None;
    }
    let mut len = sign + int;
    if s.as_bytes().get(len) == Some(&b'.') {
        let frac = s[len + 1..].bytes().take_while(u8::is_ascii_digit).count();
        if frac > 0 {
            len += 1 + frac;
        }
    }
    Some(len)
}

/// `[a-zA-Z_][\w-]*\??`
fn identifier_len(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    if !bytes.first().is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_') {
        return None;
    }
    let mut len = 1 + bytes[1..].iter().take_while(|b| b.is_ascii_alphanumeric() || **b == b'_' || **b == b'-').count();
    if bytes.get(len) == Some(&b'?') {
        len += 1;
    }
    Some(len)
}

/// Ruby Liquid's `Parser`, which rebuilds each expression as text for `Expression.parse`.
struct Parser<'a> {
    tokens: Vec<Token<'a>>,
    at: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token<'a> {
        self.tokens.get(self.at).unwrap_or(&Token::End)
    }

    fn next(&mut self) -> Token<'a> {
        let token = self.peek().clone();
        self.at += 1;
        token
    }

    fn special(&mut self, c: u8) -> Result<(), String> {
        match self.next() {
            Token::Special(s) if s == c => Ok(()),
            other => Err(format!("Expected {} but found {other:?}", c as char)),
        }
    }

    fn expression(&mut self) -> Result<String, String> {
        match self.next() {
            Token::Id(id) => {
                let mut text = id.to_owned();
                self.lookups(&mut text)?;
                Ok(text)
            }
            Token::Special(b'[') => {
                let mut text = format!("[{}]", self.expression()?);
                self.special(b']')?;
                self.lookups(&mut text)?;
                Ok(text)
            }
            Token::Str(s) | Token::Number(s) => Ok(s.to_owned()),
            Token::Special(b'(') => {
                let first = self.expression()?;
                if self.next() != Token::DotDot {
                    return Err("Expected dotdot".into());
                }
                let last = self.expression()?;
                self.special(b')')?;
                Ok(format!("({first}..{last})"))
            }
            other => Err(format!("{other:?} is not a valid expression")),
        }
    }

    fn lookups(&mut self, text: &mut String) -> Result<(), String> {
        loop {
            match self.peek() {
                Token::Special(b'[') => {
                    self.at += 1;
                    let inner = self.expression()?;
                    self.special(b']')?;
                    text.push('[');
                    text.push_str(&inner);
                    text.push(']');
                }
                Token::Special(b'.') => {
                    self.at += 1;
                    match self.next() {
                        Token::Id(id) => {
                            text.push('.');
                            text.push_str(id);
                        }
                        other => return Err(format!("Expected id but found {other:?}")),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    fn comparison(&mut self, context: Context) -> Result<Comparison, String> {
        let left = parse_operand(&self.expression()?, context);
        if let Token::Comparison(op) = *self.peek() {
            self.at += 1;
            let right = parse_operand(&self.expression()?, context);
            return Ok(Comparison { left, op: Some(op.to_owned()), right });
        }
        Ok(Comparison { left, op: None, right: Operand::Nil })
    }

    fn join(&mut self) -> Option<Join> {
        let join = match self.peek() {
            Token::Id("and") => Join::And,
            Token::Id("or") => Join::Or,
            _ => return None,
        };
        self.at += 1;
        Some(join)
    }
}

fn strict_parse(markup: &str, context: Context) -> Result<Condition, String> {
    let mut parser = Parser { tokens: tokenize(markup)?, at: 0 };
    let first = parser.comparison(context)?;
    let mut rest = Vec::new();
    while let Some(join) = parser.join() {
        rest.push((join, parser.comparison(context)?));
    }
    match parser.next() {
        Token::End => Ok(Condition { first, rest }),
        other => Err(format!("Expected end_of_string but found {other:?}")),
    }
}

// ---- case and when ---------------------------------------------------------------------------

/// The first Liquid `QuotedFragment` anywhere in `s`: where it starts and ends.
fn find_fragment(s: &str) -> Option<(usize, usize)> {
    (0..s.len()).filter(|&i| s.is_char_boundary(i)).find_map(|i| Some((i, quoted_fragment_end(s, i)?)))
}

/// The value of `{% case markup %}`: the first fragment in it, as Ruby Liquid's `Case::Syntax`
/// finds it (filters after it are ignored; `empty` and `blank` are `""` there).
pub(crate) fn case_operand(markup: &str) -> Result<Operand, String> {
    let (start, end) = find_fragment(markup).ok_or("`case` names no value")?;
    Ok(parse_operand(&markup[start..end], Context::WhereExp))
}

/// `{% when markup %}` under `case left`: one `left == value` comparison for each value the
/// `when` lists (`when a, b` and `when a or b`), as Ruby Liquid's `WhenSyntax` reads them. Ruby
/// renders the `when`'s body once for each of them that holds.
pub(crate) fn when_conditions(left: &Operand, markup: &str) -> Result<Vec<Condition>, String> {
    let mut conditions = Vec::new();
    let (mut start, mut end) = find_fragment(markup).ok_or("`when` names no value")?;
    loop {
        conditions.push(Condition {
            first: Comparison {
                left: left.clone(),
                op: Some("==".to_owned()),
                right: parse_operand(&markup[start..end], Context::Tag),
            },
            rest: Vec::new(),
        });
        // `\s+or\s+` or `\s*,\s*`, then the next fragment, or the list ends.
        let after = skip_spaces(markup, end);
        let next = match markup[after..].strip_prefix(',') {
            Some(_) => skip_spaces(markup, after + 1),
            None if after > end && markup[after..].starts_with("or") => {
                let value = skip_spaces(markup, after + 2);
                if value == after + 2 {
                    break;
                }
                value
            }
            None => break,
        };
        match quoted_fragment_end(markup, next) {
            Some(next_end) => (start, end) = (next, next_end),
            None => break,
        }
    }
    Ok(conditions)
}

// ---- The lax parser --------------------------------------------------------------------------

/// Ruby's `\s`.
fn is_space(c: u8) -> bool {
    is_ruby_space(c as char)
}

/// The character at byte `i`, if any.
fn char_at(s: &str, i: usize) -> Option<char> {
    s.get(i..).and_then(|rest| rest.chars().next())
}

/// The character that ends at byte `i`, if any.
fn char_before(s: &str, i: usize) -> Option<char> {
    s.get(..i).and_then(|before| before.chars().next_back())
}

/// A word character for Ruby's `\b` (which, unlike its `\w`, takes letters beyond ASCII).
fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || c == '_')
}

fn boundary(s: &str, i: usize) -> bool {
    is_word(char_before(s, i)) != is_word(char_at(s, i))
}

/// Where Liquid's `QuotedFragment` (`"[^"]*"|'[^']*'|(?:[^\s,\|'"]|QuotedString)+`) matched at
/// `i` ends.
fn quoted_fragment_end(s: &str, i: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let closing = |at: usize| memchr::memchr(bytes[at], &bytes[at + 1..]).map(|c| at + 1 + c + 1);
    if matches!(bytes.get(i), Some(b'"' | b'\'')) {
        if let Some(end) = closing(i) {
            return Some(end);
        }
    }
    let mut j = i;
    while j < bytes.len() {
        match bytes[j] {
            b'"' | b'\'' => match closing(j) {
                Some(end) => j = end,
                None => break,
            },
            b',' | b'|' => break,
            b if is_space(b) => break,
            _ => j += 1,
        }
    }
    (j > i).then_some(j)
}

/// Where `\b(?:\s?and\s?|\s?or\s?)\b` matched at `i` ends.
fn operator_end(s: &str, i: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    if !boundary(s, i) {
        return None;
    }
    let space_at = |at: usize| bytes.get(at).is_some_and(|b| is_space(*b));
    for word in ["and", "or"] {
        for lead in [1, 0] {
            if lead == 1 && !space_at(i) {
                continue;
            }
            let start = i + lead;
            if !s.get(start..).is_some_and(|rest| rest.starts_with(word)) {
                continue;
            }
            let after = start + word.len();
            for trail in [1, 0] {
                if trail == 1 && !space_at(after) {
                    continue;
                }
                if boundary(s, after + trail) {
                    return Some(after + trail);
                }
            }
        }
    }
    None
}

fn skip_spaces(s: &str, mut i: usize) -> usize {
    while s.as_bytes().get(i).is_some_and(|b| is_space(*b)) {
        i += 1;
    }
    i
}

/// Where the expression part of Liquid's `ExpressionsAndOperators` matched at `i` ends: fragments
/// and the spaces after them, up to a fragment that starts with `and` or `or`.
fn expression_end(s: &str, i: usize) -> Option<usize> {
    let mut end = None;
    let mut at = i;
    loop {
        let start = skip_spaces(s, at);
        if start >= s.len() || operator_end(s, start).is_some() {
            return end;
        }
        let fragment_end = quoted_fragment_end(s, start).unwrap_or_else(|| {
            start + s[start..].find(|c: char| c.is_ascii() && is_space(c as u8)).unwrap_or(s.len() - start)
        });
        at = skip_spaces(s, fragment_end);
        end = Some(at);
    }
}

/// `markup.scan(ExpressionsAndOperators)`: expressions and the `and`/`or` between them.
fn scan_expressions(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < s.len() {
        if let Some(end) = operator_end(s, i).or_else(|| expression_end(s, i)) {
            parts.push(&s[i..end]);
            i = end;
        } else if s.as_bytes()[i].is_ascii() && is_space(s.as_bytes()[i]) {
            // No later space of the run starts a match either (no word boundary between spaces).
            i = skip_spaces(s, i);
        } else {
            i += char_at(s, i).map_or(1, char::len_utf8);
        }
    }
    parts
}

/// Liquid's `If::Syntax` (`(QuotedFragment)\s*([=!<>a-z_]+)?\s*(QuotedFragment)?`), found anywhere
/// in `expression`: a comparison, or `None` when the expression holds no fragment.
fn syntax(expression: &str, context: Context) -> Option<Comparison> {
    let (start, left_end) = (0..expression.len())
        .filter(|&i| expression.is_char_boundary(i))
        .find_map(|i| Some((i, quoted_fragment_end(expression, i)?)))?;
    let at = skip_spaces(expression, left_end);
    let op_len = expression.as_bytes()[at..]
        .iter()
        .take_while(|b| matches!(b, b'=' | b'!' | b'<' | b'>' | b'a'..=b'z' | b'_'))
        .count();
    let op = (op_len > 0).then(|| expression[at..at + op_len].to_owned());
    let right_start = skip_spaces(expression, at + op_len);
    let right = quoted_fragment_end(expression, right_start).map(|end| &expression[right_start..end]);
    Some(Comparison {
        left: parse_operand(&expression[start..left_end], context),
        op,
        right: right.map_or(Operand::Nil, |r| parse_operand(r, context)),
    })
}

/// Liquid's lax parser, which Jekyll's `warn` mode falls back to: it reads `{% if !x %}`,
/// `{% if a && b %}` and `{% if (x) %}` as `{% if x %}` and `{% if a %}`, as Jekyll renders them.
fn lax_parse(markup: &str) -> Result<Condition, String> {
    const CANNOT: &str = "Liquid cannot read this condition";
    let mut parts = scan_expressions(markup);
    let last = parts.pop().ok_or(CANNOT)?;
    let mut comparisons = vec![syntax(last, Context::Tag).ok_or(CANNOT)?];
    let mut joins = Vec::new();
    while let Some(operator) = parts.pop() {
        let expression = parts.pop().unwrap_or("");
        comparisons.push(syntax(expression, Context::Tag).ok_or(CANNOT)?);
        joins.push(match operator.trim_matches(|c: char| is_ruby_space(c) || c == '\0') {
            "and" => Join::And,
            "or" => Join::Or,
            _ => return Err(CANNOT.into()),
        });
    }
    // Read from the end; the chain runs from the start.
    comparisons.reverse();
    joins.reverse();
    let mut comparisons = comparisons.into_iter();
    let first = comparisons.next().ok_or(CANNOT)?;
    Ok(Condition { first, rest: joins.into_iter().zip(comparisons).collect() })
}

// ---- Evaluation ------------------------------------------------------------------------------

/// An evaluated operand.
enum Val<'a> {
    Value(ValueCow<'a>),
    Range(i64, i64),
    Empty,
    Blank,
}

impl Val<'_> {
    fn truthy(&self) -> bool {
        match self {
            Val::Value(v) => truthy(v.as_view()),
            _ => true,
        }
    }
}

/// Ruby's truthiness: everything but `nil` and `false`.
pub(crate) fn truthy(v: &dyn ValueView) -> bool {
    !(v.is_nil() || v.as_scalar().and_then(|s| s.to_bool()) == Some(false))
}

fn nil<'a>() -> Val<'a> {
    Val::Value(ValueCow::Owned(Value::Nil))
}

fn evaluate<'r>(operand: &Operand, runtime: &'r dyn Runtime) -> Val<'r> {
    let literal = |v: Value| Val::Value(ValueCow::Owned(v));
    match operand {
        Operand::Nil => nil(),
        Operand::Bool(b) => literal(Value::scalar(*b)),
        Operand::Int(n) => literal(Value::scalar(*n)),
        Operand::Float(f) => literal(Value::scalar(*f)),
        Operand::Str(s) => literal(Value::scalar(s.clone())),
        Operand::Empty => Val::Empty,
        Operand::Blank => Val::Blank,
        Operand::Range(start, stop) => {
            let bound = |o: &Operand| match evaluate(o, runtime) {
                Val::Value(v) => super::tags::ruby_to_i(v.as_view()),
                _ => 0,
            };
            Val::Range(bound(start), bound(stop))
        }
        Operand::Lookup(keys) => {
            let mut path: Vec<Scalar> = Vec::with_capacity(keys.len());
            for key in keys {
                let scalar = match key {
                    Key::Name(name) => Scalar::new(name.clone()),
                    Key::Index(index) => match evaluate(index, runtime) {
                        Val::Value(v) => match v.as_scalar() {
                            Some(s) => s.into_owned(),
                            None => return nil(),
                        },
                        _ => return nil(),
                    },
                };
                path.push(scalar);
            }
            if path.is_empty() {
                return nil();
            }
            match runtime.try_get(&path) {
                Some(v) => Val::Value(v),
                None => nil(),
            }
        }
    }
}

impl Condition {
    /// Whether the condition holds; `Err` where Ruby Liquid raises (an unknown operator, or `<`
    /// between values Ruby cannot order, such as a number and a string).
    pub(crate) fn evaluate(&self, runtime: &dyn Runtime) -> Result<bool, String> {
        let mut result = self.first.evaluate(runtime)?;
        for (join, comparison) in &self.rest {
            match join {
                Join::Or if result => return Ok(true),
                Join::And if !result => return Ok(false),
                _ => {}
            }
            result = comparison.evaluate(runtime)?;
        }
        Ok(result)
    }
}

impl Comparison {
    fn evaluate(&self, runtime: &dyn Runtime) -> Result<bool, String> {
        let left = evaluate(&self.left, runtime);
        let Some(op) = self.op.as_deref() else { return Ok(left.truthy()) };
        let right = evaluate(&self.right, runtime);
        match op {
            "==" => Ok(equal(&left, &right) == Some(true)),
            "!=" | "<>" => Ok(equal(&left, &right) != Some(true)),
            "<" => order(&left, &right).map(|o| o.is_some_and(Ordering::is_lt)),
            ">" => order(&left, &right).map(|o| o.is_some_and(Ordering::is_gt)),
            "<=" => order(&left, &right).map(|o| o.is_some_and(Ordering::is_le)),
            ">=" => order(&left, &right).map(|o| o.is_some_and(Ordering::is_ge)),
            "contains" => Ok(contains(&left, &right)),
            other => Err(format!("Unknown operator {other}")),
        }
    }
}

/// Liquid's `equal_variables`: `None` where Ruby gets `nil`, from asking a value `empty?` or
/// `blank?` that it has no method for.
fn equal(left: &Val<'_>, right: &Val<'_>) -> Option<bool> {
    let ask = |method: &Val<'_>, other: &Val<'_>| match (method, other) {
        (Val::Empty, Val::Value(v)) => is_empty(v.as_view()),
        _ => None,
    };
    if matches!(left, Val::Empty | Val::Blank) {
        return ask(left, right);
    }
    if matches!(right, Val::Empty | Val::Blank) {
        return ask(right, left);
    }
    match (left, right) {
        (Val::Range(a, b), Val::Range(c, d)) => Some(a == c && b == d),
        (Val::Value(a), Val::Value(b)) => Some(ruby_eq(a.as_view(), b.as_view())),
        _ => Some(false),
    }
}

/// `empty?` of a string, array or hash; `None` for what has no such method.
fn is_empty(v: &dyn ValueView) -> Option<bool> {
    if let Some(a) = v.as_array() {
        return Some(a.size() == 0);
    }
    if let Some(o) = v.as_object() {
        return Some(o.size() == 0);
    }
    if v.as_state().is_some() {
        return Some(true);
    }
    let s = v.as_scalar()?;
    (s.type_name() == "string").then(|| s.to_kstr().is_empty())
}

/// What Ruby class a value has, for comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Nil,
    Bool,
    Integer,
    Float,
    String,
    Time,
    Date,
    Array,
    Hash,
}

fn class_of(v: &dyn ValueView) -> Class {
    if v.as_array().is_some() {
        return Class::Array;
    }
    if v.as_object().is_some() {
        return Class::Hash;
    }
    if v.as_state().is_some() {
        // liquid-rust's `empty`/`blank` values, which Ruby assigns as "".
        return Class::String;
    }
    let Some(s) = v.as_scalar() else { return Class::Nil };
    match s.type_name() {
        "whole number" => Class::Integer,
        "fractional number" => Class::Float,
        "boolean" => Class::Bool,
        "date time" => Class::Time,
        "date" => Class::Date,
        _ => Class::String,
    }
}

fn text_of<'v>(v: &'v dyn ValueView) -> Cow<'v, str> {
    if v.as_state().is_some() {
        return Cow::Borrowed("");
    }
    match v.as_scalar() {
        Some(s) => Cow::Owned(s.to_kstr().to_string()),
        None => Cow::Borrowed(""),
    }
}

/// Ruby's `==` on Liquid values: numbers by value (`1 == 1.0`), nothing equal across other kinds
/// (`nil == false`, `"1" == 1` and `"x" == true` are false), lists and hashes by their items.
pub(crate) fn ruby_eq(a: &dyn ValueView, b: &dyn ValueView) -> bool {
    let (ca, cb) = (class_of(a), class_of(b));
    match (ca, cb) {
        (Class::Nil, Class::Nil) => true,
        (Class::Integer | Class::Float, Class::Integer | Class::Float) => match (scalar(a), scalar(b)) {
            (Some(x), Some(y)) => {
                match (x.to_integer().filter(|_| ca == Class::Integer), y.to_integer().filter(|_| cb == Class::Integer))
                {
                    (Some(x), Some(y)) => x == y,
                    _ => x.to_float() == y.to_float(),
                }
            }
            _ => false,
        },
        (Class::Bool, Class::Bool) => scalar(a).and_then(|s| s.to_bool()) == scalar(b).and_then(|s| s.to_bool()),
        (Class::String, Class::String) => text_of(a) == text_of(b),
        (Class::Time, Class::Time) => {
            scalar(a).and_then(|s| s.to_date_time()) == scalar(b).and_then(|s| s.to_date_time())
        }
        (Class::Date, Class::Date) => scalar(a).and_then(|s| s.to_date()) == scalar(b).and_then(|s| s.to_date()),
        (Class::Array, Class::Array) => match (a.as_array(), b.as_array()) {
            (Some(x), Some(y)) => x.size() == y.size() && x.values().zip(y.values()).all(|(x, y)| ruby_eq(x, y)),
            _ => false,
        },
        (Class::Hash, Class::Hash) => match (a.as_object(), b.as_object()) {
            (Some(x), Some(y)) => {
                x.size() == y.size() && x.iter().all(|(k, v)| y.get(k.as_str()).is_some_and(|w| ruby_eq(v, w)))
            }
            _ => false,
        },
        _ => false,
    }
}

fn scalar(v: &dyn ValueView) -> Option<ScalarCow<'_>> {
    v.as_scalar()
}

fn ruby_class_name(c: Class) -> &'static str {
    match c {
        Class::Nil => "NilClass",
        Class::Bool => "TrueClass",
        Class::Integer => "Integer",
        Class::Float => "Float",
        Class::String => "String",
        Class::Time => "Time",
        Class::Date => "Date",
        Class::Array => "Array",
        Class::Hash => "Hash",
    }
}

/// `<`, `>`, `<=`, `>=` as Ruby sends them: `Ok(None)` (false) when either side has no such method
/// (nil, booleans, lists, hashes, ranges), an error when both have it but cannot be compared.
fn order(left: &Val<'_>, right: &Val<'_>) -> Result<Option<Ordering>, String> {
    let (Val::Value(a), Val::Value(b)) = (left, right) else { return Ok(None) };
    let (a, b) = (a.as_view(), b.as_view());
    let (ca, cb) = (class_of(a), class_of(b));
    let comparable = |c| matches!(c, Class::Integer | Class::Float | Class::String | Class::Time | Class::Date);
    if !comparable(ca) || !comparable(cb) {
        return Ok(None);
    }
    let (Some(x), Some(y)) = (scalar(a), scalar(b)) else { return Ok(None) };
    let ordering = match (ca, cb) {
        (Class::Integer, Class::Integer) => x.to_integer().partial_cmp(&y.to_integer()),
        (Class::Integer | Class::Float, Class::Integer | Class::Float) => {
            x.to_float().unwrap_or(f64::NAN).partial_cmp(&y.to_float().unwrap_or(f64::NAN))
        }
        (Class::String, Class::String) => Some(text_of(a).as_bytes().cmp(text_of(b).as_bytes())),
        (Class::Time, Class::Time) => x.to_date_time().partial_cmp(&y.to_date_time()),
        (Class::Date, Class::Date) => x.to_date().partial_cmp(&y.to_date()),
        _ => {
            let shown = match cb {
                Class::String | Class::Time | Class::Date => ruby_class_name(cb).to_owned(),
                _ => y.to_kstr().to_string(),
            };
            return Err(format!("comparison of {} with {shown} failed", ruby_class_name(ca)));
        }
    };
    Ok(ordering)
}

/// Liquid's `contains`: a substring of a string, an item of a list, a key of a hash, a number in
/// a range; false for anything else, and when either side is nil or false.
fn contains(left: &Val<'_>, right: &Val<'_>) -> bool {
    if !left.truthy() || !right.truthy() {
        return false;
    }
    match left {
        Val::Range(lo, hi) => match right {
            Val::Value(v) => match class_of(v.as_view()) {
                Class::Integer | Class::Float => {
                    v.as_scalar().and_then(|s| s.to_float()).is_some_and(|f| *lo as f64 <= f && f <= *hi as f64)
                }
                _ => false,
            },
            _ => false,
        },
        Val::Value(l) => {
            let l = l.as_view();
            match class_of(l) {
                Class::String => {
                    let needle = match right {
                        Val::Value(r) => ruby_to_s(r.as_view()),
                        Val::Range(a, b) => format!("{a}..{b}"),
                        Val::Empty | Val::Blank => String::new(),
                    };
                    text_of(l).contains(needle.as_str())
                }
                Class::Array => match right {
                    Val::Value(r) => l.as_array().is_some_and(|a| a.values().any(|item| ruby_eq(item, r.as_view()))),
                    _ => false,
                },
                Class::Hash => match right {
                    Val::Value(r) if class_of(r.as_view()) == Class::String => {
                        l.as_object().is_some_and(|o| o.contains_key(text_of(r.as_view()).as_ref()))
                    }
                    _ => false,
                },
                _ => false,
            }
        }
        _ => false,
    }
}

/// Ruby's `to_s` of a value, for `contains` on a string.
fn ruby_to_s(v: &dyn ValueView) -> String {
    match class_of(v) {
        Class::Float => super::filters::show(v).to_kstr().to_string(),
        Class::Array | Class::Hash => super::filters::inspect(v),
        _ => text_of(v).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(markup: &str) -> Condition {
        parse(markup, Context::Tag).unwrap_or_else(|e| panic!("{markup}: {e}"))
    }

    fn lookup(names: &[&str]) -> Operand {
        Operand::Lookup(names.iter().map(|n| Key::Name((*n).to_owned())).collect())
    }

    #[test]
    fn the_strict_parser_reads_comparisons_joined_by_and_and_or() {
        let c = parsed("page.x==false and a contains 'b' or c");
        assert_eq!(
            c.first,
            Comparison { left: lookup(&["page", "x"]), op: Some("==".into()), right: Operand::Bool(false) }
        );
        assert_eq!(c.rest.len(), 2);
        assert_eq!(c.rest[0].0, Join::And);
        assert_eq!(c.rest[1], (Join::Or, Comparison { left: lookup(&["c"]), op: None, right: Operand::Nil }));
        let c = parsed("a[0][\"k\"].size >= -1.5");
        assert_eq!(
            c.first.left,
            Operand::Lookup(vec![
                Key::Name("a".into()),
                Key::Index(Operand::Int(0)),
                Key::Index(Operand::Str("k".into())),
                Key::Name("size".into())
            ])
        );
        assert_eq!(c.first.right, Operand::Float(-1.5));
        assert_eq!(parsed("x == empty").first.right, Operand::Empty);
        assert_eq!(parse("x == empty", Context::WhereExp).unwrap().first.right, Operand::Str(String::new()));
        assert_eq!(
            parsed("(1..n) contains 2").first.left,
            Operand::Range(Box::new(Operand::Int(1)), Box::new(lookup(&["n"])))
        );
    }

    #[test]
    fn where_exp_takes_only_what_the_strict_parser_reads() {
        assert!(parse("p.a == =", Context::WhereExp).is_err());
        assert!(parse("!p.a", Context::WhereExp).is_err());
    }

    #[test]
    fn what_the_strict_parser_refuses_the_lax_parser_reads() {
        // `!x`, `(x)` and `x;` are `x`; `a && b` and `a || b` are `a`.
        for markup in [
            "!page.t",
            "(page.t)",
            "page.t;",
            "page.t && page.f",
            "page.t || page.f",
            "page.t &&page.f",
            "page.t, page.f",
        ] {
            let c = parsed(markup);
            assert_eq!((&c.first.left, &c.first.op, c.rest.len()), (&lookup(&["page", "t"]), &None, 0), "{markup}");
        }
        let c = parsed("(page.f or page.t)");
        assert_eq!(c.first.left, lookup(&["page", "f"]));
        assert_eq!(
            c.rest,
            vec![(Join::Or, Comparison { left: lookup(&["page", "t"]), op: None, right: Operand::Nil })]
        );
        let c = parsed("page.f or (page.t) and x == 'a b'");
        assert_eq!(c.rest[0].0, Join::Or);
        assert_eq!(c.rest[1].0, Join::And);
        assert_eq!(c.rest[1].1.right, Operand::Str("a b".into()));
        // An operator Liquid does not know is read, and fails when evaluated, as in Ruby.
        assert_eq!(parsed("x = 1").first.op.as_deref(), Some("="));
        for unreadable in ["", "  ", "a and", "and a", ",", "a and or b"] {
            assert!(parse(unreadable, Context::Tag).is_err(), "{unreadable:?}");
        }
    }

    #[test]
    fn the_lax_scan_splits_at_and_and_or_as_ruby_does() {
        assert_eq!(scan_expressions("a and b or c"), vec!["a ", "and ", "b ", "or ", "c"]);
        assert_eq!(scan_expressions("band andy"), vec!["band andy"]);
        assert_eq!(scan_expressions("x contains \"and or\" and y"), vec!["x contains \"and or\" ", "and ", "y"]);
        assert_eq!(scan_expressions("\"x\"and y"), vec!["\"x\"", "and ", "y"]);
        let spaced = format!("and{}and", " ".repeat(20_000));
        let started = std::time::Instant::now();
        assert_eq!(scan_expressions(&spaced), vec!["and", "and"]);
        assert!(started.elapsed() < std::time::Duration::from_millis(200), "{:?}", started.elapsed());
    }

    #[test]
    fn operands_read_as_ruby_liquid_reads_them() {
        for (markup, operand) in [
            ("nil", Operand::Nil),
            ("null", Operand::Nil),
            ("true", Operand::Bool(true)),
            ("'q'", Operand::Str("q".into())),
            ("\"a b\"", Operand::Str("a b".into())),
            ("-3", Operand::Int(-3)),
            ("1.2.3", Operand::Float(1.2)),
            ("99999999999999999999", Operand::Float(1e20)),
        ] {
            assert_eq!(parse_operand(markup, Context::Tag), operand, "{markup}");
        }
        assert_eq!(range_parts("(1..5)"), Some(("1", "5")));
        assert_eq!(range_parts("( a.b .. c )"), Some(("a.b", "c")));
        assert_eq!(range_parts("(1)"), None);
    }
}
