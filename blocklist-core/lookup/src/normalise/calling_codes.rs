//! ITU-T E.164 country calling codes (as assigned in ITU-T E.164 Annex to
//! Operational Bulletin, geographic and global-service codes), used to split
//! an international number into country code and national number.
//!
//! The codes form a prefix code: no code is a prefix of another, so the
//! first 1, 2 or 3 digits of a number match at most one of them.

/// Every assigned code, sorted. Spare and reserved codes are left out, so a
/// number that starts with one is rejected instead of guessed at.
const CODES: [u16; 214] = [
    1, 7, 20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54,
    55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98, 211,
    212, 213, 216, 218, 220, 221, 222, 223, 224, 225, 226, 227, 228, 229, 230, 231, 232, 233, 234,
    235, 236, 237, 238, 239, 240, 241, 242, 243, 244, 245, 246, 247, 248, 249, 250, 251, 252, 253,
    254, 255, 256, 257, 258, 260, 261, 262, 263, 264, 265, 266, 267, 268, 269, 290, 291, 297, 298,
    299, 350, 351, 352, 353, 354, 355, 356, 357, 358, 359, 370, 371, 372, 373, 374, 375, 376, 377,
    378, 380, 381, 382, 383, 385, 386, 387, 389, 420, 421, 423, 500, 501, 502, 503, 504, 505, 506,
    507, 508, 509, 590, 591, 592, 593, 594, 595, 596, 597, 598, 599, 670, 672, 673, 674, 675, 676,
    677, 678, 679, 680, 681, 682, 683, 685, 686, 687, 688, 689, 690, 691, 692, 800, 808, 850, 852,
    853, 855, 856, 870, 880, 881, 882, 883, 886, 888, 960, 961, 962, 963, 964, 965, 966, 967, 968,
    970, 971, 972, 973, 974, 975, 976, 977, 979, 992, 993, 994, 995, 996, 998,
];

/// Splits `digits` (ASCII) into its country calling code and the rest, or
/// `None` when no assigned code starts it. No code starts with 0: read as a
/// number, `066` would be 66, so a leading 0 is refused before the digits
/// are added up.
pub(crate) fn split(digits: &[u8]) -> Option<(&[u8], &[u8])> {
    if digits.first() == Some(&b'0') {
        return None;
    }
    let mut code: u16 = 0;
    for len in 1..=3 {
        let &digit = digits.get(len - 1)?;
        code = code * 10 + u16::from(digit - b'0');
        if CODES.binary_search(&code).is_ok() {
            return Some(digits.split_at(len));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_sorted_and_prefix_free() {
        assert!(CODES.windows(2).all(|w| w[0] < w[1]));
        for &a in &CODES {
            for &b in &CODES {
                let (a, b) = (a.to_string(), b.to_string());
                assert!(a == b || !b.starts_with(&a), "{a} is a prefix of {b}");
            }
        }
    }

    #[test]
    fn split_finds_one_two_and_three_digit_codes() {
        let cases: [(&str, &str); 12] = [
            ("12125551234", "1"),
            ("66812345678", "66"),
            ("442079460958", "44"),
            ("60123456789", "60"),
            ("6561234567", "65"),
            ("84912345678", "84"),
            ("959123456789", "95"),
            ("85512345678", "855"),
            ("856201234567", "856"),
            ("8613800138000", "86"),
            ("919876543210", "91"),
            ("74951234567", "7"),
        ];
        for (number, code) in cases {
            let (cc, _) = split(number.as_bytes()).expect(number);
            assert_eq!(cc, code.as_bytes(), "{number}");
        }
    }

    #[test]
    fn split_rejects_spare_codes() {
        assert_eq!(split(b"2591234"), None); // 259 is spare
        assert_eq!(split(b"066812345678"), None);
        assert_eq!(split(b"0071234567890"), None);
        assert_eq!(split(b"8"), None);
        assert_eq!(split(b""), None);
    }
}
