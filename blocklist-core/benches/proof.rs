//! What proofs for people cost: appending records to the transparency log
//! (10M of them, beyond any real log: one record per published file), and
//! the proof bundle of one number listed, updated and removed by override
//! in a log of 100k versions, its size (carried deltas, inclusion proofs,
//! the rest), and the time to prove it from the log's leaves and to verify
//! it. `cargo bench -p blocklist-core --bench proof`
//! (`BLOCKLIST_BENCH_VERSIONS`, `BLOCKLIST_BENCH_OPS` for the operations of
//! each carried delta, `BLOCKLIST_BENCH_RECORDS` for the append).

use std::time::{Duration, Instant};

use blocklist_core::log::tree::inclusion_proof;
use blocklist_core::log::TiledLog;
use blocklist_core::proof::verify_bundle;

// Only its `env_count` is used here: the rest is the other benches' fixtures.
#[allow(dead_code)]
mod support;
use support::env_count;

#[path = "support/history.rs"]
mod history;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let records = env_count("BLOCKLIST_BENCH_RECORDS", 10_000_000) as u64;
    let versions = env_count("BLOCKLIST_BENCH_VERSIONS", 100_000) as u64;
    let ops = env_count("BLOCKLIST_BENCH_OPS", 100);

    // The log: the centre appends one record per published file and writes
    // the tiles each append fills.
    let mut log = TiledLog::default();
    let mut tile_bytes = 0usize;
    let hex = "ab".repeat(32);
    let started = Instant::now();
    for v in 1..=records {
        let record = format!("delta {v} {hex} 4096\n").into_bytes();
        tile_bytes += log
            .append(record)
            .iter()
            .map(|(_, b)| b.len())
            .sum::<usize>();
    }
    let append = started.elapsed();
    println!("log of {records} records (delta records of the longest common form)");
    println!(
        "  append + full tiles: {:>10.1} ms = {:.2} us per record; {:.1} MB of tiles",
        ms(append),
        append.as_secs_f64() * 1e6 / records as f64,
        tile_bytes as f64 / 1e6
    );
    let leaves = 64 - records.leading_zeros();
    println!(
        "  inclusion proof at this size: {leaves} hashes = {} bytes",
        32 * leaves
    );

    let started = Instant::now();
    let h = history::history(versions, ops);
    let built = started.elapsed();
    let bytes = h.bundle.to_bytes();
    let deltas: usize = h.bundle.deltas.iter().map(|d| d.file.len()).sum();
    let paths: Vec<usize> = h
        .bundle
        .roots
        .iter()
        .chain(&h.bundle.registries)
        .chain(&h.bundle.deltas)
        .map(|f| f.path.len())
        .chain([h.bundle.at_record.path.len()])
        .collect();
    let proofs = 32 * paths.iter().sum::<usize>();
    let signed_rest: usize = h
        .bundle
        .roots
        .iter()
        .chain(&h.bundle.registries)
        .map(|f| f.file.len())
        .sum();
    println!(
        "bundle of one number (listed at {}, updated at {}, removed by override at {}) in a log of {} entries ({versions} versions), {ops} operations per agency delta",
        h.changed[0], h.changed[1], h.changed[2], h.leaves.len()
    );
    println!(
        "  size: {} bytes = deltas {deltas} ({} carried) + inclusion proofs {proofs} ({} proofs of {} to {} hashes) + root and registry {signed_rest} + checkpoint {} + framing {}",
        bytes.len(),
        h.bundle.deltas.len(),
        paths.len(),
        paths.iter().min().expect("a proof"),
        paths.iter().max().expect("a proof"),
        h.bundle.checkpoint.len(),
        bytes.len() - deltas - proofs - signed_rest - h.bundle.checkpoint.len()
    );
    println!("  (built with its signatures in {:.0} ms)", ms(built));

    // Proving: an inclusion proof per carried file from the log's leaves,
    // then the encoding.
    let mut runs: Vec<Duration> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let mut bundle = h.bundle.clone();
            for file in bundle
                .roots
                .iter_mut()
                .chain(&mut bundle.registries)
                .chain(&mut bundle.deltas)
            {
                file.path = inclusion_proof(file.index, &h.leaves).expect("in the log");
            }
            bundle.at_record.path =
                inclusion_proof(bundle.at_record.index, &h.leaves).expect("in the log");
            assert_eq!(bundle.to_bytes(), bytes);
            started.elapsed()
        })
        .collect();
    runs.sort();
    println!(
        "  prove (proofs from {} leaves, encode): {:>8.1} ms median of {}",
        h.leaves.len(),
        ms(runs[runs.len() / 2]),
        runs.len()
    );

    let mut runs: Vec<Duration> = (0..7)
        .map(|_| {
            let started = Instant::now();
            let history = verify_bundle(&bytes, &h.root).expect("verifies");
            assert_eq!(history.events.len(), 3);
            started.elapsed()
        })
        .collect();
    runs.sort();
    println!(
        "  verify: {:>8.1} ms median of {}",
        ms(runs[runs.len() / 2]),
        runs.len()
    );
}
