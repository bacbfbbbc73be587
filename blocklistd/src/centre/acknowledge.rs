//! The centre's signed acknowledgements of submissions (document type 7):
//! made by the intake service when it queues a submission, and checked
//! offline by anyone holding the trust root (`blocklist verify-ack`).

use std::num::NonZeroU64;

use blocklist_core::document::{Acknowledgement, Document, ListId, Version};
use blocklist_core::verify::{Verified, Verifier};
use blocklist_core::{Agency, Sha256, Signer, Timestamp};

use crate::centre::CentreError;

/// Signs the acknowledgement of the submission file `submission` (its
/// bytes), of `agency` and `sequence`, accepted at `accepted_at` and to be
/// published in `version` at the latest.
///
/// ```
/// use std::num::NonZeroU64;
/// use blocklist_core::document::{ListId, Version};
/// use blocklist_core::{Agency, SecretKey, Timestamp};
/// use blocklistd::centre::acknowledge;
/// let key = SecretKey::generate().unwrap();
/// let bytes = acknowledge::sign(&ListId::new("demo").unwrap(), b"file", &Agency::new("th-aoc").unwrap(),
///     NonZeroU64::MIN, Timestamp(5), Version::FIRST, &[&key]).unwrap();
/// assert_eq!(bytes[5], 7); // the acknowledgement's type byte
/// ```
pub fn sign(
    list: &ListId,
    submission: &[u8],
    agency: &Agency,
    sequence: NonZeroU64,
    accepted_at: Timestamp,
    version: Version,
    keys: &[&dyn Signer],
) -> Result<Vec<u8>, CentreError> {
    let ack = Acknowledgement {
        list: list.clone(),
        submission: Sha256::of(submission),
        agency: agency.clone(),
        sequence,
        accepted_at,
        version,
        extensions: vec![],
    };
    ack.sign(keys).map_err(|source| CentreError::Encode {
        what: format!("acknowledgement of submission {}", ack.submission),
        source,
    })
}

/// Checks the acknowledgement `ack` (the bytes of file `shown`) against the
/// trust root chain `roots` (pinned at the first, rotated through the rest:
/// the acknowledgement is signed by the newest one's publish keys) and, when
/// `submission` is given, that it acknowledges exactly those bytes.
pub fn check(
    roots: &[(String, Vec<u8>)],
    shown: &str,
    ack: &[u8],
    submission: Option<&[u8]>,
) -> Result<Verified<Acknowledgement>, CentreError> {
    let verify = |file: &str| {
        let file = file.to_owned();
        move |source| CentreError::Verify { file, source }
    };
    let ((first_name, first), rest) = roots
        .split_first()
        .ok_or_else(|| CentreError::usage("give the trust root with --root"))?;
    let mut verifier = Verifier::pin(first).map_err(verify(first_name))?;
    for (name, bytes) in rest {
        verifier.rotate(bytes).map_err(verify(name))?;
    }
    let verified = verifier.acknowledgement(ack).map_err(verify(shown))?;
    if let Some(bytes) = submission {
        let actual = Sha256::of(bytes);
        if actual != verified.submission {
            return Err(CentreError::Inconsistent {
                file: shown.to_owned(),
                reason: format!(
                    "acknowledges the submission of SHA-256 {}, the submission given has {actual}",
                    verified.submission
                ),
            });
        }
    }
    Ok(verified)
}
