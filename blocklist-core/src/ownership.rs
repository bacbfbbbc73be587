//! Who may change a listing: the rules applied to each operation of an
//! agency's signed submission, in one place. The centre judges submissions
//! by them before it publishes; every replica judges the submissions a delta
//! carries by them again before it applies the delta
//! ([`crate::verify::authority`]), so a centre cannot list or delist in an
//! agency's name.
//!
//! A listing belongs to the agency that made it (the entry's agency); an
//! identifier may be listed by several agencies, one listing each, and
//! matches while any of them does. The agency of a submission is the one
//! its signature belongs to ([`crate::verify::verify_submission`]), never a
//! label. Then:
//!
//! - an **add** lists the identifier under the agency, dated by the centre's
//!   acceptance time, beside any other agency's listing; of the agency's own
//!   listing, it updates it (unchanged when the same), so an agency may
//!   resend its whole current list;
//! - an **update** or a **removal** must name a listing of the agency's own;
//!   where only other agencies list the identifier it is refused naming one
//!   of them, where nobody does it is refused.
//!
//! A submission is taken whole or not at all ([`plan`]): every refusal is
//! reported at once, and nothing of a refused submission is applied.

use crate::document::{Op, SubmissionOp};
use crate::{Agency, Entry, EntryMeta, Identifier, Timestamp};

/// An operation of a submission the rules refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// An update or removal of another agency's listing.
    #[error("{} {} is listed by {owner}; {agency} may not {verb} it", .id.kind(), .id.as_str())]
    OwnedByAnother {
        /// The identifier.
        id: Identifier,
        /// The agency whose listing it is.
        owner: Agency,
        /// The agency that asked.
        agency: Agency,
        /// `update` or `remove`.
        verb: &'static str,
    },
    /// An update or removal of an identifier nobody lists.
    #[error("{} {} is not listed; {agency} cannot {verb} it", .id.kind(), .id.as_str())]
    NotListed {
        /// The identifier.
        id: Identifier,
        /// The agency that asked.
        agency: Agency,
        /// `update` or `remove`.
        verb: &'static str,
    },
}

/// What one accepted operation does to the list: the delta's operation and
/// the entry it replaces (for the state digest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The operation the delta carries.
    pub op: Op,
    /// The entry listed before it, if any.
    pub old: Option<Entry>,
}

/// Judges one operation of `agency`'s submission against the listings the
/// identifier has now (`listings`, any order), at the acceptance time `now`:
/// the change it makes (`None`: the list already says so), or why it is
/// refused.
///
/// ```
/// use blocklist_core::document::{ListingRequest, RemovalReason, RemovalRequest, SubmissionOp};
/// use blocklist_core::*;
/// use blocklist_core::ownership::{judge, Refusal};
/// let id = Identifier::from_canonical(Kind::Number, "+66812345678").unwrap();
/// let listed = EntryMeta { reason: Reason::SCAM_CALL, agency: Agency::new("th-aoc").unwrap(),
///                          listed_at: Timestamp(1), expires_at: None };
/// let by = Agency::new("th-dsi").unwrap();
/// // Another agency may list it too...
/// let add = SubmissionOp::Add(ListingRequest { id: id.clone(), reason: Reason::SCAM_CALL, expires_at: None });
/// assert!(judge(std::slice::from_ref(&listed), &by, &add, Timestamp(2)).unwrap().is_some());
/// // ...but not remove th-aoc's listing.
/// let remove = SubmissionOp::Remove(RemovalRequest { id, why: RemovalReason::CLEARED });
/// let refused = judge(std::slice::from_ref(&listed), &by, &remove, Timestamp(2)).unwrap_err();
/// assert!(matches!(refused, Refusal::OwnedByAnother { .. }));
/// ```
pub fn judge(
    listings: &[EntryMeta],
    agency: &Agency,
    op: &SubmissionOp,
    now: Timestamp,
) -> Result<Option<Change>, Refusal> {
    let id = op.id();
    let own = listings.iter().find(|meta| &meta.agency == agency);
    let old = own.map(|meta| Entry {
        id: id.clone(),
        meta: meta.clone(),
    });
    let not_own = || match listings.first() {
        Some(other) => Refusal::OwnedByAnother {
            id: id.clone(),
            owner: other.agency.clone(),
            agency: agency.clone(),
            verb: op.verb(),
        },
        None => Refusal::NotListed {
            id: id.clone(),
            agency: agency.clone(),
            verb: op.verb(),
        },
    };
    match (op, own) {
        (SubmissionOp::Add(l) | SubmissionOp::Update(l), own) => {
            // Dated when first listed, as the label-based publish does.
            let meta = EntryMeta {
                reason: l.reason,
                agency: agency.clone(),
                listed_at: own.map_or(now, |meta| meta.listed_at),
                expires_at: l.expires_at,
            };
            let new = Entry {
                id: id.clone(),
                meta,
            };
            match own {
                None if matches!(op, SubmissionOp::Update(_)) => Err(not_own()),
                None => Ok(Some(Change {
                    op: Op::Add(new),
                    old: None,
                })),
                Some(meta) if new.meta == *meta => Ok(None),
                Some(_) => Ok(Some(Change {
                    op: Op::Update(new),
                    old,
                })),
            }
        }
        (SubmissionOp::Remove(_), None) => Err(not_own()),
        (SubmissionOp::Remove(_), Some(_)) => Ok(Some(Change {
            op: Op::Remove(id.clone(), Some(agency.clone())),
            old,
        })),
    }
}

/// Judges every operation of `agency`'s submission, reading each
/// identifier's current listings through `listed`: the changes, or every
/// refusal (then nothing of the submission may be applied).
pub fn plan<E>(
    agency: &Agency,
    ops: &[SubmissionOp],
    now: Timestamp,
    mut listed: impl FnMut(&Identifier) -> Result<Vec<EntryMeta>, E>,
) -> Result<Result<Vec<Change>, Vec<Refusal>>, E> {
    let mut changes = Vec::with_capacity(ops.len());
    let mut refusals = Vec::new();
    for op in ops {
        match judge(&listed(op.id())?, agency, op, now) {
            Ok(change) => changes.extend(change),
            Err(refusal) => refusals.push(refusal),
        }
    }
    Ok(if refusals.is_empty() {
        Ok(changes)
    } else {
        Err(refusals)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};
    use std::convert::Infallible;

    use crate::document::{ListingRequest, RemovalReason, RemovalRequest};
    use crate::{Kind, Reason};
    use proptest::prelude::*;

    use super::*;

    const AGENCIES: [&str; 3] = ["bank-004", "th-aoc", "th-dsi"];

    fn agency(i: usize) -> Agency {
        Agency::new(AGENCIES[i]).unwrap()
    }

    fn number(i: u8) -> Identifier {
        Identifier::from_canonical(Kind::Number, &format!("+668123456{i:02}")).unwrap()
    }

    /// The rules as a table of listings, written as the documentation
    /// states them, with no reference to entries or deltas.
    #[derive(Default, Clone, Debug, PartialEq)]
    struct Model {
        /// Identifier -> its listings: owner -> expires at.
        listings: BTreeMap<u8, BTreeMap<usize, Option<u64>>>,
    }

    impl Model {
        /// Whether `by` may do `op` (0 add, 1 update, 2 remove) to `id`:
        /// anyone may add; only an owner may update or remove.
        fn allows(&self, by: usize, op: u8, id: u8) -> bool {
            op == 0 || self.listings.get(&id).is_some_and(|l| l.contains_key(&by))
        }
    }

    fn op(kind: u8, id: u8, expires: Option<u64>) -> SubmissionOp {
        let listing = ListingRequest {
            id: number(id),
            reason: Reason::SCAM_CALL,
            expires_at: expires.map(Timestamp),
        };
        match kind {
            0 => SubmissionOp::Add(listing),
            1 => SubmissionOp::Update(listing),
            _ => SubmissionOp::Remove(RemovalRequest {
                id: number(id),
                why: RemovalReason::CLEARED,
            }),
        }
    }

    #[test]
    fn a_removal_of_another_agencys_listing_names_the_owner() {
        let listed = EntryMeta {
            reason: Reason::SCAM_CALL,
            agency: agency(1),
            listed_at: Timestamp(1),
            expires_at: None,
        };
        let refused = judge(&[listed], &agency(2), &op(2, 45, None), Timestamp(5)).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "number +66812345645 is listed by th-aoc; th-dsi may not remove it"
        );
    }

    proptest! {
        /// Submissions from random agencies, applied to a list through
        /// `plan`, leave the listings the model says; a submission the
        /// model refuses in any operation changes nothing.
        #[test]
        fn plan_follows_the_ownership_model(
            submissions in prop::collection::vec(
                (0usize..3, prop::collection::btree_map(0u8..8, (0u8..3, prop::option::of(0u64..20)), 1..4)),
                1..24,
            ),
        ) {
            let mut list: HashMap<(Identifier, Agency), EntryMeta> = HashMap::new();
            let mut model = Model::default();
            for (step, (by, ops)) in submissions.into_iter().enumerate() {
                let now = step as u64;
                let ops: Vec<(u8, u8, Option<u64>)> = ops.into_iter().map(|(id, (k, e))| (k, id, e)).collect();
                let mut next = model.clone();
                let mut allowed = true;
                for &(kind, id, expires) in &ops {
                    if !model.allows(by, kind, id) {
                        allowed = false;
                    } else if kind == 2 {
                        let listings = next.listings.get_mut(&id).unwrap();
                        listings.remove(&by);
                        if listings.is_empty() {
                            next.listings.remove(&id);
                        }
                    } else {
                        next.listings.entry(id).or_default().insert(by, expires);
                    }
                }
                let submitted: Vec<SubmissionOp> = ops.iter().map(|&(k, id, e)| op(k, id, e)).collect();
                let planned = plan::<Infallible>(&agency(by), &submitted, Timestamp(now), |id| {
                    Ok(list.iter().filter(|((i, _), _)| i == id).map(|(_, m)| m.clone()).collect())
                }).unwrap();
                prop_assert_eq!(planned.is_ok(), allowed, "step {}: {:?}", step, planned);
                if let Ok(changes) = planned {
                    for change in changes {
                        match change.op {
                            Op::Add(e) | Op::Update(e) => { list.insert((e.id.clone(), e.meta.agency.clone()), e.meta); }
                            Op::Remove(id, agency) => { list.remove(&(id, agency.unwrap())); }
                        }
                    }
                    model = next;
                }
                let mut listings: BTreeMap<u8, BTreeMap<usize, Option<u64>>> = BTreeMap::new();
                for i in 0u8..8 {
                    for ((id, agency), meta) in &list {
                        if *id == number(i) {
                            let owner = AGENCIES.iter().position(|a| *a == agency.as_str()).unwrap();
                            listings.entry(i).or_default().insert(owner, meta.expires_at.map(|t| t.0));
                        }
                    }
                }
                prop_assert_eq!(&listings, &model.listings, "step {}", step);
            }
        }
    }
}
