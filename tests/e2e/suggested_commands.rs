//! Pasting a suggested fix runs exactly what pulldoctor meant (issue 13), and `image` speaks to
//! its CI user (issue 12, item 5).
//!
//! Every command of the real binary's JSON report is run through a real `sh -c` with stub
//! `kubectl`, `jq`, `docker`, `sudo` and `crictl` first on `PATH`; each stub records its argv.
//! A test passes when the recorded argvs are exactly the ones the report states (`argv`), and
//! where a case is known, exactly the ones written out below; and when no payload ran (no
//! `PWNED` file). Hostile names come from the cluster, where `imagePullSecrets[].name` and
//! `ownerReferences` are not validated by the API server.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::scenario::{Scenario, dockerconfigjson, path, pod, pulldoctor};
use crate::support::kube_api::KubeApi;
use crate::support::{Auth, Registry, RegistryOptions, Tls};

/// Names a cluster can hold that a shell would run, split, expand or misread.
const HOSTILE: &[&str] = &[
    "regcred;touch${IFS}PWNED;#",
    "$(touch PWNED)",
    "`touch PWNED`",
    "a'; touch PWNED; echo '",
    "a\"$(touch PWNED)\"",
    "regcred\ntouch PWNED",
    "regcred|touch PWNED",
    "regcred&&touch PWNED",
    "x>PWNED",
    "--kubeconfig=PWNED",
    "-rf",
    "ｒｅｇｃｒｅｄ",
    "regсred",
    "regcred\u{202e}",
    "{a,b}",
    "!!",
];

/// A loopback image no test contacts (every run here but the CI ones is `--no-probe`).
const IMAGE: &str = "127.0.0.1:5999/app:1.0";

/// A shell whose `PATH` starts with recording stubs, in a directory of its own.
struct Shell {
    dir: tempfile::TempDir,
    log: PathBuf,
}

impl Shell {
    fn new() -> Shell {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        // Read stdin to its end first, so the stages of a pipeline record in order.
        let stub = "#!/bin/sh\ncat >/dev/null\n{ printf '%s\\0' \"${0##*/}\" \"$#\"; printf '%s\\0' \"$@\"; } >> \"$ARGV_LOG\"\necho '{}'\n";
        for name in ["kubectl", "jq", "docker", "sudo", "crictl"] {
            let p = bin.join(name);
            std::fs::write(&p, stub).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let log = dir.path().join("argv.log");
        Shell { dir, log }
    }

    fn work(&self) -> PathBuf {
        let w = self.dir.path().join("work");
        std::fs::create_dir_all(&w).unwrap();
        w
    }

    /// Runs `text` with `sh -c`; the argvs the stubs recorded, program name first.
    fn run(&self, text: &str) -> Vec<Vec<String>> {
        let _ = std::fs::remove_file(&self.log);
        let path = format!("{}:/usr/bin:/bin", self.dir.path().join("bin").display());
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(text)
            .current_dir(self.work())
            .env_clear()
            .env("PATH", path)
            .env("ARGV_LOG", &self.log)
            .stdin(Stdio::null())
            .output()
            .expect("run sh");
        assert!(
            out.status.success(),
            "sh -c failed on {text:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_no_payload(&self.work(), text);
        parse_log(&std::fs::read(&self.log).unwrap_or_default())
    }
}

/// The stubs' records: program, argument count, arguments, each NUL-terminated.
fn parse_log(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut fields = bytes
        .split(|b| *b == 0)
        .map(|f| String::from_utf8(f.to_vec()).unwrap());
    let mut out = Vec::new();
    while let Some(program) = fields.next() {
        if program.is_empty() {
            break;
        }
        let n: usize = fields.next().unwrap().parse().unwrap();
        let mut argv = vec![program];
        argv.extend(fields.by_ref().take(n));
        out.push(argv);
    }
    out
}

fn assert_no_payload(work: &Path, text: &str) {
    let names: Vec<String> = std::fs::read_dir(work)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.is_empty(), "pasting {text:?} created {names:?}");
}

/// Every fix anywhere in a report (verdicts, scan groups, per-pod entries), in order.
fn all_fixes(report: &Value) -> Vec<Value> {
    fn walk(v: &Value, out: &mut Vec<Value>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Array(fixes)) = m.get("fixes") {
                    out.extend(fixes.iter().cloned());
                }
                for (k, child) in m {
                    if k != "fixes" {
                        walk(child, out);
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(report, &mut out);
    out
}

/// Runs every command fix of the report; returns (fix, recorded argvs) per command.
fn run_commands(shell: &Shell, report: &Value) -> Vec<(Value, Vec<Vec<String>>)> {
    let mut out = Vec::new();
    for f in all_fixes(report) {
        if f["kind"] != "command" {
            continue;
        }
        let text = f["text"].as_str().unwrap();
        let recorded = shell.run(text);
        let stated: Vec<Vec<String>> = serde_json::from_value(f["argv"].clone())
            .unwrap_or_else(|e| panic!("command without argv ({e}): {f:#}"));
        assert_eq!(
            recorded, stated,
            "the shell ran another argv than the report states for {text:?}"
        );
        out.push((f.clone(), recorded));
    }
    out
}

fn note_text(report: &Value) -> String {
    all_fixes(report)
        .iter()
        .filter(|f| f["kind"] == "note")
        .map(|f| f["text"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn docker_denied(image: &str) -> String {
    let name = image.rsplit_once(':').map(|(n, _)| n).unwrap_or(image);
    format!(
        "Failed to pull image \"{image}\": rpc error: code = Unknown desc = Error response from daemon: pull access denied for {name}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied"
    )
}

fn argv(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

/// A pod naming a pull secret that does not exist gets the create command for it; with a
/// hostile name, a note naming the problem and no command holding any part of it.
#[test]
fn hostile_pull_secret_names_give_notes_not_commands() {
    let shell = Shell::new();
    for name in HOSTILE {
        let api = KubeApi::start();
        Scenario::new(IMAGE)
            .failed(&docker_denied(IMAGE))
            .pull_secret(name)
            .load(&api);
        let run = pod(&api, &["--no-probe"]);
        assert_eq!(run.code, 1, "{name:?}: {}", run.stderr);
        let report = run.json();
        for (fix, argvs) in run_commands(&shell, &report) {
            assert!(
                !argvs.iter().flatten().any(|w| w.contains(name)),
                "{name:?} reached a command: {fix:#}"
            );
        }
        let notes = note_text(&report);
        assert!(
            notes.contains("pull secret name") && notes.contains("is not a DNS-1123 subdomain"),
            "{name:?}: no note names the problem:\n{notes}"
        );
        assert!(
            notes.lines().all(|l| l.chars().all(|c| !c.is_control())),
            "{name:?}: a note holds a control character: {notes:?}"
        );
    }

    // A valid name: exactly the create command, as kubectl receives it.
    let api = KubeApi::start();
    Scenario::new(IMAGE)
        .failed(&docker_denied(IMAGE))
        .pull_secret("regcred.v2")
        .load(&api);
    let run = pod(&api, &["--no-probe"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let ran = run_commands(&shell, &run.json());
    let argvs: Vec<&Vec<String>> = ran.iter().flat_map(|(_, a)| a).collect();
    assert_eq!(
        argvs,
        vec![&argv(&[
            "kubectl",
            "create",
            "secret",
            "docker-registry",
            "regcred.v2",
            "-n",
            "shop",
            "--docker-server=127.0.0.1:5999",
            "--docker-username=<username>",
            "--docker-password=<password>",
        ])],
        "{:#}",
        run.json()
    );
}

/// The owner's patch, the service account's patch and `kubectl run --overrides` carry JSON in
/// quotes; the shell hands kubectl exactly that JSON. A hostile owner name spoils only the step
/// that would name it.
#[test]
fn json_patches_reach_kubectl_whole_and_hostile_owners_are_refused() {
    let shell = Shell::new();
    let secret = dockerconfigjson("shop", "aliyunregistry", "127.0.0.1:5999", "alice", "pw-x");
    let sa_patch = argv(&[
        "kubectl",
        "patch",
        "serviceaccount",
        "default",
        "-n",
        "shop",
        "-p",
        r#"{"imagePullSecrets":[{"name":"aliyunregistry"}]}"#,
    ]);

    let api = KubeApi::start();
    Scenario::new(IMAGE)
        .failed(&docker_denied(IMAGE))
        .owned_by("Deployment", "web")
        .secret(secret.clone())
        .load(&api);
    let run = pod(&api, &["--no-probe"]);
    let argvs: Vec<Vec<String>> = run_commands(&shell, &run.json())
        .into_iter()
        .flat_map(|(_, a)| a)
        .collect();
    assert_eq!(
        argvs,
        vec![
            argv(&[
                "kubectl",
                "patch",
                "deployment",
                "web",
                "-n",
                "shop",
                "--type=strategic",
                "-p",
                r#"{"spec":{"template":{"spec":{"imagePullSecrets":[{"name":"aliyunregistry"}]}}}}"#,
            ]),
            sa_patch.clone(),
        ],
        "{:#}",
        run.json()
    );

    // A pod without an owner: recreate it through jq, or start it again with kubectl run.
    let api = KubeApi::start();
    Scenario::new(IMAGE)
        .failed(&docker_denied(IMAGE))
        .secret(secret.clone())
        .load(&api);
    let run = pod(&api, &["--no-probe"]);
    let argvs: Vec<Vec<String>> = run_commands(&shell, &run.json())
        .into_iter()
        .flat_map(|(_, a)| a)
        .collect();
    assert_eq!(
        argvs,
        vec![
            argv(&["kubectl", "get", "pod", "web-0", "-n", "shop", "-o", "json"]),
            argv(&[
                "jq",
                r#".spec.imagePullSecrets += [{"name":"aliyunregistry"}]"#
            ]),
            argv(&["kubectl", "replace", "--force", "-f", "-"]),
            argv(&[
                "kubectl",
                "run",
                "web-0",
                "-n",
                "shop",
                &format!("--image={IMAGE}"),
                r#"--overrides={"spec":{"imagePullSecrets":[{"name":"aliyunregistry"}]}}"#,
            ]),
            sa_patch.clone(),
        ],
        "{:#}",
        run.json()
    );

    for name in HOSTILE {
        let api = KubeApi::start();
        Scenario::new(IMAGE)
            .failed(&docker_denied(IMAGE))
            .owned_by("Deployment", name)
            .secret(secret.clone())
            .load(&api);
        let run = pod(&api, &["--no-probe"]);
        assert_eq!(run.code, 1, "{name:?}: {}", run.stderr);
        let report = run.json();
        for (fix, argvs) in run_commands(&shell, &report) {
            assert!(
                !argvs.iter().flatten().any(|w| w.contains(name)),
                "{name:?} reached a command: {fix:#}"
            );
        }
        let notes = note_text(&report);
        assert!(
            notes.contains("is not a DNS-1123 subdomain"),
            "{name:?}: no note names the problem:\n{notes}\n{report:#}"
        );
    }
}

/// `scan -A` over a snapshot whose namespace names are hostile (a snapshot holds whatever was
/// typed into it): no command carries the namespace, a note names it.
#[test]
fn hostile_namespaces_in_a_snapshot_scan() {
    let shell = Shell::new();
    let dir = tempfile::tempdir().unwrap();
    for ns in HOSTILE {
        let uid = "0b7e6a52-1d0e-4c2a-9a57-3f1e2d4c5b6a";
        let mut items = vec![
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-1"},
                "status": {"nodeInfo": {"architecture": "amd64", "operatingSystem": "linux",
                    "containerRuntimeVersion": "containerd://1.7.24", "kubeletVersion": "v1.30.4",
                    "bootID": "", "kernelVersion": "", "kubeProxyVersion": "", "machineID": "",
                    "osImage": "", "systemUUID": ""}}}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": ns}}),
            json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": "web-0", "namespace": ns, "uid": uid},
                "spec": {"containers": [{"name": "app", "image": IMAGE}],
                    "imagePullSecrets": [{"name": "regcred"}], "nodeName": "node-1",
                    "serviceAccountName": "default"},
                "status": {"phase": "Pending", "containerStatuses": [{"name": "app",
                    "image": IMAGE, "imageID": "", "ready": false, "restartCount": 0,
                    "state": {"waiting": {"reason": "ImagePullBackOff",
                        "message": format!("Back-off pulling image \"{IMAGE}\"")}}}]}}),
        ];
        items.push(json!({"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "web-0.0001", "namespace": ns},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "name": "web-0",
                "namespace": ns, "uid": uid, "fieldPath": "spec.containers{app}"},
            "reason": "Failed", "message": docker_denied(IMAGE), "type": "Warning", "count": 3,
            "source": {"component": "kubelet", "host": "node-1"}}));
        let file = dir.path().join("cluster.json");
        let list = json!({"apiVersion": "v1", "kind": "List", "items": items});
        std::fs::write(&file, list.to_string()).unwrap();
        let run = pulldoctor(&[
            "scan",
            "-A",
            "--snapshot",
            path(&file),
            "--no-probe",
            "-o",
            "json",
        ]);
        assert_eq!(run.code, 1, "{ns:?}: {}\n{}", run.stdout, run.stderr);
        let report = run.json();
        assert!(
            !all_fixes(&report).is_empty(),
            "{ns:?}: no fixes: {report:#}"
        );
        for (fix, argvs) in run_commands(&shell, &report) {
            assert!(
                !argvs.iter().flatten().any(|w| w.contains(ns)),
                "{ns:?} reached a command: {fix:#}"
            );
        }
        let notes = note_text(&report);
        assert!(
            notes.contains("The namespace") && notes.contains("is not a DNS-1123 label"),
            "{ns:?}: no note names the problem:\n{notes}\n{report:#}"
        );
    }
}

/// A CI check with a wrong `--creds` is told to correct `--creds`, never to create a secret
/// named `--creds`, and reads no node or kubelet words; its one command is the registry's own
/// login, run exactly.
#[test]
fn image_speaks_to_the_ci_user() {
    let marker = "pw-ci-audience-3d7e";
    let reg = Registry::start(RegistryOptions {
        tls: Tls::Valid,
        auth: Auth::htpasswd("alice", marker),
    });
    reg.seed_fixtures();
    let image = format!("{}/app:1.0", reg.host);
    let ca = path(&reg.pki.ca_file).to_string();
    let shell = Shell::new();
    let cluster_words = [
        "kubectl",
        "kubelet",
        "node",
        "secret docker-registry",
        "daemonset",
    ];
    let check_words = |run: &crate::scenario::Run| {
        let v = run.verdict();
        let fixes = v["fixes"].to_string().to_lowercase();
        for w in cluster_words {
            assert!(!fixes.contains(w), "`image` advice speaks of {w:?}:\n{v:#}");
        }
        // The credential line says what pulldoctor sends (other lines quote shared findings).
        let evidence = v["evidence"].to_string();
        assert!(!evidence.contains("kubelet would try"), "{v:#}");
        v
    };

    let bad = "alice:pw-wrong-guess-9e2b";
    let run = pulldoctor(&[
        "image",
        &image,
        "--creds",
        bad,
        "--ca-file",
        &ca,
        "-o",
        "json",
    ]);
    run.assert_no_leak("alice", marker);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let v = check_words(&run);
    assert_eq!(v["cause"], "auth_invalid_credentials", "{v:#}");
    let notes = note_text(&run.json());
    assert!(notes.contains("given with --creds"), "{notes}");
    let argvs: Vec<Vec<String>> = run_commands(&shell, &run.json())
        .into_iter()
        .flat_map(|(_, a)| a)
        .collect();
    assert_eq!(argvs, vec![argv(&["docker", "login", &reg.host])]);

    // No CA given: the advice is the flag that gives it.
    let creds = format!("alice:{marker}");
    let run = pulldoctor(&["image", &image, "--creds", &creds, "-o", "json"]);
    run.assert_no_leak("alice", marker);
    let v = check_words(&run);
    assert_eq!(v["cause"], "tls_unknown_authority", "{v:#}");
    assert!(note_text(&run.json()).contains("--ca-file"), "{v:#}");

    // An authfile with the key for another port: rename the key in that file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    let other = format!("127.0.0.1:{}", reg.port() as u32 + 1);
    let body =
        serde_json::json!({"auths": {other.clone(): {"auth": crate::scenario::b64(&creds)}}});
    std::fs::write(&file, body.to_string()).unwrap();
    let run = pulldoctor(&[
        "image",
        &image,
        "--authfile",
        path(&file),
        "--ca-file",
        &ca,
        "-o",
        "json",
    ]);
    run.assert_no_leak("alice", marker);
    let v = check_words(&run);
    assert_eq!(v["cause"], "auth_required", "{v:#}");
    let notes = note_text(&run.json());
    assert!(
        notes.contains(&format!("rename that key to {}", reg.host)) && notes.contains(path(&file)),
        "{notes}"
    );
}
