//! [`Snapshot`]: the whole list at one version.

use std::collections::BTreeMap;
use std::io::Read;

use serde::{Deserialize, Serialize};

use crate::commitment::{Commitment, StateAccumulator};
use crate::digest::StateDigest;
use crate::document::groups::{self, Agencies, EntryGroup, Ungrouper, WireMeta};
use crate::document::stream::PayloadReader;
use crate::document::{
    decision_sha256, encode_wire, CarriedSubmission, DecodeError, DocType, Document, EncodeError,
    Extension, ListId, ListState, Version,
};
use crate::entry::{Entry, EntryMeta, Timestamp};
use crate::keys::KeyId;

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
///     sequences: Default::default(),
///     overrides: vec![],
///     origins: vec![],
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
    /// The newest sequence applied per agency key at this version, so a
    /// replica that starts from the snapshot refuses replays of what came
    /// before it (`docs/FORMAT.md` W4). Carried in extension
    /// [`SEQUENCES_EXTENSION`].
    pub sequences: BTreeMap<KeyId, u64>,
    /// Every override applied up to this version, each with the version
    /// whose delta carried it, so that a replica that starts from the
    /// snapshot shows them and refuses them carried again (W7). Carried in
    /// extension [`PAST_OVERRIDES_EXTENSION`], ascending by version, then by
    /// the file's SHA-256.
    pub overrides: Vec<PastOverride>,
    /// The agencies' signed submissions that gave its listings their
    /// entries, each with the version whose delta carried it, so that a
    /// replica that starts from the snapshot can trace every agency's
    /// listing to its agency's signature (W8). Carried in extension
    /// [`ORIGINS_EXTENSION`], ascending by version, then by the file's
    /// SHA-256.
    pub origins: Vec<Origin>,
    /// Fields added by later format revisions (kept, signed, not interpreted).
    pub extensions: Vec<Extension>,
}

/// The snapshot extension tag of [`Snapshot::sequences`] (W4).
pub const SEQUENCES_EXTENSION: u16 = 1;

/// The snapshot extension tag of [`Snapshot::overrides`] (W7).
pub const PAST_OVERRIDES_EXTENSION: u16 = 2;

/// The snapshot extension tag of [`Snapshot::origins`] (W8).
pub const ORIGINS_EXTENSION: u16 = 3;

/// A submission a snapshot carries: as the delta that carried it did, with
/// that delta's version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The version whose delta carried it.
    pub version: Version,
    /// The submission, as that delta carried it.
    pub submission: CarriedSubmission,
}

/// An origin as written: its file borrowed, not copied (a snapshot whose
/// listings agencies made carries some 30 bytes of files per listing).
#[derive(Serialize)]
struct WireOrigin<'a> {
    version: u64,
    accepted_at: u64,
    file: &'a [u8],
}

/// An override a snapshot carries: the signed file, byte for byte, and the
/// version whose delta carried it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PastOverride {
    /// The version whose delta carried it.
    pub version: Version,
    /// The signed override file (type 8).
    pub file: Vec<u8>,
}

/// What a snapshot says after its entries, in its extensions' typed fields,
/// but for its origins, which are read one at a time
/// ([`SnapshotTailStream::next_origin`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SnapshotTail {
    /// [`Snapshot::sequences`].
    pub sequences: BTreeMap<KeyId, u64>,
    /// [`Snapshot::overrides`].
    pub overrides: Vec<PastOverride>,
}

#[derive(Serialize, Deserialize)]
struct WirePastOverride {
    version: u64,
    file: Vec<u8>,
}

/// The order the files a snapshot carries (past overrides, origins) are
/// written in: by the version whose delta carried them, then by SHA-256.
fn carried_order(version: Version, file: &[u8]) -> (Version, crate::Sha256) {
    (version, crate::Sha256::of(file))
}

/// Why files carried in this order cannot be a snapshot's at `version`, if
/// they cannot: strictly ascending ([`carried_order`]; so no file twice),
/// none carried after the snapshot's version.
fn carried_refused<'a>(
    files: impl Iterator<Item = (Version, &'a [u8])>,
    version: Version,
) -> Option<String> {
    let mut order = CarriedOrder::new(version);
    files
        .into_iter()
        .find_map(|(at, file)| order.next(at, file))
}

/// Where a read of carried files stands ([`carried_refused`]), so that a
/// stream of them is checked as it goes.
struct CarriedOrder {
    version: Version,
    read: usize,
    last: Option<(Version, crate::Sha256)>,
}

impl CarriedOrder {
    fn new(version: Version) -> CarriedOrder {
        CarriedOrder {
            version,
            read: 0,
            last: None,
        }
    }

    /// Why the next file, carried at `at`, cannot come next, if it cannot.
    fn next(&mut self, at: Version, file: &[u8]) -> Option<String> {
        let index = self.read;
        self.read += 1;
        if at > self.version {
            return Some(format!(
                "file {index} was carried at version {at}, after the snapshot's"
            ));
        }
        let order = carried_order(at, file);
        if self.last.is_some_and(|last| last >= order) {
            return Some("not strictly ascending by version, then file SHA-256".to_owned());
        }
        self.last = Some(order);
        None
    }
}

/// Why `past`, in the order written, cannot be the overrides of a snapshot
/// at `version`, if it cannot: as [`carried_refused`] says, each file a
/// well-formed override, and no decision twice (W7).
fn past_refused(past: &[&PastOverride], version: Version) -> Option<String> {
    if let Some(reason) = carried_refused(past.iter().map(|o| (o.version, &o.file[..])), version) {
        return Some(reason);
    }
    let mut decisions = std::collections::HashSet::new();
    for (index, o) in past.iter().enumerate() {
        match decision_sha256(&o.file) {
            Err(e) => return Some(format!("override {index}: {e}")),
            Ok(decision) if !decisions.insert(decision) => {
                return Some(format!("override {index} is an override listed before"))
            }
            Ok(_) => {}
        }
    }
    None
}

#[derive(Serialize, Deserialize)]
struct WireSequence {
    key: [u8; 32],
    sequence: u64,
}

/// Writes the tail's fields of a snapshot at `version` in their
/// extensions, in their places among `extensions`.
pub(super) fn place_tail(
    extensions: &[Extension],
    version: Version,
    sequences: &BTreeMap<KeyId, u64>,
    overrides: &[PastOverride],
    origins: &[Origin],
) -> Result<Vec<Extension>, EncodeError> {
    let doc = DocType::Snapshot;
    let invalid = |field, reason| EncodeError::Invalid {
        doc: doc.name(),
        field,
        reason,
    };
    let wire: Vec<WireSequence> = sequences
        .iter()
        .map(|(key, &sequence)| WireSequence {
            key: key.0,
            sequence,
        })
        .collect();
    let mut past: Vec<&PastOverride> = overrides.iter().collect();
    past.sort_by_cached_key(|o| carried_order(o.version, &o.file));
    if let Some(reason) = past_refused(&past, version) {
        return Err(invalid("overrides", reason));
    }
    let past: Vec<WirePastOverride> = past
        .into_iter()
        .map(|o| WirePastOverride {
            version: o.version.get(),
            file: o.file.clone(),
        })
        .collect();
    let mut origins: Vec<&Origin> = origins.iter().collect();
    origins.sort_by_cached_key(|o| carried_order(o.version, &o.submission.file));
    let files = origins.iter().map(|o| (o.version, &o.submission.file[..]));
    if let Some(reason) = carried_refused(files, version) {
        return Err(invalid("origins", reason));
    }
    let origins: Vec<WireOrigin> = origins
        .into_iter()
        .map(|o| WireOrigin {
            version: o.version.get(),
            accepted_at: o.submission.accepted_at.0,
            file: &o.submission.file,
        })
        .collect();
    let extensions = Extension::place(doc, extensions, SEQUENCES_EXTENSION, "sequences", &wire)?;
    let extensions = Extension::place(
        doc,
        &extensions,
        PAST_OVERRIDES_EXTENSION,
        "overrides",
        &past,
    )?;
    Extension::place(doc, &extensions, ORIGINS_EXTENSION, "origins", &origins)
}

/// Takes the typed fields that come before the origins out of a
/// snapshot's `extensions`: sequences by key strictly ascending, overrides
/// by version and file strictly ascending.
fn take_tail(
    extensions: &mut Vec<Extension>,
    version: Version,
) -> Result<SnapshotTail, DecodeError> {
    let doc = DocType::Snapshot;
    let wire: Vec<WireSequence> =
        Extension::take(doc, extensions, SEQUENCES_EXTENSION, "sequences")?;
    if wire.windows(2).any(|w| w[0].key >= w[1].key) {
        return Err(doc.invalid("sequences", "keys not strictly ascending"));
    }
    let past: Vec<WirePastOverride> =
        Extension::take(doc, extensions, PAST_OVERRIDES_EXTENSION, "overrides")?;
    let overrides = past
        .into_iter()
        .map(|w| {
            Ok(PastOverride {
                version: Version::decode(doc, w.version)?,
                file: w.file,
            })
        })
        .collect::<Result<Vec<_>, DecodeError>>()?;
    if let Some(reason) = past_refused(&overrides.iter().collect::<Vec<_>>(), version) {
        return Err(doc.invalid("overrides", reason));
    }
    Ok(SnapshotTail {
        sequences: wire
            .into_iter()
            .map(|w| (KeyId(w.key), w.sequence))
            .collect(),
        overrides,
    })
}

/// What follows a snapshot's entries, read as it streams: the extensions
/// before the origins whole (they are small: [`Self::tail`]), then the
/// origins one at a time ([`Self::next_origin`]), so that a snapshot whose
/// millions of listings were all made by agencies is read in memory that
/// does not grow with them; then the extensions after them
/// ([`Self::finish`]). Every check of the in-memory decoder is made as it
/// goes: tags strictly ascending, origins strictly ascending by version then
/// file SHA-256 and none carried after the snapshot, every length within
/// the origins' extension checked against what is left of it.
///
/// ```
/// use blocklist_core::document::*;
/// use blocklist_core::*;
/// let snapshot = Snapshot {
///     list: ListId::new("demo").unwrap(),
///     version: Version::new(2).unwrap(),
///     created_at: Timestamp(1_700_000_000),
///     entries: vec![],
///     state: ListState::default(),
///     sequences: Default::default(),
///     overrides: vec![],
///     origins: vec![Origin {
///         version: Version::FIRST,
///         submission: CarriedSubmission { accepted_at: Timestamp(9), file: vec![1, 2, 3] },
///     }],
///     extensions: vec![],
/// };
/// let payload = snapshot.encode_payload().unwrap();
/// let (_, mut stream) = SnapshotStream::open(&payload[..], payload.len() as u64).unwrap();
/// while stream.read_entries(&mut Vec::new(), 1000).unwrap() {}
/// let mut tail = stream.finish().unwrap();
/// assert_eq!(tail.origins_left(), 1);
/// assert_eq!(tail.next_origin().unwrap(), Some(snapshot.origins[0].clone()));
/// assert_eq!(tail.next_origin().unwrap(), None);
/// let (_, extensions, rest) = tail.finish().unwrap();
/// assert!(extensions.is_empty() && rest.is_empty());
/// ```
pub struct SnapshotTailStream<R> {
    payload: PayloadReader<R>,
    tail: SnapshotTail,
    /// The extensions kept opaque.
    extensions: Vec<Extension>,
    /// Extensions not yet started (the origins' is started).
    extensions_left: u64,
    last_tag: Option<u16>,
    /// Origins not yet read.
    origins_left: u64,
    /// The payload's bytes after the origins' extension, while it is read.
    after_origins: u64,
    order: CarriedOrder,
}

impl<R: Read> SnapshotTailStream<R> {
    /// Reads the extensions up to the origins' first byte.
    fn open(mut payload: PayloadReader<R>, version: Version) -> Result<Self, DecodeError> {
        let doc = DocType::Snapshot;
        let mut stream = SnapshotTailStream {
            extensions_left: payload.len("extensions")?,
            payload,
            tail: SnapshotTail::default(),
            extensions: Vec::new(),
            last_tag: None,
            origins_left: 0,
            after_origins: 0,
            order: CarriedOrder::new(version),
        };
        while stream.extensions_left > 0 {
            stream.extensions_left -= 1;
            let tag = stream.tag()?;
            if tag == ORIGINS_EXTENSION {
                let len = stream.payload.len("extension data")?;
                stream.after_origins = stream.payload.limit("origins", len)?;
                stream.origins_left = stream.payload.len("origins")?;
                if stream.origins_left == 0 {
                    return Err(doc.invalid("origins", "an empty list is written as no extension"));
                }
                break;
            }
            let data = stream.payload.bytes("extension data")?;
            stream.extensions.push(Extension { tag, data });
        }
        stream.tail = take_tail(&mut stream.extensions, version)?;
        Ok(stream)
    }

    /// The next extension's tag, which must follow the last's.
    fn tag(&mut self) -> Result<u16, DecodeError> {
        let tag = self.payload.u16("extension tag")?;
        if self.last_tag.is_some_and(|last| last >= tag) {
            return Err(DocType::Snapshot.invalid("extensions", "tags not strictly ascending"));
        }
        self.last_tag = Some(tag);
        Ok(tag)
    }

    /// The sequences and past overrides, read whole before the origins.
    pub fn tail(&self) -> &SnapshotTail {
        &self.tail
    }

    /// The origins not yet read (as the snapshot says: each is checked as it
    /// is read).
    pub fn origins_left(&self) -> u64 {
        self.origins_left
    }

    /// The next origin ([`Snapshot::origins`]), checked to come after the
    /// last; `None` once all were read.
    pub fn next_origin(&mut self) -> Result<Option<Origin>, DecodeError> {
        let doc = DocType::Snapshot;
        if self.origins_left == 0 {
            return Ok(None);
        }
        let version = Version::decode(doc, self.payload.u64("origin version")?)?;
        let accepted_at = Timestamp(self.payload.u64("origin accepted_at")?);
        let file = self.payload.bytes("origin file")?;
        if let Some(reason) = self.order.next(version, &file) {
            return Err(doc.invalid("origins", reason));
        }
        self.origins_left -= 1;
        if self.origins_left == 0 {
            self.payload.end_limit("origins", self.after_origins)?;
        }
        Ok(Some(Origin {
            version,
            submission: CarriedSubmission { accepted_at, file },
        }))
    }

    /// Ends the read: the origins not read yet are read (and checked), then
    /// the extensions after them, which must end the payload. Returns the
    /// typed fields before the origins, the extensions kept opaque, and the
    /// reader, placed just after the payload.
    pub fn finish(mut self) -> Result<(SnapshotTail, Vec<Extension>, R), DecodeError> {
        while self.next_origin()?.is_some() {}
        while self.extensions_left > 0 {
            self.extensions_left -= 1;
            let tag = self.tag()?;
            let data = self.payload.bytes("extension data")?;
            self.extensions.push(Extension { tag, data });
        }
        let reader = self.payload.finish()?;
        Ok((self.tail, self.extensions, reader))
    }
}

impl Snapshot {
    /// The digest (under `commitment`) and count of the entries as they are:
    /// the verifier compares it with the signed `state`.
    pub fn computed_state(&self, commitment: Commitment) -> ListState {
        StateAccumulator::of(&self.entries).state(commitment)
    }
}

/// The wire form, for encoding (and, in tests, as the oracle the streaming
/// decoder is checked against); decoding goes through [`SnapshotStream`].
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
            self.entries.iter().map(groups::entry_named),
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
            extensions: place_tail(
                &self.extensions,
                self.version,
                &self.sequences,
                &self.overrides,
                &self.origins,
            )?,
        };
        encode_wire(Self::TYPE, &wire)
    }

    fn decode_payload(payload: &[u8]) -> Result<Self, DecodeError> {
        // One decoder for snapshots in memory and snapshots streamed from a
        // file, so the two can never disagree on what is canonical.
        let (head, mut stream) = SnapshotStream::open(payload, payload.len() as u64)?;
        let mut entries = Vec::new();
        while stream.read_entries(&mut entries, usize::MAX)? {}
        let mut tail = stream.finish()?;
        let mut origins = Vec::new();
        while let Some(origin) = tail.next_origin()? {
            origins.push(origin);
        }
        let (tail, extensions, _) = tail.finish()?;
        groups::unique_decoded(Self::TYPE, entries.iter().map(groups::entry_named))?;
        Ok(Snapshot {
            list: head.list,
            version: head.version,
            created_at: head.created_at,
            entries,
            state: head.state,
            sequences: tail.sequences,
            overrides: tail.overrides,
            origins,
            extensions,
        })
    }

    fn list(&self) -> &ListId {
        &self.list
    }
}

/// What a snapshot says before its entries: enough to refuse one for the
/// wrong list or an old version before reading a single entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotHead {
    /// The list.
    pub list: ListId,
    /// The version it is the state of.
    pub version: Version,
    /// When the centre made it.
    pub created_at: Timestamp,
    /// The digest and count of its entries, as the centre computed them.
    pub state: ListState,
}

/// A snapshot payload decoded as it streams from a reader, a bounded batch of
/// entries at a time, so that memory does not grow with the list: the whole
/// canonical form is checked as it goes (as [`Snapshot::decode_payload`], which
/// reads through this too), except that an identifier named twice in two
/// groups is left to the caller (the store's primary key refuses it), since
/// finding it would take memory that grows with the list.
///
/// ```
/// use blocklist_core::document::*;
/// use blocklist_core::*;
/// let entry = Entry {
///     id: Identifier::parse(Kind::Domain, "scam.example", &Rules::default()).unwrap(),
///     meta: EntryMeta { reason: Reason::PHISHING, agency: Agency::new("police").unwrap(),
///                       listed_at: Timestamp(1_700_000_000), expires_at: None },
/// };
/// let snapshot = Snapshot {
///     list: ListId::new("demo").unwrap(),
///     version: Version::FIRST,
///     created_at: Timestamp(1_700_000_000),
///     state: ListState::of([&entry]),
///     entries: vec![entry],
///     sequences: Default::default(),
///     overrides: vec![],
///     origins: vec![],
///     extensions: vec![],
/// };
/// let payload = snapshot.encode_payload().unwrap();
/// let (head, mut stream) = SnapshotStream::open(&payload[..], payload.len() as u64).unwrap();
/// assert_eq!(head.version, Version::FIRST);
/// let mut batch = Vec::new();
/// while stream.read_entries(&mut batch, 1000).unwrap() {}
/// assert_eq!(batch, snapshot.entries);
/// assert!(stream.finish().unwrap().finish().unwrap().1.is_empty());
/// ```
pub struct SnapshotStream<R> {
    payload: PayloadReader<R>,
    version: Version,
    ungrouper: Ungrouper,
    /// Entry groups not yet started.
    groups_left: u64,
    /// The group being read.
    group: Option<OpenGroup>,
}

/// A group part-way read.
struct OpenGroup {
    kind: u16,
    meta: EntryMeta,
    /// Values not yet read.
    left: u64,
    /// The last value read (the next must be greater).
    prev: Option<String>,
}

impl<R: Read> SnapshotStream<R> {
    /// Reads the head of a payload of `len` bytes from `reader` (placed at its
    /// first byte) and the agency table, leaving the stream at the first entry.
    pub fn open(reader: R, len: u64) -> Result<(SnapshotHead, SnapshotStream<R>), DecodeError> {
        let doc = DocType::Snapshot;
        let mut payload = PayloadReader::new(doc, reader, len);
        let list = ListId::decode(doc, &payload.string("list")?)?;
        let version = Version::decode(doc, payload.u64("version")?)?;
        let created_at = Timestamp(payload.u64("created_at")?);
        let digest = StateDigest(payload.array("state_digest")?);
        let entries = payload.u64("state_entries")?;
        let mut agencies = Vec::new();
        for _ in 0..payload.len("agencies")? {
            agencies.push(payload.string("agency")?);
        }
        let agencies = Agencies::from_wire(doc, &agencies)?;
        let groups_left = payload.len("entries")?;
        let head = SnapshotHead {
            list,
            version,
            created_at,
            state: ListState { digest, entries },
        };
        let stream = SnapshotStream {
            payload,
            version,
            ungrouper: Ungrouper::new(doc, agencies),
            groups_left,
            group: None,
        };
        Ok((head, stream))
    }

    /// Appends up to `max` more entries to `out`; `false` once every entry
    /// has been read.
    pub fn read_entries(&mut self, out: &mut Vec<Entry>, max: usize) -> Result<bool, DecodeError> {
        let mut read = 0;
        while read < max {
            let group = match &mut self.group {
                Some(group) if group.left > 0 => group,
                _ if self.groups_left == 0 => return Ok(false),
                _ => {
                    self.groups_left -= 1;
                    let kind = self.payload.u16("kind")?;
                    let wire = WireMeta {
                        reason: self.payload.u16("reason")?,
                        agency: self.payload.u32("agency")?,
                        listed_at: self.payload.u64("listed_at")?,
                        expires_at: self.payload.option_u64("expires_at")?,
                    };
                    let left = self.payload.len("values")?;
                    let meta = self.ungrouper.group(kind, wire, left)?;
                    self.group.insert(OpenGroup {
                        kind,
                        meta,
                        left,
                        prev: None,
                    })
                }
            };
            let value = self.payload.string("value")?;
            let id = self
                .ungrouper
                .value(group.kind, group.prev.as_deref(), &value)?;
            group.left -= 1;
            group.prev = Some(value);
            out.push(Entry {
                id,
                meta: group.meta.clone(),
            });
            read += 1;
        }
        Ok(true)
    }

    /// Ends the entries once every one was read: every agency must have
    /// been used. Returns what follows them, read up to the origins.
    pub fn finish(self) -> Result<SnapshotTailStream<R>, DecodeError> {
        let doc = DocType::Snapshot;
        if self.groups_left > 0 || self.group.as_ref().is_some_and(|g| g.left > 0) {
            return Err(doc.invalid("entries", "finished before the last entry"));
        }
        self.ungrouper.finish()?;
        SnapshotTailStream::open(self.payload, self.version)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::document::decode_canonical;
    use crate::entry::{Agency, Reason};
    use crate::identifier::Identifier;
    use crate::kind::Kind;

    /// The decoder before snapshots streamed, kept as the oracle: serde reads
    /// the whole payload, which must re-encode to the same bytes.
    fn oracle(payload: &[u8]) -> Result<Snapshot, DecodeError> {
        let doc = DocType::Snapshot;
        let wire: WireSnapshot = decode_canonical(doc, payload)?;
        let mut reader = Ungrouper::new(doc, Agencies::from_wire(doc, &wire.agencies)?);
        let entries = reader.entries(wire.entries)?;
        reader.finish()?;
        groups::unique_decoded(doc, entries.iter().map(groups::entry_named))?;
        let mut extensions = Extension::check(doc, wire.extensions)?;
        let version = Version::decode(doc, wire.version)?;
        let tail = take_tail(&mut extensions, version)?;
        // The wire form of an origin: version, accepted_at, file.
        let origins: Vec<(u64, u64, Vec<u8>)> =
            Extension::take(doc, &mut extensions, ORIGINS_EXTENSION, "origins")?;
        let origins = origins
            .into_iter()
            .map(|(version, accepted_at, file)| {
                Ok(Origin {
                    version: Version::decode(doc, version)?,
                    submission: CarriedSubmission {
                        accepted_at: Timestamp(accepted_at),
                        file,
                    },
                })
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        let files = origins.iter().map(|o| (o.version, &o.submission.file[..]));
        if let Some(reason) = carried_refused(files, version) {
            return Err(doc.invalid("origins", reason));
        }
        Ok(Snapshot {
            list: ListId::decode(doc, &wire.list)?,
            version,
            created_at: Timestamp(wire.created_at),
            entries,
            state: ListState {
                digest: StateDigest(wire.state_digest),
                entries: wire.state_entries,
            },
            sequences: tail.sequences,
            overrides: tail.overrides,
            origins,
            extensions,
        })
    }

    /// Reads `payload` through the stream, `batch` entries at a time.
    fn streamed(payload: &[u8], batch: usize) -> Result<Snapshot, DecodeError> {
        let (head, mut stream) = SnapshotStream::open(payload, payload.len() as u64)?;
        let mut entries = Vec::new();
        while stream.read_entries(&mut entries, batch)? {}
        let mut tail = stream.finish()?;
        let mut origins = Vec::new();
        while let Some(origin) = tail.next_origin()? {
            origins.push(origin);
        }
        let (tail, extensions, rest) = tail.finish()?;
        assert!(
            rest.is_empty(),
            "the stream stopped before the payload's end"
        );
        groups::unique_decoded(DocType::Snapshot, entries.iter().map(groups::entry_named))?;
        Ok(Snapshot {
            list: head.list,
            version: head.version,
            created_at: head.created_at,
            entries,
            state: head.state,
            sequences: tail.sequences,
            overrides: tail.overrides,
            origins,
            extensions,
        })
    }

    /// The `k`th override a snapshot carries (applied at version 1 + k/2).
    fn past_override(k: u64) -> PastOverride {
        let decision = crate::document::Override {
            list: ListId::new("prop").expect("list"),
            made_at: Timestamp(k),
            why: crate::document::RemovalReason::ERROR,
            note: format!("decision {k}"),
            removals: vec![crate::document::ListingRef {
                id: Identifier::from_canonical(Kind::Domain, "a.example").expect("domain"),
                agency: Agency::new("th-aoc").expect("agency"),
                listed_at: Timestamp(1),
            }],
            updates: vec![],
            extensions: vec![],
        };
        let key = crate::keys::SecretKey::from_seed(&[1; 32]);
        PastOverride {
            version: Version::new(1 + k / 2).expect("non-zero"),
            file: decision.sign(&[&key]).expect("signed"),
        }
    }

    fn entry(kind: u8, n: u16, meta: (u8, u8, u8, Option<u8>)) -> Entry {
        let value = match kind % 3 {
            0 => format!("d{n}.example.com"),
            1 => format!("+6681{:07}", n),
            // A kind this build does not know: kept verbatim.
            _ => format!("other {n}"),
        };
        let kind = match kind % 3 {
            0 => Kind::Domain,
            1 => Kind::Number,
            _ => Kind::from_code(77),
        };
        let (reason, agency, listed_at, expires_at) = meta;
        Entry {
            id: Identifier::from_canonical(kind, &value).expect("canonical"),
            meta: EntryMeta {
                reason: Reason(u16::from(reason % 3)),
                agency: Agency::new(["police", "th-aoc", "bank-004"][usize::from(agency % 3)])
                    .expect("agency"),
                listed_at: Timestamp(1_700_000_000 + u64::from(listed_at % 4)),
                expires_at: expires_at.map(|t| Timestamp(1_800_000_000 + u64::from(t % 3))),
            },
        }
    }

    pub(crate) fn snapshots() -> impl Strategy<Value = Snapshot> {
        let raw_entry = (any::<u8>(), any::<u16>(), any::<(u8, u8, u8, Option<u8>)>());
        (
            proptest::collection::vec(raw_entry, 0..40),
            1..u64::MAX,
            proptest::collection::vec(any::<u8>(), 0..3),
        )
            .prop_map(|(raw, version, ext)| {
                let mut seen = std::collections::HashSet::new();
                let entries: Vec<Entry> = raw
                    .into_iter()
                    .map(|(kind, n, meta)| entry(kind, n, meta))
                    .filter(|e| seen.insert(e.id.clone()))
                    .collect();
                Snapshot {
                    list: ListId::new("prop").expect("list"),
                    version: Version::new(version).expect("non-zero"),
                    created_at: Timestamp(version / 3),
                    state: ListState::of(&entries),
                    entries,
                    sequences: (0..version % 3)
                        .map(|k| (KeyId([k as u8; 32]), version / 7))
                        .collect(),
                    overrides: (0..version % 4).map(past_override).collect(),
                    // Files are checked when applied, not decoded.
                    origins: (0..version % 5)
                        .map(|k| Origin {
                            version: Version::new(1 + k / 2).expect("non-zero"),
                            submission: CarriedSubmission {
                                accepted_at: Timestamp(k),
                                file: vec![k as u8; k as usize],
                            },
                        })
                        .collect(),
                    extensions: ext
                        .into_iter()
                        .enumerate()
                        .map(|(i, b)| Extension {
                            // Tags 1 to 3 are typed fields.
                            tag: i as u16 * 4,
                            data: vec![b; i],
                        })
                        .collect(),
                }
            })
    }

    /// Sorts the entries as the wire groups them, so documents compare.
    pub(crate) fn in_wire_order(mut snapshot: Snapshot) -> Snapshot {
        let payload = snapshot.encode_payload().expect("encode");
        let decoded = oracle(&payload).expect("decode");
        snapshot.entries = decoded.entries;
        snapshot.overrides = decoded.overrides;
        snapshot.origins = decoded.origins;
        snapshot
    }

    proptest! {
        #[test]
        fn the_stream_reads_any_snapshot_in_any_batch_size(
            snapshot in snapshots(),
            batch in 1usize..9,
        ) {
            let payload = snapshot.encode_payload().unwrap();
            let decoded = streamed(&payload, batch).unwrap();
            prop_assert_eq!(decoded, in_wire_order(snapshot));
        }

        #[test]
        fn the_stream_accepts_exactly_what_the_serde_decoder_accepts(
            snapshot in snapshots(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..4),
        ) {
            let mut payload = snapshot.encode_payload().unwrap();
            for (at, byte, how) in edits {
                let i = at.index(payload.len() + 1);
                match how {
                    0 if i < payload.len() => payload[i] = byte,
                    1 => payload.insert(i, byte),
                    2 if i < payload.len() => { payload.remove(i); }
                    _ => payload.truncate(i),
                }
            }
            let expected = oracle(&payload);
            let actual = streamed(&payload, 3);
            prop_assert_eq!(actual.is_ok(), expected.is_ok(), "stream {:?}, serde {:?}", actual, expected);
            if let (Ok(actual), Ok(expected)) = (actual, expected) {
                prop_assert_eq!(actual, expected);
            }
        }
    }
}
