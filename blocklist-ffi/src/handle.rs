//! `blocklist_handle`: an open lookup index, shared by any number of threads,
//! that follows the file the daemon publishes.
//!
//! # Reload design
//!
//! The handle serves a [`LiveIndex`]: lookups `load()` the current index
//! lock-free (an arc-swap guard held only for the lookup) and never wait. A
//! background thread owned by the handle wakes every `reload_interval_ms`,
//! `stat`s the path and, when it names a new file, opens and fully validates
//! it and swaps it in; lookups in flight finish on the index they started
//! with, whose map is released when its last guard is dropped. A file that
//! fails validation, or holds an older list version, is refused: the previous
//! index stays in use and the refusal is recorded for `blocklist_handle_status`.
//! Lookups therefore do no reload work at all, and a slow validation (tens of
//! milliseconds at 10 million entries) never lands on a payment thread.

use std::ffi::c_char;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use blocklist_lookup::index::{FileIdentity, LiveIndex, LookupIndex};
use blocklist_lookup::{Kind, Rules, Timestamp};

use crate::args::{try_mut, try_path, try_ref};
use crate::boundary::{ffi_guard, ffi_guard_keeping_message, ffi_guard_value};
use crate::check::{
    blocklist_freshness, BLOCKLIST_FRESHNESS_FRESH, BLOCKLIST_FRESHNESS_NO_DATA,
    BLOCKLIST_FRESHNESS_STALE,
};
use crate::clock;
use crate::error::{
    blocklist_result, copy_message, index_code, Error, BLOCKLIST_ERR_INDEX_NOT_FOUND,
    BLOCKLIST_ERR_INTERNAL, BLOCKLIST_ERR_UNSUPPORTED_REGION, BLOCKLIST_OK,
};
use crate::options::blocklist_options;

/// The file name of the index inside a data folder, as the daemon publishes it.
pub const BLOCKLIST_INDEX_FILE_NAME: &str = "lookup.idx";

/// An open lookup index. Opaque: create with `blocklist_open` or
/// `blocklist_open_with_options`, release with `blocklist_close`.
///
/// Thread-safety: one handle may be used by any number of threads at once for
/// every call except `blocklist_close`, which must be the last call on it.
pub struct blocklist_handle {
    shared: Arc<Shared>,
    /// The background reload thread, if `reload_interval_ms > 0`.
    reloader: Option<Reloader>,
}

/// What lookups and the reload thread share.
struct Shared {
    /// The data folder or index file given at open, made absolute.
    path: PathBuf,
    /// The process that opened the handle and runs its reload thread: a
    /// child forked since has neither the thread nor, possibly, a usable
    /// reload lock (the fork may have copied it held).
    opened_by: u32,
    rules: Rules,
    max_age_seconds: u64,
    /// Empty until an index has been opened (only with `allow_missing`).
    live: OnceLock<LiveIndex>,
    /// Held for a whole reload. Inside: the file last refused while `live`
    /// is empty, not retried until replaced.
    reloading: Mutex<Option<FileIdentity>>,
    /// Reloads only, never lookups.
    reload_status: Mutex<ReloadStatus>,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
}

#[derive(Default)]
struct ReloadStatus {
    /// The outcome of the last reload attempt that found something to do.
    last_error: Option<Error>,
}

/// The background thread and the channel whose closing stops it.
struct Reloader {
    /// Dropping it wakes the thread and tells it to exit.
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

/// The data a lookup answers from, as seen at one instant.
pub(crate) struct Data<'a> {
    /// The index, `None` before one has been opened (`allow_missing`).
    pub(crate) index: Option<&'a LookupIndex>,
    pub(crate) freshness: blocklist_freshness,
    pub(crate) rules: &'a Rules,
}

impl blocklist_handle {
    fn open(path: &Path, options: &blocklist_options) -> Result<blocklist_handle, Error> {
        let rules = options.rules()?;
        check_region_has_rules(&rules)?;
        // Absolute, so that a later `chdir` of the host does not move it.
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let live = OnceLock::new();
        match LiveIndex::open(index_file(&path)) {
            Ok(index) => {
                let _ = live.set(index);
            }
            Err(e)
                if options.allow_missing == 1
                    && index_code(&e) == BLOCKLIST_ERR_INDEX_NOT_FOUND => {}
            Err(e) => return Err(e.into()),
        }
        let shared = Arc::new(Shared {
            path,
            opened_by: std::process::id(),
            rules,
            max_age_seconds: options.max_age_seconds,
            live,
            reloading: Mutex::default(),
            reload_status: Mutex::default(),
            reloads: AtomicU64::new(0),
            reload_failures: AtomicU64::new(0),
        });
        let reloader = match options.reload_interval_ms {
            0 => None,
            ms => Some(Reloader::start(
                &shared,
                Duration::from_millis(u64::from(ms)),
            )?),
        };
        Ok(blocklist_handle { shared, reloader })
    }

    /// The normalisation rules the handle was opened with.
    pub(crate) fn rules(&self) -> &Rules {
        &self.shared.rules
    }

    /// Runs `f` on the current data at `now`; the index stays loaded for the
    /// duration of `f` only. Lock-free.
    #[inline]
    pub(crate) fn with_data<R>(&self, now: Timestamp, f: impl FnOnce(Data<'_>) -> R) -> R {
        let shared = &*self.shared;
        match shared.live.get() {
            None => f(Data {
                index: None,
                freshness: BLOCKLIST_FRESHNESS_NO_DATA,
                rules: &shared.rules,
            }),
            Some(live) => {
                let guard = live.load();
                let index: &LookupIndex = &guard;
                f(Data {
                    index: Some(index),
                    freshness: shared.freshness(index, now),
                    rules: &shared.rules,
                })
            }
        }
    }
}

impl Drop for blocklist_handle {
    fn drop(&mut self) {
        if let Some(Reloader { stop, thread }) = self.reloader.take() {
            drop(stop);
            if self.shared.opened_by == std::process::id() {
                // The thread only sleeps and reloads; a panic in it was
                // already contained, so there is nothing to report here.
                let _ = thread.join();
            } else {
                // A forked child's copy of a thread that does not exist here:
                // joining it fails, so leave it be.
                std::mem::forget(thread);
            }
        }
    }
}

impl Shared {
    fn freshness(&self, index: &LookupIndex, now: Timestamp) -> blocklist_freshness {
        let age = now.0.saturating_sub(index.header().created_at.0);
        if self.max_age_seconds != 0 && age > self.max_age_seconds {
            BLOCKLIST_FRESHNESS_STALE
        } else {
            BLOCKLIST_FRESHNESS_FRESH
        }
    }

    /// Looks for a new file at the path and swaps it in if it validates;
    /// records the outcome. `Ok(())` also when nothing changed.
    fn reload(&self) -> Result<(), Error> {
        if self.opened_by != std::process::id() {
            return Err(Error::new(
                BLOCKLIST_ERR_INTERNAL,
                format!(
                    "this handle was opened by process {}: after fork, open a new handle to reload",
                    self.opened_by
                ),
            ));
        }
        // Held to the end, so that reloads record their outcomes in the
        // order they ran: an older failure never overwrites a newer success.
        let mut refused_first = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let outcome = match self.live.get() {
            Some(live) => live.reload_if_changed().map(|done| done.is_some()),
            None => LiveIndex::open_unless_refused(index_file(&self.path), &mut refused_first).map(
                |index| {
                    index.is_some_and(|index| {
                        // Cannot be set already: after open, only set here, under `reloading`.
                        let _ = self.live.set(index);
                        true
                    })
                },
            ),
        };
        let mut status = self
            .reload_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Ok(swapped) => {
                if swapped {
                    self.reloads.fetch_add(1, Ordering::Relaxed);
                    status.last_error = None;
                }
                Ok(())
            }
            Err(e) => {
                let error = Error::from(e);
                let waiting_for_first_file =
                    self.live.get().is_none() && error.code == BLOCKLIST_ERR_INDEX_NOT_FOUND;
                if !waiting_for_first_file {
                    self.reload_failures.fetch_add(1, Ordering::Relaxed);
                }
                status.last_error = Some(error.clone());
                Err(error)
            }
        }
    }
}

/// The index file `path` names: the file in it if it is a data folder, else
/// `path` itself. Decided on every attempt until an index opens: with
/// `allow_missing` the data folder may not exist yet when the handle opens.
fn index_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(BLOCKLIST_INDEX_FILE_NAME)
    } else {
        path.to_owned()
    }
}

impl Reloader {
    fn start(shared: &Arc<Shared>, every: Duration) -> Result<Reloader, Error> {
        let (stop, stopped) = mpsc::channel::<()>();
        // Only the handle owns the shared state: in a child forked after the
        // open, where this thread does not run, closing the handle still
        // unmaps the index.
        let shared = Arc::downgrade(shared);
        let thread = std::thread::Builder::new()
            .name("blocklist-reload".into())
            .spawn(move || {
                // Wakes every `every`, exits as soon as the handle drops `stop`.
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                    let Some(shared) = shared.upgrade() else {
                        break;
                    };
                    // A panic must not end the thread (or unwind anywhere):
                    // contain it and try again next time.
                    let _ =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shared.reload()));
                }
            })
            .map_err(|e| {
                Error::new(
                    BLOCKLIST_ERR_INTERNAL,
                    format!("cannot start the reload thread: {e}"),
                )
            })?;
        Ok(Reloader { stop, thread })
    }
}

/// Refuses, at open, a region the normaliser has no national rules for, so
/// the mistake shows once instead of on every national lookup.
fn check_region_has_rules(rules: &Rules) -> Result<(), Error> {
    match blocklist_lookup::normalise::normalise(Kind::Number, "0812345678", rules) {
        Err(e) if crate::error::normalise_code(&e) == BLOCKLIST_ERR_UNSUPPORTED_REGION => {
            Err(e.into())
        }
        _ => Ok(()),
    }
}

/// Opens the lookup index at `path` with default options (see
/// `blocklist_open_with_options`).
///
/// # Safety
/// As `blocklist_open_with_options`.
#[no_mangle]
pub unsafe extern "C" fn blocklist_open(
    path: *const c_char,
    out: *mut *mut blocklist_handle,
) -> blocklist_result {
    let options = blocklist_options::default();
    // SAFETY: forwarded contract; `options` is a valid local.
    unsafe { blocklist_open_with_options(path, &options, out) }
}

/// Opens the lookup index at `path` and stores a new handle in `*out`.
///
/// `path` is a NUL-terminated file name: the index file itself, or a data
/// folder holding it as `lookup.idx` (where `blocklistd` publishes it). The
/// file is opened, mapped and fully validated before this returns. With
/// `reload_interval_ms > 0` the handle starts a background thread that picks
/// up newly published files.
///
/// Errors: `BLOCKLIST_ERR_NULL_POINTER`, `BLOCKLIST_ERR_EMPTY_INPUT` (empty
/// path), `BLOCKLIST_ERR_INVALID_OPTIONS`, `BLOCKLIST_ERR_UNSUPPORTED_REGION`,
/// `BLOCKLIST_ERR_INDEX_NOT_FOUND` (unless `allow_missing`),
/// `BLOCKLIST_ERR_INDEX_IO`, `BLOCKLIST_ERR_INDEX_CORRUPT`,
/// `BLOCKLIST_ERR_INDEX_UNSUPPORTED_FORMAT`, `BLOCKLIST_ERR_INTERNAL` (the
/// reload thread could not be started). On error `*out` is not written.
///
/// Ownership: the caller owns the new handle and must release it with
/// `blocklist_close`. `path` and `options` are copied; the caller keeps them.
/// Thread-safety: any thread. A process forked after the open may check and
/// close with the handle, but it has no reload thread (`fork` copies only the
/// calling thread) and `blocklist_handle_reload` refuses to run there: a child
/// that runs long should open its own handle.
///
/// # Safety
/// `path` must be NULL or NUL-terminated; `options` NULL or a valid
/// `blocklist_options`; `out` NULL or valid for writing a pointer.
#[no_mangle]
pub unsafe extern "C" fn blocklist_open_with_options(
    path: *const c_char,
    options: *const blocklist_options,
    out: *mut *mut blocklist_handle,
) -> blocklist_result {
    ffi_guard(|| {
        let out = try_mut(out, "out")?;
        // SAFETY: the caller guarantees `path` is NULL or NUL-terminated.
        let path = unsafe { try_path(path, "path")? };
        let options = try_ref(options, "options")?;
        let handle = blocklist_handle::open(path, options)?;
        *out = Box::into_raw(Box::new(handle));
        Ok(())
    })
}

/// Closes a handle: stops its reload thread (waiting for a reload in progress
/// to finish) and unmaps its index. NULL is accepted and ignored.
///
/// Ownership: takes back the handle; it must not be used afterwards.
/// Thread-safety: every other call on the same handle, lookups included, must
/// have returned before this one starts, and none may start after it.
///
/// # Safety
/// `handle` must be NULL or a handle from `blocklist_open*` not yet closed.
#[no_mangle]
pub unsafe extern "C" fn blocklist_close(handle: *mut blocklist_handle) {
    ffi_guard_value((), || {
        if !handle.is_null() {
            // SAFETY: made by `Box::into_raw` in `blocklist_open_with_options`
            // and, per the contract, not closed before.
            drop(unsafe { Box::from_raw(handle) });
        }
    })
}

/// Looks for a newly published index file now (one `stat`) and, if the path
/// names a new file, opens, validates and swaps it in. Lookups in flight are
/// not blocked. Returns `BLOCKLIST_OK` also when nothing changed.
///
/// Errors (the previous index stays in use): `BLOCKLIST_ERR_NULL_POINTER`,
/// `BLOCKLIST_ERR_INDEX_NOT_FOUND`, `BLOCKLIST_ERR_INDEX_IO`,
/// `BLOCKLIST_ERR_INDEX_CORRUPT`, `BLOCKLIST_ERR_INDEX_UNSUPPORTED_FORMAT`,
/// `BLOCKLIST_ERR_INDEX_STALE` (an older list version than the one served),
/// `BLOCKLIST_ERR_INTERNAL` (called in a process forked from the one that
/// opened the handle). A refused file is not retried until it is replaced.
///
/// Thread-safety: any thread, concurrently with lookups and other reloads.
///
/// # Safety
/// `handle` must be NULL or an open handle.
#[no_mangle]
pub unsafe extern "C" fn blocklist_handle_reload(
    handle: *const blocklist_handle,
) -> blocklist_result {
    ffi_guard(|| try_ref(handle, "handle")?.shared.reload())
}

/// The state of a handle's data and reloads.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct blocklist_status {
    /// The list version served; 0 when there is no data yet.
    pub list_version: u64,
    /// When the served list data was created, seconds since the Unix epoch; 0 without data.
    pub created_at: u64,
    /// Seconds since `created_at`; 0 without data, or when `created_at` is
    /// later than this host's clock.
    pub age_seconds: u64,
    /// Entries in the served index.
    pub entries: u64,
    /// Index files swapped in since the handle was opened.
    pub reloads: u64,
    /// Reload attempts refused (corrupt, unreadable or older files).
    pub reload_failures: u64,
    /// `BLOCKLIST_FRESHNESS_FRESH`, `_STALE` or `_NO_DATA`, as a lookup now would report.
    pub freshness: blocklist_freshness,
    /// The code of the last reload attempt that failed, or `BLOCKLIST_OK` if
    /// the last attempt that found a new file succeeded (or none has).
    pub last_reload_error: blocklist_result,
}

/// Stores the state of the handle's data and reloads in `*out`.
///
/// Errors: `BLOCKLIST_ERR_NULL_POINTER`; on error `*out` is not written.
/// Thread-safety: any thread, concurrently with lookups and reloads.
///
/// # Safety
/// `handle` must be NULL or an open handle; `out` NULL or valid for writing.
#[no_mangle]
pub unsafe extern "C" fn blocklist_handle_status(
    handle: *const blocklist_handle,
    out: *mut blocklist_status,
) -> blocklist_result {
    ffi_guard(|| {
        let handle = try_ref(handle, "handle")?;
        let out = try_mut(out, "out")?;
        let now = clock::now();
        let mut status = handle.with_data(now, |data| match data.index {
            None => blocklist_status {
                freshness: data.freshness,
                ..blocklist_status::default()
            },
            Some(index) => {
                let header = index.header();
                blocklist_status {
                    list_version: header.list_version,
                    created_at: header.created_at.0,
                    age_seconds: now.0.saturating_sub(header.created_at.0),
                    entries: header.entries,
                    freshness: data.freshness,
                    ..blocklist_status::default()
                }
            }
        });
        let shared = &handle.shared;
        status.reloads = shared.reloads.load(Ordering::Relaxed);
        status.reload_failures = shared.reload_failures.load(Ordering::Relaxed);
        status.last_reload_error = shared
            .reload_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_error
            .as_ref()
            .map_or(BLOCKLIST_OK, |e| e.code);
        *out = status;
        Ok(())
    })
}

/// Copies the detailed message of the handle's last failed reload (empty if
/// none) into `buf`, as `blocklist_last_error` does: at most `len - 1` bytes
/// and a NUL; `*out_len` receives the full length.
///
/// Errors: `BLOCKLIST_ERR_NULL_POINTER`, `BLOCKLIST_ERR_BUFFER_TOO_SMALL`
/// (`len` 0); like `blocklist_last_error`, they leave the thread's last-error
/// message as it was. Thread-safety: any thread.
///
/// # Safety
/// `handle` NULL or open; `buf` valid for `len` bytes; `out_len` valid for one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn blocklist_handle_reload_error(
    handle: *const blocklist_handle,
    buf: *mut c_char,
    len: usize,
    out_len: *mut usize,
) -> blocklist_result {
    ffi_guard_keeping_message(|| {
        let handle = try_ref(handle, "handle")?;
        let status = handle
            .shared
            .reload_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let message = status
            .last_error
            .as_ref()
            .map_or("", |e| e.message.as_str());
        // SAFETY: forwarded contract.
        unsafe { copy_message(message, buf, len, out_len) }
    })
}
