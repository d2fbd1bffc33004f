//! Fixes that change which image is asked for: the closest existing tags for a typo, and the
//! platforms an index offers against the node's.

use super::evidence::{Evidence, ProbeFacts};
use super::fix::{Fix, command, note};

fn probe_lists(ev: &Evidence) -> (Vec<String>, Vec<String>, String) {
    match &ev.probe {
        ProbeFacts::Ran(p) => (p.tags.clone(), p.platforms.clone(), p.platform.clone()),
        _ => (Vec::new(), Vec::new(), String::new()),
    }
}

pub(super) fn tag_fixes(ev: &Evidence) -> Vec<Fix> {
    let (tags, _, _) = probe_lists(ev);
    let Some(r) = &ev.image_ref else {
        return Vec::new();
    };
    let wanted = r.tag.clone().unwrap_or_default();
    let closest = closest(&wanted, &tags, 3);
    if closest.is_empty() {
        return vec![note(format!(
            "Push {}:{wanted}, or use a tag that exists.",
            r.name()
        ))];
    }
    let mut out = vec![note(format!("Closest tags: {}", closest.join(", ")))];
    let t = &ev.target;
    if let Some(c) = &ev.container
        && !t.kind.is_empty()
        && t.kind != "Pod"
    {
        let base = ev
            .image
            .rsplit_once(':')
            .map(|(b, _)| b)
            .unwrap_or(&ev.image);
        out.push(command(
            format!("Point {} {} at {}", t.kind, t.name, closest[0]),
            format!(
                "kubectl set image {}/{} {}={base}:{} -n {}",
                t.kind.to_ascii_lowercase(),
                t.name,
                c.name,
                closest[0],
                ev.namespace
            ),
        ));
    }
    out
}

pub(super) fn platform_fixes(ev: &Evidence) -> Vec<Fix> {
    let (_, platforms, wanted) = probe_lists(ev);
    let mut out = Vec::new();
    if !platforms.is_empty() {
        out.push(note(format!(
            "The image offers {}; the node is {}. Build and push a {} variant (docker buildx --platform), or schedule the pod on a matching node:",
            platforms.join(", "),
            if wanted.is_empty() { "another platform" } else { &wanted },
            if wanted.is_empty() { "matching" } else { &wanted },
        )));
        if let Some(arch) = platforms.first().and_then(|p| p.split('/').nth(1)) {
            let t = &ev.target;
            if !t.kind.is_empty() && t.kind != "Pod" {
                out.push(command(
                    format!("Pin {} {} to {arch} nodes", t.kind, t.name),
                    format!(
                        "kubectl patch {} {} -n {} -p '{{\"spec\":{{\"template\":{{\"spec\":{{\"nodeSelector\":{{\"kubernetes.io/arch\":\"{arch}\"}}}}}}}}}}'",
                        t.kind.to_ascii_lowercase(),
                        t.name,
                        ev.namespace
                    ),
                ));
            }
        }
    } else {
        out.push(note(
            "Build and push an image for the node's platform.".to_string(),
        ));
    }
    out
}

/// The `n` tags closest to `wanted` by edit distance, nearest first; ties go to the longer
/// shared prefix, because tag typos are usually in the last component (`1.25.4` → `1.25`).
pub fn closest(wanted: &str, tags: &[String], n: usize) -> Vec<String> {
    let mut scored: Vec<(TagRank, &String)> =
        tags.iter().map(|t| (tag_rank(wanted, t), t)).collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().take(n).map(|(_, t)| t.clone()).collect()
}

/// How near `tag` is to `wanted`, smaller first: edit distance, then the longer shared prefix.
pub type TagRank = (usize, std::cmp::Reverse<usize>);

/// The rank [`closest`] sorts by; the probe keeps the nearest tags while reading pages with it.
pub fn tag_rank(wanted: &str, tag: &str) -> TagRank {
    let prefix = wanted
        .chars()
        .zip(tag.chars())
        .take_while(|(a, b)| a == b)
        .count();
    (edit_distance(wanted, tag), std::cmp::Reverse(prefix))
}

/// Levenshtein distance over chars; tags are short, so the quadratic table is fine. ASCII
/// tags of up to 128 bytes (nearly all) use two rows on the stack: the probe ranks every tag
/// of a list that can run to millions.
fn edit_distance(a: &str, b: &str) -> usize {
    const SHORT: usize = 128;
    if a.is_ascii() && b.is_ascii() && b.len() < SHORT {
        let b = b.as_bytes();
        let mut prev = [0usize; SHORT + 1];
        let mut cur = [0usize; SHORT + 1];
        for (j, p) in prev.iter_mut().enumerate().take(b.len() + 1) {
            *p = j;
        }
        for (i, ca) in a.bytes().enumerate() {
            cur[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let sub = prev[j] + usize::from(ca != *cb);
                cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
            }
            std::mem::swap(&mut prev, &mut cur);
        }
        return prev[b.len()];
    }
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_tags_rank_typos_first() {
        let tags: Vec<String> = ["1.24", "1.25.3", "latest", "1.25"]
            .map(String::from)
            .to_vec();
        assert_eq!(closest("1.25.4", &tags, 2), vec!["1.25.3", "1.25"]);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
