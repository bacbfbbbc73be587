//! Taking agencies' signed submissions into a version (`blocklist publish
//! --submission`): each file is verified against the directory's newest
//! agency registry at the publish time ([`verify_submission`]), its
//! sequence checked against the last one accepted from its key, and its
//! operations judged by the ownership rules ([`ownership`]) with the agency
//! its signature belongs to. Any refusal refuses the whole publish: nothing
//! of a refused submission is applied, and no other submission of the same
//! run either (the operator drops the refused file and runs again).
//!
//! The last sequence accepted per signing key is kept in
//! `.centre/submission-sequences` (one `key-id-hex sequence` line per key),
//! written once the version carrying the submissions is listed.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use blocklist_core::document::{envelope, Registry};
use blocklist_core::keys::KeyId;
use blocklist_core::store::Store;
use blocklist_core::verify::{verify_submission, Verified, Verifier};
use blocklist_core::{Agency, Timestamp};

use crate::centre::ownership::{self, Change};
use crate::centre::publish_dir::{DirLock, PublishDir, CENTRE_DIR};
use crate::centre::registry::Registries;
use crate::centre::CentreError;

/// The largest submission file the centre reads: a million operations of
/// the longest identifiers fit (U4), and nothing larger is held in memory.
pub const MAX_SUBMISSION_SIZE: u64 = 1 << 30;

/// Where the last accepted sequence of each key is kept, in [`CENTRE_DIR`].
const SEQUENCES_FILE: &str = "submission-sequences";

/// Submissions accepted for one version: the changes they make, and the
/// sequences to record once it is listed.
#[derive(Debug, Default)]
pub struct Accepted {
    /// Every change, in the order of the files and their operations.
    pub changes: Vec<Change>,
    /// Per file: its agency, sequence and operation count, for the report.
    pub submissions: Vec<AcceptedSubmission>,
    /// The newest sequence per signing key, the ones accepted included.
    sequences: BTreeMap<KeyId, u64>,
}

/// One submission taken into the version.
#[derive(Debug, Clone)]
pub struct AcceptedSubmission {
    /// The file.
    pub file: PathBuf,
    /// The agency its signature belongs to.
    pub agency: Agency,
    /// Its sequence number.
    pub sequence: u64,
    /// Its operations (some may change nothing).
    pub operations: usize,
    /// Whether it asked to be published at once.
    pub urgent: bool,
}

/// Verifies and judges `files` against the list in `store`, at `now`. The
/// registry is the newest in the directory, accepted under `verifier` (the
/// newest trust root).
pub fn accept(
    dir: &PublishDir,
    verifier: &Verifier,
    store: &Store,
    files: &[PathBuf],
    now: Timestamp,
) -> Result<Accepted, CentreError> {
    if files.is_empty() {
        return Ok(Accepted::default());
    }
    let registry = newest_registry(dir, verifier)?;
    let list = &verifier.root().list;
    let mut accepted = Accepted {
        sequences: read_sequences(dir)?,
        ..Accepted::default()
    };
    let mut named: HashSet<blocklist_core::Identifier> = HashSet::new();
    for file in files {
        let bytes = read_capped(file)?;
        let shown = file.display().to_string();
        let submission = verify_submission(&bytes, &registry, list, now).map_err(|source| {
            CentreError::Submission {
                file: shown.clone(),
                source: Box::new(source),
            }
        })?;
        // The one signature's key: the bytes parsed and verified just above.
        let key = envelope::parse(&bytes)
            .map(|env| env.signatures[0].key_id)
            .expect("a verified submission parses, with one signature");
        let sequence = submission.sequence.get();
        if let Some(&last) = accepted
            .sequences
            .get(&key)
            .filter(|&&last| sequence <= last)
        {
            return Err(CentreError::SubmissionReplay {
                file: shown,
                agency: submission.agency.clone(),
                key,
                sequence,
                last,
            });
        }
        accepted.sequences.insert(key, sequence);
        if let Some(op) = submission.ops.iter().find(|op| named.contains(op.id())) {
            return Err(CentreError::usage(format!(
                "{shown}: {} is also named by an earlier submission of this publish: publish them one at a time",
                op.id()
            )));
        }
        named.extend(submission.ops.iter().map(|op| op.id().clone()));
        let planned = ownership::plan(&submission.agency, &submission.ops, now, |id| {
            store.listed(id)
        })?;
        match planned {
            Ok(changes) => accepted.changes.extend(changes),
            Err(refusals) => {
                return Err(CentreError::SubmissionRefused {
                    file: shown,
                    agency: submission.agency.clone(),
                    refusals,
                })
            }
        }
        accepted.submissions.push(summary(file, &submission));
    }
    Ok(accepted)
}

impl Accepted {
    /// Records the sequences accepted: called once the version (or the
    /// re-signed manifest, when they changed nothing) is listed.
    pub fn record(&self, dir: &PublishDir, lock: &DirLock) -> Result<(), CentreError> {
        if self.submissions.is_empty() {
            return Ok(());
        }
        let text: String = self
            .sequences
            .iter()
            .map(|(key, sequence)| format!("{} {sequence}\n", hex::encode(key.0)))
            .collect();
        dir.write_private(lock, &sequences_path(), text.as_bytes())
    }
}

fn summary(
    file: &Path,
    submission: &Verified<blocklist_core::document::Submission>,
) -> AcceptedSubmission {
    AcceptedSubmission {
        file: file.to_owned(),
        agency: submission.agency.clone(),
        sequence: submission.sequence.get(),
        operations: submission.ops.len(),
        urgent: submission.urgent,
    }
}

/// The newest agency registry of the directory, its chain checked under
/// `verifier` (the newest trust root).
fn newest_registry(dir: &PublishDir, verifier: &Verifier) -> Result<Registry, CentreError> {
    match Registries::scan(dir, verifier)?.current() {
        Some(registry) => Ok(registry.clone().into_inner()),
        None => Err(CentreError::usage(format!(
            "{} has no agency registry: register the agencies first (blocklist agency add)",
            dir.path().display()
        ))),
    }
}

fn sequences_path() -> String {
    format!("{CENTRE_DIR}/{SEQUENCES_FILE}")
}

/// The last sequence accepted per key (none before the first submission).
fn read_sequences(dir: &PublishDir) -> Result<BTreeMap<KeyId, u64>, CentreError> {
    let rel = sequences_path();
    let path = dir.path().join(&rel);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(source) => {
            return Err(CentreError::Io {
                action: "read",
                path,
                source,
            })
        }
    };
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let bad = || CentreError::Inconsistent {
            file: format!("{}:{}", path.display(), n + 1),
            reason: format!("{line:?} is not \"<key id hex> <sequence>\""),
        };
        let (key, sequence) = line.split_once(' ').ok_or_else(bad)?;
        let key: [u8; 32] = hex::decode(key)
            .ok()
            .and_then(|k| k.try_into().ok())
            .ok_or_else(bad)?;
        out.insert(KeyId(key), sequence.parse().map_err(|_| bad())?);
    }
    Ok(out)
}

/// Reads a submission file, refusing one larger than [`MAX_SUBMISSION_SIZE`]
/// before reading it.
fn read_capped(file: &Path) -> Result<Vec<u8>, CentreError> {
    let len = std::fs::metadata(file)
        .map_err(CentreError::io("read", file))?
        .len();
    if len > MAX_SUBMISSION_SIZE {
        return Err(CentreError::TooLarge {
            file: file.display().to_string(),
            limit: MAX_SUBMISSION_SIZE,
        });
    }
    std::fs::read(file).map_err(CentreError::io("read", file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_sequences_are_read_back_and_a_damaged_file_is_named_with_its_line() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PublishDir::create(&tmp.path().join("pub")).unwrap();
        let lock = dir.lock().unwrap();
        assert!(read_sequences(&dir).unwrap().is_empty());
        let accepted = Accepted {
            submissions: vec![AcceptedSubmission {
                file: PathBuf::from("a.submission"),
                agency: Agency::new("th-aoc").unwrap(),
                sequence: 42,
                operations: 1,
                urgent: false,
            }],
            sequences: [(KeyId([7; 32]), 42), (KeyId([1; 32]), 9)].into(),
            ..Accepted::default()
        };
        accepted.record(&dir, &lock).unwrap();
        assert_eq!(read_sequences(&dir).unwrap(), accepted.sequences);

        let path = dir.path().join(sequences_path());
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("not a line\n");
        std::fs::write(&path, text).unwrap();
        let err = read_sequences(&dir).unwrap_err().to_string();
        assert!(
            err.contains("submission-sequences:3") && err.contains("\"not a line\""),
            "{err}"
        );
    }
}
