//! Evidence → `Verdict`: one cause, a confidence, and the lines behind it.
//!
//! Confidence follows the design: `confirmed` when the probe reproduced the failure,
//! `likely` from text alone, `contradicted` when the registry's answer disagrees with the event
//! (both are stated), `healthy` only with proof (the probe served the image to a scheduled pod,
//! or kubelet pulled it after the failures), `not_checked` otherwise. When the node's failure
//! and the probe's are both real (x509 on the node, a wrong password behind it), the verdict
//! keeps both, in the order they must be fixed. Evidence lines come in the order a person would
//! check them: what Kubernetes said, which credentials the pod carries, what the registry
//! answered, the node.

use serde::Serialize;

use super::evidence::{Evidence, FailureSeen, ProbeFacts, ProbeResult};
use super::fix::fixes_for;
use super::step::Fix;
use super::story::{self, SecondaryCause};
use crate::taxonomy::{Cause, Family};

/// How sure the verdict is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// The probe reproduced the failure.
    Confirmed,
    /// From text (and secrets) alone.
    Likely,
    /// The probe disagrees with the event; the verdict follows the probe.
    Contradicted,
    /// The image is pullable and nothing failed: the probe served it, or kubelet pulled it.
    Healthy,
    /// Nothing failed, and nothing proves the image can be pulled either (not probed, or the
    /// pod not scheduled yet). Not a problem: exit code 0.
    NotChecked,
}

impl Confidence {
    /// The stable id.
    pub fn id(self) -> &'static str {
        match self {
            Confidence::Confirmed => "confirmed",
            Confidence::Likely => "likely",
            Confidence::Contradicted => "contradicted",
            Confidence::Healthy => "healthy",
            Confidence::NotChecked => "not_checked",
        }
    }
}

/// One line of evidence and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EvidenceLine {
    /// `event`, `secret`, `probe`, `node` or `note`.
    pub source: &'static str,
    /// The fact, one line, never a secret.
    pub text: String,
    /// For an event line: the innermost error clause, which a shortened form must keep.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clause: Option<String>,
}

/// The conclusion for one image of one container.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// The image as written.
    pub image: String,
    /// The container, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<super::ContainerInfo>,
    /// The cause (for a healthy image, `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// The cause's family.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family: Option<Family>,
    /// The repository page that explains the cause (`docs/causes/<id>.md`), as every format's
    /// `More:` line names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub docs: Option<String>,
    /// How sure.
    pub confidence: Confidence,
    /// What the event text alone said, when it differs from `cause`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_cause: Option<Cause>,
    /// One sentence: why the pull fails.
    pub summary: String,
    /// The facts behind it, in checking order.
    pub evidence: Vec<EvidenceLine>,
    /// What to change, every cause's steps in the order they must be applied.
    pub fixes: Vec<Fix>,
    /// Problems behind `cause` that are real too, in the order they must be fixed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secondary_causes: Vec<SecondaryCause>,
    /// Each distinct failure kubelet recorded: the one `cause` starts from first, then the
    /// others still recurring, then those that stopped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<FailureSeen>,
    /// Findings about the pull secrets, most important first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub credential_findings: Vec<super::CredentialFinding>,
    /// HTTP requests the probe made, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probe_requests: Option<u32>,
    /// Contrast probes not run because their answer could not change the verdict, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped_contrasts: Vec<crate::registry::SkippedContrast>,
    /// The registry's pull quota as the probe saw it (Docker Hub's `ratelimit-limit`,
    /// `ratelimit-remaining`, `docker-ratelimit-source`), healthy pulls included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_quota: Option<String>,
}

impl Verdict {
    /// True when this verdict reports a problem (exit code 1); `not_checked` is not one.
    pub fn is_problem(&self) -> bool {
        !matches!(
            self.confidence,
            Confidence::Healthy | Confidence::NotChecked
        )
    }
}

/// Draws the verdict for one image.
pub fn diagnose(ev: &Evidence) -> Verdict {
    let text_cause = ev.symptom.as_ref().map(|s| s.cause);
    let (cause, confidence, second) = decide(ev, text_cause);
    let evidence = evidence_lines(ev, cause);
    let summary = match (cause, confidence) {
        (Some(c), _) => summary_for(c, ev),
        (None, Confidence::NotChecked) => story::not_checked_summary(ev),
        (None, _) if matches!(ev.probe, ProbeFacts::Ran(_)) => match trust_skipped(ev) {
            Some(hosts) => {
                format!("The image can be pulled, but only with TLS trust skipped for {hosts}.")
            }
            None if ev.audience == super::Audience::Ci => super::ci_words::PULLABLE.to_string(),
            None => "The image can be pulled with the node's credentials and trust.".to_string(),
        },
        (None, _) => "kubelet pulled the image after the failures; the container runs.".to_string(),
    };
    let mut fixes = cause.map(|c| fixes_for(c, ev)).unwrap_or_default();
    let secondary_causes: Vec<SecondaryCause> = second
        .map(|c| SecondaryCause {
            cause: c,
            family: c.family(),
            confidence: Confidence::Confirmed,
            summary: summary_for(c, ev),
            fixes: fixes_for(c, ev),
        })
        .into_iter()
        .collect();
    for s in &secondary_causes {
        fixes.extend(s.fixes.iter().cloned());
    }
    // The node's mirror that failed, named with the line that set it (`--node-root`).
    let summary = match &ev.probe {
        ProbeFacts::Ran(p) if confidence != Confidence::NotChecked => match &p.node_endpoint {
            Some(e) => format!("{summary} {e}"),
            None => summary,
        },
        _ => summary,
    };
    let summary = match secondary_causes.first() {
        Some(s) => format!("{summary} Behind it, a second problem: {}", s.summary),
        None => summary,
    };
    let (probe_requests, skipped_contrasts, pull_quota) = match &ev.probe {
        ProbeFacts::Ran(p) => (
            Some(p.requests),
            p.skipped_contrasts.clone(),
            p.quota.clone(),
        ),
        _ => (None, Vec::new(), None),
    };
    Verdict {
        image: ev.image.clone(),
        container: ev.container.clone(),
        cause,
        family: cause.map(Cause::family),
        docs: cause.map(Cause::docs_page),
        confidence,
        event_cause: text_cause.filter(|t| Some(*t) != cause),
        summary,
        evidence,
        fixes,
        secondary_causes,
        failures: ev.failures.clone(),
        credential_findings: ev
            .credentials
            .as_ref()
            .map(|c| c.findings.clone())
            .unwrap_or_default(),
        probe_requests,
        skipped_contrasts,
        pull_quota,
    }
}

/// Chooses the cause and confidence from the text cause and the probe, and a second cause
/// when the probe found one behind the node's.
fn decide(ev: &Evidence, text: Option<Cause>) -> (Option<Cause>, Confidence, Option<Cause>) {
    let probe = match &ev.probe {
        ProbeFacts::Ran(p) => Some(p),
        _ => None,
    };
    // Nothing says the image fails, nor could: a valid reference not probed, a container with
    // no failure and no proof.
    let nothing_failed = ev.healthy || (ev.container.is_none() && ev.image_ref.is_some());
    let (cause, confidence) = match (text, probe) {
        // kubelet's own pull after the failures is proof.
        (None, None) if ev.healthy && ev.pulled.is_some() => (None, Confidence::Healthy),
        (None, None) if nothing_failed => (None, Confidence::NotChecked),
        // The registry serves the image, but no node has asked yet.
        (None, Some(p)) if p.cause.is_none() && ev.unscheduled && ev.container.is_some() => {
            (None, Confidence::NotChecked)
        }
        (None, Some(p)) if p.cause.is_none() => (None, Confidence::Healthy),
        // No event text: the probe alone speaks (the `image` command, or expired events).
        (None, Some(p)) => (p.cause, Confidence::Confirmed),
        (None, None) => (
            Some(refine_without_probe(ev, Cause::Unknown)),
            Confidence::Likely,
        ),
        (Some(t), None) => (Some(refine_without_probe(ev, t)), Confidence::Likely),
        (Some(t), Some(p)) => {
            if let Some(probed) = p.cause.filter(|c| story::both_real(t, *c)) {
                let proven = t.family() == Family::Tls && p.works_with_supplied_ca == Some(true);
                let confidence = if proven {
                    Confidence::Confirmed
                } else {
                    Confidence::Likely
                };
                return (Some(t), confidence, Some(probed));
            }
            with_probe(t, p)
        }
    };
    (cause, confidence, None)
}

/// Text and probe together.
fn with_probe(text: Cause, p: &ProbeResult) -> (Option<Cause>, Confidence) {
    if story::node_side(text) {
        // The node's own file, read with `--node-root`, proves a node-side cause.
        let proven = p.cause == Some(text) && p.node_edit.is_some();
        let confidence = if proven {
            Confidence::Confirmed
        } else {
            Confidence::Likely
        };
        return (Some(text), confidence);
    }
    match p.cause {
        // The node's trust fails where the supplied CA succeeds: the CA is missing on the node.
        None if text.family() == Family::Tls && p.works_with_supplied_ca == Some(true) => {
            (Some(text), Confidence::Confirmed)
        }
        // The registry serves the image now: the failure is stale or intermittent.
        None => (Some(text), Confidence::Contradicted),
        Some(probed) if probed == text => (Some(text), Confidence::Confirmed),
        Some(probed) if settles(text, probed) => (Some(probed), Confidence::Confirmed),
        // The registry's answer is the vaguer one (a 401 that may hide a missing repository):
        // it agrees with the text, which stays the more precise statement.
        Some(probed) if probed != Cause::Unknown && settles(probed, text) => {
            (Some(text), Confidence::Confirmed)
        }
        // The probe could not tell: the text stands, unproven.
        Some(Cause::Unknown) => (Some(text), Confidence::Likely),
        // The probe could not reach the registry the node reached: it cannot speak to the rest.
        Some(probed) if story::probe_fell_short(text, probed) => (Some(text), Confidence::Likely),
        Some(probed) => (Some(probed), Confidence::Contradicted),
    }
}

/// True when `probed` is one of the answers the ambiguous `text` cause allowed.
fn settles(text: Cause, probed: Cause) -> bool {
    match text {
        Cause::AuthOrNotFound => matches!(
            probed,
            Cause::AuthRequired
                | Cause::AuthInvalidCredentials
                | Cause::AuthForbidden
                | Cause::NotFoundRepo
                | Cause::NotFoundTag
        ),
        Cause::NotFound => matches!(probed, Cause::NotFoundRepo | Cause::NotFoundTag),
        Cause::Unknown => true,
        // The same failure seen at a finer grain ("unauthorized" text, wrong password probed).
        Cause::AuthRequired => probed == Cause::AuthInvalidCredentials,
        Cause::NetworkUnreachable => probed == Cause::DnsFailure,
        _ => false,
    }
}

/// Without a probe, secrets can still sharpen an ambiguous auth text.
fn refine_without_probe(ev: &Evidence, text: Cause) -> Cause {
    let Some(creds) = &ev.credentials else {
        return text;
    };
    let secret_missing = creds.findings.iter().any(|f| f.id == "secret_not_found");
    match text {
        Cause::AuthOrNotFound | Cause::Unknown if creds.anonymous && !creds.findings.is_empty() => {
            Cause::AuthRequired
        }
        Cause::Unknown if secret_missing => Cause::PullSecretMissing,
        other => other,
    }
}

/// The facts, in the order a person would check them.
fn evidence_lines(ev: &Evidence, cause: Option<Cause>) -> Vec<EvidenceLine> {
    let mut out = story::event_lines(ev);
    let mut push = |source: &'static str, text: String| {
        out.push(EvidenceLine {
            source,
            text,
            clause: None,
        })
    };
    if let Some(c) = &ev.credentials {
        if c.tried.is_empty() && ev.target.kind.is_empty() {
            push(
                "secret",
                format!("no credentials for {}: the pull is anonymous", c.server_key),
            );
        } else if c.tried.is_empty() {
            push(
                "secret",
                format!(
                    "no pull secret matches {}: kubelet pulls anonymously",
                    c.server_key
                ),
            );
        }
        for t in &c.tried {
            push(
                "secret",
                format!(
                    "{} {} (key {}, user {})",
                    match ev.audience {
                        super::Audience::Cluster => "kubelet would try",
                        super::Audience::Ci => "pulldoctor tries the credentials from",
                    },
                    t.source,
                    t.key,
                    t.username
                ),
            );
        }
        for f in &c.findings {
            push("secret", f.message.clone());
        }
    }
    match &ev.probe {
        ProbeFacts::Off => push("note", "registry not probed (--no-probe)".to_string()),
        ProbeFacts::NotRun(why) => push("note", format!("registry not probed: {why}")),
        ProbeFacts::Ran(p) => {
            for s in &p.steps {
                push("probe", s.clone());
            }
            if let Some(text) = story::ca_line(ev, p) {
                push("probe", text);
            }
            if let Some(q) = &p.quota {
                push("probe", q.clone());
            }
            if let Some(w) = &p.working_credential {
                push(
                    "probe",
                    format!("credentials from {w} are accepted by the registry"),
                );
            }
            if cause == Some(Cause::NotFoundTag) && !p.tags.is_empty() {
                push("probe", format!("tags present: {}", preview(&p.tags, 10)));
            }
            if cause == Some(Cause::PlatformMismatch) && !p.platforms.is_empty() {
                push(
                    "probe",
                    format!(
                        "image offers {}; {} {}",
                        p.platforms.join(", "),
                        match ev.audience {
                            super::Audience::Cluster => "node needs",
                            super::Audience::Ci => "--platform asks for",
                        },
                        p.platform
                    ),
                );
            }
            for f in &p.flags {
                push("note", f.clone());
            }
        }
    }
    if let Some(n) = &ev.node {
        push(
            "node",
            format!(
                "node {} runs {} ({})",
                n.name, n.runtime_version, n.platform
            ),
        );
    }
    if ev.healthy && cause.is_some() {
        push(
            "note",
            "the container runs (its image is already on the node), but a new pull would fail: the next reschedule or node change will hit this".to_string(),
        );
    }
    if ev.unscheduled && ev.container.is_some() {
        push(
            "note",
            "the pod is not scheduled on a node yet: no pull has been tried; a probe runs from here, without the node's platform, trust or network".to_string(),
        );
    }
    for u in &ev.unreadable {
        push("note", format!("could not read {u}"));
    }
    out
}

/// The hosts reached without TLS trust, when the probe relied on any (`a, b`).
fn trust_skipped(ev: &Evidence) -> Option<String> {
    let ProbeFacts::Ran(p) = &ev.probe else {
        return None;
    };
    let hosts: Vec<String> = p
        .insecure
        .iter()
        .filter(|t| t.used)
        .map(|t| format!("{} ({})", t.host, t.by))
        .collect();
    (!hosts.is_empty()).then(|| hosts.join(", "))
}

fn preview(items: &[String], n: usize) -> String {
    let mut s = items.iter().take(n).cloned().collect::<Vec<_>>().join(", ");
    if items.len() > n {
        s.push_str(&format!(" (+{} more)", items.len() - n));
    }
    s
}

/// One sentence on why the pull fails, naming this case's registry and image.
fn summary_for(cause: Cause, ev: &Evidence) -> String {
    let said = sentence_for(cause, ev);
    // A sentence that opens with the registry it could not name opens with a capital.
    match said.strip_prefix("the registry") {
        Some(rest) => format!("The registry{rest}"),
        None => said,
    }
}

/// The summary sentence; it may open with the registry's name, written as the image has it.
fn sentence_for(cause: Cause, ev: &Evidence) -> String {
    let registry = ev
        .image_ref
        .as_ref()
        .map(|r| r.registry.clone())
        .unwrap_or_else(|| "the registry".to_string());
    let tag = ev
        .image_ref
        .as_ref()
        .map(|r| r.manifest_reference().to_string())
        .unwrap_or_default();
    if ev.audience == super::Audience::Ci
        && let Some(s) = super::ci_words::summary(cause, ev, &registry)
    {
        return s;
    }
    match cause {
        Cause::TlsUnknownAuthority => {
            format!("The node does not trust the CA that signed {registry}'s certificate.")
        }
        Cause::TlsHostnameMismatch => {
            format!("{registry}'s certificate is not valid for the name the image uses.")
        }
        Cause::TlsExpired => format!("{registry}'s certificate has expired or is not yet valid."),
        Cause::HttpToHttps => {
            format!("{registry} speaks plain HTTP, but the node's runtime connects with HTTPS.")
        }
        Cause::AuthRequired => match ev
            .credentials
            .as_ref()
            .and_then(|c| c.unreferenced_match.clone())
        {
            Some(s) => format!(
                "{registry} requires credentials; secret {s} has them but the pod does not reference it."
            ),
            None => format!("{registry} requires credentials and the pull sends none that match."),
        },
        Cause::AuthInvalidCredentials => {
            format!("{registry} rejects the username or password in the pull secret.")
        }
        Cause::AuthForbidden => format!(
            "The credentials are valid but not allowed to pull this repository from {registry}."
        ),
        Cause::AuthOrNotFound => format!(
            "{registry} refused the pull: either credentials are missing or the repository does not exist."
        ),
        Cause::NotFoundTag => format!("The repository exists on {registry} but has no {tag}."),
        Cause::NotFoundRepo => format!("{registry} has no such repository."),
        Cause::NotFound => format!("{registry} has no such image."),
        Cause::PlatformMismatch => {
            "The image has no variant for the node's OS and architecture.".to_string()
        }
        Cause::RateLimited => format!("{registry} is rate limiting pulls."),
        Cause::DnsFailure => format!("The node cannot resolve {registry}."),
        Cause::NetworkUnreachable => format!("The node cannot connect to {registry}."),
        Cause::ProxyFailure => format!(
            "The node's runtime cannot reach {registry} through its proxy: the proxy setting is wrong or the proxy refuses."
        ),
        Cause::InvalidReference => "The image reference is not valid.".to_string(),
        Cause::NeverPull => {
            "imagePullPolicy is Never and the image is not on the node.".to_string()
        }
        Cause::SignatureFailed => "The image failed a signature or policy check.".to_string(),
        Cause::RegistryBlocked => {
            format!("The node's runtime is configured never to pull from {registry}.")
        }
        Cause::RegistryPolicy => format!(
            "{registry} refuses to serve the image by its own policy: the image exists and the pull is allowed, but the registry's policy forbids it."
        ),
        Cause::PullSecretMissing => "A pull secret the pod names could not be read.".to_string(),
        Cause::DiskFull => "The node has no room left to store the image.".to_string(),
        Cause::RegistryServerError => format!("{registry} answered with a server error."),
        Cause::Unknown => {
            "The failure does not match any known cause; the raw message follows.".to_string()
        }
    }
}

#[cfg(test)]
#[path = "verdict_tests.rs"]
mod tests;
