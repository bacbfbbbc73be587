//! [`Snapshot`]: the whole list at one version.

use serde::{Deserialize, Serialize};

use crate::digest::StateDigest;
use crate::document::groups::{self, Agencies, EntryGroup, Ungrouper};
use crate::document::{
    decode_canonical, encode_wire, DecodeError, DocType, Document, EncodeError, Extension, ListId,
    ListState, Version,
};
use crate::entry::{Entry, Timestamp};

/// Every entry of a list at `version`, for bootstrap and recovery. Entry order
/// carries no meaning; decoding returns them in wire (grouped) order.
///
/// ```
/// use blocklist_core::document::*;
/// use blocklist_core::*;
/// let snapshot = Snapshot {
///     list: ListId::new("demo").unwrap(),
///     version: Version::FIRST,
///     created_at: Timestamp(1_700_000_000),
///     entries: vec![],
///     state: ListState::default(),
///     extensions: vec![],
/// };
/// let bytes = snapshot.encode_payload().unwrap();
/// assert_eq!(Snapshot::decode_payload(&bytes).unwrap(), snapshot);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The list.
    pub list: ListId,
    /// The version it is the state of.
    pub version: Version,
    /// When the centre made it.
    pub created_at: Timestamp,
    /// Every entry.
    pub entries: Vec<Entry>,
    /// The digest and count of `entries`, as the centre computed them.
    pub state: ListState,
    /// Fields added by later format revisions (kept, signed, not interpreted).
    pub extensions: Vec<Extension>,
}

impl Snapshot {
    /// The digest and count of the entries as they are (the verifier compares it
    /// with the signed `state`).
    pub fn computed_state(&self) -> ListState {
        ListState::of(&self.entries)
    }
}

#[derive(Serialize, Deserialize)]
struct WireSnapshot {
    list: String,
    version: u64,
    created_at: u64,
    state_digest: [u8; 32],
    state_entries: u64,
    agencies: Vec<String>,
    entries: Vec<EntryGroup>,
    extensions: Vec<Extension>,
}

impl Document for Snapshot {
    const TYPE: DocType = DocType::Snapshot;

    fn encode_payload(&self) -> Result<Vec<u8>, EncodeError> {
        groups::unique_to_encode(
            Self::TYPE,
            self.version.get(),
            self.entries.iter().map(|e| &e.id),
        )?;
        groups::times_to_encode(Self::TYPE, self.entries.iter())?;
        let agencies = Agencies::collect(self.entries.iter().map(|e| &e.meta));
        let wire = WireSnapshot {
            list: self.list.as_str().to_owned(),
            version: self.version.get(),
            created_at: self.created_at.0,
            state_digest: self.state.digest.0,
            state_entries: self.state.entries,
            agencies: agencies.to_wire(),
            entries: groups::group_entries(self.entries.iter(), &agencies),
            extensions: self.extensions.clone(),
        };
        encode_wire(Self::TYPE, &wire)
    }

    fn decode_payload(payload: &[u8]) -> Result<Self, DecodeError> {
        let doc = Self::TYPE;
        let wire: WireSnapshot = decode_canonical(doc, payload)?;
        let agencies = Agencies::from_wire(doc, &wire.agencies)?;
        let mut reader = Ungrouper::new(doc, &agencies);
        let entries = reader.entries(wire.entries)?;
        reader.finish()?;
        groups::unique_decoded(doc, entries.iter().map(|e| &e.id))?;
        Ok(Snapshot {
            list: ListId::decode(doc, &wire.list)?,
            version: Version::decode(doc, wire.version)?,
            created_at: Timestamp(wire.created_at),
            entries,
            state: ListState {
                digest: StateDigest(wire.state_digest),
                entries: wire.state_entries,
            },
            extensions: Extension::check(doc, wire.extensions)?,
        })
    }

    fn list(&self) -> &ListId {
        &self.list
    }
}
