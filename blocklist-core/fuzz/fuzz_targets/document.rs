//! What every document decoder must do with arbitrary bytes: never panic, and
//! accept only the canonical encoding (what it accepts re-encodes to the same bytes).

#![allow(dead_code)] // each target binary uses one of these checks

use std::sync::OnceLock;

use blocklist_core::document::{envelope, Document};
use blocklist_core::verify::Verifier;
use blocklist_core::{document::ListId, document::TrustRoot, SecretKey, Timestamp};

pub fn payload_round_trips<D: Document>(data: &[u8]) {
    if let Ok(doc) = D::decode_payload(data) {
        let again = doc.encode_payload().expect("a decoded document encodes");
        assert_eq!(again, data, "{} accepted a non-canonical payload", D::TYPE);
    }
}

/// Arbitrary bytes as a whole signed file: the envelope parser and the verifier
/// must refuse them without panicking (no fuzzer forges an ed25519 signature).
pub fn envelope_is_refused_cleanly(data: &[u8]) {
    // Pinned once: signing a root per input would cost more than the checks.
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    let verifier = VERIFIER.get_or_init(|| {
        let key = SecretKey::from_seed(&[1; 32]);
        let list = ListId::new("fuzz").expect("list id");
        let root = TrustRoot::single_key(list, &key, Timestamp(0), Timestamp(u64::MAX));
        Verifier::pin(&root.sign(&[&key]).expect("sign")).expect("pin")
    });
    let _ = envelope::parse(data);
    let _ = verifier.delta(data, None);
    let _ = verifier.snapshot(data, None);
    let _ = verifier.manifest(data, Timestamp(0), None);
    let _ = verifier.check_registry(data);
    let _ = Verifier::pin(data);
}
