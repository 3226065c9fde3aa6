//! Integration tests: the `postfeed` binary run on temporary sites and configs, and every feed it
//! writes read back with feed-rs, a parser that owes nothing to the code that wrote the bytes.

mod abuse;
mod bad_input;
mod convergence;
mod corpora;
mod example_site;
mod faults;
mod fuzz_regressions;
mod hostile;
mod jekyll;
mod kramdown;
mod regen;
mod serve;
mod support;
mod systemd;
