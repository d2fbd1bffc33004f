//! The machine's system roots, as the node's runtime reads them (Go's `SSL_CERT_FILE`, then the
//! distribution's bundle), beside the CAs the node names for a registry.
//!
//! A registry is trusted when its chain reaches the system roots or a named CA; which of the
//! two it reaches must not change the verdict, and the trust contrast must say which one did.
//! Each run is the real binary against Debian's docker-registry with `SSL_CERT_FILE` pointing at
//! a bundle written here: a CA that signs the registry, or one that does not, among blocks a
//! bundle may carry that are not certificates.

use std::path::Path;

use serde_json::Value;

use crate::scenario::{Run, path, pulldoctor_env};
use crate::support::{Auth, Pki, Registry, RegistryOptions, Tls};

fn registry() -> Registry {
    let reg = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth: Auth::None,
    });
    reg.seed_fixtures();
    reg
}

/// A bundle as distributions write them: comments, CRLF line ends, a block that is not a
/// certificate, then the certificates.
fn bundle(dir: &Path, cas: &[&Pki]) -> String {
    let mut text = String::from("# system roots written by the test\r\n");
    text += "-----BEGIN X509 CRL-----\r\nAAAA\r\n-----END X509 CRL-----\r\n";
    for ca in cas {
        text += &ca.ca_pem.replace('\n', "\r\n");
    }
    let file = dir.join("bundle.crt");
    std::fs::write(&file, text).unwrap();
    path(&file).to_string()
}

/// `pulldoctor image REF ARGS -o json` with the system roots read from `roots`.
fn image(roots: &str, reference: &str, args: &[&str]) -> Run {
    let mut all = vec!["image", reference, "-o", "json"];
    all.extend_from_slice(args);
    pulldoctor_env(&all, &[("SSL_CERT_FILE", roots)])
}

fn evidence(v: &Value) -> String {
    v["evidence"].to_string()
}

/// The registry's CA among the system roots: pullable with no CA named, and with an unrelated
/// CA named (the named CA is tried first and does not sign it; the system roots do).
#[test]
fn a_registry_the_system_roots_trust_is_pullable_whatever_ca_is_named() {
    let reg = registry();
    let other = Pki::generate();
    let dir = tempfile::tempdir().unwrap();
    let roots = bundle(dir.path(), &[&other, &reg.pki]);
    let reference = format!("{}/app:1.0", reg.host);

    let run = image(&roots, &reference, &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    let unrelated = path(&other.ca_file).to_string();
    let run = image(&roots, &reference, &["--ca-file", &unrelated]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let v = run.verdict();
    assert_eq!(v["confidence"], "healthy", "{v:#}");
    assert!(
        evidence(&v).contains("system roots works"),
        "the contrast credits the system roots: {v:#}"
    );
}

/// System roots that do not sign the registry: unknown authority without a CA, pullable with the
/// registry's CA named, and the contrast says the named CA is what makes it work.
#[test]
fn a_registry_only_the_named_ca_trusts_needs_that_ca() {
    let reg = registry();
    let other = Pki::generate();
    let dir = tempfile::tempdir().unwrap();
    let roots = bundle(dir.path(), &[&other]);
    let reference = format!("{}/app:1.0", reg.host);

    let run = image(&roots, &reference, &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        run.verdict()["cause"],
        "tls_unknown_authority",
        "{}",
        run.stdout
    );

    let ca = path(&reg.pki.ca_file).to_string();
    let run = image(&roots, &reference, &["--ca-file", &ca]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let v = run.verdict();
    assert!(
        evidence(&v).contains("system roots fails"),
        "the contrast says the system roots alone fail: {v:#}"
    );
    assert!(
        evidence(&v).contains(&format!("--ca-file {ca} is the CA")),
        "and names the CA that works: {v:#}"
    );
}
