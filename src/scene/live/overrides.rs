//! kubectl's connection flags (`--server`, `--token`, `--as`, `--certificate-authority`, …)
//! applied over the kubeconfig, as client-go's `ConfigOverrides` applies them for kubectl.
//!
//! What client-go does, and so what is done here
//! (<https://kubernetes.io/docs/reference/kubectl/kubectl/>): each flag replaces the
//! kubeconfig's value; a CA file replaces the cluster's inline CA data; a client certificate or
//! key file replaces the inline data; `--insecure-skip-tls-verify` with no CA flag drops the
//! cluster's CA, and with one is refused; `--as-group`/`--as-uid` need `--as`. `--token`
//! replaces the user's other credentials (token file, exec plugin, basic auth) and is
//! remembered by the scrubber before anything can echo it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kube::Config;
use kube::config::Kubeconfig;
use secrecy::SecretString;

use crate::limits::{MAX_PEM, read_capped};
use crate::redacted::Redacted;
use crate::{Error, Result};

/// The flags, resolved; all empty means the kubeconfig alone decides.
#[derive(Debug, Clone, Default)]
pub struct KubeOverrides {
    /// `--as`.
    pub as_user: Option<String>,
    /// `--as-group`, in order.
    pub as_groups: Vec<String>,
    /// `--as-uid`.
    pub as_uid: Option<String>,
    /// `--token`.
    pub token: Option<Redacted>,
    /// `--server`.
    pub server: Option<String>,
    /// `--certificate-authority`.
    pub certificate_authority: Option<PathBuf>,
    /// `--client-certificate`.
    pub client_certificate: Option<PathBuf>,
    /// `--client-key`.
    pub client_key: Option<PathBuf>,
    /// `--user`: the kubeconfig user to use.
    pub user: Option<String>,
    /// `--cluster`: the kubeconfig cluster to use.
    pub cluster: Option<String>,
    /// `--insecure-skip-tls-verify`.
    pub insecure: bool,
}

impl KubeOverrides {
    /// Refuses what kubectl refuses before it sends anything, in its words.
    pub fn check(&self) -> Result<()> {
        if self.as_user.as_deref().is_none_or(str::is_empty)
            && (!self.as_groups.is_empty() || self.as_uid.is_some())
        {
            return Err(Error::Usage(
                "requesting uid, groups or user-extra for  without impersonating a user".into(),
            ));
        }
        if self.insecure && self.certificate_authority.is_some() {
            return Err(Error::Usage(
                "specifying a root certificates file with the insecure flag is not allowed".into(),
            ));
        }
        Ok(())
    }

    /// Checks that `--user` and `--cluster` name entries of the kubeconfig (kube would quietly
    /// use an empty user instead).
    pub fn check_names(&self, kc: &Kubeconfig) -> Result<()> {
        if let Some(u) = &self.user
            && !kc.auth_infos.iter().any(|a| &a.name == u)
        {
            return Err(Error::Kubeconfig(format!(
                "auth info \"{u}\" does not exist"
            )));
        }
        if let Some(c) = &self.cluster
            && !kc.clusters.iter().any(|n| &n.name == c)
        {
            return Err(Error::Kubeconfig(format!(
                "no server found for cluster \"{c}\""
            )));
        }
        Ok(())
    }

    /// A starting config when there is no kubeconfig but `--server` says where to go.
    pub fn bare_config(&self) -> Option<Result<Config>> {
        let server = self.server.as_deref()?;
        Some(server_uri(server).map(Config::new))
    }

    /// Applies the flags to a config built from the kubeconfig.
    pub fn apply(&self, config: &mut Config) -> Result<()> {
        if let Some(s) = &self.server {
            config.cluster_url = server_uri(s)?;
        }
        if let Some(ca) = &self.certificate_authority {
            config.root_cert = Some(read_certificates(ca)?);
        } else if self.insecure {
            config.root_cert = None;
        }
        if self.insecure {
            config.accept_invalid_certs = true;
        }
        let auth = &mut config.auth_info;
        if let Some(token) = &self.token {
            auth.token = Some(SecretString::from(token.expose().to_string()));
            auth.token_file = None;
            auth.exec = None;
            auth.auth_provider = None;
            auth.username = None;
            auth.password = None;
        }
        if let Some(cert) = &self.client_certificate {
            auth.client_certificate = Some(path_text(cert));
            auth.client_certificate_data = None;
        }
        if let Some(key) = &self.client_key {
            auth.client_key = Some(path_text(key));
            auth.client_key_data = None;
        }
        if let Some(user) = self.as_user.as_ref().filter(|u| !u.is_empty()) {
            auth.impersonate = Some(user.clone());
        }
        if !self.as_groups.is_empty() {
            auth.impersonate_groups = Some(self.as_groups.clone());
        }
        if let Some(uid) = &self.as_uid {
            auth.impersonate_uid = Some(uid.clone());
        }
        Ok(())
    }
}

fn path_text(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// `--server` as kubectl takes it: a URL, or a bare `host:port` (then HTTPS).
fn server_uri(server: &str) -> Result<http::Uri> {
    let with_scheme = if server.contains("://") {
        server.to_string()
    } else {
        format!("https://{server}")
    };
    with_scheme
        .parse::<http::Uri>()
        .ok()
        .filter(|u| u.host().is_some_and(|h| !h.is_empty()))
        .ok_or_else(|| Error::Usage(format!("--server: not a URL: {server}")))
}

/// The DER certificates of a PEM file, size-capped like every file a kubeconfig names.
fn read_certificates(path: &Path) -> Result<Vec<Vec<u8>>> {
    let bytes = read_capped(path, MAX_PEM, "a certificate authority")
        .map_err(|e| Error::Kubeconfig(e.to_string()))?;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let certs: Vec<Vec<u8>> = CertificateDer::pem_slice_iter(&bytes)
        .filter_map(std::result::Result::ok)
        .map(|c| c.as_ref().to_vec())
        .collect();
    if certs.is_empty() {
        return Err(Error::Kubeconfig(format!(
            "{}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(certs)
}

/// kubectl's `--request-timeout`: a bare number of seconds, or Go's duration (`500ms`,
/// `30s`, `1m30s`, `1h`); `0` means no deadline, capped here at an hour.
pub fn request_timeout(text: &str) -> Result<Duration> {
    let bad = || {
        Error::Usage(
            "Invalid timeout value. Timeout must be a single integer in seconds, or an integer \
             followed by a corresponding time unit (e.g. 1s | 2m | 3h)"
                .into(),
        )
    };
    let t = text.trim();
    let total = if let Ok(secs) = t.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let mut total = Duration::ZERO;
        let mut rest = t;
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit() && c != '.')
                .unwrap_or(rest.len());
            let n: f64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let unit_len = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let scale = match &rest[..unit_len] {
                "h" => 3600.0,
                "m" => 60.0,
                "s" => 1.0,
                "ms" => 0.001,
                _ => return Err(bad()),
            };
            total += Duration::from_secs_f64(n * scale);
            rest = &rest[unit_len..];
        }
        total
    };
    Ok(if total.is_zero() {
        Duration::from_secs(3600)
    } else {
        total.min(Duration::from_secs(3600))
    })
}

/// The kubeconfig kubectl would read, merged, for `--user`/`--cluster` checks; `None` when
/// there is none to read (kube reports that itself).
pub fn read_kubeconfig(explicit: Option<&Path>) -> Option<Kubeconfig> {
    match explicit {
        Some(p) => Kubeconfig::read_from(p).ok(),
        None => Kubeconfig::read().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_timeouts_read_like_kubectl() {
        assert_eq!(request_timeout("5").unwrap(), Duration::from_secs(5));
        assert_eq!(request_timeout("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(
            request_timeout("500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(request_timeout("0").unwrap(), Duration::from_secs(3600));
        assert!(request_timeout("3x").is_err() && request_timeout("").is_err());
    }

    #[test]
    fn impersonating_groups_needs_a_user() {
        let o = KubeOverrides {
            as_groups: vec!["g".into()],
            ..KubeOverrides::default()
        };
        assert!(
            o.check()
                .unwrap_err()
                .to_string()
                .contains("without impersonating a user")
        );
    }
}
