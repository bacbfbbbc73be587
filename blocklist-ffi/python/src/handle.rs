//! `blocklist.Handle`: an open index, shared by any number of Python
//! threads, that follows the versions the daemon publishes. Every call
//! releases the GIL while libblocklist works, so threads check in parallel.

use std::path::PathBuf;
use std::sync::{PoisonError, RwLock};

use blocklist::codes::{BLOCKLIST_ERR_NULL_POINTER, BLOCKLIST_ERR_UNKNOWN_KIND, BLOCKLIST_OK};
use blocklist::types::{blocklist_kind, BLOCKLIST_KIND_DOMAIN};
use blocklist_lookup::Kind;
use pyo3::prelude::*;

use crate::answer::{Check, Status};
use crate::error::exception;
use crate::native::{static_text, Failure, Native, OpenOptions};

/// An open lookup index (see `blocklist.open`). Thread-safe; close it with
/// `close()` or a `with` block, or let it be collected.
///
/// ```python
/// with blocklist.open("/var/lib/blocklistd") as handle:
///     print(handle.check("number", "081-234-5678").listed)
/// ```
#[pyclass(module = "blocklist", frozen)]
pub(crate) struct Handle {
    /// The path given at open, as given.
    path: PathBuf,
    /// `None` once closed. Calls hold the read lock while libblocklist
    /// runs, `close` the write lock: the C library requires that no call is
    /// in flight when the handle is closed.
    native: RwLock<Option<Native>>,
}

impl Handle {
    pub(crate) fn open(path: PathBuf, options: &OpenOptions<'_>) -> Result<Handle, Failure> {
        let native = Native::open(&path, options)?;
        Ok(Handle {
            path,
            native: RwLock::new(Some(native)),
        })
    }

    /// Runs `call` on the open handle with the GIL released.
    fn with_native<R: Send>(
        &self,
        py: Python<'_>,
        call: impl FnOnce(&Native) -> Result<R, Failure> + Send,
    ) -> PyResult<R> {
        py.detach(|| {
            let native = self.native.read().unwrap_or_else(PoisonError::into_inner);
            match native.as_ref() {
                Some(native) => call(native),
                None => Err(Failure::new(
                    BLOCKLIST_ERR_NULL_POINTER,
                    format!("the handle on {} is closed", self.path.display()),
                )),
            }
        })
        .map_err(|failure| exception(py, failure))
    }
}

#[pymethods]
impl Handle {
    /// Whether `text`, an identifier of `kind` ("account", "number",
    /// "domain" or "url") as a person wrote it, is listed. Raises
    /// InvalidIdentifier for text that is not one, IndexFileError while the
    /// served index is withheld (overwritten in place).
    fn check(&self, py: Python<'_>, kind: &str, text: &str) -> PyResult<Check> {
        let kind = kind_code(kind).map_err(|failure| exception(py, failure))?;
        let result = self.with_native(py, |native| native.check(kind, text))?;
        Ok(Check::answered(&result))
    }

    /// Checks `(kind, text)` pairs at once, all against the same index
    /// version; faster per identifier than `check`. An item that cannot be
    /// checked gets a `Check` with `listed` False and its exception in
    /// `error` (not raised). Raises for the whole call only: more than
    /// 65536 items (InvalidArgument), an index withheld (IndexFileError).
    fn check_batch(&self, py: Python<'_>, items: Vec<(String, String)>) -> PyResult<Vec<Check>> {
        let kinds: Vec<Result<blocklist_kind, Failure>> =
            items.iter().map(|(kind, _)| kind_code(kind)).collect();
        // An unknown kind name goes as the unknown kind code, which the C
        // library refuses in that item alone; its message is ours.
        let queries: Vec<(blocklist_kind, &str)> = items
            .iter()
            .zip(&kinds)
            .map(|((_, text), kind)| (*kind.as_ref().unwrap_or(&UNKNOWN_KIND), text.as_str()))
            .collect();
        let answers = self.with_native(py, |native| {
            let results = native.check_batch(&queries)?;
            Ok(results
                .into_iter()
                .zip(&queries)
                .zip(&kinds)
                .map(|((result, &(kind, text)), named)| {
                    let failure = match named {
                        Err(failure) => Some(failure.clone()),
                        // The C library keeps only the first bad item's
                        // message: each bad item's own comes from
                        // normalising it alone (rare, so cheap).
                        Ok(_) if result.status != BLOCKLIST_OK => {
                            Some(native.normalise(kind, text).err().unwrap_or_else(|| {
                                Failure::new(result.status, static_text(result.status))
                            }))
                        }
                        Ok(_) => None,
                    };
                    (result, failure)
                })
                .collect::<Vec<_>>())
        })?;
        Ok(answers
            .into_iter()
            .map(|(result, failure)| match failure {
                None => Check::answered(&result),
                Some(failure) => Check::refused(py, &result, failure),
            })
            .collect())
    }

    /// The canonical form of `text` as checks look it up ("+66812345678",
    /// "TH:004:1234567890", "scam.example"), with the handle's region.
    fn normalise(&self, py: Python<'_>, kind: &str, text: &str) -> PyResult<String> {
        let kind = kind_code(kind).map_err(|failure| exception(py, failure))?;
        self.with_native(py, |native| native.normalise(kind, text))
    }

    /// The data served and its freshness, and how reloads went.
    fn status(&self, py: Python<'_>) -> PyResult<Status> {
        let (status, reload_error) = self.with_native(py, Native::status)?;
        Ok(Status::new(py, &status, reload_error))
    }

    /// Looks for a newly published index now instead of waiting for the
    /// background thread. Raises IndexFileError if the file there is
    /// refused (the previous index stays in use).
    fn reload(&self, py: Python<'_>) -> PyResult<()> {
        self.with_native(py, Native::reload)
    }

    /// Stops the reload thread and unmaps the index, once calls in flight
    /// on other threads have returned. Calls after it raise InvalidArgument;
    /// closing again does nothing.
    fn close(&self, py: Python<'_>) {
        let closed = py.detach(|| {
            self.native
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .take()
        });
        // Dropped with the GIL released too: closing joins the reload thread.
        py.detach(move || drop(closed));
    }

    /// The path given at open.
    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _type: Py<PyAny>,
        _value: Py<PyAny>,
        _traceback: Py<PyAny>,
    ) -> bool {
        self.close(py);
        false
    }

    fn __repr__(&self) -> String {
        format!("blocklist.Handle({:?})", self.path.display().to_string())
    }
}

/// A kind code no kind has: the C library refuses it with
/// `BLOCKLIST_ERR_UNKNOWN_KIND`.
const UNKNOWN_KIND: blocklist_kind = 0;

/// The C kind code for a kind name: "account", "number", "domain", and
/// "url", checked as its host (the C library's `blocklist_check_url`).
fn kind_code(name: &str) -> Result<blocklist_kind, Failure> {
    if name.trim().eq_ignore_ascii_case("url") {
        return Ok(BLOCKLIST_KIND_DOMAIN);
    }
    match name.parse::<Kind>() {
        Ok(kind) => Ok(kind.code()),
        Err(_) => Err(Failure::new(
            BLOCKLIST_ERR_UNKNOWN_KIND,
            format!("unknown kind {name:?}: expected account, number, domain or url"),
        )),
    }
}
