//! The probe as the commands use it: trust resolved per registry, reserved names skipped,
//! and the probe's record boiled down for the verdict.

mod endpoints;
mod route;
mod socks_check;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::cli::ProbeArgs;
use crate::config::Common;
use crate::diagnose::{ProbeFacts, ProbeResult};
use crate::registry::{
    self, ImageRef, InsecureHosts, InsecureTransport, Platform, ProbeReport, ProbeRequest, Puller,
};
use crate::taxonomy::Runtime;
use crate::trust::{Trust, TrustSpec};

/// Runs probes with the command line's trust and transport settings.
pub struct Prober {
    enabled: bool,
    spec: TrustSpec,
    /// The hosts `--plain-http` and `--registry-insecure-skip-verify` named.
    insecure: InsecureHosts,
    catalog: bool,
    timeout: Duration,
    notes: Mutex<Vec<String>>,
    /// Every connection made (or that a node would make) without TLS trust, each once.
    transport: Mutex<Vec<InsecureTransport>>,
    /// The named hosts some probe reached, to tell the user about a name that matched nothing.
    reached: Mutex<Vec<String>>,
    /// Probes run so far.
    probes: AtomicUsize,
    /// Whose pull the probes stand for (a node's, or `image`'s CI job): sets their wording.
    puller: Puller,
    /// `--node-root`: the node's files decide trust, endpoint and node credentials.
    node: Option<crate::config::NodeSettings>,
    /// The node's `containerRuntimeVersion`, when a Node object gave it (`pod`).
    node_runtime_version: Mutex<Option<String>>,
    /// What the node's files said, one per image.
    node_configs: Mutex<Vec<crate::node::NodeConfig>>,
    /// What the node's files add to an image's verdict (`route.rs`), by canonical image.
    node_notes: Mutex<Vec<(String, route::NodeNotes)>>,
}

impl Prober {
    /// Resolves the flags; unreadable trust files are reported when first used.
    pub fn new(args: &ProbeArgs, common: &Common) -> crate::Result<Prober> {
        for f in &args.ca_files {
            if !f.is_file() {
                return Err(crate::Error::BadFile {
                    path: f.clone(),
                    reason: "--ca-file must name a readable PEM file".to_string(),
                });
            }
        }
        let insecure = InsecureHosts::from_flags(&args.plain_http, &args.insecure_skip_tls_verify)
            .map_err(crate::Error::Usage)?;
        let pins = crate::trust::Pin::parse_all(&args.resolve)
            .map_err(|e| crate::Error::Usage(e.to_string()))?;
        Ok(Prober {
            enabled: !args.no_probe,
            spec: TrustSpec {
                ca_files: args.ca_files.clone(),
                cert_dir: args.cert_dir.clone(),
                certs_roots: args.certs_dir.iter().cloned().collect(),
                pins,
            },
            insecure,
            catalog: args.catalog,
            timeout: common.timeout,
            notes: Mutex::new(Vec::new()),
            transport: Mutex::new(Vec::new()),
            reached: Mutex::new(Vec::new()),
            probes: AtomicUsize::new(0),
            puller: Puller::Node,
            node: None,
            node_runtime_version: Mutex::new(None),
            node_configs: Mutex::new(Vec::new()),
            node_notes: Mutex::new(Vec::new()),
        })
    }

    /// Reads the node's files (`--node-root`) for every probe.
    pub fn with_node(mut self, node: Option<crate::config::NodeSettings>) -> Prober {
        self.node = node;
        self
    }

    /// The node's `containerRuntimeVersion` (`containerd://1.7.2`), from its Node object.
    pub fn set_node_runtime_version(&self, version: &str) {
        if let Ok(mut v) = self.node_runtime_version.lock() {
            *v = Some(version.to_string()).filter(|v| !v.is_empty());
        }
    }

    /// What the node's files said, one entry per image probed.
    pub fn node_configs(&self) -> Vec<crate::node::NodeConfig> {
        self.node_configs
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// Reads the node's files for `image`: None without `--node-root`.
    fn read_node(&self, image: &ImageRef, runtime: Runtime) -> Option<crate::node::NodeRead> {
        let node = self.node.as_ref()?;
        let (runtime, major) = match node.runtime {
            Some(r) => r,
            None => {
                let version = self
                    .node_runtime_version
                    .lock()
                    .ok()
                    .and_then(|v| v.clone());
                match version {
                    Some(v) => crate::node::runtime_of(&v),
                    None => (runtime, None),
                }
            }
        };
        let read = crate::node::read(&node.root, runtime, major, &image.original, image);
        Some(read)
    }

    /// Probes for `pulldoctor image`: their lines speak of its flags, not of a node.
    pub fn for_ci(mut self) -> Prober {
        self.puller = Puller::Ci;
        self
    }

    /// Notes gathered while probing (trust problems, named hosts never reached), each once.
    pub fn notes(&self) -> Vec<String> {
        let mut n = self.notes.lock().map(|n| n.clone()).unwrap_or_default();
        n.dedup();
        if self.probes.load(Ordering::Relaxed) == 0 {
            return n;
        }
        let reached = self.reached.lock().map(|r| r.clone()).unwrap_or_default();
        let named = [
            ("--plain-http", &self.insecure.plain_http),
            (
                "--registry-insecure-skip-verify",
                &self.insecure.skip_verify,
            ),
        ];
        for (flag, hosts) in named {
            for h in hosts.iter().filter(|h| !reached.contains(&h.to_string())) {
                n.push(format!(
                    "{flag} {h} matched no registry or token realm pulldoctor contacted (a host matches with its port: HOST:PORT)"
                ));
            }
        }
        for p in self
            .spec
            .pins
            .iter()
            .filter(|p| !reached.contains(&p.to_string()))
        {
            n.push(format!(
                "--resolve {p} matched no host and port pulldoctor contacted"
            ));
        }
        n
    }

    /// Every connection made, or that the node's runtime would make, without TLS trust.
    pub fn insecure_transport(&self) -> Vec<InsecureTransport> {
        self.transport.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Remembers what a probe reached insecurely, and which named hosts it touched (`names`:
    /// the registry as the image names it).
    fn record(&self, report: &ProbeReport, names: &[url::Url]) {
        if let Ok(mut t) = self.transport.lock() {
            for i in &report.insecure {
                if !t.contains(i) {
                    t.push(i.clone());
                }
            }
        }
        let urls: Vec<url::Url> = std::iter::once(report.endpoint.as_str())
            .chain(report.steps.iter().map(|s| s.url.as_str()))
            .filter_map(|u| url::Url::parse(u).ok())
            .chain(names.iter().cloned())
            .collect();
        if let Ok(mut r) = self.reached.lock() {
            let named = self.insecure.plain_http.iter();
            for h in named.chain(&self.insecure.skip_verify) {
                if urls.iter().any(|u| h.matches(u)) && !r.contains(&h.to_string()) {
                    r.push(h.to_string());
                }
            }
            for p in &self.spec.pins {
                let hit = urls.iter().any(|u| {
                    u.host_str().is_some_and(|h| p.is_for(h))
                        && u.port_or_known_default() == Some(p.port)
                });
                if hit && !r.contains(&p.to_string()) {
                    r.push(p.to_string());
                }
            }
        }
        self.probes.fetch_add(1, Ordering::Relaxed);
    }

    fn note(&self, line: String) {
        if let Ok(mut n) = self.notes.lock()
            && !n.contains(&line)
        {
            n.push(line);
        }
    }

    /// Why this image is not probed, if it is not. An image not probed still gets its node
    /// configuration read (`--node-root`), so `--no-probe` shows what the node's files say.
    pub fn skip_reason(&self, image: Option<&ImageRef>) -> Option<ProbeFacts> {
        self.skip_reason_on(image, Runtime::Unknown)
    }

    /// [`Self::skip_reason`] for a node whose runtime is known (`scan`: from its Node object).
    pub fn skip_reason_on(&self, image: Option<&ImageRef>, runtime: Runtime) -> Option<ProbeFacts> {
        let skip = self.skip_reason_only(image, runtime);
        if skip.is_some()
            && let Some(read) = image.and_then(|i| self.read_node(i, runtime))
        {
            self.keep_node_config(read.config);
        }
        skip
    }

    fn keep_node_config(&self, config: crate::node::NodeConfig) {
        if let Ok(mut c) = self.node_configs.lock()
            && !c.iter().any(|x| x.image == config.image)
        {
            c.push(config);
        }
    }

    fn skip_reason_only(&self, image: Option<&ImageRef>, runtime: Runtime) -> Option<ProbeFacts> {
        if !self.enabled {
            return Some(ProbeFacts::Off);
        }
        let Some(image) = image else {
            return Some(ProbeFacts::NotRun(
                "the image reference does not parse".to_string(),
            ));
        };
        if registry::dns::reserved_domain(image.host()) == Some("test")
            && !self.reaches_reserved(image, runtime)
        {
            return Some(ProbeFacts::NotRun(format!(
                "{} is a reserved .test name (RFC 6761), used by fixtures; it is never contacted",
                image.registry
            )));
        }
        None
    }

    /// The probe's record boiled down for the verdict, each supplied CA file named by the flag
    /// it came from, so the verdict can say what `--ca-file` proved.
    pub fn facts(&self, report: &ProbeReport) -> ProbeFacts {
        let mut facts = facts(report);
        self.attach_notes(report, &mut facts);
        if let ProbeFacts::Ran(r) = &mut facts {
            for ca in &mut r.supplied_ca {
                *ca = self.ca_label(ca);
            }
            r.on_node = self.node.is_some();
        }
        facts
    }

    /// `--ca-file PATH`, `--cert-dir PATH`, or a file of the node's certs.d copy.
    fn ca_label(&self, path: &str) -> String {
        let p = std::path::Path::new(path);
        if let Some(node) = &self.node
            && let Ok(rel) = p.strip_prefix(&node.root)
        {
            format!("/{} from --node-root", rel.display())
        } else if self.spec.ca_files.iter().any(|f| f == p) {
            format!("--ca-file {path}")
        } else if self
            .spec
            .cert_dir
            .as_deref()
            .is_some_and(|d| p.starts_with(d))
        {
            format!("--cert-dir {path}")
        } else if self.puller == Puller::Ci {
            format!("{path} from --certs-dir")
        } else {
            format!("{path} from the node's certs.d copy")
        }
    }

    /// Probes `image` as a node of `runtime` on `platform` would, with `auths` in kubelet order.
    /// `platform_known`: the platform is the user's or the node's, not a guess, so a
    /// single-platform image is checked against it too (its config blob, one request).
    pub async fn probe(
        &self,
        image: &ImageRef,
        auths: Vec<registry::Auth>,
        platform: &Platform,
        platform_known: bool,
        runtime: Runtime,
    ) -> crate::Result<ProbeReport> {
        let Some(read) = self.read_node(image, runtime) else {
            let trust = Trust::resolve(&self.spec, &image.registry, runtime)
                .map_err(|e| crate::Error::Tls(e.to_string()))?;
            return Ok(self
                .probe_with(image, auths, trust, platform, platform_known)
                .await);
        };
        let mut auths = auths;
        if let Some(e) = &read.credential {
            let file = read
                .config
                .credentials
                .as_ref()
                .and_then(|c| c.file.clone());
            auths.push(registry::Auth::new(
                format!("node keyring {}", file.unwrap_or_default()),
                e.username.clone(),
                e.password.clone(),
            ));
        }
        Ok(self
            .probe_endpoints(read, image, auths, platform, platform_known)
            .await)
    }

    /// One probe with a resolved trust.
    async fn probe_with(
        &self,
        image: &ImageRef,
        auths: Vec<registry::Auth>,
        trust: Trust,
        platform: &Platform,
        platform_known: bool,
    ) -> ProbeReport {
        tracing::info!("trust for {}: {}", image.registry, trust.sources.join("; "));
        for p in &trust.problems {
            tracing::info!("trust for {}: {p}", image.registry);
        }
        let mut req = ProbeRequest::new(image.clone(), platform.clone());
        req.credentials = auths;
        req.trust = trust;
        req.timeout = self.timeout;
        req.step_timeout = self.timeout;
        req.catalog = self.catalog;
        req.check_platform = platform_known;
        req.puller = self.puller;
        // The flags apply to the registry when they name it as the image does (or, for
        // Docker Hub, its API host).
        let named: Vec<url::Url> = [image.registry.as_str(), image.api_host()]
            .into_iter()
            .filter_map(registry::insecure::registry_url)
            .collect();
        req.plain_http = named.iter().any(|u| self.insecure.plain_http_for(u));
        req.insecure_skip_verify = named.iter().any(|u| self.insecure.skip_verify_for(u));
        req.insecure = self.insecure.clone();
        tracing::info!(
            "probe {}: {} credential{} to try, timeout {} s",
            image,
            req.credentials.len(),
            if req.credentials.len() == 1 { "" } else { "s" },
            self.timeout.as_secs_f64()
        );
        let started = std::time::Instant::now();
        let report = registry::probe(&req).await;
        tracing::info!(
            "probe {}: done, {} step{} in {} ms",
            image,
            report.steps.len(),
            if report.steps.len() == 1 { "" } else { "s" },
            started.elapsed().as_millis()
        );
        self.record(&report, &named);
        for p in &report.trust_problems {
            let whose = match self.puller {
                Puller::Node => "node trust config",
                Puller::Ci => "trust config",
            };
            self.note(format!("{whose} for {}: {p}", image.registry));
        }
        report
    }
}

/// The probe's record, boiled down for the verdict.
pub fn facts(report: &ProbeReport) -> ProbeFacts {
    let trust_contrast = |prefix: &str| {
        report
            .contrasts
            .iter()
            .find(|c| c.credential == "-" && c.trust.starts_with(prefix))
    };
    let works_with_supplied_ca = match (trust_contrast("node CA"), trust_contrast("system roots")) {
        // When the system roots verify the registry too, the supplied CA decides nothing; a
        // handshake that never finished tested neither.
        (Some(node), Some(system)) if !node.untested && !system.untested && !system.works => {
            Some(node.works)
        }
        _ => None,
    };
    // The contrast names the supplied CA's files: `node CA (/path/ca.pem, …)`.
    let supplied_ca = trust_contrast("node CA")
        .and_then(|c| c.trust.strip_prefix("node CA (")?.strip_suffix(')'))
        .map(|paths| paths.split(", ").map(str::to_string).collect())
        .unwrap_or_default();
    let anonymous_works = report
        .contrasts
        .iter()
        .find(|c| c.credential == "anonymous")
        .map(|c| c.works);
    let working_credential = report
        .contrasts
        .iter()
        .find(|c| c.credential != "-" && c.credential != "anonymous" && c.works)
        .map(|c| c.credential.clone())
        .or_else(|| report.outcome.credential_used.clone());
    // What was known before asking (an expired ECR password) comes first.
    let mut steps: Vec<String> = report.notices.clone();
    steps.extend(report.steps.iter().map(|s| {
        let path = url::Url::parse(&s.url)
            .map(|u| u.path().to_string())
            .unwrap_or_default();
        format!("{} {path}: {}", s.method, s.detail)
    }));
    if !report.outcome.detail.is_empty() {
        steps.push(format!("conclusion: {}", report.outcome.detail));
    }
    ProbeFacts::Ran(ProbeResult {
        cause: report.outcome.cause,
        detail: report.outcome.detail.clone(),
        steps,
        tags: report.tags.clone(),
        platforms: if report.platforms.is_empty() {
            report
                .config_platform
                .iter()
                .map(|p| p.to_string())
                .collect()
        } else {
            report.platforms.iter().map(|p| p.to_string()).collect()
        },
        platform: report.platform.to_string(),
        works_with_supplied_ca,
        supplied_ca,
        working_credential,
        anonymous_works,
        requests: report.requests,
        flags: report.flags.clone(),
        insecure: report.insecure.clone(),
        skipped_contrasts: report.skipped_contrasts.clone(),
        quota: report.quota.clone(),
        credential_expired: report.credential_expired,
        node_edit: None,
        node_endpoint: None,
        on_node: false,
    })
}

/// `--require-verified-tls`: an image the registry served only over skipped trust (plain
/// HTTP, or a certificate verification would refuse) is a problem, with the cause a verifying
/// client would have met.
pub fn require_verified(facts: &mut ProbeFacts) {
    let ProbeFacts::Ran(r) = facts else {
        return;
    };
    if r.cause.is_some() {
        return;
    }
    let Some(t) = r.insecure.iter().find(|t| t.used && t.would_fail.is_some()) else {
        return;
    };
    let role = if t.role == "registry" {
        "registry"
    } else {
        "token realm"
    };
    let how = match &t.verification {
        Some(v) => format!("its certificate does not verify: {v}"),
        None => "it was reached over plain HTTP".to_string(),
    };
    r.cause = t.would_fail;
    r.detail = format!(
        "pullable only with TLS trust skipped for {role} {} ({}): {how}; --require-verified-tls refuses that",
        t.host, t.by
    );
    r.steps.push(format!("conclusion: {}", r.detail));
}
