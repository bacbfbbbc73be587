//! Normalisation: raw text of each kind to its one canonical form, so that
//! the same account, number or domain always gives the same key however it
//! was written.
//!
//! | kind | canonical form | example |
//! |---|---|---|
//! | number | E.164 | `+66812345678` |
//! | account | `TH:<institution>:<account>`, or a compact IBAN | `TH:004:1234567890`, `GB82WEST12345698765432` |
//! | domain | lower-case ASCII (IDNA), no trailing dot | `xn--fa-hia.de` |
//!
//! One private module per job: phone numbers (`number`, with the country
//! code table and the Thai numbering plan), accounts (`account`, `iban`),
//! domains (`domain`, with `host` reducing URLs and `suffix` holding the
//! public suffix list), and the error type.

mod account;
mod calling_codes;
mod domain;
mod error;
mod host;
mod iban;
mod number;
mod region;
mod shape;
mod suffix;
mod thai_plan;

pub use error::NormaliseError;
pub use shape::has_canonical_shape;
pub use suffix::{answering_parents, domain_candidates, SUFFIX_LIST_ID};
pub(crate) use suffix::{ends_in_short_rule, registrable_start};

use crate::kind::Kind;
use error::excerpt;

/// Parsing rules that depend on where the input comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// ISO 3166 alpha-2 region (any case) for national phone numbers and
    /// domestic accounts. Phone numbers are read for every region of
    /// libphonenumber's metadata, domestic accounts for `TH` only; input that
    /// needs rules this build lacks fails with
    /// [`NormaliseError::UnsupportedRegion`]. International numbers (`+…`),
    /// IBANs and domains never depend on it.
    pub default_region: String,
}

impl Default for Rules {
    /// Thailand.
    fn default() -> Self {
        Rules {
            default_region: "TH".into(),
        }
    }
}

/// The longest raw input read: room for a URL with a long query given as a
/// domain; no identifier of any kind is longer.
const MAX_INPUT_BYTES: usize = 4096;

/// The longest text carried verbatim for a [`Kind::Other`].
const MAX_OTHER_BYTES: usize = 1024;

/// Normalises `raw` as `kind`.
///
/// ```
/// use blocklist_lookup::{normalise::normalise, Kind, Rules};
/// let rules = Rules::default();
/// assert_eq!(normalise(Kind::Number, "081-234-5678", &rules).unwrap(), "+66812345678");
/// assert_eq!(normalise(Kind::Account, "004 123-4-56789-0", &rules).unwrap(), "TH:004:1234567890");
/// assert_eq!(normalise(Kind::Domain, "https://WWW.Scam.Example/login", &rules).unwrap(), "www.scam.example");
/// ```
pub fn normalise(kind: Kind, raw: &str, rules: &Rules) -> Result<String, NormaliseError> {
    let mut out = String::new();
    normalise_into(kind, raw, rules, &mut out)?;
    Ok(out)
}

/// Normalises `raw` as `kind` into `out`, which is cleared first and left
/// empty on error. The hot path: once `out` has capacity, ASCII input is
/// normalised without allocating.
///
/// ```
/// use blocklist_lookup::{normalise::normalise_into, Kind, Rules};
/// let mut out = String::with_capacity(64);
/// normalise_into(Kind::Number, "+66 81 234 5678", &Rules::default(), &mut out).unwrap();
/// assert_eq!(out, "+66812345678");
/// ```
pub fn normalise_into(
    kind: Kind,
    raw: &str,
    rules: &Rules,
    out: &mut String,
) -> Result<(), NormaliseError> {
    out.clear();
    if let Kind::Other(_) = kind {
        return Err(NormaliseError::UnsupportedKind { kind });
    }
    let text = raw.trim();
    if text.is_empty() {
        return Err(NormaliseError::Empty { kind });
    }
    if text.len() > MAX_INPUT_BYTES {
        return Err(NormaliseError::InputTooLong {
            kind,
            len: text.len(),
            max: MAX_INPUT_BYTES,
        });
    }
    let result = match kind {
        Kind::Account => account::normalise(text, rules, out),
        Kind::Number => number::normalise(text, rules, out),
        Kind::Domain => domain::normalise(text, out),
        Kind::Other(_) => Err(NormaliseError::UnsupportedKind { kind }),
    };
    if result.is_err() {
        out.clear();
    }
    result
}

/// Normalises a domestic account held as two fields, institution code and
/// account number: the same result as [`normalise`] on the joined text.
///
/// ```
/// use blocklist_lookup::{normalise::account_parts, Rules};
/// assert_eq!(account_parts("004", "123-4-56789-0", &Rules::default()).unwrap(), "TH:004:1234567890");
/// ```
pub fn account_parts(
    institution: &str,
    account: &str,
    rules: &Rules,
) -> Result<String, NormaliseError> {
    let mut out = String::new();
    account::from_parts(institution, account, rules, &mut out)?;
    Ok(out)
}

/// Checks that `text` is already canonical for `kind`, as text read from a
/// signed document or the store must be. [`Kind::Other`] text is carried
/// verbatim: 1 to 1024 bytes with no control characters.
///
/// A domain that is a suffix of this build's list only by its private
/// section (hosting platforms such as `github.io`, which join the list over
/// time) is accepted when it is otherwise canonical: the centre's list, when
/// the name was listed, may have been older, and a replica must still take
/// the centre's documents and re-read its own rows. ICANN suffixes (`co.th`)
/// are refused whatever the list's date.
///
/// ```
/// use blocklist_lookup::{normalise::check_canonical, Kind};
/// assert!(check_canonical(Kind::Number, "+66812345678").is_ok());
/// assert!(check_canonical(Kind::Number, "0812345678").is_err());
/// assert!(check_canonical(Kind::Other(99), "opaque value").is_ok());
/// assert!(check_canonical(Kind::Domain, "github.io").is_ok());
/// assert!(check_canonical(Kind::Domain, "co.th").is_err());
/// ```
pub fn check_canonical(kind: Kind, text: &str) -> Result<(), NormaliseError> {
    if let Kind::Other(_) = kind {
        return check_opaque(kind, text);
    }
    // Canonical forms name their region themselves (`+66…`, `TH:…`, an
    // IBAN's country) or have none (domains), so the default rules never
    // decide anything here.
    let canonical = match normalise(kind, text, &Rules::default()) {
        // The suffix test is the domain normaliser's last, made on the whole
        // name as normalised, which the error carries.
        Err(NormaliseError::PublicSuffix { suffix, .. })
            if suffix == text && suffix::is_private_suffix(text) =>
        {
            return Ok(())
        }
        Err(NormaliseError::PublicSuffix { suffix, .. }) if suffix != text => suffix,
        other => other?,
    };
    if canonical == text {
        Ok(())
    } else {
        Err(NormaliseError::NotCanonical {
            kind,
            text: excerpt(text),
            canonical,
        })
    }
}

/// Checks text of a kind this build does not know, kept verbatim.
fn check_opaque(kind: Kind, text: &str) -> Result<(), NormaliseError> {
    if text.is_empty() {
        return Err(NormaliseError::Empty { kind });
    }
    if text.len() > MAX_OTHER_BYTES {
        return Err(NormaliseError::InputTooLong {
            kind,
            len: text.len(),
            max: MAX_OTHER_BYTES,
        });
    }
    match text.char_indices().find(|(_, ch)| ch.is_control()) {
        Some((at, ch)) => Err(NormaliseError::InvalidCharacter {
            kind,
            input: excerpt(text),
            ch,
            at,
        }),
        None => Ok(()),
    }
}
