//! Fixes that change which image is asked for: the closest existing tags for a typo, and the
//! platforms an index offers against the node's. Tags and platforms are the registry's words:
//! they reach a command only when they follow their grammar.

use serde_json::json;

use super::evidence::{Evidence, ProbeFacts};
use super::names::namespace_args;
use super::names::{Grammar, check, inert, valid};
use super::owner_fix::target;
use super::shell::Script;
use super::step::{Fix, Step, command, note, steps};

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
    // The registry wrote these: only tags a reference may carry are offered.
    let tags: Vec<String> = tags
        .into_iter()
        .filter(|t| valid(Grammar::Tag, t))
        .collect();
    let closest = closest(&wanted, &tags, 3);
    if closest.is_empty() {
        return vec![note(format!(
            "Push {}:{}, or use a tag that exists.",
            inert(&r.name()),
            inert(&wanted)
        ))];
    }
    let mut out = vec![note(format!("Closest tags: {}", closest.join(", ")))];
    let t = &ev.target;
    if let Some(c) = &ev.container
        && !t.kind.is_empty()
        && t.kind != "Pod"
    {
        let step: Step = (|| {
            let (kind, name) = target(ev)?;
            let image = check(Grammar::Image, "image", &ev.image)?;
            let container = check(Grammar::Container, "container name", &c.name)?;
            let base = repository_of(image);
            let mut argv = vec![
                "kubectl".to_string(),
                "set".into(),
                "image".into(),
                format!("{kind}/{name}"),
                format!("{container}={base}:{}", closest[0]),
            ];
            argv.extend(namespace_args(ev)?);
            Ok(command(
                format!("Point {} {} at {}", t.kind, t.name, closest[0]),
                Script::new(argv),
            ))
        })();
        out.extend(steps([step]));
    }
    out
}

pub(super) fn platform_fixes(ev: &Evidence) -> Vec<Fix> {
    let (_, platforms, wanted) = probe_lists(ev);
    let mut out = Vec::new();
    if !platforms.is_empty() {
        let wanted = inert(&wanted);
        out.push(note(format!(
            "The image offers {}; the node is {}. Build and push a {} variant (docker buildx --platform), or schedule the pod on a matching node:",
            inert(&platforms.join(", ")),
            if wanted.is_empty() { "another platform" } else { &wanted },
            if wanted.is_empty() { "matching" } else { &wanted },
        )));
        if let Some(arch) = platforms.first().and_then(|p| p.split('/').nth(1)) {
            let t = &ev.target;
            if !t.kind.is_empty() && t.kind != "Pod" {
                let step: Step = (|| {
                    let (kind, name) = target(ev)?;
                    let arch = check(Grammar::LabelValue, "architecture", arch)?;
                    let patch = json!({"spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/arch": arch}}}}});
                    let mut argv = vec!["kubectl".to_string(), "patch".into(), kind, name.into()];
                    argv.extend(namespace_args(ev)?);
                    argv.extend(["-p".to_string(), patch.to_string()]);
                    Ok(command(
                        format!("Pin {} {} to {arch} nodes", t.kind, t.name),
                        Script::new(argv),
                    ))
                })();
                out.extend(steps([step]));
            }
        }
    } else {
        out.push(note(
            "Build and push an image for the node's platform.".to_string(),
        ));
    }
    out
}

/// The reference without its tag or digest (`reg:5000/app:1.0` → `reg:5000/app`).
fn repository_of(image: &str) -> &str {
    let name = image.split_once('@').map(|(n, _)| n).unwrap_or(image);
    match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => &name[..i],
        _ => name,
    }
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

    #[test]
    fn repository_keeps_the_port() {
        assert_eq!(repository_of("reg:5000/app:1.0"), "reg:5000/app");
        assert_eq!(repository_of("reg:5000/app"), "reg:5000/app");
        assert_eq!(repository_of("app@sha256:00"), "app");
    }
}
