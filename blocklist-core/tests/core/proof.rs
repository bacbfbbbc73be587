//! Proof bundles built in process: the whole history verifies and reads as
//! it happened; a bundle that leaves out the listing, carries a delta that
//! does not touch the identifier, or is shown to another list's root is
//! refused, naming why; and any change to the bytes is refused or decodes
//! to a bundle that fails verification.

#[path = "../../benches/support/history.rs"]
mod history;

use blocklist_core::proof::{verify_bundle, Change, ProofBundle, ProofError, Signer};
use blocklist_core::{Reason, SecretKey, Timestamp};
use proptest::prelude::*;

fn small() -> history::History {
    history::history(40, 3)
}

#[test]
fn a_whole_history_verifies_and_reads_as_it_happened() {
    let h = small();
    // The root, the registry, then one record per version.
    assert_eq!(h.leaves.len(), 42);
    let bytes = h.bundle.to_bytes();
    assert_eq!(ProofBundle::from_bytes(&bytes).unwrap(), h.bundle);
    let history = verify_bundle(&bytes, &h.root).unwrap();
    let changes: Vec<_> = history
        .events
        .iter()
        .map(|e| match (&e.change, &e.by) {
            (Change::Listed(m), Signer::Agency { sequence: 1, .. }) => ("listed", m.reason),
            (Change::Updated(m), Signer::Agency { sequence: 2, .. }) => ("updated", m.reason),
            (Change::Removed(m), Signer::Override { keys, .. }) if keys.len() == 2 => {
                ("removed", m.reason)
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("listed", Reason::SCAM_CALL),
            ("updated", Reason::FRAUD),
            ("removed", Reason::FRAUD)
        ]
    );
    assert!(history.standing.is_empty());
    let words = history.to_words(|t| t.to_string());
    assert!(words.contains("At version 40: not listed."), "{words}");
}

#[test]
fn a_change_in_an_agencys_name_dated_before_its_registry_is_still_judged() {
    // Recorded after registry 1 and after a judged delta: whatever date the
    // centre gives it, it needs th-aoc's signature, which it lacks.
    let h = history::history_with_backdated_update(40);
    let err = verify_bundle(&h.bundle.to_bytes(), &h.root).unwrap_err();
    assert!(
        matches!(err, ProofError::Unauthorised { version, .. } if version == h.changed[1]),
        "{err}"
    );
}

#[test]
fn a_bundle_without_the_listing_is_refused_as_a_gap() {
    let h = small();
    let mut bundle = h.bundle;
    bundle.deltas.remove(0);
    let err = verify_bundle(&bundle.to_bytes(), &h.root).unwrap_err();
    assert!(
        err.to_string()
            .contains("which no change shown before made; the bundle must carry the identifier's history from its first listing"),
        "{err}"
    );
}

#[test]
fn a_delta_that_does_not_touch_the_identifier_or_comes_after_the_version_is_refused() {
    let h = small();
    let mut bundle = h.bundle.clone();
    bundle.id =
        blocklist_core::Identifier::from_canonical(blocklist_core::Kind::Number, "+66811111111")
            .unwrap();
    let err = verify_bundle(&bundle.to_bytes(), &h.root).unwrap_err();
    assert!(matches!(err, ProofError::Delta { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("does not change number:+66811111111"),
        "{err}"
    );

    let mut early = h.bundle.clone();
    early.at = h.changed[1];
    // The record of version `at` is the log's: another version's is refused.
    let err = verify_bundle(&early.to_bytes(), &h.root).unwrap_err();
    assert!(matches!(err, ProofError::NotInLog { .. }), "{err}");
}

#[test]
fn another_lists_root_is_refused() {
    let h = small();
    let stranger = SecretKey::from_seed(&[9; 32]);
    let list = blocklist_core::document::ListId::new("th-test").unwrap();
    let root = blocklist_core::document::TrustRoot::single_key(
        list,
        &stranger,
        Timestamp(0),
        Timestamp(u32::MAX.into()),
    );
    use blocklist_core::document::Document as _;
    let err = verify_bundle(&h.bundle.to_bytes(), &root.sign(&[&stranger]).unwrap()).unwrap_err();
    assert!(
        err.to_string().contains("is not the trust root given"),
        "{err}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Bytes changed, inserted or cut anywhere: refused whole, or read as a
    /// bundle that fails verification (never a panic, never a history).
    #[test]
    fn any_mutation_is_refused_or_fails_verification(
        edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let h = small();
        let good = h.bundle.to_bytes();
        let mut bytes = good.clone();
        for (at, byte, how) in edits {
            let at = at % (bytes.len() + 1);
            match how {
                0 if at < bytes.len() => bytes[at] ^= byte.max(1),
                1 => bytes.insert(at, byte),
                _ => bytes.truncate(at),
            }
        }
        prop_assume!(bytes != good);
        if let Ok(decoded) = ProofBundle::from_bytes(&bytes) {
            prop_assert_eq!(decoded.to_bytes(), bytes.clone());
        }
        prop_assert!(verify_bundle(&bytes, &h.root).is_err());
    }
}
