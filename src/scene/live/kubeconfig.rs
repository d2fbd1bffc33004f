//! Bounds on what a kubeconfig makes pulldoctor read or run: every kubeconfig file and every
//! file it names is size-capped, and an `exec` credential plugin runs once per run, under the
//! `--timeout` deadline, its credential then handed to kube as a static one.
//!
//! kube-rs runs an `exec` plugin synchronously each time it builds an auth layer or a TLS
//! identity (three times for one client) and without a deadline, so a hanging plugin hangs the
//! caller. kubectl runs it once per process and caches the answer
//! (<https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins>);
//! a diagnosis run is short enough that the credential never needs refreshing, so it is
//! resolved here once: the `ExecCredential` request goes in `KUBERNETES_EXEC_INFO`, the
//! plugin's stderr (and stdin, when interactive) stay the user's, and only `status.token` or
//! `status.clientCertificateData`/`clientKeyData` are read from its stdout, which is never
//! shown (it holds the credential).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use kube::config::{AuthInfo, ExecConfig, ExecInteractiveMode, Kubeconfig};
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use crate::limits::{CapError, MAX_KUBECONFIG, MAX_PEM, read_capped};
use crate::{Error, Result};

/// Most bytes read from an exec plugin's stdout (an `ExecCredential` is a few kilobytes).
const MAX_EXEC_OUTPUT: u64 = 1024 * 1024;
/// How long an interactive plugin may wait for the person at the terminal (a browser login).
const INTERACTIVE_DEADLINE: Duration = Duration::from_secs(300);

/// The kubeconfig files kubectl would read: `--kubeconfig`, else each file of `$KUBECONFIG`,
/// else `~/.kube/config`.
fn kubeconfig_paths(explicit: Option<&Path>) -> Vec<PathBuf> {
    if let Some(p) = explicit {
        return vec![p.to_path_buf()];
    }
    if let Some(list) = std::env::var_os("KUBECONFIG") {
        let paths: Vec<PathBuf> = std::env::split_paths(&list)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if !paths.is_empty() {
            return paths;
        }
    }
    std::env::home_dir()
        .map(|h| vec![h.join(".kube").join("config")])
        .unwrap_or_default()
}

/// Refuses a kubeconfig file, or a certificate, key or token file one names, that is over its
/// cap. Files that cannot be read are left for kube to report as it always has.
pub(super) fn check_sizes(explicit: Option<&Path>) -> Result<()> {
    for path in kubeconfig_paths(explicit) {
        let bytes = match read_capped(&path, MAX_KUBECONFIG, "a kubeconfig") {
            Ok(b) => b,
            Err(CapError::Read { .. }) => continue,
            Err(e) => return Err(Error::Kubeconfig(e.to_string())),
        };
        let Ok(kc) = Kubeconfig::from_yaml(&String::from_utf8_lossy(&bytes)) else {
            continue;
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let clusters = kc
            .clusters
            .iter()
            .filter_map(|c| c.cluster.as_ref())
            .filter_map(|c| c.certificate_authority.clone());
        let users = kc.auth_infos.iter().filter_map(|a| a.auth_info.as_ref());
        let user_files = users.flat_map(|a| {
            [
                a.client_certificate.clone(),
                a.client_key.clone(),
                a.token_file.clone(),
            ]
            .into_iter()
            .flatten()
        });
        for named in clusters.chain(user_files) {
            let file = dir.join(named);
            match read_capped(&file, MAX_PEM, "a file a kubeconfig names") {
                Ok(_) | Err(CapError::Read { .. }) => {}
                Err(e) => return Err(Error::Kubeconfig(e.to_string())),
            }
        }
    }
    Ok(())
}

/// The `status` of an `ExecCredential`: the only part read.
#[derive(Deserialize)]
struct ExecCredential {
    status: Option<ExecStatus>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ExecStatus {
    token: Option<String>,
    client_certificate_data: Option<String>,
    client_key_data: Option<String>,
}

/// Runs the user's `exec` plugin once, within `timeout`, and replaces it in `auth` by the
/// credential it printed, so kube never runs it again.
pub(super) async fn resolve_exec(auth: &mut AuthInfo, timeout: Duration) -> Result<()> {
    let Some(exec) = auth.exec.take() else {
        return Ok(());
    };
    let command = exec.command.clone().ok_or_else(|| {
        Error::Kubeconfig("exec plugin: no command given in the kubeconfig".to_string())
    })?;
    let interactive = exec.interactive_mode != Some(ExecInteractiveMode::Never);
    let at_terminal = interactive && std::io::stdin().is_terminal();
    let deadline = if at_terminal {
        timeout.max(INTERACTIVE_DEADLINE)
    } else {
        timeout
    };
    let mut cmd = tokio::process::Command::new(&command);
    cmd.args(exec.args.iter().flatten())
        .env("KUBERNETES_EXEC_INFO", exec_info(&exec, at_terminal))
        .stdin(if at_terminal {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for env in exec.env.iter().flatten() {
        if let (Some(k), Some(v)) = (env.get("name"), env.get("value")) {
            cmd.env(k, v);
        }
    }
    for name in exec.drop_env.iter().flatten() {
        cmd.env_remove(name);
    }
    let failed = |why: String| Error::Kubeconfig(format!("exec plugin {command}: {why}"));
    let mut child = cmd.spawn().map_err(|e| {
        let hint = exec
            .install_hint
            .as_deref()
            .map(|h| format!(" ({})", h.trim()))
            .unwrap_or_default();
        failed(format!("cannot run it: {e}{hint}"))
    })?;
    let mut stdout = child.stdout.take().expect("piped stdout");
    let run = async {
        let mut out = Vec::new();
        (&mut stdout)
            .take(MAX_EXEC_OUTPUT + 1)
            .read_to_end(&mut out)
            .await?;
        let status = child.wait().await?;
        Ok::<_, std::io::Error>((status, out))
    };
    let (status, out) = match tokio::time::timeout(deadline, run).await {
        Ok(Ok(done)) => done,
        Ok(Err(e)) => return Err(failed(format!("reading its output: {e}"))),
        Err(_) => {
            return Err(failed(format!(
                "no credential within {} s (--timeout); it was stopped",
                deadline.as_secs_f64()
            )));
        }
    };
    if !status.success() {
        // Its stdout is not shown: a plugin that fails half-way may have printed a token.
        return Err(failed(format!("exited with {status}")));
    }
    if out.len() as u64 > MAX_EXEC_OUTPUT {
        return Err(failed("printed more than 1 MiB".to_string()));
    }
    let cred: ExecCredential = serde_yaml_ng::from_slice(&out)
        .map_err(|_| failed("printed no ExecCredential (output not shown)".to_string()))?;
    let status = cred
        .status
        .ok_or_else(|| failed("its ExecCredential has no status".to_string()))?;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    match status {
        ExecStatus {
            client_certificate_data: Some(cert),
            client_key_data: Some(key),
            ..
        } => {
            auth.client_certificate_data = Some(b64(&cert));
            auth.client_key_data = Some(b64(&key).into());
        }
        ExecStatus {
            token: Some(token), ..
        } => auth.token = Some(token.into()),
        _ => {
            return Err(failed(
                "its ExecCredential holds neither a token nor a client certificate".to_string(),
            ));
        }
    }
    Ok(())
}

/// The `ExecCredential` request the plugin reads from `KUBERNETES_EXEC_INFO`.
fn exec_info(exec: &ExecConfig, interactive: bool) -> String {
    let mut spec = serde_json::json!({ "interactive": interactive });
    if exec.provide_cluster_info
        && let Some(cluster) = &exec.cluster
        && let Ok(c) = serde_json::to_value(cluster)
    {
        spec["cluster"] = c;
    }
    serde_json::json!({
        "kind": "ExecCredential",
        "apiVersion": exec.api_version.clone().unwrap_or_else(|| "client.authentication.k8s.io/v1".into()),
        "spec": spec,
    })
    .to_string()
}
