//! Shared by the fuzz targets and `tests/it/fuzz_regressions.rs`: what a browser's HTML parser
//! (html5ever, independent of the sanitizer's lol_html) finds in content that could run code.

/// The first element or attribute in `html` that can run code, if any.
pub fn unsafe_markup(html: &str) -> Option<String> {
    let fragment = scraper::Html::parse_fragment(html);
    for node in fragment.tree.nodes() {
        if let Some(element) = node.value().as_element() {
            let name = element.name();
            if ["script", "iframe", "object", "embed", "frame", "frameset", "applet", "base", "meta", "link", "style"]
                .contains(&name)
            {
                return Some(format!("<{name}> element"));
            }
            for (attr, value) in element.attrs() {
                let compact: String =
                    value.chars().filter(|c| !c.is_ascii_whitespace() && !c.is_ascii_control()).collect();
                let attr_lower = attr.to_ascii_lowercase();
                // Event handlers are `on` and a name (`onclick`); a bare `on` runs nothing.
                let handler = attr_lower.len() > 2 && attr_lower.starts_with("on");
                if handler || compact.to_ascii_lowercase().starts_with("javascript:") {
                    return Some(format!("{attr}={value:?} on <{name}>"));
                }
            }
        }
    }
    None
}
