//! Integration tests: the `postfeed` binary run on temporary sites and configs, and every feed it
//! writes read back with feed-rs, a parser that owes nothing to the code that wrote the bytes.

#[path = "../common/markup.rs"]
mod markup;

mod abuse;
mod bad_input;
mod browser;
mod check;
mod convergence;
mod corpora;
mod example_site;
mod faults;
mod fidelity;
mod fuzz_regressions;
mod hostile;
mod index_page;
mod jekyll;
mod jsonfeed;
mod keepalive;
mod kramdown;
mod liquid;
mod logs;
mod metrics;
mod problems;
mod regen;
mod sanitize;
mod serve;
mod site_config;
mod support;
mod systemd;
mod websub;
