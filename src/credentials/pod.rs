//! Which pull secrets a pod carries, what kubelet makes of each, and which would have helped.
//!
//! Reproduces kubelet's `getPullSecretsForPod` (`pkg/kubelet/kubelet_pods.go`: only
//! `pod.spec.imagePullSecrets`, in order, from the pod's namespace; empty names skipped; a secret
//! that cannot be fetched is skipped with the `FailedToRetrieveImagePullSecret` event),
//! `MakeDockerKeyring` (`pkg/credentialprovider/secrets/secrets.go`: only the two docker types
//! with their own data key count, anything else is ignored without a word), and the
//! ServiceAccount admission plugin (`plugin/pkg/admission/serviceaccount/admission.go`: the
//! account's `imagePullSecrets` are copied into a pod at creation only when it lists none;
//! `kubernetes.io/enforce-mountable-secrets` rejects pods whose pull secrets the account does not
//! list). <https://github.com/kubernetes/kubernetes/blob/master/pkg/kubelet/kubelet_pods.go>

use super::dockerconfig::{self, DockerConfig, Format};
use super::findings::{Finding, FindingId, Severity, shorten};
use super::keyring::{self, Keyring};
use super::{Credential, ImageCredentials};
use crate::registry::reference::ImageRef;
use k8s_openapi::api::core::v1::{Pod, Secret, ServiceAccount};
use std::collections::{BTreeMap, BTreeSet};

const DOCKERCONFIGJSON: &str = "kubernetes.io/dockerconfigjson";
const DOCKERCFG: &str = "kubernetes.io/dockercfg";
const ENFORCE_MOUNTABLE: &str = "kubernetes.io/enforce-mountable-secrets";

/// The result of reading one object: found, absent, refused by RBAC, or not read.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched<T> {
    /// Read.
    Found(T),
    /// The API said 404.
    NotFound,
    /// The API said 403; the API's message.
    Forbidden(String),
    /// Not read (no cluster access for it, or not in the snapshot).
    NotAsked,
}

/// Everything about one pod that decides its pull credentials.
#[derive(Debug, Clone)]
pub struct PodSecrets<'a> {
    /// The pod's namespace: the only one kubelet reads secrets from.
    pub namespace: String,
    /// `pod.spec.imagePullSecrets` names, in order.
    pub pod_pull_secrets: Vec<String>,
    /// `pod.spec.serviceAccountName` (`default` when unset).
    pub service_account_name: String,
    /// The service account, if read.
    pub service_account: Fetched<&'a ServiceAccount>,
    /// Every secret the pod or its service account names.
    pub secrets: BTreeMap<String, Fetched<&'a Secret>>,
    /// All secrets in the namespace, when they could be listed.
    pub namespace_secrets: Option<Vec<&'a Secret>>,
    /// Secrets from other namespaces the caller happens to have (a snapshot).
    pub other_namespace_secrets: Vec<&'a Secret>,
    /// `metadata.creationTimestamp` of the pod, RFC 3339.
    pub pod_created: Option<String>,
}

impl<'a> PodSecrets<'a> {
    /// The pod's own fields filled in; secrets and the service account still to be added.
    pub fn from_pod(pod: &'a Pod) -> PodSecrets<'a> {
        let spec = pod.spec.as_ref();
        PodSecrets {
            namespace: pod
                .metadata
                .namespace
                .clone()
                .unwrap_or_else(|| "default".into()),
            pod_pull_secrets: spec
                .and_then(|s| s.image_pull_secrets.as_ref())
                .map(|v| v.iter().map(|r| r.name.clone()).collect())
                .unwrap_or_default(),
            service_account_name: spec
                .and_then(|s| s.service_account_name.clone().or(s.service_account.clone()))
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| "default".into()),
            service_account: Fetched::NotAsked,
            secrets: BTreeMap::new(),
            namespace_secrets: None,
            other_namespace_secrets: Vec::new(),
            pod_created: pod
                .metadata
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string()),
        }
    }

    fn label(&self, name: &str) -> String {
        format!("{}/{}", self.namespace, name)
    }
}

/// What kubelet makes of a secret before decoding: a body it reads, or why not.
struct Classified {
    /// The body kubelet decodes.
    usable: Option<(Format, Vec<u8>)>,
    /// Why kubelet ignores it.
    problem: Option<(FindingId, String)>,
    /// A docker body kubelet ignores (wrong type or key), for "it would have matched".
    ignored_body: Option<(Format, Vec<u8>)>,
}

fn data(secret: &Secret, key: &str) -> Option<Vec<u8>> {
    // `stringData` only appears in hand-written snapshots; the API server merges it over `data`.
    let from_string = secret.string_data.as_ref().and_then(|m| m.get(key));
    let from_data = secret.data.as_ref().and_then(|m| m.get(key));
    from_string
        .map(|s| s.as_bytes().to_vec())
        .or_else(|| from_data.map(|b| b.0.clone()))
}

fn data_keys(secret: &Secret) -> Vec<String> {
    let mut keys: BTreeSet<String> = BTreeSet::new();
    keys.extend(secret.data.iter().flat_map(|m| m.keys().cloned()));
    keys.extend(secret.string_data.iter().flat_map(|m| m.keys().cloned()));
    keys.into_iter().map(|k| shorten(&k)).collect()
}

fn classify(secret: &Secret) -> Classified {
    let ty = secret.type_.as_deref().unwrap_or("Opaque");
    let json = data(secret, ".dockerconfigjson").filter(|b| !b.is_empty());
    let cfg = data(secret, ".dockercfg").filter(|b| !b.is_empty());
    let any_body = json
        .clone()
        .map(|b| (Format::ConfigJson, b))
        .or_else(|| cfg.clone().map(|b| (Format::Dockercfg, b)))
        .or_else(|| data(secret, "config.json").map(|b| (Format::ConfigJson, b)));
    let (want_key, body, format) = match ty {
        DOCKERCONFIGJSON => (".dockerconfigjson", json, Format::ConfigJson),
        DOCKERCFG => (".dockercfg", cfg, Format::Dockercfg),
        other => {
            let msg = format!(
                "type {:?}: kubelet reads only kubernetes.io/dockerconfigjson and kubernetes.io/dockercfg secrets and ignores this one without a word{}",
                shorten(other),
                if any_body.is_some() {
                    "; recreate it with `kubectl create secret docker-registry` or --type=kubernetes.io/dockerconfigjson"
                } else {
                    ""
                }
            );
            return Classified {
                usable: None,
                problem: Some((FindingId::WrongType, msg)),
                ignored_body: any_body,
            };
        }
    };
    if let Some(body) = body {
        return Classified {
            usable: Some((format, body)),
            problem: None,
            ignored_body: None,
        };
    }
    let keys = data_keys(secret);
    let msg = if keys.is_empty() {
        format!("type {ty} but no data at all; kubelet needs a non-empty {want_key}")
    } else {
        format!(
            "type {ty} but its data keys are [{}]; kubelet reads only a non-empty {want_key}",
            keys.join(", ")
        )
    };
    Classified {
        usable: None,
        problem: Some((FindingId::WrongDataKey, msg)),
        ignored_body: any_body,
    }
}

/// The first key of a docker body that gives credentials for the image, if any.
fn covering_key(body: &(Format, Vec<u8>), image: &ImageRef) -> Option<String> {
    let cfg = dockerconfig::decode(&body.1, body.0, "");
    if cfg.breaks_keyring() {
        return None;
    }
    cfg.entries
        .into_iter()
        .map(|e| e.key)
        .find(|k| keyring::key_covers(k, image))
}

/// The key of a secret (used by kubelet or not) that would give credentials for the image.
fn secret_covers(secret: &Secret, image: &ImageRef) -> Option<String> {
    let c = classify(secret);
    c.usable
        .or(c.ignored_body)
        .and_then(|b| covering_key(&b, image))
}

pub(super) fn key_invalid(source: &str, key: &str, why: &str) -> Finding {
    let msg = format!(
        "key {:?} is not a URL kubelet can parse ({why}); kubelet skips this entry",
        shorten(key)
    );
    Finding::new(FindingId::KeyInvalid, msg)
        .secret(source)
        .key(key)
}

pub(super) fn hub_fallback(source: &str, image: &ImageRef) -> Finding {
    let msg = format!(
        "no key matched {:?} directly; kubelet used the Docker Hub fallback key index.docker.io",
        image.original
    );
    Finding::new(FindingId::DockerHubFallback, msg).secret(source)
}

/// The closest key of one secret or file to an image, and what differs.
pub(super) fn closest_miss(source: &str, keys: &[&str], image: &ImageRef) -> Option<Finding> {
    let best = keys
        .iter()
        .filter_map(|k| keyring::explain_miss(k, image).map(|m| (k, m)))
        .min_by_key(|(_, m)| m.rank)?;
    let (key, miss) = best;
    Some(
        Finding::new(
            miss.id,
            format!("no key matches {:?}: {}", image.original, miss.detail),
        )
        .secret(source)
        .key(*key),
    )
}

/// What kubelet would try for `image` in this pod, and every near miss.
pub fn for_image(input: &PodSecrets, image: &ImageRef) -> ImageCredentials {
    let mut findings = Vec::new();
    let mut ring: Keyring<Credential> = Keyring::default();
    let mut decoded: Vec<(String, DockerConfig)> = Vec::new();
    let mut missing: Vec<&str> = Vec::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    for name in &input.pod_pull_secrets {
        if name.is_empty() {
            let msg = "an imagePullSecrets entry has an empty name; kubelet skips it";
            findings.push(Finding::new(FindingId::EmptySecretReference, msg));
            continue;
        }
        let label = input.label(name);
        if !seen.insert(name) {
            let msg = format!("the pod lists {name:?} more than once; kubelet tries it each time");
            findings.push(Finding::new(FindingId::DuplicateSecretReference, msg).secret(&label));
        }
        let secret = match input.secrets.get(name).unwrap_or(&Fetched::NotAsked) {
            Fetched::Found(s) => *s,
            Fetched::NotFound => {
                missing.push(name);
                let msg = format!(
                    "the pod names pull secret {name:?}, which does not exist in namespace {:?}; kubelet skips it (event FailedToRetrieveImagePullSecret)",
                    input.namespace
                );
                findings.push(Finding::new(FindingId::SecretNotFound, msg).secret(&label));
                continue;
            }
            Fetched::Forbidden(why) => {
                let msg = format!(
                    "not allowed to read secret {name:?} ({}); kubelet may still read it, but pulldoctor cannot check it",
                    shorten(why)
                );
                findings.push(Finding::new(FindingId::SecretForbidden, msg).secret(&label));
                continue;
            }
            Fetched::NotAsked => {
                let msg = format!("secret {name:?} was not read, so its credentials are unknown");
                findings.push(Finding::new(FindingId::SecretNotRead, msg).secret(&label));
                continue;
            }
        };
        let c = classify(secret);
        if let Some((id, mut msg)) = c.problem {
            if let Some(k) = c.ignored_body.as_ref().and_then(|b| covering_key(b, image)) {
                msg.push_str(&format!(
                    "; its key {:?} would match {:?}",
                    shorten(&k),
                    image.original
                ));
            }
            findings.push(Finding::new(id, msg).secret(&label));
        }
        let Some((format, body)) = c.usable else {
            continue;
        };
        let cfg = dockerconfig::decode(&body, format, &label);
        findings.extend(cfg.findings.iter().cloned());
        let mut normalised: BTreeMap<String, String> = BTreeMap::new();
        for entry in &cfg.entries {
            let cred = Credential {
                source: format!("secret {label}"),
                key: entry.key.clone(),
                username: entry.username.clone(),
                password: entry.password.clone(),
            };
            match ring.add(&entry.key, cred) {
                Err(why) => findings.push(key_invalid(&label, &entry.key, &why)),
                Ok(norm) => {
                    if let Some(first) = normalised.insert(norm.clone(), entry.key.clone()) {
                        let msg = format!(
                            "keys {:?} and {:?} both normalise to {:?}; kubelet tries them in random order",
                            shorten(&first),
                            shorten(&entry.key),
                            shorten(&norm)
                        );
                        let f = Finding::new(FindingId::KeyNormalisesTwice, msg);
                        findings.push(f.secret(&label).key(&entry.key));
                    }
                }
            }
        }
        decoded.push((label, cfg));
    }

    let broken = decoded.iter().any(|(_, c)| c.breaks_keyring());
    let found = ring.lookup(&image.name());
    let tries: Vec<Credential> = if broken {
        Vec::new()
    } else {
        found.items.iter().map(|(_, c)| c.clone()).collect()
    };
    if found.docker_hub_fallback && !broken {
        let sources: BTreeSet<&str> = found.items.iter().map(|(_, c)| c.source.as_str()).collect();
        for s in sources {
            findings.push(hub_fallback(s.trim_start_matches("secret "), image));
        }
    }
    let nothing = tries.is_empty() && !broken;
    if nothing {
        for (label, cfg) in &decoded {
            let keys: Vec<&str> = cfg.entries.iter().map(|e| e.key.as_str()).collect();
            findings.extend(closest_miss(label, &keys, image));
        }
    }
    findings.extend(service_account_findings(input, image, nothing));
    findings.extend(unreferenced(input, image, nothing));
    findings.extend(other_namespaces(input, image, &missing, nothing));
    ImageCredentials {
        image: image.original.clone(),
        tries,
        anonymous: nothing,
        findings,
    }
    .sorted()
}

fn sa_pull_secrets(sa: &ServiceAccount) -> Vec<String> {
    sa.image_pull_secrets
        .iter()
        .flatten()
        .map(|r| r.name.clone())
        .filter(|n| !n.is_empty())
        .collect()
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

fn service_account_findings(input: &PodSecrets, image: &ImageRef, nothing: bool) -> Vec<Finding> {
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
    let created = input
        .pod_created
        .as_deref()
        .map(|t| format!(" (created {t})"))
        .unwrap_or_default();
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
            Some(k) => format!(" Its key {:?} matches {:?}.", shorten(k), image.original),
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

fn unreferenced(input: &PodSecrets, image: &ImageRef, nothing: bool) -> Vec<Finding> {
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
            shorten(&key),
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

fn other_namespaces(
    input: &PodSecrets,
    image: &ImageRef,
    missing: &[&str],
    nothing: bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
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
        let msg = if missing.contains(&name) {
            format!(
                "pull secret {name:?} exists in namespace {ns:?}, not in the pod's {:?}; kubelet reads pull secrets only from the pod's namespace, so copy it there",
                input.namespace
            )
        } else if let (Some(key), true) = (&covers, nothing) {
            format!(
                "secret {ns}/{name} has key {:?} matching {:?}, but kubelet reads pull secrets only from the pod's namespace {:?}",
                shorten(key),
                image.original,
                input.namespace
            )
        } else {
            continue;
        };
        let mut f =
            Finding::new(FindingId::SecretInOtherNamespace, msg).secret(format!("{ns}/{name}"));
        if let Some(k) = covers {
            f = f.key(k);
        }
        out.push(f);
    }
    out
}

#[cfg(test)]
#[path = "pod_tests.rs"]
pub(super) mod tests;
