//! Words that must match what happened: a TLS handshake that timed out proves nothing about
//! either trust store, and a certificate naming an address as a DNS name needs an IP SAN.
//!
//! Go's crypto/x509 (and rustls, webpki) match an IP address only against IP SANs
//! (<https://pkg.go.dev/crypto/x509#Certificate.VerifyHostname>), so `DNS:127.0.0.1` does not
//! cover `https://127.0.0.1`, whatever the names look like.

use super::*;

#[test]
fn hostile_tls_handshake_that_times_out_tests_no_trust() {
    let pki = Pki::generate();
    // Reads the ClientHello and never answers it.
    let h = Hostile::start(TlsMode::Plain, |_| Action::Silent);
    let r = over_tls(&h, &pki, "tls-silent");
    r.assert_diagnosed(&["network_unreachable"]);
    let evidence = r.evidence();
    assert!(!evidence.contains("works"), "{evidence}");
    assert!(
        evidence.contains("supplied CA untested") && evidence.contains("system roots untested"),
        "{evidence}"
    );
}

#[test]
fn hostile_an_address_named_only_as_a_dns_san_needs_an_ip_san() {
    let pki = Pki::generate();
    let cert = pki.issue_dns_only("dns-ip", &["127.0.0.1"]);
    let h = Hostile::start(TlsMode::Cert(cert), |_| Action::reply(200, &[], "{}"));
    let r = over_tls(&h, &pki, "dns-ip");
    r.assert_diagnosed(&["tls_hostname_mismatch"]);
    let evidence = r.evidence();
    assert!(
        !evidence.contains("valid for 127.0.0.1, not 127.0.0.1"),
        "{evidence}"
    );
    assert!(
        evidence.contains("names 127.0.0.1 only as a DNS name")
            && evidence.contains("IP SAN (subjectAltName IP:127.0.0.1)"),
        "{evidence}"
    );
}
