//! The `pulldoctor scan` scale benchmark: a generated cluster of 10,000 pods (2,000 failing
//! across 300 distinct images on 4 real local registries) and 50,000 events, scanned from a
//! snapshot file and live through the API test server. Prints figures; asserts no timing.
//!
//! The registries are Debian's `docker-registry` from the test bench (`tests/e2e/support`),
//! each behind a counting pass-through proxy, seeded with the fixture images so some probes
//! succeed (`app:1.0`, `multi:1.0`, …), some meet a platform mismatch (`armonly:1.0`) and most
//! find a missing tag or repository. The cluster side is the bench's `KubeApi`, which answers
//! with the real apiserver's paging and records every request. Everything listens on 127.0.0.1.
//!
//! ```text
//! cargo run --release --example scale_bench -- run  PULLDOCTOR_BIN WORKDIR   # the figures
//! cargo run --release --example scale_bench -- serve WORKDIR                  # keep serving
//! ```
//!
//! `serve` writes `WORKDIR/snapshot.json`, `WORKDIR/kubeconfig` and `WORKDIR/ca.pem`, prints
//! them, and serves until stdin closes. `run` does the same and then runs
//! `/usr/bin/time -v PULLDOCTOR_BIN scan -A` against the snapshot and the live server.

#[path = "../tests/e2e/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use base64::Engine as _;
use serde_json::{Value, json};

use support::kube_api::KubeApi;
use support::{Auth, Fault, FaultProxy, Registry, RegistryOptions, Tls};

const NAMESPACES: usize = 50;
/// Namespaces whose copy of the pull secret carries a stale password for registry 0.
const STALE_FROM: usize = 45;
const REPLICAS: usize = 5;
const FAILING_DEPLOYMENTS: usize = 400;
const HEALTHY_DEPLOYMENTS: usize = 1600;
const IMAGES: usize = 300;
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

/// One local registry as the cluster sees it: through its counting proxy.
struct Site {
    registry: Registry,
    proxy: FaultProxy,
    /// User and password a pull secret gives for it (None: open registry).
    login: Option<(String, String)>,
}

impl Site {
    fn host(&self) -> String {
        self.proxy.host()
    }
}

fn start_sites() -> Vec<Site> {
    let logins = [
        Some(("alice", "bench-pw-0")),
        Some(("bob", "bench-pw-1")),
        None,
        None,
    ];
    logins
        .iter()
        .map(|login| {
            let auth = match login {
                Some((u, p)) => Auth::htpasswd(u, p),
                None => Auth::None,
            };
            let registry = Registry::start(RegistryOptions {
                tls: Tls::Valid,
                auth,
            });
            registry.seed_fixtures();
            let proxy = FaultProxy::start(&registry, Fault::PassThrough);
            Site {
                registry,
                proxy,
                login: login.map(|(u, p)| (u.to_string(), p.to_string())),
            }
        })
        .collect()
}

/// The 300 distinct images: per registry, the 6 seeded references, then missing tags of
/// `app` and references in repositories that do not exist.
fn images(sites: &[Site]) -> Vec<(usize, String)> {
    let per_site = IMAGES / sites.len();
    let mut out = Vec::new();
    for (s, site) in sites.iter().enumerate() {
        let host = site.host();
        for i in 0..per_site {
            let reference = if let Some(seeded) = SEEDED.get(i) {
                seeded.to_string()
            } else if i % 2 == 0 {
                format!("app:v{i}")
            } else {
                format!("svc-{i}:1.{i}")
            };
            out.push((s, format!("{host}/{reference}")));
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

/// The generated cluster and the number of distinct (registry, repository, reference,
/// credential set) its failing pods need.
struct Generated {
    objects: Vec<Value>,
    distinct: usize,
    failing_pods: usize,
    pods: usize,
    events: usize,
}

fn generate(sites: &[Site]) -> Generated {
    let images = images(sites);
    let mut objects = Vec::new();
    for n in 0..NODES {
        objects.push(json!({"apiVersion": "v1", "kind": "Node",
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
                auths.insert(site.host(), json!({"auth": b64(&format!("{u}:{p}"))}));
            }
        }
        let config = json!({"auths": auths}).to_string();
        objects.push(json!({"apiVersion": "v1", "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "regcred", "namespace": ns(n)},
            "data": {".dockerconfigjson": b64(&config)}}));
        objects.push(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": ns(n)}}));
    }
    let mut distinct = BTreeSet::new();
    let (mut pods, mut failing_pods, mut events, mut uid) = (0, 0, 0, 0u64);
    let healthy_image = format!("{}/app:1.0", sites[2].host());
    for d in 0..FAILING_DEPLOYMENTS + HEALTHY_DEPLOYMENTS {
        let failing = d < FAILING_DEPLOYMENTS;
        // Deployments d and d + 300 share an image but not a namespace, so some images are
        // needed with two credential sets (a stale copy of the secret in some namespaces).
        let n = (d / 7) % NAMESPACES;
        let namespace = ns(n);
        let (site, image) = if failing {
            images[d % IMAGES].clone()
        } else {
            (2, healthy_image.clone())
        };
        let name = format!("svc-{d:04}");
        let rs = format!("{name}-7d4b9c6f5");
        uid += 1;
        let dep_uid = format!("00000000-0000-4000-8000-{uid:012x}");
        uid += 1;
        let rs_uid = format!("00000000-0000-4000-8000-{uid:012x}");
        objects.push(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "uid": dep_uid},
            "spec": {"replicas": REPLICAS}}));
        objects.push(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs, "namespace": namespace, "uid": rs_uid,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name,
                    "uid": dep_uid, "controller": true}]}}));
        if failing {
            let login = login_in(site, sites, n);
            distinct.insert((image.clone(), login));
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
            objects.push(json!({"apiVersion": "v1", "kind": "Pod",
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
            let said: Vec<(&str, String, bool)> = if failing {
                vec![
                    (
                        "Scheduled",
                        format!("Successfully assigned {namespace}/{pod} to {node}"),
                        false,
                    ),
                    ("Pulling", format!("Pulling image \"{image}\""), false),
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
                vec![
                    (
                        "Scheduled",
                        format!("Successfully assigned {namespace}/{pod} to {node}"),
                        false,
                    ),
                    ("Pulling", format!("Pulling image \"{image}\""), false),
                    (
                        "Pulled",
                        format!("Successfully pulled image \"{image}\" in 1.2s"),
                        false,
                    ),
                    ("Created", "Created container app".to_string(), false),
                    ("Started", "Started container app".to_string(), false),
                ]
            };
            for (i, (reason, message, warn)) in said.into_iter().enumerate() {
                events += 1;
                objects.push(event(&namespace, &pod, &pod_uid, i, reason, &message, warn));
            }
        }
    }
    Generated {
        objects,
        distinct: distinct.len(),
        failing_pods,
        pods,
        events,
    }
}

/// Everything a scan needs, written and served.
struct Bench {
    sites: Vec<Site>,
    api: KubeApi,
    generated: Generated,
    snapshot: PathBuf,
    ca: PathBuf,
}

fn setup(workdir: &Path) -> Bench {
    std::fs::create_dir_all(workdir).expect("create workdir");
    let t = Instant::now();
    let sites = start_sites();
    eprintln!(
        "started {} registries (+ counting proxies) in {:.1}s",
        sites.len(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let generated = generate(&sites);
    let snapshot = workdir.join("snapshot.json");
    let list = json!({"apiVersion": "v1", "kind": "List", "items": generated.objects});
    std::fs::write(&snapshot, serde_json::to_vec(&list).expect("json")).expect("write snapshot");
    let ca = workdir.join("ca.pem");
    let bundle: String = sites
        .iter()
        .map(|s| s.registry.pki.ca_pem.clone())
        .collect();
    std::fs::write(&ca, bundle).expect("write CA bundle");
    let api = KubeApi::start();
    for obj in &generated.objects {
        api.add(obj.clone());
    }
    std::fs::copy(api.kubeconfig(), workdir.join("kubeconfig")).expect("copy kubeconfig");
    eprintln!(
        "generated {} pods ({} failing), {} events, {} objects in {:.1}s; snapshot {} ({:.1} MB)",
        generated.pods,
        generated.failing_pods,
        generated.events,
        generated.objects.len(),
        t.elapsed().as_secs_f64(),
        snapshot.display(),
        std::fs::metadata(&snapshot).map(|m| m.len()).unwrap_or(0) as f64 / 1e6
    );
    Bench {
        sites,
        api,
        generated,
        snapshot,
        ca,
    }
}

/// What one timed scan produced.
struct Figures {
    wall: String,
    rss_kb: u64,
    code: i32,
    probes_note: String,
    groups: usize,
    registry_requests: usize,
    api_requests: usize,
}

fn timed_scan(bench: &Bench, pulldoctor: &Path, source: &[&str], out: &Path) -> Figures {
    let before: usize = bench.sites.iter().map(|s| s.proxy.requests().len()).sum();
    bench.api.clear_requests();
    let stdout = std::fs::File::create(out).expect("create output file");
    let output = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(pulldoctor)
        .args(["scan", "-A", "-o", "json", "--ca-file"])
        .arg(&bench.ca)
        .args(source)
        .env_remove("KUBECONFIG")
        .stdout(stdout)
        .output()
        .expect("run /usr/bin/time -v pulldoctor");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let field = |name: &str| {
        stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_default()
    };
    let code = field("Exit status:").parse().unwrap_or(-1);
    let report: Value = std::fs::read(out)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    if report.is_null() {
        eprintln!("pulldoctor printed no JSON report; its stderr:\n{stderr}");
    }
    let probes_note = report["notes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|n| n.contains("registry probe"))
        .unwrap_or("")
        .to_string();
    let after: usize = bench.sites.iter().map(|s| s.proxy.requests().len()).sum();
    Figures {
        wall: field("Elapsed (wall clock) time (h:mm:ss or m:ss):"),
        rss_kb: field("Maximum resident set size (kbytes):")
            .parse()
            .unwrap_or(0),
        code,
        probes_note,
        groups: report["groups"].as_array().map_or(0, Vec::len),
        registry_requests: after - before,
        api_requests: bench.api.requests().len(),
    }
}

fn print(label: &str, f: &Figures, distinct: usize) {
    let probes: usize = f
        .probes_note
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    println!("== scan -A, {label}");
    println!("  wall time:            {}", f.wall);
    println!("  peak RSS:             {:.1} MB", f.rss_kb as f64 / 1024.0);
    println!("  exit code:            {}", f.code);
    println!("  groups in report:     {}", f.groups);
    println!("  API requests:         {}", f.api_requests);
    println!("  registry requests:    {}", f.registry_requests);
    println!("  registry probes made: {probes}   ({})", f.probes_note);
    println!(
        "  distinct (registry, repository, reference, credential set): {distinct}  -> {}",
        if probes == distinct {
            "equal"
        } else {
            "NOT EQUAL"
        }
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve", workdir] => {
            let bench = setup(Path::new(workdir));
            println!("snapshot:   {}", bench.snapshot.display());
            println!(
                "kubeconfig: {}",
                Path::new(workdir).join("kubeconfig").display()
            );
            println!("ca-file:    {}", bench.ca.display());
            println!(
                "distinct (registry, repository, reference, credential set): {}",
                bench.generated.distinct
            );
            println!("serving until stdin closes");
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
        }
        ["run", pulldoctor, workdir] => {
            let bench = setup(Path::new(workdir));
            let pulldoctor = Path::new(pulldoctor);
            let snapshot = bench.snapshot.to_string_lossy().into_owned();
            let kubeconfig = Path::new(workdir).join("kubeconfig");
            let kubeconfig = kubeconfig.to_string_lossy().into_owned();
            let distinct = bench.generated.distinct;
            println!(
                "cluster: {} pods ({} failing), {} events, {} distinct images on {} registries",
                bench.generated.pods,
                bench.generated.failing_pods,
                bench.generated.events,
                IMAGES,
                bench.sites.len()
            );
            let out = Path::new(workdir).join("report-snapshot.json");
            let f = timed_scan(&bench, pulldoctor, &["--snapshot", &snapshot], &out);
            print("--snapshot", &f, distinct);
            let out = Path::new(workdir).join("report-live.json");
            let f = timed_scan(&bench, pulldoctor, &["--kubeconfig", &kubeconfig], &out);
            print("live (API test server)", &f, distinct);
        }
        _ => {
            eprintln!("usage: scale_bench run PULLDOCTOR_BIN WORKDIR | scale_bench serve WORKDIR");
            std::process::exit(2);
        }
    }
}
