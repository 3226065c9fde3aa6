//! The engine end to end: tags, filters and every class of problem, on small templates.

use std::collections::HashMap;
use std::sync::Arc;

use liquid_core::model::Value;
use liquid_core::Object;

use super::*;

/// Includes held in memory.
struct MemFiles(HashMap<String, String>);

impl Files for MemFiles {
    fn include(&self, name: &str) -> Result<Arc<str>, IncludeError> {
        self.0.get(name).map(|s| Arc::from(s.as_str())).ok_or(IncludeError::NotFound)
    }
    fn include_relative(&self, post_path: &str, name: &str) -> Result<Arc<str>, IncludeError> {
        let folder = post_path.rsplit_once('/').map_or("", |(f, _)| f);
        self.0.get(&format!("{folder}/{name}")).map(|s| Arc::from(s.as_str())).ok_or(IncludeError::NotFound)
    }
}

struct Index;

impl SiteIndex for Index {
    fn post_url(&self, name: &str) -> Option<String> {
        (name == "2020-01-02-hello").then(|| "/2020/01/02/hello.html".to_owned())
    }
    fn link(&self, path: &str) -> Option<String> {
        (path == "about.md").then(|| "/about/".to_owned())
    }
    fn posts(&self) -> Vec<Value> {
        let mut post = Object::new();
        post.insert("title".into(), Value::scalar("First"));
        vec![Value::Object(post)]
    }
}

fn engine_with(includes: &[(&str, &str)], limits: Limits) -> Engine {
    let mut site = SiteContext::empty("https://ex.org", "/blog");
    site.files = Arc::new(MemFiles(includes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()));
    site.index = Arc::new(Index);
    site.config.insert("title".into(), Value::scalar("My Site"));
    let mut authors = Object::new();
    let mut alice = Object::new();
    alice.insert("name".into(), Value::scalar("Alice"));
    authors.insert("alice".into(), Value::Object(alice));
    site.data.insert("authors".into(), Value::Object(authors));
    site.markdownify = Arc::new(|s: &str| format!("<p>{s}</p>"));
    site.smartify = Arc::new(|s: &str| s.replace("--", "–"));
    site.limits = limits;
    Engine::new(site)
}

fn engine(includes: &[(&str, &str)]) -> Engine {
    engine_with(includes, Limits::default())
}

fn page() -> Object {
    let mut page = Object::new();
    page.insert("title".into(), Value::scalar("Hello"));
    page.insert("author".into(), Value::scalar("alice"));
    page.insert("tags".into(), Value::Array(vec![Value::scalar("a"), Value::scalar("b")]));
    page
}

fn render_in(engine: &Engine, body: &str) -> Rendered {
    engine.render(&Entry { path: "_posts/2020-01-02-hello.md", body, body_line: 4, page: page() })
}

fn render(body: &str) -> Rendered {
    render_in(&engine(&[]), body)
}

/// The output, asserting no problem was reported.
fn clean(body: &str) -> String {
    let rendered = render(body);
    assert!(rendered.problems.is_empty(), "{body}: {:?}", rendered.problems);
    rendered.output
}

fn no_markup_left(output: &str) {
    assert!(!output.contains("{{") && !output.contains("{%"), "markup left in {output:?}");
}

#[test]
fn text_without_liquid_comes_back_as_it_is() {
    let body = "# Title\n\nSome { braces } and % signs }} and a lone brace {";
    let rendered = render(body);
    assert_eq!(rendered.output, body);
    assert!(rendered.problems.is_empty() && rendered.includes.is_empty());
}

#[test]
fn site_page_and_data_variables_render() {
    assert_eq!(
        clean("{{ page.title }} on {{ site.title }} at {{ site.url }}{{ site.baseurl }} by {{ site.data.authors[page.author].name }}"),
        "Hello on My Site at https://ex.org/blog by Alice"
    );
}

#[test]
fn undefined_variables_render_empty() {
    assert_eq!(clean("[{{ nothing }}][{{ page.nothing.deeper }}][{{ site.data.none[3] }}]"), "[][][]");
    assert_eq!(clean("{% if page.nothing %}yes{% else %}no{% endif %}"), "no");
}

#[test]
fn assign_capture_loops_and_conditions_work() {
    let body = "{% assign n = page.tags | size %}{% capture c %}{{ n }} tags{% endcapture %}{{ c }}:\
                {% for t in page.tags %}{{ forloop.index }}={{ t }}{% unless forloop.last %},{% endunless %}{% endfor %}\
                {% case n %}{% when 2 %} two{% else %} other{% endcase %}";
    assert_eq!(clean(body), "2 tags:1=a,2=b two");
}

#[test]
fn whitespace_control_strips_like_ruby_liquid() {
    assert_eq!(clean("a  \n  {%- if true -%}  \n b \n  {%- endif -%}\n c"), "ab\n  c".replace("\n  c", "c"));
    assert_eq!(clean("x \t{{- 'y' -}}\t z"), "xyz");
}

#[test]
fn raw_and_comment_blocks() {
    assert_eq!(clean("{% raw %}{{ kept }} {% if %}{% endraw %}|{% comment %}gone {{ x }}{% comment %}nested{% endcomment %}{% endcomment %}|"), "{{ kept }} {% if %}||");
    // A `{%` in the body that runs up to `{% endraw %}` is text too (Jekyll: `a {%!s(x)}} bc`).
    assert_eq!(clean("{% raw %}a {%!s(x)}}\n b{% endraw %}c"), "a {%!s(x)}}\n bc");
}

#[test]
fn include_with_parameters_and_variables_in_the_name() {
    let engine = engine(&[
        ("note.html", "[{{ include.kind }}:{{ include.text }}:{{ include.n }}]"),
        ("hello.html", "hi {{ page.title }}"),
    ]);
    let rendered = render_in(&engine, "{% include note.html kind=\"tip\" text='it' n=page.title %}|{% assign x = 'hello' %}{% include {{ x }}.html %}");
    assert!(rendered.problems.is_empty(), "{:?}", rendered.problems);
    assert_eq!(rendered.output, "[tip:it:Hello]|hi Hello");
    assert_eq!(rendered.includes, vec!["_includes/hello.html", "_includes/note.html"]);
}

#[test]
fn escaped_quotes_in_include_parameters() {
    let engine = engine(&[("q.html", "{{ include.a }}")]);
    assert_eq!(render_in(&engine, r#"{% include q.html a="say \"hi\"" %}"#).output, "say \"hi\"");
}

#[test]
fn include_cached_and_include_relative_render_like_include() {
    let engine = engine(&[("c.html", "C{{ include.v }}"), ("_posts/snippet.txt", "S{{ page.title }}")]);
    let rendered = render_in(&engine, "{% include_cached c.html v=1 %}{% include_relative snippet.txt %}");
    assert!(rendered.problems.is_empty(), "{:?}", rendered.problems);
    assert_eq!(rendered.output, "C1SHello");
    assert_eq!(rendered.includes, vec!["_includes/c.html", "_posts/snippet.txt"]);
}

#[test]
fn nested_includes_see_the_outer_include_variable_without_parameters() {
    let engine = engine(&[("outer.html", "<{% include inner.html %}>"), ("inner.html", "{{ include.v }}")]);
    assert_eq!(render_in(&engine, "{% include outer.html v=7 %}").output, "<7>");
}

#[test]
fn each_include_is_parsed_once() {
    let engine = engine(&[("a.html", "A{{ include.n }}")]);
    for n in 0..5 {
        let rendered = render_in(&engine, &format!("{{% include a.html n={n} %}}{{% include a.html %}}"));
        assert_eq!(rendered.output, format!("A{n}A"));
    }
    assert_eq!(engine.cached_includes(), 1);
}

#[test]
fn a_missing_include_is_dropped_and_reported_at_its_line() {
    let rendered = render("line one\n\n{% include nope.html %}after");
    assert_eq!(rendered.output, "line one\n\nafter");
    assert_eq!(rendered.problems.len(), 1);
    let p = &rendered.problems[0];
    assert_eq!((p.path.as_str(), p.line, p.kind), ("_posts/2020-01-02-hello.md", 6, ProblemKind::Include));
    assert!(p.message.contains("nope.html") && p.message.contains("not found"), "{p}");
    assert_eq!(rendered.includes, vec!["_includes/nope.html"]);
}

#[test]
fn include_names_that_leave_the_folder_are_refused() {
    let rendered = render("{% include ../secret.txt %}{% include /etc/passwd %}");
    assert_eq!(rendered.output, "");
    assert_eq!(rendered.problems.len(), 2);
    assert!(rendered.problems.iter().all(|p| p.kind == ProblemKind::Include));
}

#[test]
fn an_include_loop_stops_at_the_depth_limit() {
    let engine = engine(&[("loop.html", "x{% include loop.html %}")]);
    let rendered = render_in(&engine, "{% include loop.html %}");
    assert_eq!(rendered.output, "x".repeat(Limits::default().max_include_depth));
    assert!(rendered
        .problems
        .iter()
        .any(|p| p.kind == ProblemKind::Include && p.path == "_includes/loop.html" && p.line == 1));
}

#[test]
fn errors_inside_an_include_name_the_include_file_and_line() {
    let engine = engine(&[("bad.html", "ok\n{% youtube x %}\n{{ 'a' | nosuch }}")]);
    let rendered = render_in(&engine, "{% include bad.html %}");
    assert_eq!(rendered.output, "ok\n\na");
    let at: Vec<(&str, u32)> = rendered.problems.iter().map(|p| (p.path.as_str(), p.line)).collect();
    assert_eq!(at, vec![("_includes/bad.html", 2), ("_includes/bad.html", 3)]);
}

#[test]
fn unknown_tags_go_and_unknown_blocks_keep_their_body() {
    let rendered =
        render("a{% youtube abc %}b\n{% figure caption:\"x\" %}<img src=\"{{ site.baseurl }}/i.png\">{% endfigure %}c");
    assert_eq!(rendered.output, "ab\n<img src=\"/blog/i.png\">c");
    let kinds: Vec<(u32, ProblemKind)> = rendered.problems.iter().map(|p| (p.line, p.kind)).collect();
    assert_eq!(kinds, vec![(4, ProblemKind::UnknownTag), (5, ProblemKind::UnknownTag)]);
}

#[test]
fn unknown_filters_pass_the_value_through_as_jekyll_does() {
    let rendered = render("{{ 'x' | team_photo | upcase }}");
    assert_eq!(rendered.output, "X");
    assert_eq!(rendered.problems.len(), 1);
    assert_eq!(rendered.problems[0].kind, ProblemKind::UnknownFilter);
}

#[test]
fn a_syntax_error_costs_only_its_tag() {
    let rendered = render("a {{ 'x' | append: }} b {% if 1 = %}c{% endif %} d {{ page.title }}\n{% assign = %}e");
    no_markup_left(&rendered.output);
    assert!(rendered.output.starts_with("a ") && rendered.output.ends_with("d Hello\ne"), "{:?}", rendered.output);
    assert!(
        rendered
            .problems
            .iter()
            .all(|p| matches!(p.kind, ProblemKind::Syntax | ProblemKind::OutputSyntax | ProblemKind::Render)),
        "{:?}",
        rendered.problems
    );
    assert!(rendered.problems.len() >= 3, "{:?}", rendered.problems);
}

#[test]
fn unclosed_and_stray_tags_are_dropped() {
    for body in [
        "{% if true %}open",
        "x{% endif %}y",
        "{% for a in b %}{% if x %}{% endfor %}",
        "{{ x",
        "{% if",
        "{{ x }",
        "{% else %}",
        "{% %}",
    ] {
        let rendered = render(body);
        no_markup_left(&rendered.output);
        assert!(!rendered.problems.is_empty(), "{body} reported nothing");
    }
    assert_eq!(render("{% if true %}open").output, "open");
}

#[test]
fn render_errors_drop_their_tag_and_report_it() {
    let rendered = render("a{{ page.tags | where_exp: 'p', 'p == =' }}b{{ page.title }}");
    assert_eq!(rendered.output, "abHello");
    assert_eq!(rendered.problems.len(), 1);
    assert_eq!(rendered.problems[0].kind, ProblemKind::Render);
}

#[test]
fn huge_ranges_are_cut_and_reported() {
    let rendered = render_in(
        &engine_with(&[], Limits { max_range: 5, ..Limits::default() }),
        "{% for i in (1..1000000000000) %}{{ i }}{% endfor %}",
    );
    assert_eq!(rendered.output, "12345");
    assert_eq!(rendered.problems[0].kind, ProblemKind::Limit);
    let limits = Limits { max_range: 3, ..Limits::default() };
    let rendered = render_in(&engine_with(&[], limits), "{% tablerow i in (1..99999999999) %}{{ i }}{% endtablerow %}");
    assert_eq!(rendered.output.matches("<td").count(), 3);
    assert_eq!(rendered.problems[0].kind, ProblemKind::Limit);
}

#[test]
fn runaway_loops_stop_at_the_step_limit() {
    let limits = Limits { max_steps: 10_000, ..Limits::default() };
    let body = "before {% for a in (1..1000) %}{% for b in (1..1000) %}{% endfor %}{% endfor %} after";
    let rendered = render_in(&engine_with(&[], limits), body);
    assert_eq!(rendered.output, "before  after");
    assert!(rendered.problems.iter().any(|p| p.kind == ProblemKind::Limit), "{:?}", rendered.problems);
}

#[test]
fn output_size_is_limited() {
    let limits = Limits { max_output_bytes: 1000, ..Limits::default() };
    let rendered = render_in(&engine_with(&[], limits), "{% for a in (1..500) %}0123456789{% endfor %}");
    assert!(rendered.output.len() < 100);
    assert!(rendered.problems.iter().any(|p| p.kind == ProblemKind::Limit));
}

/// Values that double or multiply stop at the budget for values, with the default limits: each
/// of these would need gigabytes, and the process would abort, if they ran to their end.
#[test]
fn values_that_grow_without_bound_stop_at_the_limit() {
    let bodies = [
        // `append` doubling a string 40 times: 16 bytes to 16 TB.
        "{% assign s = 'xxxxxxxxxxxxxxxx' %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}",
        // `capture` doubling.
        "{% capture s %}xxxxxxxxxxxxxxxx{% endcapture %}{% for i in (1..40) %}{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}{{ s | size }}",
        // One `replace` that turns each of a million characters into a megabyte.
        "{% assign m = 'xxxxxxxxxxxxxxxx' %}{% for i in (1..16) %}{% assign m = m | append: m %}{% endfor %}{% assign n = m | slice: 0, 1048576 %}{{ n | replace: 'x', m | size }}",
        // `split: ''` of 64 MB: 64 million values.
        "{% assign m = 'xxxxxxxxxxxxxxxx' %}{% for i in (1..22) %}{% assign m = m | append: m %}{% endfor %}{{ m | split: '' | size }}",
        // `join` of many items with a huge separator.
        "{% assign m = 'xxxxxxxxxxxxxxxx' %}{% for i in (1..20) %}{% assign m = m | append: m %}{% endfor %}{% assign a = (1..100000) %}{{ a | join: m | size }}",
    ];
    for body in bodies {
        let rendered = render(&format!("before {body} after"));
        // Spent on the way (the render stops), or refused before it is made (the tag goes).
        let stopped = |p: &Problem| p.kind == ProblemKind::Limit || p.message.contains("larger than the limit");
        assert!(rendered.problems.iter().any(stopped), "{body}: {:?}", rendered.problems);
        // The text is kept without its Liquid.
        let output = &rendered.output;
        assert!(output.starts_with("before ") && output.ends_with(" after") && output.len() < 64, "{body}: {output}");
    }
    // Below the limit, the same shapes render.
    assert_eq!(
        clean("{% assign s = 'ab' %}{% for i in (1..10) %}{% assign s = s | append: s %}{% endfor %}{{ s | size }}"),
        "2048"
    );
    assert_eq!(clean("{{ 'a,b' | replace: ',', '--' }}"), "a--b");
}

/// `split` as Ruby's `String#split`: runs of whitespace for `" "`, characters for `""`, empty
/// strings at the end dropped (liquid-rust's own keeps them).
#[test]
fn split_as_ruby_splits() {
    let parts = |body: &str| clean(&format!("{{% assign p = {body} %}}{{{{ p | size }}}}:{{{{ p | join: '|' }}}}"));
    assert_eq!(parts("'a,b,,' | split: ','"), "2:a|b");
    assert_eq!(parts("',a,b' | split: ','"), "3:|a|b");
    assert_eq!(parts("'  a  b ' | split: ' '"), "2:a|b");
    assert_eq!(parts("'abc' | split: ''"), "3:a|b|c");
    assert_eq!(parts("'' | split: ','"), "0:");
    assert_eq!(parts("'a-b' | split: '-'"), "2:a|b");
}

/// A text with more tags than an engine may parse for one render is given without its Liquid; one
/// with many broken tags gets fewer attempts, so all of them together parse at most as many.
#[test]
fn parsing_is_bounded_by_the_tags_it_reads() {
    let limits = Limits { max_parsed_items: 10, ..Limits::default() };
    let rendered = render_in(&engine_with(&[], limits), &"a{{ 'b' }}".repeat(11));
    assert_eq!(rendered.output, "a".repeat(11));
    assert!(rendered.problems.iter().any(|p| p.kind == ProblemKind::Limit && p.message.contains("more than 10")));
    let limits = Limits { max_parsed_items: 10, ..Limits::default() };
    assert_eq!(render_in(&engine_with(&[], limits), &"a{{ 'b' }}".repeat(10)).output, "ab".repeat(10));

    // Five broken tags among five good ones: 10 tags, so 4 attempts of 40; the fifth broken
    // tag is one too many and the text is kept without its Liquid.
    let limits = Limits { max_parsed_items: 40, ..Limits::default() };
    let body = "{% assign = %}x{{ 'y' }}".repeat(5);
    let rendered = render_in(&engine_with(&[], limits), &body);
    assert_eq!(rendered.output, "x".repeat(5));
    assert!(rendered.problems.iter().any(|p| p.message.contains("too many Liquid errors")), "{:?}", rendered.problems);
    let limits = Limits { max_parsed_items: 100, ..Limits::default() };
    assert_eq!(render_in(&engine_with(&[], limits), &body).output, "xy".repeat(5), "10 attempts are enough");
}

/// Each output that fails to render costs a parse of the whole text (twice its items, with step
/// markers) to find and drop it: thousands of them would cost thousands of parses. Those
/// parses share one budget per render, includes' too; past it the text is kept without Liquid.
#[test]
fn failing_outputs_are_retried_within_a_budget_of_parsed_tags() {
    // One a line, so that each report is its own.
    let body = "{{ 1 | divided_by: 0 }}x\n".repeat(50);
    let left_out =
        |rendered: &Rendered| rendered.problems.iter().filter(|p| p.message.contains("it is left out")).count();
    // 50 items, 100 a retry: one retry finds the first culprit, four more drop four of them.
    let limits = Limits { max_reparsed_items: 500, ..Limits::default() };
    let rendered = render_in(&engine_with(&[], limits), &body);
    assert_eq!(rendered.output, "x\n".repeat(50));
    assert_eq!(left_out(&rendered), 4, "{:?}", rendered.problems);
    assert!(rendered.problems.iter().any(|p| p.message.contains("the text is kept without its Liquid")));
    // An include is retried from the same budget: its retries leave the post's none.
    let include = "{{ 1 | divided_by: 0 }}i\n".repeat(50);
    let limits = Limits { max_reparsed_items: 500, ..Limits::default() };
    let rendered = render_in(&engine_with(&[("x.html", &include)], limits), &format!("{{% include x.html %}}{body}"));
    assert_eq!(left_out(&rendered), 4, "{:?}", rendered.problems);
    // With room for every retry, every failing output is dropped on its own.
    let limits = Limits { max_reparsed_items: 100 * 60, ..Limits::default() };
    let rendered = render_in(&engine_with(&[], limits), &"{{ 1 | divided_by: 0 }}x{{ 'y' }}\n".repeat(10));
    assert_eq!(rendered.output, "xy\n".repeat(10), "{:?}", rendered.problems);
    assert_eq!(left_out(&rendered), 10, "{:?}", rendered.problems);
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let body = "{% if true %}".repeat(5000) + "x" + &"{% endif %}".repeat(5000);
    let rendered = render(&body);
    no_markup_left(&rendered.output);
    assert!(rendered.output.contains('x'));
    let brackets = format!("{{{{ a{}0{} }}}}", "[a".repeat(5000), "]".repeat(5000));
    no_markup_left(&render(&brackets).output);
}

#[test]
fn highlight_writes_rouges_markup() {
    assert_eq!(
        clean("{% highlight Ruby %}\ndef x\n  \"<a>\" & {{ 1 | plus: 1 }}\nend\n{% endhighlight %}"),
        "<figure class=\"highlight\"><pre><code class=\"language-ruby\" data-lang=\"ruby\">def x\n  \"&lt;a&gt;\" &amp; 2\nend</code></pre></figure>"
    );
    assert_eq!(
        clean("{% highlight c++ linenos %}\na\nb\n{% endhighlight %}"),
        "<figure class=\"highlight\"><pre><code class=\"language-c--\" data-lang=\"c++\"><table class=\"rouge-table\"><tbody><tr><td class=\"gutter gl\"><pre class=\"lineno\">1\n2\n</pre></td><td class=\"code\"><pre>a\nb\n</pre></td></tr></tbody></table></code></pre></figure>"
    );
}

#[test]
fn post_url_and_link_resolve_through_the_site_index() {
    assert_eq!(
        clean("{% post_url 2020-01-02-hello %} {% link about.md %}"),
        "/blog/2020/01/02/hello.html /blog/about/"
    );
    let rendered = render("[{% post_url 2000-01-01-missing %}]");
    assert_eq!(rendered.output, "[]");
    assert_eq!(rendered.problems[0].kind, ProblemKind::Link);
}

#[test]
fn site_posts_are_asked_for_only_when_used() {
    assert_eq!(clean("{% for p in site.posts %}{{ p.title }}{% endfor %}"), "First");
}

#[test]
fn jekyll_filters() {
    assert_eq!(clean("{{ 'x' | relative_url }} {{ '/x' | absolute_url }}"), "/blog/x https://ex.org/blog/x");
    assert_eq!(
        clean("{{ '2020-01-05 10:00:00 +0100' | date_to_string }}|{{ '2020-01-05' | date_to_long_string: 'ordinal', 'US' }}|{{ '2020-01-05' | date_to_xmlschema }}|{{ '2020-01-05' | date_to_rfc822 }}"),
        "05 Jan 2020|January 5th, 2020|2020-01-05T00:00:00+00:00|Sun, 05 Jan 2020 00:00:00 +0000"
    );
    assert_eq!(clean("{{ '2021-03-04 05:06:07 +0800' | date: '%Y/%m/%d %H:%M %b' }}"), "2021/03/04 05:06 Mar");
    // Texts Ruby's Time.parse reads (checked with `jekyll build`, site zone UTC).
    assert_eq!(
        clean("{{ 'Sept 30, 2019 at 7:15 am' | date: '%Y-%m-%d %H:%M' }}|{{ '2016-03-21 12:00 EDT' | date_to_xmlschema }}"),
        "2019-09-30 07:15|2016-03-21T16:00:00+00:00"
    );
    assert_eq!(clean("{{ 'a < b & \"c\"' | xml_escape }}"), "a &lt; b &amp; &quot;c&quot;");
    assert_eq!(clean("{{ 'a b/c' | cgi_escape }} {{ 'a b/é' | uri_escape }}"), "a+b%2Fc a%20b/%C3%A9");
    assert_eq!(clean("{{ 'Hello World!' | slugify }}"), "hello-world");
    assert_eq!(clean("{{ '*x*' | markdownify }} {{ 'a -- b' | smartify }}"), "<p>*x*</p> a – b");
    assert_eq!(clean("{{ page.tags | jsonify }}"), "[\"a\",\"b\"]");
    assert_eq!(clean("{{ page.tags | array_to_sentence_string }}|{{ 'a b  c' | number_of_words }}|{{ ' a \n b ' | normalize_whitespace }}"), "a and b|3|a b");
    assert_eq!(clean("{{ page.tags | inspect }}"), "[&quot;a&quot;, &quot;b&quot;]");
}

#[test]
fn where_group_by_and_sort_over_data() {
    let engine = engine(&[]);
    let mut page = page();
    let people: Vec<Value> = [("Ann", "ed", Some(3)), ("Bo", "dev", None), ("Cy", "ed", Some(1))]
        .iter()
        .map(|(name, role, rank)| {
            let mut o = Object::new();
            o.insert("name".into(), Value::scalar(*name));
            o.insert("role".into(), Value::scalar(*role));
            if let Some(rank) = rank {
                o.insert("rank".into(), Value::scalar(*rank as i64));
            }
            Value::Object(o)
        })
        .collect();
    page.insert("people".into(), Value::Array(people));
    let body = "{{ page.people | where: 'role', 'ed' | map: 'name' | join: ',' }}|\
                {{ page.people | where_exp: 'p', 'p.rank > 2' | map: 'name' | join: ',' }}|\
                {% assign g = page.people | group_by: 'role' %}{% for x in g %}{{ x.name }}={{ x.size }};{% endfor %}|\
                {{ page.people | sort: 'rank' | map: 'name' | join: ',' }}|\
                {{ page.people | sort: 'rank', 'last' | map: 'name' | join: ',' }}|\
                {% assign f = page.people | find: 'name', 'Bo' %}{{ f.role }}|\
                {% assign e = page.people | group_by_exp: 'p', 'p.name | size' %}{{ e | map: 'name' | join: ',' }}";
    let rendered = engine.render(&Entry { path: "p.html", body, body_line: 1, page });
    assert!(rendered.problems.is_empty(), "{:?}", rendered.problems);
    assert_eq!(rendered.output, "Ann,Cy|Ann|ed=2;dev=1;|Bo,Cy,Ann|Cy,Ann,Bo|dev|3,2");
}

#[test]
fn renders_liquid_follows_render_with_liquid() {
    assert!(renders_liquid(None));
    assert!(renders_liquid(Some(&serde_yaml::Value::Bool(true))));
    assert!(!renders_liquid(Some(&serde_yaml::Value::Bool(false))));
}

#[test]
fn problems_say_path_and_line() {
    let p = Problem {
        path: "_posts/x.md".into(),
        line: 7,
        kind: ProblemKind::UnknownTag,
        message: "unknown tag `x` is left out".into(),
    };
    assert_eq!(p.to_string(), "_posts/x.md:7: unknown tag `x` is left out");
}

mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn liquidish() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            Just("{{".to_string()),
            Just("}}".to_string()),
            Just("{%".to_string()),
            Just("%}".to_string()),
            Just("{%-".to_string()),
            Just("-%}".to_string()),
            Just(" if ".to_string()),
            Just(" endif ".to_string()),
            Just(" for x in (1..3) ".to_string()),
            Just(" endfor ".to_string()),
            Just(" include a.html k=v ".to_string()),
            Just(" highlight ".to_string()),
            Just(" endhighlight ".to_string()),
            Just(" raw ".to_string()),
            Just(" endraw ".to_string()),
            Just(" comment ".to_string()),
            Just("|".to_string()),
            Just(" page.title ".to_string()),
            Just("\"".to_string()),
            Just("\n".to_string()),
            "[a-z .=:'\\[\\]()-]{0,6}",
            any::<String>().prop_map(|s| s.chars().take(4).collect()),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|v| v.concat())
    }

    /// Templates built from every kind of piece: standard tags and outputs, postfeed's blocks,
    /// Jekyll's tags, liquid-rust's own blocks, and pieces that fail to parse or to render.
    fn template() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            "[a-z \n]{1,8}",
            Just("{{ page.title | upcase }}".to_string()),
            Just("{{ x | plus: 1 }}".to_string()),
            Just("{{ 'a' | append: x }}".to_string()),
            Just("{{ forloop.index }}/{{ forloop.length }}".to_string()),
            Just("{% assign x = 3 %}".to_string()),
            Just("{%- assign y = page.tags | join: ',' -%}".to_string()),
            Just("{% increment c %}".to_string()),
            Just("{% cycle 'a', 'b' %}".to_string()),
            Just("{% break %}".to_string()),
            Just("{% continue %}".to_string()),
            Just("{{ x | no_such_filter }}".to_string()),
            Just("{{ #each x }}".to_string()),
            Just("{{ x | plus: }}".to_string()),
            Just("{{ 1 | divided_by: 0 }}".to_string()),
            Just("{% include a.html k=page.title %}".to_string()),
            Just("{% include missing.html %}".to_string()),
            Just("{% post_url 2020-01-02-hello %}".to_string()),
            Just("{% link about.md %}".to_string()),
            Just("{% raw %}{{ x }}{% endraw %}".to_string()),
            Just("{% youtube abc %}".to_string()),
            Just("{% endif %}".to_string()),
            Just("{% else %}".to_string()),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            let body = proptest::collection::vec(inner, 0..4).prop_map(|v| v.concat());
            prop_oneof![
                body.clone().prop_map(|b| format!("{{% if x > 1 %}}{b}{{% elsif y %}}B{{% else %}}C{b}{{% endif %}}")),
                body.clone().prop_map(|b| format!("{{% unless x %}}{b}{{% endunless %}}")),
                body.clone().prop_map(|b| format!("{{% for i in (1..3) %}}{b}{{% else %}}E{{% endfor %}}")),
                body.clone().prop_map(|b| format!("{{% for t in page.tags reversed limit:2 %}}{b}{{% endfor %}}")),
                body.clone()
                    .prop_map(|b| format!("{{% case x %}}{b}{{% when 1, 3 %}}W{b}{{% else %}}{b}{{% endcase %}}")),
                body.clone().prop_map(|b| format!("{{% highlight ruby %}}{b}{{% endhighlight %}}")),
                body.clone().prop_map(|b| format!("{{% capture c %}}{b}{{% endcapture %}}[{{{{ c }}}}]")),
                body.clone().prop_map(|b| format!("{{% tablerow i in (1..2) %}}{b}{{% endtablerow %}}")),
                body.clone().prop_map(|b| format!("{{% figure %}}{b}{{% endfigure %}}")),
                body.prop_map(|b| format!("{{% if x %}}{b}")),
            ]
        })
        .prop_map(|pieces| pieces.to_string())
    }

    /// Renders `body` with the whole text given to liquid-rust's parser, as before templates
    /// were assembled, in an engine of its own (includes are kept per engine).
    fn render_parsed(body: &str) -> Rendered {
        let engine = engine(&[("a.html", "A{{ include.k | downcase }}{% if include.k %}!{% endif %}")]);
        super::super::assemble::PARSE_WHOLE_TEXT.set(true);
        let rendered = render_in(&engine, body);
        super::super::assemble::PARSE_WHOLE_TEXT.set(false);
        rendered
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]
        #[test]
        fn assembled_templates_render_as_parsed_ones(body in template()) {
            let engine = engine(&[("a.html", "A{{ include.k | downcase }}{% if include.k %}!{% endif %}")]);
            let assembled = render_in(&engine, &body);
            prop_assert_eq!(assembled, render_parsed(&body), "{:?}", body);
        }

        #[test]
        fn assembled_broken_templates_render_as_parsed_ones(body in liquidish()) {
            let engine = engine(&[("a.html", "A{{ include.k | downcase }}{% if include.k %}!{% endif %}")]);
            let assembled = render_in(&engine, &body);
            prop_assert_eq!(assembled, render_parsed(&body), "{:?}", body);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]
        #[test]
        fn any_string_of_delimiters_renders_without_markup_left(body in "[{}%\\-a-z =|:.()\\[\\]\n日]{0,80}") {
            let rendered = render(&body);
            prop_assert!(!rendered.output.contains("{{") && !rendered.output.contains("{%") || body.contains("raw"), "{:?} -> {:?}", body, rendered.output);
        }

        #[test]
        fn any_text_renders_without_panic_or_markup_left(body in liquidish()) {
            let engine = engine(&[("a.html", "A{{ include.k }}{% include a.html %}")]);
            let rendered = render_in(&engine, &body);
            let shows_on_purpose = body.contains("raw") || body.contains('\'') || body.contains('"');
            prop_assert!(!rendered.output.contains("{{") || shows_on_purpose, "{:?} -> {:?}", body, rendered.output);
            prop_assert!(!rendered.output.contains("{%") || shows_on_purpose, "{:?} -> {:?}", body, rendered.output);
        }
    }
}
#[test]
fn templates_are_assembled_without_parsing_the_whole_text_unless_liquid_rust_must_build_them() {
    use std::collections::HashSet;
    let engine = engine(&[]);
    let assembled = |body: &str| {
        let prepared = prepare::Prepared::new(Arc::from(body), 1, &engine.language, &engine.shared.limits);
        assemble::assemble(&prepared, &HashSet::new(), false, false, &engine.language, &engine.shared).is_some()
    };
    let ours = "{% for i in (1..2) %}{% if i > 1 %}{{ i | plus: 1 }}{% elsif x %}{% else %}{% assign x = 1 %}{% endif %}\
                {% else %}{% endfor %}{% case x %}{% when 1 %}a{% else %}b{% endcase %}{% unless x %}{% cycle 'a' %}{% endunless %}\
                {% highlight ruby %}puts 1{% endhighlight %}{% include a.html k=1 %}{% link about.md %}{% raw %}{{ }}{% endraw %}\
                {% figure %}body{% endfigure %}";
    assert!(assembled(ours));
    assert!(!assembled("{% capture c %}x{% endcapture %}"));
    assert!(!assembled("{% tablerow i in (1..2) %}x{% endtablerow %}"));
    assert!(!assembled("{{ x | plus: }}"));
}

#[test]
fn standard_filters_forgive_nil_and_text_as_ruby_liquid_does() {
    assert_eq!(clean("[{{ nothing | plus: 3 }}][{{ 'abc' | times: 2 }}][{{ nothing | first }}][{{ nothing | size }}][{{ nothing | join: ',' }}][{{ nothing | upcase }}][{{ nothing | append: 'x' }}]"), "[3][0][][0][][][x]");
    assert_eq!(clean("{% assign r = site.data.none | where: 'a', 'b' | first %}[{{ r.version }}]"), "[]");
}

#[test]
fn one_engine_renders_on_many_threads_at_once() {
    use rayon::prelude::*;
    fn shared<T: Send + Sync>(_: &T) {}
    let engine = engine(&[("n.html", "<{{ include.n }}>")]);
    shared(&engine);
    let outputs: Vec<String> = (0..200)
        .into_par_iter()
        .map(|n| render_in(&engine, &format!("{{% include n.html n={n} %}}{{{{ page.title }}}}")).output)
        .collect();
    for (n, output) in outputs.iter().enumerate() {
        assert_eq!(output, &format!("<{n}>Hello"));
    }
    assert_eq!(engine.cached_includes(), 1);
}

#[test]
fn values_show_as_ruby_shows_them() {
    assert_eq!(clean("{{ 3.0 }} {% assign f = 2.50 %}{{ f }} {{ 10 | divided_by: 4.0 }} {{ 0.1 | plus: 0.2 }} {{ -7 | divided_by: 2 }} {{ '日本語' | size }}"), "3.0 2.5 2.5 0.3 -4 3");
}

#[test]
fn a_syntax_error_names_the_markup_as_the_author_wrote_it() {
    let rendered = render("A {{#if x}} b {{/if}}");
    no_markup_left(&rendered.output);
    assert!(!rendered.problems.is_empty());
    for problem in &rendered.problems {
        assert!(!problem.message.contains(prepare::SHOW), "{}", problem.message);
    }
    assert!(rendered.problems[0].message.starts_with("`{{ #if x }}`: "), "{}", rendered.problems[0].message);
    // Outputs Jekyll's lax parsing prints as nothing are told apart from broken tags.
    assert!(rendered.problems.iter().all(|p| p.kind == ProblemKind::OutputSyntax), "{:?}", rendered.problems);
    let tag = render("A {% assign = %}b");
    assert!(tag.problems.iter().any(|p| p.kind == ProblemKind::Syntax), "{:?}", tag.problems);
}

#[test]
fn variables_named_after_keywords_are_ordinary_variables() {
    // liquid-rust reads `nil_count` as `nil` and `_count`; Ruby Liquid reads one name.
    assert_eq!(clean("{% assign empty_msg = \"m\" %}{{ empty_msg }}|{{ nil_count }}|{% assign nil_count = 3 %}{{ nil_count | plus: 1 }}"), "m||4");
    assert_eq!(clean("{% assign false_alarm = false %}[{% if false_alarm %}SECRET{% endif %}][{% if null_x %}SECRET{% else %}shown{% endif %}]"), "[][shown]");
    assert_eq!(
        clean("{% for true_x in page.tags %}{{ true_x }}{{ forloop.name | slice: 0, 6 }};{% endfor %}"),
        "atrue_x;btrue_x;"
    );
    assert_eq!(clean("{% capture blank_slate %}B{% endcapture %}{{ blank_slate }}{% assign t = page.tags | where_exp: 'nil_t', 'nil_t == \"b\"' %}{{ t }}"), "Bb");
    assert_eq!(clean("{% assign nil_x = 'k' %}{{ site.data.authors[page.author].name }}{{ page.nil_x }}{{ 'nil_x' | append: nil_x }}"), "Alicenil_xk");
    let mut page = page();
    page.insert("nil_x".into(), Value::scalar("P"));
    page.insert("empty_list".into(), Value::Array(Vec::new()));
    let rendered = engine(&[]).render(&Entry {
        path: "_posts/2020-01-02-hello.md",
        body: "{{ page.nil_x }}{{ page.empty_list | size }}{{ page['nil_x'] }}",
        body_line: 4,
        page,
    });
    assert_eq!((rendered.output.as_str(), rendered.problems.len()), ("P0P", 0));
}

#[test]
fn includes_share_the_renamed_variables() {
    let engine = engine(&[
        ("a.html", "{{ include.p }}/{{ nil_v }}{% assign blank_z = 'z' %}"),
        ("true-{{ nil_v }}.html", "dyn"),
        ("true-1.html", "dyn1"),
    ]);
    let rendered = render_in(
        &engine,
        "{% assign nil_v = 1 %}{% include a.html p=nil_v %}|{{ blank_z }}|{% include true-{{ nil_v }}.html %}",
    );
    assert!(rendered.problems.is_empty(), "{:?}", rendered.problems);
    assert_eq!(rendered.output, "1/1|z|dyn1");
}

#[test]
fn messages_name_variables_as_the_author_wrote_them() {
    let rendered = render("{{ nil_x[ }}");
    assert_eq!(rendered.problems.len(), 1, "{:?}", rendered.problems);
    assert!(rendered.problems[0].message.starts_with("`{{ nil_x[ }}`"), "{}", rendered.problems[0].message);
}

#[test]
fn conditions_compare_as_ruby_does() {
    // `nil == false` is false in Ruby (true in liquid-rust); so is every equality across kinds.
    assert_eq!(
        clean("[{% if page.comments == false %}A{% endif %}][{% unless page.toc == false %}B{% endunless %}][{% if page.x != false %}C{% endif %}][{% if false == nil %}D{% endif %}][{% if page.x == nil %}E{% endif %}]"),
        "[][B][C][][E]"
    );
    assert_eq!(
        clean("[{% if '1' == 1 %}A{% endif %}][{% if page.title == true %}B{% endif %}][{% if 1 == 1.0 %}C{% endif %}][{% if page.tags == page.tags %}D{% endif %}]"),
        "[][][C][D]"
    );
    // `empty` asks the other side `empty?`; nil has no such method, and nothing has `blank?` in Jekyll.
    assert_eq!(
        clean("[{% if page.x == empty %}A{% endif %}][{% if '' == empty %}B{% endif %}][{% if '' == blank %}C{% endif %}][{% if empty %}D{% endif %}][{% assign e = '' | split: ',' %}{% if e == empty %}E{% endif %}]"),
        "[][B][][D][E]"
    );
    // `and` and `or` group from the right, with no precedence.
    assert_eq!(
        clean("[{% if false and true or true %}A{% endif %}][{% if true or false and false %}B{% endif %}]"),
        "[][B]"
    );
    assert_eq!(
        clean("[{% if page.tags contains 'a' %}A{% endif %}][{% if page.title contains 'ell' %}B{% endif %}][{% if page.x contains 'a' %}C{% endif %}][{% if (1..3) contains 2 %}D{% endif %}][{% if 2 > 1.5 and 'b' > 'a' %}E{% endif %}]"),
        "[A][B][][D][E]"
    );
    assert_eq!(clean("{% unless page.x %}u{% elsif true %}no{% endunless %}{% unless true %}no{% elsif page.title %}e{% else %}no{% endunless %}"), "ue");
    assert_eq!(clean("{% if false %}a{% elsif page.nothing %}b{% else if page.title %}c{% endif %}"), "c");
    // Branches after an `else` are never reached.
    assert_eq!(clean("{% if false %}a{% else %}b{% elsif true %}c{% else %}d{% endif %}"), "b");
}

#[test]
fn where_exp_compares_as_ruby_does() {
    assert_eq!(
        clean("{{ site.data.authors | where_exp: 'a', 'a.active == false' | size }}{{ site.data.authors | where_exp: 'a', 'a.active != true' | size }}{{ page.tags | find_exp: 't', 't == \"b\" or t == \"c\"' }}"),
        "01b"
    );
}

#[test]
fn a_comparison_ruby_refuses_is_an_error() {
    let rendered = render("a{% if 1 < '2' %}b{% endif %}c");
    assert_eq!(rendered.output, "ac");
    assert_eq!(rendered.problems.len(), 1, "{:?}", rendered.problems);
    assert!(
        rendered.problems[0].message.contains("comparison of Integer with String failed"),
        "{:?}",
        rendered.problems
    );
    assert!(rendered.problems[0].message.starts_with("`{% if 1 < '2' %}`"), "{:?}", rendered.problems);
}

#[test]
fn integers_past_64_bits_are_read_as_floats_not_a_panic() {
    // Ruby keeps them exact; liquid-rust's parser panicked on them. As floats, the sum prints as Jekyll's.
    assert_eq!(
        clean("{{ 9999999999999999999 | plus: 1 }}|{% assign big = -99999999999999999999 %}{% if big < 5 %}lt{% endif %}|{{ 9223372036854775807 }}"),
        "10000000000000000000|lt|9223372036854775807"
    );
}

#[test]
fn sample_map_and_default_follow_jekyll() {
    // `sample` is random in Jekyll; postfeed takes the first items.
    assert_eq!(clean("{{ page.tags | sample }}|{{ page.tags | sample: 2 | join: ',' }}|{{ 'abc' | sample }}|{{ page.nothing | sample }}"), "a|a,b|abc|");
    // `map` of one hash maps a list of one; items without the property give nil, which is kept.
    assert_eq!(
        clean("{{ site.data.authors.alice | map: 'name' }}|{{ site.data.authors | find: 'name', 'Alice' | map: 'name' }}|{{ page.nothing | map: 'x' | size }}|{{ 'Ann' | map: 'n' }}|{{ page.tags | map: 'x' | size }}"),
        "Alice|Alice|0|n|2"
    );
    // Liquid 5's `allow_false` keeps false; nil and "" still get the default.
    assert_eq!(
        clean("{{ 'a' | default: 'b', allow_false: true }}|{{ false | default: 'b', allow_false: true }}|{{ nil | default: 'b', allow_false: true }}|{{ '' | default: 'b', allow_false: true }}|{{ false | default: 'b' }}|{{ nil | default }}."),
        "a|false|b|b|b|."
    );
}

#[test]
fn conditions_the_strict_parser_refuses_read_as_jekyll_reads_them() {
    let mut page = page();
    page.insert("t".into(), Value::scalar(true));
    page.insert("f".into(), Value::scalar(false));
    let body = "[{% if !page.t %}A{% endif %}|{% if !page.f %}B{% endif %}|{% if page.t && page.f %}C{% endif %}|{% if page.f || page.t %}D{% endif %}|{% if (page.t) %}E{% endif %}|{% if page.t; %}F{% endif %}|{% if (page.f or page.t) %}G{% endif %}|{% if page.f %}x{% elsif !page.t %}H{% else %}I{% endif %}]";
    let rendered = engine(&[]).render(&Entry { path: "_posts/2020-01-02-hello.md", body, body_line: 4, page });
    assert!(rendered.problems.is_empty(), "{:?}", rendered.problems);
    assert_eq!(rendered.output, "[A||C||E|F|G|H]");
}

#[test]
fn an_if_whose_condition_cannot_be_used_goes_with_its_content() {
    // Jekyll refuses to build these; postfeed leaves the block out, never shows a hidden branch.
    for body in [
        "a{% if %}SECRET{% else %}ELSE{% endif %}b",
        "a{% if x and %}SECRET{% endif %}b",
        "a{% if false %}x{% elsif , %}SECRET{% else %}ELSE{% endif %}b",
        "a{% unless %}SECRET{% endunless %}b",
        "a{% if x = 1 %}SECRET{% else %}ELSE{% endif %}b",
        "a{% if 1 < 'x' %}SECRET{% else %}ELSE{% endif %}b",
        "a{% if page.title %}{% if page.x == 1 or 2 > 'b' %}SECRET{% endif %}{% endif %}b",
    ] {
        let rendered = render(body);
        assert_eq!(rendered.output, "ab", "{body}");
        assert_eq!(rendered.problems.len(), 1, "{body}: {:?}", rendered.problems);
        assert!(
            rendered.problems[0].message.ends_with("the block is left out, with its content"),
            "{:?}",
            rendered.problems
        );
    }
    // The rest renders, an if after it included.
    assert_eq!(render("{% if %}x{% endif %}{{ page.title }}{% if true %}y{% endif %}").output, "Helloy");
    // As in Ruby, an operator is only a problem when it is reached.
    assert_eq!(clean("{% if true or x = 1 %}ok{% endif %}"), "ok");
}

#[test]
fn an_output_liquid_cannot_read_in_a_loop_is_reported_once_at_its_markup() {
    // liquid-rust placed this error on the text before the output, which was reported without markup.
    let rendered = render("{% for b in page.tags %}[{{ b[\"书名\"] }}] [{{ b.书名 }}] {% endfor %}");
    assert_eq!(rendered.output, "[] [] [] [] ");
    assert_eq!(rendered.problems.len(), 1, "{:?}", rendered.problems);
    assert_eq!(rendered.problems[0].kind, ProblemKind::OutputSyntax);
    assert!(rendered.problems[0].message.starts_with("`{{ b.书名 }}`"), "{:?}", rendered.problems);
}

#[test]
fn case_renders_every_when_that_matches_as_ruby_does() {
    // Each matching value renders its body again; `else` only when no `when` before it matched.
    assert_eq!(clean("{% case 'b' %}{% when 'a' %}1{% when 'b' %}2{% when 'b' %}3{% else %}E{% endcase %}"), "23");
    assert_eq!(
        clean("{% case 2 %}{% when 1, 2 %}x{% when 2 or 3 %}y{% when 2 3 %}z{% when 3 2 %}w{% endcase %}"),
        "xyz"
    );
    assert_eq!(clean("{% case 'b' %}{% when 'b', 'b' %}m{% endcase %}"), "mm");
    assert_eq!(clean("{% case 'b' %}{% when 'b' %}1{% else %}E{% when 'b' %}2{% endcase %}"), "12");
    assert_eq!(clean("{% case 'q' %}skipped{% when 'a' %}a{% else %}E{% endcase %}"), "E");
    // Compared as Ruby compares: `nil` is neither `false` nor `empty`, `"1"` is not `1`.
    assert_eq!(clean("{% case page.none %}{% when false %}f{% when empty %}e{% when nil %}n{% endcase %}"), "n");
    assert_eq!(clean("{% case 1 %}{% when '1' %}s{% when 1.0 %}f{% endcase %}"), "f");
    assert_eq!(clean("{% case page.none %}{% when blank %}b{% else %}E{% endcase %}"), "E");
    assert_eq!(clean("{% case '' %}{% when empty %}e{% endcase %}"), "e");
    assert_eq!(clean("{% case page.title | upcase %}{% when 'Hello' %}h{% endcase %}"), "h");
    let rendered = render("a{% case %}{% when 1 %}x{% endcase %}b{% case 1 %}{% when %}y{% endcase %}c");
    assert_eq!(rendered.output, "abc");
    assert_eq!(rendered.problems.len(), 2, "{:?}", rendered.problems);
}

#[test]
fn truncate_and_truncatewords_count_as_ruby_liquid_does() {
    // Characters, not bytes: a short CJK title is kept whole, and `…` takes one place.
    assert_eq!(
        clean("{{ '荆州日报新闻' | truncate: 10 }}|{{ 'alpha beta gamma' | truncate: 10, '…' }}"),
        "荆州日报新闻|alpha bet…"
    );
    assert_eq!(
        clean("{{ 'abcdef' | truncate: 2 }}|{{ 'abcdef' | truncate: 4, '' }}|{{ 'abc' | truncate: 3 }}"),
        "...|abcd|abc"
    );
    // Words are split at any whitespace, newlines too; 15 of them by default.
    assert_eq!(
        clean("{{ 'one\ntwo  three four' | truncatewords: 2 }}|{{ 'a b' | truncatewords: 0, '+' }}"),
        "one two...|a+"
    );
    assert_eq!(clean("{{ 'a b c d e f g h i j k l m n o p' | truncatewords }}"), "a b c d e f g h i j k l m n o...");
    assert_eq!(clean("{{ ' x  y ' | truncatewords: 2 }}|{{ nothing | truncate: 2 }}"), " x  y |");
}

#[test]
fn filters_read_their_input_as_ruby_does() {
    // `reverse` of a string is the string; `size` of an integer is 8 (bytes).
    assert_eq!(clean("{{ 'abc' | reverse }}|{{ page.tags | reverse | join: ',' }}|{{ 5 | size }}|{{ 5.5 | size }}{{ true | size }}"), "abc|b,a|8|00");
    // A string of digits is seconds since 1970.
    assert_eq!(clean("{{ '1700000000' | date: '%F' }}|{{ 1700000000 | date: '%F' }}"), "2023-11-14|2023-11-14");
    // A hash sorts into its [key, value] pairs.
    assert_eq!(
        clean("{% assign s = site.data.authors | sort %}{% for p in s %}{{ p[0] }}={{ p[1].name }}{% endfor %}"),
        "alice=Alice"
    );
}

/// Posts with tags and categories, newest first.
struct TaggedIndex;

impl SiteIndex for TaggedIndex {
    fn post_url(&self, _name: &str) -> Option<String> {
        None
    }
    fn link(&self, _path: &str) -> Option<String> {
        None
    }
    fn posts(&self) -> Vec<Value> {
        let post = |title: &str, tags: &[&str], categories: &[&str]| {
            let list = |items: &[&str]| Value::Array(items.iter().map(|s| Value::scalar(s.to_string())).collect());
            let mut post = Object::new();
            post.insert("title".into(), Value::scalar(title.to_owned()));
            post.insert("tags".into(), list(tags));
            post.insert("categories".into(), list(categories));
            Value::Object(post)
        };
        vec![post("New", &["rust", "web"], &["news"]), post("Old", &["rust"], &[])]
    }
}

#[test]
fn site_tags_and_categories_list_the_posts_of_each_name_newest_first() {
    let mut site = SiteContext::empty("https://ex.org", "");
    site.index = Arc::new(TaggedIndex);
    let engine = Engine::new(site);
    let body = "{{ site.tags.rust | map: 'title' | join: ',' }}|{{ site.tags['web'].size }}|\
                {{ site.categories.news.first.title }}|{% assign tags = site.tags | sort %}\
                {% for t in tags %}{{ t[0] }}:{{ t[1] | size }} {% endfor %}|{{ site.tags.none | size }}";
    let rendered = render_in(&engine, body);
    assert!(rendered.problems.is_empty(), "{:?}", rendered.problems);
    assert_eq!(rendered.output, "New,Old|1|New|rust:2 web:1 |0");
    assert!(rendered.reads_posts);
}

#[test]
fn capture_takes_the_first_name_in_its_markup_as_ruby_does() {
    // Ruby's capture reads the first run of name characters: `/dev/null` captures into `dev`.
    assert_eq!(clean("a{% capture /dev/null %}hidden{% endcapture %}b[{{ dev }}]"), "ab[hidden]");
    assert_eq!(clean("{% capture  (x) %}1{% endcapture %}[{{ x }}]"), "[]");
    // A name liquid-rust cannot hold is still captured, out of sight.
    assert_eq!(clean("{% capture a.b %}2{% endcapture %}[{{ a.b }}]"), "[]");
}

#[test]
fn a_dot_before_a_bracket_is_ignored_as_in_ruby_lookups() {
    let e = engine(&[("q.md", "{% assign k = 'q1' %}[{{ include.[k] }}|{{ include.[k] | upcase }}]{% if include.[k] == 'yes' %}!{% endif %}{% assign v = include.[k] %}{{ v }}")]);
    let rendered = render_in(&e, "{% include q.md q1='yes' %}");
    assert!(rendered.problems.is_empty(), "{:?}", rendered.problems);
    assert_eq!(rendered.output, "[yes|YES]!yes");
}

#[test]
fn hashes_print_as_ruby_inspects_them() {
    let mut site = SiteContext::empty("https://ex.org", "");
    let mut h = Object::new();
    h.insert("k".into(), Value::scalar("v \"q\""));
    h.insert("n".into(), Value::scalar(1));
    h.insert("f".into(), Value::scalar(2.0));
    h.insert("z".into(), Value::Nil);
    h.insert("l".into(), Value::Array(vec![Value::scalar(1), Value::scalar("x")]));
    h.insert("b".into(), Value::scalar(true));
    let mut inner = Object::new();
    inner.insert("x".into(), Value::scalar(1));
    site.data.insert("h".into(), Value::Object(h));
    let list = vec![
        Value::Object(inner),
        Value::Array(vec![Value::scalar(2), Value::Array(vec![Value::scalar(3.0), Value::scalar(4)])]),
        Value::Nil,
        Value::scalar("s"),
    ];
    site.data.insert("a".into(), Value::Array(list));
    let e = Engine::new(site);
    let rendered = render_in(
        &e,
        "{{ site.data.h }}|{{ site.data.a }}|{{ site.data.a | join: '-' }}|{{ site.data.h | join: ',' }}",
    );
    assert!(rendered.problems.is_empty(), "{:?}", rendered.problems);
    // Keys in sorted order (see README); Jekyll keeps the file's order.
    assert_eq!(
        rendered.output,
        r#"{"b"=>true, "f"=>2.0, "k"=>"v \"q\"", "l"=>[1, "x"], "n"=>1, "z"=>nil}|{"x"=>1}23.04s|{"x"=>1}-2-3.0-4--s|{"b"=>true, "f"=>2.0, "k"=>"v \"q\"", "l"=>[1, "x"], "n"=>1, "z"=>nil}"#
    );
}

#[test]
fn tablerowloop_is_the_tablerow_loop_as_in_ruby() {
    let body = "{% tablerow t in (1..4) cols:2 %}{{ tablerowloop.index }}/{{ tablerowloop.col }}/{{ tablerowloop.col_last }}/\
                {{ tablerowloop.length }}/{{ tablerowloop.rindex0 }}/{{ tablerowloop.row }}{% if tablerowloop.first %}F{% endif %}\
                {% endtablerow %}|{{ tablerowloop.index }}";
    // As Ruby Liquid 5.4 writes it, newlines included.
    assert_eq!(
        clean(body),
        "<tr class=\"row1\">\n<td class=\"col1\">1/1/false/4/3/1F</td><td class=\"col2\">2/2/true/4/2/1</td></tr>\n\
         <tr class=\"row2\"><td class=\"col1\">3/1/false/4/1/2</td><td class=\"col2\">4/2/true/4/0/2</td></tr>\n|"
    );
}

#[test]
fn tablerow_slices_and_fills_rows_as_ruby_liquid_does() {
    let body = "{% assign list = '1,2,3,4,5,6' | split: ',' %}\
                {% tablerow x in list cols:4 limit:5 offset:1 %}{{ x }}{{ tablerowloop.col_last }}{% endtablerow %}|\
                {% tablerow x in nothing %}{{ x }}{% endtablerow %}|\
                {% tablerow x in list limit:0 %}{{ x }}{% endtablerow %}|\
                {% tablerow x in list %}{{ tablerowloop.col }}{{ tablerowloop.col_last }}{% endtablerow %}|\
                {% tablerow x in 'ab' %}{{ x }}{% endtablerow %}|\
                {% tablerow i in (1..3) cols:2 %}{{ i }}{% endtablerow %}";
    // Each as Ruby Liquid 5.4 renders it: without `cols` every item is in the first row, and the
    // last item of a row that is not full is not `col_last`.
    assert_eq!(
        clean(body),
        "<tr class=\"row1\">\n<td class=\"col1\">2false</td><td class=\"col2\">3false</td><td class=\"col3\">4false</td>\
         <td class=\"col4\">5true</td></tr>\n<tr class=\"row2\"><td class=\"col1\">6false</td></tr>\n\
         ||<tr class=\"row1\">\n</tr>\n\
         |<tr class=\"row1\">\n<td class=\"col1\">1false</td><td class=\"col2\">2false</td><td class=\"col3\">3false</td>\
         <td class=\"col4\">4false</td><td class=\"col5\">5false</td><td class=\"col6\">6false</td></tr>\n\
         |<tr class=\"row1\">\n<td class=\"col1\">ab</td></tr>\n\
         |<tr class=\"row1\">\n<td class=\"col1\">1</td><td class=\"col2\">2</td></tr>\n<tr class=\"row2\"><td class=\"col1\">3</td></tr>\n"
    );
}

#[test]
fn offset_continue_goes_on_where_the_last_loop_of_that_name_stopped() {
    // Each result as Ruby Liquid 5.4 renders it, which keeps the offsets per render in
    // `registers[:for]` under `var-collection`, shared with includes.
    let body = "{% assign list = '1,2,3,4,5,6' | split: ',' %}\
                {% for x in list limit: 2 %}{{ x }}{% endfor %}|\
                {% for x in list limit: 2 offset: continue %}{{ x }}{% break %}{% endfor %}|\
                {% for y in list offset: continue %}{{ y }}{% endfor %}|\
                {% for x in list offset: 1 limit: 1 %}{{ x }}{% endfor %}|\
                {% for x in list offset:continue limit:1 %}{{ x }}{{ forloop.name }}{% endfor %}|\
                {% for x in list reversed limit:1 offset: continue %}{{ x }}{% endfor %}|\
                {% include rest.html %}|\
                {% for x in list offset: continue %}{{ x }}{% else %}E{% endfor %}|\
                {% for i in ( 1 .. 3 ) limit:1 %}{{ i }}{% endfor %}{% for i in (1..3) offset:continue %}{{ i }}{{ forloop.name }}{% endfor %}";
    let rendered =
        render_in(&engine(&[("rest.html", "{% for x in list offset: continue %}{{ x }}{% endfor %}")]), body);
    assert!(rendered.problems.is_empty(), "{:?}", rendered.problems);
    assert_eq!(rendered.output, "12|3|123456|2|3x-list|4|56|E|12i-(1..3)3i-(1..3)");
}

#[test]
fn date_formats_as_ruby_strftime_with_the_zone_name_for_percent_z() {
    let mut site = SiteContext::empty("https://ex.org", "");
    site.timezone = Some(chrono_tz::Asia::Shanghai);
    let engine = Engine::new(site);
    let mut page = page();
    let date = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00+08:00").unwrap();
    page.insert("date".into(), Value::scalar(to_liquid_time(date)));
    let format = "%Z~%z~%:z~%s~%e~%-d~%P~%j~%U~%p~%I~%l~%k~%y~%C~%u~%w~%a~%b~%h~%D~%F~%T~%R~%r~%c~%x~%X~%%~%G~%V~%W~%L~%N~%3N~%::z~%^a~%-m~%_m~%010d~%-H~%v";
    let body = format!(
        "{{% capture f %}}{format}{{% endcapture %}}\
         [{{{{ page.date | date: f }}}}]\n\
         [{{{{ '2024-07-04 15:05:09 -0500' | date: f }}}}]\n\
         [{{{{ '2024-07-04T15:05:09Z' | date: f }}}}]\n\
         [{{{{ '2024-07-04' | date: f }}}}]\n\
         [{{{{ 1700000000 | date: f }}}}]\n\
         [{{{{ '2024-07-04 15:05:09 GMT' | date: '%Z|%^10Z|%#Z|%-10Z|%%Z' }}}}] [{{{{ '2024-07-04 15:05:09 +0800' | date: '%Z' }}}}] [{{{{ '2024-07-04 15:05 UTC' | date: '%10Z' }}}}]"
    );
    let rendered = engine.render(&Entry { path: "_posts/2024-01-01-a.html", body: &body, body_line: 1, page });
    assert!(rendered.problems.is_empty(), "{:?}", rendered.problems);
    // Jekyll 4.3 (Liquid 5.4, Ruby 3.1) with `timezone: Asia/Shanghai`.
    let jekyll = "\
[CST~+0800~+08:00~1704038400~ 1~1~am~001~00~AM~12~12~ 0~24~20~1~1~Mon~Jan~Jan~01/01/24~2024-01-01~00:00:00~00:00~12:00:00 AM~Mon Jan  1 00:00:00 2024~01/01/24~00:00:00~%~2024~01~01~000~000000000~000~+08:00:00~MON~1~ 1~0000000001~0~ 1-JAN-2024]
[~-0500~-05:00~1720123509~ 4~4~pm~186~26~PM~03~ 3~15~24~20~4~4~Thu~Jul~Jul~07/04/24~2024-07-04~15:05:09~15:05~03:05:09 PM~Thu Jul  4 15:05:09 2024~07/04/24~15:05:09~%~2024~27~27~000~000000000~000~-05:00:00~THU~7~ 7~0000000004~15~ 4-JUL-2024]
[UTC~+0000~+00:00~1720105509~ 4~4~pm~186~26~PM~03~ 3~15~24~20~4~4~Thu~Jul~Jul~07/04/24~2024-07-04~15:05:09~15:05~03:05:09 PM~Thu Jul  4 15:05:09 2024~07/04/24~15:05:09~%~2024~27~27~000~000000000~000~+00:00:00~THU~7~ 7~0000000004~15~ 4-JUL-2024]
[CST~+0800~+08:00~1720022400~ 4~4~am~186~26~AM~12~12~ 0~24~20~4~4~Thu~Jul~Jul~07/04/24~2024-07-04~00:00:00~00:00~12:00:00 AM~Thu Jul  4 00:00:00 2024~07/04/24~00:00:00~%~2024~27~27~000~000000000~000~+08:00:00~THU~7~ 7~0000000004~0~ 4-JUL-2024]
[CST~+0800~+08:00~1700000000~15~15~am~319~46~AM~06~ 6~ 6~23~20~3~3~Wed~Nov~Nov~11/15/23~2023-11-15~06:13:20~06:13~06:13:20 AM~Wed Nov 15 06:13:20 2023~11/15/23~06:13:20~%~2023~46~46~000~000000000~000~+08:00:00~WED~11~11~0000000015~6~15-NOV-2023]
[||||%Z] [CST] [       UTC]";
    assert_eq!(rendered.output, jekyll);
}

/// A site of three posts, newest first as `site.posts` lists them.
struct ThreePosts;

impl SiteIndex for ThreePosts {
    fn post_url(&self, _name: &str) -> Option<String> {
        None
    }
    fn link(&self, _path: &str) -> Option<String> {
        None
    }
    fn posts(&self) -> Vec<Value> {
        [("Newer", "2020-01-03-newer"), ("Hello", "2020-01-02-hello"), ("Older", "2020-01-01-older")]
            .into_iter()
            .map(|(title, name)| {
                let mut post = Object::new();
                post.insert("title".into(), Value::scalar(title));
                post.insert("url".into(), Value::scalar(format!("/{name}.html")));
                post.insert("path".into(), Value::scalar(format!("_posts/{name}.md")));
                Value::Object(post)
            })
            .collect()
    }
}

#[test]
fn page_previous_and_next_are_the_older_and_newer_posts() {
    let mut site = SiteContext::empty("https://ex.org", "");
    site.index = Arc::new(ThreePosts);
    let engine = Engine::new(site);
    let render = |path: &str, body: &str| {
        let mut page = page();
        page.insert("previous".into(), Value::scalar("front matter loses, as in Jekyll"));
        engine.render(&Entry { path, body, body_line: 1, page })
    };
    let body = "[{{ page.previous.title }} {{ page.previous.url }}|{{ page.next.title }} {{ page.next.url }}]\
                {% if page.next == nil %}newest{% endif %}{% if page.previous == nil %}oldest{% endif %}";
    let middle = render("_posts/2020-01-02-hello.md", body);
    assert_eq!(middle.output, "[Older /2020-01-01-older.html|Newer /2020-01-03-newer.html]");
    assert!(middle.reads_posts, "the neighbours change with the posts");
    assert_eq!(render("_posts/2020-01-03-newer.md", body).output, "[Hello /2020-01-02-hello.html| ]newest");
    assert_eq!(render("_posts/2020-01-01-older.md", body).output, "[ |Hello /2020-01-02-hello.html]oldest");
    // A page that reads neither does not read `site.posts`.
    let plain = render("_posts/2020-01-02-hello.md", "{{ page.title }}");
    assert_eq!(plain.output, "Hello");
    assert!(!plain.reads_posts);
}

#[test]
fn a_render_tried_again_without_a_failing_tag_starts_its_loops_afresh() {
    let body = "{% assign list = '1,2,3,4' | split: ',' %}\
                {% for x in list limit: 2 offset: continue %}{{ x }}{% endfor %}|{{ 1 | divided_by: 0 }}|\
                {% for x in list offset: continue %}{{ x }}{% endfor %}";
    let rendered = render(body);
    assert_eq!(rendered.problems.len(), 1, "{:?}", rendered.problems);
    assert_eq!(rendered.output, "12||34");
}
