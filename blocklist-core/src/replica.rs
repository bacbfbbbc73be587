//! A [`Replica`]: the store and the lookup index it publishes, kept in step.
//!
//! A data folder holds `list.db` (the [`Store`]) and `lookup.idx` (the
//! [`crate::index`] file other processes, such as the C library, map): an
//! overlay of the changes since the last full index, its base, which lies
//! beside it as `lookup.idx.base-<checksum>`. Every apply commits to the
//! store first, then publishes a new overlay atomically.
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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::commitment::Commitment;
use crate::document::{Delta, Op};
use crate::entry::{Entry, Standing};
use crate::error::Error;
use crate::identifier::Identifier;
use crate::index::{
    publish_file, remove_stale_temps, remove_unused_bases, Change, HashedEntries, IndexBuilder,
    IndexError, IndexHeader, IndexStats, LookupIndex,
};
use crate::kind::Kind;
use crate::lock::FolderLock;
use crate::store::{Applied, Progress, SnapshotFollower, Store, StoreState};
use crate::verify::{SnapshotFile, Verified};

/// The store's file name in a data folder.
pub const STORE_FILE: &str = "list.db";
/// The lookup index's file name in a data folder: an overlay of recent
/// changes, naming the base beside it (`lookup.idx.base-<checksum>`).
pub const INDEX_FILE: &str = "lookup.idx";
/// Where the next overlay is prepared while a delta is applied.
const STAGED_INDEX_FILE: &str = ".lookup.idx.next";
/// Where a new base is written before it is renamed to its base name.
const NEW_BASE_FILE: &str = ".lookup.idx.new-base";
/// Where a background merge writes its base.
const MERGED_BASE_FILE: &str = ".lookup.idx.merged-base";
/// The lock that makes a replica the data folder's one writer.
pub const LOCK_FILE: &str = ".replica.lock";

/// Overlay records past which a merge into a new base starts in the
/// background. Every delta rewrites the overlay whole, so this bounds what
/// a one-change delta writes (about 50 bytes a record); lookups through an
/// overlay of this size cost a cached filter test more.
const MERGE_AT: u64 = 8_192;
/// Overlay records past which the apply merges at once (a very large delta,
/// or many deltas while a background merge runs). Below it a large delta
/// goes to the overlay too (about 5 MB at 100 000 changes, where a merge
/// rewrites the whole base, 282 MB at 10M entries) and the background merge
/// folds it in.
const MERGE_NOW_AT: u64 = 262_144;

/// The local replica of one list in one data folder.
pub struct Replica {
    store: Store,
    /// The store read-only, for the index thread of an apply to read the
    /// version the delta applies to (the listings of identifiers several
    /// agencies list) beside the apply. Opened by the first delta's apply
    /// and closed by a snapshot's: a store no other connection has open
    /// takes a bootstrap without WAL (see [`Store::apply_snapshot_followed`]).
    reader: Option<Store>,
    index_path: PathBuf,
    /// The index last published, to stack the next overlay on without
    /// reading its base again; `None` until it is first needed.
    served: Option<Arc<LookupIndex>>,
    /// A merge of the served overlay into a new base, running beside applies.
    merge: Option<Merge>,
    /// The base a merge failed on (the list outgrew its table): not tried
    /// again on it; the apply that reaches [`MERGE_NOW_AT`] rebuilds instead.
    merge_failed_on: Option<u64>,
    /// Held for the replica's life: the staged and temporary index files
    /// have names another writer of the folder would share.
    _lock: FolderLock,
}

/// A background merge: the served index written whole as a new base.
struct Merge {
    /// The base the merged index stood on: its result is used only while
    /// the served index still stands on it.
    on_base: u64,
    /// The served index it folds in: the overlay changes made since stay
    /// in the overlay on the new base. Compared when the merge is taken up,
    /// beside SQLite's apply, rather than listed when it starts, at the end
    /// of an apply (a 100k-change overlay took 0.4 s to list).
    folded: Arc<LookupIndex>,
    /// The merge thread, until it has ended.
    thread: Option<JoinHandle<Result<LookupIndex, Error>>>,
    /// The new base, or why there is none, once the thread has ended.
    outcome: Option<Result<LookupIndex, Error>>,
}

impl Merge {
    /// Waits for the merge thread and drops what it made (its base file, if
    /// any, is removed with the other unused bases): two merges never write
    /// the same scratch file at once.
    fn abandon(self) {
        if let Some(thread) = self.thread {
            let _ = thread.join();
        }
    }

    /// Whether the merge has ended (waiting for it if `wait`); its outcome
    /// is then in `outcome`.
    fn ended(&mut self, index_path: &Path, wait: bool) -> bool {
        if let Some(thread) = self.thread.take_if(|t| wait || t.is_finished()) {
            self.outcome = Some(thread.join().unwrap_or_else(|_| {
                Err(Error::Index(IndexError::Io {
                    path: index_path.to_owned(),
                    action: "merge",
                    source: std::io::Error::other("the merge thread panicked"),
                }))
            }));
        }
        self.outcome.is_some()
    }
}

impl Replica {
    /// Opens (creating if needed) the replica in `dir` for list `list`, and
    /// republishes the index if it is missing, unreadable or not at the store's
    /// version (the trace of a crash between commit and publish).
    ///
    /// A data folder has one replica at a time: while one is open (in any
    /// process, on a local file system), another open fails with
    /// [`Error::InUse`]. Opening removes the index files a killed writer left
    /// half-written, and bases no overlay names any more.
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
        remove_stale_temps(&index_path);
        for scratch in [STAGED_INDEX_FILE, NEW_BASE_FILE, MERGED_BASE_FILE] {
            let scratch = index_path.with_file_name(scratch);
            remove_stale_temps(&scratch);
            let _ = std::fs::remove_file(&scratch);
        }
        let store = Store::open(dir.join(STORE_FILE), list)?;
        let mut replica = Replica {
            reader: None,
            store,
            index_path,
            served: None,
            merge: None,
            merge_failed_on: None,
            _lock: lock,
        };
        replica.ensure_index()?;
        replica.remove_unused_bases();
        Ok(replica)
    }

    /// Republishes the index if it is missing, unreadable, or not at the
    /// store's version and state digest; `true` if it did. Every apply ends
    /// in step, but a publish can fail after its commit (a full disk, say):
    /// this is what brings the index back in step, at open and when the same
    /// document is applied again (the daemon also calls it before the apply
    /// that follows a failed one). It opens and validates the whole index.
    pub fn ensure_index(&mut self) -> Result<bool, Error> {
        let state = self.store.state()?;
        let Some(version) = state.version else {
            return Ok(false);
        };
        let opened = LookupIndex::open(&self.index_path).ok().filter(|index| {
            let header = index.header();
            header.list_version == version.get() && header.state_digest == state.state.digest.0
        });
        match opened {
            Some(index) => {
                self.served = Some(Arc::new(index));
                Ok(false)
            }
            None => {
                self.publish_index()?;
                Ok(true)
            }
        }
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
    /// The delta's changes go to a new overlay on the served base (written
    /// whole, a few hundred kilobytes at most), prepared beside SQLite's apply
    /// (the two run on separate cores) and renamed into place only once the
    /// store has committed: readers never see a version the store does not
    /// hold, and the base is not rewritten. When the overlay grows past
    /// 8,192 records a merge into a new base starts in the background and is
    /// taken up by a later apply; past 262,144 the apply merges itself. When
    /// the served index is missing or behind, the index is rebuilt from the
    /// store instead.
    pub fn apply_delta(&mut self, delta: &Verified<Delta>, source: &str) -> Result<Applied, Error> {
        let staged = staged_path(&self.index_path);
        let mut stack = Stack {
            index_path: &self.index_path,
            served: self.served.as_deref(),
            merge: &mut self.merge,
            merge_failed_on: &mut self.merge_failed_on,
        };
        // The version the delta applies to, read beside the apply. An index
        // header carries the digest of the current commitment, which a delta
        // of an older format does not sign: its index is rebuilt from the
        // store after the commit instead (only while a replica crosses the
        // format change).
        if self.reader.is_none() {
            // Without one, the index is built from the store after the
            // commit instead.
            self.reader = Store::reader(self.store.path()).ok();
        }
        let before = self.reader.as_mut().filter(|reader| {
            delta.commitment() == Commitment::CURRENT && reader.begin_read().is_ok()
        });
        let store = &mut self.store;
        let (applied, prepared) = std::thread::scope(|scope| {
            let staged = &staged;
            let prepare = scope.spawn(move || stack.prepare(staged, delta, before));
            let applied = store.apply_delta(delta, source);
            (applied, prepare.join())
        });
        if let Some(reader) = &self.reader {
            reader.end_read();
        }
        match applied {
            Ok(applied @ Applied::Applied { .. }) => {
                match prepared {
                    Ok(Ok(Prepared::Staged(index))) => {
                        publish_file(&staged, &self.index_path)?;
                        self.served = Some(Arc::new(index.renamed(&self.index_path)?));
                        self.remove_unused_bases();
                    }
                    _ => {
                        self.publish_index()?;
                    }
                }
                self.start_merge_if_due();
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

    /// Applies a verified snapshot as it streams from its file, then
    /// publishes its index as a new base.
    ///
    /// The index is built from the entries as they stream (32 bytes each,
    /// see [`IndexBuilder::hasher`]) and written, once they proved to be the
    /// signed ones, on a thread of its own while the store appends and
    /// commits them: it is published only after the commit. In the rare case
    /// it cannot be built so (two entries sharing a fingerprint under its
    /// seed, or an entry the index cannot hold), it is built from the store's
    /// rows after the commit, which also reports why.
    pub fn apply_snapshot(
        &mut self,
        snapshot: &Verified<SnapshotFile>,
        source: &str,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Applied, Error> {
        self.reader = None;
        let head = snapshot.head();
        let builder = IndexBuilder::new(head.version.get(), head.state.digest.0, head.created_at);
        let built = self.index_path.with_file_name(NEW_BASE_FILE);
        let store = &mut self.store;
        let (applied, indexed) = std::thread::scope(|scope| {
            let mut follower = IndexFollower {
                scope,
                builder: &builder,
                path: &built,
                // As for a delta, a snapshot of an older format signs
                // another digest than the index header carries: built from
                // the store after the commit.
                state: match builder.hasher(head.state.entries) {
                    Ok(hashed) if snapshot.commitment() == Commitment::CURRENT => {
                        Following::Hashing(hashed)
                    }
                    _ => Following::GaveUp,
                },
            };
            let applied = store.apply_snapshot_followed(snapshot, source, progress, &mut follower);
            (applied, follower.finish())
        });
        let applied = match applied {
            Ok(applied @ Applied::Applied { .. }) => applied,
            other => {
                // Refused, failed or already applied: the index built, if
                // any, is not for a version the store holds.
                let _ = std::fs::remove_file(&built);
                let applied = other?;
                self.ensure_index()?;
                return Ok(applied);
            }
        };
        if indexed {
            self.publish_base(&built)?;
        } else {
            let _ = std::fs::remove_file(&built);
            self.publish_index()?;
        }
        Ok(applied)
    }

    /// Rebuilds the index from every entry in the store and publishes it.
    pub fn publish_index(&mut self) -> Result<IndexStats, Error> {
        let state = self.store.state()?;
        let built = self.index_path.with_file_name(NEW_BASE_FILE);
        build_index(&self.store, &state, &built)?;
        self.publish_base(&built)
    }

    /// Publishes the full index at `built` as a new base, with an empty
    /// overlay naming it.
    fn publish_base(&mut self, built: &Path) -> Result<IndexStats, Error> {
        let base = LookupIndex::adopt_base(built, &self.index_path)?;
        let stats = base.write_overlay(&self.index_path, &self.index_path, base.header(), [])?;
        // A merge of the index just replaced would stack on a stale base.
        if let Some(merge) = self.merge.take() {
            merge.abandon();
        }
        self.served = Some(Arc::new(LookupIndex::open_reusing(
            &self.index_path,
            &base,
        )?));
        self.remove_unused_bases();
        Ok(stats)
    }

    /// Removes the bases neither the served overlay nor a running merge may
    /// still need.
    fn remove_unused_bases(&self) {
        if self.merge.is_some() {
            return;
        }
        if let Some(served) = &self.served {
            remove_unused_bases(&self.index_path, &[served.base_path()]);
        }
    }

    /// Starts merging the served overlay into a new base if it has grown
    /// past [`MERGE_AT`] and no merge runs.
    fn start_merge_if_due(&mut self) {
        let Some(served) = self.served.clone() else {
            return;
        };
        let base = served.base_checksum();
        if self.merge.is_some()
            || self.merge_failed_on == Some(base)
            || served.stats().overlay_entries < MERGE_AT
        {
            return;
        }
        // The store as of the served version, in case the list outgrew the
        // base's table and the merge must build from every entry.
        let Ok(store) = self.store.snapshot() else {
            return;
        };
        let index_path = self.index_path.clone();
        self.merge = Some(Merge {
            on_base: base,
            folded: Arc::clone(&served),
            thread: Some(std::thread::spawn(move || {
                merge_into_base(&served, &store, &index_path)
            })),
            outcome: None,
        });
    }

    /// Whether a merge of the overlay into a new base is under way (running,
    /// or ended and waiting for the next apply to publish its base).
    pub fn merging(&self) -> bool {
        self.merge.is_some()
    }

    /// Waits for a running merge to end; the next apply publishes its base.
    pub fn wait_for_merge(&mut self) {
        if let Some(merge) = &mut self.merge {
            merge.ended(&self.index_path, true);
        }
    }
}

/// Builds a snapshot's index from its entries as the store applies it.
struct IndexFollower<'scope, 'env> {
    scope: &'scope std::thread::Scope<'scope, 'env>,
    builder: &'env IndexBuilder,
    /// Where the index is written (a new base, not yet published).
    path: &'env Path,
    state: Following<'scope>,
}

enum Following<'scope> {
    /// Hashing the entries as they stream.
    Hashing(HashedEntries),
    /// The entries proved to be the signed ones: the index is being
    /// written; `true` once it was.
    Writing(std::thread::ScopedJoinHandle<'scope, bool>),
    /// Not building: the index is built from the store after the commit.
    GaveUp,
}

impl SnapshotFollower for IndexFollower<'_, '_> {
    fn entries(&mut self, batch: &[Entry]) {
        if let Following::Hashing(hashed) = &mut self.state {
            for entry in batch {
                let id = &entry.id;
                if hashed.add(id.kind(), id.as_str(), &entry.meta).is_err() {
                    self.state = Following::GaveUp;
                    return;
                }
            }
        }
    }

    fn verified(&mut self) {
        if let Following::Hashing(hashed) = std::mem::replace(&mut self.state, Following::GaveUp) {
            let (builder, path) = (self.builder, self.path);
            self.state = Following::Writing(
                self.scope
                    .spawn(move || matches!(builder.write_hashed(path, hashed), Ok(Some(_)))),
            );
        }
    }
}

impl IndexFollower<'_, '_> {
    /// Waits for the index being written; `true` if it was.
    fn finish(self) -> bool {
        match self.state {
            Following::Writing(thread) => thread.join().unwrap_or(false),
            Following::Hashing(_) | Following::GaveUp => false,
        }
    }
}

/// What preparing the next version's index wrote.
enum Prepared {
    /// Nothing: no index at the version the delta starts from is at hand.
    Nothing,
    /// An overlay (on the served base or a new one), already opened and
    /// validated at its staged path.
    Staged(Box<LookupIndex>),
}

/// The overlay just written at `staged` on `base`'s base, opened there:
/// validating a 100k-change overlay took 0.4 s, which this spends beside
/// SQLite's apply rather than between its commit and the publication.
fn staged_on(staged: &Path, base: &LookupIndex) -> Result<Prepared, IndexError> {
    Ok(Prepared::Staged(Box::new(LookupIndex::open_staged(
        staged, base,
    )?)))
}

/// What preparing the next overlay reads and may consume: the served index,
/// and a finished background merge.
struct Stack<'a> {
    index_path: &'a Path,
    served: Option<&'a LookupIndex>,
    merge: &'a mut Option<Merge>,
    merge_failed_on: &'a mut Option<u64>,
}

impl Stack<'_> {
    /// Writes at `staged` the index for `delta`: an overlay stacked on the
    /// served base (or on a finished merge's new base), or a new base with
    /// an empty overlay when the overlay would grow past [`MERGE_NOW_AT`],
    /// and opens it there. [`Prepared::Nothing`] when no index at the
    /// version the delta starts from is at hand, or `before` (the store at
    /// that version) is not, or could not be read.
    fn prepare(
        &mut self,
        staged: &Path,
        delta: &Delta,
        before: Option<&mut Store>,
    ) -> Result<Prepared, IndexError> {
        let opened;
        let current = match self.served {
            Some(served) => served,
            None => {
                opened = LookupIndex::open(self.index_path)?;
                &opened
            }
        };
        if current.header().list_version != delta.version.base() {
            return Ok(Prepared::Nothing);
        }
        let Some(changed) = before.and_then(|before| changed_records(delta, current, before).ok())
        else {
            return Ok(Prepared::Nothing);
        };
        // The index counts identifiers (one record each), the list listings.
        let (gained, lost) = changed.iter().fold((0, 0), |(gained, lost), r| {
            match (r.indexed, r.change.standing.is_some()) {
                (false, true) => (gained + 1, lost),
                (true, false) => (gained, lost + 1),
                _ => (gained, lost),
            }
        });
        let header = IndexHeader::new(
            delta.version.get(),
            delta.state.digest.0,
            delta.created_at,
            (current.header().entries + gained).saturating_sub(lost),
        );
        let changes = changed.iter().map(|r| r.change.clone());
        if let Some(merged) = self.finished_merge(current) {
            let (base, residual) = merged;
            let changes = residual.into_iter().chain(changes);
            base.write_overlay(self.index_path, staged, &header, changes)?;
            return staged_on(staged, &base);
        }
        let growth = current.stats().overlay_entries + changed.len() as u64;
        if growth <= MERGE_NOW_AT {
            let written = current.write_overlay(self.index_path, staged, &header, changes);
            match written {
                // A full index published whole, or a change an overlay cannot
                // hold: merge now.
                Err(
                    IndexError::BaseNotPlaced { .. }
                    | IndexError::FingerprintClash { .. }
                    | IndexError::TooLongForOverlay { .. },
                ) => {}
                written => return written.and_then(|_| staged_on(staged, current)),
            }
        }
        // Merge now: the whole index with the delta, as a new base.
        if let Some(merge) = self.merge.take() {
            merge.abandon();
        }
        let removed = changed
            .iter()
            .filter(|r| r.indexed)
            .map(|r| (r.change.kind, r.change.value.as_str()));
        let added = changed.iter().filter_map(|r| {
            let change = &r.change;
            Some((
                change.kind,
                change.value.as_str(),
                change.standing.as_ref()?,
            ))
        });
        let built = self.index_path.with_file_name(NEW_BASE_FILE);
        let IndexHeader {
            list_version,
            state_digest,
            created_at,
            ..
        } = header;
        current.write_updated(
            &built,
            list_version,
            state_digest,
            created_at,
            removed,
            added,
        )?;
        let base = LookupIndex::adopt_base(&built, self.index_path)?;
        base.write_overlay(self.index_path, staged, &header, [])?;
        staged_on(staged, &base)
    }

    /// A finished background merge that `current` can move onto: the new
    /// base, and the overlay changes made since the merge started. A merge
    /// that failed, or whose base `current` no longer stands on, is dropped.
    fn finished_merge(&mut self, current: &LookupIndex) -> Option<(LookupIndex, Vec<Change>)> {
        if !self.merge.as_mut()?.ended(self.index_path, false) {
            return None;
        }
        let merge = self.merge.take()?;
        let base = match merge.outcome? {
            Ok(base) => base,
            Err(_) => {
                *self.merge_failed_on = Some(merge.on_base);
                return None;
            }
        };
        if merge.on_base != current.base_checksum() {
            return None;
        }
        let folded: HashMap<(Kind, String), Option<Standing>> = merge
            .folded
            .overlay_changes()
            .into_iter()
            .map(|c| ((c.kind, c.value), c.standing))
            .collect();
        let residual = current
            .overlay_changes()
            .into_iter()
            .filter(|c| folded.get(&(c.kind, c.value.clone())) != Some(&c.standing))
            .collect();
        Some((base, residual))
    }
}

/// An identifier a delta changes, as its index record must change.
struct ChangedRecord {
    /// Its standing after the delta.
    change: Change,
    /// Whether `current` (the index at the version the delta applies to)
    /// holds a record of it.
    indexed: bool,
}

/// Each identifier `delta` changes, with its standing after the delta
/// (its listings made one record): worked out from `current`'s record where
/// that tells every listing (none, or one), else from the listings in
/// `before`, the store at the version the delta applies to.
fn changed_records(
    delta: &Delta,
    current: &LookupIndex,
    before: &Store,
) -> Result<Vec<ChangedRecord>, Error> {
    let mut touched: HashMap<&Identifier, Vec<&Op>> = HashMap::with_capacity(delta.ops.len());
    for op in &delta.ops {
        touched.entry(op.id()).or_default().push(op);
    }
    touched
        .into_iter()
        .map(|(id, ops)| {
            let record = current.standing(id.kind(), id.as_str());
            let indexed = record.is_some();
            let mut listings = match record {
                None => Vec::new(),
                Some(standing) if standing.listings == 1 => vec![standing.meta],
                Some(_) => before.listed(id)?,
            };
            for op in ops {
                match op {
                    Op::Add(e) | Op::Update(e) => {
                        listings.retain(|m| m.agency != e.meta.agency);
                        listings.push(e.meta.clone());
                    }
                    Op::Remove(_, Some(agency)) => listings.retain(|m| &m.agency != agency),
                    Op::Remove(_, None) => listings.clear(),
                }
            }
            Ok(ChangedRecord {
                change: Change {
                    kind: id.kind(),
                    value: id.as_str().to_owned(),
                    standing: Standing::of(listings),
                },
                indexed,
            })
        })
        .collect()
}

/// Writes `served` whole (base and overlay merged) as a new base beside it:
/// its base's table edited, or when the list outgrew that table (or its
/// agency records) a full build from `store` (a snapshot at the served
/// version).
fn merge_into_base(
    served: &LookupIndex,
    store: &Store,
    index_path: &Path,
) -> Result<LookupIndex, Error> {
    let header = served.header();
    let written = index_path.with_file_name(MERGED_BASE_FILE);
    let edited = served.write_updated(
        &written,
        header.list_version,
        header.state_digest,
        header.created_at,
        std::iter::empty::<(Kind, &str)>(),
        std::iter::empty::<(Kind, &str, &Standing)>(),
    );
    match edited {
        // An edited base keeps its table's agency records, also those no
        // listing uses any more; a full build keeps only the used ones, so
        // it may fit where the edit did not.
        Err(IndexError::UpdateNeedsRebuild { .. } | IndexError::TooManyAgencies { .. }) => {
            let state = store.state()?;
            if state.version.map(|v| v.get()) != Some(header.list_version) {
                return Err(Error::Index(IndexError::SourceChanged {
                    detail: format!(
                        "the store snapshot for a merge at version {} holds another version",
                        header.list_version
                    ),
                }));
            }
            build_index(store, &state, &written)?;
        }
        edited => {
            edited?;
        }
    }
    Ok(LookupIndex::adopt_base(&written, index_path)?)
}

/// Builds at `path` a full index of every entry in `store` (at `state`).
/// The rows stream from the store a page at a time (the builder keeps a few
/// tens of bytes per entry, never the identifiers); a failed read fails the
/// build, which leaves nothing at `path`.
fn build_index(store: &Store, state: &StoreState, path: &Path) -> Result<IndexStats, Error> {
    let version = state.version.map_or(0, |v| v.get());
    let builder = IndexBuilder::new(version, state.state.digest.0, state.data_time);
    let failed = std::cell::RefCell::new(None);
    let stats = builder.write(path, || {
        store
            .rows()
            .map_while(|row| row.map_err(|e| *failed.borrow_mut() = Some(e)).ok())
    });
    if let Some(e) = failed.into_inner() {
        let _ = std::fs::remove_file(path);
        return Err(e.into());
    }
    Ok(stats?)
}

/// Where the index for the next version is prepared, beside `index_path`.
fn staged_path(index_path: &Path) -> PathBuf {
    index_path.with_file_name(STAGED_INDEX_FILE)
}
