//! CRI-O's (containers-image's) registry configuration on a node: `registries.conf`,
//! `registries.conf.d/*.conf` and the short-name alias files.
//!
//! Reproduces containers-registries.conf(5) and containers-registries.conf.d(5) (v2 TOML,
//! <https://github.com/containers/image/blob/main/docs/containers-registries.conf.5.md>): the
//! `[[registry]]` whose `prefix` (default: `location`) matches the reference longest wins;
//! its `location` replaces the prefix; `[[registry.mirror]]` entries are tried in order before
//! it (subject to `pull-from-mirror` and `mirror-by-digest-only`); `blocked` refuses the pull;
//! `insecure` allows plain HTTP and unverified TLS. Short names go through `[aliases]` (and
//! the alias files), then `unqualified-search-registries` in order, which CRI-O tries without
//! prompting whatever `short-name-mode` says. Drop-ins are read in name order: a `[[registry]]`
//! with the same prefix replaces the earlier one, a set `unqualified-search-registries`
//! replaces the list, aliases merge.

use super::files::{NodeFileError, NodeRoot, join};
use super::model::{Endpoint, Finding, Role};
use super::tomlspan::TVal;

pub const REGISTRIES_CONF: &str = "/etc/containers/registries.conf";
pub const REGISTRIES_CONF_D: &str = "/etc/containers/registries.conf.d";
/// Where short-name aliases are recorded (system-wide).
pub const SHORTNAMES: &str = "/var/cache/containers/short-name-aliases.conf";

/// One `[[registry]]` (or `[[registry.mirror]]`) table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryEntry {
    pub prefix: String,
    pub location: String,
    pub insecure: bool,
    pub blocked: bool,
    pub mirror_by_digest_only: bool,
    /// `pull-from-mirror` (mirrors only): `all`, `digest-only` or `tag-only`.
    pub pull_from_mirror: String,
    pub mirrors: Vec<RegistryEntry>,
    /// Where it is written.
    pub file: String,
    pub line: u32,
    /// The lines of `blocked` and `insecure` (0 when unset).
    pub blocked_line: u32,
    pub insecure_line: u32,
}

/// The merged settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistriesConf {
    pub registries: Vec<RegistryEntry>,
    /// The search list, with where it was set.
    pub search: Vec<String>,
    pub search_at: Option<(String, u32)>,
    pub short_name_mode: Option<(String, String, u32)>,
    /// alias → (target, file, line).
    pub aliases: Vec<(String, String, String, u32)>,
}

/// Parses one file and merges it over `into`.
pub fn parse_into(into: &mut RegistriesConf, text: &str, path: &str) -> Result<(), NodeFileError> {
    let doc = TVal::parse(text, path)?;
    let err = |line: u32, what: &str| NodeFileError::new(path, Some(line), what.to_string());
    if let Some((l, v)) = doc.entry("unqualified-search-registries") {
        into.search = v.as_array().and_then(|_| v.strings()).ok_or_else(|| {
            err(
                l,
                "`unqualified-search-registries` must be a list of strings",
            )
        })?;
        into.search_at = Some((path.to_string(), l));
    }
    if let Some((l, v)) = doc.entry("short-name-mode") {
        let m = v
            .as_str()
            .filter(|m| ["enforcing", "permissive", "disabled"].contains(m))
            .ok_or_else(|| {
                err(
                    l,
                    "`short-name-mode` must be enforcing, permissive or disabled",
                )
            })?;
        into.short_name_mode = Some((m.to_string(), path.to_string(), l));
    }
    if let Some((l, a)) = doc.entry("aliases") {
        if !matches!(a.v, super::tomlspan::TKind::Table(_)) {
            return Err(err(l, "[aliases] must be a table"));
        }
        for (k, kl, v) in a.entries() {
            let t = v
                .as_str()
                .ok_or_else(|| err(*kl, "alias values must be strings"))?;
            into.aliases.retain(|(a, ..)| a != k);
            into.aliases
                .push((k.clone(), t.to_string(), path.to_string(), *kl));
        }
    }
    if let Some((l, regs)) = doc.entry("registry") {
        let regs = regs
            .as_array()
            .ok_or_else(|| err(l, "`registry` must be [[registry]] tables"))?;
        for r in regs {
            let mut e = entry(r, path)?;
            if let Some(ms) = r.get("mirror") {
                let ms = ms
                    .as_array()
                    .ok_or_else(|| err(ms.line, "`mirror` must be [[registry.mirror]] tables"))?;
                for m in ms {
                    let me = entry(m, path)?;
                    if me.location.is_empty() {
                        return Err(err(m.line, "a [[registry.mirror]] needs a `location`"));
                    }
                    e.mirrors.push(me);
                }
            }
            if e.prefix.is_empty() {
                return Err(err(
                    r.line,
                    "a [[registry]] needs a `prefix` or a `location`",
                ));
            }
            into.registries.retain(|x| x.prefix != e.prefix);
            into.registries.push(e);
        }
    }
    Ok(())
}

fn entry(t: &TVal, path: &str) -> Result<RegistryEntry, NodeFileError> {
    let s = |k: &str| -> Result<String, NodeFileError> {
        match t.entry(k) {
            None => Ok(String::new()),
            Some((l, v)) => v.as_str().map(str::to_string).ok_or_else(|| {
                NodeFileError::new(path, Some(l), format!("`{k}` must be a string"))
            }),
        }
    };
    let b = |k: &str| -> Result<bool, NodeFileError> {
        match t.entry(k) {
            None => Ok(false),
            Some((l, v)) => v.as_bool().ok_or_else(|| {
                NodeFileError::new(path, Some(l), format!("`{k}` must be true or false"))
            }),
        }
    };
    let location = s("location")?;
    let prefix = s("prefix")?;
    let pull_from_mirror = s("pull-from-mirror")?;
    if !["", "all", "digest-only", "tag-only"].contains(&pull_from_mirror.as_str()) {
        let l = t.entry("pull-from-mirror").map(|(l, _)| l);
        return Err(NodeFileError::new(
            path,
            l,
            "`pull-from-mirror` must be all, digest-only or tag-only",
        ));
    }
    Ok(RegistryEntry {
        prefix: if prefix.is_empty() {
            location.clone()
        } else {
            prefix
        },
        location,
        insecure: b("insecure")?,
        blocked: b("blocked")?,
        mirror_by_digest_only: b("mirror-by-digest-only")?,
        pull_from_mirror,
        mirrors: Vec::new(),
        file: path.to_string(),
        line: t.line,
        blocked_line: t.entry("blocked").map_or(0, |(l, _)| l),
        insecure_line: t.entry("insecure").map_or(0, |(l, _)| l),
    })
}

/// Reads registries.conf, its drop-ins and the alias cache from the node.
pub fn load(root: &NodeRoot, findings: &mut Vec<Finding>) -> RegistriesConf {
    let mut conf = RegistriesConf::default();
    let mut files = vec![REGISTRIES_CONF.to_string()];
    files.extend(
        root.list(REGISTRIES_CONF_D)
            .into_iter()
            .filter(|n| n.ends_with(".conf"))
            .map(|n| join(REGISTRIES_CONF_D, &n)),
    );
    files.push(SHORTNAMES.to_string());
    for f in files {
        match root.read(&f) {
            Ok(Some(text)) => {
                if let Err(e) = parse_into(&mut conf, &text, &f) {
                    findings.push(Finding::new(
                        &e.path,
                        e.line,
                        format!(
                            "{}; CRI-O refuses every pull while this file is invalid",
                            e.reason
                        ),
                    ));
                }
            }
            Ok(None) => {}
            Err(e) => findings.push(e.into()),
        }
    }
    conf
}

/// Whether a reference names no registry (`nginx`, `library/nginx`).
pub fn is_short_name(reference: &str) -> bool {
    match reference.split_once('/') {
        None => true,
        Some((first, _)) => !(first.contains('.') || first.contains(':') || first == "localhost"),
    }
}

/// The prefix-matching entry for a fully qualified `reference` (`host/repo:tag`): the
/// longest match, where `*.example.com` matches any subdomain.
pub fn find<'a>(conf: &'a RegistriesConf, reference: &str) -> Option<&'a RegistryEntry> {
    conf.registries
        .iter()
        .filter(|r| matches(&r.prefix, reference))
        .max_by_key(|r| r.prefix.len())
}

fn matches(prefix: &str, reference: &str) -> bool {
    if let Some(domain) = prefix.strip_prefix("*.") {
        let host = reference.split('/').next().unwrap_or("");
        return host.ends_with(&format!(".{domain}"));
    }
    reference == prefix
        || reference.strip_prefix(prefix).is_some_and(|rest| {
            rest.starts_with('/') || rest.starts_with(':') || rest.starts_with('@')
        })
}

/// The candidates CRI-O pulls for `raw` (as written in the pod spec), fully qualified, with the
/// file and line that produced each.
pub fn candidates(conf: &RegistriesConf, raw: &str, findings: &mut Vec<Finding>) -> Vec<String> {
    if !is_short_name(raw) {
        return vec![raw.to_string()];
    }
    let name = raw.split(['@', ':']).next().unwrap_or(raw);
    let rest = &raw[name.len()..];
    if let Some((_, target, file, line)) = conf.aliases.iter().find(|(a, ..)| a == name) {
        findings.push(Finding::new(
            file,
            Some(*line),
            format!("short name {name} is an alias for {target}"),
        ));
        return vec![format!("{target}{rest}")];
    }
    let Some((file, line)) = &conf.search_at else {
        findings.push(Finding::new(
            REGISTRIES_CONF,
            None,
            format!("{raw} is a short name and no unqualified-search-registries is set: CRI-O cannot pull it"),
        ));
        return Vec::new();
    };
    let out: Vec<String> = conf
        .search
        .iter()
        .map(|r| {
            let repo = if r == "docker.io" && !name.contains('/') {
                format!("library/{name}")
            } else {
                name.to_string()
            };
            format!("{r}/{repo}{rest}")
        })
        .collect();
    if !out.is_empty() {
        findings.push(Finding::new(
            file,
            Some(*line),
            format!(
                "short name {raw} is tried as {} (unqualified-search-registries, in order)",
                out.join(", then ")
            ),
        ));
    }
    out
}

/// CRI-O's endpoints for one fully qualified reference; `blocked` when refused.
pub fn endpoints(
    conf: &RegistriesConf,
    reference: &str,
    by_digest: bool,
    findings: &mut Vec<Finding>,
) -> (Vec<Endpoint>, bool) {
    let host = reference.split('/').next().unwrap_or("");
    let repo_of = |s: &str| s.split_once('/').map(|(_, r)| r.to_string());
    let Some(r) = find(conf, reference) else {
        return (
            vec![Endpoint::new(
                &super::containerd::default_server(host),
                Role::Upstream,
                "no [[registry]] matches: containers-image's default".into(),
            )],
            false,
        );
    };
    let at = format!("{} line {}", r.file, r.line);
    if r.blocked {
        findings.push(Finding::new(
            &r.file,
            Some(r.blocked_line),
            format!(
                "[[registry]] prefix = {:?} is blocked: CRI-O refuses to pull {reference}",
                r.prefix
            ),
        ));
        return (Vec::new(), true);
    }
    let rewrite = |loc: &str| {
        if r.prefix.starts_with("*.") {
            reference.to_string()
        } else {
            format!("{loc}{}", &reference[r.prefix.len()..])
        }
    };
    let mut out = Vec::new();
    for m in &r.mirrors {
        let allowed = match m.pull_from_mirror.as_str() {
            "digest-only" => by_digest,
            "tag-only" => !by_digest,
            _ => !r.mirror_by_digest_only || by_digest,
        };
        if !allowed {
            findings.push(Finding::new(
                &m.file,
                Some(m.line),
                format!("mirror {} is skipped for this reference (pull-from-mirror / mirror-by-digest-only)", m.location),
            ));
            continue;
        }
        let full = rewrite(&m.location);
        let mhost = full.split('/').next().unwrap_or("");
        let mut e = Endpoint::new(
            &super::containerd::default_server(mhost),
            Role::Mirror,
            format!("{} line {}", m.file, m.line),
        );
        e.insecure = m.insecure;
        e.skip_verify = m.insecure;
        e.repository = repo_of(&full);
        out.push(e);
    }
    let full = if r.location.is_empty() {
        reference.to_string()
    } else {
        rewrite(&r.location)
    };
    if full != reference {
        findings.push(Finding::new(
            &r.file,
            Some(r.line),
            format!(
                "prefix {:?} → location {:?}: {reference} is pulled as {full}",
                r.prefix, r.location
            ),
        ));
    }
    let uhost = full.split('/').next().unwrap_or("");
    let mut e = Endpoint::new(
        &super::containerd::default_server(uhost),
        Role::Upstream,
        at,
    );
    e.insecure = r.insecure;
    e.skip_verify = r.insecure;
    e.repository = repo_of(&full);
    if r.insecure {
        findings.push(Finding::new(
            &r.file,
            Some(r.insecure_line),
            format!(
                "insecure = true for {:?}: plain HTTP and unverified TLS are allowed",
                r.prefix
            ),
        ));
    }
    out.push(e);
    (out, false)
}

/// Adds the certs.d directory CRI-O uses for an endpoint: `/etc/containers/certs.d/<host>`,
/// else `/etc/docker/certs.d/<host>` (the first that exists; never merged).
pub fn apply_certs_d(root: &NodeRoot, host: &str, e: &mut Endpoint) {
    for base in ["/etc/containers/certs.d", "/etc/docker/certs.d"] {
        let dir = join(base, host);
        if root.is_dir(&dir) {
            super::containerd::apply_docker_dir(root, &dir, e);
            e.source = format!("{}; {dir}", e.source);
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"unqualified-search-registries = ["quay.io", "docker.io"]
short-name-mode = "enforcing"

[[registry]]
prefix = "example.com/foo"
location = "internal-registry-for-example.com/bar"
insecure = true

[[registry.mirror]]
location = "mirror.example.com:5000/mirrored"
pull-from-mirror = "digest-only"

[[registry]]
location = "example.com"
blocked = true

[aliases]
"fedora" = "registry.fedoraproject.org/fedora"
"#;

    #[test]
    fn longest_prefix_rewrites_and_blocks() {
        let mut c = RegistriesConf::default();
        parse_into(&mut c, CONF, REGISTRIES_CONF).unwrap();
        let mut f = Vec::new();
        let (eps, blocked) = endpoints(&c, "example.com/foo/app:1", false, &mut f);
        assert!(!blocked);
        assert_eq!(eps.len(), 1, "the digest-only mirror is skipped for a tag");
        assert_eq!(eps[0].url, "https://internal-registry-for-example.com");
        assert_eq!(eps[0].repository.as_deref(), Some("bar/app:1"));
        assert!(eps[0].insecure);
        let (eps, _) = endpoints(&c, "example.com/foo/app@sha256:ab", true, &mut f);
        assert_eq!(eps[0].url, "https://mirror.example.com:5000");
        assert_eq!(eps[0].role, Role::Mirror);
        let (_, blocked) = endpoints(&c, "example.com/other:1", false, &mut f);
        assert!(blocked);
        assert!(
            f.iter()
                .any(|x| x.line == Some(15) && x.text.contains("blocked")),
            "{f:?}"
        );
    }

    #[test]
    fn short_names_aliases_then_search_order() {
        let mut c = RegistriesConf::default();
        parse_into(&mut c, CONF, REGISTRIES_CONF).unwrap();
        let mut f = Vec::new();
        assert_eq!(
            candidates(&c, "nginx:1.25", &mut f),
            ["quay.io/nginx:1.25", "docker.io/library/nginx:1.25"]
        );
        assert_eq!(f[0].line, Some(1));
        assert_eq!(
            candidates(&c, "fedora", &mut f),
            ["registry.fedoraproject.org/fedora"]
        );
        assert_eq!(
            candidates(&c, "reg.example.com/app", &mut f),
            ["reg.example.com/app"]
        );
        let dropin = "unqualified-search-registries = [\"registry.example.com\"]\n[[registry]]\nprefix = \"example.com\"\nlocation = \"example.com\"\n";
        parse_into(
            &mut c,
            dropin,
            "/etc/containers/registries.conf.d/10-x.conf",
        )
        .unwrap();
        assert_eq!(c.search, ["registry.example.com"]);
        assert!(
            !find(&c, "example.com/x").unwrap().blocked,
            "the drop-in replaced the entry"
        );
    }

    #[test]
    fn bad_files_name_the_line() {
        for (bad, line) in [
            ("unqualified-search-registries = \"x\"", 1),
            ("short-name-mode = \"loose\"", 1),
            ("[[registry]]\ninsecure = true", 1),
            ("[[registry]]\nlocation = \"a\"\nblocked = \"yes\"", 3),
            (
                "[[registry]]\nlocation = \"a\"\n[[registry.mirror]]\ninsecure = true",
                3,
            ),
        ] {
            let mut c = RegistriesConf::default();
            let e = parse_into(&mut c, bad, REGISTRIES_CONF).expect_err(bad);
            assert_eq!(e.line, Some(line), "{bad}: {e}");
        }
    }
}
