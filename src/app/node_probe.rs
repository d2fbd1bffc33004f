//! `pulldoctor node-probe`: the probe run on the node itself — by `pod --from-node`'s probe
//! pod, or by hand over SSH (`sudo pulldoctor node-probe --host-root / IMAGE`).
//!
//! It is `image IMAGE --node-root DIR` with the node's wording: the node's files under
//! `--host-root` decide endpoints, trust and node-level credentials (the `--node-root`
//! readers), the node's own network and resolver answer, and the pod's pull secrets come from
//! secret volumes laid out as kubelet mounts them (`DIR/NAME/.dockerconfigjson` or
//! `DIR/NAME/.dockercfg`), matched to each image by kubelet's keyring rules
//! (`credentials::for_image`, as for a pod's secrets read from the API). The report is always
//! the JSON shape, for the laptop side to read back from the pod's log.

use std::collections::BTreeMap;
use std::path::Path;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{LocalObjectReference, Pod, PodSpec, Secret};

use super::image::{self, Keyring};
use crate::cli::{ImageArgs, NodeArgs, NodeProbeArgs, ProbeArgs};
use crate::config::Common;
use crate::credentials::{self, Fetched, PodSecrets};
use crate::report::Report;

/// Probes each image as the node would and returns the report (`command`: `node-probe`).
pub async fn run(args: &NodeProbeArgs, common: &Common) -> crate::Result<Report> {
    if !args.host_root.is_dir() {
        return Err(crate::Error::Usage(format!(
            "--host-root {}: not a directory (the node's filesystem: / over SSH, /host in the probe pod)",
            args.host_root.display()
        )));
    }
    let mut notes = Vec::new();
    let runtime = match &args.runtime {
        Some(r) => r.clone(),
        None => {
            let root = crate::node::NodeRoot::new(&args.host_root);
            match crate::node::detect::runtime(&root) {
                Some(d) => {
                    notes.push(format!("the node's runtime: {} ({})", d.runtime, d.because));
                    d.runtime
                }
                None => {
                    return Err(crate::Error::Usage(format!(
                        "no runtime configuration under {} (no kubelet runtime endpoint, /etc/containerd, /etc/crio, /etc/docker/daemon.json or /etc/containers): pass --runtime containerd|docker|cri-o",
                        args.host_root.display()
                    )));
                }
            }
        }
    };
    let image_args = ImageArgs {
        refs: args.images.clone(),
        file: None,
        authfile: None,
        creds: None,
        username: None,
        password_stdin: false,
        platforms: args.platform.iter().cloned().collect(),
        require_verified_tls: false,
        probe: ProbeArgs::default(),
        node: NodeArgs {
            node_root: Some(args.host_root.clone()),
            runtime: Some(runtime),
        },
    };
    let keyring = keyring(args)?;
    let mut report = image::run_with(&image_args, common, Some(keyring)).await?;
    report.command = "node-probe";
    notes.append(&mut report.notes);
    report.notes = notes;
    Ok(report)
}

/// kubelet's keyring over the secret volumes, one lookup per image.
fn keyring(args: &NodeProbeArgs) -> crate::Result<Keyring> {
    let mut secrets = Vec::new();
    let mut names = args.pull_secrets.clone();
    if let Some(dir) = &args.secrets_dir {
        if !dir.is_dir() {
            return Err(crate::Error::Usage(format!(
                "--secrets-dir {}: not a directory",
                dir.display()
            )));
        }
        if names.is_empty() {
            names = secret_dirs(dir)?;
        }
        for name in &names {
            if let Some(s) = read_secret(dir, name, &args.secrets_namespace)? {
                secrets.push(s);
            }
        }
    }
    let pod = Pod {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            namespace: Some(args.secrets_namespace.clone()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            image_pull_secrets: Some(
                names
                    .iter()
                    .map(|n| LocalObjectReference { name: n.clone() })
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    };
    Ok(Box::new(move |image| {
        let mut input = PodSecrets::from_pod(&pod);
        input.secrets = names
            .iter()
            .map(|n| {
                let found = secrets
                    .iter()
                    .find(|s| s.metadata.name.as_deref() == Some(n.as_str()));
                (n.clone(), found.map_or(Fetched::NotFound, Fetched::Found))
            })
            .collect();
        credentials::for_image(&input, image)
    }))
}

/// The secret volumes under `dir`, by name (kubelet's `..data` links skipped).
fn secret_dirs(dir: &Path) -> crate::Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).map_err(|source| crate::Error::ReadFile {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    names.sort();
    Ok(names)
}

/// One secret volume as the Secret kubelet read it from: its docker key decides its type.
/// None when the volume is absent (an `optional` volume of a secret that does not exist).
fn read_secret(dir: &Path, name: &str, namespace: &str) -> crate::Result<Option<Secret>> {
    let volume = dir.join(name);
    if !volume.is_dir() {
        return Ok(None);
    }
    // kubelet mounts an `optional` volume of a missing secret as an empty directory.
    let keys: Vec<String> = std::fs::read_dir(&volume)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| !n.starts_with(".."))
                .collect()
        })
        .unwrap_or_default();
    if keys.is_empty() {
        return Ok(None);
    }
    let mut data = BTreeMap::new();
    let mut type_ = "Opaque";
    for (key, ty) in [
        (".dockerconfigjson", "kubernetes.io/dockerconfigjson"),
        (".dockercfg", "kubernetes.io/dockercfg"),
    ] {
        let path = volume.join(key);
        if !path.is_file() {
            continue;
        }
        let bytes = crate::limits::read_capped(&path, crate::limits::MAX_AUTHFILE, "a secret")
            .map_err(|e| e.into_error())?;
        data.insert(key.to_string(), ByteString(bytes));
        if type_ == "Opaque" {
            type_ = ty;
        }
    }
    // Another key means another secret type, which kubelet ignores; its value is not needed.
    for k in keys {
        data.entry(k).or_insert_with(|| ByteString(Vec::new()));
    }
    Ok(Some(Secret {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            ..Default::default()
        },
        type_: Some(type_.to_string()),
        data: Some(data),
        ..Default::default()
    }))
}
