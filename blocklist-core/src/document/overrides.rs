//! [`Override`]: a removal decided over the owning agency's head (document
//! type 8).
//!
//! Only the agency that made a listing may remove it (W5, W6), so a court
//! order, an upheld appeal the agency will not act on, or a listing by an
//! agency that no longer exists needs another way out. An override names
//! each listing it removes exactly (identifier, owning agency, listing
//! time), says why, and is signed by a threshold of the override keys the
//! trust root names ([`crate::document::TrustRoot::override_keys`]): people
//! who decide appeals, holding keys offline, not the centre's online
//! publish key. A delta carries it byte for byte ([`crate::document::Delta::overrides`]),
//! so every replica checks the signatures and shows the override in its
//! answers. Naming the listing time makes an override good for one
//! listing: once the identifier is listed again, the listing is a new one;
//! and a replica refuses an override it applied already, by its decision
//! ([`decision_sha256`]), whatever signatures a copy carries. See
//! `docs/FORMAT.md`, "Override (type 8)".

use serde::{Deserialize, Serialize};

use crate::digest::Sha256;
use crate::document::groups::time_reason;
use crate::document::{
    decode_canonical, encode_wire, envelope, DecodeError, DocType, Document, EncodeError,
    Extension, ListId, RemovalReason,
};
use crate::entry::{Agency, EntryMeta, Timestamp};
use crate::identifier::Identifier;
use crate::kind::Kind;

/// The most listings one override may remove (OV2): overrides are decisions
/// about named listings, made by people, not bulk edits.
pub const MAX_OVERRIDE_REMOVALS: usize = 10_000;

/// The longest note an override may carry, in bytes (OV3).
const MAX_NOTE_BYTES: usize = 1_000;

/// The SHA-256 of an override file's payload: what its signers decided,
/// whatever signatures the file carries. A replica keys the overrides it
/// applied on it (W7), so that a copy of an override with a signature
/// dropped or added is the same override carried again. Refuses a file that
/// is not a well-formed override (its signatures are not checked).
///
/// ```
/// use blocklist_core::document::*;
/// use blocklist_core::*;
/// let decision = Override { list: ListId::new("demo").unwrap(), made_at: Timestamp(5),
///     why: RemovalReason::APPEAL_UPHELD, note: "appeal 7".into(), extensions: vec![],
///     removals: vec![ListingRef { id: Identifier::from_canonical(Kind::Domain, "shop.example").unwrap(),
///         agency: Agency::new("th-aoc").unwrap(), listed_at: Timestamp(1) }] };
/// let (a, b) = (SecretKey::generate().unwrap(), SecretKey::generate().unwrap());
/// let one = decision.sign(&[&a]).unwrap();
/// let two = decision.sign(&[&a, &b]).unwrap();
/// assert_ne!(Sha256::of(&one), Sha256::of(&two));
/// assert_eq!(decision_sha256(&one).unwrap(), decision_sha256(&two).unwrap());
/// ```
pub fn decision_sha256(file: &[u8]) -> Result<Sha256, DecodeError> {
    let env = envelope::parse(file)?;
    if env.doc_type != DocType::Override {
        return Err(DocType::Override.invalid(
            "document type",
            format!("is {}, not an override", env.doc_type),
        ));
    }
    Override::decode_payload(env.payload)?;
    Ok(Sha256::of(env.payload))
}

/// A removal of listings decided by a threshold of override keys.
///
/// ```
/// use blocklist_core::document::*;
/// use blocklist_core::*;
/// let decision = Override {
///     list: ListId::new("th-national").unwrap(),
///     made_at: Timestamp(1_760_000_000),
///     why: RemovalReason::APPEAL_UPHELD,
///     note: "Appeal 2026/114 upheld by the review board".into(),
///     removals: vec![ListingRef {
///         id: Identifier::from_canonical(Kind::Number, "+66812345678").unwrap(),
///         agency: Agency::new("th-aoc").unwrap(),
///         listed_at: Timestamp(1_750_000_000),
///     }],
///     extensions: vec![],
/// };
/// let bytes = decision.encode_payload().unwrap();
/// assert_eq!(Override::decode_payload(&bytes).unwrap(), decision);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Override {
    /// The list it is for.
    pub list: ListId,
    /// When its signers made it; a delta carrying it is made after.
    pub made_at: Timestamp,
    /// Why the listings are removed.
    pub why: RemovalReason,
    /// The decision in words (a case or appeal reference): 1 to 1,000 bytes
    /// of text without control characters.
    pub note: String,
    /// The listings it removes, each once (an identifier listed by several
    /// agencies may have several). Decoding returns them sorted by kind
    /// code, value, then agency.
    pub removals: Vec<ListingRef>,
    /// Fields added by later format revisions (kept, signed, not interpreted).
    pub extensions: Vec<Extension>,
}

/// One listing, named exactly: the identifier, the agency whose listing it
/// is, and when it was listed.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListingRef {
    /// The identifier listed.
    pub id: Identifier,
    /// The agency whose listing it is.
    pub agency: Agency,
    /// When it was listed (the entry's `listed_at`).
    pub listed_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
struct WireOverride {
    list: String,
    made_at: u64,
    why: u16,
    note: String,
    removals: Vec<WireListing>,
    extensions: Vec<Extension>,
}

#[derive(Serialize, Deserialize)]
struct WireListing {
    kind: u16,
    value: String,
    agency: String,
    listed_at: u64,
}

/// The order of removals on the wire (OV2): by kind code, value, then agency.
fn wire_order(listing: &ListingRef) -> (u16, &str, &Agency) {
    (
        listing.id.kind().code(),
        listing.id.as_str(),
        &listing.agency,
    )
}

impl Override {
    /// Why the override's own fields break OV2-OV3, if they do.
    fn invalid(&self) -> Option<(&'static str, String)> {
        if self.note.is_empty() || self.note.len() > MAX_NOTE_BYTES {
            return Some((
                "note",
                format!(
                    "is {} bytes; 1 to {MAX_NOTE_BYTES} are allowed",
                    self.note.len()
                ),
            ));
        }
        if self.note.chars().any(char::is_control) {
            return Some(("note", "holds a control character".into()));
        }
        if self.removals.is_empty() || self.removals.len() > MAX_OVERRIDE_REMOVALS {
            return Some((
                "removals",
                format!(
                    "names {} listings; 1 to {MAX_OVERRIDE_REMOVALS} are allowed",
                    self.removals.len()
                ),
            ));
        }
        [self.made_at]
            .into_iter()
            .chain(self.removals.iter().map(|r| r.listed_at))
            .find(|&t| t > EntryMeta::LAST_TIME)
            .map(|t| ("time", time_reason("override", t)))
    }
}

impl Document for Override {
    const TYPE: DocType = DocType::Override;

    fn encode_payload(&self) -> Result<Vec<u8>, EncodeError> {
        let doc = Self::TYPE;
        if let Some((field, reason)) = self.invalid() {
            return Err(EncodeError::Invalid {
                doc: doc.name(),
                field,
                reason,
            });
        }
        let mut removals: Vec<&ListingRef> = self.removals.iter().collect();
        removals.sort_by(|a, b| wire_order(a).cmp(&wire_order(b)));
        if let Some(w) = removals
            .windows(2)
            .find(|w| wire_order(w[0]) == wire_order(w[1]))
        {
            return Err(EncodeError::Invalid {
                doc: doc.name(),
                field: "removals",
                reason: format!("{} appears more than once", w[0].id),
            });
        }
        let wire = WireOverride {
            list: self.list.as_str().to_owned(),
            made_at: self.made_at.0,
            why: self.why.0,
            note: self.note.clone(),
            removals: removals
                .into_iter()
                .map(|r| WireListing {
                    kind: r.id.kind().code(),
                    value: r.id.as_str().to_owned(),
                    agency: r.agency.as_str().to_owned(),
                    listed_at: r.listed_at.0,
                })
                .collect(),
            extensions: self.extensions.clone(),
        };
        encode_wire(doc, &wire)
    }

    fn decode_payload(payload: &[u8]) -> Result<Self, DecodeError> {
        let doc = Self::TYPE;
        let wire: WireOverride = decode_canonical(doc, payload)?;
        let removals = wire
            .removals
            .into_iter()
            .enumerate()
            .map(|(index, w)| {
                Ok(ListingRef {
                    id: Identifier::from_canonical(Kind::from_code(w.kind), &w.value).map_err(
                        |source| DecodeError::Identifier {
                            doc: doc.name(),
                            index: index as u64,
                            source: Box::new(source),
                        },
                    )?,
                    agency: Agency::new(&w.agency)
                        .map_err(|e| doc.invalid("agency", e.to_string()))?,
                    listed_at: Timestamp(w.listed_at),
                })
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        if removals
            .windows(2)
            .any(|w| wire_order(&w[0]) >= wire_order(&w[1]))
        {
            return Err(doc.invalid(
                "removals",
                "not strictly ascending by identifier, then agency",
            ));
        }
        let decision = Override {
            list: ListId::decode(doc, &wire.list)?,
            made_at: Timestamp(wire.made_at),
            why: RemovalReason(wire.why),
            note: wire.note,
            removals,
            extensions: Extension::check(doc, wire.extensions)?,
        };
        match decision.invalid() {
            Some((field, reason)) => Err(doc.invalid(field, reason)),
            None => Ok(decision),
        }
    }

    fn list(&self) -> &ListId {
        &self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn decision(values: &[String], note: &str) -> Override {
        Override {
            list: ListId::new("demo").unwrap(),
            made_at: Timestamp(1_760_000_000),
            why: RemovalReason::APPEAL_UPHELD,
            note: note.into(),
            removals: values
                .iter()
                .map(|v| ListingRef {
                    id: Identifier::from_canonical(Kind::Domain, v).unwrap(),
                    agency: Agency::new("th-aoc").unwrap(),
                    listed_at: Timestamp(1_750_000_000),
                })
                .collect(),
            extensions: vec![],
        }
    }

    #[test]
    fn an_override_without_a_note_or_a_listing_or_naming_one_twice_is_refused() {
        let one = vec!["scam.example".to_owned()];
        for (bad, field) in [
            (decision(&one, ""), "note"),
            (decision(&one, "line\nbreak"), "note"),
            (decision(&one, &"x".repeat(MAX_NOTE_BYTES + 1)), "note"),
            (decision(&[], "court order 7"), "removals"),
            (
                decision(&[one[0].clone(), one[0].clone()], "court order 7"),
                "removals",
            ),
        ] {
            match bad.encode_payload() {
                Err(EncodeError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    proptest! {
        /// Any valid override round-trips, its removals sorted.
        #[test]
        fn encode_decode_is_a_round_trip(
            values in prop::collection::btree_set("[a-z]{1,8}\\.example", 1..20),
            note in "[ -~]{1,60}",
        ) {
            let values: Vec<String> = values.into_iter().rev().collect();
            let doc = decision(&values, &note);
            let decoded = Override::decode_payload(&doc.encode_payload().unwrap()).unwrap();
            let mut sorted = doc.removals.clone();
            sorted.sort_by(|a, b| wire_order(a).cmp(&wire_order(b)));
            prop_assert_eq!(decoded.removals, sorted);
        }

        /// The decoder on valid payloads with one byte changed, and on
        /// arbitrary bytes: a refusal or a canonical document, never a panic.
        #[test]
        fn the_decoder_accepts_only_canonical_payloads(
            flip in any::<(prop::sample::Index, u8)>(),
            noise in prop::collection::vec(any::<u8>(), 0..128),
        ) {
            let mut bytes = decision(&["a.example".into(), "b.example".into()], "order 7")
                .encode_payload()
                .unwrap();
            let at = flip.0.index(bytes.len());
            bytes[at] ^= flip.1;
            for input in [&bytes, &noise] {
                if let Ok(doc) = Override::decode_payload(input) {
                    prop_assert_eq!(&doc.encode_payload().unwrap(), input);
                }
            }
        }
    }
}
