//! Pure: a verdict's cause and the cluster's facts become fixes that can be pasted.
//!
//! Patches go to the pod's *owner* (a Deployment's template, a CronJob's job template), because
//! a pod's `imagePullSecrets` cannot be changed in place and a ReplicaSet would only recreate the
//! old spec. CA and plain-HTTP fixes name the file for the node's runtime as each reads it
//! (docker `certs.d`, containerd `hosts.toml`, CRI-O `containers/certs.d` and `registries.conf`;
//! see `shared/reference/node-registry-config.md`). No fix ever contains a secret value.

use serde::Serialize;

use super::evidence::Evidence;
use super::image_fix::{platform_fixes, tag_fixes};
use super::node_fix::{ca_fixes, http_fixes};
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
}

pub(super) fn command(title: impl Into<String>, text: impl Into<String>) -> Fix {
    Fix {
        title: title.into(),
        kind: FixKind::Command,
        text: text.into(),
    }
}

pub(super) fn file(title: impl Into<String>, text: impl Into<String>) -> Fix {
    Fix {
        title: title.into(),
        kind: FixKind::File,
        text: text.into(),
    }
}

pub(super) fn note(text: impl Into<String>) -> Fix {
    let text = text.into();
    Fix {
        title: text.clone(),
        kind: FixKind::Note,
        text,
    }
}

/// The fixes for `cause` in this cluster.
pub fn fixes_for(cause: Cause, ev: &Evidence) -> Vec<Fix> {
    let registry = ev
        .image_ref
        .as_ref()
        .map(|r| r.registry.clone())
        .unwrap_or_default();
    match cause {
        Cause::AuthRequired | Cause::AuthOrNotFound => auth_fixes(ev, cause),
        Cause::AuthInvalidCredentials => {
            let name = existing_secret(ev).unwrap_or_else(|| secret_name(&registry));
            vec![
                command(
                    format!("Recreate secret {name} with the right password"),
                    format!(
                        "{} --dry-run=client -o yaml | kubectl apply -f -",
                        create_secret(&name, &server_key(ev), &ev.namespace)
                    ),
                ),
                note("Check the password with: docker login ".to_string() + &registry),
            ]
        }
        Cause::AuthForbidden => vec![note(format!(
            "The account authenticates but may not pull {}: grant it pull (read) access to that repository in {registry}'s access control, or use an account that has it.",
            ev.image_ref.as_ref().map(|r| r.repository.as_str()).unwrap_or("this repository")
        ))],
        Cause::TlsUnknownAuthority => ca_fixes(ev, &registry),
        Cause::TlsHostnameMismatch => vec![note(format!(
            "Reissue {registry}'s certificate with a subjectAltName for the name the image uses, or change the image to a name the certificate lists."
        ))],
        Cause::TlsExpired => vec![note(format!(
            "Renew {registry}'s certificate (check the node's clock too if the dates look right)."
        ))],
        Cause::HttpToHttps => http_fixes(ev, &registry),
        Cause::NotFoundTag => tag_fixes(ev),
        Cause::NotFoundRepo | Cause::NotFound => vec![note(format!(
            "Check the repository name in {} against what {registry} holds (case, path prefix, organisation).",
            ev.image
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
            "crictl rmi --prune",
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
fn server_key(ev: &Evidence) -> String {
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

/// `kubectl create secret docker-registry` with placeholders for the values.
pub fn create_secret(name: &str, server: &str, namespace: &str) -> String {
    let ns = if namespace.is_empty() {
        String::new()
    } else {
        format!(" -n {namespace}")
    };
    format!(
        "kubectl create secret docker-registry {name}{ns} --docker-server={server} --docker-username='<username>' --docker-password='<password>'"
    )
}

/// The JSON merge that adds a pull secret at the right depth of the owner's spec.
fn pull_secret_patch(kind: &str, secret: &str) -> String {
    let inner = format!(r#"{{"imagePullSecrets":[{{"name":"{secret}"}}]}}"#);
    match kind {
        "Pod" | "" => format!(r#"{{"spec":{inner}}}"#),
        "CronJob" => {
            format!(r#"{{"spec":{{"jobTemplate":{{"spec":{{"template":{{"spec":{inner}}}}}}}}}}}"#)
        }
        _ => format!(r#"{{"spec":{{"template":{{"spec":{inner}}}}}}}"#),
    }
}

/// Steps that make the pod carry `secret`.
fn reference_secret(ev: &Evidence, secret: &str) -> Vec<Fix> {
    let t = &ev.target;
    let ns = &ev.namespace;
    let mut out = Vec::new();
    if t.kind.is_empty() {
        return out;
    }
    if t.kind == "Pod" {
        out.push(command(
            format!("Recreate pod {} with imagePullSecrets (a pod's spec cannot be patched)", t.name),
            format!(
                "kubectl get pod {} -n {ns} -o json | jq '.spec.imagePullSecrets += [{{\"name\":\"{secret}\"}}]' | kubectl replace --force -f -",
                t.name
            ),
        ));
        if t.bare_pod {
            let image = &ev.image;
            out.push(command(
                "Or start it again with kubectl run",
                format!(
                    "kubectl run {} -n {ns} --image={image} --overrides='{}'",
                    t.name,
                    pull_secret_patch("Pod", secret)
                ),
            ));
        }
    } else {
        out.push(command(
            format!("Reference {secret} from {} {}", t.kind, t.name),
            format!(
                "kubectl patch {} {} -n {ns} --type=strategic -p '{}'",
                t.kind.to_ascii_lowercase(),
                t.name,
                pull_secret_patch(&t.kind, secret)
            ),
        ));
    }
    let sa = if t.service_account.is_empty() {
        "default"
    } else {
        &t.service_account
    };
    out.push(command(
        format!("Or give every new pod of service account {sa} the secret (existing pods keep their spec; this replaces the account's list)"),
        format!("kubectl patch serviceaccount {sa} -n {ns} -p '{}'", format_args!(r#"{{"imagePullSecrets":[{{"name":"{secret}"}}]}}"#)),
    ));
    out
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
        out.push(command(
            format!("Recreate {name} under the key kubelet matches ({key})"),
            format!(
                "{} --dry-run=client -o yaml | kubectl apply -f -",
                create_secret(name, key, &ev.namespace)
            ),
        ));
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
            ev.image
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
    out.push(command(
        format!("Create a pull secret for {}", server_key(ev)),
        create_secret(&name, &server_key(ev), &ev.namespace),
    ));
    out.extend(reference_secret(ev, &name));
    out
}

/// The service account already lists the secret; pods created before that lack it, and only
/// new pods get it copied in by the admission plugin.
fn restart_fixes(ev: &Evidence) -> Vec<Fix> {
    let t = &ev.target;
    if t.kind.is_empty() || t.kind == "Pod" {
        return vec![command(
            format!(
                "Recreate pod {} so admission copies the service account's pull secrets",
                t.name
            ),
            format!(
                "kubectl get pod {} -n {} -o json | jq 'del(.spec.imagePullSecrets)' | kubectl replace --force -f -",
                t.name, ev.namespace
            ),
        )];
    }
    let kind = t.kind.to_ascii_lowercase();
    let restartable = matches!(kind.as_str(), "deployment" | "statefulset" | "daemonset");
    if restartable {
        vec![command(
            format!(
                "Restart {} {}: new pods get the service account's pull secrets",
                t.kind, t.name
            ),
            format!(
                "kubectl rollout restart {kind}/{} -n {}",
                t.name, ev.namespace
            ),
        )]
    } else {
        vec![note(format!(
            "Delete the pods of {} {} so they are recreated with the service account's pull secrets.",
            t.kind, t.name
        ))]
    }
}

fn missing_secret_fixes(ev: &Evidence) -> Vec<Fix> {
    let missing = ev.credentials.as_ref().and_then(|c| {
        c.findings
            .iter()
            .find(|f| f.id.starts_with("secret_not_found"))
    });
    let name = missing
        .and_then(|f| f.secret.clone())
        .map(|s| s.rsplit('/').next().unwrap_or(&s).to_string())
        .unwrap_or_else(|| "<secret>".to_string());
    vec![command(
        format!(
            "Create {name} in namespace {} (secrets are read from the pod's namespace only)",
            ev.namespace
        ),
        create_secret(&name, &server_key(ev), &ev.namespace),
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_land_at_the_right_depth() {
        let d = pull_secret_patch("Deployment", "s");
        assert_eq!(
            d,
            r#"{"spec":{"template":{"spec":{"imagePullSecrets":[{"name":"s"}]}}}}"#
        );
        let c = pull_secret_patch("CronJob", "s");
        let v: serde_json::Value = serde_json::from_str(&c).unwrap();
        assert_eq!(
            v["spec"]["jobTemplate"]["spec"]["template"]["spec"]["imagePullSecrets"][0]["name"],
            "s"
        );
        let p: serde_json::Value = serde_json::from_str(&pull_secret_patch("Pod", "s")).unwrap();
        assert_eq!(p["spec"]["imagePullSecrets"][0]["name"], "s");
    }

    #[test]
    fn secret_names_are_dns_safe() {
        assert_eq!(
            secret_name("reg.example.com:8000"),
            "regcred-reg-example-com-8000"
        );
        assert_eq!(secret_name(""), "regcred");
    }
}
