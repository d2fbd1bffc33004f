//! The bench behind `--from-node`, checked with the real `kubectl`: the API test server takes a
//! pod create, get, log and delete as kube-apiserver does (Pod Security Admission and RBAC
//! refusals included), and the test kubelet runs the pod in a network namespace that reaches
//! the registry only through a path the test opens.

use serde_json::{Value, json};

use crate::kube_api::kubectl;
use crate::node_root::containerd_trusting;
use crate::support::kube_api::{KubeApi, Verb};
use crate::support::kubelet::Kubelet;
use crate::support::{Auth, Registry, RegistryOptions, Tls};

/// A probe-like pod: `node-probe` over the node's /etc, on node-1.
fn probe_pod(reference: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"generateName": "probe-", "namespace": "shop"},
        "spec": {"nodeName": "node-1", "hostNetwork": true, "restartPolicy": "Never",
            "activeDeadlineSeconds": 60,
            "containers": [{"name": "probe", "image": "pulldoctor:test", "command": ["pulldoctor"],
                "args": ["node-probe", "--host-root", "/host", "--runtime", "containerd", reference],
                "volumeMounts": [{"name": "host-etc", "mountPath": "/host/etc", "readOnly": true}]}],
            "volumes": [{"name": "host-etc", "hostPath": {"path": "/etc", "type": "Directory"}}]}})
}

fn wait_phase(api: &KubeApi, name: &str, want: &[&str]) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (code, out, err) = kubectl(api, &["get", "pod", name, "-o", "json"]);
        assert_eq!(code, 0, "{err}");
        let pod: Value = serde_json::from_str(&out).unwrap();
        let phase = pod["status"]["phase"].as_str().unwrap_or("");
        if want.contains(&phase) {
            return pod;
        }
        if phase == "Succeeded" || phase == "Failed" {
            panic!("{name} ended {phase}:\n{}", kubectl(api, &["logs", name]).1);
        }
        assert!(std::time::Instant::now() < deadline, "{pod:#}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn kubectl_creates_a_pod_the_test_kubelet_runs_in_the_nodes_network() {
    let reg = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth: Auth::None,
    });
    reg.seed_fixtures();
    let api = KubeApi::start();
    let root = tempfile::tempdir().unwrap();
    containerd_trusting(root.path(), &reg.pki.ca_pem);
    let kubelet = Kubelet::start(&api, "node-1", root.path());
    let reference = format!("{}/app:1.0", reg.host);
    let spec = api.dir().join("pod.json");
    std::fs::write(&spec, probe_pod(&reference).to_string()).unwrap();

    // The node has no path to the registry: the probe there cannot connect.
    let (code, out, err) = kubectl(
        &api,
        &[
            "create",
            "--validate=false",
            "-f",
            spec.to_str().unwrap(),
            "-o",
            "name",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let name = out.trim().strip_prefix("pod/").unwrap().to_string();
    assert!(
        name.starts_with("probe-") && name.len() == "probe-".len() + 5,
        "{name}"
    );
    let done = wait_phase(&api, &name, &["Failed"]);
    assert_eq!(
        done["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
        1
    );
    let (code, log, err) = kubectl(&api, &["logs", &name]);
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&log[log.find("{\n").unwrap()..]).unwrap();
    assert_eq!(
        report["verdicts"][0]["cause"], "network_unreachable",
        "{log}"
    );

    // A path opened into the node's network: the same pod now pulls.
    kubelet.net.forward(reg.port(), reg.host.parse().unwrap());
    let (code, out, err) = kubectl(
        &api,
        &[
            "create",
            "--validate=false",
            "-f",
            spec.to_str().unwrap(),
            "-o",
            "name",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let second = out.trim().strip_prefix("pod/").unwrap().to_string();
    wait_phase(&api, &second, &["Succeeded"]);
    let (_, log, _) = kubectl(&api, &["logs", &second]);
    assert!(log.contains("\"healthy\": 1"), "{log}");

    let (code, _, err) = kubectl(&api, &["delete", "pod", &name, &second, "--wait=false"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        api.deleted_pods(),
        [format!("shop/{name}"), format!("shop/{second}")]
    );
    let (code, _, err) = kubectl(&api, &["get", "pod", &name]);
    assert_eq!(code, 1);
    assert!(err.contains("NotFound"), "{err}");
    assert_eq!(kubelet.ran().len(), 2);
}

#[test]
fn kubectl_sees_pod_security_and_rbac_refuse_the_pod() {
    let api = KubeApi::start();
    api.add(json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "shop", "labels": {"pod-security.kubernetes.io/enforce": "baseline"}}}));
    let spec = api.dir().join("pod.json");
    std::fs::write(&spec, probe_pod("127.0.0.1:1/app:1").to_string()).unwrap();
    let (code, _, err) = kubectl(
        &api,
        &["create", "--validate=false", "-f", spec.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("is forbidden: violates PodSecurity \"baseline:latest\": host namespaces (hostNetwork=true), hostPath volumes (volume \"host-etc\")"),
        "{err}"
    );

    api.forbid("pods", Verb::Create);
    let (code, _, err) = kubectl(
        &api,
        &["create", "--validate=false", "-f", spec.to_str().unwrap()],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("pods is forbidden: User \"system:serviceaccount:shop:pulldoctor\" cannot create resource \"pods\" in API group \"\" in the namespace \"shop\""),
        "{err}"
    );
    assert!(api.created_pods().is_empty());
}
