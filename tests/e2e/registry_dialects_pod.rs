//! Registry dialects through `pod` (the API test server) and every output format: a pull
//! secret holding an expired ECR password, Docker Hub's missing repository behind valid
//! credentials, and Docker Hub's pull quota on a healthy pull.
//!
//! The registries are the recorded answers in `fixtures/registries/`, replayed over HTTPS under
//! their real names and reached through `--resolve` on loopback (`support::replay`).

use std::path::Path;

use serde_json::Value;

use crate::registry_dialects::{ecr_password, unix_of};
use crate::scenario::{
    Scenario, assert_schema, dockerconfigjson, evidence_text, fix_text, path, pod, pulldoctor,
};
use crate::support::kube_api::KubeApi;
use crate::support::replay::Replay;

fn fixture(rel: &str) -> (Value, Replay) {
    Replay::from_file(
        &Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/registries")
            .join(rel),
    )
}

/// `--ca-file <replay CA> --resolve HOST:443:ADDR …`.
fn reach(replay: &Replay) -> Vec<String> {
    let mut args = vec![
        "--ca-file".to_string(),
        path(&replay.pki.ca_file).to_string(),
    ];
    args.extend(replay.resolve_args());
    args
}

#[test]
fn an_expired_ecr_password_in_a_pull_secret_is_dated_and_renewed_by_machine() {
    let (fx, replay) = fixture("ecr/expired-credentials.json");
    let image = fx["image"].as_str().unwrap();
    let host = image.split('/').next().unwrap();
    let expires = fx["credentials"]["ecr_expires_at"].as_str().unwrap();
    let password = ecr_password(unix_of(expires));
    let api = KubeApi::start();
    Scenario::new(image)
        .failed(&format!(
            "Failed to pull image \"{image}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": unexpected status from HEAD request to https://{host}/v2/pd-app/manifests/1.0: 403 Forbidden"
        ))
        .secret(dockerconfigjson("shop", "ecr-pull", host, "AWS", &password))
        .pull_secret("ecr-pull")
        .load(&api);
    let args = reach(&replay);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = pod(&api, &refs);
    run.assert_no_leak("AWS", &password);
    let report = run.json();
    assert_schema(&report);
    let v = &report["verdicts"][0];
    assert_eq!(v["cause"], "auth_invalid_credentials", "{v:#}");
    let evidence = evidence_text(v);
    let first_probe_line = v["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "probe")
        .and_then(|e| e["text"].as_str())
        .unwrap_or("");
    assert_eq!(
        first_probe_line,
        "the ECR password of secret shop/ecr-pull (key 123456789012.dkr.ecr.us-east-1.amazonaws.com) expired at 2024-01-01T12:00:00Z (12-hour token)",
        "the expiry is said before the registry's answers: {evidence}"
    );
    let fixes = fix_text(v);
    assert!(fixes.contains("ecr-credential-provider"), "{fixes}");
    assert!(
        fixes.contains("--image-credential-provider-config"),
        "{fixes}"
    );
    assert!(fixes.contains("CronJob"), "{fixes}");
    assert!(
        !fixes.contains("kubectl create secret"),
        "a hand-made secret would expire again in 12 hours: {fixes}"
    );
}

#[test]
fn docker_hub_refusing_valid_credentials_is_not_called_forbidden() {
    let (fx, replay) = fixture("dockerhub/missing-repo-authenticated.json");
    let image = fx["image"].as_str().unwrap();
    let user = fx["credentials"]["username"].as_str().unwrap();
    let password = fx["credentials"]["password"].as_str().unwrap();
    let api = KubeApi::start();
    Scenario::new(image)
        .failed(&format!(
            "Failed to pull image \"{image}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"
        ))
        .secret(dockerconfigjson("shop", "hub", "https://index.docker.io/v1/", user, password))
        .pull_secret("hub")
        .load(&api);
    let args = reach(&replay);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = pod(&api, &refs);
    run.assert_no_leak(user, password);
    let v = run.verdict();
    assert_eq!(v["cause"], "auth_or_not_found", "{v:#}");
    assert_eq!(v["confidence"], "confirmed", "{v:#}");
    let evidence = evidence_text(&v);
    assert!(
        evidence.contains("Docker Hub answers a missing repository exactly like a private one"),
        "{evidence}"
    );
    assert!(
        !evidence.contains("is authenticated but may not pull"),
        "{evidence}"
    );
}

#[test]
fn docker_hub_pull_quota_is_reported_on_a_healthy_pull_in_every_format() {
    let (fx, replay) = fixture("dockerhub/healthy.json");
    let image = fx["image"].as_str().unwrap();
    let mut args = vec!["image".to_string(), image.to_string()];
    args.extend(reach(&replay));
    let quota = "Docker Hub pull quota: 76 of 100 pulls left in a 6-hour window, counted per IP address for anonymous pulls (docker-ratelimit-source 192.0.2.1)";
    for format in ["json", "text", "markdown", "table"] {
        let mut all = args.clone();
        all.extend(["-o".to_string(), format.to_string()]);
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        let run = pulldoctor(&refs);
        assert_eq!(run.code, 0, "{format}: {}\n{}", run.stdout, run.stderr);
        if format == "json" {
            let report = run.json();
            assert_schema(&report);
            assert_eq!(report["verdicts"][0]["pull_quota"], quota, "{report:#}");
        } else {
            // A table may wrap prose: compare with whitespace folded.
            let folded = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                folded.contains("76 of 100 pulls left in a 6-hour window"),
                "{format}: {}",
                run.stdout
            );
        }
    }
}

#[test]
fn a_refused_token_without_credentials_is_not_called_a_wrong_password() {
    let (fx, replay) = fixture("distribution/token-rejected-invalid-token.json");
    let mut args = vec![
        "image".to_string(),
        fx["image"].as_str().unwrap().to_string(),
        "-o".to_string(),
        "json".to_string(),
    ];
    args.extend(reach(&replay));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let v = pulldoctor(&refs).verdict();
    assert_eq!(v["cause"], "auth_invalid_credentials", "{v:#}");
    let summary = v["summary"].as_str().unwrap();
    assert!(
        summary.contains("refuses the token its own token server issued"),
        "{summary}"
    );
    assert!(!summary.contains("username or password"), "{summary}");
}
