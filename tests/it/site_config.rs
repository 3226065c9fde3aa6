//! A Jekyll site configures postfeed by itself: `_config.yml` supplies the site's settings, a
//! config.toml names only what it lacks, and the command line needs no config file at all.

use std::ffi::OsStr;
use std::fs;
use std::process::Command;

use std::time::Duration;

use crate::support::{self, link, post, read_feed, title, Workspace};
use crate::support::{Daemon, CHANGE_WAIT};

const EXIT_WAIT: Duration = Duration::from_secs(10);

/// A site whose `_config.yml` says everything a feed needs.
fn jekyll_site() -> Workspace {
    Workspace::with_posts(&[
        (
            "_config.yml",
            "title: 港口日报\nurl: https://port.example.com\nbaseurl: /daily\ntimezone: Asia/Shanghai\nlang: zh-CN\nauthor: 编辑部\npermalink: /:categories/:title/\nfeed:\n  posts_limit: 2\ndefaults:\n  - scope: {path: \"_posts/desk\"}\n    values: {tags: [desk], author: Desk Writer}\n".to_string(),
        ),
        ("_posts/2024-01-02-first.md", post("title: First\ndate: 2024-01-02 08:00:00 +0800\ncategories: news", "One.")),
        ("_posts/2024-01-03-second.md", post("title: Second\ndate: 2024-01-03 08:00:00 +0800", "Two.")),
        ("_posts/desk/2024-01-04-third.md", post("title: Third\ndate: 2024-01-04 08:00:00 +0800", "Three.")),
    ])
}

#[test]
fn a_config_with_only_source_and_output_works_for_a_jekyll_site() {
    let ws = jekyll_site();
    let config = ws.root().join("postfeed.toml");
    let out = ws.root().join("out");
    fs::write(
        &config,
        format!(
            "[source]\ndir = {}\n[output]\ndir = {}\n",
            support::toml_str(&ws.site().to_string_lossy()),
            support::toml_str(&out.to_string_lossy())
        ),
    )
    .unwrap();
    support::regen(&config).assert_code(0);
    let feed = read_feed(&out.join("feed.xml")).feed;
    assert_eq!(feed.title.as_ref().map(|t| t.content.as_str()), Some("港口日报"));
    // `feed.posts_limit` from _config.yml: the two newest.
    assert_eq!(feed.entries.iter().map(title).collect::<Vec<_>>(), ["Third", "Second"]);
    assert_eq!(link(&feed.entries[0]), "https://port.example.com/daily/third/");
    assert_eq!(feed.entries[0].published.unwrap().to_rfc3339(), "2024-01-04T00:00:00+00:00");
    // Front-matter defaults by path: a tag feed and the author, for the post under _posts/desk only.
    let desk = read_feed(&out.join("feed/by_tag/desk.xml")).feed;
    assert_eq!(desk.entries.iter().map(title).collect::<Vec<_>>(), ["Third"]);
    assert_eq!(desk.entries[0].authors[0].name, "Desk Writer");
    assert_eq!(feed.entries[1].authors[0].name, "编辑部");
    let news = read_feed(&out.join("feed/news.xml")).feed;
    assert_eq!(link(&news.entries[0]), "https://port.example.com/daily/news/first/");
}

#[test]
fn regen_needs_no_config_file_at_all() {
    let ws = jekyll_site();
    let out = ws.root().join("out");
    // Run where there is no config.toml, naming the site and the output folder only.
    let run = Command::new(env!("CARGO_BIN_EXE_postfeed"))
        .args(["regen", "--source"])
        .arg(ws.site())
        .arg("--output")
        .arg(&out)
        .current_dir(ws.root())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let feed = read_feed(&out.join("feed.xml")).feed;
    assert_eq!(feed.title.as_ref().map(|t| t.content.as_str()), Some("港口日报"));
    assert_eq!(feed.entries.len(), 2);

    // In the site's own folder, not even --source is needed; the output goes to ./feeds.
    let run = Command::new(env!("CARGO_BIN_EXE_postfeed")).arg("regen").current_dir(ws.site()).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(read_feed(&ws.site().join("feeds/feed.xml")).feed.entries.len(), 2);

    // Nowhere to start from: one clear line, exit 2.
    let empty = tempfile::tempdir().unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_postfeed")).arg("regen").current_dir(empty.path()).output().unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("--source") && stderr.lines().count() == 1, "{stderr}");
}

/// `--source` names the site, so a `config.toml` that happens to be in the working folder is not
/// read (it used to be, and set the wrong url and title); `--config` still reads it.
#[test]
fn with_source_the_working_folders_config_toml_is_read_only_when_named() {
    let ws = jekyll_site();
    fs::write(
        ws.root().join("config.toml"),
        "[site]\nurl = \"https://unrelated.example.org\"\ntitle = \"Unrelated\"\n",
    )
    .unwrap();
    let (site, out) = (ws.site(), ws.root().join("out"));
    let regen = |extra: &[&OsStr]| {
        let mut args = vec![OsStr::new("regen")];
        args.extend_from_slice(extra);
        args.extend([OsStr::new("--source"), site.as_os_str(), OsStr::new("--output"), out.as_os_str()]);
        support::postfeed_in(ws.root(), args)
    };
    let feed_title = || read_feed(&out.join("feed.xml")).feed.title.map(|t| t.content);

    let run = regen(&[]);
    run.assert_code(0);
    assert_eq!(feed_title().as_deref(), Some("港口日报"), "{run}");
    assert!(run.stderr.contains("--config config.toml"), "the log says how to read it: {run}");

    let run = regen(&[OsStr::new("--config"), OsStr::new("config.toml")]);
    run.assert_code(0);
    assert_eq!(feed_title().as_deref(), Some("Unrelated"), "{run}");
}

#[test]
fn check_shows_each_setting_and_where_it_came_from() {
    let ws = jekyll_site();
    let config = ws.root().join("postfeed.toml");
    fs::write(
        &config,
        format!("[site]\ntitle = \"Mine\"\n[source]\ndir = {}\n", support::toml_str(&ws.site().to_string_lossy())),
    )
    .unwrap();
    let run =
        support::postfeed(["check".as_ref(), "--config".as_ref(), config.as_os_str(), "--show-config".as_ref()]
            as [&std::ffi::OsStr; 4]);
    run.assert_code(0);
    let line = |key: &str| {
        run.stdout.lines().find(|l| l.starts_with(&format!("{key} = "))).unwrap_or_else(|| panic!("{key}\n{run}"))
    };
    assert!(
        line("site.url").contains("\"https://port.example.com/daily/\"")
            && line("site.url").ends_with("(_config.yml:2)")
    );
    assert!(line("site.title").contains("\"Mine\"") && line("site.title").ends_with("(config.toml)"));
    assert!(line("feeds.limit").contains("\"2\"") && line("feeds.limit").ends_with("(_config.yml:8)"));
    assert!(line("site.description").ends_with("(default)"));
}

#[test]
fn a_broken_or_incomplete_jekyll_config_is_one_clear_error() {
    let ws = jekyll_site();
    ws.write("_config.yml", "title: x\nurl: [https://port.example.com\n");
    let run =
        support::postfeed(["regen".as_ref(), "--source".as_ref(), ws.site().as_os_str()] as [&std::ffi::OsStr; 3]);
    run.assert_code(2);
    assert!(run.stderr.contains("_config.yml:"), "{run}");

    // Run in the site's folder, where no config.toml names a url instead.
    ws.write("_config.yml", "title: x\nurl: \"\"\n");
    let run = Command::new(env!("CARGO_BIN_EXE_postfeed")).arg("regen").current_dir(ws.site()).output().unwrap();
    assert_eq!(run.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("site.url") && stderr.contains("_config.yml"), "{stderr}");
}

/// `postfeed regen --source <site> --output <out>` with no config file, run in the workspace.
fn regen_site(ws: &Workspace, out: &std::path::Path) -> support::Run {
    support::postfeed_in(
        ws.root(),
        [OsStr::new("regen"), OsStr::new("--source"), ws.site().as_os_str(), OsStr::new("--output"), out.as_os_str()],
    )
}

/// A config.toml naming only the folders, the listening address picked by the test harness.
fn folders_only_config(ws: &Workspace) -> (std::path::PathBuf, std::path::PathBuf) {
    let config = ws.root().join("postfeed.toml");
    let out = ws.root().join("out");
    fs::write(
        &config,
        format!(
            "[source]\ndir = {}\n[output]\ndir = {}\n[server]\nquiet_ms = 50\n",
            support::toml_str(&ws.site().to_string_lossy()),
            support::toml_str(&out.to_string_lossy())
        ),
    )
    .unwrap();
    (config, out)
}

#[test]
fn serve_follows_config_data_and_includes_and_keeps_the_last_good_config() {
    let ws = jekyll_site();
    ws.write("_includes/sign.html", "<p>Signed: {{ include.who }}</p>");
    ws.write("_data/desk.yml", "motto: Tides wait for no one\n");
    ws.write(
        "_posts/2024-01-05-liquid.md",
        post(
            "title: Liquid\ndate: 2024-01-05 08:00:00 +0800",
            "{% include sign.html who=\"Mei\" %}\n\nMotto: {{ site.data.desk.motto }}.\n",
        ),
    );
    let (config, _) = folders_only_config(&ws);
    let mut daemon = Daemon::start(&config);
    let content = |daemon: &Daemon| {
        let feed = daemon.feed("/feed.xml")?;
        let entry = feed.entries.iter().find(|e| title(e) == "Liquid")?.clone();
        entry.content.and_then(|c| c.body)
    };
    let first = content(&daemon).expect("the Liquid post is in the site feed");
    assert!(first.contains("Signed: Mei") && first.contains("Tides wait for no one"), "{first}");

    // An include edited: the entry follows.
    ws.write("_includes/sign.html", "<p>Written by {{ include.who }}</p>");
    daemon.wait_for("the entry rendered with the edited include", CHANGE_WAIT, || {
        content(&daemon).filter(|c| c.contains("Written by Mei")).map(|_| ())
    });
    // A data file edited: the entry follows.
    ws.write("_data/desk.yml", "motto: Ships sail on time\n");
    daemon.wait_for("the entry rendered with the edited data", CHANGE_WAIT, || {
        content(&daemon).filter(|c| c.contains("Ships sail on time")).map(|_| ())
    });
    // _config.yml edited: the feed's title follows.
    let jekyll = fs::read_to_string(ws.site().join("_config.yml")).unwrap();
    ws.write("_config.yml", jekyll.replace("title: 港口日报", "title: Harbour Daily"));
    let feed_title = |daemon: &Daemon| daemon.feed("/feed.xml").and_then(|f| f.title).map(|t| t.content);
    daemon.wait_for("the new site title", CHANGE_WAIT, || (feed_title(&daemon)? == "Harbour Daily").then_some(()));

    // A broken _config.yml: the error is logged with its line, the last good one stays.
    ws.write("_config.yml", "title: Broken\nurl: [https://port.example.com\n");
    daemon.wait_for("the broken _config.yml logged", CHANGE_WAIT, || {
        daemon.log().lines().any(|l| l.contains("ERROR") && l.contains("_config.yml:")).then_some(())
    });
    assert_eq!(feed_title(&daemon).as_deref(), Some("Harbour Daily"));
    ws.write("_posts/2024-01-06-after.md", post("title: After\ndate: 2024-01-06 08:00:00 +0800", "After."));
    daemon.wait_titles("/feed", "a post written after the broken _config.yml", |t| {
        t.is_some_and(|t| t.iter().any(|t| t == "After"))
    });
    daemon.signal("TERM");
    assert!(daemon.wait_exit(EXIT_WAIT).success(), "{}", daemon.log());
}

/// A site whose first build keeps the debug binary busy for a second or more after it has read
/// `_config.yml` and `_data/`: eight posts in the feed loop 20,000 times each in Liquid.
fn slow_site() -> Workspace {
    let ws = Workspace::with_posts(&[(
        "_config.yml",
        "title: Old Title\nurl: https://slow.example.com\nfeed:\n  posts_limit: 8\n".to_string(),
    )]);
    ws.write("_data/desk.yml", "motto: Old motto\n");
    for day in 1..=8 {
        ws.write(
            &format!("_posts/2024-01-0{day}-slow.md"),
            post(
                &format!("title: Slow {day}\ndate: 2024-01-0{day} 08:00:00 +0800"),
                "{% for i in (1..20000) %}{% assign x = i %}{% endfor %}Motto: {{ site.data.desk.motto }}.\n",
            ),
        );
    }
    ws
}

/// Starts the daemon on `ws`, and 300 ms later, while the first build renders, applies `edit` to
/// the site folder: after the settings were read and before watching began, so only comparing
/// them with their stamps from before the build can see it.
fn start_and_edit_during_the_first_build(
    ws: &Workspace,
    edit: impl FnOnce(&std::path::Path) + Send + 'static,
) -> Daemon {
    let (config, _) = folders_only_config(ws);
    let editing = std::thread::spawn({
        let site = ws.site();
        move || {
            std::thread::sleep(Duration::from_millis(300));
            edit(&site);
            std::time::Instant::now()
        }
    });
    let daemon = Daemon::start(&config);
    let serving = std::time::Instant::now();
    let edited = editing.join().unwrap();
    // Daemon::start polls every 20 ms: the daemon was up at most that long before `serving`.
    assert!(
        edited + Duration::from_millis(100) < serving,
        "the first build ended too soon after the edit for this test to mean anything"
    );
    daemon
}

const RERENDER_WAIT: Duration = Duration::from_secs(20);

#[test]
fn data_edited_during_the_first_build_is_not_missed() {
    let ws = slow_site();
    let daemon = start_and_edit_during_the_first_build(&ws, |site| {
        fs::write(site.join("_data/desk.yml"), "motto: New motto\n").unwrap();
    });
    let mottos = |daemon: &Daemon| -> Option<Vec<String>> {
        let feed = daemon.feed("/feed.xml")?;
        Some(feed.entries.iter().filter_map(|e| e.content.as_ref()?.body.clone()).collect())
    };
    daemon.wait_for("every entry rendered with the data edited during the first build", RERENDER_WAIT, || {
        mottos(&daemon).filter(|m| m.len() == 8 && m.iter().all(|c| c.contains("New motto"))).map(|_| ())
    });
}

#[test]
fn config_yml_edited_during_the_first_build_is_not_missed() {
    let ws = slow_site();
    let daemon = start_and_edit_during_the_first_build(&ws, |site| {
        let jekyll = fs::read_to_string(site.join("_config.yml")).unwrap();
        fs::write(site.join("_config.yml"), jekyll.replace("title: Old Title", "title: New Title")).unwrap();
    });
    let feed_title = |daemon: &Daemon| daemon.feed("/feed.xml").and_then(|f| f.title).map(|t| t.content);
    daemon.wait_for("the site title edited during the first build", RERENDER_WAIT, || {
        (feed_title(&daemon)? == "New Title").then_some(())
    });
}

/// An entry that lists `site.posts` follows the posts as the daemon runs: a post added, retitled
/// or deleted shows in it after the usual update, as a new `jekyll build` would show it.
#[test]
fn serve_renders_again_the_entries_that_list_site_posts_when_posts_change() {
    let ws = jekyll_site();
    ws.write(
        "_posts/2024-01-05-index.md",
        post(
            "title: Index\ndate: 2024-01-05 08:00:00 +0800",
            "{% for p in site.posts %}[{{ p.title }}]({{ p.url | relative_url }}) {% endfor %}Count: {{ site.posts | size }}.\n",
        ),
    );
    let (config, _) = folders_only_config(&ws);
    let daemon = Daemon::start(&config);
    let index = |daemon: &Daemon| {
        let feed = daemon.feed("/feed.xml")?;
        let entry = feed.entries.iter().find(|e| title(e) == "Index")?.clone();
        entry.content.and_then(|c| c.body)
    };
    let first = index(&daemon).expect("the index post is in the site feed");
    assert!(first.contains("Count: 4.") && first.contains(">Third</a>"), "{first}");
    assert!(first.contains("/daily/news/first/"), "links are the posts' URLs: {first}");

    ws.write("_posts/2024-01-04-added.md", post("title: Added later\ndate: 2024-01-04 09:00:00 +0800", "New."));
    daemon.wait_for("the index listing the added post", CHANGE_WAIT, || {
        index(&daemon).filter(|c| c.contains(">Added later</a>") && c.contains("Count: 5.")).map(|_| ())
    });
    fs::remove_file(ws.site().join("_posts/2024-01-03-second.md")).unwrap();
    daemon.wait_for("the index without the deleted post", CHANGE_WAIT, || {
        index(&daemon).filter(|c| !c.contains(">Second</a>") && c.contains("Count: 4.")).map(|_| ())
    });
}

#[test]
fn template_problems_are_reported_with_path_and_line_and_never_shown() {
    let ws = jekyll_site();
    ws.write(
        "_posts/2024-01-05-plugin.md",
        post(
            "title: Plugin\ndate: 2024-01-05 08:00:00 +0800",
            "Before.\n\n{% youtube abc123 %}\n\n{% include missing.html %}\n\n{% figure %}Kept caption{% endfigure %}\n\nAfter {{ page.title }}.\n",
        ),
    );
    let (config, out) = folders_only_config(&ws);
    let run = support::regen(&config);
    run.assert_code(0);
    let about = run.stderr_lines_about("_posts/2024-01-05-plugin.md");
    // The front matter is lines 1-4, the body starts on line 5: the tags are on lines 7, 9 and 11.
    for (line, what) in [(7, "youtube"), (9, "missing.html"), (11, "figure")] {
        assert!(
            about.iter().any(|l| l.contains(&format!("_posts/2024-01-05-plugin.md:{line}:")) && l.contains(what)),
            "no line for {what} at line {line}:\n{run}"
        );
    }
    let feed = read_feed(&out.join("feed.xml")).feed;
    let entry = feed.entries.iter().find(|e| title(e) == "Plugin").expect("the post is kept");
    let html = entry.content.as_ref().and_then(|c| c.body.clone()).unwrap_or_default();
    assert!(html.contains("Before.") && html.contains("Kept caption") && html.contains("After Plugin."), "{html}");
    assert!(!html.contains("{%") && !html.contains("{{") && !html.contains("youtube"), "{html}");

    let check = support::check(&config);
    assert!(
        check
            .stdout_lines_about("_posts/2024-01-05-plugin.md")
            .iter()
            .any(|l| l.contains(":7:") && l.contains("youtube") && l.contains(": error: ")),
        "{check}"
    );
    assert_eq!(check.code, Some(1), "a plugin's tag costs the entry content: an error\n{check}");

    // Another template language's `{{ #each }}` prints nothing, with a warning, in Jekyll's
    // default lax Liquid, as here: a note, which check passes.
    ws.write(
        "_posts/2024-01-05-plugin.md",
        post("title: Plugin\ndate: 2024-01-05 08:00:00 +0800", "A {{ #each x }} b.\n"),
    );
    let check = support::check(&config);
    let about = check.stdout_lines_about("_posts/2024-01-05-plugin.md");
    assert!(
        about.iter().any(|l| l.contains(":5:") && l.contains(": note: ") && l.contains("{{ #each x }}")),
        "{check}"
    );
    assert_eq!(check.code, Some(0), "{check}");
}

#[test]
fn the_feed_block_chooses_which_category_and_tag_feeds_exist() {
    let ws = Workspace::with_posts(&[
        (
            "_config.yml",
            "title: Desk\nurl: https://desk.example.com\nfeed:\n  categories: [news]\n  tags:\n    only: [rates, bonds, fx]\n    except: [fx]\n".to_string(),
        ),
        ("_posts/2024-01-02-a.md", post("title: A\ndate: 2024-01-02\ncategories: [news, sport]\ntags: [rates, fx, misc]", "a")),
        ("_posts/2024-01-03-b.md", post("title: B\ndate: 2024-01-03\ncategories: sport\ntags: [bonds]", "b")),
    ]);
    let out = ws.root().join("out");
    let run = regen_site(&ws, &out);
    run.assert_code(0);
    let mut written: Vec<String> = walkdir::WalkDir::new(&out)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "xml"))
        .map(|e| e.path().strip_prefix(&out).unwrap().to_string_lossy().into_owned())
        .collect();
    written.sort();
    // `categories` lists the category feeds; `tags.only` the tag feeds, less `tags.except`.
    assert_eq!(written, ["feed.xml", "feed/by_tag/bonds.xml", "feed/by_tag/rates.xml", "feed/news.xml"]);
    assert_eq!(read_feed(&out.join("feed.xml")).feed.entries.len(), 2);
    assert_eq!(read_feed(&out.join("feed/by_tag/bonds.xml")).feed.entries.iter().map(title).collect::<Vec<_>>(), ["B"]);

    // `tags: false` turns tag feeds off, as in jekyll-feed.
    fs::write(ws.site().join("_config.yml"), "title: Desk\nurl: https://desk.example.com\nfeed:\n  tags: false\n")
        .unwrap();
    let run = regen_site(&ws, &out);
    run.assert_code(0);
    assert!(!out.join("feed/by_tag").join("rates.xml").exists());
    assert!(out.join("feed/sport.xml").exists());
}

#[test]
fn feed_path_and_tags_path_move_the_site_and_tag_feeds() {
    let yml = |feed: &str| format!("title: Paths\nurl: https://paths.example.com\nbaseurl: /daily\nfeed: {feed}\n");
    let custom = yml("{path: /atom.xml, tags: {path: alt/tags/}}");
    let ws = Workspace::with_posts(&[
        ("_config.yml", custom.clone()),
        ("_posts/2024-01-02-a.md", post("title: A\ndate: 2024-01-02\ncategories: news\ntags: [rates]", "a")),
    ]);
    let out = ws.root().join("out");
    // Run where there is no config.toml: the site's `_config.yml` says it all.
    let regen = || {
        regen_site(&ws, &out).assert_code(0);
        support::tree(&out).into_keys().collect::<Vec<_>>()
    };
    let self_link = |rel: &str| {
        let feed = read_feed(&out.join(rel)).feed;
        feed.links.iter().find(|l| l.rel.as_deref() == Some("self")).map(|l| l.href.clone())
    };
    assert_eq!(
        regen(),
        ["alt/tags/rates.rss", "alt/tags/rates.xml", "atom.rss", "atom.xml", "feed/news.rss", "feed/news.xml"]
    );
    assert_eq!(read_feed(&out.join("atom.xml")).feed.entries.iter().map(title).collect::<Vec<_>>(), ["A"]);
    assert_eq!(self_link("atom.xml").as_deref(), Some("https://paths.example.com/daily/atom.xml"));
    assert_eq!(self_link("alt/tags/rates.xml").as_deref(), Some("https://paths.example.com/daily/alt/tags/rates.xml"));
    let rss = fs::read_to_string(out.join("atom.rss")).unwrap();
    assert!(rss.contains("href=\"https://paths.example.com/daily/atom.rss\""), "{rss}");
    // Files beside the feeds that postfeed did not write stay through every change of paths.
    for rel in ["alt/tags/readme.txt", "alt/other.xml", "atom.txt"] {
        let path = out.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "not postfeed's").unwrap();
    }

    // `feed.path` gone: the site feed moves back to feed.xml and atom.* are removed.
    ws.write("_config.yml", yml("{tags: {path: alt/tags/}}"));
    assert_eq!(
        regen(),
        [
            "alt/other.xml",
            "alt/tags/rates.rss",
            "alt/tags/rates.xml",
            "alt/tags/readme.txt",
            "atom.txt",
            "feed.rss",
            "feed.xml",
            "feed/news.rss",
            "feed/news.xml"
        ]
    );
    assert_eq!(self_link("feed.xml").as_deref(), Some("https://paths.example.com/daily/feed.xml"));

    // `feed.tags.path` gone too: the tag feeds move back to feed/by_tag/.
    ws.write("_config.yml", yml("{tags: true}"));
    let written = regen();
    assert!(written.contains(&"feed/by_tag/rates.xml".to_string()), "{written:?}");
    assert!(!written.iter().any(|rel| rel.starts_with("alt/tags/rates")), "{written:?}");
    assert!(written.contains(&"alt/tags/readme.txt".to_string()) && written.contains(&"alt/other.xml".to_string()));

    // `serve` answers at the custom paths only, and moves the files there.
    ws.write("_config.yml", custom);
    let (config, served_out) = folders_only_config(&ws);
    assert_eq!(served_out, out);
    // `check --show-config` names both paths and where they came from.
    let run =
        support::postfeed(["check".as_ref(), "--config".as_ref(), config.as_os_str(), "--show-config".as_ref()]
            as [&std::ffi::OsStr; 4]);
    for line in ["feed.path = \"atom.xml\"  (_config.yml:4)", "feed.tags.path = \"alt/tags/\"  (_config.yml:4)"] {
        assert!(run.stdout.lines().any(|l| l == line), "{line}\n{run}");
    }
    let mut daemon = Daemon::start(&config);
    assert_eq!(daemon.get("/atom.xml").status, 200);
    assert_eq!(daemon.get("/atom.rss").status, 200);
    assert_eq!(daemon.get("/alt/tags/rates.xml").status, 200);
    assert_eq!(daemon.get("/feed/news.xml").status, 200);
    for gone in ["/feed.xml", "/feed.rss", "/feed/by_tag/rates.xml"] {
        assert_eq!(daemon.get(gone).status, 404, "{gone}");
    }
    let titles = daemon.titles("/atom.xml").unwrap_or_default();
    assert_eq!(titles, ["A"]);
    daemon.wait_for("the output folder in step with the custom paths", CHANGE_WAIT, || {
        (out.join("atom.xml").exists() && !out.join("feed.xml").exists() && !out.join("feed/by_tag/rates.xml").exists())
            .then_some(())
    });
    daemon.signal("TERM");
    assert!(daemon.wait_exit(EXIT_WAIT).success(), "{}", daemon.log());
}

#[test]
fn settings_of_config_yml_that_postfeed_ignores_are_notes_with_their_line() {
    let ws = Workspace::with_posts(&[
        ("_config.yml", "title: Desk\nurl: https://desk.example.com\nfeed:\n  path: /feed.rss\n".to_string()),
        ("_posts/2024-01-02-a.md", post("title: A\ndate: 2024-01-02", "a")),
    ]);
    let check = support::postfeed_in(ws.root(), [OsStr::new("check"), OsStr::new("--source"), ws.site().as_os_str()]);
    let stdout = &check.stdout;
    // A note: check passes, and fails with --strict.
    assert_eq!(check.code, Some(0), "{check}");
    let note = stdout.lines().find(|l| l.starts_with("_config.yml:3: note: ")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(note.contains("feed.path") && note.ends_with("the site feed stays at feed.xml"), "{note}");
    let strict = support::postfeed_in(
        ws.root(),
        [OsStr::new("check"), OsStr::new("--strict"), OsStr::new("--source"), ws.site().as_os_str()],
    );
    assert_eq!(strict.code, Some(1));
    // regen says it too, and writes the feed at the default path.
    let out = ws.root().join("out");
    let regen = regen_site(&ws, &out);
    regen.assert_code(0);
    assert!(regen.stderr.contains("_config.yml:3: "), "{regen}");
    assert!(out.join("feed.xml").is_file());
}
