//! Where credentials go when the registry is hostile: redirects to another port, a plain-HTTP
//! token realm, an HTTPS → HTTP redirect, broken challenges, token replies and JSON bodies.
//!
//! pulldoctor binds credentials to the origin (scheme, host and port) they are for and never
//! follows HTTPS to plain HTTP (src/registry/client.rs); the token flow is distribution's
//! (<https://distribution.github.io/distribution/spec/auth/token/>). Each test asserts, from the
//! hostile servers' own records, that no `Authorization` reached a server it was not for, and
//! that the verdict says what happened instead of blaming the password.

use super::*;

#[test]
fn hostile_redirect_to_another_port_keeps_authorization_home() {
    // The other server asks for credentials too: it must still get none.
    let other = Hostile::start(TlsMode::Plain, |req| {
        basic_gate(req).unwrap_or_else(|| Action::reply(200, &[], MANIFEST))
    });
    let elsewhere = other.port;
    let h = Hostile::start(TlsMode::Plain, move |req| {
        if let Some(a) = basic_gate(req) {
            return a;
        }
        match req.path.as_str() {
            "/v2/" => Action::reply(200, &[], "{}"),
            p => Action::redirect(307, &format!("http://127.0.0.1:{elsewhere}{p}")),
        }
    });
    let r = plain(&h, "redirect");
    // The password was never tried there: not "invalid credentials".
    r.assert_diagnosed(&["auth_required"]);
    assert!(r.evidence().contains("withheld"), "{}", r.evidence());
    assert!(
        h.seen().iter().any(|s| s.authorization),
        "the registry itself got the credentials: {:?}",
        h.seen()
    );
    let there = other.seen();
    assert!(!there.is_empty(), "the redirect was followed");
    assert!(there.iter().all(|s| s.port == elsewhere));
    assert!(
        there.iter().all(|s| !s.authorization),
        "Authorization followed the redirect: {there:?}"
    );
}

#[test]
fn hostile_token_realm_on_another_port_over_plain_http() {
    let pki = Pki::generate();
    // Like a real token server, it refuses anonymous callers and would take a password.
    let realm = Hostile::start(TlsMode::Plain, |req| {
        basic_gate(req).unwrap_or_else(|| {
            Action::reply(
                200,
                &[("Content-Type", "application/json")],
                r#"{"token":"hostile-token"}"#,
            )
        })
    });
    let challenge = format!(
        "Bearer realm=\"http://127.0.0.1:{}/token\",service=\"hostile\"",
        realm.port
    );
    let h = Hostile::start(TlsMode::Cert(pki.server.clone()), move |req| {
        // A token registry: only a bearer token opens it (a password sent to it is refused).
        match (req.path.as_str(), req.bearer) {
            (_, false) => Action::reply(401, &[("WWW-Authenticate", challenge.as_str())], ""),
            ("/v2/app/tags/list", true) => tags(),
            (_, true) => Action::reply(200, &[("Content-Type", OCI_MANIFEST)], MANIFEST),
        }
    });
    let r = over_tls(&h, &pki, "realm");
    r.assert_diagnosed(&["auth_required"]);
    // The realm may be asked anonymously, never with the user's password.
    assert!(r.evidence().contains("withheld"), "{}", r.evidence());
    let asked = realm.seen();
    assert!(
        asked.iter().all(|s| !s.authorization),
        "credentials went to a plain-HTTP realm: {asked:?}"
    );
}

/// Runs one scripted registry per variant and checks each ends diagnosed.
fn each_variant(name: &str, variants: &[&str], causes: &[&str], script: fn(&Seen, &str) -> Action) {
    for (i, v) in variants.iter().enumerate() {
        let variant = v.to_string();
        let h = Hostile::start(TlsMode::Plain, move |req| script(req, &variant));
        let r = plain(&h, &format!("{name}{i}"));
        println!("{name} variant {i} ({v:?}): {} in {:?}", r.cause(), r.wall);
        r.assert_diagnosed(causes);
        assert!(!h.seen().is_empty());
    }
}

#[test]
fn hostile_malformed_www_authenticate() {
    each_variant(
        "challenge",
        &[
            "Bearer realm=\"unterminated",
            "Bearer realm=,service=,,,=",
            "Basic",
            "Negotiate xyz",
            "\"Bearer\" realm",
            "Bearer realm=\"ftp://127.0.0.1:1/token\"",
            "Bearer realm=\"\\\"\\\\\\\"\"",
            ",,,,",
        ],
        &[
            "auth_required",
            "auth_invalid_credentials",
            "unknown",
            "registry_server_error",
        ],
        // The challenge never changes, whatever the client sends.
        |_, header| Action::reply(401, &[("WWW-Authenticate", header)], UNAUTHORIZED),
    );
}

const BAD_JSON: [&str; 6] = [
    "{",
    "[1,2",
    "{\"tags\":",
    "\u{0}\u{1}\u{2}",
    "null",
    "{\"schemaVersion\":\"two\",\"manifests\":7}",
];

#[test]
fn hostile_invalid_json_in_tags_and_index() {
    each_variant(
        "json",
        &BAD_JSON,
        &["registry_server_error", "unknown"],
        |req, body| {
            if let Some(a) = basic_gate(req) {
                return a;
            }
            match req.path.as_str() {
                "/v2/" => Action::reply(200, &[], body),
                "/v2/app/tags/list" => {
                    Action::reply(200, &[("Content-Type", "application/json")], body)
                }
                _ => index_then(
                    req,
                    Action::reply(200, &[("Content-Type", OCI_INDEX)], body),
                ),
            }
        },
    );
}

#[test]
fn hostile_invalid_json_from_the_token_server() {
    each_variant(
        "tokjson",
        &BAD_JSON,
        &["unknown", "registry_server_error"],
        |req, body| {
            if req.path.starts_with("/token") {
                return Action::reply(200, &[("Content-Type", "application/json")], body);
            }
            // A relative realm: the token server is the registry itself.
            Action::reply(
                401,
                &[(
                    "WWW-Authenticate",
                    "Bearer realm=\"/token\",service=\"hostile\"",
                )],
                UNAUTHORIZED,
            )
        },
    );
}

#[test]
fn hostile_wrong_content_types() {
    each_variant(
        "ctype",
        &[
            "text/html",
            "image/png",
            "application/json",
            "",
            "application/vnd.oci.image.index.v1+json",
        ],
        &[
            "registry_server_error",
            "unknown",
            "not_found_tag",
            "not_found",
        ],
        |req, ctype| {
            if let Some(a) = basic_gate(req) {
                return a;
            }
            match req.path.as_str() {
                "/v2/" => Action::reply(200, &[], "{}"),
                "/v2/app/tags/list" => tags(),
                _ => Action::reply(
                    200,
                    &[("Content-Type", ctype)],
                    "<html>not a manifest</html>",
                ),
            }
        },
    );
}

#[test]
fn hostile_token_reply_without_a_token() {
    let realm = Hostile::start(TlsMode::Plain, |_| {
        Action::reply(
            200,
            &[("Content-Type", "application/json")],
            r#"{"expires_in":300,"issued_at":"2026-01-01T00:00:00Z"}"#,
        )
    });
    let challenge = format!(
        "Bearer realm=\"http://127.0.0.1:{}/token\",service=\"hostile\"",
        realm.port
    );
    let h = Hostile::start(TlsMode::Plain, move |_| {
        Action::reply(
            401,
            &[("WWW-Authenticate", challenge.as_str())],
            UNAUTHORIZED,
        )
    });
    let r = plain(&h, "notoken");
    r.assert_diagnosed(&["unknown", "registry_server_error"]);
    assert!(
        r.evidence().contains("without `token`"),
        "the verdict says what the token server did: {}",
        r.evidence()
    );
    assert!(!realm.seen().is_empty(), "the realm was asked");
    // The registry never saw a bearer token because there was none.
    assert!(h.seen().iter().all(|s| !s.authorization), "{:?}", h.seen());
}

#[test]
fn hostile_https_redirect_to_plain_http_is_refused() {
    let pki = Pki::generate();
    let downstream = Hostile::start(TlsMode::Plain, |_| {
        Action::reply(200, &[("Content-Type", OCI_MANIFEST)], MANIFEST)
    });
    let plain_port = downstream.port;
    let h = Hostile::start(TlsMode::Cert(pki.server.clone()), move |req| {
        if let Some(a) = basic_gate(req) {
            return a;
        }
        match req.path.as_str() {
            "/v2/" => Action::reply(200, &[], "{}"),
            "/v2/app/tags/list" => tags(),
            p => Action::redirect(302, &format!("http://127.0.0.1:{plain_port}{p}")),
        }
    });
    let r = over_tls(&h, &pki, "downgrade");
    r.assert_diagnosed(&["registry_server_error", "unknown"]);
    assert!(
        r.evidence().contains("redirect to plain HTTP refused"),
        "the verdict names the downgrade: {}",
        r.evidence()
    );
    // Refused, not followed: the plain-HTTP server never heard from pulldoctor.
    assert!(downstream.seen().is_empty(), "{:?}", downstream.seen());
    assert!(h.seen().iter().any(|s| s.authorization));
}
