//! Contrast probes: the same registry with other trust or other credentials.
//!
//! A diagnosis is proven when the contrast flips: the handshake fails with the system roots
//! and succeeds with the node's CA (so the node needs that CA where its runtime reads it), or
//! the manifest is refused anonymously and served with the second credential kubelet would try
//! (kubelet's keyring order: `pkg/credentialprovider/keyring.go`,
//! <https://github.com/kubernetes/kubernetes/blob/master/pkg/credentialprovider/keyring.go>).
//! Contrasts run only where their answer can change the verdict, and their requests are
//! counted apart. The trust contrast checks the chain the registry already presented against
//! the system roots, so it costs no connection; a credential the conversation already tried is
//! read from it, not asked again; the rest are named in `skipped_contrasts` with the reason.

use std::time::Instant;

use reqwest::{Method, Url};

use super::challenge::{self, Scheme};
use super::client::{CAP_DOCUMENT, RegistryClient};
use super::documents::MANIFEST_ACCEPT;
use super::model::{Auth, Contrast, ProbeReport, ProbeRequest, Puller, SkippedContrast, StepName};
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
    refused: &[(String, Verdict)],
) {
    let allow_http = req.plain_http || req.trust.plain_http;
    let verifying = !req.insecure_skip_verify && !req.trust.skip_verify;
    if root.scheme() == "https" && verifying && req.trust.has_node_cas() {
        trust_contrast(req, &client.recorder, root, report);
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
        let known = Known { refused };
        credential_contrast(req, client, root, report, deadline, allow_http, known).await;
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
fn trust_contrast(
    req: &ProbeRequest,
    recorder: &super::client::Recorder,
    root: &Url,
    report: &mut ProbeReport,
) {
    // The first request met the TLS handshake, whichever it was.
    let ping = report.steps.first();
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
    // The system roots alone, checked against the chain the registry presented: the verdict
    // a second handshake with only those roots would reach, without a second connection.
    let host = root
        .host_str()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let chain = recorder.chain(&host);
    let checked = super::client::verify_with_system_roots(&host, &chain);
    let untested = matches!(checked, Err(None));
    let failure = match &checked {
        Err(Some(f)) => Some(f.clone()),
        _ => None,
    };
    report.contrasts.push(Contrast {
        trust: "system roots".into(),
        credential: "-".into(),
        works: checked.is_ok(),
        untested,
        cause: failure.as_ref().map(|f| f.cause()),
        detail: match (&checked, &failure) {
            (Ok(()), _) => "the presented chain verifies with the system roots alone".into(),
            (_, Some(f)) => format!("{} (the presented chain, checked offline)", f.describe()),
            _ => "no certificate was presented".into(),
        },
        requests: 0,
    });
}

fn is_tls(step: &super::model::Step) -> bool {
    step.failure.as_ref().is_some_and(|f| f.is_tls())
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    v.dedup();
    v
}

/// What the main conversation already proved about the credentials.
struct Known<'a> {
    /// Credentials it saw refused, with the refusal.
    refused: &'a [(String, Verdict)],
}

/// Each credential in kubelet order: may it read the manifest? Answers the conversation already
/// has are reused; a request is sent only where the answer can change the verdict.
async fn credential_contrast(
    req: &ProbeRequest,
    client: &RegistryClient,
    root: &Url,
    report: &mut ProbeReport,
    deadline: Instant,
    allow_http: bool,
    known: Known<'_>,
) {
    let header = super::session::first_challenge(&report.steps)
        .cloned()
        .unwrap_or_default();
    let challenges = challenge::parse(&header);
    let Some(chosen) = challenge::preferred(&challenges).cloned() else {
        return;
    };
    report.skipped_contrasts.push(SkippedContrast {
        contrast: "anonymous".into(),
        reason: match req.puller {
            Puller::Node => "kubelet pulls anonymously only when no pull secret matches; with a \
                             secret it never falls back, so anonymous access cannot change the \
                             verdict"
                .into(),
            Puller::Ci => "the pull sends the credentials given; anonymous access cannot \
                           change the verdict"
                .into(),
        },
    });
    let used = report.outcome.credential_used.clone();
    let cause = report.outcome.cause;
    for cand in &req.credentials {
        let label = cand.label.clone();
        if let Some((_, v)) = known.refused.iter().find(|(l, _)| *l == label) {
            report.contrasts.push(Contrast {
                trust: "as configured".into(),
                credential: label,
                works: false,
                untested: false,
                cause: v.cause,
                detail: v.detail.clone(),
                requests: 0,
            });
            continue;
        }
        if used.as_deref() == Some(label.as_str()) {
            report.contrasts.push(Contrast {
                trust: "as configured".into(),
                credential: label.clone(),
                works: cause.is_none(),
                untested: false,
                cause,
                detail: match cause {
                    None => format!("{label}: manifest served"),
                    Some(_) => format!("{label}: {}", report.outcome.detail),
                },
                requests: 0,
            });
            continue;
        }
        // kubelet tries the next credential only after a failed pull.
        let skip = match (&used, cause) {
            (Some(u), None) => Some(format!(
                "kubelet stops at the first credential that works ({u})"
            )),
            (_, Some(c)) if !credential_bound(c) => Some(format!(
                "the failure ({}) does not depend on credentials",
                c.id()
            )),
            _ => None,
        };
        if let Some(reason) = skip {
            report.skipped_contrasts.push(SkippedContrast {
                contrast: label,
                reason,
            });
            continue;
        }
        let before = client.requests();
        let mut s = Session::new(req, client, root.clone(), deadline, allow_http);
        let v = access_check(&mut s, &chosen, Some(cand)).await;
        let spent = client.requests() - before;
        report.contrast_requests += spent;
        report.contrasts.push(Contrast {
            trust: "as configured".into(),
            credential: label,
            works: v.cause.is_none(),
            untested: false,
            cause: v.cause,
            detail: v.detail,
            requests: spent,
        });
    }
}

/// Causes another credential could turn around: refusals, and "not found" (which registries
/// answer for a repository the credential may not see).
fn credential_bound(c: Cause) -> bool {
    matches!(
        c.family(),
        crate::taxonomy::Family::Auth | crate::taxonomy::Family::NotFound
    )
}

/// Authenticates with one candidate and asks for the manifest (one `GET`).
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
            StepName::ManifestGet,
            Method::GET,
            url,
            Some(MANIFEST_ACCEPT),
            &granted,
            CAP_DOCUMENT,
        )
        .await
    else {
        return s.unreachable("manifest GET");
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
        st => status_verdict(st, &x, &format!("{who}: manifest GET")),
    }
}
