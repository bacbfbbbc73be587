//! [`Syncer`]: owns the trust root and the replica, and turns bytes from any
//! source into applied versions. Whatever the source (a mirror, the drop
//! folder), every document goes through the same steps: trust roots are
//! rotated only along the signed chain, manifests are checked for signature,
//! expiry and rollback, each file is checked against the size and digest the
//! signed manifest announces (for HTTP) and then verified by signature and
//! version before the replica applies it in one transaction.
//!
//! One HTTP round ([`Syncer::http_round`]) tries the mirrors in order: fetch
//! the manifest (conditionally), rotate roots it lists, verify it, take the
//! agency registries it lists after the one held (each verified against the
//! root in force; one refused fails the round, naming the file, and leaves
//! lookups and the registry held as they were), plan the
//! catch-up (the deltas from the held version, or the newest snapshot and
//! the deltas after it when that is cheaper or the deltas are pruned), fetch
//! and apply each file, and, in mirror mode, keep every listed file.
//!
//! A mirror passed over is named in status: `failed` (down, slower than
//! `sync.manifest_timeout`, refused), or `stale`, a lagging cache serving an
//! older manifest still within its signed lifetime, which is noted and is
//! not a failure. A replica found to have diverged from the centre's history
//! (a delta that does not fit its state, as after the centre was restored
//! from a backup) is re-anchored on the newest snapshot.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use blocklist_core::document::{DocType, FileRef, LogPosition, Manifest, Version};
use blocklist_core::log::checkpoint::MAX_CHECKPOINT_LEN;
use blocklist_core::log::follow::{bundles_between, MAX_BUNDLE_SIZE};
use blocklist_core::log::{
    LogError, LogHead, SignedCheckpoint, Witnesses, CHECKPOINT_PATH, LOG_DIR,
};
use blocklist_core::replica::Replica;
use blocklist_core::store::{Applied, StoreError, StoreState};
use blocklist_core::verify::{self, read_unverified, Verified, Verifier, VerifyError};
use blocklist_core::{Sha256, Timestamp};
use tokio::sync::watch;
use tracing::{info, warn, Instrument as _};

use crate::daemon::config::Config;
use crate::daemon::log::KeptLog;
use crate::daemon::metrics::{self, SyncSource};
use crate::daemon::published::{write_atomic, LocalFiles};
use crate::daemon::receipts::Receipts;
use crate::daemon::source::http::{HttpMirror, ManifestFetch, MAX_REGISTRY_SIZE, MAX_ROOT_SIZE};
use crate::daemon::state::{AgencyStatus, ManifestInfo, PassedOver, RegistryInfo, TrustInfo};
use crate::daemon::{systemd, DaemonError, Shared};

/// The root pinned on first use, in the data folder.
pub const PINNED_ROOT_FILE: &str = "pinned.root";

/// The sync engine (one per daemon, driven by the sync task).
pub struct Syncer {
    pub(crate) config: Arc<Config>,
    pub(crate) shared: Arc<Shared>,
    verifier: Option<Verifier>,
    trust_origin: &'static str,
    /// The replica, shared with blocking apply threads; `None` until a trust
    /// root names the list.
    replica: Option<Arc<Mutex<Replica>>>,
    /// The version the replica holds (kept here so planning needs no lock).
    held: Option<Version>,
    /// Whether the last apply failed, possibly after its commit, so that the
    /// published index may be behind the store until it is checked.
    index_suspect: bool,
    /// The highest manifest serial verified: a lower one is a rollback.
    seen_serial: Option<u64>,
    /// The replica diverged from the centre's history: the next catch-up
    /// goes through a snapshot.
    diverged: bool,
    pub(crate) files: LocalFiles,
    /// The transparency log verified so far.
    pub(crate) log: KeptLog,
    /// The witnesses whose cosignatures a checkpoint needs, if any.
    witnesses: Option<Witnesses>,
    mirrors: Vec<HttpMirror>,
    shutdown: watch::Receiver<bool>,
    /// Signs and hands on the receipt of each apply.
    receipts: Receipts,
}

impl Syncer {
    /// Loads the trust root (configured, or pinned earlier on first use, then
    /// rotated along the roots kept), opens the replica, and reads the last
    /// synced manifest for the rollback floor.
    pub async fn open(
        config: Arc<Config>,
        shared: Arc<Shared>,
        client: reqwest::Client,
        shutdown: watch::Receiver<bool>,
        receipts: Receipts,
    ) -> Result<Syncer, DaemonError> {
        let files = LocalFiles::open(&config.data_dir)?;
        let log = KeptLog::open(&config.data_dir)?;
        let mirrors = config
            .sync
            .urls
            .iter()
            .map(|url| HttpMirror::new(url, client.clone(), config.sync.manifest_timeout))
            .collect();
        let mut syncer = Syncer {
            config: config.clone(),
            shared,
            verifier: None,
            trust_origin: "configured",
            replica: None,
            held: None,
            index_suspect: false,
            seen_serial: None,
            diverged: false,
            files,
            log,
            witnesses: config
                .witnesses
                .required()
                .map_err(|reason| DaemonError::Config {
                    origin: "[witnesses]".to_owned(),
                    reason,
                })?,
            mirrors,
            shutdown,
            receipts,
        };
        syncer.publish_log();
        let pinned_file = config.data_dir.join(PINNED_ROOT_FILE);
        let pinned = match &config.trust_root {
            Some(path) => Some((path.clone(), "configured")),
            None if pinned_file.is_file() => Some((pinned_file, "first-use")),
            None => None,
        };
        match pinned {
            Some((path, origin)) => {
                let bytes = std::fs::read(&path).map_err(|source| DaemonError::Io {
                    action: "read trust root",
                    path: path.clone(),
                    source,
                })?;
                let verifier = Verifier::pin(&bytes).map_err(|source| DaemonError::Verify {
                    file: path.display().to_string(),
                    source,
                })?;
                if origin == "first-use" {
                    warn!(root = %path.display(), "trust root was pinned on first use from the drop folder; set trust_root to pin one obtained out of band");
                }
                syncer.trust(verifier, origin).await?;
                for (version, path) in syncer.files.kept(DocType::Root) {
                    if version <= syncer.root_version() {
                        continue;
                    }
                    let rotated = std::fs::read(&path)
                        .map_err(|e| e.to_string())
                        .and_then(|b| {
                            syncer
                                .verifier
                                .as_mut()
                                .expect("pinned above")
                                .rotate(&b)
                                .map(|_| ())
                                .map_err(|e| e.to_string())
                        });
                    if let Err(reason) = rotated {
                        warn!(root = %path.display(), %reason, "kept trust root does not rotate from the one in force; ignored");
                        break;
                    }
                }
                syncer.publish_trust();
                syncer.resume_registries();
            }
            None => {
                warn!("no trust root: nothing will be applied until trust_root is set or a root file is dropped into the drop folder");
            }
        }
        if let Some(bytes) = syncer.files.manifest() {
            if let Ok(manifest) = read_unverified::<Manifest>(&bytes) {
                syncer.seen_serial = Some(manifest.serial);
                syncer
                    .shared
                    .status
                    .set_manifest(manifest_info(&manifest, "local copy"));
                syncer.shared.status.resume_from_kept_manifest();
            }
        }
        Ok(syncer)
    }

    /// Whether a trust root is pinned.
    pub fn has_trust(&self) -> bool {
        self.verifier.is_some()
    }

    fn root_version(&self) -> Version {
        self.verifier
            .as_ref()
            .map_or(Version::FIRST, |v| v.root().version)
    }

    /// Adopts a pinned verifier and opens the replica of its list.
    pub(crate) async fn trust(
        &mut self,
        verifier: Verifier,
        origin: &'static str,
    ) -> Result<(), DaemonError> {
        let list = verifier.root().list.to_string();
        let dir = self.config.data_dir.clone();
        let (replica, state, applied_at) = blocking(move || {
            let replica = Replica::open(&dir, &list).map_err(|source| DaemonError::Apply {
                file: dir.display().to_string(),
                source: Box::new(source),
            })?;
            let state = replica_state(&replica)?;
            let applied_at = applied_at(&replica, &state)?;
            Ok((replica, state, applied_at))
        })
        .await?;
        self.verifier = Some(verifier);
        self.trust_origin = origin;
        self.replica = Some(Arc::new(Mutex::new(replica)));
        self.publish_trust();
        self.after_apply(&state);
        // A receipt undelivered when the daemon stopped lived in memory
        // only: the version held is told again at each start (the same
        // bytes, if it was taken: the centre answers 200).
        if let Some(applied_at) = applied_at {
            self.receipts
                .applied(&state, self.log_position(), applied_at);
        }
        Ok(())
    }

    /// The log checkpoint held, as a receipt names it.
    fn log_position(&self) -> Option<LogPosition> {
        self.log.head().map(|head| {
            let checkpoint = head.checkpoint().checkpoint();
            LogPosition {
                size: checkpoint.size,
                root: checkpoint.root,
            }
        })
    }

    fn publish_trust(&self) {
        if let Some(verifier) = &self.verifier {
            let root = verifier.root();
            self.shared.status.set_trust(TrustInfo {
                version: root.version.get(),
                sha256: root.file_sha256().to_string(),
                expires_at: root.expires_at.0,
                pinned: self.trust_origin,
            });
        }
    }

    /// Pins `bytes` as the trust root on first use (drop folder only).
    pub(crate) async fn pin_first_use(
        &mut self,
        bytes: &[u8],
        name: &str,
    ) -> Result<(), DaemonError> {
        let verifier = Verifier::pin(bytes).map_err(|source| DaemonError::Verify {
            file: name.to_owned(),
            source,
        })?;
        let root = verifier.root();
        warn!(
            file = name,
            list = %root.list,
            version = root.version.get(),
            sha256 = %root.file_sha256(),
            "TRUST ON FIRST USE: pinned this trust root from the drop folder. Compare its sha256 with the fingerprint the centre publishes, or set trust_root to a root obtained out of band."
        );
        let data = &self.config.data_dir;
        write_atomic(
            &data.join("published/.tmp"),
            &data.join(PINNED_ROOT_FILE),
            bytes,
        )?;
        let rel = FileRef {
            version: root.version,
            sha256: root.file_sha256(),
            size: bytes.len() as u64,
        }
        .path(DocType::Root);
        self.files.write(&rel, bytes)?;
        self.trust(verifier, "first-use").await
    }

    /// Rotates to the next trust root and keeps its file.
    pub(crate) fn rotate_root(&mut self, bytes: &[u8], name: &str) -> Result<(), DaemonError> {
        let verifier = self.verifier.as_mut().ok_or(DaemonError::NoTrustRoot)?;
        let root = verifier
            .rotate(bytes)
            .map_err(|source| DaemonError::Verify {
                file: name.to_owned(),
                source,
            })?;
        let rel = FileRef {
            version: root.version,
            sha256: root.file_sha256(),
            size: bytes.len() as u64,
        }
        .path(DocType::Root);
        warn!(
            version = root.version.get(),
            file = name,
            "trust root rotated"
        );
        self.files.write(&rel, bytes)?;
        self.publish_trust();
        Ok(())
    }

    /// Takes the kept agency registries again, in order, verified against the
    /// root in force. A version may be kept twice (signed again after a
    /// rotation of the root keys): the file that follows is taken, the other
    /// passed over. What does not follow is left for the next sync to fetch.
    fn resume_registries(&mut self) {
        for (version, path) in self.files.kept(DocType::Registry) {
            let Some(verifier) = self.verifier.as_mut() else {
                return;
            };
            if verifier.registry().is_some_and(|r| r.version >= version) {
                continue;
            }
            let accepted = std::fs::read(&path)
                .map_err(|e| e.to_string())
                .and_then(|bytes| {
                    verifier
                        .accept_registry(&bytes)
                        .map(drop)
                        .map_err(|e| e.to_string())
                });
            if let Err(reason) = accepted {
                warn!(registry = %path.display(), %reason, "kept agency registry does not follow the one in force; passed over");
            }
        }
        self.publish_registry();
    }

    /// Verifies the next agency registry against the root in force, keeps
    /// its file and shows it in status. On error the registry held stays.
    pub(crate) fn accept_registry(&mut self, bytes: &[u8], name: &str) -> Result<(), DaemonError> {
        let verifier = self.verifier.as_mut().ok_or(DaemonError::NoTrustRoot)?;
        let registry = verifier
            .accept_registry(bytes)
            .map_err(|source| DaemonError::Verify {
                file: name.to_owned(),
                source,
            })?;
        let rel = FileRef {
            version: registry.version,
            sha256: registry.file_sha256(),
            size: bytes.len() as u64,
        }
        .path(DocType::Registry);
        info!(
            version = registry.version.get(),
            agencies = registry.agencies().len(),
            file = name,
            "agency registry accepted"
        );
        self.files.write(&rel, bytes)?;
        self.publish_registry();
        Ok(())
    }

    /// Keeps a registry of a version already held when the root in force
    /// signs it (the centre signs every version again after a rotation of
    /// the root keys), so a restart verifies the kept chain under that root
    /// ([`Self::resume_registries`]). One already kept, or signed under
    /// another root, is left alone.
    pub(crate) fn keep_registry_signed_again(
        &mut self,
        bytes: &[u8],
        name: &str,
    ) -> Result<(), DaemonError> {
        let Some(verifier) = self.verifier.as_ref() else {
            return Err(DaemonError::NoTrustRoot);
        };
        let Ok(version) = verifier.check_registry_signed_again(bytes) else {
            return Ok(());
        };
        let rel = FileRef {
            version,
            sha256: Sha256::of(bytes),
            size: bytes.len() as u64,
        }
        .path(DocType::Registry);
        if self.files.has(&rel) {
            return Ok(());
        }
        info!(
            version = version.get(),
            file = name,
            "agency registry signed again under the root in force: kept in place of the one held"
        );
        self.files.write(&rel, bytes)?;
        // The file of this version signed under an older root is of no use
        // to a restart, which verifies under this root.
        let keep: HashSet<String> = self
            .files
            .kept(DocType::Registry)
            .into_iter()
            .filter(|(kept, _)| *kept != version)
            .filter_map(|(_, path)| {
                let name = path.file_name()?.to_str()?;
                Some(format!("{}/{name}", DocType::Registry.folder()))
            })
            .chain([rel])
            .collect();
        self.files.prune(&[DocType::Registry], &keep);
        Ok(())
    }

    /// The version of the agency registry in force, if any.
    pub(crate) fn registry_version(&self) -> Option<Version> {
        self.verifier
            .as_ref()
            .and_then(|v| v.registry())
            .map(|r| r.version)
    }

    fn publish_registry(&self) {
        let Some(registry) = self.verifier.as_ref().and_then(|v| v.registry()) else {
            return;
        };
        let agencies: Vec<AgencyStatus> = registry
            .agencies()
            .iter()
            .map(|a| AgencyStatus {
                id: a.id().to_string(),
                status: if a.revoked_at().is_some() {
                    "revoked"
                } else {
                    "active"
                },
                revoked_at: a.revoked_at().map(|t| t.0),
            })
            .collect();
        self.shared.status.set_registry(RegistryInfo {
            version: registry.version.get(),
            sha256: registry.file_sha256().to_string(),
            issued_at: registry.issued_at.0,
            agency_count: agencies.len(),
            agencies,
        });
    }

    /// The trust root's version, if pinned.
    pub(crate) fn trusted_root_version(&self) -> Option<Version> {
        self.verifier.as_ref().map(|v| v.root().version)
    }

    /// The version held.
    pub fn held(&self) -> Option<Version> {
        self.held
    }

    /// Verifies a manifest (signature, expiry, rollback) and records it. An
    /// expired manifest is recorded as such (the daemon turns degraded) and
    /// refused.
    pub(crate) fn accept_manifest(
        &mut self,
        bytes: &[u8],
        name: &str,
    ) -> Result<Verified<Manifest>, DaemonError> {
        let verifier = self.verifier.as_ref().ok_or(DaemonError::NoTrustRoot)?;
        match verifier.manifest(bytes, Timestamp::now(), self.seen_serial) {
            Ok(manifest) => {
                self.seen_serial = Some(manifest.serial.max(self.seen_serial.unwrap_or(0)));
                self.shared
                    .status
                    .set_manifest(manifest_info(&manifest, name));
                Ok(manifest)
            }
            Err(source) => {
                if matches!(source, VerifyError::Expired { .. }) {
                    self.shared
                        .status
                        .set_manifest_expired(format!("{name}: {source}"));
                }
                Err(DaemonError::Verify {
                    file: name.to_owned(),
                    source,
                })
            }
        }
    }

    /// Verifies and applies a delta (in a blocking thread); `Ok(false)` when
    /// the same file was applied before.
    pub(crate) async fn apply_delta(
        &mut self,
        bytes: Vec<u8>,
        name: &str,
    ) -> Result<bool, DaemonError> {
        self.apply_document(
            bytes,
            name,
            metrics::Applied::Delta,
            |verifier, replica, held, bytes, file| {
                let delta = verifier
                    .delta(bytes, held)
                    .map_err(|source| verify_error(file, source))?;
                replica
                    .apply_delta(&delta, file)
                    .map_err(|source| apply_error(file, source))
            },
        )
        .await
    }

    /// Verifies and applies the snapshot file at `path` as it streams (in a
    /// blocking thread), logging progress: memory stays bounded whatever the
    /// snapshot's size, and nothing of it commits unless all of it verifies.
    pub(crate) async fn apply_snapshot(
        &mut self,
        path: PathBuf,
        name: &str,
    ) -> Result<bool, DaemonError> {
        self.apply_document(
            path,
            name,
            metrics::Applied::Snapshot,
            |verifier, replica, held, path, file| {
                let opened = std::fs::File::open(path).map_err(|source| DaemonError::Io {
                    action: "open snapshot",
                    path: path.clone(),
                    source,
                })?;
                let snapshot = verifier
                    .snapshot_file(opened, held)
                    .map_err(|source| verify_error(file, source))?;
                let mut progress = |p: blocklist_core::store::Progress| {
                    systemd::progressed();
                    info!(
                        done = p.done,
                        total = p.total,
                        per_second = p.rate() as u64,
                        "snapshot apply progress"
                    );
                };
                replica
                    .apply_snapshot(&snapshot, file, &mut progress)
                    .map_err(|source| apply_error(file, source))
            },
        )
        .await
    }

    /// Runs `apply` (verify, then apply one document, read from `input`) on a
    /// blocking thread against the replica and the version it holds, then
    /// records the outcome.
    async fn apply_document<T: Send + 'static>(
        &mut self,
        input: T,
        name: &str,
        document: metrics::Applied,
        apply: impl FnOnce(
                &Verifier,
                &mut Replica,
                Option<Version>,
                &T,
                &str,
            ) -> Result<Applied, DaemonError>
            + Send
            + 'static,
    ) -> Result<bool, DaemonError> {
        let verifier = self.verifier.clone().ok_or(DaemonError::NoTrustRoot)?;
        let replica = self.replica.clone().ok_or(DaemonError::NoTrustRoot)?;
        let file = name.to_owned();
        let check_index = self.index_suspect;
        let (applied, state, applied_at) = blocking(move || {
            let mut replica = replica.lock().unwrap_or_else(PoisonError::into_inner);
            // After a failed apply, an index left behind by a publish that
            // failed after its commit is brought in step first: the document
            // that made it would now be refused as a replay, so nothing else
            // would. (Opening the index validates all of it: not every time.)
            if check_index && replica.ensure_index().map_err(|e| apply_error(&file, e))? {
                warn!(file = %file, "lookup index was behind the store; republished");
            }
            let held = replica_state(&replica)?.version;
            let applied = apply(&verifier, &mut replica, held, &input, &file);
            let state = replica_state(&replica)?;
            let applied_at = applied_at(&replica, &state)?;
            Ok((applied, state, applied_at))
        })
        .await?;
        // Also after a failure: the store may have committed before it.
        self.after_apply(&state);
        self.index_suspect = applied.is_err();
        let applied = applied?;
        let done = matches!(applied, Applied::Applied { .. });
        if done {
            self.receipts.applied(
                &state,
                self.log_position(),
                applied_at.unwrap_or_else(Timestamp::now),
            );
            self.shared.metrics.applied(document);
            info!(
                version = state.version.map_or(0, Version::get),
                entries = state.state.entries,
                file = name,
                "applied {}",
                match document {
                    metrics::Applied::Delta => "delta",
                    metrics::Applied::Snapshot => "snapshot",
                }
            );
        }
        Ok(done)
    }

    /// Tells C readers to reload, records the replica's state and swaps the
    /// API onto the new index.
    fn after_apply(&mut self, state: &StoreState) {
        self.shared.status.index_published();
        self.held = state.version;
        self.shared.refresh_index();
        self.shared.status.set_data(
            &state.list,
            state.version.map(Version::get),
            state.state.entries,
            state.data_time.0,
        );
    }

    /// Runs `future` unless shutdown is requested first (downloads are
    /// abandoned on shutdown; applies are never raced, so they finish).
    pub(crate) async fn cancellable<T>(
        &self,
        future: impl std::future::Future<Output = Result<T, DaemonError>>,
    ) -> Result<T, DaemonError> {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            result = future => result,
            _ = shutdown.wait_for(|stop| *stop) => Err(DaemonError::ShuttingDown),
        }
    }

    /// Whether any HTTP source is configured.
    pub fn has_mirrors(&self) -> bool {
        !self.mirrors.is_empty()
    }

    /// One HTTP round: each mirror in order until one succeeds. Returns
    /// `applied` or `current`, or `stale` when only lagging caches answered
    /// (older manifests within their lifetime: not a failure).
    pub async fn http_round(&mut self) -> Result<&'static str, DaemonError> {
        self.shared.metrics.sync_attempt(SyncSource::Http);
        let mut last = None;
        let mut stale = None;
        let mut passed_over = Vec::new();
        for index in 0..self.mirrors.len() {
            if index > 0 {
                self.shared.metrics.failover();
            }
            let mirror = self.mirrors[index].shown().to_owned();
            let span = tracing::info_span!("sync", mirror = %mirror, held = self.held.map_or(0, Version::get));
            let err = match self.sync_from(index).instrument(span).await {
                Ok(result) => {
                    self.mirrors[index].stale_serial = None;
                    // Passed-over sources first: a reader that sees this
                    // round's success also sees what it passed over.
                    self.shared.status.set_passed_over(passed_over);
                    self.shared.status.sync_succeeded(result, &mirror);
                    return Ok(result);
                }
                Err(DaemonError::ShuttingDown) => return Err(DaemonError::ShuttingDown),
                Err(err) => err,
            };
            if let Some(offered) = lagging_serial(&err) {
                // Said once per serial: a cache edge lags for its max-age,
                // which spans many rounds.
                if self.mirrors[index].stale_serial.replace(offered) != Some(offered) {
                    info!(mirror = %mirror, reason = %err, "stale mirror: it serves an older manifest still within its signed lifetime (a lagging cache); trying the next source");
                }
                passed_over.push(PassedOver {
                    source: mirror.clone(),
                    reason: "stale",
                    message: err.to_string(),
                });
                stale.get_or_insert(mirror);
                continue;
            }
            warn!(mirror = %mirror, error = %err, "sync from mirror failed");
            self.shared.status.sync_failed(
                &mirror,
                &err.file().unwrap_or_else(|| mirror.clone()),
                err.to_string(),
            );
            passed_over.push(PassedOver {
                source: mirror,
                reason: "failed",
                message: err.to_string(),
            });
            last = Some(err);
        }
        self.shared.status.set_passed_over(passed_over);
        match (last, stale) {
            (None, Some(mirror)) => {
                self.shared.status.sync_succeeded("stale", &mirror);
                Ok("stale")
            }
            (last, _) => {
                self.shared.metrics.sync_failure(SyncSource::Http);
                Err(last.unwrap_or(DaemonError::NoSource))
            }
        }
    }

    async fn sync_from(&mut self, index: usize) -> Result<&'static str, DaemonError> {
        if self.verifier.is_none() {
            return Err(DaemonError::NoTrustRoot);
        }
        let cap = self.config.sync.max_manifest_size;
        let manifest_url = self.mirrors[index].url(blocklist_core::document::MANIFEST_PATH);
        let fetched = self.cancellable(self.mirrors[index].manifest(cap)).await?;
        let (bytes, etag) = match fetched {
            ManifestFetch::Unchanged => {
                // Nothing new, but the manifest held may have expired since.
                if let Some(m) = self.shared.status.manifest() {
                    let now = Timestamp::now();
                    if now.0 >= m.expires_at {
                        let source = VerifyError::Expired {
                            serial: m.serial,
                            expires_at: Timestamp(m.expires_at),
                            now,
                        };
                        self.shared
                            .status
                            .set_manifest_expired(format!("{manifest_url}: {source}"));
                        return Err(DaemonError::Verify {
                            file: manifest_url,
                            source,
                        });
                    }
                }
                return Ok("current");
            }
            ManifestFetch::Fetched(bytes, etag) => (bytes, etag),
        };
        self.shared.metrics.fetched(bytes.len() as u64);
        // Roots first: the manifest may be signed by a newer root's keys.
        let unverified =
            read_unverified::<Manifest>(&bytes).map_err(|source| DaemonError::Verify {
                file: manifest_url.clone(),
                source,
            })?;
        let current_root = self.root_version();
        for root in unverified.roots.iter().filter(|r| r.version > current_root) {
            let rel = root.path(DocType::Root);
            let url = self.mirrors[index].url(&rel);
            // The size is the unverified manifest's word: a fixed cap bounds
            // the download, and a claim past it is refused unfetched.
            if root.size > MAX_ROOT_SIZE {
                return Err(DaemonError::TooLarge {
                    url,
                    limit: MAX_ROOT_SIZE,
                });
            }
            let bytes = self.fetch_checked(index, &rel, root).await?;
            self.rotate_root(&bytes, &url)?;
        }
        let manifest = self.accept_manifest(&bytes, &manifest_url)?;
        self.follow_log(LogFrom::Mirror(index), &manifest, &manifest_url)
            .await?;
        // A registry refused does not hold the list back: the round fails
        // once the list is applied, and the manifest is fetched in full
        // again next round (no etag kept) to retry it.
        let registries = self.take_registries(index, &manifest).await;
        let applied = self.catch_up(index, &manifest, &manifest_url).await?;
        if self.config.mirror.enabled {
            self.mirror_listed(index, &manifest).await?;
        }
        self.files
            .write(blocklist_core::document::MANIFEST_PATH, &bytes)?;
        registries?;
        self.mirrors[index].etag = etag;
        Ok(if applied > 0 { "applied" } else { "current" })
    }

    /// Takes the manifest's log checkpoint as an extension of the one held
    /// (reading the entry bundles between the two from `from`), then checks
    /// that the log records every file the manifest lists. Refused, with
    /// nothing kept or applied: a manifest without a checkpoint once one was
    /// verified, a log that shrank or forked, and an unrecorded file.
    pub(crate) async fn follow_log(
        &mut self,
        from: LogFrom<'_>,
        manifest: &Manifest,
        manifest_url: &str,
    ) -> Result<(), DaemonError> {
        let Some(signed) = &manifest.log else {
            return match self.log.head() {
                None => Ok(()),
                Some(head) => Err(DaemonError::Log {
                    file: manifest_url.to_owned(),
                    source: LogError::Checkpoint {
                        reason: format!(
                            "the manifest carries none, but this replica verified the log at size {}: a feed never drops its log",
                            head.checkpoint().checkpoint().size
                        ),
                    },
                }),
            };
        };
        let offered = match &self.witnesses {
            None => signed.clone(),
            Some(witnesses) => self.cosigned(from, signed, witnesses).await?,
        };
        let held = self.log.head().map(|h| h.checkpoint().checkpoint());
        if held != Some(offered.checkpoint()) {
            let held = held.map_or(0, |h| h.size);
            let mut entries = Vec::new();
            let mut bundles = Vec::new();
            for fetch in bundles_between(held, offered.checkpoint().size.max(held)) {
                let rel = format!("{LOG_DIR}/{}", fetch.path);
                let (url, bytes) = self.log_file(from, &rel, MAX_BUNDLE_SIZE).await?;
                let new = fetch
                    .new_entries(&bytes)
                    .map_err(|source| DaemonError::Log { file: url, source })?;
                entries.extend(new);
                bundles.push((rel, bytes));
            }
            let root = self
                .verifier
                .as_ref()
                .ok_or(DaemonError::NoTrustRoot)?
                .root();
            let (head, records) = LogHead::extend(
                self.log.head(),
                offered.clone(),
                &root.list,
                &root.publish_keys,
                entries,
            )
            .map_err(|source| DaemonError::Log {
                file: manifest_url.to_owned(),
                source,
            })?;
            self.log.keep(head, records)?;
            if self.config.mirror.enabled {
                // Verified: served to the replicas behind this mirror.
                for (rel, bytes) in bundles {
                    self.files.write(&rel, &bytes)?;
                }
                self.files
                    .write(&format!("{LOG_DIR}/{CHECKPOINT_PATH}"), offered.as_bytes())?;
            }
            self.publish_log();
        }
        match self.log.first_unrecorded(manifest) {
            None => Ok(()),
            Some(missing) => Err(DaemonError::Log {
                file: manifest_url.to_owned(),
                source: LogError::NotIncluded {
                    file: missing.file.path(missing.doc),
                    size: offered.checkpoint().size,
                },
            }),
        }
    }

    /// The manifest's checkpoint `signed` with the cosignatures of at least
    /// the witnesses needed, read from the log's `log/checkpoint` (where
    /// `blocklist cosign` adds them); refused while that file holds another
    /// checkpoint or too few of them.
    async fn cosigned(
        &self,
        from: LogFrom<'_>,
        signed: &SignedCheckpoint,
        witnesses: &Witnesses,
    ) -> Result<SignedCheckpoint, DaemonError> {
        let rel = format!("{LOG_DIR}/{CHECKPOINT_PATH}");
        let (file, bytes) = self.log_file(from, &rel, MAX_CHECKPOINT_LEN as u64).await?;
        let refused = |source| DaemonError::Log {
            file: file.clone(),
            source,
        };
        let served = SignedCheckpoint::parse(&bytes).map_err(refused)?;
        let note = signed.with_lines_of(&served).map_err(refused)?;
        witnesses.check(&note).map_err(refused)?;
        Ok(note)
    }

    /// A file of the log (`rel`, under `log/`) from where this round reads
    /// it, refused past `limit` bytes, with its URL or path.
    async fn log_file(
        &self,
        from: LogFrom<'_>,
        rel: &str,
        limit: u64,
    ) -> Result<(String, Vec<u8>), DaemonError> {
        match from {
            LogFrom::Mirror(index) => {
                let bytes = self
                    .cancellable(self.mirrors[index].fetch(rel, limit))
                    .await?;
                self.shared.metrics.fetched(bytes.len() as u64);
                Ok((self.mirrors[index].url(rel), bytes))
            }
            LogFrom::Folder(dir) => {
                let path = dir.join(rel);
                let bytes = read_log_file(&path, limit)?;
                Ok((path.display().to_string(), bytes))
            }
        }
    }

    /// Shows the log's checkpoint in status and the metrics.
    fn publish_log(&self) {
        if let Some(head) = self.log.head() {
            self.shared.status.set_log(head.checkpoint());
        }
    }

    /// Fetches and takes, in order, the agency registries the manifest lists
    /// after the one held, each capped at [`MAX_REGISTRY_SIZE`] and checked
    /// against its reference before it is verified. Versions already held
    /// whose listed file is another (signed again after a rotation of the
    /// root keys) are kept too, and the superseded files dropped, so that a
    /// restart verifies the kept chain under the root in force.
    async fn take_registries(
        &mut self,
        index: usize,
        manifest: &Manifest,
    ) -> Result<(), DaemonError> {
        let held = self.registry_version();
        let mut listed = HashSet::new();
        for file in &manifest.registries {
            let rel = file.path(DocType::Registry);
            listed.insert(rel.clone());
            if Some(file.version) <= held && self.files.has(&rel) {
                continue;
            }
            let url = self.mirrors[index].url(&rel);
            if file.size > MAX_REGISTRY_SIZE {
                return Err(DaemonError::TooLarge {
                    url,
                    limit: MAX_REGISTRY_SIZE,
                });
            }
            let bytes = self.fetch_checked(index, &rel, file).await?;
            if Some(file.version) > held {
                self.accept_registry(&bytes, &url)?;
            } else {
                // Checked against the signed manifest; verified in order at the next start.
                self.files.write(&rel, &bytes)?;
            }
        }
        if !listed.is_empty() {
            self.files.prune(&[DocType::Registry], &listed);
        }
        Ok(())
    }

    /// Fetches a listed file, capped at its announced size, and checks its digest.
    async fn fetch_checked(
        &self,
        index: usize,
        rel: &str,
        file: &FileRef,
    ) -> Result<Vec<u8>, DaemonError> {
        let mirror = &self.mirrors[index];
        let url = mirror.url(rel);
        let bytes = self.cancellable(mirror.fetch(rel, file.size)).await?;
        self.shared.metrics.fetched(bytes.len() as u64);
        verify::check_file(&url, &bytes, file)
            .map_err(|source| DaemonError::Verify { file: url, source })?;
        Ok(bytes)
    }

    /// Downloads a listed file to [`LocalFiles::download_path`], capped at its
    /// announced size and hashed as it arrives, and checks it against the
    /// manifest's reference: for snapshots, never held in memory. Returns
    /// where it is; nothing is left there when the download or check fails.
    async fn download_checked(
        &self,
        index: usize,
        rel: &str,
        file: &FileRef,
    ) -> Result<PathBuf, DaemonError> {
        let mirror = &self.mirrors[index];
        let url = mirror.url(rel);
        let to = self.files.download_path();
        let checked = self
            .cancellable(mirror.fetch_to_file(rel, file.size, &to))
            .await
            .and_then(|check| {
                self.shared.metrics.fetched(check.size());
                check
                    .finish(&url, file)
                    .map_err(|source| DaemonError::Verify { file: url, source })
            });
        if let Err(err) = checked {
            let _ = std::fs::remove_file(&to);
            return Err(err);
        }
        Ok(to)
    }

    /// Brings the replica to the manifest's version; returns how many files
    /// were applied. A delta that does not fit the replica's state means the
    /// replica diverged from the centre's history (the centre was restored
    /// from a backup and published past it): the catch-up then restarts from
    /// the newest snapshot, and lookups stay on the version held until that
    /// snapshot applies in one transaction.
    async fn catch_up(
        &mut self,
        index: usize,
        manifest: &Verified<Manifest>,
        manifest_url: &str,
    ) -> Result<usize, DaemonError> {
        let held = self.held.map_or(0, Version::get);
        if !self.diverged {
            let steps = plan(held, manifest).map_err(|reason| DaemonError::Inconsistent {
                file: manifest_url.to_owned(),
                reason,
            })?;
            match self.apply_steps(index, manifest, manifest_url, steps).await {
                Err(err) if diverged(&err) => {
                    let reason = format!(
                        "the replica diverged from the centre's history ({err}): re-anchoring on the newest snapshot; lookups answer from version {} until it applies",
                        self.held.map_or(0, Version::get)
                    );
                    warn!("{reason}");
                    self.diverged = true;
                    self.shared.status.set_reanchoring(Some(reason));
                }
                done => return done,
            }
        }
        let held = self.held.map_or(0, Version::get);
        let steps = snapshot_plan(held, manifest).ok_or_else(|| DaemonError::Inconsistent {
            file: manifest_url.to_owned(),
            reason: format!(
                "the replica diverged from the centre's history, and no listed snapshot newer than version {held} leads to version {}: waiting for one",
                manifest.version
            ),
        })?;
        let applied = self
            .apply_steps(index, manifest, manifest_url, steps)
            .await?;
        info!(
            version = manifest.version.get(),
            "re-anchored on the centre's history"
        );
        self.diverged = false;
        self.shared.status.set_reanchoring(None);
        Ok(applied)
    }

    /// Fetches and applies `steps`, then checks the replica's state against
    /// the manifest's; returns how many files were applied.
    async fn apply_steps(
        &mut self,
        index: usize,
        manifest: &Verified<Manifest>,
        manifest_url: &str,
        steps: Vec<(DocType, FileRef)>,
    ) -> Result<usize, DaemonError> {
        let held = self.held.map_or(0, Version::get);
        let total = steps.len();
        if total > 1 {
            info!(
                from = held,
                to = manifest.version.get(),
                files = total,
                "catching up"
            );
        }
        for (step, (doc, file)) in steps.iter().enumerate() {
            let rel = file.path(*doc);
            let url = self.mirrors[index].url(&rel);
            let progress = format!(
                "catch-up from version {held} to {}: {doc} {} ({}/{total})",
                manifest.version,
                file.version,
                step + 1
            );
            info!(step = step + 1, total, doc = %doc, version = file.version.get(), "{progress}");
            self.shared.status.set_progress(Some(progress));
            if *doc == DocType::Snapshot {
                let path = self.download_checked(index, &rel, file).await?;
                let kept = self.config.mirror.enabled;
                let path = if kept {
                    self.files.keep(&rel, &path)?
                } else {
                    path
                };
                let applied = self.apply_snapshot(path.clone(), &url).await;
                if !kept {
                    let _ = std::fs::remove_file(&path);
                }
                applied?;
                continue;
            }
            let bytes = self.fetch_checked(index, &rel, file).await?;
            if self.config.mirror.enabled {
                self.files.write(&rel, &bytes)?;
            }
            self.apply_delta(bytes, &url).await?;
        }
        self.shared.status.set_progress(None);
        if total > 0 {
            // The files' signed states were checked on apply; this ties the
            // result to the manifest too, in the commitment of its format (a
            // centre not yet upgraded signs the lane sum).
            let replica = self.replica.clone().ok_or(DaemonError::NoTrustRoot)?;
            let state = blocking(move || {
                replica_state(&replica.lock().unwrap_or_else(PoisonError::into_inner))
            })
            .await?;
            let held = state.commitments.state(manifest.commitment());
            verify::check_state("state after catch-up", &manifest.state, &held).map_err(
                |source| DaemonError::Verify {
                    file: manifest_url.to_owned(),
                    source,
                },
            )?;
        }
        Ok(total)
    }

    /// Mirror mode: fetch every listed file not yet held, then drop unlisted ones.
    async fn mirror_listed(
        &mut self,
        index: usize,
        manifest: &Manifest,
    ) -> Result<(), DaemonError> {
        let mut keep = HashSet::new();
        let listed = manifest
            .roots
            .iter()
            .map(|r| (DocType::Root, r))
            .chain(manifest.deltas.iter().map(|r| (DocType::Delta, r)))
            .chain(manifest.snapshots.iter().map(|r| (DocType::Snapshot, r)))
            .chain(manifest.registries.iter().map(|r| (DocType::Registry, r)));
        for (doc, file) in listed {
            let rel = file.path(doc);
            if !self.files.has(&rel) && doc == DocType::Snapshot {
                let path = self.download_checked(index, &rel, file).await?;
                self.files.keep(&rel, &path)?;
            } else if !self.files.has(&rel) {
                let bytes = self.fetch_checked(index, &rel, file).await?;
                self.files.write(&rel, &bytes)?;
            }
            keep.insert(rel);
        }
        self.files
            .prune(&[DocType::Delta, DocType::Snapshot], &keep);
        Ok(())
    }
}

/// Where a round reads the log's entry bundles from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum LogFrom<'a> {
    /// The mirror of that index, which served the manifest.
    Mirror(usize),
    /// A folder holding a copy of the publish directory's `log/` (the drop
    /// folder, carried with the manifest).
    Folder(&'a std::path::Path),
}

/// A file of the log in a folder, read only when it is no larger than
/// `limit`.
fn read_log_file(path: &std::path::Path, limit: u64) -> Result<Vec<u8>, DaemonError> {
    let io = |source| DaemonError::Io {
        action: "read the log's file",
        path: path.to_owned(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > limit {
        return Err(DaemonError::TooLarge {
            url: path.display().to_string(),
            limit,
        });
    }
    std::fs::read(path).map_err(io)
}

/// The files that take a replica at `held` (0: empty) to the manifest's
/// version: the listed deltas after `held`, or the newest listed snapshot
/// newer than `held` plus the deltas after it, whichever is fewer bytes (a
/// snapshot is the only way when the deltas needed were pruned).
pub fn plan(held: u64, manifest: &Manifest) -> Result<Vec<(DocType, FileRef)>, String> {
    let target = manifest.version.get();
    if held == target {
        return Ok(Vec::new());
    }
    if held > target {
        return Err(format!(
            "announces version {target}, older than version {held} held here: refused as a rollback"
        ));
    }
    let by_deltas = deltas_after(manifest, held).map(|d| {
        d.into_iter()
            .map(|r| (DocType::Delta, r))
            .collect::<Vec<_>>()
    });
    let cost = |steps: &[(DocType, FileRef)]| steps.iter().map(|(_, r)| r.size).sum::<u64>();
    match (by_deltas, snapshot_plan(held, manifest)) {
        (Some(d), Some(s)) => Ok(if cost(&s) < cost(&d) { s } else { d }),
        (Some(d), None) => Ok(d),
        (None, Some(s)) => Ok(s),
        (None, None) => Err(format!(
            "lists no deltas or snapshot leading from version {held} to {target}"
        )),
    }
}

/// The newest listed snapshot newer than `held` that the listed deltas lead
/// from to the manifest's version, and those deltas.
pub fn snapshot_plan(held: u64, manifest: &Manifest) -> Option<Vec<(DocType, FileRef)>> {
    let target = manifest.version.get();
    manifest
        .snapshots
        .iter()
        .rev()
        .filter(|s| s.version.get() > held && s.version.get() <= target)
        .find_map(|s| {
            deltas_after(manifest, s.version.get()).map(|d| {
                std::iter::once((DocType::Snapshot, *s))
                    .chain(d.into_iter().map(|r| (DocType::Delta, r)))
                    .collect()
            })
        })
}

/// The listed deltas from version `from` to the manifest's, if all are listed.
fn deltas_after(manifest: &Manifest, from: u64) -> Option<Vec<FileRef>> {
    let target = manifest.version.get();
    let refs: Vec<FileRef> = manifest
        .deltas
        .iter()
        .filter(|d| d.version.get() > from && d.version.get() <= target)
        .copied()
        .collect();
    // Listed versions are strictly ascending, so a full count is a full run.
    (refs.len() as u64 == target.saturating_sub(from)).then_some(refs)
}

/// Whether a failed round should back off. Not when the mirror answered
/// with a validly signed manifest that has expired: the feed is frozen at
/// the centre, the mirror is fine, and a check at the normal interval sees
/// the freeze end at once (backing off would hold recovery up to
/// `sync.backoff_max`).
pub fn backs_off(err: &DaemonError) -> bool {
    !matches!(
        err,
        DaemonError::Verify {
            source: VerifyError::Expired { .. },
            ..
        }
    )
}

/// The serial a lagging mirror offers: a validly signed manifest older than
/// the newest verified and still within its signed lifetime (an expired one
/// is a failure).
fn lagging_serial(err: &DaemonError) -> Option<u64> {
    match err {
        DaemonError::Verify {
            source:
                VerifyError::SerialRollback {
                    offered,
                    expires_at,
                    ..
                },
            ..
        } if Timestamp::now() < *expires_at => Some(*offered),
        _ => None,
    }
}

/// Whether an apply failed because the delta does not fit the replica's
/// state (an operation that contradicts it, or a state digest that differs
/// from the signed one): the replica diverged from the centre's history.
fn diverged(err: &DaemonError) -> bool {
    let DaemonError::Apply { source, .. } = err else {
        return false;
    };
    matches!(
        **source,
        blocklist_core::Error::Store(
            StoreError::Conflict { .. }
                | StoreError::Refused {
                    source: VerifyError::DigestMismatch { .. },
                    ..
                }
        )
    )
}

fn manifest_info(manifest: &Manifest, source: &str) -> ManifestInfo {
    ManifestInfo {
        serial: manifest.serial,
        version: manifest.version.get(),
        issued_at: manifest.issued_at.0,
        expires_at: manifest.expires_at.0,
        source: source.to_owned(),
    }
}

/// When the store recorded the apply of the version `state` holds: what
/// its receipt says, at the apply and again at each start.
fn applied_at(replica: &Replica, state: &StoreState) -> Result<Option<Timestamp>, DaemonError> {
    let Some(version) = state.version else {
        return Ok(None);
    };
    replica
        .store()
        .applied_at(version)
        .map_err(|source| DaemonError::Apply {
            file: replica.store().path().display().to_string(),
            source: Box::new(source.into()),
        })
}

fn replica_state(replica: &Replica) -> Result<StoreState, DaemonError> {
    replica.state().map_err(|source| DaemonError::Apply {
        file: replica.store().path().display().to_string(),
        source: Box::new(source),
    })
}

/// Runs blocking work (SQLite, hashing a snapshot) off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DaemonError> + Send + 'static,
) -> Result<T, DaemonError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| DaemonError::Runtime {
            action: "run a blocking apply",
            reason: e.to_string(),
        })?
}

fn verify_error(file: &str, source: VerifyError) -> DaemonError {
    DaemonError::Verify {
        file: file.to_owned(),
        source,
    }
}

fn apply_error(file: &str, source: blocklist_core::Error) -> DaemonError {
    DaemonError::Apply {
        file: file.to_owned(),
        source: Box::new(source),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blocklist_core::document::{ListId, ListState};
    use blocklist_core::Sha256;

    fn r(version: u64, size: u64) -> FileRef {
        FileRef {
            version: Version::new(version).unwrap(),
            sha256: Sha256([0; 32]),
            size,
        }
    }

    fn manifest(version: u64, deltas: Vec<FileRef>, snapshots: Vec<FileRef>) -> Manifest {
        Manifest {
            list: ListId::new("t").unwrap(),
            serial: 1,
            version: Version::new(version).unwrap(),
            state: ListState::default(),
            issued_at: Timestamp(0),
            expires_at: Timestamp(1),
            roots: vec![],
            deltas,
            snapshots,
            registries: vec![],
            log: None,
            extensions: vec![],
        }
    }

    fn versions(steps: &[(DocType, FileRef)]) -> Vec<(DocType, u64)> {
        steps.iter().map(|(d, r)| (*d, r.version.get())).collect()
    }

    #[test]
    fn catch_up_takes_deltas_when_listed_and_cheaper() {
        let m = manifest(5, (1..=5).map(|v| r(v, 10)).collect(), vec![r(4, 1000)]);
        assert_eq!(
            versions(&plan(2, &m).unwrap()),
            [
                (DocType::Delta, 3),
                (DocType::Delta, 4),
                (DocType::Delta, 5)
            ]
        );
        assert!(plan(5, &m).unwrap().is_empty());
        assert!(plan(6, &m).unwrap_err().contains("rollback"));
    }

    #[test]
    fn catch_up_takes_the_snapshot_when_deltas_are_pruned_or_dearer() {
        let pruned = manifest(6, (5..=6).map(|v| r(v, 10)).collect(), vec![r(4, 1000)]);
        assert_eq!(
            versions(&plan(1, &pruned).unwrap()),
            [
                (DocType::Snapshot, 4),
                (DocType::Delta, 5),
                (DocType::Delta, 6)
            ]
        );
        let dear = manifest(6, (1..=6).map(|v| r(v, 500)).collect(), vec![r(4, 700)]);
        assert_eq!(
            versions(&plan(0, &dear).unwrap()),
            [
                (DocType::Snapshot, 4),
                (DocType::Delta, 5),
                (DocType::Delta, 6)
            ]
        );
        let gap = manifest(6, vec![r(6, 10)], vec![r(4, 10)]);
        assert!(plan(1, &gap).unwrap_err().contains("no deltas or snapshot"));
    }
}
