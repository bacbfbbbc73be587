//! [`NormaliseError`]: why raw text is not a valid identifier.

use crate::kind::Kind;

/// How much of an offending input an error keeps: enough to find the line,
/// bounded so that a hostile multi-megabyte "domain" cannot bloat a log.
const EXCERPT_CHARS: usize = 96;

/// Why raw text is not a valid identifier. Every variant names the kind asked
/// for and, where there is one, an excerpt of the offending input.
///
/// ```
/// use blocklist_lookup::{normalise::normalise, Kind, NormaliseError, Rules};
/// let err = normalise(Kind::Domain, "co.th", &Rules::default()).unwrap_err();
/// assert!(matches!(err, NormaliseError::PublicSuffix { .. }));
/// assert_eq!(
///     err.to_string(),
///     "domain \"co.th\" is the public suffix \"co.th\": listing it would block every name under it"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NormaliseError {
    /// Empty (or all-whitespace) input.
    #[error("empty {kind} identifier")]
    Empty {
        /// The kind asked for.
        kind: Kind,
    },
    /// Input longer than any identifier of its kind can be.
    #[error("{kind} input of {len} bytes is longer than the limit of {max} bytes")]
    InputTooLong {
        /// The kind asked for.
        kind: Kind,
        /// The input's length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A kind this build cannot normalise ([`Kind::Other`]).
    #[error("{kind} has no normaliser in this build: it can only be carried verbatim")]
    UnsupportedKind {
        /// The kind asked for.
        kind: Kind,
    },
    /// A default region this build has no national rules for.
    #[error(
        "{kind} input needs national rules for region {region:?}, but only {supported} are known"
    )]
    UnsupportedRegion {
        /// The kind asked for.
        kind: Kind,
        /// The region as given.
        region: String,
        /// The regions that are supported.
        supported: &'static str,
    },
    /// A character that has no place in this kind of identifier.
    #[error("{kind} {input:?}: character {ch:?} at byte {at} is not allowed")]
    InvalidCharacter {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
        /// The character.
        ch: char,
        /// Its byte offset in the trimmed input.
        at: usize,
    },
    /// A part of the identifier has the wrong length.
    #[error("{kind} {input:?}: {part} has length {len}, expected {expected}")]
    WrongLength {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
        /// Which part: "national number", "label", "iban", ...
        part: &'static str,
        /// The length found.
        len: usize,
        /// The lengths allowed, in words.
        expected: &'static str,
    },
    /// The input's structure is wrong in a way no other variant names.
    #[error("{kind} {input:?} is malformed: {problem}")]
    Malformed {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// Text that is valid but not in canonical form, where canonical form is required.
    #[error("{kind} {text:?} is not in canonical form (canonical: {canonical:?})")]
    NotCanonical {
        /// The kind asked for.
        kind: Kind,
        /// The text (truncated if huge).
        text: String,
        /// Its canonical form.
        canonical: String,
    },
    /// A service short code (such as 1191): not reachable from abroad, not E.164.
    #[error("{kind} {input:?} is a short code, not an e.164 number")]
    ShortCode {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
    },
    /// A national number without the region's trunk prefix.
    #[error("{kind} {input:?}: a national number in region {region} starts with {prefix:?}; otherwise write '+' and the country code")]
    MissingTrunkPrefix {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
        /// The region whose rules applied.
        region: &'static str,
        /// The region's trunk prefix.
        prefix: &'static str,
    },
    /// Digits after '+' or an international prefix that start no country calling code.
    #[error("{kind} {input:?}: no country calling code starts the digits {digits:?}")]
    UnknownCountryCode {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
        /// The digits after the prefix (at most three).
        digits: String,
    },
    /// A '+' or an international prefix followed by 0: no country calling code starts with 0.
    #[error("{kind} {input:?}: the country calling code after '+' or the international prefix starts with 0, and no country code does")]
    CountryCodeStartsWithZero {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
    },
    /// A number of the right length that is in no range of its numbering plan.
    #[error("{kind} {input:?} is in no number range of the {region} numbering plan")]
    UnallocatedNumber {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
        /// The region whose plan was checked.
        region: &'static str,
    },
    /// A "00..." number that reads as two different numbers.
    #[error("{kind} {input:?} is ambiguous: it reads as {itu} (00 and a country code) or as {dialled} (dialling prefix {prefix}); write it with '+'")]
    AmbiguousInternationalPrefix {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
        /// The reading with "00" as the ITU international prefix.
        itu: String,
        /// The reading with the region's dialling prefix.
        dialled: String,
        /// The dialling prefix of that reading.
        prefix: String,
    },
    /// A bank institution code that cannot name exactly one institution.
    #[error("{kind} {input:?}: institution code {code:?} {problem}")]
    InstitutionCode {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
        /// The code as given.
        code: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// An IBAN whose check digits do not verify.
    #[error("{kind} {input:?}: iban check digits do not verify (iso 7064 mod 97-10)")]
    IbanChecksum {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
    },
    /// An IBAN whose length is not its country's IBAN length.
    #[error("{kind} {input:?}: an iban of country {country} has {expected} characters, not {len}")]
    IbanLength {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
        /// The IBAN's country code.
        country: String,
        /// The length found.
        len: usize,
        /// The country's IBAN length.
        expected: usize,
    },
    /// A domain that is an IP address.
    #[error("{kind} {input:?} is an ip address, not a domain name")]
    IpAddress {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
    },
    /// A domain with one label: a TLD or an intranet name, never a listable site.
    #[error("{kind} {input:?} has a single label; a listable domain has at least two")]
    SingleLabel {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
    },
    /// A domain that is itself a public suffix (`co.th`, `github.io`).
    #[error("{kind} {input:?} is the public suffix {suffix:?}: listing it would block every name under it")]
    PublicSuffix {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
        /// The suffix, in canonical form.
        suffix: String,
    },
    /// An e-mail address given as a domain.
    #[error("{kind} {input:?} looks like an e-mail address: give the domain itself")]
    EmailAddress {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
    },
    /// A domain that IDNA (UTS #46) processing rejects.
    #[error("{kind} {input:?} is not a valid internationalised domain name (uts #46)")]
    Idna {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
    },
    /// A domain label that breaks the hostname (LDH) rules.
    #[error("{kind} {input:?}: label {label:?} {problem}")]
    InvalidLabel {
        /// The kind asked for.
        kind: Kind,
        /// The input (truncated if huge).
        input: String,
        /// The label (truncated if huge).
        label: String,
        /// What is wrong with it.
        problem: &'static str,
    },
}

/// The part of `text` an error keeps: at most [`EXCERPT_CHARS`] characters,
/// with an ellipsis when cut.
pub(crate) fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        None => text.to_owned(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

/// The byte offset of `part` in `whole` when `part` is a slice of it, else 0:
/// lets an error point into the input the caller gave, not into a sub-slice.
pub(crate) fn offset_in(whole: &str, part: &str) -> usize {
    (part.as_ptr() as usize)
        .checked_sub(whole.as_ptr() as usize)
        .filter(|&offset| offset <= whole.len())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_keeps_short_text_and_cuts_long_text_on_a_char_boundary() {
        assert_eq!(excerpt("abc"), "abc");
        let long = "ก".repeat(500);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
