//! URL helpers shared by posts, feeds and pages: a site path made absolute, a path
//! percent-encoded, and whether a text is already an absolute URL (starts with a scheme).

use std::fmt::Write as _;

use crate::config::SiteConfig;

/// The site URL (which may carry a base path) followed by a root-relative path.
pub(crate) fn absolute(site: &SiteConfig, path: &str) -> String {
    format!("{}{}", site.url.as_str().trim_end_matches('/'), path)
}

/// The public URL of an output-relative file (`feed/by_tag/x.xml`): what a feed calls itself,
/// OPML lists and WebSub hubs are told.
pub(crate) fn file_url(site: &SiteConfig, rel: &str) -> String {
    absolute(site, &encode_path(&format!("/{rel}")))
}

/// Percent-encodes what may not stand in a URL path, leaving existing escapes alone.
pub(crate) fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let bytes = path.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        let escape_start =
            b == b'%' && bytes.len() > i + 2 && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit();
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) || escape_start {
            out.push(b as char);
        } else {
            _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Whether `text` starts with a URL scheme and so is not relative to anything: RFC 3986's
/// `scheme ":"` (a letter, then letters, digits, `+`, `-` or `.`). Syntax only: `http://exa mple/`
/// has a scheme although it is no valid URL, and it is not made into a path of the site. Callers
/// trim what they read from front matter or markup first.
pub(crate) fn has_scheme(text: &str) -> bool {
    let Some((scheme, _)) = text.split_once(':') else { return false };
    scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

/// A link from front matter, `_config.yml` or `_data` that a reader may follow or load (an
/// author's page, a thumbnail): XML-safe, and only if it is an http or https URL as a browser
/// reads it (tabs and newlines dropped, case ignored). `None` for `javascript:`, `data:` and the
/// like, and for what is no URL.
pub(crate) fn web_link(text: &str) -> Option<String> {
    let cleaned = crate::post::clean(text);
    let parsed = url::Url::parse(&cleaned).ok()?;
    matches!(parsed.scheme(), "http" | "https").then_some(cleaned)
}

/// Whether a pinned entry id may be used as written: any scheme but those that run or embed
/// something when a reader follows the id (`javascript:`, `vbscript:`, `data:`).
pub(crate) fn harmless_id(text: &str) -> bool {
    match url::Url::parse(text.trim()) {
        Ok(parsed) => !matches!(parsed.scheme(), "javascript" | "vbscript" | "livescript" | "data" | "file" | "blob"),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scheme_is_what_rfc_3986_says() {
        for yes in [
            "https://example.org/a",
            "mailto:a@b.c",
            "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
            "tag:example.org,2021:entry",
            "git+ssh://host/repo",
            "x-custom.scheme-1:rest",
            // Used to differ: the post side parsed the whole URL and said no to these, so a
            // pinned id or image was turned into a path under the site; the link side said yes.
            "http:",
            "http://exa mple.org/",
            "javascript:alert(1)",
        ] {
            assert!(has_scheme(yes), "{yes:?}");
        }
        for no in [
            "",
            "/about/",
            "img/a.png",
            "../x.html",
            "//cdn.example.org/a.js",
            "#fn1",
            "?q=a:b",
            ":no-scheme",
            "1http://example.org",
            "a b:c",
            "/path/with:colon",
            "中文:x",
            // Untrimmed: the callers trim.
            " http://example.org",
        ] {
            assert!(!has_scheme(no), "{no:?}");
        }
    }

    #[test]
    fn paths_are_encoded_once() {
        assert_eq!(encode_path("/feed/by_tag/荆州.xml"), "/feed/by_tag/%E8%8D%86%E5%B7%9E.xml");
        assert_eq!(encode_path("/a b/%20/%zz"), "/a%20b/%20/%25zz");
        assert_eq!(encode_path("/keep-._~!$&'()*+,;=:@"), "/keep-._~!$&'()*+,;=:@");
    }

    #[test]
    fn absolute_keeps_the_base_path() {
        let config =
            crate::config::Config::parse("[site]\nurl = \"https://example.org/blog\"\n", std::path::Path::new("/"))
                .expect("config");
        assert_eq!(absolute(&config.site, "/feed.xml"), "https://example.org/blog/feed.xml");
    }

    #[test]
    fn only_web_links_pass_as_links_and_script_schemes_never_as_ids() {
        assert_eq!(web_link(" https://e.org/about/ ").as_deref(), Some("https://e.org/about/"));
        assert_eq!(web_link("HTTP://e.org").as_deref(), Some("HTTP://e.org"));
        for bad in [
            "javascript:alert(1)",
            "java\tscript:alert(1)",
            " JaVaScRiPt:x",
            "data:image/svg+xml,<svg onload=x>",
            "vbscript:x",
            "/relative",
            "mailto:a@e.org",
            "ftp\u{1}://x",
        ] {
            assert_eq!(web_link(bad), None, "{bad:?}");
        }
        assert!(harmless_id("tag:e.org,2020:1") && harmless_id("urn:uuid:1") && harmless_id("https://e.org/1"));
        for bad in ["javascript:alert(1)", "java\tscript:alert(1)", "DATA:text/html,x", "vbscript:x"] {
            assert!(!harmless_id(bad), "{bad:?}");
        }
    }
}
