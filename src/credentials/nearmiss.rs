//! Near misses: the credential that would have worked but does not reach the pull.
//!
//! Kubelet reads only `pod.spec.imagePullSecrets` from the pod's own namespace
//! (`getPullSecretsForPod`, `pkg/kubelet/kubelet_pods.go`). The ServiceAccount admission plugin
//! (`plugin/pkg/admission/serviceaccount/admission.go`,
//! <https://github.com/kubernetes/kubernetes/blob/master/plugin/pkg/admission/serviceaccount/admission.go>)
//! copies the account's `imagePullSecrets` into a pod only when it is created listing none, and
//! with `kubernetes.io/enforce-mountable-secrets: "true"` rejects pods using pull secrets the
//! account does not list. So a secret can exist, be right, and still be missed: listed only on
//! the account, never referenced, in another namespace, or keyed for a neighbouring host, port or
//! path. Each of those is a finding here.

use super::findings::{Finding, FindingId, Severity, shorten, shown_key};
use super::gathered::{Fetched, PodSecrets};
use super::keyring;
use super::secrets::{classify, secret_covers};
use crate::reference::ImageRef;
use crate::registry::Puller;
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::jiff::Timestamp;

pub(super) const ENFORCE_MOUNTABLE: &str = "kubernetes.io/enforce-mountable-secrets";

pub(super) fn key_invalid(source: &str, key: &str, why: &str, puller: Puller) -> Finding {
    let who = keyring::matcher(puller);
    let msg = format!(
        "key {:?} is not a URL {who} can parse ({why}); {who} skips this entry",
        shown_key(key)
    );
    Finding::new(FindingId::KeyInvalid, msg)
        .secret(source)
        .key(key)
}

pub(super) fn hub_fallback(source: &str, image: &ImageRef, puller: Puller) -> Finding {
    let msg = format!(
        "no key matched {:?} directly; {} used the Docker Hub fallback key index.docker.io",
        image.original,
        keyring::matcher(puller)
    );
    Finding::new(FindingId::DockerHubFallback, msg).secret(source)
}

/// The closest key of one secret or file to an image, and what differs.
pub(super) fn closest_miss(
    source: &str,
    keys: &[&str],
    image: &ImageRef,
    puller: Puller,
) -> Option<Finding> {
    let best = keys
        .iter()
        .filter_map(|k| keyring::explain_miss_for(k, image, puller).map(|m| (k, m)))
        .min_by_key(|(_, m)| m.rank)?;
    let (key, miss) = best;
    let msg = format!(
        "no key matches {:?}: {}; the key to use is {:?}",
        image.original,
        miss.detail,
        keyring::key_for(image)
    );
    let mut finding = Finding::new(miss.id, msg).secret(source).key(*key);
    // A key for an unrelated host is no near miss: the secret is simply for another registry.
    if miss.id == FindingId::KeyHostMismatch && miss.rank > keyring::TYPO_RANK {
        finding = finding.severity(Severity::Info);
    }
    Some(finding)
}

fn sa_pull_secrets(sa: &ServiceAccount) -> Vec<String> {
    sa.image_pull_secrets
        .iter()
        .flatten()
        .map(|r| r.name.clone())
        .filter(|n| !n.is_empty())
        .collect()
}

/// The latest time any manager wrote the account (`metadata.managedFields[].time`).
///
/// Kubernetes keeps no per-field history, but a write after the pod's creation is what the
/// "pod predates the change" story needs.
fn last_written(sa: &ServiceAccount) -> Option<Timestamp> {
    let created = sa.metadata.creation_timestamp.as_ref().map(|t| t.0);
    let writes = sa.metadata.managed_fields.iter().flatten();
    writes
        .filter_map(|m| m.time.as_ref().map(|t| t.0))
        .chain(created)
        .max()
}

fn enforced(sa: &ServiceAccount) -> bool {
    sa.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ENFORCE_MOUNTABLE))
        .is_some_and(|v| v == "true")
}

/// Does a secret the pod does not carry (looked up by name) cover the image?
fn named_covers(input: &PodSecrets, name: &str, image: &ImageRef) -> Option<String> {
    if let Some(Fetched::Found(s)) = input.secrets.get(name) {
        return secret_covers(s, image);
    }
    let listed = input.namespace_secrets.as_ref()?;
    let s = listed
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))?;
    secret_covers(s, image)
}

pub(super) fn service_account_findings(
    input: &PodSecrets,
    image: &ImageRef,
    nothing: bool,
) -> Vec<Finding> {
    let sa_name = &input.service_account_name;
    let sa = match &input.service_account {
        Fetched::Found(sa) => *sa,
        Fetched::NotAsked => return Vec::new(),
        Fetched::NotFound | Fetched::Forbidden(_) => {
            let why = match &input.service_account {
                Fetched::Forbidden(m) => format!("forbidden: {}", shorten(m)),
                _ => "not found".to_string(),
            };
            let msg = format!("service account {sa_name:?} could not be read ({why})");
            return vec![Finding::new(FindingId::ServiceAccountUnreadable, msg)];
        }
    };
    let mut out = Vec::new();
    let listed = sa_pull_secrets(sa);
    let enforce = enforced(sa);
    let created = match (&input.pod_created, last_written(sa)) {
        (Some(pod), Some(sa_time)) if sa_time > pod.0 => {
            format!(
                " (created {}; the account was last written {sa_time})",
                pod.0
            )
        }
        (Some(pod), _) => format!(" (created {})", pod.0),
        _ => String::new(),
    };
    for name in listed
        .iter()
        .filter(|n| !input.pod_pull_secrets.contains(n))
    {
        let covers = named_covers(input, name, image);
        let why = if input.pod_pull_secrets.is_empty() {
            format!(
                "the pod lists none, so it was created{created} before the account listed it: the admission plugin copies the account's pull secrets only when a pod is created; recreate the pod (e.g. kubectl rollout restart)"
            )
        } else {
            "the pod lists its own pull secrets, and the admission plugin copies the account's only into pods that list none; add it to the pod template".to_string()
        };
        let matters = match &covers {
            Some(k) => format!(" Its key {:?} matches {:?}.", shown_key(k), image.original),
            None => String::new(),
        };
        let msg = format!(
            "service account {sa_name:?} lists pull secret {name:?} but the pod does not: {why}.{matters}"
        );
        let severity = if covers.is_some() && nothing {
            Severity::Warning
        } else {
            Severity::Info
        };
        let f = Finding::new(FindingId::ServiceAccountSecretNotInPod, msg);
        out.push(f.secret(input.label(name)).severity(severity));
    }
    if enforce {
        for name in input
            .pod_pull_secrets
            .iter()
            .filter(|n| !n.is_empty() && !listed.contains(n))
        {
            let msg = format!(
                "service account {sa_name:?} has {ENFORCE_MOUNTABLE}=true and does not list pull secret {name:?}: admission rejects new pods that use it (the next rollout fails); add it to the account's imagePullSecrets"
            );
            let f = Finding::new(FindingId::EnforceMountableSecrets, msg);
            out.push(f.secret(input.label(name)));
        }
    }
    out
}

pub(super) fn unreferenced(input: &PodSecrets, image: &ImageRef, nothing: bool) -> Vec<Finding> {
    let Some(all) = &input.namespace_secrets else {
        return Vec::new();
    };
    let sa_listed = match &input.service_account {
        Fetched::Found(sa) => sa_pull_secrets(sa),
        _ => Vec::new(),
    };
    let enforce = matches!(&input.service_account, Fetched::Found(sa) if enforced(sa));
    let mut out = Vec::new();
    for secret in all {
        let Some(name) = secret.metadata.name.as_deref() else {
            continue;
        };
        if input.pod_pull_secrets.iter().any(|n| n == name) || sa_listed.iter().any(|n| n == name) {
            continue;
        }
        let Some(key) = secret_covers(secret, image) else {
            continue;
        };
        let c = classify(secret);
        let mut msg = format!(
            "secret {name:?} in {:?} has key {:?} matching {:?}, but the pod does not list it in imagePullSecrets",
            input.namespace,
            shown_key(&key),
            image.original
        );
        if let Some((_, problem)) = c.problem {
            msg.push_str(&format!(
                " (and kubelet would ignore it as it is: {problem})"
            ));
        }
        if enforce {
            msg.push_str(&format!(
                "; {ENFORCE_MOUNTABLE} is on, so add it to service account {:?} too",
                input.service_account_name
            ));
        }
        let severity = if nothing {
            Severity::Warning
        } else {
            Severity::Info
        };
        let f = Finding::new(FindingId::UnreferencedMatchingSecret, msg);
        out.push(f.secret(input.label(name)).key(&key).severity(severity));
    }
    out
}

/// Does any secret of the pod's own namespace (listed, named by the pod or by its account)
/// hold a key for the image? Then no secret elsewhere is worth a word.
fn namespace_covers(input: &PodSecrets, image: &ImageRef) -> bool {
    let named = input.secrets.values().filter_map(|f| match f {
        Fetched::Found(s) => Some(*s),
        _ => None,
    });
    let listed = input.namespace_secrets.iter().flatten().copied();
    named
        .chain(listed)
        .filter(|s| {
            s.metadata
                .namespace
                .as_deref()
                .is_none_or(|n| n == input.namespace)
        })
        .any(|s| secret_covers(s, image).is_some())
}

/// Hints from other namespaces: where a secret the pod names but its namespace lacks lives,
/// and, only when the pod's own namespace has nothing for the image, a secret elsewhere that
/// would match. Kubelet never reads them, so they explain; they never choose the fix.
pub(super) fn other_namespaces(
    input: &PodSecrets,
    image: &ImageRef,
    missing: &[&str],
    nothing: bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let own = nothing && namespace_covers(input, image);
    let mut covering = Vec::new();
    for secret in &input.other_namespace_secrets {
        let (Some(name), Some(ns)) = (
            secret.metadata.name.as_deref(),
            secret.metadata.namespace.as_deref(),
        ) else {
            continue;
        };
        if ns == input.namespace {
            continue;
        }
        let covers = secret_covers(secret, image);
        if missing.contains(&name) {
            let msg = format!(
                "pull secret {name:?} exists in namespace {ns:?}, not in the pod's {:?}; kubelet reads pull secrets only from the pod's namespace, so copy it there",
                input.namespace
            );
            let mut f =
                Finding::new(FindingId::SecretInOtherNamespace, msg).secret(format!("{ns}/{name}"));
            if let Some(k) = covers {
                f = f.key(k);
            }
            out.push(f);
        } else if let (Some(key), true, false) = (covers, nothing, own) {
            covering.push((format!("{ns}/{name}"), key));
        }
    }
    // One hint is enough: a cluster may hold the same secret in every namespace.
    covering.sort();
    if let Some((label, key)) = covering.first() {
        let more = match covering.len() - 1 {
            0 => String::new(),
            n => format!(" ({n} more in other namespaces)"),
        };
        let msg = format!(
            "secret {label}{more} has key {:?} matching {:?}, but kubelet reads pull secrets only from the pod's namespace {:?}",
            shown_key(key),
            image.original,
            input.namespace
        );
        let f = Finding::new(FindingId::SecretInOtherNamespace, msg)
            .secret(label)
            .key(key)
            .severity(Severity::Info);
        out.push(f);
    }
    out
}
