//! The agency registry end to end: `blocklist agency` at the centre, a
//! daemon over loopback taking, showing and keeping it, and refusing a
//! registry the publish key alone signed.

use blocklist_core::document::*;
use blocklist_core::verify::read_unverified;
use blocklist_core::{Agency, Kind, Timestamp};
use blocklistd::centre::keyfile;
use serde_json::Value;

use crate::daemon::{polling, publish, publish_as, Site};
use crate::support::*;

/// `blocklist agency SUB DIR args... --sign-with KEY`.
fn agency(centre: &Centre, sub: &str, args: &[&str], signer: &std::path::Path) -> String {
    let mut all = vec!["agency", sub, s(&centre.dir)];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--sign-with", s(signer)]);
    ok(&all)
}

/// A key pair made by `keygen` in the centre's temp folder; its `.pub`.
fn agency_key(centre: &Centre, name: &str) -> std::path::PathBuf {
    let prefix = centre.tmp.path().join(name);
    ok(&["keygen", s(&prefix)]);
    prefix.with_extension("pub")
}

/// The agencies of the daemon's registry, as `id=status`.
/// Registers bank-004 (accounts) with a key made for it.
fn add_bank(centre: &Centre) {
    let bank = agency_key(centre, "bank-004");
    agency(
        centre,
        "add",
        &[
            "--id",
            "bank-004",
            "--name",
            "Bank 004",
            "--kinds",
            "account",
            "--key",
            s(&bank),
        ],
        &centre.root_key,
    );
}

fn agencies(status: &Value) -> Vec<String> {
    status["registry"]["agencies"]
        .as_array()
        .unwrap_or_else(|| panic!("no registry in {status:#}"))
        .iter()
        .map(|a| {
            format!(
                "{}={}",
                a["id"].as_str().unwrap(),
                a["status"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn agencies_added_at_the_centre_reach_the_daemon_a_publish_signed_registry_is_refused_and_a_revocation_shows(
) {
    let centre = Centre::new();
    let (bank, aoc) = (
        agency_key(&centre, "bank-004"),
        agency_key(&centre, "th-aoc"),
    );
    let out = agency(
        &centre,
        "add",
        &[
            "--id",
            "bank-004",
            "--name",
            "Bank 004 fraud team",
            "--kinds",
            "account",
            "--key",
            s(&bank),
        ],
        &centre.root_key,
    );
    assert!(out.contains("wrote registries/1-"), "{out}");
    agency(
        &centre,
        "add",
        &[
            "--id",
            "th-aoc",
            "--name",
            "Anti-Online Scam Operations Centre",
            "--kinds",
            "number,domain",
            "--key",
            s(&aoc),
        ],
        &centre.root_key,
    );
    // The publish key is no root key: the centre refuses before signing.
    let err = fails(&[
        "agency",
        "add",
        s(&centre.dir),
        "--id",
        "x",
        "--name",
        "X",
        "--kinds",
        "number",
        "--key",
        s(&agency_key(&centre, "x")),
        "--sign-with",
        s(&centre.publish_key),
    ]);
    assert!(err.contains("is not a root key of trust root 1"), "{err}");
    let listed = ok(&["agency", "list", s(&centre.dir)]);
    assert!(
        listed.contains("bank-004 \"Bank 004 fraud team\": active, may list account"),
        "{listed}"
    );
    assert!(
        listed.contains(
            "th-aoc \"Anti-Online Scam Operations Centre\": active, may list number, domain"
        ),
        "{listed}"
    );

    publish_as(&centre, "centre-desk", "v1.txt", &["one.example"], &[]);
    let audit = ok(&["verify", s(&centre.dir), "--root", s(&centre.first_root())]);
    assert!(
        audit.contains("2 agency registry version(s) verified"),
        "{audit}"
    );

    let server = Server::start(&centre.dir);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    let status = daemon.wait_status("registry 2", |s| s["registry"]["version"] == 2);
    assert_eq!(agencies(&status), ["bank-004=active", "th-aoc=active"]);
    assert_eq!(status["registry"]["agency_count"], 2);
    let (_, metrics) = daemon.get("/metrics");
    assert!(
        metrics.contains("blocklistd_registry_version 2"),
        "{metrics}"
    );

    // A registry 3 signed by the publish key alone, listed by a manifest the
    // publish key signs: what a stolen online host could make.
    let publish_key = keyfile::read_secret(&centre.publish_key).unwrap();
    let manifest_bytes = std::fs::read(centre.dir.join(MANIFEST_PATH)).unwrap();
    let manifest: Manifest = read_unverified(&manifest_bytes).unwrap();
    let held = std::fs::read(
        centre
            .dir
            .join(manifest.registries[1].path(DocType::Registry)),
    )
    .unwrap();
    let held: Registry = read_unverified(&held).unwrap();
    let mut forged_agencies = held.agencies().to_vec();
    forged_agencies.push(
        AgencyEntry::new(
            Agency::new("forger").unwrap(),
            "Forger",
            vec![Kind::Account],
            vec![publish_key.public_key()],
        )
        .unwrap(),
    );
    let forged = Registry::new(
        held.list.clone(),
        Version::new(3).unwrap(),
        Timestamp::now(),
        forged_agencies,
        vec![],
    )
    .unwrap()
    .sign(&[&publish_key])
    .unwrap();
    let forged_ref = FileRef {
        version: Version::new(3).unwrap(),
        sha256: blocklist_core::Sha256::of(&forged),
        size: forged.len() as u64,
    };
    let forged_path = centre.dir.join(forged_ref.path(DocType::Registry));
    std::fs::write(&forged_path, &forged).unwrap();
    let mut registries = manifest.registries.clone();
    registries.push(forged_ref);
    let mut forging = Manifest {
        serial: manifest.serial + 1,
        registries,
        ..manifest.clone()
    };
    record_in_log(&centre.dir, &mut forging, &centre.publish_key);
    std::fs::write(
        centre.dir.join(MANIFEST_PATH),
        forging.sign(&[&publish_key]).unwrap(),
    )
    .unwrap();
    let status = daemon.wait_status("the forged registry refused", |s| {
        s["last_error"]["file"]
            .as_str()
            .is_some_and(|f| f.contains("registries/3-"))
    });
    let message = status["last_error"]["message"].as_str().unwrap();
    assert!(
        message.contains("which is not a root key of trust root 1"),
        "{message}"
    );
    assert_eq!(status["registry"]["version"], 2, "the registry held stays");
    assert_eq!(agencies(&status), ["bank-004=active", "th-aoc=active"]);
    assert!(
        daemon.listed("domain", "one.example"),
        "lookups are unaffected"
    );

    // The centre revokes bank-004 properly; the next refresh lists it.
    std::fs::remove_file(&forged_path).unwrap();
    agency(&centre, "revoke", &["--id", "bank-004"], &centre.root_key);
    ok(&["refresh", s(&centre.dir), "--key", s(&centre.publish_key)]);
    let status = daemon.wait_status("registry 3", |s| s["registry"]["version"] == 3);
    assert_eq!(agencies(&status), ["bank-004=revoked", "th-aoc=active"]);
    assert!(
        status["registry"]["agencies"][0]["revoked_at"]
            .as_u64()
            .is_some(),
        "{status:#}"
    );

    // A restart keeps the registry in force, with the centre out of reach.
    assert!(daemon.stop());
    drop(server);
    let daemon = site.start(&polling(&centre.first_root(), &["http://127.0.0.1:9"]));
    let status = daemon.status();
    assert_eq!(status["registry"]["version"], 3, "{status:#}");
    assert_eq!(agencies(&status), ["bank-004=revoked", "th-aoc=active"]);
}

#[test]
fn a_rotation_of_the_root_keys_signs_the_registry_again_for_daemons_old_and_new_and_restarts() {
    let centre = Centre::new();
    add_bank(&centre);
    publish(&centre, "v1.txt", &["one.example"], &[]);
    let server = Server::start(&centre.dir);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    daemon.wait_status("registry 1", |s| s["registry"]["version"] == 1);

    let new_root = centre.tmp.path().join("root-2");
    ok(&["keygen", s(&new_root)]);
    let new_root_key = new_root.with_extension("key");
    let out = ok(&[
        "rotate",
        s(&centre.dir),
        "--sign-with",
        s(&centre.root_key),
        "--sign-with",
        s(&new_root_key),
        "--add-root-key",
        s(&new_root.with_extension("pub")),
        "--remove-root-key",
        s(&centre.root_key),
    ]);
    assert!(
        out.contains("wrote roots/2-") && out.contains("wrote registries/1-"),
        "{out}"
    );
    // The next change is signed by the new root key alone.
    agency(&centre, "revoke", &["--id", "bank-004"], &new_root_key);
    ok(&["refresh", s(&centre.dir), "--key", s(&centre.publish_key)]);
    let audit = ok(&["verify", s(&centre.dir), "--root", s(&centre.first_root())]);
    assert!(
        audit.contains("2 root(s)") && audit.contains("2 agency registry version(s)"),
        "{audit}"
    );

    // The daemon that held registry 1 under the old root moves on ...
    let status = daemon.wait_status("registry 2", |s| s["registry"]["version"] == 2);
    assert_eq!(agencies(&status), ["bank-004=revoked"]);
    assert_eq!(status["trust_root"]["version"], 2);
    // ... and keeps a chain a restart verifies under the new root, offline.
    assert!(daemon.stop());
    let offline = site.start(&polling(&centre.first_root(), &["http://127.0.0.1:9"]));
    let status = offline.status();
    assert_eq!(status["registry"]["version"], 2, "{status:#}");
    assert!(
        !offline.log_text().contains("passed over"),
        "{}",
        offline.log_text()
    );
    drop(offline);

    // A new daemon walks the whole chain under the new root.
    let fresh = Site::new();
    let daemon = fresh.start(&polling(&centre.first_root(), &[&server.url]));
    let status = daemon.wait_status("registry 2", |s| s["registry"]["version"] == 2);
    assert_eq!(agencies(&status), ["bank-004=revoked"]);
}

#[test]
fn registries_dropped_out_of_order_wait_their_turn_and_are_taken_in_order() {
    let centre = Centre::new();
    let (bank, aoc) = (
        agency_key(&centre, "bank-004"),
        agency_key(&centre, "th-aoc"),
    );
    for (id, kinds, key) in [("bank-004", "account", &bank), ("th-aoc", "number", &aoc)] {
        agency(
            &centre,
            "add",
            &["--id", id, "--name", id, "--kinds", kinds, "--key", s(key)],
            &centre.root_key,
        );
    }
    publish_as(&centre, "centre-desk", "v1.txt", &["one.example"], &[]);
    let site = Site::new();
    let daemon = site.start(&format!(
        "trust_root = {:?}\n[drop]\nsettle = \"100ms\"\nrescan_interval = \"1s\"\n",
        s(&centre.first_root())
    ));
    let inbox = site.inbox().join("registries");
    std::fs::create_dir_all(&inbox).unwrap();
    let registries = centre.files("registries");
    let copy = |file: &std::path::Path| {
        std::fs::copy(file, inbox.join(file.file_name().unwrap())).unwrap();
    };
    copy(&registries[1]);
    let status = daemon.wait_status("registry 2 waiting", |s| {
        s["drop_left_in_place"][0]["state"] == "waiting"
    });
    assert!(status["registry"].is_null(), "{status:#}");
    copy(&registries[0]);
    let status = daemon.wait_status("registries 1 and 2", |s| s["registry"]["version"] == 2);
    assert_eq!(agencies(&status), ["bank-004=active", "th-aoc=active"]);
}

#[test]
fn a_drop_only_daemon_keeps_the_registry_signed_again_after_a_rotation_and_restarts_with_it() {
    let centre = Centre::new();
    add_bank(&centre);
    publish_as(&centre, "centre-desk", "v1.txt", &["one.example"], &[]);
    let site = Site::new();
    let config = format!(
        "trust_root = {:?}\n[drop]\nsettle = \"100ms\"\nrescan_interval = \"1s\"\n",
        s(&centre.first_root())
    );
    let daemon = site.start(&config);
    // The courier copies the centre's folders into the inbox.
    let carry = |folders: &[&str]| {
        for folder in folders {
            let inbox = site.inbox().join(folder);
            std::fs::create_dir_all(&inbox).unwrap();
            for file in centre.files(folder) {
                std::fs::copy(&file, inbox.join(file.file_name().unwrap())).unwrap();
            }
        }
    };
    carry(&["registries", "deltas"]);
    daemon.wait_status("registry 1 and version 1", |s| {
        s["registry"]["version"] == 1 && s["version"] == 1
    });

    let new_root = centre.tmp.path().join("root-2");
    ok(&["keygen", s(&new_root)]);
    ok(&[
        "rotate",
        s(&centre.dir),
        "--sign-with",
        s(&centre.root_key),
        "--sign-with",
        s(&new_root.with_extension("key")),
        "--add-root-key",
        s(&new_root.with_extension("pub")),
        "--remove-root-key",
        s(&centre.root_key),
    ]);
    carry(&["roots", "registries"]);
    daemon.wait_status("root 2", |s| s["trust_root"]["version"] == 2);
    // Waiting for the drop folder to empty is not enough: it can be empty
    // before the registry signed again is copied in.
    wait_until(
        "the registry signed again kept",
        || daemon.log_text(),
        || {
            daemon
                .log_text()
                .contains("signed again under the root in force: kept in place")
        },
    );
    // A restart verifies the kept registry under root 2: the one signed
    // again, kept in place of the one signed under root 1.
    assert!(daemon.stop());
    let restarted = site.start(&config);
    // The API may answer before the kept registry is read back.
    restarted.wait_status("registry 1 kept", |s| s["registry"]["version"] == 1);
    assert!(
        !restarted.log_text().contains("passed over"),
        "{}",
        restarted.log_text()
    );
}
