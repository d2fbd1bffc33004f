//! The tag list, read when a manifest is missing: whether the repository exists, and the tags
//! nearest the one asked for.
//!
//! Debian's docker-registry 2.8 answers a missing repository's manifest with
//! `MANIFEST_UNKNOWN`; only `tags/list` says `NAME_UNKNOWN` (see
//! `docs/internals/registry-protocol.md`), so after a 404 the first tags page tells a missing
//! repository from a missing tag and carries the closest tags for the fix. A pullable image
//! never needs it.

use std::time::Instant;

use reqwest::Method;

use super::client::{CAP_DOCUMENT, Exchange};
use super::documents;
use super::model::{ProbeReport, StepName};
use super::session::{Granted, Session};
use super::tags::TagDigest;

/// What the tag list said.
pub enum Listing {
    /// The repository exists; its nearest tags (None: the list was unreadable).
    Listed(Option<Vec<String>>),
    /// `NAME_UNKNOWN`: the repository does not exist.
    NoRepository,
    /// No usable answer (refused, failed, unreachable): the manifest's 404 decides alone.
    Unknown,
}

/// Reads the tag list after a manifest 404.
pub async fn after_missing_manifest(
    s: &mut Session<'_>,
    report: &mut ProbeReport,
    granted: &Granted,
) -> Listing {
    let url = s.repo_url("tags/list");
    let Some(first) = tags_page(s, url, granted).await else {
        s.note("tags not reachable; the manifest decides");
        return Listing::Unknown;
    };
    match first.status {
        200 => {
            let tags = read_tags(s, report, granted, &first).await;
            report.tags = tags.clone().unwrap_or_default();
            Listing::Listed(tags)
        }
        404 if s.steps.last().and_then(|st| st.error_code.as_deref()) == Some("NAME_UNKNOWN") => {
            Listing::NoRepository
        }
        _ => {
            s.note("tags not readable; the manifest decides");
            Listing::Unknown
        }
    }
}

/// One `tags/list` page: the first, or one a `Link` header named.
async fn tags_page(s: &mut Session<'_>, url: reqwest::Url, granted: &Granted) -> Option<Exchange> {
    s.step(
        StepName::Tags,
        Method::GET,
        url,
        None,
        granted,
        CAP_DOCUMENT,
    )
    .await
}

/// The first tags page plus the pages its `Link` headers lead to, up to `max_tag_pages` and
/// one `step_timeout` in all, digested page by page (`tags.rs`): the kept tags are the nearest
/// to the wanted one, the count goes to `report.tags_total`. None when the first page is
/// unreadable (too large or not JSON), so no tag is called missing on it.
async fn read_tags(
    s: &mut Session<'_>,
    report: &mut ProbeReport,
    granted: &Granted,
    first: &Exchange,
) -> Option<Vec<String>> {
    let wanted = s.req.image.tag.clone().unwrap_or_default();
    let mut digest = TagDigest::new(&wanted);
    let add = |d: &mut TagDigest, x: &Exchange| !x.truncated && d.add_page(&x.body);
    let link_of = |x: &Exchange| {
        x.headers
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(documents::next_link)
    };
    if !add(&mut digest, first) {
        s.note("tag list unreadable (larger than 4 MiB or not JSON)");
        return None;
    }
    let started = Instant::now();
    let mut link = link_of(first);
    let mut pages = 1;
    while let Some(next) = link.take() {
        if pages >= s.req.max_tag_pages || started.elapsed() >= s.req.step_timeout {
            report.tags_truncated = true;
            break;
        }
        let Ok(url) = s.root.join(&next) else { break };
        let page = tags_page(s, url, granted).await;
        pages += 1;
        if !page
            .as_ref()
            .filter(|p| p.status == 200)
            .is_some_and(|p| add(&mut digest, p))
        {
            report.tags_truncated = true;
            break;
        }
        link = page.as_ref().and_then(link_of);
    }
    report.tags_total = digest.total();
    Some(digest.into_tags())
}
