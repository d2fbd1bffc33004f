//! Pure: an event reason and message become a [`Symptom`]; pasted `kubectl` text becomes one
//! symptom per failing image.
//!
//! Reproduces nothing itself, but reads the wording of everything that reports a pull failure:
//! kubelet's events and waiting messages (`pkg/kubelet/images/image_manager.go`,
//! <https://github.com/kubernetes/kubernetes/tree/master/pkg/kubelet/images>), Docker/dockershim,
//! containerd's resolver (<https://github.com/containerd/containerd/tree/main/core/remotes/docker>)
//! and CRI-O's containers/image. The text is normalised ([`text`]), every known phrase is found
//! in one scan, facts are extracted ([`extract`]), the cause is decided from the inside of the
//! error chain out ([`rules`]), and a sentence of meaning and advice is written ([`advice`]).
//! No I/O; never panics on any input (garbage becomes `unknown`).

mod advice;
mod describe;
mod extract;
mod http;
pub mod policy;
mod rules;
mod text;
mod wrap;

pub use describe::symptoms_from_text;

use crate::registry::ImageRef;
use crate::taxonomy::{Cause, Family, Runtime};
use serde::Serialize;
use text::Scan;

/// What one failure message says: a cause from the taxonomy and the facts the text reveals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Symptom {
    /// The most specific cause the text supports.
    pub cause: Cause,
    /// The family of `cause`.
    pub family: Family,
    /// The runtime whose wording this is.
    pub runtime: Runtime,
    /// The image reference as the message names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Registry host with port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<String>,
    /// Repository path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// Tag or digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    /// The URL that failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// HTTP status the message reports.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Registry error code (`MANIFEST_UNKNOWN`, `DENIED`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The host whose certificate failed (may be the token server, not the registry).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_host: Option<String>,
    /// Names the certificate is valid for, when the message lists them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cert_names: Vec<String>,
    /// The platform asked for, when the message names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// How the connection failed, for network and proxy causes: `timeout`, `refused`,
    /// `no_route`, `reset`, or `dns` (the proxy's name does not resolve).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// The proxy the runtime went through (`host:port` or URL), when the message names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// The event or waiting reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The innermost error the cause was read from (a clause of the message), when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// One sentence: what the message means.
    pub meaning: String,
    /// One sentence: what to check next.
    pub next_step: String,
    /// The raw message (capped at 64 KiB).
    pub message: String,
}

/// Longest `detail` clause kept.
const DETAIL_MAX: usize = 300;

/// Classifies one reason + message.
///
/// The reason is the event's or the waiting state's (`Failed`, `ErrImagePull`, `InspectFailed`,
/// …); it decides only where the message cannot (`ErrImageNeverPull`, `InvalidImageName`, …).
pub fn classify(reason: Option<&str>, message: &str) -> Symptom {
    classify_with_image(reason, message, None)
}

/// Classifies with an image known from elsewhere (the container's `Image:` line in `kubectl
/// describe`), used when the message itself names none.
pub(crate) fn classify_with_image(
    reason: Option<&str>,
    message: &str,
    known_image: Option<&str>,
) -> Symptom {
    let norm = text::normalise(message);
    let t: &str = &norm;
    let scan = Scan::of(t);

    let image = extract::image(t, &scan).or_else(|| known_image.map(str::to_string));
    let parsed = image.as_deref().and_then(|i| ImageRef::parse(i).ok());
    let spans = extract::urls(t);
    let status = extract::http_status(t, &scan);
    let url_registry = spans
        .iter()
        .map(|&(s, e)| &t[s..e])
        .find_map(extract::url_host);
    let registry_for_rules = parsed.as_ref().map(|r| r.registry.clone()).or(url_registry);
    let ctx = rules::Context {
        reason,
        status,
        registry: registry_for_rules.as_deref(),
        repository_not_found: scan
            .has(text::F::NotFound)
            .then(|| extract::repository_not_found(t))
            .flatten(),
        policy: policy::refused(t, &scan, status),
    };
    let (cause, evidence) = rules::decide(&scan, &ctx);
    let url = extract::failed_url(t, &spans, evidence);
    let (cert_host, cert_names) = match cause.family() {
        Family::Tls => extract::certificate(t, &scan, &spans),
        _ => (None, Vec::new()),
    };

    let mut symptom = Symptom {
        cause,
        family: cause.family(),
        runtime: extract::runtime(&scan),
        registry: match &parsed {
            Some(r) => Some(r.registry.clone()),
            None => image
                .as_deref()
                .and_then(extract::host_of_image)
                .or_else(|| url.as_deref().and_then(extract::registry_of_url)),
        },
        repository: parsed.as_ref().map(|r| r.repository.clone()),
        reference: parsed.as_ref().map(|r| r.manifest_reference().to_string()),
        image,
        url,
        status,
        error_code: extract::error_code(&scan).map(str::to_string),
        cert_host,
        cert_names,
        platform: extract::platform(t, &scan),
        connection: matches!(cause, Cause::NetworkUnreachable | Cause::ProxyFailure)
            .then(|| extract::connection(&scan))
            .flatten()
            .map(str::to_string),
        proxy: (cause == Cause::ProxyFailure)
            .then(|| extract::proxy(t, &scan))
            .flatten(),
        reason: reason.map(str::to_string),
        // The registry's policy sentence is its reason, kept whole.
        detail: evidence.map(|at| match cause {
            Cause::RegistryPolicy => clause_max(t, at, policy::SENTENCE_MAX),
            _ => clause(t, at),
        }),
        meaning: String::new(),
        next_step: String::new(),
        message: text::cap(message, text::MAX_ANALYSED).to_string(),
    };
    let lookup = (cause == Cause::DnsFailure)
        .then(|| extract::lookup_host(t))
        .flatten();
    let dial = (cause == Cause::NetworkUnreachable)
        .then(|| extract::dial_target(t))
        .flatten();
    let secrets = if cause == Cause::PullSecretMissing {
        extract::secret_names(t)
    } else {
        Vec::new()
    };
    advice::explain(&mut symptom, lookup.as_deref(), dial.as_deref(), &secrets);
    symptom
}

/// True when the symptom is about a failed image pull at all, so that unrelated events (a
/// `FailedMount` whose secret is "not found", a container's `Error: …`) are dropped.
///
/// A pull-failure reason settles it; otherwise the text must show a pull: kubelet's or a
/// runtime's pull wording, an image, a registry URL or certificate, or one of kubelet's own
/// pull verdicts.
pub fn is_pull_failure(symptom: &Symptom) -> bool {
    const PULL_REASONS: [&str; 8] = [
        "ErrImagePull",
        "ImagePullBackOff",
        "InspectFailed",
        "InvalidImageName",
        "ErrImageNeverPull",
        "FailedToRetrieveImagePullSecret",
        "SignatureValidationFailed",
        "RegistryUnavailable",
    ];
    if let Some(r) = symptom.reason.as_deref()
        && PULL_REASONS.iter().any(|k| r.eq_ignore_ascii_case(k))
    {
        return true;
    }
    let norm = text::normalise(&symptom.message);
    let scan = Scan::of(&norm);
    use text::F;
    let pull_words = scan.has(F::PullWords);
    let context = pull_words
        || [
            F::Docker,
            F::Crio,
            F::Containerd,
            F::NeverPull,
            F::InvalidRef,
            F::PullSecret,
        ]
        .into_iter()
        .any(|f| scan.has(f))
        || symptom.image.is_some()
        || symptom.url.is_some()
        || symptom.cert_host.is_some();
    context && (symptom.cause != Cause::Unknown || pull_words)
}

/// The clause of `t` starting at `at`, cut to a readable length.
fn clause(t: &str, at: usize) -> String {
    clause_max(t, at, DETAIL_MAX)
}

/// The clause of `t` starting at `at`, cut to `max` bytes.
fn clause_max(t: &str, at: usize, max: usize) -> String {
    let mut rest = t.get(at..).unwrap_or("");
    // In a klog/logfmt line the error value ends where the next `key="` attribute begins.
    if let Some(end) = logfmt_end(rest) {
        rest = &rest[..end];
    }
    let cut = text::cap(rest, max);
    let cut = cut.trim_end_matches(['"', ']', ' ', ')']);
    if cut.len() < rest.trim_end_matches(['"', ']', ' ', ')']).len() {
        format!("{cut}…")
    } else {
        cut.to_string()
    }
}

/// Where a quoted logfmt value ends: a `"` followed by ` key=`.
fn logfmt_end(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(rel) = memchr::memmem::find(&b[from..], b"\" ") {
        let q = from + rel;
        let key = &s[q + 2..];
        let word = key.find('=').map(|i| &key[..i]);
        if word.is_some_and(|w| {
            !w.is_empty() && w.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        }) {
            return Some(q);
        }
        from = q + 2;
    }
    None
}

#[cfg(test)]
mod tests;
