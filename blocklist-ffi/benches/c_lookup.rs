//! libblocklist benchmark: the C program `bench/bench.c`, linked against the
//! static library, against the same lookups through the Rust API, in one run.
//!
//! `cargo bench -p blocklist-ffi --bench c_lookup`
//!
//! Environment: `BLOCKLIST_BENCH_ENTRIES` (default 10000000),
//! `BLOCKLIST_BENCH_QUERIES` (hits and misses each, default 200000),
//! `BLOCKLIST_BENCH_SWAP_SECONDS` (default 10), `BLOCKLIST_BENCH_FOLLOWS`
//! (new indexes announced in the heartbeat, default 20),
//! `BLOCKLIST_BENCH_OVERLAY` (recent changes stacked as an overlay on the
//! list, default 0: with 10000, lookups through that overlay are compared
//! with the same lookups through an empty one, alternating, Rust and C),
//! `BLOCKLIST_BENCH_CALLGRIND` (queries per entry point counted under
//! callgrind, instructions per call; default 0, none),
//! `BLOCKLIST_BENCH_ROUNDS` (rounds of the compared passes, whose median is
//! read; default 5: more narrow a median that other tenants move).
//!
//! Both sides take a kind and text, raw (`blocklist_check` in C;
//! `LiveIndex::load` + `LookupIndex::check` in Rust, which is what
//! `blocklist_check` does under its boundary) or canonical
//! (`blocklist_check_canonical`; `LookupIndex::lookup_canonical`), or a
//! key made ahead (`blocklist_check_key`; `LookupIndex::lookup_hashed` on an
//! array of the same 296-byte `blocklist_key`s: cold, the array being larger
//! than the cache, and again with each key's fixed fields read just before
//! the timed call, as a payment's key just read from its row), and both
//! take the time from a word in memory: the C handle (default options) from
//! the clock its reload thread keeps, Rust from an atomic read the same way,
//! so neither pays for a clock call the other skips; and both fill a result
//! they own (the Rust side with `check::write_listing`, the code that
//! fills the C result: a hit's agency and matched text copied), so neither
//! skips the copies the other makes. Medians come from
//! groups of 16 calls with a fence between calls (as in the lookup benchmark,
//! so that a median is one call's latency, not the overlap of many calls'
//! cache misses), tails from single calls, timed with the monotonic clock in
//! both languages, the timer's own median cost subtracted. Baselines, as the
//! lookup benchmark's: a bare `xorf::BinaryFuse8` probe and a `HashSet<u64>`.
//!
//! Last, how soon a C handle with the default options serves an index
//! announced in the heartbeat as the daemon announces each apply (from the
//! announcement to the handle's next reload), beside files published
//! without an announcement (found by the periodic reload), and the CPU time
//! of an idle handle.

use std::fmt::Write as _;
use std::hint::black_box;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use blocklist::check::write_listing;
use blocklist::clock;
use blocklist::key::{self, blocklist_key};
use blocklist::types::blocklist_check_result;
use blocklist_lookup::index::{
    Change, HeartbeatWriter, IndexBuilder, KeyHash, LiveIndex, LookupIndex,
};
use blocklist_lookup::normalise::{has_canonical_shape, normalise};
use blocklist_lookup::{Agency, EntryMeta, Kind, Reason, Rules, Standing, Timestamp};
use blocklist_tests::{static_library, NATIVE_LIBS};
use xorf::{BinaryFuse8, Filter};

#[path = "../../benches/support.rs"]
mod support;
use support::{baseline_hash, fence, BaselineSet, HugePages, SplitMix};

#[global_allocator]
static ALLOCATOR: HugePages = HugePages;

/// A canonical identifier: 40% mobile numbers, 30% accounts, 30% domains.
fn identifier(rng: &mut SplitMix, out: &mut String) -> Kind {
    out.clear();
    match rng.below(10) {
        0..=3 => {
            let _ = write!(out, "+66{}{:08}", 8 + rng.below(2), rng.below(100_000_000));
            Kind::Number
        }
        4..=6 => {
            let _ = write!(out, "TH:004:{:010}", rng.below(10_000_000_000));
            Kind::Account
        }
        _ => {
            for _ in 0..12 {
                out.push(char::from(b'a' + rng.below(26) as u8));
            }
            out.push_str(if rng.below(2) == 0 { ".com" } else { ".co.th" });
            Kind::Domain
        }
    }
}

/// The figures compared through an overlay and without, as the C program names them.
const OVERLAY_ROWS: [&str; 4] = [
    "canonical_miss_median",
    "canonical_hit_median",
    "canonical_miss_batch_per_id",
    "canonical_hit_batch_per_id",
];

/// What each median's target compares it with: the fuse probe for misses,
/// the `HashSet` hit for hits.
const BASELINES: [&str; 2] = ["BinaryFuse8 probe", "HashSet hit"];

/// The figures compared in rounds: the C program's name for each, and the
/// index in `BASELINES` of its target's baseline (batches have none).
const ROUND_ROWS: [(&str, Option<usize>); 9] = [
    ("miss_median", Some(0)),
    ("hit_median", Some(1)),
    ("canonical_miss_median", Some(0)),
    ("canonical_hit_median", Some(1)),
    ("key_miss_median", Some(0)),
    ("key_hit_median", Some(1)),
    ("key_warm_miss_median", Some(0)),
    ("canonical_miss_batch_per_id", None),
    ("canonical_hit_batch_per_id", None),
];

/// Stacks two overlays on the full index at `path` (its base, hard-linked
/// under both names, so both share one copy in the page cache): `empty.idx`
/// holds no change, `recent.idx` holds `changes` recent changes as a daemon
/// publishes them, 40% removals of listed identifiers (returned, so that no
/// hit is drawn from them) and 60% additions of new domains. The full index
/// stays at `path` for the other passes.
fn stack_overlays(
    path: &Path,
    listed: &[(Kind, String)],
    changes: usize,
    meta: &EntryMeta,
    rng: &mut SplitMix,
) -> (Overlays, BaselineSet) {
    let dir = path.parent().expect("a directory");
    let overlays = Overlays {
        empty: dir.join("empty.idx"),
        recent: dir.join("recent.idx"),
    };
    // The full index, linked under the base name each overlay expects.
    let adopt = |published: &Path| {
        let built = dir.join("built.idx");
        std::fs::hard_link(path, &built).expect("link the full index");
        LookupIndex::adopt_base(&built, published).expect("adopt the base")
    };
    let base = adopt(&overlays.empty);
    base.write_overlay(&overlays.empty, &overlays.empty, base.header(), [])
        .expect("write the empty overlay");
    let base = adopt(&overlays.recent);
    let removals = changes * 4 / 10;
    let recent: Vec<Change> = (0..changes)
        .map(|i| {
            if i < removals {
                let (kind, value) = &listed[rng.below(listed.len() as u64) as usize];
                Change {
                    kind: *kind,
                    value: value.clone(),
                    standing: None,
                }
            } else {
                Change {
                    kind: Kind::Domain,
                    value: format!("recent-{i}.example.com"),
                    standing: Some(Standing::one(meta.clone())),
                }
            }
        })
        .collect();
    let stats = base
        .write_overlay(
            &overlays.recent,
            &overlays.recent,
            base.header(),
            recent.iter().cloned(),
        )
        .expect("write the overlay");
    eprintln!(
        "overlay of {} recent changes stacked on the list as recent.idx, an empty one as empty.idx",
        stats.overlay_entries
    );
    let removed = recent
        .iter()
        .filter(|c| c.standing.is_none())
        .map(|c| baseline_hash(c.kind, &c.value))
        .collect();
    (overlays, removed)
}

/// The same list through an empty overlay and through one of recent changes.
struct Overlays {
    empty: std::path::PathBuf,
    recent: std::path::PathBuf,
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn timer_cost() -> u64 {
    let mut cost: Vec<u64> = (0..1001)
        .map(|_| {
            let t0 = Instant::now();
            t0.elapsed().as_nanos() as u64
        })
        .collect();
    cost.sort_unstable();
    cost[500]
}

struct Latency {
    median: u64,
    p99: u64,
    p999: u64,
}

/// Median over groups of 16 fenced calls; p99 and p99.9 over single calls.
/// Each call is given the pass's result to fill (see [`latency_touched`]).
fn latency(
    queries: &[(Kind, String)],
    warm: &[(Kind, String)],
    cost: u64,
    mut call: impl FnMut(Kind, &str, &mut blocklist_check_result),
) -> Latency {
    latency_of(queries, warm, cost, |(kind, text), out| {
        call(*kind, text, out)
    })
}

/// [`latency`] of any query type (a query with its key hash made ahead).
fn latency_of<Q>(
    queries: &[Q],
    warm: &[Q],
    cost: u64,
    call: impl FnMut(&Q, &mut blocklist_check_result),
) -> Latency {
    latency_touched(queries, warm, cost, |_| {}, call)
}

/// A `blocklist_check_result` as `BLOCKLIST_CHECK_RESULT_INIT` makes it.
fn result_init() -> blocklist_check_result {
    // SAFETY: plain integers and arrays of them: all-zero bytes are valid.
    let mut out: blocklist_check_result = unsafe { std::mem::zeroed() };
    out.size = std::mem::size_of::<blocklist_check_result>() as u32;
    out
}

/// [`latency_of`] with `touch` run on each query before the timer starts
/// (a key read from the payee's row just before the check, say). The calls
/// of a pass fill one result that the pass owns, as the C program's passes
/// do: the Rust lookups answer in it with `write_listing`, the code that
/// fills the C result (a hit's agency and matched text copied), so that C
/// is compared with the same work; the baselines ignore it.
fn latency_touched<Q>(
    queries: &[Q],
    warm: &[Q],
    cost: u64,
    touch: impl Fn(&Q),
    mut call: impl FnMut(&Q, &mut blocklist_check_result),
) -> Latency {
    const GROUP: usize = 16;
    let mut out = result_init();
    let mut call = |query: &Q| call(query, &mut out);
    // As in the lookup benchmark: an untimed pass over other keys (the other
    // query set), so that no call is timed on a structure another contender
    // left cold, without caching the lines the timed keys read; then single
    // calls, then groups.
    for query in warm {
        call(query);
    }
    let mut single: Vec<u64> = queries
        .iter()
        .map(|query| {
            touch(query);
            let t0 = Instant::now();
            call(query);
            (t0.elapsed().as_nanos() as u64).saturating_sub(cost)
        })
        .collect();
    single.sort_unstable();
    let mut groups: Vec<u64> = queries
        .chunks_exact(GROUP)
        .map(|chunk| {
            chunk.iter().for_each(&touch);
            let t0 = Instant::now();
            for query in chunk {
                call(query);
                fence();
            }
            (t0.elapsed().as_nanos() as u64).saturating_sub(cost) / GROUP as u64
        })
        .collect();
    groups.sort_unstable();
    Latency {
        median: groups[groups.len() / 2],
        p99: single[single.len() * 99 / 100],
        p999: single[single.len() * 999 / 1000],
    }
}

fn write_queries(path: &Path, queries: &[(Kind, String)]) {
    let mut text = String::new();
    for (kind, value) in queries {
        let _ = writeln!(text, "{}\t{value}", kind.code());
    }
    std::fs::write(path, text).expect("write queries");
}

fn parse(output: &[u8]) -> Vec<(String, f64)> {
    String::from_utf8_lossy(output)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect()
}

fn get(results: &[(String, f64)], name: &str) -> f64 {
    results
        .iter()
        .find(|(k, _)| k == name)
        .unwrap_or_else(|| panic!("the C bench reported no {name}"))
        .1
}

fn main() {
    let entries = env_number("BLOCKLIST_BENCH_ENTRIES", 10_000_000);
    let query_count = env_number("BLOCKLIST_BENCH_QUERIES", 200_000);
    let swap_seconds = env_number("BLOCKLIST_BENCH_SWAP_SECONDS", 10);
    let follows = env_number("BLOCKLIST_BENCH_FOLLOWS", 20);
    let overlay = env_number("BLOCKLIST_BENCH_OVERLAY", 0);
    // Rounds of the Rust passes, the baselines and the C program back to back.
    let rounds = env_number("BLOCKLIST_BENCH_ROUNDS", 5).max(1);
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("temp dir");
    let index_path = dir.path().join("lookup.idx");
    let rules = Rules::default();

    // The list, and queries drawn from it (hits) and beside it (misses).
    let started = Instant::now();
    let meta = EntryMeta {
        reason: Reason::MULE_ACCOUNT,
        agency: Agency::new("th-aoc").expect("agency"),
        listed_at: Timestamp(1_700_000_000),
        expires_at: None,
    };
    let mut rng = SplitMix(0x5EED);
    let mut listed: Vec<(Kind, String)> = Vec::with_capacity(entries);
    let mut seen = BaselineSet::with_capacity_and_hasher(entries, Default::default());
    let mut text = String::new();
    while listed.len() < entries {
        let kind = identifier(&mut rng, &mut text);
        if seen.insert(baseline_hash(kind, &text)) {
            listed.push((kind, text.clone()));
        }
    }
    IndexBuilder::new(1, [0; 32], Timestamp::now())
        .write(&index_path, || {
            listed.iter().map(|(k, v)| (*k, v.as_str(), &meta))
        })
        .expect("build the index");
    // Identifiers the overlay removed: not drawn as hits.
    let (overlays, removed) = if overlay > 0 {
        let (overlays, removed) = stack_overlays(&index_path, &listed, overlay, &meta, &mut rng);
        (Some(overlays), removed)
    } else {
        (None, BaselineSet::default())
    };
    let valid = |kind: Kind, text: &str| normalise(kind, text, &rules).is_ok_and(|c| c == text);
    let mut hits = Vec::with_capacity(query_count);
    while hits.len() < query_count {
        let (kind, text) = &listed[rng.below(listed.len() as u64) as usize];
        if valid(*kind, text) && !removed.contains(&baseline_hash(*kind, text)) {
            hits.push((*kind, text.clone()));
        }
    }
    let mut misses = Vec::with_capacity(query_count);
    while misses.len() < query_count {
        let kind = identifier(&mut rng, &mut text);
        if !seen.contains(&baseline_hash(kind, &text)) && valid(kind, &text) {
            misses.push((kind, text.clone()));
        }
    }
    let set: BaselineSet = seen.iter().copied().collect();
    let fuse =
        BinaryFuse8::try_from(&seen.iter().copied().collect::<Vec<u64>>()).expect("fuse filter");
    drop(seen);
    drop(listed);
    let hits_file = dir.path().join("hits.tsv");
    let misses_file = dir.path().join("misses.tsv");
    write_queries(&hits_file, &hits);
    write_queries(&misses_file, &misses);
    eprintln!(
        "{entries} entries indexed and {query_count} hits + misses drawn in {:.1?}; heap in huge pages: {}",
        started.elapsed(),
        support::huge_page_heap()
    );

    // The same lookups through the Rust API, in this process, measured first.
    let live = LiveIndex::open(&index_path).expect("open the index");
    let cost = timer_cost();
    // The time as the C handle's checks read it: a word a thread keeps.
    let kept = AtomicU64::new(clock::now().0);
    let now = || Timestamp(kept.load(Ordering::Relaxed));
    let rust_check = |kind: Kind, text: &str, out: &mut blocklist_check_result| {
        let now = now();
        let index = live.load();
        if let Ok(hit) = index.check(kind, text, &rules, now) {
            write_listing(out, hit.as_ref());
        }
        black_box(out.listed);
    };
    let rust_miss = latency(&misses, &hits, cost, rust_check);
    let rust_hit = latency(&hits, &misses, cost, rust_check);
    // What `blocklist_check_canonical` does under its boundary.
    let rust_canonical = |kind: Kind, text: &str, out: &mut blocklist_check_result| {
        let now = now();
        let index = live.load();
        write_listing(out, index.lookup_canonical(kind, text, now).as_ref());
        black_box(out.listed);
    };
    let rust_canonical_miss = latency(&misses, &hits, cost, rust_canonical);
    let rust_canonical_hit = latency(&hits, &misses, cost, rust_canonical);
    // The same with the shape guard `blocklist_check_canonical` runs first:
    // what is left between the two sides is the boundary alone.
    let rust_guarded =
        |live: &LiveIndex, kind: Kind, text: &str, out: &mut blocklist_check_result| {
            if has_canonical_shape(kind, text) {
                let now = now();
                let index = live.load();
                write_listing(out, index.lookup_canonical(kind, text, now).as_ref());
                black_box(out.listed);
            }
        };
    // What `blocklist_check_key` does under its boundary: the lookup with the
    // hash made ahead (`blocklist_make_key`'s keys, made by the same code),
    // neither shape test nor hash, reading kind, text, hash and whether a
    // domain's parents may answer (its seal) from `blocklist_key`s laid out
    // as the C program's (296 bytes each, whose lines a check reads from
    // memory).
    let seed = live.load().seed();
    let keyed = |queries: &[(Kind, String)]| -> Vec<blocklist_key> {
        queries
            .iter()
            .map(|(kind, text)| key::make(*kind, text, seed))
            .collect()
    };
    let (keyed_hits, keyed_misses) = (keyed(&hits), keyed(&misses));
    let rust_key = |key: &blocklist_key, out: &mut blocklist_check_result| {
        let now = now();
        let index = live.load();
        let text = &key.canonical[..usize::from(key.len)];
        // SAFETY: made from ASCII text above; `c_char` is laid out as `u8`.
        let text =
            unsafe { std::str::from_utf8_unchecked(&*(std::ptr::from_ref(text) as *const [u8])) };
        let hash = KeyHash {
            fingerprint: key.hash[0],
            position: key.hash[1],
        };
        // Whether a domain's parents may answer, from its seal as the C
        // call reads it (every key here is sealed).
        let parents_may_answer = key::sealed_parents(key).unwrap_or(true);
        let kind = Kind::from_code(key.kind);
        if let Some(hit) = index.lookup_hashed(kind, &hash, parents_may_answer, now, || Some(text))
        {
            write_listing(out, hit.as_ref());
        }
        black_box(out.listed);
    };
    let rust_key_miss = latency_of(&keyed_misses, &keyed_hits, cost, rust_key);
    let rust_key_hit = latency_of(&keyed_hits, &keyed_misses, cost, rust_key);
    // The key's fixed fields read just before the call, as the C side does.
    let touch_key = |key: &blocklist_key| {
        black_box((key.size, key.seal));
    };
    let rust_key_warm_miss = latency_touched(&keyed_misses, &keyed_hits, cost, touch_key, rust_key);
    let rust_guarded_miss = latency(&misses, &hits, cost, |k, t, out| {
        rust_guarded(&live, k, t, out)
    });
    let rust_guarded_hit = latency(&hits, &misses, cost, |k, t, out| {
        rust_guarded(&live, k, t, out)
    });
    let filter = {
        let index = live.load();
        latency(&misses, &hits, cost, |kind, text, _| {
            black_box(index.filter_admits(kind, text));
        })
    };
    let fuse_contains = |kind: Kind, text: &str, _: &mut blocklist_check_result| {
        black_box(fuse.contains(&baseline_hash(kind, text)));
    };
    let hashset_contains = |kind: Kind, text: &str, _: &mut blocklist_check_result| {
        black_box(set.contains(&baseline_hash(kind, text)));
    };
    let fuse_probe = latency(&misses, &hits, cost, fuse_contains);
    let hashset = latency(&hits, &misses, cost, hashset_contains);
    // Raw text through `check_batch`, or canonical text through
    // `lookup_batch`, each answer written into an array of results as the C
    // batch writes its own (every one as a miss, then the hits over theirs).
    let rust_batch = |queries: &[(Kind, String)], canonical: bool| {
        let refs: Vec<(Kind, &str)> = queries.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut results = vec![result_init(); 1024];
        let t0 = Instant::now();
        for chunk in refs.chunks_exact(1024) {
            let index = live.load();
            results.iter_mut().for_each(|out| write_listing(out, None));
            if canonical {
                let mut hits = Vec::new();
                index.lookup_batch(chunk, now(), &mut hits);
                for (at, hit) in &hits {
                    write_listing(&mut results[*at], Some(hit));
                }
            } else {
                for (out, answer) in results
                    .iter_mut()
                    .zip(index.check_batch(chunk, &rules, now()))
                {
                    if let Ok(Some(hit)) = answer {
                        write_listing(out, Some(&hit));
                    }
                }
            }
            black_box(&results);
        }
        t0.elapsed().as_nanos() as f64 / (refs.len() / 1024 * 1024) as f64
    };
    let rust_batches = [
        (rust_batch(&misses, false), rust_batch(&hits, false)),
        (rust_batch(&misses, true), rust_batch(&hits, true)),
    ];
    // `lookup_batch` after the shape guard of each query, as the C batch does,
    // the answers written as the C batch writes them (see `rust_batch`).
    let rust_guarded_batch = |live: &LiveIndex, queries: &[(Kind, String)]| {
        let refs: Vec<(Kind, &str)> = queries.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut results = vec![result_init(); 1024];
        let t0 = Instant::now();
        for chunk in refs.chunks_exact(1024) {
            let (mut shaped, mut positions) = (Vec::with_capacity(1024), Vec::with_capacity(1024));
            for (at, &(kind, text)) in chunk.iter().enumerate() {
                if has_canonical_shape(kind, text) {
                    shaped.push((kind, text));
                    positions.push(at);
                }
            }
            let (index, mut hits) = (live.load(), Vec::new());
            results.iter_mut().for_each(|out| write_listing(out, None));
            index.lookup_batch(&shaped, now(), &mut hits);
            for (at, hit) in &hits {
                write_listing(&mut results[positions[*at]], Some(hit));
            }
            black_box(&results);
        }
        t0.elapsed().as_nanos() as f64 / (refs.len() / 1024 * 1024) as f64
    };
    let rust_guarded_batches = (
        rust_guarded_batch(&live, &misses),
        rust_guarded_batch(&live, &hits),
    );
    let rust_throughput = |threads: usize| {
        let calls: u64 = std::thread::scope(|s| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        let mut out = result_init();
                        let end = Instant::now() + Duration::from_secs(2);
                        let mut calls = 0u64;
                        let mut i = 0usize;
                        while Instant::now() < end {
                            for _ in 0..256 {
                                let queries = if i & 1 == 1 { &misses } else { &hits };
                                let (kind, text) = &queries[(i >> 1) % queries.len()];
                                rust_check(*kind, text, &mut out);
                                i += 1;
                            }
                            calls += 256;
                        }
                        calls
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().expect("worker")).sum()
        });
        calls as f64 / 2.0
    };
    let (rust_1t, rust_2t) = (rust_throughput(1), rust_throughput(2));

    // The C program, linked against the static library built for this bench.
    let exe = dir.path().join("bench");
    let status = Command::new("cc")
        .args([
            "-std=c11",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-I",
        ])
        .arg(crate_dir.join("../include"))
        .arg(crate_dir.join("bench/bench.c"))
        .arg(static_library())
        .args(NATIVE_LIBS)
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc failed");
    // `bench <mode> <index> <hits> <misses> [more]`.
    let run_c_on = |mode: &str, index: &Path, more: &[&std::ffi::OsStr]| {
        let run = Command::new(&exe)
            .arg(mode)
            .args([index, &hits_file, &misses_file])
            .args(more)
            .output()
            .expect("run the C bench");
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        parse(&run.stdout)
    };
    let run_c = |mode: &str| run_c_on(mode, &index_path, &[]);
    let c = run_c("steady");
    assert_eq!(
        get(&c, "miss_wrong") + get(&c, "hit_wrong"),
        0.0,
        "the C bench got wrong answers"
    );

    // The C / Rust ratio of each median again, in rounds that run the Rust
    // passes and then the C program back to back: the two sides of the table
    // above are measured tens of seconds apart, long enough for the shared
    // machine to change under one of them. Each C figure is compared with
    // the Rust call doing the same work: the canonical ones with the shape
    // guard first. The baselines are timed in the same rounds, so that the
    // target ratios (C against the fuse probe and the HashSet) also come
    // from passes seconds apart: a one-off baseline pass has read 3x slow on
    // a busy machine.
    let mut c_ratios: Vec<Vec<f64>> = vec![Vec::new(); ROUND_ROWS.len()];
    let mut target_rounds: Vec<Vec<f64>> = vec![Vec::new(); ROUND_ROWS.len()];
    for _ in 0..rounds {
        let rust = [
            latency(&misses, &hits, cost, rust_check).median as f64,
            latency(&hits, &misses, cost, rust_check).median as f64,
            latency(&misses, &hits, cost, |k, t, out| {
                rust_guarded(&live, k, t, out)
            })
            .median as f64,
            latency(&hits, &misses, cost, |k, t, out| {
                rust_guarded(&live, k, t, out)
            })
            .median as f64,
            latency_of(&keyed_misses, &keyed_hits, cost, rust_key).median as f64,
            latency_of(&keyed_hits, &keyed_misses, cost, rust_key).median as f64,
            latency_touched(&keyed_misses, &keyed_hits, cost, touch_key, rust_key).median as f64,
            rust_guarded_batch(&live, &misses),
            rust_guarded_batch(&live, &hits),
        ];
        let baselines = [
            latency(&misses, &hits, cost, fuse_contains).median as f64,
            latency(&hits, &misses, cost, hashset_contains).median as f64,
        ];
        let c = run_c("medians");
        for (((ratios, targets), (name, baseline)), rust) in c_ratios
            .iter_mut()
            .zip(&mut target_rounds)
            .zip(ROUND_ROWS)
            .zip(rust)
        {
            let c = get(&c, name);
            ratios.push(c / rust);
            if let Some(baseline) = baseline {
                targets.push(c / baselines[baseline]);
            }
        }
    }

    // Lookups through the overlay of recent changes against the same lookups
    // through an empty one, alternating in each round: Rust in this process,
    // C in one process holding a handle on each. Rust figures first, then C's.
    let overlay_rounds = overlays.as_ref().map(|overlays| {
        let empty = LiveIndex::open(&overlays.empty).expect("open the empty overlay");
        let recent = LiveIndex::open(&overlays.recent).expect("open the overlay");
        let rust = |live: &LiveIndex| {
            [
                latency(&misses, &hits, cost, |k, t, out| {
                    rust_guarded(live, k, t, out)
                })
                .median as f64,
                latency(&hits, &misses, cost, |k, t, out| {
                    rust_guarded(live, k, t, out)
                })
                .median as f64,
                rust_guarded_batch(live, &misses),
                rust_guarded_batch(live, &hits),
            ]
        };
        let mut ratios = vec![Vec::new(); 2 * OVERLAY_ROWS.len()];
        for _ in 0..rounds {
            let (with_empty, with_recent) = (rust(&empty), rust(&recent));
            let c = run_c_on("overlay", &overlays.empty, &[overlays.recent.as_os_str()]);
            let (rust_ratios, c_ratios) = ratios.split_at_mut(OVERLAY_ROWS.len());
            for (i, name) in OVERLAY_ROWS.iter().enumerate() {
                rust_ratios[i].push(with_recent[i] / with_empty[i]);
                c_ratios[i]
                    .push(get(&c, &format!("recent_{name}")) / get(&c, &format!("empty_{name}")));
            }
        }
        ratios
    });
    drop(live);

    // Instructions per call under callgrind, which the machine's load does not move.
    let callgrind = env_number("BLOCKLIST_BENCH_CALLGRIND", 0);
    let mut counted = Vec::new();
    if callgrind > 0 {
        let mut indexes = vec![(String::new(), index_path.as_path())];
        if let Some(overlays) = &overlays {
            indexes.push((" (empty overlay)".into(), &overlays.empty));
            indexes.push((format!(" ({overlay}-change overlay)"), &overlays.recent));
        }
        for (label, index) in indexes {
            for (entry, set) in [
                ("check_canonical", "misses"),
                ("check_canonical", "hits"),
                ("check_key", "misses"),
                ("check_key", "hits"),
                ("check_canonical_batch", "misses"),
                ("check_canonical_batch", "hits"),
                ("check", "misses"),
            ] {
                let files = [index, &hits_file, &misses_file];
                let per_item = instructions(&exe, dir.path(), files, entry, set, callgrind);
                counted.push(format!("blocklist_{entry}, {set}{label}: {per_item:.0}"));
            }
        }
    }

    // Checks while the index file is replaced: a fresh copy renamed over it, continuously.
    let mut child = Command::new(&exe)
        .arg("swaps")
        .args([&index_path, &hits_file, &misses_file])
        .arg(swap_seconds.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the C bench");
    let copy = dir.path().join("lookup.idx.tmp");
    let mut swaps = 0u32;
    while child.try_wait().expect("poll").is_none() {
        std::fs::copy(&index_path, &copy).expect("copy the index");
        std::fs::rename(&copy, &index_path).expect("publish the copy");
        swaps += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let swapped = child.wait_with_output().expect("swap run");
    assert!(swapped.status.success());
    let s = parse(&swapped.stdout);
    let (announced, unannounced, idle_cpu) = follow(
        &exe,
        dir.path(),
        [&index_path, &hits_file, &misses_file],
        follows,
    );

    // The report.
    let ratio = |a: f64, b: f64| a / b;
    println!("\nlibblocklist, {entries} entries, {query_count} hits and misses (ns; timer cost C {} / Rust {cost})", get(&c, "timer_cost"));
    println!("| | C | Rust | C / Rust |");
    println!("|---|---:|---:|---:|");
    for (name, label, rust) in [
        ("miss", "raw text, miss", &rust_miss),
        ("hit", "raw text, hit", &rust_hit),
        ("canonical_miss", "canonical, miss", &rust_canonical_miss),
        ("canonical_hit", "canonical, hit", &rust_canonical_hit),
        ("key_miss", "key, miss", &rust_key_miss),
        ("key_hit", "key, hit", &rust_key_hit),
        (
            "key_warm_miss",
            "key read just before, miss",
            &rust_key_warm_miss,
        ),
    ] {
        for (stat, rust) in [
            ("median", rust.median),
            ("p99", rust.p99),
            ("p999", rust.p999),
        ] {
            let c = get(&c, &format!("{name}_{stat}"));
            println!(
                "| {label} {stat} | {c} | {rust} | {:.2} |",
                ratio(c, rust as f64)
            );
        }
    }
    for ((name, label), (rust_miss, rust_hit)) in [
        ("", "batch of 1024 (raw text)"),
        ("canonical_", "canonical batch of 1024"),
    ]
    .into_iter()
    .zip(rust_batches)
    {
        for (outcome, plural, rust) in [("miss", "misses", rust_miss), ("hit", "hits", rust_hit)] {
            let c = get(&c, &format!("{name}{outcome}_batch_per_id"));
            println!(
                "| {label}, {plural}, per id | {c:.1} | {rust:.1} | {:.2} |",
                c / rust
            );
        }
    }
    let (t1, t2) = (get(&c, "throughput_1t"), get(&c, "throughput_2t"));
    println!(
        "| throughput, 1 thread (M checks/s) | {:.2} | {:.2} | {:.2} |",
        t1 / 1e6,
        rust_1t / 1e6,
        rust_1t / t1
    );
    println!(
        "| throughput, 2 threads (M checks/s) | {:.2} | {:.2} | {:.2} |",
        t2 / 1e6,
        rust_2t / 1e6,
        rust_2t / t2
    );
    let spread = |mut ratios: Vec<f64>| {
        ratios.sort_unstable_by(f64::total_cmp);
        format!(
            "{:.2} ({:.2}..{:.2})",
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1]
        )
    };
    println!("\nIn {rounds} rounds of the Rust passes, the baselines and the C program back to back (median of the rounds, then their range; C against the Rust call doing the same work, the canonical ones with the shape guard first; the raw-text rows include normalising, which the baselines do not):");
    for (((name, baseline), ratios), targets) in ROUND_ROWS.iter().zip(c_ratios).zip(target_rounds)
    {
        let target = baseline.map_or(String::new(), |b| {
            format!("; C / {} {}", BASELINES[b], spread(targets))
        });
        println!("  {name}: C / Rust {}{target}", spread(ratios));
    }
    println!("\nbaselines (Rust, same run), median / p99 / p99.9: xorf BinaryFuse8 probe on misses {} / {} / {}; our filter probe alone {} / {} / {}; HashSet<u64> hit {} / {} / {}",
        fuse_probe.median, fuse_probe.p99, fuse_probe.p999, filter.median, filter.p99, filter.p999,
        hashset.median, hashset.p99, hashset.p999);
    for (name, call) in [
        ("", "blocklist_check (raw text)"),
        ("canonical_", "blocklist_check_canonical"),
        ("key_", "blocklist_check_key"),
    ] {
        let miss = get(&c, &format!("{name}miss_median"));
        println!(
            "C {call}, one pass: miss median / BinaryFuse8 probe {:.2}x (/ our filter alone {:.2}x); hit median / HashSet hit {:.2}x",
            miss / fuse_probe.median as f64,
            miss / filter.median as f64,
            get(&c, &format!("{name}hit_median")) / hashset.median as f64
        );
    }
    println!("\nduring swaps ({swaps} index files published in {swap_seconds} s, {} swapped in): {} checks, {} errors, {} wrong, p99 {} / p99.9 {} / worst {} ns",
        get(&s, "swaps_reloads"), get(&s, "swaps_calls"), get(&s, "swaps_errors"), get(&s, "swaps_wrong"),
        get(&s, "swaps_p99"), get(&s, "swaps_p999"), get(&s, "swaps_max"));
    println!(
        "\nRust with the shape guard first (has_canonical_shape, then the same call), against C: canonical miss median {} ns (C / it {:.2}), hit {} ns ({:.2}); canonical batch per id, misses {:.1} ns ({:.2}), hits {:.1} ns ({:.2})",
        rust_guarded_miss.median,
        get(&c, "canonical_miss_median") / rust_guarded_miss.median as f64,
        rust_guarded_hit.median,
        get(&c, "canonical_hit_median") / rust_guarded_hit.median as f64,
        rust_guarded_batches.0,
        get(&c, "canonical_miss_batch_per_id") / rust_guarded_batches.0,
        rust_guarded_batches.1,
        get(&c, "canonical_hit_batch_per_id") / rust_guarded_batches.1,
    );
    if let Some(ratios) = overlay_rounds {
        println!("\nthrough a {overlay}-change overlay / through an empty one, alternating, median of {rounds} rounds (range) [<= 1.10]:");
        let (rust, c) = ratios.split_at(OVERLAY_ROWS.len());
        for ((name, rust), c) in OVERLAY_ROWS.iter().zip(rust).zip(c) {
            println!(
                "  {name}: Rust {}; C {}",
                spread(rust.clone()),
                spread(c.clone())
            );
        }
    }
    if !counted.is_empty() {
        println!("\ninstructions per item (callgrind, {callgrind} items each):");
        for line in counted {
            println!("  {line}");
        }
    }
    let ms = |ns: u64| ns as f64 / 1e6;
    println!(
        "\nnew index to C handle (default options; {} copies of the index renamed into place): announced in the heartbeat, median {:.1} ms, worst {:.1} ms; not announced (the periodic reload), median {:.1} ms, worst {:.1} ms; an idle handle's CPU time {idle_cpu:.0} µs per second",
        announced.len() + unannounced.len(),
        ms(announced[announced.len() / 2]),
        ms(announced[announced.len() - 1]),
        ms(unannounced[unannounced.len() / 2]),
        ms(unannounced[unannounced.len() - 1]),
    );
}

/// `CLOCK_MONOTONIC` in nanoseconds, the clock the C program reads.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the call.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Publishes `count` copies of the index by rename while `bench follow`
/// runs, three in four announced in a heartbeat as the daemon announces an
/// apply, each at a random moment after the handle took the one before;
/// returns the latencies (ns, sorted) of the announced ones and of the
/// others, and the idle handle's CPU time in µs per second.
fn follow(exe: &Path, dir: &Path, files: [&Path; 3], count: usize) -> (Vec<u64>, Vec<u64>, f64) {
    let heartbeat = HeartbeatWriter::create(dir).expect("create the heartbeat");
    let mut child = Command::new(exe)
        .arg("follow")
        .args(files)
        .arg("3")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run the C bench");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while line.trim() != "ready" {
        line.clear();
        assert!(stdout.read_line(&mut line).expect("read") > 0, "no ready");
    }
    let (index, copy) = (files[0], dir.join("lookup.idx.tmp"));
    let mut rng = SplitMix(0xF011);
    let (mut announced, mut unannounced) = (Vec::new(), Vec::new());
    for i in 0..count.max(4) {
        std::thread::sleep(Duration::from_millis(20 + rng.below(200)));
        std::fs::copy(index, &copy).expect("copy the index");
        std::fs::rename(&copy, index).expect("publish the copy");
        let at = monotonic_ns();
        let announce = i % 4 != 3;
        if announce {
            heartbeat.index_published();
        }
        writeln!(stdin, "{at}").expect("send");
        line.clear();
        stdout.read_line(&mut line).expect("read");
        let latency = parse(line.as_bytes())
            .first()
            .map(|(_, ns)| *ns as u64)
            .expect("a follow_ns line");
        if announce {
            &mut announced
        } else {
            &mut unannounced
        }
        .push(latency);
    }
    drop(stdin);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("read");
    assert!(child.wait().expect("follow run").success());
    let idle = get(&parse(rest.as_bytes()), "idle_cpu_us_per_s");
    announced.sort_unstable();
    unannounced.sort_unstable();
    (announced, unannounced, idle)
}

/// Instructions per item of `count` queries of `set` (`hits` or `misses`)
/// through `blocklist_<entry>`, counted by callgrind inside the entry point
/// only (`bench calls`).
fn instructions(
    exe: &Path,
    dir: &Path,
    files: [&Path; 3],
    entry: &str,
    set: &str,
    count: usize,
) -> f64 {
    let out = dir.join("callgrind.out");
    let run = Command::new("valgrind")
        .args(["--tool=callgrind", "--collect-atstart=no"])
        .arg(format!("--toggle-collect=blocklist_{entry}"))
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .arg("calls")
        .args(files)
        .args([entry, set, &count.to_string()])
        .output()
        .expect("run valgrind (BLOCKLIST_BENCH_CALLGRIND needs it)");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let items = get(&parse(&run.stdout), "calls_items");
    let profile = std::fs::read_to_string(&out).expect("read the callgrind profile");
    let total: f64 = profile
        .lines()
        .find_map(|l| l.strip_prefix("totals: "))
        .and_then(|v| v.trim().parse().ok())
        .expect("a totals line in the callgrind profile");
    total / items
}
