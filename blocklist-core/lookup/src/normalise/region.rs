//! Regions whose national forms the normaliser reads: a phone number written
//! without a country code, a bank account without an IBAN.

use super::{error::NormaliseError, Rules};
use crate::kind::Kind;

/// What the normaliser needs to know about a region to read national input.
#[derive(Debug)]
pub(crate) struct Region {
    /// ISO 3166 alpha-2 code, upper case.
    pub code: &'static str,
    /// The region's country calling code, as digits.
    pub country_code: &'static [u8],
    /// The prefix dialled before a country code, one set of allowed digits
    /// per position (metadata `internationalPrefix`).
    pub dialling_prefix: &'static [DigitSet],
    /// The prefix dialled before a national number (metadata `nationalPrefix`).
    pub trunk_prefix: &'static str,
}

/// A set of decimal digits, bit `d` set for digit `d`: enough to spell the
/// `internationalPrefix` patterns without a regex engine on the hot path.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DigitSet(u16);

impl DigitSet {
    /// The digits `lo..=hi`.
    const fn range(lo: u8, hi: u8) -> DigitSet {
        DigitSet(((1u16 << (hi + 1)) - 1) & !((1u16 << lo) - 1))
    }

    /// Whether the ASCII digit `b` is in the set.
    fn contains(self, b: u8) -> bool {
        b.is_ascii_digit() && self.0 & (1 << (b - b'0')) != 0
    }
}

/// Thailand, from libphonenumber's `TH_territory_PhoneNumberMetadata.xml`:
/// `countryCode="66" internationalPrefix="00[1-9]" nationalPrefix="0"`.
const THAILAND: Region = Region {
    code: "TH",
    country_code: b"66",
    dialling_prefix: &[
        DigitSet::range(0, 0),
        DigitSet::range(0, 0),
        DigitSet::range(1, 9),
    ],
    trunk_prefix: "0",
};

/// Every supported region. Adding one means adding its numbering plan in
/// `calling_codes::check_national` and, for accounts, its domestic rules.
const REGIONS: [&Region; 1] = [&THAILAND];

/// The supported region codes, for error messages.
const SUPPORTED: &str = "TH";

impl Region {
    /// The region named by an ISO 3166 alpha-2 code (any case).
    pub fn lookup(kind: Kind, code: &str) -> Result<&'static Region, NormaliseError> {
        REGIONS
            .into_iter()
            .find(|r| r.code.eq_ignore_ascii_case(code))
            .ok_or_else(|| NormaliseError::UnsupportedRegion {
                kind,
                region: super::error::excerpt(code),
                supported: SUPPORTED,
            })
    }

    /// The region of `rules`.
    pub fn of(kind: Kind, rules: &Rules) -> Result<&'static Region, NormaliseError> {
        Region::lookup(kind, &rules.default_region)
    }

    /// The length of the dialling prefix that `digits` starts with, if any.
    pub fn dialling_prefix_len(&self, digits: &[u8]) -> Option<usize> {
        let n = self.dialling_prefix.len();
        let head = digits.get(..n)?;
        head.iter()
            .zip(self.dialling_prefix)
            .all(|(&b, set)| set.contains(b))
            .then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thai_dialling_prefix_is_00_then_1_to_9() {
        assert_eq!(THAILAND.dialling_prefix_len(b"001441234"), Some(3));
        assert_eq!(THAILAND.dialling_prefix_len(b"009"), Some(3));
        assert_eq!(THAILAND.dialling_prefix_len(b"000"), None);
        assert_eq!(THAILAND.dialling_prefix_len(b"00"), None);
        assert_eq!(THAILAND.dialling_prefix_len(b"0812"), None);
    }

    #[test]
    fn region_lookup_ignores_case_and_names_unsupported_regions() {
        assert_eq!(Region::lookup(Kind::Number, "th").map(|r| r.code), Ok("TH"));
        assert!(matches!(
            Region::lookup(Kind::Number, "ZZ"),
            Err(NormaliseError::UnsupportedRegion { .. })
        ));
    }
}
