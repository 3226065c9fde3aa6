//! Entry HTML in, HTML that no feed reader can be attacked through out: the allowlist, in one
//! place, applied by ammonia on html5ever's tree of the input.
//!
//! The input is parsed as a browser parses it (character references decoded, `<select><xmp>`,
//! `<svg>` and `<noscript>` read by the HTML5 rules), and the output is written from that tree,
//! holding only what is listed here. There is no error path: any string parses, and what is not
//! allowed is dropped, so nothing is ever passed through unchecked.
//!
//! What posts need is kept: Markdown's output (pulldown-cmark and kramdown, footnotes included),
//! Rouge's highlighting markup (`div.highlighter-rouge`, `figure.highlight`, `table.rouge-table`,
//! token `span`s) and the images and links of the text.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

/// Elements kept. Anything else is removed, and its content kept (as text and allowed elements)
/// unless it is listed in [`DROPPED_WITH_CONTENT`].
const ELEMENTS: &[&str] = &[
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "p",
    "br",
    "hr",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "table",
    "caption",
    "colgroup",
    "col",
    "thead",
    "tbody",
    "tfoot",
    "tr",
    "th",
    "td",
    "figure",
    "figcaption",
    "pre",
    "code",
    "blockquote",
    "details",
    "summary",
    "abbr",
    "sup",
    "sub",
    "em",
    "strong",
    "b",
    "i",
    "u",
    "s",
    "del",
    "ins",
    "mark",
    "small",
    "q",
    "cite",
    "kbd",
    "samp",
    "var",
    "span",
    "div",
    "a",
    "img",
];

/// Elements removed together with everything inside them: they run code, load other documents,
/// hold form controls, switch the parser to raw text or into SVG or MathML (where the same tag
/// names mean other things), or only make sense with a script.
const DROPPED_WITH_CONTENT: &[&str] = &[
    "script",
    "style",
    "template",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "param",
    "noscript",
    "noembed",
    "noframes",
    "xmp",
    "plaintext",
    "title",
    "textarea",
    "select",
    "option",
    "optgroup",
    "datalist",
    "input",
    "button",
    "keygen",
    "svg",
    "math",
    "head",
    "meta",
    "link",
    "base",
    "audio",
    "video",
    "source",
    "track",
    "canvas",
    "map",
    "area",
    "portal",
];

/// Attributes kept, per element; no element keeps any other. No `on*` handler, `style`,
/// `srcdoc`, `xlink:href`, `action`, `formaction`, `poster` or `data` is on the list.
const ATTRIBUTES: &[(&str, &[&str])] = &[
    ("h1", &["id"]),
    ("h2", &["id"]),
    ("h3", &["id"]),
    ("h4", &["id"]),
    ("h5", &["id"]),
    ("h6", &["id"]),
    // Footnote references and backlinks (`a.footnote`, `rel="footnote"`, `role="doc-backlink"`).
    ("a", &["href", "title", "class", "rel", "role"]),
    ("img", &["src", "srcset", "alt", "width", "height", "title"]),
    ("abbr", &["title"]),
    // Highlighting: `pre.highlight`, `code.language-ruby` with `data-lang`, token spans.
    ("pre", &["class"]),
    ("code", &["class", "data-lang"]),
    ("span", &["class"]),
    ("div", &["class", "id", "role"]),
    ("figure", &["class"]),
    // Footnotes: `sup#fnref:1[role=doc-noteref]`, `li#fn:1[role=doc-endnote]`.
    ("sup", &["id", "class", "role"]),
    ("li", &["id", "role"]),
    ("ol", &["start"]),
    ("table", &["class"]),
    ("td", &["class", "colspan", "rowspan"]),
    ("th", &["colspan", "rowspan"]),
    ("details", &["open"]),
];

/// Schemes a URL may have; a URL with no scheme (relative) is kept too. Anything else is removed.
const SCHEMES: [&str; 3] = ["http", "https", "mailto"];

/// Entry HTML with everything off the allowlist removed.
pub(crate) fn sanitize(html: &str) -> String {
    builder().clean(html).to_string()
}

fn builder() -> &'static ammonia::Builder<'static> {
    static BUILDER: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    BUILDER.get_or_init(|| {
        let mut builder = ammonia::Builder::empty();
        builder
            .tags(ELEMENTS.iter().copied().collect())
            .clean_content_tags(DROPPED_WITH_CONTENT.iter().copied().collect())
            .tag_attributes(ATTRIBUTES.iter().map(|(tag, attrs)| (*tag, attrs.iter().copied().collect())).collect())
            .generic_attributes(HashSet::new())
            .tag_attribute_values(HashMap::new())
            .url_schemes(SCHEMES.into_iter().collect())
            .url_relative(ammonia::UrlRelative::PassThrough)
            // jekyll-feed writes links without `rel`, and no `target` survives, so the
            // `noopener noreferrer` ammonia adds by default would protect nothing: the link
            // opens where the reader decides, and readers add their own `rel`.
            .link_rel(None)
            .strip_comments(true)
            .attribute_filter(checked_attribute);
        builder
    })
}

/// The second look at every kept attribute, after ammonia's own scheme check (which asks the
/// `url` crate, and so treats `java\u{1}script:` as relative): the scheme as a browser could
/// read it, with all whitespace and control characters gone, in `href`, `src` and every `srcset`
/// candidate; and no script scheme in any attribute at all, where a reader's own code might
/// take it for a URL.
fn checked_attribute<'a>(_element: &str, attribute: &str, value: &'a str) -> Option<Cow<'a, str>> {
    let allowed = match attribute {
        "href" | "src" => allowed_url(value),
        "srcset" => value.split([',', ' ', '\t', '\n', '\r', '\x0c']).all(allowed_url),
        _ => !scheme_of(value).is_some_and(|s| matches!(s.as_str(), "javascript" | "vbscript" | "livescript")),
    };
    allowed.then_some(Cow::Borrowed(value))
}

fn allowed_url(value: &str) -> bool {
    scheme_of(value).is_none_or(|scheme| SCHEMES.contains(&scheme.as_str()))
}

/// The scheme of a URL, lowercased, when the value has one: what comes before the first `:`
/// that precedes any `/`, `?` or `#`, once whitespace and control characters are removed (a
/// browser skips some of them; all are removed here, to be safe whichever way a reader goes).
fn scheme_of(value: &str) -> Option<String> {
    let mut scheme = String::new();
    for c in value.chars().filter(|c| !ignored_in_scheme(*c)) {
        match c {
            ':' => return (!scheme.is_empty()).then(|| scheme.to_lowercase()),
            '/' | '?' | '#' => return None,
            _ => scheme.push(c),
        }
    }
    None
}

fn ignored_in_scheme(c: char) -> bool {
    c.is_whitespace() || c.is_control() || crate::markup::forbidden_in_xml(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_is_removed_and_text_kept() {
        let html = r#"<p onclick="x()" style="color:red">hi<script>alert(1)</script></p><a href="java	script:alert(1)">x</a><img src="data:image/png;base64,AAA"><iframe src="/e"></iframe><b>bold</b>"#;
        let out = sanitize(html);
        for gone in ["script", "onclick", "style=", "javascript", "data:", "iframe"] {
            assert!(!out.to_ascii_lowercase().contains(gone), "{gone} in {out}");
        }
        assert!(out.contains("<p>hi</p>") && out.contains("<b>bold</b>") && out.contains("<a>x</a>"), "{out}");
        // ammonia keeps only listed attributes: `alt` is not one of `a`'s.
        assert_eq!(sanitize(r#"<a fill="javascript:x()" alt="data: 5">y</a>"#), "<a>y</a>");
        assert_eq!(sanitize(r#"<img alt="data: 5 %" title="javascript:x()">"#), r#"<img alt="data: 5 %">"#);
    }

    /// A tag still open at the end of the body is dropped, as a browser drops it; a `<` that
    /// starts no tag is text.
    #[test]
    fn unterminated_tags_are_gone() {
        assert_eq!(sanitize("<p>x</p><script/src=x.js"), "<p>x</p>");
        assert_eq!(sanitize("<b>x</b> a<<script in b<<s"), "<b>x</b> a&lt;");
        assert_eq!(sanitize("a < b <投入> <!-- c"), "a &lt; b &lt;投入&gt; ");
    }

    #[test]
    fn urls_are_judged_as_a_browser_reads_them() {
        for bad in [
            "javascript:alert(1)",
            "JaVaScRiPt:alert(1)",
            "&#x6a;avascript:alert(1)",
            "&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)",
            "javascript&colon;alert(1)",
            " \u{1}java\tscr\nipt:alert(1)",
            "java&#x09;script:alert(1)",
            "java\u{1}script:alert(1)",
            "java\u{85}script:alert(1)",
            "vbscript:msgbox(1)",
            "data:text/html;base64,PHNjcmlwdD4=",
            "file:///etc/passwd",
            "ftp://x.org/",
        ] {
            let out = sanitize(&format!(r#"<a href="{bad}">a</a><img src="{bad}"><img srcset="x.png 1x, {bad} 2x">"#));
            assert_eq!(out, "<a>a</a><img><img>", "{bad}");
        }
        for good in ["https://x.org/a?b=1&amp;c=2", "HTTP://x.org/", "mailto:a@b.c", "/rel/a.png", "#fn:1", "a.png"] {
            let out = sanitize(&format!(r#"<a href="{good}">a</a><img src="{good}">"#));
            assert_eq!(out, format!(r#"<a href="{good}">a</a><img src="{good}">"#));
        }
    }

    #[test]
    fn nothing_off_the_allowlist_survives() {
        // Void elements hold nothing, and a browser ignores `head`, `frame` and `frameset` here.
        let without_content = [
            "head", "meta", "link", "base", "input", "keygen", "param", "source", "track", "area", "embed", "frame",
            "frameset",
        ];
        for tag in DROPPED_WITH_CONTENT {
            let out = sanitize(&format!("<p>a<{tag}>inner</{tag}>b</p>"));
            assert!(!out.contains(&format!("<{tag}")), "{tag}: {out}");
            assert!(!out.contains("inner") || without_content.contains(tag), "{tag}: {out}");
        }
        for attribute in
            ["onerror", "style", "srcdoc", "xlink:href", "action", "formaction", "poster", "data", "background"]
        {
            let out = sanitize(&format!(
                r#"<img src="a.png" {attribute}="https://x.org/"><a href="/" {attribute}="x">a</a>"#
            ));
            assert_eq!(out, r#"<img src="a.png"><a href="/">a</a>"#, "{attribute}");
        }
    }

    /// The shapes Jekyll (kramdown + Rouge) and pulldown-cmark write come through unchanged.
    #[test]
    fn footnotes_and_highlighting_survive() {
        for html in [
            r##"<p>Text<sup id="fnref:1" role="doc-noteref"><a href="#fn:1" class="footnote" rel="footnote">1</a></sup></p>"##,
            r##"<div class="footnotes" role="doc-endnotes"><ol><li id="fn:1" role="doc-endnote"><p>Note <a href="#fnref:1" class="reversefootnote" role="doc-backlink">↩</a></p></li></ol></div>"##,
            r#"<div class="language-ruby highlighter-rouge"><div class="highlight"><pre class="highlight"><code><span class="k">def</span> <span class="nf">x</span></code></pre></div></div>"#,
            r#"<figure class="highlight"><pre><code class="language-rust" data-lang="rust"><span class="k">fn</span></code></pre></figure>"#,
            r#"<table class="rouge-table"><tbody><tr><td class="gutter gl"><pre class="lineno">1</pre></td><td class="code"><pre>x</pre></td></tr></tbody></table>"#,
            r##"<sup class="footnote-reference"><a href="#1">1</a></sup><div class="footnote-definition" id="1"><sup class="footnote-definition-label">1</sup><p>n</p></div>"##,
            r#"<h2 id="intro">Intro</h2><details open=""><summary>s</summary><dl><dt>t</dt><dd>d</dd></dl></details><figure><img src="https://x.org/a.png" srcset="https://x.org/a.png 1x, https://x.org/b.png 2x" alt="a" width="10" height="5"><figcaption>c</figcaption></figure>"#,
            r#"<p><em>e</em><strong>s</strong><abbr title="HyperText">HTML</abbr> x<sub>2</sub> <kbd>k</kbd><mark>m</mark><del>d</del><ins>i</ins><q>q</q></p><hr><blockquote><p>b</p></blockquote>"#,
        ] {
            assert_eq!(sanitize(html), html);
        }
    }
}
