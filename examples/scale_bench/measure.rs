//! Running `pulldoctor scan -A` under `/usr/bin/time -v` and reading back what it printed:
//! wall time, peak RSS, exit code, the report's totals and the registry requests it caused.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::FaultProxy;

/// What one timed scan produced.
pub struct Run {
    pub wall_s: f64,
    /// User plus system CPU time: what the run cost, whatever else the machine was doing.
    pub cpu_s: f64,
    pub rss_kb: u64,
    pub code: i32,
    pub report: Value,
    pub registry_requests: usize,
}

impl Run {
    /// The probes note's count ("N registry probe(s) for …").
    pub fn probes(&self) -> usize {
        self.report["notes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find(|n| n.contains("registry probe"))
            .and_then(|n| n.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }

    /// What must not depend on the snapshot's format: every group and failing pod, the totals.
    pub fn findings(&self) -> Value {
        serde_json::json!({
            "groups": self.report["groups"],
            "failing_pods": self.report["failing_pods"],
            "totals": self.report["totals"],
        })
    }
}

/// "m:ss.ss" or "h:mm:ss" as GNU time prints the elapsed time, in seconds.
fn seconds(elapsed: &str) -> f64 {
    elapsed.split(':').fold(0.0, |acc, part| {
        acc * 60.0 + part.parse::<f64>().unwrap_or(0.0)
    })
}

/// Runs `pulldoctor scan -A -o json` with `args` once, counting the requests the proxies saw.
pub fn scan(pulldoctor: &Path, args: &[&str], proxies: &[&FaultProxy], out: &Path) -> Run {
    let before: usize = proxies.iter().map(|p| p.requests().len()).sum();
    let stdout = std::fs::File::create(out).expect("create output file");
    let output = Command::new("/usr/bin/time")
        .arg("-v")
        .arg(pulldoctor)
        .args(["scan", "-A", "-o", "json"])
        .args(args)
        .env_remove("KUBECONFIG")
        .stdout(stdout)
        .output()
        .expect("run /usr/bin/time -v pulldoctor");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let field = |name: &str| {
        stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix(name).map(|v| v.trim().to_string()))
            .unwrap_or_default()
    };
    let report: Value = std::fs::read(out)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    if report.is_null() {
        eprintln!("pulldoctor printed no JSON report; its stderr:\n{stderr}");
    }
    let after: usize = proxies.iter().map(|p| p.requests().len()).sum();
    Run {
        wall_s: seconds(&field("Elapsed (wall clock) time (h:mm:ss or m:ss):")),
        cpu_s: field("User time (seconds):").parse().unwrap_or(0.0)
            + field("System time (seconds):").parse().unwrap_or(0.0),
        rss_kb: field("Maximum resident set size (kbytes):")
            .parse()
            .unwrap_or(0),
        code: field("Exit status:").parse().unwrap_or(-1),
        report,
        registry_requests: after - before,
    }
}

/// The median wall and CPU times of `runs`, and the largest peak RSS.
pub fn summary(runs: &[Run]) -> (f64, f64, u64) {
    let median = |f: fn(&Run) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (
        median(|r| r.wall_s),
        median(|r| r.cpu_s),
        runs.iter().map(|r| r.rss_kb).max().unwrap_or(0),
    )
}
