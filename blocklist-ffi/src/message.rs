//! The message functions: the static text of a code and the calling thread's
//! detailed message of its last failed call, copied into the caller's buffer.

use std::ffi::c_char;

use crate::args::{try_mut, try_slice_mut};
use crate::boundary::ffi_guard_keeping_message;
use crate::codes::{blocklist_result, message_of, BLOCKLIST_ERR_BUFFER_TOO_SMALL};
use crate::error::{last_error, Error};

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
        let last = last_error();
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
    let buf = unsafe { try_slice_mut(buf.cast::<u8>(), room, "buf")? };
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
    use crate::codes::{BLOCKLIST_ERR_MALFORMED, BLOCKLIST_OK};
    use crate::error::set_last_error;

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
