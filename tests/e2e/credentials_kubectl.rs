//! Pull secrets made by the machine's real `kubectl` (client-side dry run, no cluster), read the
//! way pulldoctor reads them from an API server, and matched as kubelet would.

use k8s_openapi::api::core::v1::Secret;
use pulldoctor::credentials::{FindingId, ImageCredentials, PodSecrets, for_image};
use pulldoctor::reference::ImageRef;
use std::process::Command;
use tempfile::TempDir;

const MARKER: &str = "kc-Zx81-marker-pw";

/// Runs `kubectl create secret … --dry-run=client -o json` and parses the Secret it prints.
fn kubectl(dir: &TempDir, args: &[&str]) -> Secret {
    let empty = dir.path().join("kubeconfig");
    std::fs::write(&empty, "").unwrap();
    let out = Command::new("kubectl")
        .args(["create", "secret"])
        .args(args)
        .args(["--dry-run=client", "-o", "json"])
        .env("KUBECONFIG", &empty)
        .output()
        .expect("kubectl is installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut secret: Secret = serde_json::from_slice(&out.stdout).unwrap();
    secret.metadata.namespace = Some("shop".into());
    secret
}

fn resolve(secret: &Secret, refs: &[&str], image: &str) -> ImageCredentials {
    let name = secret.metadata.name.clone().unwrap();
    let mut input = PodSecrets {
        namespace: "shop".into(),
        pod_pull_secrets: refs.iter().map(|s| s.to_string()).collect(),
        service_account_name: "default".into(),
        service_account: pulldoctor::credentials::Fetched::NotAsked,
        secrets: Default::default(),
        namespace_secrets: Some(vec![secret]),
        other_namespace_secrets: Vec::new(),
        pod_created: None,
    };
    input
        .secrets
        .insert(name, pulldoctor::credentials::Fetched::Found(secret));
    let result = for_image(&input, &ImageRef::parse(image).unwrap());
    let shown = format!("{result:?} {}", serde_json::to_string(&result).unwrap());
    assert!(!shown.contains(MARKER), "{shown}");
    result
}

#[test]
fn docker_registry_secret_matches_its_server_and_port_only() {
    let dir = TempDir::new().unwrap();
    let pw = format!("--docker-password={MARKER}");
    let s = kubectl(
        &dir,
        &[
            "docker-registry",
            "regcred",
            "--docker-server=reg.shop.test:5000",
            "--docker-username=ci",
            &pw,
        ],
    );
    let c = resolve(&s, &["regcred"], "reg.shop.test:5000/shop/web:1.0");
    assert_eq!(c.tries.len(), 1);
    assert_eq!(c.tries[0].username, "ci");
    assert_eq!(c.tries[0].password.expose(), MARKER);
    assert_eq!(c.tries[0].key, "reg.shop.test:5000");
    assert!(c.findings.is_empty(), "{:?}", c.findings);

    let c = resolve(&s, &["regcred"], "reg.shop.test/shop/web:1.0");
    assert!(c.anonymous);
    assert_eq!(c.findings[0].id, FindingId::KeyPortMismatch);

    // Created, but the pod never references it: the first field report.
    let c = resolve(&s, &[], "reg.shop.test:5000/shop/web:1.0");
    assert!(c.anonymous);
    assert_eq!(c.findings[0].id, FindingId::UnreferencedMatchingSecret);
}

#[test]
fn default_server_is_docker_hub_through_the_fallback() {
    let dir = TempDir::new().unwrap();
    let pw = format!("--docker-password={MARKER}");
    let s = kubectl(
        &dir,
        &["docker-registry", "hub", "--docker-username=hubber", &pw],
    );
    let c = resolve(&s, &["hub"], "acme/private:3");
    assert_eq!(c.tries[0].username, "hubber");
    assert_eq!(c.tries[0].key, "https://index.docker.io/v1/");
    assert!(
        c.findings
            .iter()
            .any(|f| f.id == FindingId::DockerHubFallback)
    );
    let c = resolve(&s, &["hub"], "quay.io/acme/private:3");
    assert!(c.anonymous);
}

#[test]
fn generic_secret_from_a_config_file_is_opaque_and_ignored() {
    let dir = TempDir::new().unwrap();
    let cfg = dir.path().join("config.json");
    let auth = base64_of(&format!("ci:{MARKER}"));
    std::fs::write(
        &cfg,
        format!(r#"{{"auths":{{"reg.shop.test":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
    let from = format!("--from-file=.dockerconfigjson={}", cfg.display());
    let s = kubectl(&dir, &["generic", "regcred", &from]);
    // kubectl leaves the type out; the API server defaults it to Opaque.
    assert_eq!(s.type_, None);
    let c = resolve(&s, &["regcred"], "reg.shop.test/app");
    assert!(c.anonymous);
    let f = c
        .findings
        .iter()
        .find(|f| f.id == FindingId::WrongType)
        .unwrap();
    assert!(
        f.message.contains("\"Opaque\"") && f.message.contains("would match"),
        "{}",
        f.message
    );

    // Right type, but the file's own name as the data key.
    let from = format!("--from-file={}", cfg.display());
    let s = kubectl(
        &dir,
        &[
            "generic",
            "regcred",
            "--type=kubernetes.io/dockerconfigjson",
            &from,
        ],
    );
    let c = resolve(&s, &["regcred"], "reg.shop.test/app");
    assert!(c.anonymous);
    let f = c
        .findings
        .iter()
        .find(|f| f.id == FindingId::WrongDataKey)
        .unwrap();
    assert!(f.message.contains("config.json"), "{}", f.message);
}

#[test]
fn docker_desktop_config_uploaded_as_a_secret_has_no_passwords() {
    let dir = TempDir::new().unwrap();
    let cfg = dir.path().join("config.json");
    std::fs::write(
        &cfg,
        r#"{"auths":{"reg.shop.test":{}},"credsStore":"desktop"}"#,
    )
    .unwrap();
    let from = format!("--from-file=.dockerconfigjson={}", cfg.display());
    let s = kubectl(
        &dir,
        &[
            "generic",
            "regcred",
            "--type=kubernetes.io/dockerconfigjson",
            &from,
        ],
    );
    let c = resolve(&s, &["regcred"], "reg.shop.test/app");
    // Kubelet still "matches" the empty entry, so there is no anonymous fallback either.
    assert_eq!(c.tries.len(), 1);
    assert!(c.tries[0].username.is_empty());
    let ids: Vec<FindingId> = c.findings.iter().map(|f| f.id).collect();
    assert!(ids.contains(&FindingId::CredentialHelperOnly), "{ids:?}");
    assert!(ids.contains(&FindingId::EmptyCredentials), "{ids:?}");
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}
