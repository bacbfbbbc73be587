//! The on-disk layout: a fixed 256-byte header, then three sections, all
//! little-endian. See the [module overview](super) for the byte map.
//!
//! Every offset is derived from the counts in the header and must equal the
//! stored one, and the file length must equal the end of the last section, so
//! once [`decode_header`] accepts a file every section lies inside it.

use std::path::Path;

use xxhash_rust::xxh3::Xxh3;

use super::error::IndexError;
use crate::entry::{Agency, Timestamp};

/// The first eight bytes of every index file. The CR LF catches text-mode
/// transfers that rewrite line ends.
pub(crate) const MAGIC: [u8; 8] = *b"BLKIDX\r\n";

/// The format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 6;

/// Size of the fixed header; sections start after it.
pub(crate) const HEADER_LEN: usize = 256;

/// Filter blocks and table buckets are each one cache line.
pub(crate) const LINE: u64 = 64;

/// Size of one agency record: a length byte, up to 31 ASCII bytes, and the
/// number of listings (u32) of the identifiers whose records name it: a
/// record names the agency of the listing that stands for its identifier
/// and how many it has ([`crate::Standing`]), so an identifier listed by
/// several agencies costs the table's slot nothing more.
pub(crate) const AGENCY_RECORD: usize = 1 + Agency::MAX_LEN + 4;

/// One record of an index's agency table: the agency of a listing that
/// stands for its identifier, and the identifier's number of listings.
pub(crate) type AgencyRecord = (Agency, u32);

/// Where the checksum sits in the header; it covers every other byte of the file.
const CHECKSUM_AT: usize = 152;

/// Where an overlay names its base (by the base's checksum; 0 in a full index).
const BASE_CHECKSUM_AT: usize = 160;

/// The longest identifier an overlay's key section can hold (its length is a byte).
pub(crate) const MAX_KEY_LEN: usize = u8::MAX as usize;

/// The most distinct agencies one index can name (each entry stores its
/// agency as a u16). A list with more cannot be indexed, so the centre
/// refuses to publish one.
pub const MAX_AGENCIES: usize = 1 << 16;

/// What the header says about the list the index was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexHeader {
    /// The list version (the store's version counter) the index reflects.
    pub list_version: u64,
    /// The state digest of that list version.
    pub state_digest: [u8; 32],
    /// When the list data was created.
    pub created_at: Timestamp,
    /// How many identifiers the index holds (one record each, however many
    /// agencies list it).
    pub entries: u64,
}

impl IndexHeader {
    /// The header of list version `list_version`, with its state digest, data
    /// time and entry count.
    pub fn new(
        list_version: u64,
        state_digest: [u8; 32],
        created_at: Timestamp,
        entries: u64,
    ) -> IndexHeader {
        IndexHeader {
            list_version,
            state_digest,
            created_at,
            entries,
        }
    }
}

/// The header fields that describe the sections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// The per-index hash seed.
    pub(crate) seed: u64,
    /// Filter blocks (64 bytes each).
    pub(crate) filter_blocks: u64,
    /// Table buckets (64 bytes each), home and overflow.
    pub(crate) table_buckets: u64,
    /// Buckets a key can hash to.
    pub(crate) home_buckets: u64,
    /// Overflow buckets after the home buckets.
    pub(crate) max_spill: u64,
    /// Agency records (32 bytes each).
    pub(crate) agencies: u64,
    /// Bytes of the key section (an overlay's identifiers; empty in a full index).
    pub(crate) key_bytes: u64,
}

/// How a file stacks: a full index, or an overlay of recent changes on one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stacking {
    /// The checksum of the full index this file is an overlay on; 0 for a
    /// full index.
    pub(crate) base_checksum: u64,
    /// Entries in the list version the file describes (base and overlay
    /// together); a full index's own entry count.
    pub(crate) list_entries: u64,
}

/// Byte ranges of the sections, derived from a [`Layout`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sections {
    pub(crate) filter: (usize, usize),
    pub(crate) table: (usize, usize),
    pub(crate) agencies: (usize, usize),
    pub(crate) keys: (usize, usize),
    pub(crate) file_len: u64,
}

impl Layout {
    /// Section offsets and the file length, or `None` on overflow.
    pub(crate) fn sections(&self) -> Option<Sections> {
        let filter_start = HEADER_LEN as u64;
        let table_start = filter_start.checked_add(self.filter_blocks.checked_mul(LINE)?)?;
        let agencies_start = table_start.checked_add(self.table_buckets.checked_mul(LINE)?)?;
        let keys_start =
            agencies_start.checked_add(self.agencies.checked_mul(AGENCY_RECORD as u64)?)?;
        let file_len = keys_start.checked_add(self.key_bytes)?;
        let range =
            |start: u64, end: u64| Some((usize::try_from(start).ok()?, usize::try_from(end).ok()?));
        Some(Sections {
            filter: range(filter_start, table_start)?,
            table: range(table_start, agencies_start)?,
            agencies: range(agencies_start, keys_start)?,
            keys: range(keys_start, file_len)?,
            file_len,
        })
    }
}

/// The header bytes (checksum included).
pub(crate) fn encode_header(
    header: &IndexHeader,
    layout: &Layout,
    stacking: &Stacking,
    checksum: u64,
) -> [u8; HEADER_LEN] {
    let sections = layout
        .sections()
        .expect("layout built from in-memory sizes");
    let mut out = [0u8; HEADER_LEN];
    out[0..8].copy_from_slice(&MAGIC);
    out[8] = FORMAT_VERSION;
    let words: [(usize, u64); 18] = [
        (16, header.list_version),
        (56, header.created_at.0),
        (64, header.entries),
        (72, layout.seed),
        (80, sections.file_len),
        (88, sections.filter.0 as u64),
        (96, layout.filter_blocks),
        (104, sections.table.0 as u64),
        (112, layout.table_buckets),
        (120, layout.home_buckets),
        (128, layout.max_spill),
        (136, sections.agencies.0 as u64),
        (144, layout.agencies),
        (CHECKSUM_AT, checksum),
        (BASE_CHECKSUM_AT, stacking.base_checksum),
        (168, stacking.list_entries),
        (176, sections.keys.0 as u64),
        (184, layout.key_bytes),
    ];
    out[24..56].copy_from_slice(&header.state_digest);
    for (at, value) in words {
        out[at..at + 8].copy_from_slice(&value.to_le_bytes());
    }
    out
}

fn word(bytes: &[u8], at: usize) -> u64 {
    let mut le = [0u8; 8];
    le.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(le)
}

/// Checks the fixed header of a `file_len`-byte file and returns what it says.
/// `bytes` must hold at least the header.
pub(crate) fn decode_header(
    path: &Path,
    bytes: &[u8],
    file_len: u64,
) -> Result<(IndexHeader, Layout, Stacking, u64), IndexError> {
    if bytes.len() < HEADER_LEN {
        return Err(IndexError::Truncated {
            path: path.to_owned(),
            actual: file_len,
            expected: HEADER_LEN as u64,
        });
    }
    let mut magic = [0u8; 8];
    magic.copy_from_slice(&bytes[0..8]);
    if magic != MAGIC {
        return Err(IndexError::BadMagic {
            path: path.to_owned(),
            found: magic,
        });
    }
    if bytes[8] != FORMAT_VERSION {
        return Err(IndexError::UnsupportedVersion {
            path: path.to_owned(),
            found: bytes[8],
            supported: FORMAT_VERSION,
        });
    }
    let mut state_digest = [0u8; 32];
    state_digest.copy_from_slice(&bytes[24..56]);
    let header = IndexHeader {
        list_version: word(bytes, 16),
        state_digest,
        created_at: Timestamp(word(bytes, 56)),
        entries: word(bytes, 64),
    };
    let layout = Layout {
        seed: word(bytes, 72),
        filter_blocks: word(bytes, 96),
        table_buckets: word(bytes, 112),
        home_buckets: word(bytes, 120),
        max_spill: word(bytes, 128),
        agencies: word(bytes, 144),
        key_bytes: word(bytes, 184),
    };
    let stacking = Stacking {
        base_checksum: word(bytes, BASE_CHECKSUM_AT),
        list_entries: word(bytes, 168),
    };
    let sections = layout
        .sections()
        .ok_or_else(|| IndexError::corrupt(path, "section sizes overflow"))?;
    let stored_len = word(bytes, 80);
    if stored_len != sections.file_len {
        return Err(IndexError::corrupt(
            path,
            format!(
                "header length {stored_len} disagrees with its sections ({})",
                sections.file_len
            ),
        ));
    }
    if file_len != sections.file_len {
        return Err(IndexError::Truncated {
            path: path.to_owned(),
            actual: file_len,
            expected: sections.file_len,
        });
    }
    let offsets_agree = word(bytes, 88) == sections.filter.0 as u64
        && word(bytes, 104) == sections.table.0 as u64
        && word(bytes, 136) == sections.agencies.0 as u64
        && word(bytes, 176) == sections.keys.0 as u64;
    if !offsets_agree {
        return Err(IndexError::corrupt(
            path,
            "section offsets disagree with their sizes",
        ));
    }
    let shape_ok = layout.filter_blocks >= 1
        && layout.home_buckets >= 1
        && layout.max_spill <= u64::from(u8::MAX)
        && layout.home_buckets.checked_add(layout.max_spill) == Some(layout.table_buckets)
        && layout.agencies <= MAX_AGENCIES as u64
        && (stacking.base_checksum != 0
            || (layout.key_bytes == 0 && stacking.list_entries == header.entries));
    if !shape_ok {
        return Err(IndexError::corrupt(
            path,
            "filter or table dimensions are inconsistent",
        ));
    }
    if bytes[192..HEADER_LEN].iter().any(|&b| b != 0) || bytes[9..16].iter().any(|&b| b != 0) {
        return Err(IndexError::corrupt(
            path,
            "reserved header bytes are not zero",
        ));
    }
    Ok((header, layout, stacking, word(bytes, CHECKSUM_AT)))
}

/// The file checksum: xxh3-64 of every byte except the checksum field itself.
/// The writer feeds the header then the body; the reader feeds the whole file.
pub(crate) struct Checksum(Xxh3);

impl Checksum {
    /// Starts with the header bytes (its checksum field is skipped).
    pub(crate) fn over_header(header: &[u8]) -> Checksum {
        let mut hasher = Xxh3::new();
        hasher.update(&header[..CHECKSUM_AT]);
        hasher.update(&header[CHECKSUM_AT + 8..HEADER_LEN]);
        Checksum(hasher)
    }

    /// Adds body bytes, in file order.
    pub(crate) fn update(&mut self, body: &[u8]) {
        self.0.update(body);
    }

    pub(crate) fn finish(&self) -> u64 {
        self.0.digest()
    }
}

/// One agency record.
pub(crate) fn encode_agency((agency, listings): &AgencyRecord) -> [u8; AGENCY_RECORD] {
    let text = agency.as_str().as_bytes();
    let mut out = [0u8; AGENCY_RECORD];
    // Agency guarantees 1..=31 ASCII bytes, so the length fits a byte.
    out[0] = text.len() as u8;
    out[1..1 + text.len()].copy_from_slice(text);
    out[1 + Agency::MAX_LEN..].copy_from_slice(&listings.to_le_bytes());
    out
}

/// The agency table, each record's agency checked as [`Agency::new`] would
/// and its number of listings at least 1.
pub(crate) fn decode_agencies(path: &Path, bytes: &[u8]) -> Result<Vec<AgencyRecord>, IndexError> {
    bytes
        .chunks_exact(AGENCY_RECORD)
        .enumerate()
        .map(|(i, record)| {
            let len = usize::from(record[0]).min(Agency::MAX_LEN);
            let agency = std::str::from_utf8(&record[1..1 + len])
                .ok()
                .and_then(|text| Agency::new(text).ok())
                .ok_or_else(|| {
                    IndexError::corrupt(path, format!("agency record {i} is not a valid agency id"))
                })?;
            let count: [u8; 4] = record[1 + Agency::MAX_LEN..].try_into().expect("4 bytes");
            match u32::from_le_bytes(count) {
                0 => Err(IndexError::corrupt(
                    path,
                    format!("agency record {i} counts no listing"),
                )),
                listings => Ok((agency, listings)),
            }
        })
        .collect()
}

/// Sizes of an index file, as written or opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexStats {
    /// Entries in the index (for an index with an overlay, base and overlay
    /// together: the list's entry count).
    pub entries: u64,
    /// Records in the overlay of recent changes (0 without one): additions,
    /// updates and removals since the base was written.
    pub overlay_entries: u64,
    /// Size of the whole file.
    pub file_bytes: u64,
    /// Size of the filter section.
    pub filter_bytes: u64,
    /// Size of the table section (entries with their metadata).
    pub table_bytes: u64,
    /// The farthest any entry sits from its home bucket: a lookup reads at
    /// most this many cache lines past the first.
    pub max_spill: u64,
}

impl IndexStats {
    /// File bytes per entry (the whole file over the entry count).
    pub fn bytes_per_entry(&self) -> f64 {
        self.file_bytes as f64 / self.entries.max(1) as f64
    }
}

impl Layout {
    /// The statistics of a file with this layout holding `entries` entries.
    pub(crate) fn stats(&self, entries: u64) -> IndexStats {
        IndexStats {
            entries,
            overlay_entries: 0,
            file_bytes: self.sections().map_or(0, |s| s.file_len),
            filter_bytes: self.filter_blocks * LINE,
            table_bytes: self.table_buckets * LINE,
            max_spill: self.max_spill,
        }
    }
}
