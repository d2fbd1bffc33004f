//! A scripted HTTPS registry: replays a fixture's recorded answers under the real host names.
//!
//! A fixture in `fixtures/registries/<registry>/<case>.json` (format in that folder's README)
//! lists exchanges: a request pattern (method, host, path, query, kind of authorization) and the
//! answer the real registry gave. One listener on `127.0.0.x:443` serves every host the fixture
//! names (`registry-1.docker.io` and `auth.docker.io` alike), dispatching on the `Host` header;
//! its certificate, issued at test time by a throwaway CA, carries those names as SANs, so
//! pulldoctor reaches them with `--resolve HOST:443:127.0.0.x` and `--ca-file`, verifying TLS as
//! it would against the real registry, and no name is ever looked up in DNS. The first exchange
//! that matches answers; a request that matches none gets `404 no scripted answer`. Every
//! request is recorded (method, host, path, query, authorization kind) for the test to check.
//!
//! One answer is not scripted: a manifest's config blob. It is the image's content, not the
//! registry's words, so no recording carries it; `pulldoctor image` reads it to check the
//! platform. For a config digest a scripted manifest names, the replay serves a minimal
//! `linux/amd64` image config (the platform the tests ask for), unless the fixture scripts
//! that blob itself.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::pki::{Pki, Usage, Validity};
use super::serve::{Handler, Mode, Server, reply};

/// The config blob served for a scripted manifest's config digest.
pub const CONFIG_BLOB: &str =
    r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;

/// The opaque token a scripted `$TOKEN` becomes.
pub const REPLAY_TOKEN: &str = "pd-replay-token-0001";

/// One request the replay server received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// The `Host` header without its port.
    pub host: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    /// `none`, `basic` or `bearer`.
    pub auth: String,
    /// The index of the exchange that answered; None: nothing scripted matched.
    pub matched: Option<usize>,
    /// Answered with [`CONFIG_BLOB`] (a config digest a scripted manifest names).
    pub config_blob: bool,
}

/// A running replay of one fixture.
pub struct Replay {
    /// The loopback address it listens on (port 443).
    pub addr: Ipv4Addr,
    /// The host names the fixture scripts, each a SAN of the certificate.
    pub hosts: Vec<String>,
    pub pki: Pki,
    seen: Arc<Mutex<Vec<Seen>>>,
    _server: Server,
}

/// A loopback address no other replay in this test process uses (127.77.x.y), so replays run
/// in parallel on port 443.
pub fn next_loopback() -> Ipv4Addr {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    Ipv4Addr::new(127, 77, (n / 250) as u8, (n % 250 + 1) as u8)
}

impl Replay {
    /// Serves `fixture` (the parsed JSON) on a fresh loopback address, port 443.
    pub fn start(fixture: &Value) -> Replay {
        let exchanges: Vec<Value> = fixture["exchanges"]
            .as_array()
            .expect("fixture has exchanges")
            .clone();
        let hosts: Vec<String> = exchanges
            .iter()
            .filter_map(|x| x["request"]["host"].as_str())
            .map(str::to_ascii_lowercase)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let pki = Pki::generate();
        let names: Vec<&str> = hosts.iter().map(String::as_str).collect();
        let cert = pki.issue("replay", &names, Validity::Current, Usage::Server);
        let addr = next_loopback();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let configs: Arc<Vec<String>> = Arc::new(
            exchanges
                .iter()
                .filter_map(|x| x["response"]["body"].as_str())
                .filter_map(|b| serde_json::from_str::<Value>(b).ok())
                .filter_map(|m| m["config"]["digest"].as_str().map(str::to_string))
                .collect(),
        );
        let script = Arc::new(exchanges);
        let log = seen.clone();
        let handler: Handler = Arc::new(move |req| {
            let script = script.clone();
            let configs = configs.clone();
            let log = log.clone();
            Box::pin(async move { answer(&script, &configs, &log, req) })
        });
        let server = Server::start_on(&format!("{addr}:443"), Some(&cert), Mode::Http(handler));
        Replay {
            addr,
            hosts,
            pki,
            seen,
            _server: server,
        }
    }

    /// Reads and serves a fixture file.
    pub fn from_file(path: &Path) -> (Value, Replay) {
        let text = std::fs::read_to_string(path).expect("read fixture");
        let fixture: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        let replay = Replay::start(&fixture);
        (fixture, replay)
    }

    /// `--resolve HOST:443:ADDR` for every scripted host.
    pub fn resolve_args(&self) -> Vec<String> {
        self.hosts
            .iter()
            .flat_map(|h| ["--resolve".to_string(), format!("{h}:443:{}", self.addr)])
            .collect()
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// The kind of authorization a request carries.
fn auth_kind(req: &hyper::Request<hyper::body::Incoming>) -> String {
    let value = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let scheme = value.split(' ').next().unwrap_or("").to_ascii_lowercase();
    match scheme.as_str() {
        "" => "none".into(),
        "basic" | "bearer" => scheme,
        _ => "other".into(),
    }
}

fn matches(x: &Value, seen: &Seen) -> bool {
    let r = &x["request"];
    let method = r["method"].as_str().unwrap_or("*");
    let method_ok = method == "*" || method.eq_ignore_ascii_case(&seen.method);
    let host_ok = r["host"]
        .as_str()
        .is_some_and(|h| h.eq_ignore_ascii_case(&seen.host));
    let path_ok = r["path"].as_str() == Some(seen.path.as_str());
    let auth_ok = match r["auth"].as_str().unwrap_or("any") {
        "any" => true,
        want => want == seen.auth,
    };
    let query_ok = r["query"].as_object().is_none_or(|q| {
        q.iter().all(|(k, v)| {
            seen.query
                .iter()
                .any(|(sk, sv)| sk == k && Some(sv.as_str()) == v.as_str())
        })
    });
    method_ok && host_ok && path_ok && auth_ok && query_ok
}

fn answer(
    script: &[Value],
    configs: &[String],
    log: &Mutex<Vec<Seen>>,
    req: hyper::Request<hyper::body::Incoming>,
) -> super::serve::Reply {
    let host = req
        .headers()
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let query = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let mut seen = Seen {
        method: req.method().to_string(),
        host,
        path: req.uri().path().to_string(),
        query,
        auth: auth_kind(&req),
        matched: None,
        config_blob: false,
    };
    seen.matched = script.iter().position(|x| matches(x, &seen));
    let head = seen.method == "HEAD";
    seen.config_blob = seen.matched.is_none()
        && seen.path.starts_with("/v2/")
        && seen
            .path
            .split_once("/blobs/")
            .is_some_and(|(_, d)| configs.iter().any(|c| c == d));
    let out = match seen.matched {
        None if seen.config_blob => reply(
            200,
            &[("content-type", "application/vnd.oci.image.config.v1+json")],
            if head { "" } else { CONFIG_BLOB },
        ),
        None => reply(
            404,
            &[("content-type", "text/plain")],
            "no scripted answer\n",
        ),
        Some(i) => {
            let r = &script[i]["response"];
            let status = r["status"].as_u64().unwrap_or(500) as u16;
            let headers: Vec<(String, String)> = r["headers"]
                .as_object()
                .map(|h| {
                    h.iter()
                        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                        .collect()
                })
                .unwrap_or_default();
            let refs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let body = r["body"]
                .as_str()
                .unwrap_or("")
                .replace("$TOKEN", REPLAY_TOKEN);
            if head {
                reply(status, &refs, "")
            } else {
                reply(status, &refs, body)
            }
        }
    };
    if let Ok(mut l) = log.lock() {
        l.push(seen);
    }
    out
}
