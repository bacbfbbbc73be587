//! The centre's current list, kept between commands in a SQLite [`Store`]
//! (the replica's store, fed the deltas the centre signs) instead of being
//! replayed from the published files by every publish.
//!
//! The publish directory stays the source of truth. [`CentreState::open`]
//! compares the store with the newest manifest's version and state digest
//! before anything reads it:
//!
//! - equal: the store is used as it is;
//! - behind (a publish killed after writing its manifest, before its store
//!   commit): rolled forward by the deltas the manifest lists;
//! - missing, unreadable, ahead, or disagreeing (another state at the same
//!   version, a chain it cannot reach): deleted and rebuilt from the
//!   directory, the newest snapshot and the deltas after it, each verified as
//!   a client would; the reason is logged.
//!
//! A publish writes its delta, then the manifest, then commits the delta to
//! the store, so a crash anywhere leaves the store at the manifest's version
//! or one behind it, never ahead.
//!
//! The store lives at `DIR/.centre/state.db` ([`PublishDir::state_path`]):
//! never served, and holding only what the directory publishes anyway.

use std::path::Path;
use std::time::Instant;

use blocklist_core::document::{Manifest, Version};
use blocklist_core::store::Store;
use blocklist_core::verify::{Verified, Verifier};
use blocklist_core::StateAccumulator;

use crate::centre::chain::{self, Base, ReplayTarget as _};
use crate::centre::publish_dir::{DirLock, PublishDir};
use crate::centre::CentreError;

/// What SQLite may cache of the store: the upper levels of its B-trees and
/// the pages a publish touches, well within the centre's memory budget
/// (500 MB at 10M entries) and enough that point lookups seldom read the disk.
const CACHE_BYTES: u64 = 128 << 20;

/// The centre's current list, verified against the newest manifest.
pub struct CentreState {
    store: Store,
}

impl CentreState {
    /// Opens the store of `dir` at the version `manifest` announces (`None`:
    /// nothing published), rolling it forward or rebuilding it as needed (see
    /// the module's overview). `verifier` is the root the manifest was signed
    /// under. Holding `_lock` keeps publishes out meanwhile.
    pub fn open(
        dir: &PublishDir,
        _lock: &DirLock,
        list: &str,
        verifier: &Verifier,
        manifest: Option<&Verified<Manifest>>,
    ) -> Result<CentreState, CentreError> {
        let path = dir.state_path();
        let reason = if path.exists() {
            match Store::open(&path, list) {
                Ok(mut store) => match bring_up_to_date(dir, &mut store, verifier, manifest) {
                    Ok(()) => return CentreState::tuned(store),
                    Err(reason) => reason,
                },
                Err(error) => format!("it cannot be opened: {error}"),
            }
        } else if manifest.is_none() {
            // The first publish: nothing to rebuild, nothing to warn about.
            return CentreState::tuned(Store::open(&path, list)?);
        } else {
            "it is missing".to_owned()
        };
        tracing::warn!(
            store = %path.display(),
            %reason,
            "rebuilding the centre's state from the publish directory"
        );
        let started = Instant::now();
        remove_store(&path)?;
        let mut store = Store::open(&path, list)?;
        if let Some(manifest) = manifest {
            chain::replay(
                dir,
                verifier,
                manifest,
                Base::Newest,
                &mut store,
                &chain::SnapshotStates::new(),
            )?;
        }
        let state = CentreState::tuned(store)?;
        let (version, held) = state.held()?;
        tracing::info!(
            version = version.map_or(0, Version::get),
            entries = held.entries(),
            seconds = started.elapsed().as_secs_f64(),
            "centre state rebuilt"
        );
        Ok(state)
    }

    fn tuned(store: Store) -> Result<CentreState, CentreError> {
        // After a rebuild's bulk load: indexing once is faster than on every insert.
        store.index_for_publisher()?;
        store.set_cache_size(CACHE_BYTES)?;
        Ok(CentreState { store })
    }

    /// The version held and its state's commitments.
    pub fn held(&self) -> Result<(Option<Version>, StateAccumulator), CentreError> {
        self.store.held()
    }

    /// The store, for point lookups.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The store, to apply what was just published.
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }
}

/// Brings `store` to `manifest`'s version, or says why it cannot be.
fn bring_up_to_date(
    dir: &PublishDir,
    store: &mut Store,
    verifier: &Verifier,
    manifest: Option<&Verified<Manifest>>,
) -> Result<(), String> {
    let (held, state) = store.held().map_err(|e| e.to_string())?;
    let Some(manifest) = manifest else {
        return match held {
            None => Ok(()),
            Some(version) => Err(format!(
                "it holds version {version} but nothing is published"
            )),
        };
    };
    match held {
        Some(version) if version == manifest.version => {
            // In the commitment the manifest's format carries: a store
            // upgraded with the centre holds every one.
            let state = state.state(manifest.commitment());
            if state == manifest.state {
                Ok(())
            } else {
                Err(format!(
                    "it holds version {version} with state {} ({} entries), the manifest {} ({} entries)",
                    state.digest, state.entries, manifest.state.digest, manifest.state.entries
                ))
            }
        }
        Some(version) if version > manifest.version => Err(format!(
            "it holds version {version}, newer than the manifest's {}",
            manifest.version
        )),
        _ => {
            let from = held.map_or(0, Version::get);
            chain::replay(
                dir,
                verifier,
                manifest,
                Base::Held,
                store,
                &chain::SnapshotStates::new(),
            )
            .map_err(|e| format!("rolling it forward from version {from} failed: {e}"))?;
            // Only a publish killed between its manifest and its store
            // commit leaves the store behind: worth a word.
            tracing::warn!(
                from,
                to = manifest.version.get(),
                "centre state rolled forward by the published deltas"
            );
            Ok(())
        }
    }
}

/// Deletes the store's database and its WAL files, so it is made afresh.
pub fn remove_store(path: &Path) -> Result<(), CentreError> {
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        match std::fs::remove_file(&file) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CentreError::io("remove", file)(e)),
        }
    }
    Ok(())
}
