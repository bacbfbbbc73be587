//! `blocklistd`'s API as clients and operators meet it: freshness on every
//! answer (agreeing with the heartbeat the C library reads), slow local
//! clients, a lookup index that cannot be published, the Unix socket's mode
//! and an exposed listen address. Real daemons against the real centre.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use blocklist_core::index::{Freshness, Heartbeat};
use blocklist_core::Timestamp;
use serde_json::{json, Value};

use crate::daemon::{polling, publish, Daemon, Site};
use crate::support::*;

/// Calls `probe` every 50 ms until it returns `Some` (at most `limit`).
fn wait_for<T>(what: &str, limit: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = probe() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The freshness the heartbeat in `data` gives now, as a C reader computes it.
fn heartbeat_freshness(data: &Path) -> Freshness {
    Heartbeat::open(data)
        .unwrap()
        .expect("the daemon creates the heartbeat at start")
        .freshness(Timestamp::now())
}

#[test]
fn every_check_answer_says_no_data_then_fresh_then_stale_with_the_heartbeat() {
    let centre = Centre::new();
    let server = Server::start(&centre.dir);
    let site = Site::new();
    // A short max_age: a feed not confirmed for 3 s is stale.
    let config = polling(&centre.first_root(), &[&server.url])
        + "[freshness]\nmax_age = \"3s\"\n[api]\nlisten = \"127.0.0.1:0\"\n";
    let daemon = site.start(&config);

    // Before the first version: no_data, over HTTP and in the heartbeat.
    let (code, body) = daemon.get("/v1/check?kind=domain&value=f1.example");
    assert_eq!(code, 503, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["freshness"], "no_data", "{answer}");
    assert_eq!(heartbeat_freshness(&site.data()), Freshness::NoData);
    assert_eq!(daemon.status()["freshness"], "no_data");

    // Synced and polled: fresh in single and batch answers, the heartbeat and status.
    publish(&centre, "v1.txt", &["f1.example"], &[]);
    daemon.wait_version(1);
    let answer = wait_for("a fresh answer", Duration::from_secs(30), || {
        let answer = daemon.json("/v1/check?kind=domain&value=f1.example");
        (answer["freshness"] == "fresh").then_some(answer)
    });
    assert_eq!(answer["listed"], true, "{answer}");
    let batch = wait_for("a fresh batch", Duration::from_secs(30), || {
        let (code, batch) = daemon.post(
            "/v1/check",
            &json!({"kind": "domain", "values": ["f1.example", "other.example"]}),
        );
        assert_eq!(code, 200, "{batch}");
        (batch["freshness"] == "fresh").then_some(batch)
    });
    assert_eq!(batch["results"][0]["listed"], true, "{batch}");
    let status = daemon.wait_status("fresh and not degraded", |s| {
        s["freshness"] == "fresh" && s["degraded"] == false
    });
    assert!(
        status["fresh_until"].as_u64().unwrap() > status["confirmed_at"].as_u64().unwrap(),
        "{status:#}"
    );
    assert_eq!(heartbeat_freshness(&site.data()), Freshness::Fresh);

    // The feed stops: answers turn stale within max_age, the heartbeat says
    // the same, and status is degraded saying why (never "fresh" beside
    // "degraded: stale").
    server.stop();
    wait_for("a stale answer", Duration::from_secs(30), || {
        let answer = daemon.json("/v1/check?kind=domain&value=f1.example");
        (answer["freshness"] == "stale").then_some(())
    });
    assert_eq!(heartbeat_freshness(&site.data()), Freshness::Stale);
    let (_, batch) = daemon.post(
        "/v1/check",
        &json!({"kind": "domain", "values": ["f1.example"]}),
    );
    assert_eq!(batch["freshness"], "stale", "{batch}");
    let status = daemon.status();
    assert_eq!(status["freshness"], "stale", "{status:#}");
    assert_eq!(status["degraded"], true, "{status:#}");
    assert!(
        status["degraded_reasons"]
            .to_string()
            .contains("answers are stale"),
        "{status:#}"
    );
    assert!(
        daemon.listed("domain", "f1.example"),
        "stale answers still answer"
    );
    assert!(
        !daemon.log_text().contains("non-loopback"),
        "a loopback API is not warned about"
    );
}

#[test]
fn a_restart_keeps_the_version_stale_until_the_feed_confirms_it_again() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["r1.example"], &[]);
    let server = Server::start(&centre.dir);
    let site = Site::new();
    let config = polling(&centre.first_root(), &[&server.url]);
    let daemon = site.start(&config);
    daemon.wait_version(1);
    assert!(daemon.stop());
    server.stop();
    // Restarted with the centre gone: the kept manifest confirms the version
    // as of when it was signed, well within the default max_age.
    let daemon = site.start(&config);
    let answer = daemon.json("/v1/check?kind=domain&value=r1.example");
    assert_eq!(answer["listed"], true, "{answer}");
    assert_eq!(answer["freshness"], "fresh", "{answer}");
    assert!(daemon.stop());
    // On a max_age that signing time soon falls behind, the data answers,
    // stale, and is never taken for no data.
    let daemon = site.start(&(config + "[freshness]\nmax_age = \"1s\"\n"));
    wait_for("a stale answer", Duration::from_secs(30), || {
        let answer = daemon.json("/v1/check?kind=domain&value=r1.example");
        assert_eq!(answer["listed"], true, "{answer}");
        assert_ne!(answer["freshness"], "no_data", "{answer}");
        (answer["freshness"] == "stale").then_some(())
    });
    assert_eq!(heartbeat_freshness(&site.data()), Freshness::Stale);
}

#[test]
fn half_sent_requests_are_closed_after_the_header_timeout_while_clients_and_sync_go_on() {
    const HALF_SENT: usize = 300;
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["s1.example"], &[]);
    let server = Server::start(&centre.dir);
    let site = Site::new();
    let config = polling(&centre.first_root(), &[&server.url])
        + "[api]\nlisten = \"127.0.0.1:0\"\nmax_connections = 40\nheader_read_timeout = \"1s\"\nidle_timeout = \"5s\"\n";
    let mut command = Command::new(env!("CARGO_BIN_EXE_blocklistd"));
    command.args(["--config", s(&site.write_config(&config))]);
    // Fewer files than half-sent connections: without a cap, accepting them
    // would leave syncing none.
    // SAFETY: setrlimit is async-signal-safe, and only the child's limit changes.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit {
                rlim_cur: 200,
                rlim_max: 200,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let daemon = Daemon::spawn_command(command, &site.log());
    daemon.wait_version(1);

    let address = daemon.url.trim_start_matches("http://").to_owned();
    let mut slow: Vec<TcpStream> = (0..HALF_SENT)
        .map(|_| {
            let mut stream = TcpStream::connect(&address).unwrap();
            stream
                .write_all(b"GET /v1/check?kind=domain&value=s1.example HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            stream
        })
        .collect();

    // A normal client is answered (once the cap frees a slot), and syncing goes on.
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let response = client
        .get(format!(
            "{}/v1/check?kind=domain&value=s1.example",
            daemon.url
        ))
        .send()
        .unwrap();
    let answer: Value = serde_json::from_str(&response.text().unwrap()).unwrap();
    assert_eq!(answer["listed"], true, "{answer}");
    publish(&centre, "v2.txt", &["s2.example"], &[]);
    daemon.wait_version(2);

    // Every half-sent request was closed by the daemon (EOF or reset), none
    // answered as if complete.
    for stream in &mut slow {
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut rest = Vec::new();
        match stream.read_to_end(&mut rest) {
            Ok(_) => assert!(
                !String::from_utf8_lossy(&rest).contains("\"listed\""),
                "a half-sent request was answered"
            ),
            Err(e) => assert!(
                e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::TimedOut,
                "a half-sent request was held past the header timeout: {e}"
            ),
        }
    }
    let log = daemon.log_text();
    assert!(!log.contains("Too many open files"), "{log}");
    assert!(log.contains("API connection cap reached"), "{log}");
}

#[test]
fn status_is_degraded_naming_why_when_the_lookup_index_cannot_be_published() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["i1.example"], &[]);
    let server = Server::start(&centre.dir);
    let site = Site::new();
    // A directory where the index goes: every publish of it fails, as on a
    // full disk, after the replica has committed.
    std::fs::create_dir_all(site.data().join("lookup.idx")).unwrap();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    let status = daemon.wait_version(1);
    assert_eq!(
        daemon.get("/v1/check?kind=domain&value=i1.example").0,
        503,
        "lookups cannot answer"
    );
    let status = if status["degraded"] == true {
        status
    } else {
        daemon.wait_status("degraded", |s| s["degraded"] == true)
    };
    let reasons = status["degraded_reasons"].to_string();
    assert!(reasons.contains("lookups cannot answer"), "{status:#}");
    assert!(reasons.contains("lookup.idx"), "names the file: {status:#}");
    assert_eq!(status["index_version"], Value::Null, "{status:#}");
    assert_eq!(daemon.get("/healthz").0, 503);
}

#[test]
fn the_unix_socket_is_created_with_the_configured_mode_and_answers() {
    for (mode, expected) in [(None, 0o660), (Some("0o666"), 0o666)] {
        let site = Site::new();
        let socket = site.tmp.path().join("api.sock");
        let mode_line = mode.map_or(String::new(), |m| format!("unix_socket_mode = {m}\n"));
        let daemon = site.start(&format!(
            "[api]\nlisten = \"127.0.0.1:0\"\nunix_socket = {:?}\n{mode_line}",
            s(&socket)
        ));
        let mode = wait_for("the socket", Duration::from_secs(30), || {
            std::fs::metadata(&socket).ok()
        })
        .permissions()
        .mode();
        assert_eq!(mode & 0o777, expected, "mode {mode:o}");
        let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
        stream
            .write_all(b"GET /v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(daemon.stop());
    }
}

#[test]
fn a_non_loopback_listen_address_is_taken_with_a_warning_in_the_log() {
    let site = Site::new();
    let daemon = site.start("[api]\nlisten = \"0.0.0.0:0\"\n");
    let port = daemon.url.rsplit(':').next().unwrap().to_owned();
    let body = reqwest::blocking::get(format!("http://127.0.0.1:{port}/v1/status"))
        .unwrap()
        .text()
        .unwrap();
    let status: Value = serde_json::from_str(&body).unwrap();
    assert!(status["degraded"].is_boolean());
    let log = daemon.log_text();
    assert!(
        log.contains("non-loopback") && log.contains("0.0.0.0"),
        "{log}"
    );
}

#[test]
fn a_url_kind_checks_its_host_and_an_unencoded_plus_is_told_to_be_percent_encoded() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["u1.example"], &[]);
    let server = Server::start(&centre.dir);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    daemon.wait_version(1);
    assert!(daemon.listed("url", "https%3A%2F%2Fwww.u1.example%2Flogin"));
    let (code, batch) = daemon.post(
        "/v1/check",
        &json!({"items": [{"kind": "url", "value": "http://u1.example/x?y=1"}, {"kind": "url", "value": "https://other.example/"}]}),
    );
    assert_eq!(code, 200, "{batch}");
    assert_eq!(batch["results"][0]["listed"], true, "{batch}");
    assert_eq!(batch["results"][1]["listed"], false, "{batch}");

    let (code, body) = daemon.get("/v1/check?kind=number&value=+14155552671");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("%2B"), "{body}");
    let (code, body) = daemon.get("/v1/check?kind=number&value=%2B14155552671");
    assert_eq!(code, 200, "{body}");
}
