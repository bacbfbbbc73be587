//! The signed envelope and the verifier on arbitrary files: refused, never a panic.

#![no_main]

#[path = "document.rs"]
mod document;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| document::envelope_is_refused_cleanly(data));
