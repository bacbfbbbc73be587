//! A centre that signs what its own checks refuse: every delta it forges in
//! an agency's name (or under an override it signed itself) is refused by the daemon, which keeps answering from the
//! last good version. The forger is this test: it holds the centre's publish
//! key and writes deltas and manifests with `blocklist_core` directly,
//! bypassing every check `blocklist publish` makes.

use std::path::Path;

use blocklist_core::document::{
    CarriedSubmission, Delta, DocType, Document, FileRef, ListState, ListingRef, Manifest, Op,
    Override, RemovalReason, Snapshot, Submission,
};
use blocklist_core::store::Store;
use blocklist_core::verify::read_unverified;
use blocklist_core::{Commitment, Entry, Sha256, Timestamp};
use blocklistd::centre::keyfile;

use crate::daemon::{polling, Daemon, Site};
use crate::submissions::{
    aoc_lists_a_number, centre_with_agencies, dsi_removes_aocs_number, list_numbers, revoke_dsi_key,
};
use crate::support::{copy_dir, fails, ok, record_in_log, s, Centre, Server};

/// The forging centre: a copy of the honest directory, served on its own.
struct Forger<'c> {
    centre: &'c Centre,
    dir: std::path::PathBuf,
}

impl Forger<'_> {
    /// Signs the next version after the one the copied manifest lists, with
    /// `ops` (`old` is the listing each removes or updates, for the state
    /// digest), `carried` submissions and `overrides`, and lists it in a new
    /// manifest.
    fn forge(
        &self,
        ops: Vec<Op>,
        old: &[Entry],
        carried: Vec<CarriedSubmission>,
        overrides: Vec<Vec<u8>>,
    ) {
        let key = keyfile::read_secret(&self.centre.publish_key).unwrap();
        let manifest_path = self.dir.join("manifest");
        let manifest: Manifest = read_unverified(&std::fs::read(&manifest_path).unwrap()).unwrap();
        // The state's commitments, from the honest centre's store: the
        // forged manifest lists the honest version (see `reset`).
        let honest = Store::read_view(self.centre.dir.join(".centre/state.db")).unwrap();
        let held = honest.state().unwrap();
        assert_eq!(held.version, Some(manifest.version));
        let mut state = held.commitments;
        for entry in old {
            state.remove(entry);
        }
        for op in &ops {
            if let Op::Add(entry) | Op::Update(entry) = op {
                state.add(entry);
            }
        }
        let state = state.state(Commitment::CURRENT);
        let now = Timestamp::now();
        let version = manifest.version.next();
        let delta = Delta {
            list: manifest.list.clone(),
            version,
            created_at: now,
            ops,
            state,
            submissions: carried,
            overrides,
            extensions: vec![],
        };
        let bytes = delta.sign(&[&key]).unwrap();
        let sha256 = Sha256::of(&bytes);
        std::fs::write(
            self.dir
                .join(format!("deltas/{}-{sha256}.delta", version.get())),
            &bytes,
        )
        .unwrap();
        let mut next = manifest;
        next.serial += 1;
        next.version = version;
        next.state = state;
        next.issued_at = now;
        next.expires_at = Timestamp(now.0 + 86_400);
        next.deltas.push(FileRef {
            version,
            sha256,
            size: bytes.len() as u64,
        });
        record_in_log(&self.dir, &mut next, &self.centre.publish_key);
        std::fs::write(&manifest_path, next.sign(&[&key]).unwrap()).unwrap();
    }

    /// Signs a snapshot of the next version: the newest snapshot listed
    /// with `extra` added, and lists it in a new manifest as the base.
    fn forge_snapshot(&self, extra: Entry) {
        let key = keyfile::read_secret(&self.centre.publish_key).unwrap();
        let manifest_path = self.dir.join("manifest");
        let manifest: Manifest = read_unverified(&std::fs::read(&manifest_path).unwrap()).unwrap();
        let newest = manifest.snapshots.last().expect("a snapshot is listed");
        let honest = std::fs::read(self.dir.join(newest.path(DocType::Snapshot))).unwrap();
        let mut snapshot: Snapshot = read_unverified(&honest).unwrap();
        let now = Timestamp::now();
        let version = manifest.version.next();
        snapshot.entries.push(extra);
        snapshot.state = ListState::of(&snapshot.entries);
        snapshot.version = version;
        snapshot.created_at = now;
        let bytes = snapshot.sign(&[&key]).unwrap();
        let file = FileRef {
            version,
            sha256: Sha256::of(&bytes),
            size: bytes.len() as u64,
        };
        std::fs::write(self.dir.join(file.path(DocType::Snapshot)), &bytes).unwrap();
        let mut next = manifest;
        next.serial += 1;
        next.version = version;
        next.state = snapshot.state;
        next.issued_at = now;
        next.expires_at = Timestamp(now.0 + 86_400);
        next.snapshots.push(file);
        record_in_log(&self.dir, &mut next, &self.centre.publish_key);
        std::fs::write(&manifest_path, next.sign(&[&key]).unwrap()).unwrap();
    }

    /// Puts the forged version back out of the manifest's reach by copying
    /// the honest manifest's content under a higher serial: the next forgery
    /// again targets the version after the honest one. The forger's log
    /// keeps its forgeries (a log is never rewritten: the replicas saw them).
    fn reset(&self, serial_floor: u64) {
        let key = keyfile::read_secret(&self.centre.publish_key).unwrap();
        let mut honest: Manifest =
            read_unverified(&std::fs::read(self.centre.dir.join("manifest")).unwrap()).unwrap();
        honest.serial = serial_floor + 1;
        honest.issued_at = Timestamp::now();
        record_in_log(&self.dir, &mut honest, &self.centre.publish_key);
        std::fs::write(self.dir.join("manifest"), honest.sign(&[&key]).unwrap()).unwrap();
    }

    fn serial(&self) -> u64 {
        read_unverified::<Manifest>(&std::fs::read(self.dir.join("manifest")).unwrap())
            .unwrap()
            .serial
    }
}

/// Waits until the daemon reports an error naming `expected`, still at
/// `version` and still listing the number.
fn refused(daemon: &Daemon, expected: &str, version: u64) {
    let status = daemon.wait_status(expected, |s| {
        s["last_error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(expected))
    });
    assert_eq!(status["version"], version, "{status:#}");
    assert!(daemon.listed("number", "081-234-5678"), "{status:#}");
}

fn submission_file(path: &Path, accepted_at: Timestamp) -> CarriedSubmission {
    CarriedSubmission {
        accepted_at,
        file: std::fs::read(path).unwrap(),
    }
}

#[test]
fn deltas_a_centre_forges_in_an_agencys_name_are_refused_by_the_daemon_which_keeps_answering() {
    let (centre, aoc_key, dsi_key) = centre_with_agencies();
    let (numbers, listing) = aoc_lists_a_number(&centre, &aoc_key);
    ok(&centre.publish_args(&["--submission", s(&listing)]));
    // The delta carries th-aoc's signed submission: the daemon checks it.
    let shown = ok(&["inspect", s(&centre.files("deltas")[0])]);
    assert!(shown.contains("carried submission"), "{shown}");
    let delta1: Delta =
        read_unverified(&std::fs::read(&centre.files("deltas")[0]).unwrap()).unwrap();
    let [Op::Add(listed)] = &delta1.ops[..] else {
        panic!("{delta1:?}")
    };

    let forger = Forger {
        centre: &centre,
        dir: centre.tmp.path().join("forged"),
    };
    copy_dir(&centre.dir, &forger.dir);
    let server = Server::start(&forger.dir);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    daemon.wait_version(1);

    // 1. The centre removes th-aoc's listing on its own authority.
    forger.forge(
        vec![Op::Remove(listed.id.clone(), None)],
        std::slice::from_ref(listed),
        vec![],
        vec![],
    );
    refused(
        &daemon,
        "removes number +66812345678 in the name of agency th-aoc without a submission of that agency asking for it (W6)",
        1,
    );
    // An auditor's `blocklist verify` of the forged directory says the same.
    let audit = fails(&["verify", s(&forger.dir), "--root", s(&centre.first_root())]);
    assert!(
        audit.contains(
            "in the name of agency th-aoc without a submission of that agency asking for it (W6)"
        ),
        "{audit}"
    );

    // 2. It carries th-dsi's signed removal, which the rules refuse.
    let removal = dsi_removes_aocs_number(&centre, &dsi_key, &numbers);
    forger.reset(forger.serial());
    forger.forge(
        vec![Op::Remove(listed.id.clone(), None)],
        std::slice::from_ref(listed),
        vec![submission_file(&removal, Timestamp::now())],
        vec![],
    );
    refused(
        &daemon,
        "number +66812345678 is listed by th-aoc; th-dsi may not remove it (W5)",
        1,
    );

    // 3. It replays th-aoc's listing to carry a change of its own.
    let mut changed = listed.clone();
    changed.meta.reason = blocklist_core::Reason::FRAUD;
    forger.reset(forger.serial());
    forger.forge(
        vec![Op::Update(changed)],
        std::slice::from_ref(listed),
        vec![delta1.submissions[0].clone()],
        vec![],
    );
    refused(&daemon, "a replay (W4)", 1);

    // 4. th-dsi's key is revoked; a listing it signs after that is refused
    // by the daemon as by the centre.
    revoke_dsi_key(&centre, &dsi_key);
    ok(&["refresh", s(&centre.dir), "--key", s(&centre.publish_key)]);
    copy_dir(
        &centre.dir.join("registries"),
        &forger.dir.join("registries"),
    );
    let other = centre.input("other.txt", b"081 234 9999\n");
    let late = list_numbers(
        &centre,
        "th-dsi",
        &dsi_key,
        "dsi-late.submission",
        &other,
        "fraud",
    );
    forger.reset(forger.serial());
    let accepted_at = Timestamp::now();
    let added = Entry {
        id: blocklist_core::Identifier::from_canonical(
            blocklist_core::Kind::Number,
            "+66812349999",
        )
        .unwrap(),
        meta: blocklist_core::EntryMeta {
            reason: blocklist_core::Reason::FRAUD,
            agency: blocklist_core::Agency::new("th-dsi").unwrap(),
            listed_at: accepted_at,
            expires_at: None,
        },
    };
    forger.forge(
        vec![Op::Add(added)],
        &[],
        vec![submission_file(&late, accepted_at)],
        vec![],
    );
    refused(&daemon, "of agency th-dsi is revoked since", 1);
    assert!(!daemon.listed("number", "081-234-9999"));

    // 5. It signs an override with its publish key: the root names no
    // override keys, and the publish key could never be one.
    let decision = Override {
        list: delta1.list.clone(),
        made_at: Timestamp::now(),
        why: RemovalReason::APPEAL_UPHELD,
        note: "forged".into(),
        removals: vec![ListingRef {
            id: listed.id.clone(),
            agency: listed.meta.agency.clone(),
            listed_at: listed.meta.listed_at,
        }],
        updates: vec![],
        extensions: vec![],
    };
    let publish_key = keyfile::read_secret(&centre.publish_key).unwrap();
    forger.reset(forger.serial());
    forger.forge(
        vec![Op::Remove(listed.id.clone(), None)],
        std::slice::from_ref(listed),
        vec![],
        vec![decision.sign(&[&publish_key]).unwrap()],
    );
    refused(
        &daemon,
        "carried override 0: an override needs override keys, and trust root 1 names none (W7)",
        1,
    );
    assert!(daemon.stop());
    // The honest centre's own directory still verifies end to end, and its
    // snapshot carries th-aoc's sequence, so a replica that starts from it
    // refuses a replay of th-aoc's listing too (W4).
    ok(&["verify", s(&centre.dir), "--root", s(&centre.first_root())]);
    ok(&["snapshot", s(&centre.dir), "--key", s(&centre.publish_key)]);
    let snapshot: Snapshot =
        read_unverified(&std::fs::read(&centre.files("snapshots")[0]).unwrap()).unwrap();
    let listing_sequence = read_unverified::<Submission>(&delta1.submissions[0].file)
        .unwrap()
        .sequence;
    assert_eq!(
        snapshot.sequences.values().copied().collect::<Vec<_>>(),
        [listing_sequence.get()]
    );
}

#[test]
fn a_snapshot_a_centre_forges_in_an_agencys_name_is_refused_by_a_daemon_starting_from_it() {
    let (centre, aoc_key, _) = centre_with_agencies();
    let (_, listing) = aoc_lists_a_number(&centre, &aoc_key);
    ok(&centre.publish_args(&["--submission", s(&listing)]));
    ok(&["snapshot", s(&centre.dir), "--key", s(&centre.publish_key)]);
    // The snapshot carries th-aoc's submission, the origin of its listing.
    let snapshot: Snapshot =
        read_unverified(&std::fs::read(&centre.files("snapshots")[0]).unwrap()).unwrap();
    let delta1: Delta =
        read_unverified(&std::fs::read(&centre.files("deltas")[0]).unwrap()).unwrap();
    assert_eq!(snapshot.origins.len(), 1);
    assert_eq!(snapshot.origins[0].submission, delta1.submissions[0]);
    let shown = ok(&["inspect", s(&centre.files("snapshots")[0])]);
    assert!(
        shown.contains("origin: version 1 ") && shown.contains("agency=th-aoc"),
        "{shown}"
    );

    // A daemon that starts from the honest snapshot traces the listing.
    let site = Site::new();
    let honest = Server::start(&centre.dir);
    let daemon = site.start(&polling(&centre.first_root(), &[&honest.url]));
    daemon.wait_version(1);
    assert!(daemon.listed("number", "081-234-5678"));
    assert!(daemon.stop());

    // The forger's snapshot lists a number in th-aoc's name that th-aoc
    // never submitted: a daemon that starts from it refuses it, and holds
    // no version.
    let forger = Forger {
        centre: &centre,
        dir: centre.tmp.path().join("forged"),
    };
    copy_dir(&centre.dir, &forger.dir);
    let mut forged = snapshot.entries[0].clone();
    forged.id =
        blocklist_core::Identifier::from_canonical(blocklist_core::Kind::Number, "+66812349999")
            .unwrap();
    forger.forge_snapshot(forged);
    let server = Server::start(&forger.dir);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    let expected = "lists number +66812349999 under agency th-aoc since ";
    let status = daemon.wait_status(expected, |s| {
        s["last_error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(expected) && m.contains("(W8)"))
    });
    assert!(status["version"].is_null(), "{status:#}");
    assert!(daemon.stop());
    // An auditor's `blocklist verify` of the forged directory says the same.
    let audit = fails(&["verify", s(&forger.dir), "--root", s(&centre.first_root())]);
    assert!(audit.contains(expected), "{audit}");

    // A centre store without origins (one made before it kept them) takes
    // them back from the deltas the manifest lists before it snapshots.
    let more = centre.input("more.txt", b"scam.example\n");
    ok(&centre.publish_args(&["--kind", "domain", "--agency", "centre-desk", s(&more)]));
    let state = rusqlite::Connection::open(centre.dir.join(".centre/state.db")).unwrap();
    state
        .execute("UPDATE entries SET added = NULL, set_by = NULL", [])
        .unwrap();
    ok(&["snapshot", s(&centre.dir), "--key", s(&centre.publish_key)]);
    let origins: i64 = state
        .query_row(
            "SELECT COUNT(*) FROM entries WHERE set_by IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(origins, 1);
    let newest = centre.files("snapshots").pop().unwrap();
    let shown = ok(&["inspect", s(&newest)]);
    assert!(
        shown.contains("origin: version 1 ") && shown.contains("agency=th-aoc"),
        "{shown}"
    );
}

#[test]
fn a_dropped_delta_carrying_a_submission_waits_for_the_registry_that_makes_it_verify() {
    let (centre, aoc_key, _) = centre_with_agencies();
    let (_, listing) = aoc_lists_a_number(&centre, &aoc_key);
    ok(&centre.publish_args(&["--submission", s(&listing)]));
    let site = Site::new();
    let daemon = site.start(&format!(
        "trust_root = {:?}\n[drop]\nsettle = \"100ms\"\nrescan_interval = \"1s\"\n",
        s(&centre.first_root())
    ));
    // The courier brings the delta before the registry: it waits, saying why.
    let into_inbox = |folder: &str| {
        let inbox = site.inbox().join(folder);
        std::fs::create_dir_all(&inbox).unwrap();
        for file in centre.files(folder) {
            std::fs::copy(&file, inbox.join(file.file_name().unwrap())).unwrap();
        }
    };
    into_inbox("deltas");
    let status = daemon.wait_status("the delta waiting", |s| {
        s["drop_left_in_place"][0]["state"] == "waiting"
    });
    let reason = status["drop_left_in_place"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("waiting for the agency registry or trust root that makes it verify")
            && reason.contains("no agency registry is held"),
        "{status:#}"
    );
    into_inbox("registries");
    daemon.wait_version(1);
    assert!(daemon.listed("number", "081-234-5678"));
    assert!(daemon.stop());
}
