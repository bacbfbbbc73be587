//! The key hash: one 128-bit hash of (kind, canonical value) under the index's
//! seed, split into the two halves the filter and the table use.
//!
//! The halves play different parts so that a table lookup's chance of a wrong
//! "listed" does not grow with the number of entries (see the module overview):
//!
//! - `fingerprint` (low half) is stored in the table and compared in full; it
//!   also picks the filter block.
//! - `position` (high half) picks the table bucket and the filter's bit pattern.

use xxhash_rust::xxh3::xxh3_128_with_seed;

use crate::kind::Kind;

/// Odd 64-bit constant (2⁶⁴/φ) mixing the kind code into the seed.
const KIND_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// The hash of one key, as the filter and the table consume it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct KeyHash {
    /// Stored and compared in the table; never 0, which marks an empty slot.
    pub(crate) fingerprint: u64,
    /// Chooses the table bucket and the filter's bit pattern.
    pub(crate) position: u64,
}

/// Hashes `value` of `kind` under `seed`.
///
/// The kind is folded into the seed rather than prepended to the bytes, so the
/// hot path hashes the caller's text in place. Multiplying by an odd constant
/// is a bijection, so distinct kinds always get distinct seeds.
#[inline]
pub(crate) fn key_hash(seed: u64, kind: Kind, value: &str) -> KeyHash {
    // Opaque to the optimiser, which would otherwise branch on the kind (a
    // jump table, to fold each known kind's seed into a constant): queries of
    // mixed kinds mispredict that indirect branch about half the time.
    let code = std::hint::black_box(kind.code());
    let kind_seed = seed ^ u64::from(code).wrapping_mul(KIND_MIX);
    let h = xxh3_128_with_seed(value.as_bytes(), kind_seed);
    KeyHash {
        // Folding 0 onto 1 keeps 0 free as the empty-slot marker; both the
        // builder and lookups go through here, so they agree.
        fingerprint: (h as u64).max(1),
        position: (h >> 64) as u64,
    }
}

/// Maps a uniform 64-bit value onto `0..n` without a division (Lemire's
/// multiply-shift); the result is always `< n` for `n > 0`.
#[inline]
pub(crate) fn reduce(x: u64, n: usize) -> usize {
    ((u128::from(x) * n as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_with_the_same_text_hash_apart() {
        let a = key_hash(7, Kind::Account, "x");
        let b = key_hash(7, Kind::Number, "x");
        assert_ne!(a, b);
    }

    #[test]
    fn reduce_stays_in_range_at_the_extremes() {
        assert_eq!(reduce(u64::MAX, 1), 0);
        assert_eq!(reduce(u64::MAX, 10), 9);
        assert_eq!(reduce(0, 10), 0);
    }
}
