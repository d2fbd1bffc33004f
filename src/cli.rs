//! The command line, as clap types. Nothing past `config.rs` sees these.
//!
//! Flags follow kubectl's conventions (`-n`, `-A`, `--context`, `--kubeconfig`, `-o`) so an
//! on-call engineer can reuse what their fingers already know.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// The version line: the crate version and the git commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("PULLDOCTOR_GIT_COMMIT"),
    ")"
);

/// Why can't this image be pulled, and what exactly do I change?
#[derive(Debug, Parser)]
#[command(
    name = "pulldoctor",
    version = VERSION,
    about = "Tells why a Kubernetes image cannot be pulled, proves it against the registry, and prints the fix",
    after_help = "Exit codes: 0 nothing wrong, 1 a problem was diagnosed, 2 pulldoctor could not run."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Output format.
    #[arg(short = 'o', long = "output", global = true, value_enum, default_value_t = OutputFormat::Table)]
    pub output: OutputFormat,

    /// Deadline in seconds for each registry probe and each API call.
    #[arg(long, global = true, default_value_t = 10.0, value_name = "SECONDS")]
    pub timeout: f64,

    /// More detail on stderr (-v, -vv); secrets are never logged.
    #[arg(short = 'v', long = "verbose", global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// When to colour the output (`NO_COLOR` is honoured by `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
}

/// `--color` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and `NO_COLOR` is unset.
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Diagnose one pod: its events, pull secrets and node, proved against the registry.
    #[command(
        after_help = "Examples:\n  pulldoctor pod nginx-registry -n shop\n  pulldoctor pod nginx-registry --snapshot fixtures/snapshots/private-ca.yaml --no-probe"
    )]
    Pod(PodArgs),
    /// Find every pull failure in a namespace or the cluster, grouped by cause.
    #[command(after_help = "Examples:\n  pulldoctor scan -A\n  pulldoctor scan -n shop -o json")]
    Scan(ScanArgs),
    /// Check that images can be pulled, as a node would: the CI smoke check.
    #[command(
        after_help = "Examples:\n  pulldoctor image reg.example.com/app:1.4 --authfile cfg.json --ca-file ca.crt\n  pulldoctor image 127.0.0.1:5000/app:1.4 --plain-http 127.0.0.1:5000 --platform linux/arm64 -o json"
    )]
    Image(ImageArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  pulldoctor completions bash > /etc/bash_completion.d/pulldoctor\n  pulldoctor completions zsh > \"${fpath[1]}/_pulldoctor\""
    )]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), or write one page per command into a directory.
    #[command(
        after_help = "Examples:\n  pulldoctor man --dir /usr/local/share/man/man1   # pulldoctor.1, pulldoctor-pod.1, …\n  pulldoctor man | man -l -"
    )]
    Man {
        /// Write pulldoctor.1 and one pulldoctor-COMMAND.1 per command into DIR (its SEE
        /// ALSO names them), instead of printing the main page.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
    /// Classify pasted `kubectl describe pod` or `kubectl get events` text, or one message.
    #[command(
        after_help = "Examples:\n  kubectl describe pod web-0 | pulldoctor explain -\n  pulldoctor explain --message 'Failed to pull image \"reg:8000/app\": ... x509: certificate signed by unknown authority'"
    )]
    Explain(ExplainArgs),
    /// On a node: probe images with the node's own files, network and kubelet's secret volumes,
    /// and print the JSON report (what `pod --from-node`'s probe pod runs; see docs/from-node.md).
    #[command(
        hide = true,
        after_help = "Examples:\n  sudo pulldoctor node-probe --host-root / reg.example.com/app:1.4\n  pulldoctor node-probe --host-root /host --secrets-dir /secrets --runtime containerd://1.7.24 reg.example.com/app:1.4"
    )]
    NodeProbe(NodeProbeArgs),
}

/// `-o` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A table for people.
    Table,
    /// Stable JSON (see docs/report.schema.json).
    Json,
    /// Plain text, one line per fact.
    Text,
    /// Markdown, for a CI job summary.
    Markdown,
}

/// Where the cluster is: kubectl's flags, or a snapshot file.
#[derive(Debug, Args, Clone)]
pub struct ClusterArgs {
    /// Namespace (default: the kubeconfig context's namespace, else `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Kubeconfig context to use.
    #[arg(long)]
    pub context: Option<String>,
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Read objects from `kubectl get … -o yaml|json` output instead of a live cluster.
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    #[command(flatten)]
    pub kube: KubeFlags,
}

/// Trust and transport flags shared by every command that probes a registry.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Registry probe")]
pub struct ProbeArgs {
    /// Do not contact any registry; diagnose from Kubernetes' text alone.
    #[arg(long)]
    pub no_probe: bool,
    /// A PEM bundle of CAs the node trusts (repeatable).
    #[arg(long = "ca-file", value_name = "FILE")]
    pub ca_files: Vec<PathBuf>,
    /// A Docker-style certificate directory (`*.crt` CAs, `*.cert`/`*.key` client pair).
    #[arg(long = "cert-dir", value_name = "DIR")]
    pub cert_dir: Option<PathBuf>,
    /// A copy of a node's certs.d root (docker, containerd hosts.toml, or containers).
    #[arg(long = "certs-dir", value_name = "ROOT")]
    pub certs_dir: Option<PathBuf>,
    /// Skip TLS verification for this registry or token host only, HOST[:PORT] (repeatable;
    /// reported in every format). Not the API server's: that is `--insecure-skip-tls-verify`.
    #[arg(
        id = "registry_insecure_skip_verify",
        long = "registry-insecure-skip-verify",
        value_name = "HOST[:PORT]"
    )]
    pub insecure_skip_tls_verify: Vec<String>,
    /// Speak plain HTTP to this registry or token host only, HOST[:PORT] (repeatable;
    /// reported in every format).
    #[arg(long = "plain-http", value_name = "HOST[:PORT]")]
    pub plain_http: Vec<String>,
    /// Connect to ADDR for HOST:PORT, keeping HOST for TLS (SNI, certificate) and `Host:`, as
    /// curl's --resolve does (repeatable; also for a token realm on another host). For split
    /// DNS, a name only the node's /etc/hosts knows, or one replica behind a load balancer.
    #[arg(long = "resolve", value_name = "HOST:PORT:ADDR")]
    pub resolve: Vec<String>,
    /// Also list the registry's `_catalog` (never part of the diagnosis).
    #[arg(long)]
    pub catalog: bool,
}

/// Reading a node's own runtime configuration (`pod`, `image`, `scan`).
#[derive(Debug, Args, Clone, Default)]
pub struct NodeArgs {
    /// A copy of a node's files (see docs/node-root.md): its runtime's mirrors, per-registry
    /// CAs, insecure registries, proxy, node-level credentials and /etc/hosts are read from it,
    /// and its CA bundle replaces this machine's roots.
    #[arg(long = "node-root", value_name = "DIR")]
    pub node_root: Option<PathBuf>,
    /// The node's runtime when no Node object says (`image`): containerd, docker or cri-o,
    /// optionally as containerRuntimeVersion reports it (containerd://1.7.2).
    #[arg(long = "runtime", value_name = "RUNTIME", requires = "node_root")]
    pub runtime: Option<String>,
}

/// `pulldoctor pod`.
#[derive(Debug, Args)]
pub struct PodArgs {
    /// The pod's name.
    pub name: String,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub probe: ProbeArgs,
    #[command(flatten)]
    pub watch: WatchArgs,
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub from_node: FromNodeArgs,
}

/// `pulldoctor scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Every namespace.
    #[arg(short = 'A', long = "all-namespaces")]
    pub all_namespaces: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// How many registry probes run at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub node: NodeArgs,
    #[command(flatten)]
    pub from_nodes: FromNodesArgs,
}

/// `pulldoctor image`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// Image references to check.
    #[arg(value_name = "REF")]
    pub refs: Vec<String>,
    /// Read references from a file, one per line.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// A docker config.json (default: $DOCKER_CONFIG/config.json, then ~/.docker/config.json).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Credentials as user:password (prefer --password-stdin).
    #[arg(long, value_name = "USER:PASS")]
    pub creds: Option<String>,
    /// Username, with the password read from stdin.
    #[arg(long, requires = "password_stdin")]
    pub username: Option<String>,
    /// Read the password from stdin (one trailing newline dropped; more than 64 KiB is refused).
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
    /// Platform to check, os/arch[/variant] (repeatable; default linux/amd64).
    #[arg(long = "platform", value_name = "OS/ARCH")]
    pub platforms: Vec<String>,
    /// A reference pullable only with TLS trust skipped (plain HTTP, an unverified
    /// certificate) is a problem (exit 1), with the cause verification would have found.
    #[arg(long)]
    pub require_verified_tls: bool,
    #[command(flatten)]
    pub probe: ProbeArgs,
    #[command(flatten)]
    pub node: NodeArgs,
}

/// `pulldoctor explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// A file of `kubectl describe pod` / `kubectl get events` text, or `-` for stdin.
    #[arg(value_name = "FILE|-", conflicts_with = "message")]
    pub input: Option<String>,
    /// Classify exactly one message.
    #[arg(long)]
    pub message: Option<String>,
    /// The event reason that came with --message (e.g. Failed, ErrImagePull).
    #[arg(long, requires = "message")]
    pub reason: Option<String>,
}

/// The clap command under the name it was invoked by, with examples rewritten to match
/// (`kubectl pulldoctor pod …` for the plugin).
pub fn command_named(cmd: clap::Command, name: &str) -> clap::Command {
    if name == "pulldoctor" {
        return cmd;
    }
    let rename = |c: clap::Command| {
        let help = c.get_after_help().map(|h| h.to_string());
        match help {
            Some(h) => c.after_help(h.replace("pulldoctor ", &format!("{name} "))),
            None => c,
        }
    };
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    let mut cmd = cmd
        .bin_name(name.to_string())
        .display_name(name.to_string());
    for sub in names {
        cmd = cmd.mut_subcommand(sub, rename);
    }
    cmd
}

// ---- kubectl habits (#18): selectors, --watch, the API server's auth and TLS flags ----

/// `scan`'s pod selectors, as `kubectl get pods` takes them.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Pod selection")]
pub struct SelectArgs {
    /// Only pods whose labels match, kubectl's grammar (`app=web`, `tier in (a,b)`, `!canary`).
    #[arg(short = 'l', long = "selector", value_name = "SELECTOR")]
    pub selector: Option<String>,
    /// Only pods whose fields match (`spec.nodeName=worker-1`, `status.phase!=Running`).
    #[arg(long = "field-selector", value_name = "SELECTOR")]
    pub field_selector: Option<String>,
}

/// `pod --watch`.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Watch")]
pub struct WatchArgs {
    /// Keep watching: one line per change of a container's verdict, until its images pull
    /// (exit 0) or Ctrl-C (the last verdict's exit code). Live clusters only.
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// How often `--watch` reads the pod and its events again.
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 2.0,
        requires = "watch"
    )]
    pub watch_interval: f64,
}

/// kubectl's flags for reaching the API server, passed through as a plugin should.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "API server connection (kubectl's flags)")]
pub struct KubeFlags {
    /// Username to impersonate for the API calls.
    #[arg(long = "as", value_name = "USER")]
    pub as_user: Option<String>,
    /// Group to impersonate (repeatable).
    #[arg(long = "as-group", value_name = "GROUP")]
    pub as_group: Vec<String>,
    /// UID to impersonate.
    #[arg(long = "as-uid", value_name = "UID")]
    pub as_uid: Option<String>,
    /// Bearer token for the API server (never logged or printed).
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// The API server's address and port.
    #[arg(short = 's', long, value_name = "URL")]
    pub server: Option<String>,
    /// Deadline for each API call (`30s`, `1m`; `0`: an hour); default `--timeout`.
    #[arg(long = "request-timeout", value_name = "DURATION")]
    pub request_timeout: Option<String>,
    /// A CA bundle the API server's certificate must chain to.
    #[arg(long = "certificate-authority", value_name = "FILE")]
    pub certificate_authority: Option<PathBuf>,
    /// A client certificate file for TLS.
    #[arg(long = "client-certificate", value_name = "FILE")]
    pub client_certificate: Option<PathBuf>,
    /// A client key file for TLS.
    #[arg(long = "client-key", value_name = "FILE")]
    pub client_key: Option<PathBuf>,
    /// The kubeconfig user to use.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// The kubeconfig cluster to use.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// Do not verify the API server's certificate (kubectl's meaning; for a registry see
    /// `--registry-insecure-skip-verify`).
    #[arg(long = "insecure-skip-tls-verify", num_args = 0..=1, require_equals = true,
          default_missing_value = "true", value_name = "BOOL")]
    pub insecure_skip_tls_verify: Option<bool>,
}

/// The old `--insecure-skip-tls-verify HOST` (a registry) in `args`, which now means the API
/// server and takes no host: the error that names the flag that replaced it.
pub fn old_registry_skip_verify(args: &[String], pod_name: Option<&str>) -> Option<String> {
    const FLAG: &str = "--insecure-skip-tls-verify";
    let old = args.iter().enumerate().any(|(i, a)| {
        if let Some(v) = a.strip_prefix(FLAG).and_then(|r| r.strip_prefix('=')) {
            return !matches!(v, "true" | "false");
        }
        if a != FLAG {
            return false;
        }
        let next = args.get(i + 1).map(String::as_str);
        match (next, pod_name) {
            // Parsed: only a "pod name" no pod can have was really a registry.
            (Some(n), Some(p)) => n == p && !crate::diagnose::names::dns_subdomain(p),
            // Clap refused the line: a value after the flag, or a command without the flag.
            (Some(n), None) => !n.starts_with('-') || args.iter().any(|a| a == "image"),
            (None, p) => p.is_none() && args.iter().any(|a| a == "image"),
        }
    });
    old.then(|| {
        format!(
            "{FLAG} now means the API server's certificate, as in kubectl, and takes no host; \
             to skip verifying a registry's certificate use --registry-insecure-skip-verify HOST[:PORT]"
        )
    })
}

// ---- the probe from the node (#17): `node-probe` and `pod --from-node` ----

/// `pulldoctor node-probe`.
#[derive(Debug, Args, Clone)]
pub struct NodeProbeArgs {
    /// Image references to probe, as the pod spec writes them.
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
    /// Where the node's filesystem is: `/` over SSH, `/host` in the probe pod.
    #[arg(long = "host-root", value_name = "DIR")]
    pub host_root: PathBuf,
    /// Pull secrets as kubelet mounts secret volumes: `DIR/NAME/.dockerconfigjson` or
    /// `DIR/NAME/.dockercfg`, one directory per secret.
    #[arg(long = "secrets-dir", value_name = "DIR")]
    pub secrets_dir: Option<PathBuf>,
    /// The pod's pull secrets in its order (repeatable; default: every directory under
    /// --secrets-dir, by name).
    #[arg(long = "pull-secret", value_name = "NAME", requires = "secrets_dir")]
    pub pull_secrets: Vec<String>,
    /// The pod's namespace, which names the secrets in the report.
    #[arg(
        long = "secrets-namespace",
        value_name = "NS",
        default_value = "default"
    )]
    pub secrets_namespace: String,
    /// The node's runtime (containerd, docker, cri-o, optionally containerd://1.7.2);
    /// default: found from the files under --host-root.
    #[arg(long = "runtime", value_name = "RUNTIME")]
    pub runtime: Option<String>,
    /// The node's platform, os/arch[/variant] (default linux/amd64).
    #[arg(long = "platform", value_name = "OS/ARCH")]
    pub platform: Option<String>,
}

/// `pod --from-node`: the probe pod on the failing pod's node.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Probe from the node (creates one pod)")]
pub struct FromNodeArgs {
    /// Also probe from the pod's node, in a short-lived pod there (hostNetwork, read-only
    /// hostPath mounts, the pod's pull secrets as volumes); deleted in every outcome.
    #[arg(long = "from-node")]
    pub from_node: bool,
    /// Namespace for the probe pod (default: the pod's own, which holds its pull secrets).
    #[arg(long = "probe-namespace", value_name = "NS", requires = "from_node")]
    pub probe_namespace: Option<String>,
    /// The image the probe pod runs (built from the repository's Dockerfile; required unless
    /// this build names one).
    #[arg(long = "node-image", value_name = "IMAGE", requires = "from_node")]
    pub node_image: Option<String>,
    /// How long to wait for the probe pod to finish.
    #[arg(
        long = "probe-timeout",
        value_name = "SECONDS",
        default_value_t = 120.0,
        requires = "from_node"
    )]
    pub probe_timeout: f64,
    /// Also mount kubelet's /var/lib/kubelet read-only, to read its node-level config.json
    /// (the directory also holds every pod's volumes on that node: secrets and tokens).
    #[arg(long = "node-credentials", requires = "from_node")]
    pub node_credentials: bool,
}

/// `scan --from-nodes`: a probe pod per node with failing pods.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "Probe from the nodes (creates one pod per node)")]
pub struct FromNodesArgs {
    /// Also probe from each node with failing pods, in a short-lived pod there that probes the
    /// distinct images failing on it (see `pod --from-node`); each deleted in every outcome.
    #[arg(long = "from-nodes")]
    pub from_nodes: bool,
    /// How many probe pods run at once.
    #[arg(
        long = "node-concurrency",
        value_name = "N",
        default_value_t = 4,
        requires = "from_nodes"
    )]
    pub node_concurrency: usize,
    /// Namespace for the probe pods (default: each node's first failing pod's, whose pull
    /// secrets it mounts).
    #[arg(long = "probe-namespace", value_name = "NS", requires = "from_nodes")]
    pub probe_namespace: Option<String>,
    /// The image the probe pods run (built from the repository's Dockerfile; required unless
    /// this build names one).
    #[arg(long = "node-image", value_name = "IMAGE", requires = "from_nodes")]
    pub node_image: Option<String>,
    /// How long to wait for each probe pod to finish.
    #[arg(
        long = "probe-timeout",
        value_name = "SECONDS",
        default_value_t = 120.0,
        requires = "from_nodes"
    )]
    pub probe_timeout: f64,
    /// Also mount kubelet's /var/lib/kubelet read-only on each node (see `pod
    /// --node-credentials`).
    #[arg(long = "node-credentials", requires = "from_nodes")]
    pub node_credentials: bool,
}
