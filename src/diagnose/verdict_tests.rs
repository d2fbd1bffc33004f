//! Unit tests for the verdict rules: how text and probe combine into cause and confidence.

use super::*;
use crate::classify::Symptom;
use crate::diagnose::FixKind;
use crate::diagnose::evidence::*;
use crate::registry::ImageRef;
use crate::taxonomy::Runtime;

fn symptom(cause: Cause) -> Symptom {
    let mut s = crate::classify::classify(Some("Failed"), "Failed to pull image");
    s.cause = cause;
    s.family = cause.family();
    s
}

fn evidence(image: &str, text: Option<Cause>, probe: ProbeFacts) -> Evidence {
    Evidence {
        image: image.to_string(),
        image_ref: ImageRef::parse(image).ok(),
        symptom: text.map(symptom),
        probe,
        namespace: "shop".to_string(),
        target: FixTarget {
            kind: "Deployment".to_string(),
            name: "web".to_string(),
            service_account: "default".to_string(),
            bare_pod: false,
        },
        container: Some(ContainerInfo {
            name: "web".to_string(),
            kind: "regular".to_string(),
            pull_policy: None,
        }),
        ..Evidence::default()
    }
}

fn ran(cause: Option<Cause>) -> ProbeFacts {
    ProbeFacts::Ran(ProbeResult {
        cause,
        requests: 4,
        ..ProbeResult::default()
    })
}

#[test]
fn text_alone_is_likely() {
    let v = diagnose(&evidence(
        "reg.test:8000/app:1",
        Some(Cause::TlsUnknownAuthority),
        ProbeFacts::Off,
    ));
    assert_eq!(v.cause, Some(Cause::TlsUnknownAuthority));
    assert_eq!(v.confidence, Confidence::Likely);
    assert!(v.evidence.iter().any(|e| e.text.contains("--no-probe")));
}

#[test]
fn probe_settles_the_ambiguous_docker_message() {
    let v = diagnose(&evidence(
        "reg.test/app:1",
        Some(Cause::AuthOrNotFound),
        ran(Some(Cause::AuthRequired)),
    ));
    assert_eq!(
        (v.cause, v.confidence),
        (Some(Cause::AuthRequired), Confidence::Confirmed)
    );
    assert_eq!(v.event_cause, Some(Cause::AuthOrNotFound));
    let v = diagnose(&evidence(
        "reg.test/app:1",
        Some(Cause::NotFound),
        ran(Some(Cause::NotFoundTag)),
    ));
    assert_eq!(
        (v.cause, v.confidence),
        (Some(Cause::NotFoundTag), Confidence::Confirmed)
    );
}

#[test]
fn old_docker_not_found_that_is_really_auth_is_contradicted() {
    let v = diagnose(&evidence(
        "reg.test/app:1",
        Some(Cause::NotFoundRepo),
        ran(Some(Cause::AuthRequired)),
    ));
    assert_eq!(v.cause, Some(Cause::AuthRequired));
    assert_eq!(v.confidence, Confidence::Contradicted);
    assert_eq!(v.event_cause, Some(Cause::NotFoundRepo));
}

#[test]
fn missing_node_ca_is_confirmed_by_the_contrast() {
    let probe = ProbeFacts::Ran(ProbeResult {
        cause: None,
        works_with_supplied_ca: Some(true),
        ..ProbeResult::default()
    });
    let mut ev = evidence(
        "reg.test:8000/app:1",
        Some(Cause::TlsUnknownAuthority),
        probe,
    );
    ev.node = Some(NodeFacts {
        name: "n1".to_string(),
        runtime: Runtime::Containerd,
        runtime_version: "containerd://1.7.2".to_string(),
        platform: "linux/amd64".to_string(),
    });
    let v = diagnose(&ev);
    assert_eq!(
        (v.cause, v.confidence),
        (Some(Cause::TlsUnknownAuthority), Confidence::Confirmed)
    );
    let f = v
        .fixes
        .iter()
        .find(|f| f.kind == FixKind::File)
        .expect("a hosts.toml fix");
    assert!(
        f.title
            .contains("/etc/containerd/certs.d/reg.test:8000/hosts.toml"),
        "{}",
        f.title
    );
    assert!(
        f.text
            .contains("ca = \"/etc/containerd/certs.d/reg.test:8000/ca.crt\"")
    );
    assert!(
        !v.fixes.iter().any(|f| f.title.contains("/etc/docker")),
        "only the node's runtime"
    );
}

#[test]
fn registry_that_now_serves_the_image_contradicts_the_event() {
    let v = diagnose(&evidence(
        "reg.test/app:1",
        Some(Cause::AuthRequired),
        ran(None),
    ));
    assert_eq!(v.confidence, Confidence::Contradicted);
}

#[test]
fn healthy_when_nothing_failed() {
    let v = diagnose(&evidence("reg.test/app:1", None, ran(None)));
    assert_eq!((v.cause, v.confidence), (None, Confidence::Healthy));
    assert!(!v.is_problem());
    assert!(v.fixes.is_empty());
}

#[test]
fn unreferenced_secret_is_patched_into_the_owner() {
    let mut ev = evidence(
        "registry.test/app:1",
        Some(Cause::AuthOrNotFound),
        ProbeFacts::Off,
    );
    ev.credentials = Some(CredentialFacts {
        anonymous: true,
        unreferenced_match: Some("aliyunregistry".to_string()),
        server_key: "registry.test".to_string(),
        findings: vec![CredentialFinding {
            id: "unreferenced_matching_secret".to_string(),
            secret: Some("aliyunregistry".to_string()),
            key: Some("registry.test".to_string()),
            message: "secret aliyunregistry matches but is not referenced".to_string(),
            suggested_key: None,
        }],
        ..CredentialFacts::default()
    });
    let v = diagnose(&ev);
    assert_eq!(
        (v.cause, v.confidence),
        (Some(Cause::AuthRequired), Confidence::Likely)
    );
    let patch = &v.fixes[0].text;
    assert!(
        patch.starts_with("kubectl patch deployment web -n shop"),
        "{patch}"
    );
    assert!(patch.contains(
        r#"{"spec":{"template":{"spec":{"imagePullSecrets":[{"name":"aliyunregistry"}]}}}}"#
    ));
}

#[test]
fn bare_pod_gets_recreate_and_kubectl_run_overrides() {
    let mut ev = evidence(
        "registry.test/app:1",
        Some(Cause::AuthRequired),
        ran(Some(Cause::AuthRequired)),
    );
    ev.target = FixTarget {
        kind: "Pod".to_string(),
        name: "nginx".to_string(),
        service_account: "default".to_string(),
        bare_pod: true,
    };
    let v = diagnose(&ev);
    let all: Vec<&str> = v.fixes.iter().map(|f| f.text.as_str()).collect();
    assert!(all[0].starts_with("kubectl create secret docker-registry regcred-registry-test -n shop --docker-server=registry.test"));
    let run = all
        .iter()
        .find(|t| t.starts_with("kubectl run"))
        .expect("kubectl run form");
    assert!(
        run.contains(
            r#"--overrides='{"spec":{"imagePullSecrets":[{"name":"regcred-registry-test"}]}}'"#
        ),
        "{run}"
    );
    assert!(all.iter().any(|t| t.contains("kubectl replace --force")));
}

#[test]
fn node_side_causes_stay_with_the_text() {
    let v = diagnose(&evidence(
        "reg.test/app:1",
        Some(Cause::NeverPull),
        ran(None),
    ));
    assert_eq!(
        (v.cause, v.confidence),
        (Some(Cause::NeverPull), Confidence::Likely)
    );
}

#[test]
fn running_container_whose_image_can_no_longer_be_pulled_is_flagged() {
    let mut ev = evidence(
        "reg.test/app:1",
        None,
        ran(Some(Cause::AuthInvalidCredentials)),
    );
    ev.healthy = true;
    let v = diagnose(&ev);
    assert_eq!(
        (v.cause, v.confidence),
        (Some(Cause::AuthInvalidCredentials), Confidence::Confirmed)
    );
    assert!(
        v.evidence
            .iter()
            .any(|e| e.text.contains("a new pull would fail")),
        "{:?}",
        v.evidence
    );
}

#[test]
fn the_node_failing_before_the_probe_keeps_both_causes_in_order() {
    let probe = ProbeFacts::Ran(ProbeResult {
        cause: Some(Cause::AuthInvalidCredentials),
        works_with_supplied_ca: Some(true),
        supplied_ca: vec!["--ca-file /tmp/ca.pem".to_string()],
        ..ProbeResult::default()
    });
    let v = diagnose(&evidence(
        "reg.test:8000/app:1",
        Some(Cause::TlsUnknownAuthority),
        probe,
    ));
    assert_eq!(
        (v.cause, v.confidence),
        (Some(Cause::TlsUnknownAuthority), Confidence::Confirmed)
    );
    assert_eq!(v.secondary_causes.len(), 1);
    assert_eq!(v.secondary_causes[0].cause, Cause::AuthInvalidCredentials);
    let sections = v.fix_sections();
    assert_eq!(sections.len(), 2);
    assert_eq!(sections[0].cause, Some(Cause::TlsUnknownAuthority));
    assert_eq!(sections[1].cause, Some(Cause::AuthInvalidCredentials));
    assert_eq!(sections[1].fixes, v.secondary_causes[0].fixes.as_slice());
    assert_eq!(
        (sections[0].when, sections[1].when),
        (Some("First"), Some("Then"))
    );
    assert!(
        v.evidence.iter().any(|e| e
            .text
            .contains("--ca-file /tmp/ca.pem is the CA the registry should be trusted with")),
        "{:?}",
        v.evidence
    );

    // A DNS failure on the node with a registry that answers here: both real, DNS unproven.
    let v = diagnose(&evidence(
        "reg.test/app:1",
        Some(Cause::DnsFailure),
        ran(Some(Cause::AuthInvalidCredentials)),
    ));
    assert_eq!(
        (v.cause, v.confidence),
        (Some(Cause::DnsFailure), Confidence::Likely)
    );
    assert_eq!(v.secondary_causes[0].cause, Cause::AuthInvalidCredentials);

    // The node got further than the probe: the text stands; nothing is contradicted.
    let v = diagnose(&evidence(
        "reg.test/app:1",
        Some(Cause::AuthForbidden),
        ran(Some(Cause::NetworkUnreachable)),
    ));
    assert_eq!(
        (v.cause, v.confidence),
        (Some(Cause::AuthForbidden), Confidence::Likely)
    );
    assert!(v.secondary_causes.is_empty());
}

#[test]
fn healthy_needs_proof() {
    // Nothing failed and nothing was asked.
    let mut ev = evidence("reg.test/app:1", None, ProbeFacts::Off);
    ev.healthy = true;
    let v = diagnose(&ev);
    assert_eq!((v.cause, v.confidence), (None, Confidence::NotChecked));
    assert!(!v.is_problem());
    assert!(v.summary.contains("--no-probe"), "{}", v.summary);
    // kubelet's pull after the failures is proof.
    ev.pulled = Some("Successfully pulled image".to_string());
    assert_eq!(diagnose(&ev).confidence, Confidence::Healthy);
    // A pod no node has asked for yet: the probe's pass proves nothing about that node.
    let mut ev = evidence("reg.test/app:1", None, ran(None));
    ev.healthy = true;
    ev.unscheduled = true;
    let v = diagnose(&ev);
    assert_eq!(v.confidence, Confidence::NotChecked);
    assert!(v.summary.contains("not scheduled"), "{}", v.summary);
    // The `image` command without a probe: a valid reference, not checked.
    let ev = Evidence {
        image: "reg.test/app:1".to_string(),
        image_ref: ImageRef::parse("reg.test/app:1").ok(),
        ..Evidence::default()
    };
    let v = diagnose(&ev);
    assert_eq!((v.cause, v.confidence), (None, Confidence::NotChecked));
    assert!(v.summary.contains("reference is valid"), "{}", v.summary);
}

/// An image whose reference does not parse has no registry name to open a sentence with: the
/// summary opens with "The registry", a capital as every other summary has.
#[test]
fn a_summary_without_a_registry_name_still_opens_with_a_capital() {
    let v = diagnose(&evidence(
        "{{REGISTRY}}/app:1",
        Some(Cause::AuthRequired),
        ProbeFacts::Off,
    ));
    assert_eq!(v.cause, Some(Cause::AuthRequired));
    assert!(
        v.summary.starts_with("The registry requires"),
        "{}",
        v.summary
    );
}
