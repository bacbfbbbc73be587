//! The centre's writing operations on a publish directory: `init`, `rotate`,
//! `publish` (with `refresh` as a publish of nothing), `snapshot` and `prune`.
//!
//! The current list is kept in the centre's store ([`crate::centre::state`]),
//! checked against the newest manifest at the start of each publish. A
//! publish reads and writes only what its changes touch: a point lookup per
//! input identifier, the expired entries found through an index, the state
//! digest updated by the changes alone ([`chain::account`]), one delta
//! written, verified as a client would and committed to the store.
//!
//! Snapshots are off the publish path: `snapshot` (run by a timer) writes one
//! from the store without holding the directory's lock while it reads, signs
//! and writes, so publishes go on meanwhile; it takes the lock only to list
//! the file. A publish makes one itself only after its delta is published:
//! when `snapshot_every` asks, when the newest snapshot is
//! [`MAX_DELTAS_PAST_SNAPSHOT`] versions behind (so the manifest stays
//! bounded even without the timer), and inline only when a rotation of the
//! publish keys re-anchors the chain.
//!
//! Every operation holds the directory's lock while it changes it, writes new
//! immutable files, and writes the manifest last (see
//! [`crate::centre::publish_dir`]). Every manifest a publish or refresh
//! writes is pruned to a bounded history ([`History`]), and a publish removes
//! long-expired entries.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::time::Duration;

use blocklist_core::document::ListState;
use blocklist_core::document::{
    Delta, DocType, FileRef, KeySet, ListId, Manifest, Op, Origin, Snapshot, SnapshotHead,
    SnapshotWriter, TrustRoot, Version,
};
use blocklist_core::index::MAX_AGENCIES;
use blocklist_core::store::{Row, Store, StoreError};
use blocklist_core::verify::{read_unverified, Authority, SnapshotFile, Verified, Verifier};
use blocklist_core::{
    Agency, Commitment, Entry, EntryMeta, Identifier, Kind, PublicKey, Signer, Standing,
    StateAccumulator, Timestamp,
};

use crate::centre::chain::{self, Replica};
use crate::centre::delta_head;
use crate::centre::ingest;
use crate::centre::ingest::{Addition, Format, Inputs, InvalidLine, ReadContext, Removal};
use crate::centre::intake::{
    self, Accepted, AcceptedSubmission, PublishedBy, RefusedInput, SubmissionInput,
};
use crate::centre::keys::{check_signers, CentreKey};
use crate::centre::log::Log;
use crate::centre::overrides::{self, OverrideInput};
use crate::centre::publish_dir::{DirLock, PublishDir};
use crate::centre::queue;
use crate::centre::registry::{self, Registries};
use crate::centre::source::Source;
use crate::centre::state::{self, CentreState};
use crate::centre::CentreError;

/// What `init` needs.
#[derive(Debug)]
pub struct InitOptions {
    /// The list's name.
    pub list: ListId,
    /// The root keys' secrets: all of them sign the first root.
    pub root_keys: Vec<CentreKey>,
    /// How many root keys must sign the next root.
    pub root_threshold: u8,
    /// The publish keys.
    pub publish_keys: Vec<PublicKey>,
    /// How many publish keys must sign each document.
    pub publish_threshold: u8,
    /// The override keys (none: no override can be made until a rotation
    /// names some).
    pub override_keys: Vec<PublicKey>,
    /// How many override keys must sign an override.
    pub override_threshold: u8,
    /// How long until clients warn that the root is due for rotation.
    pub root_lifetime: Duration,
}

/// Creates a publish directory holding a first trust root signed by its own
/// root keys, and returns the root file's path.
pub fn init(dir: &Path, options: &InitOptions) -> Result<String, CentreError> {
    let dir = PublishDir::create(dir)?;
    let lock = dir.lock()?;
    let now = Timestamp::now();
    let root = TrustRoot {
        list: options.list.clone(),
        version: Version::FIRST,
        issued_at: now,
        expires_at: now.plus(options.root_lifetime.as_secs()),
        root_keys: key_set(
            options.root_keys.iter().map(Signer::public_key).collect(),
            options.root_threshold,
        )?,
        publish_keys: key_set(options.publish_keys.clone(), options.publish_threshold)?,
        override_keys: optional_key_set(options.override_keys.clone(), options.override_threshold)?,
        extensions: vec![],
    };
    let signers: Vec<&CentreKey> = options.root_keys.iter().collect();
    let bytes = chain::sign(&root, || "trust root 1".to_owned(), &signers)?;
    Verifier::pin(&bytes).map_err(|source| CentreError::Verify {
        file: "new trust root 1".to_owned(),
        source,
    })?;
    let file = dir.write_document(&lock, DocType::Root, Version::FIRST, &bytes)?;
    Ok(file.path(DocType::Root))
}

/// How `rotate` changes the trust root.
#[derive(Debug, Default)]
pub struct RotateOptions {
    /// Secret keys that sign the new root: a threshold of the current root
    /// keys and a threshold of the new ones must be among them.
    pub signers: Vec<CentreKey>,
    /// Root keys to add.
    pub add_root_keys: Vec<PublicKey>,
    /// Root keys to remove (revoke).
    pub remove_root_keys: Vec<PublicKey>,
    /// A new root threshold (default: unchanged).
    pub root_threshold: Option<u8>,
    /// Publish keys to add.
    pub add_publish_keys: Vec<PublicKey>,
    /// Publish keys to remove (revoke).
    pub remove_publish_keys: Vec<PublicKey>,
    /// A new publish threshold (default: unchanged).
    pub publish_threshold: Option<u8>,
    /// Override keys to add.
    pub add_override_keys: Vec<PublicKey>,
    /// Override keys to remove (revoke).
    pub remove_override_keys: Vec<PublicKey>,
    /// A new override threshold (default: unchanged, or 1 for a first set).
    pub override_threshold: Option<u8>,
    /// The new root's lifetime.
    pub root_lifetime: Duration,
}

/// Writes the next trust root, and when it changes the root keys, every
/// agency registry version signed again under it (`registry::resign`);
/// returns the files written, the root first. The next publish or refresh
/// lists them in the manifest; when the root changes the publish keys, that
/// publish re-anchors the chain on a fresh snapshot signed by the new keys.
pub fn rotate(dir: &Path, options: &RotateOptions) -> Result<Vec<String>, CentreError> {
    let dir = PublishDir::open(dir)?;
    let lock = dir.lock()?;
    let roots = Roots::scan(&dir)?;
    let current = roots.newest().root();
    let edit = |set: Option<&KeySet>, add: &[PublicKey], remove: &[PublicKey]| {
        let held = set.map_or(&[][..], KeySet::keys);
        if let Some(key) = remove.iter().find(|k| !held.contains(k)) {
            return Err(CentreError::usage(format!(
                "key {} is not in the current set, so it cannot be removed",
                key.id()
            )));
        }
        let mut keys: Vec<PublicKey> = held
            .iter()
            .filter(|k| !remove.contains(k))
            .copied()
            .collect();
        keys.extend(add.iter().filter(|k| !held.contains(k)));
        Ok(keys)
    };
    let threshold =
        |set: Option<&KeySet>, new: Option<u8>| new.or(set.map(KeySet::threshold)).unwrap_or(1);
    let required = |set: &KeySet, add, remove, new| {
        key_set(edit(Some(set), add, remove)?, threshold(Some(set), new))
    };
    let now = Timestamp::now();
    let next = TrustRoot {
        list: current.list.clone(),
        version: current.version.next(),
        issued_at: now,
        expires_at: now.plus(options.root_lifetime.as_secs()),
        root_keys: required(
            &current.root_keys,
            &options.add_root_keys,
            &options.remove_root_keys,
            options.root_threshold,
        )?,
        publish_keys: required(
            &current.publish_keys,
            &options.add_publish_keys,
            &options.remove_publish_keys,
            options.publish_threshold,
        )?,
        override_keys: optional_key_set(
            edit(
                current.override_keys.as_ref(),
                &options.add_override_keys,
                &options.remove_override_keys,
            )?,
            threshold(current.override_keys.as_ref(), options.override_threshold),
        )?,
        extensions: vec![],
    };
    // Only keys of the old or new root set may sign: a stray signature
    // would make every client refuse the root.
    let mut signers = Vec::new();
    for key in &options.signers {
        let id = key.public_key().id();
        if current.root_keys.get(&id).is_none() && next.root_keys.get(&id).is_none() {
            return Err(CentreError::usage(format!(
                "signing key {id} is a root key of neither the current nor the new root"
            )));
        }
        signers.push(key);
    }
    let what = || format!("trust root {}", next.version);
    let bytes = chain::sign(&next, what, &signers)?;
    let mut check = roots.newest().clone();
    check.rotate(&bytes).map_err(|source| CentreError::Verify {
        file: what(),
        source,
    })?;
    // The registries first: until the root is written they are unlisted
    // files no verifier of the current root takes, so a rotate stopped
    // between the two leaves the directory as it was.
    let registries = if next.root_keys == current.root_keys {
        vec![]
    } else {
        registry::resign(&dir, &lock, roots.newest(), &check, &options.signers)?
    };
    let file = dir.write_document(&lock, DocType::Root, next.version, &bytes)?;
    Ok(std::iter::once(file.path(DocType::Root))
        .chain(registries)
        .collect())
}

/// A verifier at the newest trust root of a publish directory, the chain
/// from version 1 checked.
pub(crate) fn newest_root(dir: &PublishDir) -> Result<Verifier, CentreError> {
    Ok(Roots::scan(dir)?.newest().clone())
}

/// A publish directory as a new submission or override is judged against
/// it: its newest trust root, the centre's store at the newest version, and
/// that version (`None` before the first publish); `reanchors` when the
/// next version must re-anchor the chain on a snapshot (after a rotation),
/// which carries no override.
pub(crate) struct Current {
    pub verifier: Verifier,
    pub state: CentreState,
    pub version: Option<Version>,
    pub reanchors: bool,
}

/// Opens `dir` as [`Current`] under `lock`, checking `keys` are enough
/// publish keys of the newest root to sign for it.
pub(crate) fn current(
    dir: &PublishDir,
    lock: &DirLock,
    keys: &[CentreKey],
) -> Result<Current, CentreError> {
    let centre = Centre::open(dir)?;
    centre.publish_signers(keys)?;
    let state = centre.open_state(lock)?;
    Ok(Current {
        verifier: centre.roots.newest().clone(),
        version: centre.manifest.as_ref().map(|m| m.version),
        reanchors: centre.must_reanchor(),
        state,
    })
}

/// The listings each of `ids` has in `dir`'s current list, read under `lock`.
pub(crate) fn listings(
    dir: &PublishDir,
    lock: &DirLock,
    ids: &[Identifier],
) -> Result<Vec<Vec<EntryMeta>>, CentreError> {
    let state = Centre::open(dir)?.open_state(lock)?;
    ids.iter().map(|id| Ok(state.store().listed(id)?)).collect()
}

/// What `publish` reads and how it signs.
#[derive(Debug)]
pub struct PublishOptions {
    /// Publish keys' secrets (at least the threshold).
    pub keys: Vec<CentreKey>,
    /// Files of additions and updates, with their syntax.
    pub additions: Vec<(PathBuf, Format)>,
    /// Files of removals, with their syntax.
    pub removals: Vec<(PathBuf, Format)>,
    /// Agencies' signed submissions (not combined with `additions` or
    /// `removals`): verified against the newest agency registry and applied
    /// with the ownership rules, each whole or not at all.
    pub submissions: Vec<SubmissionInput>,
    /// Overrides signed by the root's override keys (not combined with
    /// `additions` or `removals`): each removes the listings it names, as
    /// they are listed now. With submissions, each listing may be named
    /// once (W3).
    pub overrides: Vec<OverrideInput>,
    /// Who publishes: what a refused submission does, and whether the
    /// intake service's queue must be empty.
    pub by: PublishedBy,
    /// Defaults, normalisation rules and the publish time.
    pub context: ReadContext,
    /// Publish without the invalid lines instead of refusing.
    pub skip_invalid: bool,
    /// After publishing a version that is a multiple of this, also write a
    /// snapshot of it (once the delta is out; `NonZeroU64::MAX`: never, the
    /// `snapshot` command's timer does it).
    pub snapshot_every: NonZeroU64,
    /// How long the new manifest is valid.
    pub manifest_lifetime: Duration,
    /// What the manifest keeps listing (see [`History`]).
    pub history: History,
}

/// How much history a publish keeps listed and how long expired entries stay.
///
/// Every publish (and refresh) prunes the manifest on its own, so that it
/// stays small however long the history ([`MAX_LISTED_FILES`]): a delta
/// stays listed for at least `delta_grace` after it was published, so a client
/// that read an older manifest and is fetching the deltas it listed finds
/// them, unless the cap comes first. A client further behind takes the newest
/// snapshot, which is always listed.
#[derive(Clone, Copy, Debug)]
pub struct History {
    /// How long a delta stays listed (the file count cap permitting).
    pub delta_grace: Duration,
    /// How long after its expiry an entry is removed from the list, by an
    /// ordinary signed removal in the next version published. Expired
    /// entries no longer match lookups, but they take room in every
    /// replica and index until removed; the grace keeps them visible to
    /// audits of recent history.
    pub purge_expired_after: Duration,
}

impl Default for History {
    fn default() -> History {
        History {
            delta_grace: DEFAULT_DELTA_GRACE,
            purge_expired_after: DEFAULT_PURGE_EXPIRED_AFTER,
        }
    }
}

/// A day: a daemon that was off for less catches up by deltas (at a publish
/// a minute the file cap comes first, after about four hours).
pub const DEFAULT_DELTA_GRACE: Duration = Duration::from_secs(86_400);

/// 30 days: long enough for an expiry to be noticed and an entry re-listed
/// by its agency in time, short enough that stale entries do not pile up.
pub const DEFAULT_PURGE_EXPIRED_AFTER: Duration = Duration::from_secs(30 * 86_400);

/// The most deltas and snapshots a manifest lists. A file reference is 39
/// to 52 bytes on the wire, so this keeps a manifest under 14 KB (plus one
/// reference per trust root), far below the daemons' 1 MiB default cap.
pub const MAX_LISTED_FILES: usize = 256;

/// A publish writes a snapshot (after its delta is out) when the newest one
/// is this many versions behind, whatever `snapshot_every` says: the
/// manifest's chain then always fits in [`MAX_LISTED_FILES`] from the newest
/// snapshot, even if the operator's `snapshot` timer stopped.
pub const MAX_DELTAS_PAST_SNAPSHOT: u64 = (MAX_LISTED_FILES / 2) as u64;

/// What a publish did.
#[derive(Debug, Default)]
pub struct PublishReport {
    /// The new version, or `None` when nothing changed (the manifest was re-signed).
    pub version: Option<Version>,
    /// The version in force after the publish: the new one, or the one the
    /// re-signed manifest names.
    pub in_force: Option<Version>,
    /// The new manifest's serial.
    pub serial: u64,
    /// Entries newly listed.
    pub added: usize,
    /// Listed entries given new metadata.
    pub updated: usize,
    /// Entries unlisted.
    pub removed: usize,
    /// Input entries already listed exactly so.
    pub unchanged: usize,
    /// Input lines naming an identifier an earlier line named (the later one wins).
    pub duplicates: usize,
    /// Removals of identifiers not listed (nothing to do).
    pub not_listed: usize,
    /// Entries removed because they expired more than the purge grace ago.
    pub purged: usize,
    /// Invalid lines (skipped when this report exists).
    pub invalid: Vec<InvalidLine>,
    /// The files written, manifest last.
    pub written: Vec<String>,
    /// Deltas and snapshots deleted because the manifest no longer lists them
    /// (and leftovers of killed publishes).
    pub deleted: Vec<String>,
    /// Entries in the list now.
    pub entries: u64,
    /// The agencies' submissions taken into the version.
    pub submissions: Vec<AcceptedSubmission>,
    /// The names of the overrides carried by the version.
    pub overrides: Vec<String>,
    /// The overrides not taken because the version re-anchors the chain on
    /// a snapshot, which carries none ([`PublishedBy::IntakeService`]: they
    /// go in the next version).
    pub deferred: Vec<String>,
    /// The submissions and overrides left out as refused
    /// ([`PublishedBy::IntakeService`]).
    pub refused: Vec<RefusedInput>,
}

/// Publishes the next version from the input files or agencies' submissions
/// (or, with neither, re-signs the manifest with a fresh expiry: a refresh).
pub fn publish(dir: &Path, options: &PublishOptions) -> Result<PublishReport, CentreError> {
    let dir = PublishDir::open(dir)?;
    // The intake service waits out a short holder (an `agency` command, a
    // snapshot) rather than leave its queue, urgent submissions included,
    // for another cadence; an operator's run says at once that it is locked.
    let lock = match options.by {
        PublishedBy::IntakeService => dir.lock_waiting(LOCK_PATIENCE)?,
        PublishedBy::Operator => dir.lock()?,
    };
    let centre = Centre::open(&dir)?;
    let signers = centre.publish_signers(&options.keys)?;
    let mut report = PublishReport::default();
    let has_inputs = !options.additions.is_empty() || !options.removals.is_empty();
    if has_inputs && !options.submissions.is_empty() {
        return Err(CentreError::usage(
            "agencies' submissions are published on their own: publish input files in another run",
        ));
    }
    if !options.overrides.is_empty() && has_inputs {
        return Err(CentreError::usage(
            "overrides are published without input files: publish input files in another run",
        ));
    }
    let Inputs {
        additions,
        removals,
        duplicates,
    } = ingest::read_inputs(
        &options.additions,
        &options.removals,
        &options.context,
        &mut report.invalid,
    )?;
    report.duplicates = duplicates;
    if !report.invalid.is_empty() && !options.skip_invalid {
        return Err(CentreError::InvalidInput {
            lines: report.invalid,
            remedy: "fix them or pass --skip-invalid to publish without them",
        });
    }
    let must_reanchor = centre.must_reanchor();
    let needs_version = centre.manifest.is_none()
        || must_reanchor
        || !additions.is_empty()
        || !removals.is_empty()
        || !options.submissions.is_empty()
        || !options.overrides.is_empty();
    if !needs_version {
        return centre.resign(&lock, &signers, options, report);
    }
    let mut list = centre.open_state(&lock)?;
    let mut accepted = intake::accept(
        &dir,
        centre.roots.newest(),
        list.store(),
        &options.submissions,
        options.by,
    )?;
    let mut planned = changes(
        list.store(),
        additions,
        removals,
        options.context.now,
        &mut report,
    )?;
    planned.take_submissions(&accepted, &mut report);
    // A re-anchoring version is a snapshot, which carries no override: the
    // operator publishes it later; the service leaves it queued for the
    // version after, which it makes at once.
    let overriding: &[OverrideInput] = match (must_reanchor, options.by) {
        (false, _) => &options.overrides,
        (true, _) if options.overrides.is_empty() => &[],
        (true, PublishedBy::IntakeService) => {
            report.deferred = options.overrides.iter().map(|o| o.name.clone()).collect();
            &[]
        }
        (true, PublishedBy::Operator) => {
            return Err(CentreError::usage(
                "a rotation changed the publish keys or narrowed the override keys: publish once without the override (it re-anchors the chain on a snapshot), then publish the override",
            ))
        }
    };
    let overridden = overrides::plan(
        centre.registries.verifier(),
        list.store(),
        overriding,
        options.context.now,
        options.by,
    )?;
    report.removed += overridden.removals;
    report.updated += overridden.changes.len() - overridden.removals;
    planned.changes.extend(overridden.changes);
    report.overrides = overridden.taken;
    report.refused.extend(overridden.refused);
    // A version that defers overrides leaves expired listings for the next
    // one: a purge now could take a listing a deferred override names, and
    // so refuse the override there.
    if report.deferred.is_empty() {
        let purged = purge_expired(
            list.store(),
            &planned,
            options.context.now,
            options.history.purge_expired_after,
            &mut report,
        )?;
        planned.extend(purged);
    }
    if planned.is_empty() && centre.manifest.is_some() && !must_reanchor {
        let report = centre.resign(&lock, &signers, options, report)?;
        accepted.record(&dir, &lock)?;
        return Ok(report);
    }
    if options.by == PublishedBy::Operator {
        // The intake service's acknowledgements promise the next version to
        // what it queued: only it may make that version.
        let queued = queue::queued(&dir)?;
        if queued > 0 {
            return Err(CentreError::IntakeQueued {
                queued,
                path: queue::path(&dir),
                overriding: !options.overrides.is_empty(),
            });
        }
    }
    let (held, held_state) = list.held()?;
    let version = held.map_or(Version::FIRST, Version::next);
    let state = planned.state(held_state).state(Commitment::CURRENT);
    // Every replica indexes the list it applies: refused here, before
    // anything is signed, rather than by each replica after its commit.
    check_agencies(list.store(), &planned)?;
    let now = options.context.now;
    let verifier = centre.registries.verifier();
    let (ops, olds) = planned.into_changes();
    let delta = Delta {
        list: centre.roots.newest().root().list.clone(),
        version,
        created_at: now,
        ops,
        state,
        submissions: std::mem::take(&mut accepted.carried),
        overrides: overridden.carried,
        extensions: vec![],
    };
    let authority = check_authority(verifier, list.store(), &delta, &olds)?;
    drop(olds);
    let mut manifest = centre.next_manifest(now, options.manifest_lifetime, state, version);
    let file_error = |file: &str| {
        let file = dir.name(file);
        move |source| CentreError::Verify { file, source }
    };
    let published = if !must_reanchor {
        let bytes = chain::sign(&delta, || format!("delta {version}"), &signers)?;
        drop(delta);
        // Checked as every client will check it, before anything lists it.
        let verified = verifier
            .delta(&bytes, held)
            .map_err(file_error(&format!("new delta {version}")))?;
        let file = dir.write_document(&lock, DocType::Delta, version, &bytes)?;
        let rel = file.path(DocType::Delta);
        report.written.push(rel.clone());
        manifest.deltas.push(file);
        Published::Delta(verified, rel)
    } else {
        // Documents signed by the old publish keys no longer verify under the
        // new root, so the chain restarts from a snapshot the new keys sign.
        manifest.deltas.clear();
        manifest.snapshots.clear();
        let whole = list.store().read_whole()?;
        let mut replica = Replica::from_entries(held, whole.state.commitments, whole.entries);
        replica
            .apply(version, &delta.ops)
            .expect("changes() only makes operations that apply");
        let mut sequences = whole.sequences;
        for signer in authority.iter().flat_map(Authority::signers) {
            sequences.insert(signer.key, signer.sequence);
        }
        let snapshot = Snapshot {
            list: delta.list.clone(),
            version,
            created_at: now,
            entries: replica.entries().collect(),
            state: replica.state(),
            sequences,
            // A re-anchoring version carries no override (refused or left
            // for the next version above).
            overrides: whole.overrides,
            // Listings the delta updated or removed may leave an origin
            // behind: what it names of listings no longer held is history.
            origins: whole
                .origins
                .into_iter()
                .chain(delta.submissions.iter().map(|carried| Origin {
                    version,
                    submission: carried.clone(),
                }))
                .collect(),
            extensions: vec![],
        };
        drop(replica);
        let bytes = chain::sign(&snapshot, || format!("snapshot {version}"), &signers)?;
        drop(snapshot);
        let verified = verifier
            .snapshot(&bytes, held)
            .map_err(file_error(&format!("new snapshot {version}")))?;
        drop(verified);
        let file = dir.write_document(&lock, DocType::Snapshot, version, &bytes)?;
        let rel = file.path(DocType::Snapshot);
        // The store applies it as it streams from the file just written.
        let written = dir.path().join(&rel);
        let opened = std::fs::File::open(&written).map_err(|source| CentreError::Io {
            action: "open",
            path: written.clone(),
            source,
        })?;
        let verified = verifier
            .snapshot_file(opened, held)
            .map_err(file_error(&format!("new snapshot {version}")))?;
        report.written.push(rel.clone());
        manifest.snapshots.push(file);
        Published::Snapshot(verified, rel)
    };
    report.version = Some(version);
    report.in_force = Some(version);
    report.entries = state.entries;
    centre.prune_listing(&mut manifest, now, options.history.delta_grace)?;
    let mut report = centre.write_manifest(&lock, &manifest, &signers, report)?;
    accepted.record(&dir, &lock)?;
    report.deleted = dir.remove_unlisted(&lock, &manifest)?;
    // The version is out; the store follows. Killed before this commit, the
    // next command finds the store one version behind and rolls it forward.
    match published {
        Published::Delta(delta, rel) => {
            list.store_mut().apply_delta(&delta, &rel)?;
        }
        Published::Snapshot(snapshot, rel) => {
            list.store_mut()
                .apply_snapshot(&snapshot, &rel, &mut |_| {})?;
        }
    }
    let newest_snapshot = manifest.snapshots.last().map_or(0, |s| s.version.get());
    let snapshot_due = version.get() % options.snapshot_every.get() == 0
        || version.get() - newest_snapshot >= MAX_DELTAS_PAST_SNAPSHOT;
    if snapshot_due && newest_snapshot != version.get() {
        drop(list);
        drop(lock);
        let snapshot_options = SnapshotOptions {
            manifest_lifetime: options.manifest_lifetime,
            history: options.history,
            now,
        };
        // The version is published whatever happens here: a failure is
        // worth a warning, not a failed publish an operator would retry.
        match snapshot(dir.path(), &options.keys, &snapshot_options) {
            Ok(made) => {
                report.written.extend(made.written);
                report.deleted.extend(made.deleted);
                report.serial = made.serial.unwrap_or(report.serial);
            }
            Err(error) => tracing::warn!(
                version = version.get(),
                %error,
                "version published, but its snapshot was not written"
            ),
        }
    }
    Ok(report)
}

/// A version written and verified, for the store to commit once it is listed.
enum Published {
    Delta(Verified<Delta>, String),
    Snapshot(Verified<SnapshotFile>, String),
}

/// What `snapshot` needs.
#[derive(Debug)]
pub struct SnapshotOptions {
    /// How long the re-signed manifest is valid.
    pub manifest_lifetime: Duration,
    /// What the manifest keeps listing.
    pub history: History,
    /// The snapshot's and manifest's time.
    pub now: Timestamp,
}

/// What `snapshot` did.
#[derive(Debug, Default)]
pub struct SnapshotReport {
    /// The version of the snapshot listed, or `None` when there was nothing to do.
    pub version: Option<Version>,
    /// Why nothing was done, when so.
    pub skipped: Option<String>,
    /// The new manifest's serial.
    pub serial: Option<u64>,
    /// Entries in the snapshot.
    pub entries: u64,
    /// The files written, manifest last.
    pub written: Vec<String>,
    /// Files the new manifest no longer lists, deleted.
    pub deleted: Vec<String>,
}

/// How long a step that must not give up waits for the directory's lock:
/// `snapshot` before listing its snapshot, the intake service before
/// publishing its queue. Publishes and `agency` commands hold it for
/// seconds at most.
const LOCK_PATIENCE: Duration = Duration::from_secs(120);

/// Writes a snapshot of the centre's current list and lists it in a new
/// manifest. The directory's lock is held only to check the store against
/// the directory and, at the end, to list the file: reading the store (one
/// read transaction, at one version), signing and writing happen without it,
/// so publishes go on meanwhile. The snapshot is listed only if its state is
/// the one published at its version. `keys` are publish keys' secrets (at
/// least the threshold).
pub fn snapshot(
    dir: &Path,
    keys: &[CentreKey],
    options: &SnapshotOptions,
) -> Result<SnapshotReport, CentreError> {
    let dir = PublishDir::open(dir)?;
    let skip = |reason: String| SnapshotReport {
        skipped: Some(reason),
        ..SnapshotReport::default()
    };
    let (list_name, verifier) = {
        let lock = dir.lock_waiting(LOCK_PATIENCE)?;
        let centre = Centre::open(&dir)?;
        centre.publish_signers(keys)?;
        let Some(manifest) = &centre.manifest else {
            return Err(CentreError::usage(
                "nothing published yet: nothing to snapshot",
            ));
        };
        if centre.must_reanchor() {
            return Err(CentreError::usage(
                "a rotation changed the publish keys or narrowed the override keys: publish or refresh first (it re-anchors on a snapshot)",
            ));
        }
        if manifest.snapshots.last().map(|s| s.version) == Some(manifest.version) {
            return Ok(skip(format!(
                "version {} has a snapshot already",
                manifest.version
            )));
        }
        let mut state = centre.open_state(&lock)?;
        let verifier = centre.registries.verifier().clone();
        backfill_origins(&dir, manifest, &verifier, state.store_mut(), options.now)?;
        (centre.roots.newest().root().list.clone(), verifier)
    };
    // Without the lock: a publish may commit meanwhile; the read below sees
    // one version whole, whichever it is, and streams it to a staged file
    // (the list is never held: 10M entries would take some 1.6 GB).
    let store = Store::open(dir.state_path(), list_name.as_str())?;
    let signers: Vec<&CentreKey> = keys.iter().collect();
    let mut diverged = false;
    let streamed = store.stream_whole(|mut whole| {
        let Some(version) = whole.state.version else {
            return Ok(None);
        };
        let head = SnapshotHead {
            list: list_name.clone(),
            version,
            created_at: options.now,
            state: whole.state.state,
        };
        // Every daemon holding the registry traces each agency listing to
        // the submission that listed it (W8): a listing the store holds no
        // origin for (one listed before the store kept them) would get the
        // snapshot refused everywhere.
        if let Some(provenance) = verifier.snapshot_provenance(&head) {
            if let Some(listing) = store.untraced(&provenance)? {
                return Err(CentreError::Inconsistent {
                    file: dir.state_path().display().to_string(),
                    reason: format!(
                        "lists {} under agency {} since {}, but holds no submission of that agency adding it, which every daemon needs to trace it (FORMAT.md W8): see CENTRE.md, \"Snapshots\"",
                        listing.id, listing.meta.agency, listing.meta.listed_at
                    ),
                });
            }
        }
        let what = format!(
            "snapshot {version} (staged in {})",
            dir.staging_dir().display()
        );
        let encode = |source| CentreError::Encode {
            what: what.clone(),
            source,
        };
        let plan = whole.plan()?;
        // The writer keeps the origins' files encoded (the file's tail): not
        // held twice while the entries stream.
        let origins = std::mem::take(&mut whole.origins);
        let staged = dir.stage_streamed(version, |file| {
            let mut writer = SnapshotWriter::begin(
                file,
                &head,
                plan,
                &whole.sequences,
                &whole.overrides,
                &origins,
            )
            .map_err(encode)?;
            drop(origins);
            whole.for_each_in_wire_order(|entry| writer.push(entry).map_err(encode))?;
            // The store's rows against its own digest: the one whole read of
            // the list the centre makes, so the one place a store edited
            // behind its back (or a disk error) shows.
            if writer.state() != &whole.state.commitments {
                diverged = true;
                let (rows, held) = (writer.state().state(Commitment::CURRENT), head.state);
                return Err(CentreError::Inconsistent {
                    file: dir.state_path().display().to_string(),
                    reason: format!(
                        "its entries give state {} ({} entries) but it says {} ({} entries): deleted, the next command rebuilds it from the directory",
                        rows.digest, rows.entries, held.digest, held.entries
                    ),
                });
            }
            let (_, sealed) = writer.finish(&signers).map_err(encode)?;
            Ok(sealed)
        })?;
        Ok(Some((whole.state, staged)))
    });
    drop(store);
    if diverged {
        let _lock = dir.lock_waiting(LOCK_PATIENCE)?;
        state::remove_store(&dir.state_path())?;
    }
    let Some((held, staged)) = streamed? else {
        return Ok(skip("the store holds no version".to_owned()));
    };
    let version = staged.file().version;

    let lock = dir.lock_waiting(LOCK_PATIENCE)?;
    let centre = Centre::open(&dir)?;
    let signers = centre.publish_signers(keys)?;
    let Some(current) = &centre.manifest else {
        return Err(CentreError::usage(
            "the manifest is gone: nothing to snapshot",
        ));
    };
    if centre.must_reanchor() {
        return Ok(skip(
            "a rotation changed the publish keys or narrowed the override keys meanwhile"
                .to_owned(),
        ));
    }
    if current
        .snapshots
        .last()
        .is_some_and(|s| s.version >= version)
    {
        return Ok(skip(format!(
            "a snapshot of version {version} or newer was listed meanwhile"
        )));
    }
    let Some((published, commitment)) = centre.published_state(version)? else {
        return Ok(skip(format!("version {version} is no longer listed")));
    };
    let holds = held.commitments.state(commitment);
    if published != holds {
        return Err(CentreError::Inconsistent {
            file: dir.state_path().display().to_string(),
            reason: format!(
                "holds state {} at version {version}, but {} was published",
                holds.digest, published.digest
            ),
        });
    }
    let file = dir.place_staged(&lock, DocType::Snapshot, staged)?;
    let mut manifest = centre.next_manifest(
        options.now,
        options.manifest_lifetime,
        centre.manifest_state(&lock)?,
        current.version,
    );
    manifest.snapshots.push(file);
    centre.prune_listing(&mut manifest, options.now, options.history.delta_grace)?;
    let done = centre.write_manifest(&lock, &manifest, &signers, PublishReport::default())?;
    let mut written = vec![file.path(DocType::Snapshot)];
    written.extend(done.written);
    Ok(SnapshotReport {
        version: Some(version),
        skipped: None,
        serial: Some(done.serial),
        entries: held.state.entries,
        written,
        deleted: dir.remove_unlisted(&lock, &manifest)?,
    })
}

/// Records, from the deltas `manifest` lists, the origins of the listings
/// daemons trace (W8) that the store has none for: listings of a store
/// upgraded from one that kept none. Each delta carries the submissions it
/// answers; what they do not explain stays without, and the snapshot is
/// refused naming it.
fn backfill_origins(
    dir: &PublishDir,
    manifest: &Manifest,
    verifier: &Verifier,
    store: &mut Store,
    now: Timestamp,
) -> Result<(), CentreError> {
    let head = SnapshotHead {
        list: manifest.list.clone(),
        version: manifest.version,
        created_at: now,
        state: manifest.state,
    };
    let Some(provenance) = verifier.snapshot_provenance(&head) else {
        return Ok(());
    };
    if store.untraced(&provenance)?.is_none() {
        return Ok(());
    }
    let mut origins = Vec::new();
    for file in &manifest.deltas {
        let rel = file.path(DocType::Delta);
        let bytes = chain::fetch_checked(dir, &rel, file)?;
        let delta: Delta = read_unverified(&bytes).map_err(|source| CentreError::Verify {
            file: dir.name(&rel),
            source,
        })?;
        origins.extend(delta.submissions.into_iter().map(|submission| Origin {
            version: delta.version,
            submission,
        }));
    }
    let recorded = store.backfill_origins(&provenance, &origins)?;
    tracing::info!(
        recorded,
        "listings' origins recorded from the deltas the manifest lists"
    );
    Ok(())
}

/// What `prune` did.
#[derive(Debug)]
pub struct PruneReport {
    /// The snapshot the chain now starts from, if the manifest changed.
    pub base: Option<Version>,
    /// The new manifest's serial, if it changed.
    pub serial: Option<u64>,
    /// Files deleted: pruned ones and leftovers of killed publishes.
    pub removed: Vec<String>,
}

/// Drops deltas and snapshots older than the newest snapshot that is at least
/// `keep_versions` behind the newest version: clients further behind than
/// that bootstrap from the snapshot. The manifest is re-signed first; files
/// it no longer lists are deleted after.
pub fn prune(
    dir: &Path,
    keys: &[CentreKey],
    keep_versions: u64,
    manifest_lifetime: Duration,
) -> Result<PruneReport, CentreError> {
    let dir = PublishDir::open(dir)?;
    let lock = dir.lock()?;
    let centre = Centre::open(&dir)?;
    let signers = centre.publish_signers(keys)?;
    let Some(current) = &centre.manifest else {
        return Err(CentreError::usage(
            "nothing published yet: nothing to prune",
        ));
    };
    let limit = current.version.get().saturating_sub(keep_versions);
    let base = current
        .snapshots
        .iter()
        .rev()
        .find(|s| s.version.get() <= limit)
        .map(|s| s.version);
    let mut report = PruneReport {
        base: None,
        serial: None,
        removed: vec![],
    };
    let prunable = base.is_some_and(|base| {
        current.deltas.first().is_some_and(|d| d.version <= base)
            || current.snapshots.first().is_some_and(|s| s.version < base)
    });
    let listed = if let (true, Some(base)) = (prunable, base) {
        let mut manifest = centre.next_manifest(
            Timestamp::now(),
            manifest_lifetime,
            centre.manifest_state(&lock)?,
            current.version,
        );
        manifest.deltas.retain(|d| d.version > base);
        manifest.snapshots.retain(|s| s.version >= base);
        let done = centre.write_manifest(&lock, &manifest, &signers, PublishReport::default())?;
        report.base = Some(base);
        report.serial = Some(done.serial);
        manifest
    } else {
        current.clone().into_inner()
    };
    report.removed = dir.remove_unlisted(&lock, &listed)?;
    Ok(report)
}

/// The trust roots found in the directory, each with a verifier at it.
struct Roots {
    files: Vec<FileRef>,
    verifiers: Vec<Verifier>,
}

impl Roots {
    /// Reads `roots/` and checks it is one chain from version 1.
    fn scan(dir: &PublishDir) -> Result<Roots, CentreError> {
        let mut files = Vec::new();
        for (index, (version, rel)) in dir.files(DocType::Root)?.into_iter().enumerate() {
            if version.get() != index as u64 + 1 {
                return Err(CentreError::Inconsistent {
                    file: dir.name(&rel),
                    reason: format!("expected root version {} here", index + 1),
                });
            }
            let bytes = dir.read(&rel)?;
            files.push(FileRef {
                version,
                sha256: blocklist_core::Sha256::of(&bytes),
                size: bytes.len() as u64,
            });
        }
        if files.is_empty() {
            return Err(CentreError::usage(format!(
                "{} has no trust root: run init first",
                dir.path().display()
            )));
        }
        let verifiers = chain::root_chain(dir, &files, None)?;
        Ok(Roots { files, verifiers })
    }

    fn newest(&self) -> &Verifier {
        self.verifiers.last().expect("scan refuses an empty chain")
    }

    fn at(&self, version: Version) -> Option<&Verifier> {
        self.verifiers.get(version.base() as usize)
    }
}

/// A publish directory as the lock holder sees it: its roots and its
/// current manifest, verified.
struct Centre<'a> {
    dir: &'a PublishDir,
    roots: Roots,
    /// The agency registry versions, listed in every manifest.
    registries: Registries,
    manifest: Option<Verified<Manifest>>,
}

impl<'a> Centre<'a> {
    fn open(dir: &'a PublishDir) -> Result<Centre<'a>, CentreError> {
        let roots = Roots::scan(dir)?;
        let manifest = match dir.read_manifest()? {
            None => None,
            Some(bytes) => {
                let unverified = chain::unverified_manifest(dir, &bytes)?;
                let name = dir.name(blocklist_core::document::MANIFEST_PATH);
                let signed_under = unverified
                    .roots
                    .last()
                    .and_then(|last| {
                        (roots.files.get(last.version.base() as usize) == Some(last))
                            .then(|| roots.at(last.version))
                            .flatten()
                    })
                    .ok_or_else(|| CentreError::Inconsistent {
                        file: name.clone(),
                        reason: "lists trust roots that differ from those in roots/".to_owned(),
                    })?;
                // The centre re-signs its manifest, so an expired one is no error here.
                let verified = signed_under
                    .manifest(&bytes, Timestamp(0), None)
                    .map_err(|source| CentreError::Verify { file: name, source })?;
                Some(verified)
            }
        };
        let registries = Registries::scan(dir, roots.newest())?;
        Ok(Centre {
            dir,
            roots,
            registries,
            manifest,
        })
    }

    /// The verifier of the root the current manifest was signed under.
    fn manifest_verifier(&self) -> &Verifier {
        self.manifest
            .as_ref()
            .and_then(|m| m.roots.last())
            .and_then(|r| self.roots.at(r.version))
            .unwrap_or_else(|| self.roots.newest())
    }

    /// Whether a rotation since the manifest leaves published documents
    /// that no longer verify under the newest root, so that the chain must
    /// restart from a snapshot: it changed the publish keys, or narrowed the
    /// override keys (one removed, the threshold raised), which the
    /// overrides that deltas carry were signed under.
    fn must_reanchor(&self) -> bool {
        let (held, newest) = (self.manifest_verifier().root(), self.roots.newest().root());
        let narrowed = match (&held.override_keys, &newest.override_keys) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(old), Some(new)) => {
                new.threshold() > old.threshold()
                    || old.keys().iter().any(|k| new.get(&k.id()).is_none())
            }
        };
        self.manifest.is_some() && (held.publish_keys != newest.publish_keys || narrowed)
    }

    /// The centre's store, checked against the current manifest (rolled
    /// forward or rebuilt from the directory as needed).
    fn open_state(&self, lock: &DirLock) -> Result<CentreState, CentreError> {
        // A replay checks the agencies' submissions deltas carry, so its
        // verifier holds the registries, under the root the manifest is
        // signed with: the newest, scanned already, unless a rotation has
        // not been published yet.
        let signed_under = self.manifest_verifier();
        let older;
        let replayer = if signed_under.root().version == self.roots.newest().root().version {
            self.registries.verifier()
        } else {
            older = Registries::scan(self.dir, signed_under)?;
            older.verifier()
        };
        CentreState::open(
            self.dir,
            lock,
            self.roots.newest().root().list.as_str(),
            replayer,
            self.manifest.as_ref(),
        )
    }

    /// The state published at `version` (signed in its delta, or in the
    /// manifest at its own version) and the commitment its digest is, if
    /// the manifest still lists it.
    fn published_state(
        &self,
        version: Version,
    ) -> Result<Option<(ListState, Commitment)>, CentreError> {
        let Some(manifest) = &self.manifest else {
            return Ok(None);
        };
        if version == manifest.version {
            return Ok(Some((manifest.state, manifest.commitment())));
        }
        let Some(file) = manifest.deltas.iter().find(|d| d.version == version) else {
            return Ok(None);
        };
        let head = delta_head::read(self.dir, file)?;
        Ok(Some((head.state, head.commitment)))
    }

    /// The current manifest's state as the documents this build writes say
    /// it, for the manifest that follows it: as signed, unless the manifest
    /// is of an older format, whose state the store (checked against it)
    /// says again in the current commitment.
    fn manifest_state(&self, lock: &DirLock) -> Result<ListState, CentreError> {
        let current = self
            .manifest
            .as_ref()
            .expect("callers check a manifest exists");
        if current.commitment() == Commitment::CURRENT {
            return Ok(current.state);
        }
        let (_, held) = self.open_state(lock)?.held()?;
        Ok(held.state(Commitment::CURRENT))
    }

    /// Checks `keys` are publish keys of the newest root, enough of them.
    fn publish_signers<'k>(
        &self,
        keys: &'k [CentreKey],
    ) -> Result<Vec<&'k CentreKey>, CentreError> {
        let root = self.roots.newest().root();
        check_signers(keys.iter(), &root.publish_keys, "publish", root.version, "")?;
        Ok(keys.iter().collect())
    }

    /// The current manifest's successor: next serial, fresh times, every root.
    fn next_manifest(
        &self,
        now: Timestamp,
        lifetime: Duration,
        state: blocklist_core::document::ListState,
        version: Version,
    ) -> Manifest {
        let current = self.manifest.as_ref();
        Manifest {
            list: self.roots.newest().root().list.clone(),
            serial: current.map_or(1, |m| m.serial + 1),
            version,
            state,
            issued_at: now,
            expires_at: now.plus(lifetime.as_secs()),
            roots: self.roots.files.clone(),
            deltas: current.map_or_else(Vec::new, |m| m.deltas.clone()),
            snapshots: current.map_or_else(Vec::new, |m| m.snapshots.clone()),
            registries: self.registries.files.clone(),
            log: current.and_then(|m| m.log.clone()),
            extensions: vec![],
        }
    }

    /// Re-signs the current manifest with a new serial and expiry (listing
    /// any new root), changing nothing else.
    fn resign(
        &self,
        lock: &DirLock,
        signers: &[&CentreKey],
        options: &PublishOptions,
        mut report: PublishReport,
    ) -> Result<PublishReport, CentreError> {
        let current = self
            .manifest
            .as_ref()
            .expect("callers check a manifest exists");
        report.entries = current.state.entries;
        report.in_force = Some(current.version);
        let now = options.context.now;
        let mut manifest = self.next_manifest(
            now,
            options.manifest_lifetime,
            self.manifest_state(lock)?,
            current.version,
        );
        self.prune_listing(&mut manifest, now, options.history.delta_grace)?;
        let mut report = self.write_manifest(lock, &manifest, signers, report)?;
        report.deleted = self.dir.remove_unlisted(lock, &manifest)?;
        Ok(report)
    }

    /// Moves the start of `manifest`'s chain to a later listed snapshot where
    /// history allows: past every delta older than `grace`, and as far as
    /// needed for [`MAX_LISTED_FILES`]. The deltas before the new base and
    /// the snapshots older than it are unlisted; the newest snapshot stays.
    fn prune_listing(
        &self,
        manifest: &mut Manifest,
        now: Timestamp,
        grace: Duration,
    ) -> Result<(), CentreError> {
        let listed = |base: u64, m: &Manifest| {
            m.deltas.iter().filter(|d| d.version.get() > base).count()
                + m.snapshots
                    .iter()
                    .filter(|s| s.version.get() >= base)
                    .count()
        };
        let oldest_kept = now.0.saturating_sub(grace.as_secs());
        let mut base = manifest.deltas.first().map_or(0, |d| d.version.base());
        for snapshot in manifest.snapshots.clone() {
            let candidate = snapshot.version.get();
            if candidate <= base {
                continue;
            }
            if listed(base, manifest) <= MAX_LISTED_FILES {
                // Within the cap: only deltas past their grace go. The
                // snapshot's delta was published with it, at the same time.
                let Some(delta) = manifest
                    .deltas
                    .iter()
                    .find(|d| d.version == snapshot.version)
                else {
                    break;
                };
                if self.delta_created_at(delta)?.0 > oldest_kept {
                    break;
                }
            }
            base = candidate;
        }
        manifest.deltas.retain(|d| d.version.get() > base);
        manifest.snapshots.retain(|s| s.version.get() >= base);
        Ok(())
    }

    /// When a listed delta was published (read from the delta itself: the
    /// published files are the one source of truth; from its head alone, so
    /// a large delta costs no more than a small one).
    fn delta_created_at(&self, delta: &FileRef) -> Result<Timestamp, CentreError> {
        Ok(delta_head::read(self.dir, delta)?.created_at)
    }

    fn write_manifest(
        &self,
        lock: &DirLock,
        manifest: &Manifest,
        signers: &[&CentreKey],
        mut report: PublishReport,
    ) -> Result<PublishReport, CentreError> {
        let mut manifest = manifest.clone();
        manifest.log = Some(Log::open(self.dir)?.record_listed(
            self.dir,
            lock,
            self.manifest.as_deref(),
            &manifest,
            signers,
        )?);
        let bytes = chain::sign(
            &manifest,
            || format!("manifest serial {}", manifest.serial),
            signers,
        )?;
        self.dir.write_manifest(lock, &bytes)?;
        report
            .written
            .push(blocklist_core::document::MANIFEST_PATH.to_owned());
        report.serial = manifest.serial;
        Ok(report)
    }
}

fn key_set(keys: Vec<PublicKey>, threshold: u8) -> Result<KeySet, CentreError> {
    KeySet::new(keys, threshold).map_err(|e| CentreError::usage(e.to_string()))
}

/// A key set that may be absent from a root: none when no key is named.
fn optional_key_set(keys: Vec<PublicKey>, threshold: u8) -> Result<Option<KeySet>, CentreError> {
    (!keys.is_empty())
        .then(|| key_set(keys, threshold))
        .transpose()
}

/// A version's operations, each with the entry it replaces (looked up once,
/// for the state digest and the agency check).
#[derive(Default)]
struct Planned {
    changes: Vec<(Op, Option<Entry>)>,
}

impl Planned {
    fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    fn extend(&mut self, other: Planned) {
        self.changes.extend(other.changes);
    }

    /// Adds the changes of the agencies' submissions, counted in `report`.
    fn take_submissions(&mut self, accepted: &Accepted, report: &mut PublishReport) {
        for change in &accepted.changes {
            match &change.op {
                Op::Add(_) => report.added += 1,
                Op::Update(_) => report.updated += 1,
                Op::Remove(..) => report.removed += 1,
            }
            self.changes.push((change.op.clone(), change.old.clone()));
        }
        let changed = accepted.changes.len();
        let asked: usize = accepted.submissions.iter().map(|s| s.operations).sum();
        report.unchanged += asked - changed;
        report.submissions = accepted.submissions.clone();
        report.refused = accepted.refused.clone();
    }

    /// The state after the operations, from the state before them: the
    /// commitments follow only what changes.
    fn state(&self, mut state: StateAccumulator) -> StateAccumulator {
        for (op, old) in &self.changes {
            chain::account(&mut state, old.as_ref(), chain::op_entry(op));
        }
        state
    }

    /// The operations, and the listing each finds.
    fn into_changes(self) -> (Vec<Op>, Vec<Option<Entry>>) {
        self.changes.into_iter().unzip()
    }
}

/// Refuses, before anything is signed, a version replicas would refuse
/// because no agency asked for its changes (`docs/FORMAT.md` W1-W7): above
/// all, a publish of input files under the label of a registered agency.
/// `olds` are the listings `delta`'s operations find, in order. Returns
/// what its carried submissions ask for.
fn check_authority(
    verifier: &Verifier,
    store: &Store,
    delta: &Delta,
    olds: &[Option<Entry>],
) -> Result<Option<Authority>, CentreError> {
    let refused = |source| CentreError::Unauthorised {
        version: delta.version.get(),
        source,
    };
    let Some(authority) = verifier.authority(delta).map_err(refused)? else {
        return Ok(None);
    };
    if !authority.judges(store.state()?.data_time) {
        return Ok(Some(authority));
    }
    let sequences = store.agency_sequences()?;
    authority
        .check_all(
            delta.ops.iter().zip(olds.iter().map(Option::as_ref)),
            |id| store.listed(id),
            |key| sequences.get(key).copied(),
            |decision| store.override_applied(decision),
            delta.created_at,
        )?
        .map_err(refused)?;
    Ok(Some(authority))
}

/// The operations that take `list` to what the inputs say, each decided by
/// one point lookup.
fn changes(
    list: &Store,
    additions: Vec<Addition>,
    removals: Vec<Removal>,
    now: Timestamp,
    report: &mut PublishReport,
) -> Result<Planned, CentreError> {
    let mut planned = Planned {
        changes: Vec::with_capacity(additions.len() + removals.len()),
    };
    let entry = |id: &Identifier, meta: EntryMeta| Entry {
        id: id.clone(),
        meta,
    };
    for Addition { id, listing, .. } in additions {
        let meta = |listed_at| EntryMeta {
            reason: listing.reason,
            agency: listing.agency.clone(),
            listed_at,
            expires_at: listing.expires_at,
        };
        let own = list
            .listed(&id)?
            .into_iter()
            .find(|m| m.agency == listing.agency);
        match own {
            None => {
                report.added += 1;
                planned.changes.push((
                    Op::Add(Entry {
                        id,
                        meta: meta(now),
                    }),
                    None,
                ));
            }
            // Same listing: nothing to do (the listing time is when it was first listed).
            Some(old) if old == meta(old.listed_at) => report.unchanged += 1,
            Some(old) => {
                report.updated += 1;
                let new = meta(old.listed_at);
                let old = entry(&id, old);
                planned
                    .changes
                    .push((Op::Update(Entry { id, meta: new }), Some(old)));
            }
        }
    }
    // A removal by label unlists the identifier, whoever lists it (under a
    // registry, the authority check refuses it for an agency's listing).
    for Removal { id, .. } in removals {
        let held = list.listed(&id)?;
        if held.is_empty() {
            report.not_listed += 1;
            continue;
        }
        report.removed += 1;
        for old in held {
            let agency = old.agency.clone();
            let old = entry(&id, old);
            planned
                .changes
                .push((Op::Remove(id.clone(), Some(agency)), Some(old)));
        }
    }
    Ok(planned)
}

/// Removals of the entries that expired more than `after` before `now`,
/// except those `planned` already changes (an input re-listing an expired
/// entry wins), in key order so that the same list always gives the same
/// delta. Found through the store's expiry index: the cost is what expired.
fn purge_expired(
    list: &Store,
    planned: &Planned,
    now: Timestamp,
    after: Duration,
    report: &mut PublishReport,
) -> Result<Planned, CentreError> {
    let Some(cutoff) = now.0.checked_sub(after.as_secs()) else {
        return Ok(Planned::default());
    };
    let touched: HashSet<&Identifier> = planned.changes.iter().map(|(op, _)| op.id()).collect();
    let mut purged = Planned::default();
    for old in list.expired_by(Timestamp(cutoff))? {
        if touched.contains(&old.id) {
            continue;
        }
        let removal = Op::Remove(old.id.clone(), Some(old.meta.agency.clone()));
        purged.changes.push((removal, Some(old)));
    }
    report.purged = purged.changes.len();
    Ok(purged)
}

/// Refuses a version whose lookup index would name more agency records than
/// one can. A record is the agency whose listing stands for an identifier
/// with the identifier's listing count, so n agencies make at most n² of
/// them (no identifier has more listings than there are agencies). Only a
/// new agency can raise n, and the agencies listed are read through the
/// store's agency index (one seek each), so while n² is within the bound
/// (n <= 256) a publish costs a handful of lookups; past it the records the
/// version's index names are counted, reading the whole list once. (An index
/// builder that merges listings may hold records along the way that the
/// finished index drops, and an updated index keeps the records of its
/// base: past 256 agencies a replica can still need more than this count.)
fn check_agencies(list: &Store, planned: &Planned) -> Result<(), CentreError> {
    let listed: HashSet<String> = list.agencies(MAX_AGENCIES + 1)?.into_iter().collect();
    let new: HashSet<&str> = planned
        .changes
        .iter()
        .filter_map(|(op, _)| chain::op_entry(op))
        .map(|e| e.meta.agency.as_str())
        .filter(|a| !listed.contains(*a))
        .collect();
    let agencies = listed.len() + new.len();
    if agencies.saturating_mul(agencies) <= MAX_AGENCIES {
        return Ok(());
    }
    let records = agency_records(list.rows(), planned)?;
    if records > MAX_AGENCIES {
        return Err(CentreError::TooManyAgencies {
            records,
            max: MAX_AGENCIES,
        });
    }
    Ok(())
}

/// How many agency records (the agency that stands, the listing count) the
/// list of `rows` (in key order, an identifier's listings together) needs
/// once `planned` is applied; counting stops past [`MAX_AGENCIES`].
fn agency_records(
    rows: impl Iterator<Item = Result<Row, StoreError>>,
    planned: &Planned,
) -> Result<usize, CentreError> {
    // Each touched identifier's change: whether all its listings go, the
    // agencies whose listings go, and the listings that come.
    type Change<'a> = (bool, Vec<&'a str>, Vec<&'a EntryMeta>);
    let mut touched: HashMap<(Kind, String), Change<'_>> = HashMap::new();
    for (op, old) in &planned.changes {
        let id = op.id();
        let change = touched
            .entry((id.kind(), id.as_str().to_owned()))
            .or_default();
        change.0 |= matches!(op, Op::Remove(_, None));
        change
            .1
            .extend(old.iter().map(|old| old.meta.agency.as_str()));
        change.2.extend(chain::op_entry(op).map(|new| &new.meta));
    }
    let mut records: HashSet<(Agency, u32)> = HashSet::new();
    let mut stand = |listings: Vec<EntryMeta>| {
        if let Some(standing) = Standing::of(listings) {
            records.insert((standing.meta.agency, standing.listings));
        }
        records.len() > MAX_AGENCIES
    };
    let mut changed = |key: &(Kind, String), mut listings: Vec<EntryMeta>| {
        if let Some((whole, gone, come)) = touched.remove(key) {
            listings.retain(|l| !whole && !gone.contains(&l.agency.as_str()));
            listings.extend(come.into_iter().cloned());
        }
        listings
    };
    let mut group: Option<((Kind, String), Vec<EntryMeta>)> = None;
    for row in rows {
        let (kind, value, meta) = row?;
        if let Some((key, listings)) = &mut group {
            if key.0 == kind && key.1 == value {
                listings.push(meta);
                continue;
            }
        }
        if let Some((key, listings)) = group.replace(((kind, value), vec![meta])) {
            if stand(changed(&key, listings)) {
                return Ok(MAX_AGENCIES + 1);
            }
        }
    }
    if let Some((key, listings)) = group {
        stand(changed(&key, listings));
    }
    // Identifiers the list does not hold yet.
    for (_, (_, _, come)) in touched {
        stand(come.into_iter().cloned().collect());
    }
    Ok(records.len().min(MAX_AGENCIES + 1))
}

#[cfg(test)]
mod tests {
    use blocklist_core::Reason;

    use super::*;

    fn meta(agency: &str, listed_at: u64) -> EntryMeta {
        EntryMeta {
            reason: Reason::PHISHING,
            agency: Agency::new(agency).unwrap(),
            listed_at: Timestamp(listed_at),
            expires_at: None,
        }
    }

    fn entry(domain: &str, agency: &str, listed_at: u64) -> Entry {
        Entry {
            id: Identifier::from_canonical(Kind::Domain, domain).unwrap(),
            meta: meta(agency, listed_at),
        }
    }

    #[test]
    fn agency_records_are_counted_by_standing_agency_and_listing_count_after_the_changes() {
        // a.example: th-aoc (first) and th-dsi; b.example: th-aoc; c.example: th-dsi.
        let rows = [
            ("a.example", "th-aoc", 1),
            ("a.example", "th-dsi", 2),
            ("b.example", "th-aoc", 3),
            ("c.example", "th-dsi", 4),
        ]
        .map(|(domain, agency, at)| (Kind::Domain, domain.to_owned(), meta(agency, at)));
        let none = Planned {
            changes: Vec::new(),
        };
        // (th-aoc, 2), (th-aoc, 1), (th-dsi, 1).
        assert_eq!(
            agency_records(rows.clone().into_iter().map(Ok), &none).unwrap(),
            3
        );
        // th-aoc removes its listing of a.example, which th-dsi then stands
        // for alone: (th-dsi, 1) is counted already; th-cib lists b.example
        // beside th-aoc, and d.example, new, alone.
        let planned = Planned {
            changes: vec![
                (
                    Op::Remove(
                        Identifier::from_canonical(Kind::Domain, "a.example").unwrap(),
                        Some(Agency::new("th-aoc").unwrap()),
                    ),
                    Some(entry("a.example", "th-aoc", 1)),
                ),
                (Op::Add(entry("b.example", "th-cib", 9)), None),
                (Op::Add(entry("d.example", "th-cib", 9)), None),
            ],
        };
        // (th-dsi, 1), (th-aoc, 2), (th-cib, 1).
        assert_eq!(
            agency_records(rows.into_iter().map(Ok), &planned).unwrap(),
            3
        );
    }
}
