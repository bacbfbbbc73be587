//! The replica: applies publish an index readers can use at once, and a crash
//! between commit and publish is repaired on open.

use blocklist_core::document::*;
use blocklist_core::index::{IndexBuilder, IndexError, LookupIndex, FORMAT_VERSION};
use blocklist_core::replica::Replica;
use blocklist_core::*;

use crate::support::*;

fn check(index: &LookupIndex, kind: Kind, raw: &str, now: Timestamp) -> Option<String> {
    index
        .check(kind, raw, &Rules::default(), now)
        .unwrap()
        .map(|hit| hit.matched.to_string())
}

#[test]
fn each_apply_publishes_an_index_at_the_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let c = Centre::new();
    let mut replica = Replica::open(dir.path(), "th-national").unwrap();
    let first = vec![
        entry(Kind::Number, "081-234-5678", "th-aoc", None),
        entry(
            Kind::Domain,
            "scam.example.com",
            "police",
            Some(1_770_000_000),
        ),
        entry(Kind::Account, "004 123-4-56789-0", "bank-004", None),
    ];
    let d1 = c.verified_delta(
        1,
        first.iter().cloned().map(Op::Add).collect(),
        ListState::of(&first),
    );
    replica.apply_delta(&d1, "test").unwrap();

    let index = LookupIndex::open(replica.index_path()).unwrap();
    assert_eq!(index.header().list_version, 1);
    assert_eq!(index.header().state_digest, ListState::of(&first).digest.0);
    assert_eq!(
        check(&index, Kind::Number, "+66 81 234 5678", NOW).as_deref(),
        Some("+66812345678")
    );
    assert_eq!(
        check(
            &index,
            Kind::Domain,
            "https://a.b.Scam.Example.com/login",
            NOW
        )
        .as_deref(),
        Some("scam.example.com")
    );
    assert_eq!(
        check(&index, Kind::Account, "004/1234567890", NOW).as_deref(),
        Some("TH:004:1234567890")
    );
    // Expired entries stop matching at their expiry, before any delta removes them.
    assert_eq!(
        check(
            &index,
            Kind::Domain,
            "scam.example.com",
            Timestamp(1_770_000_000)
        ),
        None
    );

    // Version 2 through the incremental index update: a removal, an update
    // (the domain's freeze extended) and an addition.
    let mut extended = first[1].clone();
    extended.meta.expires_at = Some(Timestamp(1_790_000_000));
    let added = entry(Kind::Number, "0899999999", "th-aoc", None);
    let after = [extended.clone(), first[2].clone(), added.clone()];
    let ops = vec![
        Op::Remove(first[0].id.clone(), None),
        Op::Update(extended),
        Op::Add(added),
    ];
    let d2 = c.verified_delta(2, ops, ListState::of(&after));
    replica.apply_delta(&d2, "test").unwrap();
    let index = LookupIndex::open(replica.index_path()).unwrap();
    assert_eq!(index.header().list_version, 2);
    assert_eq!(index.header().entries, 3);
    assert_eq!(index.header().state_digest, ListState::of(&after).digest.0);
    assert_eq!(check(&index, Kind::Number, "0812345678", NOW), None);
    assert!(check(&index, Kind::Number, "089-999-9999", NOW).is_some());
    let late = Timestamp(1_780_000_000);
    assert_eq!(
        check(&index, Kind::Domain, "scam.example.com", late).as_deref(),
        Some("scam.example.com")
    );
}

#[test]
fn a_snapshot_publishes_its_entries() {
    let dir = tempfile::tempdir().unwrap();
    let c = Centre::new();
    let mut replica = Replica::open(dir.path(), "th-national").unwrap();
    let all = entries(0, 300);
    let s = c.verified_snapshot(40, all.clone());
    replica.apply_snapshot(&s, "test", &mut |_| {}).unwrap();
    let index = LookupIndex::open(replica.index_path()).unwrap();
    assert_eq!(index.header().list_version, 40);
    assert_eq!(index.header().entries, 300);
    for e in &all {
        assert!(
            index
                .lookup_canonical(e.id.kind(), e.id.as_str(), NOW)
                .is_some(),
            "{}",
            e.id
        );
    }
}

#[test]
fn open_republishes_an_index_left_behind_by_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let c = Centre::new();
    let listed = entries(0, 30);
    {
        let mut replica = Replica::open(dir.path(), "th-national").unwrap();
        let d1 = c.verified_delta(
            1,
            listed.iter().cloned().map(Op::Add).collect(),
            ListState::of(&listed),
        );
        replica.apply_delta(&d1, "test").unwrap();
    }
    let path = dir.path().join(blocklist_core::replica::INDEX_FILE);
    // The store committed version 1 but the published index is still empty (version 0),
    // as if the process died between the two.
    IndexBuilder::new(0, [0; 32], NOW)
        .write(&path, std::iter::empty::<(Kind, &str, &EntryMeta)>)
        .unwrap();
    drop(Replica::open(dir.path(), "th-national").unwrap());
    let index = LookupIndex::open(&path).unwrap();
    assert_eq!(index.header().list_version, 1);
    assert_eq!(index.header().entries, 30);

    // A garbled index is replaced the same way (index files are read-only:
    // remove, then write).
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, b"not an index").unwrap();
    drop(Replica::open(dir.path(), "th-national").unwrap());
    assert_eq!(LookupIndex::open(&path).unwrap().header().entries, 30);

    // So is one an older build wrote in an earlier format (an upgrade): its
    // keys hash differently, so it is rebuilt, never read.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[8] = FORMAT_VERSION - 1;
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, &bytes).unwrap();
    assert!(LookupIndex::open(&path).is_err());
    drop(Replica::open(dir.path(), "th-national").unwrap());
    let index = LookupIndex::open(&path).unwrap();
    assert_eq!(index.header().entries, 30);
    let (kind, value) = (listed[0].id.kind(), listed[0].id.as_str());
    assert!(index.lookup_canonical(kind, value, NOW).is_some());
}

#[test]
fn an_index_that_failed_to_publish_after_the_commit_is_repaired_by_a_retry() {
    let dir = tempfile::tempdir().unwrap();
    let c = Centre::new();
    let mut replica = Replica::open(dir.path(), "th-national").unwrap();
    let first = entries(0, 10);
    let d1 = c.verified_delta(
        1,
        first.iter().cloned().map(Op::Add).collect(),
        ListState::of(&first),
    );
    replica.apply_delta(&d1, "test").unwrap();
    let both = entries(0, 20);
    let d2 = c.verified_delta(
        2,
        both[10..].iter().cloned().map(Op::Add).collect(),
        ListState::of(&both),
    );

    // Publishing fails after the store commits: the index path is taken by a
    // folder that a rename cannot replace.
    let path = replica.index_path().to_owned();
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("blocker"), b"").unwrap();
    assert!(replica.apply_delta(&d2, "test").is_err());
    assert_eq!(replica.state().unwrap().version.map(Version::get), Some(2));

    // Once the fault is gone, applying the same delta again (already applied)
    // brings the index in step, digest and all.
    std::fs::remove_dir_all(&path).unwrap();
    assert!(matches!(
        replica.apply_delta(&d2, "test").unwrap(),
        store::Applied::AlreadyApplied { .. }
    ));
    let index = LookupIndex::open(&path).unwrap();
    assert_eq!(index.header().list_version, 2);
    assert_eq!(index.header().state_digest, ListState::of(&both).digest.0);
    assert!(!replica.ensure_index().unwrap());

    // An index at the right version with another state digest is replaced too.
    IndexBuilder::new(2, [7; 32], NOW)
        .write(&path, std::iter::empty::<(Kind, &str, &EntryMeta)>)
        .unwrap();
    assert!(replica.ensure_index().unwrap());
    assert_eq!(LookupIndex::open(&path).unwrap().header().entries, 20);
}

#[test]
fn a_data_folder_has_one_replica_at_a_time_and_opening_clears_what_a_killed_writer_left() {
    let dir = tempfile::tempdir().unwrap();
    let replica = Replica::open(dir.path(), "th-national").unwrap();
    // A second open, here or in another process, is refused and names the folder and the holder.
    let err = Replica::open(dir.path(), "th-national")
        .err()
        .expect("refused");
    assert!(matches!(err, Error::InUse { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
    assert!(
        text.contains(&format!(
            "locked by this process (pid {})",
            std::process::id()
        )),
        "{text}"
    );
    drop(replica);

    // What a writer killed mid-write leaves: temporaries of the index and of
    // the staged index (hundreds of MB each at 10M entries), and a staged index.
    let leftovers = [
        ".lookup.idx.0123456789abcdef.tmp",
        "..lookup.idx.next.fedcba9876543210.tmp",
        ".lookup.idx.next",
    ];
    // Files that only look alike are someone else's and stay.
    let others = [
        ".lookup.idx.notanonce.tmp",
        "lookup.idx.0123456789abcdef.tmp",
    ];
    for name in leftovers.iter().chain(&others) {
        std::fs::write(dir.path().join(name), b"partial").unwrap();
    }
    // And what cannot be removed is left without failing the open.
    let stuck = ".lookup.idx.00000000000000ff.tmp";
    std::fs::create_dir(dir.path().join(stuck)).unwrap();
    drop(Replica::open(dir.path(), "th-national").unwrap());
    for name in leftovers {
        assert!(!dir.path().join(name).exists(), "{name} left behind");
    }
    for name in others.into_iter().chain([stuck]) {
        assert!(dir.path().join(name).exists(), "{name} removed");
    }
}

#[test]
fn a_domain_this_build_calls_a_public_suffix_is_still_taken_from_the_centre() {
    // Listing refuses a public suffix, and readers one of the ICANN section...
    assert!(Identifier::parse(Kind::Domain, "github.io", &Rules::default()).is_err());
    assert!(Identifier::from_canonical(Kind::Domain, "co.th").is_err());
    // ...but a centre whose suffix list did not name it yet (a hosting
    // platform added to the private section after one of its names was
    // listed) signed it: a replica built with the newer list still takes the documents
    // and re-reads its own rows. It matches the name itself, but not the
    // platform's customers: a parent matches only down to the query's
    // registrable domain (issue 15, item 2).
    let mut listed = entry(Kind::Domain, "placeholder.example.com", "police", None);
    listed.id = Identifier::from_canonical(Kind::Domain, "github.io").unwrap();
    let all = vec![listed];
    let dir = tempfile::tempdir().unwrap();
    let c = Centre::new();
    let mut replica = Replica::open(dir.path(), "th-national").unwrap();
    let d1 = c.verified_delta(
        1,
        all.iter().cloned().map(Op::Add).collect(),
        ListState::of(&all),
    );
    replica.apply_delta(&d1, "test").unwrap();
    c.verified_snapshot(1, all);
    replica.publish_index().unwrap(); // reads every row back from the store
    let index = LookupIndex::open(replica.index_path()).unwrap();
    assert!(index
        .lookup_canonical(Kind::Domain, "github.io", NOW)
        .is_some());
    assert_eq!(check(&index, Kind::Domain, "pages.github.io", NOW), None);
}

#[test]
fn thousands_of_changes_go_through_overlays_and_background_merges_answering_like_the_list() {
    let dir = tempfile::tempdir().unwrap();
    let c = Centre::new();
    let mut replica = Replica::open(dir.path(), "th-national").unwrap();
    let mut list: std::collections::BTreeMap<Identifier, Entry> = Default::default();
    let mut gone: Vec<Identifier> = Vec::new();
    let mut bases = std::collections::BTreeSet::new();
    let mut next = 0;
    for version in 1..=14u64 {
        // Each delta removes and updates a few hundred listed entries and
        // adds about fourteen hundred: every record stays in the overlay
        // until a merge folds it into a new base.
        let mut ops = Vec::new();
        let listed: Vec<Identifier> = list.keys().cloned().collect();
        for (i, id) in listed
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 37 == version as usize % 37)
        {
            if i % 2 == 0 {
                list.remove(id);
                gone.push(id.clone());
                ops.push(Op::Remove(id.clone(), None));
            } else {
                let mut updated = list[id].clone();
                updated.meta.expires_at = Some(Timestamp(NOW.0 + version));
                list.insert(id.clone(), updated.clone());
                ops.push(Op::Update(updated));
            }
        }
        for e in entries(next, 1_400) {
            list.insert(e.id.clone(), e.clone());
            ops.push(Op::Add(e));
        }
        next += 1_400;
        let all: Vec<Entry> = list.values().cloned().collect();
        let delta = c.verified_delta(version, ops, ListState::of(&all));
        replica.apply_delta(&delta, "test").unwrap();
        if version % 3 == 0 {
            // Sometimes the merge ends before the next apply, sometimes not.
            replica.wait_for_merge();
        }

        let index = LookupIndex::open(replica.index_path()).unwrap();
        bases.insert(index.base_path().to_owned());
        assert_eq!(index.header().list_version, version);
        assert_eq!(index.header().entries, list.len() as u64);
        assert!(index.stats().overlay_entries <= 262_144);
        for (id, e) in &list {
            let hit = index.lookup_canonical(id.kind(), id.as_str(), NOW);
            assert_eq!(
                hit.map(|h| h.meta()),
                Some(e.meta.clone()),
                "{id} at {version}"
            );
        }
        for id in &gone {
            assert!(
                index
                    .lookup_canonical(id.kind(), id.as_str(), NOW)
                    .is_none(),
                "{id} at {version}"
            );
        }
    }
    assert!(bases.len() >= 2, "no merge published a new base: {bases:?}");
    // Once merges are taken up, only the served base stays on disk.
    replica.wait_for_merge();
    let last: Vec<Entry> = list.values().cloned().collect();
    let delta = c.verified_delta(15, vec![], ListState::of(&last));
    replica.apply_delta(&delta, "test").unwrap();
    let index = LookupIndex::open(replica.index_path()).unwrap();
    let on_disk: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("lookup.idx.base-"))
        .collect();
    assert_eq!(on_disk.len(), 1, "{on_disk:?}");
    assert_eq!(dir.path().join(&on_disk[0]), index.base_path());
}

/// Set by the SIGKILL test for the child process it starts.
const CHILD_DIR: &str = "BLOCKLIST_TEST_REPLICA_CHILD_DIR";
/// Deltas of about 2 000 changes each: the overlay passes its merge bound
/// after the fifth, so kills land in overlay writes, merges and their
/// publication alike.
const CHILD_DELTAS: u64 = 8;

#[test]
fn sigkill_during_applies_and_merges_leaves_a_whole_published_version() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        return apply_all_as_child(std::path::Path::new(&dir));
    }
    let work = tempfile::tempdir().unwrap();
    let c = Centre::with_key(SecretKey::from_seed(&[9; 32]));
    let (files, lists) = chain_of_lists(&c, CHILD_DELTAS, 1_200);
    let every: std::collections::BTreeSet<Identifier> =
        lists.iter().flat_map(|l| l.keys().cloned()).collect();
    let data = work.path().join("data");
    for (i, f) in files.iter().enumerate() {
        std::fs::write(work.path().join(format!("{}.delta", i + 1)), f).unwrap();
    }
    std::fs::write(work.path().join("root"), &c.root).unwrap();
    let answers_like = |index: &LookupIndex, trial: u32| {
        let v = index.header().list_version;
        let list = &lists[v as usize - 1];
        assert_eq!(index.header().entries, list.len() as u64, "trial {trial}");
        for id in &every {
            let hit = index
                .lookup_canonical(id.kind(), id.as_str(), NOW)
                .map(|h| h.meta());
            assert_eq!(
                hit,
                list.get(id).map(|e| e.meta.clone()),
                "trial {trial}: {id} at {v}"
            );
        }
    };

    let started = std::time::Instant::now();
    assert!(
        child(work.path()).status().unwrap().success(),
        "the child fails on its own"
    );
    let full = started.elapsed();
    let bases = std::fs::read_dir(&data).unwrap().count();
    let mut points = kill_points(full);
    let mut seen = std::collections::BTreeMap::<u64, u32>::new();
    const TRIALS: u32 = 16;
    for trial in 0..TRIALS {
        let _ = std::fs::remove_dir_all(&data);
        let delay = points.next().expect("endless");
        kill_after(child(work.path()), delay);

        // What a reader finds right after the kill: a whole version, or
        // nothing published yet.
        match LookupIndex::open(data.join("lookup.idx")) {
            Ok(index) => {
                answers_like(&index, trial);
                *seen.entry(index.header().list_version).or_default() += 1;
            }
            Err(e) => {
                assert!(
                    matches!(&e, IndexError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound),
                    "trial {trial}: {e}"
                );
                *seen.entry(0).or_default() += 1;
            }
        }
        // A restart repairs and finishes; only what the served index needs stays.
        assert!(
            child(work.path()).status().unwrap().success(),
            "trial {trial}: restart failed"
        );
        let index = LookupIndex::open(data.join("lookup.idx")).unwrap();
        assert_eq!(index.header().list_version, CHILD_DELTAS);
        answers_like(&index, trial);
        let replica = Replica::open(&data, "th-national").unwrap();
        drop(replica);
        let left: Vec<_> = std::fs::read_dir(&data)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(
            left.len() <= bases + 1,
            "trial {trial}: files left behind: {left:?}"
        );
    }
    eprintln!("{TRIALS} SIGKILL trials over a {full:?} run; versions readers found after the kill: {seen:?}");
}

fn child(dir: &std::path::Path) -> std::process::Command {
    rerun_as_child(
        "replica::sigkill_during_applies_and_merges_leaves_a_whole_published_version",
        CHILD_DIR,
        dir,
    )
}

/// The child: applies every delta the replica does not hold yet, as a daemon would.
fn apply_all_as_child(dir: &std::path::Path) {
    let verifier =
        blocklist_core::verify::Verifier::pin(&std::fs::read(dir.join("root")).unwrap()).unwrap();
    let mut replica = Replica::open(&dir.join("data"), "th-national").unwrap();
    loop {
        let held = replica.state().unwrap().version;
        let next = held.map_or(1, |v| v.get() + 1);
        if next > CHILD_DELTAS {
            return;
        }
        let bytes = std::fs::read(dir.join(format!("{next}.delta"))).unwrap();
        let d = verifier.delta(&bytes, held).unwrap();
        replica.apply_delta(&d, "child").unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

#[test]
fn readers_on_many_threads_see_whole_versions_while_overlays_are_swapped_and_merged() {
    let dir = tempfile::tempdir().unwrap();
    let c = Centre::new();
    let (files, lists) = chain_of_lists(&c, 10, 1_200);
    let every: Vec<Identifier> = lists
        .iter()
        .flat_map(|l| l.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut replica = Replica::open(dir.path(), "th-national").unwrap();
    let verifier = blocklist_core::verify::Verifier::pin(&c.root).unwrap();
    let first = verifier.delta(&files[0], None).unwrap();
    replica.apply_delta(&first, "test").unwrap();
    let live = blocklist_core::index::LiveIndex::open(replica.index_path()).unwrap();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let readers: Vec<_> = (0..4)
            .map(|r| {
                let (live, done, lists, every) = (&live, &done, &lists, &every);
                scope.spawn(move || {
                    let (mut checks, mut versions) = (0u64, std::collections::BTreeSet::new());
                    let mut at = r * 97;
                    while !done.load(std::sync::atomic::Ordering::Relaxed) {
                        if r == 0 {
                            live.reload_if_changed().unwrap();
                        }
                        let index = live.load();
                        let v = index.header().list_version;
                        versions.insert(v);
                        for _ in 0..200 {
                            at = (at + 7_919) % every.len();
                            let id = &every[at];
                            let hit = index.lookup_canonical(id.kind(), id.as_str(), NOW);
                            let want = lists[v as usize - 1].get(id).map(|e| &e.meta);
                            assert_eq!(hit.map(|h| h.meta()).as_ref(), want, "{id} at {v}");
                            checks += 1;
                        }
                    }
                    (checks, versions)
                })
            })
            .collect();
        for (i, bytes) in files.iter().enumerate().skip(1) {
            let held = replica.state().unwrap().version;
            let delta = verifier.delta(bytes, held).unwrap();
            replica.apply_delta(&delta, "test").unwrap();
            if i % 4 == 0 {
                replica.wait_for_merge();
            }
            std::thread::sleep(std::time::Duration::from_millis(30));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let reports: Vec<_> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        let seen: std::collections::BTreeSet<u64> = reports
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .collect();
        assert!(reports.iter().all(|(checks, _)| *checks > 0));
        assert!(
            seen.contains(&10),
            "the last version was never served: {seen:?}"
        );
    });
}

/// Each identifier's listings, by agency: the list as a model keeps it.
type Listings =
    std::collections::BTreeMap<Identifier, std::collections::BTreeMap<Agency, EntryMeta>>;

/// Checks that `index` answers every identifier of `model` (and of
/// `asked`, listed or not) with the standing of its listings at `now`.
fn answers_like(index: &LookupIndex, model: &Listings, asked: &[Identifier], now: Timestamp) {
    let identifiers = model.values().filter(|l| !l.is_empty()).count() as u64;
    assert_eq!(
        index.header().entries,
        identifiers,
        "one record per identifier"
    );
    for id in asked {
        let want = model
            .get(id)
            .and_then(|l| Standing::of(l.values().cloned()))
            .filter(|s| s.meta.is_active(now));
        let got = index
            .lookup_canonical(id.kind(), id.as_str(), now)
            .map(|h| Standing {
                meta: h.meta(),
                listings: h.listings,
            });
        assert_eq!(got, want, "{id}");
    }
}

mod several_agencies {
    use proptest::prelude::*;

    use super::*;

    const AGENCIES: [&str; 3] = ["bank-004", "th-aoc", "th-dsi"];

    fn number(i: u8) -> Identifier {
        Identifier::from_canonical(Kind::Number, &format!("+668123450{i:02}")).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(12))]

        /// Deltas of random adds, updates and removals by three agencies
        /// over a few identifiers (a removal naming an agency, or now and
        /// then every listing of an identifier), applied through overlays:
        /// after each, the index answers each identifier with the standing
        /// of its listings in a model, before and after their expiries; so
        /// does an index rebuilt from the store, and one built as a
        /// snapshot of the final list streams in.
        #[test]
        fn overlays_rebuilds_and_snapshots_answer_with_the_standing_of_every_listing(
            deltas in prop::collection::vec(
                prop::collection::btree_map((0u8..10, 0usize..3), (0u8..4, 0u64..40), 1..10),
                1..8,
            ),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let c = Centre::new();
            let mut replica = Replica::open(dir.path(), "th-national").unwrap();
            let mut model = Listings::new();
            let asked: Vec<Identifier> = (0..10).map(number).collect();
            for (at, changes) in deltas.iter().enumerate() {
                let version = at as u64 + 1;
                let mut ops = Vec::new();
                let mut whole = std::collections::BTreeSet::new();
                for (&(i, a), &(what, expiry)) in changes {
                    let (id, agency) = (number(i), Agency::new(AGENCIES[a]).unwrap());
                    if whole.contains(&id) {
                        continue;
                    }
                    let listings = model.entry(id.clone()).or_default();
                    let meta = EntryMeta {
                        reason: Reason::SCAM_CALL,
                        agency: agency.clone(),
                        listed_at: Timestamp(NOW.0 - 100 + version),
                        expires_at: (expiry % 4 != 0).then(|| Timestamp(NOW.0 + expiry)),
                    };
                    let new = Entry { id: id.clone(), meta: meta.clone() };
                    match (what, listings.contains_key(&agency)) {
                        // Every listing of it, as a format-1 removal does.
                        (3, _) if !listings.is_empty() && changes.keys().filter(|(j, _)| *j == i).count() == 1 => {
                            listings.clear();
                            whole.insert(id.clone());
                            ops.push(Op::Remove(id.clone(), None));
                        }
                        (0 | 3, false) => {
                            listings.insert(agency, meta);
                            ops.push(Op::Add(new));
                        }
                        (1, true) => {
                            listings.insert(agency, meta);
                            ops.push(Op::Update(new));
                        }
                        (_, true) => {
                            listings.remove(&agency);
                            ops.push(Op::Remove(id.clone(), Some(agency)));
                        }
                        _ => {}
                    }
                    if model[&id].is_empty() {
                        model.remove(&id);
                    }
                }
                let all: Vec<Entry> = model
                    .iter()
                    .flat_map(|(id, l)| l.values().map(|m| Entry { id: id.clone(), meta: m.clone() }))
                    .collect();
                let delta = c.verified_delta(version, ops, ListState::of(&all));
                replica.apply_delta(&delta, "test").unwrap();
                let index = LookupIndex::open(replica.index_path()).unwrap();
                for now in [NOW, Timestamp(NOW.0 + 20), Timestamp(NOW.0 + 41)] {
                    answers_like(&index, &model, &asked, now);
                }
            }
            replica.publish_index().unwrap();
            let rebuilt = LookupIndex::open(replica.index_path()).unwrap();
            answers_like(&rebuilt, &model, &asked, NOW);
            drop(replica);

            let all: Vec<Entry> = model
                .iter()
                .flat_map(|(id, l)| l.values().map(|m| Entry { id: id.clone(), meta: m.clone() }))
                .collect();
            let fresh = tempfile::tempdir().unwrap();
            let mut joined = Replica::open(fresh.path(), "th-national").unwrap();
            let snapshot = c.verified_snapshot(deltas.len() as u64, all);
            joined.apply_snapshot(&snapshot, "test", &mut |_| {}).unwrap();
            let streamed = LookupIndex::open(joined.index_path()).unwrap();
            answers_like(&streamed, &model, &asked, Timestamp(NOW.0 + 20));
        }
    }
}
