//! Incremental updates: a new index file from an opened one and a change set,
//! without the full entry list.
//!
//! The new file keeps the old one's seed and home buckets, so every
//! unchanged entry stays where it is: the table is copied, removals clear
//! their slots (shrinking their home's spill), additions take the first free
//! slot at or after their home, and the filter is rebuilt from the edited
//! table (it depends on the stored fingerprints only), so removed keys leave
//! no stale bits. Cost: one pass over the table plus the writes, instead of
//! reading and hashing every entry again.

use std::path::Path;

use super::build::{pack, write_file, AgencyTable, Contents};
use super::error::IndexError;
use super::format::{IndexHeader, IndexStats};
use super::hash::key_hash;
use super::lookup::LookupIndex;
use super::table::{AddFault, Editor, Record};
use crate::entry::{Standing, Timestamp};
use crate::kind::Kind;

/// The fullest an updated table may get, as entries per slot (numerator,
/// denominator): a fresh build fills 0.8; past 0.9 spills grow steeply, so
/// the caller is asked for a full build (which sizes the table afresh).
const MAX_UPDATED_LOAD: (u64, u64) = (9, 10);

impl LookupIndex {
    /// Writes, atomically at `path` (temporary file, fsync, rename, fsync of
    /// the directory), a new full index holding this index's entries (its
    /// overlay's changes merged into its base) minus `removed`, plus `added`
    /// (each identifier's standing: its listings made one record), with the
    /// given header fields. An update of an entry is a removal of its key
    /// plus an addition. Removals are applied
    /// before additions. Values are canonical, as for [`IndexBuilder`](super::IndexBuilder).
    ///
    /// The store keeps the index consistent with itself, so a change that
    /// does not fit is a bug or a corrupt index, and the caller should fall
    /// back to a full build:
    /// - removing a key that is not in the index: [`IndexError::NotInIndex`];
    /// - adding a key that is: [`IndexError::DuplicateEntry`];
    /// - growing the list past what the table was sized for (about 12% more
    ///   entries than at the last full build):
    ///   [`IndexError::UpdateNeedsRebuild`].
    ///
    /// The table keeps its size when the list shrinks, so after large
    /// removals [`IndexStats::bytes_per_entry`] tells when a full build would
    /// give a smaller file. `self` stays valid and unchanged (it maps the
    /// old file, which the rename leaves alive).
    ///
    /// ```
    /// use blocklist_lookup::index::{IndexBuilder, LookupIndex};
    /// use blocklist_lookup::{Agency, EntryMeta, Kind, Reason, Timestamp};
    ///
    /// let meta = EntryMeta {
    ///     reason: Reason::SCAM_CALL,
    ///     agency: Agency::new("th-aoc").unwrap(),
    ///     listed_at: Timestamp(1_700_000_000),
    ///     expires_at: None,
    /// };
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("list.idx");
    /// let first = [(Kind::Number, "+66812345678", &meta)];
    /// IndexBuilder::new(1, [1; 32], Timestamp(1)).write(&path, || first.iter().copied())?;
    ///
    /// let old = LookupIndex::open(&path)?;
    /// let stats = old.write_updated(
    ///     &path,
    ///     2,
    ///     [2; 32],
    ///     Timestamp(2),
    ///     [(Kind::Number, "+66812345678")],
    ///     [(Kind::Number, "+66899999999", &meta)],
    /// )?;
    /// assert_eq!(stats.entries, 1);
    /// let new = LookupIndex::open(&path)?;
    /// let now = Timestamp(1_800_000_000);
    /// assert!(new.lookup_canonical(Kind::Number, "+66899999999", now).is_some());
    /// assert!(new.lookup_canonical(Kind::Number, "+66812345678", now).is_none());
    /// # Ok::<(), blocklist_lookup::index::IndexError>(())
    /// ```
    #[allow(clippy::too_many_arguments)] // the header fields, then the change set
    pub fn write_updated<R, RS, A, AS, M>(
        &self,
        path: &Path,
        list_version: u64,
        state_digest: [u8; 32],
        created_at: Timestamp,
        removed: R,
        added: A,
    ) -> Result<IndexStats, IndexError>
    where
        R: IntoIterator<Item = (Kind, RS)>,
        RS: AsRef<str>,
        A: IntoIterator<Item = (Kind, AS, M)>,
        AS: AsRef<str>,
        M: Into<Standing>,
    {
        let base = self.base();
        let seed = base.seed;
        let mut table = Editor::of(base.buckets(), base.home_buckets, base.header.entries);
        let mut agencies = AgencyTable::of(&base.agencies);
        let too_full = |entries: u64, table: &Editor| IndexError::UpdateNeedsRebuild {
            entries,
            slots: table.home_slots(),
        };
        // The overlay's changes first: each replaces or hides the base's record.
        for change in self.overlay_changes() {
            let key = key_hash(seed, change.kind, &change.value);
            table.remove(&key);
            if let Some(meta) = &change.standing {
                let record = Record {
                    key,
                    meta: pack(change.kind, &change.value, meta, &mut agencies)?,
                };
                match table.add(&record) {
                    Ok(()) => {}
                    Err(AddFault::Present) => {
                        return Err(IndexError::DuplicateEntry {
                            kind: change.kind,
                            value: change.value.clone(),
                        })
                    }
                    Err(AddFault::TooFar) => return Err(too_full(table.entries() + 1, &table)),
                }
            }
        }
        for (kind, value) in removed {
            let value = value.as_ref();
            if !table.remove(&key_hash(seed, kind, value)) {
                return Err(IndexError::NotInIndex {
                    kind,
                    value: value.to_owned(),
                });
            }
        }
        for (kind, value, meta) in added {
            let (value, standing) = (value.as_ref(), meta.into());
            let record = Record {
                key: key_hash(seed, kind, value),
                meta: pack(kind, value, &standing, &mut agencies)?,
            };
            match table.add(&record) {
                Ok(()) => {}
                Err(AddFault::Present) => {
                    return Err(IndexError::DuplicateEntry {
                        kind,
                        value: value.to_owned(),
                    })
                }
                Err(AddFault::TooFar) => return Err(too_full(table.entries() + 1, &table)),
            }
        }
        let (entries, slots) = (table.entries(), table.home_slots());
        if entries * MAX_UPDATED_LOAD.1 > slots * MAX_UPDATED_LOAD.0 {
            return Err(too_full(entries, &table));
        }
        let header = IndexHeader {
            list_version,
            state_digest,
            created_at,
            entries,
        };
        // `entries` fits a usize: it counts slots of a table held in memory.
        let table = table.finish();
        let contents = Contents::full(seed, &table, entries as usize, &agencies.names);
        write_file(path, &header, &contents)
    }
}
