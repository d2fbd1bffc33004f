//! A live scan past its pod cap: more pods with a waiting container than a scan keeps, the
//! pull failures listed last. At the cap a pod waiting on a pull takes the place of one that
//! only waits (as a snapshot scan does), so a crowd of pods still being created cannot hide the
//! failures an on-call engineer ran the scan for.

use serde_json::{Value, json};

use crate::scenario::{path, pulldoctor};
use crate::support::kube_api::KubeApi;

/// A pod whose one container waits with `reason`.
fn waiting_pod(name: &str, image: &str, reason: &str, message: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "uid": format!("uid-{name}")},
        "spec": {"containers": [{"name": "app", "image": image}]},
        "status": {"phase": "Pending", "containerStatuses": [{"name": "app", "image": image,
            "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": reason, "message": message}}}]}})
}

#[test]
fn live_scan_keeps_pull_failures_listed_after_the_pod_cap() {
    let cap = pulldoctor::scene::live::MAX_KEPT_PODS;
    let api = KubeApi::start();
    // Listed by name: ten thousand and twenty pods being created, then three failing a pull.
    for i in 0..cap + 20 {
        api.add(waiting_pod(
            &format!("a-creating-{i:05}"),
            "127.0.0.1:9/app:1",
            "ContainerCreating",
            "",
        ));
    }
    for i in 0..3 {
        api.add(waiting_pod(
            &format!("z-failing-{i}"),
            "127.0.0.1:9/missing:1",
            "ErrImagePull",
            "rpc error: code = NotFound desc = failed to pull and unpack image \
             \"127.0.0.1:9/missing:1\": failed to resolve reference \"127.0.0.1:9/missing:1\": \
             127.0.0.1:9/missing:1: not found",
        ));
    }
    let kc = api.kubeconfig();
    let run = pulldoctor(&[
        "scan",
        "-n",
        "shop",
        "--no-probe",
        "--kubeconfig",
        path(&kc),
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).expect("JSON report");
    assert_eq!(report["totals"]["pods"], 3, "{:#}", report["totals"]);
    let text = report.to_string();
    for i in 0..3 {
        assert!(
            text.contains(&format!("z-failing-{i}")),
            "z-failing-{i} missing"
        );
    }
    // The cut is said: how many, the cap, and which pods were kept first.
    let notes = report["notes"].to_string();
    assert!(
        notes.contains(&format!(
            "23 pods in shop with a waiting container past the first {cap} (the cap a scan \
             keeps, pods waiting on a pull first"
        )),
        "{notes}"
    );
}
