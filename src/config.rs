//! Settings resolved once from the command line; every later stage takes these, never clap types.
//!
//! (Filled in as each command lands.)

use std::time::Duration;

use std::io::IsTerminal;

use crate::cli::{Cli, ColorChoice, OutputFormat};

/// Settings shared by every command.
#[derive(Debug, Clone)]
pub struct Common {
    /// How to draw the report.
    pub output: OutputFormat,
    /// Per-probe and per-call deadline.
    pub timeout: Duration,
    /// Verbosity (0 = warnings only).
    pub verbose: u8,
    /// Table width: the terminal's, or 100 columns when not on a terminal.
    pub width: u16,
    /// Whether `width` is a terminal's (or an exported `COLUMNS`), which a table must fit.
    pub terminal: bool,
    /// Whether to colour the output.
    pub color: bool,
}

impl Common {
    /// Resolves the global flags.
    pub fn from_cli(cli: &Cli) -> crate::Result<Common> {
        if !(cli.timeout.is_finite() && cli.timeout > 0.0 && cli.timeout <= 3600.0) {
            return Err(crate::Error::Usage(format!(
                "--timeout must be more than 0 and at most 3600 seconds, got {}",
                cli.timeout
            )));
        }
        Ok(Common {
            output: cli.output,
            timeout: Duration::from_secs_f64(cli.timeout),
            verbose: cli.verbose,
            width: table_width().unwrap_or(100),
            terminal: table_width().is_some(),
            color: use_color(cli.color, cli.output),
        })
    }
}

/// Table width: `COLUMNS` when exported, else the width of the terminal stdout is; none off a
/// terminal (the caller draws 100 columns, which read well in a log or a pager).
///
/// Interactive shells set `COLUMNS` without exporting it, so the terminal is asked itself
/// (TIOCGWINSZ on stdout).
fn table_width() -> Option<u16> {
    let exported = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|w| (1..=1000).contains(w));
    exported
        .or_else(|| terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| w.0))
        .filter(|w| *w > 0)
}

/// Colour only for tables on a terminal, unless forced; `NO_COLOR` (any value) turns `auto` off.
fn use_color(choice: ColorChoice, output: OutputFormat) -> bool {
    match choice {
        ColorChoice::Always => output == OutputFormat::Table,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            output == OutputFormat::Table
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

/// kubectl's connection flags as the live source takes them, and the per-call deadline
/// (`--request-timeout`, else `--timeout`). The token is wrapped, and so remembered by the
/// scrubber, before anything else can see it.
pub fn kube_overrides(
    f: &crate::cli::KubeFlags,
    common: &Common,
) -> crate::Result<(crate::scene::live::overrides::KubeOverrides, Duration)> {
    use crate::scene::live::overrides::{KubeOverrides, request_timeout};
    let timeout = match &f.request_timeout {
        Some(t) => request_timeout(t)?,
        None => common.timeout,
    };
    let overrides = KubeOverrides {
        as_user: f.as_user.clone(),
        as_groups: f.as_group.clone(),
        as_uid: f.as_uid.clone(),
        token: f.token.as_deref().map(crate::redacted::Redacted::new),
        server: f.server.clone(),
        certificate_authority: f.certificate_authority.clone(),
        client_certificate: f.client_certificate.clone(),
        client_key: f.client_key.clone(),
        user: f.user.clone(),
        cluster: f.cluster.clone(),
        insecure: f.insecure_skip_tls_verify.unwrap_or(false),
    };
    Ok((overrides, timeout))
}

/// `--node-root` and `--runtime`, checked.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// The copy of the node's files.
    pub root: std::path::PathBuf,
    /// `--runtime`: the runtime and its major version, overriding the Node object's.
    pub runtime: Option<(crate::taxonomy::Runtime, Option<u32>)>,
}

impl NodeSettings {
    /// None without `--node-root`; a usage error for a missing directory or an unknown runtime.
    pub fn from_args(args: &crate::cli::NodeArgs) -> crate::Result<Option<NodeSettings>> {
        let Some(root) = &args.node_root else {
            return Ok(None);
        };
        if !root.is_dir() {
            return Err(crate::Error::Usage(format!(
                "--node-root {}: not a directory (a copy of the node's files; see docs/node-root.md)",
                root.display()
            )));
        }
        let runtime = match &args.runtime {
            None => None,
            Some(r) => {
                let spec = if r.contains("://") {
                    r.clone()
                } else {
                    format!("{r}://")
                };
                match crate::node::runtime_of(&spec) {
                    (crate::taxonomy::Runtime::Unknown, _) => {
                        return Err(crate::Error::Usage(format!(
                            "--runtime {r}: expected containerd, docker or cri-o (optionally containerd://1.7.2)"
                        )));
                    }
                    known => Some(known),
                }
            }
        };
        Ok(Some(NodeSettings {
            root: root.clone(),
            runtime,
        }))
    }
}
