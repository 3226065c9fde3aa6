//! The command line.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

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
    /// The configuration file [default: ./config.toml when there is one, unless --source is
    /// given].
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// The Jekyll site's root folder, over `source.dir`. Without --config, no config file is
    /// read: the site's `_config.yml` says everything else.
    #[arg(long)]
    pub source: Option<PathBuf>,
    /// The folder feeds are written to, over `output.dir`.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// The configuration file read when `--config` is not given (and `--source` is not either).
pub const DEFAULT_CONFIG: &str = "config.toml";

impl ConfigArgs {
    /// The configuration file to read: `--config`; else `./config.toml` when there is one and
    /// `--source` is not given. `--source` names the site on the command line, so a run gives
    /// the same feeds from any folder: a `config.toml` that happens to be in the working folder
    /// (another tool's, or postfeed's example) is not read, only noted in the log.
    pub fn config_file(&self) -> Option<PathBuf> {
        let default_here = Path::new(DEFAULT_CONFIG).is_file();
        let chosen = self.config_file_when(default_here);
        if default_here && chosen.is_none() {
            tracing::info!(
                "./{DEFAULT_CONFIG} is not read, since --source names the site; give --config {DEFAULT_CONFIG} to read it"
            );
        }
        chosen
    }

    /// [`ConfigArgs::config_file`], given whether `./config.toml` is a file.
    fn config_file_when(&self, default_here: bool) -> Option<PathBuf> {
        match &self.config {
            Some(path) => Some(path.clone()),
            None if default_here && self.source.is_none() => Some(PathBuf::from(DEFAULT_CONFIG)),
            None => None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config: Option<&str>, source: Option<&str>) -> ConfigArgs {
        ConfigArgs { config: config.map(PathBuf::from), source: source.map(PathBuf::from), output: None }
    }

    #[test]
    fn the_working_folders_config_toml_is_read_only_without_source() {
        let default = Some(PathBuf::from("config.toml"));
        assert_eq!(args(None, None).config_file_when(true), default);
        assert_eq!(args(None, None).config_file_when(false), None);
        assert_eq!(args(None, Some("site")).config_file_when(true), None);
        assert_eq!(args(Some("a.toml"), Some("site")).config_file_when(true), Some(PathBuf::from("a.toml")));
        assert_eq!(args(Some("a.toml"), None).config_file_when(false), Some(PathBuf::from("a.toml")));
    }
}
