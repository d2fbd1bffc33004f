//! The live source: reads a pod's scene from the API server through `kube`, with kubectl's
//! rules for finding the cluster and the namespace.
//!
//! Kubeconfig is looked up as kubectl does (<https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/>):
//! `--kubeconfig`, else `$KUBECONFIG` (a list of files, merged), else `~/.kube/config`, else
//! the in-cluster service account. The namespace is `-n`, else the context's, else `default`.
//! Only GET requests are made. Lists are paged with `limit`/`continue` like kubectl's
//! `--chunk-size`, so a 10,000-pod cluster never arrives in one response.

use std::fmt::Debug;
use std::future::Future;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};
use serde::de::DeserializeOwned;

mod failing;
mod kubeconfig;
mod lists;
mod names;
pub mod overrides;
pub mod probe_pod;
mod reader;

use super::assemble::assemble;
use super::selector::PodSelectors;
use super::{Lookup, Scene, Source};
use crate::{Error, Result};
use overrides::KubeOverrides;
use reader::LiveReader;

/// Page size for lists, kubectl's default `--chunk-size`.
pub const DEFAULT_PAGE_SIZE: u32 = 500;
/// Most pages one list follows (a million objects at the default page size): a server that
/// hands out fresh `continue` tokens forever is stopped here.
pub const MAX_PAGES: usize = 2000;
/// Most pods with a waiting container a scan keeps (and diagnoses) from one list; past it the
/// list is not followed further and a note says so. A snapshot scan keeps as many. Twice the
/// 5,000 failing pods a scan is sized for (`scripts/bench-scan`'s 100k cluster); kept pods
/// and their events are slimmed (no managed fields, no annotations).
pub const MAX_KEPT_PODS: usize = 10_000;
/// Most events of those pods a scan keeps from one list: ten for each kept pod (kubelet
/// writes about five per failing pull: Scheduled, Pulling, two Failed, BackOff).
pub const MAX_KEPT_EVENTS: usize = 100_000;
/// Most items any other list (one pod's events, a namespace's docker secrets) keeps.
pub const MAX_LISTED: usize = 10_000;
/// A gathering phase (one paged list, one prefetch round, one pod's reads) may take this many
/// `--timeout`s in all; each API call within it gets at most one.
pub const PHASE_TIMEOUTS: u32 = 4;

/// How to find the cluster: kubectl's flags.
#[derive(Debug, Clone)]
pub struct LiveOptions {
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
    /// `-n`; `None` means the context's namespace, else `default`.
    pub namespace: Option<String>,
    /// Connect and read deadline for each API call.
    pub timeout: Duration,
    /// Items per list page (`limit`).
    pub page_size: u32,
    /// Also look for same-named pull secrets in other namespaces (one cluster-wide list per
    /// missing secret name); off by default because it needs cluster-wide read rights.
    pub other_namespaces: bool,
    /// kubectl's connection flags (`--server`, `--token`, `--as`, …) over the kubeconfig.
    pub overrides: KubeOverrides,
    /// `scan -l`/`--field-selector`, sent with the pod list.
    pub selectors: PodSelectors,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            kubeconfig: None,
            context: None,
            namespace: None,
            timeout: Duration::from_secs(10),
            page_size: DEFAULT_PAGE_SIZE,
            other_namespaces: false,
            overrides: KubeOverrides::default(),
            selectors: PodSelectors::default(),
        }
    }
}

/// A connected (not yet contacted) cluster.
#[derive(Clone)]
pub struct LiveSource {
    client: Client,
    namespace: String,
    server: String,
    page_size: u32,
    other_namespaces: bool,
    /// Deadline for each API call.
    timeout: Duration,
    /// The scan's pod selectors.
    selectors: PodSelectors,
}

impl LiveSource {
    /// Loads the kubeconfig (or in-cluster config) and builds the client. No request is made.
    pub async fn connect(opts: &LiveOptions) -> Result<LiveSource> {
        let over = &opts.overrides;
        over.check()?;
        let kopts = KubeConfigOptions {
            context: opts.context.clone(),
            cluster: over.cluster.clone(),
            user: over.user.clone(),
        };
        kubeconfig::check_sizes(opts.kubeconfig.as_deref())?;
        if (over.user.is_some() || over.cluster.is_some())
            && let Some(kc) = overrides::read_kubeconfig(opts.kubeconfig.as_deref())
        {
            over.check_names(&kc)?;
        }
        let mut config = if let Some(path) = &opts.kubeconfig {
            let kc = Kubeconfig::read_from(path).map_err(|e| match e {
                // kube's own text quotes the path twice; say it once, as kubectl does.
                KubeconfigError::ReadConfig(io, _) => {
                    Error::Kubeconfig(format!("cannot read {}: {io}", path.display()))
                }
                e => Error::Kubeconfig(format!("{}: {}", path.display(), one_line(&e))),
            })?;
            Config::from_custom_kubeconfig(kc, &kopts)
                .await
                .map_err(|e| config_error(&e))?
        } else {
            match Config::from_kubeconfig(&kopts).await {
                Ok(c) => c,
                // kubectl needs no kubeconfig when `--server` says where to go.
                Err(kube_err) if opts.context.is_none() => match over.bare_config() {
                    Some(bare) => bare?,
                    None => Config::incluster().map_err(|e| {
                        Error::Kubeconfig(format!(
                            "no usable kubeconfig ({}) and not running in a cluster ({})",
                            one_line(&kube_err),
                            one_line(&e)
                        ))
                    })?,
                },
                Err(e) => return Err(config_error(&e)),
            }
        };
        over.apply(&mut config)?;
        remember_credentials(&config.auth_info);
        config.connect_timeout = Some(opts.timeout);
        config.read_timeout = Some(opts.timeout);
        kubeconfig::resolve_exec(&mut config.auth_info, opts.timeout).await?;
        let namespace = opts
            .namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| config.default_namespace.clone());
        let server = config.cluster_url.to_string();
        tracing::info!(
            "gather: API server {}, namespace {namespace}, timeout {} s",
            server.trim_end_matches('/'),
            opts.timeout.as_secs_f64()
        );
        let client = Client::try_from(config).map_err(|e| match e {
            // The user's credentials (an exec plugin), not TLS, failed.
            kube::Error::Auth(_) => Error::Kubeconfig(one_line(&e)),
            _ => Error::Tls(one_line(&e)),
        })?;
        Ok(LiveSource {
            client,
            namespace,
            server: server.trim_end_matches('/').to_string(),
            page_size: opts.page_size.max(1),
            other_namespaces: opts.other_namespaces,
            timeout: opts.timeout,
            selectors: opts.selectors.clone(),
        })
    }

    /// The namespace `-n` or the context chose.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The API server's URL, for messages.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// A new gathering phase, [`PHASE_TIMEOUTS`] `--timeout`s long from now.
    fn phase(&self) -> Phase {
        Phase {
            deadline: Instant::now() + self.timeout * PHASE_TIMEOUTS,
            budget: self.timeout * PHASE_TIMEOUTS,
        }
    }

    /// One API call, given at most `--timeout` in all: kube's read timeout is per read, so a
    /// server trickling a byte a second would otherwise hold the call for ever.
    async fn call<T>(&self, fut: impl Future<Output = T>) -> Result<T> {
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| self.too_slow(self.timeout, "one request"))
    }

    fn too_slow(&self, limit: Duration, what: &str) -> Error {
        Error::Api(format!(
            "{} did not finish {what} within {} s (each API call may take {} s: \
             --request-timeout, else --timeout)",
            self.server,
            seconds(limit),
            seconds(self.timeout)
        ))
    }

    /// Turns a kube error that stops the run into a one-line `Error::Api`.
    fn fatal(&self, e: kube::Error) -> Error {
        match e {
            // kubectl's words for a refused identity and a refused read.
            kube::Error::Api(s) if s.code == 401 => Error::Api(format!(
                "You must be logged in to the server (the server has asked for the client to \
                 provide credentials) ({} {})",
                s.code, s.reason
            )),
            kube::Error::Api(s) if s.code == 403 => Error::Api(format!(
                "Error from server (Forbidden): {} ({} {})",
                s.message, s.code, s.reason
            )),
            kube::Error::Api(s) => Error::Api(format!("{} ({} {})", s.message, s.code, s.reason)),
            e @ kube::Error::SerdeError(_) => Error::Api(format!(
                "{} answered with an object that cannot be read: {}",
                self.server,
                one_line(&e)
            )),
            other => Error::Api(format!(
                "cannot reach {}: {}",
                self.server,
                one_line(&other)
            )),
        }
    }

    /// Reads one object, mapping 404 and 403 to lookups.
    async fn lookup<K>(&self, api: Api<K>, name: &str) -> Result<Lookup<K>>
    where
        K: Clone + DeserializeOwned + Debug,
    {
        // Every kind read by name here has DNS-1123 subdomain names; a name outside it (a pod's
        // unvalidated `imagePullSecrets[].name`) names nothing and may not even fit in a URL.
        if !crate::diagnose::names::dns_subdomain(name) {
            return Ok(Lookup::NotFound);
        }
        let started = Instant::now();
        let got = self.call(api.get(name)).await?;
        let kind = kind_name::<K>();
        let ms = started.elapsed().as_millis();
        match got {
            Ok(o) => {
                tracing::info!("gather: read {kind} {name} in {ms} ms");
                Ok(Lookup::Found(o))
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {
                tracing::info!("gather: {kind} {name} not found ({ms} ms)");
                Ok(Lookup::NotFound)
            }
            Err(kube::Error::Api(s)) if s.code == 403 => {
                tracing::info!("gather: {kind} {name} forbidden ({ms} ms)");
                Ok(Lookup::Forbidden(s.message.clone()))
            }
            Err(e) => Err(self.fatal(e)),
        }
    }

    fn namespaced<K>(&self, namespace: &str) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Events of one pod, by field selector (with the uid, so an earlier pod of the same name
    /// does not lend its events).
    async fn pod_events(&self, pod: &Pod) -> Result<std::result::Result<Vec<Event>, String>> {
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        let mut fields = format!(
            "involvedObject.kind=Pod,involvedObject.namespace={ns},involvedObject.name={name}"
        );
        if let Some(uid) = pod.metadata.uid.as_deref().filter(|u| !u.is_empty()) {
            fields.push_str(&format!(",involvedObject.uid={uid}"));
        }
        self.list_all(self.namespaced::<Event>(ns), Some(&fields))
            .await
    }
}

/// Seconds for a message: whole when whole (`10`), else to the tenth (`0.5`).
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0}")
    } else {
        format!("{s:.1}")
    }
}

/// A kind's short name (`Secret`) for a log line.
fn kind_name<K>() -> &'static str {
    let full = std::any::type_name::<K>();
    full.rsplit("::").next().unwrap_or(full)
}

/// A gathering phase's deadline: each call in it gets `--timeout` or what is left, whichever is
/// less.
struct Phase {
    deadline: Instant,
    budget: Duration,
}

impl Phase {
    async fn call<T>(&self, source: &LiveSource, fut: impl Future<Output = T>) -> Result<T> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left < source.timeout {
            return tokio::time::timeout(left, fut)
                .await
                .map_err(|_| source.too_slow(self.budget, "reading one list"));
        }
        source.call(fut).await
    }

    /// Runs a whole phase under its deadline.
    async fn run<T>(
        &self,
        source: &LiveSource,
        what: &str,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        tokio::time::timeout(left, fut)
            .await
            .map_err(|_| source.too_slow(self.budget, what))?
    }
}

impl Source for LiveSource {
    async fn pod_scene(&self, namespace: &str, name: &str) -> Result<Scene> {
        self.phase()
            .run(
                self,
                "reading the pod's scene",
                self.read_pod_scene(namespace, name),
            )
            .await
    }

    async fn failing_pods(&self, namespace: Option<&str>) -> Result<Vec<Scene>> {
        self.read_failing_pods(namespace).await
    }
}

impl LiveSource {
    async fn read_pod_scene(&self, namespace: &str, name: &str) -> Result<Scene> {
        let started = Instant::now();
        let pod = match self
            .call(self.namespaced::<Pod>(namespace).get(name))
            .await?
        {
            Ok(p) => {
                tracing::info!(
                    "gather: read Pod {namespace}/{name} in {} ms",
                    started.elapsed().as_millis()
                );
                p
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {
                return Err(Error::PodNotFound {
                    namespace: namespace.to_string(),
                    name: name.to_string(),
                });
            }
            Err(e) => return Err(self.fatal(e)),
        };
        let mut unreadable = Vec::new();
        let events = match self.pod_events(&pod).await? {
            Ok(ev) => ev,
            Err(message) => {
                unreadable.push(format!("events in {namespace}: forbidden ({message})"));
                Vec::new()
            }
        };
        assemble(&LiveReader::new(self), pod, events, unreadable).await
    }
}

/// An error and its causes on one line, repeated links dropped (hyper and tower nest the same
/// text several times).
/// A kubeconfig that cannot be used, in kubectl's words where kubectl has them.
fn config_error(e: &KubeconfigError) -> Error {
    match e {
        KubeconfigError::LoadContext(name) => Error::Kubeconfig(format!(
            "context was not found for specified context: {name}"
        )),
        e => Error::Kubeconfig(one_line(e)),
    }
}

pub(crate) fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    // Every wrapper of such an error repeats its text, so it replaces the whole chain.
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(said) = withheld(err) {
            return said;
        }
        cur = err.source();
    }
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string().replace(['\n', '\r'], " ");
        // serde quotes the input it chokes on: a Secret's docker config, a token.
        let text = if quotes_input(err) {
            crate::scrub::without_quoted_values(&text)
        } else {
            text
        };
        if !parts.iter().any(|p| p.contains(text.as_str())) {
            parts.push(text);
        }
        cur = err.source();
    }
    parts.join(": ")
}

/// True for errors whose text quotes the document they failed on.
fn quotes_input(err: &(dyn std::error::Error + 'static)) -> bool {
    err.is::<serde_json::Error>()
        || matches!(
            err.downcast_ref::<kube::Error>(),
            Some(kube::Error::SerdeError(_))
        )
}

/// What to say instead of an error whose text would copy a credential.
///
/// kube prints a failed `exec` plugin's whole output (`{out:?}`), and its parse errors quote
/// the plugin's stdout: that is where the plugin writes the token.
fn withheld(err: &(dyn std::error::Error + 'static)) -> Option<String> {
    use kube::client::AuthError;
    match err.downcast_ref::<AuthError>()? {
        // Its command line is not shown either: it carries the kubeconfig's args and env.
        AuthError::AuthExecRun { out, .. } => Some(format!(
            "the user's exec plugin failed ({}); its command and output are not shown, as they may hold a credential",
            out.status
        )),
        AuthError::AuthExecParse(_) => Some(
            "the user's exec plugin printed no ExecCredential (its output is not shown, as it may hold a credential)".to_string(),
        ),
        _ => None,
    }
}

/// Remembers the kubeconfig's own token and password, so an API server that echoes them in a
/// `Status` message (shown on stderr or as a note) cannot get them shown.
fn remember_credentials(auth: &kube::config::AuthInfo) {
    use secrecy::ExposeSecret as _;
    for secret in [&auth.token, &auth.password].into_iter().flatten() {
        crate::scrub::remember(secret.expose_secret());
    }
    if let (Some(user), Some(password)) = (&auth.username, &auth.password) {
        crate::scrub::remember_pair(user, password.expose_secret());
    }
}
