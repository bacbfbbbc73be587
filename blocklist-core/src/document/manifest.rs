//! [`Manifest`]: the newest version and the files that lead to it.

use serde::{Deserialize, Serialize};

use crate::digest::{Sha256, StateDigest};
use crate::document::{
    decode_canonical, encode_wire, DecodeError, DocType, Document, EncodeError, Extension, ListId,
    ListState, Version,
};
use crate::entry::Timestamp;
use crate::log::SignedCheckpoint;

/// A published file: its version, digest and size. Files are immutable and
/// named by version and digest ([`FileRef::path`]), so a cache may keep them forever.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileRef {
    /// The document's version (for a root, the root's version).
    pub version: Version,
    /// SHA-256 of the whole file.
    pub sha256: Sha256,
    /// The file's size in bytes; a client never reads more.
    pub size: u64,
}

impl FileRef {
    /// The file's path relative to the publish directory, e.g.
    /// `deltas/42-<sha256 hex>.delta`.
    ///
    /// ```
    /// use blocklist_core::document::*;
    /// use blocklist_core::Sha256;
    /// let r = FileRef { version: Version::new(42).unwrap(), sha256: Sha256([0xab; 32]), size: 10 };
    /// assert_eq!(r.path(DocType::Delta), format!("deltas/42-{}.delta", "ab".repeat(32)));
    /// ```
    pub fn path(&self, doc: DocType) -> String {
        format!(
            "{}/{}-{}.{}",
            doc.folder(),
            self.version,
            self.sha256,
            doc.name()
        )
    }
}

/// The path of the one mutable file in a publish directory.
pub const MANIFEST_PATH: &str = "manifest";

/// The document types a publish directory keeps in a folder of their own
/// (`roots/`, `deltas/`, `snapshots/`, `registries/`), each file under its immutable name.
pub const FOLDER_TYPES: [DocType; 4] = [
    DocType::Root,
    DocType::Delta,
    DocType::Snapshot,
    DocType::Registry,
];

/// The version and digest in a file name `<version>-<sha256 hex>.<type>`
/// (what [`FileRef::path`] names), if it is one in canonical form: the
/// centre, the daemon's mirror and its server accept no other spelling.
///
/// ```
/// use blocklist_core::document::*;
/// let name = format!("42-{}.delta", "ab".repeat(32));
/// assert_eq!(parse_file_name(DocType::Delta, &name).map(|(v, _)| v.get()), Some(42));
/// assert_eq!(parse_file_name(DocType::Delta, &format!("042-{}.delta", "ab".repeat(32))), None);
/// ```
pub fn parse_file_name(doc: DocType, name: &str) -> Option<(Version, Sha256)> {
    let stem = name.strip_suffix(doc.name())?.strip_suffix('.')?;
    let (version, sha) = stem.split_once('-')?;
    let sha = Sha256::from_hex(sha)?;
    if version.starts_with('0') || !version.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((Version::new(version.parse().ok()?)?, sha))
}

/// The type, version and digest of a path relative to a publish directory
/// (`deltas/<version>-<sha256>.delta`, ...), if it names a document file of
/// the layout. The manifest and anything else (`..`, hidden files) is `None`.
pub fn parse_file_path(rel: &str) -> Option<(DocType, Version, Sha256)> {
    let (folder, name) = rel.split_once('/')?;
    let doc = FOLDER_TYPES
        .into_iter()
        .find(|doc| folder == doc.folder())?;
    let (version, sha) = parse_file_name(doc, name)?;
    Some((doc, version, sha))
}

/// What a client fetches first, and often: the newest version, its state
/// digest, the files that lead to it, and an expiry. The centre re-signs it on a
/// schedule even when nothing changed, with a higher `serial`, so clients can
/// tell "no news" from a feed frozen by someone in the middle.
///
/// ```
/// use blocklist_core::document::*;
/// use blocklist_core::*;
/// let r = FileRef { version: Version::FIRST, sha256: Sha256([1; 32]), size: 300 };
/// let manifest = Manifest {
///     list: ListId::new("demo").unwrap(),
///     serial: 1,
///     version: Version::FIRST,
///     state: ListState::default(),
///     issued_at: Timestamp(1_700_000_000),
///     expires_at: Timestamp(1_700_086_400),
///     roots: vec![r],
///     deltas: vec![r],
///     snapshots: vec![],
///     registries: vec![r],
///     log: None,
///     extensions: vec![],
/// };
/// let bytes = manifest.encode_payload().unwrap();
/// assert_eq!(Manifest::decode_payload(&bytes).unwrap(), manifest);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    /// The list.
    pub list: ListId,
    /// Increases with every signing of a manifest, refreshes included.
    pub serial: u64,
    /// The newest list version.
    pub version: Version,
    /// The list's state at `version`.
    pub state: ListState,
    /// When it was signed.
    pub issued_at: Timestamp,
    /// After this, clients treat the feed as frozen.
    pub expires_at: Timestamp,
    /// Every trust root version, oldest first; the last is the current one.
    pub roots: Vec<FileRef>,
    /// The deltas still published, ascending (older ones are pruned once a snapshot covers them).
    pub deltas: Vec<FileRef>,
    /// The snapshots published, ascending.
    pub snapshots: Vec<FileRef>,
    /// Every agency registry version, oldest first; the last is the current
    /// one. Carried in extension [`REGISTRIES_EXTENSION`], so that readers of
    /// format 1 that predate registries still read the manifest.
    pub registries: Vec<FileRef>,
    /// The transparency log's checkpoint, which records every file listed
    /// here (docs/FORMAT.md, "Transparency log"). Carried in extension
    /// [`LOG_EXTENSION`]; `None` in manifests made before the log.
    pub log: Option<SignedCheckpoint>,
    /// Fields added by later format revisions (kept, signed, not
    /// interpreted), other than those this type reads into fields.
    pub extensions: Vec<Extension>,
}

/// The manifest extension tag of [`Manifest::registries`] (E1): a
/// `Vec<FileRef>`, strictly ascending, present only when not empty.
pub const REGISTRIES_EXTENSION: u16 = 1;

/// The manifest extension tag of [`Manifest::log`] (E1): the signed
/// checkpoint's bytes, as a `Vec<u8>`, present only when there is one.
pub const LOG_EXTENSION: u16 = 2;

#[derive(Serialize, Deserialize)]
struct WireFileRef {
    version: u64,
    sha256: [u8; 32],
    size: u64,
}

#[derive(Serialize, Deserialize)]
struct WireManifest {
    list: String,
    serial: u64,
    version: u64,
    state_digest: [u8; 32],
    state_entries: u64,
    issued_at: u64,
    expires_at: u64,
    roots: Vec<WireFileRef>,
    deltas: Vec<WireFileRef>,
    snapshots: Vec<WireFileRef>,
    extensions: Vec<Extension>,
}

fn refs_to_wire(refs: &[FileRef]) -> Vec<WireFileRef> {
    refs.iter()
        .map(|r| WireFileRef {
            version: r.version.get(),
            sha256: r.sha256.0,
            size: r.size,
        })
        .collect()
}

fn refs_from_wire(
    field: &'static str,
    wire: Vec<WireFileRef>,
) -> Result<Vec<FileRef>, DecodeError> {
    let doc = DocType::Manifest;
    let refs = wire
        .into_iter()
        .map(|w| {
            Ok(FileRef {
                version: Version::decode(doc, w.version)?,
                sha256: Sha256(w.sha256),
                size: w.size,
            })
        })
        .collect::<Result<Vec<_>, DecodeError>>()?;
    if refs.windows(2).any(|w| w[0].version >= w[1].version) {
        return Err(doc.invalid(field, "versions not strictly ascending"));
    }
    Ok(refs)
}

impl Document for Manifest {
    const TYPE: DocType = DocType::Manifest;

    fn encode_payload(&self) -> Result<Vec<u8>, EncodeError> {
        for (field, refs) in [
            ("roots", &self.roots),
            ("deltas", &self.deltas),
            ("snapshots", &self.snapshots),
            ("registries", &self.registries),
        ] {
            if refs.windows(2).any(|w| w[0].version >= w[1].version) {
                return Err(EncodeError::Invalid {
                    doc: Self::TYPE.name(),
                    field,
                    reason: "versions not strictly ascending".into(),
                });
            }
        }
        let wire = WireManifest {
            list: self.list.as_str().to_owned(),
            serial: self.serial,
            version: self.version.get(),
            state_digest: self.state.digest.0,
            state_entries: self.state.entries,
            issued_at: self.issued_at.0,
            expires_at: self.expires_at.0,
            roots: refs_to_wire(&self.roots),
            deltas: refs_to_wire(&self.deltas),
            snapshots: refs_to_wire(&self.snapshots),
            extensions: Extension::place(
                Self::TYPE,
                &Extension::place(
                    Self::TYPE,
                    &self.extensions,
                    LOG_EXTENSION,
                    "log",
                    self.log.as_ref().map_or(&[][..], |l| l.as_bytes()),
                )?,
                REGISTRIES_EXTENSION,
                "registries",
                &refs_to_wire(&self.registries),
            )?,
        };
        encode_wire(Self::TYPE, &wire)
    }

    fn decode_payload(payload: &[u8]) -> Result<Self, DecodeError> {
        let doc = Self::TYPE;
        let wire: WireManifest = decode_canonical(doc, payload)?;
        let mut extensions = Extension::check(doc, wire.extensions)?;
        let registries = refs_from_wire(
            "registries",
            Extension::take(doc, &mut extensions, REGISTRIES_EXTENSION, "registries")?,
        )?;
        let log = Extension::take::<u8>(doc, &mut extensions, LOG_EXTENSION, "log")?;
        let log = (!log.is_empty())
            .then(|| SignedCheckpoint::parse(&log))
            .transpose()
            .map_err(|e| doc.invalid("log", e.to_string()))?;
        Ok(Manifest {
            list: ListId::decode(doc, &wire.list)?,
            serial: wire.serial,
            version: Version::decode(doc, wire.version)?,
            state: ListState {
                digest: StateDigest(wire.state_digest),
                entries: wire.state_entries,
            },
            issued_at: Timestamp(wire.issued_at),
            expires_at: Timestamp(wire.expires_at),
            roots: refs_from_wire("roots", wire.roots)?,
            deltas: refs_from_wire("deltas", wire.deltas)?,
            snapshots: refs_from_wire("snapshots", wire.snapshots)?,
            registries,
            log,
            extensions,
        })
    }

    fn list(&self) -> &ListId {
        &self.list
    }
}
