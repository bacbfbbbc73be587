//! [`Identifier`]: a normalised value of one kind, the unit every other stage keys on.

use std::fmt;

use crate::kind::Kind;
use crate::normalise::{self, NormaliseError, Rules};

/// A normalised identifier: the same real-world account, number or domain
/// always gives the same `Identifier`, whatever form it was written in.
///
/// It can only be made by the normaliser ([`Identifier::parse`]) or from text
/// that is already canonical ([`Identifier::from_canonical`], used by decoders),
/// so every `Identifier` in the system is normalised.
///
/// ```
/// use blocklist_lookup::{Identifier, Kind, Rules};
/// let rules = Rules::default(); // Thailand as the default region
/// let a = Identifier::parse(Kind::Number, "081-234-5678", &rules).unwrap();
/// let b = Identifier::parse(Kind::Number, "+66 81 234 5678", &rules).unwrap();
/// assert_eq!(a, b);
/// assert_eq!(a.as_str(), "+66812345678");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identifier {
    kind: Kind,
    value: Box<str>,
}

impl Identifier {
    /// Normalises raw text of a known kind.
    pub fn parse(kind: Kind, raw: &str, rules: &Rules) -> Result<Identifier, NormaliseError> {
        let value = normalise::normalise(kind, raw, rules)?;
        Ok(Identifier {
            kind,
            value: value.into_boxed_str(),
        })
    }

    /// Accepts text that must already be in canonical form, as found in a
    /// signed document or the store. For [`Kind::Other`] the text is kept
    /// verbatim (bounded in length, no control characters).
    pub fn from_canonical(kind: Kind, text: &str) -> Result<Identifier, NormaliseError> {
        normalise::check_canonical(kind, text)?;
        Ok(Identifier {
            kind,
            value: text.into(),
        })
    }

    /// What the identifier names.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The canonical text.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind, self.value)
    }
}

impl fmt::Debug for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identifier({self})")
    }
}
