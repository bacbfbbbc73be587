//! [`Status`]: what the daemon knows about its own feed, shared by the sync
//! task (which writes it) and the API (which reports it). Whether the daemon
//! is degraded is derived at read time from these facts and the clock, so a
//! feed that silently stops is noticed without any task running.
//!
//! It also keeps the feed's heartbeat (`lookup.beat`, see
//! [`blocklist_core::index::HeartbeatWriter`]): whenever the newest signed
//! manifest verified announces the version held, it beats it with
//! `confirmed_at` the time of that verification (a 304 for the manifest held
//! counts as one) and `fresh_until = min(confirmed_at + freshness.max_age,
//! manifest expires_at)`. Every
//! lookup answer (HTTP here, C through the file) takes its `freshness` from
//! that one reading, and the degraded rule about the feed is "the heartbeat
//! says stale", so status and answers never disagree.
//!
//! After each apply it also bumps the heartbeat's index generation and
//! wakes the C readers sleeping on it ([`Status::index_published`]): they
//! reload at once, instead of at their next periodic `stat` of the index
//! path.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use blocklist_core::index::{Beat, Freshness, HeartbeatWriter};
use blocklist_core::log::SignedCheckpoint;
use blocklist_core::Timestamp;
use serde::Serialize;

/// Shared, mutex-guarded status (held for microseconds: copies in, copies out).
#[derive(Debug)]
pub struct Status {
    facts: Mutex<Facts>,
    /// The feed's heartbeat: beaten under `facts`' lock, so that a beat and
    /// the facts it was derived from change together; read lock-free.
    heartbeat: HeartbeatWriter,
    started_at: Timestamp,
    max_age: Duration,
    root_expiry_warning: Duration,
    /// The id of the daemon's identity key (hex).
    replica_id: String,
}

/// The manifest last verified.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ManifestInfo {
    /// Its serial.
    pub serial: u64,
    /// The version it announces.
    pub version: u64,
    /// When it was signed.
    pub issued_at: u64,
    /// When it stops being valid.
    pub expires_at: u64,
    /// Where it came from.
    pub source: String,
}

/// The trust root in force.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TrustInfo {
    /// Root version.
    pub version: u64,
    /// SHA-256 of its file (compare with the centre's published fingerprint).
    pub sha256: String,
    /// Its advisory expiry.
    pub expires_at: u64,
    /// `configured` (the `trust_root` file) or `first-use` (pinned from the drop folder).
    pub pinned: &'static str,
}

/// The agency registry in force.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct RegistryInfo {
    /// Its version.
    pub version: u64,
    /// SHA-256 of its file.
    pub sha256: String,
    /// When it was signed.
    pub issued_at: u64,
    /// How many agencies it lists, revoked ones included.
    pub agency_count: usize,
    /// Each agency, ascending by id.
    pub agencies: Vec<AgencyStatus>,
}

/// The transparency log's checkpoint this replica verified last: any two
/// parties can compare theirs (the same size must give the same root).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct LogInfo {
    /// The log's origin (`blocklist/<list>`).
    pub origin: String,
    /// The number of files it records.
    pub size: u64,
    /// The tree's root, hex.
    pub root: String,
    /// The signed checkpoint, as served (a C2SP signed note).
    pub checkpoint: String,
}

impl From<&SignedCheckpoint> for LogInfo {
    fn from(signed: &SignedCheckpoint) -> LogInfo {
        let head = signed.checkpoint();
        LogInfo {
            origin: head.origin.clone(),
            size: head.size,
            root: head.root.to_string(),
            checkpoint: String::from_utf8_lossy(signed.as_bytes()).into_owned(),
        }
    }
}

/// One agency of the registry in force.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct AgencyStatus {
    /// Its id.
    pub id: String,
    /// `active`, or `revoked` (from `revoked_at`, which may lie ahead).
    pub status: &'static str,
    /// When it is revoked from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<u64>,
}

/// The outcome of the last sync attempt.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SyncRecord {
    /// When it ended.
    pub at: u64,
    /// `applied`, `current` (nothing new), `stale` (only lagging caches
    /// answered; the manifest held is newer) or `failed`.
    pub result: &'static str,
    /// The URL or folder it used last.
    pub source: String,
}

/// The last failure, with the file or URL it is about.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ErrorRecord {
    /// When.
    pub at: u64,
    /// The URL or path of the failing file.
    pub file: String,
    /// Why (the full error message).
    pub message: String,
}

/// A source the last HTTP round passed over, and why.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct PassedOver {
    /// Its base URL (credentials redacted).
    pub source: String,
    /// `failed` (down, slow, refused: the feed needs attention) or `stale`
    /// (a lagging cache serving an older manifest still within its lifetime).
    pub reason: &'static str,
    /// The full message.
    pub message: String,
}

/// The most files left in the drop folder that `/v1/status` names (the
/// total is given too): a folder of junk must not make the status huge.
pub const LEFT_IN_PLACE_SHOWN: usize = 20;

/// A dropped file the daemon leaves in place, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LeftInPlace {
    /// Its path.
    pub file: String,
    /// `incomplete` (shorter than its header announces: rejected once
    /// unchanged for `drop.reject_incomplete_after`), `unreadable` (tried
    /// again when it changes) or `waiting` (for the versions before it, or
    /// for a trust root).
    pub state: &'static str,
    /// Why, in words.
    pub reason: String,
    /// When the file was last modified (Unix seconds), if known.
    pub modified_at: Option<u64>,
}

#[derive(Debug, Default)]
struct Facts {
    list: Option<String>,
    version: Option<u64>,
    entries: u64,
    data_time: Option<u64>,
    manifest: Option<ManifestInfo>,
    /// When `manifest` was last verified (or re-confirmed by a 304).
    manifest_verified_at: u64,
    manifest_expired: Option<String>,
    trust: Option<TrustInfo>,
    registry: Option<RegistryInfo>,
    log: Option<LogInfo>,
    last_sync: Option<SyncRecord>,
    last_success: Option<u64>,
    last_error: Option<ErrorRecord>,
    last_drop_rejected: Option<ErrorRecord>,
    drop_left_in_place: Vec<LeftInPlace>,
    progress: Option<String>,
    passed_over: Vec<PassedOver>,
    reanchoring: Option<String>,
    receipt: Option<ReceiptInfo>,
    /// The version of the lookup index being served (`None`: none is).
    index_version: Option<u64>,
    /// Why the lookup index could not be opened, if it could not.
    index_error: Option<String>,
}

/// What became of the newest receipt the daemon signed
/// ([`crate::daemon::receipts`]).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ReceiptInfo {
    /// The version it is for.
    pub version: u64,
    /// `written` (to the outbox, for a courier to carry; no `url`),
    /// `sending` (to be posted, or posted and to be tried again),
    /// `delivered` (the centre took it) or `refused` (the centre refused
    /// what it says: not sent again).
    pub state: &'static str,
    /// When it reached that state.
    pub at: u64,
    /// The centre's answer, or why the last post failed.
    pub message: Option<String>,
}

/// The `/v1/status` document.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    /// The list followed.
    pub list: Option<String>,
    /// The version the replica holds.
    pub version: Option<u64>,
    /// The version lookups answer from (the published lookup index): behind
    /// `version`, or `None` while `version` is set, when publishing the index
    /// failed (named in `degraded_reasons`).
    pub index_version: Option<u64>,
    /// The freshness every lookup answer carries now: `fresh`, `stale` or
    /// `no_data` (the heartbeat's reading).
    pub freshness: &'static str,
    /// When the daemon last confirmed a signed manifest announcing the
    /// version held (the manifest's signing time for one kept from before a
    /// restart).
    pub confirmed_at: Option<u64>,
    /// Until when answers are fresh, unless confirmed again.
    pub fresh_until: Option<u64>,
    /// Entries at that version.
    pub entries: u64,
    /// When the centre made that version.
    pub data_time: Option<u64>,
    /// Seconds since then.
    pub data_age_seconds: Option<u64>,
    /// The manifest last verified.
    pub manifest: Option<ManifestInfo>,
    /// The last sync attempt.
    pub last_sync: Option<SyncRecord>,
    /// When a sync last succeeded.
    pub last_success_at: Option<u64>,
    /// Seconds since then (since start if never).
    pub staleness_seconds: u64,
    /// The last failure (kept after later successes, for the operator).
    pub last_error: Option<ErrorRecord>,
    /// The last file the drop folder moved to `rejected/`, and why (kept
    /// when an HTTP failure becomes `last_error`).
    pub last_drop_rejected: Option<ErrorRecord>,
    /// Files the drop folder leaves in place, and why (the first
    /// [`LEFT_IN_PLACE_SHOWN`] by name).
    pub drop_left_in_place: Vec<LeftInPlace>,
    /// How many files the drop folder leaves in place.
    pub drop_left_in_place_total: usize,
    /// The feed or the lookups need attention (answers are stale, a source
    /// fails, lookups cannot answer the version held).
    pub degraded: bool,
    /// Why it is degraded.
    pub degraded_reasons: Vec<String>,
    /// The trust root in force.
    pub trust_root: Option<TrustInfo>,
    /// The trust root expires within `freshness.root_expiry_warning`.
    pub trust_root_expiring: bool,
    /// The agency registry in force (`null`: none yet).
    pub registry: Option<RegistryInfo>,
    /// The transparency log's checkpoint verified last (`null`: none yet,
    /// or a feed published before the log).
    pub log: Option<LogInfo>,
    /// A catch-up in progress.
    pub progress: Option<String>,
    /// The sources the last HTTP round passed over before one served it
    /// (or all of them, when none did).
    pub passed_over: Vec<PassedOver>,
    /// Why the replica is being re-anchored on a snapshot (it diverged from
    /// the centre's history), until the snapshot applies.
    pub reanchoring: Option<String>,
    /// The id of this daemon's identity key (hex): the replica id the
    /// centre registers, which signs its receipts.
    pub replica_id: String,
    /// What became of the newest receipt (`null`: none made, no
    /// `[receipts]`, or no version held yet).
    pub receipt: Option<ReceiptInfo>,
}

impl Status {
    /// A status for a daemon starting now, beating `heartbeat` (created by
    /// the data folder's one daemon, so saying `no_data`).
    pub fn new(
        max_age: Duration,
        root_expiry_warning: Duration,
        heartbeat: HeartbeatWriter,
        replica_id: String,
    ) -> Status {
        Status {
            facts: Mutex::default(),
            heartbeat,
            started_at: Timestamp::now(),
            max_age,
            root_expiry_warning,
            replica_id,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Facts) -> R) -> R {
        f(&mut self.facts.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The data the replica holds.
    pub fn set_data(&self, list: &str, version: Option<u64>, entries: u64, data_time: u64) {
        self.with(|f| {
            f.list = Some(list.to_owned());
            f.version = version;
            f.entries = entries;
            f.data_time = version.map(|_| data_time);
            self.confirm(f, f.manifest_verified_at);
            // A version held that no manifest confirms is stale, not
            // `no_data`: the index answers, from data of unknown currency.
            if version.is_some() && self.heartbeat.read().fresh_until.0 == 0 {
                self.heartbeat.beat(Beat {
                    confirmed_at: Timestamp(0),
                    fresh_until: Timestamp(1),
                });
            }
        });
    }

    /// Tells C readers to reload now: called after an apply, once the index
    /// it published is in place (also after a failed apply: the store may
    /// have committed and published before the failure, and a reload that
    /// finds nothing new costs a reader one `stat`).
    pub fn index_published(&self) {
        // Under the facts' lock, as beats are: the heartbeat has one writer at a time.
        self.with(|_| self.heartbeat.index_published());
    }

    /// The lookup index being served (`None`: none is), and why it could
    /// not be opened, if it could not.
    pub fn set_index(&self, version: Option<u64>, error: Option<String>) {
        self.with(|f| {
            f.index_version = version;
            f.index_error = error;
        });
    }

    /// At start: the manifest kept from the last run (verified when it was
    /// fetched) confirms the version held as of when it was signed, so a
    /// restart neither forgets a live feed nor makes an old one look fresh.
    pub fn resume_from_kept_manifest(&self) {
        self.with(|f| {
            if let Some(signed) = f.manifest.as_ref().map(|m| m.issued_at) {
                f.manifest_verified_at = signed;
                self.confirm(f, signed);
            }
        });
    }

    /// Beats the heartbeat if the newest manifest verified announces the
    /// version held and had not expired at `at`, when it was verified: only
    /// then has the feed confirmed that nothing newer exists.
    fn confirm(&self, f: &Facts, at: u64) {
        let (Some(manifest), Some(held)) = (&f.manifest, f.version) else {
            return;
        };
        if manifest.version != held || at >= manifest.expires_at {
            return;
        }
        let fresh_until = at
            .saturating_add(self.max_age.as_secs())
            .min(manifest.expires_at);
        self.heartbeat.beat(Beat {
            confirmed_at: Timestamp(at),
            fresh_until: Timestamp(fresh_until),
        });
    }

    /// The freshness of an answer given at `now` (the same function the C
    /// library applies to the same file).
    pub fn freshness(&self, now: Timestamp) -> Freshness {
        self.heartbeat.read().freshness(now)
    }

    /// A manifest verified (and not expired).
    pub fn set_manifest(&self, info: ManifestInfo) {
        let now = Timestamp::now().0;
        self.with(|f| {
            f.manifest = Some(info);
            f.manifest_verified_at = now;
            f.manifest_expired = None;
        });
    }

    /// A manifest that verified but has expired: the feed may be frozen.
    pub fn set_manifest_expired(&self, message: String) {
        self.with(|f| f.manifest_expired = Some(message));
    }

    /// The trust root in force.
    pub fn set_trust(&self, info: TrustInfo) {
        self.with(|f| f.trust = Some(info));
    }

    /// The agency registry in force.
    pub fn set_registry(&self, info: RegistryInfo) {
        self.with(|f| f.registry = Some(info));
    }

    /// The log's checkpoint verified last.
    pub fn set_log(&self, checkpoint: &SignedCheckpoint) {
        self.with(|f| f.log = Some(checkpoint.into()));
    }

    /// A sync round ended well. `current` (the HTTP source still serves the
    /// manifest held, or a dropped manifest was just verified) confirms the
    /// feed now when that manifest announces the version held; `applied`
    /// confirmed it as the version arrived ([`Status::set_data`]); `stale`
    /// (only lagging caches answered) confirms nothing.
    pub fn sync_succeeded(&self, result: &'static str, source: &str) {
        let now = Timestamp::now().0;
        self.with(|f| {
            f.last_sync = Some(SyncRecord {
                at: now,
                result,
                source: source.to_owned(),
            });
            f.last_success = Some(now);
            f.progress = None;
            if result == "current" && f.manifest.is_some() {
                f.manifest_verified_at = now;
                self.confirm(f, now);
            }
        });
    }

    /// A sync round (or one file) failed.
    pub fn sync_failed(&self, source: &str, file: &str, message: String) {
        let now = Timestamp::now().0;
        self.with(|f| {
            f.last_sync = Some(SyncRecord {
                at: now,
                result: "failed",
                source: source.to_owned(),
            });
            f.last_error = Some(ErrorRecord {
                at: now,
                file: file.to_owned(),
                message,
            });
            f.progress = None;
        });
    }

    /// A failure about one file that does not fail the round (a rejected drop).
    pub fn file_refused(&self, file: &str, message: String) {
        let record = ErrorRecord {
            at: Timestamp::now().0,
            file: file.to_owned(),
            message,
        };
        self.with(|f| {
            f.last_error = Some(record.clone());
            f.last_drop_rejected = Some(record);
        });
    }

    /// The files the drop folder leaves in place after a round.
    pub fn set_drop_left_in_place(&self, mut files: Vec<LeftInPlace>) {
        files.sort_by(|a, b| a.file.cmp(&b.file));
        self.with(|f| f.drop_left_in_place = files);
    }

    /// The sources the last HTTP round passed over.
    pub fn set_passed_over(&self, passed_over: Vec<PassedOver>) {
        self.with(|f| f.passed_over = passed_over);
    }

    /// The replica diverged from the centre and waits for a snapshot
    /// (`None`: back on the centre's history).
    pub fn set_reanchoring(&self, reason: Option<String>) {
        self.with(|f| f.reanchoring = reason);
    }

    /// The newest receipt, for `version`, reached `state` (see
    /// [`ReceiptInfo`]), with the centre's answer or the failure.
    pub fn set_receipt(&self, version: u64, state: &'static str, message: Option<String>) {
        let info = ReceiptInfo {
            version,
            state,
            at: Timestamp::now().0,
            message,
        };
        self.with(|f| f.receipt = Some(info));
    }

    /// Catch-up progress, for a person watching.
    pub fn set_progress(&self, progress: Option<String>) {
        self.with(|f| f.progress = progress);
    }

    /// The last manifest's serial.
    pub fn manifest(&self) -> Option<ManifestInfo> {
        self.with(|f| f.manifest.clone())
    }

    /// The report at `now`.
    pub fn report(&self, now: Timestamp) -> StatusReport {
        self.with(|f| {
            let beat = self.heartbeat.read();
            let freshness = beat.freshness(now);
            let mut reasons = Vec::new();
            if f.trust.is_none() {
                reasons.push("no trust root: set trust_root, or drop the centre's root file into the drop folder".to_owned());
            }
            if f.version.is_none() {
                reasons.push("no data yet".to_owned());
            }
            if freshness == Freshness::Stale {
                reasons.push(format!(
                    "answers are stale (fresh until {}, now {}): {}",
                    beat.fresh_until.0,
                    now.0,
                    self.stale_cause(f, beat, now)
                ));
            }
            if let Some(held) = f.version {
                let why = match (&f.index_error, &f.last_error) {
                    (Some(error), _) => format!(": {error}"),
                    (None, Some(last)) => format!("; last error: {}", last.message),
                    (None, None) => String::new(),
                };
                match f.index_version {
                    None => reasons.push(format!(
                        "lookups cannot answer: version {held} is held but no lookup index is published{why}"
                    )),
                    Some(served) if served < held => reasons.push(format!(
                        "lookups answer from version {served}, behind the version held ({held}): the lookup index could not be published{why}"
                    )),
                    Some(_) => {}
                }
            }
            for passed in f.passed_over.iter().filter(|p| p.reason == "failed") {
                reasons.push(format!(
                    "source {} failed in the last round: {}",
                    passed.source, passed.message
                ));
            }
            if let Some(reason) = &f.reanchoring {
                reasons.push(reason.clone());
            }
            let since = f.last_success.unwrap_or(self.started_at.0);
            let staleness = now.0.saturating_sub(since);
            let expiring = f.trust.as_ref().is_some_and(|t| {
                now.0.saturating_add(self.root_expiry_warning.as_secs()) >= t.expires_at
            });
            StatusReport {
                list: f.list.clone(),
                version: f.version,
                index_version: f.index_version,
                freshness: freshness.as_str(),
                confirmed_at: Some(beat.confirmed_at.0).filter(|&t| t > 0),
                fresh_until: Some(beat.fresh_until.0).filter(|&t| t > 0),
                entries: f.entries,
                data_time: f.data_time,
                data_age_seconds: f.data_time.map(|t| now.0.saturating_sub(t)),
                manifest: f.manifest.clone(),
                last_sync: f.last_sync.clone(),
                last_success_at: f.last_success,
                staleness_seconds: staleness,
                last_error: f.last_error.clone(),
                last_drop_rejected: f.last_drop_rejected.clone(),
                drop_left_in_place: f
                    .drop_left_in_place
                    .iter()
                    .take(LEFT_IN_PLACE_SHOWN)
                    .cloned()
                    .collect(),
                drop_left_in_place_total: f.drop_left_in_place.len(),
                degraded: !reasons.is_empty(),
                degraded_reasons: reasons,
                trust_root: f.trust.clone(),
                trust_root_expiring: expiring,
                registry: f.registry.clone(),
                log: f.log.clone(),
                progress: f.progress.clone(),
                passed_over: f.passed_over.clone(),
                reanchoring: f.reanchoring.clone(),
                replica_id: self.replica_id.clone(),
                receipt: f.receipt.clone(),
            }
        })
    }

    /// Why answers went stale, most specific first.
    fn stale_cause(&self, f: &Facts, beat: Beat, now: Timestamp) -> String {
        if let Some(message) = &f.manifest_expired {
            return message.clone();
        }
        if let Some(m) = f.manifest.as_ref().filter(|m| now.0 >= m.expires_at) {
            return format!(
                "manifest serial {} expired at {}: the feed may be frozen",
                m.serial, m.expires_at
            );
        }
        if let (Some(m), Some(held)) = (&f.manifest, f.version) {
            if m.version > held {
                return format!(
                    "version {held} is held but the newest manifest announces version {}: the catch-up has not completed",
                    m.version
                );
            }
        }
        match beat.confirmed_at.0 {
            0 => "no signed manifest announcing the version held has been confirmed since start"
                .to_owned(),
            at => format!(
                "no signed manifest confirmed since {at} (freshness.max_age {} s)",
                self.max_age.as_secs()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blocklist_core::index::Heartbeat;

    fn manifest(version: u64, expires_at: u64) -> ManifestInfo {
        ManifestInfo {
            serial: 7,
            version,
            issued_at: 0,
            expires_at,
            source: "test".into(),
        }
    }

    fn status(dir: &tempfile::TempDir, max_age: u64, root_expiry_warning: u64) -> Status {
        let status = Status::new(
            Duration::from_secs(max_age),
            Duration::from_secs(root_expiry_warning),
            HeartbeatWriter::create(dir.path()).unwrap(),
            "ab".repeat(32),
        );
        status.set_trust(TrustInfo {
            version: 1,
            sha256: "ab".into(),
            expires_at: u64::MAX,
            pinned: "configured",
        });
        status
    }

    #[test]
    fn a_confirmed_manifest_is_fresh_until_it_expires_and_degraded_after() {
        let dir = tempfile::tempdir().unwrap();
        let status = status(&dir, 3600, 10);
        let reader = Heartbeat::open(dir.path()).unwrap().unwrap();
        let now = Timestamp::now();
        assert_eq!(status.report(now).freshness, "no_data");
        // A round verifies the manifest, then applies the version it announces.
        status.set_manifest(manifest(3, now.0 + 100));
        status.set_data("l", Some(3), 10, 0);
        status.set_index(Some(3), None);
        let report = status.report(now);
        assert!(!report.degraded, "{:?}", report.degraded_reasons);
        assert_eq!(report.freshness, "fresh");
        let later = now.plus(200);
        let report = status.report(later);
        assert!(report.degraded);
        assert_eq!(report.freshness, "stale");
        assert!(report.degraded_reasons[0].contains("expired"));
        assert_eq!(
            reader.freshness(later),
            Freshness::Stale,
            "C reads the same"
        );
    }

    #[test]
    fn no_confirmation_within_max_age_is_stale_and_degraded_and_root_expiry_warns() {
        let dir = tempfile::tempdir().unwrap();
        let status = status(&dir, 60, 1000);
        let now = Timestamp::now();
        status.set_trust(TrustInfo {
            version: 1,
            sha256: "ab".into(),
            expires_at: now.0 + 500,
            pinned: "configured",
        });
        status.set_data("l", Some(1), 1, 0);
        status.set_index(Some(1), None);
        status.set_manifest(manifest(1, u64::MAX));
        status.sync_succeeded("current", "test");
        assert!(!status.report(now).degraded);
        assert!(status.report(now).trust_root_expiring);
        let report = status.report(now.plus(61));
        assert!(report.degraded);
        assert_eq!(report.freshness, "stale");
        assert!(
            report.degraded_reasons[0].contains("no signed manifest confirmed"),
            "{:?}",
            report.degraded_reasons
        );
    }

    #[test]
    fn a_manifest_announcing_a_newer_version_or_a_stale_round_does_not_confirm() {
        let dir = tempfile::tempdir().unwrap();
        let status = status(&dir, 3600, 10);
        status.set_data("l", Some(2), 1, 0);
        status.set_index(Some(2), None);
        let now = Timestamp::now();
        status.set_manifest(manifest(3, now.0 + 1000));
        status.sync_succeeded("current", "test");
        status.set_manifest(manifest(2, now.0 + 1000));
        status.sync_succeeded("stale", "test");
        let report = status.report(now);
        assert_eq!(report.freshness, "stale", "held but never confirmed");
        assert_eq!(report.confirmed_at, None);
    }

    #[test]
    fn each_published_index_bumps_the_generation_readers_watch() {
        let dir = tempfile::tempdir().unwrap();
        let status = status(&dir, 3600, 10);
        let reader = Heartbeat::open(dir.path()).unwrap().unwrap();
        assert_eq!(reader.generation(), 0);
        status.index_published();
        status.index_published();
        assert_eq!(reader.generation(), 2);
    }

    #[test]
    fn a_held_version_without_a_lookup_index_is_degraded_naming_why() {
        let dir = tempfile::tempdir().unwrap();
        let status = status(&dir, 3600, 10);
        status.set_data("l", Some(1), 1, 0);
        status.sync_failed(
            "src",
            "delta 1",
            "cannot write lookup.idx: disk full".into(),
        );
        let report = status.report(Timestamp::now());
        assert!(report.degraded);
        let reasons = report.degraded_reasons.join("\n");
        assert!(reasons.contains("lookups cannot answer"), "{reasons}");
        assert!(reasons.contains("disk full"), "{reasons}");
        status.set_index(Some(1), None);
        let reasons = status.report(Timestamp::now()).degraded_reasons.join("\n");
        assert!(!reasons.contains("lookups"), "{reasons}");
    }
}
