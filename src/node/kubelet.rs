//! kubelet's node-level credentials: the docker config files kubelet reads itself.
//!
//! Reproduces `pkg/credentialprovider/config.go` (`ReadDockerConfigFile`): `config.json` is
//! looked for in kubelet's root directory (`SetPreferredDockercfgPath`, `/var/lib/kubelet`),
//! the working directory (`/` under systemd), `$HOME/.docker` (root's: `/root/.docker`) and
//! `/.docker`; only when none of them reads and parses, `.dockercfg` in `/var/lib/kubelet`,
//! `/`, `/root` and `/`. The first file that parses is the node's keyring, matched to an image
//! with the same rules as a pull secret (after the pod's secrets).
//!
//! kubelet's credential providers (<https://kubernetes.io/docs/tasks/administer-cluster/kubelet-credential-provider/>)
//! are named by its `--image-credential-provider-config` flag, found here in the files that
//! carry kubelet's flags (kubeadm's `kubeadm-flags.env`, `/etc/default/kubelet`,
//! `/etc/sysconfig/kubelet`, kubelet's unit and drop-ins); a provider whose `matchImages`
//! pattern matches the image (kubelet's `URLsMatchStr`: globs per host label, exact port, path
//! prefix) would be run for it on the node, which cannot be done offline.

use super::files::{NodeFileError, NodeRoot};
use super::model::{Finding, NodeCredentials};
use crate::credentials::dockerconfig::{self, Entry, Format};
use crate::reference::ImageRef;

/// kubelet's search order: (node path, format).
pub const SEARCH: [(&str, Format); 8] = [
    ("/var/lib/kubelet/config.json", Format::ConfigJson),
    ("/config.json", Format::ConfigJson),
    ("/root/.docker/config.json", Format::ConfigJson),
    ("/.docker/config.json", Format::ConfigJson),
    ("/var/lib/kubelet/.dockercfg", Format::Dockercfg),
    ("/.dockercfg", Format::Dockercfg),
    ("/root/.dockercfg", Format::Dockercfg),
    ("/.dockercfg", Format::Dockercfg),
];

/// The node keyring's entry for `image`, and where it came from.
pub fn credentials(
    root: &NodeRoot,
    image: &ImageRef,
    findings: &mut Vec<Finding>,
) -> (Option<NodeCredentials>, Option<Entry>) {
    for (path, format) in SEARCH {
        let text = match root.read(path) {
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(e) => {
                findings.push(Finding::new(
                    &e.path,
                    e.line,
                    format!("{}; kubelet skips it", e.reason),
                ));
                continue;
            }
        };
        if serde_json::from_str::<serde_json::Value>(&text).is_err() {
            findings.push(Finding::new(
                path,
                None,
                "not JSON: kubelet skips it and reads the next file",
            ));
            continue;
        }
        let cfg = dockerconfig::decode(text.as_bytes(), format, path);
        let entry = cfg
            .entries
            .iter()
            .find(|e| crate::credentials::keyring::key_covers(&e.key, image))
            .cloned();
        let found = NodeCredentials {
            file: Some(path.to_string()),
            entry: entry.as_ref().map(|e| without_userinfo(&e.key)),
            provider: None,
        };
        if entry.is_none() {
            findings.push(Finding::new(
                path,
                None,
                format!("kubelet's node keyring has no entry for {}", image.registry),
            ));
        } else {
            findings.push(Finding::new(
                path,
                None,
                format!(
                    "kubelet adds the node's credentials for {} (key {}) after the pod's pull secrets",
                    image.registry,
                    found.entry.as_deref().unwrap_or("")
                ),
            ));
        }
        return (Some(found), entry);
    }
    (None, None)
}

/// A key as printed: any `user:password@` before the host dropped.
fn without_userinfo(key: &str) -> String {
    let (scheme, rest) = match key.split_once("://") {
        Some((s, r)) => (format!("{s}://"), r),
        None => (String::new(), key),
    };
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{scheme}{}", &rest[at + 1..]),
        None => key.to_string(),
    }
}

/// Files that carry kubelet's command-line flags.
const FLAG_FILES: [&str; 6] = [
    "/var/lib/kubelet/kubeadm-flags.env",
    "/etc/default/kubelet",
    "/etc/sysconfig/kubelet",
    "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
    "/etc/systemd/system/kubelet.service",
    "/usr/lib/systemd/system/kubelet.service",
];

/// The `--image-credential-provider-config` value in a flags text, with its line.
pub fn provider_flag(text: &str) -> Option<(String, u32)> {
    const FLAG: &str = "--image-credential-provider-config";
    for (i, line) in text.lines().enumerate() {
        let Some(at) = line.find(FLAG) else { continue };
        let rest = line[at + FLAG.len()..].trim_start_matches(['=', ' ']);
        let value: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '\'')
            .collect();
        if !value.is_empty() {
            return Some((value, i as u32 + 1));
        }
    }
    None
}

/// The providers of a `CredentialProviderConfig` (YAML or JSON): name and `matchImages`, with
/// the line of each name.
pub fn parse_provider_config(
    text: &str,
    path: &str,
) -> Result<Vec<(String, Vec<String>, u32)>, NodeFileError> {
    let v: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).map_err(|e| {
        NodeFileError::new(
            path,
            e.location().map(|l| l.line() as u32),
            format!("not YAML: {e}"),
        )
    })?;
    let providers = v
        .get("providers")
        .and_then(|p| p.as_sequence())
        .ok_or_else(|| NodeFileError::new(path, None, "no `providers` list"))?;
    let mut out = Vec::new();
    for p in providers {
        let name = p
            .get("name")
            .and_then(|n| n.as_str())
            .unwrap_or("")
            .to_string();
        let images = p
            .get("matchImages")
            .and_then(|m| m.as_sequence())
            .map(|m| {
                m.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let line = text
            .lines()
            .position(|l| l.contains("name:") && l.contains(name.as_str()) && !name.is_empty())
            .map_or(0, |i| i as u32 + 1);
        out.push((name, images, line));
    }
    Ok(out)
}

/// The credential provider kubelet would run for `image`, with a finding naming it.
pub fn provider(root: &NodeRoot, image: &ImageRef, findings: &mut Vec<Finding>) -> Option<String> {
    let (flag_file, (config, flag_line)) = FLAG_FILES.iter().find_map(|f| {
        let text = root.read(f).ok().flatten()?;
        provider_flag(&text).map(|p| (f.to_string(), p))
    })?;
    let text = match root.read(&config) {
        Ok(Some(t)) => t,
        Ok(None) => {
            findings.push(Finding::new(
                &flag_file,
                Some(flag_line),
                format!("--image-credential-provider-config names {config}, which is not in the node copy"),
            ));
            return None;
        }
        Err(e) => {
            findings.push(e.into());
            return None;
        }
    };
    let providers = match parse_provider_config(&text, &config) {
        Ok(p) => p,
        Err(e) => {
            findings.push(Finding::new(
                &e.path,
                e.line,
                format!("{}; kubelet does not start with it", e.reason),
            ));
            return None;
        }
    };
    let name = image.name();
    for (provider, patterns, line) in providers {
        if let Some(p) = patterns
            .iter()
            .find(|p| crate::credentials::keyring::urls_match(p, &name).unwrap_or(false))
        {
            findings.push(Finding::new(
                &config,
                (line > 0).then_some(line),
                format!(
                    "credential provider {provider} matches {} (matchImages {p:?}): kubelet runs it on the node for this image; it cannot run offline, so its credentials are not part of this check",
                    image.registry
                ),
            ));
            return Some(provider);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_keys_carry_no_userinfo() {
        assert_eq!(
            without_userinfo("https://u:p@reg.example.com/v1/"),
            "https://reg.example.com/v1/"
        );
        assert_eq!(
            without_userinfo("reg.example.com:5000"),
            "reg.example.com:5000"
        );
        assert_eq!(without_userinfo("u:p@reg"), "reg");
    }

    #[test]
    fn credential_provider_flag_and_config() {
        let env = "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///run/containerd/containerd.sock --image-credential-provider-config=/etc/kubernetes/credential-provider.yaml --image-credential-provider-bin-dir=/usr/local/bin\"\n";
        assert_eq!(
            provider_flag(env),
            Some(("/etc/kubernetes/credential-provider.yaml".to_string(), 1))
        );
        let cfg = "apiVersion: kubelet.config.k8s.io/v1\nkind: CredentialProviderConfig\nproviders:\n  - name: ecr-credential-provider\n    matchImages:\n      - \"*.dkr.ecr.*.amazonaws.com\"\n    defaultCacheDuration: \"12h\"\n    apiVersion: credentialprovider.kubelet.k8s.io/v1\n";
        let p = parse_provider_config(cfg, "/c").unwrap();
        assert_eq!(p[0].0, "ecr-credential-provider");
        assert_eq!(p[0].2, 4);
        assert!(
            crate::credentials::keyring::urls_match(
                &p[0].1[0],
                "123.dkr.ecr.us-east-1.amazonaws.com/app"
            )
            .unwrap()
        );
        assert!(parse_provider_config("providers: 5", "/c").is_err());
        assert!(parse_provider_config(": : :", "/c").is_err());
    }
}
