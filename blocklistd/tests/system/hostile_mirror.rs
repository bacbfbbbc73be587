//! `blocklistd` against mirrors that misbehave: a raw HTTP server on loopback
//! answering with random sizes, lying lengths, junk and truncations; a push
//! server that answers at once; a mirror that never answers (passed over; the
//! watchdog starved while a round hangs); a lagging cache;
//! a centre restored from a backup; a mirror URL carrying a password.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use blocklist_core::document::{Document as _, FileRef, ListId, ListState, Manifest, Version};
use blocklist_core::{SecretKey, Sha256, Timestamp};

use crate::daemon::{polling, publish, Daemon, Site};
use crate::support::*;

/// One request as the server read it.
struct Request {
    path: String,
    /// The header lines, lower-cased.
    headers: String,
}

/// A raw HTTP/1.1 server on a free loopback port: each connection gets one
/// request, answered by `answer` with whatever bytes it writes, then closed.
struct RawServer {
    url: String,
    requests: Arc<AtomicUsize>,
}

impl RawServer {
    fn start(answer: impl Fn(&Request, &mut TcpStream) + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(answer);
        let counted = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let answer = answer.clone();
                let counted = counted.clone();
                std::thread::spawn(move || {
                    let Some(request) = read_request(&stream) else {
                        return;
                    };
                    counted.fetch_add(1, Ordering::SeqCst);
                    answer(&request, &mut stream);
                    let _ = stream.flush();
                });
            }
        });
        RawServer { url, requests }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut headers = String::new();
    // Bounded: a request has a few headers.
    for _ in 0..100 {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 || header == "\r\n" {
            break;
        }
        headers.push_str(&header.to_ascii_lowercase());
    }
    Some(Request { path, headers })
}

/// Writes a response with `body` and the given `Content-Length` (which may lie).
fn respond(stream: &mut TcpStream, status: &str, extra: &str, length: u64, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n{extra}\r\n"
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// Serves the files of `dir` honestly.
fn serve_file(dir: &Path, request: &Request, stream: &mut TcpStream) {
    let rel = request.path.trim_start_matches('/');
    match std::fs::read(dir.join(rel)) {
        Ok(bytes) if !rel.contains("..") => {
            respond(stream, "200 OK", "", bytes.len() as u64, &bytes)
        }
        _ => respond(stream, "404 Not Found", "", 0, b""),
    }
}

/// A small deterministic generator (xorshift64*), seeded per run and printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A manifest no trust root signed, listing a trust root of `root_size` bytes.
fn unsigned_manifest(root_size: u64) -> Vec<u8> {
    let now = Timestamp::now();
    Manifest {
        list: ListId::new("th-test").unwrap(),
        serial: u64::MAX / 2,
        version: Version::new(9).unwrap(),
        state: ListState::default(),
        issued_at: now,
        expires_at: now.plus(3600),
        roots: vec![FileRef {
            version: Version::new(2).unwrap(),
            sha256: Sha256([7; 32]),
            size: root_size,
        }],
        deltas: vec![],
        snapshots: vec![],
        registries: vec![],
        log: None,
        extensions: vec![],
    }
    .sign(&[&SecretKey::generate().unwrap()])
    .unwrap()
}

/// One hostile answer, drawn from `rng`: huge claimed sizes and lengths,
/// lying lengths, junk, truncations, streams past every cap.
fn hostile_answer(rng: &mut Rng, honest: &Path, request: &Request, stream: &mut TcpStream) {
    let huge = [1u64 << 44, 1 << 62, u64::MAX, (1 << 20) + 1, 1 << 31];
    let size = huge[rng.below(huge.len() as u64) as usize];
    let junk: Vec<u8> = (0..rng.below(4096)).map(|_| rng.next() as u8).collect();
    match rng.below(8) {
        // The crash of the audit: an unsigned manifest listing a root of
        // `size` bytes, and a server answering that length for it.
        0 | 1 if request.path == "/manifest" => {
            let body = unsigned_manifest(size);
            respond(stream, "200 OK", "", body.len() as u64, &body);
        }
        0 | 1 => respond(stream, "200 OK", "", size, &junk),
        // A length far past the body, the body cut short.
        2 => respond(stream, "200 OK", "", size, &junk),
        // A length shorter than the body.
        3 => respond(stream, "200 OK", "", junk.len() as u64 / 2, &junk),
        // Junk of the stated length.
        4 => respond(stream, "200 OK", "", junk.len() as u64, &junk),
        // Streamed without a length, past the manifest cap.
        5 => {
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
            for _ in 0..rng.below(40) {
                if stream.write_all(&[0x42; 64 << 10]).is_err() {
                    break;
                }
            }
        }
        // The real file, truncated at a random point.
        6 => {
            let rel = request.path.trim_start_matches('/');
            let bytes = std::fs::read(honest.join(rel)).unwrap_or_default();
            let cut = rng.below(bytes.len() as u64 + 1) as usize;
            respond(stream, "200 OK", "", bytes.len() as u64, &bytes[..cut]);
        }
        // Errors and nonsense statuses.
        _ => {
            let status = ["500 Oops", "304 Not Modified", "206 Partial", "418 Teapot"];
            respond(stream, status[rng.below(4) as usize], "", 0, b"");
        }
    }
}

fn alive(daemon: &Daemon) -> bool {
    // SAFETY: signal 0 only checks that our child exists.
    unsafe { libc::kill(daemon.pid() as i32, 0) == 0 }
}

#[test]
fn hostile_mirror_answers_never_crash_the_daemon_nor_change_lookups() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["kept.example"], &[]);
    let hostile = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("hostile mirror seed {seed:#x}");
    let server = {
        let (dir, hostile, answered) = (centre.dir.clone(), hostile.clone(), answered.clone());
        let rng = std::sync::Mutex::new(Rng(seed));
        RawServer::start(move |request, stream| {
            if hostile.load(Ordering::SeqCst) {
                // The audit's crash first, for certain: an unsigned manifest
                // listing a 2^44-byte root, and that length answered for it.
                if answered.load(Ordering::SeqCst) < 10 {
                    let body = unsigned_manifest(1 << 44);
                    match request.path.as_str() {
                        "/manifest" => respond(stream, "200 OK", "", body.len() as u64, &body),
                        _ => respond(stream, "200 OK", "", 1 << 44, &body),
                    }
                } else {
                    let mut rng = rng.lock().unwrap();
                    hostile_answer(&mut rng, &dir, request, stream);
                }
                answered.fetch_add(1, Ordering::SeqCst);
            } else {
                serve_file(&dir, request, stream);
            }
        })
    };
    let site = Site::new();
    let config = polling(&centre.first_root(), &[&server.url])
        .replace("poll_interval = \"500ms\"", "poll_interval = \"20ms\"")
        .replace("backoff_initial = \"200ms\"", "backoff_initial = \"20ms\"")
        .replace("backoff_max = \"1s\"", "backoff_max = \"20ms\"");
    let daemon = site.start(&config);
    daemon.wait_version(1);

    hostile.store(true, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(60);
    const ANSWERS: usize = 300;
    while answered.load(Ordering::SeqCst) < ANSWERS && Instant::now() < deadline {
        assert!(
            alive(&daemon),
            "the daemon died; log:\n{}",
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        answered.load(Ordering::SeqCst) >= ANSWERS,
        "the daemon stopped asking"
    );
    assert!(
        alive(&daemon),
        "the daemon died; log:\n{}",
        daemon.log_text()
    );
    let status = daemon.status();
    assert_eq!(status["version"], 1, "{status:#}");
    assert_eq!(status["trust_root"]["version"], 1, "{status:#}");
    assert!(daemon.listed("domain", "kept.example"));
    assert!(!daemon.listed("domain", "other.example"));
    let log = daemon.log_text();
    assert!(
        log.contains("larger than"),
        "huge claimed sizes were refused by their cap: {log}"
    );

    // Honest again: the daemon still follows the centre.
    hostile.store(false, Ordering::SeqCst);
    publish(&centre, "v2.txt", &["other.example"], &[]);
    daemon.wait_version(2);
    assert!(daemon.listed("domain", "other.example"));
    assert!(daemon.stop());
}

#[test]
fn push_against_a_server_answering_at_once_sends_a_handful_of_requests_not_thousands() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["p1.example"], &[]);
    let pushes = Arc::new(AtomicUsize::new(0));
    // Same ETag, then a new ETag on every answer: neither may drive a loop.
    let changing = Arc::new(AtomicBool::new(false));
    let server = {
        let (dir, pushes, changing) = (centre.dir.clone(), pushes.clone(), changing.clone());
        RawServer::start(move |request, stream| {
            if !request.headers.contains("prefer: wait") {
                return serve_file(&dir, request, stream);
            }
            let n = pushes.fetch_add(1, Ordering::SeqCst);
            let etag = if changing.load(Ordering::SeqCst) {
                format!("ETag: \"{n}\"\r\n")
            } else {
                "ETag: \"same\"\r\n".to_owned()
            };
            let body = std::fs::read(dir.join("manifest")).unwrap();
            respond(stream, "200 OK", &etag, body.len() as u64, &body);
        })
    };
    let site = Site::new();
    let config = polling(&centre.first_root(), &[&server.url])
        .replace("poll_interval = \"500ms\"", "poll_interval = \"200ms\"")
        .replace("[drop]", "push = true\npush_wait = \"30s\"\n[drop]");
    let daemon = site.start(&config);
    daemon.wait_version(1);
    // A poll interval under the floor, so that only the floor spaces requests.
    for (phase, at_most) in [("same ETag", 5), ("a new ETag every answer", 5)] {
        changing.store(phase != "same ETag", Ordering::SeqCst);
        let before = pushes.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_secs(3));
        let sent = pushes.load(Ordering::SeqCst) - before;
        eprintln!("{phase}: {sent} push requests in 3 s");
        assert!(sent <= at_most, "{phase}: {sent} push requests in 3 s");
    }
    assert!(alive(&daemon));
}

#[test]
fn a_mirror_that_never_answers_is_passed_over_within_manifest_timeout_and_health_says_so() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["slow1.example"], &[]);
    let good = Server::start(&centre.dir);
    let release = Arc::new(AtomicBool::new(false));
    let slow = {
        let release = release.clone();
        RawServer::start(move |_, stream| {
            // Holds the request (bounded, so the thread ends with the test).
            for _ in 0..600 {
                if release.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            respond(stream, "503 Gone", "", 0, b"");
        })
    };
    let site = Site::new();
    let config = polling(&centre.first_root(), &[&slow.url, &good.url])
        .replace("[drop]", "manifest_timeout = \"1s\"\n[drop]");
    let daemon = site.start(&config);
    // With only the 10-minute request timeout, version 1 would wait for it.
    // The version shows as it is applied, the round's record just after.
    let status = daemon.wait_status("version 1 synced from the good mirror", |s| {
        s["version"] == 1 && s["last_sync"]["source"] == good.url.as_str()
    });
    let passed = &status["passed_over"][0];
    assert_eq!(passed["reason"], "failed", "{status:#}");
    assert!(
        passed["message"]
            .as_str()
            .is_some_and(|m| m.contains("manifest_timeout") || m.contains("timed out")),
        "{status:#}"
    );
    let (code, body) = daemon.get("/healthz");
    assert_eq!(code, 200);
    assert!(body.contains("degraded"), "{body}");
    assert!(slow.requests() >= 1);
    release.store(true, Ordering::SeqCst);
}

#[test]
fn a_sync_loop_stuck_in_a_round_stops_feeding_the_systemd_watchdog_while_the_api_answers() {
    // systemd's side: the datagram socket `$NOTIFY_SOCKET` names.
    let tmp = tempfile::tempdir().unwrap();
    let notify_path = tmp.path().join("notify");
    let systemd = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    systemd
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["dog1.example"], &[]);
    let hang = Arc::new(AtomicBool::new(false));
    let release = Arc::new(AtomicBool::new(false));
    let mirror = {
        let (dir, hang, release) = (centre.dir.clone(), hang.clone(), release.clone());
        RawServer::start(move |request, stream| {
            if !hang.load(Ordering::SeqCst) {
                return serve_file(&dir, request, stream);
            }
            // Held (bounded, so the thread ends with the test).
            for _ in 0..600 {
                if release.load(Ordering::SeqCst) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            respond(stream, "503 Service Unavailable", "", 0, b"");
        })
    };
    let site = Site::new();
    // No timeout ends the held request within the test.
    let config = polling(&centre.first_root(), &[&mirror.url])
        .replace("[drop]", "manifest_timeout = \"1h\"\n[drop]");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_blocklistd"));
    command
        .args(["--config", s(&site.write_config(&config))])
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "400000");
    let daemon = Daemon::spawn_command(command, &site.log());
    daemon.wait_version(1);
    // Fed every 200 ms (half the period) while rounds come and go.
    let fed = |seconds: u64| {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut buf = [0u8; 64];
        let mut fed = 0;
        while Instant::now() < deadline {
            if let Ok(n) = systemd.recv(&mut buf) {
                fed += usize::from(&buf[..n] == b"WATCHDOG=1");
            }
        }
        fed
    };
    let healthy = fed(2);
    assert!(healthy >= 4, "fed {healthy} times in 2 s while syncing");

    hang.store(true, Ordering::SeqCst);
    let before = mirror.requests();
    let deadline = Instant::now() + Duration::from_secs(10);
    while mirror.requests() == before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(mirror.requests() > before, "no round started");
    fed(1); // what was sent before the round hung
    let stuck = fed(2);
    assert_eq!(stuck, 0, "fed {stuck} times while the sync loop hung");
    assert_eq!(daemon.get("/v1/status").0, 200);
    assert!(daemon.listed("domain", "dog1.example"));

    hang.store(false, Ordering::SeqCst);
    release.store(true, Ordering::SeqCst);
    let recovered = fed(2);
    assert!(recovered >= 1, "not fed again once the round ended");
}

#[test]
fn after_a_frozen_feed_clears_the_next_check_comes_at_the_poll_interval_not_the_backoff() {
    let centre = Centre::new();
    publish(
        &centre,
        "v1.txt",
        &["f1.example"],
        &["--manifest-lifetime", "3s"],
    );
    let server = Server::start(&centre.dir);
    let site = Site::new();
    // A backoff of an hour: only a check at the poll interval can recover.
    let config = polling(&centre.first_root(), &[&server.url])
        .replace("poll_interval = \"500ms\"", "poll_interval = \"1s\"")
        .replace("backoff_initial = \"200ms\"", "backoff_initial = \"1h\"")
        .replace("backoff_max = \"1s\"", "backoff_max = \"1h\"");
    let daemon = site.start(&config);
    daemon.wait_version(1);
    daemon.wait_status("degraded by the frozen feed", |s| {
        s["last_sync"]["result"] == "failed" && s["degraded"] == true
    });
    ok(&["refresh", s(&centre.dir), "--key", s(&centre.publish_key)]);
    daemon.wait_status("fresh again", |s| s["degraded"] == false);
    publish(&centre, "v2.txt", &["f2.example"], &[]);
    daemon.wait_version(2);
}

#[test]
fn push_wakes_a_daemon_backed_off_while_its_centre_was_down() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["w1.example"], &[]);
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let site = Site::new();
    let config = polling(&centre.first_root(), &[&url])
        .replace("poll_interval = \"500ms\"", "poll_interval = \"1h\"")
        .replace("backoff_initial = \"200ms\"", "backoff_initial = \"1h\"")
        .replace("backoff_max = \"1s\"", "backoff_max = \"1h\"")
        .replace("[drop]", "push = true\npush_wait = \"30s\"\n[drop]");
    let daemon = site.start(&config);
    daemon.wait_status("a failed first round", |s| {
        s["last_sync"]["result"] == "failed"
    });
    let server = Server::start_on(&centre.dir, &format!("127.0.0.1:{port}"));
    daemon.wait_version(1);
    assert!(daemon.listed("domain", "w1.example"));
    drop(server);
}

#[test]
fn a_lagging_cache_serving_an_older_unexpired_manifest_is_noted_stale_not_a_failed_round() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["l1.example"], &[]);
    let old: PathBuf = centre.tmp.path().join("cache-edge");
    copy_dir(&centre.dir, &old);
    publish(&centre, "v2.txt", &["l2.example"], &[]);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let fresh = Server::start_on(&centre.dir, &listen);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&fresh.url]));
    daemon.wait_version(2);
    assert!(fresh.stop());

    let lagging = Server::start_on(&old, &listen);
    let status = daemon.wait_status("a stale round", |s| s["last_sync"]["result"] == "stale");
    assert_eq!(status["version"], 2);
    assert_eq!(status["degraded"], false, "{status:#}");
    assert_eq!(status["last_error"], serde_json::Value::Null, "{status:#}");
    let message = status["passed_over"][0]["message"].as_str().unwrap();
    assert!(message.contains("is older than serial"), "{message}");
    assert!(!message.contains("version"), "{message}");
    // Several rounds later: noted once, counted as no failure.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(daemon.log_text().matches("stale mirror").count(), 1);
    let (_, metrics) = daemon.get("/metrics");
    assert!(
        metrics.contains("blocklistd_sync_failures_total{source=\"http\"} 0"),
        "{metrics}"
    );
    assert!(daemon.listed("domain", "l2.example"));
    drop(lagging);
}

#[test]
fn a_replica_that_diverged_after_a_centre_restore_reanchors_on_the_newest_snapshot() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["base.example"], &[]);
    let backup = centre.tmp.path().join("backup");
    copy_dir(&centre.dir, &backup);
    publish(&centre, "v2.txt", &["lost.example"], &[]);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = Server::start_on(&centre.dir, &listen);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    daemon.wait_version(2);
    assert!(server.stop());

    // The centre is restored from the backup, takes back the log the replica
    // saw (from its log.db), and publishes past the lost version.
    std::fs::remove_dir_all(&centre.dir).unwrap();
    copy_dir(&backup, &centre.dir);
    let restored = ok(&[
        "restore-log",
        s(&centre.dir),
        "--from",
        s(&site.data().join("log.db")),
    ]);
    assert!(
        restored.contains("log taken back from 2 to 3 record(s)")
            && restored.contains("lost with the host (recorded, no longer held): deltas/2-"),
        "{restored}"
    );
    publish(&centre, "v2b.txt", &["other.example"], &[]);
    publish(
        &centre,
        "v3.txt",
        &["three.example"],
        &["--snapshot-every", "1"],
    );
    let server = Server::start_on(&centre.dir, &listen);
    // A round while the server was down left a failure behind: the round
    // after the re-anchoring clears it.
    let status = daemon.wait_status("version 3 and not degraded", |s| {
        s["version"] == 3 && s["degraded"] == false
    });
    assert_eq!(status["reanchoring"], serde_json::Value::Null, "{status:#}");
    assert!(!daemon.listed("domain", "lost.example"));
    assert!(daemon.listed("domain", "other.example"));
    assert!(daemon.listed("domain", "three.example"));
    assert!(daemon.log_text().contains("diverged"));
    drop(server);
}

#[test]
fn a_password_in_a_mirror_url_shows_nowhere() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["pw.example"], &[]);
    let dead = format!("http://reader:hunter2@127.0.0.1:{}", free_port());
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&dead]));
    let status = daemon.wait_status("a failed round", |s| s["last_sync"]["result"] == "failed");
    let (_, metrics) = daemon.get("/metrics");
    let shown = format!("{status}{metrics}{}", daemon.log_text());
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        status["last_sync"]["source"]
            .as_str()
            .unwrap()
            .contains("reader:***@"),
        "{status:#}"
    );
}

#[test]
fn a_daemon_behind_a_caching_nginx_follows_the_centre_without_failed_rounds() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["edge1.example"], &[]);
    let origin = Server::start(&centre.dir);
    let conf_dir = centre.tmp.path().join("nginx");
    let shipped = include_str!("../../nginx/cdn.conf");
    let mut edge = String::new();
    let Some(nginx) = Nginx::start(&conf_dir, |port| {
        edge = shipped
            .replace("/var/cache/nginx/blocklist", s(&conf_dir.join("cache")))
            .replace(
                "server 127.0.0.1:8080;",
                &format!("server {};", origin.url.trim_start_matches("http://")),
            )
            .replace("listen 80;", &format!("listen 127.0.0.1:{port};"));
        edge.clone()
    }) else {
        return;
    };
    assert_ne!(edge, shipped);
    let url = nginx.url.clone();
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&url]));
    daemon.wait_version(1);
    for v in 2..=3 {
        publish(
            &centre,
            &format!("v{v}.txt"),
            &[&format!("edge{v}.example")],
            &[],
        );
        daemon.wait_version(v);
    }
    let delta = centre.files("deltas").pop().unwrap();
    let rel = format!("deltas/{}", delta.file_name().unwrap().to_str().unwrap());
    let cache = |path: &str| {
        let response = reqwest::blocking::get(format!("{url}/{path}")).unwrap();
        let status = response.status().as_u16();
        let cache = response
            .headers()
            .get("x-cache")
            .map_or("", |v| v.to_str().unwrap())
            .to_owned();
        (status, cache)
    };
    let (_, _) = cache(&rel);
    assert_eq!(cache(&rel), (200, "HIT".to_owned()), "deltas are cached");
    assert_eq!(cache("deltas/99-00").1, "MISS", "errors are not cached");
    assert_eq!(cache("deltas/99-00").1, "MISS", "errors are not cached");
    assert_eq!(
        cache(".centre/lock").0,
        404,
        "the private state stays private"
    );
    let status = daemon.status();
    let (_, metrics) = daemon.get("/metrics");
    drop(nginx);
    assert_eq!(status["degraded"], false, "{status:#}");
    assert!(
        metrics.contains("blocklistd_sync_failures_total{source=\"http\"} 0"),
        "{metrics}"
    );
    assert!(daemon.listed("domain", "edge3.example"));
}
