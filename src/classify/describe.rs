//! Pasted text to symptoms: `kubectl describe pod` (the current `Type Reason Age From Message`
//! events table, the old `FirstSeen LastSeen Count From SubobjectPath Type Reason Message` one,
//! and the container's `State: Waiting / Reason / Message` block), `kubectl get events` (with or
//! without `-o wide`), kubelet log lines, or raw messages one per line.
//!
//! Follows kubectl's printers (`staging/src/k8s.io/kubectl/pkg/describe/describe.go`,
//! `DescribeEvents`; `get` uses the same tabwriter), but reads rows by their tokens rather than
//! by column offsets, because pasted text loses its alignment in chat and issue trackers.
//! Messages wrapped onto following lines are joined back, without a space where a terminal's
//! hard wrap cut a token ([`super::wrap`]). The result is one symptom per image:
//! kubelet's Failed, ErrImagePull and BackOff events for one image collapse into the most
//! specific of them.

use super::{Symptom, classify_with_image, is_pull_failure, wrap};
use crate::registry::ImageRef;
use crate::taxonomy::Cause;
use std::collections::HashMap;

/// One message found in the text, with what its surroundings say.
struct Item {
    reason: Option<String>,
    message: String,
    image_hint: Option<String>,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Raw,
    /// `Type Reason Age From Message`.
    Events,
    /// `FirstSeen LastSeen Count From SubobjectPath Type Reason Message`.
    OldEvents,
    /// `kubectl get events`: the message starts after the object; `-o wide` adds three columns
    /// after it, whose offsets the header gives.
    GetEvents {
        reason_col: usize,
        msg_col: usize,
        wide_end: Option<usize>,
    },
}

/// Every image-pull failure in pasted text, one symptom per image. Text with none gives an empty
/// vector.
pub fn symptoms_from_text(text: &str) -> Vec<Symptom> {
    let items = parse(text);
    let symptoms = items
        .iter()
        .map(|i| classify_with_image(i.reason.as_deref(), &i.message, i.image_hint.as_deref()))
        .filter(|s| is_pull_failure(s) && !is_progress(s));
    merge(symptoms.collect())
}

fn parse(text: &str) -> Vec<Item> {
    let wrap = wrap::width(text);
    let mut previous_line = "";
    let mut items: Vec<Item> = Vec::new();
    let mut mode = Mode::Raw;
    // Whether the last item may still take continuation lines.
    let mut open = false;
    let mut container_image: Option<String> = None;
    let mut waiting = false;
    let mut waiting_item: Option<usize> = None;
    let mut previous_line_ends_colon = false;

    for raw_line in text.lines() {
        let line = raw_line.trim_end();
        let previous = std::mem::replace(&mut previous_line, line);
        let t = line.trim_start();
        let ends_colon = t.ends_with(':');
        if t.is_empty() {
            mode = Mode::Raw;
            open = false;
            previous_line_ends_colon = false;
            continue;
        }
        if let Some(m) = header(line) {
            mode = m;
            open = false;
            continue;
        }
        if t.starts_with("---") || t == "Events:" || t.starts_with("Events:") {
            open = false;
            continue;
        }
        // The container block of `kubectl describe pod`.
        if let Some((key, value)) = key_value(t) {
            match key {
                "Image" => {
                    container_image = (!value.is_empty()).then(|| value.to_string());
                    waiting = false;
                    open = false;
                    continue;
                }
                "State" => {
                    waiting = value == "Waiting";
                    open = false;
                    continue;
                }
                "Reason" if waiting => {
                    items.push(Item {
                        reason: Some(value.to_string()),
                        message: String::new(),
                        image_hint: container_image.clone(),
                    });
                    waiting_item = Some(items.len() - 1);
                    open = false;
                    continue;
                }
                "Message" if waiting => {
                    if let Some(i) = waiting_item {
                        items[i].message = value.to_string();
                        open = true;
                    }
                    continue;
                }
                _ if waiting && mode == Mode::Raw => {
                    waiting = false;
                    waiting_item = None;
                    open = false;
                    continue;
                }
                _ => {}
            }
        }
        let row = match mode {
            Mode::Events => event_row(line),
            Mode::OldEvents => old_event_row(line),
            Mode::GetEvents {
                reason_col,
                msg_col,
                wide_end,
            } => aligned_row(line, reason_col, msg_col, wide_end)
                .or_else(|| get_event_row(line, wide_end, msg_col)),
            Mode::Raw => {
                headerless_row(line).or_else(|| raw_row(t, previous_line_ends_colon, open))
            }
        };
        match row {
            Some((reason, message)) => {
                items.push(Item {
                    reason,
                    message,
                    image_hint: None,
                });
                open = true;
            }
            None if open => {
                if let Some(last) = items.last_mut() {
                    if !wrap::continues_token(previous, raw_line, wrap) {
                        last.message.push('\n');
                    }
                    last.message.push_str(t);
                }
            }
            None => {}
        }
        previous_line_ends_colon = ends_colon;
    }
    items
}

/// Recognises the header lines of the events tables.
fn header(line: &str) -> Option<Mode> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if words == ["Type", "Reason", "Age", "From", "Message"] {
        return Some(Mode::Events);
    }
    if words.first() == Some(&"FirstSeen") && words.contains(&"Message") {
        return Some(Mode::OldEvents);
    }
    let upper = words.contains(&"MESSAGE") && words.contains(&"REASON");
    if upper {
        let msg_col = line.find("MESSAGE")?;
        let reason_col = line.find("REASON")?;
        let wide_end = line[msg_col..].find("FIRST SEEN").map(|i| msg_col + i);
        return Some(Mode::GetEvents {
            reason_col,
            msg_col,
            wide_end,
        });
    }
    None
}

/// `Key:  value` lines of `kubectl describe`.
fn key_value(t: &str) -> Option<(&str, &str)> {
    let (key, value) = t.split_once(':')?;
    let simple = !key.is_empty()
        && key.len() <= 20
        && key.chars().all(|c| c.is_ascii_alphabetic() || c == ' ')
        && (value.is_empty() || value.starts_with([' ', '\t']));
    simple.then(|| (key, value.trim()))
}

/// Whitespace-separated tokens with their byte offsets.
fn tokens(line: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                out.push((s, &line[s..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, &line[s..]));
    }
    out
}

fn is_type(word: &str) -> bool {
    word == "Normal" || word == "Warning"
}

/// `Warning  Failed  5s (x3 over 1m)  kubelet, node-1  Failed to pull image …`
fn event_row(line: &str) -> Option<(Option<String>, String)> {
    let toks = tokens(line);
    if toks.len() < 4 || !is_type(toks[0].1) {
        return None;
    }
    let reason = toks[1].1.to_string();
    let mut i = 3; // after the age
    if toks.get(i).is_some_and(|(_, w)| w.starts_with("(x")) {
        while i < toks.len() && !toks[i].1.ends_with(')') {
            i += 1;
        }
        i += 1;
    }
    // The source: `kubelet`, `kubelet, node`, `default-scheduler`.
    while i < toks.len() && toks[i].1.ends_with(',') {
        i += 1;
    }
    i += 1;
    let message = toks.get(i).map(|&(at, _)| line[at..].to_string())?;
    Some((Some(reason), message))
}

/// `16m  1m  6  {kubelet host}  spec.containers{x}  Warning  Failed  Failed to pull image …`
fn old_event_row(line: &str) -> Option<(Option<String>, String)> {
    let toks = tokens(line);
    let first = toks.first()?.1;
    if !looks_like_age(first) {
        return None;
    }
    let k = toks.iter().position(|(_, w)| is_type(w))?;
    if k < 3 {
        return None;
    }
    let reason = toks.get(k + 1)?.1.to_string();
    let message = toks.get(k + 2).map(|&(at, _)| line[at..].to_string())?;
    Some((Some(reason), message))
}

/// `[NAMESPACE] LAST-SEEN TYPE REASON OBJECT MESSAGE` (wide: `… MESSAGE FIRST-SEEN COUNT NAME`).
fn get_event_row(
    line: &str,
    wide_end: Option<usize>,
    msg_col: usize,
) -> Option<(Option<String>, String)> {
    let toks = tokens(line);
    let k = toks.iter().take(3).position(|(_, w)| is_type(w))?;
    let reason = toks.get(k + 1)?.1.to_string();
    if let Some(end) = wide_end {
        let aligned = line.is_char_boundary(msg_col)
            && line.is_char_boundary(end.min(line.len()))
            && line[..msg_col].ends_with(' ');
        if aligned && line.len() > msg_col {
            let message = line[msg_col..end.min(line.len())].trim().to_string();
            return Some((Some(reason), message));
        }
    }
    let message = toks.get(k + 3).map(|&(at, _)| line[at..].to_string())?;
    Some((Some(reason), message))
}

/// A `kubectl get events` row read by the header's column offsets (kubectl aligns with a
/// tabwriter), which also covers the old `LASTSEEN FIRSTSEEN COUNT NAME KIND SUBOBJECT TYPE REASON
/// SOURCE MESSAGE` layout. `None` when the row is not aligned with the header.
fn aligned_row(
    line: &str,
    reason_col: usize,
    msg_col: usize,
    wide_end: Option<usize>,
) -> Option<(Option<String>, String)> {
    let starts_column = |col: usize| {
        col > 0
            && line.is_char_boundary(col)
            && line[..col].ends_with([' ', '\t'])
            && line[col..].starts_with(|c: char| !c.is_whitespace())
    };
    if !(starts_column(reason_col) && starts_column(msg_col)) {
        return None;
    }
    let reason = tokens(&line[reason_col..]).first()?.1.to_string();
    let end = wide_end
        .filter(|&e| e <= line.len() && line.is_char_boundary(e))
        .unwrap_or(line.len());
    let message = line.get(msg_col..end)?.trim().to_string();
    Some((Some(reason), message))
}

/// A table row pasted without its header: `kubectl get events` rows (a type within the first
/// three columns, then reason and a `kind/name` object) or `describe` event rows.
fn headerless_row(line: &str) -> Option<(Option<String>, String)> {
    let toks = tokens(line);
    let k = toks.iter().take(3).position(|(_, w)| is_type(w))?;
    if toks.get(k + 2).is_some_and(|(_, w)| w.contains('/')) {
        return get_event_row(line, None, 0);
    }
    if k == 0 { event_row(line) } else { None }
}

/// A raw message or log line: starts a new item unless it continues a wrapped one.
fn raw_row(t: &str, after_colon: bool, open: bool) -> Option<(Option<String>, String)> {
    if open && (after_colon || !starts_message(t)) {
        return None;
    }
    Some((None, t.to_string()))
}

/// Lines that begin a message of their own: kubelet/klog/syslog/logfmt prefixes and the phrases
/// kubelet's events start with.
fn starts_message(t: &str) -> bool {
    let b = t.as_bytes();
    let klog = b.len() > 6 && b"EWIF".contains(&b[0]) && b[1..5].iter().all(u8::is_ascii_digit);
    const MONTHS: [&str; 12] = [
        "Jan ", "Feb ", "Mar ", "Apr ", "May ", "Jun ", "Jul ", "Aug ", "Sep ", "Oct ", "Nov ",
        "Dec ",
    ];
    const STARTS: [&str; 16] = [
        "failed",
        "back-off",
        "error",
        "warning",
        "normal",
        "container image",
        "unable to",
        "time=",
        "fata[",
        "erro[",
        "info[",
        "warn[",
        "errimagepull:",
        "imagepullbackoff:",
        "ctr:",
        "pulling image",
    ];
    klog || MONTHS.iter().any(|m| t.starts_with(m))
        || STARTS.iter().any(|s| super::text::starts_with_ci(t, s))
}

fn looks_like_age(w: &str) -> bool {
    w.starts_with('<')
        || (w.chars().next().is_some_and(|c| c.is_ascii_digit())
            && w.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Progress events that mention an image without a failure (`Pulling image "x"`).
fn is_progress(s: &Symptom) -> bool {
    s.cause == Cause::Unknown
        && s.reason
            .as_deref()
            .is_some_and(|r| r == "Pulling" || r == "Pulled" || r == "Scheduled" || r == "Created")
}

/// One symptom per image, the most specific cause winning; image-less events (`Error:
/// ErrImagePull`) join the single image when there is one.
fn merge(symptoms: Vec<Symptom>) -> Vec<Symptom> {
    // Groups in order of first appearance, found through an index so that text naming many
    // distinct images costs one lookup per symptom, not one comparison per group.
    let mut groups: Vec<(Option<String>, Vec<Symptom>)> = Vec::new();
    let mut index: HashMap<Option<String>, usize> = HashMap::new();
    for s in symptoms {
        let key = s.image.as_deref().map(image_key);
        match index.get(&key) {
            Some(&i) => groups[i].1.push(s),
            None => {
                index.insert(key.clone(), groups.len());
                groups.push((key, vec![s]));
            }
        }
    }
    let with_image = groups.iter().filter(|(k, _)| k.is_some()).count();
    if with_image >= 1
        && let Some(pos) = groups.iter().position(|(k, _)| k.is_none())
    {
        let (_, loose) = groups.remove(pos);
        if with_image == 1 {
            let target = groups.iter_mut().find(|(k, _)| k.is_some());
            if let Some((_, g)) = target {
                g.extend(loose);
            }
        } else {
            let keep: Vec<Symptom> = loose
                .into_iter()
                .filter(|s| s.cause != Cause::Unknown)
                .collect();
            if !keep.is_empty() {
                groups.push((None, keep));
            }
        }
    }
    groups.into_iter().filter_map(|(_, g)| best(g)).collect()
}

fn rank(c: Cause) -> u8 {
    match c {
        Cause::Unknown => 0,
        c if c.is_ambiguous() => 1,
        _ => 2,
    }
}

fn best(group: Vec<Symptom>) -> Option<Symptom> {
    let image = group.iter().find_map(|s| s.image.clone());
    let runtime = group
        .iter()
        .map(|s| s.runtime)
        .find(|r| *r != crate::taxonomy::Runtime::Unknown);
    let mut winner = group
        .into_iter()
        .reduce(|a, b| if rank(b.cause) > rank(a.cause) { b } else { a })?;
    if winner.image.is_none() && image.is_some() {
        winner = classify_with_image(winner.reason.as_deref(), &winner.message, image.as_deref());
    }
    if let Some(r) = runtime
        && winner.runtime == crate::taxonomy::Runtime::Unknown
    {
        winner.runtime = r;
    }
    Some(winner)
}

/// The same image however it was written (`busybox` = `docker.io/library/busybox:latest`).
fn image_key(image: &str) -> String {
    ImageRef::parse(image)
        .map(|r| r.canonical())
        .unwrap_or_else(|_| image.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_events_table_collapses_to_one_symptom() {
        let text = "Events:\n  Type     Reason     Age                From               Message\n  ----     ------     ----               ----               -------\n  Normal   Pulling    5m                 kubelet            Pulling image \"busybox\"\n  Warning  Failed     4m (x3 over 5m)    kubelet, node-1    Failed to pull image \"busybox\": rpc error: code = Unknown desc = failed to pull and unpack image \"docker.io/library/busybox:latest\": failed to resolve reference \"docker.io/library/busybox:latest\": docker.io/library/busybox:latest: not found\n  Warning  Failed     4m                 kubelet            Error: ErrImagePull\n  Normal   BackOff    3m (x6 over 4m)    kubelet            Back-off pulling image \"busybox\"\n";
        let s = symptoms_from_text(text);
        assert_eq!(s.len(), 1, "{s:#?}");
        assert_eq!(s[0].cause, Cause::NotFoundTag);
        assert_eq!(s[0].image.as_deref(), Some("busybox"));
    }

    #[test]
    fn backoff_alone_still_yields_a_symptom() {
        let s = symptoms_from_text(
            "  Normal   BackOff  2s (x4 over 34s)  kubelet  Back-off pulling image \"a.test/x:1\"",
        );
        assert_eq!(s.len(), 1, "a pasted row without its header still counts");
        let s = symptoms_from_text(
            "Type Reason Age From Message\nNormal BackOff 2s kubelet Back-off pulling image \"a.test/x:1\"",
        );
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].cause, Cause::Unknown);
        assert_eq!(s[0].registry.as_deref(), Some("a.test"));
    }

    #[test]
    fn nothing_about_pulls_gives_nothing() {
        assert!(symptoms_from_text("").is_empty());
        assert!(symptoms_from_text("Name: x\nStatus: Running\n").is_empty());
        assert!(symptoms_from_text("Type Reason Age From Message\nNormal Pulled 1s kubelet Successfully pulled image \"x\"").is_empty());
    }

    #[test]
    fn get_events_wide_and_old_layouts_by_columns() {
        let wide = "LAST SEEN   TYPE      REASON   OBJECT      SUBOBJECT                SOURCE              MESSAGE                                                      FIRST SEEN   COUNT   NAME\n2m          Warning   Failed   pod/web-1   spec.containers{web}     kubelet, node-1     Failed to pull image \"r.test/web:2\": not found: manifest unknown   5m           4       web-1.17a\n";
        let s = symptoms_from_text(wide);
        assert_eq!(s.len(), 1, "{s:#?}");
        assert_eq!(s[0].cause, Cause::NotFound);
        assert_eq!(s[0].reason.as_deref(), Some("Failed"));
        assert!(!s[0].message.contains("web-1.17a"));
        let old = "LASTSEEN   FIRSTSEEN   COUNT     NAME      KIND      SUBOBJECT              TYPE      REASON    SOURCE              MESSAGE\n1m         5m          4         web-1     Pod       spec.containers{web}   Warning   Failed    {kubelet node-1}    Failed to pull image \"r.test/web:2\": x509: certificate signed by unknown authority\n";
        let s = symptoms_from_text(old);
        assert_eq!(s.len(), 1, "{s:#?}");
        assert_eq!(s[0].cause, Cause::TlsUnknownAuthority);
    }

    #[test]
    fn unrelated_events_are_not_pull_failures() {
        let text = "Events:\n  Type     Reason       Age   From     Message\n  ----     ------       ----  ----     -------\n  Warning  FailedMount  1m    kubelet  MountVolume.SetUp failed for volume \"cfg\" : secret \"app-config\" not found\n  Warning  BackOff      1m    kubelet  Back-off restarting failed container app in pod web_default\n  Warning  Failed       1m    kubelet  Error: failed to create containerd task: OCI runtime create failed\n";
        assert!(
            symptoms_from_text(text).is_empty(),
            "{:#?}",
            symptoms_from_text(text)
        );
        assert!(symptoms_from_text("Error: secret x not found").is_empty());
    }

    #[test]
    fn raw_lines_join_wrapped_continuations() {
        let text = "Failed to pull image \"busybox\": rpc error: code = Unknown\ndesc = failed to pull and unpack image \"docker.io/library/busybox:latest\": 429 Too Many Requests - Server message: toomanyrequests: limit.\nYou may increase the limit";
        let s = symptoms_from_text(text);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].cause, Cause::RateLimited);
    }
}
