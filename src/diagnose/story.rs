//! Pure: the parts of a verdict that tell the story around its cause — what kubelet kept
//! reporting (every distinct failure, counted and dated, the whole message kept), whether the
//! pod recovered, what the supplied CA proves, why an image was not checked, and when the
//! event's cause and the probe's are both real (a [`SecondaryCause`], its fixes in order).
//!
//! A pull walks one road: name resolution and connection, then TLS, then authentication, then
//! the manifest. A node stuck at an early stage cannot see what waits further on; a probe that
//! gets further (with `--ca-file`, or from a vantage that resolves the name) can. When the node
//! fails earlier on the road than the probe, both failures are real, and they must be fixed in
//! road order.

use super::evidence::{Evidence, ProbeFacts, ProbeResult};
use serde::Serialize;

use super::step::Fix;
use super::verdict::{Confidence, EvidenceLine, Verdict};
use crate::classify::Symptom;
use crate::taxonomy::{Cause, Family};

/// How far along a pull's road a cause stops it: 0 before a connection, 1 at TLS or the
/// protocol, 2 once the registry answers.
fn stage(c: Cause) -> u8 {
    match c.family() {
        Family::Network => 0,
        Family::Tls | Family::Protocol => 1,
        _ => 2,
    }
}

/// True when the node's failure (`text`) stops it earlier on the road than the registry's
/// answer to the probe (`probed`): the node must clear its own stage first, then meet `probed`.
pub(super) fn both_real(text: Cause, probed: Cause) -> bool {
    probed != Cause::Unknown && stage(text) < 2 && stage(text) < stage(probed)
}

/// True when the probe stopped earlier on the road than the node did: from here the registry
/// could not be reached, so the probe cannot speak to what the node met further on.
pub(super) fn probe_fell_short(text: Cause, probed: Cause) -> bool {
    stage(probed) == 0 && stage(text) > 0 && !node_side(text)
}

/// Causes the registry cannot see: the node or the pod spec decides them. The runtime's proxy
/// is the node's too: a probe that does not go through it cannot contradict it. A registry's
/// own policy (`registry_policy`) is not: the registry says it, and the probe reads it.
pub(super) fn node_side(c: Cause) -> bool {
    matches!(
        c,
        Cause::NeverPull
            | Cause::DiskFull
            | Cause::PullSecretMissing
            | Cause::InvalidReference
            | Cause::SignatureFailed
            | Cause::RegistryBlocked
            | Cause::ProxyFailure
    )
}

fn line(source: &'static str, text: String, clause: Option<String>) -> EvidenceLine {
    EvidenceLine {
        source,
        text,
        clause,
    }
}

/// A message on one line, every word kept.
fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What kubelet reported: the failure the verdict starts from (whole message, with its count
/// and age), the other failures still recurring, the ones that stopped, and a later pull.
pub(super) fn event_lines(ev: &Evidence) -> Vec<EvidenceLine> {
    let mut out = Vec::new();
    if let Some(s) = &ev.symptom {
        out.push(event_line(s, ev));
    }
    let primary = ev.symptom.as_ref().map(|s| s.cause);
    for f in ev.failures.iter().filter(|f| Some(f.cause) != primary) {
        let reason = f.reason.as_deref().unwrap_or("message");
        if f.recurring {
            out.push(line(
                "event",
                format!(
                    "also recurring, {} ({}): {reason}: {}",
                    f.cause,
                    f.seen,
                    one_line(&f.message)
                ),
                f.detail.clone(),
            ));
        } else {
            out.push(line(
                "note",
                format!(
                    "no longer recurring, {} ({}): {reason}: {}",
                    f.cause,
                    f.seen,
                    one_line(&f.message)
                ),
                f.detail.clone(),
            ));
        }
    }
    if let Some(p) = &ev.pulled {
        out.push(line(
            "event",
            format!("kubelet pulled the image after those failures: {p}"),
            None,
        ));
    }
    out
}

fn event_line(s: &Symptom, ev: &Evidence) -> EvidenceLine {
    let reason = s.reason.as_deref().unwrap_or("message");
    let seen = ev
        .failures
        .iter()
        .find(|f| f.recurring && f.cause == s.cause)
        .map(|f| format!(" ({})", f.seen))
        .unwrap_or_default();
    line(
        "event",
        format!("{reason}{seen}: {}", one_line(&s.message)),
        s.detail.clone(),
    )
}

/// What the supplied CA proves, in plain words: it is the CA the registry should be trusted
/// with (or is not), and whether the node has it, as far as its events tell.
pub(super) fn ca_line(ev: &Evidence, p: &ProbeResult) -> Option<String> {
    let works = p.works_with_supplied_ca?;
    let files = if p.supplied_ca.is_empty() {
        "the supplied CA".to_string()
    } else {
        p.supplied_ca.join(", ")
    };
    if !works {
        return Some(format!(
            "the supplied CA does not verify the registry's certificate either: {files} is not the CA the registry's certificate chains to"
        ));
    }
    let trust = format!(
        "with the supplied CA the registry's certificate verifies, and with the system roots alone it does not: {files} is the CA the registry should be trusted with"
    );
    let node_copy = p.supplied_ca.iter().all(|c| c.ends_with("certs.d copy"));
    // The node's own story: its recurring failures, else the one message the verdict has.
    let tls_failing = if ev.failures.is_empty() {
        ev.symptom.as_ref().is_some_and(|s| s.family == Family::Tls)
    } else {
        ev.failures
            .iter()
            .any(|f| f.recurring && f.cause.family() == Family::Tls)
    };
    let node = if ev.container.is_none() {
        return Some(trust);
    } else if tls_failing && node_copy {
        "the node has that file, yet its pulls fail the TLS check: its runtime does not read it (containerd's config_path, the directory name and port)".to_string()
    } else if tls_failing {
        "the node does not have it: its pulls fail the TLS check".to_string()
    } else if let Some(f) = ev.failures.iter().find(|f| f.recurring) {
        format!(
            "the node has it: its pulls get past TLS and fail later ({})",
            f.cause
        )
    } else {
        "whether the node has it is not known: no recent pull failure says".to_string()
    };
    Some(format!("{trust}; {node}"))
}

/// Why an image is not checked, one clause.
pub(super) fn not_checked_why(ev: &Evidence) -> String {
    let probe = match &ev.probe {
        ProbeFacts::Off => Some("the registry was not probed (--no-probe)".to_string()),
        ProbeFacts::NotRun(why) => Some(format!("the registry was not probed: {why}")),
        ProbeFacts::Ran(_) => None,
    };
    if ev.unscheduled && ev.container.is_some() {
        let node = "the pod is not scheduled on a node yet, so nothing has tried to pull the image";
        return match (probe, &ev.probe) {
            (Some(p), _) => format!("{node}, and {p}"),
            (None, ProbeFacts::Ran(r)) => format!(
                "{node}; from here the registry serves it for {}, but the node that will pull it (its platform, trust and network) is not known yet",
                r.platform
            ),
            (None, _) => node.to_string(),
        };
    }
    probe.unwrap_or_else(|| "nothing proves the image can be pulled".to_string())
}

/// The sentence of a verdict that proves nothing either way.
pub(super) fn not_checked_summary(ev: &Evidence) -> String {
    let why = not_checked_why(ev);
    if ev.container.is_none() {
        format!("The reference is valid; whether it can be pulled is not checked: {why}.")
    } else if ev.healthy && !ev.failures.is_empty() {
        format!(
            "The container recovered from earlier pull failures; whether a new pull works is not checked: {why}."
        )
    } else {
        format!("Not checked: {why}.")
    }
}

/// A second problem behind the verdict's cause, to fix after it.
#[derive(Debug, Clone, Serialize)]
pub struct SecondaryCause {
    /// The cause.
    pub cause: Cause,
    /// Its family.
    pub family: Family,
    /// How sure.
    pub confidence: Confidence,
    /// One sentence: why it will fail next.
    pub summary: String,
    /// What to change for it (also listed, in order, in the verdict's `fixes`).
    pub fixes: Vec<Fix>,
}

/// The fixes for one cause of a verdict, in the order the causes must be mended.
#[derive(Debug, Clone, Copy)]
pub struct FixSection<'a> {
    /// `First` or `Then` when the verdict has more than one cause to mend; `None` otherwise.
    pub when: Option<&'static str>,
    /// The cause these steps mend.
    pub cause: Option<Cause>,
    /// The steps.
    pub fixes: &'a [Fix],
}

impl Verdict {
    /// The fixes in sections, one per cause, in the order they must be applied.
    pub fn fix_sections(&self) -> Vec<FixSection<'_>> {
        let later: usize = self.secondary_causes.iter().map(|s| s.fixes.len()).sum();
        let first = self.fixes.len().saturating_sub(later);
        let mut parts = vec![(self.cause, &self.fixes[..first])];
        let mut at = first;
        for s in &self.secondary_causes {
            let end = (at + s.fixes.len()).min(self.fixes.len());
            parts.push((Some(s.cause), &self.fixes[at..end]));
            at = end;
        }
        let several = parts.len() > 1;
        parts
            .into_iter()
            .enumerate()
            .map(|(n, (cause, fixes))| FixSection {
                when: several.then_some(if n == 0 { "First" } else { "Then" }),
                cause,
                fixes,
            })
            .collect()
    }
}
