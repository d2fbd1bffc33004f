//! A builder for end-to-end pod scenarios: objects for the API test server, a run of the real
//! `pulldoctor` binary against it, and checks every scenario shares (read-only, no leak, schema).

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::kube_api::KubeApi;

/// The runtime wording and node a scenario plays.
#[derive(Debug, Clone, Copy)]
pub enum NodeRuntime {
    Docker,
    Containerd,
    CriO,
}

/// One pod's story: its image, events, secrets and node.
pub struct Scenario {
    pub namespace: String,
    pub pod: String,
    pub image: String,
    pub events: Vec<(String, String)>,
    pub pull_secrets: Vec<String>,
    pub service_account: Option<Vec<String>>,
    pub secrets: Vec<Value>,
    pub runtime: NodeRuntime,
    pub arch: String,
    pub owner: Option<(String, String)>,
    pub healthy: bool,
    pub waiting_message: Option<String>,
    /// An init container `setup`: image, waiting reason, and kubelet's event (reason, message).
    pub init: Option<(String, String, String, String)>,
    /// Events about `app` with their own count and times: (reason, message, count, first, last).
    pub timed_events: Vec<(String, String, u32, String, String)>,
    /// No node assigned yet: no `nodeName`, no container statuses.
    pub unscheduled: bool,
}

impl Scenario {
    /// A failing pod `web-0` in `shop` on an amd64 containerd node.
    pub fn new(image: &str) -> Scenario {
        Scenario {
            namespace: "shop".to_string(),
            pod: "web-0".to_string(),
            image: image.to_string(),
            events: Vec::new(),
            pull_secrets: Vec::new(),
            service_account: None,
            secrets: Vec::new(),
            runtime: NodeRuntime::Containerd,
            arch: "amd64".to_string(),
            owner: None,
            healthy: false,
            waiting_message: None,
            init: None,
            timed_events: Vec::new(),
            unscheduled: false,
        }
    }

    /// Adds an event kubelet folded `count` attempts into, from `first` to `last` (RFC 3339).
    pub fn event_seen(
        mut self,
        reason: &str,
        message: &str,
        count: u32,
        first: &str,
        last: &str,
    ) -> Scenario {
        self.timed_events.push((
            reason.into(),
            message.into(),
            count,
            first.into(),
            last.into(),
        ));
        self
    }

    /// A pod the scheduler has not placed yet.
    pub fn unscheduled(mut self) -> Scenario {
        self.unscheduled = true;
        self
    }

    /// Adds kubelet's `Failed` event with the runtime's message, then the usual followers.
    pub fn failed(mut self, message: &str) -> Scenario {
        self.events.push(("Failed".into(), message.to_string()));
        self.events
            .push(("Failed".into(), "Error: ErrImagePull".into()));
        self.events.push((
            "BackOff".into(),
            format!("Back-off pulling image \"{}\"", self.image),
        ));
        self
    }

    pub fn event(mut self, reason: &str, message: &str) -> Scenario {
        self.events.push((reason.to_string(), message.to_string()));
        self
    }

    pub fn runtime(mut self, runtime: NodeRuntime) -> Scenario {
        self.runtime = runtime;
        self
    }

    pub fn pull_secret(mut self, name: &str) -> Scenario {
        self.pull_secrets.push(name.to_string());
        self
    }

    pub fn secret(mut self, secret: Value) -> Scenario {
        self.secrets.push(secret);
        self
    }

    pub fn owned_by(mut self, kind: &str, name: &str) -> Scenario {
        self.owner = Some((kind.to_string(), name.to_string()));
        self
    }

    /// Adds an init container `setup` waiting on `reason`, with one event about it.
    pub fn init_container(mut self, image: &str, reason: &str, event: (&str, &str)) -> Scenario {
        self.init = Some((image.into(), reason.into(), event.0.into(), event.1.into()));
        self
    }

    pub fn healthy(mut self) -> Scenario {
        self.healthy = true;
        self
    }

    pub fn service_account_secrets(mut self, names: &[&str]) -> Scenario {
        self.service_account = Some(names.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Loads the scenario's objects into the API server.
    pub fn load(&self, api: &KubeApi) {
        let ns = &self.namespace;
        let uid = "0b7e6a52-1d0e-4c2a-9a57-3f1e2d4c5b6a";
        let mut metadata = json!({"name": self.pod, "namespace": ns, "uid": uid,
            "creationTimestamp": "2026-11-20T09:00:00Z", "labels": {"run": self.pod}});
        if let Some((kind, name)) = &self.owner {
            let top_uid = "5d1a2b3c-0000-4000-8000-00000000000a";
            let template = json!({"metadata": {"labels": {"run": self.pod}},
                "spec": {"containers": [{"name": "app", "image": self.image}]}});
            api.add(json!({"apiVersion": "apps/v1", "kind": kind,
                "metadata": {"name": name, "namespace": ns, "uid": top_uid},
                "spec": {"selector": {"matchLabels": {"run": self.pod}}, "template": template}}));
            let (parent_kind, parent_name, parent_uid) = if kind == "Deployment" {
                let rs = format!("{name}-5d8f7c9b4");
                let rs_uid = "5d1a2b3c-0000-4000-8000-00000000000b";
                api.add(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": rs, "namespace": ns, "uid": rs_uid,
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": kind, "name": name,
                            "uid": top_uid, "controller": true}]},
                    "spec": {"selector": {"matchLabels": {"run": self.pod}}, "template": template}}));
                ("ReplicaSet".to_string(), rs, rs_uid)
            } else {
                (kind.clone(), name.clone(), top_uid)
            };
            metadata["ownerReferences"] = json!([{"apiVersion": "apps/v1", "kind": parent_kind,
                "name": parent_name, "uid": parent_uid, "controller": true}]);
        }
        let state = if self.healthy {
            json!({"running": {"startedAt": "2026-11-20T09:00:10Z"}})
        } else {
            let message = self
                .waiting_message
                .clone()
                .unwrap_or_else(|| format!("Back-off pulling image \"{}\"", self.image));
            json!({"waiting": {"reason": "ImagePullBackOff", "message": message}})
        };
        let secrets: Vec<Value> = self
            .pull_secrets
            .iter()
            .map(|n| json!({"name": n}))
            .collect();
        let (init_containers, init_statuses) = match &self.init {
            Some((image, reason, _, message)) => (
                json!([{"name": "setup", "image": image}]),
                json!([{"name": "setup", "image": image, "imageID": "", "ready": false,
                    "restartCount": 0, "state": {"waiting": {"reason": reason, "message": message}}}]),
            ),
            None => (json!([]), json!([])),
        };
        if let Some((_, _, reason, message)) = &self.init {
            api.add(json!({"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": format!("{}.init", self.pod), "namespace": ns},
                "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": self.pod,
                    "namespace": ns, "uid": uid, "fieldPath": "spec.initContainers{setup}"},
                "reason": reason, "message": message, "type": "Warning", "count": 2,
                "source": {"component": "kubelet", "host": "node-1"}}));
        }
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": {"containers": [{"name": "app", "image": self.image, "imagePullPolicy": "IfNotPresent"}],
                     "initContainers": init_containers,
                     "imagePullSecrets": secrets, "nodeName": "node-1", "serviceAccountName": "default"},
            "status": {"phase": if self.healthy { "Running" } else { "Pending" },
                       "initContainerStatuses": init_statuses,
                       "containerStatuses": [{"name": "app", "image": self.image, "imageID": "",
                           "ready": self.healthy, "restartCount": 0, "state": state}]}});
        if self.unscheduled {
            pod["spec"].as_object_mut().unwrap().remove("nodeName");
            pod["status"] = json!({"phase": "Pending", "conditions": [{"type": "PodScheduled",
                "status": "False", "reason": "Unschedulable",
                "message": "0/3 nodes are available: 3 Insufficient cpu."}]});
        }
        api.add(pod);
        for (i, (reason, message, count, first, last)) in self.timed_events.iter().enumerate() {
            api.add(json!({"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": format!("{}.t{i:04x}", self.pod), "namespace": ns,
                    "creationTimestamp": first},
                "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": self.pod,
                    "namespace": ns, "uid": uid, "fieldPath": "spec.containers{app}"},
                "reason": reason, "message": message,
                "type": if reason == "Pulled" { "Normal" } else { "Warning" },
                "count": count, "firstTimestamp": first, "lastTimestamp": last,
                "source": {"component": "kubelet", "host": "node-1"}}));
        }
        for (i, (reason, message)) in self.events.iter().enumerate() {
            api.add(json!({"apiVersion": "v1", "kind": "Event",
                "metadata": {"name": format!("{}.{i:04x}", self.pod), "namespace": ns},
                "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": self.pod,
                    "namespace": ns, "uid": uid, "fieldPath": "spec.containers{app}"},
                "reason": reason, "message": message, "type": "Warning", "count": 3,
                "source": {"component": "kubelet", "host": "node-1"}}));
        }
        for s in &self.secrets {
            api.add(s.clone());
        }
        let sa_secrets: Vec<Value> = self
            .service_account
            .iter()
            .flatten()
            .map(|n| json!({"name": n}))
            .collect();
        api.add(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": ns}, "imagePullSecrets": sa_secrets}));
        let runtime_version = match self.runtime {
            NodeRuntime::Docker => "docker://24.0.7",
            NodeRuntime::Containerd => "containerd://1.7.24",
            NodeRuntime::CriO => "cri-o://1.30.4",
        };
        api.add(
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1",
            "labels": {"kubernetes.io/arch": self.arch}},
            "status": {"nodeInfo": {"architecture": self.arch, "operatingSystem": "linux",
                "containerRuntimeVersion": runtime_version, "kubeletVersion": "v1.30.4",
                "bootID": "", "kernelVersion": "", "kubeProxyVersion": "", "machineID": "",
                "osImage": "", "systemUUID": ""}}}),
        );
    }
}

/// A `kubernetes.io/dockerconfigjson` secret with one `auths` entry.
pub fn dockerconfigjson(ns: &str, name: &str, key: &str, user: &str, password: &str) -> Value {
    let body = json!({"auths": {key: {"username": user, "password": password, "auth": b64(&format!("{user}:{password}"))}}});
    json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": name, "namespace": ns},
        "data": {".dockerconfigjson": b64(&body.to_string())}})
}

/// A `kubernetes.io/dockercfg` secret (the flat legacy map).
pub fn dockercfg(ns: &str, name: &str, key: &str, user: &str, password: &str) -> Value {
    let body = json!({key: {"username": user, "password": password, "email": "ci@example.test", "auth": b64(&format!("{user}:{password}"))}});
    json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockercfg",
        "metadata": {"name": name, "namespace": ns},
        "data": {".dockercfg": b64(&body.to_string())}})
}

pub fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// What one run of the binary produced.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The first verdict of a JSON report.
    pub fn verdict(&self) -> Value {
        self.json()["verdicts"][0].clone()
    }

    /// Fails when `marker`, or a base64 form of it, appears anywhere the user could see.
    pub fn assert_no_leak(&self, user: &str, marker: &str) {
        let forms = [
            marker.to_string(),
            b64(marker),
            b64(&format!("{user}:{marker}")),
            b64(&format!("{user}:{marker}\n")),
        ];
        for f in &forms {
            assert!(
                !self.stdout.contains(f.as_str()),
                "stdout leaks a secret form {f:?}"
            );
            assert!(
                !self.stderr.contains(f.as_str()),
                "stderr leaks a secret form {f:?}"
            );
        }
    }
}

/// Runs `pulldoctor ARGS` (with `-vvv`, so the leak checks cover the most verbose logs).
pub fn pulldoctor(args: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.push("-vvv");
    pulldoctor_exact(&all)
}

/// Runs `pulldoctor ARGS` with exactly these arguments (no added verbosity).
pub fn pulldoctor_exact(args: &[&str]) -> Run {
    pulldoctor_env(args, &[])
}

/// Runs `pulldoctor ARGS` with exactly these arguments and these variables set.
pub fn pulldoctor_env(args: &[&str], vars: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args(args)
        .envs(vars.iter().copied())
        .env_remove("KUBECONFIG")
        .env_remove("RUST_LOG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run pulldoctor");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `pulldoctor pod web-0 -o json --kubeconfig … EXTRA…`.
pub fn pod(api: &KubeApi, extra: &[&str]) -> Run {
    let kc = api.kubeconfig();
    let mut args = vec![
        "pod",
        "web-0",
        "-n",
        "shop",
        "-o",
        "json",
        "--kubeconfig",
        path(&kc),
    ];
    args.extend_from_slice(extra);
    let run = pulldoctor(&args);
    assert_read_only(api);
    run
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// The API server saw only GETs, and no secret outside the pod's namespace.
pub fn assert_read_only(api: &KubeApi) {
    for r in api.requests() {
        assert_eq!(r.method, "GET", "pulldoctor sent {} {}", r.method, r.path);
        if r.path.contains("/secrets") {
            assert!(
                r.path.starts_with("/api/v1/namespaces/shop/"),
                "secret read outside shop: {}",
                r.path
            );
        }
    }
}

/// The texts of every fix, joined, for `contains` checks.
pub fn fix_text(verdict: &Value) -> String {
    verdict["fixes"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .map(|f| {
                    format!(
                        "{}\n{}",
                        f["title"].as_str().unwrap_or(""),
                        f["text"].as_str().unwrap_or("")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// The evidence lines, joined.
pub fn evidence_text(verdict: &Value) -> String {
    verdict["evidence"]
        .as_array()
        .map(|es| {
            es.iter()
                .map(|e| e["text"].as_str().unwrap_or("").to_string())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// Fails with every violation when `report` does not follow `docs/report.schema.json`.
pub fn assert_schema(report: &Value) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("schema file"))
        .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(report)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "report breaks the schema:\n{}\n{report:#}",
        errors.join("\n")
    );
}
