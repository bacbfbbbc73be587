//! Puts a snapshot's entries in key order in bounded memory, so the store
//! appends every row once: a snapshot's groups each hold their values in
//! order, but the groups interleave in key order, and a B-tree fed rows out
//! of order visits a page per row.
//!
//! An external merge sort ([`Sorter`], over any packed record a [`Packing`]
//! describes: entries here, the origins' operations in `origin_ops`):
//! records are packed into a buffer of a fixed size; a full buffer is sorted
//! (a snapshot's groups are runs already, which the stable sort merges) and
//! written as one sorted run to a scratch file; the end merges the runs,
//! reading each a piece at a time. What fits the buffer never touches the
//! disk. The scratch file is unlinked as soon as it is created: it vanishes
//! with the process, whatever ends it.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::marker::PhantomData;
use std::ops::Range;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

use crate::entry::{Agency, Entry};
use crate::store::StoreError;

/// Bytes of packed entries sorted in memory at a time (about 1.4 million
/// entries): large enough that a 10-million-entry list makes a handful of
/// runs, small enough to sit beside the index builder's records.
pub(crate) const SORT_BUFFER: usize = 64 << 20;
/// Read buffer of all the runs together during the merge.
const MERGE_READ: usize = 16 << 20;
/// The smallest read buffer of one run, whatever the number of runs.
const MIN_RUN_READ: usize = 64 << 10;

/// One entry as the sorter holds it, borrowed from its buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SortedRow<'a> {
    /// The kind's wire code.
    pub kind: u16,
    /// The canonical value.
    pub value: &'a str,
    /// The reason code.
    pub reason: u16,
    /// The listing agency.
    pub agency: &'a Agency,
    /// Seconds since the epoch.
    pub listed_at: u64,
    /// Seconds since the epoch, if it expires.
    pub expires_at: Option<u64>,
}

impl SortedRow<'_> {
    /// The store's key: kind, then value (SQLite's BINARY order is byte order).
    pub fn key(&self) -> (u16, &[u8]) {
        (self.kind, self.value.as_bytes())
    }
}

/// How the records a [`Sorter`] holds are laid out: it moves them as
/// packed bytes and asks this for their length and order.
pub(crate) trait Packing {
    /// Bytes at a record's start that say its length.
    const HEADER_LEN: usize;

    /// The length of the record `b` starts with (`b` holds its header).
    fn packed_len(b: &[u8]) -> usize;

    /// The order of the records `a` and `b` start with.
    fn cmp(a: &[u8], b: &[u8]) -> Ordering;
}

/// Collects packed records, then hands them back in the order `P` gives.
pub(crate) struct Sorter<P> {
    /// Packed records.
    buffer: Vec<u8>,
    /// Where each record of `buffer` starts.
    starts: Vec<u32>,
    capacity: usize,
    scratch: Scratch,
    /// The byte range of each run written to the scratch file.
    runs: Vec<Range<u64>>,
    packing: PhantomData<P>,
}

impl<P: Packing> Sorter<P> {
    /// A sorter keeping up to `capacity` bytes of records in memory, and the
    /// rest in runs in a scratch file at `scratch` (created when first needed).
    pub fn new(scratch: PathBuf, capacity: usize) -> Sorter<P> {
        Sorter {
            buffer: Vec::new(),
            starts: Vec::new(),
            capacity,
            scratch: Scratch {
                path: scratch,
                file: None,
                len: 0,
            },
            runs: Vec::new(),
            packing: PhantomData,
        }
    }

    /// Adds the record `pack` appends to the buffer.
    pub fn push(&mut self, pack: impl FnOnce(&mut Vec<u8>)) -> Result<(), StoreError> {
        if self.buffer.len() >= self.capacity {
            self.write_run()?;
        }
        self.starts.push(self.buffer.len() as u32);
        pack(&mut self.buffer);
        Ok(())
    }

    /// Where the runs go, for errors.
    pub fn path(&self) -> &Path {
        &self.scratch.path
    }

    /// Calls `record` with every record, in order; equal records come one
    /// after the other. Stops at `record`'s first error.
    pub fn for_each_sorted(
        self,
        mut record: impl FnMut(&[u8]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut sorted = self.into_sorted()?;
        while sorted.advance()? {
            record(sorted.current().expect("advanced to a record"))?;
        }
        Ok(())
    }

    /// The records in order, to be read one at a time beside another
    /// ordered stream (see [`Sorted`]).
    pub fn into_sorted(mut self) -> Result<Sorted<P>, StoreError> {
        if self.runs.is_empty() {
            // Everything fit in memory: no scratch file.
            self.sort_buffer();
            return Ok(Sorted {
                path: self.scratch.path,
                records: Records::Memory {
                    buffer: self.buffer,
                    starts: self.starts,
                    at: None,
                },
            });
        }
        if !self.starts.is_empty() {
            self.write_run()?;
        }
        let file = self.scratch.file.take().expect("runs were written");
        // No run is much longer than the buffer: no point reading more.
        let piece = (MERGE_READ / self.runs.len())
            .max(MIN_RUN_READ)
            .min(self.capacity);
        let mut heads = BinaryHeap::with_capacity(self.runs.len());
        for range in &self.runs {
            let mut run = RunReader::<P>::new(range.clone(), piece);
            if run.advance(&file, &self.scratch.path)? {
                heads.push(Head(run));
            }
        }
        Ok(Sorted {
            path: self.scratch.path,
            records: Records::Runs {
                file,
                heads,
                started: false,
            },
        })
    }

    /// Sorts the buffer; stable, so it merges the runs the records came in
    /// (a snapshot's groups) in a few passes.
    fn sort_buffer(&mut self) {
        let buffer = &self.buffer;
        self.starts
            .sort_by(|&a, &b| P::cmp(&buffer[a as usize..], &buffer[b as usize..]));
    }

    /// Sorts the buffer and appends it to the scratch file as one run.
    fn write_run(&mut self) -> Result<(), StoreError> {
        self.sort_buffer();
        let start = self.scratch.len;
        let (file, path) = self.scratch.open()?;
        let mut out = BufWriter::with_capacity(1 << 20, ScratchWriter { file, at: start });
        for &at in &self.starts {
            let at = at as usize;
            out.write_all(&self.buffer[at..at + P::packed_len(&self.buffer[at..])])
                .map_err(|e| scratch_error(path, "write sort run", e))?;
        }
        out.flush()
            .map_err(|e| scratch_error(path, "write sort run", e))?;
        let end = out.get_ref().at;
        drop(out);
        self.scratch.len = end;
        self.runs.push(start..end);
        self.buffer.clear();
        self.starts.clear();
        Ok(())
    }
}

/// A [`Sorter`]'s records in order, read one at a time: [`Sorted::advance`]
/// moves to the next and [`Sorted::current`] shows it, so a reader can look
/// at a record and leave it for later, as a merge join with another ordered
/// stream does.
pub(crate) struct Sorted<P> {
    path: PathBuf,
    records: Records<P>,
}

enum Records<P> {
    /// Sorted in the buffer: `at` is the current record's position in
    /// `starts` (`None` before the first).
    Memory {
        buffer: Vec<u8>,
        starts: Vec<u32>,
        at: Option<usize>,
    },
    /// Merged from the runs: the current record is the heap's top, once
    /// `started`.
    Runs {
        file: File,
        heads: BinaryHeap<Head<P>>,
        started: bool,
    },
}

impl<P: Packing> Sorted<P> {
    /// Moves to the next record; `false` past the last.
    pub fn advance(&mut self) -> Result<bool, StoreError> {
        match &mut self.records {
            Records::Memory { starts, at, .. } => {
                let next = at.map_or(0, |at| at + 1);
                *at = Some(next.min(starts.len()));
                Ok(next < starts.len())
            }
            Records::Runs {
                file,
                heads,
                started,
            } => {
                if std::mem::replace(started, true) {
                    if let Some(mut head) = heads.peek_mut() {
                        if !head.0.advance(file, &self.path)? {
                            std::collections::binary_heap::PeekMut::pop(head);
                        }
                    }
                }
                Ok(!heads.is_empty())
            }
        }
    }

    /// The record [`Self::advance`] moved to (it may run on past the
    /// record's end); `None` before the first and past the last.
    pub fn current(&self) -> Option<&[u8]> {
        match &self.records {
            Records::Memory { buffer, starts, at } => {
                let start = *starts.get((*at)?)?;
                Some(&buffer[start as usize..])
            }
            Records::Runs { heads, started, .. } => {
                started.then(|| heads.peek().map(|head| head.0.current()))?
            }
        }
    }

    /// Where the runs were, for errors.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Collects entries, then hands them back in key order.
pub(crate) struct EntrySorter {
    sorter: Sorter<EntryPacking>,
    agencies: Agencies,
}

impl EntrySorter {
    /// A sorter keeping up to `capacity` bytes of entries in memory, and the
    /// rest in runs in a scratch file at `scratch` (created when first needed).
    pub fn new(scratch: PathBuf, capacity: usize) -> EntrySorter {
        EntrySorter {
            sorter: Sorter::new(scratch, capacity),
            agencies: Agencies::default(),
        }
    }

    /// Adds `entry`.
    pub fn push(&mut self, entry: &Entry) -> Result<(), StoreError> {
        let agency = self.agencies.id(&entry.meta.agency);
        self.sorter.push(|out| pack(out, entry, agency))
    }

    /// Calls `row` with every entry, in key order; entries with the same key
    /// come one after the other. Stops at `row`'s first error.
    pub fn for_each_sorted(
        self,
        mut row: impl FnMut(SortedRow<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let EntrySorter { sorter, agencies } = self;
        let path = sorter.path().to_path_buf();
        sorter.for_each_sorted(|packed| row(unpack(packed, &agencies.names, &path)?))
    }
}

/// The scratch file the runs go to, unlinked once created.
struct Scratch {
    path: PathBuf,
    file: Option<File>,
    /// Bytes written.
    len: u64,
}

impl Scratch {
    fn open(&mut self) -> Result<(&File, &Path), StoreError> {
        if self.file.is_none() {
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&self.path)
                .map_err(|e| scratch_error(&self.path, "create sort scratch file", e))?;
            // Only this handle keeps it: nothing is left to clean up after a
            // crash (but an empty file, should one come between the two).
            std::fs::remove_file(&self.path)
                .map_err(|e| scratch_error(&self.path, "unlink sort scratch file", e))?;
            self.file = Some(file);
        }
        Ok((self.file.as_ref().expect("just opened"), &self.path))
    }
}

/// Writes at a position (`pwrite`), so runs go after one another.
struct ScratchWriter<'a> {
    file: &'a File,
    at: u64,
}

impl std::io::Write for ScratchWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One run being merged: its current record and a piece of what follows.
struct RunReader<P> {
    /// What is left to read from the file.
    left: Range<u64>,
    piece: Vec<u8>,
    /// The current entry's start in `piece`, and the end of its valid bytes.
    at: usize,
    end: usize,
    /// The current record's length; 0 before the first.
    len: usize,
    packing: PhantomData<P>,
}

impl<P: Packing> RunReader<P> {
    fn new(range: Range<u64>, piece: usize) -> RunReader<P> {
        RunReader {
            left: range,
            piece: vec![0; piece],
            at: 0,
            end: 0,
            len: 0,
            packing: PhantomData,
        }
    }

    /// Moves to the next entry; `false` at the run's end.
    fn advance(&mut self, file: &File, path: &Path) -> Result<bool, StoreError> {
        self.at += self.len;
        self.len = 0;
        if !self.holds_entry() {
            self.refill(file, path)?;
            if self.at == self.end {
                return Ok(false);
            }
        }
        self.len = P::packed_len(&self.piece[self.at..self.end]);
        Ok(true)
    }

    /// Whether the valid bytes from `at` hold a whole entry.
    fn holds_entry(&self) -> bool {
        let b = &self.piece[self.at..self.end];
        b.len() >= P::HEADER_LEN && b.len() >= P::packed_len(b)
    }

    /// Keeps the unread bytes and reads after them until they hold an entry
    /// or the run has no more (an entry larger than the piece grows it).
    fn refill(&mut self, file: &File, path: &Path) -> Result<(), StoreError> {
        self.piece.copy_within(self.at..self.end, 0);
        self.end -= self.at;
        self.at = 0;
        while !self.holds_entry() {
            let b = &self.piece[..self.end];
            let need = if b.len() >= P::HEADER_LEN {
                P::packed_len(b)
            } else {
                P::HEADER_LEN
            };
            if need > self.piece.len() {
                self.piece.resize(need, 0);
            }
            let left = self.left.end - self.left.start;
            let want =
                (self.piece.len() - self.end).min(usize::try_from(left).unwrap_or(usize::MAX));
            if want == 0 {
                break;
            }
            file.read_exact_at(&mut self.piece[self.end..self.end + want], self.left.start)
                .map_err(|e| scratch_error(path, "read sort run", e))?;
            self.left.start += want as u64;
            self.end += want;
        }
        if self.end > 0 && !self.holds_entry() {
            return Err(scratch_error(
                path,
                "read sort run",
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "a run ends inside an entry",
                ),
            ));
        }
        Ok(())
    }

    fn current(&self) -> &[u8] {
        &self.piece[self.at..self.at + self.len]
    }
}

/// A run in the merge heap, ordered so the smallest record comes first.
struct Head<P>(RunReader<P>);

impl<P: Packing> Ord for Head<P> {
    fn cmp(&self, other: &Self) -> Ordering {
        P::cmp(other.0.current(), self.0.current())
    }
}

impl<P: Packing> PartialOrd for Head<P> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<P: Packing> PartialEq for Head<P> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<P: Packing> Eq for Head<P> {}

/// Agencies in first-seen order, each named by its position in packed entries.
#[derive(Default)]
struct Agencies {
    names: Vec<Agency>,
    ids: HashMap<Agency, u32>,
    /// The last one looked up: entries come in groups of one agency.
    last: Option<(Agency, u32)>,
}

impl Agencies {
    fn id(&mut self, agency: &Agency) -> u32 {
        if let Some((last, id)) = &self.last {
            if last == agency {
                return *id;
            }
        }
        let next = self.names.len();
        // A snapshot names its agencies by u32 positions in its own table.
        let id = *self.ids.entry(agency.clone()).or_insert(next as u32);
        if id as usize == next {
            self.names.push(agency.clone());
        }
        self.last = Some((agency.clone(), id));
        id
    }
}

/// A packed entry: kind u16, reason u16, agency u32, whether it expires
/// (u8), listed_at u64, expires_at u64, value length u32, all little-endian,
/// then the value's bytes; ordered by key.
struct EntryPacking;

const HEADER_LEN: usize = 2 + 2 + 4 + 1 + 8 + 8 + 4;

impl Packing for EntryPacking {
    const HEADER_LEN: usize = HEADER_LEN;

    fn packed_len(b: &[u8]) -> usize {
        HEADER_LEN + value_len(b)
    }

    fn cmp(a: &[u8], b: &[u8]) -> Ordering {
        key_of(a).cmp(&key_of(b))
    }
}

fn pack(out: &mut Vec<u8>, entry: &Entry, agency: u32) {
    let meta = &entry.meta;
    let value = entry.id.as_str().as_bytes();
    out.extend_from_slice(&entry.id.kind().code().to_le_bytes());
    out.extend_from_slice(&meta.reason.0.to_le_bytes());
    out.extend_from_slice(&agency.to_le_bytes());
    out.push(u8::from(meta.expires_at.is_some()));
    out.extend_from_slice(&meta.listed_at.0.to_le_bytes());
    out.extend_from_slice(&meta.expires_at.map_or(0, |t| t.0).to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
}

pub(crate) fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().expect("2 bytes"))
}

pub(crate) fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn value_len(b: &[u8]) -> usize {
    u32_at(b, 25) as usize
}

fn key_of(b: &[u8]) -> (u16, &[u8]) {
    (u16_at(b, 0), &b[HEADER_LEN..HEADER_LEN + value_len(b)])
}

/// The entry `b` starts with. Only this process packed it, from a `str` and
/// an agency of `agencies`; the value is checked all the same, being read
/// back from a file.
fn unpack<'a>(
    b: &'a [u8],
    agencies: &'a [Agency],
    path: &Path,
) -> Result<SortedRow<'a>, StoreError> {
    let (kind, value) = key_of(b);
    let value = std::str::from_utf8(value).map_err(|e| {
        scratch_error(
            path,
            "read sort run",
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    Ok(SortedRow {
        kind,
        value,
        reason: u16_at(b, 2),
        agency: &agencies[u32_at(b, 4) as usize],
        listed_at: u64_at(b, 9),
        expires_at: (b[8] != 0).then(|| u64_at(b, 17)),
    })
}

pub(crate) fn scratch_error(
    path: &Path,
    action: &'static str,
    source: std::io::Error,
) -> StoreError {
    StoreError::Io {
        path: path.to_path_buf(),
        action,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{EntryMeta, Reason, Timestamp};
    use crate::identifier::Identifier;
    use crate::kind::Kind;

    type Plain = (u16, String, u16, String, u64, Option<u64>);

    /// Entry `n` of group `g`: groups hold their values in order and
    /// interleave, as a snapshot's do; some values are long.
    fn entry(g: u64, n: u64) -> Entry {
        let (kind, value) = match g % 3 {
            0 => (Kind::Domain, format!("d{:05}.example.com", n * 7 + g)),
            1 => (
                Kind::Other(77),
                format!("{:05}{}", n * 7 + g, "x".repeat((n % 5 * 60) as usize)),
            ),
            _ => (Kind::Other(9), format!("v{:05}", n * 7 + g)),
        };
        Entry {
            id: Identifier::from_canonical(kind, &value).unwrap(),
            meta: EntryMeta {
                reason: Reason(g as u16),
                agency: Agency::new(["police", "th-aoc", "bank-004"][(g % 3) as usize]).unwrap(),
                listed_at: Timestamp(1_700_000_000 + g),
                expires_at: (g % 2 == 1).then_some(Timestamp(u64::MAX - g)),
            },
        }
    }

    fn plain(e: &Entry) -> Plain {
        let m = &e.meta;
        (
            e.id.kind().code(),
            e.id.as_str().to_owned(),
            m.reason.0,
            m.agency.as_str().to_owned(),
            m.listed_at.0,
            m.expires_at.map(|t| t.0),
        )
    }

    /// What `sorter` hands back for `entries`, and the expected order.
    fn sorted(capacity: usize, entries: &[Entry]) -> (Vec<Plain>, Vec<Plain>, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let scratch = dir.path().join("list.db-sort");
        let mut sorter = EntrySorter::new(scratch.clone(), capacity);
        entries.iter().for_each(|e| sorter.push(e).unwrap());
        let mut out = Vec::new();
        sorter
            .for_each_sorted(|r| {
                out.push((
                    r.kind,
                    r.value.to_owned(),
                    r.reason,
                    r.agency.as_str().to_owned(),
                    r.listed_at,
                    r.expires_at,
                ));
                Ok(())
            })
            .unwrap();
        let mut expected: Vec<Plain> = entries.iter().map(plain).collect();
        expected.sort_by(|a, b| (a.0, a.1.as_bytes()).cmp(&(b.0, b.1.as_bytes())));
        (out, expected, scratch)
    }

    fn groups(count: u64, per_group: u64) -> Vec<Entry> {
        (0..count)
            .flat_map(|g| (0..per_group).map(move |n| entry(g, n)))
            .collect()
    }

    #[test]
    fn entries_that_fit_the_buffer_come_back_in_key_order_without_a_scratch_file() {
        let entries = groups(7, 40);
        let (out, expected, scratch) = sorted(SORT_BUFFER, &entries);
        assert_eq!(out, expected);
        assert!(!scratch.exists());
    }

    #[test]
    fn entries_spilled_to_many_runs_come_back_in_key_order_and_leave_no_file() {
        // A buffer smaller than some entries: every run is read in pieces
        // that must grow to hold one entry.
        for capacity in [100, 1_000, 20_000] {
            let entries = groups(7, 300);
            let (out, expected, scratch) = sorted(capacity, &entries);
            assert_eq!(out, expected, "buffer of {capacity} bytes");
            assert!(!scratch.exists(), "the scratch file is unlinked");
        }
    }

    #[test]
    fn one_identifier_in_two_runs_comes_back_twice_in_a_row() {
        let mut entries = groups(3, 200);
        let mut again = entries[10].clone();
        again.meta.reason = Reason(9);
        entries.push(again);
        let (out, _, _) = sorted(500, &entries);
        let twice = out
            .windows(2)
            .filter(|w| (w[0].0, &w[0].1) == (w[1].0, &w[1].1));
        assert_eq!(twice.count(), 1);
    }
}
