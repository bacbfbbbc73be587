//! The transparency log's decoders: records, entry bundles, signed
//! checkpoints (with witness lines) and witness verifier keys. No panic, and
//! whatever is read back encodes to the bytes it was read from.

#![no_main]

use blocklist_core::log::follow::BundleFetch;
use blocklist_core::log::record::MAX_RECORD_LEN;
use blocklist_core::log::{Record, SignedCheckpoint, Witness};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = Record::parse(0, data) {
        assert_eq!(record.to_bytes(), data);
    }
    if let Ok(note) = SignedCheckpoint::parse(data) {
        assert_eq!(note.as_bytes(), data);
        let _ = note.with_lines_of(&note);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(witness) = Witness::parse_vkey(text) {
            assert_eq!(witness.vkey(), text);
        }
    }
    let width = u64::from(data.first().copied().unwrap_or(1)).max(1);
    let fetch = BundleFetch {
        path: "tile/entries/000".to_owned(),
        width,
        skip: 0,
    };
    if let Ok(entries) = fetch.new_entries(data) {
        assert!(entries.iter().all(|e| e.len() <= MAX_RECORD_LEN));
    }
});
