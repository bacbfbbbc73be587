//! The lookup index: a compact, read-only, memory-mapped file answering "is
//! this identifier listed, and why" in one or two cache misses.
//!
//! Built from the store by [`IndexBuilder`], opened by [`LookupIndex`] (in
//! this process or, through the C library, in another one sharing the pages),
//! and served with hot reloads by [`LiveIndex`].
//!
//! # How a lookup works
//!
//! The query is normalised, then each key (the identifier, or for a domain
//! the domain and its parents) is hashed to 128 bits under the index's
//! seed, the kind folded into the seed (`hash.rs`). One half, the
//! fingerprint, picks a filter block and its bit pattern; the other half, the
//! position, picks the table bucket. The filter (`filter.rs`, a split-block bloom filter, one
//! cache line per probe) turns most misses away after one line, and a single
//! lookup reads the table only after that: a miss touches one line of the
//! index. A "maybe" goes to the table (`table.rs`), which holds every entry's
//! 64-bit fingerprint, home offset and metadata in 64-byte buckets; then the
//! expiry is checked against `now`. Batch lookups overlap the loads of 32
//! queries at a time instead.
//!
//! # Overlays: a change costs what it changes
//!
//! A published version is one file, or an overlay of recent changes stacked
//! on a full index, its base (see [`LookupIndex::write_overlay`] and the
//! `overlay` module): a delta rewrites only the overlay, and a lookup probes
//! the overlay (small, cached) before the base. The writer merges the
//! overlay into a new base when it grows.
//!
//! # Updating without the entry list
//!
//! [`LookupIndex::write_updated`] writes a new file from an opened index and
//! a change set: same seed, same home buckets, the table copied and edited
//! in place (each slot's home offset says where its entry is homed, so
//! removals can shrink spills exactly), and the filter rebuilt from the
//! stored fingerprints (which is why the filter is keyed on the fingerprint
//! alone). The result answers exactly like a full build of the same entries
//! (a property test checks this); only its slot order differs.
//!
//! # Why a wrong "listed" cannot come from the filter
//!
//! The filter only decides whether to look in the table; "listed" is answered
//! only when a stored fingerprint equals the query's in all 64 bits (and the
//! slot's home offset says it is homed in the query's home bucket). A
//! lookup compares against the slots of its home bucket and that bucket's
//! spill, at most `3 × (1 + max_spill)` fingerprints (`max_spill` was 11–12
//! at 10 million entries). Because the bucket comes from the *other* half of
//! the 128-bit hash (computed with its own secrets, and the seed in every
//! multiply: a pair of keys colliding under every seed would defeat both this
//! argument and the reseeding below, and tests in `hash.rs` look for the
//! shapes such pairs take), those entries are where they are independently
//! of their fingerprints, so an unlisted identifier is answered "listed" with
//! probability at most `3 × (1 + max_spill) / 2⁶⁴`, about 2e-18 per lookup:
//! at ten billion lookups a year, once in fifty million years. (Keying the
//! table position on the fingerprint itself would make it `n / 2⁶⁴`, 5e-13 at
//! 10 million entries.) The seed is random per index, so an identifier that
//! is unlucky in one index is not in the next. The builder also requires all
//! listed fingerprints to differ (reseeding otherwise, probability about 3e-6
//! per build at 10 million entries), so a hit never returns another entry's
//! metadata or expiry. (Incremental updates check distinctness per home
//! bucket, which is what lookups need given the home offsets; a clash of two
//! different identifiers there, about 2⁻⁶⁴ per added entry, is reported as a
//! duplicate and the caller rebuilds in full under a new seed.)
//!
//! # File layout (format version 5)
//!
//! One file, little-endian throughout, sections aligned to 64 bytes from the
//! start of the file (the map is page-aligned, so sections are cache-line
//! aligned in memory):
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 8 | magic `BLKIDX\r\n` |
//! | 8 | 1 | format version (5; other versions are refused); 7 reserved zero bytes follow |
//! | 16 | 8 | list version |
//! | 24 | 32 | state digest |
//! | 56 | 8 | data created_at, seconds since the Unix epoch |
//! | 64 | 8 | entry count |
//! | 72 | 8 | hash seed |
//! | 80 | 8 | file length |
//! | 88, 96 | 8, 8 | filter offset (256), filter blocks |
//! | 104, 112 | 8, 8 | table offset, table buckets (home + overflow) |
//! | 120, 128 | 8, 8 | home buckets, overflow buckets (= max spill, <= 255) |
//! | 136, 144 | 8, 8 | agency table offset, agency count |
//! | 152 | 8 | xxh3-64 of every other byte of the file |
//! | 160 | 8 | base checksum (0: a full index; else an overlay on the base with this checksum) |
//! | 168 | 8 | list entry count (base and overlay together) |
//! | 176, 184 | 8, 8 | key section offset, key section bytes (an overlay's identifiers) |
//! | 192 | 64 | reserved, zero |
//!
//! - **Keys**: kind code `c` and the header's seed give `s = seed ^ c ×
//!   0x9E3779B97F4A7C15`. A key of 8 to 32 bytes is read as four
//!   little-endian u64 words at `0`, `min(8, len - 8)`, `max(len - 16, 0)` and
//!   `len - 8`; with `z = m(s ^ len, LENGTH_SECRET)`, each half of its hash
//!   is `m(m(w0^k0^z, w1^k1^s) ^ k4, m(w2^k2^z, w3^k3^s) ^ z)`, where `m`
//!   xors the two halves of a 128-bit product and `k0..k4` are that half's
//!   secrets (`FINGERPRINT_SECRETS`, `POSITION_SECRETS`; all in `hash.rs`).
//!   Other lengths take xxh3-128 with seed `s` (low half the fingerprint). A
//!   fingerprint of 0 becomes 1.
//! - **Filter**: blocks of eight u64 words. A key sets bit
//!   `(fingerprint × SALTᵢ) >> 58` of word *i* of block `fingerprint × blocks >> 64`;
//!   12 bits per entry when built (readers take the size from the header).
//! - **Table**: 64-byte buckets `{fingerprint: [u64; 3], listed_at: [u32; 3],
//!   expires_at: [u32; 3], reason: [u16; 3], agency: [u16; 3], home_offset:
//!   [u8; 3], spill: u8}`. Fingerprint 0 is an empty slot (its other fields
//!   zero); `home_offset` is how many buckets past its home bucket the entry sits. Times are u32 seconds
//!   since the Unix epoch (good until 2106; the builder rejects later times),
//!   `expires_at = u32::MAX` meaning never. A key's home bucket is
//!   `position × home_buckets >> 64`; its entry lies in `home ..= home + spill`,
//!   and open checks that every entry lies within its home's spill.
//! - **Agencies**: 32-byte records, a length byte then the ASCII id.
//! - **Keys** (overlays only): per entry its kind code (u16), length (u8)
//!   and canonical identifier; a removal is an entry stored with
//!   `expires_at` 0, which never matches and hides the base's.
//!
//! At the design load (0.8 entries per slot) that is 26.7 bytes per entry
//! for the table and 2 for the filter.
//!
//! # Files, maps and swaps
//!
//! Writers never modify an index file in place: [`IndexBuilder::write`],
//! [`LookupIndex::write_updated`] and [`LookupIndex::write_overlay`] write a
//! temporary file in the same directory, fsync it, rename it over the
//! target and fsync the directory. That is what makes mapping the file
//! sound: a mapped file that changed underneath would be undefined behaviour,
//! so nothing else may truncate or rewrite an index file in place. Opening
//! reads the whole file once (checksum, then a pass over the table checking
//! every spill and agency index), after which lookups cannot fail.

mod atomic;
mod parents;
pub use atomic::{publish_file, remove_stale_temps};
mod build;
mod error;
mod filter;
mod format;
mod hash;
mod heartbeat;
mod held;
mod identity;
mod layer;
mod live;
mod lookup;
mod mem;
mod overlay;
mod table;
mod update;

pub use build::{HashedEntries, IndexBuilder};
pub use error::IndexError;
pub use format::{IndexHeader, IndexStats, FORMAT_VERSION, MAX_AGENCIES};
pub use hash::{key_hash, KeyHash};
pub use heartbeat::{Beat, Freshness, Heartbeat, HeartbeatWriter, HEARTBEAT_FILE};
pub use held::{HeldIndex, Sought};
pub use identity::FileIdentity;
pub use live::{LiveIndex, Reloaded};
pub use lookup::{Hit, LookupIndex};
pub use mem::prefetch;
pub use overlay::{remove_unused_bases, Change};
