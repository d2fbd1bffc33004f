//! `scan` keeps different stories apart: pods whose pulls fail with one cause id but need
//! different fixes are different groups, and `-o json` lists every failing pod with its own
//! verdict and fix, the list automation reads.
//!
//! The bundled cluster (`fixtures/cluster/`) is served by the API test server, its images
//! point at a real registry. Four of its pods fail for want of credentials, each for its own
//! reason: a secret never referenced (`nginx-registry`), a service account changed after the
//! pod was created (`nightly-report-…`), a secret that exists only in another namespace
//! (`orders-0`), an anonymous token refused with the secret unreferenced (`checkout-…`).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::scenario::{Run, assert_schema, path, pulldoctor};
use crate::support::kube_api::KubeApi;
use crate::support::{Auth, Registry, RegistryOptions, Tls};

const PASSWORD: &str = "PLACEHOLDER-not-a-password";

/// The four credential stories, and a word each one's own fix must hold.
const STORIES: [(&str, &str); 4] = [
    ("shop/nginx-registry", "imagePullSecrets += [{\"name\":"),
    (
        "shop/nightly-report-29381760-tm2jc",
        "Delete the pods of CronJob nightly-report",
    ),
    (
        "shop/orders-0",
        "create secret docker-registry payments-cred -n shop",
    ),
    (
        "payments/checkout-6b8d9-2xq7w",
        "imagePullSecrets += [{\"name\":\"payments-cred\"}]",
    ),
];

fn scan(api: &KubeApi, reg: &Registry, format: &str) -> Run {
    let kc = api.kubeconfig();
    let run = pulldoctor(&[
        "scan",
        "-A",
        "--kubeconfig",
        path(&kc),
        "--ca-file",
        path(&reg.pki.ca_file),
        "-o",
        format,
    ]);
    run.assert_no_leak("payments-bot", PASSWORD);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    run
}

#[test]
fn one_cause_with_four_stories_is_four_groups_with_their_own_fixes() {
    let reg = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth: Auth::htpasswd("payments-bot", PASSWORD),
    });
    let api = KubeApi::start();
    api.load_fixture_with("cluster/shop.yaml", &reg.host);
    api.load_fixture_with("cluster/payments.yaml", &reg.host);

    let run = scan(&api, &reg, "json");
    let report = run.json();
    assert_schema(&report);
    let groups = report["groups"].as_array().unwrap();

    // Each failing pod once, with its own verdicts and fixes.
    let pods: BTreeMap<String, &Value> = report["failing_pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                format!(
                    "{}/{}",
                    p["namespace"].as_str().unwrap(),
                    p["name"].as_str().unwrap()
                ),
                p,
            )
        })
        .collect();
    assert_eq!(pods.len(), 9, "{:#}", report["failing_pods"]);
    assert_eq!(report["summary"]["problems"], 9);
    let grouped: Vec<&str> = groups
        .iter()
        .flat_map(|g| g["pod_names"].as_array().unwrap())
        .map(|n| n.as_str().unwrap())
        .collect();
    for name in pods.keys() {
        assert!(grouped.contains(&name.as_str()), "{name} is in no group");
    }
    let pods_counted: u64 = groups.iter().map(|g| g["pods"].as_u64().unwrap()).sum();
    assert_eq!(pods_counted, grouped.len() as u64);

    let own = |pod: &str| &pods[pod]["verdicts"][0];
    let cause = own(STORIES[0].0)["cause"].clone();
    let mut seen = Vec::new();
    for (pod, word) in STORIES {
        let v = own(pod);
        assert_eq!(
            v["cause"], cause,
            "one cause id for the four stories: {v:#}"
        );
        let fixes = v["fixes"].to_string();
        assert!(fixes.contains(&word.replace('"', "\\\"")), "{pod}: {fixes}");
        // The group holding this pod prints this pod's fix, for this pod's workload.
        let g = groups
            .iter()
            .find(|g| g["pod_names"].as_array().unwrap().iter().any(|n| n == pod))
            .unwrap();
        assert_eq!(g["pods"], 1, "{pod} shares its group: {g:#}");
        let workload = pods[pod]["workload"].as_str().unwrap();
        let set = g["fixes_by_workload"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| {
                s["workloads"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|w| w == workload)
            })
            .unwrap_or_else(|| panic!("no fix for {workload}: {g:#}"));
        assert_eq!(set["fixes"], v["fixes"], "{pod}");
        seen.push(g["pod_names"].clone());
    }
    seen.dedup();
    assert_eq!(seen.len(), 4, "four stories, four groups");

    // The replicas of one Deployment with one fix stay one group.
    let web = groups
        .iter()
        .find(|g| {
            g["workloads"]
                .as_array()
                .unwrap()
                .iter()
                .any(|w| w == "shop/Deployment web")
        })
        .unwrap();
    assert!(web["pods"].as_u64().unwrap() >= 2, "{web:#}");
    assert_eq!(
        report["totals"],
        serde_json::json!({"groups": groups.len(), "pods": 9, "workloads": 8}),
    );

    // Text and Markdown print every group, its pods and the fix for each workload.
    let text = scan(&api, &reg, "text").stdout;
    assert_eq!(
        text.lines().filter(|l| l.starts_with("group: ")).count(),
        groups.len(),
        "{text}"
    );
    for (pod, word) in STORIES {
        assert!(text.contains(&format!("  pod: {pod}")), "{text}");
        assert!(text.contains(word), "{pod}: {text}");
    }
    assert!(
        text.contains(&format!(
            "total: groups={} pods=9 workloads=8",
            groups.len()
        )),
        "{text}"
    );
    let md = scan(&api, &reg, "markdown").stdout;
    assert_eq!(md.matches("\n#### `").count(), groups.len(), "{md}");
    for (pod, word) in STORIES {
        assert!(md.contains(pod) && md.contains(word), "{pod}: {md}");
    }
    assert!(
        md.contains(&format!(
            "| **total** | | 9 | 8 workload(s) | {} group(s) |",
            groups.len()
        )),
        "{md}"
    );

    // The table ends with the totals, after one row per group.
    let table = scan(&api, &reg, "table").stdout;
    let rows: Vec<&str> = table
        .lines()
        .take_while(|l| !l.starts_with('└'))
        .filter(|l| l.starts_with('│') && !l.starts_with("│ CAUSE") && !l.starts_with("│  "))
        .collect();
    assert_eq!(rows.len(), groups.len() + 1, "{table}");
    let last: Vec<&str> = rows
        .last()
        .unwrap()
        .split(['│', '┆'])
        .map(str::trim)
        .collect();
    assert_eq!(last[1], "total", "{table}");
    assert_eq!(last[3], "9", "{table}");
    assert!(last[5].starts_with(&groups.len().to_string()), "{table}");
    for g in groups {
        let cause = g["cause"].as_str().unwrap();
        assert!(table.contains(cause), "{table}");
    }
}
