//! [`Submission`]: an agency's signed report to the centre (document type 6).
//!
//! An agency lists, updates and removes identifiers by signing a submission
//! with one of its own keys; the centre verifies it against its agency
//! registry ([`crate::verify::verify_submission`]) and takes the agency from
//! the signature, never from a label an operator typed. Operations travel in
//! groups as in deltas, without the agency table (one agency signs the whole
//! submission) and without `listed_at` (the centre's acceptance time is the
//! listing time, not the agency's claim). See `docs/FORMAT.md`, "Submission
//! (type 6)".

use std::collections::BTreeMap;
use std::fmt;
use std::num::NonZeroU64;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::document::groups::{self, Agencies, Ungrouper};
use crate::document::{
    decode_canonical, encode_wire, DecodeError, DocType, Document, EncodeError, Extension, ListId,
};
use crate::entry::{Agency, EntryMeta, NamedCodes, Reason, Timestamp};
use crate::identifier::Identifier;
use crate::kind::Kind;

/// The most operations one submission may carry (U4). A day's reports of a
/// national scam centre are in the tens of thousands; a larger batch is
/// split. It bounds what the centre holds for one submission, and the
/// decoder refuses a longer sequence before it allocates anything from the
/// count the sequence declares.
pub const MAX_SUBMISSION_OPERATIONS: u64 = 1_000_000;

/// An agency's signed request to change the list: adds, updates and removals,
/// each with its reason, under one sequence number.
///
/// ```
/// use std::num::NonZeroU64;
/// use blocklist_core::document::*;
/// use blocklist_core::*;
/// let submission = Submission {
///     list: ListId::new("th-national").unwrap(),
///     agency: Agency::new("th-aoc").unwrap(),
///     sequence: NonZeroU64::new(1_760_000_000_000_000).unwrap(),
///     created_at: Timestamp(1_760_000_000),
///     urgent: false,
///     ops: vec![SubmissionOp::Add(ListingRequest {
///         id: Identifier::from_canonical(Kind::Number, "+66812345678").unwrap(),
///         reason: Reason::SCAM_CALL,
///         expires_at: None,
///     })],
///     extensions: vec![],
/// };
/// let bytes = submission.encode_payload().unwrap();
/// assert_eq!(Submission::decode_payload(&bytes).unwrap(), submission);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submission {
    /// The list it is for.
    pub list: ListId,
    /// The agency that submits it; the signing key must be one of its keys.
    pub agency: Agency,
    /// Strictly increasing per signing key, so the centre can refuse a
    /// submission offered twice (`blocklist submit` takes the clock in
    /// microseconds).
    pub sequence: NonZeroU64,
    /// When the agency made it (informative: listings are dated by the centre).
    pub created_at: Timestamp,
    /// Whether the agency asks for it to be published at once.
    pub urgent: bool,
    /// The operations; each identifier at most once. Decoding returns adds,
    /// then updates, then removals, each in wire order.
    pub ops: Vec<SubmissionOp>,
    /// Fields added by later format revisions (kept, signed, not interpreted).
    pub extensions: Vec<Extension>,
}

/// One operation an agency asks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SubmissionOp {
    /// List an identifier that is not listed.
    Add(ListingRequest),
    /// Change the reason or expiry of one of the agency's own listings.
    Update(ListingRequest),
    /// Unlist one of the agency's own listings.
    Remove(RemovalRequest),
}

impl SubmissionOp {
    /// The identifier the operation is about.
    pub fn id(&self) -> &Identifier {
        match self {
            SubmissionOp::Add(l) | SubmissionOp::Update(l) => &l.id,
            SubmissionOp::Remove(r) => &r.id,
        }
    }

    /// `add`, `update` or `remove`, for messages.
    pub fn verb(&self) -> &'static str {
        match self {
            SubmissionOp::Add(_) => "add",
            SubmissionOp::Update(_) => "update",
            SubmissionOp::Remove(_) => "remove",
        }
    }
}

/// An identifier to list, and how.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListingRequest {
    /// What to list.
    pub id: Identifier,
    /// Why.
    pub reason: Reason,
    /// When it stops matching (`None`: never).
    pub expires_at: Option<Timestamp>,
}

/// An identifier to unlist, and why.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RemovalRequest {
    /// What to unlist.
    pub id: Identifier,
    /// Why it is unlisted.
    pub why: RemovalReason,
}

/// Why an agency unlists an identifier: a numeric code like [`Reason`]; other
/// codes pass through unchanged.
///
/// ```
/// use blocklist_core::document::RemovalReason;
/// assert_eq!(RemovalReason::from_name("appeal_upheld"), Some(RemovalReason::APPEAL_UPHELD));
/// assert_eq!(RemovalReason(9).to_string(), "why#9");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RemovalReason(pub u16);

impl RemovalReason {
    /// No reason given.
    pub const UNSPECIFIED: RemovalReason = RemovalReason(0);
    /// The investigation cleared the identifier.
    pub const CLEARED: RemovalReason = RemovalReason(1);
    /// Its holder appealed and the appeal was upheld.
    pub const APPEAL_UPHELD: RemovalReason = RemovalReason(2);
    /// It was listed by mistake.
    pub const ERROR: RemovalReason = RemovalReason(3);
    /// It duplicates another listing.
    pub const DUPLICATE: RemovalReason = RemovalReason(4);

    const NAMED: NamedCodes = NamedCodes(&[
        (RemovalReason::UNSPECIFIED.0, "unspecified"),
        (RemovalReason::CLEARED.0, "cleared"),
        (RemovalReason::APPEAL_UPHELD.0, "appeal_upheld"),
        (RemovalReason::ERROR.0, "error"),
        (RemovalReason::DUPLICATE.0, "duplicate"),
    ]);

    /// The code's name, when it is one of the named codes.
    pub fn name(self) -> Option<&'static str> {
        Self::NAMED.name(self.0)
    }

    /// The code for a name (case-insensitive), or for a decimal number.
    pub fn from_name(name: &str) -> Option<RemovalReason> {
        Self::NAMED.read(name).map(RemovalReason)
    }
}

impl fmt::Display for RemovalReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "why#{}", self.0),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct WireSubmission {
    list: String,
    agency: String,
    sequence: u64,
    created_at: u64,
    urgent: bool,
    #[serde(deserialize_with = "capped")]
    adds: Vec<SubmissionGroup>,
    #[serde(deserialize_with = "capped")]
    updates: Vec<SubmissionGroup>,
    #[serde(deserialize_with = "capped")]
    removes: Vec<RemovalGroup>,
    extensions: Vec<Extension>,
}

/// Listings of one kind sharing a reason and an expiry.
#[derive(Serialize, Deserialize)]
struct SubmissionGroup {
    kind: u16,
    reason: u16,
    expires_at: Option<u64>,
    #[serde(deserialize_with = "capped")]
    values: Vec<String>,
}

/// Removals of one kind sharing a reason.
#[derive(Serialize, Deserialize)]
struct RemovalGroup {
    kind: u16,
    why: u16,
    #[serde(deserialize_with = "capped")]
    values: Vec<String>,
}

/// Reads a sequence of at most [`MAX_SUBMISSION_OPERATIONS`] items (a group
/// holds at least one value, so no list of groups is longer either), growing
/// the vector as items arrive: the count a payload declares is checked and
/// never used to allocate. Postcard drops a custom error's text, so the
/// refusal is named in [`Submission::decode_payload`].
fn capped<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Capped<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Capped<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "at most {MAX_SUBMISSION_OPERATIONS} items")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let too_many = || de::Error::custom("more items than a submission may carry");
            if seq
                .size_hint()
                .is_some_and(|n| n as u64 > MAX_SUBMISSION_OPERATIONS)
            {
                return Err(too_many());
            }
            let mut out = Vec::new();
            while let Some(item) = seq.next_element()? {
                if out.len() as u64 == MAX_SUBMISSION_OPERATIONS {
                    return Err(too_many());
                }
                out.push(item);
            }
            Ok(out)
        }
    }

    deserializer.deserialize_seq(Capped(std::marker::PhantomData))
}

impl Document for Submission {
    const TYPE: DocType = DocType::Submission;

    fn encode_payload(&self) -> Result<Vec<u8>, EncodeError> {
        let doc = Self::TYPE;
        let count = self.ops.len() as u64;
        if count > MAX_SUBMISSION_OPERATIONS {
            return Err(EncodeError::Invalid {
                doc: doc.name(),
                field: "operations",
                reason: too_many(count),
            });
        }
        groups::unique_to_encode(
            doc,
            self.sequence.get(),
            self.ops.iter().map(|op| (op.id(), None)),
        )?;
        let mut adds = ListingGroups::default();
        let mut updates = ListingGroups::default();
        let mut removes: BTreeMap<(u16, u16), Vec<String>> = BTreeMap::new();
        for op in &self.ops {
            match op {
                SubmissionOp::Add(l) => adds.push(doc, l)?,
                SubmissionOp::Update(l) => updates.push(doc, l)?,
                SubmissionOp::Remove(r) => removes
                    .entry((r.id.kind().code(), r.why.0))
                    .or_default()
                    .push(r.id.as_str().to_owned()),
            }
        }
        let wire = WireSubmission {
            list: self.list.as_str().to_owned(),
            agency: self.agency.as_str().to_owned(),
            sequence: self.sequence.get(),
            created_at: self.created_at.0,
            urgent: self.urgent,
            adds: adds.into_wire(),
            updates: updates.into_wire(),
            removes: removes
                .into_iter()
                .map(|((kind, why), values)| RemovalGroup {
                    kind,
                    why,
                    values: sorted(values),
                })
                .collect(),
            extensions: self.extensions.clone(),
        };
        encode_wire(doc, &wire)
    }

    fn decode_payload(payload: &[u8]) -> Result<Self, DecodeError> {
        let doc = Self::TYPE;
        let wire: WireSubmission = decode_canonical(doc, payload).map_err(|e| match e {
            // The one custom error these wire types raise: `capped`.
            DecodeError::Payload { reason, .. }
                if reason == postcard::Error::SerdeDeCustom.to_string() =>
            {
                doc.invalid(
                    "operations",
                    format!("a sequence is longer than the {MAX_SUBMISSION_OPERATIONS} operations a submission may carry"),
                )
            }
            e => e,
        })?;
        let count = wire
            .adds
            .iter()
            .chain(&wire.updates)
            .map(|g| g.values.len() as u64)
            .chain(wire.removes.iter().map(|g| g.values.len() as u64))
            .sum::<u64>();
        if count > MAX_SUBMISSION_OPERATIONS {
            return Err(doc.invalid("operations", too_many(count)));
        }
        let agency = Agency::new(&wire.agency).map_err(|e| doc.invalid("agency", e.to_string()))?;
        let sequence =
            NonZeroU64::new(wire.sequence).ok_or_else(|| doc.invalid("sequence", "is 0"))?;
        let mut reader = Ungrouper::new(doc, Agencies::default());
        let mut ops = Vec::with_capacity(count as usize);
        for (groups, make) in [
            (
                wire.adds,
                SubmissionOp::Add as fn(ListingRequest) -> SubmissionOp,
            ),
            (wire.updates, SubmissionOp::Update),
        ] {
            let mut prev = None;
            for group in groups {
                let key = (group.kind, group.reason, group.expires_at);
                check_group(doc, prev >= Some(key), group.values.is_empty())?;
                prev = Some(key);
                let expires_at = group.expires_at.map(Timestamp);
                if let Some(t) = expires_at.filter(|&t| t > EntryMeta::LAST_TIME) {
                    return Err(doc.invalid(
                        "expires_at",
                        groups::time_reason(&format!("a group of kind {}", group.kind), t),
                    ));
                }
                for id in values(&mut reader, group.kind, &group.values)? {
                    ops.push(make(ListingRequest {
                        id,
                        reason: Reason(group.reason),
                        expires_at,
                    }));
                }
            }
        }
        let mut prev = None;
        for group in wire.removes {
            let key = (group.kind, group.why);
            check_group(doc, prev >= Some(key), group.values.is_empty())?;
            prev = Some(key);
            for id in values(&mut reader, group.kind, &group.values)? {
                ops.push(SubmissionOp::Remove(RemovalRequest {
                    id,
                    why: RemovalReason(group.why),
                }));
            }
        }
        reader.finish()?;
        groups::unique_decoded(doc, ops.iter().map(|op| (op.id(), None)))?;
        Ok(Submission {
            list: ListId::decode(doc, &wire.list)?,
            agency,
            sequence,
            created_at: Timestamp(wire.created_at),
            urgent: wire.urgent,
            ops,
            extensions: Extension::check(doc, wire.extensions)?,
        })
    }

    fn list(&self) -> &ListId {
        &self.list
    }
}

fn too_many(count: u64) -> String {
    format!("{count} operations, more than the {MAX_SUBMISSION_OPERATIONS} a submission may carry")
}

/// Refuses a group out of order or without values.
fn check_group(doc: DocType, out_of_order: bool, empty: bool) -> Result<(), DecodeError> {
    if out_of_order {
        return Err(doc.invalid("groups", "not strictly ascending"));
    }
    if empty {
        return Err(doc.invalid("group", "has no values"));
    }
    Ok(())
}

/// A group's values as identifiers: strictly ascending, each canonical.
fn values(
    reader: &mut Ungrouper,
    kind: u16,
    values: &[String],
) -> Result<Vec<Identifier>, DecodeError> {
    let mut out = Vec::with_capacity(values.len());
    let mut prev: Option<&str> = None;
    for value in values {
        out.push(reader.value(kind, prev, value)?);
        prev = Some(value);
    }
    Ok(out)
}

/// Listing requests grouped by (kind, reason, expiry), in wire order.
#[derive(Default)]
struct ListingGroups(BTreeMap<(u16, u16, Option<u64>), Vec<String>>);

impl ListingGroups {
    fn push(&mut self, doc: DocType, listing: &ListingRequest) -> Result<(), EncodeError> {
        if let Some(t) = listing.expires_at.filter(|&t| t > EntryMeta::LAST_TIME) {
            return Err(EncodeError::Invalid {
                doc: doc.name(),
                field: "expires_at",
                reason: groups::time_reason(&listing.id.to_string(), t),
            });
        }
        let key = (
            listing.id.kind().code(),
            listing.reason.0,
            listing.expires_at.map(|t| t.0),
        );
        self.0
            .entry(key)
            .or_default()
            .push(listing.id.as_str().to_owned());
        Ok(())
    }

    fn into_wire(self) -> Vec<SubmissionGroup> {
        self.0
            .into_iter()
            .map(|((kind, reason, expires_at), values)| SubmissionGroup {
                kind,
                reason,
                expires_at,
                values: sorted(values),
            })
            .collect()
    }
}

fn sorted(mut values: Vec<String>) -> Vec<String> {
    values.sort_unstable();
    values
}

impl Submission {
    /// The kinds the submission uses, ascending: what the signing agency
    /// must be allowed to list.
    pub fn kinds(&self) -> Vec<Kind> {
        let mut kinds: Vec<Kind> = self.ops.iter().map(|op| op.id().kind()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        kinds
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::Rules;

    fn submission(ops: Vec<SubmissionOp>) -> Submission {
        Submission {
            list: ListId::new("th-national").unwrap(),
            agency: Agency::new("th-aoc").unwrap(),
            sequence: NonZeroU64::new(7).unwrap(),
            created_at: Timestamp(1_760_000_000),
            urgent: true,
            ops,
            extensions: vec![],
        }
    }

    fn number(n: &str) -> Identifier {
        Identifier::from_canonical(Kind::Number, n).unwrap()
    }

    #[test]
    fn an_identifier_twice_is_refused_when_encoding() {
        let id = number("+66812345678");
        let doc = submission(vec![
            SubmissionOp::Add(ListingRequest {
                id: id.clone(),
                reason: Reason::SCAM_CALL,
                expires_at: None,
            }),
            SubmissionOp::Remove(RemovalRequest {
                id,
                why: RemovalReason::ERROR,
            }),
        ]);
        assert!(matches!(
            doc.encode_payload(),
            Err(EncodeError::DuplicateIdentifier { .. })
        ));
    }

    #[test]
    fn a_sequence_longer_than_the_cap_is_refused_before_it_is_read() {
        let head = postcard::to_stdvec(&("th-national", "th-aoc", 1u64, 0u64, false)).unwrap();
        // No adds or updates, one removal group of 1,000,001 (empty) values.
        let mut payload = head.clone();
        payload.extend_from_slice(&[0, 0, 1, 2, 1]);
        payload.extend_from_slice(&postcard::to_stdvec(&(MAX_SUBMISSION_OPERATIONS + 1)).unwrap());
        payload.resize(payload.len() + MAX_SUBMISSION_OPERATIONS as usize + 1, 0);
        payload.push(0);
        match Submission::decode_payload(&payload) {
            Err(DecodeError::Invalid { field, reason, .. }) => {
                assert_eq!(field, "operations");
                assert!(reason.contains("1000000"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        // A count of 2^32 groups in a payload of a few bytes: refused as
        // truncated, nothing allocated from the count.
        let mut payload = head;
        payload.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x10]);
        assert!(matches!(
            Submission::decode_payload(&payload),
            Err(DecodeError::Payload { .. })
        ));
    }

    #[test]
    fn sequence_zero_and_a_bad_agency_are_refused() {
        let good = submission(vec![]).encode_payload().unwrap();
        let wire: WireSubmission = postcard::from_bytes(&good).unwrap();
        let with = |edit: &dyn Fn(&mut WireSubmission)| {
            let mut wire: WireSubmission = postcard::from_bytes(&good).unwrap();
            edit(&mut wire);
            Submission::decode_payload(&postcard::to_stdvec(&wire).unwrap())
        };
        assert_eq!(wire.sequence, 7);
        assert!(matches!(
            with(&|w| w.sequence = 0),
            Err(DecodeError::Invalid {
                field: "sequence",
                ..
            })
        ));
        assert!(matches!(
            with(&|w| w.agency = "th aoc".into()),
            Err(DecodeError::Invalid {
                field: "agency",
                ..
            })
        ));
        assert!(matches!(
            with(&|w| w.removes = vec![RemovalGroup {
                kind: 2,
                why: 1,
                values: vec![]
            }]),
            Err(DecodeError::Invalid { field: "group", .. })
        ));
    }

    fn arb_op() -> impl Strategy<Value = SubmissionOp> {
        let id = prop_oneof![
            "8[0-9]{8}".prop_map(|n| (Kind::Number, format!("0{n}"))),
            "[0-9]{10}".prop_map(|n| (Kind::Account, format!("004/{n}"))),
            "[a-z]{1,12}".prop_map(|l| (Kind::Domain, format!("{l}.example.com"))),
        ];
        (
            id,
            0u8..3,
            0u16..5,
            prop::option::of(1_800_000_000u64..1_800_000_010),
        )
            .prop_map(|((kind, raw), op, code, expires)| {
                let id = Identifier::parse(kind, &raw, &Rules::default()).unwrap();
                let listing = ListingRequest {
                    id: id.clone(),
                    reason: Reason(code),
                    expires_at: expires.map(Timestamp),
                };
                match op {
                    0 => SubmissionOp::Add(listing),
                    1 => SubmissionOp::Update(listing),
                    _ => SubmissionOp::Remove(RemovalRequest {
                        id,
                        why: RemovalReason(code),
                    }),
                }
            })
    }

    proptest! {
        /// Any submission round-trips to itself (up to the order of its
        /// operations), and what is decoded re-encodes to the same bytes.
        #[test]
        fn encode_decode_is_a_canonical_round_trip(ops in prop::collection::vec(arb_op(), 0..40)) {
            let mut seen = std::collections::HashSet::new();
            let ops: Vec<SubmissionOp> = ops.into_iter().filter(|op| seen.insert(op.id().clone())).collect();
            let doc = submission(ops);
            let bytes = doc.encode_payload().unwrap();
            let back = Submission::decode_payload(&bytes).unwrap();
            prop_assert_eq!(back.encode_payload().unwrap(), bytes);
            let key = |op: &SubmissionOp| op.id().clone();
            let (mut want, mut have) = (doc.ops.clone(), back.ops.clone());
            want.sort_by_key(key);
            have.sort_by_key(key);
            prop_assert_eq!(have, want);
        }

        /// The decoder on arbitrary bytes, and on valid payloads with one
        /// byte changed: a refusal or a canonical document, never a panic.
        #[test]
        fn the_decoder_accepts_only_canonical_payloads(
            ops in prop::collection::vec(arb_op(), 0..8),
            flip in any::<(prop::sample::Index, u8)>(),
            noise in prop::collection::vec(any::<u8>(), 0..256),
        ) {
            let mut seen = std::collections::HashSet::new();
            let ops: Vec<SubmissionOp> = ops.into_iter().filter(|op| seen.insert(op.id().clone())).collect();
            let mut bytes = submission(ops).encode_payload().unwrap();
            let at = flip.0.index(bytes.len());
            bytes[at] ^= flip.1;
            for input in [&bytes, &noise] {
                if let Ok(doc) = Submission::decode_payload(input) {
                    prop_assert_eq!(&doc.encode_payload().unwrap(), input);
                }
            }
        }
    }
}
