//! The C value types: identifier kinds, freshness, limits, and the structs
//! that carry queries, answers and a handle's state. Plain data, no logic:
//! every other module may use them.

use std::ffi::c_char;

use crate::codes::blocklist_result;
use crate::sized::Growable;

/// What an identifier names; the values are the list's wire codes.
#[allow(non_camel_case_types)]
pub type blocklist_kind = u16;
/// A bank account: institution code and account number, or an IBAN.
pub const BLOCKLIST_KIND_ACCOUNT: blocklist_kind = 1;
/// A phone number (normalised to E.164).
pub const BLOCKLIST_KIND_NUMBER: blocklist_kind = 2;
/// A domain name, or a URL (reduced to its host).
pub const BLOCKLIST_KIND_DOMAIN: blocklist_kind = 3;

/// How far an answer can be trusted to be current. 0 is never used, so a
/// zeroed result is never mistaken for a fresh one.
///
/// Freshness is the health of the *feed*, read on every answer from the
/// heartbeat `blocklistd` keeps beside the index (`lookup.beat`, one atomic
/// load): a quiet list the centre keeps re-signing stays fresh however old
/// its last change, and a frozen feed turns stale even while its data is
/// young. The daemon's HTTP answers read the same heartbeat, so the two
/// always agree. Where no heartbeat exists (an index built without a
/// daemon), the handle falls back on the age of the data: fresh while the
/// index's `created_at` is at most `max_age_seconds` old.
#[allow(non_camel_case_types)]
pub type blocklist_freshness = u8;
/// The daemon confirmed the newest signed list version recently enough (or,
/// without a heartbeat, the index is younger than `max_age_seconds`; data
/// created after this host's "now" counts as age 0).
pub const BLOCKLIST_FRESHNESS_FRESH: blocklist_freshness = 1;
/// The feed has not been confirmed within its bound (frozen, cut off, or the
/// daemon stopped), or, without a heartbeat, the index is older than
/// `max_age_seconds`: recent listings may be missing. The answer is still
/// the index's answer.
pub const BLOCKLIST_FRESHNESS_STALE: blocklist_freshness = 2;
/// No list version yet: either no index has been published (`allow_missing`),
/// and every answer is "not listed" without having checked anything, or the
/// daemon has not confirmed any version since it started (its heartbeat says
/// so), and the answer comes from the index it left. Fail open or closed as
/// policy says.
pub const BLOCKLIST_FRESHNESS_NO_DATA: blocklist_freshness = 3;

/// The longest identifier accepted, in bytes (a URL with a long path).
pub const BLOCKLIST_MAX_INPUT_LEN: usize = 4096;
/// The most queries one `blocklist_check_batch` call takes.
pub const BLOCKLIST_MAX_BATCH: usize = 65_536;
/// Size of `blocklist_check_result.agency`: agency ids are at most 31 ASCII bytes.
pub const BLOCKLIST_AGENCY_MAX: usize = 32;
/// Size of `blocklist_check_result.matched`: canonical identifiers are at
/// most 253 ASCII bytes (a domain).
pub const BLOCKLIST_MATCHED_MAX: usize = 256;

/// Bytes of one `blocklist_check_result`, the output of a single check.
pub(crate) const RESULT_SIZE: usize = std::mem::size_of::<blocklist_check_result>();

/// Bytes of `blocklist_check_result` in ABI 1, up to `matched`: the least
/// `size` a caller may give (see the growth rule atop the header).
pub const BLOCKLIST_CHECK_RESULT_MIN_SIZE: usize = 328;
/// Bytes of `blocklist_status` in ABI 1, up to `freshness` and its padding.
pub const BLOCKLIST_STATUS_MIN_SIZE: usize = 80;

const _: () = assert!(
    BLOCKLIST_CHECK_RESULT_MIN_SIZE == std::mem::offset_of!(blocklist_check_result, answered_at)
);
const _: () =
    assert!(BLOCKLIST_STATUS_MIN_SIZE == std::mem::offset_of!(blocklist_status, overlay_entries));

/// The answer to a check. Set `size` before the call
/// (`blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;`); for a batch,
/// `size` of the first result gives the stride of the whole array.
///
/// On a miss, `agency` and `matched` are empty strings (only their first
/// byte is written) and `reason`, `listed_at`, `expires_at` and `listings`
/// are 0.
///
/// An identifier may be listed by several agencies; a hit describes the
/// listing that stands for it (the one that matches longest: never
/// expiring, else the latest expiry; then the earliest listed; then the
/// first agency id in byte order), so while the identifier matches that
/// listing is in force, and `listings` says how many there are. The
/// daemon's `/v1/history` gives every one.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct blocklist_check_result {
    /// `sizeof(blocklist_check_result)` as the caller was compiled, set by
    /// the caller and never written by the library (see the growth rule).
    pub size: u32,
    /// `BLOCKLIST_OK`, or for an item of a batch the item's error code (the
    /// other fields then say "not listed" but nothing was checked).
    pub status: blocklist_result,
    /// 1 if listed (and not expired), else 0.
    pub listed: u8,
    /// `BLOCKLIST_FRESHNESS_*` of the data that answered.
    pub freshness: blocklist_freshness,
    /// The kind checked.
    pub kind: blocklist_kind,
    /// On a hit, the reason code (1 mule account, 2 scam call, 3 scam SMS,
    /// 4 phishing, 5 fraud, 6 malware, 7 impersonation, 0 unspecified; other
    /// codes may be added by the centre).
    pub reason: u16,
    /// On a hit, the length of `matched` in bytes.
    pub matched_len: u16,
    /// The list version of the data that answered; 0 with no data.
    pub list_version: u64,
    /// On a hit, when it was listed, seconds since the Unix epoch.
    pub listed_at: u64,
    /// On a hit, when the listing expires, seconds since the Unix epoch; 0: never.
    pub expires_at: u64,
    /// On a hit, the id of the agency whose listing stands for the
    /// identifier, NUL-terminated.
    pub agency: [c_char; BLOCKLIST_AGENCY_MAX],
    /// On a hit, the canonical identifier that is listed, NUL-terminated: the
    /// one checked or, for a domain, the listed parent that caught it.
    pub matched: [c_char; BLOCKLIST_MATCHED_MAX],
    /// The time the answer was decided at (expiry, freshness), seconds since
    /// the Unix epoch: what an audit log records beside the answer. Since
    /// ABI 1 (after `BLOCKLIST_CHECK_RESULT_MIN_SIZE`).
    pub answered_at: u64,
    /// On a hit, how many agencies list the identifier (at least 1); 0 on a
    /// miss. Added after `answered_at`: a library older than the field
    /// leaves it as the caller set it (0 with `BLOCKLIST_CHECK_RESULT_INIT`).
    pub listings: u32,
    /// Zero.
    pub reserved: u32,
}

/// One query of a batch: a kind and `len` bytes of identifier text.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct blocklist_query {
    /// `BLOCKLIST_KIND_*`.
    pub kind: blocklist_kind,
    /// The identifier text (not necessarily NUL-terminated).
    pub data: *const c_char,
    /// Its length in bytes.
    pub len: usize,
}

/// The state of a handle's data and reloads. Set `size` before the call
/// (`blocklist_status s = BLOCKLIST_STATUS_INIT;`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct blocklist_status {
    /// `sizeof(blocklist_status)` as the caller was compiled, set by the
    /// caller and never written by the library (see the growth rule).
    pub size: u32,
    /// The code of the last reload attempt that failed, or `BLOCKLIST_OK` if
    /// the last attempt that found a new file succeeded (or none has).
    pub last_reload_error: blocklist_result,
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
    /// Reload attempts refused (corrupt, unreadable or older files, a
    /// heartbeat that cannot be read).
    pub reload_failures: u64,
    /// From the heartbeat: when the daemon last confirmed the list version
    /// it holds, seconds since the Unix epoch; 0 without a heartbeat.
    pub feed_confirmed_at: u64,
    /// From the heartbeat: until when answers are fresh, seconds since the
    /// Unix epoch; 0 without a heartbeat (freshness then comes from
    /// `max_age_seconds`) or before the daemon's first version.
    pub fresh_until: u64,
    /// `BLOCKLIST_FRESHNESS_FRESH`, `_STALE` or `_NO_DATA`, as a lookup now
    /// would report. `_NO_DATA` too while lookups return
    /// `BLOCKLIST_ERR_INDEX_MODIFIED`.
    pub freshness: blocklist_freshness,
    /// Zero: room a later field takes (an output, so always written zero).
    pub reserved: [u8; 7],
    /// Recent changes served from the overlay above the full index (0
    /// without one): the daemon merges them into a new full index when they
    /// grow. Since ABI 1 (after `BLOCKLIST_STATUS_MIN_SIZE`).
    pub overlay_entries: u64,
}

// SAFETY: repr(C), the u32 size first, integers and arrays of them only.
unsafe impl Growable for blocklist_check_result {
    const MIN_SIZE: usize = BLOCKLIST_CHECK_RESULT_MIN_SIZE;
    const NAME: &'static str = "blocklist_check_result";
}

// No padding the compiler adds (see blocklist_options).
const _: () = assert!(
    std::mem::offset_of!(blocklist_status, reserved) + 7
        == std::mem::offset_of!(blocklist_status, overlay_entries)
        && std::mem::offset_of!(blocklist_status, overlay_entries) + 8
            == std::mem::size_of::<blocklist_status>()
);

// SAFETY: repr(C), the u32 size first, integers only.
unsafe impl Growable for blocklist_status {
    const MIN_SIZE: usize = BLOCKLIST_STATUS_MIN_SIZE;
    const NAME: &'static str = "blocklist_status";
}
