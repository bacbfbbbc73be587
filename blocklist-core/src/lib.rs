//! blocklist-core: the model and the engine of blocklist.
//!
//! Data flows one way, and the modules follow it:
//!
//! 1. [`kind`], [`identifier`], [`normalise`], [`entry`]: what is listed, in one canonical form.
//! 2. [`document`]: the centre's signed, versioned documents (trust root, manifest, delta, snapshot)
//!    and their canonical encoding.
//! 3. [`verify`]: the only way to turn bytes into a [`verify::Verified`] document.
//! 4. (store, index: the local replica and the lookup index.)
//!
//! This crate knows nothing of HTTP, Tokio or C: `blocklistd` and `blocklist-ffi` are shells around it.

pub mod digest;
pub mod document;
pub mod entry;
pub mod identifier;
pub mod index;
pub mod keys;
pub mod kind;
pub mod normalise;
pub mod store;
pub mod verify;

pub use digest::{Sha256, StateDigest};
pub use entry::{Agency, Entry, EntryMeta, Reason, Timestamp};
pub use identifier::Identifier;
pub use keys::{KeyId, PublicKey, SecretKey};
pub use kind::Kind;
pub use normalise::{NormaliseError, Rules};
