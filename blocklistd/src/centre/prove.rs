//! `prove`: one identifier's history as a proof bundle (docs/FORMAT.md,
//! "Proof bundle"), made from a publish directory: the deltas that touched
//! it, the roots and registries that check them, and each file's inclusion
//! proof in the transparency log up to the checkpoint in `log/checkpoint`
//! (with the witnesses' cosignatures it holds). `verify-proof` is
//! [`blocklist_core::proof::verify_bundle`] and needs nothing of the centre.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use blocklist_core::document::{Delta, DocType, FileRef, Manifest, Version, MANIFEST_PATH};
use blocklist_core::log::follow::bundles_between;
use blocklist_core::log::tree::{inclusion_proof, leaf_hash};
use blocklist_core::log::{Record, SignedCheckpoint, CHECKPOINT_PATH, LOG_DIR};
use blocklist_core::proof::{
    verify_bundle, Change, History, LoggedFile, LoggedRecord, ProofBundle, Signer,
};
use blocklist_core::verify::read_unverified;
use blocklist_core::{EntryMeta, Identifier, Sha256, Timestamp};

use crate::centre::{CentreError, PublishDir};

/// Where a history ends: at a version, or at the newest version published
/// at or before a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// This version.
    Version(Version),
    /// The newest version whose delta was made at or before this time.
    Time(Timestamp),
}

impl std::str::FromStr for At {
    type Err = String;

    /// A version number, or an RFC 3339 time (`2026-12-06T10:00:00Z`).
    fn from_str(text: &str) -> Result<At, String> {
        if text.bytes().all(|b| b.is_ascii_digit()) {
            let n: u64 = text.parse().map_err(|e| format!("version {text}: {e}"))?;
            return Version::new(n)
                .map(At::Version)
                .ok_or_else(|| "version 0 is the empty list: give 1 or later".to_owned());
        }
        let time = humantime::parse_rfc3339_weak(text)
            .map_err(|e| format!("{text:?} is neither a version nor an RFC 3339 time: {e}"))?;
        let secs = time
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| format!("{text} is before 1970"))?
            .as_secs();
        Ok(At::Time(Timestamp(secs)))
    }
}

/// A bundle made, and what it holds.
#[derive(Debug)]
pub struct Proven {
    /// The bundle's bytes.
    pub bundle: Vec<u8>,
    /// The version its history runs to.
    pub at: Version,
    /// The deltas it carries (those that touched the identifier).
    pub deltas: usize,
    /// The deltas held in the directory up to `at`, read to find them.
    pub scanned: usize,
    /// The log's size at its checkpoint.
    pub log_size: u64,
    /// The oldest delta the directory holds, when older ones were pruned:
    /// the bundle cannot show changes made before it.
    pub pruned_before: Option<Version>,
}

/// Makes the proof bundle of `id`'s history up to `at` (default: the
/// manifest's version) from the publish directory `dir`, and checks it as
/// `verify-proof` will, against the directory's first root, before
/// returning it.
pub fn prove(dir: &Path, id: &Identifier, at: Option<At>) -> Result<Proven, CentreError> {
    let dir = PublishDir::open(dir)?;
    let shown = |rel: &str| dir.path().join(rel).display().to_string();
    let manifest_bytes = dir
        .read_manifest()?
        .ok_or_else(|| CentreError::usage("nothing published yet: nothing to prove"))?;
    let manifest: Manifest =
        read_unverified(&manifest_bytes).map_err(|source| CentreError::Verify {
            file: shown(MANIFEST_PATH),
            source,
        })?;
    let checkpoint_path = format!("{LOG_DIR}/{CHECKPOINT_PATH}");
    let checkpoint = dir.read(&checkpoint_path)?;
    let size = SignedCheckpoint::parse(&checkpoint)
        .map_err(|source| CentreError::Log {
            file: shown(&checkpoint_path),
            source,
        })?
        .checkpoint()
        .size;
    let log = LogIndex::read(&dir, size)?;

    // A publish killed after the log recorded its delta and before its
    // manifest leaves a recorded file of a version made again, or never
    // made: only versions up to the manifest's are published, and of two
    // files of one version, the one the manifest lists.
    let listed: HashSet<Sha256> = manifest.deltas.iter().map(|f| f.sha256).collect();
    let mut deltas: Vec<(Delta, Vec<u8>)> = Vec::new();
    for (version, rel) in dir.files(DocType::Delta)? {
        if version > manifest.version {
            continue;
        }
        let bytes = dir.read(&rel)?;
        if log.index(DocType::Delta, version, &bytes).is_none() {
            continue;
        }
        let delta: Delta = read_unverified(&bytes).map_err(|source| CentreError::Verify {
            file: shown(&rel),
            source,
        })?;
        match deltas.last_mut() {
            Some(last) if last.0.version == version => {
                if listed.contains(&Sha256::of(&bytes)) {
                    *last = (delta, bytes);
                }
            }
            _ => deltas.push((delta, bytes)),
        }
    }
    let at = match at {
        None => manifest.version,
        Some(At::Version(v)) if v > manifest.version => {
            return Err(CentreError::usage(format!(
                "version {v} is not published in {}: the newest is {}",
                dir.path().display(),
                manifest.version
            )))
        }
        Some(At::Version(v)) => v,
        Some(At::Time(t)) => deltas
            .iter()
            .filter(|(d, _)| d.created_at <= t)
            .map(|(d, _)| d.version)
            .max()
            .ok_or_else(|| {
                CentreError::usage(format!(
                    "no delta held in {} was published at or before {t}",
                    dir.path().display()
                ))
            })?,
    };
    let pruned_before = deltas
        .first()
        .map(|(d, _)| d.version)
        .filter(|v| *v > Version::FIRST);
    deltas.retain(|(d, _)| d.version <= at);
    let at_record = deltas
        .last()
        .filter(|(d, _)| d.version == at)
        .and_then(|(_, bytes)| log.record_of(DocType::Delta, at, bytes))
        .ok_or_else(|| {
            CentreError::usage(format!(
                "no delta of version {at} is held in {} and recorded in the log at size {size}: nothing to prove it by",
                dir.path().display()
            ))
        })?;
    let scanned = deltas.len();
    let mut carried = Vec::new();
    for (delta, bytes) in deltas {
        if delta.ops.iter().any(|op| op.id() == id) {
            carried.push(log.logged(DocType::Delta, delta.version, bytes, shown)?);
        }
    }
    let files = |doc: DocType, refs: &[FileRef]| {
        refs.iter()
            .map(|f| {
                let bytes = dir.read(&f.path(doc))?;
                log.logged(doc, f.version, bytes, shown)
            })
            .collect::<Result<Vec<_>, CentreError>>()
    };
    let roots = files(DocType::Root, &manifest.roots)?;
    let bundle = ProofBundle {
        list: manifest.list.clone(),
        id: id.clone(),
        at,
        registries: files(DocType::Registry, &manifest.registries)?,
        deltas: carried,
        checkpoint,
        at_record,
        roots,
    };
    let count = bundle.deltas.len();
    let first_root = bundle
        .roots
        .first()
        .ok_or_else(|| CentreError::Inconsistent {
            file: shown(MANIFEST_PATH),
            reason: "lists no trust root".to_owned(),
        })?
        .file
        .clone();
    let bytes = bundle.to_bytes();
    verify_bundle(&bytes, &first_root).map_err(|source| CentreError::Proof {
        file: format!(
            "the bundle of {id} made from {}{}",
            dir.path().display(),
            pruned_before.map_or_else(String::new, |v| format!(
                " (deltas before version {v} were pruned from it)"
            ))
        ),
        source: Box::new(source),
    })?;
    Ok(Proven {
        bundle: bytes,
        at,
        deltas: count,
        scanned,
        log_size: size,
        pruned_before,
    })
}

/// Every entry of the log up to a checkpoint: the leaf hashes, and where
/// each file is recorded.
struct LogIndex {
    leaves: Vec<Sha256>,
    at: HashMap<Record, u64>,
}

impl LogIndex {
    fn read(dir: &PublishDir, size: u64) -> Result<LogIndex, CentreError> {
        let mut leaves = Vec::new();
        let mut at = HashMap::new();
        for fetch in bundles_between(0, size) {
            let rel = format!("{LOG_DIR}/{}", fetch.path);
            let entries =
                fetch
                    .new_entries(&dir.read(&rel)?)
                    .map_err(|source| CentreError::Log {
                        file: dir.path().join(&rel).display().to_string(),
                        source,
                    })?;
            for entry in entries {
                let index = leaves.len() as u64;
                let record = Record::parse(index, &entry).map_err(|source| CentreError::Log {
                    file: dir.path().join(&rel).display().to_string(),
                    source,
                })?;
                at.entry(record).or_insert(index);
                leaves.push(leaf_hash(&entry));
            }
        }
        Ok(LogIndex { leaves, at })
    }

    /// The log's record of `bytes`, a `doc` of `version`, with its
    /// inclusion proof.
    fn record_of(&self, doc: DocType, version: Version, bytes: &[u8]) -> Option<LoggedRecord> {
        let index = self.index(doc, version, bytes)?;
        Some(LoggedRecord {
            index,
            path: inclusion_proof(index, &self.leaves)?,
            sha256: Sha256::of(bytes),
            size: bytes.len() as u64,
        })
    }

    fn index(&self, doc: DocType, version: Version, bytes: &[u8]) -> Option<u64> {
        let file = FileRef {
            version,
            sha256: Sha256::of(bytes),
            size: bytes.len() as u64,
        };
        self.at.get(&Record { doc, file }).copied()
    }

    /// `bytes`, a `doc` of `version`, with its inclusion proof; refused when
    /// the log does not record it.
    fn logged(
        &self,
        doc: DocType,
        version: Version,
        bytes: Vec<u8>,
        shown: impl Fn(&str) -> String,
    ) -> Result<LoggedFile, CentreError> {
        let index = self.index(doc, version, &bytes);
        index
            .and_then(|index| LoggedFile::new(index, &self.leaves, bytes))
            .ok_or_else(|| CentreError::Inconsistent {
                file: shown(&format!("{}/{version}-…", doc.folder())),
                reason: format!(
                    "{doc} {version} is not recorded in the log at size {}: run `blocklist publish` or `refresh` first",
                    self.leaves.len()
                ),
            })
    }
}

/// The history as `verify-proof --json` prints it: times as RFC 3339
/// text, keys as hex ids.
pub fn history_json(history: &History) -> serde_json::Value {
    use serde_json::json;
    let time = crate::centre::inspect::time;
    let listing = |m: &EntryMeta| {
        json!({
            "agency": m.agency.as_str(),
            "reason": m.reason.to_string(),
            "listed_at": time(m.listed_at),
            "expires_at": m.expires_at.map(time),
        })
    };
    let events: Vec<_> = history
        .events
        .iter()
        .map(|e| {
            let (change, meta) = match &e.change {
                Change::Listed(m) => ("listed", m),
                Change::Updated(m) => ("updated", m),
                Change::Removed(m) => ("removed", m),
            };
            let by = match &e.by {
                Signer::Agency {
                    agency,
                    name,
                    key,
                    sequence,
                    accepted_at,
                    why,
                } => json!({
                    "kind": "agency", "agency": agency.as_str(), "name": name,
                    "key": key.to_string(), "sequence": sequence,
                    "accepted_at": time(*accepted_at), "why": why.map(|w| w.to_string()),
                }),
                Signer::Override {
                    made_at,
                    why,
                    note,
                    keys,
                } => json!({
                    "kind": "override", "made_at": time(*made_at), "why": why.to_string(),
                    "note": note, "keys": keys.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }),
                Signer::Centre => json!({ "kind": "centre" }),
            };
            json!({
                "version": e.version.get(),
                "published_at": time(e.published_at),
                "log_index": e.log_index,
                "change": change,
                "listing": listing(meta),
                "by": by,
            })
        })
        .collect();
    json!({
        "list": history.list.as_str(),
        "kind": history.id.kind().name(),
        "value": history.id.as_str(),
        "at": history.at.get(),
        "listed": !history.standing.is_empty(),
        "registry_carried": history.registered,
        "standing": history.standing.iter().map(listing).collect::<Vec<_>>(),
        "events": events,
        "log": {
            "size": history.checkpoint.checkpoint().size,
            "root": history.checkpoint.checkpoint().root.to_string(),
            "root_version": history.root_version.get(),
            "signature_lines": history.checkpoint.lines(),
        },
    })
}
