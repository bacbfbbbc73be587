//! `blocklistd` under faults: a tampered file and a rolled-back manifest are
//! refused with the state unchanged and the reason in status (a snapshot
//! download leaving no file behind); an expired
//! manifest turns the daemon degraded while lookups keep answering; SIGKILL
//! during a sync is followed by a clean restart; a second daemon on the same
//! data folder is refused.

use std::time::{Duration, Instant};

use super::*;

#[test]
fn rollback_and_tampered_delta_are_refused_with_state_unchanged_and_reason_in_status() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["r1.example"], &[]);
    let old_manifest = std::fs::read(centre.dir.join("manifest")).unwrap();
    publish(&centre, "v2.txt", &["r2.example"], &[]);
    let server = Server::start(&centre.dir);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    daemon.wait_version(2);

    // Rollback: an older, validly signed manifest is served again; within
    // its lifetime it is a lagging cache, passed over and named.
    let current = std::fs::read(centre.dir.join("manifest")).unwrap();
    std::fs::write(centre.dir.join("manifest"), &old_manifest).unwrap();
    let status = daemon.wait_status("a stale mirror", |s| s["last_sync"]["result"] == "stale");
    assert_eq!(status["version"], 2, "state unchanged: {status:#}");
    assert!(status["passed_over"][0]["message"]
        .as_str()
        .unwrap()
        .contains("rollback refused: manifest serial"));
    assert!(daemon.listed("domain", "r2.example"));
    std::fs::write(centre.dir.join("manifest"), &current).unwrap();

    // Tamper: delta 3 has one byte flipped on the server.
    publish(&centre, "v3.txt", &["r3.example"], &[]);
    let delta = centre
        .files("deltas")
        .into_iter()
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("3-"))
        .unwrap();
    let mut bytes = std::fs::read(&delta).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&delta, &bytes).unwrap();
    let status = daemon.wait_status("a digest mismatch", |s| {
        s["last_error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("digest mismatch"))
    });
    assert_eq!(status["version"], 2, "state unchanged: {status:#}");
    let file = status["last_error"]["file"].as_str().unwrap();
    assert!(
        file.contains("/deltas/3-"),
        "the tampered file is named: {file}"
    );
    assert_eq!(index_version(&site.data()), 2);
    assert!(!daemon.listed("domain", "r3.example"));
    let (_, metrics) = daemon.get("/metrics");
    assert!(
        !metrics.contains("blocklistd_sync_failures_total{source=\"http\"} 0"),
        "{metrics}"
    );

    // Repaired on the server: the daemon recovers.
    bytes[last] ^= 1;
    std::fs::write(&delta, &bytes).unwrap();
    daemon.wait_version(3);
    assert!(daemon.listed("domain", "r3.example"));
}

#[test]
fn an_oversized_file_is_refused_at_its_announced_size() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["big1.example"], &[]);
    let delta = centre.files("deltas").pop().unwrap();
    let mut bytes = std::fs::read(&delta).unwrap();
    bytes.extend(std::iter::repeat_n(0u8, 1 << 20));
    std::fs::write(&delta, &bytes).unwrap();
    let server = Server::start(&centre.dir);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    let status = daemon.wait_status("a size refusal", |s| {
        s["last_error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("larger than"))
    });
    assert_eq!(status["version"], Value::Null);
}

#[test]
fn a_tampered_or_oversized_snapshot_download_applies_nothing_and_leaves_no_file() {
    let centre = Centre::new();
    let domains: Vec<String> = (0..2_000).map(|i| format!("s{i}.example")).collect();
    let refs: Vec<&str> = domains.iter().map(String::as_str).collect();
    // One publish with a snapshot: a fresh daemon bootstraps from the snapshot.
    publish(&centre, "v1.txt", &refs, &["--snapshot-every", "1"]);
    let snapshot = centre.files("snapshots").pop().unwrap();
    let good = std::fs::read(&snapshot).unwrap();
    let server = Server::start(&centre.dir);
    let site = Site::new();
    let download = site.data().join("published/.tmp/snapshot.download");
    let mut tampered = good.clone();
    tampered[good.len() / 2] ^= 0x20;
    let mut longer = good.clone();
    longer.extend_from_slice(&[0; 4096]);
    let mut daemon = None;
    for (case, bytes, refusal) in [
        ("a bad byte in the middle", tampered, "digest mismatch"),
        ("more bytes than announced", longer, "larger than"),
    ] {
        std::fs::write(&snapshot, &bytes).unwrap();
        let running = daemon
            .get_or_insert_with(|| site.start(&polling(&centre.first_root(), &[&server.url])));
        let status = running.wait_status(case, |s| {
            s["last_error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains(refusal))
                && s["last_error"]["file"]
                    .as_str()
                    .is_some_and(|f| f.contains("/snapshots/1-"))
        });
        assert_eq!(status["version"], Value::Null, "{case}: {status:#}");
        assert!(!site.data().join("lookup.idx").exists(), "{case}");
        assert!(!download.exists(), "{case}: the download was left behind");
    }
    // Repaired on the server: the daemon bootstraps, and keeps no download.
    std::fs::write(&snapshot, &good).unwrap();
    let daemon = daemon.unwrap();
    daemon.wait_version(1);
    assert!(daemon.listed("domain", "s1999.example"));
    assert!(!download.exists());
}

#[test]
fn an_expired_manifest_turns_status_degraded_while_lookups_keep_answering() {
    let centre = Centre::new();
    publish(
        &centre,
        "v1.txt",
        &["e1.example"],
        &["--manifest-lifetime", "3s"],
    );
    let server = Server::start(&centre.dir);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    let status = daemon.wait_version(1);
    assert_eq!(status["degraded"], false, "{status:#}");
    let status = daemon.wait_status("degraded by expiry", |s| s["degraded"] == true);
    let reasons = status["degraded_reasons"].to_string();
    assert!(reasons.contains("expired"), "{reasons}");
    assert!(
        daemon.listed("domain", "e1.example"),
        "lookups keep answering"
    );
    let (code, body) = daemon.get("/healthz");
    assert_eq!(code, 200);
    assert!(body.contains("degraded"), "{body}");
    let (_, metrics) = daemon.get("/metrics");
    assert!(metrics.contains("blocklistd_degraded 1"), "{metrics}");

    // A refresh at the centre clears it.
    ok(&["refresh", s(&centre.dir), "--key", s(&centre.publish_key)]);
    daemon.wait_status("fresh again", |s| s["degraded"] == false);
}

#[test]
fn sigkill_during_sync_then_a_clean_restart_reaches_the_newest_version() {
    let centre = Centre::new();
    // Big enough that a bootstrap takes a while in a debug build.
    let domains: Vec<String> = (0..40_000).map(|i| format!("k{i}.example")).collect();
    let refs: Vec<&str> = domains.iter().map(String::as_str).collect();
    publish(&centre, "v1.txt", &refs, &["--snapshot-every", "1"]);
    publish(&centre, "v2.txt", &["k-last.example"], &[]);
    let server = Server::start(&centre.dir);
    let site = Site::new();
    let config = polling(&centre.first_root(), &[&server.url]);
    // Killed at three points: at once, once the catch-up has started (the
    // snapshot download or apply under way), and right after the snapshot
    // applied (before the delta).
    let log = site.tmp.path().join("daemon.log");
    let seen = |needle: &str| {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches(needle)
            .count()
    };
    for moment in [None, Some("catching up"), Some("applied snapshot")] {
        let before = moment.map_or(0, seen);
        let daemon = site.start(&config);
        if let Some(needle) = moment {
            let deadline = Instant::now() + Duration::from_secs(30);
            while seen(needle) <= before && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(2));
            }
            assert!(seen(needle) > before, "never saw {needle:?}");
        }
        daemon.kill();
    }
    let daemon = site.start(&config);
    let started = Instant::now();
    let status = daemon.wait_version(2);
    eprintln!("restart reached version 2 in {:?}", started.elapsed());
    assert_eq!(status["entries"], 40_001);
    assert!(daemon.listed("domain", "k39999.example"));
    assert!(daemon.listed("domain", "k-last.example"));
    assert_eq!(index_version(&site.data()), 2);
    assert!(daemon.stop());
}

#[test]
fn a_second_daemon_on_the_same_data_folder_is_refused_naming_the_holder() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["one.example"], &[]);
    let server = Server::start(&centre.dir);
    let site = Site::new();
    // The usual mistake: the same config started twice, port and all.
    let config = site.write_config(&format!(
        "{}\n[api]\nlisten = \"127.0.0.1:{}\"\n",
        polling(&centre.first_root(), &[&server.url]),
        free_port()
    ));
    let first = Daemon::spawn(&config, &site.log());
    first.wait_version(1);
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_blocklistd"))
        .args(["--config", s(&config)])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success(), "{stderr}");
    // Told why before it binds the port (not "address in use"), and never
    // announces itself as listening.
    assert!(
        stderr.contains("in use by another blocklistd")
            && stderr.contains(&site.data().display().to_string())
            && stderr.contains(&format!("locked by pid {}", first.pid())),
        "{stderr}"
    );
    assert!(second.stdout.is_empty(), "{:?}", second.stdout);
    assert!(first.listed("domain", "one.example"));
    // The lock goes with its process, even a killed one.
    first.kill();
    let again = Daemon::spawn(&config, &site.log());
    again.wait_version(1);
    assert!(again.stop());
}
