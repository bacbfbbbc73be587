//! [`Status`]: what the daemon knows about its own feed, shared by the sync
//! task (which writes it) and the API (which reports it). Whether the daemon
//! is degraded is derived at read time from these facts and the clock, so a
//! feed that silently stops is noticed without any task running.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use blocklist_core::Timestamp;
use serde::Serialize;

/// Shared, mutex-guarded status (held for microseconds: copies in, copies out).
#[derive(Debug)]
pub struct Status {
    facts: Mutex<Facts>,
    started_at: Timestamp,
    max_age: Duration,
    root_expiry_warning: Duration,
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

/// The outcome of the last sync attempt.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct SyncRecord {
    /// When it ended.
    pub at: u64,
    /// `applied`, `current` (nothing new) or `failed`.
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

#[derive(Debug, Default)]
struct Facts {
    list: Option<String>,
    version: Option<u64>,
    entries: u64,
    data_time: Option<u64>,
    manifest: Option<ManifestInfo>,
    manifest_expired: Option<String>,
    trust: Option<TrustInfo>,
    last_sync: Option<SyncRecord>,
    last_success: Option<u64>,
    last_error: Option<ErrorRecord>,
    progress: Option<String>,
}

/// The `/v1/status` document.
#[derive(Clone, Debug, Serialize)]
pub struct StatusReport {
    /// The list followed.
    pub list: Option<String>,
    /// The version lookups answer from.
    pub version: Option<u64>,
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
    /// Lookups still answer; the feed needs attention.
    pub degraded: bool,
    /// Why it is degraded.
    pub degraded_reasons: Vec<String>,
    /// The trust root in force.
    pub trust_root: Option<TrustInfo>,
    /// The trust root expires within `freshness.root_expiry_warning`.
    pub trust_root_expiring: bool,
    /// A catch-up in progress.
    pub progress: Option<String>,
}

impl Status {
    /// A status for a daemon starting now.
    pub fn new(max_age: Duration, root_expiry_warning: Duration) -> Status {
        Status {
            facts: Mutex::default(),
            started_at: Timestamp::now(),
            max_age,
            root_expiry_warning,
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut Facts) -> R) -> R {
        f(&mut self.facts.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The data lookups answer from.
    pub fn set_data(&self, list: &str, version: Option<u64>, entries: u64, data_time: u64) {
        self.with(|f| {
            f.list = Some(list.to_owned());
            f.version = version;
            f.entries = entries;
            f.data_time = version.map(|_| data_time);
        });
    }

    /// A manifest verified (and not expired).
    pub fn set_manifest(&self, info: ManifestInfo) {
        self.with(|f| {
            f.manifest = Some(info);
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

    /// A sync round ended well.
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
        let now = Timestamp::now().0;
        self.with(|f| {
            f.last_error = Some(ErrorRecord {
                at: now,
                file: file.to_owned(),
                message,
            })
        });
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
            let mut reasons = Vec::new();
            if f.trust.is_none() {
                reasons.push("no trust root: set trust_root, or drop the centre's root file into the drop folder".to_owned());
            }
            if f.version.is_none() {
                reasons.push("no data yet".to_owned());
            }
            if let Some(message) = &f.manifest_expired {
                reasons.push(message.clone());
            } else if let Some(m) = f.manifest.as_ref().filter(|m| now.0 >= m.expires_at) {
                reasons.push(format!(
                    "manifest serial {} expired at {} (now {}): the feed may be frozen",
                    m.serial, m.expires_at, now.0
                ));
            }
            let since = f.last_success.unwrap_or(self.started_at.0);
            let staleness = now.0.saturating_sub(since);
            if staleness > self.max_age.as_secs() {
                reasons.push(match f.last_success {
                    Some(at) => format!(
                        "no successful sync since {at} ({staleness} s, max_age {} s)",
                        self.max_age.as_secs()
                    ),
                    None => format!(
                        "no successful sync in {staleness} s since start (max_age {} s)",
                        self.max_age.as_secs()
                    ),
                });
            }
            let expiring = f.trust.as_ref().is_some_and(|t| {
                now.0.saturating_add(self.root_expiry_warning.as_secs()) >= t.expires_at
            });
            StatusReport {
                list: f.list.clone(),
                version: f.version,
                entries: f.entries,
                data_time: f.data_time,
                data_age_seconds: f.data_time.map(|t| now.0.saturating_sub(t)),
                manifest: f.manifest.clone(),
                last_sync: f.last_sync.clone(),
                last_success_at: f.last_success,
                staleness_seconds: staleness,
                last_error: f.last_error.clone(),
                degraded: !reasons.is_empty(),
                degraded_reasons: reasons,
                trust_root: f.trust.clone(),
                trust_root_expiring: expiring,
                progress: f.progress.clone(),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(expires_at: u64) -> ManifestInfo {
        ManifestInfo {
            serial: 7,
            version: 3,
            issued_at: 0,
            expires_at,
            source: "test".into(),
        }
    }

    #[test]
    fn fresh_data_is_not_degraded_and_an_expired_manifest_is() {
        let status = Status::new(Duration::from_secs(3600), Duration::from_secs(10));
        status.set_trust(TrustInfo {
            version: 1,
            sha256: "ab".into(),
            expires_at: u64::MAX,
            pinned: "configured",
        });
        status.set_data("l", Some(3), 10, 0);
        let now = Timestamp::now();
        status.set_manifest(manifest(now.0 + 100));
        status.sync_succeeded("applied", "test");
        let report = status.report(now);
        assert!(!report.degraded, "{:?}", report.degraded_reasons);
        let later = now.plus(200);
        let report = status.report(later);
        assert!(report.degraded);
        assert!(report.degraded_reasons[0].contains("expired"));
    }

    #[test]
    fn no_sync_within_max_age_is_degraded_and_root_expiry_warns() {
        let status = Status::new(Duration::from_secs(60), Duration::from_secs(1000));
        let now = Timestamp::now();
        status.set_trust(TrustInfo {
            version: 1,
            sha256: "ab".into(),
            expires_at: now.0 + 500,
            pinned: "configured",
        });
        status.set_data("l", Some(1), 1, 0);
        assert!(!status.report(now).degraded);
        assert!(status.report(now).trust_root_expiring);
        let report = status.report(now.plus(61));
        assert!(report.degraded);
        assert!(report.degraded_reasons[0].contains("no successful sync"));
    }
}
