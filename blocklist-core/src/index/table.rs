//! The exact set: a bucketed hash table of 64-bit fingerprints with each
//! entry's metadata stored inline, so a hit reads one cache line.
//!
//! A bucket is one 64-byte cache line holding [`SLOTS`] entries. A key's home
//! bucket comes from its position hash; the builder places entries in home
//! order, each in its home bucket or, when that is full, the next bucket with
//! room. Each bucket records in `spill` how far past it the entries homed there
//! reach, so a lookup scans `home..=home + spill` and stops: no probing until
//! an empty slot, and the table never wraps (the last home bucket is followed
//! by `max_spill` overflow buckets).

use super::hash::{reduce, KeyHash};
use super::mem::Plain;

/// Entries per bucket: three 20-byte entries fill a cache line with the
/// 4-byte bucket header.
pub(crate) const SLOTS: usize = 3;

/// Target fill of the home buckets, as entries per slot (numerator,
/// denominator): 0.8 keeps spills short while costing 26.7 bytes per entry.
const LOAD: (usize, usize) = (4, 5);

/// The stored `expires_at` of an entry that never expires.
pub(crate) const NEVER: u32 = u32::MAX;

/// One table bucket. Fields hold little-endian values, converted on access.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Bucket {
    /// Key fingerprints; 0 marks an empty slot.
    fingerprint: [u64; SLOTS],
    /// Seconds since the Unix epoch.
    listed_at: [u32; SLOTS],
    /// Seconds since the Unix epoch; [`NEVER`] for no expiry.
    expires_at: [u32; SLOTS],
    reason: [u16; SLOTS],
    /// Index into the file's agency table.
    agency: [u16; SLOTS],
    /// How many buckets after this one hold entries homed here.
    spill: u8,
    reserved: [u8; 3],
}

const _: () = assert!(std::mem::size_of::<Bucket>() == 64);

// SAFETY: repr(C) integers laid out without padding (asserted 64 bytes above).
unsafe impl Plain for Bucket {}

/// An entry's metadata in stored form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PackedMeta {
    pub(crate) reason: u16,
    pub(crate) agency: u16,
    pub(crate) listed_at: u32,
    pub(crate) expires_at: u32,
}

/// An entry as the builder places it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record {
    pub(crate) key: KeyHash,
    pub(crate) meta: PackedMeta,
}

impl Bucket {
    fn is_free(&self, slot: usize) -> bool {
        self.fingerprint[slot] == 0
    }

    fn put(&mut self, slot: usize, record: &Record) {
        self.fingerprint[slot] = record.key.fingerprint.to_le();
        self.listed_at[slot] = record.meta.listed_at.to_le();
        self.expires_at[slot] = record.meta.expires_at.to_le();
        self.reason[slot] = record.meta.reason.to_le();
        self.agency[slot] = record.meta.agency.to_le();
    }

    /// The metadata in `slot`, and whether the slot is taken.
    pub(crate) fn meta(&self, slot: usize) -> Option<PackedMeta> {
        (!self.is_free(slot)).then(|| PackedMeta {
            reason: u16::from_le(self.reason[slot]),
            agency: u16::from_le(self.agency[slot]),
            listed_at: u32::from_le(self.listed_at[slot]),
            expires_at: u32::from_le(self.expires_at[slot]),
        })
    }

    pub(crate) fn spill(&self) -> usize {
        usize::from(self.spill)
    }
}

/// A placed table, ready to write.
pub(crate) struct Table {
    /// `home_buckets + max_spill` buckets.
    pub(crate) buckets: Vec<Bucket>,
    /// Buckets a key can hash to.
    pub(crate) home_buckets: usize,
    /// The largest `spill` of any bucket.
    pub(crate) max_spill: usize,
}

/// How many home buckets a table for `entries` entries starts with.
pub(crate) fn home_bucket_count(entries: usize) -> usize {
    (entries.saturating_mul(LOAD.1))
        .div_ceil(SLOTS * LOAD.0)
        .max(1)
}

/// Places `records`, which must be sorted by `key.position` (that is, by home
/// bucket), into `home_buckets` buckets. `None` if some entry would land more
/// than 255 buckets past its home; the caller retries with more buckets.
pub(crate) fn place(records: &[Record], home_buckets: usize) -> Option<Table> {
    let mut buckets = vec![Bucket::default(); home_buckets];
    // The first bucket that may still have a free slot: placement in home
    // order never needs to look behind it.
    let mut cursor = 0usize;
    let mut max_spill = 0usize;
    for record in records {
        let home = reduce(record.key.position, home_buckets);
        cursor = cursor.max(home);
        loop {
            if cursor == buckets.len() {
                buckets.push(Bucket::default());
            }
            if let Some(slot) = (0..SLOTS).find(|&s| buckets[cursor].is_free(s)) {
                buckets[cursor].put(slot, record);
                break;
            }
            cursor += 1;
        }
        let spill = cursor - home;
        let spill_byte = u8::try_from(spill).ok()?;
        buckets[home].spill = buckets[home].spill.max(spill_byte);
        max_spill = max_spill.max(spill);
    }
    buckets.resize(home_buckets + max_spill, Bucket::default());
    Some(Table {
        buckets,
        home_buckets,
        max_spill,
    })
}

/// The home bucket of a key. `home_buckets` is never 0.
#[inline(always)]
pub(crate) fn home_of(key: &KeyHash, home_buckets: usize) -> usize {
    reduce(key.position, home_buckets)
}

/// Finds a key's metadata. `buckets` must have passed [`validate`] with
/// `home_buckets`, which keeps every index below in range.
#[inline(always)]
pub(crate) fn find(buckets: &[Bucket], home_buckets: usize, key: &KeyHash) -> Option<PackedMeta> {
    let home = home_of(key, home_buckets);
    let spill = buckets[home].spill();
    let wanted = key.fingerprint.to_le();
    for bucket in &buckets[home..=home + spill] {
        for slot in 0..SLOTS {
            if bucket.fingerprint[slot] == wanted {
                return bucket.meta(slot);
            }
        }
    }
    None
}

/// What [`validate`] found wrong.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TableFault {
    /// A bucket's spill reaches past the table's overflow buckets.
    SpillTooFar { bucket: usize, spill: usize },
    /// A slot names an agency the file does not have.
    UnknownAgency { bucket: usize, agency: u16 },
    /// The number of taken slots differs from the header's entry count.
    WrongCount { found: u64, expected: u64 },
}

impl std::fmt::Display for TableFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TableFault::SpillTooFar { bucket, spill } => {
                write!(f, "bucket {bucket} spills {spill} buckets past the table")
            }
            TableFault::UnknownAgency { bucket, agency } => {
                write!(
                    f,
                    "bucket {bucket} names agency #{agency}, which is not in the file"
                )
            }
            TableFault::WrongCount { found, expected } => {
                write!(f, "table holds {found} entries, header says {expected}")
            }
        }
    }
}

/// Checks everything [`find`] and metadata decoding rely on, once at open:
/// spills stay inside the table, agencies exist, and the entry count matches.
pub(crate) fn validate(
    buckets: &[Bucket],
    agencies: usize,
    expected_entries: u64,
) -> Result<(), TableFault> {
    let mut found = 0u64;
    for (index, bucket) in buckets.iter().enumerate() {
        if index + bucket.spill() >= buckets.len() {
            return Err(TableFault::SpillTooFar {
                bucket: index,
                spill: bucket.spill(),
            });
        }
        for meta in (0..SLOTS).filter_map(|slot| bucket.meta(slot)) {
            found += 1;
            if usize::from(meta.agency) >= agencies {
                return Err(TableFault::UnknownAgency {
                    bucket: index,
                    agency: meta.agency,
                });
            }
        }
    }
    if found != expected_entries {
        return Err(TableFault::WrongCount {
            found,
            expected: expected_entries,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::hash::key_hash;
    use crate::kind::Kind;

    fn records(n: usize) -> Vec<Record> {
        let mut records: Vec<Record> = (0..n)
            .map(|i| Record {
                key: key_hash(3, Kind::Account, &format!("TH:004:{i:010}")),
                meta: PackedMeta {
                    reason: (i % 7) as u16,
                    agency: 0,
                    listed_at: i as u32,
                    expires_at: NEVER,
                },
            })
            .collect();
        records.sort_unstable_by_key(|r| r.key.position);
        records
    }

    #[test]
    fn every_placed_record_is_found_with_its_metadata() {
        let records = records(50_000);
        let table = place(&records, home_bucket_count(records.len())).expect("placed");
        validate(&table.buckets, 1, records.len() as u64).expect("valid");
        for r in &records {
            assert_eq!(
                find(&table.buckets, table.home_buckets, &r.key),
                Some(r.meta)
            );
        }
    }

    #[test]
    fn overfull_table_spills_into_overflow_buckets_without_wrapping() {
        let records = records(30);
        // Ten slots' worth of home buckets for 30 entries: most spill.
        let table = place(&records, 1).expect("placed");
        assert_eq!(table.buckets.len(), 10);
        assert_eq!(table.max_spill, 9);
        for r in &records {
            assert!(find(&table.buckets, 1, &r.key).is_some());
        }
    }

    #[test]
    fn validate_rejects_a_spill_past_the_end() {
        let mut buckets = vec![Bucket::default(); 2];
        buckets[1].spill = 1;
        assert_eq!(
            validate(&buckets, 0, 0),
            Err(TableFault::SpillTooFar {
                bucket: 1,
                spill: 1
            })
        );
    }
}
