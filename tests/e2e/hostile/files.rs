//! Files that never end or are too big: `/dev/zero` named as a snapshot, kubeconfig, authfile
//! or CA file, and large snapshots read item by item.
//!
//! kubectl and Docker read their config files whole; named by mistake (or by a hostile
//! wrapper), `/dev/zero` grows without bound. pulldoctor caps each kind of file and says which
//! file and which cap; each test asserts the exit, the message and the child's peak RSS.

use std::path::Path;

use super::*;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|a| a.to_string()).collect()
}

/// Exit 2 naming `/dev/zero`, quickly and in little memory.
fn assert_refused(r: &Run, what: &str, needle: &str) {
    println!(
        "/dev/zero as {what}: exit {:?} in {:?}, peak RSS {} KiB: {}",
        r.code,
        r.wall,
        r.peak_kib,
        r.stderr.trim()
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.stderr.contains("/dev/zero"), "{}", r.stderr);
    assert!(r.stderr.contains(needle), "{}", r.stderr);
    assert!(r.wall < HANG, "took {:?}", r.wall);
    assert!(r.peak_kib > 0, "VmHWM was never read");
    assert!(r.peak_kib < 64 * 1024, "peak RSS {} KiB", r.peak_kib);
}

#[test]
fn hostile_dev_zero_as_a_snapshot() {
    let r = run_args(
        marker("zero-snap"),
        &args(&["pod", "web", "--no-probe", "--snapshot", "/dev/zero"]),
    );
    assert_refused(&r, "--snapshot", "NUL byte");
}

#[test]
fn hostile_dev_zero_as_a_kubeconfig() {
    let r = run_args(
        marker("zero-kc"),
        &args(&["pod", "web", "--no-probe", "--kubeconfig", "/dev/zero"]),
    );
    assert_refused(
        &r,
        "--kubeconfig",
        "larger than 8 MiB, the cap for a kubeconfig",
    );
}

#[test]
fn hostile_dev_zero_as_an_authfile() {
    let r = run_args(
        marker("zero-auth"),
        &args(&["image", "127.0.0.1:1/app:1", "--authfile", "/dev/zero"]),
    );
    assert_refused(
        &r,
        "--authfile",
        "larger than 4 MiB, the cap for an authfile",
    );
}

#[test]
fn hostile_dev_zero_as_a_ca_file_in_a_cert_dir() {
    // A Docker cert dir whose `ca.crt` is a link to /dev/zero (`--ca-file` itself must be a
    // regular file; a directory's entries are followed).
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("ca.crt")).unwrap();
    let r = run_args(
        marker("zero-ca"),
        &args(&[
            "image",
            &format!("127.0.0.1:{}/app:1", crate::support::refused_port()),
            "--cert-dir",
            dir.path().to_str().unwrap(),
        ]),
    );
    let all = format!("{}{}", r.stdout, r.stderr);
    println!(
        "/dev/zero as a cert dir's ca.crt: exit {:?} in {:?}, peak RSS {} KiB",
        r.code, r.wall, r.peak_kib
    );
    assert!(r.wall < HANG, "took {:?}", r.wall);
    assert!(
        r.peak_kib > 0 && r.peak_kib < 64 * 1024,
        "peak RSS {} KiB",
        r.peak_kib
    );
    assert!(
        all.contains("larger than 4 MiB, the cap for a PEM file"),
        "{all}"
    );
}

/// One pod as kubectl's `-o yaml` lays out a `List` item (column-0 `- `, two-space indent),
/// with `env` padding it to about 2 KB; `waiting` gives it an image pull failure.
fn yaml_pod(ns: &str, name: &str, waiting: bool) -> String {
    let state = if waiting {
        "      waiting:\n        message: Back-off pulling image \"127.0.0.1:9/app:1\"\n        reason: ImagePullBackOff\n"
    } else {
        "      running:\n        startedAt: \"2026-11-20T09:00:10Z\"\n"
    };
    let env: String = (0..24)
        .map(|i| format!("      - name: SETTING_{i}\n        value: value-{i}-of-a-configuration-entry-{name}\n"))
        .collect();
    format!(
        "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: {name}\n    namespace: {ns}\n    uid: uid-{ns}-{name}\n  spec:\n    containers:\n    - name: app\n      image: 127.0.0.1:9/app:1\n      env:\n{env}  status:\n    containerStatuses:\n    - name: app\n      image: 127.0.0.1:9/app:1\n      imageID: \"\"\n      ready: false\n      restartCount: 0\n      state:\n{state}"
    )
}

/// A kubectl-style YAML `List` of about `mb` megabytes: healthy pods across 100 namespaces with
/// their events, and one failing pod `web` in `shop` with its event.
fn big_yaml_snapshot(mb: usize) -> String {
    let mut s = String::from("apiVersion: v1\nitems:\n");
    s.push_str(&yaml_pod("shop", "web", true));
    s.push_str("- apiVersion: v1\n  kind: Event\n  metadata:\n    name: web.1\n    namespace: shop\n  involvedObject:\n    kind: Pod\n    name: web\n    namespace: shop\n    uid: uid-shop-web\n  reason: Failed\n  type: Warning\n  message: 'Failed to pull image \"127.0.0.1:9/app:1\": failed to resolve reference \"127.0.0.1:9/app:1\": 127.0.0.1:9/app:1: not found'\n");
    let mut i = 0;
    while s.len() < mb * 1000 * 1000 {
        let (ns, name) = (format!("ns-{}", i % 100), format!("app-{i}"));
        s.push_str(&yaml_pod(&ns, &name, false));
        // A healthy pod's own events, as kubelet writes them.
        for (n, reason) in ["Scheduled", "Pulled", "Created", "Started"]
            .iter()
            .enumerate()
        {
            s.push_str(&format!(
                "- apiVersion: v1\n  kind: Event\n  metadata:\n    name: {name}.{n}\n    namespace: {ns}\n  involvedObject:\n    kind: Pod\n    name: {name}\n    namespace: {ns}\n    uid: uid-{ns}-{name}\n  reason: {reason}\n  type: Normal\n  message: '{reason} container app of pod {ns}/{name} on node worker-1 with image 127.0.0.1:9/app:1'\n"
            ));
        }
        i += 1;
    }
    s.push_str("kind: List\nmetadata:\n  resourceVersion: \"\"\n");
    s
}

/// Peak RSS must stay under the file's size plus 32 MiB: the text is read whole, each item is
/// parsed alone and dropped unless the command needs it (parsed whole, a YAML snapshot took
/// fourteen times its size).
fn assert_streamed(r: &Run, what: &str, bytes: usize, codes: &[i32]) {
    let cap_kib = (bytes / 1024 + 32 * 1024) as u64;
    println!(
        "{what}: {:.1} MB file, exit {:?} in {:?}, peak RSS {} KiB ({:.1} MiB; cap {} KiB)",
        bytes as f64 / 1e6,
        r.code,
        r.wall,
        r.peak_kib,
        r.peak_kib as f64 / 1024.0,
        cap_kib
    );
    assert!(
        r.code.is_some_and(|c| codes.contains(&c)),
        "{}\n{}",
        r.stdout,
        r.stderr
    );
    assert!(
        r.peak_kib > 0 && r.peak_kib < cap_kib,
        "peak RSS {} KiB",
        r.peak_kib
    );
}

#[test]
fn hostile_large_snapshots_are_read_item_by_item() {
    let dir = tempfile::tempdir().unwrap();
    let text = big_yaml_snapshot(4);
    let yaml = dir.path().join("cluster.yaml");
    std::fs::write(&yaml, &text).unwrap();
    // The same objects as kubectl's JSON `List`.
    let value: Value = serde_yaml_ng::from_str(&text).unwrap();
    drop(text);
    let json = dir.path().join("cluster.json");
    std::fs::write(&json, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    // And as a multi-document stream (`---` between objects), as `kubectl get` of single
    // objects concatenated, or a GitOps dump, lays them out.
    let stream = dir.path().join("cluster-stream.yaml");
    let docs: Vec<String> = value["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| serde_yaml_ng::to_string(o).unwrap())
        .collect();
    std::fs::write(&stream, docs.join("---\n")).unwrap();
    drop((value, docs));
    let size = |p: &Path| std::fs::metadata(p).unwrap().len() as usize;
    let files = [(&yaml, "YAML"), (&json, "JSON"), (&stream, "YAML stream")];
    let mut pod_peaks = Vec::new();
    for (file, what) in files {
        let r = run_args(
            marker("big-pod"),
            &args(&[
                "pod",
                "web",
                "-n",
                "shop",
                "--no-probe",
                "--snapshot",
                file.to_str().unwrap(),
            ]),
        );
        assert_streamed(&r, &format!("pod, {what}"), size(file), &[1]);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        assert_eq!(
            v["verdicts"].as_array().map(Vec::len),
            Some(1),
            "{}",
            r.stdout
        );
        pod_peaks.push(r.peak_kib);
    }
    // Without -n the pod is found by name in the snapshot.
    let r = run_args(
        marker("big-pod-any-ns"),
        &args(&[
            "pod",
            "web",
            "--no-probe",
            "--snapshot",
            yaml.to_str().unwrap(),
        ]),
    );
    assert_streamed(&r, "pod without -n, YAML", size(&yaml), &[1]);
    for ((file, what), pod_peak) in files.into_iter().zip(pod_peaks) {
        let r = run_args(
            marker("big-scan"),
            &args(&[
                "scan",
                "-A",
                "--no-probe",
                "--snapshot",
                file.to_str().unwrap(),
            ]),
        );
        // Unprobed, the one failing pod may or may not count as a problem: the bound is the
        // point.
        assert_streamed(&r, &format!("scan -A, {what}"), size(file), &[0, 1]);
        // A scan keeps what `pod` keeps and little more: the failing pod and its event, not
        // the healthy pods' events (typed and held to the end, they took 6 MiB more here).
        assert!(
            r.peak_kib < pod_peak + 3 * 1024,
            "scan -A, {what}: peak {} KiB, pod {pod_peak} KiB",
            r.peak_kib
        );
    }
}

#[test]
fn hostile_deeply_nested_yaml_is_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nested.yaml");
    let n = 50_000;
    std::fs::write(
        &file,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: web, namespace: shop}}\nspec: {}{}\n",
            "[".repeat(n),
            "]".repeat(n)
        ),
    )
    .unwrap();
    let r = run_args(
        marker("nested"),
        &args(&[
            "pod",
            "web",
            "-n",
            "shop",
            "--no-probe",
            "--snapshot",
            file.to_str().unwrap(),
        ]),
    );
    println!(
        "100 KB of nested brackets: exit {:?} in {:?}: {}",
        r.code,
        r.wall,
        r.stderr.trim()
    );
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    assert!(r.wall < HANG, "took {:?}", r.wall);
    assert!(
        r.stderr.contains(&file.display().to_string()),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("line 4: nested more than 64 levels deep"),
        "{}",
        r.stderr
    );
}
