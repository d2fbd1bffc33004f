//! The registry bench's real behaviour, shown with plain HTTP requests from the test: what
//! Debian's docker-registry 2.8 answers in each mode, and what the fault proxy and a closed port
//! do. These are the facts the probe's diagnosis rests on
//! (<https://github.com/opencontainers/distribution-spec/blob/main/spec.md>,
//! <https://distribution.github.io/distribution/spec/auth/token/>), checked against the real
//! server rather than assumed.

mod auth;
mod content;
mod faults;
mod tls;

use std::time::Duration;

use base64::Engine;
use reqwest::header::{ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};
use rustls::{CertificateError, Error as TlsError, InvalidMessage};

use crate::support::push::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use crate::support::*;

const TIMEOUT: Duration = Duration::from_secs(20);

fn start(tls: Tls, auth: Auth) -> Registry {
    Registry::start(RegistryOptions { tls, auth })
}

fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

fn header(response: &reqwest::Response, name: impl reqwest::header::AsHeaderName) -> String {
    response
        .headers()
        .get(name)
        .map(|v| v.to_str().expect("ASCII header").to_string())
        .unwrap_or_default()
}

/// A response body parsed as JSON (reqwest's `json` feature is not enabled in this crate).
async fn json(response: reqwest::Response) -> serde_json::Value {
    let bytes = response.bytes().await.expect("response body");
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("not JSON ({e}): {bytes:?}"))
}

/// The `code`s of a distribution error body `{"errors":[{"code":…}]}`.
async fn error_codes(response: reqwest::Response) -> Vec<String> {
    let body = json(response).await;
    body["errors"]
        .as_array()
        .expect("errors array")
        .iter()
        .map(|e| e["code"].as_str().expect("code").to_string())
        .collect()
}

/// The rustls error of a request that must fail in the TLS handshake.
async fn tls_failure(client: &reqwest::Client, url: String) -> TlsError {
    let err = client.get(url).send().await.expect_err("TLS must fail");
    rustls_error(&err)
        .unwrap_or_else(|| panic!("no rustls error in: {}", error_chain(&err)))
        .clone()
}

/// Fetches a token from the realm the registry named, the way a client would.
async fn fetch_token(
    client: &reqwest::Client,
    token: &TokenServer,
    scope: &str,
    credentials: Option<(&str, &str)>,
) -> reqwest::Response {
    let mut url = url::Url::parse(&token.realm).expect("realm URL");
    url.query_pairs_mut()
        .append_pair("service", &token.service)
        .append_pair("scope", scope);
    let mut request = client.get(url);
    if let Some((user, password)) = credentials {
        request = request.header(AUTHORIZATION, basic(user, password));
    }
    request.send().await.expect("token request")
}
