//! `scan --snapshot FILE --node-root DIR`: every failing image of the scan is probed with one
//! node's files, offline, the runtime taken from the pods' Node object. The story: a node's
//! containerd drop-in sets an `HTTPS_PROXY` with a typo, and its pods cannot pull from the
//! registry the node knows by name (`/etc/hosts`).

use serde_json::{Value, json};

use crate::node_root::node_root;
use crate::scenario::{Run, assert_schema, path, pulldoctor};

const IMAGE: &str = "registry.node.test:5000/app:1";
const UNIT: &str = "/etc/systemd/system/containerd.service.d/http-proxy.conf";

/// A Node running containerd 1.7 and one Deployment pod that cannot pull `IMAGE`, with
/// containerd's words for a proxy it cannot use.
fn snapshot(dir: &std::path::Path) -> std::path::PathBuf {
    let message = format!(
        "Failed to pull image \"{IMAGE}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{IMAGE}\": failed to resolve reference \"{IMAGE}\": failed to do request: Head \"https://registry.node.test:5000/v2/app/manifests/1\": proxyconnect tcp: dial tcp: lookup http on 127.0.0.53:53: no such host"
    );
    let owner = json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-6f9c8d7b5",
        "uid": "7c0e4b1a-0000-4000-8000-000000000002", "controller": true});
    let items = json!([
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
         "status": {"nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
            "containerRuntimeVersion": "containerd://1.7.24", "kubeletVersion": "v1.30.4",
            "bootID": "", "kernelVersion": "", "kubeProxyVersion": "", "machineID": "",
            "osImage": "", "systemUUID": ""}}},
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": "web", "namespace": "shop", "uid": "7c0e4b1a-0000-4000-8000-000000000001"}},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet",
         "metadata": {"name": "web-6f9c8d7b5", "namespace": "shop", "uid": "7c0e4b1a-0000-4000-8000-000000000002",
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                "uid": "7c0e4b1a-0000-4000-8000-000000000001", "controller": true}]}},
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "web-6f9c8d7b5-x2x4q", "namespace": "shop",
            "uid": "7c0e4b1a-0000-4000-8000-000000000003",
            "creationTimestamp": "2026-11-20T09:00:00Z", "ownerReferences": [owner]},
         "spec": {"containers": [{"name": "app", "image": IMAGE}], "nodeName": "node-1"},
         "status": {"phase": "Pending", "containerStatuses": [{"name": "app", "image": IMAGE,
            "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff",
                "message": format!("Back-off pulling image \"{IMAGE}\"")}}}]}},
        {"apiVersion": "v1", "kind": "Event",
         "metadata": {"name": "web-6f9c8d7b5-x2x4q.0001", "namespace": "shop"},
         "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "web-6f9c8d7b5-x2x4q",
            "namespace": "shop", "uid": "7c0e4b1a-0000-4000-8000-000000000003",
            "fieldPath": "spec.containers{app}"},
         "reason": "Failed", "message": message, "type": "Warning", "count": 3,
         "source": {"component": "kubelet", "host": "node-1"}}
    ]);
    let file = dir.join("cluster.json");
    std::fs::write(
        &file,
        json!({"apiVersion": "v1", "kind": "List", "items": items}).to_string(),
    )
    .unwrap();
    file
}

fn scan(snap: &std::path::Path, extra: &[&str]) -> Run {
    let mut args = vec!["scan", "--snapshot", path(snap), "-n", "shop", "-o", "json"];
    args.extend_from_slice(extra);
    let run = pulldoctor(&args);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    run
}

fn first_verdict(report: &Value) -> Value {
    report["groups"][0]["verdict"].clone()
}

#[test]
fn scan_with_node_root_probes_every_failing_image_with_the_nodes_files() {
    let dir = tempfile::tempdir().unwrap();
    let snap = snapshot(dir.path());

    // Without the node's files: the event's words only; the `.test` name is never contacted.
    let report = scan(&snap, &[]).json();
    assert_schema(&report);
    let v = first_verdict(&report);
    assert_eq!(v["cause"], "proxy_failure", "{v:#}");
    assert_eq!(v["confidence"], "likely", "{v:#}");
    assert!(
        report["node_config"]
            .as_array()
            .is_none_or(|n| n.is_empty())
    );

    // With them: the drop-in's malformed HTTPS_PROXY is the cause, confirmed, and the fix
    // edits its line; the runtime came from the pod's Node object.
    let root = node_root("proxy-dropin", &[("BYPASS", "other.example.com")]);
    let report = scan(&snap, &["--node-root", path(root.path())]).json();
    assert_schema(&report);
    let v = first_verdict(&report);
    assert_eq!(v["cause"], "proxy_failure", "{v:#}");
    assert_eq!(v["confidence"], "confirmed", "{v:#}");
    let fixes = report["groups"][0]["fixes_by_workload"][0]["fixes"].to_string();
    assert!(
        fixes.contains(&format!("On the node, edit {UNIT} line 5: HTTPS_PROXY=")),
        "{fixes}"
    );
    let n = &report["node_config"][0];
    assert_eq!(n["runtime"], "containerd", "{n:#}");
    assert_eq!(n["image"], IMAGE);
}
