//! The exact set: a bucketed hash table of 64-bit fingerprints with each
//! entry's metadata stored inline, so a hit reads one cache line.
//!
//! A bucket is one 64-byte cache line holding [`SLOTS`] entries. A key's home
//! bucket comes from its position hash; each entry sits in its home bucket or,
//! when that is full, a later bucket with room, and records how far from home
//! it sits (`home_offset`). Each bucket records in `spill` how far past it the
//! entries homed there reach, so a lookup scans `home..=home + spill` and
//! stops: no probing until an empty slot, and the table never wraps (the last
//! home bucket is followed by `max_spill` overflow buckets).
//!
//! A slot matches a lookup only if both its fingerprint and its home offset
//! agree, so entries homed elsewhere can never answer for a key, and the
//! table can be edited in place ([`Editor`]): the offset tells each entry's
//! home, which is what a removal needs to shrink a `spill` and an update
//! needs to check that fingerprints stay distinct per home.

use super::format::AgencyRecord;
use super::hash::{reduce, KeyHash};
use super::mem::Plain;
use crate::entry::{EntryMeta, Reason, Standing, Timestamp};

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
    /// How many buckets after its home bucket each entry sits; 0 for an empty slot.
    home_offset: [u8; SLOTS],
    /// How many buckets after this one hold entries homed here.
    spill: u8,
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

impl PackedMeta {
    /// The standing this record holds, its agency record `agency` (the
    /// one it indexes) resolved.
    pub(crate) fn standing(&self, (agency, listings): &AgencyRecord) -> Standing {
        Standing {
            meta: EntryMeta {
                reason: Reason(self.reason),
                agency: agency.clone(),
                listed_at: Timestamp(u64::from(self.listed_at)),
                expires_at: (self.expires_at != NEVER)
                    .then_some(Timestamp(u64::from(self.expires_at))),
            },
            listings: *listings,
        }
    }
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

    fn put(&mut self, slot: usize, record: &Record, home_offset: u8) {
        self.fingerprint[slot] = record.key.fingerprint.to_le();
        self.home_offset[slot] = home_offset;
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

    fn clear(&mut self, slot: usize) {
        self.fingerprint[slot] = 0;
        self.listed_at[slot] = 0;
        self.expires_at[slot] = 0;
        self.reason[slot] = 0;
        self.agency[slot] = 0;
        self.home_offset[slot] = 0;
    }

    pub(crate) fn spill(&self) -> usize {
        usize::from(self.spill)
    }

    /// The fingerprints of the taken slots.
    pub(crate) fn fingerprints(&self) -> impl Iterator<Item = u64> + '_ {
        self.fingerprint
            .iter()
            .map(|&f| u64::from_le(f))
            .filter(|&f| f != 0)
    }

    /// Whether `slot` holds the entry with fingerprint `wanted` (stored form)
    /// homed `offset` buckets before this one.
    #[inline(always)]
    fn holds(&self, slot: usize, wanted: u64, offset: usize) -> bool {
        (self.fingerprint[slot] == wanted) & (usize::from(self.home_offset[slot]) == offset)
    }

    /// Bit `slot` set for each slot that [`holds`](Self::holds) the entry
    /// (at most one does). All slots are tested at once rather than with a
    /// branch each: which slot a hit sits in varies from query to query.
    #[inline(always)]
    fn slots_holding(&self, wanted: u64, offset: usize) -> u32 {
        (0..SLOTS).fold(0, |slots, slot| {
            slots | u32::from(self.holds(slot, wanted, offset)) << slot
        })
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

/// Places `records` into `home_buckets` buckets. `None` if some entry would
/// land more than 255 buckets past its home; the caller retries with more
/// buckets. Records sorted by `key.position` (that is, by home bucket) place
/// fastest; any order gives a valid table. The records must have distinct
/// fingerprints per home (the builder checks they are distinct overall).
pub(crate) fn place(records: &[Record], home_buckets: usize) -> Option<Table> {
    let mut editor = Editor {
        buckets: vec![Bucket::default(); home_buckets],
        home_buckets,
        entries: 0,
    };
    for record in records {
        match editor.add(record) {
            Ok(()) => {}
            Err(AddFault::TooFar) => return None,
            // Unreachable for distinct fingerprints; treated like a full
            // table so that the caller's retry cannot loop on it silently.
            Err(AddFault::Present) => return None,
        }
    }
    Some(editor.finish())
}

/// Why [`Editor::add`] refused an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddFault {
    /// An entry with the same home and fingerprint is already there: the
    /// same identifier (or, with probability about 2⁻⁶⁴ per entry in the
    /// home's range, a different one the seed cannot tell apart).
    Present,
    /// The nearest free slot is more than 255 buckets past the home bucket.
    TooFar,
}

/// A table being built or edited in memory. Removals and additions keep
/// every `spill` exact (the smallest that covers the entries homed there);
/// the number of home buckets never changes, overflow buckets are added as
/// needed and trimmed by [`finish`](Editor::finish).
pub(crate) struct Editor {
    buckets: Vec<Bucket>,
    home_buckets: usize,
    entries: u64,
}

impl Editor {
    /// Edits a copy of a validated table (see [`validate`]).
    pub(crate) fn of(buckets: &[Bucket], home_buckets: usize, entries: u64) -> Editor {
        Editor {
            buckets: buckets.to_vec(),
            home_buckets,
            entries,
        }
    }

    /// Entries in the table now.
    pub(crate) fn entries(&self) -> u64 {
        self.entries
    }

    /// Slots a key can be homed in.
    pub(crate) fn home_slots(&self) -> u64 {
        (self.home_buckets * SLOTS) as u64
    }

    /// Removes the entry with this key; `false` if there is none.
    pub(crate) fn remove(&mut self, key: &KeyHash) -> bool {
        let home = home_of(key, self.home_buckets);
        let Some((at, slot)) = locate(&self.buckets, home, key.fingerprint) else {
            return false;
        };
        self.buckets[at].clear(slot);
        self.entries -= 1;
        if at - home == self.buckets[home].spill() {
            // The farthest entry of this home left: shrink its spill to the
            // farthest one that remains.
            let reach = (0..=at - home)
                .rev()
                .find(|&offset| {
                    let bucket = &self.buckets[home + offset];
                    (0..SLOTS)
                        .any(|s| !bucket.is_free(s) && usize::from(bucket.home_offset[s]) == offset)
                })
                .unwrap_or(0);
            // `reach` < 256: it is at most the old spill.
            self.buckets[home].spill = reach as u8;
        }
        true
    }

    /// Adds an entry in the first free slot at or after its home bucket.
    pub(crate) fn add(&mut self, record: &Record) -> Result<(), AddFault> {
        let home = home_of(&record.key, self.home_buckets);
        if locate(&self.buckets, home, record.key.fingerprint).is_some() {
            return Err(AddFault::Present);
        }
        let mut at = home;
        loop {
            let offset = u8::try_from(at - home).map_err(|_| AddFault::TooFar)?;
            if at == self.buckets.len() {
                self.buckets.push(Bucket::default());
            }
            if let Some(slot) = (0..SLOTS).find(|&s| self.buckets[at].is_free(s)) {
                self.buckets[at].put(slot, record, offset);
                self.buckets[home].spill = self.buckets[home].spill.max(offset);
                self.entries += 1;
                return Ok(());
            }
            at += 1;
        }
    }

    /// The finished table: home buckets, then as many overflow buckets as
    /// the largest spill (every entry lies within them; the rest are empty).
    pub(crate) fn finish(mut self) -> Table {
        let max_spill = self.buckets[..self.home_buckets]
            .iter()
            .map(Bucket::spill)
            .max()
            .unwrap_or(0);
        self.buckets
            .resize(self.home_buckets + max_spill, Bucket::default());
        Table {
            buckets: self.buckets,
            home_buckets: self.home_buckets,
            max_spill,
        }
    }
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
    locate(buckets, home, key.fingerprint).and_then(|(at, slot)| buckets[at].meta(slot))
}

/// The bucket and slot of the entry homed at `home` with fingerprint
/// `fingerprint`, if there is one.
#[inline(always)]
fn locate(buckets: &[Bucket], home: usize, fingerprint: u64) -> Option<(usize, usize)> {
    let spill = buckets[home].spill();
    let wanted = fingerprint.to_le();
    // A plain loop: two branches per bucket, where an inclusive range
    // iterator added a third, and hits mispredicted on them.
    let mut offset = 0;
    loop {
        let slots = buckets[home + offset].slots_holding(wanted, offset);
        if slots != 0 {
            return Some((home + offset, slots.trailing_zeros() as usize));
        }
        if offset == spill {
            return None;
        }
        offset += 1;
    }
}

/// What [`validate`] found wrong.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TableFault {
    /// A bucket's spill reaches past the table's overflow buckets.
    SpillTooFar { bucket: usize, spill: usize },
    /// A slot names an agency the file does not have.
    UnknownAgency { bucket: usize, agency: u16 },
    /// A slot's home offset points before the table, past a home bucket, or
    /// beyond its home's spill (lookups could not find it), or an empty slot
    /// has one.
    BadHomeOffset { bucket: usize, slot: usize },
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
            TableFault::BadHomeOffset { bucket, slot } => {
                write!(
                    f,
                    "bucket {bucket} slot {slot} has a home offset lookups cannot follow"
                )
            }
            TableFault::WrongCount { found, expected } => {
                write!(f, "table holds {found} entries, header says {expected}")
            }
        }
    }
}

/// Checks everything [`find`], metadata decoding and [`Editor`] rely on,
/// once at open: spills stay inside the table, every entry lies within its
/// home's spill, agencies exist, and the entry count matches.
pub(crate) fn validate(
    buckets: &[Bucket],
    home_buckets: usize,
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
        for slot in 0..SLOTS {
            let offset = usize::from(bucket.home_offset[slot]);
            let findable = match bucket.meta(slot) {
                None => offset == 0,
                Some(_) => index
                    .checked_sub(offset)
                    .is_some_and(|home| home < home_buckets && offset <= buckets[home].spill()),
            };
            if !findable {
                return Err(TableFault::BadHomeOffset {
                    bucket: index,
                    slot,
                });
            }
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
        validate(&table.buckets, table.home_buckets, 1, records.len() as u64).expect("valid");
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
            validate(&buckets, 2, 0, 0),
            Err(TableFault::SpillTooFar {
                bucket: 1,
                spill: 1
            })
        );
    }
}
