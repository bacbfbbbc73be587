//! Index files are replaced atomically through [`crate::atomic_file`]; these
//! name its functions in the index's error type.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

pub use crate::atomic_file::remove_stale_temps;

use super::error::IndexError;

/// [`crate::atomic_file::replace_file`] for a writer failing with an [`IndexError`].
pub(crate) fn replace_file<T>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&File>) -> Result<T, IndexError>,
) -> Result<T, IndexError> {
    crate::atomic_file::replace_file(path, write)
}

/// Renames a finished index file over `to` and makes the rename durable
/// ([`crate::atomic_file::publish_file`]).
pub fn publish_file(from: &Path, to: &Path) -> Result<(), IndexError> {
    Ok(crate::atomic_file::publish_file(from, to)?)
}
