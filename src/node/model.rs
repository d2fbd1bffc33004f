//! The result of reading a node's runtime configuration for one image: [`NodeConfig`].
//!
//! One value per image, in the order the runtime acts: the endpoints it tries (mirrors first,
//! then the upstream), how it talks to each, the proxy it would use, where kubelet's node-level
//! credentials come from, the `/etc/hosts` names that apply, and the findings — each naming the
//! node file and line that decides it. The report carries it as is.

use serde::Serialize;

/// One thing a node file decides, or gets wrong, with the file and line that decide it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The file as the node sees it (`/etc/containerd/certs.d/reg:5000/hosts.toml`).
    pub file: String,
    /// The line that decides it, when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// What it means for this pull.
    pub text: String,
}

impl Finding {
    pub fn new(file: &str, line: Option<u32>, text: impl Into<String>) -> Finding {
        Finding {
            file: file.to_string(),
            line,
            text: text.into(),
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(l) => write!(f, "{} line {l}: {}", self.file, self.text),
            None => write!(f, "{}: {}", self.file, self.text),
        }
    }
}

impl From<super::files::NodeFileError> for Finding {
    fn from(e: super::files::NodeFileError) -> Finding {
        Finding::new(&e.path, e.line, e.reason)
    }
}

/// Whether an endpoint is a mirror tried before the registry, or the registry itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Mirror,
    Upstream,
}

/// One endpoint the runtime tries, in its order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Endpoint {
    /// Base URL (`https://mirror.example.com:5000`; the path is the API root when
    /// `override_path`).
    pub url: String,
    pub role: Role,
    /// What the runtime uses it for (`pull`, `resolve`, `push`); empty = everything.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub capabilities: Vec<String>,
    /// CA files added to the node's bundle for this endpoint (node paths).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ca: Vec<String>,
    /// The client certificate presented, and its key (node paths).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_cert: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    /// The certificate is not verified.
    pub skip_verify: bool,
    /// Plain HTTP is allowed (Docker `insecure-registries`, CRI-O `insecure`, an `http://`
    /// endpoint).
    pub insecure: bool,
    pub override_path: bool,
    /// The repository path the runtime asks this endpoint for, when a rewrite changes it
    /// (CRI-O `location`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
    /// The file and line that put this endpoint here.
    pub source: String,
}

impl Endpoint {
    /// An endpoint with nothing set but its URL, role and source.
    pub fn new(url: &str, role: Role, source: String) -> Endpoint {
        Endpoint {
            url: url.to_string(),
            role,
            capabilities: Vec::new(),
            ca: Vec::new(),
            client_cert: None,
            client_key: None,
            skip_verify: false,
            insecure: url.starts_with("http://"),
            override_path: false,
            repository: None,
            source,
        }
    }

    /// Whether the runtime pulls from it (containerd skips hosts without `pull` + `resolve`).
    pub fn pulls(&self) -> bool {
        let has = |c: &str| self.capabilities.iter().any(|x| x == c);
        self.capabilities.is_empty() || (has("pull") && has("resolve"))
    }
}

/// The proxy the runtime's environment sets for this image's endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proxy {
    /// The variable that applies (`HTTPS_PROXY`).
    pub variable: String,
    /// Its value with any password masked.
    pub value: String,
    /// Whether Go's rules send this registry through it (NO_PROXY, loopback).
    pub applies: bool,
    /// Why it does or does not apply.
    pub reason: String,
    /// The file and line that set it.
    pub source: String,
}

/// Where kubelet's node-level credentials for this image come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeCredentials {
    /// The docker config file kubelet reads (the first of its search paths that parses).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// The key in that file that matches the image (never the secret itself).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// The credential provider plugin whose `matchImages` matches the image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
}

/// An `/etc/hosts` entry for a name the runtime contacts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostsEntry {
    pub name: String,
    pub address: String,
    pub line: u32,
}

/// Everything the node's files say about pulling one image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeConfig {
    /// The image as written.
    pub image: String,
    /// The runtime whose files were read (`containerd`, `docker`, `cri-o`).
    pub runtime: String,
    /// The reference the runtime pulls after short-name resolution (CRI-O), when different.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<String>,
    /// Endpoints in the order the runtime tries them.
    pub endpoints: Vec<Endpoint>,
    /// The node's CA bundle used instead of this machine's roots.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<Proxy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<NodeCredentials>,
    /// `/etc/hosts` entries for the names contacted (applied like `--resolve`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostsEntry>,
    /// `/etc/resolv.conf` nameservers (reported only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nameservers: Vec<String>,
    /// The pull is refused by the node's config before any connection (CRI-O `blocked`).
    pub blocked: bool,
    /// What the node's files decide, each with its file and line.
    pub findings: Vec<Finding>,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let role = match self.role {
            Role::Mirror => "mirror",
            Role::Upstream => "upstream",
        };
        write!(f, "{role} {}", self.url)?;
        if let Some(r) = &self.repository {
            write!(f, " (repository {r})")?;
        }
        if !self.capabilities.is_empty() {
            write!(f, " capabilities={}", self.capabilities.join(","))?;
        }
        if !self.ca.is_empty() {
            write!(f, " ca={}", self.ca.join(","))?;
        }
        if let Some(c) = &self.client_cert {
            write!(f, " client={c}")?;
        }
        if self.skip_verify {
            write!(f, " skip_verify")?;
        }
        if self.insecure {
            write!(f, " insecure")?;
        }
        if self.override_path {
            write!(f, " override_path")?;
        }
        write!(f, " — {}", self.source)
    }
}

impl NodeConfig {
    /// The report's lines for this image, in order: endpoints, proxy, credentials, names,
    /// then findings (each `file line N: what`).
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(r) = &self.resolved {
            out.push(format!("pulled as {r}"));
        }
        if self.blocked {
            out.push("blocked by the node's registries.conf".to_string());
        }
        for (i, e) in self.endpoints.iter().enumerate() {
            out.push(format!("endpoint {}: {e}", i + 1));
        }
        if let Some(b) = &self.ca_bundle {
            out.push(format!("trust: the node's CA bundle {b}"));
        }
        if let Some(p) = &self.proxy {
            out.push(format!(
                "proxy: {}={} {} — {} ({})",
                p.variable,
                p.value,
                if p.applies { "applies" } else { "not used" },
                p.reason,
                p.source
            ));
        }
        if let Some(c) = &self.credentials {
            out.push(format!(
                "node credentials: {}{}",
                c.file.as_deref().unwrap_or("none"),
                c.entry
                    .as_deref()
                    .map(|k| format!(" (key {k})"))
                    .unwrap_or_default()
            ));
        }
        for h in &self.hosts {
            out.push(format!(
                "/etc/hosts line {}: {} → {}",
                h.line, h.name, h.address
            ));
        }
        if !self.nameservers.is_empty() {
            out.push(format!("nameservers: {}", self.nameservers.join(", ")));
        }
        out.extend(self.findings.iter().map(|f| format!("finding: {f}")));
        out
    }
}
