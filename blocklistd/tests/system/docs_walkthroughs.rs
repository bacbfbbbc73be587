//! The walkthrough of docs/CENTRE.md, going on from the README's: its
//! marked `sh` block run verbatim with the built `blocklist`, then the
//! directory it made served, audited and followed by a daemon.

use std::path::Path;
use std::process::Command;

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

#[test]
fn the_centre_walkthrough_after_the_readmes_is_served_audited_and_followed_by_a_daemon() {
    let centre = walkthrough_centre("keys/root.key");
    let [readme]: [String; 1] = walkthrough_blocks("README.md").try_into().unwrap();
    let [quick_start]: [String; 1] = walkthrough_blocks("docs/CENTRE.md").try_into().unwrap();
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
