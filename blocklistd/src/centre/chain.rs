//! Walking a published chain: trust roots from the first to the newest, then
//! a base (the empty list or a snapshot) and the deltas that follow it, each
//! verified and applied to an in-memory [`Replica`] whose state digest must
//! match every signed state on the way.
//!
//! The publisher and the audit share this walk: the publisher starts from the
//! newest snapshot to learn the current list, the audit from the oldest base
//! to check every delta.

use std::collections::{BTreeMap, HashMap, HashSet};

use blocklist_core::document::{
    parse_file_path, Delta, DocType, Document, FileRef, ListState, Manifest, Op, Snapshot, Version,
};
use blocklist_core::verify::{self, read_unverified, Verifier};
use blocklist_core::{Entry, EntryMeta, Identifier, Timestamp};

use crate::centre::source::{Source, MAX_ROOT_SIZE};
use crate::centre::CentreError;

/// A whole list in memory at one version.
#[derive(Debug, Default)]
pub struct Replica {
    entries: HashMap<Identifier, EntryMeta>,
    state: ListState,
    version: Option<Version>,
}

impl Replica {
    /// The list a verified snapshot holds.
    pub fn from_snapshot(snapshot: Snapshot) -> Replica {
        Replica {
            version: Some(snapshot.version),
            state: snapshot.state,
            entries: snapshot
                .entries
                .into_iter()
                .map(|e| (e.id, e.meta))
                .collect(),
        }
    }

    /// The version held (`None`: the empty list before version 1).
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The state digest and count.
    pub fn state(&self) -> ListState {
        self.state
    }

    /// The metadata of a listed identifier.
    pub fn get(&self, id: &Identifier) -> Option<&EntryMeta> {
        self.entries.get(id)
    }

    /// The identifiers whose expiry is at or before `cutoff`.
    pub fn expired_by(&self, cutoff: Timestamp) -> impl Iterator<Item = &Identifier> + '_ {
        self.entries
            .iter()
            .filter(move |(_, meta)| meta.expires_at.is_some_and(|t| t <= cutoff))
            .map(|(id, _)| id)
    }

    /// How many distinct agencies list the entries.
    pub fn agencies(&self) -> usize {
        self.entries
            .values()
            .map(|meta| &meta.agency)
            .collect::<HashSet<_>>()
            .len()
    }

    /// Every entry, in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        self.entries.iter().map(|(id, meta)| Entry {
            id: id.clone(),
            meta: meta.clone(),
        })
    }

    /// Applies the operations of the delta to `version`, refusing an add of a
    /// listed identifier and an update or remove of an unlisted one. On error
    /// the replica is part-way through and must be dropped.
    pub fn apply(&mut self, version: Version, ops: &[Op]) -> Result<(), String> {
        for op in ops {
            match op {
                Op::Add(entry) => {
                    if self.entries.contains_key(&entry.id) {
                        return Err(format!("adds {}, which is already listed", entry.id));
                    }
                    self.state.digest.add(entry);
                    self.state.entries += 1;
                    self.entries.insert(entry.id.clone(), entry.meta.clone());
                }
                Op::Update(entry) => {
                    let old = self
                        .entries
                        .insert(entry.id.clone(), entry.meta.clone())
                        .ok_or_else(|| format!("updates {}, which is not listed", entry.id))?;
                    self.state.digest.remove(&Entry {
                        id: entry.id.clone(),
                        meta: old,
                    });
                    self.state.digest.add(entry);
                }
                Op::Remove(id) => {
                    let meta = self
                        .entries
                        .remove(id)
                        .ok_or_else(|| format!("removes {id}, which is not listed"))?;
                    self.state.digest.remove(&Entry {
                        id: id.clone(),
                        meta,
                    });
                    self.state.entries -= 1;
                }
            }
        }
        self.version = Some(version);
        Ok(())
    }
}

/// A manifest's content, decoded without checking its signatures: the chain
/// of roots it names is needed before they can be checked.
pub fn unverified_manifest(source: &dyn Source, bytes: &[u8]) -> Result<Manifest, CentreError> {
    read_unverified(bytes).map_err(|error| CentreError::Verify {
        file: source.name(blocklist_core::document::MANIFEST_PATH),
        source: error,
    })
}

/// A verifier for each root of `refs` in turn: the first pinned (from
/// `pinned` bytes when given, else trusted as found), each next one checked
/// as a rotation of the one before. Roots up to a pinned root's version are
/// only checked against their references.
pub fn root_chain(
    source: &dyn Source,
    refs: &[FileRef],
    pinned: Option<&[u8]>,
) -> Result<Vec<Verifier>, CentreError> {
    let mut chain: Vec<Verifier> = Vec::with_capacity(refs.len());
    let mut current = match pinned {
        Some(bytes) => Some(Verifier::pin(bytes).map_err(|source| CentreError::Verify {
            file: "pinned root".to_owned(),
            source,
        })?),
        None => None,
    };
    for file in refs {
        let rel = file.path(DocType::Root);
        let bytes = fetch_checked(source, &rel, file)?;
        let verify_error = |err| CentreError::Verify {
            file: source.name(&rel),
            source: err,
        };
        let next = match current.take() {
            None => Verifier::pin(&bytes).map_err(verify_error)?,
            Some(pin) if file.version <= pin.root().version => {
                if file.version == pin.root().version && pin.root().file_sha256() != file.sha256 {
                    return Err(CentreError::Inconsistent {
                        file: source.name(&rel),
                        reason: "differs from the pinned root of the same version".to_owned(),
                    });
                }
                pin
            }
            Some(mut prev) => {
                prev.rotate(&bytes).map_err(verify_error)?;
                prev
            }
        };
        chain.push(next.clone());
        current = Some(next);
    }
    // A manifest that stops short of the pinned root would be verified by
    // keys the client no longer trusts.
    if let (Some(_), Some(pin)) = (pinned, &current) {
        let listed = refs.last().map_or(0, |r| r.version.get());
        if pin.root().version.get() > listed {
            return Err(CentreError::Inconsistent {
                file: source.name(blocklist_core::document::MANIFEST_PATH),
                reason: format!(
                    "lists roots up to version {listed}, older than the pinned root {}",
                    pin.root().version
                ),
            });
        }
    }
    Ok(chain)
}

/// Where a replay starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// As early as the manifest allows: every listed delta is replayed.
    Oldest,
    /// From the newest snapshot: the fewest deltas.
    Newest,
}

/// Replays the manifest's chain from `base` to its newest version, returning
/// the list there. Every delta is verified against `verifier`, applied, and
/// its signed state compared with the replica's; so is every entry of
/// `snapshot_states` (version to file name and signed state) that the replay
/// passes. Ends by comparing with the manifest's version and state.
pub fn replay(
    source: &dyn Source,
    verifier: &Verifier,
    manifest: &Manifest,
    base: Base,
    snapshot_states: &BTreeMap<Version, (String, ListState)>,
) -> Result<Replica, CentreError> {
    let manifest_name = source.name(blocklist_core::document::MANIFEST_PATH);
    let inconsistent = |file: &str, reason: String| CentreError::Inconsistent {
        file: file.to_owned(),
        reason,
    };
    let first_delta = manifest.deltas.first().map(|d| d.version);
    let base_snapshot = match (base, first_delta) {
        (Base::Oldest, Some(first)) if first == Version::FIRST => None,
        (Base::Oldest, Some(first)) => Some(
            manifest
                .snapshots
                .iter()
                .find(|s| s.version.get() == first.base())
                .ok_or_else(|| {
                    inconsistent(
                        &manifest_name,
                        format!(
                            "deltas start at version {first} but no snapshot of version {} is listed",
                            first.base()
                        ),
                    )
                })?,
        ),
        (Base::Newest, _) | (Base::Oldest, None) => manifest
            .snapshots
            .iter()
            .rev()
            .find(|s| s.version <= manifest.version),
    };
    let mut replica = match base_snapshot {
        Some(file) => {
            let rel = file.path(DocType::Snapshot);
            let bytes = fetch_checked(source, &rel, file)?;
            let snapshot = verifier
                .snapshot(&bytes, None)
                .map_err(|err| CentreError::Verify {
                    file: source.name(&rel),
                    source: err,
                })?;
            if snapshot.version != file.version {
                return Err(inconsistent(
                    &source.name(&rel),
                    format!(
                        "is version {}, listed as {}",
                        snapshot.version, file.version
                    ),
                ));
            }
            Replica::from_snapshot(snapshot.into_inner())
        }
        None => Replica::default(),
    };
    let start = replica.version().map_or(0, Version::get);
    for file in manifest.deltas.iter().filter(|d| d.version.get() > start) {
        let rel = file.path(DocType::Delta);
        let name = source.name(&rel);
        let expected = start_next(replica.version());
        if file.version != expected {
            return Err(inconsistent(
                &manifest_name,
                format!(
                    "lists delta {} where version {expected} is needed next",
                    file.version
                ),
            ));
        }
        let bytes = fetch_checked(source, &rel, file)?;
        let delta: Delta = verifier
            .delta(&bytes, replica.version())
            .map_err(|err| CentreError::Verify {
                file: name.clone(),
                source: err,
            })?
            .into_inner();
        replica
            .apply(delta.version, &delta.ops)
            .map_err(|reason| inconsistent(&name, reason))?;
        verify::check_state(
            &format!("state after delta {}", delta.version),
            &delta.state,
            &replica.state(),
        )
        .map_err(|err| CentreError::Verify {
            file: name.clone(),
            source: err,
        })?;
        if let Some((snapshot_name, state)) = snapshot_states.get(&delta.version) {
            verify::check_state(
                &format!("snapshot {} against the replayed deltas", delta.version),
                state,
                &replica.state(),
            )
            .map_err(|err| CentreError::Verify {
                file: snapshot_name.clone(),
                source: err,
            })?;
        }
    }
    if replica.version() != Some(manifest.version) {
        return Err(inconsistent(
            &manifest_name,
            format!(
                "announces version {} but its files lead to version {}",
                manifest.version,
                replica.version().map_or(0, Version::get)
            ),
        ));
    }
    verify::check_state("manifest state", &manifest.state, &replica.state()).map_err(|err| {
        CentreError::Verify {
            file: manifest_name.clone(),
            source: err,
        }
    })?;
    Ok(replica)
}

fn start_next(version: Option<Version>) -> Version {
    version.map_or(Version::FIRST, Version::next)
}

/// Fetches a listed file and checks its size and digest against the listing.
pub fn fetch_checked(
    source: &dyn Source,
    rel: &str,
    file: &FileRef,
) -> Result<Vec<u8>, CentreError> {
    // A root's listed size is read before the manifest listing it is verified.
    let limit = match parse_file_path(rel) {
        Some((DocType::Root, ..)) => file.size.min(MAX_ROOT_SIZE),
        _ => file.size,
    };
    let bytes = source.fetch(rel, limit)?;
    verify::check_file(&source.name(rel), &bytes, file).map_err(|err| CentreError::Verify {
        file: source.name(rel),
        source: err,
    })?;
    Ok(bytes)
}

/// Signs a document, naming it in the error.
pub fn sign<T: Document>(
    doc: &T,
    what: impl FnOnce() -> String,
    keys: &[&blocklist_core::SecretKey],
) -> Result<Vec<u8>, CentreError> {
    doc.sign(keys).map_err(|source| CentreError::Encode {
        what: what(),
        source,
    })
}
