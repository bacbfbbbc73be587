//! IBANs (ISO 13616): compact upper-case form, checked by country length and
//! by the ISO 7064 mod 97-10 check digits.

use super::error::{excerpt, NormaliseError};
use crate::kind::Kind;

const KIND: Kind = Kind::Account;

/// IBAN lengths by country, from the SWIFT IBAN registry. A country not
/// listed is held to the ISO 13616 bounds and the check digits only.
const LENGTHS: [(&str, usize); 88] = [
    ("AD", 24),
    ("AE", 23),
    ("AL", 28),
    ("AT", 20),
    ("AZ", 28),
    ("BA", 20),
    ("BE", 16),
    ("BG", 22),
    ("BH", 22),
    ("BI", 27),
    ("BR", 29),
    ("BY", 28),
    ("CH", 21),
    ("CR", 22),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DJ", 27),
    ("DK", 18),
    ("DO", 28),
    ("EE", 20),
    ("EG", 29),
    ("ES", 24),
    ("FI", 18),
    ("FK", 18),
    ("FO", 18),
    ("FR", 27),
    ("GB", 22),
    ("GE", 22),
    ("GI", 23),
    ("GL", 18),
    ("GR", 27),
    ("GT", 28),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IL", 23),
    ("IQ", 23),
    ("IS", 26),
    ("IT", 27),
    ("JO", 30),
    ("KW", 30),
    ("KZ", 20),
    ("LB", 28),
    ("LC", 32),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("LY", 25),
    ("MC", 27),
    ("MD", 24),
    ("ME", 22),
    ("MK", 19),
    ("MN", 20),
    ("MR", 27),
    ("MT", 31),
    ("MU", 30),
    ("NI", 28),
    ("NL", 18),
    ("NO", 15),
    ("OM", 23),
    ("PK", 24),
    ("PL", 28),
    ("PS", 29),
    ("PT", 25),
    ("QA", 29),
    ("RO", 24),
    ("RS", 22),
    ("RU", 33),
    ("SA", 24),
    ("SC", 31),
    ("SD", 18),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("SO", 23),
    ("ST", 25),
    ("SV", 28),
    ("TL", 23),
    ("TN", 24),
    ("TR", 26),
    ("UA", 29),
    ("VA", 22),
    ("VG", 24),
    ("XK", 20),
    ("YE", 30),
];

/// ISO 13616 bounds on any IBAN's length.
const MIN_LEN: usize = 15;
const MAX_LEN: usize = 34;

/// Whether `text` is written as an IBAN: two letters then two digits,
/// spaces aside. A Thai domestic account starts with digits or `TH:`.
pub(super) fn looks_like_iban(text: &str) -> bool {
    let mut head = text.bytes().filter(|&b| b != b' ');
    let mut next_is = |pred: fn(&u8) -> bool| head.next().as_ref().is_some_and(pred);
    next_is(u8::is_ascii_alphabetic)
        && next_is(u8::is_ascii_alphabetic)
        && next_is(u8::is_ascii_digit)
        && next_is(u8::is_ascii_digit)
}

/// Normalises an IBAN (already trimmed, see [`looks_like_iban`]) into `out`.
pub(super) fn normalise(text: &str, out: &mut String) -> Result<(), NormaliseError> {
    for (at, ch) in text.char_indices() {
        match ch {
            ' ' => {}
            c if c.is_ascii_alphanumeric() => out.push(c.to_ascii_uppercase()),
            _ => {
                return Err(NormaliseError::InvalidCharacter {
                    kind: KIND,
                    input: excerpt(text),
                    ch,
                    at,
                })
            }
        }
    }
    let iban = out.as_str();
    let country = iban.get(..2).unwrap_or_default();
    let expected = LENGTHS
        .iter()
        .find(|(c, _)| *c == country)
        .map(|&(_, len)| len);
    match expected {
        Some(expected) if iban.len() != expected => {
            return Err(NormaliseError::IbanLength {
                kind: KIND,
                input: excerpt(text),
                country: country.to_owned(),
                len: iban.len(),
                expected,
            })
        }
        Some(_) => {}
        None if !(MIN_LEN..=MAX_LEN).contains(&iban.len()) => {
            return Err(NormaliseError::WrongLength {
                kind: KIND,
                input: excerpt(text),
                part: "iban",
                len: iban.len(),
                expected: "15 to 34 characters (iso 13616)",
            })
        }
        _ => {}
    }
    // Check digits are 02..=98 (ISO 13616): 00, 01 and 99 verify exactly
    // like 97, 98 and 02, so allowing them would give one account two
    // canonical forms.
    let check_digits_in_range = !matches!(iban.get(2..4), Some("00" | "01" | "99"));
    if !(check_digits_in_range && mod97(iban) == 1) {
        return Err(NormaliseError::IbanChecksum {
            kind: KIND,
            input: excerpt(text),
        });
    }
    Ok(())
}

/// ISO 7064 mod 97-10 over the IBAN rearranged (first four characters moved
/// to the end, letters as 10..=35), computed digit by digit without allocating.
fn mod97(iban: &str) -> u32 {
    let (head, tail) = iban.split_at(4);
    tail.bytes().chain(head.bytes()).fold(0, |rem, b| match b {
        b'0'..=b'9' => (rem * 10 + u32::from(b - b'0')) % 97,
        _ => (rem * 100 + u32::from(b.to_ascii_uppercase() - b'A') + 10) % 97,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_table_is_unique_per_country() {
        let mut countries: Vec<&str> = LENGTHS.iter().map(|(c, _)| *c).collect();
        countries.sort_unstable();
        let before = countries.len();
        countries.dedup();
        assert_eq!(before, countries.len());
    }

    #[test]
    fn mod97_of_a_valid_iban_is_one() {
        assert_eq!(mod97("GB82WEST12345698765432"), 1);
        assert_ne!(mod97("GB82WEST12345698765433"), 1);
    }

    #[test]
    fn looks_like_iban_needs_two_letters_then_two_digits() {
        assert!(looks_like_iban("GB82 WEST"));
        assert!(looks_like_iban("gb 82"));
        assert!(!looks_like_iban("TH:004:1234567890"));
        assert!(!looks_like_iban("004 1234567890"));
        assert!(!looks_like_iban("GB8"));
    }
}
