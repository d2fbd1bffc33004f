//! The classifier's wording and pasted-text handling as a user meets them through the real
//! `pulldoctor explain` and `pulldoctor image`: CRI-O's platform wording, proxy failures, Go's
//! `net/http: request canceled`, references split by a terminal's hard wrap, a paste naming tens
//! of thousands of images, and an unclosed IPv6 registry host.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::scenario::{Scenario, assert_schema, fix_text, pod, pulldoctor};
use crate::support::kube_api::KubeApi;

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

/// CRI-O's containers/image wording for a missing platform, old and new, is a platform mismatch
/// with the platform read out as `os/arch[/variant]`.
#[test]
fn explain_crio_choosing_image_instance_is_platform_mismatch() {
    let s = explain_message(
        r#"Failed to pull image "quay.io/team/app:1.2": rpc error: code = Unknown desc = choosing image instance: no image found in manifest list for architecture arm64, variant "v8", OS linux"#,
    );
    assert_eq!(s["cause"], "platform_mismatch", "{s:#}");
    assert_eq!(s["platform"], "linux/arm64/v8");
    assert_eq!(s["runtime"], "cri-o");
    assert_eq!(s["image"], "quay.io/team/app:1.2");
    let s = explain_message(
        r#"Error: choosing an image from manifest list docker://quay.io/team/app:1.2: no image found in image index for architecture "s390x", variant "", OS "linux""#,
    );
    assert_eq!(s["cause"], "platform_mismatch", "{s:#}");
    assert_eq!(s["platform"], "linux/s390x");
}

/// A failure on the way to the runtime's proxy is the proxy's, not the registry's DNS or
/// network: the proxy and how it failed are named, and the pod's verdict and fix say so.
#[test]
fn proxy_failures_name_the_proxy_not_the_registry() {
    let s = explain_message(
        r#"Failed to pull image "registry.test:5000/app:1": rpc error: code = Unknown desc = failed to pull and unpack image "registry.test:5000/app:1": failed to resolve reference "registry.test:5000/app:1": failed to do request: Head "https://registry.test:5000/v2/app/manifests/1": proxyconnect tcp: dial tcp: lookup proxy.corp.test on 127.0.0.53:53: no such host"#,
    );
    assert_eq!(s["cause"], "proxy_failure", "{s:#}");
    assert_eq!(s["family"], "network");
    assert_eq!(s["proxy"], "proxy.corp.test");
    assert_eq!(s["connection"], "dns");
    assert!(
        s["meaning"]
            .as_str()
            .unwrap()
            .contains("proxy proxy.corp.test"),
        "{s:#}"
    );
    let s = explain_message(
        "Error response from daemon: Get https://registry-1.docker.io/v2/: proxyconnect tcp: dial tcp 127.0.0.1:3128: connect: connection refused",
    );
    assert_eq!(s["cause"], "proxy_failure", "{s:#}");
    assert_eq!(s["proxy"], "127.0.0.1:3128");
    assert_eq!(s["connection"], "refused");

    let api = KubeApi::start();
    let image = "registry.test:5000/app:1";
    Scenario::new(image)
        .failed(&format!("Failed to pull image \"{image}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": failed to do request: Head \"https://registry.test:5000/v2/app/manifests/1\": proxyconnect tcp: dial tcp 127.0.0.1:3128: connect: connection refused"))
        .load(&api);
    let run = pod(&api, &["--no-probe"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_schema(&report);
    let v = run.verdict();
    assert_eq!(v["cause"], "proxy_failure", "{v:#}");
    assert!(v["summary"].as_str().unwrap().contains("proxy"), "{v:#}");
    let fix = fix_text(&v);
    assert!(
        fix.contains("127.0.0.1:3128") && fix.contains("NO_PROXY"),
        "{fix}"
    );
}

/// Go's `net/http: request canceled`, bare or with its Client.Timeout detail, is a timeout
/// reaching the registry.
#[test]
fn explain_request_canceled_is_a_timeout_reaching_the_registry() {
    let s = explain_message(
        r#"Failed to pull image "registry.test:5500/my/app:5.6.3": rpc error: code = 2 desc = net/http: request canceled"#,
    );
    assert_eq!(s["cause"], "network_unreachable", "{s:#}");
    assert_eq!(s["connection"], "timeout");
    assert!(
        s["meaning"].as_str().unwrap().contains("timed out"),
        "{s:#}"
    );
    let s = explain_message(
        "Error response from daemon: Get https://registry.test/v2/: net/http: request canceled (Client.Timeout exceeded while awaiting headers)",
    );
    assert_eq!(s["cause"], "network_unreachable", "{s:#}");
    assert_eq!(s["connection"], "timeout");
}

/// A `kubectl describe` pasted from a terminal that hard-wrapped it at 100 columns: the digest,
/// the image reference and the registry URL cut mid-token are rejoined, not spaced apart.
#[test]
fn explain_rejoins_references_a_terminal_wrapped() {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/messages/describe/namespacelabs-846-hard-wrapped.txt");
    let run = pulldoctor(&["explain", fixture.to_str().unwrap(), "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    assert_schema(&report);
    let s = &report["symptoms"][0];
    let digest = "sha256:8d0bff43db3ce5c528cb6f957520511d263d7cceee012696e4afdc9087919bb9";
    assert_eq!(
        s["image"],
        format!("index.docker.io/jaegertracing/all-in-one@{digest}"),
        "{s:#}"
    );
    assert_eq!(s["reference"], digest);
    assert_eq!(
        s["url"],
        format!("https://registry-1.docker.io/v2/jaegertracing/all-in-one/manifests/{digest}")
    );
    assert_eq!(s["cause"], "rate_limited");
    // One message wrapped by the user rather than the terminal keeps its word break.
    let s = explain_message(
        "Failed to pull image \"registry.test/app@sha256:8d0bff43db3ce5c528cb6f957520511d\n263d7cceee012696e4afdc9087919bb9\": rpc error: code = NotFound desc = failed to pull and unpack image: not\nfound",
    );
    assert_eq!(s["image"], format!("registry.test/app@{digest}"), "{s:#}");
    assert!(s["message"].as_str().unwrap().contains("not\nfound"));
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
