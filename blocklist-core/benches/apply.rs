//! What a delta costs a replica of N entries (default 10M): time and bytes
//! written (`/proc/self/io` `write_bytes`, the store and the index together)
//! for one-change deltas, a 10k-change run, the background merge they
//! trigger, and a 100k-change delta; beside, measured in the same run, what
//! the same one change cost when each version rewrote the whole index; and
//! 100k additions an agency signed for (carried in the delta, verified and
//! judged, docs/FORMAT.md W1-W6) beside 100k under a label.
//! `cargo bench -p blocklist-core --bench apply` (`BLOCKLIST_BENCH_ENTRIES`
//! sets N).

use std::time::Instant;

use blocklist_core::document::*;
use blocklist_core::index::LookupIndex;
use blocklist_core::replica::Replica;
use blocklist_core::verify::{Verified, Verifier};
use blocklist_core::*;

mod support;
use support::{env_count, listing_requests, realistic_entries, written, Signing};

/// Signs deltas on top of a list state it tracks.
struct Centre {
    key: SecretKey,
    list: ListId,
    verifier: Verifier,
    state: StateAccumulator,
    version: u64,
    now: Timestamp,
}

impl Centre {
    fn delta(&mut self, ops: Vec<Op>, removed: &[Entry]) -> Verified<Delta> {
        self.delta_carrying(ops, removed, vec![]).0
    }

    /// The next delta, carrying agencies' `submissions`: verified, its size
    /// in bytes, and the milliseconds its verification took.
    fn delta_carrying(
        &mut self,
        ops: Vec<Op>,
        removed: &[Entry],
        submissions: Vec<CarriedSubmission>,
    ) -> (Verified<Delta>, usize, f64) {
        // The state drops the old form of each updated or removed entry.
        removed.iter().for_each(|e| self.state.remove(e));
        for op in &ops {
            if let Op::Add(e) | Op::Update(e) = op {
                self.state.add(e);
            }
        }
        self.version += 1;
        let delta = Delta {
            list: self.list.clone(),
            version: Version::new(self.version).expect("non-zero"),
            created_at: self.now,
            ops,
            state: self.state.state(Commitment::CURRENT),
            submissions,
            overrides: vec![],
            extensions: vec![],
        };
        let bytes = delta.sign(&[&self.key]).expect("sign delta");
        let t = Instant::now();
        let verified = self
            .verifier
            .delta(&bytes, Version::new(self.version - 1))
            .expect("verify delta");
        (verified, bytes.len(), t.elapsed().as_secs_f64() * 1e3)
    }
}

/// Applies `delta`, returning milliseconds and bytes written.
fn apply(replica: &mut Replica, delta: &Verified<Delta>) -> (f64, u64) {
    let (bytes, t) = (written(), Instant::now());
    replica.apply_delta(delta, "bench").expect("apply delta");
    (t.elapsed().as_secs_f64() * 1e3, written() - bytes)
}

/// Returns once every page committed to the store at `db` is copied from
/// its WAL into the database file: by the store's checkpoint thread, or by
/// this call when that thread is not at it.
fn wait_for_checkpoint(db: &std::path::Path) {
    let conn = rusqlite::Connection::open(db).expect("open store");
    // A first read opens the WAL: until then a checkpoint reports -1 frames.
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(()))
        .expect("read store");
    loop {
        match conn.wal_checkpoint_v2(None::<&str>, rusqlite::wal::CheckpointMode::PASSIVE) {
            Ok((log, copied)) if log >= 0 && copied >= log => return,
            // Another checkpoint is running, or a reader holds older pages.
            _ => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_unstable_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "apply benchmark: skipped (run with `cargo bench -p blocklist-core --bench apply`)"
        );
        return;
    }
    let n = env_count("BLOCKLIST_BENCH_ENTRIES", 10_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let Signing {
        key,
        list,
        verifier,
        now,
    } = Signing::new();

    let entries = realistic_entries(n, now, 1);
    let held = StateAccumulator::of(&entries);
    let state = held.state(Commitment::CURRENT);
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
    let file = dir.path().join("snapshot");
    std::fs::write(&file, snapshot.sign(&[&key]).expect("sign snapshot")).expect("write snapshot");
    let verified = verifier
        .snapshot_file(std::fs::File::open(&file).expect("open snapshot"), None)
        .expect("verify snapshot");
    let mut replica = Replica::open(&dir.path().join("data"), "bench").expect("open replica");
    let t = Instant::now();
    replica
        .apply_snapshot(&verified, "bench", &mut |_| {})
        .expect("apply snapshot");
    drop(verified);
    let _ = std::fs::remove_file(&file);
    let listed = snapshot.entries.clone();
    let bootstrap = t.elapsed().as_secs_f64();
    println!("replica of {n} entries bootstrapped in {bootstrap:.1} s");
    let mut centre = Centre {
        key,
        list,
        verifier,
        state: held,
        version: 1,
        now,
    };
    drop(snapshot);
    let fresh = realistic_entries(400_000, now, 7);
    let listed_ids: std::collections::HashSet<&Identifier> = listed.iter().map(|e| &e.id).collect();
    let mut fresh = fresh.into_iter().filter(|e| !listed_ids.contains(&e.id));

    // The same one change as a whole-index rewrite: what every delta cost
    // before overlays (the base is the whole list: adding to it rewrites it).
    let base = LookupIndex::open(replica.index_path()).expect("open index");
    let one = fresh.next().expect("a new entry");
    let mut rewrite = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let (bytes, t) = (written(), Instant::now());
        base.write_updated(
            &dir.path().join("rewritten.idx"),
            9,
            [9; 32],
            now,
            std::iter::empty::<(Kind, &str)>(),
            [(one.id.kind(), one.id.as_str(), &one.meta)],
        )
        .expect("rewrite");
        rewrite.0.push(t.elapsed().as_secs_f64() * 1e3);
        rewrite.1.push((written() - bytes) as f64);
    }
    drop(base);
    let _ = std::fs::remove_file(dir.path().join("rewritten.idx"));

    // One-change deltas: adds, then removes of what was added.
    let mut single = (Vec::new(), Vec::new());
    let mut added = Vec::new();
    for i in 0..20 {
        let delta = if i % 2 == 0 {
            let e = fresh.next().expect("a new entry");
            added.push(e.clone());
            centre.delta(vec![Op::Add(e)], &[])
        } else {
            let e = added.pop().expect("added before");
            centre.delta(vec![Op::Remove(e.id.clone(), None)], &[e])
        };
        let (ms, bytes) = apply(&mut replica, &delta);
        single.0.push(ms);
        single.1.push(bytes as f64);
    }
    let max_bytes = single.1.iter().copied().fold(0.0, f64::max);
    println!(
        "one-change delta: median {:.1} ms, {:.0} kB written (max {:.0} kB)   [<= 1 MB]",
        median(single.0.clone()),
        median(single.1.clone()) / 1e3,
        max_bytes / 1e3
    );
    println!(
        "  same change as a whole-index rewrite (before overlays): {:.1} ms, {:.1} MB written   ratio {:.0}x bytes",
        median(rewrite.0.clone()),
        median(rewrite.1.clone()) / 1e6,
        median(rewrite.1) / median(single.1)
    );

    // 10k changes in deltas of 1 000: the overlay grows to its merge bound.
    let (bytes, t) = (written(), Instant::now());
    let mut last = (0.0, 0);
    for _ in 0..10 {
        let ops: Vec<Op> = fresh.by_ref().take(1_000).map(Op::Add).collect();
        last = apply(&mut replica, &centre.delta(ops, &[]));
    }
    println!(
        "10 deltas of 1 000 additions: {:.0} ms, {:.1} MB written in all; the last {:.0} ms, {:.0} kB; merging: {}",
        t.elapsed().as_secs_f64() * 1e3,
        (written() - bytes) as f64 / 1e6,
        last.0,
        last.1 as f64 / 1e3,
        replica.merging()
    );
    let (bytes, t) = (written(), Instant::now());
    replica.wait_for_merge();
    println!(
        "  background merge into a new base: ended {:.0} ms after that, {:.1} MB written meanwhile",
        t.elapsed().as_secs_f64() * 1e3,
        (written() - bytes) as f64 / 1e6
    );
    let e = fresh.next().expect("a new entry");
    let (ms, bytes) = apply(&mut replica, &centre.delta(vec![Op::Add(e)], &[]));
    println!(
        "  the delta that publishes the merged base: {ms:.1} ms, {:.0} kB written",
        bytes as f64 / 1e3
    );

    // 100k changes at once: 80k additions, 10k updates, 10k removals.
    let mut ops: Vec<Op> = fresh.by_ref().take(80_000).map(Op::Add).collect();
    let mut dropped = Vec::new();
    for (i, e) in listed.iter().take(20_000).enumerate() {
        dropped.push(e.clone());
        if i % 2 == 0 {
            let mut changed = e.clone();
            changed.meta.expires_at = Some(now.plus(86_400));
            ops.push(Op::Update(changed));
        } else {
            ops.push(Op::Remove(e.id.clone(), None));
        }
    }
    let ops_n = ops.len();
    let delta = centre.delta(ops, &dropped);
    let (ms, bytes) = apply(&mut replica, &delta);
    println!(
        "delta of {ops_n} changes: {:.2} s applied, index included, {:.1} MB written   [<= 2 s]",
        ms / 1e3,
        bytes as f64 / 1e6
    );
    let (bytes, t) = (written(), Instant::now());
    wait_for_checkpoint(replica.store().path());
    println!(
        "  its pages checkpointed into the database file (in the background): {:.0} ms later, {:.1} MB written meanwhile (the index merge's included)",
        t.elapsed().as_secs_f64() * 1e3,
        (written() - bytes) as f64 / 1e6
    );
    // Its changes sit in the overlay until the merge it started is published.
    let mut one_change = |replica: &mut Replica, label: &str| {
        let e = fresh.next().expect("a new entry");
        let (ms, bytes) = apply(replica, &centre.delta(vec![Op::Add(e)], &[]));
        println!(
            "  {label}: {ms:.1} ms, {:.0} kB written",
            bytes as f64 / 1e3
        );
    };
    one_change(&mut replica, "a one-change delta while that merge runs");
    let t = Instant::now();
    replica.wait_for_merge();
    println!(
        "  its merge ended {:.0} ms later",
        t.elapsed().as_secs_f64() * 1e3
    );
    one_change(
        &mut replica,
        "the one-change delta that publishes the merged base",
    );
    one_change(&mut replica, "the next one-change delta");

    // 100k additions asked for by an agency's signed submission, which the
    // replica verifies and judges (docs/FORMAT.md W1-W6), beside 100k
    // additions under a label, in the same run.
    let label: Vec<Op> = fresh.by_ref().take(100_000).map(Op::Add).collect();
    let (delta, size, verify_ms) = centre.delta_carrying(label, &[], vec![]);
    let (ms, bytes) = apply(&mut replica, &delta);
    println!(
        "100k additions under a label: verified in {:.0} ms, {:.2} s applied, {:.1} MB written, delta {:.2} MB",
        verify_ms,
        ms / 1e3,
        bytes as f64 / 1e6,
        size as f64 / 1e6
    );
    // Its merge published by a one-change delta, so both start alike.
    replica.wait_for_merge();
    let e = fresh.next().expect("a new entry");
    apply(&mut replica, &centre.delta(vec![Op::Add(e)], &[]));
    let (ops, carried) = agency_asks(&mut centre, fresh.by_ref().take(100_000).collect());
    let (delta, size, verify_ms) = centre.delta_carrying(ops, &[], vec![carried]);
    let (ms, bytes) = apply(&mut replica, &delta);
    println!(
        "100k additions an agency signed for, carried and judged: verified in {:.0} ms, {:.2} s applied, {:.1} MB written, delta {:.2} MB",
        verify_ms,
        ms / 1e3,
        bytes as f64 / 1e6,
        size as f64 / 1e6
    );

    // A replica that starts from a snapshot of this one traces those 100k
    // listings to the submission they come from (W8), beside the bootstrap
    // of a list under labels alone above.
    let whole = replica.store().read_whole().expect("read the replica");
    let traced = Snapshot {
        list: centre.list.clone(),
        version: Version::new(centre.version).expect("a version"),
        created_at: centre.now,
        state: whole.state.state,
        entries: whole.entries,
        sequences: whole.sequences,
        overrides: whole.overrides,
        origins: whole.origins,
        extensions: vec![],
    };
    let entries = traced.state.entries;
    std::fs::write(&file, traced.sign(&[&centre.key]).expect("sign snapshot"))
        .expect("write snapshot");
    drop(traced);
    let verified = centre
        .verifier
        .snapshot_file(std::fs::File::open(&file).expect("open snapshot"), None)
        .expect("verify snapshot");
    let mut fresh = Replica::open(&dir.path().join("traced"), "bench").expect("open replica");
    let t = Instant::now();
    fresh
        .apply_snapshot(&verified, "bench", &mut |_| {})
        .expect("apply snapshot");
    println!(
        "bootstrap from a snapshot of {entries} entries, 100k of them traced to their agency's submission (W8): {:.1} s (the bootstrap of {n} under labels above: {bootstrap:.1} s)",
        t.elapsed().as_secs_f64()
    );
}

/// Registers agency `bench-agency` (every kind) with `centre`'s verifier and
/// has it sign a submission listing `entries`: the delta's operations, and
/// the submission as a delta carries it.
fn agency_asks(centre: &mut Centre, entries: Vec<Entry>) -> (Vec<Op>, CarriedSubmission) {
    let agency = Agency::new("bench-agency").expect("agency id");
    let key = SecretKey::generate().expect("randomness");
    let registered = AgencyEntry::new(
        agency.clone(),
        "Bench agency",
        vec![Kind::Account, Kind::Number, Kind::Domain],
        vec![key.public_key()],
    )
    .expect("agency");
    let registry = Registry::new(
        centre.list.clone(),
        Version::FIRST,
        centre.now,
        vec![registered],
        vec![],
    )
    .expect("registry");
    centre
        .verifier
        .accept_registry(&registry.sign(&[&centre.key]).expect("sign registry"))
        .expect("accept registry");
    let submission = Submission {
        list: centre.list.clone(),
        agency: agency.clone(),
        sequence: std::num::NonZeroU64::MIN,
        created_at: centre.now,
        urgent: false,
        ops: listing_requests(&entries),
        extensions: vec![],
    };
    let ops = entries
        .into_iter()
        .map(|e| {
            Op::Add(Entry {
                id: e.id,
                meta: EntryMeta {
                    reason: e.meta.reason,
                    agency: agency.clone(),
                    listed_at: centre.now,
                    expires_at: None,
                },
            })
        })
        .collect();
    let carried = CarriedSubmission {
        accepted_at: centre.now,
        file: submission.sign(&[&key]).expect("sign submission"),
    };
    (ops, carried)
}
