//! The drop folder: files delivered by hand (air-gapped sites) or by any
//! copy job. Any published file (root, manifest, delta, snapshot), under any
//! name, at the top of the folder or in `roots/`, `deltas/`, `snapshots/`.
//!
//! A file is read only once its size and modification time have not changed
//! for `drop.settle` (copies are not atomic; renaming a finished file into
//! the folder is always safe). Each file is then verified like one fetched
//! over HTTP (by signature, list and version: there is no manifest digest to
//! check a hand-carried delta against), in order: roots, the newest useful
//! snapshot, deltas in version order, manifests. Then it is moved:
//!
//! - to `processed/` when applied, or already held;
//! - to `rejected/`, with `<name>.reason`, when refused (bad signature,
//!   another list, rollback, expired manifest ...);
//! - nowhere when it may still become useful: a delta after a gap (waiting
//!   for the missing ones), or a file that is not yet a complete document
//!   (still being written), until it has been unchanged for
//!   `drop.reject_incomplete_after`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use blocklist_core::document::{envelope, Delta, DocType, Document, Manifest, Snapshot, TrustRoot};
use blocklist_core::verify::VerifyError;
use notify::Watcher as _;
use tokio::sync::mpsc;
use tracing::{info, warn, Instrument as _};

use crate::daemon::metrics::SyncSource;
use crate::daemon::sync::Syncer;
use crate::daemon::DaemonError;

/// Where applied files go, inside the drop folder.
pub const PROCESSED_DIR: &str = "processed";
/// Where refused files go, inside the drop folder.
pub const REJECTED_DIR: &str = "rejected";

/// Watches the folder; every event sends a (coalesced) "look now".
pub fn watch(dir: &Path, tx: mpsc::Sender<()>) -> Result<notify::RecommendedWatcher, DaemonError> {
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if event.is_ok() {
            // A full channel already holds a "look now".
            let _ = tx.try_send(());
        }
    })
    .map_err(|e| DaemonError::Runtime {
        action: "watch the drop folder",
        reason: e.to_string(),
    })?;
    watcher
        .watch(dir, notify::RecursiveMode::Recursive)
        .map_err(|e| DaemonError::Runtime {
            action: "watch the drop folder",
            reason: format!("{}: {e}", dir.display()),
        })?;
    Ok(watcher)
}

/// What a round left behind.
#[derive(Debug, Default)]
pub struct DropOutcome {
    /// Files still changing or incomplete: look again after `settle`.
    pub pending: bool,
}

/// A complete-looking dropped document.
struct Dropped {
    path: PathBuf,
    doc: DocType,
    /// Version (serial for a manifest), for ordering only: read before any check.
    order: u64,
    bytes: Vec<u8>,
}

type Stamp = (u64, Option<SystemTime>);

impl Syncer {
    /// One pass over the drop folder.
    pub async fn drop_round(&mut self) -> Result<DropOutcome, DaemonError> {
        let inbox = self.config.drop_dir();
        let mut outcome = DropOutcome::default();
        let first = scan(&inbox);
        if first.is_empty() {
            return Ok(outcome);
        }
        let settle = self.config.drop_folder.settle;
        self.cancellable(async {
            tokio::time::sleep(settle).await;
            Ok(())
        })
        .await?;
        let second = scan(&inbox);
        let stable: Vec<(PathBuf, Stamp)> = second
            .into_iter()
            .filter(|(path, stamp)| {
                let same = first.get(path) == Some(stamp);
                outcome.pending |= !same;
                same
            })
            .collect();
        if stable.is_empty() {
            return Ok(outcome);
        }
        self.shared.metrics.sync_attempt(SyncSource::Drop);
        let source = inbox.display().to_string();
        let mut docs = Vec::new();
        let mut refused = 0usize;
        for (path, (_, modified)) in stable {
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    warn!(file = %path.display(), error = %e, "cannot read dropped file");
                    continue;
                }
            };
            match classify(&path, bytes) {
                Ok(doc) => docs.push(doc),
                Err(reason) => {
                    let age = modified
                        .and_then(|m| SystemTime::now().duration_since(m).ok())
                        .unwrap_or_default();
                    if age >= self.config.drop_folder.reject_incomplete_after {
                        refused += 1;
                        self.reject(&inbox, &path, &reason);
                    } else {
                        info!(file = %path.display(), %reason, "dropped file is not a complete document yet; will look again");
                        outcome.pending = true;
                    }
                }
            }
        }
        docs.sort_by_key(|d| {
            let rank = match d.doc {
                DocType::Root => 0,
                DocType::Snapshot => 1,
                DocType::Delta => 2,
                DocType::Manifest => 3,
            };
            // Snapshots newest first: only the newest useful one is applied.
            let order = if d.doc == DocType::Snapshot {
                u64::MAX - d.order
            } else {
                d.order
            };
            (rank, order)
        });
        let mut progressed = false;
        let mut waiting: Vec<Dropped> = Vec::new();
        for doc in docs {
            let span = tracing::info_span!("dropped_file", file = %doc.path.display(), doc = %doc.doc, version = doc.order);
            let name = doc.path.display().to_string();
            let result = self.take(&doc).instrument(span.clone()).await;
            let _enter = span.enter();
            match result {
                Ok(Taken::Applied) => {
                    progressed = true;
                    self.move_to(&inbox, &doc.path, PROCESSED_DIR);
                }
                Ok(Taken::AlreadyHeld) => {
                    info!("already held");
                    self.move_to(&inbox, &doc.path, PROCESSED_DIR);
                }
                Ok(Taken::Waiting) => waiting.push(doc),
                Err(DaemonError::ShuttingDown) => return Err(DaemonError::ShuttingDown),
                Err(DaemonError::NoTrustRoot) => {
                    warn!("no trust root: dropped file left in place");
                }
                Err(err) => {
                    refused += 1;
                    warn!(error = %err, "dropped file refused");
                    self.shared.status.file_refused(&name, err.to_string());
                    self.reject(&inbox, &doc.path, &err.to_string());
                }
            }
        }
        // Deltas that waited for an earlier one may follow now.
        let mut again = true;
        while again {
            again = false;
            for doc in std::mem::take(&mut waiting) {
                match self.take(&doc).await {
                    Ok(Taken::Applied) => {
                        again = true;
                        progressed = true;
                        self.move_to(&inbox, &doc.path, PROCESSED_DIR);
                    }
                    Ok(Taken::AlreadyHeld) => self.move_to(&inbox, &doc.path, PROCESSED_DIR),
                    Ok(Taken::Waiting) => waiting.push(doc),
                    Err(DaemonError::ShuttingDown) => return Err(DaemonError::ShuttingDown),
                    Err(err) => {
                        refused += 1;
                        self.shared
                            .status
                            .file_refused(&doc.path.display().to_string(), err.to_string());
                        self.reject(&inbox, &doc.path, &err.to_string());
                    }
                }
            }
        }
        for doc in &waiting {
            info!(file = %doc.path.display(), version = doc.order, held = self.held().map_or(0, |v| v.get()), "dropped delta waits for the versions before it");
        }
        if progressed {
            self.shared.status.sync_succeeded("applied", &source);
        }
        if refused > 0 {
            self.shared.metrics.sync_failure(SyncSource::Drop);
        }
        Ok(outcome)
    }

    /// Verifies and takes one dropped document.
    async fn take(&mut self, doc: &Dropped) -> Result<Taken, DaemonError> {
        let name = doc.path.display().to_string();
        match doc.doc {
            DocType::Root => match self.trusted_root_version() {
                None if self.config.trust_on_first_use && self.config.trust_root.is_none() => {
                    self.pin_first_use(&doc.bytes, &name).await?;
                    Ok(Taken::Applied)
                }
                None => Err(DaemonError::NoTrustRoot),
                Some(current) if doc.order <= current.get() => Ok(Taken::AlreadyHeld),
                Some(current) if doc.order > current.get() + 1 => Ok(Taken::Waiting),
                Some(_) => {
                    self.rotate_root(&doc.bytes, &name)?;
                    Ok(Taken::Applied)
                }
            },
            DocType::Manifest => {
                let manifest = self.accept_manifest(&doc.bytes, &name)?;
                let held = self.held().map_or(0, |v| v.get());
                if manifest.version.get() > held {
                    warn!(announced = manifest.version.get(), held, "manifest announces a newer version than held: drop its deltas or snapshot too");
                }
                self.files
                    .write(blocklist_core::document::MANIFEST_PATH, &doc.bytes)?;
                self.shared.status.sync_succeeded("current", &name);
                Ok(Taken::Applied)
            }
            DocType::Delta | DocType::Snapshot => {
                let held = self.held().map_or(0, |v| v.get());
                if doc.order <= held {
                    return Ok(Taken::AlreadyHeld);
                }
                if doc.doc == DocType::Delta && doc.order > held + 1 {
                    return Ok(Taken::Waiting);
                }
                let result = match doc.doc {
                    DocType::Delta => self.apply_delta(doc.bytes.clone(), &name).await,
                    _ => self.apply_snapshot(doc.bytes.clone(), &name).await,
                };
                match result {
                    Ok(true) => Ok(Taken::Applied),
                    Ok(false) => Ok(Taken::AlreadyHeld),
                    Err(DaemonError::Verify {
                        source: VerifyError::Replay { .. } | VerifyError::Rollback { .. },
                        ..
                    }) => Ok(Taken::AlreadyHeld),
                    Err(DaemonError::Verify {
                        source: VerifyError::Gap { .. },
                        ..
                    }) => Ok(Taken::Waiting),
                    Err(err) => Err(err),
                }
            }
        }
    }

    fn move_to(&self, inbox: &Path, path: &Path, folder: &str) {
        let dir = inbox.join(folder);
        let target = dir.join(path.file_name().unwrap_or_default());
        if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::rename(path, &target))
        {
            warn!(file = %path.display(), error = %e, "cannot move dropped file to {folder}/");
        }
    }

    fn reject(&self, inbox: &Path, path: &Path, reason: &str) {
        self.shared.metrics.drop_rejected();
        warn!(file = %path.display(), %reason, "dropped file rejected");
        self.move_to(inbox, path, REJECTED_DIR);
        let mut note = inbox
            .join(REJECTED_DIR)
            .join(path.file_name().unwrap_or_default())
            .into_os_string();
        note.push(".reason");
        let _ = std::fs::write(note, format!("{reason}\n"));
    }
}

enum Taken {
    Applied,
    AlreadyHeld,
    Waiting,
}

/// Candidate files: regular, not hidden, at the top or in a layout folder.
fn scan(inbox: &Path) -> HashMap<PathBuf, Stamp> {
    let mut found = HashMap::new();
    for dir in [
        inbox.to_path_buf(),
        inbox.join("roots"),
        inbox.join("deltas"),
        inbox.join("snapshots"),
    ] {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || name.ends_with(".tmp") || name.ends_with(".part") {
                continue;
            }
            if let Ok(meta) = entry.metadata() {
                if meta.is_file() {
                    found.insert(entry.path(), (meta.len(), meta.modified().ok()));
                }
            }
        }
    }
    found
}

/// Reads the envelope type and the version (or serial), without trusting either.
fn classify(path: &Path, bytes: Vec<u8>) -> Result<Dropped, String> {
    let env =
        envelope::parse(&bytes).map_err(|e| format!("not a complete blocklist document: {e}"))?;
    let doc = env.doc_type;
    let order = match doc {
        DocType::Root => TrustRoot::decode_payload(env.payload).map(|r| r.version.get()),
        DocType::Delta => Delta::decode_payload(env.payload).map(|d| d.version.get()),
        DocType::Snapshot => Snapshot::decode_payload(env.payload).map(|s| s.version.get()),
        DocType::Manifest => Manifest::decode_payload(env.payload).map(|m| m.serial),
    }
    .map_err(|e| format!("malformed {doc}: {e}"))?;
    Ok(Dropped {
        path: path.to_owned(),
        doc,
        order,
        bytes,
    })
}
