//! Fuzzes suggested-command construction with cluster- and registry-sourced values.
//!
//! The input is NUL-separated fields: namespace, pull secret, owner kind, owner name, service
//! account, image, registry key, registry host, container, then tags and platforms (comma
//! separated). They fill every field of `Evidence` a fix reads, under every cause, for both
//! audiences and each credential story. Whatever they hold, every command fix must split, as a
//! POSIX shell splits it, into exactly the argv the fix states; no text may carry a control
//! character a terminal would act on; and a command may hold a fuzzed value only if it follows
//! its grammar.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pulldoctor::diagnose::fix::fixes_for;
use pulldoctor::diagnose::names::{Grammar, valid};
use pulldoctor::diagnose::shell::split;
use pulldoctor::diagnose::{
    Audience, ContainerInfo, CredentialFacts, CredentialFinding, CredentialLabel, Evidence,
    FixKind, FixTarget, NodeFacts, ProbeFacts, ProbeResult,
};
use pulldoctor::registry::ImageRef;
use pulldoctor::taxonomy::{Cause, Runtime};

/// The grammar of each fuzzed field, in field order.
const GRAMMARS: [Grammar; 9] = [
    Grammar::Namespace,
    Grammar::Secret,
    Grammar::Kind,
    Grammar::Object,
    Grammar::ServiceAccount,
    Grammar::Image,
    Grammar::RegistryKey,
    Grammar::Host,
    Grammar::Container,
];

/// Words pulldoctor writes itself; a fuzzed value equal to one proves nothing.
const WORDS: &[&str] = &[
    "kubectl",
    "docker",
    "create",
    "secret",
    "patch",
    "-n",
    "-p",
    "-o",
    "json",
    "yaml",
    "pod",
    "get",
    "replace",
    "--force",
    "-f",
    "-",
    "jq",
    "apply",
    "run",
    "login",
    "set",
    "image",
    "rollout",
    "restart",
    "serviceaccount",
    "docker-registry",
    "sudo",
    "mkdir",
    "cp",
    "ca.crt",
    "crictl",
    "rmi",
    "--prune",
    "--type=strategic",
    "--dry-run=client",
    "default",
    "--docker-username=<username>",
    "--docker-password=<password>",
];

fn finding(id: &str, secret: &str, suggested: Option<&str>) -> CredentialFinding {
    CredentialFinding {
        id: id.to_string(),
        secret: Some(format!("shop/{secret}")),
        key: Some(secret.to_string()),
        message: String::new(),
        suggested_key: suggested.map(str::to_string),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let f: Vec<&str> = text.split('\0').collect();
    let at = |i: usize| f.get(i).copied().unwrap_or("");
    let (ns, secret, kind, owner, sa, image, key, host, container) = (
        at(0),
        at(1),
        at(2),
        at(3),
        at(4),
        at(5),
        at(6),
        at(7),
        at(8),
    );
    let list = |i: usize| -> Vec<String> {
        at(i)
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    };
    let image_ref = ImageRef::parse(image).ok().map(|mut r| {
        if !host.is_empty() {
            r.registry = host.to_string();
        }
        r
    });
    let stories = [
        CredentialFacts {
            anonymous: true,
            findings: vec![finding("secret_not_found", secret, None)],
            server_key: key.to_string(),
            ..CredentialFacts::default()
        },
        CredentialFacts {
            anonymous: true,
            findings: vec![finding("key_port_mismatch", secret, Some(key))],
            server_key: key.to_string(),
            ..CredentialFacts::default()
        },
        CredentialFacts {
            anonymous: true,
            unreferenced_match: Some(format!("shop/{secret}")),
            server_key: key.to_string(),
            ..CredentialFacts::default()
        },
        CredentialFacts {
            tried: vec![CredentialLabel {
                source: format!("secret shop/{secret}"),
                key: key.to_string(),
                username: sa.to_string(),
            }],
            findings: vec![finding("service_account_secret_not_in_pod", secret, None)],
            server_key: key.to_string(),
            ..CredentialFacts::default()
        },
        CredentialFacts {
            anonymous: true,
            findings: vec![finding("service_account_secret_not_in_pod", secret, None)],
            server_key: key.to_string(),
            ..CredentialFacts::default()
        },
    ];
    let probe = ProbeFacts::Ran(ProbeResult {
        tags: list(9),
        platforms: list(10),
        platform: at(11).to_string(),
        works_with_supplied_ca: Some(false),
        ..ProbeResult::default()
    });
    let fuzzed = [ns, secret, kind, owner, sa, image, key, host, container];
    for (story, audience) in stories
        .iter()
        .flat_map(|s| [(s, Audience::Cluster), (s, Audience::Ci)])
    {
        for bare_pod in [false, true] {
            let ev = Evidence {
                image: image.to_string(),
                image_ref: image_ref.clone(),
                container: Some(ContainerInfo {
                    name: container.to_string(),
                    kind: "regular".to_string(),
                    pull_policy: None,
                }),
                credentials: Some(story.clone()),
                probe: probe.clone(),
                node: Some(NodeFacts {
                    name: "n".to_string(),
                    runtime: Runtime::Unknown,
                    runtime_version: String::new(),
                    platform: String::new(),
                }),
                target: FixTarget {
                    kind: if bare_pod {
                        "Pod".to_string()
                    } else {
                        kind.to_string()
                    },
                    name: owner.to_string(),
                    service_account: sa.to_string(),
                    bare_pod,
                },
                namespace: ns.to_string(),
                audience,
                ..Evidence::default()
            };
            for cause in Cause::ALL {
                for fix in fixes_for(cause, &ev) {
                    let visible = format!("{}{}", fix.title, fix.text);
                    assert!(
                        !visible.chars().any(|c| c.is_control() && c != '\n'),
                        "control character in {fix:?}"
                    );
                    if fix.kind != FixKind::Command {
                        continue;
                    }
                    assert_eq!(
                        split(&fix.text).as_ref(),
                        Ok(&fix.argv),
                        "{cause:?}: {:?}",
                        fix.text
                    );
                    // A fuzzed value stands as a whole word only when it follows its grammar.
                    for word in fix.argv.iter().flatten() {
                        for (v, grammar) in fuzzed.iter().zip(GRAMMARS) {
                            let safe = word != v
                                || v.is_empty()
                                || valid(grammar, v)
                                || fuzzed
                                    .iter()
                                    .zip(GRAMMARS)
                                    .any(|(w, g)| w == v && valid(g, w))
                                || WORDS.contains(v);
                            assert!(safe, "invalid {grammar:?} {v:?} in {:?}", fix.text);
                        }
                    }
                }
            }
        }
    }
});
