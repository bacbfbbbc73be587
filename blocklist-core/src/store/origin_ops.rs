//! The operations of a snapshot's origins (W8), put in listing order in
//! bounded memory by the snapshot's own external sort ([`Sorter`]), so
//! that they are walked beside the store's rows, both in key order: each
//! operation is packed once and written at most once to a sorted run, where
//! a table of them cost a B-tree insert each. A past override's update of a
//! listing is pushed the same (with no file: it is not an origin).

use std::cmp::Ordering;
use std::path::PathBuf;

use crate::document::Version;
use crate::entry::{Agency, Reason, Timestamp};
use crate::identifier::Identifier;
use crate::store::origins::FileId;
use crate::store::sort::{
    scratch_error, u16_at, u32_at, u64_at, Packing, Sorted, Sorter, SORT_BUFFER,
};
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
    /// The origin's file, as the store keeps it.
    pub file: FileId,
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
    /// the store keeps as `file`.
    pub fn push(
        &mut self,
        id: &Identifier,
        agency: &Agency,
        op: &OriginOp,
        file: FileId,
    ) -> Result<(), StoreError> {
        self.0.push(|out| pack(out, id, agency, op, file))
    }

    /// The operations in order, read one at a time.
    pub fn into_sorted(self) -> Result<SortedOps, StoreError> {
        self.0.into_sorted().map(SortedOps)
    }
}

/// An [`OpSorter`]'s operations in order: [`SortedOps::advance`] moves to
/// the next, [`SortedOps::current`] shows it.
pub(crate) struct SortedOps(Sorted<OpPacking>);

impl SortedOps {
    /// Moves to the next operation; `false` past the last.
    pub fn advance(&mut self) -> Result<bool, StoreError> {
        self.0.advance()
    }

    /// The listing the operation [`Self::advance`] moved to names, in the
    /// store's key order (SQLite's BINARY collation is byte order), read
    /// without checking its text, for comparing; `None` before the first
    /// and past the last.
    pub fn listing(&self) -> Option<(u16, &[u8], &[u8])> {
        self.0.current().map(|packed| {
            let (kind, value, agency, ..) = sort_key(packed);
            (kind, value, agency)
        })
    }

    /// The operation [`Self::advance`] moved to; `None` before the first
    /// and past the last.
    pub fn current(&self) -> Result<Option<OpRow<'_>>, StoreError> {
        self.0
            .current()
            .map(|packed| {
                unpack(packed).map_err(|e| scratch_error(self.0.path(), "read sort run", e))
            })
            .transpose()
    }
}

/// A packed operation: kind u16, asks u8 (0 add, 1 update, 2 remove, 3 an
/// override's update), whether it expires u8, reason u16, expires_at u64,
/// version u64, origin u64, accepted_at u64, the file's row (i64),
/// for an override's update the entry it replaces (whether that expires u8,
/// reason u16, expires_at u64; zeros otherwise), value length u32, agency
/// length u32, all little-endian, then the value's and the agency's bytes.
struct OpPacking;

const HEADER_LEN: usize = 2 + 1 + 1 + 2 + 8 + 8 + 8 + 8 + 8 + 1 + 2 + 8 + 4 + 4;

/// Where the file's row starts.
const FILE_AT: usize = 38;
/// Where the replaced entry starts.
const FROM_AT: usize = FILE_AT + 8;
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

fn pack(out: &mut Vec<u8>, id: &Identifier, agency: &Agency, op: &OriginOp, file: FileId) {
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
    out.extend_from_slice(&file.to_le_bytes());
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
        file: u64_at(b, FILE_AT) as FileId,
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
            let file = n as FileId;
            sorter.push(&id, agency, &op, file).unwrap();
            pushed.push((id.as_str().to_owned(), agency.as_str().to_owned(), op, file));
        }
        let mut out = Vec::new();
        let mut sorted = sorter.into_sorted().unwrap();
        while sorted.advance().unwrap() {
            let r = sorted.current().unwrap().unwrap();
            out.push((r.value.to_owned(), r.agency.to_owned(), r.op, r.file));
        }
        assert!(sorted.current().unwrap().is_none(), "nothing past the last");
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
