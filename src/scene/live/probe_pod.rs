//! The probe pod of `pod --from-node`: its spec, and the four API calls it takes (create, get,
//! log, delete) — the one write pulldoctor ever makes, opt-in.
//!
//! The spec is what a careful operator would accept on a production node: pinned to the node
//! (`nodeName`, so the scheduler is not involved), the node's network and resolver
//! (`hostNetwork`, `dnsPolicy: Default`), every taint of the node tolerated by key and effect,
//! never restarted, a deadline (`activeDeadlineSeconds`), no service account token, no
//! privilege escalation, every capability dropped, a read-only root filesystem, the
//! `RuntimeDefault` seccomp profile, read-only `hostPath` mounts of only the directories the
//! node readers read (docs/node-root.md), and the pod's pull secrets as `optional` secret
//! volumes, so no secret value passes through pulldoctor, the spec, arguments or environment.
//! It runs as root (`runAsNonRoot: false`): kubelet's `config.json` and the runtimes' client
//! keys are readable by root only. Labels make leftovers findable
//! (`app.kubernetes.io/managed-by=pulldoctor`). Pod fields follow
//! <https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/>.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, DeleteParams, LogParams, PostParams};
use serde_json::json;

use super::LiveSource;

/// The label every probe pod carries.
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "pulldoctor");
/// The probe container's name.
pub const CONTAINER: &str = "probe";

/// Node directories the readers read, each mounted read-only at `/host<path>`: the runtimes'
/// configuration, unit drop-ins, hosts, resolver and CA bundles live under `/etc`; vendor units
/// under `/usr/lib/systemd/system`.
pub const HOST_PATHS: [(&str, &str); 2] = [
    ("host-etc", "/etc"),
    ("host-units", "/usr/lib/systemd/system"),
];

/// kubelet's directory, mounted only with `--node-credentials`: its node-level `config.json`
/// is there, and so is every pod's volumes (their secrets and service-account tokens), which
/// an operator has to agree to show the probe. A file mount is no way out: it fails the pod
/// on the many nodes without the file, and an unchecked one makes the runtime create it.
pub const KUBELET_DIR: (&str, &str) = ("host-kubelet", "/var/lib/kubelet");

/// What the probe pod is for.
#[derive(Debug, Clone)]
pub struct ProbePod {
    /// The pod's name, chosen here rather than by the server (`generateName`), so a create
    /// whose answer never came can still be deleted by name ([`probe_pod_name`]).
    pub name: String,
    pub namespace: String,
    pub node: String,
    pub image: String,
    /// The failing pod's `imagePullSecrets`, in order.
    pub pull_secrets: Vec<String>,
    /// The failing pod's namespace (names its secrets in the node's report).
    pub pod_namespace: String,
    /// The node's `containerRuntimeVersion`, when known.
    pub runtime: Option<String>,
    /// The node's `os/arch`, when known.
    pub platform: Option<String>,
    /// The images to probe.
    pub images: Vec<String>,
    /// `activeDeadlineSeconds`.
    pub deadline_seconds: i64,
    /// The probe's own per-request deadline (`--timeout`), in seconds.
    pub timeout_seconds: f64,
    /// Mount [`KUBELET_DIR`] (`--node-credentials`).
    pub kubelet_dir: bool,
    /// `namespace/name` of the pod diagnosed (an annotation, for whoever finds the pod).
    pub for_pod: String,
}

impl ProbePod {
    /// The pod spec; `node` gives the taints to tolerate.
    pub fn spec(&self, node: Option<&Node>) -> Pod {
        let mut args = vec![
            "node-probe".to_string(),
            "--host-root".to_string(),
            "/host".to_string(),
            "--timeout".to_string(),
            format!("{}", self.timeout_seconds),
        ];
        if !self.pull_secrets.is_empty() {
            args.extend(["--secrets-dir".to_string(), "/secrets".to_string()]);
            args.extend([
                "--secrets-namespace".to_string(),
                self.pod_namespace.clone(),
            ]);
            for s in &self.pull_secrets {
                args.extend(["--pull-secret".to_string(), s.clone()]);
            }
        }
        if let Some(r) = &self.runtime {
            args.extend(["--runtime".to_string(), r.clone()]);
        }
        if let Some(p) = &self.platform {
            args.extend(["--platform".to_string(), p.clone()]);
        }
        args.push("--".to_string());
        args.extend(self.images.iter().cloned());
        let mut volumes = Vec::new();
        let mut mounts = Vec::new();
        let kubelet = self.kubelet_dir.then_some(KUBELET_DIR);
        for (name, path) in HOST_PATHS.into_iter().chain(kubelet) {
            volumes.push(json!({"name": name, "hostPath": {"path": path, "type": "Directory"}}));
            mounts
                .push(json!({"name": name, "mountPath": format!("/host{path}"), "readOnly": true}));
        }
        for (i, s) in self.pull_secrets.iter().enumerate() {
            let name = format!("pull-secret-{i}");
            volumes.push(json!({"name": name, "secret": {"secretName": s, "optional": true, "defaultMode": 0o400}}));
            mounts.push(
                json!({"name": name, "mountPath": format!("/secrets/{s}"), "readOnly": true}),
            );
        }
        let tolerations: Vec<serde_json::Value> = node
            .and_then(|n| n.spec.as_ref())
            .and_then(|s| s.taints.as_ref())
            .into_iter()
            .flatten()
            .map(|t| json!({"key": t.key, "operator": "Exists", "effect": t.effect}))
            .collect();
        let labels: BTreeMap<&str, &str> =
            [MANAGED_BY, ("app.kubernetes.io/name", "pulldoctor-probe")]
                .into_iter()
                .collect();
        let pod = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": self.name,
                "namespace": self.namespace,
                "labels": labels,
                "annotations": {"pulldoctor/for-pod": self.for_pod},
            },
            "spec": {
                "nodeName": self.node,
                "hostNetwork": true,
                "dnsPolicy": "Default",
                "restartPolicy": "Never",
                "activeDeadlineSeconds": self.deadline_seconds,
                "automountServiceAccountToken": false,
                "enableServiceLinks": false,
                "terminationGracePeriodSeconds": 0,
                "tolerations": tolerations,
                "securityContext": {"runAsUser": 0, "runAsNonRoot": false, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": CONTAINER,
                    "image": self.image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["pulldoctor"],
                    "args": args,
                    "securityContext": {
                        "privileged": false,
                        "allowPrivilegeEscalation": false,
                        "readOnlyRootFilesystem": true,
                        "capabilities": {"drop": ["ALL"]},
                    },
                    "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "256Mi"}},
                    "volumeMounts": mounts,
                }],
                "volumes": volumes,
            },
        });
        serde_json::from_value(pod).expect("the probe pod spec is a Pod")
    }
}

/// An API call about the probe pod that did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProbePodError {
    /// The API server answered with a Status failure.
    #[error("{message} ({code} {reason})")]
    Refused {
        code: u16,
        reason: String,
        message: String,
    },
    /// The API server could not be reached, or answered with something else.
    #[error("{0}")]
    Failed(String),
    /// No answer within `--timeout`: the server may still have done it.
    #[error("{0} timed out")]
    TimedOut(&'static str),
}

fn refusal(e: kube::Error) -> ProbePodError {
    match e {
        kube::Error::Api(s) => ProbePodError::Refused {
            code: s.code,
            reason: s.reason.clone(),
            message: s.message.clone(),
        },
        other => ProbePodError::Failed(other.to_string()),
    }
}

/// `pulldoctor-probe-` and ten hex digits, different for each run and node.
pub fn probe_pod_name(node: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(node.as_bytes());
    h.write_u32(std::process::id());
    if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(t.as_nanos());
    }
    format!("pulldoctor-probe-{:010x}", h.finish() & 0xff_ffff_ffff)
}

impl LiveSource {
    fn pods(&self, namespace: &str) -> Api<Pod> {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Creates the probe pod; the stored object (with its generated name).
    pub async fn create_probe_pod(&self, pod: &Pod) -> Result<Pod, ProbePodError> {
        let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
        let (api, params) = (self.pods(ns), PostParams::default());
        match tokio::time::timeout(self.timeout, api.create(&params, pod)).await {
            Ok(r) => r.map_err(refusal),
            Err(_) => Err(ProbePodError::TimedOut("creating the probe pod")),
        }
    }

    /// Reads the probe pod back.
    pub async fn get_probe_pod(&self, namespace: &str, name: &str) -> Result<Pod, ProbePodError> {
        match tokio::time::timeout(self.timeout, self.pods(namespace).get(name)).await {
            Ok(r) => r.map_err(refusal),
            Err(_) => Err(ProbePodError::Failed(
                "reading the probe pod timed out".into(),
            )),
        }
    }

    /// The probe container's log.
    pub async fn probe_pod_log(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<String, ProbePodError> {
        let params = LogParams {
            container: Some(CONTAINER.to_string()),
            ..LogParams::default()
        };
        match tokio::time::timeout(self.timeout, self.pods(namespace).logs(name, &params)).await {
            Ok(r) => r.map_err(refusal),
            Err(_) => Err(ProbePodError::Failed(
                "reading the probe pod's log timed out".into(),
            )),
        }
    }

    /// Deletes the probe pod at once (no grace period: it holds nothing to flush).
    pub async fn delete_probe_pod(&self, namespace: &str, name: &str) -> Result<(), ProbePodError> {
        let params = DeleteParams {
            grace_period_seconds: Some(0),
            ..DeleteParams::default()
        };
        match tokio::time::timeout(self.timeout, self.pods(namespace).delete(name, &params)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(kube::Error::Api(s))) if s.code == 404 => Ok(()),
            Ok(Err(e)) => Err(refusal(e)),
            Err(_) => Err(ProbePodError::Failed(
                "deleting the probe pod timed out".into(),
            )),
        }
    }
}
