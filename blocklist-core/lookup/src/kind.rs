//! The kinds of identifier a blocklist holds.

use std::fmt;

/// What an identifier names.
///
/// On the wire a kind is a 16-bit code, so new kinds (URL, SMS sender ID,
/// e-wallet ID, ...) can be added without a format break: a build that meets
/// a code it does not know keeps the entry as [`Kind::Other`], counts it in the
/// state digest, and never matches it in a lookup.
///
/// ```
/// use blocklist_lookup::Kind;
/// assert_eq!(Kind::from_code(2), Kind::Number);
/// assert_eq!("domain".parse::<Kind>().unwrap(), Kind::Domain);
/// assert_eq!(Kind::Other(99).code(), 99);
/// ```
// The discriminants are the wire codes, in the order the derived `Ord` has
// always used, so that `code` reads the tag instead of matching on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum Kind {
    /// A bank account: institution code and account number, or an IBAN.
    Account = 1,
    /// A phone number in E.164 form.
    Number = 2,
    /// A DNS domain name in lower-case ASCII (IDNA) form.
    Domain = 3,
    /// A kind this build does not know, kept verbatim by its wire code.
    Other(u16) = 4,
}

impl Kind {
    /// The kinds this build can normalise and look up.
    pub const KNOWN: [Kind; 3] = [Kind::Account, Kind::Number, Kind::Domain];

    /// The kind's wire code (see `docs/FORMAT.md`).
    pub const fn code(self) -> u16 {
        // A `match` compiles to a jump table in some callers, whose indirect
        // branch lookups of mixed kinds mispredict about half the time; the
        // tag is the code for every kind but `Other`, which is rare.
        // SAFETY: a `repr(u16)` enum starts with its `u16` discriminant (the
        // reference's "primitive representation of enums with fields").
        let tag = unsafe { *(&self as *const Kind).cast::<u16>() };
        match self {
            Kind::Other(code) => code,
            _ => tag,
        }
    }

    /// The kind for a wire code; unknown codes become [`Kind::Other`].
    pub const fn from_code(code: u16) -> Kind {
        match code {
            1 => Kind::Account,
            2 => Kind::Number,
            3 => Kind::Domain,
            other => Kind::Other(other),
        }
    }

    /// The kind's name as used in input files, the CLI and the HTTP API.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Account => "account",
            Kind::Number => "number",
            Kind::Domain => "domain",
            Kind::Other(_) => "other",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Other(code) => write!(f, "kind#{code}"),
            known => f.pad(known.name()),
        }
    }
}

/// A kind name that is not one of `account`, `number`, `domain`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown kind {name:?}: expected account, number or domain")]
pub struct UnknownKindName {
    /// The name as given.
    pub name: String,
}

impl std::str::FromStr for Kind {
    type Err = UnknownKindName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "account" | "bank_account" | "bank-account" => Ok(Kind::Account),
            "number" | "phone" | "phone_number" | "phone-number" => Ok(Kind::Number),
            "domain" | "host" => Ok(Kind::Domain),
            _ => Err(UnknownKindName { name: s.to_owned() }),
        }
    }
}
