//! Post bodies: Markdown to HTML, links made absolute, unsafe markup removed, excerpts and plain text.

use std::borrow::Cow;

use lol_html::html_content::Element;
use lol_html::{element, rewrite_str, RewriteStrSettings};
use pulldown_cmark::{html, Options, Parser};
use url::Url;

/// How a body is turned into HTML, decided by the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Markup {
    Markdown,
    /// HTML and every other extension: used as it is, as Jekyll's identity converter does.
    Verbatim,
}

impl Markup {
    pub fn from_extension(ext: &str) -> Markup {
        match ext.to_ascii_lowercase().as_str() {
            "md" | "markdown" | "mkdn" | "mkd" | "mkdown" => Markup::Markdown,
            _ => Markup::Verbatim,
        }
    }
}

/// Renders a body to HTML. CRLF line ends are read as LF.
pub fn to_html(body: &str, markup: Markup) -> String {
    let body = normalize_newlines(body);
    match markup {
        Markup::Verbatim => body.into_owned(),
        Markup::Markdown => {
            let options = Options::ENABLE_TABLES | Options::ENABLE_FOOTNOTES | Options::ENABLE_STRIKETHROUGH;
            let mut out = String::with_capacity(body.len() + body.len() / 4);
            html::push_html(&mut out, Parser::new_ext(&body, options));
            out
        }
    }
}

/// Jekyll's automatic excerpt: the body up to the first blank line (`excerpt_separator`).
pub fn excerpt_source(body: &str) -> Cow<'_, str> {
    let body = normalize_newlines(body);
    let trimmed = body.trim_start_matches('\n');
    match trimmed.find("\n\n") {
        Some(i) => Cow::Owned(trimmed[..i].to_string()),
        None => Cow::Owned(trimmed.to_string()),
    }
}

fn normalize_newlines(text: &str) -> Cow<'_, str> {
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Elements removed with their content when sanitizing: they run code or pull in other documents.
const UNSAFE_ELEMENTS: &str =
    "script, noscript, iframe, frame, frameset, object, embed, applet, meta, link, base, style, form";
/// Attributes that hold URLs.
const URL_ATTRIBUTES: [&str; 6] = ["href", "src", "poster", "cite", "background", "action"];

/// Makes every relative or protocol-relative URL in `html` absolute against `base` (the post's
/// own URL) and, with `sanitize`, drops scripts, event handlers and `javascript:`/`data:` URLs.
pub fn rewrite_html(html: &str, base: &Url, sanitize: bool) -> String {
    let absolutize = |el: &mut Element| {
        for name in URL_ATTRIBUTES {
            if let Some(value) = el.get_attribute(name) {
                if sanitize && is_dangerous_url(&value) {
                    el.remove_attribute(name);
                } else if let Some(absolute) = absolute_url(base, &value) {
                    let _ = el.set_attribute(name, &absolute);
                }
            }
        }
        if let Some(srcset) = el.get_attribute("srcset") {
            let rewritten: Vec<String> = srcset
                .split(',')
                .map(|candidate| {
                    let candidate = candidate.trim();
                    let (url, descriptor) = candidate.split_once(char::is_whitespace).unwrap_or((candidate, ""));
                    let url = absolute_url(base, url).unwrap_or_else(|| url.to_string());
                    if descriptor.is_empty() {
                        url
                    } else {
                        format!("{url} {}", descriptor.trim())
                    }
                })
                .collect();
            let _ = el.set_attribute("srcset", &rewritten.join(", "));
        }
        if sanitize {
            // Handlers, styles, and a script URL in any attribute (`xlink:href`, `formaction`,
            // or one a reader's sanitizer may treat as a URL).
            let handlers: Vec<String> = el
                .attributes()
                .iter()
                .filter(|a| {
                    let n = a.name();
                    n.starts_with("on")
                        || n == "style"
                        || n == "formaction"
                        || n == "xmlns"
                        || is_script_url(&a.value())
                })
                .map(|a| a.name())
                .collect();
            for name in handlers {
                el.remove_attribute(&name);
            }
        }
        Ok(())
    };
    let mut handlers = vec![element!("*", absolutize)];
    if sanitize {
        handlers.insert(
            0,
            element!(UNSAFE_ELEMENTS, |el| {
                el.remove();
                Ok(())
            }),
        );
    }
    let settings = RewriteStrSettings { element_content_handlers: handlers, ..RewriteStrSettings::new() };
    // lol_html only fails on its memory limit or a handler error; the input is kept then.
    let out = rewrite_str(html, settings).unwrap_or_else(|_| html.to_string());
    if sanitize {
        escape_unterminated_tag(out)
    } else {
        out
    }
}

/// A tag still open at the end of the body (`<script/x` with no `>`) is dropped by browsers but
/// passed through by a rewriter, and some readers' sanitizers might complete it. No `<` after the
/// last `>` can start a complete tag, so all of them become text.
fn escape_unterminated_tag(html: String) -> String {
    let tail_start = html.rfind('>').map_or(0, |i| i + 1);
    if !html[tail_start..].contains('<') {
        return html;
    }
    let mut out = String::with_capacity(html.len() + 16);
    out.push_str(&html[..tail_start]);
    out.push_str(&html[tail_start..].replace('<', "&lt;"));
    out
}

/// `None` when the value is already absolute, empty, a fragment, or not a URL at all.
fn absolute_url(base: &Url, value: &str) -> Option<String> {
    let value = value.trim();
    // Fragments too: in a feed reader `#fn1` points nowhere, on the post's page it works.
    if value.is_empty() || has_scheme(value) {
        return None;
    }
    base.join(value).ok().map(String::from)
}

fn has_scheme(value: &str) -> bool {
    match value.find(':') {
        Some(i) => {
            let scheme = &value[..i];
            !scheme.is_empty()
                && scheme.as_bytes()[0].is_ascii_alphabetic()
                && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        }
        None => false,
    }
}

/// Browsers ignore ASCII whitespace and controls inside a scheme, so `java\tscript:` counts too.
fn is_dangerous_url(value: &str) -> bool {
    url_scheme(value).is_some_and(|s| matches!(s.as_str(), "javascript" | "vbscript" | "data" | "livescript"))
}

/// `javascript:` and its kind in any attribute; `data:` only counts in URL attributes, where
/// `alt="data: 5 %"` is not at stake.
fn is_script_url(value: &str) -> bool {
    url_scheme(value).is_some_and(|s| matches!(s.as_str(), "javascript" | "vbscript" | "livescript"))
}

/// The scheme a browser would see, lowercased, ignoring the whitespace and controls it skips.
fn url_scheme(value: &str) -> Option<String> {
    if !value.contains(':') {
        return None;
    }
    let scheme: String = value
        .chars()
        .filter(|c| !c.is_ascii_whitespace() && !c.is_ascii_control())
        .take_while(|c| *c != ':')
        .take(16)
        .collect::<String>()
        .to_ascii_lowercase();
    Some(scheme)
}

/// HTML to plain text: tags dropped (with the contents of `script` and `style`), entities
/// decoded, whitespace runs collapsed to one space.
pub fn plain_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        text.push_str(&rest[..lt]);
        let tag = &rest[lt..];
        let lower_start: String = tag.chars().take(8).collect::<String>().to_ascii_lowercase();
        let skip_until = if lower_start.starts_with("<script") {
            Some("</script")
        } else if lower_start.starts_with("<style") {
            Some("</style")
        } else if tag.starts_with("<!--") {
            Some("-->")
        } else {
            None
        };
        let is_markup = tag[1..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?');
        if !is_markup {
            // `<投入>` or `a < b` is text, not a tag.
            text.push('<');
            rest = &tag[1..];
            continue;
        }
        let after = match skip_until {
            Some(end) => match tag.to_ascii_lowercase().find(end) {
                Some(i) => tag[i..].find('>').map(|j| i + j + 1).unwrap_or(tag.len()),
                None => tag.len(),
            },
            None => match tag.find('>') {
                Some(gt) => gt + 1,
                // A lone `<` is text, not a tag.
                None => {
                    text.push('<');
                    1
                }
            },
        };
        text.push(' ');
        rest = &tag[after..];
    }
    text.push_str(rest);
    collapse_whitespace(&decode_entities(&text))
}

fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Decodes numeric character references and the few named entities that appear in posts.
pub fn decode_entities(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let candidate = &rest[amp + 1..];
        let decoded = candidate.find(';').filter(|&semi| semi <= 10).and_then(|semi| {
            let name = &candidate[..semi];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    let code = if let Some(hex) = name.strip_prefix("#x").or_else(|| name.strip_prefix("#X")) {
                        u32::from_str_radix(hex, 16).ok()
                    } else if let Some(dec) = name.strip_prefix('#') {
                        dec.parse().ok()
                    } else {
                        None
                    };
                    code.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, semi))
        });
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &candidate[semi + 1..];
            }
            None => {
                out.push('&');
                rest = candidate;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Escapes text for XML and HTML text and attribute values. Characters XML 1.0 forbids become
/// U+FFFD; tabs and line breaks become references so attribute values keep them.
pub fn escape_markup(text: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => _ = write!(out, "&#{};", u32::from(c)),
            '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}' => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

/// Drops what XML 1.0 forbids: control characters other than tab, LF and CR, and U+FFFE/U+FFFF.
/// C1 controls go too: allowed by XML but never meant as text, and validators flag them.
pub fn xml_safe(text: &str) -> Cow<'_, str> {
    let bad = |c: char| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
            || ('\u{7f}'..='\u{9f}').contains(&c)
            || c == '\u{fffe}'
            || c == '\u{ffff}'
    };
    if text.chars().any(bad) {
        Cow::Owned(text.chars().filter(|c| !bad(*c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://news.example.com/jingzhouribao/2021/12/24/post.html").unwrap()
    }

    #[test]
    fn markdown_extensions_render() {
        let html = to_html(
            "| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~ text[^1]\n\n[^1]: note\n\n<div class=\"raw\">kept</div>\n",
            Markup::Markdown,
        );
        assert!(html.contains("<table>"), "{html}");
        assert!(html.contains("<del>old</del>"), "{html}");
        assert!(html.contains("footnote"), "{html}");
        assert!(html.contains("<div class=\"raw\">kept</div>"), "{html}");
        assert_eq!(to_html("<p>a\r\n</p>", Markup::Verbatim), "<p>a\n</p>");
    }

    #[test]
    fn links_become_absolute() {
        let html = r##"<a href="/about/">a</a><a href="//news.example.com/c.html">b</a><img src="img/a.png"><a href="../x.html">c</a><a href="https://o.org/">d</a><a href="mailto:a@b.c">e</a><a href="#top">f</a><img srcset="a.png 1x, /b.png 2x">"##;
        let out = rewrite_html(html, &base(), true);
        assert!(out.contains(r#"href="https://news.example.com/about/""#), "{out}");
        assert!(out.contains(r#"href="https://news.example.com/c.html""#), "{out}");
        assert!(out.contains(r#"src="https://news.example.com/jingzhouribao/2021/12/24/img/a.png""#), "{out}");
        assert!(out.contains(r#"href="https://news.example.com/jingzhouribao/2021/12/x.html""#), "{out}");
        assert!(
            out.contains(r#"href="https://o.org/""#)
                && out.contains(r#"href="mailto:a@b.c""#)
                && out.contains(r##"href="https://news.example.com/jingzhouribao/2021/12/24/post.html#top""##),
            "{out}"
        );
        assert!(out.contains(r#"srcset="https://news.example.com/jingzhouribao/2021/12/24/a.png 1x, https://news.example.com/b.png 2x""#), "{out}");
    }

    #[test]
    fn sanitizing_removes_code_and_keeps_text() {
        let html = r#"<p onclick="x()" style="color:red">hi<script>alert(1)</script></p><a href="java	script:alert(1)">x</a><img src="data:image/png;base64,AAA"><iframe src="/e"></iframe><b>bold</b>"#;
        let out = rewrite_html(html, &base(), true);
        for gone in ["script", "onclick", "style=", "javascript", "data:", "iframe"] {
            assert!(!out.to_ascii_lowercase().contains(gone), "{gone} in {out}");
        }
        assert!(out.contains("<p>hi</p>") && out.contains("<b>bold</b>"), "{out}");
        let odd = rewrite_html(r#"<a fill="javascript:x()" alt="data: 5">y</a>"#, &base(), true);
        assert_eq!(odd, r#"<a alt="data: 5">y</a>"#);
        let open = rewrite_html("<p>x</p><script/src=x.js", &base(), true);
        assert_eq!(open, "<p>x</p>&lt;script/src=x.js");
        let open = rewrite_html("<b>x</b> a<<script in b<<s", &base(), true);
        assert_eq!(open, "<b>x</b> a&lt;&lt;script in b&lt;&lt;s");
        let kept = rewrite_html(html, &base(), false);
        assert!(kept.contains("<script>alert(1)</script>") && kept.contains("onclick"), "{kept}");
    }

    #[test]
    fn excerpt_is_the_first_block() {
        assert_eq!(excerpt_source("\nfirst\nline\n\nsecond"), "first\nline");
        assert_eq!(excerpt_source("one\r\n\r\ntwo"), "one");
        assert_eq!(excerpt_source("only"), "only");
    }

    #[test]
    fn plain_text_strips_and_decodes() {
        assert_eq!(
            plain_text("<p>R&amp;D &lt;投入&gt;</p>\n <p>a&#x4e2d;&#20013;</p><script>x</script>"),
            "R&D <投入> a中中"
        );
        assert_eq!(plain_text("a < b and c"), "a < b and c");
        assert_eq!(plain_text("R&D <投入> <span class=\"x\">增长</span>"), "R&D <投入> 增长");
        assert_eq!(plain_text("AT&T &bogus; &"), "AT&T &bogus; &");
    }

    #[test]
    fn xml_safe_drops_forbidden_characters() {
        assert_eq!(xml_safe("a\u{1}b\tc\u{fffe}d\u{85}e\n"), "ab\tcde\n");
        assert!(matches!(xml_safe("plain 中文"), Cow::Borrowed(_)));
    }
}
