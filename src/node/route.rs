//! The node runtime's proxy as the probe applies it: [`Route`] from the unit's environment,
//! and the proxy variables that do not parse, kept with the file and line that set them.
//!
//! Go's `httpproxy` (<https://pkg.go.dev/golang.org/x/net/http/httpproxy>) reads
//! `HTTPS_PROXY`/`https_proxy` and `HTTP_PROXY`/`http_proxy` (upper case first) and
//! `NO_PROXY`/`no_proxy`; a value it cannot parse fails every request of that scheme whose host
//! `NO_PROXY` does not exempt ("invalid proxy address"), so such a value is the cause of the
//! pull's failure, not a detail. So is a scheme Go's transport does not speak (`socks4://`,
//! `ftp://`): Go 1.23+ keeps it and speaks HTTP to that address, older Go reads it as
//! `http://socks4:`, a proxy named after the scheme; either way every request fails.

use super::proxy::{Var, bypass, mask, parse_proxy, unsupported_scheme};
use crate::trust::Route;

/// A proxy variable whose value does not parse as a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadProxy {
    /// `https` or `http`: the URLs it is used for.
    pub scheme: &'static str,
    /// `HTTPS_PROXY`, `http_proxy`, …
    pub variable: String,
    /// The value, a password in it masked.
    pub value: String,
    /// Why it does not parse, or why the runtime cannot use it.
    pub why: String,
    /// True when the URL parses but names a scheme Go's transport does not speak.
    pub unsupported: bool,
    pub file: String,
    pub line: u32,
}

impl BadProxy {
    /// `FILE line N`.
    pub fn source(&self) -> String {
        format!("{} line {}", self.file, self.line)
    }
}

/// The route the unit's environment gives, and the proxy variables that do not parse.
pub fn route(env: &[Var]) -> (Route, Vec<BadProxy>) {
    let get = |names: [&str; 2]| {
        names
            .iter()
            .find_map(|n| env.iter().find(|v| v.name == *n))
            .filter(|v| !v.value.is_empty())
    };
    let mut route = Route {
        no_proxy: get(["NO_PROXY", "no_proxy"])
            .map(|v| v.value.clone())
            .unwrap_or_default(),
        ..Route::default()
    };
    let mut bad = Vec::new();
    for (scheme, names) in [
        ("https", ["HTTPS_PROXY", "https_proxy"]),
        ("http", ["HTTP_PROXY", "http_proxy"]),
    ] {
        let Some(var) = get(names) else { continue };
        let from = format!("{} ({} line {})", var.name, var.file, var.line);
        let parsed = parse_proxy(&var.value).map_err(|why| (why, false));
        let parsed = parsed.and_then(|u| match unsupported_scheme(u.scheme()) {
            Some(why) => Err((why, true)),
            None => Ok(u),
        });
        let at = Some((var.file.clone(), var.line));
        match parsed {
            Ok(u) if scheme == "https" => {
                (route.https_proxy, route.https_from, route.https_at) = (Some(u), from, at)
            }
            Ok(u) => (route.http_proxy, route.http_from, route.http_at) = (Some(u), from, at),
            Err((why, unsupported)) => bad.push(BadProxy {
                scheme,
                variable: var.name.clone(),
                value: mask(&var.value),
                why,
                unsupported,
                file: var.file.clone(),
                line: var.line,
            }),
        }
    }
    (route, bad)
}

/// The unparsable proxy variable a request to `url` would go through, if any.
pub fn bad_for<'a>(bad: &'a [BadProxy], route: &Route, url: &url::Url) -> Option<&'a BadProxy> {
    let b = bad.iter().find(|b| b.scheme == url.scheme())?;
    let host = url.host_str()?.trim_matches(['[', ']']);
    let port = url.port_or_known_default()?;
    bypass(&route.no_proxy, host, port).is_none().then_some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, value: &str, line: u32) -> Var {
        Var {
            name: name.into(),
            value: value.into(),
            file: "/etc/systemd/system/containerd.service.d/http-proxy.conf".into(),
            line,
        }
    }

    #[test]
    fn upper_case_first_and_bad_values_kept_with_their_line() {
        let env = [
            var("https_proxy", "http://lower:1", 1),
            var("HTTPS_PROXY", "http://user:pw@proxy:31 28", 2),
            var("http_proxy", "proxy.example.com:3128", 3),
            var("NO_PROXY", ".svc", 4),
        ];
        let (r, bad) = route(&env);
        assert_eq!(r.https_proxy, None);
        assert_eq!(
            r.http_proxy.as_ref().map(|u| u.as_str()),
            Some("http://proxy.example.com:3128/")
        );
        assert_eq!((bad[0].variable.as_str(), bad[0].line), ("HTTPS_PROXY", 2));
        assert!(!bad[0].value.contains("pw"), "{}", bad[0].value);
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert!(bad_for(&bad, &r, &u("https://reg.example.com/v2/")).is_some());
        assert!(bad_for(&bad, &r, &u("https://reg.svc/v2/")).is_none());
        assert!(bad_for(&bad, &r, &u("http://reg.example.com/v2/")).is_none());
    }

    #[test]
    fn socks5_is_a_route_and_socks4_a_bad_proxy() {
        let (r, bad) = route(&[
            var("HTTPS_PROXY", "socks5://u:pw@127.0.0.1:1080", 1),
            var("HTTP_PROXY", "socks4://127.0.0.1:1080", 2),
        ]);
        assert_eq!(r.https_proxy.as_ref().map(|u| u.scheme()), Some("socks5"));
        assert_eq!((bad[0].scheme, bad[0].unsupported), ("http", true));
        assert!(bad[0].why.contains("socks4://"), "{}", bad[0].why);
        assert!(unsupported_scheme("socks5h").is_none());
        assert!(unsupported_scheme("ftp").is_some());
    }
}
