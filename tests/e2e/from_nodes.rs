//! `scan --from-nodes`, end to end on test kubelets: one probe pod per node with failing pods
//! (one per set of pull secrets when they differ), and the report says on which nodes the
//! image fails and on which it pulls.

use serde_json::json;

use crate::from_node::{NODE_IMAGE, X509, checked, notes, registry};
use crate::node_root::{node_root, put, unrelated_bundle};
use crate::scenario::{Run, dockerconfigjson, path, pulldoctor};
use crate::support::kube_api::KubeApi;
use crate::support::kubelet::Kubelet;
use crate::support::{Auth, Tls};

/// A failing pod `name` of `image` on `node`, with kubelet's x509 event.
fn failing_on(api: &KubeApi, name: &str, node: &str, image: &str) {
    failing_with(api, name, node, image, &[]);
}

/// A failing pod `name` of `image` on `node` naming `secrets` as its pull secrets.
fn failing_with(api: &KubeApi, name: &str, node: &str, image: &str, secrets: &[&str]) {
    let uid = format!(
        "0b7e6a52-1d0e-4c2a-9a57-{:012x}",
        name.len() * 7919 + node.len()
    );
    let pull: Vec<_> = secrets.iter().map(|s| json!({"name": s})).collect();
    api.add(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "shop", "uid": uid},
        "spec": {"nodeName": node, "containers": [{"name": "app", "image": image}],
            "imagePullSecrets": pull},
        "status": {"phase": "Pending", "containerStatuses": [{"name": "app", "image": image,
            "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{image}\"")}}}]}}));
    api.add(json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{name}.1"), "namespace": "shop"},
        "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": name, "namespace": "shop",
            "uid": uid, "fieldPath": "spec.containers{app}"},
        "reason": "Failed", "message": format!("Failed to pull image \"{image}\": {X509}"),
        "type": "Warning", "count": 3, "source": {"component": "kubelet", "host": node}}));
}

/// `scan -n shop -o json --from-nodes …` against the test server.
fn scan_from_nodes(api: &KubeApi, extra: &[&str]) -> Run {
    let kc = api.kubeconfig();
    let mut args = vec![
        "scan",
        "-n",
        "shop",
        "-o",
        "json",
        "--kubeconfig",
        path(&kc),
        "--from-nodes",
        "--node-image",
        NODE_IMAGE,
        "--probe-timeout",
        "30",
    ];
    args.extend_from_slice(extra);
    pulldoctor(&args)
}

#[test]
fn scan_from_nodes_says_on_which_nodes_an_image_fails() {
    let reg = registry(Tls::Valid, Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    let mut kubelets = Vec::new();
    let mut roots = Vec::new();
    for (i, node) in ["node-a", "node-b", "node-c"].iter().enumerate() {
        failing_on(&api, &format!("web-{i}"), node, &image);
        let root = node_root("containerd-hosts-ca", &[("REGISTRY", &reg.host)]);
        unrelated_bundle(root.path());
        if *node == "node-c" {
            // Only node-c has the CA its hosts.toml names.
            let ca = format!("/etc/containerd/certs.d/{}/ca.crt", reg.host);
            put(root.path(), &ca, &reg.pki.ca_pem);
        }
        let k = Kubelet::start(&api, node, root.path());
        k.net.forward(reg.port(), reg.host.parse().unwrap());
        kubelets.push(k);
        roots.push(root);
    }
    let run = scan_from_nodes(&api, &["--node-concurrency", "2"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = checked(&api, &run);
    let n = notes(&report);
    assert!(
        n.contains(&format!(
            "[node] {image} fails on 2 of 3 nodes probed (node-a: tls_unknown_authority, node-b: tls_unknown_authority); pulls on node-c"
        )),
        "{n}"
    );
    let nodes: Vec<&str> = report["from_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["node"].as_str().unwrap())
        .collect();
    assert_eq!(nodes, ["node-a", "node-b", "node-c"]);
    assert_eq!(api.created_pods().len(), 3, "one probe pod per node");
    for (k, node) in kubelets.iter().zip(["node-a", "node-b", "node-c"]) {
        assert_eq!(k.ran().len(), 1, "{node} ran its probe once");
    }
}

/// Two pods on one node pull the same image from a registry that wants a password: one names
/// the secret that holds it, the other names none. Each is judged with its own secrets: two
/// probe pods on the node, and the image pulls for the first and fails for the second.
#[test]
fn scan_from_nodes_judges_each_pod_with_its_own_pull_secrets() {
    let (user, password) = ("shopci", "node-secret-9c41f7");
    let reg = registry(Tls::Valid, Auth::htpasswd(user, password));
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    failing_with(&api, "web-0", "node-a", &image, &["regcred"]);
    failing_with(&api, "batch-0", "node-a", &image, &[]);
    api.add(dockerconfigjson(
        "shop", "regcred", &reg.host, user, password,
    ));
    let root = node_root("containerd-hosts-ca", &[("REGISTRY", &reg.host)]);
    unrelated_bundle(root.path());
    let ca = format!("/etc/containerd/certs.d/{}/ca.crt", reg.host);
    put(root.path(), &ca, &reg.pki.ca_pem);
    let kubelet = Kubelet::start(&api, "node-a", root.path());
    kubelet.net.forward(reg.port(), reg.host.parse().unwrap());

    let run = scan_from_nodes(&api, &[]);
    run.assert_no_leak(user, password);
    let report = checked(&api, &run);
    assert_eq!(
        api.created_pods().len(),
        2,
        "one probe pod per set of secrets"
    );
    assert_eq!(kubelet.ran().len(), 2);
    let mounted: Vec<String> = api
        .created_pods()
        .iter()
        .map(|p| p["spec"]["volumes"].to_string())
        .collect();
    assert_eq!(
        mounted
            .iter()
            .filter(|v| v.contains("\"secretName\":\"regcred\""))
            .count(),
        1,
        "only the probe for web-0 mounts regcred: {mounted:?}"
    );
    let n = notes(&report);
    assert!(
        n.contains(&format!(
            "[node] {image} fails on 1 of 2 probes (one per node and set of pull secrets) (node-a (shop, no pull secrets): auth_required); pulls on node-a (shop, secrets regcred)"
        )),
        "{n}"
    );
    let secrets: Vec<String> = report["from_nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["pull_secrets"].to_string())
        .collect();
    assert!(
        secrets.contains(&"[\"regcred\"]".to_string()),
        "{secrets:?}"
    );
}
