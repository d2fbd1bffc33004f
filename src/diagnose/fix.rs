//! Pure: a verdict's cause and the cluster's facts become fixes that can be pasted.
//!
//! Patches go to the pod's *owner* (a Deployment's template, a CronJob's job template), because
//! a pod's `imagePullSecrets` cannot be changed in place and a ReplicaSet would only recreate the
//! old spec. CA and plain-HTTP fixes name the file for the node's runtime as each reads it
//! (docker `certs.d`, containerd `hosts.toml`, CRI-O `containers/certs.d` and `registries.conf`;
//! see `shared/reference/node-registry-config.md`). No fix ever contains a secret value.
//!
//! Every command is built as argv from values checked against their grammar (`names`) and
//! quoted once (`shell`): a pull secret named `regcred;touch${IFS}PWNED;#` gets a note saying
//! the name is invalid, never a command that would run the rest when pasted. The `image`
//! command's CI audience gets its own words (`ci_fix`).

use serde::Serialize;

use super::ci_fix;
use super::evidence::{Audience, Evidence};
use super::image_fix::{platform_fixes, tag_fixes};
use super::names::{Grammar, Rejected, check, inert};
use super::node_fix::{ca_fixes, http_fixes};
use super::owner_fix::{reference_secret, restart_fixes};
use super::shell::Script;
use crate::taxonomy::Cause;

/// What kind of step a fix is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FixKind {
    /// A shell command to run.
    Command,
    /// A file to write on a node, with its path in the title.
    File,
    /// Advice that needs a person's judgement.
    Note,
}

/// One step of a fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    /// What the step does.
    pub title: String,
    /// Command, file or note.
    pub kind: FixKind,
    /// The text to paste (may span lines).
    pub text: String,
    /// For a command: the argv of each simple command in `text`, in order, exactly as a POSIX
    /// shell splits `text` (for automation that runs it without a shell).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub argv: Vec<Vec<String>>,
}

/// A step, or the value that kept it from being written.
pub(super) type Step = Result<Fix, Rejected>;

pub(super) fn command(title: impl Into<String>, script: Script) -> Fix {
    Fix {
        title: title.into(),
        kind: FixKind::Command,
        text: script.render(),
        argv: script.argvs(),
    }
}

pub(super) fn file(title: impl Into<String>, text: impl Into<String>) -> Fix {
    Fix {
        title: title.into(),
        kind: FixKind::File,
        text: text.into(),
        argv: Vec::new(),
    }
}

pub(super) fn note(text: impl Into<String>) -> Fix {
    let text = text.into();
    Fix {
        title: text.clone(),
        kind: FixKind::Note,
        text,
        argv: Vec::new(),
    }
}

/// The steps, each rejected value replaced by its note (once, however many steps it spoiled).
pub(super) fn steps(steps: impl IntoIterator<Item = Step>) -> Vec<Fix> {
    let mut out: Vec<Fix> = Vec::new();
    for s in steps {
        let fix = s.unwrap_or_else(|r| r.note());
        if !out.contains(&fix) {
            out.push(fix);
        }
    }
    out
}

/// The image's registry, made inert for a note (`the registry` when the image does not parse).
pub(super) fn registry_shown(ev: &Evidence) -> String {
    ev.image_ref
        .as_ref()
        .map(|r| inert(&r.registry))
        .unwrap_or_else(|| "the registry".to_string())
}

/// The fixes for `cause` in this cluster, or for the CI job of the `image` command.
pub fn fixes_for(cause: Cause, ev: &Evidence) -> Vec<Fix> {
    if ev.audience == Audience::Ci
        && let Some(fixes) = ci_fix::fixes_for(cause, ev)
    {
        return fixes;
    }
    let registry = registry_shown(ev);
    match cause {
        Cause::AuthRequired | Cause::AuthOrNotFound => auth_fixes(ev, cause),
        Cause::AuthInvalidCredentials => {
            let raw = ev.image_ref.as_ref().map(|r| r.registry.as_str());
            let name = existing_secret(ev).unwrap_or_else(|| secret_name(raw.unwrap_or("")));
            steps([
                recreate_secret(ev, &name)
                    .map(|s| command(format!("Recreate secret {name} with the right password"), s)),
                docker_login(ev),
            ])
        }
        Cause::AuthForbidden => vec![note(format!(
            "The account authenticates but may not pull {}: grant it pull (read) access to that repository in {registry}'s access control, or use an account that has it.",
            ev.image_ref.as_ref().map(|r| r.repository.as_str()).unwrap_or("this repository")
        ))],
        Cause::TlsUnknownAuthority => ca_fixes(ev),
        Cause::TlsHostnameMismatch => vec![note(format!(
            "Reissue {registry}'s certificate with a subjectAltName for the name the image uses, or change the image to a name the certificate lists."
        ))],
        Cause::TlsExpired => vec![note(format!(
            "Renew {registry}'s certificate (check the node's clock too if the dates look right)."
        ))],
        Cause::HttpToHttps => http_fixes(ev),
        Cause::NotFoundTag => tag_fixes(ev),
        Cause::NotFoundRepo | Cause::NotFound => vec![note(format!(
            "Check the repository name in {} against what {registry} holds (case, path prefix, organisation).",
            inert(&ev.image)
        ))],
        Cause::PlatformMismatch => platform_fixes(ev),
        Cause::RateLimited => vec![note(
            "Authenticate pulls (a pull secret raises the limit), use a pull-through mirror, or wait for the window in Retry-After / ratelimit-remaining."
                .to_string(),
        )],
        Cause::DnsFailure => vec![note(format!(
            "Check the spelling of {registry} and that the node's resolver knows it (nslookup from the node)."
        ))],
        Cause::NetworkUnreachable => vec![note(format!(
            "Check that {registry} is up and that the node can reach its port (firewall, proxy, NetworkPolicy on the node's egress)."
        ))],
        Cause::ProxyFailure => vec![note(format!(
            "Fix the node runtime's proxy setting (HTTP_PROXY/HTTPS_PROXY in its systemd drop-in, e.g. /etc/systemd/system/containerd.service.d/http-proxy.conf): {} must be up, reachable and spoken to with the scheme its URL says; or add {registry} to NO_PROXY. Restart the runtime afterwards.",
            ev.symptom
                .as_ref()
                .and_then(|s| s.proxy.as_deref())
                .map(|p| format!("the proxy {p}"))
                .unwrap_or_else(|| "the proxy".to_string())
        ))],
        Cause::InvalidReference => vec![note(
            "Fix the image reference: lower-case repository, host[:port]/path[:tag][@sha256:…]."
                .to_string(),
        )],
        Cause::NeverPull => vec![note(
            "Set imagePullPolicy to IfNotPresent, or load the image onto the node before the pod starts."
                .to_string(),
        )],
        Cause::PullSecretMissing => missing_secret_fixes(ev),
        Cause::DiskFull => vec![command(
            "Free image space on the node",
            Script::new(["crictl", "rmi", "--prune"]),
        )],
        Cause::RegistryServerError => vec![note(format!(
            "{registry} is failing on its side: check its logs and storage; kubelet retries on its own."
        ))],
        Cause::SignatureFailed => vec![note(
            "Check the signature policy (policy.json, admission controller) against the image's signatures."
                .to_string(),
        )],
        Cause::Unknown => vec![note(
            "Read the raw message above; run pulldoctor with -v and report it if it deserves a cause."
                .to_string(),
        )],
    }
}

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

fn existing_secret(ev: &Evidence) -> Option<String> {
    let c = ev.credentials.as_ref()?;
    let first = c.tried.first()?;
    first.source.rsplit('/').next().map(str::to_string)
}

/// A secret name derived from the registry (`regcred-reg-example-com-8000`).
fn secret_name(registry: &str) -> String {
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

/// `-n NAMESPACE`, or nothing when there is no namespace.
pub(super) fn namespace_args(ev: &Evidence) -> Result<Vec<String>, Rejected> {
    if ev.namespace.is_empty() {
        return Ok(Vec::new());
    }
    let ns = check(Grammar::Namespace, "namespace", &ev.namespace)?;
    Ok(vec!["-n".to_string(), ns.to_string()])
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
fn recreate_secret_as(ev: &Evidence, name: &str, key: &str) -> Result<Script, Rejected> {
    let mut s = create_secret(name, key, &ev.namespace)?;
    s.commands[0]
        .1
        .extend(["--dry-run=client", "-o", "yaml"].map(String::from));
    Ok(s.pipe(["kubectl", "apply", "-f", "-"]))
}

fn recreate_secret(ev: &Evidence, name: &str) -> Result<Script, Rejected> {
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

/// The first credential finding with one of `ids`.
fn finding<'a>(ev: &'a Evidence, ids: &[&str]) -> Option<&'a super::CredentialFinding> {
    ev.credentials
        .as_ref()?
        .findings
        .iter()
        .find(|f| ids.contains(&f.id.as_str()))
}

fn auth_fixes(ev: &Evidence, cause: Cause) -> Vec<Fix> {
    let mut out = Vec::new();
    let creds = ev.credentials.as_ref();
    // A secret in another namespace is a hint, never the fix: kubelet reads only the pod's.
    if finding(ev, &["secret_not_found"]).is_some() {
        return missing_secret_fixes(ev);
    }
    if finding(ev, &["service_account_secret_not_in_pod"]).is_some()
        && creds.is_some_and(|c| c.tried.is_empty())
    {
        return restart_fixes(ev);
    }
    if let Some(f) = creds.and_then(|c| c.findings.iter().find(|f| f.suggested_key.is_some()))
        && let (Some(secret), Some(key)) = (&f.secret, &f.suggested_key)
    {
        let name = secret.rsplit('/').next().unwrap_or(secret);
        out.extend(steps([recreate_secret_as(ev, name, key).map(|s| {
            command(
                format!("Recreate {name} under the key kubelet matches ({key})"),
                s,
            )
        })]));
        return out;
    }
    if let Some(secret) = creds.and_then(|c| c.unreferenced_match.clone()) {
        let name = secret.rsplit('/').next().unwrap_or(&secret).to_string();
        out.extend(reference_secret(ev, &name));
        return out;
    }
    if cause == Cause::AuthOrNotFound {
        out.push(note(format!(
            "Check that {} exists; if it does, the registry wants credentials:",
            inert(&ev.image)
        )));
    }
    if ev.target.kind.is_empty() {
        out.push(note(
            "Pass credentials with --authfile, --creds or --username/--password-stdin.".to_string(),
        ));
        return out;
    }
    let registry = ev
        .image_ref
        .as_ref()
        .map(|r| r.registry.clone())
        .unwrap_or_default();
    let name = secret_name(&registry);
    let key = server_key(ev);
    out.extend(steps([create_secret(&name, &key, &ev.namespace)
        .map(|s| command(format!("Create a pull secret for {key}"), s))]));
    out.extend(reference_secret(ev, &name));
    out
}

fn missing_secret_fixes(ev: &Evidence) -> Vec<Fix> {
    let missing = ev.credentials.as_ref().and_then(|c| {
        c.findings
            .iter()
            .find(|f| f.id.starts_with("secret_not_found"))
    });
    let name = missing
        .and_then(|f| f.secret.clone())
        .map(|s| s.rsplit('/').next().unwrap_or(&s).to_string());
    let script = match &name {
        Some(name) => create_secret(name, &server_key(ev), &ev.namespace),
        // No finding names it: a placeholder the user fills in.
        None => create_secret("secret-name", &server_key(ev), &ev.namespace).map(|mut s| {
            s.commands[0].1[4] = "<secret>".to_string();
            s
        }),
    };
    let name = name.unwrap_or_else(|| "<secret>".to_string());
    steps([script.map(|s| {
        command(
            format!(
                "Create {name} in namespace {} (secrets are read from the pod's namespace only)",
                ev.namespace
            ),
            s,
        )
    })])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_are_dns_safe() {
        assert_eq!(
            secret_name("reg.example.com:8000"),
            "regcred-reg-example-com-8000"
        );
        assert_eq!(secret_name(""), "regcred");
    }

    fn missing(secret: &str, audience: Audience) -> Evidence {
        Evidence {
            image: "reg.test:5000/app:1".to_string(),
            image_ref: crate::registry::ImageRef::parse("reg.test:5000/app:1").ok(),
            namespace: "shop".to_string(),
            target: super::super::FixTarget {
                kind: "Deployment".to_string(),
                name: "web".to_string(),
                service_account: "default".to_string(),
                bare_pod: false,
            },
            credentials: Some(super::super::CredentialFacts {
                anonymous: true,
                findings: vec![super::super::CredentialFinding {
                    id: "secret_not_found".to_string(),
                    secret: Some(format!("shop/{secret}")),
                    key: None,
                    message: String::new(),
                    suggested_key: None,
                }],
                server_key: "reg.test:5000".to_string(),
                ..Default::default()
            }),
            audience,
            ..Evidence::default()
        }
    }

    #[test]
    fn a_missing_secret_gets_its_create_command_as_argv() {
        let fixes = fixes_for(Cause::AuthRequired, &missing("regcred", Audience::Cluster));
        assert_eq!(fixes.len(), 1);
        assert_eq!(
            fixes[0].text,
            "kubectl create secret docker-registry regcred -n shop --docker-server=reg.test:5000 --docker-username='<username>' --docker-password='<password>'"
        );
        assert_eq!(
            Ok(fixes[0].argv.clone()),
            super::super::shell::split(&fixes[0].text)
        );
    }

    #[test]
    fn a_hostile_secret_name_gets_a_note_and_no_command() {
        let name = "regcred;touch${IFS}PWNED;#";
        for cause in Cause::ALL {
            for fix in fixes_for(cause, &missing(name, Audience::Cluster)) {
                assert!(
                    fix.kind == FixKind::Note || !fix.text.contains("PWNED"),
                    "{cause:?}: {fix:?}"
                );
            }
        }
        let fixes = fixes_for(Cause::AuthRequired, &missing(name, Audience::Cluster));
        assert_eq!(fixes.len(), 1);
        assert_eq!(fixes[0].kind, FixKind::Note);
        assert!(
            fixes[0]
                .text
                .contains(&format!("pull secret name \"{name}\" is not a DNS-1123")),
            "{}",
            fixes[0].text
        );
    }

    #[test]
    fn ci_fixes_name_flags_not_cluster_steps() {
        let mut ev = missing("regcred", Audience::Ci);
        ev.target = super::super::FixTarget::default();
        ev.namespace.clear();
        ev.credentials = Some(super::super::CredentialFacts {
            tried: vec![super::super::CredentialLabel {
                source: "--creds".to_string(),
                key: "reg.test:5000".to_string(),
                username: "alice".to_string(),
            }],
            server_key: "reg.test:5000".to_string(),
            ..Default::default()
        });
        for cause in Cause::ALL {
            let fixes = fixes_for(cause, &ev);
            let text = format!("{fixes:?}").to_lowercase();
            for word in [
                "kubectl",
                "kubelet",
                "every node",
                "daemonset",
                "/etc/containerd",
            ] {
                let reachable = !matches!(
                    cause,
                    Cause::NeverPull | Cause::DiskFull | Cause::PullSecretMissing
                );
                assert!(
                    !reachable || !text.contains(word),
                    "{cause:?}: {word}: {text}"
                );
            }
        }
        let invalid = fixes_for(Cause::AuthInvalidCredentials, &ev);
        assert!(
            invalid[0].text.contains("given with --creds"),
            "{invalid:?}"
        );
        assert_eq!(
            invalid[1].argv,
            vec![vec!["docker", "login", "reg.test:5000"]]
        );
    }
}
