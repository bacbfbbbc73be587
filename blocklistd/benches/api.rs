//! The daemon's lookup API over loopback HTTP: batch throughput
//! (identifiers per second, 1,000 per request), single-check latency
//! (p50/p99/p99.9), and the daemon's memory, at 1M and 10M entries.
//!
//! The real `blocklistd` binary is started on a data folder whose
//! `lookup.idx` was built directly (what an apply publishes), with no sources,
//! so only lookups run. The load generator is reqwest in this process, on the
//! same machine: the figures include its cost.
//!
//! ```sh
//! cargo bench -p blocklistd --bench api                                  # 1M and 10M
//! BLOCKLISTD_BENCH_ENTRIES=1000000 cargo bench -p blocklistd --bench api # one size
//! ```

use std::process::{Child, Command};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use blocklist_core::index::IndexBuilder;
use blocklist_core::{Agency, EntryMeta, Kind, Reason, Timestamp};

/// Seconds each throughput run lasts.
const RUN: Duration = Duration::from_secs(10);
/// Identifiers per batch request.
const BATCH: usize = 1000;
/// Single checks timed.
const SINGLES: usize = 20_000;

fn number(i: u64) -> String {
    // Thai mobile numbers, spread over the range.
    format!("+6681{:07}", (i * 7_919) % 10_000_000)
}

fn build_index(dir: &std::path::Path, entries: u64) -> Duration {
    let meta = EntryMeta {
        reason: Reason::PHISHING,
        agency: Agency::new("th-aoc").unwrap(),
        listed_at: Timestamp(1_700_000_000),
        expires_at: None,
    };
    let mut values: Vec<String> = (0..entries).map(number).collect();
    values.sort();
    values.dedup();
    let started = Instant::now();
    IndexBuilder::new(1, [0; 32], Timestamp::now())
        .write(&dir.join("lookup.idx"), || {
            values.iter().map(|v| (Kind::Number, v.as_str(), &meta))
        })
        .unwrap();
    started.elapsed()
}

struct Daemon {
    child: Child,
    url: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path) -> Daemon {
    let config = dir.join("blocklistd.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\n[drop]\nenabled = false\n[api]\nlisten = \"127.0.0.1:0\"\n",
            dir.display().to_string()
        ),
    )
    .unwrap();
    let (child, url) = blocklist_tests::spawn_listening(
        Command::new(env!("CARGO_BIN_EXE_blocklistd"))
            .args(["--config", config.to_str().unwrap()])
            .env("RUST_LOG", "error"),
        String::new,
    );
    Daemon { child, url }
}

/// (VmRSS, RssAnon, RssFile) in MiB.
fn rss(pid: u32) -> (f64, f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    (field("VmRSS:"), field("RssAnon:"), field("RssFile:"))
}

fn main() {
    let sizes: Vec<u64> = std::env::var("BLOCKLISTD_BENCH_ENTRIES")
        .unwrap_or_else(|_| "1000000,10000000".into())
        .split(',')
        .map(|s| s.trim().parse().unwrap())
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for entries in sizes {
        let dir = tempfile::tempdir().unwrap();
        let build = build_index(dir.path(), entries);
        let daemon = start(dir.path());
        let pid = daemon.child.id();
        let idle = rss(pid);
        // Half listed, half not (numbers past the listed range).
        let values: Vec<String> = (0..BATCH as u64)
            .map(|i| {
                if i % 2 == 0 {
                    number(i * 997 % entries)
                } else {
                    format!("+6689{:07}", i * 31)
                }
            })
            .collect();
        let body = serde_json::json!({"kind": "number", "values": values}).to_string();
        let client = reqwest::Client::new();

        let (throughput, batches) = runtime.block_on(async {
            let done = Arc::new(AtomicU64::new(0));
            let url = format!("{}/v1/check", daemon.url);
            // Check the answers once: half the batch is listed.
            let answer = client
                .post(&url)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
            let results = answer["results"].as_array().unwrap();
            assert_eq!(results.len(), BATCH);
            let hits = results.iter().filter(|r| r["listed"] == true).count();
            assert_eq!(hits, BATCH / 2, "{}", results[0]);
            // Warm-up.
            for _ in 0..20 {
                post(&client, &url, &body).await;
            }
            let started = Instant::now();
            let mut tasks = Vec::new();
            for _ in 0..4 {
                let (client, url, body, done) =
                    (client.clone(), url.clone(), body.clone(), done.clone());
                tasks.push(tokio::spawn(async move {
                    while started.elapsed() < RUN {
                        post(&client, &url, &body).await;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }));
            }
            for task in tasks {
                task.await.unwrap();
            }
            let batches = done.load(Ordering::Relaxed);
            (
                (batches * BATCH as u64) as f64 / started.elapsed().as_secs_f64(),
                batches,
            )
        });
        let loaded = rss(pid);

        let mut latencies: Vec<Duration> = runtime.block_on(async {
            let mut out = Vec::with_capacity(SINGLES);
            for i in 0..SINGLES as u64 {
                let value = if i % 2 == 0 {
                    number(i * 991 % entries)
                } else {
                    format!("+6689{:07}", i)
                };
                let url = format!(
                    "{}/v1/check?kind=number&value={}",
                    daemon.url,
                    value.replace('+', "%2B")
                );
                let started = Instant::now();
                let response = client.get(&url).send().await.unwrap();
                assert!(response.status().is_success());
                response.bytes().await.unwrap();
                out.push(started.elapsed());
            }
            out
        });
        latencies.sort();
        let pct =
            |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        println!("== {entries} entries (index built in {build:.2?})");
        println!(
            "batch of {BATCH} over loopback HTTP, 4 connections: {:.0} identifiers/s ({batches} requests in {RUN:?})",
            throughput
        );
        println!(
            "single check, sequential: p50 {:?}, p99 {:?}, p99.9 {:?}",
            pct(0.50),
            pct(0.99),
            pct(0.999)
        );
        println!(
            "daemon RSS idle: {:.1} MiB (anon {:.1}, file-backed {:.1}); after the batch run: {:.1} MiB (anon {:.1}, file-backed {:.1})",
            idle.0, idle.1, idle.2, loaded.0, loaded.1, loaded.2
        );
        let index_mib = std::fs::metadata(dir.path().join("lookup.idx"))
            .unwrap()
            .len() as f64
            / (1 << 20) as f64;
        println!("lookup.idx: {index_mib:.1} MiB");
        drop(daemon);
    }
}

async fn post(client: &reqwest::Client, url: &str, body: &str) {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.bytes().await.unwrap();
}
