//! Ruby's `Time.parse`, which Jekyll applies to a front-matter date that YAML did not read as a
//! time (and Liquid's `date` filter to a text): the forms real posts use, such as `June 2, 2020`,
//! `2016-03-21 12:00 EDT` or `2017-09-27 (optional)`, read as Ruby reads them, or not at all.
//!
//! It follows Ruby's `Date._parse`: a weekday name is dropped, a time of day (with its meridian
//! and zone) is taken out, then the first date form that matches is read, in Ruby's order. Forms
//! postfeed does not read (Japanese eras, week and ordinal dates, other digit runs than
//! `YYYYMMDD`) and texts without a year give `None`: Ruby fills a missing year from the clock,
//! which would make feeds depend on the day they are made.

use std::sync::LazyLock;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;
use regex::{Captures, Regex};

const MONTHS: &str = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec";
const ERA: &str = r"(c(?:e|\.e\.)|b(?:ce|\.c\.e\.)|a(?:d|\.d\.)|b(?:c|\.c\.))";

fn regex(pattern: &str) -> Regex {
    Regex::new(&pattern.replace("MONTHS", MONTHS).replace("ERA", ERA)).expect("a valid pattern")
}

/// What is not part of any form: Ruby turns each run of it into one space.
static NOISE: LazyLock<Regex> = LazyLock::new(|| regex(r"[^-+',./:@\p{Alphabetic}\p{Nd}\[\]]+"));
static WEEKDAY: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)\b(?:sun|mon|tue|wed|thu|fri|sat)[^-/\d\s]*"));
static TIME: LazyLock<Regex> = LazyLock::new(|| {
    regex(concat!(
        r"(?i)(\d+\s*(?:(?::\s*\d+(?:\s*:\s*\d+(?:[,.]\d*)?)?|h(?:\s*\d+m?(?:\s*\d+s?)?)?)",
        r"(?:\s*[ap](?:m\b|\.m\.))?|[ap](?:m\b|\.m\.)))",
        r"(?:\s*((?:gmt|utc?)?[-+]\d+(?:[,.:]\d+(?::\d+)?)?",
        r"|(?-i:[\p{Alphabetic}.\s]+)(?:standard|daylight)\stime\b|(?-i:\p{Alphabetic}+)(?:\sdst)?\b))?",
    ))
});
static TIME_PARTS: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?i)\A(\d+)h?(?:\s*:?\s*(\d+)m?(?:\s*:?\s*(\d+)(?:[,.](\d+))?s?)?)?(?:\s*([ap])(?:m\b|\.m\.))?")
});
static EU: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)'?(\d+)[^-\d\s]*\s*(MONTHS)[^-\d\s']*(?:\s*ERA?\s*('?-?\d+(?:(?:st|nd|rd|th)\b)?))?"));
static US: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)\b(MONTHS)[^-\d\s']*\s*('?\d+)[^-\d\s']*(?:\s*,?\s*ERA?\s*('?-?\d+))?"));
static ISO: LazyLock<Regex> = LazyLock::new(|| regex(r"('?[-+]?\d+)-(\d+)-('?-?\d+)"));
static JIS: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)\b[mtshr]\d+\.\d+\.\d+"));
static VMS_DAY_FIRST: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)('?-?\d+)-(MONTHS)[^-/.]*-('?-?\d+)"));
static VMS_MONTH_FIRST: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)\b(MONTHS)[^-/.]*-('?-?\d+)(?:-('?-?\d+))?"));
static SLASH: LazyLock<Regex> = LazyLock::new(|| regex(r"('?-?\d+)/\s*('?\d+)(?:\D\s*('?-?\d+))?"));
static DOT: LazyLock<Regex> = LazyLock::new(|| regex(r"('?-?\d+)\.\s*('?\d+)\.\s*('?-?\d+)"));
static WEEK_OR_ORDINAL: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?i)\b(?:\d{2}|\d{4})?-?w\d{2}|--\d{2}-?\d{2}\b|\b\d{2}-\d{3}\b|\b\d{4}-\d{3}\b"));
static YEAR: LazyLock<Regex> = LazyLock::new(|| regex(r"'(\d+)\b"));
static MONTH: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)\b(MONTHS)\S*"));
static MDAY: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)(\d+)(?:st|nd|rd|th)\b"));
static DIGITS: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?i)([-+]?)(\d{2,14})(?:\s*t?\s*(\d{2,6})?([,.]\d*)?)?(?:\s*(z\b|[-+]\d{1,4}\b|\[[-+]?\d[^\]]*\]))?")
});

/// The parts found, as `Date._parse` returns them.
#[derive(Debug, Default, PartialEq)]
struct Parts {
    year: Option<i32>,
    month: Option<u32>,
    day: Option<u32>,
    hour: Option<u32>,
    minute: Option<u32>,
    second: Option<u32>,
    nanos: u32,
    zone: Option<String>,
}

/// Reads `text` as Ruby's `Time.parse` does; a time without a zone Ruby knows is in `tz`.
pub(crate) fn parse(text: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
    let parts = date_parse(text)?;
    // Ruby fills what is missing after the year from January 1st, midnight.
    let year = parts.year?;
    let month = parts.month.unwrap_or(1);
    let day = parts.day.unwrap_or(1);
    let (hour, minute, second) = (parts.hour.unwrap_or(0), parts.minute.unwrap_or(0), parts.second.unwrap_or(0));
    // `Time.utc` and `Time.local` roll a day past the month's end (up to 31), 24:00:00 and second
    // 60 over into the next day and minute.
    let midnight_after = hour == 24 && minute == 0 && second == 0;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || (hour > 23 && !midnight_after)
        || minute > 59
        || second > 60
    {
        return None;
    }
    let naive = NaiveDate::from_ymd_opt(year, month, 1)?.and_time(NaiveTime::MIN)
        + Duration::days(i64::from(day) - 1)
        + Duration::hours(hour.into())
        + Duration::minutes(minute.into())
        + Duration::seconds(second.into())
        + Duration::nanoseconds(parts.nanos.into());
    match parts.zone.as_deref().and_then(zone_offset) {
        Some(offset) => offset.from_local_datetime(&naive).single(),
        None => local(naive, tz),
    }
}

fn local(naive: NaiveDateTime, tz: Tz) -> Option<DateTime<FixedOffset>> {
    tz.from_local_datetime(&naive).earliest().map(|t| t.fixed_offset())
}

/// Ruby's `Time.zone_offset`: numeric offsets and the zones of RFC 822; any other name is the
/// local zone.
fn zone_offset(zone: &str) -> Option<FixedOffset> {
    let zone = zone.to_ascii_uppercase();
    let bytes = zone.as_bytes();
    let sign = match bytes.first() {
        Some(b'+') => 1,
        Some(b'-') => -1,
        _ => 0,
    };
    let number = |range: std::ops::Range<usize>| zone.get(range)?.parse::<i32>().ok();
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if sign != 0 {
        let rest = &zone[1..];
        let seconds = match rest.len() {
            2 if all_digits(rest) => number(1..3)? * 3600,
            4 if all_digits(rest) => number(1..3)? * 3600 + number(3..5)? * 60,
            5 if rest.as_bytes()[2] == b':' && all_digits(&rest[..2]) && all_digits(&rest[3..]) => {
                number(1..3)? * 3600 + number(4..6)? * 60
            }
            6 if all_digits(rest) => number(1..3)? * 3600 + number(3..5)? * 60 + number(5..7)?,
            8 if rest.as_bytes()[2] == b':' && rest.as_bytes()[5] == b':' => {
                number(1..3)? * 3600 + number(4..6)? * 60 + number(7..9)?
            }
            _ => return None,
        };
        return FixedOffset::east_opt(sign * seconds);
    }
    let hours = match zone.as_str() {
        "UTC" | "Z" | "UT" | "GMT" => 0,
        "EST" => -5,
        "EDT" => -4,
        "CST" => -6,
        "CDT" => -5,
        "MST" => -7,
        "MDT" => -6,
        "PST" => -8,
        "PDT" => -7,
        // The military zones, as Ruby defines them (J is not one).
        letter if letter.len() == 1 => match bytes[0] {
            c @ b'A'..=b'I' => i32::from(c - b'A') + 1,
            c @ b'K'..=b'M' => i32::from(c - b'K') + 10,
            c @ b'N'..=b'Y' => -(i32::from(c - b'N') + 1),
            _ => return None,
        },
        _ => return None,
    };
    FixedOffset::east_opt(hours * 3600)
}

/// Takes the first match of `pattern` out of `text` (leaving a space), and returns its groups.
fn take(text: &mut String, pattern: &Regex) -> Option<Vec<Option<String>>> {
    let (range, groups) = {
        let found: Captures<'_> = pattern.captures(text)?;
        let whole = found.get(0)?;
        let groups = found.iter().skip(1).map(|g| g.map(|m| m.as_str().to_owned())).collect();
        (whole.range(), groups)
    };
    text.replace_range(range, " ");
    Some(groups)
}

fn month_number(name: &str) -> u32 {
    let prefix = name.get(..3).unwrap_or(name).to_ascii_lowercase();
    MONTHS.split('|').position(|m| m == prefix).map_or(0, |i| i as u32 + 1)
}

fn date_parse(text: &str) -> Option<Parts> {
    let mut text = NOISE.replace_all(text, " ").into_owned();
    let mut parts = Parts::default();
    take(&mut text, &WEEKDAY);
    if let Some(groups) = take(&mut text, &TIME) {
        time_of_day(groups[0].as_deref()?, &mut parts)?;
        parts.zone = groups[1].clone();
    }
    let bc = |era: &Option<String>| era.as_deref().is_some_and(|e| e.to_ascii_lowercase().starts_with('b'));
    if let Some(g) = take(&mut text, &EU) {
        if bc(&g[2]) {
            return None;
        }
        s3e(&mut parts, g[3].clone(), Some(month_number(g[1].as_deref()?).to_string()), g[0].clone())?;
    } else if let Some(g) = take(&mut text, &US) {
        if bc(&g[2]) {
            return None;
        }
        s3e(&mut parts, g[3].clone(), Some(month_number(g[0].as_deref()?).to_string()), g[1].clone())?;
    } else if let Some(g) = take(&mut text, &ISO) {
        s3e(&mut parts, g[0].clone(), g[1].clone(), g[2].clone())?;
    } else if JIS.is_match(&text) {
        return None;
    } else if let Some(g) = take(&mut text, &VMS_DAY_FIRST) {
        s3e(&mut parts, g[2].clone(), Some(month_number(g[1].as_deref()?).to_string()), g[0].clone())?;
    } else if let Some(g) = take(&mut text, &VMS_MONTH_FIRST) {
        s3e(&mut parts, g[2].clone(), Some(month_number(g[0].as_deref()?).to_string()), g[1].clone())?;
    } else if let Some(g) = take(&mut text, &SLASH) {
        s3e(&mut parts, g[0].clone(), g[1].clone(), g[2].clone())?;
    } else if let Some(g) = take(&mut text, &DOT) {
        s3e(&mut parts, g[0].clone(), g[1].clone(), g[2].clone())?;
    } else if WEEK_OR_ORDINAL.is_match(&text) {
        return None;
    } else if let Some(g) = take(&mut text, &YEAR) {
        parts.year = Some(complete_year(g[0].as_deref()?, false)?);
    } else if let Some(g) = take(&mut text, &MONTH) {
        parts.month = Some(month_number(g[0].as_deref()?));
    } else if let Some(g) = take(&mut text, &MDAY) {
        parts.day = g[0].as_deref()?.parse().ok();
    } else if let Some(g) = take(&mut text, &DIGITS) {
        // Of Ruby's digit runs only `YYYYMMDD` and `YYMMDD`, with an optional `HHMMSS` after it
        // (and not a fraction, which Ruby then fails on).
        let (sign, run) = (g[0].as_deref().unwrap_or(""), g[1].as_deref()?);
        if !sign.is_empty() || g[3].is_some() {
            return None;
        }
        let year_digits = match run.len() {
            8 => 4,
            6 => 2,
            _ => return None,
        };
        parts.year = Some(complete_year(&run[..year_digits], false)?);
        parts.month = run[year_digits..year_digits + 2].parse().ok();
        parts.day = run[year_digits + 2..].parse().ok();
        if parts.zone.is_none() {
            parts.zone = g[4].clone();
        }
        if let Some(time) = g[2].as_deref() {
            if parts.hour.is_some() || time.len() % 2 == 1 {
                return None;
            }
            let field = |i: usize| time.get(i..i + 2).and_then(|s| s.parse().ok());
            (parts.hour, parts.minute, parts.second) = (field(0), field(2), field(4));
        }
    }
    Some(parts)
}

/// A time of day as `Date._parse` reads it: `10:00`, `10:00:05.5`, `10h30`, `9 pm`.
fn time_of_day(time: &str, parts: &mut Parts) -> Option<()> {
    let found = TIME_PARTS.captures(time)?;
    let number = |i: usize| found.get(i).and_then(|m| m.as_str().parse::<u32>().ok());
    let mut hour = number(1)?;
    if let Some(meridian) = found.get(5) {
        hour %= 12;
        if meridian.as_str().eq_ignore_ascii_case("p") {
            hour += 12;
        }
    }
    parts.hour = Some(hour);
    parts.minute = number(2);
    parts.second = number(3);
    if let Some(fraction) = found.get(4) {
        let digits: String = fraction.as_str().chars().chain(std::iter::repeat('0')).take(9).collect();
        parts.nanos = digits.parse().unwrap_or(0);
    }
    Some(())
}

/// A year as written: two digits without a sign complete to 1969–2068, as Ruby completes them.
fn complete_year(text: &str, signed: bool) -> Option<i32> {
    let digits = text.trim_start_matches(|c: char| !c.is_ascii_digit() && c != '-' && c != '+');
    let negative = digits.starts_with('-');
    let digits = digits.trim_start_matches(['-', '+']);
    let digits = &digits[..digits.bytes().take_while(u8::is_ascii_digit).count()];
    let year: i32 = digits.parse().ok()?;
    if negative {
        return None;
    }
    Some(match (digits.len() <= 2 && !signed, year) {
        (true, y) if y >= 69 => y + 1900,
        (true, y) => y + 2000,
        (false, y) => y,
    })
}

/// Ruby's `s3e`: which of three numbers written in some order is the year, the month and the day.
fn s3e(parts: &mut Parts, mut y: Option<String>, mut m: Option<String>, mut d: Option<String>) -> Option<()> {
    let long_or_quoted = |s: &String| s.starts_with('\'') || s.len() > 2;
    if y.is_some() && m.is_some() && d.is_none() {
        (y, m, d) = (d, y, m);
    }
    if y.is_none() && d.as_ref().is_some_and(long_or_quoted) {
        y = d.take();
    }
    if let Some(year) = &y {
        // A year with something after its digits (`2nd`) was the day.
        let start = year.find(|c: char| c.is_ascii_digit() || c == '-' || c == '+');
        if let Some(start) = start {
            let body = year[start..].trim_start_matches(['-', '+']);
            if body.bytes().take_while(u8::is_ascii_digit).count() < body.len() {
                (y, d) = (d, Some(year[start..].to_owned()));
            }
        }
    }
    if m.as_ref().is_some_and(long_or_quoted) {
        (y, m, d) = (m, d, y);
    }
    if d.as_ref().is_some_and(long_or_quoted) {
        (y, d) = (d, y);
    }
    let leading_number = |s: &str| -> Option<u32> {
        let s = s.trim_start_matches(|c: char| !c.is_ascii_digit());
        s[..s.bytes().take_while(u8::is_ascii_digit).count()].parse().ok()
    };
    if let Some(year) = &y {
        let signed = year.trim_start_matches('\'').starts_with(['-', '+']);
        parts.year = Some(complete_year(year, signed)?);
    }
    if let Some(month) = &m {
        parts.month = Some(leading_number(month)?);
    }
    if let Some(day) = &d {
        parts.day = Some(leading_number(day)?);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shanghai(text: &str) -> Option<String> {
        parse(text, chrono_tz::Asia::Shanghai).map(|t| t.format("%Y-%m-%d %H:%M:%S %z").to_string())
    }

    /// Each expectation is what `ruby -rtime -e 'ENV["TZ"]="Asia/Shanghai"; p Time.parse(s)'`
    /// printed (Ruby 3.1, Debian's).
    #[test]
    fn reads_what_ruby_reads_as_ruby_reads_it() {
        for (text, ruby) in [
            ("June 2, 2020", "2020-06-02 00:00:00 +0800"),
            ("2017-09-27 (optional)", "2017-09-27 00:00:00 +0800"),
            ("Jun 2 2020", "2020-06-02 00:00:00 +0800"),
            ("2 June 2020", "2020-06-02 00:00:00 +0800"),
            ("September 9, 2020 10:00 AM", "2020-09-09 10:00:00 +0800"),
            ("Tue, 02 Jun 2020 10:00:00 +0000", "2020-06-02 10:00:00 +0000"),
            ("2020/06/02", "2020-06-02 00:00:00 +0800"),
            ("06/02/2020", "2020-02-06 00:00:00 +0800"),
            ("2020.06.02", "2020-06-02 00:00:00 +0800"),
            ("20200602", "2020-06-02 00:00:00 +0800"),
            ("2020-06-02 10:00 PM", "2020-06-02 22:00:00 +0800"),
            ("2020-06-02 10:00:00 PST", "2020-06-02 10:00:00 -0800"),
            ("2016-03-21 12:00 EDT", "2016-03-21 12:00:00 -0400"),
            ("2020-6-2", "2020-06-02 00:00:00 +0800"),
            ("June 2020", "2020-06-01 00:00:00 +0800"),
            ("Monday, June 1, 2020", "2020-06-01 00:00:00 +0800"),
            ("2020-06-02 10:00:00 +08", "2020-06-02 10:00:00 +0800"),
            ("2020-06-02 10h30", "2020-06-02 10:30:00 +0800"),
            ("June 31, 2020", "2020-07-01 00:00:00 +0800"),
            ("31/12/2020", "2020-12-31 00:00:00 +0800"),
            ("Sept 9, 2020", "2020-09-09 00:00:00 +0800"),
            ("2020-06-02 10:00:00.123 -0500", "2020-06-02 10:00:00 -0500"),
            ("June 2nd, 2020", "2020-06-02 00:00:00 +0800"),
            ("2nd June 2020", "2020-06-02 00:00:00 +0800"),
            ("2nd of June 2020", "2020-06-01 00:00:00 +0800"),
            ("Tuesday 2 June 2020", "2020-06-02 00:00:00 +0800"),
            ("06/02/20", "2006-02-20 00:00:00 +0800"),
            ("99-06-02", "1999-06-02 00:00:00 +0800"),
            ("2020-06-02 24:00", "2020-06-03 00:00:00 +0800"),
            ("2020-06-02 10:00:60", "2020-06-02 10:01:00 +0800"),
            ("2020-02-30", "2020-03-01 00:00:00 +0800"),
            ("June 2, 2020 at 10:00", "2020-06-02 10:00:00 +0800"),
            ("20200602T101112", "2020-06-02 10:11:12 +0800"),
            ("990602 10:00", "1999-06-02 10:00:00 +0800"),
            ("19990512 +08", "1999-05-12 00:00:00 +0800"),
            ("2020-06-02 10:00:00 +0800 (CST)", "2020-06-02 10:00:00 +0800"),
            ("02-Jun-2020", "2020-06-02 00:00:00 +0800"),
            // Zones Ruby does not know are the local zone, as are offsets it cannot read.
            ("2020-06-02 10:00 CEST", "2020-06-02 10:00:00 +0800"),
            ("2016-06-17 12:00-400", "2016-06-17 12:00:00 +0800"),
            ("2020-06-02 10:00 optional", "2020-06-02 10:00:00 +0800"),
        ] {
            assert_eq!(shanghai(text).as_deref(), Some(ruby), "{text:?}");
        }
    }

    #[test]
    fn refuses_what_ruby_refuses_and_what_needs_the_clock() {
        // Ruby refuses these (ArgumentError), and Jekyll stops its build on them.
        for text in
            ["x", "2020", "2020-13-45", "12/31/2020", "2020-06-02 25:00", "2020-06-02 24:30", "2020年6月2日", ""]
        {
            assert_eq!(shanghai(text), None, "{text:?}");
        }
        // Ruby takes the missing year (and day) from the clock: postfeed does not.
        for text in ["2 Jun", "10:00", "June 2"] {
            assert_eq!(shanghai(text), None, "{text:?}");
        }
    }

    #[test]
    fn a_time_without_a_zone_is_in_the_sites_zone() {
        let utc = parse("June 2, 2020 10:00", chrono_tz::UTC).unwrap();
        let new_york = parse("June 2, 2020 10:00", chrono_tz::America::New_York).unwrap();
        assert_eq!(utc.to_rfc3339(), "2020-06-02T10:00:00+00:00");
        assert_eq!(new_york.to_rfc3339(), "2020-06-02T10:00:00-04:00");
    }
}
