//! What a scan keeps of a snapshot as it is read: pods with a waiting container (the only ones
//! `is_failing` can pick), slimmed, and their events; every secret, account, node and owner.
//!
//! A 100,000-pod cluster's snapshot is mostly healthy pods and their events. A healthy pod is
//! judged on its parsed value and never typed; an event about a pod already read healthy is
//! dropped as it is read; one about a pod not read yet (a file listing events before pods)
//! waits until the end, then stays only if its pod was kept. The waiting pods and events kept
//! are capped as the live scan caps them ([`MAX_KEPT_PODS`], [`MAX_KEPT_EVENTS`]); at the pod
//! cap a pod whose container waits on a pull reason takes the place of one that only waits
//! (which only its events could show failing), so a cluster of crash-looping pods cannot
//! crowd out the pull failures. Each cut is said in the report.

use std::collections::HashSet;
use std::path::Path;

use k8s_openapi::api::core::v1::{Event, Pod};
use serde_json::Value;

use super::keep::event_pod_key;
use super::{Keep, SnapshotSource, typed, typed_event};
use crate::Result;
use crate::scene::containers::pull_failing_containers;
use crate::scene::live::{MAX_KEPT_EVENTS, MAX_KEPT_PODS};

/// A scan's record of what it read and did not keep.
#[derive(Debug, Clone, Default)]
pub(super) struct ScanKept {
    /// Pods read and not kept (no waiting container, or past the cap), by (namespace, name):
    /// their events are dropped as they are read.
    dropped: HashSet<(String, String)>,
    /// Pods kept, by (namespace, name).
    kept: HashSet<(String, String)>,
    /// Indices in `pods` of kept pods with no container waiting on a pull reason: the first
    /// to give way at the cap.
    only_waiting: Vec<usize>,
    /// Events about pods not read yet.
    early: Vec<Event>,
    /// Waiting pods and their events past the caps.
    pods_cut: usize,
    events_cut: usize,
}

impl SnapshotSource {
    /// Reads a snapshot keeping only what a scan reads: pods with a waiting container (the only
    /// ones `is_failing` can pick) and their events, with every secret, account, node and
    /// owner. A large cluster's healthy pods and their events are never kept.
    pub fn load_for_scan(path: &Path) -> Result<SnapshotSource> {
        let mut snap = SnapshotSource::load_keeping(path, Keep::Scan)?;
        let kept = &snap.scan.kept;
        // Events of pods that gave way at the cap, and those read before their pod.
        snap.events.retain(|e| kept.contains(&event_pod(e)));
        let early = std::mem::take(&mut snap.scan.early);
        for e in early {
            if snap.scan.kept.contains(&event_pod(&e)) {
                snap.keep_event(e);
            }
        }
        Ok(snap)
    }

    /// Adds one object of a scan: pods and events as above, the rest as any load does.
    pub(super) fn add_for_scan(
        &mut self,
        kind: &str,
        obj: Value,
    ) -> std::result::Result<(), String> {
        match kind {
            "Pod" => {
                let key = pod_key(&obj);
                if !value_waiting(&obj) {
                    self.scan.dropped.insert(key);
                    return Ok(());
                }
                let mut pod: Pod = typed(kind, obj)?;
                slim(&mut pod.metadata);
                let pulling = !pull_failing_containers(&pod).is_empty();
                if self.pods.len() < MAX_KEPT_PODS {
                    if !pulling {
                        self.scan.only_waiting.push(self.pods.len());
                    }
                    self.scan.kept.insert(key);
                    self.pods.push(pod);
                    return Ok(());
                }
                self.scan.pods_cut += 1;
                match self.scan.only_waiting.pop().filter(|_| pulling) {
                    Some(at) => {
                        let old = std::mem::replace(&mut self.pods[at], pod);
                        let old = (
                            old.metadata.namespace.unwrap_or_default(),
                            old.metadata.name.unwrap_or_default(),
                        );
                        self.scan.kept.remove(&old);
                        self.scan.dropped.insert(old);
                        self.scan.kept.insert(key);
                    }
                    None => {
                        self.scan.dropped.insert(key);
                    }
                }
                Ok(())
            }
            "Event" => {
                let Some(key) = event_pod_key(&obj) else {
                    return Ok(());
                };
                if self.scan.dropped.contains(&key) {
                    return Ok(());
                }
                let mut event = typed_event(obj)?;
                slim(&mut event.metadata);
                if self.scan.kept.contains(&key) {
                    self.keep_event(event);
                } else if self.events.len() + self.scan.early.len() < MAX_KEPT_EVENTS {
                    self.scan.early.push(event);
                } else {
                    self.scan.events_cut += 1;
                }
                Ok(())
            }
            _ => self.add_typed(kind, obj),
        }
    }

    fn keep_event(&mut self, event: Event) {
        if self.events.len() + self.scan.early.len() < MAX_KEPT_EVENTS {
            self.events.push(event);
        } else {
            self.scan.events_cut += 1;
        }
    }

    /// What the scan's caps cut, in the words of the live scan's notes.
    pub(super) fn scan_cuts(&self) -> Vec<String> {
        let file = self.path.display();
        let mut out = Vec::new();
        if self.scan.pods_cut > 0 {
            out.push(format!(
                "{} pods in {file} with a waiting container past the first {MAX_KEPT_PODS} \
                 (the cap a scan keeps, pods waiting on a pull first; split the snapshot to \
                 see the rest)",
                self.scan.pods_cut
            ));
        }
        if self.scan.events_cut > 0 {
            out.push(format!(
                "{} events in {file} past the first {MAX_KEPT_EVENTS} about pods with a waiting \
                 container (the cap a scan keeps)",
                self.scan.events_cut
            ));
        }
        out
    }
}

/// Drops what no diagnosis reads from a kept pod's or event's metadata, as the live scan does:
/// `managedFields` and the annotations (kubectl's last-applied configuration alone can double
/// a pod's size).
fn slim(meta: &mut k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) {
    meta.managed_fields = None;
    meta.annotations = None;
}

fn text(v: &Value, pointer: &str) -> String {
    v.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// A pod's (namespace, name) as the typed pod gives them.
fn pod_key(obj: &Value) -> (String, String) {
    (
        text(obj, "/metadata/namespace"),
        text(obj, "/metadata/name"),
    )
}

/// `any_container_waiting` on the parsed value, before typing: some init, app or ephemeral
/// container's `state.waiting` is there and not null.
fn value_waiting(obj: &Value) -> bool {
    let Some(status) = obj.get("status") else {
        return false;
    };
    [
        "initContainerStatuses",
        "containerStatuses",
        "ephemeralContainerStatuses",
    ]
    .iter()
    .filter_map(|k| status.get(k).and_then(Value::as_array))
    .flatten()
    .any(|cs| cs.pointer("/state/waiting").is_some_and(|w| !w.is_null()))
}

/// The (namespace, name) of the pod an event is about.
fn event_pod(e: &Event) -> (String, String) {
    let io = &e.involved_object;
    (
        io.namespace.clone().unwrap_or_default(),
        io.name.clone().unwrap_or_default(),
    )
}
