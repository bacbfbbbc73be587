//! Thailand's numbering plan (+66), hand-coded from libphonenumber's
//! `TH_territory_PhoneNumberMetadata.xml` and `TH_territory_ShortNumberMetadata.xml`
//! as plain digit tests, so no regex engine runs on the hot path.
//!
//! Each function names the metadata element it implements; the digits passed
//! in are always ASCII digits.

/// `<fixedLine>`: 8 digits, `(?:1[0689]|2\d|3[2-9]|4[2-5]|5[2-6]|7[3-7])\d{6}`.
fn is_fixed_line(nsn: &[u8]) -> bool {
    match nsn {
        [a, b, ..] if nsn.len() == 8 => matches!(
            (a, b),
            (b'1', b'0' | b'6' | b'8' | b'9')
                | (b'2', _)
                | (b'3', b'2'..=b'9')
                | (b'4', b'2'..=b'5')
                | (b'5', b'2'..=b'6')
                | (b'7', b'3'..=b'7')
        ),
        _ => false,
    }
}

/// `<mobile>`: 9 digits,
/// `(?:(?:14|[89]\d)\d\d|6(?:[1-6]\d\d|7(?:1[0-8]|2[4-7]|3[1-6])))\d{5}`.
fn is_mobile(nsn: &[u8]) -> bool {
    match nsn {
        [a, b, c, d, ..] if nsn.len() == 9 => match (a, b) {
            (b'1', b'4') | (b'8' | b'9', _) | (b'6', b'1'..=b'6') => true,
            (b'6', b'7') => matches!(
                (c, d),
                (b'1', b'0'..=b'8') | (b'2', b'4'..=b'7') | (b'3', b'1'..=b'6')
            ),
            _ => false,
        },
        _ => false,
    }
}

/// `<voip>`: 9 digits, `6[08]\d{7}`.
fn is_voip(nsn: &[u8]) -> bool {
    nsn.len() == 9 && matches!(nsn, [b'6', b'0' | b'8', ..])
}

/// `<tollFree>` (`1800\d{6}`) and `<premiumRate>` (`1900\d{6}`): 10 digits.
/// The 13-digit `001800…` toll-free form is left out: it starts with the
/// dialling prefix 001 and is read as a call abroad.
///
/// These are dialled without the trunk prefix (their `<numberFormat>` for
/// leading digit 1 has no `nationalPrefixFormattingRule`), so national input
/// `1800 123 456` is complete as it stands.
pub(crate) fn is_toll_free_or_premium(nsn: &[u8]) -> bool {
    nsn.len() == 10 && (nsn.starts_with(b"1800") || nsn.starts_with(b"1900"))
}

/// Whether a Thai national significant number (after +66) is in a range the
/// metadata allocates. `Err` holds the length problem when no type has the
/// number's length.
pub(crate) fn is_allocated(nsn: &[u8]) -> Result<bool, LengthMismatch> {
    match nsn.len() {
        8 => Ok(is_fixed_line(nsn)),
        9 => Ok(is_mobile(nsn) || is_voip(nsn)),
        10 => Ok(is_toll_free_or_premium(nsn)),
        _ => Err(LengthMismatch),
    }
}

/// No Thai number type has the length given (`<possibleLengths>`).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LengthMismatch;

/// The lengths `<possibleLengths national=…>` allows, for error messages.
pub(crate) const EXPECTED_LENGTHS: &str =
    "8 digits (fixed line), 9 (mobile, voip) or 10 (1800, 1900) after +66 or the trunk prefix 0";

/// Short-number `<generalDesc>`: `1\d{2,3}` (emergency 191, police 1155,
/// anti-fraud 1441...). These are dialled as is and never reach E.164.
pub(crate) fn is_short_code(digits: &[u8]) -> bool {
    matches!(digits.len(), 3 | 4) && digits[0] == b'1'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_numbers_from_the_metadata_are_allocated() {
        // <exampleNumber> of each type.
        for example in [
            "21234567",
            "812345678",
            "1800123456",
            "1900123456",
            "601234567",
        ] {
            assert_eq!(is_allocated(example.as_bytes()), Ok(true), "{example}");
        }
    }

    #[test]
    fn numbers_outside_every_range_are_not_allocated() {
        for nsn in [
            "31234567",
            "41234567",
            "512345678",
            "671912345",
            "1700123456",
        ] {
            assert_eq!(is_allocated(nsn.as_bytes()), Ok(false), "{nsn}");
        }
        assert_eq!(is_allocated(b"1234567"), Err(LengthMismatch));
    }

    #[test]
    fn short_codes_are_three_or_four_digits_starting_with_one() {
        assert!(is_short_code(b"191"));
        assert!(is_short_code(b"1191"));
        assert!(!is_short_code(b"11911"));
        assert!(!is_short_code(b"291"));
    }
}
