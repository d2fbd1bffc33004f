//! The probe's inputs and its recorded result: request, steps, contrasts, outcome.
//!
//! A probe never fails: every 401, x509 error or refused connection is a [`Step`] with an
//! outcome, and the [`ProbeReport`] says which cause the conversation proves (None = the image
//! is pullable as the node would pull it). The report serialises to the JSON schema the
//! renderers print; it never holds a password or a token.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::insecure::{InsecureHosts, InsecureTransport};
use super::platform::Platform;
use super::tls_error::Failure;
use crate::redacted::Redacted;
use crate::reference::ImageRef;
use crate::taxonomy::Cause;
use crate::trust::{CertInfo, Trust};

/// One credential to try, in the order kubelet would try them.
///
/// Stands in for `credentials::Credential` (source, key, username, password) until that type
/// lands; the integrator maps one onto the other.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Where it came from, e.g. `secret shop/regcred (key 127.0.0.1:5000)`; printed, so no secret.
    pub label: String,
    pub username: String,
    pub password: Redacted,
}

impl Auth {
    /// A credential with a printable label (`secret shop/regcred (key 127.0.0.1:5000)`).
    pub fn new(label: impl Into<String>, username: impl Into<String>, password: Redacted) -> Auth {
        Auth {
            label: label.into(),
            username: username.into(),
            password,
        }
    }
}

/// What to probe and how the node would do it.
#[derive(Debug, Clone)]
pub struct ProbeRequest {
    pub image: ImageRef,
    /// The node's platform (from `node.status.nodeInfo`), for index matching.
    pub platform: Platform,
    /// Credentials in kubelet order; empty = an anonymous pull.
    pub credentials: Vec<Auth>,
    pub trust: Trust,
    /// The whole probe's deadline, contrasts included.
    pub timeout: Duration,
    /// The most one request may take (capped by what is left of `timeout`).
    pub step_timeout: Duration,
    /// Also ask `_catalog` (informational; refusals mean "not offered").
    pub catalog: bool,
    /// `--plain-http` named this registry: speak HTTP to it, and allow credentials over it.
    pub plain_http: bool,
    /// `--registry-insecure-skip-verify` named this registry: accept its certificate (reported).
    pub insecure_skip_verify: bool,
    /// Every host the two flags named: a token realm on another host is reached insecurely,
    /// and sent credentials that way, only when named here.
    pub insecure: InsecureHosts,
    /// Run contrast probes (system roots vs node CA, anonymous vs each credential).
    pub contrasts: bool,
    /// Most `tags/list` pages followed through `Link` headers.
    pub max_tag_pages: u32,
    /// Check a single-platform manifest's config against `platform` (one more request for the
    /// config blob): set when the platform is known (`--platform`, the node's `nodeInfo`).
    pub check_platform: bool,
    /// Whose pull this probe stands for; it words the probe's lines, never what is probed.
    pub puller: Puller,
}

/// Whose pull a probe stands for: a node's runtime (`pod`, `scan`) or the CI job running
/// `pulldoctor image`, whose lines name its flags instead of the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Puller {
    #[default]
    Node,
    Ci,
}

impl Puller {
    /// The CA files the probe was given: the node's (a copy of its certs.d, or the flags), or
    /// the CI job's `--ca-file`/`--cert-dir`.
    pub fn ca_name(self) -> &'static str {
        match self {
            Puller::Node => "node CA",
            Puller::Ci => "supplied CA",
        }
    }

    /// Whose platform the probe matched against: the node's, or `--platform`.
    pub fn platform_owner(self) -> &'static str {
        match self {
            Puller::Node => "the node",
            Puller::Ci => "--platform",
        }
    }
}

impl ProbeRequest {
    /// A request with the defaults the CLI uses: system trust, anonymous, 30 s, contrasts on.
    pub fn new(image: ImageRef, platform: Platform) -> ProbeRequest {
        ProbeRequest {
            image,
            platform,
            credentials: Vec::new(),
            trust: Trust::system(),
            timeout: Duration::from_secs(30),
            step_timeout: Duration::from_secs(10),
            catalog: false,
            plain_http: false,
            insecure_skip_verify: false,
            insecure: InsecureHosts::default(),
            contrasts: true,
            max_tag_pages: 5,
            check_platform: false,
            puller: Puller::Node,
        }
    }
}

/// Which part of the conversation a step is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepName {
    /// `GET /v2/`: reachability, TLS, the challenge.
    Ping,
    /// One plain `GET http://…/v2/` after HTTPS met a plain-HTTP port.
    PlainHttpCheck,
    /// The token request to the realm the challenge named.
    Token,
    /// `GET /v2/<name>/tags/list` (one step per page).
    Tags,
    ManifestHead,
    ManifestGet,
    /// `GET /v2/<name>/blobs/<config digest>`: a single-platform image's os and architecture.
    ConfigBlob,
    Catalog,
}

/// How a step ended, in one word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    Ok,
    /// 401 or 403.
    Denied,
    NotFound,
    RateLimited,
    ServerError,
    /// No HTTP answer (TLS, refused, timeout, DNS).
    Unreachable,
    /// Another status, or a body that could not be read.
    Unexpected,
    /// `_catalog` refused: the registry does not offer it.
    NotOffered,
}

/// One request of the conversation, recorded.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: StepName,
    pub method: String,
    pub url: String,
    /// `anonymous`, `basic <label>`, `bearer token (<label>)`; never the secret.
    pub auth: String,
    pub status: Option<u16>,
    /// The first distribution error code of the body (`MANIFEST_UNKNOWN`, …).
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// The first error's `detail`, compact JSON, when the registry sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
    /// Headers that matter: rate limits, Retry-After, API version, content type, challenge.
    pub headers: BTreeMap<String, String>,
    pub elapsed_ms: u64,
    pub outcome: StepOutcome,
    pub failure: Option<Failure>,
    /// One line for a person.
    pub detail: String,
}

/// What the conversation proves.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeOutcome {
    /// None: the node could pull this image.
    pub cause: Option<Cause>,
    pub detail: String,
    /// The label of the credential that got through, when one was needed.
    pub credential_used: Option<String>,
}

/// One contrast probe: a trust/credential combination and whether it works.
#[derive(Debug, Clone, Serialize)]
pub struct Contrast {
    /// `node CA` or `system roots` (or `as configured` for credential contrasts).
    pub trust: String,
    /// `anonymous` or a credential's label.
    pub credential: String,
    pub works: bool,
    /// No TLS handshake concluded (timeout, refused, DNS): the trust neither works nor fails.
    pub untested: bool,
    pub cause: Option<Cause>,
    pub detail: String,
    pub requests: u32,
}

/// A contrast the probe did not run because its answer could not change the verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkippedContrast {
    /// `anonymous` or a credential's label.
    pub contrast: String,
    /// Why its answer could not change the verdict.
    pub reason: String,
}

/// Docker Hub style rate-limit figures seen on any step.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RateLimit {
    pub limit: Option<String>,
    pub remaining: Option<String>,
    pub retry_after: Option<String>,
    /// `docker-ratelimit-source`: who is counted (an IP address, or an account's id).
    pub source: Option<String>,
}

/// The probe's full record.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    pub image: String,
    /// The base URL the conversation used (`https://127.0.0.1:5000`).
    pub endpoint: String,
    pub platform: Platform,
    pub steps: Vec<Step>,
    pub outcome: ProbeOutcome,
    /// HTTP requests of the main conversation (redirect hops included, contrasts excluded).
    pub requests: u32,
    /// Full TLS handshakes of the main conversation.
    pub tls_handshakes: u32,
    /// `basic`, `bearer` or `none`, from the `/v2/` challenge.
    pub auth_scheme: Option<String>,
    /// The chain the server presented.
    pub certificates: Vec<CertInfo>,
    /// With verification off: what verification would have said.
    pub tls_would_fail: Option<Failure>,
    pub contrasts: Vec<Contrast>,
    pub contrast_requests: u32,
    /// Contrasts not run because they could not change the verdict, and why.
    pub skipped_contrasts: Vec<SkippedContrast>,
    /// The tags nearest the wanted one (at most `tags::KEPT_TAGS`), never the whole list.
    pub tags: Vec<String>,
    /// How many tags the pages read listed.
    pub tags_total: usize,
    /// More tag pages existed than the probe followed.
    pub tags_truncated: bool,
    /// The index's platforms (empty for a single-platform manifest).
    pub platforms: Vec<Platform>,
    /// A single-platform manifest's platform, from its config blob (when it was checked).
    pub config_platform: Option<Platform>,
    pub media_type: Option<String>,
    pub digest: Option<String>,
    /// `_catalog` repositories; None when not asked or not offered.
    pub catalog: Option<Vec<String>>,
    pub rate_limit: Option<RateLimit>,
    /// The pull quota in words, whenever the registry sent its figures (healthy probes too):
    /// `Docker Hub pull quota: 76 of 100 pulls left in a 6-hour window, …`.
    pub quota: Option<String>,
    /// The registry family the host (or its token realm) names: `Docker Hub`, `Amazon ECR`, …;
    /// None for a registry the dialect table does not know.
    pub registry_kind: Option<String>,
    /// What was known before the first request, in order: an expired ECR password, …
    pub notices: Vec<String>,
    /// A credential's own expiry had passed before the probe (an ECR password's 12 hours).
    pub credential_expired: bool,
    /// Unsafe switches in force: `--registry-insecure-skip-verify`, `--plain-http`, node skip_verify.
    pub flags: Vec<String>,
    /// Every connection made, or that the node's runtime would make, without TLS trust.
    pub insecure: Vec<InsecureTransport>,
    pub trust_sources: Vec<String>,
    pub trust_problems: Vec<String>,
    pub elapsed_ms: u64,
}

impl ProbeReport {
    /// A report before any request: `cause` and `detail` stand until the conversation says
    /// otherwise (or stand alone, for a verdict reached without contacting the registry).
    pub fn before_probe(
        image: String,
        endpoint: String,
        platform: Platform,
        cause: Cause,
        detail: String,
    ) -> ProbeReport {
        ProbeReport {
            image,
            endpoint,
            platform,
            steps: Vec::new(),
            outcome: ProbeOutcome {
                cause: Some(cause),
                detail,
                credential_used: None,
            },
            requests: 0,
            tls_handshakes: 0,
            auth_scheme: None,
            certificates: Vec::new(),
            tls_would_fail: None,
            contrasts: Vec::new(),
            contrast_requests: 0,
            skipped_contrasts: Vec::new(),
            tags: Vec::new(),
            tags_total: 0,
            tags_truncated: false,
            platforms: Vec::new(),
            config_platform: None,
            media_type: None,
            digest: None,
            catalog: None,
            rate_limit: None,
            quota: None,
            registry_kind: None,
            notices: Vec::new(),
            credential_expired: false,
            flags: Vec::new(),
            insecure: Vec::new(),
            trust_sources: Vec::new(),
            trust_problems: Vec::new(),
            elapsed_ms: 0,
        }
    }

    /// The steps with a given name.
    pub fn steps_named(&self, name: StepName) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(move |s| s.name == name)
    }

    /// True when the node could pull the image.
    pub fn pullable(&self) -> bool {
        self.outcome.cause.is_none()
    }
}
