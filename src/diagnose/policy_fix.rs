//! Pure: the fix for a registry that refuses an image by its own policy (`registry_policy`).
//!
//! The image exists and the pull is allowed, so nothing on the node or in the pull secret
//! changes it: the image's owner changes the image (rebuild or patch it, scan it, sign it), or
//! the project's administrator changes the policy or exempts the image. Harbor's settings are
//! named only when the registry's words are Harbor's (its `PROJECTPOLICYVIOLATION` code or its
//! policy sentences, read by `classify::policy`); any other registry gets the generic words.
//! Harbor's project settings: "Prevent vulnerable images from running" with its severity, the
//! project's CVE allowlist, and content trust ("Enforce content trust" / cosign / notation)
//! (<https://goharbor.io/docs/main/working-with-projects/project-configuration/>).

use super::evidence::{Audience, Evidence, ProbeFacts};
use super::names::{inert, registry_shown};
use super::step::{Fix, note};
use crate::classify::policy::{Objection, reading};
use crate::taxonomy::Cause;

/// The steps for `registry_policy`.
pub fn fixes(ev: &Evidence) -> Vec<Fix> {
    let words = refusal_words(ev);
    let r = reading(&words);
    let image = inert(&ev.image);
    let registry = registry_shown(ev);
    let unchanged = match ev.audience {
        Audience::Cluster => "The credentials work: no node, pull-secret or runtime change helps.",
        Audience::Ci => {
            "The credentials work: no --creds, --authfile or trust flag of this check changes the answer."
        }
    };
    if !r.harbor {
        let what = match r.objection {
            Objection::Vulnerable | Objection::NotScanned => {
                "rebuild or patch the image so it passes the registry's vulnerability policy"
            }
            Objection::Unsigned(_) => "sign the image the way the registry's policy requires",
            Objection::Other => "change the image so it satisfies the registry's policy",
        };
        return vec![note(format!(
            "{registry} refuses {image} by the registry's policy. Either {what}, or ask the registry's administrator to exempt the image or change the policy. {unchanged}"
        ))];
    }
    let project = ev
        .image_ref
        .as_ref()
        .and_then(|r| r.repository.split('/').next().map(str::to_string))
        .map(|p| format!("project {}", inert(&p)))
        .unwrap_or_else(|| "the image's project".to_string());
    let (owner, admin) = match r.objection {
        Objection::Vulnerable => (
            format!(
                "Rebuild or patch {image} (newer base image and packages) until its vulnerabilities are below the severity {project} allows, and push it again."
            ),
            format!(
                "Or a Harbor administrator of {project} adds the reported CVEs to the project's CVE allowlist, or changes \"Prevent vulnerable images from running\" (or its severity) in the project's Configuration."
            ),
        ),
        Objection::NotScanned => (
            format!(
                "Scan {image} in Harbor (or wait for its scan to finish); {project} refuses images without a finished vulnerability scan."
            ),
            format!(
                "Or a Harbor administrator of {project} makes sure a scanner is configured, or changes \"Prevent vulnerable images from running\" in the project's Configuration."
            ),
        ),
        Objection::Unsigned(tool) => {
            let with = match tool {
                Some("cosign") => "with cosign (`cosign sign`)".to_string(),
                Some("notation") => "with notation (`notation sign`)".to_string(),
                Some(t) => format!("with {t}"),
                None => "with cosign or notation, as the project requires".to_string(),
            };
            (
                format!(
                    "Sign {image} {with} and push the signature to Harbor next to it: {project} enforces content trust."
                ),
                format!(
                    "Or a Harbor administrator of {project} changes \"Enforce content trust\" (cosign / notation) in the project's Configuration."
                ),
            )
        }
        Objection::Other => (
            format!("Change {image} so it satisfies {project}'s policy in Harbor."),
            format!(
                "Or a Harbor administrator of {project} exempts the image or changes the policy in the project's Configuration."
            ),
        ),
    };
    vec![note(owner), note(format!("{admin} {unchanged}"))]
}

/// The registry's own words: the probe's conclusion when it met the refusal, else the event.
fn refusal_words(ev: &Evidence) -> String {
    if let ProbeFacts::Ran(p) = &ev.probe
        && p.cause == Some(Cause::RegistryPolicy)
    {
        return p.detail.clone();
    }
    ev.symptom
        .as_ref()
        .map(|s| s.message.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnose::ProbeResult;

    fn probed(detail: &str, audience: Audience) -> Evidence {
        Evidence {
            image: "h.test/shop/app:1".to_string(),
            image_ref: crate::registry::ImageRef::parse("h.test/shop/app:1").ok(),
            probe: ProbeFacts::Ran(ProbeResult {
                cause: Some(Cause::RegistryPolicy),
                detail: detail.to_string(),
                ..ProbeResult::default()
            }),
            audience,
            ..Evidence::default()
        }
    }

    fn text(fixes: &[Fix]) -> String {
        fixes
            .iter()
            .map(|f| f.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn harbor_is_named_only_for_harbors_words() {
        let harbor = text(&fixes(&probed(
            "Harbor refuses to serve h.test/shop/app:1 by its own policy (412 PROJECTPOLICYVIOLATION): \"current image with 3 vulnerabilities cannot be pulled due to configured policy in 'x'\"",
            Audience::Cluster,
        )));
        assert!(harbor.contains("CVE allowlist"), "{harbor}");
        assert!(
            harbor.contains("Prevent vulnerable images from running"),
            "{harbor}"
        );
        assert!(harbor.contains("project shop"), "{harbor}");
        let other = text(&fixes(&probed(
            "the registry refuses to serve h.test/shop/app:1 by its own policy (412 DENIED): \"pull blocked by quarantine policy\"",
            Audience::Cluster,
        )));
        assert!(!other.contains("Harbor"), "{other}");
        assert!(other.contains("the registry's policy"), "{other}");
    }

    #[test]
    fn signatures_and_the_ci_words() {
        let ci = text(&fixes(&probed(
            "Harbor refuses … (412 PROJECTPOLICYVIOLATION): \"The image is not signed by cosign.\"",
            Audience::Ci,
        )));
        assert!(ci.contains("cosign sign"), "{ci}");
        assert!(ci.contains("Enforce content trust"), "{ci}");
        assert!(!ci.contains("node"), "{ci}");
    }
}
