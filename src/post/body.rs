//! Post bodies: the converter a file extension picks, and links made absolute.

use std::borrow::Cow;

use lol_html::html_content::Element;
use lol_html::{element, rewrite_str, RewriteStrSettings};
use url::Url;

use crate::urls::has_scheme;

/// How a body is turned into HTML, decided by the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Markup {
    Markdown,
    /// HTML and every other extension: used as it is, as Jekyll's identity converter does.
    Verbatim,
}

impl Markup {
    pub(crate) fn from_extension(ext: &str) -> Markup {
        match ext.to_ascii_lowercase().as_str() {
            "md" | "markdown" | "mkdn" | "mkd" | "mkdown" => Markup::Markdown,
            _ => Markup::Verbatim,
        }
    }
}

/// Attributes that hold one URL. (`srcset` holds several and is handled on its own.)
const URL_ATTRIBUTES: [&str; 6] = ["href", "src", "poster", "cite", "background", "action"];

/// Makes every relative, root-relative or protocol-relative URL in `html` absolute against `base`
/// (the post's own URL). Values are read with their character references decoded, as a browser
/// reads them. Markup the rewriter cannot get through is never passed on as it is: it becomes
/// escaped text.
pub(crate) fn absolutize_links(html: &str, base: &Url) -> String {
    let absolutize = |el: &mut Element| {
        for name in URL_ATTRIBUTES {
            if let Some(value) = el.get_attribute(name) {
                if let Some(absolute) = absolute_attribute_url(name, base, &decode_attribute(&value)) {
                    el.set_attribute(name, &escape_ampersands(&absolute))?;
                }
            }
        }
        if let Some(srcset) = el.get_attribute("srcset") {
            el.set_attribute("srcset", &escape_ampersands(&absolute_srcset(base, &decode_attribute(&srcset))))?;
        }
        Ok(())
    };
    let settings = RewriteStrSettings {
        element_content_handlers: vec![element!("*", absolutize)],
        // Not strict: markup that leaves the tokenizer unsure of its state (`<select><xmp>`) is
        // rewritten on a best guess instead of failing the whole body. A wrong guess costs a
        // missed link, never safety: this runs only on bodies that are not sanitized (the
        // sanitizer makes links absolute in its own parse).
        strict: false,
        ..RewriteStrSettings::new()
    };
    match rewrite_str(html, settings) {
        Ok(out) => out,
        Err(e) => {
            tracing::warn!("links could not be made absolute ({e}); the body is published as text");
            crate::markup::escape_markup(html)
        }
    }
}

/// The decoded value of attribute `name` with its URLs made absolute against `base`, as
/// [`absolutize_links`] rewrites it; `None` when `name` holds no URL or the value stays as it is.
/// For rewriters that have decoded the value already and escape what they write (the sanitizer).
pub(crate) fn absolute_attribute(name: &str, value: &str, base: &Url) -> Option<String> {
    if name == "srcset" {
        Some(absolute_srcset(base, value))
    } else if URL_ATTRIBUTES.contains(&name) {
        absolute_attribute_url(name, base, value)
    } else {
        None
    }
}

/// Every candidate URL of a decoded `srcset` made absolute, the list written back in one shape
/// (`url descriptor, url descriptor`).
fn absolute_srcset(base: &Url, srcset: &str) -> String {
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
    rewritten.join(", ")
}

fn decode_attribute(value: &str) -> Cow<'_, str> {
    if value.contains('&') {
        htmlize::unescape_attribute(value)
    } else {
        Cow::Borrowed(value)
    }
}

/// lol_html writes attribute values as given (it escapes only `"`), so a decoded `&` goes back
/// as a reference.
fn escape_ampersands(value: &str) -> Cow<'_, str> {
    if value.contains('&') {
        Cow::Owned(value.replace('&', "&amp;"))
    } else {
        Cow::Borrowed(value)
    }
}

/// `None` when the value is already absolute, empty, or not a URL at all. Fragments are made
/// absolute too: in a feed reader `#fn1` points nowhere, on the post's page it works.
/// The URL of attribute `name` made absolute. An empty `href` is a link to the page itself, so
/// it becomes the post's URL, where a reader resolving it against jekyll-feed's `xml:base` lands
/// too; an empty `src` loads nothing and stays empty.
fn absolute_attribute_url(name: &str, base: &Url, value: &str) -> Option<String> {
    if name == "href" && value.trim().is_empty() {
        return Some(String::from(base.clone()));
    }
    absolute_url(base, value)
}

fn absolute_url(base: &Url, value: &str) -> Option<String> {
    let value = value.trim();
    if value.is_empty() || has_scheme(value) {
        return None;
    }
    let joined = base.join(value).ok()?;
    // The URL parser drops tabs and newlines, so `java\tscript:x` joins into another scheme:
    // such a value was never relative, as a browser reads it, and is left as it is.
    (joined.scheme() == base.scheme()).then(|| String::from(joined))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://news.example.com/jingzhouribao/2021/12/24/post.html").unwrap()
    }

    #[test]
    fn links_become_absolute() {
        let html = r##"<a href="/about/">a</a><a href="//news.example.com/c.html">b</a><img src="img/a.png"><a href="../x.html">c</a><a href="https://o.org/">d</a><a href="mailto:a@b.c">e</a><a href="#top">f</a><img srcset="a.png 1x, /b.png 2x">"##;
        let out = absolutize_links(html, &base());
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
    fn an_empty_href_links_to_the_post_and_an_empty_src_stays_empty() {
        let out = absolutize_links(r#"<a href="">self</a><a href=" ">also</a><img src="" alt="x">"#, &base());
        let post = "https://news.example.com/jingzhouribao/2021/12/24/post.html";
        assert_eq!(out.matches(&format!(r#"href="{post}""#)).count(), 2, "{out}");
        assert!(out.contains(r#"src="""#), "{out}");
        assert_eq!(absolute_attribute("href", "", &base()).as_deref(), Some(post));
        assert_eq!(absolute_attribute("src", "", &base()), None);
    }

    /// Values are read as a browser reads them: references decoded before the URL is joined, and
    /// written back as references.
    #[test]
    fn link_values_are_decoded_before_they_are_joined() {
        let out = absolutize_links(
            r#"<a href="&#x2F;a?x=1&amp;y=&quot;2">a</a><img srcset="/i.png?a=1&amp;b=2 2x">"#,
            &base(),
        );
        assert!(out.contains(r#"href="https://news.example.com/a?x=1&amp;y=%222""#), "{out}");
        assert!(out.contains(r#"srcset="https://news.example.com/i.png?a=1&amp;b=2 2x""#), "{out}");
        // Not relative for a browser either: left alone, for the sanitizer to judge.
        for kept in [r#"<a href="&#x6a;avascript:x()">a</a>"#, "<a href=\"java\tscript:x()\">a</a>"] {
            assert_eq!(absolutize_links(kept, &base()), kept);
        }
    }

    /// The rewriter used to give up on markup like this and publish the body as it was; it now
    /// rewrites it on a best guess (the sanitizer reparses the result anyway).
    #[test]
    fn ambiguous_markup_is_still_rewritten() {
        let out = absolutize_links("<select><xmp><a href=\"/x\">x</a></xmp></select><img src=\"y.png\">", &base());
        assert!(out.contains(r#"src="https://news.example.com/jingzhouribao/2021/12/24/y.png""#), "{out}");
    }
}
