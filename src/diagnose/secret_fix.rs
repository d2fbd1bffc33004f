//! Pure: the pull-secret commands fixes share — create or replace a secret under the key
//! kubelet matches, and the registry's own login check.
//!
//! Every value is checked against its grammar (`names`) before it enters argv; the password is
//! always a placeholder, never a value.

use super::evidence::Evidence;
use super::names::{Grammar, Rejected, check};
use super::shell::Script;
use super::step::{Step, command};

/// The key kubelet will match for this image.
pub(super) fn server_key(ev: &Evidence) -> String {
    if let Some(c) = &ev.credentials
        && !c.server_key.is_empty()
    {
        return c.server_key.clone();
    }
    ev.image_ref
        .as_ref()
        .map(|r| r.registry.clone())
        .unwrap_or_default()
}

pub(super) fn existing_secret(ev: &Evidence) -> Option<String> {
    let c = ev.credentials.as_ref()?;
    let first = c.tried.first()?;
    first.source.rsplit('/').next().map(str::to_string)
}

/// A secret name derived from the registry (`regcred-reg-example-com-8000`).
pub(super) fn secret_name(registry: &str) -> String {
    let slug: String = registry
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-');
    if slug.is_empty() {
        "regcred".to_string()
    } else {
        format!("regcred-{slug}")
    }
}

/// `kubectl create secret docker-registry` with placeholders for the values; `name` must be a
/// Secret name, `server` a registry key, `namespace` a namespace.
pub fn create_secret(name: &str, server: &str, namespace: &str) -> Result<Script, Rejected> {
    let name = check(Grammar::Secret, "pull secret name", name)?;
    let server = check(Grammar::RegistryKey, "registry key", server)?;
    let mut argv = vec!["kubectl", "create", "secret", "docker-registry", name];
    if !namespace.is_empty() {
        argv.push("-n");
        argv.push(check(Grammar::Namespace, "namespace", namespace)?);
    }
    let server = format!("--docker-server={server}");
    argv.extend([
        server.as_str(),
        "--docker-username=<username>",
        "--docker-password=<password>",
    ]);
    Ok(Script::new(argv))
}

/// `create_secret … --dry-run=client -o yaml | kubectl apply -f -`: replaces a secret in place.
pub(super) fn recreate_secret_as(ev: &Evidence, name: &str, key: &str) -> Result<Script, Rejected> {
    let mut s = create_secret(name, key, &ev.namespace)?;
    s.commands[0]
        .1
        .extend(["--dry-run=client", "-o", "yaml"].map(String::from));
    Ok(s.pipe(["kubectl", "apply", "-f", "-"]))
}

pub(super) fn recreate_secret(ev: &Evidence, name: &str) -> Result<Script, Rejected> {
    recreate_secret_as(ev, name, &server_key(ev))
}

/// `docker login REGISTRY`: the registry's own check of a username and password.
pub(super) fn docker_login(ev: &Evidence) -> Step {
    let r = ev.image_ref.as_ref().map(|r| r.registry.as_str());
    let registry = check(Grammar::Host, "registry host", r.unwrap_or(""))?;
    Ok(command(
        "Check the username and password with the registry's own login (it asks for them)",
        Script::new(["docker", "login", registry]),
    ))
}

/// True when the probe found the pull's ECR password past its 12 hours.
pub(crate) fn ecr_expired(ev: &Evidence) -> bool {
    matches!(&ev.probe, super::ProbeFacts::Ran(p) if p.credential_expired)
}
