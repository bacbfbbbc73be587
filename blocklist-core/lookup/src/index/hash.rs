//! The key hash: 128 bits of (kind, canonical value) under the index's seed,
//! split into the two halves the filter and the table use.
//!
//! The halves play different parts so that a table lookup's chance of a wrong
//! "listed" does not grow with the number of entries (see the module overview):
//!
//! - `fingerprint` is stored in the table and compared in full; it also picks
//!   the filter block and the bit pattern in it (so the filter can be rebuilt
//!   from stored fingerprints alone).
//! - `position` picks the table bucket.
//!
//! Keys of 8 to 32 bytes (every canonical number and account, and most
//! domains and parents) take a path with no branch on the length: xxh3
//! branches on five length classes, and canonical keys straddle two of them
//! (a 13-byte number, a 17-byte account), which mispredicted about one hash in
//! two on a realistic query mix. Other lengths take xxh3-128.

use xxhash_rust::xxh3::xxh3_128_with_seed;

use crate::kind::Kind;

/// Odd 64-bit constant (2⁶⁴/φ) mixing the kind code into the seed.
const KIND_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

/// Random odd secrets, one set per half, so that the two halves are
/// independent functions of the key (see [`short_key`]).
const FINGERPRINT_SECRETS: [u64; 5] = [
    0x989B_CFCB_AF3F_B651,
    0x87D0_E162_EF2D_8869,
    0x3EF5_DA69_F1BA_081B,
    0xF1DB_799C_8244_2351,
    0xC9F6_2FF3_F763_D6DB,
];
const POSITION_SECRETS: [u64; 5] = [
    0x5597_4ABE_725B_881F,
    0x8495_43EB_E205_D805,
    0xBE2E_93C0_6D9B_7AB9,
    0xE769_61B8_8DDA_991D,
    0xD776_F9A6_21B9_017D,
];
/// Random odd secret mixing a short key's length with the seed.
const LENGTH_SECRET: u64 = 0xA3B1_95C4_1E7D_62F9;

/// The hash of one key, as the filter and the table consume it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyHash {
    /// Stored and compared in the table; never 0, which marks an empty slot.
    pub fingerprint: u64,
    /// Chooses the table bucket and the filter's bit pattern.
    pub position: u64,
}

/// Hashes `value` of `kind` under `seed`, as the index file format defines it
/// (public for other readers of the format, and for benchmarks).
///
/// The kind is folded into the seed rather than prepended to the bytes, so the
/// hot path hashes the caller's text in place. Multiplying by an odd constant
/// is a bijection, so distinct kinds always get distinct seeds.
///
/// ```
/// use blocklist_lookup::{index::key_hash, Kind};
/// let key = key_hash(7, Kind::Number, "+66812345678");
/// assert_ne!(key.fingerprint, 0);
/// assert_ne!(key, key_hash(7, Kind::Account, "+66812345678"));
/// ```
#[inline(always)]
pub fn key_hash(seed: u64, kind: Kind, value: &str) -> KeyHash {
    fingerprinted(seed, kind, value.as_bytes()).key()
}

/// A key hashed as far as its fingerprint, with what its position is made
/// from: the filter reads the fingerprint alone and turns most absent keys
/// away, so a lookup that misses skips the position's three multiplies
/// (which the compiler does not move into the branch that needs them).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fingerprinted {
    pub(crate) fingerprint: u64,
    rest: Rest,
}

/// What [`Fingerprinted::key`] makes the position from.
#[derive(Clone, Copy, Debug)]
enum Rest {
    /// A short key's words, seed and `sized` (see [`short_key`]).
    Short {
        words: [u64; 4],
        seed: u64,
        sized: u64,
    },
    /// The position itself: a longer key's (xxh3-128 gives both halves at
    /// once), or a key hashed earlier.
    Known(u64),
}

impl Fingerprinted {
    /// The whole hash.
    #[inline(always)]
    pub(crate) fn key(&self) -> KeyHash {
        let position = match self.rest {
            Rest::Short { words, seed, sized } => short_key(words, seed, sized, &POSITION_SECRETS),
            Rest::Known(position) => position,
        };
        KeyHash {
            fingerprint: self.fingerprint,
            position,
        }
    }
}

impl From<KeyHash> for Fingerprinted {
    #[inline(always)]
    fn from(key: KeyHash) -> Fingerprinted {
        Fingerprinted {
            fingerprint: key.fingerprint,
            rest: Rest::Known(key.position),
        }
    }
}

/// [`key_hash`] as far as the fingerprint, of text not yet known to be
/// UTF-8 (a guarded lookup hashes before its shape test, which proves the
/// text ASCII).
#[inline(always)]
pub(crate) fn fingerprinted(seed: u64, kind: Kind, bytes: &[u8]) -> Fingerprinted {
    // Opaque to the optimiser, which would otherwise branch on the kind (a
    // jump table, to fold each known kind's seed into a constant): queries of
    // mixed kinds mispredict that indirect branch about half the time.
    let code = std::hint::black_box(kind.code());
    let kind_seed = seed ^ u64::from(code).wrapping_mul(KIND_MIX);
    let (fingerprint, rest) = match short_words(bytes) {
        Some(words) => {
            let sized = fold_mul(kind_seed ^ bytes.len() as u64, LENGTH_SECRET);
            (
                short_key(words, kind_seed, sized, &FINGERPRINT_SECRETS),
                Rest::Short {
                    words,
                    seed: kind_seed,
                    sized,
                },
            )
        }
        None => {
            let h = xxh3_128_with_seed(bytes, kind_seed);
            (h as u64, Rest::Known((h >> 64) as u64))
        }
    };
    Fingerprinted {
        // Folding 0 onto 1 keeps 0 free as the empty-slot marker; both the
        // builder and lookups go through here, so they agree.
        fingerprint: fingerprint.max(1),
        rest,
    }
}

/// Four 8-byte words that together cover every byte of a key of 8 to 32
/// bytes, read at `0`, `min(8, len - 8)`, `max(len - 16, 0)` and `len - 8`
/// (overlapping for shorter keys, so the reads never depend on the length
/// beyond their offsets); `None` for other lengths.
#[inline(always)]
fn short_words(bytes: &[u8]) -> Option<[u64; 4]> {
    let len = bytes.len();
    if !(8..=32).contains(&len) {
        return None;
    }
    let word = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    Some([
        word(0),
        word(8.min(len - 8)),
        word(len.saturating_sub(16)),
        word(len - 8),
    ])
}

/// One 64-bit half of a short key's hash: two multiply-folds of word pairs
/// (which run side by side), then one of the two results.
///
/// The words of keys of different lengths can coincide (eight `a` and twelve
/// `a` read the same four words), so the length must count, but only through
/// a multiply (`sized`, the seed and length folded): xored into a word beside
/// the text's own bits, a one-bit length difference (24 against 25 bytes)
/// cancelled a one-bit difference in the last word, and `...ooo1.com.th`
/// collided with `...oooo0.com.th` under every seed. `seed` and `sized`
/// enter both operands of both pairs, so that any collision depends on the
/// seed and a rebuild under another one removes it.
#[inline(always)]
fn short_key(words: [u64; 4], seed: u64, sized: u64, secrets: &[u64; 5]) -> u64 {
    let a = fold_mul(words[0] ^ secrets[0] ^ sized, words[1] ^ secrets[1] ^ seed);
    let b = fold_mul(words[2] ^ secrets[2] ^ sized, words[3] ^ secrets[3] ^ seed);
    fold_mul(a ^ secrets[4], b ^ sized)
}

/// The 128-bit product of `a` and `b`, its halves xored (the mixing step of
/// wyhash and rapidhash).
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    product as u64 ^ (product >> 64) as u64
}

/// Maps a uniform 64-bit value onto `0..n` without a division (Lemire's
/// multiply-shift); the result is always `< n` for `n > 0`.
#[inline]
pub(crate) fn reduce(x: u64, n: usize) -> usize {
    ((u128::from(x) * n as u128) >> 64) as usize
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn kinds_with_the_same_text_hash_apart() {
        for text in ["x", "+66812345678", &"a".repeat(40)] {
            let a = key_hash(7, Kind::Account, text);
            let b = key_hash(7, Kind::Number, text);
            assert_ne!(a, b, "{text}");
        }
    }

    #[test]
    fn every_binary_key_of_8_to_20_bytes_hashes_apart() {
        // Keys of one repeated byte and a few changed ones, at every length
        // across the 16-byte boundary where the last two words stop being
        // one: the shape of the collisions a length mixed in linearly made
        // (`1111111110000000` and `11111111100000000`, under every seed).
        for seed in [0, 0x5EED] {
            let mut fingerprints = HashSet::new();
            let mut positions = HashSet::new();
            for len in 8..=20usize {
                for bits in 0..1u32 << len.min(16) {
                    let mut text: String = (0..len)
                        .map(|i| if bits >> (i % 16) & 1 == 1 { '1' } else { '0' })
                        .collect();
                    if len > 16 {
                        // Beyond 16 bytes the tail repeats the first bits;
                        // vary its last byte too.
                        text.pop();
                        text.push(if bits & 1 == 1 { '0' } else { '1' });
                    }
                    let key = key_hash(seed, Kind::Domain, &text);
                    assert!(fingerprints.insert(key.fingerprint), "{text}");
                    assert!(positions.insert(key.position), "{text}");
                }
            }
        }
    }

    #[test]
    fn the_pairs_that_collided_under_every_seed_hash_apart() {
        for (a, b) in [
            ("a.bank.coooooooo1.com.th", "a.bank.cooooooooo0.com.th"),
            ("1111111110000000", "11111111100000000"),
        ] {
            for seed in [0, 1, 0x5EED] {
                assert_ne!(
                    key_hash(seed, Kind::Domain, a),
                    key_hash(seed, Kind::Domain, b)
                );
            }
        }
    }

    #[test]
    fn keys_whose_words_coincide_hash_apart() {
        // Every length from 8 to 16 reads the same four words from a run of
        // one byte; only the length tells them apart.
        let hashes: HashSet<_> = (8..=16)
            .map(|len| {
                let key = key_hash(7, Kind::Domain, &"a".repeat(len));
                (key.fingerprint, key.position)
            })
            .collect();
        assert_eq!(hashes.len(), 9);
    }

    #[test]
    fn both_halves_are_distinct_over_structured_keys() {
        // Sequential numbers and accounts differ in a few low digits: the
        // keys a weak mix would collide first. Among a million of each, a
        // repeated 64-bit half has a chance of about 1e-7 for a sound hash.
        let mut fingerprints = HashSet::new();
        let mut positions = HashSet::new();
        for i in 0..1_000_000u64 {
            for (kind, text) in [
                (Kind::Number, format!("+668{i:08}")),
                (Kind::Account, format!("TH:004:{i:010}")),
            ] {
                let key = key_hash(0, kind, &text);
                assert!(fingerprints.insert(key.fingerprint), "{text}");
                assert!(positions.insert(key.position), "{text}");
            }
        }
    }

    proptest! {
        /// Every byte of a key of any length changes both halves: the
        /// overlapping words of the short path must not miss one.
        #[test]
        fn every_byte_counts(text in "[ -~]{1,48}", at in any::<prop::sample::Index>(), to in 0x20u8..0x7f) {
            let mut bytes = text.clone().into_bytes();
            let at = at.index(bytes.len());
            prop_assume!(bytes[at] != to);
            bytes[at] = to;
            let changed = String::from_utf8(bytes).unwrap();
            let (a, b) = (key_hash(3, Kind::Domain, &text), key_hash(3, Kind::Domain, &changed));
            prop_assert_ne!(a.fingerprint, b.fingerprint);
            prop_assert_ne!(a.position, b.position);
        }

        /// Each output bit of either half is set for about half of the keys
        /// (a biased bit would crowd filter blocks or table buckets).
        #[test]
        fn output_bits_are_balanced(base in "[a-z0-9.]{5,29}") {
            let trials = 512u32;
            let mut ones = [[0u32; 64]; 2];
            for i in 0..trials {
                let key = key_hash(5, Kind::Domain, &format!("{base}{i:03}"));
                for (half, value) in ones.iter_mut().zip([key.fingerprint, key.position]) {
                    for (bit, count) in half.iter_mut().enumerate() {
                        *count += (value >> bit & 1) as u32;
                    }
                }
            }
            // 256 expected, standard deviation 11.3: the bounds are 8.5 of them.
            for count in ones.into_iter().flatten() {
                prop_assert!((160..=352).contains(&count), "bit set {count} times in {trials}");
            }
        }
    }

    #[test]
    fn reduce_stays_in_range_at_the_extremes() {
        assert_eq!(reduce(u64::MAX, 1), 0);
        assert_eq!(reduce(u64::MAX, 10), 9);
        assert_eq!(reduce(0, 10), 0);
    }
}
