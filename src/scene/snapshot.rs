//! The offline source: a pod's scene read from `kubectl get … -o yaml` or `-o json` output.
//!
//! Accepts what kubectl writes (<https://kubernetes.io/docs/reference/kubectl/#output-options>):
//! a `List` (or a typed `PodList` from the raw API), a multi-document YAML stream, concatenated
//! JSON objects, or single objects. Objects the snapshot lacks are `Lookup::NotFound`. Of other
//! namespaces' secrets, only those named like a pull secret missing from the pod's namespace
//! reach a scene (for the "secret in another namespace" hint), exactly what the live source
//! finds: the rest of the file never changes a pod's diagnosis. A malformed
//! file is `Error::BadFile` with the line, never a panic.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Node, Pod, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::assemble::{Reader, assemble, controller_ref};
use super::containers::{event_is_for_pod, is_failing};
use super::{Lookup, Scene, Source, is_docker_secret};
use crate::{Error, Result};

mod doc;
mod documents;
mod input;
mod json;
mod keep;
mod scan;
mod yaml;

use doc::Doc;
use documents::documents;
use input::Input;
use keep::Keep;

/// Objects read from a snapshot file.
#[derive(Debug, Clone, Default)]
pub struct SnapshotSource {
    path: PathBuf,
    pods: Vec<Pod>,
    events: Vec<Event>,
    secrets: Vec<Secret>,
    secret_namespaces: BTreeSet<String>,
    accounts: Vec<ServiceAccount>,
    nodes: Vec<Node>,
    replica_sets: Vec<ReplicaSet>,
    jobs: Vec<Job>,
    /// Other-namespace secrets per (namespace, missing names), shared by every scene that asks
    /// the same question: a scan of thousands of pods holds one copy, not one per pod.
    others: Arc<Mutex<OthersCache>>,
    /// What this load keeps of the file.
    keep: Keep,
    /// A scan's record of what it read and did not keep.
    scan: scan::ScanKept,
    /// Whether the file held any pod, event or secret, kept or not.
    held_objects: bool,
}

type OthersCache = HashMap<(String, Vec<String>), Arc<Vec<Secret>>>;

impl SnapshotSource {
    /// Reads and parses a snapshot file.
    pub fn load(path: &Path) -> Result<SnapshotSource> {
        SnapshotSource::load_keeping(path, Keep::All)
    }

    /// Reads a snapshot keeping only what `pulldoctor pod NAME` reads: pods called `name`
    /// (in `namespace` when given), their events, and the namespace's secrets, service
    /// accounts and owners, item by item as the file is parsed.
    pub fn load_for_pod(
        path: &Path,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<SnapshotSource> {
        let keep = Keep::Pod {
            namespace: namespace.map(str::to_string),
            name: name.to_string(),
        };
        SnapshotSource::load_keeping(path, keep)
    }

    fn load_keeping(path: &Path, keep: Keep) -> Result<SnapshotSource> {
        let started = std::time::Instant::now();
        let file = std::fs::File::open(path).map_err(|source| Error::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
        let mut input = Input::new(path, file, crate::limits::MAX_SNAPSHOT);
        let snap = SnapshotSource::read_keeping(path, &mut input, keep)?;
        tracing::info!(
            "gather: snapshot {}: read {} lines, kept {} pods, {} events, {} secrets in {} ms",
            path.display(),
            input.line() - 1,
            snap.pods.len(),
            snap.events.len(),
            snap.secrets.len(),
            started.elapsed().as_millis()
        );
        Ok(snap)
    }

    /// Parses snapshot text; `path` is only used in error messages.
    pub fn parse(path: &Path, text: &str) -> Result<SnapshotSource> {
        SnapshotSource::parse_keeping(path, text, Keep::All)
    }

    fn parse_keeping(path: &Path, text: &str, keep: Keep) -> Result<SnapshotSource> {
        let mut input = Input::new(path, text.as_bytes(), u64::MAX);
        SnapshotSource::read_keeping(path, &mut input, keep)
    }

    /// Reads every document of `input` as it comes, keeping what `keep` says.
    fn read_keeping<R: std::io::Read>(
        path: &Path,
        input: &mut Input<R>,
        keep: Keep,
    ) -> Result<SnapshotSource> {
        let mut snap = SnapshotSource {
            path: path.to_path_buf(),
            keep,
            ..SnapshotSource::default()
        };
        documents(path, input, |doc| match doc {
            Doc::Whole(line, value) => snap.add(line, value),
            Doc::Item {
                line,
                kind,
                index,
                value,
            } => snap.add_item(line, &kind, index, value),
        })?;
        snap.check_not_empty()?;
        Ok(snap)
    }

    fn check_not_empty(&self) -> Result<()> {
        if !self.held_objects
            && self.pods.is_empty()
            && self.events.is_empty()
            && self.secrets.is_empty()
        {
            return Err(self.bad(
                1,
                "no Kubernetes objects found (expected kubectl get -o yaml|json output)",
            ));
        }
        Ok(())
    }

    /// Every pod in the snapshot.
    pub fn pods(&self) -> &[Pod] {
        &self.pods
    }

    /// The namespace of the only pod called `name`, for when `-n` was not given.
    pub fn namespace_of(&self, name: &str) -> Option<&str> {
        let mut hits = self
            .pods
            .iter()
            .filter(|p| p.metadata.name.as_deref() == Some(name));
        let first = hits.next()?;
        if hits.next().is_some() {
            return None;
        }
        first.metadata.namespace.as_deref()
    }

    fn bad(&self, line: usize, reason: impl std::fmt::Display) -> Error {
        Error::BadFile {
            path: self.path.clone(),
            reason: format!("line {line}: {reason}"),
        }
    }

    /// Adds one top-level document: a list's items, or a single object.
    fn add(&mut self, line: usize, mut doc: Value) -> Result<()> {
        let kind = doc
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        // Items are taken, not cloned: each one's JSON tree is freed as soon as it is typed,
        // which keeps a 10,000-pod snapshot from holding two copies at once.
        let items = match doc.get_mut("items") {
            Some(items) if kind.ends_with("List") && items.is_array() => Some(items.take()),
            _ => None,
        };
        if let Some(Value::Array(items)) = items {
            for (i, item) in items.into_iter().enumerate() {
                self.add_item(line, &kind, i, item)?;
            }
            return Ok(());
        }
        if !doc.is_object() {
            return Err(self.bad(line, "expected a Kubernetes object (a mapping with kind)"));
        }
        self.add_object(doc).map_err(|e| self.bad(line, e))
    }

    /// Adds item `i` of a `…List` document.
    fn add_item(&mut self, line: usize, kind: &str, i: usize, mut item: Value) -> Result<()> {
        // The raw API leaves kind out of a typed list's items; kubectl's `List` keeps it.
        let item_kind = kind.strip_suffix("List").unwrap_or("");
        if item.get("kind").is_none()
            && !item_kind.is_empty()
            && let Some(map) = item.as_object_mut()
        {
            map.insert("kind".into(), Value::String(item_kind.to_string()));
        }
        self.add_object(item)
            .map_err(|e| self.bad(line, format!("item {i} of the {kind}: {e}")))
    }

    /// Adds one object of a kind the scene uses; other kinds are ignored.
    fn add_object(&mut self, mut obj: Value) -> std::result::Result<(), String> {
        let kind = obj
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        if matches!(kind.as_str(), "Pod" | "Event" | "Secret") {
            self.held_objects = true;
        }
        if !self.keep.wants(&kind, &mut obj) {
            return Ok(());
        }
        if matches!(self.keep, Keep::Scan) {
            return self.add_for_scan(&kind, obj);
        }
        self.add_typed(&kind, obj)
    }

    /// Types and keeps one object of a kind the scene uses.
    fn add_typed(&mut self, kind: &str, mut obj: Value) -> std::result::Result<(), String> {
        match kind {
            "Pod" => self.pods.push(typed(kind, obj)?),
            "Event" => self.events.push(typed_event(obj)?),
            "Secret" => {
                let s: Secret = typed(kind, obj)?;
                self.secret_namespaces
                    .insert(s.metadata.namespace.clone().unwrap_or_default());
                self.secrets.push(s);
            }
            "ServiceAccount" => self.accounts.push(typed(kind, obj)?),
            "Node" => self.nodes.push(typed(kind, obj)?),
            "ReplicaSet" => self.replica_sets.push(typed(kind, obj)?),
            "Job" => self.jobs.push(typed(kind, obj)?),
            "" => return Err("an object without kind".to_string()),
            _ => {
                obj.take();
            }
        }
        Ok(())
    }
}

/// An Event of either API group in the core shape.
fn typed_event(obj: Value) -> std::result::Result<Event, String> {
    if obj.get("apiVersion").and_then(Value::as_str) == Some("events.k8s.io/v1") {
        typed("Event", events_v1_to_core(obj))
    } else {
        typed("Event", obj)
    }
}

/// Converts one object to its k8s-openapi type, naming it in the error.
fn typed<T: DeserializeOwned>(kind: &str, obj: Value) -> std::result::Result<T, String> {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let ns = obj
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .map(|n| format!("{n}/"))
        .unwrap_or_default();
    // serde quotes the value it rejects: for a Secret, that is the docker config itself.
    serde_json::from_value(obj).map_err(|e| {
        let reason = crate::scrub::without_quoted_values(&e.to_string());
        format!("{kind} {ns}{name}: {reason}")
    })
}

/// An `events.k8s.io/v1` Event in the core shape (`regarding` → `involvedObject`, `note` →
/// `message`), which is what kubelet's events look like through `kubectl get events`.
fn events_v1_to_core(mut obj: Value) -> Value {
    if let Some(map) = obj.as_object_mut() {
        map.insert("apiVersion".into(), Value::String("v1".into()));
        for (from, to) in [
            ("regarding", "involvedObject"),
            ("note", "message"),
            ("deprecatedCount", "count"),
            ("deprecatedFirstTimestamp", "firstTimestamp"),
            ("deprecatedLastTimestamp", "lastTimestamp"),
            ("deprecatedSource", "source"),
        ] {
            if let Some(v) = map.remove(from) {
                map.insert(to.into(), v);
            }
        }
        if !map.contains_key("involvedObject") {
            map.insert("involvedObject".into(), Value::Object(Default::default()));
        }
    }
    obj
}

impl Source for SnapshotSource {
    async fn pod_scene(&self, namespace: &str, name: &str) -> Result<Scene> {
        let pod = self
            .pods
            .iter()
            .find(|p| {
                p.metadata.name.as_deref() == Some(name)
                    && p.metadata.namespace.as_deref() == Some(namespace)
            })
            .cloned()
            .ok_or_else(|| Error::PodNotFound {
                namespace: namespace.to_string(),
                name: name.to_string(),
            })?;
        let events = self
            .events
            .iter()
            .filter(|e| event_is_for_pod(e, &pod))
            .cloned()
            .collect();
        assemble(self, pod, events, Vec::new()).await
    }

    async fn failing_pods(&self, namespace: Option<&str>) -> Result<Vec<Scene>> {
        // Events indexed once by (namespace, pod name): matching every pod against every
        // event is 10,000 × 50,000 comparisons on a large cluster's snapshot.
        let mut by_pod: HashMap<(&str, &str), Vec<&Event>> = HashMap::new();
        for e in &self.events {
            let io = &e.involved_object;
            if let Some(name) = io.name.as_deref() {
                let ns = io.namespace.as_deref().unwrap_or("");
                by_pod.entry((ns, name)).or_default().push(e);
            }
        }
        let mut scenes = Vec::new();
        for pod in &self.pods {
            if namespace.is_some_and(|n| pod.metadata.namespace.as_deref() != Some(n)) {
                continue;
            }
            let key = (
                pod.metadata.namespace.as_deref().unwrap_or(""),
                pod.metadata.name.as_deref().unwrap_or(""),
            );
            let events: Vec<Event> = by_pod
                .get(&key)
                .into_iter()
                .flatten()
                .filter(|e| event_is_for_pod(e, pod))
                .map(|e| (*e).clone())
                .collect();
            if is_failing(pod, &events) {
                scenes.push(assemble(self, pod.clone(), events, self.scan_cuts()).await?);
            }
        }
        Ok(scenes)
    }
}

fn named<'a, T, F>(items: &'a [T], meta: F, namespace: Option<&str>, name: &str) -> Lookup<T>
where
    T: Clone + 'a,
    F: Fn(&'a T) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
{
    items
        .iter()
        .find(|o| {
            let m = meta(o);
            m.name.as_deref() == Some(name)
                && (namespace.is_none() || m.namespace.as_deref() == namespace)
        })
        .cloned()
        .map_or(Lookup::NotFound, Lookup::Found)
}

impl Reader for SnapshotSource {
    async fn secret(&self, namespace: &str, name: &str) -> Result<Lookup<Secret>> {
        Ok(named(&self.secrets, |s| &s.metadata, Some(namespace), name))
    }

    async fn service_account(&self, namespace: &str, name: &str) -> Result<Lookup<ServiceAccount>> {
        Ok(named(
            &self.accounts,
            |s| &s.metadata,
            Some(namespace),
            name,
        ))
    }

    async fn node(&self, name: &str) -> Result<Lookup<Node>> {
        Ok(named(&self.nodes, |n| &n.metadata, None, name))
    }

    async fn controller_of(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
    ) -> Result<Lookup<Option<OwnerReference>>> {
        let refs = match kind {
            "ReplicaSet" => named(&self.replica_sets, |o| &o.metadata, Some(namespace), name)
                .found()
                .map(|o| controller_ref(o.metadata.owner_references.as_ref())),
            "Job" => named(&self.jobs, |o| &o.metadata, Some(namespace), name)
                .found()
                .map(|o| controller_ref(o.metadata.owner_references.as_ref())),
            _ => Some(None),
        };
        Ok(refs.map_or(Lookup::NotFound, Lookup::Found))
    }

    async fn namespace_pull_secrets(&self, namespace: &str) -> Result<Lookup<Vec<Secret>>> {
        if !self.secret_namespaces.contains(namespace) {
            return Ok(Lookup::NotFound);
        }
        let mut docker: Vec<Secret> = self
            .secrets
            .iter()
            .filter(|s| s.metadata.namespace.as_deref() == Some(namespace) && is_docker_secret(s))
            .cloned()
            .collect();
        // In name order, as the API server lists them, whatever order the file holds them in:
        // which unreferenced secret a fix names must not depend on how the file was written.
        docker.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        Ok(Lookup::Found(docker))
    }

    async fn other_namespace_secrets(
        &self,
        namespace: &str,
        names: &[String],
    ) -> Result<(Arc<Vec<Secret>>, Vec<String>)> {
        let mut names = names.to_vec();
        names.sort();
        let key = (namespace.to_string(), names);
        if let Some(hit) = self.others.lock().ok().and_then(|c| c.get(&key).cloned()) {
            return Ok((hit, Vec::new()));
        }
        let names = &key.1;
        let others: Arc<Vec<Secret>> = self
            .secrets
            .iter()
            .filter(|s| s.metadata.namespace.as_deref() != Some(namespace))
            .filter(|s| s.metadata.name.as_ref().is_some_and(|n| names.contains(n)))
            .cloned()
            .collect::<Vec<_>>()
            .into();
        if let Ok(mut cache) = self.others.lock() {
            cache.insert(key, others.clone());
        }
        Ok((others, Vec::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SnapshotSource> {
        SnapshotSource::parse(Path::new("bundle.yaml"), text)
    }

    fn reason(e: Error) -> String {
        match e {
            Error::BadFile { path, reason } => {
                assert_eq!(path, Path::new("bundle.yaml"));
                reason
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_json_names_its_line() {
        let r = reason(
            parse("{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"List\",\n  \"items\": [\n")
                .unwrap_err(),
        );
        assert!(r.starts_with("line 5: invalid JSON"), "{r}");
    }

    #[test]
    fn bad_yaml_in_a_later_document_names_the_absolute_line() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata: {name: a, namespace: shop}\n---\nkind: Pod\nmetadata:\n  name: [unclosed\n";
        let r = reason(parse(text).unwrap_err());
        assert!(
            r.starts_with("line 8: invalid YAML")
                && r.contains("at line 8 column 1")
                && r.contains("at line 7 column 9"),
            "{r}"
        );
    }

    #[test]
    fn an_object_of_the_wrong_shape_is_named() {
        let text = "kind: List\napiVersion: v1\nitems:\n- kind: Pod\n  apiVersion: v1\n  metadata: {name: web, namespace: shop}\n  spec: {containers: \"nginx\"}\n";
        let r = reason(parse(text).unwrap_err());
        assert!(
            r.starts_with("line 1: item 0 of the List: Pod shop/web: invalid type"),
            "{r}"
        );
    }

    #[test]
    fn empty_or_foreign_files_are_refused() {
        assert!(reason(parse("").unwrap_err()).contains("no Kubernetes objects"));
        assert!(
            reason(parse("just some text\n").unwrap_err()).contains("expected a Kubernetes object")
        );
        assert!(reason(parse("- a\n- b\n").unwrap_err()).contains("expected a Kubernetes object"));
        assert!(reason(parse("metadata: {name: x}\n").unwrap_err()).contains("without kind"));
    }

    #[test]
    fn items_without_kind_wait_for_the_lists_kind_written_after_them() {
        let yaml = "apiVersion: v1\nitems:\n- metadata: {name: a, namespace: shop}\n  spec: {containers: []}\n- kind: Secret\n  metadata: {name: s, namespace: shop}\nkind: PodList\nmetadata: {}\n";
        let snap = parse(yaml).unwrap();
        assert_eq!((snap.pods().len(), snap.secrets.len()), (1, 1));
        let json = r#"{"apiVersion": "v1", "items": [{"metadata": {"name": "a", "namespace": "shop"},
            "spec": {"containers": []}}], "kind": "PodList"}"#;
        assert_eq!(parse(json).unwrap().pods().len(), 1);
        // Items read as a list's before the document said it is not one: refused by line.
        let r = reason(
            parse("apiVersion: v1\nitems:\n- kind: Pod\n  metadata: {name: a}\nkind: Pod\n")
                .unwrap_err(),
        );
        assert!(
            r.starts_with("line 1: a Pod holding a list of items"),
            "{r}"
        );
    }

    #[tokio::test]
    async fn typed_lists_and_events_v1_are_understood() {
        // A raw-API PodList (items without kind) and an events.k8s.io/v1 Event.
        let text = r#"{"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": [
              {"metadata": {"name": "web", "namespace": "shop", "uid": "u1"}, "spec": {"containers": [{"name": "web", "image": "reg.test/web:1"}]}}]}
            {"kind": "Event", "apiVersion": "events.k8s.io/v1", "metadata": {"name": "web.1", "namespace": "shop"},
             "eventTime": null, "reason": "Failed", "note": "Failed to pull image \"reg.test/web:1\": not found",
             "regarding": {"kind": "Pod", "name": "web", "namespace": "shop", "uid": "u1"}, "type": "Warning"}"#;
        let snap = SnapshotSource::parse(Path::new("bundle.json"), text).unwrap();
        assert_eq!(snap.pods().len(), 1);
        let scene = snap.pod_scene("shop", "web").await.unwrap();
        assert_eq!(scene.events.len(), 1);
        assert_eq!(
            scene.events[0].message.as_deref(),
            Some("Failed to pull image \"reg.test/web:1\": not found")
        );
        assert_eq!(
            scene.namespace_pull_secrets,
            Lookup::NotFound,
            "the bundle holds no secrets"
        );
        assert_eq!(scene.service_account, Lookup::NotFound);
        assert_eq!(scene.node, Lookup::NotAsked);
    }
}
