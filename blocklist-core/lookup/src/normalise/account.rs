//! Bank accounts: Thai domestic accounts to `TH:<institution>:<account>`,
//! IBANs to their compact upper-case form.
//!
//! Thailand has no IBAN: an account is named by the 3-digit code of its
//! institution and an account number of a length fixed per institution.

use super::error::{excerpt, offset_in, NormaliseError};
use super::iban;
use super::region::Region;
use super::Rules;
use crate::kind::Kind;

const KIND: Kind = Kind::Account;

/// Banks whose account numbers have 10 digits (commercial banks; from the
/// Thai interbank code table).
const TEN_DIGIT_BANKS: [&str; 14] = [
    "002", "004", "006", "011", "014", "022", "024", "025", "065", "066", "069", "070", "071",
    "073",
];

/// The account number length an institution uses, and its description for errors.
fn account_length(institution: &str) -> (std::ops::RangeInclusive<usize>, &'static str) {
    match institution {
        // Government Savings Bank, Government Housing Bank, BAAC.
        "030" | "033" | "034" => (12..=12, "12 digits (GSB, GHB, BAAC)"),
        "067" => (14..=14, "14 digits (TISCO)"),
        code if TEN_DIGIT_BANKS.contains(&code) => (10..=10, "10 digits"),
        _ => (10..=14, "10 to 14 digits"),
    }
}

/// The code the dated Thai table gives six non-bank payment agents at once
/// (7-Eleven, True Money, ...): it names no single institution.
const SHARED_AGENT_CODE: &str = "999";

/// Characters that separate the institution code from the account number.
fn is_field_separator(ch: char) -> bool {
    ch.is_whitespace() || ch == '/' || ch == ':'
}

/// Normalises an account (already trimmed, non-empty) into `out`.
pub(super) fn normalise(text: &str, rules: &Rules, out: &mut String) -> Result<(), NormaliseError> {
    if iban::looks_like_iban(text) {
        return iban::normalise(text, out);
    }
    // An explicit region, as in the canonical form `TH:004:1234567890`.
    let (region, rest) = match text.as_bytes() {
        [a, b, b':', ..] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => {
            (Region::lookup(KIND, &text[..2])?, &text[3..])
        }
        _ => (Region::of(KIND, rules)?, text),
    };
    let (institution, account) = match rest.find(is_field_separator) {
        Some(split) => (
            &rest[..split],
            rest[split..].trim_start_matches(is_field_separator),
        ),
        None => joined(rest, text)?,
    };
    domestic(region, institution, account, text, out)
}

/// Splits an account written with its institution code in front and no
/// space, `/` or `:` after it: joined (`0041234567890`) or grouped by `-`
/// (`004-123-456789-0`). The code is the first 3 digits, so what follows
/// must be a whole account number for that institution: with fewer digits
/// the text may be an account number written without its code
/// (`004-1-23456-7` is a 10-digit account as banks print them), and it is
/// refused rather than read as another account.
fn joined<'a>(rest: &'a str, text: &str) -> Result<(&'a str, &'a str), NormaliseError> {
    let malformed = |problem| NormaliseError::Malformed {
        kind: KIND,
        input: excerpt(text),
        problem,
    };
    if !rest.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return Err(malformed(
            "no space, '/' or ':' between the institution code and the account number",
        ));
    }
    let (institution, account) = match rest.split_once('-') {
        Some((code, account)) if code.len() == 3 => (code, account),
        Some(_) => {
            return Err(malformed(
                "the institution code must come first, as 3 digits before the first '-'",
            ))
        }
        None if rest.len() > 3 => rest.split_at(3),
        None => {
            return Err(malformed(
                "too few digits for an institution code and an account number",
            ))
        }
    };
    let digits = account.bytes().filter(u8::is_ascii_digit).count();
    if digits < *account_length(institution).0.start() {
        return Err(malformed(
            "too few digits after the institution code: an account number written without its code? Write the 3-digit code first, then a space (004 123-4-56789-0)",
        ));
    }
    Ok((institution, account))
}

/// Normalises an account held as two fields: institution code and account number.
pub(super) fn from_parts(
    institution: &str,
    account: &str,
    rules: &Rules,
    out: &mut String,
) -> Result<(), NormaliseError> {
    domestic(
        Region::of(KIND, rules)?,
        institution.trim(),
        account.trim(),
        account,
        out,
    )
}

/// Checks and writes `<region>:<institution>:<digits>`. `text` is what the
/// caller gave, for error messages; `account` may be a slice of it.
fn domestic(
    region: &Region,
    institution: &str,
    account: &str,
    text: &str,
    out: &mut String,
) -> Result<(), NormaliseError> {
    let institution_error = |problem| NormaliseError::InstitutionCode {
        kind: KIND,
        input: excerpt(text),
        code: excerpt(institution),
        problem,
    };
    // A short code is never padded: the dated table holds "32" for 032, but
    // "32" could as well be a typo for 320 or 132, and a wrong bank is worse
    // than a rejected line.
    if !(institution.len() == 3 && institution.bytes().all(|b| b.is_ascii_digit())) {
        return Err(institution_error(
            "must be exactly 3 digits (a shorter code is not padded: it could name another bank)",
        ));
    }
    if institution == SHARED_AGENT_CODE {
        return Err(institution_error(
            "is shared by several non-bank payment agents and names no single institution",
        ));
    }
    out.push_str(region.code);
    out.push(':');
    out.push_str(institution);
    out.push(':');
    let digits_start = out.len();
    for (at, ch) in account.char_indices() {
        match ch {
            '0'..='9' => out.push(ch),
            // Printed groupings: 123-4-56789-0, 123 4 56789 0.
            '-' | ' ' => {}
            _ => {
                return Err(NormaliseError::InvalidCharacter {
                    kind: KIND,
                    input: excerpt(text),
                    ch,
                    at: offset_in(text, account) + at,
                })
            }
        }
    }
    let len = out.len() - digits_start;
    let (allowed, expected) = account_length(institution);
    if !allowed.contains(&len) {
        return Err(NormaliseError::WrongLength {
            kind: KIND,
            input: excerpt(text),
            part: "account number",
            len,
            expected,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_lengths_follow_the_institution() {
        assert_eq!(account_length("004").0, 10..=10);
        assert_eq!(account_length("030").0, 12..=12);
        assert_eq!(account_length("067").0, 14..=14);
        assert_eq!(account_length("017").0, 10..=14);
    }
}
