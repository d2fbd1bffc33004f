//! A test kubelet: runs the pods the API test server creates on its node as local processes,
//! the way kubelet would run them in containers, so `pod --from-node` is tested end to end.
//!
//! For a pod bound to its node (`spec.nodeName`), it does what kubelet does, in order
//! (<https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle/>): the image is pulled
//! (an image the test refuses leaves the pod `Pending` with `ErrImagePull`, as a failed pull
//! does); volumes are mounted — each `hostPath` is the same path under the fixture node root,
//! each secret volume the Secret's keys written as files (an absent `optional` secret an empty
//! directory), all under a scratch directory that plays the container's filesystem; the
//! container's command runs with the binary under test standing in for the image, its
//! absolute-path arguments taken inside that filesystem, only the container's own environment,
//! and the node's network: a [`NetNs`] where only paths the test opens lead anywhere. The phase
//! goes `Pending` → `Running` → `Succeeded`/`Failed` (exit code in `terminated`), the log is
//! the process's stderr then stdout, `activeDeadlineSeconds` kills it (`DeadlineExceeded`),
//! and deleting the pod kills it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use super::kube_api::{KubeApi, PodEvent, Pods};
use super::netns::NetNs;

/// What the kubelet did with one pod.
#[derive(Debug, Clone)]
pub struct Ran {
    /// `namespace/name`.
    pub pod: String,
    /// The arguments the process got (paths inside the scratch filesystem).
    pub args: Vec<String>,
    /// The environment it got.
    pub env: Vec<(String, String)>,
    /// Exit code; None when killed.
    pub exit: Option<i32>,
}

#[derive(Default)]
struct Shared {
    /// Images whose pull fails on the node, with the runtime's message.
    unpullable: BTreeMap<String, String>,
    /// Pods are left `Pending` (a node too busy to start them).
    hold: bool,
    running: BTreeMap<String, Arc<Mutex<Child>>>,
    ran: Vec<Ran>,
}

/// One node's kubelet; stops with the API server's channel.
pub struct Kubelet {
    /// The node's name (`spec.nodeName` of the pods it runs).
    pub node: String,
    /// The node's network.
    pub net: Arc<NetNs>,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    _scratch: tempfile::TempDir,
}

impl Drop for Kubelet {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for (_, c) in std::mem::take(&mut self.shared.lock().unwrap().running) {
            let _ = c.lock().unwrap().kill();
        }
        self.net.close();
    }
}

impl Kubelet {
    /// Runs pods for `node`, whose files are under `root`.
    pub fn start(api: &KubeApi, node: &str, root: &Path) -> Kubelet {
        let (pods, events) = api.subscribe_pods();
        let net = Arc::new(NetNs::new());
        let shared = Arc::new(Mutex::new(Shared::default()));
        let scratch = tempfile::tempdir().expect("scratch");
        let ctx = Context {
            node: node.to_string(),
            root: root.to_path_buf(),
            scratch: scratch.path().to_path_buf(),
            net: net.clone(),
            shared: shared.clone(),
            pods,
        };
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(event) = events.recv_timeout(Duration::from_millis(50)) else {
                    continue;
                };
                match event {
                    PodEvent::Created(pod) => {
                        let ctx = ctx.clone();
                        std::thread::spawn(move || ctx.run(&pod));
                    }
                    PodEvent::Deleted { namespace, name } => {
                        let key = format!("{namespace}/{name}");
                        let child = ctx.shared.lock().unwrap().running.remove(&key);
                        if let Some(c) = child {
                            let _ = c.lock().unwrap().kill();
                        }
                    }
                }
            }
        });
        Kubelet {
            node: node.to_string(),
            net,
            shared,
            stop,
            _scratch: scratch,
        }
    }

    /// Pulls of `image` fail on this node with the runtime's `message`.
    pub fn refuse_image(&self, image: &str, message: &str) {
        let mut s = self.shared.lock().unwrap();
        s.unpullable.insert(image.to_string(), message.to_string());
    }

    /// Pods stay `Pending` from now on.
    pub fn hold(&self) {
        self.shared.lock().unwrap().hold = true;
    }

    /// Every pod process started so far.
    pub fn ran(&self) -> Vec<Ran> {
        self.shared.lock().unwrap().ran.clone()
    }

    /// Pods still running now.
    pub fn running(&self) -> usize {
        self.shared.lock().unwrap().running.len()
    }
}

#[derive(Clone)]
struct Context {
    node: String,
    root: PathBuf,
    scratch: PathBuf,
    net: Arc<NetNs>,
    shared: Arc<Mutex<Shared>>,
    pods: Pods,
}

impl Context {
    fn run(&self, pod: &Value) {
        let ns = pod["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
        if pod["spec"]["nodeName"].as_str() != Some(self.node.as_str()) {
            return;
        }
        let c = &pod["spec"]["containers"][0];
        let cname = c["name"].as_str().unwrap_or("");
        let image = c["image"].as_str().unwrap_or("");
        let (held, refused) = {
            let s = self.shared.lock().unwrap();
            (s.hold, s.unpullable.get(image).cloned())
        };
        if held {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
        if let Some(message) = refused {
            let waiting = json!({"reason": "ErrImagePull", "message": message});
            self.pods.set_status(
                &ns,
                &name,
                status("Pending", cname, image, json!({"waiting": waiting})),
            );
            return;
        }
        let fs = self.scratch.join(format!("{ns}-{name}"));
        std::fs::create_dir_all(&fs).unwrap();
        if !self.mount(pod, &ns, &fs) {
            return;
        }
        let args: Vec<String> = c["args"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(|a| {
                if a.starts_with('/') {
                    format!("{}{a}", fs.display())
                } else {
                    a.to_string()
                }
            })
            .collect();
        let env: Vec<(String, String)> = c["env"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                let k = e["name"].as_str().unwrap_or("").to_string();
                (k, e["value"].as_str().unwrap_or("").to_string())
            })
            .collect();
        let out = fs.join("..stdout");
        let err = fs.join("..stderr");
        let child = self
            .net
            .command(&binary())
            .args(&args)
            .env_clear()
            .envs(env.iter().cloned())
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .current_dir(&fs)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("start the pod's process");
        let child = Arc::new(Mutex::new(child));
        let key = format!("{ns}/{name}");
        self.shared
            .lock()
            .unwrap()
            .running
            .insert(key.clone(), child.clone());
        let started = json!({"running": {"startedAt": "2026-12-05T00:00:01Z"}});
        self.pods
            .set_status(&ns, &name, status("Running", cname, image, started));
        let deadline = pod["spec"]["activeDeadlineSeconds"]
            .as_u64()
            .map(|s| Instant::now() + Duration::from_secs(s));
        let (exit, over) = loop {
            if let Ok(Some(st)) = child.lock().unwrap().try_wait() {
                break (st.code(), false);
            }
            if deadline.is_some_and(|d| Instant::now() > d) {
                let _ = child.lock().unwrap().kill();
                break (None, true);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let log = format!(
            "{}{}",
            std::fs::read_to_string(&err).unwrap_or_default(),
            std::fs::read_to_string(&out).unwrap_or_default()
        );
        self.pods.set_log(&ns, &name, &log);
        let mut s = self.shared.lock().unwrap();
        s.running.remove(&key);
        s.ran.push(Ran {
            pod: key,
            args,
            env,
            exit,
        });
        drop(s);
        let mut st = match (over, exit) {
            (true, _) => {
                let mut st = status(
                    "Failed",
                    cname,
                    image,
                    json!({"terminated": {"exitCode": 137, "reason": "Error"}}),
                );
                st["reason"] = json!("DeadlineExceeded");
                st["message"] =
                    json!("Pod was active on the node longer than the specified deadline");
                st
            }
            (false, Some(0)) => status(
                "Succeeded",
                cname,
                image,
                json!({"terminated": {"exitCode": 0, "reason": "Completed"}}),
            ),
            (false, code) => status(
                "Failed",
                cname,
                image,
                json!({"terminated": {"exitCode": code.unwrap_or(137), "reason": "Error"}}),
            ),
        };
        st["hostIP"] = json!("127.0.0.1");
        self.pods.set_status(&ns, &name, st);
    }

    /// Mounts the pod's volumes in its scratch filesystem; false when kubelet would not start
    /// the container (a missing, non-optional secret or an unknown volume).
    fn mount(&self, pod: &Value, ns: &str, fs: &Path) -> bool {
        let volumes: BTreeMap<&str, &Value> = pod["spec"]["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| Some((v["name"].as_str()?, v)))
            .collect();
        let mounts = pod["spec"]["containers"][0]["volumeMounts"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for m in mounts {
            let at = fs.join(
                m["mountPath"]
                    .as_str()
                    .unwrap_or("")
                    .trim_start_matches('/'),
            );
            let Some(v) = m["name"].as_str().and_then(|n| volumes.get(n)) else {
                return false;
            };
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            if let Some(host) = v["hostPath"]["path"].as_str() {
                let source = self.root.join(host.trim_start_matches('/'));
                std::os::unix::fs::symlink(source, &at).unwrap();
            } else if let Some(secret) = v.get("secret") {
                let sname = secret["secretName"].as_str().unwrap_or("");
                std::fs::create_dir_all(&at).unwrap();
                match self.pods.get("secrets", ns, sname) {
                    Some(s) => {
                        for (k, b) in s["data"].as_object().into_iter().flatten() {
                            let bytes = base64::engine::general_purpose::STANDARD
                                .decode(b.as_str().unwrap_or(""))
                                .unwrap_or_default();
                            std::fs::write(at.join(k), bytes).unwrap();
                        }
                    }
                    None if secret["optional"] == true => {}
                    None => return false,
                }
            } else {
                return false;
            }
        }
        true
    }
}

/// A pod status with one container in `state`.
fn status(phase: &str, container: &str, image: &str, state: Value) -> Value {
    json!({"phase": phase, "qosClass": "BestEffort",
        "containerStatuses": [{"name": container, "image": image, "imageID": "",
            "ready": phase == "Running", "restartCount": 0, "state": state}]})
}

/// The binary under test, standing in for the probe image (the examples that share this
/// support code are built without it: theirs is the debug build's).
fn binary() -> String {
    option_env!("CARGO_BIN_EXE_pulldoctor")
        .map(str::to_string)
        .unwrap_or_else(|| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/debug/pulldoctor").to_string()
        })
}
