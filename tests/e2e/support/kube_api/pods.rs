//! The test API server's one writable resource: pods created, read back with their log, and
//! deleted — what `pod --from-node`'s probe pod needs, answered as kube-apiserver answers.
//!
//! Reproduced (<https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/>):
//! `POST /api/v1/namespaces/NS/pods` answers 201 with the stored object (`generateName` gets
//! five random characters, a taken name 409 AlreadyExists); RBAC's 403 for `create` and
//! `delete`; Pod Security Admission's 403 when the namespace is labelled
//! `pod-security.kubernetes.io/enforce` (`violates PodSecurity "baseline:latest": host
//! namespaces (hostNetwork=true), hostPath volumes (volumes "a", "b")`, the checks of
//! <https://kubernetes.io/docs/concepts/security/pod-security-standards/>);
//! `GET …/pods/NAME/log` as text, or 400 while the container waits to start;
//! `DELETE …/pods/NAME` answering 200 with the object. The test kubelet hears of each create
//! and delete through [`PodEvent`]s and writes status and log back through [`Pods`].

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::{Value, json};

use super::store::{self, Reply};
use super::{KubeApi, State, Verb};

/// What a listener hears about pods.
#[derive(Debug, Clone)]
pub enum PodEvent {
    /// A pod was created: the stored object.
    Created(Value),
    /// A pod was deleted.
    Deleted { namespace: String, name: String },
}

/// What the server remembers of pod writes.
#[derive(Default)]
pub(super) struct Written {
    /// `ns/name` → the container's output so far.
    logs: std::collections::BTreeMap<String, String>,
    /// Every pod created, as stored.
    pub created: Vec<Value>,
    /// `ns/name` of every pod deleted, in order.
    pub deleted: Vec<String>,
    listeners: Vec<std::sync::mpsc::Sender<PodEvent>>,
    generated: u64,
}

fn pods_rt() -> &'static store::ResourceType {
    store::resource("", "pods").expect("pods")
}

/// `POST …/pods` and `DELETE …/pods/NAME`; None for any other request.
pub(super) fn write(
    st: &mut State,
    method: &str,
    path: &str,
    body: &Bytes,
    user_of: &dyn Fn(&State) -> String,
    event: &mut Option<PodEvent>,
) -> Option<Reply> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rt = pods_rt();
    match (method, segs.as_slice()) {
        ("POST", ["api", "v1", "namespaces", ns, "pods"]) => {
            if st.forbidden.contains(&("pods".to_string(), Verb::Create)) {
                return Some(store::forbidden(rt, "create", &user_of(st), Some(ns), None));
            }
            Some(create(st, ns, body, event))
        }
        ("DELETE", ["api", "v1", "namespaces", ns, "pods", name]) => {
            if st.forbidden.contains(&("pods".to_string(), Verb::Delete)) {
                return Some(store::forbidden(
                    rt,
                    "delete",
                    &user_of(st),
                    Some(ns),
                    Some(name),
                ));
            }
            let Some(mut pod) = st.store.remove(rt, Some(ns), name) else {
                return Some(store::not_found(rt, name));
            };
            st.pods.deleted.push(format!("{ns}/{name}"));
            pod["metadata"]["deletionTimestamp"] = json!("2026-12-05T00:00:30Z");
            pod["metadata"]["deletionGracePeriodSeconds"] = json!(30);
            *event = Some(PodEvent::Deleted {
                namespace: ns.to_string(),
                name: name.to_string(),
            });
            Some((200, pod))
        }
        _ => None,
    }
}

fn create(st: &mut State, ns: &str, body: &Bytes, event: &mut Option<PodEvent>) -> Reply {
    let rt = pods_rt();
    let mut pod: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            let msg = format!("the object provided is unrecognized: {e}");
            return store::status(400, "BadRequest", &msg, Value::Null);
        }
    };
    if pod["kind"] != "Pod" {
        return store::status(400, "BadRequest", "the object is not a Pod", Value::Null);
    }
    if pod["metadata"]["name"].as_str().unwrap_or("").is_empty() {
        let Some(prefix) = pod["metadata"]["generateName"].as_str() else {
            let msg = "Pod \"\" is invalid: metadata.name: Required value: name or generateName is required";
            return store::status(422, "Invalid", msg, json!({"kind": "Pod"}));
        };
        st.pods.generated += 1;
        let suffix: String = format!("{:05x}", 0x9a3c1 + st.pods.generated * 7919)
            .chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    (b'b' + (c as u8 - b'0')) as char
                } else {
                    c
                }
            })
            .take(5)
            .collect();
        pod["metadata"]["name"] = json!(format!("{prefix}{suffix}"));
    }
    let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
    if st.store.get(rt, Some(ns), &name).0 == 200 {
        let msg = format!("pods \"{name}\" already exists");
        return store::status(
            409,
            "AlreadyExists",
            &msg,
            json!({"name": name, "kind": "pods"}),
        );
    }
    let namespace = st
        .store
        .get(store::resource("", "namespaces").expect("ns"), None, ns)
        .1;
    let labels = &namespace["metadata"]["labels"];
    if let Some(level) = labels["pod-security.kubernetes.io/enforce"].as_str()
        && level != "privileged"
    {
        let version = labels["pod-security.kubernetes.io/enforce-version"]
            .as_str()
            .unwrap_or("latest");
        let broken = violations(&pod, level);
        if !broken.is_empty() {
            let msg = format!(
                "pods \"{name}\" is forbidden: violates PodSecurity \"{level}:{version}\": {}",
                broken.join(", ")
            );
            return store::status(
                403,
                "Forbidden",
                &msg,
                json!({"name": name, "kind": "pods"}),
            );
        }
    }
    pod["metadata"]["namespace"] = json!(ns);
    pod["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
    if let Err(e) = st.store.put(pod) {
        return store::status(400, "BadRequest", &e, Value::Null);
    }
    let (_, stored) = st.store.get(rt, Some(ns), &name);
    st.pods.created.push(stored.clone());
    *event = Some(PodEvent::Created(stored.clone()));
    (201, stored)
}

/// Pod Security Standards checks the probe pod can trip, worded as the admission plugin does.
fn violations(pod: &Value, level: &str) -> Vec<String> {
    let spec = &pod["spec"];
    let mut out = Vec::new();
    let host: Vec<String> = ["hostNetwork", "hostPID", "hostIPC"]
        .iter()
        .filter(|f| spec[**f] == true)
        .map(|f| format!("{f}=true"))
        .collect();
    if !host.is_empty() {
        out.push(format!("host namespaces ({})", host.join(", ")));
    }
    let host_paths: Vec<String> = spec["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v.get("hostPath").is_some())
        .map(|v| format!("{:?}", v["name"].as_str().unwrap_or("")))
        .collect();
    if !host_paths.is_empty() {
        let word = if host_paths.len() == 1 {
            "volume"
        } else {
            "volumes"
        };
        out.push(format!(
            "hostPath volumes ({word} {})",
            host_paths.join(", ")
        ));
    }
    let containers: Vec<&Value> = spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    for c in &containers {
        if c["securityContext"]["privileged"] == true {
            out.push(format!(
                "privileged (container {:?} must not set securityContext.privileged=true)",
                c["name"].as_str().unwrap_or("")
            ));
        }
    }
    if level == "restricted" {
        for c in &containers {
            let name = c["name"].as_str().unwrap_or("");
            let sc = &c["securityContext"];
            if sc["allowPrivilegeEscalation"] != false {
                out.push(format!("allowPrivilegeEscalation != false (container {name:?} must set securityContext.allowPrivilegeEscalation=false)"));
            }
            let drops_all = sc["capabilities"]["drop"]
                .as_array()
                .is_some_and(|d| d.iter().any(|c| c == "ALL"));
            if !drops_all {
                out.push(format!("unrestricted capabilities (container {name:?} must set securityContext.capabilities.drop=[\"ALL\"])"));
            }
            let non_root = sc["runAsNonRoot"] == true
                || (sc["runAsNonRoot"].is_null()
                    && spec["securityContext"]["runAsNonRoot"] == true);
            if !non_root {
                out.push(format!("runAsNonRoot != true (pod or container {name:?} must set securityContext.runAsNonRoot=true)"));
            }
            let seccomp = sc["seccompProfile"]["type"]
                .as_str()
                .or(spec["securityContext"]["seccompProfile"]["type"].as_str());
            if !matches!(seccomp, Some("RuntimeDefault" | "Localhost")) {
                out.push(format!("seccompProfile (pod or container {name:?} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"));
            }
        }
    }
    out
}

/// `GET …/pods/NAME/log`; None for any other request.
pub(super) fn log(st: &State, path: &str, _query: &str) -> Option<Reply> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let ["api", "v1", "namespaces", ns, "pods", name, "log"] = segs.as_slice() else {
        return None;
    };
    let rt = pods_rt();
    if st.forbidden.contains(&("pods/log".to_string(), Verb::Get)) {
        let sub = store::ResourceType {
            resource: "pods/log",
            ..*rt
        };
        return Some(store::forbidden(
            &sub,
            "get",
            super::USER,
            Some(ns),
            Some(name),
        ));
    }
    let (code, pod) = st.store.get(rt, Some(ns), name);
    if code != 200 {
        return Some((code, pod));
    }
    match st.pods.logs.get(&format!("{ns}/{name}")) {
        Some(text) => Some((200, Value::String(text.clone()))),
        None => {
            let container = pod["spec"]["containers"][0]["name"].as_str().unwrap_or("");
            let msg = format!(
                "container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"
            );
            Some(store::status(400, "BadRequest", &msg, Value::Null))
        }
    }
}

/// Tells every listener about a pod write.
pub(super) fn announce(state: &Mutex<State>, event: PodEvent) {
    let mut st = state.lock().unwrap();
    st.pods.listeners.retain(|l| l.send(event.clone()).is_ok());
}

/// The kubelet's side of the server: pod status, logs and secrets.
#[derive(Clone)]
pub struct Pods {
    pub(super) state: Arc<Mutex<State>>,
}

impl Pods {
    /// Listens for pod creates and deletes from now on.
    pub(super) fn subscribe(
        state: &Arc<Mutex<State>>,
    ) -> (Pods, std::sync::mpsc::Receiver<PodEvent>) {
        let (tx, rx) = std::sync::mpsc::channel();
        state.lock().unwrap().pods.listeners.push(tx);
        (
            Pods {
                state: state.clone(),
            },
            rx,
        )
    }

    /// Replaces a pod's status (false when the pod is gone).
    pub fn set_status(&self, namespace: &str, name: &str, status: Value) -> bool {
        let mut st = self.state.lock().unwrap();
        let (code, mut pod) = st.store.get(pods_rt(), Some(namespace), name);
        if code != 200 {
            return false;
        }
        pod["status"] = status;
        st.store.put(pod).is_ok()
    }

    /// Sets what `kubectl logs` prints for the pod.
    pub fn set_log(&self, namespace: &str, name: &str, text: &str) {
        let mut st = self.state.lock().unwrap();
        st.pods
            .logs
            .insert(format!("{namespace}/{name}"), text.to_string());
    }

    /// One object as stored (a Secret for a secret volume).
    pub fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        let st = self.state.lock().unwrap();
        let rt = store::resource("", resource)?;
        let (code, obj) = st.store.get(rt, Some(namespace), name);
        (code == 200).then_some(obj)
    }
}

impl Verb {
    /// The verb as RBAC names it.
    pub fn word(self) -> &'static str {
        match self {
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Create => "create",
            Verb::Delete => "delete",
        }
    }
}

impl KubeApi {
    /// Listens for pod creates and deletes (the test kubelet), with a handle to answer them.
    pub fn subscribe_pods(&self) -> (Pods, std::sync::mpsc::Receiver<PodEvent>) {
        Pods::subscribe(&self.state)
    }

    /// Every pod created so far, as stored.
    pub fn created_pods(&self) -> Vec<Value> {
        self.state.lock().unwrap().pods.created.clone()
    }

    /// `namespace/name` of every pod deleted so far.
    pub fn deleted_pods(&self) -> Vec<String> {
        self.state.lock().unwrap().pods.deleted.clone()
    }

    /// The pods stored now in `namespace`.
    pub fn pods_in(&self, namespace: &str) -> Vec<Value> {
        let st = self.state.lock().unwrap();
        let rt = store::resource("", "pods").expect("pods");
        let (_, list) = st.store.list(rt, Some(namespace), &Default::default());
        list["items"].as_array().cloned().unwrap_or_default()
    }
}
