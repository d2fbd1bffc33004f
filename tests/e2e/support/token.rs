//! A token server for the registry's token auth: checks Basic credentials, issues RS256 JWTs
//! whose header carries the signer certificate in `x5c`, and can refuse a repository.
//!
//! It reproduces the Docker token protocol (<https://distribution.github.io/distribution/spec/auth/token/>,
//! <https://distribution.github.io/distribution/spec/auth/jwt/>) the way Docker Hub plays it:
//! `GET /token?service=…&scope=repository:<name>:pull`; wrong credentials get 401; anonymous
//! callers and refused repositories get a token whose `access` list is empty, so the registry
//! itself answers `insufficient_scope`. The RSA key is generated per server (`rsa` crate) and
//! signs with ring; its certificate is issued by the test CA, which the registry is given as
//! `rootcertbundle`.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

use super::pki::Pki;
use super::serve::{Handler, Mode, Reply, Server, reply};

/// Who the token server lets in and how it answers.
#[derive(Clone)]
pub struct TokenOptions {
    pub user: String,
    pub password: String,
    /// Repositories for which even valid credentials get an empty `access` list.
    pub refused: Vec<String>,
    /// Which field(s) of the JSON reply carry the token.
    pub reply: TokenReply,
    /// Serve the realm over plain HTTP instead of HTTPS (a misconfigured token service).
    pub plain_http: bool,
}

/// Names the user, never the password.
impl std::fmt::Debug for TokenOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenOptions")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("refused", &self.refused)
            .field("reply", &self.reply)
            .field("plain_http", &self.plain_http)
            .finish()
    }
}

impl TokenOptions {
    /// One user, nothing refused, both `token` and `access_token` in the reply.
    pub fn new(user: &str, password: &str) -> TokenOptions {
        TokenOptions {
            user: user.to_string(),
            password: password.to_string(),
            refused: Vec::new(),
            reply: TokenReply::Both,
            plain_http: false,
        }
    }
}

/// The JSON field names a token reply uses: the spec allows `token`, `access_token`, or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenReply {
    Both,
    TokenOnly,
    AccessTokenOnly,
}

/// One request the token server received. Credentials are never kept, only their presence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRequest {
    pub method: String,
    pub path: String,
    /// The raw query (`service=…&scope=…`): carries no secret.
    pub query: String,
    /// Whether an `Authorization` header was sent.
    pub authorization: bool,
    pub status: u16,
}

/// A running token server (HTTPS with the Pki's server certificate); stops when dropped.
pub struct TokenServer {
    /// `https://127.0.0.1:PORT/token`: the `realm` the registry advertises.
    pub realm: String,
    /// The `service` the registry advertises and the token's `aud`.
    pub service: String,
    /// The token's `iss`, which the registry checks.
    pub issuer: String,
    state: Arc<Mutex<State>>,
    signer: Arc<Signer>,
    server: Server,
}

struct State {
    options: TokenOptions,
    requests: Vec<TokenRequest>,
}

struct Signer {
    key: ring::signature::RsaKeyPair,
    /// Base64 (standard, padded) DER of the signer certificate: the `x5c` header.
    x5c: String,
}

/// The service name every bench registry with token auth uses.
pub const SERVICE: &str = "pulldoctor-test-registry";
/// The issuer every bench token carries.
pub const ISSUER: &str = "pulldoctor-test-token-issuer";

impl TokenServer {
    /// Generates an RSA signing key, certifies it with `pki`'s CA and serves `/token` (over
    /// HTTPS with `pki`'s server certificate, or plain HTTP when `options.plain_http`).
    pub fn start(pki: &Pki, options: TokenOptions) -> TokenServer {
        let tls = (!options.plain_http).then_some(&pki.server);
        let scheme = if options.plain_http { "http" } else { "https" };
        let signer = Arc::new(Signer::generate(pki));
        let state = Arc::new(Mutex::new(State {
            options,
            requests: Vec::new(),
        }));
        let handler: Handler = {
            let (state, signer) = (state.clone(), signer.clone());
            Arc::new(move |req| {
                let answer = answer(&state, &signer, &req);
                Box::pin(async move { answer })
            })
        };
        let server = Server::start(tls, Mode::Http(handler));
        TokenServer {
            realm: format!("{scheme}://{}/token", server.host()),
            service: SERVICE.to_string(),
            issuer: ISSUER.to_string(),
            state,
            signer,
            server,
        }
    }

    /// From now on, valid credentials get an empty `access` list for `repository`.
    pub fn refuse(&self, repository: &str) {
        let mut state = self.state.lock().expect("token state");
        state.options.refused.push(repository.to_string());
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.state.lock().expect("token state").requests.clone()
    }

    /// How many TCP connections the token server accepted.
    pub fn connections(&self) -> usize {
        self.server.connections()
    }

    /// Signs a token for `subject` with this exact `access` list, without any HTTP: what the
    /// bench's own pushes use, so a refused repository can still be seeded.
    pub fn mint(&self, subject: &str, access: serde_json::Value) -> String {
        self.signer.token(subject, access)
    }
}

/// Handles one `/token` request: checks the service and credentials, then grants per scope.
fn answer(
    state: &Mutex<State>,
    signer: &Signer,
    req: &hyper::Request<hyper::body::Incoming>,
) -> Reply {
    let mut state = state.lock().expect("token state");
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let auth = req.headers().get(hyper::header::AUTHORIZATION);
    let (status, body) = decide(
        &state.options,
        signer,
        &path,
        &query,
        auth.map(|v| v.as_bytes()),
    );
    state.requests.push(TokenRequest {
        method: req.method().to_string(),
        path,
        query,
        authorization: auth.is_some(),
        status,
    });
    let mut headers = vec![("content-type", "application/json")];
    if status == 401 {
        headers.push((
            "www-authenticate",
            "Basic realm=\"pulldoctor test token server\"",
        ));
    }
    reply(status, &headers, body.to_string())
}

fn decide(
    options: &TokenOptions,
    signer: &Signer,
    path: &str,
    query: &str,
    authorization: Option<&[u8]>,
) -> (u16, serde_json::Value) {
    if path != "/token" {
        return (404, json!({"details": "not found"}));
    }
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let service = pairs
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.as_str());
    if service != Some(SERVICE) {
        return (400, json!({"details": "unknown or missing service"}));
    }
    let subject = match authorization {
        None => None,
        Some(value) => match basic_credentials(value) {
            Some((user, password)) if user == options.user && password == options.password => {
                Some(user)
            }
            _ => return (401, json!({"details": "incorrect username or password"})),
        },
    };
    let mut access = Vec::new();
    if subject.is_some() {
        for (_, scope) in pairs.iter().filter(|(k, _)| k == "scope") {
            // A scope is `type:name:actions`; names may hold ':' only before a port, which
            // repository names never do, so split from both ends.
            let mut parts = scope.splitn(2, ':');
            let kind = parts.next().unwrap_or("");
            let rest = parts.next().unwrap_or("");
            let Some((name, actions)) = rest.rsplit_once(':') else {
                continue;
            };
            if options.refused.iter().any(|r| r == name) {
                continue;
            }
            let actions: BTreeSet<&str> = actions.split(',').filter(|a| !a.is_empty()).collect();
            access.push(json!({"type": kind, "name": name, "actions": actions}));
        }
    }
    let token = signer.token(subject.as_deref().unwrap_or(""), json!(access));
    let body = match options.reply {
        TokenReply::Both => json!({"token": token, "access_token": token, "expires_in": 300}),
        TokenReply::TokenOnly => json!({"token": token, "expires_in": 300}),
        TokenReply::AccessTokenOnly => json!({"access_token": token, "expires_in": 300}),
    };
    (200, body)
}

/// Decodes `Basic base64(user:password)`.
fn basic_credentials(header: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(header).ok()?;
    let (scheme, encoded) = text.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

impl Signer {
    fn generate(pki: &Pki) -> Signer {
        use rsa::pkcs1::EncodeRsaPublicKey;
        use rsa::pkcs8::EncodePrivateKey;
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("RSA key");
        let pkcs8 = private.to_pkcs8_der().expect("PKCS#8");
        let public = private.to_public_key().to_pkcs1_der().expect("PKCS#1");
        let key = ring::signature::RsaKeyPair::from_pkcs8(pkcs8.as_bytes()).expect("ring RSA key");
        let cert = pki.certify_rsa_public_key("pulldoctor test token signer", public.as_bytes());
        Signer {
            key,
            x5c: STANDARD.encode(cert),
        }
    }

    /// An RS256 JWT with the registry's required claims.
    fn token(&self, subject: &str, access: serde_json::Value) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs();
        let header = json!({"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]});
        let claims = json!({
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + 300,
            "nbf": now - 10,
            "iat": now,
            "jti": format!("{now}-{}", rand::random::<u64>()),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .expect("RSA sign");
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}
