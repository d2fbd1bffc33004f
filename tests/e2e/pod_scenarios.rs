//! The field reports' scenarios end to end: the API test server plays the cluster, Debian's
//! docker-registry plays the registry, and the real `pulldoctor` binary diagnoses the pod.
//!
//! Each test asserts what an on-call engineer would check — the cause, how sure pulldoctor is,
//! and the key text of the fix — and that pulldoctor only read the cluster and never printed
//! the registry password (a unique marker per scenario) in any form. The credential scenarios
//! are here; what the registry answers about the image itself is in `pod_registry_answers.rs`.

use serde_json::Value;

use crate::scenario::{
    NodeRuntime, Run, Scenario, dockercfg, dockerconfigjson, evidence_text, fix_text, path, pod,
};
use crate::support::kube_api::KubeApi;
use crate::support::{Auth, Registry, RegistryOptions, Tls};

/// The marker for scenarios whose registry has no password.
pub(crate) const NO_SECRET: &str = "(none)";

pub(crate) fn registry(tls: Tls, auth: Auth) -> Registry {
    let reg = Registry::start(RegistryOptions { tls, auth });
    reg.seed_fixtures();
    reg
}

pub(crate) fn ca(reg: &Registry) -> String {
    path(&reg.pki.ca_file).to_string()
}

pub(crate) fn cause(v: &Value) -> &str {
    v["cause"].as_str().unwrap_or("-")
}

pub(crate) fn confidence(v: &Value) -> &str {
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

pub(crate) fn containerd_failure(image: &str, host: &str, inner: &str) -> String {
    let repo_ref = image.strip_prefix(&format!("{host}/")).unwrap_or(image);
    let (repo, tag) = repo_ref.split_once(':').unwrap_or((repo_ref, "latest"));
    format!(
        "Failed to pull image \"{image}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": failed to do request: Head \"https://{host}/v2/{repo}/manifests/{tag}\": {inner}"
    )
}

pub(crate) fn docker_denied(image: &str) -> String {
    let name = image.rsplit_once(':').map(|(n, _)| n).unwrap_or(image);
    format!(
        "Failed to pull image \"{image}\": rpc error: code = Unknown desc = Error response from daemon: pull access denied for {name}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
    )
}

/// Exit 1 with a verdict; for scenarios with a registry password, no form of it in the output.
pub(crate) fn check(run: &Run, user: &str, marker: &str) -> Value {
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
