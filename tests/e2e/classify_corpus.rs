//! The classifier against real messages: every entry of `fixtures/messages/corpus.jsonl` (each
//! with its public source) must get its labelled cause and runtime, and every pasted
//! describe/events file must give its expected symptoms. A failure prints the whole confusion
//! table, so a rule change shows everything it moved.

use pulldoctor::classify::{classify, symptoms_from_text};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Deserialize)]
struct Entry {
    id: String,
    runtime: String,
    reason: Option<String>,
    message: String,
    cause: String,
    source: String,
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/messages")
}

fn corpus() -> Vec<Entry> {
    let text = std::fs::read_to_string(fixtures().join("corpus.jsonl")).expect("corpus present");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad corpus line {l}: {e}")))
        .collect()
}

#[test]
fn classify_corpus_causes_and_runtimes() {
    let entries = corpus();
    assert!(entries.len() >= 150, "corpus has {} entries", entries.len());
    let mut confusion: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut wrong_runtime = Vec::new();
    for e in &entries {
        assert!(e.source.starts_with("https://"), "{} has no source", e.id);
        let s = classify(e.reason.as_deref(), &e.message);
        let got = s.cause.id().to_string();
        if got != e.cause {
            confusion
                .entry((e.cause.clone(), got))
                .or_default()
                .push(e.id.clone());
        }
        if s.runtime.id() != e.runtime {
            wrong_runtime.push(format!(
                "{}: want {} got {}",
                e.id,
                e.runtime,
                s.runtime.id()
            ));
        }
    }
    let wrong: usize = confusion.values().map(Vec::len).sum();
    let report: Vec<String> = confusion
        .iter()
        .map(|((want, got), ids)| format!("  {want} -> {got}: {}", ids.join(", ")))
        .collect();
    println!(
        "causes: {}/{} right; runtimes: {}/{} right",
        entries.len() - wrong,
        entries.len(),
        entries.len() - wrong_runtime.len(),
        entries.len()
    );
    assert!(
        wrong == 0 && wrong_runtime.is_empty(),
        "cause confusion (want -> got):\n{}\nruntime:\n  {}",
        report.join("\n"),
        wrong_runtime.join("\n  ")
    );
}

#[derive(Deserialize)]
struct TextCase {
    file: String,
    source: String,
    expect: Vec<Expected>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Expected {
    image: Option<String>,
    cause: String,
}

#[test]
fn classify_corpus_pasted_describe_and_events() {
    let cases: Vec<TextCase> = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("texts.json")).expect("texts.json present"),
    )
    .expect("texts.json parses");
    let mut failures = Vec::new();
    for case in &cases {
        assert!(
            case.source.starts_with("https://"),
            "{} has no source",
            case.file
        );
        let text = std::fs::read_to_string(fixtures().join(&case.file)).expect("fixture file");
        let got: Vec<Expected> = symptoms_from_text(&text)
            .into_iter()
            .map(|s| Expected {
                image: s.image,
                cause: s.cause.id().to_string(),
            })
            .collect();
        if got != case.expect {
            failures.push(format!(
                "{}: want {:?}\n    got {:?}",
                case.file, case.expect, got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Facts a user reads off the symptom, for corpus entries whose text states them plainly.
#[test]
fn classify_corpus_extracted_facts() {
    let by_id: BTreeMap<String, Entry> = corpus().into_iter().map(|e| (e.id.clone(), e)).collect();
    let get = |id: &str| {
        let e = by_id
            .get(id)
            .unwrap_or_else(|| panic!("no corpus entry {id}"));
        classify(e.reason.as_deref(), &e.message)
    };

    // The token server's certificate failed, not the registry's.
    let s = get("mindoc-344-token-server-expired");
    assert_eq!(s.cert_host.as_deref(), Some("dockerauth.aliyuncs.com"));
    assert!(
        s.url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://dockerauth.aliyuncs.com/auth?"))
    );

    let s = get("moby-39505-valid-for-gateway");
    assert_eq!(s.cert_host.as_deref(), Some("registry-1.docker.io"));
    assert_eq!(s.cert_names, ["GATEWAY.SPANSERVICES.COM"]);
    assert_eq!(s.image.as_deref(), Some("tutum/hello-world"));
    assert_eq!(s.registry.as_deref(), Some("docker.io"));
    assert_eq!(s.repository.as_deref(), Some("tutum/hello-world"));

    let s = get("registry-k8s-io-264-not-valid-for-any-names");
    assert_eq!(
        s.cert_host.as_deref(),
        Some("prod-registry-k8s-io-ap-south-1.s3.dualstack.ap-south-1.amazonaws.com")
    );

    let s = get("k8s-43924-docker-ping-x509");
    assert_eq!(s.registry.as_deref(), Some("127.0.0.1:5000"));
    assert_eq!(s.cert_host.as_deref(), Some("127.0.0.1"));

    let s = get("moby-46765-no-matching-manifest-arm64");
    assert_eq!(s.platform.as_deref(), Some("linux/arm64/v8"));
    let s = get("containerd-2410-current-platform");
    assert_eq!(s.platform.as_deref(), Some("linux/arm/v7"));
    let s = get("crio-3626-choosing-instance-arm-v8");
    assert_eq!(s.platform.as_deref(), Some("linux/arm/v8"));
    let s = get("diun-94-empty-variant");
    assert_eq!(s.platform.as_deref(), Some("linux/amd64"));

    // The proxy, not the registry, and how the connection to it failed.
    let s = get("kitematic-3573-proxyconnect-refused");
    assert_eq!(s.proxy.as_deref(), Some("127.0.0.1:3128"));
    assert_eq!(s.connection.as_deref(), Some("refused"));
    let s = get("crio-2331-proxy-lookup");
    assert_eq!(s.proxy.as_deref(), Some("http"));
    let s = get("k8s-58526-request-canceled");
    assert_eq!(s.connection.as_deref(), Some("timeout"));

    // Wrapped over five lines, the rate limit still yields the URL, status and code.
    let s = get("kata-10109-rate-limit-wrapped");
    assert_eq!(s.status, Some(429));
    assert_eq!(s.error_code.as_deref(), Some("TOOMANYREQUESTS"));
    assert_eq!(s.image.as_deref(), Some("busybox"));
    assert!(s.url.as_deref().is_some_and(|u| {
        u.starts_with("https://registry-1.docker.io/v2/library/busybox/manifests/sha256:")
    }));

    // A klog line: escaped quotes undone, image from the message, detail from the innermost error.
    let s = get("kubeadm-2936-klog-timeout");
    assert_eq!(
        s.image.as_deref(),
        Some("registry.k8s.io/kube-proxy:v1.28.2")
    );
    assert_eq!(s.reference.as_deref(), Some("v1.28.2"));
    assert_eq!(
        s.url.as_deref(),
        Some("https://registry.k8s.io/v2/kube-proxy/manifests/v1.28.2")
    );
    assert_eq!(s.detail.as_deref(), Some("connection timed out"));

    let s = get("podman-7501-dockerhub-tag-unknown");
    assert_eq!(
        s.image.as_deref(),
        Some("docker.io/haugene/transmission-openvpn:latest-armh")
    );
    assert_eq!(s.reference.as_deref(), Some("latest-armh"));
    assert_eq!(s.error_code.as_deref(), Some("MANIFEST_UNKNOWN"));

    let s = get("eks-charts-1044-head-401");
    assert_eq!(s.status, Some(401));
    assert_eq!(
        s.registry.as_deref(),
        Some("840364872350.dkr.ecr.us-west-2.amazonaws.com")
    );

    // Two credentials tried; the rejected one decides.
    let s = get("aks-4593-aggregate-oauth-and-anonymous");
    assert_eq!(s.status, Some(401));
    assert_eq!(s.registry.as_deref(), Some("myacr.azurecr.io"));

    let s = get("talos-11052-dns-read-timeout");
    assert!(s.meaning.contains("ghcr.io"), "{}", s.meaning);
    let s = get("qlauncher-25-klog-pull-secret");
    assert!(
        s.meaning.contains("default/docker-registry-poseidon"),
        "{}",
        s.meaning
    );
    let s = get("follow-me-639-sandbox-pull-access");
    assert_eq!(
        s.image.as_deref(),
        Some("registry.cn-beijing.aliyuncs.com/images_k8s/pause-amd64:3.1")
    );
    assert_eq!(s.reason.as_deref(), Some("FailedCreatePodSandBox"));
}
