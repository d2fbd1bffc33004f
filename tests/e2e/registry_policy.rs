//! A registry refusing an image by its own policy (Harbor's 412 `PROJECTPOLICYVIOLATION`):
//! pasted `kubectl describe` text and single messages read as `registry_policy` through the real
//! binary, with the registry's policy sentence quoted whole, and a 412 that says nothing of
//! policy claimed as nothing. The probe's side runs in `registry_dialects.rs`
//! (`fixtures/registries/harbor/policy-blocked.json`).

use serde_json::Value;

use crate::scenario::{assert_schema, pulldoctor};

/// Harbor's vulnerability sentence as containerd passed it on (tanzu-dev-portal's excerpt).
const SENTENCE: &str = "current image with 268 vulnerabilities cannot be pulled due to configured policy in 'Prevent images with vulnerability severity of \"High\" or higher from running.' To continue with pull, please contact your project administrator to exempt matched vulnerabilities through configuring the CVE allowlist.";

fn explain(args: &[&str]) -> Value {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    let run = pulldoctor(&all);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let report = run.json();
    assert_schema(&report);
    report
}

#[test]
fn explain_describe_with_containerds_412_quotes_the_policy_whole() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/messages/describe/tanzu-istio-refarch-harbor-vulnerable.txt"
    );
    let report = explain(&[file]);
    let symptoms = report["symptoms"].as_array().expect("symptoms");
    assert_eq!(symptoms.len(), 1, "{report:#}");
    let s = &symptoms[0];
    assert_eq!(s["cause"], "registry_policy", "{s:#}");
    assert_eq!(s["family"], "policy");
    assert_eq!(s["status"], 412);
    assert_eq!(s["detail"], SENTENCE, "the policy sentence, whole: {s:#}");
    let next = s["next_step"].as_str().unwrap();
    assert!(next.contains("CVE allowlist"), "{next}");
    assert!(next.contains("no node or pull-secret change"), "{next}");
}

#[test]
fn explain_dockers_not_signed_words_are_registry_policy() {
    let report = explain(&[
        "--message",
        "Error response from daemon: unknown: The image is not signed in Notary.",
    ]);
    let s = &report["symptoms"][0];
    assert_eq!(s["cause"], "registry_policy", "{s:#}");
    assert_eq!(s["detail"], "The image is not signed in Notary.");
    assert!(
        s["next_step"].as_str().unwrap().contains("sign the image"),
        "{s:#}"
    );
}

#[test]
fn explain_a_412_without_policy_words_claims_nothing() {
    let run = pulldoctor(&[
        "explain",
        "--message",
        "Failed to pull image \"h.test/p/app:1\": rpc error: code = Unknown desc = failed to resolve reference \"h.test/p/app:1\": unexpected status from HEAD request to https://h.test/v2/p/app/manifests/1: 412 Precondition Failed",
        "-o",
        "json",
    ]);
    let s = &run.json()["symptoms"][0];
    assert_ne!(s["cause"], "registry_policy", "{s:#}");
    assert_eq!(s["cause"], "unknown", "{s:#}");
}

/// The text and table a person reads carry the registry's sentence whole too, beside what it
/// means: the words the cause was read from, not only pulldoctor's reading of them.
#[test]
fn explain_shows_the_registrys_sentence_in_every_format() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/messages/describe/tanzu-istio-refarch-harbor-vulnerable.txt"
    );
    let text = pulldoctor(&["explain", file, "-o", "text"]);
    assert!(
        text.stdout.contains(&format!("  says: {SENTENCE}\n")),
        "{}",
        text.stdout
    );
    let markdown = pulldoctor(&["explain", file, "-o", "markdown"]);
    assert!(
        markdown
            .stdout
            .contains("Says: current image with 268 vulnerabilities"),
        "{}",
        markdown.stdout
    );
    // The table wraps the sentence over lines of its cell; joined, it is whole.
    let table = pulldoctor(&["explain", file]);
    let cell: Vec<&str> = table
        .stdout
        .lines()
        .filter_map(|l| l.trim_end_matches('│').rsplit('┆').next())
        .map(str::trim)
        .collect();
    let joined = cell.join(" ");
    assert!(
        joined.contains(&format!("Says: {SENTENCE}")),
        "{}",
        table.stdout
    );
}
