//! Who may change a listing: the rules applied to each operation of an
//! agency's signed submission, in one place. The centre judges submissions
//! by them before it publishes; every replica judges the submissions a delta
//! carries by them again before it applies the delta
//! ([`crate::verify::authority`]), so a centre cannot list or delist in an
//! agency's name.
//!
//! A listing belongs to the agency that made it (the entry's agency). The
//! agency of a submission is the one its signature belongs to
//! ([`crate::verify::verify_submission`]), never a label. Then:
//!
//! - an **add** of an identifier not listed lists it, dated by the centre's
//!   acceptance time; of the agency's own listing, updates it (unchanged when
//!   the same), so an agency may resend its whole current list; of a listing
//!   by another agency that has expired, replaces it (it no longer matches,
//!   and would otherwise block every agency until it is purged); of an active
//!   listing by another agency, is refused naming the owner: one identifier
//!   listed by several agencies needs the format-2 store (a later step);
//! - an **update** or a **removal** must name a listing of the agency's own;
//!   another agency's is refused naming the owner, an identifier not listed
//!   is refused.
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
    /// An add of an identifier another agency lists (and has not expired).
    #[error("{} {} is listed by {owner}; {agency} may not list it too (one identifier listed by several agencies needs the format-2 store, not built yet)", .id.kind(), .id.as_str())]
    ListedByAnother {
        /// The identifier.
        id: Identifier,
        /// The agency whose listing it is.
        owner: Agency,
        /// The agency that asked.
        agency: Agency,
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

/// Judges one operation of `agency`'s submission against the listing the
/// identifier has now (`current`), at the acceptance time `now`: the change
/// it makes (`None`: the list already says so), or why it is refused.
///
/// ```
/// use blocklist_core::document::{ListingRequest, SubmissionOp};
/// use blocklist_core::*;
/// use blocklist_core::ownership::{judge, Refusal};
/// let id = Identifier::from_canonical(Kind::Number, "+66812345678").unwrap();
/// let listed = EntryMeta { reason: Reason::SCAM_CALL, agency: Agency::new("th-aoc").unwrap(),
///                          listed_at: Timestamp(1), expires_at: None };
/// let add = SubmissionOp::Add(ListingRequest { id, reason: Reason::SCAM_CALL, expires_at: None });
/// let by = Agency::new("th-dsi").unwrap();
/// let refused = judge(Some(&listed), &by, &add, Timestamp(2)).unwrap_err();
/// assert!(matches!(refused, Refusal::ListedByAnother { .. }));
/// ```
pub fn judge(
    current: Option<&EntryMeta>,
    agency: &Agency,
    op: &SubmissionOp,
    now: Timestamp,
) -> Result<Option<Change>, Refusal> {
    let id = op.id();
    let old = current.map(|meta| Entry {
        id: id.clone(),
        meta: meta.clone(),
    });
    let owned_by_another = |owner: &Agency| Refusal::OwnedByAnother {
        id: id.clone(),
        owner: owner.clone(),
        agency: agency.clone(),
        verb: op.verb(),
    };
    match (op, current) {
        (SubmissionOp::Add(l) | SubmissionOp::Update(l), current) => {
            let listed = |listed_at| EntryMeta {
                reason: l.reason,
                agency: agency.clone(),
                listed_at,
                expires_at: l.expires_at,
            };
            let new = |meta| Entry {
                id: id.clone(),
                meta,
            };
            match current {
                None if matches!(op, SubmissionOp::Update(_)) => Err(Refusal::NotListed {
                    id: id.clone(),
                    agency: agency.clone(),
                    verb: op.verb(),
                }),
                None => Ok(Some(Change {
                    op: Op::Add(new(listed(now))),
                    old: None,
                })),
                Some(meta) if &meta.agency == agency => {
                    // Dated when first listed, as the label-based publish does.
                    let meta_new = listed(meta.listed_at);
                    Ok((meta_new != *meta).then(|| Change {
                        op: Op::Update(new(meta_new)),
                        old,
                    }))
                }
                Some(meta) if matches!(op, SubmissionOp::Update(_)) => {
                    Err(owned_by_another(&meta.agency))
                }
                Some(meta) if meta.is_active(now) => Err(Refusal::ListedByAnother {
                    id: id.clone(),
                    owner: meta.agency.clone(),
                    agency: agency.clone(),
                }),
                // Another agency's listing that expired: a fresh listing.
                Some(_) => Ok(Some(Change {
                    op: Op::Update(new(listed(now))),
                    old,
                })),
            }
        }
        (SubmissionOp::Remove(_), None) => Err(Refusal::NotListed {
            id: id.clone(),
            agency: agency.clone(),
            verb: op.verb(),
        }),
        (SubmissionOp::Remove(_), Some(meta)) if &meta.agency != agency => {
            Err(owned_by_another(&meta.agency))
        }
        (SubmissionOp::Remove(_), Some(_)) => Ok(Some(Change {
            op: Op::Remove(id.clone()),
            old,
        })),
    }
}

/// Judges every operation of `agency`'s submission, reading each
/// identifier's current listing through `listed`: the changes, or every
/// refusal (then nothing of the submission may be applied).
pub fn plan<E>(
    agency: &Agency,
    ops: &[SubmissionOp],
    now: Timestamp,
    mut listed: impl FnMut(&Identifier) -> Result<Option<EntryMeta>, E>,
) -> Result<Result<Vec<Change>, Vec<Refusal>>, E> {
    let mut changes = Vec::with_capacity(ops.len());
    let mut refusals = Vec::new();
    for op in ops {
        match judge(listed(op.id())?.as_ref(), agency, op, now) {
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
    use std::collections::HashMap;
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

    /// The rules as a table of owners, written as the documentation states
    /// them, with no reference to entries or deltas.
    #[derive(Default, Clone, Debug, PartialEq)]
    struct Model {
        /// Identifier -> (owner, expires at).
        owners: HashMap<u8, (usize, Option<u64>)>,
    }

    impl Model {
        /// Whether `by` may do `op` (0 add, 1 update, 2 remove) to `id` at `now`.
        fn allows(&self, by: usize, op: u8, id: u8, now: u64) -> bool {
            match (op, self.owners.get(&id)) {
                // An add: of nothing, of one's own, or of another's expired listing.
                (0, None) => true,
                (0, Some(&(owner, expires))) => owner == by || expires.is_some_and(|e| now >= e),
                // An update or removal: of one's own only.
                (_, Some(&(owner, _))) => owner == by,
                (_, None) => false,
            }
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
        let refused = judge(Some(&listed), &agency(2), &op(2, 45, None), Timestamp(5)).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "number +66812345645 is listed by th-aoc; th-dsi may not remove it"
        );
    }

    proptest! {
        /// Submissions from random agencies, applied to a list through
        /// `plan`, leave the owners the model says; a submission the model
        /// refuses in any operation changes nothing.
        #[test]
        fn plan_follows_the_ownership_model(
            submissions in prop::collection::vec(
                (0usize..3, prop::collection::btree_map(0u8..8, (0u8..3, prop::option::of(0u64..20)), 1..4)),
                1..24,
            ),
        ) {
            let mut list: HashMap<Identifier, EntryMeta> = HashMap::new();
            let mut model = Model::default();
            for (step, (by, ops)) in submissions.into_iter().enumerate() {
                let now = step as u64;
                let ops: Vec<(u8, u8, Option<u64>)> = ops.into_iter().map(|(id, (k, e))| (k, id, e)).collect();
                let mut next = model.clone();
                let mut allowed = true;
                for &(kind, id, expires) in &ops {
                    if !model.allows(by, kind, id, now) {
                        allowed = false;
                    } else if kind == 2 {
                        next.owners.remove(&id);
                    } else {
                        next.owners.insert(id, (by, expires));
                    }
                }
                let submitted: Vec<SubmissionOp> = ops.iter().map(|&(k, id, e)| op(k, id, e)).collect();
                let planned = plan::<Infallible>(&agency(by), &submitted, Timestamp(now), |id| Ok(list.get(id).cloned())).unwrap();
                prop_assert_eq!(planned.is_ok(), allowed, "step {}: {:?}", step, planned);
                if let Ok(changes) = planned {
                    for change in changes {
                        match change.op {
                            Op::Add(e) | Op::Update(e) => { list.insert(e.id.clone(), e.meta); }
                            Op::Remove(id) => { list.remove(&id); }
                        }
                    }
                    model = next;
                }
                let owners: HashMap<u8, (usize, Option<u64>)> = (0u8..8)
                    .filter_map(|i| list.get(&number(i)).map(|m| {
                        let owner = AGENCIES.iter().position(|a| *a == m.agency.as_str()).unwrap();
                        (i, (owner, m.expires_at.map(|t| t.0)))
                    }))
                    .collect();
                prop_assert_eq!(&owners, &model.owners, "step {}", step);
            }
        }
    }
}
