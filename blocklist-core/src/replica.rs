//! A [`Replica`]: the store and the lookup index it publishes, kept in step.
//!
//! A data folder holds `list.db` (the [`Store`]) and `lookup.idx` (the
//! [`crate::index`] file other processes, such as the C library, map). Every
//! apply commits to the store first, then publishes a new index atomically.
//! A crash between the two leaves an index one version behind, which
//! [`Replica::open`] notices and republishes, so readers never see a version
//! the store does not hold.
//!
//! ```
//! use blocklist_core::replica::Replica;
//! let dir = tempfile::tempdir().unwrap();
//! let replica = Replica::open(dir.path(), "th-national").unwrap();
//! assert_eq!(replica.state().unwrap().version, None);
//! ```

use std::path::{Path, PathBuf};

use crate::document::{Delta, Op};
use crate::error::Error;
use crate::index::{
    publish_file, remove_stale_temps, IndexBuilder, IndexError, IndexStats, LookupIndex,
};
use crate::lock::FolderLock;
use crate::store::{Applied, Progress, Store, StoreState};
use crate::verify::{SnapshotFile, Verified};

/// The store's file name in a data folder.
pub const STORE_FILE: &str = "list.db";
/// The lookup index's file name in a data folder.
pub const INDEX_FILE: &str = "lookup.idx";
/// Where the next index is prepared while a delta is applied.
const STAGED_INDEX_FILE: &str = ".lookup.idx.next";
/// The lock that makes a replica the data folder's one writer.
pub const LOCK_FILE: &str = ".replica.lock";

/// The local replica of one list in one data folder.
pub struct Replica {
    store: Store,
    index_path: PathBuf,
    /// Held for the replica's life: the staged and temporary index files
    /// have names another writer of the folder would share.
    _lock: FolderLock,
}

impl Replica {
    /// Opens (creating if needed) the replica in `dir` for list `list`, and
    /// republishes the index if it is missing, unreadable or not at the store's
    /// version (the trace of a crash between commit and publish).
    ///
    /// A data folder has one replica at a time: while one is open (in any
    /// process, on a local file system), another open fails with
    /// [`Error::InUse`]. Opening removes the index files a killed writer left
    /// half-written.
    pub fn open(dir: &Path, list: &str) -> Result<Replica, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            action: "create data folder",
            path: dir.to_path_buf(),
            source,
        })?;
        let lock = FolderLock::try_acquire_or(
            &dir.join(LOCK_FILE),
            |held| Error::InUse {
                dir: dir.to_path_buf(),
                source: held,
            },
            |action, path, source| Error::Io {
                action,
                path,
                source,
            },
        )?;
        let index_path = dir.join(INDEX_FILE);
        // Best effort: a leftover costs only disk space, never a start.
        let staged = staged_path(&index_path);
        remove_stale_temps(&index_path);
        remove_stale_temps(&staged);
        let _ = std::fs::remove_file(&staged);
        let replica = Replica {
            store: Store::open(dir.join(STORE_FILE), list)?,
            index_path,
            _lock: lock,
        };
        replica.ensure_index()?;
        Ok(replica)
    }

    /// Republishes the index if it is missing, unreadable, or not at the
    /// store's version and state digest; `true` if it did. Every apply ends
    /// in step, but a publish can fail after its commit (a full disk, say):
    /// this is what brings the index back in step, at open and when the same
    /// document is applied again (the daemon also calls it before the apply
    /// that follows a failed one). It opens and validates the whole index.
    pub fn ensure_index(&self) -> Result<bool, Error> {
        let state = self.store.state()?;
        let Some(version) = state.version else {
            return Ok(false);
        };
        let current = LookupIndex::open(&self.index_path).is_ok_and(|index| {
            let header = index.header();
            header.list_version == version.get() && header.state_digest == state.state.digest.0
        });
        if !current {
            self.publish_index()?;
        }
        Ok(!current)
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The version held and its state.
    pub fn state(&self) -> Result<StoreState, Error> {
        Ok(self.store.state()?)
    }

    /// Where the lookup index is published.
    pub fn index_path(&self) -> &Path {
        &self.index_path
    }

    /// Applies a verified delta, then publishes the index for the new version.
    ///
    /// The new index depends only on the previous index and the delta, so it is
    /// written to a staging file while SQLite applies the delta (the two run on
    /// separate cores), and renamed into place only once the store has
    /// committed: readers never see a version the store does not hold. When the
    /// previous index is missing, behind, or too full to grow in place, the
    /// index is rebuilt from the store instead.
    pub fn apply_delta(&mut self, delta: &Verified<Delta>, source: &str) -> Result<Applied, Error> {
        let staged = staged_path(&self.index_path);
        let index_path = &self.index_path;
        let store = &mut self.store;
        let (applied, prepared) = std::thread::scope(|scope| {
            let prepare = scope.spawn(|| prepare_index(index_path, &staged, delta));
            let applied = store.apply_delta(delta, source);
            (applied, prepare.join())
        });
        match applied {
            Ok(applied @ Applied::Applied { .. }) => {
                if matches!(prepared, Ok(Ok(true))) {
                    publish_file(&staged, &self.index_path)?;
                } else {
                    self.publish_index()?;
                }
                Ok(applied)
            }
            other => {
                // Refused, failed or already applied: drop the staged index (a
                // leftover one is harmless too: it is only ever published right
                // after the commit it was made for).
                let _ = std::fs::remove_file(&staged);
                let applied = other?;
                self.ensure_index()?;
                Ok(applied)
            }
        }
    }

    /// Applies a verified snapshot file as it streams, then publishes the
    /// index built from the store: neither step holds the list's entries in
    /// memory (see [`Store::apply_snapshot`] and [`Replica::publish_index`]).
    pub fn apply_snapshot(
        &mut self,
        snapshot: &Verified<SnapshotFile>,
        source: &str,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Applied, Error> {
        let applied = self.store.apply_snapshot(snapshot, source, progress)?;
        if matches!(applied, Applied::Applied { .. }) {
            self.publish_index()?;
        } else {
            self.ensure_index()?;
        }
        Ok(applied)
    }

    /// Rebuilds the index from every entry in the store and publishes it.
    /// The rows stream from the store a page at a time (the builder keeps a
    /// few tens of bytes per entry, never the identifiers); the index is
    /// built beside the published one and renamed into place only once every
    /// row was read, so a failed read never publishes a partial index.
    pub fn publish_index(&self) -> Result<IndexStats, Error> {
        let state = self.store.state()?;
        let version = state.version.map_or(0, |v| v.get());
        let builder = IndexBuilder::new(version, state.state.digest.0, state.data_time);
        let staged = staged_path(&self.index_path);
        let failed = std::cell::RefCell::new(None);
        let stats = builder.write(&staged, || {
            self.store
                .rows()
                .map_while(|row| row.map_err(|e| *failed.borrow_mut() = Some(e)).ok())
        });
        if let Some(e) = failed.into_inner() {
            let _ = std::fs::remove_file(&staged);
            return Err(e.into());
        }
        let stats = stats?;
        publish_file(&staged, &self.index_path)?;
        Ok(stats)
    }
}

/// Where the index for the next version is prepared, beside `index_path`.
fn staged_path(index_path: &Path) -> PathBuf {
    index_path.with_file_name(STAGED_INDEX_FILE)
}

/// Writes at `staged` the index for `delta`, derived from the index at
/// `current`; `false` when that index is not at the version the delta starts from.
fn prepare_index(current: &Path, staged: &Path, delta: &Delta) -> Result<bool, IndexError> {
    let previous = LookupIndex::open(current)?;
    if previous.header().list_version != delta.version.base() {
        return Ok(false);
    }
    let removed = delta.ops.iter().filter_map(|op| match op {
        Op::Update(e) => Some((e.id.kind(), e.id.as_str())),
        Op::Remove(id) => Some((id.kind(), id.as_str())),
        Op::Add(_) => None,
    });
    let added = delta.ops.iter().filter_map(|op| match op {
        Op::Add(e) | Op::Update(e) => Some((e.id.kind(), e.id.as_str(), &e.meta)),
        Op::Remove(_) => None,
    });
    previous.write_updated(
        staged,
        delta.version.get(),
        delta.state.digest.0,
        delta.created_at,
        removed,
        added,
    )?;
    Ok(true)
}
