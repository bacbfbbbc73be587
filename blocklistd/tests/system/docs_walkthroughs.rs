//! The walkthroughs of docs/CENTRE.md (going on from the README's) and
//! docs/OPERATIONS.md (key ceremony, rotations, revocation, backup and
//! restore), their marked `sh` blocks run verbatim with the built `blocklist`,
//! and a daemon following what they publish.

use std::path::Path;
use std::process::Command;

use blocklist_core::Sha256;

use crate::daemon::{polling, Site};
use crate::support::*;

/// The `sh` blocks that follow a `<!-- walkthrough` marker in `doc` (a path
/// from the workspace root), in order.
pub fn walkthrough_blocks(doc: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(doc);
    let text = std::fs::read_to_string(&path).unwrap();
    text.split("<!-- walkthrough")
        .skip(1)
        .map(|marked| {
            let block = marked
                .split("```sh\n")
                .nth(1)
                .unwrap_or_else(|| panic!("{doc}: a walkthrough marker without a sh block"));
            block.split("\n```").next().unwrap().to_owned()
        })
        .collect()
}

/// Runs `script` as a reader would paste it (bash, stopping at the first
/// failure) in `dir`, with the `blocklist` under test first on PATH; returns
/// its stdout.
pub fn run_script(dir: &Path, script: &str) -> String {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_blocklist")).parent().unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        run.status.success(),
        "{script}\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    stdout
}

/// The folder a walkthrough runs in, seen as the centre it makes there:
/// `pub/`, with its keys in `keys/`.
fn walkthrough_centre(root_key: &str) -> Centre {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, root_key, publish_key) = (
        tmp.path().join("pub"),
        tmp.path().join(root_key),
        tmp.path().join("keys/publish.key"),
    );
    Centre {
        tmp,
        dir,
        root_key,
        publish_key,
    }
}

/// Writes an agency's reports of `domains` (phishing) to `name` in `dir`: the
/// input the OPERATIONS walkthrough takes as given.
fn reports(dir: &Path, name: &str, domains: &[&str]) {
    let rows: String = domains
        .iter()
        .map(|d| format!("domain,{d},phishing\n"))
        .collect();
    std::fs::write(dir.join(name), format!("kind,value,reason\n{rows}")).unwrap();
}

#[test]
fn the_centre_walkthrough_after_the_readmes_is_served_audited_and_followed_by_a_daemon() {
    let centre = walkthrough_centre("keys/root.key");
    let [readme]: [String; 1] = walkthrough_blocks("README.md").try_into().unwrap();
    // The second block (agencies' submissions) runs in `submissions.rs`.
    let [quick_start, _submissions]: [String; 2] =
        walkthrough_blocks("docs/CENTRE.md").try_into().unwrap();
    run_script(centre.tmp.path(), &readme);
    let report = run_script(centre.tmp.path(), &quick_start);
    assert!(
        centre.files("snapshots")[0]
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("2-"),
        "{report}"
    );

    // Hosted, audited over HTTP and followed as the paragraph after the
    // block says, on a free port (tests run side by side).
    let root = centre.first_root();
    let server = Server::start(&centre.dir);
    ok(&["verify", &server.url, "--root", s(&root)]);
    let site = Site::new();
    let daemon = site.start(&polling(&root, &[&server.url]));
    daemon.wait_status("version 2, fresh", |s| {
        s["version"] == 2 && s["freshness"] == "fresh"
    });
    let answer = daemon.json("/v1/check?kind=domain&value=login.bank-th.example");
    assert_eq!(answer["reason"], "phishing", "{answer}");
    let lifetime = answer["expires_at"].as_u64().unwrap() - answer["listed_at"].as_u64().unwrap();
    assert!(lifetime.abs_diff(90 * 86_400) < 60, "{answer}");
    assert!(daemon.listed("url", "https://parcel-fee.example/track"));
    assert!(!daemon.listed("domain", "scam.example"), "delisted");
    assert!(
        daemon.listed("number", "081-234-5678"),
        "kept from the README"
    );
    assert!(daemon.stop());
}

#[test]
fn the_operations_walkthrough_rotates_revokes_and_restores_while_a_daemon_follows() {
    let centre = walkthrough_centre("keys/root-a.key");
    let at = centre.tmp.path();
    // Every marked block by name: a block added to or dropped from the doc fails here.
    let blocks: [String; 8] = walkthrough_blocks("docs/OPERATIONS.md").try_into().unwrap();
    let [ceremony, first, key_rotation, holder_leaves, renewal, revocation, backup, restore] =
        blocks;

    let report = run_script(at, &ceremony);
    let root = centre.first_root();
    let sha256 = Sha256::of(&std::fs::read(&root).unwrap()).to_string();
    let fingerprint = report.lines().last().unwrap_or_default();
    assert!(fingerprint.starts_with(&sha256), "{report}");
    reports(at, "reports.csv", &["day1.example"]);
    run_script(at, &first);

    // A member: the first root handed over out of band, the feed over HTTP
    // on a port that stays the same when the centre comes back.
    let listen = format!("127.0.0.1:{}", free_port());
    let server = Server::start_on(&centre.dir, &listen);
    let site = Site::new();
    let member_root = site.tmp.path().join("th-national.root");
    std::fs::copy(&root, &member_root).unwrap();
    let daemon = site.start(&polling(&member_root, &[&server.url]));
    let status = daemon.wait_version(1);
    assert_eq!(status["trust_root"]["sha256"], sha256.as_str());

    let on_root = |version: u64, root: u64| {
        daemon.wait_status(&format!("version {version} under root {root}"), |s| {
            s["version"] == version && s["trust_root"]["version"] == root
        })
    };
    reports(at, "reports.csv", &["day2.example"]);
    run_script(at, &key_rotation);
    on_root(2, 2);
    run_script(at, &holder_leaves);
    on_root(2, 3);
    run_script(at, &renewal);
    on_root(2, 4);
    reports(at, "reports.csv", &["day3.example"]);
    run_script(at, &revocation);
    on_root(3, 5);

    // What the revoked keys and a lone root key can no longer sign.
    let key = |name: &str| at.join("keys").join(name);
    let (publish_2, root_a, root_c) = (key("publish-2.key"), key("root-a.key"), key("root-c.key"));
    let dir = s(&centre.dir);
    let refused = fails(&["refresh", dir, "--key", s(&publish_2)]);
    assert!(
        refused.contains("not a publish key of trust root 5"),
        "{refused}"
    );
    let refused = fails(&[
        "rotate",
        dir,
        "--sign-with",
        s(&root_c),
        "--sign-with",
        s(&root_a),
    ]);
    assert!(refused.contains("a root key of neither"), "{refused}");
    let refused = fails(&["rotate", dir, "--sign-with", s(&root_a)]);
    assert!(refused.contains("the threshold is 2"), "{refused}");

    // Backed up, then a publish the backup misses reaches the member before
    // the publishing host is lost.
    run_script(at, &backup);
    reports(at, "reports.csv", &["day4.example", "lost.example"]);
    run_script(
        at,
        "blocklist publish pub --key keys/publish-3.key --agency th-aoc reports.csv",
    );
    daemon.wait_version(4);
    assert!(server.stop());
    std::fs::remove_dir_all(&centre.dir).unwrap();

    // The agencies send the lost reports again, but for one withdrawn
    // meanwhile (so the member's version 4 is certainly not the restored
    // centre's), and the day's news.
    reports(at, "reports-since-backup.csv", &["day4.example"]);
    reports(at, "reports.csv", &["day5.example"]);
    // A member's log.db, as the operator copies it from any member's data folder.
    std::fs::copy(site.data().join("log.db"), at.join("member-log.db")).unwrap();
    run_script(at, &restore);
    let server = Server::start_on(&centre.dir, &listen);
    // A round while the centre was down left a failure behind: the round
    // that applies the restored chain clears it.
    let status = daemon.wait_status("version 5, not degraded", |s| {
        s["version"] == 5 && s["degraded"] == false
    });
    assert_eq!(status["reanchoring"], serde_json::Value::Null, "{status:#}");
    assert!(daemon.log_text().contains("diverged"));
    for day in 1..=5 {
        assert!(
            daemon.listed("domain", &format!("day{day}.example")),
            "day {day}"
        );
    }
    assert!(!daemon.listed("domain", "lost.example"));
    ok(&["verify", &server.url, "--root", s(&member_root)]);
    assert!(daemon.stop());
}
