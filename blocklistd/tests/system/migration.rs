//! The upgrade from the release before overrides (e41385f): its publish
//! directory and its replica's data folder, made by that release's binaries
//! (`tests/fixtures/release-e41385f`), are taken up by today's. Listings
//! made there under labels become legacy listings once agencies are
//! principals: the centre alone can no longer remove them, an override can.
//! Their documents carry the lane sum as state digest (format 1): the
//! stores take up the LtHash beside it, and what today's centre signs is of
//! format 3, read by a replica that follows the whole chain.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use blocklist_core::document::{envelope, DocType, Document as _, Manifest};
use blocklist_core::store::Store;
use blocklist_core::verify::read_unverified;
use blocklist_core::Timestamp;
use blocklistd::centre::keyfile;

use crate::daemon::{polling, Site};
use crate::submissions::{agency_keys, register};
use crate::support::{copy_dir, fails, ok, s, Server};

/// A copy of the fixture: its publish directory, its keys (secret ones
/// made 0600, as git keeps no modes) and its replica's data folder.
struct Release {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    keys: PathBuf,
}

impl Release {
    fn copy(site: &Site) -> Release {
        let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/release-e41385f");
        let tmp = tempfile::tempdir().unwrap();
        let (dir, keys) = (tmp.path().join("pub"), tmp.path().join("keys"));
        copy_dir(&fixture.join("pub"), &dir);
        copy_dir(&fixture.join("keys"), &keys);
        for secret in ["root.key", "publish.key"] {
            std::fs::set_permissions(keys.join(secret), std::fs::Permissions::from_mode(0o600))
                .unwrap();
        }
        copy_dir(&fixture.join("data"), &site.data());
        // The empty folders the release made, which git does not keep.
        for empty in ["registries", "snapshots", ".centre/tmp"] {
            std::fs::create_dir_all(dir.join(empty)).unwrap();
        }
        for empty in ["deltas", "snapshots", "registries", "roots", ".tmp"] {
            std::fs::create_dir_all(site.data().join("published").join(empty)).unwrap();
        }
        Release {
            _tmp: tmp,
            dir,
            keys,
        }
    }

    fn key(&self, name: &str) -> PathBuf {
        self.keys.join(name)
    }

    fn root(&self) -> PathBuf {
        std::fs::read_dir(self.dir.join("roots"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    }
}

#[test]
fn a_release_before_overrides_upgrades_and_its_labels_become_legacy_listings() {
    let site = Site::new();
    let old = Release::copy(&site);
    let publish_key = old.key("publish.key");
    let server = Server::start(&old.dir);
    // Daemons upgrade first: a new one follows the old centre, whose
    // manifest (re-signed here as that release did, in format 1, so that
    // it has not expired) signs the lane sum.
    let manifest_path = old.dir.join("manifest");
    let mut manifest: Manifest = read_unverified(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest.serial += 1;
    manifest.expires_at = Timestamp::now().plus(3600);
    let key = keyfile::read_secret(&publish_key).unwrap();
    let payload = manifest.encode_payload().unwrap();
    let resigned = envelope::seal_format(1, DocType::Manifest, &payload, &[&key]).unwrap();
    std::fs::write(&manifest_path, resigned).unwrap();
    let early = Site::new();
    let first = early.start(&polling(&old.root(), &[&server.url]));
    let status = first.wait_status("the round that reached version 2", |s| {
        s["version"] == 2
            && ["applied", "failed"].contains(&s["last_sync"]["result"].as_str().unwrap_or(""))
    });
    // The replica's state checked against the manifest's, as the lane sum.
    assert_eq!(status["last_sync"]["result"], "applied", "{status:#}");
    assert!(first.stop());
    // The operator's first command after the upgrade: a fresh manifest.
    ok(&["refresh", s(&old.dir), "--key", s(&publish_key)]);
    ok(&["verify", s(&old.dir), "--root", s(&old.root())]);
    // The release's files are of document format 1, still read; what
    // today's centre writes is of format 3 (FORMAT.md, "Envelope"), its
    // state digest the LtHash the centre's store took up (S1).
    let format = |path: &Path| std::fs::read(path).unwrap()[4];
    for delta in std::fs::read_dir(old.dir.join("deltas")).unwrap() {
        assert_eq!(format(&delta.unwrap().path()), 1);
    }
    assert_eq!(format(&old.dir.join("manifest")), 3);
    holds_the_manifest_state(&old.dir.join(".centre/state.db"), &old.dir);
    // The replica the old daemon left, taken up as it is.
    let daemon = site.start(&polling(&old.root(), &[&server.url]));
    daemon.wait_version(2);
    assert!(daemon.listed("domain", "legacy-scam.example"));

    // Agencies become principals; an appeal board gets override keys.
    let centre_keys = tempfile::tempdir().unwrap();
    let centre = crate::support::Centre {
        tmp: centre_keys,
        dir: old.dir.clone(),
        root_key: old.key("root.key"),
        publish_key: publish_key.clone(),
    };
    let (aoc, dsi) = agency_keys(&centre);
    register(&centre, &aoc, &dsi);
    // Until override keys exist, nothing but the centre could remove what
    // a label listed before, so it still may, as it did before the upgrade.
    let dropped = centre.input("dropped.txt", b"old-phish.example\n");
    ok(&centre.publish_args(&["--kind", "domain", "--remove", s(&dropped)]));
    let judge = centre.tmp.path().join("judge");
    ok(&["keygen", s(&judge)]);
    ok(&[
        "rotate",
        s(&old.dir),
        "--sign-with",
        s(&centre.root_key),
        "--add-override-key",
        s(&judge.with_extension("pub")),
    ]);
    ok(&["refresh", s(&old.dir), "--key", s(&publish_key)]);

    // Once they do (from the second after the root's issued_at: a delta
    // of that very second may have been signed before the root), the
    // label can no longer remove what it listed before...
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let gone = centre.input("gone.txt", b"legacy-scam.example\n");
    let refused = fails(&centre.publish_args(&[
        "--kind",
        "domain",
        "--agency",
        "centre-desk",
        "--remove",
        s(&gone),
    ]));
    assert!(
        refused.contains("listed under label centre-desk")
            && refused.contains("only an override updates or removes such a listing (W6)")
            && refused.contains("blocklist override"),
        "{refused}"
    );
    // ...while what a label lists now is still the centre's to change.
    let fresh = centre.input("fresh.txt", b"fresh-scam.example\n");
    ok(&centre.publish_args(&["--kind", "domain", "--agency", "centre-desk", s(&fresh)]));
    ok(&centre.publish_args(&["--kind", "domain", "--remove", s(&fresh)]));

    // The board's override removes the legacy listing, on every replica.
    let decision = centre.tmp.path().join("legacy.override");
    ok(&[
        "override",
        s(&old.dir),
        "--kind",
        "domain",
        "legacy-scam.example",
        "--why",
        "cleared",
        "--note",
        "Listed before agencies signed; no agency answers for it",
        "--sign-with",
        s(&judge.with_extension("key")),
        "-o",
        s(&decision),
    ]);
    ok(&centre.publish_args(&["--override", s(&decision)]));
    let status = daemon.wait_version(6);
    assert!(
        !daemon.listed("domain", "legacy-scam.example"),
        "{status:#}"
    );
    assert!(!daemon.listed("domain", "old-phish.example"));
    assert!(daemon.listed("number", "081-234-5678"));
    let history = daemon.json("/v1/history?kind=domain&value=legacy-scam.example");
    assert_eq!(
        history["overrides"][0]["agency"], "centre-desk",
        "{history:#}"
    );
    assert!(daemon.stop());
    ok(&["verify", s(&old.dir), "--root", s(&old.root())]);
    // The replica the old daemon left took up the LtHash at its first open
    // and followed it since, as did the centre's store.
    holds_the_manifest_state(&site.data().join("list.db"), &old.dir);
    holds_the_manifest_state(&old.dir.join(".centre/state.db"), &old.dir);
    // Every document signed since the upgrade is of format 3; a new
    // replica follows the chain through both formats.
    for delta in std::fs::read_dir(old.dir.join("deltas")).unwrap() {
        let path = delta.unwrap().path();
        let (_, version, _) = blocklist_core::document::parse_file_path(
            path.strip_prefix(&old.dir).unwrap().to_str().unwrap(),
        )
        .unwrap();
        let expected = if version.get() <= 2 { 1 } else { 3 };
        assert_eq!(format(&path), expected, "{path:?}");
    }
    let fresh = Site::new();
    let follower = fresh.start(&polling(&old.root(), &[&server.url]));
    follower.wait_version(6);
    assert!(follower.listed("number", "081-234-5678"));
    assert!(follower.stop());
    holds_the_manifest_state(&fresh.data().join("list.db"), &old.dir);
}

/// Checks the store at `db` against its own entries (both commitments)
/// and against the state the manifest of `dir` signed, which is of format 3.
fn holds_the_manifest_state(db: &Path, dir: &Path) {
    let manifest_bytes = std::fs::read(dir.join("manifest")).unwrap();
    assert_eq!(manifest_bytes[4], 3, "the manifest's format");
    let manifest: Manifest = read_unverified(&manifest_bytes).unwrap();
    let store = Store::read_view(db).unwrap();
    assert_eq!(store.check_integrity().unwrap(), manifest.state, "{db:?}");
    assert_eq!(store.state().unwrap().version, Some(manifest.version));
}
