//! The intake service's drop folder (`--intake-drop FOLDER`), for agencies
//! without a network path: each `NAME.submission` file at the top of the
//! folder is judged exactly as a `POST /v1/submissions` is.
//!
//! - accepted (or accepted before: the same bytes): the signed
//!   acknowledgement is written as `NAME.ack` beside it (atomically), then
//!   the submission is moved to `accepted/`;
//! - refused: the submission is moved to `refused/`, with `NAME.error`
//!   holding the message (the rule and the operation);
//! - the centre unable to judge now (no registry yet, a disk error): left
//!   in place, and tried again at the next look.
//!
//! Only names ending in `.submission` are read, and never one starting with
//! a dot: a file is written under another name (`NAME.submission.tmp`,
//! `.NAME.submission`) and renamed when complete, so a partial file is
//! never judged. The folder is looked at when the watcher reports a file
//! created, written or moved in ([`crate::folder_watch`]), and every
//! [`RESCAN`] in case an event was missed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use blocklist_core::atomic_file;
use tokio::sync::{mpsc, watch};
use tracing::{info, warn};

use crate::centre::service::{stopped, Intake, Offered};
use crate::centre::CentreError;

/// Where accepted submissions go, inside the folder.
pub const ACCEPTED_DIR: &str = "accepted";
/// Where refused submissions go, with their `.error`, inside the folder.
pub const REFUSED_DIR: &str = "refused";
/// What a submission file's name ends with.
pub const SUBMISSION_SUFFIX: &str = ".submission";

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

/// Judges every submission file in `folder` once, in name order.
pub fn round(intake: &Intake, folder: &Path) -> Result<(), CentreError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(CentreError::io("read", folder))?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            let wanted = name.ends_with(SUBMISSION_SUFFIX)
                && !name.starts_with('.')
                && entry.file_type().ok()?.is_file();
            wanted.then(|| entry.path())
        })
        .collect();
    files.sort();
    for file in files {
        if let Err(error) = take(intake, folder, &file) {
            // The centre's fault, not the file's: left for the next look.
            warn!(file = %file.display(), %error, "cannot judge a dropped submission now; left in place");
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
    let stem = name.strip_suffix(SUBMISSION_SUFFIX).unwrap_or(name);
    let shown = file.display().to_string();
    let len = std::fs::metadata(file)
        .map_err(CentreError::io("read", file))?
        .len();
    let offered = if len > intake.max_submission_bytes() {
        Err(CentreError::TooLarge {
            file: shown.clone(),
            limit: intake.max_submission_bytes(),
        })
    } else {
        let bytes = std::fs::read(file).map_err(CentreError::io("read", file))?;
        intake.offer(bytes, &shown)
    };
    match offered {
        Ok(Offered::Accepted(record) | Offered::Known(record)) => {
            // The acknowledgement first: a kill between the two leaves the
            // file to be offered again, and answered with the same one.
            atomic_file::write_file_via(folder, &folder.join(format!("{stem}.ack")), &record.ack)?;
            atomic_file::publish_file(file, &folder.join(ACCEPTED_DIR).join(name))?;
            Ok(())
        }
        Err(refused) if refused.refuses_submission() => {
            info!(file = %shown, error = %refused, "dropped submission refused");
            let refused_dir = folder.join(REFUSED_DIR);
            atomic_file::write_file_via(
                &refused_dir,
                &refused_dir.join(format!("{stem}.error")),
                format!("{refused}\n").as_bytes(),
            )?;
            atomic_file::publish_file(file, &refused_dir.join(name))?;
            Ok(())
        }
        Err(failed) => Err(failed),
    }
}
