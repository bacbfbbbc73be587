//! blocklist-lookup: the read side of blocklist, everything a lookup needs and
//! nothing it does not.
//!
//! 1. [`kind`], [`identifier`], [`normalise`], [`entry`]: what is listed, in one canonical form.
//! 2. [`index`]: the compact lookup index, built from a list of entries and
//!    published as one mapped file; lookups in this process or, through the C
//!    library, in another one.
//!
//!
//! [`atomic_file`] is how every part of blocklist replaces a file that others
//! read (the index here; the centre's and the daemon's published files).
//!
//! It holds no SQLite, no signatures and no network code, so `libblocklist`
//! (which depends on this crate alone) carries none of them into a bank's
//! link. `blocklist-core` builds the write side (signed documents,
//! verification, the replica store) on top of it and re-exports it whole.

pub mod atomic_file;
pub mod entry;
pub mod identifier;
pub mod index;
pub mod kind;
pub mod normalise;

pub use entry::{Agency, Entry, EntryMeta, NamedCodes, Reason, Standing, Timestamp};
pub use identifier::Identifier;
pub use kind::Kind;
pub use normalise::{NormaliseError, Rules};
