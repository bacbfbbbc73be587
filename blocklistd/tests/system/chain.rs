//! The whole chain as operators run it, broken on purpose: the centre's
//! `blocklist serve` -> HTTP -> two `blocklistd` (one polling the centre and
//! mirroring, one polling that mirror) -> `lookup.idx` -> C readers linked
//! against `libblocklist.a` (`tests/c/reader.c`).
//!
//! One test runs every scenario in order on one chain, so the versions build
//! on each other and the results table comes out in a fixed order. Each
//! scenario records the fault, what was asserted and the measured outcome;
//! the table is written to `docs/RELIABILITY.md` when
//! `BLOCKLIST_WRITE_RELIABILITY=1`, else next to the test's temp files.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use blocklist_core::document::Manifest;
use blocklist_core::index::LookupIndex;
use blocklist_core::verify::read_unverified;

use crate::daemon::{polling, Daemon, Site};
use crate::support::*;

/// `BLOCKLIST_KIND_*` codes of the C header, as the reader's reference file uses them.
const ACCOUNT: u8 = 1;
const NUMBER: u8 = 2;
const DOMAIN: u8 = 3;

/// One row of the results table.
struct Row {
    fault: &'static str,
    asserted: &'static str,
    outcome: String,
    seconds: f64,
}

/// What a reader pass reported: `key value` lines.
struct ReaderReport(BTreeMap<String, u64>);

impl ReaderReport {
    fn parse(stdout: &[u8]) -> ReaderReport {
        let text = String::from_utf8_lossy(stdout);
        ReaderReport(
            text.lines()
                .filter_map(|l| l.split_once(' '))
                .map(|(k, v)| (k.to_owned(), v.parse().unwrap()))
                .collect(),
        )
    }

    fn get(&self, key: &str) -> u64 {
        *self
            .0
            .get(key)
            .unwrap_or_else(|| panic!("reader reported no {key}: {:?}", self.0))
    }

    /// Asserts no call error, no wrong answer and no bad-argument mishandling.
    fn assert_clean(&self, what: &str) {
        for key in ["errors", "wrong", "bad_args_wrong"] {
            assert_eq!(self.get(key), 0, "{what}: reader {key}: {:?}", self.0);
        }
        assert!(self.get("checks") > 0, "{what}: {:?}", self.0);
    }
}

/// The centre, its server on a fixed loopback address, the daemons, the
/// expected answers, and the table being filled.
struct Chain {
    centre: Centre,
    listen: String,
    server: Option<Server>,
    upstream: Site,
    downstream: Site,
    upstream_config: String,
    first: Option<Daemon>,
    second: Option<Daemon>,
    reader: PathBuf,
    /// Expected answer per (kind, value): `Some(true)` listed, `Some(false)`
    /// not listed, `None` not judged (expiring while the suite runs).
    expected: BTreeMap<(u8, String), Option<bool>>,
    /// `expected` as it stood at each published version.
    expected_at: BTreeMap<u64, BTreeMap<(u8, String), Option<bool>>>,
    /// The centre manifest's state digest at each published version.
    digest_at: BTreeMap<u64, [u8; 32]>,
    /// Listings published with a short expiry, and when they are surely expired.
    expiring: Vec<(String, Instant)>,
    version: u64,
    publish_key: PathBuf,
    rows: Vec<Row>,
    /// Per-reader figures of the load scenario, for the document.
    load_figures: Vec<String>,
}

impl Chain {
    fn start() -> Chain {
        let centre = Centre::new();
        let publish_key = centre.publish_key.clone();
        let reader = centre.tmp.path().join("reader");
        blocklist_tests::compile_c(
            &blocklist_tests::workspace_root().join("tests/c/reader.c"),
            &reader,
            false,
        );
        let mut chain = Chain {
            listen: String::new(),
            server: None,
            upstream: Site::new(),
            downstream: Site::new(),
            upstream_config: String::new(),
            first: None,
            second: None,
            reader,
            expected: BTreeMap::new(),
            expected_at: BTreeMap::new(),
            digest_at: BTreeMap::new(),
            expiring: Vec::new(),
            version: 0,
            publish_key,
            rows: Vec::new(),
            load_figures: Vec::new(),
            centre,
        };
        chain.publish_next(&[]);
        let server = Server::start(&chain.centre.dir);
        chain.listen = server.url.trim_start_matches("http://").to_owned();
        chain.server = Some(server);
        let mirror_port = free_port();
        chain.upstream_config = fast(&polling(
            &chain.centre.first_root(),
            &[&format!("http://{}", chain.listen)],
        ))
        .replace("[sync]\n", "[sync]\nrequest_timeout = \"3s\"\n")
            + &format!("[mirror]\nenabled = true\nlisten = \"127.0.0.1:{mirror_port}\"\n");
        chain.first = Some(chain.upstream.start(&chain.upstream_config));
        chain.first().wait_version(1);
        let mirror = format!("http://127.0.0.1:{mirror_port}");
        chain.second = Some(
            chain
                .downstream
                .start(&fast(&polling(&chain.centre.first_root(), &[&mirror]))),
        );
        chain
    }

    fn first(&self) -> &Daemon {
        self.first.as_ref().expect("upstream daemon running")
    }

    fn second(&self) -> &Daemon {
        self.second.as_ref().expect("downstream daemon running")
    }

    /// Publishes the next version: domains, numbers and accounts from three
    /// agencies; every third version removes an earlier domain, every fourth
    /// adds a listing that expires in two seconds.
    fn publish_next(&mut self, extra: &[&str]) {
        let v = self.version + 1;
        let mut csv = String::from("kind,value,agency,expires\n");
        let mut add = |kind: u8, name: &str, value: String, agency: &str, expires: &str| {
            writeln!(csv, "{name},{value},{agency},{expires}").unwrap();
            self.expected.insert((kind, value), Some(true));
        };
        add(DOMAIN, "domain", format!("v{v}-a.example"), "th-aoc", "");
        add(DOMAIN, "domain", format!("v{v}-b.example"), "th-dsi", "");
        add(NUMBER, "number", format!("+6681{v:07}"), "th-bot", "");
        add(
            ACCOUNT,
            "account",
            format!("004/{:010}", 1_000_000 + v),
            "bank-004",
            "",
        );
        if v % 4 == 0 {
            let value = format!("v{v}-exp.example");
            writeln!(csv, "domain,{value},th-aoc,2s").unwrap();
            self.expected.insert((DOMAIN, value.clone()), None);
            self.expiring
                .push((value, Instant::now() + Duration::from_secs(3)));
        }
        let input = self.centre.input(&format!("v{v}.csv"), csv.as_bytes());
        let mut args = vec![
            "publish",
            s(&self.centre.dir),
            "--key",
            s(&self.publish_key),
            "--snapshot-every",
            "10",
        ];
        let removals;
        if v % 3 == 0 {
            let gone = format!("v{}-a.example", v - 2);
            removals = self
                .centre
                .input(&format!("rm{v}.txt"), format!("{gone}\n").as_bytes());
            args.extend(["--kind", "domain", "--remove", s(&removals)]);
            self.expected.insert((DOMAIN, gone), Some(false));
        }
        args.extend_from_slice(extra);
        args.push(s(&input));
        ok(&args);
        self.version = v;
        self.expected_at.insert(v, self.expected.clone());
        self.digest_at.insert(v, self.manifest().state.digest.0);
    }

    fn manifest(&self) -> Manifest {
        read_unverified(&std::fs::read(self.centre.dir.join("manifest")).unwrap()).unwrap()
    }

    /// The reference file for the readers at `version`: every expected answer, expired
    /// listings as not listed once surely expired, and never-listed controls.
    /// Domains `v{n}-a.example` with `n + 2 > stable_from` are not judged when
    /// `stable_from` is set: versions streamed meanwhile may remove them.
    fn reference(&self, version: u64, stable_from: Option<u64>) -> PathBuf {
        let now = Instant::now();
        let mut text = String::new();
        let removable = |value: &str| {
            stable_from.is_some_and(|from| {
                value
                    .strip_prefix('v')
                    .and_then(|rest| rest.strip_suffix("-a.example"))
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|n| n + 2 > from)
            })
        };
        for ((kind, value), expected) in &self.expected_at[&version] {
            let expected = match expected {
                _ if removable(value) => "-",
                Some(true) => "1",
                Some(false) => "0",
                None if self.expiring.iter().any(|(v, at)| v == value && *at <= now) => "0",
                None => "-",
            };
            writeln!(text, "{kind} {expected} {value}").unwrap();
        }
        for i in 0..20 {
            writeln!(text, "{DOMAIN} 0 never{i}.example").unwrap();
            writeln!(text, "{NUMBER} 0 +6689{i:07}").unwrap();
        }
        self.centre
            .input(&format!("reference-{version}.txt"), text.as_bytes())
    }

    /// Starts a reader on `data` for `seconds`, judged by `reference`.
    fn spawn_reader(&self, data: &Path, reference: &Path, seconds: u64) -> Child {
        Command::new(&self.reader)
            .arg(data)
            .arg(reference)
            .arg(seconds.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    fn finish_reader(child: Child) -> ReaderReport {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "reader failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report = ReaderReport::parse(&out.stdout);
        assert!(
            report.get("wrong") == 0 && report.get("errors") == 0,
            "reader: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        report
    }

    /// One pass of the reference set on `data`, answering from `version`.
    fn read_once(&self, data: &Path, version: u64) -> ReaderReport {
        let reference = self.reference(version, None);
        let report = Chain::finish_reader(self.spawn_reader(data, &reference, 0));
        report.assert_clean("one pass");
        assert_eq!(report.get("max_version"), version, "{:?}", report.0);
        report
    }

    /// Waits for both daemons to hold the newest version, checks their index
    /// files carry the centre's state digest, and a C reader pass on each.
    fn converge(&self) {
        let manifest = self.manifest();
        assert_eq!(manifest.version.get(), self.version);
        for (daemon, site) in [
            (self.first(), &self.upstream),
            (self.second(), &self.downstream),
        ] {
            daemon.wait_version(self.version);
            let index = LookupIndex::open(site.data().join("lookup.idx")).unwrap();
            assert_eq!(index.header().list_version, self.version);
            assert_eq!(
                index.header().state_digest,
                manifest.state.digest.0,
                "state digest of {}",
                site.data().display()
            );
            self.read_once(&site.data(), self.version);
        }
    }

    /// Checks the index file in `data` is one published version whole: the
    /// centre's digest for its version, and a reader answering it right.
    /// Returns the version.
    fn check_on_disk(&self, data: &Path) -> u64 {
        let index = LookupIndex::open(data.join("lookup.idx")).unwrap();
        let header = index.header();
        let version = header.list_version;
        assert_eq!(
            header.state_digest, self.digest_at[&version],
            "version {version}"
        );
        self.read_once(data, version);
        version
    }

    /// Runs one scenario, timing it and recording its row.
    fn scenario(
        &mut self,
        fault: &'static str,
        asserted: &'static str,
        run: impl FnOnce(&mut Chain) -> String,
    ) {
        let started = Instant::now();
        let outcome = run(self);
        let outcome = if outcome.starts_with("skipped") {
            outcome
        } else {
            format!("pass: {outcome}")
        };
        let seconds = started.elapsed().as_secs_f64();
        eprintln!("chain: {fault}: {outcome} ({seconds:.1} s)");
        self.rows.push(Row {
            fault,
            asserted,
            outcome,
            seconds,
        });
    }

    fn stop_centre(&mut self) {
        assert!(self.server.take().expect("centre running").stop());
    }

    fn start_centre(&mut self, dir: &Path) {
        self.server = Some(Server::start_on(dir, &self.listen));
    }

    /// Waits until the upstream daemon's last error differs from `before` and
    /// satisfies `matches`; returns the message.
    fn wait_error(&self, before: &serde_json::Value, matches: impl Fn(&str) -> bool) -> String {
        let status = self.first().wait_status("the fault in status", |s| {
            s["last_error"] != *before && s["last_error"]["message"].as_str().is_some_and(&matches)
        });
        status["last_error"]["message"].as_str().unwrap().to_owned()
    }

    /// Asserts the upstream daemon and a reader on its data still answer the last good version.
    fn assert_last_good(&self) {
        assert_eq!(self.first().status()["version"], self.version);
        self.read_once(&self.upstream.data(), self.version);
    }

    fn newest_delta(&self) -> PathBuf {
        let prefix = format!("{}-", self.version);
        self.centre
            .files("deltas")
            .into_iter()
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_str()
                    .unwrap()
                    .starts_with(&prefix)
            })
            .unwrap()
    }

    /// A fault on the newest delta as served: the centre is stopped, the next
    /// version published and its delta damaged by `damage`, the centre
    /// started; the daemon must refuse it with `matches` in status and keep
    /// the last good version; repaired, the version is applied.
    fn damaged_delta(&mut self, damage: fn(&mut Vec<u8>), matches: fn(&str) -> bool) -> String {
        let before = self.first().status()["last_error"].clone();
        self.stop_centre();
        self.publish_next(&[]);
        let delta = self.newest_delta();
        let good = std::fs::read(&delta).unwrap();
        let mut bad = good.clone();
        damage(&mut bad);
        std::fs::write(&delta, &bad).unwrap();
        self.version -= 1;
        self.start_centre(&self.centre.dir.clone());
        let named = format!("/deltas/{}-", self.version + 1);
        let message = self.wait_error(&before, |m| m.contains(&named) && matches(m));
        self.assert_last_good();
        std::fs::write(&delta, &good).unwrap();
        self.version += 1;
        self.converge();
        format!(
            "refused: \"{message}\"; repaired: version {} applied",
            self.version
        )
    }
}

/// Polls every 200 ms instead of 500 ms.
fn fast(config: &str) -> String {
    config.replace("poll_interval = \"500ms\"", "poll_interval = \"200ms\"")
}

/// A loopback TCP proxy that passes requests on at once and responses at
/// `bytes_per_second`; stops accepting when dropped.
struct SlowProxy {
    stop: Arc<AtomicBool>,
    accept: Option<std::thread::JoinHandle<()>>,
}

impl SlowProxy {
    fn start(listen: &str, upstream: &str, bytes_per_second: u64) -> SlowProxy {
        let listener = TcpListener::bind(listen).unwrap();
        listener.set_nonblocking(true).unwrap();
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let accept = std::thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(5));
                    continue;
                };
                client.set_nonblocking(false).unwrap();
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut from_client = client.try_clone().unwrap();
                let mut to_server = server.try_clone().unwrap();
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from_client, &mut to_server);
                    let _ = to_server.shutdown(Shutdown::Write);
                });
                let stopping = stopping.clone();
                std::thread::spawn(move || trickle(server, client, bytes_per_second, &stopping));
            }
        });
        SlowProxy {
            stop,
            accept: Some(accept),
        }
    }
}

/// Copies `from` to `to` in 16-byte steps at `bytes_per_second` until either closes or `stop`.
fn trickle(mut from: TcpStream, mut to: TcpStream, bytes_per_second: u64, stop: &AtomicBool) {
    let chunk = 16;
    let pause = Duration::from_secs_f64(chunk as f64 / bytes_per_second as f64);
    let mut buf = [0u8; 16];
    while !stop.load(Ordering::Relaxed) {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) if to.write_all(&buf[..n]).is_err() => break,
            Ok(_) => std::thread::sleep(pause),
        }
    }
    let _ = to.shutdown(Shutdown::Both);
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(accept) = self.accept.take() {
            accept.join().unwrap();
        }
    }
}

/// The disk-full scenario: a daemon in its own mount namespace whose data
/// folder is a tmpfs (needs root or user namespaces; skipped otherwise).
fn disk_full(chain: &mut Chain) -> String {
    let site = Site::new();
    let data = site.data();
    std::fs::create_dir_all(&data).unwrap();
    let private_mount = ["-m", "--propagation", "private", "sh", "-c"];
    let probe = Command::new("unshare")
        .args(private_mount)
        .arg("mount -t tmpfs -o size=64k tmpfs \"$0\"")
        .arg(&data)
        .output();
    match probe {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            return format!(
                "skipped: cannot mount a tmpfs here (unshare -m: {})",
                String::from_utf8_lossy(&out.stderr).trim()
            )
        }
        Err(e) => return format!("skipped: no unshare ({e})"),
    }
    let config = site.write_config(&fast(&polling(
        &chain.centre.first_root(),
        &[&format!("http://{}", chain.listen)],
    )));
    let mut command = Command::new("unshare");
    command
        .args(private_mount)
        .arg("mount -t tmpfs -o size=64m tmpfs \"$0\" && exec \"$1\" --config \"$2\"")
        .arg(&data)
        .arg(env!("CARGO_BIN_EXE_blocklistd"))
        .arg(&config);
    let daemon = Daemon::spawn_command(command, &site.log());
    daemon.wait_version(chain.version);
    let in_namespace = |program: &str, args: &[&str]| {
        let out = Command::new("nsenter")
            .args(["-t", &daemon.pid().to_string(), "-m", program])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let df = in_namespace("df", &["-k", "--output=used", s(&data)]);
    let used: u64 = df.lines().nth(1).unwrap().trim().parse().unwrap();
    in_namespace(
        "mount",
        &["-o", &format!("remount,size={}k", used + 64), s(&data)],
    );
    let before = daemon.status()["last_error"].clone();
    let big: String = (0..20_000)
        .map(|i| format!("domain,full{i}.example,th-dsi\n"))
        .collect();
    let big = chain
        .centre
        .input("full.csv", format!("kind,value,agency\n{big}").as_bytes());
    chain.publish_next(&[s(&big)]);
    let last_good = chain.version - 1;
    let status = daemon.wait_status("the disk-full failure in status", |s| {
        s["last_error"] != before
            && s["last_error"]["message"]
                .as_str()
                .is_some_and(|m| !m.contains("cannot fetch"))
    });
    let message = status["last_error"]["message"]
        .as_str()
        .unwrap()
        .replace(&format!("{}/", site.tmp.path().display()), "");
    assert_eq!(status["version"], last_good, "{status:#}");
    assert!(daemon.listed("domain", &format!("v{last_good}-b.example")));
    assert!(!daemon.listed("domain", "full1.example"));
    let read = |version: u64| {
        let reference = chain.reference(version, None);
        let out = in_namespace(s(&chain.reader), &[s(&data), s(&reference), "0"]);
        let report = ReaderReport::parse(out.as_bytes());
        report.assert_clean("disk full");
        assert_eq!(report.get("max_version"), version);
    };
    read(last_good);
    in_namespace("mount", &["-o", "remount,size=256m", s(&data)]);
    daemon.wait_version(chain.version);
    read(chain.version);
    assert!(daemon.stop());
    chain.converge();
    format!(
        "{used} KiB used, tmpfs cut to {} KiB: \"{message}\"; version {last_good} kept; room again: version {} applied",
        used + 64,
        chain.version
    )
}

/// Whether the long variants run (`BLOCKLIST_LONG_TESTS=1`).
fn long() -> bool {
    std::env::var_os("BLOCKLIST_LONG_TESTS").is_some_and(|v| v == "1")
}

/// POSTs `body` as JSON, returning the status code and the raw answer.
fn post_raw(daemon: &Daemon, path: &str, body: String) -> (u16, String) {
    let response = reqwest::blocking::Client::new()
        .post(format!("{}{path}", daemon.url))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .unwrap();
    (response.status().as_u16(), response.text().unwrap())
}

/// A message fit for a table cell: no loopback URLs, digests cut to 8 digits.
fn short(message: &str) -> String {
    let mut message = message.replace('|', "/");
    while let Some(at) = message.find("http://127.0.0.1:") {
        let end = message[at..]
            .find('/')
            .and_then(|slash| {
                message[at + slash + 2..]
                    .find('/')
                    .map(|p| at + slash + 2 + p)
            })
            .unwrap_or(message.len());
        message.replace_range(at..end, "");
    }
    let mut out = String::new();
    let mut run = String::new();
    for c in message.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() {
            run.push(c);
            continue;
        }
        if run.len() >= 32 {
            out.push_str(&run[..8]);
            out.push('…');
        } else {
            out.push_str(&run);
        }
        run.clear();
        out.push(c);
    }
    out.pop();
    let message = out;
    match message.char_indices().nth(320) {
        Some((at, _)) => format!("{}…", &message[..at]),
        None => message,
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = String::from(
        "| # | Fault or scenario | Asserted | Outcome | Time |\n|---|---|---|---|---|\n",
    );
    for (i, row) in rows.iter().enumerate() {
        writeln!(
            out,
            "| {} | {} | {} | {} | {:.1} s |",
            i + 1,
            row.fault,
            row.asserted,
            short(&row.outcome),
            row.seconds
        )
        .unwrap();
    }
    out
}

#[test]
fn the_chain_under_every_fault_keeps_answering_the_last_good_version_and_converges() {
    let started = Instant::now();
    let mut chain = Chain::start();

    chain.scenario(
        "Convergence: 24 versions (adds, removes, 2 s expiries; 3 agencies + a bank; domains, numbers, accounts)",
        "both daemons hold the newest version; their `lookup.idx` state digest equals the centre manifest's; a C reader on each data folder answers every reference identifier right",
        |chain| {
            for _ in 2..=24 {
                chain.publish_next(&[]);
            }
            // Let the short expiries pass so the readers judge them too.
            if let Some((_, at)) = chain.expiring.last() {
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
            }
            chain.converge();
            format!(
                "version {} everywhere, {} reference identifiers right on both readers",
                chain.version,
                chain.expected.len() + 40
            )
        },
    );

    chain.scenario(
        "Centre down, then back on the same address",
        "status names the unreachable centre; lookups (daemon and C) keep the last good version; once back, the version published meanwhile is applied",
        |chain| {
            let before = chain.first().status()["last_error"].clone();
            chain.stop_centre();
            chain.publish_next(&[]);
            chain.version -= 1;
            let url = format!("http://{}", chain.listen);
            let message = chain.first().wait_status("the centre named in status", |s| {
                s["last_error"] != before
                    && s["last_error"]["file"].as_str().is_some_and(|f| f.starts_with(&url))
            })["last_error"]["message"]
                .as_str()
                .unwrap()
                .to_owned();
            chain.assert_last_good();
            chain.version += 1;
            chain.start_centre(&chain.centre.dir.clone());
            chain.converge();
            format!("status: \"{message}\"; back: version {} applied", chain.version)
        },
    );

    chain.scenario(
        "One flipped byte in a served delta",
        "refused with a digest mismatch naming the file; last good version kept; the repaired file is applied",
        |chain| {
            chain.damaged_delta(
                |bytes| {
                    let middle = bytes.len() / 2;
                    bytes[middle] ^= 0x10;
                },
                |m| m.contains("digest mismatch"),
            )
        },
    );

    chain.scenario(
        "Truncated download (the served delta cut to half its size)",
        "refused, file named; last good version kept; the whole file is applied",
        |chain| chain.damaged_delta(|bytes| bytes.truncate(bytes.len() / 2), |_| true),
    );

    chain.scenario(
        "Rollback: a mirror serving an older, validly signed copy of the directory",
        "noted as a stale mirror (an older serial within its lifetime), not a failed round; last good version kept; the real centre's next version is applied",
        |chain| {
            let old = chain.centre.tmp.path().join("old-copy");
            copy_dir(&chain.centre.dir, &old);
            chain.publish_next(&[]);
            chain.publish_next(&[]);
            chain.converge();
            chain.stop_centre();
            chain.start_centre(&old);
            let status = chain
                .first()
                .wait_status("a stale mirror", |s| s["last_sync"]["result"] == "stale");
            let message = status["passed_over"][0]["message"].as_str().unwrap().to_owned();
            chain.assert_last_good();
            chain.stop_centre();
            chain.publish_next(&[]);
            chain.start_centre(&chain.centre.dir.clone());
            chain.converge();
            format!(
                "refused: \"{message}\"; version {} applied after",
                chain.version
            )
        },
    );

    chain.scenario(
        "A directory signed by an unknown key (another centre's root and publish keys, same list name, newer version)",
        "refused; last good version kept; the real centre's next version is applied",
        |chain| {
            let rogue = Centre::new();
            for v in 0..=chain.version {
                let input = rogue.input(&format!("r{v}.txt"), format!("rogue{v}.example").as_bytes());
                let mut args = rogue.publish_args(&["--kind", "domain", "--agency", "th-aoc"]);
                args.push(s(&input));
                ok(&args);
            }
            let before = chain.first().status()["last_error"].clone();
            chain.stop_centre();
            chain.start_centre(&rogue.dir.clone());
            let message = chain.wait_error(&before, |m| !m.contains("cannot fetch"));
            chain.assert_last_good();
            assert!(!chain.first().listed("domain", "rogue0.example"));
            chain.stop_centre();
            chain.publish_next(&[]);
            chain.start_centre(&chain.centre.dir.clone());
            chain.converge();
            format!("refused: \"{message}\"; version {} applied after", chain.version)
        },
    );

    chain.scenario(
        "Key rotation mid-stream (publish key replaced and revoked by a new trust root)",
        "versions signed by the new key are applied by both daemons; the centre refuses to sign with the revoked key, leaving the directory unchanged; a newer version signed by the revoked key (a pre-rotation copy served as a mirror) is refused by the daemon, which keeps the last good version, then applies the real centre's next one",
        |chain| {
            let pre_rotation = chain.centre.tmp.path().join("pre-rotation-copy");
            copy_dir(&chain.centre.dir, &pre_rotation);
            let next = chain.centre.tmp.path().join("publish2");
            ok(&["keygen", s(&next)]);
            let old_pub = chain.publish_key.with_extension("pub");
            ok(&[
                "rotate",
                s(&chain.centre.dir),
                "--sign-with",
                s(&chain.centre.root_key),
                "--add-publish-key",
                s(&next.with_extension("pub")),
                "--remove-publish-key",
                s(&old_pub),
            ]);
            let old_key = std::mem::replace(&mut chain.publish_key, next.with_extension("key"));
            chain.publish_next(&[]);
            chain.converge();
            chain.publish_next(&[]);
            chain.converge();
            let manifest = std::fs::read(chain.centre.dir.join("manifest")).unwrap();
            let input = chain.centre.input("revoked.txt", b"revoked.example");
            let err = fails(&[
                "publish",
                s(&chain.centre.dir),
                "--key",
                s(&old_key),
                "--kind",
                "domain",
                s(&input),
            ]);
            assert_eq!(std::fs::read(chain.centre.dir.join("manifest")).unwrap(), manifest);

            // The old key keeps signing in a copy made before the rotation,
            // up to a version newer than the daemons hold.
            let pre_version = |dir: &Path| {
                let manifest: Manifest =
                    read_unverified(&std::fs::read(dir.join("manifest")).unwrap()).unwrap();
                manifest.version.get()
            };
            for attempt in 0.. {
                if pre_version(&pre_rotation) > chain.version {
                    break;
                }
                assert!(attempt < 10, "the pre-rotation copy does not advance");
                let input = chain.centre.input(
                    &format!("revoked{attempt}.txt"),
                    format!("revoked{attempt}.example").as_bytes(),
                );
                ok(&[
                    "publish",
                    s(&pre_rotation),
                    "--key",
                    s(&old_key),
                    "--kind",
                    "domain",
                    "--agency",
                    "th-aoc",
                    s(&input),
                ]);
            }
            let before = chain.first().status()["last_error"].clone();
            chain.stop_centre();
            chain.start_centre(&pre_rotation);
            let refused = chain.wait_error(&before, |m| m.contains("not a publish key"));
            chain.assert_last_good();
            assert!(!chain.first().listed("domain", "revoked0.example"));
            chain.stop_centre();
            chain.publish_next(&[]);
            chain.start_centre(&chain.centre.dir.clone());
            chain.converge();
            format!(
                "version {} applied under the new root; the centre refused the revoked key: \"{}\"; the daemon refused a version signed with it: \"{refused}\"",
                chain.version,
                err.trim()
            )
        },
    );

    chain.scenario(
        "Freeze: a mirror keeps serving a manifest that expires (3 s lifetime) while the centre moves on",
        "status turns degraded naming the expiry; lookups (daemon and C) keep answering the last good version; the live centre's next version is applied and clears it",
        |chain| {
            chain.publish_next(&["--manifest-lifetime", "3s"]);
            chain.converge();
            let frozen = chain.centre.tmp.path().join("frozen-copy");
            copy_dir(&chain.centre.dir, &frozen);
            chain.stop_centre();
            chain.start_centre(&frozen);
            chain.publish_next(&[]);
            chain.version -= 1;
            let status = chain
                .first()
                // Until the daemon polls the restarted mirror, it may be degraded
                // by the restart itself (connection refused): wait for the expiry.
                .wait_status("degraded by the frozen feed", |s| {
                    s["degraded"] == true && s["degraded_reasons"].to_string().contains("expired")
                });
            let reasons = status["degraded_reasons"].to_string();
            assert!(reasons.contains("expired"), "{reasons}");
            chain.assert_last_good();
            chain.version += 1;
            chain.stop_centre();
            chain.start_centre(&chain.centre.dir.clone());
            chain.converge();
            chain
                .first()
                .wait_status("fresh again", |s| s["degraded"] == false);
            format!(
                "degraded: {}; version {} applied, degraded cleared",
                status["degraded_reasons"][0].as_str().unwrap_or(&reasons),
                chain.version
            )
        },
    );

    chain.scenario(
        "A drop-folder file half written when noticed (a third daemon fed only by its drop folder)",
        "the half file is neither applied nor rejected while it stays incomplete; once complete it is applied; with the later files it reaches the centre's digest and a C reader answers right",
        |chain| {
            let site = Site::new();
            let daemon = site.start(&format!(
                "trust_root = {:?}\n[drop]\nsettle = \"100ms\"\nrescan_interval = \"200ms\"\nreject_incomplete_after = \"30s\"\n",
                chain.centre.first_root().display().to_string()
            ));
            std::fs::create_dir_all(site.inbox()).unwrap();
            let deliver = |path: &Path| {
                let name = path.file_name().unwrap().to_str().unwrap();
                let tmp = site.inbox().join(format!(".{name}"));
                std::fs::copy(path, &tmp).unwrap();
                std::fs::rename(&tmp, site.inbox().join(name)).unwrap();
            };
            // The rotated trust roots first: the snapshot is signed under the newest.
            for root in chain.centre.files("roots").into_iter().skip(1) {
                deliver(&root);
            }
            let snapshot = chain.centre.files("snapshots").pop().unwrap();
            let bytes = std::fs::read(&snapshot).unwrap();
            let target = site.inbox().join(snapshot.file_name().unwrap());
            std::fs::write(&target, &bytes[..bytes.len() / 2]).unwrap();
            std::thread::sleep(Duration::from_millis(1500));
            let status = daemon.status();
            assert_eq!(status["version"], serde_json::Value::Null, "{status:#}");
            assert!(!site.inbox().join("rejected").join(target.file_name().unwrap()).exists());
            let mut file = std::fs::OpenOptions::new().append(true).open(&target).unwrap();
            std::io::Write::write_all(&mut file, &bytes[bytes.len() / 2..]).unwrap();
            drop(file);
            let name = snapshot.file_name().unwrap().to_str().unwrap();
            let snapshot_version: u64 = name.split('-').next().unwrap().parse().unwrap();
            daemon.wait_version(snapshot_version);
            for delta in chain.centre.files("deltas") {
                let name = delta.file_name().unwrap().to_str().unwrap();
                if name.split('-').next().unwrap().parse::<u64>().unwrap() > snapshot_version {
                    deliver(&delta);
                }
            }
            deliver(&chain.centre.dir.join("manifest"));
            daemon.wait_version(chain.version);
            assert_eq!(chain.check_on_disk(&site.data()), chain.version);
            assert!(daemon.stop());
            format!(
                "half of snapshot {snapshot_version} waited 1.5 s unapplied and unrejected; completed: applied; then version {} via the drop folder",
                chain.version
            )
        },
    );

    chain.scenario(
        "Slow downloads: the centre behind a proxy passing 8 KiB/s, then 50 B/s (the upstream daemon's request_timeout is 3 s)",
        "at 8 KiB/s the next version is applied; at 50 B/s the request times out, status says so and lookups keep the last good version; the centre back at full speed, the next version is applied",
        |chain| {
            chain.stop_centre();
            let centre = Server::start(&chain.centre.dir);
            let proxy = SlowProxy::start(&chain.listen, &centre.url, 8 * 1024);
            let started = Instant::now();
            chain.publish_next(&[]);
            chain.converge();
            let slow = started.elapsed();
            drop(proxy);
            let before = chain.first().status()["last_error"].clone();
            let proxy = SlowProxy::start(&chain.listen, &centre.url, 50);
            chain.publish_next(&[]);
            chain.version -= 1;
            let message = chain.wait_error(&before, |m| m.contains("timed out") || m.contains("timeout"));
            chain.assert_last_good();
            chain.version += 1;
            drop(proxy);
            assert!(centre.stop());
            chain.start_centre(&chain.centre.dir.clone());
            chain.converge();
            format!(
                "8 KiB/s: applied in {:.1} s; 50 B/s: \"{message}\"; full speed: version {} applied",
                slow.as_secs_f64(),
                chain.version
            )
        },
    );

    chain.scenario(
        "Disk full: a daemon whose data folder is a tmpfs shrunk to what it holds plus 64 KiB, offered a 20 000-entry version",
        "the apply fails and status names it; the daemon keeps answering the last good version over HTTP and to a C reader; with room again it applies the version, which reaches the centre's digest",
        disk_full,
    );

    chain.scenario(
        "SIGKILL of the upstream daemon during a catch-up over a 20 000-entry delta: at its download, 150, 400 and 800 ms into download/verify/apply/index publish",
        "after every kill the `lookup.idx` on disk is one whole published version (the centre's digest for it) and a C reader answers it right; the restarted daemon and its downstream converge",
        |chain| {
            assert!(chain.first.take().unwrap().stop());
            let big: String = (0..20_000).map(|i| format!("domain,big{i}.example,th-aoc\n")).collect();
            let big = chain.centre.input("big.csv", format!("kind,value,agency\n{big}").as_bytes());
            chain.publish_next(&[s(&big)]);
            chain.publish_next(&[]);
            let log = chain.upstream.tmp.path().join("daemon.log");
            let seen = |needle: &str| {
                std::fs::read_to_string(&log)
                    .unwrap_or_default()
                    .matches(needle)
                    .count()
            };
            let mut on_disk = Vec::new();
            for delay in [0, 150, 400, 800] {
                let before = seen("catching up");
                let daemon = chain.upstream.start(&chain.upstream_config);
                let deadline = Instant::now() + Duration::from_secs(30);
                while seen("catching up") <= before && daemon.status()["version"] != chain.version {
                    assert!(Instant::now() < deadline, "no catch-up: {}", daemon.log_text());
                    std::thread::sleep(Duration::from_millis(2));
                }
                std::thread::sleep(Duration::from_millis(delay));
                daemon.kill();
                on_disk.push(chain.check_on_disk(&chain.upstream.data()));
            }
            chain.first = Some(chain.upstream.start(&chain.upstream_config));
            chain.converge();
            format!(
                "versions on disk after the kills: {on_disk:?} (each whole, read right); restart converged to {}",
                chain.version
            )
        },
    );

    chain.scenario(
        "Load: one C reader per core (on each daemon's data folder) checking continuously while 10 versions stream in",
        "zero call errors, zero wrong answers on the identifiers whose answer never changes, new versions picked up while reading; worst lookup latency reported",
        |chain| {
            let from = chain.version;
            let reference = chain.reference(from, Some(from));
            let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
            // Long enough for the first publishes to arrive on a loaded
            // machine (a debug build's publish of 40k entries takes seconds).
            let seconds = if long() { 60 } else { 15 };
            let readers: Vec<Child> = (0..cores)
                .map(|i| {
                    let site = if i % 2 == 0 { &chain.upstream } else { &chain.downstream };
                    chain.spawn_reader(&site.data(), &reference, seconds)
                })
                .collect();
            let streamed = if long() { 60 } else { 10 };
            let pause = Duration::from_millis(seconds * 1000 / (streamed + 4));
            for _ in 0..streamed {
                std::thread::sleep(pause);
                chain.publish_next(&[]);
            }
            chain.converge();
            let reports: Vec<ReaderReport> = readers.into_iter().map(Chain::finish_reader).collect();
            let mut checks = 0;
            let mut worst = 0;
            for report in &reports {
                report.assert_clean("load");
                checks += report.get("checks");
                worst = worst.max(report.get("worst_ns"));
                assert_eq!(report.get("min_version"), from, "{:?}", report.0);
                if report.get("max_version") <= from {
                    let tail = |site: &Site| {
                        let log = std::fs::read_to_string(site.log()).unwrap_or_default();
                        let lines: Vec<&str> = log.lines().collect();
                        lines[lines.len().saturating_sub(40)..].join("\n")
                    };
                    panic!(
                        "no new version seen: {:?}\nupstream log:\n{}\ndownstream log:\n{}",
                        report.0,
                        tail(&chain.upstream),
                        tail(&chain.downstream)
                    );
                }
            }
            for (i, report) in reports.iter().enumerate() {
                chain.load_figures.push(format!(
                    "| {} | {} | {} | {} | {} | {:.1} |",
                    i + 1,
                    if i % 2 == 0 { "upstream" } else { "downstream" },
                    report.get("checks"),
                    report.get("errors") + report.get("wrong"),
                    format_args!("{}..={}", report.get("min_version"), report.get("max_version")),
                    report.get("worst_ns") as f64 / 1000.0
                ));
            }
            let max_seen = reports.iter().map(|r| r.get("max_version")).max().unwrap();
            format!(
                "{cores} readers, {seconds} s, versions {from}..={max_seen} seen: {checks} checks ({:.0}/s), 0 errors, 0 wrong; worst lookup {:.1} µs",
                checks as f64 / seconds as f64,
                worst as f64 / 1000.0
            )
        },
    );

    chain.scenario(
        "Bad input at every edge: CLI input with an invalid line; API bodies malformed, of an unknown kind, oversized; C calls with NULL, unknown kind, empty, too long, invalid UTF-8, bad paths",
        "the CLI refuses naming file:line and leaves the directory unchanged; the API answers 4xx JSON errors and the daemon's version is unchanged; every C call returns its documented code (checked in every reader pass above)",
        |chain| {
            let manifest = std::fs::read(chain.centre.dir.join("manifest")).unwrap();
            let input = chain.centre.input(
                "garbage.csv",
                b"kind,value,agency\ndomain,fine.example,th-aoc\ndomain,not a domain!!,th-aoc\nnumber,12,th-aoc\n",
            );
            let err = fails(&[
                "publish",
                s(&chain.centre.dir),
                "--key",
                s(&chain.publish_key),
                s(&input),
            ]);
            assert!(err.contains("garbage.csv:3"), "{err}");
            assert_eq!(std::fs::read(chain.centre.dir.join("manifest")).unwrap(), manifest);

            let oversized = format!(
                "{{\"kind\":\"domain\",\"values\":[{}]}}",
                vec!["\"a.example\""; 500_000].join(",")
            );
            let mut codes = Vec::new();
            for (what, body) in [
                ("malformed", "{\"kind\": \"domain\", \"values\": [".to_owned()),
                ("not JSON", "\u{0}\u{1}garbage".to_owned()),
                ("unknown kind", "{\"kind\":\"colour\",\"values\":[\"red\"]}".to_owned()),
                ("wrong shape", "{\"kind\":\"domain\",\"values\":\"a.example\"}".to_owned()),
                ("oversized", oversized),
            ] {
                let (code, body) = post_raw(chain.first(), "/v1/check", body);
                assert!((400..500).contains(&code), "{what}: {code} {body}");
                let error: serde_json::Value = serde_json::from_str(&body)
                    .unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {body}"));
                let name = error["error"]["code"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{what}: no error code: {body}"));
                codes.push(format!("{what} {code} {name}"));
            }
            assert_eq!(chain.first().status()["version"], chain.version);
            chain.read_once(&chain.upstream.data(), chain.version);
            format!(
                "CLI: \"{}\"; API: {}; C: 11 bad calls, all documented codes",
                err.lines()
                    .find(|l| l.contains("garbage.csv:3"))
                    .unwrap_or("")
                    .trim()
                    .replace(&format!("{}/", chain.centre.tmp.path().display()), ""),
                codes.join(", ")
            )
        },
    );

    let report = table(&chain.rows);
    let doc = format!(
        "# Reliability\n\nProduced by `{}` (blocklistd/tests/system/chain.rs): every row is a scenario the suite ran, \
         with what it asserted and what it measured. Regenerate with \
         `BLOCKLIST_WRITE_RELIABILITY=1 cargo test -p blocklistd --test system chain`.\n\n{report}\n## Load figures\n\nEach C reader checked the reference set in a loop on one daemon's data folder while versions streamed in (debug build, {} cores, daemons and centre on the same machine).\n\n| Reader | Data folder | Checks | Errors + wrong | Versions seen | Worst lookup (µs) |\n|---|---|---|---|---|---|\n{}\n\nWhole suite: {:.1} s.\n",
        "the_chain_under_every_fault_keeps_answering_the_last_good_version_and_converges",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        chain.load_figures.join("\n"),
        started.elapsed().as_secs_f64()
    );
    let committed = blocklist_tests::workspace_root().join("docs/RELIABILITY.md");
    let path = if std::env::var_os("BLOCKLIST_WRITE_RELIABILITY").is_some_and(|v| v == "1") {
        committed
    } else {
        // The committed table must list exactly the scenarios this suite runs.
        let text = std::fs::read_to_string(&committed).unwrap_or_default();
        for row in &chain.rows {
            assert!(
                text.contains(&format!("| {} | {} |", row.fault, row.asserted)),
                "docs/RELIABILITY.md does not list {:?} as the suite runs it: regenerate it with BLOCKLIST_WRITE_RELIABILITY=1",
                row.fault
            );
        }
        assert_eq!(
            text.lines().filter(|l| l.starts_with("| ") && l.contains(" s |")).count(),
            chain.rows.len(),
            "docs/RELIABILITY.md lists other scenarios: regenerate it with BLOCKLIST_WRITE_RELIABILITY=1"
        );
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("RELIABILITY.md")
    };
    std::fs::write(&path, doc).unwrap();
    eprintln!("results table written to {}\n{report}", path.display());
}
