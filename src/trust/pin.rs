//! `--resolve HOST:PORT:ADDR`: an address chosen for a host name, as curl's `--resolve` does.
//!
//! curl (<https://curl.se/docs/manpage.html#--resolve>) connects to ADDR for HOST:PORT while the
//! name stays HOST for TLS (SNI and the certificate check) and for `Host:`. Users need it for a
//! registry behind split DNS, a name only the node's `/etc/hosts` knows, or one replica behind a
//! load balancer. A pin applies to every connection the probe makes to that host and port: the
//! registry, a token realm on another host, a redirect target.

use std::net::IpAddr;

use thiserror::Error;

/// Why a `--resolve` argument is unusable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PinError {
    /// Not three `:`-separated parts.
    #[error("--resolve {0:?}: expected HOST:PORT:ADDR, e.g. registry.example.com:443:10.0.0.5")]
    Shape(String),
    /// The host part is empty, a wildcard or not a host name.
    #[error("--resolve {given:?}: {host:?} is not a host name")]
    Host { given: String, host: String },
    /// The port is not 1–65535.
    #[error("--resolve {given:?}: port {port:?} is not a number from 1 to 65535")]
    Port { given: String, port: String },
    /// The address is not an IPv4 or IPv6 address.
    #[error("--resolve {given:?}: {addr:?} is not an IP address (IPv6 in brackets: [::1])")]
    Addr { given: String, addr: String },
}

/// One `--resolve` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// Lower case, without a trailing dot.
    pub host: String,
    pub port: u16,
    pub addr: IpAddr,
}

impl Pin {
    /// Parses `HOST:PORT:ADDR` (ADDR an IPv4 address, or IPv6 with or without brackets).
    pub fn parse(given: &str) -> Result<Pin, PinError> {
        let mut parts = given.splitn(3, ':');
        let (Some(host), Some(port), Some(addr)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(PinError::Shape(given.to_string()));
        };
        let host_ok = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
        if !host_ok {
            return Err(PinError::Host {
                given: given.to_string(),
                host: host.to_string(),
            });
        }
        let port_n = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| PinError::Port {
                given: given.to_string(),
                port: port.to_string(),
            })?;
        let bare = addr
            .strip_prefix('[')
            .and_then(|a| a.strip_suffix(']'))
            .unwrap_or(addr);
        let ip = bare.parse::<IpAddr>().map_err(|_| PinError::Addr {
            given: given.to_string(),
            addr: addr.to_string(),
        })?;
        Ok(Pin {
            host: host.trim_end_matches('.').to_ascii_lowercase(),
            port: port_n,
            addr: ip,
        })
    }

    /// Parses every `--resolve` argument; the first bad one is the error.
    pub fn parse_all(given: &[String]) -> Result<Vec<Pin>, PinError> {
        given.iter().map(|g| Pin::parse(g)).collect()
    }

    /// True when this pin is for `host` (any case, trailing dot ignored).
    pub fn is_for(&self, host: &str) -> bool {
        let h = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.');
        self.host.eq_ignore_ascii_case(h)
    }
}

impl std::fmt::Display for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.addr {
            IpAddr::V6(a) => write!(f, "{}:{}:[{a}]", self.host, self.port),
            IpAddr::V4(a) => write!(f, "{}:{}:{a}", self.host, self.port),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_curl_syntax() {
        let p = Pin::parse("Registry-1.Docker.io:443:127.0.0.7").unwrap();
        assert_eq!(p.host, "registry-1.docker.io");
        assert_eq!(p.port, 443);
        assert_eq!(p.addr.to_string(), "127.0.0.7");
        assert_eq!(p.to_string(), "registry-1.docker.io:443:127.0.0.7");
        let v6 = Pin::parse("reg.test:5000:[::1]").unwrap();
        assert_eq!(v6.addr.to_string(), "::1");
        assert_eq!(Pin::parse("reg.test:5000:::1").unwrap().addr, v6.addr);
        assert!(p.is_for("REGISTRY-1.docker.io."));
    }

    #[test]
    fn refuses_what_curl_would_not_use() {
        assert!(matches!(Pin::parse("reg.test"), Err(PinError::Shape(_))));
        assert!(matches!(
            Pin::parse("reg.test:443"),
            Err(PinError::Shape(_))
        ));
        assert!(matches!(
            Pin::parse(":443:127.0.0.1"),
            Err(PinError::Host { .. })
        ));
        assert!(matches!(
            Pin::parse("*:443:127.0.0.1"),
            Err(PinError::Host { .. })
        ));
        assert!(matches!(
            Pin::parse("reg.test:0:127.0.0.1"),
            Err(PinError::Port { .. })
        ));
        assert!(matches!(
            Pin::parse("reg.test:https:127.0.0.1"),
            Err(PinError::Port { .. })
        ));
        assert!(matches!(
            Pin::parse("reg.test:443:reg.other"),
            Err(PinError::Addr { .. })
        ));
        let e = Pin::parse("reg.test:443:10.0.0").unwrap_err().to_string();
        assert!(e.contains("not an IP address"), "{e}");
    }
}
