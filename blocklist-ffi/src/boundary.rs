//! The panic boundary: every exported function runs its body through
//! [`ffi_guard`], so no panic unwinds into C and every failure leaves its
//! detailed message for `blocklist_last_error`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::codes::{blocklist_result, BLOCKLIST_ERR_PANIC, BLOCKLIST_OK};
use crate::error::{set_last_error, Error};

/// Runs `body`, turning its error or a caught panic into a result code and
/// the thread's last-error message.
///
/// `AssertUnwindSafe` is sound here because a body that panics leaves its
/// outputs unwritten (outputs are written last) and shared state is kept
/// consistent by its own types (atomics, poison-tolerant mutexes).
///
/// Always inlined, so that each entry point's body is one function rather
/// than a call through a closure of pointers to its arguments. The body's
/// error becomes its code inside the unwind boundary, so what crosses it is
/// one integer, not an `Error` stored and read back on every call.
#[inline(always)]
pub(crate) fn ffi_guard(body: impl FnOnce() -> Result<(), Error>) -> blocklist_result {
    let coded = || match body() {
        Ok(()) => BLOCKLIST_OK,
        Err(error) => reported(&error),
    };
    catch_unwind(AssertUnwindSafe(coded)).unwrap_or_else(|payload| reported(&panicked(&*payload)))
}

/// `error`'s code, its message now the thread's last error.
#[cold]
fn reported(error: &Error) -> blocklist_result {
    set_last_error(error);
    error.code
}

/// [`ffi_guard`] for the functions that read a message: their own failure
/// (a NULL or empty buffer) must not replace the message asked for, so it is
/// reported by its code alone.
pub(crate) fn ffi_guard_keeping_message(
    body: impl FnOnce() -> Result<(), Error>,
) -> blocklist_result {
    outcome(body).map_or_else(|error| error.code, |()| BLOCKLIST_OK)
}

/// `body`'s result, with a caught panic as an error.
fn outcome(body: impl FnOnce() -> Result<(), Error>) -> Result<(), Error> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|payload| Err(panicked(&*payload)))
}

/// The error for a panic caught at the boundary, with its message.
#[cold]
fn panicked(payload: &(dyn std::any::Any + Send)) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("non-string payload");
    Error::new(
        BLOCKLIST_ERR_PANIC,
        format!("internal error: panic caught at the C boundary: {what}"),
    )
}

/// Like [`ffi_guard`] for the few functions that return a value instead of a
/// code (constructors of static data, `_free`): a panic gives `fallback`.
pub(crate) fn ffi_guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(_) => {
            set_last_error(&Error::new(
                BLOCKLIST_ERR_PANIC,
                "internal error: panic caught at the C boundary",
            ));
            fallback
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::BLOCKLIST_ERR_MALFORMED;

    #[test]
    fn a_panic_in_the_body_becomes_the_panic_code_with_its_message() {
        let code = ffi_guard(|| panic!("boom at {}", 42));
        assert_eq!(code, BLOCKLIST_ERR_PANIC);
        let text = crate::error::last_error();
        assert!(text.ends_with("boom at 42"), "{text}");
        assert_eq!(ffi_guard_value(7, || panic!("again")), 7);
    }

    #[test]
    fn an_error_in_the_body_becomes_its_code() {
        assert_eq!(
            ffi_guard(|| Err(Error::new(BLOCKLIST_ERR_MALFORMED, "x"))),
            BLOCKLIST_ERR_MALFORMED
        );
        assert_eq!(ffi_guard(|| Ok(())), BLOCKLIST_OK);
    }
}
