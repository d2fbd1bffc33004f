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

use super::evidence::{Evidence, ProbeFacts};
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
    let unchanged = "The credentials work: no node, pull-secret or runtime change helps.";
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
