//! A container's pull history: every failure kubelet recorded, grouped by cause, counted and
//! dated, so the verdict follows the failure that keeps recurring rather than the first line.
//!
//! kubelet folds repeats of one event into `count`, `firstTimestamp` and `lastTimestamp`
//! (core/v1), or `series.count` and `series.lastObservedTime` next to `eventTime` (events written
//! through events.k8s.io/v1), see
//! <https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/>. Its image
//! back-off doubles up to five minutes (`pkg/kubelet/images/image_manager.go`), so a cause still
//! failing shows up at least that often: one not seen within ten minutes of the newest failure
//! has stopped recurring. A `Pulled` event newer than the failures, or a running container, means
//! the pod recovered and the failures are history.

use k8s_openapi::api::core::v1::Event;
use k8s_openapi::jiff::Timestamp;

use super::evidence::{PodContainer, event_for};
use crate::classify::{self, Symptom};
use crate::diagnose::FailureSeen;
use crate::scene::{Scene, is_pull_failure_event, is_pull_waiting_reason};
use crate::taxonomy::Cause;

/// How long after a cause's last attempt it still counts as recurring, in seconds: twice
/// kubelet's longest image back-off.
const RECURRING_WINDOW: i64 = 600;

/// What kubelet recorded about pulling one container's image.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// The failure the verdict starts from: the most frequent, then most recent, still recurring.
    pub primary: Option<Symptom>,
    /// Each distinct failure, `primary`'s first, then the other recurring ones, then the past.
    pub failures: Vec<FailureSeen>,
    /// kubelet's `Pulled` event newer than every failure, as one line.
    pub pulled: Option<String>,
}

/// One cause's attempts, summed over its events.
struct Tally {
    symptom: Symptom,
    count: u32,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    /// The container's waiting message says this: it is the latest attempt's error.
    current: bool,
}

/// The attempts one event stands for and when the first and the last were.
fn attempts(e: &Event) -> (u32, Option<Timestamp>, Option<Timestamp>) {
    let series = e.series.as_ref();
    let count = series.and_then(|s| s.count).or(e.count).unwrap_or(1).max(1) as u32;
    let first = e
        .first_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let last = series
        .and_then(|s| s.last_observed_time.as_ref())
        .map(|t| t.0)
        .or_else(|| e.last_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or(first);
    (count, first, last)
}

/// True when the symptom names a cause or at least the clause it failed on; kubelet's
/// follow-ups (`Error: ErrImagePull`, `Back-off pulling image`) say neither.
fn informative(s: &Symptom) -> bool {
    s.cause != Cause::Unknown || s.detail.is_some()
}

/// How much a symptom says: a definite cause beats an ambiguous one beats `unknown`; then
/// the one that carries more facts.
fn weight(s: &Symptom) -> (u8, u8) {
    let definite = match s.cause {
        Cause::Unknown => 0,
        c if c.is_ambiguous() => 1,
        _ => 2,
    };
    let facts = [
        s.url.is_some(),
        s.status.is_some(),
        s.error_code.is_some(),
        s.cert_host.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count() as u8;
    (definite, facts)
}

/// Reads the container's pull history from the scene's events and its waiting state.
pub fn of(scene: &Scene, c: &PodContainer) -> History {
    let mine: Vec<&Event> = scene.events.iter().filter(|e| event_for(e, c)).collect();
    let mut tallies: Vec<Tally> = Vec::new();
    for e in mine.iter().filter(|e| is_pull_failure_event(e)) {
        let s = classify::classify(e.reason.as_deref(), e.message.as_deref().unwrap_or(""));
        let (count, first, last) = attempts(e);
        add(&mut tallies, s, count, first, last, false);
    }
    if let Some((reason, message)) = &c.waiting
        && is_pull_waiting_reason(reason)
    {
        let s = classify::classify(Some(reason), message.as_deref().unwrap_or(reason));
        // The waiting message repeats the latest event; it adds no attempt of its own unless
        // the events have expired.
        let known = tallies.iter().any(|t| t.symptom.cause == s.cause);
        add(&mut tallies, s, if known { 0 } else { 1 }, None, None, true);
    }
    if tallies.iter().any(|t| informative(&t.symptom)) {
        tallies.retain(|t| informative(&t.symptom));
    }
    let newest = tallies.iter().filter_map(|t| t.last).max();
    let pulled = pulled_after(&mine, newest);
    let recovered = !c.pull_failing() && (c.running || pulled.is_some());
    let recurring = |t: &Tally| {
        !recovered
            && (t.current
                || match (t.last, newest) {
                    (Some(l), Some(n)) => n.as_second() - l.as_second() <= RECURRING_WINDOW,
                    _ => true,
                })
    };
    let mut ranked: Vec<(bool, Tally)> = tallies.into_iter().map(|t| (recurring(&t), t)).collect();
    // Recurring first; among them the most frequent, then the most recent, then the most telling.
    ranked.sort_by(|(ra, a), (rb, b)| {
        rb.cmp(ra)
            .then(b.count.cmp(&a.count))
            .then(b.last.cmp(&a.last))
            .then(weight(&b.symptom).cmp(&weight(&a.symptom)))
    });
    let primary = ranked
        .first()
        .filter(|(r, _)| *r)
        .map(|(_, t)| t.symptom.clone());
    let failures = ranked
        .into_iter()
        .map(|(recurring, t)| seen(t, recurring))
        .collect();
    History {
        primary,
        failures,
        pulled: pulled.filter(|_| recovered).map(|(line, _)| line),
    }
}

/// Adds attempts to the tally of their cause; the latest (or more telling) message speaks for it.
fn add(
    tallies: &mut Vec<Tally>,
    symptom: Symptom,
    count: u32,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    current: bool,
) {
    match tallies
        .iter_mut()
        .find(|t| t.symptom.cause == symptom.cause)
    {
        Some(t) => {
            t.count += count;
            t.first = min_time(t.first, first);
            let newer = later(last, t.last);
            let (w, tw) = (weight(&symptom), weight(&t.symptom));
            if w > tw || (newer && w == tw) {
                t.symptom = symptom;
            }
            if newer {
                t.last = last;
            }
            t.current |= current;
        }
        None => tallies.push(Tally {
            symptom,
            count,
            first,
            last,
            current,
        }),
    }
}

/// kubelet's `Pulled` event (a pull that worked, not "already present") no older than `newest`.
fn pulled_after(events: &[&Event], newest: Option<Timestamp>) -> Option<(String, Timestamp)> {
    events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("Pulled"))
        .filter(|e| {
            !e.message
                .as_deref()
                .unwrap_or("")
                .contains("already present")
        })
        .filter_map(|e| {
            let (_, _, last) = attempts(e);
            let at = last?;
            newest.is_none_or(|n| at >= n).then(|| {
                (
                    format!("{} ({at})", e.message.as_deref().unwrap_or("Pulled")),
                    at,
                )
            })
        })
        .max_by_key(|(_, at)| *at)
}

fn min_time(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<Timestamp> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn later(a: Option<Timestamp>, b: Option<Timestamp>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a > b,
        (Some(_), None) => true,
        _ => false,
    }
}

/// The tally as the report shows it.
fn seen(t: Tally, recurring: bool) -> FailureSeen {
    let attempts = if t.count == 1 {
        "1 attempt".to_string()
    } else {
        format!("{} attempts", t.count)
    };
    let when = match (t.first, t.last) {
        (Some(f), Some(l)) if t.count > 1 && l > f => {
            format!(
                "{attempts} in {}, last {l}",
                span(l.as_second() - f.as_second())
            )
        }
        (_, Some(l)) => format!("{attempts}, last {l}"),
        _ => attempts,
    };
    FailureSeen {
        cause: t.symptom.cause,
        reason: t.symptom.reason.clone(),
        count: t.count.max(1),
        first_seen: t.first.map(|f| f.to_string()),
        last_seen: t.last.map(|l| l.to_string()),
        seen: when,
        recurring,
        detail: t.symptom.detail.clone(),
        message: t.symptom.message.clone(),
    }
}

/// A duration as people say it: `45s`, `3m`, `2h5m`, `3d`.
fn span(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => match (s / 3600, (s % 3600) / 60) {
            (h, 0) => format!("{h}h"),
            (h, m) => format!("{h}h{m}m"),
        },
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::span;

    #[test]
    fn spans_read_as_people_say_them() {
        assert_eq!(span(45), "45s");
        assert_eq!(span(180), "3m");
        assert_eq!(span(7500), "2h5m");
        assert_eq!(span(3 * 86_400 + 5), "3d");
    }
}
