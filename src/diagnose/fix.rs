//! Pure: a verdict's cause and the cluster's facts become fixes that can be pasted.
//!
//! Patches go to the pod's *owner* (a Deployment's template, a CronJob's job template), because
//! a pod's `imagePullSecrets` cannot be changed in place and a ReplicaSet would only recreate the
//! old spec. CA and plain-HTTP fixes name the file for the node's runtime as each reads it
//! (docker `certs.d`, containerd `hosts.toml`, CRI-O `containers/certs.d` and `registries.conf`;
//! see `docs/internals/node-registry-config.md`). No fix ever contains a secret value.
//!
//! Every command is built as argv from values checked against their grammar (`names`) and
//! quoted once (`shell`): a pull secret named `regcred;touch${IFS}PWNED;#` gets a note saying
//! the name is invalid, never a command that would run the rest when pasted. The `image`
//! command's CI audience gets its own words (`ci_fix`).

use super::ci_fix;
use super::evidence::{Audience, Evidence};
use super::image_fix::{platform_fixes, tag_fixes};
use super::names::{inert, registry_shown};
use super::node_fix::{ca_fixes, http_fixes, node_edit_fixes};
use super::owner_fix::{reference_secret, restart_fixes};
use super::secret_fix::{
    create_secret, docker_login, ecr_expired, existing_secret, recreate_secret, recreate_secret_as,
    secret_name, server_key,
};
use super::shell::Script;
use super::step::{Fix, command, note, steps};
use crate::taxonomy::Cause;

/// The fixes for `cause` in this cluster, or for the CI job of the `image` command.
pub fn fixes_for(cause: Cause, ev: &Evidence) -> Vec<Fix> {
    if let Some(fixes) = node_edit_fixes(cause, ev) {
        return fixes;
    }
    if ev.audience == Audience::Ci
        && let Some(fixes) = ci_fix::fixes_for(cause, ev)
    {
        return fixes;
    }
    let registry = registry_shown(ev);
    match cause {
        Cause::AuthRequired | Cause::AuthOrNotFound => auth_fixes(ev, cause),
        Cause::AuthInvalidCredentials if ecr_expired(ev) => ecr_renewal(ev),
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
        Cause::RegistryBlocked => vec![note(format!(
            "On the node, remove `blocked = true` from the [[registry]] table matching {registry} in /etc/containers/registries.conf or /etc/containers/registries.conf.d/*.conf, then restart crio; or pull the image from a registry the node may use."
        ))],
        Cause::RegistryPolicy => super::policy_fix::fixes(ev),
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

/// An ECR password lives 12 hours: a hand-made secret always expires, so renew it by machine.
fn ecr_renewal(ev: &Evidence) -> Vec<Fix> {
    let registry = registry_shown(ev);
    vec![
        note(format!(
            "The pull secret for {registry} holds an ECR password, which expires 12 hours after it was made: do not recreate it by hand. Let kubelet fetch ECR credentials itself with the ECR credential provider (the ecr-credential-provider binary, enabled with kubelet's --image-credential-provider-config and --image-credential-provider-bin-dir), or keep the secret fresh with a CronJob that runs `aws ecr get-login-password` every few hours and re-applies the docker-registry secret."
        )),
        note(
            "On EKS nodes the node role's ECR pull permission already covers this: drop the pull secret if the nodes can pull with their own role.".to_string(),
        ),
    ]
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
    use crate::diagnose::FixKind;

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
