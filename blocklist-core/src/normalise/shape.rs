//! The shape of each kind's canonical form, tested in one pass over the
//! bytes without normalising: a guard for callers that keep identifiers in
//! canonical form and look them up as such, so that text as people write it
//! (`081-234-5678`, `WWW.Scam.Example.`) is refused instead of silently
//! matching nothing.

use crate::kind::Kind;

/// Whether `text` has the shape of a canonical identifier of `kind`: the
/// characters and layout [`normalise`](super::normalise) produces. Every
/// canonical form has it (the normaliser's tests check that); text of the
/// right shape that is not canonical (a number in an unallocated range, an
/// IBAN with wrong check digits) passes, and simply is never listed.
///
/// ```
/// use blocklist_core::{normalise::has_canonical_shape, Kind};
/// assert!(has_canonical_shape(Kind::Number, "+66812345678"));
/// assert!(!has_canonical_shape(Kind::Number, "081-234-5678"));
/// assert!(has_canonical_shape(Kind::Account, "TH:004:1234567890"));
/// assert!(has_canonical_shape(Kind::Account, "GB82WEST12345698765432"));
/// assert!(has_canonical_shape(Kind::Domain, "www.scam.example"));
/// assert!(!has_canonical_shape(Kind::Domain, "WWW.Scam.Example."));
/// ```
pub fn has_canonical_shape(kind: Kind, text: &str) -> bool {
    let bytes = text.as_bytes();
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

/// Lower-case ASCII labels of letters, digits and hyphens, 1 to 63 bytes
/// each, joined by dots: at least two of them, 253 bytes at most.
fn is_ascii_domain(bytes: &[u8]) -> bool {
    if bytes.len() > 253 {
        return false;
    }
    let mut labels = 0;
    for label in bytes.split(|&b| b == b'.') {
        let ldh = label
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if label.is_empty() || label.len() > 63 || !ldh {
            return false;
        }
        labels += 1;
    }
    labels >= 2
}
