//! The lookup index file decoder on arbitrary bytes: `open` refuses or accepts,
//! never panics, and an accepted index answers lookups without faulting.

#![no_main]

use std::io::Write;

use blocklist_core::index::LookupIndex;
use blocklist_core::{Kind, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(data).expect("write");
    if let Ok(index) = LookupIndex::open(file.path()) {
        for kind in Kind::KNOWN {
            let _ = index.lookup_canonical(kind, "scam.example.com", Timestamp(0));
        }
    }
});
