//! The one `Report` model, and the renderers that draw it.
//!
//! Every command fills the same `Report`; table, JSON, text and Markdown renderers only draw it
//! and compute nothing, so the formats cannot disagree. The JSON form is the documented,
//! versioned contract (`docs/report.schema.json`, `schema_version`).

mod from_node;
mod inert;
mod markdown;
mod table;
mod text;

use std::io::Write;

use serde::Serialize;

use crate::classify::Symptom;
use crate::cli::OutputFormat;
use crate::diagnose::{Fix, Verdict};

pub use from_node::{FromNode, NodeVerdict};
pub use inert::{Layout, inert};

/// Bumped when a field changes meaning or disappears; additions do not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything one run concluded.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The JSON schema version.
    pub schema_version: u32,
    /// `pod`, `scan`, `image` or `explain`.
    pub command: &'static str,
    /// pulldoctor's version.
    pub pulldoctor_version: &'static str,
    /// The pod diagnosed (the `pod` command).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodSubject>,
    /// Classified messages (the `explain` command).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub symptoms: Option<Vec<Symptom>>,
    /// One verdict per image (the `pod` and `image` commands).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdicts: Option<Vec<Verdict>>,
    /// Failures grouped by cause, registry and fix (the `scan` command).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Group>>,
    /// Every failing pod with its own verdicts and fixes (the `scan` command), for automation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failing_pods: Option<Vec<FailingPod>>,
    /// The scan's totals: groups, pods and workloads (the `scan` command).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totals: Option<ScanTotals>,
    /// Connections made without TLS trust (`--plain-http`, `--registry-insecure-skip-verify`, the
    /// node's config), and token realms the node's runtime would send credentials to that way.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub insecure_transport: Vec<crate::registry::InsecureTransport>,
    /// What the node's files (`--node-root`) decide for each image: endpoints in the runtime's
    /// order, proxy, node credentials, /etc/hosts names and findings with file and line.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub node_config: Vec<crate::node::NodeConfig>,
    /// `pod --from-node`: the probe pod on the pod's node and the node's own findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_node: Option<FromNode>,
    /// `scan --from-nodes`: one probe pod per node with failing pods, and what each found.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub from_nodes: Vec<FromNode>,
    /// What could not be read or was not done, and flags in force.
    pub notes: Vec<String>,
    /// Counts.
    pub summary: Summary,
}

/// The pod a `pod` report is about.
#[derive(Debug, Clone, Serialize)]
pub struct PodSubject {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Node the pod is scheduled on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The node's runtime version (`containerd://1.7.2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// The owner a fix must change (`Deployment/web`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// One group of a scan: the same cause on the same registry, mended by the same fix.
///
/// Two pods share a group only when their fixes are the same once each pod's own names
/// (namespace, workload, pod, container, image, service account) are set aside: a secret never
/// referenced and a service account changed after the pod was created are two groups, though
/// both are `auth_required`.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// The cause shared by the group.
    pub cause: crate::taxonomy::Cause,
    /// The registry shared by the group.
    pub registry: String,
    /// How many pods are affected.
    pub pods: usize,
    /// The workloads affected (owners, not every replica).
    pub workloads: Vec<String>,
    /// The verdict for one representative image of the group.
    pub verdict: Verdict,
    /// The pods behind `pods`, as `namespace/name`.
    pub pod_names: Vec<String>,
    /// The fix each workload must apply, word for word: one entry per distinct set of steps.
    pub fixes_by_workload: Vec<WorkloadFixes>,
}

/// The steps that mend some workloads of a group, with their own names in them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadFixes {
    /// The workloads these steps are for (`namespace/Kind name`).
    pub workloads: Vec<String>,
    /// The steps, in order.
    pub fixes: Vec<Fix>,
}

/// One failing pod of a scan, diagnosed on its own.
#[derive(Debug, Clone, Serialize)]
pub struct FailingPod {
    /// Namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// The workload a fix changes (`namespace/Kind name`).
    pub workload: String,
    /// One verdict per failing container image, with its own fixes.
    pub verdicts: Vec<Verdict>,
}

/// A scan's totals, for the line that ends the table.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ScanTotals {
    /// Groups printed.
    pub groups: usize,
    /// Distinct failing pods.
    pub pods: usize,
    /// Distinct workloads among them.
    pub workloads: usize,
}

/// Counts for the summary line and the exit code.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    /// Images or messages with a problem.
    pub problems: usize,
    /// Images proven fine (probed, or pulled by kubelet).
    pub healthy: usize,
    /// Images with no failure and no proof either way (not probed, pod not scheduled); not
    /// problems, so they leave the exit code at 0.
    pub not_checked: usize,
}

impl Summary {
    /// Counts problems and healthy images among verdicts.
    pub fn of(verdicts: &[Verdict]) -> Summary {
        let problems = verdicts.iter().filter(|v| v.is_problem()).count();
        let not_checked = verdicts
            .iter()
            .filter(|v| v.confidence == crate::diagnose::Confidence::NotChecked)
            .count();
        Summary {
            problems,
            healthy: verdicts.len() - problems - not_checked,
            not_checked,
        }
    }
}

impl Report {
    /// An empty report for `command`.
    pub fn new(command: &'static str) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            command,
            pulldoctor_version: env!("CARGO_PKG_VERSION"),
            pod: None,
            symptoms: None,
            verdicts: None,
            groups: None,
            failing_pods: None,
            totals: None,
            insecure_transport: Vec::new(),
            node_config: Vec::new(),
            from_node: None,
            from_nodes: Vec::new(),
            notes: Vec::new(),
            summary: Summary::default(),
        }
    }

    /// True when anything wrong was found (exit code 1).
    pub fn has_problems(&self) -> bool {
        self.summary.problems > 0
    }
}

/// How many of a group's pods the table and Markdown name; text and JSON name them all.
const PODS_SHOWN: usize = 10;

/// The first pods of a group, then how many more: a group of a thousand replicas stays one line.
fn some_pods(names: &[String]) -> String {
    let shown = names[..names.len().min(PODS_SHOWN)].join(", ");
    match names.len().saturating_sub(PODS_SHOWN) {
        0 => shown,
        more => format!("{shown} and {more} more (all in -o json or -o text)"),
    }
}

/// Options for drawing.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Maximum width of tables, in columns.
    pub width: u16,
    /// Colour causes and confidences.
    pub color: bool,
    /// Whether `width` is a terminal's: a table that cannot fit it gives way to the text layout.
    pub terminal: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            width: 100,
            color: false,
            terminal: false,
        }
    }
}

/// Draws `report` in `format` onto `out`.
pub fn render(
    report: &Report,
    format: OutputFormat,
    style: Style,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    match format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)
        }
        // A terminal acts on controls that the cluster or the registry wrote; JSON escapes them.
        OutputFormat::Table => table::render(&report.inert(), style, out),
        OutputFormat::Text => text::render(&report.inert(), out),
        OutputFormat::Markdown => markdown::render(&report.inert(), out),
    }
}

#[cfg(test)]
mod tests {
    use super::some_pods;

    #[test]
    fn a_big_group_names_ten_pods_and_counts_the_rest() {
        let names: Vec<String> = (0..25).map(|i| format!("shop/web-{i}")).collect();
        let line = some_pods(&names);
        assert!(line.starts_with("shop/web-0, shop/web-1,"), "{line}");
        assert!(line.contains("shop/web-9 and 15 more"), "{line}");
        assert!(!line.contains("shop/web-10"), "{line}");
        assert_eq!(some_pods(&names[..2]), "shop/web-0, shop/web-1");
    }
}
