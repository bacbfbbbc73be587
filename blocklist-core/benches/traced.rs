//! What a replica's bootstrap costs when every listing of the snapshot was
//! made by an agency's signed submission and must be traced to it
//! (docs/FORMAT.md W8), beside the bootstrap of the same entries under a
//! label, in the same run: wall time and peak resident memory, each
//! bootstrap in a process of its own so that the peaks do not mix.
//! `BLOCKLIST_BENCH_TRACED=1000000 cargo bench -p blocklist-core --bench
//! traced` (default 100,000 listings, from submissions of 100,000
//! operations each, as the deltas that carried them did).
//! `BLOCKLIST_BENCH_KEEP=1` keeps the snapshots and prints where, so that
//! another build's bench bootstraps the same files (run it with
//! `BLOCKLIST_BENCH_TRACED_CHILD` set to the directory, a newline, and
//! `traced.snapshot` or `labels.snapshot`): a 10M list takes minutes to
//! write.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use blocklist_core::document::*;
use blocklist_core::replica::Replica;
use blocklist_core::verify::Verifier;
use blocklist_core::*;

#[allow(dead_code, reason = "shared with the benches that sign documents")]
mod support;
use support::{env_count, listing_requests, realistic_entries, written};

/// Operations per submission, as one big delta carries them.
const OPS_PER_SUBMISSION: usize = 100_000;

/// Set in the process that bootstraps one snapshot: the bench's directory
/// and the snapshot's file name in it.
const CHILD: &str = "BLOCKLIST_BENCH_TRACED_CHILD";

fn main() {
    if let Ok(job) = std::env::var(CHILD) {
        let (dir, name) = job.split_once('\n').expect("dir and file");
        bootstrap(Path::new(dir), name);
        return;
    }
    let n = env_count("BLOCKLIST_BENCH_TRACED", 100_000);
    let dir = tempfile::tempdir_in(std::env::var_os("BLOCKLIST_BENCH_DIR").unwrap_or(".".into()))
        .expect("temporary directory");
    let t = Instant::now();
    write_snapshots(dir.path(), n);
    println!(
        "{n} entries, as a label list and as agencies' listings with {} submissions: written in {:.1} s",
        n.div_ceil(OPS_PER_SUBMISSION),
        t.elapsed().as_secs_f64()
    );
    for name in ["labels.snapshot", "traced.snapshot"] {
        let exe = std::env::current_exe().expect("this bench");
        let job = format!("{}\n{name}", dir.path().display());
        let status = Command::new(exe)
            .env(CHILD, job)
            .status()
            .expect("run the bootstrap");
        assert!(status.success(), "the bootstrap of {name} failed");
    }
    if std::env::var_os("BLOCKLIST_BENCH_KEEP").is_some() {
        println!("snapshots kept in {}", dir.keep().display());
    }
}

/// Writes the trust root, the agency registry, and two snapshots of the
/// same `n` identifiers: under a label, and all listed by a registered
/// agency, carrying the submissions that asked for them.
fn write_snapshots(dir: &Path, n: usize) {
    let key = SecretKey::from_seed(&[7; 32]);
    let agency_key = SecretKey::from_seed(&[8; 32]);
    let list = ListId::new("bench").expect("list id");
    let now = Timestamp::now();
    let root = TrustRoot::single_key(list.clone(), &key, now, now.plus(86_400));
    std::fs::write(dir.join("root"), root.sign(&[&key]).expect("sign root")).expect("write");
    let agency = Agency::new("bench-agency").expect("agency id");
    let registered = AgencyEntry::new(
        agency.clone(),
        "Bench agency",
        vec![Kind::Account, Kind::Number, Kind::Domain],
        vec![agency_key.public_key()],
    )
    .expect("agency");
    let registry = Registry::new(list.clone(), Version::FIRST, now, vec![registered], vec![])
        .expect("registry");
    std::fs::write(
        dir.join("registry"),
        registry.sign(&[&key]).expect("sign registry"),
    )
    .expect("write");

    let mut entries = realistic_entries(n, now, 1);
    let mut origins = Vec::new();
    for (i, chunk) in entries.chunks_mut(OPS_PER_SUBMISSION).enumerate() {
        let sequence = i as u64 + 1;
        let submission = Submission {
            list: list.clone(),
            agency: agency.clone(),
            sequence: std::num::NonZeroU64::new(sequence).expect("non-zero"),
            created_at: now,
            urgent: false,
            ops: listing_requests(chunk),
            extensions: vec![],
        };
        origins.push(Origin {
            version: Version::new(sequence).expect("non-zero"),
            submission: CarriedSubmission {
                accepted_at: now,
                file: submission.sign(&[&agency_key]).expect("sign submission"),
            },
        });
        for e in chunk {
            e.meta = EntryMeta {
                reason: e.meta.reason,
                agency: agency.clone(),
                listed_at: now,
                expires_at: None,
            };
        }
    }
    let submissions = origins.len() as u64;
    let mut snapshot = Snapshot {
        list,
        version: Version::new(submissions.max(1)).expect("non-zero"),
        created_at: now,
        state: ListState::of(&entries),
        entries,
        sequences: [(agency_key.public_key().id(), submissions)]
            .into_iter()
            .collect(),
        overrides: vec![],
        origins,
        extensions: vec![],
    };
    let sign = |s: &Snapshot| s.sign(&[&key]).expect("sign snapshot");
    std::fs::write(dir.join("traced.snapshot"), sign(&snapshot)).expect("write");
    let label = Agency::new("imported").expect("label");
    for e in &mut snapshot.entries {
        e.meta.agency = label.clone();
    }
    snapshot.state = ListState::of(&snapshot.entries);
    snapshot.origins.clear();
    snapshot.sequences.clear();
    std::fs::write(dir.join("labels.snapshot"), sign(&snapshot)).expect("write");
}

/// Bootstraps a replica from `dir/name` and prints its wall time, this
/// process's peak resident memory, and the bytes it wrote to disk (the
/// store, its journal or WAL and the checkpoint after, the sort's runs, the
/// index), which the load of the machine does not change.
fn bootstrap(dir: &Path, name: &str) {
    let read = |file: &str| std::fs::read(dir.join(file)).expect("read");
    let mut verifier = Verifier::pin(&read("root")).expect("pin");
    verifier
        .accept_registry(&read("registry"))
        .expect("accept registry");
    let before = kib("VmRSS:");
    let before_written = written();
    let file = std::fs::File::open(dir.join(name)).expect("open snapshot");
    let t = Instant::now();
    let verified = verifier.snapshot_file(file, None).expect("verify snapshot");
    let replica_dir: PathBuf = dir.join(name.replace(".snapshot", ".replica"));
    let mut replica = Replica::open(&replica_dir, "bench").expect("open replica");
    replica
        .apply_snapshot(&verified, "bench", &mut |_| {})
        .expect("apply snapshot");
    let took = t.elapsed();
    // Closing the store waits for its checkpoint, if any.
    drop(replica);
    println!(
        "bootstrap from {name} ({} entries, file of {} bytes): {:.2} s, peak RSS {} MB ({} MB before), wrote {} MB",
        verified.head().state.entries,
        std::fs::metadata(dir.join(name)).expect("size").len(),
        took.as_secs_f64(),
        kib("VmHWM:") / 1024,
        before / 1024,
        (written() - before_written) >> 20,
    );
}

/// A `/proc/self/status` figure, in KiB.
fn kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix(field)?
                    .trim()
                    .strip_suffix("kB")?
                    .trim()
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}
