//! libblocklist: the C ABI over the blocklist lookup index, the library bank
//! core systems link to ask "is this identifier listed?" inside a payment.
//!
//! One module per C object, plus the boundary machinery every entry point uses:
//!
//! - `handle`: `blocklist_handle` (open, close, reload, status) and the
//!   reload design;
//! - `check`: checks of one identifier, per kind, or a batch, and the result struct;
//! - `canonical`: normalising once, then checking the canonical form;
//! - `options`: `blocklist_options` and their defaults;
//! - `error`: the result codes in their bands, their texts, the per-thread message;
//! - `boundary`: the panic boundary (`ffi_guard`) every exported body runs in;
//! - `args`: NULL, length, UTF-8 and kind checks shared by every entry point.
//!
//! The header `include/blocklist.h` is generated from these modules by
//! cbindgen (`cbindgen.toml`); `tests/header.rs` fails when it is stale
//! (`BLOCKLIST_BLESS=1 cargo test -p blocklist-ffi --test header` refreshes it).

#![allow(non_camel_case_types)]

mod args;
mod boundary;
pub mod canonical;
pub mod check;
mod clock;
pub mod error;
pub mod handle;
pub mod options;

use std::ffi::c_char;

/// The library version ("0.1.0"), a static NUL-terminated string (never free it).
///
/// Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn blocklist_version() -> *const c_char {
    VERSION.as_ptr()
}

const VERSION: &std::ffi::CStr = match std::ffi::CStr::from_bytes_with_nul(
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes(),
) {
    Ok(version) => version,
    Err(_) => panic!("the crate version holds a NUL"),
};
