//! The intake service's drop folder (`--intake-drop FOLDER`), for agencies,
//! override key holders and replicas without a network path: each
//! `NAME.submission`, `NAME.override` or `NAME.receipt` file at the top of
//! the folder is judged exactly as a `POST /v1/submissions`, `POST
//! /v1/overrides` or `POST /v1/receipts` is, as the document type in its
//! envelope says (not its name).
//!
//! - accepted (or accepted before: the same bytes): the answer is written
//!   beside it (atomically), then the file is moved to `accepted/`: for a
//!   submission the signed acknowledgement, `NAME.ack` (the name `blocklist
//!   submit --send` gives it); for an override, which gets none, its
//!   standing as `GET /v1/overrides/{id}` answers it,
//!   `NAME.override.accepted.json` (the version that will carry it); for a
//!   replica's receipt, `NAME.receipt.accepted.json` as `POST /v1/receipts`
//!   answers;
//! - refused: the file is moved to `refused/`, with `NAME.SUFFIX.error`
//!   (`NAME.submission.error`, ...) holding the message (the rule and the
//!   operation or listing).
//!
//! Answers other than the acknowledgement carry the whole file name, so
//! that `X.submission` and `X.override`, dropped by different senders,
//! never write one answer over the other's.
//! - the centre unable to judge now (no registry yet, a disk error): left
//!   in place, and tried again at the next look.
//!
//! Only names ending in `.submission`, `.override` or `.receipt` are read, and never one
//! starting with a dot: a file is written under another name
//! (`NAME.submission.tmp`, `.NAME.override`) and renamed when complete, so
//! a partial file is never judged. The folder is looked at when the watcher reports a file
//! created, written or moved in ([`crate::folder_watch`]), and every
//! [`RESCAN`] in case an event was missed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use blocklist_core::atomic_file;
use blocklist_core::document::envelope::{self, HEADER_LEN};
use blocklist_core::document::DocType;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use blocklist_core::Timestamp;

use crate::centre::overrides::MAX_OVERRIDE_SIZE;
use crate::centre::queue::State;
use crate::centre::receipts::MAX_RECEIPT_SIZE;
use crate::centre::service::{routes, stopped, Intake, Offered, OfferedWork};
use crate::centre::CentreError;

/// Where accepted submissions go, inside the folder.
pub const ACCEPTED_DIR: &str = "accepted";
/// Where refused files go, with their `.error`, inside the folder.
pub const REFUSED_DIR: &str = "refused";
/// What a submission file's name ends with.
pub const SUBMISSION_SUFFIX: &str = ".submission";
/// What an override file's name ends with.
pub const OVERRIDE_SUFFIX: &str = ".override";
/// What a replica's receipt file's name ends with.
pub const RECEIPT_SUFFIX: &str = ".receipt";

/// How often the folder is looked at without a watcher event: a safety net
/// for events lost (a network file system, a full event queue), slow
/// enough to cost nothing.
pub const RESCAN: Duration = Duration::from_secs(300);

/// A watched drop folder.
#[derive(Debug)]
pub struct Inbox {
    folder: PathBuf,
    /// "Look now", from the watcher (capacity 1: one pending is enough).
    looks: mpsc::Receiver<()>,
    _watcher: notify::RecommendedWatcher,
}

impl Inbox {
    /// Creates the folder and its `accepted/` and `refused/` if need be,
    /// and watches it.
    pub fn open(folder: PathBuf) -> Result<Inbox, CentreError> {
        for dir in [ACCEPTED_DIR, REFUSED_DIR] {
            let path = folder.join(dir);
            std::fs::create_dir_all(&path).map_err(CentreError::io("create", &path))?;
        }
        let (tx, looks) = mpsc::channel(1);
        let _ = tx.try_send(());
        let watcher =
            crate::folder_watch::watch(&folder, &[], tx).map_err(|e| CentreError::Serve {
                action: format!("watch the intake drop folder {}", folder.display()),
                source: std::io::Error::other(e),
            })?;
        Ok(Inbox {
            folder,
            looks,
            _watcher: watcher,
        })
    }

    /// Looks at the folder on each watcher event and every [`RESCAN`] until
    /// `stop` turns true.
    pub async fn run(mut self, intake: Arc<Intake>, mut stop: watch::Receiver<bool>) {
        info!(folder = %self.folder.display(), "watching the intake drop folder");
        loop {
            tokio::select! {
                biased;
                () = stopped(&mut stop) => break,
                Some(()) = self.looks.recv() => {}
                () = tokio::time::sleep(RESCAN) => {}
            }
            let (intake, folder) = (intake.clone(), self.folder.clone());
            match tokio::task::spawn_blocking(move || round(&intake, &folder)).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => warn!(%error, "intake drop folder round failed"),
                Err(error) => warn!(%error, "intake drop folder round panicked"),
            }
        }
    }
}

/// The part of `name` before its suffix, if it is a name the folder reads.
fn stem(name: &str) -> Option<&str> {
    if name.starts_with('.') {
        return None;
    }
    [SUBMISSION_SUFFIX, OVERRIDE_SUFFIX, RECEIPT_SUFFIX]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
}

/// Judges every submission, override and receipt file in `folder` once, in name order.
pub fn round(intake: &Intake, folder: &Path) -> Result<(), CentreError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(CentreError::io("read", folder))?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            let wanted = stem(&name).is_some() && entry.file_type().ok()?.is_file();
            wanted.then(|| entry.path())
        })
        .collect();
    files.sort();
    for file in files {
        if let Err(error) = take(intake, folder, &file) {
            // The centre's fault, not the file's: left for the next look.
            warn!(file = %file.display(), %error, "cannot judge a dropped file now; left in place");
        }
    }
    Ok(())
}

/// Judges one file and moves it where its outcome says.
fn take(intake: &Intake, folder: &Path, file: &Path) -> Result<(), CentreError> {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .expect("round lists UTF-8 names");
    let stem = stem(name).expect("round lists only names it reads");
    let shown = file.display().to_string();
    let offered =
        read_dropped_file(intake, file, &shown).and_then(|bytes| intake.offer_any(bytes, &shown));
    // Work accepted before and refused when published is refused again, as
    // over HTTP: its receipt would mislead.
    let refused_before = |what, id: &str, accepted_at: Timestamp, reason: Option<&str>| {
        Err(routes::refused_when_published_text(
            what,
            id,
            accepted_at.0,
            reason,
        ))
    };
    let receipt = match offered {
        Ok(OfferedWork::Submission(Offered::Known(record))) if record.state == State::Refused => {
            refused_before(
                "submission",
                &record.id,
                record.accepted_at,
                record.reason.as_deref(),
            )
        }
        Ok(OfferedWork::Override(Offered::Known(record))) if record.state == State::Refused => {
            refused_before(
                "override",
                &record.id,
                record.accepted_at,
                record.reason.as_deref(),
            )
        }
        Ok(OfferedWork::Submission(Offered::Accepted(record) | Offered::Known(record))) => {
            Ok((format!("{stem}.ack"), record.ack))
        }
        Ok(OfferedWork::Override(Offered::Accepted(record) | Offered::Known(record))) => {
            Ok(accepted_json(name, &routes::override_json(record)))
        }
        Ok(OfferedWork::Receipt(taken)) => Ok(accepted_json(name, &routes::receipt_json(&taken))),
        Err(refused) if refused.refuses_input() => Err(refused.to_string()),
        Err(failed) => return Err(failed),
    };
    let (receipt_name, receipt) = match receipt {
        Ok(receipt) => receipt,
        Err(message) => {
            info!(file = %shown, error = %message, "dropped file refused");
            let refused_dir = folder.join(REFUSED_DIR);
            atomic_file::write_file_via(
                &refused_dir,
                &refused_dir.join(format!("{name}.error")),
                format!("{message}\n").as_bytes(),
            )?;
            atomic_file::publish_file(file, &refused_dir.join(name))?;
            return Ok(());
        }
    };
    // The receipt first: a kill between the two leaves the file to be
    // offered again, and answered with the same one.
    atomic_file::write_file_via(folder, &folder.join(receipt_name), &receipt)?;
    atomic_file::publish_file(file, &folder.join(ACCEPTED_DIR).join(name))?;
    Ok(())
}

/// The answer to the file called `name`, `NAME.SUFFIX.accepted.json`,
/// holding `json`.
fn accepted_json(name: &str, json: &serde_json::Value) -> (String, Vec<u8>) {
    (
        format!("{name}.accepted.json"),
        format!("{json:#}\n").into_bytes(),
    )
}

/// Reads the dropped `file` (called `shown`), refusing it past the cap for
/// its type: the service's submission cap, [`MAX_OVERRIDE_SIZE`] for a
/// file whose envelope header says it is an override, [`MAX_RECEIPT_SIZE`]
/// for a receipt. The cap bounds the
/// read itself, not only the size the file had when it was looked at: a
/// file still growing is refused, never read whole.
fn read_dropped_file(intake: &Intake, file: &Path, shown: &str) -> Result<Vec<u8>, CentreError> {
    use std::io::Read as _;
    let mut opened = std::fs::File::open(file).map_err(CentreError::io("read", file))?;
    let mut bytes = Vec::with_capacity(HEADER_LEN);
    (&mut opened)
        .take(HEADER_LEN as u64)
        .read_to_end(&mut bytes)
        .map_err(CentreError::io("read", file))?;
    let limit = match envelope::parse_header(&bytes) {
        Ok(header) if header.doc_type == DocType::Override => MAX_OVERRIDE_SIZE,
        Ok(header) if header.doc_type == DocType::Receipt => MAX_RECEIPT_SIZE,
        _ => intake.max_submission_bytes(),
    };
    let too_large = || CentreError::TooLarge {
        file: shown.to_owned(),
        limit,
    };
    let len = opened
        .metadata()
        .map_err(CentreError::io("read", file))?
        .len();
    if len > limit {
        return Err(too_large());
    }
    opened
        .take(limit + 1 - bytes.len() as u64)
        .read_to_end(&mut bytes)
        .map_err(CentreError::io("read", file))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}
