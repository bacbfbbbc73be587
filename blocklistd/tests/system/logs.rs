//! The daemon's log as operators read it: plain text on a file or pipe,
//! colour on a terminal unless `NO_COLOR`, and JSON lines with
//! `log.format = "json"`.

use std::io::Read as _;
use std::os::fd::{FromRawFd as _, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::daemon::{polling, publish, Site};
use crate::support::*;

#[test]
fn a_daemon_logging_to_a_file_writes_no_colour_codes() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["plain1.example"], &[]);
    let server = Server::start(&centre.dir);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    daemon.wait_version(1);
    let log = daemon.log_text();
    assert!(log.contains("applied"), "{log}");
    assert!(
        !log.contains('\x1b'),
        "escape codes in a log file:\n{log:?}"
    );
}

#[test]
fn json_log_format_writes_one_object_per_line_with_fields_and_spans() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["json1.example"], &[]);
    let server = Server::start(&centre.dir);
    let site = Site::new();
    let config = polling(&centre.first_root(), &[&server.url]) + "[log]\nformat = \"json\"\n";
    let daemon = site.start(&config);
    daemon.wait_version(1);
    let log = daemon.log_text();
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect();
    assert!(lines
        .iter()
        .all(|l| l["level"].is_string() && l["timestamp"].is_string()));
    let applied = lines
        .iter()
        .find(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("applied"))
        })
        .unwrap_or_else(|| panic!("no applied line:\n{log}"));
    assert_eq!(applied["fields"]["version"], 1, "{applied}");
    assert_eq!(applied["span"]["name"], "sync", "{applied}");
    assert_eq!(applied["span"]["mirror"], server.url.as_str(), "{applied}");
}

#[test]
fn text_on_a_terminal_is_coloured_unless_no_color_is_set() {
    let coloured = log_on_a_terminal(None);
    assert!(coloured.contains('\x1b'), "{coloured:?}");
    let plain = log_on_a_terminal(Some("1"));
    assert!(!plain.contains('\x1b'), "{plain:?}");
    assert!(plain.contains("blocklistd running"), "{plain:?}");
}

/// What the daemon writes to a pseudo-terminal as stderr until it says it is
/// running (then it is stopped).
fn log_on_a_terminal(no_color: Option<&str>) -> String {
    let (mut master, slave) = pseudo_terminal();
    let site = Site::new();
    let config = site.write_config("[drop]\nenabled = false\n");
    let mut command = Command::new(env!("CARGO_BIN_EXE_blocklistd"));
    command
        .args(["--config", s(&config)])
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdout(Stdio::null())
        .stderr(Stdio::from(slave));
    if let Some(value) = no_color {
        command.env("NO_COLOR", value);
    }
    let mut child = command.spawn().unwrap();
    // Our copy of the terminal's far end went to the child: reads end (EIO)
    // once the daemon exits.
    drop(command);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = master.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !String::from_utf8_lossy(&seen).contains("blocklistd running")
        && Instant::now() < deadline
    {
        if let Ok(bytes) = rx.recv_timeout(Duration::from_millis(100)) {
            seen.extend(bytes);
        }
    }
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
    String::from_utf8_lossy(&seen).into_owned()
}

/// A pseudo-terminal: (the side we read, the side the child writes).
fn pseudo_terminal() -> (std::fs::File, OwnedFd) {
    let (mut master, mut slave) = (-1, -1);
    // SAFETY: openpty writes two new descriptors, which we then own.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are open and owned by nothing else.
    unsafe {
        (
            std::fs::File::from_raw_fd(master),
            OwnedFd::from_raw_fd(slave),
        )
    }
}
