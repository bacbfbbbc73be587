//! The replica at scale: bootstrap from a snapshot of N entries (default 10M)
//! with progress, then a 100k-operation delta on top; each apply includes
//! publishing the lookup index.
//! `cargo bench -p blocklist-core --bench store` (`BLOCKLIST_BENCH_ENTRIES` sets N).

use std::time::Instant;

use blocklist_core::document::*;
use blocklist_core::replica::Replica;
use blocklist_core::*;

#[allow(
    dead_code,
    reason = "shared with the benches that trace agencies' listings"
)]
mod support;
use support::{env_count, realistic_entries, Signing};

fn main() {
    let n = env_count("BLOCKLIST_BENCH_ENTRIES", 10_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let Signing {
        key,
        list,
        verifier,
        now,
    } = Signing::new();

    let started = Instant::now();
    let entries = realistic_entries(n, now, 1);
    let state = ListState::of(&entries);
    let snapshot = Snapshot {
        list: list.clone(),
        version: Version::FIRST,
        created_at: now,
        entries,
        state,
        sequences: Default::default(),
        overrides: vec![],
        origins: vec![],
        extensions: vec![],
    };
    let bytes = snapshot.sign(&[&key]).expect("sign snapshot");
    let n = snapshot.entries.len();
    println!(
        "snapshot of {n} entries: {} bytes, made in {:.1} s",
        bytes.len(),
        started.elapsed().as_secs_f64()
    );

    let file = dir.path().join("snapshot");
    std::fs::write(&file, &bytes).expect("write snapshot");
    drop(bytes);
    let started = Instant::now();
    let verified = verifier
        .snapshot_file(std::fs::File::open(&file).expect("open snapshot"), None)
        .expect("verify snapshot");
    let verify_s = started.elapsed().as_secs_f64();
    println!(
        "  verify the file (envelope, signature; entries are checked as they apply): {verify_s:>7.1} s"
    );

    let mut replica = Replica::open(dir.path(), "bench").expect("open replica");
    let started = Instant::now();
    replica
        .apply_snapshot(&verified, "bench", &mut |p| {
            if p.done % 1_000_000 == 0 || p.done == p.total {
                println!(
                    "    {:>9} / {} entries, {:.0} entries/s",
                    p.done,
                    p.total,
                    p.rate()
                );
            }
        })
        .expect("apply snapshot");
    let apply_s = started.elapsed().as_secs_f64();
    println!(
        "  decode + apply + index:    {apply_s:>7.1} s = {:.0} entries/s",
        n as f64 / apply_s
    );
    drop(verified);

    // 100k operations: 80k adds, 10k updates, 10k removes.
    let listed: std::collections::HashSet<&Identifier> =
        snapshot.entries.iter().map(|e| &e.id).collect();
    let adds: Vec<Entry> = realistic_entries(120_000, now, 2)
        .into_iter()
        .filter(|e| !listed.contains(&e.id))
        .take(80_000)
        .collect();
    let mut state = StateAccumulator::of(&snapshot.entries);
    let mut ops = Vec::with_capacity(100_000);
    for e in adds {
        state.add(&e);
        ops.push(Op::Add(e));
    }
    for (i, e) in snapshot.entries.iter().take(20_000).enumerate() {
        state.remove(e);
        if i % 2 == 0 {
            let mut changed = e.clone();
            changed.meta.expires_at = Some(now.plus(86_400));
            state.add(&changed);
            ops.push(Op::Update(changed));
        } else {
            ops.push(Op::Remove(e.id.clone(), None));
        }
    }
    let ops_n = ops.len();
    let delta = Delta {
        list,
        version: Version::new(2).expect("2"),
        created_at: now,
        ops,
        state: state.state(Commitment::CURRENT),
        submissions: vec![],
        overrides: vec![],
        extensions: vec![],
    };
    let bytes = delta.sign(&[&key]).expect("sign delta");
    let started = Instant::now();
    let verified = verifier
        .delta(&bytes, Version::new(1))
        .expect("verify delta");
    let verify_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    replica
        .apply_delta(&verified, "bench")
        .expect("apply delta");
    let apply_s = started.elapsed().as_secs_f64();
    println!(
        "delta of {ops_n} operations on {n} entries: verify {:.0} ms, apply + index update {:.0} ms",
        verify_s * 1e3,
        apply_s * 1e3
    );
}
