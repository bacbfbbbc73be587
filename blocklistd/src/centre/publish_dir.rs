//! The publish directory: its layout, its lock, and crash-safe writes.
//!
//! ```text
//! DIR/
//!   manifest                          the one mutable file, replaced atomically, written last
//!   roots/<v>-<sha256>.root           trust roots, immutable
//!   deltas/<v>-<sha256>.delta         deltas, immutable
//!   snapshots/<v>-<sha256>.snapshot   snapshots, immutable
//!   .centre/lock                      held (flock) by the one publish running
//!   .centre/tmp/                      files being written; emptied by the next lock holder
//! ```
//!
//! Everything but `.centre/` is plain static files a web server can host as
//! they are. Every file is written to `.centre/tmp/`, flushed, renamed into
//! place and its directory flushed, so a reader sees either the whole file or
//! none. The manifest is written after the files it names, so a publish
//! killed at any point leaves the previous manifest pointing at complete
//! files; what the killed run left (unlisted files, temporaries) is harmless
//! and removed by `prune` or the next lock holder.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use blocklist_core::document::{DocType, FileRef, Manifest, Version, MANIFEST_PATH};
use blocklist_core::lock::{FolderLock, Locked};
use blocklist_core::Sha256;

use crate::centre::CentreError;

/// The centre's private folder inside a publish directory (never served).
pub const CENTRE_DIR: &str = ".centre";

/// The document types that live in a folder of their own, immutable.
const FOLDERS: [DocType; 3] = [DocType::Root, DocType::Delta, DocType::Snapshot];

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
        for doc in FOLDERS {
            let folder = dir.folder(doc);
            fs::create_dir_all(&folder).map_err(CentreError::io("create", &folder))?;
        }
        let tmp = dir.tmp_dir();
        fs::create_dir_all(&tmp).map_err(CentreError::io("create", &tmp))?;
        if !dir.root_files()?.is_empty() {
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
        let lock = FolderLock::try_acquire(&path).map_err(|e| match e {
            Locked::Io { action, source, .. } => CentreError::io(action, path)(source),
            held => CentreError::Locked { source: held },
        })?;
        for entry in fs::read_dir(&tmp).map_err(CentreError::io("list", &tmp))? {
            let stale = entry.map_err(CentreError::io("list", &tmp))?.path();
            fs::remove_file(&stale).map_err(CentreError::io("remove", &stale))?;
        }
        Ok(DirLock { _lock: lock })
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
        let file = FileRef {
            version,
            sha256: Sha256::of(bytes),
            size: bytes.len() as u64,
        };
        self.write_atomic(&file.path(doc), bytes)?;
        Ok(file)
    }

    /// Replaces the manifest (call it last: it makes the new files visible).
    pub fn write_manifest(&self, _lock: &DirLock, bytes: &[u8]) -> Result<(), CentreError> {
        self.write_atomic(MANIFEST_PATH, bytes)
    }

    /// The trust root files present, by version (a rotation writes its root
    /// before any manifest lists it, so publish finds new roots here).
    pub fn root_files(&self) -> Result<Vec<(Version, String)>, CentreError> {
        let mut roots = self.documents(DocType::Root)?;
        roots.sort();
        Ok(roots)
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
            if let Some(version) = parse_document_name(doc, name) {
                found.push((version, format!("{}s/{name}", doc.name())));
            }
        }
        Ok(found)
    }

    fn folder(&self, doc: DocType) -> PathBuf {
        self.path.join(format!("{}s", doc.name()))
    }

    fn tmp_dir(&self) -> PathBuf {
        self.path.join(CENTRE_DIR).join("tmp")
    }

    /// Write to a temporary, flush, rename over the target, flush the directory:
    /// after a crash the target is either the old file or the new one, whole.
    fn write_atomic(&self, rel: &str, bytes: &[u8]) -> Result<(), CentreError> {
        let target = self.path.join(rel);
        let tmp = self.tmp_dir().join(rel.replace('/', "_"));
        let mut file = File::create(&tmp).map_err(CentreError::io("create", &tmp))?;
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(CentreError::io("write", &tmp))?;
        drop(file);
        fs::rename(&tmp, &target).map_err(CentreError::io("rename into place", &target))?;
        let parent = target.parent().unwrap_or(&self.path);
        File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(CentreError::io("flush directory", parent))
    }
}

/// The version in a name `<version>-<64 hex>.<type>`, if it is one.
pub fn parse_document_name(doc: DocType, name: &str) -> Option<Version> {
    let stem = name.strip_suffix(doc.name())?.strip_suffix('.')?;
    let (version, sha) = stem.split_once('-')?;
    Sha256::from_hex(sha)?;
    if version.starts_with('0') || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Version::new(version.parse().ok()?)
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
    fn document_names_parse_only_in_canonical_form() {
        let sha = "ab".repeat(32);
        let v = |n| Version::new(n);
        assert_eq!(
            parse_document_name(DocType::Delta, &format!("42-{sha}.delta")),
            v(42)
        );
        assert_eq!(
            parse_document_name(DocType::Delta, &format!("042-{sha}.delta")),
            None
        );
        assert_eq!(
            parse_document_name(DocType::Delta, &format!("0-{sha}.delta")),
            None
        );
        assert_eq!(
            parse_document_name(DocType::Snapshot, &format!("1-{sha}.delta")),
            None
        );
        assert_eq!(parse_document_name(DocType::Delta, "1-abc.delta"), None);
    }

    #[test]
    fn lock_clears_temporaries_a_killed_run_left() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PublishDir::create(tmp.path()).unwrap();
        let stale = tmp.path().join(".centre/tmp/deltas_7-x.delta");
        fs::write(&stale, b"half").unwrap();
        let _lock = dir.lock().unwrap();
        assert!(!stale.exists());
    }
}
