//! The registry bench's real behaviour, shown with plain HTTP requests from the test: what
//! Debian's docker-registry 2.8 answers in each mode, and what the fault proxy and a closed port
//! do. These are the facts the probe's diagnosis rests on
//! (<https://github.com/opencontainers/distribution-spec/blob/main/spec.md>,
//! <https://distribution.github.io/distribution/spec/auth/token/>), checked against the real
//! server rather than assumed.

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

#[tokio::test]
async fn registry_plain_http_lets_anyone_in() {
    let reg = start(Tls::Plain, Auth::None);
    assert!(reg.url().starts_with("http://127.0.0.1:"));
    assert_eq!(reg.ca_file, None);
    let client = http_client(Trust::System, TIMEOUT);
    let response = client
        .get(format!("{}/v2/", reg.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "docker-distribution-api-version"),
        "registry/2.0"
    );
}

#[tokio::test]
async fn registry_htpasswd_challenges_with_basic_and_refuses_a_wrong_password() {
    let reg = start(Tls::Valid, Auth::htpasswd("alice", "s3cret"));
    let client = http_client(Trust::Ca(&reg.pki), TIMEOUT);
    let v2 = format!("{}/v2/", reg.url());

    let anonymous = client.get(&v2).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        header(&anonymous, WWW_AUTHENTICATE),
        format!("Basic realm=\"{BASIC_REALM}\"")
    );
    assert_eq!(error_codes(anonymous).await, ["UNAUTHORIZED"]);

    // A wrong password looks exactly like no password at all.
    let wrong = client
        .get(&v2)
        .header(AUTHORIZATION, basic("alice", "nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(
        header(&wrong, WWW_AUTHENTICATE),
        format!("Basic realm=\"{BASIC_REALM}\"")
    );
    assert_eq!(error_codes(wrong).await, ["UNAUTHORIZED"]);

    let right = client
        .get(&v2)
        .header(AUTHORIZATION, basic("alice", "s3cret"))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
}

#[tokio::test]
async fn registry_token_challenge_names_realm_service_and_repository_scope() {
    let reg = start(Tls::Valid, Auth::token("bob", "hunter2"));
    let token = reg.token.as_ref().unwrap();
    assert!(token.realm.starts_with("https://127.0.0.1:"));
    let client = http_client(Trust::Ca(&reg.pki), TIMEOUT);

    let base = client
        .get(format!("{}/v2/", reg.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(base.status(), 401);
    assert_eq!(
        header(&base, WWW_AUTHENTICATE),
        format!(
            "Bearer realm=\"{}\",service=\"{}\"",
            token.realm, token.service
        )
    );

    let manifest = client
        .get(format!("{}/v2/app/manifests/1.0", reg.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(manifest.status(), 401);
    assert_eq!(
        header(&manifest, WWW_AUTHENTICATE),
        format!(
            "Bearer realm=\"{}\",service=\"{}\",scope=\"repository:app:pull\"",
            token.realm, token.service
        )
    );
    assert_eq!(error_codes(manifest).await, ["UNAUTHORIZED"]);
}

#[tokio::test]
async fn registry_token_flow_pulls_a_manifest_and_the_token_server_records_it() {
    let reg = start(Tls::Valid, Auth::token("bob", "hunter2"));
    let fixtures = reg.seed_fixtures();
    let token = reg.token.as_ref().unwrap();
    let client = http_client(Trust::Ca(&reg.pki), TIMEOUT);

    let wrong = fetch_token(&client, token, "repository:app:pull", Some(("bob", "nope"))).await;
    assert_eq!(wrong.status(), 401);

    let granted = fetch_token(
        &client,
        token,
        "repository:app:pull",
        Some(("bob", "hunter2")),
    )
    .await;
    assert_eq!(granted.status(), 200);
    let body: serde_json::Value = json(granted).await;
    let jwt = body["token"].as_str().expect("token field").to_string();
    assert_eq!(body["access_token"].as_str(), Some(jwt.as_str()));
    assert_eq!(jwt.split('.').count(), 3, "a JWS compact token");

    let manifest = client
        .get(format!("{}/v2/app/manifests/1.0", reg.url()))
        .header(AUTHORIZATION, format!("Bearer {jwt}"))
        .header(ACCEPT, DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(manifest.status(), 200);
    assert_eq!(
        header(&manifest, "docker-content-digest"),
        fixtures.get("app:1.0").digest
    );
    assert_eq!(header(&manifest, "content-type"), DOCKER_MANIFEST);

    let seen = token.requests();
    assert_eq!(seen.len(), 2);
    assert!(seen.iter().all(|r| r.path == "/token" && r.authorization));
    assert_eq!([seen[0].status, seen[1].status], [401, 200]);
    assert!(
        seen[1].query.contains("scope=repository%3Aapp%3Apull"),
        "{}",
        seen[1].query
    );
    assert!(!seen[1].query.contains("hunter2"));
}

#[tokio::test]
async fn registry_token_refused_scope_gets_insufficient_scope_from_the_registry() {
    let reg = start(Tls::Valid, Auth::token("bob", "hunter2"));
    reg.seed_fixtures();
    let token = reg.token.as_ref().unwrap();
    token.refuse("app");
    let client = http_client(Trust::Ca(&reg.pki), TIMEOUT);

    // The token server still says 200: the refusal is an empty `access` list, as Docker Hub does.
    let refused = fetch_token(
        &client,
        token,
        "repository:app:pull",
        Some(("bob", "hunter2")),
    )
    .await;
    assert_eq!(refused.status(), 200);
    let jwt = json(refused).await["token"].as_str().unwrap().to_string();

    let manifest = client
        .get(format!("{}/v2/app/manifests/1.0", reg.url()))
        .header(AUTHORIZATION, format!("Bearer {jwt}"))
        .send()
        .await
        .unwrap();
    let challenge = header(&manifest, WWW_AUTHENTICATE);
    assert_eq!(
        manifest.status(),
        401,
        "docker-registry 2.8 answers 401, not 403"
    );
    assert!(
        challenge.contains("error=\"insufficient_scope\""),
        "{challenge}"
    );
    assert!(
        challenge.contains("scope=\"repository:app:pull\""),
        "{challenge}"
    );
    assert_eq!(error_codes(manifest).await, ["UNAUTHORIZED"]);

    // A token for `multi`, asked for the same way, works: the refusal is per repository.
    let other = fetch_token(
        &client,
        token,
        "repository:multi:pull",
        Some(("bob", "hunter2")),
    )
    .await;
    let jwt = json(other).await["token"].as_str().unwrap().to_string();
    let manifest = client
        .get(format!("{}/v2/multi/manifests/1.0", reg.url()))
        .header(AUTHORIZATION, format!("Bearer {jwt}"))
        .header(ACCEPT, OCI_INDEX)
        .send()
        .await
        .unwrap();
    assert_eq!(manifest.status(), 200);
}

#[tokio::test]
async fn registry_anonymous_token_has_no_access() {
    let reg = start(Tls::Valid, Auth::token("bob", "hunter2"));
    reg.seed_fixtures();
    let token = reg.token.as_ref().unwrap();
    let client = http_client(Trust::Ca(&reg.pki), TIMEOUT);

    let anonymous = fetch_token(&client, token, "repository:app:pull", None).await;
    assert_eq!(anonymous.status(), 200);
    let jwt = json(anonymous).await["token"].as_str().unwrap().to_string();
    let tags = client
        .get(format!("{}/v2/app/tags/list", reg.url()))
        .header(AUTHORIZATION, format!("Bearer {jwt}"))
        .send()
        .await
        .unwrap();
    assert_eq!(tags.status(), 401);
    assert!(header(&tags, WWW_AUTHENTICATE).contains("error=\"insufficient_scope\""));
    assert!(!token.requests()[0].authorization);
}

#[tokio::test]
async fn registry_missing_repository_is_name_unknown_only_on_tags_list() {
    let reg = start(Tls::Plain, Auth::None);
    reg.seed_fixtures();
    let client = http_client(Trust::System, TIMEOUT);
    let url = reg.url();

    let tags = client
        .get(format!("{url}/v2/app/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(tags.status(), 200);
    let tags: serde_json::Value = json(tags).await;
    assert_eq!(tags["name"], "app");
    // docker-registry 2.8 does not sort the list (the OCI spec asks for lexical order only
    // when paginating with `n`), so compare as a set.
    let mut names: Vec<&str> = tags["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["1.0", "1.1", "2.0"]);

    let missing_repo_tags = client
        .get(format!("{url}/v2/nope/tags/list"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing_repo_tags.status(), 404);
    assert_eq!(error_codes(missing_repo_tags).await, ["NAME_UNKNOWN"]);

    let missing_tag = client
        .get(format!("{url}/v2/app/manifests/9.9"))
        .header(ACCEPT, DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(missing_tag.status(), 404);
    assert_eq!(error_codes(missing_tag).await, ["MANIFEST_UNKNOWN"]);

    // The manifests endpoint cannot tell a missing repository from a missing tag.
    let missing_repo_manifest = client
        .get(format!("{url}/v2/nope/manifests/1.0"))
        .header(ACCEPT, DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(missing_repo_manifest.status(), 404);
    assert_eq!(
        error_codes(missing_repo_manifest).await,
        ["MANIFEST_UNKNOWN"]
    );

    // A HEAD 404 carries no body: the code needs a GET.
    let head = client
        .head(format!("{url}/v2/app/manifests/9.9"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 404);
    assert!(head.bytes().await.unwrap().is_empty());
}

#[tokio::test]
async fn registry_oci_index_is_hidden_without_its_media_type_in_accept() {
    let reg = start(Tls::Plain, Auth::None);
    let fixtures = reg.seed_fixtures();
    let client = http_client(Trust::System, TIMEOUT);
    let manifest = |name: &str, accept: &str| {
        client
            .get(format!("{}/v2/{name}/manifests/1.0", reg.url()))
            .header(ACCEPT, accept.to_string())
            .send()
    };

    let docker_only = manifest("multi", &format!("{DOCKER_MANIFEST}, {DOCKER_LIST}"))
        .await
        .unwrap();
    assert_eq!(docker_only.status(), 404);
    assert_eq!(error_codes(docker_only).await, ["MANIFEST_UNKNOWN"]);

    let oci = manifest("multi", &format!("{OCI_INDEX}, {OCI_MANIFEST}"))
        .await
        .unwrap();
    assert_eq!(oci.status(), 200);
    assert_eq!(header(&oci, "content-type"), OCI_INDEX);
    assert_eq!(
        header(&oci, "docker-content-digest"),
        fixtures.get("multi:1.0").digest
    );
    let index: serde_json::Value = json(oci).await;
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let variant = p["variant"]
                .as_str()
                .map(|v| format!("/{v}"))
                .unwrap_or_default();
            format!(
                "{}/{}{variant}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);

    // A Docker manifest list is served to a Docker-only Accept.
    let list = manifest("dockerlist", DOCKER_LIST).await.unwrap();
    assert_eq!(list.status(), 200);
    assert_eq!(header(&list, "content-type"), DOCKER_LIST);

    let arm_only: serde_json::Value = json(manifest("armonly", OCI_INDEX).await.unwrap()).await;
    assert_eq!(arm_only["manifests"].as_array().unwrap().len(), 1);
    assert_eq!(
        arm_only["manifests"][0]["platform"]["architecture"],
        "arm64"
    );
}

#[tokio::test]
async fn registry_tls_with_an_unknown_ca_fails_with_unknown_issuer() {
    let reg = start(Tls::Valid, Auth::None);
    let system = http_client(Trust::System, TIMEOUT);
    let err = tls_failure(&system, format!("{}/v2/", reg.url())).await;
    assert_eq!(
        err,
        TlsError::InvalidCertificate(CertificateError::UnknownIssuer)
    );

    // The same registry with its CA: the CA was the only thing missing.
    let with_ca = http_client(Trust::Ca(&reg.pki), TIMEOUT);
    let ok = with_ca
        .get(format!("{}/v2/", reg.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

#[tokio::test]
async fn registry_tls_wrong_name_reports_expected_and_presented_names() {
    let reg = start(Tls::WrongName, Auth::None);
    let fixtures = reg.seed_fixtures();
    let client = http_client(Trust::Ca(&reg.pki), TIMEOUT);
    let err = tls_failure(&client, format!("{}/v2/", reg.url())).await;
    let TlsError::InvalidCertificate(CertificateError::NotValidForNameContext {
        expected,
        presented,
    }) = err
    else {
        panic!("expected a wrong-name error, got {err:?}");
    };
    assert_eq!(expected.to_str(), "127.0.0.1");
    assert_eq!(presented.len(), 1, "{presented:?}");
    assert!(presented[0].contains(pki::WRONG_NAME), "{presented:?}");

    // The certificate is otherwise sound: dialled under its own name (pinned to 127.0.0.1, no
    // DNS), the same CA accepts it.
    let own_name = reqwest::Client::builder()
        .tls_backend_preconfigured(rustls_config(Trust::Ca(&reg.pki)))
        .no_proxy()
        .resolve(pki::WRONG_NAME, reg.host.parse().unwrap())
        .timeout(TIMEOUT)
        .build()
        .unwrap();
    let url = format!(
        "https://{}:{}/v2/app/manifests/1.0",
        pki::WRONG_NAME,
        reg.port()
    );
    let manifest = own_name
        .get(url)
        .header(ACCEPT, DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(manifest.status(), 200);
    assert_eq!(
        header(&manifest, "docker-content-digest"),
        fixtures.get("app:1.0").digest
    );
}

#[tokio::test]
async fn registry_tls_expired_certificate_reports_its_not_after() {
    let reg = start(Tls::Expired, Auth::htpasswd("alice", "s3cret"));
    // The bench can still seed it (the expiry is for the code under test to trip over).
    assert_eq!(reg.seed_fixtures().images.len(), 6);
    let client = http_client(Trust::Ca(&reg.pki), TIMEOUT);
    let err = tls_failure(&client, format!("{}/v2/", reg.url())).await;
    let TlsError::InvalidCertificate(CertificateError::ExpiredContext { time, not_after }) = err
    else {
        panic!("expected an expiry error, got {err:?}");
    };
    // 2021-01-01T00:00:00Z, as the bench issued it.
    assert_eq!(not_after.as_secs(), 1_609_459_200);
    assert!(time.as_secs() > not_after.as_secs());
}

#[tokio::test]
async fn registry_http_to_the_tls_port_gets_400_and_tls_to_the_http_port_fails() {
    let tls = start(Tls::Valid, Auth::None);
    let client = http_client(Trust::Ca(&tls.pki), TIMEOUT);
    let plain_to_tls = client
        .get(format!("http://{}/v2/", tls.host))
        .send()
        .await
        .unwrap();
    assert_eq!(plain_to_tls.status(), 400);
    assert_eq!(
        plain_to_tls.text().await.unwrap().trim(),
        "Client sent an HTTP request to an HTTPS server."
    );

    let plain = start(Tls::Plain, Auth::None);
    let err = tls_failure(&client, format!("https://{}/v2/", plain.host)).await;
    assert_eq!(
        err,
        TlsError::InvalidMessage(InvalidMessage::InvalidContentType)
    );
}

#[tokio::test]
async fn registry_mutual_tls_demands_the_client_certificate() {
    let reg = start(Tls::Mutual, Auth::None);
    let fixtures = reg.seed_fixtures();
    let without = http_client(Trust::Ca(&reg.pki), TIMEOUT);
    let err = without
        .get(format!("{}/v2/", reg.url()))
        .send()
        .await
        .expect_err("no client certificate");
    let tls = rustls_error(&err).unwrap_or_else(|| panic!("{}", error_chain(&err)));
    assert!(matches!(tls, TlsError::AlertReceived(_)), "{tls:?}");

    let with = http_client(
        Trust::CaWithClientCert(&reg.pki, reg.client_cert()),
        TIMEOUT,
    );
    let manifest = with
        .get(format!("{}/v2/app/manifests/1.0", reg.url()))
        .header(ACCEPT, DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(manifest.status(), 200);
    assert_eq!(
        header(&manifest, "docker-content-digest"),
        fixtures.get("app:1.0").digest
    );
}

#[tokio::test]
async fn registry_connection_refused_on_a_closed_port() {
    let client = http_client(Trust::System, TIMEOUT);
    let err = client
        .get(format!("http://127.0.0.1:{}/v2/", refused_port()))
        .send()
        .await
        .expect_err("nothing listens");
    assert!(err.is_connect(), "{}", error_chain(&err));
    assert!(rustls_error(&err).is_none());
    assert!(
        error_chain(&err).contains("Connection refused"),
        "{}",
        error_chain(&err)
    );
}

#[tokio::test]
async fn registry_proxy_answers_429_with_rate_limit_headers_on_manifests_only() {
    let reg = start(Tls::Valid, Auth::None);
    reg.seed_fixtures();
    let proxy = FaultProxy::start(&reg, Fault::rate_limited());
    let client = http_client(Trust::Ca(&reg.pki), TIMEOUT);

    let tags = client
        .get(format!("https://{}/v2/app/tags/list", proxy.host()))
        .send()
        .await
        .unwrap();
    assert_eq!(tags.status(), 200, "tags pass through to the real registry");

    let limited = client
        .head(format!("https://{}/v2/app/manifests/1.0", proxy.host()))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), 429);
    assert_eq!(header(&limited, "retry-after"), "30");
    assert_eq!(header(&limited, "ratelimit-limit"), "100;w=21600");
    assert_eq!(header(&limited, "ratelimit-remaining"), "0;w=21600");

    let body = client
        .get(format!("https://{}/v2/app/manifests/1.0", proxy.host()))
        .send()
        .await
        .unwrap();
    assert_eq!(error_codes(body).await, ["TOOMANYREQUESTS"]);

    let seen: Vec<(String, u16)> = proxy
        .requests()
        .into_iter()
        .map(|r| (r.method, r.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("GET".into(), 200),
            ("HEAD".into(), 429),
            ("GET".into(), 429)
        ]
    );
    assert_eq!(
        proxy.connections(),
        1,
        "one keep-alive connection for three requests"
    );
}

#[tokio::test]
async fn registry_proxy_answers_503_on_the_chosen_path_and_forwards_the_rest() {
    let reg = start(Tls::Plain, Auth::None);
    let fixtures = reg.seed_fixtures();
    let proxy = FaultProxy::start(&reg, Fault::unavailable(Match::TagsList));
    let client = http_client(Trust::System, TIMEOUT);

    let tags = client
        .get(format!("http://{}/v2/app/tags/list", proxy.host()))
        .send()
        .await
        .unwrap();
    assert_eq!(tags.status(), 503);
    assert!(
        tags.text()
            .await
            .unwrap()
            .contains("503 Service Temporarily Unavailable")
    );

    let manifest = client
        .get(format!("http://{}/v2/app/manifests/1.0", proxy.host()))
        .header(ACCEPT, DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(manifest.status(), 200);
    assert_eq!(
        header(&manifest, "docker-content-digest"),
        fixtures.get("app:1.0").digest
    );
    let body = manifest.bytes().await.unwrap();
    assert_eq!(sha256_digest(&body), fixtures.get("app:1.0").digest);
}

#[tokio::test]
async fn registry_proxy_stall_and_silent_accept_end_in_client_timeouts() {
    let reg = start(Tls::Valid, Auth::None);
    let short = http_client(Trust::Ca(&reg.pki), Duration::from_millis(700));

    let stall = FaultProxy::start(
        &reg,
        Fault::Stall {
            on: Match::Manifests,
        },
    );
    let base = short
        .get(format!("https://{}/v2/", stall.host()))
        .send()
        .await
        .unwrap();
    assert_eq!(base.status(), 200, "/v2/ still answers");
    let err = short
        .get(format!("https://{}/v2/app/manifests/1.0", stall.host()))
        .send()
        .await
        .expect_err("stalled");
    assert!(err.is_timeout(), "{}", error_chain(&err));
    assert_eq!(stall.requests().last().map(|r| r.status), Some(0));

    let silent = FaultProxy::start(&reg, Fault::SilentAccept);
    let err = short
        .get(format!("https://{}/v2/", silent.host()))
        .send()
        .await
        .expect_err("mute peer");
    assert!(err.is_timeout(), "{}", error_chain(&err));
    assert!(
        rustls_error(&err).is_none(),
        "the handshake never got an answer"
    );
    assert_eq!(silent.connections(), 1);
}

#[tokio::test]
async fn registry_token_server_can_name_the_token_access_token_only() {
    let pki = Pki::generate();
    let mut options = TokenOptions::new("bob", "hunter2");
    options.reply = TokenReply::AccessTokenOnly;
    let server = TokenServer::start(&pki, options);
    let client = http_client(Trust::Ca(&pki), TIMEOUT);
    let reply = fetch_token(
        &client,
        &server,
        "repository:app:pull",
        Some(("bob", "hunter2")),
    )
    .await;
    assert_eq!(reply.status(), 200);
    let body = json(reply).await;
    assert!(body.get("token").is_none(), "{body}");
    assert_eq!(body["access_token"].as_str().unwrap().split('.').count(), 3);
    assert_eq!(body["expires_in"], 300);

    let wrong_service = client
        .get(format!(
            "{}?service=other&scope=repository:app:pull",
            server.realm
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_service.status(), 400);
}

/// Runs Debian's skopeo (an independent client) and returns (success, stdout, stderr).
fn skopeo(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new("skopeo")
        .args(args)
        .output()
        .expect("run skopeo (install it with: apt-get install skopeo)");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn registry_fixtures_are_real_images_to_skopeo() {
    let reg = start(Tls::Plain, Auth::None);
    let fixtures = reg.seed_fixtures();
    let image = |name: &str| format!("docker://{}/{name}", reg.host);

    // The index resolves per platform, as a node's runtime would resolve it.
    let (ok, stdout, stderr) = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--override-os",
        "linux",
        "--override-arch",
        "arm64",
        "--override-variant",
        "v8",
        &image("multi:1.0"),
    ]);
    assert!(ok, "{stderr}");
    let inspected: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(inspected["Architecture"], "arm64");
    assert_eq!(
        inspected["Digest"],
        fixtures.get("multi:1.0").digest.as_str()
    );

    // An amd64 node cannot use the arm64-only image.
    let (ok, _, stderr) = skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--override-os",
        "linux",
        "--override-arch",
        "amd64",
        &image("armonly:1.0"),
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("no image found in image index for architecture amd64"),
        "{stderr}"
    );

    // The layer is a real gzipped tar: skopeo decompresses it, and the result is the tar
    // whose digest the config names as its diff_id.
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = skopeo(&[
        "--insecure-policy",
        "copy",
        "--src-tls-verify=false",
        "--dest-decompress",
        &image("app:1.0"),
        &format!("dir:{}", dir.path().display()),
    ]);
    assert!(ok, "{stderr}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    let config_digest = manifest["config"]["digest"].as_str().unwrap();
    let config: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join(config_digest.trim_start_matches("sha256:"))).unwrap(),
    )
    .unwrap();
    let diff_id = config["rootfs"]["diff_ids"][0].as_str().unwrap();
    let tar = std::fs::read(dir.path().join(diff_id.trim_start_matches("sha256:"))).unwrap();
    assert_eq!(sha256_digest(&tar), diff_id);
    assert_eq!(&tar[..12], b"fixture.txt\0");
    assert_eq!(&tar[257..262], b"ustar");
}
