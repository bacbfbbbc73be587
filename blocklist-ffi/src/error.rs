//! Result codes: the numbered errors that cross to C, the Rust error that
//! carries a code and a detailed message to the boundary, the static text of
//! each code and the per-thread detailed message.
//!
//! Codes live in bands and are never reused: a code once published keeps its
//! meaning for good, and a retired code is left as a gap.

use std::cell::RefCell;
use std::ffi::{c_char, CStr};

use blocklist_lookup::index::IndexError;
use blocklist_lookup::NormaliseError;

use crate::args::try_mut;
use crate::boundary::ffi_guard_keeping_message;

/// The outcome of a call: `BLOCKLIST_OK` (0) or an error code.
///
/// Bands: 1xx a bad argument; 2xx an identifier that is not valid for its
/// kind; 3xx the index data; 9xx an internal error. Codes are never reused.
/// `blocklist_error_message` turns a code into a static text and
/// `blocklist_last_error` gives the calling thread's detailed message.
#[allow(non_camel_case_types)]
pub type blocklist_result = i32;

/// Success.
pub const BLOCKLIST_OK: blocklist_result = 0;

/// A required pointer argument was NULL.
pub const BLOCKLIST_ERR_NULL_POINTER: blocklist_result = 100;
/// The identifier bytes are not valid UTF-8.
pub const BLOCKLIST_ERR_INVALID_UTF8: blocklist_result = 101;
/// The identifier has length zero.
pub const BLOCKLIST_ERR_EMPTY_INPUT: blocklist_result = 102;
/// The identifier is longer than `BLOCKLIST_MAX_INPUT_LEN` bytes.
pub const BLOCKLIST_ERR_INPUT_TOO_LONG: blocklist_result = 103;
/// The kind is not one of the `BLOCKLIST_KIND_*` values.
pub const BLOCKLIST_ERR_UNKNOWN_KIND: blocklist_result = 104;
/// A field of `blocklist_options` is invalid (the message names it).
pub const BLOCKLIST_ERR_INVALID_OPTIONS: blocklist_result = 105;
/// A batch holds more than `BLOCKLIST_MAX_BATCH` queries.
pub const BLOCKLIST_ERR_BATCH_TOO_LARGE: blocklist_result = 106;
/// An output buffer is too small: length zero, or shorter than the text it
/// must hold whole (`blocklist_normalise`).
pub const BLOCKLIST_ERR_BUFFER_TOO_SMALL: blocklist_result = 107;

/// The identifier is blank (only white space).
pub const BLOCKLIST_ERR_BLANK_IDENTIFIER: blocklist_result = 200;
/// The identifier holds a character its kind does not allow (including an
/// invalid internationalised domain name or domain label).
pub const BLOCKLIST_ERR_INVALID_CHARACTER: blocklist_result = 201;
/// The identifier, or a part of it, has the wrong length for its kind.
pub const BLOCKLIST_ERR_WRONG_LENGTH: blocklist_result = 202;
/// The identifier's structure is wrong (an e-mail address or an IP address
/// given as a domain, an ambiguous "00" number, ...).
pub const BLOCKLIST_ERR_MALFORMED: blocklist_result = 203;
/// A phone number that is not a reachable E.164 number (short code, unknown
/// country code, unallocated range, missing trunk prefix).
pub const BLOCKLIST_ERR_INVALID_NUMBER: blocklist_result = 204;
/// A bank account whose institution code or IBAN check digits are wrong.
pub const BLOCKLIST_ERR_INVALID_ACCOUNT: blocklist_result = 205;
/// A domain that cannot be listed: a single label or a public suffix.
pub const BLOCKLIST_ERR_NOT_LISTABLE_DOMAIN: blocklist_result = 206;
/// National input needs rules for a region this build does not know.
pub const BLOCKLIST_ERR_UNSUPPORTED_REGION: blocklist_result = 207;
/// Text given to `blocklist_check_canonical` is not in its kind's canonical
/// form (normalise it first with `blocklist_normalise`).
pub const BLOCKLIST_ERR_NOT_CANONICAL: blocklist_result = 208;
/// The identifier is invalid for a reason newer than this list of codes.
pub const BLOCKLIST_ERR_INVALID_IDENTIFIER: blocklist_result = 299;

/// There is no index file at the path (and the handle was not opened with
/// `allow_missing`).
pub const BLOCKLIST_ERR_INDEX_NOT_FOUND: blocklist_result = 300;
/// The index file could not be read (permissions, I/O error, map failure).
pub const BLOCKLIST_ERR_INDEX_IO: blocklist_result = 301;
/// The index file failed validation (truncated, bad magic, checksum,
/// inconsistent sections). A reload keeps the previous index.
pub const BLOCKLIST_ERR_INDEX_CORRUPT: blocklist_result = 302;
/// The index file has a format version this library cannot read.
pub const BLOCKLIST_ERR_INDEX_UNSUPPORTED_FORMAT: blocklist_result = 303;
/// A reload found an index with an older list version than the one served;
/// it was refused and the previous index is kept.
pub const BLOCKLIST_ERR_INDEX_STALE: blocklist_result = 304;
/// The index could not be used for a reason newer than this list of codes.
pub const BLOCKLIST_ERR_INDEX_OTHER: blocklist_result = 399;

/// A panic was caught at the boundary (a bug in libblocklist; please report).
pub const BLOCKLIST_ERR_PANIC: blocklist_result = 900;
/// An internal error that should not happen (a bug in libblocklist).
pub const BLOCKLIST_ERR_INTERNAL: blocklist_result = 901;

/// Every code and its static text: one table serves `blocklist_error_message`
/// and the tests that check every code has a text.
pub(crate) const MESSAGES: &[(blocklist_result, &CStr)] = &[
    (BLOCKLIST_OK, c"ok"),
    (
        BLOCKLIST_ERR_NULL_POINTER,
        c"a required pointer argument is NULL",
    ),
    (
        BLOCKLIST_ERR_INVALID_UTF8,
        c"the identifier is not valid UTF-8",
    ),
    (BLOCKLIST_ERR_EMPTY_INPUT, c"the identifier has length zero"),
    (
        BLOCKLIST_ERR_INPUT_TOO_LONG,
        c"the identifier is longer than BLOCKLIST_MAX_INPUT_LEN bytes",
    ),
    (BLOCKLIST_ERR_UNKNOWN_KIND, c"unknown identifier kind"),
    (BLOCKLIST_ERR_INVALID_OPTIONS, c"invalid options"),
    (
        BLOCKLIST_ERR_BATCH_TOO_LARGE,
        c"the batch holds more than BLOCKLIST_MAX_BATCH queries",
    ),
    (
        BLOCKLIST_ERR_BUFFER_TOO_SMALL,
        c"the output buffer is too small",
    ),
    (BLOCKLIST_ERR_BLANK_IDENTIFIER, c"the identifier is blank"),
    (
        BLOCKLIST_ERR_INVALID_CHARACTER,
        c"the identifier holds a character its kind does not allow",
    ),
    (
        BLOCKLIST_ERR_WRONG_LENGTH,
        c"the identifier has the wrong length for its kind",
    ),
    (BLOCKLIST_ERR_MALFORMED, c"the identifier is malformed"),
    (
        BLOCKLIST_ERR_INVALID_NUMBER,
        c"not a valid, reachable phone number",
    ),
    (
        BLOCKLIST_ERR_INVALID_ACCOUNT,
        c"invalid bank account (institution code or IBAN check digits)",
    ),
    (
        BLOCKLIST_ERR_NOT_LISTABLE_DOMAIN,
        c"not a listable domain (single label or public suffix)",
    ),
    (
        BLOCKLIST_ERR_UNSUPPORTED_REGION,
        c"no national rules for the default region",
    ),
    (
        BLOCKLIST_ERR_NOT_CANONICAL,
        c"the identifier is not in canonical form",
    ),
    (BLOCKLIST_ERR_INVALID_IDENTIFIER, c"invalid identifier"),
    (BLOCKLIST_ERR_INDEX_NOT_FOUND, c"index file not found"),
    (BLOCKLIST_ERR_INDEX_IO, c"cannot read the index file"),
    (BLOCKLIST_ERR_INDEX_CORRUPT, c"the index file is corrupt"),
    (
        BLOCKLIST_ERR_INDEX_UNSUPPORTED_FORMAT,
        c"the index file has an unsupported format version",
    ),
    (
        BLOCKLIST_ERR_INDEX_STALE,
        c"refused an index older than the one loaded",
    ),
    (BLOCKLIST_ERR_INDEX_OTHER, c"the index cannot be used"),
    (BLOCKLIST_ERR_PANIC, c"internal error: a panic was caught"),
    (BLOCKLIST_ERR_INTERNAL, c"internal error"),
];

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

/// The static text of a result code.
///
/// Returns a NUL-terminated string with static lifetime (never free it), for
/// any `code`: an unknown code gives "unknown result code".
///
/// Thread-safety: safe to call from any thread at any time.
#[no_mangle]
pub extern "C" fn blocklist_error_message(code: blocklist_result) -> *const c_char {
    message_of(code).as_ptr()
}

pub(crate) fn message_of(code: blocklist_result) -> &'static CStr {
    MESSAGES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(c"unknown result code", |(_, text)| text)
}

/// Copies the calling thread's detailed message of its last failed call
/// (empty if none has failed) into `buf`.
///
/// Writes at most `len - 1` bytes and a terminating NUL (truncating on a
/// UTF-8 character boundary), and stores in `*out_len` the full length of the
/// message in bytes, without the NUL: `*out_len >= len` means it was
/// truncated. Successful calls do not clear the message (as `errno`).
///
/// Errors: `BLOCKLIST_ERR_NULL_POINTER` if `buf` or `out_len` is NULL,
/// `BLOCKLIST_ERR_BUFFER_TOO_SMALL` if `len` is 0. On error nothing is
/// written and the message stays as it was (this call's own failure does
/// not replace it). Ownership: the caller owns `buf`. Thread-safety: reads
/// only the calling thread's message.
///
/// # Safety
/// `buf` must be valid for writes of `len` bytes and `out_len` for one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn blocklist_last_error(
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> blocklist_result {
    ffi_guard_keeping_message(|| {
        // A thread whose storage is being torn down has no message left.
        let last = LAST_ERROR
            .try_with(|last| last.try_borrow().map(|m| m.clone()).unwrap_or_default())
            .unwrap_or_default();
        // SAFETY: forwarded contract.
        unsafe { copy_message(&last, buf, len, out_len) }
    })
}

/// Copies `message` into the caller's `buf` of `len` bytes as the message
/// functions document: at most `len - 1` bytes cut on a character boundary,
/// a NUL, and the full length in `*out_len`. Nothing is written on error.
///
/// # Safety
/// `buf` must be NULL or valid for writes of `len` bytes; `out_len` NULL or
/// valid for one `usize`.
pub(crate) unsafe fn copy_message(
    message: &str,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> Result<(), Error> {
    let out_len = try_mut(out_len, "out_len")?;
    // Only the bytes written are viewed: a slice of a huge `len` (past
    // `isize::MAX`) would be undefined behaviour even if never touched.
    let room = len.min(message.len() + 1);
    // SAFETY: the caller guarantees `buf` is valid for `len >= room` bytes.
    let buf = unsafe { crate::args::try_slice_mut(buf.cast::<u8>(), room, "buf")? };
    if buf.is_empty() {
        return Err(Error::new(
            BLOCKLIST_ERR_BUFFER_TOO_SMALL,
            "len is 0: no room for the terminating NUL",
        ));
    }
    let fits = floor_char_boundary(message, buf.len() - 1);
    buf[..fits].copy_from_slice(&message.as_bytes()[..fits]);
    buf[fits] = 0;
    *out_len = message.len();
    Ok(())
}

/// The largest index `<= at` that is a character boundary of `s`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    if at >= s.len() {
        return s.len();
    }
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_code_has_one_distinct_text_and_codes_sit_in_their_bands() {
        let codes: HashSet<_> = MESSAGES.iter().map(|(c, _)| *c).collect();
        assert_eq!(codes.len(), MESSAGES.len(), "a code appears twice");
        for (code, text) in MESSAGES {
            assert!(!text.to_bytes().is_empty());
            assert!(
                *code == 0 || (100..400).contains(code) || (900..1000).contains(code),
                "{code} is outside the bands"
            );
        }
        assert_eq!(message_of(12345).to_bytes(), b"unknown result code");
    }

    #[test]
    fn last_error_truncates_on_a_character_boundary_and_reports_the_full_length() {
        set_last_error(&Error::new(BLOCKLIST_ERR_MALFORMED, "ab\u{e01}cd"));
        let mut buf = [0x55 as c_char; 4];
        let mut n = 0usize;
        // SAFETY: valid buffer and length.
        let rc = unsafe { blocklist_last_error(buf.as_mut_ptr(), buf.len(), &mut n) };
        assert_eq!(rc, BLOCKLIST_OK);
        assert_eq!(n, 7);
        assert_eq!(buf.map(|b| b as u8), [b'a', b'b', 0, 0x55]);
    }
}
