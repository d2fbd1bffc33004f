//! The slices of Go's `net/url.Parse`, `net.SplitHostPort` and `path/filepath.Match` that
//! kubelet's keyring leans on, reproduced so keys normalise and match byte for byte as on a node.
//!
//! Kubelet normalises docker config keys with `url.Parse` and compares host labels with
//! `filepath.Match` (kubernetes `pkg/credentialprovider/keyring.go`,
//! <https://github.com/kubernetes/kubernetes/blob/master/pkg/credentialprovider/keyring.go>).
//! A general URL library would not do: the `url` crate lower-cases hosts and drops `:443`,
//! while Go keeps both as written, and "no port does not match `:443`" depends on that.
//! Semantics follow <https://pkg.go.dev/net/url#Parse>, <https://pkg.go.dev/net#SplitHostPort>
//! and <https://pkg.go.dev/path/filepath#Match> (Unix: `/` separator, `\` escapes).

/// The two parts of a parsed URL the keyring uses: the host (with port) and the decoded path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoUrl {
    /// `url.URL.Host`: host and port exactly as written.
    pub host: String,
    /// `url.URL.Path`: percent-decoded.
    pub path: String,
}

/// Parses an absolute `scheme://authority/path` URL as Go's `url.Parse` does, or says why not.
pub fn parse_url(raw: &str) -> Result<GoUrl, String> {
    let (url, fragment) = match raw.split_once('#') {
        Some((u, f)) => (u, Some(f)),
        None => (raw, None),
    };
    if let Some(f) = fragment {
        unescape(f, false).map_err(|_| "invalid URL escape in fragment".to_string())?;
    }
    if url.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return Err("invalid control character in URL".into());
    }
    let Some((_scheme, rest)) = url.split_once(':') else {
        return Err("missing scheme".into());
    };
    let rest = if rest.ends_with('?') && rest.matches('?').count() == 1 {
        &rest[..rest.len() - 1]
    } else {
        rest.split_once('?').map_or(rest, |(r, _)| r)
    };
    let Some(after) = rest.strip_prefix("//") else {
        // Not reached by the keyring, which always hands over `https://…`.
        return Ok(GoUrl {
            host: String::new(),
            path: unescape(rest, false)?,
        });
    };
    let (authority, path) = match after.find('/') {
        Some(i) => (&after[..i], &after[i..]),
        None => (after, ""),
    };
    let host = match authority.rfind('@') {
        Some(i) => {
            let userinfo = &authority[..i];
            if !userinfo.bytes().all(valid_userinfo_byte) {
                return Err("invalid userinfo".into());
            }
            &authority[i + 1..]
        }
        None => authority,
    };
    Ok(GoUrl {
        host: parse_host(host)?,
        path: unescape(path, false)?,
    })
}

fn valid_userinfo_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._:~!$&'()*+,;=%@".contains(&b) || b >= 0x80
}

fn valid_optional_port(port: &str) -> bool {
    match port.strip_prefix(':') {
        _ if port.is_empty() => true,
        Some(digits) => digits.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

fn parse_host(host: &str) -> Result<String, String> {
    if host.starts_with('[') {
        let Some(i) = host.rfind(']') else {
            return Err("missing ']' in host".into());
        };
        if !valid_optional_port(&host[i + 1..]) {
            return Err("invalid port after host".into());
        }
    } else if let Some(i) = host.rfind(':')
        && !valid_optional_port(&host[i..])
    {
        return Err("invalid port after host".into());
    }
    unescape(host, true)
}

/// Go's `unescape` in host or path mode: `%XX` escapes checked, host characters checked.
fn unescape(s: &str, host: bool) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
                let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) else {
                    return Err("invalid URL escape".into());
                };
                // In a host only `%25` or escapes of non-ASCII bytes are allowed (RFC 6874).
                if host && hi < 8 && &s[i..i + 3] != "%25" {
                    return Err("invalid URL escape in host".into());
                }
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            c if host && c < 0x80 && !host_byte_ok(c) => {
                return Err("invalid character in host name".into());
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn host_byte_ok(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!$&'()*+,;=:[]<>\"-_.~".contains(&c)
}

/// `net.SplitHostPort`: `None` when Go returns an error (kubelet then uses the whole host).
pub fn split_host_port(hostport: &str) -> Option<(&str, &str)> {
    let i = hostport.rfind(':')?;
    let (host, j, k);
    if hostport.starts_with('[') {
        let end = hostport.find(']')?;
        if end + 1 != i {
            return None;
        }
        host = &hostport[1..end];
        (j, k) = (1, end + 1);
    } else {
        host = &hostport[..i];
        if host.contains(':') {
            return None;
        }
        (j, k) = (0, 0);
    }
    if hostport[j..].contains('[') || hostport[k..].contains(']') {
        return None;
    }
    Some((host, &hostport[i + 1..]))
}

/// The pattern is malformed (Go's `filepath.ErrBadPattern`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPattern;

/// `filepath.Match` on Unix: `*`, `?`, `[...]` classes, `\` escapes; `/` never matched.
pub fn glob_match(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let (mut pattern, mut name) = (pattern.as_bytes(), name.as_bytes());
    'outer: while !pattern.is_empty() {
        let (star, chunk, rest) = scan_chunk(pattern);
        pattern = rest;
        if star && chunk.is_empty() {
            return Ok(!name.contains(&b'/'));
        }
        let (t, ok) = match_chunk(chunk, name)?;
        if ok && (t.is_empty() || !pattern.is_empty()) {
            name = t;
            continue;
        }
        if star {
            let mut i = 0;
            while i < name.len() && name[i] != b'/' {
                let (t, ok) = match_chunk(chunk, &name[i + 1..])?;
                if ok {
                    if pattern.is_empty() && !t.is_empty() {
                        i += 1;
                        continue;
                    }
                    name = t;
                    continue 'outer;
                }
                i += 1;
            }
        }
        // Go checks the rest of the pattern is well formed before answering "no".
        while !pattern.is_empty() {
            let (_, chunk, rest) = scan_chunk(pattern);
            pattern = rest;
            match_chunk(chunk, b"")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(pattern: &[u8]) -> (bool, &[u8], &[u8]) {
    let mut p = pattern;
    let mut star = false;
    while let [b'*', rest @ ..] = p {
        p = rest;
        star = true;
    }
    let (mut in_range, mut i) = (false, 0);
    while i < p.len() {
        match p[i] {
            b'\\' if i + 1 < p.len() => i += 1,
            b'[' => in_range = true,
            b']' => in_range = false,
            b'*' if !in_range => break,
            _ => {}
        }
        i += 1;
    }
    (star, &p[..i], &p[i..])
}

fn decode_rune(b: &[u8]) -> (u32, usize) {
    let width = match b.first() {
        None => return (0xFFFD, 0),
        Some(c) if *c < 0x80 => 1,
        Some(c) if *c >= 0xF0 => 4,
        Some(c) if *c >= 0xE0 => 3,
        Some(_) => 2,
    };
    match b.get(..width).and_then(|s| std::str::from_utf8(s).ok()) {
        Some(s) => (s.chars().next().map_or(0xFFFD, |c| c as u32), width),
        None => (0xFFFD, 1),
    }
}

fn get_esc(chunk: &[u8]) -> Result<(u32, &[u8]), BadPattern> {
    let mut chunk = chunk;
    match chunk.first() {
        None | Some(b'-') | Some(b']') => return Err(BadPattern),
        Some(b'\\') => {
            chunk = &chunk[1..];
            if chunk.is_empty() {
                return Err(BadPattern);
            }
        }
        _ => {}
    }
    let (r, n) = decode_rune(chunk);
    let rest = &chunk[n..];
    if (r == 0xFFFD && n == 1) || rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((r, rest))
}

fn match_chunk<'a>(chunk: &[u8], s: &'a [u8]) -> Result<(&'a [u8], bool), BadPattern> {
    let (mut chunk, mut s) = (chunk, s);
    let mut failed = false;
    while let Some(&c) = chunk.first() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match c {
            b'[' => {
                let mut r = 0;
                if !failed {
                    let (rune, n) = decode_rune(s);
                    r = rune;
                    s = &s[n..];
                }
                chunk = &chunk[1..];
                let negated = chunk.first() == Some(&b'^');
                if negated {
                    chunk = &chunk[1..];
                }
                let (mut matched, mut nrange) = (false, 0);
                loop {
                    if chunk.first() == Some(&b']') && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.first() == Some(&b'-') {
                        let (h, rest) = get_esc(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    if s[0] == b'/' {
                        failed = true;
                    }
                    let (_, n) = decode_rune(s);
                    s = &s[n.max(1)..];
                }
                chunk = &chunk[1..];
            }
            _ => {
                if c == b'\\' {
                    chunk = &chunk[1..];
                    if chunk.is_empty() {
                        return Err(BadPattern);
                    }
                }
                if !failed {
                    if chunk[0] != s[0] {
                        failed = true;
                    }
                    s = &s[1..];
                }
                chunk = &chunk[1..];
            }
        }
    }
    Ok(if failed { (b"", false) } else { (s, true) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parse_keeps_host_case_and_port_as_written() {
        let u = parse_url("https://Reg.Example.com:443/v2/").unwrap();
        assert_eq!(u.host, "Reg.Example.com:443");
        assert_eq!(u.path, "/v2/");
        let u = parse_url("https://user@reg.test/a%2Fb?x=1#frag").unwrap();
        assert_eq!((u.host.as_str(), u.path.as_str()), ("reg.test", "/a/b"));
    }

    #[test]
    fn url_parse_rejects_what_go_rejects() {
        assert!(parse_url("https://reg.test:abc").is_err());
        assert!(parse_url("https://reg test").is_err());
        assert!(parse_url("https://reg.test/%zz").is_err());
        assert!(parse_url("https://reg\n.test").is_err());
        assert!(parse_url("https://[::1").is_err());
        // An empty port is valid in Go.
        assert_eq!(parse_url("https://reg.test:").unwrap().host, "reg.test:");
    }

    #[test]
    fn split_host_port_matches_go() {
        assert_eq!(split_host_port("reg.test:5000"), Some(("reg.test", "5000")));
        assert_eq!(split_host_port("reg.test"), None);
        assert_eq!(split_host_port("[::1]:5000"), Some(("::1", "5000")));
        assert_eq!(split_host_port("a:b:c"), None);
        assert_eq!(split_host_port("reg.test:"), Some(("reg.test", "")));
    }

    #[test]
    fn glob_matches_like_filepath_match() {
        assert_eq!(glob_match("*", "registry"), Ok(true));
        assert_eq!(glob_match("reg*", "registry"), Ok(true));
        assert_eq!(glob_match("r?g", "reg"), Ok(true));
        assert_eq!(glob_match("[a-c]x", "bx"), Ok(true));
        assert_eq!(glob_match("[^a-c]x", "bx"), Ok(false));
        assert_eq!(glob_match("a\\*", "a*"), Ok(true));
        assert_eq!(glob_match("Reg", "reg"), Ok(false));
        assert_eq!(glob_match("[", "a"), Err(BadPattern));
        assert_eq!(glob_match("a\\", "a"), Err(BadPattern));
        assert_eq!(glob_match("*x", "abx"), Ok(true));
        assert_eq!(glob_match("*x*", "abxyz"), Ok(true));
    }
}
