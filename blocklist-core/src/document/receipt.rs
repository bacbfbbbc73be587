//! [`Receipt`]: a replica's signed statement of what it applied (document
//! type 9).
//!
//! After each apply a daemon signs, with its own identity key, the list,
//! the version it now holds, that version's state, the transparency log
//! checkpoint it verified and when it applied it, and hands the receipt to
//! the centre (over HTTP, or through an outbox a courier carries back). The
//! centre checks it against the replica keys it registered
//! ([`crate::verify::verify_receipt`]) and against what it published, so it
//! knows which version every replica serves. See `docs/FORMAT.md`,
//! "Receipt (type 9)".

use serde::{Deserialize, Serialize};

use crate::digest::{Sha256, StateDigest};
use crate::document::{
    decode_canonical, encode_wire, DecodeError, DocType, Document, EncodeError, Extension, ListId,
    ListState, Version,
};
use crate::entry::Timestamp;
use crate::keys::KeyId;

/// The transparency log a replica had verified when it signed a receipt:
/// the size and root hash of its checkpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogPosition {
    /// How many records the checkpoint covers.
    pub size: u64,
    /// The tree's root hash over them.
    pub root: Sha256,
}

/// A replica's signed receipt for the version it applied.
///
/// ```
/// use blocklist_core::document::*;
/// use blocklist_core::*;
/// let key = SecretKey::generate().unwrap();
/// let receipt = Receipt {
///     list: ListId::new("th-national").unwrap(),
///     version: Version::new(42).unwrap(),
///     state: ListState::default(),
///     log: Some(LogPosition { size: 43, root: Sha256::of(b"root") }),
///     applied_at: Timestamp(1_760_000_000),
///     replica: key.public_key().id(),
///     extensions: vec![],
/// };
/// let bytes = receipt.encode_payload().unwrap();
/// assert_eq!(Receipt::decode_payload(&bytes).unwrap(), receipt);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The list the replica follows.
    pub list: ListId,
    /// The version it holds after the apply.
    pub version: Version,
    /// The list's state at that version, as the replica computed it.
    pub state: ListState,
    /// The log checkpoint it verified, if the feed carries a log.
    pub log: Option<LogPosition>,
    /// When the apply committed, by the replica's clock.
    pub applied_at: Timestamp,
    /// The id of the replica's identity key, which signs the receipt.
    pub replica: KeyId,
    /// Fields added by later format revisions (kept, signed, not interpreted).
    pub extensions: Vec<Extension>,
}

#[derive(Serialize, Deserialize)]
struct WireLogPosition {
    size: u64,
    root: [u8; 32],
}

#[derive(Serialize, Deserialize)]
struct WireReceipt {
    list: String,
    version: u64,
    state_digest: [u8; 32],
    state_entries: u64,
    log: Option<WireLogPosition>,
    applied_at: u64,
    replica: [u8; 32],
    extensions: Vec<Extension>,
}

impl Document for Receipt {
    const TYPE: DocType = DocType::Receipt;

    fn encode_payload(&self) -> Result<Vec<u8>, EncodeError> {
        let wire = WireReceipt {
            list: self.list.as_str().to_owned(),
            version: self.version.get(),
            state_digest: self.state.digest.0,
            state_entries: self.state.entries,
            log: self.log.map(|log| WireLogPosition {
                size: log.size,
                root: log.root.0,
            }),
            applied_at: self.applied_at.0,
            replica: self.replica.0,
            extensions: self.extensions.clone(),
        };
        encode_wire(Self::TYPE, &wire)
    }

    fn decode_payload(payload: &[u8]) -> Result<Self, DecodeError> {
        let doc = Self::TYPE;
        let wire: WireReceipt = decode_canonical(doc, payload)?;
        Ok(Receipt {
            list: ListId::decode(doc, &wire.list)?,
            version: Version::decode(doc, wire.version)?,
            state: ListState {
                digest: StateDigest(wire.state_digest),
                entries: wire.state_entries,
            },
            log: wire.log.map(|log| LogPosition {
                size: log.size,
                root: Sha256(log.root),
            }),
            applied_at: Timestamp(wire.applied_at),
            replica: KeyId(wire.replica),
            extensions: Extension::check(doc, wire.extensions)?,
        })
    }

    fn list(&self) -> &ListId {
        &self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn receipt(version: u64, entries: u64, log: Option<u64>) -> Receipt {
        Receipt {
            list: ListId::new("demo").unwrap(),
            version: Version::new(version).unwrap(),
            state: ListState {
                digest: StateDigest([entries as u8; 32]),
                entries,
            },
            log: log.map(|size| LogPosition {
                size,
                root: Sha256::of(&size.to_le_bytes()),
            }),
            applied_at: Timestamp(version / 7),
            replica: KeyId([9; 32]),
            extensions: vec![],
        }
    }

    #[test]
    fn version_zero_is_refused() {
        let mut bytes = receipt(1, 0, None).encode_payload().unwrap();
        // list "demo" (length byte and 4 bytes), then the version.
        assert_eq!(bytes[5], 1);
        bytes[5] = 0;
        assert!(matches!(
            Receipt::decode_payload(&bytes),
            Err(DecodeError::Invalid {
                field: "version",
                ..
            })
        ));
    }

    proptest! {
        /// Any receipt round-trips to itself.
        #[test]
        fn encode_decode_is_a_round_trip(
            version in 1u64.., entries in any::<u64>(), log in any::<Option<u64>>(),
        ) {
            let doc = receipt(version, entries, log);
            let bytes = doc.encode_payload().unwrap();
            prop_assert_eq!(Receipt::decode_payload(&bytes).unwrap(), doc);
        }

        /// The decoder on arbitrary bytes, and on valid payloads with one
        /// byte changed: a refusal or a canonical document, never a panic.
        #[test]
        fn the_decoder_accepts_only_canonical_payloads(
            version in 1u64.., entries in any::<u64>(), log in any::<Option<u64>>(),
            flip in any::<(prop::sample::Index, u8)>(),
            noise in prop::collection::vec(any::<u8>(), 0..160),
        ) {
            let mut bytes = receipt(version, entries, log).encode_payload().unwrap();
            let at = flip.0.index(bytes.len());
            bytes[at] ^= flip.1;
            for input in [&bytes, &noise] {
                if let Ok(doc) = Receipt::decode_payload(input) {
                    prop_assert_eq!(&doc.encode_payload().unwrap(), input);
                }
            }
        }
    }
}
