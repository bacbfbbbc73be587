//! Where each agency's listing comes from (`docs/FORMAT.md` W8): the
//! carried submission whose add listed it and the newest that set its
//! entry, recorded as the deltas carrying them are applied, and taken from
//! a snapshot's origins once they are checked. A store keeps the submission
//! files too, so that the centre's snapshots carry what their listings need
//! and a replica can show what each agency signed.

use std::cmp::Ordering;

use rusqlite::{params, Connection, OptionalExtension as _, Row, Transaction};

use crate::digest::Sha256;
use crate::document::{CarriedSubmission, Delta, ListingRef, Origin, SnapshotTail};
use crate::entry::{Agency, Entry, Reason, Timestamp};
use crate::identifier::Identifier;
use crate::kind::Kind;
use crate::store::apply::{refused, to_db};
use crate::store::{
    corrupt, meta_from_row, read_listings, sqlite, version_from_db, Store, StoreError,
};
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
    tx.prepare_cached(
        "INSERT INTO listing_origins (kind, value, agency, added, set_by)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (kind, value, agency) DO UPDATE
         SET added = COALESCE(excluded.added, added), set_by = excluded.set_by",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            entry.id.kind().code(),
            entry.id.as_str(),
            entry.meta.agency.as_str(),
            added.map(|a| a.0.to_vec()),
            set_by.0.as_slice()
        ])
    })
    .map_err(sqlite(path, "record a listing's origin"))?;
    Ok(())
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

/// Checks the listings a snapshot just wrote to `entries` against the
/// origins it carries (W8), and against the legacy listings the store held
/// when `legacy_kept` ([`keep_legacy`]), and records where each comes
/// from, in the snapshot's transaction. `provenance` is `None` when no agency registry
/// is held: then the snapshot must carry no origins. The origins'
/// operations go to a temporary table, which is walked beside `entries`,
/// both in key order, so memory does not grow with the list.
pub(super) fn from_snapshot(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    provenance: Option<&Provenance>,
    tail: &SnapshotTail,
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
        return Provenance::none_carried(&tail.origins).map_err(unauthorised);
    };
    origin_ops_table(tx, path)?;
    let mut files = Vec::with_capacity(tail.origins.len());
    let mut order = OriginOrder::default();
    for (index, origin) in tail.origins.iter().enumerate() {
        let ops = provenance
            .origin(index, origin, &tail.sequences, &mut order)
            .map_err(unauthorised)?;
        let version = to_db(path, "version", origin.version.get())?;
        for ((id, agency), op) in ops {
            if let Some(first) = insert_op(tx, path, &id, &agency, &op)? {
                return Err(unauthorised(AuthorityError::OriginNamedTwice {
                    id,
                    agency,
                    version: origin.version.get(),
                    first,
                    second: index,
                }));
            }
        }
        files.push(keep_file(tx, path, &origin.submission, version)?);
    }
    // The past overrides' updates are changes to their listings too: the
    // newest change naming a listing gives its entry (W8).
    let updates = provenance
        .override_updates(&tail.overrides)
        .map_err(unauthorised)?;
    for ((id, agency), op) in updates {
        if insert_op(tx, path, &id, &agency, &op)?.is_some() {
            return Err(unauthorised(AuthorityError::OverriddenTwice {
                id,
                index: op.origin,
            }));
        }
    }
    let result =
        trace(tx, path, provenance, &files, Mode::Check).and_then(|r| r.map_err(unauthorised));
    tx.execute("DELETE FROM temp.origin_ops", [])
        .map_err(sqlite(path, "clear the origins' table"))?;
    result?;
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

/// Makes the temporary table of the origins' operations, empty.
fn origin_ops_table(tx: &Transaction<'_>, path: &std::path::Path) -> Result<(), StoreError> {
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS origin_ops (
             kind INTEGER NOT NULL, value TEXT NOT NULL, agency TEXT NOT NULL,
             version INTEGER NOT NULL, origin INTEGER NOT NULL, accepted_at INTEGER NOT NULL,
             asks INTEGER NOT NULL, reason INTEGER NOT NULL, expires_at INTEGER,
             from_reason INTEGER, from_expires_at INTEGER,
             PRIMARY KEY (kind, value, agency, version)) WITHOUT ROWID;
         DELETE FROM temp.origin_ops;",
    )
    .map_err(sqlite(path, "make the origins' table"))
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

/// Inserts one origin's operation; `Some(first)` when an origin carried by
/// the same version names the listing already.
fn insert_op(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    id: &Identifier,
    agency: &Agency,
    op: &OriginOp,
) -> Result<Option<usize>, StoreError> {
    let ((asks, reason, expires_at), from) = match op.asks {
        Asks::Add(reason, expires_at) => ((0, reason, expires_at), None),
        Asks::Update(reason, expires_at) => ((1, reason, expires_at), None),
        Asks::Remove => ((2, Reason(0), None), None),
        Asks::Overridden { to, from } => ((3, to.0, to.1), Some(from)),
    };
    let from_expires_at = from
        .and_then(|f| f.1)
        .map(|t| to_db(path, "expires_at", t.0))
        .transpose()?;
    let kind = id.kind().code();
    let version = to_db(path, "version", op.version.get())?;
    let accepted_at = to_db(path, "accepted_at", op.accepted_at.0)?;
    let expires_at = expires_at
        .map(|t| to_db(path, "expires_at", t.0))
        .transpose()?;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO temp.origin_ops
             (kind, value, agency, version, origin, accepted_at, asks, reason, expires_at,
              from_reason, from_expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) ON CONFLICT DO NOTHING",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                kind,
                id.as_str(),
                agency.as_str(),
                version,
                op.origin as i64,
                accepted_at,
                asks,
                reason.0,
                expires_at,
                from.map(|f| f.0 .0),
                from_expires_at,
            ])
        })
        .map_err(sqlite(path, "record an origin's operation"))?;
    if inserted == 1 {
        return Ok(None);
    }
    let first: i64 = tx
        .prepare_cached(
            "SELECT origin FROM temp.origin_ops
             WHERE kind = ?1 AND value = ?2 AND agency = ?3 AND version = ?4",
        )
        .and_then(|mut stmt| {
            stmt.query_row(params![kind, id.as_str(), agency.as_str(), version], |r| {
                r.get(0)
            })
        })
        .map_err(sqlite(path, "read an origin's operation"))?;
    Ok(Some(first as usize))
}

/// A listing's key as both tables order it.
type Key = (i64, String, String);

/// What [`trace`] does with the listings it judges.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Every listing to trace, or that an origin names: the first refused
    /// refuses the snapshot (W8).
    Check,
    /// Only the listings to trace that have no origin recorded: those the
    /// origins explain are recorded, the others left as they are.
    Backfill,
}

/// Walks `entries` and the origins' operations together in key order,
/// judging each listing `mode` picks and recording its origins. The inner
/// error is the refusal.
fn trace(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    provenance: &Provenance,
    files: &[Sha256],
    mode: Mode,
) -> Result<Result<u64, AuthorityError>, StoreError> {
    let fail = sqlite(path, "trace listings to their origins");
    // Only the listings that must be traced or that an origin names are
    // judged: SQLite picks them out of the list (a scan in its own loop),
    // so a list mostly of labels costs a pass, not a row each through here.
    let principals = registered_table(tx, path, provenance)?;
    let mut entries = tx
        .prepare(match mode {
            Mode::Check => {
                "SELECT kind, value, agency, reason, listed_at, expires_at FROM entries
                 WHERE listed_at >= ?1 AND agency IN (SELECT agency FROM temp.registered)
                 UNION
                 SELECT e.kind, e.value, e.agency, e.reason, e.listed_at, e.expires_at
                 FROM (SELECT DISTINCT kind, value, agency FROM temp.origin_ops) AS o
                 JOIN entries AS e ON e.kind = o.kind AND e.value = o.value AND e.agency = o.agency
                 ORDER BY 1, 2, 3"
            }
            Mode::Backfill => {
                "SELECT kind, value, agency, reason, listed_at, expires_at FROM entries e
                 WHERE listed_at >= ?1 AND agency IN (SELECT agency FROM temp.registered)
                 AND NOT EXISTS (SELECT 1 FROM listing_origins o WHERE o.kind = e.kind
                     AND o.value = e.value AND o.agency = e.agency)
                 ORDER BY 1, 2, 3"
            }
        })
        .map_err(&fail)?;
    let mut recorded = 0;
    let mut ops = tx
        .prepare(
            "SELECT kind, value, agency, version, origin, accepted_at, asks, reason, expires_at,
                 from_reason, from_expires_at
             FROM temp.origin_ops ORDER BY kind, value, agency, version",
        )
        .map_err(&fail)?;
    let mut entries = entries.query([principals]).map_err(&fail)?;
    let mut ops = ops.query([]).map_err(&fail)?;
    let mut next_op = read_op(path, ops.next().map_err(&fail)?)?;
    let mut named = Vec::new();
    while let Some(row) = entries.next().map_err(&fail)? {
        let key: Key = (
            row.get(0).map_err(&fail)?,
            row.get(1).map_err(&fail)?,
            row.get(2).map_err(&fail)?,
        );
        named.clear();
        // Operations on listings no longer held are history, not a claim.
        while let Some((op_key, op)) = next_op.take() {
            match cmp_keys(&op_key, &key) {
                Ordering::Less => {}
                Ordering::Equal => named.push(op),
                Ordering::Greater => {
                    next_op = Some((op_key, op));
                    break;
                }
            }
            next_op = read_op(path, ops.next().map_err(&fail)?)?;
        }
        let meta = meta_from_row(
            path,
            (
                row.get(3).map_err(&fail)?,
                key.2.clone(),
                row.get(4).map_err(&fail)?,
                row.get(5).map_err(&fail)?,
            ),
        )?;
        if named.is_empty() && !provenance.traces(&meta) {
            continue;
        }
        let kind = u16::try_from(key.0).map_err(|_| corrupt(path, "kind out of range"))?;
        let id = Identifier::from_canonical(Kind::from_code(kind), &key.1)
            .map_err(|e| corrupt(path, &format!("entry {:?}: {e}", key.1)))?;
        let traced = match (provenance.judge(&id, &meta, &named), mode) {
            (Ok(traced), _) => traced,
            (Err(refusal), Mode::Check) => return Ok(Err(refusal)),
            (Err(_), Mode::Backfill) => continue,
        };
        if let Some(Traced { added, set: set_by }) = traced {
            let file = |origin: usize| {
                files
                    .get(origin)
                    .ok_or_else(|| corrupt(path, &format!("no origin {origin} was read")))
            };
            let added = added.map(file).transpose()?;
            let entry = Entry { id, meta };
            set(tx, path, &entry, added, file(set_by)?)?;
            recorded += 1;
        }
    }
    Ok(Ok(recorded))
}

/// Orders two keys as SQLite's BINARY collation does: by bytes.
fn cmp_keys(a: &Key, b: &Key) -> Ordering {
    (a.0, a.1.as_bytes(), a.2.as_bytes()).cmp(&(b.0, b.1.as_bytes(), b.2.as_bytes()))
}

/// One row of the origins' table.
fn read_op(
    path: &std::path::Path,
    row: Option<&Row<'_>>,
) -> Result<Option<(Key, OriginOp)>, StoreError> {
    let Some(row) = row else {
        return Ok(None);
    };
    let fail = sqlite(path, "read an origin's operation");
    let reason = Reason(row.get(7).map_err(&fail)?);
    let expires_at = row
        .get::<_, Option<i64>>(8)
        .map_err(&fail)?
        .map(|t| Timestamp(t as u64));
    let asks = match row.get::<_, i64>(6).map_err(&fail)? {
        0 => Asks::Add(reason, expires_at),
        1 => Asks::Update(reason, expires_at),
        2 => Asks::Remove,
        3 => Asks::Overridden {
            to: (reason, expires_at),
            from: (
                Reason(row.get(9).map_err(&fail)?),
                row.get::<_, Option<i64>>(10)
                    .map_err(&fail)?
                    .map(|t| Timestamp(t as u64)),
            ),
        },
        other => return Err(corrupt(path, &format!("origin operation {other}"))),
    };
    let version = version_from_db(path, row.get(3).map_err(&fail)?)?
        .ok_or_else(|| corrupt(path, "origin at version 0"))?;
    Ok(Some((
        (
            row.get(0).map_err(&fail)?,
            row.get(1).map_err(&fail)?,
            row.get(2).map_err(&fail)?,
        ),
        OriginOp {
            origin: row.get::<_, i64>(4).map_err(&fail)? as usize,
            version,
            accepted_at: Timestamp(row.get::<_, i64>(5).map_err(&fail)? as u64),
            asks,
        },
    )))
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
        origin_ops_table(&tx, &path)?;
        let mut order = OriginOrder::default();
        let mut files = Vec::new();
        for origin in origins {
            let Ok(ops) = provenance.origin(files.len(), origin, &sequences, &mut order) else {
                continue;
            };
            for ((id, agency), op) in ops {
                // A clash (two origins of one version) leaves the first.
                insert_op(&tx, &path, &id, &agency, &op)?;
            }
            let version = to_db(&path, "version", origin.version.get())?;
            files.push(keep_file(&tx, &path, &origin.submission, version)?);
        }
        let recorded = trace(&tx, &path, provenance, &files, Mode::Backfill)?
            .expect("a backfill refuses nothing");
        tx.execute("DELETE FROM temp.origin_ops", [])
            .map_err(sqlite(&path, "clear the origins' table"))?;
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
