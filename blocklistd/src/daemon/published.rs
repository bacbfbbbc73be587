//! [`LocalFiles`]: the verified files the daemon keeps, in the publish
//! directory layout under `<data_dir>/published/`: always the trust roots it
//! has verified (so a restart keeps a rotated root), the agency registries it
//! has verified (so a restart keeps the one in force), and the manifest of the
//! last complete sync (so a restart keeps the rollback floor); in mirror mode
//! also every delta and snapshot the manifest lists, served as is.
//!
//! Files are written as the centre writes them ([`atomic_file`]): to a
//! temporary file in `.tmp/`, fsynced, renamed into place; deltas and
//! snapshots before the manifest naming them. Temporaries a killed daemon
//! left are removed at open.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use blocklist_core::atomic_file;
use blocklist_core::document::{parse_file_name, DocType, Version, MANIFEST_PATH};

use crate::daemon::DaemonError;

/// The folder under the data folder.
pub const PUBLISHED_DIR: &str = "published";
/// Temporaries, never served (the server only serves layout paths).
const TMP_DIR: &str = ".tmp";
/// A snapshot being downloaded, in [`TMP_DIR`].
const DOWNLOAD_FILE: &str = "snapshot.download";

/// The kept files.
#[derive(Debug, Clone)]
pub struct LocalFiles {
    dir: PathBuf,
}

impl LocalFiles {
    /// Opens (creating) `<data_dir>/published`, removing the temporaries a
    /// killed daemon left (the caller holds the data folder: no other writer).
    pub fn open(data_dir: &Path) -> Result<LocalFiles, DaemonError> {
        let dir = data_dir.join(PUBLISHED_DIR);
        for sub in [TMP_DIR, "roots", "deltas", "snapshots", "registries"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|source| DaemonError::Io {
                action: "create",
                path,
                source,
            })?;
        }
        atomic_file::remove_temps_in(&dir.join(TMP_DIR));
        let _ = std::fs::remove_file(dir.join(TMP_DIR).join(DOWNLOAD_FILE));
        Ok(LocalFiles { dir })
    }

    /// Where a snapshot is downloaded before it is verified and applied
    /// (too large to hold in memory); a killed daemon's is removed at open.
    pub fn download_path(&self) -> PathBuf {
        self.dir.join(TMP_DIR).join(DOWNLOAD_FILE)
    }

    /// Keeps a downloaded file (at [`LocalFiles::download_path`], checked
    /// against the manifest) as the layout file `rel`: synced, then renamed
    /// into place. Returns where it now is.
    pub fn keep(&self, rel: &str, downloaded: &Path) -> Result<PathBuf, DaemonError> {
        let target = self.dir.join(rel);
        std::fs::File::open(downloaded)
            .and_then(|f| f.sync_all())
            .map_err(|source| DaemonError::Io {
                action: "sync downloaded file",
                path: downloaded.to_owned(),
                source,
            })?;
        atomic_file::publish_file(downloaded, &target).map_err(|e| DaemonError::Io {
            action: "keep downloaded file",
            path: target.clone(),
            source: std::io::Error::other(e),
        })?;
        Ok(target)
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
        let target = self.dir.join(rel);
        if let Some(parent) = target.parent().filter(|p| !p.is_dir()) {
            // The log's tiles sit in folders of their own (`log/tile/entries/x001/...`).
            std::fs::create_dir_all(parent).map_err(|source| DaemonError::Io {
                action: "create",
                path: parent.to_owned(),
                source,
            })?;
        }
        write_atomic(&self.dir.join(TMP_DIR), &target, bytes)
    }

    /// The manifest of the last complete sync.
    pub fn manifest(&self) -> Option<Vec<u8>> {
        std::fs::read(self.dir.join(MANIFEST_PATH)).ok()
    }

    /// The files of `doc` held (roots, registries), ascending by version.
    pub fn kept(&self, doc: DocType) -> Vec<(Version, PathBuf)> {
        let mut kept: Vec<(Version, PathBuf)> = std::fs::read_dir(self.dir.join(doc.folder()))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name();
                let (version, _) = parse_file_name(doc, name.to_str()?)?;
                Some((version, e.path()))
            })
            .collect();
        kept.sort();
        kept
    }

    /// Deletes the files of `docs` (their folders) not in `keep` (relative paths).
    pub fn prune(&self, docs: &[DocType], keep: &HashSet<String>) {
        for folder in docs.iter().map(|doc| doc.folder()) {
            for entry in std::fs::read_dir(self.dir.join(folder))
                .into_iter()
                .flatten()
                .flatten()
            {
                let rel = format!("{folder}/{}", entry.file_name().to_string_lossy());
                if !keep.contains(&rel) {
                    if let Err(e) = std::fs::remove_file(entry.path()) {
                        tracing::warn!(file = %entry.path().display(), error = %e, "cannot prune kept file");
                    }
                }
            }
        }
    }
}

/// Writes `bytes` to `target` through a temporary in `tmp_dir` (same file
/// system) with [`atomic_file::write_file_via`], in the daemon's error type.
pub fn write_atomic(tmp_dir: &Path, target: &Path, bytes: &[u8]) -> Result<(), DaemonError> {
    atomic_file::write_file_via(tmp_dir, target, bytes).map_err(|error| match error {
        atomic_file::AtomicFileError::Io {
            action,
            path,
            source,
        } => DaemonError::Io {
            action,
            path,
            source,
        },
        other => DaemonError::Io {
            action: "write",
            path: target.to_owned(),
            source: std::io::Error::other(other),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_removes_the_temporaries_a_killed_daemon_left() {
        let data = tempfile::tempdir().unwrap();
        let files = LocalFiles::open(data.path()).unwrap();
        files.write(MANIFEST_PATH, b"m").unwrap();
        let tmp = files.dir().join(TMP_DIR);
        let stale = tmp.join(".manifest.0123456789abcdef.tmp");
        std::fs::write(&stale, b"half a manifest").unwrap();
        let files = LocalFiles::open(data.path()).unwrap();
        assert!(!stale.exists(), "the stale temporary is still there");
        assert_eq!(files.manifest().as_deref(), Some(&b"m"[..]));
    }
}
