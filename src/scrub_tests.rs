//! Unit tests of the scrubber: every form of a secret goes, ordinary text stays.

use super::*;
use base64::engine::general_purpose::STANDARD;

#[test]
fn every_form_of_a_password_is_masked() {
    let s = Scrubber::of(&["hunter2 +/?marker", "alice:hunter2 +/?marker"]);
    let b64 = |t: &str| STANDARD.encode(t);
    for text in [
        "hunter2 +/?marker".to_string(),
        "hunter2%20%2B%2F%3Fmarker".to_string(),
        "hunter2+%2B%2F%3Fmarker".to_string(),
        b64("hunter2 +/?marker"),
        format!("Basic {}", b64("alice:hunter2 +/?marker")),
    ] {
        let out = s.scrub(&format!("registry said: {text}."));
        assert!(out.contains(MASK), "{text} → {out}");
        assert!(!out.contains("hunter2"), "{out}");
    }
}

#[test]
fn any_spelling_of_percent_encoding_is_masked() {
    let s = Scrubber::of(&["pass word/+x"]);
    // Space only encoded, lower-case hex, `/` left alone: no form lists it, decoding finds it.
    let out = s.scrub("login failed for p%61ss%20word/%2bx at 100%");
    assert_eq!(out, "login failed for (redacted) at 100%");
    assert_eq!(s.scrub("50% off, p%2"), "50% off, p%2");
}

#[test]
fn base64_at_every_alignment_inside_a_longer_string() {
    let secret = "s3cr3t-marker-value";
    let s = Scrubber::of(&[secret]);
    for prefix in ["", "a", "ab", "abc", "{\"password\":\""] {
        let encoded = STANDARD.encode(format!("{prefix}{secret}\"}}"));
        let out = s.scrub(&encoded);
        assert!(out.contains(MASK), "prefix {prefix:?}: {encoded} → {out}");
        // What is left cannot be decoded back to the secret.
        let left: String = out.replace(MASK, "");
        assert!(left.len() < encoded.len() - 8, "{out}");
    }
}

#[test]
fn short_secrets_and_ordinary_text_survive() {
    let s = Scrubber::of(&["pw", "alice:pw"]);
    assert_eq!(s.scrub("the password is wrong"), "the password is wrong");
    assert!(s.scrub(&STANDARD.encode("alice:pw")).contains(MASK));
}

#[test]
fn urls_lose_userinfo_and_query() {
    assert_eq!(
        clean_urls("redirect to https://u:p@reg.test/v2/x?token=abc#f, then"),
        "redirect to https://(redacted)@reg.test/v2/x?(query withheld)#f, then"
    );
    assert_eq!(
        clean_urls("see http://u:p/ss#x@reg.test/v2/ now"),
        "see http://(redacted)@reg.test/v2/ now"
    );
    assert_eq!(
        clean_urls("HTTPS://reg.test/v2/ and plain text"),
        "HTTPS://reg.test/v2/ and plain text"
    );
    assert_eq!(clean_urls("no url here"), "no url here");
}

#[test]
fn parser_messages_lose_quoted_values() {
    let m = "invalid type: string \"eyJhdXRocyI6e30=\\\"x\", expected a map at line 3";
    assert_eq!(
        without_quoted_values(m),
        "invalid type: string \"…\", expected a map at line 3"
    );
    assert_eq!(
        without_quoted_values("unknown field `auths`, expected `data`"),
        "unknown field `auths`, expected `data`"
    );
}

#[test]
fn userinfo_of_image_references_is_remembered_but_digests_are_not() {
    remember_reference_userinfo("ref-user:ref/pass@w0rd@127.0.0.1:5000/app:1");
    remember_reference_userinfo("127.0.0.1:5000/app@sha256:0123456789abcdef");
    let s = current();
    assert_eq!(
        s.scrub("127.0.0.1:5000/app@sha256:0123456789abcdef"),
        "127.0.0.1:5000/app@sha256:0123456789abcdef"
    );
    assert_eq!(
        s.scrub("pull ref-user:ref/pass@w0rd@127.0.0.1:5000/app:1 failed"),
        "pull (redacted)@127.0.0.1:5000/app:1 failed"
    );
    assert_eq!(s.scrub("ref/pass@w0rd"), MASK);
}

#[test]
fn remembered_secrets_reach_the_current_scrubber() {
    remember("remembered-marker-42");
    remember_pair("bob", "pair-marker-43");
    let s = current();
    assert_eq!(s.scrub("x remembered-marker-42 y"), "x (redacted) y");
    let basic = STANDARD.encode("bob:pair-marker-43");
    assert!(!s.scrub(&basic).contains(&basic[..12]));
}

#[test]
fn thousands_of_secrets_in_one_pass() {
    // A cluster-wide scan may decode a secret per namespace; all are masked in one pass.
    let secrets: Vec<String> = (0..2000).map(|i| format!("scan-secret-{i:05}-x")).collect();
    let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    let started = std::time::Instant::now();
    let s = Scrubber::of(&refs);
    let built = started.elapsed();
    let text: String = secrets
        .iter()
        .step_by(10)
        .map(|p| format!("denied {p} and {}; ", STANDARD.encode(format!("u:{p}"))))
        .collect();
    let out = s.scrub(&text);
    println!(
        "2000 secrets: built in {built:?}, scrubbed {} bytes in {:?}",
        text.len(),
        started.elapsed() - built
    );
    assert!(!out.contains("scan-secret-"), "{out}");
    // Each of the 200 appears twice: as written, and inside base64 of `u:secret`.
    assert_eq!(out.matches(MASK).count(), 400, "{out}");
}
