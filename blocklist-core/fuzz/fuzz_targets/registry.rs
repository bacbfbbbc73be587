//! The agency registry payload decoder: no panic, canonical encodings only.

#![no_main]

#[path = "document.rs"]
mod document;

use blocklist_core::document::Registry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| document::payload_round_trips::<Registry>(data));
