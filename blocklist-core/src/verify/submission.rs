//! [`verify_submission`]: an agency's submission checked against the agency
//! registry in force (`docs/FORMAT.md`, "Submission (type 6)", U1-U5).
//!
//! The order: the envelope and its type (H1), exactly one signature (U1),
//! the key's agency in the registry, the signature (H3), and only then the
//! payload (P1, U2-U4): bytes signed by no registered key are never decoded.
//! Then the list, the agency the payload names against the key's, every kind
//! against the registry at the acceptance time (revocations, scope), and
//! the expiries (U5).

use crate::digest::Sha256;
use crate::document::{
    envelope, DecodeError, DocType, Document, ListId, Registry, RegistryRefusal, Submission,
    SubmissionOp,
};
use crate::entry::{Agency, Timestamp};
use crate::identifier::Identifier;
use crate::keys::KeyId;
use crate::kind::Kind;
use crate::verify::Verified;

/// Why a submission was refused. Each variant names the agency and key
/// where known, and the rule of `docs/FORMAT.md` it breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubmissionError {
    /// Not a well-formed, canonical submission (H1, P1, U2-U4).
    #[error("malformed submission: {source}")]
    Malformed {
        /// What is wrong.
        source: DecodeError,
    },
    /// A well-formed document of another type.
    #[error("not a submission: found a {found}")]
    WrongDocument {
        /// The type found.
        found: DocType,
    },
    /// None, or more than one, signature (U1).
    #[error("a submission carries exactly one signature, this one has {count} (U1)")]
    SignatureCount {
        /// How many it has.
        count: usize,
    },
    /// The signing key is no agency's in the registry (U1).
    #[error("submission signed by key {key}, which belongs to no agency of registry version {registry_version} (U1)")]
    UnknownKey {
        /// The signing key.
        key: KeyId,
        /// The registry's version.
        registry_version: u64,
    },
    /// The signature does not verify (H3): the file was changed after signing.
    #[error("submission of agency {agency} has a bad signature by key {key} (H3): changed after it was signed?")]
    BadSignature {
        /// The agency the key belongs to.
        agency: Agency,
        /// The key.
        key: KeyId,
    },
    /// The payload names another agency than the one the key belongs to (U1).
    #[error("submission names agency {named}, but key {key} belongs to agency {owner} (U1)")]
    AgencyMismatch {
        /// The agency the payload names.
        named: Agency,
        /// The agency the key belongs to.
        owner: Agency,
        /// The key.
        key: KeyId,
    },
    /// The registry refuses the key's use: agency or key revoked, or a kind
    /// outside the agency's scope (U1).
    #[error("submission of agency {agency} signed by key {key}: {source} (U1)")]
    Unauthorised {
        /// The agency the key belongs to.
        agency: Agency,
        /// The key.
        key: KeyId,
        /// The kind refused (or the first kind used, when the key or agency is revoked).
        kind: Kind,
        /// The registry's answer.
        source: RegistryRefusal,
    },
    /// A submission for another list (U2, G1).
    #[error("submission of agency {agency} is for list {found:?}, this centre publishes {expected:?} (U2)")]
    WrongList {
        /// The agency.
        agency: Agency,
        /// The list published.
        expected: String,
        /// The list named.
        found: String,
    },
    /// A submission without operations.
    #[error("submission {sequence} of agency {agency} carries no operation (U2)")]
    Empty {
        /// The agency.
        agency: Agency,
        /// Its sequence number.
        sequence: u64,
    },
    /// An add or update that would expire on arrival (U5).
    #[error("submission of agency {agency}: {} {} expires at {expires_at}, not after the time it is accepted ({accepted_at}) (U5)", .id.kind(), .id.as_str())]
    ExpiresOnArrival {
        /// The agency.
        agency: Agency,
        /// The identifier.
        id: Identifier,
        /// Its expiry.
        expires_at: Timestamp,
        /// When the centre accepts the submission.
        accepted_at: Timestamp,
    },
}

/// Checks a submission for list `list` against `registry` at `accepted_at`,
/// the time the centre accepts it (revocations and expiries are judged
/// then). The verified submission's `agency` is the agency the signing key
/// belongs to.
///
/// ```
/// use std::num::NonZeroU64;
/// use blocklist_core::document::*;
/// use blocklist_core::verify::{verify_submission, SubmissionError};
/// use blocklist_core::*;
/// let key = SecretKey::generate().unwrap();
/// let list = ListId::new("demo").unwrap();
/// let aoc = AgencyEntry::new(Agency::new("th-aoc").unwrap(), "Anti-Online Scam Centre",
///                            vec![Kind::Number], vec![key.public_key()]).unwrap();
/// let registry = Registry::new(list.clone(), Version::FIRST, Timestamp(0), vec![aoc], vec![]).unwrap();
/// let add = |kind, value: &str| SubmissionOp::Add(ListingRequest {
///     id: Identifier::from_canonical(kind, value).unwrap(), reason: Reason::FRAUD, expires_at: None });
/// let mut submission = Submission { list: list.clone(), agency: Agency::new("th-aoc").unwrap(),
///     sequence: NonZeroU64::MIN, created_at: Timestamp(5), urgent: false,
///     ops: vec![add(Kind::Number, "+66812345678")], extensions: vec![] };
/// let verified = verify_submission(&submission.sign(&[&key]).unwrap(), &registry, &list, Timestamp(10)).unwrap();
/// assert_eq!(verified.agency.as_str(), "th-aoc");
///
/// submission.ops.push(add(Kind::Domain, "scam.example"));
/// let refused = verify_submission(&submission.sign(&[&key]).unwrap(), &registry, &list, Timestamp(10));
/// assert!(matches!(refused, Err(SubmissionError::Unauthorised { kind: Kind::Domain, .. })));
/// ```
pub fn verify_submission(
    bytes: &[u8],
    registry: &Registry,
    list: &ListId,
    accepted_at: Timestamp,
) -> Result<Verified<Submission>, SubmissionError> {
    let malformed = |source| SubmissionError::Malformed { source };
    let env = envelope::parse(bytes).map_err(malformed)?;
    if env.doc_type != DocType::Submission {
        return Err(SubmissionError::WrongDocument {
            found: env.doc_type,
        });
    }
    let [signature] = env.signatures[..] else {
        return Err(SubmissionError::SignatureCount {
            count: env.signatures.len(),
        });
    };
    let key = signature.key_id;
    let (owner, agency_key) =
        registry
            .key_owner(&key)
            .ok_or_else(|| SubmissionError::UnknownKey {
                key,
                registry_version: registry.version.get(),
            })?;
    let owner = owner.id().clone();
    if !agency_key.key.verifies(&env.message, &signature.bytes) {
        return Err(SubmissionError::BadSignature { agency: owner, key });
    }
    let doc = Submission::decode_payload(env.payload).map_err(malformed)?;
    if doc.agency != owner {
        return Err(SubmissionError::AgencyMismatch {
            named: doc.agency,
            owner,
            key,
        });
    }
    if &doc.list != list {
        return Err(SubmissionError::WrongList {
            agency: owner,
            expected: list.to_string(),
            found: doc.list.to_string(),
        });
    }
    let kinds = doc.kinds();
    if kinds.is_empty() {
        return Err(SubmissionError::Empty {
            agency: owner,
            sequence: doc.sequence.get(),
        });
    }
    for kind in kinds {
        registry
            .authorise(&key, kind, accepted_at)
            .map_err(|source| SubmissionError::Unauthorised {
                agency: owner.clone(),
                key,
                kind,
                source,
            })?;
    }
    for op in &doc.ops {
        if let SubmissionOp::Add(l) | SubmissionOp::Update(l) = op {
            if let Some(expires_at) = l.expires_at.filter(|t| *t <= accepted_at) {
                return Err(SubmissionError::ExpiresOnArrival {
                    agency: owner,
                    id: l.id.clone(),
                    expires_at,
                    accepted_at,
                });
            }
        }
    }
    Ok(Verified {
        doc,
        file: Sha256::of(bytes),
        format: env.format,
        authority: None,
    })
}
