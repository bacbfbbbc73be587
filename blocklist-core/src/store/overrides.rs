//! The overrides a replica applied (`docs/FORMAT.md` W7): each listing an
//! override removed, recorded in the transaction that removes it and kept
//! for good, so that a replica can answer why an identifier it no longer
//! lists was removed over its agency's head, and by whose decision.

use rusqlite::{params, Transaction};

use crate::digest::Sha256;
use crate::document::{ListingRef, RemovalReason, Version};
use crate::entry::{Agency, Timestamp};
use crate::identifier::Identifier;
use crate::keys::KeyId;
use crate::store::{bytes32, corrupt, sqlite, version_from_db, Store, StoreError};
use crate::verify::{Authority, AuthorityError};

/// One listing an override removed, as the replica recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedOverride {
    /// The version whose delta carried the override.
    pub version: Version,
    /// The listing it removed.
    pub listing: ListingRef,
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

/// Records every listing `authority`'s overrides remove, as removed at
/// `version`; the inner error is an override recorded already (a replay, W7).
pub(super) fn record(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    authority: &Authority,
    version: i64,
) -> Result<Result<(), AuthorityError>, StoreError> {
    for (index, carried) in authority.overrides().iter().enumerate() {
        let applied: Option<i64> = tx
            .prepare_cached("SELECT MIN(version) FROM overrides WHERE file_sha256 = ?1")
            .and_then(|mut stmt| stmt.query_row([carried.file_sha256.0], |r| r.get(0)))
            .map_err(sqlite(path, "read overrides"))?;
        if let Some(version) = applied {
            return Ok(Err(AuthorityError::OverrideReplayed {
                index,
                version: version as u64,
            }));
        }
    }
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO overrides (kind, value, version, agency, listed_at, made_at, why, note,
                                    signers, file_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(sqlite(path, "record override"))?;
    for carried in authority.overrides() {
        let decision = &carried.decision;
        let signers: Vec<u8> = carried.signers.iter().flat_map(|k| k.0).collect();
        for listing in &decision.removals {
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
                carried.file_sha256.0,
            ])
            .map_err(sqlite(path, "record override"))?;
        }
    }
    Ok(Ok(()))
}

type OverrideRow = (i64, String, i64, i64, u16, String, Vec<u8>, Vec<u8>);

impl Store {
    /// Every override that removed a listing of `id`, oldest first.
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
                "SELECT version, agency, listed_at, made_at, why, note, signers, file_sha256
                 FROM overrides WHERE kind = ?1 AND value = ?2 ORDER BY version",
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
                ))
            })
            .map_err(&fail)?;
        let mut out = Vec::new();
        for row in rows {
            let (version, agency, listed_at, made_at, why, note, signers, file): OverrideRow =
                row.map_err(&fail)?;
            let path = &self.path;
            if signers.len() % 32 != 0 {
                return Err(corrupt(path, "override signers are not 32-byte key ids"));
            }
            out.push(AppliedOverride {
                version: version_from_db(path, version)?
                    .ok_or_else(|| corrupt(path, "override at version 0"))?,
                listing: ListingRef {
                    id: id.clone(),
                    agency: Agency::new(&agency).map_err(|e| corrupt(path, &e.to_string()))?,
                    listed_at: Timestamp(listed_at as u64),
                },
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
