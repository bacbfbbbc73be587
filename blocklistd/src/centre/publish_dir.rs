//! The publish directory: its layout, its lock, and crash-safe writes.
//!
//! ```text
//! DIR/
//!   manifest                          the one mutable file, replaced atomically, written last
//!   roots/<v>-<sha256>.root           trust roots, immutable
//!   deltas/<v>-<sha256>.delta         deltas, immutable
//!   snapshots/<v>-<sha256>.snapshot   snapshots, immutable
//!   registries/<v>-<sha256>.registry  agency registries, immutable, never pruned
//!   log/checkpoint                    the transparency log's signed head, replaced atomically before the manifest
//!   log/tile/...                      its tiles and entry bundles (C2SP tlog-tiles), immutable once named
//!   .centre/lock                      held (flock) by the one publish running
//!   .centre/tmp/                      files being written; emptied by the next lock holder
//!   .centre/submission-sequences      the last sequence accepted from each agency key
//!   .centre/staging/                  snapshots written without the lock, until listed
//!   .centre/state.db (-wal, -shm)     the current list (crate::centre::state)
//! ```
//!
//! Everything but `.centre/` is plain static files a web server can host as
//! they are; `.centre/` is never served (`crate::serve_dir` serves only the
//! layout's names). Every file is written to `.centre/tmp/`, flushed, renamed into
//! place and its directory flushed ([`blocklist_core::atomic_file`]), so a
//! reader sees either the whole file or none. The manifest is written after the files it names, so a publish
//! killed at any point leaves the previous manifest pointing at complete
//! files; what the killed run left (unlisted files, temporaries, staged
//! snapshots no live writer holds) is harmless and removed by `prune` or the
//! next lock holder.

use std::fs::{self, File};
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use blocklist_core::atomic_file;
use blocklist_core::document::envelope::Sealed;
use blocklist_core::document::{
    parse_file_name, DocType, FileRef, Manifest, Version, FOLDER_TYPES, MANIFEST_PATH,
};
use blocklist_core::lock::FolderLock;
use blocklist_core::Sha256;

use crate::centre::CentreError;

/// The centre's private folder inside a publish directory (never served).
pub const CENTRE_DIR: &str = ".centre";

/// The centre's store of its current list, inside [`CENTRE_DIR`].
pub const STATE_FILE: &str = "state.db";

/// A publish directory.
#[derive(Clone, Debug)]
pub struct PublishDir {
    path: PathBuf,
}

/// The exclusive right to change a publish directory, held until dropped.
/// It is an `flock`, so the kernel releases it when a killed publish's
/// process ends: no stale lock blocks the next run.
#[derive(Debug)]
pub struct DirLock {
    _lock: FolderLock,
}

impl PublishDir {
    /// Creates the layout in `path` (which may exist, but must not hold a root yet).
    pub fn create(path: &Path) -> Result<PublishDir, CentreError> {
        let dir = PublishDir {
            path: path.to_owned(),
        };
        for doc in FOLDER_TYPES {
            let folder = dir.folder(doc);
            fs::create_dir_all(&folder).map_err(CentreError::io("create", &folder))?;
        }
        let tmp = dir.tmp_dir();
        fs::create_dir_all(&tmp).map_err(CentreError::io("create", &tmp))?;
        if !dir.files(DocType::Root)?.is_empty() {
            return Err(CentreError::usage(format!(
                "{} already holds a trust root: use rotate to change keys",
                path.display()
            )));
        }
        Ok(dir)
    }

    /// Opens an existing publish directory.
    pub fn open(path: &Path) -> Result<PublishDir, CentreError> {
        let dir = PublishDir {
            path: path.to_owned(),
        };
        if !dir.folder(DocType::Root).is_dir() {
            return Err(CentreError::usage(format!(
                "{} is not a publish directory (no roots/ folder): run init first",
                path.display()
            )));
        }
        Ok(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Takes the directory's lock, failing at once if another process holds it,
    /// and clears temporaries a killed run left behind.
    pub fn lock(&self) -> Result<DirLock, CentreError> {
        let tmp = self.tmp_dir();
        fs::create_dir_all(&tmp).map_err(CentreError::io("create", &tmp))?;
        let path = self.path.join(CENTRE_DIR).join("lock");
        let lock = FolderLock::try_acquire_or(
            &path,
            |held| CentreError::Locked { source: held },
            |action, path, source| CentreError::Io {
                action,
                path,
                source,
            },
        )?;
        atomic_file::remove_temps_in(&tmp);
        remove_abandoned(&self.staging_dir());
        Ok(DirLock { _lock: lock })
    }

    /// Takes the directory's lock as [`PublishDir::lock`] does, waiting up to
    /// `patience` for the holder to finish (for short steps that must not
    /// refuse a publish nor be refused by one).
    pub fn lock_waiting(&self, patience: std::time::Duration) -> Result<DirLock, CentreError> {
        let until = std::time::Instant::now() + patience;
        loop {
            match self.lock() {
                Err(CentreError::Locked { .. }) if std::time::Instant::now() < until => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                taken => return taken,
            }
        }
    }

    /// Reads a file by its path relative to the directory.
    pub fn read(&self, rel: &str) -> Result<Vec<u8>, CentreError> {
        let path = self.path.join(rel);
        fs::read(&path).map_err(CentreError::io("read", path))
    }

    /// The manifest's bytes, or `None` before the first publish.
    pub fn read_manifest(&self) -> Result<Option<Vec<u8>>, CentreError> {
        let path = self.path.join(MANIFEST_PATH);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CentreError::io("read", path)(e)),
        }
    }

    /// Writes a signed document into its folder under its immutable name, and
    /// returns the reference a manifest lists it by.
    pub fn write_document(
        &self,
        _lock: &DirLock,
        doc: DocType,
        version: Version,
        bytes: &[u8],
    ) -> Result<FileRef, CentreError> {
        let file = file_ref(version, bytes);
        self.write_atomic(&file.path(doc), bytes)?;
        Ok(file)
    }

    /// Writes a signed document through `write` for a writer that neither
    /// holds the lock nor holds the document (a snapshot of millions of
    /// entries, made while publishes go on and written as it is read): into
    /// the staging folder, where lock holders delete only what no live
    /// writer holds, flushed there. [`PublishDir::place_staged`] puts it in
    /// place under the lock; dropped instead, it is deleted.
    pub fn stage_streamed(
        &self,
        version: Version,
        write: impl FnOnce(&File) -> Result<Sealed, CentreError>,
    ) -> Result<Staged, CentreError> {
        let staging = self.staging_dir();
        fs::create_dir_all(&staging).map_err(CentreError::io("create", &staging))?;
        let temp = tempfile::Builder::new()
            .prefix(STAGED_PREFIX)
            // As every other published file is made: 0666 less the umask
            // (tempfile's own default, 0600, would hide it from a web server).
            .permissions(fs::Permissions::from_mode(0o666))
            .tempfile_in(&staging)
            .map_err(CentreError::io("create a file in", &staging))?;
        // Held as long as the file is open, and released by the kernel when
        // a killed writer's process ends: what tells a lock holder the file
        // is abandoned.
        if !try_flock(temp.as_file()) {
            return Err(CentreError::io("lock", temp.path())(
                std::io::Error::last_os_error(),
            ));
        }
        let sealed = write(temp.as_file())?;
        temp.as_file()
            .sync_all()
            .map_err(CentreError::io("flush", temp.path()))?;
        Ok(Staged {
            file: FileRef {
                version,
                sha256: sealed.sha256,
                size: sealed.size,
            },
            temp,
        })
    }

    /// Puts a staged document in place under its immutable name (to be
    /// listed by the manifest the lock holder writes next).
    pub fn place_staged(
        &self,
        _lock: &DirLock,
        doc: DocType,
        staged: Staged,
    ) -> Result<FileRef, CentreError> {
        let to = self.path.join(staged.file.path(doc));
        atomic_file::publish_file(staged.temp.path(), &to)?;
        // Renamed: nothing is left at the temporary path to delete.
        let _ = staged.temp.keep();
        Ok(staged.file)
    }

    /// Whether the file `file` names is in place, whole (its size checked;
    /// files are written atomically, so a present file of the right size is
    /// the one written).
    pub fn holds(&self, doc: DocType, file: &FileRef) -> bool {
        fs::metadata(self.path.join(file.path(doc))).is_ok_and(|m| m.len() == file.size)
    }

    /// The centre's store of its current list.
    pub fn state_path(&self) -> PathBuf {
        self.path.join(CENTRE_DIR).join(STATE_FILE)
    }

    /// Replaces the manifest (call it last: it makes the new files visible).
    pub fn write_manifest(&self, _lock: &DirLock, bytes: &[u8]) -> Result<(), CentreError> {
        self.write_atomic(MANIFEST_PATH, bytes)
    }

    /// Writes a file of the transparency log (`log/...`), making its folders.
    pub fn write_log_file(
        &self,
        _lock: &DirLock,
        rel: &str,
        bytes: &[u8],
    ) -> Result<(), CentreError> {
        let path = self.path.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(CentreError::io("create", parent))?;
        }
        self.write_atomic(rel, bytes)
    }

    /// The files of `doc` present, as (version, relative path), ascending
    /// (a rotation or an `agency` command writes its file before any
    /// manifest lists it, so publish finds new roots and registries here).
    pub fn files(&self, doc: DocType) -> Result<Vec<(Version, String)>, CentreError> {
        let mut found = self.documents(doc)?;
        found.sort();
        Ok(found)
    }

    /// Replaces one of the centre's own files (under [`CENTRE_DIR`], never
    /// served), `rel` being its path in the directory.
    pub fn write_private(
        &self,
        _lock: &DirLock,
        rel: &str,
        bytes: &[u8],
    ) -> Result<(), CentreError> {
        self.write_atomic(rel, bytes)
    }

    /// Deletes the delta and snapshot files `manifest` does not list (pruned
    /// ones, and those a killed publish left), returning their paths.
    pub fn remove_unlisted(
        &self,
        _lock: &DirLock,
        manifest: &Manifest,
    ) -> Result<Vec<String>, CentreError> {
        let mut removed = Vec::new();
        for (doc, listed) in [
            (DocType::Delta, &manifest.deltas),
            (DocType::Snapshot, &manifest.snapshots),
        ] {
            let keep: Vec<String> = listed.iter().map(|r| r.path(doc)).collect();
            for (_, rel) in self.documents(doc)? {
                if !keep.contains(&rel) {
                    let path = self.path.join(&rel);
                    fs::remove_file(&path).map_err(CentreError::io("remove", &path))?;
                    removed.push(rel);
                }
            }
        }
        Ok(removed)
    }

    /// The documents of one type present, as (version, relative path); files
    /// not named `<version>-<sha256>.<type>` are ignored.
    fn documents(&self, doc: DocType) -> Result<Vec<(Version, String)>, CentreError> {
        let folder = self.folder(doc);
        let mut found = Vec::new();
        for entry in fs::read_dir(&folder).map_err(CentreError::io("list", &folder))? {
            let entry = entry.map_err(CentreError::io("list", &folder))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some((version, _)) = parse_file_name(doc, name) {
                found.push((version, format!("{}/{name}", doc.folder())));
            }
        }
        Ok(found)
    }

    fn folder(&self, doc: DocType) -> PathBuf {
        self.path.join(doc.folder())
    }

    fn tmp_dir(&self) -> PathBuf {
        self.path.join(CENTRE_DIR).join("tmp")
    }

    /// Where snapshots are written before they are listed.
    pub fn staging_dir(&self) -> PathBuf {
        self.path.join(CENTRE_DIR).join("staging")
    }

    /// After a crash the target is either the old file or the new one, whole.
    fn write_atomic(&self, rel: &str, bytes: &[u8]) -> Result<(), CentreError> {
        Ok(atomic_file::write_file_via(
            &self.tmp_dir(),
            &self.path.join(rel),
            bytes,
        )?)
    }
}

/// How staged files are named (then a random suffix).
const STAGED_PREFIX: &str = ".staged-";

/// How old an unlocked staged file must be before a lock holder deletes it:
/// a writer locks its file as soon as it has made it.
const STAGED_ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// A document written to the staging folder ([`PublishDir::stage_streamed`]),
/// held open (and locked) until placed or dropped.
#[derive(Debug)]
pub struct Staged {
    file: FileRef,
    temp: tempfile::NamedTempFile,
}

impl Staged {
    /// The reference a manifest will list it by.
    pub fn file(&self) -> &FileRef {
        &self.file
    }
}

/// Takes an exclusive `flock` on `file` if no other open file holds one.
fn try_flock(file: &File) -> bool {
    // SAFETY: flock on a descriptor `file` owns for the call's duration.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

/// Deletes the staged files of writers that are gone (a snapshot killed
/// while it wrote, or before it was listed: a whole snapshot each), as far
/// as it can: like temporaries, they cost only disk space.
fn remove_abandoned(staging: &Path) {
    let Ok(entries) = fs::read_dir(staging) else {
        return;
    };
    for entry in entries.flatten() {
        let staged = entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(STAGED_PREFIX));
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|at| at.elapsed().is_ok_and(|age| age >= STAGED_ABANDONED_AFTER));
        let path = entry.path();
        if staged && old && File::open(&path).is_ok_and(|file| try_flock(&file)) {
            let _ = fs::remove_file(&path);
        }
    }
}

/// The reference a manifest lists the document `bytes` of `version` by.
fn file_ref(version: Version, bytes: &[u8]) -> FileRef {
    FileRef {
        version,
        sha256: Sha256::of(bytes),
        size: bytes.len() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_fails_while_the_first_is_held() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PublishDir::create(tmp.path()).unwrap();
        let held = dir.lock().unwrap();
        assert!(matches!(dir.lock(), Err(CentreError::Locked { .. })));
        drop(held);
        dir.lock().unwrap();
    }

    #[test]
    fn a_staged_document_is_out_of_sight_until_placed_and_gone_if_dropped() {
        use std::io::Write;
        let tmp = tempfile::tempdir().unwrap();
        let dir = PublishDir::create(tmp.path()).unwrap();
        let staging = tmp.path().join(".centre/staging");
        let bytes = b"a snapshot";
        let write = |mut file: &File| {
            file.write_all(bytes)
                .map_err(CentreError::io("write", "staged"))?;
            Ok(Sealed {
                sha256: Sha256::of(bytes),
                size: bytes.len() as u64,
            })
        };
        let staged = dir.stage_streamed(Version::FIRST, write).unwrap();
        // Where a lock holder deleting unlisted files does not look.
        assert!(dir.files(DocType::Snapshot).unwrap().is_empty());
        let lock = dir.lock().unwrap();
        let file = dir.place_staged(&lock, DocType::Snapshot, staged).unwrap();
        assert!(dir.holds(DocType::Snapshot, &file));
        assert_eq!(dir.read(&file.path(DocType::Snapshot)).unwrap(), bytes);
        assert_eq!(fs::read_dir(&staging).unwrap().count(), 0);
        // Readable as every other published file is, by a web server too.
        let mode = |rel: &str| {
            fs::metadata(tmp.path().join(rel))
                .unwrap()
                .permissions()
                .mode()
        };
        let written = dir
            .write_document(&lock, DocType::Delta, Version::FIRST, bytes)
            .unwrap();
        assert_eq!(
            mode(&file.path(DocType::Snapshot)),
            mode(&written.path(DocType::Delta))
        );
        drop(lock);

        drop(dir.stage_streamed(Version::FIRST, write).unwrap());
        assert_eq!(fs::read_dir(&staging).unwrap().count(), 0);
    }

    #[test]
    fn a_lock_holder_deletes_staged_files_no_live_writer_holds() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PublishDir::create(tmp.path()).unwrap();
        let staging = tmp.path().join(".centre/staging");
        let write = |_: &File| {
            Ok(Sealed {
                sha256: Sha256::of(b""),
                size: 0,
            })
        };
        let live = dir.stage_streamed(Version::FIRST, write).unwrap();
        // A killed writer's file: unlocked, and as old as it would be by
        // the time anyone could tell.
        let abandoned = staging.join(format!("{STAGED_PREFIX}killed"));
        let long_ago = std::time::SystemTime::now() - 2 * STAGED_ABANDONED_AFTER;
        for path in [&abandoned, &live.temp.path().to_path_buf()] {
            let file = fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap();
            file.set_modified(long_ago).unwrap();
        }
        let just_made = staging.join(format!("{STAGED_PREFIX}just-made"));
        fs::write(&just_made, b"").unwrap();
        drop(dir.lock().unwrap());
        assert!(!abandoned.exists());
        assert!(live.temp.path().exists(), "a live writer's file is kept");
        assert!(
            just_made.exists(),
            "a file its writer may not have locked yet is kept"
        );
    }

    #[test]
    fn lock_clears_temporaries_a_killed_run_left() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PublishDir::create(tmp.path()).unwrap();
        let stale = tmp
            .path()
            .join(".centre/tmp/.manifest.0123456789abcdef.tmp");
        fs::write(&stale, b"half").unwrap();
        let _lock = dir.lock().unwrap();
        assert!(!stale.exists());
    }
}
