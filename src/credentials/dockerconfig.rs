//! Docker config bodies decoded exactly as kubelet decodes pull secrets.
//!
//! Reproduces kubernetes `pkg/credentialprovider/config.go` (`DockerConfigJSON`, `DockerConfig`,
//! `DockerConfigEntry.UnmarshalJSON`, `decodeDockerConfigFieldAuth`) and
//! `pkg/credentialprovider/secrets/secrets.go`
//! (<https://github.com/kubernetes/kubernetes/blob/master/pkg/credentialprovider/config.go>):
//! `{"auths": {KEY: ENTRY}}` for `.dockerconfigjson` and the flat `{KEY: ENTRY}` for `.dockercfg`;
//! entry fields `username`, `password`, `email`, `auth` matched case-insensitively as Go does; a
//! non-empty `auth` is base64 of `user:password` (padded or not, newlines skipped) and overrides
//! the other two. Any JSON syntax or type error, and any bad `auth`, makes kubelet's keyring fail,
//! which fails every pull of the pod: those findings are marked [`FindingId::breaks_keyring`].
//! The same decoder reads a `~/.docker/config.json` for `pulldoctor image --authfile`, keeping
//! `credsStore` and `credHelpers`, which kubelet ignores.

pub use super::auth::{AuthError, decode_auth};
use super::findings::{Finding, FindingId, key_userinfo, shorten, shown_key};
use super::json::{self, Json};
use crate::redacted::Redacted;
use crate::registry::Puller;

/// Kubernetes refuses secrets larger than this; a bigger body came from a hand-made snapshot.
const SECRET_LIMIT: usize = 1024 * 1024;
/// No real username, password or token is this long.
const FIELD_LIMIT: usize = 16 * 1024;

/// Which body shape a secret type promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `kubernetes.io/dockerconfigjson` / `config.json`: `{"auths": {…}}`.
    ConfigJson,
    /// `kubernetes.io/dockercfg`: the flat legacy `{KEY: ENTRY}` map.
    Dockercfg,
}

/// One registry entry after kubelet's decoding.
#[derive(Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key as written (`https://index.docker.io/v1/`, `reg.example.com:5000`).
    pub key: String,
    /// The username kubelet sends (from `auth` when that is set).
    pub username: String,
    /// The password kubelet sends (from `auth` when that is set).
    pub password: Redacted,
    /// `identitytoken`, which kubelet ignores but docker uses.
    pub identity_token: Option<Redacted>,
    /// `registrytoken`, which kubelet ignores but docker uses.
    pub registry_token: Option<Redacted>,
}

// By hand: the key may carry `user:password@`, which Debug must not show.
impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("key", &shown_key(&self.key))
            .field("username", &self.username)
            .field("password", &self.password)
            .field("identity_token", &self.identity_token)
            .field("registry_token", &self.registry_token)
            .finish()
    }
}

/// A decoded docker config: its entries, what kubelet would make of it, and the near misses.
#[derive(Debug, Clone, Default)]
pub struct DockerConfig {
    /// Entries in document order, one per distinct key (the last duplicate wins, as in Go).
    pub entries: Vec<Entry>,
    /// `credsStore` (config.json only; kubelet ignores it).
    pub creds_store: Option<String>,
    /// `credHelpers` registry → helper name (config.json only; kubelet ignores them).
    pub cred_helpers: Vec<(String, String)>,
    /// What is wrong or surprising, each naming the source and key.
    pub findings: Vec<Finding>,
}

impl DockerConfig {
    /// True when kubelet could not build its keyring from this body: every pull fails.
    pub fn breaks_keyring(&self) -> bool {
        self.findings.iter().any(|f| f.id.breaks_keyring())
    }
}

/// Decodes a docker config body; `source` labels the findings (`shop/regcred`, a file path).
pub fn decode(bytes: &[u8], format: Format, source: &str) -> DockerConfig {
    decode_for(bytes, format, source, Puller::Node)
}

/// [`decode`], with findings worded for whose pull reads the body: a pod's secret read by
/// kubelet, or the `--authfile` that `pulldoctor image` reads by kubelet's rules.
pub fn decode_for(bytes: &[u8], format: Format, source: &str, puller: Puller) -> DockerConfig {
    let mut d = Decoder {
        source,
        puller,
        out: DockerConfig::default(),
    };
    if bytes.len() > SECRET_LIMIT {
        d.push(
            Finding::new(
                FindingId::HugeValue,
                format!(
                    "the docker config is {} bytes, over the 1 MiB Kubernetes allows for a secret",
                    bytes.len()
                ),
            ),
            None,
        );
    }
    let tree = match json::parse(bytes) {
        Ok(tree) => tree,
        Err(e) => {
            let msg = format!("not valid JSON: {e}; {}", d.fails());
            d.push(Finding::new(FindingId::UnparsableJson, msg), None);
            return d.out;
        }
    };
    match format {
        Format::ConfigJson => d.config_json(&tree),
        Format::Dockercfg => d.dockercfg(&tree),
    }
    d.out
}

struct Decoder<'a> {
    source: &'a str,
    puller: Puller,
    out: DockerConfig,
}

impl Decoder<'_> {
    /// Who reads the body by kubelet's rules, as the findings name it.
    fn reader(&self) -> &'static str {
        match self.puller {
            Puller::Node => "kubelet",
            Puller::Ci => "pulldoctor",
        }
    }

    /// What a body that breaks the keyring costs.
    fn fails(&self) -> &'static str {
        match self.puller {
            Puller::Node => "kubelet fails every pull of this pod",
            Puller::Ci => "pulldoctor reads no credentials from this file",
        }
    }

    fn push(&mut self, finding: Finding, key: Option<&str>) {
        let mut f = finding.secret(self.source);
        if let Some(k) = key {
            f = f.key(k);
        }
        self.out.findings.push(f);
    }

    /// A Go `UnmarshalTypeError`: the keyring fails.
    fn type_error(&mut self, path: &str, expected: &str, found: &Json, key: Option<&str>) {
        let msg = format!(
            "{path} is a JSON {} where {} expects {expected}; {}",
            found.kind(),
            self.reader(),
            self.fails()
        );
        self.push(Finding::new(FindingId::WrongJsonType, msg), key);
    }

    fn config_json(&mut self, tree: &Json) {
        let members = match tree {
            Json::Null => return,
            Json::Object(m) => m,
            other => return self.type_error("the document", "an object", other, None),
        };
        // Go decodes a repeated "auths" into the same map: entries merge, and null clears it.
        let mut auths: Option<Vec<(String, Json)>> = None;
        for (name, value) in members {
            match name.to_ascii_lowercase().as_str() {
                "auths" => {
                    if auths.is_some() {
                        let msg = format!(
                            "\"auths\" appears more than once; {} merges them, later keys winning",
                            self.reader()
                        );
                        self.push(Finding::new(FindingId::DuplicateJsonKey, msg), None);
                    }
                    match value {
                        Json::Null => auths = Some(Vec::new()),
                        Json::Object(m) => auths.get_or_insert_default().extend(m.iter().cloned()),
                        other => {
                            self.type_error("auths", "an object", other, None);
                            auths.get_or_insert_default();
                        }
                    }
                }
                "httpheaders" => self.string_map(value, "HttpHeaders"),
                "credsstore" => {
                    if let Json::Str(s) = value {
                        self.out.creds_store = Some(s.clone());
                    }
                }
                "credhelpers" => {
                    for (host, helper) in value.members().unwrap_or_default() {
                        if let Json::Str(h) = helper {
                            self.out.cred_helpers.push((host.clone(), h.clone()));
                        }
                    }
                }
                _ => {}
            }
        }
        match auths {
            Some(entries) => self.entries(&entries, "auths"),
            None => self.missing_auths(members),
        }
        self.helper_only();
    }

    fn dockercfg(&mut self, tree: &Json) {
        let members = match tree {
            Json::Null => return,
            Json::Object(m) => m,
            other => return self.type_error("the document", "an object", other, None),
        };
        if let Some((name, _)) = members
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case("auths") && v.members().is_some())
        {
            let msg = format!(
                "a kubernetes.io/dockercfg secret holding an {{\"{}\": …}} body (the .dockerconfigjson shape): kubelet reads \"{}\" as a registry name and finds no credentials; recreate it as type kubernetes.io/dockerconfigjson",
                shown_key(name),
                shown_key(name)
            );
            self.push(
                Finding::new(FindingId::DockerconfigjsonInDockercfg, msg),
                Some(name),
            );
        }
        self.entries(members, "");
    }

    /// No `auths` member: a flat dockercfg body inside a dockerconfigjson secret, or nothing.
    fn missing_auths(&mut self, members: &[(String, Json)]) {
        let registries: Vec<&str> = members
            .iter()
            .filter(|(k, v)| {
                // A registry key, or an object holding entry fields; not docker's own
                // `proxies`, `plugins` or `credHelpers` sections.
                let fields = v.members().is_some_and(|m| {
                    m.iter().any(|(f, _)| {
                        ["auth", "username", "password", "identitytoken"]
                            .iter()
                            .any(|e| f.eq_ignore_ascii_case(e))
                    })
                });
                v.members().is_some()
                    && (fields || k.contains(['.', ':']) || k.starts_with("localhost"))
                    && !k.eq_ignore_ascii_case("credhelpers")
            })
            .map(|(k, _)| k.as_str())
            .collect();
        if let Some(first) = registries.first() {
            let msg = format!(
                "the body has registry keys at the top level ({}) but no \"auths\" object: that is the legacy .dockercfg shape, and {} finds no credentials in {} shaped so",
                shown_key(first),
                self.reader(),
                match self.puller {
                    Puller::Node => "a kubernetes.io/dockerconfigjson secret",
                    Puller::Ci => "a config.json",
                }
            );
            self.push(
                Finding::new(FindingId::DockercfgInDockerconfigjson, msg),
                Some(first),
            );
        }
    }

    /// `HttpHeaders` is a `map[string]string` in kubelet's struct, so its types matter too.
    fn string_map(&mut self, value: &Json, path: &str) {
        match value {
            Json::Null => {}
            Json::Object(m) => {
                for (k, v) in m {
                    if !matches!(v, Json::Str(_) | Json::Null) {
                        self.type_error(&format!("{path}[{:?}]", shorten(k)), "a string", v, None);
                    }
                }
            }
            other => self.type_error(path, "an object", other, None),
        }
    }

    fn entries(&mut self, members: &[(String, Json)], path: &str) {
        // Where each key last appears, so duplicates are found in one pass even in a huge body.
        let last: std::collections::HashMap<&str, usize> = members
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.as_str(), i))
            .collect();
        for (i, (key, value)) in members.iter().enumerate() {
            let at = if path.is_empty() {
                format!("[{:?}]", shown_key(key))
            } else {
                format!("{path}[{:?}]", shown_key(key))
            };
            let later = last[key.as_str()] != i;
            if later {
                let msg = format!(
                    "key {:?} appears more than once; {} keeps the last one",
                    shown_key(key),
                    self.reader()
                );
                self.push(Finding::new(FindingId::DuplicateJsonKey, msg), Some(key));
            }
            let before = self.out.findings.len();
            let entry = self.entry(key, value, &at);
            if later {
                // Go still decodes the overridden value, so its errors break the keyring; its
                // other oddities no longer matter.
                let mut i = before;
                while i < self.out.findings.len() {
                    if self.out.findings[i].id.breaks_keyring() {
                        i += 1;
                    } else {
                        self.out.findings.remove(i);
                    }
                }
            } else if let Some(entry) = entry {
                self.out.entries.push(entry);
            }
        }
    }

    /// Decodes one entry as `DockerConfigEntry.UnmarshalJSON` does.
    fn entry(&mut self, key: &str, value: &Json, at: &str) -> Option<Entry> {
        let fields = match value {
            Json::Null => &[][..],
            Json::Object(m) => m.as_slice(),
            other => {
                self.type_error(at, "an object", other, Some(key));
                return None;
            }
        };
        let (mut username, mut password, mut auth) = (String::new(), String::new(), String::new());
        let (mut identity, mut registry) = (None, None);
        let mut email = String::new();
        let mut seen = std::collections::BTreeSet::new();
        for (name, v) in fields {
            let lower = name.to_ascii_lowercase();
            let slot = match lower.as_str() {
                "username" => &mut username,
                "password" => &mut password,
                "auth" => &mut auth,
                "email" => &mut email,
                "identitytoken" | "registrytoken" => {
                    if let Json::Str(s) = v.clone() {
                        let token = Some(Redacted::new(s));
                        if lower == "identitytoken" {
                            identity = token
                        } else {
                            registry = token
                        }
                    }
                    continue;
                }
                _ => continue,
            };
            if !seen.insert(lower.clone()) {
                let msg = format!(
                    "{at}.{lower} is given twice; {} keeps the last one",
                    self.reader()
                );
                self.push(Finding::new(FindingId::DuplicateJsonKey, msg), Some(key));
            }
            match v {
                Json::Str(s) => *slot = s.clone(),
                Json::Null => {}
                other => {
                    self.type_error(&format!("{at}.{lower}"), "a string", other, Some(key));
                    return None;
                }
            }
            if slot.len() > FIELD_LIMIT {
                let msg = format!(
                    "{at}.{lower} is {} bytes long, more than any real credential",
                    slot.len()
                );
                self.push(Finding::new(FindingId::HugeValue, msg), Some(key));
            }
        }
        // A registry may echo any of these back; remember them before they can be shown.
        crate::scrub::remember(&auth);
        crate::scrub::remember_pair(&username, &password);
        if let Some(userinfo) = key_userinfo(key) {
            crate::scrub::remember(userinfo);
        }
        if !auth.is_empty() {
            let (u, p) = match decode_auth(&auth) {
                Ok(pair) => pair,
                Err(e) => {
                    self.push(e.finding(at, self.fails()), Some(key));
                    return None;
                }
            };
            if !username.is_empty() && username != u {
                let msg = format!(
                    "{at}: username {:?} differs from the one in auth ({:?}); {} uses auth",
                    shorten(&username),
                    shorten(&u),
                    self.reader()
                );
                self.push(Finding::new(FindingId::AuthDisagrees, msg), Some(key));
            }
            if !password.is_empty() && password != p {
                let msg = format!(
                    "{at}: password differs from the one in auth; {} uses the one in auth",
                    self.reader()
                );
                self.push(Finding::new(FindingId::AuthDisagrees, msg), Some(key));
            }
            if p.ends_with(['\n', '\r']) || u.ends_with(['\n', '\r']) {
                let msg = format!(
                    "{at}: auth decodes to a value ending in a newline (made with `echo user:pass | base64`; use `echo -n` or `printf`), so the registry sees the wrong password"
                );
                self.push(Finding::new(FindingId::TrailingNewline, msg), Some(key));
            }
            crate::scrub::remember_pair(&u, &p);
            crate::scrub::remember(&p);
            (username, password) = (u, p);
        } else if password.ends_with(['\n', '\r']) || username.ends_with(['\n', '\r']) {
            let msg = format!(
                "{at}: the password or username ends in a newline, which the registry will not accept"
            );
            self.push(Finding::new(FindingId::TrailingNewline, msg), Some(key));
        }
        if username.is_empty() && password.is_empty() {
            let (id, msg) = if identity.is_some() || registry.is_some() {
                (
                    FindingId::TokenIgnored,
                    format!(
                        "{at} holds only an identity or registry token, which {} ignores: it sends empty credentials",
                        self.reader()
                    ),
                )
            } else {
                (
                    FindingId::EmptyCredentials,
                    format!(
                        "{at} has no username, password or auth: {} sends empty credentials",
                        self.reader()
                    ),
                )
            };
            self.push(Finding::new(id, msg), Some(key));
        }
        Some(Entry {
            key: key.to_string(),
            username,
            password: Redacted::new(password),
            identity_token: identity,
            registry_token: registry,
        })
    }

    /// A config made from a `config.json` whose passwords live in a credential helper.
    fn helper_only(&mut self) {
        let helper = self
            .out
            .creds_store
            .clone()
            .or_else(|| self.out.cred_helpers.first().map(|(_, h)| h.clone()));
        let Some(helper) = helper else { return };
        if self
            .out
            .entries
            .iter()
            .all(|e| e.username.is_empty() && e.password.is_empty())
        {
            let msg = format!(
                "the config names credential helper {:?}: its passwords live in that helper on the machine that wrote it, and the file carries none (kubelet never runs helpers)",
                shorten(&helper)
            );
            self.push(Finding::new(FindingId::CredentialHelperOnly, msg), None);
        }
    }
}

#[cfg(test)]
#[path = "dockerconfig_tests.rs"]
mod tests;
