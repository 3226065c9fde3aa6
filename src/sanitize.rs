//! Entry HTML in, HTML that no feed reader can be attacked through out: the allowlist, in one
//! place, applied by ammonia on html5ever's tree of the input.
//!
//! The input is parsed as a browser parses it (character references decoded, `<select><xmp>`,
//! `<svg>` and `<noscript>` read by the HTML5 rules), and the output is written from that tree,
//! holding only what is listed here, its links made absolute when a base URL is given. There is no error path: any string parses, and what is not
//! allowed is dropped, so nothing is ever passed through unchecked.
//!
//! What posts need is kept: Markdown's output (pulldown-cmark and kramdown, footnotes included),
//! Rouge's highlighting markup (`div.highlighter-rouge`, `figure.highlight`, `table.rouge-table`,
//! token `span`s), the images and links of the text, and audio and video players.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use url::Url;

use crate::post::body;

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
    // A podcast's player: readers show it (html5lib's and feedparser's sanitizers keep it too).
    "audio",
    "video",
    "source",
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
    // No `autoplay`, `preload` or `poster`: nothing plays or loads before the reader asks.
    ("audio", &["src", "controls"]),
    ("video", &["src", "controls", "width", "height"]),
    ("source", &["src", "type"]),
];

/// Schemes a URL may have; a URL with no scheme (relative) is kept too. Anything else is removed.
const SCHEMES: [&str; 3] = ["http", "https", "mailto"];

/// Entry HTML with everything off the allowlist removed; with a `base`, the URLs it keeps are
/// made absolute against it, as [`body::absolutize_links`] makes them, in the same parse.
pub(crate) fn sanitize(html: &str, base: Option<&Url>) -> String {
    let _base = base.map(BaseGuard::set);
    let mut out = Vec::with_capacity(html.len() + html.len() / 4);
    // Serialized straight into one buffer: `to_string` serializes into another and copies it.
    // Writing to memory cannot fail, and html5ever writes UTF-8.
    let _ = builder().clean(html).write_to(&mut out);
    String::from_utf8(out).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

thread_local! {
    /// The base URL of the body this thread is sanitizing. The builder is shared and its
    /// attribute filter has no other way to learn it; building one per body would cost more.
    static BASE: RefCell<Option<Url>> = const { RefCell::new(None) };
}

/// Sets this thread's base URL while it lives, and puts the previous one back when dropped
/// (a panic inside ammonia leaves no stale base for the thread's next body).
struct BaseGuard(Option<Url>);

impl BaseGuard {
    fn set(base: &Url) -> BaseGuard {
        BaseGuard(BASE.with_borrow_mut(|slot| slot.replace(base.clone())))
    }
}

impl Drop for BaseGuard {
    fn drop(&mut self) {
        let previous = self.0.take();
        BASE.with_borrow_mut(|slot| *slot = previous);
    }
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

/// Makes a kept URL absolute against the thread's [`BASE`], if one is set, then takes the second
/// look at it, as at every kept attribute, after ammonia's own scheme check (which asks the
/// `url` crate, and so treats `java\u{1}script:` as relative): the scheme as a browser could
/// read it, with all whitespace and control characters gone, in `href`, `src` and every `srcset`
/// candidate; and no script scheme in any attribute at all, where a reader's own code might
/// take it for a URL.
fn checked_attribute<'a>(_element: &str, attribute: &str, value: &'a str) -> Option<Cow<'a, str>> {
    // html5ever has decoded the value already, and ammonia escapes what it writes.
    let absolute =
        BASE.with_borrow(|base| base.as_ref().and_then(|base| body::absolute_attribute(attribute, value, base)));
    let value = absolute.map_or(Cow::Borrowed(value), Cow::Owned);
    let allowed = match attribute {
        // Only the classes kramdown and Rouge write: a class a reader's own stylesheet knows
        // (`modal`, `fixed-top`) could lay the entry over the reader's page.
        "class" => {
            let kept: Vec<&str> = value.split_ascii_whitespace().filter(|class| known_class(class)).collect();
            return (!kept.is_empty()).then(|| Cow::Owned(kept.join(" ")));
        }
        "role" => value.starts_with("doc-"),
        "rel" => value == "footnote",
        "srcset" => value.split([',', ' ', '\t', '\n', '\r', '\x0c']).all(allowed_url),
        _ => !scheme_of(&value).is_some_and(|s| matches!(s.as_str(), "javascript" | "vbscript" | "livescript")),
    };
    allowed.then_some(value)
}

/// Classes kramdown writes (footnotes, `language-x` on code), Rouge writes (the wrappers, the
/// line-number table, its one- to three-letter token classes) and pulldown-cmark writes.
fn known_class(class: &str) -> bool {
    const NAMED: &[&str] = &[
        "highlight",
        "highlighter-rouge",
        "rouge-table",
        "rouge-code",
        "rouge-gutter",
        "gutter",
        "code",
        "lineno",
        "footnote",
        "footnotes",
        "reversefootnote",
        "footnote-reference",
        "footnote-definition",
        "footnote-definition-label",
    ];
    if NAMED.contains(&class) {
        return true;
    }
    if let Some(language) = class.strip_prefix("language-") {
        return !language.is_empty() && language.chars().all(|c| c.is_ascii_alphanumeric() || "+#._-".contains(c));
    }
    // Rouge's token classes: `k`, `nf`, `s2`, `err`, `cpf`…
    let bytes = class.as_bytes();
    matches!(class, "err" | "cpf")
        || (!bytes.is_empty()
            && bytes.len() <= 3
            && bytes[0].is_ascii_lowercase()
            && bytes.get(1).is_none_or(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && bytes.get(2).is_none_or(u8::is_ascii_digit))
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

    fn base() -> Url {
        Url::parse("https://news.example.com/blog/2021/12/24/post.html").unwrap()
    }

    #[test]
    fn kept_links_are_made_absolute_in_the_same_parse() {
        let html = r##"<a href="/about/">a</a><a href="../x.html?a=1&amp;b=2">b</a><a href="#fn:1">c</a><a href="mailto:a@b.c">d</a><img src="img/a.png" srcset="a.png 1x,/b.png   2x" alt="i"><a href="//cdn.example.org/z">e</a>"##;
        assert_eq!(
            sanitize(html, Some(&base())),
            concat!(
                r#"<a href="https://news.example.com/about/">a</a>"#,
                r#"<a href="https://news.example.com/blog/2021/12/x.html?a=1&amp;b=2">b</a>"#,
                r#"<a href="https://news.example.com/blog/2021/12/24/post.html#fn:1">c</a>"#,
                r#"<a href="mailto:a@b.c">d</a>"#,
                r#"<img src="https://news.example.com/blog/2021/12/24/img/a.png" "#,
                r#"srcset="https://news.example.com/blog/2021/12/24/a.png 1x, https://news.example.com/b.png 2x" alt="i">"#,
                r#"<a href="https://cdn.example.org/z">e</a>"#,
            )
        );
        // An empty `href` is the page itself, as a reader resolving it against `xml:base` finds.
        assert_eq!(
            sanitize(r#"<a href="">here</a>"#, Some(&base())),
            r#"<a href="https://news.example.com/blog/2021/12/24/post.html">here</a>"#
        );
        // The base is this call's only: the next body without one keeps its links as they are.
        assert_eq!(sanitize(r#"<a href="/about/">a</a>"#, None), r#"<a href="/about/">a</a>"#);
    }

    /// The same URLs as lol_html's rewrite followed by the sanitizer, the pipeline this replaces.
    #[test]
    fn absolute_links_are_those_of_the_separate_rewrite() {
        for html in [
            r#"<a href="&#x2F;a?x=1&amp;y=&quot;2">a</a><img srcset="/i.png?a=1&amp;b=2 2x, j.png">"#,
            r#"<p><a href=" /spaced ">a</a><img src="../../up.png" title="t"><a href="?q=1">q</a></p>"#,
            r#"<a href="https://o.org/x">a</a><a href="java&#x09;script:x()">b</a><img src="&#x6a;avascript:x()">"#,
            r#"<a href="//[bad">a</a><a href="/%zz/ü?é#ß">b</a><img srcset="">"#,
            r#"<blockquote cite="/c"><q cite="c">q</q></blockquote><video poster="/p.png"><source src="/v.mp4"></video>"#,
        ] {
            assert_eq!(sanitize(html, Some(&base())), sanitize(&body::absolutize_links(html, &base()), None), "{html}");
        }
    }

    /// Rewriting happens only to what ammonia kept, and the rewritten URL is judged again:
    /// nothing the allowlist or the scheme checks remove comes back with a base.
    #[test]
    fn what_is_dropped_stays_dropped_with_a_base() {
        for bad in
            ["javascript:alert(1)", "&#x6a;avascript:alert(1)", "java\tscript:x", "data:text/html,x", "ftp://x.org/"]
        {
            let out = sanitize(
                &format!(r#"<a href="{bad}">a</a><img src="{bad}"><img srcset="x.png 1x, {bad} 2x">"#),
                Some(&base()),
            );
            assert_eq!(out, "<a>a</a><img><img>", "{bad}");
        }
        let out = sanitize(
            r#"<q cite="/c">q</q><img src="/a.png" poster="/p.png" background="/b.png"><form action="/f"><a href="/x" ping="/p">a</a></form><video src="javascript:x()" poster="/p.png" autoplay></video><iframe src="/e"></iframe>"#,
            Some(&base()),
        );
        assert_eq!(
            out,
            r#"<q>q</q><img src="https://news.example.com/a.png"><a href="https://news.example.com/x">a</a><video></video>"#
        );
    }

    /// A podcast's player stays, with its sources made absolute; nothing in it plays or loads
    /// before the reader asks, and no script URL gets through it.
    #[test]
    fn audio_and_video_players_stay_without_autoplay() {
        let html = r#"<audio controls autoplay preload="auto" src="/ep1.mp3" onplay="x()">Listen <a href="/ep1.mp3">here</a></audio><video controls width="640" poster="/p.png" loop><source src="ep1.webm" type="video/webm"><source src="java&#x09;script:x()"><track src="/c.vtt"></video>"#;
        let out = sanitize(html, Some(&base()));
        assert_eq!(
            out,
            r#"<audio controls="" src="https://news.example.com/ep1.mp3">Listen <a href="https://news.example.com/ep1.mp3">here</a></audio><video controls="" width="640"><source src="https://news.example.com/blog/2021/12/24/ep1.webm" type="video/webm"><source></video>"#
        );
    }

    #[test]
    fn code_is_removed_and_text_kept() {
        let html = r#"<p onclick="x()" style="color:red">hi<script>alert(1)</script></p><a href="java	script:alert(1)">x</a><img src="data:image/png;base64,AAA"><iframe src="/e"></iframe><b>bold</b>"#;
        let out = sanitize(html, None);
        for gone in ["script", "onclick", "style=", "javascript", "data:", "iframe"] {
            assert!(!out.to_ascii_lowercase().contains(gone), "{gone} in {out}");
        }
        assert!(out.contains("<p>hi</p>") && out.contains("<b>bold</b>") && out.contains("<a>x</a>"), "{out}");
        // ammonia keeps only listed attributes: `alt` is not one of `a`'s.
        assert_eq!(sanitize(r#"<a fill="javascript:x()" alt="data: 5">y</a>"#, None), "<a>y</a>");
        assert_eq!(sanitize(r#"<img alt="data: 5 %" title="javascript:x()">"#, None), r#"<img alt="data: 5 %">"#);
    }

    /// A tag still open at the end of the body is dropped, as a browser drops it; a `<` that
    /// starts no tag is text.
    #[test]
    fn unterminated_tags_are_gone() {
        assert_eq!(sanitize("<p>x</p><script/src=x.js", None), "<p>x</p>");
        assert_eq!(sanitize("<b>x</b> a<<script in b<<s", None), "<b>x</b> a&lt;");
        assert_eq!(sanitize("a < b <投入> <!-- c", None), "a &lt; b &lt;投入&gt; ");
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
            let out =
                sanitize(&format!(r#"<a href="{bad}">a</a><img src="{bad}"><img srcset="x.png 1x, {bad} 2x">"#), None);
            assert_eq!(out, "<a>a</a><img><img>", "{bad}");
        }
        for good in ["https://x.org/a?b=1&amp;c=2", "HTTP://x.org/", "mailto:a@b.c", "/rel/a.png", "#fn:1", "a.png"] {
            let out = sanitize(&format!(r#"<a href="{good}">a</a><img src="{good}">"#), None);
            assert_eq!(out, format!(r#"<a href="{good}">a</a><img src="{good}">"#));
        }
    }

    #[test]
    fn nothing_off_the_allowlist_survives() {
        // Void elements hold nothing, and a browser ignores `head`, `frame` and `frameset` here.
        let without_content =
            ["head", "meta", "link", "base", "input", "keygen", "param", "track", "area", "embed", "frame", "frameset"];
        for tag in DROPPED_WITH_CONTENT {
            let out = sanitize(&format!("<p>a<{tag}>inner</{tag}>b</p>"), None);
            assert!(!out.contains(&format!("<{tag}")), "{tag}: {out}");
            assert!(!out.contains("inner") || without_content.contains(tag), "{tag}: {out}");
        }
        for attribute in
            ["onerror", "style", "srcdoc", "xlink:href", "action", "formaction", "poster", "data", "background"]
        {
            let out = sanitize(
                &format!(r#"<img src="a.png" {attribute}="https://x.org/"><a href="/" {attribute}="x">a</a>"#),
                None,
            );
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
            assert_eq!(sanitize(html, None), html);
        }
    }

    #[test]
    fn only_the_classes_roles_and_rels_of_kramdown_and_rouge_are_kept() {
        let html = r#"<div class="modal fade show position-fixed highlighter-rouge" role="dialog"><pre class="highlight"><code class="language-c++ x"><span class="nf">f</span><span class="btn-primary">g</span></code></pre></div><p><a href="https://e.org" class="btn stretched-link footnote" rel="nofollow">x</a></p>"#;
        assert_eq!(
            sanitize(html, None),
            r#"<div class="highlighter-rouge"><pre class="highlight"><code class="language-c++ x"><span class="nf">f</span><span>g</span></code></pre></div><p><a href="https://e.org" class="footnote">x</a></p>"#
        );
    }
}
