//! [`FolderLock`]: one writer per folder, across processes.
//!
//! A data folder (or the centre's publish directory) has files that only one
//! process may write at a time: the store's staged index, fixed temporary
//! names, the published documents. Two processes pointed at the same folder
//! by a configuration mistake would overwrite each other's work without a
//! word; the second one is refused instead, naming the holder.

use std::fs::{File, OpenOptions};
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

/// How long [`FolderLock::try_acquire`] tries again a lock the file says
/// this process holds.
pub const OWN_LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_millis(500);

/// The process id the lock's holder wrote into the file, if readable.
fn holder_of(file: &File) -> Option<u32> {
    let mut buf = [0u8; 16];
    let len = file.read_at(&mut buf, 0).ok()?;
    std::str::from_utf8(&buf[..len]).ok()?.trim().parse().ok()
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
    /// when another process holds it.
    ///
    /// A lock the file says this process holds is tried again for up to
    /// [`OWN_LOCK_PATIENCE`]: a child that any thread of this process forks
    /// shares the lock's open file from its fork to its exec, so a lock just
    /// released can look held for that moment; a handle of this process
    /// that really holds it is still refused after the wait.
    pub fn try_acquire(path: &Path) -> Result<FolderLock, Locked> {
        let io = |action| {
            move |source| Locked::Io {
                action,
                path: path.to_owned(),
                source,
            }
        };
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(io("open"))?;
        let own = std::process::id();
        let until = std::time::Instant::now() + OWN_LOCK_PATIENCE;
        // SAFETY: flock on a descriptor this `File` owns for the call's duration.
        while unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() != std::io::ErrorKind::WouldBlock {
                return Err(io("lock")(error));
            }
            let holder = holder_of(&file);
            if holder != Some(own) || std::time::Instant::now() >= until {
                return Err(Locked::Held {
                    path: path.to_owned(),
                    holder,
                });
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt as _;

    #[test]
    fn a_lock_released_while_a_forked_child_shares_it_is_taken_once_the_child_execs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".lock");
        let held = FolderLock::try_acquire(&path).unwrap();
        // A child forked by another thread, held between its fork and its
        // exec (as a busy machine may hold it), shares the lock's open file.
        let spawner = std::thread::spawn(|| {
            let mut child = std::process::Command::new("true");
            // SAFETY: the hook only sleeps, which is async-signal-safe enough
            // for a child that then execs.
            unsafe {
                child.pre_exec(|| {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    Ok(())
                })
            };
            child.status().unwrap()
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        drop(held);
        let taken = FolderLock::try_acquire(&path);
        assert!(spawner.join().unwrap().success());
        taken.expect("taken once the child execs");
        // A handle of this process that holds it is refused after the wait.
        let _held = FolderLock::try_acquire(&path).unwrap();
        assert!(matches!(
            FolderLock::try_acquire(&path),
            Err(Locked::Held { holder: Some(pid), .. }) if pid == std::process::id()
        ));
    }
}
