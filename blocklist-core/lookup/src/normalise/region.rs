//! Regions whose national forms the normaliser reads: a phone number written
//! without a country code, a bank account without an IBAN.
//!
//! Phone numbers can be read for every region of libphonenumber's metadata:
//! `build.rs` compiles `data/PhoneNumberMetadata.xml` into the static table
//! included below (calling code, international and trunk prefixes, national
//! lengths), so looking a region up is an index into an array and nothing is
//! built at run time. Domestic accounts have rules for Thailand only.

use super::{error::NormaliseError, Rules};
use crate::kind::Kind;

/// What the normaliser needs to know about a region to read national input.
#[derive(Debug)]
pub(crate) struct Region {
    /// ISO 3166 alpha-2 code, upper case.
    pub code: &'static str,
    /// The region's country calling code, as digits.
    pub country_code: &'static [u8],
    /// The prefixes dialled before a country code, longest first, one set of
    /// allowed digits per position (metadata `internationalPrefix`).
    dialling_prefixes: &'static [&'static [DigitSet]],
    /// The prefix dialled before a national number (metadata
    /// `nationalPrefix`), empty where there is none.
    pub trunk_prefix: &'static str,
    /// The prefixes stripped from a national number, longest first
    /// (metadata `nationalPrefixForParsing`, or `nationalPrefix`).
    trunk_prefixes: &'static [&'static [DigitSet]],
    /// Whether national numbers are written with the trunk prefix, so that
    /// digits without it are not a national number (Thailand, Britain); the
    /// NANP writes `212-555-1234` without its `1`.
    pub trunk_prefix_required: bool,
    /// The lengths of a national significant number in this region.
    national_lengths: NationalLengths,
    /// Those lengths in words, for errors.
    pub expected_lengths: &'static str,
}

/// A set of decimal digits, bit `d` set for digit `d`: enough to spell the
/// prefix patterns of the metadata without a regex engine on the hot path.
#[derive(Debug, Clone, Copy)]
struct DigitSet(u16);

impl DigitSet {
    /// Whether the ASCII digit `b` is in the set.
    fn contains(self, b: u8) -> bool {
        b.is_ascii_digit() && self.0 & (1 << (b - b'0')) != 0
    }
}

/// A set of lengths, bit `n` set for `n` digits.
#[derive(Debug, Clone, Copy)]
struct NationalLengths(u32);

include!(concat!(env!("OUT_DIR"), "/regions.rs"));

/// The regions with rules for domestic (non-IBAN) accounts.
const ACCOUNT_REGIONS: &str = "TH";

impl Region {
    /// The region named by an ISO 3166 alpha-2 code (any case) that has
    /// national rules for `kind`.
    pub fn lookup(kind: Kind, code: &str) -> Result<&'static Region, NormaliseError> {
        let unsupported = |supported| NormaliseError::UnsupportedRegion {
            kind,
            region: super::error::excerpt(code),
            supported,
        };
        if kind == Kind::Account && !code.eq_ignore_ascii_case(ACCOUNT_REGIONS) {
            return Err(unsupported(ACCOUNT_REGIONS));
        }
        let slot = match code.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
                let letter = |c: &u8| usize::from(c.to_ascii_uppercase() - b'A');
                letter(a) * 26 + letter(b)
            }
            _ => return Err(unsupported(SUPPORTED_NUMBER_REGIONS)),
        };
        REGION_INDEX
            .get(slot)
            .and_then(|&at| REGIONS.get(usize::from(at)))
            .ok_or_else(|| unsupported(SUPPORTED_NUMBER_REGIONS))
    }

    /// The region of `rules`.
    pub fn of(kind: Kind, rules: &Rules) -> Result<&'static Region, NormaliseError> {
        Region::lookup(kind, &rules.default_region)
    }

    /// The lengths of the dialling prefixes `digits` starts with, longest first.
    pub fn dialling_prefix_lens<'a>(&self, digits: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
        matching_lens(self.dialling_prefixes, digits)
    }

    /// The lengths of the trunk prefixes `digits` starts with, longest first.
    pub fn trunk_prefix_lens<'a>(&self, digits: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
        matching_lens(self.trunk_prefixes, digits)
    }

    /// Whether a national significant number of `len` digits exists here.
    pub fn allows_national_length(&self, len: usize) -> bool {
        len < 32 && self.national_lengths.0 & (1 << len) != 0
    }
}

/// The lengths of the `prefixes` that `digits` starts with, in their order.
fn matching_lens<'a>(
    prefixes: &'static [&'static [DigitSet]],
    digits: &'a [u8],
) -> impl Iterator<Item = usize> + 'a {
    prefixes.iter().filter_map(move |prefix| {
        let head = digits.get(..prefix.len())?;
        head.iter()
            .zip(prefix.iter())
            .all(|(&b, set)| set.contains(b))
            .then_some(prefix.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(code: &str) -> &'static Region {
        Region::lookup(Kind::Number, code).unwrap()
    }

    #[test]
    fn thai_dialling_prefix_is_00_then_1_to_9() {
        let th = region("TH");
        let lens = |digits: &[u8]| th.dialling_prefix_lens(digits).collect::<Vec<_>>();
        assert_eq!(lens(b"001441234"), [3]);
        assert_eq!(lens(b"009"), [3]);
        assert_eq!(lens(b"000"), []);
        assert_eq!(lens(b"00"), []);
        assert_eq!(lens(b"0812"), []);
    }

    #[test]
    fn prefixes_of_several_lengths_are_matched_longest_first() {
        // CL: `(?:0|1(?:1[0-69]|...))0`, carrier codes before the 0.
        let cl = region("CL");
        assert_eq!(cl.dialling_prefix_lens(b"00").collect::<Vec<_>>(), [2]);
        assert_eq!(cl.dialling_prefix_lens(b"11100").collect::<Vec<_>>(), [4]);
        // GB: trunk prefix `0|180020`.
        let gb = region("GB");
        assert_eq!(
            gb.trunk_prefix_lens(b"1800202079460958")
                .collect::<Vec<_>>(),
            [6]
        );
        assert_eq!(
            gb.trunk_prefix_lens(b"02079460958").collect::<Vec<_>>(),
            [1]
        );
    }

    #[test]
    fn region_facts_come_from_the_metadata() {
        let us = region("us");
        assert_eq!(
            (
                us.code,
                us.country_code,
                us.trunk_prefix,
                us.trunk_prefix_required
            ),
            ("US", &b"1"[..], "1", false)
        );
        let th = region("TH");
        assert_eq!(
            (th.country_code, th.trunk_prefix_required),
            (&b"66"[..], true)
        );
        assert!(th.allows_national_length(9) && !th.allows_national_length(7));
        assert_eq!(region("CL").trunk_prefix, "");
    }

    #[test]
    fn every_region_has_an_assigned_calling_code() {
        // Else its national numbers would normalise to text that the
        // canonical check, reading it as international, refuses.
        for r in &REGIONS {
            let number = [r.country_code, b"2345678"].concat();
            assert_eq!(
                crate::normalise::calling_codes::split(&number).map(|(cc, _)| cc),
                Some(r.country_code),
                "{}",
                r.code
            );
        }
    }

    #[test]
    fn region_lookup_ignores_case_and_names_unsupported_regions() {
        assert_eq!(Region::lookup(Kind::Number, "th").map(|r| r.code), Ok("TH"));
        for unknown in ["ZZ", "T", "THA", "1A", "", "ŤH"] {
            assert!(
                matches!(
                    Region::lookup(Kind::Number, unknown),
                    Err(NormaliseError::UnsupportedRegion { .. })
                ),
                "{unknown}"
            );
        }
    }

    #[test]
    fn accounts_have_domestic_rules_for_thailand_only() {
        assert_eq!(
            Region::lookup(Kind::Account, "th").map(|r| r.code),
            Ok("TH")
        );
        assert!(matches!(
            Region::lookup(Kind::Account, "US"),
            Err(NormaliseError::UnsupportedRegion {
                supported: "TH",
                ..
            })
        ));
    }
}
