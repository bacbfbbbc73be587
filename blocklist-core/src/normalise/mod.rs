//! Normalisation: raw text of each kind to its one canonical form.
//!
//! STUB: replaced by the normalisation work (see the interface below).

use crate::kind::Kind;

/// Parsing rules that depend on where the input comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rules {
    /// ISO 3166 region for national phone numbers and domestic accounts.
    pub default_region: String,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            default_region: "TH".into(),
        }
    }
}

/// Why raw text is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NormaliseError {
    /// Empty input.
    #[error("empty {kind} identifier")]
    Empty {
        /// The kind asked for.
        kind: Kind,
    },
    /// Not canonical.
    #[error("{kind} {text:?} is not in canonical form")]
    NotCanonical {
        /// The kind asked for.
        kind: Kind,
        /// The text.
        text: String,
    },
}

/// Normalises `raw` as `kind`.
pub fn normalise(kind: Kind, raw: &str, rules: &Rules) -> Result<String, NormaliseError> {
    let mut out = String::new();
    normalise_into(kind, raw, rules, &mut out)?;
    Ok(out)
}

/// Normalises `raw` as `kind` into `out` (cleared first).
pub fn normalise_into(
    kind: Kind,
    raw: &str,
    _rules: &Rules,
    out: &mut String,
) -> Result<(), NormaliseError> {
    out.clear();
    let t = raw.trim();
    if t.is_empty() {
        return Err(NormaliseError::Empty { kind });
    }
    out.push_str(&t.to_ascii_lowercase());
    Ok(())
}

/// Checks that `text` is already canonical for `kind`.
pub fn check_canonical(kind: Kind, text: &str) -> Result<(), NormaliseError> {
    if normalise(kind, text, &Rules::default())? == text {
        Ok(())
    } else {
        Err(NormaliseError::NotCanonical {
            kind,
            text: text.into(),
        })
    }
}

/// A canonical domain and each parent down to its registrable domain.
pub fn domain_candidates(domain: &str) -> impl Iterator<Item = &str> {
    std::iter::once(domain)
}
