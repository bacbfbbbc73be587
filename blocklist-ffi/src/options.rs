//! `blocklist_options`: how a handle judges freshness, reloads and treats a
//! missing index, with defaults from `blocklist_options_default`.

use std::ffi::c_char;

use blocklist_lookup::Rules;

use crate::args::null;
use crate::boundary::ffi_guard;
use crate::codes::{blocklist_result, BLOCKLIST_ERR_INVALID_OPTIONS};
use crate::error::Error;
use crate::sized::{caller_size, write_output, Growable};

/// Default `max_age_seconds`: a day, the daemon's own default bound
/// (`freshness.max_age`), for indexes that have no heartbeat beside them.
pub const BLOCKLIST_DEFAULT_MAX_AGE_SECONDS: u64 = 86_400;

/// Default `reload_interval_ms`: one second, for one `stat` per second. A
/// version `blocklistd` publishes is served within milliseconds whatever the
/// interval (the heartbeat announces it); the interval bounds the rest.
pub const BLOCKLIST_DEFAULT_RELOAD_INTERVAL_MS: u32 = 1_000;

/// Room for the default region code and its terminating NUL.
pub const BLOCKLIST_REGION_MAX: usize = 8;

/// Bytes of `blocklist_options` in ABI 1: the least `size` a caller may give.
pub const BLOCKLIST_OPTIONS_MIN_SIZE: usize = 32;

const _: () = assert!(BLOCKLIST_OPTIONS_MIN_SIZE == std::mem::size_of::<blocklist_options>());

/// How a handle behaves. Initialise with `BLOCKLIST_OPTIONS_INIT` and
/// `blocklist_options_default`, then change the fields you need:
///
/// ```c
/// blocklist_options o = BLOCKLIST_OPTIONS_INIT;
/// blocklist_options_default(&o);
/// o.reload_interval_ms = 250;
/// ```
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct blocklist_options {
    /// `sizeof(blocklist_options)` as the caller was compiled (see the
    /// growth rule): fields past it take their defaults.
    pub size: u32,
    /// How often a background thread owned by the handle looks for a newly
    /// published index file (one `stat`; a changed file is opened, validated
    /// and swapped in without blocking lookups), checks the served file was
    /// not overwritten in place (one `fstat` and a 256-byte read), and
    /// follows a re-created heartbeat (one `stat`). The same thread sleeps
    /// on the heartbeat's index generation and reloads as soon as
    /// `blocklistd` announces a new version there, so the daemon's versions
    /// do not wait for the interval. 0: no thread; call
    /// `blocklist_handle_reload` yourself, as often. Default
    /// `BLOCKLIST_DEFAULT_RELOAD_INTERVAL_MS`.
    pub reload_interval_ms: u32,
    /// Only where no heartbeat (`lookup.beat`, written by `blocklistd`) lies
    /// beside the index, as for an index built without a daemon: data older
    /// than this many seconds (by the list's creation time) makes results
    /// `BLOCKLIST_FRESHNESS_STALE`. 0: never stale. With a heartbeat the
    /// daemon's verdict on the feed decides. Default
    /// `BLOCKLIST_DEFAULT_MAX_AGE_SECONDS`.
    pub max_age_seconds: u64,
    /// 1: opening succeeds when the index file does not exist yet; results say
    /// `BLOCKLIST_FRESHNESS_NO_DATA` until it appears (the background thread,
    /// or `blocklist_handle_reload`, picks it up). 0: opening fails with
    /// `BLOCKLIST_ERR_INDEX_NOT_FOUND`. Default 0.
    pub allow_missing: u8,
    /// ISO 3166 alpha-2 region for national phone numbers and domestic
    /// accounts, NUL-terminated ASCII, any case: phone numbers are read for
    /// any region of libphonenumber's metadata ("US", "GB"...), domestic
    /// accounts for "TH" only. Default "TH".
    pub default_region: [c_char; BLOCKLIST_REGION_MAX],
    /// Zero (the `_INIT` macro and `blocklist_options_default` leave it
    /// so): room a later field takes without moving `size`, so a nonzero
    /// byte is refused rather than read as a field this library lacks.
    pub reserved: [u8; 7],
}

// No padding the compiler adds: every byte is a named field, so a field
// added later lands where older callers wrote zeros.
const _: () = assert!(
    std::mem::offset_of!(blocklist_options, reserved) + 7
        == std::mem::size_of::<blocklist_options>()
);

impl Default for blocklist_options {
    fn default() -> Self {
        let mut region = [0 as c_char; BLOCKLIST_REGION_MAX];
        for (slot, byte) in region.iter_mut().zip(b"TH") {
            *slot = *byte as c_char;
        }
        blocklist_options {
            size: std::mem::size_of::<blocklist_options>() as u32,
            max_age_seconds: BLOCKLIST_DEFAULT_MAX_AGE_SECONDS,
            reload_interval_ms: BLOCKLIST_DEFAULT_RELOAD_INTERVAL_MS,
            allow_missing: 0,
            default_region: region,
            reserved: [0; 7],
        }
    }
}

impl blocklist_options {
    /// The normalisation rules these options ask for.
    pub(crate) fn rules(&self) -> Result<Rules, Error> {
        let bytes = self.default_region.map(|c| c as u8);
        let end = bytes.iter().position(|&b| b == 0).ok_or_else(|| {
            Error::new(
                BLOCKLIST_ERR_INVALID_OPTIONS,
                "options.default_region is not NUL-terminated",
            )
        })?;
        let region = &bytes[..end];
        if region.len() != 2 || !region.iter().all(u8::is_ascii_alphabetic) {
            return Err(Error::new(
                BLOCKLIST_ERR_INVALID_OPTIONS,
                format!(
                    "options.default_region {:?} is not a two-letter region code",
                    String::from_utf8_lossy(region)
                ),
            ));
        }
        if self.allow_missing > 1 {
            return Err(Error::new(
                BLOCKLIST_ERR_INVALID_OPTIONS,
                format!(
                    "options.allow_missing is {}, expected 0 or 1",
                    self.allow_missing
                ),
            ));
        }
        if self.reserved != [0; 7] {
            return Err(Error::new(
                BLOCKLIST_ERR_INVALID_OPTIONS,
                format!(
                    "options.reserved is {:?}: it must be zero (a field this library, \
                     libblocklist {}, does not know)",
                    self.reserved,
                    env!("CARGO_PKG_VERSION")
                ),
            ));
        }
        Ok(Rules {
            default_region: String::from_utf8_lossy(region).to_ascii_uppercase(),
        })
    }
}

// SAFETY: repr(C), the u32 size first, integers and arrays of them only.
unsafe impl Growable for blocklist_options {
    const MIN_SIZE: usize = BLOCKLIST_OPTIONS_MIN_SIZE;
    const NAME: &'static str = "blocklist_options";
}

/// Fills `*out` with the default options, up to `out->size` bytes (set it
/// first: `BLOCKLIST_OPTIONS_INIT`).
///
/// Errors: `BLOCKLIST_ERR_NULL_POINTER`, `BLOCKLIST_ERR_STRUCT_SIZE`.
/// Ownership: the caller owns `*out` (a plain struct, nothing to free).
/// Thread-safety: any thread.
///
/// # Safety
/// `out` must be NULL or valid for writing `out->size` bytes.
#[no_mangle]
pub unsafe extern "C" fn blocklist_options_default(
    out: *mut blocklist_options,
) -> blocklist_result {
    ffi_guard(|| {
        if out.is_null() {
            return Err(null("out"));
        }
        // SAFETY: non-NULL, and valid for its `size` bytes per the contract.
        unsafe {
            let size = caller_size(out)?;
            write_output(out, size, &blocklist_options::default());
        }
        Ok(())
    })
}
