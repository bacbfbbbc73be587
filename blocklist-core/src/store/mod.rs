//! The local replica: one SQLite file (WAL mode) holding the entries, the
//! current version and state commitments, and a log of applied versions.
//!
//! The only writes are [`Store::apply_delta`] and [`Store::apply_snapshot`], and
//! each is one transaction that ends with the state digest checked against the
//! signed one, so a crash or a refused document leaves the previous version
//! whole: a process killed at any point restarts at the old or the new version.
//!
//! ```
//! use blocklist_core::store::Store;
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path().join("list.db"), "th-national").unwrap();
//! assert_eq!(store.state().unwrap().version, None);
//! ```

mod apply;
mod checkpoint;
mod error;
mod migrate;
mod origin_ops;
mod origins;
mod overrides;
mod query;
mod sort;

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension as _};

use checkpoint::Checkpointer;

pub use apply::{Applied, Progress, SnapshotFollower};
pub use error::StoreError;
pub use overrides::{AppliedOverride, OverrideChange};
pub use query::{Whole, WholeStream};

use crate::commitment::{Commitment, LaneSum, StateAccumulator};
use crate::digest::StateDigest;
use crate::document::{ListState, Version};
use crate::entry::{Agency, Entry, EntryMeta, Reason, Timestamp};
use crate::identifier::Identifier;
use crate::kind::Kind;

/// The version the store holds and what it holds at that version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreState {
    /// The list.
    pub list: String,
    /// The applied version; `None` before the first apply.
    pub version: Option<Version>,
    /// Digest and count of the entries, as the documents this build writes
    /// say them ([`Commitment::CURRENT`]).
    pub state: ListState,
    /// Every commitment to the entries, to compare with a document of any
    /// format and to follow the next changes.
    pub commitments: StateAccumulator,
    /// When the centre made the document that produced this version.
    pub data_time: Timestamp,
}

/// One line of the applied-versions log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedVersion {
    /// The version.
    pub version: Version,
    /// `delta` or `snapshot`.
    pub document: String,
    /// The state after it, as the document signed it (its digest is the
    /// commitment of the document's format).
    pub state: ListState,
    /// SHA-256 of the file applied.
    pub file_sha256: [u8; 32],
    /// When it was applied.
    pub applied_at: Timestamp,
    /// Where it came from (a URL, a file path).
    pub source: String,
}

/// How long a write waits for another connection's lock.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The local replica of one list.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Checkpoints `conn`'s commits (a writing store's; `None` in a
    /// read-only view). Declared after `conn`, so dropped after it: its
    /// thread ends once `conn` is closed.
    _checkpointer: Option<Checkpointer>,
}

impl Store {
    /// Opens (creating if needed) the store at `path` for list `list`. A store
    /// that holds another list is refused.
    pub fn open(path: impl AsRef<Path>, list: &str) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let mut conn = Connection::open(&path).map_err(sqlite(&path, "open"))?;
        // WAL: readers never block the applying writer. FULL: a committed
        // version survives power loss, not only a process crash.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sqlite(&path, "enable WAL"))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(sqlite(&path, "set synchronous"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sqlite(&path, "set busy timeout"))?;
        migrate::ensure(&mut conn, &path)?;
        let empty = StateAccumulator::default();
        conn.execute(
            "INSERT OR IGNORE INTO list_state (id, list, version, digest, entries, data_time, lthash)
             VALUES (1, ?1, NULL, ?2, 0, 0, ?3)",
            params![
                list,
                empty.lane_sum().digest().0.as_slice(),
                empty.lthash().to_bytes().as_slice()
            ],
        )
        .map_err(sqlite(&path, "initialise state"))?;
        // Commits do not wait for the checkpoint that copies their pages
        // into the database file (see `checkpoint`).
        let checkpointer = Some(Checkpointer::start(&mut conn, &path)?);
        let store = Store {
            conn,
            path,
            _checkpointer: checkpointer,
        };
        let held = store.state()?.list;
        if held != list {
            return Err(StoreError::WrongList {
                path: store.path,
                expected: list.to_owned(),
                found: held,
            });
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The version held and its state.
    pub fn state(&self) -> Result<StoreState, StoreError> {
        read_state(&self.conn, &self.path)
    }

    /// The applied-versions log, oldest first.
    pub fn log(&self) -> Result<Vec<AppliedVersion>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT version, document, digest, entries, file_sha256, applied_at, source
                 FROM applied ORDER BY version",
            )
            .map_err(sqlite(&self.path, "read log"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, Vec<u8>>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, String>(6)?,
                ))
            })
            .map_err(sqlite(&self.path, "read log"))?;
        let mut out = Vec::new();
        for row in rows {
            let (version, document, digest, entries, file, applied_at, source) =
                row.map_err(sqlite(&self.path, "read log"))?;
            out.push(AppliedVersion {
                version: version_from_db(&self.path, version)?
                    .ok_or_else(|| corrupt(&self.path, "log has version 0"))?,
                document,
                state: ListState {
                    digest: StateDigest(bytes32(&self.path, "log digest", &digest)?),
                    entries: entries as u64,
                },
                file_sha256: bytes32(&self.path, "log file digest", &file)?,
                applied_at: Timestamp(applied_at as u64),
                source,
            });
        }
        Ok(out)
    }

    /// When `version` was applied here, if it was (the applied-versions
    /// log's row of it, without reading the others).
    pub fn applied_at(&self, version: Version) -> Result<Option<Timestamp>, StoreError> {
        let v = crate::store::apply::to_db(&self.path, "version", version.get())?;
        self.conn
            .query_row(
                "SELECT applied_at FROM applied WHERE version = ?1",
                [v],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|t| t.map(|t| Timestamp(t.unsigned_abs())))
            .map_err(sqlite(&self.path, "read log"))
    }

    /// A read-only view of the store as it is now, to read on another thread
    /// while applies go on: its own connection, held in a read transaction
    /// (WAL keeps that state for it while the writer commits newer ones).
    /// Its writes fail.
    pub fn snapshot(&self) -> Result<Store, StoreError> {
        Store::read_view(&self.path)
    }

    /// Opens an existing store to read one version of it beside the
    /// process that writes it (a daemon's API answering from its replica):
    /// its own connection, held in a read transaction, so every query sees
    /// the version committed when it opened. Its writes fail.
    ///
    /// ```
    /// use blocklist_core::store::Store;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("list.db");
    /// assert!(Store::read_view(&path).is_err()); // none there yet
    /// Store::open(&path, "demo").unwrap();
    /// assert_eq!(Store::read_view(&path).unwrap().state().unwrap().version, None);
    /// ```
    pub fn read_view(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let view = Store::reader(path)?;
        view.begin_read()?;
        Ok(view)
    }

    /// Opens an existing store read-only, to read at versions of the
    /// caller's choosing: each read between [`Store::begin_read`] and
    /// [`Store::end_read`] sees the version committed at the first. Its
    /// writes fail.
    pub fn reader(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref().to_path_buf();
        let conn = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(sqlite(&path, "open"))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(sqlite(&path, "set busy timeout"))?;
        migrate::check_current(&conn, &path)?;
        Ok(Store {
            conn,
            path,
            _checkpointer: None,
        })
    }

    /// Begins a read of the version committed now (see [`Store::reader`]).
    pub fn begin_read(&self) -> Result<(), StoreError> {
        if !self.conn.is_autocommit() {
            self.end_read();
        }
        self.conn
            .execute_batch("BEGIN")
            .map_err(sqlite(&self.path, "begin a read"))?;
        // The first read fixes the state the transaction sees.
        read_state(&self.conn, &self.path)?;
        Ok(())
    }

    /// Ends the read [`Store::begin_read`] began: while it lasts, no
    /// checkpoint can move past the version it sees. `false` when the read
    /// is still open (the end failed): a connection kept idle in that state
    /// would hold checkpoints back, so its keeper drops it.
    pub fn end_read(&self) -> bool {
        // Nothing to undo in a read: a failure leaves it to the next begin.
        let _ = self.conn.execute_batch("ROLLBACK");
        self.conn.is_autocommit()
    }

    /// Calls `f` with every entry, in key order, each identifier checked
    /// canonical again (for tools and integrity checks).
    pub fn for_each_entry(&self, mut f: impl FnMut(Entry)) -> Result<(), StoreError> {
        for row in self.rows() {
            let (kind, value, meta) = row?;
            let id = Identifier::from_canonical(kind, &value)
                .map_err(|e| corrupt(&self.path, &format!("entry {value:?}: {e}")))?;
            f(Entry { id, meta });
        }
        Ok(())
    }

    /// Every entry as stored (kind, canonical value, metadata), in key order,
    /// read [`ROWS_PER_PAGE`] rows at a time: memory stays bounded whatever
    /// the list's size (building the lookup index reads the list this way).
    ///
    /// ```
    /// use blocklist_core::store::Store;
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("list.db"), "demo").unwrap();
    /// assert_eq!(store.rows().count(), 0);
    /// ```
    pub fn rows(&self) -> Rows<'_> {
        Rows {
            store: self,
            page: Vec::new().into_iter(),
            after: None,
            done: false,
        }
    }

    /// Recomputes every state commitment from every row and compares them
    /// with the stored ones: a check that nothing edited the database behind
    /// the store.
    pub fn check_integrity(&self) -> Result<ListState, StoreError> {
        let mut actual = StateAccumulator::default();
        self.for_each_entry(|entry| actual.add(&entry))?;
        let held = self.state()?;
        if held.commitments != actual {
            let (actual, held) = (actual.state(Commitment::CURRENT), held.state);
            return Err(corrupt(
                &self.path,
                &format!(
                    "entries give digest {} ({} entries), state says {} ({} entries)",
                    actual.digest, actual.entries, held.digest, held.entries
                ),
            ));
        }
        Ok(held.state)
    }
}

/// Rows read by one query of [`Store::rows`].
pub const ROWS_PER_PAGE: usize = 4096;

/// One stored entry: its kind, canonical value (not checked again) and metadata.
pub type Row = (Kind, String, EntryMeta);

/// The iterator of [`Store::rows`]: each page is one query resuming after the
/// last key read, so no statement stays open between pages.
pub struct Rows<'a> {
    store: &'a Store,
    page: std::vec::IntoIter<Row>,
    /// The key of the last row read: (kind, value, agency), the primary key,
    /// so a page may end between two listings of one identifier.
    after: Option<(u16, String, String)>,
    done: bool,
}

impl Rows<'_> {
    fn next_page(&mut self) -> Result<Vec<Row>, StoreError> {
        let path = &self.store.path;
        let (kind, value, agency) = match &self.after {
            Some((kind, value, agency)) => (i64::from(*kind), value.as_str(), agency.as_str()),
            None => (-1, "", ""),
        };
        let mut stmt = self
            .store
            .conn
            .prepare_cached(
                "SELECT kind, value, reason, agency, listed_at, expires_at FROM entries
                 WHERE (kind, value, agency) > (?1, ?2, ?3) ORDER BY kind, value, agency LIMIT ?4",
            )
            .map_err(sqlite(path, "read entries"))?;
        let mut rows = stmt
            .query(params![kind, value, agency, ROWS_PER_PAGE as i64])
            .map_err(sqlite(path, "read entries"))?;
        let mut page = Vec::with_capacity(ROWS_PER_PAGE);
        let mut agency: Option<Agency> = None;
        while let Some(r) = rows.next().map_err(sqlite(path, "read entries"))? {
            let (kind, value, row) = entry_row(r).map_err(sqlite(path, "read entries"))?;
            let meta = meta_after(path, row, &mut agency)?;
            page.push((Kind::from_code(kind), value, meta));
        }
        Ok(page)
    }
}

impl Iterator for Rows<'_> {
    type Item = Result<Row, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(row) = self.page.next() {
            return Some(Ok(row));
        }
        if self.done {
            return None;
        }
        match self.next_page() {
            Ok(page) => {
                self.done = page.len() < ROWS_PER_PAGE;
                if let Some((kind, value, meta)) = page.last() {
                    self.after = Some((kind.code(), value.clone(), meta.agency.to_string()));
                }
                self.page = page.into_iter();
                self.page.next().map(Ok)
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn read_state(conn: &Connection, path: &Path) -> Result<StoreState, StoreError> {
    let (list, version, digest, entries, data_time, lthash) = conn
        .query_row(
            "SELECT list, version, digest, entries, data_time, lthash FROM list_state WHERE id = 1",
            [],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, Option<i64>>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, Vec<u8>>(5)?,
                ))
            },
        )
        .map_err(sqlite(path, "read state"))?;
    let commitments = StateAccumulator::from_parts(
        migrate::lthash_from_db(path, &lthash)?,
        LaneSum::from_digest(StateDigest(bytes32(path, "state digest", &digest)?)),
        entries as u64,
    );
    Ok(StoreState {
        list,
        version: version
            .map(|v| version_from_db(path, v))
            .transpose()?
            .flatten(),
        state: commitments.state(Commitment::CURRENT),
        commitments,
        data_time: Timestamp(data_time as u64),
    })
}

type MetaRow = (u16, String, i64, Option<i64>);

/// Every listing of `id`, by agency.
fn read_listings(
    conn: &Connection,
    path: &Path,
    id: &Identifier,
) -> Result<Vec<EntryMeta>, StoreError> {
    let fail = sqlite(path, "read listings");
    let mut stmt = conn
        .prepare_cached(
            "SELECT reason, agency, listed_at, expires_at FROM entries
             WHERE kind = ?1 AND value = ?2 ORDER BY agency",
        )
        .map_err(&fail)?;
    let rows = stmt
        .query_map(params![id.kind().code(), id.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .map_err(&fail)?;
    rows.map(|row| meta_from_row(path, row.map_err(&fail)?))
        .collect()
}

fn meta_from_row(path: &Path, row: MetaRow) -> Result<EntryMeta, StoreError> {
    let agency = Agency::new(&row.1).map_err(|e| corrupt(path, &e.to_string()))?;
    Ok(meta_with(row, agency))
}

/// An entry's columns as `SELECT kind, value, reason, agency, listed_at,
/// expires_at` gives them.
fn entry_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(u16, String, MetaRow)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        (r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?),
    ))
}

/// The metadata of a row read after one of agency `last`, which it becomes.
/// Few agencies list many entries: rows read in a run that share one are
/// checked once and share its id.
fn meta_after(
    path: &Path,
    row: MetaRow,
    last: &mut Option<Agency>,
) -> Result<EntryMeta, StoreError> {
    let meta = match last.as_ref().filter(|a| a.as_str() == row.1) {
        Some(known) => meta_with(row, known.clone()),
        None => meta_from_row(path, row)?,
    };
    *last = Some(meta.agency.clone());
    Ok(meta)
}

/// The metadata of a row whose agency was already checked.
fn meta_with((reason, _, listed_at, expires_at): MetaRow, agency: Agency) -> EntryMeta {
    EntryMeta {
        reason: Reason(reason),
        agency,
        listed_at: Timestamp(listed_at as u64),
        expires_at: expires_at.map(|t| Timestamp(t as u64)),
    }
}

fn version_from_db(path: &Path, v: i64) -> Result<Option<Version>, StoreError> {
    u64::try_from(v)
        .map(Version::new)
        .map_err(|_| corrupt(path, &format!("negative version {v}")))
}

fn bytes32(path: &Path, what: &str, bytes: &[u8]) -> Result<[u8; 32], StoreError> {
    bytes
        .try_into()
        .map_err(|_| corrupt(path, &format!("{what} is {} bytes, not 32", bytes.len())))
}

fn corrupt(path: &Path, reason: &str) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
    }
}

fn sqlite<'p>(path: &'p Path, action: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + 'p {
    move |source| StoreError::Sqlite {
        path: path.to_path_buf(),
        action,
        source,
    }
}
