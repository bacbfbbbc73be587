//! What a replica keeps of the transparency log, in `log.db` in its data
//! folder: the newest checkpoint it verified with the right edge of that
//! tree, and every record up to it. A newer checkpoint is taken only as an
//! extension of this one (`blocklist_core::log::follow`), and every file a
//! manifest lists must be one of the records, so a directory whose history
//! is not the one this replica saw is refused, and lookups stay on the last
//! good version.
//!
//! Once a replica holds a checkpoint it never goes back to a feed without
//! one: a manifest without a checkpoint is refused from then on.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use blocklist_core::document::{DocType, FileRef, Manifest, Version};
use blocklist_core::log::{Frontier, LogHead, Record, SignedCheckpoint};
use blocklist_core::Sha256;
use rusqlite::{params, Connection, OptionalExtension as _};

use crate::daemon::DaemonError;

/// The file, in the data folder.
pub const KEPT_LOG_FILE: &str = "log.db";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    checkpoint BLOB NOT NULL,
    peaks BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    idx INTEGER PRIMARY KEY,
    entry BLOB NOT NULL
);
";

/// The log a replica verified.
pub struct KeptLog {
    path: PathBuf,
    db: Connection,
    head: Option<LogHead>,
    records: HashSet<Record>,
}

impl KeptLog {
    /// Opens (or creates) `log.db` in `data_dir`, checking that the records
    /// kept give the checkpoint kept.
    pub fn open(data_dir: &Path) -> Result<KeptLog, DaemonError> {
        let path = data_dir.join(KEPT_LOG_FILE);
        let kept = |reason: String| DaemonError::KeptLog {
            path: path.clone(),
            reason,
        };
        let db = Connection::open(&path).map_err(|e| kept(e.to_string()))?;
        db.execute_batch(SCHEMA).map_err(|e| kept(e.to_string()))?;
        let stored: Option<(Vec<u8>, Vec<u8>)> = db
            .query_row("SELECT checkpoint, peaks FROM head", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
            .map_err(|e| kept(e.to_string()))?;
        let mut records = HashSet::new();
        let mut frontier = Frontier::default();
        {
            let mut rows = db
                .prepare("SELECT idx, entry FROM records ORDER BY idx")
                .map_err(|e| kept(e.to_string()))?;
            let mut rows = rows.query([]).map_err(|e| kept(e.to_string()))?;
            while let Some(row) = rows.next().map_err(|e| kept(e.to_string()))? {
                let (index, entry): (i64, Vec<u8>) = (
                    row.get(0).map_err(|e| kept(e.to_string()))?,
                    row.get(1).map_err(|e| kept(e.to_string()))?,
                );
                let index = index as u64;
                if index != frontier.size() {
                    return Err(kept(format!(
                        "record {index} kept where {} was due",
                        frontier.size()
                    )));
                }
                records.insert(Record::parse(index, &entry).map_err(|e| kept(e.to_string()))?);
                frontier.push(blocklist_core::log::tree::leaf_hash(&entry));
            }
        }
        let head = match stored {
            None if records.is_empty() => None,
            None => return Err(kept("records are kept without a checkpoint".to_owned())),
            Some((checkpoint, peaks)) => {
                let checkpoint =
                    SignedCheckpoint::parse(&checkpoint).map_err(|e| kept(e.to_string()))?;
                let peaks = peaks
                    .chunks_exact(32)
                    .map(|p| Sha256(p.try_into().expect("32-byte chunks")))
                    .collect();
                let edge = Frontier::from_peaks(checkpoint.checkpoint().size, peaks)
                    .filter(|edge| *edge == frontier)
                    .ok_or_else(|| {
                        kept("the kept records do not give the kept edge of the log".to_owned())
                    })?;
                Some(LogHead::restore(checkpoint, edge).map_err(|e| kept(e.to_string()))?)
            }
        };
        Ok(KeptLog {
            path,
            db,
            head,
            records,
        })
    }

    /// The checkpoint and every entry kept in the `log.db` at `path` (a
    /// replica's, copied to the centre), read only: what `blocklist
    /// restore-log` takes back into a centre restored from a backup.
    pub fn exported(path: &Path) -> Result<(SignedCheckpoint, Vec<Vec<u8>>), DaemonError> {
        let kept = |e: rusqlite::Error| DaemonError::KeptLog {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let db = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(kept)?;
        let checkpoint: Vec<u8> = db
            .query_row("SELECT checkpoint FROM head", [], |r| r.get(0))
            .map_err(kept)?;
        let checkpoint =
            SignedCheckpoint::parse(&checkpoint).map_err(|e| DaemonError::KeptLog {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        let entries = db
            .prepare("SELECT entry FROM records ORDER BY idx")
            .and_then(|mut rows| {
                rows.query_map([], |r| r.get::<_, Vec<u8>>(0))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .map_err(kept)?;
        Ok((checkpoint, entries))
    }

    /// The newest checkpoint verified, with its tree's edge.
    pub fn head(&self) -> Option<&LogHead> {
        self.head.as_ref()
    }

    /// Keeps `head` and the `new` records that extend the log to it, in one
    /// transaction.
    pub fn keep(&mut self, head: LogHead, new: Vec<Record>) -> Result<(), DaemonError> {
        let path = self.path.clone();
        let kept = |e: rusqlite::Error| DaemonError::KeptLog {
            path: path.clone(),
            reason: e.to_string(),
        };
        let from = self
            .head
            .as_ref()
            .map_or(0, |h| h.checkpoint().checkpoint().size);
        let tx = self.db.transaction().map_err(kept)?;
        {
            let mut insert = tx
                .prepare("INSERT INTO records (idx, entry) VALUES (?1, ?2)")
                .map_err(kept)?;
            for (i, record) in new.iter().enumerate() {
                insert
                    .execute(params![(from + i as u64) as i64, record.to_bytes()])
                    .map_err(kept)?;
            }
        }
        let peaks: Vec<u8> = head.frontier().peaks().iter().flat_map(|p| p.0).collect();
        tx.execute(
            "INSERT OR REPLACE INTO head (id, checkpoint, peaks) VALUES (1, ?1, ?2)",
            params![head.checkpoint().as_bytes(), peaks],
        )
        .map_err(kept)?;
        tx.commit().map_err(kept)?;
        self.records.extend(new);
        self.head = Some(head);
        Ok(())
    }

    /// The file the log records as `doc` of `version`, if any.
    pub fn recorded(&self, doc: DocType, version: Version) -> Option<FileRef> {
        self.records
            .iter()
            .find(|r| r.doc == doc && r.file.version == version)
            .map(|r| r.file)
    }

    /// The first file `manifest` lists that the log does not record, if any.
    pub fn first_unrecorded(&self, manifest: &Manifest) -> Option<Record> {
        Record::listed_by(manifest)
            .into_iter()
            .find(|r| !self.records.contains(r))
    }
}
