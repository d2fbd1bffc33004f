//! One sentence of meaning and one of next step per symptom, written from the facts extracted.
//!
//! Sentences name the host, image and status the message gave, so an on-call reader can act on
//! them without re-reading the raw error. They state what the text shows; where the text is
//! ambiguous they say so, because the probe settles those cases.

use super::Symptom;
use crate::taxonomy::{Cause, Runtime};

/// Fills `meaning` and `next_step` from the symptom's cause and facts.
pub fn explain(s: &mut Symptom, lookup_host: Option<&str>, dial: Option<&str>, secrets: &[String]) {
    let image = s.image.as_deref().unwrap_or("the image");
    let registry = s
        .registry
        .clone()
        .or_else(|| s.url.as_deref().and_then(super::extract::url_authority))
        .or_else(|| s.image.as_deref().and_then(super::extract::host_of_image))
        .unwrap_or_else(|| "the registry".to_string());
    let repo = s.repository.as_deref().unwrap_or(image);
    let reference = s.reference.as_deref().unwrap_or("the requested tag");
    let status = s.status.map(|n| format!(" (HTTP {n})")).unwrap_or_default();
    let cert_host = s.cert_host.clone().unwrap_or_else(|| registry.clone());
    let token_server = s.cert_host.as_deref().is_some_and(|h| {
        s.registry.as_deref().is_some_and(|r| {
            let r = crate::reference::split_port(r).0;
            r != h && !(r == "docker.io" && h.ends_with("docker.io"))
        })
    });
    let whose = if token_server {
        format!("the token server {cert_host} (not the registry {registry})")
    } else {
        cert_host.clone()
    };
    let ca_place = || match s.runtime {
        Runtime::Containerd => format!("/etc/containerd/certs.d/{registry}/"),
        Runtime::Docker => format!("/etc/docker/certs.d/{registry}/"),
        Runtime::CriO => format!("/etc/containers/certs.d/{registry}/"),
        Runtime::Unknown => "the runtime's certs.d directory".to_string(),
    };

    let (meaning, next) = match s.cause {
        Cause::TlsUnknownAuthority => (
            format!("The node does not trust the authority that signed the certificate of {whose}."),
            format!("Install the CA that signed {cert_host}'s certificate where the node's runtime looks ({}), or give {cert_host} a certificate from a CA the node trusts.", ca_place()),
        ),
        Cause::TlsHostnameMismatch => {
            let names = if s.cert_names.is_empty() {
                "other names".to_string()
            } else {
                s.cert_names.join(", ")
            };
            (
                format!("The certificate {whose} presented is valid for {names}, not for the name the node connected to."),
                format!("Reissue the certificate with {cert_host} in its subjectAltName, or pull through a name the certificate covers."),
            )
        }
        Cause::TlsExpired => (
            format!("The certificate of {whose} has expired or is not yet valid."),
            format!("Renew the certificate on {cert_host}, and check that the node's clock is right."),
        ),
        Cause::HttpToHttps => (
            format!("{registry} answers plain HTTP where the runtime spoke HTTPS."),
            format!("Serve {registry} over TLS, or tell the node's runtime to use http:// for it (containerd hosts.toml, Docker insecure-registries, CRI-O registries.conf insecure = true)."),
        ),
        Cause::AuthRequired => (
            format!("{registry} refused the pull without credentials{status}."),
            format!("Add an imagePullSecret whose server key matches {registry}, or check the credentials the node itself has for it."),
        ),
        Cause::AuthInvalidCredentials => (
            format!("{registry} rejected the credentials sent with the pull{status}."),
            format!("Recreate the pull secret for {registry} with a current username and password or token, then let the pod retry."),
        ),
        Cause::AuthForbidden => (
            format!("{registry} does not allow this identity to pull {repo}{status}."),
            format!("Grant the pulling identity read access to {repo} on {registry}, or use credentials that have it."),
        ),
        Cause::AuthOrNotFound => (
            format!("{registry} refused {repo}: the repository either does not exist or needs credentials the pull did not have."),
            format!("Check that {image} is spelled right and exists on {registry}; if it is private, add a pull secret for {registry}."),
        ),
        Cause::NotFoundTag => (
            format!("{repo} on {registry} has no {reference}."),
            format!("Use a tag or digest that exists in {repo}, or push {reference} there."),
        ),
        Cause::NotFoundRepo => (
            format!("{registry} has no repository {repo}."),
            format!("Fix the repository path in {image}, or push the image to {registry}."),
        ),
        Cause::NotFound => (
            format!("{registry} has no manifest for {image}: either the repository or the tag does not exist."),
            format!("Compare the repository path and the tag of {image} with what {registry} holds; a probe of its tag list tells which is missing."),
        ),
        Cause::PlatformMismatch => {
            let want = s.platform.as_deref().unwrap_or("the node's platform");
            (
                format!("{image} exists but has no variant for {want}."),
                format!("Publish {image} for {want}, or run the pod on nodes whose platform the image provides."),
            )
        }
        Cause::RateLimited => (
            format!("{registry} is rate-limiting pulls from this node{status}."),
            format!("Authenticate pulls to {registry} with a pull secret, pull through a mirror or cache, or wait for the limit window to reset."),
        ),
        Cause::DnsFailure => {
            let host = lookup_host.map(str::to_string).unwrap_or(registry.clone());
            (
                format!("The node could not resolve {host} in DNS."),
                format!("Check the host name in the image and the node's DNS and proxy settings for {host}."),
            )
        }
        Cause::NetworkUnreachable => {
            let target = dial.map(str::to_string).unwrap_or(registry.clone());
            let how = match s.connection.as_deref() {
                Some("timeout") => format!("The node's request to {target} timed out."),
                Some("refused") => format!("{target} refused the node's connection."),
                Some("no_route") => format!("The node has no route to {target}."),
                Some("reset") => format!("The connection to {target} was reset."),
                _ => format!("The node could not connect to {target} (refused, timed out or no route)."),
            };
            (
                how,
                format!("Check that {registry} is up and reachable from the node: firewall, proxy, routes and the port in the image reference."),
            )
        }
        Cause::ProxyFailure => {
            let proxy = s
                .proxy
                .as_deref()
                .map(|p| format!("the proxy {p}"))
                .unwrap_or_else(|| "its proxy".to_string());
            let how = match s.connection.as_deref() {
                Some("dns") => " (its name does not resolve)",
                Some("timeout") => " (timed out)",
                Some("refused") => " (connection refused)",
                Some("no_route") => " (no route)",
                Some("reset") => " (connection reset)",
                _ => "",
            };
            (
                format!("The node's runtime could not reach {registry} through {proxy}{how}: the proxy setting is wrong or the proxy refuses."),
                format!("Check the runtime's HTTP_PROXY/HTTPS_PROXY (a systemd drop-in for containerd, Docker or CRI-O): the proxy's address, scheme and credentials, or add {registry} to NO_PROXY if it should be reached directly."),
            )
        }
        Cause::InvalidReference => (
            format!("{image} is not a valid image reference, so kubelet never tried to pull it."),
            "Fix the image field: lower-case repository, no https:// scheme, one tag at most, registry host first.".to_string(),
        ),
        Cause::NeverPull => (
            format!("imagePullPolicy is Never and {image} is not present on the node."),
            format!("Load {image} onto every node the pod can run on, or set imagePullPolicy to IfNotPresent."),
        ),
        Cause::RegistryBlocked => (
            format!("The node's CRI-O refuses to pull from {registry}: a [[registry]] table in its registries.conf sets blocked = true, so no connection is made."),
            format!("Remove blocked = true for {registry} from /etc/containers/registries.conf or its registries.conf.d drop-in (then restart crio), or use an image from a registry the node may pull from."),
        ),
        Cause::RegistryPolicy => {
            use super::policy::{Objection, reading};
            let r = reading(&s.message);
            let whose = if r.harbor { "Harbor's project policy" } else { "the registry's own policy" };
            let change = match r.objection {
                Objection::Vulnerable => "rebuild or patch the image so it clears the policy's severity threshold, or have a project administrator add its CVEs to the CVE allowlist or relax the vulnerability prevention",
                Objection::NotScanned => "scan the image (or wait for its scan to finish), or have a project administrator relax the vulnerability prevention",
                Objection::Unsigned(_) => "sign the image as the project requires, or have a project administrator change its content-trust (signature) enforcement",
                Objection::Other => "change the image so it satisfies that policy, or have the registry's administrator exempt it or change the policy",
            };
            (
                format!("{registry} refuses to serve {image}{status} by {whose}: the image exists and the pull itself is allowed."),
                format!("Read the registry's sentence in the message, then {change}; no node or pull-secret change helps."),
            )
        }
        Cause::SignatureFailed => (
            format!("The node's image policy refused {image} because its signature is missing or does not verify."),
            format!("Sign {image} with a key the node's policy trusts, or review the node's signature policy (/etc/containers/policy.json)."),
        ),
        Cause::PullSecretMissing => {
            let names = if secrets.is_empty() {
                "a pull secret the pod names".to_string()
            } else {
                format!("the pull secret {}", secrets.join(", "))
            };
            (
                format!("kubelet could not read {names}, so the pull goes ahead without it."),
                "Create the secret in the pod's namespace, or fix its name in imagePullSecrets.".to_string(),
            )
        }
        Cause::DiskFull => (
            format!("The node ran out of disk space while storing {image}."),
            "Free space in the runtime's image store (prune unused images) or give the node more disk.".to_string(),
        ),
        Cause::RegistryServerError => (
            format!("{registry} answered with a server error{status} or cut the response short."),
            format!("Check the health of {registry} (and any proxy in front of it) and retry; the pull itself looks correctly configured."),
        ),
        Cause::Unknown if s.detail.is_none() && s.image.is_some() => (
            format!("kubelet reports that pulling {image} failed, but this text does not say why."),
            "Look at the Failed event or the container's waiting message for the pull error itself.".to_string(),
        ),
        Cause::Unknown => (
            "The text does not match a known image-pull failure; it is kept as is.".to_string(),
            "Read the raw message; probing the registry can show whether the image is pullable.".to_string(),
        ),
    };
    s.meaning = sentence(meaning);
    s.next_step = sentence(next);
}

/// Starts a sentence with a capital letter (`the registry …` when no host was named); a
/// sentence that opens with a name (`kubelet`, a host, an image) keeps it as written.
fn sentence(s: String) -> String {
    let first = s.split(' ').next().unwrap_or("");
    let name = first == "kubelet" || first.contains(['.', '/', ':']);
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_lowercase() && !name => {
            c.to_ascii_uppercase().to_string() + chars.as_str()
        }
        _ => s,
    }
}
