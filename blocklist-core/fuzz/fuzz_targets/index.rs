//! The lookup index file decoder on arbitrary bytes: `open` refuses or accepts,
//! never panics, and an accepted index answers lookups without faulting.
//!
//! Random bytes rarely carry a valid checksum, which would stop every input at
//! the first check; so when the first byte is odd the target fixes the checksum
//! (xxh3-64 of every byte but the 8 at offset 152, see `index/format.rs`) the
//! way a forger would, letting the structural checks behind it (sections,
//! spills, agency indexes) be explored.

#![no_main]

use std::io::Write;

use blocklist_core::index::LookupIndex;
use blocklist_core::{Kind, Timestamp};
use libfuzzer_sys::fuzz_target;

const CHECKSUM_AT: usize = 152;

fuzz_target!(|data: &[u8]| {
    let Some((&flag, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    if flag & 1 == 1 && bytes.len() >= CHECKSUM_AT + 8 {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(&bytes[..CHECKSUM_AT]);
        hasher.update(&bytes[CHECKSUM_AT + 8..]);
        let sum = hasher.digest();
        bytes[CHECKSUM_AT..CHECKSUM_AT + 8].copy_from_slice(&sum.to_le_bytes());
    }
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(&bytes).expect("write");
    if let Ok(index) = LookupIndex::open(file.path()) {
        for kind in Kind::KNOWN {
            let _ = index.lookup_canonical(kind, "scam.example.com", Timestamp(0));
        }
        let keys = [(Kind::Number, "+66812345678"), (Kind::Domain, "a.b.example.com")];
        let mut hits = Vec::new();
        index.lookup_batch(&keys, Timestamp(0), &mut hits);
    }
});
