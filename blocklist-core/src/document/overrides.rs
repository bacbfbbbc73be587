//! [`Override`]: a removal or an update decided over the owning agency's
//! head (document type 8).
//!
//! Only the agency that made a listing may change or remove it (W5, W6), so
//! a court order, an upheld appeal the agency will not act on, or a listing
//! by an agency that no longer exists needs another way out. An override
//! names each listing it removes or updates exactly (identifier, owning
//! agency, listing time), gives an updated listing its new reason and
//! expiry (a court shortens a term, an appeal corrects a reason), says
//! why, and is signed by a threshold of the override keys the
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
use crate::entry::{Agency, EntryMeta, Reason, Timestamp};
use crate::identifier::Identifier;
use crate::kind::Kind;

/// The most listings one override may remove and update together (OV2):
/// overrides are decisions about named listings, made by people, not bulk
/// edits.
pub const MAX_OVERRIDE_LISTINGS: usize = 10_000;

/// The override extension tag of its updates (OV4): a field added after
/// overrides were first published, so readers that predate it keep the rest.
pub const UPDATES_EXTENSION: u16 = 1;

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
///     why: RemovalReason::APPEAL_UPHELD, note: "appeal 7".into(), extensions: vec![], updates: vec![],
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

/// A removal or update of listings decided by a threshold of override keys.
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
///     updates: vec![ListingUpdate {
///         listing: ListingRef {
///             id: Identifier::from_canonical(Kind::Number, "+66812345679").unwrap(),
///             agency: Agency::new("th-aoc").unwrap(),
///             listed_at: Timestamp(1_750_000_000),
///         },
///         from_reason: Reason::SCAM_CALL,
///         from_expires_at: None,
///         reason: Reason::SCAM_CALL,
///         expires_at: Some(Timestamp(1_770_000_000)),
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
    /// Why the listings are removed or updated.
    pub why: RemovalReason,
    /// The decision in words (a case or appeal reference): 1 to 1,000 bytes
    /// of text without control characters.
    pub note: String,
    /// The listings it removes, each once (an identifier listed by several
    /// agencies may have several). Decoding returns them sorted by kind
    /// code, value, then agency.
    pub removals: Vec<ListingRef>,
    /// The listings it updates, each once and none it removes, with their
    /// new reason and expiry (extension tag [`UPDATES_EXTENSION`]).
    /// Decoding returns them in the order of removals.
    pub updates: Vec<ListingUpdate>,
    /// Fields added by later format revisions (kept, signed, not interpreted).
    pub extensions: Vec<Extension>,
}

/// One listing an override updates: the listing, named exactly, the
/// reason and expiry it had when the board decided, and those it has from
/// then on. Its agency and listing time are kept: the listing stays its
/// agency's. Naming the entry it replaces makes the update good for that
/// entry only: once the agency changes its listing, or the update is
/// applied, a copy carried again no longer finds it, and is refused (W7).
///
/// ```
/// use blocklist_core::document::*;
/// use blocklist_core::*;
/// let update = ListingUpdate {
///     listing: ListingRef { id: Identifier::from_canonical(Kind::Domain, "shop.example").unwrap(),
///         agency: Agency::new("th-aoc").unwrap(), listed_at: Timestamp(100) },
///     from_reason: Reason::SCAM_CALL, from_expires_at: None,
///     reason: Reason::SCAM_CALL, expires_at: Some(Timestamp(5_000)),
/// };
/// assert_eq!(update.meta().expires_at, Some(Timestamp(5_000)));
/// assert_eq!(update.from_meta().expires_at, None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListingUpdate {
    /// The listing updated.
    pub listing: ListingRef,
    /// The reason it had when the board decided.
    pub from_reason: Reason,
    /// The expiry it had when the board decided (`None`: none).
    pub from_expires_at: Option<Timestamp>,
    /// Its new reason.
    pub reason: Reason,
    /// Its new expiry (`None`: it never expires); after the override was
    /// made and after the listing was (OV4).
    pub expires_at: Option<Timestamp>,
}

impl ListingUpdate {
    /// The entry the update gives its listing.
    pub fn meta(&self) -> EntryMeta {
        self.entry(self.reason, self.expires_at)
    }

    /// The entry the update replaces: the one a reader must hold for the
    /// update to apply (W7).
    pub fn from_meta(&self) -> EntryMeta {
        self.entry(self.from_reason, self.from_expires_at)
    }

    fn entry(&self, reason: Reason, expires_at: Option<Timestamp>) -> EntryMeta {
        EntryMeta {
            reason,
            agency: self.listing.agency.clone(),
            listed_at: self.listing.listed_at,
            expires_at,
        }
    }
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

#[derive(Serialize, Deserialize)]
struct WireUpdate {
    listing: WireListing,
    from_reason: u16,
    from_expires_at: Option<u64>,
    reason: u16,
    expires_at: Option<u64>,
}

impl WireListing {
    fn of(r: &ListingRef) -> WireListing {
        WireListing {
            kind: r.id.kind().code(),
            value: r.id.as_str().to_owned(),
            agency: r.agency.as_str().to_owned(),
            listed_at: r.listed_at.0,
        }
    }

    /// The listing, its value checked for its kind; `index` is its
    /// position, for the refusal.
    fn decode(self, doc: DocType, index: usize) -> Result<ListingRef, DecodeError> {
        Ok(ListingRef {
            id: Identifier::from_canonical(Kind::from_code(self.kind), &self.value).map_err(
                |source| DecodeError::Identifier {
                    doc: doc.name(),
                    index: index as u64,
                    source: Box::new(source),
                },
            )?,
            agency: Agency::new(&self.agency).map_err(|e| doc.invalid("agency", e.to_string()))?,
            listed_at: Timestamp(self.listed_at),
        })
    }
}

/// The order of removals on the wire (OV2): by kind code, value, then agency.
fn wire_order(listing: &ListingRef) -> (u16, &str, &Agency) {
    (
        listing.id.kind().code(),
        listing.id.as_str(),
        &listing.agency,
    )
}

/// `items` sorted by the listing each names (`listing`), as the wire
/// orders them (OV2, OV4), refusing a listing named twice.
fn sorted<'a, T>(
    doc: DocType,
    field: &'static str,
    mut items: Vec<&'a T>,
    listing: impl Fn(&'a T) -> &'a ListingRef,
) -> Result<Vec<&'a T>, EncodeError> {
    items.sort_by(|a, b| wire_order(listing(a)).cmp(&wire_order(listing(b))));
    if let Some(w) = items
        .windows(2)
        .find(|w| wire_order(listing(w[0])) == wire_order(listing(w[1])))
    {
        return Err(EncodeError::Invalid {
            doc: doc.name(),
            field,
            reason: format!("{} appears more than once", listing(w[0]).id),
        });
    }
    Ok(items)
}

impl Override {
    /// The override a signed override file holds, its form checked (OV2-OV4)
    /// and its signatures not ([`crate::verify::Verifier::override_doc`]
    /// checks them).
    ///
    /// ```
    /// use blocklist_core::document::*;
    /// use blocklist_core::*;
    /// let decision = Override { list: ListId::new("demo").unwrap(), made_at: Timestamp(5),
    ///     why: RemovalReason::APPEAL_UPHELD, note: "appeal 7".into(), extensions: vec![], updates: vec![],
    ///     removals: vec![ListingRef { id: Identifier::from_canonical(Kind::Domain, "shop.example").unwrap(),
    ///         agency: Agency::new("th-aoc").unwrap(), listed_at: Timestamp(1) }] };
    /// let file = decision.sign(&[&SecretKey::generate().unwrap()]).unwrap();
    /// assert_eq!(Override::from_file(&file).unwrap(), decision);
    /// assert!(Override::from_file(b"not an override").is_err());
    /// ```
    pub fn from_file(file: &[u8]) -> Result<Override, DecodeError> {
        let env = envelope::parse(file)?;
        if env.doc_type != DocType::Override {
            return Err(DocType::Override.invalid(
                "document type",
                format!("is {}, not an override", env.doc_type),
            ));
        }
        Override::decode_payload(env.payload)
    }

    /// Every listing it names: those it removes, then those it updates.
    ///
    /// ```
    /// use blocklist_core::document::*;
    /// use blocklist_core::*;
    /// let listing = |v: &str| ListingRef { id: Identifier::from_canonical(Kind::Domain, v).unwrap(),
    ///     agency: Agency::new("th-aoc").unwrap(), listed_at: Timestamp(1) };
    /// let decision = Override { list: ListId::new("demo").unwrap(), made_at: Timestamp(5),
    ///     why: RemovalReason::APPEAL_UPHELD, note: "order 3".into(), extensions: vec![],
    ///     removals: vec![listing("a.example")],
    ///     updates: vec![ListingUpdate { listing: listing("b.example"), from_reason: Reason::FRAUD,
    ///         from_expires_at: None, reason: Reason::FRAUD, expires_at: Some(Timestamp(9)) }] };
    /// let named: Vec<&str> = decision.listings().map(|l| l.id.as_str()).collect();
    /// assert_eq!(named, ["a.example", "b.example"]);
    /// ```
    pub fn listings(&self) -> impl Iterator<Item = &ListingRef> {
        self.changes().map(|(listing, _)| listing)
    }

    /// Every listing it names with what it decides of it: `None`, it
    /// removes it; `Some(update)`, it updates it so. Removals come first.
    ///
    /// ```
    /// use blocklist_core::document::*;
    /// use blocklist_core::*;
    /// let listing = ListingRef { id: Identifier::from_canonical(Kind::Domain, "a.example").unwrap(),
    ///     agency: Agency::new("th-aoc").unwrap(), listed_at: Timestamp(1) };
    /// let decision = Override { list: ListId::new("demo").unwrap(), made_at: Timestamp(5),
    ///     why: RemovalReason::APPEAL_UPHELD, note: "order 3".into(), extensions: vec![],
    ///     removals: vec![listing.clone()], updates: vec![] };
    /// assert_eq!(decision.changes().collect::<Vec<_>>(), [(&listing, None)]);
    /// ```
    pub fn changes(&self) -> impl Iterator<Item = (&ListingRef, Option<&ListingUpdate>)> {
        let removals = self.removals.iter().map(|r| (r, None));
        removals.chain(self.updates.iter().map(|u| (&u.listing, Some(u))))
    }

    /// Why the override's own fields break OV2-OV4, if they do.
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
        let named = self.removals.len() + self.updates.len();
        if named == 0 || named > MAX_OVERRIDE_LISTINGS {
            return Some((
                "removals",
                format!(
                    "names {named} listings to remove or update; 1 to {MAX_OVERRIDE_LISTINGS} are allowed"
                ),
            ));
        }
        let removed: std::collections::HashSet<_> = self.removals.iter().map(wire_order).collect();
        if let Some(both) = self
            .updates
            .iter()
            .find(|u| removed.contains(&wire_order(&u.listing)))
        {
            return Some((
                "updates",
                format!(
                    "{} of {} is both removed and updated",
                    both.listing.id, both.listing.agency
                ),
            ));
        }
        // An expiry at or before the decision would be a removal recorded
        // as an update (OV4): a board that means it removes the listing.
        if let Some(past) = self.updates.iter().find(|u| {
            u.expires_at
                .is_some_and(|t| t <= self.made_at || t <= u.listing.listed_at)
        }) {
            return Some((
                "updates",
                format!(
                    "{} of {} would expire at {}, not after the override was made ({}) and the listing was ({})",
                    past.listing.id,
                    past.listing.agency,
                    past.expires_at.map_or(0, |t| t.0),
                    self.made_at,
                    past.listing.listed_at
                ),
            ));
        }
        [self.made_at]
            .into_iter()
            .chain(self.listings().map(|l| l.listed_at))
            .chain(self.updates.iter().filter_map(|u| u.expires_at))
            .chain(self.updates.iter().filter_map(|u| u.from_expires_at))
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
        let removals = sorted(doc, "removals", self.removals.iter().collect(), |r| r)?;
        let updates = sorted(doc, "updates", self.updates.iter().collect(), |u| {
            &u.listing
        })?;
        let updates: Vec<WireUpdate> = updates
            .into_iter()
            .map(|u| WireUpdate {
                listing: WireListing::of(&u.listing),
                from_reason: u.from_reason.0,
                from_expires_at: u.from_expires_at.map(|t| t.0),
                reason: u.reason.0,
                expires_at: u.expires_at.map(|t| t.0),
            })
            .collect();
        let wire = WireOverride {
            list: self.list.as_str().to_owned(),
            made_at: self.made_at.0,
            why: self.why.0,
            note: self.note.clone(),
            removals: removals.into_iter().map(WireListing::of).collect(),
            extensions: Extension::place(
                doc,
                &self.extensions,
                UPDATES_EXTENSION,
                "updates",
                &updates,
            )?,
        };
        encode_wire(doc, &wire)
    }

    fn decode_payload(payload: &[u8]) -> Result<Self, DecodeError> {
        let doc = Self::TYPE;
        let wire: WireOverride = decode_canonical(doc, payload)?;
        let mut extensions = Extension::check(doc, wire.extensions)?;
        let updates: Vec<WireUpdate> =
            Extension::take(doc, &mut extensions, UPDATES_EXTENSION, "updates")?;
        let removals = wire
            .removals
            .into_iter()
            .enumerate()
            .map(|(index, w)| w.decode(doc, index))
            .collect::<Result<Vec<_>, DecodeError>>()?;
        let updates = updates
            .into_iter()
            .enumerate()
            .map(|(index, w)| {
                Ok(ListingUpdate {
                    listing: w.listing.decode(doc, index)?,
                    from_reason: Reason(w.from_reason),
                    from_expires_at: w.from_expires_at.map(Timestamp),
                    reason: Reason(w.reason),
                    expires_at: w.expires_at.map(Timestamp),
                })
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        for (field, listings) in [
            ("removals", removals.iter().collect::<Vec<_>>()),
            ("updates", updates.iter().map(|u| &u.listing).collect()),
        ] {
            if listings
                .windows(2)
                .any(|w| wire_order(w[0]) >= wire_order(w[1]))
            {
                return Err(doc.invalid(field, "not strictly ascending by identifier, then agency"));
            }
        }
        let decision = Override {
            list: ListId::decode(doc, &wire.list)?,
            made_at: Timestamp(wire.made_at),
            why: RemovalReason(wire.why),
            note: wire.note,
            removals,
            updates,
            extensions,
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
            updates: vec![],
            extensions: vec![],
        }
    }

    fn update(value: &str, reason: u16, expires_at: Option<u64>) -> ListingUpdate {
        ListingUpdate {
            listing: ListingRef {
                id: Identifier::from_canonical(Kind::Domain, value).unwrap(),
                agency: Agency::new("th-aoc").unwrap(),
                listed_at: Timestamp(1_750_000_000),
            },
            from_reason: Reason(reason),
            from_expires_at: None,
            reason: Reason(reason),
            expires_at: expires_at.map(Timestamp),
        }
    }

    #[test]
    fn an_override_of_updates_alone_round_trips_and_its_updates_are_an_extension() {
        let mut doc = decision(&[], "court order 8");
        doc.updates = vec![
            update("b.example", 2, None),
            update("a.example", 1, Some(1_760_000_100)),
        ];
        let bytes = doc.encode_payload().unwrap();
        let decoded = Override::decode_payload(&bytes).unwrap();
        assert_eq!(
            decoded.updates,
            vec![doc.updates[1].clone(), doc.updates[0].clone()]
        );
        assert!(decoded.removals.is_empty() && decoded.extensions.is_empty());
        // A reader that predates updates sees an opaque extension of tag 1.
        let wire: WireOverride = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(wire.extensions.len(), 1);
        assert_eq!(wire.extensions[0].tag, UPDATES_EXTENSION);
    }

    #[test]
    fn an_override_updating_a_listing_it_removes_or_twice_is_refused() {
        let mut both = decision(&["a.example".to_owned()], "court order 8");
        both.updates = vec![update("a.example", 1, None)];
        let mut twice = decision(&[], "court order 8");
        twice.updates = vec![update("a.example", 1, None), update("a.example", 2, None)];
        let mut late = decision(&[], "court order 8");
        late.updates = vec![update("a.example", 1, Some(EntryMeta::LAST_TIME.0 + 1))];
        // An expiry not after the decision is a removal, not an update (OV4).
        let mut expired = decision(&[], "court order 8");
        expired.updates = vec![update("a.example", 1, Some(1_760_000_000))];
        for (bad, field) in [
            (both, "updates"),
            (twice, "updates"),
            (late, "time"),
            (expired, "updates"),
        ] {
            match bad.encode_payload() {
                Err(EncodeError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
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
