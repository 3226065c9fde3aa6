//! The browser view of the feeds: the XSLT stylesheet that turns an Atom or RSS feed into a
//! readable page, where it lives (`feed.xsl`, beside `feed.xml`), and the
//! `<?xml-stylesheet?>` instruction that names it from each feed. Feed readers ignore both.

use super::Format;

/// The stylesheet's output-relative path (and, under the site root, its URL path).
pub(crate) const PATH: &str = "feed.xsl";
/// What browsers accept for an XSLT stylesheet.
pub(crate) const MIME: &str = "text/xsl; charset=utf-8";
/// The type a feed is sent with to a browser opening it (see `http::conditional::wants_page`).
pub(crate) const PAGE_MIME: &str = "application/xml; charset=utf-8";
/// The stylesheet: one for Atom and RSS alike.
pub(crate) const BYTES: &[u8] = include_bytes!("feed.xsl");
/// Sent with the stylesheet: nothing may load or run from it when it is opened by itself.
pub(crate) const POLICY: &str = "default-src 'none'";

/// Sent with a feed that has the browser view: the page the stylesheet makes may load the
/// stylesheet from the same place (Chromium checks XSLT against `script-src`) and use its one
/// `<style>` block and its one `<script>` (the copy button), nothing else: no other script, no
/// image, frame, font or form target, whatever a feed's text holds.
pub(crate) fn feed_policy() -> &'static str {
    static POLICY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let style = crate::csp::hash_source(block("style"));
        let script = crate::csp::hash_source(block("script"));
        format!(
            "default-src 'none'; style-src {style}; script-src 'self' {script}; base-uri 'none'; form-action 'none'"
        )
    });
    &POLICY
}

/// The text of the stylesheet's one `<tag>` block, as the page it makes holds it.
fn block(tag: &str) -> &'static str {
    let text = std::str::from_utf8(BYTES).expect("the stylesheet is UTF-8");
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let inner = text.split_once(&open).and_then(|(_, rest)| rest.split_once(&close)).map(|(inner, _)| inner);
    inner.unwrap_or_else(|| panic!("the stylesheet has a <{tag}> block"))
}

/// The processing instruction for the feed at the output-relative `feed_path`. The link is
/// relative, so that it works wherever the folder is served from (a base path behind a proxy
/// included); browsers apply only same-origin stylesheets anyway.
fn instruction(feed_path: &str) -> String {
    let up = "../".repeat(feed_path.matches('/').count());
    format!("<?xml-stylesheet type=\"text/xsl\" href=\"{up}{PATH}\"?>")
}

/// Whether feeds of `format` carry the instruction: the XML formats, which browsers apply XSLT to.
pub(crate) fn applies_to(format: Format) -> bool {
    matches!(format, Format::Atom | Format::Rss)
}

/// Puts the instruction for `feed_path` right after the XML declaration that `feed` starts with.
pub(crate) fn insert_instruction(feed: &mut Vec<u8>, feed_path: &str) {
    debug_assert!(feed.starts_with(b"<?xml "), "a feed starts with its XML declaration");
    let Some(end) = feed.windows(2).position(|w| w == b"?>") else { return };
    let at = end + 2;
    let text = format!("\n{}", instruction(feed_path));
    feed.splice(at..at, text.into_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instruction_follows_the_declaration_and_climbs_to_the_stylesheet() {
        let mut feed = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss/>".to_vec();
        insert_instruction(&mut feed, "feed/by_tag/x.rss");
        let text = String::from_utf8(feed).unwrap();
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<?xml-stylesheet type=\"text/xsl\" href=\"../../feed.xsl\"?><rss/>"
        );
        let doc = roxmltree::Document::parse(&text).unwrap();
        assert_eq!(doc.root_element().tag_name().name(), "rss");
        assert!(instruction("feed.xml").contains("href=\"feed.xsl\""));
        assert!(instruction("feed/news.xml").contains("href=\"../feed.xsl\""));
    }

    #[test]
    fn the_stylesheet_is_xslt_that_never_writes_markup_from_the_feed() {
        let text = std::str::from_utf8(BYTES).unwrap();
        let doc = roxmltree::Document::parse(text).unwrap();
        let xsl = "http://www.w3.org/1999/XSL/Transform";
        assert!(doc.root_element().has_tag_name((xsl, "stylesheet")));
        assert!(!text.contains("disable-output-escaping"));
        assert!(!doc.descendants().any(|n| n.has_tag_name((xsl, "copy-of")) || n.has_tag_name((xsl, "copy"))));
        // One script, the copy button's: constant text, nothing from the feed in it.
        let scripts: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("script")).collect();
        assert_eq!(scripts.len(), 1);
        assert!(scripts[0].children().all(|c| c.is_text()), "{:?}", scripts[0]);
        assert!(feed_policy().contains(&crate::csp::hash_source(scripts[0].text().unwrap())));
    }
}
