//! The verdict's sentences for the CI user of `pulldoctor image` (`Audience::Ci`).
//!
//! A CI job has no node, kubelet or runtime to fix: what it changes is its own flags
//! (`--ca-file`, `--plain-http`, `--platform`, `--creds`, `--authfile`) or the registry's
//! login. Causes whose cluster sentence names none of those keep it (`None` here), and so do
//! the causes a node's files decide when `--node-root` supplied them.

use super::evidence::Evidence;
use crate::taxonomy::Cause;

/// One sentence on why the pull fails, for the CI user; `None` when the cluster one fits.
///
/// Under `--node-root` the trust, the proxy and the plain-HTTP endpoints are the node's, read
/// from its files: what fails there is the node's runtime, and the cluster sentence says so.
pub(super) fn summary(cause: Cause, ev: &Evidence, registry: &str) -> Option<String> {
    let on_node = matches!(&ev.probe, super::evidence::ProbeFacts::Ran(p) if p.on_node);
    if on_node
        && matches!(
            cause,
            Cause::TlsUnknownAuthority | Cause::HttpToHttps | Cause::ProxyFailure
        )
    {
        return None;
    }
    let sources = || {
        let mut tried: Vec<&str> = ev
            .credentials
            .iter()
            .flat_map(|c| &c.tried)
            .map(|t| t.source.as_str())
            .collect();
        tried.dedup();
        if tried.is_empty() {
            "--creds or --authfile".to_string()
        } else {
            tried.join(", ")
        }
    };
    Some(match cause {
        Cause::TlsUnknownAuthority => format!(
            "The CA that signed {registry}'s certificate is not trusted: neither --ca-file nor the system roots hold it."
        ),
        Cause::HttpToHttps => format!(
            "{registry} speaks plain HTTP, but the check connects with HTTPS (--plain-http does not name it)."
        ),
        Cause::AuthRequired => format!(
            "{registry} requires credentials and the check sends none that match (--creds, --authfile)."
        ),
        // No credentials were sent: only the token the registry's own server issued was refused.
        Cause::AuthInvalidCredentials if ev.credentials.iter().all(|c| c.tried.is_empty()) => {
            format!(
                "{registry} refuses the token its own token server issued; no password is involved."
            )
        }
        Cause::AuthInvalidCredentials => format!(
            "{registry} rejects the username or password from {}.",
            sources()
        ),
        Cause::PlatformMismatch => {
            "The image has no variant for the OS and architecture --platform asks for.".to_string()
        }
        Cause::DnsFailure => format!("{registry} does not resolve from where the check runs."),
        Cause::NetworkUnreachable => {
            format!("The check cannot connect to {registry} from where it runs.")
        }
        Cause::ProxyFailure => format!(
            "The check cannot reach {registry} through its proxy (HTTPS_PROXY): the proxy setting is wrong or the proxy refuses."
        ),
        Cause::NeverPull => "imagePullPolicy is Never: nothing is pulled.".to_string(),
        Cause::DiskFull => "There is no room left to store the image.".to_string(),
        _ => return None,
    })
}

/// The healthy sentence for the CI user.
pub(super) const PULLABLE: &str = "The image can be pulled with the given credentials and trust.";
