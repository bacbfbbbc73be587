//! The drop folder: files delivered by hand (air-gapped sites) or by any
//! copy job. Any published file (root, manifest, delta, snapshot, agency
//! registry), under any name, at the top of the folder or in `roots/`,
//! `deltas/`, `snapshots/`, `registries/`.
//!
//! The folder is looked at when the watcher reports a file created, written
//! and closed, modified or moved in (never for the daemon's own reads, which
//! would wake it again at once), and every `drop.rescan_interval`.
//!
//! A new or changed file is read only once its size and modification time
//! have not changed for `drop.settle` (copies are not atomic; renaming a
//! finished file into the folder is always safe), and never past the cap for
//! its type (read from its 16-byte header): a file over it is rejected
//! unread. Each file is then verified like one fetched over HTTP (by
//! signature, list and version, and a delta or snapshot against the log's
//! record of it, below), in order: roots, agency registries in
//! version order, manifests, the newest useful snapshot, deltas in version
//! order. A snapshot is not read whole: only its version, to sort it; it is
//! verified and applied as it streams from the dropped file (so one broken
//! past its head is rejected when applied).
//! Then it is moved:
//!
//! - to `processed/` when applied, or already held (a root only when it is
//!   one of the pinned chain: a foreign root is rejected);
//! - to `rejected/`, with `<name>.reason`, when refused (too large, not a
//!   document, bad signature, another list, rollback, expired manifest ...);
//! - nowhere when it may still become useful: a delta or registry after a
//!   gap (waiting for the missing ones), a delta or snapshot the log does
//!   not record yet (waiting for its manifest and `log/`), a delta dated
//!   more than `MAX_CLOCK_SKEW`, but at most a day, ahead of this replica's
//!   clock (waiting for the clock: its date decides which listings have
//!   expired, W1), or a
//!   file that is not yet a complete document (still being written), until
//!   it has been unchanged for `drop.reject_incomplete_after`.
//!
//! A file left in place is remembered with its size, times and inode, and
//! not read again until one of them changes (or, for one waiting its turn,
//! until the replica moves; for one waiting for the clock, also when its
//! time comes), so a stray file costs one read and one log line,
//! not one per round. `/v1/status` names every file left in place and why
//! while it stays, and the log sums them up once an hour.
//!
//! A dropped manifest that carries a transparency log checkpoint is taken
//! only with the log's entry bundles beside it, in `log/` (copied from the
//! publish directory before the manifest, as the centre writes them), and
//! only as an extension of the log this replica verified: otherwise it is
//! rejected, naming the bundle missing or the fork. With `[witnesses]`
//! required, `log/checkpoint` must carry their cosignatures of it too. Once
//! a replica holds a log, a delta or snapshot is applied only as the file
//! its log records (same version, SHA-256 and size): one it does not record
//! waits, one that differs is rejected.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use blocklist_core::document::envelope::{self, HEADER_LEN};
use blocklist_core::document::{
    DecodeError, Delta, DocType, Document, FileRef, Manifest, Registry, SnapshotStream, TrustRoot,
    Version, FOLDER_TYPES,
};
use blocklist_core::verify::{
    self, AuthorityError, FileCheck, SubmissionError, VerifyError, MAX_CLOCK_SKEW,
};
use blocklist_core::Sha256;
use tokio::sync::mpsc;
use tracing::{info, warn, Instrument as _};

use crate::daemon::config::{Config, DropConfig};
use crate::daemon::metrics::SyncSource;
use crate::daemon::source::http::{MAX_REGISTRY_SIZE, MAX_ROOT_SIZE};
use crate::daemon::state::LeftInPlace;
use crate::daemon::sync::{LogFrom, Syncer};
use crate::daemon::DaemonError;

/// Where applied files go, inside the drop folder.
pub const PROCESSED_DIR: &str = "processed";
/// Where refused files go, inside the drop folder.
pub const REJECTED_DIR: &str = "rejected";

/// The most bytes a dropped delta may hold. No signed manifest announces a
/// dropped file's size, so the cap is fixed: a 100k-operation delta is
/// ~2.2 MB (docs/PERFORMANCE.md), and 256 MiB holds about ten million
/// operations, more than any one publish carries.
pub const MAX_DELTA_SIZE: u64 = 256 << 20;
/// The most bytes a dropped snapshot may hold: a 10M-entry snapshot is
/// ~162 MB (docs/PERFORMANCE.md); 1 GiB leaves room for six times that.
pub const MAX_SNAPSHOT_SIZE: u64 = 1 << 30;
/// Lines about single files (rejected, left in place) logged per
/// [`LOG_WINDOW`]; the rest are counted and summed up in one line once the
/// window is over, so a folder of junk cannot flood the log (every reason is
/// in `rejected/<name>.reason`, and the counts are in the metrics).
const LOGGED_PER_WINDOW: usize = 20;
/// See [`LOGGED_PER_WINDOW`].
const LOG_WINDOW: Duration = Duration::from_secs(60);
/// Files left in place are logged once each, then summed up in one line this
/// often while they stay: a reminder, not a flood.
const REMIND_EVERY: Duration = Duration::from_secs(3600);

/// The most bytes a dropped file of type `doc` may hold (roots and manifests
/// share the caps of the HTTP sync); `None` for a type a daemon never takes.
fn cap(doc: DocType, config: &Config) -> Option<u64> {
    match doc {
        DocType::Root => Some(MAX_ROOT_SIZE),
        DocType::Registry => Some(MAX_REGISTRY_SIZE),
        DocType::Manifest => Some(config.sync.max_manifest_size),
        DocType::Delta => Some(MAX_DELTA_SIZE),
        DocType::Snapshot => Some(MAX_SNAPSHOT_SIZE),
        DocType::Submission | DocType::Acknowledgement | DocType::Override | DocType::Receipt => {
            None
        }
    }
}

/// Watches the folder and its layout folders; every event that can mean a
/// new or changed file sends a (coalesced) "look now".
pub fn watch(dir: &Path, tx: mpsc::Sender<()>) -> Result<notify::RecommendedWatcher, DaemonError> {
    let folders: Vec<&str> = FOLDER_TYPES.iter().map(|doc| doc.folder()).collect();
    crate::folder_watch::watch(dir, &folders, tx).map_err(|e| DaemonError::Runtime {
        action: "watch the drop folder",
        reason: format!("{}: {e}", dir.display()),
    })
}

/// What a round left behind.
#[derive(Debug, Default)]
pub struct DropOutcome {
    /// Files still changing: look again after `settle`.
    pub pending: bool,
    /// How long until a file left in place is due to be looked at again:
    /// an incomplete one unchanged for `drop.reject_incomplete_after` (to
    /// be rejected), or a delta dated ahead of this replica's clock.
    pub due_in: Option<Duration>,
}

impl DropOutcome {
    fn look_again_in(&mut self, due_in: Duration) {
        self.due_in = Some(self.due_in.map_or(due_in, |d| d.min(due_in)));
    }

    /// How long to wait for the next round if no watcher event comes first.
    pub fn next_look(&self, config: &DropConfig) -> Duration {
        if self.pending {
            return config.settle;
        }
        self.due_in.map_or(config.rescan_interval, |due| {
            due.min(config.rescan_interval)
        })
    }
}

/// What the drop folder remembers between rounds: the files left in place
/// and why, so that each is read again only when it changes (or, waiting
/// its turn, when the replica moves).
#[derive(Debug, Default)]
pub struct DropFolder {
    judged: HashMap<PathBuf, Judged>,
    log: FileLog,
    /// When the files left in place were last summed up in the log (each
    /// was logged once when first judged): `None` while there are none.
    reminded_at: Option<Instant>,
}

/// One state of a file: when any part changes it is judged afresh. The
/// status-change time catches a `chmod` that makes an unreadable file
/// readable; the inode catches a file replaced under the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    changed: (i64, i64),
    inode: u64,
}

#[derive(Debug)]
struct Judged {
    stamp: Stamp,
    verdict: Verdict,
}

/// Why a file was left in place.
#[derive(Debug)]
enum Verdict {
    /// Not a complete document yet (being written): rejected, with this
    /// reason, once unchanged for `drop.reject_incomplete_after`.
    Incomplete(String),
    /// Could not be read (permissions, I/O), for this reason: tried again
    /// when it changes.
    Unreadable(String),
    /// A document that cannot be taken at this position (a delta or root
    /// after a gap, anything before a root is pinned), or not before this
    /// replica's clock reaches a time (a delta dated ahead of it), and why
    /// in words.
    Waiting(Position, Option<SystemTime>, String),
}

impl Verdict {
    /// The state `/v1/status` shows, and the reason.
    fn shown(&self) -> (&'static str, &str) {
        match self {
            Verdict::Incomplete(reason) => ("incomplete", reason),
            Verdict::Unreadable(reason) => ("unreadable", reason),
            Verdict::Waiting(_, _, reason) => ("waiting", reason),
        }
    }
}

/// Where the daemon stands: the trust root's version and the version held.
type Position = (Option<Version>, Option<Version>);

/// A complete-looking dropped document.
struct Dropped {
    path: PathBuf,
    stamp: Stamp,
    doc: DocType,
    /// Version (serial for a manifest), for ordering only: read before any check.
    order: u64,
    /// The file's bytes; empty for a snapshot, which is read from `path` as
    /// it applies (it may be larger than memory should hold).
    bytes: Vec<u8>,
}

/// Why a dropped file is not a document to take (yet).
#[derive(Debug, thiserror::Error)]
enum Unfit {
    /// Larger than any document type's cap: not opened.
    #[error("{len} bytes, more than any document may hold ({cap} bytes): not read")]
    LargerThanAny { len: u64, cap: u64 },
    /// Larger than its type's cap: only its header was read.
    #[error("{len} bytes, more than a {doc} may hold ({cap} bytes): not read")]
    TooLarge { doc: DocType, len: u64, cap: u64 },
    /// Its header announces more than its type's cap.
    #[error("the header announces a {doc} of at least {announced} bytes, more than a {doc} may hold ({cap} bytes)")]
    AnnouncesTooMuch {
        doc: DocType,
        announced: u64,
        cap: u64,
    },
    /// Ends before the document its header announces: still being written?
    #[error("not a complete blocklist document: {0}")]
    Incomplete(DecodeError),
    /// Not a document (bad magic, unknown type, bytes after the signatures,
    /// a payload that does not decode): no more bytes can mend it.
    #[error("{0}")]
    NotADocument(DecodeError),
    /// A document between an agency and the centre (a submission, an
    /// acknowledgement), dropped here by mistake.
    #[error("a {doc} is for the centre or an agency (blocklist publish --submission or --override, blocklist verify-ack), not for a daemon: a delta carries what a daemon needs of it")]
    ForTheCentre { doc: DocType },
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
}

impl DropFolder {
    /// One pass over the drop folder; then `/v1/status` names the files it
    /// leaves in place.
    pub async fn round(&mut self, syncer: &mut Syncer) -> Result<DropOutcome, DaemonError> {
        let outcome = self.look(syncer).await;
        self.report_left_in_place(syncer);
        outcome
    }

    async fn look(&mut self, syncer: &mut Syncer) -> Result<DropOutcome, DaemonError> {
        syncer.shared.metrics.drop_round();
        let inbox = syncer.config.drop_dir();
        let mut outcome = DropOutcome::default();
        let first = scan(&inbox);
        self.judged.retain(|path, _| first.contains_key(path));
        if first.is_empty() {
            return Ok(outcome);
        }
        // Only new or changed files are given time to settle.
        let changed = first.iter().any(|(path, stamp)| {
            self.judged
                .get(path)
                .is_none_or(|judged| judged.stamp != *stamp)
        });
        let stable: Vec<(PathBuf, Stamp)> = if changed {
            let settle = syncer.config.drop_folder.settle;
            syncer
                .cancellable(async {
                    tokio::time::sleep(settle).await;
                    Ok(())
                })
                .await?;
            scan(&inbox)
                .into_iter()
                .filter(|(path, stamp)| {
                    let same = first.get(path) == Some(stamp);
                    outcome.pending |= !same;
                    same
                })
                .collect()
        } else {
            first.into_iter().collect()
        };
        let mut round = Round {
            inbox: &inbox,
            refused: 0,
        };
        let position = (syncer.trusted_root_version(), syncer.held());
        let reject_after = syncer.config.drop_folder.reject_incomplete_after;
        let now = SystemTime::now();
        let mut docs = Vec::new();
        let mut skipped = Vec::new();
        for (path, stamp) in stable {
            let age = stamp
                .modified
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            let judged = self.judged.get(&path).filter(|j| j.stamp == stamp);
            match judged.map(|j| &j.verdict) {
                Some(Verdict::Incomplete(reason)) if age >= reject_after => {
                    let reason = format!("{reason} (unchanged for {}s)", age.as_secs());
                    round.reject(syncer, &mut self.log, &path, &reason);
                }
                Some(Verdict::Incomplete(_)) => outcome.look_again_in(reject_after - age),
                Some(Verdict::Unreadable(_)) => {}
                Some(Verdict::Waiting(at, until, _))
                    if *at == position && until.is_none_or(|until| until > now) =>
                {
                    if let Some(until) = until {
                        outcome.look_again_in(until.duration_since(now).unwrap_or_default());
                    }
                    skipped.push((path, stamp, age))
                }
                // New, changed, or waiting while the replica moved.
                _ => docs.extend(self.read(syncer, &mut round, &mut outcome, path, stamp, age)),
            }
        }
        // A new root, manifest (its log records what waits), snapshot or
        // delta may let files waiting their turn follow: they are read again
        // to be sorted in with it, so that one round applies the whole run
        // in order.
        if !docs.is_empty() {
            for (path, stamp, age) in skipped {
                docs.extend(self.read(syncer, &mut round, &mut outcome, path, stamp, age));
            }
        }
        if docs.is_empty() && round.refused == 0 {
            self.log.roll();
            return Ok(outcome);
        }
        syncer.shared.metrics.sync_attempt(SyncSource::Drop);
        docs.sort_by_key(|d| {
            // The manifest before the files it lists: its log records them.
            let rank = match d.doc {
                DocType::Root => 0,
                DocType::Registry => 1,
                DocType::Manifest => 2,
                DocType::Snapshot => 3,
                DocType::Delta => 4,
                // Documents for the centre never get here:
                // `classify` refuses them.
                DocType::Submission
                | DocType::Acknowledgement
                | DocType::Override
                | DocType::Receipt => 5,
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
        let mut waiting: Vec<(Dropped, Wait)> = Vec::new();
        for doc in docs {
            let span = tracing::info_span!("dropped_file", file = %doc.path.display(), doc = %doc.doc, version = doc.order);
            let result = syncer.take(&doc).instrument(span.clone()).await;
            let _enter = span.enter();
            match result {
                Ok(Taken::Applied) => {
                    progressed = true;
                    move_to(&inbox, &doc.path, PROCESSED_DIR);
                }
                Ok(Taken::AlreadyHeld) => {
                    info!("already held");
                    move_to(&inbox, &doc.path, PROCESSED_DIR);
                }
                Ok(Taken::Waiting(wait)) => waiting.push((doc, wait)),
                Err(DaemonError::ShuttingDown) => return Err(DaemonError::ShuttingDown),
                Err(DaemonError::NoTrustRoot) => {
                    if self.log.allow(false) {
                        warn!("no trust root: dropped file left in place");
                    }
                    waiting.push((doc, Wait::Turn));
                }
                Err(err) => round.reject(syncer, &mut self.log, &doc.path, &err.to_string()),
            }
        }
        // Deltas that waited for an earlier one may follow now.
        let mut again = progressed;
        while again {
            again = false;
            for (doc, _) in std::mem::take(&mut waiting) {
                match syncer.take(&doc).await {
                    Ok(Taken::Applied) => {
                        again = true;
                        progressed = true;
                        move_to(&inbox, &doc.path, PROCESSED_DIR);
                    }
                    Ok(Taken::AlreadyHeld) => move_to(&inbox, &doc.path, PROCESSED_DIR),
                    Ok(Taken::Waiting(wait)) => waiting.push((doc, wait)),
                    Err(DaemonError::NoTrustRoot) => waiting.push((doc, Wait::Turn)),
                    Err(DaemonError::ShuttingDown) => return Err(DaemonError::ShuttingDown),
                    Err(err) => round.reject(syncer, &mut self.log, &doc.path, &err.to_string()),
                }
            }
        }
        let position = (syncer.trusted_root_version(), syncer.held());
        for (doc, wait) in waiting {
            let held = position.1.map_or(0, |v| v.get());
            let (until, reason) = match (wait, position.0) {
                (Wait::Until(until, why), _) => {
                    let due_in = until.duration_since(SystemTime::now()).unwrap_or_default();
                    outcome.look_again_in(due_in);
                    (Some(until), why)
                }
                (Wait::For(why), _) => (None, why),
                (Wait::Turn, None) => (None, format!("a {} waiting for a trust root", doc.doc)),
                (Wait::Turn, Some(_)) => (
                    None,
                    format!(
                        "a {} of version {} waiting for the versions before it (version {held} is held)",
                        doc.doc, doc.order
                    ),
                ),
            };
            if self.log.allow(false) {
                info!(file = %doc.path.display(), version = doc.order, held, %reason, "dropped file left in place");
            }
            self.judged.insert(
                doc.path,
                Judged {
                    stamp: doc.stamp,
                    verdict: Verdict::Waiting(position, until, reason),
                },
            );
        }
        if progressed {
            syncer
                .shared
                .status
                .sync_succeeded("applied", &inbox.display().to_string());
        }
        if round.refused > 0 {
            syncer.shared.metrics.sync_failure(SyncSource::Drop);
        }
        self.log.roll();
        Ok(outcome)
    }

    /// Reads one new or changed file, rejecting it or remembering why it
    /// stays when it is not a document to take.
    fn read(
        &mut self,
        syncer: &Syncer,
        round: &mut Round<'_>,
        outcome: &mut DropOutcome,
        path: PathBuf,
        stamp: Stamp,
        age: Duration,
    ) -> Option<Dropped> {
        let reject_after = syncer.config.drop_folder.reject_incomplete_after;
        let verdict = match read_dropped(&path, stamp, &syncer.config) {
            Ok(doc) => return Some(doc),
            Err(Unfit::Incomplete(e)) if age < reject_after => {
                outcome.look_again_in(reject_after - age);
                let reason = Unfit::Incomplete(e).to_string();
                if self.log.allow(false) {
                    info!(file = %path.display(), %reason, "dropped file is not a complete document yet; will look again when it changes");
                }
                Verdict::Incomplete(reason)
            }
            Err(Unfit::Io(e)) => {
                if self.log.allow(false) {
                    warn!(file = %path.display(), error = %e, "cannot read dropped file; will try again when it changes");
                }
                Verdict::Unreadable(format!("cannot read: {e}"))
            }
            Err(unfit) => {
                round.reject(syncer, &mut self.log, &path, &unfit.to_string());
                return None;
            }
        };
        self.judged.insert(path, Judged { stamp, verdict });
        None
    }
}

impl DropFolder {
    /// Names the files left in place in the status (and the gauge), and
    /// sums them up in the log every [`REMIND_EVERY`] while they stay.
    fn report_left_in_place(&mut self, syncer: &Syncer) {
        // A file taken or rejected this round is forgotten at the next scan.
        self.judged.retain(|path, _| path.exists());
        let left: Vec<LeftInPlace> = self
            .judged
            .iter()
            .map(|(path, judged)| {
                let (state, reason) = judged.verdict.shown();
                LeftInPlace {
                    file: path.display().to_string(),
                    state,
                    reason: reason.to_owned(),
                    modified_at: judged
                        .stamp
                        .modified
                        .and_then(|m| m.duration_since(SystemTime::UNIX_EPOCH).ok())
                        .map(|d| d.as_secs()),
                }
            })
            .collect();
        let now = Instant::now();
        match self.reminded_at {
            _ if left.is_empty() => self.reminded_at = None,
            None => self.reminded_at = Some(now),
            Some(at) if now.duration_since(at) >= REMIND_EVERY => {
                self.reminded_at = Some(now);
                let first = &left[0];
                warn!(
                    left_in_place = left.len(),
                    file = %first.file,
                    state = first.state,
                    reason = %first.reason,
                    "dropped files are still left in place (all named in /v1/status)"
                );
            }
            Some(_) => {}
        }
        syncer.shared.status.set_drop_left_in_place(left);
    }
}

/// One round's bookkeeping.
struct Round<'a> {
    inbox: &'a Path,
    /// Files rejected this round.
    refused: usize,
}

impl Round<'_> {
    /// Moves a refused file to `rejected/` with its reason, and reports it
    /// (metrics, status, the log).
    fn reject(&mut self, syncer: &Syncer, log: &mut FileLog, path: &Path, reason: &str) {
        self.refused += 1;
        syncer.shared.metrics.drop_rejected();
        syncer
            .shared
            .status
            .file_refused(&path.display().to_string(), reason.to_owned());
        if log.allow(true) {
            warn!(file = %path.display(), %reason, "dropped file rejected");
        }
        move_to(self.inbox, path, REJECTED_DIR);
        let mut note = self
            .inbox
            .join(REJECTED_DIR)
            .join(path.file_name().unwrap_or_default())
            .into_os_string();
        note.push(".reason");
        if let Err(e) = std::fs::write(&note, format!("{reason}\n")) {
            warn!(file = %Path::new(&note).display(), error = %e, "cannot write the reason for a rejected file");
        }
    }
}

/// Rate-limits the lines logged about single files (see [`LOGGED_PER_WINDOW`]).
#[derive(Debug, Default)]
struct FileLog {
    /// When the current window began (`None` before the first line).
    window_start: Option<Instant>,
    /// Lines logged in the current window.
    logged: usize,
    /// Rejections not logged in the current window.
    rejected: usize,
    /// Files left in place not logged in the current window.
    left: usize,
}

impl FileLog {
    /// Whether a line about one file (a rejection when `rejected`) may be
    /// logged now; counts it when not.
    fn allow(&mut self, rejected: bool) -> bool {
        self.roll();
        if self.logged < LOGGED_PER_WINDOW {
            self.logged += 1;
            return true;
        }
        if rejected {
            self.rejected += 1;
        } else {
            self.left += 1;
        }
        false
    }

    /// Once the window is over, sums up what it did not log and starts the next.
    fn roll(&mut self) {
        let now = Instant::now();
        if self
            .window_start
            .is_some_and(|start| now.duration_since(start) < LOG_WINDOW)
        {
            return;
        }
        if self.rejected + self.left > 0 {
            warn!(
                rejected = self.rejected,
                left_in_place = self.left,
                "more dropped files than logged one by one in the last minute; each rejection's reason is in rejected/<name>.reason"
            );
        }
        *self = FileLog {
            window_start: Some(now),
            ..FileLog::default()
        };
    }
}

impl Syncer {
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
                Some(current) if doc.order <= current.get() => {
                    self.held_root(doc)?;
                    Ok(Taken::AlreadyHeld)
                }
                Some(current) if doc.order > current.get() + 1 => Ok(Taken::Waiting(Wait::Turn)),
                Some(_) => {
                    self.rotate_root(&doc.bytes, &name)?;
                    Ok(Taken::Applied)
                }
            },
            DocType::Registry => {
                let held = self.registry_version().map_or(0, |v| v.get());
                if doc.order <= held {
                    self.keep_registry_signed_again(&doc.bytes, &name)?;
                    return Ok(Taken::AlreadyHeld);
                }
                if doc.order > held + 1 {
                    return Ok(Taken::Waiting(Wait::Turn));
                }
                self.accept_registry(&doc.bytes, &name)?;
                Ok(Taken::Applied)
            }
            DocType::Manifest => {
                let manifest = self.accept_manifest(&doc.bytes, &name)?;
                let inbox = self.config.drop_dir();
                self.follow_log(LogFrom::Folder(&inbox), &manifest, &name)
                    .await?;
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
                    return Ok(Taken::Waiting(Wait::Turn));
                }
                if let Some(why) = self.unrecorded(doc)? {
                    return Ok(Taken::Waiting(Wait::For(why)));
                }
                let result = match doc.doc {
                    DocType::Delta => self.apply_delta(doc.bytes.clone(), &name).await,
                    _ => self.apply_snapshot(doc.path.clone(), &name).await,
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
                    }) => Ok(Taken::Waiting(Wait::Turn)),
                    Err(DaemonError::Verify {
                        file,
                        source: VerifyError::Authority { source },
                    }) => match authority_wait(&source, doc.order) {
                        Some(wait) => Ok(Taken::Waiting(wait)),
                        None => Err(DaemonError::Verify {
                            file,
                            source: VerifyError::Authority { source },
                        }),
                    },
                    Err(err) => Err(err),
                }
            }
            DocType::Submission
            | DocType::Acknowledgement
            | DocType::Override
            | DocType::Receipt => {
                unreachable!("classify refuses documents for the centre")
            }
        }
    }

    /// Checks a dropped delta or snapshot against the log this replica
    /// verified, which must record every file it applies: one the log does
    /// not record yet waits for the manifest and `log/` that record it (the
    /// reason is returned), and one other than the file it records is
    /// refused. A replica that holds no log (a feed from before it) takes the
    /// file as it is.
    fn unrecorded(&self, doc: &Dropped) -> Result<Option<String>, DaemonError> {
        let Some(head) = self.log.head() else {
            return Ok(None);
        };
        // Version 0 is no document's: the apply refuses it by name.
        let Some(version) = Version::new(doc.order) else {
            return Ok(None);
        };
        let Some(file) = self.log.recorded(doc.doc, version) else {
            return Ok(Some(format!(
                "a {} of version {} that the log this replica verified (size {}) does not record: it is taken once the manifest and log/ that record it are dropped",
                doc.doc,
                doc.order,
                head.checkpoint().checkpoint().size
            )));
        };
        let name = doc.path.display().to_string();
        let what = format!("{} {} as the log records it", doc.doc, doc.order);
        let checked = if doc.doc == DocType::Delta {
            verify::check_file(&what, &doc.bytes, &file)
        } else {
            let mut check = FileCheck::default();
            let io = |source| DaemonError::Io {
                action: "read",
                path: doc.path.clone(),
                source,
            };
            let mut reader = File::open(&doc.path).map_err(io)?;
            let mut piece = vec![0; 1 << 20];
            loop {
                let n = reader.read(&mut piece).map_err(io)?;
                if n == 0 {
                    break;
                }
                check.update(&piece[..n]);
            }
            check.finish(&what, &file)
        };
        checked.map_err(|source| DaemonError::Verify { file: name, source })?;
        Ok(None)
    }

    /// Checks that a dropped root no newer than the one in force is one of the
    /// pinned chain, byte for byte: the configured root, or one kept when it
    /// was pinned on first use or rotated to. Any other (another centre's,
    /// or one older than the pinned root, which cannot be checked) is refused
    /// rather than filed as held.
    fn held_root(&self, doc: &Dropped) -> Result<(), DaemonError> {
        let sha256 = Sha256::of(&doc.bytes);
        let kept = Version::new(doc.order).is_some_and(|version| {
            self.files.has(
                &FileRef {
                    version,
                    sha256,
                    size: doc.bytes.len() as u64,
                }
                .path(DocType::Root),
            )
        });
        let configured = self
            .config
            .trust_root
            .as_ref()
            .and_then(|path| std::fs::read(path).ok())
            .is_some_and(|bytes| Sha256::of(&bytes) == sha256);
        if kept || configured {
            return Ok(());
        }
        let current = self.trusted_root_version().map_or(0, Version::get);
        Err(DaemonError::Inconsistent {
            file: doc.path.display().to_string(),
            reason: format!(
                "trust root version {} (sha256 {sha256}) is not one of the pinned chain (at version {current}): signed by other keys, or older than the root pinned; refused",
                doc.order
            ),
        })
    }
}

enum Taken {
    Applied,
    AlreadyHeld,
    /// Left in place for a later round.
    Waiting(Wait),
}

/// How far ahead of this replica's clock, in seconds, a dropped delta may be
/// dated and still wait for it (W1); one dated further is rejected.
const MAX_CLOCK_WAIT: u64 = 86_400;

/// What a file left in place waits for.
enum Wait {
    /// Its turn: the versions before it, or a trust root.
    Turn,
    /// What the reason says (a registry, a root, the log that records it).
    For(String),
    /// This replica's clock to reach a time, and why.
    Until(SystemTime, String),
}

/// Whether a delta refused for `error` may verify later, and what it
/// waits for:
/// - a newer agency registry or trust root, when no registry is held yet,
///   a carried submission's key is in none held, or a carried override's
///   keys are not (yet) the root's override keys: the courier may bring it;
/// - this replica's clock, when the delta is dated ahead of it (W1): its
///   date decides which listings have expired, so it is not taken before
///   the clock is near it, but a courier from a site whose clock runs
///   ahead may bring it early. Up to [`MAX_CLOCK_WAIT`] ahead: one dated
///   further is refused, so that a centre whose clock is wrong is told, and
///   the deltas after it do not wait behind it.
fn authority_wait(error: &AuthorityError, version: u64) -> Option<Wait> {
    let for_keys = match error {
        AuthorityError::NoRegistry { .. } => true,
        AuthorityError::Submission { source, .. } => {
            matches!(**source, SubmissionError::UnknownKey { .. })
        }
        AuthorityError::Override { source, .. } => matches!(
            **source,
            VerifyError::UnknownKey { .. } | VerifyError::NoOverrideKeys { .. }
        ),
        AuthorityError::MadeInTheFuture { created_at, now }
            if created_at.0 <= now.0.saturating_add(MAX_CLOCK_WAIT) =>
        {
            let from = created_at
                .0
                .saturating_sub(MAX_CLOCK_SKEW)
                .saturating_add(1);
            return Some(Wait::Until(
                SystemTime::UNIX_EPOCH + Duration::from_secs(from),
                format!("a delta of version {version} dated ahead of this replica's clock, taken once the clock reaches it: {error}"),
            ));
        }
        _ => false,
    };
    for_keys.then(|| {
        Wait::For(format!(
            "a delta of version {version} waiting for the agency registry or trust root that makes it verify: {error}"
        ))
    })
}

/// Moves a dropped file into `folder` (`processed/`, `rejected/`).
fn move_to(inbox: &Path, path: &Path, folder: &str) {
    let dir = inbox.join(folder);
    let target = dir.join(path.file_name().unwrap_or_default());
    if let Err(e) = std::fs::create_dir_all(&dir).and_then(|()| std::fs::rename(path, &target)) {
        warn!(file = %path.display(), error = %e, "cannot move dropped file to {folder}/");
    }
}

/// Candidate files: regular, not hidden, at the top or in a layout folder.
fn scan(inbox: &Path) -> HashMap<PathBuf, Stamp> {
    let mut found = HashMap::new();
    let dirs = std::iter::once(inbox.to_path_buf())
        .chain(FOLDER_TYPES.iter().map(|doc| inbox.join(doc.folder())));
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') || name.ends_with(".tmp") || name.ends_with(".part") {
                continue;
            }
            if let Ok(meta) = entry.metadata() {
                if meta.is_file() {
                    let stamp = Stamp {
                        len: meta.len(),
                        modified: meta.modified().ok(),
                        changed: (meta.ctime(), meta.ctime_nsec()),
                        inode: meta.ino(),
                    };
                    found.insert(entry.path(), stamp);
                }
            }
        }
    }
    found
}

/// Reads a dropped file, never more than the cap for its type: the length
/// measured by the scan against the largest cap, then the header, which
/// names the type, then the rest through a reader that stops past the cap
/// (the file may have grown since it was measured).
fn read_dropped(path: &Path, stamp: Stamp, config: &Config) -> Result<Dropped, Unfit> {
    let largest = [
        DocType::Root,
        DocType::Manifest,
        DocType::Delta,
        DocType::Snapshot,
    ]
    .into_iter()
    .filter_map(|doc| cap(doc, config))
    .max()
    .unwrap_or(0);
    if stamp.len > largest {
        return Err(Unfit::LargerThanAny {
            len: stamp.len,
            cap: largest,
        });
    }
    let mut file = File::open(path)?;
    let mut bytes = Vec::new();
    (&mut file)
        .take(HEADER_LEN as u64)
        .read_to_end(&mut bytes)?;
    let header = envelope::parse_header(&bytes).map_err(unfit)?;
    let doc = header.doc_type;
    let cap = cap(doc, config).ok_or(Unfit::ForTheCentre { doc })?;
    if stamp.len > cap {
        return Err(Unfit::TooLarge {
            doc,
            len: stamp.len,
            cap,
        });
    }
    let announced = header.min_document_len();
    if announced > cap {
        return Err(Unfit::AnnouncesTooMuch {
            doc,
            announced,
            cap,
        });
    }
    if stamp.len < announced {
        return Err(Unfit::Incomplete(DecodeError::Truncated {
            doc: doc.name(),
            field: "document",
            needed: announced,
            available: stamp.len,
        }));
    }
    if doc == DocType::Snapshot {
        // Only the version is read here; the whole file is verified as it
        // streams into the store.
        let payload = std::io::BufReader::new(file.take(header.payload_len));
        let (head, _) = SnapshotStream::open(payload, header.payload_len).map_err(unfit)?;
        return Ok(Dropped {
            path: path.to_owned(),
            stamp,
            doc,
            order: head.version.get(),
            bytes: Vec::new(),
        });
    }
    file.take(cap + 1 - bytes.len() as u64)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Err(Unfit::TooLarge {
            doc,
            len: bytes.len() as u64,
            cap,
        });
    }
    classify(path, stamp, bytes)
}

/// A decode error as a verdict: truncation may be mended by the writer
/// finishing; nothing else can be.
fn unfit(error: DecodeError) -> Unfit {
    match error {
        DecodeError::Truncated { .. } => Unfit::Incomplete(error),
        other => Unfit::NotADocument(other),
    }
}

/// Reads the envelope type and the version (or serial), without trusting either.
fn classify(path: &Path, stamp: Stamp, bytes: Vec<u8>) -> Result<Dropped, Unfit> {
    let env = envelope::parse(&bytes).map_err(unfit)?;
    let doc = env.doc_type;
    let order = match doc {
        DocType::Root => TrustRoot::decode_payload(env.payload).map(|r| r.version.get()),
        DocType::Delta => Delta::decode_payload(env.payload).map(|d| d.version.get()),
        DocType::Snapshot => SnapshotStream::open(env.payload, env.payload.len() as u64)
            .map(|(head, _)| head.version.get()),
        DocType::Manifest => Manifest::decode_payload(env.payload).map(|m| m.serial),
        DocType::Registry => Registry::decode_payload(env.payload).map(|r| r.version.get()),
        DocType::Submission | DocType::Acknowledgement | DocType::Override | DocType::Receipt => {
            return Err(Unfit::ForTheCentre { doc })
        }
    }
    // The envelope is whole: a payload that does not decode stays so.
    .map_err(Unfit::NotADocument)?;
    Ok(Dropped {
        path: path.to_owned(),
        stamp,
        doc,
        order,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use blocklist_core::Timestamp;

    use super::*;

    #[test]
    fn a_delta_dated_ahead_of_the_clock_waits_until_the_clock_is_within_the_skew() {
        let error = AuthorityError::MadeInTheFuture {
            created_at: Timestamp(1_000_003_600),
            now: Timestamp(1_000_000_000),
        };
        let Some(Wait::Until(until, reason)) = authority_wait(&error, 7) else {
            panic!("a delta dated ahead waits for the clock");
        };
        let from = 1_000_003_600 - MAX_CLOCK_SKEW + 1;
        assert_eq!(until, SystemTime::UNIX_EPOCH + Duration::from_secs(from));
        assert!(
            reason.contains("version 7") && reason.contains("(W1)"),
            "{reason}"
        );
        let far = AuthorityError::MadeInTheFuture {
            created_at: Timestamp(1_000_000_000 + MAX_CLOCK_WAIT + 1),
            now: Timestamp(1_000_000_000),
        };
        assert!(
            authority_wait(&far, 7).is_none(),
            "a day ahead and more is refused"
        );
    }

    #[test]
    fn a_delta_waits_for_keys_not_yet_held_and_is_refused_for_anything_else() {
        let waits = authority_wait(&AuthorityError::NoRegistry { count: 1 }, 3);
        assert!(matches!(waits, Some(Wait::For(ref why)) if why.contains("agency registry")));
        let late = AuthorityError::OverrideAfterDelta {
            index: 0,
            made_at: Timestamp(2_000),
            created_at: Timestamp(1_000),
        };
        assert!(authority_wait(&late, 3).is_none());
        let outcome = DropOutcome {
            pending: false,
            due_in: Some(Duration::from_secs(2)),
        };
        let config = DropConfig::default();
        assert_eq!(
            outcome.next_look(&config),
            Duration::from_secs(2).min(config.rescan_interval)
        );
    }
}
