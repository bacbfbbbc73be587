//! Why a log file, a checkpoint or an extension of the log is refused.

/// A refused part of the transparency log. Each variant names what was read
/// and what was wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// A log entry that is not a record in its one canonical form.
    #[error("log entry {index}: {reason}")]
    Record {
        /// The entry's index in the log.
        index: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A tile or entry bundle that is not what its path says it holds.
    #[error("log tile {path}: {reason}")]
    Tile {
        /// The tile's path under `log/`.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A checkpoint that is not a well-formed, canonical signed note.
    #[error("log checkpoint: {reason}")]
    Checkpoint {
        /// What is wrong with it.
        reason: String,
    },
    /// A checkpoint for another log.
    #[error("log checkpoint is for {found:?}, this list's log is {expected:?}")]
    Origin {
        /// The origin the reader's list gives.
        expected: String,
        /// The origin the checkpoint names.
        found: String,
    },
    /// A checkpoint without enough valid signatures by the publish keys.
    #[error("log checkpoint at size {size}: {reason}")]
    Signature {
        /// The checkpoint's tree size.
        size: u64,
        /// Which signature failed, or how many were found of how many needed.
        reason: String,
    },
    /// A checkpoint for a smaller tree than one already verified: the log
    /// shrank, which an append-only log never does.
    #[error("log checkpoint at size {offered} is older than the one this replica verified (size {held}): the log never shrinks")]
    Shrank {
        /// The size verified before.
        held: u64,
        /// The size offered.
        offered: u64,
    },
    /// The offered tree does not extend the one verified before: the
    /// directory's history is not the one this replica saw.
    #[error("log checkpoint at size {size} has root {offered}, but extending the log this replica verified (size {held}) with the entries served gives {computed}: this history is not an extension of the one seen before (a fork; a centre restored from a backup takes back the log its replicas saw with `blocklist restore-log` before it publishes)")]
    Fork {
        /// The size verified before.
        held: u64,
        /// The offered size.
        size: u64,
        /// The root the offered checkpoint names.
        offered: crate::Sha256,
        /// The root the held log extended by the served entries gives.
        computed: crate::Sha256,
    },
    /// A file that the log does not record.
    #[error("{file} is not recorded in the log at size {size}: every published file must be")]
    NotIncluded {
        /// The file (type, version, digest).
        file: String,
        /// The size of the log it was looked for in.
        size: u64,
    },
    /// A witness named wrongly, or whose cosignature does not verify.
    #[error("witness {witness}: {reason}")]
    Witness {
        /// The witness (its name, or the verifier key given).
        witness: String,
        /// What is wrong.
        reason: String,
    },
    /// A checkpoint without the cosignatures of enough of the witnesses a
    /// replica requires.
    #[error("log checkpoint at size {size}: cosigned by {cosigned} of the {needed} witnesses needed (of {named}); it is taken once they have checked it and `blocklist cosign` has added their lines to log/checkpoint")]
    Witnesses {
        /// The checkpoint's tree size.
        size: u64,
        /// How many of the witnesses named cosigned it.
        cosigned: usize,
        /// How many must.
        needed: usize,
        /// The witnesses named.
        named: String,
    },
}
