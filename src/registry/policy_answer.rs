//! A 412 on the manifest, read for a registry refusing the image by its own policy.
//!
//! Harbor answers a pull its project forbids (vulnerabilities above the allowed severity, no
//! finished scan, no required signature) with `412 Precondition Failed` and a distribution
//! error body whose code is `PROJECTPOLICYVIOLATION` (`src/lib/http/error.go`,
//! <https://github.com/goharbor/harbor/blob/main/src/lib/http/error.go>). Another registry's
//! 412 counts only when its error message says policy; a 412 that says nothing of the kind
//! stays an unexpected status, claimed as nothing. The registry's sentence is quoted whole:
//! it names the setting that refuses the image.

use super::dialect::Dialect;
use super::error_body;
use super::session::Verdict;
use crate::classify::policy::{SENTENCE_MAX, says_refused};
use crate::taxonomy::Cause;

/// Harbor's error code for a pull its project's policy forbids.
const HARBOR_CODE: &str = "PROJECTPOLICYVIOLATION";

/// The verdict for a 412 answer whose body says the registry's policy refuses the pull;
/// `None` when it does not.
pub fn refusal(dialect: Dialect, image: &str, body: &[u8]) -> Option<Verdict> {
    let words = error_body::read_distribution(body, SENTENCE_MAX)?;
    let code = words.code.as_deref().unwrap_or("");
    if code != HARBOR_CODE && !says_refused(&words.message) {
        return None;
    }
    let who = if dialect == Dialect::Harbor || code == HARBOR_CODE {
        "Harbor"
    } else {
        "the registry"
    };
    let answer = if code.is_empty() {
        "412".to_string()
    } else {
        format!("412 {code}")
    };
    Some(Verdict::cause(
        Cause::RegistryPolicy,
        format!(
            "{who} refuses to serve {image} by its own policy ({answer}): \"{}\"; the image exists and the pull was authorised",
            words.message
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HARBOR: &[u8] = br#"{"errors":[{"code":"PROJECTPOLICYVIOLATION","message":"The image is not signed by cosign."}]}"#;

    #[test]
    fn harbor_code_is_a_policy_refusal_quoted_whole() {
        let v = refusal(Dialect::Distribution, "h.test/p/a:1", HARBOR).unwrap();
        assert_eq!(v.cause, Some(Cause::RegistryPolicy));
        assert!(v.detail.starts_with("Harbor refuses"), "{}", v.detail);
        assert!(v.detail.contains("\"The image is not signed by cosign.\""));
        let long = format!(
            r#"{{"errors":[{{"code":"PROJECTPOLICYVIOLATION","message":"current image with 3 vulnerabilities cannot be pulled due to configured policy in 'x'. {}"}}]}}"#,
            "y".repeat(400)
        );
        let v = refusal(Dialect::Harbor, "h.test/p/a:1", long.as_bytes()).unwrap();
        assert!(v.detail.contains(&"y".repeat(400)), "cut: {}", v.detail);
    }

    #[test]
    fn a_412_without_a_policy_body_is_no_policy_refusal() {
        assert!(refusal(Dialect::Harbor, "h.test/p/a:1", b"").is_none());
        let other = br#"{"errors":[{"code":"UNKNOWN","message":"precondition failed"}]}"#;
        assert!(refusal(Dialect::Distribution, "h.test/p/a:1", other).is_none());
        let generic = br#"{"errors":[{"code":"DENIED","message":"pull blocked by the registry's quarantine policy"}]}"#;
        let v = refusal(Dialect::Distribution, "h.test/p/a:1", generic).unwrap();
        assert!(v.detail.starts_with("the registry refuses"), "{}", v.detail);
    }
}
