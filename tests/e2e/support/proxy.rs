//! A fault-injecting HTTP proxy in front of a real bench registry, and a port where nothing
//! listens.
//!
//! It reproduces what sits between nodes and registries in the field: Docker Hub's pull rate
//! limit (`429 TOOMANYREQUESTS` with `ratelimit-limit`/`ratelimit-remaining`,
//! <https://docs.docker.com/docker-hub/usage/pulls/>), a load balancer answering 503, a
//! backend that accepts and never answers, a peer that stays mute after the TCP handshake.
//! Everything the fault does not match is forwarded to the real registry unchanged, over the
//! same scheme (the proxy presents the registry's own certificate), so the rest of the
//! conversation stays real. Every request is recorded (never its credentials).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::client::http_client;
use super::registry::{Registry, Tls};
use super::serve::{Handler, Mode, Reply, Server, reply};

/// Which requests a fault hits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    /// `GET|HEAD /v2/<name>/manifests/<reference>`.
    Manifests,
    /// `/v2/<name>/tags/list`.
    TagsList,
    /// `/v2/` itself.
    Base,
    /// Any path starting with this prefix.
    PathPrefix(String),
    /// Every request.
    Everything,
}

impl Match {
    fn hits(&self, path: &str) -> bool {
        let repo_path = path.strip_prefix("/v2/").filter(|p| !p.is_empty());
        match self {
            Match::Manifests => repo_path.is_some_and(|p| p.contains("/manifests/")),
            Match::TagsList => repo_path.is_some_and(|p| p.ends_with("/tags/list")),
            Match::Base => path == "/v2/" || path == "/v2",
            Match::PathPrefix(prefix) => path.starts_with(prefix.as_str()),
            Match::Everything => true,
        }
    }
}

/// What the proxy does.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Forward everything.
    PassThrough,
    /// Answer matching requests with this status, headers and body; forward the rest.
    Status {
        on: Match,
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Forward everything, adding these headers to the answers of matching requests (e.g.
    /// Docker Hub's `ratelimit-*` headers on a successful manifest request).
    AddHeaders {
        on: Match,
        headers: Vec<(String, String)>,
    },
    /// Read matching requests and never answer (until the proxy is dropped, at most 120 s).
    Stall { on: Match },
    /// Accept TCP connections and never read or write: before TLS, before HTTP.
    SilentAccept,
}

/// How long a stalled request is held at most, so a forgotten client timeout cannot hang CI.
pub const STALL_LIMIT: Duration = Duration::from_secs(120);

impl Fault {
    /// Docker Hub's rate limit on manifest requests: 429 `TOOMANYREQUESTS`, `Retry-After: 30`,
    /// `ratelimit-limit: 100;w=21600`, `ratelimit-remaining: 0;w=21600`.
    pub fn rate_limited() -> Fault {
        Fault::Status {
            on: Match::Manifests,
            status: 429,
            headers: vec![
                ("Retry-After".into(), "30".into()),
                ("ratelimit-limit".into(), "100;w=21600".into()),
                ("ratelimit-remaining".into(), "0;w=21600".into()),
                ("Content-Type".into(), "application/json".into()),
            ],
            body: r#"{"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit"}]}"#.into(),
        }
    }

    /// Docker Hub's quota headers on successful manifest answers: `ratelimit-limit: 100;w=21600`
    /// and `ratelimit-remaining: <remaining>;w=21600`.
    pub fn rate_limit_headers(remaining: u32) -> Fault {
        Fault::AddHeaders {
            on: Match::Manifests,
            headers: vec![
                ("ratelimit-limit".into(), "100;w=21600".into()),
                ("ratelimit-remaining".into(), format!("{remaining};w=21600")),
            ],
        }
    }

    /// A web server that is not a registry: `404` with an HTML page for every path, `/v2/`
    /// included.
    pub fn not_a_registry() -> Fault {
        Fault::Status {
            on: Match::Everything,
            status: 404,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: "<html><body><h1>404 Not Found</h1></body></html>\n".into(),
        }
    }

    /// A load balancer's `503 Service Unavailable` (HTML body, as proxies send it) on `on`.
    pub fn unavailable(on: Match) -> Fault {
        Fault::Status {
            on,
            status: 503,
            headers: vec![("Content-Type".into(), "text/html".into())],
            body: "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>\n".into(),
        }
    }
}

/// One request the proxy saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyRequest {
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Whether an `Authorization` header was sent (its value is never kept).
    pub authorization: bool,
    /// What the proxy answered (0 when stalled).
    pub status: u16,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    server: Server,
    requests: Arc<Mutex<Vec<ProxyRequest>>>,
}

impl FaultProxy {
    /// Starts a proxy on 127.0.0.1:0 in front of `registry`, speaking the registry's scheme.
    pub fn start(registry: &Registry, fault: Fault) -> FaultProxy {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let tls = match registry.options.tls {
            Tls::Plain => None,
            Tls::Valid | Tls::Mutual => Some(&registry.pki.server),
            Tls::WrongName => Some(&registry.pki.wrong_name),
            Tls::Expired => Some(&registry.pki.expired),
        };
        let mode = match fault {
            Fault::SilentAccept => Mode::Silent,
            fault => {
                let upstream = Arc::new(Upstream {
                    base: registry.url(),
                    client: http_client(registry.bench_trust(), Duration::from_secs(30)),
                    fault,
                    requests: requests.clone(),
                });
                let handler: Handler = Arc::new(move |req| {
                    let upstream = upstream.clone();
                    Box::pin(async move { upstream.handle(req).await })
                });
                Mode::Http(handler)
            }
        };
        FaultProxy {
            server: Server::start(tls, mode),
            requests,
        }
    }

    /// `127.0.0.1:PORT`: use it where the registry's host would go.
    pub fn host(&self) -> String {
        self.server.host()
    }

    /// Every request seen so far, in order.
    pub fn requests(&self) -> Vec<ProxyRequest> {
        self.requests.lock().expect("proxy log").clone()
    }

    /// How many TCP connections were accepted (one per TLS handshake).
    pub fn connections(&self) -> usize {
        self.server.connections()
    }
}

struct Upstream {
    base: String,
    client: reqwest::Client,
    fault: Fault,
    requests: Arc<Mutex<Vec<ProxyRequest>>>,
}

/// Hop-by-hop headers that must not be copied across the proxy.
const HOP_BY_HOP: [&str; 5] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "upgrade",
    "host",
];

impl Upstream {
    async fn handle(&self, req: hyper::Request<Incoming>) -> Reply {
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        let record = |status: u16| ProxyRequest {
            method: req.method().to_string(),
            path: path.clone(),
            authorization: req.headers().contains_key(hyper::header::AUTHORIZATION),
            status,
        };
        match &self.fault {
            Fault::Status {
                on,
                status,
                headers,
                body,
            } if on.hits(req.uri().path()) => {
                self.requests
                    .lock()
                    .expect("proxy log")
                    .push(record(*status));
                let headers: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                return reply(*status, &headers, body.clone());
            }
            Fault::Stall { on } if on.hits(req.uri().path()) => {
                self.requests.lock().expect("proxy log").push(record(0));
                tokio::time::sleep(STALL_LIMIT).await;
                return reply(504, &[], "stalled");
            }
            _ => {}
        }
        let extra = match &self.fault {
            Fault::AddHeaders { on, headers } if on.hits(req.uri().path()) => headers.clone(),
            _ => Vec::new(),
        };
        let entry = record(0);
        let mut answer = self.forward(req, &path).await;
        for (name, value) in extra {
            let name = hyper::header::HeaderName::from_bytes(name.as_bytes()).expect("header name");
            let value = hyper::header::HeaderValue::from_str(&value).expect("header value");
            answer.headers_mut().insert(name, value);
        }
        let mut entry = entry;
        entry.status = answer.status().as_u16();
        self.requests.lock().expect("proxy log").push(entry);
        answer
    }

    async fn forward(&self, req: hyper::Request<Incoming>, path: &str) -> Reply {
        let (parts, body) = req.into_parts();
        let body: Bytes = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return reply(400, &[], "unreadable request body"),
        };
        let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).expect("method");
        let mut upstream = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in &parts.headers {
            if !HOP_BY_HOP.contains(&name.as_str()) && name != "content-length" {
                upstream = upstream.header(name.as_str(), value.as_bytes());
            }
        }
        let response = match upstream.body(body).send().await {
            Ok(response) => response,
            Err(err) => return reply(502, &[], format!("proxy: upstream failed: {err}")),
        };
        let status = response.status().as_u16();
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter(|(name, _)| !HOP_BY_HOP.contains(&name.as_str()))
            .filter_map(|(name, value)| Some((name.to_string(), value.to_str().ok()?.to_string())))
            .collect();
        let body = response.bytes().await.unwrap_or_default();
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        reply(status, &headers, body)
    }
}

/// A 127.0.0.1 port with nothing listening: connecting to it is refused.
///
/// The port is bound but never listened on, and the socket is kept until the test binary
/// exits: a bound, non-listening port answers a SYN with RST (connection refused), and no
/// other port-0 bind in the bench can be handed it in the meantime.
pub fn refused_port() -> u16 {
    static RESERVED: Mutex<Vec<tokio::net::TcpSocket>> = Mutex::new(Vec::new());
    let socket = tokio::net::TcpSocket::new_v4().expect("create socket");
    socket
        .bind("127.0.0.1:0".parse().expect("loopback address"))
        .expect("bind 127.0.0.1:0");
    let port = socket.local_addr().expect("local addr").port();
    RESERVED.lock().expect("reserved ports").push(socket);
    port
}
