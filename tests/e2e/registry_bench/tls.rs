//! The TLS failures a node meets, produced by real certificates and seen as rustls reports
//! them through reqwest (<https://docs.rs/rustls/latest/rustls/enum.CertificateError.html>):
//! unknown CA, wrong name, expired, protocol mismatch, and mutual TLS.

use super::*;

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
    // Go's TLS server (docker-registry 2.8, Go 1.19) sends `bad_certificate`, not TLS 1.3's
    // `certificate_required`, when the client sends no certificate.
    assert_eq!(
        *tls,
        TlsError::AlertReceived(rustls::AlertDescription::BadCertificate)
    );

    // A client certificate from another CA is refused the same way.
    let stranger = Pki::generate();
    let other_ca = http_client(Trust::CaWithClientCert(&reg.pki, &stranger.client), TIMEOUT);
    let err = other_ca
        .get(format!("{}/v2/", reg.url()))
        .send()
        .await
        .expect_err("client certificate from an unknown CA");
    let tls = rustls_error(&err).unwrap_or_else(|| panic!("{}", error_chain(&err)));
    assert_eq!(
        *tls,
        TlsError::AlertReceived(rustls::AlertDescription::BadCertificate)
    );

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
