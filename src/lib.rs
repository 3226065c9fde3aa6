//! postfeed: Jekyll posts in, per-category and per-tag Atom and RSS feeds out.

pub mod config;
pub mod permalink;
pub mod post;
pub mod feed;
pub mod scan;
pub mod site;
pub mod snapshot;
pub mod cli;
pub mod logging;
pub mod regen;
pub mod serve;
pub mod http;
pub mod watch;
pub mod systemd;
