//! The bundled example site (examples/site) with the repository's config.toml, output into a
//! temporary folder; and the feed limit on a generated site.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use tempfile::TempDir;
use url::Url;

use crate::support::{
    self, content, html_urls, link, read_all_feeds, read_feed, terms, title, ReadFeed, Settings, Workspace,
};

const SITE: &str = "https://news.example.com";

/// Runs `regen` on the example site with config.toml (output into a temporary folder). Returns
/// the temporary folder (keep it alive) and the output folder.
fn regen_example() -> (TempDir, PathBuf) {
    regen_example_with_limit(None)
}

fn regen_example_with_limit(limit: Option<i64>) -> (TempDir, PathBuf) {
    let tmp = tempfile::Builder::new().prefix("postfeed-example-").tempdir().expect("temp dir");
    let output = tmp.path().join("out");
    let config = support::write_example_config(tmp.path(), &output, limit);
    support::regen(&config).assert_code(0);
    (tmp, output)
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).expect("a date").with_timezone(&Utc)
}

/// The entry whose link ends with `suffix`.
fn entry<'a>(feed: &'a ReadFeed, suffix: &str) -> &'a feed_rs::model::Entry {
    let found: Vec<_> = feed.feed.entries.iter().filter(|e| link(e).ends_with(suffix)).collect();
    assert_eq!(found.len(), 1, "expected one entry whose link ends with {suffix:?}, links: {:?}", links(feed));
    found[0]
}

fn links(feed: &ReadFeed) -> Vec<String> {
    feed.feed.entries.iter().map(|e| link(e).to_string()).collect()
}

/// Slugs (last path segment without `.html`) of a feed's entries, in order.
fn slugs(feed: &ReadFeed) -> Vec<String> {
    feed.feed
        .entries
        .iter()
        .map(|e| link(e).trim_end_matches('/').rsplit('/').next().unwrap_or("").trim_end_matches(".html").to_string())
        .collect()
}

#[test]
fn every_example_feed_parses_and_the_site_feed_lists_the_newest_twenty_posts() {
    let (_tmp, out) = regen_example();
    let feeds = read_all_feeds(&out);
    assert!(feeds.contains_key("feed.xml") && feeds.contains_key("feed.rss"), "{:?}", feeds.keys());
    for (path, feed) in &feeds {
        assert!(!feed.feed.entries.is_empty(), "{path} has no entries");
    }
    // 27 dated post files: 1 is `published: false` and 1 is dated 2099, so 25 are out; limit 20.
    for path in ["feed.xml", "feed.rss"] {
        let site = &feeds[path];
        assert_eq!(site.feed.entries.len(), 20, "{path}: {:?}", slugs(site));
        assert_eq!(slugs(site).first().map(String::as_str), Some("xinnian-shouri"), "{path}");
        // The five oldest published posts fall off; the 20th newest is 2021-12-08 10:46:18 UTC.
        assert_eq!(slugs(site).last().map(String::as_str), Some("huigou-piaoju"), "{path}");
        for old in
            ["chuneng-chanye-diaoyan", "kechuangban-xingu", "ganggu-zaobao", "nongcun-jinrong", "dazong-shangpin"]
        {
            assert!(!slugs(site).contains(&old.to_string()), "{path} lists {old}");
        }
        // Newest first; equal dates ordered by URL.
        let keys: Vec<(DateTime<Utc>, String)> = site
            .feed
            .entries
            .iter()
            .map(|e| (e.published.expect("every entry has a date"), link(e).to_string()))
            .collect();
        for pair in keys.windows(2) {
            let ((d1, l1), (d2, l2)) = (&pair[0], &pair[1]);
            assert!(d1 > d2 || (d1 == d2 && l1 < l2), "{path}: {l1} ({d1}) listed before {l2} ({d2})");
        }
        let s = slugs(site);
        let a = s.iter().position(|x| x == "a-gu-kaipan").expect("a-gu-kaipan listed");
        let b = s.iter().position(|x| x == "beixiang-zijin").expect("beixiang-zijin listed");
        assert_eq!(b, a + 1, "{path}: same date-time, so URL order: a-gu-kaipan, then beixiang-zijin");
    }
}

/// What one example post must look like in the site's Atom feed; paths are below the site URL.
struct Expected {
    /// How the entry's link ends, to find it.
    suffix: &'static str,
    id: &'static str,
    link: &'static str,
    published: &'static str,
    title: &'static str,
    /// Categories, then tags.
    terms: &'static [&'static str],
}

#[test]
fn example_posts_have_jekyll_ids_links_dates_titles_and_terms() {
    let (_tmp, out) = regen_example();
    let atom = read_feed(&out.join("feed.xml"));

    let expected = [
        Expected {
            suffix: "xinnian-shouri.html",
            id: "/emnews/2022/01/04/xinnian-shouri",
            // `_posts/2022/` is a folder inside _posts: not a category.
            link: "/emnews/2022/01/04/xinnian-shouri.html",
            published: "2022-01-04T09:31:00+08:00",
            title: "新年首个交易日 两市成交额突破万亿元",
            terms: &["emnews", "东财滚动新闻"],
        },
        Expected {
            suffix: "huigou-piaoju.html",
            id: "/emnews/2021/12/08/huigou-piaoju",
            link: "/emnews/2021/12/08/huigou-piaoju.html",
            // A YAML timestamp without offset is UTC.
            published: "2021-12-08T18:46:18+08:00",
            title: "某地产集团公告已于公开市场回购部分美元票据",
            terms: &["emnews", "东财滚动新闻"],
        },
        Expected {
            suffix: "xinjijin-faxing.html",
            id: "/zh_cn/news/emnews/2021/12/16/xinjijin-faxing",
            link: "/zh_cn/news/emnews/2021/12/16/xinjijin-faxing.html",
            published: "2021-12-16T19:48:00+08:00",
            title: "年末新基金发行提速 权益类产品占比回升",
            terms: &["zh_cn", "news", "emnews", "东财滚动新闻"],
        },
        Expected {
            suffix: "qingsuan-xitong.html",
            // The front-matter date (12-12) wins over the file name's (12-11).
            id: "/jingzhouribao/2021/12/12/qingsuan-xitong",
            link: "/jingzhouribao/2021/12/12/qingsuan-xitong.html",
            published: "2021-12-12T21:40:00+08:00",
            title: "本地农商行清算系统完成升级 跨行转账实现秒级到账",
            terms: &["jingzhouribao", "荆州日报新闻"],
        },
        Expected {
            suffix: "hexin-xitong-qianyi.html",
            id: "/2021/12/17/hexin-xitong-qianyi",
            link: "/2021/12/17/hexin-xitong-qianyi.html",
            published: "2021-12-17T10:00:00+08:00",
            // No title: Jekyll titleizes the slug.
            title: "Hexin Xitong Qianyi",
            terms: &["C", "核心系统"],
        },
        Expected {
            suffix: "niandu-celve.html",
            id: "/zhengquanshibao/2021/12/10/niandu-celve",
            link: "/zhengquanshibao/2021/12/10/niandu-celve.html",
            published: "2021-12-10T14:20:00+08:00",
            // Smartified as jekyll-feed does it: a quote after a letter closes, as kramdown reads it.
            title: "东岳证券 & 南溪证券：<2022年度策略> 称”稳字当头”，A股’结构性机会’仍存",
            terms: &["zhengquanshibao", "证券时报新闻", "年度展望"],
        },
        Expected {
            suffix: "/special/nianzhong-zhuanti/",
            id: "/special/nianzhong-zhuanti",
            link: "/special/nianzhong-zhuanti/",
            published: "2021-12-21T12:00:00+08:00",
            title: "年终专题：稳增长政策发力 明年经济怎么走",
            terms: &["zhuanti", "年终专题", "宏观经济"],
        },
        Expected {
            suffix: "yinhang-licai.html",
            // No date: the file name's, at local midnight; category from the folder only.
            id: "/business/2021/12/18/yinhang-licai",
            link: "/business/2021/12/18/yinhang-licai.html",
            published: "2021-12-18T00:00:00+08:00",
            title: "银行理财净值化转型进入收官阶段",
            terms: &["business", "银行理财", "资管新规"],
        },
    ];
    for want in expected {
        let suffix = want.suffix;
        let e = entry(&atom, suffix);
        assert_eq!(e.id, format!("{SITE}{}", want.id), "{suffix}");
        assert_eq!(link(e), format!("{SITE}{}", want.link), "{suffix}");
        assert_eq!(e.published, Some(at(want.published)), "{suffix}");
        assert_eq!(title(e), want.title, "{suffix}");
        assert_eq!(terms(e), want.terms, "{suffix}");
    }
    // A pinned `id:` is kept as it is.
    assert_eq!(entry(&atom, "jijin-jingzhi.html").id, "tag:news.example.com,2021-12-26:stcn-1226-fund");
}

#[test]
fn unpublished_and_future_posts_are_in_no_example_feed() {
    let (_tmp, out) = regen_example();
    let feeds = read_all_feeds(&out);
    for (path, feed) in &feeds {
        for e in &feed.feed.entries {
            for hidden in ["weifabu-gaojian", "weilai-yugao"] {
                assert!(!link(e).contains(hidden) && !e.id.contains(hidden), "{path} lists {hidden}: {}", link(e));
            }
            assert!(!title(e).contains("待审") && !title(e).contains("2099"), "{path}: {}", title(e));
        }
    }
    // Their own category and tag names appear on no published post, so they have no feed at all.
    for name in ["neibu", "yugao", "by_tag/草稿", "by_tag/休市安排"] {
        for ext in ["xml", "rss"] {
            assert!(!out.join(format!("feed/{name}.{ext}")).exists(), "feed/{name}.{ext} exists");
        }
    }
}

#[test]
fn example_category_and_cjk_tag_feeds_hold_exactly_their_posts() {
    let (_tmp, out) = regen_example();
    let jingzhou = ["shuzi-jinrong-xiaowei", "chuangye-danbao-daikuan", "qingsuan-xitong", "nongcun-jinrong"];
    for path in [
        "feed/jingzhouribao.xml",
        "feed/jingzhouribao.rss",
        "feed/by_tag/荆州日报新闻.xml",
        "feed/by_tag/荆州日报新闻.rss",
    ] {
        let feed = read_feed(&out.join(path));
        assert_eq!(slugs(&feed), jingzhou, "{path}");
    }
    // The self link of a CJK tag feed is the file's own URL, percent-encoded.
    let tag = read_feed(&out.join("feed/by_tag/荆州日报新闻.xml"));
    let self_url = Url::parse(support::self_link(&tag.feed).expect("a self link")).expect("an absolute URL");
    assert_eq!(self_url, Url::parse(&format!("{SITE}/feed/by_tag/荆州日报新闻.xml")).unwrap());
}

#[test]
fn every_example_category_and_tag_feed_lists_exactly_the_posts_with_that_term() {
    let (_tmp, out) = regen_example_with_limit(Some(1000));
    let feeds = read_all_feeds(&out);
    let site = &feeds["feed.xml"];
    assert_eq!(site.feed.entries.len(), 25, "all published, non-future posts: {:?}", slugs(site));
    // Posts per term, in site-feed order.
    let mut by_term: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in &site.feed.entries {
        for t in terms(e) {
            by_term.entry(t).or_default().push(link(e).to_string());
        }
    }
    let lists: BTreeMap<&String, Vec<String>> = feeds
        .iter()
        .filter(|(p, _)| p.starts_with("feed/") && p.ends_with(".xml"))
        .map(|(p, f)| (p, links(f)))
        .collect();
    for (term, posts) in &by_term {
        assert!(lists.values().any(|l| l == posts), "no feed lists exactly the posts with {term:?}: {posts:?}");
    }
    for (path, list) in &lists {
        assert!(by_term.values().any(|posts| posts == list), "{path} lists posts that share no term: {list:?}");
    }
    // `feed/` has one Atom feed per category and `feed/by_tag/` one per tag.
    assert!(lists.len() >= by_term.len(), "{} feeds for {} terms", lists.len(), by_term.len());
}

#[test]
fn example_c_and_cplusplus_tags_get_distinct_feeds() {
    let (_tmp, out) = regen_example();
    // `C` is a plain name: feed/by_tag/C.*, holding only the C post.
    for ext in ["xml", "rss"] {
        assert_eq!(slugs(&read_feed(&out.join(format!("feed/by_tag/C.{ext}")))), ["hexin-xitong-qianyi"], "C.{ext}");
    }
    // The C++ post has two tags, `C++` and `trading`: two tag feeds hold only it, and neither is C's.
    let tag_feeds = read_all_feeds(&out.join("feed/by_tag"));
    for ext in [".xml", ".rss"] {
        let only_cpp_post: Vec<&String> = tag_feeds
            .iter()
            .filter(|(path, feed)| path.ends_with(ext) && slugs(feed) == ["low-latency-matching-engine"])
            .map(|(path, _)| path)
            .collect();
        assert_eq!(only_cpp_post.len(), 2, "feeds for C++ and trading: {only_cpp_post:?}");
        assert!(only_cpp_post.contains(&&format!("trading{ext}")), "{only_cpp_post:?}");
        let cpp = only_cpp_post.iter().find(|p| **p != &format!("trading{ext}")).unwrap();
        assert_ne!(cpp.as_str(), format!("C{ext}"));
        if ext == ".xml" {
            let self_url = Url::parse(support::self_link(&tag_feeds[*cpp].feed).expect("self link")).unwrap();
            let decoded = percent_encoding::percent_decode_str(self_url.path()).decode_utf8().unwrap().into_owned();
            assert_eq!(decoded, format!("/feed/by_tag/{cpp}"), "the C++ feed's self link names its own file");
        }
    }
}

#[test]
fn example_content_links_are_all_absolute() {
    let (_tmp, out) = regen_example();
    let mut checked = 0;
    for (path, feed) in read_all_feeds(&out) {
        for e in &feed.feed.entries {
            let html = content(e);
            for bad in ["href=\"/", "src=\"/", "href='/", "src='/"] {
                assert!(!html.contains(bad), "{path}: {} has {bad}", link(e));
            }
            for url in html_urls(html) {
                let parsed = Url::parse(&url)
                    .unwrap_or_else(|err| panic!("{path}: {}: {url:?} is not absolute: {err}", link(e)));
                assert!(["http", "https", "mailto"].contains(&parsed.scheme()), "{path}: {url}");
                checked += 1;
            }
        }
    }
    assert!(checked > 50, "only {checked} links seen");

    // Relative links resolve against the post's own URL, as a browser on the post page would.
    let atom = read_feed(&out.join("feed.xml"));
    let e = entry(&atom, "niandu-celve.html");
    let base = Url::parse(link(e)).unwrap();
    let urls = html_urls(content(e));
    for relative in ["img/a.png", "../x.html", "/about/", "//news.example.com/"] {
        let want = base.join(relative).unwrap().to_string();
        assert!(urls.contains(&want), "{relative} should become {want}; links: {urls:?}");
    }
}

#[test]
fn example_post_with_cdata_terminator_round_trips() {
    let (_tmp, out) = regen_example();
    let source = std::fs::read_to_string(
        support::repo_root().join("examples/site/_posts/2021-12-22-hangqing-jiekou-yichang.html"),
    )
    .unwrap();
    let body = source.splitn(3, "---\n").nth(2).expect("a body");
    let terminators = body.matches("]]>").count();
    assert_eq!(terminators, 2, "the fixture itself changed");
    for path in ["feed.xml", "feed.rss", "feed/emnews.xml", "feed/emnews.rss"] {
        let feed = read_feed(&out.join(path));
        let html = content(entry(&feed, "hangqing-jiekou-yichang.html"));
        // As a reader's HTML parser reads the content: the sanitizer writes `>` in text as `&gt;`.
        let parsed = scraper::Html::parse_fragment(html);
        let text: String = parsed.root_element().text().collect();
        assert_eq!(text.matches("]]>").count(), terminators, "{path}: {html}");
        let code = scraper::Selector::parse("code").unwrap();
        let codes: Vec<String> = parsed.select(&code).map(|c| c.text().collect()).collect();
        assert_eq!(codes, ["<![CDATA[600000 12.30]]>", "]]>"], "{path}: {html}");
        assert!(!html.contains('\u{1}'), "{path}: U+0001 cannot be in XML");
    }
}

#[test]
fn example_rss_has_local_pubdates_guids_and_creators() {
    let (_tmp, out) = regen_example();
    let rss = read_feed(&out.join("feed.rss"));
    assert_eq!(rss.feed.feed_type, feed_rs::model::FeedType::RSS2);
    // lastBuildDate and every pubDate, as written: RFC 2822 in the site's zone.
    assert!(rss.timestamps.len() > 20, "{:?}", rss.timestamps);
    for text in &rss.timestamps {
        let date = support::parse_timestamp(text).unwrap_or_else(|| panic!("{text:?} is not RFC 2822"));
        assert_eq!(date.offset().local_minus_utc(), 8 * 3600, "{text:?}");
        assert!(text.trim_end().ends_with("+0800"), "{text:?}");
    }
    for e in &rss.feed.entries {
        assert!(e.published.is_some(), "{}: no pubDate", link(e));
        // guid: the pinned id, else the post's URL.
        if link(e).ends_with("jijin-jingzhi.html") {
            assert_eq!(e.id, "tag:news.example.com,2021-12-26:stcn-1226-fund");
        } else {
            assert_eq!(e.id, link(e), "guid");
        }
        let names: Vec<&str> = e.authors.iter().map(|a| a.name.as_str()).collect();
        let want = if link(e).ends_with("low-latency-matching-engine.html") {
            "Chen Lei"
        } else if link(e).ends_with("nianzhong-zhuanti/") {
            "周文涛"
        } else {
            "编辑部"
        };
        assert_eq!(names, [want], "dc:creator of {}", link(e));
    }
    // Atom and RSS agree on the entries and their dates.
    let atom = read_feed(&out.join("feed.xml"));
    let dated = |f: &ReadFeed| f.feed.entries.iter().map(|e| (link(e).to_string(), e.published)).collect::<Vec<_>>();
    assert_eq!(dated(&rss), dated(&atom));
}

#[test]
fn limit_keeps_only_the_newest_posts_in_every_feed() {
    let posts: Vec<(String, String)> = (1..=30)
        .map(|day| {
            (
                format!("_posts/2021-01-{day:02}-post-{day:02}.md"),
                support::post(
                    &format!(
                        "title: Post {day}\ndate: 2021-01-{day:02} 12:00:00 +0800\ncategories: daily\ntags: [counted]"
                    ),
                    "Body.",
                ),
            )
        })
        .collect();
    let refs: Vec<(&str, &String)> = posts.iter().map(|(p, c)| (p.as_str(), c)).collect();
    let ws = Workspace::with_posts(&refs);
    let (run, out) = ws.regen("limited", &Settings { limit: Some(5), ..Settings::default() });
    run.assert_code(0);
    let feeds = read_all_feeds(&out);
    let names: BTreeSet<&str> = feeds.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        BTreeSet::from([
            "feed.xml",
            "feed.rss",
            "feed/daily.xml",
            "feed/daily.rss",
            "feed/by_tag/counted.xml",
            "feed/by_tag/counted.rss"
        ])
    );
    for (path, feed) in &feeds {
        let titles: Vec<String> = feed.feed.entries.iter().map(title).collect();
        assert_eq!(titles, ["Post 30", "Post 29", "Post 28", "Post 27", "Post 26"], "{path}");
    }
}
