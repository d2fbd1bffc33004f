//! The one orchestrator: gather → classify → credentials → trust → probe → diagnose → fix → render.
//!
//! (Commands are wired in as their stages land.)

use crate::cli::{Cli, Command};
use crate::config::Common;

/// What a run concluded, mapped to the exit code by `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing wrong was found (exit 0).
    Healthy,
    /// At least one problem was diagnosed (exit 1).
    ProblemFound,
}

/// Runs one command to completion, writing the report to stdout.
pub async fn run(cli: Cli) -> crate::Result<Outcome> {
    let _common = Common::from_cli(&cli)?;
    match cli.command {
        Command::Pod(_) | Command::Scan(_) | Command::Image(_) | Command::Explain(_) => Err(
            crate::Error::Usage("this command is not implemented yet".to_string()),
        ),
    }
}
