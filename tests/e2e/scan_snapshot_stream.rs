//! `scan -A --snapshot` reads every layout kubectl writes as a stream (issue 15): the same
//! cluster as a JSON `List`, a YAML `List`, a multi-document YAML stream, a stream with the
//! events before their pods, and concatenated JSON with a typed `PodList` gives one report,
//! probed against a real registry; a large file is never held whole; and the cap on waiting
//! pods a scan keeps is said in the report, with pods failing a pull kept first.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::scenario::{Run, dockerconfigjson, path, pulldoctor};
use crate::support::{Auth, Registry, RegistryOptions, Tls};

const USER: &str = "scanner";

fn pod(ns: &str, name: &str, image: &str, state: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{ns}-{name}"),
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec": {"containers": [{"name": "app", "image": image}],
            "imagePullSecrets": [{"name": "regcred"}], "serviceAccountName": "default"},
        "status": {"phase": "Pending", "containerStatuses": [{"name": "app", "image": image,
            "imageID": "", "ready": false, "restartCount": 0, "state": state}]}})
}

fn event(ns: &str, pod: &str, i: usize, reason: &str, message: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{pod}.{i}"), "namespace": ns},
        "involvedObject": {"kind": "Pod", "name": pod, "namespace": ns,
            "uid": format!("uid-{ns}-{pod}"), "fieldPath": "spec.containers{app}"},
        "reason": reason, "message": message, "type": "Warning", "count": 1})
}

/// Two namespaces: pods failing on a missing tag, a missing repository and a wrong password
/// (the `pay` copy of the secret is stale), pods only `ContainerCreating` whose events show the
/// pull failing, and healthy pods with their events. Returns the objects (pods before their
/// events) and the number of failing pods.
fn cluster(host: &str, password: &str) -> (Vec<Value>, usize) {
    let mut objects = Vec::new();
    let mut failing = 0;
    for (ns, pw) in [
        ("shop", password.to_string()),
        ("pay", format!("{password}-old")),
    ] {
        objects.push(dockerconfigjson(ns, "regcred", host, USER, &pw));
        objects.push(json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": ns}}));
        for i in 0..40 {
            let name = format!("app-{i:03}");
            let image = match i % 4 {
                0 => format!("{host}/app:v{i}"),
                1 => format!("{host}/ghost-{i}:1.0"),
                _ => format!("{host}/app:1.0"),
            };
            let not_found = format!("Failed to pull image \"{image}\": {image}: not found");
            let (state, events) = match i % 5 {
                0 | 1 => {
                    let waiting = json!({"waiting": {"reason": "ImagePullBackOff",
                        "message": format!("Back-off pulling image \"{image}\"")}});
                    (waiting, vec![("Failed", not_found.clone())])
                }
                2 => {
                    let waiting = json!({"waiting": {"reason": "ContainerCreating"}});
                    (waiting, vec![("Failed", not_found.clone())])
                }
                _ => {
                    let running = json!({"running": {"startedAt": "2026-11-20T09:00:10Z"}});
                    (
                        running,
                        vec![("Pulled", format!("Successfully pulled image \"{image}\""))],
                    )
                }
            };
            if i % 5 < 3 {
                failing += 1;
            }
            objects.push(pod(ns, &name, &image, state));
            for (n, (reason, message)) in events.into_iter().enumerate() {
                objects.push(event(ns, &name, n, reason, &message));
            }
        }
    }
    (objects, failing)
}

/// kubectl's YAML of one object, as an item of a `List` (column-0 `- `, two-space indent).
fn yaml_item(obj: &Value) -> String {
    serde_yaml_ng::to_string(obj)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| format!("{}{l}\n", if i == 0 { "- " } else { "  " }))
        .collect()
}

/// The cluster in every layout, by name.
fn layouts(dir: &Path, objects: &[Value]) -> Vec<(&'static str, PathBuf)> {
    let write = |name: &str, text: String| {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        file
    };
    let list = json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": objects});
    let yaml_list = format!(
        "apiVersion: v1\nitems:\n{}kind: List\nmetadata:\n  resourceVersion: \"\"\n",
        objects.iter().map(yaml_item).collect::<String>()
    );
    let stream = |objs: &mut dyn Iterator<Item = &Value>| {
        objs.map(|o| format!("---\n{}", serde_yaml_ng::to_string(o).unwrap()))
            .collect::<String>()
    };
    let is_event = |o: &&Value| o["kind"] == "Event";
    let events_first = stream(
        &mut objects
            .iter()
            .filter(is_event)
            .chain(objects.iter().filter(|o| !is_event(o))),
    );
    // The raw API's typed list (kind first, items without kind), then the rest concatenated.
    let pods: Vec<Value> = objects
        .iter()
        .filter(|o| o["kind"] == "Pod")
        .map(|o| {
            let mut o = o.clone();
            o.as_object_mut().unwrap().remove("kind");
            o
        })
        .collect();
    let rest: Vec<&Value> = objects.iter().filter(|o| o["kind"] != "Pod").collect();
    let typed = format!(
        "{{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{{}},\"items\":{}}}\n{}\n",
        Value::from(pods),
        json!({"kind": "List", "items": rest})
    );
    vec![
        (
            "JSON List",
            write("list.json", serde_json::to_string_pretty(&list).unwrap()),
        ),
        ("YAML List", write("list.yaml", yaml_list)),
        (
            "YAML stream",
            write("stream.yaml", stream(&mut objects.iter())),
        ),
        (
            "YAML stream, events first",
            write("events-first.yaml", events_first),
        ),
        ("typed PodList + JSON List", write("typed.json", typed)),
    ]
}

/// What must not depend on the layout: every group, every failing pod, the totals.
fn findings(run: &Run) -> Value {
    let r = run.json();
    json!({"groups": r["groups"], "failing_pods": r["failing_pods"], "totals": r["totals"]})
}

#[test]
fn every_snapshot_layout_gives_the_json_lists_report() {
    let password = "stream-pw-1";
    let reg = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth: Auth::htpasswd(USER, password),
    });
    reg.seed_fixtures();
    let (objects, failing) = cluster(&reg.host, password);
    let dir = tempfile::tempdir().unwrap();
    let mut reference: Option<Value> = None;
    for (what, file) in layouts(dir.path(), &objects) {
        let run = pulldoctor(&[
            "scan",
            "-A",
            "-o",
            "json",
            "--snapshot",
            path(&file),
            "--ca-file",
            path(&reg.pki.ca_file),
        ]);
        assert_eq!(run.code, 1, "{what}: {}", run.stderr);
        let found = findings(&run);
        assert_eq!(
            found["totals"]["pods"].as_u64(),
            Some(failing as u64),
            "{what}: {found}"
        );
        // Three causes at least: missing tag, missing repository, wrong password (in `pay`).
        let groups = found["groups"].as_array().unwrap().len();
        assert!(groups >= 3, "{what}: {groups} groups: {found}");
        match &reference {
            None => reference = Some(found),
            Some(r) => assert_eq!(&found, r, "{what} differs from the JSON List"),
        }
    }
}

/// Runs `pulldoctor ARGS`, polling its peak resident set (VmHWM, KiB) until it exits.
fn run_peak(args: &[&str]) -> (Option<i32>, String, u64) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args(args)
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run pulldoctor");
    let pid = child.id();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let mut peak = 0;
    let status = loop {
        let hwm = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))?
                    .split_whitespace()
                    .nth(1)?
                    .parse()
                    .ok()
            })
            .unwrap_or(0);
        peak = u64::max(peak, hwm);
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (status.code(), reader.join().unwrap(), peak)
}

#[test]
fn a_snapshot_larger_than_the_scan_is_never_held_whole() {
    // One failing pod, then 12 MB of healthy pods and their events.
    let dir = tempfile::tempdir().unwrap();
    let image = "127.0.0.1:9/app:1";
    let waiting = json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off"}});
    let running = json!({"running": {"startedAt": "2026-11-20T09:00:10Z"}});
    let mut small = vec![pod("shop", "web", image, waiting)];
    small.push(event(
        "shop",
        "web",
        0,
        "Failed",
        "Failed to pull image: not found",
    ));
    let mut objects = small.clone();
    let padding = "x".repeat(600);
    let mut i = 0;
    let mut bytes = 0;
    while bytes < 12_000_000 {
        let name = format!("ok-{i}");
        let mut p = pod(&format!("ns-{}", i % 50), &name, image, running.clone());
        p["metadata"]["labels"] = json!({"padding": padding});
        let e = event(&format!("ns-{}", i % 50), &name, 0, "Started", &padding);
        bytes += p.to_string().len() + e.to_string().len();
        objects.push(p);
        objects.push(e);
        i += 1;
    }
    let stream = |objs: &[Value]| {
        objs.iter()
            .map(|o| format!("---\n{}", serde_yaml_ng::to_string(o).unwrap()))
            .collect::<String>()
    };
    let list = |objs: &[Value]| json!({"apiVersion": "v1", "kind": "List", "items": objs});
    let files = [
        (
            "JSON",
            "json",
            list(&small).to_string(),
            list(&objects).to_string(),
        ),
        ("YAML stream", "yaml", stream(&small), stream(&objects)),
    ];
    drop(objects);
    for (what, ext, tiny, big) in files {
        let (tiny_file, big_file) = (
            dir.path().join(format!("tiny.{ext}")),
            dir.path().join(format!("big.{ext}")),
        );
        std::fs::write(&tiny_file, tiny).unwrap();
        std::fs::write(&big_file, &big).unwrap();
        let scan = |f: &PathBuf| {
            run_peak(&[
                "scan",
                "-A",
                "--no-probe",
                "-o",
                "json",
                "--snapshot",
                path(f),
            ])
        };
        let (code, out, tiny_peak) = scan(&tiny_file);
        assert!(code.is_some_and(|c| c <= 1), "{what}: {out}");
        let tiny_report: Value = serde_json::from_str(&out).unwrap();
        let (code, out, big_peak) = scan(&big_file);
        assert!(code.is_some_and(|c| c <= 1), "{what}: {out}");
        let big_report: Value = serde_json::from_str(&out).unwrap();
        println!(
            "{what}: {:.1} MB file, peak {big_peak} KiB; one pod, peak {tiny_peak} KiB",
            big.len() as f64 / 1e6
        );
        assert_eq!(big_report["totals"], tiny_report["totals"], "{what}");
        // Held whole, the text alone would add 12 MB to the peak; read as a stream, the
        // healthy pods and their events are dropped as they are read.
        assert!(
            tiny_peak > 0 && big_peak < tiny_peak + 6 * 1024,
            "{what}: peak {big_peak} KiB for {} bytes, {tiny_peak} KiB for one pod",
            big.len()
        );
    }
}

#[test]
fn the_waiting_pod_cap_is_reported_and_pull_failures_are_kept_first() {
    let cap = pulldoctor::scene::live::MAX_KEPT_PODS;
    // `cap + 1` pods only waiting to be created, then one failing to pull: the last one read.
    let dir = tempfile::tempdir().unwrap();
    let image = "127.0.0.1:9/app:1";
    let mut items: Vec<Value> = (0..=cap)
        .map(|i| {
            json!({"kind": "Pod", "metadata": {"name": format!("c-{i}"), "namespace": "busy"},
                "spec": {"containers": [{"name": "app", "image": image}]},
                "status": {"containerStatuses": [{"name": "app", "image": image, "imageID": "",
                    "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "ContainerCreating"}}}]}})
        })
        .collect();
    items.push(pod(
        "shop",
        "web",
        image,
        json!({"waiting": {"reason": "ErrImagePull", "message": "not found"}}),
    ));
    let file = dir.path().join("busy.json");
    std::fs::write(&file, json!({"kind": "List", "items": items}).to_string()).unwrap();
    let run = pulldoctor(&[
        "scan",
        "-A",
        "--no-probe",
        "-o",
        "json",
        "--snapshot",
        path(&file),
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let report = run.json();
    let pods: Vec<String> = report["failing_pods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{}/{}", p["namespace"], p["name"]).replace('"', ""))
        .collect();
    assert_eq!(pods, ["shop/web"]);
    let notes = report["notes"].to_string();
    // Two waiting pods were not kept: the one past the cap, and the one the pull failure
    // took the place of.
    assert!(
        notes.contains(&format!(
            "2 pods in {} with a waiting container past the first {cap}",
            file.display()
        )),
        "{notes}"
    );
}
