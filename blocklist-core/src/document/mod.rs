//! The centre's signed, versioned documents and their canonical encoding.
//!
//! Five document types travel from the centre to every client, each in the
//! same signed [`envelope`] (see `docs/FORMAT.md`):
//!
//! - [`TrustRoot`]: who may sign (root keys and publish keys, each with a threshold).
//! - [`Manifest`]: the newest version and the files that lead to it; expires, so a
//!   frozen feed is noticed.
//! - [`Delta`]: the operations that take the list from version N-1 to N.
//! - [`Snapshot`]: the whole list at version N, for bootstrap and recovery.
//! - [`Registry`]: the agencies that may report, their keys and scope; signed by root keys.
//!
//! One travels the other way, from an agency to the centre, in the same envelope:
//!
//! - [`Submission`]: an agency's adds, updates and removals, signed by one of its keys.
//!
//! And one answers it, from the centre to the agency:
//!
//! - [`Acknowledgement`]: the centre's signed receipt for an accepted submission.
//!
//! And one reports back from every replica, signed by the replica's own key:
//!
//! - [`Receipt`]: the version a replica applied, its state and log checkpoint.
//!
//! Encoding is canonical: one content has exactly one encoding, and a decoder
//! refuses any other. Nothing here checks signatures against a root: that is
//! [`crate::verify`]'s job, the only place a [`crate::verify::Verified`] document is made.

mod acknowledgement;
mod delta;
pub mod envelope;
mod error;
mod groups;
mod manifest;
mod overrides;
mod receipt;
mod registry;
mod root;
mod snapshot;
mod snapshot_writer;
mod stream;
mod submission;

use std::fmt;
use std::num::NonZeroU64;

pub use acknowledgement::Acknowledgement;
pub use delta::{
    CarriedSubmission, Delta, Op, LISTING_REMOVALS_EXTENSION, OVERRIDES_EXTENSION,
    SUBMISSIONS_EXTENSION,
};
pub use error::{DecodeError, EncodeError};
pub use manifest::{
    parse_file_name, parse_file_path, FileRef, Manifest, FOLDER_TYPES, LOG_EXTENSION,
    MANIFEST_PATH, REGISTRIES_EXTENSION,
};
pub use overrides::{
    decision_sha256, ListingRef, ListingUpdate, Override, MAX_OVERRIDE_LISTINGS, UPDATES_EXTENSION,
};
pub use receipt::{LogPosition, Receipt};
pub use registry::{
    AgencyEntry, AgencyKey, Registry, RegistryChangeError, RegistryRefusal, MAX_AGENCY_NAME,
};
pub use root::{KeySet, TrustRoot, OVERRIDE_KEYS_EXTENSION};
pub use snapshot::{
    Origin, PastOverride, Snapshot, SnapshotHead, SnapshotStream, SnapshotTail, SnapshotTailStream,
    ORIGINS_EXTENSION, PAST_OVERRIDES_EXTENSION, SEQUENCES_EXTENSION,
};
pub use snapshot_writer::{SnapshotPlan, SnapshotWriter};
pub use submission::{
    ListingRequest, RemovalReason, RemovalRequest, Submission, SubmissionOp,
    MAX_SUBMISSION_OPERATIONS,
};

use crate::commitment::{Commitment, StateAccumulator};
use crate::digest::StateDigest;
use crate::keys::Signer;

/// The document types. The code is the envelope's type byte, and the name
/// is part of every signed message, so a signature over one type is never valid
/// for another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocType {
    /// A [`TrustRoot`].
    Root,
    /// A [`Manifest`].
    Manifest,
    /// A [`Delta`].
    Delta,
    /// A [`Snapshot`].
    Snapshot,
    /// A [`Registry`].
    Registry,
    /// A [`Submission`] (an agency's, to the centre).
    Submission,
    /// An [`Acknowledgement`] (the centre's receipt for a submission).
    Acknowledgement,
    /// An [`Override`] (a removal decided over the owning agency's head).
    Override,
    /// A [`Receipt`] (a replica's, of the version it applied).
    Receipt,
}

impl DocType {
    /// The envelope's type byte.
    pub const fn code(self) -> u8 {
        match self {
            DocType::Root => 1,
            DocType::Manifest => 2,
            DocType::Delta => 3,
            DocType::Snapshot => 4,
            DocType::Registry => 5,
            DocType::Submission => 6,
            DocType::Acknowledgement => 7,
            DocType::Override => 8,
            DocType::Receipt => 9,
        }
    }

    /// The type for an envelope type byte.
    pub fn from_code(code: u8) -> Result<DocType, DecodeError> {
        match code {
            1 => Ok(DocType::Root),
            2 => Ok(DocType::Manifest),
            3 => Ok(DocType::Delta),
            4 => Ok(DocType::Snapshot),
            5 => Ok(DocType::Registry),
            6 => Ok(DocType::Submission),
            7 => Ok(DocType::Acknowledgement),
            8 => Ok(DocType::Override),
            9 => Ok(DocType::Receipt),
            code => Err(DecodeError::UnknownDocType { code }),
        }
    }

    /// The type's name, used in signed messages, file names and errors.
    pub const fn name(self) -> &'static str {
        match self {
            DocType::Root => "root",
            DocType::Manifest => "manifest",
            DocType::Delta => "delta",
            DocType::Snapshot => "snapshot",
            DocType::Registry => "registry",
            DocType::Submission => "submission",
            DocType::Acknowledgement => "acknowledgement",
            DocType::Override => "override",
            DocType::Receipt => "receipt",
        }
    }

    /// The folder of a publish directory its files live in (`roots`,
    /// `registries`, ...): the plural of its name. The manifest is the
    /// exception, a single file at [`MANIFEST_PATH`]; its plural is given
    /// only so that every type has one.
    pub const fn folder(self) -> &'static str {
        match self {
            DocType::Root => "roots",
            DocType::Manifest => "manifests",
            DocType::Delta => "deltas",
            DocType::Snapshot => "snapshots",
            DocType::Registry => "registries",
            DocType::Submission => "submissions",
            DocType::Acknowledgement => "acknowledgements",
            DocType::Override => "overrides",
            DocType::Receipt => "receipts",
        }
    }
}

impl fmt::Display for DocType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A list version: 1 for the first delta, then one more per delta. The empty
/// list before any delta has no version (`Option<Version>` is `None`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version(pub NonZeroU64);

impl Version {
    /// The first version.
    pub const FIRST: Version = Version(NonZeroU64::MIN);

    /// A version from its number; `None` for 0.
    pub const fn new(n: u64) -> Option<Version> {
        match NonZeroU64::new(n) {
            Some(v) => Some(Version(v)),
            None => None,
        }
    }

    /// The version number.
    pub const fn get(self) -> u64 {
        self.0.get()
    }

    /// The version after this one.
    pub fn next(self) -> Version {
        Version(self.0.saturating_add(1))
    }

    /// The number a delta to `self` starts from (0 for the empty list).
    pub fn base(self) -> u64 {
        self.get() - 1
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a list holds at one version, as a document says it: the digest of
/// every entry (a [`crate::Commitment`] that the document's format names),
/// and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ListState {
    /// The digest of every entry.
    pub digest: StateDigest,
    /// How many entries.
    pub entries: u64,
}

impl ListState {
    /// The state of a list holding exactly `entries`, as the documents this
    /// build writes say it ([`crate::Commitment::CURRENT`]).
    ///
    /// ```
    /// use blocklist_core::document::ListState;
    /// use blocklist_core::{Commitment, StateAccumulator};
    /// assert_eq!(ListState::of([]), StateAccumulator::default().state(Commitment::CURRENT));
    /// ```
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a crate::entry::Entry>) -> ListState {
        StateAccumulator::of(entries).state(Commitment::CURRENT)
    }
}

/// The name of one list (a centre may publish several): 1 to 64 of `a-z 0-9 . _ -`.
/// Every document carries it, so documents of one list are never applied to another
/// even when the same keys sign both.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ListId(Box<str>);

impl ListId {
    /// Checks and wraps a list name.
    ///
    /// ```
    /// use blocklist_core::document::ListId;
    /// assert!(ListId::new("th-national").is_ok());
    /// assert!(ListId::new("TH National").is_err());
    /// ```
    pub fn new(name: &str) -> Result<ListId, EncodeError> {
        let ok = (1..=64).contains(&name.len())
            && name.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            });
        if ok {
            Ok(ListId(name.into()))
        } else {
            Err(EncodeError::Invalid {
                doc: "list",
                field: "list id",
                reason: format!("{name:?} is not 1 to 64 of a-z 0-9 . _ -"),
            })
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ListId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A type that travels in a signed envelope.
pub trait Document: Sized {
    /// Its envelope type.
    const TYPE: DocType;

    /// The canonical payload bytes.
    fn encode_payload(&self) -> Result<Vec<u8>, EncodeError>;

    /// Reads a payload, refusing anything but the canonical encoding.
    fn decode_payload(payload: &[u8]) -> Result<Self, DecodeError>;

    /// The list this document belongs to.
    fn list(&self) -> &ListId;

    /// Encodes and signs the document with each of `keys` (any [`Signer`]:
    /// `&[&SecretKey]`, or `&[&dyn Signer]` to mix kinds of key).
    ///
    /// ```
    /// use blocklist_core::document::*;
    /// use blocklist_core::{SecretKey, Timestamp};
    /// let key = SecretKey::generate().unwrap();
    /// let root = TrustRoot::single_key(ListId::new("demo").unwrap(), &key, Timestamp(0), Timestamp(1 << 40));
    /// let bytes = root.sign(&[&key]).unwrap();
    /// assert_eq!(&bytes[..4], b"BLKL");
    /// ```
    fn sign<S: Signer + ?Sized>(&self, keys: &[&S]) -> Result<Vec<u8>, EncodeError> {
        envelope::seal(Self::TYPE, &self.encode_payload()?, keys)
    }
}

/// Decodes a postcard payload and checks it re-encodes to the same bytes, so
/// that each content has exactly one accepted encoding.
pub(crate) fn decode_canonical<T>(doc: DocType, payload: &[u8]) -> Result<T, DecodeError>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let value: T = postcard::from_bytes(payload).map_err(|e| DecodeError::Payload {
        doc: doc.name(),
        reason: e.to_string(),
    })?;
    let again = postcard::to_stdvec(&value).map_err(|e| DecodeError::Payload {
        doc: doc.name(),
        reason: e.to_string(),
    })?;
    if again != payload {
        return Err(DecodeError::NonCanonical { doc: doc.name() });
    }
    Ok(value)
}

/// Encodes a wire struct with postcard (which cannot fail for our types short of
/// running out of memory, reported as an encode error all the same).
pub(crate) fn encode_wire<T: serde::Serialize>(
    doc: DocType,
    wire: &T,
) -> Result<Vec<u8>, EncodeError> {
    postcard::to_stdvec(wire).map_err(|e| EncodeError::Invalid {
        doc: doc.name(),
        field: "payload",
        reason: e.to_string(),
    })
}

/// A field added by a later format revision: a tag and its bytes. Writers of
/// format 1 write none; readers keep them (they are signed) and ignore the tags
/// they do not know. Tags are strictly ascending.
#[derive(serde::Serialize, serde::Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// What the field is (assigned in `docs/FORMAT.md`).
    pub tag: u16,
    /// Its encoding.
    pub data: Vec<u8>,
}

impl Extension {
    fn check(doc: DocType, extensions: Vec<Extension>) -> Result<Vec<Extension>, DecodeError> {
        if extensions.windows(2).any(|w| w[0].tag >= w[1].tag) {
            return Err(doc.invalid("extensions", "tags not strictly ascending"));
        }
        Ok(extensions)
    }

    /// `opaque` with a typed field (`field`, carried under `tag`) in its
    /// place by tag: how a field a later revision added is written, so that
    /// readers that predate it still read the rest. An empty field is
    /// written as no extension, so one content has one encoding.
    fn place<T: serde::Serialize>(
        doc: DocType,
        opaque: &[Extension],
        tag: u16,
        field: &'static str,
        value: &[T],
    ) -> Result<Vec<Extension>, EncodeError> {
        let mut all = opaque.to_vec();
        if all.iter().any(|e| e.tag == tag) {
            return Err(EncodeError::Invalid {
                doc: doc.name(),
                field: "extensions",
                reason: format!("tag {tag} is the {field} field, not an opaque extension"),
            });
        }
        if !value.is_empty() {
            all.push(Extension {
                tag,
                data: encode_wire(doc, &value)?,
            });
            all.sort_by_key(|e| e.tag);
        }
        Ok(all)
    }

    /// Takes the typed field carried under `tag` out of `extensions`
    /// (checked strictly ascending), refusing an empty one or one not in its
    /// canonical encoding: the reverse of [`Extension::place`].
    fn take<T>(
        doc: DocType,
        extensions: &mut Vec<Extension>,
        tag: u16,
        field: &'static str,
    ) -> Result<Vec<T>, DecodeError>
    where
        T: serde::de::DeserializeOwned + serde::Serialize,
    {
        let Some(at) = extensions.iter().position(|e| e.tag == tag) else {
            return Ok(vec![]);
        };
        let value: Vec<T> = decode_canonical(doc, &extensions.remove(at).data)?;
        if value.is_empty() {
            return Err(doc.invalid(field, "an empty list is written as no extension"));
        }
        Ok(value)
    }
}

impl Version {
    fn decode(doc: DocType, n: u64) -> Result<Version, DecodeError> {
        Version::new(n).ok_or_else(|| doc.invalid("version", "is 0"))
    }
}

impl ListId {
    fn decode(doc: DocType, name: &str) -> Result<ListId, DecodeError> {
        ListId::new(name).map_err(|e| doc.invalid("list id", e.to_string()))
    }
}
