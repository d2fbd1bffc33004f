//! Reading a large kubectl JSON `List` snapshot item by item, and the scan's slimmer load.
//!
//! `kubectl get pods,events,secrets,… -A -o json` of a 10,000-pod cluster is a 30 MB `List`;
//! parsed whole into one JSON tree it needs ten times that. Here the items stay text until
//! each is typed, and a scan keeps only the pods that can be failing a pull (a waiting
//! container, as `is_failing` requires) and their events.

use std::collections::HashSet;
use std::path::Path;

use k8s_openapi::api::core::v1::Event;
use serde_json::Value;
use serde_json::value::RawValue;

use super::super::containers::any_container_waiting;
use super::{Keep, SnapshotSource, read_snapshot};
use crate::Result;

impl SnapshotSource {
    /// Reads a snapshot keeping only what a scan reads: pods with a waiting container (the
    /// only ones `is_failing` can pick) and their events, with every secret, account, node
    /// and owner. A 10,000-pod cluster's healthy pods and their events are never kept.
    pub fn load_for_scan(path: &Path) -> Result<SnapshotSource> {
        let text = read_snapshot(path)?;
        let mut snap = match json_list(&text) {
            Some(list) => SnapshotSource::from_list(path, list, true, Keep::All)?,
            None => SnapshotSource::parse_keeping(path, &text, Keep::Scan)?,
        };
        let waiting = snap.keep_waiting_pods();
        snap.events.retain(|e| waiting.contains(&event_pod(e)));
        Ok(snap)
    }

    /// Drops pods with no waiting container; returns the (namespace, name) of those kept.
    fn keep_waiting_pods(&mut self) -> HashSet<(String, String)> {
        self.pods.retain(any_container_waiting);
        self.pods
            .iter()
            .map(|p| {
                let m = &p.metadata;
                (
                    m.namespace.clone().unwrap_or_default(),
                    m.name.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Reads a kubectl JSON `List` one item at a time: each item is parsed, typed and freed
    /// before the next, so a 30 MB snapshot never becomes one JSON tree ten times its size.
    /// With `scan_only`, events are read last and only those of pods with a waiting container.
    pub(super) fn from_list(
        path: &Path,
        list: RawList<'_>,
        scan_only: bool,
        keep: Keep,
    ) -> Result<SnapshotSource> {
        let mut snap = SnapshotSource {
            path: path.to_path_buf(),
            keep,
            ..SnapshotSource::default()
        };
        let parse = |snap: &SnapshotSource, i: usize, raw: &serde_json::value::RawValue| {
            serde_json::from_str::<Value>(raw.get())
                .map_err(|e| snap.bad(1, format!("item {i} of the {}: {e}", list.kind)))
        };
        let mut later = Vec::new();
        let mut saw_pods = false;
        for (i, raw) in list.items.iter().enumerate() {
            if scan_only && item_kind(raw, &list.kind) == "Event" {
                later.push((i, *raw));
                continue;
            }
            let item = parse(&snap, i, raw)?;
            let pods = snap.pods.len();
            snap.add_item(1, &list.kind, i, item)?;
            if scan_only && snap.pods.len() > pods {
                saw_pods = true;
                if !any_container_waiting(&snap.pods[pods]) {
                    snap.pods.truncate(pods);
                }
            }
        }
        // Emptiness is judged on what the file holds, before the scan's filtering.
        let holds_objects = saw_pods || !snap.pods.is_empty() || !later.is_empty();
        let waiting = if scan_only {
            snap.keep_waiting_pods()
        } else {
            HashSet::new()
        };
        for (i, raw) in later {
            let item = parse(&snap, i, raw)?;
            let before = snap.events.len();
            snap.add_item(1, &list.kind, i, item)?;
            if snap.events.len() > before && !waiting.contains(&event_pod(&snap.events[before])) {
                snap.events.truncate(before);
            }
        }
        if !holds_objects {
            snap.check_not_empty()?;
        }
        Ok(snap)
    }
}

/// The kind of a list item without parsing the rest of it (a typed list's items have none).
fn item_kind(raw: &RawValue, list_kind: &str) -> String {
    #[derive(serde::Deserialize)]
    struct KindOnly {
        kind: Option<String>,
    }
    serde_json::from_str::<KindOnly>(raw.get())
        .ok()
        .and_then(|k| k.kind)
        .unwrap_or_else(|| list_kind.strip_suffix("List").unwrap_or("").to_string())
}

/// The (namespace, name) of the pod an event is about.
fn event_pod(e: &Event) -> (String, String) {
    let io = &e.involved_object;
    (
        io.namespace.clone().unwrap_or_default(),
        io.name.clone().unwrap_or_default(),
    )
}

/// A JSON `…List` with its items still as text.
#[derive(serde::Deserialize)]
pub(super) struct RawList<'a> {
    kind: String,
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
}

/// The text as one JSON `…List`, or None (YAML, a stream of objects, a single object, or
/// invalid JSON, which the general path reads and reports with its line).
pub(super) fn json_list(text: &str) -> Option<RawList<'_>> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    let list: RawList = serde_json::from_str(text).ok()?;
    list.kind.ends_with("List").then_some(list)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::Source;

    #[tokio::test]
    async fn a_scan_keeps_waiting_pods_and_their_events_only() {
        let pod = |name: &str, state: &str| {
            format!(
                r#"{{"kind": "Pod", "apiVersion": "v1", "metadata": {{"name": "{name}", "namespace": "shop", "uid": "u-{name}"}},
                  "spec": {{"containers": [{{"name": "app", "image": "reg.test/app:1"}}]}},
                  "status": {{"containerStatuses": [{{"name": "app", "image": "reg.test/app:1", "imageID": "", "ready": false, "restartCount": 0, "state": {state}}}]}}}}"#
            )
        };
        let event = |pod: &str| {
            format!(
                r#"{{"kind": "Event", "apiVersion": "v1", "metadata": {{"name": "{pod}.1", "namespace": "shop"}}, "reason": "Failed",
                  "message": "Failed to pull image reg.test/app:1: not found", "involvedObject": {{"kind": "Pod", "name": "{pod}", "namespace": "shop", "uid": "u-{pod}"}}}}"#
            )
        };
        let waiting = r#"{"waiting": {"reason": "ImagePullBackOff", "message": "Back-off"}}"#;
        let running = r#"{"running": {"startedAt": "2026-11-20T09:00:10Z"}}"#;
        let text = format!(
            r#"{{"apiVersion": "v1", "items": [{}, {}, {}, {}], "kind": "List", "metadata": {{}}}}"#,
            event("web-0"),
            pod("web-0", waiting),
            pod("ok-0", running),
            event("ok-0")
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cluster.json");
        std::fs::write(&file, &text).unwrap();
        let full = SnapshotSource::load(&file).unwrap();
        assert_eq!((full.pods().len(), full.events.len()), (2, 2));
        let scan = SnapshotSource::load_for_scan(&file).unwrap();
        let names: Vec<_> = scan
            .pods()
            .iter()
            .map(|p| p.metadata.name.clone())
            .collect();
        assert_eq!(names, vec![Some("web-0".to_string())]);
        assert_eq!(scan.events.len(), 1);
        let scenes = scan.failing_pods(None).await.unwrap();
        assert_eq!(scenes.len(), 1);
        assert_eq!(scenes[0].events.len(), 1, "the waiting pod keeps its event");
        // A snapshot whose pods are all healthy is a valid, empty scan, not a bad file.
        std::fs::write(
            &file,
            format!(r#"{{"kind": "List", "items": [{}]}}"#, pod("ok-0", running)),
        )
        .unwrap();
        assert!(
            SnapshotSource::load_for_scan(&file)
                .unwrap()
                .pods()
                .is_empty()
        );
    }
}
