//! Identifiers kept in canonical form: normalise once (when an account is
//! registered as a payee, say), then check the stored form on every payment
//! without normalising it again.

use std::ffi::c_char;

use blocklist_lookup::normalise::{has_canonical_shape, normalise_into};
use blocklist_lookup::Kind;

use crate::args::{
    null, try_identifier_bytes, try_identifier_bytes_apart, try_kind, try_mut, try_ref,
    try_slice_mut, try_utf8,
};
use crate::boundary::ffi_guard;
use crate::check::{run_batch, Answer};
use crate::codes::{
    blocklist_result, BLOCKLIST_ERR_BUFFER_TOO_SMALL, BLOCKLIST_ERR_NOT_CANONICAL, BLOCKLIST_OK,
};
use crate::error::Error;
use crate::handle::blocklist_handle;
use crate::types::{blocklist_check_result, blocklist_kind, blocklist_query, RESULT_SIZE};

/// Writes the canonical form of an identifier of `kind` into `buf`, with a
/// NUL, and its length (without the NUL) into `*out_len`: the text
/// `blocklist_check_canonical` takes, normalised with the handle's rules
/// exactly as `blocklist_check` normalises. `BLOCKLIST_MATCHED_MAX` bytes
/// always suffice.
///
/// Errors (nothing written): `BLOCKLIST_ERR_NULL_POINTER`, the argument
/// errors of `blocklist_check`, the 2xx codes when the text is not a valid
/// identifier of the kind, `BLOCKLIST_ERR_BUFFER_TOO_SMALL` when `cap` is
/// less than the canonical length plus one.
///
/// Ownership: borrows `data` for the call; the caller owns `buf`, which may
/// be the buffer `data` points into (normalising in place).
/// Thread-safety: any number of threads at once.
///
/// # Safety
/// `handle` NULL or open; `data` NULL or valid for `len` bytes; `buf` NULL or
/// valid for writing `cap` bytes; `out_len` NULL or valid for one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn blocklist_normalise(
    handle: *const blocklist_handle,
    kind: blocklist_kind,
    data: *const c_char,
    len: usize,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> blocklist_result {
    ffi_guard(|| {
        let handle = try_ref(handle, "handle")?;
        let kind = try_kind(kind)?;
        // SAFETY: the caller guarantees `data` is valid for `len` bytes.
        let bytes = unsafe { try_identifier_bytes_apart(data, len, buf.cast(), cap)? };
        let raw = try_utf8(&bytes)?;
        if buf.is_null() {
            return Err(null("buf"));
        }
        let out_len = try_mut(out_len, "out_len")?;
        let mut canonical = String::new();
        normalise_into(kind, raw, handle.rules(), &mut canonical)?;
        if cap <= canonical.len() {
            return Err(Error::new(
                BLOCKLIST_ERR_BUFFER_TOO_SMALL,
                format!(
                    "cap is {cap}: the canonical form {canonical:?} needs {} bytes with its NUL",
                    canonical.len() + 1
                ),
            ));
        }
        // Only the bytes written are viewed: a slice of a huge `cap` (past
        // `isize::MAX`) would be undefined behaviour even if never touched.
        // SAFETY: the caller guarantees `buf` is valid for `cap` bytes, more
        // than these.
        let field = unsafe { try_slice_mut(buf.cast::<u8>(), canonical.len() + 1, "buf")? };
        let (text, nul) = field.split_at_mut(canonical.len());
        text.copy_from_slice(canonical.as_bytes());
        nul[0] = 0;
        *out_len = canonical.len();
        Ok(())
    })
}

/// Checks an identifier already in canonical form (from `blocklist_normalise`,
/// or `matched` of an earlier result), skipping normalisation: the fastest
/// check. A domain also matches through a listed parent up
/// to its registrable domain (never past a public suffix). Check
/// `out->freshness` on every answer.
///
/// The text must have its kind's canonical shape (`+66812345678`,
/// `TH:004:1234567890`, an IBAN in capitals without spaces, `scam.example`),
/// else `BLOCKLIST_ERR_NOT_CANONICAL`: text as people write it is refused, not
/// silently "not listed". Text of the right shape is not normalised further,
/// so one that is not the canonical form is answered "not listed": pass only
/// text this library produced.
///
/// Errors (nothing written to `*out`): `BLOCKLIST_ERR_NULL_POINTER`,
/// `BLOCKLIST_ERR_EMPTY_INPUT`, `BLOCKLIST_ERR_INPUT_TOO_LONG`,
/// `BLOCKLIST_ERR_INVALID_UTF8`, `BLOCKLIST_ERR_UNKNOWN_KIND`,
/// `BLOCKLIST_ERR_NOT_CANONICAL`, `BLOCKLIST_ERR_INDEX_MODIFIED` (as
/// `blocklist_check`).
///
/// Ownership and thread-safety: as `blocklist_check`.
///
/// # Safety
/// As `blocklist_check`.
#[no_mangle]
pub unsafe extern "C" fn blocklist_check_canonical(
    handle: *const blocklist_handle,
    kind: blocklist_kind,
    data: *const c_char,
    len: usize,
    out: *mut blocklist_check_result,
) -> blocklist_result {
    ffi_guard(|| {
        let handle = try_ref(handle, "handle")?;
        let kind = try_kind(kind)?;
        // SAFETY: the caller guarantees `data` is valid for `len` bytes.
        let bytes = unsafe { try_identifier_bytes_apart(data, len, out.cast(), RESULT_SIZE)? };
        // SAFETY: the caller guarantees `out` is valid for its `size` bytes.
        let mut out = unsafe { Answer::at(out)? };
        let now = handle.now();
        let snapshot = handle.snapshot();
        let data = snapshot.data(now)?;
        // The index runs the shape guard itself, once the key's first line
        // is on its way.
        let hit = match data.index {
            Some(index) => index
                .lookup_shaped(kind, &bytes, now)
                .ok_or_else(|| not_canonical(kind, &bytes))?,
            None => try_canonical(kind, &bytes).map(|_| None)?,
        };
        out.write(BLOCKLIST_OK, kind, &data, hit.as_ref());
        Ok(())
    })
}

/// `blocklist_check_batch` for identifiers in canonical form, under the rules
/// of `blocklist_check_canonical`: each query whose text does not have its
/// kind's canonical shape gets `BLOCKLIST_ERR_NOT_CANONICAL` in its result.
/// The fastest way to check many identifiers (a payee file, a night's
/// transfers): the memory loads of many queries overlap, and nothing is
/// normalised.
///
/// Errors, ownership and thread-safety: as `blocklist_check_batch`.
///
/// # Safety
/// As `blocklist_check_batch`.
#[no_mangle]
pub unsafe extern "C" fn blocklist_check_canonical_batch(
    handle: *const blocklist_handle,
    queries: *const blocklist_query,
    n: usize,
    results: *mut blocklist_check_result,
) -> blocklist_result {
    // SAFETY: forwarded contract; `run_batch` passes `text` only the caller's
    // queries (or copies of them), each `data` valid for its `len`.
    unsafe {
        run_batch(
            handle,
            queries,
            n,
            results,
            |kind, q| try_canonical(kind, try_identifier_bytes(q.data, q.len)?),
            |index, _, now, valid, found| {
                let mut hits = Vec::new();
                if let Some(index) = index {
                    index.lookup_batch(valid, now, &mut hits);
                }
                for (at, hit) in hits {
                    found(at, Ok(hit));
                }
            },
        )
    }
}

/// `bytes` as text of `kind`'s canonical shape, or `BLOCKLIST_ERR_NOT_CANONICAL`
/// (`BLOCKLIST_ERR_INVALID_UTF8` if it is not even UTF-8).
#[inline]
pub(crate) fn try_canonical(kind: Kind, bytes: &[u8]) -> Result<&str, Error> {
    // The shape test proves the bytes ASCII, so it stands in for the UTF-8
    // check on this path, the fastest there is.
    if !has_canonical_shape(kind, bytes) {
        return Err(not_canonical(kind, bytes));
    }
    // SAFETY: text of a canonical shape is ASCII.
    Ok(unsafe { std::str::from_utf8_unchecked(bytes) })
}

/// The error for `bytes` that do not have `kind`'s canonical shape:
/// `BLOCKLIST_ERR_NOT_CANONICAL`, or `BLOCKLIST_ERR_INVALID_UTF8` if they are
/// not even UTF-8.
#[cold]
pub(crate) fn not_canonical(kind: Kind, bytes: &[u8]) -> Error {
    match try_utf8(bytes) {
        Ok(text) => Error::new(
            BLOCKLIST_ERR_NOT_CANONICAL,
            format!(
                "{text:?} is not in the canonical form of a {kind}: normalise it \
                 with blocklist_normalise, or check it with blocklist_check"
            ),
        ),
        Err(e) => e,
    }
}
