//! The one place that calls libblocklist: a [`Native`] handle owning a
//! `blocklist_handle`, each call returning its output or a [`Failure`] with
//! the C library's code and detailed message.
//!
//! Going through the C API rather than re-assembling the handle from the
//! lookup crate is what makes Python answer exactly as C does: the same
//! reload thread following the daemon's new versions, the same freshness
//! rules, the same result codes and messages.

use std::ffi::{c_char, CString};
use std::mem::size_of;
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::ptr::NonNull;

use blocklist::check::{blocklist_check, blocklist_check_batch};
use blocklist::codes::{
    blocklist_result, BLOCKLIST_ERR_INVALID_OPTIONS, BLOCKLIST_ERR_NULL_POINTER, BLOCKLIST_OK,
};
use blocklist::handle::{
    blocklist_close, blocklist_handle, blocklist_handle_reload, blocklist_handle_reload_error,
    blocklist_handle_status, blocklist_open_with_options,
};
use blocklist::message::{blocklist_error_message, blocklist_last_error};
use blocklist::options::{blocklist_options, BLOCKLIST_REGION_MAX};
use blocklist::types::{
    blocklist_check_result, blocklist_kind, blocklist_query, blocklist_status,
    BLOCKLIST_MATCHED_MAX,
};

/// A call libblocklist refused: its result code and the detailed message
/// (`blocklist_last_error`), or the code's static text when there is none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (code {code})")]
pub(crate) struct Failure {
    pub(crate) code: blocklist_result,
    pub(crate) message: String,
}

impl Failure {
    /// A failure detected before reaching libblocklist, with the code C
    /// gives the same mistake.
    pub(crate) fn new(code: blocklist_result, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// The failure of a call that just returned `code` on this thread.
    fn last(code: blocklist_result) -> Failure {
        // SAFETY: `read_message` passes a buffer valid for its length and a length to write.
        let message =
            read_message(|buf, len, out_len| unsafe { blocklist_last_error(buf, len, out_len) })
                .filter(|message| !message.is_empty())
                .unwrap_or_else(|| static_text(code));
        Failure { code, message }
    }
}

/// The static text of a result code (`blocklist_error_message`).
pub(crate) fn static_text(code: blocklist_result) -> String {
    // SAFETY: the C library returns a static NUL-terminated string for any code.
    unsafe { std::ffi::CStr::from_ptr(blocklist_error_message(code)) }
        .to_string_lossy()
        .into_owned()
}

/// A message that `copy` (`blocklist_last_error` or
/// `blocklist_handle_reload_error`) copies out, whole however long: a
/// truncated one is read again into a buffer of the length it reported.
/// `None` if the call fails.
fn read_message(
    mut copy: impl FnMut(*mut c_char, usize, *mut usize) -> blocklist_result,
) -> Option<String> {
    let mut buf = vec![0 as c_char; 512];
    loop {
        let mut len = 0usize;
        if copy(buf.as_mut_ptr(), buf.len(), &mut len) != BLOCKLIST_OK {
            return None;
        }
        if len < buf.len() {
            return Some(text_of(&buf));
        }
        buf = vec![0; len + 1];
    }
}

/// The text of a NUL-terminated C field.
pub(crate) fn text_of(field: &[c_char]) -> String {
    let bytes: Vec<u8> = field
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `Ok(())` for `BLOCKLIST_OK`, else the thread's failure.
fn ok(code: blocklist_result) -> Result<(), Failure> {
    match code {
        BLOCKLIST_OK => Ok(()),
        code => Err(Failure::last(code)),
    }
}

/// How to open a handle: the fields of `blocklist_options` a script sets.
pub(crate) struct OpenOptions<'a> {
    pub(crate) max_age_seconds: u64,
    pub(crate) reload_interval_ms: u32,
    pub(crate) allow_missing: bool,
    pub(crate) region: &'a str,
}

/// An open `blocklist_handle`, closed on drop.
pub(crate) struct Native(NonNull<blocklist_handle>);

// SAFETY: the C library documents every call on a handle but
// `blocklist_close` as safe from any number of threads at once; `close`
// needs `&mut self` (or a drop), so it runs alone.
unsafe impl Send for Native {}
// SAFETY: as above.
unsafe impl Sync for Native {}

/// An empty answer for the C library to fill, its `size` set as the
/// growth rule asks (what C's `BLOCKLIST_CHECK_RESULT_INIT` does).
fn empty_result() -> blocklist_check_result {
    // SAFETY: integers and arrays of integers, for which zero is valid.
    let mut out: blocklist_check_result = unsafe { std::mem::zeroed() };
    out.size = size_of::<blocklist_check_result>() as u32;
    out
}

impl Native {
    /// `blocklist_open_with_options` on `path`.
    pub(crate) fn open(path: &Path, options: &OpenOptions<'_>) -> Result<Native, Failure> {
        let path = CString::new(path.as_os_str().as_bytes()).map_err(|_| {
            Failure::new(
                BLOCKLIST_ERR_INVALID_OPTIONS,
                format!("path {} holds a NUL byte", path.display()),
            )
        })?;
        if options.region.len() >= BLOCKLIST_REGION_MAX {
            return Err(Failure::new(
                BLOCKLIST_ERR_INVALID_OPTIONS,
                format!(
                    "region {:?} is not a two-letter region code",
                    options.region
                ),
            ));
        }
        // Any other bad region is refused by the C library, with its message.
        let mut region = [0 as c_char; BLOCKLIST_REGION_MAX];
        for (slot, byte) in region.iter_mut().zip(options.region.bytes()) {
            *slot = byte as c_char;
        }
        let c_options = blocklist_options {
            max_age_seconds: options.max_age_seconds,
            reload_interval_ms: options.reload_interval_ms,
            allow_missing: u8::from(options.allow_missing),
            default_region: region,
            ..blocklist_options::default()
        };
        let mut handle = std::ptr::null_mut();
        // SAFETY: `path` is NUL-terminated, `c_options` and `handle` are valid locals.
        ok(unsafe { blocklist_open_with_options(path.as_ptr(), &c_options, &mut handle) })?;
        NonNull::new(handle).map(Native).ok_or_else(|| {
            Failure::new(BLOCKLIST_ERR_NULL_POINTER, "blocklist_open gave no handle")
        })
    }

    /// `blocklist_check` of one identifier.
    pub(crate) fn check(
        &self,
        kind: blocklist_kind,
        text: &str,
    ) -> Result<blocklist_check_result, Failure> {
        let mut out = empty_result();
        // SAFETY: the handle is open; `text` is valid for its length, `out` for one result.
        ok(unsafe {
            blocklist_check(
                self.0.as_ptr(),
                kind,
                text.as_ptr().cast(),
                text.len(),
                &mut out,
            )
        })?;
        Ok(out)
    }

    /// `blocklist_check_batch`: one answer per query, all from one index; an
    /// invalid query's code is in its answer's `status`.
    pub(crate) fn check_batch(
        &self,
        queries: &[(blocklist_kind, &str)],
    ) -> Result<Vec<blocklist_check_result>, Failure> {
        let c_queries: Vec<blocklist_query> = queries
            .iter()
            .map(|&(kind, text)| blocklist_query {
                kind,
                data: text.as_ptr().cast(),
                len: text.len(),
            })
            .collect();
        let mut out = vec![empty_result(); queries.len()];
        // SAFETY: the handle is open; each query's text outlives the call;
        // `out` holds one result per query.
        ok(unsafe {
            blocklist_check_batch(
                self.0.as_ptr(),
                c_queries.as_ptr(),
                c_queries.len(),
                out.as_mut_ptr(),
            )
        })?;
        Ok(out)
    }

    /// `blocklist_normalise`: the canonical form checks look up.
    pub(crate) fn normalise(&self, kind: blocklist_kind, text: &str) -> Result<String, Failure> {
        let mut buf = [0 as c_char; BLOCKLIST_MATCHED_MAX];
        let mut len = 0usize;
        // SAFETY: the handle is open; `text` valid for its length, `buf` for
        // its size, `len` for one usize.
        ok(unsafe {
            blocklist::canonical::blocklist_normalise(
                self.0.as_ptr(),
                kind,
                text.as_ptr().cast(),
                text.len(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut len,
            )
        })?;
        Ok(text_of(&buf[..len]))
    }

    /// `blocklist_handle_status`, and the message of the last failed reload
    /// (`blocklist_handle_reload_error`, empty if none).
    pub(crate) fn status(&self) -> Result<(blocklist_status, String), Failure> {
        let mut status = blocklist_status {
            size: size_of::<blocklist_status>() as u32,
            ..blocklist_status::default()
        };
        // SAFETY: the handle is open; `status` is a valid local.
        ok(unsafe { blocklist_handle_status(self.0.as_ptr(), &mut status) })?;
        let handle = self.0.as_ptr();
        // SAFETY: the handle is open; `read_message` passes a buffer valid
        // for its length and a length to write.
        let reload_error = read_message(|buf, len, out_len| unsafe {
            blocklist_handle_reload_error(handle, buf, len, out_len)
        })
        .unwrap_or_default();
        Ok((status, reload_error))
    }

    /// `blocklist_handle_reload`: looks for a new index file now.
    pub(crate) fn reload(&self) -> Result<(), Failure> {
        // SAFETY: the handle is open.
        ok(unsafe { blocklist_handle_reload(self.0.as_ptr()) })
    }
}

impl Drop for Native {
    fn drop(&mut self) {
        // SAFETY: opened by `Native::open` and closed only here; `&mut self`
        // means no other call on it is running.
        unsafe { blocklist_close(self.0.as_ptr()) }
    }
}
