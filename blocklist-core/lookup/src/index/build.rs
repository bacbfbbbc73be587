//! [`IndexBuilder`]: turns the store's entries into an index file.
//!
//! The builder keeps one 32-byte record per entry (its hash and packed
//! metadata), never the identifier text: 10 million entries need about 320 MB
//! of records plus the 270 MB image being written. [`write_file`] writes
//! every index file, built here or updated by `update`.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use super::atomic::replace_file;
use super::error::IndexError;
use super::filter;
use super::format::{
    encode_agency, encode_header, AgencyRecord, Checksum, IndexHeader, IndexStats, Layout,
    Stacking, MAX_AGENCIES,
};
use super::hash::key_hash;
use super::mem::bytes_of;
use super::table::{self, PackedMeta, Record, NEVER};
use crate::entry::{EntryMeta, Standing, Timestamp};
use crate::kind::Kind;

/// How many seeds to try before giving up on distinct fingerprints. One
/// attempt fails with probability about n²/2⁶⁵ (3e-6 at 10 million entries).
const SEED_ATTEMPTS: u32 = 8;

/// Builds an index file from a list version's entries.
///
/// The entries come from a closure that returns a fresh iterator each time it
/// is called: the builder normally reads them once, and again only in the
/// rare case that it must pick another seed or name a duplicate. Values must be
/// canonical (as the store holds them); lookups normalise queries to match.
///
/// ```
/// use blocklist_lookup::index::{IndexBuilder, LookupIndex};
/// use blocklist_lookup::{Agency, EntryMeta, Identifier, Kind, Reason, Rules, Timestamp};
///
/// let rules = Rules::default();
/// let number = Identifier::parse(Kind::Number, "081-234-5678", &rules).unwrap();
/// let meta = EntryMeta {
///     reason: Reason::SCAM_CALL,
///     agency: Agency::new("th-aoc").unwrap(),
///     listed_at: Timestamp(1_700_000_000),
///     expires_at: None,
/// };
/// let entries = [(number.kind(), number.as_str(), &meta)];
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("list.idx");
/// IndexBuilder::new(42, [0; 32], Timestamp(1_700_000_000))
///     .write(&path, || entries.iter().copied())
///     .unwrap();
///
/// let index = LookupIndex::open(&path).unwrap();
/// assert_eq!(index.header().list_version, 42);
/// let hit = index.check_now(Kind::Number, "081-234-5678", &rules).unwrap();
/// assert_eq!(hit.map(|h| h.reason), Some(Reason::SCAM_CALL));
/// ```
#[derive(Clone, Debug)]
pub struct IndexBuilder {
    header: IndexHeader,
    seed: Option<u64>,
}

impl IndexBuilder {
    /// A builder for the given list version, state digest and data time.
    pub fn new(list_version: u64, state_digest: [u8; 32], created_at: Timestamp) -> IndexBuilder {
        IndexBuilder {
            header: IndexHeader::new(list_version, state_digest, created_at, 0),
            seed: None,
        }
    }

    /// Uses `seed` (and seeds derived from it) instead of a random one, for
    /// reproducible files. A random seed keeps which unlisted identifiers
    /// share a filter block with listed ones different in every index.
    pub fn seed(mut self, seed: u64) -> IndexBuilder {
        self.seed = Some(seed);
        self
    }

    /// Builds the index and writes it atomically to `path` (temporary file,
    /// fsync, rename, fsync of the directory). Returns the file's statistics.
    pub fn write<F, I, S, M>(&self, path: &Path, mut entries: F) -> Result<IndexStats, IndexError>
    where
        F: FnMut() -> I,
        I: IntoIterator<Item = (Kind, S, M)>,
        S: AsRef<str>,
        M: Borrow<EntryMeta>,
    {
        let mut seed = self.first_seed()?;
        for _ in 0..SEED_ATTEMPTS {
            let entries_now = entries().into_iter();
            let mut hashed = HashedEntries::new(seed, entries_now.size_hint().0);
            for (kind, value, meta) in entries_now {
                hashed.add(kind, value.as_ref(), meta.borrow())?;
            }
            match self.write_or_repeat(path, hashed)? {
                Some(stats) => return Ok(stats),
                None => seed = xxhash_rust::xxh3::xxh3_64(&seed.to_le_bytes()),
            }
        }
        Err(IndexError::SeedsExhausted {
            attempts: SEED_ATTEMPTS,
        })
    }

    /// Starts hashing entries as they come from elsewhere (a snapshot being
    /// applied), for [`IndexBuilder::write_hashed`]: the index is then built
    /// without reading the entries again. `expected` entries are made room for.
    pub fn hasher(&self, expected: u64) -> Result<HashedEntries, IndexError> {
        Ok(HashedEntries::new(
            self.first_seed()?,
            usize::try_from(expected).unwrap_or(0),
        ))
    }

    /// Writes, as [`IndexBuilder::write`] does, the index of the entries in
    /// `hashed`. `Ok(None)` when two of them share a fingerprint under its
    /// seed (about 3 in a million at 10 million entries): the entries are
    /// needed again, for [`IndexBuilder::write`].
    pub fn write_hashed(
        &self,
        path: &Path,
        hashed: HashedEntries,
    ) -> Result<Option<IndexStats>, IndexError> {
        self.write_or_repeat(path, hashed)
    }

    fn first_seed(&self) -> Result<u64, IndexError> {
        match self.seed {
            Some(seed) => Ok(seed),
            None => getrandom::u64().map_err(|e| IndexError::RandomUnavailable {
                reason: e.to_string(),
            }),
        }
    }

    /// Writes the index of `hashed`, each identifier's listings made one
    /// record, unless two identifiers share a fingerprint (`None`).
    fn write_or_repeat(
        &self,
        path: &Path,
        hashed: HashedEntries,
    ) -> Result<Option<IndexStats>, IndexError> {
        let HashedEntries {
            seed,
            agencies,
            mut records,
        } = hashed;
        // By whole key, so an identifier's listings come together.
        records.sort_unstable_by_key(|r| (r.key.fingerprint, r.key.position));
        let (records, agencies) = one_per_identifier(records, agencies)?;
        if records
            .windows(2)
            .any(|pair| pair[0].key.fingerprint == pair[1].key.fingerprint)
        {
            return Ok(None);
        }
        self.write_records(path, seed, records, &agencies).map(Some)
    }

    fn write_records(
        &self,
        path: &Path,
        seed: u64,
        mut records: Vec<Record>,
        agencies: &AgencyTable,
    ) -> Result<IndexStats, IndexError> {
        // Placement is fastest in home order, and the home bucket grows with `position`.
        records.sort_unstable_by_key(|r| r.key.position);
        let table = place_with_growth(&records);
        let entries = records.len();
        drop(records);
        let contents = Contents::full(seed, &table, entries, &agencies.names);
        write_file(path, &self.header, &contents)
    }
}

/// What an index file holds besides its header's list fields.
pub(crate) struct Contents<'a> {
    pub(crate) seed: u64,
    pub(crate) table: &'a table::Table,
    /// Entries in `table`.
    pub(crate) entries: usize,
    pub(crate) agencies: &'a [AgencyRecord],
    pub(crate) stacking: Stacking,
    /// An overlay's key section (empty for a full index).
    pub(crate) keys: &'a [u8],
}

impl<'a> Contents<'a> {
    /// The contents of a full index.
    pub(crate) fn full(
        seed: u64,
        table: &'a table::Table,
        entries: usize,
        agencies: &'a [AgencyRecord],
    ) -> Contents<'a> {
        Contents {
            seed,
            table,
            entries,
            agencies,
            stacking: Stacking {
                base_checksum: 0,
                list_entries: entries as u64,
            },
            keys: &[],
        }
    }
}

/// Writes an index file atomically to `path`, with the filter built from
/// the table: the one writer of index files, full builds, incremental
/// updates and overlays alike.
pub(crate) fn write_file(
    path: &Path,
    header: &IndexHeader,
    contents: &Contents<'_>,
) -> Result<IndexStats, IndexError> {
    let Contents {
        seed,
        table,
        entries,
        agencies,
        stacking,
        keys,
    } = contents;
    let filter = filter::build(&table.buckets, *entries);
    let agency_bytes: Vec<u8> = agencies.iter().flat_map(encode_agency).collect();
    let layout = Layout {
        seed: *seed,
        filter_blocks: filter.len() as u64,
        table_buckets: table.buckets.len() as u64,
        home_buckets: table.home_buckets as u64,
        max_spill: table.max_spill as u64,
        agencies: agencies.len() as u64,
        key_bytes: keys.len() as u64,
    };
    let header = IndexHeader {
        entries: *entries as u64,
        ..header.clone()
    };
    let body = [
        bytes_of(&filter),
        bytes_of(&table.buckets),
        &agency_bytes,
        keys,
    ];
    let mut checksum = Checksum::over_header(&encode_header(&header, &layout, stacking, 0));
    body.iter().for_each(|section| checksum.update(section));
    let checksum = checksum.finish();
    let head = encode_header(&header, &layout, stacking, checksum);

    replace_file(path, |out| {
        // Read-only: readers map the file, and a write in place (a careless
        // `cp` over it) corrupts what they answer from; without write
        // permission such a `cp` fails loudly instead (root excepted; readers
        // detect that case, see `live`). Writers replace the file by rename.
        let read_only = std::fs::Permissions::from_mode(0o444);
        out.get_ref()
            .set_permissions(read_only)
            .map_err(|e| IndexError::io(path, "make read-only", e))?;
        for bytes in std::iter::once(&head[..]).chain(body) {
            out.write_all(bytes)
                .map_err(|e| IndexError::io(path, "write", e))?;
        }
        Ok::<(), IndexError>(())
    })?;
    Ok(layout.stats(*entries as u64))
}

/// Agency records in first-seen order, each named by its position.
#[derive(Default)]
pub(crate) struct AgencyTable {
    pub(crate) names: Vec<AgencyRecord>,
    ids: HashMap<AgencyRecord, u16>,
}

impl AgencyTable {
    /// The table of an existing index, to which new records are appended.
    pub(crate) fn of(names: &[AgencyRecord]) -> AgencyTable {
        AgencyTable {
            names: names.to_vec(),
            ids: names.iter().cloned().zip(0..).collect(),
        }
    }

    fn id(&mut self, record: AgencyRecord) -> Result<u16, IndexError> {
        if let Some(&id) = self.ids.get(&record) {
            return Ok(id);
        }
        let id = u16::try_from(self.names.len())
            .map_err(|_| IndexError::TooManyAgencies { max: MAX_AGENCIES })?;
        self.names.push(record.clone());
        self.ids.insert(record, id);
        Ok(id)
    }

    /// The standing a packed record holds.
    fn unpack(&self, meta: &PackedMeta) -> Standing {
        meta.standing(&self.names[usize::from(meta.agency)])
    }
}

/// Entries hashed and packed under one seed: the 32-byte records an index
/// is built from, without the identifiers. Made by [`IndexBuilder::hasher`].
pub struct HashedEntries {
    seed: u64,
    agencies: AgencyTable,
    records: Vec<Record>,
}

impl HashedEntries {
    fn new(seed: u64, expected: usize) -> HashedEntries {
        let mut records = Vec::new();
        // Room for all (the index is about to need it), if the count is sane.
        let _ = records.try_reserve_exact(expected);
        HashedEntries {
            seed,
            agencies: AgencyTable::default(),
            records,
        }
    }

    /// Adds one agency's listing of an identifier (its value canonical, as
    /// the store holds it): an identifier's listings may come in any order,
    /// and make one record ([`Standing`]).
    pub fn add(&mut self, kind: Kind, value: &str, meta: &EntryMeta) -> Result<(), IndexError> {
        self.records.push(Record {
            key: key_hash(self.seed, kind, value),
            meta: pack(
                kind,
                value,
                &Standing::one(meta.clone()),
                &mut self.agencies,
            )?,
        });
        Ok(())
    }
}

/// The stored form of `standing`; times must fit 32-bit seconds since the
/// Unix epoch (with `u32::MAX` kept for "never expires").
pub(crate) fn pack(
    kind: Kind,
    value: &str,
    standing: &Standing,
    agencies: &mut AgencyTable,
) -> Result<PackedMeta, IndexError> {
    let meta = &standing.meta;
    let out_of_range = |field, time| IndexError::TimeOutOfRange {
        kind,
        value: value.to_owned(),
        field,
        time,
    };
    let listed_at =
        u32::try_from(meta.listed_at.0).map_err(|_| out_of_range("listed_at", meta.listed_at))?;
    let expires_at = match meta.expires_at {
        None => NEVER,
        Some(t) => u32::try_from(t.0)
            .ok()
            .filter(|&secs| secs != NEVER)
            .ok_or_else(|| out_of_range("expires_at", t))?,
    };
    Ok(PackedMeta {
        reason: meta.reason.0,
        agency: agencies.id((meta.agency.clone(), standing.listings))?,
        listed_at,
        expires_at,
    })
}

/// `records` (sorted by key) with each run of one identifier's listings
/// made the one record of its standing ([`Standing::merge`]), and the
/// agency table they name (without the records of listings merged away).
/// An agency's listing of one identifier given twice is refused.
fn one_per_identifier(
    records: Vec<Record>,
    mut agencies: AgencyTable,
) -> Result<(Vec<Record>, AgencyTable), IndexError> {
    let mut out: Vec<Record> = Vec::with_capacity(records.len());
    let mut merged: Option<Standing> = None;
    // The run's listings, each packed alone: one agency record each.
    let mut run: Vec<u16> = Vec::new();
    let mut any_merged = false;
    for record in records {
        match out.last_mut() {
            Some(last) if last.key == record.key => {
                if run.contains(&record.meta.agency) {
                    let (agency, _) = &agencies.names[usize::from(record.meta.agency)];
                    return Err(IndexError::DuplicateListing {
                        agency: agency.clone(),
                    });
                }
                run.push(record.meta.agency);
                let standing = merged
                    .take()
                    .unwrap_or_else(|| agencies.unpack(&last.meta))
                    .merge(agencies.unpack(&record.meta));
                // The listing that stands, packed already (a run's agencies
                // differ), now naming the run's count.
                let (added_by, _) = &agencies.names[usize::from(record.meta.agency)];
                let stands = if &standing.meta.agency == added_by {
                    record.meta
                } else {
                    last.meta
                };
                let counted = (standing.meta.agency.clone(), standing.listings);
                last.meta = PackedMeta {
                    agency: agencies.id(counted)?,
                    ..stands
                };
                merged = Some(standing);
                any_merged = true;
            }
            _ => {
                merged = None;
                run.clear();
                run.push(record.meta.agency);
                out.push(record);
            }
        }
    }
    if !any_merged {
        return Ok((out, agencies));
    }
    let mut named = AgencyTable::default();
    for record in &mut out {
        let used = agencies.names[usize::from(record.meta.agency)].clone();
        record.meta.agency = named.id(used)?;
    }
    Ok((out, named))
}

/// Places the records, adding an eighth more buckets whenever some entry
/// would land too far from home (never seen at the design load).
pub(crate) fn place_with_growth(records: &[Record]) -> table::Table {
    let mut home_buckets = table::home_bucket_count(records.len());
    loop {
        if let Some(table) = table::place(records, home_buckets) {
            return table;
        }
        home_buckets += home_buckets.div_ceil(8);
    }
}
