//! How the node's runtime routes one request: through its proxy, or directly.
//!
//! The runtimes are Go programs whose HTTP transport asks `http.ProxyFromEnvironment` per
//! request (golang.org/x/net/http/httpproxy, <https://pkg.go.dev/golang.org/x/net/http/httpproxy>):
//! an `https` URL goes through `HTTPS_PROXY`, an `http` URL through `HTTP_PROXY` (neither falls
//! back to the other), unless `NO_PROXY` or the loopback rule exempts its host. HTTPS is
//! tunnelled with `CONNECT host:port`; TLS runs end to end inside the tunnel, so SNI and the
//! certificate check still use the registry's name, and the proxy, not the node, resolves it.
//! A [`Route`] answers that question for every URL the probe opens: the registry, a token
//! realm elsewhere, a redirect target. A `socks5://` or `socks5h://` proxy carries the
//! connection instead (Go's `net/http` speaks SOCKS5, RFC 1928, with the URL's user and
//! password as RFC 1929 credentials); TLS still runs end to end inside it.

/// The proxies the node's runtime uses, with the `NO_PROXY` list that exempts hosts from them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// `HTTPS_PROXY`, parsed: used for `https` URLs.
    pub https_proxy: Option<url::Url>,
    /// `HTTP_PROXY`, parsed: used for `http` URLs.
    pub http_proxy: Option<url::Url>,
    /// `NO_PROXY` as written.
    pub no_proxy: String,
    /// Where each proxy was set, for people: `HTTPS_PROXY (FILE line N)`.
    pub https_from: String,
    pub http_from: String,
    /// The same places as a file and a line, for a fix that edits them.
    pub https_at: Option<(String, u32)>,
    pub http_at: Option<(String, u32)>,
}

impl Route {
    /// The proxy a Go runtime sends `url` through; None = direct.
    pub fn proxy_for(&self, url: &url::Url) -> Option<url::Url> {
        let proxy = match url.scheme() {
            "https" => self.https_proxy.as_ref(),
            "http" => self.http_proxy.as_ref(),
            _ => None,
        }?;
        let host = url.host_str()?.trim_matches(['[', ']']);
        let port = url.port_or_known_default()?;
        if crate::node::proxy::bypass(&self.no_proxy, host, port).is_some() {
            return None;
        }
        Some(proxy.clone())
    }

    /// The proxy URL as the probe's client dials it: a `socks5://` proxy becomes `socks5h://`,
    /// because Go's SOCKS dialer sends the target's host name to the proxy and never looks it
    /// up itself (golang.org/x/net/internal/socks), which is what `socks5h` means to reqwest.
    pub fn dial_for(&self, url: &url::Url) -> Option<url::Url> {
        let mut proxy = self.proxy_for(url)?;
        if proxy.scheme() == "socks5" {
            let _ = proxy.set_scheme("socks5h");
        }
        // Go's SOCKS port when the URL names none.
        if proxy.scheme() == "socks5h" && proxy.port().is_none() {
            let _ = proxy.set_port(Some(1080));
        }
        Some(proxy)
    }

    /// Where the proxy for `url`'s scheme was set.
    pub fn from_for(&self, url: &url::Url) -> &str {
        if url.scheme() == "https" {
            &self.https_from
        } else {
            &self.http_from
        }
    }

    /// The file and line that set the proxy for `url`'s scheme.
    pub fn at_for(&self, url: &url::Url) -> Option<&(String, u32)> {
        if url.scheme() == "https" {
            self.https_at.as_ref()
        } else {
            self.http_at.as_ref()
        }
    }

    /// True when no URL would be proxied.
    pub fn is_direct(&self) -> bool {
        self.https_proxy.is_none() && self.http_proxy.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_picks_the_variable_and_no_proxy_exempts() {
        let r = Route {
            https_proxy: Some(url::Url::parse("http://127.0.0.1:3128").unwrap()),
            http_proxy: None,
            no_proxy: ".corp.example".into(),
            ..Route::default()
        };
        let via = |u: &str| r.proxy_for(&url::Url::parse(u).unwrap());
        assert!(via("https://registry.example.com/v2/").is_some());
        assert!(
            via("http://registry.example.com/v2/").is_none(),
            "no HTTP_PROXY"
        );
        assert!(via("https://reg.corp.example:5000/v2/").is_none());
        assert!(via("https://127.0.0.1:5000/v2/").is_none(), "loopback");
        assert!(!r.is_direct());
        let socks = Route {
            https_proxy: Some(url::Url::parse("socks5://u:p@127.0.0.1:1080").unwrap()),
            ..Route::default()
        };
        let u = url::Url::parse("https://registry.example.com/v2/").unwrap();
        assert_eq!(
            socks.dial_for(&u).map(|p| p.to_string()),
            Some("socks5h://u:p@127.0.0.1:1080".into())
        );
        let bare = Route {
            https_proxy: Some(url::Url::parse("socks5://proxy.example.com").unwrap()),
            ..Route::default()
        };
        assert_eq!(
            bare.dial_for(&u).and_then(|p| p.port()),
            Some(1080),
            "Go's default SOCKS port"
        );
    }
}
