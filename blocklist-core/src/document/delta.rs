//! [`Delta`]: the operations that take a list from version N-1 to N.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::StateDigest;
use crate::document::groups::{self, Agencies, EntryGroup, KeyGroup, Ungrouper};
use crate::document::{
    decode_canonical, encode_wire, DecodeError, DocType, Document, EncodeError, Extension, ListId,
    ListState, Version,
};
use crate::entry::{Agency, Entry, Timestamp};
use crate::identifier::Identifier;

/// One change to the list.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    /// List an identifier that is not listed.
    Add(Entry),
    /// Change the metadata of a listed identifier (a new expiry, a new reason).
    Update(Entry),
    /// Unlist an identifier: the listing of the agency named or, with
    /// `None` (only a format-1 delta's removals, made when an identifier had
    /// one listing), every listing of it.
    Remove(Identifier, Option<Agency>),
}

impl Op {
    /// The identifier the operation is about.
    pub fn id(&self) -> &Identifier {
        match self {
            Op::Add(e) | Op::Update(e) => &e.id,
            Op::Remove(id, _) => id,
        }
    }

    /// The identifier, and whose listing of it the operation is about
    /// (`None`: every listing of it).
    pub fn listing(&self) -> (&Identifier, Option<&Agency>) {
        match self {
            Op::Add(e) | Op::Update(e) => (&e.id, Some(&e.meta.agency)),
            Op::Remove(id, agency) => (id, agency.as_ref()),
        }
    }
}

/// The signed change from version `version - 1` to `version`, with the digest
/// of the state it leads to, so a client that applied it can tell whether it
/// still holds exactly what the centre holds, and the agencies' signed
/// submissions that asked for its changes, so it can tell that each agency
/// asked for them ([`crate::verify::authority`]).
///
/// Each listing (identifier and agency) appears in at most one operation, so
/// the order of `ops` carries no meaning; decoding returns adds, then
/// updates, then removes (those naming no agency first).
///
/// ```
/// use blocklist_core::document::*;
/// use blocklist_core::*;
/// let delta = Delta {
///     list: ListId::new("demo").unwrap(),
///     version: Version::FIRST,
///     created_at: Timestamp(1_700_000_000),
///     ops: vec![],
///     state: ListState::default(),
///     submissions: vec![],
///     overrides: vec![],
///     extensions: vec![],
/// };
/// let bytes = delta.encode_payload().unwrap();
/// assert_eq!(Delta::decode_payload(&bytes).unwrap(), delta);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delta {
    /// The list it changes.
    pub list: ListId,
    /// The version it produces; it applies to `version - 1` only.
    pub version: Version,
    /// When the centre made it.
    pub created_at: Timestamp,
    /// The changes.
    pub ops: Vec<Op>,
    /// The list after the changes.
    pub state: ListState,
    /// The agencies' submissions whose changes it makes, each signed by its
    /// agency. Carried in extension [`SUBMISSIONS_EXTENSION`], so that
    /// readers that predate it still read the delta.
    pub submissions: Vec<CarriedSubmission>,
    /// The signed overrides whose removals it makes, each file byte for
    /// byte ([`crate::document::Override`]). Carried in extension
    /// [`OVERRIDES_EXTENSION`].
    pub overrides: Vec<Vec<u8>>,
    /// Fields added by later format revisions (kept, signed, not interpreted).
    pub extensions: Vec<Extension>,
}

/// The delta extension tag of [`Delta::submissions`] (W2).
pub const SUBMISSIONS_EXTENSION: u16 = 2;

/// The delta extension tag of [`Delta::overrides`] (W7).
pub const OVERRIDES_EXTENSION: u16 = 3;

/// The delta extension tag of the removals that name the agency whose
/// listing they remove: a delta's `removes` field predates identifiers
/// listed by several agencies, so it names none.
pub const LISTING_REMOVALS_EXTENSION: u16 = 4;

/// One agency's removed listings, in extension
/// [`LISTING_REMOVALS_EXTENSION`]: ascending by agency, no agency twice.
#[derive(Serialize, Deserialize)]
struct WireRemovals {
    agency: String,
    keys: Vec<KeyGroup>,
}

/// An agency's submission as a delta carries it: the file the agency signed,
/// byte for byte, and when the centre accepted it (the time its listings
/// are dated, and its agency's keys and scope are judged at).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CarriedSubmission {
    /// When the centre accepted it.
    pub accepted_at: Timestamp,
    /// The signed submission file (type 6).
    pub file: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct WireCarried {
    accepted_at: u64,
    file: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct WireDelta {
    list: String,
    version: u64,
    created_at: u64,
    state_digest: [u8; 32],
    state_entries: u64,
    agencies: Vec<String>,
    adds: Vec<EntryGroup>,
    updates: Vec<EntryGroup>,
    removes: Vec<KeyGroup>,
    extensions: Vec<Extension>,
}

impl Document for Delta {
    const TYPE: DocType = DocType::Delta;

    fn encode_payload(&self) -> Result<Vec<u8>, EncodeError> {
        groups::unique_to_encode(
            Self::TYPE,
            self.version.get(),
            self.ops.iter().map(Op::listing),
        )?;
        groups::times_to_encode(
            Self::TYPE,
            self.ops.iter().filter_map(|op| match op {
                Op::Add(e) | Op::Update(e) => Some(e),
                Op::Remove(..) => None,
            }),
        )?;
        let mut by_agency: BTreeMap<&Agency, Vec<&Identifier>> = BTreeMap::new();
        for op in &self.ops {
            if let Op::Remove(id, Some(agency)) = op {
                by_agency.entry(agency).or_default().push(id);
            }
        }
        let removals: Vec<WireRemovals> = by_agency
            .into_iter()
            .map(|(agency, ids)| WireRemovals {
                agency: agency.as_str().to_owned(),
                keys: groups::group_keys(ids.into_iter()),
            })
            .collect();
        let entries = |add: bool| {
            self.ops.iter().filter_map(move |op| match op {
                Op::Add(e) if add => Some(e),
                Op::Update(e) if !add => Some(e),
                _ => None,
            })
        };
        let agencies = Agencies::collect(entries(true).chain(entries(false)).map(|e| &e.meta));
        let wire = WireDelta {
            list: self.list.as_str().to_owned(),
            version: self.version.get(),
            created_at: self.created_at.0,
            state_digest: self.state.digest.0,
            state_entries: self.state.entries,
            agencies: agencies.to_wire(),
            adds: groups::group_entries(entries(true), &agencies),
            updates: groups::group_entries(entries(false), &agencies),
            removes: groups::group_keys(self.ops.iter().filter_map(|op| match op {
                Op::Remove(id, None) => Some(id),
                _ => None,
            })),
            extensions: Extension::place(
                Self::TYPE,
                &Extension::place(
                    Self::TYPE,
                    &Extension::place(
                        Self::TYPE,
                        &self.extensions,
                        LISTING_REMOVALS_EXTENSION,
                        "removals",
                        &removals,
                    )?,
                    OVERRIDES_EXTENSION,
                    "overrides",
                    &self.overrides,
                )?,
                SUBMISSIONS_EXTENSION,
                "submissions",
                &self
                    .submissions
                    .iter()
                    .map(|s| WireCarried {
                        accepted_at: s.accepted_at.0,
                        file: s.file.clone(),
                    })
                    .collect::<Vec<_>>(),
            )?,
        };
        encode_wire(Self::TYPE, &wire)
    }

    fn decode_payload(payload: &[u8]) -> Result<Self, DecodeError> {
        let doc = Self::TYPE;
        let wire: WireDelta = decode_canonical(doc, payload)?;
        let agencies = Agencies::from_wire(doc, &wire.agencies)?;
        let mut reader = Ungrouper::new(doc, agencies);
        let mut ops: Vec<Op> = reader
            .entries(wire.adds)?
            .into_iter()
            .map(Op::Add)
            .collect();
        ops.extend(reader.entries(wire.updates)?.into_iter().map(Op::Update));
        ops.extend(
            reader
                .keys(wire.removes)?
                .into_iter()
                .map(|id| Op::Remove(id, None)),
        );
        let mut extensions = Extension::check(doc, wire.extensions)?;
        let removals: Vec<WireRemovals> =
            Extension::take(doc, &mut extensions, LISTING_REMOVALS_EXTENSION, "removals")?;
        let mut prev: Option<Agency> = None;
        for removal in removals {
            let agency =
                Agency::new(&removal.agency).map_err(|e| doc.invalid("removals", e.to_string()))?;
            if prev.as_ref().is_some_and(|p| p >= &agency) {
                return Err(doc.invalid("removals", "agencies not strictly ascending"));
            }
            if removal.keys.is_empty() {
                return Err(doc.invalid("removals", format!("agency {agency} removes nothing")));
            }
            ops.extend(
                reader
                    .keys(removal.keys)?
                    .into_iter()
                    .map(|id| Op::Remove(id, Some(agency.clone()))),
            );
            prev = Some(agency);
        }
        reader.finish()?;
        groups::unique_decoded(doc, ops.iter().map(Op::listing))?;
        let submissions =
            Extension::take(doc, &mut extensions, SUBMISSIONS_EXTENSION, "submissions")?
                .into_iter()
                .map(|w: WireCarried| CarriedSubmission {
                    accepted_at: Timestamp(w.accepted_at),
                    file: w.file,
                })
                .collect();
        let overrides = Extension::take(doc, &mut extensions, OVERRIDES_EXTENSION, "overrides")?;
        Ok(Delta {
            list: ListId::decode(doc, &wire.list)?,
            version: Version::decode(doc, wire.version)?,
            created_at: Timestamp(wire.created_at),
            ops,
            state: ListState {
                digest: StateDigest(wire.state_digest),
                entries: wire.state_entries,
            },
            submissions,
            overrides,
            extensions,
        })
    }

    fn list(&self) -> &ListId {
        &self.list
    }
}
