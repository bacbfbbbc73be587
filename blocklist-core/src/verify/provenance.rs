//! [`Provenance`]: which agency signed for each listing of a snapshot,
//! checked by a replica that starts from one (`docs/FORMAT.md`, W8).
//!
//! A delta carries the submissions it answers, so a replica that replays
//! deltas checks every change against its agency's signature (W1-W7). A
//! snapshot replaces the list whole; it carries the submissions that gave
//! its agencies' listings their entries ([`Snapshot::origins`]), and the
//! replica traces each such listing to them: the submission that added it
//! when it was listed, and the newest one naming it, which must ask for the
//! entry the snapshot holds, unless a past override the snapshot carries
//! updated it since (then the override's update is the newest word, and
//! must be the entry). So the centre's publish key alone cannot list
//! in an agency's name through a snapshot once agencies are principals;
//! what W8 leaves open (listings dated before, an agency's older word
//! carried for its newest) is in `docs/FORMAT.md`, W8.
//!
//! The origins are verified here as they stream ([`Provenance::origin`],
//! or in two steps for a reader that verifies some on another thread); the
//! store matches their operations with its rows in key order as it appends
//! them ([`Provenance::judge`] says what a listing's operations must be), in
//! the transaction that applies the snapshot, in memory that does not grow
//! with the list.
//!
//! [`Snapshot::origins`]: crate::document::Snapshot::origins

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::document::{
    envelope, KeySet, ListId, ListingRef, Origin, Override, PastOverride, Registry, Snapshot,
    SnapshotHead, Submission, SubmissionOp, Version,
};
use crate::entry::{Agency, EntryMeta, Reason, Timestamp};
use crate::keys::KeyId;
use crate::verify::authority::{entry_in_words, Listing};
use crate::verify::{verify_submission, AuthorityError, Role, VerifyError};

/// What a replica needs to trace a snapshot's listings (W8): made by
/// [`crate::verify::Verifier::snapshot_provenance`] (and so by
/// [`crate::verify::Verifier::snapshot_file`]) when the verifier holds an
/// agency registry.
#[derive(Debug, Clone)]
pub struct Provenance {
    registry: Registry,
    registered: BTreeSet<Agency>,
    list: ListId,
    /// From when agencies are principals (W1).
    principals: Timestamp,
    created_at: Timestamp,
    /// The override keys of each trust root of the verifier's chain, with
    /// its version: a past override that updates must verify under one.
    override_keys: Vec<(KeySet, Version)>,
    /// The version of the trust root in force, for a refusal when no root
    /// of the chain names override keys.
    root_version: Version,
}

/// What an origin's operation asks of a listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asks {
    /// List it (or, when listed already, change its entry), with this
    /// reason and expiry.
    Add(Reason, Option<Timestamp>),
    /// Change its entry to this reason and expiry.
    Update(Reason, Option<Timestamp>),
    /// Remove it.
    Remove,
    /// A past override's update ([`Provenance::override_updates`]): change
    /// its entry to `to`, if it is still the listing the override names
    /// (listed at the [`OriginOp::accepted_at`] it carries) and holds the
    /// entry `from` the board decided on.
    Overridden {
        /// The reason and expiry it gives the listing.
        to: (Reason, Option<Timestamp>),
        /// The reason and expiry it replaces (OV4).
        from: (Reason, Option<Timestamp>),
    },
}

impl Asks {
    /// What `op` asks.
    pub fn of(op: &SubmissionOp) -> Asks {
        match op {
            SubmissionOp::Add(l) => Asks::Add(l.reason, l.expires_at),
            SubmissionOp::Update(l) => Asks::Update(l.reason, l.expires_at),
            SubmissionOp::Remove(_) => Asks::Remove,
        }
    }
}

/// One operation of a snapshot's origins, or of its past overrides' updates,
/// on one listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OriginOp {
    /// The origin's position in the snapshot's origins (for
    /// [`Asks::Overridden`], the override's in its past overrides).
    pub origin: usize,
    /// The version whose delta carried it.
    pub version: Version,
    /// When the centre accepted it (for [`Asks::Overridden`], the
    /// `listed_at` of the listing the override names: an override is good
    /// for that listing only).
    pub accepted_at: Timestamp,
    /// What it asks.
    pub asks: Asks,
}

impl OriginOp {
    /// Whether it is about the listing `meta` describes: a past override's
    /// update is good for the listing of the time it names only.
    fn names(&self, meta: &EntryMeta) -> bool {
        match self.asks {
            Asks::Overridden { .. } => self.accepted_at == meta.listed_at,
            _ => true,
        }
    }
}

/// Where a listing's entry comes from, once [`Provenance::judge`] accepts
/// it: the origins (by position) that added it and that set its entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Traced {
    /// The origin whose add listed it, when one is carried (a listing made
    /// before agencies were principals has none).
    pub added: Option<usize>,
    /// The newest origin naming it, which asks for its entry (unless a past
    /// override updated it since).
    pub set: usize,
}

impl Provenance {
    /// The checks of a snapshot whose head is `head`, under `registry`,
    /// agencies being principals from `principals`, past overrides signed
    /// under one of `override_keys` (each root's of the chain up to the
    /// root in force, `root_version`).
    pub(super) fn new(
        head: &SnapshotHead,
        registry: &Registry,
        principals: Timestamp,
        (override_keys, root_version): (&[(KeySet, Version)], Version),
    ) -> Provenance {
        Provenance {
            root_version,
            override_keys: override_keys.to_vec(),
            registered: registry.agencies().iter().map(|a| a.id().clone()).collect(),
            registry: registry.clone(),
            list: head.list.clone(),
            principals,
            created_at: head.created_at,
        }
    }

    /// What a reader that holds no agency registry, and so no
    /// `Provenance`, says of a snapshot's `origins` (how many it carries):
    /// it cannot check them,
    /// so it refuses any (W8).
    pub fn none_carried(origins: u64) -> Result<(), AuthorityError> {
        match origins {
            0 => Ok(()),
            count => Err(AuthorityError::OriginsWithoutRegistry { count }),
        }
    }

    /// Verifies the snapshot's origin number `index` (W8): a submission
    /// signed as U1-U5 say under the registry held, at the time the centre
    /// accepted it, for this list; accepted no later than the snapshot was
    /// made; no newer than the sequence the snapshot records for its key
    /// (`sequences`, W4); and, the origins coming by version, after every
    /// earlier-signed one of its key (`order`, what the origins before it
    /// showed). Returns each listing it names, with what it asks of it.
    ///
    /// In two steps, for a reader that verifies origins on more than one
    /// thread: [`Self::signed_origin`], on any, then
    /// [`OriginOrder::place`], in order.
    pub fn origin(
        &self,
        index: usize,
        origin: &Origin,
        sequences: &BTreeMap<KeyId, u64>,
        order: &mut OriginOrder,
    ) -> Result<Vec<(Listing, OriginOp)>, AuthorityError> {
        order.place(self.signed_origin(index, origin, sequences)?)
    }

    /// What [`Self::origin`] checks of origin number `index` on its own:
    /// all but its order among the others.
    pub fn signed_origin(
        &self,
        index: usize,
        origin: &Origin,
        sequences: &BTreeMap<KeyId, u64>,
    ) -> Result<SignedOrigin, AuthorityError> {
        let carried = &origin.submission;
        let submission = verify_submission(
            &carried.file,
            &self.registry,
            &self.list,
            carried.accepted_at,
        )
        .map_err(|source| AuthorityError::Origin {
            index,
            source: Box::new(source),
        })?
        .into_inner();
        if carried.accepted_at > self.created_at {
            return Err(AuthorityError::OriginAfterSnapshot {
                index,
                agency: submission.agency,
                accepted_at: carried.accepted_at,
                created_at: self.created_at,
            });
        }
        let key = envelope::parse(&carried.file)
            .expect("a verified submission parses")
            .signatures[0]
            .key_id;
        let sequence = submission.sequence.get();
        if sequences.get(&key).is_none_or(|&newest| sequence > newest) {
            return Err(AuthorityError::OriginAfterSequence {
                index,
                agency: submission.agency,
                key,
                sequence,
            });
        }
        Ok(SignedOrigin {
            index,
            version: origin.version,
            accepted_at: carried.accepted_at,
            key,
            submission,
        })
    }

    /// Checks every listing of `snapshot`, held whole in memory, against
    /// its origins (W8). A store checks a snapshot it streams in key order
    /// instead, through [`Self::origin`] and [`Self::judge`].
    pub fn check_all(&self, snapshot: &Snapshot) -> Result<(), AuthorityError> {
        let mut named: HashMap<Listing, Vec<OriginOp>> = HashMap::new();
        let mut order = OriginOrder::default();
        for (index, origin) in snapshot.origins.iter().enumerate() {
            for (listing, op) in self.origin(index, origin, &snapshot.sequences, &mut order)? {
                // Origins come by version, so a listing's operations do too.
                let ops = named.entry(listing.clone()).or_default();
                if let Some(first) = ops.last().filter(|o| o.version == op.version) {
                    let (id, agency) = listing;
                    return Err(AuthorityError::OriginNamedTwice {
                        id,
                        agency,
                        version: op.version.get(),
                        first: first.origin,
                        second: index,
                    });
                }
                ops.push(op);
            }
        }
        for (listing, op) in self.override_updates(&snapshot.overrides)? {
            let ops = named.entry(listing.clone()).or_default();
            if ops.iter().any(|o| o.version == op.version) {
                return Err(AuthorityError::OverriddenTwice {
                    id: listing.0,
                    index: op.origin,
                });
            }
            ops.insert(ops.partition_point(|o| o.version < op.version), op);
        }
        // In key order, as a store judges them: the first refusal is the
        // same.
        let mut entries: Vec<&crate::Entry> = snapshot.entries.iter().collect();
        entries.sort_unstable_by_key(|e| {
            (
                e.id.kind().code(),
                e.id.as_str().as_bytes(),
                e.meta.agency.as_str().as_bytes(),
            )
        });
        for entry in entries {
            let listing = (entry.id.clone(), entry.meta.agency.clone());
            let ops = named.get(&listing).map_or(&[][..], Vec::as_slice);
            self.judge(|| entry.id.clone(), &entry.meta, ops)?;
        }
        let held: HashMap<Listing, Timestamp> = snapshot
            .entries
            .iter()
            .map(|e| ((e.id.clone(), e.meta.agency.clone()), e.meta.listed_at))
            .collect();
        for (version, removed) in overridden(&snapshot.overrides) {
            let listing = (removed.id.clone(), removed.agency.clone());
            if held.get(&listing) == Some(&removed.listed_at) {
                return Err(revived(removed, version));
            }
        }
        Ok(())
    }

    /// Each update the snapshot's past overrides made, as an operation on
    /// the listing it names (an [`Asks::Overridden`] carried at the
    /// override's version): W8 judges a listing's entry by the newest change
    /// naming it, an origin's or an override's. A past override that
    /// updates must be signed as OV1 says under the override keys of one
    /// trust root of the chain held, or the snapshot is refused: its updates
    /// change listings, unlike a removal, which only bars a replay.
    ///
    /// ```
    /// use blocklist_core::document::*;
    /// use blocklist_core::verify::{provenance::Asks, Verifier};
    /// use blocklist_core::*;
    /// let (key, judge) = (SecretKey::generate().unwrap(), SecretKey::generate().unwrap());
    /// let list = ListId::new("demo").unwrap();
    /// let mut root = TrustRoot::single_key(list.clone(), &key, Timestamp(0), Timestamp(u64::MAX));
    /// root.override_keys = Some(KeySet::new(vec![judge.public_key()], 1).unwrap());
    /// let mut verifier = Verifier::pin(&root.sign(&[&key]).unwrap()).unwrap();
    /// let registry = Registry::new(list.clone(), Version::FIRST, Timestamp(1), vec![], vec![]).unwrap();
    /// verifier.accept_registry(&registry.sign(&[&key]).unwrap()).unwrap();
    /// let head = SnapshotHead { list: list.clone(), version: Version::new(3).unwrap(),
    ///     created_at: Timestamp(50), state: ListState::default() };
    /// let provenance = verifier.snapshot_provenance(&head).unwrap();
    /// let decision = Override { list, made_at: Timestamp(5), why: RemovalReason::APPEAL_UPHELD,
    ///     note: "appeal 7".into(), extensions: vec![], removals: vec![],
    ///     updates: vec![ListingUpdate { listing: ListingRef {
    ///         id: Identifier::from_canonical(Kind::Domain, "shop.example").unwrap(),
    ///         agency: Agency::new("th-aoc").unwrap(), listed_at: Timestamp(1) },
    ///         from_reason: Reason::SCAM_CALL, from_expires_at: None,
    ///         reason: Reason::SCAM_CALL, expires_at: Some(Timestamp(90)) }] };
    /// let past = |signer: &SecretKey| vec![PastOverride { version: Version::new(2).unwrap(),
    ///     file: decision.sign(&[signer]).unwrap() }];
    /// let ops = provenance.override_updates(&past(&judge)).unwrap();
    /// assert!(matches!(ops[0].1.asks, Asks::Overridden { .. }));
    /// // The publish key is no override key: the update is refused.
    /// assert!(provenance.override_updates(&past(&key)).is_err());
    /// ```
    pub fn override_updates(
        &self,
        past: &[PastOverride],
    ) -> Result<Vec<(Listing, OriginOp)>, AuthorityError> {
        let mut ops = Vec::new();
        for (index, o) in past.iter().enumerate() {
            let Some(decision) = decision(o).filter(|d| !d.updates.is_empty()) else {
                continue;
            };
            self.check_past_signatures(index, o)?;
            ops.extend(decision.updates.into_iter().map(|update| {
                let op = OriginOp {
                    origin: index,
                    version: o.version,
                    accepted_at: update.listing.listed_at,
                    asks: Asks::Overridden {
                        to: (update.reason, update.expires_at),
                        from: (update.from_reason, update.from_expires_at),
                    },
                };
                ((update.listing.id, update.listing.agency), op)
            }));
        }
        Ok(ops)
    }

    /// Checks that the past override number `index` is signed by a
    /// threshold of the override keys of one trust root held, and by no
    /// other key (OV1): the refusal names the newest root's complaint.
    fn check_past_signatures(
        &self,
        index: usize,
        past: &PastOverride,
    ) -> Result<(), AuthorityError> {
        let refused = |source| AuthorityError::PastOverrideUnsigned {
            index,
            version: past.version.get(),
            source: Box::new(source),
        };
        let env = super::envelope_of::<Override>(&past.file).map_err(refused)?;
        let mut newest = None;
        for (keys, version) in self.override_keys.iter().rev() {
            match super::check_signatures((&env).into(), Role::Override, &[(keys, *version)]) {
                Ok(()) => return Ok(()),
                Err(e) => drop(newest.get_or_insert(e)),
            }
        }
        Err(refused(newest.unwrap_or(VerifyError::NoOverrideKeys {
            root_version: self.root_version,
        })))
    }

    /// Every agency of the registry held, revoked or not: the listings
    /// [`Self::traces`] asks about.
    pub fn registered(&self) -> impl Iterator<Item = &Agency> {
        self.registered.iter()
    }

    /// From when agencies are principals (W1): listings of theirs made
    /// before are not traced.
    pub fn principals(&self) -> Timestamp {
        self.principals
    }

    /// Whether the listing `meta` describes must be traced to an origin: a
    /// registered agency's (revoked or not) listed once agencies were
    /// principals. Older listings, and those under labels no agency is
    /// registered by, are taken on the snapshot's signature, as a delta's
    /// are (W1, W6).
    pub fn traces(&self, meta: &EntryMeta) -> bool {
        meta.listed_at >= self.principals && self.registered.contains(&meta.agency)
    }

    /// Judges the listing of `id` that `meta` describes against `ops`, the
    /// operations the origins and the past overrides' updates make on it,
    /// ascending by version (W8): when it must be traced, an add accepted
    /// when it was listed; and when any names it, the newest gives its
    /// entry (an override's update of an earlier listing, of another time,
    /// names it no more), and each past override's update of a traced
    /// listing replaced the entry the change before it gave. `None` when no
    /// origin names it and none must. `id` is called only for a refusal,
    /// which names the listing: a store judging millions of rows checked
    /// each identifier once, when it decoded it.
    pub fn judge(
        &self,
        id: impl Fn() -> crate::Identifier,
        meta: &EntryMeta,
        ops: &[OriginOp],
    ) -> Result<Option<Traced>, AuthorityError> {
        // The add that made this listing came after any removal of it the
        // origins show: an older one listed a listing since removed.
        let since_removal = ops
            .iter()
            .rposition(|op| op.asks == Asks::Remove)
            .map_or(0, |at| at + 1);
        let added = ops[since_removal..]
            .iter()
            .find(|op| matches!(op.asks, Asks::Add(..)) && op.accepted_at == meta.listed_at)
            .map(|op| op.origin);
        let untraced = || AuthorityError::Untraced {
            id: id(),
            agency: meta.agency.clone(),
            listed_at: meta.listed_at,
        };
        if added.is_none() && self.traces(meta) {
            return Err(untraced());
        }
        let Some(newest) = ops.iter().rev().find(|op| op.names(meta)) else {
            return Ok(None);
        };
        let held = (meta.reason, meta.expires_at);
        let traced = || {
            let set = ops
                .iter()
                .rfind(|op| !matches!(op.asks, Asks::Overridden { .. }))?;
            Some(Traced {
                added,
                set: set.origin,
            })
        };
        self.check_replaced(&id, meta, ops)?;
        match newest.asks {
            Asks::Add(reason, expires_at)
            | Asks::Update(reason, expires_at)
            | Asks::Overridden {
                to: (reason, expires_at),
                ..
            } if (reason, expires_at) == held => Ok(traced()),
            Asks::Overridden {
                to: (reason, expires_at),
                ..
            } => Err(AuthorityError::NotAsOverridden {
                listing: Box::new(ListingRef {
                    id: id(),
                    agency: meta.agency.clone(),
                    listed_at: meta.listed_at,
                }),
                updated: entry_in_words(reason, expires_at),
                index: newest.origin,
                version: newest.version.get(),
                held: entry_in_words(meta.reason, meta.expires_at),
            }),
            asks => Err(AuthorityError::NotAsAsked {
                id: id(),
                agency: meta.agency.clone(),
                origin: newest.origin,
                version: newest.version,
                asked: describe(asks),
                held: describe(Asks::Update(meta.reason, meta.expires_at)),
            }),
        }
    }

    /// Refuses a past override's update of the listing `meta` describes
    /// whose entry just before it, as `ops` show, is not the one the board
    /// decided on (W8, OV4): the versions are the centre's word, and an
    /// update moved past its agency's later change would undo that change.
    /// Only a traced listing's every change is among its operations (a
    /// label's may have been the centre's own), so only it is checked.
    fn check_replaced(
        &self,
        id: &impl Fn() -> crate::Identifier,
        meta: &EntryMeta,
        ops: &[OriginOp],
    ) -> Result<(), AuthorityError> {
        if !self.traces(meta) {
            return Ok(());
        }
        for (at, op) in ops.iter().enumerate() {
            let Asks::Overridden { from, .. } = op.asks else {
                continue;
            };
            let Some(before) = ops[..at].iter().rev().find(|o| o.names(meta)) else {
                continue;
            };
            if asked_entry(before.asks) != Some(from) {
                return Err(AuthorityError::OverriddenFromAnother {
                    listing: Box::new(ListingRef {
                        id: id(),
                        agency: meta.agency.clone(),
                        listed_at: meta.listed_at,
                    }),
                    index: op.origin,
                    version: op.version.get(),
                    decided: entry_in_words(from.0, from.1),
                    before: describe(before.asks),
                });
            }
        }
        Ok(())
    }
}

/// Where each key's submissions stood among the origins read so far: the
/// version of its last, and the highest sequence ([`Provenance::origin`]).
#[derive(Debug, Default)]
pub struct OriginOrder(BTreeMap<KeyId, (Version, u64)>);

/// An origin whose submission verified ([`Provenance::signed_origin`]),
/// not yet placed among the others ([`OriginOrder::place`]).
#[derive(Debug)]
pub struct SignedOrigin {
    index: usize,
    version: Version,
    accepted_at: Timestamp,
    key: KeyId,
    submission: Submission,
}

impl OriginOrder {
    /// Places `signed`, the origin after those placed so far: the versions
    /// are the centre's word, so a key's submissions must come in the order
    /// it signed them, and none can be moved past another. Returns each
    /// listing it names, with what it asks of it.
    pub fn place(
        &mut self,
        signed: SignedOrigin,
    ) -> Result<Vec<(Listing, OriginOp)>, AuthorityError> {
        let SignedOrigin {
            index,
            version,
            accepted_at,
            key,
            submission,
        } = signed;
        let sequence = submission.sequence.get();
        let last = self.0.get(&key).copied();
        self.0
            .insert(key, (version, last.map_or(sequence, |l| l.1.max(sequence))));
        if let Some((last_version, earlier)) =
            last.filter(|&(last_version, earlier)| last_version < version && earlier >= sequence)
        {
            return Err(AuthorityError::OriginOutOfOrder {
                index,
                agency: submission.agency,
                key,
                sequence,
                earlier,
                version: last_version.get(),
            });
        }
        let agency = submission.agency;
        Ok(submission
            .ops
            .into_iter()
            .map(|op| {
                let asks = OriginOp {
                    origin: index,
                    version,
                    accepted_at,
                    asks: Asks::of(&op),
                };
                let id = match op {
                    SubmissionOp::Add(l) | SubmissionOp::Update(l) => l.id,
                    SubmissionOp::Remove(r) => r.id,
                };
                ((id, agency.clone()), asks)
            })
            .collect())
    }
}

/// Each listing the snapshot's past overrides removed, with the version
/// that applied the override: a snapshot may not hold one again (W7, W8).
pub fn overridden(past: &[PastOverride]) -> impl Iterator<Item = (Version, ListingRef)> + '_ {
    past.iter().flat_map(|o| {
        decision(o)
            .into_iter()
            .flat_map(|d| d.removals)
            .map(move |listing| (o.version, listing))
    })
}

/// The decision of a past override (the files were checked well formed
/// when the snapshot was decoded, so `None` does not happen).
fn decision(past: &PastOverride) -> Option<Override> {
    Override::from_file(&past.file).ok()
}

/// The refusal of a snapshot that holds again `listing`, which a past
/// override it carries removed at `version`.
pub fn revived(listing: ListingRef, version: Version) -> AuthorityError {
    AuthorityError::Revived {
        id: listing.id,
        agency: listing.agency,
        listed_at: listing.listed_at,
        version: version.get(),
    }
}

/// The reason and expiry `asks` leaves its listing with (`None`: it
/// removes it).
fn asked_entry(asks: Asks) -> Option<(Reason, Option<Timestamp>)> {
    match asks {
        Asks::Add(reason, expires_at)
        | Asks::Update(reason, expires_at)
        | Asks::Overridden {
            to: (reason, expires_at),
            ..
        } => Some((reason, expires_at)),
        Asks::Remove => None,
    }
}

/// `asks` in words, for refusals.
fn describe(asks: Asks) -> String {
    match asks {
        Asks::Add(reason, expires_at) => {
            format!("an add, {}", entry_in_words(reason, expires_at))
        }
        Asks::Update(reason, expires_at)
        | Asks::Overridden {
            to: (reason, expires_at),
            ..
        } => entry_in_words(reason, expires_at),
        Asks::Remove => "its removal".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{ListState, Registry};
    use crate::kind::Kind;
    use crate::Identifier;

    fn provenance(principals: u64) -> Provenance {
        let list = ListId::new("demo").unwrap();
        let registry = Registry::new(list, Version::FIRST, Timestamp(0), vec![], vec![]).unwrap();
        let head = SnapshotHead {
            list: ListId::new("demo").unwrap(),
            version: Version::new(9).unwrap(),
            created_at: Timestamp(1_000),
            state: ListState::default(),
        };
        let mut p = Provenance::new(
            &head,
            &registry,
            Timestamp(principals),
            (&[], Version::FIRST),
        );
        p.registered.insert(Agency::new("th-aoc").unwrap());
        p
    }

    fn meta(listed_at: u64, reason: u16, expires_at: Option<u64>) -> EntryMeta {
        EntryMeta {
            reason: Reason(reason),
            agency: Agency::new("th-aoc").unwrap(),
            listed_at: Timestamp(listed_at),
            expires_at: expires_at.map(Timestamp),
        }
    }

    fn op(origin: usize, version: u64, accepted_at: u64, asks: Asks) -> OriginOp {
        OriginOp {
            origin,
            version: Version::new(version).unwrap(),
            accepted_at: Timestamp(accepted_at),
            asks,
        }
    }

    fn id() -> Identifier {
        Identifier::from_canonical(Kind::Domain, "scam.example").unwrap()
    }

    #[test]
    fn a_listing_added_then_updated_is_traced_to_both_submissions() {
        let ops = [
            op(0, 2, 100, Asks::Add(Reason(1), None)),
            op(1, 5, 300, Asks::Update(Reason(2), Some(Timestamp(900)))),
        ];
        let traced = provenance(50).judge(id, &meta(100, 2, Some(900)), &ops);
        assert_eq!(
            traced.unwrap(),
            Some(Traced {
                added: Some(0),
                set: 1
            })
        );
    }

    #[test]
    fn a_listing_no_add_of_its_time_explains_is_refused() {
        let ops = [op(0, 2, 100, Asks::Add(Reason(1), None))];
        let refused = provenance(50).judge(id, &meta(99, 1, None), &ops);
        assert!(matches!(refused, Err(AuthorityError::Untraced { .. })));
        let refused = provenance(50).judge(id, &meta(99, 1, None), &[]);
        assert!(matches!(refused, Err(AuthorityError::Untraced { .. })));
    }

    #[test]
    fn a_listing_whose_newest_origin_asks_otherwise_is_refused() {
        let updated = [
            op(0, 2, 100, Asks::Add(Reason(1), None)),
            op(1, 5, 300, Asks::Update(Reason(2), None)),
        ];
        let refused = provenance(50).judge(id, &meta(100, 1, None), &updated);
        assert!(matches!(refused, Err(AuthorityError::NotAsAsked { .. })));
        // Removed since: the add before the removal no longer explains it,
        // and for an older listing the removal is the newest word.
        let removed = [
            op(0, 2, 100, Asks::Add(Reason(1), None)),
            op(1, 5, 300, Asks::Remove),
        ];
        let refused = provenance(50).judge(id, &meta(100, 1, None), &removed);
        assert!(matches!(refused, Err(AuthorityError::Untraced { .. })));
        let refused = provenance(50).judge(id, &meta(10, 1, None), &removed);
        assert!(matches!(refused, Err(AuthorityError::NotAsAsked { .. })));
    }

    #[test]
    fn listings_from_before_principals_or_under_labels_need_no_origin() {
        let p = provenance(50);
        assert_eq!(p.judge(id, &meta(10, 1, None), &[]).unwrap(), None);
        let mut label = meta(100, 1, None);
        label.agency = Agency::new("imported").unwrap();
        assert_eq!(p.judge(id, &label, &[]).unwrap(), None);
        // An old listing its agency updated since is held to the update.
        let updated = [op(3, 7, 400, Asks::Update(Reason(4), None))];
        assert_eq!(
            p.judge(id, &meta(10, 4, None), &updated).unwrap(),
            Some(Traced {
                added: None,
                set: 3
            })
        );
    }

    #[test]
    fn a_past_override_update_moved_past_the_agencys_later_change_is_refused() {
        let overridden = |version, from| {
            op(
                0,
                version,
                100,
                Asks::Overridden {
                    to: (Reason(9), Some(Timestamp(900))),
                    from,
                },
            )
        };
        let agency = op(1, 5, 300, Asks::Update(Reason(2), None));
        let add = op(0, 2, 100, Asks::Add(Reason(1), None));
        // Decided over the add's entry, carried after the agency's update:
        // it would undo that update.
        let moved = [add, agency, overridden(6, (Reason(1), None))];
        let refused = provenance(50).judge(id, &meta(100, 9, Some(900)), &moved);
        assert!(
            matches!(
                refused,
                Err(AuthorityError::OverriddenFromAnother { version: 6, .. })
            ),
            "{refused:?}"
        );
        // Decided over the agency's entry: it holds.
        let kept = [add, agency, overridden(6, (Reason(2), None))];
        let traced = provenance(50).judge(id, &meta(100, 9, Some(900)), &kept);
        assert_eq!(
            traced.unwrap(),
            Some(Traced {
                added: Some(0),
                set: 1
            })
        );
    }
}
