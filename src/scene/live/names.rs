//! Names for shell completion: the pods of a namespace and the namespaces of the cluster, read
//! as `kubectl get pods -o name` reads them (one paged list, GET only).

use k8s_openapi::api::core::v1::{Namespace, Pod};
use kube::api::Api;

use super::LiveSource;
use crate::Result;

impl LiveSource {
    /// The names of the pods in `namespace`; empty when RBAC refuses the list.
    pub async fn pod_names(&self, namespace: &str) -> Result<Vec<String>> {
        let listed = self
            .list_all(self.namespaced::<Pod>(namespace), None)
            .await?;
        Ok(names(listed.unwrap_or_default()))
    }

    /// The names of the cluster's namespaces; empty when RBAC refuses the list.
    pub async fn namespace_names(&self) -> Result<Vec<String>> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let listed = self.list_all(api, None).await?;
        Ok(names(listed.unwrap_or_default()))
    }
}

fn names<K: kube::Resource>(items: Vec<K>) -> Vec<String> {
    let mut out: Vec<String> = items.iter().filter_map(|i| i.meta().name.clone()).collect();
    out.sort();
    out
}
