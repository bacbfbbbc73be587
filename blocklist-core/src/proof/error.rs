//! Why a proof bundle is refused.

use crate::document::Version;
use crate::log::LogError;
use crate::verify::{AuthorityError, VerifyError};

/// A refused proof bundle. Each variant names the part of the bundle that
/// failed and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// Bytes that are not a proof bundle in its one encoding (PR1, PR2).
    #[error("proof bundle: {reason}")]
    Malformed {
        /// What is wrong, and where.
        reason: String,
    },
    /// The trust root given, or a root of the bundle's chain, refused.
    #[error("proof bundle: trust root {what}: {source}")]
    Root {
        /// Which root (the one given, or the bundle's version N).
        what: String,
        /// Why.
        source: VerifyError,
    },
    /// A root chain that does not reach from the root given (PR3).
    #[error("proof bundle: {reason}")]
    Chain {
        /// What is missing or out of order.
        reason: String,
    },
    /// The checkpoint, refused (L4).
    #[error("proof bundle: {source}")]
    Checkpoint {
        /// Why.
        source: LogError,
    },
    /// A carried file whose log record is not in the tree the checkpoint
    /// names at the position the bundle gives (PR4).
    #[error("proof bundle: {file} is not recorded at log entry {index} of the checkpoint's tree (size {size}): its inclusion proof does not give the signed root")]
    NotInLog {
        /// The file (type and version, or its place in the bundle).
        file: String,
        /// The entry the bundle claims.
        index: u64,
        /// The checkpoint's tree size.
        size: u64,
    },
    /// A carried registry or delta whose signatures or content are refused.
    #[error("proof bundle: {file}: {source}")]
    File {
        /// The file (type and place in the bundle).
        file: String,
        /// Why.
        source: VerifyError,
    },
    /// Deltas out of order, after the bundle's version, or not touching the
    /// identifier (PR5).
    #[error("proof bundle: delta {version}: {reason}")]
    Delta {
        /// The delta's version.
        version: Version,
        /// What is wrong.
        reason: String,
    },
    /// An operation on the identifier that its signed submissions and
    /// overrides do not authorise (PR6, W5-W7).
    #[error("proof bundle: delta {version}: {source}")]
    Unauthorised {
        /// The delta's version.
        version: Version,
        /// The authorisation rule it breaks.
        source: Box<AuthorityError>,
    },
}
