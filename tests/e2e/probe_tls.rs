//! The probe against bench registries whose TLS fails the way nodes see it fail: unknown CA
//! (and the fix through `--ca-file`, a Docker certs.d copy and a containerd hosts.toml copy),
//! wrong name, expired, plain HTTP, mutual TLS, and `--registry-insecure-skip-verify`.

use std::fs;

use pulldoctor::registry::{Failure, StepName};
use pulldoctor::taxonomy::{Cause, Runtime};
use pulldoctor::trust::Trust as NodeTrust;

use crate::probe_common::*;
use crate::support::{Auth, Tls};

#[tokio::test]
async fn probe_unknown_ca_then_the_ca_file_fixes_it_and_the_contrast_says_so() {
    let reg = seeded(Tls::Valid, Auth::None);

    // The node with system roots only: the registry's private CA is unknown.
    let req = request(&reg.host, "app:1.0");
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::TlsUnknownAuthority));
    assert_eq!(
        report.steps.len(),
        1,
        "nothing is sent after a failed handshake"
    );
    assert_eq!(report.steps[0].failure, Some(Failure::UnknownAuthority));
    // The presented chain is described: the leaf names 127.0.0.1 and was issued by the bench CA.
    let leaf = report.certificates.first().expect("chain recorded");
    assert!(leaf.sans.iter().any(|s| s == "127.0.0.1"), "{leaf:?}");
    assert_ne!(leaf.issuer, leaf.subject);

    // With the node's CA the image is pullable, and the contrast shows the CA is what matters.
    let mut req = request(&reg.host, "app:1.0");
    req.trust = ca_trust(&reg);
    req.contrasts = true;
    let report = run(&req).await;
    assert_cause(&report, None);
    let node = report
        .contrasts
        .iter()
        .find(|c| c.trust.starts_with("node CA"))
        .unwrap();
    let system = report
        .contrasts
        .iter()
        .find(|c| c.trust == "system roots")
        .unwrap();
    assert!(node.works);
    assert!(!system.works);
    assert_eq!(system.cause, Some(Cause::TlsUnknownAuthority));
    assert!(
        report
            .outcome
            .detail
            .contains("contrast: node CA works, system roots fails"),
        "{}",
        report.outcome.detail
    );
}

#[tokio::test]
async fn probe_trusts_a_docker_certs_d_copy_looked_up_by_host_and_port() {
    let reg = seeded(Tls::Valid, Auth::None);
    let root = tempfile::tempdir().unwrap();
    // Docker: /etc/docker/certs.d/<host:port>/ca.crt.
    let dir = root.path().join(&reg.host);
    fs::create_dir_all(&dir).unwrap();
    fs::copy(ca_file(&reg), dir.join("ca.crt")).unwrap();
    let mut req = request(&reg.host, "app:1.0");
    req.trust = NodeTrust::from_certs_root(root.path(), &reg.host, Runtime::Docker).unwrap();
    assert_eq!(req.trust.cas.len(), 1);
    assert_cause(&run(&req).await, None);

    // A directory named without the port is not Docker's: the CA is not found.
    let root2 = tempfile::tempdir().unwrap();
    let dir = root2.path().join("127.0.0.1");
    fs::create_dir_all(&dir).unwrap();
    fs::copy(ca_file(&reg), dir.join("ca.crt")).unwrap();
    let trust = NodeTrust::from_certs_root(root2.path(), &reg.host, Runtime::Docker).unwrap();
    assert!(trust.cas.is_empty());
    assert!(
        trust.sources[1].contains("no directory"),
        "{:?}",
        trust.sources
    );
    let mut req = request(&reg.host, "app:1.0");
    req.trust = trust;
    assert_cause(&run(&req).await, Some(Cause::TlsUnknownAuthority));
}

#[tokio::test]
async fn probe_trusts_a_containerd_hosts_toml_with_a_relative_ca_path() {
    let reg = seeded(Tls::Valid, Auth::None);
    let root = tempfile::tempdir().unwrap();
    // containerd looks for <host>_<port>_ first; `ca` is relative to hosts.toml's directory.
    let dir = root.path().join(format!("127.0.0.1_{}_", reg.port()));
    fs::create_dir_all(dir.join("certs")).unwrap();
    fs::copy(ca_file(&reg), dir.join("certs/registry-ca.pem")).unwrap();
    fs::write(
        dir.join("hosts.toml"),
        format!(
            "server = \"https://{h}\"\n\n[host.\"https://127.0.0.1:{dead}\"]\n  capabilities = [\"pull\"]\n\n[host.\"https://{h}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \"certs/registry-ca.pem\"\n",
            h = reg.host,
            dead = crate::support::refused_port()
        ),
    )
    .unwrap();
    // A `_default` directory with another (empty) config must lose to the specific one.
    fs::create_dir_all(root.path().join("_default")).unwrap();
    let trust = NodeTrust::from_certs_root(root.path(), &reg.host, Runtime::Containerd).unwrap();
    assert_eq!(trust.cas.len(), 1);
    assert!(trust.cas[0].source.ends_with("certs/registry-ca.pem"));
    // The pull-only mirror cannot resolve a tag, so containerd starts with the second entry.
    assert_eq!(trust.endpoint.as_ref().unwrap().port(), Some(reg.port()));
    let mut req = request(&reg.host, "multi:1.0");
    req.trust = trust;
    let report = run(&req).await;
    assert_cause(&report, None);
    assert!(
        report
            .trust_sources
            .iter()
            .any(|s| s.contains("hosts.toml"))
    );

    // The same hosts.toml without `ca`: the node does not trust the registry.
    fs::write(
        dir.join("hosts.toml"),
        format!("server = \"https://{}\"\n", reg.host),
    )
    .unwrap();
    let mut req = request(&reg.host, "multi:1.0");
    req.trust = NodeTrust::from_certs_root(root.path(), &reg.host, Runtime::Containerd).unwrap();
    assert_cause(&run(&req).await, Some(Cause::TlsUnknownAuthority));
}

#[tokio::test]
async fn probe_certs_roots_are_searched_in_order_and_not_merged() {
    use pulldoctor::trust::TrustSpec;
    let reg = seeded(Tls::Valid, Auth::None);
    let containers = tempfile::tempdir().unwrap();
    let docker = tempfile::tempdir().unwrap();
    let with_ca = docker.path().join(&reg.host);
    fs::create_dir_all(&with_ca).unwrap();
    fs::copy(ca_file(&reg), with_ca.join("ca.crt")).unwrap();
    let spec = TrustSpec {
        certs_roots: vec![containers.path().into(), docker.path().into()],
        ..TrustSpec::default()
    };
    // CRI-O: /etc/containers/certs.d has nothing for the registry, /etc/docker/certs.d does.
    let mut req = request(&reg.host, "app:1.0");
    req.trust = NodeTrust::resolve(&spec, &reg.host, Runtime::CriO).unwrap();
    assert_cause(&run(&req).await, None);

    // An (empty) directory in the first root wins: the second root's CA is not used.
    fs::create_dir_all(containers.path().join(&reg.host)).unwrap();
    let mut req = request(&reg.host, "app:1.0");
    req.trust = NodeTrust::resolve(&spec, &reg.host, Runtime::CriO).unwrap();
    assert!(req.trust.cas.is_empty());
    assert_cause(&run(&req).await, Some(Cause::TlsUnknownAuthority));
}

#[tokio::test]
async fn probe_wrong_name_says_expected_and_presented() {
    let reg = seeded(Tls::WrongName, Auth::None);
    let mut req = request(&reg.host, "app:1.0");
    req.trust = ca_trust(&reg);
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::TlsHostnameMismatch));
    match &report.steps[0].failure {
        Some(Failure::NameMismatch {
            expected,
            presented,
        }) => {
            assert_eq!(expected, "127.0.0.1");
            assert!(
                presented.iter().any(|p| p == "registry.wrong.test"),
                "{presented:?}"
            );
        }
        other => panic!("expected a name mismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn probe_expired_certificate_gives_its_dates() {
    let reg = seeded(Tls::Expired, Auth::None);
    let mut req = request(&reg.host, "app:1.0");
    req.trust = ca_trust(&reg);
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::TlsExpired));
    match &report.steps[0].failure {
        Some(Failure::Expired { now, not_after }) => {
            assert!(not_after < now, "{not_after} should be before {now}");
            assert_eq!(report.certificates[0].not_after, *not_after);
        }
        other => panic!("expected an expired certificate, got {other:?}"),
    }
}

#[tokio::test]
async fn probe_plain_http_registry_is_confirmed_with_one_plain_get() {
    let reg = seeded(Tls::Plain, Auth::None);
    let report = run(&request(&reg.host, "app:1.0")).await;
    assert_cause(&report, Some(Cause::HttpToHttps));
    assert_eq!(
        step_names(&report),
        [StepName::Ping, StepName::PlainHttpCheck]
    );
    assert_eq!(report.steps[0].failure, Some(Failure::PlainHttpServer));
    assert_eq!(report.steps[1].status, Some(200));
    assert!(report.steps[1].url.starts_with("http://"));

    // With --plain-http the image is pullable, and the report says the flag was used.
    let mut req = request(&reg.host, "app:1.0");
    req.plain_http = true;
    let report = run(&req).await;
    assert_cause(&report, None);
    assert!(report.flags.iter().any(|f| f.contains("--plain-http")));
}

#[tokio::test]
async fn probe_insecure_skip_verify_is_recorded_with_what_verification_would_say() {
    let reg = seeded(Tls::Valid, Auth::None);
    let mut req = request(&reg.host, "app:1.0");
    req.insecure_skip_verify = true;
    let report = run(&req).await;
    assert_cause(&report, None);
    assert!(
        report
            .flags
            .iter()
            .any(|f| f.contains("--registry-insecure-skip-verify"))
    );
    assert_eq!(report.tls_would_fail, Some(Failure::UnknownAuthority));
}

#[tokio::test]
async fn probe_mutual_tls_needs_the_client_pair_from_the_cert_dir() {
    let reg = seeded(Tls::Mutual, Auth::None);
    // Without a client certificate the registry ends the handshake.
    let mut req = request(&reg.host, "app:1.0");
    req.trust = ca_trust(&reg);
    let report = run(&req).await;
    assert!(!report.pullable());
    assert!(
        matches!(
            report.steps[0].failure,
            Some(Failure::ClientCertificateRefused { .. })
        ),
        "{:?}",
        report.steps[0]
    );

    // A Docker-style --cert-dir: ca.crt, client.cert, client.key.
    let dir = tempfile::tempdir().unwrap();
    fs::copy(ca_file(&reg), dir.path().join("ca.crt")).unwrap();
    fs::copy(&reg.client_cert().cert_file, dir.path().join("client.cert")).unwrap();
    fs::copy(&reg.client_cert().key_file, dir.path().join("client.key")).unwrap();
    let mut req = request(&reg.host, "app:1.0");
    req.trust = NodeTrust::from_cert_dir(dir.path()).unwrap();
    assert!(req.trust.client.is_some());
    assert_cause(&run(&req).await, None);
}

#[tokio::test]
async fn probe_plain_http_to_a_tls_registry_says_so() {
    let reg = seeded(Tls::Valid, Auth::None);
    let mut req = request(&reg.host, "app:1.0");
    req.plain_http = true;
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::Unknown));
    assert_eq!(report.steps[0].status, Some(400));
    assert!(
        report.outcome.detail.contains("speaks HTTPS"),
        "{}",
        report.outcome.detail
    );
}

#[tokio::test]
async fn probe_node_config_naming_http_allows_credentials_over_it() {
    let reg = seeded(Tls::Plain, Auth::htpasswd("alice", "s3cret"));
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(&reg.host);
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("hosts.toml"),
        format!("server = \"http://{}\"\n", reg.host),
    )
    .unwrap();
    let mut req = request(&reg.host, "app:1.0");
    req.trust = NodeTrust::from_certs_root(root.path(), &reg.host, Runtime::Containerd).unwrap();
    assert!(req.trust.plain_http);
    req.credentials = vec![bench_cred(&reg)];
    let report = run(&req).await;
    assert_cause(&report, None);
    assert!(report.endpoint.starts_with("http://"));
    assert!(
        report.flags.iter().any(|f| f.contains("http://")),
        "{:?}",
        report.flags
    );
}

#[tokio::test]
async fn probe_node_skip_verify_is_reported() {
    let reg = seeded(Tls::WrongName, Auth::None);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(format!("127.0.0.1_{}_", reg.port()));
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("hosts.toml"),
        format!(
            "server = \"https://{h}\"\n[host.\"https://{h}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  skip_verify = true\n",
            h = reg.host
        ),
    )
    .unwrap();
    let mut req = request(&reg.host, "app:1.0");
    req.trust = NodeTrust::from_certs_root(root.path(), &reg.host, Runtime::Containerd).unwrap();
    let report = run(&req).await;
    assert_cause(&report, None);
    assert!(report.flags.iter().any(|f| f.contains("skip_verify")));
    // Verification would have refused the certificate: the report keeps that.
    assert!(report.tls_would_fail.is_some());
}
