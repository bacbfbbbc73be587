//! [`LocalFiles`]: the verified files the daemon keeps, in the publish
//! directory layout under `<data_dir>/published/`: always the trust roots it
//! has verified (so a restart keeps a rotated root) and the manifest of the
//! last complete sync (so a restart keeps the rollback floor); in mirror mode
//! also every delta and snapshot the manifest lists, served as is.
//!
//! Files are written as the centre writes them: to a temporary file, fsynced,
//! renamed into place; deltas and snapshots before the manifest naming them.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use blocklist_core::document::{DocType, Version, MANIFEST_PATH};

use crate::centre::publish_dir::parse_document_name;
use crate::daemon::DaemonError;

/// The folder under the data folder.
pub const PUBLISHED_DIR: &str = "published";
/// Temporaries, never served (the server only serves layout paths).
const TMP_DIR: &str = ".tmp";

/// The kept files.
#[derive(Debug, Clone)]
pub struct LocalFiles {
    dir: PathBuf,
}

impl LocalFiles {
    /// Opens (creating) `<data_dir>/published`.
    pub fn open(data_dir: &Path) -> Result<LocalFiles, DaemonError> {
        let dir = data_dir.join(PUBLISHED_DIR);
        for sub in [TMP_DIR, "roots", "deltas", "snapshots"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|source| DaemonError::Io {
                action: "create",
                path,
                source,
            })?;
        }
        Ok(LocalFiles { dir })
    }

    /// The folder (what the mirror serves).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether a layout file is held.
    pub fn has(&self, rel: &str) -> bool {
        self.dir.join(rel).is_file()
    }

    /// Writes a layout file atomically.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), DaemonError> {
        write_atomic(&self.dir.join(TMP_DIR), &self.dir.join(rel), bytes)
    }

    /// The manifest of the last complete sync.
    pub fn manifest(&self) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(MANIFEST_PATH)).ok()
    }

    /// The roots held, ascending by version.
    pub fn roots(&self) -> Vec<(Version, PathBuf)> {
        let mut roots: Vec<(Version, PathBuf)> = std::fs::read_dir(self.dir.join("roots"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                let version = parse_document_name(DocType::Root, name.to_str()?)?;
                Some((version, e.path()))
            })
            .collect();
        roots.sort();
        roots
    }

    /// Deletes deltas and snapshots not in `keep` (relative paths).
    pub fn prune(&self, keep: &HashSet<String>) {
        for folder in ["deltas", "snapshots"] {
            for entry in std::fs::read_dir(self.dir.join(folder))
                .into_iter()
                .flatten()
                .flatten()
            {
                let rel = format!("{folder}/{}", entry.file_name().to_string_lossy());
                if !keep.contains(&rel) {
                    if let Err(e) = std::fs::remove_file(entry.path()) {
                        tracing::warn!(file = %entry.path().display(), error = %e, "cannot prune mirrored file");
                    }
                }
            }
        }
    }
}

/// Writes `bytes` to `target` through a temporary in `tmp_dir` (same file
/// system): write, fsync, rename, fsync the directory.
pub fn write_atomic(tmp_dir: &Path, target: &Path, bytes: &[u8]) -> Result<(), DaemonError> {
    let io = |action: &'static str, path: &Path| {
        let path = path.to_owned();
        move |source| DaemonError::Io {
            action,
            path,
            source,
        }
    };
    std::fs::create_dir_all(tmp_dir).map_err(io("create", tmp_dir))?;
    let name = target
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let tmp = tmp_dir.join(format!("{name}.{}.tmp", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(io("create", &tmp))?;
    file.write_all(bytes).map_err(io("write", &tmp))?;
    file.sync_all().map_err(io("fsync", &tmp))?;
    drop(file);
    std::fs::rename(&tmp, target).map_err(io("rename into place", target))?;
    if let Some(parent) = target.parent() {
        if let Ok(dir) = std::fs::File::open(parent) {
            let _ = dir.sync_all();
        }
    }
    Ok(())
}
