//! The SQLite store: atomic applies, replay, refusals that leave the state
//! unchanged, snapshot bootstrap, and SIGKILL at random points of an apply.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use blocklist_core::document::*;
use blocklist_core::store::{Applied, Store, StoreError};
use blocklist_core::verify::VerifyError;
use blocklist_core::*;

use crate::support::*;

fn open(dir: &Path) -> Store {
    Store::open(dir.join("list.db"), "th-national").unwrap()
}

#[test]
fn deltas_apply_in_order_and_match_their_signed_state() {
    let dir = tempfile::tempdir().unwrap();
    let c = Centre::new();
    let (files, states) = chain(&c, 3, 30);
    let mut store = open(dir.path());
    for (i, file) in files.iter().enumerate() {
        let held = store.state().unwrap().version;
        let d = c.verifier.delta(file, held).unwrap();
        let applied = store.apply_delta(&d, "test").unwrap();
        assert!(matches!(applied, Applied::Applied { state, .. } if state == states[i]));
    }
    assert_eq!(store.state().unwrap().version, Version::new(3));
    assert_eq!(store.check_integrity().unwrap(), states[2]);
    assert_eq!(store.log().unwrap().len(), 3);
    let id =
        Identifier::parse(Kind::Domain, "scam-3000002.example.com", &Rules::default()).unwrap();
    assert_eq!(store.listed(&id).unwrap()[0].agency.as_str(), "police");
}

#[test]
fn reapplying_the_same_delta_is_a_no_op() {
    let dir = tempfile::tempdir().unwrap();
    let c = Centre::new();
    let (files, _) = chain(&c, 2, 9);
    let mut store = open(dir.path());
    let d1 = c.verifier.delta(&files[0], None).unwrap();
    store.apply_delta(&d1, "test").unwrap();
    let d2 = c.verifier.delta(&files[1], Version::new(1)).unwrap();
    store.apply_delta(&d2, "test").unwrap();
    let before = store.state().unwrap();
    for d in [&d1, &d2] {
        assert!(matches!(
            store.apply_delta(d, "again").unwrap(),
            Applied::AlreadyApplied { .. }
        ));
    }
    assert_eq!(store.state().unwrap(), before);
}

#[test]
fn another_file_claiming_an_applied_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let c = Centre::new();
    let (files, _) = chain(&c, 2, 9);
    let mut store = open(dir.path());
    for (v, f) in files.iter().enumerate() {
        let d = c.verifier.delta(f, Version::new(v as u64)).unwrap();
        store.apply_delta(&d, "test").unwrap();
    }
    // A different, validly signed version 2 and version 1: replay and rollback.
    let other2 = c.verified_delta(2, vec![], ListState::default());
    let other1 = c.verified_delta(1, vec![], ListState::default());
    assert!(matches!(
        store.apply_delta(&other2, "x"),
        Err(StoreError::Refused {
            source: VerifyError::Replay { version: 2, .. },
            ..
        })
    ));
    assert!(matches!(
        store.apply_delta(&other1, "x"),
        Err(StoreError::Refused {
            source: VerifyError::Rollback {
                trusted: 2,
                offered: 1,
                ..
            },
            ..
        })
    ));
}

#[test]
fn a_digest_mismatch_leaves_the_previous_version_intact() {
    let dir = tempfile::tempdir().unwrap();
    let c = Centre::new();
    let mut store = open(dir.path());
    let good = entries(0, 10);
    let d1 = c.verified_delta(
        1,
        good.iter().cloned().map(Op::Add).collect(),
        ListState::of(&good),
    );
    store.apply_delta(&d1, "test").unwrap();
    let before = store.state().unwrap();

    let more = entries(100, 10);
    let wrong_state = ListState::of(&good); // claims the state did not change
    let d2 = c.verified_delta(2, more.into_iter().map(Op::Add).collect(), wrong_state);
    let err = store.apply_delta(&d2, "test").unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Refused {
                source: VerifyError::DigestMismatch { .. },
                ..
            }
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("list.db"),
        "the error names the store: {err}"
    );
    assert_eq!(store.state().unwrap(), before);
    assert_eq!(store.check_integrity().unwrap(), before.state);
}

#[test]
fn conflicting_operations_are_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let c = Centre::new();
    let mut store = open(dir.path());
    let first = entries(0, 5);
    let d1 = c.verified_delta(
        1,
        first.iter().cloned().map(Op::Add).collect(),
        ListState::of(&first),
    );
    store.apply_delta(&d1, "test").unwrap();
    let before = store.state().unwrap();
    let fresh = entries(50, 3);
    let mut ops: Vec<Op> = fresh.into_iter().map(Op::Add).collect();
    ops.push(Op::Add(first[0].clone()));
    let d2 = c.verified_delta(2, ops, ListState::default());
    let err = store.apply_delta(&d2, "test").unwrap_err();
    assert!(
        matches!(
            err,
            StoreError::Conflict {
                op: "adds",
                state: "already listed by that agency",
                version: 2,
                ..
            }
        ),
        "{err}"
    );
    let missing = entries(900, 1).remove(0);
    let d2 = c.verified_delta(2, vec![Op::Remove(missing.id, None)], ListState::default());
    assert!(matches!(
        store.apply_delta(&d2, "test"),
        Err(StoreError::Conflict { op: "removes", .. })
    ));
    assert_eq!(store.state().unwrap(), before);
    assert_eq!(store.check_integrity().unwrap(), before.state);
}

/// The journal mode the database file is in.
fn journal_mode(dir: &Path) -> String {
    rusqlite::Connection::open(dir.join("list.db"))
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_snapshot_into_an_empty_store_leaves_it_in_wal_mode_whether_or_not_another_connection_reads() {
    let c = Centre::new();
    for read_meanwhile in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut store = open(dir.path());
        // A reader keeps the file in WAL mode: the apply does not wait for it.
        let reader = read_meanwhile.then(|| store.snapshot().unwrap());
        let s = c.verified_snapshot(10, listed_over_time(0, 500));
        store.apply_snapshot(&s, "test", &mut |_| {}).unwrap();
        assert_eq!(store.check_integrity().unwrap(), s.head().state);
        if let Some(reader) = reader {
            assert_eq!(
                reader.state().unwrap().version,
                None,
                "its read still sees the empty store"
            );
        }
        assert_eq!(
            journal_mode(dir.path()),
            "wal",
            "read meanwhile: {read_meanwhile}"
        );
    }
}

#[test]
fn a_snapshot_bootstraps_and_deltas_continue_from_it() {
    let dir = tempfile::tempdir().unwrap();
    let c = Centre::new();
    let base = entries(0, 250_001 / 1000);
    let s = c.verified_snapshot(10, base.clone());
    let mut store = open(dir.path());
    let mut reports = Vec::new();
    store
        .apply_snapshot(&s, "test", &mut |p| reports.push(p.done))
        .unwrap();
    assert_eq!(reports.last(), Some(&(base.len() as u64)));
    assert_eq!(store.state().unwrap().version, Version::new(10));
    assert_eq!(store.check_integrity().unwrap(), s.head().state);

    let add = entries(10_000, 4);
    let mut after = base.clone();
    after.extend(add.iter().cloned());
    let d = c.verified_delta(
        11,
        add.into_iter().map(Op::Add).collect(),
        ListState::of(&after),
    );
    store.apply_delta(&d, "test").unwrap();
    assert_eq!(store.check_integrity().unwrap().entries, after.len() as u64);
    // An older snapshot is a rollback now.
    let old = c.verified_snapshot(9, base);
    assert!(matches!(
        store.apply_snapshot(&old, "x", &mut |_| {}),
        Err(StoreError::Refused { .. })
    ));
}

#[test]
fn a_store_of_one_list_refuses_to_open_as_another() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    assert!(matches!(
        Store::open(dir.path().join("list.db"), "other-list"),
        Err(StoreError::WrongList { .. })
    ));
}

/// Set by the SIGKILL test for the child process it starts.
const CHILD_DIR: &str = "BLOCKLIST_TEST_APPLY_CHILD_DIR";
const CHILD_DELTAS: u64 = 4;

#[test]
fn sigkill_at_random_points_of_an_apply_leaves_the_old_or_the_new_version() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        return apply_all_as_child(Path::new(&dir));
    }
    let work = tempfile::tempdir().unwrap();
    let key_seed = [7u8; 32];
    let c = Centre::with_key(SecretKey::from_seed(&key_seed));
    let (files, states) = chain(&c, CHILD_DELTAS, 3_000);
    for (i, f) in files.iter().enumerate() {
        std::fs::write(work.path().join(format!("{}.delta", i + 1)), f).unwrap();
    }
    std::fs::write(work.path().join("root"), &c.root).unwrap();

    // One unkilled run measures how long a child takes, to spread the kills over it.
    let started = Instant::now();
    let status = child(work.path()).status().unwrap();
    assert!(status.success(), "the child fails on its own: {status}");
    let full = started.elapsed();

    let mut points = kill_points(full);
    let mut seen = std::collections::BTreeMap::<u64, u32>::new();
    const TRIALS: u32 = 50;
    for trial in 0..TRIALS {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(work.path().join(format!("list.db{suffix}")));
        }
        let delay = points.next().expect("endless");
        kill_after(child(work.path()), delay);

        let store = open(work.path());
        let held = store.state().unwrap();
        let integrity = store.check_integrity();
        assert!(
            integrity.is_ok(),
            "trial {trial} (kill after {delay:?}): {integrity:?}"
        );
        let v = held.version.map_or(0, Version::get);
        if v > 0 {
            assert_eq!(
                held.state,
                states[v as usize - 1],
                "trial {trial}: version {v} with another state"
            );
        } else {
            assert_eq!(
                held.state,
                ListState::of([]),
                "trial {trial}: no version but entries"
            );
        }
        *seen.entry(v).or_default() += 1;
        drop(store);

        // A restart after the kill finishes the job.
        assert!(
            child(work.path()).status().unwrap().success(),
            "trial {trial}: restart failed"
        );
        assert_eq!(
            open(work.path()).check_integrity().unwrap(),
            states[CHILD_DELTAS as usize - 1]
        );
    }
    eprintln!(
        "{TRIALS} SIGKILL trials over a {full:?} run; versions found after the kill: {seen:?}"
    );
}

fn child(dir: &Path) -> Command {
    rerun_as_child(
        "store::sigkill_at_random_points_of_an_apply_leaves_the_old_or_the_new_version",
        CHILD_DIR,
        dir,
    )
}

/// The child: applies every delta the store does not hold yet, as a daemon would.
fn apply_all_as_child(dir: &Path) {
    let verifier =
        blocklist_core::verify::Verifier::pin(&std::fs::read(dir.join("root")).unwrap()).unwrap();
    let mut store = open(dir);
    loop {
        let held = store.state().unwrap().version;
        let next = held.map_or(1, |v| v.get() + 1);
        if next > CHILD_DELTAS {
            return;
        }
        let bytes = std::fs::read(dir.join(format!("{next}.delta"))).unwrap();
        let d = verifier.delta(&bytes, held).unwrap();
        store.apply_delta(&d, "child").unwrap();
        std::thread::sleep(Duration::from_millis(1));
    }
}
