//! [`FolderLock`]: one writer per folder, across processes.
//!
//! A data folder (or the centre's publish directory) has files that only one
//! process may write at a time: the store's staged index, fixed temporary
//! names, the published documents. Two processes pointed at the same folder
//! by a configuration mistake would overwrite each other's work without a
//! word; the second one is refused instead, naming the holder.

use std::fs::{File, OpenOptions};
use std::io::Read as _;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

/// An exclusive `flock` on a lock file, held until dropped. The kernel
/// releases it when the last process sharing it ends, killed or not (a child
/// forked without `exec` shares its parent's), so a crash never leaves a stale
/// lock behind. The holder's process id is written into the file for the
/// message a refused process gives. On local file systems only: over NFS,
/// `flock` is emulated with per-process locks (as SQLite's WAL mode, which
/// the store uses, also needs a local file system).
///
/// ```
/// # use blocklist_core::lock::{FolderLock, Locked};
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join(".lock");
/// let held = FolderLock::try_acquire(&path)?;
/// assert!(matches!(FolderLock::try_acquire(&path), Err(Locked::Held { .. })));
/// drop(held);
/// FolderLock::try_acquire(&path)?;
/// # Ok::<(), Locked>(())
/// ```
#[derive(Debug)]
pub struct FolderLock {
    _file: File,
}

/// Why a [`FolderLock`] was not taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Locked {
    /// Another open of the lock file holds it (another process, or the same
    /// process through a second handle).
    #[error("{path} is locked{}", holder_text(*.holder))]
    Held {
        /// The lock file.
        path: PathBuf,
        /// The holder's process id, as it wrote it, if readable.
        holder: Option<u32>,
    },
    /// The lock file could not be opened or locked.
    #[error("{action} lock file {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

fn holder_text(holder: Option<u32>) -> String {
    match holder {
        Some(pid) if pid == std::process::id() => format!(" by this process (pid {pid})"),
        Some(pid) => format!(" by pid {pid}"),
        None => String::new(),
    }
}

impl FolderLock {
    /// Takes the lock at `path`, creating the file if needed; fails at once
    /// (never waits) when it is held.
    pub fn try_acquire(path: &Path) -> Result<FolderLock, Locked> {
        let io = |action| {
            move |source| Locked::Io {
                action,
                path: path.to_owned(),
                source,
            }
        };
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(io("open"))?;
        // SAFETY: flock on a descriptor this `File` owns for the call's duration.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::WouldBlock {
                return Err(io("lock")(error));
            }
            let mut text = String::new();
            let holder = file
                .read_to_string(&mut text)
                .ok()
                .and_then(|_| text.trim().parse().ok());
            return Err(Locked::Held {
                path: path.to_owned(),
                holder,
            });
        }
        // Only a diagnostic for a refused process: failing to write it is no
        // reason to fail (emptied first, so a failed write shows no pid
        // rather than a previous holder's).
        let _ = file
            .set_len(0)
            .and_then(|()| file.write_all_at(format!("{}\n", std::process::id()).as_bytes(), 0));
        Ok(FolderLock { _file: file })
    }

    /// [`try_acquire`](Self::try_acquire) with the refusal in the caller's
    /// error type, where a held lock ("in use by another ...") and a failing
    /// file system are different errors: `held` makes the one from the
    /// refusal naming the holder, `io` the other from what failed.
    pub fn try_acquire_or<E>(
        path: &Path,
        held: impl FnOnce(Locked) -> E,
        io: impl FnOnce(&'static str, PathBuf, std::io::Error) -> E,
    ) -> Result<FolderLock, E> {
        FolderLock::try_acquire(path).map_err(|refused| match refused {
            Locked::Io {
                action,
                path,
                source,
            } => io(action, path, source),
            refused @ Locked::Held { .. } => held(refused),
        })
    }
}
