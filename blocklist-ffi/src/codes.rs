//! Result codes: the numbered outcomes that cross to C, in their bands, and
//! the static text of each.
//!
//! Codes live in bands and are never reused: a code once published keeps its
//! meaning for good, and a retired code is left as a gap.

use std::ffi::CStr;

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
/// A struct's `size` field is less than the size of that struct in ABI 1
/// (the caller did not set it: use the `_INIT` macro), or not a multiple of
/// its alignment in an array, or an input struct larger than this library
/// knows sets fields it does not know (nonzero bytes past its size): see
/// the growth rule atop the header.
pub const BLOCKLIST_ERR_STRUCT_SIZE: blocklist_result = 108;

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
/// The index file being served was overwritten in place (by `cp`, a backup
/// restore) instead of being replaced by rename, and no valid file has taken
/// its place: its mapped bytes are no longer the ones validated, so every
/// lookup returns this code (nothing written) until a valid index, not older
/// than the one served, is published at the path.
pub const BLOCKLIST_ERR_INDEX_MODIFIED: blocklist_result = 305;
/// The path, or `lookup.idx` in the data folder, is not a regular file (a
/// FIFO, a device, a socket): refused without reading from it.
pub const BLOCKLIST_ERR_INDEX_NOT_A_FILE: blocklist_result = 306;
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
    (
        BLOCKLIST_ERR_STRUCT_SIZE,
        c"a struct's size field is not one this library accepts",
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
    (
        BLOCKLIST_ERR_INDEX_MODIFIED,
        c"the index file was overwritten in place; answers withheld until a valid index is published",
    ),
    (
        BLOCKLIST_ERR_INDEX_NOT_A_FILE,
        c"the index path is not a regular file",
    ),
    (BLOCKLIST_ERR_INDEX_OTHER, c"the index cannot be used"),
    (BLOCKLIST_ERR_PANIC, c"internal error: a panic was caught"),
    (BLOCKLIST_ERR_INTERNAL, c"internal error"),
];

/// The static text of `code` (see `blocklist_error_message`).
pub(crate) fn message_of(code: blocklist_result) -> &'static CStr {
    MESSAGES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(c"unknown result code", |(_, text)| text)
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
}
