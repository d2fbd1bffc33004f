//! Credentials for `pulldoctor image`: a docker `config.json`, its credential helpers, `--creds`.
//!
//! Reads the file docker reads (`--authfile`, else `$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`) and, for a registry with a `credHelpers` entry or a `credsStore`,
//! runs `docker-credential-<name> get` with the server address on stdin, as the docker CLI does
//! (<https://github.com/docker/docker-credential-helpers#usage>, docker/cli
//! `cli/config/credentials/native_store.go`). Entries in the file itself are chosen by kubelet's
//! keyring rules (`crate::credentials::for_image_from_config`), so a CI check picks the entry a
//! node would. This is the one part of credential handling that does I/O; helper output is
//! never logged or quoted, and a helper that hangs is killed after the timeout.

use crate::credentials::dockerconfig::{self, DockerConfig, Format};
use crate::credentials::{Credential, Finding, FindingId, ImageCredentials, Severity};
use crate::error::Error;
use crate::redacted::Redacted;
use crate::reference::ImageRef;
use crate::registry::Puller;
use serde::Deserialize;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Docker's name for Docker Hub in credential stores.
const HUB_SERVER: &str = "https://index.docker.io/v1/";
/// The phrase helpers print when they hold nothing for a server (docker-credential-helpers).
const NOT_FOUND: &str = "credentials not found";

/// A loaded docker config file.
#[derive(Debug, Clone)]
pub struct Authfile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its decoded content and decoding findings.
    pub config: DockerConfig,
}

/// How to find and run credential helpers.
#[derive(Debug, Clone)]
pub struct Helpers {
    /// The directories to search, `PATH`-style (the process's `PATH` by default).
    pub search_path: Option<OsString>,
    /// How long a helper may take before it is killed.
    pub timeout: Duration,
}

impl Default for Helpers {
    fn default() -> Self {
        Helpers {
            search_path: std::env::var_os("PATH"),
            timeout: Duration::from_secs(10),
        }
    }
}

/// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, as docker looks for it.
pub fn default_path() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

/// Loads `explicit`, or the default file when it exists; `Ok(None)` when there is none.
///
/// A file named on the command line must be readable; the default one may be absent.
pub fn load(explicit: Option<&Path>) -> Result<Option<Authfile>, Error> {
    let (path, required) = match explicit {
        Some(p) => (p.to_path_buf(), true),
        None => match default_path() {
            Some(p) => (p, false),
            None => return Ok(None),
        },
    };
    match crate::limits::read_capped(&path, crate::limits::MAX_AUTHFILE, "an authfile") {
        Ok(bytes) => Ok(Some(from_bytes(&path, &bytes))),
        Err(crate::limits::CapError::Read { source, .. })
            if !required && source.kind() == std::io::ErrorKind::NotFound =>
        {
            Ok(None)
        }
        Err(e) => Err(e.into_error()),
    }
}

/// Decodes a config file's content (`{"auths": …, "credsStore": …, "credHelpers": …}`).
pub fn from_bytes(path: &Path, bytes: &[u8]) -> Authfile {
    Authfile {
        path: path.to_path_buf(),
        config: dockerconfig::decode_for(bytes, Format::ConfigJson, &label(path), Puller::Ci),
    }
}

fn label(path: &Path) -> String {
    format!("--authfile {}", path.display())
}

/// Parses `--creds USER:PASSWORD` (split at the first `:`, like `auth`).
pub fn parse_creds(value: &str) -> Result<(String, Redacted), Error> {
    match value.split_once(':') {
        Some((user, pass)) if !user.is_empty() => Ok((user.to_string(), Redacted::new(pass))),
        _ => Err(Error::Usage(
            "--creds must be USER:PASSWORD (the value is not shown)".into(),
        )),
    }
}

/// Credentials given on the command line (`--creds`, `--username` + `--password-stdin`).
pub fn from_flags(
    source: &str,
    username: &str,
    password: Redacted,
    image: &ImageRef,
) -> ImageCredentials {
    ImageCredentials {
        image: image.original.clone(),
        tries: vec![Credential {
            source: source.to_string(),
            key: image.registry.clone(),
            username: username.to_string(),
            password,
        }],
        anonymous: false,
        findings: Vec::new(),
    }
}

/// The server names docker would look up in `credHelpers` for this image, first the one it
/// passes to helpers.
fn server_names(image: &ImageRef) -> Vec<&str> {
    if image.is_docker_hub() {
        vec![HUB_SERVER, "index.docker.io", "docker.io"]
    } else {
        vec![image.registry.as_str()]
    }
}

/// What the authfile gives for an image: a helper's answer when one is configured, else the
/// file's own entries by kubelet's rules.
pub async fn credentials_for(
    file: &Authfile,
    image: &ImageRef,
    helpers: &Helpers,
) -> ImageCredentials {
    let source = label(&file.path);
    let names = server_names(image);
    let helper = names
        .iter()
        .find_map(|n| file.config.cred_helpers.iter().find(|(h, _)| h == n))
        .map(|(_, helper)| helper.clone())
        .or_else(|| file.config.creds_store.clone());
    let Some(helper) = helper else {
        return crate::credentials::for_image_from_config(&file.config, &source, image);
    };
    let server = names[0];
    let outcome = run_helper(&helper, server, helpers).await;
    let mut fallback = crate::credentials::for_image_from_config(&file.config, &source, image);
    // The file's own "this entry is empty, the helper has it" note is moot once we ask it.
    fallback
        .findings
        .retain(|f| f.id != FindingId::CredentialHelperOnly);
    match outcome {
        Ok(Some((username, secret))) => {
            let mut findings = Vec::new();
            if username == "<token>" {
                let msg = format!(
                    "helper {helper:?} returned an identity token for {server}, not a password; docker exchanges it for a registry token and pulldoctor sends it as a password, which not every registry accepts"
                );
                findings.push(
                    Finding::new(FindingId::TokenIgnored, msg)
                        .secret(&source)
                        .severity(Severity::Info),
                );
            }
            ImageCredentials {
                image: image.original.clone(),
                tries: vec![Credential {
                    source: format!("{source} (helper docker-credential-{helper})"),
                    key: server.to_string(),
                    username,
                    password: secret,
                }],
                anonymous: false,
                findings,
            }
        }
        Ok(None) => {
            let msg = format!(
                "credential helper {helper:?} holds nothing for {server}; falling back to the file's entries"
            );
            fallback.findings.push(
                Finding::new(FindingId::CredentialHelperFailed, msg)
                    .secret(&source)
                    .severity(Severity::Warning),
            );
            fallback
        }
        Err(why) => {
            let msg = format!("credential helper {helper:?} for {server}: {why}");
            fallback
                .findings
                .push(Finding::new(FindingId::CredentialHelperFailed, msg).secret(&source));
            fallback
        }
    }
}

/// A helper's reply to `get` (docker-credential-helpers `credentials.Credentials`).
#[derive(Deserialize)]
struct Reply {
    #[serde(rename = "Username", alias = "username", default)]
    username: String,
    #[serde(rename = "Secret", alias = "secret", default)]
    secret: String,
}

/// Finds `docker-credential-<name>` in a `PATH`-style list, as the shell would.
fn find_program(name: &str, search_path: Option<&OsStr>) -> Option<PathBuf> {
    let program = format!("docker-credential-{name}");
    std::env::split_paths(search_path?)
        .map(|dir| dir.join(&program))
        .find(|p| p.is_file())
}

/// Starts the helper, retrying briefly while the file is still open for writing elsewhere.
///
/// `ETXTBSY` happens when a helper was just written (by an installer, or a test) and another
/// thread's fork still holds the write descriptor; it clears within milliseconds.
async fn spawn(program: &Path) -> std::io::Result<tokio::process::Child> {
    let mut attempt = 0;
    loop {
        let result = tokio::process::Command::new(program)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        match result {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy && attempt < 20 => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            other => return other,
        }
    }
}

/// Runs `docker-credential-<name> get`: `Ok(None)` when the helper has nothing for the server.
///
/// The error strings never contain helper output, which may hold the secret.
async fn run_helper(
    name: &str,
    server: &str,
    helpers: &Helpers,
) -> Result<Option<(String, Redacted)>, String> {
    if name.is_empty() || name.contains(['/', '\\']) || name.chars().any(char::is_whitespace) {
        return Err("the helper name is not a plain program suffix".into());
    }
    let Some(program) = find_program(name, helpers.search_path.as_deref()) else {
        return Err(format!("docker-credential-{name} is not on PATH"));
    };
    let mut child = spawn(&program)
        .await
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let mut stdin = child.stdin.take();
    let talk = async move {
        if let Some(s) = stdin.as_mut() {
            // A helper that exits without reading closes the pipe; its exit status tells why.
            let _ = s.write_all(server.as_bytes()).await;
            let _ = s.shutdown().await;
        }
        drop(stdin);
        child.wait_with_output().await
    };
    let output = match tokio::time::timeout(helpers.timeout, talk).await {
        Err(_) => return Err(format!("no answer within {:?}; killed", helpers.timeout)),
        Ok(Err(e)) => return Err(format!("waiting for it failed: {e}")),
        Ok(Ok(out)) => out,
    };
    if !output.status.success() {
        if String::from_utf8_lossy(&output.stdout).contains(NOT_FOUND) {
            return Ok(None);
        }
        return Err(format!("it failed ({})", output.status));
    }
    let reply: Reply = serde_json::from_slice(&output.stdout)
        .map_err(|_| "its reply is not the JSON docker expects (Username, Secret)".to_string())?;
    if reply.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some((reply.username, Redacted::new(reply.secret))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creds_flag_splits_at_the_first_colon_and_hides_the_value() {
        let (u, p) = parse_creds("ci:pa:ss").unwrap();
        assert_eq!((u.as_str(), p.expose()), ("ci", "pa:ss"));
        let err = parse_creds("no-colon-secret").unwrap_err().to_string();
        assert!(!err.contains("no-colon-secret"), "{err}");
        assert!(parse_creds(":pw").is_err());
    }

    #[test]
    fn hub_images_ask_helpers_for_docker_hub_server_name() {
        let hub = ImageRef::parse("nginx").unwrap();
        assert_eq!(server_names(&hub)[0], "https://index.docker.io/v1/");
        let own = ImageRef::parse("reg.test:5000/app").unwrap();
        assert_eq!(server_names(&own), vec!["reg.test:5000"]);
    }
}
