//! Dates as Jekyll accepts them in front matter and file names.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

/// Parses a front-matter date: `2021-12-24 08:59:45 +0800`, `2021-12-24 08:59`, `2021-12-24`,
/// RFC 3339, with or without an offset. Without an offset the time is in the site's zone.
pub(crate) fn parse_date(text: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
    let text = text.trim();
    let (date_part, rest) = match text.find([' ', 'T', 't']) {
        Some(i) => (&text[..i], text[i + 1..].trim_start()),
        None => (text, ""),
    };
    let date = parse_ymd(date_part)?;
    let (time_part, offset_part) = split_time_and_offset(rest);
    let time = if time_part.is_empty() {
        NaiveTime::MIN
    } else {
        NaiveTime::parse_from_str(time_part, "%H:%M:%S%.f")
            .or_else(|_| NaiveTime::parse_from_str(time_part, "%H:%M"))
            .ok()?
    };
    let naive = NaiveDateTime::new(date, time);
    if offset_part.is_empty() {
        return in_zone(naive, tz);
    }
    let offset = parse_offset(offset_part)?;
    offset.from_local_datetime(&naive).single()
}

/// YAML 1.1's timestamp with a time of day (seconds required) and no offset, which Ruby's YAML
/// reader takes as UTC: `2021-12-08 10:46:18`, `2021-12-08T10:46:18.5`.
pub(crate) fn is_yaml_timestamp_without_offset(text: &str) -> bool {
    let text = text.trim();
    let Some(i) = text.find([' ', 'T', 't']) else { return false };
    let time = text[i + 1..].trim_start();
    parse_ymd(&text[..i]).is_some()
        && text[..i].len() >= 8
        && text[..i].split('-').next().is_some_and(|y| y.len() == 4)
        && NaiveTime::parse_from_str(time, "%H:%M:%S%.f").is_ok()
        && time.split(':').nth(1).is_some_and(|m| m.len() == 2)
}

/// The date at the start of a post's file name (`2021-12-24-slug.md`), at midnight in the site's zone.
pub(crate) fn date_from_file_name(ymd: &str, tz: Tz) -> Option<DateTime<FixedOffset>> {
    in_zone(NaiveDateTime::new(parse_ymd(ymd)?, NaiveTime::MIN), tz)
}

/// A local time in `tz`; in a gap (daylight saving) the first valid instant after it.
fn in_zone(naive: NaiveDateTime, tz: Tz) -> Option<DateTime<FixedOffset>> {
    let resolved = tz
        .from_local_datetime(&naive)
        .earliest()
        .or_else(|| tz.from_local_datetime(&(naive + chrono::Duration::hours(1))).earliest())?;
    Some(resolved.fixed_offset())
}

/// `YYYY-MM-DD`, with one or two digits for month and day and two to four for the year, as
/// Jekyll's file-name pattern allows.
pub(crate) fn parse_ymd(text: &str) -> Option<NaiveDate> {
    let mut parts = text.split('-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let digits =
        |s: &str, min: usize, max: usize| (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(y, 2, 4) || !digits(m, 1, 2) || !digits(d, 1, 2) {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// Splits `08:59:45 +0800`, `08:59:45+08:00`, `08:59:45Z` or `+0800` into time and offset.
fn split_time_and_offset(rest: &str) -> (&str, &str) {
    let rest = rest.trim();
    if rest.starts_with('+') || rest.starts_with('-') || rest.eq_ignore_ascii_case("z") {
        return ("", rest);
    }
    match rest.find([' ', '+', '-', 'Z', 'z']) {
        Some(i) => (&rest[..i], rest[i..].trim()),
        None => (rest, ""),
    }
}

fn parse_offset(text: &str) -> Option<FixedOffset> {
    if text.eq_ignore_ascii_case("z") || text.eq_ignore_ascii_case("utc") || text.eq_ignore_ascii_case("gmt") {
        return FixedOffset::east_opt(0);
    }
    let sign = match text.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = text[1..].chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (digits[..2].parse::<i32>().ok()?, digits[2..].parse::<i32>().ok()?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60))
}

/// A date as the state folder stores it: seconds and nanoseconds since the epoch and the offset in
/// seconds, which read back without parsing text (chrono's own form is RFC 3339, and parsing
/// 200,000 of those was a tenth of a start-up from the post index).
pub(crate) mod stored {
    use chrono::{DateTime, FixedOffset};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(crate) fn serialize<S: Serializer>(date: &DateTime<FixedOffset>, to: S) -> Result<S::Ok, S::Error> {
        (date.timestamp(), date.timestamp_subsec_nanos(), date.offset().local_minus_utc()).serialize(to)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(from: D) -> Result<DateTime<FixedOffset>, D::Error> {
        let (secs, nanos, offset) = <(i64, u32, i32)>::deserialize(from)?;
        let invalid = || serde::de::Error::custom("a stored date out of range");
        let offset = FixedOffset::east_opt(offset).ok_or_else(invalid)?;
        Ok(DateTime::from_timestamp(secs, nanos).ok_or_else(invalid)?.with_timezone(&offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_date_reads_back_with_its_instant_offset_and_nanoseconds() {
        #[derive(serde::Serialize, serde::Deserialize)]
        struct Held(#[serde(with = "stored")] DateTime<FixedOffset>);
        for text in ["2021-12-24T08:59:45.123456789+08:00", "1969-07-20T20:17:40-05:30", "2038-01-19T03:14:08Z"] {
            let date = DateTime::parse_from_rfc3339(text).unwrap();
            let bytes = postcard::to_allocvec(&Held(date)).unwrap();
            let back = postcard::from_bytes::<Held>(&bytes).unwrap().0;
            assert_eq!(back.to_rfc3339(), date.to_rfc3339());
        }
        // An offset of a day or more is no offset: the bytes are damaged, not a date.
        let bytes = postcard::to_allocvec(&(0_i64, 0_u32, 86_400_i32)).unwrap();
        assert!(postcard::from_bytes::<Held>(&bytes).is_err());
    }

    fn p(text: &str) -> Option<String> {
        parse_date(text, chrono_tz::Asia::Shanghai).map(|d| d.to_rfc3339())
    }

    #[test]
    fn every_form_jekyll_sites_use() {
        assert_eq!(p("2021-12-24 08:59:45 +0800").unwrap(), "2021-12-24T08:59:45+08:00");
        assert_eq!(p("2021-12-24 08:59:45 -0500").unwrap(), "2021-12-24T08:59:45-05:00");
        assert_eq!(p("2021-12-24 08:59:45").unwrap(), "2021-12-24T08:59:45+08:00");
        assert_eq!(p("2021-12-24 08:59").unwrap(), "2021-12-24T08:59:00+08:00");
        assert_eq!(p("2021-12-24").unwrap(), "2021-12-24T00:00:00+08:00");
        assert_eq!(p("2021-12-24T08:59:45Z").unwrap(), "2021-12-24T08:59:45+00:00");
        assert_eq!(p("2021-12-24T08:59:45+02:00").unwrap(), "2021-12-24T08:59:45+02:00");
        assert_eq!(p("2021-12-24T08:59:45.250+02:00").unwrap(), "2021-12-24T08:59:45.250+02:00");
        assert_eq!(p("2021-12-24 +0800").unwrap(), "2021-12-24T00:00:00+08:00");
        assert_eq!(p("  2021-1-5 8:05:00 +08:00 ").unwrap(), "2021-01-05T08:05:00+08:00");
        assert_eq!(p("2014-05-14T11:02:00-04:00").unwrap(), "2014-05-14T11:02:00-04:00");
    }

    #[test]
    fn nonsense_is_none() {
        for bad in [
            "",
            " +0800",
            "+0800",
            "September 8, 2014",
            "2016-07-19 (optional)",
            "2021-13-01",
            "2021-02-30",
            "2023-01-29 18:30:22 2023 -0800",
            "2021-12-24 25:00",
        ] {
            assert_eq!(p(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn bare_yaml_timestamps_are_recognised() {
        assert!(is_yaml_timestamp_without_offset("2021-12-08 10:46:18"));
        assert!(is_yaml_timestamp_without_offset("2021-12-08T10:46:18.5"));
        for not in ["2021-12-08 10:46", "2021-12-08", "2021-12-08 10:46:18 +0800", "2021-12-08T10:46:18Z"] {
            assert!(!is_yaml_timestamp_without_offset(not), "{not}");
        }
    }

    #[test]
    fn file_name_dates() {
        let d = date_from_file_name("2017-2-5", chrono_tz::UTC).unwrap();
        assert_eq!(d.to_rfc3339(), "2017-02-05T00:00:00+00:00");
        assert!(date_from_file_name("2017-02", chrono_tz::UTC).is_none());
    }
}
