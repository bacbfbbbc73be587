//! Where each agency's listing comes from (`docs/FORMAT.md` W8): the
//! carried submission whose add listed it and the newest that set its
//! entry, recorded as the deltas carrying them are applied, and taken from
//! a snapshot's origins once they are checked. A store keeps the submission
//! files too, so that the centre's snapshots carry what their listings need
//! and a replica can show what each agency signed.

use std::cmp::Ordering;

use rusqlite::{params, Connection, OptionalExtension as _, Row, Statement, Transaction};

use crate::digest::Sha256;
use crate::document::{CarriedSubmission, Delta, ListingRef, Origin, SnapshotTail};
use crate::entry::{Agency, Entry, EntryMeta, Timestamp};
use crate::identifier::Identifier;
use crate::kind::Kind;
use crate::store::apply::{refused, to_db};
use crate::store::origin_ops::OpSorter;
use crate::store::{
    corrupt, meta_from_row, read_listings, sqlite, version_from_db, Store, StoreError,
};
use crate::verify::authority::Listing;
use crate::verify::provenance::{
    overridden, revived, Asks, OriginOp, OriginOrder, Provenance, Traced,
};
use crate::verify::{Authority, AuthorityError, Verified, VerifyError};

/// The origins one delta's apply records: the SHA-256 of each submission
/// it carries, in order.
pub(super) struct DeltaOrigins<'a> {
    authority: Option<&'a Authority>,
    files: Vec<Sha256>,
}

impl<'a> DeltaOrigins<'a> {
    /// Keeps the submissions `delta` carries, as carried at `version`;
    /// `authority` says which asked for each operation (`None`: the delta
    /// is not judged, and names no origin).
    pub(super) fn new(
        tx: &Transaction<'_>,
        path: &std::path::Path,
        delta: &Verified<Delta>,
        authority: Option<&'a Authority>,
        version: i64,
    ) -> Result<DeltaOrigins<'a>, StoreError> {
        let files = delta
            .submissions
            .iter()
            .map(|carried| keep_file(tx, path, carried, version))
            .collect::<Result<_, _>>()?;
        Ok(DeltaOrigins { authority, files })
    }

    /// The submission that asked for the change to `entry`'s listing.
    fn asked(&self, entry: &Entry) -> Option<&Sha256> {
        // A delta that is not judged (labels only) clones nothing.
        let authority = self.authority?;
        let index = authority.asked_by(&(entry.id.clone(), entry.meta.agency.clone()))?;
        self.files.get(index)
    }

    /// Records `entry`, just listed: its origin is the submission that
    /// asked for it, if one did.
    pub(super) fn added(
        &self,
        tx: &Transaction<'_>,
        path: &std::path::Path,
        entry: &Entry,
    ) -> Result<(), StoreError> {
        let Some(file) = self.asked(entry) else {
            return Ok(());
        };
        set(tx, path, entry, Some(file), file)
    }

    /// Records `entry`'s new entry: the submission that asked for it sets
    /// it, and the listing keeps the origin of its add.
    pub(super) fn updated(
        &self,
        tx: &Transaction<'_>,
        path: &std::path::Path,
        entry: &Entry,
    ) -> Result<(), StoreError> {
        let Some(file) = self.asked(entry) else {
            return Ok(());
        };
        set(tx, path, entry, None, file)
    }
}

/// Forgets the origins of `agency`'s listing of `id` (every listing of it,
/// for `None`), just removed.
pub(super) fn removed(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    id: &Identifier,
    agency: Option<&Agency>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "DELETE FROM listing_origins WHERE kind = ?1 AND value = ?2 AND (?3 IS NULL OR agency = ?3)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            id.kind().code(),
            id.as_str(),
            agency.map(Agency::as_str)
        ])
    })
    .map_err(sqlite(path, "forget a listing's origin"))?;
    Ok(())
}

/// Records a listing's origins: `set_by`, the agency's newest submission
/// naming it (which set its entry, unless an override updated it since:
/// then the override, recorded among the store's overrides, set it), and
/// `added`, when known, the one that listed it (`None` keeps the one
/// recorded, if any).
fn set(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    entry: &Entry,
    added: Option<&Sha256>,
    set_by: &Sha256,
) -> Result<(), StoreError> {
    let mut stmt = tx
        .prepare_cached(&set_rows(1))
        .map_err(sqlite(path, "record a listing's origin"))?;
    bind_origins(&mut stmt, path, 0, entry, added, set_by)?;
    stmt.raw_execute()
        .map_err(sqlite(path, "record a listing's origin"))?;
    Ok(())
}

/// The statement that records `rows` listings' origins, as [`set`] says.
fn set_rows(rows: usize) -> String {
    format!(
        "INSERT INTO listing_origins (kind, value, agency, added, set_by) VALUES {}
         ON CONFLICT (kind, value, agency) DO UPDATE
         SET added = COALESCE(excluded.added, added), set_by = excluded.set_by",
        vec!["(?, ?, ?, ?, ?)"; rows].join(", ")
    )
}

/// Binds a listing's origins as the `slot`th row of [`set_rows`].
fn bind_origins(
    stmt: &mut Statement<'_>,
    path: &std::path::Path,
    slot: usize,
    entry: &Entry,
    added: Option<&Sha256>,
    set_by: &Sha256,
) -> Result<(), StoreError> {
    let first = slot * 5 + 1;
    (|| {
        stmt.raw_bind_parameter(first, entry.id.kind().code())?;
        stmt.raw_bind_parameter(first + 1, entry.id.as_str())?;
        stmt.raw_bind_parameter(first + 2, entry.meta.agency.as_str())?;
        stmt.raw_bind_parameter(first + 3, added.map(|a| a.0.as_slice()))?;
        stmt.raw_bind_parameter(first + 4, set_by.0.as_slice())
    })()
    .map_err(sqlite(path, "record a listing's origin"))
}

/// Keeps a carried submission's file (once: carried again by a snapshot,
/// it keeps the row it has), returning its SHA-256.
fn keep_file(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    carried: &CarriedSubmission,
    version: i64,
) -> Result<Sha256, StoreError> {
    let sha = Sha256::of(&carried.file);
    let accepted_at = to_db(path, "accepted_at", carried.accepted_at.0)?;
    tx.prepare_cached(
        "INSERT OR IGNORE INTO submission_files (file_sha256, version, accepted_at, file)
         VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| stmt.execute(params![sha.0, version, accepted_at, carried.file]))
    .map_err(sqlite(path, "keep a submission file"))?;
    Ok(sha)
}

/// The origins a snapshot carries, as they stream in (W8): each verified
/// origin's file is kept, and its operations go to an external sort by
/// listing, so that [`from_snapshot`] walks them beside the listings in key
/// order, in memory that does not grow with them.
pub(super) struct SnapshotOrigins {
    ops: OpSorter,
    /// The SHA-256 of the file of the origin last kept.
    file: Option<Sha256>,
}

impl SnapshotOrigins {
    /// None yet; runs spill to a scratch file beside the database at `db`.
    pub(super) fn new(db: &std::path::Path) -> SnapshotOrigins {
        let mut scratch = db.as_os_str().to_owned();
        scratch.push("-origins-sort");
        SnapshotOrigins {
            ops: OpSorter::new(scratch.into()),
            file: None,
        }
    }

    /// Keeps `origin`'s file, as carried at its version: the operations
    /// pushed next are its.
    pub(super) fn keep(
        &mut self,
        tx: &Transaction<'_>,
        path: &std::path::Path,
        origin: &Origin,
    ) -> Result<(), StoreError> {
        let version = to_db(path, "version", origin.version.get())?;
        self.file = Some(keep_file(tx, path, &origin.submission, version)?);
        Ok(())
    }

    /// Adds operations of the origin last kept (as [`Provenance::origin`]
    /// verified them).
    pub(super) fn push(
        &mut self,
        path: &std::path::Path,
        ops: impl IntoIterator<Item = (Listing, OriginOp)>,
    ) -> Result<(), StoreError> {
        let file = self
            .file
            .ok_or_else(|| corrupt(path, "an origin's operations before its file"))?;
        for ((id, agency), op) in ops {
            self.ops.push(&id, &agency, &op, &file)?;
        }
        Ok(())
    }
}

/// What an override's update is sorted with in place of an origin's file:
/// never recorded, since only an origin is a listing's `added` or `set_by`.
const NO_FILE: Sha256 = Sha256([0; 32]);

/// Checks the listings a snapshot just wrote to `entries` against the
/// origins it carries (`origins`, read as the snapshot streamed), and
/// against the legacy listings the store held when `legacy_kept`
/// ([`keep_legacy`]), and records where each comes from, in the snapshot's
/// transaction (W8). `provenance` is `None` when no agency registry is
/// held: the snapshot was refused if it carried origins.
pub(super) fn from_snapshot(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    provenance: Option<&Provenance>,
    tail: &SnapshotTail,
    origins: SnapshotOrigins,
    legacy_kept: bool,
) -> Result<(), StoreError> {
    let unauthorised = |source| {
        refused(
            path,
            VerifyError::Authority {
                source: Box::new(source),
            },
        )
    };
    tx.execute("DELETE FROM listing_origins", [])
        .map_err(sqlite(path, "clear listing origins"))?;
    let Some(provenance) = provenance else {
        return Ok(());
    };
    // The past overrides' updates are changes to their listings too: the
    // newest change naming a listing gives its entry (W8).
    let mut ops = origins.ops;
    for ((id, agency), op) in provenance
        .override_updates(&tail.overrides)
        .map_err(unauthorised)?
    {
        ops.push(&id, &agency, &op, &NO_FILE)?;
    }
    trace(tx, path, provenance, ops, Mode::Check)?;
    for (version, removed) in overridden(&tail.overrides) {
        let held = read_listings(tx, path, &removed.id)?;
        if held
            .iter()
            .any(|m| m.agency == removed.agency && m.listed_at == removed.listed_at)
        {
            return Err(unauthorised(revived(removed, version)));
        }
    }
    if legacy_kept {
        if let Some(listing) = unheld_legacy(tx, path, provenance)? {
            return Err(unauthorised(AuthorityError::LegacyNotHeld {
                id: listing.id,
                agency: listing.agency,
                listed_at: listing.listed_at,
            }));
        }
    }
    Ok(())
}

/// Fills the temporary table `registered` with the agencies `provenance`
/// names, and returns from when they are principals, as the store keeps
/// times.
fn registered_table(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    provenance: &Provenance,
) -> Result<i64, StoreError> {
    let fail = sqlite(path, "list the registered agencies");
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS registered (agency TEXT PRIMARY KEY) WITHOUT ROWID;
         DELETE FROM temp.registered;",
    )
    .map_err(&fail)?;
    for agency in provenance.registered() {
        tx.execute(
            "INSERT INTO temp.registered (agency) VALUES (?1)",
            [agency.as_str()],
        )
        .map_err(&fail)?;
    }
    to_db(path, "principals", provenance.principals().0)
}

/// Before a snapshot replaces the list: keeps aside the registered
/// agencies' listings made before agencies were principals, when the store
/// holds a version made since (`held_since`: that version's data time), so that
/// [`from_snapshot`] can refuse one it did not hold. Those listings carry
/// no origin (no agency signed for them), and after principals none can be
/// added: the set only shrinks. `false` when there is nothing to compare
/// with (no registry, or a store empty or older than principals).
pub(super) fn keep_legacy(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    provenance: Option<&Provenance>,
    held_since: Option<Timestamp>,
) -> Result<bool, StoreError> {
    let Some(provenance) = provenance else {
        return Ok(false);
    };
    if held_since.is_none_or(|at| at < provenance.principals()) {
        return Ok(false);
    }
    let principals = registered_table(tx, path, provenance)?;
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS legacy_held (
             kind INTEGER NOT NULL, value TEXT NOT NULL, agency TEXT NOT NULL,
             listed_at INTEGER NOT NULL, PRIMARY KEY (kind, value, agency)) WITHOUT ROWID;
         DELETE FROM temp.legacy_held;",
    )
    .map_err(sqlite(path, "make the legacy listings' table"))?;
    tx.execute(
        "INSERT INTO temp.legacy_held (kind, value, agency, listed_at)
         SELECT kind, value, agency, listed_at FROM entries
         WHERE listed_at < ?1 AND agency IN (SELECT agency FROM temp.registered)",
        [principals],
    )
    .map_err(sqlite(path, "keep the legacy listings"))?;
    Ok(true)
}

/// The first registered agency's listing dated before principals that the
/// snapshot holds and the store did not ([`keep_legacy`]), if any.
fn unheld_legacy(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    provenance: &Provenance,
) -> Result<Option<ListingRef>, StoreError> {
    let principals = registered_table(tx, path, provenance)?;
    let fail = sqlite(path, "compare the legacy listings");
    let found: Option<(u16, String, String, i64)> = tx
        .query_row(
            "SELECT e.kind, e.value, e.agency, e.listed_at FROM entries e
             WHERE e.listed_at < ?1 AND e.agency IN (SELECT agency FROM temp.registered)
             AND NOT EXISTS (SELECT 1 FROM temp.legacy_held h WHERE h.kind = e.kind
                 AND h.value = e.value AND h.agency = e.agency AND h.listed_at = e.listed_at)
             LIMIT 1",
            [principals],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()
        .map_err(&fail)?;
    tx.execute("DELETE FROM temp.legacy_held", [])
        .map_err(&fail)?;
    found
        .map(|(kind, value, agency, listed_at)| {
            Ok(ListingRef {
                id: Identifier::from_canonical(Kind::from_code(kind), &value)
                    .map_err(|e| corrupt(path, &format!("entry {value:?}: {e}")))?,
                agency: Agency::new(&agency).map_err(|e| corrupt(path, &e.to_string()))?,
                listed_at: Timestamp(listed_at as u64),
            })
        })
        .transpose()
}

/// What [`trace`] does with the listings it judges.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Every listing to trace, or that an origin names: the first refused
    /// refuses the snapshot (W8), as does an origin naming a listing another
    /// of its version names.
    Check,
    /// Only the listings to trace that have no origin recorded: those the
    /// origins explain are recorded, the others left as they are, and of
    /// two origins of one version naming a listing the first is kept.
    Backfill,
}

/// Walks the listings to trace (from `entries`, in key order) and the
/// origins' operations (`ops`, in the same order) together, judging each
/// listing `mode` picks and recording its origins; returns how many it
/// recorded. A refusal (in [`Mode::Check`]) is the error.
fn trace(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    provenance: &Provenance,
    ops: OpSorter,
    mode: Mode,
) -> Result<u64, StoreError> {
    let fail = sqlite(path, "trace listings to their origins");
    // Only the listings that must be traced are picked out of the list by
    // SQLite (a scan in its own loop), so a list mostly of labels costs a
    // pass, not a row each through here.
    let principals = registered_table(tx, path, provenance)?;
    let mut stmt = tx
        .prepare(match mode {
            Mode::Check => {
                "SELECT kind, value, agency, reason, listed_at, expires_at FROM entries
                 WHERE listed_at >= ?1 AND agency IN (SELECT agency FROM temp.registered)
                 ORDER BY kind, value, agency"
            }
            Mode::Backfill => {
                "SELECT kind, value, agency, reason, listed_at, expires_at FROM entries e
                 WHERE listed_at >= ?1 AND agency IN (SELECT agency FROM temp.registered)
                 AND NOT EXISTS (SELECT 1 FROM listing_origins o WHERE o.kind = e.kind
                     AND o.value = e.value AND o.agency = e.agency)
                 ORDER BY kind, value, agency"
            }
        })
        .map_err(&fail)?;
    let mut rows = stmt.query([principals]).map_err(&fail)?;
    let mut walk = Walk {
        tx,
        record: tx.prepare(&set_rows(ORIGINS_PER_INSERT)).map_err(&fail)?,
        pending: Vec::with_capacity(ORIGINS_PER_INSERT),
        path,
        provenance,
        mode,
        next: None,
        recorded: 0,
    };
    walk.next = read_listing(path, rows.next().map_err(&fail)?)?;
    let mut rows =
        || -> Result<Option<Held>, StoreError> { read_listing(path, rows.next().map_err(&fail)?) };
    // The operations on one listing, by version, and their origins' files.
    let mut listing: Option<Key> = None;
    let mut named: Vec<OriginOp> = Vec::new();
    let mut files: Vec<Sha256> = Vec::new();
    ops.for_each_sorted(|row| {
        let same = listing
            .as_ref()
            .is_some_and(|key| key_ref(key) == row.listing());
        if same {
            let last = named.last().expect("a listing's operations");
            if last.version == row.op.version {
                if mode == Mode::Backfill {
                    return Ok(());
                }
                let id = identifier(path, row.kind, row.value)?;
                let overridden = [last, &row.op]
                    .into_iter()
                    .find(|op| matches!(op.asks, Asks::Overridden { .. }));
                return Err(walk.refused(match overridden {
                    Some(op) => AuthorityError::OverriddenTwice {
                        id,
                        index: op.origin,
                    },
                    None => AuthorityError::OriginNamedTwice {
                        id,
                        agency: Agency::new(row.agency)
                            .map_err(|e| corrupt(path, &e.to_string()))?,
                        version: row.op.version.get(),
                        first: last.origin,
                        second: row.op.origin,
                    },
                }));
            }
        } else {
            if let Some(key) = listing.take() {
                walk.named(&key, &named, &files, &mut rows)?;
            }
            listing = Some((
                i64::from(row.kind),
                row.value.to_owned(),
                row.agency.to_owned(),
            ));
            named.clear();
            files.clear();
        }
        named.push(row.op);
        files.push(row.file);
        Ok(())
    })?;
    if let Some(key) = listing {
        walk.named(&key, &named, &files, &mut rows)?;
    }
    while let Some(held) = walk.next.take() {
        walk.judge(held, &[], &[])?;
        walk.next = rows()?;
    }
    for (entry, added, set_by) in std::mem::take(&mut walk.pending) {
        set(tx, path, &entry, added.as_ref(), &set_by)?;
    }
    Ok(walk.recorded)
}

/// Listings whose origins one statement records in [`trace`]: one
/// statement per listing spends more in SQLite's statement machinery than
/// in the B-tree (as the snapshot's rows, see `apply`).
const ORIGINS_PER_INSERT: usize = 64;

/// A listing's key as the store orders it.
type Key = (i64, String, String);

/// A listing the walk reads from `entries`.
type Held = (Key, EntryMeta);

/// Where [`trace`] stands in the listings to trace.
struct Walk<'a, 't> {
    tx: &'a Transaction<'t>,
    /// [`set_rows`] of [`ORIGINS_PER_INSERT`] rows, prepared.
    record: Statement<'a>,
    /// Listings' origins not yet recorded, fewer than a statement's rows.
    pending: Vec<(Entry, Option<Sha256>, Sha256)>,
    path: &'a std::path::Path,
    provenance: &'a Provenance,
    mode: Mode,
    /// The next listing to trace, not yet judged.
    next: Option<Held>,
    recorded: u64,
}

impl Walk<'_, '_> {
    /// Judges the listings to trace before `key`, each named by no
    /// operation, then `key`'s listing against `named` (its operations,
    /// from the origins whose files are `files`): from the listings to
    /// trace, or else the list, if it holds it (a listing no origin must
    /// explain is still held to what its origins ask).
    fn named(
        &mut self,
        key: &Key,
        named: &[OriginOp],
        files: &[Sha256],
        rows: &mut impl FnMut() -> Result<Option<Held>, StoreError>,
    ) -> Result<(), StoreError> {
        while let Some(held) = self.next.take() {
            match key_ref(&held.0).cmp(&key_ref(key)) {
                Ordering::Less => {
                    self.judge(held, &[], &[])?;
                    self.next = rows()?;
                }
                Ordering::Equal => {
                    self.next = rows()?;
                    return self.judge(held, named, files);
                }
                Ordering::Greater => {
                    self.next = Some(held);
                    break;
                }
            }
        }
        if self.mode == Mode::Backfill {
            return Ok(());
        }
        // Operations on listings no longer held are history, not a claim.
        let meta = self
            .tx
            .prepare_cached(
                "SELECT reason, agency, listed_at, expires_at FROM entries
                 WHERE kind = ?1 AND value = ?2 AND agency = ?3",
            )
            .and_then(|mut stmt| {
                stmt.query_row(params![key.0, key.1, key.2], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .optional()
            })
            .map_err(sqlite(self.path, "read a listing an origin names"))?;
        match meta {
            Some(row) => {
                let meta = meta_from_row(self.path, row)?;
                self.judge((key.clone(), meta), named, files)
            }
            None => Ok(()),
        }
    }

    /// Judges `held` against `named` (see [`Self::named`]) and records its
    /// origins.
    fn judge(
        &mut self,
        (key, meta): Held,
        named: &[OriginOp],
        files: &[Sha256],
    ) -> Result<(), StoreError> {
        if named.is_empty() && !self.provenance.traces(&meta) {
            return Ok(());
        }
        let kind = u16::try_from(key.0).map_err(|_| corrupt(self.path, "kind out of range"))?;
        let id = identifier(self.path, kind, &key.1)?;
        let traced = match (self.provenance.judge(&id, &meta, named), self.mode) {
            (Ok(traced), _) => traced,
            (Err(refusal), Mode::Check) => return Err(self.refused(refusal)),
            (Err(_), Mode::Backfill) => return Ok(()),
        };
        if let Some(Traced { added, set: set_by }) = traced {
            // The file of the origin at `origin`: one of the operations'
            // (an override's update is not an origin, and has no file).
            let file = |origin: usize| {
                named
                    .iter()
                    .position(|op| {
                        op.origin == origin && !matches!(op.asks, Asks::Overridden { .. })
                    })
                    .and_then(|at| files.get(at))
                    .ok_or_else(|| corrupt(self.path, &format!("no operation of origin {origin}")))
            };
            let added = added.map(file).transpose()?.copied();
            let set_by = *file(set_by)?;
            self.pending.push((Entry { id, meta }, added, set_by));
            if self.pending.len() == ORIGINS_PER_INSERT {
                for (slot, (entry, added, set_by)) in self.pending.drain(..).enumerate() {
                    bind_origins(
                        &mut self.record,
                        self.path,
                        slot,
                        &entry,
                        added.as_ref(),
                        &set_by,
                    )?;
                }
                self.record
                    .raw_execute()
                    .map_err(sqlite(self.path, "record listings' origins"))?;
            }
            self.recorded += 1;
        }
        Ok(())
    }

    /// The refusal of the snapshot for `refusal`.
    fn refused(&self, refusal: AuthorityError) -> StoreError {
        refused(
            self.path,
            VerifyError::Authority {
                source: Box::new(refusal),
            },
        )
    }
}

/// `key` as the store compares keys: by bytes.
fn key_ref(key: &Key) -> (u16, &[u8], &[u8]) {
    // Kinds are u16 wire codes; a row out of range sorts first and is
    // refused as corrupt when judged.
    (
        u16::try_from(key.0).unwrap_or(0),
        key.1.as_bytes(),
        key.2.as_bytes(),
    )
}

/// The listing `row` of the listings to trace holds.
fn read_listing(path: &std::path::Path, row: Option<&Row<'_>>) -> Result<Option<Held>, StoreError> {
    let Some(row) = row else {
        return Ok(None);
    };
    let fail = sqlite(path, "read a listing to trace");
    let key: Key = (
        row.get(0).map_err(&fail)?,
        row.get(1).map_err(&fail)?,
        row.get(2).map_err(&fail)?,
    );
    let meta = meta_from_row(
        path,
        (
            row.get(3).map_err(&fail)?,
            key.2.clone(),
            row.get(4).map_err(&fail)?,
            row.get(5).map_err(&fail)?,
        ),
    )?;
    Ok(Some((key, meta)))
}

fn identifier(path: &std::path::Path, kind: u16, value: &str) -> Result<Identifier, StoreError> {
    Identifier::from_canonical(Kind::from_code(kind), value)
        .map_err(|e| corrupt(path, &format!("entry {value:?}: {e}")))
}

impl Store {
    /// Records the origins of the listings to trace (W8) that have none,
    /// from `origins` (submissions as deltas carried them, ascending by
    /// version: a centre reads them back from the deltas it still lists),
    /// and returns how many it recorded. A store upgraded from one that kept
    /// no origins is how listings come to have none. Origins that do not
    /// verify, and listings they do not explain, are left out.
    pub fn backfill_origins(
        &mut self,
        provenance: &Provenance,
        origins: &[Origin],
    ) -> Result<u64, StoreError> {
        let path = self.path.clone();
        let sequences = self.agency_sequences()?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(sqlite(&path, "begin transaction"))?;
        let mut ops = SnapshotOrigins::new(&path);
        let mut order = OriginOrder::default();
        for (index, origin) in origins.iter().enumerate() {
            let Ok(named) = provenance.origin(index, origin, &sequences, &mut order) else {
                continue;
            };
            ops.keep(&tx, &path, origin)?;
            ops.push(&path, named)?;
        }
        let recorded = trace(&tx, &path, provenance, ops.ops, Mode::Backfill)?;
        tx.commit().map_err(sqlite(&path, "commit"))?;
        Ok(recorded)
    }

    /// The first listing, in key order, that `provenance` must trace (W8)
    /// but whose add no recorded origin explains, if any: a snapshot of the
    /// store would be refused for it. A centre asks before it signs one.
    ///
    /// ```
    /// use blocklist_core::document::*;
    /// use blocklist_core::store::Store;
    /// use blocklist_core::verify::Verifier;
    /// use blocklist_core::*;
    /// let key = SecretKey::generate().unwrap();
    /// let list = ListId::new("demo").unwrap();
    /// let root = TrustRoot::single_key(list.clone(), &key, Timestamp(0), Timestamp(u64::MAX));
    /// let mut verifier = Verifier::pin(&root.sign(&[&key]).unwrap()).unwrap();
    /// let registry = Registry::new(list.clone(), Version::FIRST, Timestamp(0), vec![], vec![]).unwrap();
    /// verifier.accept_registry(&registry.sign(&[&key]).unwrap()).unwrap();
    /// let head = SnapshotHead { list, version: Version::FIRST, created_at: Timestamp(9),
    ///                           state: ListState::default() };
    /// let provenance = verifier.snapshot_provenance(&head).unwrap();
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("list.db"), "demo").unwrap();
    /// assert_eq!(store.untraced(&provenance).unwrap(), None);
    /// ```
    pub fn untraced(&self, provenance: &Provenance) -> Result<Option<Entry>, StoreError> {
        let fail = sqlite(&self.path, "find listings without origins");
        let principals = to_db(&self.path, "principals", provenance.principals().0)?;
        // Only the registered agencies' listings since principals, picked
        // out by SQLite; the agencies are few, so one is asked at a time.
        let mut stmt = self
            .conn
            .prepare(
                "SELECT e.kind, e.value, e.reason, e.agency, e.listed_at, e.expires_at
                 FROM entries e WHERE e.agency = ?1 AND e.listed_at >= ?2
                 AND NOT EXISTS (SELECT 1 FROM listing_origins o
                     WHERE o.kind = e.kind AND o.value = e.value AND o.agency = e.agency
                     AND o.added IS NOT NULL)
                 ORDER BY e.kind, e.value, e.agency LIMIT 1",
            )
            .map_err(&fail)?;
        for agency in provenance.registered() {
            let mut rows = stmt
                .query(params![agency.as_str(), principals])
                .map_err(&fail)?;
            if let Some(row) = rows.next().map_err(&fail)? {
                let meta = meta_from_row(
                    &self.path,
                    (
                        row.get(2).map_err(&fail)?,
                        row.get(3).map_err(&fail)?,
                        row.get(4).map_err(&fail)?,
                        row.get(5).map_err(&fail)?,
                    ),
                )?;
                let kind: u16 = row.get(0).map_err(&fail)?;
                let value: String = row.get(1).map_err(&fail)?;
                let id = Identifier::from_canonical(Kind::from_code(kind), &value)
                    .map_err(|e| corrupt(&self.path, &format!("entry {value:?}: {e}")))?;
                return Ok(Some(Entry { id, meta }));
            }
        }
        Ok(None)
    }
}

/// The submissions the listings held come from, in the order a snapshot
/// carries them: what a snapshot of the store carries as its origins.
pub(super) fn held(conn: &Connection, path: &std::path::Path) -> Result<Vec<Origin>, StoreError> {
    let fail = sqlite(path, "read listings' origins");
    let mut stmt = conn
        .prepare_cached(
            "SELECT version, accepted_at, file FROM submission_files WHERE file_sha256 IN
                 (SELECT added FROM listing_origins UNION SELECT set_by FROM listing_origins)
             ORDER BY version, file_sha256",
        )
        .map_err(&fail)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .map_err(&fail)?;
    let mut out = Vec::new();
    for row in rows {
        let (version, accepted_at, file) = row.map_err(&fail)?;
        out.push(Origin {
            version: version_from_db(path, version)?
                .ok_or_else(|| corrupt(path, "submission file at version 0"))?,
            submission: CarriedSubmission {
                accepted_at: Timestamp(accepted_at as u64),
                file,
            },
        });
    }
    Ok(out)
}
