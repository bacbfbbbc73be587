//! A published delta's head: its version, creation time and signed state,
//! read from the first bytes of the file.
//!
//! The delta's wire struct leads with `list`, `version`, `created_at`,
//! `state_digest` and `state_entries` (docs/FORMAT.md, "Delta"), so the
//! centre learns when a delta was published, or what state it signed,
//! without decoding its operations: the first delta of a 10M-entry list is
//! 200 MB, and pruning asks for its time at every publish. Only for the
//! centre's own files, listed by a manifest it verified: nothing here checks
//! a signature.

use std::fs::File;
use std::io::Read as _;

use blocklist_core::document::{envelope, DocType, FileRef, ListState, Version};
use blocklist_core::{Commitment, StateDigest, Timestamp};

use crate::centre::{CentreError, PublishDir};

/// What a delta says before its operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeltaHead {
    /// The version it produces.
    pub version: Version,
    /// When the centre made it.
    pub created_at: Timestamp,
    /// The list's state after it.
    pub state: ListState,
    /// Which commitment `state`'s digest is (by the delta's format).
    pub commitment: Commitment,
}

/// The envelope before the payload: magic, format version, type, reserved, length.
const ENVELOPE: usize = envelope::HEADER_LEN;

/// The most a head takes: the envelope, a list name (at most 64 bytes, so a
/// one-byte length), three varints of at most 10 bytes and the digest.
const MAX_HEAD: u64 = (ENVELOPE + 1 + 64 + 3 * 10 + 32) as u64;

/// Reads the head of the delta `file` lists, checking the file's size and
/// the head's version against the listing.
pub fn read(dir: &PublishDir, file: &FileRef) -> Result<DeltaHead, CentreError> {
    let rel = file.path(DocType::Delta);
    let path = dir.path().join(&rel);
    let inconsistent = |reason: String| CentreError::Inconsistent {
        file: path.display().to_string(),
        reason,
    };
    let opened = File::open(&path).map_err(CentreError::io("read", &path))?;
    let size = opened
        .metadata()
        .map_err(CentreError::io("read", &path))?
        .len();
    if size != file.size {
        return Err(inconsistent(format!(
            "is {size} bytes, listed as {}",
            file.size
        )));
    }
    let mut bytes = Vec::new();
    opened
        .take(MAX_HEAD)
        .read_to_end(&mut bytes)
        .map_err(CentreError::io("read", &path))?;
    let head =
        parse(&bytes).ok_or_else(|| inconsistent("has no readable delta head".to_owned()))?;
    if head.version != file.version {
        return Err(inconsistent(format!(
            "is version {}, listed as {}",
            head.version, file.version
        )));
    }
    Ok(head)
}

/// The head of a delta file's first bytes, or `None` if they are not one.
fn parse(bytes: &[u8]) -> Option<DeltaHead> {
    let (header, mut payload) = bytes.split_at_checked(ENVELOPE)?;
    let header = envelope::parse_header(header)
        .ok()
        .filter(|h| h.doc_type == DocType::Delta)?;
    let list_len = usize::try_from(varint(&mut payload)?).ok()?;
    payload = payload.get(list_len..)?;
    let version = Version::new(varint(&mut payload)?)?;
    let created_at = Timestamp(varint(&mut payload)?);
    let (digest, mut rest) = payload.split_at_checked(32)?;
    let entries = varint(&mut rest)?;
    Some(DeltaHead {
        version,
        created_at,
        state: ListState {
            digest: StateDigest(digest.try_into().ok()?),
            entries,
        },
        commitment: Commitment::of_format(header.format),
    })
}

/// Takes one unsigned LEB128 varint (postcard's integers) off the front of `bytes`.
fn varint(bytes: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, byte) in bytes.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f).checked_shl(7 * i as u32)?;
        if byte & 0x80 == 0 {
            *bytes = &bytes[i + 1..];
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use blocklist_core::document::{Delta, Document, ListId, Op};
    use blocklist_core::{Agency, Entry, EntryMeta, Identifier, Kind, Reason, Rules, SecretKey};

    use super::*;

    #[test]
    fn the_head_of_a_signed_delta_is_what_the_full_decode_gives() {
        let key = SecretKey::generate().unwrap();
        let ops: Vec<Op> = (0..1_000)
            .map(|i| {
                Op::Add(Entry {
                    id: Identifier::parse(
                        Kind::Domain,
                        &format!("d{i}.example"),
                        &Rules::default(),
                    )
                    .unwrap(),
                    meta: EntryMeta {
                        reason: Reason::PHISHING,
                        agency: Agency::new("th-aoc").unwrap(),
                        listed_at: Timestamp(1_700_000_000),
                        expires_at: None,
                    },
                })
            })
            .collect();
        let state = ListState::of(ops.iter().filter_map(crate::centre::chain::op_entry));
        let delta = Delta {
            list: ListId::new(&"l".repeat(64)).unwrap(),
            version: Version::new(300).unwrap(),
            created_at: Timestamp(1_733_300_000),
            ops,
            state,
            submissions: vec![],
            overrides: vec![],
            extensions: vec![],
        };
        let bytes = delta.sign(&[&key]).unwrap();
        let head = parse(&bytes[..MAX_HEAD as usize]).unwrap();
        assert_eq!(
            head,
            DeltaHead {
                version: delta.version,
                created_at: delta.created_at,
                state: delta.state,
                commitment: Commitment::CURRENT,
            }
        );
        assert_eq!(parse(&bytes[..40]), None, "a cut head is no head");
    }
}
