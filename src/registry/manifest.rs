//! The manifest steps: `HEAD` with the runtimes' Accept list, then `GET` where the body decides.
//!
//! containerd resolves a reference with `HEAD /v2/<name>/manifests/<ref>` and the OCI and Docker
//! index and manifest types in `Accept` (`core/remotes/docker/resolver.go`,
//! <https://github.com/containerd/containerd/blob/main/core/remotes/docker/resolver.go>); a 404
//! has no body, so a `GET` reads its error code, and an index's platforms are matched against
//! the node's as containerd's platform matcher does. A single-platform image is matched the
//! way containerd's `images.Manifest` does it: by the `os`/`architecture`/`variant` of its
//! config blob. That check needs the manifest's body, so when the platform is known the
//! manifest is fetched with `GET` at once and the blob costs the one extra request.

use reqwest::Method;

use super::client::{CAP_DOCUMENT, CAP_SMALL, Exchange};
use super::documents::{self, MANIFEST_ACCEPT};
use super::model::{ProbeReport, StepName};
use super::session::{Granted, Session, Verdict, challenges_of, status_verdict};
use crate::taxonomy::Cause;

/// HEAD the manifest with the runtimes' Accept list; GET when the body decides.
pub async fn resolve(
    s: &mut Session<'_>,
    report: &mut ProbeReport,
    granted: &Granted,
    tags: Option<&[String]>,
    repo_exists: bool,
) -> Verdict {
    let reference = s.req.image.manifest_reference().to_string();
    let url = s.repo_url(&format!("manifests/{reference}"));
    // With a platform to check, a single-platform manifest's body is needed anyway: `GET` it
    // at once, so the check costs one request (the config blob) over a plain resolve.
    if !s.req.check_platform
        && let Some(decided) = head(s, report, granted, &url).await
    {
        return decided;
    }
    let Some(get) = s
        .step(
            StepName::ManifestGet,
            Method::GET,
            url,
            Some(MANIFEST_ACCEPT),
            granted,
            CAP_DOCUMENT,
        )
        .await
    else {
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
            match tags {
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
        st => status_verdict(st, &get, "manifest GET"),
    }
}

/// `HEAD` the manifest as containerd resolves it; Some(verdict) when the head alone decides.
async fn head(
    s: &mut Session<'_>,
    report: &mut ProbeReport,
    granted: &Granted,
    url: &reqwest::Url,
) -> Option<Verdict> {
    let Some(head) = s
        .step(
            StepName::ManifestHead,
            Method::HEAD,
            url.clone(),
            Some(MANIFEST_ACCEPT),
            granted,
            CAP_SMALL,
        )
        .await
    else {
        return Some(s.unreachable("manifest HEAD"));
    };
    report.digest = digest_of(&head);
    match head.status {
        200 => {
            report.media_type = content_type(&head);
            let mt = report.media_type.as_deref();
            // An unknown content type (a web server's HTML) needs the body to decide.
            if mt.is_some_and(documents::is_manifest_type) && !mt.is_some_and(documents::is_index) {
                return Some(Verdict::pullable(format!(
                    "{} resolves to a single-platform manifest ({})",
                    s.req.image.canonical(),
                    report.media_type.as_deref().unwrap_or("no content type")
                )));
            }
            None
        }
        404 => None,
        401 | 403 => Some(denied(s, &head, granted)),
        st => Some(status_verdict(st, &head, "manifest HEAD")),
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
