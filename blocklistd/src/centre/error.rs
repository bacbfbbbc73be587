//! [`CentreError`]: everything that can go wrong on the centre's side, each
//! variant naming the file, URL or argument it is about.

use std::io;
use std::path::PathBuf;

use blocklist_core::document::{DecodeError, EncodeError};
use blocklist_core::verify::VerifyError;

use crate::centre::ingest::InvalidLine;

/// A centre operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CentreError {
    /// A file or directory operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done ("read", "create", "rename", ...).
        action: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A key file is not in the key file format.
    #[error("key file {path}: {reason}")]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A secret key file that others could read.
    #[error("secret key file {path} has mode {mode:o}: it must not be readable by group or others (chmod 600)")]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key in a PKCS#11 token could not be used.
    #[error(transparent)]
    Pkcs11(#[from] crate::centre::pkcs11::Pkcs11Error),
    /// The command line asks for something impossible.
    #[error("{reason}")]
    Usage {
        /// What is wrong.
        reason: String,
    },
    /// Another publish, rotate or refresh holds the directory's lock.
    #[error("another publish is running: {source} (only one may run at a time)")]
    Locked {
        /// The lock file and its holder.
        source: blocklist_core::lock::Locked,
    },
    /// The new version would be listed by more agencies than a replica's
    /// lookup index can name.
    #[error("the list would need {records} agency records (an agency that stands for an identifier, with the identifier's listing count; counted up to one past the limit), more than the {max} a lookup index can name: nothing published")]
    TooManyAgencies {
        /// Distinct records the new version's index would need.
        records: usize,
        /// The limit.
        max: usize,
    },
    /// A CSV input's header cannot be read as columns: no row of the file
    /// can be, so this stops the publish whatever `--skip-invalid` says.
    #[error("{file}: {reason}")]
    CsvHeader {
        /// The input file.
        file: PathBuf,
        /// What is wrong with its header, naming the column.
        reason: String,
    },
    /// Input files have lines that are not valid entries.
    #[error("{} invalid input line(s); {remedy}", .lines.len())]
    InvalidInput {
        /// Every invalid line, in input order.
        lines: Vec<InvalidLine>,
        /// What the operator can do: a publish can skip them, a submission
        /// (which an agency signs whole) cannot.
        remedy: &'static str,
    },
    /// An agency's submission failed verification against the agency registry.
    #[error("{file}: {source}; nothing of it applied")]
    Submission {
        /// The submission file.
        file: String,
        /// What failed (boxed: it is large, and this path is rare).
        source: Box<blocklist_core::verify::SubmissionError>,
    },
    /// A submission whose sequence is not above the last one accepted from its key.
    #[error("{file}: submission {sequence} of agency {agency} (key {key}) is not newer than submission {last}, the last accepted from that key: a replay, or the agency's clock went back; nothing of it applied (U2)")]
    SubmissionReplay {
        /// The submission file.
        file: String,
        /// The agency.
        agency: blocklist_core::Agency,
        /// The signing key.
        key: blocklist_core::KeyId,
        /// Its sequence.
        sequence: u64,
        /// The last sequence accepted from the key.
        last: u64,
    },
    /// A version no agency asked for (docs/FORMAT.md W1-W7), refused
    /// before it is signed: replicas would refuse it.
    #[error("version {version} not published, nothing signed: {source}; {}", unauthorised_remedy(.source))]
    Unauthorised {
        /// The version it would have been.
        version: u64,
        /// What no agency asked for.
        source: blocklist_core::verify::AuthorityError,
    },
    /// A file that is not an override the newest trust root accepts: not
    /// an override, not signed by a threshold of its override keys alone,
    /// of another list, or malformed.
    #[error("{file}: {source}; refused by {}, nothing of it applied", override_rule(.source))]
    Override {
        /// The override file (path, or the intake service's id of it).
        file: String,
        /// What failed.
        source: VerifyError,
    },
    /// An override whose decision (its payload, whatever signatures the
    /// file carries) was applied already: every replica refuses it carried
    /// again (W7).
    #[error("{file}: the same decision was applied in version {version}; an override removes or updates listings once (W7): nothing of it applied (make a new override)")]
    OverrideAgain {
        /// The override file.
        file: String,
        /// The version whose delta carried it.
        version: u64,
    },
    /// An override whose decision is queued at the intake service already,
    /// perhaps under other signatures: it will be published as queued.
    #[error("{file}: the same decision is queued as override {queued}: nothing more to do (GET /v1/overrides/{queued} says where it stands)")]
    OverrideQueued {
        /// The override file.
        file: String,
        /// The queued override's id.
        queued: String,
    },
    /// An override made more than the allowed skew after the centre's
    /// clock: every replica would refuse the delta carrying it (W7).
    #[error("{file}: the override was made at {made_at}, more than {} s after the centre's time {now} (W7): nothing of it applied (check the signers' clock)", blocklist_core::verify::MAX_CLOCK_SKEW)]
    OverrideAhead {
        /// The override file.
        file: String,
        /// Its `made_at`.
        made_at: blocklist_core::Timestamp,
        /// The centre's time.
        now: blocklist_core::Timestamp,
    },
    /// An override naming a listing that the list no longer holds as named:
    /// removed, or listed again since (W7).
    #[error("{file}: the override removes {id} as listed by {named}, but it is {held} now: nothing published (make a new override)")]
    OverrideStale {
        /// The override file.
        file: String,
        /// The identifier.
        id: String,
        /// The listing the override names.
        named: String,
        /// What the list holds.
        held: String,
    },
    /// An override update of a listing whose entry is no longer the one
    /// the board decided on: its agency changed it since (W7, OV4).
    #[error("{file}: the override updates {id} of {agency} from {decided}, but it has {held} now: the listing changed since the board decided: make a new override (nothing published)")]
    OverrideChanged {
        /// The override file.
        file: String,
        /// The identifier.
        id: String,
        /// The agency whose listing it is.
        agency: blocklist_core::Agency,
        /// The entry the board decided on, in words.
        decided: String,
        /// The entry the list holds, in words.
        held: String,
    },
    /// Operations of a submission that the ownership rules refuse.
    #[error("{file}: submission of agency {agency} refused, nothing of it applied: {}", first_refusal(.refusals))]
    SubmissionRefused {
        /// The submission file.
        file: String,
        /// The agency its signature belongs to.
        agency: blocklist_core::Agency,
        /// Every operation refused, in the submission's order.
        refusals: Vec<blocklist_core::ownership::Refusal>,
    },
    /// A submission or override naming an identifier that another
    /// submission taken with it, or a submission or override queued before
    /// it, names: each is judged against the list as it is, so they must be
    /// disjoint (and one delta takes one word per listing, W3).
    #[error("{file}: {id} is also named by {other}, not published yet; nothing of it applied (send it again once {other} is published)")]
    Overlap {
        /// The submission or override refused.
        file: String,
        /// The identifier named twice.
        id: String,
        /// The other one (file, or queued submission or override and its id).
        other: String,
    },
    /// A publish that would make a version while the intake service holds
    /// submissions whose acknowledgements promise that version (or
    /// overrides it has answered will go in it).
    #[error("{queued} submission(s) or override(s) accepted by the intake service wait in {path}: the next version is theirs (their acknowledgements promise it), so only the service publishes it (at its next tick; `blocklist serve --intake` publishes them at once when it starts); nothing published{}", if *.overriding { "; hand the override to the service instead (POST it to /v1/overrides, or drop it in the intake folder): it is published with them, at once" } else { "" })]
    IntakeQueued {
        /// How many are queued.
        queued: u64,
        /// The queue's file.
        path: PathBuf,
        /// Whether the refused publish carries overrides, which the service
        /// takes itself.
        overriding: bool,
    },
    /// The intake service's queue failed.
    #[error("intake queue {path}: {source}")]
    Queue {
        /// The queue's file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// A document could not be encoded (a bug, or an impossible input).
    #[error("cannot encode {what}: {source}")]
    Encode {
        /// The document.
        what: String,
        /// Why.
        source: EncodeError,
    },
    /// A file is not a well-formed document.
    #[error("{file}: {source}")]
    Decode {
        /// The file (path or URL).
        file: String,
        /// Why.
        source: DecodeError,
    },
    /// A document failed verification.
    #[error("{file}: {source}")]
    Verify {
        /// The file (path or URL).
        file: String,
        /// What failed.
        source: VerifyError,
    },
    /// Published files contradict each other (a gap, an operation that does
    /// not apply, a missing snapshot).
    #[error("{file}: {reason}")]
    Inconsistent {
        /// The file (path or URL) where the contradiction shows.
        file: String,
        /// What does not fit.
        reason: String,
    },
    /// The transparency log in the directory is not what its checkpoint
    /// says, or a file is missing from it.
    #[error("{file}: {source}")]
    Log {
        /// The log file (path or URL) that shows it.
        file: String,
        /// What is wrong.
        source: blocklist_core::log::LogError,
    },
    /// A proof bundle refused: by `verify-proof`, or by `prove` checking
    /// the bundle it made before writing it.
    #[error("{file}: {source}")]
    Proof {
        /// The bundle (its path, or what it was made from).
        file: String,
        /// Why (boxed: it is rare, and large).
        source: Box<blocklist_core::proof::ProofError>,
    },
    /// A witness's cosigned copy of the log's checkpoint the intake
    /// service refuses: another checkpoint than the log's, a cosignature of
    /// a known witness that does not verify, none by a known witness.
    #[error("{shown}: {source}: nothing added to the log's checkpoint")]
    Cosignature {
        /// The copy offered, as the service names it.
        shown: String,
        /// Why.
        source: blocklist_core::log::LogError,
    },
    /// A replica's receipt refused: not a registered replica's, or not of
    /// what this centre published.
    #[error("{shown}: {source}")]
    Receipt {
        /// The receipt, as the service names it.
        shown: String,
        /// Why (boxed: it is rare, and large).
        source: Box<crate::centre::receipts::ReceiptRefusal>,
    },
    /// The replicas and receipts file failed.
    #[error("receipts {path}: {source}")]
    Receipts {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        source: rusqlite::Error,
    },
    /// Cosignatures offered to an intake service started without
    /// `--witness`: it knows no witness whose lines it could check.
    #[error("this intake service takes no cosignatures: it was started without --witness")]
    NoWitnesses,
    /// The HTTP server could not start or failed.
    #[error("cannot {action}: {source}")]
    Serve {
        /// What failed ("listen on 127.0.0.1:8080", ...).
        action: String,
        /// The OS error.
        source: io::Error,
    },
    /// The centre's store of its current list failed.
    #[error(transparent)]
    Store(#[from] blocklist_core::store::StoreError),
    /// A file could not be written into place.
    #[error(transparent)]
    Write(#[from] blocklist_core::atomic_file::AtomicFileError),
    /// The command's report could not be written (a closed pipe is no error:
    /// the reader took what it wanted).
    #[error("cannot write to standard output: {source}")]
    Stdout {
        /// The OS error.
        source: io::Error,
    },
    /// A published file is larger than a reader of it takes.
    #[error("{file} is larger than the {limit} bytes it may be: not read further")]
    TooLarge {
        /// The file (path or URL).
        file: String,
        /// The cap, in bytes.
        limit: u64,
    },
    /// A remote file could not be fetched.
    #[error("cannot fetch {url}: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

/// What an operator can do about a version replicas would refuse.
fn unauthorised_remedy(source: &blocklist_core::verify::AuthorityError) -> &'static str {
    use blocklist_core::verify::AuthorityError;
    match source {
        AuthorityError::Legacy { .. } => {
            "a listing made under a label before agencies became principals is removed or updated by an override (`blocklist override`, docs/GOVERNANCE.md), or purged once it expires"
        }
        AuthorityError::Override { .. }
        | AuthorityError::OverrideAfterDelta { .. }
        | AuthorityError::OverrideReplayed { .. }
        | AuthorityError::OverriddenTwice { .. }
        | AuthorityError::NotOverridden { .. }
        | AuthorityError::NotUpdatedAsDecided { .. } => {
            "an override is signed by a threshold of the newest root's override keys and removes or updates, once, exactly the listings it names as they are now; publish it on its own, or make a new one (`blocklist override`, docs/GOVERNANCE.md, \"Overrides\")"
        }
        AuthorityError::MadeInTheFuture { .. } => {
            "the centre's clock runs ahead of the time it signs with: set it right"
        }
        _ => {
            "a registered agency's listings change only through its signed submissions (`blocklist submit`), so publish input files under a label that is no registered agency"
        }
    }
}

/// The rule of FORMAT.md an override breaks, by what its verification found.
fn override_rule(source: &VerifyError) -> &'static str {
    match source {
        VerifyError::WrongDocument { .. } => "its type (an override is document type 8)",
        VerifyError::Malformed { .. } => "OV2-OV4 (its form)",
        VerifyError::WrongList { .. } => "OV1 (its list)",
        _ => {
            "OV1 (signed by a threshold of the newest trust root's override keys, and no other key)"
        }
    }
}

/// The first refusal, and how many more (the command line lists them all).
fn first_refusal(refusals: &[blocklist_core::ownership::Refusal]) -> String {
    match refusals {
        [] => "no operation refused".to_owned(),
        [only] => only.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more operation(s) refused)", rest.len()),
    }
}

impl CentreError {
    /// An [`CentreError::Io`] for `path`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> CentreError {
        let path = path.into();
        move |source| CentreError::Io {
            action,
            path,
            source,
        }
    }

    /// Whether this refuses one submission, override or receipt on its own
    /// merits (its signature, agency, sequence, size, operations, listings,
    /// version or state), as opposed to a failure of the centre that stops
    /// any publish.
    pub fn refuses_input(&self) -> bool {
        matches!(
            self,
            CentreError::Submission { .. }
                | CentreError::SubmissionReplay { .. }
                | CentreError::SubmissionRefused { .. }
                | CentreError::Overlap { .. }
                | CentreError::Override { .. }
                | CentreError::OverrideAgain { .. }
                | CentreError::OverrideAhead { .. }
                | CentreError::OverrideStale { .. }
                | CentreError::OverrideChanged { .. }
                | CentreError::Receipt { .. }
                | CentreError::TooLarge { .. }
        )
    }

    /// A [`CentreError::Usage`].
    pub fn usage(reason: impl Into<String>) -> CentreError {
        CentreError::Usage {
            reason: reason.into(),
        }
    }
}
