//! [`Error`], the Rust error on its way to C: the code the caller branches
//! on and the detailed message a person reads; the codes of the lookup
//! crate's errors; and the per-thread last-error message.

use std::cell::RefCell;

use blocklist_lookup::index::IndexError;
use blocklist_lookup::NormaliseError;

use crate::codes::{
    blocklist_result, BLOCKLIST_ERR_BLANK_IDENTIFIER, BLOCKLIST_ERR_INDEX_CORRUPT,
    BLOCKLIST_ERR_INDEX_IO, BLOCKLIST_ERR_INDEX_MODIFIED, BLOCKLIST_ERR_INDEX_NOT_A_FILE,
    BLOCKLIST_ERR_INDEX_NOT_FOUND, BLOCKLIST_ERR_INDEX_OTHER, BLOCKLIST_ERR_INDEX_STALE,
    BLOCKLIST_ERR_INDEX_UNSUPPORTED_FORMAT, BLOCKLIST_ERR_INPUT_TOO_LONG,
    BLOCKLIST_ERR_INVALID_ACCOUNT, BLOCKLIST_ERR_INVALID_CHARACTER,
    BLOCKLIST_ERR_INVALID_IDENTIFIER, BLOCKLIST_ERR_INVALID_NUMBER, BLOCKLIST_ERR_MALFORMED,
    BLOCKLIST_ERR_NOT_LISTABLE_DOMAIN, BLOCKLIST_ERR_UNKNOWN_KIND,
    BLOCKLIST_ERR_UNSUPPORTED_REGION, BLOCKLIST_ERR_WRONG_LENGTH,
};

/// An error on its way to C: the code the caller branches on and the detail
/// a person reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Error {
    pub(crate) code: blocklist_result,
    pub(crate) message: String,
}

impl Error {
    pub(crate) fn new(code: blocklist_result, message: impl Into<String>) -> Error {
        Error {
            code,
            message: message.into(),
        }
    }
}

impl From<NormaliseError> for Error {
    fn from(e: NormaliseError) -> Error {
        Error::new(normalise_code(&e), e.to_string())
    }
}

impl From<IndexError> for Error {
    fn from(e: IndexError) -> Error {
        Error::new(index_code(&e), e.to_string())
    }
}

/// The code for an identifier the normaliser refused.
pub(crate) fn normalise_code(e: &NormaliseError) -> blocklist_result {
    use NormaliseError as N;
    match e {
        N::Empty { .. } => BLOCKLIST_ERR_BLANK_IDENTIFIER,
        N::InputTooLong { .. } => BLOCKLIST_ERR_INPUT_TOO_LONG,
        N::UnsupportedKind { .. } => BLOCKLIST_ERR_UNKNOWN_KIND,
        N::UnsupportedRegion { .. } => BLOCKLIST_ERR_UNSUPPORTED_REGION,
        N::InvalidCharacter { .. } | N::Idna { .. } | N::InvalidLabel { .. } => {
            BLOCKLIST_ERR_INVALID_CHARACTER
        }
        N::WrongLength { .. } | N::IbanLength { .. } => BLOCKLIST_ERR_WRONG_LENGTH,
        N::Malformed { .. }
        | N::NotCanonical { .. }
        | N::AmbiguousInternationalPrefix { .. }
        | N::IpAddress { .. }
        | N::EmailAddress { .. } => BLOCKLIST_ERR_MALFORMED,
        N::ShortCode { .. }
        | N::MissingTrunkPrefix { .. }
        | N::UnknownCountryCode { .. }
        | N::CountryCodeStartsWithZero { .. }
        | N::UnallocatedNumber { .. } => BLOCKLIST_ERR_INVALID_NUMBER,
        N::InstitutionCode { .. } | N::IbanChecksum { .. } => BLOCKLIST_ERR_INVALID_ACCOUNT,
        N::SingleLabel { .. } | N::PublicSuffix { .. } => BLOCKLIST_ERR_NOT_LISTABLE_DOMAIN,
        _ => BLOCKLIST_ERR_INVALID_IDENTIFIER,
    }
}

/// The code for an index that could not be opened or swapped in.
pub(crate) fn index_code(e: &IndexError) -> blocklist_result {
    use IndexError as I;
    match e {
        I::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            BLOCKLIST_ERR_INDEX_NOT_FOUND
        }
        I::Io { .. } => BLOCKLIST_ERR_INDEX_IO,
        I::Truncated { .. }
        | I::BadMagic { .. }
        | I::ChecksumMismatch { .. }
        | I::Corrupt { .. } => BLOCKLIST_ERR_INDEX_CORRUPT,
        I::UnsupportedVersion { .. } => BLOCKLIST_ERR_INDEX_UNSUPPORTED_FORMAT,
        I::Stale { .. } => BLOCKLIST_ERR_INDEX_STALE,
        I::ModifiedInPlace { .. } => BLOCKLIST_ERR_INDEX_MODIFIED,
        I::NotAFile { .. } => BLOCKLIST_ERR_INDEX_NOT_A_FILE,
        _ => BLOCKLIST_ERR_INDEX_OTHER,
    }
}

thread_local! {
    /// The detailed message of the last call on this thread that failed.
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Records `error` as this thread's last error. Never panics: called by a
/// thread-local destructor of the caller's after this thread's storage is
/// gone, it records nothing (the code still says what went wrong).
pub(crate) fn set_last_error(error: &Error) {
    let _ = LAST_ERROR.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            last.clear();
            last.push_str(&error.message);
        }
    });
}

/// This thread's last-error message (empty if no call has failed, or while
/// the thread's storage is torn down).
pub(crate) fn last_error() -> String {
    LAST_ERROR
        .try_with(|last| last.try_borrow().map(|m| m.clone()).unwrap_or_default())
        .unwrap_or_default()
}
