//! kramdown's emphasis, re-done over pulldown-cmark's inline content.
//!
//! CommonMark decides `*` and `_` by flanking rules that kramdown does not have (kramdown closes `**注意：**`
//! before a letter, where CommonMark does not; it takes `*a (*b` as emphasis). So emphasis found by
//! pulldown-cmark is taken apart again into its delimiter characters, and the inline content of each
//! block, link or cell is re-read with kramdown's rules: a delimiter opens unless whitespace follows
//! (or, for `_`, a letter precedes), closes at the first matching run not preceded by whitespace, and an
//! element never nests in one of its own kind. Text is then educated (quotes, symbols) run by run.

use std::collections::HashMap;

use super::attributes::{self, Extension, Ial};
use super::tree::{Kind, Node};
use super::typography::{self, Piece};
use super::Options;

/// One item of inline content.
#[derive(Debug, Clone)]
pub(crate) enum Token {
    /// A character; with a source offset when it stands there literally (delimiters and educable text).
    Char(Piece),
    /// Something kramdown parses as a unit: a code span, inline HTML, a footnote marker.
    Atom(Box<Node>),
    /// A link, image or strikethrough and its content, which is resolved where it stands: kramdown reads
    /// link text with the emphasis around it open, so `*a [b *c*](/d)*` keeps `*c*` as text (an element
    /// never nests in one of its own kind).
    Container(Box<Node>, Vec<Token>),
}

struct Resolver<'a> {
    tokens: &'a [Token],
    source: &'a str,
    options: &'a Options,
    alds: &'a HashMap<String, Ial>,
    steps: usize,
    /// Failed emphasis makes kramdown scan ahead again; past this many steps delimiters are taken as text,
    /// so that `****…` ten thousand long stays linear.
    budget: usize,
    /// Containers already resolved, by token index and the emphasis open around them: a scan that comes
    /// back over a link does not resolve its content again.
    containers: HashMap<(usize, bool, bool), Vec<Node>>,
}

#[derive(Clone, Copy)]
struct Stop {
    delimiter: char,
    len: usize,
    em: bool,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// Resolves the inline content of one container into nodes.
pub(crate) fn resolve(tokens: &[Token], source: &str, options: &Options, alds: &HashMap<String, Ial>) -> Vec<Node> {
    let mut resolver = Resolver {
        tokens,
        source,
        options,
        alds,
        steps: 0,
        budget: tokens.len().saturating_mul(32).saturating_add(4096),
        containers: HashMap::new(),
    };
    let mut i = 0;
    let (nodes, _) = resolver.parse(&mut i, None, false, false);
    nodes
}

impl Resolver<'_> {
    fn delimiter_at(&self, i: usize) -> Option<char> {
        match self.tokens.get(i) {
            Some(Token::Char(p)) if p.offset().is_some() && matches!(p.c, '*' | '_') => Some(p.c),
            _ => None,
        }
    }

    fn run_len(&self, i: usize, c: char) -> usize {
        (i..self.tokens.len()).take_while(|&j| self.delimiter_at(j) == Some(c)).count()
    }

    /// The character before token `i` as kramdown's scanner sees it (markup counts as a non-space).
    fn char_before(&self, i: usize) -> Option<char> {
        match i.checked_sub(1).map(|j| &self.tokens[j]) {
            Some(Token::Char(p)) => Some(p.c),
            Some(_) => Some('x'),
            None => None,
        }
    }

    /// The character at token `i`. A code span, HTML, footnote marker or link starts with
    /// punctuation in the source (`` ` ``, `<`, `[`, `!`), which is what kramdown's rules look at.
    fn char_at(&self, i: usize) -> Option<char> {
        match self.tokens.get(i) {
            Some(Token::Char(p)) => Some(p.c),
            Some(_) => Some('\u{fffc}'),
            None => None,
        }
    }

    /// kramdown's `_` rule: not after a letter (or a letter and a dash).
    fn intraword(&self, i: usize) -> bool {
        match self.char_before(i) {
            Some(c) if c.is_alphabetic() => matches!(self.tokens.get(i - 1), Some(Token::Char(_))),
            Some('-') => i >= 2 && matches!(&self.tokens[i - 2], Token::Char(p) if p.c.is_alphabetic()),
            _ => false,
        }
    }

    fn parse(&mut self, i: &mut usize, stop: Option<Stop>, in_em: bool, in_strong: bool) -> (Vec<Node>, bool) {
        let mut nodes: Vec<Node> = Vec::new();
        let mut pieces: Vec<Piece> = Vec::new();
        while *i < self.tokens.len() {
            self.steps += 1;
            match &self.tokens[*i] {
                Token::Char(piece) if self.delimiter_at(*i).is_some() => {
                    let c = piece.c;
                    let run = self.run_len(*i, c);
                    if let Some(stop) = stop.filter(|s| s.delimiter == c && run >= s.len) {
                        let before_ok = !self.char_before(*i).is_some_and(is_space);
                        let strong_ahead = stop.em && run == 2;
                        let word_after = c == '_' && self.char_at(*i + stop.len).is_some_and(char::is_alphanumeric);
                        let has_content = !nodes.is_empty() || !pieces.is_empty();
                        if before_ok && !strong_ahead && !word_after && has_content {
                            self.flush(&mut pieces, &mut nodes);
                            *i += stop.len;
                            return (nodes, true);
                        }
                    }
                    let len = run.min(2);
                    let strong = len == 2;
                    let literal = self.steps > self.budget
                        || (c == '_' && self.intraword(*i))
                        || self.char_at(*i + len).is_some_and(is_space)
                        || (strong && in_strong)
                        || (!strong && in_em);
                    let start = *i;
                    if !literal {
                        *i += len;
                        let (children, found) = self.parse(
                            i,
                            Some(Stop { delimiter: c, len, em: !strong }),
                            in_em || !strong,
                            in_strong || strong,
                        );
                        if found {
                            self.flush(&mut pieces, &mut nodes);
                            nodes.push(element(if strong { Kind::Strong } else { Kind::Emphasis }, children));
                            continue;
                        }
                        let parent_is_em = stop.is_some_and(|s| s.em);
                        if strong && !parent_is_em {
                            // kramdown tries a single-character emphasis one character further on.
                            *i = start + 1;
                            let (children, found) =
                                self.parse(i, Some(Stop { delimiter: c, len: 1, em: true }), true, in_strong);
                            if found {
                                self.flush(&mut pieces, &mut nodes);
                                nodes.push(element(Kind::Emphasis, children));
                                continue;
                            }
                        }
                    }
                    for token in &self.tokens[start..start + len] {
                        if let Token::Char(p) = token {
                            pieces.push(*p);
                        }
                    }
                    *i = start + len;
                }
                Token::Char(piece) if piece.c == '{' && pieces.is_empty() => {
                    // A span IAL right after an element applies to it; after text kramdown shows it as text.
                    let piece = *piece;
                    if let Some(end) = self.span_ial(piece, &mut nodes) {
                        while *i < self.tokens.len()
                            && matches!(&self.tokens[*i], Token::Char(p) if p.offset().is_some_and(|o| o < end))
                        {
                            *i += 1;
                        }
                    } else {
                        pieces.push(piece);
                        *i += 1;
                    }
                }
                Token::Char(piece) => {
                    pieces.push(*piece);
                    *i += 1;
                }
                Token::Atom(_) | Token::Container(..) => {
                    let mut node = self.container(*i, in_em, in_strong);
                    if let Some(text) = reference_text_before(&mut pieces, &node) {
                        // kramdown reads `[text] [label]` as one link: the text, and the label's target.
                        self.flush(&mut pieces, &mut nodes);
                        node.children = vec![Node::new(
                            Kind::Text(typography::educate(&text, self.source, None, self.options).0),
                            (0, 0),
                        )];
                    } else {
                        self.flush(&mut pieces, &mut nodes);
                    }
                    nodes.push(node);
                    *i += 1;
                }
            }
        }
        self.flush(&mut pieces, &mut nodes);
        (nodes, false)
    }

    /// The node of an atom or container at token `i`, a container's content resolved inside the emphasis
    /// open around it.
    fn container(&mut self, i: usize, in_em: bool, in_strong: bool) -> Node {
        let (node, tokens) = match &self.tokens[i] {
            Token::Container(node, tokens) => (node, tokens),
            Token::Atom(node) => return (**node).clone(),
            Token::Char(p) => return Node::new(Kind::Text(p.c.to_string()), (0, 0)),
        };
        let mut node = (**node).clone();
        if let Some(children) = self.containers.get(&(i, in_em, in_strong)) {
            node.children = children.clone();
            return node;
        }
        let mut inner = Resolver {
            tokens,
            source: self.source,
            options: self.options,
            alds: self.alds,
            steps: 0,
            budget: tokens.len().saturating_mul(32).saturating_add(4096),
            containers: HashMap::new(),
        };
        let (children, _) = inner.parse(&mut 0, None, in_em, in_strong);
        self.containers.insert((i, in_em, in_strong), children.clone());
        node.children = children;
        node
    }

    /// Applies `{: …}` starting at `piece` to the element just made; returns the source offset after it.
    fn span_ial(&self, piece: Piece, nodes: &mut [Node]) -> Option<usize> {
        let offset = piece.offset()?;
        let target = nodes.last_mut().filter(|n| !matches!(n.kind, Kind::Text(_)))?;
        let (Extension::Ial(inner), len) = attributes::scan_span_braces(self.source.get(offset..)?)? else {
            return None;
        };
        let mut ial = Ial::default();
        attributes::parse(inner, &mut ial);
        attributes::apply(&mut target.attrs, &ial, self.alds);
        Some(offset + len)
    }

    fn flush(&self, pieces: &mut Vec<Piece>, nodes: &mut Vec<Node>) {
        if pieces.is_empty() {
            return;
        }
        let (text, _) = typography::educate(pieces, self.source, None, self.options);
        pieces.clear();
        match nodes.last_mut() {
            Some(Node { kind: Kind::Text(previous), .. }) => previous.push_str(&text),
            _ => nodes.push(Node::new(Kind::Text(text), (0, 0))),
        }
    }
}

/// For a link written `[label]` right after `[text] ` (the space optional), takes `[text] ` off the pending
/// text and returns the text's pieces.
fn reference_text_before(pieces: &mut Vec<Piece>, link: &Node) -> Option<Vec<Piece>> {
    if !matches!(link.kind, Kind::Link { shortcut: true, .. }) {
        return None;
    }
    let mut end = pieces.len();
    while end > 0 && is_space(pieces[end - 1].c) {
        end -= 1;
    }
    if end == 0 || pieces[end - 1].c != ']' || pieces[end - 1].offset().is_none() {
        return None;
    }
    let open = pieces[..end - 1].iter().rposition(|p| p.c == '[' && p.offset().is_some())?;
    if open + 1 == end - 1 || pieces[open + 1..end - 1].iter().any(|p| p.c == ']' || p.c == '[') {
        return None;
    }
    let text = pieces[open + 1..end - 1].to_vec();
    pieces.truncate(open);
    Some(text)
}

fn element(kind: Kind, children: Vec<Node>) -> Node {
    let mut node = Node::new(kind, (0, 0));
    node.children = children;
    node
}
