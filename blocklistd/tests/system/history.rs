//! Long histories, published in-process through the centre's library (the
//! CLI would take minutes for thousands of versions) and followed by replicas
//! through the daemon's own planner and the real verifier: the manifest stays
//! small, clients catch up from anywhere, expired entries are purged.

use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::time::Duration;

use blocklist_core::document::{DocType, Op};
use blocklist_core::index::LookupIndex;
use blocklist_core::replica::Replica;
use blocklist_core::verify::{self, read_unverified, Verifier};
use blocklist_core::{Kind, Rules, Timestamp};
use blocklistd::centre::ingest::{CsvColumns, Defaults, Format, ReadContext};
use blocklistd::centre::keyfile;
use blocklistd::centre::publish::{self, History, PublishOptions, PublishReport, MAX_LISTED_FILES};
use blocklistd::daemon::sync::plan;

use crate::support::*;

/// The centre of the tests, publishing at simulated times.
struct Publisher {
    centre: Centre,
    verifier: Verifier,
}

impl Publisher {
    fn new() -> Publisher {
        let centre = Centre::new();
        let verifier = Verifier::pin(&std::fs::read(centre.first_root()).unwrap()).unwrap();
        Publisher { centre, verifier }
    }

    /// Publishes `additions` (a CSV file's rows) and `removals` (domains) at `now`.
    fn publish(
        &self,
        now: Timestamp,
        history: History,
        additions: &str,
        removals: &[String],
    ) -> PublishReport {
        let added = self.centre.input(
            "add.csv",
            format!("kind,value,agency,expires\n{additions}").as_bytes(),
        );
        let removed = self
            .centre
            .input("remove.txt", removals.join("\n").as_bytes());
        let options = PublishOptions {
            keys: vec![keyfile::read_secret(&self.centre.publish_key)
                .unwrap()
                .into()],
            additions: vec![(added, Format::Csv)],
            removals: vec![(removed, Format::Plain)],
            submissions: vec![],
            overrides: vec![],
            by: Default::default(),
            context: ReadContext {
                defaults: Defaults {
                    kind: Some(Kind::Domain),
                    ..Defaults::default()
                },
                rules: Rules::default(),
                now,
                csv: CsvColumns::default(),
            },
            skip_invalid: false,
            // A snapshot every version: each publish then replays no delta,
            // which keeps thousands of publishes quick in a debug build.
            snapshot_every: NonZeroU64::MIN,
            manifest_lifetime: Duration::from_secs(3 * 86_400),
            history,
        };
        publish::publish(&self.centre.dir, &options).unwrap()
    }

    /// Brings `replica` to the published version as `blocklistd` would: the
    /// manifest verified, the daemon's plan, each file checked against its
    /// listing, verified and applied. Returns the plan's steps.
    fn sync(&self, replica: &mut Replica, now: Timestamp) -> Vec<(DocType, u64)> {
        let dir = &self.centre.dir;
        let manifest_bytes = std::fs::read(dir.join("manifest")).unwrap();
        let manifest = self.verifier.manifest(&manifest_bytes, now, None).unwrap();
        let held = replica.state().unwrap().version;
        let steps = plan(held.map_or(0, |v| v.get()), &manifest).unwrap();
        for (doc, file) in &steps {
            let rel = file.path(*doc);
            let bytes = std::fs::read(dir.join(&rel))
                .unwrap_or_else(|e| panic!("{rel} is listed but cannot be read: {e}"));
            verify::check_file(&rel, &bytes, file).unwrap();
            let current = replica.state().unwrap().version;
            match doc {
                DocType::Delta => {
                    let delta = self.verifier.delta(&bytes, current).unwrap();
                    replica.apply_delta(&delta, &rel).unwrap();
                }
                DocType::Snapshot => {
                    let file = std::fs::File::open(dir.join(&rel)).unwrap();
                    let snapshot = self.verifier.snapshot_file(file, current).unwrap();
                    replica
                        .apply_snapshot(&snapshot, &rel, &mut |_| {})
                        .unwrap();
                }
                other => panic!("the plan lists a {other:?}"),
            }
        }
        let state = replica.state().unwrap();
        assert_eq!(state.version, Some(manifest.version));
        assert_eq!(state.state, manifest.state);
        steps
            .iter()
            .map(|(doc, f)| (*doc, f.version.get()))
            .collect()
    }

    fn manifest_bytes(&self) -> Vec<u8> {
        std::fs::read(self.centre.dir.join("manifest")).unwrap()
    }

    fn listed(&self) -> blocklist_core::document::Manifest {
        read_unverified(&self.manifest_bytes()).unwrap()
    }
}

fn replica_in(dir: &Path) -> (PathBuf, Replica) {
    let path = dir.to_owned();
    let replica = Replica::open(&path, "th-test").unwrap();
    (path, replica)
}

#[test]
fn thousands_of_versions_keep_the_manifest_small_and_clients_catch_up_from_anywhere() {
    // Past the 1,000 versions where the old manifest (39 bytes a version)
    // had grown over 39 KB.
    const VERSIONS: u64 = 1_200;
    const MINUTE: u64 = 60;
    // First at the default grace (a day: 1,440 versions at a publish a
    // minute), so the file cap is what bounds the manifest; then, for the
    // last 200 versions, an hour's grace, which prunes further by age.
    const GRACE: u64 = 60 * MINUTE;
    const BY_AGE_FROM: u64 = VERSIONS - 200;
    let by_age = History {
        delta_grace: Duration::from_secs(GRACE),
        ..History::default()
    };
    let centre = Publisher::new();
    let start = Timestamp::now();
    let at = |version: u64| start.plus(version * MINUTE);
    let data = tempfile::tempdir().unwrap();
    let (_, mut recent) = replica_in(&data.path().join("recent"));
    let mut largest = 0;
    for version in 1..=VERSIONS {
        // One entry in, the one before out: every version is a real change
        // and the list stays small, so the run measures the history only.
        let removals: Vec<String> = (version > 1)
            .then(|| format!("v{}.example", version - 1))
            .into_iter()
            .collect();
        let history = if version > BY_AGE_FROM {
            by_age
        } else {
            History::default()
        };
        let report = centre.publish(
            at(version),
            history,
            &format!("domain,v{version}.example,th-aoc,\n"),
            &removals,
        );
        assert_eq!(report.version.map(|v| v.get()), Some(version));
        largest = largest.max(centre.manifest_bytes().len());
        if version == BY_AGE_FROM {
            let listed = centre.listed();
            let files = listed.deltas.len() + listed.snapshots.len();
            assert!(
                files <= MAX_LISTED_FILES && listed.deltas.len() > 60,
                "at the default grace the cap governs: {files} files listed"
            );
        }
        if version == VERSIONS - 30 {
            centre.sync(&mut recent, at(version));
        }
    }
    let manifest = centre.listed();
    assert!(
        largest < 16 * 1024,
        "a manifest grew to {largest} bytes over {VERSIONS} versions"
    );
    assert!(manifest.deltas.len() + manifest.snapshots.len() <= MAX_LISTED_FILES);
    // The grace holds: every delta published less than an hour ago is
    // listed, and older ones went (sooner than the cap would have them go).
    let youngest_unlisted = manifest.deltas.first().unwrap().version.get() - 1;
    assert!(
        at(youngest_unlisted).0 <= at(VERSIONS).0 - GRACE,
        "delta {youngest_unlisted} is unlisted within its grace"
    );
    assert!(
        manifest.deltas.len() <= 61,
        "{} deltas listed with an hour's grace",
        manifest.deltas.len()
    );
    // Unlisted files are gone from the directory too.
    assert_eq!(centre.centre.files("deltas").len(), manifest.deltas.len());
    assert_eq!(
        centre.centre.files("snapshots").len(),
        manifest.snapshots.len()
    );

    let now = at(VERSIONS);
    centre.sync(&mut recent, now);
    let (_, mut fresh) = replica_in(&data.path().join("fresh"));
    let steps = centre.sync(&mut fresh, now);
    assert_eq!(
        steps.first().map(|s| s.0),
        Some(DocType::Snapshot),
        "from scratch: {steps:?}"
    );
    let out = ok(&[
        "verify",
        s(&centre.centre.dir),
        "--root",
        s(&centre.centre.first_root()),
    ]);
    assert!(out.contains(&format!("version {VERSIONS}")), "{out}");
}

#[test]
fn entries_expired_past_the_grace_are_removed_by_signed_deltas_from_replicas_and_index() {
    let history = History {
        purge_expired_after: Duration::from_secs(3_600),
        ..History::default()
    };
    let centre = Publisher::new();
    let start = Timestamp::now();
    let expiry = start.plus(60);
    let expires = humantime::format_rfc3339(std::time::UNIX_EPOCH + Duration::from_secs(expiry.0));
    centre.publish(
        start,
        history,
        &format!("domain,gone.example,th-aoc,{expires}\ndomain,kept.example,th-aoc,\n"),
        &[],
    );
    let data = tempfile::tempdir().unwrap();
    let (_, mut replica) = replica_in(data.path());
    centre.sync(&mut replica, start);
    let listed = |replica: &Replica, name: &str| {
        let index = LookupIndex::open(replica.index_path()).unwrap();
        // Looked up before the expiry: whether the entry is held at all.
        index.lookup_canonical(Kind::Domain, name, start).is_some()
    };
    assert!(listed(&replica, "gone.example") && listed(&replica, "kept.example"));

    // Expired, but not yet for the grace: kept.
    let report = centre.publish(
        expiry.plus(3_599),
        history,
        "domain,other.example,th-aoc,\n",
        &[],
    );
    assert_eq!(report.purged, 0);
    centre.sync(&mut replica, expiry.plus(3_599));
    assert!(listed(&replica, "gone.example"));

    // Past the grace: the next version removes it, as a signed removal.
    let now = expiry.plus(3_600);
    let report = centre.publish(now, history, "domain,third.example,th-aoc,\n", &[]);
    assert_eq!((report.purged, report.entries), (1, 3), "{report:?}");
    let delta_path = report
        .written
        .iter()
        .find(|p| p.starts_with("deltas/"))
        .unwrap();
    let delta: blocklist_core::document::Delta =
        read_unverified(&std::fs::read(centre.centre.dir.join(delta_path)).unwrap()).unwrap();
    assert!(
        delta
            .ops
            .iter()
            .any(|op| matches!(op, Op::Remove(id, _) if id.as_str() == "gone.example")),
        "{:?}",
        delta.ops
    );
    centre.sync(&mut replica, now);
    assert!(
        !listed(&replica, "gone.example"),
        "the index still holds it"
    );
    assert!(listed(&replica, "kept.example") && listed(&replica, "third.example"));
    let state = replica.state().unwrap();
    assert_eq!(state.state.entries, 3);
}
