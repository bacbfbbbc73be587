//! Each document format's state digest is checked as its own commitment
//! (FORMAT.md S1): the lane sum in formats 1 and 2, the LtHash in format 3,
//! never the other; and a store follows a chain across the change.

use blocklist_core::document::envelope;
use blocklist_core::document::*;
use blocklist_core::store::{Store, StoreError};
use blocklist_core::verify::VerifyError;
use blocklist_core::*;
use proptest::prelude::*;

use crate::support::{delta, entries, file_of, snapshot, Centre};

/// `doc` sealed in envelope format `format` by the centre's key.
fn sealed<D: Document>(c: &Centre, format: u8, doc: &D) -> Vec<u8> {
    envelope::seal_format(format, D::TYPE, &doc.encode_payload().unwrap(), &[&c.key]).unwrap()
}

fn digest_mismatch(result: Result<store::Applied, StoreError>) -> bool {
    matches!(
        result,
        Err(StoreError::Refused {
            source: VerifyError::DigestMismatch { .. },
            ..
        })
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A delta applies exactly when its digest is the commitment its
    /// format names; a snapshot verifies exactly then.
    #[test]
    fn each_format_is_checked_as_its_own_commitment(
        count in 0u64..40,
        format in 1u8..=3,
        carried in prop_oneof![Just(Commitment::LaneSum), Just(Commitment::LtHash16)],
    ) {
        let c = Centre::new();
        let listed = entries(0, count);
        let state = StateAccumulator::of(&listed).state(carried);
        let fits = carried == Commitment::of_format(format);

        let ops = listed.iter().cloned().map(Op::Add).collect();
        let bytes = sealed(&c, format, &delta(1, ops, state));
        let verified = c.verifier.delta(&bytes, None).unwrap();
        prop_assert_eq!(verified.commitment(), Commitment::of_format(format));
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("list.db"), "th-national").unwrap();
        let applied = store.apply_delta(&verified, "test");
        prop_assert_eq!(applied.is_ok(), fits, "{:?}", applied);
        prop_assert!(fits || digest_mismatch(applied));

        let mut whole = snapshot(1, listed);
        whole.state = state;
        let bytes = sealed(&c, format, &whole);
        let checked = c.verifier.snapshot(&bytes, None);
        prop_assert_eq!(checked.is_ok(), fits, "{:?}", checked.err());
        let file = c.verifier.snapshot_file(file_of(&bytes), None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("list.db"), "th-national").unwrap();
        let applied = store.apply_snapshot(&file, "test", &mut |_| {});
        prop_assert_eq!(applied.is_ok(), fits, "{:?}", applied);
    }

    /// A chain whose deltas switch from format 2 to 3 at any version (the
    /// centre upgraded there) applies whole, each delta checked by its
    /// format's rule, and leaves a store whose commitments are its entries'.
    #[test]
    fn a_chain_crossing_from_format_2_to_3_applies(
        deltas in 1u64..6,
        switch in 1u64..7,
    ) {
        let c = Centre::new();
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path().join("list.db"), "th-national").unwrap();
        let mut held = StateAccumulator::default();
        let mut listed: Vec<Entry> = vec![];
        for version in 1..=deltas {
            // Each version adds ten entries and updates the first held one.
            let mut ops: Vec<Op> = entries(version * 10, 10).into_iter().map(Op::Add).collect();
            if let Some(first) = listed.first_mut() {
                held.remove(first);
                first.meta.listed_at = first.meta.listed_at.plus(1);
                ops.push(Op::Update(first.clone()));
                held.add(first);
            }
            for op in &ops {
                if let Op::Add(e) = op {
                    held.add(e);
                    listed.push(e.clone());
                }
            }
            let format = if version < switch { 2 } else { 3 };
            let state = held.state(Commitment::of_format(format));
            let bytes = sealed(&c, format, &delta(version, ops, state));
            let verified = c.verifier.delta(&bytes, Version::new(version - 1)).unwrap();
            store.apply_delta(&verified, "test").unwrap();
        }
        let integrity = store.check_integrity().unwrap();
        prop_assert_eq!(integrity, ListState::of(&listed));
        prop_assert_eq!(store.state().unwrap().commitments, StateAccumulator::of(&listed));
    }
}
