//! Who the bench registries let in: htpasswd's Basic challenge, the token flow with its
//! Bearer challenge, refused scopes and anonymous tokens, as docker-registry 2.8 answers them
//! (<https://distribution.github.io/distribution/spec/auth/token/>).

use super::*;

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
