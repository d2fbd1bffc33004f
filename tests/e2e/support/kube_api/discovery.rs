//! The test API server's discovery documents: `/version`, `/apis`, each group and its
//! resource list, as kubectl reads them before any request
//! (<https://kubernetes.io/docs/reference/using-api/#api-groups>).

use serde_json::{Value, json};

use super::store::RESOURCES;

pub(super) fn version() -> Value {
    json!({"major": "1", "minor": "33", "gitVersion": "v1.33.1", "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24.2",
        "compiler": "gc", "platform": "linux/amd64"})
}

pub(super) fn group_list() -> Value {
    let groups: Vec<Value> = ["apps", "batch"].iter().map(|g| api_group(g)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

pub(super) fn api_group(g: &str) -> Value {
    let gv = json!({"groupVersion": format!("{g}/v1"), "version": "v1"});
    json!({"kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": [gv.clone()], "preferredVersion": gv})
}

pub(super) fn resource_list(group: &str) -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| r.group == group)
        .map(|r| {
            let short: Vec<&str> = match r.resource {
                "pods" => vec!["po"],
                "events" => vec!["ev"],
                "serviceaccounts" => vec!["sa"],
                "nodes" => vec!["no"],
                "namespaces" => vec!["ns"],
                "replicasets" => vec!["rs"],
                "deployments" => vec!["deploy"],
                "statefulsets" => vec!["sts"],
                "daemonsets" => vec!["ds"],
                "cronjobs" => vec!["cj"],
                _ => vec![],
            };
            let verbs = if r.resource == "pods" {
                json!(["create", "delete", "get", "list"])
            } else {
                json!(["get", "list"])
            };
            json!({"name": r.resource, "singularName": r.kind.to_lowercase(), "namespaced": r.namespaced,
                "kind": r.kind, "verbs": verbs, "shortNames": short})
        })
        .collect();
    let gv = if group.is_empty() {
        "v1".to_string()
    } else {
        format!("{group}/v1")
    };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
}
