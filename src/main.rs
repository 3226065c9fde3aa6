//! The `postfeed` binary: parse the command line, set up logs, run a command, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use postfeed::cli::{Cli, Command, ConfigArgs, LogFormat};
use postfeed::config::{Config, Sources};

/// Parsing 100,000 posts is small allocations on every core; mimalloc takes them far faster
/// than glibc's allocator (measured in BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    no_huge_pages();
    let cli = Cli::parse();
    postfeed::logging::init(cli.log_format);
    match run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            // A log collector reading JSON lines gets the reason as one of them.
            match cli.log_format {
                LogFormat::Json => tracing::error!("{error:#}"),
                LogFormat::Text => eprintln!("postfeed: error: {error:#}"),
            }
            ExitCode::from(2)
        }
    }
}

/// mimalloc asks for transparent huge pages; the kernel then zeroes 2 MiB for each first touch,
/// which at 100,000 posts cost a fifth of the run and 90 MB of memory that small heaps never fill
/// (BENCHMARKS.md). Best effort: a kernel without the option keeps its default.
fn no_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE takes integer arguments only and touches no memory of ours.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Regen { config } => {
            postfeed::regen::regen(&Config::load_from(&sources(config)?)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config, show_config: true, .. } => {
            let config = Config::load_from(&sources(config)?)?;
            for (key, value, origin) in config.describe() {
                println!("{key} = {value:?}  ({origin})");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config, show_config: false, strict, format } => {
            let counts = postfeed::regen::check(&Config::load_from(&sources(config)?)?, format)?;
            let failed = counts.errors > 0 || (strict && counts.notes > 0);
            Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Command::Serve { config, listen } => postfeed::serve::run(sources(config)?, listen).map(|()| ExitCode::SUCCESS),
    }
}

/// The config file of [`ConfigArgs::config_file`], else nothing but the site's `_config.yml`
/// (which then needs `--source`, or a site in the current folder).
fn sources(args: ConfigArgs) -> anyhow::Result<Sources> {
    let file = args.config_file();
    if file.is_none() && args.source.is_none() && !std::path::Path::new("_config.yml").is_file() {
        anyhow::bail!(
            "no config.toml here and no Jekyll site (_config.yml) in this folder: give --config FILE or --source SITE_DIR"
        );
    }
    Ok(Sources { file, source: args.source, output: args.output })
}
