//! Per-pod tests: which secrets kubelet reads, in which order, and every pod-level near miss.

use super::*;
use crate::credentials::FindingId as F;
use crate::credentials::Severity;
use crate::credentials::nearmiss::ENFORCE_MOUNTABLE;
use crate::credentials::secrets::{DOCKERCFG, DOCKERCONFIGJSON};
use base64::Engine;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{LocalObjectReference, Pod, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta, Time};

pub(crate) fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// A secret as the API returns it: `data` already decoded from base64.
pub(crate) fn secret(ns: &str, name: &str, ty: &str, key: &str, body: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            ..Default::default()
        },
        type_: Some(ty.into()),
        data: Some([(key.to_string(), ByteString(body.as_bytes().to_vec()))].into()),
        ..Default::default()
    }
}

/// A `kubectl create secret docker-registry` secret for one server.
pub(crate) fn regcred(ns: &str, name: &str, server: &str, user: &str, pw: &str) -> Secret {
    let body = format!(
        r#"{{"auths":{{"{server}":{{"username":"{user}","password":"{pw}","auth":"{}"}}}}}}"#,
        b64(&format!("{user}:{pw}"))
    );
    secret(ns, name, DOCKERCONFIGJSON, ".dockerconfigjson", &body)
}

pub(crate) fn account(name: &str, pull: &[&str], enforce: bool) -> ServiceAccount {
    ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.into()),
            annotations: enforce
                .then(|| [(ENFORCE_MOUNTABLE.to_string(), "true".to_string())].into()),
            ..Default::default()
        },
        image_pull_secrets: Some(
            pull.iter()
                .map(|n| LocalObjectReference {
                    name: n.to_string(),
                })
                .collect(),
        ),
        ..Default::default()
    }
}

/// A pod in `shop` listing `refs`; every secret in `have` (namespace shop) is readable.
pub(crate) fn pod_input<'a>(refs: &[&str], have: &'a [Secret]) -> PodSecrets<'a> {
    let mut secrets = BTreeMap::new();
    for r in refs {
        secrets.insert(r.to_string(), Fetched::NotFound);
    }
    for s in have
        .iter()
        .filter(|s| s.metadata.namespace.as_deref() == Some("shop"))
    {
        secrets.insert(s.metadata.name.clone().unwrap(), Fetched::Found(s));
    }
    PodSecrets {
        namespace: "shop".into(),
        pod_pull_secrets: refs.iter().map(|s| s.to_string()).collect(),
        service_account_name: "default".into(),
        service_account: Fetched::NotAsked,
        secrets,
        namespace_secrets: None,
        other_namespace_secrets: Vec::new(),
        pod_created: None,
    }
}

fn img(s: &str) -> ImageRef {
    ImageRef::parse(s).unwrap()
}

fn ids(c: &ImageCredentials) -> Vec<FindingId> {
    c.findings.iter().map(|f| f.id).collect()
}

fn users(c: &ImageCredentials) -> Vec<&str> {
    c.tries.iter().map(|t| t.username.as_str()).collect()
}

#[test]
fn matching_secret_gives_its_credential() {
    let have = [regcred("shop", "regcred", "reg.shop.test:5000", "ci", "pw")];
    let c = for_image(
        &pod_input(&["regcred"], &have),
        &img("reg.shop.test:5000/app:1.0"),
    );
    assert_eq!(users(&c), vec!["ci"]);
    assert_eq!(c.tries[0].source, "secret shop/regcred");
    assert_eq!(c.tries[0].key, "reg.shop.test:5000");
    assert_eq!(c.tries[0].password.expose(), "pw");
    assert!(!c.anonymous);
    assert!(c.findings.is_empty(), "{:?}", c.findings);
}

#[test]
fn both_secret_types_are_read_with_their_own_data_key() {
    let cfg = format!(r#"{{"reg.shop.test":{{"auth":"{}"}}}}"#, b64("old:pw"));
    let have = [secret("shop", "legacy", DOCKERCFG, ".dockercfg", &cfg)];
    let c = for_image(&pod_input(&["legacy"], &have), &img("reg.shop.test/app"));
    assert_eq!(users(&c), vec!["old"]);
}

#[test]
fn pod_secret_order_within_one_key_and_reverse_key_order_across() {
    let have = [
        regcred("shop", "a", "reg.shop.test", "a-host", "1"),
        regcred("shop", "b", "reg.shop.test", "b-host", "2"),
        regcred("shop", "c", "reg.shop.test/team", "c-team", "3"),
    ];
    let c = for_image(
        &pod_input(&["b", "a", "c"], &have),
        &img("reg.shop.test/team/app"),
    );
    assert_eq!(users(&c), vec!["c-team", "b-host", "a-host"]);
}

#[test]
fn anonymous_only_when_nothing_matched() {
    let have = [regcred("shop", "regcred", "other.test", "u", "p")];
    let c = for_image(&pod_input(&["regcred"], &have), &img("reg.shop.test/app"));
    assert!(c.anonymous && c.tries.is_empty());
    let c = for_image(&pod_input(&[], &[]), &img("nginx"));
    assert!(c.anonymous && c.findings.is_empty());
}

#[test]
fn wrong_type_is_ignored_and_says_it_would_have_matched() {
    let body = format!(
        r#"{{"auths":{{"reg.shop.test":{{"auth":"{}"}}}}}}"#,
        b64("u:p")
    );
    let have = [secret(
        "shop",
        "regcred",
        "Opaque",
        ".dockerconfigjson",
        &body,
    )];
    let c = for_image(&pod_input(&["regcred"], &have), &img("reg.shop.test/app"));
    assert!(c.anonymous);
    assert_eq!(ids(&c), vec![F::WrongType]);
    let msg = &c.findings[0].message;
    assert!(
        msg.contains("Opaque") && msg.contains("would match"),
        "{msg}"
    );
}

#[test]
fn wrong_data_key_is_ignored() {
    let body = format!(
        r#"{{"auths":{{"reg.shop.test":{{"auth":"{}"}}}}}}"#,
        b64("u:p")
    );
    let have = [secret(
        "shop",
        "regcred",
        DOCKERCONFIGJSON,
        ".dockercfg",
        &body,
    )];
    let c = for_image(&pod_input(&["regcred"], &have), &img("reg.shop.test/app"));
    assert!(c.anonymous);
    assert_eq!(ids(&c), vec![F::WrongDataKey]);
    assert!(c.findings[0].message.contains("[.dockercfg]"));
    let have = [secret(
        "shop",
        "regcred",
        DOCKERCONFIGJSON,
        ".dockerconfigjson",
        "",
    )];
    let c = for_image(&pod_input(&["regcred"], &have), &img("reg.shop.test/app"));
    assert!(c.anonymous);
    assert!(
        c.findings[0].message.contains("is empty"),
        "{}",
        c.findings[0].message
    );
}

#[test]
fn a_broken_secret_fails_every_image_of_the_pod() {
    let have = [
        regcred("shop", "good", "reg.shop.test", "u", "p"),
        secret(
            "shop",
            "bad",
            DOCKERCONFIGJSON,
            ".dockerconfigjson",
            "{\"auths\": {",
        ),
    ];
    let c = for_image(
        &pod_input(&["good", "bad"], &have),
        &img("reg.shop.test/app"),
    );
    assert!(c.tries.is_empty());
    assert!(!c.anonymous);
    assert_eq!(c.blocking().map(|f| f.id), Some(F::UnparsableJson));
    assert_eq!(c.findings[0].secret.as_deref(), Some("shop/bad"));
}

#[test]
fn dockercfg_body_in_dockerconfigjson_secret_gives_no_credentials() {
    let body = format!(r#"{{"reg.shop.test":{{"auth":"{}"}}}}"#, b64("u:p"));
    let have = [secret(
        "shop",
        "regcred",
        DOCKERCONFIGJSON,
        ".dockerconfigjson",
        &body,
    )];
    let c = for_image(&pod_input(&["regcred"], &have), &img("reg.shop.test/app"));
    assert!(c.anonymous);
    assert_eq!(ids(&c), vec![F::DockercfgInDockerconfigjson]);
}

#[test]
fn closest_key_names_the_difference() {
    let have = [
        regcred("shop", "one", "reg.shop.test", "u", "p"),
        regcred("shop", "two", "quay.io", "u", "p"),
    ];
    let c = for_image(
        &pod_input(&["one", "two"], &have),
        &img("reg.shop.test:5000/app"),
    );
    assert!(c.anonymous);
    let port = c
        .findings
        .iter()
        .find(|f| f.id == F::KeyPortMismatch)
        .unwrap();
    assert_eq!(port.secret.as_deref(), Some("shop/one"));
    assert_eq!(port.key.as_deref(), Some("reg.shop.test"));
    assert!(
        port.message
            .ends_with("the key to use is \"reg.shop.test:5000\""),
        "{}",
        port.message
    );
    let host = c
        .findings
        .iter()
        .find(|f| f.id == F::KeyHostMismatch)
        .unwrap();
    assert_eq!(host.severity, Severity::Info, "quay.io is no near miss");
    // Port mismatch is an error, sorted first.
    assert_eq!(c.findings[0].id, F::KeyPortMismatch);
}

#[test]
fn registry_1_docker_io_never_matches_hub_images() {
    let have = [regcred(
        "shop",
        "hub",
        "https://registry-1.docker.io/v2/",
        "u",
        "p",
    )];
    let c = for_image(&pod_input(&["hub"], &have), &img("acme/private:1"));
    assert!(c.anonymous);
    assert_eq!(ids(&c), vec![F::KeyDockerHubApiHost]);
}

#[test]
fn docker_hub_fallback_is_explained() {
    let have = [regcred(
        "shop",
        "hub",
        "https://index.docker.io/v1/",
        "hubber",
        "p",
    )];
    let c = for_image(&pod_input(&["hub"], &have), &img("acme/private:1"));
    assert_eq!(users(&c), vec!["hubber"]);
    assert_eq!(ids(&c), vec![F::DockerHubFallback]);
    assert_eq!(c.findings[0].secret.as_deref(), Some("shop/hub"));
}

#[test]
fn missing_forbidden_empty_and_duplicate_references() {
    let have = [regcred("shop", "ok", "reg.shop.test", "u", "p")];
    let mut input = pod_input(&["gone", "", "ok", "ok", "locked"], &have);
    input.secrets.insert(
        "locked".into(),
        Fetched::Forbidden(
            "secrets \"locked\" is forbidden: User \"dev\" cannot get resource".into(),
        ),
    );
    let c = for_image(&input, &img("reg.shop.test/app"));
    // Listed twice, so tried twice, as kubelet does.
    assert_eq!(users(&c), vec!["u", "u"]);
    for id in [
        F::SecretNotFound,
        F::EmptySecretReference,
        F::DuplicateSecretReference,
        F::SecretForbidden,
    ] {
        assert!(ids(&c).contains(&id), "{id}: {:?}", c.findings);
    }
    let nf = c
        .findings
        .iter()
        .find(|f| f.id == F::SecretNotFound)
        .unwrap();
    assert!(nf.message.contains("FailedToRetrieveImagePullSecret"));
    // The second "ok" repeats nothing but the duplicate note.
    assert_eq!(ids(&c).len(), 4, "{:?}", c.findings);
}

#[test]
fn a_missing_secret_one_typo_from_an_existing_one_is_named() {
    let all = [regcred("shop", "reg-cred", "reg.shop.test", "u", "p")];
    let mut input = pod_input(&["regcred"], &[]);
    input.namespace_secrets = Some(all.iter().collect());
    let c = for_image(&input, &img("reg.shop.test/app"));
    let nf = c
        .findings
        .iter()
        .find(|f| f.id == F::SecretNotFound)
        .unwrap();
    assert!(
        nf.message.contains("did you mean \"reg-cred\"?"),
        "{}",
        nf.message
    );
}

#[test]
fn first_field_report_secret_created_but_never_referenced() {
    // aliyunregistry exists in the namespace; the pod lists nothing.
    let all = [
        regcred(
            "shop",
            "aliyunregistry",
            "registry.cn-hangzhou.aliyuncs.test",
            "dev",
            "p",
        ),
        regcred("shop", "unrelated", "quay.io", "x", "y"),
        secret("shop", "tls", "kubernetes.io/tls", "tls.crt", "x"),
    ];
    let mut input = pod_input(&[], &all);
    input.namespace_secrets = Some(all.iter().collect());
    let c = for_image(
        &input,
        &img("registry.cn-hangzhou.aliyuncs.test/shop/web:2"),
    );
    assert!(c.anonymous);
    assert_eq!(ids(&c), vec![F::UnreferencedMatchingSecret]);
    let f = &c.findings[0];
    assert_eq!(f.secret.as_deref(), Some("shop/aliyunregistry"));
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.key.as_deref(), Some("registry.cn-hangzhou.aliyuncs.test"));
}

#[test]
fn service_account_changed_after_the_pod_was_created() {
    let all = [regcred("shop", "regcred", "reg.shop.test", "u", "p")];
    let mut sa = account("default", &["regcred"], false);
    sa.metadata.managed_fields = Some(vec![ManagedFieldsEntry {
        manager: Some("kubectl-patch".into()),
        time: Some(Time("2024-06-02T08:30:00Z".parse().unwrap())),
        ..Default::default()
    }]);
    let mut input = pod_input(&[], &all);
    input.pod_created = Some(Time("2024-05-01T10:00:00Z".parse().unwrap()));
    input.service_account = Fetched::Found(&sa);
    let c = for_image(&input, &img("reg.shop.test/app"));
    assert!(c.anonymous);
    assert_eq!(ids(&c), vec![F::ServiceAccountSecretNotInPod]);
    let msg = &c.findings[0].message;
    assert!(
        msg.contains("created 2024-05-01T10:00:00Z")
            && msg.contains("last written 2024-06-02T08:30:00Z")
            && msg.contains("matches"),
        "{msg}"
    );
    assert_eq!(c.findings[0].severity, Severity::Warning);
}

#[test]
fn service_account_secret_not_copied_when_pod_lists_its_own() {
    let all = [
        regcred("shop", "own", "other.test", "u", "p"),
        regcred("shop", "sa-cred", "reg.shop.test", "u", "p"),
    ];
    let sa = account("builder", &["sa-cred"], false);
    let mut input = pod_input(&["own"], &all);
    input.service_account_name = "builder".into();
    input.service_account = Fetched::Found(&sa);
    let c = for_image(&input, &img("reg.shop.test/app"));
    let f = c
        .findings
        .iter()
        .find(|f| f.id == F::ServiceAccountSecretNotInPod)
        .unwrap();
    assert!(
        f.message.contains("only into pods that list none"),
        "{}",
        f.message
    );
}

#[test]
fn enforce_mountable_secrets_flags_unlisted_pull_secrets() {
    let all = [regcred("shop", "regcred", "reg.shop.test", "u", "p")];
    let sa = account("default", &[], true);
    let mut input = pod_input(&["regcred"], &all);
    input.service_account = Fetched::Found(&sa);
    let c = for_image(&input, &img("reg.shop.test/app"));
    assert_eq!(users(&c), vec!["u"]);
    assert_eq!(ids(&c), vec![F::EnforceMountableSecrets]);
}

#[test]
fn secret_in_another_namespace() {
    let all = [
        regcred("default", "regcred", "reg.shop.test", "u", "p"),
        regcred("infra", "mirror", "reg.shop.test", "u", "p"),
    ];
    let mut input = pod_input(&["regcred"], &[]);
    input.other_namespace_secrets = all.iter().collect();
    let c = for_image(&input, &img("reg.shop.test/app"));
    let other: Vec<_> = c
        .findings
        .iter()
        .filter(|f| f.id == F::SecretInOtherNamespace)
        .collect();
    assert_eq!(other.len(), 2);
    assert!(other[0].message.contains("copy it"));
    assert_eq!(other[1].secret.as_deref(), Some("infra/mirror"));
}

/// A matching secret in the pod's namespace outranks any elsewhere: no hint from afar.
#[test]
fn own_namespace_match_silences_other_namespaces() {
    let here = [regcred("shop", "mirror", "reg.shop.test", "u", "p")];
    let there = [
        regcred("payments", "payments-cred", "reg.shop.test", "u", "p"),
        regcred("infra", "mirror", "reg.shop.test", "u", "p"),
    ];
    let mut input = pod_input(&[], &here);
    input.namespace_secrets = Some(here.iter().collect());
    input.other_namespace_secrets = there.iter().collect();
    let c = for_image(&input, &img("reg.shop.test/app"));
    assert_eq!(ids(&c), vec![F::UnreferencedMatchingSecret]);

    // With nothing at home, one hint names the first of them and counts the rest.
    let mut input = pod_input(&[], &[]);
    input.other_namespace_secrets = there.iter().collect();
    let c = for_image(&input, &img("reg.shop.test/app"));
    assert_eq!(ids(&c), vec![F::SecretInOtherNamespace]);
    assert_eq!(c.findings[0].secret.as_deref(), Some("infra/mirror"));
    assert_eq!(c.findings[0].severity, Severity::Info);
    assert!(
        c.findings[0].message.contains("1 more"),
        "{:?}",
        c.findings[0]
    );
}

#[test]
fn string_data_in_a_snapshot_is_read() {
    let mut s = secret("shop", "regcred", DOCKERCONFIGJSON, "unused", "");
    s.data = None;
    let body = format!(
        r#"{{"auths":{{"reg.shop.test":{{"auth":"{}"}}}}}}"#,
        b64("sd:p")
    );
    s.string_data = Some([(".dockerconfigjson".to_string(), body)].into());
    let have = [s];
    let c = for_image(&pod_input(&["regcred"], &have), &img("reg.shop.test/app"));
    assert_eq!(users(&c), vec!["sd"]);
}

#[test]
fn invalid_key_and_keys_normalising_together() {
    let body = r#"{"auths":{"reg.shop.test:port":{"username":"a","password":"p"},"https://reg.shop.test/v2/":{"username":"b","password":"p"},"reg.shop.test":{"username":"c","password":"p"}}}"#;
    let have = [secret(
        "shop",
        "s",
        DOCKERCONFIGJSON,
        ".dockerconfigjson",
        body,
    )];
    let c = for_image(&pod_input(&["s"], &have), &img("reg.shop.test/app"));
    assert_eq!(users(&c), vec!["b", "c"]);
    assert!(ids(&c).contains(&F::KeyInvalid));
    assert!(ids(&c).contains(&F::KeyNormalisesTwice));
}

#[test]
fn from_pod_reads_the_spec() {
    let pod: Pod = serde_json::from_str(
        r#"{"metadata":{"name":"web","namespace":"shop","creationTimestamp":"2024-05-01T10:00:00Z"},
            "spec":{"containers":[{"name":"c","image":"nginx"}],"imagePullSecrets":[{"name":"a"},{"name":"b"}],"serviceAccountName":"builder"}}"#,
    )
    .unwrap();
    let input = PodSecrets::from_pod(&pod);
    assert_eq!(input.namespace, "shop");
    assert_eq!(input.pod_pull_secrets, vec!["a", "b"]);
    assert_eq!(input.service_account_name, "builder");
    assert_eq!(
        input.pod_created.map(|t| t.0.to_string()).as_deref(),
        Some("2024-05-01T10:00:00Z")
    );
}

#[test]
fn a_host_one_typo_away_is_a_warning() {
    let have = [regcred("shop", "regcred", "reg.shop.tset", "u", "p")];
    let c = for_image(&pod_input(&["regcred"], &have), &img("reg.shop.test/app"));
    assert_eq!(ids(&c), vec![F::KeyHostMismatch]);
    assert_eq!(c.findings[0].severity, Severity::Warning);
    assert!(c.findings[0].message.contains("\"reg.shop.tset\""));
}

#[test]
fn a_secret_known_only_from_the_namespace_listing_is_used() {
    let all = [regcred("shop", "regcred", "reg.shop.test", "listed", "p")];
    let mut input = pod_input(&["regcred"], &[]);
    input.secrets.clear();
    input.namespace_secrets = Some(all.iter().collect());
    let c = for_image(&input, &img("reg.shop.test/app"));
    assert_eq!(users(&c), vec!["listed"]);
    input.namespace_secrets = None;
    let c = for_image(&input, &img("reg.shop.test/app"));
    assert_eq!(ids(&c), vec![F::SecretNotRead]);
}
