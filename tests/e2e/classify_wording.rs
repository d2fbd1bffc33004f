//! The classifier's wording and pasted-text handling as a user meets them through the real
//! `pulldoctor explain` and `pulldoctor image`: CRI-O's platform wording, proxy failures, Go's
//! `net/http: request canceled`, references split by a terminal's hard wrap, a paste naming tens
//! of thousands of images, and an unclosed IPv6 registry host.

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::scenario::{assert_schema, pulldoctor};

/// Symptoms in a paste of this many distinct images.
const MANY_IMAGES: usize = 40_000;
/// CPU seconds `explain` may use on that paste (a cap, not a speed claim). The linear merge
/// uses about 1.5 s of CPU in a debug build; the quadratic one it replaced used about 16 s.
const CPU_CAP_SECONDS: u32 = 6;

/// `pulldoctor explain --message MSG -o json`: the one symptom.
fn explain_message(message: &str) -> Value {
    let run = pulldoctor(&["explain", "--message", message, "-o", "json"]);
    assert_eq!(run.code, 1, "a pull failure is a problem: {}", run.stderr);
    let report = run.json();
    assert_schema(&report);
    report["symptoms"][0].clone()
}

/// A paste of many distinct failing images is read in time linear in its size: under a CPU
/// cap the quadratic grouping it replaced cannot meet, and with every image kept.
#[test]
fn explain_many_distinct_images_stays_linear() {
    let mut text = String::new();
    for i in 0..MANY_IMAGES {
        text.push_str(&format!(
            "Failed to pull image \"r.test/app-{i:06}:1\": not found\n"
        ));
    }
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -t {CPU_CAP_SECONDS} && exec \"$0\" explain - -o json"
        ))
        .arg(env!("CARGO_BIN_EXE_pulldoctor"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run pulldoctor under sh");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "explain of {MANY_IMAGES} images did not finish within {CPU_CAP_SECONDS} s of CPU ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let symptoms = report["symptoms"].as_array().expect("symptoms");
    assert_eq!(symptoms.len(), MANY_IMAGES, "one symptom per image");
    assert_eq!(report["summary"]["problems"], MANY_IMAGES);
    assert_eq!(symptoms[MANY_IMAGES - 1]["image"], "r.test/app-039999:1");
    assert_eq!(symptoms[MANY_IMAGES - 1]["cause"], "not_found");
}

/// `[::1/a` is no reference: the IPv6 host never closes. `image` says so instead of going on
/// as if `[::1` were a registry.
#[test]
fn image_with_unclosed_ipv6_host_is_an_invalid_reference() {
    let run = pulldoctor(&["image", "[::1/a", "--no-probe", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_schema(&report);
    let v = &report["verdicts"][0];
    assert_eq!(v["cause"], "invalid_reference", "{v:#}");
    let evidence = v["evidence"].to_string();
    assert!(
        evidence.contains("must close with ']'"),
        "the reason is given: {evidence}"
    );
    // A well-formed bracketed host is still a reference.
    let run = pulldoctor(&["image", "[::1]:5000/a:1", "--no-probe", "-o", "json"]);
    assert_ne!(run.json()["verdicts"][0]["cause"], "invalid_reference");
}
