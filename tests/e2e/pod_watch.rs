//! `pulldoctor pod NAME --watch` against the API test server while the test changes the pod's
//! events and status underneath it: one line per change, exit 0 once the image pulls, the
//! last verdict's exit code on Ctrl-C, and a usage error with `--snapshot`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use crate::scenario::{Scenario, path, pulldoctor};
use crate::support::kube_api::KubeApi;

const IMAGE: &str = "127.0.0.1:1/shop/app:1.0";

fn not_found() -> String {
    format!(
        "Failed to pull image \"{IMAGE}\": rpc error: code = NotFound desc = failed to pull and unpack image \"{IMAGE}\": failed to resolve reference \"{IMAGE}\": {IMAGE}: not found"
    )
}

fn denied() -> String {
    format!(
        "Failed to pull image \"{IMAGE}\": rpc error: code = Unknown desc = failed to pull and unpack image \"{IMAGE}\": failed to resolve reference \"{IMAGE}\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"
    )
}

/// Starts `pulldoctor pod web-0 --watch` with its stdout lines arriving on a channel.
fn watch(api: &KubeApi, extra: &[&str]) -> (Child, Receiver<String>) {
    let kc = api.kubeconfig();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pulldoctor"))
        .args([
            "pod",
            "web-0",
            "-n",
            "shop",
            "--no-probe",
            "--watch",
            "--watch-interval",
            "0.2",
        ])
        .args(["--kubeconfig", path(&kc)])
        .args(extra)
        .env_remove("KUBECONFIG")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pulldoctor");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

fn next_line(rx: &Receiver<String>, child: &mut Child) -> String {
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(l) => l,
        Err(_) => {
            let _ = child.kill();
            panic!("no line from --watch within 20 s")
        }
    }
}

/// Waits for the child to exit by itself, killing it after 20 s.
fn exit_code(child: &mut Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("--watch did not exit");
}

/// The fields of one watch line: time, image, cause, confidence.
fn fields(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_string).collect()
}

#[test]
fn watch_prints_one_line_per_change_and_exits_0_once_the_image_pulls() {
    let api = KubeApi::start();
    Scenario::new(IMAGE).failed(&not_found()).load(&api);
    let (mut child, rx) = watch(&api, &[]);
    let first = fields(&next_line(&rx, &mut child));
    assert_eq!(first.len(), 4, "{first:?}");
    assert!(first[0].ends_with('Z') && first[0].len() == 9, "{first:?}");
    assert_eq!(first[1], IMAGE);
    assert_eq!(first[2], "not_found");
    // Nothing changes: nothing more is printed.
    std::thread::sleep(Duration::from_millis(800));
    assert!(rx.try_recv().is_err(), "a line without a change");

    // kubelet now reports a refusal instead: one new line with the new cause.
    Scenario::new(IMAGE).failed(&denied()).load(&api);
    let second = fields(&next_line(&rx, &mut child));
    assert_eq!(second[1], IMAGE);
    assert_ne!(second[2], "not_found", "{second:?}");
    assert!(second[2].starts_with("auth"), "{second:?}");

    // The image pulls: a last line, and the watch ends by itself with exit 0.
    Scenario::new(IMAGE)
        .healthy()
        .event(
            "Pulled",
            &format!("Successfully pulled image \"{IMAGE}\" in 1.2s"),
        )
        .load(&api);
    let last = fields(&next_line(&rx, &mut child));
    assert_eq!(
        last[1..],
        ["127.0.0.1:1/shop/app:1.0", "none", "healthy"],
        "{last:?}"
    );
    assert_eq!(exit_code(&mut child), Some(0));
    assert!(
        rx.recv_timeout(Duration::from_secs(2)).is_err(),
        "the report was printed again"
    );
    assert!(api.writes().is_empty());
    // It polled with plain GETs, never a watch request the server refuses.
    assert!(api.requests().iter().all(|r| r.param("watch").is_none()));
}

#[test]
fn ctrl_c_ends_the_watch_with_the_last_verdicts_exit_code() {
    let api = KubeApi::start();
    Scenario::new(IMAGE).failed(&not_found()).load(&api);
    let (mut child, rx) = watch(&api, &["-o", "json"]);
    let line: serde_json::Value = serde_json::from_str(&next_line(&rx, &mut child)).unwrap();
    assert_eq!(line["cause"], "not_found");
    assert_eq!(line["container"], "app");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        exit_code(&mut child),
        Some(1),
        "exit code of a not_found verdict"
    );
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.is_empty(), "{err}");
}

#[test]
fn watch_needs_a_live_cluster() {
    let snapshot = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/snapshots/private-ca.yaml"
    );
    let run = pulldoctor(&["pod", "nginx-registry", "--snapshot", snapshot, "--watch"]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("--watch follows a live cluster"),
        "{}",
        run.stderr
    );
}
