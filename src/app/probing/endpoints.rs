//! `--node-root`: the node's endpoints probed in its runtime's order, and the verdict's words
//! for the endpoint that failed.
//!
//! containerd (`docs/hosts.md`) and CRI-O (containers-registries.conf(5)) try the mirrors
//! first, then the upstream, and stop at the first endpoint that serves the image; when none
//! does, containerd reports the first one's error. A verdict about a mirror must name the
//! mirror and the line that put it there, not only the registry the image names: the operator
//! edits that line, or fixes that host.

use super::Prober;
use super::route::NodeNotes;
use crate::node::{NodeRead, Role};
use crate::registry::{self, ImageRef, Platform, ProbeReport};

impl Prober {
    /// Probes the node's endpoints for `image` in order; keeps the node's configuration.
    pub(super) async fn probe_endpoints(
        &self,
        mut read: NodeRead,
        image: &ImageRef,
        auths: Vec<registry::Auth>,
        platform: &Platform,
        platform_known: bool,
    ) -> ProbeReport {
        if let Some(report) = self.decided_by_node(&read, image, platform) {
            self.keep_node_config(read.config);
            return report;
        }
        let count = read.pulling().len().max(1);
        let mut first: Option<(usize, ProbeReport)> = None;
        let mut failed = Vec::new();
        for i in 0..count {
            let (a, p) = (auths.clone(), platform);
            let mut report = self
                .probe_endpoint(&mut read, i, image, a, p, platform_known)
                .await;
            if report.pullable() {
                if let Some((j, f)) = &first {
                    let sentence = format!(
                        "The node's {} failed first ({}); the runtime fell back to {}.",
                        label(&read, *j, image),
                        f.outcome.detail.trim_end_matches('.'),
                        label(&read, i, image)
                    );
                    self.keep_notes(&report.image, |n| n.failed_endpoint = Some(sentence));
                }
                report.flags.extend(failed);
                self.keep_node_config(read.config);
                return report;
            }
            failed.push(format!(
                "node endpoint {}, {}, failed: {}; the runtime then tries the next endpoint",
                i + 1,
                label(&read, i, image),
                report.outcome.detail
            ));
            if first.is_none() {
                first = Some((i, report));
            }
        }
        let (i, mut report) = first.expect("at least one endpoint probed");
        if failed.len() > 1 {
            report.flags.extend(failed.into_iter().skip(1));
        }
        if names_another_host(&read, i, image) {
            let rest = if count > i + 1 {
                "; every later endpoint failed too"
            } else {
                ""
            };
            let sentence = format!(
                "The endpoint that fails is the node's {}, which the runtime tries first and whose error it reports{rest}.",
                label(&read, i, image)
            );
            self.keep_notes(&report.image, |n| n.failed_endpoint = Some(sentence));
        }
        self.keep_node_config(read.config);
        report
    }
}

/// `mirror http://M (FILE line N)` for the node's endpoint `i`; a `[host]` entry for the
/// registry itself is its upstream.
fn label(read: &NodeRead, i: usize, image: &ImageRef) -> String {
    match read.pulling().get(i) {
        Some(e) => {
            let role = match e.role {
                Role::Mirror if host_of(&e.url).as_deref() != Some(image.api_host()) => "mirror",
                _ => "upstream",
            };
            format!("{role} {} ({})", e.url, e.source)
        }
        None => "default endpoint".to_string(),
    }
}

/// True when endpoint `i` is a host other than the one the image names (a mirror).
fn names_another_host(read: &NodeRead, i: usize, image: &ImageRef) -> bool {
    let Some(e) = read.pulling().get(i).copied() else {
        return false;
    };
    host_of(&e.url).as_deref() != Some(image.api_host())
}

/// `host[:port]` of an endpoint URL, as an image names its registry.
fn host_of(url: &str) -> Option<String> {
    let u = url::Url::parse(url).ok()?;
    Some(match u.port() {
        Some(p) => format!("{}:{p}", u.host_str()?),
        None => u.host_str()?.to_string(),
    })
}

impl NodeNotes {
    /// True when there is nothing to add to the verdict.
    pub(super) fn is_empty(&self) -> bool {
        self.edit.is_none() && self.failed_endpoint.is_none()
    }
}
