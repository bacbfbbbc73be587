//! `blocklist witness`: what an independent party (a regulator, the central
//! bank) runs to vouch that the centre shows one history. Each run reads the
//! log's checkpoint from a publish directory or URL, checks that it extends
//! the last one this witness cosigned (the entries between the two, appended
//! to the edge it keeps, must give the new root), and only then cosigns it
//! (`blocklist_core::log::witness`). A fork or a log that shrank is refused,
//! and nothing is cosigned or kept.
//!
//! The witness keeps, in its state folder, the log it verified (`log.db`, as
//! a replica keeps it, so `blocklist restore-log --from` takes it too) and
//! the newest trust root it followed (`root`): checkpoints are signed by the
//! publish keys of the root in force, and a root recorded in the log is
//! fetched and taken only as a rotation the root before it signed.

use std::path::Path;

use blocklist_core::document::DocType;
use blocklist_core::log::checkpoint::MAX_CHECKPOINT_LEN;
use blocklist_core::log::{LogError, LogHead, Record, SignedCheckpoint, CHECKPOINT_PATH, LOG_DIR};
use blocklist_core::verify::{check_file, Verifier};
use blocklist_core::{atomic_file, Signer};

use crate::centre::log::entries;
use crate::centre::source::{self, Source, MAX_ROOT_SIZE};
use crate::centre::CentreError;
use crate::daemon::log::KeptLog;

/// The newest root the witness followed, in its state folder.
const ROOT_FILE: &str = "root";

/// What one run of the witness did.
#[derive(Debug)]
pub struct Witnessed {
    /// The size of the log cosigned before (0 on a first run).
    pub from: u64,
    /// The checkpoint with this witness's cosignature added.
    pub cosigned: SignedCheckpoint,
}

/// Checks the log `target` (a publish directory, or an http(s) URL of one or
/// of a mirror) serves against the log kept in `state` (created on a first
/// run, which pins `anchor`, the list's first trust root) and cosigns its
/// checkpoint as `name` with `signer` at `now` (seconds since the epoch).
pub fn witness(
    target: &str,
    state: &Path,
    anchor: &Path,
    name: &str,
    signer: &dyn Signer,
    now: u64,
) -> Result<Witnessed, CentreError> {
    std::fs::create_dir_all(state).map_err(CentreError::io("create", state))?;
    let source = source::open(target)?;
    let root_path = state.join(ROOT_FILE);
    let pinned = if root_path.exists() {
        &root_path
    } else {
        anchor
    };
    let root = std::fs::read(pinned).map_err(CentreError::io("read", pinned))?;
    let mut verifier = Verifier::pin(&root).map_err(|source| CentreError::Verify {
        file: pinned.display().to_string(),
        source,
    })?;
    let kept_failed = |e: crate::daemon::DaemonError| CentreError::Inconsistent {
        file: state
            .join(crate::daemon::log::KEPT_LOG_FILE)
            .display()
            .to_string(),
        reason: e.to_string(),
    };
    let mut kept = KeptLog::open(state).map_err(kept_failed)?;

    let rel = format!("{LOG_DIR}/{CHECKPOINT_PATH}");
    let file = source.name(&rel);
    let refused = |source: LogError| CentreError::Log {
        file: file.clone(),
        source,
    };
    let offered = SignedCheckpoint::parse(&source.fetch(&rel, MAX_CHECKPOINT_LEN as u64)?)
        .map_err(refused)?;
    let held = kept.head().map_or(0, |h| h.checkpoint().checkpoint().size);
    let size = offered.checkpoint().size;
    if size < held {
        return Err(refused(LogError::Shrank {
            held,
            offered: size,
        }));
    }
    let new = entries(source.as_ref(), held, size)?;
    if let Some(bytes) = follow_roots(source.as_ref(), &mut verifier, held, &new)? {
        // Kept before the log, so a run killed between the two finds the
        // root it needs for the next checkpoint.
        atomic_file::write_file_via(state, &root_path, &bytes)?;
    }
    let root = verifier.root();
    let (head, records) =
        LogHead::extend(kept.head(), offered, &root.list, &root.publish_keys, new)
            .map_err(refused)?;
    let cosigned = head
        .checkpoint()
        .cosign(name, signer, now)
        .map_err(|source| CentreError::Encode {
            what: format!("the cosignature of {file}"),
            source,
        })?;
    kept.keep(head, records).map_err(kept_failed)?;
    Ok(Witnessed {
        from: held,
        cosigned,
    })
}

/// Takes, in order, each trust root that `entries` (the log's from index
/// `from`) record past the one `verifier` holds, fetched from `source` and
/// checked against its record; returns the newest one's bytes, if any.
fn follow_roots(
    source: &dyn Source,
    verifier: &mut Verifier,
    from: u64,
    entries: &[Vec<u8>],
) -> Result<Option<Vec<u8>>, CentreError> {
    let mut newest = None;
    for (entry, index) in entries.iter().zip(from..) {
        let record = Record::parse(index, entry).map_err(|e| CentreError::Log {
            file: source.name(&format!("{LOG_DIR}/tile/entries")),
            source: e,
        })?;
        if record.doc != DocType::Root || record.file.version <= verifier.root().version {
            continue;
        }
        let rel = record.file.path(DocType::Root);
        let bytes = source.fetch(&rel, MAX_ROOT_SIZE)?;
        let failed = |e| CentreError::Verify {
            file: source.name(&rel),
            source: e,
        };
        check_file("trust root", &bytes, &record.file).map_err(failed)?;
        verifier.rotate(&bytes).map_err(failed)?;
        newest = Some(bytes);
    }
    Ok(newest)
}
