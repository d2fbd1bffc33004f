//! Helpers shared by the probe's integration tests: requests for bench registries.
//!
//! The probe is pulldoctor's own code; the registries, token servers and fault proxies are
//! the real ones from `support/` (Debian's docker-registry 2.8 on 127.0.0.1).

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use pulldoctor::redacted::Redacted;
use pulldoctor::registry::{self, ImageRef, Platform, ProbeReport, ProbeRequest, StepName};
use pulldoctor::taxonomy::Cause;
use pulldoctor::trust::Trust as NodeTrust;

use crate::support::{Auth, Registry, RegistryOptions, Tls};

/// Starts a bench registry and pushes the fixture images into it.
pub fn seeded(tls: Tls, auth: Auth) -> Registry {
    let reg = Registry::start(RegistryOptions { tls, auth });
    reg.seed_fixtures();
    reg
}

/// A probe of `host/image` for a linux/amd64 node, no contrasts, generous deadlines.
pub fn request(host: &str, image: &str) -> ProbeRequest {
    let image = ImageRef::parse(&format!("{host}/{image}")).expect("test reference");
    let mut req = ProbeRequest::new(image, Platform::parse("linux/amd64").unwrap());
    req.timeout = Duration::from_secs(30);
    req.step_timeout = Duration::from_secs(10);
    req.contrasts = false;
    req
}

/// The node trusts the bench CA (as `--ca-file` would say).
pub fn ca_trust(reg: &Registry) -> NodeTrust {
    NodeTrust::from_ca_files(&[ca_file(reg)]).expect("bench CA loads")
}

pub fn ca_file(reg: &Registry) -> PathBuf {
    reg.pki.ca_file.clone()
}

/// A credential as the credentials stage would hand it over.
pub fn cred(label: &str, user: &str, password: &str) -> registry::Auth {
    registry::Auth {
        label: label.to_string(),
        username: user.to_string(),
        password: Redacted::new(password),
    }
}

/// The bench registry's own credential.
pub fn bench_cred(reg: &Registry) -> registry::Auth {
    let (u, p) = reg.credentials().expect("registry with auth");
    cred("secret shop/regcred", u, p)
}

pub async fn run(req: &ProbeRequest) -> ProbeReport {
    registry::probe(req).await
}

/// The cause, with the whole report in the panic message when it is not the expected one.
pub fn assert_cause(report: &ProbeReport, expected: Option<Cause>) {
    assert_eq!(
        report.outcome.cause,
        expected,
        "unexpected outcome; report:\n{}",
        serde_json::to_string_pretty(report).unwrap()
    );
}

/// The names of the steps, in order.
pub fn step_names(report: &ProbeReport) -> Vec<StepName> {
    report.steps.iter().map(|s| s.name).collect()
}
