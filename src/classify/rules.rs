//! The decision: which cause the text supports, most specific first.
//!
//! The order encodes how a pull fails from the inside out. Kubelet's own verdicts (policy Never,
//! an unparsable reference, an unreadable secret) need no registry at all. A node-side failure
//! (disk, signature policy) comes next. Then the connection: if DNS, TLS or TCP failed, no HTTP
//! answer was ever read, so auth or not-found words earlier in the chain (`failed to authorize:
//! failed to fetch anonymous token: Get …: dial tcp: lookup …`) are only context. Only after that
//! do the registry's answers count, from the most to the least specific. Where the text cannot
//! tell two causes apart it says so with the ambiguous id, and the probe decides.

use super::text::{F, Scan};
use crate::taxonomy::Cause;

/// Facts the rules need besides the phrase scan.
pub struct Context<'a> {
    pub reason: Option<&'a str>,
    pub status: Option<u16>,
    /// Registry host of the image (`docker.io` for Docker Hub) or of the failing URL.
    pub registry: Option<&'a str>,
    /// Where Docker's `repository NAME not found` starts, if the text has it.
    pub repository_not_found: Option<usize>,
    /// Where the registry's policy refusal starts, if the text has one (`policy::refused`).
    pub policy: Option<usize>,
}

/// The cause, and where in the text its evidence starts.
pub fn decide(scan: &Scan, ctx: &Context<'_>) -> (Cause, Option<usize>) {
    let reason = |r: &str| ctx.reason.is_some_and(|x| x.eq_ignore_ascii_case(r));
    let at = |f: F| scan.first(f);
    let status = ctx.status;

    // Kubelet decided before asking any registry.
    if scan.has(F::NeverPull) || reason("ErrImageNeverPull") {
        return (Cause::NeverPull, at(F::NeverPull));
    }
    if scan.has(F::InvalidRef) || reason("InvalidImageName") {
        return (Cause::InvalidReference, at(F::InvalidRef));
    }
    if scan.has(F::PullSecret) || reason("FailedToRetrieveImagePullSecret") {
        return (Cause::PullSecretMissing, at(F::PullSecret));
    }
    // The node refused or could not store the image.
    if scan.has(F::DiskFull) {
        return (Cause::DiskFull, at(F::DiskFull));
    }
    if scan.has(F::Blocked) {
        return (Cause::RegistryBlocked, at(F::Blocked));
    }
    if scan.has(F::Signature) || reason("SignatureValidationFailed") {
        return (Cause::SignatureFailed, at(F::Signature));
    }
    // The connection failed: nothing the registry said was read. A failure on the way to the
    // runtime's proxy (refused, unresolvable, wrong scheme, 407) is the proxy setting's, whatever
    // the network error under it says.
    if scan.has(F::Proxy) {
        return (Cause::ProxyFailure, at(F::Proxy));
    }
    if scan.has(F::Dns) {
        return (Cause::DnsFailure, at(F::Dns));
    }
    if let Some(tls) = tls(scan) {
        return tls;
    }
    if scan.has(F::HttpToHttps) {
        return (Cause::HttpToHttps, at(F::HttpToHttps));
    }
    if scan.has(F::Network) {
        return (Cause::NetworkUnreachable, at(F::Network));
    }
    // The registry answered. A refusal by its own policy (Harbor's 412 PROJECTPOLICYVIOLATION)
    // names the image's content, not the credentials or the path: it comes first.
    if let Some(at) = ctx.policy {
        return (Cause::RegistryPolicy, Some(at));
    }
    if scan.has(F::RateLimit) || status == Some(429) {
        return (Cause::RateLimited, at(F::RateLimit));
    }
    if scan.has(F::Platform) {
        return (Cause::PlatformMismatch, at(F::Platform));
    }
    if let Some(auth) = auth(scan, status) {
        return auth;
    }
    if scan.has(F::NameUnknown) {
        return (Cause::NotFoundRepo, at(F::NameUnknown));
    }
    // Docker's `repository NAME not found` names the repository itself.
    if let Some(pos) = ctx.repository_not_found {
        return (Cause::NotFoundRepo, Some(pos));
    }
    // A digest missing from the node's content store during unpack is no registry answer.
    let local = scan
        .first(F::LocalUnpack)
        .is_some_and(|u| scan.last(F::NotFound).is_some_and(|n| n > u));
    if local {
        return (Cause::Unknown, None);
    }
    if scan.has(F::ManifestUnknown)
        || scan.has(F::NotFound)
        || scan.has(F::TagNotFound)
        || status == Some(404)
    {
        let evidence = at(F::ManifestUnknown).or(at(F::NotFound));
        return (not_found(scan, ctx.registry), evidence);
    }
    if scan.has(F::ServerError) || status.is_some_and(|s| (500..600).contains(&s)) {
        return (Cause::RegistryServerError, at(F::ServerError));
    }
    (Cause::Unknown, None)
}

/// The TLS failure, when the text shows one; the last one wins when several appear.
fn tls(scan: &Scan) -> Option<(Cause, Option<usize>)> {
    [
        (F::TlsName, Cause::TlsHostnameMismatch),
        (F::TlsExpired, Cause::TlsExpired),
        (F::TlsUnknownCa, Cause::TlsUnknownAuthority),
    ]
    .into_iter()
    .filter_map(|(f, cause)| scan.last(f).map(|pos| (pos, cause, scan.first(f))))
    .max_by_key(|(pos, _, _)| *pos)
    .map(|(_, cause, first)| {
        // Go prefixes the detail with `x509: `; show the error from there.
        let start = scan
            .first(F::Tls)
            .filter(|t| first.is_some_and(|f| *t <= f));
        (cause, start.or(first))
    })
}

/// The registry refused: which way.
fn auth(scan: &Scan, status: Option<u16>) -> Option<(Cause, Option<usize>)> {
    let at = |f: F| scan.first(f);
    // Credentials were sent and rejected. An oauth token request carries credentials; an
    // anonymous one does not.
    if scan.has(F::AuthInvalid) {
        return Some((Cause::AuthInvalidCredentials, at(F::AuthInvalid)));
    }
    if scan.has(F::OauthToken) && (status == Some(401) || scan.has(F::Unauthorized)) {
        return Some((Cause::AuthInvalidCredentials, at(F::OauthToken)));
    }
    // A Basic challenge with nothing to answer it: credentials are simply missing.
    if scan.has(F::NoBasicAuth) {
        return Some((Cause::AuthRequired, at(F::NoBasicAuth)));
    }
    // Docker Hub and friends answer a missing and a private repository the same way.
    if scan.has(F::AuthOrNotFound) {
        return Some((Cause::AuthOrNotFound, at(F::AuthOrNotFound)));
    }
    if scan.has(F::AnonToken) && status == Some(403) {
        return Some((Cause::AuthOrNotFound, at(F::AnonToken)));
    }
    if scan.has(F::Unauthenticated) {
        return Some((Cause::AuthRequired, at(F::Unauthenticated)));
    }
    // The registry's DENIED code (distribution spec: "requested access to the resource is
    // denied"), when nothing above explained it: the request was understood and refused.
    if scan.has(F::CodeDenied) && !scan.has(F::Unauthorized) {
        return Some((Cause::AuthForbidden, at(F::CodeDenied)));
    }
    if scan.has(F::Forbidden) || status == Some(403) {
        return Some((Cause::AuthForbidden, at(F::Forbidden)));
    }
    if scan.has(F::Unauthorized)
        || status == Some(401)
        || (scan.has(F::AnonToken) && status.is_some())
    {
        return Some((
            Cause::AuthRequired,
            at(F::Unauthorized).or(at(F::AnonToken)),
        ));
    }
    None
}

/// Tag or repository, when the text can tell.
///
/// Docker Hub answers a pull of a repository that does not exist with 401 (hence Docker's
/// "repository does not exist or may require 'docker login'"), so a plain not-found from Hub means
/// the repository exists and the tag does not. A `failed to copy` not-found comes after the
/// reference resolved, so the repository exists there too. Elsewhere registries answer
/// MANIFEST_UNKNOWN for both, and the probe has to ask `tags/list`.
fn not_found(scan: &Scan, registry: Option<&str>) -> Cause {
    let hub = registry
        .is_some_and(|r| r == "docker.io" || r == "registry-1.docker.io" || r == "index.docker.io");
    // Old Docker: `Tag T not found in repository R`.
    if scan.has(F::TagNotFound) {
        return Cause::NotFoundTag;
    }
    let resolved = scan
        .first(F::FailedCopy)
        .is_some_and(|c| scan.last(F::NotFound).is_some_and(|n| n > c));
    if hub || resolved {
        Cause::NotFoundTag
    } else {
        Cause::NotFound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cause(text: &str, registry: Option<&str>) -> Cause {
        let scan = Scan::of(text);
        let status = super::super::extract::http_status(text, &scan);
        let ctx = Context {
            reason: None,
            status,
            registry,
            repository_not_found: super::super::extract::repository_not_found(text),
            policy: super::super::policy::refused(text, &scan, status),
        };
        decide(&scan, &ctx).0
    }

    #[test]
    fn connection_failures_beat_auth_context() {
        let t = "failed to authorize: failed to fetch anonymous token: Get \"https://ghcr.io/token\": dial tcp: lookup ghcr.io on 127.0.0.53:53: read udp: i/o timeout";
        assert_eq!(cause(t, None), Cause::DnsFailure);
        let t = "failed to fetch oauth token: Post \"https://auth.test/token\": x509: certificate has expired or is not yet valid";
        assert_eq!(cause(t, None), Cause::TlsExpired);
    }

    #[test]
    fn proxy_failures_beat_the_network_error_under_them() {
        let t = "Get https://registry-1.docker.io/v2/: proxyconnect tcp: dial tcp: lookup proxy.test on 127.0.0.53:53: no such host";
        assert_eq!(cause(t, None), Cause::ProxyFailure);
        let t = "Get https://r.test/v2/: http: error connecting to proxy http://127.0.0.1:3128: dial tcp 127.0.0.1:3128: connection refused";
        assert_eq!(cause(t, None), Cause::ProxyFailure);
        let t = "Get \"https://r.test/v2/\": net/http: request canceled (Client.Timeout exceeded while awaiting headers)";
        assert_eq!(cause(t, None), Cause::NetworkUnreachable);
    }

    #[test]
    fn auth_shades() {
        assert_eq!(
            cause(
                "failed to fetch oauth token: unexpected status: 401 Unauthorized",
                None
            ),
            Cause::AuthInvalidCredentials
        );
        assert_eq!(
            cause(
                "failed to fetch anonymous token: unexpected status: 401 Unauthorized",
                None
            ),
            Cause::AuthRequired
        );
        assert_eq!(
            cause(
                "failed to fetch anonymous token: unexpected status from GET request to https://ghcr.io/token?scope=x: 403 Forbidden",
                None
            ),
            Cause::AuthOrNotFound
        );
        assert_eq!(
            cause(
                "pull access denied, repository does not exist or may require authorization: authorization failed: no basic auth credentials",
                None
            ),
            Cause::AuthRequired
        );
        assert_eq!(
            cause(
                "pull access denied for x, repository does not exist or may require 'docker login': denied: requested access to the resource is denied",
                None
            ),
            Cause::AuthOrNotFound
        );
        assert_eq!(
            cause(
                "unexpected status from HEAD request to https://r.test/v2/a/manifests/1: 403 Forbidden",
                None
            ),
            Cause::AuthForbidden
        );
    }

    #[test]
    fn not_found_is_only_specific_when_the_registry_says_so() {
        let t = "manifest for a/b:1 not found: manifest unknown: manifest unknown";
        assert_eq!(cause(t, Some("docker.io")), Cause::NotFoundTag);
        assert_eq!(cause(t, Some("quay.io")), Cause::NotFound);
        assert_eq!(
            cause(
                "errors: name unknown: repository name not known to registry",
                None
            ),
            Cause::NotFoundRepo
        );
    }

    #[test]
    fn a_412_without_a_policy_body_stays_what_it_was() {
        // containerd's HEAD shows no body: nothing says policy, so nothing is claimed.
        let t = "failed to resolve reference \"h.test/a/b:1\": unexpected status from HEAD request to https://h.test/v2/a/b/manifests/1: 412 Precondition Failed";
        assert_eq!(cause(t, None), Cause::Unknown);
        let t = "failed open: unexpected status code https://h.test/v2/a/b/manifests/1: 412 Precondition Failed - Server message: unknown: current image with 2 vulnerabilities cannot be pulled due to configured policy in 'Prevent images with vulnerability severity of \"High\" or higher from running.'";
        assert_eq!(cause(t, None), Cause::RegistryPolicy);
    }

    #[test]
    fn daemon_wrapper_status_is_not_a_server_error() {
        let t =
            "API error (500): Get https://r.test/v2/x/manifests/latest: no basic auth credentials";
        assert_eq!(cause(t, None), Cause::AuthRequired);
        assert_eq!(cause("Error: ErrImagePull", None), Cause::Unknown);
        assert_eq!(
            cause(
                "Error reading signatures: received unexpected HTTP status: 500 Internal Server Error",
                None
            ),
            Cause::RegistryServerError
        );
    }
}
