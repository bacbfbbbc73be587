//! libblocklist: the C ABI over the blocklist lookup index, the library bank
//! core systems link to ask "is this identifier listed?" inside a payment.
//!
//! One module per C object, plus the boundary machinery every entry point
//! uses. Imports run one way, each module using only those above it:
//!
//! 1. `codes`: the result codes in their bands and the static text of each;
//! 2. `types`: the C value types (kinds, freshness, limits, the query,
//!    result and status structs), plain data;
//! 3. `error`: the Rust error carrying a code and a detailed message to the
//!    boundary, the codes of the lookup crate's errors, the per-thread message;
//! 4. `boundary`: the panic boundary (`ffi_guard`) every exported body runs in;
//! 5. `args`: NULL, length, UTF-8 and kind checks shared by every entry point;
//! 6. `message`: `blocklist_error_message`, `blocklist_last_error`;
//! 7. `clock`: the time a check is answered at (public: the benchmark times
//!    Rust calls with the same clock);
//! 8. `options`: `blocklist_options` and their defaults;
//! 9. `published`: the value a handle's lookups read, replaced by its
//!    reload thread, read without a locked instruction;
//! 10. `handle`: `blocklist_handle` (open, close, reload, status), the reload
//!     design and freshness;
//! 11. `check`: checks of one identifier, per kind, or a batch;
//! 12. `canonical`: normalising once, then checking the canonical form;
//! 13. `key`: normalising and hashing once into a `blocklist_key`, then
//!     checking it with neither normalisation, shape test nor hash.
//!
//! Beside them, `version` (the version and ABI version calls) and `sized`
//! (the growth rule of the structs that carry a `size` field), used by
//! `options`, `handle`, `check` and `key`.
//!
//! The header `include/blocklist.h` is generated from these modules by
//! cbindgen (`cbindgen.toml`); `tests/header.rs` fails when it is stale
//! (`BLOCKLIST_BLESS=1 cargo test -p blocklist-ffi --test header` refreshes it).

#![allow(non_camel_case_types)]

mod args;
mod boundary;
pub mod canonical;
pub mod check;
pub mod clock;
pub mod codes;
mod error;
pub mod handle;
pub mod key;
pub mod message;
pub mod options;
mod published;
pub mod sized;
pub mod types;
pub mod version;
