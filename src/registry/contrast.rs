//! Contrast probes: the same registry with other trust or other credentials.
//!
//! A diagnosis is proven when the contrast flips: the handshake fails with the system roots
//! and succeeds with the node's CA (so the node needs that CA where its runtime reads it), or
//! the manifest is refused anonymously and served with the second credential kubelet would try
//! (kubelet's keyring order: `pkg/credentialprovider/keyring.go`,
//! <https://github.com/kubernetes/kubernetes/blob/master/pkg/credentialprovider/keyring.go>).
//! Contrasts run only where they decide something, and their requests are counted apart.

use std::time::Instant;

use reqwest::{Method, Url};

use super::challenge::{self, Scheme};
use super::client::{CAP_SMALL, RegistryClient};
use super::documents::MANIFEST_ACCEPT;
use super::model::{Auth, Contrast, ProbeReport, ProbeRequest, Puller, StepName};
use super::session::{Granted, Session, Verdict, status_verdict};
use super::tls_error::Failure;
use crate::taxonomy::Cause;

/// Runs the contrasts that decide something for this report.
pub async fn run(
    req: &ProbeRequest,
    client: &RegistryClient,
    root: &Url,
    report: &mut ProbeReport,
    deadline: Instant,
) {
    let allow_http = req.plain_http || req.trust.plain_http;
    let verifying = !req.insecure_skip_verify && !req.trust.skip_verify;
    if root.scheme() == "https" && verifying && req.trust.has_node_cas() {
        trust_contrast(req, root, report, deadline, allow_http).await;
    }
    // Credential contrasts decide something when access failed (or looked like "not found",
    // which registries say for private repositories) or when kubelet had several to try.
    let challenged = matches!(report.auth_scheme.as_deref(), Some("basic" | "bearer"));
    let undecided = report.outcome.cause.is_some_and(|c| {
        matches!(
            c.family(),
            crate::taxonomy::Family::Auth | crate::taxonomy::Family::NotFound
        )
    });
    if challenged && !req.credentials.is_empty() && (undecided || req.credentials.len() > 1) {
        credential_contrast(req, client, root, report, deadline, allow_http).await;
    }
    for c in &report.contrasts {
        tracing::info!(
            "contrast: trust {}, credential {}: {} ({} request{}){}",
            c.trust,
            c.credential,
            if c.untested {
                "untested"
            } else if c.works {
                "works"
            } else {
                "fails"
            },
            c.requests,
            if c.requests == 1 { "" } else { "s" },
            if c.detail.is_empty() {
                String::new()
            } else {
                format!(": {}", c.detail)
            }
        );
    }
    if let Some(summary) = summary(&report.contrasts, req.puller) {
        report.outcome.detail.push_str("; ");
        report.outcome.detail.push_str(&summary);
    }
}

/// One line: which trust and which credentials work, e.g. `contrast: node CA works, system
/// roots fail; anonymous fails, secret shop/regcred works` (`supplied CA` for a CI job's).
pub fn summary(contrasts: &[Contrast], puller: Puller) -> Option<String> {
    let group = |trust_group: bool| {
        let items: Vec<String> = contrasts
            .iter()
            .filter(|c| (c.credential == "-") == trust_group)
            .map(|c| {
                let name = if trust_group {
                    let name = c.trust.split(" (").next().unwrap_or(&c.trust);
                    if name == Puller::Node.ca_name() {
                        puller.ca_name()
                    } else {
                        name
                    }
                } else {
                    c.credential.as_str()
                };
                let word = if c.works {
                    "works"
                } else if c.untested {
                    "untested"
                } else {
                    "fails"
                };
                format!("{name} {word}")
            })
            .collect();
        (!items.is_empty()).then(|| items.join(", "))
    };
    let parts: Vec<String> = [group(true), group(false)].into_iter().flatten().collect();
    (!parts.is_empty()).then(|| format!("contrast: {}", parts.join("; ")))
}

/// The handshake with the node's CA (the main probe) against the system roots alone.
async fn trust_contrast(
    req: &ProbeRequest,
    root: &Url,
    report: &mut ProbeReport,
    deadline: Instant,
    allow_http: bool,
) {
    let ping = report.steps.iter().find(|s| s.name == StepName::Ping);
    let node_untested = ping
        .is_some_and(|p| p.status.is_none() && p.failure.as_ref().is_none_or(Failure::before_tls));
    let node_ok = ping.is_some_and(|p| p.status.is_some() || !is_tls(p)) && !node_untested;
    let cas: Vec<String> = req
        .trust
        .cas
        .iter()
        .map(|c| c.source.display().to_string())
        .collect();
    report.contrasts.push(Contrast {
        trust: format!("node CA ({})", dedup(cas).join(", ")),
        credential: "-".into(),
        works: node_ok,
        untested: node_untested,
        cause: ping.and_then(|p| p.failure.as_ref().map(|f| f.cause())),
        detail: match ping {
            Some(p) if p.status.is_some() => "TLS handshake succeeded".into(),
            Some(p) => p.detail.clone(),
            None => "not probed".into(),
        },
        requests: 0,
    });
    let system = req.trust.system_only();
    let connect = req.step_timeout.min(req.timeout);
    let Ok(c2) = RegistryClient::new(&system, false, connect) else {
        return;
    };
    let mut s = Session::new(req, &c2, root.clone(), deadline, allow_http);
    let anon = Granted::anonymous();
    let answered = s
        .step(
            StepName::Ping,
            Method::GET,
            root.clone(),
            None,
            &anon,
            CAP_SMALL,
        )
        .await
        .is_some();
    let f = s.last_failure();
    let untested = !answered && f.as_ref().is_none_or(Failure::before_tls);
    report.contrasts.push(Contrast {
        trust: "system roots".into(),
        credential: "-".into(),
        works: !untested && (answered || f.as_ref().is_some_and(|f| !f.is_tls())),
        untested,
        cause: f.as_ref().map(|f| f.cause()),
        detail: match &f {
            None => "TLS handshake succeeded".into(),
            Some(f) => f.describe(),
        },
        requests: c2.requests(),
    });
    report.contrast_requests += c2.requests();
}

fn is_tls(step: &super::model::Step) -> bool {
    step.failure.as_ref().is_some_and(|f| f.is_tls())
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.dedup();
    v
}

/// Anonymous, then each credential in kubelet order: may each read the manifest?
async fn credential_contrast(
    req: &ProbeRequest,
    client: &RegistryClient,
    root: &Url,
    report: &mut ProbeReport,
    deadline: Instant,
    allow_http: bool,
) {
    let header = report
        .steps
        .iter()
        .find(|s| s.name == StepName::Ping)
        .and_then(|p| p.headers.get("www-authenticate").cloned())
        .unwrap_or_default();
    let challenges = challenge::parse(&header);
    let Some(chosen) = challenge::preferred(&challenges).cloned() else {
        return;
    };
    let mut candidates: Vec<Option<&Auth>> = vec![None];
    candidates.extend(req.credentials.iter().map(Some));
    for cand in candidates {
        let before = client.requests();
        let mut s = Session::new(req, client, root.clone(), deadline, allow_http);
        let v = access_check(&mut s, &chosen, cand).await;
        let used = client.requests() - before;
        report.contrast_requests += used;
        report.contrasts.push(Contrast {
            trust: "as configured".into(),
            credential: cand.map_or("anonymous".into(), |c| c.label.clone()),
            works: v.cause.is_none(),
            untested: false,
            cause: v.cause,
            detail: v.detail,
            requests: used,
        });
    }
}

/// Authenticates with one candidate and HEADs the manifest.
async fn access_check(
    s: &mut Session<'_>,
    chosen: &challenge::Challenge,
    cand: Option<&Auth>,
) -> Verdict {
    let granted = match (&chosen.scheme, cand) {
        (Scheme::Bearer, _) => {
            let scope = format!("repository:{}:pull", s.req.image.repository);
            match s.token(chosen, cand, &scope).await {
                Ok(g) => g,
                Err((_, v)) => return v,
            }
        }
        (_, Some(c)) => s.basic(c),
        (_, None) => Granted::anonymous(),
    };
    let reference = s.req.image.manifest_reference().to_string();
    let url = s.repo_url(&format!("manifests/{reference}"));
    let Some(x) = s
        .step(
            StepName::ManifestHead,
            Method::HEAD,
            url,
            Some(MANIFEST_ACCEPT),
            &granted,
            CAP_SMALL,
        )
        .await
    else {
        return s.unreachable("manifest HEAD");
    };
    let who = cand.map_or("anonymous".to_string(), |c| c.label.clone());
    match x.status {
        200 => Verdict::pullable(format!("{who}: manifest served")),
        401 if chosen.scheme == Scheme::Basic => match cand {
            Some(_) => Verdict::cause(
                Cause::AuthInvalidCredentials,
                format!("{who}: credentials rejected"),
            ),
            None => Verdict::cause(Cause::AuthRequired, "anonymous: credentials required"),
        },
        401 | 403 => {
            let mut v = super::manifest::denied(s, &x, &granted);
            v.detail = format!("{who}: {}", v.detail);
            v
        }
        404 => Verdict::cause(
            Cause::NotFound,
            format!("{who}: access granted, but manifest {reference} is unknown (404)"),
        ),
        st => status_verdict(st, &x, &format!("{who}: manifest HEAD")),
    }
}
