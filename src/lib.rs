//! postfeed: Jekyll posts in, per-category and per-tag Atom and RSS feeds out.

pub mod cli;
pub mod config;
pub mod feed;
pub mod http;
pub mod logging;
pub mod markdown;
pub mod memfile;
pub mod output;
pub mod permalink;
pub mod post;
pub mod regen;
pub mod scan;
pub mod serve;
pub mod site;
pub mod snapshot;
pub mod systemd;
pub mod watch;
