//! The shape test for texts of 8 to 32 bytes (nearly every identifier) as
//! bit arithmetic: each byte's class is looked up by its two nibbles (one
//! `pshufb` per nibble per 16 bytes, SSSE3), each shape is a vector of the
//! classes each position may hold, and a compare turns the bytes whose
//! class is not allowed where they stand into a 32-bit map. There is no
//! branch on the bytes, on the length or on the kind: the byte-at-a-time
//! definition in the parent module mispredicted about three branches per
//! call on queries of mixed kinds and lengths, and the compare per class of
//! the SSE2 version this replaces (nine classes, two or four compares each
//! per 16 bytes) cost ~200 instructions a call.

use crate::kind::Kind;

/// Bytes this test covers; shorter and longer texts take the definition.
const MIN_LEN: usize = 8;
const MAX_LEN: usize = 32;

/// Class bits, one byte per text byte: `LOW[lo nibble] & HIGH[hi nibble]`.
/// Each bit stands for a rectangle of nibble pairs, so a class whose bytes
/// span two high nibbles (letters) takes two bits. Anything else (another
/// character, a NUL, a byte of a multi-byte UTF-8 sequence) has no bit and
/// is allowed nowhere. The `+` of a number has none either: it may stand
/// only first, which is tested apart (see [`Layout::plus_first`]).
const DIGIT: u8 = 1; // 0x30..=0x39
const COLON: u8 = 1 << 1; // 0x3A
const HYPHEN_DOT: u8 = 1 << 2; // 0x2D, 0x2E
const UPPER_A_O: u8 = 1 << 3; // 0x41..=0x4F
const UPPER_P_Z: u8 = 1 << 4; // 0x50..=0x5A
const UNDERSCORE: u8 = 1 << 5; // 0x5F
const LOWER_A_O: u8 = 1 << 6; // 0x61..=0x6F
const LOWER_P_Z: u8 = 1 << 7; // 0x70..=0x7A
const UPPER: u8 = UPPER_A_O | UPPER_P_Z;
const DOMAIN: u8 = DIGIT | HYPHEN_DOT | UNDERSCORE | LOWER_A_O | LOWER_P_Z;

/// The class bits each low nibble allows.
const LOW: [u8; 16] = {
    let mut t = [0; 16];
    let mut lo = 0;
    while lo < 16 {
        let mut bits = 0;
        if lo <= 9 {
            bits |= DIGIT;
        }
        if lo == 0xA {
            bits |= COLON;
        }
        if lo == 0xD || lo == 0xE {
            bits |= HYPHEN_DOT;
        }
        if lo >= 1 {
            bits |= UPPER_A_O | LOWER_A_O;
        }
        if lo <= 0xA {
            bits |= UPPER_P_Z | LOWER_P_Z;
        }
        if lo == 0xF {
            bits |= UNDERSCORE;
        }
        t[lo] = bits;
        lo += 1;
    }
    t
};

/// The class bits each high nibble allows.
const HIGH: [u8; 16] = {
    let mut t = [0; 16];
    t[2] = HYPHEN_DOT;
    t[3] = DIGIT | COLON;
    t[4] = UPPER_A_O;
    t[5] = UPPER_P_Z | UNDERSCORE;
    t[6] = LOWER_A_O;
    t[7] = LOWER_P_Z;
    t
};

/// One canonical layout: the classes each position may hold, the lengths it
/// allows, and the tests apart.
struct Layout {
    allowed: [u8; MAX_LEN],
    min_len: usize,
    max_len: usize,
    /// A dotted name: dots neither first, last nor side by side, and at
    /// least one.
    dotted: bool,
    /// A `+` first and a digit other than 0 second (E.164).
    plus_first: bool,
}

/// `allowed` from the classes of the first positions and of all the others.
const fn positions(first: &[u8], rest: u8) -> [u8; MAX_LEN] {
    let mut a = [rest; MAX_LEN];
    let mut i = 0;
    while i < first.len() {
        a[i] = first[i];
        i += 1;
    }
    a
}

/// Indexed by kind code (`Kind::Account` = 1, `Number` = 2, `Domain` = 3),
/// with the IBAN layout after them: an account is domestic when its third
/// byte is a colon, an IBAN otherwise (an IBAN has a digit there).
const LAYOUTS: [Layout; 5] = [
    // Any other kind: no text fits.
    Layout {
        allowed: [0; MAX_LEN],
        min_len: usize::MAX,
        max_len: 0,
        dotted: false,
        plus_first: false,
    },
    // `TH:004:1234567890`: region letters, institution digits, account digits.
    Layout {
        allowed: positions(&[UPPER, UPPER, COLON, DIGIT, DIGIT, DIGIT, COLON], DIGIT),
        min_len: 8,
        max_len: 41,
        dotted: false,
        plus_first: false,
    },
    // `+66812345678`: a plus (tested apart), a country code that does not
    // start with 0.
    Layout {
        allowed: positions(&[0], DIGIT),
        min_len: 2,
        max_len: 16,
        dotted: false,
        plus_first: true,
    },
    // `www.scam.example`: letters, digits, hyphens, underscores and dots;
    // the dots are checked apart. Labels cannot pass 63 bytes in 32.
    Layout {
        allowed: [DOMAIN; MAX_LEN],
        min_len: 1,
        max_len: 253,
        dotted: true,
        plus_first: false,
    },
    // `GB82WEST12345698765432`: country letters, check digits, then capitals and digits.
    Layout {
        allowed: positions(&[UPPER, UPPER, DIGIT, DIGIT], UPPER | DIGIT),
        min_len: 5,
        max_len: 34,
        dotted: false,
        plus_first: false,
    },
];

/// The IBAN row of [`LAYOUTS`].
const IBAN: usize = 4;

/// [`has_canonical_shape`](super::has_canonical_shape) for a text of 8 to 32
/// bytes; `None` for other lengths, or on a CPU without SSSE3 (the
/// definition answers then).
#[inline(always)]
pub(super) fn has_shape(kind: Kind, bytes: &[u8]) -> Option<bool> {
    let len = bytes.len();
    if !(MIN_LEN..=MAX_LEN).contains(&len) || !std::arch::is_x86_feature_detected!("ssse3") {
        return None;
    }
    let code = usize::from(kind.code());
    let row = if code < IBAN { code } else { 0 };
    let iban = usize::from(row == 1) & usize::from(bytes[2] != b':');
    let layout = &LAYOUTS[row + iban * (IBAN - 1)];
    // SAFETY: SSSE3 was detected above.
    let (misplaced, dots) = unsafe { ssse3::misplaced_and_dots(padded(bytes), &layout.allowed) };
    // A number's first byte, the `+`, has no class: it is tested apart.
    let checked = (u32::MAX >> (MAX_LEN - len)) & !u32::from(layout.plus_first);
    // `&`, not `&&`: each test is a cheap bit operation, and a branch per
    // test would mispredict whenever kinds alternate.
    let well_dotted = (dots != 0) & (dots & (1 | 1 << (len - 1)) == 0) & (dots & dots >> 1 == 0);
    let plus_first = (bytes[0] == b'+') & (bytes[1] != b'0');
    Some(
        (checked & misplaced == 0)
            & (layout.min_len <= len)
            & (len <= layout.max_len)
            & (well_dotted | !layout.dotted)
            & (plus_first | !layout.plus_first),
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

mod ssse3 {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8,
        _mm_set_epi64x, _mm_setzero_si128, _mm_shuffle_epi8, _mm_srli_epi16,
    };

    use super::{HIGH, LOW, MAX_LEN};

    /// The positions of `words` (the padded text) whose class `allowed`
    /// does not allow there, and the positions of its dots.
    #[inline]
    #[target_feature(enable = "ssse3")]
    pub(super) fn misplaced_and_dots(
        [w0, w1, w2, w3]: [u64; MAX_LEN / 8],
        allowed: &[u8; MAX_LEN],
    ) -> (u32, u32) {
        let halves = [
            _mm_set_epi64x(w1 as i64, w0 as i64),
            _mm_set_epi64x(w3 as i64, w2 as i64),
        ];
        // SAFETY: the tables and `allowed` are 16 and 32 bytes long, read
        // within their bounds.
        let (low, high, allowed) = unsafe {
            (
                _mm_loadu_si128(LOW.as_ptr().cast()),
                _mm_loadu_si128(HIGH.as_ptr().cast()),
                [
                    _mm_loadu_si128(allowed.as_ptr().cast()),
                    _mm_loadu_si128(allowed[16..].as_ptr().cast()),
                ],
            )
        };
        let [low_half, high_half] = halves;
        (
            positions([
                misplaced(low_half, allowed[0], low, high),
                misplaced(high_half, allowed[1], low, high),
            ]),
            positions([dots(low_half), dots(high_half)]),
        )
    }

    /// 0xFF at each of the 16 `bytes` whose class is not in `allowed`.
    #[inline]
    #[target_feature(enable = "ssse3")]
    fn misplaced(bytes: __m128i, allowed: __m128i, low: __m128i, high: __m128i) -> __m128i {
        let nibble = _mm_set1_epi8(0x0F);
        // The shift moves bits across the bytes of a 16-bit lane; the mask
        // keeps each byte's own high nibble.
        let class = _mm_and_si128(
            _mm_shuffle_epi8(low, _mm_and_si128(bytes, nibble)),
            _mm_shuffle_epi8(high, _mm_and_si128(_mm_srli_epi16::<4>(bytes), nibble)),
        );
        _mm_cmpeq_epi8(_mm_and_si128(class, allowed), _mm_setzero_si128())
    }

    /// 0xFF at each dot of the 16 `bytes`.
    #[inline]
    #[target_feature(enable = "ssse3")]
    fn dots(bytes: __m128i) -> __m128i {
        _mm_cmpeq_epi8(bytes, _mm_set1_epi8(b'.' as i8))
    }

    /// The marked bytes of both halves as one 32-bit map.
    #[inline]
    #[target_feature(enable = "ssse3")]
    fn positions([low, high]: [__m128i; 2]) -> u32 {
        (_mm_movemask_epi8(low) as u32 & 0xFFFF) | (_mm_movemask_epi8(high) as u32) << 16
    }
}
