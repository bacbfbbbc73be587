//! The replica: applies publish an index readers can use at once, and a crash
//! between commit and publish is repaired on open.

use blocklist_core::document::*;
use blocklist_core::index::{IndexBuilder, LookupIndex, FORMAT_VERSION};
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
        Op::Remove(first[0].id.clone()),
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
