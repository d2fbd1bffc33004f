//! The manifest steps: `HEAD` with the runtimes' Accept list, then `GET` where the body decides.
//!
//! containerd resolves a reference with `HEAD /v2/<name>/manifests/<ref>` and the OCI and Docker
//! index and manifest types in `Accept` (`core/remotes/docker/resolver.go`,
//! <https://github.com/containerd/containerd/blob/main/core/remotes/docker/resolver.go>); a 404
//! has no body, so a `GET` reads its error code, and an index's platforms are matched against
//! the node's as containerd's platform matcher does.

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
        return s.unreachable("manifest HEAD");
    };
    let content_type = |x: &Exchange| {
        x.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    report.digest = head
        .headers
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match head.status {
        200 => {
            report.media_type = content_type(&head);
            let mt = report.media_type.as_deref();
            // An unknown content type (a web server's HTML) needs the body to decide.
            if mt.is_some_and(documents::is_manifest_type) && !mt.is_some_and(documents::is_index) {
                return Verdict::pullable(format!(
                    "{} resolves to a single-platform manifest ({})",
                    s.req.image.canonical(),
                    report.media_type.as_deref().unwrap_or("no content type")
                ));
            }
        }
        404 => {}
        401 | 403 => return denied(s, &head, granted),
        st => return status_verdict(st, &head, "manifest HEAD"),
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
                return Verdict::pullable("single-platform manifest");
            }
            let platforms = documents::index_platforms(&get.body).unwrap_or_default();
            report.platforms = platforms.clone();
            let list: Vec<String> = platforms.iter().map(|p| p.to_string()).collect();
            match s.req.platform.best_match(&platforms) {
                Some(i) => Verdict::pullable(format!(
                    "the index offers {}; the node ({}) takes {}",
                    list.join(", "),
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
