//! The drop folder under an idle daemon and a careless operator: rounds
//! counted through `/metrics`, files judged once, junk and oversized files
//! rejected unread with their reasons, foreign trust roots and agencies'
//! submissions refused.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::daemon::{publish, Daemon, Site};
use crate::support::*;

/// Drop settings under test: quick to settle; rescans far apart, so that
/// only watcher events can start a round while a test runs.
const QUICK_DROP: &str = "[drop]\nsettle = \"100ms\"\nrescan_interval = \"1h\"\n";

/// A counter (without labels) from `/metrics`.
fn counter(daemon: &Daemon, name: &str) -> u64 {
    let (_, metrics) = daemon.get("/metrics");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} missing from\n{metrics}"))
}

/// Copies `path` into the inbox the safe way: written under a hidden name, renamed in.
fn deliver(inbox: &Path, path: &Path) -> PathBuf {
    std::fs::create_dir_all(inbox).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    let tmp = inbox.join(format!(".{name}"));
    std::fs::copy(path, &tmp).unwrap();
    let target = inbox.join(name);
    std::fs::rename(&tmp, &target).unwrap();
    target
}

/// Polls until `done` holds (at most 30 s).
fn wait_for(daemon: &Daemon, what: &str, done: impl Fn() -> bool) {
    wait_until(what, || daemon.log_text(), done);
}

/// Waits for `blocklistd_drop_rounds_total` to stop moving (no round for a
/// settle and a half), returning it.
fn quiet_rounds(daemon: &Daemon) -> u64 {
    let mut last = counter(daemon, "blocklistd_drop_rounds_total");
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(150));
        let now = counter(daemon, "blocklistd_drop_rounds_total");
        if now == last {
            return now;
        }
        last = now;
    }
    panic!("drop rounds never stopped: {last}");
}

/// The lines the daemon logged that mention `text`.
fn log_lines(daemon: &Daemon, text: &str) -> usize {
    daemon
        .log_text()
        .lines()
        .filter(|line| line.contains(text))
        .count()
}

#[test]
fn idle_daemon_on_the_default_config_runs_a_handful_of_drop_rounds_and_still_wakes_for_a_file() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["idle.example"], &[]);
    let site = Site::new();
    // The embedded default (a data folder relative to where the daemon
    // starts, drop folder on, no sources, trust on first use), with only the
    // rescan pushed out of the way and the API on a free port.
    let config = site.tmp.path().join("default.toml");
    std::fs::write(
        &config,
        "data_dir = \"./blocklistd-data\"\n[drop]\nrescan_interval = \"1h\"\n[api]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_blocklistd"));
    command
        .args(["--config", s(&config)])
        .current_dir(site.tmp.path());
    let daemon = Daemon::spawn_command(command, &site.log());
    let inbox = site.tmp.path().join("blocklistd-data/inbox");
    let before = quiet_rounds(&daemon);
    std::thread::sleep(Duration::from_secs(3));
    let idle = counter(&daemon, "blocklistd_drop_rounds_total") - before;
    // Each round used to wake the next through its own directory opens:
    // ~4,700 rounds a second.
    assert!(idle <= 1, "{idle} drop rounds in 3 idle seconds");

    // A file dropped now wakes a round at once, not at the rescan in an hour
    // (the watcher names it by an absolute path, the folder is relative).
    deliver(&inbox, &centre.first_root());
    deliver(&inbox, &centre.files("deltas")[0]);
    daemon.wait_version(1);
    assert!(daemon.listed("domain", "idle.example"));
    // Moving the files to processed/ wakes nothing more.
    let after = quiet_rounds(&daemon);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(counter(&daemon, "blocklistd_drop_rounds_total"), after);
    assert!(daemon.stop());
}

#[test]
fn sparse_gigabyte_files_beside_a_valid_delta_are_rejected_unread_and_the_delta_applies() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["beside.example"], &[]);
    let site = Site::new();
    let daemon = site.start(&format!(
        "trust_root = {:?}\n{QUICK_DROP}",
        centre.first_root().display().to_string()
    ));
    let inbox = site.inbox();
    std::fs::create_dir_all(&inbox).unwrap();
    // Sparse: they cost no disk, and reading them would cost their size in memory.
    let sparse = |name: &str, head: &[u8], len: u64| {
        let mut file = std::fs::File::create(inbox.join(name)).unwrap();
        file.write_all(head).unwrap();
        file.set_len(len).unwrap();
    };
    let delta = std::fs::read(&centre.files("deltas")[0]).unwrap();
    // Past every cap; a delta's header past the delta cap; a header that
    // announces an 8 TiB payload in a small file.
    sparse("huge.bin", b"", 3 << 30);
    sparse("big.delta", &delta[..16], 600 << 20);
    let mut announces = delta[..16].to_vec();
    announces[8..16].copy_from_slice(&(1u64 << 43).to_le_bytes());
    sparse("announces.delta", &announces, 4096);
    deliver(&inbox, &centre.files("deltas")[0]);

    daemon.wait_version(1);
    assert!(daemon.listed("domain", "beside.example"));
    let rejected = inbox.join("rejected");
    for (name, reason) in [
        ("huge.bin", "more than any document may hold"),
        ("big.delta", "more than a delta may hold"),
        (
            "announces.delta",
            "the header announces a delta of at least",
        ),
    ] {
        let note = rejected.join(format!("{name}.reason"));
        wait_for(&daemon, &note.display().to_string(), || note.is_file());
        let text = std::fs::read_to_string(&note).unwrap();
        assert!(text.contains(reason), "{name}: {text}");
        assert!(rejected.join(name).is_file());
    }
    let peak = peak_resident_bytes(daemon.pid());
    assert!(
        peak < 256 << 20,
        "peak resident memory {peak} bytes: a sparse file was read"
    );
    assert!(daemon.stop());
}

/// The process's peak resident set (`VmHWM`).
fn peak_resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|kb| kb.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM in /proc/<pid>/status")
        * 1024
}

#[test]
fn five_hundred_junk_files_are_rejected_with_reasons_in_about_one_log_line_each() {
    const FILES: usize = 500;
    let site = Site::new();
    let daemon = site.start(
        "[drop]\nsettle = \"100ms\"\nrescan_interval = \"1h\"\nreject_incomplete_after = \"2s\"\n",
    );
    let inbox = site.inbox();
    std::fs::create_dir_all(&inbox).unwrap();
    let junk = inbox.join(".junk");
    std::fs::create_dir_all(&junk).unwrap();
    // Half are not documents at all; half are documents cut short, which
    // wait (in case they are still being written) until they are old enough.
    let mut truncated = b"BLKL\x01\x03\0\0".to_vec();
    truncated.extend_from_slice(&1000u64.to_le_bytes());
    truncated.extend_from_slice(b"cut short");
    for i in 0..FILES {
        let text: &[u8] = if i % 2 == 0 {
            b"<html>not a blocklist document</html>"
        } else {
            &truncated
        };
        std::fs::write(junk.join(format!("junk-{i}.delta")), text).unwrap();
    }
    let lines_before = daemon.log_text().lines().count();
    // Into the inbox at once, as a careless copy would.
    for i in 0..FILES {
        let name = format!("junk-{i}.delta");
        std::fs::rename(junk.join(&name), inbox.join(&name)).unwrap();
    }
    let rejected = inbox.join("rejected");
    let reasons = || {
        std::fs::read_dir(&rejected)
            .map(|dir| {
                dir.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".reason"))
                    .count()
            })
            .unwrap_or(0)
    };
    wait_for(&daemon, "every junk file rejected", || reasons() == FILES);
    quiet_rounds(&daemon);
    let text = std::fs::read_to_string(rejected.join("junk-0.delta.reason")).unwrap();
    assert!(text.contains("not a blocklist document"), "{text}");
    let text = std::fs::read_to_string(rejected.join("junk-1.delta.reason")).unwrap();
    assert!(text.contains("not a complete blocklist document"), "{text}");
    // Each used to log a line every round until rejected: thousands.
    let lines = daemon.log_text().lines().count() - lines_before;
    assert!(
        lines <= FILES,
        "{lines} log lines for {FILES} junk files:\n{}",
        daemon.log_text()
    );
    let status = daemon.status();
    let last = &status["last_drop_rejected"];
    assert!(
        last["file"].as_str().unwrap().contains("junk-"),
        "{status:#}"
    );
    assert!(!last["message"].as_str().unwrap().is_empty(), "{status:#}");
    assert!(daemon.stop());
}

#[test]
fn an_incomplete_file_is_logged_once_and_named_in_status_until_it_changes_then_applies() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["whole.example"], &[]);
    publish(&centre, "v2.txt", &["later.example"], &[]);
    let site = Site::new();
    let daemon = site.start(&format!(
        "trust_root = {:?}\n{QUICK_DROP}reject_incomplete_after = \"1h\"\n",
        centre.first_root().display().to_string()
    ));
    let inbox = site.inbox();
    let deltas = centre.files("deltas");
    let bytes = std::fs::read(&deltas[0]).unwrap();
    std::fs::create_dir_all(&inbox).unwrap();
    let half = inbox.join(deltas[0].file_name().unwrap());
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    let name = half.file_name().unwrap().to_str().unwrap().to_owned();
    wait_for(&daemon, "the half file noticed", || {
        log_lines(&daemon, &name) == 1
    });
    // Rounds woken by other files (delta 2 waits for delta 1) leave it alone.
    let rounds = quiet_rounds(&daemon);
    deliver(&inbox, &deltas[1]);
    wait_for(&daemon, "more rounds", || {
        counter(&daemon, "blocklistd_drop_rounds_total") > rounds
    });
    quiet_rounds(&daemon);
    std::fs::write(inbox.join("other.txt"), b"x").unwrap();
    quiet_rounds(&daemon);
    assert_eq!(log_lines(&daemon, &name), 1, "{}", daemon.log_text());
    assert!(half.is_file(), "an incomplete file stays in place");
    // The status names each file left in place, with its state and reason.
    let status = daemon.status();
    let left = status["drop_left_in_place"].as_array().unwrap();
    let state_of = |file: &str| {
        left.iter()
            .find(|l| l["file"].as_str().unwrap().ends_with(file))
            .unwrap_or_else(|| panic!("{file} not named: {status:#}"))
    };
    let incomplete = state_of(&name);
    assert_eq!(incomplete["state"], "incomplete", "{status:#}");
    assert!(
        incomplete["reason"]
            .as_str()
            .unwrap()
            .contains("not a complete"),
        "{status:#}"
    );
    let waiting = state_of(deltas[1].file_name().unwrap().to_str().unwrap());
    assert_eq!(waiting["state"], "waiting", "{status:#}");
    assert!(
        waiting["reason"].as_str().unwrap().contains("version 2"),
        "{status:#}"
    );
    assert_eq!(status["drop_left_in_place_total"], left.len());
    let gauge = daemon.get("/metrics").1;
    assert!(
        gauge.contains(&format!(
            "blocklistd_drop_files_left_in_place {}",
            left.len()
        )),
        "{gauge}"
    );
    assert!(
        gauge.contains(&format!(
            "blocklistd_drop_file_left_in_place{{file=\"{name}\",state=\"incomplete\"}} 1"
        )),
        "{gauge}"
    );

    // Completed in place: judged afresh, applied, and delta 2 follows.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&half)
        .unwrap();
    file.write_all(&bytes[bytes.len() / 2..]).unwrap();
    drop(file);
    daemon.wait_version(2);
    assert!(daemon.listed("domain", "whole.example"));
    assert!(inbox.join("processed").join(&name).is_file());
    daemon.wait_status("the applied deltas no longer named", |status| {
        status["drop_left_in_place"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| !l["file"].as_str().unwrap().contains(".delta"))
    });
    assert!(daemon.stop());
}

#[test]
fn a_foreign_trust_root_dropped_in_the_inbox_is_rejected_with_the_reason() {
    let centre = Centre::new();
    let foreign = Centre::new();
    let site = Site::new();
    let daemon = site.start(&format!(
        "trust_root = {:?}\n{QUICK_DROP}",
        centre.first_root().display().to_string()
    ));
    let inbox = site.inbox();
    std::fs::create_dir_all(inbox.join("roots")).unwrap();
    // Same version and list name as the pinned root, other keys.
    let target = inbox.join("roots").join("foreign.root");
    std::fs::copy(foreign.first_root(), &target).unwrap();
    let reason = inbox.join("rejected").join("foreign.root.reason");
    wait_for(&daemon, "the foreign root rejected", || reason.is_file());
    let text = std::fs::read_to_string(&reason).unwrap();
    assert!(text.contains("not one of the pinned chain"), "{text}");
    let status = daemon.status();
    assert!(
        status["last_drop_rejected"]["file"]
            .as_str()
            .unwrap()
            .ends_with("foreign.root"),
        "{status:#}"
    );
    // The pinned root itself, dropped again, is held.
    let own = deliver(&inbox, &centre.first_root());
    let processed = inbox.join("processed").join(own.file_name().unwrap());
    wait_for(&daemon, "the pinned root filed as held", || {
        processed.is_file()
    });
    assert!(daemon.stop());
}

#[test]
fn an_agency_submission_dropped_in_a_daemons_inbox_is_rejected_as_the_centres() {
    let centre = Centre::new();
    let key = centre.tmp.path().join("th-aoc");
    ok(&["keygen", s(&key)]);
    let numbers = centre.input("numbers.txt", b"081 234 5678\n");
    let submission = centre.tmp.path().join("aoc.submission");
    ok(&[
        "submit",
        "--list",
        "th-test",
        "--agency",
        "th-aoc",
        "--key",
        s(&key.with_extension("key")),
        "--kind",
        "number",
        s(&numbers),
        "-o",
        s(&submission),
    ]);
    let site = Site::new();
    let daemon = site.start(&format!(
        "trust_root = {:?}\n{QUICK_DROP}",
        centre.first_root().display().to_string()
    ));
    let inbox = site.inbox();
    deliver(&inbox, &submission);
    let reason = inbox.join("rejected").join("aoc.submission.reason");
    wait_for(&daemon, "the submission rejected", || reason.is_file());
    let text = std::fs::read_to_string(&reason).unwrap();
    assert!(text.contains("a submission is for the centre"), "{text}");
    assert!(daemon.stop());
}
