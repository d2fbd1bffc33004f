//! A repository's tag list, digested page by page: how many tags, whether the wanted one is
//! among them, and the few nearest to it, never the whole list.
//!
//! `GET /v2/<name>/tags/list` pages through `Link: <…>; rel="next"` headers (distribution spec,
//! <https://github.com/opencontainers/distribution-spec/blob/main/spec.md#listing-tags>); a
//! repository with millions of tags (CI builds) sends tens of megabytes. The diagnosis needs
//! three things from it: the count, "is the tag listed", and the closest tags for the fix, so
//! each page is read with borrowed strings, folded into a bounded heap, and dropped.

use std::borrow::Cow;
use std::collections::BinaryHeap;

use serde::Deserialize;

use crate::diagnose::{TagRank, tag_rank};

/// Tags kept: the nearest to the wanted one (the fix shows three, the evidence up to ten).
pub const KEPT_TAGS: usize = 10;

/// The running digest of a tag list.
#[derive(Debug)]
pub struct TagDigest {
    wanted: String,
    total: usize,
    listed: bool,
    nearest: BinaryHeap<(TagRank, String)>,
}

impl TagDigest {
    pub fn new(wanted: &str) -> TagDigest {
        TagDigest {
            wanted: wanted.to_string(),
            total: 0,
            listed: false,
            nearest: BinaryHeap::with_capacity(KEPT_TAGS + 1),
        }
    }

    /// Folds in one `tags/list` page; false when it is not one (not JSON, no `tags` field
    /// shape), leaving the digest as it was.
    pub fn add_page(&mut self, body: &[u8]) -> bool {
        #[derive(Deserialize)]
        struct Page<'a> {
            #[serde(borrow)]
            tags: Option<Vec<Cow<'a, str>>>,
        }
        let Ok(page) = serde_json::from_slice::<Page>(body) else {
            return false;
        };
        for tag in page.tags.iter().flatten() {
            self.add(tag);
        }
        true
    }

    fn add(&mut self, tag: &str) {
        self.total += 1;
        if tag == self.wanted {
            self.listed = true;
        }
        let rank = tag_rank(&self.wanted, tag);
        if self.nearest.len() < KEPT_TAGS {
            self.nearest.push((rank, tag.to_string()));
        } else if let Some(worst) = self.nearest.peek()
            && (&rank, tag) < (&worst.0, worst.1.as_str())
        {
            self.nearest.pop();
            self.nearest.push((rank, tag.to_string()));
        }
    }

    /// How many tags the pages listed.
    pub fn total(&self) -> usize {
        self.total
    }

    /// The kept tags, nearest first (the wanted one first when it is listed).
    pub fn into_tags(self) -> Vec<String> {
        self.nearest
            .into_sorted_vec()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_nearest_and_counts_the_rest() {
        let mut d = TagDigest::new("1.25.4");
        let many: Vec<String> = (0..5000).map(|i| format!("\"build-{i}\"")).collect();
        assert!(d.add_page(format!("{{\"tags\":[{}]}}", many.join(",")).as_bytes()));
        assert!(d.add_page(br#"{"name":"app","tags":["1.24","1.25.3","latest","1.25"]}"#));
        assert!(d.add_page(br#"{"name":"app","tags":null}"#));
        assert!(!d.add_page(b"<html>"));
        assert_eq!(d.total(), 5004);
        assert!(!d.listed);
        let kept = d.into_tags();
        assert_eq!(kept.len(), KEPT_TAGS);
        assert_eq!(&kept[..2], ["1.25.3", "1.25"]);
    }
}
