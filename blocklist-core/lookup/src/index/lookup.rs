//! [`LookupIndex`]: an opened, validated, memory-mapped index file and the
//! lookups on it (one identifier, canonical or raw, or a batch).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fs::{File, Metadata};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::error::IndexError;
use super::filter::{self, Block};
use super::format::{
    decode_agencies, decode_header, Checksum, IndexHeader, IndexStats, HEADER_LEN,
};
use super::hash::{key_hash, KeyHash};
use super::identity::FileIdentity;
use super::mem::{map_file, prefetch, MappedSections};
use super::parents::{parent_may_answer, parents};
use super::table::{self, Bucket, PackedMeta, NEVER};
use crate::entry::{Agency, EntryMeta, Reason, Timestamp};
use crate::kind::Kind;
use crate::normalise::{self, NormaliseError, Rules};

/// Queries a batch lookup works on at once: enough to keep a few dozen cache
/// misses in flight, few enough that prefetched lines are still cached when used.
const BATCH: usize = 32;

thread_local! {
    /// Reused buffer for normalising raw queries, so `check` does not allocate
    /// on the hot path.
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A listed identifier that matched a lookup, with its metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Hit<'a> {
    /// The kind looked up.
    pub kind: Kind,
    /// The canonical identifier that is listed: the one asked about or, for a
    /// domain, the listed parent that caught it.
    pub matched: Cow<'a, str>,
    /// Why it is listed.
    pub reason: Reason,
    /// Who listed it (borrowed from the index).
    pub agency: &'a Agency,
    /// When it was listed.
    pub listed_at: Timestamp,
    /// When it stops matching, if ever.
    pub expires_at: Option<Timestamp>,
}

impl Hit<'_> {
    /// The metadata as the store holds it.
    pub fn meta(&self) -> EntryMeta {
        EntryMeta {
            reason: self.reason,
            agency: self.agency.clone(),
            listed_at: self.listed_at,
            expires_at: self.expires_at,
        }
    }
}

/// A read-only lookup index, mapped from its file.
///
/// Opening checks the whole file (header, section bounds, checksum, agency
/// table, every bucket), so lookups never fail and never read out of bounds.
/// The map is shared with every other process that opens the same file.
///
/// ```
/// # use blocklist_lookup::index::{IndexBuilder, LookupIndex};
/// # use blocklist_lookup::{Agency, EntryMeta, Identifier, Kind, Reason, Rules, Timestamp};
/// # let meta = EntryMeta { reason: Reason::MULE_ACCOUNT, agency: Agency::new("th-aoc").unwrap(),
/// #     listed_at: Timestamp(1_700_000_000), expires_at: None };
/// # let rules = Rules::default();
/// # let account = Identifier::parse(Kind::Account, "TH:004:1234567890", &rules).unwrap();
/// # let entries = [(account.kind(), account.as_str(), &meta)];
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("list.idx");
/// # IndexBuilder::new(1, [0; 32], Timestamp(0)).write(&path, || entries.iter().copied()).unwrap();
/// let index = LookupIndex::open(&path)?;
/// let now = Timestamp::now();
/// let hit = index.check(Kind::Account, "TH:004:1234567890", &rules, now)?;
/// assert_eq!(hit.map(|h| h.reason), Some(Reason::MULE_ACCOUNT));
/// assert!(index.check(Kind::Account, "TH:004:0000000000", &rules, now)?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LookupIndex {
    path: PathBuf,
    header: IndexHeader,
    stats: IndexStats,
    seed: u64,
    home_buckets: usize,
    agencies: Vec<Agency>,
    /// The mapped file as it was when validated, and its header bytes (which
    /// hold the checksum of all the others).
    identity: FileIdentity,
    header_bytes: Box<[u8; HEADER_LEN]>,
    /// The mapped file, kept open so that its identity can be checked again
    /// (see [`LookupIndex::is_intact`]).
    file: File,
    /// Set once the mapped file was seen written in place: from then on the
    /// mapped bytes are not the ones validated.
    retired: AtomicBool,
    /// The filter blocks and table buckets, viewed in the mapped file.
    sections: MappedSections<Block, Bucket>,
}

impl std::fmt::Debug for LookupIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LookupIndex")
            .field("path", &self.path)
            .field("header", &self.header)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// A staged probe in a batch.
struct Staged<'q> {
    /// Which query of the chunk it answers.
    query: usize,
    kind: Kind,
    candidate: &'q str,
    key: KeyHash,
    maybe: bool,
}

impl LookupIndex {
    /// Opens and validates the index file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<LookupIndex, IndexError> {
        let path = path.as_ref();
        let (file, meta) = open_regular(path)?;
        LookupIndex::from_file(path, file, &meta)
    }

    /// Opens and validates an already opened index file, `meta` its metadata
    /// (`path` is for errors).
    pub(crate) fn from_file(
        path: &Path,
        file: File,
        meta: &Metadata,
    ) -> Result<LookupIndex, IndexError> {
        if meta.len() < HEADER_LEN as u64 {
            return Err(IndexError::Truncated {
                path: path.to_owned(),
                actual: meta.len(),
                expected: HEADER_LEN as u64,
            });
        }
        let map = map_file(&file).map_err(|e| IndexError::io(path, "map", e))?;
        let (header, layout, stored) = decode_header(path, &map, meta.len())?;
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
        Ok(LookupIndex {
            path: path.to_owned(),
            stats: layout.stats(header.entries),
            header,
            seed: layout.seed,
            home_buckets,
            agencies,
            identity: FileIdentity::of(meta),
            header_bytes,
            file,
            retired: AtomicBool::new(false),
            sections,
        })
    }

    /// Whether this index still answers from the bytes it validated. False
    /// once the reload that polls its file (see [`LiveIndex`](super::LiveIndex))
    /// has seen that file written in place (a `cp` over it, a restore):
    /// index files are only ever replaced by rename, so a write in place
    /// means the mapped bytes may be anything, and the answers must not be
    /// used. One relaxed load: cheap enough to test on every lookup.
    #[inline]
    pub fn is_intact(&self) -> bool {
        !self.retired.load(Ordering::Relaxed)
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

    /// Marks this index's answers as untrusted, for good (see [`is_intact`](Self::is_intact)).
    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Relaxed);
    }

    /// The file this index was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the index was built from: list version, state digest, times, size.
    pub fn header(&self) -> &IndexHeader {
        &self.header
    }

    /// Sizes of the file and its sections.
    pub fn stats(&self) -> IndexStats {
        self.stats
    }

    pub(super) fn seed(&self) -> u64 {
        self.seed
    }

    /// The table, home and overflow buckets.
    pub(super) fn buckets(&self) -> &[Bucket] {
        self.sections.second()
    }

    pub(super) fn home_buckets(&self) -> usize {
        self.home_buckets
    }

    pub(super) fn agencies(&self) -> &[Agency] {
        &self.agencies
    }

    /// Looks up an identifier given in canonical form (as the normaliser
    /// makes it). A domain also matches through a listed parent up to its
    /// registrable domain (never past a public suffix). Entries
    /// whose `expires_at <= now` do not match.
    #[inline]
    pub fn lookup_canonical<'a>(
        &'a self,
        kind: Kind,
        canonical: &'a str,
        now: Timestamp,
    ) -> Option<Hit<'a>> {
        let (matched, meta) = self.find_candidate(kind, canonical, now)?;
        Some(self.hit(kind, Cow::Borrowed(matched), meta))
    }

    /// Normalises `raw` as `kind` and looks it up (see [`lookup_canonical`](Self::lookup_canonical)).
    /// Does not allocate unless it hits.
    pub fn check(
        &self,
        kind: Kind,
        raw: &str,
        rules: &Rules,
        now: Timestamp,
    ) -> Result<Option<Hit<'_>>, NormaliseError> {
        // A thread whose storage is torn down (a C caller checking from a
        // thread-local destructor) gets a new buffer: no panic for that.
        SCRATCH
            .try_with(|cell| {
                cell.try_borrow_mut()
                    .ok()
                    .map(|mut canonical| self.check_into(kind, raw, rules, now, &mut canonical))
            })
            .ok()
            .flatten()
            .unwrap_or_else(|| self.check_into(kind, raw, rules, now, &mut String::new()))
    }

    /// [`check`](Self::check) with `canonical` as the buffer to normalise into.
    fn check_into(
        &self,
        kind: Kind,
        raw: &str,
        rules: &Rules,
        now: Timestamp,
        canonical: &mut String,
    ) -> Result<Option<Hit<'_>>, NormaliseError> {
        normalise::normalise_into(kind, raw, rules, canonical)?;
        Ok(self
            .find_candidate(kind, canonical, now)
            .map(|(matched, meta)| self.hit(kind, Cow::Owned(matched.to_owned()), meta)))
    }

    /// Like [`check`](Self::check), for the current wall-clock time.
    pub fn check_now(
        &self,
        kind: Kind,
        raw: &str,
        rules: &Rules,
    ) -> Result<Option<Hit<'_>>, NormaliseError> {
        self.check(kind, raw, rules, Timestamp::now())
    }

    /// Looks up many canonical identifiers. Clears `hits`, then appends the
    /// position in `keys` and the [`Hit`] of each listed one, in order; an
    /// unlisted key adds nothing, so a batch of misses writes no memory.
    /// Faster per key than one call each: the memory loads of a whole group
    /// of keys overlap.
    ///
    /// ```
    /// # use blocklist_lookup::index::{IndexBuilder, LookupIndex};
    /// # use blocklist_lookup::{Agency, EntryMeta, Kind, Reason, Timestamp};
    /// # let meta = EntryMeta { reason: Reason::MULE_ACCOUNT, agency: Agency::new("th-aoc").unwrap(),
    /// #     listed_at: Timestamp(1_700_000_000), expires_at: None };
    /// # let entries = [(Kind::Domain, "scam.co.th", &meta)];
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("list.idx");
    /// # IndexBuilder::new(1, [0; 32], Timestamp(0)).write(&path, || entries.iter().copied()).unwrap();
    /// let index = LookupIndex::open(&path)?;
    /// let keys = [(Kind::Number, "+66812345678"), (Kind::Domain, "www.scam.co.th")];
    /// let mut hits = Vec::new();
    /// index.lookup_batch(&keys, Timestamp::now(), &mut hits);
    /// assert_eq!(hits.len(), 1);
    /// assert_eq!((hits[0].0, &*hits[0].1.matched), (1, "scam.co.th"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lookup_batch<'a>(
        &'a self,
        keys: &[(Kind, &'a str)],
        now: Timestamp,
        hits: &mut Vec<(usize, Hit<'a>)>,
    ) {
        hits.clear();
        self.resolve_batch(keys, now, |at, kind, matched, meta| {
            hits.push((at, self.hit(kind, Cow::Borrowed(matched), meta)));
        });
    }

    /// Normalises and looks up many raw identifiers; one result per query, in order.
    pub fn check_batch(
        &self,
        queries: &[(Kind, &str)],
        rules: &Rules,
        now: Timestamp,
    ) -> Vec<Result<Option<Hit<'_>>, NormaliseError>> {
        let mut scratch = String::new();
        let mut arena = String::new();
        let mut results = Vec::with_capacity(queries.len());
        let mut spans = Vec::with_capacity(queries.len());
        for &(kind, raw) in queries {
            match normalise::normalise_into(kind, raw, rules, &mut scratch) {
                Ok(()) => {
                    spans.push((
                        results.len(),
                        kind,
                        arena.len()..arena.len() + scratch.len(),
                    ));
                    arena.push_str(&scratch);
                    results.push(Ok(None));
                }
                Err(e) => results.push(Err(e)),
            }
        }
        let keys: Vec<(Kind, &str)> = spans
            .iter()
            .map(|(_, kind, span)| (*kind, &arena[span.clone()]))
            .collect();
        self.resolve_batch(&keys, now, |at, kind, matched, meta| {
            results[spans[at].0] = Ok(Some(self.hit(kind, Cow::Owned(matched.to_owned()), meta)));
        });
        results
    }

    /// Whether the filter alone lets this canonical key through (a "maybe").
    /// A diagnostic for measuring the filter's false-positive rate: the
    /// answer to "is it listed" always comes from the table.
    pub fn filter_admits(&self, kind: Kind, canonical: &str) -> bool {
        filter::may_contain(
            self.sections.first(),
            key_hash(self.seed, kind, canonical).fingerprint,
        )
    }

    /// The first candidate of `canonical` (itself, or for a domain itself then
    /// its parents) that is listed and active at `now`.
    #[inline(always)]
    fn find_candidate<'q>(
        &self,
        kind: Kind,
        canonical: &'q str,
        now: Timestamp,
    ) -> Option<(&'q str, PackedMeta)> {
        // The identifier itself first, so that the kind test for parents
        // comes after its load is issued (see `parents`).
        if let Some(meta) = self.probe(&key_hash(self.seed, kind, canonical), now) {
            return Some((canonical, meta));
        }
        // The first listed parent decides: if it is past the registrable
        // domain, so is every later one.
        parents(kind, canonical)
            .find_map(|parent| {
                let key = key_hash(self.seed, kind, parent);
                self.probe(&key, now).map(|meta| (parent, meta))
            })
            .filter(|(parent, _)| parent_may_answer(canonical, parent))
    }

    /// Filter, then table, then expiry: the one place that decides a match.
    ///
    /// The table line is read only once the filter admits the key: a miss
    /// then costs the filter line alone (no second load, no page walk for
    /// the much larger table), and a hit two dependent loads. Prefetching the
    /// table line beside the filter line measured no faster for hits at 10M
    /// entries and about 3 ns slower for misses at 1M (`docs/PERFORMANCE.md`).
    #[inline(always)]
    fn probe(&self, key: &KeyHash, now: Timestamp) -> Option<PackedMeta> {
        if !filter::may_contain(self.sections.first(), key.fingerprint) {
            return None;
        }
        table::find(self.sections.second(), self.home_buckets, key)
            .filter(|meta| is_active(meta, now))
    }

    /// Batch lookups in three passes per chunk, so that the memory loads of
    /// the chunk overlap: hash every candidate and prefetch its filter block;
    /// test the filters and prefetch the table line of each "maybe"; resolve.
    /// `found(query, kind, matched, meta)` is called for each query that hits.
    fn resolve_batch<'q>(
        &self,
        keys: &[(Kind, &'q str)],
        now: Timestamp,
        mut found: impl FnMut(usize, Kind, &'q str, PackedMeta),
    ) {
        let (blocks, buckets) = (self.sections.first(), self.sections.second());
        let mut staged: Vec<Staged<'q>> = Vec::with_capacity(BATCH);
        let mut answered = [false; BATCH];
        for (chunk_index, chunk) in keys.chunks(BATCH).enumerate() {
            let base = chunk_index * BATCH;
            staged.clear();
            for (query, &(kind, canonical)) in chunk.iter().enumerate() {
                for candidate in std::iter::once(canonical).chain(parents(kind, canonical)) {
                    let key = key_hash(self.seed, kind, candidate);
                    prefetch(filter::block_for(blocks, key.fingerprint));
                    staged.push(Staged {
                        query,
                        kind,
                        candidate,
                        key,
                        maybe: false,
                    });
                }
            }
            for s in &mut staged {
                s.maybe = filter::may_contain(blocks, s.key.fingerprint);
                if s.maybe {
                    let home = table::home_of(&s.key, self.home_buckets);
                    prefetch(&buckets[home]);
                    // About half of the entries sit one bucket past home.
                    prefetch(&buckets[(home + 1).min(buckets.len() - 1)]);
                }
            }
            answered.fill(false);
            // Candidates of one query are staged in order (a domain before its
            // parents), so the first active match is the one a single lookup
            // finds, and decides as it does whether a parent may answer.
            for s in staged.iter().filter(|s| s.maybe) {
                if answered[s.query] {
                    continue;
                }
                if let Some(meta) =
                    table::find(buckets, self.home_buckets, &s.key).filter(|m| is_active(m, now))
                {
                    answered[s.query] = true;
                    if parent_may_answer(chunk[s.query].1, s.candidate) {
                        found(base + s.query, s.kind, s.candidate, meta);
                    }
                }
            }
        }
    }

    fn hit<'a>(&'a self, kind: Kind, matched: Cow<'a, str>, meta: PackedMeta) -> Hit<'a> {
        Hit {
            kind,
            matched,
            reason: Reason(meta.reason),
            // Open checked that every stored agency index is in the table.
            agency: &self.agencies[usize::from(meta.agency)],
            listed_at: Timestamp(u64::from(meta.listed_at)),
            expires_at: (meta.expires_at != NEVER).then_some(Timestamp(u64::from(meta.expires_at))),
        }
    }
}

/// An entry matches until its expiry time, exclusive (as [`EntryMeta::is_active`]).
/// Both tests are evaluated, without a branch between them: whether an entry
/// expires varies from hit to hit.
#[inline(always)]
fn is_active(meta: &PackedMeta, now: Timestamp) -> bool {
    (meta.expires_at == NEVER) | (now.0 < u64::from(meta.expires_at))
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
