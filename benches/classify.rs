//! How fast the classifier reads real messages: the whole corpus of `fixtures/messages/`, and the
//! pasted describe/events files. Criterion reports elements per second; the corpus run also
//! prints a plain messages-per-second figure measured on one core.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pulldoctor::classify::{classify, symptoms_from_text};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/messages")
}

/// (reason, message) pairs of the corpus.
fn corpus() -> Vec<(Option<String>, String)> {
    let text = std::fs::read_to_string(fixtures().join("corpus.jsonl")).expect("corpus present");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("corpus line parses");
            let reason = v["reason"].as_str().map(str::to_string);
            (
                reason,
                v["message"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let messages = corpus();
    let n = messages.len() as u64;

    // A plain figure first: many passes over the corpus on this thread. Wall time counts the
    // time other processes held the core; the thread's own CPU time (Linux schedstat) does not,
    // so both are printed.
    let passes = 2_000;
    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    for _ in 0..passes {
        for (reason, message) in &messages {
            black_box(classify(reason.as_deref(), black_box(message)));
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let total = (n * passes) as f64;
    println!(
        "classify: {:.0} messages/s wall clock ({n} messages x {passes} passes in {secs:.2}s)",
        total / secs
    );
    if let (Some(a), Some(b)) = (cpu_start, thread_cpu_ns()) {
        let cpu = (b - a) as f64 / 1e9;
        println!(
            "classify: {:.0} messages/s of one core's CPU time ({cpu:.2}s on CPU, {:.2} µs/message)",
            total / cpu,
            cpu * 1e6 / total
        );
    }

    let mut group = c.benchmark_group("classify");
    group.throughput(Throughput::Elements(n));
    group.bench_function("corpus", |b| {
        b.iter(|| {
            for (reason, message) in &messages {
                black_box(classify(reason.as_deref(), black_box(message)));
            }
        })
    });
    let texts: Vec<String> = ["describe", "events"]
        .iter()
        .flat_map(|d| std::fs::read_dir(fixtures().join(d)).expect("fixture dir"))
        .map(|e| std::fs::read_to_string(e.expect("dir entry").path()).expect("fixture file"))
        .collect();
    group.throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function("pasted_texts", |b| {
        b.iter(|| {
            for t in &texts {
                black_box(symptoms_from_text(black_box(t)));
            }
        })
    });
    group.finish();
}

/// This thread's time on a CPU so far, in nanoseconds (first field of Linux's schedstat).
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

criterion_group!(benches, bench);
criterion_main!(benches);
