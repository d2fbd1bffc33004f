//! `pulldoctor scan`, end to end: the API test server plays a cluster with several workloads,
//! Debian's docker-registry (behind a counting pass-through proxy) plays the registry, and the
//! real binary scans a namespace or the whole cluster.
//!
//! The tests assert what an on-call engineer reads in a scan — one group per cause and
//! registry, the pod count, the workloads (a Deployment once, not its replicas), healthy pods
//! left out — and what the cluster and registry owners care about: only GETs reach the API
//! server, and pods that need the same image with the same credentials share one probe.

use serde_json::{Value, json};

use crate::scenario::{Run, assert_read_only, dockerconfigjson, path, pulldoctor};
use crate::support::kube_api::KubeApi;
use crate::support::{Auth, Fault, FaultProxy, Registry, RegistryOptions, Tls};

const USER: &str = "alice";

/// A group as the tests compare it: (cause, registry) and (pods, sorted workloads); sorted, as
/// one cause on one registry may be several groups (one per fix).
type GroupKey = (String, String);
type GroupValue = (u64, Vec<String>);
type Groups = Vec<(GroupKey, GroupValue)>;

/// A cluster under construction: every object goes to the API server and to a snapshot list.
struct Cluster {
    api: KubeApi,
    objects: Vec<Value>,
    next: u32,
}

impl Cluster {
    fn new() -> Cluster {
        let mut c = Cluster {
            api: KubeApi::start(),
            objects: Vec::new(),
            next: 0,
        };
        c.add(
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1",
            "labels": {"kubernetes.io/arch": "amd64"}},
            "status": {"nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
                "containerRuntimeVersion": "containerd://1.7.24", "kubeletVersion": "v1.30.4",
                "bootID": "", "kernelVersion": "", "kubeProxyVersion": "", "machineID": "",
                "osImage": "", "systemUUID": ""}}}),
        );
        c
    }

    fn add(&mut self, obj: Value) {
        self.api.add(obj.clone());
        self.objects.push(obj);
    }

    fn uid(&mut self) -> String {
        self.next += 1;
        format!("7c0e4b1a-0000-4000-8000-{:012x}", self.next)
    }

    /// A namespace's default service account (no pull secrets).
    fn namespace(&mut self, ns: &str) {
        self.add(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": ns}}));
    }

    /// A Deployment and its ReplicaSet; returns the owner reference its pods carry.
    fn deployment(&mut self, ns: &str, name: &str) -> Value {
        let uid = self.uid();
        let rs_uid = self.uid();
        let rs = format!("{name}-6f9c8d7b5");
        self.add(json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": ns, "uid": uid}}));
        self.add(json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": rs, "namespace": ns, "uid": rs_uid,
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment",
                    "name": name, "uid": uid, "controller": true}]}}));
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": rs_uid,
            "controller": true})
    }

    /// A pod; failing ones wait in ImagePullBackOff with kubelet's events, healthy ones run.
    fn pod(
        &mut self,
        ns: &str,
        name: &str,
        image: &str,
        owner: Option<&Value>,
        secret: Option<&str>,
        failure: Option<&str>,
    ) {
        let uid = self.uid();
        let mut metadata = json!({"name": name, "namespace": ns, "uid": uid,
            "creationTimestamp": "2026-11-20T09:00:00Z"});
        if let Some(o) = owner {
            metadata["ownerReferences"] = json!([o]);
        }
        let state = match failure {
            Some(_) => json!({"waiting": {"reason": "ImagePullBackOff",
                "message": format!("Back-off pulling image \"{image}\"")}}),
            None => json!({"running": {"startedAt": "2026-11-20T09:00:10Z"}}),
        };
        let secrets: Vec<Value> = secret.iter().map(|s| json!({"name": s})).collect();
        self.add(
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
            "spec": {"containers": [{"name": "app", "image": image}],
                "imagePullSecrets": secrets, "nodeName": "node-1",
                "serviceAccountName": "default"},
            "status": {"phase": if failure.is_some() { "Pending" } else { "Running" },
                "containerStatuses": [{"name": "app", "image": image, "imageID": "",
                    "ready": failure.is_none(), "restartCount": 0, "state": state}]}}),
        );
        if let Some(message) = failure {
            for (i, (reason, text)) in [
                ("Failed", message.to_string()),
                ("Failed", "Error: ErrImagePull".to_string()),
                ("BackOff", format!("Back-off pulling image \"{image}\"")),
            ]
            .into_iter()
            .enumerate()
            {
                self.add(json!({"apiVersion": "v1", "kind": "Event",
                    "metadata": {"name": format!("{name}.{i:04x}"), "namespace": ns},
                    "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": name,
                        "namespace": ns, "uid": uid, "fieldPath": "spec.containers{app}"},
                    "reason": reason, "message": text, "type": "Warning", "count": 3,
                    "source": {"component": "kubelet", "host": "node-1"}}));
            }
        }
    }

    /// Writes every object as one `kubectl get -o json`-style List.
    fn snapshot(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let file = dir.join("cluster.json");
        let list = json!({"apiVersion": "v1", "kind": "List", "items": self.objects});
        std::fs::write(&file, list.to_string()).unwrap();
        file
    }
}

/// containerd's words for a tag the registry lacks.
fn not_found(image: &str) -> String {
    format!(
        "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found"
    )
}

/// containerd's words for a registry that wants credentials.
fn unauthorized(image: &str) -> String {
    format!(
        "Failed to pull image \"{image}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"
    )
}

/// An htpasswd registry with the fixtures, behind a pass-through proxy that counts requests.
fn registry(password: &str) -> (Registry, FaultProxy) {
    let reg = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth: Auth::htpasswd(USER, password),
    });
    reg.seed_fixtures();
    let proxy = FaultProxy::start(&reg, Fault::PassThrough);
    (reg, proxy)
}

/// `pulldoctor scan ARGS -o json` against the cluster, with the registry's CA.
fn scan(c: &Cluster, reg: &Registry, args: &[&str]) -> Run {
    let kc = c.api.kubeconfig();
    let mut all = vec![
        "scan",
        "--kubeconfig",
        path(&kc),
        "--ca-file",
        path(&reg.pki.ca_file),
        "-o",
        "json",
    ];
    all.extend_from_slice(args);
    pulldoctor(&all)
}

/// The API server saw only GETs (any namespace).
fn assert_only_gets(api: &KubeApi) {
    let writes = api.writes();
    assert!(
        writes.is_empty(),
        "pulldoctor wrote to the cluster: {writes:?}"
    );
}

/// (cause, registry), (pods, workloads sorted) for every group, sorted.
fn groups(run: &Run) -> Groups {
    let mut all: Groups = run.json()["groups"]
        .as_array()
        .unwrap_or_else(|| panic!("no groups:\n{}\n{}", run.stdout, run.stderr))
        .iter()
        .map(|g| {
            let mut w: Vec<String> = g["workloads"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap().to_string())
                .collect();
            w.sort();
            (
                (
                    g["cause"].as_str().unwrap().to_string(),
                    g["registry"].as_str().unwrap().to_string(),
                ),
                (g["pods"].as_u64().unwrap(), w),
            )
        })
        .collect();
    all.sort();
    all
}

fn group(
    cause: &str,
    registry: &str,
    pods: u64,
    workloads: &[&str],
) -> Vec<(GroupKey, GroupValue)> {
    vec![(
        (cause.to_string(), registry.to_string()),
        (pods, workloads.iter().map(|w| w.to_string()).collect()),
    )]
}

fn expect(parts: Vec<Vec<(GroupKey, GroupValue)>>) -> Groups {
    let mut all: Groups = parts.into_iter().flatten().collect();
    all.sort();
    all
}

/// The shop namespace: a Deployment with 3 replicas and a StatefulSet pod on a missing tag,
/// a Deployment with 2 replicas without credentials, a healthy pod; payments has one more.
fn shop(c: &mut Cluster, host: &str, password: &str) {
    let missing = format!("{host}/app:9.9");
    let private = format!("{host}/app:1.0");
    for ns in ["shop", "payments"] {
        c.namespace(ns);
        c.add(dockerconfigjson(ns, "regcred", host, USER, password));
    }
    let web = c.deployment("shop", "web");
    for suffix in ["x7k2p", "q9m4d", "z3n8w"] {
        let name = format!("web-6f9c8d7b5-{suffix}");
        c.pod(
            "shop",
            &name,
            &missing,
            Some(&web),
            Some("regcred"),
            Some(&not_found(&missing)),
        );
    }
    let db = json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db",
        "uid": c.uid(), "controller": true});
    c.pod(
        "shop",
        "db-0",
        &missing,
        Some(&db),
        Some("regcred"),
        Some(&not_found(&missing)),
    );
    let api = c.deployment("shop", "api");
    for suffix in ["a1b2c", "d3e4f"] {
        let name = format!("api-6f9c8d7b5-{suffix}");
        c.pod(
            "shop",
            &name,
            &private,
            Some(&api),
            None,
            Some(&unauthorized(&private)),
        );
    }
    c.pod("shop", "cache-0", &private, None, Some("regcred"), None);
    let pay = format!("{host}/app:2.0");
    c.pod(
        "payments",
        "pay-0",
        &pay,
        None,
        None,
        Some(&unauthorized(&pay)),
    );
}

/// `-n shop`: grouped by cause and registry, replicas counted as pods but named once as their
/// Deployment, the healthy pod and the other namespace left out; `-A` adds payments.
#[test]
fn scan_groups_by_cause_and_registry_with_workloads() {
    let password = "pw-scan-groups-3e7b";
    let (reg, proxy) = registry(password);
    let host = proxy.host();
    let mut c = Cluster::new();
    shop(&mut c, &host, password);

    let run = scan(&c, &reg, &["-n", "shop"]);
    run.assert_no_leak(USER, password);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        groups(&run),
        expect(vec![
            group(
                "not_found_tag",
                &host,
                4,
                &["shop/Deployment web", "shop/StatefulSet db"]
            ),
            group("auth_required", &host, 2, &["shop/Deployment api"]),
        ])
    );
    let report = run.json();
    assert_eq!(report["summary"]["problems"], 6, "six failing pods");
    assert!(!run.stdout.contains("cache-0"), "healthy pods are left out");
    assert!(!run.stdout.contains("payments"), "-n shop stays in shop");
    assert_read_only(&c.api);
    // Pods and events are listed, never fetched one by one.
    let requests = c.api.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.path == "/api/v1/namespaces/shop/pods"),
        "{requests:?}"
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.path.starts_with("/api/v1/namespaces/shop/pods/")),
        "no per-pod GET: {requests:?}"
    );

    c.api.clear_requests();
    let run = scan(&c, &reg, &["-A"]);
    run.assert_no_leak(USER, password);
    assert_eq!(run.code, 1);
    assert_eq!(
        groups(&run),
        expect(vec![
            group(
                "not_found_tag",
                &host,
                4,
                &["shop/Deployment web", "shop/StatefulSet db"]
            ),
            // One cause, two fixes: a bare pod is recreated, a Deployment patched.
            group("auth_required", &host, 2, &["shop/Deployment api"]),
            group("auth_required", &host, 1, &["payments/Pod pay-0"]),
        ])
    );
    let live_groups = groups(&run);
    assert_only_gets(&c.api);
    assert!(
        c.api.requests().iter().any(|r| r.path == "/api/v1/pods"),
        "-A lists pods cluster-wide"
    );

    // The same cluster from a snapshot file gives the same groups, with no API server.
    let dir = tempfile::tempdir().unwrap();
    let file = c.snapshot(dir.path());
    c.api.clear_requests();
    let run = pulldoctor(&[
        "scan",
        "-A",
        "--snapshot",
        path(&file),
        "--ca-file",
        path(&reg.pki.ca_file),
        "-o",
        "json",
    ]);
    run.assert_no_leak(USER, password);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(groups(&run), live_groups, "{}", run.stdout);
    assert!(
        c.api.requests().is_empty(),
        "a snapshot scan asks no API server"
    );

    // -n with a snapshot keeps to that namespace too.
    let run = pulldoctor(&[
        "scan",
        "-n",
        "payments",
        "--snapshot",
        path(&file),
        "--no-probe",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let g = groups(&run);
    assert_eq!(g.len(), 1, "{g:?}");
    assert_eq!(g[0].1.1, vec!["payments/Pod pay-0".to_string()]);
}

/// Three pods of one image with the same credentials cost exactly the requests of one pod's
/// probe, even across namespaces (the same secret copied into each), whatever `--concurrency`.
#[test]
fn one_probe_per_distinct_image_and_credentials() {
    let password = "pw-scan-probes-91ac";
    let (reg, proxy) = registry(password);
    let host = proxy.host();
    let image = format!("{host}/app:9.9");
    let mut c = Cluster::new();
    for ns in ["solo", "trio"] {
        c.namespace(ns);
        c.add(dockerconfigjson(ns, "regcred", &host, USER, password));
    }
    let one = c.deployment("solo", "one");
    c.pod(
        "solo",
        "one-6f9c8d7b5-aaaaa",
        &image,
        Some(&one),
        Some("regcred"),
        Some(&not_found(&image)),
    );
    let web = c.deployment("trio", "web");
    for suffix in ["bbbbb", "ccccc", "ddddd"] {
        let name = format!("web-6f9c8d7b5-{suffix}");
        c.pod(
            "trio",
            &name,
            &image,
            Some(&web),
            Some("regcred"),
            Some(&not_found(&image)),
        );
    }

    let count = |args: &[&str]| {
        let before = proxy.requests().len();
        let run = scan(&c, &reg, args);
        run.assert_no_leak(USER, password);
        assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
        assert_only_gets(&c.api);
        (run, proxy.requests().len() - before)
    };

    let (run, one_pod) = count(&["-n", "solo"]);
    assert!(one_pod > 0, "the probe reached the registry");
    let v = &run.json()["groups"][0]["verdict"];
    assert_eq!(v["cause"], "not_found_tag", "{v:#}");
    assert_eq!(v["confidence"], "confirmed", "{v:#}");

    let (run, three_pods) = count(&["-n", "trio"]);
    assert_eq!(
        three_pods, one_pod,
        "3 pods of one image: one probe's requests"
    );
    assert_eq!(
        groups(&run),
        expect(vec![group(
            "not_found_tag",
            &host,
            3,
            &["trio/Deployment web"]
        )])
    );
    // Evidence names this pod's own secret, not the one the shared probe was labelled with.
    assert!(
        !run.stdout.contains("solo/regcred"),
        "evidence names another namespace's secret"
    );

    for concurrency in ["1", "16"] {
        let (run, all) = count(&["-A", "--concurrency", concurrency]);
        assert_eq!(
            all, one_pod,
            "4 pods in 2 namespaces, same image and credentials: one probe (--concurrency {concurrency})"
        );
        assert_eq!(
            groups(&run),
            expect(vec![group(
                "not_found_tag",
                &host,
                4,
                &["solo/Deployment one", "trio/Deployment web"]
            )])
        );
    }
}

/// Different credentials for the same image are different probes: a wrong password in one
/// namespace gets its own probe and its own group.
#[test]
fn different_credentials_are_probed_separately() {
    let password = "pw-scan-creds-5d20";
    let wrong = "pw-scan-wrong-8f31";
    let (reg, proxy) = registry(password);
    let host = proxy.host();
    let image = format!("{host}/app:1.0");
    let mut c = Cluster::new();
    c.namespace("good");
    c.namespace("bad");
    c.add(dockerconfigjson("good", "regcred", &host, USER, password));
    c.add(dockerconfigjson("bad", "regcred", &host, USER, wrong));
    // A pod in `good` whose credentials work: the probe contradicts its event.
    c.pod(
        "good",
        "ok-0",
        &image,
        None,
        Some("regcred"),
        Some(&unauthorized(&image)),
    );
    c.pod(
        "bad",
        "bad-0",
        &image,
        None,
        Some("regcred"),
        Some(&unauthorized(&image)),
    );
    let run = scan(&c, &reg, &["-A"]);
    run.assert_no_leak(USER, password);
    run.assert_no_leak(USER, wrong);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(
        groups(&run),
        expect(vec![
            group("auth_invalid_credentials", &host, 1, &["bad/Pod bad-0"]),
            group("auth_or_not_found", &host, 1, &["good/Pod ok-0"]),
        ])
    );
    let report = run.json();
    let contradicted = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["cause"] == "auth_or_not_found")
        .unwrap();
    assert_eq!(
        contradicted["verdict"]["confidence"], "contradicted",
        "the probe pulls with good/regcred: {contradicted:#}"
    );
    let authorized: Vec<_> = proxy
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/manifests/") && r.authorization)
        .collect();
    assert!(
        authorized.iter().any(|r| r.status == 200) && authorized.iter().any(|r| r.status == 401),
        "both credential sets were tried: {authorized:?}"
    );
}

/// Nothing failing: exit 0, no groups, and no registry contacted.
#[test]
fn nothing_failing_is_exit_0() {
    let password = "pw-scan-quiet-0c4e";
    let (reg, proxy) = registry(password);
    let host = proxy.host();
    let image = format!("{host}/app:1.0");
    let mut c = Cluster::new();
    c.namespace("shop");
    c.add(dockerconfigjson("shop", "regcred", &host, USER, password));
    c.pod("shop", "web-0", &image, None, Some("regcred"), None);
    c.pod("shop", "web-1", &image, None, Some("regcred"), None);
    let run = scan(&c, &reg, &["-n", "shop"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run.json()["summary"]["problems"], 0);
    assert!(groups(&run).is_empty(), "{}", run.stdout);
    assert!(proxy.requests().is_empty(), "healthy pods are not probed");
    assert_read_only(&c.api);
}
