//! The shape test for texts of 8 to 32 bytes (nearly every identifier) as
//! bit arithmetic: each byte class becomes a 32-bit map of the positions that
//! hold it, found 16 bytes per SSE2 instruction, and each shape is a table of
//! the positions where each class may stand. There is no branch on the bytes,
//! on the length or on the kind: the byte-at-a-time definition in the parent
//! module mispredicted about three branches per call on queries of mixed
//! kinds and lengths, more than its loads and compares cost.

use crate::kind::Kind;

/// Bytes this test covers; shorter and longer texts take the definition.
const MIN_LEN: usize = 8;
const MAX_LEN: usize = 32;

/// The byte classes canonical forms are made of, disjoint. Anything else
/// (another character, a NUL, a byte of a multi-byte UTF-8 sequence) is in
/// none of them and so allowed nowhere.
const CLASSES: usize = 9;
const ZERO: usize = 0;
const NONZERO_DIGIT: usize = 1;
const UPPER: usize = 2;
const LOWER: usize = 3;
const DOT: usize = 4;
const HYPHEN: usize = 5;
const PLUS: usize = 6;
const COLON: usize = 7;
const UNDERSCORE: usize = 8;

/// One canonical layout: where each class may stand (bit `i`: byte `i`),
/// the lengths it allows, and whether it is a dotted name.
struct Layout {
    allowed: [u32; CLASSES],
    min_len: usize,
    max_len: usize,
    dotted: bool,
}

const EVERYWHERE: u32 = u32::MAX;
const NOWHERE: u32 = 0;

/// Positions from `first` on.
const fn from(first: u32) -> u32 {
    EVERYWHERE << first
}

/// Indexed by kind code (`Kind::Account` = 1, `Number` = 2, `Domain` = 3),
/// with the IBAN layout after them: an account is domestic when its third
/// byte is a colon, an IBAN otherwise (an IBAN has a digit there).
const LAYOUTS: [Layout; 5] = [
    // Any other kind: no text fits.
    Layout {
        allowed: [NOWHERE; CLASSES],
        min_len: usize::MAX,
        max_len: 0,
        dotted: false,
    },
    // `TH:004:1234567890`: region letters, institution digits, account digits.
    Layout {
        allowed: {
            let digits = 0b111 << 3 | from(7);
            let mut a = [NOWHERE; CLASSES];
            a[ZERO] = digits;
            a[NONZERO_DIGIT] = digits;
            a[UPPER] = 0b11;
            a[COLON] = 1 << 2 | 1 << 6;
            a
        },
        min_len: 8,
        max_len: 41,
        dotted: false,
    },
    // `+66812345678`: a plus, a country code that does not start with 0.
    Layout {
        allowed: {
            let mut a = [NOWHERE; CLASSES];
            a[PLUS] = 1;
            a[NONZERO_DIGIT] = from(1);
            a[ZERO] = from(2);
            a
        },
        min_len: 2,
        max_len: 16,
        dotted: false,
    },
    // `www.scam.example`: letters, digits, hyphens, underscores and dots;
    // the dots are checked apart. Labels cannot pass 63 bytes in 32.
    Layout {
        allowed: {
            let mut a = [NOWHERE; CLASSES];
            a[ZERO] = EVERYWHERE;
            a[NONZERO_DIGIT] = EVERYWHERE;
            a[LOWER] = EVERYWHERE;
            a[HYPHEN] = EVERYWHERE;
            a[UNDERSCORE] = EVERYWHERE;
            a[DOT] = EVERYWHERE;
            a
        },
        min_len: 1,
        max_len: 253,
        dotted: true,
    },
    // `GB82WEST12345698765432`: country letters, check digits, then capitals and digits.
    Layout {
        allowed: {
            let mut a = [NOWHERE; CLASSES];
            a[UPPER] = 0b11 | from(4);
            a[ZERO] = 0b11 << 2 | from(4);
            a[NONZERO_DIGIT] = 0b11 << 2 | from(4);
            a
        },
        min_len: 5,
        max_len: 34,
        dotted: false,
    },
];

/// The IBAN row of [`LAYOUTS`].
const IBAN: usize = 4;

/// [`has_canonical_shape`](super::has_canonical_shape) for a text of 8 to 32
/// bytes; `None` for other lengths.
#[inline]
pub(super) fn has_shape(kind: Kind, bytes: &[u8]) -> Option<bool> {
    let len = bytes.len();
    if !(MIN_LEN..=MAX_LEN).contains(&len) {
        return None;
    }
    let code = usize::from(kind.code());
    let row = if code < IBAN { code } else { 0 };
    let iban = usize::from(row == 1) & usize::from(bytes[2] != b':');
    let row = row + iban * (IBAN - 1);
    let layout = &LAYOUTS[row];
    let classes = classes(padded(bytes));
    let present = EVERYWHERE >> (MAX_LEN - len);
    let fitting = classes
        .iter()
        .zip(layout.allowed)
        .fold(0, |ok, (&class, allowed)| ok | class & allowed);
    // `&`, not `&&`: each test is a cheap bit operation, and a branch per
    // test would mispredict whenever kinds alternate.
    let dots = classes[DOT];
    let well_dotted = (dots != 0) & (dots & (1 | 1 << (len - 1)) == 0) & (dots & dots >> 1 == 0);
    Some(
        (present & !fitting == 0)
            & (layout.min_len <= len)
            & (len <= layout.max_len)
            & (well_dotted | !layout.dotted),
    )
}

/// `bytes` (8 to 32 of them) followed by zeros, as four little-endian words.
/// Each is read at `min(8k, len - 8)`, never past the end, and shifted into
/// place: no branch on the length, and no trip through memory, whose
/// overlapping stores a 16-byte load could not take from the store buffer
/// (that stall measured slower than the branches this module replaces).
#[inline(always)]
fn padded(bytes: &[u8]) -> [u64; MAX_LEN / 8] {
    let len = bytes.len();
    std::array::from_fn(|k| {
        let at = (8 * k).min(len - 8);
        let word = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        // Bytes of the word before position 8k (the word was read early
        // because the text ends within it) are shifted out; a word wholly
        // past the end becomes 0.
        let early = (8 * k + 8).saturating_sub(len);
        word.checked_shr(8 * early as u32).unwrap_or(0)
    })
}

/// For each class, bit `i` set when byte `i` is in it.
#[inline]
fn classes(words: [u64; MAX_LEN / 8]) -> [u32; CLASSES] {
    // SAFETY: SSE2 is part of the x86-64 baseline, so every x86-64 CPU has it.
    unsafe { sse2::classes(words) }
}

mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_movemask_epi8, _mm_set1_epi8,
        _mm_set_epi64x,
    };

    use super::{
        CLASSES, COLON, DOT, HYPHEN, LOWER, MAX_LEN, NONZERO_DIGIT, PLUS, UNDERSCORE, UPPER, ZERO,
    };

    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn classes([w0, w1, w2, w3]: [u64; MAX_LEN / 8]) -> [u32; CLASSES] {
        let halves = [
            _mm_set_epi64x(w1 as i64, w0 as i64),
            _mm_set_epi64x(w3 as i64, w2 as i64),
        ];
        let mut out = [0; CLASSES];
        out[ZERO] = equal(halves, b'0');
        out[NONZERO_DIGIT] = within(halves, b'1', b'9');
        out[UPPER] = within(halves, b'A', b'Z');
        out[LOWER] = within(halves, b'a', b'z');
        out[DOT] = equal(halves, b'.');
        out[HYPHEN] = equal(halves, b'-');
        out[PLUS] = equal(halves, b'+');
        out[COLON] = equal(halves, b':');
        out[UNDERSCORE] = equal(halves, b'_');
        out
    }

    #[inline]
    #[target_feature(enable = "sse2")]
    fn equal([low, high]: [__m128i; 2], byte: u8) -> u32 {
        let byte = _mm_set1_epi8(byte as i8);
        positions(_mm_cmpeq_epi8(low, byte), _mm_cmpeq_epi8(high, byte))
    }

    /// Signed compares: a byte of 0x80 and up is negative, below every range.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn within([low, high]: [__m128i; 2], first: u8, last: u8) -> u32 {
        let (above, below) = (
            _mm_set1_epi8((first - 1) as i8),
            _mm_set1_epi8((last + 1) as i8),
        );
        positions(
            _mm_and_si128(_mm_cmpgt_epi8(low, above), _mm_cmpgt_epi8(below, low)),
            _mm_and_si128(_mm_cmpgt_epi8(high, above), _mm_cmpgt_epi8(below, high)),
        )
    }

    /// The marked bytes of both halves as one 32-bit map.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn positions(low: __m128i, high: __m128i) -> u32 {
        (_mm_movemask_epi8(low) as u32 & 0xFFFF) | (_mm_movemask_epi8(high) as u32) << 16
    }
}
