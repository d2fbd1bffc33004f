//! Fixes on the node itself: the CA file or `hosts.toml` for a private CA, and the setting that
//! lets a runtime speak plain HTTP, each where that node's runtime reads it.
//!
//! Paths follow each runtime's lookup: Docker's `/etc/docker/certs.d/<host:port>/`, containerd's
//! `hosts.toml` under its `config_path` (<https://github.com/containerd/containerd/blob/main/docs/hosts.md>),
//! CRI-O's `/etc/containers/certs.d/` and `registries.conf`. The runtime comes from
//! `node.status.nodeInfo.containerRuntimeVersion`; when it is unknown, every runtime's form is given.
//! The registry goes into paths, commands and file bodies only once it is a valid `host[:port]`,
//! so it needs no escaping in TOML or JSON and cannot leave its directory.

use serde_json::json;

use super::evidence::{Evidence, ProbeFacts};
use super::names::registry_shown;
use super::names::{Grammar, Rejected, check};
use super::shell::Script;
use super::step::{Fix, command, file, note};
use crate::taxonomy::Runtime;

fn node_runtime(ev: &Evidence) -> Runtime {
    ev.node
        .as_ref()
        .map(|n| n.runtime)
        .unwrap_or(Runtime::Unknown)
}

/// The image's registry as a checked `host[:port]`.
fn registry(ev: &Evidence) -> Result<&str, Rejected> {
    let r = ev.image_ref.as_ref().map(|r| r.registry.as_str());
    check(Grammar::Host, "registry host", r.unwrap_or(""))
}

/// `sudo mkdir -p DIR && sudo cp ca.crt DIR/ca.crt`.
fn install_ca(dir: &str) -> Script {
    Script::new(["sudo", "mkdir", "-p", dir]).and([
        "sudo",
        "cp",
        "ca.crt",
        &format!("{dir}/ca.crt"),
    ])
}

pub(super) fn ca_fixes(ev: &Evidence) -> Vec<Fix> {
    let registry = match registry(ev) {
        Ok(r) => r,
        Err(r) => return vec![r.note()],
    };
    let runtime = node_runtime(ev);
    let mut out = Vec::new();
    let all = runtime == Runtime::Unknown;
    if all || runtime == Runtime::Containerd {
        out.push(file(
            format!("containerd: /etc/containerd/certs.d/{registry}/hosts.toml (copy the CA to ca.crt beside it; config_path must point at /etc/containerd/certs.d)"),
            format!(
                "server = \"https://{registry}\"\n\n[host.\"https://{registry}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \"/etc/containerd/certs.d/{registry}/ca.crt\""
            ),
        ));
    }
    if all || runtime == Runtime::Docker {
        out.push(command(
            format!("docker: install the CA as /etc/docker/certs.d/{registry}/ca.crt"),
            install_ca(&format!("/etc/docker/certs.d/{registry}")),
        ));
    }
    if all || runtime == Runtime::CriO {
        out.push(command(
            format!("CRI-O: install the CA as /etc/containers/certs.d/{registry}/ca.crt"),
            install_ca(&format!("/etc/containers/certs.d/{registry}")),
        ));
    }
    out.push(note(
        "Do this on every node that may run the pod (a DaemonSet or the node image), then delete the pod to retry at once.".to_string(),
    ));
    out
}

pub(super) fn http_fixes(ev: &Evidence) -> Vec<Fix> {
    let registry = match registry(ev) {
        Ok(r) => r,
        Err(r) => return vec![r.note()],
    };
    let runtime = node_runtime(ev);
    let all = runtime == Runtime::Unknown;
    let mut out = Vec::new();
    if all || runtime == Runtime::Containerd {
        out.push(file(
            format!("containerd: /etc/containerd/certs.d/{registry}/hosts.toml"),
            format!("server = \"http://{registry}\"\n\n[host.\"http://{registry}\"]\n  capabilities = [\"pull\", \"resolve\"]"),
        ));
    }
    if all || runtime == Runtime::Docker {
        out.push(file(
            "docker: /etc/docker/daemon.json, then restart dockerd".to_string(),
            format!("{{ \"insecure-registries\": {} }}", json!([registry])),
        ));
    }
    if all || runtime == Runtime::CriO {
        out.push(file(
            "CRI-O: /etc/containers/registries.conf.d/50-insecure.conf, then restart crio"
                .to_string(),
            format!("[[registry]]\nlocation = \"{registry}\"\ninsecure = true"),
        ));
    }
    out.push(note(format!(
        "Better still: serve {} over HTTPS.",
        registry_shown(ev)
    )));
    out
}

/// `--node-root`: the node file whose line decided `cause`, edited there, then the runtime
/// restarted so it reads the file again.
pub(super) fn node_edit_fixes(cause: crate::taxonomy::Cause, ev: &Evidence) -> Option<Vec<Fix>> {
    let ProbeFacts::Ran(r) = &ev.probe else {
        return None;
    };
    let edit = r.node_edit.as_ref().filter(|_| r.cause == Some(cause))?;
    let at = match edit.line {
        Some(l) => format!("{} line {l}", edit.file),
        None => edit.file.clone(),
    };
    Some(vec![
        note(format!("On the node, edit {at}: {}", edit.change)),
        command(
            format!(
                "Then have systemd reread its units and restart {}",
                edit.restart
            ),
            Script::new(["sudo", "systemctl", "daemon-reload"]).and([
                "sudo",
                "systemctl",
                "restart",
                edit.restart.as_str(),
            ]),
        ),
    ])
}
