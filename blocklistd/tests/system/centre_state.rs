use std::path::{Path, PathBuf};
use std::time::Duration;

use blocklist_core::document::Manifest;
use blocklist_core::store::Store;
use blocklist_core::verify::read_unverified;

use crate::support::*;

fn state_db(centre: &Centre) -> PathBuf {
    centre.dir.join(".centre/state.db")
}

fn manifest(centre: &Centre) -> Manifest {
    read_unverified(&std::fs::read(centre.dir.join("manifest")).unwrap()).unwrap()
}

/// Asserts the centre's store holds the manifest's version and state, and
/// that its rows give that state.
fn assert_store_matches_manifest(centre: &Centre) {
    let manifest = manifest(centre);
    let store = Store::open(state_db(centre), "th-test").unwrap();
    let held = store.state().unwrap();
    assert_eq!(held.version, Some(manifest.version));
    assert_eq!(held.state, manifest.state);
    assert_eq!(store.check_integrity().unwrap(), manifest.state);
}

/// Publishes `names` (domains) as one version, returning stderr.
fn publish_domains(centre: &Centre, file: &str, names: &[&str], extra: &[&str]) -> String {
    let input = centre.input(file, names.join("\n").as_bytes());
    let mut args = centre.publish_args(&["--kind", "domain", "--agency", "th-aoc"]);
    args.extend_from_slice(extra);
    args.push(s(&input));
    let out = blocklist().args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stderr).unwrap()
}

fn verify_ok(centre: &Centre) -> String {
    let out = ok(&["verify", s(&centre.dir), "--root", s(&centre.first_root())]);
    assert!(out.starts_with("OK:"), "{out}");
    out
}

fn remove_store(centre: &Centre) {
    for suffix in ["", "-wal", "-shm"] {
        let mut path = state_db(centre).into_os_string();
        path.push(suffix);
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn a_deleted_store_is_rebuilt_from_the_directory_and_the_publish_goes_on() {
    let centre = Centre::new();
    publish_domains(&centre, "a.txt", &["a.example", "b.example"], &[]);
    publish_domains(&centre, "b.txt", &["c.example"], &["--snapshot-every", "2"]);
    publish_domains(&centre, "c.txt", &["d.example"], &[]);
    assert_store_matches_manifest(&centre);
    remove_store(&centre);
    let stderr = publish_domains(&centre, "d.txt", &["e.example"], &[]);
    assert!(
        stderr.contains("rebuilding the centre's state") && stderr.contains("it is missing"),
        "{stderr}"
    );
    assert_store_matches_manifest(&centre);
    assert_eq!(manifest(&centre).state.entries, 5);
    verify_ok(&centre);
}

#[test]
fn a_store_whose_digest_disagrees_with_the_manifest_is_rebuilt() {
    let centre = Centre::new();
    publish_domains(&centre, "a.txt", &["a.example", "b.example"], &[]);
    publish_domains(&centre, "b.txt", &["c.example"], &[]);
    // An entry lost behind the store's back, and its state edited to match.
    let conn = rusqlite::Connection::open(state_db(&centre)).unwrap();
    conn.execute("DELETE FROM entries WHERE value = 'a.example'", [])
        .unwrap();
    conn.execute(
        "UPDATE list_state SET digest = zeroblob(32), entries = 2",
        [],
    )
    .unwrap();
    drop(conn);
    let stderr = publish_domains(&centre, "c.txt", &["d.example"], &[]);
    assert!(
        stderr.contains("rebuilding the centre's state")
            && stderr.contains("it holds version 2 with state"),
        "{stderr}"
    );
    assert_store_matches_manifest(&centre);
    assert_eq!(manifest(&centre).state.entries, 4);
    verify_ok(&centre);
}

/// Rows edited behind the store's back, its recorded state left alone: the
/// next `snapshot` reads every row, refuses to sign them, and deletes the
/// store, which the next publish rebuilds from the directory.
#[test]
fn a_snapshot_of_a_store_whose_rows_disagree_with_its_state_is_refused_and_the_store_rebuilt() {
    let centre = Centre::new();
    publish_domains(&centre, "a.txt", &["a.example", "b.example"], &[]);
    publish_domains(&centre, "b.txt", &["c.example"], &[]);
    let conn = rusqlite::Connection::open(state_db(&centre)).unwrap();
    conn.execute("DELETE FROM entries WHERE value = 'b.example'", [])
        .unwrap();
    drop(conn);
    let err = fails(&["snapshot", s(&centre.dir), "--key", s(&centre.publish_key)]);
    assert!(err.contains("its entries give state"), "{err}");
    assert!(centre.files("snapshots").is_empty());
    assert!(!state_db(&centre).exists(), "the store was kept");
    let stderr = publish_domains(&centre, "c.txt", &["d.example"], &[]);
    assert!(stderr.contains("it is missing"), "{stderr}");
    assert_store_matches_manifest(&centre);
    assert_eq!(manifest(&centre).state.entries, 4);
    verify_ok(&centre);
}

#[test]
fn a_store_that_is_not_a_database_is_rebuilt() {
    let centre = Centre::new();
    publish_domains(&centre, "a.txt", &["a.example"], &[]);
    remove_store(&centre);
    std::fs::write(state_db(&centre), vec![0x5a; 8192]).unwrap();
    let stderr = publish_domains(&centre, "b.txt", &["b.example"], &[]);
    assert!(stderr.contains("it cannot be opened"), "{stderr}");
    assert_store_matches_manifest(&centre);
}

/// A publish killed after its manifest, before its store commit, leaves the
/// store one version behind: the next command applies the published delta.
#[test]
fn a_store_one_version_behind_the_manifest_is_rolled_forward_not_rebuilt() {
    let centre = Centre::new();
    publish_domains(&centre, "a.txt", &["a.example"], &[]);
    let behind = centre.tmp.path().join("behind.db");
    copy_store(&state_db(&centre), &behind);
    publish_domains(&centre, "b.txt", &["b.example"], &[]);
    remove_store(&centre);
    copy_store(&behind, &state_db(&centre));
    let stderr = publish_domains(&centre, "c.txt", &["c.example"], &[]);
    assert!(
        stderr.contains("rolled forward") && !stderr.contains("rebuilding"),
        "{stderr}"
    );
    assert_store_matches_manifest(&centre);
    assert_eq!(manifest(&centre).state.entries, 3);
}

/// Copies a store through SQLite's backup, so its WAL comes along.
fn copy_store(from: &Path, to: &Path) {
    let conn = rusqlite::Connection::open(from).unwrap();
    conn.execute("VACUUM INTO ?1", [s(to)]).unwrap();
}

/// Kills publishes of ~8.5k domains at increasing delays: whatever the
/// point (reading, writing the delta, after the manifest, mid-commit), the
/// next publish brings the store to the directory's version, rolled forward
/// or rebuilt, and every version verifies.
#[test]
fn after_a_publish_killed_at_any_point_the_next_one_finds_the_store_consistent() {
    let centre = Centre::new();
    publish_domains(&centre, "seed.txt", &["seed.example"], &[]);
    for (round, delay_ms) in [0u64, 10, 30, 60, 100, 150, 250, 400]
        .into_iter()
        .enumerate()
    {
        let names: Vec<String> = (0..8_500)
            .map(|i| format!("kill-{round}-{i}.example"))
            .collect();
        let big = centre.input("big.txt", names.join("\n").as_bytes());
        centre.publish_killed_after(&big, Duration::from_millis(delay_ms));
        verify_ok(&centre);
        let small = format!("after-{round}.example");
        publish_domains(&centre, "small.txt", &[&small], &[]);
        assert_store_matches_manifest(&centre);
        verify_ok(&centre);
    }
}

#[test]
fn snapshot_lists_the_current_version_once_and_the_chain_verifies() {
    let centre = Centre::new();
    publish_domains(&centre, "a.txt", &["a.example", "b.example"], &[]);
    publish_domains(&centre, "b.txt", &["c.example"], &[]);
    assert!(
        centre.files("snapshots").is_empty(),
        "publish wrote a snapshot"
    );
    let snapshot =
        |centre: &Centre| ok(&["snapshot", s(&centre.dir), "--key", s(&centre.publish_key)]);
    let out = snapshot(&centre);
    assert!(out.contains("wrote snapshot 2: 3 entries"), "{out}");
    let listed = manifest(&centre);
    assert_eq!(listed.snapshots.len(), 1);
    assert_eq!(listed.snapshots[0].version.get(), 2);
    let out = snapshot(&centre);
    assert!(out.contains("version 2 has a snapshot already"), "{out}");
    publish_domains(&centre, "c.txt", &["d.example"], &[]);
    let out = verify_ok(&centre);
    assert!(
        out.contains("version 3") && out.contains("1 snapshot(s)"),
        "{out}"
    );
}

#[test]
fn the_store_is_never_served() {
    let centre = Centre::new();
    publish_domains(&centre, "a.txt", &["a.example"], &[]);
    assert!(state_db(&centre).exists());
    let server = Server::start(&centre.dir);
    for path in [".centre/state.db", ".centre/state.db-wal", ".centre/"] {
        let status = reqwest::blocking::get(format!("{}/{path}", server.url))
            .unwrap()
            .status();
        assert_eq!(status, reqwest::StatusCode::NOT_FOUND, "{path}");
    }
}
