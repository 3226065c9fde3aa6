//! Header ids as kramdown's `auto_ids` make them: the GFM parser's (Unicode words kept, spaces to `-`,
//! `-1`, `-2` for repeats) and kramdown's own ASCII ones (used by the kramdown parser).

use std::collections::HashMap;

/// Hands out ids for one document, counting repeats.
#[derive(Default)]
pub(crate) struct IdGenerator {
    gfm_counts: HashMap<String, usize>,
    kramdown_used: HashMap<String, usize>,
}

/// Onigmo's `\p{Word}` (letters, marks, decimal digits, connector punctuation), which Rust's `char` API only
/// approximates: marks that are not alphabetic are matched by their blocks.
fn is_word(c: char) -> bool {
    if c.is_alphabetic() || c == '_' {
        return true;
    }
    if c.is_ascii() {
        return c.is_ascii_digit();
    }
    if c.is_numeric() {
        // Nd only; superscripts, fractions and circled numbers are `No`.
        return !matches!(c, '\u{B2}' | '\u{B3}' | '\u{B9}' | '\u{BC}'..='\u{BE}' | '\u{2070}'..='\u{218F}' | '\u{2460}'..='\u{24FF}' | '\u{2776}'..='\u{2793}' | '\u{3192}'..='\u{3195}' | '\u{3220}'..='\u{3229}' | '\u{3248}'..='\u{324F}' | '\u{3251}'..='\u{325F}' | '\u{3280}'..='\u{3289}' | '\u{32B1}'..='\u{32BF}');
    }
    matches!(c,
        '\u{300}'..='\u{36F}' | '\u{483}'..='\u{489}' | '\u{591}'..='\u{5BD}' | '\u{610}'..='\u{61A}'
        | '\u{64B}'..='\u{65F}' | '\u{900}'..='\u{903}' | '\u{93A}'..='\u{94F}' | '\u{1AB0}'..='\u{1AFF}'
        | '\u{1DC0}'..='\u{1DFF}' | '\u{203F}' | '\u{2040}' | '\u{2054}'
        | '\u{20D0}'..='\u{20FF}' | '\u{302A}'..='\u{302F}' | '\u{3099}' | '\u{309A}' | '\u{FE00}'..='\u{FE0F}'
        | '\u{FE20}'..='\u{FE2F}' | '\u{FE33}' | '\u{FE34}' | '\u{FE4D}'..='\u{FE4F}' | '\u{FF3F}'
        | '\u{E0100}'..='\u{E01EF}')
}

impl IdGenerator {
    /// kramdown-parser-gfm's `generate_gfm_header_id`.
    pub(super) fn gfm(&mut self, text: &str, prefix: &str) -> String {
        let mut id = String::with_capacity(text.len());
        for c in text.chars().flat_map(char::to_lowercase) {
            if c == ' ' || c == '\t' {
                id.push('-');
            } else if c == '-' || is_word(c) {
                id.push(c);
            }
        }
        let count = self.gfm_counts.entry(id.clone()).or_insert(0);
        if *count > 0 {
            id = format!("{id}-{count}");
        }
        *count += 1;
        format!("{prefix}{id}")
    }

    /// kramdown's converter `generate_id`: ASCII letters, digits, spaces and dashes from the first letter on.
    pub(super) fn kramdown(&mut self, text: &str, prefix: &str) -> String {
        let mut id = basic_id(text);
        if id.is_empty() {
            id = "section".to_string();
        }
        match self.kramdown_used.get_mut(&id) {
            Some(count) => {
                *count += 1;
                id = format!("{id}-{count}");
            }
            None => {
                self.kramdown_used.insert(id.clone(), 0);
            }
        }
        format!("{prefix}{id}")
    }
}

/// kramdown's `basic_generate_id`.
pub(crate) fn basic_id(text: &str) -> String {
    let start = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
    text[start..]
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ' || *c == '-')
        .map(|c| if c == ' ' { '-' } else { c.to_ascii_lowercase() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gfm_ids_keep_unicode_words_and_count_repeats() {
        let mut ids = IdGenerator::default();
        assert_eq!(ids.gfm("Hello “World” – it’s", ""), "hello-world--its");
        assert_eq!(ids.gfm("中文 标题", ""), "中文-标题");
        assert_eq!(ids.gfm("Hello World", ""), "hello-world");
        assert_eq!(ids.gfm("Hello World", ""), "hello-world-1");
        assert_eq!(ids.gfm("Hello World", "p-"), "p-hello-world-2");
        assert_eq!(ids.gfm("Ünïcödé_x 2.0!", ""), "ünïcödé_x-20");
        assert_eq!(ids.gfm("???", ""), "");
        assert_eq!(ids.gfm("!!!", ""), "-1");
    }

    #[test]
    fn kramdown_ids_are_ascii() {
        let mut ids = IdGenerator::default();
        assert_eq!(ids.kramdown("1. Intro to Rust", ""), "intro-to-rust");
        assert_eq!(ids.kramdown("Intro to Rust", ""), "intro-to-rust-1");
        assert_eq!(ids.kramdown("中文", ""), "section");
        assert_eq!(ids.kramdown("中文", ""), "section-1");
    }
}
