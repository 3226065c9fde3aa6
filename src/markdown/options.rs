//! The kramdown options a site's `_config.yml` may set under `kramdown:`, with Jekyll 4's defaults.

use serde_yaml::Value;

/// Which kramdown parser reads the Markdown (`kramdown: input:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// `GFM`, Jekyll's default: fenced code with backticks, `~~strike~~`, task lists, GitHub-style header ids.
    Gfm,
    /// `kramdown`: only `~~~` fences, no strikethrough or task lists, kramdown's ASCII header ids.
    Kramdown,
}

/// kramdown options, as Jekyll passes them to kramdown. `Options::default()` is what Jekyll 4.3 uses when
/// `_config.yml` says nothing.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub input: InputFormat,
    /// `auto_ids`: give every header an id made from its text.
    pub auto_ids: bool,
    /// `auto_id_prefix`: put before every generated id.
    pub auto_id_prefix: String,
    /// `toc_levels`: the header levels a `{:toc}` lists.
    pub toc_levels: Vec<u8>,
    /// `smart_quotes`: the characters for ‘ ’ “ ”, in that order.
    pub smart_quotes: [char; 4],
    /// `typographic_symbols` are on unless `gfm_quirks` names `no_auto_typographic`.
    pub typographic_symbols: bool,
    /// `hard_wrap`: a newline inside a paragraph becomes `<br />` (GFM input only; Jekyll turns it off).
    pub hard_wrap: bool,
    /// `footnote_nr`: the number of the first footnote.
    pub footnote_nr: u32,
    /// `footnote_backlink`: the HTML of the link back from a footnote (empty: no link).
    pub footnote_backlink: String,
    /// `footnote_backlink_inline`: put the backlink inside the footnote's last paragraph even when it
    /// does not end with one.
    pub footnote_backlink_inline: bool,
    /// `footnote_prefix`: put before footnote ids.
    pub footnote_prefix: String,
    /// Rouge is Jekyll's highlighter; `highlighter: none` or `syntax_highlighter: nil` turn it off, and code
    /// blocks are then a bare `<pre><code>`.
    pub syntax_highlighting: bool,
    /// `syntax_highlighter_opts: default_lang`, which Jekyll sets to `plaintext`.
    pub default_lang: String,
    /// `parse_block_html`: read Markdown inside HTML blocks as if each had `markdown="1"`.
    pub parse_block_html: bool,
    /// `parse_span_html`: read Markdown inside span-level HTML tags.
    pub parse_span_html: bool,
    /// `header_offset`: added to every header level (the result stays within 1..=6).
    pub header_offset: i32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            input: InputFormat::Gfm,
            auto_ids: true,
            auto_id_prefix: String::new(),
            toc_levels: (1..=6).collect(),
            smart_quotes: ['\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}'],
            typographic_symbols: true,
            hard_wrap: false,
            footnote_nr: 1,
            footnote_backlink: "&#8617;".to_string(),
            footnote_backlink_inline: false,
            footnote_prefix: String::new(),
            syntax_highlighting: true,
            default_lang: "plaintext".to_string(),
            parse_block_html: false,
            parse_span_html: true,
            header_offset: 0,
        }
    }
}

impl Options {
    /// The options a whole `_config.yml` (already parsed) gives: its `kramdown:` block over Jekyll's defaults,
    /// and its top-level `highlighter:`. Values of the wrong type are ignored, as if unset.
    pub fn from_site_config(config: &Value) -> Options {
        let mut options = match config.get("kramdown") {
            Some(block) => Options::from_kramdown_block(block),
            None => Options::default(),
        };
        if config.get("kramdown").and_then(|k| k.get("syntax_highlighter")).is_none() {
            match config.get("highlighter") {
                Some(Value::Null) => options.syntax_highlighting = false,
                Some(Value::String(name)) if name == "none" || name.is_empty() => options.syntax_highlighting = false,
                _ => {}
            }
        }
        options
    }

    /// The options from the `kramdown:` block of `_config.yml`, over Jekyll's defaults.
    pub fn from_kramdown_block(block: &Value) -> Options {
        let mut options = Options::default();
        options.apply_kramdown_block(block);
        options
    }

    /// The option `key` set to `value` by a `{::options key="value" /}` in a post. kramdown reads the value
    /// as the option's type (a boolean is false only for `false` or nothing); the options its parser has
    /// fixed by then (`input`, `gfm_quirks`) and those a post may not set are left alone. Returns whether
    /// the option is one kramdown's parser reads as it goes (`parse_block_html`, `parse_span_html`): those
    /// apply from where they are set on, the others to the whole post.
    pub(crate) fn apply_inline(&mut self, key: &str, value: &str) -> bool {
        const BOOLEANS: &[&str] =
            &["auto_ids", "hard_wrap", "footnote_backlink_inline", "parse_block_html", "parse_span_html"];
        const OTHERS: &[&str] = &[
            "auto_id_prefix",
            "toc_levels",
            "smart_quotes",
            "footnote_nr",
            "footnote_backlink",
            "footnote_prefix",
            "syntax_highlighter",
            "header_offset",
        ];
        let value = if BOOLEANS.contains(&key) {
            let text = value.trim().to_ascii_lowercase();
            Value::Bool(text != "false" && !value.is_empty())
        } else if OTHERS.contains(&key) {
            match value.trim().parse::<i64>() {
                Ok(n) if matches!(key, "footnote_nr" | "header_offset") => Value::Number(n.into()),
                _ => Value::String(value.to_string()),
            }
        } else {
            return false;
        };
        let mut block = serde_yaml::Mapping::new();
        block.insert(Value::String(key.to_string()), value);
        self.apply_kramdown_block(&Value::Mapping(block));
        matches!(key, "parse_block_html" | "parse_span_html")
    }

    fn apply_kramdown_block(&mut self, block: &Value) {
        let options = self;
        let Some(map) = block.as_mapping() else { return };
        for (key, value) in map {
            let Some(key) = key.as_str() else { continue };
            match key {
                "input" => match scalar(value).as_deref().map(str::to_ascii_lowercase).as_deref() {
                    Some("gfm") => options.input = InputFormat::Gfm,
                    Some("kramdown") | Some("markdown") => options.input = InputFormat::Kramdown,
                    _ => {}
                },
                "auto_ids" => set_bool(&mut options.auto_ids, value),
                "auto_id_prefix" => {
                    if let Some(prefix) = scalar(value) {
                        options.auto_id_prefix = prefix;
                    }
                }
                "toc_levels" => {
                    if let Some(levels) = toc_levels(value) {
                        options.toc_levels = levels;
                    }
                }
                "smart_quotes" => {
                    if let Some(quotes) = smart_quotes(value) {
                        options.smart_quotes = quotes;
                    }
                }
                "gfm_quirks" => {
                    let quirks = list_of_words(value);
                    options.typographic_symbols = !quirks.iter().any(|q| q == "no_auto_typographic");
                }
                "hard_wrap" => set_bool(&mut options.hard_wrap, value),
                "footnote_nr" => {
                    if let Some(n) = value.as_u64().or_else(|| scalar(value).and_then(|s| s.trim().parse().ok())) {
                        options.footnote_nr = u32::try_from(n).unwrap_or(u32::MAX);
                    }
                }
                "footnote_backlink" => {
                    if let Some(text) = scalar(value) {
                        options.footnote_backlink = text;
                    } else if value.is_null() {
                        options.footnote_backlink = String::new();
                    }
                }
                "footnote_backlink_inline" => set_bool(&mut options.footnote_backlink_inline, value),
                "footnote_prefix" => {
                    if let Some(prefix) = scalar(value) {
                        options.footnote_prefix = prefix;
                    }
                }
                "syntax_highlighter" => {
                    options.syntax_highlighting = matches!(scalar(value).as_deref(), Some("rouge"));
                }
                "syntax_highlighter_opts" => {
                    if let Some(lang) = value.get("default_lang").and_then(scalar) {
                        options.default_lang = lang;
                    }
                    if let Some(disable) = value.get("disable").and_then(Value::as_bool) {
                        options.syntax_highlighting &= !disable;
                    }
                }
                "parse_block_html" => set_bool(&mut options.parse_block_html, value),
                "parse_span_html" => set_bool(&mut options.parse_span_html, value),
                "header_offset" => {
                    if let Some(n) = value.as_i64() {
                        options.header_offset = n.clamp(-6, 6) as i32;
                    }
                }
                _ => {}
            }
        }
    }

    pub(crate) fn gfm(&self) -> bool {
        self.input == InputFormat::Gfm
    }
}

fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn set_bool(target: &mut bool, value: &Value) {
    match value {
        Value::Bool(b) => *target = *b,
        Value::String(s) if s == "true" => *target = true,
        Value::String(s) if s == "false" => *target = false,
        Value::Null => *target = false,
        _ => {}
    }
}

/// A YAML list or a comma/space separated string, as kramdown's array options accept.
fn list_of_words(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().filter_map(scalar).collect(),
        Value::String(s) => {
            s.split(|c: char| c == ',' || c.is_whitespace()).filter(|w| !w.is_empty()).map(String::from).collect()
        }
        _ => Vec::new(),
    }
}

/// `toc_levels`: a list of levels, `"2..3"` or `"2,3"`.
fn toc_levels(value: &Value) -> Option<Vec<u8>> {
    let levels: Vec<u8> = match value {
        Value::String(s) if s.contains("..") => {
            let (a, b) = s.split_once("..")?;
            let (a, b): (u8, u8) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            (a..=b).collect()
        }
        Value::Number(n) => vec![u8::try_from(n.as_u64()?).ok()?],
        _ => list_of_words(value).iter().map(|w| w.parse().ok()).collect::<Option<Vec<u8>>>()?,
    };
    levels.iter().all(|l| (1..=6).contains(l)).then_some(levels)
}

/// `smart_quotes`: four entity names or numbers (`lsquo,rsquo,ldquo,rdquo`, `#171`, `x2039`).
fn smart_quotes(value: &Value) -> Option<[char; 4]> {
    let words = list_of_words(value);
    if words.len() != 4 {
        return None;
    }
    let chars: Vec<char> = words.iter().map(|w| entity_char(w)).collect::<Option<_>>()?;
    chars.try_into().ok()
}

/// The character of an entity name as kramdown knows it, or of a code point written as a number.
pub(crate) fn entity_char(name: &str) -> Option<char> {
    let name = name.trim().trim_start_matches('&').trim_end_matches(';');
    if let Some(number) = name.strip_prefix('#') {
        return match number.strip_prefix(['x', 'X']) {
            Some(hex) => u32::from_str_radix(hex, 16).ok().and_then(char::from_u32),
            None => number.parse().ok().and_then(char::from_u32),
        };
    }
    if let Some(hex) = name.strip_prefix(['x', 'X']).filter(|h| h.chars().all(|c| c.is_ascii_hexdigit())) {
        return u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
    }
    if let Ok(code) = name.parse::<u32>() {
        return char::from_u32(code);
    }
    Some(match name {
        "lsquo" => '\u{2018}',
        "rsquo" => '\u{2019}',
        "ldquo" => '\u{201C}',
        "rdquo" => '\u{201D}',
        "sbquo" => '\u{201A}',
        "bdquo" => '\u{201E}',
        "laquo" => '\u{AB}',
        "raquo" => '\u{BB}',
        "lsaquo" => '\u{2039}',
        "rsaquo" => '\u{203A}',
        "quot" => '"',
        "apos" => '\'',
        "prime" => '\u{2032}',
        "Prime" => '\u{2033}',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_yaml::from_str(text).unwrap()
    }

    #[test]
    fn defaults_are_jekylls() {
        let options = Options::default();
        assert_eq!(options.input, InputFormat::Gfm);
        assert!(options.auto_ids && options.syntax_highlighting && options.typographic_symbols);
        assert!(!options.hard_wrap && !options.parse_block_html && options.parse_span_html);
        assert_eq!(options.toc_levels, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(options.smart_quotes, ['‘', '’', '“', '”']);
        assert_eq!((options.footnote_nr, options.footnote_backlink.as_str()), (1, "&#8617;"));
    }

    #[test]
    fn a_kramdown_block_overrides_the_defaults() {
        let config = yaml(
            "kramdown:\n  input: kramdown\n  auto_ids: false\n  auto_id_prefix: 'h-'\n  toc_levels: 2..3\n  \
             smart_quotes: [laquo, raquo, '#171', x00BB]\n  footnote_nr: 5\n  gfm_quirks: [paragraph_end, no_auto_typographic]\n  \
             syntax_highlighter_opts:\n    default_lang: text\n  unknown: 1\n",
        );
        let options = Options::from_site_config(&config);
        assert_eq!(options.input, InputFormat::Kramdown);
        assert!(!options.auto_ids && !options.typographic_symbols);
        assert_eq!(options.auto_id_prefix, "h-");
        assert_eq!(options.toc_levels, vec![2, 3]);
        assert_eq!(options.smart_quotes, ['«', '»', '«', '»']);
        assert_eq!(options.footnote_nr, 5);
        assert_eq!(options.default_lang, "text");
    }

    #[test]
    fn highlighter_none_turns_rouge_off_and_bad_values_are_ignored() {
        let options = Options::from_site_config(&yaml(
            "highlighter: none\nkramdown:\n  toc_levels: [2, 9]\n  smart_quotes: a,b\n",
        ));
        assert!(!options.syntax_highlighting);
        assert_eq!(options.toc_levels, Options::default().toc_levels);
        assert_eq!(options.smart_quotes, Options::default().smart_quotes);
        assert!(Options::from_site_config(&yaml("kramdown:\n  syntax_highlighter: rouge\n")).syntax_highlighting);
        assert!(!Options::from_site_config(&yaml("kramdown:\n  syntax_highlighter: null\n")).syntax_highlighting);
        assert_eq!(Options::from_site_config(&yaml("title: x")), Options::default());
    }
}
