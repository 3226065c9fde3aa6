//! The Liquid engine against real Jekyll: a small site of our own (includes with parameters, data
//! in YAML, JSON and CSV, config values, Jekyll's tags and filters) built by `jekyll build`, each
//! post's body compared with what `postfeed::template` renders: the same visible text and the same
//! link targets. Posts are `.html`, so no Markdown converter takes part.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use liquid_core::model::{Value, ValueView};
use liquid_core::Object;
use postfeed::template::{self, Engine, Entry, SiteContext, SiteFiles, SiteIndex};

use crate::support;

fn jekyll_installed() -> bool {
    Command::new("jekyll").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// jekyll-include-cache, for `include_cached` (Debian: ruby-jekyll-include-cache).
fn include_cache_installed() -> bool {
    Command::new("ruby").args(["-e", "require 'jekyll-include-cache'"]).output().is_ok_and(|o| o.status.success())
}

const CONFIG: &str = "\
title: Liquid Test Site
url: https://example.org
baseurl: /blog
timezone: UTC
permalink: /:year/:title/
plugins: [jekyll-include-cache]
words_per_minute: 200
social:
  mastodon: '@site@example.social'
tagline: Notes & \"quotes\"
defaults:
  - scope: {path: ''}
    values: {layout: bare}
";

const FILES: &[(&str, &str)] = &[
    ("_layouts/bare.html", "{{ content }}"),
    ("_includes/figure.html", "<figure><img src=\"{{ include.src | relative_url }}\" alt=\"{{ include.alt }}\"><figcaption>{{ include.caption | default: 'No caption' }}</figcaption></figure>\n"),
    ("_includes/note.html", "<aside class=\"{{ include.type }}\">{{ include.content }} ({{ page.title }})</aside>{% include badge.html %}"),
    ("_includes/badge.html", "<b>{{ include.type | upcase }}</b>"),
    ("_includes/links/list.html", "<ul>{% for item in site.data.nav %}<li><a href=\"{{ item.url | relative_url }}\">{{ item.title }}</a></li>{% endfor %}</ul>"),
    ("_includes/team.html", "{% assign eds = site.data.people | where: 'role', 'editor' %}{{ eds | map: 'name' | array_to_sentence_string }}"),
    ("_includes/dyn-a.html", "Dynamic A"),
    ("_data/nav.json", r#"[{"title": "Home", "url": "/"}, {"title": "Archive", "url": "/archive/"}, {"title": "Elsewhere", "url": "https://other.example/x"}]"#),
    ("_data/people.csv", "name,role,joined\nAnn,editor,2019\nBo,writer,2021\nCy,editor,2018\n"),
    ("_data/authors.yml", "alice:\n  name: Alice Liddell\n  site: https://alice.example\nbob:\n  name: Bob\n"),
    // Keys in sorted order: liquid-rust's objects do not keep the file's order (see the README).
    ("_data/sub/colors.yml", "- hex: '#f00'\n  name: red\n- hex: '#0f0'\n  name: green\n"),
    ("about.html", "---\ntitle: About\n---\nAbout page"),
    ("_posts/2021-01-01-first-post.html", "---\ntitle: First Post\n---\nFirst."),
    (
        "_posts/2021-02-03-includes.html",
        "---\ntitle: Includes & parameters\nimage: /img/x.png\n---\n\
         <p>Start</p>\n\
         {% include figure.html src=page.image alt=\"An image\" caption='A caption' %}\n\
         {% include figure.html src=\"/img/y.png\" alt=page.title %}\n\
         {% capture body %}Careful: {{ page.title | downcase }}{% endcapture %}\n\
         {% include note.html type=\"warning\" content=body %}\n\
         {% include links/list.html %}\n\
         {% assign which = 'a' %}{% include dyn-{{ which }}.html %}\n\
         <p>{% include team.html %}</p>",
    ),
    (
        "_posts/2021-03-04-data-and-filters.html",
        "---\ntitle: Data loops\ntags: [one, two, three]\nauthor: alice\n---\n\
         <p>By {{ site.data.authors[page.author].name }} ({{ site.data.authors[page.author].site }})</p>\n\
         <ul>{% for c in site.data.sub.colors %}<li>{{ forloop.index }}/{{ forloop.length }} {{ c.name }} {{ c.hex }}{% if forloop.first %} first{% endif %}</li>{% endfor %}</ul>\n\
         {% assign by_role = site.data.people | group_by: 'role' %}{% for g in by_role %}<p>{{ g.name }}: {{ g.size }} ({{ g.items | map: 'name' | join: ', ' }})</p>{% endfor %}\n\
         {% assign sorted = site.data.people | sort: 'joined' %}<p>{{ sorted | map: 'name' | join: ' < ' }}</p>\n\
         {% assign old = site.data.people | where_exp: 'p', 'p.joined < \"2020\"' %}<p>old: {{ old | size }}</p>\n\
         <p>{{ page.tags | array_to_sentence_string: 'or' }} — {{ page.tags | size }} tags, {{ page.tags | first | upcase }}</p>\n\
         <p>{% for t in page.tags reversed limit: 2 %}{{ t }}{% unless forloop.last %}, {% endunless %}{% endfor %}</p>\n\
         {% for i in (1..4) offset: 1 %}[{{ i | times: 3 | minus: 1 }}]{% else %}none{% endfor %}\n\
         {% for x in page.nothing %}never{% else %}<p>empty loop</p>{% endfor %}\n\
         {% case page.tags.size %}{% when 2 %}<p>two</p>{% when 3 %}<p>three</p>{% else %}<p>many</p>{% endcase %}",
    ),
    (
        "_posts/2021-04-05-tags-and-filters.html",
        "---\ntitle: Jekyll's tags\ndate: 2021-04-05 13:14:15 +0000\n---\n\
         <p><a href=\"{% post_url 2021-01-01-first-post %}\">first</a> <a href=\"{% link about.html %}\">about</a></p>\n\
         <p><a href=\"{{ '/feed.xml' | absolute_url }}\">feed</a> <a href=\"{{ 'x/y.html' | relative_url }}\">rel</a></p>\n\
         {% highlight ruby %}\ndef hello(x)\n  puts \"<#{x}>\" if x && 1 < 2\nend\n{% endhighlight %}\n\
         {% highlight python linenos %}\nprint('a')\nprint({{ 40 | plus: 2 }})\n{% endhighlight %}\n\
         <p>{% raw %}{{ not rendered }} {% if %}{% endraw %}</p>\n\
         {% comment %}<p>hidden {{ page.title }}</p>{% endcomment %}\n\
         <p>{{ page.date | date_to_string }} | {{ page.date | date_to_long_string: 'ordinal', 'US' }} | {{ page.date | date_to_xmlschema }} | {{ page.date | date_to_rfc822 }} | {{ page.date | date: '%A %-d %B %Y, %H:%M' }}</p>\n\
         <p>{{ 'Hello, World & Friends!' | slugify }} {{ 'Hello, World!' | slugify: 'pretty' }} {{ site.tagline | xml_escape }} {{ 'a b&c' | cgi_escape }} {{ 'a b/ü' | uri_escape }}</p>\n\
         <p>{{ 'one two  three\n four' | number_of_words }} {{ '  lots   of\n space ' | normalize_whitespace }} {{ site.data.sub.colors | jsonify | xml_escape }}</p>\n\
         <p>{{ site.title }} {{ site.social.mastodon }} {{ site.words_per_minute | plus: 1 }} {{ site.baseurl }} {{ site.url }}</p>\n\
         <p>{{ page.title | append: '!' | prepend: '¡' }} {{ 'abc' | slice: 1, 2 }} {{ 10 | divided_by: 4 }} {{ 10.0 | divided_by: 4 }} {{ 7 | modulo: 3 }} {{ 'a,b,c' | split: ',' | reverse | join: '' }}</p>\n\
         <p>{{ '  pad  ' | strip }}|{{ 'Title case' | capitalize }}|{{ '<b>bold</b>' | strip_html }}|{{ 'x\ny' | newline_to_br }}|{{ '<&>' | escape }}|{{ 'long words here' | truncatewords: 2 }}|{{ 'abcdefgh' | truncate: 5 }}</p>\n\
         <p>{%- if site.title contains 'Liquid' -%} contains {%- endif -%}|{{ nil | default: 'dflt' }}|{{ '' | default: 'empty-dflt' }}|{{ false | default: 'false-dflt' }}</p>\n\
         <p>{% if '' %}empty string is truthy{% endif %} {% if 0 %}zero is truthy{% endif %} {% unless nothing %}nil is falsy{% endunless %}</p>",
    ),
    ("_data/ranks.yml", "- {name: Ann, rank: 2}\n- {name: Bo}\n- {name: Cy, rank: 1}\n- {name: Di, rank: 2}\n"),
    ("_posts/snippet.txt", "<p>Snippet in {{ page.title }}</p>"),
    (
        "_posts/2021-06-07-more-filters.html",
        "---\ntitle: More filters\ntags: [x, y, z]\n---\n\
         {% include_relative snippet.txt %}\n\
         {% include_cached badge.html type='cached' %}\n\
         <ul>{%- for p in site.data.ranks -%}\n  <li>{{ p.name }}</li>\n{%- endfor -%}</ul>\n\
         <p>{{ site.data.ranks | where: 'rank', 2 | map: 'name' | join: ',' }}|{{ site.data.ranks | sort: 'rank', 'last' | map: 'name' | join: ',' }}|{{ site.data.ranks | sort: 'rank' | map: 'name' | join: ',' }}</p>\n\
         {% assign g = site.data.ranks | group_by_exp: 'p', 'p.name | size' %}<p>{% for x in g %}{{ x.name }}:{{ x.items | map: 'name' | join: '+' }};{% endfor %}</p>\n\
         {% assign f = site.data.ranks | find: 'name', 'Cy' %}{% assign e = site.data.ranks | find_exp: 'p', 'p.rank == 2' %}<p>{{ f.rank }} {{ e.name }}</p>\n\
         <p>{{ 'Ünïcode Straße' | slugify: 'ascii' }} {{ 'Ünïcode Straße' | slugify: 'latin' }} {{ 'a b  c' | slugify: 'raw' }} {{ 'Keep Case' | slugify: 'none' }}</p>\n\
         <p>{{ '日本語のテキスト and words' | number_of_words: 'cjk' }} {{ '日本語 text' | number_of_words: 'auto' }} {{ page.tags | array_to_sentence_string }} {{ page.tags | join: ', ' }}</p>\n\
         <p>{{ 'a?b=c&d e' | uri_escape }} {{ \"it's\" | xml_escape }} {{ 'https://x.org/a' | absolute_url }} {{ '' | relative_url }} {{ site.data.authors | size }}</p>\n\
         <p>{% for a in (1..2) %}{% for b in (1..2) %}{{ forloop.parentloop.index }}{{ forloop.index }} {% endfor %}{% endfor %}</p>\n\
         <p>{% for i in (1..6) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{% cycle 'odd', 'even' %}{{ i }} {% endfor %}</p>\n\
         <p>{% assign words = 'b a c' | split: ' ' %}{{ words | sort | first }}{{ words | last }} {{ 'x' | append: site.title | size }}</p>",
    ),
    (
        "_posts/2021-07-08-keyword-names.html",
        "---\ntitle: Keyword names\nnil_value: N\ntrue_story: T\nempty_list: []\n---\n\
         {% assign empty_msg = 'm' %}{% assign nil_count = 3 %}{% assign false_alarm = false %}{% capture blank_slate %}B{% endcapture %}\n\
         <p>[{{ empty_msg }}] [{{ nil_count | plus: 1 }}] [{{ nil_value }}] [{{ page.nil_value }}{{ page.true_story }}{{ page.empty_list | size }}] [{{ blank_slate }}]</p>\n\
         <p>[{% if false_alarm %}SECRET{% endif %}] [{% if empty_msg %}if-ok{% endif %}] [{% if nil_count > 2 %}nc-ok{% endif %}] [{% unless null_thing %}unless-ok{% endunless %}]</p>\n\
         <p>{% for true_x in page.empty_list %}never{% else %}none{% endfor %} {% for nil_p in site.data.ranks limit: 2 %}{{ nil_p.name }};{% endfor %}</p>\n\
         <p>{{ site.data.ranks | where_exp: 'empty_p', 'empty_p.rank == 2' | map: 'name' | join: ',' }}</p>",
    ),
    (
        "_posts/2021-08-09-conditions.html",
        "---\ntitle: Conditions\nt: true\nf: false\nn: 5\n---\n\
         <p>[{% if page.comments == false %}A{% endif %}] [{% unless page.toc == false %}B{% endunless %}] [{% if page.x != false %}C{% endif %}] [{% if page.f == false %}D{% endif %}] [{% if false == nil %}E{% endif %}] [{% if page.x == nil %}F{% endif %}]</p>\n\
         <p>[{% if page.x == empty %}A{% endif %}] [{% if '' == empty %}B{% endif %}] [{% if '' == blank %}C{% endif %}] [{% if page.x == blank %}D{% endif %}] [{% if empty %}E{% endif %}] [{% if page.x != blank %}F{% endif %}]</p>\n\
         <p>[{% if '1' == 1 %}A{% endif %}] [{% if page.title == true %}B{% endif %}] [{% if 1 == 1.0 %}C{% endif %}] [{% if page.n > 4.5 and page.title >= 'C' %}D{% endif %}] [{% if page.n < nil %}E{% endif %}]</p>\n\
         <p>[{% if page.f and page.t or page.t %}A{% endif %}] [{% if page.t or page.f and page.f %}B{% endif %}] [{% if page.title contains 'ond' %}C{% endif %}] [{% if page.x contains 'a' %}D{% endif %}] [{% if (1..3) contains 2 %}E{% endif %}]</p>\n\
         <p>[{% unless page.t %}A{% elsif page.f %}B{% else %}C{% endunless %}] [{% if page.f %}A{% else if page.t %}B{% endif %}] [{% if page.f %}A{% elsif page.n==5 %}B{% endif %}]</p>\n\
         <p>[{{ site.data.ranks | where_exp: 'p', 'p.rank == false' | size }}] [{{ site.data.ranks | where_exp: 'p', 'p.rank != 2' | map: 'name' | join: ',' }}] {% assign b = site.data.ranks | find_exp: 'p', 'p.rank == nil' %}[{{ b.name }}]</p>\n\
         <p>[{{ 9999999999999999999 | plus: 1 }}] [{% if 99999999999999999999 > 5 %}gt{% endif %}]</p>",
    ),
    (
        "_posts/2021-09-10-list-filters.html",
        "---\ntitle: List filters\nlist: [x, y, z]\nnested: [[a, b], [c]]\n---\n\
         <p>[{{ page.list | sample | size }}] [{{ page.list | sample: 2 | size }}] [{{ 'abc' | sample }}] [{{ page.nothing | sample }}]</p>\n\
         <p>[{{ site.data.authors.alice | map: 'name' }}] [{{ site.data.ranks | find: 'name', 'Cy' | map: 'name' | join: ',' }}] [{{ site.data.ranks | map: 'rank' | size }}] [{{ page.nothing | map: 'x' | size }}] [{{ 'Ann' | map: 'n' }}] [{{ page.nested | map: 'x' | size }}]</p>\n\
         <p>[{{ 'a' | default: 'b', allow_false: true }}] [{{ false | default: 'b', allow_false: true }}] [{{ nil | default: 'b', allow_false: true }}] [{{ '' | default: 'b', allow_false: true }}] [{{ false | default: 'b' }}] [{{ page.list | default: 'b' }}] [{{ nil | default }}]</p>",
    ),
    (
        "_posts/2021-10-11-lax-conditions.html",
        "---\ntitle: Lax conditions\nt: true\nf: false\n---\n\
         <p>[{% if !page.t %}A{% endif %}] [{% if !page.f %}B{% endif %}] [{% if !page.nothing %}C{% endif %}] [{% unless !page.t %}D{% endunless %}] [{% if !page.f %}E{% else %}F{% endif %}]</p>\n\
         <p>[{% if page.t && page.f %}A{% endif %}] [{% if page.f && page.t %}B{% endif %}] [{% if page.t || page.f %}C{% endif %}] [{% if page.f || page.t %}D{% endif %}] [{% if page.t &&page.f %}E{% endif %}]</p>\n\
         <p>[{% if (page.t) %}A{% endif %}] [{% if (page.f) %}B{% endif %}] [{% if page.t; %}C{% endif %}] [{% if (page.t and page.f) %}D{% endif %}] [{% if (page.f or page.t) %}E{% endif %}] [{% if page.f or (page.t) %}F{% endif %}]</p>\n\
         <p>[{% if page.t, page.f %}A{% endif %}] [{% if page.f, page.t %}B{% endif %}] [{% if page.title==\"Lax conditions\" %}C{% endif %}] [{% if page.f %}x{% elsif !page.t %}D{% else %}E{% endif %}] [{% if page.f %}x{% else if page.t %}F{% endif %}]</p>",
    ),
    (
        "_posts/2021-05-06-problems.html",
        "---\ntitle: Problems\n---\n\
         <p>before</p>\n\
         {% include missing.html %}\n\
         <p>{{ 'keep' | unknown_filter }}</p>\n\
         <p>after</p>\n\
         {% if page.title = 'Problems' %}<p>SECRET</p>{% else %}<p>ELSE</p>{% endif %}",
    ),
];

/// A site index over the test site's posts and page.
struct Index;

impl SiteIndex for Index {
    fn post_url(&self, name: &str) -> Option<String> {
        FILES
            .iter()
            .filter_map(|(path, _)| path.strip_prefix("_posts/").filter(|p| p.ends_with(".html")))
            .find(|file| file.rsplit_once('.').is_some_and(|(stem, _)| stem == name))
            .map(post_url)
    }
    fn link(&self, path: &str) -> Option<String> {
        match path {
            "about.html" => Some("/about/".into()),
            _ => path.strip_prefix("_posts/").map(post_url),
        }
    }
}

/// `/:year/:title/` for a post file name.
fn post_url(file: &str) -> String {
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    format!("/{}/{}/", &stem[..4], &stem[11..])
}

/// Front matter and body of a test file.
fn split(text: &str) -> (serde_yaml::Mapping, &str) {
    let rest = text.strip_prefix("---\n").expect("front matter");
    let end = rest.find("\n---\n").expect("front matter end");
    let yaml = serde_yaml::from_str(&rest[..end]).expect("front matter YAML");
    (yaml, &rest[end + 5..])
}

/// Text a reader sees: tags dropped, entities decoded, whitespace collapsed.
fn visible_text(html: &str) -> String {
    let fragment = scraper::Html::parse_fragment(html);
    let text: String = fragment.root_element().text().collect();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn posts_render_as_jekyll_renders_them() {
    if !jekyll_installed() || !include_cache_installed() {
        eprintln!("\n*** skipped: jekyll or jekyll-include-cache not installed ***\n");
        return;
    }
    let tmp = tempfile::Builder::new().prefix("postfeed-liquid-").tempdir().unwrap();
    let site = tmp.path().join("site");
    for (path, text) in FILES {
        let path = site.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
    fs::write(site.join("_config.yml"), CONFIG).unwrap();
    let built = Command::new("jekyll")
        .args(["build", "--disable-disk-cache", "--quiet"])
        .env("JEKYLL_ENV", "production")
        .current_dir(&site)
        .output()
        .expect("jekyll runs");
    // The problem post stops Jekyll (a missing include is fatal there), so it is built apart.
    let problem_post = "_posts/2021-05-06-problems.html";
    assert!(!built.status.success(), "jekyll should refuse the missing include");
    fs::rename(site.join(problem_post), tmp.path().join("problems.html")).unwrap();
    let built = Command::new("jekyll")
        .args(["build", "--disable-disk-cache", "--quiet"])
        .env("JEKYLL_ENV", "production")
        .current_dir(&site)
        .output()
        .expect("jekyll runs");
    assert!(
        built.status.success(),
        "jekyll build failed:\n{}{}",
        String::from_utf8_lossy(&built.stdout),
        String::from_utf8_lossy(&built.stderr)
    );

    let engine = engine(&site);
    let mut compared = 0;
    for (path, text) in
        FILES.iter().filter(|(p, _)| p.starts_with("_posts/") && p.ends_with(".html") && *p != problem_post)
    {
        let (front_matter, body) = split(text);
        let file = path.strip_prefix("_posts/").unwrap();
        let url = post_url(file);
        let jekyll_html = fs::read_to_string(site.join("_site").join(url.trim_start_matches('/')).join("index.html"))
            .expect("jekyll wrote the post");
        let rendered = engine.render(&Entry { path, body, body_line: 1, page: page(path, &front_matter, &url) });
        assert!(rendered.problems.is_empty(), "{path}: {:?}", rendered.problems);
        assert_eq!(visible_text(&rendered.output), visible_text(&jekyll_html), "visible text of {path}");
        assert_eq!(support::html_urls(&rendered.output), support::html_urls(&jekyll_html), "link targets of {path}");
        compared += 1;
    }
    assert_eq!(compared, 9);

    // What Jekyll refuses to build, postfeed renders without the broken part and reports it.
    let text = fs::read_to_string(tmp.path().join("problems.html")).unwrap();
    let (front_matter, body) = split(&text);
    let rendered = engine.render(&Entry {
        path: problem_post,
        body,
        body_line: 4,
        page: page(problem_post, &front_matter, "/2021/problems/"),
    });
    assert_eq!(visible_text(&rendered.output), "before keep after");
    let shown: Vec<String> = rendered.problems.iter().map(|p| format!("{}:{}", p.path, p.line)).collect();
    // Line 5 of the file holds the include, line 6 the unknown filter, line 8 an `if` with an
    // operator Liquid does not know: Jekyll stops there, postfeed leaves out the block and its content.
    assert_eq!(shown, vec![format!("{problem_post}:5"), format!("{problem_post}:6"), format!("{problem_post}:8")]);
}

fn engine(site: &Path) -> Engine {
    let config: serde_yaml::Value = serde_yaml::from_str(CONFIG).unwrap();
    let Value::Object(config) = template::from_yaml(config) else { panic!("config is a mapping") };
    let (data, problems) = template::load_data(site);
    assert!(problems.is_empty(), "{problems:?}");
    let mut context = SiteContext::empty("https://example.org", "/blog");
    context.config = config;
    context.data = data;
    context.time = Utc::now().fixed_offset();
    context.files = Arc::new(SiteFiles::new(site, 1 << 20));
    context.index = Arc::new(Index);
    Engine::new(context)
}

/// `page` as the site layer builds it: front matter plus url, date, slug and path.
fn page(path: &str, front_matter: &serde_yaml::Mapping, url: &str) -> Object {
    let Value::Object(mut page) = template::from_yaml(serde_yaml::Value::Mapping(front_matter.clone())) else {
        panic!()
    };
    let file = path.rsplit('/').next().unwrap();
    let date: DateTime<FixedOffset> = match page.get("date").map(|d| d.to_kstr().to_string()) {
        Some(d) => DateTime::parse_from_str(&d, "%Y-%m-%d %H:%M:%S %z").expect("test dates are full"),
        None => {
            let day = NaiveDate::parse_from_str(&file[..10], "%Y-%m-%d").unwrap();
            Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap()).fixed_offset()
        }
    };
    page.insert(
        "date".into(),
        Value::scalar(
            liquid_core::model::DateTime::from_str(&date.format("%Y-%m-%d %H:%M:%S %z").to_string())
                .expect("liquid reads it"),
        ),
    );
    page.insert("url".into(), Value::scalar(url.to_owned()));
    page.insert("path".into(), Value::scalar(path.to_owned()));
    page.insert("slug".into(), Value::scalar(file[11..].rsplit_once('.').unwrap().0.to_owned()));
    page
}
