//! A live scan's read: every pod with a waiting container in a namespace (or the cluster) and
//! the events about them, page by page, within the kept caps, then one scene per failing pod.
//!
//! Only a pod with a waiting container can be failing a pull, so the rest are dropped as each
//! page arrives; at the pod cap a pod waiting on a pull takes the place of one that only waits
//! (as a snapshot scan does), and each cut is said in the scenes' notes.

use std::collections::{HashMap, HashSet};

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::Api;

use super::lists::slim;
use super::reader::{self, LiveReader};
use super::{LiveSource, MAX_KEPT_EVENTS, MAX_KEPT_PODS};
use crate::scene::Scene;
use crate::scene::assemble::assemble;
use crate::scene::containers::{
    any_container_waiting, event_is_for_pod, is_failing, pull_failing_containers,
};
use crate::{Error, Result};

impl LiveSource {
    pub(super) async fn read_failing_pods(&self, namespace: Option<&str>) -> Result<Vec<Scene>> {
        let (pods_api, events_api): (Api<Pod>, Api<Event>) = match namespace {
            Some(ns) => (self.namespaced(ns), self.namespaced(ns)),
            None => (Api::all(self.client.clone()), Api::all(self.client.clone())),
        };
        let where_ = namespace.map_or("all namespaces".to_string(), |n| n.to_string());
        // Only a pod with a waiting container can be failing a pull (`is_failing`), and only
        // its events matter: the rest are dropped page by page, and what is kept is slimmed.
        let mut shared_unreadable = Vec::new();
        // At the cap a pod waiting on a pull takes the place of one that only waits (which only
        // its events could show failing), as a snapshot scan does.
        let listed = self
            .list_kept(
                pods_api,
                self.selectors.field_text.as_deref(),
                self.selectors.label_text.as_deref(),
                MAX_KEPT_PODS,
                |p: &mut Pod| {
                    any_container_waiting(p) && {
                        slim(&mut p.metadata);
                        true
                    }
                },
                Some(|p: &Pod| !pull_failing_containers(p).is_empty()),
            )
            .await?
            .map_err(|m| Error::Api(format!("cannot list pods in {where_}: {m}")))?;
        if listed.capped {
            shared_unreadable.push(format!(
                "{} pods in {where_} with a waiting container past the first {MAX_KEPT_PODS} \
                 (the cap a scan keeps, pods waiting on a pull first{}; scan fewer namespaces \
                 with -n to see the rest)",
                listed.cut,
                listed
                    .stopped
                    .as_deref()
                    .map(|why| format!("; {why}"))
                    .unwrap_or_default()
            ));
        }
        let pods = listed.items;
        let waiting: HashSet<(String, String)> = pods
            .iter()
            .map(|p| {
                (
                    p.metadata.namespace.clone().unwrap_or_default(),
                    p.metadata.name.clone().unwrap_or_default(),
                )
            })
            .collect();
        let for_waiting = |e: &mut Event| {
            let io = &e.involved_object;
            waiting.contains(&(
                io.namespace.clone().unwrap_or_default(),
                io.name.clone().unwrap_or_default(),
            )) && {
                slim(&mut e.metadata);
                true
            }
        };
        let events = match self
            .list_kept(
                events_api,
                Some("involvedObject.kind=Pod"),
                None,
                MAX_KEPT_EVENTS,
                for_waiting,
                None::<fn(&Event) -> bool>,
            )
            .await?
        {
            Ok(ev) => {
                if ev.capped {
                    shared_unreadable.push(format!(
                        "events in {where_} past the first {MAX_KEPT_EVENTS} about pods with a \
                         waiting container (the cap a scan keeps)"
                    ));
                }
                ev.items
            }
            Err(m) => {
                shared_unreadable.push(format!("events in {where_}: forbidden ({m})"));
                Vec::new()
            }
        };
        // Index the events once: (namespace, pod name) → events.
        let mut by_pod: HashMap<(String, String), Vec<Event>> = HashMap::new();
        for ev in events {
            let io = &ev.involved_object;
            let key = (
                io.namespace.clone().unwrap_or_default(),
                io.name.clone().unwrap_or_default(),
            );
            by_pod.entry(key).or_default().push(ev);
        }
        let mut failing = Vec::new();
        for pod in pods {
            let key = (
                pod.metadata.namespace.clone().unwrap_or_default(),
                pod.metadata.name.clone().unwrap_or_default(),
            );
            let events: Vec<Event> = by_pod
                .remove(&key)
                .unwrap_or_default()
                .into_iter()
                .filter(|e| event_is_for_pod(e, &pod))
                .collect();
            if is_failing(&pod, &events) {
                failing.push((pod, events));
            }
        }
        let reader = LiveReader::new(self);
        let only_pods: Vec<Pod> = failing.iter().map(|(p, _)| p.clone()).collect();
        reader.prefetch(&only_pods).await?;
        let mut scenes = Vec::with_capacity(failing.len());
        for (pod, events) in failing {
            let mut unreadable = shared_unreadable.clone();
            let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
            if !reader::readable_namespace(ns) {
                unreadable.push(format!(
                    "namespace {} (pod {}): not a DNS-1123 label, so nothing in it was asked \
                     for (the API server creates no such namespace); the pod is diagnosed from \
                     its status and events alone",
                    crate::diagnose::names::shown(ns),
                    crate::diagnose::names::shown(pod.metadata.name.as_deref().unwrap_or(""))
                ));
            }
            scenes.push(assemble(&reader, pod, events, unreadable).await?);
        }
        Ok(scenes)
    }
}
