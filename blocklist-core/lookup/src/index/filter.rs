//! The filter in front of the table: a split-block bloom filter with one
//! 512-bit block per cache line.
//!
//! Each key maps to one block and sets one bit in each of the block's eight
//! 64-bit words, so a probe costs a single cache line (the `bloomfilter` crate
//! touches k lines, a binary fuse filter three). At [`BITS_PER_ENTRY`] = 12 the
//! measured false-positive rate is about 0.43% (see `docs/PERFORMANCE.md`).
//!
//! A filter "maybe" is only ever a reason to look in the table; the answer
//! comes from the table, so a false positive costs time, never correctness.
//!
//! Block and bit pattern both come from the key's fingerprint, which the
//! table stores, so the filter of any table can be rebuilt from the table
//! alone ([`build`]): that is what lets an incremental update drop a removed
//! key's bits instead of leaving them stale.

use super::hash::reduce;
use super::mem::Plain;
use super::table::Bucket;

/// Filter bits per entry. What a miss costs at 10M entries is mostly whether
/// the filter stays in the L3 cache: 12 bits (15 MB, false positives 0.43%,
/// like a binary fuse filter's 0.39%) measured 28% faster per miss than 16
/// bits (20 MB, 0.09%); at 10 bits the 1% of false positives, each a table
/// read, cost more than the smaller filter saved. Only the builder reads
/// this: a file records its own filter size.
pub(crate) const BITS_PER_ENTRY: usize = 12;

/// One filter block: a cache line of eight 64-bit words, stored little-endian.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Block([u64; 8]);

// SAFETY: repr(C), eight u64 and nothing else: no padding, any bits valid.
unsafe impl Plain for Block {}

/// Odd multipliers, one per word, that turn the position hash into eight
/// roughly independent 6-bit bit numbers (the split-block scheme of Putze et
/// al., as in Parquet and Impala, widened to 64-bit words).
const SALT: [u64; 8] = [
    0x9E37_79B9_7F4A_7C15,
    0xBF58_476D_1CE4_E5B9,
    0x94D0_49BB_1331_11EB,
    0xD6E8_FEB8_6659_FD93,
    0xA076_1D64_78BD_642F,
    0xE703_7ED1_A0B4_28DB,
    0x8EBC_6AF0_9C88_C6E3,
    0x5899_65CC_7537_4CC3,
];

/// The bits a key sets (or needs) in its block's words. The block is chosen
/// by the fingerprint's high bits; each product's top six bits depend most on
/// the low bits, which keys sharing a block do not share.
#[inline(always)]
fn pattern(fingerprint: u64) -> [u64; 8] {
    std::array::from_fn(|i| 1u64 << (fingerprint.wrapping_mul(SALT[i]) >> 58))
}

/// How many blocks a filter for `entries` entries gets (at least one).
pub(crate) fn block_count(entries: usize) -> usize {
    (entries.saturating_mul(BITS_PER_ENTRY))
        .div_ceil(512)
        .max(1)
}

/// The block of the key with this fingerprint. `blocks` is never empty (see
/// [`block_count`]).
#[inline(always)]
pub(crate) fn block_for(blocks: &[Block], fingerprint: u64) -> &Block {
    &blocks[reduce(fingerprint, blocks.len())]
}

/// Adds the key with this fingerprint.
fn insert(blocks: &mut [Block], fingerprint: u64) {
    let at = reduce(fingerprint, blocks.len());
    let block = &mut blocks[at];
    for (word, bit) in block.0.iter_mut().zip(pattern(fingerprint)) {
        *word = (u64::from_le(*word) | bit).to_le();
    }
}

/// How far ahead [`build`] prefetches: its writes land in random blocks, so
/// overlapping their cache misses is most of its speed.
const BUILD_LOOKAHEAD: usize = 16;

/// The filter of every entry in `buckets` (which hold `entries` entries).
pub(crate) fn build(buckets: &[Bucket], entries: usize) -> Vec<Block> {
    let mut blocks = vec![Block::default(); block_count(entries)];
    let mut ahead = buckets.iter().flat_map(Bucket::fingerprints);
    let mut pending = [0u64; BUILD_LOOKAHEAD];
    let mut queued = 0usize;
    for fingerprint in ahead.by_ref().take(BUILD_LOOKAHEAD) {
        pending[queued] = fingerprint;
        queued += 1;
    }
    let mut next = 0usize;
    for fingerprint in ahead {
        insert(&mut blocks, pending[next]);
        super::mem::prefetch(block_for(&blocks, fingerprint));
        pending[next] = fingerprint;
        next = (next + 1) % BUILD_LOOKAHEAD;
    }
    for i in 0..queued {
        insert(&mut blocks, pending[(next + i) % BUILD_LOOKAHEAD]);
    }
    blocks
}

/// Whether the key may be present: `false` is certain, `true` is a "maybe".
#[inline(always)]
pub(crate) fn may_contain(blocks: &[Block], fingerprint: u64) -> bool {
    block_admits(block_for(blocks, fingerprint), fingerprint)
}

/// [`may_contain`] for the key's block, already found with [`block_for`].
#[inline(always)]
pub(crate) fn block_admits(block: &Block, fingerprint: u64) -> bool {
    // Each word's bit shifted down to bit 0 (the bit numbers of `pattern`),
    // all eight folded into one test: no early exit, so the eight word tests
    // run in parallel instead of as a chain of branches, and no mask is
    // built per word (a shift of the word is one instruction where `1 << n`
    // and a test against it took three, on a path every lookup takes).
    let mut all = 1u64;
    for (word, salt) in block.0.iter().zip(SALT) {
        all &= u64::from_le(*word) >> (fingerprint.wrapping_mul(salt) >> 58);
    }
    all & 1 == 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::hash::key_hash;
    use crate::kind::Kind;

    fn fingerprint(seed: u64, text: &str) -> u64 {
        key_hash(seed, Kind::Number, text).fingerprint
    }

    #[test]
    fn inserted_keys_are_always_reported() {
        let keys: Vec<_> = (0..10_000)
            .map(|i| fingerprint(1, &format!("+66{i:09}")))
            .collect();
        let mut blocks = vec![Block::default(); block_count(keys.len())];
        keys.iter().for_each(|&k| insert(&mut blocks, k));
        assert!(keys.iter().all(|&k| may_contain(&blocks, k)));
    }

    #[test]
    fn false_positive_rate_is_near_the_design_point() {
        let n = 100_000;
        let mut blocks = vec![Block::default(); block_count(n)];
        for i in 0..n {
            insert(&mut blocks, fingerprint(9, &format!("in{i}")));
        }
        let trials = 200_000;
        let positives = (0..trials)
            .filter(|i| may_contain(&blocks, fingerprint(9, &format!("out{i}"))))
            .count();
        let rate = positives as f64 / trials as f64;
        assert!(rate < 0.008, "false-positive rate {rate}");
    }
}
