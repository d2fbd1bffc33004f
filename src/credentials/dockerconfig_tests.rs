//! Decoding tests: both body shapes, every field rule, every way a body can be broken.

use super::*;
use base64::Engine;

fn ids(cfg: &DockerConfig) -> Vec<FindingId> {
    cfg.findings.iter().map(|f| f.id).collect()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn kubectl_create_secret_docker_registry_body() {
    // The shape `kubectl create secret docker-registry` writes.
    let body = format!(
        r#"{{"auths":{{"reg.example.test:5000":{{"username":"ci","password":"pw1","email":"ci@example.test","auth":"{}"}}}}}}"#,
        b64("ci:pw1")
    );
    let cfg = decode(body.as_bytes(), Format::ConfigJson, "shop/regcred");
    assert!(cfg.findings.is_empty(), "{:?}", cfg.findings);
    assert_eq!(cfg.entries.len(), 1);
    let e = &cfg.entries[0];
    assert_eq!(e.key, "reg.example.test:5000");
    assert_eq!(e.username, "ci");
    assert_eq!(e.password.expose(), "pw1");
}

#[test]
fn legacy_dockercfg_flat_map() {
    let body = format!(
        r#"{{"https://index.docker.io/v1/":{{"auth":"{}","email":"x@y.test"}}}}"#,
        b64("hubuser:hubpw")
    );
    let cfg = decode(body.as_bytes(), Format::Dockercfg, "shop/old");
    assert!(cfg.findings.is_empty(), "{:?}", cfg.findings);
    assert_eq!(cfg.entries[0].username, "hubuser");
    assert_eq!(cfg.entries[0].password.expose(), "hubpw");
}

#[test]
fn auth_overrides_username_and_password_and_disagreement_is_reported() {
    let body = format!(
        r#"{{"auths":{{"r.test":{{"username":"alice","password":"old","auth":"{}"}}}}}}"#,
        b64("bob:new")
    );
    let cfg = decode(body.as_bytes(), Format::ConfigJson, "ns/s");
    assert_eq!(cfg.entries[0].username, "bob");
    assert_eq!(cfg.entries[0].password.expose(), "new");
    assert_eq!(
        ids(&cfg),
        vec![FindingId::AuthDisagrees, FindingId::AuthDisagrees]
    );
    assert!(cfg.findings[0].message.contains("alice") && cfg.findings[0].message.contains("bob"));
    assert!(!cfg.findings[1].message.contains("old") && !cfg.findings[1].message.contains("new"));
}

#[test]
fn fields_match_case_insensitively_like_go() {
    let body = r#"{"Auths":{"r.test":{"Username":"u","PASSWORD":"p"}}}"#;
    let cfg = decode(body.as_bytes(), Format::ConfigJson, "ns/s");
    assert_eq!(cfg.entries[0].username, "u");
    assert_eq!(cfg.entries[0].password.expose(), "p");
}

#[test]
fn auth_padded_unpadded_and_wrapped_all_decode() {
    assert_eq!(
        decode_auth("dXNlcjpwYXNz"),
        Ok(("user".into(), "pass".into()))
    );
    // "user:pa" needs padding; accepted with and without it.
    assert_eq!(
        decode_auth("dXNlcjpwYQ=="),
        Ok(("user".into(), "pa".into()))
    );
    assert_eq!(decode_auth("dXNlcjpwYQ"), Ok(("user".into(), "pa".into())));
    // Line-wrapped base64 (76 columns) decodes, as Go skips newlines.
    let long = format!("user:{}", "x".repeat(100));
    let wrapped: String = b64(&long)
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap().to_string() + "\n")
        .collect();
    assert_eq!(decode_auth(&wrapped).unwrap().1, "x".repeat(100));
    // Only the password may hold colons.
    assert_eq!(decode_auth(&b64("u:p:q")), Ok(("u".into(), "p:q".into())));
}

#[test]
fn auth_not_base64_breaks_the_keyring() {
    let body = r#"{"auths":{"r.test":{"auth":"user:secretpw"}}}"#;
    let cfg = decode(body.as_bytes(), Format::ConfigJson, "ns/s");
    assert_eq!(ids(&cfg), vec![FindingId::AuthNotBase64]);
    assert!(cfg.breaks_keyring());
    assert!(cfg.findings[0].message.contains("plain user:password"));
    assert!(!cfg.findings[0].message.contains("secretpw"));
    assert!(cfg.entries.is_empty());
    assert_eq!(
        decode_auth("not base64!"),
        Err(AuthError::NotBase64 { looks_plain: false })
    );
}

#[test]
fn auth_without_colon_breaks_the_keyring() {
    let body = format!(
        r#"{{"auths":{{"r.test":{{"auth":"{}"}}}}}}"#,
        b64("justatoken")
    );
    let cfg = decode(body.as_bytes(), Format::ConfigJson, "ns/s");
    assert_eq!(ids(&cfg), vec![FindingId::AuthNoColon]);
    assert!(cfg.breaks_keyring());
}

#[test]
fn echo_pipe_base64_leaves_a_trailing_newline() {
    // `echo user:pass | base64` → dXNlcjpwYXNzCg==
    let body = r#"{"auths":{"r.test":{"auth":"dXNlcjpwYXNzCg=="}}}"#;
    let cfg = decode(body.as_bytes(), Format::ConfigJson, "ns/s");
    assert_eq!(ids(&cfg), vec![FindingId::TrailingNewline]);
    assert_eq!(cfg.entries[0].password.expose(), "pass\n");
    assert!(!cfg.breaks_keyring());
    assert!(cfg.findings[0].message.contains("echo -n"));
}

#[test]
fn unparsable_json_says_where() {
    let body = b"{\n  \"auths\": {\n    \"r.test\": {\"auth\": \"abc\"\n  }\n";
    let cfg = decode(body, Format::ConfigJson, "ns/s");
    assert_eq!(ids(&cfg), vec![FindingId::UnparsableJson]);
    assert!(cfg.breaks_keyring());
    let msg = &cfg.findings[0].message;
    assert!(msg.contains("line 5"), "{msg}");
    assert_eq!(cfg.findings[0].secret.as_deref(), Some("ns/s"));
}

#[test]
fn non_string_fields_are_type_errors_that_break_the_keyring() {
    for (body, path) in [
        (
            r#"{"auths":{"r.test":{"username":123,"password":"p"}}}"#,
            "auths[\"r.test\"].username",
        ),
        (r#"{"auths":["r.test"]}"#, "auths"),
        (
            r#"{"auths":{"r.test":"dXNlcjpwYXNz"}}"#,
            "auths[\"r.test\"]",
        ),
        (r#"["r.test"]"#, "the document"),
        (
            r#"{"auths":{},"HttpHeaders":{"X":1}}"#,
            "HttpHeaders[\"X\"]",
        ),
    ] {
        let cfg = decode(body.as_bytes(), Format::ConfigJson, "ns/s");
        assert_eq!(ids(&cfg), vec![FindingId::WrongJsonType], "{body}");
        assert!(
            cfg.findings[0].message.starts_with(path),
            "{}",
            cfg.findings[0].message
        );
        assert!(cfg.breaks_keyring());
    }
    // Unknown fields of any type are ignored, as in Go; null leaves a field empty.
    let cfg = decode(
        br#"{"auths":{"r.test":{"username":"u","password":null,"extra":[1,2],"auth":null}}}"#,
        Format::ConfigJson,
        "ns/s",
    );
    assert!(!cfg.breaks_keyring());
    assert_eq!(cfg.entries[0].username, "u");
}

#[test]
fn dockercfg_body_inside_dockerconfigjson_gives_nothing() {
    let body = format!(r#"{{"reg.example.test":{{"auth":"{}"}}}}"#, b64("u:p"));
    let cfg = decode(body.as_bytes(), Format::ConfigJson, "ns/s");
    assert!(cfg.entries.is_empty());
    assert_eq!(ids(&cfg), vec![FindingId::DockercfgInDockerconfigjson]);
    assert_eq!(cfg.findings[0].key.as_deref(), Some("reg.example.test"));
}

#[test]
fn dockerconfigjson_body_inside_dockercfg_is_reported() {
    let body = format!(
        r#"{{"auths":{{"reg.example.test":{{"auth":"{}"}}}}}}"#,
        b64("u:p")
    );
    let cfg = decode(body.as_bytes(), Format::Dockercfg, "ns/s");
    assert!(ids(&cfg).contains(&FindingId::DockerconfigjsonInDockercfg));
    // Kubelet reads "auths" as a registry with empty credentials.
    assert_eq!(cfg.entries.len(), 1);
    assert_eq!(cfg.entries[0].key, "auths");
    assert!(cfg.entries[0].username.is_empty());
}

#[test]
fn duplicate_keys_last_one_wins() {
    let body = r#"{"auths":{"r.test":{"username":"first","password":"a"},"r.test":{"username":"second","password":"b"}}}"#;
    let cfg = decode(body.as_bytes(), Format::ConfigJson, "ns/s");
    assert_eq!(cfg.entries.len(), 1);
    assert_eq!(cfg.entries[0].username, "second");
    assert_eq!(ids(&cfg), vec![FindingId::DuplicateJsonKey]);
    // The overridden value's errors still break the keyring, as Go decodes it first.
    let body = r#"{"auths":{"r.test":{"username":1},"r.test":{"username":"u","password":"p"}}}"#;
    let cfg = decode(body.as_bytes(), Format::ConfigJson, "ns/s");
    assert!(cfg.breaks_keyring());
    let body = r#"{"auths":{"r.test":{},"r.test":{"username":"u","password":"p"}}}"#;
    let cfg = decode(body.as_bytes(), Format::ConfigJson, "ns/s");
    assert_eq!(ids(&cfg), vec![FindingId::DuplicateJsonKey]);
    let dup_field = r#"{"auths":{"r.test":{"username":"a","Username":"b","password":"p"}}}"#;
    let cfg = decode(dup_field.as_bytes(), Format::ConfigJson, "ns/s");
    assert_eq!(cfg.entries[0].username, "b");
    assert_eq!(ids(&cfg), vec![FindingId::DuplicateJsonKey]);
}

#[test]
fn huge_values_are_findings_not_crashes() {
    let big = "x".repeat(20_000);
    let body = format!(r#"{{"auths":{{"r.test":{{"username":"u","password":"{big}"}}}}}}"#);
    let cfg = decode(body.as_bytes(), Format::ConfigJson, "ns/s");
    assert_eq!(ids(&cfg), vec![FindingId::HugeValue]);
    assert!(!cfg.findings[0].message.contains(&big[..100]));
    let blob = format!(r#"{{"auths":{{"{}":{{}}}}}}"#, "k".repeat(2 * 1024 * 1024));
    let cfg = decode(blob.as_bytes(), Format::ConfigJson, "ns/s");
    assert!(ids(&cfg).contains(&FindingId::HugeValue));
    assert!(cfg.findings.iter().all(|f| f.message.len() < 400));
}

#[test]
fn empty_entries_and_ignored_tokens() {
    let cfg = decode(br#"{"auths":{"r.test":{}}}"#, Format::ConfigJson, "ns/s");
    assert_eq!(ids(&cfg), vec![FindingId::EmptyCredentials]);
    let cfg = decode(
        br#"{"auths":{"r.test":{"identitytoken":"tok"}}}"#,
        Format::ConfigJson,
        "ns/s",
    );
    assert_eq!(ids(&cfg), vec![FindingId::TokenIgnored]);
    assert_eq!(
        cfg.entries[0].identity_token.as_ref().unwrap().expose(),
        "tok"
    );
}

#[test]
fn docker_desktop_config_with_creds_store_carries_no_passwords() {
    let body = br#"{"auths":{"https://index.docker.io/v1/":{},"r.test":{}},"credsStore":"desktop","credHelpers":{"gcr.io":"gcloud"}}"#;
    let cfg = decode(body, Format::ConfigJson, "ns/s");
    assert_eq!(cfg.creds_store.as_deref(), Some("desktop"));
    assert_eq!(
        cfg.cred_helpers,
        vec![("gcr.io".to_string(), "gcloud".to_string())]
    );
    assert!(ids(&cfg).contains(&FindingId::CredentialHelperOnly));
}

#[test]
fn truncated_and_mutated_bodies_never_panic() {
    let good = format!(
        r#"{{"auths":{{"reg.test:5000/team":{{"username":"u","password":"p","auth":"{}","identitytoken":"t"}}}},"credsStore":"x"}}"#,
        b64("u:p")
    );
    let bytes = good.as_bytes();
    for cut in 0..bytes.len() {
        for format in [Format::ConfigJson, Format::Dockercfg] {
            let _ = decode(&bytes[..cut], format, "ns/s");
            let mut flipped = bytes.to_vec();
            flipped[cut] ^= 0x55;
            let _ = decode(&flipped, format, "ns/s");
        }
    }
}

#[test]
fn repeated_auths_merge_and_null_clears_like_go_maps() {
    let body = r#"{"auths":{"a.test":{"username":"a","password":"p"}},"Auths":{"b.test":{"username":"b","password":"p"}}}"#;
    let cfg = decode(body.as_bytes(), Format::ConfigJson, "ns/s");
    let keys: Vec<&str> = cfg.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, vec!["a.test", "b.test"]);
    assert_eq!(ids(&cfg), vec![FindingId::DuplicateJsonKey]);
    let body = r#"{"auths":{"a.test":{"username":"a","password":"p"}},"auths":null}"#;
    let cfg = decode(body.as_bytes(), Format::ConfigJson, "ns/s");
    assert!(cfg.entries.is_empty());
}

#[test]
fn docker_sections_are_not_mistaken_for_registries() {
    let body = br#"{"proxies":{"default":{"httpProxy":"http://proxy.test:3128"}},"plugins":{}}"#;
    let cfg = decode(body, Format::ConfigJson, "ns/s");
    assert!(cfg.findings.is_empty(), "{:?}", cfg.findings);
}

#[test]
fn a_secret_with_tens_of_thousands_of_keys_decodes() {
    // Near the 1 MiB limit; every key is also repeated once, so duplicate detection is busy.
    let mut body = String::from("{\"auths\":{");
    for i in 0..30_000 {
        body.push_str(&format!(
            "\"r{i}.test\":{{}},\"r{i}.test\":{{\"username\":\"u\"}},"
        ));
    }
    body.push_str("\"last.test\":{}}}");
    let cfg = decode(body.as_bytes(), Format::ConfigJson, "ns/s");
    assert_eq!(cfg.entries.len(), 30_001);
    assert!(!cfg.breaks_keyring());
    // Matching and the near-miss search over all of them finish too.
    let image = crate::reference::ImageRef::parse("r7.test:5000/app").unwrap();
    let c = crate::credentials::for_image_from_config(&cfg, "ns/s", &image);
    assert!(c.anonymous);
    assert_eq!(c.findings[0].id, FindingId::KeyPortMismatch);
}
