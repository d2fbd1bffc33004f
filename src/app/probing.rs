//! The probe as the commands use it: trust resolved per registry, reserved names skipped,
//! and the probe's record boiled down for the verdict.

use std::sync::Mutex;
use std::time::Duration;

use crate::cli::ProbeArgs;
use crate::config::Common;
use crate::diagnose::{ProbeFacts, ProbeResult};
use crate::registry::{self, ImageRef, Platform, ProbeReport, ProbeRequest};
use crate::taxonomy::Runtime;
use crate::trust::{Trust, TrustSpec};

/// Runs probes with the command line's trust and transport settings.
pub struct Prober {
    enabled: bool,
    spec: TrustSpec,
    plain_http: bool,
    insecure: bool,
    catalog: bool,
    timeout: Duration,
    notes: Mutex<Vec<String>>,
}

impl Prober {
    /// Resolves the flags; unreadable trust files are reported when first used.
    pub fn new(args: &ProbeArgs, common: &Common) -> crate::Result<Prober> {
        for f in &args.ca_files {
            if !f.is_file() {
                return Err(crate::Error::BadFile {
                    path: f.clone(),
                    reason: "--ca-file must name a readable PEM file".to_string(),
                });
            }
        }
        Ok(Prober {
            enabled: !args.no_probe,
            spec: TrustSpec {
                ca_files: args.ca_files.clone(),
                cert_dir: args.cert_dir.clone(),
                certs_roots: args.certs_dir.iter().cloned().collect(),
            },
            plain_http: args.plain_http,
            insecure: args.insecure_skip_tls_verify,
            catalog: args.catalog,
            timeout: common.timeout,
            notes: Mutex::new(Vec::new()),
        })
    }

    /// Notes gathered while probing (trust problems, unsafe flags), each once.
    pub fn notes(&self) -> Vec<String> {
        let mut n = self.notes.lock().map(|n| n.clone()).unwrap_or_default();
        n.dedup();
        n
    }

    fn note(&self, line: String) {
        if let Ok(mut n) = self.notes.lock()
            && !n.contains(&line)
        {
            n.push(line);
        }
    }

    /// Why this image is not probed, if it is not.
    pub fn skip_reason(&self, image: Option<&ImageRef>) -> Option<ProbeFacts> {
        if !self.enabled {
            return Some(ProbeFacts::Off);
        }
        let Some(image) = image else {
            return Some(ProbeFacts::NotRun(
                "the image reference does not parse".to_string(),
            ));
        };
        if registry::dns::reserved_domain(image.host()) == Some("test") {
            return Some(ProbeFacts::NotRun(format!(
                "{} is a reserved .test name (RFC 6761), used by fixtures; it is never contacted",
                image.registry
            )));
        }
        None
    }

    /// Probes `image` as a node of `runtime` on `platform` would, with `auths` in kubelet order.
    pub async fn probe(
        &self,
        image: &ImageRef,
        auths: Vec<registry::Auth>,
        platform: &Platform,
        runtime: Runtime,
    ) -> crate::Result<ProbeReport> {
        let trust: Trust = Trust::resolve(&self.spec, &image.registry, runtime)
            .map_err(|e| crate::Error::Tls(e.to_string()))?;
        let mut req = ProbeRequest::new(image.clone(), platform.clone());
        req.credentials = auths;
        req.trust = trust;
        req.timeout = self.timeout;
        req.step_timeout = self.timeout;
        req.catalog = self.catalog;
        req.plain_http = self.plain_http;
        req.insecure_skip_verify = self.insecure;
        let report = registry::probe(&req).await;
        for p in &report.trust_problems {
            self.note(format!("node trust config for {}: {p}", image.registry));
        }
        Ok(report)
    }
}

/// The probe's record, boiled down for the verdict.
pub fn facts(report: &ProbeReport) -> ProbeFacts {
    let trust_contrast = |prefix: &str| {
        report
            .contrasts
            .iter()
            .find(|c| c.credential == "-" && c.trust.starts_with(prefix))
    };
    let works_with_supplied_ca = match (trust_contrast("node CA"), trust_contrast("system roots")) {
        (Some(node), Some(system)) if !node.untested && !system.untested => {
            Some(node.works && !system.works)
        }
        _ => None,
    };
    let anonymous_works = report
        .contrasts
        .iter()
        .find(|c| c.credential == "anonymous")
        .map(|c| c.works);
    let working_credential = report
        .contrasts
        .iter()
        .find(|c| c.credential != "-" && c.credential != "anonymous" && c.works)
        .map(|c| c.credential.clone())
        .or_else(|| report.outcome.credential_used.clone());
    let mut steps: Vec<String> = report
        .steps
        .iter()
        .map(|s| {
            let path = url::Url::parse(&s.url)
                .map(|u| u.path().to_string())
                .unwrap_or_default();
            format!("{} {path}: {}", s.method, s.detail)
        })
        .collect();
    if !report.outcome.detail.is_empty() {
        steps.push(format!("conclusion: {}", report.outcome.detail));
    }
    ProbeFacts::Ran(ProbeResult {
        cause: report.outcome.cause,
        detail: report.outcome.detail.clone(),
        steps,
        tags: report.tags.clone(),
        platforms: report.platforms.iter().map(|p| p.to_string()).collect(),
        platform: report.platform.to_string(),
        works_with_supplied_ca,
        working_credential,
        anonymous_works,
        requests: report.requests,
        flags: report.flags.clone(),
    })
}
