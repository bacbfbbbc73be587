//! The transparency log: an append-only record of every file the centre
//! publishes (trust roots, agency registries, deltas, snapshots), so that a
//! centre (or a thief of its key) cannot show one history to one replica and
//! another to the next without every party that compares checkpoints seeing
//! it (docs/FORMAT.md, "Transparency log").
//!
//! The log is a Merkle tree hashed as RFC 6962 says, laid out as the static
//! files of C2SP tlog-tiles under `log/` in the publish directory (tiles never
//! change once a checkpoint names them; only `log/checkpoint` does), and its
//! head is a C2SP checkpoint signed by the publish keys, which every manifest
//! carries. Modules, in the order data flows through them:
//!
//! - [`record`]: what one entry of the log says (a file's type, version,
//!   digest and size).
//! - [`tree`]: the hashing, and the right edge of a tree ([`Frontier`]) that is
//!   all a writer or a follower needs to extend it.
//! - [`tiles`]: the tile files the centre writes and anyone may fetch.
//! - [`checkpoint`]: the signed tree head.
//! - [`follow`]: how a replica extends the head it holds to a newer one, or
//!   refuses it as a fork.
//! - [`witness`]: the cosignatures of independent witnesses that a replica
//!   may require of a checkpoint.

pub mod checkpoint;
mod error;
pub mod follow;
pub mod record;
pub mod tiles;
pub mod tree;
pub mod witness;

pub use checkpoint::{Checkpoint, SignedCheckpoint};
pub use error::LogError;
pub use follow::LogHead;
pub use record::Record;
pub use tiles::TiledLog;
pub use tree::Frontier;
pub use witness::{Witness, Witnesses};

/// Where the log lives in a publish directory (and on a mirror).
pub const LOG_DIR: &str = "log";

/// The checkpoint's path, relative to [`LOG_DIR`].
pub const CHECKPOINT_PATH: &str = "checkpoint";
