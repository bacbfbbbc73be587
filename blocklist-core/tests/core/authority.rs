//! Who asked for each change (docs/FORMAT.md W1-W6): a replica's store
//! applies the deltas an honest centre makes from agencies' submissions,
//! and refuses every delta that changes a registered agency's listing
//! without its word, leaving nothing applied.

use std::collections::HashMap;
use std::convert::Infallible;
use std::num::NonZeroU64;

use blocklist_core::document::*;
use blocklist_core::ownership;
use blocklist_core::store::{Store, StoreError};
use blocklist_core::verify::{AuthorityError, VerifyError};
use blocklist_core::*;
use proptest::prelude::*;

use crate::support::{file_of, list, Centre, NOW};

const AGENCIES: [&str; 2] = ["th-aoc", "th-dsi"];

/// A registry of th-aoc and th-dsi (numbers), a replica's store, and the
/// list the centre holds (the overrides tests use it too).
pub(crate) struct Principals {
    pub(crate) centre: Centre,
    keys: [SecretKey; 2],
    pub(crate) store: Store,
    _dir: tempfile::TempDir,
    held: HashMap<Identifier, Entry>,
    version: u64,
    sequence: u64,
}

pub(crate) fn number(i: u8) -> Identifier {
    Identifier::from_canonical(Kind::Number, &format!("+668123456{i:02}")).unwrap()
}

pub(crate) fn add(i: u8, reason: Reason) -> SubmissionOp {
    SubmissionOp::Add(ListingRequest {
        id: number(i),
        reason,
        expires_at: None,
    })
}

pub(crate) fn remove(i: u8) -> SubmissionOp {
    SubmissionOp::Remove(RemovalRequest {
        id: number(i),
        why: RemovalReason::CLEARED,
    })
}

pub(crate) fn refusal(result: Result<(), StoreError>) -> AuthorityError {
    match result {
        Err(StoreError::Refused {
            source: VerifyError::Authority { source },
            ..
        }) => *source,
        other => panic!("expected a refusal of authority, got {other:?}"),
    }
}

impl Principals {
    fn new() -> Principals {
        Principals::with_centre(Centre::new())
    }

    /// The registry accepted by `centre`'s verifier, and an empty store.
    pub(crate) fn with_centre(mut centre: Centre) -> Principals {
        let keys = [
            SecretKey::generate().unwrap(),
            SecretKey::generate().unwrap(),
        ];
        let agencies = AGENCIES
            .iter()
            .zip(&keys)
            .map(|(id, key)| {
                AgencyEntry::new(
                    Agency::new(id).unwrap(),
                    id,
                    vec![Kind::Number],
                    vec![key.public_key()],
                )
                .unwrap()
            })
            .collect();
        let registry = Registry::new(list(), Version::FIRST, NOW, agencies, vec![]).unwrap();
        centre
            .verifier
            .accept_registry(&centre.sign(&registry))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("list.db"), list().as_str()).unwrap();
        Principals {
            centre,
            keys,
            store,
            _dir: dir,
            held: HashMap::new(),
            version: 0,
            sequence: 0,
        }
    }

    /// The replica starts again, from a snapshot of what it holds as the
    /// centre writes one (entries, sequences, past overrides, origins): a
    /// fresh store.
    pub(crate) fn restart_from_snapshot(&mut self) {
        let snapshot = self.snapshot();
        self.start_from(&snapshot).unwrap();
    }

    /// A snapshot of what the replica holds, as the centre writes one.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let whole = self.store.read_whole().unwrap();
        Snapshot {
            list: list(),
            version: Version::new(self.version).unwrap(),
            created_at: Timestamp(NOW.0 + 20),
            entries: whole.entries,
            state: whole.state.state,
            sequences: whole.sequences,
            overrides: whole.overrides,
            origins: whole.origins,
            extensions: vec![],
        }
    }

    /// The replica starts again from `snapshot`, signed by the centre and
    /// streamed into a fresh store, once a reader holding it whole in
    /// memory agreed; it keeps its store when both refuse it.
    pub(crate) fn start_from(&mut self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let mut snapshot = snapshot.clone();
        snapshot.state = ListState::of(&snapshot.entries);
        let bytes = self.centre.sign(&snapshot);
        let in_memory = self.centre.verifier.snapshot(&bytes, None).map(drop);
        let verified = self
            .centre
            .verifier
            .snapshot_file(file_of(&bytes), None)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let mut fresh = Store::open(dir.path().join("list.db"), list().as_str()).unwrap();
        let streamed = fresh.apply_snapshot(&verified, "test", &mut |_| {});
        match (in_memory, streamed) {
            (Ok(()), Ok(_)) => {
                self.store = fresh;
                self._dir = dir;
                Ok(())
            }
            (Err(memory), Err(StoreError::Refused { source, .. })) => {
                assert_eq!(memory.to_string(), source.to_string());
                Err(StoreError::Refused {
                    path: "snapshot".into(),
                    source,
                })
            }
            (memory, streamed) => panic!("the two readers disagree: {memory:?} {streamed:?}"),
        }
    }

    /// Agency `by`'s signed submission of `ops`, accepted at `NOW + 10`.
    pub(crate) fn submission(
        &mut self,
        by: usize,
        ops: Vec<SubmissionOp>,
    ) -> (Submission, CarriedSubmission) {
        self.submission_at(by, ops, Timestamp(NOW.0 + 10))
    }

    /// Agency `by`'s signed submission of `ops`, accepted at `accepted_at`
    /// (at most `NOW + 20`, when [`Self::publish`] dates its deltas).
    pub(crate) fn submission_at(
        &mut self,
        by: usize,
        ops: Vec<SubmissionOp>,
        accepted_at: Timestamp,
    ) -> (Submission, CarriedSubmission) {
        self.sequence += 1;
        let submission = Submission {
            list: list(),
            agency: Agency::new(AGENCIES[by]).unwrap(),
            sequence: NonZeroU64::new(self.sequence).unwrap(),
            created_at: NOW,
            urgent: false,
            ops,
            extensions: vec![],
        };
        let file = submission.sign(&[&self.keys[by]]).unwrap();
        let carried = CarriedSubmission { accepted_at, file };
        (submission, carried)
    }

    /// The changes an honest centre makes of `submission` against the list.
    pub(crate) fn judged(
        &self,
        submission: &Submission,
        accepted_at: Timestamp,
    ) -> Vec<(Op, Option<Entry>)> {
        ownership::plan::<Infallible>(&submission.agency, &submission.ops, accepted_at, |id| {
            Ok(self
                .held
                .get(id)
                .map(|e| e.meta.clone())
                .into_iter()
                .collect())
        })
        .unwrap()
        .expect("the centre accepts it")
        .into_iter()
        .map(|c| (c.op, c.old))
        .collect()
    }

    /// Signs the next delta of `changes` carrying `carried` and applies it
    /// to the replica's store; on success the centre's list follows.
    pub(crate) fn publish(
        &mut self,
        changes: Vec<(Op, Option<Entry>)>,
        carried: Vec<CarriedSubmission>,
    ) -> Result<(), StoreError> {
        self.publish_overriding(changes, carried, vec![])
    }

    /// [`Self::publish`], the delta (made at `NOW + 20`) also carrying the
    /// signed override files `overrides`.
    pub(crate) fn publish_overriding(
        &mut self,
        changes: Vec<(Op, Option<Entry>)>,
        carried: Vec<CarriedSubmission>,
        overrides: Vec<Vec<u8>>,
    ) -> Result<(), StoreError> {
        self.publish_dated(changes, carried, overrides, Timestamp(NOW.0 + 20))
    }

    /// [`Self::publish_overriding`], the delta made at `created_at`.
    pub(crate) fn publish_dated(
        &mut self,
        changes: Vec<(Op, Option<Entry>)>,
        carried: Vec<CarriedSubmission>,
        overrides: Vec<Vec<u8>>,
        created_at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut held = StateAccumulator::of(self.held.values());
        for (op, old) in &changes {
            if let Some(old) = old {
                held.remove(old);
            }
            if let Op::Add(e) | Op::Update(e) = op {
                held.add(e);
            }
        }
        let state = held.state(Commitment::CURRENT);
        let delta = Delta {
            list: list(),
            version: Version::new(self.version + 1).unwrap(),
            created_at,
            ops: changes.iter().map(|(op, _)| op.clone()).collect(),
            state,
            submissions: carried,
            overrides,
            extensions: vec![],
        };
        let verified = self
            .centre
            .verifier
            .delta(&self.centre.sign(&delta), Version::new(self.version))
            .map_err(|source| StoreError::Refused {
                path: "verifier".into(),
                source,
            })?;
        self.store.apply_delta(&verified, "test")?;
        self.version += 1;
        for (op, _) in changes {
            match op {
                Op::Add(e) | Op::Update(e) => self.held.insert(e.id.clone(), e),
                Op::Remove(id, _) => self.held.remove(&id),
            };
        }
        Ok(())
    }

    /// `by` submits `ops`; the honest centre publishes them.
    pub(crate) fn honest(&mut self, by: usize, ops: Vec<SubmissionOp>) {
        let (submission, carried) = self.submission(by, ops);
        let changes = self.judged(&submission, carried.accepted_at);
        self.publish(changes, vec![carried]).unwrap();
    }

    pub(crate) fn entry(&self, i: u8) -> Entry {
        self.held[&number(i)].clone()
    }
}

#[test]
fn an_honest_centre_s_deltas_apply_and_the_rows_follow() {
    let mut p = Principals::new();
    p.honest(
        0,
        vec![add(1, Reason::SCAM_CALL), add(2, Reason::SCAM_CALL)],
    );
    p.honest(1, vec![add(3, Reason::FRAUD)]);
    p.honest(0, vec![remove(1), add(2, Reason::FRAUD)]);
    assert_eq!(p.store.listed(&number(1)).unwrap(), Vec::<EntryMeta>::new());
    assert_eq!(p.store.listed(&number(2)).unwrap()[0].reason, Reason::FRAUD);
    assert_eq!(
        p.store.listed(&number(3)).unwrap()[0].agency.as_str(),
        "th-dsi"
    );
}

#[test]
fn a_change_no_submission_asks_for_is_refused_and_nothing_is_applied() {
    let mut p = Principals::new();
    p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let listed = p.entry(1);
    // The centre alone removes th-aoc's listing.
    let err = refusal(p.publish(
        vec![(Op::Remove(number(1), None), Some(listed.clone()))],
        vec![],
    ));
    assert!(
        matches!(&err, AuthorityError::Unauthorised { agency, verb: "removes", .. } if agency.as_str() == "th-aoc"),
        "{err}"
    );
    // Or lists a number in th-dsi's name.
    let mut forged = listed.clone();
    forged.id = number(9);
    forged.meta.agency = Agency::new("th-dsi").unwrap();
    let err = refusal(p.publish(vec![(Op::Add(forged), None)], vec![]));
    assert!(
        matches!(err, AuthorityError::Unauthorised { verb: "adds", .. }),
        "{err}"
    );
    // Nothing of either applied: still version 1 with the listing.
    assert_eq!(p.store.state().unwrap().version, Version::new(1));
    assert_eq!(p.store.listed(&number(1)).unwrap(), vec![listed.meta]);
}

#[test]
fn a_delta_that_differs_from_what_its_submission_asks_is_refused() {
    let mut p = Principals::new();
    let (submission, carried) = p.submission(
        0,
        vec![add(1, Reason::SCAM_CALL), add(2, Reason::SCAM_CALL)],
    );
    let mut changes = p.judged(&submission, carried.accepted_at);
    // Another reason than the agency's.
    let mut altered = changes.clone();
    if let (Op::Add(e), _) = &mut altered[0] {
        e.meta.reason = Reason::PHISHING;
    }
    let err = refusal(p.publish(altered, vec![carried.clone()]));
    assert!(
        matches!(err, AuthorityError::NotAsked { verb: "adds", .. }),
        "{err}"
    );
    // One of the two adds left out.
    changes.pop();
    let err = refusal(p.publish(changes, vec![carried]));
    assert!(
        matches!(err, AuthorityError::Unmade { verb: "add", .. }),
        "{err}"
    );
}

#[test]
fn another_agencys_removal_a_replay_and_a_late_acceptance_are_refused() {
    let mut p = Principals::new();
    p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let listed = p.entry(1);
    let (_, dsi) = p.submission(1, vec![remove(1)]);
    let err = refusal(p.publish(
        vec![(Op::Remove(number(1), None), Some(listed.clone()))],
        vec![dsi],
    ));
    assert!(
        matches!(
            &err,
            AuthorityError::Refused {
                source: ownership::Refusal::OwnedByAnother { .. },
                ..
            }
        ),
        "{err}"
    );
    // th-aoc's own removal, carried twice in one delta and once again later.
    let (_, own) = p.submission(0, vec![remove(1)]);
    let twice = vec![own.clone(), own.clone()];
    let err = refusal(p.publish(
        vec![(Op::Remove(number(1), None), Some(listed.clone()))],
        twice,
    ));
    assert!(matches!(err, AuthorityError::NamedTwice { .. }), "{err}");
    // Two of one key's submissions out of the order it signed them.
    let (_, first) = p.submission(0, vec![add(2, Reason::SCAM_CALL)]);
    let (_, second) = p.submission(0, vec![add(3, Reason::SCAM_CALL)]);
    let (two, three) = (
        p_entry_at(2, first.accepted_at),
        p_entry_at(3, first.accepted_at),
    );
    let err = refusal(p.publish(
        vec![(Op::Add(two), None), (Op::Add(three), None)],
        vec![second, first],
    ));
    assert!(matches!(err, AuthorityError::OutOfOrder { .. }), "{err}");
    let mut late = own.clone();
    late.accepted_at = Timestamp(NOW.0 + 30);
    let err = refusal(p.publish(
        vec![(Op::Remove(number(1), None), Some(listed.clone()))],
        vec![late],
    ));
    assert!(
        matches!(err, AuthorityError::AcceptedAfterDelta { .. }),
        "{err}"
    );
    p.publish(
        vec![(Op::Remove(number(1), None), Some(listed.clone()))],
        vec![own.clone()],
    )
    .unwrap();
    p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let relisted = p.entry(1);
    let err = refusal(p.publish(
        vec![(Op::Remove(number(1), None), Some(relisted))],
        vec![own],
    ));
    assert!(matches!(err, AuthorityError::Replayed { .. }), "{err}");
}

#[test]
fn a_replica_started_from_a_snapshot_refuses_replays_of_what_came_before_it() {
    let mut p = Principals::new();
    let (submission, listing) = p.submission(0, vec![add(1, Reason::SCAM_CALL)]);
    let changes = p.judged(&submission, listing.accepted_at);
    p.publish(changes.clone(), vec![listing.clone()]).unwrap();
    p.honest(0, vec![remove(1)]);
    // The centre's snapshot of version 2 carries the sequences applied.
    assert_eq!(p.store.read_whole().unwrap().sequences.len(), 1);
    p.restart_from_snapshot();
    // th-aoc's first listing, carried again in version 3: a replay, though
    // the rules alone would take it (the number is not listed).
    let err = refusal(p.publish(changes, vec![listing]));
    assert!(matches!(err, AuthorityError::Replayed { .. }), "{err}");
}

#[test]
fn a_replica_started_from_a_snapshot_traces_every_agency_listing_to_its_submissions() {
    let mut p = Principals::new();
    p.honest(
        0,
        vec![add(1, Reason::SCAM_CALL), add(2, Reason::SCAM_CALL)],
    );
    p.honest(1, vec![add(3, Reason::FRAUD), add(4, Reason::FRAUD)]);
    p.honest(0, vec![add(2, Reason::FRAUD), remove(1)]);
    // Number 2 comes from th-aoc's first submission (its add) and its
    // third (its entry); numbers 3 and 4 from th-dsi's.
    let whole = p.store.read_whole().unwrap();
    assert_eq!(whole.origins.len(), 3);
    p.restart_from_snapshot();
    // The fresh replica recorded the same origins, so its own snapshot
    // would carry them, and it applies the deltas after.
    assert_eq!(p.store.read_whole().unwrap().origins, whole.origins);
    p.honest(1, vec![remove(3), remove(4)]);
    p.restart_from_snapshot();
    assert_eq!(p.store.read_whole().unwrap().origins.len(), 2);
}

#[test]
fn a_snapshot_that_lists_or_changes_in_an_agencys_name_without_its_word_is_refused() {
    let mut p = Principals::new();
    p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    p.honest(0, vec![add(1, Reason::FRAUD)]);
    let honest = p.snapshot();
    let trace_refusal = |p: &mut Principals, snapshot: &Snapshot| match p.start_from(snapshot) {
        Err(StoreError::Refused {
            source: VerifyError::Authority { source },
            ..
        }) => *source,
        other => panic!("expected a refusal of authority, got {other:?}"),
    };
    // A number th-aoc never submitted, listed in its name.
    let mut forged = honest.clone();
    let mut listing = p.entry(1);
    listing.id = number(9);
    forged.entries.push(listing);
    let err = trace_refusal(&mut p, &forged);
    assert!(
        matches!(&err, AuthorityError::Untraced { id, .. } if id == &number(9)),
        "{err}"
    );
    // Its listing back at the reason th-aoc changed.
    let mut rolled_back = honest.clone();
    rolled_back.entries[0].meta.reason = Reason::SCAM_CALL;
    let err = trace_refusal(&mut p, &rolled_back);
    assert!(matches!(err, AuthorityError::NotAsAsked { .. }), "{err}");
    // Dated earlier than th-aoc listed it.
    let mut backdated = honest.clone();
    backdated.entries[0].meta.listed_at = NOW;
    let err = trace_refusal(&mut p, &backdated);
    assert!(matches!(err, AuthorityError::Untraced { .. }), "{err}");
    // Without the submissions that explain it.
    let mut bare = honest.clone();
    bare.origins.clear();
    let err = trace_refusal(&mut p, &bare);
    assert!(matches!(err, AuthorityError::Untraced { .. }), "{err}");
    // An origin the snapshot's sequences do not record.
    let mut unsequenced = honest.clone();
    unsequenced.sequences.clear();
    let err = trace_refusal(&mut p, &unsequenced);
    assert!(
        matches!(err, AuthorityError::OriginAfterSequence { .. }),
        "{err}"
    );
    // Nothing applied: the replica still holds version 2, and the honest
    // snapshot applies.
    assert_eq!(p.store.state().unwrap().version, Version::new(2));
    p.start_from(&honest).unwrap();
}

#[test]
fn a_snapshot_cannot_revive_a_listing_its_own_origins_or_overrides_removed() {
    let mut p = Principals::new();
    // th-aoc lists number 1, then removes it; number 2 keeps a listing.
    let (listing, added) = p.submission(0, vec![add(1, Reason::SCAM_CALL)]);
    let changes = p.judged(&listing, added.accepted_at);
    let listed = changes[0].0.clone();
    p.publish(changes, vec![added.clone()]).unwrap();
    let (removal, removed) = p.submission(0, vec![remove(1)]);
    let changes = p.judged(&removal, removed.accepted_at);
    p.publish(changes, vec![removed.clone()]).unwrap();
    p.honest(0, vec![add(2, Reason::SCAM_CALL)]);
    let honest = p.snapshot();
    let Op::Add(listed) = listed else {
        panic!("an add")
    };
    let origin = |version: u64, submission: &CarriedSubmission| Origin {
        version: Version::new(version).unwrap(),
        submission: submission.clone(),
    };
    let refusal_of = |p: &mut Principals, snapshot: &Snapshot| match p.start_from(snapshot) {
        Err(StoreError::Refused {
            source: VerifyError::Authority { source },
            ..
        }) => *source,
        other => panic!("expected a refusal of authority, got {other:?}"),
    };
    // The listing back, with the add that made it and the removal after it.
    let mut revived = honest.clone();
    revived.entries.push(listed.clone());
    revived
        .origins
        .extend([origin(1, &added), origin(2, &removed)]);
    let err = refusal_of(&mut p, &revived);
    assert!(matches!(err, AuthorityError::Untraced { .. }), "{err}");
    // The centre's versions put the removal first: its key signed it after.
    let mut reordered = honest.clone();
    reordered.entries.push(listed.clone());
    reordered
        .origins
        .extend([origin(1, &removed), origin(2, &added)]);
    let err = refusal_of(&mut p, &reordered);
    assert!(
        matches!(err, AuthorityError::OriginOutOfOrder { .. }),
        "{err}"
    );
    // A listing a past override the snapshot carries removed.
    let judge = SecretKey::generate().unwrap();
    let decision = Override {
        list: list(),
        made_at: Timestamp(NOW.0 + 20),
        why: RemovalReason::APPEAL_UPHELD,
        note: "appeal 1".into(),
        removals: vec![ListingRef {
            id: listed.id.clone(),
            agency: listed.meta.agency.clone(),
            listed_at: listed.meta.listed_at,
        }],
        updates: vec![],
        extensions: vec![],
    };
    let mut overridden = revived.clone();
    overridden.origins = honest.origins.clone();
    overridden.origins.insert(0, origin(1, &added));
    overridden.overrides = vec![PastOverride {
        version: Version::new(2).unwrap(),
        file: decision.sign(&[&judge]).unwrap(),
    }];
    let err = refusal_of(&mut p, &overridden);
    assert!(matches!(err, AuthorityError::Revived { .. }), "{err}");
    p.start_from(&honest).unwrap();
}

#[test]
fn a_snapshot_carrying_two_origins_of_one_version_that_name_one_listing_is_refused() {
    let mut p = Principals::new();
    p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    p.honest(1, vec![add(2, Reason::FRAUD)]);
    // th-aoc's second word on number 1, claimed carried by the delta that
    // carried its first.
    let (_, again) = p.submission(0, vec![add(1, Reason::SCAM_CALL)]);
    let mut snapshot = p.snapshot();
    snapshot.origins.push(Origin {
        version: Version::FIRST,
        submission: again,
    });
    snapshot
        .sequences
        .insert(p.keys[0].public_key().id(), p.sequence);
    let err = match p.start_from(&snapshot) {
        Err(StoreError::Refused {
            source: VerifyError::Authority { source },
            ..
        }) => *source,
        other => panic!("expected a refusal of authority, got {other:?}"),
    };
    assert!(
        matches!(&err, AuthorityError::OriginNamedTwice { id, version: 1, .. } if id == &number(1)),
        "{err}"
    );
    assert_eq!(p.store.state().unwrap().version, Version::new(2));
}

/// An identifier several agencies list comes out of a snapshot's sort in
/// the order of its groups (here th-dsi's, of the lower reason, first),
/// not of its agencies: a replica still traces each listing to its own
/// agency's submission as it appends them in key order.
#[test]
fn a_snapshot_of_identifiers_several_agencies_list_traces_each_listing_to_its_agency() {
    let mut p = Principals::new();
    let (_, aoc) = p.submission(0, (1..=4).map(|i| add(i, Reason::FRAUD)).collect());
    let (_, dsi) = p.submission(1, (1..=4).map(|i| add(i, Reason::SCAM_CALL)).collect());
    let listing = |i: u8, by: usize, reason: Reason| Entry {
        id: number(i),
        meta: EntryMeta {
            reason,
            agency: Agency::new(AGENCIES[by]).unwrap(),
            listed_at: aoc.accepted_at,
            expires_at: None,
        },
    };
    let entries: Vec<Entry> = (1..=4)
        .flat_map(|i| {
            [
                listing(i, 1, Reason::SCAM_CALL),
                listing(i, 0, Reason::FRAUD),
            ]
        })
        .collect();
    let snapshot = Snapshot {
        list: list(),
        version: Version::new(2).unwrap(),
        created_at: Timestamp(NOW.0 + 20),
        state: ListState::of(&entries),
        entries,
        sequences: (0..2)
            .map(|by| (p.keys[by].public_key().id(), p.sequence))
            .collect(),
        overrides: vec![],
        origins: [aoc, dsi]
            .into_iter()
            .enumerate()
            .map(|(at, submission)| Origin {
                version: Version::new(at as u64 + 1).unwrap(),
                submission,
            })
            .collect(),
        extensions: vec![],
    };
    p.start_from(&snapshot).unwrap();
    assert_eq!(p.store.read_whole().unwrap().origins, snapshot.origins);
    let head = SnapshotHead {
        list: list(),
        version: snapshot.version,
        created_at: snapshot.created_at,
        state: ListState::default(),
    };
    let provenance = p.centre.verifier.snapshot_provenance(&head).unwrap();
    assert_eq!(p.store.untraced(&provenance).unwrap(), None);
    // th-dsi's listings answer to th-dsi's word alone.
    let mut forged = snapshot.clone();
    forged.entries[0].meta.reason = Reason::FRAUD;
    let err = refusal(p.start_from(&forged));
    assert!(
        matches!(&err, AuthorityError::NotAsAsked { id, agency, .. }
            if id == &number(1) && agency.as_str() == AGENCIES[1]),
        "{err}"
    );
}

/// Regression for the streamed origins (W8): they are read from the file as
/// it streams, each verified and its file kept as it comes, so a fault
/// found past the first must still leave nothing applied.
#[test]
fn a_snapshot_whose_origins_break_off_or_come_out_of_order_mid_stream_leaves_the_store_as_it_was() {
    let mut p = Principals::new();
    p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    p.honest(1, vec![add(2, Reason::FRAUD)]);
    let before = p.store.state().unwrap();
    let held = p.store.read_whole().unwrap();
    let mut next = p.snapshot();
    next.version = Version::new(3).unwrap();
    next.state = ListState::of(&next.entries);
    let payload = next.encode_payload().unwrap();
    // The origins' extension ends the payload: its data, and what precedes
    // its length.
    let origin = |o: &Origin| {
        postcard::to_stdvec(&(
            o.version.get(),
            o.submission.accepted_at.0,
            &o.submission.file,
        ))
        .unwrap()
    };
    let [first, second] = [origin(&next.origins[0]), origin(&next.origins[1])];
    let data = [&[2u8][..], &first, &second].concat();
    let prefix = payload[..payload.len() - data.len()]
        .strip_suffix(&postcard::to_stdvec(&data.len()).unwrap()[..])
        .expect("the origins end the payload");
    let with_origins =
        |data: Vec<u8>| [prefix, &postcard::to_stdvec(&data.len()).unwrap(), &data].concat();
    assert_eq!(with_origins(data.clone()), payload);
    let mut long_file = second.clone();
    // The second origin's file claims 200 bytes more than the extension holds.
    let at = long_file.len() - next.origins[1].submission.file.len();
    let claimed = next.origins[1].submission.file.len() + 200;
    long_file.splice(..at, {
        let mut head = postcard::to_stdvec(&(
            next.origins[1].version.get(),
            next.origins[1].submission.accepted_at.0,
        ))
        .unwrap();
        head.extend(postcard::to_stdvec(&claimed).unwrap());
        head
    });
    let cases = [
        (
            "one origin more than it holds",
            [&[3u8][..], &first, &second].concat(),
        ),
        (
            "a file past the extension's end",
            [&[2u8][..], &first, &long_file].concat(),
        ),
        ("bytes after the last origin", [&data[..], &[0]].concat()),
        (
            "origins out of order",
            [&[2u8][..], &second, &first].concat(),
        ),
    ];
    for (case, data) in cases {
        let payload = with_origins(data);
        assert!(
            Snapshot::decode_payload(&payload).is_err(),
            "{case}: the in-memory decoder refuses it too"
        );
        let bytes = envelope::seal(DocType::Snapshot, &payload, &[&p.centre.key]).unwrap();
        let verified = p
            .centre
            .verifier
            .snapshot_file(file_of(&bytes), before.version)
            .unwrap();
        let err = p
            .store
            .apply_snapshot(&verified, case, &mut |_| {})
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::Refused {
                    source: VerifyError::Malformed {
                        doc: DocType::Snapshot,
                        source: DecodeError::Truncated { .. }
                            | DecodeError::Payload { .. }
                            | DecodeError::Invalid { .. },
                    },
                    ..
                }
            ),
            "{case}: {err}"
        );
        assert_eq!(p.store.state().unwrap(), before, "{case}");
        let now = p.store.read_whole().unwrap();
        assert_eq!(
            (now.entries, now.origins),
            (held.entries.clone(), held.origins.clone()),
            "{case}"
        );
    }
    // The same origins in order apply.
    let bytes = envelope::seal(DocType::Snapshot, &payload, &[&p.centre.key]).unwrap();
    let verified = p
        .centre
        .verifier
        .snapshot_file(file_of(&bytes), before.version)
        .unwrap();
    p.store
        .apply_snapshot(&verified, "good", &mut |_| {})
        .unwrap();
    assert_eq!(p.store.read_whole().unwrap().origins, held.origins);
}

#[test]
fn a_replica_refuses_a_listing_dated_before_principals_that_it_did_not_hold() {
    let mut p = Principals::new();
    p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let mut forged = p.snapshot();
    // In th-aoc's name, dated before the registry: no origin is asked for,
    // but this replica, at a version made since, never held it.
    let mut legacy = p.entry(1);
    legacy.id = number(9);
    legacy.meta.listed_at = Timestamp(NOW.0 - 1);
    forged.entries.push(legacy);
    forged.state = ListState::of(&forged.entries);
    forged.version = Version::new(2).unwrap();
    let verified = p
        .centre
        .verifier
        .snapshot_file(file_of(&p.centre.sign(&forged)), None)
        .unwrap();
    let err = refusal(
        p.store
            .apply_snapshot(&verified, "test", &mut |_| {})
            .map(drop),
    );
    assert!(
        matches!(&err, AuthorityError::LegacyNotHeld { id, .. } if id == &number(9)),
        "{err}"
    );
    assert_eq!(p.store.state().unwrap().version, Version::new(1));
}

#[test]
fn origins_a_store_lacks_are_taken_back_from_the_submissions_deltas_carried() {
    let mut p = Principals::new();
    let (first, added) = p.submission(
        0,
        vec![add(1, Reason::SCAM_CALL), add(2, Reason::SCAM_CALL)],
    );
    let changes = p.judged(&first, added.accepted_at);
    p.publish(changes, vec![added.clone()]).unwrap();
    let (second, updated) = p.submission(0, vec![add(2, Reason::FRAUD)]);
    let changes = p.judged(&second, updated.accepted_at);
    p.publish(changes, vec![updated.clone()]).unwrap();
    let recorded = p.store.read_whole().unwrap().origins;
    // As a store made before origins were kept holds them: none.
    rusqlite::Connection::open(p.store.path())
        .unwrap()
        .execute("UPDATE entries SET added = NULL, set_by = NULL", [])
        .unwrap();
    let head = SnapshotHead {
        list: list(),
        version: Version::new(2).unwrap(),
        created_at: Timestamp(NOW.0 + 30),
        state: ListState::default(),
    };
    let provenance = p.centre.verifier.snapshot_provenance(&head).unwrap();
    assert!(p.store.untraced(&provenance).unwrap().is_some());
    let origin = |version: u64, submission: &CarriedSubmission| Origin {
        version: Version::new(version).unwrap(),
        submission: submission.clone(),
    };
    // Only the first: number 2's newest word is missing, so it stays without.
    assert_eq!(
        p.store
            .backfill_origins(&provenance, &[origin(1, &added)])
            .unwrap(),
        1
    );
    assert_eq!(
        p.store
            .backfill_origins(&provenance, &[origin(1, &added), origin(2, &updated)])
            .unwrap(),
        1
    );
    assert_eq!(p.store.untraced(&provenance).unwrap(), None);
    assert_eq!(p.store.read_whole().unwrap().origins, recorded);
    p.restart_from_snapshot();
}

#[test]
fn a_replica_without_a_registry_refuses_a_snapshot_carrying_origins() {
    let mut p = Principals::new();
    p.honest(0, vec![add(1, Reason::SCAM_CALL)]);
    let snapshot = p.snapshot();
    let bare = Centre::new();
    let bytes = bare.sign(&Snapshot {
        list: list(),
        ..snapshot
    });
    let err = bare.verifier.snapshot(&bytes, None).unwrap_err();
    assert!(
        matches!(&err, VerifyError::Authority { source } if matches!(**source, AuthorityError::OriginsWithoutRegistry { count: 1 })),
        "{err}"
    );
    let verified = bare.verifier.snapshot_file(file_of(&bytes), None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("list.db"), list().as_str()).unwrap();
    let err = store
        .apply_snapshot(&verified, "test", &mut |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("no agency registry"), "{err}");
    assert_eq!(store.state().unwrap().version, None);
}

#[test]
fn labels_no_agency_holds_and_expired_listings_are_the_centres_to_change() {
    let mut p = Principals::new();
    let mut label = p_entry(5, "centre-desk", None);
    p.publish(vec![(Op::Add(label.clone()), None)], vec![])
        .unwrap();
    label.meta.reason = Reason::FRAUD;
    let old = p.entry(5);
    p.publish(vec![(Op::Update(label.clone()), Some(old))], vec![])
        .unwrap();
    // th-aoc's listing that expired is purged without its word.
    let (submission, carried) = p.submission(
        0,
        vec![SubmissionOp::Add(ListingRequest {
            id: number(6),
            reason: Reason::SCAM_CALL,
            expires_at: Some(Timestamp(NOW.0 + 15)),
        })],
    );
    let changes = p.judged(&submission, carried.accepted_at);
    p.publish(changes, vec![carried]).unwrap();
    let expired = p.entry(6);
    p.publish(vec![(Op::Remove(number(6), None), Some(expired))], vec![])
        .unwrap();
    // A label may not take over a registered agency's listing.
    p.honest(0, vec![add(7, Reason::SCAM_CALL)]);
    let mut taken = p_entry(7, "centre-desk", None);
    taken.meta = p.entry(7).meta;
    taken.meta.agency = Agency::new("centre-desk").unwrap();
    let old = p.entry(7);
    let owner = old.meta.agency.clone();
    let err = refusal(p.publish(
        vec![
            (Op::Remove(number(7), Some(owner)), Some(old)),
            (Op::Add(taken), None),
        ],
        vec![],
    ));
    assert!(
        matches!(
            err,
            AuthorityError::Unauthorised {
                verb: "removes",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn deltas_dated_before_the_first_registry_are_the_labels_history() {
    // A replica that joins late holds the registry before it replays the
    // deltas published under labels: those are not judged (W1).
    let mut p = Principals::new();
    let mut before = p_entry(1, "th-aoc", None);
    before.meta.listed_at = Timestamp(NOW.0 - 100);
    p.publish_dated(
        vec![(Op::Add(before.clone()), None)],
        vec![],
        vec![],
        before.meta.listed_at,
    )
    .unwrap();
    // A delta dated from the registry on is judged: the label th-aoc is
    // the agency th-aoc now, and the centre alone may not remove its listing.
    let removal = vec![(Op::Remove(number(1), None), Some(before))];
    let err = refusal(p.publish_dated(removal, vec![], vec![], NOW));
    assert!(matches!(err, AuthorityError::Unauthorised { .. }), "{err}");
    // th-aoc's own removal is taken.
    p.honest(0, vec![remove(1)]);
    assert_eq!(p.store.listed(&number(1)).unwrap(), Vec::<EntryMeta>::new());
}

#[test]
fn a_listing_from_before_principals_that_its_agency_changed_since_is_held_to_its_origins() {
    // Not among the listings a snapshot must trace (listed before the
    // registry), but an origin names it: its newest word must be its entry.
    let mut p = Principals::new();
    let mut before = p_entry(1, "th-aoc", None);
    before.meta.listed_at = Timestamp(NOW.0 - 100);
    p.publish_dated(
        vec![(Op::Add(before.clone()), None)],
        vec![],
        vec![],
        before.meta.listed_at,
    )
    .unwrap();
    p.honest(0, vec![add(1, Reason::FRAUD)]);
    let honest = p.snapshot();
    assert_eq!(honest.entries[0].meta.listed_at, before.meta.listed_at);
    assert_eq!(honest.origins.len(), 1);
    let mut rolled_back = honest.clone();
    rolled_back.entries[0].meta.reason = Reason::SCAM_CALL;
    let err = match p.start_from(&rolled_back) {
        Err(StoreError::Refused {
            source: VerifyError::Authority { source },
            ..
        }) => *source,
        other => panic!("expected a refusal of authority, got {other:?}"),
    };
    assert!(
        matches!(&err, AuthorityError::NotAsAsked { id, .. } if id == &number(1)),
        "{err}"
    );
    p.start_from(&honest).unwrap();
    assert_eq!(p.store.read_whole().unwrap().origins, honest.origins);
}

/// th-aoc's listing of number `i` (a scam call) as a submission accepted at
/// `at` makes it.
fn p_entry_at(i: u8, at: Timestamp) -> Entry {
    let mut entry = p_entry(i, "th-aoc", None);
    entry.meta.listed_at = at;
    entry
}

/// A scam-call listing of number `i` in `agency`'s name, listed at `NOW`.
pub(crate) fn p_entry(i: u8, agency: &str, expires_at: Option<u64>) -> Entry {
    Entry {
        id: number(i),
        meta: EntryMeta {
            reason: Reason::SCAM_CALL,
            agency: Agency::new(agency).unwrap(),
            listed_at: NOW,
            expires_at: expires_at.map(Timestamp),
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Submissions the centre accepts, and the override updates a board
    /// makes of any agency's listing, always apply at the replica; the same
    /// delta with one operation's agency or reason changed never does; a
    /// snapshot of the replica, as the centre makes one, always applies.
    #[test]
    fn the_replica_takes_exactly_what_the_centre_judged(
        rounds in prop::collection::vec(
            (0usize..2, prop::collection::btree_map(0u8..8, 0u8..4, 1..4), any::<bool>(), 0usize..4),
            1..8,
        )
    ) {
        let judge = SecretKey::generate().unwrap();
        let board = KeySet::new(vec![judge.public_key()], 1).unwrap();
        let mut p = Principals::with_centre(Centre::with_override_keys(board));
        for (round, (by, asked, tamper, which)) in rounds.into_iter().enumerate() {
            let agency = Agency::new(AGENCIES[by]).unwrap();
            let mut overruled = Vec::new();
            let ops: Vec<SubmissionOp> = asked
                .into_iter()
                .filter_map(|(i, what)| {
                    let owner = p.held.get(&number(i)).map(|e| e.meta.agency.clone());
                    match (what, owner) {
                        (0, None) => Some(add(i, Reason::SCAM_CALL)),
                        (1, Some(o)) if o == agency => Some(add(i, Reason::FRAUD)),
                        (2, Some(o)) if o == agency => Some(remove(i)),
                        // The board's word on whoever's listing it is.
                        (3, Some(_)) => {
                            overruled.push(i);
                            None
                        }
                        _ => None,
                    }
                })
                .collect();
            let (mut changes, mut carried) = (Vec::new(), Vec::new());
            if !ops.is_empty() {
                let (submission, submitted) = p.submission(by, ops);
                changes = p.judged(&submission, submitted.accepted_at);
                carried.push(submitted);
            }
            let updates: Vec<ListingUpdate> = overruled
                .iter()
                .map(|&i| {
                    let held = p.entry(i);
                    ListingUpdate {
                        listing: ListingRef {
                            id: held.id.clone(),
                            agency: held.meta.agency.clone(),
                            listed_at: held.meta.listed_at,
                        },
                        from_reason: held.meta.reason,
                        from_expires_at: held.meta.expires_at,
                        reason: Reason::FRAUD,
                        expires_at: Some(Timestamp(NOW.0 + 1_000 + round as u64)),
                    }
                })
                .collect();
            let mut overrides = Vec::new();
            if !updates.is_empty() {
                for update in &updates {
                    let old = p.held[&update.listing.id].clone();
                    changes.push((Op::Update(Entry { id: old.id.clone(), meta: update.meta() }), Some(old)));
                }
                let decision = Override {
                    list: list(),
                    made_at: Timestamp(NOW.0 + 19),
                    why: RemovalReason::APPEAL_UPHELD,
                    note: format!("appeal of round {round}"),
                    removals: vec![],
                    updates,
                    extensions: vec![],
                };
                overrides.push(decision.sign(&[&judge]).unwrap());
            }
            if changes.is_empty() {
                continue;
            }
            if tamper {
                let mut altered = changes.clone();
                let at = which % altered.len();
                match &mut altered[at].0 {
                    Op::Add(e) | Op::Update(e) => e.meta.reason = Reason::MALWARE,
                    Op::Remove(..) => { altered.remove(at); }
                }
                let refused = p.publish_overriding(altered, carried.clone(), overrides.clone());
                prop_assert!(matches!(refused, Err(StoreError::Refused { .. })), "{refused:?}");
                // The same sequence again: what the store refused it did not record.
            }
            p.publish_overriding(changes, carried, overrides).unwrap();
            // A replica that starts again from the centre's snapshot traces
            // every listing to the submissions and overrides it keeps (W8).
            if which == 0 {
                p.restart_from_snapshot();
            }
        }
        if p.version > 0 {
            p.restart_from_snapshot();
        }
    }
}

#[test]
fn a_removal_naming_no_agency_does_not_stand_for_another_agencys_request() {
    let mut p = Principals::new();
    p.honest(
        0,
        vec![SubmissionOp::Add(ListingRequest {
            id: number(6),
            reason: Reason::SCAM_CALL,
            expires_at: Some(Timestamp(NOW.0 + 15)),
        })],
    );
    // th-dsi asks to list the number too; the centre carries its word but
    // only purges th-aoc's expired listing, by a removal naming no agency.
    let (_, dsi) = p.submission(1, vec![add(6, Reason::FRAUD)]);
    let expired = p.entry(6);
    let err = refusal(p.publish(
        vec![(Op::Remove(number(6), None), Some(expired))],
        vec![dsi],
    ));
    assert!(
        matches!(&err, AuthorityError::Unmade { verb: "add", .. }),
        "{err}"
    );
}
