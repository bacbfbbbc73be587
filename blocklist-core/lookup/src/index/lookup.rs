//! [`LookupIndex`]: an opened, validated, memory-mapped index file and the
//! lookups on it (one identifier, canonical or raw, or a batch).

use std::borrow::Cow;
use std::cell::RefCell;
use std::fs::{File, Metadata};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::error::IndexError;
use super::filter::{self, Block};
use super::format::{IndexHeader, IndexStats};
use super::hash::{fingerprinted, key_hash, Fingerprinted, KeyHash};
use super::held::{Front, Sought};
use super::identity::FileIdentity;
use super::layer::{open_regular, Layer};
use super::mem::prefetch;
use super::parents::{ends_at, parent_may_answer, parents};
use super::table::{self, PackedMeta, NEVER};
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
    /// Who listed it (borrowed from the index): of its listings, the one
    /// that stands for it ([`crate::Standing`]).
    pub agency: &'a Agency,
    /// How many agencies list it (at least 1).
    pub listings: u32,
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
/// The file is a full index, or an overlay of recent changes naming the full
/// index it is stacked on (its base, a file beside it): see
/// [`write_overlay`](Self::write_overlay). Either way the index answers for
/// one list version, and a key the overlay holds (listed, changed or
/// removed) is answered from the overlay alone.
///
/// Opening checks every file read (header, section bounds, checksum, agency
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
    /// The path opened: a full index, or an overlay naming its base.
    path: PathBuf,
    /// The version answered for: the opened file's version, digest and time,
    /// and the list's entry count (base and overlay together).
    header: IndexHeader,
    /// The full index: the file at `path`, or the base its overlay names
    /// (shared with the other versions stacked on it).
    base: Arc<Layer>,
    /// The overlay at `path`, if the file there is one.
    overlay: Option<Layer>,
    /// Set once a mapped file was seen written in place: from then on the
    /// mapped bytes are not the ones validated.
    retired: AtomicBool,
}

impl std::fmt::Debug for LookupIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LookupIndex")
            .field("path", &self.path)
            .field("header", &self.header)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// How a staged batch probe was answered before its table line was read.
#[derive(Clone, Copy)]
enum Probe {
    /// The base filter turned it away (and the overlay has no record).
    Miss,
    /// The overlay holds its record.
    Overlay(PackedMeta),
    /// The base filter let it through: read the base table.
    Base,
}

/// A staged probe in a batch.
struct Staged<'q> {
    /// Which query of the chunk it answers.
    query: usize,
    kind: Kind,
    candidate: &'q str,
    key: KeyHash,
    probe: Probe,
}

/// How many times [`LookupIndex::open`] reads the path again when the base
/// its overlay names is gone: a writer replaces the overlay before it
/// removes the base the old one named, so a second look finds a pair.
const OPEN_ATTEMPTS: usize = 3;

impl LookupIndex {
    /// Opens and validates the index file at `path` (and, if it is an
    /// overlay, the base it names).
    pub fn open(path: impl AsRef<Path>) -> Result<LookupIndex, IndexError> {
        open_stack(path.as_ref(), None).and_then(|(_, index)| index)
    }

    /// Like [`open`](Self::open), taking an overlay's base from `held` (an
    /// index opened earlier) when it is the same, unchanged file: a new
    /// overlay then costs its own size to open, not its base's.
    pub fn open_reusing(
        path: impl AsRef<Path>,
        held: &LookupIndex,
    ) -> Result<LookupIndex, IndexError> {
        open_stack(path.as_ref(), Some(held)).and_then(|(_, index)| index)
    }

    /// Opens and validates the overlay just written at `staged`, on the
    /// base of `held`, before it is renamed to where it is published (then
    /// [`renamed`](Self::renamed) gives it that name): a writer can check a
    /// large overlay while it is still busy committing the version, rather
    /// than after. Fails if `held`'s base is not the one the overlay names.
    pub fn open_staged(staged: &Path, held: &LookupIndex) -> Result<LookupIndex, IndexError> {
        let (file, meta) = open_regular(staged)?;
        let index = LookupIndex::from_file(staged, file, &meta, Some(held))?;
        if !Arc::ptr_eq(&index.base, &held.base) {
            return Err(IndexError::corrupt(
                staged,
                "the staged overlay does not stand on the base held",
            ));
        }
        Ok(index)
    }

    /// Validates an already opened index file, `meta` its metadata (`path`
    /// is for errors and names the overlay's base); an overlay's base is
    /// taken from `held` when it is the same, unchanged file.
    pub(crate) fn from_file(
        path: &Path,
        file: File,
        meta: &Metadata,
        held: Option<&LookupIndex>,
    ) -> Result<LookupIndex, IndexError> {
        let top = Layer::from_file(path, file, meta)?;
        if !top.is_overlay() {
            return Ok(LookupIndex {
                path: path.to_owned(),
                header: top.header.clone(),
                base: Arc::new(top),
                overlay: None,
                retired: AtomicBool::new(false),
            });
        }
        let wanted = top.stacking.base_checksum;
        let reusable = held.map(|held| &held.base).filter(|base| {
            base.checksum == wanted
                && held.is_some_and(LookupIndex::is_intact)
                && !base.file_changed().unwrap_or(true)
        });
        let base = match reusable {
            Some(base) => Arc::clone(base),
            None => Arc::new(open_base(path, wanted)?),
        };
        if base.seed != top.seed {
            return Err(IndexError::corrupt(
                path,
                "overlay and base were hashed with different seeds",
            ));
        }
        Ok(LookupIndex {
            path: path.to_owned(),
            header: IndexHeader {
                entries: top.stacking.list_entries,
                ..top.header.clone()
            },
            base,
            overlay: Some(top),
            retired: AtomicBool::new(false),
        })
    }

    /// Whether this index still answers from the bytes it validated. False
    /// once the reload that polls its files (see [`LiveIndex`](super::LiveIndex))
    /// has seen one written in place (a `cp` over it, a restore): index
    /// files are only ever replaced by rename, so a write in place means the
    /// mapped bytes may be anything, and the answers must not be used. One
    /// relaxed load: cheap enough to test on every lookup.
    #[inline]
    pub fn is_intact(&self) -> bool {
        !self.retired.load(Ordering::Relaxed)
    }

    /// Whether a mapped file (the overlay or the base) may have been written
    /// since it was validated (see [`Layer::file_changed`]).
    pub(crate) fn file_changed(&self) -> Result<bool, IndexError> {
        if self.base.file_changed()? {
            return Ok(true);
        }
        self.overlay.as_ref().map_or(Ok(false), Layer::file_changed)
    }

    /// Marks this index's answers as untrusted, for good (see [`is_intact`](Self::is_intact)).
    pub(crate) fn retire(&self) {
        self.retired.store(true, Ordering::Relaxed);
    }

    /// The file this index was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the index answers for: list version, state digest, data time,
    /// and the list's entry count.
    pub fn header(&self) -> &IndexHeader {
        &self.header
    }

    /// Sizes of the base file and its sections, the list's entry count, and
    /// the overlay's record count.
    pub fn stats(&self) -> IndexStats {
        IndexStats {
            entries: self.header.entries,
            overlay_entries: self.overlay.as_ref().map_or(0, |o| o.header.entries),
            ..self.base.stats
        }
    }

    /// This index, known by the name its file was renamed to since it was
    /// opened (the map and descriptor follow the file): an overlay opened
    /// with [`open_staged`](Self::open_staged), or a full index just opened,
    /// its base held nowhere else.
    pub fn renamed(mut self, to: &Path) -> Result<LookupIndex, IndexError> {
        match &mut self.overlay {
            Some(overlay) => overlay.renamed(to)?,
            None => {
                if let Some(base) = Arc::get_mut(&mut self.base) {
                    base.renamed(to)?;
                }
            }
        }
        self.path = to.to_owned();
        Ok(self)
    }

    /// The file of the full index this one answers from: the opened file,
    /// or the base its overlay names.
    pub fn base_path(&self) -> &Path {
        &self.base.path
    }

    /// The checksum of the full index this one answers from (what an overlay
    /// names its base by).
    pub fn base_checksum(&self) -> u64 {
        self.base.checksum
    }

    /// The full index this one answers from, with the overlay's changes.
    pub(super) fn base(&self) -> &Arc<Layer> {
        &self.base
    }

    /// The overlay of recent changes, if the opened file is one.
    pub(super) fn overlay(&self) -> Option<&Layer> {
        self.overlay.as_ref()
    }

    /// The overlay if it holds any change: an empty one (right after a new
    /// base) costs lookups nothing.
    #[inline(always)]
    fn recent(&self) -> Option<&Layer> {
        self.overlay.as_ref().filter(|o| o.header.entries != 0)
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
        let sought = self
            .front()
            .seek(fingerprinted(self.base.seed, kind, canonical.as_bytes()));
        let (matched, layer, meta) = self.find_candidate(kind, canonical, &sought, now)?;
        Some(hit(layer, kind, Cow::Borrowed(matched), meta))
    }

    /// [`lookup_canonical`](Self::lookup_canonical) for text that must have
    /// `kind`'s canonical shape ([`has_canonical_shape`](normalise::has_canonical_shape)),
    /// as a caller that keeps identifiers in canonical form guards its
    /// lookups against text as people write it: `None` when the text does
    /// not have that shape. The key is hashed and its filter line requested
    /// first, so that the shape test runs while the line loads (a cache miss
    /// on a large index) instead of before the load is issued.
    ///
    /// ```
    /// # use blocklist_lookup::index::{IndexBuilder, LookupIndex};
    /// # use blocklist_lookup::{Agency, EntryMeta, Kind, Reason, Timestamp};
    /// # let meta = EntryMeta { reason: Reason::MULE_ACCOUNT, agency: Agency::new("th-aoc").unwrap(),
    /// #     listed_at: Timestamp(1_700_000_000), expires_at: None };
    /// # let entries = [(Kind::Account, "TH:004:1234567890", &meta)];
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("list.idx");
    /// # IndexBuilder::new(1, [0; 32], Timestamp(0)).write(&path, || entries.iter().copied()).unwrap();
    /// let index = LookupIndex::open(&path)?;
    /// let now = Timestamp::now();
    /// let listed = index.lookup_shaped(Kind::Account, b"TH:004:1234567890", now);
    /// assert!(listed.is_some_and(|hit| hit.is_some()));
    /// assert!(index.lookup_shaped(Kind::Account, b"004 123-4-56789-0", now).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn lookup_shaped<'a>(
        &'a self,
        kind: Kind,
        text: &'a [u8],
        now: Timestamp,
    ) -> Option<Option<Hit<'a>>> {
        self.front().lookup_shaped(kind, text, now)
    }

    /// The seed this index hashes keys under ([`key_hash`]): a caller that
    /// keeps keys hashed ahead of time (the C library's `blocklist_key`)
    /// hashes again when it changes, as it does with a new full index.
    #[inline]
    pub fn seed(&self) -> u64 {
        self.base.seed
    }

    /// [`lookup_canonical`](Self::lookup_canonical) with `key` already
    /// computed as `key_hash(self.seed(), kind, canonical)`: the lookup
    /// without the hash. The text is asked of `canonical` only when the
    /// lookup needs it, for a hit's `matched` or a domain's parents, so a
    /// number's or account's miss reads the key alone (a caller keeping
    /// keys in memory of its own, say, then touches only their fixed
    /// part); `None` when `canonical` gives no text. A `key` that is not
    /// the text's hash gives a wrong answer (never a fault), so only a
    /// caller that made it under this seed, and has kept it from
    /// corruption, may pass it. `parents_may_answer` false says the caller
    /// knows that no parent of a domain may answer for it (it is its own
    /// registrable domain: [`answering_parents`](crate::normalise::answering_parents)
    /// is 0, worked out with the key): its miss then probes no parent and
    /// reads no text. Passed false for a domain some parent may answer for,
    /// a listed parent is missed; true is always right.
    ///
    /// ```
    /// # use blocklist_lookup::index::{key_hash, IndexBuilder, LookupIndex};
    /// # use blocklist_lookup::{Agency, EntryMeta, Kind, Reason, Timestamp};
    /// # let meta = EntryMeta { reason: Reason::MULE_ACCOUNT, agency: Agency::new("th-aoc").unwrap(),
    /// #     listed_at: Timestamp(1_700_000_000), expires_at: None };
    /// # let entries = [(Kind::Account, "TH:004:1234567890", &meta)];
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("list.idx");
    /// # IndexBuilder::new(1, [0; 32], Timestamp(0)).write(&path, || entries.iter().copied()).unwrap();
    /// let index = LookupIndex::open(&path)?;
    /// let payee = "TH:004:1234567890";
    /// let key = key_hash(index.seed(), Kind::Account, payee); // once, kept with the payee
    /// let listed = index.lookup_hashed(Kind::Account, &key, true, Timestamp::now(), || Some(payee));
    /// assert_eq!(listed.flatten().map(|hit| hit.matched.into_owned()), Some(payee.to_owned()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn lookup_hashed<'a>(
        &'a self,
        kind: Kind,
        key: &KeyHash,
        parents_may_answer: bool,
        now: Timestamp,
        canonical: impl FnOnce() -> Option<&'a str>,
    ) -> Option<Option<Hit<'a>>> {
        let front = self.front();
        front.lookup_sought(
            kind,
            &front.seek((*key).into()),
            parents_may_answer,
            now,
            canonical,
        )
    }

    /// What a lookup reads before its first line, from this index's own
    /// fields (a [`HeldIndex`](super::HeldIndex) keeps copies of them).
    #[inline(always)]
    fn front(&self) -> Front<'_> {
        Front {
            index: self,
            seed: self.base.seed,
            blocks: self.base.blocks(),
        }
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
        let sought = self
            .front()
            .seek(fingerprinted(self.base.seed, kind, canonical.as_bytes()));
        Ok(self
            .find_candidate(kind, canonical, &sought, now)
            .map(|(matched, layer, meta)| hit(layer, kind, Cow::Owned(matched.to_owned()), meta)))
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
        self.resolve_batch(keys, now, |at, kind, matched, layer, meta| {
            hits.push((at, hit(layer, kind, Cow::Borrowed(matched), meta)));
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
        self.resolve_batch(&keys, now, |at, kind, matched, layer, meta| {
            results[spans[at].0] = Ok(Some(hit(layer, kind, Cow::Owned(matched.to_owned()), meta)));
        });
        results
    }

    /// Whether the base's filter alone lets this canonical key through (a
    /// "maybe"). A diagnostic for measuring the filter's false-positive
    /// rate: the answer to "is it listed" always comes from a table.
    pub fn filter_admits(&self, kind: Kind, canonical: &str) -> bool {
        filter::may_contain(
            self.base.blocks(),
            key_hash(self.base.seed, kind, canonical).fingerprint,
        )
    }

    /// The first candidate of `canonical` (itself, or for a domain itself then
    /// its parents) that is listed and active at `now`; `sought` is its hash
    /// and block.
    #[inline(always)]
    pub(super) fn find_candidate<'q>(
        &self,
        kind: Kind,
        canonical: &'q str,
        sought: &Sought<'_>,
        now: Timestamp,
    ) -> Option<(&'q str, &Layer, PackedMeta)> {
        // The identifier itself first, so that the kind test for parents
        // comes after its load is issued (see `parents`).
        if let Some((layer, meta)) = self.probe_in(&sought.key, sought.block, now) {
            return Some((canonical, layer, meta));
        }
        self.find_parent(kind, canonical, now)
    }

    /// The first parent of `canonical` (none unless a domain) that is listed
    /// and active at `now` and may answer for it.
    #[inline(always)]
    pub(super) fn find_parent<'q>(
        &self,
        kind: Kind,
        canonical: &'q str,
        now: Timestamp,
    ) -> Option<(&'q str, &Layer, PackedMeta)> {
        let seed = self.base.seed;
        // The first listed parent decides: if it is past the registrable
        // domain, so is every later one; and one that is a short rule of the
        // suffix list ends the walk unprobed (see `parents`). (A loop, not `find_map`: with the
        // key lookup beside the others calling this, the compiler stopped
        // inlining `find_map`'s fold, 64 instructions more a call.)
        for parent in parents(kind, canonical) {
            if ends_at(canonical, parent) {
                break;
            }
            let key = key_hash(seed, kind, parent);
            if let Some((layer, meta)) = self.probe(&key, now) {
                return parent_may_answer(canonical, parent).then_some((parent, layer, meta));
            }
        }
        None
    }

    /// Overlay, then base filter, then base table, then expiry: the one
    /// place that decides a match. A key the overlay holds is answered from
    /// it alone: a removal there is a record that never matches (see
    /// `overlay`), which hides the base's. The overlay is small enough to
    /// stay in cache, so a lookup through it adds a filter test, not a miss.
    ///
    /// The table line is read only once the filter admits the key: a miss
    /// then costs the filter line alone (no second load, no page walk for
    /// the much larger table), and a hit two dependent loads. Prefetching the
    /// table line beside the filter line measured no faster for hits at 10M
    /// entries and about 3 ns slower for misses at 1M (`docs/PERFORMANCE.md`).
    #[inline(always)]
    fn probe(&self, key: &KeyHash, now: Timestamp) -> Option<(&Layer, PackedMeta)> {
        let block = filter::block_for(self.base.blocks(), key.fingerprint);
        self.probe_in(&(*key).into(), block, now)
    }

    /// [`probe`](Self::probe) with the key's base filter block already
    /// found (and its line requested), so that it is not worked out twice.
    #[inline(always)]
    pub(super) fn probe_in(
        &self,
        key: &Fingerprinted,
        block: &Block,
        now: Timestamp,
    ) -> Option<(&Layer, PackedMeta)> {
        let recent = self.recent().and_then(|o| Some((o, o.find_recent(key)?)));
        let (layer, meta) = match recent {
            Some(found) => found,
            None => (&*self.base, self.base.find_in(block, key)?),
        };
        is_active(&meta, now).then_some((layer, meta))
    }

    /// Batch lookups in three passes per chunk, so that the memory loads of
    /// the chunk overlap: hash every candidate and prefetch its base filter
    /// block; look in the overlay, test the base filter and prefetch the
    /// table line of each "maybe"; resolve. `found(query, kind, matched,
    /// layer, meta)` is called for each query that hits.
    fn resolve_batch<'s, 'q>(
        &'s self,
        keys: &[(Kind, &'q str)],
        now: Timestamp,
        mut found: impl FnMut(usize, Kind, &'q str, &'s Layer, PackedMeta),
    ) {
        let base = &*self.base;
        let recent = self.recent();
        let (blocks, buckets) = (base.blocks(), base.buckets());
        let mut staged: Vec<Staged<'q>> = Vec::with_capacity(BATCH);
        let mut answered = [false; BATCH];
        for (chunk_index, chunk) in keys.chunks(BATCH).enumerate() {
            let first = chunk_index * BATCH;
            staged.clear();
            for (query, &(kind, canonical)) in chunk.iter().enumerate() {
                for candidate in std::iter::once(canonical).chain(parents(kind, canonical)) {
                    let key = key_hash(base.seed, kind, candidate);
                    prefetch(filter::block_for(blocks, key.fingerprint));
                    staged.push(Staged {
                        query,
                        kind,
                        candidate,
                        key,
                        probe: Probe::Miss,
                    });
                }
            }
            for s in &mut staged {
                if let Some(meta) = recent.and_then(|o| o.find_recent(&s.key.into())) {
                    s.probe = Probe::Overlay(meta);
                } else if filter::may_contain(blocks, s.key.fingerprint) {
                    s.probe = Probe::Base;
                    let home = table::home_of(&s.key, base.home_buckets);
                    prefetch(&buckets[home]);
                    // About half of the entries sit one bucket past home.
                    prefetch(&buckets[(home + 1).min(buckets.len() - 1)]);
                }
            }
            answered.fill(false);
            // Candidates of one query are staged in order (a domain before its
            // parents), so the first active match is the one a single lookup
            // finds, and decides as it does whether a parent may answer.
            for s in &staged {
                if answered[s.query] {
                    continue;
                }
                let (layer, meta) = match s.probe {
                    Probe::Miss => continue,
                    Probe::Overlay(meta) => (self.overlay.as_ref().unwrap_or(base), meta),
                    Probe::Base => match table::find(buckets, base.home_buckets, &s.key) {
                        Some(meta) => (base, meta),
                        None => continue,
                    },
                };
                if is_active(&meta, now) {
                    answered[s.query] = true;
                    if parent_may_answer(chunk[s.query].1, s.candidate) {
                        found(first + s.query, s.kind, s.candidate, layer, meta);
                    }
                }
            }
        }
    }
}

/// The hit for `meta`, read from `layer` (whose agency table it indexes).
pub(super) fn hit<'a>(
    layer: &'a Layer,
    kind: Kind,
    matched: Cow<'a, str>,
    meta: PackedMeta,
) -> Hit<'a> {
    Hit {
        kind,
        matched,
        reason: Reason(meta.reason),
        // Open checked that every stored agency index is in the table.
        agency: &layer.agencies[usize::from(meta.agency)].0,
        listings: layer.agencies[usize::from(meta.agency)].1,
        listed_at: Timestamp(u64::from(meta.listed_at)),
        expires_at: (meta.expires_at != NEVER).then_some(Timestamp(u64::from(meta.expires_at))),
    }
}

/// An entry matches until its expiry time, exclusive (as [`EntryMeta::is_active`]).
/// Both tests are evaluated, without a branch between them: whether an entry
/// expires varies from hit to hit.
#[inline(always)]
fn is_active(meta: &PackedMeta, now: Timestamp) -> bool {
    (meta.expires_at == NEVER) | (now.0 < u64::from(meta.expires_at))
}

/// Opens the index at `path` and, if it is an overlay, its base (from `held`
/// when unchanged), reading the path again when the base it names is gone
/// (a writer replaced the pair meanwhile). Returns the identity of the file
/// opened at `path`, with the outcome of validating what it names.
pub(crate) fn open_stack(
    path: &Path,
    held: Option<&LookupIndex>,
) -> Result<(FileIdentity, Result<LookupIndex, IndexError>), IndexError> {
    let mut attempt = 1;
    loop {
        let (file, meta) = open_regular(path)?;
        let identity = FileIdentity::of(&meta);
        match LookupIndex::from_file(path, file, &meta, held) {
            Err(IndexError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound && attempt < OPEN_ATTEMPTS =>
            {
                attempt += 1;
            }
            index => return Ok((identity, index)),
        }
    }
}

/// The path of the base that an overlay at `path` names by `checksum`.
pub(crate) fn base_path(path: &Path, checksum: u64) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(format!(".base-{checksum:016x}"));
    path.with_file_name(name)
}

/// Opens and validates the base an overlay at `path` names by `checksum`.
fn open_base(path: &Path, checksum: u64) -> Result<Layer, IndexError> {
    let base_path = base_path(path, checksum);
    let (file, meta) = open_regular(&base_path)?;
    let base = Layer::from_file(&base_path, file, &meta)?;
    if base.is_overlay() || base.checksum != checksum {
        return Err(IndexError::corrupt(
            path,
            format!(
                "the overlay names base {checksum:#018x}, but {} is {}",
                base_path.display(),
                if base.is_overlay() {
                    "an overlay".to_owned()
                } else {
                    format!("{:#018x}", base.checksum)
                }
            ),
        ));
    }
    Ok(base)
}
