//! Registry behaviours docker-registry 2.8 never shows, from a tiny scripted registry on
//! 127.0.0.1 that records which requests carried `Authorization`: redirects to another port
//! (credentials must not follow), plain HTTP without `--plain-http` (credentials must not be
//! sent), endless tag pages (bounded), oversized bodies (capped), a web server that is not a
//! registry, and a challenge that only the repository endpoints make.

use std::sync::{Arc, Mutex};

use pulldoctor::registry::StepName;
use pulldoctor::taxonomy::Cause;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::probe_common::*;

/// One request a scripted server saw: method, path, whether it carried Authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    method: String,
    path: String,
    authorization: bool,
}

type Script = fn(&Seen, u16) -> String;

/// Serves `script` on 127.0.0.1:0 over plain HTTP, one request per connection.
async fn scripted(script: Script, other_port: u16) -> (u16, Arc<Mutex<Vec<Seen>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                // A TLS ClientHello (0x16) on this plain port gets the 400 a Go server sends.
                if let Ok(n) = sock.peek(&mut chunk).await
                    && n > 0
                    && chunk[0] == 0x16
                {
                    let _ = sock
                        .write_all(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                        .await;
                    return;
                }
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 65536 {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let mut first = head.lines().next().unwrap_or("").split(' ');
                let req = Seen {
                    method: first.next().unwrap_or("").to_string(),
                    path: first.next().unwrap_or("").to_string(),
                    authorization: head
                        .lines()
                        .any(|l| l.to_ascii_lowercase().starts_with("authorization:")),
                };
                log.lock().unwrap().push(req.clone());
                let reply = script(&req, other_port);
                let _ = sock.write_all(reply.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    (port, seen)
}

fn reply(status: &str, headers: &[(&str, String)], body: &str, head_only: bool) -> String {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    r.push_str("\r\n");
    if !head_only {
        r.push_str(body);
    }
    r
}

/// A Basic registry whose tag list lives on another port.
fn registry(req: &Seen, other_port: u16) -> String {
    let challenge = [("WWW-Authenticate", "Basic realm=\"scripted\"".to_string())];
    let unauthorized =
        r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
    match req.path.as_str() {
        _ if !req.authorization => reply("401 Unauthorized", &challenge, unauthorized, false),
        "/v2/app/tags/list" => reply(
            "307 Temporary Redirect",
            &[(
                "Location",
                format!("http://127.0.0.1:{other_port}/v2/app/tags/list"),
            )],
            "",
            false,
        ),
        "/v2/app/manifests/1.0" => reply(
            "200 OK",
            &[(
                "Content-Type",
                "application/vnd.oci.image.manifest.v1+json".into(),
            )],
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#,
            req.method == "HEAD",
        ),
        _ => reply("404 Not Found", &[], "", false),
    }
}

/// The other host's tag list.
fn elsewhere(_req: &Seen, _: u16) -> String {
    reply(
        "200 OK",
        &[("Content-Type", "application/json".into())],
        r#"{"name":"app","tags":["1.0"]}"#,
        false,
    )
}

#[tokio::test]
async fn probe_authorization_never_follows_a_redirect_to_another_port() {
    let (other, other_seen) = scripted(elsewhere, 0).await;
    let (port, seen) = scripted(registry, other).await;
    // A missing tag, so the tag list (which redirects) is read.
    let mut req = request(&format!("127.0.0.1:{port}"), "app:2.0");
    req.plain_http = true;
    req.credentials = vec![cred("secret shop/regcred", "alice", "s3cret")];
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::NotFoundTag));
    assert_eq!(report.tags, ["1.0"]);
    // The registry got the credentials; the redirect target did not.
    let at_registry = seen.lock().unwrap().clone();
    assert!(
        at_registry
            .iter()
            .any(|s| s.path == "/v2/app/tags/list" && s.authorization)
    );
    let at_other = other_seen.lock().unwrap().clone();
    assert_eq!(at_other.len(), 1);
    assert!(!at_other[0].authorization, "{at_other:?}");
}

#[tokio::test]
async fn probe_never_sends_credentials_over_plain_http_unless_told() {
    let (port, seen) = scripted(registry, 0).await;
    let mut req = request(&format!("127.0.0.1:{port}"), "app:1.0");
    req.credentials = vec![cred("secret shop/regcred", "alice", "s3cret")];
    let report = run(&req).await;
    // HTTPS met a plain-HTTP port: confirmed with one anonymous plain GET, nothing else.
    assert_cause(&report, Some(Cause::HttpToHttps));
    let at_registry = seen.lock().unwrap().clone();
    assert!(
        at_registry.iter().all(|s| !s.authorization),
        "{at_registry:?}"
    );
    assert_eq!(at_registry.len(), 1, "{at_registry:?}");
}

/// A registry whose tag list pages forever through relative `Link` headers, and whose
/// `/v2/` is open.
fn paging(req: &Seen, _: u16) -> String {
    let path = req.path.as_str();
    if path == "/v2/" {
        return reply("200 OK", &[], "{}", false);
    }
    if let Some(rest) = path.strip_prefix("/v2/app/tags/list") {
        let page: u32 = rest
            .strip_prefix("?last=t")
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let link = format!("</v2/app/tags/list?last=t{}>; rel=\"next\"", page + 1);
        return reply(
            "200 OK",
            &[("Content-Type", "application/json".into()), ("Link", link)],
            &format!(r#"{{"name":"app","tags":["t{page}"]}}"#),
            false,
        );
    }
    reply(
        "404 Not Found",
        &[("Content-Type", "application/json".into())],
        r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
        req.method == "HEAD",
    )
}

#[tokio::test]
async fn probe_follows_tag_pages_but_only_so_far() {
    let (port, seen) = scripted(paging, 0).await;
    let mut req = request(&format!("127.0.0.1:{port}"), "app:missing");
    req.plain_http = true;
    req.max_tag_pages = 3;
    let report = run(&req).await;
    assert_eq!(report.tags, ["t0", "t1", "t2"]);
    assert!(report.tags_truncated);
    let pages = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.path.starts_with("/v2/app/tags/list"))
        .count();
    assert_eq!(pages, 3);
    // The tag is in none of the pages read: a missing tag in an existing repository.
    assert_cause(&report, Some(Cause::NotFoundTag));
}

/// A web server that is not a registry.
fn not_a_registry(_req: &Seen, _: u16) -> String {
    reply(
        "404 Not Found",
        &[("Content-Type", "text/html".into())],
        "<h1>Not Found</h1>",
        false,
    )
}

#[tokio::test]
async fn probe_tells_a_web_server_that_is_not_a_registry() {
    let (port, _) = scripted(not_a_registry, 0).await;
    let mut req = request(&format!("127.0.0.1:{port}"), "app:1.0");
    req.plain_http = true;
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::Unknown));
    assert!(
        report.outcome.detail.contains("is not a registry"),
        "{}",
        report.outcome.detail
    );
    assert_eq!(report.requests, 1);
}

/// A registry that sends 5 MiB tag lists and manifests.
fn oversized(req: &Seen, _: u16) -> String {
    let big = format!(r#"{{"name":"app","tags":["{}"]}}"#, "x".repeat(5 << 20));
    match req.path.as_str() {
        "/v2/" => reply("200 OK", &[], "{}", false),
        "/v2/app/tags/list" => reply(
            "200 OK",
            &[("Content-Type", "application/json".into())],
            &big,
            false,
        ),
        "/v2/app/manifests/9.9" => reply(
            "404 Not Found",
            &[("Content-Type", "application/json".into())],
            r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
            false,
        ),
        _ => reply(
            "200 OK",
            &[(
                "Content-Type",
                "application/vnd.oci.image.index.v1+json".into(),
            )],
            &big,
            req.method == "HEAD",
        ),
    }
}

#[tokio::test]
async fn probe_caps_bodies_and_says_what_it_could_not_read() {
    let (port, _) = scripted(oversized, 0).await;
    let mut req = request(&format!("127.0.0.1:{port}"), "app:1.0");
    req.plain_http = true;
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::RegistryServerError));
    assert!(
        report.outcome.detail.contains("larger than"),
        "{}",
        report.outcome.detail
    );
    // A missing tag: the 5 MiB tag list is read up to the cap and said to be unreadable.
    let mut req = request(&format!("127.0.0.1:{port}"), "app:9.9");
    req.plain_http = true;
    let report = run(&req).await;
    assert!(report.tags.is_empty());
    let tags = report
        .steps
        .iter()
        .find(|s| s.name == StepName::Tags)
        .unwrap();
    assert!(
        tags.detail.contains("tag list unreadable"),
        "{}",
        tags.detail
    );
}

/// A Docker v2 manifest, as the late-challenge registry serves it.
const LATE_MANIFEST: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","size":2},"layers":[]}"#;

/// A registry whose `/v2/` is open but whose repositories challenge.
fn late_challenge(req: &Seen, _: u16) -> String {
    let challenge = [("WWW-Authenticate", "Basic realm=\"repos\"".to_string())];
    match (req.path.as_str(), req.authorization) {
        ("/v2/", _) => reply("200 OK", &[], "{}", false),
        (_, false) => reply("401 Unauthorized", &challenge, "", false),
        ("/v2/app/tags/list", true) => {
            reply("200 OK", &[], r#"{"name":"app","tags":["1.0"]}"#, false)
        }
        (_, true) => reply(
            "200 OK",
            &[(
                "Content-Type",
                "application/vnd.docker.distribution.manifest.v2+json".into(),
            )],
            LATE_MANIFEST,
            req.method == "HEAD",
        ),
    }
}

#[tokio::test]
async fn probe_answers_a_challenge_made_only_by_the_repository() {
    let (port, seen) = scripted(late_challenge, 0).await;
    let mut req = request(&format!("127.0.0.1:{port}"), "app:1.0");
    req.plain_http = true;
    req.credentials = vec![cred("secret shop/regcred", "alice", "s3cret")];
    let report = run(&req).await;
    assert_cause(&report, None);
    assert_eq!(report.auth_scheme.as_deref(), Some("basic"));
    assert_eq!(
        report.outcome.credential_used.as_deref(),
        Some("secret shop/regcred")
    );
    let seen = seen.lock().unwrap().clone();
    let manifests: Vec<bool> = seen
        .iter()
        .filter(|s| s.path == "/v2/app/manifests/1.0")
        .map(|s| s.authorization)
        .collect();
    assert_eq!(manifests, [false, true]);
}

/// A web server that answers 200 with a page for every path.
fn catch_all(req: &Seen, _: u16) -> String {
    reply(
        "200 OK",
        &[("Content-Type", "text/html; charset=utf-8".into())],
        "<html><body>Welcome</body></html>",
        req.method == "HEAD",
    )
}

#[tokio::test]
async fn probe_does_not_take_a_catch_all_web_page_for_a_manifest() {
    let (port, _) = scripted(catch_all, 0).await;
    let mut req = request(&format!("127.0.0.1:{port}"), "app:1.0");
    req.plain_http = true;
    let report = run(&req).await;
    assert_cause(&report, Some(Cause::Unknown));
    assert!(
        report.outcome.detail.contains("not a manifest"),
        "{}",
        report.outcome.detail
    );
    assert!(report.tags.is_empty());
}
