//! `pod NAME --from-node`, end to end on the test kubelet: the real binary creates its probe
//! pod on the API test server, the test kubelet runs it (the binary standing in for the image)
//! over a fixture node root inside the node's own network namespace, and the node's verdict is
//! merged into the report. Every test checks the probe pod was deleted and that pulldoctor
//! wrote nothing but that pod; the first checks the whole spec an operator would review.
//! Refusals are in `from_node_refusals.rs`, `scan --from-nodes` in `from_nodes.rs`.

use serde_json::{Value, json};

use crate::node_root::{
    CONTAINERD_WITH_CONFIG_PATH, containerd_trusting, node_root, put, unrelated_bundle,
};
use crate::scenario::{
    Run, Scenario, assert_schema, b64, dockerconfigjson, evidence_text, path, pulldoctor,
};
use crate::support::kube_api::KubeApi;
use crate::support::kubelet::Kubelet;
use crate::support::{Auth, Registry, RegistryOptions, Tls};

pub const NODE_IMAGE: &str = "pulldoctor:test";

pub fn registry(tls: Tls, auth: Auth) -> Registry {
    let reg = Registry::start(RegistryOptions { tls, auth });
    reg.seed_fixtures();
    reg
}

/// `pod web-0 -n shop -o json --from-node …` against the test server.
pub fn from_node(api: &KubeApi, extra: &[&str]) -> Run {
    let kc = api.kubeconfig();
    let mut args = vec![
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
    ];
    if !extra.contains(&"--probe-timeout") {
        args.extend(["--probe-timeout", "30"]);
    }
    args.extend_from_slice(extra);
    pulldoctor(&args)
}

/// The report, schema-checked, after checking the probe pod was the only write and is gone.
pub fn checked(api: &KubeApi, run: &Run) -> Value {
    let report = run.json();
    assert_schema(&report);
    for w in api.writes() {
        assert!(
            (w.method == "POST" && w.path == "/api/v1/namespaces/shop/pods")
                || (w.method == "DELETE"
                    && w.path
                        .starts_with("/api/v1/namespaces/shop/pods/pulldoctor-probe-")),
            "pulldoctor wrote {} {}",
            w.method,
            w.path
        );
    }
    // Concurrent probes (scan --from-nodes) end in any order.
    let mut created: Vec<String> = api
        .created_pods()
        .iter()
        .map(|p| format!("shop/{}", p["metadata"]["name"].as_str().unwrap()))
        .collect();
    let mut deleted = api.deleted_pods();
    created.sort();
    deleted.sort();
    assert_eq!(deleted, created, "every probe pod is deleted, once");
    assert!(
        api.pods_in("shop").iter().all(|p| !p["metadata"]["name"]
            .as_str()
            .unwrap()
            .starts_with("pulldoctor-probe-")),
        "no probe pod left behind"
    );
    report
}

pub fn notes(report: &Value) -> String {
    report["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A failing pod of `image` with kubelet's x509 event, on node-1 (containerd 1.7.24).
pub fn failing(api: &KubeApi, image: &str, message: &str) {
    Scenario::new(image)
        .event(
            "Failed",
            &format!("Failed to pull image \"{image}\": {message}"),
        )
        .load(api);
}

pub const X509: &str = "rpc error: code = Unknown desc = failed to pull and unpack image: failed to resolve reference: failed to do request: tls: failed to verify certificate: x509: certificate signed by unknown authority";

#[test]
fn node_lacks_the_ca_the_laptop_has_and_the_spec_is_what_an_operator_accepts() {
    let reg = registry(Tls::Valid, Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    failing(&api, &image, X509);
    api.add(
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
        "spec": {"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
            "containerRuntimeVersion": "containerd://1.7.24", "kubeletVersion": "v1.30.4",
            "bootID": "", "kernelVersion": "", "kubeProxyVersion": "", "machineID": "",
            "osImage": "", "systemUUID": ""}}}),
    );
    // The node's hosts.toml names a CA file the node does not have.
    let root = node_root("containerd-hosts-ca", &[("REGISTRY", &reg.host)]);
    unrelated_bundle(root.path());
    let kubelet = Kubelet::start(&api, "node-1", root.path());
    kubelet.net.forward(reg.port(), reg.host.parse().unwrap());

    let ca = reg.ca_file.clone().unwrap();
    let run = from_node(&api, &["--ca-file", path(&ca)]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = checked(&api, &run);
    let from = &report["from_node"];
    assert_eq!(from["outcome"], "probed", "{from:#}");
    assert_eq!(from["node"], "node-1");
    assert_eq!(
        from["verdicts"][0]["cause"], "tls_unknown_authority",
        "{from:#}"
    );
    let n = notes(&report);
    assert!(
        n.contains(&format!(
            "[node] probed from node-1: {image}: tls_unknown_authority (confirmed)"
        )),
        "{n}"
    );
    let ev = evidence_text(&report["verdicts"][0]);
    assert!(
        ev.contains("probed from node-1: tls_unknown_authority"),
        "{ev}"
    );
    // The node's report names the CA file its hosts.toml wants and lacks.
    let findings = from["report"]["node_config"][0]["findings"].to_string();
    assert!(
        findings.contains("does not exist on the node"),
        "{findings}"
    );

    // The spec.
    let pods = api.created_pods();
    assert_eq!(pods.len(), 1);
    let pod = &pods[0];
    assert_eq!(
        pod["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "pulldoctor"
    );
    let spec = &pod["spec"];
    assert_eq!(spec["nodeName"], "node-1");
    assert_eq!(spec["hostNetwork"], true);
    assert_eq!(spec["dnsPolicy"], "Default");
    assert_eq!(spec["restartPolicy"], "Never");
    assert_eq!(spec["activeDeadlineSeconds"], 30);
    assert_eq!(spec["automountServiceAccountToken"], false);
    assert_eq!(
        spec["tolerations"],
        json!([{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}])
    );
    let c = &spec["containers"][0];
    assert_eq!(c["image"], NODE_IMAGE);
    let sc = &c["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["privileged"], false);
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    for m in c["volumeMounts"].as_array().unwrap() {
        assert_eq!(m["readOnly"], true, "{m}");
    }
    let host_paths: Vec<&str> = spec["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["hostPath"]["path"].as_str())
        .collect();
    // kubelet's directory (every pod's volumes) only with --node-credentials.
    assert_eq!(host_paths, ["/etc", "/usr/lib/systemd/system"]);
    // The laptop's --ca-file stays on the laptop: the node probes with its own files only.
    let args = c["args"].to_string();
    assert!(
        !args.contains("--ca-file") && !args.contains(ca.to_str().unwrap()),
        "{args}"
    );
    assert!(
        args.contains("containerd://1.7.24") && args.contains("linux/amd64"),
        "{args}"
    );
    assert!(c.get("env").is_none(), "{c:#}");
    assert_eq!(kubelet.running(), 0);
}

#[test]
fn node_cannot_reach_the_registry_this_machine_reaches() {
    let reg = registry(Tls::Valid, Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    failing(
        &api,
        &image,
        "rpc error: code = Unknown desc = failed to pull and unpack image: failed to resolve reference: failed to do request: Head: dial tcp: i/o timeout",
    );
    let root = tempfile::tempdir().unwrap();
    containerd_trusting(root.path(), &reg.pki.ca_pem);
    let _kubelet = Kubelet::start(&api, "node-1", root.path());
    // No path into the node's network: the node cannot connect, this machine can.
    let ca = reg.ca_file.clone().unwrap();
    let run = from_node(&api, &["--ca-file", path(&ca)]);
    let report = checked(&api, &run);
    assert_eq!(
        report["from_node"]["verdicts"][0]["cause"], "network_unreachable",
        "{:#}",
        report["from_node"]
    );
    let n = notes(&report);
    assert!(
        n.contains("[node] probed from node-1:") && n.contains("network_unreachable"),
        "{n}"
    );
    // This machine reaches the registry, which contradicts the event; the node confirms it.
    assert_eq!(report["verdicts"][0]["confidence"], "contradicted");
    assert_eq!(
        report["from_node"]["verdicts"][0]["confidence"],
        "confirmed"
    );
}

#[test]
fn node_level_and_pull_secret_credentials_reach_the_node_not_the_spec() {
    let (user, password) = ("nodeuser", "node-pass-3e7d21");
    let reg = registry(Tls::Valid, Auth::htpasswd(user, password));
    let image = format!("{}/app:1.0", reg.host);
    let auth = b64(&format!("{user}:{password}"));
    let root = node_root(
        "kubelet-config",
        &[("REGISTRY", &reg.host), ("AUTH", &auth)],
    );
    containerd_trusting(root.path(), &reg.pki.ca_pem);

    // Node-level: kubelet's /var/lib/kubelet/config.json lets the node pull.
    let api = KubeApi::start();
    failing(
        &api,
        &image,
        "rpc error: code = Unknown desc = failed to pull and unpack image: failed to authorize: failed to fetch anonymous token: unexpected status: 401 Unauthorized",
    );
    let kubelet = Kubelet::start(&api, "node-1", root.path());
    kubelet.net.forward(reg.port(), reg.host.parse().unwrap());
    // Without --node-credentials /var/lib/kubelet is not mounted, and the report says so.
    let run = from_node(&api, &[]);
    let report = checked(&api, &run);
    assert!(
        notes(&report).contains("kubelet's node-level config.json was not read"),
        "{}",
        notes(&report)
    );
    assert!(report["from_node"]["verdicts"][0].get("cause").is_some());
    let run = from_node(&api, &["--node-credentials"]);
    run.assert_no_leak(user, password);
    let report = checked(&api, &run);
    let mounted = api.created_pods().last().unwrap()["spec"]["volumes"].to_string();
    assert!(mounted.contains("\"/var/lib/kubelet\""), "{mounted}");
    let v = &report["from_node"]["verdicts"][0];
    assert!(
        v.get("cause").is_none(),
        "the node pulls with its config.json: {v:#}"
    );
    assert_eq!(
        report["from_node"]["report"]["node_config"][0]["credentials"]["file"],
        "/var/lib/kubelet/config.json"
    );
    drop(kubelet);

    // A pull secret: mounted as a secret volume, its value never in the spec, args or env.
    std::fs::remove_file(root.path().join("var/lib/kubelet/config.json")).unwrap();
    let api = KubeApi::start();
    Scenario::new(&image)
        .event(
            "Failed",
            "rpc error: code = Unknown desc = 401 Unauthorized",
        )
        .pull_secret("regcred")
        .secret(dockerconfigjson(
            "shop", "regcred", &reg.host, user, password,
        ))
        .load(&api);
    let kubelet = Kubelet::start(&api, "node-1", root.path());
    kubelet.net.forward(reg.port(), reg.host.parse().unwrap());
    let run = from_node(&api, &[]);
    run.assert_no_leak(user, password);
    let report = checked(&api, &run);
    assert!(
        report["from_node"]["verdicts"][0].get("cause").is_none(),
        "{:#}",
        report["from_node"]
    );
    let pod = api.created_pods()[0].to_string();
    for secret in [password.to_string(), auth.clone()] {
        assert!(!pod.contains(&secret), "the spec holds a secret");
    }
    assert!(pod.contains("\"secretName\":\"regcred\""), "{pod}");
    let ran = kubelet.ran();
    assert_eq!(ran.len(), 1);
    let seen = format!("{:?} {:?}", ran[0].args, ran[0].env);
    assert!(!seen.contains(password) && !seen.contains(&auth), "{seen}");
}

#[test]
fn mirror_in_hosts_toml_serves_the_node_when_upstream_is_unreachable() {
    let upstream = registry(Tls::Valid, Auth::None);
    let mirror = registry(Tls::Plain, Auth::None);
    let image = format!("{}/app:1.0", upstream.host);
    let api = KubeApi::start();
    failing(&api, &image, X509);
    let root = node_root(
        "containerd-mirror",
        &[("REGISTRY", &upstream.host), ("MIRROR", &mirror.host)],
    );
    unrelated_bundle(root.path());
    let kubelet = Kubelet::start(&api, "node-1", root.path());
    kubelet
        .net
        .forward(mirror.port(), mirror.host.parse().unwrap());
    let run = from_node(&api, &[]);
    let report = checked(&api, &run);
    let from = &report["from_node"];
    assert!(from["verdicts"][0].get("cause").is_none(), "{from:#}");
    let first = &from["report"]["node_config"][0]["endpoints"][0];
    assert_eq!(first["url"], format!("http://{}", mirror.host));
    assert_eq!(first["role"], "mirror");
    assert!(
        mirror
            .log()
            .iter()
            .any(|l| l.contains("/v2/app/manifests/1.0")),
        "the mirror served it"
    );
}

#[test]
fn node_dns_cannot_resolve_a_name_this_machine_is_told() {
    // A split-DNS name: this machine is pointed at the registry (`--resolve`); the node's
    // resolver has no answer. `.invalid` is answered negatively without a query (RFC 6761), so
    // no made-up name leaves the machine.
    let reg = registry(Tls::Plain, Auth::None);
    let host = format!("reg.invalid:{}", reg.port());
    let image = format!("{host}/app:1.0");
    let api = KubeApi::start();
    failing(
        &api,
        &image,
        &format!(
            "rpc error: code = Unknown desc = failed to pull and unpack image: failed to resolve reference: failed to do request: Head \"http://{host}/v2/app/manifests/1.0\": dial tcp: lookup reg.invalid on 127.0.0.53:53: no such host"
        ),
    );
    let root = node_root("containerd-hosts-ca", &[("REGISTRY", &host)]);
    put(
        root.path(),
        &format!("/etc/containerd/certs.d/{host}/hosts.toml"),
        &format!("server = \"http://{host}\"\n"),
    );
    let kubelet = Kubelet::start(&api, "node-1", root.path());
    kubelet.net.forward(reg.port(), reg.host.parse().unwrap());
    let pin = format!("{host}:127.0.0.1");
    let run = from_node(&api, &["--plain-http", &host, "--resolve", &pin]);
    let report = checked(&api, &run);
    assert_eq!(
        report["from_node"]["verdicts"][0]["cause"], "dns_failure",
        "{:#}",
        report["from_node"]
    );
    assert_eq!(
        report["verdicts"][0]["confidence"], "contradicted",
        "this machine reaches it"
    );
    let args = api.created_pods()[0]["spec"]["containers"][0]["args"].to_string();
    assert!(
        !args.contains("--resolve"),
        "the laptop's pin stays on the laptop: {args}"
    );
}

#[test]
fn a_pull_secret_missing_from_the_namespace_is_named_by_the_node() {
    // The probe pod's secret volume is optional: kubelet mounts an empty directory, and the
    // node's keyring names the secret as missing, as kubelet's event would.
    let (user, password) = ("alice", "pw-5b1f0c");
    let reg = registry(Tls::Valid, Auth::htpasswd(user, password));
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    Scenario::new(&image)
        .event(
            "Failed",
            "rpc error: code = Unknown desc = 401 Unauthorized",
        )
        .pull_secret("regcred-missing")
        .load(&api);
    let root = tempfile::tempdir().unwrap();
    containerd_trusting(root.path(), &reg.pki.ca_pem);
    let kubelet = Kubelet::start(&api, "node-1", root.path());
    kubelet.net.forward(reg.port(), reg.host.parse().unwrap());
    let run = from_node(&api, &[]);
    let report = checked(&api, &run);
    let from = &report["from_node"];
    assert_eq!(from["outcome"], "probed", "{from:#}");
    assert_eq!(from["verdicts"][0]["cause"], "auth_required", "{from:#}");
    let findings = from["report"]["verdicts"][0]["credential_findings"].to_string();
    assert!(
        findings.contains("regcred-missing") && findings.contains("does not exist in namespace"),
        "{findings}"
    );
}

#[test]
fn node_proxy_drop_in_malformed_is_the_nodes_cause() {
    // The runtime's proxy drop-in has a typo in HTTPS_PROXY: every HTTPS pull on that node
    // fails before a connection, and only the node's files show why. The `.test` name is
    // never looked up: this machine does not probe it, and the node's verdict needs no
    // connection.
    let image = "registry.node.test:5000/app:1";
    let api = KubeApi::start();
    failing(
        &api,
        image,
        "rpc error: code = Unknown desc = failed to pull and unpack image: failed to resolve reference: failed to do request: Head \"https://registry.node.test:5000/v2/app/manifests/1\": proxyconnect tcp: dial tcp: lookup proxy.example.com: no such host",
    );
    let root = node_root("proxy-dropin", &[("BYPASS", "other.example.com")]);
    put(
        root.path(),
        "/etc/containerd/config.toml",
        CONTAINERD_WITH_CONFIG_PATH,
    );
    let _kubelet = Kubelet::start(&api, "node-1", root.path());
    let run = from_node(&api, &[]);
    let report = checked(&api, &run);
    let node = &report["from_node"]["verdicts"][0];
    assert_eq!(node["cause"], "proxy_failure", "{:#}", report["from_node"]);
    assert_eq!(node["confidence"], "confirmed", "{node:#}");
    // The node's own report cites the drop-in line and its fix edits that line.
    let unit = "/etc/systemd/system/containerd.service.d/http-proxy.conf";
    let from_node = report["from_node"].to_string();
    assert!(
        from_node.contains(&format!("({unit} line 5) is not a valid proxy URL"))
            && from_node.contains(&format!("On the node, edit {unit} line 5: HTTPS_PROXY=")),
        "{:#}",
        report["from_node"]
    );
    let n = notes(&report);
    assert!(
        n.contains("[node] probed from node-1:") && n.contains("proxy_failure"),
        "{n}"
    );
}
