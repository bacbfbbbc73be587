//! Queries a publisher needs of a store that a replica does not: point
//! lookups by the hundred thousand, expired entries found through an index,
//! the agencies listed, and every entry read at one version.
//!
//! The centre keeps its current list in a [`Store`] (the replica's store, fed
//! the deltas it signs), so that a publish reads and writes only what its
//! changes touch. Its two extra indexes ([`Store::index_for_publisher`]) are
//! created by the publisher alone: replicas never pay for them.
//!
//! ```
//! use blocklist_core::store::Store;
//! use blocklist_core::Timestamp;
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path().join("centre.db"), "th-national").unwrap();
//! store.index_for_publisher().unwrap();
//! assert!(store.expired_by(Timestamp(1_000)).unwrap().is_empty());
//! assert!(store.agencies(10).unwrap().is_empty());
//! ```

use std::collections::BTreeMap;

#[cfg(doc)]
use crate::document::SnapshotWriter;
use crate::document::{Origin, PastOverride, SnapshotPlan};
use crate::entry::{Entry, EntryMeta, Timestamp};
use crate::identifier::Identifier;
use crate::keys::KeyId;
use crate::kind::Kind;
use crate::store::{
    bytes32, corrupt, entry_row, meta_after, meta_from_row, origins, overrides, read_listings,
    read_state, sqlite, Store, StoreError, StoreState,
};

/// The publisher's indexes. `IF NOT EXISTS`: a store made before them gets
/// them at its next open. The expiry index holds only entries that expire,
/// so entries listed for good cost it nothing.
const PUBLISHER_INDEXES: &str = "
    CREATE INDEX IF NOT EXISTS entries_by_expiry ON entries (expires_at) WHERE expires_at IS NOT NULL;
    CREATE INDEX IF NOT EXISTS entries_by_agency ON entries (agency);
";

impl Store {
    /// Creates the indexes [`Store::expired_by`] and [`Store::agencies`]
    /// read (a no-op when they exist). Creating them after a bulk load is
    /// faster than keeping them up to date during it.
    pub fn index_for_publisher(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(PUBLISHER_INDEXES)
            .map_err(sqlite(&self.path, "create publisher indexes"))
    }

    /// Lets SQLite cache up to `bytes` of database pages: a publisher's point
    /// lookups then read the upper B-tree levels from memory.
    pub fn set_cache_size(&self, bytes: u64) -> Result<(), StoreError> {
        // A negative cache_size is in KiB.
        let kib = -i64::try_from(bytes / 1024).unwrap_or(i64::MAX);
        self.conn
            .pragma_update(None, "cache_size", kib)
            .map_err(sqlite(&self.path, "set cache size"))
    }

    /// Every listing of `id`, expired or not, by agency (lookups go through
    /// the index; this is for the centre, the daemon's answers with every
    /// listing, tools and tests).
    pub fn listed(&self, id: &Identifier) -> Result<Vec<EntryMeta>, StoreError> {
        read_listings(&self.conn, &self.path, id)
    }

    /// The listings whose expiry is at or before `cutoff`, in key order,
    /// read through the expiry index: the cost is the number found, not the
    /// size of the list. Needs [`Store::index_for_publisher`].
    pub fn expired_by(&self, cutoff: Timestamp) -> Result<Vec<Entry>, StoreError> {
        let cutoff = i64::try_from(cutoff.0).unwrap_or(i64::MAX);
        let mut stmt = self
            .conn
            .prepare_cached(
                // INDEXED BY: an error rather than a silent scan of every entry.
                "SELECT kind, value, reason, agency, listed_at, expires_at
                 FROM entries INDEXED BY entries_by_expiry WHERE expires_at <= ?1",
            )
            .map_err(sqlite(&self.path, "find expired entries"))?;
        let rows = stmt
            .query_map([cutoff], entry_row)
            .map_err(sqlite(&self.path, "find expired entries"))?;
        let mut found = Vec::new();
        for row in rows {
            let (kind, value, meta) = row.map_err(sqlite(&self.path, "find expired entries"))?;
            found.push(Entry {
                id: identifier(&self.path, kind, &value)?,
                meta: meta_from_row(&self.path, meta)?,
            });
        }
        found.sort_unstable_by(|a, b| (&a.id, &a.meta.agency).cmp(&(&b.id, &b.meta.agency)));
        Ok(found)
    }

    /// The newest sequence applied per agency key (`docs/FORMAT.md` W4):
    /// recorded with each delta whose carried submissions were judged.
    pub fn agency_sequences(&self) -> Result<BTreeMap<KeyId, u64>, StoreError> {
        let fail = sqlite(&self.path, "read agency sequences");
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key_id, sequence FROM agency_sequences")
            .map_err(&fail)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, i64>(1)?)))
            .map_err(&fail)?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (key, sequence) = row.map_err(&fail)?;
            let key = bytes32(&self.path, "agency key id", &key)?;
            out.insert(KeyId(key), sequence as u64);
        }
        Ok(out)
    }

    /// Whether `agency` lists anything dated `since` or later: before an
    /// agency is registered under a label the list already uses, the centre
    /// asks whether those listings would become the agency's without its
    /// signature (W8).
    pub fn lists_since(&self, agency: &str, since: Timestamp) -> Result<bool, StoreError> {
        let since = crate::store::apply::to_db(&self.path, "since", since.0)?;
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM entries WHERE agency = ?1 AND listed_at >= ?2)",
                rusqlite::params![agency, since],
                |r| r.get(0),
            )
            .map_err(sqlite(&self.path, "read an agency's listings"))
    }

    /// The distinct agencies listed, in order, at most `limit` of them: one
    /// seek of the agency index each, whatever the number of entries. Needs
    /// [`Store::index_for_publisher`].
    pub fn agencies(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT MIN(agency) FROM entries INDEXED BY entries_by_agency WHERE agency > ?1",
            )
            .map_err(sqlite(&self.path, "list agencies"))?;
        let mut found: Vec<String> = Vec::new();
        while found.len() < limit {
            let after = found.last().map_or("", String::as_str);
            let next: Option<String> = stmt
                .query_row([after], |r| r.get(0))
                .map_err(sqlite(&self.path, "list agencies"))?;
            match next {
                Some(agency) => found.push(agency),
                None => break,
            }
        }
        Ok(found)
    }

    /// How many listings each agency holds of each kind, by agency then
    /// kind code: what an operator's overview shows. One pass over the
    /// agency index (it holds the kind too), so it costs the list's size:
    /// callers keep the answer for the version it was read at.
    ///
    /// ```
    /// use blocklist_core::store::Store;
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("centre.db"), "demo").unwrap();
    /// assert!(store.listings_by_agency_and_kind().unwrap().is_empty());
    /// ```
    pub fn listings_by_agency_and_kind(&self) -> Result<Vec<(String, Kind, u64)>, StoreError> {
        let fail = sqlite(&self.path, "count listings by agency and kind");
        let mut stmt = self
            .conn
            .prepare(
                "SELECT agency, kind, COUNT(*) FROM entries GROUP BY agency, kind ORDER BY agency, kind",
            )
            .map_err(&fail)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, u16>(1)?,
                    r.get::<_, i64>(2)?,
                ))
            })
            .map_err(&fail)?;
        rows.map(|row| {
            let (agency, kind, count) = row.map_err(&fail)?;
            Ok((agency, Kind::from_code(kind), count.unsigned_abs()))
        })
        .collect()
    }

    /// The version held, every entry at that very version, in key order, the
    /// agency sequences, the overrides applied by then and the submissions
    /// the listings come from (one read
    /// transaction: a writer committing meanwhile is not seen): what a
    /// snapshot of it says.
    pub fn read_whole(&self) -> Result<Whole, StoreError> {
        self.stream_whole(|whole| {
            let mut entries =
                Vec::with_capacity(usize::try_from(whole.state.state.entries).unwrap_or(0));
            self.for_each_entry(|entry| entries.push(entry))?;
            Ok(Whole {
                state: whole.state,
                entries,
                sequences: whole.sequences,
                overrides: whole.overrides,
                origins: whole.origins,
            })
        })
    }

    /// The whole list at one version with its entries left in the store, for
    /// a snapshot too large to hold ([`SnapshotWriter`]): `read` gets the
    /// state and the snapshot's other fields, and reads the entries through
    /// [`WholeStream`], all within one read transaction (publishes may
    /// commit meanwhile; they are not seen).
    ///
    /// ```
    /// use blocklist_core::store::Store;
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = Store::open(dir.path().join("centre.db"), "demo").unwrap();
    /// let groups = store
    ///     .stream_whole(|whole| Ok::<_, blocklist_core::store::StoreError>(whole.plan()?.groups()))
    ///     .unwrap();
    /// assert_eq!(groups, 0);
    /// ```
    pub fn stream_whole<T, E: From<StoreError>>(
        &self,
        read: impl FnOnce(WholeStream<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let tx = self
            .conn
            .unchecked_transaction()
            .map_err(sqlite(&self.path, "begin read"))?;
        let whole = WholeStream {
            state: read_state(&tx, &self.path)?,
            sequences: self.agency_sequences()?,
            overrides: overrides::past(&self.conn, &self.path)?,
            origins: origins::held(&self.conn, &self.path)?,
            store: self,
        };
        let value = read(whole)?;
        tx.commit().map_err(sqlite(&self.path, "end read"))?;
        Ok(value)
    }
}

/// The list at one version as [`Store::stream_whole`] gives it: every field
/// of a snapshot but the entries, which are read from the store on demand.
pub struct WholeStream<'a> {
    store: &'a Store,
    /// The version and state held.
    pub state: StoreState,
    /// The newest sequence applied per agency key.
    pub sequences: BTreeMap<KeyId, u64>,
    /// Every override applied, with the version that applied it.
    pub overrides: Vec<PastOverride>,
    /// The submissions the listings come from (W8).
    pub origins: Vec<Origin>,
}

impl WholeStream<'_> {
    /// Counts every entry into a [`SnapshotPlan`]: one pass in key order.
    pub fn plan(&self) -> Result<SnapshotPlan, StoreError> {
        let mut plan = SnapshotPlan::default();
        for row in self.store.rows() {
            let (kind, value, meta) = row?;
            plan.count(kind, &meta, &value);
        }
        Ok(plan)
    }

    /// Calls `f` with every entry in a snapshot's wire order ([`SnapshotWriter::push`]).
    /// SQLite sorts them in its page cache and then in temporary files of
    /// about the list's size (in `SQLITE_TMPDIR`, else `TMPDIR`, `/var/tmp`,
    /// `/usr/tmp` or `/tmp`: not a tmpfs, or the spill is memory again), on
    /// as many threads as there are cores (the connection keeps that
    /// setting): memory stays bounded whatever the list's size.
    pub fn for_each_in_wire_order<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(&Entry) -> Result<(), E>,
    ) -> Result<(), E> {
        let path = &self.store.path;
        let fail = sqlite(path, "read entries in wire order");
        // SQLite's sorter merges on helper threads when allowed: at 10M
        // entries 10.4 s alone, 6.6 s on two cores.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.store
            .conn
            .pragma_update(None, "threads", cores as i64)
            .map_err(&fail)?;
        let mut stmt = self
            .store
            .conn
            .prepare(
                "SELECT kind, value, reason, agency, listed_at, expires_at FROM entries
                 ORDER BY kind, reason, agency, listed_at, expires_at, value",
            )
            .map_err(&fail)?;
        let mut rows = stmt.query([]).map_err(&fail)?;
        let mut agency = None;
        while let Some(r) = rows.next().map_err(&fail)? {
            let (kind, value, row) = entry_row(r).map_err(&fail)?;
            let meta = meta_after(path, row, &mut agency)?;
            f(&Entry {
                id: identifier(path, kind, &value)?,
                meta,
            })?;
        }
        Ok(())
    }
}

/// The whole list at one version ([`Store::read_whole`]).
#[derive(Debug)]
pub struct Whole {
    /// The version and state held.
    pub state: StoreState,
    /// Every entry, in key order.
    pub entries: Vec<Entry>,
    /// The newest sequence applied per agency key.
    pub sequences: BTreeMap<KeyId, u64>,
    /// Every override applied, with the version that applied it.
    pub overrides: Vec<PastOverride>,
    /// The submissions the listings come from (W8).
    pub origins: Vec<Origin>,
}

fn identifier(path: &std::path::Path, kind: u16, value: &str) -> Result<Identifier, StoreError> {
    Identifier::from_canonical(Kind::from_code(kind), value)
        .map_err(|e| corrupt(path, &format!("entry {value:?}: {e}")))
}

#[cfg(test)]
mod tests {
    use crate::document::{Delta, ListId, Op, Version};
    use crate::entry::{Agency, Reason};
    use crate::store::{Row, ROWS_PER_PAGE};
    use crate::Rules;

    use super::*;

    fn entry(name: &str, agency: &str, expires_at: Option<u64>) -> Entry {
        Entry {
            id: Identifier::parse(Kind::Domain, name, &Rules::default()).unwrap(),
            meta: EntryMeta {
                reason: Reason::PHISHING,
                agency: Agency::new(agency).unwrap(),
                listed_at: Timestamp(1),
                expires_at: expires_at.map(Timestamp),
            },
        }
    }

    /// A store holding `entries` at version 1, through a signed delta.
    fn store_with(entries: &[Entry]) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::SecretKey::generate().unwrap();
        let root = crate::document::TrustRoot {
            list: ListId::new("t").unwrap(),
            version: Version::FIRST,
            issued_at: Timestamp(0),
            expires_at: Timestamp(u64::MAX / 2),
            root_keys: crate::document::KeySet::new(vec![key.public_key()], 1).unwrap(),
            publish_keys: crate::document::KeySet::new(vec![key.public_key()], 1).unwrap(),
            override_keys: None,
            extensions: vec![],
        };
        let verifier =
            crate::verify::Verifier::pin(&crate::document::Document::sign(&root, &[&key]).unwrap())
                .unwrap();
        let state = crate::document::ListState::of(entries);
        let delta = Delta {
            list: ListId::new("t").unwrap(),
            version: Version::FIRST,
            created_at: Timestamp(1),
            ops: entries.iter().cloned().map(Op::Add).collect(),
            state,
            submissions: vec![],
            overrides: vec![],
            extensions: vec![],
        };
        let bytes = crate::document::Document::sign(&delta, &[&key]).unwrap();
        let mut store = Store::open(dir.path().join("s.db"), "t").unwrap();
        store.index_for_publisher().unwrap();
        store
            .apply_delta(&verifier.delta(&bytes, None).unwrap(), "test")
            .unwrap();
        (dir, store)
    }

    #[test]
    fn a_snapshot_streamed_from_the_store_is_the_one_its_whole_list_encodes_to() {
        use crate::document::{Document, Snapshot, SnapshotHead, SnapshotWriter};
        // Agencies whose byte order is not their case-blind order, an
        // identifier two agencies list, expiries and none, two kinds.
        let mut entries = vec![
            entry("b.example", "th-aoc", None),
            entry("a.example", "th-aoc", Some(9)),
            entry("a.example", "Police", None),
            entry("z.example", "bank-004", Some(3)),
            entry("c.example", "th-aoc", Some(3)),
            entry("b-a.example", "th-aoc", None),
            entry("b.example", "bank-004", None),
        ];
        entries.push(Entry {
            id: Identifier::parse(Kind::Number, "+66812345678", &Rules::default()).unwrap(),
            meta: entries[0].meta.clone(),
        });
        let (_dir, store) = store_with(&entries);
        let key = crate::SecretKey::from_seed(&[3; 32]);
        let head = |state: &StoreState| SnapshotHead {
            list: ListId::new("t").unwrap(),
            version: state.version.unwrap(),
            created_at: Timestamp(5),
            state: state.state,
        };
        let streamed = store
            .stream_whole(|whole| {
                let plan = whole.plan()?;
                assert_eq!((plan.entries(), plan.groups()), (8, 7));
                let (sequences, overrides) = (&whole.sequences, &whole.overrides);
                let mut writer = SnapshotWriter::begin(
                    Vec::new(),
                    &head(&whole.state),
                    plan,
                    sequences,
                    overrides,
                    &whole.origins,
                )
                .unwrap();
                whole.for_each_in_wire_order(|entry| {
                    writer.push(entry).unwrap();
                    Ok::<_, StoreError>(())
                })?;
                Ok::<_, StoreError>(writer.finish(&[&key]).unwrap().0)
            })
            .unwrap();
        let whole = store.read_whole().unwrap();
        let snapshot = Snapshot {
            list: ListId::new("t").unwrap(),
            version: Version::FIRST,
            created_at: Timestamp(5),
            state: head(&whole.state).state,
            entries: whole.entries,
            sequences: whole.sequences,
            overrides: whole.overrides,
            origins: whole.origins,
            extensions: vec![],
        };
        assert_eq!(streamed, snapshot.sign(&[&key]).unwrap());
    }

    #[test]
    fn listings_are_counted_by_agency_then_kind() {
        let (_dir, store) = store_with(&[
            entry("a.example", "th-aoc", None),
            entry("b.example", "th-aoc", None),
            entry("c.example", "bank-004", None),
        ]);
        assert_eq!(
            store.listings_by_agency_and_kind().unwrap(),
            [
                ("bank-004".to_owned(), Kind::Domain, 1),
                ("th-aoc".to_owned(), Kind::Domain, 2)
            ]
        );
    }

    #[test]
    fn expired_by_finds_only_entries_expired_at_the_cutoff_in_key_order() {
        let (_dir, store) = store_with(&[
            entry("b.example", "x", Some(10)),
            entry("a.example", "x", Some(5)),
            entry("c.example", "x", Some(11)),
            entry("d.example", "x", None),
        ]);
        let names: Vec<String> = store
            .expired_by(Timestamp(10))
            .unwrap()
            .iter()
            .map(|e| e.id.as_str().to_owned())
            .collect();
        assert_eq!(names, ["a.example", "b.example"]);
    }

    #[test]
    fn expiry_and_agency_queries_use_their_indexes_not_a_scan() {
        let (_dir, store) = store_with(&[entry("a.example", "x", Some(5))]);
        let plan = |sql: &str| -> String {
            let mut stmt = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                .unwrap();
            let rows = stmt.query_map([], |r| r.get::<_, String>(3)).unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let expiry = plan("SELECT kind, value FROM entries WHERE expires_at <= 7");
        assert!(expiry.contains("entries_by_expiry"), "{expiry}");
        let agency = plan("SELECT MIN(agency) FROM entries WHERE agency > 'x'");
        assert!(agency.contains("entries_by_agency"), "{agency}");
    }

    #[test]
    fn agencies_are_found() {
        let (_dir, store) = store_with(&[
            entry("a.example", "x", None),
            entry("b.example", "x", None),
            entry("c.example", "y", None),
        ]);
        assert_eq!(store.agencies(10).unwrap(), ["x", "y"]);
        assert_eq!(store.agencies(1).unwrap(), ["x"]);
    }

    #[test]
    fn rows_read_every_listing_of_an_identifier_whose_listings_a_page_ends_between() {
        // ROWS_PER_PAGE - 1 identifiers, then one two agencies list: the
        // first page ends after its first listing.
        let mut entries: Vec<Entry> = (0..ROWS_PER_PAGE - 1)
            .map(|i| entry(&format!("a{i:05}.example"), "x", None))
            .collect();
        entries.push(entry("b.example", "x", None));
        entries.push(entry("b.example", "y", None));
        let (_dir, store) = store_with(&entries);
        let rows: Vec<Row> = store.rows().map(Result::unwrap).collect();
        assert_eq!(rows.len(), ROWS_PER_PAGE + 1);
        let last: Vec<&str> = rows[ROWS_PER_PAGE - 1..]
            .iter()
            .map(|(_, value, meta)| {
                assert_eq!(value, "b.example");
                meta.agency.as_str()
            })
            .collect();
        assert_eq!(last, ["x", "y"]);
    }

    #[test]
    fn read_whole_gives_the_state_and_every_entry_in_key_order() {
        let a = entry("a.example", "x", None);
        let b = entry("b.example", "y", Some(3));
        let (_dir, store) = store_with(&[b.clone(), a.clone()]);
        let Whole { state, entries, .. } = store.read_whole().unwrap();
        assert_eq!(state.version, Some(Version::FIRST));
        assert_eq!(state.state.entries, 2);
        assert_eq!(entries, vec![a.clone(), b]);
        assert_eq!(store.listed(&a.id).unwrap(), vec![a.meta]);
    }
}
