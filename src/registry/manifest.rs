//! The manifest step: one `GET` with the runtimes' Accept list, whose answer decides.
//!
//! containerd resolves a reference with `HEAD /v2/<name>/manifests/<ref>` and the OCI and Docker
//! index and manifest types in `Accept` (`core/remotes/docker/resolver.go`,
//! <https://github.com/containerd/containerd/blob/main/core/remotes/docker/resolver.go>), then
//! fetches the body. The probe sends one `GET` with the same Accept list instead of the pair:
//! its `Docker-Content-Digest` and content type are what the `HEAD` would carry, a 404 brings
//! its error code in the body, and an index's platforms are matched against the node's as
//! containerd's platform matcher does. A single-platform image is matched the way
//! containerd's `images.Manifest` does it: by the `os`/`architecture`/`variant` of its config
//! blob, the one extra request, made only when the platform is known. After a 404 the tag list
//! (`listing.rs`) tells a missing repository from a missing tag.

use reqwest::Method;

use super::client::{CAP_DOCUMENT, Exchange};
use super::documents::{self, MANIFEST_ACCEPT};
use super::listing::{self, Listing};
use super::model::{ProbeReport, StepName};
use super::session::{Granted, Session, Verdict, challenges_of, status_verdict};
use crate::taxonomy::Cause;

/// `GET` the manifest with the runtimes' Accept list (None: no HTTP answer, see the step).
pub async fn get(s: &mut Session<'_>, granted: &Granted) -> Option<Exchange> {
    let reference = s.req.image.manifest_reference().to_string();
    let url = s.repo_url(&format!("manifests/{reference}"));
    s.step(
        StepName::ManifestGet,
        Method::GET,
        url,
        Some(MANIFEST_ACCEPT),
        granted,
        CAP_DOCUMENT,
    )
    .await
}

/// Decides from the manifest's answer: its platforms, or after a 404 the tag list.
pub async fn resolve(
    s: &mut Session<'_>,
    report: &mut ProbeReport,
    granted: &Granted,
    get: Option<Exchange>,
) -> Verdict {
    let reference = s.req.image.manifest_reference().to_string();
    let Some(get) = get else {
        return s.unreachable("manifest GET");
    };
    if report.digest.is_none() {
        report.digest = digest_of(&get);
    }
    match get.status {
        200 => {
            let mt = content_type(&get).or_else(|| documents::declared_media_type(&get.body));
            report.media_type = mt.clone();
            if get.truncated {
                return Verdict::cause(
                    Cause::RegistryServerError,
                    "the manifest is larger than pulldoctor reads (4 MiB)",
                );
            }
            if !documents::looks_like_manifest(&get.body) {
                return Verdict::cause(
                    Cause::Unknown,
                    format!(
                        "the answer for {reference} is not a manifest ({}): is this a registry?",
                        mt.as_deref().unwrap_or("no content type")
                    ),
                );
            }
            if !mt.as_deref().is_some_and(documents::is_index) {
                if s.req.check_platform {
                    return single_platform(s, report, granted, &get.body).await;
                }
                return Verdict::pullable("single-platform manifest");
            }
            let platforms = documents::index_platforms(&get.body).unwrap_or_default();
            report.platforms = platforms.clone();
            let list: Vec<String> = platforms.iter().map(|p| p.to_string()).collect();
            match s.req.platform.best_match(&platforms) {
                Some(i) => Verdict::pullable(format!(
                    "the index offers {}; {} ({}) takes {}",
                    list.join(", "),
                    s.req.puller.platform_owner(),
                    s.req.platform,
                    platforms[i]
                )),
                None => Verdict::cause(
                    Cause::PlatformMismatch,
                    format!(
                        "{} has no image for {}: the index offers only {}",
                        s.req.image.canonical(),
                        s.req.platform,
                        if list.is_empty() {
                            "nothing".into()
                        } else {
                            list.join(", ")
                        }
                    ),
                ),
            }
        }
        404 => {
            let code = s
                .steps
                .last()
                .and_then(|st| st.error_code.clone())
                .unwrap_or_default();
            if code == "NAME_UNKNOWN" {
                return Verdict::cause(
                    Cause::NotFoundRepo,
                    format!("repository {} does not exist", s.req.image.repository),
                );
            }
            let (tags, repo_exists) =
                match listing::after_missing_manifest(s, report, granted).await {
                    Listing::Listed(t) => (t, true),
                    Listing::NoRepository => {
                        return Verdict::cause(
                            Cause::NotFoundRepo,
                            format!(
                                "repository {} does not exist on {}",
                                s.req.image.repository, s.req.image.registry
                            ),
                        );
                    }
                    Listing::Unknown => (None, false),
                };
            match tags.as_deref() {
                Some(t) if s.req.image.digest.is_none() && t.contains(&reference) => {
                    Verdict::cause(
                        Cause::NotFound,
                        format!("tag {reference} is listed but its manifest is unknown ({code})"),
                    )
                }
                Some(t) => {
                    let total = report.tags_total.max(t.len());
                    Verdict::cause(
                        Cause::NotFoundTag,
                        format!(
                            "repository {} exists but has no {reference} ({code}); it has {total}{} tag{}{}",
                            s.req.image.repository,
                            if report.tags_truncated { "+" } else { "" },
                            if total == 1 { "" } else { "s" },
                            preview(t)
                        ),
                    )
                }
                None if repo_exists => Verdict::cause(
                    Cause::NotFoundTag,
                    format!(
                        "repository {} exists (tags/list answered 200) but has no {reference} ({code})",
                        s.req.image.repository
                    ),
                ),
                None => Verdict::cause(
                    Cause::NotFound,
                    format!("manifest {reference} unknown ({code}); the tag list was not readable"),
                ),
            }
        }
        401 | 403 => denied(s, &get, granted),
        // A refusal by the registry's own policy (Harbor's PROJECTPOLICYVIOLATION).
        412 => {
            let dialect = super::reading::dialect_of(&s.req.image.registry, &s.steps);
            super::policy_answer::refusal(dialect, &s.req.image.canonical(), &get.body)
                .unwrap_or_else(|| status_verdict(412, &get, "manifest GET"))
        }
        st => status_verdict(st, &get, "manifest GET"),
    }
}

fn content_type(x: &Exchange) -> Option<String> {
    x.headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn digest_of(x: &Exchange) -> Option<String> {
    x.headers
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// A single-platform manifest checked as containerd checks it: its config blob's `os`,
/// `architecture` and `variant` against the platform asked for (one `GET` of the blob).
async fn single_platform(
    s: &mut Session<'_>,
    report: &mut ProbeReport,
    granted: &Granted,
    manifest: &[u8],
) -> Verdict {
    let image = s.req.image.canonical();
    let Some(digest) = documents::config_digest(manifest) else {
        s.note("the manifest names no config blob: its platform is not checked");
        return Verdict::pullable("single-platform manifest (platform not stated)");
    };
    let url = s.repo_url(&format!("blobs/{digest}"));
    let Some(blob) = s
        .step(
            StepName::ConfigBlob,
            Method::GET,
            url,
            None,
            granted,
            CAP_DOCUMENT,
        )
        .await
    else {
        return s.unreachable("config blob GET");
    };
    match blob.status {
        200 => {}
        401 | 403 => return denied(s, &blob, granted),
        404 => {
            return Verdict::cause(
                Cause::NotFound,
                format!("the manifest's config blob {digest} is missing from the registry"),
            );
        }
        st => return status_verdict(st, &blob, "config blob GET"),
    }
    let Some(found) = documents::config_platform(&blob.body).filter(|_| !blob.truncated) else {
        s.note("the config blob states no platform");
        return Verdict::pullable("single-platform manifest (its config states no platform)");
    };
    s.note(&format!("the image is built for {found}"));
    report.config_platform = Some(found.clone());
    if s.req.platform.accepts(&found) {
        Verdict::pullable(format!(
            "{image} is a single-platform image for {found}; {} ({}) runs it",
            s.req.puller.platform_owner(),
            s.req.platform
        ))
    } else {
        Verdict::cause(
            Cause::PlatformMismatch,
            format!(
                "{image} is a single-platform image for {found} (its config blob says so); it does not run on {}",
                s.req.platform
            ),
        )
    }
}

/// A few tag names for the detail line: the nearest to the wanted one come first.
fn preview(tags: &[String]) -> String {
    if tags.is_empty() {
        return String::new();
    }
    let shown: Vec<&str> = tags.iter().take(5).map(String::as_str).collect();
    format!(
        ": {}{}",
        shown.join(", "),
        if tags.len() > 5 { ", …" } else { "" }
    )
}

/// The verdict for a 401/403 on a repository endpoint.
pub fn denied(s: &Session<'_>, x: &Exchange, granted: &Granted) -> Verdict {
    let scope_error = challenges_of(x)
        .iter()
        .find_map(|c| c.error().map(str::to_string));
    let why = scope_error.map(|e| format!(" ({e})")).unwrap_or_default();
    match &granted.label {
        // The credentials were kept from an unnamed plain-HTTP realm, so the refusal is of an
        // anonymous pull, not of them.
        None if granted.withheld.is_some() => Verdict::cause(
            Cause::AuthRequired,
            format!(
                "anonymous access to {} refused{why}, and the credentials were not sent: {}",
                s.req.image.repository,
                granted.withheld.as_deref().unwrap_or_default()
            ),
        ),
        Some(l) => Verdict::cause(
            Cause::AuthForbidden,
            format!(
                "{l} is authenticated but may not pull {}{why}",
                s.req.image.repository
            ),
        ),
        None if x.status == 401 => Verdict::cause(
            Cause::AuthOrNotFound,
            format!(
                "anonymous access to {} refused{why}: it is private or does not exist",
                s.req.image.repository
            ),
        ),
        None => Verdict::cause(
            Cause::AuthForbidden,
            format!(
                "anonymous access to {} forbidden{why}",
                s.req.image.repository
            ),
        ),
    }
}
