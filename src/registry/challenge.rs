//! `WWW-Authenticate` parsing: the challenges a registry answers a 401 with.
//!
//! Follows RFC 9110 §11.6.1 (challenge = scheme [ token68 / #auth-param ]) as registries use
//! it: `Basic realm="…"` from htpasswd registries and `Bearer realm="…",service="…",scope="…"`
//! (plus `error="insufficient_scope"`) from token-auth registries, as described in distribution's
//! token spec (<https://distribution.github.io/distribution/spec/auth/token/>). One header may
//! carry several challenges and a response may carry several headers; quoted strings may hold
//! commas and backslash escapes. Scheme and parameter names are case-insensitive. Input is
//! untrusted, so the parser never panics and never loops without consuming input.

use serde::Serialize;

/// The authentication scheme of one challenge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scheme {
    Basic,
    Bearer,
    /// Any other scheme, as written (e.g. `Negotiate`).
    Other(String),
}

/// One challenge: a scheme and its parameters (names lower-cased, values unquoted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Challenge {
    pub scheme: Scheme,
    pub params: Vec<(String, String)>,
    /// A token68 value instead of parameters (rare in challenges, kept for completeness).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token68: Option<String>,
}

impl Challenge {
    /// The value of a parameter, by case-insensitive name.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `realm`, the token endpoint for Bearer and a label for Basic.
    pub fn realm(&self) -> Option<&str> {
        self.param("realm")
    }

    /// `error`, e.g. `insufficient_scope` or `invalid_token`.
    pub fn error(&self) -> Option<&str> {
        self.param("error")
    }
}

/// Parses every challenge in every given header value, in order.
pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a str>) -> Vec<Challenge> {
    values.into_iter().flat_map(parse).collect()
}

/// Picks the challenge a runtime would answer: Bearer with a realm first, then Basic.
///
/// containerd and Docker both prefer Bearer when a registry offers both.
pub fn preferred(challenges: &[Challenge]) -> Option<&Challenge> {
    challenges
        .iter()
        .find(|c| c.scheme == Scheme::Bearer && c.realm().is_some())
        .or_else(|| challenges.iter().find(|c| c.scheme == Scheme::Basic))
}

/// Parses one header value into its challenges.
pub fn parse(value: &str) -> Vec<Challenge> {
    let mut p = Parser {
        s: value.as_bytes(),
        i: 0,
    };
    let mut out: Vec<Challenge> = Vec::new();
    loop {
        p.skip_ws_and_commas();
        if p.at_end() {
            break;
        }
        let Some(scheme) = p.token() else {
            // Not a token: skip one byte so malformed input cannot stall the loop.
            p.i += 1;
            continue;
        };
        let mut challenge = Challenge {
            scheme: scheme_of(scheme),
            params: Vec::new(),
            token68: None,
        };
        p.skip_ws();
        if let Some(t68) = p.token68() {
            challenge.token68 = Some(t68);
            out.push(challenge);
            continue;
        }
        // Parameters until something that is not `name = value` (the next scheme).
        loop {
            p.skip_ws_and_commas();
            let save = p.i;
            let Some(name) = p.token() else { break };
            p.skip_ws();
            if !p.eat(b'=') {
                p.i = save;
                break;
            }
            p.skip_ws();
            let value = if p.peek() == Some(b'"') {
                p.quoted()
            } else {
                p.token().unwrap_or_default()
            };
            challenge.params.push((name.to_ascii_lowercase(), value));
        }
        out.push(challenge);
    }
    out
}

fn scheme_of(token: String) -> Scheme {
    if token.eq_ignore_ascii_case("basic") {
        Scheme::Basic
    } else if token.eq_ignore_ascii_case("bearer") {
        Scheme::Bearer
    } else {
        Scheme::Other(token)
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn skip_ws_and_commas(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b',')) {
            self.i += 1;
        }
    }

    /// An RFC 9110 token (tchar+).
    fn token(&mut self) -> Option<String> {
        let start = self.i;
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b) {
                self.i += 1;
            } else {
                break;
            }
        }
        (self.i > start).then(|| String::from_utf8_lossy(&self.s[start..self.i]).into_owned())
    }

    /// A token68 (`abc123==`) standing alone after the scheme, up to the end or a comma.
    ///
    /// `name=` with a single `=` reads as a parameter with an empty value, which is what a
    /// registry writing `realm=` means; a bare word or a value with `==` padding is a token68.
    fn token68(&mut self) -> Option<String> {
        let start = self.i;
        let mut j = start;
        while self
            .s
            .get(j)
            .is_some_and(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(b))
        {
            j += 1;
        }
        if j == start {
            return None;
        }
        let body_end = j;
        while self.s.get(j) == Some(&b'=') {
            j += 1;
        }
        let mut k = j;
        while matches!(self.s.get(k), Some(b' ' | b'\t')) {
            k += 1;
        }
        let alone = matches!(self.s.get(k), None | Some(b','));
        let padding = j - body_end;
        if alone && padding != 1 {
            self.i = j;
            return Some(String::from_utf8_lossy(&self.s[start..j]).into_owned());
        }
        None
    }

    /// A quoted string with backslash escapes; an unterminated one runs to the end.
    fn quoted(&mut self) -> String {
        let mut out = Vec::new();
        self.i += 1; // opening quote
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(n) = self.peek() {
                        out.push(n);
                        self.i += 1;
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_from_docker_registry() {
        let c = parse(r#"Basic realm="Registry Realm""#);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, Scheme::Basic);
        assert_eq!(c[0].realm(), Some("Registry Realm"));
    }

    #[test]
    fn bearer_with_scope_holding_commas_and_error() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull,push",error="insufficient_scope""#;
        let c = parse(h);
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme, Scheme::Bearer);
        assert_eq!(c[0].realm(), Some("https://auth.docker.io/token"));
        assert_eq!(c[0].param("service"), Some("registry.docker.io"));
        assert_eq!(
            c[0].param("scope"),
            Some("repository:library/nginx:pull,push")
        );
        assert_eq!(c[0].error(), Some("insufficient_scope"));
    }

    #[test]
    fn several_challenges_in_one_header_and_several_headers() {
        let c = parse(r#"Basic realm="a, b", Bearer realm="https://t/x",service=reg"#);
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].realm(), Some("a, b"));
        assert_eq!(c[1].scheme, Scheme::Bearer);
        assert_eq!(c[1].param("service"), Some("reg"));
        let all = parse_all([
            "Negotiate",
            r#"BASIC Realm="r""#,
            r#"bearer REALM="https://t""#,
        ]);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].scheme, Scheme::Other("Negotiate".into()));
        assert_eq!(all[1].scheme, Scheme::Basic);
        assert_eq!(all[1].realm(), Some("r"));
        assert_eq!(preferred(&all).unwrap().scheme, Scheme::Bearer);
    }

    #[test]
    fn escapes_and_spaces_around_equals() {
        let c = parse(r#"Bearer realm = "q\"uo\\te" , service="s""#);
        assert_eq!(c[0].realm(), Some(r#"q"uo\te"#));
        assert_eq!(c[0].param("service"), Some("s"));
    }

    #[test]
    fn token68_and_garbage_never_panic() {
        let c = parse("Negotiate abc123==");
        assert_eq!(c[0].token68.as_deref(), Some("abc123=="));
        for junk in [
            "",
            ",,,",
            "\"",
            "Bearer realm=\"unterminated",
            "=",
            "Bearer ,=,=\"",
            "Basic realm=",
            "ü Bearer",
            "Bearer realm=\"x\\",
        ] {
            let _ = parse(junk);
        }
        let c = parse("Bearer realm=\"unterminated");
        assert_eq!(c[0].realm(), Some("unterminated"));
        let c = parse("Basic realm=");
        assert_eq!(c[0].realm(), Some(""));
    }

    #[test]
    fn basic_preferred_only_without_usable_bearer() {
        let c = parse(r#"Bearer service="x", Basic realm="r""#);
        assert_eq!(preferred(&c).unwrap().scheme, Scheme::Basic);
        assert!(preferred(&parse("Negotiate")).is_none());
    }
}
