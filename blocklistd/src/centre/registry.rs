//! The agency registry of a publish directory (`registries/`): the chain of
//! versions, checked against the newest trust root, and the `agency`
//! commands, each of which writes the next version signed by a threshold of
//! root keys (like a root rotation: the online publish key cannot register
//! an agency). The next publish or refresh lists it in the manifest.
//!
//! Registry files are never pruned: a client catching up walks every
//! version from 1. When a rotation changes the root keys, `resign` signs
//! every version again under the new root (new files beside the old ones),
//! so that the whole chain verifies under the root clients then hold.

use std::path::Path;

use blocklist_core::document::{
    AgencyEntry, DocType, FileRef, Manifest, Registry, TrustRoot, Version,
};
use blocklist_core::verify::{read_unverified, Verified, Verifier};
use blocklist_core::{Agency, Kind, PublicKey, Signer as _, Timestamp};

use crate::centre::keys::{check_signers, CentreKey};
use crate::centre::publish_dir::DirLock;
use crate::centre::source::Source as _;
use crate::centre::{chain, publish, CentreError, PublishDir};

/// The registry versions found in a publish directory, verified in order.
#[derive(Debug)]
pub struct Registries {
    /// The file of each version, ascending: what the manifest lists.
    pub files: Vec<FileRef>,
    /// The newest root, holding the newest registry.
    verifier: Verifier,
}

impl Registries {
    /// Reads `registries/` and checks it is one chain from version 1 under
    /// `root` (a verifier at the newest trust root). Where a version has
    /// several files (signed again after a rotation), the one that verifies
    /// is taken.
    pub fn scan(dir: &PublishDir, root: &Verifier) -> Result<Registries, CentreError> {
        let mut verifier = root.clone();
        let mut files = Vec::new();
        let mut candidates = dir.files(DocType::Registry)?.into_iter().peekable();
        while let Some((version, rel)) = candidates.next() {
            let expected = files.len() as u64 + 1;
            if version.get() != expected {
                return Err(CentreError::Inconsistent {
                    file: dir.name(&rel),
                    reason: format!("expected registry version {expected} here"),
                });
            }
            // Every file of this version until one verifies.
            let mut tries = vec![rel];
            while let Some((_, rel)) = candidates.next_if(|(v, _)| *v == version) {
                tries.push(rel);
            }
            let mut refused = None;
            for rel in tries {
                let bytes = dir.read(&rel)?;
                match verifier.accept_registry(&bytes) {
                    Ok(registry) => {
                        files.push(FileRef {
                            version,
                            sha256: registry.file_sha256(),
                            size: bytes.len() as u64,
                        });
                        refused = None;
                        break;
                    }
                    Err(source) => {
                        refused.get_or_insert(CentreError::Verify {
                            file: dir.name(&rel),
                            source,
                        });
                    }
                }
            }
            if let Some(err) = refused {
                return Err(err);
            }
        }
        Ok(Registries { files, verifier })
    }

    /// The newest registry, if there is one.
    pub fn current(&self) -> Option<&Verified<Registry>> {
        self.verifier.registry()
    }

    /// The newest root holding the newest registry: a new delta is checked
    /// under it as every replica will check it, who asked for its changes
    /// included.
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }
}

/// A change to the registry, made by one `agency` command.
#[derive(Debug, Clone)]
pub enum AgencyChange {
    /// Register a new agency.
    Add {
        /// Its id.
        id: Agency,
        /// Its display name.
        name: String,
        /// What it may list.
        kinds: Vec<Kind>,
        /// Its keys.
        keys: Vec<PublicKey>,
    },
    /// Give an agency more keys.
    AddKeys {
        /// The agency.
        id: Agency,
        /// The keys.
        keys: Vec<PublicKey>,
    },
    /// Revoke an agency, or one of its keys, from a time on.
    Revoke {
        /// The agency.
        id: Agency,
        /// The key to revoke; `None`: the agency itself.
        key: Option<PublicKey>,
        /// From when (`None`: the new registry's `issued_at`). Never
        /// before that: a revocation does not reach back (AR5).
        at: Option<Timestamp>,
    },
}

/// Writes the next registry version, made by `change` from the newest one
/// and signed by `signers` (root keys of the newest root, at least its
/// threshold). Returns the file written (relative to the directory).
pub fn change(
    dir: &Path,
    change: &AgencyChange,
    signers: &[CentreKey],
    now: Timestamp,
) -> Result<String, CentreError> {
    let dir = PublishDir::open(dir)?;
    let lock = dir.lock()?;
    let root = publish::newest_root(&dir)?;
    let registries = Registries::scan(&dir, &root)?;
    let current = registries.current();
    let mut agencies = current.map_or_else(Vec::new, |r| r.agencies().to_vec());
    // Never before the version it follows (AR4), whose own date may lie a
    // second ahead (see `first_issue`).
    let issued_at = match current {
        None => first_issue(&dir, now)?,
        Some(previous) => Timestamp(now.0.max(previous.issued_at.0)),
    };
    let usage = |e: blocklist_core::document::EncodeError| CentreError::usage(e.to_string());
    let find = |agencies: &[AgencyEntry], id: &Agency| -> Result<usize, CentreError> {
        agencies
            .iter()
            .position(|a| a.id() == id)
            .ok_or_else(|| CentreError::usage(format!("no agency {id} in the registry")))
    };
    match change {
        AgencyChange::Add {
            id,
            name,
            kinds,
            keys,
        } => {
            if agencies.iter().any(|a| a.id() == id) {
                return Err(CentreError::usage(format!(
                    "agency {id} is already registered (an id is never reused; add keys with agency add-key)"
                )));
            }
            if let Some(since) = registries.verifier.principals_since() {
                refuse_used_label(&dir, id, since)?;
            }
            agencies.push(
                AgencyEntry::new(id.clone(), name, kinds.clone(), keys.clone()).map_err(usage)?,
            );
        }
        AgencyChange::AddKeys { id, keys } => {
            let at = find(&agencies, id)?;
            for key in keys {
                agencies[at].add_key(*key).map_err(usage)?;
            }
        }
        AgencyChange::Revoke { id, key, at } => {
            let index = find(&agencies, id)?;
            let at = at.unwrap_or(issued_at);
            match key {
                Some(key) => agencies[index].revoke_key(&key.id(), at),
                None => agencies[index].revoke(at),
            }
            .map_err(usage)?;
        }
    }
    let list = root.root().list.clone();
    let version = current.map_or(Version::FIRST, |r| r.version.next());
    let next = Registry::new(list, version, issued_at, agencies, vec![]).map_err(usage)?;
    let signers: Vec<&CentreKey> = signers.iter().collect();
    let bytes = sign_checked(&next, root.root(), &signers)?;
    // Checked as every client will check it: this is where a change that
    // breaks the registry's history (AR4, AR5) is refused.
    registries
        .verifier
        .check_registry(&bytes)
        .map_err(|source| CentreError::Verify {
            file: format!("agency registry {version}"),
            source,
        })?;
    let file = dir.write_document(&lock, DocType::Registry, version, &bytes)?;
    Ok(file.path(DocType::Registry))
}

/// Refuses to register `id` while the list holds listings under the label
/// `id` dated `since` (agencies became principals) or later: they would
/// become the agency's, and no agency signed for them, so no snapshot
/// could carry them (W8).
fn refuse_used_label(dir: &PublishDir, id: &Agency, since: Timestamp) -> Result<(), CentreError> {
    let path = dir.state_path();
    if !path.exists() {
        return Ok(());
    }
    if blocklist_core::store::Store::read_view(&path)?.lists_since(id.as_str(), since)? {
        return Err(CentreError::usage(format!(
            "the list holds listings under the label {id} made since agencies became principals ({since}): registered, they would be agency {id}'s without its signature; register the agency under another id, or remove them first"
        )));
    }
    Ok(())
}

/// When registry version 1 is issued: agencies are principals from then
/// (W1), so it comes after every listing published so far, even one made in
/// the same second as `now` (the newest manifest is dated no earlier than
/// the newest listing): a label listing made before the registry is never
/// taken for an agency's, which would need its signature.
fn first_issue(dir: &PublishDir, now: Timestamp) -> Result<Timestamp, CentreError> {
    let Some(bytes) = dir.read_manifest()? else {
        return Ok(now);
    };
    let manifest: Manifest = read_unverified(&bytes).map_err(|source| CentreError::Verify {
        file: dir.name("manifest"),
        source,
    })?;
    Ok(Timestamp(now.0.max(manifest.issued_at.0.saturating_add(1))))
}

/// The newest registry of a publish directory (`None`: no agency registered yet).
pub fn current(dir: &Path) -> Result<Option<Registry>, CentreError> {
    let dir = PublishDir::open(dir)?;
    let root = publish::newest_root(&dir)?;
    let registries = Registries::scan(&dir, &root)?;
    Ok(registries.current().map(|r| (**r).clone()))
}

/// Signs every registry version again under `next` (a root whose root keys
/// differ from `current`'s) with those of `signers` that are its root keys,
/// and writes the files beside the old ones: a client that rotates to `next`
/// verifies each registry against it. Called before `next`'s own file is
/// written, so that no root is published without its registries.
pub(crate) fn resign(
    dir: &PublishDir,
    lock: &DirLock,
    current: &Verifier,
    next: &Verifier,
    signers: &[CentreKey],
) -> Result<Vec<String>, CentreError> {
    let registries = Registries::scan(dir, current)?;
    let new_root = next.root();
    let signers: Vec<&CentreKey> = signers
        .iter()
        .filter(|k| new_root.root_keys.get(&k.public_key().id()).is_some())
        .collect();
    let mut check = next.clone();
    let mut written = Vec::new();
    for file in &registries.files {
        let rel = file.path(DocType::Registry);
        let registry: Registry =
            read_unverified(&dir.read(&rel)?).map_err(|source| CentreError::Verify {
                file: dir.name(&rel),
                source,
            })?;
        let again = sign_checked(&registry, new_root, &signers)?;
        check
            .accept_registry(&again)
            .map_err(|source| CentreError::Verify {
                file: format!(
                    "agency registry {} signed again under trust root {}",
                    registry.version, new_root.version
                ),
                source,
            })?;
        let file = dir.write_document(lock, DocType::Registry, registry.version, &again)?;
        written.push(file.path(DocType::Registry));
    }
    Ok(written)
}

/// Signs `next` with `signers`, refusing any that is not a root key of
/// `root` (a stray signature would make every client refuse it) or too few.
fn sign_checked(
    next: &Registry,
    root: &TrustRoot,
    signers: &[&CentreKey],
) -> Result<Vec<u8>, CentreError> {
    check_signers(
        signers.iter().copied(),
        &root.root_keys,
        "root",
        root.version,
        " (an agency registry is signed by root keys, not publish keys)",
    )?;
    chain::sign(
        next,
        || format!("agency registry {}", next.version),
        signers,
    )
}
