//! Which containers of a pod are stuck on a pull, and which events speak of a pull failure.
//!
//! Kubelet reports a pull failure twice: as the container's `state.waiting.reason` (one of the
//! image manager's error names in `pkg/kubelet/images/types.go`,
//! <https://github.com/kubernetes/kubernetes/blob/master/pkg/kubelet/images/types.go>) and as
//! events with the reasons of `pkg/kubelet/events/event.go` (`Failed`, `BackOff`,
//! `InspectFailed`, `ErrImageNeverPull`). Init, regular and ephemeral containers all count.

use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod, Secret};

/// `state.waiting.reason` values kubelet's image manager sets when it cannot get an image.
pub const PULL_WAITING_REASONS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "ImageInspectError",
    "ErrImageInspect",
    "RegistryUnavailable",
    "SignatureValidationFailed",
];

/// True for a waiting reason that means "the image could not be obtained".
pub fn is_pull_waiting_reason(reason: &str) -> bool {
    PULL_WAITING_REASONS.contains(&reason)
}

/// Which list of the pod spec a container comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContainerKind {
    /// `spec.initContainers`.
    Init,
    /// `spec.containers`.
    Regular,
    /// `spec.ephemeralContainers` (added by `kubectl debug`).
    Ephemeral,
}

/// One container waiting on an image it cannot get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerImage {
    /// The container's name.
    pub name: String,
    /// The image as the spec writes it (what the user typed), else as the status has it.
    pub image: String,
    /// Init, regular or ephemeral.
    pub kind: ContainerKind,
    /// `state.waiting.reason`, e.g. `ImagePullBackOff`.
    pub waiting_reason: String,
    /// `state.waiting.message`: kubelet keeps the runtime's error here after events expire.
    pub waiting_message: Option<String>,
}

/// Every container of `pod` whose status waits on a pull reason, init first, then regular,
/// then ephemeral (the order kubelet starts them).
pub fn pull_failing_containers(pod: &Pod) -> Vec<ContainerImage> {
    let (Some(spec), Some(status)) = (pod.spec.as_ref(), pod.status.as_ref()) else {
        return Vec::new();
    };
    let init_images: Vec<(&str, Option<&str>)> = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| (c.name.as_str(), c.image.as_deref()))
        .collect();
    let regular_images: Vec<(&str, Option<&str>)> = spec
        .containers
        .iter()
        .map(|c| (c.name.as_str(), c.image.as_deref()))
        .collect();
    let ephemeral_images: Vec<(&str, Option<&str>)> = spec
        .ephemeral_containers
        .iter()
        .flatten()
        .map(|c| (c.name.as_str(), c.image.as_deref()))
        .collect();
    let groups = [
        (
            ContainerKind::Init,
            &status.init_container_statuses,
            &init_images,
        ),
        (
            ContainerKind::Regular,
            &status.container_statuses,
            &regular_images,
        ),
        (
            ContainerKind::Ephemeral,
            &status.ephemeral_container_statuses,
            &ephemeral_images,
        ),
    ];
    let mut out = Vec::new();
    for (kind, statuses, images) in groups {
        for cs in statuses.iter().flatten() {
            if let Some(found) = failing(kind, cs, images) {
                out.push(found);
            }
        }
    }
    out
}

fn failing(
    kind: ContainerKind,
    cs: &ContainerStatus,
    spec: &[(&str, Option<&str>)],
) -> Option<ContainerImage> {
    let waiting = cs.state.as_ref()?.waiting.as_ref()?;
    let reason = waiting.reason.as_deref()?;
    if !is_pull_waiting_reason(reason) {
        return None;
    }
    // The status image can be normalised (docker.io/library/…) or a digest; the spec's is what
    // the user wrote and what the fix must talk about.
    let spec_image = spec
        .iter()
        .find(|(n, _)| *n == cs.name)
        .and_then(|(_, i)| *i);
    Some(ContainerImage {
        name: cs.name.clone(),
        image: spec_image.unwrap_or(cs.image.as_str()).to_string(),
        kind,
        waiting_reason: reason.to_string(),
        waiting_message: waiting.message.clone().filter(|m| !m.is_empty()),
    })
}

/// True for an event kubelet writes when a pull fails.
///
/// Kubelet's reasons: `Failed` ("Failed to pull image …", or "Error: ErrImagePull"), `BackOff`
/// ("Back-off pulling image …"; the same reason also means a crash loop, hence the message
/// check), `InspectFailed` (an invalid reference) and `ErrImageNeverPull`.
pub fn is_pull_failure_event(event: &Event) -> bool {
    let reason = event.reason.as_deref().unwrap_or("");
    let message = event.message.as_deref().unwrap_or("");
    let lower = message.to_ascii_lowercase();
    match reason {
        "InspectFailed" | "ErrImageNeverPull" => true,
        r if is_pull_waiting_reason(r) => true,
        "Failed" => {
            let after_error = message.strip_prefix("Error: ").map(|rest| {
                rest.split(|c: char| !c.is_ascii_alphanumeric())
                    .next()
                    .unwrap_or("")
            });
            after_error.is_some_and(is_pull_waiting_reason) || mentions_pull(&lower)
        }
        "BackOff" => mentions_pull(&lower),
        _ => false,
    }
}

/// "pull" followed by "image" in either order ("Failed to pull image", "pulling image",
/// "image … pull"): the wording shared by kubelet's pull events.
fn mentions_pull(lower: &str) -> bool {
    lower.contains("pull") && lower.contains("image")
}

/// True for the two secret types kubelet reads pull credentials from.
pub fn is_docker_secret(secret: &Secret) -> bool {
    matches!(
        secret.type_.as_deref(),
        Some("kubernetes.io/dockerconfigjson") | Some("kubernetes.io/dockercfg")
    )
}

/// True when `event` is about `pod`: a Pod of that namespace and name, and the same uid when
/// both carry one (a recreated StatefulSet pod keeps its name, not its uid).
pub(crate) fn event_is_for_pod(event: &Event, pod: &Pod) -> bool {
    let io = &event.involved_object;
    let same_uid = match (io.uid.as_deref(), pod.metadata.uid.as_deref()) {
        (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => a == b,
        _ => true,
    };
    io.kind.as_deref() == Some("Pod")
        && io.name.is_some()
        && io.name == pod.metadata.name
        && io.namespace.as_deref().unwrap_or("") == pod.metadata.namespace.as_deref().unwrap_or("")
        && same_uid
}

/// True when a scan should diagnose the pod: a container waits on a pull reason, or a
/// container is still waiting and the pod's events speak of a failed pull (a pull that stalls
/// shows `ContainerCreating`, not `ErrImagePull`). Pods that pulled later are left alone.
pub(crate) fn is_failing(pod: &Pod, events: &[Event]) -> bool {
    !pull_failing_containers(pod).is_empty()
        || (any_container_waiting(pod) && events.iter().any(is_pull_failure_event))
}

/// True when some container of the pod is not running yet (any waiting state).
pub(crate) fn any_container_waiting(pod: &Pod) -> bool {
    let Some(status) = pod.status.as_ref() else {
        return false;
    };
    [
        &status.init_container_statuses,
        &status.container_statuses,
        &status.ephemeral_container_statuses,
    ]
    .into_iter()
    .flatten()
    .flatten()
    .any(|cs| cs.state.as_ref().is_some_and(|s| s.waiting.is_some()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn event(reason: &str, message: &str) -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"},
            "reason": reason, "message": message
        }))
        .unwrap()
    }

    #[test]
    fn every_container_kind_counts_and_spec_image_wins() {
        let p = pod(json!({
            "metadata": {"name": "p", "namespace": "shop"},
            "spec": {
                "initContainers": [{"name": "init", "image": "reg.test:5000/init:1"}],
                "containers": [{"name": "app", "image": "nginx"}, {"name": "ok", "image": "busybox"}],
                "ephemeralContainers": [{"name": "debug", "image": "reg.test/dbg:2"}]
            },
            "status": {
                "initContainerStatuses": [{"name": "init", "image": "reg.test:5000/init:1", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "ErrImagePull", "message": "x509: certificate signed by unknown authority"}}}],
                "containerStatuses": [
                    {"name": "app", "image": "docker.io/library/nginx:latest", "imageID": "", "ready": false, "restartCount": 0,
                     "state": {"waiting": {"reason": "ImagePullBackOff", "message": ""}}},
                    {"name": "ok", "image": "busybox", "imageID": "", "ready": false, "restartCount": 0,
                     "state": {"waiting": {"reason": "PodInitializing"}}}],
                "ephemeralContainerStatuses": [{"name": "debug", "image": "reg.test/dbg:2", "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "InvalidImageName"}}}]
            }
        }));
        let got = pull_failing_containers(&p);
        let summary: Vec<_> = got
            .iter()
            .map(|c| {
                (
                    c.kind,
                    c.name.as_str(),
                    c.image.as_str(),
                    c.waiting_reason.as_str(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (
                    ContainerKind::Init,
                    "init",
                    "reg.test:5000/init:1",
                    "ErrImagePull"
                ),
                (ContainerKind::Regular, "app", "nginx", "ImagePullBackOff"),
                (
                    ContainerKind::Ephemeral,
                    "debug",
                    "reg.test/dbg:2",
                    "InvalidImageName"
                ),
            ]
        );
        assert_eq!(
            got[0].waiting_message.as_deref(),
            Some("x509: certificate signed by unknown authority")
        );
        assert_eq!(
            got[1].waiting_message, None,
            "an empty message is no message"
        );
    }

    #[test]
    fn a_pod_without_status_has_no_failing_container() {
        let p = pod(
            json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "x"}]}}),
        );
        assert!(pull_failing_containers(&p).is_empty());
        assert!(!any_container_waiting(&p));
    }

    #[test]
    fn pull_events_are_told_from_crash_loops() {
        assert!(is_pull_failure_event(&event(
            "Failed",
            "Failed to pull image \"reg.test/app:1\": rpc error: code = Unknown"
        )));
        assert!(is_pull_failure_event(&event(
            "Failed",
            "Error: ErrImagePull"
        )));
        assert!(is_pull_failure_event(&event(
            "Failed",
            "Error: ImagePullBackOff"
        )));
        assert!(is_pull_failure_event(&event(
            "BackOff",
            "Back-off pulling image \"reg.test/app:1\""
        )));
        assert!(is_pull_failure_event(&event(
            "InspectFailed",
            "Failed to apply default image tag"
        )));
        assert!(is_pull_failure_event(&event(
            "ErrImageNeverPull",
            "Container image \"x\" is not present with pull policy of Never"
        )));
        assert!(!is_pull_failure_event(&event(
            "BackOff",
            "Back-off restarting failed container app in pod p"
        )));
        assert!(!is_pull_failure_event(&event(
            "Failed",
            "Error: CreateContainerConfigError"
        )));
        assert!(!is_pull_failure_event(&event(
            "Pulled",
            "Successfully pulled image \"x\" in 1s"
        )));
        assert!(!is_pull_failure_event(&event(
            "FailedScheduling",
            "0/3 nodes are available"
        )));
    }

    #[test]
    fn events_match_by_name_namespace_kind_and_uid() {
        let p = pod(json!({"metadata": {"name": "web-0", "namespace": "shop", "uid": "u2"}}));
        let mk = |kind: &str, ns: &str, name: &str, uid: Option<&str>| -> Event {
            serde_json::from_value(json!({"metadata": {"name": "e"},
                "involvedObject": {"kind": kind, "namespace": ns, "name": name, "uid": uid}}))
            .unwrap()
        };
        assert!(event_is_for_pod(
            &mk("Pod", "shop", "web-0", Some("u2")),
            &p
        ));
        assert!(event_is_for_pod(&mk("Pod", "shop", "web-0", None), &p));
        assert!(
            !event_is_for_pod(&mk("Pod", "shop", "web-0", Some("u1")), &p),
            "an earlier pod of the same name"
        );
        assert!(!event_is_for_pod(
            &mk("Pod", "default", "web-0", Some("u2")),
            &p
        ));
        assert!(!event_is_for_pod(
            &mk("StatefulSet", "shop", "web-0", None),
            &p
        ));
    }

    #[test]
    fn docker_secret_types() {
        let s = |t: &str| -> Secret {
            serde_json::from_value(json!({"metadata": {"name": "s"}, "type": t})).unwrap()
        };
        assert!(is_docker_secret(&s("kubernetes.io/dockerconfigjson")));
        assert!(is_docker_secret(&s("kubernetes.io/dockercfg")));
        assert!(!is_docker_secret(&s("Opaque")));
        assert!(!is_docker_secret(&s("helm.sh/release.v1")));
    }
}
