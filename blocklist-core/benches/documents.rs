//! Decode + verify throughput of a 100k-operation delta, and its encoded size
//! against the raw identifier bytes. `cargo bench -p blocklist-core --bench documents`
//! (`BLOCKLIST_BENCH_OPS` sets the operation count).

use std::time::{Duration, Instant};

use blocklist_core::document::{Delta, Document, ListState, Op, Version};

#[allow(
    dead_code,
    reason = "shared with the benches that trace agencies' listings"
)]
mod support;
use support::{env_count, realistic_entries, Signing};

fn main() {
    let ops = env_count("BLOCKLIST_BENCH_OPS", 100_000);
    let Signing {
        key,
        list,
        verifier,
        now,
    } = Signing::new();

    let entries = realistic_entries(ops, now, 1);
    let ops = entries.len();
    let raw_bytes: usize = entries.iter().map(|e| e.id.as_str().len()).sum();
    let state = ListState::of(&entries);
    let delta = Delta {
        list,
        version: Version::FIRST,
        created_at: now,
        ops: entries.into_iter().map(Op::Add).collect(),
        state,
        submissions: vec![],
        overrides: vec![],
        extensions: vec![],
    };
    let started = Instant::now();
    let bytes = delta.sign(&[&key]).expect("sign delta");
    let encode = started.elapsed();

    let mut runs: Vec<Duration> = (0..7)
        .map(|_| {
            let started = Instant::now();
            let verified = verifier.delta(&bytes, None).expect("verify");
            assert_eq!(verified.ops.len(), ops);
            started.elapsed()
        })
        .collect();
    runs.sort();
    let median = runs[runs.len() / 2];

    println!("delta of {ops} add operations (40% numbers, 30% accounts, 30% domains)");
    println!("  encode + sign:     {:>10.1} ms", ms(encode));
    println!(
        "  decode + verify:   {:>10.1} ms median of {}  = {:.0} ops/s",
        ms(median),
        runs.len(),
        ops as f64 / median.as_secs_f64()
    );
    println!(
        "  encoded size:      {} bytes = {:.2} bytes/op; raw identifiers {:.2} bytes/op; ratio {:.3}",
        bytes.len(),
        bytes.len() as f64 / ops as f64,
        raw_bytes as f64 / ops as f64,
        bytes.len() as f64 / raw_bytes as f64
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
