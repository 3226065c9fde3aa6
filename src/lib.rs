//! postfeed: Jekyll posts in, per-category and per-tag Atom and RSS feeds out.

pub mod config;
pub mod permalink;
pub mod post;
