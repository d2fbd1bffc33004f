//! Completion of pod, namespace, context, cluster and user names: the hidden
//! `pulldoctor __complete WORDS…` prints the candidates for the last word in Cobra's
//! `__complete` format (one per line, then `:DIRECTIVE`), which is what kubectl (≥ 1.26) reads
//! from a plugin's `kubectl_complete-<plugin>` helper; the bash, zsh and fish scripts call it
//! too, falling back to their static completion when it offers nothing.
//!
//! Contexts, clusters and users come from the kubeconfig alone; pods and namespaces from the
//! cluster it names (honouring `--kubeconfig`, `--context`, `-n` and kubectl's connection flags
//! already typed), with a short deadline, so a slow cluster never hangs the shell.

use std::time::Duration;

use clap::CommandFactory;

use crate::cli::{Cli, ClusterArgs, KubeFlags};
use crate::scene::live::overrides::read_kubeconfig;

/// Cobra's directive: the candidates are all there is; no file names.
const NO_FILE_COMP: u8 = 4;
/// Cobra's default: the shell may complete file names.
const DEFAULT: u8 = 0;
/// The longest a completion waits for the API server.
const DEADLINE: Duration = Duration::from_secs(5);

/// What the word being completed is.
#[derive(Debug, PartialEq, Eq)]
enum Want {
    Pods,
    Namespaces,
    Contexts,
    Clusters,
    Users,
    Subcommands,
    Flags(String),
    Nothing,
}

/// Prints the candidates for the last of `words` (the command line after the program name).
pub async fn run(words: &[String]) -> crate::Result<()> {
    let (current, before) = match words.split_last() {
        Some((c, b)) => (c.as_str(), b),
        None => ("", &[][..]),
    };
    let (prefix, current) = split_inline(current);
    let want = what_to_complete(before, prefix.as_deref(), current);
    let cluster = cluster_args(before);
    let names = match &want {
        Want::Pods | Want::Namespaces => live_names(&want, &cluster).await,
        Want::Contexts | Want::Clusters | Want::Users => kubeconfig_names(&want, &cluster),
        Want::Subcommands => Cli::command()
            .get_subcommands()
            .filter(|s| !s.is_hide_set() && s.get_name() != "help")
            .map(|s| s.get_name().to_string())
            .collect(),
        Want::Flags(sub) => flags_of(sub),
        Want::Nothing => Vec::new(),
    };
    let mut out = String::new();
    for n in names.iter().filter(|n| n.starts_with(current)) {
        out.push_str(prefix.as_deref().unwrap_or(""));
        out.push_str(n);
        out.push('\n');
    }
    let directive = if want == Want::Nothing {
        DEFAULT
    } else {
        NO_FILE_COMP
    };
    out.push_str(&format!(":{directive}\n"));
    super::write_stdout(out.as_bytes())
}

/// `--namespace=sh` is completed as `sh` with `--namespace=` put back in front.
fn split_inline(word: &str) -> (Option<String>, &str) {
    match word.split_once('=') {
        Some((flag, value)) if flag.starts_with("--") => (Some(format!("{flag}=")), value),
        _ => (None, word),
    }
}

/// The flags whose value is a name we can list.
fn named_value(flag: &str) -> Option<Want> {
    match flag.trim_end_matches('=') {
        "-n" | "--namespace" => Some(Want::Namespaces),
        "--context" => Some(Want::Contexts),
        "--cluster" => Some(Want::Clusters),
        "--user" => Some(Want::Users),
        _ => None,
    }
}

fn what_to_complete(before: &[String], inline: Option<&str>, current: &str) -> Want {
    if let Some(flag) = inline {
        return named_value(flag).unwrap_or(Want::Nothing);
    }
    if let Some(w) = before.last().and_then(|p| named_value(p)) {
        return w;
    }
    let positionals = positionals(before);
    let Some(sub) = positionals.first() else {
        return if current.starts_with('-') {
            Want::Nothing
        } else {
            Want::Subcommands
        };
    };
    if current.starts_with('-') {
        return Want::Flags(sub.clone());
    }
    if sub == "pod" && positionals.len() == 1 && !takes_value(sub, before.last()) {
        return Want::Pods;
    }
    Want::Nothing
}

/// Whether `flag` (the word before the one being completed) wants a value.
fn takes_value(sub: &str, flag: Option<&String>) -> bool {
    let Some(flag) = flag.filter(|f| f.starts_with('-') && !f.contains('=')) else {
        return false;
    };
    let cmd = Cli::command();
    let sub_cmd = cmd.find_subcommand(sub);
    let args = cmd
        .get_arguments()
        .chain(sub_cmd.into_iter().flat_map(|s| s.get_arguments()));
    for a in args {
        let long = a.get_long().map(|l| format!("--{l}"));
        let short = a.get_short().map(|s| format!("-{s}"));
        if long.as_deref() == Some(flag.as_str()) || short.as_deref() == Some(flag.as_str()) {
            return a.get_action().takes_values()
                && a.get_num_args().is_none_or(|r| r.min_values() > 0);
        }
    }
    false
}

/// The positional words (subcommand first), skipping flags and the values they take.
fn positionals(words: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut skip = false;
    for (i, w) in words.iter().enumerate() {
        if skip {
            skip = false;
            continue;
        }
        if w.starts_with('-') {
            let sub = out.first().map_or("", String::as_str);
            skip = takes_value(sub, Some(&words[i]));
            continue;
        }
        out.push(w.clone());
    }
    out
}

/// The value of the last `flag` (or `--flag=value`) among `words`.
fn value_of(words: &[String], names: &[&str]) -> Option<String> {
    let mut found = None;
    for (i, w) in words.iter().enumerate() {
        for n in names {
            if w == n {
                found = words.get(i + 1).cloned();
            } else if let Some(v) = w.strip_prefix(&format!("{n}=")) {
                found = Some(v.to_string());
            }
        }
    }
    found
}

/// The cluster flags already typed.
fn cluster_args(words: &[String]) -> ClusterArgs {
    let v = |names: &[&str]| value_of(words, names);
    ClusterArgs {
        namespace: v(&["-n", "--namespace"]),
        context: v(&["--context"]),
        kubeconfig: v(&["--kubeconfig"]).map(Into::into),
        snapshot: None,
        kube: KubeFlags {
            token: v(&["--token"]),
            server: v(&["-s", "--server"]),
            user: v(&["--user"]),
            cluster: v(&["--cluster"]),
            certificate_authority: v(&["--certificate-authority"]).map(Into::into),
            insecure_skip_tls_verify: words
                .iter()
                .any(|w| w == "--insecure-skip-tls-verify")
                .then_some(true),
            as_user: v(&["--as"]),
            ..KubeFlags::default()
        },
    }
}

/// Pods of the namespace, or the namespaces, from the cluster; nothing on any error.
async fn live_names(want: &Want, cluster: &ClusterArgs) -> Vec<String> {
    let common = crate::config::Common {
        output: crate::cli::OutputFormat::Text,
        timeout: DEADLINE,
        verbose: 0,
        width: 100,
        terminal: false,
        color: false,
    };
    let read = async {
        let live = super::connect(cluster, &common).await?;
        match want {
            Want::Pods => live.pod_names(live.namespace()).await,
            _ => live.namespace_names().await,
        }
    };
    match tokio::time::timeout(DEADLINE, read).await {
        Ok(Ok(names)) => names,
        _ => Vec::new(),
    }
}

/// Context, cluster or user names of the kubeconfig kubectl would read.
fn kubeconfig_names(want: &Want, cluster: &ClusterArgs) -> Vec<String> {
    let Some(kc) = read_kubeconfig(cluster.kubeconfig.as_deref()) else {
        return Vec::new();
    };
    let mut names: Vec<String> = match want {
        Want::Contexts => kc.contexts.into_iter().map(|c| c.name).collect(),
        Want::Clusters => kc.clusters.into_iter().map(|c| c.name).collect(),
        _ => kc.auth_infos.into_iter().map(|a| a.name).collect(),
    };
    names.sort();
    names
}

/// The long flags of a subcommand and the global ones.
fn flags_of(sub: &str) -> Vec<String> {
    let cmd = Cli::command();
    let mut out: Vec<String> = cmd
        .get_arguments()
        .chain(
            cmd.find_subcommand(sub)
                .into_iter()
                .flat_map(|s| s.get_arguments()),
        )
        .filter(|a| !a.is_hide_set())
        .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The completion script for `shell`, with the name completion wired in front of clap's:
/// the function clap defined is found in its own script (its naming differs per shell).
pub fn wire(shell: clap_complete::Shell, bin: &str, script: String) -> String {
    let f = bin.replace('-', "_");
    let after = |marker: &str| {
        script
            .split(marker)
            .nth(1)
            .and_then(|t| t.split_whitespace().next())
            .map(str::to_string)
    };
    match shell {
        clap_complete::Shell::Bash => {
            let Some(clap_fn) = after("complete -F ") else {
                return script;
            };
            format!(
                "{script}\n# Names (pods, namespaces, contexts) from `{bin} __complete`, else the above.\n\
                 _{f}_names() {{\n    local out line\n    out=$(\"${{COMP_WORDS[0]}}\" __complete \"${{COMP_WORDS[@]:1:COMP_CWORD}}\" 2>/dev/null) || out=''\n    \
                 COMPREPLY=()\n    while IFS= read -r line; do\n        [[ -z \"$line\" || \"$line\" == :* ]] && continue\n        COMPREPLY+=(\"$line\")\n    done <<< \"$out\"\n    \
                 [[ ${{#COMPREPLY[@]}} -gt 0 ]] && return 0\n    {clap_fn} \"$@\"\n}}\n\
                 complete -F _{f}_names -o bashdefault -o default {bin}\n"
            )
        }
        clap_complete::Shell::Zsh => {
            // The last `compdef` (the first is the `#compdef` header).
            let Some(clap_fn) = script
                .rsplit("compdef ")
                .next()
                .and_then(|t| t.split_whitespace().next())
                .map(str::to_string)
            else {
                return script;
            };
            let names = format!(
                "_{f}_names() {{\n    local -a names\n    names=(${{(f)\"$(${{words[1]}} __complete \"${{(@)words[2,CURRENT]}}\" 2>/dev/null)\"}})\n    \
                 names=(${{names:#:*}})\n    if (( ${{#names}} )); then\n        compadd -- \"${{names[@]}}\"\n    else\n        {clap_fn} \"$@\"\n    fi\n}}\n\n"
            );
            let tail_old = format!(
                "if [ \"$funcstack[1]\" = \"{clap_fn}\" ]; then\n    {clap_fn} \"$@\"\nelse\n    compdef {clap_fn} {bin}\nfi"
            );
            let tail_new = format!(
                "{names}if [ \"$funcstack[1]\" = \"{clap_fn}\" ]; then\n    _{f}_names \"$@\"\nelse\n    compdef _{f}_names {bin}\nfi"
            );
            script.replace(&tail_old, &tail_new)
        }
        clap_complete::Shell::Fish => {
            let Some(using) = script
                .split_whitespace()
                .find(|w| w.contains("_using_subcommand"))
                .map(|w| w.trim_start_matches('"').to_string())
            else {
                return script;
            };
            let mut out = format!(
                "function __{f}_names\n    {bin} __complete (commandline -opc)[2..-1] (commandline -ct) 2>/dev/null | string match -rv '^:'\nend\n"
            );
            for line in script.lines() {
                out.push_str(line);
                let named = ["-l namespace ", "-l context ", "-l cluster ", "-l user "]
                    .iter()
                    .any(|l| line.contains(l));
                if named && line.ends_with(" -r") {
                    out.push_str(&format!(" -f -a \"(__{f}_names)\""));
                }
                out.push('\n');
            }
            out.push_str(&format!(
                "complete -c {bin} -n \"{using} pod\" -f -a \"(__{f}_names)\"\n"
            ));
            out
        }
        _ => script,
    }
}
