//! The one `Report` model, and the renderers that draw it.
//!
//! Every command fills the same `Report`; table, JSON, text and Markdown renderers only draw it
//! and compute nothing, so the formats cannot disagree. The JSON form is the documented,
//! versioned contract (`docs/report.schema.json`, `schema_version`).

mod inert;
mod markdown;
mod table;
mod text;

use std::io::Write;

use serde::Serialize;

use crate::classify::Symptom;
use crate::cli::OutputFormat;
use crate::diagnose::Verdict;

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
    /// Failures grouped by cause and registry (the `scan` command).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Group>>,
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

/// One group of a scan: the same cause on the same registry.
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
}

/// Counts for the summary line and the exit code.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Summary {
    /// Images or messages with a problem.
    pub problems: usize,
    /// Images that are fine.
    pub healthy: usize,
}

impl Summary {
    /// Counts problems and healthy images among verdicts.
    pub fn of(verdicts: &[Verdict]) -> Summary {
        let problems = verdicts.iter().filter(|v| v.is_problem()).count();
        Summary {
            problems,
            healthy: verdicts.len() - problems,
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
            notes: Vec::new(),
            summary: Summary::default(),
        }
    }

    /// True when anything wrong was found (exit code 1).
    pub fn has_problems(&self) -> bool {
        self.summary.problems > 0
    }
}

/// Options for drawing.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Maximum width of tables, in columns.
    pub width: u16,
    /// Colour causes and confidences.
    pub color: bool,
}

impl Default for Style {
    fn default() -> Self {
        Style {
            width: 100,
            color: false,
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
