//! The proxy a runtime uses: `Environment=` and `EnvironmentFile=` of its systemd unit and
//! drop-ins, judged with Go's proxy rules.
//!
//! Reproduces systemd.unit(5) / systemd.exec(5) (<https://www.freedesktop.org/software/systemd/man/latest/systemd.exec.html>):
//! the unit file from `/etc/systemd/system`, else `/run/systemd/system`, else
//! `/usr/lib/systemd/system` / `/lib/systemd/system`; then every `<unit>.d/*.conf` drop-in of
//! those directories in file-name order (a name in `/etc` hides the same name elsewhere);
//! `Environment=` takes space-separated assignments with double or single quotes, an empty
//! `Environment=` clears the list, and `EnvironmentFile=` (`-` = optional) values override it.
//! The runtimes are Go programs: `HTTPS_PROXY`/`https_proxy` (upper case first) and
//! `NO_PROXY` are read as golang.org/x/net/http/httpproxy reads them — loopback and
//! `localhost` are never proxied, `NO_PROXY` entries are domain suffixes (`.x` and `*.x` too),
//! IPs, CIDRs, with an optional port, or `*`; an unparsable proxy URL, or one whose scheme is
//! not http, https, socks5 or socks5h, fails every request it would carry (`route.rs` applies
//! all this to the probe).

use std::net::IpAddr;

use super::files::{NodeFileError, NodeRoot, join};
use super::model::{Finding, Proxy};

const UNIT_DIRS: [&str; 4] = [
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
];

/// One variable with the file and line that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    pub name: String,
    pub value: String,
    pub file: String,
    pub line: u32,
}

/// The `Environment=` and `EnvironmentFile=` lines of one unit file or drop-in, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    Env(Vec<Var>),
    Reset,
    File {
        path: String,
        optional: bool,
        line: u32,
    },
}

/// Parses the `[Service]` settings of a unit file; errors name the file and line.
pub fn parse_unit(text: &str, path: &str) -> Result<Vec<Setting>, NodeFileError> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut logical = String::new();
    let mut start = 0u32;
    for (i, raw) in text.lines().enumerate() {
        let n = i as u32 + 1;
        if logical.is_empty() {
            start = n;
        }
        if let Some(cont) = raw.strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(raw);
        let line = std::mem::take(&mut logical);
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if t.starts_with('[') {
            section = t.trim_matches(['[', ']']).to_string();
            continue;
        }
        if section != "Service" {
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            return Err(NodeFileError::new(
                path,
                Some(start),
                "not a KEY=VALUE line",
            ));
        };
        match k.trim() {
            "Environment" if v.trim().is_empty() => out.push(Setting::Reset),
            "Environment" => {
                let words =
                    split_quoted(v.trim()).map_err(|e| NodeFileError::new(path, Some(start), e))?;
                let mut vars = Vec::new();
                for w in words {
                    let Some((name, value)) = w.split_once('=') else {
                        return Err(NodeFileError::new(
                            path,
                            Some(start),
                            format!("Environment= assignment {w:?} has no '='"),
                        ));
                    };
                    vars.push(Var {
                        name: name.to_string(),
                        value: value.to_string(),
                        file: path.to_string(),
                        line: start,
                    });
                }
                out.push(Setting::Env(vars));
            }
            "EnvironmentFile" => {
                let v = v.trim();
                let (optional, p) = match v.strip_prefix('-') {
                    Some(p) => (true, p),
                    None => (false, v),
                };
                out.push(Setting::File {
                    path: p.to_string(),
                    optional,
                    line: start,
                });
            }
            _ => {}
        }
    }
    Ok(out)
}

/// systemd's word splitting for `Environment=`: spaces separate, quotes group, `\` escapes.
fn split_quoted(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                let next = chars.next().ok_or("a trailing backslash")?;
                cur.push(match next {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
                started = true;
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (Some(q), c) if c == q => quote = None,
            (None, c) if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            (_, c) => {
                cur.push(c);
                started = true;
            }
        }
    }
    if quote.is_some() {
        return Err("an unterminated quote".into());
    }
    if started {
        words.push(cur);
    }
    Ok(words)
}

/// Parses an `EnvironmentFile=`: `KEY=VALUE` lines, `#`/`;` comments, optional quotes.
pub fn parse_env_file(text: &str, path: &str) -> Result<Vec<Var>, NodeFileError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        let t = t.strip_prefix("export ").unwrap_or(t);
        let Some((k, v)) = t.split_once('=') else {
            return Err(NodeFileError::new(
                path,
                Some(i as u32 + 1),
                "not a KEY=VALUE line",
            ));
        };
        let v = v.trim();
        let v = match split_quoted(v) {
            Ok(w) if w.len() == 1 => w[0].clone(),
            _ => v.to_string(),
        };
        out.push(Var {
            name: k.trim().to_string(),
            value: v,
            file: path.to_string(),
            line: i as u32 + 1,
        });
    }
    Ok(out)
}

/// The runtime's systemd unit name.
pub fn unit_name(runtime: crate::taxonomy::Runtime) -> &'static str {
    match runtime {
        crate::taxonomy::Runtime::Docker => "docker.service",
        crate::taxonomy::Runtime::CriO => "crio.service",
        _ => "containerd.service",
    }
}

/// The environment systemd gives `unit`, with where each variable was set.
pub fn environment(root: &NodeRoot, unit: &str, findings: &mut Vec<Finding>) -> Vec<Var> {
    let mut files = Vec::new();
    if let Some(f) = UNIT_DIRS
        .iter()
        .map(|d| join(d, unit))
        .find(|f| root.is_file(f))
    {
        files.push(f);
    }
    let mut dropins: Vec<(String, String)> = Vec::new();
    for d in UNIT_DIRS {
        let dir = join(d, &format!("{unit}.d"));
        for n in root.list(&dir).into_iter().filter(|n| n.ends_with(".conf")) {
            if !dropins.iter().any(|(name, _)| *name == n) {
                dropins.push((n.clone(), join(&dir, &n)));
            }
        }
    }
    dropins.sort();
    files.extend(dropins.into_iter().map(|(_, p)| p));
    let mut env: Vec<Var> = Vec::new();
    let mut from_files: Vec<Var> = Vec::new();
    for f in files {
        let text = match root.read(&f) {
            Ok(Some(t)) => t,
            Ok(None) => continue,
            Err(e) => {
                findings.push(e.into());
                continue;
            }
        };
        let settings = match parse_unit(&text, &f) {
            Ok(s) => s,
            Err(e) => {
                findings.push(e.into());
                continue;
            }
        };
        for s in settings {
            match s {
                Setting::Reset => env.clear(),
                Setting::Env(vars) => {
                    for v in vars {
                        env.retain(|x| x.name != v.name);
                        env.push(v);
                    }
                }
                Setting::File {
                    path,
                    optional,
                    line,
                } => match root.read(&path) {
                    Ok(Some(t)) => match parse_env_file(&t, &path) {
                        Ok(vars) => from_files.extend(vars),
                        Err(e) => findings.push(e.into()),
                    },
                    Ok(None) if optional => {}
                    Ok(None) => findings.push(Finding::new(
                        &f,
                        Some(line),
                        format!(
                            "EnvironmentFile={path} does not exist: systemd refuses to start {unit}"
                        ),
                    )),
                    Err(e) => findings.push(e.into()),
                },
            }
        }
    }
    for v in from_files {
        env.retain(|x| x.name != v.name);
        env.push(v);
    }
    env
}

/// Go's `NO_PROXY` decision for `host` (no brackets) and `port`: the entry that bypasses the
/// proxy, if any. Loopback and `localhost` are reported as such.
pub fn bypass(no_proxy: &str, host: &str, port: u16) -> Option<String> {
    let host = host.to_ascii_lowercase();
    if host == "localhost" {
        return Some("localhost is never proxied".into());
    }
    let ip = host.parse::<IpAddr>().ok();
    if ip.is_some_and(|i| i.is_loopback()) {
        return Some("a loopback address is never proxied".into());
    }
    for raw in no_proxy.split(',') {
        let p = raw.trim().to_ascii_lowercase();
        if p.is_empty() {
            continue;
        }
        if p == "*" {
            return Some("NO_PROXY=*".into());
        }
        if p.contains('/') {
            if let (Some(i), Some((net, bits))) = (ip, super::docker::parse_cidr(&p))
                && super::docker::cidr_contains(net, bits, i)
            {
                return Some(format!("NO_PROXY entry {p}"));
            }
            continue;
        }
        let (phost, pport) = split_host_port(&p);
        if let Ok(pi) = phost.parse::<IpAddr>() {
            if ip == Some(pi) && pport.is_none_or(|pp| pp == port) {
                return Some(format!("NO_PROXY entry {p}"));
            }
            continue;
        }
        let phost = phost.strip_prefix('*').unwrap_or(phost);
        let (suffix, match_host) = match phost.strip_prefix('.') {
            Some(_) => (phost.to_string(), false),
            None => (format!(".{phost}"), true),
        };
        if (host.ends_with(&suffix) || (match_host && host == suffix[1..]))
            && pport.is_none_or(|pp| pp == port)
        {
            return Some(format!("NO_PROXY entry {p}"));
        }
    }
    None
}

/// `host:port` as Go's `net.SplitHostPort` would split a NO_PROXY entry (`[::1]:80` too).
fn split_host_port(p: &str) -> (&str, Option<u16>) {
    if let Some(rest) = p.strip_prefix('[')
        && let Some((h, tail)) = rest.split_once(']')
    {
        return (h, tail.strip_prefix(':').and_then(|x| x.parse().ok()));
    }
    match p.rsplit_once(':') {
        Some((h, port)) if !h.contains(':') => match port.parse() {
            Ok(n) => (h, Some(n)),
            Err(_) => (p, None),
        },
        _ => (p, None),
    }
}

/// Go's `parseProxy`: a value without a scheme gets `http://`. A value written as a URL that
/// does not parse (a bad port, an unclosed `[`) is Err with the reason: Go then re-reads it as
/// `http://<value>`, whose host is the word before `://`, a proxy that does not exist.
pub fn parse_proxy(value: &str) -> Result<url::Url, String> {
    let with_host = |u: url::Url| {
        if u.host_str().is_some_and(|h| !h.is_empty()) {
            Ok(u)
        } else {
            Err("no host".to_string())
        }
    };
    match url::Url::parse(value) {
        Ok(u) if value.contains("://") => with_host(u),
        Err(e) if value.contains("://") => Err(e.to_string()),
        _ => url::Url::parse(&format!("http://{value}"))
            .map_err(|e| e.to_string())
            .and_then(with_host),
    }
}

/// The proxy schemes Go's `net/http` transport speaks (`socks5h` since Go 1.23).
pub const GO_SCHEMES: [&str; 4] = ["http", "https", "socks5", "socks5h"];

/// Why the runtime cannot use a proxy URL of `scheme`, when it cannot.
pub fn unsupported_scheme(scheme: &str) -> Option<String> {
    (!GO_SCHEMES.contains(&scheme)).then(|| {
        format!(
            "{scheme}:// is not a proxy scheme the runtime's Go HTTP transport speaks (http, https, socks5, socks5h)"
        )
    })
}

/// The proxy for an endpoint URL given the unit's environment, with findings.
pub fn for_endpoint(
    env: &[Var],
    endpoint: &url::Url,
    findings: &mut Vec<Finding>,
) -> Option<Proxy> {
    let get = |names: [&str; 2]| names.iter().find_map(|n| env.iter().find(|v| v.name == *n));
    let var = if endpoint.scheme() == "https" {
        get(["HTTPS_PROXY", "https_proxy"])
    } else {
        get(["HTTP_PROXY", "http_proxy"])
    }?;
    if var.value.is_empty() {
        return None;
    }
    let no_proxy = get(["NO_PROXY", "no_proxy"]);
    let host = endpoint.host_str().unwrap_or("").trim_matches(['[', ']']);
    let port = endpoint.port_or_known_default().unwrap_or(443);
    let masked = mask(&var.value);
    let source = format!("{} line {}", var.file, var.line);
    let parsed = parse_proxy(&var.value);
    // A scheme Go's transport does not speak fails every request as surely as a bad URL.
    let unsupported = parsed
        .as_ref()
        .ok()
        .and_then(|u| unsupported_scheme(u.scheme()));
    let bypassed = bypass(no_proxy.map_or("", |n| n.value.as_str()), host, port);
    let (applies, reason) = match (&parsed, bypassed) {
        (_, Some(r)) => match no_proxy.filter(|_| r.starts_with("NO_PROXY")) {
            Some(n) => (false, format!("{r} ({} line {})", n.file, n.line)),
            None => (false, r),
        },
        (Err(why), None) => {
            findings.push(Finding::new(
                &var.file,
                Some(var.line),
                format!("{}={masked} is not a valid proxy URL ({why}): the runtime (a Go program) cannot reach {host} through it, so every pull of it fails", var.name),
            ));
            (true, format!("not a valid proxy URL: {why}"))
        }
        (Ok(_), None) => match &unsupported {
            Some(why) => {
                findings.push(Finding::new(
                    &var.file,
                    Some(var.line),
                    format!(
                        "{}={masked}: {why}, so the runtime fails every pull of {host}",
                        var.name
                    ),
                ));
                (true, why.clone())
            }
            None => (true, format!("{host} is not in NO_PROXY")),
        },
    };
    if parsed.is_ok() && !applies && bypass("", host, port).is_none() {
        // NO_PROXY bypass: worth a line, the operator may have expected the proxy.
        findings.push(Finding::new(
            &var.file,
            Some(var.line),
            format!("{}={masked} is not used for {host}: {reason}", var.name),
        ));
    } else if applies && parsed.is_ok() && unsupported.is_none() {
        findings.push(Finding::new(
            &var.file,
            Some(var.line),
            format!(
                "{}={masked}: the runtime reaches {host} through this proxy",
                var.name
            ),
        ));
    }
    Some(Proxy {
        variable: var.name.clone(),
        value: masked,
        applies,
        reason,
        source,
    })
}

/// A proxy URL with its password (if any) masked.
pub fn mask(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => value.to_string(),
        // A value that does not parse may still hold `user:password@`: mask by hand.
        Err(_) => {
            let start = value.find("://").map_or(0, |i| i + 3);
            let rest = &value[start..];
            match (rest.rfind('@'), rest.find(':')) {
                (Some(at), Some(colon)) if colon < at => {
                    format!("{}{}:***{}", &value[..start], &rest[..colon], &rest[at..])
                }
                _ => value.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_lines_with_quotes_and_resets() {
        let unit = "[Unit]\nDescription=x\n[Service]\nEnvironment=\"HTTPS_PROXY=http://proxy.example.com:3128\" NO_PROXY=localhost,.svc\nEnvironment='A=b c' \\\n  D=e\nEnvironment=\nEnvironmentFile=-/etc/default/containerd\n";
        let s = parse_unit(unit, "/x").unwrap();
        let Setting::Env(v) = &s[0] else { panic!() };
        assert_eq!(v[0].value, "http://proxy.example.com:3128");
        assert_eq!(v[1].name, "NO_PROXY");
        let Setting::Env(v) = &s[1] else { panic!() };
        assert_eq!(
            (v[0].value.as_str(), v[1].name.as_str(), v[1].line),
            ("b c", "D", 5)
        );
        assert_eq!(s[2], Setting::Reset);
        assert!(matches!(
            &s[3],
            Setting::File {
                optional: true,
                line: 8,
                ..
            }
        ));
        assert!(parse_unit("[Service]\nEnvironment=\"A=b", "/x").is_err());
        let f = parse_env_file("# c\nexport HTTP_PROXY=\"http://p:1\"\n", "/e").unwrap();
        assert_eq!((f[0].value.as_str(), f[0].line), ("http://p:1", 2));
    }

    #[test]
    fn go_no_proxy_rules() {
        let np = "localhost,.example.com,corp.internal:5000,10.0.0.0/8,192.168.1.1,*.svc";
        assert!(bypass(np, "a.example.com", 443).is_some());
        assert!(
            bypass(np, "example.com", 443).is_none(),
            ".x matches subdomains only"
        );
        assert!(bypass(np, "corp.internal", 5000).is_some());
        assert!(bypass(np, "reg.corp.internal", 5000).is_some());
        assert!(bypass(np, "corp.internal", 443).is_none());
        assert!(bypass(np, "10.3.4.5", 443).is_some());
        assert!(bypass(np, "192.168.1.1", 8443).is_some());
        assert!(bypass(np, "x.svc", 443).is_some());
        assert!(bypass(np, "registry.example.org", 443).is_none());
        assert!(bypass("", "127.0.0.1", 5000).is_some());
        assert!(bypass("*", "anything", 1).is_some());
        assert!(parse_proxy("proxy.example.com:3128").is_ok());
        assert!(parse_proxy("http://proxy.example.com:31x8").is_err());
        assert!(parse_proxy("http://[::1").is_err());
    }
}
