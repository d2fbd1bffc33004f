//! Pure: a registry refusing to serve an image by its own policy, read from its words.
//!
//! Harbor answers a pull its project's policy forbids with 412 Precondition Failed and the
//! code `PROJECTPOLICYVIOLATION` (`src/lib/http/error.go`,
//! <https://github.com/goharbor/harbor/blob/main/src/lib/http/error.go>). The vulnerability
//! policy says `current image with N vulnerabilities cannot be pulled due to configured policy
//! in 'Prevent images with vulnerability severity of "High" or higher from running.' …`, or
//! `current image without vulnerability scanning …` before a scan
//! (`src/server/middleware/vulnerable/`); content trust says `The image is not signed by
//! cosign.` / `… by notation.` (`… in Notary.` in older releases). Runtimes pass the message on
//! after the distribution code they could not name, `unknown`: containerd as `412 Precondition
//! Failed - Server message: unknown: …`, Docker as `Error response from daemon: unknown: …`.
//! The registry's sentence is kept whole: it names the setting that refuses the image, which
//! is what the fix changes. The image exists and the credentials were accepted, so this is
//! neither an auth nor a not-found answer.

use super::text::{F, Scan, ends_with_ci, find_ci};

/// Longest policy sentence kept (Harbor's run to about 300 characters).
pub const SENTENCE_MAX: usize = 1000;

/// What the registry's policy holds against the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objection {
    /// Vulnerabilities at or above the severity the policy allows.
    Vulnerable,
    /// No finished vulnerability scan (none yet, or still pending), or no scanner at all.
    NotScanned,
    /// No signature of the kind the policy requires (`cosign`, `notation`, `Notary`).
    Unsigned(Option<&'static str>),
    /// The words say policy but not which.
    Other,
}

/// A registry's policy refusal, read from its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub objection: Objection,
    /// The words are Harbor's (its error code or its policy sentences).
    pub harbor: bool,
}

/// Where the text shows a registry's policy refusing the image: the start of the registry's
/// sentence. `None` for a 412 that does not say policy: that stays what it was.
pub(super) fn refused(t: &str, scan: &Scan, status: Option<u16>) -> Option<usize> {
    let precondition = status == Some(412) || scan.has(F::Precondition);
    let phrase = if scan.has(F::PolicyViolation) {
        scan.first(F::PolicyViolation)
    } else if scan.has(F::NotSigned) {
        // A bare "not signed" is the registry's only when it came as the registry's answer:
        // with the 412, or after the distribution code a runtime printed (`unknown: `).
        let at = scan.first(F::NotSigned)?;
        let start = sentence_start(t, at);
        (precondition || ends_with_ci(&t[..start], "unknown: ")).then_some(at)
    } else if precondition {
        scan.first(F::PolicyWords)
    } else {
        None
    }?;
    Some(sentence_start(t, phrase))
}

/// The start of the clause holding `at`: just after the last `: ` before it.
fn sentence_start(t: &str, at: usize) -> usize {
    t.get(..at)
        .and_then(|head| head.rfind(": "))
        .map(|i| i + 2)
        .unwrap_or(0)
}

/// True when a registry's error message says its policy refuses the pull.
pub fn says_refused(message: &str) -> bool {
    ["policy", "not signed", "vulnerab"]
        .iter()
        .any(|w| find_ci(message, w).is_some())
}

/// What a policy refusal objects to, and whether the words are Harbor's.
pub fn reading(text: &str) -> Refusal {
    let has = |w: &str| find_ci(text, w).is_some();
    let harbor = has("projectpolicyviolation")
        || has("due to configured policy")
        || has("image is not signed");
    let objection = if has("not signed") {
        let tool = ["cosign", "notation", "notary"].into_iter().find(|t| {
            find_ci(text, &format!("signed by {t}")).is_some() || has(&format!("signed in {t}"))
        });
        Objection::Unsigned(tool.map(|t| match t {
            "cosign" => "cosign",
            "notation" => "notation",
            _ => "Notary",
        }))
    } else if has("without vulnerability scanning")
        || has("status of vulnerability scanning")
        || has("no scanner")
    {
        Objection::NotScanned
    } else if has("vulnerab") {
        Objection::Vulnerable
    } else {
        Objection::Other
    };
    Refusal { objection, harbor }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: &str) -> Option<&str> {
        let scan = Scan::of(t);
        let status = super::super::extract::http_status(t, &scan);
        refused(t, &scan, status).map(|i| &t[i..])
    }

    #[test]
    fn the_registry_sentence_starts_after_its_code() {
        let t = "failed open: unexpected status code https://h.test/v2/a/manifests/1: 412 Precondition Failed - Server message: unknown: current image with 3 vulnerabilities cannot be pulled due to configured policy in 'Prevent images with vulnerability severity of \"High\" or higher from running.'";
        assert!(
            at(t)
                .unwrap()
                .starts_with("current image with 3 vulnerabilities")
        );
        let t = "Error response from daemon: unknown: The image is not signed in Notary.";
        assert_eq!(at(t), Some("The image is not signed in Notary."));
    }

    #[test]
    fn a_412_or_not_signed_alone_is_no_policy() {
        assert_eq!(
            at(
                "unexpected status from HEAD request to https://h.test/v2/a/manifests/1: 412 Precondition Failed"
            ),
            None
        );
        // Not the registry's answer: no 412 and no distribution code before it.
        assert_eq!(at("cosign verify: the image is not signed"), None);
    }

    #[test]
    fn objections_and_harbor_are_read_from_the_words() {
        let r = reading(
            "current image with 77 vulnerabilities cannot be pulled due to configured policy",
        );
        assert_eq!(
            r,
            Refusal {
                objection: Objection::Vulnerable,
                harbor: true
            }
        );
        let r = reading("The image is not signed by cosign.");
        assert_eq!(r.objection, Objection::Unsigned(Some("cosign")));
        let r = reading(
            "current image without vulnerability scanning cannot be pulled due to configured policy",
        );
        assert_eq!(r.objection, Objection::NotScanned);
        let r = reading("pull refused by the registry's policy");
        assert_eq!(
            r,
            Refusal {
                objection: Objection::Other,
                harbor: false
            }
        );
        assert!(says_refused("pull refused by policy"));
        assert!(!says_refused("precondition failed"));
    }
}
