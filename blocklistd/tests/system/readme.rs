//! The README's walkthrough, run verbatim: the centre's commands and the
//! copy into the drop folder, then the daemon on that folder answering.

use std::process::Command;

use crate::daemon::Daemon;
use crate::docs_walkthroughs::{run_script, walkthrough_blocks};
use crate::support::*;

#[test]
fn the_readme_walkthrough_run_verbatim_feeds_a_daemon_that_answers_listed() {
    let tmp = tempfile::tempdir().unwrap();
    let [script]: [String; 1] = walkthrough_blocks("README.md").try_into().unwrap();
    run_script(tmp.path(), &script);
    // The README's daemon on its embedded default, but for the API on a free
    // port (tests run side by side): the same data folder, inbox, trust on
    // first use.
    let config = tmp.path().join("blocklistd.toml");
    std::fs::write(&config, "[api]\nlisten = \"127.0.0.1:0\"\n").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_blocklistd"));
    command
        .args(["--config", s(&config)])
        .current_dir(tmp.path());
    let daemon = Daemon::spawn_command(command, &tmp.path().join("daemon.log"));
    let status = daemon.wait_status("version 1 with its manifest", |s| {
        s["version"] == 1 && s["freshness"] == "fresh"
    });
    assert_eq!(status["manifest"]["version"], 1, "{status:#}");
    assert!(daemon.listed("number", "081-234-5678"));
    assert!(daemon.listed("url", "https://login.scam.example/"));
    assert!(!daemon.listed("domain", "example.com"));
    assert!(daemon.stop());
}
