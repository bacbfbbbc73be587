//! [`Layer`]: one mapped, validated index file, either a full index or an
//! overlay of recent changes stacked on one (see [`super::overlay`]).
//!
//! A [`LookupIndex`](super::LookupIndex) answers from one or two layers; a
//! layer knows nothing of the other, only how to find a key in itself.

use std::fs::{File, Metadata};
use std::path::{Path, PathBuf};

use super::error::IndexError;
use super::filter::{self, Block};
use super::format::{
    decode_agencies, decode_header, AgencyRecord, Checksum, IndexHeader, IndexStats, Stacking,
    HEADER_LEN,
};
use super::hash::{key_hash, Fingerprinted, KeyHash};
use super::identity::FileIdentity;
use super::mem::{map_file, MappedSections};
use super::table::{self, Bucket, PackedMeta};
use crate::entry::Standing;
use crate::kind::Kind;

/// One index file, opened and validated.
pub(crate) struct Layer {
    pub(crate) path: PathBuf,
    /// The file's own header: `entries` counts the records in this file.
    pub(crate) header: IndexHeader,
    pub(crate) stacking: Stacking,
    pub(crate) stats: IndexStats,
    pub(crate) seed: u64,
    pub(crate) home_buckets: usize,
    pub(crate) agencies: Vec<AgencyRecord>,
    /// The checksum stored in the header (what an overlay names its base by).
    pub(crate) checksum: u64,
    /// An overlay's identifiers, in file order (empty for a full index).
    pub(crate) keys: Vec<(Kind, String)>,
    /// An overlay's fingerprints as one bit each in a bitmap of about 16
    /// bits per record (empty for a full index), built at open: its test
    /// is one load and a shift, where the file's filter takes eight
    /// multiplies, and an overlay is probed on every lookup.
    presence: Box<[u64]>,
    /// The mapped file as it was when validated, and its header bytes (which
    /// hold the checksum of all the others).
    identity: FileIdentity,
    header_bytes: Box<[u8; HEADER_LEN]>,
    /// Kept open so that its identity can be checked again.
    file: File,
    /// The filter blocks and table buckets, viewed in the mapped file.
    sections: MappedSections<Block, Bucket>,
}

impl Layer {
    /// Validates an opened index file (`path` is for errors): header,
    /// section bounds, checksum, agency table, every bucket, and for an
    /// overlay every identifier of its key section.
    pub(crate) fn from_file(path: &Path, file: File, meta: &Metadata) -> Result<Layer, IndexError> {
        if meta.len() < HEADER_LEN as u64 {
            return Err(IndexError::Truncated {
                path: path.to_owned(),
                actual: meta.len(),
                expected: HEADER_LEN as u64,
            });
        }
        let map = map_file(&file).map_err(|e| IndexError::io(path, "map", e))?;
        let (header, layout, stacking, stored) = decode_header(path, &map, meta.len())?;
        let mut header_bytes = Box::new([0; HEADER_LEN]);
        header_bytes.copy_from_slice(&map[..HEADER_LEN]);
        let mut checksum = Checksum::over_header(&map[..HEADER_LEN]);
        checksum.update(&map[HEADER_LEN..]);
        let computed = checksum.finish();
        if computed != stored {
            return Err(IndexError::ChecksumMismatch {
                path: path.to_owned(),
                stored,
                computed,
            });
        }
        let ranges = layout
            .sections()
            .ok_or_else(|| IndexError::corrupt(path, "section sizes overflow"))?;
        let agencies = decode_agencies(path, &map[ranges.agencies.0..ranges.agencies.1])?;
        let keys = decode_keys(path, &map[ranges.keys.0..ranges.keys.1])?;
        let sections = MappedSections::new(
            map,
            ranges.filter.0..ranges.filter.1,
            ranges.table.0..ranges.table.1,
        )
        .ok_or_else(|| IndexError::corrupt(path, "sections are not aligned to cache lines"))?;
        let home_buckets = usize::try_from(layout.home_buckets)
            .map_err(|_| IndexError::corrupt(path, "table too large for this machine"))?;
        table::validate(
            sections.second(),
            home_buckets,
            agencies.len(),
            header.entries,
        )
        .map_err(|fault| IndexError::corrupt(path, fault.to_string()))?;
        let mut layer = Layer {
            path: path.to_owned(),
            stats: layout.stats(header.entries),
            header,
            stacking,
            seed: layout.seed,
            home_buckets,
            agencies,
            checksum: stored,
            keys,
            presence: Box::default(),
            identity: FileIdentity::of(meta),
            header_bytes,
            file,
            sections,
        };
        layer.validate_keys()?;
        if layer.is_overlay() {
            layer.presence = presence_of(layer.buckets(), layer.header.entries);
        }
        Ok(layer)
    }

    /// An overlay names each of its records in the key section: each must
    /// find its record, and together they must name them all (a full
    /// index's key section is empty).
    fn validate_keys(&self) -> Result<(), IndexError> {
        if self.stacking.base_checksum == 0 {
            return Ok(());
        }
        if self.keys.len() as u64 != self.header.entries {
            return Err(IndexError::corrupt(
                &self.path,
                format!(
                    "overlay names {} identifiers for {} records",
                    self.keys.len(),
                    self.header.entries
                ),
            ));
        }
        let mut named = std::collections::HashSet::with_capacity(self.keys.len());
        for (kind, value) in &self.keys {
            let key = key_hash(self.seed, *kind, value);
            if self.find(&key).is_none() || !named.insert(key.fingerprint) {
                return Err(IndexError::corrupt(
                    &self.path,
                    format!("overlay names {kind} {value:?} twice or holds no record of it"),
                ));
            }
        }
        Ok(())
    }

    /// The same file under the name it was renamed to: a rename moves the
    /// file's status-change time, which would otherwise read as a write.
    pub(crate) fn renamed(&mut self, to: &Path) -> Result<(), IndexError> {
        let meta = self
            .file
            .metadata()
            .map_err(|e| IndexError::io(to, "stat", e))?;
        self.path = to.to_owned();
        self.identity = FileIdentity::of(&meta);
        Ok(())
    }

    /// Whether this file is an overlay (stacked on a base).
    pub(crate) fn is_overlay(&self) -> bool {
        self.stacking.base_checksum != 0
    }

    /// The filter blocks.
    #[inline(always)]
    pub(crate) fn blocks(&self) -> &[Block] {
        self.sections.first()
    }

    /// The table, home and overflow buckets.
    #[inline(always)]
    pub(crate) fn buckets(&self) -> &[Bucket] {
        self.sections.second()
    }

    /// The key's record in this file, whatever its expiry: filter, then table.
    #[inline(always)]
    pub(crate) fn find(&self, key: &KeyHash) -> Option<PackedMeta> {
        self.find_in(
            filter::block_for(self.blocks(), key.fingerprint),
            &(*key).into(),
        )
    }

    /// [`find`](Self::find) with the key's filter block already found.
    #[inline(always)]
    pub(crate) fn find_in(&self, block: &Block, key: &Fingerprinted) -> Option<PackedMeta> {
        if !filter::block_admits(block, key.fingerprint) {
            return None;
        }
        table::find(self.buckets(), self.home_buckets, &key.key())
    }

    /// An overlay's record of the key, whatever its expiry: its presence
    /// bitmap, then its table.
    #[inline(always)]
    pub(crate) fn find_recent(&self, key: &Fingerprinted) -> Option<PackedMeta> {
        // The bitmap's length is a power of two (see `presence_of`).
        let bit = key.fingerprint as usize & (self.presence.len() * 64 - 1);
        if self.presence[bit / 64] >> (bit % 64) & 1 == 0 {
            return None;
        }
        table::find(self.buckets(), self.home_buckets, &key.key())
    }

    /// A stored record's standing, its agency resolved.
    pub(crate) fn unpack(&self, meta: PackedMeta) -> Standing {
        // Open checked that every stored agency index is in the table.
        meta.standing(&self.agencies[usize::from(meta.agency)])
    }

    /// Whether the mapped file may have been written since it was validated:
    /// one `fstat`, and one read of the header through the descriptor (never
    /// through the map, which faults past the end of a file cut short). The
    /// header catches another index copied over this one within the
    /// timestamps' granularity (a few milliseconds), when size and times
    /// alone could not tell.
    pub(crate) fn file_changed(&self) -> Result<bool, IndexError> {
        use std::os::unix::fs::FileExt as _;
        let now = self
            .file
            .metadata()
            .map_err(|e| IndexError::io(&self.path, "stat", e))?;
        if FileIdentity::of(&now).bytes_may_differ_from(&self.identity) {
            return Ok(true);
        }
        let mut header = [0; HEADER_LEN];
        match self.file.read_exact_at(&mut header, 0) {
            Ok(()) => Ok(header != *self.header_bytes),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(true),
            Err(e) => Err(IndexError::io(&self.path, "read", e)),
        }
    }
}

/// The presence bitmap of a table's `entries` fingerprints: a power of two
/// of at least 16 bits per entry, indexed by the fingerprint's low bits
/// (about 6% of absent keys pass, and then read the table).
fn presence_of(buckets: &[Bucket], entries: u64) -> Box<[u64]> {
    let bits = (entries.max(1) * 16).next_power_of_two().max(64);
    let mut presence = vec![0u64; (bits / 64) as usize];
    for fingerprint in buckets.iter().flat_map(Bucket::fingerprints) {
        let bit = fingerprint as usize & (bits as usize - 1);
        presence[bit / 64] |= 1 << (bit % 64);
    }
    presence.into_boxed_slice()
}

/// Encodes an overlay's key section: per identifier its kind code (u16),
/// its length (u8) and its bytes.
pub(crate) fn encode_keys<'a>(keys: impl IntoIterator<Item = (Kind, &'a str)>) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, value) in keys {
        out.extend_from_slice(&kind.code().to_le_bytes());
        // Callers check the length against `MAX_KEY_LEN` first.
        out.push(value.len() as u8);
        out.extend_from_slice(value.as_bytes());
    }
    out
}

fn decode_keys(path: &Path, mut bytes: &[u8]) -> Result<Vec<(Kind, String)>, IndexError> {
    let mut keys = Vec::new();
    while !bytes.is_empty() {
        let Some((&[lo, hi, len], rest)) = bytes.split_first_chunk::<3>() else {
            return Err(IndexError::corrupt(
                path,
                "key section ends inside a record",
            ));
        };
        let len = usize::from(len);
        let value = rest
            .get(..len)
            .and_then(|v| std::str::from_utf8(v).ok())
            .ok_or_else(|| {
                IndexError::corrupt(
                    path,
                    format!("key record {} is cut short or not UTF-8", keys.len()),
                )
            })?;
        keys.push((
            Kind::from_code(u16::from_le_bytes([lo, hi])),
            value.to_owned(),
        ));
        bytes = &rest[len..];
    }
    Ok(keys)
}

/// Opens `path` for reading if it is a regular file, with its metadata.
///
/// Opened non-blocking, so that a FIFO at the path (which would block
/// `open` until a writer comes, forever) is refused instead, like any other
/// file that is not a regular file (a device, a socket, a directory).
pub(crate) fn open_regular(path: &Path) -> Result<(File, Metadata), IndexError> {
    use std::os::unix::fs::{FileTypeExt as _, OpenOptionsExt as _};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| IndexError::io(path, "open", e))?;
    let meta = file
        .metadata()
        .map_err(|e| IndexError::io(path, "stat", e))?;
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok((file, meta));
    }
    let file_type = if kind.is_dir() {
        "a directory"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "not a regular file"
    };
    Err(IndexError::NotAFile {
        path: path.to_owned(),
        file_type,
    })
}
