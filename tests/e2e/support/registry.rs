//! A real registry for one test: Debian's `docker-registry` (CNCF distribution 2.8) started on
//! 127.0.0.1:0, in plain HTTP or TLS, with no auth, htpasswd (bcrypt) or token auth.
//!
//! It reproduces the registries nodes pull from (<https://distribution.github.io/distribution/about/configuration/>):
//! the process is the real server, configured through its YAML file; only the certificates,
//! the htpasswd file and the token server are made by the test. The port is read from the
//! registry's own log line `listening on 127.0.0.1:PORT` (plus `, tls` in TLS mode). Storage
//! lives in a temporary directory, and the process is killed when the `Registry` is dropped.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tempfile::TempDir;

use super::client::Trust;
use super::pki::{CertPair, Pki};
use super::token::{TokenOptions, TokenServer};

/// How the registry speaks on its port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tls {
    /// Plain HTTP.
    Plain,
    /// TLS with a certificate for `127.0.0.1` and `localhost`, issued by the test CA.
    Valid,
    /// TLS with a certificate naming only `registry.wrong.test`.
    WrongName,
    /// TLS with a certificate that expired on 2021-01-01.
    Expired,
    /// Like `Valid`, and the registry demands a client certificate issued by the test CA.
    Mutual,
}

/// Who the registry lets in.
#[derive(Clone)]
pub enum Auth {
    /// Anyone: `GET /v2/` answers 200.
    None,
    /// `auth.htpasswd` with one bcrypt entry: `Basic realm="pulldoctor-test"` challenges.
    Htpasswd { user: String, password: String },
    /// `auth.token` with a token server from the bench (started with the registry).
    Token(TokenOptions),
}

/// Names the user, never the password.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Htpasswd { user, .. } => {
                write!(f, "Htpasswd {{ user: {user:?}, password: <redacted> }}")
            }
            Auth::Token(options) => write!(f, "Token({options:?})"),
        }
    }
}

impl Auth {
    /// Htpasswd with this user and password.
    pub fn htpasswd(user: &str, password: &str) -> Auth {
        Auth::Htpasswd {
            user: user.to_string(),
            password: password.to_string(),
        }
    }

    /// Token auth whose token server accepts this user and password.
    pub fn token(user: &str, password: &str) -> Auth {
        Auth::Token(TokenOptions::new(user, password))
    }
}

/// How to start a registry.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    pub tls: Tls,
    pub auth: Auth,
}

/// The realm an htpasswd registry names in its challenge.
pub const BASIC_REALM: &str = "pulldoctor-test";

/// A running `docker-registry` process and everything it was given.
pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// The CA file a client needs to trust the registry (None for plain HTTP).
    pub ca_file: Option<PathBuf>,
    /// The CA and certificates of this registry (generated in every mode; the token server
    /// and mutual TLS use it too).
    pub pki: Pki,
    /// The token server, in `Auth::Token` mode.
    pub token: Option<TokenServer>,
    pub options: RegistryOptions,
    log: Arc<Mutex<Vec<String>>>,
    child: Child,
    _dir: TempDir,
}

impl Registry {
    /// Writes the config, starts the registry and waits for its `listening on` log line.
    ///
    /// Panics (the test fails) when the binary is missing or the registry does not come up
    /// within 30 s, with the registry's log in the message.
    pub fn start(options: RegistryOptions) -> Registry {
        let dir = tempfile::Builder::new()
            .prefix("pulldoctor-registry-")
            .tempdir()
            .expect("create registry temp dir");
        let pki = Pki::generate();
        let token = match &options.auth {
            Auth::Token(token_options) => Some(TokenServer::start(&pki, token_options.clone())),
            _ => None,
        };
        let config = config_yaml(dir.path(), &pki, &options, token.as_ref());
        let config_file = dir.path().join("config.yml");
        fs::write(&config_file, config).expect("write config.yml");

        let mut child = Command::new(registry_binary())
            .arg("serve")
            .arg(&config_file)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn docker-registry (install it with: apt-get install docker-registry)");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        drain(
            child.stdout.take().expect("stdout"),
            log.clone(),
            tx.clone(),
        );
        drain(child.stderr.take().expect("stderr"), log.clone(), tx);

        let port = wait_for_port(&rx, &mut child, &log);
        let ca_file = (options.tls != Tls::Plain).then(|| pki.ca_file.clone());
        Registry {
            host: format!("127.0.0.1:{port}"),
            ca_file,
            pki,
            token,
            options,
            log,
            child,
            _dir: dir,
        }
    }

    /// `https://127.0.0.1:PORT` or `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        let scheme = if self.options.tls == Tls::Plain {
            "http"
        } else {
            "https"
        };
        format!("{scheme}://{}", self.host)
    }

    /// The port the registry listens on.
    pub fn port(&self) -> u16 {
        self.host
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("port")
    }

    /// The user and password the registry (or its token server) accepts, if it has auth.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        match &self.options.auth {
            Auth::None => None,
            Auth::Htpasswd { user, password } => Some((user, password)),
            Auth::Token(t) => Some((&t.user, &t.password)),
        }
    }

    /// The client certificate a `Tls::Mutual` registry accepts (issued by the test CA).
    pub fn client_cert(&self) -> &CertPair {
        &self.pki.client
    }

    /// What the bench itself (seeding, the fault proxy) trusts to reach this registry: the CA,
    /// with the client certificate in mutual TLS, and anything for the wrong-name and expired
    /// modes, which exist to be refused by the code under test, not by the bench.
    pub fn bench_trust(&self) -> Trust<'_> {
        match self.options.tls {
            Tls::Plain | Tls::Valid => Trust::Ca(&self.pki),
            Tls::Mutual => Trust::CaWithClientCert(&self.pki, &self.pki.client),
            Tls::WrongName | Tls::Expired => Trust::AnyCertificate,
        }
    }

    /// Every log line the registry wrote so far (stdout and stderr interleaved).
    pub fn log(&self) -> Vec<String> {
        self.log.lock().expect("registry log").clone()
    }

    /// The log once it has stopped growing (its lines arrive through a pipe), at most 3 s on.
    pub fn settled_log(&self) -> Vec<String> {
        let started = std::time::Instant::now();
        let mut last = self.log().len();
        loop {
            std::thread::sleep(Duration::from_millis(150));
            let now = self.log().len();
            if now == last || started.elapsed() > Duration::from_secs(3) {
                return self.log();
            }
            last = now;
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `/usr/bin/docker-registry` when present, else whatever `docker-registry` is on PATH.
fn registry_binary() -> PathBuf {
    let debian = Path::new("/usr/bin/docker-registry");
    if debian.exists() {
        debian.to_path_buf()
    } else {
        PathBuf::from("docker-registry")
    }
}

fn config_yaml(
    dir: &Path,
    pki: &Pki,
    options: &RegistryOptions,
    token: Option<&TokenServer>,
) -> String {
    let data = dir.join("data");
    let mut yaml = format!(
        "version: 0.1\n\
         log:\n  level: info\n  formatter: text\n\
         storage:\n  filesystem:\n    rootdirectory: {data:?}\n  delete:\n    enabled: true\n\
         \x20 maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: 127.0.0.1:0\n  secret: pulldoctor-test-only-secret\n"
    );
    let pair = match options.tls {
        Tls::Plain => None,
        Tls::Valid | Tls::Mutual => Some(&pki.server),
        Tls::WrongName => Some(&pki.wrong_name),
        Tls::Expired => Some(&pki.expired),
    };
    if let Some(pair) = pair {
        yaml += &format!(
            "  tls:\n    certificate: {:?}\n    key: {:?}\n",
            pair.cert_file, pair.key_file
        );
        if options.tls == Tls::Mutual {
            yaml += &format!("    clientcas:\n      - {:?}\n", pki.ca_file);
        }
    }
    match (&options.auth, token) {
        (Auth::None, _) => {}
        (Auth::Htpasswd { user, password }, _) => {
            let file = dir.join("htpasswd");
            fs::write(&file, htpasswd_line(user, password)).expect("write htpasswd");
            yaml += &format!("auth:\n  htpasswd:\n    realm: {BASIC_REALM}\n    path: {file:?}\n");
        }
        (Auth::Token(_), Some(token)) => {
            yaml += &format!(
                "auth:\n  token:\n    realm: {:?}\n    service: {:?}\n    issuer: {:?}\n    rootcertbundle: {:?}\n",
                token.realm, token.service, token.issuer, pki.ca_file
            );
        }
        (Auth::Token(_), None) => unreachable!("token server starts before the config"),
    }
    yaml
}

/// One bcrypt htpasswd entry from Apache's `htpasswd -Bbn` (the registry ignores MD5/SHA).
fn htpasswd_line(user: &str, password: &str) -> String {
    let output = Command::new("htpasswd")
        .args(["-Bbn", user, password])
        .output()
        .expect("run htpasswd (install it with: apt-get install apache2-utils)");
    assert!(
        output.status.success(),
        "htpasswd failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("htpasswd output is UTF-8")
        .trim()
        .to_string()
        + "\n"
}

/// Copies a pipe's lines into the shared log and the channel, until EOF.
fn drain(pipe: impl Read + Send + 'static, log: Arc<Mutex<Vec<String>>>, tx: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            log.lock().expect("registry log").push(line.clone());
            // The receiver goes away once the port is known; later lines only go to the log.
            let _ = tx.send(line);
        }
    });
}

/// Reads log lines until `listening on 127.0.0.1:PORT`; panics with the log if it never comes.
fn wait_for_port(rx: &mpsc::Receiver<String>, child: &mut Child, log: &Mutex<Vec<String>>) -> u16 {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left.min(Duration::from_millis(200))) {
            Ok(line) => {
                if let Some(port) = listening_port(&line) {
                    return port;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) if !left.is_zero() => {
                if let Ok(Some(status)) = child.try_wait() {
                    // Let the drain threads flush the last lines before reporting.
                    std::thread::sleep(Duration::from_millis(100));
                    panic!(
                        "docker-registry exited ({status}):\n{}",
                        log.lock().unwrap().join("\n")
                    );
                }
            }
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "docker-registry did not report its port within 30 s:\n{}",
                    log.lock().unwrap().join("\n")
                );
            }
        }
    }
}

/// The port in a `listening on 127.0.0.1:PORT` (or `…:PORT, tls`) log line.
fn listening_port(line: &str) -> Option<u16> {
    let rest = &line[line.find("listening on ")? + "listening on ".len()..];
    let addr: String = rest
        .chars()
        .take_while(|c| !matches!(c, ',' | '"' | ' '))
        .collect();
    addr.rsplit_once(':')?.1.parse().ok()
}
