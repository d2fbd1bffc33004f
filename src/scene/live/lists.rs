//! Paged lists from the API server, bounded: pages capped and repeated tokens refused (in
//! `list_kept`), each object kept once and at most a cap of them, slimmed as it is kept.
//!
//! kube-apiserver pages with `limit`/`continue`
//! (<https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks>)
//! and never lists one object twice; a server that repeats or invents objects page after page
//! must not grow pulldoctor without bound.

use std::collections::HashSet;
use std::fmt::Debug;

use kube::api::{Api, ListParams};
use serde::de::DeserializeOwned;

use super::{LiveSource, MAX_LISTED, MAX_PAGES};
use crate::{Error, Result};

/// What one list kept, and whether it stopped at its cap.
pub(super) struct Listed<K> {
    pub(super) items: Vec<K>,
    pub(super) capped: bool,
    /// Items the cap left out (those seen; a list stopped at its cap sees no more).
    pub(super) cut: usize,
    /// Why reading stopped after the item cap was reached, before the list's end (the page
    /// cap, or the list's time).
    pub(super) stopped: Option<String>,
}

impl LiveSource {
    /// Lists every page; `Ok(Err(message))` when RBAC refuses the list. More than
    /// [`MAX_LISTED`] distinct items is an error naming the cap.
    pub(super) async fn list_all<K>(
        &self,
        api: Api<K>,
        fields: Option<&str>,
    ) -> Result<std::result::Result<Vec<K>, String>>
    where
        K: Clone + DeserializeOwned + Debug + kube::Resource<DynamicType = ()>,
    {
        let listed = self
            .list_kept(
                api,
                fields,
                None,
                MAX_LISTED,
                |_| true,
                None::<fn(&K) -> bool>,
            )
            .await?;
        match listed {
            Ok(l) if l.capped => Err(Error::Api(format!(
                "{} listed more than {MAX_LISTED} {} (the cap for one list); stopped reading it",
                self.server,
                K::plural(&())
            ))),
            other => Ok(other.map(|l| l.items)),
        }
    }

    /// Lists every page, keeping only the items `keep` accepts (and may slim) as each page
    /// arrives, each distinct object once and at most `cap` of them, so a cluster-wide scan
    /// never holds every pod and event at once, and a server that repeats or invents objects
    /// page after page cannot grow it without bound.
    ///
    /// With `first`, at the cap an item `first` accepts takes the place of the last kept one it
    /// does not: the list is then read to its end (or the page cap, or its time), so the items
    /// that matter most are kept whatever their order, in bounded memory.
    pub(super) async fn list_kept<K, F>(
        &self,
        api: Api<K>,
        fields: Option<&str>,
        labels: Option<&str>,
        cap: usize,
        keep: impl Fn(&mut K) -> bool,
        first: Option<F>,
    ) -> Result<std::result::Result<Listed<K>, String>>
    where
        K: Clone + DeserializeOwned + Debug + kube::Resource<DynamicType = ()>,
        F: Fn(&K) -> bool,
    {
        let mut items = Vec::new();
        // Indices of kept items `first` does not accept: the ones that give way at the cap.
        let mut give_way: Vec<usize> = Vec::new();
        let mut cut = 0usize;
        let mut kept: HashSet<(String, String, String)> = HashSet::new();
        let mut token: Option<String> = None;
        let mut seen = HashSet::new();
        let phase = self.phase();
        let started = std::time::Instant::now();
        let mut pages = 0usize;
        let what = K::plural(&());
        let done = |items: &Vec<K>, pages: usize| {
            tracing::info!(
                "gather: listed {} {what}{} in {pages} page{} ({} ms)",
                items.len(),
                fields.map(|f| format!(" ({f})")).unwrap_or_default(),
                if pages == 1 { "" } else { "s" },
                started.elapsed().as_millis()
            );
        };
        loop {
            let mut lp = ListParams::default().limit(self.page_size);
            if let Some(f) = fields {
                lp = lp.fields(f);
            }
            if let Some(l) = labels {
                lp = lp.labels(l);
            }
            if let Some(t) = &token {
                lp = lp.continue_token(t);
            }
            let answer = match phase.call(self, api.list(&lp)).await {
                // Past the item cap, out of time: what is kept stands.
                Err(e) if cut > 0 => {
                    done(&items, pages);
                    return Ok(Ok(Listed {
                        items,
                        capped: true,
                        cut,
                        stopped: Some(format!("reading stopped there: {e}")),
                    }));
                }
                other => other?,
            };
            let page = match answer {
                Ok(p) => p,
                Err(kube::Error::Api(s)) if s.code == 403 => {
                    tracing::info!("gather: listing {what} forbidden: {}", s.message);
                    return Ok(Err(s.message.clone()));
                }
                Err(e) => return Err(self.fatal(e)),
            };
            pages += 1;
            tracing::debug!("gather: {what} page {pages}: {} items", page.items.len());
            for mut item in page.items {
                let m = item.meta();
                let id = (
                    m.namespace.clone().unwrap_or_default(),
                    m.name.clone().unwrap_or_default(),
                    m.uid.clone().unwrap_or_default(),
                );
                if kept.contains(&id) || !keep(&mut item) {
                    continue;
                }
                if items.len() >= cap {
                    let Some(first) = &first else {
                        done(&items, pages);
                        return Ok(Ok(Listed {
                            items,
                            capped: true,
                            cut: cut + 1,
                            stopped: None,
                        }));
                    };
                    cut += 1;
                    if first(&item)
                        && let Some(i) = give_way.pop()
                    {
                        let old = items[i].meta();
                        kept.remove(&(
                            old.namespace.clone().unwrap_or_default(),
                            old.name.clone().unwrap_or_default(),
                            old.uid.clone().unwrap_or_default(),
                        ));
                        kept.insert(id);
                        items[i] = item;
                    }
                    continue;
                }
                if first.as_ref().is_some_and(|f| !f(&item)) {
                    give_way.push(items.len());
                }
                kept.insert(id);
                items.push(item);
            }
            match page.metadata.continue_.filter(|t| !t.is_empty()) {
                Some(t) if !seen.insert(t.clone()) => {
                    return Err(Error::Api(format!(
                        "{} sent a continue token it had already sent, after {} pages; \
                         stopped following it",
                        self.server,
                        seen.len() + 1
                    )));
                }
                // Past the item cap the list was only read for items to put first: what is
                // kept stands, and the report says where reading stopped.
                Some(_) if seen.len() >= MAX_PAGES && cut > 0 => {
                    done(&items, pages);
                    return Ok(Ok(Listed {
                        items,
                        capped: true,
                        cut,
                        stopped: Some(format!(
                            "the list was still going after {MAX_PAGES} pages and was not read \
                             further"
                        )),
                    }));
                }
                Some(_) if seen.len() >= MAX_PAGES => {
                    return Err(Error::Api(format!(
                        "{} still had more after {MAX_PAGES} pages of {}; stopped following it",
                        self.server, self.page_size
                    )));
                }
                Some(t) => token = Some(t),
                None => {
                    done(&items, pages);
                    return Ok(Ok(Listed {
                        items,
                        capped: cut > 0,
                        cut,
                        stopped: None,
                    }));
                }
            }
        }
    }
}

/// Drops what no diagnosis reads from a kept object's metadata: `managedFields` and the
/// annotations (kubectl's last-applied configuration alone can double a pod's size).
pub(super) fn slim(meta: &mut kube::api::ObjectMeta) {
    meta.managed_fields = None;
    meta.annotations = None;
}
