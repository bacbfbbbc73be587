//! What checks and status calls return: small read-only Python objects made
//! from libblocklist's result and status structs.

use blocklist::codes::BLOCKLIST_OK;
use blocklist::types::{
    blocklist_check_result, blocklist_freshness, blocklist_status, BLOCKLIST_FRESHNESS_FRESH,
    BLOCKLIST_FRESHNESS_STALE,
};
use blocklist_lookup::index::Freshness;
use blocklist_lookup::{Kind, Reason};
use pyo3::prelude::*;

use crate::error::exception;
use crate::native::{text_of, Failure};

/// The answer to one check.
///
/// ```python
/// r = handle.check("url", "https://login.scam.example/")
/// r.listed, r.matched, r.reason, r.freshness   # True, 'scam.example', 'phishing', 'fresh'
/// ```
#[pyclass(module = "blocklist", frozen, get_all)]
pub(crate) struct Check {
    /// The kind checked: "account", "number" or "domain" (a URL is checked as its host).
    kind: &'static str,
    /// Listed and not expired.
    listed: bool,
    /// "fresh", "stale" or "no_data": whether the data that answered is current.
    freshness: &'static str,
    /// On a hit, the reason's name ("scam_call", ...), or None for a code
    /// newer than this build.
    reason: Option<&'static str>,
    /// On a hit, the reason code (0 on a miss).
    reason_code: u16,
    /// On a hit, the id of the agency whose listing stands for the
    /// identifier (see `listings`).
    agency: Option<String>,
    /// On a hit, how many agencies list the identifier (0 on a miss).
    listings: u32,
    /// On a hit, the canonical identifier listed: the one checked or, for a
    /// domain, the listed parent that caught it.
    matched: Option<String>,
    /// On a hit, when it was listed (seconds since the Unix epoch).
    listed_at: Option<u64>,
    /// On a hit, when the listing expires (seconds since the Unix epoch); None: never.
    expires_at: Option<u64>,
    /// The list version of the data that answered; 0 with no data.
    list_version: u64,
    /// For an item of a batch that could not be checked, its exception
    /// (not raised); None otherwise.
    error: Option<Py<PyAny>>,
}

#[pymethods]
impl Check {
    fn __repr__(&self) -> String {
        match (&self.error, &self.matched) {
            (Some(error), _) => format!("Check(error={error})"),
            (None, Some(matched)) => format!(
                "Check(kind={:?}, listed=True, matched={matched:?}, reason={:?}, agency={:?}, freshness={:?}, list_version={})",
                self.kind,
                self.reason.unwrap_or("unknown"),
                self.agency.as_deref().unwrap_or(""),
                self.freshness,
                self.list_version
            ),
            (None, None) => format!(
                "Check(kind={:?}, listed=False, freshness={:?}, list_version={})",
                self.kind, self.freshness, self.list_version
            ),
        }
    }
}

impl Check {
    /// The answer in `result` (its `status` is `BLOCKLIST_OK`).
    pub(crate) fn answered(result: &blocklist_check_result) -> Check {
        let listed = result.listed == 1;
        Check {
            kind: Kind::from_code(result.kind).name(),
            listed,
            freshness: freshness_name(result.freshness),
            reason: listed.then(|| Reason(result.reason).name()).flatten(),
            reason_code: result.reason,
            agency: listed.then(|| text_of(&result.agency)),
            listings: result.listings,
            matched: listed.then(|| text_of(&result.matched)),
            listed_at: listed.then_some(result.listed_at),
            expires_at: listed.then_some(result.expires_at).filter(|&t| t != 0),
            list_version: result.list_version,
            error: None,
        }
    }

    /// The answer of a batch item that could not be checked: not listed,
    /// with its exception in `error`.
    pub(crate) fn refused(
        py: Python<'_>,
        result: &blocklist_check_result,
        failure: Failure,
    ) -> Check {
        debug_assert_ne!(failure.code, BLOCKLIST_OK);
        Check {
            error: Some(exception(py, failure).into_value(py).into_any()),
            ..Check::answered(result)
        }
    }
}

/// The state of a handle's data and reloads.
#[pyclass(module = "blocklist", frozen, get_all)]
pub(crate) struct Status {
    /// The list version served; 0 with no data yet.
    list_version: u64,
    /// When the served data was created (seconds since the Unix epoch); 0 without data.
    created_at: u64,
    /// Seconds since `created_at`.
    age_seconds: u64,
    /// Entries in the served index.
    entries: u64,
    /// "fresh", "stale" or "no_data", as a check now would say.
    freshness: &'static str,
    /// From the daemon's heartbeat: when it last confirmed its version; None without one.
    feed_confirmed_at: Option<u64>,
    /// From the daemon's heartbeat: until when answers are fresh; None without one.
    fresh_until: Option<u64>,
    /// Index files swapped in since the open.
    reloads: u64,
    /// Reload attempts refused (corrupt, unreadable or older files).
    reload_failures: u64,
    /// The last failed reload's exception (not raised), or None.
    last_reload_error: Option<Py<PyAny>>,
}

#[pymethods]
impl Status {
    fn __repr__(&self) -> String {
        format!(
            "Status(list_version={}, entries={}, freshness={:?}, age_seconds={}, reloads={}, reload_failures={})",
            self.list_version,
            self.entries,
            self.freshness,
            self.age_seconds,
            self.reloads,
            self.reload_failures
        )
    }
}

impl Status {
    /// `status` as Python sees it, with the message of its last reload error.
    pub(crate) fn new(py: Python<'_>, status: &blocklist_status, reload_error: String) -> Status {
        let known = |t: u64| (t != 0).then_some(t);
        Status {
            list_version: status.list_version,
            created_at: status.created_at,
            age_seconds: status.age_seconds,
            entries: status.entries,
            freshness: freshness_name(status.freshness),
            feed_confirmed_at: known(status.feed_confirmed_at),
            fresh_until: known(status.fresh_until),
            reloads: status.reloads,
            reload_failures: status.reload_failures,
            last_reload_error: (status.last_reload_error != BLOCKLIST_OK).then(|| {
                exception(py, Failure::new(status.last_reload_error, reload_error))
                    .into_value(py)
                    .into_any()
            }),
        }
    }
}

/// The name the daemon's HTTP API gives a freshness (`Freshness::as_str`).
fn freshness_name(freshness: blocklist_freshness) -> &'static str {
    match freshness {
        BLOCKLIST_FRESHNESS_FRESH => Freshness::Fresh,
        BLOCKLIST_FRESHNESS_STALE => Freshness::Stale,
        _ => Freshness::NoData,
    }
    .as_str()
}
