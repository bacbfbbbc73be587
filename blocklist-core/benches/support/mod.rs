//! Data shared by the benchmarks: entries shaped like real reports.

use blocklist_core::document::{Document as _, ListId, TrustRoot};
use blocklist_core::verify::Verifier;
use blocklist_core::*;

/// `n` distinct identifiers shaped like real reports: Thai mobiles, Thai bank
/// accounts, scam domains, listed in batches by a few agencies. Different
/// seeds give different sets, which may still overlap: callers filter.
pub fn realistic_entries(n: usize, now: Timestamp, seed: u64) -> Vec<Entry> {
    let rules = Rules::default();
    let agencies: Vec<Agency> = ["th-aoc", "th-police", "bank-004", "bank-014", "telco-ais"]
        .iter()
        .map(|a| Agency::new(a).expect("agency"))
        .collect();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ seed.wrapping_mul(0xff51_afd7_ed55_8ccd);
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut unique = std::collections::HashMap::with_capacity(n);
    if n == 0 {
        return Vec::new();
    }
    for (id, entry) in (0..).map(|i| {
        let r = next();
        let (kind, raw) = match i % 10 {
            0..=3 => (
                Kind::Number,
                // Allocated Thai mobile ranges (6[1-6], 8x, 9x in the numbering plan).
                format!(
                    "0{}{:07}",
                    [61, 63, 81, 86, 89, 91, 95, 98][(r % 8) as usize],
                    r % 10_000_000
                ),
            ),
            4..=6 => (
                Kind::Account,
                format!(
                    "{:03}/{:010}",
                    [2, 4, 6, 14, 25][(r % 5) as usize],
                    r % 10_000_000_000
                ),
            ),
            _ => (
                Kind::Domain,
                format!(
                    "{}-{:x}.{}",
                    ["secure", "login", "th-pay", "promo"][(r % 4) as usize],
                    r >> 40,
                    ["com", "net", "xyz", "co.th"][(r >> 8) as usize % 4]
                ),
            ),
        };
        let batch = (i / 500) as u64;
        let id = Identifier::parse(kind, &raw, &rules).expect("valid identifier");
        let entry = Entry {
            id: id.clone(),
            meta: EntryMeta {
                reason: Reason((batch % 7) as u16 + 1),
                agency: agencies[(batch % 5) as usize].clone(),
                listed_at: Timestamp(now.0 - 3600 * (batch % 48)),
                expires_at: (batch % 3 == 0).then(|| now.plus(86_400 * 90)),
            },
        };
        (id, entry)
    }) {
        unique.entry(id).or_insert(entry);
        if unique.len() == n {
            break;
        }
    }
    unique.into_values().collect()
}

/// What a benchmark signs and verifies with: one key, the list, a verifier
/// pinned on a root of that key, and the time of the run.
pub struct Signing {
    pub key: SecretKey,
    pub list: ListId,
    pub verifier: Verifier,
    pub now: Timestamp,
}

impl Signing {
    pub fn new() -> Signing {
        let key = SecretKey::generate().expect("randomness");
        let list = ListId::new("bench").expect("list id");
        let now = Timestamp::now();
        let root = TrustRoot::single_key(list.clone(), &key, now, now.plus(86_400));
        let verifier = Verifier::pin(&root.sign(&[&key]).expect("sign root")).expect("pin");
        Signing {
            key,
            list,
            verifier,
            now,
        }
    }
}

/// An agency's requests to list each of `entries` with its reason, without
/// expiry: what its submission asks in the benches that trace listings.
pub fn listing_requests(entries: &[Entry]) -> Vec<blocklist_core::document::SubmissionOp> {
    entries
        .iter()
        .map(|e| {
            blocklist_core::document::SubmissionOp::Add(blocklist_core::document::ListingRequest {
                id: e.id.clone(),
                reason: e.meta.reason,
                expires_at: None,
            })
        })
        .collect()
}

/// The count in environment variable `name`, else `default`.
pub fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Bytes this process has caused to be written to storage so far
/// (`/proc/self/io`), which the load of the machine does not change.
pub fn written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("write_bytes:")?.trim().parse().ok())
        })
        .unwrap_or(0)
}
