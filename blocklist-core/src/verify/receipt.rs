//! [`verify_receipt`]: a replica's receipt checked against the replica keys
//! a centre registered (`docs/FORMAT.md`, "Receipt (type 9)", RC1-RC3).
//!
//! The order: the envelope and its type (H1), exactly one signature, the key
//! registered, the signature (H3), and only then the payload (P1, RC1):
//! bytes signed by no registered key are never decoded. Then the replica
//! the payload names against the signing key, and the list (RC2). Whether
//! the version and state are the ones published is the centre's question,
//! not the document's (RC3).

use crate::digest::Sha256;
use crate::document::{envelope, DecodeError, DocType, Document, ListId, Receipt};
use crate::keys::{KeyId, PublicKey};
use crate::verify::Verified;

/// Why a receipt was refused, naming the key where known and the rule of
/// `docs/FORMAT.md` it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptError {
    /// Not a well-formed, canonical receipt (H1, P1, RC1).
    #[error("malformed receipt: {source}")]
    Malformed {
        /// What is wrong.
        source: DecodeError,
    },
    /// A well-formed document of another type.
    #[error("not a receipt: found a {found}")]
    WrongDocument {
        /// The type found.
        found: DocType,
    },
    /// None, or more than one, signature (RC2).
    #[error("a receipt carries exactly one signature, this one has {count} (RC2)")]
    SignatureCount {
        /// How many it has.
        count: usize,
    },
    /// Signed by a key no registered replica holds (RC2).
    #[error("receipt signed by key {key}, which is no registered replica's (RC2): register it with `blocklist replicas add`")]
    UnknownReplica {
        /// The signing key.
        key: KeyId,
    },
    /// The signature does not verify (H3).
    #[error("receipt of replica {key} has a bad signature (H3): changed after it was signed?")]
    BadSignature {
        /// The key.
        key: KeyId,
    },
    /// The payload names another replica than the signing key (RC2).
    #[error("receipt names replica {named}, but is signed by key {key} (RC2)")]
    ReplicaMismatch {
        /// The replica the payload names.
        named: KeyId,
        /// The signing key.
        key: KeyId,
    },
    /// A receipt for another list (RC2, G1).
    #[error(
        "receipt of replica {key} is for list {found:?}, this centre publishes {expected:?} (RC2)"
    )]
    WrongList {
        /// The signing key.
        key: KeyId,
        /// The list published.
        expected: String,
        /// The list named.
        found: String,
    },
}

/// Checks a receipt for list `list`, signed by the key `replica_key` finds
/// by its id (a centre's registered replicas).
///
/// ```
/// use blocklist_core::document::*;
/// use blocklist_core::verify::{verify_receipt, ReceiptError};
/// use blocklist_core::*;
/// let key = SecretKey::generate().unwrap();
/// let list = ListId::new("demo").unwrap();
/// let receipt = Receipt { list: list.clone(), version: Version::FIRST, state: ListState::default(),
///     log: None, applied_at: Timestamp(5), replica: key.public_key().id(), extensions: vec![] };
/// let bytes = receipt.sign(&[&key]).unwrap();
/// let registered = |id: &KeyId| (*id == key.public_key().id()).then(|| key.public_key());
/// assert_eq!(verify_receipt(&bytes, &list, registered).unwrap().version, Version::FIRST);
/// let stranger = |_: &KeyId| None;
/// assert!(matches!(verify_receipt(&bytes, &list, stranger), Err(ReceiptError::UnknownReplica { .. })));
/// ```
pub fn verify_receipt(
    bytes: &[u8],
    list: &ListId,
    replica_key: impl Fn(&KeyId) -> Option<PublicKey>,
) -> Result<Verified<Receipt>, ReceiptError> {
    let malformed = |source| ReceiptError::Malformed { source };
    let env = envelope::parse(bytes).map_err(malformed)?;
    if env.doc_type != DocType::Receipt {
        return Err(ReceiptError::WrongDocument {
            found: env.doc_type,
        });
    }
    let [signature] = env.signatures[..] else {
        return Err(ReceiptError::SignatureCount {
            count: env.signatures.len(),
        });
    };
    let key = signature.key_id;
    let public = replica_key(&key).ok_or(ReceiptError::UnknownReplica { key })?;
    if public.id() != key || !public.verifies(&env.message, &signature.bytes) {
        return Err(ReceiptError::BadSignature { key });
    }
    let doc = Receipt::decode_payload(env.payload).map_err(malformed)?;
    if doc.replica != key {
        return Err(ReceiptError::ReplicaMismatch {
            named: doc.replica,
            key,
        });
    }
    if &doc.list != list {
        return Err(ReceiptError::WrongList {
            key,
            expected: list.to_string(),
            found: doc.list.to_string(),
        });
    }
    Ok(Verified {
        doc,
        file: Sha256::of(bytes),
        format: env.format,
        authority: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{ListState, Version};
    use crate::keys::SecretKey;
    use crate::Timestamp;

    fn receipt(replica: KeyId, list: &str) -> Receipt {
        Receipt {
            list: ListId::new(list).unwrap(),
            version: Version::FIRST,
            state: ListState::default(),
            log: None,
            applied_at: Timestamp(1),
            replica,
            extensions: vec![],
        }
    }

    fn verify(bytes: &[u8], key: &SecretKey) -> Result<Verified<Receipt>, ReceiptError> {
        let public = key.public_key();
        verify_receipt(bytes, &ListId::new("demo").unwrap(), |id| {
            (*id == public.id()).then_some(public)
        })
    }

    #[test]
    fn a_receipt_naming_another_replica_is_refused() {
        let key = SecretKey::generate().unwrap();
        let bytes = receipt(KeyId([7; 32]), "demo").sign(&[&key]).unwrap();
        assert!(matches!(
            verify(&bytes, &key),
            Err(ReceiptError::ReplicaMismatch { .. })
        ));
    }

    #[test]
    fn a_receipt_of_another_list_is_refused() {
        let key = SecretKey::generate().unwrap();
        let bytes = receipt(key.public_key().id(), "other")
            .sign(&[&key])
            .unwrap();
        assert!(matches!(
            verify(&bytes, &key),
            Err(ReceiptError::WrongList { .. })
        ));
    }

    #[test]
    fn a_changed_receipt_or_two_signatures_are_refused() {
        let key = SecretKey::generate().unwrap();
        let other = SecretKey::generate().unwrap();
        let doc = receipt(key.public_key().id(), "demo");
        let mut bytes = doc.sign(&[&key]).unwrap();
        bytes[envelope::HEADER_LEN + 2] ^= 1;
        assert!(matches!(
            verify(&bytes, &key),
            Err(ReceiptError::BadSignature { .. })
        ));
        let mut signers = [&key, &other];
        signers.sort_by_key(|k| k.public_key().id());
        let twice = doc.sign(&signers).unwrap();
        assert!(matches!(
            verify(&twice, &key),
            Err(ReceiptError::SignatureCount { count: 2 })
        ));
    }
}
