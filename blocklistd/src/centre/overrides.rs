//! Overrides at the centre (`docs/GOVERNANCE.md`, "Overrides"):
//! `blocklist override` writes one, naming each listing exactly as the
//! centre's list holds it and signed by a threshold of the root's override
//! keys, to remove the listings or to give them another reason or expiry;
//! `blocklist publish --override` removes or updates those listings in a
//! delta that carries the override, which every replica checks (W7); the intake
//! service takes one over HTTP or from its drop folder and publishes it
//! with its queue. Both judge it the same way ([`judge`]). The publish key
//! alone can make neither.

use std::path::Path;

use std::collections::HashSet;

use blocklist_core::document::{
    decision_sha256, ListingRef, ListingUpdate, Op, Override, RemovalReason,
};
use blocklist_core::store::Store;
use blocklist_core::verify::authority::entry_in_words;
use blocklist_core::verify::{Verifier, MAX_CLOCK_SKEW};
use blocklist_core::{
    atomic_file, Agency, Entry, EntryMeta, Identifier, Reason, Sha256, Timestamp,
};

use crate::centre::intake::{PublishedBy, RefusedInput};
use crate::centre::keys::{check_signers, CentreKey};
use crate::centre::{chain, intake, publish, submit, CentreError, PublishDir};

/// The largest override file read: [`blocklist_core::document::MAX_OVERRIDE_LISTINGS`]
/// listings and their signatures fit in a fraction of it.
pub const MAX_OVERRIDE_SIZE: u64 = 8 << 20;

/// A signed override given to `publish`: a file, or one the intake
/// service queued.
#[derive(Clone, Debug)]
pub struct OverrideInput {
    /// The file's path, or the intake queue's id of it.
    pub name: String,
    /// The signed override.
    pub bytes: Vec<u8>,
}

impl OverrideInput {
    /// Reads an override file, refusing one larger than [`MAX_OVERRIDE_SIZE`]
    /// before reading it.
    pub fn read(file: &Path) -> Result<OverrideInput, CentreError> {
        Ok(OverrideInput {
            name: file.display().to_string(),
            bytes: intake::read_bounded(file, MAX_OVERRIDE_SIZE)?,
        })
    }
}

/// What `blocklist override` decides.
#[derive(Debug)]
pub struct Decision {
    /// The identifiers whose listings it removes or updates.
    pub ids: Vec<Identifier>,
    /// Only the listings of this agency (`None`: every listing of each
    /// identifier, whoever listed it).
    pub agency: Option<Agency>,
    /// `None`: the listings are removed; else they are updated so.
    pub update: Option<UpdateTo>,
    /// Whether an update may name a listing that has expired (listing it
    /// again): the board says so explicitly, or the listing is refused.
    pub expired: bool,
    /// Why.
    pub why: RemovalReason,
    /// The decision in words (a case or appeal reference).
    pub note: String,
    /// Override keys of the newest root, at least its threshold.
    pub signers: Vec<CentreKey>,
}

/// What an override update gives each listing it names; what it leaves
/// `None` the listing keeps as the list holds it when the override is made.
/// The update names that entry too (OV4): if the agency changes its
/// listing before the override is published, the publish is refused
/// ([`judge`]) rather than the agency's change silently undone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpdateTo {
    /// The new reason.
    pub reason: Option<Reason>,
    /// The new expiry (`Some(None)`: it never expires).
    pub expires_at: Option<Option<Timestamp>>,
}

impl UpdateTo {
    /// The update of the listing `meta` of `id`.
    fn of(&self, id: &Identifier, meta: EntryMeta) -> ListingUpdate {
        ListingUpdate {
            from_reason: meta.reason,
            from_expires_at: meta.expires_at,
            reason: self.reason.unwrap_or(meta.reason),
            expires_at: self.expires_at.unwrap_or(meta.expires_at),
            listing: ListingRef {
                id: id.clone(),
                agency: meta.agency,
                listed_at: meta.listed_at,
            },
        }
    }
}

/// Writes to `output` an override of `decision` for the list in `dir`,
/// naming each listing as the directory's current version holds it, signed
/// by `decision.signers` and checked as replicas will check it.
pub fn make(
    dir: &Path,
    decision: &Decision,
    output: &Path,
    now: Timestamp,
) -> Result<(), CentreError> {
    let dir = PublishDir::open(dir)?;
    let lock = dir.lock()?;
    let root = publish::newest_root(&dir)?;
    let trust = root.root();
    let keys = trust.override_keys.as_ref().ok_or_else(|| {
        CentreError::usage(format!(
            "trust root {} names no override keys: add them with `blocklist rotate --add-override-key`",
            trust.version
        ))
    })?;
    check_signers(
        decision.signers.iter(),
        keys,
        "override",
        trust.version,
        " (an override is signed by override keys, see docs/GOVERNANCE.md)",
    )?;
    let listed = publish::listings(&dir, &lock, &decision.ids)?;
    drop(lock);
    // Every listing of each identifier (or the one agency's): an override
    // clears or corrects it whoever listed it.
    let (mut removals, mut updates) = (Vec::new(), Vec::new());
    for (id, listings) in decision.ids.iter().zip(listed) {
        let listings: Vec<EntryMeta> = listings
            .into_iter()
            .filter(|m| decision.agency.as_ref().is_none_or(|a| *a == m.agency))
            .collect();
        if listings.is_empty() {
            return Err(CentreError::usage(format!(
                "{} {} is not listed{}: there is nothing to override",
                id.kind(),
                id.as_str(),
                decision
                    .agency
                    .as_ref()
                    .map_or_else(String::new, |a| format!(" by {a}"))
            )));
        }
        for meta in listings {
            match &decision.update {
                Some(_) if !decision.expired && meta.expires_at.is_some_and(|t| t <= now) => {
                    return Err(CentreError::usage(format!(
                        "{} {} of {} expired at {}: updating it lists it again; pass --expired if the board means that",
                        id.kind(),
                        id.as_str(),
                        meta.agency,
                        meta.expires_at.map_or(0, |t| t.0)
                    )));
                }
                Some(to) => updates.push(to.of(id, meta)),
                None => removals.push(ListingRef {
                    id: id.clone(),
                    agency: meta.agency,
                    listed_at: meta.listed_at,
                }),
            }
        }
    }
    let doc = Override {
        list: trust.list.clone(),
        made_at: now,
        why: decision.why,
        note: decision.note.clone(),
        removals,
        updates,
        extensions: vec![],
    };
    let signers: Vec<&CentreKey> = decision.signers.iter().collect();
    let bytes = chain::sign(&doc, || "override".to_owned(), &signers)?;
    root.override_doc(&bytes)
        .map_err(|source| CentreError::Verify {
            file: "new override".to_owned(),
            source,
        })?;
    atomic_file::write_file_via(&submit::parent(output), output, &bytes)?;
    Ok(())
}

/// An override judged publishable against the list as it is.
#[derive(Debug)]
pub struct JudgedOverride {
    /// The removals and updates it makes, each with the entry it removes or
    /// updates.
    pub changes: Vec<(Op, Option<Entry>)>,
    /// How many of `changes` are removals.
    pub removals: usize,
    /// The SHA-256 of its payload: the decision, whatever signatures the
    /// file carries, which replicas remember once applied (W7).
    pub decision: Sha256,
    /// When its signers made it.
    pub made_at: Timestamp,
    /// The identifiers it names (once each).
    pub ids: Vec<Identifier>,
}

/// Judges `input` as replicas will judge the delta carrying it at `now`
/// (W7): verified under `verifier`'s root (OV1-OV3), made no later than
/// `now` allows, its decision never applied to `list`, and every listing it
/// names listed now exactly so. Both `publish --override` and the intake
/// service judge by it.
pub fn judge(
    verifier: &Verifier,
    list: &Store,
    input: &OverrideInput,
    now: Timestamp,
) -> Result<JudgedOverride, CentreError> {
    let file = &input.name;
    let decision = verifier
        .override_doc(&input.bytes)
        .map_err(|source| CentreError::Override {
            file: file.clone(),
            source,
        })?;
    if decision.made_at.0 > now.0.saturating_add(MAX_CLOCK_SKEW) {
        return Err(CentreError::OverrideAhead {
            file: file.clone(),
            made_at: decision.made_at,
            now,
        });
    }
    let payload = decision_sha256(&input.bytes).expect("a verified override parses as an override");
    if let Some(version) = list.override_applied(&payload)? {
        return Err(CentreError::OverrideAgain {
            file: file.clone(),
            version,
        });
    }
    let mut changes = Vec::with_capacity(decision.removals.len() + decision.updates.len());
    let mut ids: Vec<Identifier> = Vec::new();
    let mut named = HashSet::new();
    for (listing, update) in decision.changes() {
        let id = &listing.id;
        if named.insert(id) {
            ids.push(id.clone());
        }
        let held = list.listed(id)?;
        match held.iter().find(|m| m.agency == listing.agency) {
            Some(meta) if meta.listed_at == listing.listed_at => {
                if let Some(update) = update.filter(|u| u.from_meta() != *meta) {
                    return Err(CentreError::OverrideChanged {
                        file: file.clone(),
                        id: format!("{} {}", id.kind(), id.as_str()),
                        agency: listing.agency.clone(),
                        decided: entry_in_words(update.from_reason, update.from_expires_at),
                        held: entry_in_words(meta.reason, meta.expires_at),
                    });
                }
                let op = match update {
                    None => Op::Remove(id.clone(), Some(listing.agency.clone())),
                    Some(update) => Op::Update(Entry {
                        id: id.clone(),
                        meta: update.meta(),
                    }),
                };
                let old = Entry {
                    id: id.clone(),
                    meta: meta.clone(),
                };
                changes.push((op, Some(old)));
            }
            _ => {
                let held: Vec<String> = held
                    .iter()
                    .map(|m| format!("listed by {} at {}", m.agency, m.listed_at))
                    .collect();
                return Err(CentreError::OverrideStale {
                    file: file.clone(),
                    id: format!("{} {}", id.kind(), id.as_str()),
                    named: format!("{} at {}", listing.agency, listing.listed_at),
                    held: if held.is_empty() {
                        "not listed".to_owned()
                    } else {
                        held.join(", ")
                    },
                });
            }
        }
    }
    Ok(JudgedOverride {
        changes,
        removals: decision.removals.len(),
        decision: payload,
        made_at: decision.made_at,
        ids,
    })
}

/// What the overrides of one publish do.
#[derive(Debug, Default)]
pub(crate) struct Planned {
    /// The removals and updates, each with the entry it removes or updates.
    pub changes: Vec<(Op, Option<Entry>)>,
    /// How many of `changes` are removals.
    pub removals: usize,
    /// The overrides taken, as the delta carries them.
    pub carried: Vec<Vec<u8>>,
    /// The names of the overrides taken.
    pub taken: Vec<String>,
    /// Overrides left out ([`PublishedBy::IntakeService`]), and why.
    pub refused: Vec<RefusedInput>,
}

/// The removals and updates `inputs` make of `list` at `now`, each judged by [`judge`];
/// a refusal refuses them all, or leaves that one out, as `by` says.
pub(crate) fn plan(
    verifier: &Verifier,
    list: &Store,
    inputs: &[OverrideInput],
    now: Timestamp,
    by: PublishedBy,
) -> Result<Planned, CentreError> {
    let mut planned = Planned::default();
    for input in inputs {
        match judge(verifier, list, input, now) {
            Ok(judged) => {
                planned.removals += judged.removals;
                planned.changes.extend(judged.changes);
                planned.carried.push(input.bytes.clone());
                planned.taken.push(input.name.clone());
            }
            Err(refused) if by == PublishedBy::IntakeService && refused.refuses_input() => {
                planned.refused.push(RefusedInput {
                    name: input.name.clone(),
                    reason: refused.to_string(),
                });
            }
            Err(failed) => return Err(failed),
        }
    }
    Ok(planned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_file_larger_than_the_bound_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.override");
        std::fs::File::create(&file)
            .unwrap()
            .set_len(MAX_OVERRIDE_SIZE + 1)
            .unwrap();
        assert!(matches!(
            OverrideInput::read(&file),
            Err(CentreError::TooLarge { .. })
        ));
    }
}
