//! pulldoctor's entry point: parse, run, map the outcome to an exit code.
//!
//! Exit codes, as scripts and CI rely on them:
//! - 0: nothing wrong was found;
//! - 1: a problem was diagnosed (the report says which);
//! - 2: pulldoctor itself could not run (bad arguments, unreadable files, unreachable API
//!   server); a one-line reason goes to stderr.
//!
//! One binary is both commands: started under the name `kubectl-pulldoctor` (the symlink
//! `scripts/install` makes, or krew's), kubectl runs it as the plugin `kubectl pulldoctor`, and it
//! calls itself that in help, examples and errors. A link costs nothing; a second copy of the
//! program would cost its whole size again.

use clap::{CommandFactory, FromArgMatches};
use pulldoctor::app::{self, Outcome};
use pulldoctor::cli::Cli;
use std::process::ExitCode;

/// Parses the command line, runs the command, and maps the result to an exit code.
fn main() -> ExitCode {
    // kube's TLS setup panics unless a process-wide rustls provider is chosen first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let name = invoked_as();
    let command = pulldoctor::cli::command_named(Cli::command(), &name);
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // Shell and kubectl completion's helper, outside clap so no word is taken for a flag.
    if args.get(1).map(String::as_str) == Some("__complete") {
        let done = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(pulldoctor::Error::Output)
            .and_then(|rt| rt.block_on(app::complete(&args[2..])));
        return ExitCode::from(if done.is_ok() { 0 } else { 2 });
    }
    let cli = match command
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => {
            if e.use_stderr()
                && let Some(said) = pulldoctor::cli::old_registry_skip_verify(&args, None)
            {
                eprintln!("{name}: invalid argument: {said}");
                return ExitCode::from(2);
            }
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    if let pulldoctor::cli::Command::Pod(p) = &cli.command
        && let Some(said) = pulldoctor::cli::old_registry_skip_verify(&args, Some(&p.name))
    {
        eprintln!("{name}: invalid argument: {said}");
        return ExitCode::from(2);
    }
    pulldoctor::app::init_logging(cli.verbose);
    // Nothing here spawns tasks but the HTTP clients' connections; on one thread those share
    // it with the probe instead of handing every wakeup across threads (0.4 ms of an 11 ms
    // probe). A scan keeps worker threads: its TLS handshakes and list pages are many.
    let mut builder = if matches!(cli.command, pulldoctor::cli::Command::Scan(_)) {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{name}: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let outcome = runtime.block_on(app::run(cli, &name));
    // The report is out: idle connections, worker threads and any stuck lookup on the blocking
    // pool go with the process instead of being closed and joined one by one (1.5 ms of a
    // 20 ms probe, and unbounded behind a resolver that never answers).
    runtime.shutdown_background();
    match outcome {
        Ok(Outcome::Healthy) => ExitCode::from(0),
        Ok(Outcome::ProblemFound) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{name}: {}", app::error_line(&e));
            ExitCode::from(2)
        }
    }
}

/// `kubectl pulldoctor` when run as the plugin binary (or through a symlink of that name).
fn invoked_as() -> String {
    let arg0 = std::env::args_os().next().unwrap_or_default();
    let file = std::path::Path::new(&arg0)
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    if file.starts_with("kubectl-pulldoctor") {
        "kubectl pulldoctor".to_string()
    } else {
        "pulldoctor".to_string()
    }
}
