//! One conversation with a registry: steps recorded as data, tokens and credentials bound.
//!
//! The building blocks of the probe, shared by the main conversation and the contrast probes:
//! a step sends one request under the probe's deadline and records status, error code, the
//! headers that matter and the time taken; `token` asks the realm a Bearer challenge named
//! (distribution's token spec: <https://distribution.github.io/distribution/spec/auth/token/>,
//! `service` and `scope=repository:<name>:pull`, Basic credentials when there are any).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::{Method, Url};

use super::challenge::{self, Challenge, Scheme};
use super::client::{Authorization, CAP_SMALL, Exchange, RegistryClient};
use super::documents;
use super::model::{Auth, ProbeRequest, RateLimit, Step, StepName, StepOutcome};
use super::tls_error::Failure;
use crate::taxonomy::Cause;

/// Response headers worth recording (lower case).
const KEPT_HEADERS: [&str; 8] = [
    "ratelimit-limit",
    "ratelimit-remaining",
    "retry-after",
    "docker-distribution-api-version",
    "docker-content-digest",
    "content-type",
    "www-authenticate",
    "docker-ratelimit-source",
];

/// The access the conversation has won: no auth, Basic for the registry, or a bearer token.
#[derive(Debug, Clone)]
pub struct Granted {
    pub auth: Option<Authorization>,
    /// The credential's label; None = anonymous.
    pub label: Option<String>,
    /// How the step list shows it.
    pub shown: String,
    /// Why the credentials were kept back, when the access is anonymous only because of that
    /// (a token realm on an unnamed plain-HTTP host).
    pub withheld: Option<String>,
}

impl Granted {
    pub fn anonymous() -> Granted {
        Granted {
            auth: None,
            label: None,
            shown: "anonymous".into(),
            withheld: None,
        }
    }
}

/// A conclusion: the cause proven (None = pullable) and why.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub cause: Option<Cause>,
    pub detail: String,
}

impl Verdict {
    pub fn cause(cause: Cause, detail: impl Into<String>) -> Verdict {
        Verdict {
            cause: Some(cause),
            detail: detail.into(),
        }
    }

    pub fn pullable(detail: impl Into<String>) -> Verdict {
        Verdict {
            cause: None,
            detail: detail.into(),
        }
    }
}

/// The state of one conversation.
pub struct Session<'a> {
    pub req: &'a ProbeRequest,
    pub client: &'a RegistryClient,
    /// The API root, ending in `/` (`https://host:port/v2/`).
    pub root: Url,
    pub deadline: Instant,
    /// Credentials may travel over plain HTTP (`--plain-http` or the node's config).
    pub allow_http: bool,
    pub steps: Vec<Step>,
    pub rate: Option<RateLimit>,
    /// Credentials the conversation tried and saw refused, by label, in kubelet's order: the
    /// credential contrasts read them instead of asking again.
    pub refused: Vec<(String, Verdict)>,
}

impl<'a> Session<'a> {
    pub fn new(
        req: &'a ProbeRequest,
        client: &'a RegistryClient,
        root: Url,
        deadline: Instant,
        allow_http: bool,
    ) -> Session<'a> {
        Session {
            req,
            client,
            root,
            deadline,
            allow_http,
            steps: Vec::new(),
            rate: None,
            refused: Vec::new(),
        }
    }

    /// `<root><path>`.
    pub fn url(&self, path: &str) -> Url {
        self.root.join(path).unwrap_or_else(|_| self.root.clone())
    }

    /// The repository's path under the API root.
    pub fn repo_url(&self, rest: &str) -> Url {
        self.url(&format!("{}/{rest}", self.req.image.repository))
    }

    /// Sends one request as a recorded step; None when no HTTP answer came (see the step).
    pub async fn step(
        &mut self,
        name: StepName,
        method: Method,
        url: Url,
        accept: Option<&str>,
        granted: &Granted,
        cap: usize,
    ) -> Option<Exchange> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let timeout = self.req.step_timeout.min(left);
        let started = Instant::now();
        let shown_url = url.to_string();
        let url_shown = url.clone();
        let mut step = Step {
            name,
            method: method.to_string(),
            url: shown_url,
            auth: granted.shown.clone(),
            status: None,
            error_code: None,
            error_message: None,
            error_detail: None,
            headers: BTreeMap::new(),
            elapsed_ms: 0,
            outcome: StepOutcome::Unreachable,
            failure: None,
            detail: String::new(),
        };
        if timeout < Duration::from_millis(1) {
            let f = Failure::Timeout {
                after_ms: self.req.timeout.as_millis() as u64,
            };
            step.detail = format!("not sent: the probe's deadline passed ({})", f.describe());
            step.failure = Some(f);
            self.steps.push(step);
            return None;
        }
        let result = self
            .client
            .send(method, url, accept, granted.auth.as_ref(), cap, timeout)
            .await;
        step.elapsed_ms = started.elapsed().as_millis() as u64;
        let shown = request_line(&step.method, &url_shown);
        match result {
            Err(f) => {
                step.detail = f.describe();
                tracing::info!(
                    "probe {:?}: {shown} -> no answer ({}) in {} ms [{}]",
                    step.name,
                    step.detail,
                    step.elapsed_ms,
                    step.auth
                );
                step.failure = Some(f);
                self.steps.push(step);
                None
            }
            Ok(x) => {
                self.record(&mut step, &x);
                tracing::info!(
                    "probe {:?}: {shown} -> {} in {} ms [{}]",
                    step.name,
                    x.status,
                    step.elapsed_ms,
                    step.auth
                );
                tracing::debug!(
                    "probe {:?}: answered by {}, {} body bytes{}, kept headers {:?}",
                    step.name,
                    request_line("", &x.url).trim_start(),
                    x.body.len(),
                    if x.truncated { " (truncated)" } else { "" },
                    step.headers
                );
                self.steps.push(step);
                Some(x)
            }
        }
    }

    fn record(&mut self, step: &mut Step, x: &Exchange) {
        step.status = Some(x.status);
        for h in KEPT_HEADERS {
            let values: Vec<&str> = x
                .headers
                .get_all(h)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect();
            if !values.is_empty() {
                step.headers.insert(h.to_string(), values.join(", "));
            }
        }
        // Any body shape: distribution errors, a token endpoint's own JSON, plain text.
        if x.status >= 400
            && let Some(words) = super::error_body::read(&x.body)
        {
            step.error_code = words.code;
            step.error_message = Some(words.message);
            step.error_detail = words.detail;
        }
        step.outcome = match x.status {
            200..=299 => StepOutcome::Ok,
            401 | 403 => StepOutcome::Denied,
            404 => StepOutcome::NotFound,
            429 => StepOutcome::RateLimited,
            500..=599 => StepOutcome::ServerError,
            _ => StepOutcome::Unexpected,
        };
        step.detail = match (&step.error_code, &step.error_message) {
            (Some(c), Some(m)) if !m.is_empty() => format!("{} {c}: {m}", x.status),
            (Some(c), _) => format!("{} {c}", x.status),
            (None, Some(m)) if !m.is_empty() => format!("{}: {m}", x.status),
            _ => format!("{}", x.status),
        };
        // A detail that is plain text says more (`unknown tag=v9`); structured ones are noise.
        if let Some(text) = step
            .error_detail
            .as_deref()
            .and_then(|d| serde_json::from_str::<String>(d).ok())
            .filter(|t| !t.is_empty())
        {
            step.detail.push_str(&format!(" ({text})"));
        }
        if let Some(w) = &x.withheld {
            step.detail.push_str(&format!(" ({w})"));
        }
        let rl = RateLimit {
            limit: step.headers.get("ratelimit-limit").cloned(),
            remaining: step.headers.get("ratelimit-remaining").cloned(),
            retry_after: step.headers.get("retry-after").cloned(),
            source: step.headers.get("docker-ratelimit-source").cloned(),
        };
        if rl != RateLimit::default() {
            self.rate = Some(rl);
        }
    }

    /// Appends to the last step's detail.
    pub fn note(&mut self, text: &str) {
        if let Some(s) = self.steps.last_mut() {
            if !s.detail.is_empty() {
                s.detail.push_str("; ");
            }
            s.detail.push_str(text);
        }
    }

    /// The failure of the last step, if it got no answer.
    pub fn last_failure(&self) -> Option<Failure> {
        self.steps.last().and_then(|s| s.failure.clone())
    }

    /// The verdict for a step that got no HTTP answer.
    pub fn unreachable(&self, what: &str) -> Verdict {
        match self.last_failure() {
            Some(f) => Verdict::cause(f.cause(), format!("{what}: {}", f.describe())),
            None => Verdict::cause(Cause::Unknown, format!("{what}: no answer")),
        }
    }

    /// Basic credentials for the registry itself.
    pub fn basic(&self, cred: &Auth) -> Granted {
        Granted {
            auth: Some(Authorization::basic(
                &cred.username,
                &cred.password,
                &self.root,
                self.allow_http,
            )),
            label: Some(cred.label.clone()),
            shown: format!("basic ({})", cred.label),
            withheld: None,
        }
    }

    /// Asks the realm for a token with `scope`; Ok(token) or Err(status-or-failure verdict).
    pub async fn token(
        &mut self,
        bearer: &Challenge,
        cred: Option<&Auth>,
        scope: &str,
    ) -> Result<Granted, (Option<u16>, Verdict)> {
        let who = cred.map_or("anonymous".to_string(), |c| c.label.clone());
        // A realm is absolute in practice; a relative one is read against the registry.
        let realm = bearer
            .realm()
            .and_then(|r| Url::parse(r).or_else(|_| self.root.join(r)).ok())
            .filter(|u| matches!(u.scheme(), "https" | "http"));
        let Some(realm) = realm else {
            return Err((
                None,
                Verdict::cause(Cause::Unknown, "the Bearer challenge names no usable realm"),
            ));
        };
        let mut url = realm.clone();
        {
            let mut q = url.query_pairs_mut();
            if let Some(service) = bearer.param("service") {
                q.append_pair("service", service);
            }
            q.append_pair("scope", scope);
        }
        // A realm on the registry's own host and port shares its transport; one elsewhere
        // gets credentials over plain HTTP only when `--plain-http` named its host.
        let same_host = realm.host_str() == self.root.host_str()
            && realm.port_or_known_default() == self.root.port_or_known_default();
        let realm_http = if same_host {
            self.allow_http
        } else {
            self.req.insecure.plain_http_for(&realm)
        };
        let basic = cred.map(|c| Granted {
            auth: Some(Authorization::basic(
                &c.username,
                &c.password,
                &realm,
                realm_http,
            )),
            label: Some(c.label.clone()),
            shown: format!("basic ({})", c.label),
            withheld: None,
        });
        let granted = basic.unwrap_or_else(Granted::anonymous);
        let Some(x) = self
            .step(StepName::Token, Method::GET, url, None, &granted, CAP_SMALL)
            .await
        else {
            return Err((None, self.unreachable("token server")));
        };
        match x.status {
            200..=299 => match documents::token(&x.body) {
                // The credentials never left, so the token is an anonymous one.
                Some(t) if x.withheld.is_some() => Ok(Granted {
                    auth: Some(Authorization::bearer(t, &self.root, self.allow_http)),
                    label: None,
                    shown: "bearer token (anonymous: credentials withheld)".into(),
                    withheld: x.withheld.clone(),
                }),
                Some(t) => Ok(Granted {
                    auth: Some(Authorization::bearer(t, &self.root, self.allow_http)),
                    label: cred.map(|c| c.label.clone()),
                    shown: format!("bearer token ({who})"),
                    withheld: None,
                }),
                None => Err((
                    Some(x.status),
                    Verdict::cause(
                        Cause::Unknown,
                        "the token server answered without `token` or `access_token`",
                    ),
                )),
            },
            401 => Err((
                Some(401),
                match (cred, &x.withheld) {
                    // The password never left: the refusal says nothing about it.
                    (Some(_), Some(why)) => Verdict::cause(
                        Cause::AuthRequired,
                        format!("the token server refuses anonymous access, and {why}"),
                    ),
                    (Some(c), None) => Verdict::cause(
                        Cause::AuthInvalidCredentials,
                        format!("the token server rejected the credentials of {}", c.label),
                    ),
                    (None, _) => Verdict::cause(
                        Cause::AuthRequired,
                        "the token server refuses anonymous access",
                    ),
                },
            )),
            403 => Err((
                Some(403),
                Verdict::cause(
                    Cause::AuthForbidden,
                    format!("the token server refused scope {scope} for {who}"),
                ),
            )),
            s => Err((Some(s), status_verdict(s, &x, "token server"))),
        }
    }
}

/// `METHOD scheme://host[:port]/path` for a log line: no userinfo, no query (a token request's
/// query names the scope only, but a realm may carry anything).
fn request_line(method: &str, url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{method} {}://{host}{port}{}", url.scheme(), url.path())
}

/// The challenges of a 401.
/// The challenge the conversation met first (the ping's, or the first request's 401).
pub fn first_challenge(steps: &[Step]) -> Option<&String> {
    steps
        .iter()
        .find(|s| s.status == Some(401) && s.headers.contains_key("www-authenticate"))
        .or_else(|| steps.iter().find(|s| s.name == StepName::Ping))
        .and_then(|s| s.headers.get("www-authenticate"))
}

pub fn challenges_of(x: &Exchange) -> Vec<Challenge> {
    challenge::parse_all(
        x.headers
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// `basic`, `bearer` or the other scheme's name.
pub fn scheme_name(c: &Challenge) -> String {
    match &c.scheme {
        Scheme::Basic => "basic".into(),
        Scheme::Bearer => "bearer".into(),
        Scheme::Other(s) => s.to_ascii_lowercase(),
    }
}

/// The verdict for statuses that mean the same at any step: 429, 5xx, others.
pub fn status_verdict(status: u16, x: &Exchange, what: &str) -> Verdict {
    let header = |h: &str| {
        x.headers
            .get(h)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    match status {
        429 => {
            let mut d = format!("{what}: 429 Too Many Requests");
            if let Some(r) = header("ratelimit-remaining") {
                d.push_str(&format!(", ratelimit-remaining {r}"));
            }
            if let Some(l) = header("ratelimit-limit") {
                d.push_str(&format!(", ratelimit-limit {l}"));
            }
            if let Some(r) = header("retry-after") {
                d.push_str(&format!(", retry after {r} s"));
            }
            Verdict::cause(Cause::RateLimited, d)
        }
        500..=599 => Verdict::cause(
            Cause::RegistryServerError,
            format!("{what}: the registry failed with {status}"),
        ),
        403 => Verdict::cause(Cause::AuthForbidden, format!("{what}: 403 Forbidden")),
        s => Verdict::cause(Cause::Unknown, format!("{what}: unexpected status {s}")),
    }
}
