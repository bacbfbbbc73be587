//! [`ProofBundle`]: the files that prove one identifier's history, each with
//! its place in the transparency log, and the one encoding of the whole.
//!
//! ```text
//! magic "BLKP" | format 1 | reserved 0 0 0 | payload length (u64 LE) | payload
//! ```
//!
//! The bundle is not signed: everything in it that says something is a
//! signed file, and the bundle only puts them side by side. Its decoder
//! grows every sequence as its items arrive, so no length the payload
//! declares sizes an allocation: a bundle costs memory in proportion to its
//! bytes, whatever it claims.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::document::{decode_canonical, DecodeError, DocType, ListId, Version};
use crate::identifier::Identifier;
use crate::kind::Kind;
use crate::log::checkpoint::MAX_CHECKPOINT_LEN;
use crate::log::tree::inclusion_proof;
use crate::proof::ProofError;
use crate::Sha256;

/// The first four bytes of every proof bundle.
pub const MAGIC: [u8; 4] = *b"BLKP";
/// The bundle format this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 16;
/// The most hashes an inclusion proof may hold: one per level of a tree of
/// 2^64 leaves.
pub const MAX_PROOF_PATH: usize = 64;

/// A published file with its place in the log: the entry that records it
/// and the inclusion proof of that entry up to the bundle's checkpoint.
///
/// ```
/// use blocklist_core::log::tree::{leaf_hash, root_from_inclusion, root_of};
/// use blocklist_core::proof::LoggedFile;
/// let leaves: Vec<_> = (0..5u8).map(|i| leaf_hash(&[i])).collect();
/// let logged = LoggedFile::new(3, &leaves, b"the file".to_vec()).unwrap();
/// assert_eq!(root_from_inclusion(3, 5, leaves[3], &logged.path), Some(root_of(&leaves)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedFile {
    /// The index of the log entry that records the file.
    pub index: u64,
    /// The inclusion proof of that entry, from the leaf up (RFC 6962).
    pub path: Vec<Sha256>,
    /// The file, byte for byte as published.
    pub file: Vec<u8>,
}

impl LoggedFile {
    /// `file`, recorded at entry `index` of the log whose leaf hashes are
    /// `leaves`; `None` when `index` is not an entry of it.
    pub fn new(index: u64, leaves: &[Sha256], file: Vec<u8>) -> Option<LoggedFile> {
        Some(LoggedFile {
            index,
            path: inclusion_proof(index, leaves)?,
            file,
        })
    }
}

/// A log entry recording a delta, without the delta: its version's file
/// digest and size, the entry's index and its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedRecord {
    /// The index of the log entry.
    pub index: u64,
    /// The inclusion proof of that entry, from the leaf up.
    pub path: Vec<Sha256>,
    /// SHA-256 of the delta file the entry records.
    pub sha256: Sha256,
    /// Its size in bytes.
    pub size: u64,
}

/// One identifier's history, as the files that prove it.
///
/// ```
/// use blocklist_core::document::{ListId, Version};
/// use blocklist_core::proof::{LoggedFile, LoggedRecord, ProofBundle};
/// use blocklist_core::{Identifier, Kind, Sha256};
/// let bundle = ProofBundle {
///     list: ListId::new("demo").unwrap(),
///     id: Identifier::from_canonical(Kind::Domain, "shop.example").unwrap(),
///     at: Version::FIRST,
///     at_record: LoggedRecord { index: 0, path: vec![], sha256: Sha256::of(b"delta"), size: 5 },
///     roots: vec![LoggedFile { index: 0, path: vec![], file: b"a root file".to_vec() }],
///     registries: vec![], deltas: vec![],
///     checkpoint: b"blocklist/demo\n1\n...".to_vec(),
/// };
/// let bytes = bundle.to_bytes();
/// assert_eq!(&bytes[..4], b"BLKP");
/// assert_eq!(ProofBundle::from_bytes(&bytes).unwrap(), bundle);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofBundle {
    /// The list.
    pub list: ListId,
    /// The identifier whose history this is.
    pub id: Identifier,
    /// The version the history runs to: no delta after it is carried.
    pub at: Version,
    /// The log's record of the delta of version `at`, which proves that
    /// version was published (PR4).
    pub at_record: LoggedRecord,
    /// Trust roots, consecutive versions up to the root in force at the
    /// checkpoint.
    pub roots: Vec<LoggedFile>,
    /// Agency registries, every version from 1, as signed under the root in
    /// force (none before agencies are principals).
    pub registries: Vec<LoggedFile>,
    /// The deltas that touched the identifier, ascending by version, whole.
    pub deltas: Vec<LoggedFile>,
    /// The log checkpoint (a signed note) every inclusion proof leads to,
    /// with any witness cosignatures.
    pub checkpoint: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct WireLogged {
    index: u64,
    #[serde(deserialize_with = "grown")]
    path: Vec<[u8; 32]>,
    #[serde(deserialize_with = "grown")]
    file: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
struct WireRecord {
    index: u64,
    #[serde(deserialize_with = "grown")]
    path: Vec<[u8; 32]>,
    sha256: [u8; 32],
    size: u64,
}

#[derive(Serialize, Deserialize)]
struct WireBundle {
    list: String,
    kind: u16,
    value: String,
    at: u64,
    at_record: WireRecord,
    #[serde(deserialize_with = "grown")]
    roots: Vec<WireLogged>,
    #[serde(deserialize_with = "grown")]
    registries: Vec<WireLogged>,
    #[serde(deserialize_with = "grown")]
    deltas: Vec<WireLogged>,
    #[serde(deserialize_with = "grown")]
    checkpoint: Vec<u8>,
}

/// Reads a sequence growing the vector as items arrive: every item takes
/// at least one byte of input, so memory follows the input, never the
/// count the payload declares.
fn grown<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    struct Grown<T>(PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for Grown<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a sequence")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = seq.next_element()? {
                out.push(item);
            }
            Ok(out)
        }
    }

    deserializer.deserialize_seq(Grown(PhantomData))
}

impl From<&LoggedFile> for WireLogged {
    fn from(logged: &LoggedFile) -> WireLogged {
        WireLogged {
            index: logged.index,
            path: logged.path.iter().map(|h| h.0).collect(),
            file: logged.file.clone(),
        }
    }
}

impl ProofBundle {
    /// The bundle's one encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        let wire = WireBundle {
            list: self.list.as_str().to_owned(),
            kind: self.id.kind().code(),
            value: self.id.as_str().to_owned(),
            at: self.at.get(),
            at_record: WireRecord {
                index: self.at_record.index,
                path: self.at_record.path.iter().map(|h| h.0).collect(),
                sha256: self.at_record.sha256.0,
                size: self.at_record.size,
            },
            roots: self.roots.iter().map(WireLogged::from).collect(),
            registries: self.registries.iter().map(WireLogged::from).collect(),
            deltas: self.deltas.iter().map(WireLogged::from).collect(),
            checkpoint: self.checkpoint.clone(),
        };
        let payload = postcard::to_stdvec(&wire).expect("plain data encodes");
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&[FORMAT_VERSION, 0, 0, 0]);
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// Reads a bundle, refusing anything but its one encoding (PR1, PR2).
    /// Nothing is verified here: that is [`crate::proof::verify_bundle`]'s.
    pub fn from_bytes(bytes: &[u8]) -> Result<ProofBundle, ProofError> {
        let refuse = |reason: String| ProofError::Malformed { reason };
        let (header, payload) = bytes
            .split_first_chunk::<HEADER_LEN>()
            .ok_or_else(|| refuse(format!("{} bytes, shorter than its header", bytes.len())))?;
        if header[..4] != MAGIC {
            return Err(refuse("does not start with BLKP".to_owned()));
        }
        if header[4] != FORMAT_VERSION {
            return Err(refuse(format!(
                "format {} (this build reads {FORMAT_VERSION})",
                header[4]
            )));
        }
        if header[5..8] != [0, 0, 0] {
            return Err(refuse("reserved bytes are not zero".to_owned()));
        }
        let declared = u64::from_le_bytes(header[8..].try_into().expect("8 bytes"));
        if declared != payload.len() as u64 {
            return Err(refuse(format!(
                "announces a payload of {declared} bytes and holds {}",
                payload.len()
            )));
        }
        // The document type only names the decoder's errors, which are
        // told here in the bundle's words.
        let wire: WireBundle = decode_canonical(DocType::Delta, payload).map_err(|e| {
            refuse(match e {
                DecodeError::Payload { reason, .. } => {
                    format!("the payload does not decode: {reason}")
                }
                _ => "the payload is not in its canonical encoding".to_owned(),
            })
        })?;
        let list = ListId::new(&wire.list).map_err(|e| refuse(e.to_string()))?;
        let id = Identifier::from_canonical(Kind::from_code(wire.kind), &wire.value)
            .map_err(|e| refuse(format!("identifier {:?}: {e}", wire.value)))?;
        let at = Version::new(wire.at).ok_or_else(|| refuse("version 0".to_owned()))?;
        if wire.roots.is_empty() {
            return Err(refuse("carries no trust root".to_owned()));
        }
        if wire.checkpoint.len() > MAX_CHECKPOINT_LEN {
            return Err(refuse("the checkpoint is longer than any".to_owned()));
        }
        let path = |part: &str, path: Vec<[u8; 32]>| {
            if path.len() > MAX_PROOF_PATH {
                return Err(refuse(format!(
                    "{part}: an inclusion proof of {} hashes (at most {MAX_PROOF_PATH})",
                    path.len()
                )));
            }
            Ok(path.into_iter().map(Sha256).collect())
        };
        let at_record = LoggedRecord {
            index: wire.at_record.index,
            path: path("the record of its version", wire.at_record.path)?,
            sha256: Sha256(wire.at_record.sha256),
            size: wire.at_record.size,
        };
        let files = |part: &str, wire: Vec<WireLogged>| {
            wire.into_iter()
                .enumerate()
                .map(|(i, w)| {
                    Ok(LoggedFile {
                        index: w.index,
                        path: path(&format!("{part} {}", i + 1), w.path)?,
                        file: w.file,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(ProofBundle {
            list,
            id,
            at,
            roots: files("root", wire.roots)?,
            registries: files("registry", wire.registries)?,
            deltas: files("delta", wire.deltas)?,
            checkpoint: wire.checkpoint,
            at_record,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn bundle() -> ProofBundle {
        let leaves: Vec<Sha256> = (0..9u8).map(|i| Sha256::of(&[i])).collect();
        ProofBundle {
            list: ListId::new("demo").unwrap(),
            id: Identifier::from_canonical(Kind::Domain, "shop.example").unwrap(),
            at: Version::new(7).unwrap(),
            at_record: LoggedRecord {
                index: 8,
                path: inclusion_proof(8, &leaves).unwrap(),
                sha256: Sha256::of(b"delta 7"),
                size: 301,
            },
            roots: vec![LoggedFile::new(0, &leaves, b"root".to_vec()).unwrap()],
            registries: vec![],
            deltas: vec![LoggedFile::new(5, &leaves, vec![3; 40]).unwrap()],
            checkpoint: b"blocklist/demo\n9\n".to_vec(),
        }
    }

    proptest! {
        /// Arbitrary bytes, and a bundle with bytes changed: refused, or
        /// read as a bundle whose one encoding is exactly those bytes.
        #[test]
        fn any_bytes_are_refused_or_are_a_canonical_proof_bundle(
            junk in proptest::collection::vec(any::<u8>(), 0..300),
            edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4),
        ) {
            let mut changed = bundle().to_bytes();
            for (at, byte) in edits {
                let at = at % changed.len();
                changed[at] = byte;
            }
            for input in [junk, changed] {
                if let Ok(read) = ProofBundle::from_bytes(&input) {
                    prop_assert_eq!(read.to_bytes(), input);
                }
            }
        }
    }

    #[test]
    fn a_proof_bundle_round_trips_and_refuses_a_declared_length_it_does_not_hold() {
        let bytes = bundle().to_bytes();
        assert_eq!(ProofBundle::from_bytes(&bytes).unwrap(), bundle());
        for (bad, says) in [
            (bytes[..bytes.len() - 1].to_vec(), "announces a payload of"),
            ([&bytes[..], &[0]].concat(), "announces a payload of"),
            ([b"BLKL", &bytes[4..]].concat(), "does not start with BLKP"),
            (bytes[..10].to_vec(), "shorter than its header"),
        ] {
            let err = ProofBundle::from_bytes(&bad).unwrap_err().to_string();
            assert!(err.contains(says), "{says}: {err}");
        }
        // A file that claims four billion bytes in a short payload: refused
        // without allocating them.
        let mut huge = bytes.clone();
        let payload_at = HEADER_LEN;
        let wire: WireBundle = postcard::from_bytes(&huge[payload_at..]).unwrap();
        let mut claim =
            postcard::to_stdvec(&(wire.list.as_str(), wire.kind, wire.value.as_str(), wire.at))
                .unwrap();
        claim.extend_from_slice(&postcard::to_stdvec(&wire.at_record).unwrap());
        claim.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        huge.truncate(payload_at);
        huge[8..16].copy_from_slice(&(claim.len() as u64).to_le_bytes());
        huge.extend_from_slice(&claim);
        let err = ProofBundle::from_bytes(&huge).unwrap_err().to_string();
        assert!(err.contains("does not decode"), "{err}");
    }
}
