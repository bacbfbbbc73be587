//! Applying verified deltas and snapshots, each in one transaction.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};

use crate::document::{Delta, DocType, ListState, Op, Version};
use crate::entry::{Entry, EntryMeta, Timestamp};
use crate::identifier::Identifier;
use crate::store::{meta_from_row, read_state, sqlite, Store, StoreError};
use crate::verify::{check_state, stale, SnapshotFile, Verified, VerifyError};

/// What an apply did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The store moved to this version and state.
    Applied {
        /// The new version.
        version: Version,
        /// The new state.
        state: ListState,
    },
    /// The same file was applied before: nothing changed.
    AlreadyApplied {
        /// Its version.
        version: Version,
    },
}

/// How far a snapshot apply has come, for a person watching a bootstrap.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Entries written so far.
    pub done: u64,
    /// Entries in the snapshot.
    pub total: u64,
    /// Time since the apply started.
    pub elapsed: Duration,
}

impl Progress {
    /// Entries written per second so far.
    pub fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Entries between two progress reports.
const PROGRESS_EVERY: u64 = 100_000;

impl Store {
    /// Applies a verified delta: it must take the store's version V to V+1, every
    /// operation must fit the stored list, and the result must match the delta's
    /// signed state digest. All of it commits, or none of it does.
    pub fn apply_delta(
        &mut self,
        delta: &Verified<Delta>,
        source: &str,
    ) -> Result<Applied, StoreError> {
        let path = self.path.clone();
        let tx = self.begin()?;
        let held = read_state(&tx, &path)?;
        check_list(&path, &held.list, delta.list.as_str())?;
        if let Some(done) = already_applied(
            &tx,
            &path,
            DocType::Delta,
            held.version,
            delta.version,
            delta.file_sha256().0,
        )? {
            return Ok(done);
        }
        let trusted = held.version.map_or(0, Version::get);
        if delta.version.get() != trusted + 1 {
            return Err(refused(
                &path,
                VerifyError::Gap {
                    trusted,
                    offered: delta.version.get(),
                },
            ));
        }
        let mut state = held.state;
        let version = delta.version.get();
        // In the table's key order (kind, then value, as SQLite compares
        // them): a large delta's changes then walk the B-tree from one end to
        // the other, each leaf page read and dirtied once while it is at hand,
        // instead of a random page per change (a delta comes ordered by its
        // groups' metadata, not by key). Identifiers are distinct within a
        // delta and the digest does not depend on order, so the result is the
        // same.
        let mut ops: Vec<&Op> = delta.ops.iter().collect();
        ops.sort_unstable_by(|a, b| key(a.id()).cmp(&key(b.id())));
        for op in ops {
            let conflict = |verb: &'static str, state: &'static str| StoreError::Conflict {
                path: path.clone(),
                version,
                op: verb,
                id: op.id().to_string(),
                state,
            };
            // One B-tree visit per operation: an add is a bare insert (a key
            // clash is the conflict); a remove or update takes the old row out
            // with DELETE .. RETURNING, since the digest needs it.
            match op {
                Op::Add(new) => {
                    if !insert(&tx, &path, new)? {
                        return Err(conflict("adds", "already listed"));
                    }
                    state.digest.add(new);
                    state.entries += 1;
                }
                Op::Update(new) => {
                    let old = take(&tx, &path, &new.id)?
                        .ok_or_else(|| conflict("updates", "not listed"))?;
                    state.digest.remove(&old);
                    insert(&tx, &path, new)?;
                    state.digest.add(new);
                }
                Op::Remove(id) => {
                    let old =
                        take(&tx, &path, id)?.ok_or_else(|| conflict("removes", "not listed"))?;
                    state.digest.remove(&old);
                    state.entries -= 1;
                }
            }
        }
        check_state(
            &format!("state after delta {version}"),
            &delta.state,
            &state,
        )
        .map_err(|e| refused(&path, e))?;
        commit(
            tx,
            &path,
            DocType::Delta,
            delta.version,
            state,
            delta.created_at,
            delta.file_sha256().0,
            source,
        )
    }

    /// Replaces the whole list with a verified snapshot file newer than what
    /// the store holds, reporting progress every 100,000 entries. All or
    /// nothing, in memory that does not grow with the snapshot.
    ///
    /// The entries stream from the file: one thread decodes and checks them
    /// (canonical form, state digest) in batches of 4,096 while this one
    /// inserts them, all in one transaction. It commits only once every byte
    /// read proved to be the signed one
    /// ([`SnapshotEntries::finish`](crate::verify::SnapshotEntries::finish)), no
    /// identifier came twice (the primary key refuses the second), and the
    /// entries gave the signed state digest; any failure rolls it all back.
    pub fn apply_snapshot(
        &mut self,
        snapshot: &Verified<SnapshotFile>,
        source: &str,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Applied, StoreError> {
        // A larger page cache for the one big transaction and for sorting
        // the staged entries: a fixed amount, whatever the snapshot's size.
        self.set_cache(SNAPSHOT_CACHE_KIB)?;
        let applied = self.apply_snapshot_entries(snapshot, source, progress);
        let restored = self.set_cache(DEFAULT_CACHE_KIB);
        let applied = applied?;
        restored?;
        Ok(applied)
    }

    fn set_cache(&self, kib: i64) -> Result<(), StoreError> {
        for schema in ["main", "temp"] {
            self.conn
                .pragma_update(Some(schema), "cache_size", -kib)
                .map_err(sqlite(&self.path, "set cache size"))?;
        }
        if kib == DEFAULT_CACHE_KIB {
            // Hand the large cache back before the index is built (the
            // bootstrap's other peak), to SQLite's allocator and then the OS.
            self.conn
                .execute_batch("PRAGMA shrink_memory")
                .map_err(sqlite(&self.path, "shrink cache"))?;
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: malloc_trim only returns free heap memory to the OS.
            unsafe {
                libc::malloc_trim(0);
            }
        }
        Ok(())
    }

    fn apply_snapshot_entries(
        &mut self,
        snapshot: &Verified<SnapshotFile>,
        source: &str,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Applied, StoreError> {
        let path = self.path.clone();
        let started = Instant::now();
        let head = snapshot.head();
        let tx = self.begin()?;
        let held = read_state(&tx, &path)?;
        check_list(&path, &held.list, head.list.as_str())?;
        if let Some(done) = already_applied(
            &tx,
            &path,
            DocType::Snapshot,
            held.version,
            head.version,
            snapshot.file_sha256().0,
        )? {
            return Ok(done);
        }
        tx.execute("DELETE FROM entries", [])
            .map_err(sqlite(&path, "clear entries"))?;
        let total = head.state.entries;
        let (read, written) = std::thread::scope(|scope| {
            let (batches, received) = mpsc::sync_channel::<Vec<Entry>>(BATCHES_IN_FLIGHT);
            let reader = scope.spawn(move || read_snapshot(snapshot, batches));
            let written = insert_batches(&tx, &path, received, |done| {
                if done % PROGRESS_EVERY == 0 || done == total {
                    progress(Progress {
                        done,
                        total,
                        elapsed: started.elapsed(),
                    });
                }
            });
            let read = reader
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (read, written)
        });
        // A decode error ends the batches early, so it is the cause to report
        // before anything the writer saw.
        let state = read.map_err(|e| refused(&path, e))?;
        written?;
        check_state(
            &format!("snapshot {} entries", head.version),
            &head.state,
            &state,
        )
        .map_err(|e| refused(&path, e))?;
        commit(
            tx,
            &path,
            DocType::Snapshot,
            head.version,
            state,
            head.created_at,
            snapshot.file_sha256().0,
            source,
        )
    }

    fn begin(&mut self) -> Result<Transaction<'_>, StoreError> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite(&self.path, "begin transaction"))
    }
}

/// SQLite's page cache (KiB) while a snapshot applies, per schema (the
/// database, and the temporary one that stages and sorts entries).
const SNAPSHOT_CACHE_KIB: i64 = 128 << 10;
/// SQLite's default page cache (KiB), the rest of the time.
const DEFAULT_CACHE_KIB: i64 = 2000;

/// Entries decoded and inserted at a time during a snapshot apply.
const BATCH: usize = 4096;
/// Batches decoded ahead of the inserts: enough to keep both threads busy,
/// few enough that memory stays a few megabytes.
const BATCHES_IN_FLIGHT: usize = 4;

/// The reading half of a snapshot apply: decodes the entries in batches,
/// sends them to the writer, and returns the state they give once the whole
/// file proved to be the signed one. Stops early when the writer has.
fn read_snapshot(
    snapshot: &Verified<SnapshotFile>,
    batches: mpsc::SyncSender<Vec<Entry>>,
) -> Result<ListState, VerifyError> {
    let mut entries = snapshot.entries()?;
    let mut state = ListState::default();
    loop {
        let mut batch = Vec::with_capacity(BATCH);
        let more = entries.read_entries(&mut batch, BATCH)?;
        for entry in &batch {
            state.digest.add(entry);
        }
        state.entries += batch.len() as u64;
        if !batch.is_empty() && batches.send(batch).is_err() {
            // The writer failed: its error is the one to report.
            return Ok(state);
        }
        if !more {
            break;
        }
    }
    drop(batches);
    entries.finish()?;
    Ok(state)
}

/// The writing half of a snapshot apply: inserts every batch received,
/// calling `inserted` with the count so far after each entry.
///
/// Entries come in wire order: by group, each group's values ascending. As
/// long as that is key order (a list published at once) they are appended to
/// the table. From the first one out of order, the rest go to a staging table
/// (appends too) and are merged in key order at the end, in one pass over the
/// table: inserting them where they fall would visit a random page per entry.
/// An identifier inserted twice is refused as the decoder refuses one named
/// twice.
fn insert_batches(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    received: mpsc::Receiver<Vec<Entry>>,
    mut inserted: impl FnMut(u64),
) -> Result<(), StoreError> {
    let mut done = 0;
    // The key of the last entry appended; `None` before the first.
    let mut last: Option<(u16, String)> = None;
    let mut staging = false;
    for batch in received {
        for entry in &batch {
            let key = (entry.id.kind().code(), entry.id.as_str());
            let in_order = last.as_ref().is_none_or(|(k, v)| (*k, v.as_str()) < key);
            if !staging && in_order {
                if !insert(tx, path, entry)? {
                    return Err(named_twice(path, &entry.id.to_string()));
                }
                let last = last.get_or_insert_with(|| (key.0, String::new()));
                last.0 = key.0;
                last.1.clear();
                last.1.push_str(key.1);
            } else {
                if !staging {
                    tx.execute_batch(STAGING_TABLE)
                        .map_err(sqlite(path, "create staging table"))?;
                    staging = true;
                }
                write_entry(tx, path, STAGE_ENTRY, entry)?;
            }
            done += 1;
            inserted(done);
        }
    }
    if staging {
        merge_staged(tx, path)?;
    }
    Ok(())
}

/// Where a snapshot's entries out of key order wait to be merged (a temporary
/// table: it never reaches the database file, and a rollback drops it).
const STAGING_TABLE: &str = "DROP TABLE IF EXISTS temp.snapshot_staging;
    CREATE TEMP TABLE snapshot_staging (kind INTEGER NOT NULL, value TEXT NOT NULL,
        reason INTEGER NOT NULL, agency TEXT NOT NULL, listed_at INTEGER NOT NULL, expires_at INTEGER)";
const STAGE_ENTRY: &str = "INSERT INTO temp.snapshot_staging
    (kind, value, reason, agency, listed_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// Merges the staged entries into the table in key order (SQLite sorts them,
/// spilling to temporary files, in bounded memory); a key clash refuses the
/// snapshot, naming an identifier it lists twice.
fn merge_staged(tx: &Transaction<'_>, path: &std::path::Path) -> Result<(), StoreError> {
    let merged = tx.execute(
        "INSERT INTO entries (kind, value, reason, agency, listed_at, expires_at)
         SELECT kind, value, reason, agency, listed_at, expires_at
         FROM temp.snapshot_staging ORDER BY kind, value",
        [],
    );
    match merged {
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            let (kind, value): (u16, String) = tx
                .query_row(
                    "SELECT kind, value FROM temp.snapshot_staging
                     GROUP BY kind, value HAVING count(*) > 1
                     UNION ALL
                     SELECT s.kind, s.value FROM temp.snapshot_staging s
                     JOIN entries e ON e.kind = s.kind AND e.value = s.value
                     LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .map_err(sqlite(path, "name the identifier listed twice"))?;
            return Err(named_twice(
                path,
                &format!("{}:{value}", crate::kind::Kind::from_code(kind)),
            ));
        }
        merged => merged.map_err(sqlite(path, "merge staged entries"))?,
    };
    tx.execute_batch("DROP TABLE temp.snapshot_staging")
        .map_err(sqlite(path, "drop staging table"))
}

/// The refusal of a snapshot that names `id` twice.
fn named_twice(path: &std::path::Path, id: &str) -> StoreError {
    refused(
        path,
        VerifyError::Malformed {
            doc: DocType::Snapshot,
            source: DocType::Snapshot
                .invalid("identifiers", format!("{id} appears more than once")),
        },
    )
}

/// `Some` when `offered` is at or below the held version: a no-op if the log
/// shows this very file applied, refused otherwise.
fn already_applied(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    doc: DocType,
    held: Option<Version>,
    offered: Version,
    file_sha256: [u8; 32],
) -> Result<Option<Applied>, StoreError> {
    let Some(held) = held.filter(|h| offered <= *h) else {
        return Ok(None);
    };
    let logged: Option<Vec<u8>> = tx
        .query_row(
            "SELECT file_sha256 FROM applied WHERE version = ?1",
            [to_db(path, "version", offered.get())?],
            |r| r.get(0),
        )
        .optional()
        .map_err(sqlite(path, "read log"))?;
    if logged.as_deref() == Some(file_sha256.as_slice()) {
        return Ok(Some(Applied::AlreadyApplied { version: offered }));
    }
    Err(refused(path, stale(doc, held, offered)))
}

#[allow(clippy::too_many_arguments)]
fn commit(
    tx: Transaction<'_>,
    path: &std::path::Path,
    doc: DocType,
    version: Version,
    state: ListState,
    data_time: Timestamp,
    file_sha256: [u8; 32],
    source: &str,
) -> Result<Applied, StoreError> {
    let v = to_db(path, "version", version.get())?;
    let entries = to_db(path, "entry count", state.entries)?;
    let data_time = to_db(path, "created_at", data_time.0)?;
    let now = to_db(path, "clock", Timestamp::now().0)?;
    tx.execute(
        "UPDATE list_state SET version = ?1, digest = ?2, entries = ?3, data_time = ?4 WHERE id = 1",
        params![v, state.digest.0.as_slice(), entries, data_time],
    )
    .map_err(sqlite(path, "update state"))?;
    tx.execute(
        "INSERT OR REPLACE INTO applied (version, document, digest, entries, file_sha256, applied_at, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![v, doc.name(), state.digest.0.as_slice(), entries, file_sha256.as_slice(), now, source],
    )
    .map_err(sqlite(path, "log version"))?;
    tx.commit().map_err(sqlite(path, "commit"))?;
    Ok(Applied::Applied { version, state })
}

/// `id` as the entries table orders its primary key.
fn key(id: &Identifier) -> (u16, &str) {
    (id.kind().code(), id.as_str())
}

/// Deletes the entry for `id` and returns it, or `None` if it is not listed.
fn take(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    id: &Identifier,
) -> Result<Option<Entry>, StoreError> {
    let row = tx
        .prepare_cached(
            "DELETE FROM entries WHERE kind = ?1 AND value = ?2
             RETURNING reason, agency, listed_at, expires_at",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![id.kind().code(), id.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
        })
        .map_err(sqlite(path, "take entry"))?;
    row.map(|row| {
        Ok(Entry {
            id: id.clone(),
            meta: meta_from_row(path, row)?,
        })
    })
    .transpose()
}

/// Inserts `entry`; `false` when its identifier is already listed.
fn insert(tx: &Transaction<'_>, path: &std::path::Path, entry: &Entry) -> Result<bool, StoreError> {
    let inserted = write_entry(
        tx,
        path,
        "INSERT INTO entries (kind, value, reason, agency, listed_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        entry,
    )?;
    Ok(inserted == 1)
}

/// Runs `sql` (an insert taking kind, value, reason, agency, listed_at and
/// expires_at as ?1..?6) for `entry`; returns the rows changed.
fn write_entry(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    sql: &str,
    entry: &Entry,
) -> Result<usize, StoreError> {
    let EntryMeta {
        reason,
        agency,
        listed_at,
        expires_at,
    } = &entry.meta;
    let listed_at = to_db(path, "listed_at", listed_at.0)?;
    let expires_at = expires_at
        .map(|t| to_db(path, "expires_at", t.0))
        .transpose()?;
    tx.prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.execute(params![
                entry.id.kind().code(),
                entry.id.as_str(),
                reason.0,
                agency.as_str(),
                listed_at,
                expires_at,
            ])
        })
        .map_err(sqlite(path, "insert entry"))
}

fn check_list(path: &std::path::Path, held: &str, offered: &str) -> Result<(), StoreError> {
    if held != offered {
        return Err(StoreError::WrongList {
            path: path.to_path_buf(),
            expected: held.to_owned(),
            found: offered.to_owned(),
        });
    }
    Ok(())
}

fn to_db(path: &std::path::Path, field: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange {
        path: path.to_path_buf(),
        field,
        value,
    })
}

fn refused(path: &std::path::Path, source: VerifyError) -> StoreError {
    StoreError::Refused {
        path: path.to_path_buf(),
        source,
    }
}
