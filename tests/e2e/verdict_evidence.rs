//! Verdicts that hold on real-world input, end to end: the whole event message kept (and a
//! table that elides only the middle of the wrapper chain), both problems kept when the node
//! fails before the probe does, `healthy` only with proof, and the failure that keeps
//! recurring chosen over a one-off, with counts and age.
//!
//! The API test server plays the cluster, Debian's docker-registry the registry, and the real
//! `pulldoctor` binary draws every format; each report is checked against the JSON schema.

use serde_json::Value;

use crate::scenario::{
    Run, Scenario, assert_read_only, assert_schema, dockerconfigjson, evidence_text, fix_text,
    path, pulldoctor,
};
use crate::support::kube_api::KubeApi;
use crate::support::{Auth, Registry, RegistryOptions, Tls};

const X509: &str =
    "tls: failed to verify certificate: x509: certificate signed by unknown authority";

fn registry(auth: Auth) -> Registry {
    let reg = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth,
    });
    reg.seed_fixtures();
    reg
}

/// containerd's wording: the cause comes last, after four wrappers.
fn containerd_failure(image: &str, host: &str, inner: &str) -> String {
    let repo_ref = image.strip_prefix(&format!("{host}/")).unwrap_or(image);
    let (repo, tag) = repo_ref.split_once(':').unwrap_or((repo_ref, "latest"));
    format!(
        "Failed to pull image \"{image}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{image}\": failed to resolve reference \"{image}\": failed to do request: Head \"https://{host}/v2/{repo}/manifests/{tag}\": {inner}"
    )
}

/// `pulldoctor pod web-0 -n shop -o FORMAT EXTRA…`, read-only checked; JSON schema-checked.
fn pod_as(api: &KubeApi, format: &str, extra: &[&str]) -> Run {
    let kc = api.kubeconfig();
    let mut args = vec![
        "pod",
        "web-0",
        "-n",
        "shop",
        "-o",
        format,
        "--kubeconfig",
        path(&kc),
    ];
    args.extend_from_slice(extra);
    let run = pulldoctor(&args);
    assert_read_only(api);
    if format == "json" {
        assert_schema(&run.json());
    }
    run
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("-")
}

/// Item 1: the cause at the end of a long containerd chain survives in every format; the
/// table keeps the head and the innermost clause and cuts the middle.
#[test]
fn the_deciding_words_are_kept_in_every_format() {
    let image = "registry.test:5000/platform/payments-api:2026.11.20-build.4821";
    let message = containerd_failure(image, "registry.test:5000", X509);
    assert!(message.len() > 300, "a long chain: {}", message.len());
    let api = KubeApi::start();
    Scenario::new(image).failed(&message).load(&api);

    let run = pod_as(&api, "json", &["--no-probe"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let v = run.verdict();
    let event = v["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == "event")
        .expect("an event line")
        .clone();
    let text = str_of(&event, "text");
    assert!(
        text.ends_with("x509: certificate signed by unknown authority"),
        "{text}"
    );
    assert!(text.contains(&message), "the whole message: {text}");
    assert!(
        str_of(&event, "clause").contains("x509: certificate signed by unknown authority"),
        "{event:#}"
    );

    for format in ["text", "markdown"] {
        let out = pod_as(&api, format, &["--no-probe"]).stdout;
        assert!(out.contains(&message), "{format} keeps the message:\n{out}");
    }

    let table = pod_as(&api, "table", &["--no-probe"]).stdout;
    let line = table
        .lines()
        .find(|l| l.trim_start().starts_with("[event]"))
        .unwrap_or_else(|| panic!("an event line in the table:\n{table}"));
    assert!(
        line.ends_with("x509: certificate signed by unknown authority"),
        "{line}"
    );
    assert!(line.contains("Failed to pull image"), "the head: {line}");
    assert!(line.contains(" … "), "the middle is elided: {line}");
    assert!(line.len() < message.len(), "{line}");
}

/// Item 4: the node fails x509; with the CA the probe gets further and the password is wrong.
/// Both problems, CA first, in every format; `--ca-file` said plainly.
#[test]
fn x509_on_the_node_and_a_wrong_password_behind_it() {
    let marker = "pw-both-7c2e";
    let reg = registry(Auth::htpasswd("alice", "the-right-one"));
    let image = format!("{}/app:1.0", reg.host);
    let ca = path(&reg.pki.ca_file).to_string();
    let api = KubeApi::start();
    Scenario::new(&image)
        .event_seen(
            "Failed",
            &containerd_failure(&image, &reg.host, X509),
            4,
            "2026-11-20T09:01:00Z",
            "2026-11-20T09:04:00Z",
        )
        .pull_secret("regcred")
        .secret(dockerconfigjson(
            "shop", "regcred", &reg.host, "alice", marker,
        ))
        .load(&api);

    let run = pod_as(&api, "json", &["--ca-file", &ca]);
    run.assert_no_leak("alice", marker);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let v = run.verdict();
    assert_eq!(
        (str_of(&v, "cause"), str_of(&v, "confidence")),
        ("tls_unknown_authority", "confirmed"),
        "{v:#}"
    );
    let second = &v["secondary_causes"][0];
    assert_eq!(
        (str_of(second, "cause"), str_of(second, "confidence")),
        ("auth_invalid_credentials", "confirmed"),
        "{v:#}"
    );
    let fixes = fix_text(&v);
    let ca_fix = fixes
        .find(&format!("/etc/containerd/certs.d/{}/hosts.toml", reg.host))
        .unwrap_or_else(|| panic!("the CA fix: {fixes}"));
    let password_fix = fixes
        .find("Recreate secret regcred")
        .unwrap_or_else(|| panic!("the password fix: {fixes}"));
    assert!(ca_fix < password_fix, "trust the CA first: {fixes}");
    let evidence = evidence_text(&v);
    assert!(
        evidence.contains(&format!(
            "--ca-file {ca} is the CA the registry should be trusted with"
        )),
        "{evidence}"
    );
    assert!(evidence.contains("the node does not have it"), "{evidence}");
    assert!(evidence.contains("4 attempts in 3m"), "{evidence}");

    for format in ["table", "text", "markdown"] {
        let out = pod_as(&api, format, &["--ca-file", &ca]);
        out.assert_no_leak("alice", marker);
        let out = out.stdout;
        eprintln!("=== {format}\n{out}");
        assert!(
            out.contains("x509: certificate signed by unknown authority"),
            "{format} says what the event said:\n{out}"
        );
        assert!(
            out.contains("auth_invalid_credentials"),
            "{format} names the second problem:\n{out}"
        );
        let (first, then) = (
            out.find("hosts.toml").unwrap_or(usize::MAX),
            out.find("Recreate secret regcred")
                .unwrap_or_else(|| panic!("{format} has the password fix:\n{out}")),
        );
        assert!(first < then, "{format}: the CA fix comes first:\n{out}");
    }
}

/// Item 7: a pod that recovered (running, `Pulled` after the failures) is not a problem, with
/// or without a probe; its old failures are reported as history.
#[test]
fn a_recovered_pod_is_not_a_problem() {
    let reg = registry(Auth::None);
    let image = format!("{}/app:1.0", reg.host);
    let ca = path(&reg.pki.ca_file).to_string();
    let api = KubeApi::start();
    Scenario::new(&image)
        .healthy()
        .event_seen(
            "Failed",
            &containerd_failure(&image, &reg.host, X509),
            6,
            "2026-11-20T09:00:00Z",
            "2026-11-20T09:05:00Z",
        )
        .event_seen(
            "Pulled",
            &format!("Successfully pulled image \"{image}\" in 1.2s (1.2s including waiting)"),
            1,
            "2026-11-20T09:07:00Z",
            "2026-11-20T09:07:00Z",
        )
        .load(&api);
    for extra in [vec!["--ca-file", ca.as_str()], vec!["--no-probe"]] {
        let run = pod_as(&api, "json", &extra);
        assert_eq!(run.code, 0, "{extra:?}: {}\n{}", run.stdout, run.stderr);
        let v = run.verdict();
        assert_eq!(str_of(&v, "confidence"), "healthy", "{extra:?}: {v:#}");
        assert_eq!(v["failures"][0]["recurring"], false, "{v:#}");
        assert_eq!(v["failures"][0]["count"], 6, "{v:#}");
        assert!(
            evidence_text(&v).contains("kubelet pulled the image after those failures"),
            "{v:#}"
        );
    }
}

/// Item 7: `healthy` needs proof. A running pod not probed, and a pod never scheduled, are
/// `not_checked` (with why), exit 0; a probe that fails still finds the unscheduled pod's
/// problem before any node meets it.
#[test]
fn healthy_needs_proof() {
    let reg = registry(Auth::None);
    let ca = path(&reg.pki.ca_file).to_string();

    let api = KubeApi::start();
    Scenario::new(&format!("{}/app:1.0", reg.host))
        .healthy()
        .load(&api);
    let run = pod_as(&api, "json", &["--no-probe"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.verdict();
    assert_eq!(str_of(&v, "confidence"), "not_checked", "{v:#}");
    assert!(str_of(&v, "summary").contains("--no-probe"), "{v:#}");
    assert_eq!(run.json()["summary"]["not_checked"], 1);
    assert_eq!(run.json()["summary"]["healthy"], 0);
    // With the probe, the same pod is proven healthy.
    let run = pod_as(&api, "json", &["--ca-file", &ca]);
    assert_eq!(str_of(&run.verdict(), "confidence"), "healthy");

    let api = KubeApi::start();
    Scenario::new(&format!("{}/app:1.0", reg.host))
        .unscheduled()
        .load(&api);
    let run = pod_as(&api, "json", &["--ca-file", &ca]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let v = run.verdict();
    assert_eq!(str_of(&v, "confidence"), "not_checked", "{v:#}");
    assert!(str_of(&v, "summary").contains("not scheduled"), "{v:#}");
    let text = pod_as(&api, "text", &["--ca-file", &ca]).stdout;
    assert!(text.contains("confidence=not_checked"), "{text}");
    assert!(text.contains("not_checked: 1"), "{text}");

    let api = KubeApi::start();
    Scenario::new(&format!("{}/app:9.9", reg.host))
        .unscheduled()
        .load(&api);
    let run = pod_as(&api, "json", &["--ca-file", &ca]);
    assert_eq!(
        run.code, 1,
        "the probe finds the tag missing: {}",
        run.stdout
    );
    assert_eq!(str_of(&run.verdict(), "cause"), "not_found_tag");
}

/// Item 7: `image --no-probe` on a valid reference is not checked, not `unknown`; an invalid
/// one is still a problem.
#[test]
fn image_no_probe_is_not_checked() {
    let run = pulldoctor(&[
        "image",
        "registry.test:5000/app:1.0",
        "--no-probe",
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_schema(&run.json());
    let v = run.verdict();
    assert_eq!(str_of(&v, "confidence"), "not_checked", "{v:#}");
    assert!(v.get("cause").is_none(), "{v:#}");
    assert!(
        str_of(&v, "summary").contains("reference is valid"),
        "{v:#}"
    );

    let run = pulldoctor(&["image", "Registry.test/App:1", "--no-probe", "-o", "json"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(str_of(&run.verdict(), "cause"), "invalid_reference");
}

/// Item 8: a one-off failure before thirty of another does not decide the verdict; each cause
/// still recurring is listed with its count and age, the stale one as history.
#[test]
fn the_recurring_failure_wins_over_a_one_off() {
    let image = "registry.test:5000/app:1.0";
    let host = "registry.test:5000";
    let dns = containerd_failure(
        image,
        host,
        "dial tcp: lookup registry.test on 127.0.0.53:53: Try again",
    );
    let forbidden = containerd_failure(
        image,
        host,
        "unexpected status from HEAD request to https://registry.test:5000/v2/app/manifests/1.0: 403 Forbidden",
    );
    let timeout = containerd_failure(
        image,
        host,
        "dial tcp 127.0.0.7:5000: connect: connection timed out",
    );
    let api = KubeApi::start();
    Scenario::new(image)
        .event_seen(
            "Failed",
            &dns,
            1,
            "2026-11-20T09:00:00Z",
            "2026-11-20T09:00:00Z",
        )
        .event_seen(
            "Failed",
            &forbidden,
            30,
            "2026-11-20T09:01:00Z",
            "2026-11-20T09:15:00Z",
        )
        .event_seen(
            "Failed",
            &timeout,
            4,
            "2026-11-20T09:11:00Z",
            "2026-11-20T09:14:00Z",
        )
        .event_seen(
            "Failed",
            "Error: ErrImagePull",
            35,
            "2026-11-20T09:00:00Z",
            "2026-11-20T09:15:00Z",
        )
        .load(&api);
    let run = pod_as(&api, "json", &["--no-probe"]);
    assert_eq!(run.code, 1);
    let v = run.verdict();
    assert_eq!(str_of(&v, "cause"), "auth_forbidden", "{v:#}");
    let failures = v["failures"].as_array().expect("failures");
    let row = |cause: &str| {
        failures
            .iter()
            .find(|f| f["cause"] == cause)
            .unwrap_or_else(|| panic!("{cause} listed: {v:#}"))
    };
    assert_eq!(row("auth_forbidden")["count"], 30);
    assert_eq!(row("auth_forbidden")["recurring"], true);
    assert_eq!(row("network_unreachable")["recurring"], true);
    assert_eq!(
        str_of(row("network_unreachable"), "seen"),
        "4 attempts in 3m, last 2026-11-20T09:14:00Z"
    );
    assert_eq!(row("dns_failure")["recurring"], false, "{v:#}");
    assert_eq!(
        failures.len(),
        3,
        "kubelet's follow-ups are not causes: {v:#}"
    );
    let evidence = evidence_text(&v);
    assert!(evidence.contains("30 attempts in 14m"), "{evidence}");
    assert!(
        evidence.contains("also recurring, network_unreachable"),
        "{evidence}"
    );
    assert!(
        evidence.contains("no longer recurring, dns_failure"),
        "{evidence}"
    );
    let table = pod_as(&api, "table", &["--no-probe"]).stdout;
    eprintln!("{table}");
    assert!(
        table.contains("kubelet reports: network_unreachable (4 attempts in 3m"),
        "{table}"
    );
}

/// Item 8: a definite one-off (a 403) before thirty of Docker's ambiguous denial: the thirty
/// decide, not the one that reads as more precise.
#[test]
fn frequency_beats_a_more_precise_one_off() {
    let image = "registry.test:5000/app:1.0";
    let denied = format!(
        "Failed to pull image \"{image}\": rpc error: code = Unknown desc = Error response from daemon: pull access denied for registry.test:5000/app, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
    );
    let forbidden = containerd_failure(
        image,
        "registry.test:5000",
        "unexpected status from HEAD request to https://registry.test:5000/v2/app/manifests/1.0: 403 Forbidden",
    );
    let api = KubeApi::start();
    Scenario::new(image)
        .event_seen(
            "Failed",
            &denied,
            30,
            "2026-11-20T09:00:30Z",
            "2026-11-20T09:20:00Z",
        )
        .event_seen(
            "Failed",
            &forbidden,
            1,
            "2026-11-20T09:00:00Z",
            "2026-11-20T09:00:00Z",
        )
        .load(&api);
    let v = pod_as(&api, "json", &["--no-probe"]).verdict();
    assert_eq!(str_of(&v, "cause"), "auth_or_not_found", "{v:#}");
    assert_eq!(v["failures"][1]["cause"], "auth_forbidden", "{v:#}");
    assert_eq!(v["failures"][1]["recurring"], false, "{v:#}");
}

/// Item 8 from a support bundle: events written through events.k8s.io carry `eventTime` and
/// `series` instead of `count`/`firstTimestamp`/`lastTimestamp`; the real registry confirms the
/// recurring failure, and the one-off before it is history.
#[test]
fn snapshot_event_series_are_counted() {
    let marker = "pw-series-51f0";
    let reg = registry(Auth::htpasswd("alice", marker));
    let image = format!("{}/app:1.0", reg.host);
    let ca = path(&reg.pki.ca_file).to_string();
    let unauthorized = containerd_failure(
        &image,
        &reg.host,
        &format!(
            "unexpected status from HEAD request to https://{}/v2/app/manifests/1.0: 401 Unauthorized",
            reg.host
        ),
    );
    let refused = containerd_failure(
        &image,
        &reg.host,
        &format!("dial tcp {}: connect: connection refused", reg.host),
    );
    let event = |name: &str, message: &str, time: &str, series: Option<(u32, &str)>| {
        let mut e = serde_json::json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": "shop"},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "web-0",
                "namespace": "shop", "fieldPath": "spec.containers{app}"},
            "reason": "Failed", "message": message, "type": "Warning",
            "eventTime": time, "reportingComponent": "kubelet", "reportingInstance": "node-1",
            "action": "Pulling"});
        if let Some((count, last)) = series {
            e["series"] = serde_json::json!({"count": count, "lastObservedTime": last});
        }
        e
    };
    let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": "web-0", "namespace": "shop", "creationTimestamp": "2026-11-20T08:59:00Z"},
         "spec": {"containers": [{"name": "app", "image": image}], "nodeName": "node-1"},
         "status": {"phase": "Pending", "containerStatuses": [{"name": "app", "image": image,
            "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff",
                "message": format!("Back-off pulling image \"{image}\"")}}}]}},
        event("web-0.a", &refused, "2026-11-20T09:00:00.000000Z", None),
        event("web-0.b", &unauthorized, "2026-11-20T09:05:00.000000Z",
            Some((12, "2026-11-20T09:20:00.000000Z"))),
    ]});
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, list.to_string()).unwrap();
    let run = pulldoctor(&[
        "pod",
        "web-0",
        "-n",
        "shop",
        "--snapshot",
        path(&file),
        "--ca-file",
        &ca,
        "-o",
        "json",
    ]);
    run.assert_no_leak("alice", marker);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert_schema(&run.json());
    let v = run.verdict();
    assert_eq!(
        (str_of(&v, "cause"), str_of(&v, "confidence")),
        ("auth_required", "confirmed"),
        "{v:#}"
    );
    let first = &v["failures"][0];
    assert_eq!(first["count"], 12, "{v:#}");
    assert_eq!(
        str_of(first, "seen"),
        "12 attempts in 15m, last 2026-11-20T09:20:00Z",
        "{v:#}"
    );
    assert_eq!(v["failures"][1]["cause"], "network_unreachable", "{v:#}");
    assert_eq!(v["failures"][1]["recurring"], false, "{v:#}");
}
