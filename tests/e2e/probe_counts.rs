//! What a probe costs the registry, counted where the registry sees it: TCP connections and
//! TLS handshakes at a relay in front of it, requests in its own access log, token requests at
//! the token server. Each case runs the real binary (`pulldoctor image`) against Debian's
//! docker-registry with htpasswd (Basic) or the bench token server (Bearer).
//!
//! The budget (issue #15): one connection per origin; healthy ≤ 3 requests (ping, the manifest
//! by one GET, its config blob for the platform check), a missing tag or repository ≤ 3, a
//! wrong password ≤ 2, plus one token request on a Bearer registry; never HEAD and GET for the
//! same manifest; a contrast only when it can change the verdict, the skipped ones named.

use std::time::Duration;

use serde_json::Value;

use crate::scenario::{Run, pulldoctor, pulldoctor_exact};
use crate::support::{Auth, Logged, Registry, RegistryOptions, Relay, Tls, access_log};

/// A seeded registry with a counting relay in front.
struct Counted {
    reg: Registry,
    relay: Relay,
}

fn counted(tls: Tls, auth: Auth) -> Counted {
    let reg = Registry::start(RegistryOptions { tls, auth });
    reg.seed_fixtures();
    let relay = Relay::start(&reg.host, Duration::ZERO);
    Counted { reg, relay }
}

/// One `pulldoctor image` of `image` through the relay; its run and the requests it caused.
fn probe(c: &Counted, image: &str, password: &str, extra: &[&str]) -> (Run, Vec<Logged>) {
    let before = c.reg.settled_log().len();
    let reference = format!("{}/{image}", c.relay.host());
    let ca = c.reg.pki.ca_file.to_str().expect("utf-8 path").to_string();
    let creds = format!("alice:{password}");
    let mut args = vec![
        "image",
        reference.as_str(),
        "--ca-file",
        ca.as_str(),
        "--platform",
        "linux/amd64",
        "-o",
        "json",
    ];
    if c.reg.credentials().is_some() {
        args.extend(["--creds", creds.as_str()]);
    }
    args.extend_from_slice(extra);
    let run = pulldoctor(&args);
    let log = c.reg.settled_log();
    (run, access_log(&log[before.min(log.len())..]))
}

fn cause(run: &Run) -> Value {
    run.verdict()["cause"].clone()
}

fn shown(requests: &[Logged]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {} {}", r.method, r.path, r.status))
        .collect()
}

/// No manifest is asked for twice (no HEAD then GET of the same reference).
fn assert_one_request_per_manifest(requests: &[Logged]) {
    let manifests: Vec<&Logged> = requests
        .iter()
        .filter(|r| r.path.contains("/manifests/"))
        .collect();
    assert!(
        manifests.len() <= 1 && manifests.iter().all(|r| r.method == "GET"),
        "one GET per manifest: {:?}",
        shown(requests)
    );
}

fn assert_one_connection(c: &Counted, run: &Run) {
    assert_eq!(
        c.relay.connections(),
        1,
        "one TCP connection to the registry:\n{}",
        run.stderr
    );
    assert_eq!(c.relay.tls_handshakes(), 1, "one TLS handshake");
}

#[test]
fn healthy_single_platform_costs_two_requests_on_one_connection() {
    let c = counted(Tls::Valid, Auth::htpasswd("alice", "s3cret"));
    let (run, requests) = probe(&c, "app:1.0", "s3cret", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(cause(&run), Value::Null);
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    // The credential rides the first request: the manifest, then the config blob; no ping.
    assert_eq!(requests.len(), 2, "{:?}", shown(&requests));
    assert!(paths[0].ends_with("/manifests/1.0"), "{paths:?}");
    assert!(paths[1].contains("/blobs/sha256:"), "{paths:?}");
    assert_one_request_per_manifest(&requests);
    assert_one_connection(&c, &run);
    assert_eq!(run.verdict()["probe_requests"], 2);
    // docker-registry offers HTTP/2 over TLS (ALPN h2): every request rode it.
    assert!(
        requests.iter().all(|r| r.protocol == "HTTP/2.0"),
        "{requests:?}"
    );
}

#[test]
fn healthy_index_costs_one_request_and_the_digest_comes_from_the_get() {
    let c = counted(Tls::Valid, Auth::htpasswd("alice", "s3cret"));
    let (run, requests) = probe(&c, "multi:1.0", "s3cret", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(requests.len(), 1, "{:?}", shown(&requests));
    assert_one_request_per_manifest(&requests);
    assert_one_connection(&c, &run);
}

#[test]
fn missing_tag_costs_two_requests_and_names_the_closest_tags() {
    let c = counted(Tls::Valid, Auth::htpasswd("alice", "s3cret"));
    let (run, requests) = probe(&c, "app:1.9", "s3cret", &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(cause(&run), "not_found_tag");
    assert!(requests.len() <= 2, "{:?}", shown(&requests));
    assert_one_request_per_manifest(&requests);
    assert!(
        requests.iter().any(|r| r.path.ends_with("/tags/list")),
        "the tag list gives the closest tags: {:?}",
        shown(&requests)
    );
    assert!(
        run.verdict().to_string().contains("1.0"),
        "the closest tags are shown: {}",
        run.stdout
    );
    assert_one_connection(&c, &run);
}

#[test]
fn missing_repository_costs_two_requests() {
    let c = counted(Tls::Valid, Auth::htpasswd("alice", "s3cret"));
    let (run, requests) = probe(&c, "nothere:1.0", "s3cret", &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(cause(&run), "not_found_repo");
    assert!(requests.len() <= 2, "{:?}", shown(&requests));
    assert_one_request_per_manifest(&requests);
    assert_one_connection(&c, &run);
}

#[test]
fn wrong_password_costs_one_request_and_names_the_skipped_contrasts() {
    let c = counted(Tls::Valid, Auth::htpasswd("alice", "s3cret"));
    let (run, requests) = probe(&c, "app:1.0", "wrong-password", &[]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert_eq!(cause(&run), "auth_invalid_credentials");
    assert_eq!(requests.len(), 1, "{:?}", shown(&requests));
    assert_one_connection(&c, &run);
    let skipped = run.verdict()["skipped_contrasts"].clone();
    let list = skipped.as_array().expect("skipped_contrasts is a list");
    assert!(
        list.iter()
            .any(|s| s["contrast"] == "anonymous" && !s["reason"].as_str().unwrap().is_empty()),
        "{skipped:#}"
    );
    // The text report says it too.
    let reference = format!("{}/app:1.0", c.relay.host());
    let ca = c.reg.pki.ca_file.to_str().unwrap();
    let text = pulldoctor_exact(&[
        "image",
        &reference,
        "--ca-file",
        ca,
        "--creds",
        "alice:wrong-password",
        "-o",
        "text",
    ]);
    assert!(text.stdout.contains("contrast skipped"), "{}", text.stdout);
}

#[test]
fn token_registry_costs_one_token_and_one_connection_per_origin() {
    let c = counted(Tls::Valid, Auth::token("alice", "pw"));
    let (run, requests) = probe(&c, "app:1.0", "pw", &[]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(requests.len() <= 3, "{:?}", shown(&requests));
    // The first request carried the password and brought the Bearer challenge (where a ping
    // would have): the manifest is answered once, with the token.
    assert_eq!(requests[0].status, 401, "{:?}", shown(&requests));
    assert_one_request_per_manifest(&requests[1..]);
    assert_one_connection(&c, &run);
    let token = c.reg.token.as_ref().expect("token server");
    assert_eq!(token.requests().len(), 1, "{:?}", token.requests());
    assert_eq!(token.connections(), 1);
    assert_eq!(run.verdict()["probe_requests"], requests.len() + 1);
}

#[test]
fn system_roots_are_read_once_and_only_for_tls() {
    let c = counted(Tls::Valid, Auth::htpasswd("alice", "s3cret"));
    // A failing probe runs the contrasts too: still one load.
    let (run, _) = probe(&c, "app:1.0", "wrong-password", &[]);
    let loads = run
        .stderr
        .lines()
        .filter(|l| l.contains("system roots loaded"))
        .count();
    assert_eq!(loads, 1, "{}", run.stderr);

    let plain = counted(Tls::Plain, Auth::None);
    let reference = format!("{}/app:1.0", plain.relay.host());
    let run = pulldoctor(&[
        "image",
        &reference,
        "--plain-http",
        &plain.relay.host(),
        "-o",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        !run.stderr.contains("system roots loaded"),
        "plain HTTP needs no roots:\n{}",
        run.stderr
    );
}
