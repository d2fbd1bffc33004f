//! Secrets never shown, whoever echoes them, on the registry side: a registry echoing
//! `Authorization`, a token server echoing the password, a registry echoing the bearer token,
//! redirects whose `Location` holds userinfo and a signed query, and an oversized
//! `--password-stdin`. The cluster side is `cluster_secrets.rs`.
//!
//! Every test runs the real binary in every format at `-v` and `-vv` (`every_way.rs`) and
//! decodes all it printed, on stdout and stderr, looking for the secret in any encoding.

use serde_json::json;

use super::every_way::{Way, assert_hidden, every_way};
use super::*;
use crate::scenario::b64;

/// A password with characters that URL- and form-encoding change.
pub(super) fn password(name: &str) -> String {
    format!("{}+/ ?&", marker(name))
}

fn image_args(h: &Hostile, user: &str, pw: &str) -> Vec<String> {
    vec![
        "image".into(),
        format!("{}/app:1.0", h.host()),
        "--creds".into(),
        format!("{user}:{pw}"),
        "--plain-http".into(),
        h.host(),
        "--timeout".into(),
        TIMEOUT.to_string(),
    ]
}

/// A registry error body whose message holds `echo`.
fn denied(status: u16, echo: &str) -> Action {
    let body = json!({"errors": [{"code": "DENIED", "message": format!("denied: {echo}")}]});
    Action::reply(
        status,
        &[("Content-Type", "application/json")],
        body.to_string(),
    )
}

/// Every way's exit code is `code`.
pub(super) fn assert_code(ways: &[Way], code: i32) {
    for w in ways {
        assert_eq!(
            w.code,
            Some(code),
            "{}\nstdout: {}\nstderr: {}",
            w.name(),
            w.stdout,
            w.stderr
        );
    }
}

/// The JSON way's verdict evidence, joined.
pub(super) fn json_evidence(ways: &[Way]) -> String {
    let w = ways.iter().find(|w| w.format == "json").unwrap();
    let v: Value = serde_json::from_str(&w.stdout).unwrap();
    crate::scenario::evidence_text(&v["verdicts"][0])
}

#[test]
fn hostile_registry_echoing_authorization_and_the_password() {
    let pw = password("echo");
    let user = "echo-user";
    let basic = b64(&format!("{user}:{pw}"));
    // The password URL-encoded, alone in base64, and inside an encoded JSON at three offsets.
    let echo = format!(
        "Authorization: Basic {basic}; password={}; b64={}; blobs {} {} {}",
        url::form_urlencoded::byte_serialize(pw.as_bytes()).collect::<String>(),
        b64(&pw),
        b64(&format!("{{\"p\":\"{pw}\"}}")),
        b64(&format!("{{\"pw\":\"{pw}\"}}")),
        b64(&format!("{{\"pwd\":\"{pw}\"}}")),
    );
    let h = Hostile::start(TlsMode::Plain, move |req| {
        if let Some(a) = basic_gate(req) {
            return a;
        }
        match req.path.as_str() {
            "/v2/" => Action::reply(200, &[], "{}"),
            _ => denied(403, &echo),
        }
    });
    let ways = every_way(&image_args(&h, user, &pw), None, &[]);
    assert_code(&ways, 1);
    assert_hidden(&ways, &pw);
    // The registry's words still reach the reader, with the secrets masked.
    let evidence = json_evidence(&ways);
    assert!(
        evidence.contains("denied: Authorization: Basic (redacted)"),
        "{evidence}"
    );
    assert!(h.seen().iter().any(|s| s.authorization));
}

#[test]
fn hostile_token_server_echoing_the_password() {
    let pw = password("tokecho");
    let user = "tok-user";
    let basic = b64(&format!("{user}:{pw}"));
    let echo = format!("no user {user} with password {pw} (header Basic {basic})");
    let h = Hostile::start(TlsMode::Plain, move |req| {
        if req.path.starts_with("/token") {
            return denied(401, &echo);
        }
        Action::reply(
            401,
            &[(
                "WWW-Authenticate",
                "Bearer realm=\"/token\",service=\"hostile\"",
            )],
            UNAUTHORIZED,
        )
    });
    let ways = every_way(&image_args(&h, user, &pw), None, &[]);
    assert_code(&ways, 1);
    assert_hidden(&ways, &pw);
    assert!(h.seen().iter().any(|s| s.path.starts_with("/token")));
}

#[test]
fn hostile_registry_echoing_the_bearer_token_and_its_siblings() {
    let token = marker("bearer");
    let refresh = marker("refresh");
    let (t, r) = (token.clone(), refresh.clone());
    let h = Hostile::start(TlsMode::Plain, move |req| {
        if req.path.starts_with("/token") {
            let body = json!({"token": t, "refresh_token": r});
            return Action::reply(
                200,
                &[("Content-Type", "application/json")],
                body.to_string(),
            );
        }
        match (req.path.as_str(), req.authorization) {
            (_, false) => Action::reply(
                401,
                &[(
                    "WWW-Authenticate",
                    "Bearer realm=\"/token\",service=\"hostile\"",
                )],
                UNAUTHORIZED,
            ),
            ("/v2/", true) => Action::reply(200, &[], "{}"),
            (_, true) => denied(
                403,
                &format!("token {t} (refresh {r}) lacks pull; Bearer {t}"),
            ),
        }
    });
    let ways = every_way(&image_args(&h, "bearer-user", &password("b")), None, &[]);
    assert_code(&ways, 1);
    assert_hidden(&ways, &token);
    assert_hidden(&ways, &refresh);
}

#[test]
fn hostile_redirect_location_loses_userinfo_and_query() {
    let pki = Pki::generate();
    let user_pw = marker("locpw");
    let signature = marker("sig");
    let (pw, sig) = (user_pw.clone(), signature.clone());
    // A redirect to plain HTTP (refused, so reported) carrying a password and a signed query.
    let h = Hostile::start(TlsMode::Cert(pki.server.clone()), move |req| {
        if let Some(a) = basic_gate(req) {
            return a;
        }
        match req.path.as_str() {
            "/v2/" => Action::reply(200, &[], "{}"),
            "/v2/app/tags/list" => tags(),
            p => Action::redirect(
                302,
                &format!("http://cdn:{pw}@127.0.0.1:1{p}?X-Amz-Signature={sig}&X-Amz-Expires=60"),
            ),
        }
    });
    let ca = pki.ca_file.to_str().unwrap().to_string();
    let mut args = image_args(&h, "loc-user", &password("loc"));
    // This registry speaks TLS: drop `--plain-http HOST`.
    let at = args.iter().position(|a| a == "--plain-http").unwrap();
    args.drain(at..at + 2);
    args.extend(["--ca-file".to_string(), ca]);
    let ways = every_way(&args, None, &[]);
    assert_code(&ways, 1);
    assert_hidden(&ways, &user_pw);
    assert_hidden(&ways, &signature);
}

#[test]
fn hostile_password_stdin_longer_than_64_kib_is_refused() {
    let h = Hostile::start(TlsMode::Plain, |req| {
        basic_gate(req).unwrap_or_else(|| Action::reply(200, &[], "{}"))
    });
    let args = |h: &Hostile| -> Vec<String> {
        vec![
            "image".into(),
            format!("{}/app:1.0", h.host()),
            "--username".into(),
            "long-user".into(),
            "--password-stdin".into(),
            "--plain-http".into(),
            h.host(),
        ]
    };
    // One byte over: refused before any request, saying why.
    let mut long = marker("long").into_bytes();
    long.resize(64 * 1024 + 1, b'x');
    let ways = every_way(&args(&h), Some(&long), &[]);
    assert_code(&ways, 2);
    for w in &ways {
        assert!(
            w.stderr.contains("--password-stdin") && w.stderr.contains("64 KiB"),
            "{}: {}",
            w.name(),
            w.stderr
        );
    }
    assert!(h.seen().is_empty(), "nothing was sent: {:?}", h.seen());
    // Exactly at the cap (plus the newline `echo` adds) is still taken whole.
    let mut fits = marker("fits").into_bytes();
    fits.resize(64 * 1024, b'y');
    fits.push(b'\n');
    let w = &every_way(&args(&h), Some(&fits), &[])[3];
    assert_ne!(w.code, Some(2), "{}", w.stderr);
    assert!(!w.stderr.contains("64 KiB"), "{}", w.stderr);
    assert!(!h.seen().is_empty(), "the registry was asked");
}
