//! Replacing a file atomically: readers see the old file or the new one, never
//! a mix, and after a crash the path holds one of the two. The one way every
//! part of blocklist writes a file others read: the lookup index and its
//! heartbeat, the centre's published documents, the daemon's kept files.
//!
//! A new file is written to a temporary one (beside the target, or in a
//! folder of temporaries on the same file system), fsynced, renamed over the
//! target, and the target's folder fsynced so the rename itself is durable.
//! Temporaries are named `.<target name>.<16 hex digits>.tmp`: hidden, unique
//! per write, and recognisable, so that what a killed writer left can be
//! removed ([`remove_stale_temps`], [`remove_temps_in`]).

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

/// Why a file could not be replaced.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AtomicFileError {
    /// A file-system operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done: `create`, `write`, `sync`, `rename into place`...
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The system's random source failed (temporary names need a nonce).
    #[error("no random source for a temporary file name: {reason}")]
    RandomUnavailable {
        /// The error from the system's random source.
        reason: String,
    },
}

impl AtomicFileError {
    fn io(path: &Path, action: &'static str) -> impl FnOnce(io::Error) -> AtomicFileError {
        let path = path.to_owned();
        move |source| AtomicFileError::Io {
            action,
            path,
            source,
        }
    }
}

/// Writes a new file at `path` through `write`, with its temporary file beside
/// it (so the rename stays within one file system). On any error the
/// temporary file is removed and `path` is untouched.
pub fn replace_file<T, E: From<AtomicFileError>>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&File>) -> Result<T, E>,
) -> Result<T, E> {
    replace_file_via(&parent_dir(path), path, write)
}

/// [`replace_file`] with the temporary file in `temp_dir` (created if need
/// be), which must be on the target's file system: for folders that are
/// served or copied as they are, where a temporary beside the target would
/// be seen.
pub fn replace_file_via<T, E: From<AtomicFileError>>(
    temp_dir: &Path,
    path: &Path,
    write: impl FnOnce(&mut BufWriter<&File>) -> Result<T, E>,
) -> Result<T, E> {
    fs::create_dir_all(temp_dir).map_err(AtomicFileError::io(temp_dir, "create"))?;
    let temp = temp_dir.join(temp_name(path)?);
    let result = write_and_rename(path, &temp, write);
    if result.is_err() {
        // Best effort: the error being returned matters more than a stray temp file.
        let _ = fs::remove_file(&temp);
    }
    let value = result?;
    sync_dir(&parent_dir(path))?;
    Ok(value)
}

/// Replaces `path` with `bytes` (see [`replace_file_via`]).
pub fn write_file_via(temp_dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), AtomicFileError> {
    replace_file_via(temp_dir, path, |out| {
        out.write_all(bytes)
            .map_err(AtomicFileError::io(path, "write"))
    })
}

/// Renames a finished file over `to` and makes the rename durable: how a file
/// prepared ahead (see `blocklist_core::replica`) is published once it may be.
pub fn publish_file(from: &Path, to: &Path) -> Result<(), AtomicFileError> {
    fs::rename(from, to).map_err(AtomicFileError::io(to, "rename into place"))?;
    sync_dir(&parent_dir(to))
}

/// Removes the temporary files that writers of `path` killed mid-write left
/// beside it (a 10M-entry index is 290 MB each), as far as it can: they cost
/// only disk space, so nothing here is worth failing for. Only for a folder's
/// one writer: another writer's file in progress would go too.
pub fn remove_stale_temps(path: &Path) {
    let Some(name) = path.file_name() else {
        return;
    };
    let prefix = temp_prefix(name);
    // Exactly the prefix and the nonce: not the temporaries of a longer name.
    remove_temps(&parent_dir(path), |file| {
        file.strip_prefix(prefix.as_bytes())
            .is_some_and(|nonce| nonce.len() == "0123456789abcdef.tmp".len())
    });
}

/// Removes every temporary file (named as this module names them) in
/// `temp_dir`, a folder of temporaries with one writer, as far as it can
/// (see [`remove_stale_temps`]).
pub fn remove_temps_in(temp_dir: &Path) {
    remove_temps(temp_dir, |_| true);
}

fn remove_temps(dir: &Path, of_target: impl Fn(&[u8]) -> bool) {
    let Ok(listing) = fs::read_dir(dir) else {
        return;
    };
    for entry in listing.flatten() {
        let name = entry.file_name();
        let name = name.as_bytes();
        if of_target(name) && is_temp_name(name) && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether `name` is `.<something>.<16 hex digits>.tmp`.
fn is_temp_name(name: &[u8]) -> bool {
    let Some(rest) = name
        .strip_prefix(b".")
        .and_then(|rest| rest.strip_suffix(b".tmp"))
    else {
        return false;
    };
    rest.len() > 17
        && rest[rest.len() - 17] == b'.'
        && rest[rest.len() - 16..].iter().all(u8::is_ascii_hexdigit)
}

/// The folder `path` is in (`.` for a bare file name).
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn sync_dir(dir: &Path) -> Result<(), AtomicFileError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(AtomicFileError::io(dir, "sync directory"))
}

fn write_and_rename<T, E: From<AtomicFileError>>(
    path: &Path,
    temp: &Path,
    write: impl FnOnce(&mut BufWriter<&File>) -> Result<T, E>,
) -> Result<T, E> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp)
        .map_err(AtomicFileError::io(temp, "create"))?;
    let mut out = BufWriter::with_capacity(1 << 20, &file);
    let value = write(&mut out)?;
    out.flush().map_err(AtomicFileError::io(temp, "write"))?;
    drop(out);
    file.sync_all().map_err(AtomicFileError::io(temp, "sync"))?;
    fs::rename(temp, path).map_err(AtomicFileError::io(path, "rename into place"))?;
    Ok(value)
}

/// `.<name>.<random>.tmp` for `path`: unique, so that two writers never
/// share a temporary file.
fn temp_name(path: &Path) -> Result<OsString, AtomicFileError> {
    let name = path.file_name().ok_or_else(|| AtomicFileError::Io {
        action: "name a temporary file for",
        path: path.to_owned(),
        source: io::ErrorKind::InvalidInput.into(),
    })?;
    let nonce = getrandom::u64().map_err(|e| AtomicFileError::RandomUnavailable {
        reason: e.to_string(),
    })?;
    let mut temp = temp_prefix(name);
    temp.push(format!("{nonce:016x}.tmp"));
    Ok(temp)
}

/// What every temporary file for a target named `name` starts with: `.<name>.`.
fn temp_prefix(name: &std::ffi::OsStr) -> OsString {
    let mut prefix = OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    prefix
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_temporaries_of_the_target_are_removed_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("lookup.idx");
        replace_file(&target, |out| {
            out.write_all(b"new")
                .map_err(AtomicFileError::io(&target, "write"))
        })
        .unwrap();
        let stale = dir.path().join(".lookup.idx.0123456789abcdef.tmp");
        let other = dir.path().join(".other.0123456789abcdef.tmp");
        let not_temp = dir.path().join(".lookup.idx.notes.tmp");
        for path in [&stale, &other, &not_temp] {
            fs::write(path, b"half").unwrap();
        }
        remove_stale_temps(&target);
        assert!(!stale.exists() && other.exists() && not_temp.exists());
        assert_eq!(fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn a_temp_folder_is_emptied_of_temporaries_only() {
        let dir = tempfile::tempdir().unwrap();
        let temps = dir.path().join(".tmp");
        let target = dir.path().join("manifest");
        write_file_via(&temps, &target, b"m").unwrap();
        let stale = temps.join(".manifest.0123456789abcdef.tmp");
        let foreign = temps.join("keep-me");
        fs::write(&stale, b"half").unwrap();
        fs::write(&foreign, b"x").unwrap();
        remove_temps_in(&temps);
        assert!(!stale.exists() && foreign.exists());
        assert_eq!(fs::read(&target).unwrap(), b"m");
    }
}
