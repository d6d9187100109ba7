//! The `netpol` binary: parse the arguments, run the command, map the outcome to an exit code.
//!
//! Everything that knows about the terminal, stdin/stdout and exit codes lives in this crate;
//! the library crates only return models and diagnostics.

mod alloc;
mod cli;
mod cluster;
mod cmd;
mod config;
mod confine;
mod input;
mod report;
mod side;
mod workspace;

use std::io::{self, Write as _};
use std::process::ExitCode;

use clap::Parser as _;

use crate::cmd::ExitStatus;

// Loading allocates and frees millions of small values (YAML nodes, labels); mimalloc
// makes that markedly cheaper than glibc malloc (docs/benchmarks.md, "allocator").
// Wrapped so that running out of memory exits with 2 (`alloc.rs`).
#[global_allocator]
static GLOBAL: alloc::Allocator = alloc::Allocator;

fn main() -> ExitCode {
    exit_2_on_panic();
    // clap prints usage errors itself and exits with 2 (0 for --help and --version).
    let args = cli::Args::parse();
    match args.run() {
        Ok(status) => status.into(),
        // `netpol lint | head` closing the pipe early is not a failure.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(io::stderr(), "netpol: error: {err:#}");
            ExitStatus::Error.into()
        }
    }
}

/// A panic is a bug in netpol, never a finding: it must not exit with 1 (or Rust's 101)
/// and be read as "the policies are wrong". It prints the panic and exits with 2, from
/// whichever thread panicked.
fn exit_2_on_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        let _ = writeln!(
            io::stderr(),
            "netpol: error: internal error (a bug in netpol); please report it with the input"
        );
        std::process::exit(2);
    }));
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<io::Error>())
        .any(|e| e.kind() == io::ErrorKind::BrokenPipe)
}
