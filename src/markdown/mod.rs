//! Markdown as Jekyll 4 renders it: kramdown with its GFM parser and Jekyll's defaults, built on
//! pulldown-cmark.
//!
//! Jekyll's converter is kramdown, not CommonMark, and a reader sees the difference: typographic quotes,
//! `{: .class}` attribute lists, `{:toc}`, footnote and abbreviation markup, HTML blocks that run to their
//! end tag. This module reproduces what kramdown makes of a post body, in three steps:
//! 1. [`blocks`]: a line pass takes out what kramdown reads differently from CommonMark (fenced code by
//!    kramdown's rules, HTML blocks, IALs, ALDs, extensions, abbreviation definitions) and leaves
//!    placeholders;
//! 2. [`tree`]: pulldown-cmark parses the rest; its events become a tree, with text educated by kramdown's
//!    smart-quote rules (using the source offsets pulldown-cmark reports) and span IALs attached;
//! 3. [`render`]: the tree is written as kramdown's HTML converter writes it (ids, `{:toc}`, footnotes,
//!    abbreviations, Rouge's code wrapper).
//!
//! Why pulldown-cmark: on the corpora's 10,873 post bodies without Liquid, rendered plainly and compared
//! with Jekyll's output on visible text, pulldown-cmark (smart punctuation, heading attributes, definition
//! lists on) matched 3,568 posts at a median 40 µs per post, comrak (its nearest options) 3,624 at 86 µs;
//! both matched 3,842 on links. Neither is close to kramdown by itself, so the choice is the one that is
//! cheaper to extend: pulldown-cmark is already a dependency, twice as fast, and its offset-carrying event
//! stream gives the source context kramdown's quote and emphasis rules need.
//!
//! Where it stands (`cargo run --release --example kramdown_sweep`, 2-vCPU EPYC VM): 10,715 of the 10,873
//! posts have the visible text Jekyll gives them and 10,780 the same link and image targets; a post takes a
//! median 121 µs (p90 446 µs), against 24 µs for pulldown-cmark's own HTML writer in the same run.
//! Known differences: kramdown's list rules in rarer shapes (what a list item holds), a few header and fence
//! shapes inside lists, tables and HTML in places the block pass does not look (deep in lists), a link URL
//! with spaces that runs over a line end, and tags kramdown reads as HTML that CommonMark does not (`<a.b>`,
//! `<ns:tag>`). Rouge's token `<span>`s are left out of code blocks: the text is the same, the wrapper is
//! Rouge's.

mod attributes;
mod blocks;
mod html_scan;
mod ids;
mod inline;
mod options;
mod render;
mod tree;
mod typography;

#[cfg(test)]
mod tests;

pub use options::{InputFormat, Options};
pub use typography::{smartify, smartify_with};

/// HTML nested in HTML (`<p markdown="1">` holding another) is rendered at most this deep.
const MAX_NESTING: usize = 8;

/// Renders a post body (after Liquid) as Jekyll's kramdown converter does with `options`.
pub fn render(markdown: &str, options: &Options) -> String {
    render_at(markdown, options, &[], &tree::Definitions::new())
}

/// Renders Markdown inside an HTML element, with the abbreviations and link definitions of the
/// enclosing document.
pub(crate) fn render_nested(
    markdown: &str,
    options: &Options,
    abbreviations: &[(String, String)],
    definitions: &tree::Definitions,
) -> String {
    thread_local! {
        static DEPTH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }
    let depth = DEPTH.with(|d| d.get());
    if depth >= MAX_NESTING {
        return typography::escape_text(markdown);
    }
    DEPTH.with(|d| d.set(depth + 1));
    let html = render_at(markdown, options, abbreviations, definitions);
    DEPTH.with(|d| d.set(depth));
    html
}

fn render_at(
    markdown: &str,
    options: &Options,
    abbreviations: &[(String, String)],
    definitions: &tree::Definitions,
) -> String {
    let source = normalize(markdown);
    let mut prepared = blocks::prepare(&source, options);
    // `{::options … /}` in the post: kramdown's converter (and the GFM parser's last pass) see the last value
    // of each option set anywhere; its parser sees a value from where it is set on: the block pass has
    // applied `parse_block_html` so, and `parse_span_html` (read when the tree is built) applies when it is
    // set before anything else, the whole post then.
    let inline_options;
    let options = if prepared.inline_options.is_empty() {
        options
    } else {
        let mut changed = options.clone();
        for (key, value, at_start) in &prepared.inline_options {
            let mut trial = changed.clone();
            if !trial.apply_inline(key, value) || (*at_start && key == "parse_span_html") {
                changed = trial;
            }
        }
        inline_options = changed;
        &inline_options
    };
    if !abbreviations.is_empty() {
        let mut all = abbreviations.to_vec();
        all.append(&mut prepared.abbreviations);
        prepared.abbreviations = all;
    }
    let mut document = tree::build(&prepared, options, definitions);
    render::apply_block_ials(&mut document.root, &prepared.ials, &prepared.alds);
    if !prepared.item_ials.is_empty() {
        render::apply_item_ials(&mut document.root, &prepared.item_ials, &prepared.alds);
    }
    let mut root = std::mem::replace(&mut document.root, tree_root());
    let mut renderer = render::Renderer::new(options, &prepared, &mut document);
    renderer.number_headers(&mut root);
    renderer.document(&root)
}

fn tree_root() -> tree::Node {
    tree::Node {
        kind: tree::Kind::Root,
        attrs: attributes::Attrs::default(),
        refs: Vec::new(),
        children: Vec::new(),
        lines: (0, 0),
    }
}

/// kramdown's `adapt_source`: CRLF and CR become LF, and the text ends with one newline.
fn normalize(markdown: &str) -> String {
    let mut text =
        if markdown.contains('\r') { markdown.replace("\r\n", "\n").replace('\r', "\n") } else { markdown.to_string() };
    while text.ends_with('\n') {
        text.pop();
    }
    text.push('\n');
    text
}
