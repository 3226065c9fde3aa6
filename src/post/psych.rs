//! What Jekyll's YAML reader (Ruby's Psych, YAML 1.1) makes of a plain (unquoted) scalar: a port
//! of Psych 4's `ScalarScanner#tokenize`, which `Psych.safe_load` applies to every plain value.

use std::sync::LazyLock;

use regex::Regex;

/// A plain scalar as Psych types it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Resolved {
    Null,
    Bool(bool),
    Int(i128),
    /// An integer past `i128`, as decimal digits (Ruby keeps it exactly as a Bignum).
    BigInt(String),
    Float(f64),
    /// A Ruby Symbol (`:name`): `Psych.safe_load` refuses it, so Jekyll cannot read the file.
    Symbol,
    /// Text, including dates and times: those stay as written, and are read as dates where a
    /// date is wanted.
    Str(String),
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the patterns are fixed and valid")
}

static TIME: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^-?\d{4}-\d{1,2}-\d{1,2}(?:[Tt]|\s+)\d{1,2}:\d\d:\d\d(?:\.\d*)?(?:\s*(?:Z|[-+]\d{1,2}:?(?:\d\d)?))?$")
});
static DATE: LazyLock<Regex> = LazyLock::new(|| regex(r"^\d{4}-(?:1[012]|0\d|\d)-(?:[12]\d|3[01]|0\d|\d)$"));
static BASE_60_INT: LazyLock<Regex> = LazyLock::new(|| regex(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9]){1,2}$"));
static BASE_60_FLOAT: LazyLock<Regex> = LazyLock::new(|| regex(r"^[-+]?[0-9][0-9_]*(:[0-5]?[0-9]){1,2}\.[0-9_]*$"));
static FLOAT: LazyLock<Regex> = LazyLock::new(|| regex(r"^[-+]?([0-9][0-9_,]*)?\.[0-9]*([eE][-+][0-9]+)?$"));
static BINARY: LazyLock<Regex> = LazyLock::new(|| regex(r"^[-+]?0b[0-1_,]+$"));
static OCTAL: LazyLock<Regex> = LazyLock::new(|| regex(r"^[-+]?0[0-7_,]+$"));
static DECIMAL: LazyLock<Regex> = LazyLock::new(|| regex(r"^[-+]?(?:0|[1-9](?:[0-9]|,[0-9]|_[0-9])*)$"));
static HEX: LazyLock<Regex> = LazyLock::new(|| regex(r"^[-+]?0x[0-9a-fA-F_,]+$"));

/// Psych's `tokenize`, branch by branch, in its order.
pub(crate) fn resolve_plain(text: &str) -> Resolved {
    if text.is_empty() {
        return Resolved::Null;
    }
    if looks_like_words(text) || text.contains('\n') {
        return resolve_word(text);
    }
    if TIME.is_match(text) || DATE.is_match(text) {
        return Resolved::Str(text.to_string());
    }
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        ".inf" | "+.inf" => return Resolved::Float(f64::INFINITY),
        "-.inf" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    if text.starts_with(':') && text.len() > 1 {
        return Resolved::Symbol;
    }
    if BASE_60_INT.is_match(text) {
        return base_60(text, |part| ruby_to_i(part).map(|i| i as f64)).map_or_else(
            || Resolved::Str(text.to_string()),
            // Every part is a whole number, so the sum is one too.
            |sum| Resolved::Int(sum as i128),
        );
    }
    if BASE_60_FLOAT.is_match(text) {
        return base_60(text, |part| part.replace('_', "").parse::<f64>().ok())
            .map_or_else(|| Resolved::Str(text.to_string()), Resolved::Float);
    }
    if FLOAT.is_match(text) {
        let digits = text.trim_start_matches(['-', '+']);
        if digits == "." {
            return Resolved::Str(text.to_string());
        }
        // Ruby drops `,` and `_`, and a `.` before an exponent or at the end, then `Float()`s it.
        let mut cleaned: String = text.chars().filter(|c| !matches!(c, ',' | '_')).collect();
        if let Some(dot) = cleaned.find('.') {
            if cleaned[dot + 1..].is_empty() || cleaned[dot + 1..].starts_with(['e', 'E']) {
                cleaned.remove(dot);
            }
        }
        return cleaned.parse::<f64>().map_or_else(|_| Resolved::Str(text.to_string()), Resolved::Float);
    }
    for (pattern, radix, prefix) in [(&BINARY, 2, "0b"), (&OCTAL, 8, "0"), (&DECIMAL, 10, ""), (&HEX, 16, "0x")] {
        if pattern.is_match(text) {
            return integer(text, radix, prefix);
        }
    }
    Resolved::Str(text.to_string())
}

/// Psych's first test, `/^[^\d.:-]?[[:alpha:]_\s!@#$%\^&*(){}<>|\/\\~;=]+/`: text that starts
/// like words (after at most one other character) is a string, a boolean or null.
fn looks_like_words(text: &str) -> bool {
    let wordy = |c: char| c.is_alphabetic() || "_ \t\r\n\x0b\x0c!@#$%^&*(){}<>|/\\~;=".contains(c);
    let mut chars = text.chars();
    let (Some(first), second) = (chars.next(), chars.next()) else { return false };
    wordy(first) || (!(first.is_ascii_digit() || ".:-".contains(first)) && second.is_some_and(wordy))
}

/// YAML 1.1's booleans and nulls, in any case: `yes`/`no`, `on`/`off`, `true`/`false`, `~`,
/// `null`. Not `y`/`n`: Psych reads those as strings.
fn resolve_word(text: &str) -> Resolved {
    if text.chars().count() > 5 {
        return Resolved::Str(text.to_string());
    }
    match text.to_ascii_lowercase().as_str() {
        "~" | "null" => Resolved::Null,
        "yes" | "true" | "on" => Resolved::Bool(true),
        "no" | "false" | "off" => Resolved::Bool(false),
        _ => Resolved::Str(text.to_string()),
    }
}

/// Psych's base 60 sum, `1:30` = 5400: each part times 60 to the power of its distance from the
/// third part (so two parts read as hours and minutes).
fn base_60(text: &str, parse: impl Fn(&str) -> Option<f64>) -> Option<f64> {
    let mut sum = 0.0;
    for (i, part) in text.split(':').enumerate() {
        sum += parse(part)? * 60f64.powi((i as i32 - 2).abs());
    }
    Some(sum)
}

/// Ruby's `String#to_i` on what the base 60 pattern lets through: a sign, digits and `_`.
fn ruby_to_i(part: &str) -> Option<i64> {
    part.replace('_', "").parse().ok()
}

/// Ruby's `Integer()` of the text without `,` and `_`: sign, then the radix's prefix.
fn integer(text: &str, radix: u32, prefix: &str) -> Resolved {
    let cleaned: String = text.chars().filter(|c| !matches!(c, ',' | '_')).collect();
    let (negative, unsigned) = match cleaned.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, cleaned.strip_prefix('+').unwrap_or(&cleaned)),
    };
    let digits = unsigned.strip_prefix(prefix).unwrap_or(unsigned);
    // `0b_` and `0x,` leave no digits; Ruby's `Integer()` raises there, so the text stays.
    if digits.is_empty() {
        return if radix == 8 { Resolved::Int(0) } else { Resolved::Str(text.to_string()) };
    }
    match i128::from_str_radix(digits, radix) {
        Ok(value) => Resolved::Int(if negative { -value } else { value }),
        Err(_) if radix == 10 => {
            Resolved::BigInt(format!("{}{}", if negative { "-" } else { "" }, digits.trim_start_matches('0')))
        }
        Err(_) => Resolved::Str(text.to_string()),
    }
}

/// Ruby's `Float#to_s`: the shortest digits that read back the same, in plain notation from
/// 0.0001 up to 1e16 and as `1.0e+16` outside it.
pub(crate) fn ruby_float(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    // `{:e}` gives the shortest round-tripping digits: `1.2345e16`.
    let scientific = format!("{:e}", value.abs());
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let sign = if value.is_sign_negative() { "-" } else { "" };
    let point = exponent + 1;
    if !(-3..=16).contains(&point) {
        let rest = if digits.len() > 1 { &digits[1..] } else { "0" };
        let exponent_sign = if exponent < 0 { '-' } else { '+' };
        return format!("{sign}{}.{rest}e{exponent_sign}{:02}", &digits[..1], exponent.abs());
    }
    if point <= 0 {
        return format!("{sign}0.{}{digits}", "0".repeat(point.unsigned_abs() as usize));
    }
    let point = point as usize;
    if point >= digits.len() {
        format!("{sign}{digits}{}.0", "0".repeat(point - digits.len()))
    } else {
        format!("{sign}{}.{}", &digits[..point], &digits[point..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Resolved::*;

    fn text(s: &str) -> Resolved {
        Str(s.to_string())
    }

    /// Each case checked with `Psych.safe_load("v: <case>", permitted_classes: [Date, Time])` on
    /// Ruby 3.1 with Psych 4.0.3, as Jekyll 4.3 (Debian, without safe_yaml) reads YAML.
    #[test]
    fn booleans_and_nulls_as_psych_reads_them() {
        for yes in ["yes", "Yes", "YES", "yEs", "on", "ON", "true", "TRUE", "tRuE"] {
            assert_eq!(resolve_plain(yes), Bool(true), "{yes}");
        }
        for no in ["no", "No", "NO", "off", "Off", "false", "FALSE"] {
            assert_eq!(resolve_plain(no), Bool(false), "{no}");
        }
        for null in ["", "~", "null", "NULL", "nUlL"] {
            assert_eq!(resolve_plain(null), Null, "{null}");
        }
        for word in ["y", "n", "Y", "N", "nope", "yes please", "onward", "offside", "nulls"] {
            assert_eq!(resolve_plain(word), text(word), "{word}");
        }
    }

    #[test]
    fn integers_in_yaml_11_bases_with_separators() {
        for (written, value) in [
            ("010", 8),
            ("-010", -8),
            ("0x1f", 31),
            ("0x_1f", 31),
            ("0b101", 5),
            ("1_000", 1000),
            ("1,000", 1000),
            ("+1", 1),
            ("-0", 0),
            ("0_", 0),
            ("1:30", 5400),
            ("1:30:00", 5400),
            ("12:30", 45000),
            ("-1:30", -1800),
        ] {
            assert_eq!(resolve_plain(written), Int(value), "{written}");
        }
        assert_eq!(resolve_plain("123456789012345678901234567890"), Int(123456789012345678901234567890));
        assert_eq!(
            resolve_plain("1234567890123456789012345678901234567890"),
            BigInt("1234567890123456789012345678901234567890".into())
        );
        for kept in ["08", "09", "0X1F", "0o17", "0b", "1__0", "1,,0", "1e5", "1.0e5", "12:60", "1-2"] {
            assert_eq!(resolve_plain(kept), text(kept), "{kept}");
        }
    }

    #[test]
    fn floats_and_their_ruby_text() {
        for (written, shown) in [
            ("1.5", "1.5"),
            (".5", "0.5"),
            ("+.5", "0.5"),
            ("1.", "1.0"),
            ("1_000.5", "1000.5"),
            ("1,000.5", "1000.5"),
            ("1.0e+5", "100000.0"),
            ("1:30.5", "5430.0"),
            ("100000000000000000.0", "1.0e+17"),
            ("12345678901234567.0", "1.2345678901234568e+16"),
            ("1.0e+16", "1.0e+16"),
            ("0.0001", "0.0001"),
            ("0.00001", "1.0e-05"),
            ("3.14159265358979", "3.14159265358979"),
            (".inf", "Infinity"),
            (".Inf", "Infinity"),
            ("+.inf", "Infinity"),
            ("-.inf", "-Infinity"),
            (".nan", "NaN"),
        ] {
            let Float(value) = resolve_plain(written) else { panic!("{written} is not a float") };
            assert_eq!(ruby_float(value), shown, "{written}");
        }
        assert_eq!(ruby_float(-2.5), "-2.5");
        assert_eq!(ruby_float(1e15), "1000000000000000.0");
        assert_eq!(resolve_plain("-."), text("-."));
    }

    #[test]
    fn dates_times_symbols_and_text() {
        for kept in ["2020-01-01", "2020-1-1", "2020-01-01 10:00:00", "2020-01-01T10:00:00+08:00", "a: b", "10 tips"] {
            assert_eq!(resolve_plain(kept), text(kept), "{kept}");
        }
        assert_eq!(resolve_plain(":sym"), Symbol);
        assert_eq!(resolve_plain(":)"), Symbol);
        assert_eq!(resolve_plain(":"), text(":"));
    }
}
