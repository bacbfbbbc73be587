//! Walking a published chain: trust roots from the first to the newest, then
//! a base (the empty list, a snapshot, or what the target already holds) and
//! the deltas that follow it, each verified and applied to a [`ReplayTarget`]
//! whose state digest must match every signed state on the way.
//!
//! The publisher and the audit share this walk: the audit replays into an
//! in-memory [`Replica`] from the oldest base to check every delta; the
//! publisher rolls its store forward from the version it holds, or rebuilds
//! it from the newest snapshot ([`crate::centre::state`]).

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;

use blocklist_core::document::{
    decision_sha256, parse_file_path, Delta, DocType, Document, FileRef, ListState, Manifest, Op,
    Snapshot, Version,
};
use blocklist_core::store::Store;
use blocklist_core::verify::{self, read_unverified, Verified, Verifier, VerifyError};
use blocklist_core::{
    Agency, Commitment, Entry, EntryMeta, Identifier, KeyId, Sha256, StateAccumulator, Timestamp,
};

use crate::centre::source::{Source, MAX_REGISTRY_SIZE, MAX_ROOT_SIZE};
use crate::centre::CentreError;

/// A whole list in memory at one version.
#[derive(Debug, Default)]
pub struct Replica {
    /// Each identifier's listings, by agency.
    entries: HashMap<Identifier, BTreeMap<Agency, EntryMeta>>,
    state: StateAccumulator,
    version: Option<Version>,
    /// When the document that made `version` was made (W1).
    made_at: Timestamp,
    /// The newest sequence applied per agency key (W4).
    sequences: HashMap<KeyId, u64>,
    /// The version that applied each override, by its decision's SHA-256 (W7).
    overridden: HashMap<Sha256, u64>,
}

impl Replica {
    /// The list a verified snapshot holds.
    pub fn from_snapshot(snapshot: Snapshot) -> Replica {
        let state = StateAccumulator::of(&snapshot.entries);
        Replica {
            made_at: snapshot.created_at,
            sequences: snapshot.sequences.into_iter().collect(),
            overridden: snapshot
                .overrides
                .iter()
                .map(|o| {
                    let decision = decision_sha256(&o.file)
                        .expect("a snapshot's decoder checked its overrides");
                    (decision, o.version.get())
                })
                .collect(),
            ..Replica::from_entries(Some(snapshot.version), state, snapshot.entries)
        }
    }

    /// The list of `entries` at `version`, whose state is `state`.
    pub fn from_entries(
        version: Option<Version>,
        state: StateAccumulator,
        entries: Vec<Entry>,
    ) -> Replica {
        let mut listed: HashMap<Identifier, BTreeMap<Agency, EntryMeta>> = HashMap::new();
        for e in entries {
            listed
                .entry(e.id)
                .or_default()
                .insert(e.meta.agency.clone(), e.meta);
        }
        Replica {
            version,
            state,
            entries: listed,
            ..Replica::default()
        }
    }

    /// The version held (`None`: the empty list before version 1).
    pub fn version(&self) -> Option<Version> {
        self.version
    }

    /// The state as the documents this build writes say it.
    pub fn state(&self) -> ListState {
        self.state.state(Commitment::CURRENT)
    }

    /// Every entry (one per listing), in no particular order.
    pub fn entries(&self) -> impl Iterator<Item = Entry> + '_ {
        self.entries.iter().flat_map(|(id, listings)| {
            listings.values().map(move |meta| Entry {
                id: id.clone(),
                meta: meta.clone(),
            })
        })
    }

    /// The listings of `id`, by agency.
    fn listed(&self, id: &Identifier) -> Vec<EntryMeta> {
        self.entries
            .get(id)
            .map_or_else(Vec::new, |l| l.values().cloned().collect())
    }

    /// Applies the operations of the delta to `version`, refusing an add of
    /// a listing its agency holds and an update or remove of one it does not
    /// (a removal naming no agency: of an identifier not listed). On error
    /// the replica is part-way through and must be dropped.
    pub fn apply(&mut self, version: Version, ops: &[Op]) -> Result<(), String> {
        for op in ops {
            let (id, agency) = op.listing();
            let listings = self.entries.entry(id.clone()).or_default();
            let entry = |meta| Entry {
                id: id.clone(),
                meta,
            };
            let olds: Vec<Entry> = match (op, agency) {
                (_, Some(agency)) => {
                    let old = listings.remove(agency);
                    match (op, &old) {
                        (Op::Add(_), Some(_)) => {
                            return Err(format!("adds {id}, which {agency} lists already"))
                        }
                        (Op::Update(_), None) => {
                            return Err(format!("updates {id}, which {agency} does not list"))
                        }
                        (Op::Remove(..), None) => {
                            return Err(format!("removes {id}, which {agency} does not list"))
                        }
                        _ => old.into_iter().map(entry).collect(),
                    }
                }
                (_, None) if listings.is_empty() => {
                    return Err(format!("removes {id}, which is not listed"))
                }
                (_, None) => std::mem::take(listings).into_values().map(entry).collect(),
            };
            let new = op_entry(op);
            for old in &olds {
                account(&mut self.state, Some(old), None);
            }
            account(&mut self.state, None, new);
            if let Some(new) = new {
                listings.insert(new.meta.agency.clone(), new.meta.clone());
            }
            if listings.is_empty() {
                self.entries.remove(id);
            }
        }
        self.version = Some(version);
        Ok(())
    }
}

/// The one place a list's state follows a change: `old` (the entry as
/// listed before, if any) leaves the commitments and `new` (as listed
/// after, if any) joins them. They are sums, so this costs the change, not
/// the list.
pub fn account(state: &mut StateAccumulator, old: Option<&Entry>, new: Option<&Entry>) {
    if let Some(old) = old {
        state.remove(old);
    }
    if let Some(new) = new {
        state.add(new);
    }
}

/// The entry an operation lists (`None` for a removal).
pub fn op_entry(op: &Op) -> Option<&Entry> {
    match op {
        Op::Add(entry) | Op::Update(entry) => Some(entry),
        Op::Remove(..) => None,
    }
}

/// What a replay applies the chain to.
pub trait ReplayTarget {
    /// The version held (`None`: the empty list) and its state's commitments.
    fn held(&self) -> Result<(Option<Version>, StateAccumulator), CentreError>;

    /// Replaces what is held by a verified snapshot (`bytes` its file as
    /// verified, `file` names it).
    fn load_snapshot(
        &mut self,
        snapshot: Verified<Snapshot>,
        bytes: &[u8],
        verifier: &Verifier,
        file: &str,
    ) -> Result<(), CentreError>;

    /// Applies a verified delta that follows the held version.
    fn apply_delta(&mut self, delta: Verified<Delta>, file: &str) -> Result<(), CentreError>;
}

impl ReplayTarget for Replica {
    fn held(&self) -> Result<(Option<Version>, StateAccumulator), CentreError> {
        Ok((self.version, self.state.clone()))
    }

    fn load_snapshot(
        &mut self,
        snapshot: Verified<Snapshot>,
        _: &[u8],
        _: &Verifier,
        _: &str,
    ) -> Result<(), CentreError> {
        *self = Replica::from_snapshot(snapshot.into_inner());
        Ok(())
    }

    /// Checks who asked for the delta's changes as a daemon does (W1-W7),
    /// then applies it.
    fn apply_delta(&mut self, delta: Verified<Delta>, file: &str) -> Result<(), CentreError> {
        if let Some(authority) = delta.authority().filter(|a| a.judges(self.made_at)) {
            // Each operation with the listing it finds; a removal naming no
            // agency, once per listing it removes.
            let mut changes: Vec<(&Op, Option<Entry>)> = Vec::new();
            for op in &delta.ops {
                let (id, agency) = op.listing();
                let old = |meta: &EntryMeta| Entry {
                    id: id.clone(),
                    meta: meta.clone(),
                };
                match agency {
                    Some(agency) => changes.push((
                        op,
                        self.entries.get(id).and_then(|l| l.get(agency)).map(old),
                    )),
                    None => changes.extend(self.listed(id).iter().map(|m| (op, Some(old(m))))),
                }
            }
            let checked = authority.check_all(
                changes.iter().map(|(op, old)| (*op, old.as_ref())),
                |id| Ok::<_, Infallible>(self.listed(id)),
                |key| self.sequences.get(key).copied(),
                |decision| Ok(self.overridden.get(decision).copied()),
                Timestamp::now(),
            );
            let Ok(checked) = checked;
            checked.map_err(|source| CentreError::Verify {
                file: file.to_owned(),
                source: VerifyError::Authority {
                    source: Box::new(source),
                },
            })?;
            for signer in authority.signers() {
                self.sequences.insert(signer.key, signer.sequence);
            }
            for carried in authority.overrides() {
                self.overridden
                    .insert(carried.decision_sha256, delta.version.get());
            }
        }
        self.apply(delta.version, &delta.ops)
            .map_err(|reason| CentreError::Inconsistent {
                file: file.to_owned(),
                reason,
            })?;
        self.made_at = delta.created_at;
        Ok(())
    }
}

impl ReplayTarget for Store {
    fn held(&self) -> Result<(Option<Version>, StateAccumulator), CentreError> {
        let held = self.state()?;
        Ok((held.version, held.commitments))
    }

    /// The store applies snapshots as they stream from a file: the bytes
    /// go to one beside the store, read back and verified again from there.
    fn load_snapshot(
        &mut self,
        _: Verified<Snapshot>,
        bytes: &[u8],
        verifier: &Verifier,
        file: &str,
    ) -> Result<(), CentreError> {
        let staged = self.path().with_file_name("snapshot.load");
        let io = |action: &'static str| {
            let path = staged.clone();
            move |source| CentreError::Io {
                action,
                path,
                source,
            }
        };
        std::fs::write(&staged, bytes).map_err(io("write"))?;
        let opened = std::fs::File::open(&staged).map_err(io("open"));
        // Unlinked at once: the open file is all the apply needs.
        let _ = std::fs::remove_file(&staged);
        let snapshot =
            verifier
                .snapshot_file(opened?, None)
                .map_err(|source| CentreError::Verify {
                    file: file.to_owned(),
                    source,
                })?;
        self.apply_snapshot(&snapshot, file, &mut |_| {})?;
        Ok(())
    }

    fn apply_delta(&mut self, delta: Verified<Delta>, file: &str) -> Result<(), CentreError> {
        Store::apply_delta(self, &delta, file)?;
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

/// Takes the agency registries of `refs` in order into `verifier` (at the
/// newest root), each checked against its reference and verified as the
/// next version (AR2-AR5).
pub fn registry_chain(
    source: &dyn Source,
    verifier: &mut Verifier,
    refs: &[FileRef],
) -> Result<(), CentreError> {
    for file in refs {
        let rel = file.path(DocType::Registry);
        let bytes = fetch_checked(source, &rel, file)?;
        verifier
            .accept_registry(&bytes)
            .map_err(|err| CentreError::Verify {
                file: source.name(&rel),
                source: err,
            })?;
    }
    Ok(())
}

/// Where a replay starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Base {
    /// As early as the manifest allows: every listed delta is replayed.
    Oldest,
    /// From the newest snapshot: the fewest deltas.
    Newest,
    /// From what the target holds: the deltas after its version (it must
    /// hold a version the chain passes through).
    Held,
}

/// A snapshot's signed state, by version, for [`replay`] to compare: its
/// file name, the state, and the commitment its format carries.
pub type SnapshotStates = BTreeMap<Version, (String, ListState, Commitment)>;

/// Replays the manifest's chain from `base` to its newest version into
/// `target`. Every delta is verified against `verifier`, applied, and its
/// signed state compared with the target's (in the commitment of its
/// format); so is every entry of `snapshot_states` that the replay passes.
/// Ends by comparing with the manifest's version and state. On error the
/// target holds some version on the way.
pub fn replay(
    source: &dyn Source,
    verifier: &Verifier,
    manifest: &Verified<Manifest>,
    base: Base,
    target: &mut dyn ReplayTarget,
    snapshot_states: &SnapshotStates,
) -> Result<(), CentreError> {
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
        (Base::Held, _) => None,
        (Base::Newest, _) | (Base::Oldest, None) => manifest
            .snapshots
            .iter()
            .rev()
            .find(|s| s.version <= manifest.version),
    };
    if let Some(file) = base_snapshot {
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
        target.load_snapshot(snapshot, &bytes, verifier, &source.name(&rel))?;
    }
    let start = target.held()?.0.map_or(0, Version::get);
    for file in manifest.deltas.iter().filter(|d| d.version.get() > start) {
        let rel = file.path(DocType::Delta);
        let name = source.name(&rel);
        let (held, _) = target.held()?;
        let expected = start_next(held);
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
        let delta = verifier
            .delta(&bytes, held)
            .map_err(|err| CentreError::Verify {
                file: name.clone(),
                source: err,
            })?;
        let (version, signed, commitment) = (delta.version, delta.state, delta.commitment());
        target.apply_delta(delta, &name)?;
        let (_, state) = target.held()?;
        verify::check_state(
            &format!("state after delta {version}"),
            &signed,
            &state.state(commitment),
        )
        .map_err(|err| CentreError::Verify {
            file: name.clone(),
            source: err,
        })?;
        if let Some((snapshot_name, snapshot_state, commitment)) = snapshot_states.get(&version) {
            verify::check_state(
                &format!("snapshot {version} against the replayed deltas"),
                snapshot_state,
                &state.state(*commitment),
            )
            .map_err(|err| CentreError::Verify {
                file: snapshot_name.clone(),
                source: err,
            })?;
        }
    }
    let (held, state) = target.held()?;
    if held != Some(manifest.version) {
        return Err(inconsistent(
            &manifest_name,
            format!(
                "announces version {} but its files lead to version {}",
                manifest.version,
                held.map_or(0, Version::get)
            ),
        ));
    }
    let state = state.state(manifest.commitment());
    verify::check_state("manifest state", &manifest.state, &state).map_err(|err| {
        CentreError::Verify {
            file: manifest_name.clone(),
            source: err,
        }
    })?;
    Ok(())
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
    // A root's listed size is read before the manifest listing it is
    // verified; a registry's is capped as the daemon caps it.
    let limit = match parse_file_path(rel) {
        Some((DocType::Root, ..)) => file.size.min(MAX_ROOT_SIZE),
        Some((DocType::Registry, ..)) => file.size.min(MAX_REGISTRY_SIZE),
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
pub fn sign<T: Document, S: blocklist_core::Signer + ?Sized>(
    doc: &T,
    what: impl FnOnce() -> String,
    keys: &[&S],
) -> Result<Vec<u8>, CentreError> {
    doc.sign(keys).map_err(|source| CentreError::Encode {
        what: what(),
        source,
    })
}
