//! Which container runtime a node runs, found from its files when no Node object says
//! (`node-probe` over SSH, or without `--runtime`).
//!
//! kubelet itself is told by `--container-runtime-endpoint` (in kubeadm's
//! `/var/lib/kubelet/kubeadm-flags.env`, kubelet's defaults files or its unit drop-ins) or by
//! `containerRuntimeEndpoint` in its `KubeletConfiguration`
//! (<https://kubernetes.io/docs/reference/config-api/kubelet-config.v1beta1/>): the socket
//! names the runtime (`containerd.sock`, `crio.sock`, `cri-dockerd.sock`). Without that, the
//! runtime's own configuration directory decides; containerd's is looked at after CRI-O's and
//! Docker's, because Docker installs containerd too.

use super::files::NodeRoot;

/// Files that may carry kubelet's runtime endpoint, in the order kubelet's flags override them.
const ENDPOINT_FILES: [&str; 6] = [
    "/var/lib/kubelet/config.yaml",
    "/etc/kubernetes/kubelet-config.yaml",
    "/etc/default/kubelet",
    "/etc/sysconfig/kubelet",
    "/var/lib/kubelet/kubeadm-flags.env",
    "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf",
];

/// The runtime as `containerRuntimeVersion` would name it (`containerd://`), and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// `containerd://`, `cri-o://` or `docker://` (no version: files do not say it).
    pub runtime: String,
    /// The node file that decided it.
    pub because: String,
}

/// The runtime of the node whose files are under `root`, if its files say.
pub fn runtime(root: &NodeRoot) -> Option<Detected> {
    let found = |runtime: &str, because: String| {
        Some(Detected {
            runtime: format!("{runtime}://"),
            because,
        })
    };
    // The last file naming an endpoint wins, as a later flag overrides an earlier one.
    let mut endpoint = None;
    for file in ENDPOINT_FILES {
        let Ok(Some(text)) = root.read(file) else {
            continue;
        };
        if let Some(r) = socket_runtime(&text) {
            endpoint = Some((r, file));
        }
    }
    if let Some((r, file)) = endpoint {
        return found(r, format!("{file} names the {r} socket"));
    }
    if root.is_dir("/etc/crio") {
        return found("cri-o", "/etc/crio exists".to_string());
    }
    if root.is_file("/etc/docker/daemon.json") && !root.is_file("/etc/containerd/config.toml") {
        return found("docker", "/etc/docker/daemon.json exists".to_string());
    }
    if root.is_file("/etc/containerd/config.toml") || root.is_dir("/etc/containerd/certs.d") {
        return found("containerd", "/etc/containerd exists".to_string());
    }
    if root.is_file("/etc/containers/registries.conf") {
        return found(
            "cri-o",
            "/etc/containers/registries.conf exists".to_string(),
        );
    }
    if root.is_file("/etc/docker/daemon.json") {
        return found("docker", "/etc/docker/daemon.json exists".to_string());
    }
    None
}

/// The runtime a kubelet endpoint setting in `text` names, the last one winning.
fn socket_runtime(text: &str) -> Option<&'static str> {
    let mut found = None;
    for line in text.lines() {
        let Some(at) = line
            .find("container-runtime-endpoint")
            .or_else(|| line.find("containerRuntimeEndpoint"))
        else {
            continue;
        };
        let rest = &line[at..];
        found = if rest.contains("cri-dockerd") || rest.contains("dockershim") {
            Some("docker")
        } else if rest.contains("crio") {
            Some("cri-o")
        } else if rest.contains("containerd") {
            Some("containerd")
        } else {
            found
        };
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(files: &[(&str, &str)]) -> (tempfile::TempDir, NodeRoot) {
        let dir = tempfile::tempdir().unwrap();
        for (p, text) in files {
            let path = dir.path().join(p.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        let r = NodeRoot::new(dir.path());
        (dir, r)
    }

    #[test]
    fn kubelets_endpoint_decides_over_config_directories() {
        let (_d, r) = root(&[
            ("/etc/containerd/config.toml", "version = 2\n"),
            (
                "/var/lib/kubelet/kubeadm-flags.env",
                "KUBELET_KUBEADM_ARGS=\"--container-runtime-endpoint=unix:///var/run/crio/crio.sock\"\n",
            ),
        ]);
        let d = runtime(&r).unwrap();
        assert_eq!(d.runtime, "cri-o://");
        assert!(d.because.contains("kubeadm-flags.env"), "{d:?}");
    }

    #[test]
    fn docker_beside_containerd_is_containerd_without_an_endpoint() {
        let (_d, r) = root(&[
            ("/etc/containerd/config.toml", ""),
            ("/etc/docker/daemon.json", "{}"),
        ]);
        assert_eq!(runtime(&r).unwrap().runtime, "containerd://");
        let (_d, r) = root(&[("/etc/docker/daemon.json", "{}")]);
        assert_eq!(runtime(&r).unwrap().runtime, "docker://");
        let (_d, r) = root(&[(
            "/var/lib/kubelet/config.yaml",
            "containerRuntimeEndpoint: unix:///run/cri-dockerd.sock\n",
        )]);
        assert_eq!(runtime(&r).unwrap().runtime, "docker://");
        let (_d, r) = root(&[]);
        assert_eq!(runtime(&r), None);
    }
}
