//! Secrets never shown, whoever echoes them, on the cluster side: a Secret whose `data` is a
//! string (serde quotes it), docker config keys and image references written with
//! `user:password@`, a failing kubeconfig `exec` plugin, and an API server echoing the
//! kubeconfig's own credentials.
//!
//! Every test runs the real binary in every format at `-v` and `-vv` (`every_way.rs`) and
//! decodes all it printed, on stdout and stderr, looking for the secret in any encoding.

use serde_json::json;

use super::every_way::{Way, assert_hidden, every_way};
use super::secrets::{assert_code, json_evidence, password};
use super::*;
use crate::scenario::{Scenario, b64, dockerconfigjson, path};
use crate::support::kube_api::KubeApi;

#[test]
fn hostile_secret_whose_data_is_a_string() {
    let pw = password("strdata");
    let config = json!({"auths": {"127.0.0.1:5000": {"username": "u", "password": pw,
        "auth": b64(&format!("u:{pw}"))}}});
    let encoded = b64(&config.to_string());
    for field in ["data", "stringData"] {
        let value = if field == "data" {
            encoded.clone()
        } else {
            config.to_string()
        };
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": "regcred", "namespace": "shop"}, field: value});
        // From a snapshot file, and from an API server that serves such an object.
        let dir = tempfile::tempdir().unwrap();
        let snapshot = dir.path().join("snap.json");
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-0", "namespace": "shop"},
            "spec": {"containers": [{"name": "app", "image": "127.0.0.1:5000/app:1"}],
                "imagePullSecrets": [{"name": "regcred"}]}});
        let list = json!({"apiVersion": "v1", "kind": "List", "items": [pod, secret]});
        std::fs::write(&snapshot, list.to_string()).unwrap();
        let args: Vec<String> = ["pod", "web-0", "-n", "shop", "--no-probe", "--snapshot"]
            .iter()
            .map(|s| s.to_string())
            .chain([path(&snapshot).to_string()])
            .collect();
        let ways = every_way(&args, None, &[]);
        assert_code(&ways, 2);
        assert_hidden(&ways, &pw);
        assert_hidden(&ways, &encoded[8..40]);
        println!("{field} as a string, in a snapshot: {}", ways[0].stderr);
        assert!(
            ways[0].stderr.contains("Secret shop/regcred"),
            "{}",
            ways[0].stderr
        );

        // An API server validates `stringData` on write; a hostile one can still serve `data`.
        if field != "data" {
            continue;
        }
        let api = KubeApi::start();
        Scenario::new("127.0.0.1:5000/app:1")
            .pull_secret("regcred")
            .secret(secret.clone())
            .load(&api);
        let kc = api.kubeconfig();
        let args: Vec<String> = ["pod", "web-0", "-n", "shop", "--no-probe", "--kubeconfig"]
            .iter()
            .map(|s| s.to_string())
            .chain([path(&kc).to_string()])
            .collect();
        let ways = every_way(&args, None, &[]);
        assert_code(&ways, 2);
        println!(
            "{field} as a string, from the API server: {}",
            ways[0].stderr
        );
        assert_hidden(&ways, &pw);
        assert_hidden(&ways, &encoded[8..40]);
    }
}

/// `pulldoctor pod web-0 --no-probe` against the API server, every way.
fn pod_every_way(api: &KubeApi) -> Vec<Way> {
    let kc = api.kubeconfig();
    let args: Vec<String> = ["pod", "web-0", "-n", "shop", "--no-probe", "--kubeconfig"]
        .iter()
        .map(|s| s.to_string())
        .chain([path(&kc).to_string()])
        .collect();
    every_way(&args, None, &[])
}

#[test]
fn hostile_keys_whose_userinfo_holds_slash_hash_or_question_mark() {
    let api = KubeApi::start();
    let pw_key = marker("keypw");
    // Unescaped `/`, `#` and `?` end the authority for a URL parser, not for the writer, so
    // kubelet cannot parse these keys and pulldoctor says so, naming each key.
    let keys = [
        format!("https://ci:{pw_key}/a@127.0.0.1:5000"),
        format!("ci:{pw_key}#b@127.0.0.1:5000/v2/"),
        format!("http://ci:{pw_key}?c@127.0.0.1:5000"),
    ];
    let image = "127.0.0.1:5000/app:1";
    let mut scenario = Scenario::new(image).failed(&format!(
        "Failed to pull image \"{image}\": rpc error: code = Unknown desc = failed to resolve reference \"{image}\": unexpected status from HEAD request to https://{image}/v2/app/manifests/1: 401 Unauthorized"
    ));
    for (i, key) in keys.iter().enumerate() {
        let name = format!("regcred{i}");
        let secret = dockerconfigjson("shop", &name, key, "ci", &marker("entry"));
        scenario = scenario.pull_secret(&name).secret(secret);
    }
    scenario.load(&api);
    let ways = pod_every_way(&api);
    assert_code(&ways, 1);
    assert_hidden(&ways, &pw_key);
    // Each key is still named, without its userinfo.
    let evidence = json_evidence(&ways);
    assert_eq!(
        evidence.matches("(redacted)@127.0.0.1:5000").count(),
        keys.len(),
        "{evidence}"
    );
}

#[test]
fn hostile_image_references_written_with_a_password() {
    let api = KubeApi::start();
    let pw_ref = marker("refpw");
    let image = format!("bob:{pw_ref}@127.0.0.1:5000/app:1");
    Scenario::new(&image)
        .failed(&format!(
            "Failed to apply default image tag \"{image}\": couldn't parse image name \"{image}\": invalid reference format"
        ))
        .load(&api);
    let ways = pod_every_way(&api);
    assert_code(&ways, 1);
    assert_hidden(&ways, &pw_ref);
    // The command line's own references: one that parses as a digest, one that does not.
    let ways = every_way(
        &[
            "image".to_string(),
            format!("alice:{pw_ref}@127.0.0.1:1/app:1"),
            format!("alice:{pw_ref}/x@127.0.0.1:1/app:1"),
            "--no-probe".into(),
        ],
        None,
        &[],
    );
    assert_code(&ways, 1);
    assert_hidden(&ways, &pw_ref);
}

#[test]
fn hostile_kubeconfig_exec_plugin_output_is_not_copied() {
    let api = KubeApi::start();
    Scenario::new("127.0.0.1:5000/app:1").load(&api);
    let token = marker("exectok");
    let dir = tempfile::tempdir().unwrap();
    let credential = json!({"apiVersion": "client.authentication.k8s.io/v1",
        "kind": "ExecCredential", "status": {"token": token}});
    // Fails after printing the credential; prints it broken; prints it as a bare string.
    let outputs = [
        (credential.to_string(), 1),
        (
            format!("{{\"kind\": \"ExecCredential\", \"status\": {{\"token\": \"{token}\""),
            0,
        ),
        (format!("\"{token}\""), 0),
    ];
    let kubeconfig = std::fs::read_to_string(api.kubeconfig()).unwrap();
    for (i, (stdout, code)) in outputs.iter().enumerate() {
        let plugin = dir.path().join(format!("plugin{i}.sh"));
        let printed = dir.path().join(format!("out{i}"));
        std::fs::write(&printed, stdout).unwrap();
        std::fs::write(
            &plugin,
            format!("#!/bin/sh\ncat '{}'\nexit {code}\n", printed.display()),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let exec = format!(
            "exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: {}\n      args: [\"--token-arg={token}\"]\n      env: [{{name: PLUGIN_SECRET, value: \"{token}\"}}]\n      interactiveMode: Never",
            plugin.display()
        );
        let kc = dir.path().join(format!("kubeconfig{i}"));
        let text = kubeconfig.replace(
            &format!("token: {}", crate::support::kube_api::TOKEN),
            &exec,
        );
        assert_ne!(text, kubeconfig, "the kubeconfig's user was replaced");
        std::fs::write(&kc, text).unwrap();
        let args: Vec<String> = ["pod", "web-0", "-n", "shop", "--no-probe", "--kubeconfig"]
            .iter()
            .map(|s| s.to_string())
            .chain([path(&kc).to_string()])
            .collect();
        let ways = every_way(&args, None, &[]);
        assert_code(&ways, 2);
        assert_hidden(&ways, &token);
        // The error still names the plugin as the culprit.
        println!("plugin {i}: {}", ways[0].stderr);
        assert!(
            ways[0].stderr.contains("exec plugin"),
            "plugin {i}: {}",
            ways[0].stderr
        );
    }
}

#[test]
fn hostile_api_server_echoing_the_kubeconfig_token_and_password() {
    let token = marker("kubetok");
    let password = marker("kubepw");
    let cases = [
        (
            format!("token: {token}"),
            format!("Bearer {token}"),
            token.clone(),
        ),
        (
            format!("username: admin\n    password: {password}"),
            format!("Basic {}", b64(&format!("admin:{password}"))),
            password.clone(),
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, (user, header, secret)) in cases.into_iter().enumerate() {
        // A plain-HTTP API server that refuses everything, quoting the caller's credentials.
        let api = Hostile::start(TlsMode::Plain, move |_| {
            let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                "reason": "Forbidden", "code": 403,
                "message": format!("forbidden: Authorization: {header}")});
            Action::reply(
                403,
                &[("Content-Type", "application/json")],
                status.to_string(),
            )
        });
        let kc = dir.path().join(format!("kubeconfig{i}"));
        std::fs::write(
            &kc,
            format!(
                "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: h\n  cluster:\n    server: http://{}\nusers:\n- name: u\n  user:\n    {user}\ncontexts:\n- name: c\n  context:\n    cluster: h\n    user: u\n    namespace: shop\n",
                api.host()
            ),
        )
        .unwrap();
        let args: Vec<String> = [
            "pod",
            "web-0",
            "--no-probe",
            "--timeout",
            "3",
            "--kubeconfig",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([path(&kc).to_string()])
        .collect();
        let ways = every_way(&args, None, &[]);
        assert_code(&ways, 2);
        assert!(ways[0].stderr.contains("forbidden"), "{}", ways[0].stderr);
        assert_hidden(&ways, &secret);
        assert!(
            api.seen().iter().all(|s| s.authorization),
            "{:?}",
            api.seen()
        );
    }
}
