//! `blocklist`, the Python module: libblocklist's read side for scripts
//! (fraud teams checking a file of accounts against the list, say).
//!
//! ```python
//! import blocklist
//!
//! handle = blocklist.open("/var/lib/blocklistd")
//! r = handle.check("number", "081-234-5678")
//! if r.listed:
//!     print(r.matched, r.reason, r.agency, r.freshness)
//! ```
//!
//! Modules, each using only those above it:
//!
//! 1. `native`: the calls into libblocklist (its C API, through the
//!    `blocklist-ffi` crate), so answers, reloads, freshness and error
//!    codes are the C library's own;
//! 2. `error`: the exception classes, one per band of result codes;
//! 3. `answer`: the `Check` and `Status` objects;
//! 4. `handle`: `Handle`, its checks and status, the GIL released around each.
//!
//! Built for Python by maturin (`pyproject.toml`, abi3: CPython 3.9 and
//! later); `tests/python.rs` runs `tests/test_blocklist.py` against a cargo
//! build of this library and, where maturin is installed, against the wheel.

mod answer;
mod error;
mod handle;
mod native;

use std::path::PathBuf;

use blocklist::options::{BLOCKLIST_DEFAULT_MAX_AGE_SECONDS, BLOCKLIST_DEFAULT_RELOAD_INTERVAL_MS};
use pyo3::prelude::*;

use crate::handle::Handle;
use crate::native::OpenOptions;

/// Opens the lookup index at `path`: a data folder holding `lookup.idx`
/// (where blocklistd publishes it) or the index file itself.
///
/// Options (as the C library's `blocklist_options`): `max_age_seconds`, how
/// old data may be before answers say "stale", only where no daemon
/// heartbeat lies beside the index (0: never); `allow_missing`, open even
/// before the first index exists (answers say "no_data" until it appears);
/// `region`, the region national numbers and accounts are read in;
/// `reload_interval_ms`, how often the background thread looks for a new
/// file (0: no thread, call `reload()`). Raises IndexFileError (code 300
/// when there is no index), InvalidArgument for bad options.
///
/// ```python
/// handle = blocklist.open("/var/lib/blocklistd", allow_missing=True, region="TH")
/// ```
#[pyfunction]
#[pyo3(signature = (
    path,
    *,
    max_age_seconds = BLOCKLIST_DEFAULT_MAX_AGE_SECONDS,
    allow_missing = false,
    region = "TH",
    reload_interval_ms = BLOCKLIST_DEFAULT_RELOAD_INTERVAL_MS,
))]
fn open(
    py: Python<'_>,
    path: PathBuf,
    max_age_seconds: u64,
    allow_missing: bool,
    region: &str,
    reload_interval_ms: u32,
) -> PyResult<Handle> {
    let options = OpenOptions {
        max_age_seconds,
        reload_interval_ms,
        allow_missing,
        region,
    };
    // Opening validates the whole index: without the GIL.
    py.detach(|| Handle::open(path, &options))
        .map_err(|failure| error::exception(py, failure))
}

/// Checks bank accounts, phone numbers and domains against the fraud
/// blocklist, from the index blocklistd publishes: `blocklist.open(path)`,
/// then `check`, `check_batch`, `normalise` and `status` on the handle.
#[pymodule]
#[pyo3(name = "blocklist")]
fn blocklist_python(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(open, module)?)?;
    module.add_class::<Handle>()?;
    module.add_class::<answer::Check>()?;
    module.add_class::<answer::Status>()?;
    module.add("__version__", env!("CARGO_PKG_VERSION"))?;
    error::register(module)
}
