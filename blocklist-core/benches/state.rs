//! The state commitment's cost per change, the LtHash of format 3 beside
//! the lane sum of formats 1 and 2 (the baseline, measured in the same
//! run), and the cost of the 10 million additions a bootstrap of a
//! 10M-entry list makes. `cargo bench -p blocklist-core --bench state`
//! (`BLOCKLIST_BENCH_ENTRIES` sets the bootstrap's count).

use std::hint::black_box;
use std::time::Instant;

use blocklist_core::{LaneSum, LtHash16, StateAccumulator, Timestamp};
use criterion::{criterion_group, Criterion};

#[allow(dead_code, reason = "shared with the benches that sign documents")]
mod support;
use support::{env_count, realistic_entries};

/// Entries the per-change benchmarks cycle through (distinct, so no cache
/// of a recent entry's hash helps).
const CYCLE: usize = 4096;

fn per_change(c: &mut Criterion) {
    let entries = realistic_entries(CYCLE, Timestamp(1_760_000_000), 1);
    let mut group = c.benchmark_group("state change");
    let mut i = 0;
    let mut next = || {
        i = (i + 1) % entries.len();
        &entries[i]
    };
    let mut lane_sum = LaneSum::default();
    group.bench_function("add: lane sum (formats 1-2, baseline)", |b| {
        b.iter(|| lane_sum.add(black_box(next())))
    });
    let mut lthash = LtHash16::default();
    group.bench_function("add: lthash16 (format 3)", |b| {
        b.iter(|| lthash.add(black_box(next())))
    });
    let mut both = StateAccumulator::default();
    group.bench_function("add: both, as stores keep them", |b| {
        b.iter(|| both.add(black_box(next())))
    });
    // An update takes the old form out and puts the new one in.
    group.bench_function("update: both, as stores keep them", |b| {
        b.iter(|| {
            let entry = black_box(next());
            both.remove(entry);
            both.add(entry);
        })
    });
    group.bench_function("digest of the 2048-byte state", |b| {
        b.iter(|| black_box(&lthash).digest())
    });
    group.finish();
}

criterion_group!(benches, per_change);

/// The commitments a bootstrap computes: one addition per entry, on one
/// thread, timed once (seconds, not nanoseconds: criterion's repetitions
/// would take minutes). 1M distinct entries, added again until the count.
fn bootstrap() {
    let total = env_count("BLOCKLIST_BENCH_ENTRIES", 10_000_000);
    let entries = realistic_entries(total.min(1_000_000), Timestamp(1_760_000_000), 2);
    let passes = total.div_ceil(entries.len());
    let time = |add: &mut dyn FnMut(&blocklist_core::Entry)| {
        let started = Instant::now();
        for _ in 0..passes {
            entries.iter().for_each(&mut *add);
        }
        started.elapsed().as_secs_f64()
    };
    let added = passes * entries.len();
    let mut lane_sum = LaneSum::default();
    let lane_sum_s = time(&mut |e| lane_sum.add(e));
    let mut lthash = LtHash16::default();
    let lthash_s = time(&mut |e| lthash.add(e));
    let mut both = StateAccumulator::default();
    let both_s = time(&mut |e| both.add(e));
    black_box((lane_sum.digest(), lthash.digest(), both.lthash().digest()));
    println!("state of {added} entries, one thread:");
    for (what, s) in [
        ("lane sum (formats 1-2, baseline)", lane_sum_s),
        ("lthash16 (format 3)", lthash_s),
        ("both, as stores keep them", both_s),
    ] {
        println!(
            "  {what:<34} {s:>7.2} s = {:>6.0} ns/entry",
            s * 1e9 / added as f64
        );
    }
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    bootstrap();
}
