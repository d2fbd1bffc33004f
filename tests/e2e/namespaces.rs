//! Namespace scoping, end to end: a pod's verdict and fix depend only on what kubelet would do
//! for that pod, which reads pull secrets from the pod's own namespace and nowhere else.
//!
//! The bundled cluster (`fixtures/cluster/shop.yaml` and `payments.yaml`) is diagnosed three
//! ways against a real registry: each namespace's snapshot alone, both files concatenated into
//! one snapshot, and both served live by the API test server. Every pod must get the same
//! verdicts and fixes each way, from `pod` and from `scan`; a secret in another namespace may
//! add a hint to the evidence, never change the fix.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::scenario::{Run, assert_schema, path, pulldoctor};
use crate::support::kube_api::KubeApi;
use crate::support::{Auth, Registry, RegistryOptions, Tls};

/// The fixture secrets' shared placeholder password; the registry accepts `payments-bot`.
const PASSWORD: &str = "PLACEHOLDER-not-a-password";

/// A fixture file with `{{REGISTRY}}` replaced, split into its YAML documents.
fn fixture_docs(name: &str, registry: &str) -> Vec<Value> {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/cluster")
        .join(name);
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("{{REGISTRY}}", registry);
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| serde::Deserialize::deserialize(d).expect("fixture YAML"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn write_snapshot(dir: &Path, name: &str, docs: &[&Value]) -> PathBuf {
    let file = dir.join(name);
    let text: Vec<String> = docs
        .iter()
        .map(|d| serde_yaml_ng::to_string(d).unwrap())
        .collect();
    std::fs::write(&file, text.join("---\n")).unwrap();
    file
}

/// What must not change with unrelated objects: per image, the cause, confidence, summary
/// and every fix step; and the exit code.
fn decisions(verdicts: &Value) -> Vec<String> {
    verdicts
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            format!(
                "{} cause={} confidence={} why={} fixes={}",
                v["image"], v["cause"], v["confidence"], v["summary"], v["fixes"]
            )
        })
        .collect()
}

fn report(run: &Run) -> Value {
    assert!(
        run.code == 0 || run.code == 1,
        "exit {}:\n{}",
        run.code,
        run.stderr
    );
    let r = run.json();
    assert_schema(&r);
    r
}

/// Scan output as (namespace, pod) → decisions, from the per-pod list.
fn per_pod(run: &Run) -> BTreeMap<(String, String), Vec<String>> {
    let r = report(run);
    let pods = r["failing_pods"]
        .as_array()
        .unwrap_or_else(|| panic!("no failing_pods:\n{}", run.stdout));
    pods.iter()
        .map(|p| {
            let key = (
                p["namespace"].as_str().unwrap().to_string(),
                p["name"].as_str().unwrap().to_string(),
            );
            (key, decisions(&p["verdicts"]))
        })
        .collect()
}

/// A scan's groups without their evidence (live reads no other namespace, so the hint that a
/// missing secret lives elsewhere is the snapshot's alone).
fn groups(run: &Run) -> Vec<String> {
    let r = report(run);
    r["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            format!(
                "{} {} {} {} {} {} {:?}",
                g["cause"],
                g["registry"],
                g["pods"],
                g["workloads"],
                g["pod_names"],
                g["fixes_by_workload"],
                decisions(&Value::Array(vec![g["verdict"].clone()]))
            )
        })
        .collect()
}

#[test]
fn every_pod_gets_the_same_fix_whatever_other_namespaces_hold() {
    let reg = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth: Auth::htpasswd("payments-bot", PASSWORD),
    });
    let host = reg.host.clone();
    let ca = reg.pki.ca_file.clone();
    let dir = tempfile::tempdir().unwrap();
    let shop = fixture_docs("shop.yaml", &host);
    let payments = fixture_docs("payments.yaml", &host);
    // Nodes are cluster-scoped: `kubectl get nodes` lists them whatever the namespace.
    let nodes: Vec<&Value> = shop.iter().filter(|d| d["kind"] == "Node").collect();
    let shop_only = write_snapshot(dir.path(), "shop.yaml", &shop.iter().collect::<Vec<_>>());
    let mut pay_docs: Vec<&Value> = nodes.clone();
    pay_docs.extend(payments.iter());
    let payments_only = write_snapshot(dir.path(), "payments.yaml", &pay_docs);
    let both = write_snapshot(
        dir.path(),
        "both.yaml",
        &shop.iter().chain(payments.iter()).collect::<Vec<_>>(),
    );
    let api = KubeApi::start();
    api.load_fixture_with("cluster/shop.yaml", &host);
    api.load_fixture_with("cluster/payments.yaml", &host);
    let kc = api.kubeconfig();

    let pods: Vec<(String, String, bool)> = shop
        .iter()
        .chain(payments.iter())
        .filter(|d| d["kind"] == "Pod")
        .map(|d| {
            // Only images on the local registry are probed: nothing leaves 127.0.0.1.
            let local = d["spec"]["containers"]
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["image"].as_str().unwrap().starts_with(&host));
            (
                d["metadata"]["namespace"].as_str().unwrap().to_string(),
                d["metadata"]["name"].as_str().unwrap().to_string(),
                local,
            )
        })
        .collect();
    assert_eq!(pods.len(), 14, "{pods:?}");

    let mut by_pod = BTreeMap::new();
    for (ns, name, local) in &pods {
        let single = if ns == "shop" {
            &shop_only
        } else {
            &payments_only
        };
        let run = |source: &[&str]| {
            let mut args = vec!["pod", name, "-n", ns, "-o", "json", "--ca-file", path(&ca)];
            if !local {
                args.push("--no-probe");
            }
            args.extend_from_slice(source);
            let run = pulldoctor(&args);
            run.assert_no_leak("payments-bot", PASSWORD);
            let r = report(&run);
            (run.code, decisions(&r["verdicts"]), r)
        };
        let alone = run(&["--snapshot", path(single)]);
        let together = run(&["--snapshot", path(&both)]);
        let live = run(&["--kubeconfig", path(&kc)]);
        assert_eq!(
            (alone.0, &alone.1),
            (together.0, &together.1),
            "{ns}/{name}: the multi-namespace snapshot changed the diagnosis\n{:#}",
            together.2
        );
        assert_eq!(
            (alone.0, &alone.1),
            (live.0, &live.1),
            "{ns}/{name}: live differs from the snapshot\n{:#}",
            live.2
        );
        by_pod.insert(name.clone(), together.2);
    }
    assert!(
        api.writes().is_empty(),
        "pulldoctor wrote: {:?}",
        api.writes()
    );

    // The stories behind the comparison, so it cannot pass by everything being empty.
    let fixes = |pod: &str| by_pod[pod]["verdicts"][0]["fixes"].to_string();
    assert!(
        fixes("nightly-report-29381760-tm2jc")
            .contains("Delete the pods of CronJob nightly-report"),
        "the service account story: recreate, nothing to create\n{}",
        fixes("nightly-report-29381760-tm2jc")
    );
    let checkout = fixes("checkout-6b8d9-2xq7w");
    assert!(
        checkout.contains("payments-cred") && !checkout.contains("create secret"),
        "payments has the secret: reference it, create nothing\n{checkout}"
    );
    let orders = &by_pod["orders-0"]["verdicts"][0];
    assert!(
        orders
            .to_string()
            .contains("exists in namespace \\\"payments\\\""),
        "the other namespace is still a hint in the evidence: {orders:#}"
    );
    for (name, r) in &by_pod {
        for v in r["verdicts"].as_array().unwrap() {
            let f = v["fixes"].to_string();
            assert!(
                !f.contains("-n payments") || name.starts_with("checkout"),
                "{name}: a fix for another namespace: {f}"
            );
        }
    }

    // scan: the per-pod list of one snapshot of both namespaces is the union of each alone,
    // and the live cluster says the same.
    let scan = |source: &[&str]| {
        let mut args = vec!["scan", "-o", "json", "--ca-file", path(&ca)];
        args.extend_from_slice(source);
        let run = pulldoctor(&args);
        run.assert_no_leak("payments-bot", PASSWORD);
        run
    };
    let mut alone = per_pod(&scan(&["-n", "shop", "--snapshot", path(&shop_only)]));
    alone.extend(per_pod(&scan(&[
        "-n",
        "payments",
        "--snapshot",
        path(&payments_only),
    ])));
    let together = scan(&["-A", "--snapshot", path(&both)]);
    assert_eq!(alone, per_pod(&together), "{}", together.stdout);
    assert_eq!(alone.len(), 9, "{alone:#?}");
    let live = scan(&["-A", "--kubeconfig", path(&kc)]);
    assert_eq!(alone, per_pod(&live), "{}", live.stdout);
    assert_eq!(
        groups(&together),
        groups(&live),
        "snapshot and live group alike"
    );
}
