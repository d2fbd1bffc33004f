//! Pure: every value a cluster or registry wrote is checked against its own grammar before it
//! may appear in a suggested command or file; one that fails becomes a note naming the problem.
//!
//! The grammars are the API server's (`k8s.io/apimachinery/pkg/util/validation`: DNS-1123
//! labels for namespaces and container names, DNS-1123 subdomains for pods, secrets, service
//! accounts and workloads, label values for node-selector values), the distribution reference
//! grammar for images and tags (`crate::reference`), and `host[:port]` for registries. Some
//! fields are never validated by the API server (`imagePullSecrets[].name`, `ownerReferences`),
//! and a snapshot file holds whatever was typed into it, so pulldoctor checks them all itself.

use super::evidence::Evidence;
use super::step::{Fix, note};
use crate::registry::ImageRef;

/// The grammar a value must follow, named after the field it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grammar {
    /// A namespace: DNS-1123 label.
    Namespace,
    /// A Secret's name: DNS-1123 subdomain.
    Secret,
    /// A ServiceAccount's name: DNS-1123 subdomain.
    ServiceAccount,
    /// A pod's or workload's name: DNS-1123 subdomain.
    Object,
    /// An object kind (`Deployment`): an upper-case letter, then letters and digits.
    Kind,
    /// A container's name: DNS-1123 label.
    Container,
    /// An image reference (distribution grammar).
    Image,
    /// A tag (`[\w][\w.-]{0,127}`).
    Tag,
    /// A registry host with an optional port (`reg.example.com:5000`, `[::1]:5000`).
    Host,
    /// A docker config key: an optional `http(s)://`, a host (`*.` globs allowed), an optional
    /// port and path.
    RegistryKey,
    /// A label value (`amd64`).
    LabelValue,
}

impl Grammar {
    /// The grammar's name and what it allows, for the note.
    fn rule(self) -> &'static str {
        match self {
            Grammar::Namespace | Grammar::Container => {
                "a DNS-1123 label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit"
            }
            Grammar::Secret | Grammar::ServiceAccount | Grammar::Object => {
                "a DNS-1123 subdomain: at most 253 lower-case letters, digits, '-' and '.', each part starting and ending with a letter or digit"
            }
            Grammar::Kind => "a kind: a letter, then letters and digits",
            Grammar::Image => "an image reference: host[:port]/path[:tag][@digest]",
            Grammar::Tag => {
                "a tag: at most 128 letters, digits, '_', '.' and '-', not starting with '.' or '-'"
            }
            Grammar::Host => "a registry host: host[:port]",
            Grammar::RegistryKey => "a registry key: [https://]host[:port][/path]",
            Grammar::LabelValue => {
                "a label value: at most 63 letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
            }
        }
    }
}

/// A value that failed its grammar: it goes into no command, only into this note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// What the value is (`pull secret name`, `namespace`).
    pub what: String,
    /// The value, made inert for display.
    pub shown: String,
    /// The grammar it broke.
    pub grammar: Grammar,
}

impl Rejected {
    /// The note that replaces the command: what was wrong, and that no command is given.
    pub fn note(&self) -> Fix {
        note(format!(
            "The {} {} is not {}; no command is suggested with it (pasted into a shell, part of it could run). Correct it where it is set, then rerun pulldoctor.",
            self.what,
            self.shown,
            self.grammar.rule()
        ))
    }
}

/// `value` when it follows `grammar`; otherwise the reason, naming it as `what`.
pub fn check<'a>(grammar: Grammar, what: &str, value: &'a str) -> Result<&'a str, Rejected> {
    if valid(grammar, value) {
        Ok(value)
    } else {
        Err(Rejected {
            what: what.to_string(),
            shown: shown(value),
            grammar,
        })
    }
}

/// True when `value` follows `grammar`.
pub fn valid(grammar: Grammar, value: &str) -> bool {
    match grammar {
        Grammar::Namespace | Grammar::Container => dns_label(value),
        Grammar::Secret | Grammar::ServiceAccount | Grammar::Object => dns_subdomain(value),
        Grammar::Kind => {
            value.len() <= 63
                && value.starts_with(|c: char| c.is_ascii_alphabetic())
                && value.chars().all(|c| c.is_ascii_alphanumeric())
        }
        Grammar::Image => image(value),
        Grammar::Tag => tag(value),
        Grammar::Host => host_port(value, false),
        Grammar::RegistryKey => registry_key(value),
        Grammar::LabelValue => label_value(value),
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
pub fn dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    !b.is_empty()
        && b.len() <= 63
        && alnum(&b[0])
        && alnum(&b[b.len() - 1])
        && b.iter().all(|c| alnum(c) || *c == b'-')
}

/// DNS-1123 labels joined by `.`, at most 253 characters.
pub fn dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(dns_label)
}

fn tag(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

fn label_value(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| c.is_ascii_alphanumeric() || b"-_.".contains(c);
    !b.is_empty()
        && b.len() <= 63
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(ok)
}

/// A reference the distribution grammar accepts, written in its own alphabet.
fn image(s: &str) -> bool {
    let alphabet = |c: char| c.is_ascii_alphanumeric() || "._-/:@[]".contains(c);
    let Ok(r) = ImageRef::parse(s) else {
        return false;
    };
    r.original == s && s.chars().all(alphabet) && host_port(&r.registry, false)
}

/// A DNS name (letters, digits, `-`; `*` components too when `glob`), an IPv4 address, or a
/// bracketed IPv6 address; then an optional `:port` (1–65535).
fn host_port(s: &str, glob: bool) -> bool {
    let (host, port) = match s.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((v6, after)) => {
                if v6.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                (None, after)
            }
            None => return false,
        },
        None => match s.split_once(':') {
            Some((h, _)) => (Some(h), &s[h.len()..]),
            None => (Some(s), ""),
        },
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| {
            !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) && {
                let n: u32 = p.parse().unwrap_or(0);
                (1..=65535).contains(&n)
            }
        });
    let host_ok = host.is_none_or(|h| {
        !h.is_empty()
            && h.len() <= 253
            && h.split('.').all(|l| {
                (glob && l == "*")
                    || (!l.is_empty()
                        && l.len() <= 63
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !l.starts_with('-')
                        && !l.ends_with('-'))
            })
    });
    host_ok && port_ok
}

/// `[http(s)://]host[:port][/path]`, the keys kubelet's keyring matches.
fn registry_key(s: &str) -> bool {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let (host, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    host_port(host, true)
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-/".contains(c))
}

/// `value` for display in a note: quoted, control and invisible formatting characters (which
/// could redraw a terminal or hide text) escaped, and cut to 120 characters.
pub fn shown(value: &str) -> String {
    let mut out = String::from("\"");
    for (i, c) in value.chars().enumerate() {
        if i == 120 {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if invisible(c) => out.push_str(&format!("\\u{{{:04x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Free text from the cluster for a note (an image as written): control and invisible
/// formatting characters escaped, nothing else changed.
pub fn inert(value: &str) -> String {
    if !value.chars().any(invisible) {
        return value.to_string();
    }
    let s = shown(value);
    s[1..s.len() - 1].to_string()
}

/// C0 and C1 controls, DEL, and the format characters that reorder or hide text (bidi
/// overrides and isolates, zero-width characters, the byte-order mark).
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c as u32, 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2069 | 0xfeff)
}

/// The image's registry, made inert for a note (`the registry` when the image does not parse).
pub(crate) fn registry_shown(ev: &Evidence) -> String {
    ev.image_ref
        .as_ref()
        .map(|r| inert(&r.registry))
        .unwrap_or_else(|| "the registry".to_string())
}

/// `-n NAMESPACE`, or nothing when there is no namespace.
pub(super) fn namespace_args(ev: &Evidence) -> Result<Vec<String>, Rejected> {
    if ev.namespace.is_empty() {
        return Ok(Vec::new());
    }
    let ns = check(Grammar::Namespace, "namespace", &ev.namespace)?;
    Ok(vec!["-n".to_string(), ns.to_string()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_names() {
        assert!(valid(Grammar::Secret, "regcred"));
        assert!(valid(Grammar::Secret, "a.b-c"));
        assert!(!valid(Grammar::Namespace, "a.b"));
        for bad in [
            "",
            "-x",
            "x-",
            "A",
            "a_b",
            "a;b",
            "ｒｅｇ",
            "a..b",
            "x\n",
            "$(id)",
        ] {
            assert!(!valid(Grammar::Secret, bad), "{bad:?}");
        }
        assert!(!valid(Grammar::Namespace, &"a".repeat(64)));
        assert!(valid(Grammar::Kind, "CronJob"));
        assert!(!valid(Grammar::Kind, "Cron Job"));
    }

    #[test]
    fn hosts_images_and_keys() {
        for ok in [
            "reg.test",
            "reg.test:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
            "localhost",
        ] {
            assert!(valid(Grammar::Host, ok), "{ok}");
        }
        for bad in [
            "[;id]:5000",
            "reg:0",
            "reg:99999",
            "reg:",
            "-reg",
            "a b",
            "*.reg",
        ] {
            assert!(!valid(Grammar::Host, bad), "{bad}");
        }
        assert!(valid(Grammar::Image, "reg.test:5000/app/x:1.0"));
        assert!(valid(Grammar::Image, "nginx"));
        assert!(!valid(Grammar::Image, "[$(id)]:5000/app"));
        assert!(!valid(Grammar::Image, "-x"));
        for ok in [
            "https://index.docker.io/v1/",
            "*.gcr.io",
            "reg:5000/team",
            "docker.io",
        ] {
            assert!(valid(Grammar::RegistryKey, ok), "{ok}");
        }
        for bad in ["reg;id", "https://reg/a b", "reg?x", "user@reg"] {
            assert!(!valid(Grammar::RegistryKey, bad), "{bad}");
        }
    }

    #[test]
    fn shown_values_are_inert() {
        assert_eq!(
            shown("a\nb\u{1b}[2J\u{202e}"),
            r#""a\nb\u{001b}[2J\u{202e}""#
        );
        assert_eq!(inert("plain $(x)"), "plain $(x)");
        assert!(shown(&"x".repeat(500)).ends_with("…\""));
        let r = check(Grammar::Secret, "pull secret name", "a;b\n").unwrap_err();
        assert!(r.note().text.contains(r#""a;b\n""#), "{}", r.note().text);
    }
}
