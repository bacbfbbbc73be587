//! Argument checks shared by every entry point: NULL pointers, lengths,
//! UTF-8 and kinds become error codes here, in one place, before any work.

use std::borrow::Cow;
use std::ffi::{c_char, CStr};

use blocklist_lookup::Kind;

use crate::codes::{
    BLOCKLIST_ERR_EMPTY_INPUT, BLOCKLIST_ERR_INPUT_TOO_LONG, BLOCKLIST_ERR_INVALID_UTF8,
    BLOCKLIST_ERR_NULL_POINTER, BLOCKLIST_ERR_UNKNOWN_KIND,
};
use crate::error::Error;
use crate::types::{blocklist_kind, BLOCKLIST_MAX_INPUT_LEN};

#[cold]
pub(crate) fn null(what: &str) -> Error {
    Error::new(BLOCKLIST_ERR_NULL_POINTER, format!("{what} is NULL"))
}

/// A shared reference from a pointer the caller promises is valid or NULL.
pub(crate) fn try_ref<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Error> {
    // SAFETY: the caller of the exported function guarantees `ptr` is NULL or
    // points to a live, initialised `T` for the duration of the call.
    unsafe { ptr.as_ref() }.ok_or_else(|| null(what))
}

/// An exclusive reference to an output the caller promises is valid or NULL.
/// Only for outputs of types valid for any bit pattern (integers, arrays and
/// structs of them), so uninitialised caller memory is fine.
pub(crate) fn try_mut<'a, T>(ptr: *mut T, what: &str) -> Result<&'a mut T, Error> {
    // SAFETY: as `try_ref`, for writes; callers only use plain-integer types.
    unsafe { ptr.as_mut() }.ok_or_else(|| null(what))
}

/// A slice of `len` elements at `ptr`; NULL is refused even when `len` is 0.
///
/// # Safety
/// `ptr` must be NULL or valid for reads of `len` elements.
pub(crate) unsafe fn try_slice<'a, T>(
    ptr: *const T,
    len: usize,
    what: &str,
) -> Result<&'a [T], Error> {
    if ptr.is_null() {
        return Err(null(what));
    }
    // SAFETY: non-null, and valid for `len` elements per the contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A mutable slice of `len` elements at `ptr`; NULL is refused.
///
/// # Safety
/// `ptr` must be NULL or valid for writes of `len` elements of a plain-integer type.
pub(crate) unsafe fn try_slice_mut<'a, T>(
    ptr: *mut T,
    len: usize,
    what: &str,
) -> Result<&'a mut [T], Error> {
    if ptr.is_null() {
        return Err(null(what));
    }
    // SAFETY: non-null, and valid for `len` elements per the contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// Identifier text: `len` bytes at `ptr`, non-empty, at most
/// `BLOCKLIST_MAX_INPUT_LEN` bytes (checked before reading them), UTF-8.
///
/// # Safety
/// `ptr` must be NULL or valid for reads of `len` bytes.
pub(crate) unsafe fn try_identifier<'a>(ptr: *const c_char, len: usize) -> Result<&'a str, Error> {
    // SAFETY: forwarded contract.
    try_utf8(unsafe { try_identifier_bytes(ptr, len)? })
}

/// [`try_identifier`] before the UTF-8 check, for callers that test the
/// bytes in a way that also proves them UTF-8. Inlined, the refusals out of
/// line: it is on every check's path.
///
/// # Safety
/// `ptr` must be NULL or valid for reads of `len` bytes.
#[inline(always)]
pub(crate) unsafe fn try_identifier_bytes<'a>(
    ptr: *const c_char,
    len: usize,
) -> Result<&'a [u8], Error> {
    if ptr.is_null() {
        return Err(null("identifier"));
    }
    if len == 0 || len > BLOCKLIST_MAX_INPUT_LEN {
        return Err(wrong_length(len));
    }
    // SAFETY: checked non-null above; valid for `len` bytes per the contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) })
}

/// The refusal of identifier text of length `len`: none, or too long.
#[cold]
fn wrong_length(len: usize) -> Error {
    if len == 0 {
        return Error::new(BLOCKLIST_ERR_EMPTY_INPUT, "identifier has length 0");
    }
    Error::new(
        BLOCKLIST_ERR_INPUT_TOO_LONG,
        format!("identifier length {len} is more than BLOCKLIST_MAX_INPUT_LEN ({BLOCKLIST_MAX_INPUT_LEN})"),
    )
}

/// [`try_identifier_bytes`], copied when they share memory with the `size`
/// bytes at `output` that the call is about to write: a caller passing back
/// `matched` of the very result it asks to be filled, or normalising a buffer
/// in place, gets its answer rather than its text overwritten while in use.
///
/// # Safety
/// `ptr` must be NULL or valid for reads of `len` bytes.
#[inline(always)]
pub(crate) unsafe fn try_identifier_bytes_apart<'a>(
    ptr: *const c_char,
    len: usize,
    output: *const u8,
    size: usize,
) -> Result<Cow<'a, [u8]>, Error> {
    // SAFETY: forwarded contract.
    let bytes = unsafe { try_identifier_bytes(ptr, len)? };
    Ok(if overlaps((ptr.cast(), len), (output, size)) {
        Cow::Owned(copied(bytes))
    } else {
        Cow::Borrowed(bytes)
    })
}

/// A copy of text the call is about to overwrite (rare: kept out of line).
#[cold]
fn copied(bytes: &[u8]) -> Vec<u8> {
    bytes.to_vec()
}

/// Whether two spans of memory (start, length in bytes) share a byte.
pub(crate) fn overlaps((a, a_len): (*const u8, usize), (b, b_len): (*const u8, usize)) -> bool {
    let (a, b) = (a as usize, b as usize);
    a < b.saturating_add(b_len) && b < a.saturating_add(a_len)
}

/// Identifier bytes as text, or `BLOCKLIST_ERR_INVALID_UTF8`.
pub(crate) fn try_utf8(bytes: &[u8]) -> Result<&str, Error> {
    // Almost every identifier is ASCII, and a word-at-a-time ASCII scan of a
    // short input costs a fraction of the general UTF-8 validator.
    if bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes).map_err(|e| {
        Error::new(
            BLOCKLIST_ERR_INVALID_UTF8,
            format!("identifier is not valid UTF-8: {e}"),
        )
    })
}

/// A NUL-terminated path.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string.
pub(crate) unsafe fn try_path<'a>(
    ptr: *const c_char,
    what: &str,
) -> Result<&'a std::path::Path, Error> {
    use std::os::unix::ffi::OsStrExt;
    if ptr.is_null() {
        return Err(null(what));
    }
    // SAFETY: non-null and NUL-terminated per the contract.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    if bytes.is_empty() {
        return Err(Error::new(
            BLOCKLIST_ERR_EMPTY_INPUT,
            format!("{what} is empty"),
        ));
    }
    Ok(std::path::Path::new(std::ffi::OsStr::from_bytes(bytes)))
}

/// A kind this library can look up.
pub(crate) fn try_kind(kind: blocklist_kind) -> Result<Kind, Error> {
    match Kind::from_code(kind) {
        Kind::Other(code) => Err(Error::new(
            BLOCKLIST_ERR_UNKNOWN_KIND,
            format!("unknown kind {code}: expected BLOCKLIST_KIND_ACCOUNT (1), _NUMBER (2) or _DOMAIN (3)"),
        )),
        known => Ok(known),
    }
}
