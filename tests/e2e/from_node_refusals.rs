//! `pod NAME --from-node` when the node cannot be probed, end to end on the test kubelet: Pod
//! Security Admission and RBAC refuse the pod, the node cannot pull the probe image, the pod
//! never starts (timeout), the node is NotReady, the user presses Ctrl-C, or the command line
//! asks for what cannot be done. Each is a note beside this machine's verdict, and any probe
//! pod created is deleted.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::from_node::{NODE_IMAGE, X509, checked, failing, from_node, notes, registry};
use crate::scenario::{Run, path, pulldoctor};
use crate::support::kube_api::{KubeApi, Verb};
use crate::support::kubelet::Kubelet;
use crate::support::{Auth, Tls};

#[test]
fn pod_security_and_rbac_refusals_are_notes_beside_this_machines_verdict() {
    let reg = registry(Tls::Valid, Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    failing(&api, &image, X509);
    api.add(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop",
        "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}),
    );
    let root = tempfile::tempdir().unwrap();
    let _kubelet = Kubelet::start(&api, "node-1", root.path());
    let run = from_node(&api, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = checked(&api, &run);
    assert_eq!(report["from_node"]["outcome"], "pod_security");
    assert_eq!(report["verdicts"][0]["cause"], "tls_unknown_authority");
    let n = notes(&report);
    assert!(
        n.contains("violates PodSecurity \"baseline:latest\": host namespaces (hostNetwork=true)"),
        "{n}"
    );
    assert!(
        n.contains("pod-security.kubernetes.io/enforce=privileged"),
        "{n}"
    );
    assert!(api.created_pods().is_empty());

    api.forbid("pods", Verb::Create);
    let run = from_node(&api, &[]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = checked(&api, &run);
    assert_eq!(report["from_node"]["outcome"], "forbidden");
    let n = notes(&report);
    assert!(
        n.contains("cannot create resource \\\"pods\\\"")
            || n.contains("cannot create resource \"pods\""),
        "{n}"
    );
    assert!(n.contains("docs/rbac-node.yaml"), "{n}");
}

#[test]
fn probe_image_unpullable_node_not_ready_and_timeout_are_answers() {
    let reg = registry(Tls::Valid, Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    failing(&api, &image, X509);
    let root = tempfile::tempdir().unwrap();
    let kubelet = Kubelet::start(&api, "node-1", root.path());
    kubelet.refuse_image(NODE_IMAGE, "rpc error: code = NotFound desc = failed to pull and unpack image \"pulldoctor:test\": not found");
    let run = from_node(&api, &[]);
    let report = checked(&api, &run);
    assert_eq!(report["from_node"]["outcome"], "probe_image_pull_failed");
    assert!(
        notes(&report).contains("cannot pull the probe image (ErrImagePull"),
        "{}",
        notes(&report)
    );
    drop(kubelet);

    // A probe pod the node never starts is deleted when --probe-timeout passes.
    let kubelet = Kubelet::start(&api, "node-1", root.path());
    kubelet.hold();
    let run = from_node(&api, &["--probe-timeout", "1"]);
    let report = checked(&api, &run);
    assert_eq!(report["from_node"]["outcome"], "timeout");
    assert!(
        notes(&report).contains("did not finish within 1 s (phase Pending)"),
        "{}",
        notes(&report)
    );

    // A NotReady node gets no probe pod.
    let before = api.created_pods().len();
    api.add(json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
        "status": {"conditions": [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
            "message": "Kubelet stopped posting node status."}]}}));
    let run = from_node(&api, &[]);
    let report = checked(&api, &run);
    assert_eq!(report["from_node"]["outcome"], "node_not_ready");
    assert!(
        notes(&report).contains(
            "node node-1 is NotReady (NodeStatusUnknown: Kubelet stopped posting node status.)"
        ),
        "{}",
        notes(&report)
    );
    assert_eq!(api.created_pods().len(), before);
}

#[test]
fn ctrl_c_deletes_the_probe_pod() {
    let reg = registry(Tls::Valid, Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    failing(&api, &image, X509);
    let root = tempfile::tempdir().unwrap();
    let kubelet = Kubelet::start(&api, "node-1", root.path());
    kubelet.hold();
    let kc = api.kubeconfig();
    let child = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args([
            "pod",
            "web-0",
            "-n",
            "shop",
            "-o",
            "json",
            "--kubeconfig",
            path(&kc),
            "--from-node",
            "--node-image",
            NODE_IMAGE,
            "--probe-timeout",
            "60",
            "--no-probe",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.created_pods().is_empty() {
        assert!(Instant::now() < deadline, "no probe pod was created");
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: a signal to the child this test started.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    let report = checked(&api, &run);
    assert_eq!(
        report["from_node"]["outcome"], "interrupted",
        "{}",
        run.stderr
    );
    assert_eq!(report["from_node"]["deleted"], true);
    assert_eq!(api.deleted_pods().len(), 1);
}

#[test]
fn from_node_needs_a_live_cluster_and_a_sane_timeout() {
    let snap = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/snapshots/private-ca.yaml"
    );
    let run = pulldoctor(&["pod", "nginx-registry", "--snapshot", snap, "--from-node"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("--from-node runs a probe pod on the node: it needs a live cluster"),
        "{}",
        run.stderr
    );
    let run = pulldoctor(&["scan", "-A", "--snapshot", snap, "--from-nodes"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr
            .contains("--from-nodes runs probe pods on the nodes"),
        "{}",
        run.stderr
    );
    let api = KubeApi::start();
    let run = from_node(&api, &["--probe-timeout", "0"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--probe-timeout must be more than 0"),
        "{}",
        run.stderr
    );
    assert!(api.writes().is_empty());
}

#[test]
fn without_a_node_image_nothing_is_created_and_the_user_is_told_how_to_get_one() {
    let api = KubeApi::start();
    failing(&api, "127.0.0.1:9/app:1.0", X509);
    let kc = api.kubeconfig();
    let run = pulldoctor(&[
        "pod",
        "web-0",
        "-n",
        "shop",
        "--kubeconfig",
        path(&kc),
        "--from-node",
    ]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("--from-node needs --node-image") && run.stderr.contains("Dockerfile"),
        "{}",
        run.stderr
    );
    assert!(api.writes().is_empty(), "nothing is written to the cluster");
}

#[test]
fn a_create_that_times_out_is_deleted_by_the_name_pulldoctor_chose() {
    // The API server takes 3 s to answer (and only then makes) each write; pulldoctor gives
    // each call 1 s. The create it gave up on still happens, so it deletes the pod by the name
    // it chose, and that delete, late too, happens after the create.
    let reg = registry(Tls::Valid, Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    failing(&api, &image, X509);
    api.delay_writes(Duration::from_secs(3));
    let run = from_node(&api, &["--timeout", "1"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    let node = &report["from_node"];
    assert_eq!(node["outcome"], "failed", "{node:#}");
    let detail = node["detail"].as_str().unwrap();
    assert!(
        detail.contains("could not create the probe pod"),
        "{detail}"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.deleted_pods().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let created: Vec<String> = api
        .created_pods()
        .iter()
        .map(|p| p["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(created.len(), 1, "the create happened after all");
    assert!(
        detail.contains(&format!("shop/{}", created[0])),
        "the note names the pod: {detail}"
    );
    assert_eq!(api.deleted_pods(), [format!("shop/{}", created[0])]);
    assert!(
        api.pods_in("shop").iter().all(|p| !p["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("pulldoctor-probe-")),
        "no probe pod left behind"
    );
}
