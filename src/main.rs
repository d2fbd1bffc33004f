//! pulldoctor's entry point: parse, run, map the outcome to an exit code.
//!
//! Exit codes, as scripts and CI rely on them:
//! - 0: nothing wrong was found;
//! - 1: a problem was diagnosed (the report says which);
//! - 2: pulldoctor itself could not run (bad arguments, unreadable files, unreachable API
//!   server); a one-line reason goes to stderr.

use clap::Parser;
use pulldoctor::app::{self, Outcome};
use pulldoctor::cli::Cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    // kube's TLS setup panics unless a process-wide rustls provider is chosen first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pulldoctor: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(app::run(cli)) {
        Ok(Outcome::Healthy) => ExitCode::from(0),
        Ok(Outcome::ProblemFound) => ExitCode::from(1),
        Err(e) => {
            eprintln!("pulldoctor: {e}");
            ExitCode::from(2)
        }
    }
}
