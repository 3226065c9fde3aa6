//! The `postfeed` binary: parse the command line, set up logs, run a command, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;
use postfeed::cli::{Cli, Command};
use postfeed::config::Config;

/// Parsing 100,000 posts is small allocations on every core; mimalloc takes them far faster
/// than glibc's allocator (measured in BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    no_huge_pages();
    let cli = Cli::parse();
    postfeed::logging::init();
    match run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("postfeed: error: {error:#}");
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
            postfeed::regen::regen(&Config::load(&config)?)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config } => {
            let problems = postfeed::regen::check(&Config::load(&config)?)?;
            Ok(if problems == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Serve { config, listen } => postfeed::serve::run(&config, listen).map(|()| ExitCode::SUCCESS),
    }
}
