//! Overrides at the centre (`docs/GOVERNANCE.md`, "Overrides"):
//! `blocklist override` writes one, naming each listing exactly as the
//! centre's list holds it and signed by a threshold of the root's override
//! keys; `blocklist publish --override` removes those listings in a delta
//! that carries the override, which every replica checks (W7). The publish
//! key alone can make neither.

use std::path::Path;

use blocklist_core::document::{ListingRef, Op, Override, RemovalReason};
use blocklist_core::store::Store;
use blocklist_core::verify::Verifier;
use blocklist_core::{atomic_file, Entry, Identifier, Timestamp};

use crate::centre::keys::{check_signers, CentreKey};
use crate::centre::{chain, intake, publish, submit, CentreError, PublishDir};

/// The largest override file read: [`blocklist_core::document::MAX_OVERRIDE_REMOVALS`]
/// listings and their signatures fit in a fraction of it.
pub const MAX_OVERRIDE_SIZE: u64 = 8 << 20;

/// A signed override file given to `publish`.
#[derive(Clone, Debug)]
pub struct OverrideInput {
    /// The file's path.
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
    /// The identifiers whose listings it removes.
    pub ids: Vec<Identifier>,
    /// Why.
    pub why: RemovalReason,
    /// The decision in words (a case or appeal reference).
    pub note: String,
    /// Override keys of the newest root, at least its threshold.
    pub signers: Vec<CentreKey>,
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
    // Every listing of each identifier: an override clears it whoever listed it.
    let mut removals = Vec::new();
    for (id, listings) in decision.ids.iter().zip(listed) {
        if listings.is_empty() {
            return Err(CentreError::usage(format!(
                "{} {} is not listed: there is nothing to override",
                id.kind(),
                id.as_str()
            )));
        }
        removals.extend(listings.into_iter().map(|meta| ListingRef {
            id: id.clone(),
            agency: meta.agency,
            listed_at: meta.listed_at,
        }));
    }
    let doc = Override {
        list: trust.list.clone(),
        made_at: now,
        why: decision.why,
        note: decision.note.clone(),
        removals,
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

/// The removals `inputs` make of `list`, each with the entry it removes:
/// every override verified under `verifier`'s root (OV1), every listing it
/// names listed now exactly so.
pub(crate) fn plan(
    verifier: &Verifier,
    list: &Store,
    inputs: &[OverrideInput],
) -> Result<Vec<(Op, Option<Entry>)>, CentreError> {
    let mut changes = Vec::new();
    for input in inputs {
        let decision =
            verifier
                .override_doc(&input.bytes)
                .map_err(|source| CentreError::Verify {
                    file: input.name.clone(),
                    source,
                })?;
        for listing in &decision.removals {
            let id = &listing.id;
            let held = list.listed(id)?;
            match held.iter().find(|m| m.agency == listing.agency) {
                Some(meta) if meta.listed_at == listing.listed_at => {
                    changes.push((
                        Op::Remove(id.clone(), Some(listing.agency.clone())),
                        Some(Entry {
                            id: id.clone(),
                            meta: meta.clone(),
                        }),
                    ));
                }
                _ => {
                    let held: Vec<String> = held
                        .iter()
                        .map(|m| format!("listed by {} at {}", m.agency, m.listed_at))
                        .collect();
                    return Err(CentreError::OverrideStale {
                        file: input.name.clone(),
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
    }
    Ok(changes)
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
