//! Makes a store's schema at open, or brings a store an earlier release made
//! to it, in one transaction: a store is either wholly migrated or
//! untouched, and one a later release made is refused before anything is
//! written to it.
//!
//! Schema version 1 (`PRAGMA user_version` 0, as SQLite starts it) keyed
//! `entries` by identifier, as each was listed by one agency; version 2 keys
//! it by listing (identifier and agency), and `overrides` by the listing too.
//! The rows are the same, so the state digest and count still hold.
//! Version 3 adds the tables of listings' origins (W8), made empty: an
//! earlier release would apply deltas without keeping them, so it refuses
//! a store of version 3. Version 4 keeps the state's [`LtHash16`] beside
//! its lane sum, computed once from the entries as the store is migrated
//! (after checking they give the lane sum held): an earlier release would
//! update the lane sum alone, so it refuses a store of version 4. Version 5
//! records each listing's origins in its own row, naming submission files
//! by an integer key (version 4 kept them in a table of their own, by
//! SHA-256, which doubled what a traced snapshot's bootstrap wrote): an
//! earlier release would keep origins where this one no longer reads them,
//! so it refuses a store of version 5.

use rusqlite::{Connection, Transaction};

use super::{corrupt, meta_from_row, sqlite, StoreError};
use crate::commitment::{LaneSum, LtHash16, StateAccumulator};
use crate::entry::Entry;
use crate::identifier::Identifier;
use crate::kind::Kind;

/// The schema version `schema.sql` makes.
const CURRENT: i64 = 5;

/// Version 1 to 2, around `schema.sql` making the tables anew: each table
/// is set aside, made again under its new key (SQLite cannot change a
/// primary key in place), and refilled. Indexes of the old tables go with
/// them (the publisher's are made again at its next open).
const SET_ASIDE_1: &str = "
    ALTER TABLE entries RENAME TO entries_1;
    ALTER TABLE overrides RENAME TO overrides_1;
";
const REFILL_1: &str = "
    INSERT INTO entries (kind, value, reason, agency, listed_at, expires_at)
        SELECT kind, value, reason, agency, listed_at, expires_at FROM entries_1;
    DROP TABLE entries_1;
    INSERT INTO overrides (kind, value, version, agency, listed_at, made_at, why, note, signers,
            file_sha256)
        SELECT kind, value, version, agency, listed_at, made_at, why, note, signers, file_sha256
        FROM overrides_1;
    DROP TABLE overrides_1;
";

/// Makes the schema of the store `conn` opened at `path`, or brings one an
/// earlier release made to it, in one transaction. A store of a later
/// release is refused untouched.
pub(super) fn ensure(conn: &mut Connection, path: &std::path::Path) -> Result<(), StoreError> {
    let fail = sqlite(path, "make or migrate the store's schema");
    let tx = conn.transaction().map_err(&fail)?;
    let version = check(&tx, path)?;
    // Every table, made where missing (`IF NOT EXISTS`: an older store's
    // stay as they were, and a release may have had fewer).
    tx.execute_batch(include_str!("schema.sql"))
        .map_err(&fail)?;
    let keyed_by_listing: bool = tx
        .query_row(
            "SELECT pk > 0 FROM pragma_table_info('entries') WHERE name = 'agency'",
            [],
            |r| r.get(0),
        )
        .map_err(&fail)?;
    if version < CURRENT && !keyed_by_listing {
        for sql in [SET_ASIDE_1, include_str!("schema.sql"), REFILL_1] {
            tx.execute_batch(sql).map_err(&fail)?;
        }
    }
    let has_lthash: bool = tx
        .query_row(
            "SELECT count(*) > 0 FROM pragma_table_info('list_state') WHERE name = 'lthash'",
            [],
            |r| r.get(0),
        )
        .map_err(&fail)?;
    if !has_lthash {
        add_lthash(&tx, path)?;
    }
    if version < CURRENT {
        origins_in_rows(&tx, path)?;
    }
    tx.pragma_update(None, "user_version", CURRENT)
        .map_err(&fail)?;
    tx.commit().map_err(&fail)
}

/// Version 4 (or 3) to 5: each listing's origins move into its row, and
/// the submission files take an integer key for them to name. A step
/// already made (a store made by this release, or a table an earlier one
/// never had) is passed over.
fn origins_in_rows(tx: &Transaction<'_>, path: &std::path::Path) -> Result<(), StoreError> {
    let fail = sqlite(path, "record listings' origins in their rows");
    let has = |table: &str, column: &str| -> Result<bool, StoreError> {
        tx.query_row(
            "SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2",
            [table, column],
            |r| r.get(0),
        )
        .map_err(&fail)
    };
    if !has("entries", "set_by")? {
        tx.execute_batch(
            "ALTER TABLE entries ADD COLUMN added INTEGER;
             ALTER TABLE entries ADD COLUMN set_by INTEGER;",
        )
        .map_err(&fail)?;
    }
    if !has("submission_files", "id")? {
        tx.execute_batch("ALTER TABLE submission_files RENAME TO submission_files_4;")
            .map_err(&fail)?;
        tx.execute_batch(include_str!("schema.sql"))
            .map_err(&fail)?;
        tx.execute_batch(
            "INSERT INTO submission_files (file_sha256, version, accepted_at, file)
                 SELECT file_sha256, version, accepted_at, file FROM submission_files_4
                 ORDER BY version, file_sha256;
             DROP TABLE submission_files_4;",
        )
        .map_err(&fail)?;
    }
    if has("listing_origins", "set_by")? {
        tx.execute_batch(
            "UPDATE entries SET
                 added = (SELECT f.id FROM submission_files f WHERE f.file_sha256 = o.added),
                 set_by = (SELECT f.id FROM submission_files f WHERE f.file_sha256 = o.set_by)
             FROM listing_origins o
             WHERE o.kind = entries.kind AND o.value = entries.value
                 AND o.agency = entries.agency;
             DROP TABLE listing_origins;",
        )
        .map_err(&fail)?;
    }
    Ok(())
}

/// Version 3 to 4: the LtHash of the entries, computed once, beside the
/// lane sum they must give (a store whose entries do not is refused as
/// corrupt rather than given a new commitment to what nobody signed).
fn add_lthash(tx: &Transaction<'_>, path: &std::path::Path) -> Result<(), StoreError> {
    let fail = sqlite(path, "add the LtHash to the store's state");
    tx.execute_batch("ALTER TABLE list_state ADD COLUMN lthash BLOB NOT NULL DEFAULT x''")
        .map_err(&fail)?;
    let mut computed = StateAccumulator::default();
    let mut stmt = tx
        .prepare("SELECT kind, value, reason, agency, listed_at, expires_at FROM entries")
        .map_err(&fail)?;
    let mut rows = stmt.query([]).map_err(&fail)?;
    while let Some(r) = rows.next().map_err(&fail)? {
        let (kind, value): (u16, String) = (r.get(0).map_err(&fail)?, r.get(1).map_err(&fail)?);
        let meta = (|| Ok((r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))().map_err(&fail)?;
        let id = Identifier::from_canonical(Kind::from_code(kind), &value)
            .map_err(|e| corrupt(path, &format!("entry {value:?}: {e}")))?;
        computed.add(&Entry {
            id,
            meta: meta_from_row(path, meta)?,
        });
    }
    let held: Option<(Vec<u8>, i64)> = tx
        .query_row(
            "SELECT digest, entries FROM list_state WHERE id = 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })
        .map_err(&fail)?;
    let Some((digest, entries)) = held else {
        return Ok(());
    };
    let lane_sum = LaneSum::from_digest(crate::StateDigest(super::bytes32(
        path,
        "state digest",
        &digest,
    )?));
    if (lane_sum, entries as u64) != (computed.lane_sum(), computed.entries()) {
        return Err(corrupt(
            path,
            &format!(
                "entries give lane sum {} ({} entries), state says {} ({entries} entries): not migrated",
                computed.lane_sum().digest(),
                computed.entries(),
                lane_sum.digest(),
            ),
        ));
    }
    tx.execute(
        "UPDATE list_state SET lthash = ?1 WHERE id = 1",
        [computed.lthash().to_bytes().as_slice()],
    )
    .map_err(&fail)?;
    Ok(())
}

/// Refuses, for a read-only connection `conn` to the store at `path`, a
/// store of another schema version than this release's: a later one as
/// [`check`] does, an earlier one since only a writer migrates it.
pub(super) fn check_current(conn: &Connection, path: &std::path::Path) -> Result<(), StoreError> {
    match check(conn, path)? {
        CURRENT => Ok(()),
        found => Err(StoreError::OlderSchema {
            path: path.to_path_buf(),
            found,
            current: CURRENT,
        }),
    }
}

/// The LtHash a store's state column holds, checked for its size.
pub(super) fn lthash_from_db(path: &std::path::Path, bytes: &[u8]) -> Result<LtHash16, StoreError> {
    LtHash16::from_bytes(bytes).ok_or_else(|| {
        corrupt(
            path,
            &format!(
                "state LtHash is {} bytes, not {}",
                bytes.len(),
                crate::commitment::LTHASH_BYTES
            ),
        )
    })
}

/// The schema version of the store `conn` opened at `path`, refused when a
/// later release made it (this one cannot tell what its tables mean).
pub(super) fn check(conn: &Connection, path: &std::path::Path) -> Result<i64, StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sqlite(path, "read the store's schema version"))?;
    if version > CURRENT {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            supported: CURRENT,
        });
    }
    Ok(version)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use crate::{Identifier, Kind};

    /// `entries` as a store of schema version 1 made it, with one listing.
    const ENTRIES_1: &str = "
        CREATE TABLE entries (
            kind INTEGER NOT NULL, value TEXT NOT NULL, reason INTEGER NOT NULL,
            agency TEXT NOT NULL, listed_at INTEGER NOT NULL, expires_at INTEGER,
            PRIMARY KEY (kind, value)
        ) WITHOUT ROWID;
        INSERT INTO entries VALUES (2, '+66812345678', 2, 'th-aoc', 100, NULL);
    ";

    /// `overrides` as the last release of schema version 1 made it (the
    /// ones before had none).
    const OVERRIDES_1: &str = "
        CREATE TABLE overrides (
            kind INTEGER NOT NULL, value TEXT NOT NULL, version INTEGER NOT NULL,
            agency TEXT NOT NULL, listed_at INTEGER NOT NULL, made_at INTEGER NOT NULL,
            why INTEGER NOT NULL, note TEXT NOT NULL, signers BLOB NOT NULL,
            file_sha256 BLOB NOT NULL,
            PRIMARY KEY (kind, value, version)
        ) WITHOUT ROWID;
    ";

    /// The tables of listings' origins as releases of schema versions 3 and
    /// 4 made them, in place of this release's: a table of their own,
    /// naming submission files by SHA-256.
    const ORIGINS_4: &str = "
        ALTER TABLE entries DROP COLUMN added;
        ALTER TABLE entries DROP COLUMN set_by;
        DROP TABLE submission_files;
        CREATE TABLE submission_files (
            file_sha256 BLOB PRIMARY KEY, version INTEGER NOT NULL,
            accepted_at INTEGER NOT NULL, file BLOB NOT NULL) WITHOUT ROWID;
        CREATE TABLE listing_origins (
            kind INTEGER NOT NULL, value TEXT NOT NULL, agency TEXT NOT NULL,
            added BLOB, set_by BLOB NOT NULL,
            PRIMARY KEY (kind, value, agency)) WITHOUT ROWID;
    ";

    /// How many tables of the origins as versions 3 and 4 kept them are left.
    fn version_4_tables(store: &Store) -> i64 {
        store
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master
                 WHERE name IN ('listing_origins', 'submission_files_4')",
                [],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// The primary key columns of `table`.
    fn key(store: &Store, table: &str) -> Vec<String> {
        store
            .conn
            .prepare(&format!(
                "SELECT name FROM pragma_table_info('{table}') WHERE pk > 0 ORDER BY pk"
            ))
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }

    /// A store of schema version 3, as releases before the LtHash left it:
    /// the lane sum of two listings, no LtHash column, and the origins'
    /// tables of the time; `tamper` runs on it last.
    fn store_3(path: &std::path::Path, tamper: &str) {
        let listings = [
            (Kind::Number, "+66812345678", "th-aoc"),
            (Kind::Domain, "scam.example", "th-dsi"),
        ]
        .map(|(kind, value, agency)| Entry {
            id: Identifier::from_canonical(kind, value).unwrap(),
            meta: crate::entry::EntryMeta {
                reason: crate::entry::Reason(2),
                agency: crate::entry::Agency::new(agency).unwrap(),
                listed_at: crate::entry::Timestamp(100),
                expires_at: None,
            },
        });
        drop(Store::open(path, "th-national").unwrap());
        let conn = Connection::open(path).unwrap();
        for e in &listings {
            conn.execute(
                "INSERT INTO entries (kind, value, reason, agency, listed_at) VALUES (?1, ?2, 2, ?3, 100)",
                rusqlite::params![e.id.kind().code(), e.id.as_str(), e.meta.agency.as_str()],
            )
            .unwrap();
        }
        let held = StateAccumulator::of(&listings);
        conn.execute(
            "UPDATE list_state SET version = 1, digest = ?1, entries = 2",
            [held.lane_sum().digest().0.as_slice()],
        )
        .unwrap();
        conn.execute_batch(&format!(
            "ALTER TABLE list_state DROP COLUMN lthash; {ORIGINS_4} PRAGMA user_version = 3; {tamper}"
        ))
        .unwrap();
    }

    #[test]
    fn a_version_3_store_takes_up_the_lthash_of_its_entries_unless_they_fail_its_lane_sum() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.db");
        store_3(&path, "");
        // Read-only, it is not migrated: refused, naming the way.
        assert!(matches!(
            Store::read_view(&path),
            Err(StoreError::OlderSchema {
                found: 3,
                current: CURRENT,
                ..
            })
        ));
        let store = Store::open(&path, "th-national").unwrap();
        let mut listed = vec![];
        store.for_each_entry(|e| listed.push(e)).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(
            store.state().unwrap().commitments,
            StateAccumulator::of(&listed)
        );
        assert!(store.check_integrity().is_ok());
        // And on to this release's origins, in the rows.
        assert_eq!(store.listed(&listed[0].id).unwrap().len(), 1);
        assert_eq!(version_4_tables(&store), 0);
        drop(store);

        let path = dir.path().join("edited.db");
        store_3(
            &path,
            "UPDATE entries SET reason = 3 WHERE agency = 'th-dsi';",
        );
        let refused = Store::open(&path, "th-national").err().unwrap();
        assert!(
            matches!(&refused, StoreError::Corrupt { reason, .. } if reason.contains("not migrated")),
            "{refused:?}"
        );
        // Refused untouched: still version 3, so a fixed store migrates later.
        let conn = Connection::open(&path).unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, 3);
    }

    #[test]
    fn a_version_4_store_moves_its_listings_origins_into_their_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.db");
        drop(Store::open(&path, "th-national").unwrap());
        Connection::open(&path)
            .unwrap()
            .execute_batch(&format!(
                "{ORIGINS_4}
                 INSERT INTO submission_files VALUES (x'bb', 2, 150, x'02'), (x'aa', 1, 100, x'01');
                 INSERT INTO entries VALUES (2, '+66812345678', 2, 'th-aoc', 100, NULL),
                     (2, '+66812345678', 2, 'th-dsi', 100, NULL), (3, 'scam.example', 2, 'th-dsi', 90, NULL);
                 INSERT INTO listing_origins VALUES (2, '+66812345678', 'th-aoc', x'aa', x'bb'),
                     (3, 'scam.example', 'th-dsi', NULL, x'aa');
                 PRAGMA user_version = 4;"
            ))
            .unwrap();
        let store = Store::open(&path, "th-national").unwrap();
        // A listing, and the files of the submissions that listed it and set it.
        type Origins = (String, String, Option<Vec<u8>>, Option<Vec<u8>>);
        let origins: Vec<Origins> = store
            .conn
            .prepare(
                "SELECT e.value, e.agency, a.file, s.file FROM entries e
                 LEFT JOIN submission_files a ON a.id = e.added
                 LEFT JOIN submission_files s ON s.id = e.set_by
                 ORDER BY e.kind, e.value, e.agency",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let row = |value: &str, agency: &str, added: Option<u8>, set_by: Option<u8>| {
            let file = |b: Option<u8>| b.map(|b| vec![b]);
            (
                value.to_owned(),
                agency.to_owned(),
                file(added),
                file(set_by),
            )
        };
        assert_eq!(
            origins,
            [
                row("+66812345678", "th-aoc", Some(1), Some(2)),
                row("+66812345678", "th-dsi", None, None),
                row("scam.example", "th-dsi", None, Some(1)),
            ]
        );
        assert_eq!(version_4_tables(&store), 0);
        let version: i64 = store
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, CURRENT);
    }

    #[test]
    fn a_version_1_store_is_keyed_by_listing_after_open_and_a_newer_one_is_refused() {
        for made in [ENTRIES_1.to_owned(), format!("{ENTRIES_1}{OVERRIDES_1}")] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("list.db");
            Connection::open(&path)
                .unwrap()
                .execute_batch(&made)
                .unwrap();
            let store = Store::open(&path, "th-national").unwrap();
            let id = Identifier::from_canonical(Kind::Number, "+66812345678").unwrap();
            assert_eq!(store.listed(&id).unwrap()[0].agency.as_str(), "th-aoc");
            assert_eq!(key(&store, "entries"), ["kind", "value", "agency"]);
            assert_eq!(
                key(&store, "overrides"),
                ["kind", "value", "version", "agency"]
            );
            drop(store);

            Connection::open(&path)
                .unwrap()
                .pragma_update(None, "user_version", CURRENT + 1)
                .unwrap();
            assert!(matches!(
                Store::open(&path, "th-national"),
                Err(StoreError::NewerSchema { found: 6, .. })
            ));
            assert!(matches!(
                Store::read_view(&path),
                Err(StoreError::NewerSchema { found: 6, .. })
            ));
        }
    }
}
