//! [`IndexError`]: everything that can go wrong building, writing, opening or reloading an index.

use std::io;
use std::path::PathBuf;

use crate::entry::{Agency, Timestamp};
use crate::kind::Kind;

/// Why an index could not be built, written, opened or swapped in.
///
/// Every variant that concerns a file names it, so a log line is enough to
/// find the culprit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IndexError {
    /// A system call on the index file (or its directory) failed.
    #[error("cannot {action} index file {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done: `open`, `map`, `write`, `sync`, `rename`...
        action: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file is shorter (or longer) than its header says: an interrupted copy.
    #[error("index file {path} is truncated: {actual} bytes, expected {expected}")]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Its length on disk.
        actual: u64,
        /// The length the header (or the fixed header size) requires.
        expected: u64,
    },
    /// The path names something other than a regular file (a FIFO, a
    /// device, a socket, a directory): refused without reading from it.
    #[error("{path} is {file_type}, not an index file")]
    NotAFile {
        /// The path.
        path: PathBuf,
        /// What it is: `a FIFO`, `a device`, `a socket`, `a directory`.
        file_type: &'static str,
    },
    /// The index file being served was written in place (by `cp`, a backup
    /// restore, an editor) instead of being replaced by rename, and no valid
    /// file has replaced it yet: the bytes mapped are no longer the ones
    /// validated, so its answers are withheld.
    #[error(
        "index file {path} was overwritten in place while in use (index files must be \
         replaced by rename): its answers are withheld until a valid index is published; \
         the file there now: {reason}"
    )]
    ModifiedInPlace {
        /// The file.
        path: PathBuf,
        /// Why the file now at the path could not be served instead.
        reason: Box<IndexError>,
    },
    /// The file does not start with the index magic: not an index file at all.
    #[error("{path} is not a blocklist index file (magic {found:02x?})")]
    BadMagic {
        /// The file.
        path: PathBuf,
        /// Its first eight bytes.
        found: [u8; 8],
    },
    /// The file was written in a format version this build cannot read.
    #[error("index file {path} has format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version byte in the file.
        found: u8,
        /// The version this build reads.
        supported: u8,
    },
    /// The body does not match the checksum in the header: bit rot or a partial write.
    #[error("index file {path} is corrupt: checksum {computed:#018x} does not match the header's {stored:#018x}")]
    ChecksumMismatch {
        /// The file.
        path: PathBuf,
        /// The checksum in the header.
        stored: u64,
        /// The checksum of the bytes on disk.
        computed: u64,
    },
    /// The header's sections do not fit together, or a section holds values
    /// that lookups could not use safely.
    #[error("index file {path} is corrupt: {detail}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is inconsistent.
        detail: String,
    },
    /// A time does not fit the index's 32-bit seconds (after 2106-02-07).
    #[error("cannot index {kind} {value:?}: {field} {time} is beyond the index's time range")]
    TimeOutOfRange {
        /// The entry's kind.
        kind: Kind,
        /// The entry's canonical value.
        value: String,
        /// `listed_at` or `expires_at`.
        field: &'static str,
        /// The offending time.
        time: Timestamp,
    },
    /// More distinct agencies than an index can name.
    #[error("cannot index more than {max} distinct agencies")]
    TooManyAgencies {
        /// The limit.
        max: usize,
    },
    /// An incremental update adds an identifier the index already holds.
    #[error("duplicate entry {kind} {value:?}")]
    DuplicateEntry {
        /// The entry's kind.
        kind: Kind,
        /// The entry's canonical value.
        value: String,
    },
    /// One agency's listing of an identifier was given twice (a store holds
    /// one per agency: its rows are not what they should be).
    #[error("a listing by agency {agency} was given twice for one identifier")]
    DuplicateListing {
        /// The agency.
        agency: Agency,
    },
    /// An incremental update removes an identifier the index does not hold:
    /// the store and the index disagree; build the index in full.
    #[error("cannot remove {kind} {value:?} from the index: it is not there")]
    NotInIndex {
        /// The entry's kind.
        kind: Kind,
        /// The entry's canonical value.
        value: String,
    },
    /// An incremental update would fill the table beyond what it was sized
    /// for at the last full build; build the index in full.
    #[error("an incremental update to {entries} entries would overfill the index table's {slots} slots; build the index in full")]
    UpdateNeedsRebuild {
        /// Entries after the update (so far).
        entries: u64,
        /// Slots of the table's home buckets.
        slots: u64,
    },
    /// Every seed tried gave two entries the same 64-bit fingerprint
    /// (each attempt fails with probability about n²/2⁶⁵, so this means a broken source).
    #[error("no seed out of {attempts} gave distinct fingerprints to all entries")]
    SeedsExhausted {
        /// How many seeds were tried.
        attempts: u32,
    },
    /// The entry source gave different entries on a second pass (needed after a reseed).
    #[error("the entry source changed between passes: {detail}")]
    SourceChanged {
        /// What differed.
        detail: String,
    },
    /// The operating system's random source failed (needed for the index
    /// seed and temporary file names).
    #[error("the system random source failed: {reason}")]
    RandomUnavailable {
        /// The error from the system's random source.
        reason: String,
    },
    /// An overlay was to be written on a full index that is not at the name
    /// an overlay at the published path names its base by: adopt it as a
    /// base first ([`LookupIndex::adopt_base`](super::LookupIndex::adopt_base)).
    #[error("cannot write an overlay on {base}: the base of an overlay published as {published} must be the file {expected}")]
    BaseNotPlaced {
        /// The full index offered as the base.
        base: PathBuf,
        /// Where the overlay is to be published.
        published: PathBuf,
        /// Where its base must be.
        expected: PathBuf,
    },
    /// Two identifiers of an overlay share a 64-bit fingerprint under the
    /// base's seed (about 2⁻⁶⁴ per pair): write a new base instead, which
    /// picks another seed.
    #[error("{kind} {value:?} shares its fingerprint with another change in the overlay; write a new base")]
    FingerprintClash {
        /// The entry's kind.
        kind: Kind,
        /// The entry's canonical value.
        value: String,
    },
    /// An identifier longer than an overlay's key section can spell (255
    /// bytes): write a new base instead.
    #[error("{kind} {value:?} is too long for an overlay's key section; write a new base")]
    TooLongForOverlay {
        /// The entry's kind.
        kind: Kind,
        /// The entry's canonical value.
        value: String,
    },
    /// A reload offered an index older than the one being served.
    #[error("refusing index file {path}: list version {offered} is older than the loaded version {current}")]
    Stale {
        /// The file.
        path: PathBuf,
        /// The list version being served.
        current: u64,
        /// The list version in the file.
        offered: u64,
    },
}

impl IndexError {
    /// An [`IndexError::Io`] for `path`.
    pub(crate) fn io(
        path: &std::path::Path,
        action: &'static str,
        source: io::Error,
    ) -> IndexError {
        IndexError::Io {
            path: path.to_owned(),
            action,
            source,
        }
    }

    /// An [`IndexError::Corrupt`] for `path`.
    pub(crate) fn corrupt(path: &std::path::Path, detail: impl Into<String>) -> IndexError {
        IndexError::Corrupt {
            path: path.to_owned(),
            detail: detail.into(),
        }
    }
}

impl From<crate::atomic_file::AtomicFileError> for IndexError {
    fn from(error: crate::atomic_file::AtomicFileError) -> IndexError {
        use crate::atomic_file::AtomicFileError;
        match error {
            AtomicFileError::Io {
                action,
                path,
                source,
            } => IndexError::Io {
                path,
                action,
                source,
            },
            AtomicFileError::RandomUnavailable { reason } => {
                IndexError::RandomUnavailable { reason }
            }
        }
    }
}
