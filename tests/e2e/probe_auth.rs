//! The probe against bench registries that demand credentials: htpasswd (Basic) and a token
//! server (Bearer). Anonymous refusal, a wrong password, valid credentials, a token server
//! that refuses the scope, kubelet's credential order with contrasts, request counts, and no
//! secret in the report.

use pulldoctor::registry::StepName;
use pulldoctor::taxonomy::Cause;

use crate::probe_common::*;
use crate::support::{Auth, Tls};

#[tokio::test]
async fn probe_basic_registry_refuses_anonymous_and_a_wrong_password() {
    let reg = seeded(Tls::Valid, Auth::htpasswd("alice", "s3cret"));
    let mut req = request(&reg.host, "app:1.0");
    req.trust = ca_trust(&reg);
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::AuthRequired));
    assert_eq!(report.auth_scheme.as_deref(), Some("basic"));
    assert_eq!(report.steps[0].status, Some(401));

    let mut req = request(&reg.host, "app:1.0");
    req.trust = ca_trust(&reg);
    req.credentials = vec![cred("secret shop/old", "alice", "wrong")];
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::AuthInvalidCredentials));
    assert!(report.outcome.detail.contains("secret shop/old"));
}

#[tokio::test]
async fn probe_basic_registry_with_valid_credentials_costs_one_request_on_one_connection() {
    let reg = seeded(Tls::Valid, Auth::htpasswd("alice", "s3cret"));
    let mut req = request(&reg.host, "multi:1.0");
    req.trust = ca_trust(&reg);
    req.credentials = vec![bench_cred(&reg)];
    req.contrasts = true;
    let report = run(&req).await;
    assert_cause(&report, None);
    assert_eq!(
        report.outcome.credential_used.as_deref(),
        Some("secret shop/regcred")
    );
    // One credential that works: only the trust contrast runs, on the chain already presented.
    assert_eq!(report.contrast_requests, 0);
    assert!(report.contrasts.iter().all(|c| c.credential == "-"));
    let system = report
        .contrasts
        .iter()
        .find(|c| c.trust == "system roots")
        .expect("trust contrast");
    assert!(!system.works && !system.untested, "{system:?}");
    // The credential rides the first request (no `/v2/` ping): one manifest GET for an index.
    assert_eq!(step_names(&report), [StepName::ManifestGet]);
    assert!(
        report.steps[0].auth.contains("basic"),
        "{:?}",
        report.steps[0]
    );
    assert_eq!(report.requests, 1);
    assert_eq!(report.tls_handshakes, 1);
    assert!(
        report
            .digest
            .as_deref()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    // A pullable image needs no tag list.
    assert!(report.tags.is_empty());
}

#[tokio::test]
async fn probe_tries_credentials_in_kubelet_order_and_contrasts_each() {
    let reg = seeded(Tls::Valid, Auth::htpasswd("alice", "s3cret"));
    let mut req = request(&reg.host, "app:1.0");
    req.trust = ca_trust(&reg);
    req.contrasts = true;
    req.credentials = vec![
        cred("secret shop/stale", "alice", "old-password"),
        bench_cred(&reg),
    ];
    let report = run(&req).await;
    assert_cause(&report, None);
    assert_eq!(
        report.outcome.credential_used.as_deref(),
        Some("secret shop/regcred")
    );
    let by = |label: &str| {
        report
            .contrasts
            .iter()
            .find(|c| c.credential == label)
            .unwrap()
    };
    assert_eq!(
        by("secret shop/stale").cause,
        Some(Cause::AuthInvalidCredentials)
    );
    assert!(by("secret shop/regcred").works);
    // Both answers came from the conversation itself; anonymous cannot change the verdict.
    assert_eq!(report.contrast_requests, 0);
    assert!(
        report
            .skipped_contrasts
            .iter()
            .any(|s| s.contrast == "anonymous"),
        "{:?}",
        report.skipped_contrasts
    );
}

#[tokio::test]
async fn probe_token_registry_costs_three_requests_and_reuses_the_token() {
    let reg = seeded(Tls::Valid, Auth::token("bob", "pw"));
    let mut req = request(&reg.host, "multi:1.0");
    req.trust = ca_trust(&reg);
    req.credentials = vec![bench_cred(&reg)];
    let report = run(&req).await;
    assert_cause(&report, None);
    assert_eq!(report.auth_scheme.as_deref(), Some("bearer"));
    // `/v2/`, the token, the manifest.
    assert_eq!(report.requests, 3);
    let token = reg.token.as_ref().unwrap();
    let asked = token.requests();
    assert_eq!(
        asked.len(),
        1,
        "one token for tags and manifests: {asked:?}"
    );
    assert!(asked[0].authorization);
    assert!(
        asked[0].query.contains("scope=repository%3Amulti%3Apull"),
        "{}",
        asked[0].query
    );
}

#[tokio::test]
async fn probe_token_registry_wrong_password_and_anonymous() {
    let reg = seeded(Tls::Valid, Auth::token("bob", "pw"));
    let mut req = request(&reg.host, "app:1.0");
    req.trust = ca_trust(&reg);
    req.credentials = vec![cred("secret shop/regcred", "bob", "nope")];
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::AuthInvalidCredentials));
    let token_step = report
        .steps
        .iter()
        .find(|s| s.name == StepName::Token)
        .unwrap();
    assert_eq!(token_step.status, Some(401));

    // Anonymous callers get a token without access: private, or missing — the registry won't say.
    let mut req = request(&reg.host, "app:1.0");
    req.trust = ca_trust(&reg);
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::AuthOrNotFound));
}

#[tokio::test]
async fn probe_token_server_refusing_the_scope_is_forbidden_not_bad_credentials() {
    let reg = seeded(Tls::Valid, Auth::token("bob", "pw"));
    reg.token.as_ref().unwrap().refuse("app");
    let mut req = request(&reg.host, "app:1.0");
    req.trust = ca_trust(&reg);
    req.credentials = vec![bench_cred(&reg)];
    req.contrasts = true;
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::AuthForbidden));
    // The contrast: the credential may not pull (its token has no access); anonymous access
    // cannot change that; the other repositories may be pulled.
    let by = |label: &str| {
        report
            .contrasts
            .iter()
            .find(|c| c.credential == label)
            .unwrap()
    };
    assert!(report.contrasts.iter().all(|c| c.credential != "anonymous"));
    assert_eq!(by("secret shop/regcred").cause, Some(Cause::AuthForbidden));
    let mut other = request(&reg.host, "multi:1.0");
    other.trust = ca_trust(&reg);
    other.credentials = vec![bench_cred(&reg)];
    assert_cause(&run(&other).await, None);
    assert!(
        report.outcome.detail.contains("insufficient_scope"),
        "{}",
        report.outcome.detail
    );
}

#[tokio::test]
async fn probe_report_never_holds_the_password_or_the_token() {
    let reg = seeded(Tls::Valid, Auth::token("bob", "pw-marker-5a1f"));
    let mut req = request(&reg.host, "app:1.0");
    req.trust = ca_trust(&reg);
    req.contrasts = true;
    req.catalog = true;
    req.credentials = vec![bench_cred(&reg)];
    let report = run(&req).await;
    assert_cause(&report, None);
    let json = serde_json::to_string(&report).unwrap();
    let debug = format!("{report:?} {req:?}");
    for text in [&json, &debug] {
        assert!(!text.contains("pw-marker-5a1f"));
        assert!(!text.contains("eyJ"), "a JWT leaked into the report");
    }
}

#[tokio::test]
async fn probe_mirror_named_in_hosts_toml_gets_no_credentials() {
    use crate::support::{Fault, FaultProxy};
    use pulldoctor::taxonomy::Runtime;
    use pulldoctor::trust::Trust as NodeTrust;

    let reg = seeded(Tls::Valid, Auth::htpasswd("alice", "s3cret"));
    // The mirror: another port in front of the same registry.
    let mirror = FaultProxy::start(&reg, Fault::PassThrough);
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join(format!("127.0.0.1_{}_", reg.port()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(ca_file(&reg), dir.join("ca.crt")).unwrap();
    std::fs::write(
        dir.join("hosts.toml"),
        format!(
            "server = \"https://{}\"\n[host.\"https://{}\"]\n  capabilities = [\"pull\", \"resolve\"]\n  ca = \"ca.crt\"\n",
            reg.host,
            mirror.host()
        ),
    )
    .unwrap();
    let mut req = request(&reg.host, "app:1.0");
    req.trust = NodeTrust::from_certs_root(root.path(), &reg.host, Runtime::Containerd).unwrap();
    assert_eq!(req.trust.fallbacks, [format!("https://{}", reg.host)]);
    req.credentials = vec![bench_cred(&reg)];
    let report = run(&req).await;
    assert!(
        report.endpoint.contains(&mirror.host()),
        "{}",
        report.endpoint
    );
    assert_cause(&report, Some(Cause::AuthRequired));
    assert!(
        report
            .flags
            .iter()
            .any(|f| f.contains("credentials withheld"))
    );
    assert!(mirror.requests().iter().all(|r| !r.authorization));
}
