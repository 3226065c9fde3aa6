//! What the renderer makes of each construct. The expected strings are what Jekyll 4.3's kramdown 2.4
//! makes of the same input (checked by running it), in this renderer's line layout; the inputs are ours.

use super::{render, Options};

fn html(markdown: &str) -> String {
    render(markdown, &Options::default())
}

fn with(options: Options, markdown: &str) -> String {
    render(markdown, &options)
}

#[test]
fn quotes_dashes_ellipses_and_guillemets_are_characters() {
    assert_eq!(
        html(r#"He said "it's *great*" -- twice... in the '90s; <<a>> and << b >> --- end"#),
        "<p>He said “it’s <em>great</em>” – twice… in the ’90s; «a» and «\u{a0}b\u{a0}» — end</p>\n"
    );
    assert_eq!(html(r#"他说"你好""#), "<p>他说”你好”</p>\n", "a quote after a letter closes, as in kramdown");
}

#[test]
fn typography_leaves_code_and_escapes_alone() {
    assert_eq!(
        html("`\"a\" -- b` and \\\"c\\\" \\-- d \\*e\\*\n\n    \"code\" -- x\n"),
        "<p><code class=\"language-plaintext highlighter-rouge\">\"a\" -- b</code> and \"c\" -- d *e*</p>\n\
         <div class=\"language-plaintext highlighter-rouge\"><div class=\"highlight\"><pre class=\"highlight\"><code>\"code\" -- x\n</code></pre></div></div>\n"
    );
}

#[test]
fn header_ids_are_gfm_auto_ids() {
    let out = html(
        "# Hello “World” – it’s\n\n## Hello World\n\n## Hello World\n\n## 中文 标题\n\n## Custom {#mine}\n\n## ???\n",
    );
    assert!(out.contains("<h1 id=\"hello-world--its\">"), "{out}");
    assert!(out.contains("<h2 id=\"hello-world\">Hello World</h2>\n<h2 id=\"hello-world-1\">"), "{out}");
    assert!(out.contains("<h2 id=\"中文-标题\">"), "{out}");
    assert!(out.contains("<h2 id=\"mine\">Custom</h2>"), "{out}");
    assert!(out.contains("<h2>???</h2>"), "an empty id is left out: {out}");
    let prefixed = with(Options { auto_id_prefix: "s-".into(), ..Options::default() }, "# A b\n");
    assert_eq!(prefixed, "<h1 id=\"s-a-b\">A b</h1>\n");
    assert_eq!(with(Options { auto_ids: false, ..Options::default() }, "# A b\n"), "<h1>A b</h1>\n");
    assert_eq!(with(Options { header_offset: 1, ..Options::default() }, "# A\n"), "<h2 id=\"a\">A</h2>\n");
}

#[test]
fn kramdown_input_uses_ascii_ids_and_tilde_fences_only() {
    let options = Options { input: super::InputFormat::Kramdown, ..Options::default() };
    let out = with(options, "# 1. Intro “x”\n\n# 中文\n\n~~~\ncode\n~~~\n\n~~gone~~\n");
    assert!(out.contains("<h1 id=\"intro-x\">"), "{out}");
    assert!(out.contains("<h1 id=\"section\">"), "{out}");
    assert!(out.contains("<code>code\n</code>"), "{out}");
    assert!(out.contains("~~gone~~"), "no strikethrough in kramdown input: {out}");
}

#[test]
fn toc_lists_headers_nested_by_level() {
    let out = html(
        "* x\n{:toc}\n\n# One\n\n## One.one [link](http://e.com)[^n]\n\n## Skip\n{: .no_toc}\n\n### Deep\n\n# Two\n\n[^n]: Note.\n",
    );
    let toc = "<ul id=\"markdown-toc\">\n\
        <li><a href=\"#one\" id=\"markdown-toc-one\">One</a>\n<ul>\n\
        <li><a href=\"#oneone-link\" id=\"markdown-toc-oneone-link\">One.one link</a>\n<ul>\n\
        <li><a href=\"#deep\" id=\"markdown-toc-deep\">Deep</a></li>\n</ul>\n</li>\n</ul>\n</li>\n\
        <li><a href=\"#two\" id=\"markdown-toc-two\">Two</a></li>\n</ul>\n";
    assert!(out.starts_with(toc), "{out}");
    assert!(out.contains("<h2 class=\"no_toc\" id=\"skip\">Skip</h2>"), "{out}");
}

#[test]
fn headers_in_lists_and_quotes_get_ids_and_toc_entries() {
    assert_eq!(
        html("* x\n{:toc}\n\n- a\n\n  ## In list\n\n> ### In quote\n"),
        "<ul id=\"markdown-toc\">\n<li><a href=\"#in-list\" id=\"markdown-toc-in-list\">In list</a>\n<ul>\n\
         <li><a href=\"#in-quote\" id=\"markdown-toc-in-quote\">In quote</a></li>\n</ul>\n</li>\n</ul>\n\
         <ul>\n<li>\n<p>a</p>\n<h2 id=\"in-list\">In list</h2>\n</li>\n</ul>\n\
         <blockquote>\n<h3 id=\"in-quote\">In quote</h3>\n</blockquote>\n"
    );
}

#[test]
fn only_the_first_toc_list_is_replaced_and_levels_are_configurable() {
    let out = html("1. a\n{:toc}\n\n* b\n{:toc}\n\n# H\n");
    assert!(out.starts_with("<ol id=\"markdown-toc\">\n<li><a href=\"#h\""), "{out}");
    assert!(out.contains("<ul>\n<li>b</li>\n</ul>"), "{out}");
    let out = with(Options { toc_levels: vec![2], ..Options::default() }, "* x\n{:toc}\n\n# H1\n\n## H2\n");
    assert!(
        out.starts_with("<ul id=\"markdown-toc\">\n<li><a href=\"#h2\" id=\"markdown-toc-h2\">H2</a></li>\n</ul>"),
        "{out}"
    );
}

#[test]
fn block_and_span_attribute_lists_apply_and_disappear() {
    let out = html(
        "{:note: .note title=\"N\"}\n\nPara\n{: .lead #p1}\n\n{: note}\nNext para *em*{: .x} [a](/b){: target=\"_blank\"}\n\ntext{: .no}\n",
    );
    assert!(out.contains("<p class=\"lead\" id=\"p1\">Para</p>"), "{out}");
    assert!(out.contains("<p class=\"note\" title=\"N\">Next para <em class=\"x\">em</em> <a href=\"/b\" target=\"_blank\">a</a></p>"), "{out}");
    assert!(out.contains("<p>text{: .no}</p>"), "after text an IAL stays text, as in kramdown: {out}");
}

#[test]
fn definition_lists() {
    assert_eq!(html("Term\n: The *definition*\n"), "<dl>\n<dt>Term</dt>\n<dd>The <em>definition</em></dd>\n</dl>\n");
    // A definition's text is a paragraph when a blank line comes before the definition, one by one.
    assert_eq!(
        html("Term\n: one\n\n: two\n: three\n\n  more\n"),
        "<dl>\n<dt>Term</dt>\n<dd>one</dd>\n<dd>\n<p>two</p>\n</dd>\n<dd>three\n<p>more</p>\n</dd>\n</dl>\n"
    );
}

#[test]
fn abbreviations_wrap_whole_words_everywhere_but_code() {
    let out = html("# HTML\n\nThe HTML and xHTML and HTMLs, `HTML`.\n\n*[HTML]: Hyper Text\n");
    assert_eq!(
        out,
        "<h1 id=\"html\"><abbr title=\"Hyper Text\">HTML</abbr></h1>\n\
         <p>The <abbr title=\"Hyper Text\">HTML</abbr> and xHTML and HTMLs, <code class=\"language-plaintext highlighter-rouge\">HTML</code>.</p>\n"
    );
}

/// The longest name wins where several start at one word, whether it is a word (`HTML`) or has
/// other characters (`HTML 5`, `e.g.`, `.NET`, `C++`); a name is never followed by a letter.
#[test]
fn abbreviations_take_the_longest_name_that_ends_where_a_word_does() {
    let out = html(
        "HTML 5 and HTML, e.g. x e.gx .NET C++ C\n\n\
         *[HTML]: hyper\n*[HTML 5]: five\n*[e.g]: eg\n*[e.g.]: eg dot\n*[.NET]: dotnet\n*[C++]: cpp\n",
    );
    for wrapped in [
        "<abbr title=\"five\">HTML 5</abbr> and <abbr title=\"hyper\">HTML</abbr>,",
        "<abbr title=\"eg dot\">e.g.</abbr> x e.gx",
        "<abbr title=\"dotnet\">.NET</abbr> <abbr title=\"cpp\">C++</abbr> C</p>",
    ] {
        assert!(out.contains(wrapped), "{wrapped} not in {out}");
    }
    // Found by the word they start with: 20,000 of them are each one lookup a word, not 20,000.
    let names: Vec<String> = (0..20_000).map(|i| format!("A{i}")).collect();
    let text = format!("{}\n\n{}", names.join(" "), names.iter().map(|n| format!("*[{n}]: t\n")).collect::<String>());
    assert_eq!(html(&text).matches("<abbr title=\"t\">").count(), 20_000);
}

#[test]
fn footnotes_in_kramdowns_markup_and_order() {
    let out = html("A[^b] B[^a] again[^b] none[^x].\n\n[^a]: First *a*.\n[^b]: Second.\n[^unused]: Never.\n");
    assert_eq!(
        out,
        "<p>A<sup id=\"fnref:b\" role=\"doc-noteref\"><a href=\"#fn:b\" class=\"footnote\" rel=\"footnote\">1</a></sup> \
         B<sup id=\"fnref:a\" role=\"doc-noteref\"><a href=\"#fn:a\" class=\"footnote\" rel=\"footnote\">2</a></sup> \
         again<sup id=\"fnref:b:1\" role=\"doc-noteref\"><a href=\"#fn:b\" class=\"footnote\" rel=\"footnote\">1</a></sup> none[^x].</p>\n\
         <div class=\"footnotes\" role=\"doc-endnotes\">\n<ol>\n\
         <li id=\"fn:b\" role=\"doc-endnote\">\n<p>Second.\u{a0}<a href=\"#fnref:b\" class=\"reversefootnote\" role=\"doc-backlink\">&#8617;</a>\
         \u{a0}<a href=\"#fnref:b:1\" class=\"reversefootnote\" role=\"doc-backlink\">&#8617;<sup>2</sup></a></p>\n</li>\n\
         <li id=\"fn:a\" role=\"doc-endnote\">\n<p>First <em>a</em>.\u{a0}<a href=\"#fnref:a\" class=\"reversefootnote\" role=\"doc-backlink\">&#8617;</a></p>\n</li>\n\
         </ol>\n</div>\n"
    );
    let numbered =
        with(Options { footnote_nr: 5, footnote_backlink: String::new(), ..Options::default() }, "x[^1]\n\n[^1]: n\n");
    assert!(
        numbered.contains(">5</a></sup>")
            && numbered.contains("<ol start=\"5\">")
            && !numbered.contains("reversefootnote"),
        "{numbered}"
    );
}

#[test]
fn a_footnote_definition_ends_at_an_unindented_line_after_its_first() {
    let backlink = "\u{a0}<a href=\"#fnref:1\" class=\"reversefootnote\" role=\"doc-backlink\">&#8617;</a>";
    let note = |text: &str| {
        format!(
            "<div class=\"footnotes\" role=\"doc-endnotes\">\n<ol>\n<li id=\"fn:1\" role=\"doc-endnote\">\n<p>{text}{backlink}</p>\n</li>\n</ol>\n</div>\n"
        )
    };
    let marker =
        "<sup id=\"fnref:1\" role=\"doc-noteref\"><a href=\"#fn:1\" class=\"footnote\" rel=\"footnote\">1</a></sup>";
    // A link definition right after it is a link definition.
    assert_eq!(
        html("A[^1] [x][r].\n\n[^1]: Note.\n[r]: https://e.com/r\n"),
        format!("<p>A{marker} <a href=\"https://e.com/r\">x</a>.</p>\n{}", note("Note."))
    );
    // Text right after it is a paragraph of its own.
    assert_eq!(
        html("A[^1].\n\n[^1]: Note.\nnext line\n"),
        format!("<p>A{marker}.</p>\n<p>next line</p>\n{}", note("Note."))
    );
    // From an indented line on, unindented lines are the definition's too.
    assert_eq!(
        html("A[^1].\n\n[^1]: Note.\n    more\nlazy\n"),
        format!("<p>A{marker}.</p>\n{}", note("Note.\nmore\nlazy"))
    );
    // It does not end a paragraph.
    assert_eq!(html("para\n[^1]: Note.\n\nA[^1]\n"), "<p>para\n[^1]: Note.</p>\n<p>A[^1]</p>\n");
}

#[test]
fn html_blocks_run_to_their_end_tag_and_markdown_1_is_read() {
    let out = html(
        "<figure class=\"highlight\"><pre><code>a\n\n    b *c*\n</code></pre></figure>\nAfter \"it\".\n\n<div class=\"n\" markdown=\"1\">\n*em* and **strong**\n</div>\n",
    );
    assert_eq!(
        out,
        "<figure class=\"highlight\"><pre><code>a\n\n    b *c*\n</code></pre></figure>\n<p>After “it”.</p>\n\
         <div class=\"n\">\n<p><em>em</em> and <strong>strong</strong></p>\n</div>\n"
    );
}

#[test]
fn markdown_attributes_inside_raw_html_are_read() {
    assert_eq!(
        html("<table><tr><td markdown=\"span\">*emph* cell</td></tr></table>\n"),
        "<table><tr><td><em>emph</em> cell</td></tr></table>\n"
    );
    assert_eq!(
        html("<table>\n<tr>\n<td markdown=\"1\">\n*a*\n\nb\n</td>\n<td markdown=\"0\">*x*</td>\n<th markdown=\"1\">*t*</th>\n</tr>\n</table>\n"),
        "<table>\n<tr>\n<td>\n<p><em>a</em></p>\n<p>b</p>\n</td>\n<td>*x*</td>\n<th><em>t</em></th>\n</tr>\n</table>\n",
        "a td's content is block-level, a th's span-level"
    );
    assert_eq!(html("<div><br markdown=\"1\"/><p markdown=\"x\">*x*</p></div>\n"), "<div><br /><p>*x*</p></div>\n");
}

#[test]
fn html_quirks_a_stray_end_tag_is_text_and_an_unclosed_block_runs_to_the_end() {
    assert_eq!(html("</div>\n\nText *x*\n"), "<p>&lt;/div&gt;</p>\n<p>Text <em>x</em></p>\n");
    // The stray end tag's paragraph goes on: a definition line after it is text (its label a link).
    assert_eq!(
        html("</div>\n[q]: /a\n\n[q]: /b\n\n[q]\n"),
        "<p>&lt;/div&gt;\n<a href=\"/b\">q</a>: /a</p>\n<p><a href=\"/b\">q</a></p>\n"
    );
    let out = html("> - <div>\n   </div>\n[r]: /two\n[r]: /two\n");
    assert!(out.contains("<p>&lt;/div&gt;\n[r]: /two\n[r]: /two</p>"), "{out}");
    assert_eq!(html("<div>\n\n*not markdown*\n"), "<div>\n\n*not markdown*\n</div>\n");
    assert_eq!(
        html("a <div>b</div> c\n"),
        "<p>a &lt;div&gt;b&lt;/div&gt; c</p>\n",
        "block tags inside a paragraph are text"
    );
}

#[test]
fn fenced_code_gets_rouges_wrapper() {
    let out = html("```ruby\nputs \"<hi>\"\n\n```\n\n~~~\nplain\n~~~\n{: .wide}\n");
    assert_eq!(
        out,
        "<div class=\"language-ruby highlighter-rouge\"><div class=\"highlight\"><pre class=\"highlight\"><code>puts \"&lt;hi&gt;\"\n\n</code></pre></div></div>\n\
         <div class=\"language-plaintext wide highlighter-rouge\"><div class=\"highlight\"><pre class=\"highlight\"><code>plain\n</code></pre></div></div>\n"
    );
    let plain = with(Options { syntax_highlighting: false, ..Options::default() }, "```ruby\nx\n```\n");
    assert_eq!(plain, "<pre><code class=\"language-ruby\">x\n</code></pre>\n");
}

/// The text of each code block in `html`.
fn code_blocks(html: &str) -> Vec<&str> {
    html.split("<pre class=\"highlight\"><code>").skip(1).map(|b| b.split("</code>").next().unwrap_or(b)).collect()
}

#[test]
fn fenced_code_in_a_list_item_starts_at_the_items_content() {
    // kramdown takes an item's lines without its content column: the code keeps only what is indented
    // past it.
    assert_eq!(
        html("1. Install:\n   ```bash\n   npm install\n   npm test\n   ```\n2. Run\n"),
        "<ol>\n<li>Install:\n<div class=\"language-bash highlighter-rouge\"><div class=\"highlight\"><pre class=\"highlight\"><code>npm install\nnpm test\n</code></pre></div></div>\n</li>\n<li>Run</li>\n</ol>\n"
    );
    assert_eq!(
        html("- a\n  - b\n    ```\n    code\n     more\n    ```\n- c\n"),
        "<ul>\n<li>a\n<ul>\n<li>b\n<div class=\"language-plaintext highlighter-rouge\"><div class=\"highlight\"><pre class=\"highlight\"><code>code\n more\n</code></pre></div></div>\n</li>\n</ul>\n</li>\n<li>c</li>\n</ul>\n",
        "in a nested item, both items' columns"
    );
    assert_eq!(code_blocks(&html("- Item:\n\n  ```js\n  if (x) {\n    y();\n  }\n  ```\n")), ["if (x) {\n  y();\n}\n"]);
    assert_eq!(code_blocks(&html("* a\n\n  ~~~\n  t\n  ~~~\n")), ["t\n"]);
    assert_eq!(code_blocks(&html("1. a\n\n    ```\n    four\n    ```\n")), [" four\n"], "one space past the column");
    assert_eq!(code_blocks(&html("1. a\n   ```\n   x\n  y\n   ```\n")), ["x\n  y\n"], "a lazy line keeps its spaces");
    assert_eq!(code_blocks(&html("- a\n\n\t```\n\tx\n\t```\n")), ["  x\n"], "a tab is four spaces");
    assert_eq!(code_blocks(&html("   ```\n   x\n   ```\n")), ["   x\n"], "outside lists a fence keeps all");
}

#[test]
fn fence_lines_kramdown_does_not_take_stay_text() {
    // kramdown: a paragraph holding a code span (`js linenos code`).
    let out = html("```js linenos\ncode\n```\n");
    assert!(
        out.starts_with("<p><span></span><code class=\"language-plaintext highlighter-rouge\">js linenos code"),
        "{out}"
    );
    assert!(out.ends_with("</code></p>\n"), "{out}");
    assert_eq!(html("```\nnever closed\n"), "<p><span></span>```\nnever closed</p>\n");
}

#[test]
fn tables_as_kramdown_reads_them() {
    let out = html("| a | b |\n|:--|--:|\n| 1 |\n\nx | y\n");
    assert_eq!(
        out,
        "<table>\n<thead>\n<tr>\n<th style=\"text-align: left\">a</th>\n<th style=\"text-align: right\">b</th>\n</tr>\n</thead>\n\
         <tbody>\n<tr>\n<td style=\"text-align: left\">1</td>\n<td style=\"text-align: right\">\u{a0}</td>\n</tr>\n</tbody>\n</table>\n\
         <table>\n<tbody>\n<tr>\n<td>x</td>\n<td>y</td>\n</tr>\n</tbody>\n</table>\n"
    );
    assert_eq!(html("text\nx | y\n"), "<p>text\nx | y</p>\n", "a pipe line inside a paragraph is no table");
}

#[test]
fn strikethrough_and_task_lists() {
    assert_eq!(html("~~gone~~ ~kept~\n"), "<p><del>gone</del> ~kept~</p>\n");
    assert_eq!(
        html("- [ ] a\n- [x] b\n"),
        "<ul class=\"task-list\">\n<li class=\"task-list-item\"><input type=\"checkbox\" class=\"task-list-item-checkbox\" disabled=\"disabled\" />a</li>\n\
         <li class=\"task-list-item\"><input type=\"checkbox\" class=\"task-list-item-checkbox\" disabled=\"disabled\" checked=\"checked\" />b</li>\n</ul>\n"
    );
    // In a paragraph too; and as kramdown-parser-gfm marks them, every item from the first task on.
    assert_eq!(
        html("- [ ] a\n\n- b\n- [x] c\n"),
        "<ul class=\"task-list\">\n<li class=\"task-list-item\">\n<p><input type=\"checkbox\" class=\"task-list-item-checkbox\" disabled=\"disabled\" />a</p>\n</li>\n\
         <li class=\"task-list-item\">b</li>\n\
         <li class=\"task-list-item\"><input type=\"checkbox\" class=\"task-list-item-checkbox\" disabled=\"disabled\" checked=\"checked\" />c</li>\n</ul>\n"
    );
}

#[test]
fn line_breaks_and_hard_wrap() {
    assert_eq!(html("a  \nb\nc\n"), "<p>a<br />\nb\nc</p>\n");
    assert_eq!(with(Options { hard_wrap: true, ..Options::default() }, "a\nb\n"), "<p>a<br />\nb</p>\n");
}

#[test]
fn links_autolinks_references_and_entities() {
    let out = html(
        "<http://e.com/?a=1&b=2> <me@e.org> [r][R] ![i](/i.png \"T\")\n&copy; &#149; AT&T &lt;x&gt;\n\n[r]: http://e.com/r with space\n",
    );
    assert_eq!(
        out,
        "<p><a href=\"http://e.com/?a=1&amp;b=2\">http://e.com/?a=1&amp;b=2</a> <a href=\"mailto:me@e.org\">me@e.org</a> \
         <a href=\"http://e.com/r with space\">r</a> <img src=\"/i.png\" alt=\"i\" title=\"T\" />\n© • AT&amp;T &lt;x&gt;</p>\n"
    );
}

#[test]
fn emphasis_follows_kramdown_not_commonmark() {
    assert_eq!(html("**注意：**文字 and *a (*b\n"), "<p><strong>注意：</strong>文字 and <em>a (</em>b</p>\n");
    assert_eq!(html("snake_case_x _a_ **x*\n"), "<p>snake_case_x <em>a</em> <em>*x</em></p>\n");
    assert_eq!(html("a *b *c* d\n"), "<p>a <em>b *c</em> d</p>\n");
}

#[test]
fn list_items_are_tight_or_loose_one_by_one_as_in_kramdown() {
    // A nested list right after the text keeps the items tight, in an ordered list too.
    assert_eq!(html("1. a\n   - b\n2. c\n"), "<ol>\n<li>a\n<ul>\n<li>b</li>\n</ul>\n</li>\n<li>c</li>\n</ol>\n");
    assert_eq!(
        html("- a\n  - b\n\n- c\n\nafter\n"),
        "<ul>\n<li>a\n<ul>\n<li>b</li>\n</ul>\n</li>\n<li>c</li>\n</ul>\n<p>after</p>\n"
    );
    // An item's text is a paragraph when a blank line follows it in the item; the last item's only
    // when no earlier item's text is bare.
    assert_eq!(html("- a\n\n- b\n- c\n"), "<ul>\n<li>\n<p>a</p>\n</li>\n<li>b</li>\n<li>c</li>\n</ul>\n");
    assert_eq!(html("- a\n- b\n\n- c\n"), "<ul>\n<li>a</li>\n<li>\n<p>b</p>\n</li>\n<li>c</li>\n</ul>\n");
    assert_eq!(html("- a\n\n- b\n"), "<ul>\n<li>\n<p>a</p>\n</li>\n<li>\n<p>b</p>\n</li>\n</ul>\n");
    assert_eq!(
        html("- a\n- b\n\n  more\n- c\n"),
        "<ul>\n<li>a</li>\n<li>\n<p>b</p>\n<p>more</p>\n</li>\n<li>c</li>\n</ul>\n"
    );
    // Only the first paragraph of an item can be bare.
    assert!(html("- a\n  ```\n  x\n  ```\n  after\n").ends_with("</div></div>\n<p>after</p>\n</li>\n</ul>\n"));
}

#[test]
fn paragraph_continuations_kramdown_keeps_as_text() {
    assert_eq!(html("a\nb\n===\n"), "<p>a\nb\n===</p>\n");
    assert_eq!(html("a\n***\n"), "<p>a\n***</p>\n");
    assert_eq!(html("a\n5) b\n"), "<p>a\n5) b</p>\n");
    assert_eq!(html("  # x\n"), "<p># x</p>\n");
    assert_eq!(html("Title\n---\n"), "<h2 id=\"title\">Title</h2>\n");
    assert_eq!(html("text\n3. three\n"), "<p>text</p>\n<ol>\n<li>three</li>\n</ol>\n");
}

#[test]
fn extensions() {
    assert_eq!(
        html("{::comment}\nhidden\n{:/comment}\n\n{::nomarkdown}\n<b>*raw*</b>\n{:/}\n\n{::options auto_ids=\"false\" /}\n^\n"),
        "<!-- hidden -->\n<b>*raw*</b>\n"
    );
}

#[test]
fn crlf_and_missing_final_newline() {
    assert_eq!(html("# A\r\n\r\ntext \"q\""), "<h1 id=\"a\">A</h1>\n<p>text “q”</p>\n");
}

mod robustness {
    use super::html;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn any_text_renders_and_renders_the_same_twice(text in any::<String>()) {
            let first = html(&text);
            prop_assert_eq!(first, html(&text));
        }

        #[test]
        fn markdown_shaped_text_renders_and_renders_the_same_twice(
            text in "([-*_`~#>|:{}\\[\\]()<>!\"' a-z0-9\n\t^=.&;/\\\\]|<div>|</div>|<div markdown=\"1\">|\\{:toc\\}|\\{: \\.c\\}|\\[\\^1\\]|\\[\\^1\\]: |\\*\\[A\\]: |```|~~~|<!--|-->|\\$\\$|    ){0,120}"
        ) {
            let first = html(&text);
            prop_assert_eq!(first, html(&text));
        }
    }

    /// Renders on a thread with a small stack: an input that made rendering recurse with its nesting depth
    /// would overflow it.
    fn render_on_small_stack(text: String) -> String {
        std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || html(&text))
            .expect("thread starts")
            .join()
            .expect("rendering finished without overflowing a 256 KiB stack")
    }

    #[test]
    fn pathological_inputs_finish_with_bounded_recursion() {
        let n = 10_000;
        let cases: Vec<(&str, String)> = vec![
            ("brackets", "[".repeat(n)),
            ("stars", "*".repeat(n)),
            ("star words", "*a ".repeat(n)),
            ("underscores", "_a".repeat(n)),
            ("backticks", "`".repeat(n)),
            ("nested quotes", ">".repeat(n) + " deep"),
            ("nested list markers", "- ".repeat(n) + "x"),
            ("nested indented lists", (0..1000).map(|i| format!("{}- x\n", "  ".repeat(i))).collect()),
            ("nested emphasis", "*a **b ".repeat(n / 2) + &"** c*".repeat(n / 2)),
            ("nested divs", "<div>".repeat(n) + "x"),
            ("nested markdown divs", "<div markdown=\"1\">\n".repeat(n) + "x\n"),
            ("nested span markdown", "<p markdown=\"1\">".repeat(n) + "x"),
            ("unclosed fences", "~~~x\n".repeat(n)),
            ("unclosed comments", "<!--\n".repeat(n)),
            ("unclosed extensions", "{::comment}\n".repeat(n)),
            ("attribute lists", "p\n{: .a}\n\n".repeat(n)),
            ("footnotes", (0..n).map(|i| format!("x[^{i}]\n\n[^{i}]: y\n\n")).collect()),
            ("headers and a toc", "* t\n{:toc}\n\n".to_string() + &"# h\n\n## h\n\n".repeat(n / 2)),
            ("pipes", "a | b\n".repeat(n)),
            ("list items with pipes", "- a | b\n".repeat(n)),
            ("guillemets", "<<".repeat(n)),
            ("quotes", "\"'".repeat(n)),
            ("link definitions then a link", "[a]: http://x y\n".repeat(n) + "\n[a]"),
            ("unclosed span extensions on a line", "{::comment}{::nomarkdown x".repeat(n)),
            ("link urls with spaces on a line", "](a b ".repeat(n)),
            ("lone backticks on a line", "` x`".repeat(n)),
        ];
        for (name, text) in cases {
            let out = render_on_small_stack(text);
            assert!(!out.trim().is_empty(), "{name}: rendered to nothing");
        }
    }

    #[test]
    fn deep_nesting_keeps_the_text() {
        let out = html(&(">".repeat(5000) + " deepest words"));
        assert!(out.contains("deepest words"), "text under the depth limit is kept");
        let out = html(&((0..300).map(|i| format!("{}- level{i}\n", "  ".repeat(i))).collect::<String>()));
        assert!(out.contains("level0") && out.contains("level299"), "every level's text is kept");
    }
}

#[test]
fn backslashes_autolinks_and_tables_in_paragraphs_as_kramdown() {
    assert_eq!(html("a \\? b \\* c\n"), "<p>a \\? b * c</p>\n", "kramdown does not escape `?`");
    assert_eq!(
        html("<file:///x> <ftp://e.com/f>\n"),
        "<p>&lt;file:///x&gt; <a href=\"ftp://e.com/f\">ftp://e.com/f</a></p>\n"
    );
    assert_eq!(html("intro\n| a | b |\n|---|---|\n"), "<p>intro\n| a | b |\n|—|—|</p>\n");
    assert_eq!(html("See [the text] [ref].\n\n[ref]: /r\n"), "<p>See <a href=\"/r\">the text</a>.</p>\n");
}

#[test]
fn math_as_kramdown_writes_it_for_mathjax() {
    assert_eq!(
        html("Inline $$a_b*c$$ and `$$code$$`, $single$.\n\n$$\nx < \\frac{1}{2}\n$$\n"),
        "<p>Inline \\(a_b*c\\) and <code class=\"language-plaintext highlighter-rouge\">$$code$$</code>, $single$.</p>\n\\[x &lt; \\frac{1}{2}\\]\n"
    );
    assert!(html("> ```\n> $$x$$\n> ```\n").contains("<code>$$x$$\n</code>"), "math stays as written in code");
}

/// Raw HTML lines that CommonMark runs into one block with a later kramdown HTML block used to be
/// replaced by that block: their text was lost.
#[test]
fn raw_html_lines_before_a_stored_block_are_kept() {
    let out = html("<link rel=\"a\">\n<img src=x alt=0>\nhello <b>x</b>\n<isindex type=image>\nafter\n");
    assert!(out.contains("<img src=x alt=0>") && out.contains("hello <b>x</b>") && out.contains("after"), "{out}");
    let out = html("<img src=x alt=0>\none\n<div>two</div>\nthree\n");
    for text in ["one", "two", "three"] {
        assert!(out.contains(text), "{text} lost: {out}");
    }
}

/// kramdown never educates the text of an autolink.
#[test]
fn autolink_text_keeps_its_dashes_and_quotes() {
    assert_eq!(
        html("<https://example.com/a--b> and a--b\n"),
        "<p><a href=\"https://example.com/a--b\">https://example.com/a--b</a> and a–b</p>\n"
    );
}

#[test]
fn a_mailto_autolink_shows_the_address_and_schemes_are_lower_case() {
    assert_eq!(
        html("<mailto:me@example.org> or <me@example.org>\n"),
        "<p><a href=\"mailto:me@example.org\">me@example.org</a> or <a href=\"mailto:me@example.org\">me@example.org</a></p>\n"
    );
    assert_eq!(html("<HTTP://a.b> <MAILTO:x@y.z>\n"), "<p>&lt;HTTP://a.b&gt; &lt;MAILTO:x@y.z&gt;</p>\n");
}

#[test]
fn entities_are_read_once() {
    // `&amp;amp;` shows `&amp;`; an unknown entity is text; `\&amp;` is a backslash and `&` (kramdown writes
    // `&#38;amp;` as it stands, the same to a reader).
    assert_eq!(
        html("Tom &amp;amp; Jerry &#38;amp; x &foo; y \\&amp; z &lt;b&gt;\n"),
        "<p>Tom &amp;amp; Jerry &amp;amp; x &amp;foo; y \\&amp; z &lt;b&gt;</p>\n"
    );
}

#[test]
fn a_dash_line_inside_a_paragraph_is_educated_whole() {
    // Not a setext underline (the paragraph did not start at a block boundary): text, all its dashes read.
    assert_eq!(
        html("## H\nSetext heading\n--------------\n\nx\n-- y\n---- z\n"),
        "<h2 id=\"h\">H</h2>\n<p>Setext heading\n————–</p>\n<p>x\n– y\n—- z</p>\n"
    );
}

#[test]
fn lazy_lines_stay_in_the_list_item_as_in_kramdown() {
    // A line right after an item's text, indented less than its content, is still the item's: an item of
    // another kind starts a list in it, a header or quote is a block in it.
    assert_eq!(
        html("1. a\n- b\n- c\n2. d\n"),
        "<ol>\n<li>a\n<ul>\n<li>b</li>\n<li>c</li>\n</ul>\n</li>\n<li>d</li>\n</ol>\n"
    );
    assert_eq!(html("- a\n# h\n"), "<ul>\n<li>a\n<h1 id=\"h\">h</h1>\n</li>\n</ul>\n");
    assert_eq!(html("- a\n> q\n"), "<ul>\n<li>a\n<blockquote>\n<p>q</p>\n</blockquote>\n</li>\n</ul>\n");
    // Another bullet continues the list.
    assert_eq!(html("+ a\n- b\n* c\n"), "<ul>\n<li>a</li>\n<li>b</li>\n<li>c</li>\n</ul>\n");
    // After a nested list (or a blank line) in the item, such an item line is text.
    assert_eq!(html("1. a\n   - b\n- c\n"), "<ol>\n<li>a\n<ul>\n<li>b\n- c</li>\n</ul>\n</li>\n</ol>\n");
    // After a blank line it is not the item's.
    assert_eq!(html("- a\n\n# h\n"), "<ul>\n<li>a</li>\n</ul>\n<h1 id=\"h\">h</h1>\n");
}

#[test]
fn a_table_without_body_rows_is_a_paragraph() {
    assert_eq!(html("| H |\n|---|\n"), "<p>| H |\n|—|</p>\n");
    assert_eq!(html("| H |\n|---|\n|===|\n| F |\n"), "<p>| H |\n|—|\n|===|\n| F |</p>\n", "a footer is no body");
}

#[test]
fn span_extensions_inside_a_line() {
    assert_eq!(
        html("a {::comment}gone{:/comment} b {::nomarkdown}<b>x</b>{:/} c {::options auto_ids=\"false\" /}d\n"),
        "<p>a <!-- gone --> b <b>x</b> c d</p>\n"
    );
    // In code, escaped, or unknown: text.
    assert_eq!(
        html("`{::comment}x{:/comment}` \\{::comment}y{:/comment} {::foo}z{:/foo}\n"),
        "<p><code class=\"language-plaintext highlighter-rouge\">{::comment}x{:/comment}</code> {::comment}y{:/comment} \
         {::foo}z{:/foo}</p>\n"
    );
}

#[test]
fn two_backslashes_at_a_line_end_break_the_line() {
    assert_eq!(html("a\\\\\nb\\\\\\\\\nc\\\\\n"), "<p>a<br />\nb\\<br />\nc\\</p>\n");
}

#[test]
fn email_autolinks_take_kramdowns_characters_only() {
    assert_eq!(
        html("<a+b@example.org> <a.b-c_d@ex-ample.org>\n"),
        "<p>&lt;a+b@example.org&gt; <a href=\"mailto:a.b-c_d@ex-ample.org\">a.b-c_d@ex-ample.org</a></p>\n"
    );
}

#[test]
fn inline_link_urls_may_hold_spaces_as_in_kramdown() {
    assert_eq!(
        html("[a](http://e.com/a b) ![i](my pic.png \"T\") [c](x (y) z) `[d](e f)`\n"),
        "<p><a href=\"http://e.com/a b\">a</a> <img src=\"my pic.png\" alt=\"i\" title=\"T\" /> \
         <a href=\"x (y) z\">c</a> <code class=\"language-plaintext highlighter-rouge\">[d](e f)</code></p>\n"
    );
}

/// kramdown reads no backslash escapes in a URL (checked with kramdown 2.4, GFM input).
#[test]
fn backslashes_in_link_urls_are_kept_as_in_kramdown() {
    assert_eq!(
        html("[a](http://x/a\\_b\\#c) [b][r] <http://y/a\\_b>\n\n[r]: http://z/a\\_b\n"),
        "<p><a href=\"http://x/a\\_b\\#c\">a</a> <a href=\"http://z/a\\_b\">b</a> \
         <a href=\"http://y/a\\_b\">http://y/a\\_b</a></p>\n"
    );
}

#[test]
fn a_single_backtick_between_spaces_opens_no_code_span() {
    assert_eq!(html("Run ` -x` first.\n"), "<p>Run ` -x` first.</p>\n");
    // A span left open on one line closes on the next, where a backtick between spaces closes it.
    assert_eq!(
        html("a `b\nc ` d`\n"),
        "<p>a <code class=\"language-plaintext highlighter-rouge\">b c </code> d`</p>\n"
    );
}

#[test]
fn code_spans_keep_the_spaces_kramdown_keeps() {
    assert_eq!(
        html("x` a `y and `` c`` and ``d ``\n"),
        "<p>x<code class=\"language-plaintext highlighter-rouge\"> a </code>y and \
         <code class=\"language-plaintext highlighter-rouge\">c</code> and \
         <code class=\"language-plaintext highlighter-rouge\">d</code></p>\n"
    );
}

#[test]
fn a_span_tag_alone_on_a_line_starts_a_paragraph() {
    assert_eq!(
        html("Text.\n\n<br/>\n## Heading\n\n<img src=\"a.png\">\n*b* \"c\"\n"),
        "<p>Text.</p>\n<p><br/></p>\n<h2 id=\"heading\">Heading</h2>\n<p><img src=\"a.png\">\n<em>b</em> “c”</p>\n"
    );
    assert_eq!(
        html("1. one\n2. <span>\n   *e*\n   </span>\n"),
        "<ol>\n<li>one</li>\n<li><span>\n<em>e</em>\n</span></li>\n</ol>\n"
    );
    assert_eq!(html("> <br>\n> # H\n"), "<blockquote>\n<p><br></p>\n<h1 id=\"h\">H</h1>\n</blockquote>\n");
    // A block element's tag still opens an HTML block.
    assert_eq!(html("<div>\n*x*\n</div>\n"), "<div>\n*x*\n</div>\n");
}

#[test]
fn elements_whose_content_kramdown_keeps_raw_show_it_as_written() {
    // `<s>`, `<u>`, `<mark>`, `<kbd>` and unknown elements are not in kramdown's span content model: no
    // Markdown, quotes or symbols inside them.
    assert_eq!(
        html("A <s>\"b\" *c* -- d...</s> \"e\" and <u>it's `f` [g](/h)</u> <mark>'i'</mark> <em>\"j\"</em>\n"),
        "<p>A <s>\"b\" *c* -- d...</s> “e” and <u>it's `f` [g](/h)</u> <mark>'i'</mark> <em>“j”</em></p>\n"
    );
    assert_eq!(
        html("<u>a &amp; <b>\"b\"</b> <u>\"c\"</u> \"d\"</u> \"e\"\n"),
        "<p><u>a &amp; <b>\"b\"</b> <u>\"c\"</u> \"d\"</u> “e”</p>\n"
    );
    // Over a line end, in a quote; and with no end tag, to the end of the paragraph.
    assert_eq!(
        html("> x <kbd>\"a\n> b\"</kbd> \"c\"\n"),
        "<blockquote>\n<p>x <kbd>\"a\nb\"</kbd> “c”</p>\n</blockquote>\n"
    );
    assert_eq!(html("x <kbd>\"a *b*\n\n\"c\"\n"), "<p>x <kbd>\"a *b*</kbd></p>\n<p>“c”</p>\n");
    // An element opened inside and left open is closed with it.
    assert_eq!(html("x <u>a <ns:b> c\n"), "<p>x <u>a <ns:b> c</ns:b></u></p>\n");
    // An end tag inside that closes nothing opened there is text.
    assert_eq!(html("x <u>a </b> c</u>\n"), "<p>x <u>a &lt;/b&gt; c</u></p>\n");
    // A link that starts inside the element is no link; what closes it is text.
    assert_eq!(html("x <s>[a</s> b](/c) \"d\"\n"), "<p>x <s>[a</s> b](/c) “d”</p>\n");
    // `markdown="span"` asks for Markdown.
    assert_eq!(html("x <s markdown=\"span\">\"a\"</s>\n"), "<p>x <s markdown=\"span\">“a”</s></p>\n");
}

#[test]
fn span_extensions_inside_table_cells() {
    assert_eq!(
        html("| a | b |\n|---|---|\n| {::nomarkdown}<b>x</b>{:/} | {::comment}c{:/comment} y |\n"),
        "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n\
         <td><b>x</b></td>\n<td><!-- c --> y</td>\n</tr>\n</tbody>\n</table>\n"
    );
}

#[test]
fn link_text_is_read_inside_the_emphasis_around_it() {
    // kramdown never nests an element in one of its own kind, link text included.
    assert_eq!(
        html("*see [a *b* c](/x) here* and _[d _e_](/y)_\n"),
        "<p><em>see <a href=\"/x\">a *b* c</a> here</em> and <em><a href=\"/y\">d _e_</a></em></p>\n"
    );
    assert_eq!(
        html("**see [a *b* c](/x)** and *[d **e**](/y)*\n"),
        "<p><strong>see <a href=\"/x\">a <em>b</em> c</a></strong> and <em><a href=\"/y\">d <strong>e</strong></a></em></p>\n"
    );
}

#[test]
fn a_code_span_closes_at_the_first_run_of_its_backticks() {
    let code = |text: &str| format!("<code class=\"language-plaintext highlighter-rouge\">{text}</code>");
    assert_eq!(html("x `a``b` y\n"), format!("<p>x {}{} y</p>\n", code("a"), code("b")));
    assert_eq!(html("A `c``` d.\n"), format!("<p>A {}`` d.</p>\n", code("c")));
    assert_eq!(html("a `b\nc``d` e\n"), format!("<p>a {}{} e</p>\n", code("b c"), code("d")));
}

#[test]
fn options_set_in_the_post_apply_as_in_kramdown() {
    // Options the converter reads apply to the whole post, wherever they are set.
    assert_eq!(
        html("\"a\"\n\n{::options smart_quotes=\"apos,apos,quot,quot\" auto_ids=\"false\" /}\n\n## \"b\"\n"),
        "<p>\"a\"</p>\n<h2>\"b\"</h2>\n"
    );
    assert_eq!(html("x {::options auto_id_prefix=\"p-\" /} y\n\n# T\n"), "<p>x  y</p>\n<h1 id=\"p-t\">T</h1>\n");
    // The parser's options apply from where they are set on.
    assert_eq!(
        html("{::options parse_block_html=\"true\" /}\n\n<div>\n*a*\n</div>\n"),
        "<div>\n<p><em>a</em></p>\n</div>\n"
    );
    assert_eq!(
        html("<div>\n*a*\n</div>\n\n{::options parse_block_html=\"true\" /}\n\n<div>\n*b*\n</div>\n"),
        "<div>\n*a*\n</div>\n<div>\n<p><em>b</em></p>\n</div>\n"
    );
}

#[test]
fn an_autolink_kramdown_shows_as_text_at_a_cell_end_keeps_the_cell() {
    assert_eq!(
        html("| a | b |\n|---|---|\n| x <hdfs://n:p> | z |\n\n## H\n"),
        "<table>\n<thead>\n<tr>\n<th>a</th>\n<th>b</th>\n</tr>\n</thead>\n<tbody>\n<tr>\n\
         <td>x &lt;hdfs://n:p&gt;</td>\n<td>z</td>\n</tr>\n</tbody>\n</table>\n<h2 id=\"h\">H</h2>\n"
    );
}

#[test]
fn a_link_label_defined_again_takes_its_last_definition_as_in_kramdown() {
    let out = html(
        "[a][x] and [b][X  y] and [c][z]\n\n[x]: /first\n[x y]: /one\n[z]: /only\n\n* item\n\n  [X]: /second \"T\"\n\n[x Y]: /two\n",
    );
    assert!(out.contains("<a href=\"/second\" title=\"T\">a</a>"), "{out}");
    assert!(out.contains("<a href=\"/two\">b</a>"), "{out}");
    assert!(out.contains("<a href=\"/only\">c</a>"), "{out}");
    // The definitions themselves still show nothing.
    assert!(!out.contains("/first") && !out.contains("/one") && !out.contains("shadowed"), "{out}");
}

#[test]
fn an_html_block_with_markdown_can_open_a_list_item() {
    // kramdown reads an item's content as blocks: the element is the item's first block, its Markdown is
    // read, and the end tag on a line of the item closes it.
    assert_eq!(
        html(
            "<div class=\"qa\" markdown=\"1\">\n\n   - <details id=\"q1\" markdown=\"1\"><summary><span markdown=\"1\">What is `x`?</span></summary>\n     Answer *one*.\n     </details>\n\n   - <details markdown=\"1\"><summary>Two</summary>\n     Answer two.\n     </details>\n\n</div>\n"
        ),
        "<div class=\"qa\">\n<ul>\n<li>\n<details id=\"q1\">\n<summary><span>What is <code class=\"language-plaintext highlighter-rouge\">x</code>?</span></summary>\n\
         <p>Answer <em>one</em>.</p>\n</details>\n</li>\n<li>\n<details>\n<summary>Two</summary>\n<p>Answer two.</p>\n</details>\n</li>\n</ul>\n</div>\n"
    );
    // Ordered items, `markdown="span"` and `markdown="block"`, text after the start tag.
    let out = html("1. <div markdown=\"1\">Text *a*\n   </div>\n2. <p markdown=\"span\">Span *b*</p>\n");
    assert!(out.contains("<li>\n<div>\nText <em>a</em>\n</div>\n</li>"), "{out}");
    assert!(out.contains("<li>\n<p>Span <em>b</em></p>\n</li>"), "{out}");
    // An item line kramdown reads as text (after a nested list, another kind of marker) opens nothing.
    assert_eq!(
        html("1. a\n   - b\n- <div markdown=\"1\">x *y*</div>\n"),
        "<ol>\n<li>a\n<ul>\n<li>b\n- &lt;div markdown=\"1\"&gt;x <em>y</em>&lt;/div&gt;</li>\n</ul>\n</li>\n</ol>\n"
    );
    let out = html("* <div markdown=\"block\">\n  *c*\n  </div>\n* <div markdown=\"0\">Raw *d*</div>\n");
    assert!(out.contains("<li>\n<div>\n<em>c</em>\n</div>\n</li>") && out.contains("Raw *d*"), "{out}");
    assert!(!out.contains("markdown="), "{out}");
}

#[test]
fn link_definitions_in_blockquotes_are_the_documents_and_the_last_one_wins() {
    assert_eq!(
        html("> [a]: /a\n> see [a] and [b]\n\n> [b]: /b-first\n> [b]: /b-second\n\n[c]: /c-first\n\n> [c]: /c-second \"T\"\n> [d]: /d with space\n\nOut: [c], [d].\n\n> text\n> [e]: /not-a-def\n"),
        "<blockquote>\n<p>see <a href=\"/a\">a</a> and <a href=\"/b-second\">b</a></p>\n</blockquote>\n\
         <blockquote>\n</blockquote>\n<blockquote>\n</blockquote>\n\
         <p>Out: <a href=\"/c-second\" title=\"T\">c</a>, <a href=\"/d with space\">d</a>.</p>\n\
         <blockquote>\n<p>text\n[e]: /not-a-def</p>\n</blockquote>\n",
        "a definition line that continues a quote's paragraph is text"
    );
    // Nested quotes, and a quote in a list item.
    let out = html("> > [f]: /f-first\n> > nested [f]\n\n- item\n\n  > [f]: /f-second\n\nRefs: [f]\n");
    assert_eq!(out.matches("href=\"/f-second\"").count(), 2, "{out}");
    assert!(!out.contains("/f-first") && !out.contains("shadowed"), "{out}");
    // Fenced code in a quote holds text, not definitions; after it a definition may stand.
    let out = html("> ```\n> [g]: /in-code\n> ```\n> [g]: /quoted\n\n[g]: /last\n\n[g]\n");
    assert!(out.contains("[g]: /in-code") && out.contains("<a href=\"/last\">g</a>"), "{out}");
}

#[test]
fn an_element_left_open_in_a_list_item_ends_with_the_item() {
    // kramdown reads each item's text by itself: the element closes where the item ends, and an end tag
    // after that is text.
    let out =
        html("<div markdown=\"1\">\n\n- <details markdown=\"1\"><summary>S</summary>\n  Body.\n\n- next\n\n</div>\n");
    assert!(out.contains("<p>Body.</p>\n</details>\n</li>"), "{out}");
    assert!(out.ends_with("</ul>\n</div>\n"), "the div's end tag is the div's: {out}");
    assert!(html("- <div markdown=\"1\">\n  a\n- b\n</div>\n").contains("&lt;/div&gt;"));
    // A nested list right after the item's first lines starts a part of the item read by itself, as the
    // element ends before it.
    let out = html("- <div markdown=\"1\">\n  - nested\n  </div>\n- after\n");
    assert!(out.starts_with("<ul>\n<li>\n<div>\n</div>\n<ul>\n<li>nested\n&lt;/div&gt;</li>"), "{out}");
}

#[test]
fn a_raw_html_block_can_open_a_list_item_and_ends_with_the_item() {
    // It runs over blank lines to its end tag, inside the item; its lines lose the item's indentation.
    assert_eq!(
        html("- <pre>\n  a\n\n      b\n  </pre>\n- <p>x *y*</p> tail\n"),
        "<ul>\n<li>\n<pre>\na\n\n    b\n</pre>\n</li>\n<li>\n<p>x *y*</p>\ntail</li>\n</ul>\n"
    );
    // Without its end tag it ends where the item does: an unindented HTML line is no lazy line.
    // A nested list right after the item's first lines starts a part of the item read by itself.
    let out = html("* <pre>\n  raw line\n  - nested *item*\n  </pre>\n");
    assert!(out.contains("<li>nested <em>item</em>"), "{out}");
    let out = html("- <div>\n  text\n</div>\n\nPara.\n");
    assert!(out.contains("<p>&lt;/div&gt;</p>") && out.contains("<p>Para.</p>"), "{out}");
}

#[test]
fn an_element_with_markdown_content_in_a_block_quote() {
    assert_eq!(
        html("> <details markdown=\"1\"><summary>S</summary>\n> Body *x*.\n> </details> after\n"),
        "<blockquote>\n<details>\n<summary>S</summary>\n<p>Body <em>x</em>.</p>\n</details>\n<p>after</p>\n</blockquote>\n"
    );
    let out = html("> > <div markdown=\"1\">Lead *a*\n> >\n> > ## H\n> > </div>\n");
    assert!(out.contains("<div>\n<p>Lead <em>a</em></p>\n<h2 id=\"h\">H</h2>\n</div>"), "{out}");
    // In a list item in a quote.
    let out = html("> - <details markdown=\"1\"><summary>S</summary>\n>   Body *y*.\n>   </details>\n");
    assert!(out.contains("<li>\n<details>\n<summary>S</summary>\nBody <em>y</em>.\n</details>\n</li>"), "{out}");
    // Other HTML in a quote is left as it was.
    assert_eq!(html("> <div>raw *kept*</div>\n"), "<blockquote>\n<div>raw *kept*</div>\n</blockquote>\n");
}

#[test]
fn markdown_inside_html_elements_sees_the_documents_link_definitions() {
    // kramdown's link definitions are the document's: Markdown in an element, which postfeed
    // renders on its own, resolves references to labels defined outside it, in any case.
    // (The `markdown` attributes left on span elements are removed by the sanitizer.)
    let spec = r#"<a href="https://e.example/spec" title="Spec">"#;
    let rendered = html("<p markdown=\"1\">See [the spec][s] and [s].</p>\n\n<div markdown=\"1\">\n<span markdown=\"1\">Read [it][S]</span>\n\n* <span markdown=\"span\">[nested][s]</span>\n</div>\n\n[s]: https://e.example/spec \"Spec\"\n");
    for linked in ["the spec", "s", "it", "nested"] {
        assert!(rendered.contains(&format!("{spec}{linked}</a>")), "{linked}: {rendered}");
    }
    assert!(!rendered.contains('['), "{rendered}");
    assert_eq!(
        html("<span markdown=\"1\">[undefined][nowhere]</span>\n"),
        "<p><span markdown=\"1\">[undefined][nowhere]</span></p>\n",
        "a label defined nowhere stays text"
    );
}

#[test]
fn a_table_without_a_separator_row_in_a_footnote_is_a_table() {
    // kramdown needs no separator row; pulldown-cmark reads the definition's blocks but needs one.
    let rendered = html("Text[^n].\n\n[^n]:\n    Example:\n\n    | a | b |\n    | 0 | 1 |\n\nAfter.\n");
    assert!(
        rendered.contains("<p>Example:</p>\n<table>\n<tbody>\n<tr>\n<td>a</td>\n<td>b</td>\n</tr>\n<tr>\n<td>0</td>\n<td>1</td>\n</tr>\n</tbody>\n</table>\n"),
        "{rendered}"
    );
    assert!(rendered.contains("<p>After.</p>") && !rendered.contains('|'), "{rendered}");
    let code = html("Text.\n\n    | not | a table |\n");
    assert!(
        code.contains("<code>| not | a table |\n</code></pre>"),
        "indented code outside a footnote stays code: {code}"
    );
}

#[test]
fn an_ial_opening_a_list_item_gives_the_item_its_attributes() {
    assert_eq!(
        html("- {:#a1} Same line *text*.\n- {: .x #a2}\n  Next line\n  and more.\n\n1. {:#o1}\n   Ordered.\n2. Plain.\n"),
        "<ul>\n<li id=\"a1\">Same line <em>text</em>.</li>\n<li class=\"x\" id=\"a2\">Next line\nand more.</li>\n</ul>\n<ol>\n<li id=\"o1\">Ordered.</li>\n<li>Plain.</li>\n</ol>\n"
    );
    // Braces that do not close are text.
    assert_eq!(html("- {:#open\n"), "<ul>\n<li>{:#open</li>\n</ul>\n");
}

#[test]
fn underscore_emphasis_closes_before_a_footnote_marker_code_or_a_link() {
    // kramdown's `_` does not close before a letter or digit; `[`, `` ` `` and `<` are neither.
    let note = html("Text _emph here._[^c] more.\n\n[^c]: Note.\n");
    assert!(note.starts_with("<p>Text <em>emph here.</em><sup id=\"fnref:c\""), "{note}");
    assert_eq!(html("_a_`b` _c_[d](/e)\n"), "<p><em>a</em><code class=\"language-plaintext highlighter-rouge\">b</code> <em>c</em><a href=\"/e\">d</a></p>\n");
    assert_eq!(html("_a_b_\n"), "<p><em>a_b</em></p>\n", "before a letter it does not close");
}

#[test]
fn a_link_definition_url_with_an_unbalanced_parenthesis_is_a_definition_as_in_kramdown() {
    // CommonMark reads no definition there, and then the lines below it as a paragraph's text.
    assert_eq!(
        html("See [one], [two] and [three].\n\n[one]: https://x.org/a)\n[two]: https://x.org/(b\n[three]: https://x.org/c(d)e \"T\"\n"),
        "<p>See <a href=\"https://x.org/a)\">one</a>, <a href=\"https://x.org/(b\">two</a> and \
         <a href=\"https://x.org/c(d)e\" title=\"T\">three</a>.</p>\n"
    );
}

#[test]
fn a_quote_sees_the_character_before_it_as_kramdowns_scanner_does() {
    // Two quotes in a row where the scanner stands at the first: the first stays as written. A `<`,
    // `{` or `&` that opens nothing is text the next quote sees.
    assert_eq!(
        html("Fixed \"''nil' is old\", use '{' and '}' here, a<'b and a&'b, &\"{x}\" y.\n"),
        "<p>Fixed “'’nil’ is old”, use ‘{‘ and ‘}’ here, a&lt;’b and a&amp;’b, &amp;”{x}” y.</p>\n"
    );
}

#[test]
fn a_fence_line_that_is_text_continues_a_paragraph_in_a_list_item() {
    // `nim test="x"` is no info string for kramdown: the three lines are a paragraph with a code span,
    // in the item as at the top level.
    let out = html("* Item text:\n\n   ```nim test=\"x\"\n   body\n   ```\n\nAfter.\n");
    assert!(out.contains("<code class=\"language-plaintext highlighter-rouge\">nim test=\"x\"  body"), "{out}");
    assert!(!out.contains("<pre") && !out.contains("```") && out.contains("<p>After.</p>"), "{out}");
}

#[test]
fn a_start_tag_with_an_xml_name_is_html_to_kramdown_with_raw_content_to_the_end_of_the_block() {
    // CommonMark's tag names have no `.` or `:`; kramdown's are XML names. The content is raw, and the
    // element is closed where the paragraph ends.
    assert_eq!(
        html("To convert C <stdint.h> to *Nim* \"types\".\n\nA <xs:element name=\"x\"> b\n"),
        "<p>To convert C <stdint.h> to *Nim* \"types\".</stdint.h></p>\n<p>A <xs:element name=\"x\"> b</xs:element></p>\n"
    );
}

/// kramdown keeps no header without text: `#### ` is a paragraph, and a `#` line with no space
/// continues one. With GFM input only a closing run after a space is cut, so `# #` is a header
/// whose text is `#` (CommonMark makes both empty headers).
#[test]
fn hash_lines_without_header_text_are_as_kramdown_reads_them() {
    assert_eq!(
        html("#### \n\n# #\n\n## Dock ##\n\nwaves\n####\ncalm\n\n- ### \n\n> ##\n\n###### ######\n\n#######\n"),
        "<p>####</p>\n<h1>#</h1>\n<h2 id=\"dock\">Dock</h2>\n<p>waves\n####\ncalm</p>\n<ul>\n<li>###</li>\n</ul>\n\
         <blockquote>\n<p>##</p>\n</blockquote>\n<h6 id=\"-1\">######</h6>\n<p>#######</p>\n"
    );
    let options = Options { input: super::InputFormat::Kramdown, ..Options::default() };
    assert_eq!(with(options, "#### \n\n# #\n"), "<p>####</p>\n<p># #</p>\n");
}

/// A code span wrapped before a line that starts with `:` (which the block pass escapes, so that
/// pulldown-cmark opens no definition there) keeps no backslash.
#[test]
fn code_wrapped_before_a_colon_line_keeps_no_backslash() {
    assert_eq!(
        html("Use `f(a,\n:b)` and `g(\n:c,\n:d)`.\n\nText\n:word\n"),
        "<p>Use <code class=\"language-plaintext highlighter-rouge\">f(a, :b)</code> and \
         <code class=\"language-plaintext highlighter-rouge\">g( :c, :d)</code>.</p>\n<p>Text\n:word</p>\n"
    );
    assert_eq!(html("> Term\n> :word here\n"), "<blockquote>\n<p>Term\n:word here</p>\n</blockquote>\n");
}
