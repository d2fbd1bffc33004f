//! The one orchestrator: gather → classify → credentials → trust → probe → diagnose → fix → render.
//!
//! Each command has its own file here that runs the stages in order and fills one `Report`;
//! the stages themselves live in their modules, and nothing here formats output by hand.

mod complete;
mod creds;
mod evidence;
mod explain;
mod from_node;
mod from_nodes;
mod history;
mod image;
mod input;
mod node_probe;
mod pod;
mod probing;
mod scan;
mod watch;

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

/// Connects to the cluster kubectl-style (`--kubeconfig`, `KUBECONFIG`, `--context`, `-n`).
async fn connect(
    c: &crate::cli::ClusterArgs,
    common: &Common,
) -> crate::Result<crate::scene::live::LiveSource> {
    connect_selecting(c, common, Default::default()).await
}

/// [`connect`], with `scan`'s pod selectors sent along with the pod list; kubectl's
/// connection flags (`--server`, `--token`, `--as`, `--request-timeout`, …) applied.
async fn connect_selecting(
    c: &crate::cli::ClusterArgs,
    common: &Common,
    selectors: crate::scene::selector::PodSelectors,
) -> crate::Result<crate::scene::live::LiveSource> {
    let (overrides, timeout) = crate::config::kube_overrides(&c.kube, common)?;
    let opts = crate::scene::live::LiveOptions {
        kubeconfig: c.kubeconfig.clone(),
        context: c.context.clone(),
        namespace: c.namespace.clone(),
        timeout,
        overrides,
        selectors,
        ..Default::default()
    };
    crate::scene::live::LiveSource::connect(&opts).await
}

/// Sends tracing output to stderr at the level `-v` asks for. pulldoctor's own secrets only
/// exist as `Redacted`; what a registry or cluster echoes is scrubbed and made inert per line.
///
/// Libraries stay silent below `-vv`: their errors (kube's on an unreachable API server) repeat
/// the one-line error pulldoctor prints anyway. kube's client stays silent at every level: its
/// warning on an unreadable object quotes the whole response body, a Secret's data included.
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "off,pulldoctor=warn",
        1 => "off,pulldoctor=info",
        2 => "warn,kube_client=off,pulldoctor=debug",
        _ => "info,kube_client=off,pulldoctor=trace",
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(|| ScrubbedStderr)
        .with_env_filter(tracing_subscriber::EnvFilter::new(level))
        .without_time()
        .try_init();
}

/// Standard error, with every remembered secret masked and every control made inert.
struct ScrubbedStderr;

impl Write for ScrubbedStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let clean = crate::scrub::current().scrub(&text);
        let clean = report::inert(&clean, report::Layout::Block);
        std::io::stderr().lock().write_all(clean.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// The one line an error prints on stderr: no remembered secret, no control character.
pub fn error_line(e: &crate::Error) -> String {
    let clean = crate::scrub::current().scrub(&e.to_string());
    report::inert(&clean, report::Layout::Line).into_owned()
}

/// `__complete WORDS…`: completion candidates for the last word (see `complete.rs`).
pub async fn complete(words: &[String]) -> crate::Result<()> {
    complete::run(words).await
}

/// Runs one command to completion, writing the report to stdout. `name` is how the user
/// invoked us (`pulldoctor` or `kubectl pulldoctor`).
pub async fn run(cli: Cli, name: &str) -> crate::Result<Outcome> {
    let common = Common::from_cli(&cli)?;
    let report = match cli.command {
        Command::Completions { shell } => {
            let mut cmd = crate::cli::command_named(<Cli as clap::CommandFactory>::command(), name);
            let bin = name.replace(' ', "-");
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, bin.clone(), &mut buf);
            let script = complete::wire(shell, &bin, String::from_utf8_lossy(&buf).into_owned());
            write_stdout(script.as_bytes())?;
            return Ok(Outcome::Healthy);
        }
        Command::Man { dir } => {
            // No `help` page: the SEE ALSO section then names only pages `--dir` writes. The
            // pages are the program's whatever name started it: `kubectl pulldoctor-pod.1`,
            // with a space, is no man page name.
            let cmd = <Cli as clap::CommandFactory>::command().disable_help_subcommand(true);
            match dir {
                Some(dir) => clap_mangen::generate_to(cmd, &dir).map_err(crate::Error::Output)?,
                None => {
                    let mut buf = Vec::new();
                    clap_mangen::Man::new(cmd)
                        .render(&mut buf)
                        .map_err(crate::Error::Output)?;
                    write_stdout(&buf)?;
                }
            }
            return Ok(Outcome::Healthy);
        }
        Command::Explain(args) => explain::run(&args)?,
        Command::Pod(args) if args.watch.watch => return watch::run(&args, &common).await,
        Command::Pod(args) => pod::run(&args, &common).await?,
        Command::Image(args) => image::run(&args, &common).await?,
        Command::Scan(args) => scan::run(&args, &common).await?,
        Command::NodeProbe(args) => {
            // Always the JSON shape: the probe pod's log is read back by the laptop side.
            let report = node_probe::run(&args, &common).await?;
            let common = Common {
                output: crate::cli::OutputFormat::Json,
                color: false,
                ..common
            };
            return finish(report, &common);
        }
    };
    finish(report, &common)
}

/// Draws the report and says what it concluded.
fn finish(mut report: Report, common: &Common) -> crate::Result<Outcome> {
    // A registry or cluster may have echoed a secret into any string; none is drawn.
    report.scrub_secrets();
    emit(&report, common)?;
    Ok(if report.has_problems() {
        Outcome::ProblemFound
    } else {
        Outcome::Healthy
    })
}

/// Writes bytes to stdout; a closed pipe (`| head`) is not an error.
fn write_stdout(bytes: &[u8]) -> crate::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(crate::Error::Output),
    }
}

/// Draws the report on stdout; a closed pipe (`| head`) is not an error.
fn emit(report: &Report, common: &Common) -> crate::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let style = Style {
        width: common.width,
        color: common.color,
        terminal: common.terminal,
    };
    let written = report::render(report, common.output, style, &mut out).and_then(|_| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(crate::Error::Output),
    }
}
