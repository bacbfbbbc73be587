//! `blocklist_handle`: an open lookup index, shared by any number of threads,
//! that follows the file the daemon publishes and the feed's heartbeat.
//!
//! # Reload design
//!
//! Lookups read what is `Served` lock-free and without a locked instruction
//! (`Published`: a hazard pointer held only for the lookup): the current
//! index and the feed's heartbeat, so a lookup pays two plain loads and two
//! plain stores and, for its freshness, one atomic load of the mapped
//! heartbeat, and never waits. A background thread owned by the handle does
//! all the rest. It sleeps on the heartbeat's index generation, which the
//! daemon bumps after publishing each new version and wakes its sleepers on
//! (a futex on the shared page), and reloads when woken, so a new version is
//! answered within milliseconds of its publication. It wakes at least every
//! 100 ms anyway to read the clock for the checks to come (a check loads one
//! word instead of calling the clock: `KeptClock`): an idle handle costs
//! ten wake-ups a second. Every `reload_interval_ms` it reloads anyway, for
//! what the generation does not announce (an index published without a
//! daemon, a file written in place, a heartbeat re-created). A reload:
//!
//! - it `stat`s the index path and, when it names a new file, opens and fully
//!   validates it and swaps it in ([`LiveIndex`]); lookups in flight finish
//!   on the index they started with, whose map is released once the last
//!   of them has returned. A file that fails validation, or holds an older list
//!   version, is refused: the previous index stays in use and the refusal is
//!   recorded for `blocklist_handle_status`;
//! - it `fstat`s the served file: one written in place (`cp` over it, a
//!   restore) no longer holds the bytes validated, so it is replaced by the
//!   valid file at the path or, failing that, retired, and lookups return
//!   `BLOCKLIST_ERR_INDEX_MODIFIED` until a valid file is published;
//! - it `stat`s the heartbeat (`lookup.beat` beside the index) and maps it
//!   again when the daemon has re-created it (at each start, by rename).
//!
//! Lookups therefore do no reload work at all, and a slow validation (tens
//! of milliseconds at 10 million entries) never lands on a payment thread.

use std::ffi::c_char;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use blocklist_lookup::index::{
    FileIdentity, Freshness, Heartbeat, HeldIndex, IndexError, LiveIndex, LookupIndex,
    HEARTBEAT_FILE,
};
use blocklist_lookup::{Kind, Rules, Timestamp};

use crate::args::{null, try_mut, try_path, try_ref};
use crate::boundary::{ffi_guard, ffi_guard_keeping_message, ffi_guard_value};
use crate::clock::KeptClock;
use crate::codes::{
    blocklist_result, BLOCKLIST_ERR_INDEX_MODIFIED, BLOCKLIST_ERR_INDEX_NOT_FOUND,
    BLOCKLIST_ERR_INTERNAL, BLOCKLIST_ERR_UNSUPPORTED_REGION, BLOCKLIST_OK,
};
use crate::error::{index_code, normalise_code, Error};
use crate::message::copy_message;
use crate::options::blocklist_options;
use crate::published::{Published, Reading};
use crate::sized::{caller_size, read_input, write_output};
use crate::types::{
    blocklist_freshness, blocklist_status, BLOCKLIST_FRESHNESS_FRESH, BLOCKLIST_FRESHNESS_NO_DATA,
    BLOCKLIST_FRESHNESS_STALE,
};

/// The file name of the index inside a data folder, as the daemon publishes it.
pub const BLOCKLIST_INDEX_FILE_NAME: &str = "lookup.idx";

/// An open lookup index. Opaque: create with `blocklist_open` or
/// `blocklist_open_with_options`, release with `blocklist_close`.
///
/// Thread-safety: one handle may be used by any number of threads at once for
/// every call except `blocklist_close`, which must be the last call on it.
//
// The C pointer is an `Arc`'s (`Arc::into_raw`), which the reload thread
// holds weakly, so that what lookups read is in the handle itself: a check
// loads the published pointer straight from the handle it is given, not
// through a pointer to a separate allocation (one dependent load less before
// its filter line can be requested).
pub struct blocklist_handle {
    shared: Shared,
    /// The background reload thread, if `reload_interval_ms > 0`; stopped
    /// and joined by `blocklist_close`.
    reloader: Mutex<Option<Reloader>>,
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
    /// The time checks are answered at, kept by the reload thread.
    clock: KeptClock,
    /// Follows the index file; empty until an index has been opened (only
    /// with `allow_missing`). Lookups read `served`, never this.
    live: OnceLock<LiveIndex>,
    /// What lookups answer from; replaced whole by reloads, read without a
    /// locked instruction.
    served: Published<Served>,
    /// Held for a whole reload, so that reloads publish `served` and record
    /// their outcomes in the order they ran.
    reloading: Mutex<Reloading>,
    /// Reloads only, never lookups.
    reload_status: Mutex<ReloadStatus>,
    reloads: AtomicU64,
    reload_failures: AtomicU64,
}

/// The index and the heartbeat a lookup answers from.
struct Served {
    /// `None` before an index has been opened (`allow_missing`). Held with
    /// the seed and filter a check reads first copied in this value, so
    /// that a check requests its filter line two loads after reading the
    /// published pointer rather than five.
    index: Option<HeldIndex>,
    feed: Arc<Feed>,
    /// Without a heartbeat, the last second answers are fresh at: the
    /// index's data time plus `max_age_seconds` (`u64::MAX`, never stale,
    /// with `max_age_seconds` 0 or no index). Worked out once per version,
    /// not from the age on every lookup.
    fresh_until: u64,
}

/// The feed's heartbeat, as lookups read it. A tag rather than a niche in
/// the heartbeat's fields: every lookup matches on it, and a tag is one
/// byte tested where decoding the niche took nine instructions.
#[repr(u8)]
enum Feed {
    /// No heartbeat file (an index built without a daemon): the age of the
    /// data decides, against `max_age_seconds`.
    Unknown,
    /// The daemon's heartbeat, mapped: one atomic load per lookup.
    Beating(Heartbeat),
    /// A heartbeat file that cannot be read: the feed's health is unknown,
    /// so answers are stale (the reason is in the reload status).
    Unreadable,
}

/// What reloads remember between runs.
#[derive(Default)]
struct Reloading {
    /// The file last refused while no index is served, not retried until replaced.
    refused_first: Option<FileIdentity>,
    /// Device and inode of the heartbeat file last mapped (or found
    /// unreadable); `None` when there was none.
    heartbeat_file: Option<(u64, u64)>,
}

#[derive(Default)]
struct ReloadStatus {
    /// The outcome of the last reload attempt that found something to do.
    last_error: Option<Error>,
}

/// The background thread and the flag that stops it.
struct Reloader {
    /// Set on close: the thread exits when it next wakes (woken at once).
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// The data a lookup answers from, as seen at one instant.
pub(crate) struct Data<'a> {
    /// The index, `None` before one has been opened (`allow_missing`).
    pub(crate) index: Option<&'a HeldIndex>,
    pub(crate) freshness: blocklist_freshness,
    pub(crate) rules: &'a Rules,
    /// The time the answer is decided at.
    pub(crate) now: Timestamp,
}

impl blocklist_handle {
    fn open(path: &Path, options: &blocklist_options) -> Result<Arc<blocklist_handle>, Error> {
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
        let served = Published::new(Arc::new(Served::new(
            live.get().map(LiveIndex::load_full),
            Arc::new(Feed::Unknown),
            options.max_age_seconds,
        )));
        let handle = Arc::new(blocklist_handle {
            shared: Shared {
                path,
                opened_by: std::process::id(),
                rules,
                max_age_seconds: options.max_age_seconds,
                clock: KeptClock::new(),
                live,
                served,
                reloading: Mutex::default(),
                reload_status: Mutex::default(),
                reloads: AtomicU64::new(0),
                reload_failures: AtomicU64::new(0),
            },
            reloader: Mutex::new(None),
        });
        let shared = &handle.shared;
        // Maps the heartbeat; a bad one is recorded, not fatal (answers say stale).
        let _ = shared.finish_reload(
            &mut shared
                .reloading
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
            Ok(false),
        );
        if options.reload_interval_ms > 0 {
            let every = Duration::from_millis(u64::from(options.reload_interval_ms));
            *handle
                .reloader
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(Reloader::start(&handle, every)?);
        }
        Ok(handle)
    }

    /// The time a check is answered at (see `KeptClock`).
    #[inline]
    pub(crate) fn now(&self) -> Timestamp {
        self.shared.clock.now()
    }

    /// The normalisation rules the handle was opened with.
    pub(crate) fn rules(&self) -> &Rules {
        &self.shared.rules
    }

    /// What lookups answer from, held for one lookup: the index stays
    /// mapped until the snapshot drops. Lock-free.
    #[inline]
    pub(crate) fn snapshot(&self) -> Snapshot<'_> {
        Snapshot {
            served: self.shared.served.read(),
            shared: &self.shared,
        }
    }
}

/// The data lookups answer from, as published when it was taken
/// ([`blocklist_handle::snapshot`]). Hold it for one lookup, and take no
/// other on the same thread meanwhile (see `Published`).
pub(crate) struct Snapshot<'h> {
    served: Reading<'h, Served>,
    shared: &'h Shared,
}

impl Snapshot<'_> {
    /// The index, if any, whether or not it may answer ([`data`](Self::data)
    /// says): for requesting a line before the checks that precede a lookup.
    #[inline]
    pub(crate) fn index(&self) -> Option<&HeldIndex> {
        self.served.index.as_ref()
    }

    /// The data at `now`. Refuses with `BLOCKLIST_ERR_INDEX_MODIFIED`
    /// while the served index is retired.
    #[inline]
    pub(crate) fn data(&self, now: Timestamp) -> Result<Data<'_>, Error> {
        let (index, freshness) = match &self.served.index {
            None => (None, BLOCKLIST_FRESHNESS_NO_DATA),
            Some(held) if !held.index().is_intact() => return Err(withheld(held.index())),
            Some(index) => (Some(index), self.served.freshness(now)),
        };
        Ok(Data {
            index,
            freshness,
            rules: &self.shared.rules,
            now,
        })
    }
}

/// The error of a lookup on a retired index.
#[cold]
fn withheld(index: &LookupIndex) -> Error {
    Error::new(
        BLOCKLIST_ERR_INDEX_MODIFIED,
        format!(
            "index file {} was overwritten in place while in use (index files must be \
             replaced by rename): answers are withheld until a valid index is published; \
             blocklist_handle_reload_error says what the file holds now",
            index.path().display()
        ),
    )
}

impl blocklist_handle {
    /// Stops the reload thread (waiting for a reload in progress), then
    /// lets the handle go: the last strong count, once the thread is gone.
    fn close(self: Arc<Self>) {
        let reloader = self
            .reloader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(Reloader { stop, thread }) = reloader {
            stop.store(true, Ordering::Release);
            // Wake it where it sleeps: on the heartbeat (this handle maps the
            // same file), or parked. (Should it have just moved to a heartbeat
            // mapped anew, it sees `stop` within a tick.)
            if let Feed::Beating(heartbeat) = &*self.shared.served.read().feed {
                heartbeat.wake_waiters();
            }
            thread.thread().unpark();
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

impl Served {
    fn new(index: Option<Arc<LookupIndex>>, feed: Arc<Feed>, max_age_seconds: u64) -> Served {
        let fresh_until = match (&index, max_age_seconds) {
            (Some(index), 1..) => index.header().created_at.0.saturating_add(max_age_seconds),
            _ => u64::MAX,
        };
        Served {
            index: index.map(HeldIndex::new),
            feed,
            fresh_until,
        }
    }

    /// The freshness of an answer from the index at `now`: the heartbeat's,
    /// or without one the age of the data against `max_age_seconds` (0:
    /// never stale), as `fresh_until` holds it.
    #[inline]
    fn freshness(&self, now: Timestamp) -> blocklist_freshness {
        match &*self.feed {
            Feed::Beating(heartbeat) => match heartbeat.freshness(now) {
                Freshness::Fresh => BLOCKLIST_FRESHNESS_FRESH,
                Freshness::Stale => BLOCKLIST_FRESHNESS_STALE,
                Freshness::NoData => BLOCKLIST_FRESHNESS_NO_DATA,
            },
            Feed::Unreadable => BLOCKLIST_FRESHNESS_STALE,
            // The age `now - created_at` is over `max_age_seconds` exactly
            // when `now` is past `created_at + max_age_seconds`.
            Feed::Unknown if now.0 > self.fresh_until => BLOCKLIST_FRESHNESS_STALE,
            Feed::Unknown => BLOCKLIST_FRESHNESS_FRESH,
        }
    }
}

impl Shared {
    /// The heartbeat's index generation (0 without a heartbeat): one atomic load.
    fn generation(&self) -> u64 {
        match &*self.served.read().feed {
            Feed::Beating(heartbeat) => heartbeat.generation(),
            Feed::Unknown | Feed::Unreadable => 0,
        }
    }

    /// Looks for a new index file at the path and swaps it in if it
    /// validates, checks the served file was not written in place, and maps
    /// the heartbeat again if it was re-created; records the outcome.
    /// `Ok(())` also when nothing changed.
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
        let mut reloading = self
            .reloading
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let index_outcome = match self.live.get() {
            Some(live) => live.reload_if_changed().map(|done| done.is_some()),
            None => {
                LiveIndex::open_unless_refused(index_file(&self.path), &mut reloading.refused_first)
                    .map(|index| {
                        index.is_some_and(|index| {
                            // Cannot be set already: after open, only set here, under `reloading`.
                            let _ = self.live.set(index);
                            true
                        })
                    })
            }
        };
        self.finish_reload(&mut reloading, index_outcome)
    }

    /// The rest of a reload, once the index was looked at (`index_outcome`:
    /// whether a new one was swapped in): follows the heartbeat, publishes
    /// what lookups see if anything changed, and records the outcome.
    fn finish_reload(
        &self,
        reloading: &mut Reloading,
        index_outcome: Result<bool, IndexError>,
    ) -> Result<(), Error> {
        let index_path = self
            .live
            .get()
            .map_or_else(|| index_file(&self.path), |live| live.path().to_owned());
        let feed = follow_heartbeat(&index_path, &mut reloading.heartbeat_file);
        let swapped = matches!(index_outcome, Ok(true));
        if swapped || feed.is_some() {
            let feed_now = match &feed {
                Some((feed, _)) => Arc::clone(feed),
                None => Arc::clone(&self.served.read().feed),
            };
            self.served.replace(Arc::new(Served::new(
                self.live.get().map(LiveIndex::load_full),
                feed_now,
                self.max_age_seconds,
            )));
        }
        let feed_error = feed.and_then(|(_, error)| error);
        let outcome = index_outcome.and_then(|_| feed_error.map_or(Ok(()), Err));
        let mut status = self
            .reload_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Ok(()) => {
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

/// Maps the heartbeat beside `index_path` again if its file appeared, went
/// away or was replaced since it was last looked at (`mapped`: its device
/// and inode then). `None` when unchanged; else the new feed and, if the new
/// file cannot be read, why. The daemon updates the file in place and
/// replaces it only by rename, so its inode alone says whether to map again.
fn follow_heartbeat(
    index_path: &Path,
    mapped: &mut Option<(u64, u64)>,
) -> Option<(Arc<Feed>, Option<IndexError>)> {
    let dir = match index_path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let found = match std::fs::metadata(dir.join(HEARTBEAT_FILE)) {
        Ok(meta) => Some((meta.dev(), meta.ino())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            *mapped = None;
            let error = IndexError::Io {
                path: dir.join(HEARTBEAT_FILE),
                action: "stat",
                source: e,
            };
            return Some((Arc::new(Feed::Unreadable), Some(error)));
        }
    };
    if found == *mapped {
        return None;
    }
    // Recorded before the open: if the file is replaced in between, the
    // next run sees another inode and maps again.
    *mapped = found;
    Some(match Heartbeat::open(dir) {
        Ok(Some(heartbeat)) => (Arc::new(Feed::Beating(heartbeat)), None),
        Ok(None) => (Arc::new(Feed::Unknown), None),
        Err(e) => (Arc::new(Feed::Unreadable), Some(e)),
    })
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

/// The longest the reload thread sleeps: it keeps the clock checks read to
/// this (see `KeptClock`), and where nothing wakes it on a new version (no
/// heartbeat, a system without futexes) looks at the generation this often.
/// An idle handle wakes ten times a second.
const TICK: Duration = Duration::from_millis(100);

impl Reloader {
    /// Starts the thread. It sleeps on the heartbeat's index generation,
    /// which the daemon bumps and wakes it on after each apply, for at most
    /// a [`TICK`] (or `every`, if shorter); then it keeps the clock, and
    /// reloads if the generation moved or `every` has passed since the last
    /// reload, which catches what the generation does not announce (an index
    /// published without a daemon, a heartbeat re-created, a file written in
    /// place).
    fn start(handle: &Arc<blocklist_handle>, every: Duration) -> Result<Reloader, Error> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        // Only the caller's pointer owns the handle: in a child forked after
        // the open, where this thread does not run, closing the handle still
        // unmaps the index. (The thread holds the heartbeat it sleeps on,
        // whose 64-byte map such a child keeps.)
        let weak = Arc::downgrade(handle);
        let shared = &handle.shared;
        let tick = TICK.min(every);
        let mut seen = shared.generation();
        let mut feed = Arc::clone(&shared.served.read().feed);
        shared.clock.keep();
        let thread = std::thread::Builder::new()
            .name("blocklist-reload".into())
            .spawn(move || {
                let mut last_reload = Instant::now();
                while !stopping.load(Ordering::Acquire) {
                    match &*feed {
                        Feed::Beating(heartbeat) => heartbeat.wait_for_generation(seen, tick),
                        Feed::Unknown | Feed::Unreadable => std::thread::park_timeout(tick),
                    }
                    if stopping.load(Ordering::Acquire) {
                        break;
                    }
                    let Some(handle) = weak.upgrade() else {
                        break;
                    };
                    let shared = &handle.shared;
                    shared.clock.keep();
                    // What readers held at the last swap, unmapped once they let go.
                    shared.served.reclaim();
                    let generation = shared.generation();
                    if generation != seen || last_reload.elapsed() >= every {
                        // Read before the reload: a version published during
                        // it bumps the generation again, and is reloaded next.
                        seen = generation;
                        last_reload = Instant::now();
                        // A panic must not end the thread (or unwind
                        // anywhere): contain it and try again next time.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            shared.reload()
                        }));
                    }
                    // The heartbeat may have been mapped anew by the reload.
                    feed = Arc::clone(&shared.served.read().feed);
                }
                if let Some(handle) = weak.upgrade() {
                    handle.shared.clock.release();
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
        Err(e) if normalise_code(&e) == BLOCKLIST_ERR_UNSUPPORTED_REGION => Err(e.into()),
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
/// path), `BLOCKLIST_ERR_STRUCT_SIZE` (see the growth rule),
/// `BLOCKLIST_ERR_INVALID_OPTIONS`, `BLOCKLIST_ERR_UNSUPPORTED_REGION`,
/// `BLOCKLIST_ERR_INDEX_NOT_FOUND` (unless `allow_missing`),
/// `BLOCKLIST_ERR_INDEX_IO`, `BLOCKLIST_ERR_INDEX_CORRUPT`,
/// `BLOCKLIST_ERR_INDEX_UNSUPPORTED_FORMAT`, `BLOCKLIST_ERR_INDEX_NOT_A_FILE`
/// (a FIFO, device or socket: refused at once, never waited on),
/// `BLOCKLIST_ERR_INTERNAL` (the reload thread could not be started). On
/// error `*out` is not written. A heartbeat that cannot be read does not
/// fail the open: answers say stale and the status says why.
///
/// Ownership: the caller owns the new handle and must release it with
/// `blocklist_close`. `path` and `options` are copied; the caller keeps them.
/// Thread-safety: any thread. A process forked after the open may check and
/// close with the handle, but it has no reload thread (`fork` copies only the
/// calling thread) and `blocklist_handle_reload` refuses to run there: a child
/// that runs long should open its own handle.
///
/// # Safety
/// `path` must be NULL or NUL-terminated; `options` NULL or valid for
/// reading `options->size` bytes; `out` NULL or valid for writing a pointer.
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
        if options.is_null() {
            return Err(null("options"));
        }
        // SAFETY: non-NULL, and valid for its `size` bytes per the contract.
        let options = unsafe { read_input(options, blocklist_options::default())? };
        *out = Arc::into_raw(blocklist_handle::open(path, &options)?).cast_mut();
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
            // SAFETY: made by `Arc::into_raw` in `blocklist_open_with_options`
            // and, per the contract, not closed before.
            unsafe { Arc::from_raw(handle.cast_const()) }.close();
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
/// `BLOCKLIST_ERR_INDEX_NOT_A_FILE`, `BLOCKLIST_ERR_INDEX_MODIFIED` (the
/// served file was overwritten in place and the file there now is refused:
/// lookups are withheld until a valid one is published), the index codes for
/// a heartbeat that cannot be read (answers then say stale),
/// `BLOCKLIST_ERR_INTERNAL` (called in a process forked from the one that
/// opened the handle). A refused file is not retried until it is replaced.
/// Also maps the heartbeat again when the daemon has re-created it.
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

/// Stores the state of the handle's data and reloads in `*out`, up to
/// `out->size` bytes (set it first: `BLOCKLIST_STATUS_INIT`).
///
/// Errors: `BLOCKLIST_ERR_NULL_POINTER`, `BLOCKLIST_ERR_STRUCT_SIZE`; on
/// error `*out` is not written.
/// Thread-safety: any thread, concurrently with lookups and reloads.
///
/// # Safety
/// `handle` must be NULL or an open handle; `out` NULL or valid for writing
/// `out->size` bytes.
#[no_mangle]
pub unsafe extern "C" fn blocklist_handle_status(
    handle: *const blocklist_handle,
    out: *mut blocklist_status,
) -> blocklist_result {
    ffi_guard(|| {
        let handle = try_ref(handle, "handle")?;
        if out.is_null() {
            return Err(null("out"));
        }
        // SAFETY: non-NULL, and valid for its `size` bytes per the contract.
        let size = unsafe { caller_size(out)? };
        let now = handle.now();
        let shared = &handle.shared;
        // A strong count (a slow path): the status is built around other locks.
        let served = shared.served.load_full();
        let mut status = match served.index.as_ref().map(HeldIndex::index) {
            Some(index) if index.is_intact() => {
                let header = index.header();
                blocklist_status {
                    list_version: header.list_version,
                    created_at: header.created_at.0,
                    age_seconds: now.0.saturating_sub(header.created_at.0),
                    entries: header.entries,
                    overlay_entries: index.stats().overlay_entries,
                    freshness: served.freshness(now),
                    ..blocklist_status::default()
                }
            }
            // None yet, or retired: lookups have no data to answer from.
            _ => blocklist_status {
                freshness: BLOCKLIST_FRESHNESS_NO_DATA,
                ..blocklist_status::default()
            },
        };
        if let Feed::Beating(heartbeat) = &*served.feed {
            let beat = heartbeat.read();
            status.feed_confirmed_at = beat.confirmed_at.0;
            status.fresh_until = beat.fresh_until.0;
        }
        status.reloads = shared.reloads.load(Ordering::Relaxed);
        status.reload_failures = shared.reload_failures.load(Ordering::Relaxed);
        status.last_reload_error = shared
            .reload_status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_error
            .as_ref()
            .map_or(BLOCKLIST_OK, |e| e.code);
        // SAFETY: as above.
        unsafe { write_output(out, size, &status) };
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
