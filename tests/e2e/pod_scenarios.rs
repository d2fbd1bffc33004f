//! The field reports' scenarios end to end: the API test server plays the cluster, Debian's
//! docker-registry plays the registry, and the real `pulldoctor` binary diagnoses the pod.
//!
//! Each test asserts what an on-call engineer would check — the cause, how sure pulldoctor is,
//! and the key text of the fix — and that pulldoctor only read the cluster and never printed
//! the registry password (a unique marker per scenario) in any form.

use serde_json::Value;

use crate::scenario::{
    NodeRuntime, Run, Scenario, dockercfg, dockerconfigjson, evidence_text, fix_text, path, pod,
};
use crate::support::kube_api::{KubeApi, Verb};
use crate::support::{Auth, Fault, FaultProxy, Registry, RegistryOptions, Tls};

/// The marker for scenarios whose registry has no password.
const NO_SECRET: &str = "(none)";

fn registry(tls: Tls, auth: Auth) -> Registry {
    let reg = Registry::start(RegistryOptions { tls, auth });
    reg.seed_fixtures();
    reg
}

fn ca(reg: &Registry) -> String {
    path(&reg.pki.ca_file).to_string()
}

fn cause(v: &Value) -> &str {
    v["cause"].as_str().unwrap_or("-")
}

fn confidence(v: &Value) -> &str {
    v["confidence"].as_str().unwrap_or("-")
}

fn finding_ids(v: &Value) -> Vec<String> {
    v["credential_findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn containerd_failure(image: &str, host: &str, inner: &str) -> String {
    let repo_ref = image.strip_prefix(&format!("{host}/")).unwrap_or(image);
    let (repo, tag) = repo_ref.split_once(':').unwrap_or((repo_ref, "latest"));
    format!(
        "Failed to pull image \"{image}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": failed to do request: Head \"https://{host}/v2/{repo}/manifests/{tag}\": {inner}"
    )
}

fn docker_denied(image: &str) -> String {
    let name = image.rsplit_once(':').map(|(n, _)| n).unwrap_or(image);
    format!(
        "Failed to pull image \"{image}\": rpc error: code = Unknown desc = Error response from daemon: pull access denied for {name}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
    )
}

/// Exit 1 with a verdict; for scenarios with a registry password, no form of it in the output.
fn check(run: &Run, user: &str, marker: &str) -> Value {
    if marker != NO_SECRET {
        run.assert_no_leak(user, marker);
    }
    assert_eq!(run.code, 1, "a problem is exit 1; stderr:\n{}", run.stderr);
    run.verdict()
}

/// Field report 1: the secret exists but the pod does not reference it.
#[test]
fn secret_created_but_not_referenced() {
    let marker = "pw-unreferenced-4f1d";
    let reg = registry(Tls::Valid, Auth::htpasswd("alice", marker));
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    Scenario::new(&image)
        .runtime(NodeRuntime::Docker)
        .failed(&docker_denied(&image))
        .secret(dockerconfigjson(
            "shop",
            "aliyunregistry",
            &reg.host,
            "alice",
            marker,
        ))
        .load(&api);
    let run = pod(&api, &["--ca-file", &ca(&reg)]);
    let v = check(&run, "alice", marker);
    assert_eq!(
        (cause(&v), confidence(&v)),
        ("auth_required", "confirmed"),
        "{v:#}"
    );
    assert_eq!(v["event_cause"], "auth_or_not_found");
    assert!(finding_ids(&v).contains(&"unreferenced_matching_secret".to_string()));
    let evidence = evidence_text(&v);
    assert!(
        evidence.contains("credentials from secret shop/aliyunregistry (not yet referenced by the pod) are accepted by the registry"),
        "the probe proves the fix: {evidence}"
    );
    let fixes = fix_text(&v);
    assert!(
        fixes
            .contains(r#"--overrides='{"spec":{"imagePullSecrets":[{"name":"aliyunregistry"}]}}'"#),
        "{fixes}"
    );
    assert!(fixes.contains("kubectl replace --force"), "{fixes}");
}

/// Field report 2: the node lacks the private CA; with the CA the registry is fine.
#[test]
fn node_lacks_private_ca() {
    let reg = registry(Tls::Valid, Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    let inner = "tls: failed to verify certificate: x509: certificate signed by unknown authority";
    let api = KubeApi::start();
    Scenario::new(&image)
        .failed(&containerd_failure(&image, &reg.host, inner))
        .load(&api);

    // Without the CA, the probe meets the same failure the node did.
    let v = check(&pod(&api, &[]), "-", NO_SECRET);
    assert_eq!(
        (cause(&v), confidence(&v)),
        ("tls_unknown_authority", "confirmed"),
        "{v:#}"
    );

    // With the CA, the contrast proves the registry is fine and the node lacks the CA.
    let v = check(&pod(&api, &["--ca-file", &ca(&reg)]), "-", NO_SECRET);
    assert_eq!(
        (cause(&v), confidence(&v)),
        ("tls_unknown_authority", "confirmed"),
        "{v:#}"
    );
    assert!(evidence_text(&v).contains("with the supplied CA the registry's certificate verifies"));
    let fixes = fix_text(&v);
    assert!(
        fixes.contains(&format!("/etc/containerd/certs.d/{}/hosts.toml", reg.host)),
        "{fixes}"
    );
    assert!(fixes.contains(&format!(
        "ca = \"/etc/containerd/certs.d/{}/ca.crt\"",
        reg.host
    )));

    // The same CA from a copy of the node's containerd certs.d with a relative `ca`.
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(&reg.host);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&reg.pki.ca_file, dir.join("ca.crt")).unwrap();
    std::fs::write(
        dir.join("hosts.toml"),
        format!(
            "server = \"https://{h}\"\n\n[host.\"https://{h}\"]\n  ca = \"ca.crt\"\n",
            h = reg.host
        ),
    )
    .unwrap();
    let v = check(
        &pod(&api, &["--certs-dir", path(root.path())]),
        "-",
        NO_SECRET,
    );
    assert_eq!(
        (cause(&v), confidence(&v)),
        ("tls_unknown_authority", "confirmed"),
        "{v:#}"
    );
    let evidence = evidence_text(&v);
    assert!(evidence.contains("with the supplied CA"), "{v:#}");
    // The node's own copy holds the CA, yet the node fails TLS: its runtime does not read it.
    assert!(
        evidence
            .contains("from the node's certs.d copy is the CA the registry should be trusted with"),
        "{evidence}"
    );
    assert!(
        evidence.contains("its runtime does not read it"),
        "{evidence}"
    );
}

/// Old Docker said "image not found" when the registry wanted a login.
#[test]
fn old_docker_not_found_is_really_auth() {
    let marker = "pw-olddocker-9a2c";
    let reg = registry(Tls::Valid, Auth::htpasswd("alice", marker));
    let image = format!("{}/app:1.0", reg.host);
    let msg = format!(
        "Failed to pull image \"{image}\": image pull failed for {image}, this may be because there are no credentials on this request.  details: (Error: image app not found)"
    );
    let api = KubeApi::start();
    Scenario::new(&image)
        .runtime(NodeRuntime::Docker)
        .failed(&msg)
        .load(&api);
    let v = check(&pod(&api, &["--ca-file", &ca(&reg)]), "alice", marker);
    assert_eq!(cause(&v), "auth_required", "{v:#}");
    assert_ne!(
        confidence(&v),
        "likely",
        "the probe must have decided: {v:#}"
    );
    assert!(fix_text(&v).contains(&format!("--docker-server={}", reg.host)));
}

/// A referenced `kubernetes.io/dockercfg` secret that works: the pod is healthy, exit 0.
#[test]
fn dockercfg_secret_referenced_and_working() {
    let marker = "pw-dockercfg-11b7";
    let reg = registry(Tls::Valid, Auth::htpasswd("alice", marker));
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    Scenario::new(&image)
        .healthy()
        .pull_secret("legacy")
        .secret(dockercfg(
            "shop",
            "legacy",
            &format!("https://{}", reg.host),
            "alice",
            marker,
        ))
        .load(&api);
    let run = pod(&api, &["--ca-file", &ca(&reg)]);
    run.assert_no_leak("alice", marker);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let v = run.verdict();
    assert_eq!(confidence(&v), "healthy", "{v:#}");
    assert!(
        evidence_text(&v).contains("kubelet would try secret shop/legacy"),
        "{v:#}"
    );
}

/// A dockerconfigjson secret holding the flat dockercfg shape yields no credentials.
#[test]
fn dockercfg_shape_inside_dockerconfigjson() {
    let marker = "pw-wrongshape-3e88";
    let reg = registry(Tls::Valid, Auth::htpasswd("alice", marker));
    let image = format!("{}/app:1.0", reg.host);
    let mut secret = dockercfg("shop", "regcred", &reg.host, "alice", marker);
    secret["type"] = "kubernetes.io/dockerconfigjson".into();
    let body = secret["data"][".dockercfg"].clone();
    secret["data"] = serde_json::json!({ ".dockerconfigjson": body });
    let inner = "unexpected status from HEAD request: 401 Unauthorized";
    let api = KubeApi::start();
    Scenario::new(&image)
        .failed(&containerd_failure(&image, &reg.host, inner))
        .pull_secret("regcred")
        .secret(secret)
        .load(&api);
    let v = check(&pod(&api, &["--ca-file", &ca(&reg)]), "alice", marker);
    assert_eq!(
        (cause(&v), confidence(&v)),
        ("auth_required", "confirmed"),
        "{v:#}"
    );
    assert!(
        finding_ids(&v).contains(&"dockercfg_in_dockerconfigjson".to_string()),
        "{v:#}"
    );
}

/// The secret's key names the host without the registry's port.
#[test]
fn secret_key_with_the_wrong_port() {
    let marker = "pw-port-77ac";
    let reg = registry(Tls::Valid, Auth::htpasswd("alice", marker));
    let image = format!("{}/app:1.0", reg.host);
    let inner = "unexpected status from HEAD request: 401 Unauthorized";
    let api = KubeApi::start();
    Scenario::new(&image)
        .failed(&containerd_failure(&image, &reg.host, inner))
        .pull_secret("regcred")
        .secret(dockerconfigjson(
            "shop",
            "regcred",
            "127.0.0.1",
            "alice",
            marker,
        ))
        .load(&api);
    let v = check(&pod(&api, &["--ca-file", &ca(&reg)]), "alice", marker);
    assert_eq!(cause(&v), "auth_required", "{v:#}");
    assert!(
        finding_ids(&v).contains(&"key_port_mismatch".to_string()),
        "{v:#}"
    );
    let fixes = fix_text(&v);
    assert!(
        fixes.contains(&format!(
            "kubectl create secret docker-registry regcred -n shop --docker-server={}",
            reg.host
        )),
        "{fixes}"
    );
}

/// Docker Hub keys: the v1 index URL and `docker.io` match, `registry-1.docker.io` never does.
#[test]
fn docker_hub_keys() {
    let image = "myorg/private:1.0";
    for (key, matches) in [
        ("https://index.docker.io/v1/", true),
        ("docker.io", true),
        ("registry-1.docker.io", false),
    ] {
        let api = KubeApi::start();
        Scenario::new(image)
            .runtime(NodeRuntime::Docker)
            .failed(&docker_denied(image))
            .pull_secret("hub")
            .secret(dockerconfigjson("shop", "hub", key, "ci", "pw-hub-52d0"))
            .load(&api);
        let run = pod(&api, &["--no-probe"]);
        let v = check(&run, "ci", "pw-hub-52d0");
        assert_eq!(confidence(&v), "likely", "no probe, text only");
        let tried = evidence_text(&v).contains("kubelet would try secret shop/hub");
        assert_eq!(tried, matches, "key {key}: {v:#}");
        if !matches {
            assert!(
                finding_ids(&v).contains(&"key_docker_hub_api_host".to_string()),
                "{v:#}"
            );
            assert!(fix_text(&v).contains("--docker-server=docker.io"), "{v:#}");
        }
    }
}

/// The service account got the secret after the pod was created.
#[test]
fn service_account_secret_added_after_pod() {
    let marker = "pw-sa-0c1e";
    let reg = registry(Tls::Valid, Auth::htpasswd("alice", marker));
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    Scenario::new(&image)
        .runtime(NodeRuntime::Docker)
        .owned_by("Deployment", "web")
        .failed(&docker_denied(&image))
        .service_account_secrets(&["regcred"])
        .secret(dockerconfigjson(
            "shop", "regcred", &reg.host, "alice", marker,
        ))
        .load(&api);
    let v = check(&pod(&api, &["--ca-file", &ca(&reg)]), "alice", marker);
    assert_eq!(
        (cause(&v), confidence(&v)),
        ("auth_required", "confirmed"),
        "{v:#}"
    );
    assert!(
        finding_ids(&v).contains(&"service_account_secret_not_in_pod".to_string()),
        "{v:#}"
    );
    assert!(
        fix_text(&v).contains("kubectl rollout restart deployment/web -n shop"),
        "{v:#}"
    );
}

/// The pod names a secret that lives in another namespace.
#[test]
fn secret_in_another_namespace() {
    let marker = "pw-otherns-6b3f";
    let reg = registry(Tls::Valid, Auth::htpasswd("alice", marker));
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    Scenario::new(&image)
        .event("FailedToRetrieveImagePullSecret", "Unable to retrieve some image pull secrets (regcred); attempting to pull the image may not succeed.")
        .failed(&containerd_failure(&image, &reg.host, "unexpected status from HEAD request: 401 Unauthorized"))
        .pull_secret("regcred")
        .secret(dockerconfigjson("payments", "regcred", &reg.host, "alice", marker))
        .load(&api);
    let v = check(&pod(&api, &["--ca-file", &ca(&reg)]), "alice", marker);
    assert_eq!(cause(&v), "auth_required", "{v:#}");
    assert!(
        finding_ids(&v).contains(&"secret_not_found".to_string()),
        "{v:#}"
    );
    assert!(
        fix_text(&v).contains("kubectl create secret docker-registry regcred -n shop"),
        "{v:#}"
    );
}

/// The secret's password is wrong: the registry rejects it.
#[test]
fn wrong_password() {
    let marker = "pw-wrong-d41a";
    let reg = registry(Tls::Valid, Auth::htpasswd("alice", "the-right-one"));
    let image = format!("{}/app:1.0", reg.host);
    let api = KubeApi::start();
    Scenario::new(&image)
        .failed(&containerd_failure(
            &image,
            &reg.host,
            "unexpected status from HEAD request: 401 Unauthorized",
        ))
        .pull_secret("regcred")
        .secret(dockerconfigjson(
            "shop", "regcred", &reg.host, "alice", marker,
        ))
        .load(&api);
    let v = check(&pod(&api, &["--ca-file", &ca(&reg)]), "alice", marker);
    assert_eq!(
        (cause(&v), confidence(&v)),
        ("auth_invalid_credentials", "confirmed"),
        "{v:#}"
    );
    assert!(fix_text(&v).contains("Recreate secret regcred"), "{v:#}");
}

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
