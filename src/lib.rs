//! postfeed: Jekyll posts in, per-category and per-tag Atom and RSS feeds out.
//!
//! Items are `pub(crate)` unless the binary (`main.rs`), the fuzz targets (`fuzz/`) or the
//! integration tests (`tests/it`) use them; `unreachable_pub` keeps it that way.

#![warn(unreachable_pub)]

mod allocator;
pub mod body;
pub mod build;
pub mod cli;
pub mod config;
mod csp;
mod entry_store;
pub mod feed;
pub mod http;
pub mod logging;
pub mod markdown;
mod markup;
mod memfile;
mod metrics;
pub mod output;
mod permalink;
pub mod post;
pub mod problem;
pub mod regen;
mod sanitize;
mod scan;
pub mod serve;
mod site;
pub use site::ContentRenderer;
pub mod snapshot;
mod systemd;
pub mod template;
mod threads;
mod urls;
mod watch;
mod websub;
