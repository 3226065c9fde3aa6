//! Jekyll's permalinks: `:placeholders`, slugs and the URL clean-up Jekyll applies (named styles
//! such as `pretty` are expanded when the configuration is read).

use chrono::{DateTime, Datelike, Timelike};
use chrono_tz::Tz;

/// What a permalink template may refer to.
pub(crate) struct Placeholders<'a> {
    pub(crate) categories: &'a [String],
    /// The post's date in the site's time zone.
    pub(crate) date: DateTime<Tz>,
    /// The slug: front matter `slug`, else the file name's.
    pub(crate) slug: &'a str,
    /// The file name without its extension, date included.
    pub(crate) basename: &'a str,
    /// `.html` for Markdown and HTML posts.
    pub(crate) output_ext: &'a str,
}

/// Fills `template` the way Jekyll's `URL` class does and returns a path starting with `/`.
/// An unknown placeholder is left as it is written.
pub(crate) fn render(template: &str, p: &Placeholders) -> String {
    fill(template, |name| value(name, p))
}

/// Fills `template` with the values `value` gives by placeholder name, as [`render`] does.
pub(crate) fn fill(template: &str, value: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(colon) = rest.find(':') {
        out.push_str(&rest[..colon]);
        let after = &rest[colon + 1..];
        let name_len = after.bytes().take_while(|b| b.is_ascii_lowercase() || *b == b'_').count();
        let name = &after[..name_len];
        // Like Jekyll, `:title_` may mean `:title` followed by `_`.
        let found = value(name)
            .map(|v| (v, name_len))
            .or_else(|| name.strip_suffix('_').and_then(&value).map(|v| (v, name_len - 1)));
        match found {
            Some((v, used)) => {
                out.push_str(&escape_path(&v));
                rest = &after[used..];
            }
            None => {
                out.push(':');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    sanitize_url(&out)
}

fn value(name: &str, p: &Placeholders) -> Option<String> {
    let d = &p.date;
    Some(match name {
        "categories" => {
            let mut seen: Vec<String> = Vec::new();
            for c in p.categories {
                let c = c.to_lowercase();
                if !seen.contains(&c) {
                    seen.push(c);
                }
            }
            seen.join("/")
        }
        "slugified_categories" => {
            let mut seen: Vec<String> = Vec::new();
            for c in p.categories {
                let c = slugify(c, SlugMode::Default, false);
                if !seen.contains(&c) {
                    seen.push(c);
                }
            }
            seen.join("/")
        }
        "title" => slugify(p.slug, SlugMode::Pretty, true),
        "slug" => slugify(p.slug, SlugMode::Default, false),
        "name" => slugify(p.basename, SlugMode::Default, false),
        "collection" => "posts".to_string(),
        "output_ext" => p.output_ext.to_string(),
        "year" => format!("{:04}", d.year()),
        "short_year" => format!("{:02}", d.year().rem_euclid(100)),
        "month" => format!("{:02}", d.month()),
        "i_month" => d.month().to_string(),
        "short_month" => d.format("%b").to_string(),
        "long_month" => d.format("%B").to_string(),
        "day" => format!("{:02}", d.day()),
        "i_day" => d.day().to_string(),
        "y_day" => format!("{:03}", d.ordinal()),
        "hour" => format!("{:02}", d.hour()),
        "minute" => format!("{:02}", d.minute()),
        "second" => format!("{:02}", d.second()),
        "week" => format!("{:02}", d.iso_week().week()),
        "w_year" => d.iso_week().year().to_string(),
        "w_day" => d.weekday().number_from_monday().to_string(),
        "short_day" => d.format("%a").to_string(),
        "long_day" => d.format("%A").to_string(),
        _ => return None,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlugMode {
    /// Keeps letters, marks and digits of any script.
    Default,
    /// Also keeps `._~!$&'()+,;=@`.
    Pretty,
}

/// Jekyll's `Utils.slugify`: runs of other characters become one `-`, and one leading and
/// one trailing `-` are dropped.
pub(crate) fn slugify(text: &str, mode: SlugMode, cased: bool) -> String {
    let keep =
        |c: char| c.is_alphanumeric() || is_mark(c) || (mode == SlugMode::Pretty && "._~!$&'()+,;=@".contains(c));
    let mut slug = String::with_capacity(text.len());
    let mut in_run = false;
    for c in text.chars() {
        if keep(c) {
            slug.push(c);
            in_run = false;
        } else if !in_run {
            slug.push('-');
            in_run = true;
        }
    }
    let slug = slug.strip_prefix('-').unwrap_or(&slug);
    let slug = slug.strip_suffix('-').unwrap_or(slug);
    if cased {
        slug.to_string()
    } else {
        slug.to_lowercase()
    }
}

/// Combining marks, which Jekyll keeps in slugs (`\p{M}`); the common blocks suffice here.
fn is_mark(c: char) -> bool {
    matches!(c as u32, 0x0300..=0x036F | 0x1AB0..=0x1AFF | 0x1DC0..=0x1DFF | 0x20D0..=0x20FF | 0xFE20..=0xFE2F)
}

/// Jekyll's `URL.escape_path`: leaves plain values alone and percent-encodes the rest,
/// keeping RFC 3986's unreserved and sub-delimiter characters, `:`, `@` and `/`.
pub(crate) fn escape_path(value: &str) -> String {
    if value.bytes().all(|b| b.is_ascii_alphanumeric() || b"./-".contains(&b)) {
        return value.to_string();
    }
    let mut out = String::with_capacity(value.len() * 3);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Jekyll's `URL.sanitize_url`: a leading `/`, `..` turned into `/`, `./` dropped, `//` squeezed.
fn sanitize_url(path: &str) -> String {
    let joined = format!("/{path}").replace("..", "/").replace("./", "");
    let mut out = String::with_capacity(joined.len());
    for c in joined.chars() {
        if c == '/' && out.ends_with('/') {
            continue;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn render_with(template: &str, categories: &[&str], slug: &str) -> String {
        let categories: Vec<String> = categories.iter().map(|s| s.to_string()).collect();
        let date = chrono_tz::Asia::Shanghai.with_ymd_and_hms(2021, 12, 4, 8, 59, 45).unwrap();
        render(
            &crate::config::expand_style(template),
            &Placeholders {
                categories: &categories,
                date,
                slug,
                basename: &format!("2021-12-04-{slug}"),
                output_ext: ".html",
            },
        )
    }

    #[test]
    fn named_styles() {
        assert_eq!(render_with("date", &["jekyll", "update"], "welcome"), "/jekyll/update/2021/12/04/welcome.html");
        assert_eq!(render_with("pretty", &[], "welcome"), "/2021/12/04/welcome/");
        assert_eq!(render_with("ordinal", &[], "welcome"), "/2021/338/welcome.html");
        assert_eq!(render_with("weekdate", &[], "welcome"), "/2021/W48/Sat/welcome.html");
        assert_eq!(render_with("none", &["a"], "welcome"), "/a/welcome.html");
        assert_eq!(render_with("/:year/:month/:day/:title", &[], "x"), "/2021/12/04/x");
    }

    #[test]
    fn categories_are_downcased_and_deduplicated_but_not_slugified() {
        assert_eq!(render_with("date", &["MixedCase", "mixedcase", "b"], "x"), "/mixedcase/b/2021/12/04/x.html");
        assert_eq!(
            render_with("date", &["anxinguojizhengquan(xianggang)"], "x"),
            "/anxinguojizhengquan(xianggang)/2021/12/04/x.html"
        );
        assert_eq!(render_with("date", &["a b"], "x"), "/a%20b/2021/12/04/x.html");
    }

    #[test]
    fn titles_use_pretty_slugs_and_escape_what_is_left() {
        assert_eq!(render_with("none", &[], "escape-+ %20[]"), "/escape-+-20.html");
        assert_eq!(render_with("none", &[], "special-chars-(+)"), "/special-chars-(+).html");
        assert_eq!(
            render_with("none", &[], "某银行数字金融"),
            "/%E6%9F%90%E9%93%B6%E8%A1%8C%E6%95%B0%E5%AD%97%E9%87%91%E8%9E%8D.html"
        );
        assert_eq!(render_with("none", &[], "Hello-World"), "/Hello-World.html");
    }

    #[test]
    fn dot_segments_cannot_climb() {
        assert_eq!(render_with("/:categories/:title/", &["..", "x"], "y"), "/x/y/");
        assert_eq!(render_with("/../../etc/:title", &[], "p"), "/etc/p");
    }

    #[test]
    fn slugify_modes() {
        assert_eq!(slugify("Hello, World!", SlugMode::Default, false), "hello-world");
        assert_eq!(slugify("Hello, World!", SlugMode::Pretty, true), "Hello,-World!");
        assert_eq!(slugify("荆州日报 新闻", SlugMode::Default, false), "荆州日报-新闻");
        assert_eq!(slugify("--x--", SlugMode::Default, false), "x");
    }
}
