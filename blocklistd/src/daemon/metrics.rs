//! Every metric the daemon exports, declared in this one place, rendered in
//! the Prometheus text format by hand (a dozen counters need no library).
//! Counters end in `_total`; labels take only the fixed values listed here.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use blocklist_core::{Kind, Timestamp};

use crate::daemon::state::StatusReport;
use crate::prometheus::{header, label_value};

/// The `kind` label's values, in [`kind_slot`] order.
const KINDS: [&str; 4] = ["account", "number", "domain", "other"];
/// The `source` label's values, in [`SyncSource`] order.
const SOURCES: [&str; 2] = ["http", "drop"];
/// The `document` label's values, in [`Applied`] order.
const DOCUMENTS: [&str; 2] = ["delta", "snapshot"];

/// Where a sync round read from (the `source` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncSource {
    /// The HTTP mirrors.
    Http = 0,
    /// The drop folder.
    Drop = 1,
}

/// What was applied (the `document` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// A delta.
    Delta = 0,
    /// A snapshot.
    Snapshot = 1,
}

/// The daemon's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    lookups: [AtomicU64; 4],
    hits: [AtomicU64; 4],
    invalid: AtomicU64,
    sync_attempts: [AtomicU64; 2],
    sync_failures: [AtomicU64; 2],
    applied: [AtomicU64; 2],
    fetched_bytes: AtomicU64,
    mirror_failovers: AtomicU64,
    drop_rejected: AtomicU64,
    drop_rounds: AtomicU64,
}

fn kind_slot(kind: Kind) -> usize {
    match kind {
        Kind::Account => 0,
        Kind::Number => 1,
        Kind::Domain => 2,
        Kind::Other(_) => 3,
    }
}

impl Metrics {
    /// `n` lookups of `kind`, `hits` of them listed.
    pub fn lookups(&self, kind: Kind, n: u64, hits: u64) {
        self.lookups[kind_slot(kind)].fetch_add(n, Ordering::Relaxed);
        if hits > 0 {
            self.hits[kind_slot(kind)].fetch_add(hits, Ordering::Relaxed);
        }
    }

    /// Queries refused as invalid identifiers.
    pub fn invalid(&self, n: u64) {
        self.invalid.fetch_add(n, Ordering::Relaxed);
    }

    /// A sync round started.
    pub fn sync_attempt(&self, source: SyncSource) {
        self.sync_attempts[source as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A sync round failed.
    pub fn sync_failure(&self, source: SyncSource) {
        self.sync_failures[source as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A document was applied.
    pub fn applied(&self, doc: Applied) {
        self.applied[doc as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes downloaded.
    pub fn fetched(&self, bytes: u64) {
        self.fetched_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A mirror failed and the next one was tried.
    pub fn failover(&self) {
        self.mirror_failovers.fetch_add(1, Ordering::Relaxed);
    }

    /// A dropped file was moved to `rejected/`.
    pub fn drop_rejected(&self) {
        self.drop_rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// The drop folder was looked at.
    pub fn drop_round(&self) {
        self.drop_rounds.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, gauges taken from `status`.
    pub fn render(&self, status: &StatusReport, now: Timestamp) -> String {
        let mut out = String::with_capacity(4096);
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        header(
            &mut out,
            "blocklistd_lookups_total",
            "counter",
            "Identifiers looked up, by kind.",
        );
        for (i, kind) in KINDS.iter().enumerate() {
            let _ = writeln!(
                out,
                "blocklistd_lookups_total{{kind=\"{kind}\"}} {}",
                get(&self.lookups[i])
            );
        }
        header(
            &mut out,
            "blocklistd_lookup_hits_total",
            "counter",
            "Lookups that found a listed identifier, by kind.",
        );
        for (i, kind) in KINDS.iter().enumerate() {
            let _ = writeln!(
                out,
                "blocklistd_lookup_hits_total{{kind=\"{kind}\"}} {}",
                get(&self.hits[i])
            );
        }
        header(
            &mut out,
            "blocklistd_lookup_invalid_total",
            "counter",
            "Queries refused because the identifier is not valid for its kind.",
        );
        let _ = writeln!(
            out,
            "blocklistd_lookup_invalid_total {}",
            get(&self.invalid)
        );
        for (name, help, values) in [
            (
                "blocklistd_sync_attempts_total",
                "Sync rounds started, by source.",
                &self.sync_attempts,
            ),
            (
                "blocklistd_sync_failures_total",
                "Sync rounds that failed, by source.",
                &self.sync_failures,
            ),
        ] {
            header(&mut out, name, "counter", help);
            for (i, source) in SOURCES.iter().enumerate() {
                let _ = writeln!(out, "{name}{{source=\"{source}\"}} {}", get(&values[i]));
            }
        }
        header(
            &mut out,
            "blocklistd_applied_total",
            "counter",
            "Documents applied to the replica, by type.",
        );
        for (i, doc) in DOCUMENTS.iter().enumerate() {
            let _ = writeln!(
                out,
                "blocklistd_applied_total{{document=\"{doc}\"}} {}",
                get(&self.applied[i])
            );
        }
        for (name, help, value) in [
            (
                "blocklistd_fetched_bytes_total",
                "Bytes downloaded from mirrors.",
                get(&self.fetched_bytes),
            ),
            (
                "blocklistd_mirror_failovers_total",
                "Times a mirror failed and the next was tried.",
                get(&self.mirror_failovers),
            ),
            (
                "blocklistd_drop_rejected_total",
                "Dropped files moved to rejected/.",
                get(&self.drop_rejected),
            ),
            (
                "blocklistd_drop_rounds_total",
                "Times the drop folder was looked at (on a watcher event or a rescan).",
                get(&self.drop_rounds),
            ),
        ] {
            header(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {value}");
        }
        let root_expires_in = status
            .trust_root
            .as_ref()
            .map_or(0, |t| t.expires_at as i64 - now.0 as i64);
        for (name, help, value) in [
            (
                "blocklistd_applied_version",
                "The list version lookups answer from (0: none).",
                status.version.unwrap_or(0) as i64,
            ),
            (
                "blocklistd_entries",
                "Entries at that version.",
                status.entries as i64,
            ),
            (
                "blocklistd_staleness_seconds",
                "Seconds since the last successful sync (since start if none).",
                status.staleness_seconds as i64,
            ),
            (
                "blocklistd_data_age_seconds",
                "Seconds since the centre made the version held.",
                status.data_age_seconds.unwrap_or(0) as i64,
            ),
            (
                "blocklistd_degraded",
                "1 when the feed needs attention (see /v1/status); lookups still answer.",
                i64::from(status.degraded),
            ),
            (
                "blocklistd_drop_files_left_in_place",
                "Files the drop folder leaves in place: incomplete, unreadable or waiting (named in /v1/status).",
                status.drop_left_in_place_total as i64,
            ),
            (
                "blocklistd_trust_root_expires_in_seconds",
                "Seconds until the trust root's advisory expiry.",
                root_expires_in,
            ),
            (
                "blocklistd_trust_root_expiring",
                "1 when the trust root expires within freshness.root_expiry_warning.",
                i64::from(status.trust_root_expiring),
            ),
            (
                "blocklistd_registry_version",
                "The agency registry version in force (0: none).",
                status.registry.as_ref().map_or(0, |r| r.version) as i64,
            ),
            (
                "blocklistd_log_size",
                "Files recorded by the transparency log checkpoint verified last (0: none); its root is in /v1/status.",
                status.log.as_ref().map_or(0, |l| l.size) as i64,
            ),
        ] {
            header(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {value}");
        }
        // One series per file /v1/status names (at most LEFT_IN_PLACE_SHOWN),
        // so an alert can say which file and in what state without a
        // second request.
        let name = "blocklistd_drop_file_left_in_place";
        header(
            &mut out,
            name,
            "gauge",
            "1 for each file the drop folder leaves in place, by file and state (incomplete, unreadable, waiting); the reason in words is in /v1/status.",
        );
        for left in &status.drop_left_in_place {
            let file = left.file.rsplit('/').next().unwrap_or(&left.file);
            let _ = writeln!(
                out,
                "{name}{{file=\"{}\",state=\"{}\"}} 1",
                label_value(file),
                left.state
            );
        }
        out
    }
}
