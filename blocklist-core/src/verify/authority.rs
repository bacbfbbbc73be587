//! [`Authority`]: which agency asked for each operation of a delta, checked
//! by every replica before it applies the delta (`docs/FORMAT.md`,
//! "Authorisation", W1-W7).
//!
//! A delta carries the signed submissions whose changes it makes
//! ([`Delta::submissions`]). The replica verifies each against the agency
//! registry it holds, at the time the centre accepted it, and judges each of
//! its operations by the same ownership rules the centre used
//! ([`crate::ownership::judge`]) against the listing the replica holds: the
//! delta must make exactly the changes they give. Any other operation on a
//! listing of a registered agency is refused, except the removal of a
//! listing that has expired (the centre purges those), and the removal or
//! update a carried override decides (W7). So the centre's publish key
//! alone can neither list, change nor delist in an agency's name.
//!
//! The checks that need no list are made here, when the delta is verified;
//! the ones that need the listing each operation finds are made by the store
//! as it applies the delta ([`Authority::check`], [`Authority::check_unmade`]),
//! in the same transaction, so a refusal leaves nothing applied.

use std::collections::{BTreeSet, HashMap, HashSet};

use crate::digest::Sha256;
use crate::document::{
    envelope, Delta, ListingRef, ListingUpdate, Op, Override, Registry, SubmissionOp,
};
use crate::entry::{Agency, Entry, EntryMeta, Reason, Timestamp};
use crate::identifier::Identifier;
use crate::keys::KeyId;
use crate::ownership::{self, Refusal};
use crate::verify::{verify_submission, SubmissionError, Verified, VerifyError};

/// Why a delta's operations are not the ones its agencies asked for. Each
/// variant names the identifier or submission, the agency, and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorityError {
    /// Submissions or overrides carried while the replica holds no agency
    /// registry (W2, W7).
    #[error("the delta carries {count} agency submission(s) or override(s), but no agency registry is held to check them against (W2, W7)")]
    NoRegistry {
        /// How many submissions and overrides it carries.
        count: usize,
    },
    /// A carried override that does not verify under the trust root (W7).
    #[error("carried override {index}: {source} (W7)")]
    Override {
        /// Its position in the delta's overrides (from 0).
        index: usize,
        /// Why it was refused.
        source: Box<VerifyError>,
    },
    /// An override its signers made after the delta was made, beyond the
    /// clock skew allowed (W7).
    #[error("carried override {index} was made at {made_at}, more than {MAX_CLOCK_SKEW} s after the delta was made at {created_at} (W7)")]
    OverrideAfterDelta {
        /// Its position in the delta's overrides.
        index: usize,
        /// When it says it was made.
        made_at: Timestamp,
        /// The delta's `created_at`.
        created_at: Timestamp,
    },
    /// A judged delta made further ahead of the replica's clock than the
    /// skew allowed (W1): its date decides which listings have expired, so
    /// a centre may not pick one in the future.
    #[error("the delta was made at {created_at}, more than {MAX_CLOCK_SKEW} s after this replica's clock ({now}): refused until then, so that no date in the future decides which listings have expired (W1)")]
    MadeInTheFuture {
        /// The delta's `created_at`.
        created_at: Timestamp,
        /// The replica's clock.
        now: Timestamp,
    },
    /// An override this replica applied already, carried again (W7).
    #[error("carried override {index} was applied already, at version {version}: a replay (W7)")]
    OverrideReplayed {
        /// Its position in the delta's overrides.
        index: usize,
        /// The version whose delta applied it.
        version: u64,
    },
    /// A listing an override names that a carried submission or another
    /// override names too (W3).
    #[error("{} {} is named by carried override {index} and by another carried submission or override about the same agency's listing (W3)", .id.kind(), .id.as_str())]
    OverriddenTwice {
        /// The identifier.
        id: Identifier,
        /// The override.
        index: usize,
    },
    /// The delta's operation on an overridden identifier is not the removal
    /// of the very listing the override names (W7).
    #[error("carried override {index} removes {} {} as listed by {} at {}, but {found} (W7)", .listing.id.kind(), .listing.id.as_str(), .listing.agency, .listing.listed_at)]
    NotOverridden {
        /// The listing the override names.
        listing: ListingRef,
        /// The override.
        index: usize,
        /// What the replica holds or the delta does instead.
        found: String,
    },
    /// The delta's operation on a listing an override updates is not that
    /// update of the very listing it names (W7).
    #[error("carried override {index} updates {} {} as listed by {} at {} to {}, but {found} (W7)", .update.listing.id.kind(), .update.listing.id.as_str(), .update.listing.agency, .update.listing.listed_at, entry_in_words(.update.reason, .update.expires_at))]
    NotUpdatedAsDecided {
        /// The update the override decides (boxed, as it is large).
        update: Box<ListingUpdate>,
        /// The override.
        index: usize,
        /// What the replica holds or the delta does instead.
        found: String,
    },
    /// A carried submission does not verify under the registry (W2).
    #[error("carried submission {index}: {source}")]
    Submission {
        /// Its position in the delta (from 0).
        index: usize,
        /// Why it was refused (boxed, as it is large).
        source: Box<SubmissionError>,
    },
    /// A submission the centre says it accepted after it made the delta (W2).
    #[error("carried submission {index} of agency {agency} was accepted at {accepted_at}, after the delta was made at {created_at} (W2)")]
    AcceptedAfterDelta {
        /// Its position in the delta.
        index: usize,
        /// Its agency.
        agency: Agency,
        /// When the centre says it accepted it.
        accepted_at: Timestamp,
        /// The delta's `created_at`.
        created_at: Timestamp,
    },
    /// Two carried submissions name one identifier (W3).
    #[error("{} {} is named by carried submissions {first} and {second} of one agency; one delta takes one submission's word on a listing (W3)", .id.kind(), .id.as_str())]
    NamedTwice {
        /// The identifier.
        id: Identifier,
        /// The first submission naming it.
        first: usize,
        /// The second.
        second: usize,
    },
    /// A submission carried again, or an older one of the same key (W4).
    #[error("carried submission of agency {agency} by key {key} has sequence {sequence}, but this replica applied sequence {applied} of that key already: a replay (W4)")]
    Replayed {
        /// The agency.
        agency: Agency,
        /// The signing key.
        key: KeyId,
        /// The submission's sequence.
        sequence: u64,
        /// The newest sequence of the key this replica applied.
        applied: u64,
    },
    /// A key's submission carried after one of its own with a higher or
    /// equal sequence in the same delta (W4).
    #[error("carried submission of agency {agency} by key {key} has sequence {sequence}, not above the sequence {earlier} of that key's submission before it in the delta (W4)")]
    OutOfOrder {
        /// The agency.
        agency: Agency,
        /// The signing key.
        key: KeyId,
        /// The submission's sequence.
        sequence: u64,
        /// The sequence of the key's earlier submission in the delta.
        earlier: u64,
    },
    /// The ownership rules refuse a carried operation against the replica's
    /// list: the centre published what it should have refused (W5).
    #[error("carried submission {index}: {source} (W5)")]
    Refused {
        /// Its position in the delta.
        index: usize,
        /// The rule's refusal.
        source: Refusal,
    },
    /// The delta's operation on an identifier is not the change the
    /// submission naming it asks for (W5).
    #[error("the delta {verb} {} {}, which is not the change carried submission {index} of agency {agency} asks for (W5)", .id.kind(), .id.as_str())]
    NotAsked {
        /// The identifier.
        id: Identifier,
        /// What the delta does to it: `adds`, `updates` or `removes`.
        verb: &'static str,
        /// The submission.
        index: usize,
        /// Its agency.
        agency: Agency,
    },
    /// A carried operation whose change the delta does not make (W5).
    #[error("carried submission {index} of agency {agency} asks to {verb} {} {}, which the delta does not do (W5)", .id.kind(), .id.as_str())]
    Unmade {
        /// The identifier.
        id: Identifier,
        /// What the submission asks: `add`, `update` or `remove`.
        verb: &'static str,
        /// The submission.
        index: usize,
        /// Its agency.
        agency: Agency,
    },
    /// A change to a listing made under a label before agencies became
    /// principals, which no override removes (W6): such a listing belongs to
    /// no agency that could sign for it, so only an override removes it
    /// (or it expires and is purged).
    #[error("the delta {verb} {} {}, listed under label {label} at {listed_at}, before agencies became principals at {since}: only an override updates or removes such a listing (W6)", .id.kind(), .id.as_str())]
    Legacy {
        /// The identifier.
        id: Identifier,
        /// What the delta does to it.
        verb: &'static str,
        /// The label it is listed under.
        label: Agency,
        /// When it was listed.
        listed_at: Timestamp,
        /// When registry version 1 was issued.
        since: Timestamp,
    },
    /// An operation on a listing of a registered agency that no carried
    /// submission of that agency asks for (W6): the centre acting in its name.
    #[error("the delta {verb} {} {} in the name of agency {agency} without a submission of that agency asking for it (W6)", .id.kind(), .id.as_str())]
    Unauthorised {
        /// The identifier.
        id: Identifier,
        /// What the delta does to it.
        verb: &'static str,
        /// The registered agency whose listing it is, or would be.
        agency: Agency,
    },
    /// A snapshot carrying origins while the replica holds no agency
    /// registry to check them against (W8).
    #[error("the snapshot carries {count} agency submission(s) as origins, but no agency registry is held to check them against (W8)")]
    OriginsWithoutRegistry {
        /// How many origins it carries.
        count: u64,
    },
    /// An origin of a snapshot that does not verify under the registry (W8).
    #[error("snapshot origin {index}: {source} (W8)")]
    Origin {
        /// Its position in the snapshot's origins (from 0).
        index: usize,
        /// Why it was refused.
        source: Box<SubmissionError>,
    },
    /// An origin the centre says it accepted after it made the snapshot (W8).
    #[error("snapshot origin {index} of agency {agency} was accepted at {accepted_at}, after the snapshot was made at {created_at} (W8)")]
    OriginAfterSnapshot {
        /// Its position in the snapshot's origins.
        index: usize,
        /// Its agency.
        agency: Agency,
        /// When the centre says it accepted it.
        accepted_at: Timestamp,
        /// The snapshot's `created_at`.
        created_at: Timestamp,
    },
    /// An origin newer than the sequence the snapshot records as its key's
    /// newest (W4, W8).
    #[error("snapshot origin {index} of agency {agency} has sequence {sequence} of key {key}, which the snapshot does not record as applied (W4, W8)")]
    OriginAfterSequence {
        /// Its position in the snapshot's origins.
        index: usize,
        /// Its agency.
        agency: Agency,
        /// Its signing key.
        key: KeyId,
        /// Its sequence.
        sequence: u64,
    },
    /// Two origins carried by the same version naming one listing (W3, W8).
    #[error("snapshot origins {first} and {second}, both carried at version {version}, name {} {} of agency {agency} (W3, W8)", .id.kind(), .id.as_str())]
    OriginNamedTwice {
        /// The identifier.
        id: Identifier,
        /// The agency.
        agency: Agency,
        /// The version that carried both.
        version: u64,
        /// The first origin naming it.
        first: usize,
        /// The second.
        second: usize,
    },
    /// An origin placed, by the version the centre gives it, after another
    /// of its key that the key signed later (W4, W8).
    #[error("snapshot origin {index} of agency {agency} has sequence {sequence} of key {key}, but an origin of an earlier version (version {version}) has sequence {earlier}: a key's submissions come in the order it signed them (W4, W8)")]
    OriginOutOfOrder {
        /// Its position in the snapshot's origins.
        index: usize,
        /// Its agency.
        agency: Agency,
        /// Its signing key.
        key: KeyId,
        /// Its sequence.
        sequence: u64,
        /// The sequence of the key's origin at the earlier version.
        earlier: u64,
        /// That earlier version.
        version: u64,
    },
    /// A listing in a snapshot that a past override it carries removed (W7, W8).
    #[error("the snapshot holds {} {} of agency {agency} listed at {listed_at}, the listing a past override it carries removed at version {version} (W7, W8)", .id.kind(), .id.as_str())]
    Revived {
        /// The identifier.
        id: Identifier,
        /// The agency.
        agency: Agency,
        /// The listing's time, as the override names it.
        listed_at: Timestamp,
        /// The version whose delta carried the override.
        version: u64,
    },
    /// A listing in a snapshot whose entry is not the one the newest change
    /// naming it, a past override's update, gives it (W7, W8).
    #[error("the snapshot holds {} {} of agency {} with {held}, but past override {index} (version {version}) updated it to {updated} (W7, W8)", .listing.id.kind(), .listing.id.as_str(), .listing.agency)]
    NotAsOverridden {
        /// The listing the override updated, as the snapshot holds it
        /// (boxed, as it is large).
        listing: Box<ListingRef>,
        /// The entry the override gave it, in words.
        updated: String,
        /// The override's position in the snapshot's past overrides.
        index: usize,
        /// The version whose delta carried it.
        version: u64,
        /// What the snapshot holds, in words.
        held: String,
    },
    /// A past override's update, in a snapshot, of a listing whose entry
    /// just before it (the change at the version before, as the snapshot
    /// carries them) is not the one the board decided on (W8, OV4).
    #[error("past override {index} (version {version}) updates {} {} of agency {} from {decided}, but the change before it left {before} (W8)", .listing.id.kind(), .listing.id.as_str(), .listing.agency)]
    OverriddenFromAnother {
        /// The listing updated (boxed, as it is large).
        listing: Box<ListingRef>,
        /// The override's position in the snapshot's past overrides.
        index: usize,
        /// The version whose delta carried it.
        version: u64,
        /// The entry the update replaces, in words.
        decided: String,
        /// What the change before it asked, in words.
        before: String,
    },
    /// A past override a snapshot carries that updates listings but is not
    /// signed as OV1 says under the override keys of any trust root of the
    /// chain held (W8): its updates would be the publish key's word alone.
    #[error("past override {index} (version {version}) updates listings but is not signed by a threshold of the override keys of any trust root held: {source} (W8)")]
    PastOverrideUnsigned {
        /// Its position in the snapshot's past overrides.
        index: usize,
        /// The version whose delta the snapshot says carried it.
        version: u64,
        /// Why its signatures were refused (boxed, as it is large).
        source: Box<VerifyError>,
    },
    /// A registered agency's listing dated before agencies were principals
    /// that a snapshot holds and the replica, holding a version made since,
    /// did not (W8): no such listing can be made after that time.
    #[error("the snapshot lists {} {} under agency {agency} since {listed_at}, before agencies were principals, but this replica, at a version made since, did not hold it: no listing can be dated back before them (W8)", .id.kind(), .id.as_str())]
    LegacyNotHeld {
        /// The identifier.
        id: Identifier,
        /// The agency named.
        agency: Agency,
        /// When the snapshot says it was listed.
        listed_at: Timestamp,
    },
    /// An agency's listing in a snapshot that no origin's add explains (W8):
    /// the centre listing in the agency's name.
    #[error("the snapshot lists {} {} under agency {agency} since {listed_at}, but carries no submission of that agency adding it then (W8)", .id.kind(), .id.as_str())]
    Untraced {
        /// The identifier.
        id: Identifier,
        /// The agency named.
        agency: Agency,
        /// When the snapshot says it was listed.
        listed_at: Timestamp,
    },
    /// A listing in a snapshot whose entry is not what the newest origin
    /// naming it asks for (W8).
    #[error("the snapshot holds {} {} of agency {agency} with {held}, but the newest submission naming it (origin {origin}, version {version}) asks for {asked} (W8)", .id.kind(), .id.as_str())]
    NotAsAsked {
        /// The identifier.
        id: Identifier,
        /// The agency.
        agency: Agency,
        /// The origin's position.
        origin: usize,
        /// The version that carried it.
        version: crate::document::Version,
        /// What it asks, in words.
        asked: String,
        /// What the snapshot holds, in words.
        held: String,
    },
}

/// How far a centre's clock may run ahead of a replica's, in seconds: a
/// delta made further in the future than this is refused (W1), and an
/// override may be made this much after its delta (W7).
pub const MAX_CLOCK_SKEW: u64 = 300;

/// From when the rules apply (W1): when registry version 1 was issued, and
/// when the first trust root naming override keys was (none yet: `None`).
#[derive(Debug, Clone, Copy)]
pub(super) struct Since {
    pub(super) principals: Timestamp,
    pub(super) overrides: Option<Timestamp>,
}

/// One carried submission's signer, for the replay check (W4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CarriedSigner {
    /// The agency.
    pub agency: Agency,
    /// The key that signed the submission.
    pub key: KeyId,
    /// The submission's sequence.
    pub sequence: u64,
}

/// An override a delta carries, verified: what it removes, who signed it,
/// and its file's SHA-256, as a replica records it.
#[derive(Debug, Clone)]
pub struct CarriedOverride {
    /// The override.
    pub decision: Override,
    /// The override keys that signed it.
    pub signers: Vec<KeyId>,
    /// SHA-256 of its file.
    pub file_sha256: Sha256,
    /// SHA-256 of its payload, what a replica keys it on
    /// ([`crate::document::decision_sha256`]).
    pub decision_sha256: Sha256,
}

impl CarriedOverride {
    /// The override `file`, verified by `verify` (which checks its
    /// signatures), with its signers.
    pub(super) fn new(
        file: &[u8],
        verify: impl FnOnce(&[u8]) -> Result<Verified<Override>, VerifyError>,
    ) -> Result<CarriedOverride, VerifyError> {
        let verified = verify(file)?;
        let env = envelope::parse(file).expect("a verified override parses");
        Ok(CarriedOverride {
            file_sha256: verified.file_sha256(),
            decision_sha256: Sha256::of(env.payload),
            decision: verified.into_inner(),
            signers: env.signatures.iter().map(|s| s.key_id).collect(),
        })
    }
}

/// One agency's listing of an identifier, as the rules key it.
pub type Listing = (Identifier, Agency);

/// A reason and expiry in words, for refusals.
///
/// ```
/// use blocklist_core::verify::authority::entry_in_words;
/// use blocklist_core::{Reason, Timestamp};
/// assert_eq!(entry_in_words(Reason(2), Some(Timestamp(9))), "reason 2 expiring at @9");
/// ```
pub fn entry_in_words(reason: Reason, expires_at: Option<Timestamp>) -> String {
    match expires_at {
        Some(at) => format!("reason {} expiring at {at}", reason.0),
        None => format!("reason {} with no expiry", reason.0),
    }
}

/// What a carried override decides of one listing it names (W7).
#[derive(Debug, Clone)]
struct Decided {
    /// The override's position in the delta's overrides.
    index: usize,
    /// The listing, as it names it.
    listing: ListingRef,
    /// The update it makes; `None`: it removes the listing.
    update: Option<ListingUpdate>,
}

impl Decided {
    /// Checks that `op`, finding `old`, is the change decided: the removal
    /// or the update of the very listing named, held with its time (W7).
    fn check(&self, op: &Op, old: Option<&Entry>, verb: &str) -> Result<(), AuthorityError> {
        let named = |old: &Entry| {
            old.meta.agency == self.listing.agency && old.meta.listed_at == self.listing.listed_at
        };
        // An update holds only over the entry the board saw: after the
        // agency's own change, or the update itself, it is a replay.
        if let (Op::Update(_), Some(old), Some(update)) = (op, old, &self.update) {
            if named(old) && update.from_meta() != old.meta {
                return Err(self.refusal(format!(
                    "the listing held has {}, not the {} the board decided on: it changed since",
                    entry_in_words(old.meta.reason, old.meta.expires_at),
                    entry_in_words(update.from_reason, update.from_expires_at)
                )));
            }
        }
        let found = match (op, old) {
            (Op::Remove(..), Some(old)) if self.update.is_none() && named(old) => return Ok(()),
            (Op::Update(new), Some(old))
                if named(old)
                    && self.update.as_ref().map(ListingUpdate::meta).as_ref()
                        == Some(&new.meta) =>
            {
                return Ok(())
            }
            (Op::Update(new), Some(old)) if named(old) && self.update.is_some() => format!(
                "the delta updates it to {}",
                entry_in_words(new.meta.reason, new.meta.expires_at)
            ),
            (Op::Remove(..) | Op::Update(_), Some(old)) if !named(old) => format!(
                "the listing held is by {} at {}",
                old.meta.agency, old.meta.listed_at
            ),
            (Op::Remove(..) | Op::Update(_), None) => "it is not listed".to_owned(),
            _ => format!("the delta {verb} it"),
        };
        Err(self.refusal(found))
    }

    /// The refusal of a delta that does not make the decided change, for
    /// the reason `found`.
    fn refusal(&self, found: String) -> AuthorityError {
        let index = self.index;
        match &self.update {
            None => AuthorityError::NotOverridden {
                listing: self.listing.clone(),
                index,
                found,
            },
            Some(update) => AuthorityError::NotUpdatedAsDecided {
                update: Box::new(update.clone()),
                index,
                found,
            },
        }
    }
}

#[derive(Debug, Clone)]
struct Asked {
    index: usize,
    agency: Agency,
    op: SubmissionOp,
    accepted_at: Timestamp,
}

/// What the carried submissions of one delta ask for, and whose listings
/// need one: made by [`crate::verify::Verifier::authority`] when the verifier
/// holds an agency registry.
#[derive(Debug, Clone)]
pub struct Authority {
    /// From when agencies are principals, and overrides exist (W1).
    since: Since,
    created_at: Timestamp,
    registered: BTreeSet<Agency>,
    asked: HashMap<Listing, Asked>,
    /// Each listing an override removes or updates, and what it decides.
    overridden: HashMap<Listing, Decided>,
    unmade: Vec<Listing>,
    signers: Vec<CarriedSigner>,
    overrides: Vec<CarriedOverride>,
}

impl Authority {
    /// Verifies `delta`'s carried submissions against `registry` (W2, W3,
    /// and each key's submissions in order, W4), and takes its `overrides`,
    /// verified by the caller (W7); `since` says from when the rules apply.
    pub(super) fn new(
        delta: &Delta,
        registry: &Registry,
        since: Since,
        overrides: Vec<CarriedOverride>,
    ) -> Result<Authority, AuthorityError> {
        let mut asked = HashMap::new();
        let mut signers = Vec::with_capacity(delta.submissions.len());
        for (index, carried) in delta.submissions.iter().enumerate() {
            let submission =
                verify_submission(&carried.file, registry, &delta.list, carried.accepted_at)
                    .map_err(|source| AuthorityError::Submission {
                        index,
                        source: Box::new(source),
                    })?
                    .into_inner();
            if carried.accepted_at > delta.created_at {
                return Err(AuthorityError::AcceptedAfterDelta {
                    index,
                    agency: submission.agency,
                    accepted_at: carried.accepted_at,
                    created_at: delta.created_at,
                });
            }
            let key = envelope::parse(&carried.file)
                .expect("a verified submission parses")
                .signatures[0]
                .key_id;
            let sequence = submission.sequence.get();
            let agency = submission.agency.clone();
            for op in submission.ops {
                let listing = (op.id().clone(), submission.agency.clone());
                if let Some(first) = asked.get(&listing).map(|a: &Asked| a.index) {
                    return Err(AuthorityError::NamedTwice {
                        id: listing.0,
                        first,
                        second: index,
                    });
                }
                asked.insert(
                    listing,
                    Asked {
                        index,
                        agency: submission.agency.clone(),
                        op,
                        accepted_at: carried.accepted_at,
                    },
                );
            }
            // One key's submissions in the order it signed them, so the
            // sequence recorded for it is its newest.
            if let Some(earlier) = signers
                .iter()
                .rfind(|s: &&CarriedSigner| s.key == key)
                .filter(|s| sequence <= s.sequence)
            {
                return Err(AuthorityError::OutOfOrder {
                    agency,
                    key,
                    sequence,
                    earlier: earlier.sequence,
                });
            }
            signers.push(CarriedSigner {
                agency,
                key,
                sequence,
            });
        }
        let mut overridden = HashMap::new();
        for (index, decision) in overrides.iter().map(|o| &o.decision).enumerate() {
            if decision.made_at.0 > delta.created_at.0.saturating_add(MAX_CLOCK_SKEW) {
                return Err(AuthorityError::OverrideAfterDelta {
                    index,
                    made_at: decision.made_at,
                    created_at: delta.created_at,
                });
            }
            for (listing, update) in decision.changes() {
                let key = (listing.id.clone(), listing.agency.clone());
                let decided = Decided {
                    index,
                    listing: listing.clone(),
                    update: update.cloned(),
                };
                if asked.contains_key(&key) || overridden.insert(key, decided).is_some() {
                    return Err(AuthorityError::OverriddenTwice {
                        id: listing.id.clone(),
                        index,
                    });
                }
            }
        }
        let named: HashSet<(&Identifier, &Agency)> = delta
            .ops
            .iter()
            .filter_map(|op| match op.listing() {
                (id, Some(agency)) => Some((id, agency)),
                (_, None) => None,
            })
            .collect();
        let unmade = asked
            .keys()
            .chain(overridden.keys())
            .filter(|(id, agency)| !named.contains(&(id, agency)))
            .cloned()
            .collect();
        Ok(Authority {
            since,
            created_at: delta.created_at,
            registered: registry.agencies().iter().map(|a| a.id().clone()).collect(),
            asked,
            overridden,
            unmade,
            signers,
            overrides,
        })
    }

    /// Whether the operations are judged, for a replica whose version was
    /// made at `held` (W1): once the list is dated from registry version 1
    /// on, every later delta is, whatever date it claims; a delta dated
    /// before (published under labels, before agencies were principals) is
    /// not, unless it carries submissions or overrides.
    pub fn judges(&self, held: Timestamp) -> bool {
        !self.signers.is_empty()
            || !self.overrides.is_empty()
            || self.created_at >= self.since.principals
            || held >= self.since.principals
    }

    /// The overrides the delta carries, verified, in order: a replica
    /// records them, so that its answers show which listings were removed
    /// by override.
    pub fn overrides(&self) -> &[CarriedOverride] {
        &self.overrides
    }

    /// The carried submission (by position) that asks for a change to
    /// `listing`, if one does.
    pub fn asked_by(&self, listing: &Listing) -> Option<usize> {
        self.asked.get(listing).map(|asked| asked.index)
    }

    /// What the carried submission that asks for a change to `listing`
    /// asks, if one does (its position is [`Self::asked_by`]'s).
    pub fn request(&self, listing: &Listing) -> Option<&SubmissionOp> {
        self.asked.get(listing).map(|asked| &asked.op)
    }

    /// The signers of the carried submissions, one per submission in
    /// order, for the replay check (W4).
    pub fn signers(&self) -> &[CarriedSigner] {
        &self.signers
    }

    /// Checks every change at once, for a reader that holds its list apart
    /// from a store ([`crate::store::Store::apply_delta`] checks as it applies
    /// instead): `changes` pairs each operation of the delta on one listing
    /// with the listing it finds (a removal naming no agency comes once per
    /// listing it removes, naming it), `listed` answers with the listings of
    /// the identifiers no operation names, and
    /// `applied` gives the newest sequence applied from a key, and
    /// `overridden` the version that applied an override, by its decision's
    /// SHA-256; `now` is the reader's clock (W1, W4-W7). The outer error is
    /// `listed`'s and `overridden`'s.
    pub fn check_all<'a, E>(
        &self,
        changes: impl IntoIterator<Item = (&'a Op, Option<&'a Entry>)>,
        mut listed: impl FnMut(&Identifier) -> Result<Vec<EntryMeta>, E>,
        applied: impl Fn(&KeyId) -> Option<u64>,
        overridden: impl FnMut(&Sha256) -> Result<Option<u64>, E>,
        now: Timestamp,
    ) -> Result<Result<(), AuthorityError>, E> {
        if let Err(refused) = self
            .check_made(now)
            .and_then(|()| self.check_sequences(applied))
        {
            return Ok(Err(refused));
        }
        if let Err(replay) = self.check_overrides(overridden)? {
            return Ok(Err(replay));
        }
        let mut removed_whole = HashSet::new();
        for (op, old) in changes {
            if let Err(refused) = self.check(op, old) {
                return Ok(Err(refused));
            }
            if let (Op::Remove(id, None), Some(old)) = (op, old) {
                removed_whole.insert((id.clone(), old.meta.agency.clone()));
            }
        }
        for listing in self.unmade.iter().filter(|l| !removed_whole.contains(*l)) {
            if let Err(refused) = self.check_unmade(listing, &listed(&listing.0)?) {
                return Ok(Err(refused));
            }
        }
        Ok(Ok(()))
    }

    /// Checks that every carried submission is newer than the newest
    /// sequence `applied` gives for its key (W4).
    pub fn check_sequences(
        &self,
        applied: impl Fn(&KeyId) -> Option<u64>,
    ) -> Result<(), AuthorityError> {
        for signer in &self.signers {
            if let Some(applied) = applied(&signer.key).filter(|a| signer.sequence <= *a) {
                return Err(AuthorityError::Replayed {
                    agency: signer.agency.clone(),
                    key: signer.key,
                    sequence: signer.sequence,
                    applied,
                });
            }
        }
        Ok(())
    }

    /// Checks that the delta was not made more than [`MAX_CLOCK_SKEW`]
    /// after `now`, the replica's clock (W1).
    pub fn check_made(&self, now: Timestamp) -> Result<(), AuthorityError> {
        if self.created_at.0 > now.0.saturating_add(MAX_CLOCK_SKEW) {
            return Err(AuthorityError::MadeInTheFuture {
                created_at: self.created_at,
                now,
            });
        }
        Ok(())
    }

    /// Checks that no carried override was applied already: `applied`
    /// gives the version that applied an override, by its decision's
    /// SHA-256, whatever signatures its file carried (W7). The outer error
    /// is `applied`'s.
    pub fn check_overrides<E>(
        &self,
        mut applied: impl FnMut(&Sha256) -> Result<Option<u64>, E>,
    ) -> Result<Result<(), AuthorityError>, E> {
        for (index, carried) in self.overrides.iter().enumerate() {
            if let Some(version) = applied(&carried.decision_sha256)? {
                return Ok(Err(AuthorityError::OverrideReplayed { index, version }));
            }
        }
        Ok(Ok(()))
    }

    /// Checks one operation of the delta on one agency's listing against
    /// the listing `old` the replica holds (W5-W7). A removal naming no
    /// agency (a format-1 delta's) is checked once per listing it removes,
    /// as the removal of that listing.
    pub fn check(&self, op: &Op, old: Option<&Entry>) -> Result<(), AuthorityError> {
        let id = op.id();
        let verb = match op {
            Op::Add(_) => "adds",
            Op::Update(_) => "updates",
            Op::Remove(..) => "removes",
        };
        let Some(agency) = op.listing().1.or(old.map(|e| &e.meta.agency)) else {
            // A removal naming no agency of an identifier not listed: the
            // store refuses it as a conflict.
            return Ok(());
        };
        let key = (id.clone(), agency.clone());
        if let Some(asked) = self.asked.get(&key) {
            let change = ownership::judge(
                old.map(|e| std::slice::from_ref(&e.meta))
                    .unwrap_or_default(),
                &asked.agency,
                &asked.op,
                asked.accepted_at,
            )
            .map_err(|source| AuthorityError::Refused {
                index: asked.index,
                source,
            })?;
            let same = |made: &Op| match (made, op) {
                // A format-1 removal names no agency: it removes this one.
                (Op::Remove(a, _), Op::Remove(b, None)) => a == b,
                (made, op) => made == op,
            };
            return match change {
                Some(change) if same(&change.op) => Ok(()),
                _ => Err(AuthorityError::NotAsked {
                    id: id.clone(),
                    verb,
                    index: asked.index,
                    agency: asked.agency.clone(),
                }),
            };
        }
        if let Some(decided) = self.overridden.get(&key) {
            return decided.check(op, old, verb);
        }
        // A listing that no longer matches may be purged by the centre alone.
        if let (Op::Remove(..), Some(old)) = (op, old) {
            if !old.meta.is_active(self.created_at) {
                return Ok(());
            }
        }
        let new = match op {
            Op::Add(e) | Op::Update(e) => Some(&e.meta.agency),
            Op::Remove(..) => None,
        };
        // Strictly after: a delta made in the second the root was issued
        // may have been signed before it, and must replay as it was taken.
        let locked = self.since.overrides.is_some_and(|t| self.created_at > t);
        if let Some(old) = old.filter(|old| {
            locked
                && old.meta.listed_at < self.since.principals
                && !self.registered.contains(&old.meta.agency)
        }) {
            return Err(AuthorityError::Legacy {
                id: id.clone(),
                verb,
                label: old.meta.agency.clone(),
                listed_at: old.meta.listed_at,
                since: self.since.principals,
            });
        }
        let owner = old.map(|e| &e.meta.agency);
        match [owner, new]
            .into_iter()
            .flatten()
            .find(|a| self.registered.contains(*a))
        {
            Some(agency) => Err(matches!(op, Op::Remove(_, None))
                .then(|| self.refused_to_another(id, old))
                .flatten()
                .unwrap_or_else(|| AuthorityError::Unauthorised {
                    id: id.clone(),
                    verb,
                    agency: agency.clone(),
                })),
            None => Ok(()),
        }
    }

    /// Why a carried submission of another agency naming `id` is refused
    /// against the listing `old`, if one is: a removal naming no agency (a
    /// format-1 delta's, when `old` was the identifier's one listing) made
    /// a change no submission asked for, and this says why the one that
    /// named the identifier could not (W5). A scan of what was asked, on the
    /// path of a refusal only.
    fn refused_to_another(&self, id: &Identifier, old: Option<&Entry>) -> Option<AuthorityError> {
        let listings = old
            .map(|e| std::slice::from_ref(&e.meta))
            .unwrap_or_default();
        self.asked
            .iter()
            .filter(|((named, _), _)| named == id)
            .find_map(|(_, asked)| {
                ownership::judge(listings, &asked.agency, &asked.op, asked.accepted_at)
                    .err()
                    .map(|source| AuthorityError::Refused {
                        index: asked.index,
                        source,
                    })
            })
    }

    /// The listings carried submissions and overrides name that no
    /// operation of the delta names with its agency: each is checked with
    /// [`Self::check_unmade`], unless a removal naming no agency removed it
    /// (then [`Self::check`] judged that removal as the removal of it).
    pub fn unmade(&self) -> &[Listing] {
        &self.unmade
    }

    /// Checks that the carried operation on `listing` (one of
    /// [`Self::unmade`]) asks for no change to the listings `current` the
    /// replica holds of its identifier (W5); an override's removal or update
    /// always asks for one (W7).
    pub fn check_unmade(
        &self,
        listing: &Listing,
        current: &[EntryMeta],
    ) -> Result<(), AuthorityError> {
        let id = &listing.0;
        if let Some(decided) = self.overridden.get(listing) {
            let verb = if decided.update.is_some() {
                "update"
            } else {
                "remove"
            };
            return Err(decided.refusal(format!("the delta does not {verb} it")));
        }
        let asked = &self.asked[listing];
        match ownership::judge(current, &asked.agency, &asked.op, asked.accepted_at) {
            Ok(None) => Ok(()),
            Ok(Some(_)) => Err(AuthorityError::Unmade {
                id: id.clone(),
                verb: asked.op.verb(),
                index: asked.index,
                agency: asked.agency.clone(),
            }),
            Err(source) => Err(AuthorityError::Refused {
                index: asked.index,
                source,
            }),
        }
    }
}
