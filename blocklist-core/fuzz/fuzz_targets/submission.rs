//! The submission payload decoder: no panic, canonical encodings only, and
//! the operation cap refused before any count is allocated from.

#![no_main]

#[path = "document.rs"]
mod document;

use blocklist_core::document::Submission;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| document::payload_round_trips::<Submission>(data));
