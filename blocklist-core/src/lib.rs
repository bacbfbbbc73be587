//! blocklist-core: the model and the engine of blocklist.
//!
//! Data flows one way, and the modules follow it:
//!
//! 1. [`kind`], [`identifier`], [`normalise`], [`entry`]: what is listed, in one canonical form.
//! 2. [`keys`], [`digest`], [`commitment`], [`document`]: the centre's signed, versioned documents (trust root,
//!    manifest, delta, snapshot) and their canonical encoding (`docs/FORMAT.md`).
//!    [`log`]: the transparency log that records every published file; [`proof`]: one
//!    identifier's history, proven from it for anyone holding the trust root.
//! 3. [`verify`]: the only way to turn bytes into a [`verify::Verified`] document.
//! 4. [`store`]: the SQLite replica; it accepts only verified documents, one transaction each.
//! 5. [`index`]: the compact lookup index built from the store, published as one mapped file.
//! 6. [`replica`]: a data folder keeping 4 and 5 in step, its one writer ([`lock`]); [`Error`]
//!    covers its failures.
//!
//! Stage 1 and the index of stage 5 are the read side, in the crate `blocklist-lookup`
//! (`blocklist-core/lookup/`), re-exported here whole: the C library depends on that crate
//! alone, so a bank's link carries no SQLite and no signature code.
//!
//! This crate knows nothing of HTTP, Tokio or C: `blocklistd` and `blocklist-ffi` are shells around it.

pub use blocklist_lookup::{atomic_file, entry, identifier, index, kind, normalise};

pub mod commitment;
pub mod digest;
pub mod document;
mod error;
pub mod keys;
pub mod lock;
pub mod log;
pub mod ownership;
pub mod proof;
pub mod replica;
pub mod store;
pub mod verify;

pub use commitment::{Commitment, LaneSum, LtHash16, StateAccumulator};
pub use digest::{Sha256, StateDigest};
pub use entry::{Agency, Entry, EntryMeta, NamedCodes, Reason, Standing, Timestamp};
pub use error::Error;
pub use identifier::Identifier;
pub use keys::{KeyId, PublicKey, SecretKey, SignError, Signer};
pub use kind::Kind;
pub use normalise::{NormaliseError, Rules};
