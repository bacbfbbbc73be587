//! Why the store refused or failed an operation.

use std::path::PathBuf;

use crate::verify::VerifyError;

/// A store failure. Whatever the variant, the store still holds the version it
/// held before the failed call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A store made by a later release, whose schema this one does not know.
    #[error("store {path} has schema version {found}; this release reads up to {supported}: run the release that made it, or remove the store to bootstrap it again")]
    NewerSchema {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this release reads.
        supported: i64,
    },
    /// A store an earlier release made, opened read-only: only a writer
    /// migrates it (its state lacks what this release reads, such as the
    /// LtHash of schema version 4).
    #[error("store {path} has schema version {found}, older than this release's {current}: open it for writing first, which migrates it (start the daemon on it; at the centre, publish or refresh)")]
    OlderSchema {
        /// The database file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The version this release writes.
        current: i64,
    },
    /// SQLite failed.
    #[error("store {path}: {action}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// What the store was doing.
        action: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The document does not follow the store's version, or its result does not
    /// match its signed state digest.
    #[error("store {path}: {source}")]
    Refused {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: VerifyError,
    },
    /// An operation that contradicts the stored list (adding a listed
    /// identifier, removing one that is not listed).
    #[error("store {path}: delta {version} {op} {id}, which is {state}")]
    Conflict {
        /// The database file.
        path: PathBuf,
        /// The delta's version.
        version: u64,
        /// The operation.
        op: &'static str,
        /// The identifier, as `kind:value`.
        id: String,
        /// What the store holds for it.
        state: &'static str,
    },
    /// The store holds another list.
    #[error("store {path} holds list {found:?}, not {expected:?}")]
    WrongList {
        /// The database file.
        path: PathBuf,
        /// The list asked for.
        expected: String,
        /// The list held.
        found: String,
    },
    /// The database holds something no apply could have written.
    #[error("store {path} is corrupt: {reason}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The store's checkpointing thread could not be started.
    #[error("store {path}: start the checkpoint thread: {source}")]
    Thread {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A value too large for SQLite's signed 64-bit integers.
    #[error("store {path}: {field} {value} is out of range (max 2^63-1)")]
    OutOfRange {
        /// The database file.
        path: PathBuf,
        /// The field.
        field: &'static str,
        /// The value.
        value: u64,
    },
    /// A file the store works with beside the database failed.
    #[error("store {path}: {action}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the store was doing.
        action: &'static str,
        /// The error.
        source: std::io::Error,
    },
}
