//! Renders Markdown from stdin with `postfeed::markdown` and Jekyll's default options, for trying things out:
//! `echo '"Hi" -- {:toc}' | cargo run --example kramdown_render`.

use std::io::Read;

fn main() {
    let mut input = String::new();
    std::io::stdin().read_to_string(&mut input).expect("stdin is UTF-8");
    print!("{}", postfeed::markdown::render(&input, &postfeed::markdown::Options::default()));
}
