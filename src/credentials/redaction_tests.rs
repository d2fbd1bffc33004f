//! Every credential scenario run with a unique marker password: neither the marker nor any
//! base64 form of it may appear in anything this module returns (Debug, JSON, messages).

use super::dockerconfig::{self, Format};
use super::pod::tests::{account, b64, pod_input, secret};
use super::*;
use base64::Engine;

const MARKER: &str = "Mk7-zq9PXw-unique-marker";

fn forms() -> Vec<String> {
    let raw = base64::engine::general_purpose::STANDARD_NO_PAD;
    let mut out = vec![MARKER.to_string()];
    for plain in [
        MARKER.to_string(),
        format!("u:{MARKER}"),
        format!("u:{MARKER}\n"),
        format!("ci:{MARKER}"),
    ] {
        out.push(b64(&plain));
        out.push(raw.encode(&plain));
    }
    out
}

fn bodies() -> Vec<(&'static str, &'static str, String)> {
    let dcj = "kubernetes.io/dockerconfigjson";
    let k = ".dockerconfigjson";
    vec![
        (
            dcj,
            k,
            format!(
                r#"{{"auths":{{"reg.test":{{"username":"ci","password":"{MARKER}","auth":"{}"}}}}}}"#,
                b64(&format!("ci:{MARKER}"))
            ),
        ),
        (
            "kubernetes.io/dockercfg",
            ".dockercfg",
            format!(
                r#"{{"reg.test":{{"auth":"{}"}}}}"#,
                b64(&format!("u:{MARKER}"))
            ),
        ),
        (
            dcj,
            k,
            format!(r#"{{"auths":{{"reg.test":{{"auth":"u:{MARKER}"}}}}}}"#),
        ),
        (
            dcj,
            k,
            format!(r#"{{"auths":{{"reg.test":{{"auth":"{}"}}}}}}"#, b64(MARKER)),
        ),
        (
            dcj,
            k,
            format!(
                r#"{{"auths":{{"reg.test":{{"auth":"{}"}}}}}}"#,
                b64(&format!("u:{MARKER}\n"))
            ),
        ),
        (
            dcj,
            k,
            format!(
                r#"{{"auths":{{"reg.test":{{"password":"other","auth":"{}"}}}}}}"#,
                b64(&format!("u:{MARKER}"))
            ),
        ),
        (
            dcj,
            k,
            format!(
                r#"{{"auths":{{"reg.test":{{"password":"x","auth":"{}"}}}}}}"#,
                b64("u:y")
            )
            .replace("\"x\"", &format!("\"{MARKER}\"")),
        ),
        (
            dcj,
            k,
            format!("{{\"auths\":{{\"reg.test\":{{\"password\":\"{MARKER}\",}}}}"),
        ),
        (
            dcj,
            k,
            format!("{{\"auths\":{{\"reg.test\":{{\"password\":\"{MARKER}\"\n"),
        ),
        (
            "Opaque",
            k,
            format!(r#"{{"auths":{{"reg.test":{{"password":"{MARKER}","username":"u"}}}}}}"#),
        ),
        (
            dcj,
            ".dockercfg",
            format!(r#"{{"auths":{{"reg.test":{{"password":"{MARKER}","username":"u"}}}}}}"#),
        ),
        (
            dcj,
            k,
            format!(
                r#"{{"reg.test":{{"auth":"{}"}}}}"#,
                b64(&format!("u:{MARKER}"))
            ),
        ),
        (
            dcj,
            k,
            format!(
                r#"{{"auths":{{"reg.test":{{"username":"u","password":"{}"}}}}}}"#,
                MARKER.repeat(1000)
            ),
        ),
        (
            dcj,
            k,
            format!(
                r#"{{"auths":{{"reg.test":{{"identitytoken":"{MARKER}","registrytoken":"{MARKER}"}}}}}}"#
            ),
        ),
        (
            dcj,
            k,
            format!(r#"{{"auths":{{"reg.test":{{"username":1,"password":"{MARKER}"}}}}}}"#),
        ),
        (
            dcj,
            k,
            format!(
                r#"{{"auths":{{"reg.test":{{"password":"{MARKER}"}},"reg.test":{{"password":"{MARKER}","Password":"{MARKER}"}}}}}}"#
            ),
        ),
        (
            dcj,
            k,
            format!(r#"{{"auths":{{"reg.test":{{"password":["{MARKER}"]}}}}}}"#),
        ),
        (
            dcj,
            k,
            format!(
                r#"{{"auths":{{"reg.test":{{}}}},"credsStore":"desktop","HttpHeaders":{{"X":"{MARKER}"}}}}"#
            ),
        ),
        // A password in the key's userinfo: kubelet drops it, and so must every message.
        (
            dcj,
            k,
            format!(
                r#"{{"auths":{{"https://u:{MARKER}@reg.test":{{"username":"u","password":"p"}},"u:{MARKER}@reg.test:5000":{{}}}}}}"#
            ),
        ),
        (
            dcj,
            k,
            format!(
                r#"{{"auths":{{"oci://u:{MARKER}@reg.test":{{"username":"u","password":"p"}}}}}}"#
            ),
        ),
    ]
}

fn assert_clean(what: &str, text: &str) {
    for f in forms() {
        assert!(!text.contains(&f), "{what} leaks {f:?}: {text}");
    }
}

fn check(result: &ImageCredentials) {
    assert_clean("Debug", &format!("{result:?}"));
    assert_clean("JSON", &serde_json::to_string(result).unwrap());
    for f in &result.findings {
        assert_clean("message", &f.message);
        assert_clean("finding Debug", &format!("{f:?}"));
    }
    for t in &result.tries {
        assert_clean("credential", &format!("{t:?} {}", t.password));
    }
}

#[test]
fn no_scenario_leaks_the_password() {
    let images = [
        "reg.test/app",
        "reg.test:5000/app",
        "acme/app",
        "other.test/x",
    ];
    for (ty, key, body) in bodies() {
        let s = secret("shop", "regcred", ty, key, &body);
        let other = secret("infra", "regcred", ty, key, &body);
        let spare = secret("shop", "spare", ty, key, &body);
        let have = [s.clone(), spare.clone()];
        let sa = account("default", &["spare"], true);
        for image in images {
            let image = ImageRef::parse(image).unwrap();
            let mut input = pod_input(&["regcred", "missing"], &have);
            input.service_account = Fetched::Found(&sa);
            input.namespace_secrets = Some(vec![&s, &spare]);
            input.other_namespace_secrets = vec![&other];
            check(&for_image(&input, &image));
            let mut none = pod_input(&[], &have);
            none.namespace_secrets = Some(vec![&s, &spare]);
            check(&for_image(&none, &image));
            for format in [Format::ConfigJson, Format::Dockercfg] {
                let cfg = dockerconfig::decode(body.as_bytes(), format, "--authfile");
                assert_clean("DockerConfig Debug", &format!("{cfg:?}"));
                check(&for_image_from_config(&cfg, "--authfile", &image));
            }
        }
    }
}

#[test]
fn the_marker_really_is_in_the_scenarios() {
    // Guards the test above: the password does reach the credential it was put in.
    let (ty, key, body) = &bodies()[0];
    let have = [secret("shop", "regcred", ty, key, body)];
    let image = ImageRef::parse("reg.test/app").unwrap();
    let c = for_image(&pod_input(&["regcred"], &have), &image);
    assert_eq!(c.tries[0].password.expose(), MARKER);
}
