//! What a reader sees of an HTML fragment, read with an independent HTML parser (scraper/html5ever):
//! the text (tags dropped, HTML whitespace collapsed, entities decoded) and the link and image targets.

use scraper::{Html, Node};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visible {
    pub text: String,
    /// `a href` and `img src`, in document order, each prefixed with its element name.
    pub targets: Vec<String>,
}

pub fn visible(html: &str) -> Visible {
    let fragment = Html::parse_fragment(html);
    let mut text = String::new();
    let mut targets = Vec::new();
    for node in fragment.tree.root().descendants() {
        match node.value() {
            Node::Text(t) => text.push_str(t),
            Node::Element(e) => match e.name() {
                "a" => targets.extend(e.attr("href").map(|h| format!("a {h}"))),
                "img" => targets.extend(e.attr("src").map(|s| format!("img {s}"))),
                _ => {}
            },
            _ => {}
        }
    }
    let text = text.split([' ', '\t', '\n', '\r', '\x0c']).filter(|w| !w.is_empty()).collect::<Vec<_>>().join(" ");
    Visible { text, targets }
}

/// The first place two texts differ, with some context, for reports.
pub fn first_difference(expected: &str, actual: &str) -> String {
    let e: Vec<char> = expected.chars().collect();
    let a: Vec<char> = actual.chars().collect();
    let same = e.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let from = same.saturating_sub(40);
    let snippet = |s: &[char]| s[from.min(s.len())..(same + 60).min(s.len())].iter().collect::<String>();
    format!("jekyll: {:?}\n  ours: {:?}", snippet(&e), snippet(&a))
}
