//! Snapshots applied as they stream from a file: every way the file can be
//! wrong leaves the replica at its previous version with nothing of the
//! snapshot applied, and a SIGKILL at any point of a streaming apply leaves
//! the old or the new version, whole, with its index.

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use blocklist_core::document::*;
use blocklist_core::index::LookupIndex;
use blocklist_core::replica::Replica;
use blocklist_core::store::{StoreError, StoreState};
use blocklist_core::verify::{Verifier, VerifyError};
use blocklist_core::*;

use crate::support::*;

/// A replica at version 1 (one delta of 30 entries), with its state then.
fn replica_at_version_1(c: &Centre, dir: &Path) -> (Replica, StoreState) {
    let mut replica = Replica::open(dir, "th-national").unwrap();
    let listed = entries(0, 30);
    let d1 = c.verified_delta(
        1,
        listed.iter().cloned().map(Op::Add).collect(),
        ListState::of(&listed),
    );
    replica.apply_delta(&d1, "test").unwrap();
    let state = replica.state().unwrap();
    (replica, state)
}

/// The replica still holds `before`: state, rows, log and published index.
fn assert_unchanged(replica: &Replica, before: &StoreState, case: &str) {
    assert_eq!(&replica.state().unwrap(), before, "{case}");
    assert_eq!(
        replica.store().check_integrity().unwrap(),
        before.state,
        "{case}"
    );
    assert_eq!(replica.store().log().unwrap().len(), 1, "{case}");
    let index = LookupIndex::open(replica.index_path()).unwrap();
    assert_eq!(index.header().list_version, 1, "{case}");
}

#[test]
fn a_truncated_tampered_or_lying_snapshot_leaves_the_replica_at_its_previous_version() {
    let dir = tempfile::tempdir().unwrap();
    let c = Centre::new();
    let (mut replica, before) = replica_at_version_1(&c, dir.path());
    let good = c.sign(&snapshot(5, listed_over_time(1_000, 3_000)));
    let middle = HEADER + (good.len() - HEADER - 97) / 2;

    // Refused by the verifier's first pass, before any entry is read.
    let mut bad_byte = good.clone();
    bad_byte[middle] ^= 0x20;
    let mut bad_signature = good.clone();
    *bad_signature.last_mut().unwrap() ^= 1;
    let cases = [
        ("a bad byte in the middle", bad_byte),
        ("a bad signature", bad_signature),
        ("cut in the middle", good[..middle].to_vec()),
        ("cut in the signature", good[..good.len() - 10].to_vec()),
    ];
    for (case, bytes) in cases {
        let err = c
            .verifier
            .snapshot_file(file_of(&bytes), before.version)
            .unwrap_err();
        assert!(
            matches!(
                err,
                VerifyError::BadSignature { .. }
                    | VerifyError::Malformed {
                        source: DecodeError::Truncated { .. },
                        ..
                    }
            ),
            "{case}: {err}"
        );
        assert_unchanged(&replica, &before, case);
    }

    // Verified, then refused as the entries stream into the store.
    let mut lying = snapshot(5, listed_over_time(1_000, 3_000));
    lying.state = ListState::of(&listed_over_time(1_000, 2_999));
    let duplicate = snapshot_naming_one_identifier_twice(&c);
    for (case, bytes, refusal) in [
        ("a wrong state digest", c.sign(&lying), "digest mismatch"),
        (
            "one identifier in two groups",
            duplicate,
            "appears more than once",
        ),
    ] {
        let verified = c
            .verifier
            .snapshot_file(file_of(&bytes), before.version)
            .unwrap();
        let err = replica
            .apply_snapshot(&verified, case, &mut |_| {})
            .unwrap_err();
        assert!(
            matches!(err, Error::Store(StoreError::Refused { .. }))
                && err.to_string().contains(refusal),
            "{case}: {err}"
        );
        assert_unchanged(&replica, &before, case);
    }

    // Verified, then changed in place before the apply read it again: only
    // the second pass's hash can tell (the entries still give the signed state).
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &good).unwrap();
    let verified = c
        .verifier
        .snapshot_file(File::open(file.path()).unwrap(), before.version)
        .unwrap();
    let created_at = HEADER + 1 + "th-national".len() + 1;
    let writer = std::fs::OpenOptions::new()
        .write(true)
        .open(file.path())
        .unwrap();
    writer
        .write_at(&[good[created_at] ^ 1], created_at as u64)
        .unwrap();
    let err = replica
        .apply_snapshot(&verified, "changed", &mut |_| {})
        .unwrap_err();
    assert!(
        err.to_string().contains("changed since it was verified"),
        "{err}"
    );
    assert_unchanged(&replica, &before, "changed after verification");

    // The good file still applies.
    let verified = c
        .verifier
        .snapshot_file(file_of(&good), before.version)
        .unwrap();
    replica
        .apply_snapshot(&verified, "good", &mut |_| {})
        .unwrap();
    assert_eq!(replica.state().unwrap().version, Version::new(5));
    let index = LookupIndex::open(replica.index_path()).unwrap();
    assert_eq!(index.header().list_version, 5);
    assert_eq!(index.header().entries, 3_000);
}

/// The envelope's header length.
const HEADER: usize = envelope::HEADER_LEN;

/// A signed snapshot naming one domain in two groups (two listing times),
/// with the state digest of both: what no encoder writes, built by hand.
fn snapshot_naming_one_identifier_twice(c: &Centre) -> Vec<u8> {
    /// Kind, metadata (reason, agency index, listed_at, expires_at), values.
    type Group = (u16, (u16, u32, u64, Option<u64>), Vec<String>);
    #[derive(serde::Serialize)]
    struct Wire {
        list: String,
        version: u64,
        created_at: u64,
        state_digest: [u8; 32],
        state_entries: u64,
        agencies: Vec<String>,
        entries: Vec<Group>,
        extensions: Vec<(u16, Vec<u8>)>,
    }
    let twice: Vec<Entry> = [1_750_000_000, 1_750_000_001]
        .into_iter()
        .map(|listed_at| {
            let mut e = entry(Kind::Domain, "twice.example.com", "police", None);
            e.meta.listed_at = Timestamp(listed_at);
            e
        })
        .collect();
    let state = ListState::of(&twice);
    let group = |e: &Entry| {
        (
            Kind::Domain.code(),
            (e.meta.reason.0, 0, e.meta.listed_at.0, None),
            vec![e.id.as_str().to_owned()],
        )
    };
    let wire = Wire {
        list: list().as_str().to_owned(),
        version: 5,
        created_at: NOW.0,
        state_digest: state.digest.0,
        state_entries: state.entries,
        agencies: vec!["police".to_owned()],
        entries: twice.iter().map(group).collect(),
        extensions: vec![],
    };
    let payload = postcard::to_stdvec(&wire).unwrap();
    assert!(
        Snapshot::decode_payload(&payload).is_err(),
        "the in-memory decoder refuses it too"
    );
    envelope::seal(DocType::Snapshot, &payload, &[&c.key]).unwrap()
}

/// Set by the SIGKILL test for the child process it starts.
const CHILD_DIR: &str = "BLOCKLIST_TEST_SNAPSHOT_CHILD_DIR";
const SNAPSHOT_VERSION: u64 = 5;

/// Every other trial starts from an empty replica, which applies with a
/// rollback journal (see `Store::apply_snapshot_followed`).
#[test]
fn sigkill_at_random_points_of_a_streaming_snapshot_apply_leaves_the_old_or_the_new_version() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        return apply_snapshot_as_child(Path::new(&dir));
    }
    let work = tempfile::tempdir().unwrap();
    let c = Centre::with_key(SecretKey::from_seed(&[9; 32]));
    let big = listed_over_time(1_000, 20_000);
    let new_state = ListState::of(&big);
    std::fs::write(work.path().join("root"), &c.root).unwrap();
    std::fs::write(
        work.path().join("snapshot"),
        c.sign(&snapshot(SNAPSHOT_VERSION, big)),
    )
    .unwrap();
    let data = work.path().join("data");
    let fresh_at_version_1 = || {
        let _ = std::fs::remove_dir_all(&data);
        replica_at_version_1(&c, &data).1
    };

    // One unkilled run measures how long a child takes, to spread the kills over it.
    let old = fresh_at_version_1();
    let started = Instant::now();
    let status = child(work.path()).status().unwrap();
    assert!(status.success(), "the child fails on its own: {status}");
    let full = started.elapsed();

    let mut points = kill_points(full);
    let mut seen = std::collections::BTreeMap::<u64, u32>::new();
    const TRIALS: u32 = 16;
    for trial in 0..TRIALS {
        let from_empty = trial % 2 == 1;
        if from_empty {
            let _ = std::fs::remove_dir_all(&data);
            Replica::open(&data, "th-national").unwrap();
        } else {
            fresh_at_version_1();
        }
        let delay = points.next().expect("endless");
        kill_after(child(work.path()), delay);

        // Opening republishes an index left behind by a kill after the commit.
        let replica = Replica::open(&data, "th-national").unwrap();
        let held = replica.state().unwrap();
        let integrity = replica.store().check_integrity();
        assert!(
            integrity.is_ok(),
            "trial {trial} (kill after {delay:?}): {integrity:?}"
        );
        let v = held.version.map_or(0, Version::get);
        match v {
            0 if from_empty => {
                assert_eq!(held.state, ListState::of([]), "trial {trial}");
                *seen.entry(v).or_default() += 1;
                drop(replica);
                assert!(
                    child(work.path()).status().unwrap().success(),
                    "trial {trial}: restart failed"
                );
                let replica = Replica::open(&data, "th-national").unwrap();
                assert_eq!(replica.store().check_integrity().unwrap(), new_state);
                continue;
            }
            1 if !from_empty => assert_eq!(held, old, "trial {trial}"),
            SNAPSHOT_VERSION => assert_eq!(held.state, new_state, "trial {trial}"),
            other => panic!("trial {trial}: version {other} after the kill"),
        }
        let index = LookupIndex::open(replica.index_path()).unwrap();
        assert_eq!(index.header().list_version, v, "trial {trial}");
        assert_eq!(index.header().entries, held.state.entries, "trial {trial}");
        *seen.entry(v).or_default() += 1;
        drop(replica);

        // A restart after the kill finishes the job.
        assert!(
            child(work.path()).status().unwrap().success(),
            "trial {trial}: restart failed"
        );
        let replica = Replica::open(&data, "th-national").unwrap();
        assert_eq!(replica.store().check_integrity().unwrap(), new_state);
    }
    eprintln!(
        "{TRIALS} SIGKILL trials over a {full:?} streaming snapshot apply; versions found after the kill: {seen:?}"
    );
}

fn child(dir: &Path) -> Command {
    rerun_as_child(
        "snapshot_stream::sigkill_at_random_points_of_a_streaming_snapshot_apply_leaves_the_old_or_the_new_version",
        CHILD_DIR,
        dir,
    )
}

/// The child: applies the snapshot file if the replica does not hold it yet,
/// as the daemon would.
fn apply_snapshot_as_child(dir: &Path) {
    let verifier = Verifier::pin(&std::fs::read(dir.join("root")).unwrap()).unwrap();
    let mut replica = Replica::open(&dir.join("data"), "th-national").unwrap();
    let held = replica.state().unwrap().version;
    if held.map_or(0, Version::get) >= SNAPSHOT_VERSION {
        return;
    }
    let file = File::open(dir.join("snapshot")).unwrap();
    let snapshot = verifier.snapshot_file(file, held).unwrap();
    replica
        .apply_snapshot(&snapshot, "child", &mut |_| {})
        .unwrap();
}

/// A replica that holds no version takes a snapshot with a rollback journal
/// (see `Store::apply_snapshot_followed`): nothing of its own (its reading
/// connection, the store's checkpointer) holds the database open meanwhile,
/// which would keep it in WAL and write every page twice, to the WAL and
/// then to the database. Deltas after it go through WAL again.
#[test]
fn a_replica_bootstraps_without_writing_its_pages_to_the_wal_first() {
    let c = Centre::new();
    let dir = tempfile::tempdir().unwrap();
    let mut replica = Replica::open(dir.path(), "th-national").unwrap();
    let listed = entries(0, 20_000);
    replica
        .apply_snapshot(&c.verified_snapshot(3, listed.clone()), "test", &mut |_| {})
        .unwrap();
    let db = replica.store().path().to_path_buf();
    let size = |path: &Path| std::fs::metadata(path).map_or(0, |m| m.len());
    let wal = db.with_extension("db-wal");
    assert!(
        size(&wal) < size(&db) / 20,
        "the WAL holds {} bytes beside a database of {}",
        size(&wal),
        size(&db)
    );
    let more = entries(20_000, 10);
    let mut after = listed;
    after.extend(more.iter().cloned());
    let d4 = c.verified_delta(
        4,
        more.into_iter().map(Op::Add).collect(),
        ListState::of(&after),
    );
    replica.apply_delta(&d4, "test").unwrap();
    assert!(size(&wal) > 0, "the delta went through the WAL");
    assert_eq!(replica.state().unwrap().state, ListState::of(&after));
}
