//! Server-side printing for pods: the `Table` kubectl asks for with
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, so `kubectl get pods` shows READY,
//! STATUS and RESTARTS as against a real cluster.
//!
//! The STATUS cell follows kube-apiserver's pod printer (`printPod` in
//! <https://github.com/kubernetes/kubernetes/blob/master/pkg/printers/internalversion/printers.go>):
//! the pod's reason or phase, `Init:<reason>` while an init container waits, then a regular
//! container's waiting or terminated reason. Other kinds answer with a plain list, which kubectl
//! also accepts (its Accept header lists `application/json` last).

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

/// The pod table for a `PodList` body or a single pod.
pub fn pods(body: &Value, include_object: Option<&str>) -> Value {
    let items: Vec<&Value> = match body["items"].as_array() {
        Some(items) => items.iter().collect(),
        None => vec![body],
    };
    let columns = [
        ("Name", "name", 0, "Name must be unique within a namespace."),
        (
            "Ready",
            "",
            0,
            "The aggregate readiness state of this pod for accepting traffic.",
        ),
        (
            "Status",
            "",
            0,
            "The aggregate status of the containers in this pod.",
        ),
        (
            "Restarts",
            "",
            0,
            "The number of times the containers in this pod have been restarted.",
        ),
        (
            "Age",
            "",
            0,
            "CreationTimestamp is a timestamp representing the server time when this object was created.",
        ),
        ("IP", "", 1, "IP address allocated to the pod."),
        ("Node", "", 1, "Name of the Node this pod is bound to."),
    ];
    let column_definitions: Vec<Value> = columns
        .iter()
        .map(|(name, format, priority, description)| {
            json!({"name": name, "type": "string", "format": format, "description": description, "priority": priority})
        })
        .collect();
    let rows: Vec<Value> = items.iter().map(|pod| row(pod, include_object)).collect();
    let mut metadata = json!({"resourceVersion": body["metadata"]["resourceVersion"].clone()});
    if let Some(c) = body["metadata"].get("continue") {
        metadata["continue"] = c.clone();
    }
    if let Some(r) = body["metadata"].get("remainingItemCount") {
        metadata["remainingItemCount"] = r.clone();
    }
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
        "columnDefinitions": column_definitions, "rows": rows})
}

fn row(pod: &Value, include_object: Option<&str>) -> Value {
    let statuses = pod["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let total = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready = statuses.iter().filter(|s| s["ready"] == true).count();
    let restarts: i64 = statuses
        .iter()
        .filter_map(|s| s["restartCount"].as_i64())
        .sum();
    let none = |v: &Value| {
        v.as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("<none>")
            .to_string()
    };
    let cells = json!([
        pod["metadata"]["name"],
        format!("{ready}/{total}"),
        status(pod),
        restarts.to_string(),
        age(pod["metadata"]["creationTimestamp"].as_str().unwrap_or("")),
        none(&pod["status"]["podIP"]),
        none(&pod["spec"]["nodeName"]),
    ]);
    let mut row = json!({"cells": cells});
    match include_object {
        Some("None") => {}
        Some("Object") => {
            let mut obj = pod.clone();
            obj["kind"] = json!("Pod");
            obj["apiVersion"] = json!("v1");
            row["object"] = obj;
        }
        _ => {
            row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": pod["metadata"].clone()});
        }
    }
    row
}

/// The STATUS cell, as kube-apiserver's pod printer words it.
fn status(pod: &Value) -> String {
    let mut reason = pod["status"]["reason"]
        .as_str()
        .or(pod["status"]["phase"].as_str())
        .unwrap_or("Unknown")
        .to_string();
    let inits = pod["status"]["initContainerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let init_total = pod["spec"]["initContainers"].as_array().map_or(0, Vec::len);
    for (i, s) in inits.iter().enumerate() {
        let state = &s["state"];
        if state["terminated"]["exitCode"] == 0 && !state["terminated"].is_null() {
            continue;
        }
        if let Some(r) = state["waiting"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty() && *r != "PodInitializing")
        {
            return format!("Init:{r}");
        }
        if let Some(r) = state["terminated"]["reason"].as_str() {
            return format!("Init:{r}");
        }
        return format!("Init:{i}/{init_total}");
    }
    for s in pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let state = &s["state"];
        if let Some(r) = state["waiting"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            reason = r.to_string();
        } else if let Some(r) = state["terminated"]["reason"]
            .as_str()
            .filter(|r| !r.is_empty())
        {
            reason = r.to_string();
        }
    }
    reason
}

/// kubectl's short age (`HumanDuration`): 45s, 7m12s, 95m, 5h30m, 41h, 6d4h, 120d, 2y30d.
fn age(created: &str) -> String {
    let Some(then) = parse_rfc3339(created) else {
        return "<unknown>".into();
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let s = (now - then).max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => format!("{m}m{}s", s % 60),
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 => format!("{h}h{}m", m % 60),
        _ if h < 48 => format!("{h}h"),
        _ if h < 192 => format!("{d}d{}h", h % 24),
        _ if d < 730 => format!("{d}d"),
        _ if d < 2920 => format!("{}y{}d", d / 365, d % 365),
        _ => format!("{}y", d / 365),
    }
}

/// Seconds since the epoch of `YYYY-MM-DDTHH:MM:SSZ`.
fn parse_rfc3339(t: &str) -> Option<i64> {
    let num = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    // Days from civil (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + s)
}
