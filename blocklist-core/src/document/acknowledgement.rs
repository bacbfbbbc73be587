//! [`Acknowledgement`]: the centre's signed receipt for a submission it
//! accepted (document type 7).
//!
//! An agency that reports an identifier needs to prove, later, that the
//! centre took the report: the acknowledgement names the submission by the
//! SHA-256 of its file, the agency and sequence it carries, when the centre
//! accepted it and the latest version it will be published in. The centre
//! signs it with its publish keys, like a delta, so anyone holding the trust
//! root can check it ([`crate::verify::Verifier::acknowledgement`]). See
//! `docs/FORMAT.md`, "Acknowledgement (type 7)".

use std::num::NonZeroU64;

use serde::{Deserialize, Serialize};

use crate::digest::Sha256;
use crate::document::{
    decode_canonical, encode_wire, DecodeError, DocType, Document, EncodeError, Extension, ListId,
    Version,
};
use crate::entry::{Agency, Timestamp};

/// The centre's signed receipt for one accepted submission.
///
/// ```
/// use std::num::NonZeroU64;
/// use blocklist_core::document::*;
/// use blocklist_core::*;
/// let ack = Acknowledgement {
///     list: ListId::new("th-national").unwrap(),
///     submission: Sha256::of(b"the submission file"),
///     agency: Agency::new("th-aoc").unwrap(),
///     sequence: NonZeroU64::new(1_760_000_000_000_000).unwrap(),
///     accepted_at: Timestamp(1_760_000_000),
///     version: Version::new(42).unwrap(),
///     extensions: vec![],
/// };
/// let bytes = ack.encode_payload().unwrap();
/// assert_eq!(Acknowledgement::decode_payload(&bytes).unwrap(), ack);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Acknowledgement {
    /// The list the submission is for.
    pub list: ListId,
    /// SHA-256 of the submission file, as the agency sent it.
    pub submission: Sha256,
    /// The agency whose key signed the submission.
    pub agency: Agency,
    /// The submission's sequence number.
    pub sequence: NonZeroU64,
    /// When the centre accepted it: the time its listings are dated by.
    pub accepted_at: Timestamp,
    /// The latest version the submission will be published in (it may be
    /// published sooner).
    pub version: Version,
    /// Fields added by later format revisions (kept, signed, not interpreted).
    pub extensions: Vec<Extension>,
}

#[derive(Serialize, Deserialize)]
struct WireAcknowledgement {
    list: String,
    submission_sha256: [u8; 32],
    agency: String,
    sequence: u64,
    accepted_at: u64,
    version: u64,
    extensions: Vec<Extension>,
}

impl Document for Acknowledgement {
    const TYPE: DocType = DocType::Acknowledgement;

    fn encode_payload(&self) -> Result<Vec<u8>, EncodeError> {
        let wire = WireAcknowledgement {
            list: self.list.as_str().to_owned(),
            submission_sha256: self.submission.0,
            agency: self.agency.as_str().to_owned(),
            sequence: self.sequence.get(),
            accepted_at: self.accepted_at.0,
            version: self.version.get(),
            extensions: self.extensions.clone(),
        };
        encode_wire(Self::TYPE, &wire)
    }

    fn decode_payload(payload: &[u8]) -> Result<Self, DecodeError> {
        let doc = Self::TYPE;
        let wire: WireAcknowledgement = decode_canonical(doc, payload)?;
        Ok(Acknowledgement {
            list: ListId::decode(doc, &wire.list)?,
            submission: Sha256(wire.submission_sha256),
            agency: Agency::new(&wire.agency).map_err(|e| doc.invalid("agency", e.to_string()))?,
            sequence: NonZeroU64::new(wire.sequence)
                .ok_or_else(|| doc.invalid("sequence", "is 0"))?,
            accepted_at: Timestamp(wire.accepted_at),
            version: Version::decode(doc, wire.version)?,
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

    fn ack(sequence: u64, version: u64, agency: &str) -> Acknowledgement {
        Acknowledgement {
            list: ListId::new("demo").unwrap(),
            submission: Sha256::of(agency.as_bytes()),
            agency: Agency::new(agency).unwrap(),
            sequence: NonZeroU64::new(sequence).unwrap(),
            accepted_at: Timestamp(sequence / 3),
            version: Version::new(version).unwrap(),
            extensions: vec![],
        }
    }

    #[test]
    fn sequence_and_version_zero_are_refused() {
        let mut bytes = ack(1, 1, "th-aoc").encode_payload().unwrap();
        // The payload ends with sequence 1, accepted_at 0, version 1, no extension.
        assert_eq!(bytes[bytes.len() - 4..], [1, 0, 1, 0]);
        let n = bytes.len();
        bytes[n - 2] = 0;
        assert!(matches!(
            Acknowledgement::decode_payload(&bytes),
            Err(DecodeError::Invalid {
                field: "version",
                ..
            })
        ));
        bytes[n - 2] = 1;
        bytes[n - 4] = 0;
        assert!(matches!(
            Acknowledgement::decode_payload(&bytes),
            Err(DecodeError::Invalid {
                field: "sequence",
                ..
            })
        ));
    }

    proptest! {
        /// Any acknowledgement round-trips to itself.
        #[test]
        fn encode_decode_is_a_round_trip(
            sequence in 1u64.., version in 1u64.., agency in "[a-z0-9][a-z0-9.-]{0,30}",
        ) {
            let doc = ack(sequence, version, &agency);
            let bytes = doc.encode_payload().unwrap();
            prop_assert_eq!(Acknowledgement::decode_payload(&bytes).unwrap(), doc);
        }

        /// The decoder on arbitrary bytes, and on valid payloads with one
        /// byte changed: a refusal or a canonical document, never a panic.
        #[test]
        fn the_decoder_accepts_only_canonical_payloads(
            sequence in 1u64.., version in 1u64..,
            flip in any::<(prop::sample::Index, u8)>(),
            noise in prop::collection::vec(any::<u8>(), 0..128),
        ) {
            let mut bytes = ack(sequence, version, "bank-004").encode_payload().unwrap();
            let at = flip.0.index(bytes.len());
            bytes[at] ^= flip.1;
            for input in [&bytes, &noise] {
                if let Ok(doc) = Acknowledgement::decode_payload(input) {
                    prop_assert_eq!(&doc.encode_payload().unwrap(), input);
                }
            }
        }
    }
}
