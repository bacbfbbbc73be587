//! The transparency log: the centre records every file it lists; `verify`
//! checks the log and, given a checkpoint kept earlier, that the log extends
//! it; a daemon shows its checkpoint and refuses a directory whose history
//! is not an extension of the one it saw (two directories both at "version
//! 3", signed with the same key, each passing `verify` on its own), a
//! tampered entry bundle, and a feed that drops its log, answering from the
//! last good version throughout.

use std::path::Path;

use blocklist_core::document::Manifest;
use blocklist_core::verify::read_unverified;

use crate::daemon::{polling, publish, Daemon, Site};
use crate::support::{copy_dir, fails, ok, run, s, Centre, Server};

fn manifest(dir: &Path) -> Manifest {
    read_unverified(&std::fs::read(dir.join("manifest")).unwrap()).unwrap()
}

/// The log's size, as the manifest's checkpoint says.
fn log_size(dir: &Path) -> u64 {
    manifest(dir).log.expect("a checkpoint").checkpoint().size
}

/// A copy of `centre`'s directory as it is now, publishing with the same
/// keys: what a second history signed by the same centre starts from.
fn copy_of(centre: &Centre) -> Centre {
    let copy = Centre {
        tmp: tempfile::tempdir().unwrap(),
        dir: centre.tmp.path().join("fork"),
        root_key: centre.root_key.clone(),
        publish_key: centre.publish_key.clone(),
    };
    copy_dir(&centre.dir, &copy.dir);
    copy
}

/// Waits until the daemon's last error names `expected`; checks it still
/// answers from `version`, `listed` and not `unlisted`.
fn refused(daemon: &Daemon, expected: &str, version: u64, listed: &str, unlisted: &str) {
    let status = daemon.wait_status(expected, |s| {
        s["last_error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(expected))
    });
    assert_eq!(status["version"], version, "{status:#}");
    assert!(daemon.listed("domain", listed), "{status:#}");
    assert!(!daemon.listed("domain", unlisted), "{status:#}");
}

#[test]
fn every_listed_file_is_logged_and_a_fork_is_refused_by_verify_and_the_daemon() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["one.example"], &[]);
    publish(&centre, "v2.txt", &["two.example"], &[]);
    // The root, two deltas: each listed file recorded once, in order.
    assert_eq!(log_size(&centre.dir), 3);
    let entries = std::fs::read(centre.dir.join("log/tile/entries/000.p/3")).unwrap();
    let text = String::from_utf8_lossy(&entries);
    assert!(
        text.contains("root 1 ") && text.contains("delta 1 ") && text.contains("delta 2 "),
        "{text}"
    );
    assert!(centre.dir.join("log/tile/0/000.p/3").is_file());
    let verified = ok(&["verify", s(&centre.dir), "--root", s(&centre.first_root())]);
    assert!(verified.contains("log of 3 file(s)"), "{verified}");

    // The fork: a copy of the directory at version 2 publishes other changes.
    let forked = copy_of(&centre);
    let copy = forked.dir.clone();
    publish(&centre, "v3.txt", &["three.example"], &[]);
    for (i, name) in ["a.example", "b.example", "c.example"].iter().enumerate() {
        publish(&forked, &format!("f{i}.txt"), &[name], &[]);
    }
    // Each passes verify alone, at versions 3 and 5.
    ok(&["verify", s(&copy), "--root", s(&centre.first_root())]);

    let server = Server::start(&centre.dir);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    let status = daemon.wait_version(3);
    assert_eq!(status["log"]["size"], 4, "{status:#}");
    assert_eq!(status["log"]["origin"], "blocklist/th-test", "{status:#}");
    let (_, metrics) = daemon.get("/metrics");
    assert!(metrics.contains("blocklistd_log_size 4"), "{metrics}");

    // An auditor holding the daemon's checkpoint finds the fork.
    let kept = site.tmp.path().join("kept.checkpoint");
    std::fs::write(&kept, status["log"]["checkpoint"].as_str().unwrap()).unwrap();
    ok(&["verify", s(&centre.dir), "--log-since", s(&kept)]);
    let err = fails(&["verify", s(&copy), "--log-since", s(&kept)]);
    assert!(err.contains("fork"), "{err}");

    // The daemon, pointed at the fork by the same URL, refuses it.
    let address = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    drop(server);
    let server = Server::start_on(&copy, &address);
    refused(&daemon, "a fork", 3, "three.example", "a.example");
    drop(server);

    // A tampered entry bundle on a fresh replica: refused before anything applies.
    let tampered = centre.tmp.path().join("tampered");
    copy_dir(&centre.dir, &tampered);
    let bundle = tampered.join("log/tile/entries/000.p/4");
    let mut bytes = std::fs::read(&bundle).unwrap();
    let at = bytes.len() - 3;
    bytes[at] ^= 0x01;
    std::fs::write(&bundle, bytes).unwrap();
    let server = Server::start(&tampered);
    let fresh = Site::new();
    let other = fresh.start(&polling(&centre.first_root(), &[&server.url]));
    let status = other.wait_status("the log refused", |s| {
        s["last_error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("log entry") || m.contains("fork"))
    });
    assert!(status["version"].is_null(), "{status:#}");
    drop(server);
    assert!(other.stop());
    assert!(daemon.stop());
}

#[test]
fn a_daemon_that_saw_the_log_refuses_a_feed_without_it() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["one.example"], &[]);
    let server = Server::start(&centre.dir);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    daemon.wait_version(1);
    // The same list re-signed without its checkpoint, at a higher serial.
    let key = blocklistd::centre::keyfile::read_secret(&centre.publish_key).unwrap();
    let mut stripped = manifest(&centre.dir);
    stripped.serial += 1;
    stripped.log = None;
    std::fs::write(
        centre.dir.join("manifest"),
        blocklist_core::document::Document::sign(&stripped, &[&key]).unwrap(),
    )
    .unwrap();
    refused(
        &daemon,
        "a feed never drops its log",
        1,
        "one.example",
        "two.example",
    );
    // Kept across a restart: the checkpoint is in log.db, shown at once.
    assert!(daemon.stop());
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    assert_eq!(daemon.status()["log"]["size"], 2);
    refused(
        &daemon,
        "a feed never drops its log",
        1,
        "one.example",
        "two.example",
    );
    assert!(daemon.stop());
}

#[test]
fn a_dropped_manifest_is_taken_with_its_log_and_a_forked_one_is_rejected() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["one.example"], &[]);
    let forked = copy_of(&centre);
    let fork = forked.dir.clone();
    publish(&centre, "v2.txt", &["two.example"], &[]);
    publish(&forked, "f1.txt", &["f1.example"], &[]);
    publish(&forked, "f2.txt", &["f2.example"], &[]);

    let site = Site::new();
    let daemon = site.start(&format!(
        "trust_root = {:?}\n[drop]\nsettle = \"100ms\"\nrescan_interval = \"1s\"\n",
        s(&centre.first_root())
    ));
    let inbox = site.inbox();
    copy_dir(&centre.dir.join("deltas"), &inbox.join("deltas"));
    copy_dir(&centre.dir.join("log"), &inbox.join("log"));
    std::fs::copy(centre.dir.join("manifest"), inbox.join("manifest")).unwrap();
    let status = daemon.wait_status("version 2 and the log", |s| {
        s["version"] == 2 && s["log"]["size"] == 3
    });
    assert_eq!(status["degraded"], false, "{status:#}");

    // The fork's manifest, first without its log's bundles, then with them.
    std::fs::copy(fork.join("manifest"), inbox.join("manifest")).unwrap();
    let reason = inbox.join("rejected/manifest.reason");
    crate::support::wait_until(
        "the fork's manifest rejected",
        || daemon.log_text(),
        || reason.is_file(),
    );
    let text = std::fs::read_to_string(&reason).unwrap();
    assert!(text.contains("tile/entries/000.p/4"), "{text}");
    std::fs::remove_file(&reason).unwrap();
    copy_dir(&fork.join("log"), &inbox.join("log"));
    std::fs::copy(fork.join("manifest"), inbox.join("manifest")).unwrap();
    crate::support::wait_until(
        "the fork's manifest rejected again",
        || daemon.log_text(),
        || reason.is_file(),
    );
    let text = std::fs::read_to_string(&reason).unwrap();
    assert!(text.contains("a fork"), "{text}");
    let status = daemon.status();
    assert_eq!(
        (status["version"].as_u64(), status["log"]["size"].as_u64()),
        (Some(2), Some(3))
    );
    assert!(daemon.listed("domain", "two.example"));
    assert!(daemon.stop());
}

/// Runs `blocklist witness` as `witness.example` on `target`, writing the
/// cosigned checkpoint to `out`; `Ok` with its output, `Err` with its error.
pub(crate) fn witness(
    centre: &Centre,
    key: &Path,
    state: &Path,
    target: &str,
    out: &Path,
) -> Result<String, String> {
    let root = centre.first_root();
    let args = [
        "witness",
        target,
        "--name",
        "witness.example",
        "--key",
        s(key),
        "--root",
        s(&root),
        "--state",
        s(state),
        "--out",
        s(out),
    ];
    let run = run(&args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    if run.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

#[test]
fn a_witness_cosigns_only_extensions_and_a_daemon_requiring_it_waits_for_its_cosignature() {
    // The publish key is replaced at once: the witness, pinned to root 1,
    // must follow the rotation the log records to check the checkpoints.
    let mut centre = Centre::new();
    let next = centre.tmp.path().join("publish2");
    ok(&["keygen", s(&next)]);
    ok(&[
        "rotate",
        s(&centre.dir),
        "--sign-with",
        s(&centre.root_key),
        "--add-publish-key",
        s(&next.with_extension("pub")),
        "--remove-publish-key",
        s(&centre.publish_key.with_extension("pub")),
    ]);
    centre.publish_key = next.with_extension("key");
    publish(&centre, "v1.txt", &["one.example"], &[]);
    let keys = centre.tmp.path().join("witness");
    ok(&["keygen", s(&keys)]);
    let (key, public) = (keys.with_extension("key"), keys.with_extension("pub"));
    let vkey = ok(&[
        "witness-key",
        "--name",
        "witness.example",
        "--key",
        s(&public),
    ]);
    let vkey = vkey.trim();
    assert!(vkey.starts_with("witness.example+"), "{vkey}");
    let state = centre.tmp.path().join("witness-state");
    let out = centre.tmp.path().join("witness.checkpoint");

    // A daemon requiring the witness takes nothing until it has cosigned.
    let server = Server::start(&centre.dir);
    let site = Site::new();
    let config = format!(
        "{}[witnesses]\nkeys = [{vkey:?}]\nneeded = 1\n",
        polling(&centre.first_root(), &[&server.url])
    );
    let daemon = site.start(&config);
    let status = daemon.wait_status("refused for want of the witness", |s| {
        s["last_error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cosigned by 0 of the 1 witnesses needed"))
    });
    assert!(status["version"].is_null(), "{status:#}");

    let said = witness(&centre, &key, &state, s(&centre.dir), &out).unwrap();
    assert!(said.contains("cosigned the log at size 3"), "{said}");
    assert!(
        state.join("root").is_file(),
        "the rotation to root 2 is kept"
    );
    ok(&["cosign", s(&centre.dir), s(&out)]);
    let status = daemon.wait_version(1);
    assert!(
        status["log"]["checkpoint"]
            .as_str()
            .unwrap()
            .contains("\u{2014} witness.example "),
        "{status:#}"
    );
    assert!(daemon.listed("domain", "one.example"));

    // The next version waits for the witness too; the witness reads it over
    // HTTP this time, as the log's replicas do.
    publish(&centre, "v2.txt", &["two.example"], &[]);
    refused(
        &daemon,
        "cosigned by 0 of the 1",
        1,
        "one.example",
        "two.example",
    );
    // A refresh writes the same checkpoint: a cosignature added stays.
    witness(&centre, &key, &state, &server.url, &out).unwrap();
    ok(&["cosign", s(&centre.dir), s(&out)]);
    ok(&["refresh", s(&centre.dir), "--key", s(&centre.publish_key)]);
    daemon.wait_version(2);
    assert!(daemon.listed("domain", "two.example"));

    // A fork of the log: a copy at version 2 that published other changes
    // once the witness had cosigned the true version 3. The witness refuses
    // it, writes nothing and keeps its state.
    let forked = copy_of(&centre);
    let fork = forked.dir.clone();
    publish(&centre, "v3.txt", &["three.example"], &[]);
    witness(&centre, &key, &state, s(&centre.dir), &out).unwrap();
    publish(&forked, "f.txt", &["forked.example"], &[]);
    publish(&forked, "g.txt", &["forked2.example"], &[]);
    let before = std::fs::read(&out).unwrap();
    let err = witness(&centre, &key, &state, s(&fork), &out).unwrap_err();
    assert!(err.contains("fork"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), before);
    // The centre refuses a cosignature of another checkpoint than its own.
    let err = fails(&["cosign", s(&fork), s(&out)]);
    assert!(err.contains("is not this log's checkpoint"), "{err}");
    // The witness still follows the true log.
    witness(&centre, &key, &state, s(&centre.dir), &out).unwrap();
    ok(&["cosign", s(&centre.dir), s(&out)]);
    daemon.wait_version(3);
    drop(server);
    assert!(daemon.stop());
}
