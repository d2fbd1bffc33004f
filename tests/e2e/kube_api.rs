//! The Kubernetes API test server, proved faithful by the machine's real `kubectl`, then used to
//! test `scene::live` (every read path, paging, RBAC degradation, read-only) and
//! `scene::snapshot` (on kubectl's own `-o yaml` / `-o json` output of the same objects).

mod live;
mod snapshot;

use std::process::Command;

use serde_json::Value;

use crate::support::kube_api::{KubeApi, Verb};

/// The real kubectl, as installed on the machine.
const KUBECTL: &str = "/usr/bin/kubectl";

/// A server loaded with both fixture namespaces.
pub fn cluster() -> KubeApi {
    let api = KubeApi::start();
    api.load_fixture("cluster/shop.yaml");
    api.load_fixture("cluster/payments.yaml");
    api
}

/// Runs kubectl against the server with its kubeconfig, its own cache and HOME.
pub fn kubectl(api: &KubeApi, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(api.kubeconfig())
        .arg("--cache-dir")
        .arg(api.dir().join("kubectl-cache"))
        .arg("--request-timeout=20s")
        .args(args)
        .env("HOME", api.dir())
        .env_remove("KUBECONFIG")
        .output()
        .expect("run kubectl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("kubectl printed no JSON ({e}):\n{text}"))
}

#[test]
fn kubectl_gets_a_pod_as_json() {
    let api = cluster();
    let (code, out, err) = kubectl(&api, &["get", "pod", "web-7c9f8d6b5-x2x4q", "-o", "json"]);
    assert_eq!(code, 0, "stderr: {err}");
    let pod = json(&out);
    assert_eq!(pod["kind"], "Pod");
    assert_eq!(
        pod["metadata"]["namespace"], "shop",
        "the context's namespace was used"
    );
    assert_eq!(pod["spec"]["nodeName"], "worker-1");
    assert_eq!(
        pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
        "ImagePullBackOff"
    );
    let reqs = api.requests();
    assert!(
        reqs.iter()
            .any(|r| r.path == "/api/v1/namespaces/shop/pods/web-7c9f8d6b5-x2x4q")
    );
}

#[test]
fn kubectl_filters_events_by_involved_object() {
    let api = cluster();
    let (code, out, err) = kubectl(
        &api,
        &[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=db-0",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0, "stderr: {err}");
    let list = json(&out);
    let items = list["items"].as_array().unwrap();
    // db-0's four pull events plus one left by an earlier db-0 (another uid).
    assert_eq!(items.len(), 5, "{out}");
    assert!(items.iter().all(|e| e["involvedObject"]["name"] == "db-0"));
    let req = api
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/v1/namespaces/shop/events")
        .unwrap();
    assert_eq!(
        req.param("fieldSelector").as_deref(),
        Some("involvedObject.name=db-0")
    );

    let (code, out, _) = kubectl(
        &api,
        &[
            "get",
            "events",
            "-A",
            "--field-selector",
            "involvedObject.kind=Deployment",
            "-o",
            "json",
        ],
    );
    assert_eq!(code, 0);
    let kinds: Vec<Value> = json(&out)["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["involvedObject"]["kind"].clone())
        .collect();
    assert_eq!(kinds, vec![Value::from("Deployment")]);
}

#[test]
fn kubectl_follows_continue_tokens() {
    let api = cluster();
    let (code, out, err) = kubectl(&api, &["get", "pods", "--chunk-size=2", "-o", "name"]);
    assert_eq!(code, 0, "stderr: {err}");
    let names: Vec<&str> = out.lines().collect();
    assert_eq!(names.len(), 13, "every pod of shop:\n{out}");
    assert!(names.contains(&"pod/web-7c9f8d6b5-x2x4q") && names.contains(&"pod/static-2"));
    let pages: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/namespaces/shop/pods")
        .collect();
    assert_eq!(pages.len(), 7, "13 pods in pages of 2");
    assert!(
        pages
            .iter()
            .all(|r| r.param("limit").as_deref() == Some("2"))
    );
    assert!(pages[0].param("continue").is_none());
    assert!(pages[1..].iter().all(|r| r.param("continue").is_some()));

    // The table kubectl prints by default, across namespaces, from the server's Table pages.
    let (code, out, err) = kubectl(&api, &["get", "pods", "-A", "--chunk-size=3"]);
    assert_eq!(code, 0, "stderr: {err}");
    let lines: Vec<&str> = out.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"],
        "{out}"
    );
    assert_eq!(lines.len(), 1 + 14, "a header and 14 pods:\n{out}");
    let row = |name: &str| -> Vec<&str> {
        lines
            .iter()
            .find(|l| l.contains(name))
            .unwrap()
            .split_whitespace()
            .take(5)
            .collect()
    };
    assert_eq!(
        row("checkout-6b8d9-2xq7w"),
        [
            "payments",
            "checkout-6b8d9-2xq7w",
            "0/1",
            "ImagePullBackOff",
            "0"
        ]
    );
    assert_eq!(
        row("log-agent-h7x2p"),
        [
            "shop",
            "log-agent-h7x2p",
            "0/1",
            "Init:InvalidImageName",
            "0"
        ]
    );
    assert_eq!(row("static-1"), ["shop", "static-1", "1/1", "Running", "0"]);
    let all: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/pods")
        .collect();
    assert_eq!(all.len(), 5, "14 pods in pages of 3");
}

#[test]
fn kubectl_reports_a_forbidden_secret() {
    let api = cluster();
    api.forbid("secrets", Verb::Get);
    let (code, _, err) = kubectl(&api, &["get", "secret", "regcred"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Error from server (Forbidden): secrets \"regcred\" is forbidden: User \"system:serviceaccount:shop:pulldoctor\" cannot get resource \"secrets\" in API group \"\" in the namespace \"shop\""),
        "{err}"
    );
    // Listing was not refused, only getting.
    let (code, out, err) = kubectl(&api, &["get", "secrets", "-o", "name"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("secret/regcred"));
}

#[test]
fn kubectl_reports_a_missing_pod_and_a_refused_write() {
    let api = cluster();
    let (code, _, err) = kubectl(&api, &["get", "pod", "missing"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Error from server (NotFound): pods \"missing\" not found"),
        "{err}"
    );

    // Pods may be created and deleted (`--from-node`'s probe pod); nothing else is written.
    let (code, _, err) = kubectl(&api, &["delete", "secret", "regcred", "--wait=false"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("the server does not allow this method on the requested resource"),
        "{err}"
    );
    assert!(
        api.requests().iter().any(|r| r.method == "DELETE"),
        "the write was recorded"
    );
}

#[test]
fn kubectl_reads_the_owner_chain_through_discovery() {
    let api = cluster();
    let (code, out, err) = kubectl(&api, &["get", "replicaset", "web-7c9f8d6b5", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    let rs = json(&out);
    assert_eq!(rs["apiVersion"], "apps/v1");
    assert_eq!(rs["metadata"]["ownerReferences"][0]["kind"], "Deployment");
    let (code, out, err) = kubectl(
        &api,
        &[
            "get",
            "cronjob",
            "nightly-report",
            "-o",
            "jsonpath={.spec.schedule}",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "0 2 * * *");
    let (code, _, err) = kubectl(&api, &["get", "deployment", "gone"]);
    assert_eq!(code, 1);
    assert!(err.contains("deployments.apps \"gone\" not found"), "{err}");
}

#[test]
fn kubectl_uses_the_chosen_context_namespace() {
    let api = cluster();
    let (code, out, err) = kubectl(&api, &["--context", "other", "get", "pods", "-o", "name"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "pod/checkout-6b8d9-2xq7w");
}

#[test]
fn kubectl_selects_by_label_and_is_refused_an_unknown_field() {
    let api = cluster();
    let (code, out, err) = kubectl(&api, &["get", "pods", "-l", "app=web", "-o", "name"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["pod/web-7c9f8d6b5-kq8zt", "pod/web-7c9f8d6b5-x2x4q"]
    );
    let (code, out, err) = kubectl(
        &api,
        &[
            "get",
            "pods",
            "--field-selector",
            "spec.nodeName=worker-arm",
            "-o",
            "name",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "pod/db-0");
    let (code, _, err) = kubectl(
        &api,
        &["get", "pods", "--field-selector", "spec.image=nginx"],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("Error from server (BadRequest)")
            && err.contains("field label not supported: spec.image"),
        "{err}"
    );
}

#[test]
fn kubectl_without_the_token_is_unauthorized() {
    let api = cluster();
    let text = std::fs::read_to_string(api.kubeconfig())
        .unwrap()
        .replace(crate::support::kube_api::TOKEN, "stale-token");
    let path = api.dir().join("stale-kubeconfig");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(KUBECTL)
        .arg("--kubeconfig")
        .arg(&path)
        .arg("--cache-dir")
        .arg(api.dir().join("stale-cache"))
        .args(["get", "pods"])
        .env("HOME", api.dir())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("You must be logged in to the server"), "{err}");
}

#[test]
fn kubectl_discovers_the_server() {
    let api = cluster();
    let (code, out, err) = kubectl(&api, &["version", "-o", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["serverVersion"]["gitVersion"], "v1.33.1");
    let (code, out, err) = kubectl(&api, &["api-resources", "--no-headers", "-o", "name"]);
    assert_eq!(code, 0, "{err}");
    let served: Vec<&str> = out.lines().collect();
    for r in [
        "pods",
        "events",
        "secrets",
        "serviceaccounts",
        "nodes",
        "namespaces",
        "replicasets.apps",
        "deployments.apps",
        "jobs.batch",
        "cronjobs.batch",
    ] {
        assert!(served.contains(&r), "{r} missing from:\n{out}");
    }
    let (code, out, err) = kubectl(&api, &["get", "namespaces", "-o", "name"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        ["namespace/payments", "namespace/shop"]
    );
}
