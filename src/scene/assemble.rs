//! Building a [`Scene`] around a pod from whatever can read objects: the live API or a snapshot.
//!
//! Both sources answer the same questions (a secret by name, the service account, the node, an
//! owner's controller), so the walk — which secrets kubelet would consult, how far up the owner
//! chain goes, what to say when RBAC refuses — is written once here. The secret names are the
//! pod's `imagePullSecrets` plus its service account's, as the ServiceAccount admission plugin
//! merges them (<https://kubernetes.io/docs/concepts/security/service-accounts/>).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Event, Node, Pod, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

use super::{Lookup, Owner, Scene};
use crate::Result;

/// How far up an owner chain to walk; real chains are two links long.
const MAX_OWNER_DEPTH: usize = 5;

/// Reads the objects around a pod. Implementations cache: a scan asks for the same service
/// account or node many times.
pub(crate) trait Reader {
    async fn secret(&self, namespace: &str, name: &str) -> Result<Lookup<Secret>>;
    async fn service_account(&self, namespace: &str, name: &str) -> Result<Lookup<ServiceAccount>>;
    async fn node(&self, name: &str) -> Result<Lookup<Node>>;
    /// The controller reference of an owner object (`Found(None)` when it has none).
    async fn controller_of(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
    ) -> Result<Lookup<Option<OwnerReference>>>;
    /// Docker-type secrets of the namespace.
    async fn namespace_pull_secrets(&self, namespace: &str) -> Result<Lookup<Vec<Secret>>>;
    /// Secrets outside `namespace` that may be meant for the pod (see `Scene`).
    async fn other_namespace_secrets(
        &self,
        namespace: &str,
        names: &[String],
    ) -> Result<(std::sync::Arc<Vec<Secret>>, Vec<String>)>;
}

/// The service account a pod runs as: `spec.serviceAccountName`, the deprecated
/// `spec.serviceAccount`, else `default` (what the admission plugin fills in).
pub(crate) fn service_account_name(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| {
            s.service_account_name
                .clone()
                .or_else(|| s.service_account.clone())
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

/// The pull secret names the pod and then its service account list, without repeats.
pub(crate) fn pull_secret_names(pod: &Pod, sa: Option<&ServiceAccount>) -> Vec<String> {
    let from_pod = pod
        .spec
        .iter()
        .flat_map(|s| s.image_pull_secrets.iter().flatten());
    let from_sa = sa
        .into_iter()
        .flat_map(|sa| sa.image_pull_secrets.iter().flatten());
    let mut names: Vec<String> = Vec::new();
    for r in from_pod.chain(from_sa) {
        if !r.name.is_empty() && !names.contains(&r.name) {
            names.push(r.name.clone());
        }
    }
    names
}

/// The reference marked `controller: true`, which is the one the owner chain follows.
pub(crate) fn controller_ref(refs: Option<&Vec<OwnerReference>>) -> Option<OwnerReference> {
    refs?.iter().find(|r| r.controller == Some(true)).cloned()
}

/// Kinds whose own controller is worth reading (ReplicaSet → Deployment, Job → CronJob).
pub(crate) fn has_parent(kind: &str) -> bool {
    matches!(kind, "ReplicaSet" | "Job")
}

/// Builds the scene of `pod` from its events and whatever `reader` can tell.
pub(crate) async fn assemble<R: Reader>(
    reader: &R,
    pod: Pod,
    events: Vec<Event>,
    mut unreadable: Vec<String>,
) -> Result<Scene> {
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let sa_name = service_account_name(&pod);
    let service_account = reader.service_account(&namespace, &sa_name).await?;
    note(
        &mut unreadable,
        &format!("service account {namespace}/{sa_name}"),
        &service_account,
    );

    let names = pull_secret_names(&pod, service_account.found());
    let mut secrets = BTreeMap::new();
    for name in &names {
        let found = reader.secret(&namespace, name).await?;
        note(
            &mut unreadable,
            &format!("secret {namespace}/{name}"),
            &found,
        );
        secrets.insert(name.clone(), found);
    }

    let namespace_pull_secrets = reader.namespace_pull_secrets(&namespace).await?;
    note(
        &mut unreadable,
        &format!("secrets in {namespace} (list)"),
        &namespace_pull_secrets,
    );

    let node_name = pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .filter(|n| !n.is_empty());
    let node = match node_name {
        Some(n) => {
            let found = reader.node(&n).await?;
            note(&mut unreadable, &format!("node {n}"), &found);
            found
        }
        None => Lookup::NotAsked,
    };

    let owners = owner_chain(reader, &pod, &namespace, &mut unreadable).await?;

    let missing: Vec<String> = names
        .iter()
        .filter(|n| matches!(secrets.get(*n), Some(Lookup::NotFound)))
        .cloned()
        .collect();
    let (other_namespace_secrets, lines) =
        reader.other_namespace_secrets(&namespace, &missing).await?;
    unreadable.extend(lines);

    Ok(Scene {
        namespace,
        pod,
        events,
        secrets,
        namespace_pull_secrets,
        service_account,
        node,
        owners,
        other_namespace_secrets,
        unreadable,
    })
}

/// The controller chain from the pod upwards; stops where an owner cannot be read.
async fn owner_chain<R: Reader>(
    reader: &R,
    pod: &Pod,
    namespace: &str,
    unreadable: &mut Vec<String>,
) -> Result<Vec<Owner>> {
    let mut owners = Vec::new();
    let mut next = controller_ref(pod.metadata.owner_references.as_ref());
    while let Some(r) = next.take() {
        owners.push(Owner {
            kind: r.kind.clone(),
            name: r.name.clone(),
            api_version: r.api_version.clone(),
        });
        if owners.len() >= MAX_OWNER_DEPTH || !has_parent(&r.kind) {
            break;
        }
        let found = reader.controller_of(namespace, &r.kind, &r.name).await?;
        note(
            unreadable,
            &format!("{} {namespace}/{}", r.kind, r.name),
            &found,
        );
        if let Lookup::Found(parent) = found {
            next = parent;
        }
    }
    Ok(owners)
}

/// Adds a human line for a refused read.
fn note<T>(unreadable: &mut Vec<String>, what: &str, lookup: &Lookup<T>) {
    if let Lookup::Forbidden(message) = lookup {
        let line = format!("{what}: forbidden ({message})");
        if !unreadable.contains(&line) {
            unreadable.push(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_names_merge_pod_then_service_account_without_repeats() {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": "p"},
            "spec": {"containers": [], "serviceAccountName": "builder",
                     "imagePullSecrets": [{"name": "regcred"}, {"name": ""}, {"name": "other"}]}
        }))
        .unwrap();
        let sa: ServiceAccount = serde_json::from_value(json!({
            "metadata": {"name": "builder"},
            "imagePullSecrets": [{"name": "other"}, {"name": "sa-cred"}]
        }))
        .unwrap();
        assert_eq!(service_account_name(&pod), "builder");
        assert_eq!(
            pull_secret_names(&pod, Some(&sa)),
            ["regcred", "other", "sa-cred"]
        );
        assert_eq!(pull_secret_names(&pod, None), ["regcred", "other"]);
    }

    #[test]
    fn service_account_defaults_like_the_admission_plugin() {
        let pod: Pod =
            serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": []}}))
                .unwrap();
        assert_eq!(service_account_name(&pod), "default");
        let old: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {"containers": [], "serviceAccount": "legacy"}})).unwrap();
        assert_eq!(service_account_name(&old), "legacy");
    }

    #[test]
    fn only_the_controller_reference_is_followed() {
        let refs: Vec<OwnerReference> = serde_json::from_value(json!([
            {"apiVersion": "v1", "kind": "ConfigMap", "name": "c", "uid": "1"},
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d4f", "uid": "2", "controller": true}
        ]))
        .unwrap();
        assert_eq!(controller_ref(Some(&refs)).unwrap().name, "web-5d4f");
        assert!(controller_ref(Some(&refs[..1].to_vec())).is_none());
        assert!(has_parent("ReplicaSet") && has_parent("Job"));
        assert!(!has_parent("StatefulSet") && !has_parent("DaemonSet"));
    }
}
