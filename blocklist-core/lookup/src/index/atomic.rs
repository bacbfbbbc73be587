//! Replacing a file atomically: readers see the old file or the new one, never
//! a mix, and after a crash the path holds one of the two.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use super::error::IndexError;

/// Writes a new file at `path` through `write`: into a temporary file in the
/// same directory (so the rename stays within one file system), fsynced, then
/// renamed over `path`, then the directory fsynced so the rename itself is
/// durable. On any error the temporary file is removed and `path` is untouched.
pub(crate) fn replace_file<T>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&File>) -> Result<T, IndexError>,
) -> Result<T, IndexError> {
    let dir = parent_dir(path);
    let temp = temp_path(path)?;
    let result = write_and_rename(path, &temp, write);
    if result.is_err() {
        // Best effort: the error being returned matters more than a stray temp file.
        let _ = fs::remove_file(&temp);
    }
    let value = result?;
    sync_dir(&dir)?;
    Ok(value)
}

/// Renames a finished file over `to` and makes the rename durable: how a file
/// prepared ahead (see `replica`) is published once it may be.
pub fn publish_file(from: &Path, to: &Path) -> Result<(), IndexError> {
    fs::rename(from, to).map_err(|e| IndexError::io(to, "rename into place", e))?;
    sync_dir(&parent_dir(to))
}

/// The folder `path` is in (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn sync_dir(dir: &Path) -> Result<(), IndexError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| IndexError::io(dir, "sync directory of", e))
}

fn write_and_rename<T>(
    path: &Path,
    temp: &Path,
    write: impl FnOnce(&mut BufWriter<&File>) -> Result<T, IndexError>,
) -> Result<T, IndexError> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp)
        .map_err(|e| IndexError::io(temp, "create", e))?;
    let mut out = BufWriter::with_capacity(1 << 20, &file);
    let value = write(&mut out)?;
    out.flush().map_err(|e| IndexError::io(temp, "write", e))?;
    drop(out);
    file.sync_all()
        .map_err(|e| IndexError::io(temp, "sync", e))?;
    fs::rename(temp, path).map_err(|e| IndexError::io(path, "rename into place", e))?;
    Ok(value)
}

/// `.<name>.<random>.tmp` next to `path`: hidden, and unique so that two
/// writers never share a temporary file.
fn temp_path(path: &Path) -> Result<PathBuf, IndexError> {
    let nonce = getrandom::u64().map_err(|e| IndexError::RandomUnavailable {
        reason: e.to_string(),
    })?;
    let mut temp = temp_prefix(path)?;
    temp.push(format!("{nonce:016x}.tmp"));
    Ok(path.with_file_name(temp))
}

/// What every temporary file for `path` starts with: `.<name>.`.
fn temp_prefix(path: &Path) -> Result<OsString, IndexError> {
    let name = path
        .file_name()
        .ok_or_else(|| IndexError::io(path, "name", std::io::ErrorKind::InvalidInput.into()))?;
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    Ok(prefix)
}

/// Removes the temporary files that writers of `path` killed mid-write left
/// beside it (a 10M-entry index is 290 MB each), as far as it can: they cost
/// only disk space, so nothing here is worth failing for. Only for a folder's
/// one writer (see `replica`): another writer's file in progress would go too.
pub fn remove_stale_temps(path: &Path) {
    let Ok(prefix) = temp_prefix(path) else {
        return;
    };
    let Ok(listing) = fs::read_dir(parent_dir(path)) else {
        return;
    };
    for entry in listing.flatten() {
        let is_temp = entry
            .file_name()
            .as_bytes()
            .strip_prefix(prefix.as_bytes())
            .and_then(|rest| rest.strip_suffix(b".tmp"))
            .is_some_and(|nonce| nonce.len() == 16 && nonce.iter().all(u8::is_ascii_hexdigit));
        if is_temp && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}
