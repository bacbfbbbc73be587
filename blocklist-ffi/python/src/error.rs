//! The module's exceptions: one class per band of libblocklist's result
//! codes, each instance carrying the C library's `code` and detailed
//! `message`, so a script branches on the same numbers a C caller does.
//!
//! ```python
//! try:
//!     handle.check("number", "12")
//! except blocklist.InvalidIdentifier as e:
//!     print(e.code, e.message)   # 204, the normaliser's reason
//! ```

use pyo3::exceptions::PyException;
use pyo3::prelude::*;

use crate::native::Failure;

pyo3::create_exception!(
    blocklist,
    BlocklistError,
    PyException,
    "Any refusal of libblocklist: `code` is its result code, `message` the detail."
);
pyo3::create_exception!(
    blocklist,
    InvalidArgument,
    BlocklistError,
    "A bad argument (codes 1xx): unknown kind, empty or too long text, invalid options, a closed handle."
);
pyo3::create_exception!(
    blocklist,
    InvalidIdentifier,
    BlocklistError,
    "Text that is not a valid identifier of its kind (codes 2xx)."
);
pyo3::create_exception!(
    blocklist,
    IndexFileError,
    BlocklistError,
    "The index data (codes 3xx): not found, unreadable, corrupt, overwritten in place."
);
pyo3::create_exception!(
    blocklist,
    InternalError,
    BlocklistError,
    "A bug in libblocklist (codes 9xx)."
);

/// The exception for `failure`, of the class of its code's band, with
/// `code` and `message` set (`str(e)` is the message).
pub(crate) fn exception(py: Python<'_>, failure: Failure) -> PyErr {
    let error = match failure.code / 100 {
        1 => InvalidArgument::new_err(failure.message.clone()),
        2 => InvalidIdentifier::new_err(failure.message.clone()),
        3 => IndexFileError::new_err(failure.message.clone()),
        _ => InternalError::new_err(failure.message.clone()),
    };
    let value = error.value(py);
    // Setting an attribute on a fresh exception instance cannot fail short
    // of memory exhaustion, which Python reports on its own.
    let _ = value.setattr("code", failure.code);
    let _ = value.setattr("message", failure.message);
    error
}

/// Adds the exception classes to the module.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add("BlocklistError", py.get_type::<BlocklistError>())?;
    module.add("InvalidArgument", py.get_type::<InvalidArgument>())?;
    module.add("InvalidIdentifier", py.get_type::<InvalidIdentifier>())?;
    module.add("IndexFileError", py.get_type::<IndexFileError>())?;
    module.add("InternalError", py.get_type::<InternalError>())?;
    Ok(())
}
