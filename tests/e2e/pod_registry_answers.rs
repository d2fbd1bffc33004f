//! The pod scenarios about what the registry answers beyond credentials, end to end like
//! `pod_scenarios.rs` (whose helpers they share): a token scope refused, a tag typo against a
//! missing repository, an image for another platform, plain HTTP, bad certificates, RBAC that
//! hides secrets, and every container of a pod getting its own verdict.
//!
//! Each test asserts the cause, how sure pulldoctor is and the key text of the fix, and that no
//! form of the registry password reaches the output.

use crate::pod_scenarios::{
    NO_SECRET, ca, cause, check, confidence, containerd_failure, docker_denied, registry,
};
use crate::scenario::{NodeRuntime, Scenario, dockerconfigjson, evidence_text, fix_text, pod};
use crate::support::kube_api::{KubeApi, Verb};
use crate::support::{Auth, Fault, FaultProxy, Tls};

/// A token registry that authenticates the user but refuses the repository.
#[test]
fn token_registry_refuses_the_scope() {
    let marker = "pw-scope-8e90";
    let reg = registry(Tls::Valid, Auth::token("bob", marker));
    reg.token.as_ref().unwrap().refuse("app");
    let image = format!("{}/app:1.0", reg.host);
    let msg = format!(
        "Failed to pull image \"{image}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"
    );
    let api = KubeApi::start();
    Scenario::new(&image)
        .failed(&msg)
        .pull_secret("regcred")
        .secret(dockerconfigjson(
            "shop", "regcred", &reg.host, "bob", marker,
        ))
        .load(&api);
    let v = check(&pod(&api, &["--ca-file", &ca(&reg)]), "bob", marker);
    assert_eq!(
        (cause(&v), confidence(&v)),
        ("auth_forbidden", "confirmed"),
        "{v:#}"
    );
}

/// A tag typo gets the closest tags; a missing repository is told apart from it.
#[test]
fn tag_typo_and_missing_repository() {
    let reg = registry(Tls::Valid, Auth::None);
    for (image_path, want) in [
        ("app:1.01", "not_found_tag"),
        ("nope:1.0", "not_found_repo"),
    ] {
        let image = format!("{}/{image_path}", reg.host);
        let api = KubeApi::start();
        let inner = format!("failed to resolve reference \"{image}\": {image}: not found");
        let msg =
            format!("Failed to pull image \"{image}\": rpc error: code = NotFound desc = {inner}");
        Scenario::new(&image)
            .owned_by("Deployment", "web")
            .failed(&msg)
            .load(&api);
        let v = check(&pod(&api, &["--ca-file", &ca(&reg)]), "-", NO_SECRET);
        assert_eq!(
            (cause(&v), confidence(&v)),
            (want, "confirmed"),
            "{image}: {v:#}"
        );
        if want == "not_found_tag" {
            let fixes = fix_text(&v);
            assert!(fixes.contains("Closest tags: 1.0, 1.1"), "{fixes}");
            assert!(
                fixes.contains(&format!(
                    "kubectl set image deployment/web app={}/app:1.0 -n shop",
                    reg.host
                )),
                "{fixes}"
            );
        }
    }
}

/// An arm64-only image on an amd64 node.
#[test]
fn arm64_only_image_on_amd64_node() {
    let reg = registry(Tls::Valid, Auth::None);
    let image = format!("{}/armonly:1.0", reg.host);
    let msg = format!(
        "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": no match for platform in manifest: not found"
    );
    let api = KubeApi::start();
    Scenario::new(&image).failed(&msg).load(&api);
    let v = check(&pod(&api, &["--ca-file", &ca(&reg)]), "-", NO_SECRET);
    assert_eq!(
        (cause(&v), confidence(&v)),
        ("platform_mismatch", "confirmed"),
        "{v:#}"
    );
    assert!(evidence_text(&v).contains("linux/arm64"), "{v:#}");
    assert!(fix_text(&v).contains("linux/amd64"), "{v:#}");
}

/// An amd64-only single-platform image on an arm64 node: the node's `nodeInfo` platform is
/// checked against the image's config blob, not passed because there is no index.
#[test]
fn amd64_only_single_manifest_on_arm64_node() {
    let reg = registry(Tls::Valid, Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    let msg = format!(
        "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": no match for platform in manifest: not found"
    );
    let api = KubeApi::start();
    let mut scenario = Scenario::new(&image).failed(&msg);
    scenario.arch = "arm64".to_string();
    scenario.load(&api);
    let v = check(&pod(&api, &["--ca-file", &ca(&reg)]), "-", NO_SECRET);
    assert_eq!(
        (cause(&v), confidence(&v)),
        ("platform_mismatch", "confirmed"),
        "{v:#}"
    );
    let evidence = evidence_text(&v);
    assert!(
        evidence.contains("linux/amd64"),
        "the image's platform: {v:#}"
    );
    assert!(
        evidence.contains("linux/arm64"),
        "the node's platform: {v:#}"
    );
}

/// A plain-HTTP registry addressed over HTTPS.
#[test]
fn plain_http_registry() {
    let reg = registry(Tls::Plain, Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    Scenario::new(&image)
        .failed(&containerd_failure(
            &image,
            &reg.host,
            "http: server gave HTTP response to HTTPS client",
        ))
        .load(&api);
    let v = check(&pod(&api, &[]), "-", NO_SECRET);
    assert_eq!(
        (cause(&v), confidence(&v)),
        ("http_to_https", "confirmed"),
        "{v:#}"
    );
    assert!(
        fix_text(&v).contains(&format!("server = \"http://{}\"", reg.host)),
        "{v:#}"
    );
}

/// `--plain-http` names one registry of a two-registry pod: the other is asked over HTTPS, and
/// its pull secret's password never reaches it in cleartext (the proxy in front records it).
#[test]
fn plain_http_in_a_pod_reaches_only_the_named_registry() {
    let (first_pw, second_pw) = ("pw-pod-first-3f0d", "pw-pod-second-d8a2");
    let first = registry(Tls::Plain, Auth::htpasswd("alice", first_pw));
    let behind = registry(Tls::Plain, Auth::htpasswd("bob", second_pw));
    let second = FaultProxy::start(&behind, Fault::PassThrough);
    let app = format!("{}/app:1.0", first.host);
    let setup = format!("{}/app:1.0", second.host());
    let plain = "http: server gave HTTP response to HTTPS client";
    let init_event = containerd_failure(&setup, &second.host(), plain);
    let api = KubeApi::start();
    Scenario::new(&app)
        .failed(&containerd_failure(&app, &first.host, plain))
        .init_container(&setup, "ErrImagePull", ("Failed", &init_event))
        .pull_secret("first")
        .pull_secret("second")
        .secret(dockerconfigjson(
            "shop",
            "first",
            &first.host,
            "alice",
            first_pw,
        ))
        .secret(dockerconfigjson(
            "shop",
            "second",
            &second.host(),
            "bob",
            second_pw,
        ))
        .load(&api);
    let run = pod(&api, &["--plain-http", &first.host]);
    run.assert_no_leak("alice", first_pw);
    run.assert_no_leak("bob", second_pw);
    let verdicts = run.json()["verdicts"].as_array().cloned().unwrap();
    assert_eq!(verdicts.len(), 2, "{verdicts:#?}");
    let seen = second.requests();
    assert!(!seen.is_empty(), "the second registry was asked");
    assert!(
        seen.iter().all(|r| !r.authorization),
        "the unnamed registry got credentials: {seen:?}"
    );
    let insecure = run.json()["insecure_transport"].clone();
    let hosts: Vec<&str> = insecure
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["host"].as_str())
        .collect();
    assert_eq!(hosts, [first.host.as_str()], "{insecure:#}");
}

/// Expired certificate, and a certificate for another name.
#[test]
fn expired_and_wrong_name_certificates() {
    let cases = [
        (
            Tls::Expired,
            "tls_expired",
            "tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time 2026-11-22T02:00:00Z is after 2020-12-31T00:00:00Z",
        ),
        (
            Tls::WrongName,
            "tls_hostname_mismatch",
            "tls: failed to verify certificate: x509: certificate is valid for registry.wrong.test, not 127.0.0.1",
        ),
    ];
    for (tls, want, inner) in cases {
        let reg = registry(tls, Auth::None);
        let image = format!("{}/app:1.0", reg.host);
        let api = KubeApi::start();
        Scenario::new(&image)
            .failed(&containerd_failure(&image, &reg.host, inner))
            .load(&api);
        let v = check(&pod(&api, &["--ca-file", &ca(&reg)]), "-", NO_SECRET);
        assert_eq!((cause(&v), confidence(&v)), (want, "confirmed"), "{v:#}");
    }
}

/// RBAC forbids reading secrets: the verdict comes from events and an anonymous probe.
#[test]
fn rbac_forbids_secrets() {
    let marker = "pw-rbac-2a6d";
    let reg = registry(Tls::Valid, Auth::htpasswd("alice", marker));
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    Scenario::new(&image)
        .runtime(NodeRuntime::Docker)
        .failed(&docker_denied(&image))
        .pull_secret("regcred")
        .secret(dockerconfigjson(
            "shop", "regcred", &reg.host, "alice", marker,
        ))
        .load(&api);
    api.forbid("secrets", Verb::Get);
    api.forbid("secrets", Verb::List);
    let run = pod(&api, &["--ca-file", &ca(&reg)]);
    let v = check(&run, "alice", marker);
    assert_eq!(
        (cause(&v), confidence(&v)),
        ("auth_required", "confirmed"),
        "{v:#}"
    );
    let all = format!("{}\n{}", evidence_text(&v), run.json()["notes"]);
    assert!(
        all.contains("forbidden"),
        "the report says what could not be read: {all}"
    );
}

/// The schema check is not a formality: a report with a field it does not know fails it.
#[test]
fn schema_rejects_what_it_does_not_describe() {
    let api = KubeApi::start();
    let image = "registry.test:5000/app:1.0";
    Scenario::new(image)
        .failed(&containerd_failure(
            image,
            "registry.test:5000",
            "x509: certificate signed by unknown authority",
        ))
        .load(&api);
    let run = pod(&api, &["--no-probe"]);
    let mut report = run.json();
    report["verdicts"][0]["surprise"] = "field".into();
    let outcome = std::panic::catch_unwind(|| crate::scenario::assert_schema(&report));
    assert!(
        outcome.is_err(),
        "an undescribed field must fail the schema"
    );
}

/// Every container counts: a bad init image and a missing tag give two verdicts, in start order.
#[test]
fn init_and_regular_containers_each_get_a_verdict() {
    let reg = registry(Tls::Valid, Auth::None);
    let image = format!("{}/app:9.9", reg.host);
    let bad = "Registry.test/Setup:1";
    let parse_error = format!(
        "Failed to apply default image tag \"{bad}\": couldn't parse image reference \"{bad}\": invalid reference format: repository name must be lowercase"
    );
    let not_found = format!(
        "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": {image}: not found"
    );
    let api = KubeApi::start();
    Scenario::new(&image)
        .init_container(bad, "InvalidImageName", ("InspectFailed", &parse_error))
        .failed(&not_found)
        .load(&api);
    let run = pod(&api, &["--ca-file", &ca(&reg)]);
    assert_eq!(run.code, 1);
    let report = run.json();
    let verdicts = report["verdicts"].as_array().expect("verdicts");
    assert_eq!(verdicts.len(), 2, "{report:#}");
    assert_eq!(verdicts[0]["container"]["kind"], "init");
    assert_eq!(cause(&verdicts[0]), "invalid_reference", "{report:#}");
    assert_eq!(verdicts[1]["container"]["name"], "app");
    assert_eq!(
        (cause(&verdicts[1]), confidence(&verdicts[1])),
        ("not_found_tag", "confirmed")
    );
}
