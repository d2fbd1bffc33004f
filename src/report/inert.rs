//! Every string of a finished `Report`, visited once: to mask secrets before any output, and to
//! make text inert before a terminal draws it.
//!
//! Events, registry error bodies and secret names are written by whoever controls the cluster or
//! the registry. A registry may echo the `Authorization` header; an event message may hold
//! `ESC]52;…` (write the clipboard), `ESC[2J` (clear the screen) or a bidi override that makes a
//! command read differently than it runs. The visit destructures every type whole, so a field
//! added later does not compile until it says how it is cleaned.

use crate::classify::Symptom;
use crate::diagnose::{
    ContainerInfo, CredentialFinding, EvidenceLine, FailureSeen, Fix, SecondaryCause, Verdict,
};
use crate::registry::InsecureTransport;

use super::{FailingPod, Group, PodSubject, Report, Summary, WorkloadFixes};

/// Whether a string's layout means line breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One line: a newline in it would forge a line of the report.
    Line,
    /// A block drawn as lines (a command or file to paste).
    Block,
}

impl Report {
    /// Masks every secret remembered so far (`crate::scrub`) in every string of the report.
    pub fn scrub_secrets(&mut self) {
        let scrubber = crate::scrub::current();
        self.visit(&mut |s, _| scrubber.scrub_in_place(s));
    }

    /// The report with every control character made visible and inert, for a terminal.
    pub fn inert(&self) -> Report {
        let mut r = self.clone();
        r.visit(&mut |s, layout| {
            if let std::borrow::Cow::Owned(clean) = inert(s, layout) {
                *s = clean;
            }
        });
        r
    }

    /// Calls `f` on every string of the report.
    pub fn visit(&mut self, f: &mut dyn FnMut(&mut String, Layout)) {
        let Report {
            schema_version: _,
            command: _,
            pulldoctor_version: _,
            pod,
            symptoms,
            verdicts,
            groups,
            failing_pods,
            totals: _,
            insecure_transport,
            node_config,
            from_node,
            from_nodes,
            notes,
            summary: Summary { .. },
        } = self;
        for n in from_node.iter_mut().chain(from_nodes.iter_mut()) {
            let cell = std::cell::RefCell::new(&mut *f);
            n.visit(&mut |s| (cell.borrow_mut())(s, Layout::Line), &mut |s| {
                (cell.borrow_mut())(s, Layout::Block)
            });
        }
        if let Some(p) = pod {
            let PodSubject {
                namespace,
                name,
                node,
                runtime,
                owner,
            } = p;
            lines(f, [namespace, name]);
            lines(f, [node, runtime, owner].into_iter().flatten());
        }
        symptoms.iter_mut().flatten().for_each(|s| symptom(s, f));
        verdicts.iter_mut().flatten().for_each(|v| verdict(v, f));
        for g in groups.iter_mut().flatten() {
            let Group {
                cause: _,
                registry,
                pods: _,
                workloads,
                verdict: v,
                pod_names,
                fixes_by_workload,
            } = g;
            f(registry, Layout::Line);
            lines(f, workloads.iter_mut());
            lines(f, pod_names.iter_mut());
            verdict(v, f);
            for WorkloadFixes { workloads, fixes } in fixes_by_workload {
                lines(f, workloads.iter_mut());
                steps(fixes, f);
            }
        }
        for p in failing_pods.iter_mut().flatten() {
            let FailingPod {
                namespace,
                name,
                workload,
                verdicts,
            } = p;
            lines(f, [namespace, name, workload]);
            verdicts.iter_mut().for_each(|v| verdict(v, f));
        }
        for t in insecure_transport {
            let InsecureTransport {
                host,
                role: _,
                transport: _,
                by: _,
                used: _,
                credentials: _,
                verification,
                detail,
                would_fail: _,
            } = t;
            lines(f, [host, detail].into_iter().chain(verification));
        }
        node_config.iter_mut().for_each(|n| node(n, f));
        lines(f, notes.iter_mut());
    }
}

/// Every string of a node's configuration: its files may hold anything.
fn node(n: &mut crate::node::NodeConfig, f: &mut dyn FnMut(&mut String, Layout)) {
    let crate::node::NodeConfig {
        image,
        runtime,
        resolved,
        endpoints,
        ca_bundle,
        proxy,
        credentials,
        hosts,
        nameservers,
        blocked: _,
        findings,
    } = n;
    lines(
        f,
        [image, runtime]
            .into_iter()
            .chain(resolved)
            .chain(ca_bundle),
    );
    for e in endpoints {
        let crate::node::Endpoint {
            url,
            role: _,
            capabilities,
            ca,
            client_cert,
            client_key,
            skip_verify: _,
            insecure: _,
            override_path: _,
            repository,
            source,
        } = e;
        lines(
            f,
            [url, source]
                .into_iter()
                .chain(client_cert)
                .chain(client_key)
                .chain(repository),
        );
        lines(f, capabilities.iter_mut().chain(ca.iter_mut()));
    }
    if let Some(p) = proxy {
        lines(
            f,
            [&mut p.variable, &mut p.value, &mut p.reason, &mut p.source],
        );
    }
    if let Some(c) = credentials {
        lines(
            f,
            [&mut c.file, &mut c.entry, &mut c.provider]
                .into_iter()
                .flatten(),
        );
    }
    for h in hosts {
        lines(f, [&mut h.name, &mut h.address]);
    }
    lines(f, nameservers.iter_mut());
    for x in findings {
        lines(f, [&mut x.file, &mut x.text]);
    }
}

fn lines<'a>(
    f: &mut dyn FnMut(&mut String, Layout),
    items: impl IntoIterator<Item = &'a mut String>,
) {
    for s in items {
        f(s, Layout::Line);
    }
}

fn verdict(v: &mut Verdict, f: &mut dyn FnMut(&mut String, Layout)) {
    let Verdict {
        image,
        container,
        cause: _,
        family: _,
        docs: _,
        confidence: _,
        event_cause: _,
        summary,
        evidence,
        fixes,
        credential_findings,
        probe_requests: _,
        secondary_causes,
        failures,
        skipped_contrasts,
        pull_quota,
    } = v;
    for s in skipped_contrasts {
        lines(f, [&mut s.contrast, &mut s.reason]);
    }
    lines(f, [image, summary].into_iter().chain(pull_quota));
    if let Some(ContainerInfo {
        name,
        kind,
        pull_policy,
    }) = container
    {
        lines(f, [name, kind].into_iter().chain(pull_policy));
    }
    for EvidenceLine {
        source: _,
        text,
        clause,
    } in evidence
    {
        lines(f, std::iter::once(text).chain(clause));
    }
    steps(fixes, f);
    for s in secondary_causes {
        let SecondaryCause {
            cause: _,
            family: _,
            confidence: _,
            summary,
            fixes,
        } = s;
        f(summary, Layout::Line);
        steps(fixes, f);
    }
    for seen in failures {
        let FailureSeen {
            cause: _,
            reason,
            count: _,
            first_seen,
            last_seen,
            seen,
            recurring: _,
            detail,
            message,
        } = seen;
        lines(
            f,
            [seen]
                .into_iter()
                .chain(reason)
                .chain(first_seen)
                .chain(last_seen)
                .chain(detail),
        );
        f(message, Layout::Line);
    }
    for c in credential_findings {
        let CredentialFinding {
            id,
            secret,
            key,
            message,
            suggested_key,
        } = c;
        lines(
            f,
            [id, message]
                .into_iter()
                .chain(secret)
                .chain(key)
                .chain(suggested_key),
        );
    }
}

fn steps(fixes: &mut [Fix], f: &mut dyn FnMut(&mut String, Layout)) {
    for Fix {
        title,
        kind: _,
        text,
        argv,
    } in fixes
    {
        f(title, Layout::Line);
        f(text, Layout::Block);
        lines(f, argv.iter_mut().flatten());
    }
}

fn symptom(s: &mut Symptom, f: &mut dyn FnMut(&mut String, Layout)) {
    let Symptom {
        cause: _,
        family: _,
        runtime: _,
        image,
        registry,
        repository,
        reference,
        url,
        status: _,
        error_code,
        cert_host,
        cert_names,
        platform,
        reason,
        detail,
        meaning,
        next_step,
        message,
        connection,
        proxy,
    } = s;
    let optional = [
        image, registry, repository, reference, url, error_code, cert_host, platform, reason,
        detail, connection, proxy,
    ];
    lines(f, optional.into_iter().flatten());
    lines(f, cert_names.iter_mut());
    lines(f, [meaning, next_step]);
    // The raw message is shown as pasted, across its lines.
    f(message, Layout::Block);
}

/// `text` with controls replaced by visible, inert stand-ins: C0 controls by their Control
/// Pictures (`ESC` → `␛`), DEL by `␡`, C1 controls, bidi overrides and invisible format
/// characters by `�`. Newlines survive in a [`Layout::Block`] only; tabs become spaces.
pub fn inert(text: &str, layout: Layout) -> std::borrow::Cow<'_, str> {
    let keep = |c: char| match c {
        '\n' => layout == Layout::Block,
        _ => !dangerous(c),
    };
    if text.chars().all(keep) {
        return std::borrow::Cow::Borrowed(text);
    }
    let out = text
        .chars()
        .map(|c| match c {
            c if keep(c) => c,
            '\t' => ' ',
            '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
            '\u{7f}' => '\u{2421}',
            _ => '\u{fffd}',
        })
        .collect();
    std::borrow::Cow::Owned(out)
}

/// Codepoints a terminal acts on, or that make text display otherwise than it reads.
fn dangerous(c: char) -> bool {
    c.is_control()
        || matches!(c,
            // Bidi embeddings, overrides and isolates (Trojan Source, CVE-2021-42574).
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{061c}' | '\u{200e}' | '\u{200f}'
            // Zero-width and invisible format characters.
            | '\u{200b}'..='\u{200d}' | '\u{2060}'..='\u{2064}' | '\u{feff}' | '\u{00ad}'
            // Line and paragraph separators some terminals break on.
            | '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_become_visible_and_inert() {
        let osc52 = "pull failed \u{1b}]52;c;cm0gLXJmIH4=\u{7}\u{1b}[2J\r\u{9b}31m";
        let out = inert(osc52, Layout::Line);
        assert_eq!(out, "pull failed ␛]52;c;cm0gLXJmIH4=␇␛[2J␍�31m");
        assert!(!out.chars().any(char::is_control));
    }

    #[test]
    fn newlines_survive_only_in_blocks() {
        assert_eq!(inert("a\nb", Layout::Line), "a␊b");
        assert_eq!(inert("a\nb", Layout::Block), "a\nb");
        assert_eq!(inert("a\tb", Layout::Block), "a b");
    }

    #[test]
    fn bidi_and_invisible_characters_go() {
        let out = inert("kubectl \u{202e}txt.exe\u{2066} x\u{200b}y", Layout::Line);
        assert_eq!(out, "kubectl �txt.exe� x�y");
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        let t = "dial tcp 127.0.0.1:5000: connect: connection refused — ünïcode ✓";
        assert!(matches!(
            inert(t, Layout::Line),
            std::borrow::Cow::Borrowed(_)
        ));
    }
}
