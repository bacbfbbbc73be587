//! Overlays: a list version as a small file of recent changes stacked on a
//! full index (its base), so that a change costs what it changes.
//!
//! An overlay is an index file like any other (same sections, same lookups)
//! hashed with its base's seed, so a lookup hashes each key once and probes
//! the overlay, then the base. It records every identifier changed since the
//! base was written: an addition or update as the entry, a removal as a
//! record that never matches (stored `expires_at` 0, a time every lookup is
//! past, and `listed_at` 2^32-1, a time no entry carries, so that an entry
//! that expired at the epoch stays an entry), which hides the base's record. Its header names the base by the
//! base's checksum, and the base lives beside it as
//! `<overlay file name>.base-<checksum as 16 hex digits>`; its key section
//! spells out each identifier, so the next overlay (or a merge into a new
//! base) is written from the files alone.
//!
//! Publishing a version writes only the overlay, renamed over the published
//! path: the base is never rewritten, and a reader swaps the overlay while
//! keeping its map of the base. A writer merges when the overlay grows
//! (writing a whole new base beside the old one, then an overlay naming it),
//! and removes a base only after the overlay naming it was replaced, so
//! every path a reader opens names a whole version.

use std::collections::HashMap;
use std::path::Path;

use super::build::{pack, place_with_growth, write_file, AgencyTable, Contents};
use super::error::IndexError;
use super::format::{IndexHeader, IndexStats, Stacking, MAX_KEY_LEN};
use super::hash::key_hash;
use super::layer::encode_keys;
use super::lookup::{base_path, LookupIndex};
use super::table::{PackedMeta, Record};
use crate::entry::{Agency, EntryMeta, Reason, Standing, Timestamp};
use crate::kind::Kind;

/// One change to the list, as an overlay records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The identifier's kind.
    pub kind: Kind,
    /// The identifier, canonical.
    pub value: String,
    /// The identifier's standing as of the change (its listings, made one
    /// record); `None` once it has none.
    pub standing: Option<Standing>,
}

/// The stored `listed_at` that marks a removal: past
/// [`EntryMeta::LAST_TIME`], so no entry carries it.
const REMOVED_LISTED_AT: u32 = u32::MAX;

/// The stored form of a removal: it expires at the epoch, so it never
/// matches, and is listed at a time no entry is (an entry may expire at the
/// epoch: it must stay an entry, counted). Its other fields carry nothing.
fn removal() -> EntryMeta {
    EntryMeta {
        reason: Reason(0),
        agency: Agency::new("removed").expect("a valid agency id"),
        listed_at: Timestamp(u64::from(REMOVED_LISTED_AT)),
        expires_at: Some(Timestamp(0)),
    }
}

/// Whether an overlay's record is an entry, not a removal.
fn is_entry(meta: &PackedMeta) -> bool {
    meta.expires_at != 0 || meta.listed_at != REMOVED_LISTED_AT
}

impl LookupIndex {
    /// The record of exactly `canonical` (no parent domain), expired or
    /// not: its standing, or `None` when it is not in the index (or an
    /// overlay removed it). For a writer working out the next version, not
    /// for lookups.
    pub fn standing(&self, kind: Kind, canonical: &str) -> Option<Standing> {
        let key = key_hash(self.base().seed, kind, canonical);
        if let Some(overlay) = self.overlay() {
            if let Some(meta) = overlay.find(&key) {
                return is_entry(&meta).then(|| overlay.unpack(meta));
            }
        }
        self.base().find(&key).map(|meta| self.base().unpack(meta))
    }

    /// The changes its overlay records (none without one), in file order.
    pub fn overlay_changes(&self) -> Vec<Change> {
        let Some(overlay) = self.overlay() else {
            return Vec::new();
        };
        overlay
            .keys
            .iter()
            .filter_map(|(kind, value)| {
                // Open checked that every key names a record.
                let meta = overlay.find(&key_hash(overlay.seed, *kind, value))?;
                Some(Change {
                    kind: *kind,
                    value: value.clone(),
                    standing: is_entry(&meta).then(|| overlay.unpack(meta)),
                })
            })
            .collect()
    }

    /// Writes atomically at `to` an overlay for the list version given by
    /// `header` (its `entries` the version's entry count), holding this
    /// index's overlay changes with `changes` applied after them (a later
    /// change of an identifier replaces an earlier one), stacked on this
    /// index's base; `published` is where the overlay will be read from
    /// (`to`, or the path a staged `to` will be renamed to), which names
    /// where the base must be.
    ///
    /// A full index can be a base only at that name: see
    /// [`adopt_base`](Self::adopt_base). The base is not touched. Values are
    /// canonical, as for [`IndexBuilder`](super::IndexBuilder).
    ///
    /// ```
    /// use blocklist_lookup::index::{Change, IndexBuilder, IndexHeader, LookupIndex};
    /// use blocklist_lookup::{Agency, EntryMeta, Kind, Reason, Standing, Timestamp};
    ///
    /// let meta = EntryMeta {
    ///     reason: Reason::SCAM_CALL,
    ///     agency: Agency::new("th-aoc").unwrap(),
    ///     listed_at: Timestamp(1_700_000_000),
    ///     expires_at: None,
    /// };
    /// let dir = tempfile::tempdir().unwrap();
    /// let (built, published) = (dir.path().join("built"), dir.path().join("lookup.idx"));
    /// let first = [(Kind::Number, "+66812345678", &meta)];
    /// IndexBuilder::new(1, [1; 32], Timestamp(1)).write(&built, || first.iter().copied())?;
    /// let base = LookupIndex::adopt_base(&built, &published)?;
    ///
    /// let changes = [
    ///     Change { kind: Kind::Number, value: "+66812345678".into(), standing: None },
    ///     Change { kind: Kind::Number, value: "+66899999999".into(), standing: Some(Standing::one(meta.clone())) },
    /// ];
    /// let version_2 = IndexHeader::new(2, [2; 32], Timestamp(2), 1);
    /// base.write_overlay(&published, &published, &version_2, changes)?;
    /// let index = LookupIndex::open(&published)?;
    /// let now = Timestamp(1_800_000_000);
    /// assert_eq!(index.header().list_version, 2);
    /// assert!(index.lookup_canonical(Kind::Number, "+66899999999", now).is_some());
    /// assert!(index.lookup_canonical(Kind::Number, "+66812345678", now).is_none());
    /// # Ok::<(), blocklist_lookup::index::IndexError>(())
    /// ```
    pub fn write_overlay(
        &self,
        published: &Path,
        to: &Path,
        header: &IndexHeader,
        changes: impl IntoIterator<Item = Change>,
    ) -> Result<IndexStats, IndexError> {
        let base = self.base();
        let expected = base_path(published, base.checksum);
        if base.path != expected {
            return Err(IndexError::BaseNotPlaced {
                base: base.path.clone(),
                published: published.to_owned(),
                expected,
            });
        }
        let mut latest: HashMap<(Kind, String), Option<Standing>> = HashMap::new();
        for change in self.overlay_changes().into_iter().chain(changes) {
            latest.insert((change.kind, change.value), change.standing);
        }
        let removal = Standing::one(removal());
        let mut agencies = AgencyTable::default();
        let mut records = Vec::with_capacity(latest.len());
        for ((kind, value), meta) in &latest {
            if value.len() > MAX_KEY_LEN {
                return Err(IndexError::TooLongForOverlay {
                    kind: *kind,
                    value: value.clone(),
                });
            }
            // An entry listed past the last time would read back as a removal.
            if let Some(time) = meta
                .as_ref()
                .map(|m| m.meta.listed_at)
                .filter(|&t| t > EntryMeta::LAST_TIME)
            {
                return Err(IndexError::TimeOutOfRange {
                    kind: *kind,
                    value: value.clone(),
                    field: "listed_at",
                    time,
                });
            }
            records.push(Record {
                key: key_hash(base.seed, *kind, value),
                meta: pack(
                    *kind,
                    value,
                    meta.as_ref().unwrap_or(&removal),
                    &mut agencies,
                )?,
            });
        }
        records.sort_unstable_by_key(|r| r.key.fingerprint);
        if let Some(pair) = records
            .windows(2)
            .find(|pair| pair[0].key.fingerprint == pair[1].key.fingerprint)
        {
            let clashing = pair[1].key;
            let (kind, value) = latest
                .keys()
                .find(|(kind, value)| key_hash(base.seed, *kind, value) == clashing)
                .expect("every record was hashed from a key");
            return Err(IndexError::FingerprintClash {
                kind: *kind,
                value: value.clone(),
            });
        }
        records.sort_unstable_by_key(|r| r.key.position);
        let table = place_with_growth(&records);
        let keys = encode_keys(latest.keys().map(|(kind, value)| (*kind, value.as_str())));
        let list_entries = header.entries;
        // The file's own header counts its records (`write_file` sets them).
        let header = IndexHeader {
            entries: 0,
            ..header.clone()
        };
        let contents = Contents {
            seed: base.seed,
            table: &table,
            entries: records.len(),
            agencies: &agencies.names,
            stacking: Stacking {
                base_checksum: base.checksum,
                list_entries,
            },
            keys: &keys,
        };
        let written = write_file(to, &header, &contents)?;
        Ok(IndexStats {
            entries: list_entries,
            overlay_entries: records.len() as u64,
            ..written
        })
    }

    /// Opens the full index at `built` (written by
    /// [`IndexBuilder::write`](super::IndexBuilder::write) or
    /// [`write_updated`](Self::write_updated)) and renames it to the name a
    /// base of an overlay published at `published` has, durably; returns
    /// it, opened there, to [`write_overlay`](Self::write_overlay) on.
    pub fn adopt_base(built: &Path, published: &Path) -> Result<LookupIndex, IndexError> {
        let index = LookupIndex::open(built)?;
        if index.overlay().is_some() {
            return Err(IndexError::corrupt(built, "an overlay cannot be a base"));
        }
        let to = base_path(published, index.base().checksum);
        super::atomic::publish_file(built, &to)?;
        index.renamed(&to)
    }
}

/// Removes the bases beside `published` other than those in `keep` (the one
/// the overlay there names, a merge's new one): left by merges whose overlay
/// was since replaced, or by a writer killed mid-merge. Best effort: a
/// leftover costs only disk space. Readers still mapping a removed base
/// keep it until they let go.
pub fn remove_unused_bases(published: &Path, keep: &[&Path]) {
    let (Some(dir), Some(name)) = (published.parent(), published.file_name()) else {
        return;
    };
    let prefix = format!("{}.base-", name.to_string_lossy());
    let listing = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Ok(entries) = std::fs::read_dir(listing) else {
        return;
    };
    for entry in entries.flatten() {
        let path = dir.join(entry.file_name());
        let is_base = entry
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .is_some_and(|hex| hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()));
        if is_base && !keep.contains(&path.as_path()) {
            let _ = std::fs::remove_file(&path);
        }
    }
}
