//! A local Kubernetes API server for the tests: HTTPS on 127.0.0.1 with a CA made at test time,
//! serving fixture objects with the real apiserver's read semantics, so both pulldoctor and
//! the machine's real `kubectl` can talk to it.
//!
//! What it reproduces (kube-apiserver, <https://kubernetes.io/docs/reference/using-api/api-concepts/>):
//! GET by name; `…List` bodies with `metadata.resourceVersion`; `limit`/`continue` paging with
//! `remainingItemCount`; `fieldSelector` and equality `labelSelector`; `Status` bodies for
//! 404 NotFound, 403 Forbidden (switchable per resource and verb, to play an RBAC-limited
//! user), 401 without the bearer token, and 405 for any method but GET — except pod create,
//! log and delete (`pods.rs`, for `--from-node`'s probe pod and the test kubelet); `/version`, `/api`,
//! `/apis` discovery and a server-side `Table` for pods, for kubectl. Every request is recorded so a test can assert that
//! pulldoctor only ever reads (or, with `--from-node`, writes only its probe pod).
//!
//! ```ignore
//! let api = KubeApi::start();
//! api.load_fixture("cluster/shop.yaml");
//! api.forbid("secrets", Verb::List);
//! // … run pulldoctor with api.kubeconfig() …
//! assert!(api.writes().is_empty());
//! ```

mod discovery;
mod pods;
mod store;
mod table;

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tempfile::TempDir;

pub use pods::{PodEvent, Pods};
pub use store::{RESOURCES, Store};

/// The user the server says it is talking to, in 403 messages.
pub const USER: &str = "system:serviceaccount:shop:pulldoctor";
/// The bearer token the kubeconfig carries; anything else is 401.
pub const TOKEN: &str = "kube-api-test-token";
/// The namespace of the kubeconfig's current context.
pub const NAMESPACE: &str = "shop";

/// A verb RBAC can refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verb {
    Get,
    List,
    Create,
    Delete,
}

/// One request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The raw query string ("" when none).
    pub query: String,
    /// The request's headers, names lower-cased, in order (repeats kept).
    pub headers: Vec<(String, String)>,
}

impl Recorded {
    /// One decoded query parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// Every value of one header (name in lower case).
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

#[derive(Default)]
struct State {
    store: Store,
    forbidden: BTreeSet<(String, Verb)>,
    requests: Vec<Recorded>,
    /// Resources whose lists always say there is more (a hostile or broken server).
    endless: BTreeMap<String, Endless>,
    /// Bearer tokens accepted besides [`TOKEN`].
    tokens: BTreeSet<String>,
    /// How long every answer is held back.
    delay: std::time::Duration,
    /// Like `delay`, for writes only (POST, PUT, PATCH, DELETE).
    write_delay: std::time::Duration,
    /// 403 messages quote the caller's bearer token (a hostile or debugging server).
    echo_token: bool,
    /// Pods created, their logs and deletions (`pods.rs`).
    pods: pods::Written,
}

/// How a hostile list keeps going.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endless {
    /// A fresh `continue` token on every page.
    FreshTokens,
    /// The same `continue` token on every page.
    SameToken,
    /// A fresh `continue` token and fresh objects on every page: the same items renamed
    /// `NAME-pN` (new uids too), as a server inventing objects would list them.
    FreshObjects,
}

/// A running server; dropping it stops it.
pub struct KubeApi {
    /// `https://127.0.0.1:PORT`.
    pub url: String,
    /// The CA that signed the server certificate (PEM).
    pub ca_pem: String,
    dir: TempDir,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl KubeApi {
    /// Starts an empty server on 127.0.0.1 with a fresh CA and writes its kubeconfig.
    pub fn start() -> KubeApi {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let (ca_pem, tls) = tls_config();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local addr");
        let state = Arc::new(Mutex::new(State::default()));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread_state = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(serve(listener, addr, tls, thread_state, stopped));
        });
        let api = KubeApi {
            url: format!("https://{addr}"),
            ca_pem,
            dir: tempfile::tempdir().expect("tempdir"),
            state,
            stop: Some(stop),
            thread: Some(thread),
        };
        std::fs::write(api.kubeconfig(), api.kubeconfig_text()).expect("write kubeconfig");
        api
    }

    /// The kubeconfig file: context `test` (namespace `shop`, the current one) and context
    /// `other` (namespace `payments`), both with the CA data and the bearer token.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// A scratch directory that lives as long as the server (kubectl's cache, etc.).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    fn kubeconfig_text(&self) -> String {
        let ca = base64::engine::general_purpose::STANDARD.encode(&self.ca_pem);
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: local\n  cluster:\n    server: {url}\n    certificate-authority-data: {ca}\nusers:\n- name: pulldoctor\n  user:\n    token: {TOKEN}\ncontexts:\n- name: test\n  context:\n    cluster: local\n    user: pulldoctor\n    namespace: {NAMESPACE}\n- name: other\n  context:\n    cluster: local\n    user: pulldoctor\n    namespace: payments\n",
            url = self.url
        )
    }

    /// Adds objects from YAML text: one object, a multi-document stream, or a `List`.
    pub fn load_yaml(&self, text: &str) {
        let mut state = self.state.lock().unwrap();
        for doc in serde_yaml_ng::Deserializer::from_str(text) {
            let value: Value = serde::Deserialize::deserialize(doc).expect("fixture YAML");
            if value.is_null() {
                continue;
            }
            let objects = match value.get("items").and_then(Value::as_array) {
                Some(items) if value["kind"].as_str().is_some_and(|k| k.ends_with("List")) => {
                    items.clone()
                }
                _ => vec![value],
            };
            for obj in objects {
                state
                    .store
                    .put(obj)
                    .unwrap_or_else(|e| panic!("fixture object: {e}"));
            }
        }
    }

    /// Adds the objects of `fixtures/<rel>`, replacing `{{REGISTRY}}` with `registry`.
    pub fn load_fixture_with(&self, rel: &str, registry: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(rel);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.load_yaml(&text.replace("{{REGISTRY}}", registry));
    }

    /// Adds the objects of `fixtures/<rel>` (registry placeholder left as `registry.test:5000`).
    pub fn load_fixture(&self, rel: &str) {
        self.load_fixture_with(rel, "registry.test:5000");
    }

    /// Adds one object.
    pub fn add(&self, obj: Value) {
        self.state.lock().unwrap().store.put(obj).expect("object");
    }

    /// Makes `verb` on `resource` (plural, e.g. `secrets`) answer 403 from now on.
    pub fn forbid(&self, resource: &str, verb: Verb) {
        self.state
            .lock()
            .unwrap()
            .forbidden
            .insert((resource.to_string(), verb));
    }

    /// Lists of `resource` (plural) never end: every page carries a `continue` token.
    pub fn endless_list(&self, resource: &str, how: Endless) {
        self.state
            .lock()
            .unwrap()
            .endless
            .insert(resource.to_string(), how);
    }

    /// Both get and list on `resource` answer 403.
    pub fn forbid_all(&self, resource: &str) {
        self.forbid(resource, Verb::Get);
        self.forbid(resource, Verb::List);
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }

    /// Every request that was not a GET (pulldoctor must send none).
    pub fn writes(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }

    /// Accepts `token` as a bearer token too (as for `--token`).
    pub fn accept_token(&self, token: &str) {
        self.state.lock().unwrap().tokens.insert(token.to_string());
    }

    /// Holds every answer back this long from now on (a slow or hung API server).
    pub fn delay(&self, by: std::time::Duration) {
        self.state.lock().unwrap().delay = by;
    }

    /// Holds every write's answer back this long, and only then does the write: a create whose
    /// caller gave up still happens.
    pub fn delay_writes(&self, by: std::time::Duration) {
        self.state.lock().unwrap().write_delay = by;
    }

    /// Makes every 403 message quote the bearer token it was sent.
    pub fn echo_token(&self) {
        self.state.lock().unwrap().echo_token = true;
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }
}

impl Drop for KubeApi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A CA and a server certificate for 127.0.0.1 / localhost, both made now.
fn tls_config() -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().expect("ca key");
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "kube-api-test-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().expect("server key");
    let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    let cert = params.signed_by(&key, &issuer).expect("server cert");
    let chain = vec![cert.der().clone()];
    let key_der = rustls::pki_types::PrivateKeyDer::try_from(key.serialize_der()).expect("key der");
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocols")
    .with_no_client_auth()
    .with_single_cert(chain, key_der)
    .expect("server config");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    (ca_cert.pem(), Arc::new(config))
}

async fn serve(
    listener: std::net::TcpListener,
    addr: SocketAddr,
    tls: Arc<rustls::ServerConfig>,
    state: Arc<Mutex<State>>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, _) = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted { Ok(a) => a, Err(_) => continue },
        };
        let acceptor = acceptor.clone();
        let state = state.clone();
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let state = state.clone();
                async move {
                    let delay = {
                        let st = state.lock().unwrap();
                        if req.method() == hyper::Method::GET {
                            st.delay
                        } else {
                            st.delay + st.write_delay
                        }
                    };
                    let (parts, body) = req.into_parts();
                    let body = http_body_util::BodyExt::collect(body)
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    // Once received, a request is carried out even if its caller hangs up
                    // while it waits, as kube-apiserver carries out a write it has read.
                    let work = tokio::spawn(async move {
                        if !delay.is_zero() {
                            tokio::time::sleep(delay).await;
                        }
                        let (response, event) = handle(&state, addr, &parts, &body);
                        // The test kubelet hears of a pod after the API server has answered.
                        if let Some(event) = event {
                            pods::announce(&state, event);
                        }
                        response
                    });
                    let response = work.await.expect("API test server handler");
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn handle(
    state: &Mutex<State>,
    addr: SocketAddr,
    req: &http::request::Parts,
    body: &Bytes,
) -> (Response<Full<Bytes>>, Option<PodEvent>) {
    let method = req.method.to_string();
    let path = req.uri.path().to_string();
    let query = req.uri.query().unwrap_or("").to_string();
    let mut st = state.lock().unwrap();
    let headers = req
        .headers
        .iter()
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let mut event = None;
    st.requests.push(Recorded {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        headers,
    });
    let bearer = req
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let authorized = bearer.is_some_and(|t| t == TOKEN || st.tokens.contains(t));
    let user_of = |st: &State| {
        let mut user = req
            .headers
            .get("impersonate-user")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(USER)
            .to_string();
        if st.echo_token {
            user.push_str(&format!(" (token {})", bearer.unwrap_or("")));
        }
        user
    };
    let (code, body) = if !authorized {
        store::status(401, "Unauthorized", "Unauthorized", Value::Null)
    } else if let Some(reply) = pods::write(&mut st, &method, &path, body, &user_of, &mut event) {
        reply
    } else if method != "GET" {
        store::status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            json!({}),
        )
    } else if let Some(reply) = pods::log(&st, &path, &query) {
        reply
    } else {
        let accept = req
            .headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        // Like the apiserver, a refusal names the impersonated user when there is one; a
        // hostile server may also echo the caller's token back.
        let user = user_of(&st);
        route(&st, addr, &path, &query, accept.contains("as=Table"), &user)
    };
    // A log is plain text; everything else is JSON.
    let (text, content_type) = match &body {
        Value::String(log) if code == 200 => (log.clone().into_bytes(), "text/plain"),
        _ => (serde_json::to_vec(&body).expect("json"), "application/json"),
    };
    let response = Response::builder()
        .status(code)
        .header("content-type", content_type)
        .header("audit-id", format!("{:08x}", st.requests.len()))
        .body(Full::new(Bytes::from(text)))
        .expect("response");
    (response, event)
}

fn route(
    st: &State,
    addr: SocketAddr,
    path: &str,
    query: &str,
    table: bool,
    user: &str,
) -> store::Reply {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let q: BTreeMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let (group, rest): (&str, &[&str]) = match segs.as_slice() {
        ["version"] => return (200, discovery::version()),
        ["api"] => {
            return (
                200,
                json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr.to_string()}]}),
            );
        }
        ["apis"] => return (200, discovery::group_list()),
        ["api", "v1"] => return (200, discovery::resource_list("")),
        ["apis", g] if *g == "apps" || *g == "batch" => return (200, discovery::api_group(g)),
        ["apis", g, "v1"] if *g == "apps" || *g == "batch" => {
            return (200, discovery::resource_list(g));
        }
        ["api", "v1", rest @ ..] => ("", rest),
        ["apis", g, "v1", rest @ ..] => (*g, rest),
        _ => return page_not_found(),
    };
    let (namespace, res, name) = match rest {
        ["namespaces", ns, res] => (Some(*ns), *res, None),
        ["namespaces", ns, res, name] => (Some(*ns), *res, Some(*name)),
        [res] => (None, *res, None),
        [res, name] => (None, *res, Some(*name)),
        _ => return page_not_found(),
    };
    let Some(rt) = store::resource(group, res) else {
        return page_not_found();
    };
    if namespace.is_some() && !rt.namespaced {
        return page_not_found();
    }
    if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
        return store::status(
            405,
            "MethodNotAllowed",
            "watch is not served by this test server",
            json!({}),
        );
    }
    let verb = if name.is_some() {
        Verb::Get
    } else {
        Verb::List
    };
    if st.forbidden.contains(&(rt.resource.to_string(), verb)) {
        let verb_word = verb.word();
        return store::forbidden(rt, verb_word, user, namespace, name);
    }
    let mut q = q;
    if st.endless.contains_key(rt.resource) {
        // Its own tokens mean nothing to the store: every page is the first one again.
        q.remove("continue");
    }
    let (code, mut body) = match name {
        Some(n) if rt.namespaced && namespace.is_none() => store::not_found(rt, n),
        Some(n) => st.store.get(rt, namespace, n),
        None => st.store.list(rt, namespace, &q),
    };
    if name.is_none()
        && code == 200
        && let Some(how) = st.endless.get(rt.resource)
    {
        let n = st.requests.len();
        let token = match how {
            Endless::FreshTokens | Endless::FreshObjects => format!("more-{n}"),
            Endless::SameToken => "more".to_string(),
        };
        if *how == Endless::FreshObjects
            && let Some(items) = body["items"].as_array_mut()
        {
            for item in items {
                let m = &mut item["metadata"];
                for field in ["name", "uid"] {
                    if let Some(v) = m[field].as_str() {
                        m[field] = Value::String(format!("{v}-p{n}"));
                    }
                }
            }
        }
        body["metadata"]["continue"] = Value::String(token);
    }
    if table && code == 200 && rt.resource == "pods" {
        return (
            code,
            table::pods(&body, q.get("includeObject").map(String::as_str)),
        );
    }
    (code, body)
}

fn page_not_found() -> store::Reply {
    store::status(
        404,
        "NotFound",
        "the server could not find the requested resource",
        json!({}),
    )
}
