//! The overrides a replica applied (`docs/FORMAT.md` W7): each listing an
//! override removed or updated, recorded in the transaction that changes it
//! and kept for good, so that a replica can answer why an identifier it no
//! longer lists was removed, or why a listing has the entry it has, over
//! its agency's head, and by whose decision.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use crate::digest::Sha256;
use crate::document::{
    envelope, Document, ListingRef, Override, PastOverride, RemovalReason, Version,
};
use crate::entry::{Agency, Reason, Timestamp};
use crate::identifier::Identifier;
use crate::keys::KeyId;
use crate::store::apply::to_db;
use crate::store::{bytes32, corrupt, sqlite, version_from_db, Store, StoreError};
use crate::verify::{Authority, AuthorityError};

/// One listing an override removed or updated, as the replica recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedOverride {
    /// The version whose delta carried the override.
    pub version: Version,
    /// The listing it removed or updated.
    pub listing: ListingRef,
    /// What it did to the listing.
    pub change: OverrideChange,
    /// When its signers made it.
    pub made_at: Timestamp,
    /// Why.
    pub why: RemovalReason,
    /// The decision in words.
    pub note: String,
    /// The override keys that signed it.
    pub signers: Vec<KeyId>,
    /// SHA-256 of the override file.
    pub file_sha256: Sha256,
}

/// What an override did to one listing it names.
///
/// ```
/// use blocklist_core::store::OverrideChange;
/// use blocklist_core::{Reason, Timestamp};
/// let change = OverrideChange::Updated { reason: Reason::FRAUD, expires_at: Some(Timestamp(9)) };
/// assert_ne!(change, OverrideChange::Removed);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideChange {
    /// It removed the listing.
    Removed,
    /// It gave the listing this reason and expiry; the listing stays its
    /// agency's, with its listing time.
    Updated {
        /// The new reason.
        reason: Reason,
        /// The new expiry (`None`: it never expires).
        expires_at: Option<Timestamp>,
    },
}

/// Checks that none of `authority`'s overrides was applied already (W7):
/// the inner error is the replay.
pub(super) fn check_replays(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    authority: &Authority,
) -> Result<Result<(), AuthorityError>, StoreError> {
    authority.check_overrides(|decision| applied_at(tx, path, decision))
}

/// Records every listing `authority`'s overrides remove or update, as
/// changed at `version`, with the override `files` the delta carries (in the same
/// order).
pub(super) fn record(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    authority: &Authority,
    files: &[Vec<u8>],
    version: i64,
) -> Result<(), StoreError> {
    for (carried, file) in authority.overrides().iter().zip(files) {
        let decision = &carried.decision_sha256;
        insert(
            tx,
            path,
            version,
            &carried.decision,
            decision,
            &carried.signers,
            file,
        )?;
    }
    Ok(())
}

/// Records the overrides a snapshot carries (each once: a replica that
/// holds them already keeps its rows). Their files are taken on the
/// snapshot's signature, as its listings are; the snapshot's decoder
/// checked each is a well-formed override.
pub(super) fn record_past(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    past: &[PastOverride],
) -> Result<(), StoreError> {
    for o in past {
        let env = envelope::parse(&o.file).expect("a snapshot's decoder checked its overrides");
        let decision = Override::decode_payload(env.payload)
            .expect("a snapshot's decoder checked its overrides");
        let signers: Vec<KeyId> = env.signatures.iter().map(|s| s.key_id).collect();
        let version = to_db(path, "version", o.version.get())?;
        let decision_sha256 = Sha256::of(env.payload);
        insert(
            tx,
            path,
            version,
            &decision,
            &decision_sha256,
            &signers,
            &o.file,
        )?;
    }
    Ok(())
}

/// Records one override file and each listing it removed or updated.
fn insert(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    version: i64,
    decision: &Override,
    decision_sha256: &Sha256,
    signers: &[KeyId],
    file: &[u8],
) -> Result<(), StoreError> {
    let fail = sqlite(path, "record override");
    let sha256 = Sha256::of(file);
    tx.prepare_cached(
        "INSERT OR IGNORE INTO override_files (decision_sha256, file_sha256, version, file)
         VALUES (?1, ?2, ?3, ?4)",
    )
    .and_then(|mut stmt| stmt.execute(params![decision_sha256.0, sha256.0, version, file]))
    .map_err(&fail)?;
    let signers: Vec<u8> = signers.iter().flat_map(|k| k.0).collect();
    let mut stmt = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO overrides (kind, value, version, agency, listed_at, made_at,
                                              why, note, signers, file_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(&fail)?;
    for listing in decision.listings() {
        stmt.execute(params![
            listing.id.kind().code(),
            listing.id.as_str(),
            version,
            listing.agency.as_str(),
            listing.listed_at.0 as i64,
            decision.made_at.0 as i64,
            decision.why.0,
            decision.note,
            signers,
            sha256.0,
        ])
        .map_err(&fail)?;
    }
    Ok(())
}

/// The version that applied the override of decision SHA-256 `decision`,
/// if any.
fn applied_at(
    conn: &Connection,
    path: &std::path::Path,
    decision: &Sha256,
) -> Result<Option<u64>, StoreError> {
    let version: Option<i64> = conn
        .prepare_cached("SELECT version FROM override_files WHERE decision_sha256 = ?1")
        .and_then(|mut stmt| stmt.query_row([decision.0], |r| r.get(0)).optional())
        .map_err(sqlite(path, "read overrides"))?;
    Ok(version.map(|v| v as u64))
}

/// Every override file recorded, with the version that applied it, in the
/// order a snapshot carries them.
pub(super) fn past(
    conn: &Connection,
    path: &std::path::Path,
) -> Result<Vec<PastOverride>, StoreError> {
    let fail = sqlite(path, "read override files");
    let mut stmt = conn
        .prepare_cached("SELECT version, file FROM override_files ORDER BY version, file_sha256")
        .map_err(&fail)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))
        .map_err(&fail)?;
    let mut out = Vec::new();
    for row in rows {
        let (version, file) = row.map_err(&fail)?;
        out.push(PastOverride {
            version: version_from_db(path, version)?
                .ok_or_else(|| corrupt(path, "override file at version 0"))?,
            file,
        });
    }
    Ok(out)
}

type OverrideRow = (
    i64,
    String,
    i64,
    i64,
    u16,
    String,
    Vec<u8>,
    Vec<u8>,
    Option<Vec<u8>>,
);

/// What the override in `file` (`None`: not kept, as by a store of a
/// release whose overrides only removed) did to `listing`.
fn change_of(
    path: &std::path::Path,
    file: Option<&[u8]>,
    listing: &ListingRef,
) -> Result<OverrideChange, StoreError> {
    let Some(file) = file else {
        return Ok(OverrideChange::Removed);
    };
    let decision =
        Override::from_file(file).map_err(|e| corrupt(path, &format!("override file: {e}")))?;
    Ok(decision
        .updates
        .iter()
        .find(|u| u.listing == *listing)
        .map_or(OverrideChange::Removed, |u| OverrideChange::Updated {
            reason: u.reason,
            expires_at: u.expires_at,
        }))
}

impl Store {
    /// The version that applied the override of decision SHA-256
    /// `decision` ([`crate::document::decision_sha256`]), if this replica
    /// applied it (W7).
    ///
    /// ```
    /// use blocklist_core::store::Store;
    /// use blocklist_core::Sha256;
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("list.db"), "demo").unwrap();
    /// assert_eq!(store.override_applied(&Sha256::of(b"a decision")).unwrap(), None);
    /// ```
    pub fn override_applied(&self, decision: &Sha256) -> Result<Option<u64>, StoreError> {
        applied_at(&self.conn, &self.path, decision)
    }

    /// Every override that removed or updated a listing of `id`, oldest
    /// first.
    ///
    /// ```
    /// use blocklist_core::store::Store;
    /// use blocklist_core::{Identifier, Kind};
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("list.db"), "demo").unwrap();
    /// let id = Identifier::from_canonical(Kind::Domain, "shop.example").unwrap();
    /// assert!(store.overrides_of(&id).unwrap().is_empty());
    /// ```
    pub fn overrides_of(&self, id: &Identifier) -> Result<Vec<AppliedOverride>, StoreError> {
        let fail = sqlite(&self.path, "read overrides");
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT o.version, o.agency, o.listed_at, o.made_at, o.why, o.note, o.signers,
                        o.file_sha256, f.file
                 FROM overrides o LEFT JOIN override_files f ON f.file_sha256 = o.file_sha256
                 WHERE o.kind = ?1 AND o.value = ?2 ORDER BY o.version",
            )
            .map_err(&fail)?;
        let rows = stmt
            .query_map(params![id.kind().code(), id.as_str()], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                ))
            })
            .map_err(&fail)?;
        let mut out = Vec::new();
        for row in rows {
            let (version, agency, listed_at, made_at, why, note, signers, file, bytes): OverrideRow =
                row.map_err(&fail)?;
            let path = &self.path;
            if signers.len() % 32 != 0 {
                return Err(corrupt(path, "override signers are not 32-byte key ids"));
            }
            let listing = ListingRef {
                id: id.clone(),
                agency: Agency::new(&agency).map_err(|e| corrupt(path, &e.to_string()))?,
                listed_at: Timestamp(listed_at as u64),
            };
            out.push(AppliedOverride {
                version: version_from_db(path, version)?
                    .ok_or_else(|| corrupt(path, "override at version 0"))?,
                change: change_of(path, bytes.as_deref(), &listing)?,
                listing,
                made_at: Timestamp(made_at as u64),
                why: RemovalReason(why),
                note,
                signers: signers
                    .chunks(32)
                    .map(|k| bytes32(path, "override signer", k).map(KeyId))
                    .collect::<Result<_, _>>()?,
                file_sha256: Sha256(bytes32(path, "override file digest", &file)?),
            });
        }
        Ok(out)
    }
}
