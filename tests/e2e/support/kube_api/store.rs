//! The test API server's object store and its read semantics: get, list, selectors, paging,
//! and the `Status` bodies the real apiserver answers with.
//!
//! Modelled on kube-apiserver's generic registry
//! (<https://github.com/kubernetes/apiserver/tree/master/pkg/registry/generic/registry>):
//! objects are ordered by their etcd key (`namespace/name`), list items carry no
//! `kind`/`apiVersion`, `continue` is an opaque token naming the last key returned, and
//! `remainingItemCount` is only set when no selector narrows the list.

use std::collections::BTreeMap;
use std::ops::Bound;

use base64::Engine as _;
use serde_json::{Value, json};

/// One resource type the server knows.
#[derive(Debug, Clone, Copy)]
pub struct ResourceType {
    pub resource: &'static str,
    pub kind: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub namespaced: bool,
    /// Field selectors the real apiserver accepts beyond `metadata.name`/`metadata.namespace`.
    pub fields: &'static [&'static str],
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods`, `deployments.apps`: how the apiserver names a resource in messages.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_string()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

/// The resources served, with the field selectors kube-apiserver registers for each.
pub const RESOURCES: &[ResourceType] = &[
    rt(
        "pods",
        "Pod",
        "",
        true,
        &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
    ),
    rt(
        "events",
        "Event",
        "",
        true,
        &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
    ),
    rt("secrets", "Secret", "", true, &["type"]),
    rt("serviceaccounts", "ServiceAccount", "", true, &[]),
    rt("nodes", "Node", "", false, &["spec.unschedulable"]),
    rt("namespaces", "Namespace", "", false, &["status.phase"]),
    rt(
        "replicasets",
        "ReplicaSet",
        "apps",
        true,
        &["status.replicas"],
    ),
    rt("deployments", "Deployment", "apps", true, &[]),
    rt("statefulsets", "StatefulSet", "apps", true, &[]),
    rt("daemonsets", "DaemonSet", "apps", true, &[]),
    rt("jobs", "Job", "batch", true, &["status.successful"]),
    rt("cronjobs", "CronJob", "batch", true, &[]),
];

const fn rt(
    resource: &'static str,
    kind: &'static str,
    group: &'static str,
    namespaced: bool,
    fields: &'static [&'static str],
) -> ResourceType {
    ResourceType {
        resource,
        kind,
        group,
        version: "v1",
        namespaced,
        fields,
    }
}

/// Finds a resource by group and plural name.
pub fn resource(group: &str, name: &str) -> Option<&'static ResourceType> {
    RESOURCES
        .iter()
        .find(|r| r.group == group && r.resource == name)
}

/// An HTTP status and JSON body.
pub type Reply = (u16, Value);

/// A `Status` failure body, as the apiserver writes it.
pub fn status(code: u16, reason: &str, message: &str, details: Value) -> Reply {
    let mut body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": message, "reason": reason, "code": code,
    });
    if !details.is_null() {
        body["details"] = details;
    }
    (code, body)
}

fn details(rt: &ResourceType, name: Option<&str>) -> Value {
    let mut d = json!({"kind": rt.resource});
    if let Some(n) = name {
        d["name"] = json!(n);
    }
    if !rt.group.is_empty() {
        d["group"] = json!(rt.group);
    }
    d
}

/// 404 for a named object: `pods "x" not found`.
pub fn not_found(rt: &ResourceType, name: &str) -> Reply {
    let message = format!("{} \"{name}\" not found", rt.qualified());
    status(404, "NotFound", &message, details(rt, Some(name)))
}

/// 403 worded like the RBAC authorizer's refusal.
pub fn forbidden(
    rt: &ResourceType,
    verb: &str,
    user: &str,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Reply {
    let subject = match name {
        Some(n) => format!("{} \"{n}\"", rt.qualified()),
        None => rt.qualified(),
    };
    let scope = match namespace {
        Some(ns) => format!("in the namespace \"{ns}\""),
        None => "at the cluster scope".to_string(),
    };
    let message = format!(
        "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{}\" in API group \"{}\" {scope}",
        rt.resource, rt.group
    );
    status(403, "Forbidden", &message, details(rt, name))
}

fn bad_request(message: &str) -> Reply {
    status(400, "BadRequest", message, Value::Null)
}

/// The objects, keyed by resource then `namespace/name` (etcd's order).
#[derive(Debug, Default)]
pub struct Store {
    objects: BTreeMap<&'static str, BTreeMap<String, Value>>,
    revision: u64,
}

impl Store {
    /// Adds (or replaces) one object; fills in what the apiserver would (resourceVersion, uid,
    /// creationTimestamp) and creates its namespace when missing.
    pub fn put(&mut self, mut obj: Value) -> Result<(), String> {
        let kind = obj["kind"]
            .as_str()
            .ok_or("object without kind")?
            .to_string();
        let rt = RESOURCES
            .iter()
            .find(|r| r.kind == kind)
            .ok_or_else(|| format!("kind {kind} is not served"))?;
        let name = obj["metadata"]["name"]
            .as_str()
            .ok_or("object without metadata.name")?
            .to_string();
        let ns = if rt.namespaced {
            let ns = obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string();
            obj["metadata"]["namespace"] = json!(ns);
            ns
        } else {
            String::new()
        };
        if kind == "Secret" {
            // The apiserver merges write-only stringData into data, base64-encoded.
            if let Some(Value::Object(string_data)) =
                obj.as_object_mut().and_then(|m| m.remove("stringData"))
            {
                for (k, v) in string_data {
                    let encoded = base64::engine::general_purpose::STANDARD
                        .encode(v.as_str().unwrap_or_default());
                    obj["data"][k] = json!(encoded);
                }
            }
        }
        self.revision += 1;
        let rv = self.revision;
        obj["apiVersion"] = json!(rt.api_version());
        obj["metadata"]["resourceVersion"] = json!(rv.to_string());
        if obj["metadata"]["uid"].is_null() {
            obj["metadata"]["uid"] = json!(format!("6f1c0b8e-0000-4000-8000-{rv:012x}"));
        }
        if obj["metadata"]["creationTimestamp"].is_null() {
            obj["metadata"]["creationTimestamp"] = json!("2026-01-05T09:00:00Z");
        }
        let key = if ns.is_empty() {
            name.clone()
        } else {
            format!("{ns}/{name}")
        };
        self.objects
            .entry(rt.resource)
            .or_default()
            .insert(key, obj);
        if !ns.is_empty()
            && !self
                .objects
                .get("namespaces")
                .is_some_and(|m| m.contains_key(&ns))
        {
            self.put(json!({"kind": "Namespace", "metadata": {"name": ns}, "status": {"phase": "Active"}}))?;
        }
        Ok(())
    }

    /// GET one object.
    pub fn get(&self, rt: &ResourceType, namespace: Option<&str>, name: &str) -> Reply {
        let key = match namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_string(),
        };
        match self.objects.get(rt.resource).and_then(|m| m.get(&key)) {
            Some(obj) => (200, obj.clone()),
            None => not_found(rt, name),
        }
    }

    /// Removes one object, returning it.
    pub fn remove(
        &mut self,
        rt: &ResourceType,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let key = match namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_string(),
        };
        self.objects.get_mut(rt.resource)?.remove(&key)
    }

    /// LIST with `fieldSelector`, `labelSelector`, `limit` and `continue`.
    pub fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        query: &BTreeMap<String, String>,
    ) -> Reply {
        let fields = match parse_selector(query.get("fieldSelector").map_or("", String::as_str)) {
            Ok(f) => f,
            Err(e) => return bad_request(&format!("invalid field selector: {e}")),
        };
        for (k, op, _) in &fields {
            if matches!(op, Op::In | Op::NotIn | Op::Exists | Op::NotExists) {
                return bad_request(&format!("invalid field selector: {k}"));
            }
            if k != "metadata.name" && k != "metadata.namespace" && !rt.fields.contains(&k.as_str())
            {
                return bad_request(&format!("field label not supported: {k}"));
            }
        }
        let labels = match parse_selector(query.get("labelSelector").map_or("", String::as_str)) {
            Ok(l) => l,
            Err(e) => return bad_request(&format!("unable to parse requirement: {e}")),
        };
        let limit: usize = match query.get("limit").map(|l| l.parse::<usize>()) {
            None => 0,
            Some(Ok(n)) => n,
            Some(Err(_)) => return bad_request("limit: invalid value"),
        };
        let (list_rv, after) = match query.get("continue").filter(|c| !c.is_empty()) {
            None => (self.revision, None),
            Some(token) => match decode_continue(token) {
                Some(t) => t,
                None => {
                    return bad_request(
                        "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
                    );
                }
            },
        };
        let prefix = namespace.map(|ns| format!("{ns}/"));
        // Like an etcd range read: start after the continue key (or at the namespace prefix).
        let start = match (&after, &prefix) {
            (Some(a), _) => Bound::Excluded(a.clone()),
            (None, Some(p)) => Bound::Included(p.clone()),
            (None, None) => Bound::Unbounded,
        };
        let empty = BTreeMap::new();
        let mut matching = self
            .objects
            .get(rt.resource)
            .unwrap_or(&empty)
            .range((start, Bound::Unbounded))
            .take_while(|(k, _)| prefix.as_ref().is_none_or(|p| k.starts_with(p.as_str())))
            .filter(|(_, v)| {
                fields
                    .iter()
                    .all(|(f, op, want)| op.holds(&field_value(v, f), want))
            })
            .filter(|(_, v)| {
                labels
                    .iter()
                    .all(|(l, op, want)| label_holds(v, l, *op, want))
            });
        // Read one page, then only as far as needed to know whether more follow.
        let page: Vec<(&String, &Value)> = if limit == 0 {
            matching.by_ref().collect()
        } else {
            matching.by_ref().take(limit).collect()
        };
        let mut metadata = json!({"resourceVersion": list_rv.to_string()});
        if limit > 0 && matching.next().is_some() {
            let last = page.last().map_or("", |(k, _)| k.as_str());
            metadata["continue"] = json!(encode_continue(list_rv, last));
            if fields.is_empty() && labels.is_empty() {
                metadata["remainingItemCount"] = json!(1 + matching.count());
            }
        }
        let items: Vec<Value> = page
            .iter()
            .map(|(_, v)| {
                let mut item = (*v).clone();
                if let Some(m) = item.as_object_mut() {
                    m.remove("kind");
                    m.remove("apiVersion");
                }
                item
            })
            .collect();
        (
            200,
            json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": metadata, "items": items}),
        )
    }
}

/// `=`/`==` or `!=` in a selector requirement; `Exists`/`NotExists` for bare label keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Exists,
    NotExists,
    In,
    NotIn,
}

impl Op {
    fn holds(self, have: &Option<String>, want: &str) -> bool {
        let have = have.as_deref().unwrap_or("");
        match self {
            Op::Eq => have == want,
            Op::Ne => have != want,
            Op::Exists => !have.is_empty(),
            Op::NotExists => have.is_empty(),
            Op::In => want.split(',').any(|w| w == have),
            Op::NotIn => !want.split(',').any(|w| w == have),
        }
    }
}

/// Parses `a=b,c!=d,e,!f,g in (x,y),h notin (z)`: the equality grammar, and for labels the
/// set-based one too (a set's values travel comma-joined in the third place).
pub fn parse_selector(text: &str) -> Result<Vec<(String, Op, String)>, String> {
    let mut out = Vec::new();
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let set = |word: &str| {
            let (k, rest) = part.split_once(&format!(" {word} "))?;
            let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
            let values: Vec<&str> = inner.split(',').map(str::trim).collect();
            Some((k, values.join(",")))
        };
        let (key, op, value) = if let Some((k, v)) = set("notin") {
            (k, Op::NotIn, v)
        } else if let Some((k, v)) = set("in") {
            (k, Op::In, v)
        } else if let Some((k, v)) = part.split_once("!=") {
            (k, Op::Ne, v.to_string())
        } else if let Some((k, v)) = part.split_once("==") {
            (k, Op::Eq, v.to_string())
        } else if let Some((k, v)) = part.split_once('=') {
            (k, Op::Eq, v.to_string())
        } else if let Some(k) = part.strip_prefix('!') {
            (k, Op::NotExists, String::new())
        } else {
            (part, Op::Exists, String::new())
        };
        if key.trim().is_empty() || key.trim().contains(' ') || value.contains(['(', ')']) {
            return Err(format!("invalid requirement {part:?}"));
        }
        out.push((key.trim().to_string(), op, value.trim().to_string()));
    }
    Ok(out)
}

/// The value a field selector compares: absent fields compare as "" (so `spec.nodeName=`
/// finds unscheduled pods), booleans as `true`/`false`, `source` as the event's component.
fn field_value(obj: &Value, field: &str) -> Option<String> {
    let path = match field {
        "source" => "/source/component".to_string(),
        f => format!("/{}", f.replace('.', "/")),
    };
    match obj.pointer(&path)? {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn label_holds(obj: &Value, key: &str, op: Op, want: &str) -> bool {
    let have = obj["metadata"]["labels"].get(key).and_then(Value::as_str);
    match op {
        Op::Eq => have == Some(want),
        Op::Ne => have != Some(want),
        Op::Exists => have.is_some(),
        Op::NotExists => have.is_none(),
        Op::In => have.is_some_and(|h| want.split(',').any(|w| w == h)),
        Op::NotIn => !have.is_some_and(|h| want.split(',').any(|w| w == h)),
    }
}

fn encode_continue(rv: u64, last_key: &str) -> String {
    let raw =
        json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{last_key}\u{0}")}).to_string();
    base64::engine::general_purpose::URL_SAFE.encode(raw)
}

fn decode_continue(token: &str) -> Option<(u64, Option<String>)> {
    let raw = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .ok()?;
    let v: Value = serde_json::from_slice(&raw).ok()?;
    let start = v["start"].as_str()?.trim_end_matches('\u{0}').to_string();
    Some((v["rv"].as_u64()?, Some(start)))
}
