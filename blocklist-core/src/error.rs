//! [`Error`]: the one error type of the crate's top-level workflows.

use crate::index::IndexError;
use crate::lock::Locked;
use crate::store::StoreError;
use crate::verify::VerifyError;

/// Any failure of a workflow that spans stages (verify, store, index), such as
/// [`crate::replica::Replica`]. Each stage's own error is kept whole inside, so
/// a caller can still match on the precise cause.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A document was refused.
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The store failed or refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The lookup index could not be built, written or opened.
    #[error(transparent)]
    Index(#[from] IndexError),
    /// The data folder is another replica's (in this process or another).
    #[error("data folder {dir} is already open as a replica: {source}")]
    InUse {
        /// The data folder.
        dir: std::path::PathBuf,
        /// Who holds it.
        source: Locked,
    },
    /// A file-system operation on the data folder failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path.
        path: std::path::PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}
