//! The operations of a snapshot's origins (W8), put in listing order in
//! bounded memory by the snapshot's own external sort ([`Sorter`]), so
//! that they are walked beside the store's rows, both in key order: each
//! operation is packed once and written at most once to a sorted run, where
//! a table of them cost a B-tree insert each. A past override's update of a
//! listing is pushed the same (with no file: it is not an origin).

use std::cmp::Ordering;
use std::path::PathBuf;

use crate::digest::Sha256;
use crate::document::Version;
use crate::entry::{Agency, Reason, Timestamp};
use crate::identifier::Identifier;
use crate::store::sort::{scratch_error, u16_at, u32_at, u64_at, Packing, Sorter, SORT_BUFFER};
use crate::store::StoreError;
use crate::verify::provenance::{Asks, OriginOp};

/// One operation as the sorter hands it back, borrowed from its buffers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OpRow<'a> {
    /// The listing's kind's wire code.
    pub kind: u16,
    /// The listing's canonical value.
    pub value: &'a str,
    /// The listing's agency.
    pub agency: &'a str,
    /// What the operation asks, and of which origin.
    pub op: OriginOp,
    /// The SHA-256 of the origin's file.
    pub file: Sha256,
}

impl OpRow<'_> {
    /// The listing it names, in the store's key order (SQLite's BINARY
    /// collation is byte order).
    pub fn listing(&self) -> (u16, &[u8], &[u8]) {
        (self.kind, self.value.as_bytes(), self.agency.as_bytes())
    }
}

/// Bytes of packed operations sorted in memory at a time (about 160,000
/// operations): a quarter of the entries' buffer, which is still held when
/// the origins are read; 10 million operations make some 60 runs.
const OPS_BUFFER: usize = SORT_BUFFER / 4;

/// Collects operations on listings, then hands them back by listing, each
/// listing's by version, then by origin: two of one version naming one
/// listing come one after the other.
pub(crate) struct OpSorter(Sorter<OpPacking>);

impl OpSorter {
    /// A sorter spilling to a scratch file at `scratch`.
    pub fn new(scratch: PathBuf) -> OpSorter {
        OpSorter(Sorter::new(scratch, OPS_BUFFER))
    }

    /// Adds `op` on `agency`'s listing of `id`, from the origin whose file
    /// has SHA-256 `file`.
    pub fn push(
        &mut self,
        id: &Identifier,
        agency: &Agency,
        op: &OriginOp,
        file: &Sha256,
    ) -> Result<(), StoreError> {
        self.0.push(|out| pack(out, id, agency, op, file))
    }

    /// Calls `row` with every operation, in order. Stops at `row`'s first
    /// error.
    pub fn for_each_sorted(
        self,
        mut row: impl FnMut(OpRow<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let path = self.0.path().to_path_buf();
        self.0.for_each_sorted(|packed| {
            row(unpack(packed).map_err(|e| scratch_error(&path, "read sort run", e))?)
        })
    }
}

/// A packed operation: kind u16, asks u8 (0 add, 1 update, 2 remove, 3 an
/// override's update), whether it expires u8, reason u16, expires_at u64,
/// version u64, origin u64, accepted_at u64, the file's SHA-256 (32 bytes),
/// for an override's update the entry it replaces (whether that expires u8,
/// reason u16, expires_at u64; zeros otherwise), value length u32, agency
/// length u32, all little-endian, then the value's and the agency's bytes.
struct OpPacking;

const HEADER_LEN: usize = 2 + 1 + 1 + 2 + 8 + 8 + 8 + 8 + 32 + 1 + 2 + 8 + 4 + 4;

/// Where the file's SHA-256 starts.
const FILE_AT: usize = 38;
/// Where the replaced entry starts.
const FROM_AT: usize = FILE_AT + 32;
/// Where the value's and the agency's lengths are.
const VALUE_LEN_AT: usize = FROM_AT + 11;
const AGENCY_LEN_AT: usize = VALUE_LEN_AT + 4;

impl Packing for OpPacking {
    const HEADER_LEN: usize = HEADER_LEN;

    fn packed_len(b: &[u8]) -> usize {
        HEADER_LEN + u32_at(b, VALUE_LEN_AT) as usize + u32_at(b, AGENCY_LEN_AT) as usize
    }

    fn cmp(a: &[u8], b: &[u8]) -> Ordering {
        sort_key(a).cmp(&sort_key(b))
    }
}

/// The listing the packed operation `b` names, its version, its origin.
fn sort_key(b: &[u8]) -> (u16, &[u8], &[u8], u64, u64) {
    let value = u32_at(b, VALUE_LEN_AT) as usize;
    let agency = u32_at(b, AGENCY_LEN_AT) as usize;
    (
        u16_at(b, 0),
        &b[HEADER_LEN..HEADER_LEN + value],
        &b[HEADER_LEN + value..HEADER_LEN + value + agency],
        u64_at(b, 14),
        u64_at(b, 22),
    )
}

fn pack(out: &mut Vec<u8>, id: &Identifier, agency: &Agency, op: &OriginOp, file: &Sha256) {
    let ((asks, reason, expires_at), from) = match op.asks {
        Asks::Add(reason, expires_at) => ((0, reason, expires_at), None),
        Asks::Update(reason, expires_at) => ((1, reason, expires_at), None),
        Asks::Remove => ((2, Reason(0), None), None),
        Asks::Overridden { to, from } => ((3, to.0, to.1), Some(from)),
    };
    let (from_reason, from_expires_at) = from.unwrap_or((Reason(0), None));
    let value = id.as_str().as_bytes();
    let agency = agency.as_str().as_bytes();
    out.extend_from_slice(&id.kind().code().to_le_bytes());
    out.push(asks);
    out.push(u8::from(expires_at.is_some()));
    out.extend_from_slice(&reason.0.to_le_bytes());
    out.extend_from_slice(&expires_at.map_or(0, |t| t.0).to_le_bytes());
    out.extend_from_slice(&op.version.get().to_le_bytes());
    out.extend_from_slice(&(op.origin as u64).to_le_bytes());
    out.extend_from_slice(&op.accepted_at.0.to_le_bytes());
    out.extend_from_slice(&file.0);
    out.push(u8::from(from_expires_at.is_some()));
    out.extend_from_slice(&from_reason.0.to_le_bytes());
    out.extend_from_slice(&from_expires_at.map_or(0, |t| t.0).to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(&(agency.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
    out.extend_from_slice(agency);
}

/// The operation `b` starts with. Only this process packed it; what would
/// not unpack is checked all the same, being read back from a file.
fn unpack(b: &[u8]) -> Result<OpRow<'_>, std::io::Error> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let reason = Reason(u16_at(b, 4));
    let expires_at = (b[3] != 0).then(|| Timestamp(u64_at(b, 6)));
    let asks = match b[2] {
        0 => Asks::Add(reason, expires_at),
        1 => Asks::Update(reason, expires_at),
        2 => Asks::Remove,
        3 => Asks::Overridden {
            to: (reason, expires_at),
            from: (
                Reason(u16_at(b, FROM_AT + 1)),
                (b[FROM_AT] != 0).then(|| Timestamp(u64_at(b, FROM_AT + 3))),
            ),
        },
        _ => return Err(invalid("an operation of no known kind")),
    };
    let value = u32_at(b, VALUE_LEN_AT) as usize;
    let agency = u32_at(b, AGENCY_LEN_AT) as usize;
    let text = |range: std::ops::Range<usize>| {
        std::str::from_utf8(&b[range]).map_err(|_| invalid("text that is not UTF-8"))
    };
    Ok(OpRow {
        kind: u16_at(b, 0),
        value: text(HEADER_LEN..HEADER_LEN + value)?,
        agency: text(HEADER_LEN + value..HEADER_LEN + value + agency)?,
        op: OriginOp {
            origin: usize::try_from(u64_at(b, 22)).map_err(|_| invalid("origin out of range"))?,
            version: Version::new(u64_at(b, 14)).ok_or_else(|| invalid("version 0"))?,
            accepted_at: Timestamp(u64_at(b, 30)),
            asks,
        },
        file: Sha256(b[FILE_AT..FILE_AT + 32].try_into().expect("32 bytes")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kind::Kind;

    fn op(origin: usize, version: u64, asks: Asks) -> OriginOp {
        OriginOp {
            origin,
            version: Version::new(version).unwrap(),
            accepted_at: Timestamp(100 + version),
            asks,
        }
    }

    #[test]
    fn operations_come_back_by_listing_then_version_then_origin_across_runs() {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = OpSorter(Sorter::new(dir.path().join("ops"), 300));
        let agencies = [Agency::new("th-aoc").unwrap(), Agency::new("bank").unwrap()];
        let mut pushed = Vec::new();
        for n in (0..60u64).rev() {
            let id =
                Identifier::from_canonical(Kind::Domain, &format!("d{}.example", n % 7)).unwrap();
            let agency = &agencies[(n % 2) as usize];
            let asks = match n % 4 {
                0 => Asks::Add(Reason(n as u16), Some(Timestamp(n))),
                1 => Asks::Update(Reason(2), None),
                2 => Asks::Remove,
                _ => Asks::Overridden {
                    to: (Reason(3), None),
                    from: (Reason(n as u16), Some(Timestamp(n + 1))),
                },
            };
            let op = op(n as usize, 1 + n % 4, asks);
            let file = Sha256([n as u8; 32]);
            sorter.push(&id, agency, &op, &file).unwrap();
            pushed.push((id.as_str().to_owned(), agency.as_str().to_owned(), op, file));
        }
        let mut out = Vec::new();
        sorter
            .for_each_sorted(|r| {
                out.push((r.value.to_owned(), r.agency.to_owned(), r.op, r.file));
                Ok(())
            })
            .unwrap();
        pushed.sort_by(|a, b| {
            (a.0.as_bytes(), a.1.as_bytes(), a.2.version, a.2.origin).cmp(&(
                b.0.as_bytes(),
                b.1.as_bytes(),
                b.2.version,
                b.2.origin,
            ))
        });
        assert_eq!(out, pushed);
    }
}
