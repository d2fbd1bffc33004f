//! Unit tests of `classify` on shapes the corpus test does not pin one by one.

use super::*;

#[test]
fn kubelet_event_with_rpc_wrapper() {
    let s = classify(
        Some("Failed"),
        r#"Failed to pull image "127.0.0.1:5000/app:1.0": rpc error: code = Unknown desc = failed to pull and unpack image "127.0.0.1:5000/app:1.0": failed to resolve reference "127.0.0.1:5000/app:1.0": failed to do request: Head "https://127.0.0.1:5000/v2/app/manifests/1.0": http: server gave HTTP response to HTTPS client"#,
    );
    assert_eq!(s.cause, Cause::HttpToHttps);
    assert_eq!(s.family, Family::Protocol);
    assert_eq!(s.runtime, Runtime::Containerd);
    assert_eq!(s.image.as_deref(), Some("127.0.0.1:5000/app:1.0"));
    assert_eq!(s.registry.as_deref(), Some("127.0.0.1:5000"));
    assert_eq!(s.repository.as_deref(), Some("app"));
    assert_eq!(s.reference.as_deref(), Some("1.0"));
    assert_eq!(
        s.url.as_deref(),
        Some("https://127.0.0.1:5000/v2/app/manifests/1.0")
    );
    assert!(s.meaning.contains("127.0.0.1:5000"), "{}", s.meaning);
}

#[test]
fn old_code_2_and_escaped_klog_line() {
    let s = classify(
        None,
        r#"E0101 00:00:00.000000 1 remote_image.go:1] "PullImage from image service failed" err="rpc error: code = 2 desc = failed to pull and unpack image \"r.test/a:1\": failed to resolve reference \"r.test/a:1\": r.test/a:1: not found" image="r.test/a:1""#,
    );
    assert_eq!(s.cause, Cause::NotFound);
    assert_eq!(s.image.as_deref(), Some("r.test/a:1"));
}

#[test]
fn token_server_certificate_is_reported_not_the_registry() {
    let s = classify(
        Some("Failed"),
        r#"Failed to pull image "r.test/a:1": failed to pull and unpack image "r.test/a:1": failed to resolve reference "r.test/a:1": failed to authorize: failed to fetch anonymous token: Get "https://auth.r.test/token?scope=repository%3Aa%3Apull&service=r.test": tls: failed to verify certificate: x509: certificate signed by unknown authority"#,
    );
    assert_eq!(s.cause, Cause::TlsUnknownAuthority);
    assert_eq!(s.cert_host.as_deref(), Some("auth.r.test"));
    assert_eq!(s.registry.as_deref(), Some("r.test"));
    assert!(
        s.meaning.contains("token server auth.r.test"),
        "{}",
        s.meaning
    );
}

#[test]
fn backoff_with_inner_error_and_backoff_alone() {
    let s = classify(
        Some("ImagePullBackOff"),
        r#"Back-off pulling image "nginx:nope": ErrImagePull: failed to pull and unpack image "docker.io/library/nginx:nope": failed to resolve reference "docker.io/library/nginx:nope": docker.io/library/nginx:nope: not found"#,
    );
    assert_eq!(s.cause, Cause::NotFoundTag);
    assert_eq!(s.image.as_deref(), Some("nginx:nope"));
    let s = classify(Some("BackOff"), r#"Back-off pulling image "nginx:nope""#);
    assert_eq!(s.cause, Cause::Unknown);
    assert_eq!(s.reference.as_deref(), Some("nope"));
    assert!(is_pull_failure(&s));
}

#[test]
fn reasons_decide_where_text_cannot() {
    assert_eq!(
        classify(Some("ErrImageNeverPull"), "").cause,
        Cause::NeverPull
    );
    assert_eq!(
        classify(Some("InvalidImageName"), "x").cause,
        Cause::InvalidReference
    );
    assert_eq!(
        classify(Some("FailedToRetrieveImagePullSecret"), "").cause,
        Cause::PullSecretMissing
    );
    assert_eq!(
        classify(Some("Failed"), "Error: ErrImagePull").cause,
        Cause::Unknown
    );
}

#[test]
fn garbage_is_unknown_and_never_panics() {
    let big = "a".repeat(10 * 1024 * 1024);
    let s = classify(None, &big);
    assert_eq!(s.cause, Cause::Unknown);
    assert!(s.message.len() <= text::MAX_ANALYSED);
    let binary =
        String::from_utf8_lossy(&[0xff, 0x00, 0xfe, b'\\', b'"', 0x80, b'\n']).into_owned();
    assert_eq!(classify(None, &binary).cause, Cause::Unknown);
    assert_eq!(classify(None, "").cause, Cause::Unknown);
    for s in [
        "\\",
        "\"",
        "Failed to pull image \"",
        "image=\"",
        "https://",
        "manifest for ",
        "reading manifest x in",
        "x509: certificate is valid for ",
        "é:403 Forbidden",
        "lookup ",
        "dial tcp ",
    ] {
        let _ = classify(Some(s), s);
    }
    assert!(!is_pull_failure(&classify(None, "hello world")));
    // A wrap inside a token longer than any reference is not rejoined, at any length.
    let long = format!("Get https://r.test/v2/{}", "abcd\n".repeat(13_000));
    assert!(!classify(None, &long).message.is_empty());
    assert!(!text::normalise(&long).contains("abcdabcd".repeat(200).as_str()));
}

#[test]
fn serialises_stable_ids() {
    let s = classify(
        None,
        "Error response from daemon: toomanyrequests: You have reached your pull rate limit.",
    );
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["cause"], "rate_limited");
    assert_eq!(json["family"], "limits");
    assert_eq!(json["runtime"], "docker");
    assert_eq!(json["error_code"], "TOOMANYREQUESTS");
    assert!(json.get("cert_names").is_none());
}

/// A cheap, deterministic stand-in for the fuzz targets: every prefix of some awkward messages,
/// and pseudo-random byte soup built from the phrases the scanner knows.
#[test]
fn prefixes_and_phrase_soup_never_panic() {
    let samples = [
        r#"E0920 10:00:37.381343 1 remote_image.go:171] "PullImage from image service failed" err="rpc error: code = Unknown desc = failed to pull and unpack image \"r.test/a:1\": failed to resolve reference \"r.test/a:1\": failed to do request: Head \"https://r.test/v2/a/manifests/1\": x509: certificate is valid for é.test, b.test, not r.test" image="r.test/a:1""#,
        "Failed to pull image \"x\": [rpc error: code = Unknown desc = Error response from daemon: Get https://h.test/v2/: received unexpected HTTP status: 503 Service Unavailable, rpc error: code = 2 desc = reading manifest 1 in h.test/x: manifest unknown]",
        "  Warning  Failed  1s (x2 over 3s)  kubelet, n  Failed to pull image \"a\": repository a/b not found: 404 Not Found",
    ];
    for s in samples {
        for (i, _) in s.char_indices() {
            let _ = classify(Some("Failed"), &s[..i]);
            let _ = classify(None, &s[i..]);
            let _ = symptoms_from_text(&s[..i]);
        }
    }
    let words = [
        "Failed to pull image ",
        "\"",
        "\\\"",
        ": ",
        "https://",
        "x509: ",
        "certificate is valid for ",
        ", not ",
        "lookup ",
        "dial tcp ",
        "403",
        " Forbidden",
        "repository ",
        " not found",
        "é",
        "reading manifest ",
        " in ",
        "image=\"",
        "\n",
        "Type Reason Age From Message\n",
        "Warning Failed ",
        "(x2 over 1s) ",
        "State: Waiting\n",
        "Reason: ErrImagePull\n",
        "Message: ",
        "LAST SEEN TYPE REASON OBJECT MESSAGE\n",
        "image pull secrets (",
        ")",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..3000 {
        let mut text = String::new();
        for _ in 0..(seed % 12) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            text.push_str(words[(seed % words.len() as u64) as usize]);
        }
        let s = classify(None, &text);
        assert_eq!(s.family, s.cause.family());
        assert!(symptoms_from_text(&text).len() <= text.lines().count().max(1));
    }
}

#[test]
fn detail_stops_at_the_next_log_attribute_and_sentences_are_capitalised() {
    let s = classify(
        None,
        r#"E1 x] "PullImage from image service failed" err="rpc error: code = Unknown desc = unable to retrieve auth token: invalid username/password: unauthorized" image="r.test/a:1""#,
    );
    assert_eq!(s.cause, Cause::AuthInvalidCredentials);
    assert_eq!(
        s.detail.as_deref(),
        Some("invalid username/password: unauthorized")
    );
    let s = classify(
        None,
        "failed to fetch oauth token: unexpected status: 401 Unauthorized",
    );
    assert!(s.meaning.starts_with("The registry"), "{}", s.meaning);
    let s = classify(
        None,
        "Get https://127.0.0.1:5000/v2/: http: server gave HTTP response to HTTPS client",
    );
    assert_eq!(s.registry.as_deref(), Some("127.0.0.1:5000"));
    assert!(
        s.meaning.starts_with("127.0.0.1:5000 answers plain HTTP"),
        "{}",
        s.meaning
    );
}
