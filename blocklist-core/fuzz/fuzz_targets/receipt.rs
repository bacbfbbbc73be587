//! The receipt payload decoder: no panic, canonical encodings only; and the
//! whole receipt verifier on arbitrary files, refusing them cleanly.

#![no_main]

#[path = "document.rs"]
mod document;

use blocklist_core::document::{ListId, Receipt};
use blocklist_core::verify::verify_receipt;
use blocklist_core::SecretKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    document::payload_round_trips::<Receipt>(data);
    let key = SecretKey::from_seed(&[2; 32]).public_key();
    let list = ListId::new("fuzz").expect("list id");
    let _ = verify_receipt(data, &list, |id| (*id == key.id()).then_some(key));
});
