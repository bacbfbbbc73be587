//! Overrides (W7): a removal or update decided by a threshold of the trust
//! root's override keys takes a listing out, or changes its reason and
//! expiry, without its agency's word, and the replica records it; a delta
//! whose override does not verify, or does not remove or update exactly the
//! listing it names as decided, is refused with nothing applied.

use blocklist_core::document::*;
use blocklist_core::store::{AppliedOverride, OverrideChange, StoreError};
use blocklist_core::verify::{AuthorityError, Role, VerifyError, MAX_CLOCK_SKEW};
use blocklist_core::*;
use proptest::prelude::*;

use crate::authority::{add, number, p_entry, refusal, remove, Principals};
use crate::support::{list, Centre, NOW};

const NOTE: &str = "Appeal 2026/114 upheld by the review board";

/// When the overrides are made: a second before [`Principals::publish`]
/// dates its deltas (`NOW + 20`).
const MADE_AT: Timestamp = Timestamp(NOW.0 + 19);

/// th-aoc and th-dsi registered under a root whose override keys are three
/// judges', two of whom must sign an override.
struct Board {
    p: Principals,
    judges: [SecretKey; 3],
}

impl Board {
    fn new() -> Board {
        Board::with_override_keys(true)
    }

    /// The judges, their keys named by the root (`named`) or not.
    fn with_override_keys(named: bool) -> Board {
        let judges = [(); 3].map(|()| SecretKey::generate().unwrap());
        let centre = if named {
            let keys = judges.iter().map(SecretKey::public_key).collect();
            Centre::with_override_keys(KeySet::new(keys, 2).unwrap())
        } else {
            Centre::new()
        };
        Board {
            p: Principals::with_centre(centre),
            judges,
        }
    }

    /// `decision` signed by the judges at `by`.
    fn sign(&self, decision: &Override, by: &[usize]) -> Vec<u8> {
        let keys: Vec<&SecretKey> = by.iter().map(|&j| &self.judges[j]).collect();
        decision.sign(&keys).unwrap()
    }

    /// The next delta removes `listed`, carrying `overrides`.
    fn remove(&mut self, listed: &[Entry], overrides: Vec<Vec<u8>>) -> Result<(), StoreError> {
        let changes = listed
            .iter()
            .map(|e| (Op::Remove(e.id.clone(), None), Some(e.clone())))
            .collect();
        self.p.publish_overriding(changes, vec![], overrides)
    }

    /// The replica still holds `version`, each of `listed`, and no
    /// override of them.
    fn assert_untouched(&self, version: u64, listed: &[Entry]) {
        let store = &self.p.store;
        assert_eq!(store.state().unwrap().version, Version::new(version));
        for e in listed {
            assert_eq!(store.listed(&e.id).unwrap(), vec![e.meta.clone()]);
            assert_eq!(store.overrides_of(&e.id).unwrap(), vec![]);
        }
    }
}

/// The listing `entry` is, as an override names it.
fn listing(entry: &Entry) -> ListingRef {
    ListingRef {
        id: entry.id.clone(),
        agency: entry.meta.agency.clone(),
        listed_at: entry.meta.listed_at,
    }
}

/// An upheld appeal made at [`MADE_AT`], removing `removals`.
fn decision(removals: Vec<ListingRef>) -> Override {
    Override {
        list: list(),
        made_at: MADE_AT,
        why: RemovalReason::APPEAL_UPHELD,
        note: NOTE.into(),
        removals,
        updates: vec![],
        extensions: vec![],
    }
}

/// A court's decision at [`MADE_AT`]: `updates`, and no removal.
fn updating(updates: Vec<ListingUpdate>) -> Override {
    Override {
        note: "Court order 2026/31: term shortened".into(),
        updates,
        ..decision(vec![])
    }
}

/// The update of `entry`, as held, to `reason`, expiring at `expires_at`.
fn update_of(entry: &Entry, reason: Reason, expires_at: Option<u64>) -> ListingUpdate {
    ListingUpdate {
        listing: listing(entry),
        from_reason: entry.meta.reason,
        from_expires_at: entry.meta.expires_at,
        reason,
        expires_at: expires_at.map(Timestamp),
    }
}

/// The delta's update of `entry` to the entry `update` gives it.
fn update_op(entry: &Entry, update: &ListingUpdate) -> (Op, Option<Entry>) {
    let new = Entry {
        id: entry.id.clone(),
        meta: update.meta(),
    };
    (Op::Update(new), Some(entry.clone()))
}

/// Why the verifier refused the delta's first override.
fn override_refusal(err: &AuthorityError) -> &VerifyError {
    match err {
        AuthorityError::Override { index: 0, source } => source,
        other => panic!("expected a refusal of override 0, got {other}"),
    }
}

#[test]
fn an_override_by_two_of_three_override_keys_removes_an_agencys_listing_and_is_recorded() {
    let mut b = Board::new();
    b.p.honest(
        0,
        vec![add(1, Reason::SCAM_CALL), add(2, Reason::SCAM_CALL)],
    );
    let (overridden, kept) = (b.p.entry(1), b.p.entry(2));
    let file = b.sign(&decision(vec![listing(&overridden)]), &[0, 2]);
    b.remove(std::slice::from_ref(&overridden), vec![file.clone()])
        .unwrap();
    let store = &b.p.store;
    assert_eq!(store.state().unwrap().version, Version::new(2));
    assert_eq!(store.listed(&number(1)).unwrap(), Vec::<EntryMeta>::new());
    assert_eq!(store.listed(&number(2)).unwrap(), vec![kept.meta]);
    let mut recorded = store.overrides_of(&number(1)).unwrap();
    recorded
        .iter_mut()
        .for_each(|r| r.signers.sort_by_key(|k| k.0));
    let mut signers = [&b.judges[0], &b.judges[2]].map(|j| j.public_key().id());
    signers.sort_by_key(|k| k.0);
    assert_eq!(
        recorded,
        vec![AppliedOverride {
            version: Version::new(2).unwrap(),
            listing: listing(&overridden),
            change: OverrideChange::Removed,
            made_at: MADE_AT,
            why: RemovalReason::APPEAL_UPHELD,
            note: NOTE.into(),
            signers: signers.to_vec(),
            file_sha256: Sha256::of(&file),
        }]
    );
    assert_eq!(store.overrides_of(&number(2)).unwrap(), vec![]);
}

#[test]
fn an_override_not_signed_by_a_threshold_of_override_keys_alone_is_refused_and_nothing_is_applied()
{
    let mut b = Board::new();
    b.p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let listed = b.p.entry(1);
    let overriding = decision(vec![listing(&listed)]);
    // One judge of the two needed.
    let file = b.sign(&overriding, &[1]);
    let err = refusal(b.remove(std::slice::from_ref(&listed), vec![file]));
    assert!(
        matches!(
            override_refusal(&err),
            VerifyError::ThresholdNotMet {
                role: Role::Override,
                valid: 1,
                threshold: 2,
                ..
            }
        ),
        "{err}"
    );
    // The centre's publish key, alone or beside two judges: no override key.
    let publish = &b.p.centre.key;
    let files = [vec![publish], vec![&b.judges[0], publish, &b.judges[1]]]
        .map(|signers| overriding.sign(&signers).unwrap());
    for file in files {
        let err = refusal(b.remove(std::slice::from_ref(&listed), vec![file]));
        assert!(
            matches!(
                override_refusal(&err),
                VerifyError::UnknownKey {
                    role: Role::Override,
                    ..
                }
            ),
            "{err}"
        );
    }
    b.assert_untouched(1, &[listed]);
}

#[test]
fn an_override_under_a_root_that_names_no_override_keys_is_refused() {
    let mut b = Board::with_override_keys(false);
    b.p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let listed = b.p.entry(1);
    let file = b.sign(&decision(vec![listing(&listed)]), &[0, 1]);
    let err = refusal(b.remove(std::slice::from_ref(&listed), vec![file]));
    assert!(
        matches!(override_refusal(&err), VerifyError::NoOverrideKeys { .. }),
        "{err}"
    );
    b.assert_untouched(1, &[listed]);
}

#[test]
fn an_override_naming_another_listing_time_or_agency_than_the_one_held_is_refused() {
    let mut b = Board::new();
    b.p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let listed = b.p.entry(1);
    let listed_at = |t: u64| ListingRef {
        listed_at: Timestamp(t),
        ..listing(&listed)
    };
    let t = listed.meta.listed_at.0;
    let by_dsi = ListingRef {
        agency: Agency::new("th-dsi").unwrap(),
        ..listing(&listed)
    };
    for named in [listed_at(t - 1), listed_at(t + 1)] {
        let file = b.sign(&decision(vec![named.clone()]), &[0, 1]);
        let err = refusal(b.remove(std::slice::from_ref(&listed), vec![file]));
        assert!(
            matches!(&err, AuthorityError::NotOverridden { listing, index: 0, .. } if *listing == named),
            "{err}"
        );
    }
    // An override of th-dsi's listing does not remove th-aoc's.
    {
        let file = b.sign(&decision(vec![by_dsi]), &[0, 1]);
        let err = refusal(b.remove(std::slice::from_ref(&listed), vec![file]));
        assert!(
            matches!(
                &err,
                AuthorityError::Unauthorised {
                    verb: "removes",
                    ..
                }
            ),
            "{err}"
        );
    }
    b.assert_untouched(1, &[listed]);
}

#[test]
fn a_delta_that_carries_an_override_but_keeps_or_updates_the_listing_is_refused() {
    let mut b = Board::new();
    b.p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let listed = b.p.entry(1);
    let file = b.sign(&decision(vec![listing(&listed)]), &[0, 1]);
    // No operation on the identifier: the override's removal is unmade.
    let err = refusal(b.p.publish_overriding(vec![], vec![], vec![file.clone()]));
    assert!(
        matches!(&err, AuthorityError::NotOverridden { found, .. } if found == "the delta does not remove it"),
        "{err}"
    );
    // An update in place of the removal.
    let mut updated = listed.clone();
    updated.meta.reason = Reason::FRAUD;
    let err = refusal(b.p.publish_overriding(
        vec![(Op::Update(updated), Some(listed.clone()))],
        vec![],
        vec![file],
    ));
    assert!(
        matches!(&err, AuthorityError::NotOverridden { found, .. } if found == "the delta updates it"),
        "{err}"
    );
    b.assert_untouched(1, &[listed]);
}

#[test]
fn an_override_made_after_its_delta_or_naming_an_identifier_named_again_is_refused() {
    let mut b = Board::new();
    b.p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let listed = b.p.entry(1);
    let named = listing(&listed);
    // Made more than MAX_CLOCK_SKEW after the delta that carries it (the
    // board's clock may run that far ahead of the centre's).
    let late_at = NOW.0 + 20 + MAX_CLOCK_SKEW + 1;
    let late = Override {
        made_at: Timestamp(late_at),
        ..decision(vec![named.clone()])
    };
    let err = refusal(b.remove(std::slice::from_ref(&listed), vec![b.sign(&late, &[0, 1])]));
    assert!(
        matches!(
            err,
            AuthorityError::OverrideAfterDelta {
                index: 0,
                made_at: Timestamp(at),
                created_at: Timestamp(created),
            } if at == late_at && created == NOW.0 + 20
        ),
        "{err}"
    );
    // Named by th-aoc's own carried removal too.
    let file = b.sign(&decision(vec![named.clone()]), &[0, 1]);
    let (_, own) = b.p.submission_at(0, vec![remove(1)], Timestamp(NOW.0 + 12));
    let err = refusal(b.p.publish_overriding(
        vec![(Op::Remove(number(1), None), Some(listed.clone()))],
        vec![own],
        vec![file.clone()],
    ));
    assert!(
        matches!(&err, AuthorityError::OverriddenTwice { id, index: 0 } if *id == number(1)),
        "{err}"
    );
    // Named by two overrides.
    let other = b.sign(
        &Override {
            note: "Court order 7".into(),
            ..decision(vec![named])
        },
        &[1, 2],
    );
    let err = refusal(b.remove(std::slice::from_ref(&listed), vec![file, other]));
    assert!(
        matches!(&err, AuthorityError::OverriddenTwice { index: 1, .. }),
        "{err}"
    );
    b.assert_untouched(1, &[listed]);
}

#[test]
fn a_replayed_override_is_refused_whatever_its_signatures_or_the_relistings_date() {
    let mut b = Board::new();
    b.p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let first = b.p.entry(1);
    let named = decision(vec![listing(&first)]);
    let file = b.sign(&named, &[0, 1]);
    b.remove(std::slice::from_ref(&first), vec![file.clone()])
        .unwrap();
    // th-aoc lists the number again, accepted a second later (a new
    // listing) or dated back to the old listing's time (which the old
    // override names exactly): either way the replica remembers applying
    // that decision, whichever of the judges' signatures carry it.
    for (at, signers) in [(1, [0, 1]), (0, [1, 2])] {
        let at = Timestamp(first.meta.listed_at.0 + at);
        let (submission, carried) = b.p.submission_at(0, vec![add(1, Reason::FRAUD)], at);
        let changes = b.p.judged(&submission, carried.accepted_at);
        b.p.publish(changes, vec![carried]).unwrap();
        let again = b.p.entry(1);
        let copy = b.sign(&named, &signers);
        let err = refusal(b.remove(std::slice::from_ref(&again), vec![copy]));
        assert!(
            matches!(
                err,
                AuthorityError::OverrideReplayed {
                    index: 0,
                    version: 2
                }
            ),
            "{err}"
        );
        assert_eq!(b.p.store.listed(&number(1)).unwrap(), vec![again.meta]);
        // th-aoc removes its relisting, for the next round.
        b.p.honest(0, vec![remove(1)]);
    }
    // Only the first removal is recorded.
    let recorded = b.p.store.overrides_of(&number(1)).unwrap();
    assert_eq!(
        recorded.iter().map(|r| r.version.get()).collect::<Vec<_>>(),
        [2]
    );
}

#[test]
fn a_label_listing_made_before_agencies_became_principals_is_removed_only_by_an_override() {
    let mut b = Board::new();
    // Listed under labels before registry version 1 (NOW): the labels'
    // history, which no agency's signature covers (W1).
    let before = Timestamp(NOW.0 - 100);
    let mut legacy = p_entry(3, "centre-desk", None);
    let mut lapsing = p_entry(4, "centre-desk", Some(NOW.0 + 5));
    for entry in [&mut legacy, &mut lapsing] {
        entry.meta.listed_at = before;
    }
    let adds = [&legacy, &lapsing].map(|e| (Op::Add(e.clone()), None));
    b.p.publish_dated(adds.to_vec(), vec![], vec![], before)
        .unwrap();
    // The centre may neither remove nor change it on its own (W6)...
    let err = refusal(b.p.publish(
        vec![(Op::Remove(number(3), None), Some(legacy.clone()))],
        vec![],
    ));
    assert!(
        matches!(&err, AuthorityError::Legacy { verb: "removes", label, .. } if label.as_str() == "centre-desk"),
        "{err}"
    );
    let mut changed = legacy.clone();
    changed.meta.reason = Reason::FRAUD;
    let err = refusal(b.p.publish(vec![(Op::Update(changed), Some(legacy.clone()))], vec![]));
    assert!(
        matches!(
            err,
            AuthorityError::Legacy {
                verb: "updates",
                ..
            }
        ),
        "{err}"
    );
    // ...but purges it once it expired, and an override removes it.
    b.p.publish(vec![(Op::Remove(number(4), None), Some(lapsing))], vec![])
        .unwrap();
    let file = b.sign(&decision(vec![listing(&legacy)]), &[0, 2]);
    b.remove(std::slice::from_ref(&legacy), vec![file]).unwrap();
    assert_eq!(
        b.p.store.listed(&number(3)).unwrap(),
        Vec::<EntryMeta>::new()
    );
}

#[test]
fn a_replica_started_from_a_snapshot_shows_past_overrides_and_refuses_them_again() {
    let mut b = Board::new();
    b.p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let first = b.p.entry(1);
    let file = b.sign(&decision(vec![listing(&first)]), &[0, 1]);
    b.remove(std::slice::from_ref(&first), vec![file.clone()])
        .unwrap();
    // The snapshot carries the override file and the version that applied it.
    b.p.restart_from_snapshot();
    let recorded = b.p.store.overrides_of(&number(1)).unwrap();
    assert_eq!(
        recorded
            .iter()
            .map(|r| (r.version.get(), r.signers.len()))
            .collect::<Vec<_>>(),
        [(2, 2)]
    );
    assert_eq!(recorded[0].file_sha256, Sha256::of(&file));
    // So the fresh replica refuses it carried again, even for a relisting
    // dated back to the listing it named.
    let (submission, carried) =
        b.p.submission_at(0, vec![add(1, Reason::FRAUD)], first.meta.listed_at);
    let changes = b.p.judged(&submission, carried.accepted_at);
    b.p.publish(changes, vec![carried]).unwrap();
    let again = b.p.entry(1);
    let err = refusal(b.remove(std::slice::from_ref(&again), vec![file]));
    assert!(
        matches!(
            err,
            AuthorityError::OverrideReplayed {
                index: 0,
                version: 2
            }
        ),
        "{err}"
    );
}

#[test]
fn a_legacy_listing_stays_the_centres_until_a_root_names_override_keys() {
    // No override keys: nothing but the centre could remove a legacy
    // listing, so it still may (as the release before overrides did).
    let mut b = Board::with_override_keys(false);
    let before = Timestamp(NOW.0 - 100);
    let mut legacy = p_entry(3, "centre-desk", None);
    legacy.meta.listed_at = before;
    b.p.publish_dated(
        vec![(Op::Add(legacy.clone()), None)],
        vec![],
        vec![],
        before,
    )
    .unwrap();
    b.p.publish(vec![(Op::Remove(number(3), None), Some(legacy))], vec![])
        .unwrap();
}

#[test]
fn a_delta_dated_in_the_future_cannot_purge_a_listing_that_expires_then() {
    let mut b = Board::new();
    // th-aoc lists a number until 2035 (the replica's clock is years before).
    let (submission, carried) = b.p.submission(
        0,
        vec![SubmissionOp::Add(ListingRequest {
            id: number(1),
            reason: Reason::SCAM_CALL,
            expires_at: Some(Timestamp(2_050_000_000)),
        })],
    );
    let changes = b.p.judged(&submission, carried.accepted_at);
    b.p.publish(changes, vec![carried]).unwrap();
    let listed = b.p.entry(1);
    // A delta dated after that expiry would purge it as expired (W6).
    let purge = vec![(Op::Remove(number(1), None), Some(listed.clone()))];
    let err = refusal(b.p.publish_dated(purge, vec![], vec![], Timestamp(2_060_000_000)));
    assert!(
        matches!(err, AuthorityError::MadeInTheFuture { .. }),
        "{err}"
    );
    assert_eq!(b.p.store.listed(&number(1)).unwrap(), vec![listed.meta]);
}

#[test]
fn an_override_removes_a_listing_under_a_label_no_agency_holds() {
    let mut b = Board::new();
    let label = p_entry(5, "centre-desk", None);
    b.p.publish(vec![(Op::Add(label.clone()), None)], vec![])
        .unwrap();
    let file = b.sign(&decision(vec![listing(&label)]), &[1, 2]);
    b.remove(std::slice::from_ref(&label), vec![file]).unwrap();
    assert_eq!(
        b.p.store.listed(&number(5)).unwrap(),
        Vec::<EntryMeta>::new()
    );
    let recorded = b.p.store.overrides_of(&number(5)).unwrap();
    assert_eq!(
        recorded.iter().map(|r| &r.listing).collect::<Vec<_>>(),
        [&listing(&label)]
    );
}

#[test]
fn an_override_update_changes_an_agencys_listing_which_stays_the_agencys_and_is_recorded() {
    let mut b = Board::new();
    b.p.honest(
        0,
        vec![add(1, Reason::SCAM_CALL), add(2, Reason::SCAM_CALL)],
    );
    let (listed, kept) = (b.p.entry(1), b.p.entry(2));
    // A court shortens the term and corrects the reason.
    let update = update_of(&listed, Reason::FRAUD, Some(NOW.0 + 86_400));
    let file = b.sign(&updating(vec![update.clone()]), &[0, 2]);
    b.p.publish_overriding(
        vec![update_op(&listed, &update)],
        vec![],
        vec![file.clone()],
    )
    .unwrap();
    let store = &b.p.store;
    let now = EntryMeta {
        reason: Reason::FRAUD,
        expires_at: Some(Timestamp(NOW.0 + 86_400)),
        ..listed.meta.clone()
    };
    assert_eq!(store.listed(&number(1)).unwrap(), vec![now]);
    assert_eq!(store.listed(&number(2)).unwrap(), vec![kept.meta]);
    let recorded = store.overrides_of(&number(1)).unwrap();
    assert_eq!(
        recorded
            .iter()
            .map(|r| (r.version.get(), &r.listing, r.change, r.signers.len()))
            .collect::<Vec<_>>(),
        [(
            2,
            &listing(&listed),
            OverrideChange::Updated {
                reason: Reason::FRAUD,
                expires_at: Some(Timestamp(NOW.0 + 86_400)),
            },
            2
        )]
    );
    assert_eq!(recorded[0].file_sha256, Sha256::of(&file));
    // The listing is still th-aoc's: its own update passes, and the centre
    // alone still may not change it.
    b.p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    assert_eq!(b.p.entry(1).meta.reason, Reason::SCAM_CALL);
    let mut changed = b.p.entry(1);
    changed.meta.reason = Reason::MALWARE;
    let err = refusal(b.p.publish(vec![(Op::Update(changed), Some(b.p.entry(1)))], vec![]));
    assert!(
        matches!(&err, AuthorityError::Unauthorised { verb: "updates", agency, .. } if agency.as_str() == "th-aoc"),
        "{err}"
    );
}

#[test]
fn a_delta_that_does_not_make_an_override_update_exactly_is_refused() {
    let mut b = Board::new();
    b.p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let listed = b.p.entry(1);
    let update = update_of(&listed, Reason::FRAUD, Some(NOW.0 + 86_400));
    let file = b.sign(&updating(vec![update.clone()]), &[0, 1]);
    let not_as_decided = |err: &AuthorityError| match err {
        AuthorityError::NotUpdatedAsDecided {
            update: decided,
            index: 0,
            found,
        } if **decided == update => found.clone(),
        other => panic!("expected the override's update refused, got {other}"),
    };
    // Another reason, another expiry, or none.
    for (reason, expires_at) in [
        (Reason::MALWARE, Some(NOW.0 + 86_400)),
        (Reason::FRAUD, Some(NOW.0 + 86_401)),
        (Reason::FRAUD, None),
    ] {
        let other = update_of(&listed, reason, expires_at);
        let err = refusal(b.p.publish_overriding(
            vec![update_op(&listed, &other)],
            vec![],
            vec![file.clone()],
        ));
        assert!(
            not_as_decided(&err).starts_with("the delta updates it to"),
            "{err}"
        );
    }
    // No operation on it, or its removal in place of the update.
    let err = refusal(b.p.publish_overriding(vec![], vec![], vec![file.clone()]));
    assert_eq!(not_as_decided(&err), "the delta does not update it");
    let err = refusal(b.remove(std::slice::from_ref(&listed), vec![file]));
    assert_eq!(not_as_decided(&err), "the delta removes it");
    // Naming the listing at another time than the one held.
    let stale = ListingUpdate {
        listing: ListingRef {
            listed_at: Timestamp(listed.meta.listed_at.0 - 1),
            ..listing(&listed)
        },
        ..update.clone()
    };
    let file = b.sign(&updating(vec![stale.clone()]), &[0, 1]);
    let err =
        refusal(b.p.publish_overriding(vec![update_op(&listed, &update)], vec![], vec![file]));
    assert!(
        matches!(&err, AuthorityError::NotUpdatedAsDecided { update, found, .. }
            if **update == stale && found.starts_with("the listing held is by th-aoc")),
        "{err}"
    );
    // The centre's publish key alone: no override, no update.
    let err = refusal(b.p.publish(vec![update_op(&listed, &update)], vec![]));
    assert!(
        matches!(
            &err,
            AuthorityError::Unauthorised {
                verb: "updates",
                ..
            }
        ),
        "{err}"
    );
    b.assert_untouched(1, &[listed]);
}

#[test]
fn a_replayed_override_update_is_refused_whatever_its_signatures() {
    let mut b = Board::new();
    b.p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let listed = b.p.entry(1);
    let update = update_of(&listed, Reason::FRAUD, Some(NOW.0 + 86_400));
    let decided = updating(vec![update.clone()]);
    b.p.publish_overriding(
        vec![update_op(&listed, &update)],
        vec![],
        vec![b.sign(&decided, &[0, 1])],
    )
    .unwrap();
    // th-aoc sets its own term again; the court's order carried once more
    // (by other judges' signatures) would undo it.
    b.p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let own = b.p.entry(1);
    let err = refusal(b.p.publish_overriding(
        vec![update_op(&own, &update)],
        vec![],
        vec![b.sign(&decided, &[1, 2])],
    ));
    assert!(
        matches!(
            err,
            AuthorityError::OverrideReplayed {
                index: 0,
                version: 2
            }
        ),
        "{err}"
    );
    assert_eq!(b.p.store.listed(&number(1)).unwrap(), vec![own.meta]);
}

#[test]
fn a_snapshot_holding_an_override_updated_listing_applies_and_one_matching_neither_is_refused() {
    let mut b = Board::new();
    b.p.honest(
        0,
        vec![add(1, Reason::SCAM_CALL), add(2, Reason::SCAM_CALL)],
    );
    let listed = b.p.entry(1);
    let update = update_of(&listed, Reason::FRAUD, Some(NOW.0 + 86_400));
    let file = b.sign(&updating(vec![update.clone()]), &[0, 1]);
    b.p.publish_overriding(
        vec![update_op(&listed, &update)],
        vec![],
        vec![file.clone()],
    )
    .unwrap();
    let honest = b.p.snapshot();
    let refusal_of = |b: &mut Board, snapshot: &Snapshot| match b.p.start_from(snapshot) {
        Err(StoreError::Refused {
            source: VerifyError::Authority { source },
            ..
        }) => *source,
        other => panic!("expected a refusal of authority, got {other:?}"),
    };
    let at = |snapshot: &Snapshot| {
        snapshot
            .entries
            .iter()
            .position(|e| e.id == number(1))
            .unwrap()
    };
    // Back at th-aoc's own entry, or at one neither asked for: the past
    // override's update is the newest word on the listing (W8).
    for reason in [Reason::SCAM_CALL, Reason::MALWARE] {
        let mut forged = honest.clone();
        let i = at(&forged);
        forged.entries[i].meta = EntryMeta {
            reason,
            ..listed.meta.clone()
        };
        let err = refusal_of(&mut b, &forged);
        assert!(
            matches!(&err, AuthorityError::NotAsOverridden { listing, index: 0, version: 2, .. } if **listing == update.listing),
            "{err}"
        );
    }
    // Without the past override, the entry is th-aoc's word no more.
    let mut bare = honest.clone();
    bare.overrides.clear();
    let err = refusal_of(&mut b, &bare);
    assert!(matches!(err, AuthorityError::NotAsAsked { .. }), "{err}");
    // The honest snapshot applies: the fresh replica shows the override and
    // refuses it again.
    b.p.restart_from_snapshot();
    assert_eq!(b.p.store.listed(&number(1)).unwrap(), vec![update.meta()]);
    let recorded = b.p.store.overrides_of(&number(1)).unwrap();
    assert_eq!(
        recorded.iter().map(|r| r.change).collect::<Vec<_>>(),
        [OverrideChange::Updated {
            reason: Reason::FRAUD,
            expires_at: Some(Timestamp(NOW.0 + 86_400)),
        }]
    );
    let now = b.p.entry(1);
    let again = update_of(&now, Reason::MALWARE, None);
    let err = refusal(b.p.publish_overriding(vec![update_op(&now, &again)], vec![], vec![file]));
    assert!(
        matches!(err, AuthorityError::OverrideReplayed { .. }),
        "{err}"
    );
}

#[test]
fn an_override_updates_a_label_listing_and_a_legacy_one() {
    let mut b = Board::new();
    let before = Timestamp(NOW.0 - 100);
    let mut legacy = p_entry(3, "centre-desk", None);
    legacy.meta.listed_at = before;
    b.p.publish_dated(
        vec![(Op::Add(legacy.clone()), None)],
        vec![],
        vec![],
        before,
    )
    .unwrap();
    let label = p_entry(5, "centre-desk", None);
    b.p.publish(vec![(Op::Add(label.clone()), None)], vec![])
        .unwrap();
    let updates = [&legacy, &label].map(|e| update_of(e, Reason::FRAUD, Some(NOW.0 + 500)));
    let file = b.sign(&updating(updates.to_vec()), &[1, 2]);
    let changes = vec![
        update_op(&legacy, &updates[0]),
        update_op(&label, &updates[1]),
    ];
    b.p.publish_overriding(changes, vec![], vec![file]).unwrap();
    for (e, u) in [&legacy, &label].into_iter().zip(&updates) {
        assert_eq!(b.p.store.listed(&e.id).unwrap(), vec![u.meta()]);
    }
    // A replica that starts from a snapshot takes both (no origin names
    // them; the override's update does, and is their entry).
    b.p.restart_from_snapshot();
    assert_eq!(
        b.p.store.listed(&number(3)).unwrap(),
        vec![updates[0].meta()]
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// An override whose removals all name listings the replica holds (of
    /// th-aoc, th-dsi or a label, listed at various times) removes exactly
    /// those; the same with one removal's listing time moved by any nonzero
    /// amount is refused, and nothing of it is applied.
    #[test]
    fn an_override_applies_exactly_when_every_removal_names_a_held_listing(
        held in prop::collection::btree_map(0u8..16, (0usize..3, 0u64..10), 1..8),
        chosen in prop::collection::vec(any::<bool>(), 8),
        which in any::<prop::sample::Index>(),
        moved in prop_oneof![-86_400i64..0, 1i64..86_400],
    ) {
        let mut b = Board::new();
        for (&i, &(owner, after)) in &held {
            let at = Timestamp(NOW.0 + after);
            if owner < 2 {
                let (submission, carried) = b.p.submission_at(owner, vec![add(i, Reason::SCAM_CALL)], at);
                let changes = b.p.judged(&submission, at);
                b.p.publish(changes, vec![carried]).unwrap();
            } else {
                let mut label = p_entry(i, "centre-desk", None);
                label.meta.listed_at = at;
                b.p.publish(vec![(Op::Add(label), None)], vec![]).unwrap();
            }
        }
        let listed: Vec<Entry> = held.keys().map(|&i| b.p.entry(i)).collect();
        let mut removed: Vec<Entry> = listed
            .iter()
            .zip(&chosen)
            .filter(|(_, &chosen)| chosen)
            .map(|(e, _)| e.clone())
            .collect();
        if removed.is_empty() {
            removed.push(listed[0].clone());
        }
        let named: Vec<ListingRef> = removed.iter().map(listing).collect();
        let mut stale = named.clone();
        let at = which.index(stale.len());
        stale[at].listed_at = Timestamp(stale[at].listed_at.0.checked_add_signed(moved).unwrap());

        let refused = b.remove(&removed, vec![b.sign(&decision(stale), &[0, 1])]);
        prop_assert!(
            matches!(
                refused,
                Err(StoreError::Refused {
                    source: VerifyError::Authority { ref source },
                    ..
                }) if matches!(**source, AuthorityError::NotOverridden { .. })
            ),
            "{refused:?}"
        );
        b.assert_untouched(held.len() as u64, &listed);

        b.remove(&removed, vec![b.sign(&decision(named), &[1, 2])]).unwrap();
        for e in &listed {
            let overridden = removed.contains(e);
            let recorded = b.p.store.overrides_of(&e.id).unwrap();
            prop_assert_eq!(b.p.store.listed(&e.id).unwrap().is_empty(), overridden);
            prop_assert_eq!(
                recorded.into_iter().map(|r| r.listing).collect::<Vec<_>>(),
                if overridden { vec![listing(e)] } else { vec![] }
            );
        }
    }
}

/// The refusal of `snapshot`'s authority by both readers of
/// [`Principals::start_from`].
fn snapshot_refusal(b: &mut Board, snapshot: &Snapshot) -> AuthorityError {
    match b.p.start_from(snapshot) {
        Err(StoreError::Refused {
            source: VerifyError::Authority { source },
            ..
        }) => *source,
        other => panic!("expected a refusal of authority, got {other:?}"),
    }
}

#[test]
fn a_snapshot_carrying_a_past_override_update_not_signed_by_override_keys_is_refused() {
    // The reviewer's case: the publish key alone signs a snapshot whose
    // "past override", signed by a key of no root, sets th-aoc's entry.
    let mut b = Board::new();
    b.p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let listed = b.p.entry(1);
    let update = update_of(&listed, Reason::FRAUD, Some(NOW.0 + 86_400));
    let stranger = SecretKey::generate().unwrap();
    let mut forged = b.p.snapshot();
    forged.version = Version::new(2).unwrap();
    let i = forged
        .entries
        .iter()
        .position(|e| e.id == number(1))
        .unwrap();
    forged.entries[i].meta = update.meta();
    let by_publish_key = b.p.centre.sign(&updating(vec![update.clone()]));
    for file in [
        updating(vec![update.clone()]).sign(&[&stranger]).unwrap(),
        by_publish_key,
    ] {
        forged.overrides = vec![PastOverride {
            version: Version::new(2).unwrap(),
            file,
        }];
        let err = snapshot_refusal(&mut b, &forged);
        assert!(
            matches!(
                &err,
                AuthorityError::PastOverrideUnsigned { index: 0, version: 2, source }
                    if matches!(**source, VerifyError::UnknownKey { role: Role::Override, .. })
            ),
            "{err}"
        );
    }
    // Applied to the replica's own store (a real SQLite file), it is
    // refused there too, and the store stays at version 1.
    let mut signed = forged.clone();
    signed.state = ListState::of(&signed.entries);
    let bytes = b.p.centre.sign(&signed);
    let verified =
        b.p.centre
            .verifier
            .snapshot_file(crate::support::file_of(&bytes), None)
            .unwrap();
    let err =
        b.p.store
            .apply_snapshot(&verified, "test", &mut |_| {})
            .unwrap_err();
    assert!(
        matches!(&err, StoreError::Refused { source: VerifyError::Authority { source }, .. }
            if matches!(**source, AuthorityError::PastOverrideUnsigned { index: 0, .. })),
        "{err}"
    );
    b.assert_untouched(1, &[listed]);
}

#[test]
fn a_past_override_update_signed_under_an_older_root_is_accepted_after_rotation() {
    let mut b = Board::new();
    b.p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let listed = b.p.entry(1);
    let update = update_of(&listed, Reason::FRAUD, Some(NOW.0 + 86_400));
    let file = b.sign(&updating(vec![update.clone()]), &[0, 1]);
    b.p.publish_overriding(vec![update_op(&listed, &update)], vec![], vec![file])
        .unwrap();
    // The board's keys are replaced: root 2 names new judges only.
    let new_judge = SecretKey::generate().unwrap();
    let next = TrustRoot {
        version: Version::new(2).unwrap(),
        override_keys: Some(KeySet::new(vec![new_judge.public_key()], 1).unwrap()),
        ..(**b.p.centre.verifier.root()).clone()
    };
    let next = next.sign(&[&b.p.centre.key]).unwrap();
    b.p.centre.verifier.rotate(&next).unwrap();
    b.p.restart_from_snapshot();
    assert_eq!(b.p.store.listed(&number(1)).unwrap(), vec![update.meta()]);
}

#[test]
fn an_override_update_replayed_after_a_snapshot_that_left_it_out_is_refused() {
    let mut b = Board::new();
    b.p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let listed = b.p.entry(1);
    let update = update_of(&listed, Reason::FRAUD, Some(NOW.0 + 86_400));
    let file = b.sign(&updating(vec![update.clone()]), &[0, 1]);
    b.p.publish_overriding(
        vec![update_op(&listed, &update)],
        vec![],
        vec![file.clone()],
    )
    .unwrap();
    // th-aoc sets its own entry again (its listing time kept), and a
    // snapshot without the past override starts a fresh replica, which
    // has no record of the override to refuse it by.
    b.p.honest(0, vec![add(1, Reason::MALWARE)]);
    let own = b.p.entry(1);
    assert_eq!(own.meta.listed_at, listed.meta.listed_at);
    let mut snapshot = b.p.snapshot();
    snapshot.overrides.clear();
    b.p.start_from(&snapshot).unwrap();
    // The update names the entry it replaced, which is held no more (W7).
    let err = refusal(b.p.publish_overriding(vec![update_op(&own, &update)], vec![], vec![file]));
    assert!(
        matches!(&err, AuthorityError::NotUpdatedAsDecided { index: 0, found, .. }
            if found.ends_with("it changed since")),
        "{err}"
    );
    assert_eq!(b.p.store.listed(&number(1)).unwrap(), vec![own.meta]);
}
