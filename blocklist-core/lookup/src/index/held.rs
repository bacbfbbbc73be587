//! [`HeldIndex`]: an index held for lookups with what a lookup reads before
//! its first line (the seed and the base's filter) kept beside the pointer
//! to it, and [`Sought`]: a key whose filter line has been requested.
//!
//! A lookup's first line is its key's filter block, and it cannot be asked
//! for before the seed (to hash the key) and the filter's address and length
//! (to place the block) are known. Read from the index, they are three
//! dependent loads away from a pointer to it (index, its base layer, the
//! layer's sections); a C check reaching the index through its handle's
//! published state waits on all of them before the request. A holder keeps
//! copies of the three next to its pointer to the index, so the request
//! waits on that pointer's own line alone.

use std::borrow::Cow;
use std::sync::Arc;

use super::filter::{self, Block};
use super::hash::{fingerprinted, Fingerprinted, KeyHash};
use super::lookup::{hit, Hit, LookupIndex};
use super::mem::prefetch;
use crate::entry::Timestamp;
use crate::kind::Kind;
use crate::normalise;

/// An index held for lookups (an `Arc`), with its seed and its base's
/// filter blocks copied beside the pointer (see the module doc).
pub struct HeldIndex {
    index: Arc<LookupIndex>,
    seed: u64,
    /// The base's filter blocks, in the map `index` keeps alive.
    blocks: *const [Block],
}

// SAFETY: `blocks` is a read-only view of mapped memory owned by `index`
// (plain integers, never written): shared and sent as `index` is.
unsafe impl Send for HeldIndex {}
// SAFETY: as above.
unsafe impl Sync for HeldIndex {}

impl HeldIndex {
    /// Holds `index` for lookups.
    pub fn new(index: Arc<LookupIndex>) -> HeldIndex {
        let blocks: *const [Block] = index.base().blocks();
        HeldIndex {
            seed: index.seed(),
            blocks,
            index,
        }
    }

    /// The index held.
    #[inline(always)]
    pub fn index(&self) -> &LookupIndex {
        &self.index
    }

    /// What a lookup reads first, from the copies.
    #[inline(always)]
    fn front(&self) -> Front<'_> {
        Front {
            index: &self.index,
            seed: self.seed,
            // SAFETY: the blocks lie in the base's map, which `self.index`
            // keeps (a `LookupIndex` never replaces its base) for as long as
            // `self` lives, and the borrow is `self`'s.
            blocks: unsafe { &*self.blocks },
        }
    }

    /// [`LookupIndex::seed`], from the copy.
    #[inline(always)]
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Requests the line a probe of `key` reads first, its base filter
    /// block, and returns the key with it for
    /// [`lookup_sought`](Self::lookup_sought): a caller with other work
    /// before its lookup (the C library's argument checks and freshness) does
    /// it while the line loads, and the block is not worked out again. Any
    /// `key` is safe: the block is always one of the filter's. (An overlay's
    /// presence bitmap is small enough to stay cached: prefetching its word
    /// too cost 12 instructions a call under callgrind, for no gain that
    /// measured.)
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use blocklist_lookup::index::{key_hash, HeldIndex, IndexBuilder, LookupIndex};
    /// # use blocklist_lookup::{Agency, EntryMeta, Kind, Reason, Timestamp};
    /// # let meta = EntryMeta { reason: Reason::MULE_ACCOUNT, agency: Agency::new("th-aoc").unwrap(),
    /// #     listed_at: Timestamp(1_700_000_000), expires_at: None };
    /// # let entries = [(Kind::Account, "TH:004:1234567890", &meta)];
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let path = dir.path().join("list.idx");
    /// # IndexBuilder::new(1, [0; 32], Timestamp(0)).write(&path, || entries.iter().copied()).unwrap();
    /// let held = HeldIndex::new(Arc::new(LookupIndex::open(&path)?));
    /// let payee = "TH:004:1234567890";
    /// let sought = held.seek(key_hash(held.seed(), Kind::Account, payee));
    /// // ... other work while the line loads ...
    /// let listed = held.lookup_sought(Kind::Account, &sought, true, Timestamp::now(), || Some(payee));
    /// assert!(listed.is_some_and(|hit| hit.is_some()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn seek(&self, key: KeyHash) -> Sought<'_> {
        self.front().seek(key.into())
    }

    /// [`LookupIndex::lookup_hashed`] for a key [`seek`](Self::seek) gave.
    #[inline(always)]
    pub fn lookup_sought<'a>(
        &'a self,
        kind: Kind,
        sought: &Sought<'a>,
        parents_may_answer: bool,
        now: Timestamp,
        canonical: impl FnOnce() -> Option<&'a str>,
    ) -> Option<Option<Hit<'a>>> {
        self.front()
            .lookup_sought(kind, sought, parents_may_answer, now, canonical)
    }

    /// [`LookupIndex::lookup_shaped`], hashing under the copied seed.
    #[inline(always)]
    pub fn lookup_shaped<'a>(
        &'a self,
        kind: Kind,
        text: &'a [u8],
        now: Timestamp,
    ) -> Option<Option<Hit<'a>>> {
        self.front().lookup_shaped(kind, text, now)
    }
}

/// A key's hash with its base filter block, whose line has been requested
/// ([`HeldIndex::seek`]); it answers only for the index that made it.
#[derive(Clone, Copy, Debug)]
pub struct Sought<'a> {
    pub(super) key: Fingerprinted,
    pub(super) block: &'a Block,
}

/// What a lookup reads before its first line, from wherever the caller
/// keeps it (the index's own fields, or a [`HeldIndex`]'s copies), with the
/// index for the rest: the one implementation of the lookups that request
/// their line first.
#[derive(Clone, Copy)]
pub(super) struct Front<'a> {
    pub(super) index: &'a LookupIndex,
    pub(super) seed: u64,
    pub(super) blocks: &'a [Block],
}

impl<'a> Front<'a> {
    /// See [`HeldIndex::seek`].
    #[inline(always)]
    pub(super) fn seek(self, key: Fingerprinted) -> Sought<'a> {
        let block = filter::block_for(self.blocks, key.fingerprint);
        prefetch(block);
        Sought { key, block }
    }

    /// See [`LookupIndex::lookup_hashed`].
    #[inline(always)]
    pub(super) fn lookup_sought(
        self,
        kind: Kind,
        sought: &Sought<'a>,
        parents_may_answer: bool,
        now: Timestamp,
        canonical: impl FnOnce() -> Option<&'a str>,
    ) -> Option<Option<Hit<'a>>> {
        let index = self.index;
        let found = match index.probe_in(&sought.key, sought.block, now) {
            Some((layer, meta)) => Some((canonical()?, layer, meta)),
            // Only a domain has parents to walk, and only one whose parents
            // may answer for it: a number's, an account's or such a domain's
            // miss needs no text.
            None if kind == Kind::Domain && parents_may_answer => {
                index.find_parent(kind, canonical()?, now)
            }
            None => None,
        };
        Some(found.map(|(matched, layer, meta)| hit(layer, kind, Cow::Borrowed(matched), meta)))
    }

    /// See [`LookupIndex::lookup_shaped`].
    #[inline(always)]
    pub(super) fn lookup_shaped(
        self,
        kind: Kind,
        text: &'a [u8],
        now: Timestamp,
    ) -> Option<Option<Hit<'a>>> {
        let sought = self.seek(fingerprinted(self.seed, kind, text));
        if !normalise::has_canonical_shape(kind, text) {
            return None;
        }
        // SAFETY: text of a canonical shape is ASCII.
        let canonical = unsafe { std::str::from_utf8_unchecked(text) };
        Some(
            self.index
                .find_candidate(kind, canonical, &sought, now)
                .map(|(matched, layer, meta)| hit(layer, kind, Cow::Borrowed(matched), meta)),
        )
    }
}
