//! The part of a `pod --from-node` report that came from the node: what the probe pod was,
//! how it ended, and the node's own report (the JSON `node-probe` printed in the pod's log).
//!
//! Every renderer draws it through the report's `[node] …` notes and evidence lines; JSON also
//! carries it whole, as `from_node`, for automation.

use serde::Serialize;

/// The probe pod on the failing pod's node, and what it found.
#[derive(Debug, Clone, Serialize)]
pub struct FromNode {
    /// The node probed from.
    pub node: String,
    /// The probe pod's namespace.
    pub namespace: String,
    /// The probe pod's name, once created.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The pull secrets the probe pod mounted: the failing pod's own, by name (never a value);
    /// none when the probe ran in another namespace, where they cannot be mounted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pull_secrets: Vec<String>,
    /// The image the probe pod ran.
    pub image: String,
    /// `probed`, or why not: `forbidden`, `pod_security`, `probe_image_pull_failed`,
    /// `node_not_ready`, `not_scheduled`, `timeout`, `interrupted`, `failed`.
    pub outcome: &'static str,
    /// One line on the outcome.
    pub detail: String,
    /// Whether the probe pod was deleted afterwards (false only when deleting failed).
    pub deleted: bool,
    /// The node's verdict per image, as the node drew it.
    pub verdicts: Vec<NodeVerdict>,
    /// The node's whole report (`node-probe`'s JSON), when it printed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<serde_json::Value>,
}

/// One image's verdict from the node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeVerdict {
    /// The image as the pod spec writes it.
    pub image: String,
    /// The cause the node found (absent: the node pulls it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    /// The node's confidence.
    pub confidence: String,
    /// The node's one sentence.
    pub summary: String,
}

impl FromNode {
    /// Calls `f` on every string (scrubbing, making inert): one-line fields, then the node's
    /// report, whose strings may be blocks (a fix to paste).
    pub fn visit(&mut self, f: &mut dyn FnMut(&mut String), block: &mut dyn FnMut(&mut String)) {
        for s in [
            &mut self.node,
            &mut self.namespace,
            &mut self.image,
            &mut self.detail,
        ] {
            f(s);
        }
        if let Some(p) = &mut self.pod {
            f(p);
        }
        for s in &mut self.pull_secrets {
            f(s);
        }
        for v in &mut self.verdicts {
            f(&mut v.image);
            f(&mut v.summary);
            f(&mut v.confidence);
            if let Some(c) = &mut v.cause {
                f(c);
            }
        }
        if let Some(r) = &mut self.report {
            visit_value(r, block);
        }
    }
}

fn visit_value(v: &mut serde_json::Value, f: &mut dyn FnMut(&mut String)) {
    match v {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| visit_value(x, f)),
        serde_json::Value::Object(m) => m.values_mut().for_each(|x| visit_value(x, f)),
        _ => {}
    }
}
