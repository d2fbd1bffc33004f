//! The live source's object reader: each secret, service account, node and owner is asked
//! for once per run, and a scan prefetches them with bounded concurrency.
//!
//! kubectl reads one object per request too; what it does not need is a cache, because it
//! shows one pod. A scan of 2,000 failing pods across a few hundred workloads would otherwise
//! repeat the same reads thousands of times, one round trip after another.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use futures_util::stream::{self, StreamExt, TryStreamExt};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Node, Pod, Secret, ServiceAccount};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::Api;

use super::LiveSource;
use crate::Result;
use crate::scene::Lookup;
use crate::scene::assemble::{
    Reader, controller_ref, has_parent, pull_secret_names, service_account_name,
};

/// How many reads a prefetch keeps in flight.
const PREFETCH_CONCURRENCY: usize = 16;

pub(super) type Cache<T> = Mutex<HashMap<String, Lookup<T>>>;

/// A reader over the live API that asks for each object once.
pub(super) struct LiveReader<'a> {
    source: &'a LiveSource,
    secrets: Cache<Secret>,
    accounts: Cache<ServiceAccount>,
    nodes: Cache<Node>,
    controllers: Cache<Option<OwnerReference>>,
    ns_secrets: Cache<Vec<Secret>>,
}

/// One object a scene will ask for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Wanted {
    Account(String, String),
    Secret(String, String),
    Node(String),
    Controller(String, String, String),
    NamespaceSecrets(String),
}

impl<'a> LiveReader<'a> {
    pub(super) fn new(source: &'a LiveSource) -> LiveReader<'a> {
        LiveReader {
            source,
            secrets: Mutex::default(),
            accounts: Mutex::default(),
            nodes: Mutex::default(),
            controllers: Mutex::default(),
            ns_secrets: Mutex::default(),
        }
    }

    /// Reads, a bounded number at a time, everything the scenes of `pods` will ask for, so that
    /// assembling them afterwards only hits the cache. Two rounds: the service accounts must
    /// be read before the secrets they list are known.
    pub(super) async fn prefetch(&self, pods: &[Pod]) -> Result<()> {
        let mut first = BTreeSet::new();
        for pod in pods {
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            first.insert(Wanted::Account(ns.clone(), service_account_name(pod)));
            first.insert(Wanted::NamespaceSecrets(ns.clone()));
            for name in pull_secret_names(pod, None) {
                first.insert(Wanted::Secret(ns.clone(), name));
            }
            if let Some(node) = pod
                .spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .filter(|n| !n.is_empty())
            {
                first.insert(Wanted::Node(node));
            }
            if let Some(r) = controller_ref(pod.metadata.owner_references.as_ref())
                .filter(|r| has_parent(&r.kind))
            {
                first.insert(Wanted::Controller(ns.clone(), r.kind, r.name));
            }
        }
        self.fetch_all(first).await?;
        let mut second = BTreeSet::new();
        for pod in pods {
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let sa = self
                .service_account(&ns, &service_account_name(pod))
                .await?;
            for name in pull_secret_names(pod, sa.found()) {
                second.insert(Wanted::Secret(ns.clone(), name));
            }
        }
        self.fetch_all(second).await
    }

    /// One prefetch round, one gathering phase: bounded in all, not only call by call.
    async fn fetch_all(&self, wanted: BTreeSet<Wanted>) -> Result<()> {
        let round = stream::iter(wanted)
            .map(|w| self.fetch(w))
            .buffer_unordered(PREFETCH_CONCURRENCY)
            .try_collect::<Vec<()>>();
        self.source
            .phase()
            .run(self.source, "reading the failing pods' objects", async {
                round.await.map(drop)
            })
            .await
    }

    async fn fetch(&self, wanted: Wanted) -> Result<()> {
        match wanted {
            Wanted::Account(ns, name) => self.service_account(&ns, &name).await.map(drop),
            Wanted::Secret(ns, name) => self.secret(&ns, &name).await.map(drop),
            Wanted::Node(name) => self.node(&name).await.map(drop),
            Wanted::Controller(ns, kind, name) => {
                self.controller_of(&ns, &kind, &name).await.map(drop)
            }
            Wanted::NamespaceSecrets(ns) => self.namespace_pull_secrets(&ns).await.map(drop),
        }
    }
}

/// Whether objects of `namespace` can be asked for: the API server only creates namespaces
/// named as DNS-1123 labels, so any other name (a broken or hostile server's, which may not
/// even fit in a URL path, or may name another path) holds nothing to read and is never sent.
pub(super) fn readable_namespace(namespace: &str) -> bool {
    crate::diagnose::names::dns_label(namespace)
}

fn cached<T: Clone>(cache: &Cache<T>, key: &str) -> Option<Lookup<T>> {
    cache.lock().ok()?.get(key).cloned()
}

fn remember<T: Clone>(cache: &Cache<T>, key: String, value: &Lookup<T>) {
    if let Ok(mut c) = cache.lock() {
        c.insert(key, value.clone());
    }
}

impl Reader for LiveReader<'_> {
    async fn secret(&self, namespace: &str, name: &str) -> Result<Lookup<Secret>> {
        if !readable_namespace(namespace) {
            return Ok(Lookup::NotAsked);
        }
        let key = format!("{namespace}/{name}");
        if let Some(hit) = cached(&self.secrets, &key) {
            return Ok(hit);
        }
        let found = self
            .source
            .lookup(self.source.namespaced(namespace), name)
            .await?;
        remember(&self.secrets, key, &found);
        Ok(found)
    }

    async fn service_account(&self, namespace: &str, name: &str) -> Result<Lookup<ServiceAccount>> {
        if !readable_namespace(namespace) {
            return Ok(Lookup::NotAsked);
        }
        let key = format!("{namespace}/{name}");
        if let Some(hit) = cached(&self.accounts, &key) {
            return Ok(hit);
        }
        let found = self
            .source
            .lookup(self.source.namespaced(namespace), name)
            .await?;
        remember(&self.accounts, key, &found);
        Ok(found)
    }

    async fn node(&self, name: &str) -> Result<Lookup<Node>> {
        if let Some(hit) = cached(&self.nodes, name) {
            return Ok(hit);
        }
        let api: Api<Node> = Api::all(self.source.client.clone());
        let found = self.source.lookup(api, name).await?;
        remember(&self.nodes, name.to_string(), &found);
        Ok(found)
    }

    async fn controller_of(
        &self,
        namespace: &str,
        kind: &str,
        name: &str,
    ) -> Result<Lookup<Option<OwnerReference>>> {
        if !readable_namespace(namespace) {
            return Ok(Lookup::NotAsked);
        }
        let key = format!("{kind}/{namespace}/{name}");
        if let Some(hit) = cached(&self.controllers, &key) {
            return Ok(hit);
        }
        let refs = match kind {
            "ReplicaSet" => {
                let found: Lookup<ReplicaSet> = self
                    .source
                    .lookup(self.source.namespaced(namespace), name)
                    .await?;
                map_found(found, |o| {
                    controller_ref(o.metadata.owner_references.as_ref())
                })
            }
            "Job" => {
                let found: Lookup<Job> = self
                    .source
                    .lookup(self.source.namespaced(namespace), name)
                    .await?;
                map_found(found, |o| {
                    controller_ref(o.metadata.owner_references.as_ref())
                })
            }
            _ => Lookup::Found(None),
        };
        remember(&self.controllers, key, &refs);
        Ok(refs)
    }

    async fn namespace_pull_secrets(&self, namespace: &str) -> Result<Lookup<Vec<Secret>>> {
        if !readable_namespace(namespace) {
            return Ok(Lookup::NotAsked);
        }
        if let Some(hit) = cached(&self.ns_secrets, namespace) {
            return Ok(hit);
        }
        // Two lists narrowed by type on the server: a namespace's Helm release secrets can be
        // megabytes, and a docker secret is all we want.
        let mut all = Vec::new();
        let mut found = Lookup::NotAsked;
        for ty in ["kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg"] {
            let api = self.source.namespaced::<Secret>(namespace);
            match self
                .source
                .list_all(api, Some(&format!("type={ty}")))
                .await?
            {
                Ok(items) => all.extend(items),
                Err(message) => {
                    found = Lookup::Forbidden(message);
                    break;
                }
            }
        }
        if !found.is_forbidden() {
            all.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
            found = Lookup::Found(all);
        }
        remember(&self.ns_secrets, namespace.to_string(), &found);
        Ok(found)
    }

    async fn other_namespace_secrets(
        &self,
        namespace: &str,
        names: &[String],
    ) -> Result<(std::sync::Arc<Vec<Secret>>, Vec<String>)> {
        let mut found = Vec::new();
        let mut lines = Vec::new();
        if !self.source.other_namespaces {
            return Ok((found.into(), lines));
        }
        // A missing name outside the grammar names no secret anywhere (and would reach the
        // field selector as written).
        for name in names
            .iter()
            .filter(|n| crate::diagnose::names::dns_subdomain(n))
        {
            let api: Api<Secret> = Api::all(self.source.client.clone());
            match self
                .source
                .list_all(api, Some(&format!("metadata.name={name}")))
                .await?
            {
                Ok(items) => found.extend(
                    items
                        .into_iter()
                        .filter(|s| s.metadata.namespace.as_deref() != Some(namespace)),
                ),
                Err(m) => lines.push(format!(
                    "secrets named {name} in other namespaces: forbidden ({m})"
                )),
            }
        }
        Ok((found.into(), lines))
    }
}

fn map_found<T, U>(l: Lookup<T>, f: impl FnOnce(T) -> U) -> Lookup<U> {
    match l {
        Lookup::Found(t) => Lookup::Found(f(t)),
        Lookup::NotFound => Lookup::NotFound,
        Lookup::Forbidden(m) => Lookup::Forbidden(m),
        Lookup::NotAsked => Lookup::NotAsked,
    }
}
