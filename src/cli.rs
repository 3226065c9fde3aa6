//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

pub use crate::problem::CheckFormat;

#[derive(Debug, Parser)]
#[command(
    name = "postfeed",
    version,
    about = "Per-category and per-tag Atom and RSS feeds for a Jekyll site, kept up to date"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// How log lines are written on stderr: `text` for people, `json` (one object a line) for
    /// log collectors.
    #[arg(long, global = true, value_enum, default_value_t)]
    pub log_format: LogFormat,
}

/// The shape of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Where the configuration comes from: `config.toml`, the site's own `_config.yml`, or both.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    /// The configuration file [default: config.toml, when there is one].
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// The Jekyll site's root folder, over `source.dir`. With no config file, its `_config.yml`
    /// says everything else.
    #[arg(long)]
    pub source: Option<PathBuf>,
    /// The folder feeds are written to, over `output.dir`.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write every feed once to the output folder.
    Regen {
        #[command(flatten)]
        config: ConfigArgs,
    },
    /// Report every problem in the posts as `path:line: error|note: message`; exit 1 if there
    /// is an error (with --strict, a note too).
    Check {
        #[command(flatten)]
        config: ConfigArgs,
        /// List each setting with its value and where it came from, instead of checking posts.
        #[arg(long)]
        show_config: bool,
        /// Fail on notes too, not only on errors.
        #[arg(long)]
        strict: bool,
        /// `text`: one line a finding; `json`: one JSON list of {severity, path, line, kind,
        /// message} and nothing else on stdout.
        #[arg(long, value_enum, default_value_t)]
        format: CheckFormat,
    },
    /// Build once, serve the feeds over HTTP, and keep them up to date as posts change.
    Serve {
        #[command(flatten)]
        config: ConfigArgs,
        /// Address to listen on, overriding `server.listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
}
