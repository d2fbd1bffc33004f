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

use super::dockerconfig::{self, DockerConfig};
use super::findings::{Finding, FindingId, shorten, shown_key, strip_userinfo};
use super::gathered::{Fetched, PodSecrets};
use super::keyring::{self, Keyring};
use super::nearmiss::{
    closest_miss, hub_fallback, key_invalid, other_namespaces, service_account_findings,
    unreferenced,
};
use super::secrets::{classify, covering_key};
use super::{Credential, ImageCredentials};
use crate::reference::ImageRef;
use crate::registry::Puller;
use std::collections::{BTreeMap, BTreeSet};

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
        // A repeated reference adds its credentials again but says nothing new.
        let repeat = !seen.insert(name);
        if repeat {
            let msg = format!("the pod lists {name:?} more than once; kubelet tries it each time");
            findings.push(Finding::new(FindingId::DuplicateSecretReference, msg).secret(&label));
        }
        let mut say = |f: Finding| {
            if !repeat {
                findings.push(f)
            }
        };
        let secret = match input.lookup(name) {
            Fetched::Found(s) => s,
            Fetched::NotFound => {
                missing.push(name);
                let msg = format!(
                    "the pod names pull secret {name:?}, which does not exist in namespace {:?}; kubelet skips it (event FailedToRetrieveImagePullSecret){}",
                    input.namespace,
                    did_you_mean(input, name)
                );
                say(Finding::new(FindingId::SecretNotFound, msg).secret(&label));
                continue;
            }
            Fetched::Forbidden(why) => {
                let msg = format!(
                    "not allowed to read secret {name:?} ({}); kubelet may still read it, but pulldoctor cannot check it",
                    shorten(&why)
                );
                say(Finding::new(FindingId::SecretForbidden, msg).secret(&label));
                continue;
            }
            Fetched::NotAsked => {
                let msg = format!("secret {name:?} was not read, so its credentials are unknown");
                say(Finding::new(FindingId::SecretNotRead, msg).secret(&label));
                continue;
            }
        };
        let c = classify(secret);
        if let Some((id, mut msg)) = c.problem {
            if let Some(k) = c.ignored_body.as_ref().and_then(|b| covering_key(b, image)) {
                msg.push_str(&format!(
                    "; its key {:?} would match {:?}",
                    shown_key(&k),
                    image.original
                ));
            }
            say(Finding::new(id, msg).secret(&label));
        }
        let Some((format, body)) = c.usable else {
            continue;
        };
        let cfg = dockerconfig::decode(&body, format, &label);
        cfg.findings.iter().cloned().for_each(&mut say);
        let mut normalised: BTreeMap<String, String> = BTreeMap::new();
        for entry in &cfg.entries {
            let cred = Credential {
                source: format!("secret {label}"),
                key: strip_userinfo(&entry.key),
                username: entry.username.clone(),
                password: entry.password.clone(),
            };
            match ring.add(&entry.key, cred) {
                Err(why) => say(key_invalid(&label, &entry.key, &why, Puller::Node)),
                Ok(norm) => {
                    if let Some(first) = normalised.insert(norm.clone(), entry.key.clone()) {
                        let msg = format!(
                            "keys {:?} and {:?} both normalise to {:?}; kubelet tries them in random order",
                            shown_key(&first),
                            shown_key(&entry.key),
                            shown_key(&norm)
                        );
                        let f = Finding::new(FindingId::KeyNormalisesTwice, msg);
                        say(f.secret(&label).key(&entry.key));
                    }
                }
            }
        }
        if !repeat {
            decoded.push((label, cfg));
        }
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
            findings.push(hub_fallback(
                s.trim_start_matches("secret "),
                image,
                Puller::Node,
            ));
        }
    }
    let nothing = tries.is_empty() && !broken;
    if nothing {
        for (label, cfg) in &decoded {
            let keys: Vec<&str> = cfg.entries.iter().map(|e| e.key.as_str()).collect();
            findings.extend(closest_miss(label, &keys, image, Puller::Node));
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

/// `; did you mean "reg-cred"?` when a pull secret in the namespace has a name one typo away.
fn did_you_mean(input: &PodSecrets, name: &str) -> String {
    let Some(all) = &input.namespace_secrets else {
        return String::new();
    };
    all.iter()
        .filter_map(|s| s.metadata.name.as_deref())
        .map(|other| (keyring::distance(name, other), other))
        .filter(|(d, _)| *d > 0 && *d <= 2)
        .min()
        .map(|(_, other)| format!("; did you mean {other:?}?"))
        .unwrap_or_default()
}

#[cfg(test)]
#[path = "pod_tests.rs"]
pub(super) mod tests;
