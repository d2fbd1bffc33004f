//! The fault proxy in front of a real registry (429 with rate-limit headers, 503, stalls) and a
//! closed port, as a client with a timeout sees them
//! (<https://docs.docker.com/docker-hub/usage/pulls/>).

use super::*;

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
    let client = http_client(Trust::Ca(&reg.pki), TIMEOUT);
    // Per-request timeout: the generous client timeout covers setup, this one the fault.
    let short = Duration::from_secs(1);

    let stall = FaultProxy::start(
        &reg,
        Fault::Stall {
            on: Match::Manifests,
        },
    );
    let base = client
        .get(format!("https://{}/v2/", stall.host()))
        .send()
        .await
        .unwrap();
    assert_eq!(base.status(), 200, "/v2/ still answers");
    base.bytes().await.unwrap(); // hands the connection back for reuse
    let err = client
        .get(format!("https://{}/v2/app/manifests/1.0", stall.host()))
        .timeout(short)
        .send()
        .await
        .expect_err("stalled");
    assert!(err.is_timeout(), "{}", error_chain(&err));
    assert_eq!(stall.requests().last().map(|r| r.status), Some(0));
    assert_eq!(
        stall.connections(),
        1,
        "the stalled request rode the same connection"
    );

    let silent = FaultProxy::start(&reg, Fault::SilentAccept);
    let err = client
        .get(format!("https://{}/v2/", silent.host()))
        .timeout(short)
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
async fn registry_proxy_adds_quota_headers_to_successful_manifest_answers() {
    let reg = start(Tls::Valid, Auth::None);
    let fixtures = reg.seed_fixtures();
    let proxy = FaultProxy::start(&reg, Fault::rate_limit_headers(76));
    let client = http_client(Trust::Ca(&reg.pki), TIMEOUT);

    let head = client
        .head(format!("https://{}/v2/app/manifests/1.0", proxy.host()))
        .header(ACCEPT, DOCKER_MANIFEST)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    assert_eq!(
        header(&head, "docker-content-digest"),
        fixtures.get("app:1.0").digest
    );
    assert_eq!(header(&head, "ratelimit-limit"), "100;w=21600");
    assert_eq!(header(&head, "ratelimit-remaining"), "76;w=21600");
    // A HEAD keeps the real Content-Length of the manifest it describes.
    assert_eq!(
        header(&head, "content-length"),
        fixtures.get("app:1.0").size.to_string()
    );

    let tags = client
        .get(format!("https://{}/v2/app/tags/list", proxy.host()))
        .send()
        .await
        .unwrap();
    assert_eq!(tags.status(), 200);
    assert_eq!(header(&tags, "ratelimit-remaining"), "");
}

#[tokio::test]
async fn registry_proxy_can_play_a_web_server_that_is_not_a_registry() {
    let reg = start(Tls::Plain, Auth::None);
    let proxy = FaultProxy::start(&reg, Fault::not_a_registry());
    let client = http_client(Trust::System, TIMEOUT);
    let base = client
        .get(format!("http://{}/v2/", proxy.host()))
        .send()
        .await
        .unwrap();
    assert_eq!(base.status(), 404);
    assert_eq!(header(&base, "docker-distribution-api-version"), "");
    assert!(
        base.text()
            .await
            .unwrap()
            .contains("<h1>404 Not Found</h1>")
    );
}
