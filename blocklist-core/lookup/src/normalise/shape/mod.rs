//! The shape of each kind's canonical form, tested in one pass over the
//! bytes without normalising: a guard for callers that keep identifiers in
//! canonical form and look them up as such, so that text as people write it
//! (`081-234-5678`, `WWW.Scam.Example.`) is refused instead of silently
//! matching nothing.

#[cfg(target_arch = "x86_64")]
mod bitmap;

use crate::kind::Kind;

/// Whether `text` has the shape of a canonical identifier of `kind`: the
/// characters and layout [`normalise`](super::normalise) produces. Every
/// canonical form has it (the normaliser's tests check that); text of the
/// right shape that is not canonical (a number in an unallocated range, an
/// IBAN with wrong check digits) passes, and simply is never listed. Text
/// that passes is ASCII, so bytes that pass are valid UTF-8.
///
/// ```
/// use blocklist_lookup::{normalise::has_canonical_shape, Kind};
/// assert!(has_canonical_shape(Kind::Number, "+66812345678"));
/// assert!(!has_canonical_shape(Kind::Number, "081-234-5678"));
/// assert!(has_canonical_shape(Kind::Account, "TH:004:1234567890"));
/// assert!(has_canonical_shape(Kind::Account, "GB82WEST12345698765432"));
/// assert!(has_canonical_shape(Kind::Domain, "www.scam.example"));
/// assert!(!has_canonical_shape(Kind::Domain, "WWW.Scam.Example."));
/// ```
#[inline(always)]
pub fn has_canonical_shape(kind: Kind, text: impl AsRef<[u8]>) -> bool {
    let bytes = text.as_ref();
    #[cfg(target_arch = "x86_64")]
    if let Some(answer) = bitmap::has_shape(kind, bytes) {
        return answer;
    }
    by_definition(kind, bytes)
}

/// The shape test byte by byte: the definition, and the path for texts the
/// bitmap test does not cover. Out of line, so that the bitmap test is
/// inlined into its callers alone.
#[inline(never)]
fn by_definition(kind: Kind, bytes: &[u8]) -> bool {
    match kind {
        Kind::Number => is_e164(bytes),
        Kind::Account => is_domestic_account(bytes) || is_iban(bytes),
        Kind::Domain => is_ascii_domain(bytes),
        Kind::Other(_) => false,
    }
}

/// `+`, then a country code that does not start with 0, up to 15 digits in all.
fn is_e164(bytes: &[u8]) -> bool {
    match bytes {
        [b'+', b'1'..=b'9', rest @ ..] => rest.len() < 15 && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// `TH:004:1234567890`: region, institution code, account digits.
fn is_domestic_account(bytes: &[u8]) -> bool {
    match bytes {
        [r1, r2, b':', i1, i2, i3, b':', digits @ ..] => {
            r1.is_ascii_uppercase()
                && r2.is_ascii_uppercase()
                && [i1, i2, i3].iter().all(|b| b.is_ascii_digit())
                && !digits.is_empty()
                && digits.len() <= 34
                && digits.iter().all(u8::is_ascii_digit)
        }
        _ => false,
    }
}

/// An IBAN in compact form: country letters, check digits, then upper-case
/// letters and digits, 34 characters at most.
fn is_iban(bytes: &[u8]) -> bool {
    match bytes {
        [c1, c2, d1, d2, rest @ ..] => {
            c1.is_ascii_uppercase()
                && c2.is_ascii_uppercase()
                && d1.is_ascii_digit()
                && d2.is_ascii_digit()
                && !rest.is_empty()
                && rest.len() <= 30
                && rest
                    .iter()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        }
        _ => false,
    }
}

/// Lower-case ASCII labels of letters, digits, hyphens and underscores, 1 to
/// 63 bytes each, joined by dots: at least two of them, 253 bytes at most.
/// Where an underscore may stand (left of the registrable domain) takes the
/// suffix list: that is for the normaliser, not for a shape.
fn is_ascii_domain(bytes: &[u8]) -> bool {
    if bytes.len() > 253 {
        return false;
    }
    let mut labels = 0;
    for label in bytes.split(|&b| b == b'.') {
        let ldh = label
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_'));
        if label.is_empty() || label.len() > 63 || !ldh {
            return false;
        }
        labels += 1;
    }
    labels >= 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KINDS: [Kind; 4] = [Kind::Account, Kind::Number, Kind::Domain, Kind::Other(4)];

    fn agrees(kind: Kind, bytes: &[u8]) -> Result<(), TestCaseError> {
        prop_assert_eq!(
            has_canonical_shape(kind, bytes),
            by_definition(kind, bytes),
            "{} {:?}",
            kind,
            String::from_utf8_lossy(bytes)
        );
        Ok(())
    }

    /// Every byte value at every position of a text of each shape, at every
    /// length the fast test covers: each class boundary and each layout slot.
    #[test]
    fn every_byte_at_every_position_is_judged_as_the_definition_judges_it() {
        let samples = [
            "TH:004:1234567890123456789012345",
            "GB82WEST12345698765432ABCDEFGHIJ",
            "+6681234567890123456789012345678",
            "www.scam-1.example.co.th.abcdefg",
            "a_b.scam-1.example.co.th.abcdefg",
        ];
        for sample in samples {
            for len in 0..=sample.len() {
                let mut bytes = sample.as_bytes()[..len].to_vec();
                for at in 0..len {
                    for byte in 0..=255 {
                        bytes[at] = byte;
                        for kind in KINDS {
                            agrees(kind, &bytes).unwrap();
                        }
                    }
                    bytes[at] = sample.as_bytes()[at];
                }
            }
        }
    }

    proptest! {
        #[test]
        fn texts_near_each_shape_are_judged_as_the_definition_judges_them(
            text in prop_oneof![
                "\\+[0-9]{0,20}",
                "[A-Z]{2}:[0-9]{3}:[0-9]{0,30}",
                "[A-Z]{2}[0-9]{2}[A-Z0-9]{0,32}",
                "([a-z0-9_-]{0,8}\\.){0,6}[a-z0-9_-]{0,8}",
                "[0-9A-Za-z+:._\\- /\u{0}\u{e9}]{0,36}",
            ],
        ) {
            for kind in KINDS {
                agrees(kind, text.as_bytes())?;
            }
        }
    }
}
