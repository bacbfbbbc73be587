//! The streaming envelope reader (how a snapshot file is checked without
//! holding it): it reads any input as the in-memory parser does, the same
//! envelope or a refusal, and never panics.

#![no_main]

use blocklist_core::document::envelope;
use blocklist_core::Sha256;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match (envelope::parse(data), envelope::scan(&mut &data[..])) {
        (Ok(parsed), Ok(scanned)) => {
            assert_eq!(parsed.doc_type, scanned.header.doc_type);
            assert_eq!(parsed.payload.len() as u64, scanned.header.payload_len);
            assert_eq!(parsed.signatures, scanned.signatures);
            assert_eq!(Sha256::of(data), scanned.file_sha256);
        }
        (Err(_), Err(_)) => {}
        (parsed, scanned) => panic!(
            "parse {:?}, scan {:?}",
            parsed.map(|_| ()),
            scanned.map(|_| ())
        ),
    }
});
