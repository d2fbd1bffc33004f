//! The generated cluster: deployments of five replicas across 50 namespaces, a share of them
//! failing on images spread over the local registries, every object written as kubectl writes
//! it, one at a time (a 100,000-pod cluster is never held).
//!
//! Deterministic: the same shape and registry addresses give the same objects in the same
//! order, byte for byte (names, uids and events are numbered; nothing is random or timed).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use serde_json::{Value, json};

const NAMESPACES: usize = 50;
/// Namespaces whose copy of the pull secret carries a stale password for registry 0.
const STALE_FROM: usize = 45;
const REPLICAS: usize = 5;
const NODES: usize = 20;
/// The fixture references every registry holds (`Registry::seed_fixtures`).
const SEEDED: [&str; 6] = [
    "app:1.0",
    "app:1.1",
    "app:2.0",
    "multi:1.0",
    "dockerlist:1.0",
    "armonly:1.0",
];

/// How big a cluster to generate.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub name: &'static str,
    pub failing_deployments: usize,
    pub healthy_deployments: usize,
    /// Distinct images the failing deployments use, spread evenly over the registries.
    pub images: usize,
    /// Events in all: five per failing pod, the rest spread over the healthy pods.
    pub events: usize,
}

/// 10,000 pods (2,000 failing on 300 images), 50,000 events: the 35 MB YAML.
pub const SMALL: Shape = Shape {
    name: "10k",
    failing_deployments: 400,
    healthy_deployments: 1600,
    images: 300,
    events: 50_000,
};

/// 100,000 pods (5,000 failing on 1,000 images), 100,000 events.
pub const LARGE: Shape = Shape {
    name: "100k",
    failing_deployments: 1000,
    healthy_deployments: 19_000,
    images: 1000,
    events: 100_000,
};

impl Shape {
    pub fn failing_pods(&self) -> usize {
        self.failing_deployments * REPLICAS
    }
}

/// A registry as the cluster sees it: its address and the login a pull secret gives for it.
pub struct Site {
    pub host: String,
    pub login: Option<(String, String)>,
}

/// What was generated.
pub struct Generated {
    pub pods: usize,
    pub failing_pods: usize,
    pub events: usize,
    pub objects: usize,
    /// Distinct (image, credential set) the failing pods need: what a scan must probe.
    pub distinct: usize,
    /// Distinct failing images.
    pub images: usize,
}

/// The distinct images: per registry, the seeded references, then missing tags of `app` and
/// references in repositories that do not exist.
fn images(shape: &Shape, sites: &[Site]) -> Vec<(usize, String)> {
    let per_site = shape.images / sites.len();
    let mut out = Vec::new();
    for (s, site) in sites.iter().enumerate() {
        for i in 0..per_site {
            let reference = if let Some(seeded) = SEEDED.get(i) {
                seeded.to_string()
            } else if i % 2 == 0 {
                format!("app:v{i}")
            } else {
                format!("svc-{i}:1.{i}")
            };
            out.push((s, format!("{}/{reference}", site.host)));
        }
    }
    out
}

fn ns(i: usize) -> String {
    format!("team-{i:02}")
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The login a namespace's `regcred` holds for a site (stale for registry 0 in some).
fn login_in(site: usize, sites: &[Site], namespace: usize) -> Option<(String, String)> {
    let (u, p) = sites[site].login.clone()?;
    if site == 0 && namespace >= STALE_FROM {
        return Some((u, format!("{p}-stale")));
    }
    Some((u, p))
}

fn event(
    ns: &str,
    pod: &str,
    uid: &str,
    i: usize,
    reason: &str,
    message: &str,
    warn: bool,
) -> Value {
    json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{pod}.{i:x}"), "namespace": ns},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": pod, "namespace": ns,
            "uid": uid, "fieldPath": "spec.containers{app}"},
        "reason": reason, "message": message, "type": if warn { "Warning" } else { "Normal" },
        "count": 1, "source": {"component": "kubelet"}})
}

/// Generates the cluster, handing each object to `emit` in kubectl's order for
/// `kubectl get nodes,secrets,serviceaccounts,deployments,replicasets,pods,events`... except
/// that each pod's events follow it (as `kubectl get pods,events` per namespace would not;
/// the scan reads both orders).
pub fn generate(shape: &Shape, sites: &[Site], mut emit: impl FnMut(Value)) -> Generated {
    let images = images(shape, sites);
    let mut objects = 0;
    let mut out = |v: Value| {
        objects += 1;
        emit(v)
    };
    for n in 0..NODES {
        out(json!({"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": format!("node-{n:02}"), "labels": {"kubernetes.io/arch": "amd64"}},
            "status": {"nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
                "containerRuntimeVersion": "containerd://1.7.24", "kubeletVersion": "v1.30.4",
                "bootID": "", "kernelVersion": "", "kubeProxyVersion": "", "machineID": "",
                "osImage": "", "systemUUID": ""}}}));
    }
    for n in 0..NAMESPACES {
        let mut auths = serde_json::Map::new();
        for (s, site) in sites.iter().enumerate() {
            if let Some((u, p)) = login_in(s, sites, n) {
                auths.insert(site.host.clone(), json!({"auth": b64(&format!("{u}:{p}"))}));
            }
        }
        let config = json!({"auths": auths}).to_string();
        out(json!({"apiVersion": "v1", "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "regcred", "namespace": ns(n)},
            "data": {".dockerconfigjson": b64(&config)}}));
        out(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": ns(n)}}));
    }
    let mut distinct = BTreeSet::new();
    let mut failing_images = BTreeSet::new();
    let (mut pods, mut failing_pods, mut events, mut uid) = (0, 0, 0, 0u64);
    let healthy_pods = shape.healthy_deployments * REPLICAS;
    let healthy_budget = shape.events.saturating_sub(shape.failing_pods() * 5);
    let mut healthy_seen = 0usize;
    let healthy_image = format!("{}/app:1.0", sites[2 % sites.len()].host);
    for d in 0..shape.failing_deployments + shape.healthy_deployments {
        let failing = d < shape.failing_deployments;
        // Deployments d and d + images share an image but not a namespace, so some images
        // are needed with two credential sets (a stale copy of the secret in some namespaces).
        let n = (d / 7) % NAMESPACES;
        let namespace = ns(n);
        let (site, image) = if failing {
            images[d % images.len()].clone()
        } else {
            (2 % sites.len(), healthy_image.clone())
        };
        let name = format!("svc-{d:05}");
        let rs = format!("{name}-7d4b9c6f5");
        uid += 1;
        let dep_uid = format!("00000000-0000-4000-8000-{uid:012x}");
        uid += 1;
        let rs_uid = format!("00000000-0000-4000-8000-{uid:012x}");
        out(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "uid": dep_uid},
            "spec": {"replicas": REPLICAS}}));
        out(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs, "namespace": namespace, "uid": rs_uid,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                    "uid": dep_uid, "controller": true}]}}));
        if failing {
            distinct.insert((image.clone(), login_in(site, sites, n)));
            failing_images.insert(image.clone());
        }
        for r in 0..REPLICAS {
            uid += 1;
            pods += 1;
            let pod_uid = format!("00000000-0000-4000-8000-{uid:012x}");
            let pod = format!("{rs}-{r:05}");
            let node = format!("node-{:02}", pods % NODES);
            let state = if failing {
                failing_pods += 1;
                json!({"waiting": {"reason": "ImagePullBackOff",
                    "message": format!("Back-off pulling image \"{image}\"")}})
            } else {
                json!({"running": {"startedAt": "2026-11-20T09:00:10Z"}})
            };
            out(json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": pod, "namespace": namespace, "uid": pod_uid,
                    "creationTimestamp": "2026-11-20T09:00:00Z",
                    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                        "name": rs, "uid": rs_uid, "controller": true}]},
                "spec": {"containers": [{"name": "app", "image": image}],
                    "imagePullSecrets": [{"name": "regcred"}], "nodeName": node,
                    "serviceAccountName": "default"},
                "status": {"phase": if failing { "Pending" } else { "Running" },
                    "containerStatuses": [{"name": "app", "image": image, "imageID": "",
                        "ready": !failing, "restartCount": 0, "state": state}]}}));
            let scheduled = (
                "Scheduled",
                format!("Successfully assigned {namespace}/{pod} to {node}"),
                false,
            );
            let pulling = ("Pulling", format!("Pulling image \"{image}\""), false);
            let said: Vec<(&str, String, bool)> = if failing {
                vec![
                    scheduled,
                    pulling,
                    (
                        "Failed",
                        format!(
                            "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found"
                        ),
                        true,
                    ),
                    ("Failed", "Error: ErrImagePull".to_string(), true),
                    (
                        "BackOff",
                        format!("Back-off pulling image \"{image}\""),
                        false,
                    ),
                ]
            } else {
                // The healthy pods share what is left of the events, the first ones one more.
                let count = healthy_budget / healthy_pods
                    + usize::from(healthy_seen < healthy_budget % healthy_pods);
                healthy_seen += 1;
                let all = vec![
                    scheduled,
                    pulling,
                    (
                        "Pulled",
                        format!("Successfully pulled image \"{image}\" in 1.2s"),
                        false,
                    ),
                    ("Created", "Created container app".to_string(), false),
                    ("Started", "Started container app".to_string(), false),
                ];
                all.into_iter().take(count).collect()
            };
            for (i, (reason, message, warn)) in said.into_iter().enumerate() {
                events += 1;
                out(event(&namespace, &pod, &pod_uid, i, reason, &message, warn));
            }
        }
    }
    Generated {
        pods,
        failing_pods,
        events,
        objects,
        distinct: distinct.len(),
        images: failing_images.len(),
    }
}

/// The snapshot formats written: kubectl's `-o json` and `-o yaml` of a `List`, and a
/// multi-document YAML stream (`---` between objects).
pub const FORMATS: [&str; 3] = ["json", "yaml", "yaml-stream"];

/// Writes the cluster in every format under `dir` (`{shape}.json`, `{shape}.yaml`,
/// `{shape}-stream.yaml`), one object at a time.
pub fn write_snapshots(shape: &Shape, sites: &[Site], dir: &Path) -> Generated {
    let open = |name: String| {
        std::io::BufWriter::new(std::fs::File::create(dir.join(name)).expect("create snapshot"))
    };
    let mut json_out = open(format!("{}.json", shape.name));
    let mut yaml_out = open(format!("{}.yaml", shape.name));
    let mut stream_out = open(format!("{}-stream.yaml", shape.name));
    let io = |r: std::io::Result<()>| r.expect("write snapshot");
    io(json_out.write_all(b"{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n"));
    io(yaml_out.write_all(b"apiVersion: v1\nitems:\n"));
    let mut first = true;
    let generated = generate(shape, sites, |obj| {
        // kubectl's JSON: four-space indent, items two levels in.
        let mut pretty = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut pretty, formatter);
        serde::Serialize::serialize(&obj, &mut ser).expect("json");
        let pretty = String::from_utf8(pretty).expect("utf-8");
        if !first {
            io(json_out.write_all(b",\n"));
        }
        first = false;
        for (i, line) in pretty.lines().enumerate() {
            if i > 0 {
                io(json_out.write_all(b"\n"));
            }
            io(write!(json_out, "        {line}"));
        }
        // kubectl's YAML: items as column-0 `- ` entries; the stream: one document each.
        let yaml = serde_yaml_ng::to_string(&obj).expect("yaml");
        for (i, line) in yaml.lines().enumerate() {
            io(writeln!(
                yaml_out,
                "{}{line}",
                if i == 0 { "- " } else { "  " }
            ));
        }
        io(write!(stream_out, "---\n{yaml}"));
    });
    io(json_out.write_all(
        b"\n    ],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n",
    ));
    io(yaml_out.write_all(b"kind: List\nmetadata:\n  resourceVersion: \"\"\n"));
    for mut w in [json_out, yaml_out, stream_out] {
        io(w.flush());
    }
    generated
}

/// The file of `shape` in `format` under `dir`.
pub fn snapshot_path(dir: &Path, shape: &Shape, format: &str) -> std::path::PathBuf {
    match format {
        "yaml-stream" => dir.join(format!("{}-stream.yaml", shape.name)),
        other => dir.join(format!("{}.{other}", shape.name)),
    }
}
