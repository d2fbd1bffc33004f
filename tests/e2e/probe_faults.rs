//! The probe when the network or the server fails: 429 with rate-limit headers and 5xx from
//! the bench's fault proxy in front of a real registry, a stalled registry, a refused port,
//! and a `.invalid` name answered without any DNS query (RFC 6761).

use std::time::Duration;

use pulldoctor::registry::{Failure, StepName};
use pulldoctor::taxonomy::Cause;

use crate::probe_common::*;
use crate::support::{Auth, Fault, FaultProxy, Match, Tls, refused_port};

#[tokio::test]
async fn probe_rate_limited_records_the_limits() {
    let reg = seeded(Tls::Valid, Auth::None);
    let proxy = FaultProxy::start(&reg, Fault::rate_limited());
    let mut req = request(&proxy.host(), "app:1.0");
    req.trust = ca_trust(&reg);
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::RateLimited));
    let rl = report.rate_limit.as_ref().expect("rate limit recorded");
    assert_eq!(rl.remaining.as_deref(), Some("0;w=21600"));
    assert_eq!(rl.limit.as_deref(), Some("100;w=21600"));
    assert_eq!(rl.retry_after.as_deref(), Some("30"));
    let head = report
        .steps
        .iter()
        .find(|s| s.name == StepName::ManifestGet)
        .unwrap();
    assert_eq!(head.status, Some(429));
}

#[tokio::test]
async fn probe_server_error_is_the_registrys_fault() {
    let reg = seeded(Tls::Valid, Auth::None);
    let proxy = FaultProxy::start(&reg, Fault::unavailable(Match::Manifests));
    let mut req = request(&proxy.host(), "app:1.0");
    req.trust = ca_trust(&reg);
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::RegistryServerError));
    assert!(report.outcome.detail.contains("503"));
}

#[tokio::test]
async fn probe_stalled_registry_times_out_as_a_step() {
    let reg = seeded(Tls::Valid, Auth::None);
    let proxy = FaultProxy::start(
        &reg,
        Fault::Stall {
            on: Match::Manifests,
        },
    );
    let mut req = request(&proxy.host(), "app:1.0");
    req.trust = ca_trust(&reg);
    req.step_timeout = Duration::from_secs(1);
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::NetworkUnreachable));
    let head = report
        .steps
        .iter()
        .find(|s| s.name == StepName::ManifestGet)
        .unwrap();
    assert!(
        matches!(head.failure, Some(Failure::Timeout { .. })),
        "{head:?}"
    );
    // The steps before the stall went through.
    assert_eq!(report.steps[0].status, Some(200));
}

#[tokio::test]
async fn probe_connection_refused() {
    let port = refused_port();
    let report = run(&request(&format!("127.0.0.1:{port}"), "app:1.0")).await;
    assert_cause(&report, Some(Cause::NetworkUnreachable));
    assert_eq!(report.steps[0].failure, Some(Failure::Refused));
}

#[tokio::test]
async fn probe_invalid_name_fails_dns_without_a_query() {
    let report = run(&request("registry.invalid:5000", "app:1.0")).await;
    assert_cause(&report, Some(Cause::DnsFailure));
    match &report.steps[0].failure {
        Some(Failure::Dns { name, reserved, .. }) => {
            assert_eq!(name, "registry.invalid");
            assert!(reserved, "answered locally, no query sent");
        }
        other => panic!("expected a DNS failure, got {other:?}"),
    }
}

#[tokio::test]
async fn probe_uses_one_connection_for_the_whole_conversation() {
    let reg = seeded(Tls::Valid, Auth::htpasswd("alice", "s3cret"));
    let proxy = FaultProxy::start(&reg, Fault::PassThrough);
    let mut req = request(&proxy.host(), "multi:1.0");
    req.trust = ca_trust(&reg);
    req.credentials = vec![bench_cred(&reg)];
    let report = run(&req).await;
    assert_cause(&report, None);
    // One manifest GET with the credential (an index: no config blob, no ping).
    assert_eq!(proxy.requests().len(), 1);
    assert_eq!(proxy.connections(), 1);
}

#[tokio::test]
async fn probe_silent_port_times_out_during_the_handshake() {
    let reg = seeded(Tls::Valid, Auth::None);
    let proxy = FaultProxy::start(&reg, Fault::SilentAccept);
    let mut req = request(&proxy.host(), "app:1.0");
    req.trust = ca_trust(&reg);
    req.step_timeout = Duration::from_secs(1);
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::NetworkUnreachable));
    assert_eq!(report.steps.len(), 1);
    assert!(
        matches!(report.steps[0].failure, Some(Failure::Timeout { .. })),
        "{:?}",
        report.steps[0]
    );
    assert!(
        report.certificates.is_empty(),
        "no certificate was ever presented"
    );
}
