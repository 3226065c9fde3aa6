//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "postfeed",
    version,
    about = "Per-category and per-tag Atom and RSS feeds for a Jekyll site, kept up to date"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write every feed once to the output folder.
    Regen {
        /// The configuration file.
        #[arg(long, short, default_value = "config.toml")]
        config: PathBuf,
    },
    /// Report every problem in the posts (path:line: message); exit 1 if there is any.
    Check {
        #[arg(long, short, default_value = "config.toml")]
        config: PathBuf,
    },
    /// Build once, serve the feeds over HTTP, and keep them up to date as posts change.
    Serve {
        #[arg(long, short, default_value = "config.toml")]
        config: PathBuf,
        /// Address to listen on, overriding `server.listen`.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
}
