//! Builds a template straight from the pieces the reading pass made, without handing the whole
//! text to liquid-rust's parser: text, placeholders and postfeed's own blocks are built here, and
//! each standard tag or output is parsed alone, once per engine, and shared by every template that
//! writes it the same way. Whatever this does not build (liquid-rust's own blocks, a piece that
//! does not parse alone) leaves the template to the parser, which also finds and reports the
//! piece at fault.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::sync::{Arc, RwLock};

use liquid_core::parser::Language;
use liquid_core::runtime::{Runtime, Template};
use liquid_core::{Renderable, Result};

use super::lexer;
use super::prepare::{Piece, Prepared, Special, PASS_THROUGH, STANDARD_TAGS};
use super::tags::{self, CaseBranch, IfBranch};
use super::Shared;

/// A standard tag or output parsed alone; `None` when it does not parse alone.
type Parsed = Option<Arc<dyn Renderable>>;

/// Standard tags and outputs parsed alone, by their text.
pub(crate) struct ParsedPieces {
    pieces: RwLock<HashMap<Box<str>, Parsed>>,
    /// Most pieces kept: past it the store starts again, so that a daemon fed new posts for
    /// years keeps a bounded store. Real sites write far fewer distinct pieces (bitcoinops'
    /// 1,884 posts and their includes: about 2,500).
    max: usize,
}

impl Default for ParsedPieces {
    fn default() -> Self {
        ParsedPieces { pieces: RwLock::default(), max: 10_000 }
    }
}

impl ParsedPieces {
    #[cfg(test)]
    fn len(&self) -> usize {
        self.pieces.read().map_or(0, |pieces| pieces.len())
    }

    fn get(&self, liquid: &str, language: &Language) -> Parsed {
        if let Some(found) = self.pieces.read().ok().and_then(|pieces| pieces.get(liquid).cloned()) {
            return found;
        }
        let parsed = match liquid_core::parser::parse(liquid, language) {
            Ok(mut elements) if elements.len() == 1 => elements.pop().map(Arc::from),
            _ => None,
        };
        if let Ok(mut pieces) = self.pieces.write() {
            if pieces.len() >= self.max {
                pieces.clear();
            }
            pieces.insert(liquid.into(), parsed.clone());
        }
        parsed
    }
}

/// A piece parsed once and shared.
#[derive(Debug)]
struct SharedPiece(Arc<dyn Renderable>);

impl Renderable for SharedPiece {
    fn render_to(&self, writer: &mut dyn Write, runtime: &dyn Runtime) -> Result<()> {
        self.0.render_to(writer, runtime)
    }
}

/// A block being built, with its branches so far.
enum Open {
    /// `specials[N]` of a `for`: its body, then its `else`.
    For(usize, Vec<Box<dyn Renderable>>, Option<Vec<Box<dyn Renderable>>>),
    If(bool, Vec<IfBranch>),
    /// What comes before the first `when`, which is never rendered, then the branches.
    Case(Vec<Box<dyn Renderable>>, Vec<CaseBranch>),
    Highlight(usize, Vec<Box<dyn Renderable>>),
    PassThrough(Vec<Box<dyn Renderable>>),
}

impl Open {
    fn name(&self) -> &'static str {
        match self {
            Open::For(..) => "for",
            Open::If(true, _) => "unless",
            Open::If(false, _) => "if",
            Open::Case(..) => "case",
            Open::Highlight(..) => "highlight",
            Open::PassThrough(_) => PASS_THROUGH,
        }
    }

    /// Where the next element goes.
    fn body(&mut self) -> &mut Vec<Box<dyn Renderable>> {
        match self {
            Open::For(_, body, None) | Open::Highlight(_, body) | Open::PassThrough(body) => body,
            Open::For(_, _, Some(otherwise)) => otherwise,
            Open::If(_, branches) => &mut branches.last_mut().expect("an if has its first branch").1,
            Open::Case(before, branches) => match branches.last_mut() {
                Some(branch) => &mut branch.1,
                None => before,
            },
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Set by tests to compare with the whole text parsed, as it was before this module.
    pub(crate) static PARSE_WHOLE_TEXT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// The template `prepared` writes with these choices (see [`Prepared::write`]), or `None` when it
/// holds something built only by liquid-rust's parser.
pub(crate) fn assemble(
    prepared: &Prepared,
    dropped: &HashSet<usize>,
    text_only: bool,
    markers: bool,
    language: &Language,
    shared: &Arc<Shared>,
) -> Option<Template> {
    #[cfg(test)]
    if PARSE_WHOLE_TEXT.get() {
        return None;
    }
    let mut top: Vec<Box<dyn Renderable>> = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut failed = false;
    prepared.for_each_piece(dropped, text_only, markers, |_, piece| {
        failed = failed || add(piece, prepared, language, shared, &mut top, &mut stack).is_none();
    });
    (!failed && stack.is_empty()).then(|| Template::new(top))
}

fn special(prepared: &Prepared, n: usize) -> Option<Special> {
    prepared.specials.get(n).cloned()
}

fn add(
    piece: Piece<'_>,
    prepared: &Prepared,
    language: &Language,
    shared: &Arc<Shared>,
    top: &mut Vec<Box<dyn Renderable>>,
    stack: &mut Vec<Open>,
) -> Option<()> {
    let element: Box<dyn Renderable> = match piece {
        Piece::Empty => return Some(()),
        Piece::Step(item) | Piece::StepAfter(item) => tags::step(item),
        Piece::Text(start, end) => tags::text_slice(prepared.source().clone(), start, end),
        Piece::Range(n) => tags::special_tag(special(prepared, n)?, shared, language).ok()?,
        Piece::Special(name, n) => match name {
            "for" => return open(stack, Open::For(n, Vec::new(), None)),
            "if" | "unless" => {
                let Some(Special::Condition { condition, .. }) = special(prepared, n) else { return None };
                return open(stack, Open::If(name == "unless", vec![(Some(condition), Vec::new())]));
            }
            "case" => return open(stack, Open::Case(Vec::new(), Vec::new())),
            "highlight" => return open(stack, Open::Highlight(n, Vec::new())),
            PASS_THROUGH => return open(stack, Open::PassThrough(Vec::new())),
            "elsif" => {
                let Some(Special::Condition { condition, .. }) = special(prepared, n) else { return None };
                let Some(Open::If(_, branches)) = stack.last_mut() else { return None };
                branches.push((Some(condition), Vec::new()));
                return Some(());
            }
            "when" => {
                let Some(Special::When { conditions, .. }) = special(prepared, n) else { return None };
                let Some(Open::Case(_, branches)) = stack.last_mut() else { return None };
                branches.push((Some(conditions), Vec::new()));
                return Some(());
            }
            _ => tags::special_tag(special(prepared, n)?, shared, language).ok()?,
        },
        Piece::EndSpecial(name) => {
            let open = stack.pop()?;
            if open.name() != name {
                return None;
            }
            close(open, prepared, shared)?
        }
        Piece::Liquid("{% else %}") => {
            match stack.last_mut()? {
                Open::For(_, _, otherwise @ None) => *otherwise = Some(Vec::new()),
                Open::If(_, branches) => branches.push((None, Vec::new())),
                Open::Case(_, branches) => branches.push((None, Vec::new())),
                _ => return None,
            }
            return Some(());
        }
        Piece::Liquid(liquid) => {
            // liquid-rust's own blocks (`capture`, `tablerow`, `ifchanged`) are left to its parser.
            if lexer::tag_parts(liquid).is_some_and(|parts| !STANDARD_TAGS.contains(&parts.name)) {
                return None;
            }
            Box::new(SharedPiece(shared.parsed.get(liquid, language)?))
        }
    };
    match stack.last_mut() {
        Some(open) => open.body().push(element),
        None => top.push(element),
    }
    Some(())
}

fn open(stack: &mut Vec<Open>, block: Open) -> Option<()> {
    stack.push(block);
    Some(())
}

fn close(open: Open, prepared: &Prepared, shared: &Shared) -> Option<Box<dyn Renderable>> {
    match open {
        Open::For(n, body, otherwise) => tags::for_loop(special(prepared, n), body, otherwise, shared).ok(),
        Open::If(unless, branches) => Some(tags::if_block(unless, branches)),
        Open::Case(_, branches) => Some(tags::case_block(branches)),
        Open::Highlight(n, body) => tags::highlight(special(prepared, n), body).ok(),
        Open::PassThrough(body) => Some(tags::pass_through(body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_of_parsed_pieces_stays_bounded_and_forgets_nothing_it_needs() {
        let language = Language::default();
        let store = ParsedPieces { max: 4, ..ParsedPieces::default() };
        for n in 0..10 {
            assert!(store.get(&format!("{{{{ {n} }}}}"), &language).is_some());
            assert!(store.len() <= 4, "{} pieces kept", store.len());
        }
        // A piece asked for again after the store started again is parsed again.
        assert!(store.get("{{ 0 }}", &language).is_some());
        assert!(store.get("{{ 0 | }}", &language).is_none());
    }
}
