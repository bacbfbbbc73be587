//! `verify`: an end-to-end audit of a published chain, from a directory or a
//! URL, checking what every client relies on: each file's size and digest
//! against the manifest, every signature, the root chain from the pinned
//! root, every snapshot's entries against its signed state, and that
//! replaying the deltas from the oldest base reaches every later snapshot and
//! the manifest's state, and every agency registry version in order under
//! the newest root; and the transparency log: its checkpoint, its entries
//! from the first, and that it records every listed file (and, given a
//! checkpoint kept earlier, that it extends it).

use blocklist_core::document::{DocType, MANIFEST_PATH};
use blocklist_core::verify::VerifyError;
use blocklist_core::Timestamp;

use blocklist_core::log::SignedCheckpoint;

use crate::centre::chain::{self, Base, Replica};
use crate::centre::log::{self, LogAudit};
use crate::centre::source::{Source, MAX_MANIFEST_SIZE};
use crate::centre::CentreError;

/// What an audit checked.
#[derive(Debug)]
pub struct AuditReport {
    /// The list.
    pub list: String,
    /// The newest version.
    pub version: u64,
    /// The manifest's serial.
    pub serial: u64,
    /// Entries at the newest version.
    pub entries: u64,
    /// When the manifest expires.
    pub expires_at: Timestamp,
    /// Trust roots checked.
    pub roots: usize,
    /// Deltas replayed.
    pub deltas: usize,
    /// Snapshots checked.
    pub snapshots: usize,
    /// Agency registry versions checked.
    pub registries: usize,
    /// The transparency log checked (`None`: published before the log).
    pub log: Option<LogAudit>,
}

/// Audits the chain `source` publishes. `pinned` is a trust root obtained
/// out of band; without it, the first published root is trusted as found.
/// `since` is a log checkpoint kept earlier, which the log must extend.
pub fn audit(
    source: &dyn Source,
    pinned: Option<&[u8]>,
    since: Option<&SignedCheckpoint>,
    now: Timestamp,
) -> Result<AuditReport, CentreError> {
    let manifest_bytes = source.fetch(MANIFEST_PATH, MAX_MANIFEST_SIZE)?;
    let listed = chain::unverified_manifest(source, &manifest_bytes)?;
    let roots = chain::root_chain(source, &listed.roots, pinned)?;
    let verifier = roots.last().ok_or_else(|| CentreError::Inconsistent {
        file: source.name(MANIFEST_PATH),
        reason: "lists no trust root".to_owned(),
    })?;
    let manifest = verifier
        .manifest(&manifest_bytes, now, None)
        .map_err(|source_err| CentreError::Verify {
            file: source.name(MANIFEST_PATH),
            source: source_err,
        })?;
    let log = log::audit(source, &manifest, &verifier.root().publish_keys, since)?;
    // Held for the replay: deltas carry agencies' submissions, checked
    // against the registries as a replica checks them.
    let mut verifier = verifier.clone();
    chain::registry_chain(source, &mut verifier, &manifest.registries)?;
    let mut snapshot_states = chain::SnapshotStates::new();
    for file in &manifest.snapshots {
        let rel = file.path(DocType::Snapshot);
        let name = source.name(&rel);
        if file.version > manifest.version {
            return Err(CentreError::Inconsistent {
                file: name,
                reason: format!("is newer than the manifest's version {}", manifest.version),
            });
        }
        let bytes = chain::fetch_checked(source, &rel, file)?;
        let snapshot = verifier
            .snapshot(&bytes, None)
            .map_err(|err| CentreError::Verify {
                file: name.clone(),
                source: err,
            })?;
        if snapshot.version != file.version {
            return Err(CentreError::Verify {
                file: name,
                source: VerifyError::DigestMismatch {
                    what: "snapshot version".to_owned(),
                    expected: file.version.to_string(),
                    actual: snapshot.version.to_string(),
                },
            });
        }
        snapshot_states.insert(
            snapshot.version,
            (name, snapshot.state, snapshot.commitment()),
        );
    }
    chain::replay(
        source,
        &verifier,
        &manifest,
        Base::Oldest,
        &mut Replica::default(),
        &snapshot_states,
    )?;
    Ok(AuditReport {
        list: manifest.list.to_string(),
        version: manifest.version.get(),
        serial: manifest.serial,
        entries: manifest.state.entries,
        expires_at: manifest.expires_at,
        roots: manifest.roots.len(),
        deltas: manifest.deltas.len(),
        snapshots: manifest.snapshots.len(),
        registries: manifest.registries.len(),
        log,
    })
}
