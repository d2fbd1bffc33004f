//! What a command keeps of a snapshot as it is read: everything, one pod's share, or a scan's.
//!
//! `pulldoctor pod NAME` needs that pod, its events, and the secrets, service account and
//! owners of its namespace (kubelet looks nowhere else, and the "secret in another namespace"
//! finding needs other namespaces' secrets by name and type only). A snapshot of a whole
//! cluster is mostly other pods and their events; dropping those as each item is read keeps a
//! 200 MB snapshot from becoming gigabytes of typed objects.

use serde_json::Value;

/// Which objects a load keeps.
#[derive(Debug, Clone, Default)]
pub(super) enum Keep {
    /// Every object of a kind the scene uses.
    #[default]
    All,
    /// One pod's share: pods called `name`, their events, and the namespaced objects of
    /// `namespace` (of every namespace when it is not known yet).
    Pod {
        namespace: Option<String>,
        name: String,
    },
    /// A scan's share: pods with a waiting container (judged once typed), everything else but
    /// the events of pods already read without one (kubectl writes pods before events).
    Scan,
}

/// A secret's `data` bigger than this, outside the pod's namespace and not a docker secret,
/// is kept without its values (Helm release secrets run to megabytes).
const BIG_SECRET: usize = 64 * 1024;

fn text<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

impl Keep {
    /// Whether to keep `obj` (of `kind`); may slim it first.
    pub(super) fn wants(&self, kind: &str, obj: &mut Value) -> bool {
        let Keep::Pod { namespace, name } = self else {
            return true;
        };
        let in_ns = |v: &Value| {
            namespace
                .as_deref()
                .is_none_or(|n| text(v, "/metadata/namespace").unwrap_or("default") == n)
        };
        match kind {
            "Pod" => text(obj, "/metadata/name") == Some(name) && in_ns(obj),
            "Event" => {
                let about = ["/involvedObject", "/regarding"]
                    .iter()
                    .find_map(|p| obj.pointer(p).filter(|o| o.is_object()));
                about.is_some_and(|o| {
                    text(o, "/name") == Some(name)
                        && namespace
                            .as_deref()
                            .is_none_or(|n| text(o, "/namespace").is_none_or(|x| x == n))
                })
            }
            "Secret" => {
                let known_home = namespace.is_some() && in_ns(obj);
                if !known_home && !is_docker_secret_value(obj) {
                    slim_secret(obj);
                }
                true
            }
            "ServiceAccount" | "ReplicaSet" | "Job" => in_ns(obj),
            _ => true,
        }
    }
}

/// The (namespace, name) of the pod an event is about, as `list.rs`'s `event_pod` reads it
/// once typed (`regarding` for `events.k8s.io/v1`); None when it is not about a pod.
pub(super) fn event_pod_key(obj: &Value) -> Option<(String, String)> {
    let about = ["/involvedObject", "/regarding"]
        .iter()
        .find_map(|p| obj.pointer(p).filter(|o| o.is_object()))?;
    Some((
        text(about, "/namespace").unwrap_or("").to_string(),
        text(about, "/name")?.to_string(),
    ))
}

/// A docker secret by its `type`, as `is_docker_secret` judges the typed one.
fn is_docker_secret_value(obj: &Value) -> bool {
    matches!(
        text(obj, "/type"),
        Some("kubernetes.io/dockerconfigjson" | "kubernetes.io/dockercfg")
    )
}

/// Drops the values of a large secret's `data` and `stringData`, keeping its keys.
fn slim_secret(obj: &mut Value) {
    for field in ["data", "stringData"] {
        if let Some(Value::Object(map)) = obj.get_mut(field) {
            let size: usize = map.values().map(|v| v.as_str().map_or(0, str::len)).sum();
            if size > BIG_SECRET {
                for v in map.values_mut() {
                    *v = Value::String(String::new());
                }
            }
        }
    }
}
