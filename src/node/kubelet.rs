//! kubelet's node-level credentials: the docker config files kubelet reads itself.
//!
//! Reproduces `pkg/credentialprovider/config.go` (`ReadDockerConfigFile`): `config.json` is
//! looked for in kubelet's root directory (`SetPreferredDockercfgPath`, `/var/lib/kubelet`),
//! the working directory (`/` under systemd), `$HOME/.docker` (root's: `/root/.docker`) and
//! `/.docker`; only when none of them reads and parses, `.dockercfg` in `/var/lib/kubelet`,
//! `/`, `/root` and `/`. The first file that parses is the node's keyring, matched to an image
//! with the same rules as a pull secret (after the pod's secrets).

use super::files::NodeRoot;
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
}
