//! The one orchestrator: gather → classify → credentials → trust → probe → diagnose → fix → render.
//!
//! Each command has its own file here that runs the stages in order and fills one `Report`;
//! the stages themselves live in their modules, and nothing here formats output by hand.

mod explain;
mod input;

use std::io::Write;

use crate::cli::{Cli, Command};
use crate::config::Common;
use crate::report::{self, Report, Style};

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
    let common = Common::from_cli(&cli)?;
    let report = match cli.command {
        Command::Explain(args) => explain::run(&args)?,
        Command::Pod(_) | Command::Scan(_) | Command::Image(_) => {
            return Err(crate::Error::Usage(
                "this command is not implemented yet".to_string(),
            ));
        }
    };
    emit(&report, &common)?;
    Ok(if report.has_problems() { Outcome::ProblemFound } else { Outcome::Healthy })
}

/// Draws the report on stdout; a closed pipe (`| head`) is not an error.
fn emit(report: &Report, common: &Common) -> crate::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let style = Style { width: common.width };
    let written = report::render(report, common.output, style, &mut out).and_then(|_| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(crate::Error::Output),
    }
}
