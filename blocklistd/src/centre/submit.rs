//! `blocklist submit`, run at an agency: reads its reports in the formats
//! `publish` reads ([`ingest`]), normalises every value, and writes a
//! [`Submission`] signed by one of the agency's keys, for the centre's
//! `blocklist publish --submission`.
//!
//! The agency is the one the signing key is registered to at the centre;
//! the `--agency` named here must be it, or the centre refuses the file. A
//! line whose agency column names another agency is an invalid line: one
//! submission speaks for one agency.
//!
//! [`send`] posts a submission to the centre's intake service and returns
//! its signed acknowledgement (`blocklist submit --send URL`).

use std::collections::HashSet;
use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use blocklist_core::atomic_file;
use blocklist_core::document::{
    ListId, ListingRequest, RemovalReason, RemovalRequest, Submission, SubmissionOp,
    MAX_SUBMISSION_OPERATIONS,
};
use blocklist_core::Agency;

use crate::centre::chain;
use crate::centre::ingest::{self, Format, InvalidLine, ReadContext};
use crate::centre::keys::CentreKey;
use crate::centre::CentreError;

/// What `submit` reads and how it signs.
#[derive(Debug)]
pub struct SubmitOptions {
    /// The list the submission is for.
    pub list: ListId,
    /// The submitting agency (its id in the centre's registry).
    pub agency: Agency,
    /// One of the agency's keys.
    pub key: CentreKey,
    /// Files of identifiers to list (an identifier the agency lists already
    /// is updated by the centre).
    pub additions: Vec<(PathBuf, Format)>,
    /// Files of the agency's listings to update (each must be listed by it).
    pub updates: Vec<(PathBuf, Format)>,
    /// Files of the agency's listings to remove.
    pub removals: Vec<(PathBuf, Format)>,
    /// Why the removals are made.
    pub why: RemovalReason,
    /// Ask the centre to publish at once.
    pub urgent: bool,
    /// Defaults (the agency among them), normalisation rules and the
    /// submission's time, which expiry durations count from.
    pub context: ReadContext,
}

/// What `submit` wrote.
#[derive(Debug)]
pub struct SubmitReport {
    /// The submission's sequence number.
    pub sequence: NonZeroU64,
    /// Adds, updates and removals in it.
    pub adds: usize,
    /// See `adds`.
    pub updates: usize,
    /// See `adds`.
    pub removes: usize,
    /// Input lines naming an identifier an earlier line named (the later one wins).
    pub duplicates: usize,
    /// The file's size.
    pub bytes: usize,
}

/// Reads the inputs and writes the signed submission to `output`. Any
/// invalid line refuses the whole submission (listing every one), as
/// `publish` does without `--skip-invalid`: an agency fixes its file rather
/// than have part of its report silently dropped.
pub fn submit(options: &SubmitOptions, output: &Path) -> Result<SubmitReport, CentreError> {
    let mut invalid = Vec::new();
    let mut context = options.context.clone();
    context.defaults.agency = Some(options.agency.clone());
    let listed = ingest::read_inputs(
        &options.additions,
        &options.removals,
        &context,
        &mut invalid,
    )?;
    let updated = ingest::read_inputs(&options.updates, &[], &context, &mut invalid)?;
    let mut ops = Vec::new();
    // Identifiers added or updated: an update may name none of them again.
    let mut listed_ids = HashSet::new();
    for (additions, as_update) in [(listed.additions, false), (updated.additions, true)] {
        for addition in additions {
            if addition.listing.agency != options.agency {
                invalid.push(InvalidLine {
                    reason: format!(
                        "agency {} is not {}, whose submission this is",
                        addition.listing.agency, options.agency
                    ),
                    origin: addition.origin,
                });
                continue;
            }
            if !listed_ids.insert(addition.id.clone()) {
                invalid.push(InvalidLine {
                    reason: format!("{} is both an add and an update", addition.id),
                    origin: addition.origin,
                });
                continue;
            }
            let request = ListingRequest {
                id: addition.id,
                reason: addition.listing.reason,
                expires_at: addition.listing.expires_at,
            };
            ops.push(if as_update {
                SubmissionOp::Update(request)
            } else {
                SubmissionOp::Add(request)
            });
        }
    }
    for removal in listed.removals {
        // (`read_inputs` already refused an identifier both added and removed.)
        if listed_ids.contains(&removal.id) {
            invalid.push(InvalidLine {
                reason: format!("{} is also to be updated", removal.id),
                origin: removal.origin,
            });
            continue;
        }
        ops.push(SubmissionOp::Remove(RemovalRequest {
            id: removal.id,
            why: options.why,
        }));
    }
    if !invalid.is_empty() {
        return Err(CentreError::InvalidInput {
            lines: invalid,
            remedy: "fix them and submit again (a submission is signed whole)",
        });
    }
    if ops.is_empty() {
        return Err(CentreError::usage(
            "nothing to submit: no input names an identifier",
        ));
    }
    if ops.len() as u64 > MAX_SUBMISSION_OPERATIONS {
        return Err(CentreError::usage(format!(
            "{} operations, more than the {MAX_SUBMISSION_OPERATIONS} one submission may carry: split the input",
            ops.len()
        )));
    }
    let count = |verb: &str| ops.iter().filter(|op| op.verb() == verb).count();
    let (adds, updates, removes) = (count("add"), count("update"), count("remove"));
    let sequence = clock_sequence();
    let submission = Submission {
        list: options.list.clone(),
        agency: options.agency.clone(),
        sequence,
        created_at: options.context.now,
        urgent: options.urgent,
        ops,
        extensions: vec![],
    };
    let bytes = chain::sign(
        &submission,
        || format!("submission {sequence}"),
        &[&options.key],
    )?;
    atomic_file::write_file_via(&parent(output), output, &bytes)?;
    Ok(SubmitReport {
        sequence,
        adds,
        updates,
        removes,
        duplicates: listed.duplicates + updated.duplicates,
        bytes: bytes.len(),
    })
}

/// The folder `path` is in (the current one for a bare file name).
/// The folder `path` is written in (its temporary file goes there too).
pub(crate) fn parent(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// The clock in microseconds: increasing from one submission to the next of
/// a key (U2) without any state kept at the agency. A clock set back would
/// repeat a number; the centre then refuses the file as a replay, naming the
/// number it last accepted.
fn clock_sequence() -> NonZeroU64 {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    NonZeroU64::new(u64::try_from(micros).unwrap_or(u64::MAX)).unwrap_or(NonZeroU64::MIN)
}

/// The most bytes of an intake service's answer read: an acknowledgement
/// is a few hundred bytes, an error a line of JSON.
const MAX_ANSWER_SIZE: u64 = 64 << 10;

/// Posts the submission `bytes` to the intake service at `base` (`POST
/// base/v1/submissions`), returning the acknowledgement it answered with;
/// a refusal is an error carrying the service's message (the rule and the
/// identifier).
pub fn send(base: &str, bytes: Vec<u8>) -> Result<Vec<u8>, CentreError> {
    let url = format!("{}/v1/submissions", base.trim_end_matches('/'));
    let failed = |reason: String| CentreError::Http {
        url: url.clone(),
        reason,
    };
    let response = crate::centre::source::http_client(&url)?
        .post(&url)
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .map_err(|e| failed(e.to_string()))?;
    let status = response.status();
    let answer =
        crate::centre::source::read_capped(response, MAX_ANSWER_SIZE).map_err(|e| match e {
            crate::centre::source::Capped::TooLarge => CentreError::TooLarge {
                file: url.clone(),
                limit: MAX_ANSWER_SIZE,
            },
            crate::centre::source::Capped::Io(source) => failed(source.to_string()),
        })?;
    if status.is_success() {
        return Ok(answer);
    }
    let message = serde_json::from_slice::<serde_json::Value>(&answer)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&answer).into_owned());
    Err(failed(format!("refused ({status}): {message}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::centre::ingest::{CsvColumns, Defaults};
    use blocklist_core::document::Document;
    use blocklist_core::{Kind, Reason, Rules, SecretKey, Timestamp};

    fn options(dir: &Path) -> SubmitOptions {
        SubmitOptions {
            list: ListId::new("th-national").unwrap(),
            agency: Agency::new("th-aoc").unwrap(),
            key: CentreKey::File(SecretKey::from_seed(&[7; 32])),
            additions: vec![(dir.join("numbers.csv"), Format::Csv)],
            updates: vec![],
            removals: vec![],
            why: RemovalReason::CLEARED,
            urgent: false,
            context: ReadContext {
                defaults: Defaults {
                    kind: Some(Kind::Number),
                    reason: Some(Reason::SCAM_CALL),
                    ..Defaults::default()
                },
                rules: Rules::default(),
                now: Timestamp(1_760_000_000),
                csv: CsvColumns::default(),
            },
        }
    }

    #[test]
    fn a_line_of_another_agency_refuses_the_submission_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("numbers.csv"),
            "value,agency\n081 234 5678,th-aoc\n0812345679,bank-004\n",
        )
        .unwrap();
        let out = dir.path().join("out.submission");
        let err = submit(&options(dir.path()), &out).unwrap_err();
        let CentreError::InvalidInput { lines, .. } = err else {
            panic!("{err}")
        };
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].to_string().ends_with(
                "numbers.csv:3: agency bank-004 is not th-aoc, whose submission this is"
            ),
            "{}",
            lines[0]
        );
        assert!(!out.exists());
    }

    #[test]
    fn values_are_normalised_and_signed_by_the_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("numbers.csv"),
            "value\n081 234 5678\n+66 81 234 5679\n",
        )
        .unwrap();
        let out = dir.path().join("out.submission");
        let report = submit(&options(dir.path()), &out).unwrap();
        assert_eq!((report.adds, report.updates, report.removes), (2, 0, 0));
        let bytes = std::fs::read(&out).unwrap();
        let env = blocklist_core::document::envelope::parse(&bytes).unwrap();
        assert_eq!(env.signatures.len(), 1);
        assert_eq!(
            env.signatures[0].key_id,
            SecretKey::from_seed(&[7; 32]).public_key().id()
        );
        let doc = Submission::decode_payload(env.payload).unwrap();
        let values: Vec<&str> = doc.ops.iter().map(|op| op.id().as_str()).collect();
        assert_eq!(values, ["+66812345678", "+66812345679"]);
    }
}
