//! Where each agency's listing comes from (`docs/FORMAT.md` W8): the
//! carried submission whose add listed it and the newest that set its
//! entry, recorded in the listing's row as the deltas carrying them are
//! applied, and taken from a snapshot's origins as its rows are appended,
//! once they are checked. A store keeps the submission files too, so that
//! the centre's snapshots carry what their listings need and a replica can
//! show what each agency signed.

use std::cmp::Ordering;

use rusqlite::{params, Connection, OptionalExtension as _, Transaction};

use crate::document::{CarriedSubmission, Delta, ListingRef, Origin, SnapshotTail};
use crate::entry::{Agency, Entry, EntryMeta, Timestamp};
use crate::identifier::Identifier;
use crate::kind::Kind;
use crate::store::apply::{refused, to_db};
use crate::store::origin_ops::{OpSorter, SortedOps};
use crate::store::{
    corrupt, meta_from_row, read_listings, sqlite, version_from_db, Store, StoreError,
};
use crate::verify::authority::Listing;
use crate::verify::provenance::{
    overridden, revived, Asks, OriginOp, OriginOrder, Provenance, Traced,
};
use crate::verify::{Authority, AuthorityError, Verified, VerifyError};

/// A carried submission's file as listings name it: its row in
/// `submission_files`.
pub(super) type FileId = i64;

/// A listing's origins as its row records them: the file of the
/// submission that listed it, if known, and of the one that set its entry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Recorded {
    pub added: Option<FileId>,
    pub set_by: Option<FileId>,
}

/// The origins one delta's apply records: the file of each submission it
/// carries, in order.
pub(super) struct DeltaOrigins<'a> {
    authority: Option<&'a Authority>,
    files: Vec<FileId>,
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
    fn asked(&self, entry: &Entry) -> Option<FileId> {
        // A delta that is not judged (labels only) clones nothing.
        let authority = self.authority?;
        let index = authority.asked_by(&(entry.id.clone(), entry.meta.agency.clone()))?;
        self.files.get(index).copied()
    }

    /// Records `entry`, just listed: its origin is the submission that
    /// asked for it, if one did.
    pub(super) fn added(
        &self,
        tx: &Transaction<'_>,
        path: &std::path::Path,
        entry: &Entry,
    ) -> Result<(), StoreError> {
        match self.asked(entry) {
            Some(file) => record(tx, path, entry, Some(file), file),
            None => Ok(()),
        }
    }

    /// Records `entry`'s new entry, its row just written again: the
    /// submission that asked for it sets it (else the one `held` names
    /// still does: an override's update is recorded among the store's
    /// overrides), and the listing keeps the origin of its add.
    pub(super) fn updated(
        &self,
        tx: &Transaction<'_>,
        path: &std::path::Path,
        entry: &Entry,
        held: Recorded,
    ) -> Result<(), StoreError> {
        match self.asked(entry).or(held.set_by) {
            Some(set_by) => record(tx, path, entry, held.added, set_by),
            None => Ok(()),
        }
    }
}

/// Records in `entry`'s row where its listing comes from: `set_by`, the
/// agency's newest submission naming it, and `added`, when known, the one
/// that listed it (`None` keeps the one recorded, if any).
fn record(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    entry: &Entry,
    added: Option<FileId>,
    set_by: FileId,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "UPDATE entries SET added = COALESCE(?4, added), set_by = ?5
         WHERE kind = ?1 AND value = ?2 AND agency = ?3",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            entry.id.kind().code(),
            entry.id.as_str(),
            entry.meta.agency.as_str(),
            added,
            set_by
        ])
    })
    .map_err(sqlite(path, "record a listing's origin"))?;
    Ok(())
}

/// Keeps a carried submission's file (once: carried again by a snapshot,
/// it keeps the row it has), returning its row.
fn keep_file(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    carried: &CarriedSubmission,
    version: i64,
) -> Result<FileId, StoreError> {
    let fail = sqlite(path, "keep a submission file");
    let sha = crate::digest::Sha256::of(&carried.file);
    let accepted_at = to_db(path, "accepted_at", carried.accepted_at.0)?;
    tx.prepare_cached(
        "INSERT OR IGNORE INTO submission_files (file_sha256, version, accepted_at, file)
         VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| stmt.execute(params![sha.0, version, accepted_at, carried.file]))
    .map_err(&fail)?;
    tx.prepare_cached("SELECT id FROM submission_files WHERE file_sha256 = ?1")
        .and_then(|mut stmt| stmt.query_row([sha.0], |r| r.get(0)))
        .map_err(&fail)
}

/// The origins a snapshot carries, as they stream in (W8): each verified
/// origin's file is kept, and its operations go to an external sort by
/// listing, so that a [`Tracer`] walks them beside the listings as they are
/// appended in key order, in memory that does not grow with them.
pub(super) struct SnapshotOrigins {
    ops: OpSorter,
    /// The file of the origin last kept.
    file: Option<FileId>,
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
            self.ops.push(&id, &agency, &op, file)?;
        }
        Ok(())
    }

    /// The walk that checks each listing of the snapshot whose `tail` this
    /// is, as its rows are appended, against these origins and its past
    /// overrides' updates (W8), and gives the origins to record. `None`
    /// when no agency registry is held (`provenance`): the snapshot was
    /// refused if it carried origins, and none are recorded.
    pub(super) fn tracer<'a>(
        self,
        path: &'a std::path::Path,
        provenance: Option<&'a Provenance>,
        tail: &SnapshotTail,
    ) -> Result<Option<Tracer<'a>>, StoreError> {
        let Some(provenance) = provenance else {
            return Ok(None);
        };
        // The past overrides' updates are changes to their listings too: the
        // newest change naming a listing gives its entry (W8).
        let mut ops = self.ops;
        for ((id, agency), op) in provenance
            .override_updates(&tail.overrides)
            .map_err(|e| unauthorised(path, e))?
        {
            ops.push(&id, &agency, &op, NO_FILE)?;
        }
        Tracer::new(path, provenance, ops, Mode::Check).map(Some)
    }
}

/// What an override's update is sorted with in place of an origin's file:
/// never recorded, since only an origin is a listing's `added` or `set_by`
/// (rows of `submission_files` count from 1).
const NO_FILE: FileId = 0;

/// The refusal of a snapshot or delta for `refusal`.
fn unauthorised(path: &std::path::Path, refusal: AuthorityError) -> StoreError {
    refused(
        path,
        VerifyError::Authority {
            source: Box::new(refusal),
        },
    )
}

/// Checks what a snapshot's listings, just appended (and traced), must not
/// hold (W7, W8): a listing one of its past overrides removed, or a legacy
/// listing the store did not hold when `legacy_kept` ([`keep_legacy`]).
/// `provenance` is `None` when no agency registry is held.
pub(super) fn check_snapshot(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    provenance: Option<&Provenance>,
    tail: &SnapshotTail,
    legacy_kept: bool,
) -> Result<(), StoreError> {
    let Some(provenance) = provenance else {
        return Ok(());
    };
    for (version, removed) in overridden(&tail.overrides) {
        let held = read_listings(tx, path, &removed.id)?;
        if held
            .iter()
            .any(|m| m.agency == removed.agency && m.listed_at == removed.listed_at)
        {
            return Err(unauthorised(path, revived(removed, version)));
        }
    }
    if legacy_kept {
        if let Some(listing) = unheld_legacy(tx, path, provenance)? {
            return Err(unauthorised(
                path,
                AuthorityError::LegacyNotHeld {
                    id: listing.id,
                    agency: listing.agency,
                    listed_at: listing.listed_at,
                },
            ));
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
/// [`check_snapshot`] can refuse one it did not hold. Those listings carry
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
                id: identifier(path, kind, &value)?,
                agency: Agency::new(&agency).map_err(|e| corrupt(path, &e.to_string()))?,
                listed_at: Timestamp(listed_at as u64),
            })
        })
        .transpose()
}

/// What a [`Tracer`] does with the listings it judges.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Every listing is given: the first refused refuses the snapshot (W8),
    /// as does an origin naming a listing another of its version names.
    Check,
    /// Only the listings to trace that have no origin recorded: those the
    /// origins explain get them, the others are left as they are, and of
    /// two origins of one version naming a listing the first is kept.
    Backfill,
}

/// Judges listings, given in key order, against the operations the
/// origins make on them (in the same order, from an [`OpSorter`]), and
/// gives the origins to record for each: a merge join, each side read
/// once.
///
/// In [`Mode::Check`] its refusals wait for [`Tracer::finish`], as a reader
/// of the whole snapshot in memory reports them: a snapshot's listing named
/// twice (found by the append that feeds the tracer) first, then two
/// origins of one version naming a listing, then the first listing refused
/// in key order.
pub(super) struct Tracer<'a> {
    path: &'a std::path::Path,
    provenance: &'a Provenance,
    mode: Mode,
    ops: SortedOps,
    /// The listing the operations in `named` are on: kind, value, agency.
    key: (u16, Vec<u8>, Vec<u8>),
    /// The operations on one listing, by version, and their origins' files.
    named: Vec<OriginOp>,
    files: Vec<FileId>,
    traced: u64,
    /// The first listing two operations of one version name, and the first
    /// listing refused (in [`Mode::Check`]).
    named_twice: Option<StoreError>,
    refused: Option<StoreError>,
}

impl<'a> Tracer<'a> {
    fn new(
        path: &'a std::path::Path,
        provenance: &'a Provenance,
        ops: OpSorter,
        mode: Mode,
    ) -> Result<Tracer<'a>, StoreError> {
        let mut ops = ops.into_sorted()?;
        ops.advance()?;
        Ok(Tracer {
            path,
            provenance,
            mode,
            ops,
            key: (0, Vec::new(), Vec::new()),
            named: Vec::new(),
            files: Vec::new(),
            traced: 0,
            named_twice: None,
            refused: None,
        })
    }

    /// The origins to record for `meta.agency`'s listing of `value` (of the
    /// kind whose code is `kind`, checked canonical by the caller), the
    /// next in key order: `None` when no origin names it and none must, or
    /// when they do not explain it (a refusal, in [`Mode::Check`], that
    /// [`Self::finish`] reports).
    pub(super) fn listing(
        &mut self,
        kind: u16,
        value: &str,
        meta: &EntryMeta,
    ) -> Result<Option<Recorded>, StoreError> {
        let key = (kind, value.as_bytes(), meta.agency.as_str().as_bytes());
        let mut found = false;
        while let Some(order) = self.ops.listing().map(|listing| listing.cmp(&key)) {
            if order == Ordering::Greater {
                break;
            }
            // Operations on listings before this one name listings not
            // held: history, not a claim.
            self.take_listing()?;
            if order == Ordering::Equal {
                found = true;
                break;
            }
        }
        if !found {
            self.named.clear();
            self.files.clear();
        }
        self.judge(kind, value, meta)
    }

    /// Reads the operations left (on listings after the last held, each
    /// still checked once per version) and returns how many listings were
    /// given origins, or the refusal (see [`Tracer`]).
    pub(super) fn finish(mut self) -> Result<u64, StoreError> {
        while self.ops.listing().is_some() {
            self.take_listing()?;
        }
        match self.named_twice.or(self.refused) {
            Some(refusal) => Err(refusal),
            None => Ok(self.traced),
        }
    }

    /// Takes the operations on the listing the current one names into
    /// `named` and `files`, leaving the next listing's first current. Of
    /// two of one version the first is kept (and in [`Mode::Check`] the
    /// snapshot is refused).
    fn take_listing(&mut self) -> Result<(), StoreError> {
        self.named.clear();
        self.files.clear();
        if let Some(first) = self.ops.current()? {
            let (kind, value, agency) = &mut self.key;
            *kind = first.kind;
            value.clear();
            value.extend_from_slice(first.value.as_bytes());
            agency.clear();
            agency.extend_from_slice(first.agency.as_bytes());
            self.named.push(first.op);
            self.files.push(first.file);
        }
        while self.ops.advance()? {
            if self.ops.listing() != Some((self.key.0, &self.key.1[..], &self.key.2[..])) {
                break;
            }
            let row = self.ops.current()?.expect("an operation");
            let last = *self.named.last().expect("a listing's first operation");
            if last.version == row.op.version {
                if self.mode == Mode::Check && self.named_twice.is_none() {
                    let (op, agency) = (row.op, row.agency.to_owned());
                    self.named_twice = Some(self.twice_refusal(last, op, &agency));
                }
                continue;
            }
            self.named.push(row.op);
            self.files.push(row.file);
        }
        Ok(())
    }

    /// The refusal of a snapshot two of whose origins (or past overrides)
    /// of one version name the listing `key` holds: `first`, then `second`.
    fn twice_refusal(&self, first: OriginOp, second: OriginOp, agency: &str) -> StoreError {
        let value = String::from_utf8_lossy(&self.key.1);
        let id = match identifier(self.path, self.key.0, &value) {
            Ok(id) => id,
            Err(e) => return e,
        };
        let overridden = [first, second]
            .into_iter()
            .find(|op| matches!(op.asks, Asks::Overridden { .. }));
        unauthorised(
            self.path,
            match overridden {
                Some(op) => AuthorityError::OverriddenTwice {
                    id,
                    index: op.origin,
                },
                None => AuthorityError::OriginNamedTwice {
                    id,
                    agency: match Agency::new(agency) {
                        Ok(agency) => agency,
                        Err(e) => return corrupt(self.path, &e.to_string()),
                    },
                    version: second.version.get(),
                    first: first.origin,
                    second: second.origin,
                },
            },
        )
    }

    /// Judges the listing `meta` describes against `named` (see
    /// [`Self::listing`]).
    fn judge(
        &mut self,
        kind: u16,
        value: &str,
        meta: &EntryMeta,
    ) -> Result<Option<Recorded>, StoreError> {
        if self.named.is_empty() && !self.provenance.traces(meta) {
            return Ok(None);
        }
        // Built only for a refusal's words.
        let id = || {
            Identifier::from_canonical(Kind::from_code(kind), value)
                .expect("the caller checked the identifier canonical")
        };
        let traced = match (self.provenance.judge(id, meta, &self.named), self.mode) {
            (Ok(traced), _) => traced,
            (Err(refusal), Mode::Check) => {
                if self.refused.is_none() {
                    self.refused = Some(unauthorised(self.path, refusal));
                }
                return Ok(None);
            }
            (Err(_), Mode::Backfill) => return Ok(None),
        };
        let Some(Traced { added, set }) = traced else {
            return Ok(None);
        };
        // The file of the origin at `origin`: one of the operations' (an
        // override's update is not an origin, and has no file).
        let file = |origin: usize| {
            self.named
                .iter()
                .position(|op| op.origin == origin && !matches!(op.asks, Asks::Overridden { .. }))
                .and_then(|at| self.files.get(at).copied())
                .ok_or_else(|| corrupt(self.path, &format!("no operation of origin {origin}")))
        };
        let recorded = Recorded {
            added: added.map(file).transpose()?,
            set_by: Some(file(set)?),
        };
        self.traced += 1;
        Ok(Some(recorded))
    }
}

fn identifier(path: &std::path::Path, kind: u16, value: &str) -> Result<Identifier, StoreError> {
    Identifier::from_canonical(Kind::from_code(kind), value)
        .map_err(|e| corrupt(path, &format!("entry {value:?}: {e}")))
}

/// Listings [`Store::backfill_origins`] reads, judges and records at a time:
/// its updates wait for the read to end (SQLite leaves a read undefined
/// across changes to its table), in memory that does not grow with the list.
const BACKFILL_PAGE: usize = 4096;

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
        let mut tracer = Tracer::new(&path, provenance, ops.ops, Mode::Backfill)?;
        let principals = registered_table(&tx, &path, provenance)?;
        let fail = sqlite(&path, "trace listings to their origins");
        // Only the listings that must be traced are picked out of the list by
        // SQLite (a scan in its own loop), a page at a time after the last.
        let mut read = tx
            .prepare(
                "SELECT kind, value, agency, reason, listed_at, expires_at FROM entries
                 WHERE listed_at >= ?1 AND agency IN (SELECT agency FROM temp.registered)
                 AND set_by IS NULL AND (kind, value, agency) > (?2, ?3, ?4)
                 ORDER BY kind, value, agency LIMIT ?5",
            )
            .map_err(&fail)?;
        let mut after: (i64, String, String) = (i64::MIN, String::new(), String::new());
        loop {
            let mut page = Vec::with_capacity(BACKFILL_PAGE);
            let mut rows = read
                .query(params![
                    principals,
                    after.0,
                    after.1,
                    after.2,
                    BACKFILL_PAGE as i64
                ])
                .map_err(&fail)?;
            while let Some(row) = rows.next().map_err(&fail)? {
                let (kind, value): (u16, String) =
                    (row.get(0).map_err(&fail)?, row.get(1).map_err(&fail)?);
                let meta = (|| Ok((row.get(3)?, row.get(2)?, row.get(4)?, row.get(5)?)))()
                    .map_err(&fail)?;
                page.push((
                    identifier(&path, kind, &value)?,
                    meta_from_row(&path, meta)?,
                ));
            }
            drop(rows);
            let Some((last, meta)) = page.last() else {
                break;
            };
            after = (
                i64::from(last.kind().code()),
                last.as_str().to_owned(),
                meta.agency.as_str().to_owned(),
            );
            for (id, meta) in page {
                if let Some(origins) = tracer.listing(id.kind().code(), id.as_str(), &meta)? {
                    let entry = Entry { id, meta };
                    let set_by = origins.set_by.expect("a traced listing's setter");
                    record(&tx, &path, &entry, origins.added, set_by)?;
                }
            }
        }
        drop(read);
        let recorded = tracer.finish()?;
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
                 AND e.added IS NULL
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
                let id = identifier(&self.path, kind, &value)?;
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
            "SELECT version, accepted_at, file FROM submission_files WHERE id IN
                 (SELECT added FROM entries UNION SELECT set_by FROM entries)
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
