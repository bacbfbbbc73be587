//! Taking agencies' signed submissions into a version: each submission is
//! verified against the directory's newest agency registry at the time the
//! centre accepted it ([`verify_submission`]), its sequence checked against
//! the last one accepted from its key, and its operations judged by the
//! ownership rules ([`ownership`]) with the agency its signature belongs to
//! ([`Judge`]). Nothing of a refused submission is applied.
//!
//! Two callers judge the same way: `blocklist publish --submission`, where
//! any refusal refuses the whole publish (the operator drops the refused
//! file and runs again), and the intake service
//! ([`crate::centre::service`]), which judges each submission as it
//! arrives and again when it publishes its queue, setting aside one that is
//! refused by then ([`PublishedBy`]).
//!
//! The last sequence accepted per signing key is kept in
//! `.centre/submission-sequences` (one `key-id-hex sequence` line per key),
//! written once the version carrying the submissions is listed, and in the
//! centre's store, which records those a delta carries as it applies it
//! ([`recorded_sequences`] takes the newer of the two).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use blocklist_core::document::{envelope, CarriedSubmission, ListId, Registry};
use blocklist_core::keys::KeyId;
use blocklist_core::store::Store;
use blocklist_core::verify::{verify_submission, Verifier};
use blocklist_core::{Agency, Identifier, Timestamp};

use crate::centre::publish_dir::{DirLock, PublishDir, CENTRE_DIR};
use crate::centre::registry::Registries;
use crate::centre::CentreError;
use blocklist_core::ownership::{self, Change};

/// The largest submission file the centre reads: a million operations of
/// the longest identifiers fit (U4), and nothing larger is held in memory.
pub const MAX_SUBMISSION_SIZE: u64 = 1 << 30;

/// Where the last accepted sequence of each key is kept, in [`CENTRE_DIR`].
const SEQUENCES_FILE: &str = "submission-sequences";

/// A submission to judge: its bytes, what to call it in messages and
/// reports, and when the centre accepted it (its listings are dated so, and
/// the agency's key must have been authorised then).
#[derive(Clone, Debug)]
pub struct SubmissionInput {
    /// The file's path, or the intake queue's id of it.
    pub name: String,
    /// The signed submission.
    pub bytes: Vec<u8>,
    /// When the centre accepted it.
    pub accepted_at: Timestamp,
}

impl SubmissionInput {
    /// Reads a submission file, refusing one larger than
    /// [`MAX_SUBMISSION_SIZE`] before reading it.
    ///
    /// ```
    /// use blocklist_core::Timestamp;
    /// use blocklistd::centre::intake::SubmissionInput;
    /// let dir = tempfile::tempdir().unwrap();
    /// let file = dir.path().join("a.submission");
    /// std::fs::write(&file, b"bytes").unwrap();
    /// let input = SubmissionInput::read(&file, Timestamp(5)).unwrap();
    /// assert_eq!((input.bytes.as_slice(), input.accepted_at), (&b"bytes"[..], Timestamp(5)));
    /// ```
    pub fn read(file: &Path, accepted_at: Timestamp) -> Result<SubmissionInput, CentreError> {
        Ok(SubmissionInput {
            name: file.display().to_string(),
            bytes: read_bounded(file, MAX_SUBMISSION_SIZE)?,
            accepted_at,
        })
    }
}

/// Reads a signed file an operator names, refusing one larger than `limit`
/// before reading it.
pub(crate) fn read_bounded(file: &Path, limit: u64) -> Result<Vec<u8>, CentreError> {
    let len = std::fs::metadata(file)
        .map_err(CentreError::io("read", file))?
        .len();
    if len > limit {
        return Err(CentreError::TooLarge {
            file: file.display().to_string(),
            limit,
        });
    }
    std::fs::read(file).map_err(CentreError::io("read", file))
}

/// Who runs a publish, which decides what a refused submission does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PublishedBy {
    /// The operator (`blocklist publish`): a refused submission refuses the
    /// whole publish (the operator sees why, drops the file and runs
    /// again), and no version is made while the intake service's queue
    /// holds submissions (their acknowledgements promise it).
    #[default]
    Operator,
    /// The intake service publishing its queue: a refused submission is
    /// left out and named in [`Accepted::refused`], the rest published
    /// (each was accepted on its own).
    IntakeService,
}

/// Submissions accepted for one version: the changes they make, and the
/// sequences to record once it is listed.
#[derive(Debug, Default)]
pub struct Accepted {
    /// Every change, in the order of the submissions and their operations.
    pub changes: Vec<Change>,
    /// Per submission taken: its agency, sequence and operation count.
    pub submissions: Vec<AcceptedSubmission>,
    /// The submissions taken, as the delta carries them, so every replica
    /// can check that their agencies asked for the changes.
    pub carried: Vec<CarriedSubmission>,
    /// Submissions left out ([`PublishedBy::IntakeService`]), and why.
    pub refused: Vec<RefusedInput>,
    /// The newest sequence per signing key, the ones accepted included.
    sequences: BTreeMap<KeyId, u64>,
}

/// One submission taken into the version.
#[derive(Debug, Clone)]
pub struct AcceptedSubmission {
    /// Its [`SubmissionInput::name`].
    pub name: String,
    /// The agency its signature belongs to.
    pub agency: Agency,
    /// Its sequence number.
    pub sequence: u64,
    /// Its operations (some may change nothing).
    pub operations: usize,
    /// Whether it asked to be published at once.
    pub urgent: bool,
}

/// One submission or override set aside by a publish, and why.
#[derive(Debug, Clone)]
pub struct RefusedInput {
    /// Its name ([`SubmissionInput::name`], [`OverrideInput::name`](crate::centre::overrides::OverrideInput::name)).
    pub name: String,
    /// The refusal, naming the rule.
    pub reason: String,
}

/// A submission judged acceptable: what it changes and what it is.
#[derive(Debug)]
pub struct Judged {
    /// The changes it makes to the list as it is (none for operations the
    /// list already says).
    pub changes: Vec<Change>,
    /// What it is.
    pub submission: AcceptedSubmission,
    /// Its signing key.
    pub key: KeyId,
    /// The identifiers it names.
    pub ids: Vec<Identifier>,
}

/// Judges submissions one after another against the newest agency registry
/// and the sequences already taken, remembering each one it accepts: a later
/// one must be newer from the same key and name other identifiers.
#[derive(Debug)]
pub struct Judge {
    registry: Registry,
    list: ListId,
    /// The newest sequence taken per key: recorded, held, or judged here.
    sequences: BTreeMap<KeyId, u64>,
    /// The listings named by the submissions judged here, and by which.
    named: HashMap<(Identifier, Agency), String>,
}

impl Judge {
    /// A judge for `dir`, whose newest trust root `verifier` holds (the
    /// registry chain is checked under it), starting from the sequences
    /// recorded there and in the centre's `store`.
    pub fn new(dir: &PublishDir, verifier: &Verifier, store: &Store) -> Result<Judge, CentreError> {
        Ok(Judge {
            registry: newest_registry(dir, verifier)?,
            list: verifier.root().list.clone(),
            sequences: recorded_sequences(dir, store)?,
            named: HashMap::new(),
        })
    }

    /// Counts `sequence` of `key` as taken, though not recorded yet (a
    /// submission queued for the next version).
    pub fn hold(&mut self, key: KeyId, sequence: u64) {
        let last = self.sequences.entry(key).or_insert(sequence);
        *last = (*last).max(sequence);
    }

    /// Judges `input` against the list in `store`: verified, newer than
    /// every sequence taken from its key, naming no identifier an earlier
    /// submission judged here names, and allowed by the ownership rules.
    /// Accepted, it is remembered; refused, nothing of it is.
    pub fn judge(&mut self, input: &SubmissionInput, store: &Store) -> Result<Judged, CentreError> {
        let shown = &input.name;
        let now = input.accepted_at;
        let submission =
            verify_submission(&input.bytes, &self.registry, &self.list, now).map_err(|source| {
                CentreError::Submission {
                    file: shown.clone(),
                    source: Box::new(source),
                }
            })?;
        // The one signature's key: the bytes parsed and verified just above.
        let key = envelope::parse(&input.bytes)
            .map(|env| env.signatures[0].key_id)
            .expect("a verified submission parses, with one signature");
        let sequence = submission.sequence.get();
        if let Some(&last) = self.sequences.get(&key).filter(|&&last| sequence <= last) {
            return Err(CentreError::SubmissionReplay {
                file: shown.clone(),
                agency: submission.agency.clone(),
                key,
                sequence,
                last,
            });
        }
        if let Some((id, other)) = submission.ops.iter().find_map(|op| {
            let listing = (op.id().clone(), submission.agency.clone());
            self.named.get_key_value(&listing)
        }) {
            return Err(CentreError::Overlap {
                file: shown.clone(),
                id: id.0.to_string(),
                other: other.clone(),
            });
        }
        let changes = ownership::plan(&submission.agency, &submission.ops, now, |id| {
            store.listed(id)
        })?
        .map_err(|refusals| CentreError::SubmissionRefused {
            file: shown.clone(),
            agency: submission.agency.clone(),
            refusals,
        })?;
        self.sequences.insert(key, sequence);
        let ids: Vec<Identifier> = submission.ops.iter().map(|op| op.id().clone()).collect();
        self.named.extend(
            ids.iter()
                .map(|id| ((id.clone(), submission.agency.clone()), shown.clone())),
        );
        Ok(Judged {
            changes,
            submission: AcceptedSubmission {
                name: shown.clone(),
                agency: submission.agency.clone(),
                sequence,
                operations: submission.ops.len(),
                urgent: submission.urgent,
            },
            key,
            ids,
        })
    }
}

/// Judges `inputs` in order against the list in `store` (see [`Judge`]);
/// a refusal refuses them all, or leaves that one out, as `by` says.
/// The registry is the newest in the directory, accepted under `verifier`
/// (the newest trust root).
pub fn accept(
    dir: &PublishDir,
    verifier: &Verifier,
    store: &Store,
    inputs: &[SubmissionInput],
    by: PublishedBy,
) -> Result<Accepted, CentreError> {
    if inputs.is_empty() {
        return Ok(Accepted::default());
    }
    let mut judge = Judge::new(dir, verifier, store)?;
    let mut accepted = Accepted::default();
    for input in inputs {
        match judge.judge(input, store) {
            Ok(judged) => {
                accepted.changes.extend(judged.changes);
                accepted.submissions.push(judged.submission);
                accepted.carried.push(CarriedSubmission {
                    accepted_at: input.accepted_at,
                    file: input.bytes.clone(),
                });
            }
            Err(refused) if by == PublishedBy::IntakeService && refused.refuses_input() => {
                accepted.refused.push(RefusedInput {
                    name: input.name.clone(),
                    reason: refused.to_string(),
                });
            }
            Err(failed) => return Err(failed),
        }
    }
    accepted.sequences = judge.sequences;
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

/// The newest agency registry of the directory, its chain checked under
/// `verifier` (the newest trust root).
pub(crate) fn newest_registry(
    dir: &PublishDir,
    verifier: &Verifier,
) -> Result<Registry, CentreError> {
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

/// The last sequence recorded per key (none before the first submission):
/// a submission of a key at or below it was published already. Two records,
/// the newer wins: the centre's `store` records the sequences of the
/// submissions each delta carries as it applies the delta (so a publish
/// killed after its manifest, before it wrote the file, still counts them
/// once the store is rolled forward), and the file also holds those of
/// submissions that changed nothing, which no delta carries.
pub fn recorded_sequences(
    dir: &PublishDir,
    store: &Store,
) -> Result<BTreeMap<KeyId, u64>, CentreError> {
    let mut out = written_sequences(dir)?;
    for (key, sequence) in store.agency_sequences()? {
        let last = out.entry(key).or_insert(sequence);
        *last = (*last).max(sequence);
    }
    Ok(out)
}

/// The sequences in the file [`Accepted::record`] writes.
fn written_sequences(dir: &PublishDir) -> Result<BTreeMap<KeyId, u64>, CentreError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_sequences_are_read_back_and_a_damaged_file_is_named_with_its_line() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PublishDir::create(&tmp.path().join("pub")).unwrap();
        let lock = dir.lock().unwrap();
        assert!(written_sequences(&dir).unwrap().is_empty());
        let accepted = Accepted {
            submissions: vec![AcceptedSubmission {
                name: "a.submission".to_owned(),
                agency: Agency::new("th-aoc").unwrap(),
                sequence: 42,
                operations: 1,
                urgent: false,
            }],
            sequences: [(KeyId([7; 32]), 42), (KeyId([1; 32]), 9)].into(),
            ..Accepted::default()
        };
        accepted.record(&dir, &lock).unwrap();
        assert_eq!(written_sequences(&dir).unwrap(), accepted.sequences);

        let path = dir.path().join(sequences_path());
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str("not a line\n");
        std::fs::write(&path, text).unwrap();
        let err = written_sequences(&dir).unwrap_err().to_string();
        assert!(
            err.contains("submission-sequences:3") && err.contains("\"not a line\""),
            "{err}"
        );
    }
}
