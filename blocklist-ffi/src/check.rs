//! Checks: "is this identifier listed?" for one identifier, per kind, or a
//! batch, with the answer written into a `blocklist_check_result`.

use std::ffi::c_char;

use blocklist_lookup::index::{HeldIndex, Hit, LookupIndex};
use blocklist_lookup::normalise::normalise_into;
use blocklist_lookup::{Kind, Rules, Timestamp};

use crate::args::{
    null, overlaps, try_identifier, try_identifier_bytes_apart, try_kind, try_ref, try_slice,
    try_utf8,
};
use crate::boundary::ffi_guard;
use crate::codes::{blocklist_result, BLOCKLIST_ERR_BATCH_TOO_LARGE, BLOCKLIST_OK};
use crate::error::{set_last_error, Error};
use crate::handle::{blocklist_handle, Data};
use crate::sized::{caller_size, stride, write_output};
use crate::types::{
    blocklist_check_result, blocklist_kind, blocklist_query, BLOCKLIST_MAX_BATCH,
    BLOCKLIST_MAX_INPUT_LEN, RESULT_SIZE,
};

/// A caller's `blocklist_check_result`, written under the growth rule
/// (`sized`): whole when the caller's is at least as large as the library's
/// (the fast path: fields written in place), else through a copy cut to the
/// caller's size.
pub(crate) struct Answer {
    out: *mut blocklist_check_result,
    /// The caller's `size`, at least the ABI-1 size.
    size: usize,
}

impl Answer {
    /// The result at `out`, once its `size` is checked.
    ///
    /// # Safety
    /// `out` must be NULL or valid for writing its `size` bytes.
    #[inline(always)]
    pub(crate) unsafe fn at(out: *mut blocklist_check_result) -> Result<Answer, Error> {
        if out.is_null() {
            return Err(null("out"));
        }
        // SAFETY: non-NULL and valid per the contract.
        let size = unsafe { caller_size(out)? };
        Ok(Answer { out, size })
    }

    /// Writes an answer, only the fields an answer defines.
    #[inline(always)]
    pub(crate) fn write(
        &mut self,
        status: blocklist_result,
        kind: Kind,
        data: &Data<'_>,
        hit: Option<&Hit<'_>>,
    ) {
        if self.size >= RESULT_SIZE {
            // SAFETY: `at`'s contract: valid for `size` bytes, here all of
            // them; plain integers, valid for any bit pattern.
            write_answer(unsafe { &mut *self.out }, status, kind, data, hit);
        } else {
            self.write_cut(status, kind, data, hit);
        }
    }

    /// Writes a hit over the miss [`write`](Self::write) wrote for the same
    /// query from the same data: only the listing's fields change (a batch's
    /// hits, each written first as a miss).
    #[inline(always)]
    pub(crate) fn write_hit_over_miss(&mut self, kind: Kind, data: &Data<'_>, hit: &Hit<'_>) {
        if self.size >= RESULT_SIZE {
            // SAFETY: as in `write`.
            write_listing(unsafe { &mut *self.out }, Some(hit));
        } else {
            self.write_cut(BLOCKLIST_OK, kind, data, Some(hit));
        }
    }

    /// [`write`](Self::write) for an older caller's smaller struct.
    #[cold]
    fn write_cut(
        &mut self,
        status: blocklist_result,
        kind: Kind,
        data: &Data<'_>,
        hit: Option<&Hit<'_>>,
    ) {
        // SAFETY: all-zero bytes are a valid `blocklist_check_result`.
        let mut full: blocklist_check_result = unsafe { std::mem::zeroed() };
        write_answer(&mut full, status, kind, data, hit);
        // SAFETY: `at`'s contract: valid for `size` bytes.
        unsafe { write_output(self.out, self.size, &full) };
    }
}

/// A caller's array of results, walked with the stride its first
/// element's `size` gives (the growth rule: an older program's array has
/// smaller elements).
pub(crate) struct Answers {
    first: *mut blocklist_check_result,
    stride: usize,
    n: usize,
}

impl Answers {
    /// The `n` results at `first` (non-NULL); nothing is read when `n` is 0.
    ///
    /// # Safety
    /// `first` must be valid for writing `n` elements of its first one's `size`.
    pub(crate) unsafe fn at(
        first: *mut blocklist_check_result,
        n: usize,
    ) -> Result<Answers, Error> {
        let stride = match n {
            0 => RESULT_SIZE,
            // SAFETY: per the contract, the first element is there.
            _ => stride::<blocklist_check_result>(unsafe { caller_size(first)? })?,
        };
        Ok(Answers { first, stride, n })
    }

    /// The bytes the array spans (start, length), for overlap tests.
    pub(crate) fn span(&self) -> (*const u8, usize) {
        // The stride is at most BLOCKLIST_STRUCT_MAX_SIZE and n at most
        // BLOCKLIST_MAX_BATCH, so this cannot wrap even in 32 bits.
        (self.first.cast::<u8>().cast_const(), self.stride * self.n)
    }

    /// The result at `at` (below `n`).
    #[inline(always)]
    pub(crate) fn item(&mut self, at: usize) -> Answer {
        debug_assert!(at < self.n);
        Answer {
            // SAFETY: `at < n`, within the array `at`'s contract describes.
            out: unsafe { self.first.cast::<u8>().add(at * self.stride) }.cast(),
            size: self.stride,
        }
    }
}

/// Fills `out` with an answer, writing only the fields an answer defines.
#[inline(always)]
fn write_answer(
    out: &mut blocklist_check_result,
    status: blocklist_result,
    kind: Kind,
    data: &Data<'_>,
    hit: Option<&Hit<'_>>,
) {
    out.status = status;
    out.freshness = data.freshness;
    out.kind = kind.code();
    out.list_version = data.index.map_or(0, |i| i.index().header().list_version);
    out.answered_at = data.now.0;
    write_listing(out, hit);
}

/// Fills the fields of `out` that say whether and how the identifier is
/// listed (a miss writes only the first byte of `agency` and `matched`).
/// Public for the benchmark, whose Rust calls fill the same fields of a
/// result they own, so that C is compared with the same work.
#[inline(always)]
pub fn write_listing(out: &mut blocklist_check_result, hit: Option<&Hit<'_>>) {
    match hit {
        None => {
            out.listed = 0;
            out.reason = 0;
            out.matched_len = 0;
            out.listed_at = 0;
            out.expires_at = 0;
            out.agency[0] = 0;
            out.matched[0] = 0;
            out.listings = 0;
        }
        Some(hit) => {
            out.listed = 1;
            out.reason = hit.reason.0;
            out.listed_at = hit.listed_at.0;
            out.expires_at = hit.expires_at.map_or(0, |t| t.0);
            copy_text(&mut out.agency, hit.agency.as_str());
            out.listings = hit.listings;
            out.matched_len = copy_text(&mut out.matched, &hit.matched) as u16;
        }
    }
}

/// Copies ASCII `text` into a fixed field with a NUL, cutting it if it does
/// not fit (it always does: agency ids and canonical forms are bounded).
fn copy_text(field: &mut [c_char], text: &str) -> usize {
    let n = text.len().min(field.len() - 1);
    // SAFETY: `c_char` and `u8` have the same layout. (One copy, not a loop
    // of byte stores: each hit of a batch copies two of these.)
    let bytes = unsafe { &mut *(std::ptr::from_mut(field) as *mut [u8]) };
    bytes[..n].copy_from_slice(&text.as_bytes()[..n]);
    bytes[n] = 0;
    n
}

/// The one check every single-identifier entry point runs.
///
/// # Safety
/// As `blocklist_check`.
unsafe fn check_one(
    handle: *const blocklist_handle,
    kind: Kind,
    data: *const c_char,
    len: usize,
    out: *mut blocklist_check_result,
) -> blocklist_result {
    ffi_guard(|| {
        let handle = try_ref(handle, "handle")?;
        // SAFETY: the caller guarantees `data` is valid for `len` bytes.
        let bytes = unsafe { try_identifier_bytes_apart(data, len, out.cast(), RESULT_SIZE)? };
        let raw = try_utf8(&bytes)?;
        // SAFETY: the caller guarantees `out` is valid for its `size` bytes.
        let mut out = unsafe { Answer::at(out)? };
        let now = handle.now();
        let snapshot = handle.snapshot();
        let data = snapshot.data(now)?;
        let hit = match data.index {
            Some(index) => index.index().check(kind, raw, data.rules, now)?,
            // No data to look in, but invalid text is still refused.
            None => {
                normalise_into(kind, raw, data.rules, &mut String::new())?;
                None
            }
        };
        out.write(BLOCKLIST_OK, kind, &data, hit.as_ref());
        Ok(())
    })
}

/// Checks whether an identifier of `kind` is listed.
///
/// `data` holds `len` bytes of UTF-8 text as a person or a system wrote it
/// (no NUL needed); it is normalised inside with the same rules as the list
/// (numbers to E.164, accounts to `TH:<bank>:<digits>` or an IBAN, domains
/// and URLs to the lower-case ASCII host). A domain also matches through a
// listed parent up to its registrable domain (never past a public suffix).
/// Check `out->freshness` on every answer.
///
/// Errors (nothing written to `*out`): `BLOCKLIST_ERR_NULL_POINTER`,
/// `BLOCKLIST_ERR_EMPTY_INPUT`, `BLOCKLIST_ERR_INPUT_TOO_LONG`,
/// `BLOCKLIST_ERR_INVALID_UTF8`, `BLOCKLIST_ERR_UNKNOWN_KIND`, the 2xx
/// codes when the text is not a valid identifier of the kind, and
/// `BLOCKLIST_ERR_INDEX_MODIFIED` while the served index file is known to
/// have been overwritten in place (see the header's top).
///
/// Ownership: borrows `data` for the call only; `data` may lie inside `*out`
/// (`matched` of the result being refilled). Thread-safety: any number of
/// threads may check on one handle at once; lock-free, never blocked by a
/// reload.
///
/// # Safety
/// `handle` NULL or open; `data` NULL or valid for `len` bytes; `out` NULL
/// or valid for writing one `blocklist_check_result`.
#[no_mangle]
pub unsafe extern "C" fn blocklist_check(
    handle: *const blocklist_handle,
    kind: blocklist_kind,
    data: *const c_char,
    len: usize,
    out: *mut blocklist_check_result,
) -> blocklist_result {
    match try_kind(kind) {
        // SAFETY: forwarded contract.
        Ok(kind) => unsafe { check_one(handle, kind, data, len, out) },
        Err(error) => ffi_guard(|| Err(error)),
    }
}

/// `blocklist_check` for a bank account (`BLOCKLIST_KIND_ACCOUNT`):
/// "004 123-4-56789-0", "004/1234567890", an IBAN.
///
/// # Safety
/// As `blocklist_check`.
#[no_mangle]
pub unsafe extern "C" fn blocklist_check_account(
    handle: *const blocklist_handle,
    data: *const c_char,
    len: usize,
    out: *mut blocklist_check_result,
) -> blocklist_result {
    // SAFETY: forwarded contract.
    unsafe { check_one(handle, Kind::Account, data, len, out) }
}

/// `blocklist_check` for a phone number (`BLOCKLIST_KIND_NUMBER`):
/// "081-234-5678", "+66 81 234 5678".
///
/// # Safety
/// As `blocklist_check`.
#[no_mangle]
pub unsafe extern "C" fn blocklist_check_number(
    handle: *const blocklist_handle,
    data: *const c_char,
    len: usize,
    out: *mut blocklist_check_result,
) -> blocklist_result {
    // SAFETY: forwarded contract.
    unsafe { check_one(handle, Kind::Number, data, len, out) }
}

/// `blocklist_check` for a domain name (`BLOCKLIST_KIND_DOMAIN`):
/// "WWW.Scam.Example.", "ตัวอย่าง.com".
///
/// # Safety
/// As `blocklist_check`.
#[no_mangle]
pub unsafe extern "C" fn blocklist_check_domain(
    handle: *const blocklist_handle,
    data: *const c_char,
    len: usize,
    out: *mut blocklist_check_result,
) -> blocklist_result {
    // SAFETY: forwarded contract.
    unsafe { check_one(handle, Kind::Domain, data, len, out) }
}

/// `blocklist_check` for a URL: its host is checked as a domain
/// (`"https://scam.example/login"` checks `"scam.example"`), so `out->kind` is
/// `BLOCKLIST_KIND_DOMAIN`.
///
/// # Safety
/// As `blocklist_check`.
#[no_mangle]
pub unsafe extern "C" fn blocklist_check_url(
    handle: *const blocklist_handle,
    data: *const c_char,
    len: usize,
    out: *mut blocklist_check_result,
) -> blocklist_result {
    // SAFETY: forwarded contract.
    unsafe { check_one(handle, Kind::Domain, data, len, out) }
}

/// Checks `n` queries at once, writing `results[i]` for `queries[i]`; faster
/// per identifier than one call each (the memory loads overlap).
///
/// Each query is judged on its own: an invalid query gets its error code in
/// `results[i].status` (the first such item's message becomes the thread's
/// last error) and the call still returns `BLOCKLIST_OK`. All answers come
/// from the same index.
///
/// Errors (nothing written): `BLOCKLIST_ERR_NULL_POINTER` (`handle`,
/// `queries` or `results` NULL, even when `n` is 0),
/// `BLOCKLIST_ERR_BATCH_TOO_LARGE` (`n > BLOCKLIST_MAX_BATCH`),
/// `BLOCKLIST_ERR_INDEX_MODIFIED` (as `blocklist_check`).
///
/// Ownership: borrows `queries` and their text for the call only. A text may
/// lie inside `results` (`matched` of an earlier answer, re-checked in place):
/// such a text is copied before any result is written.
/// Thread-safety: as `blocklist_check`.
///
/// # Safety
/// `handle` NULL or open; `queries` NULL or valid for `n` queries, each
/// `data` NULL or valid for its `len` bytes; `results` NULL or valid for
/// writing `n` results.
#[no_mangle]
pub unsafe extern "C" fn blocklist_check_batch(
    handle: *const blocklist_handle,
    queries: *const blocklist_query,
    n: usize,
    results: *mut blocklist_check_result,
) -> blocklist_result {
    // SAFETY: forwarded contract; `run_batch` passes `text` only the caller's
    // queries (or copies of them), each `data` valid for its `len`.
    unsafe {
        run_batch(
            handle,
            queries,
            n,
            results,
            |_, q| try_identifier(q.data, q.len),
            |index, rules, now, valid, found| match index {
                Some(index) => {
                    for (at, answer) in index.check_batch(valid, rules, now).into_iter().enumerate()
                    {
                        match answer {
                            Ok(None) => {}
                            Ok(Some(hit)) => found(at, Ok(hit)),
                            Err(e) => found(at, Err(e.into())),
                        }
                    }
                }
                // No data to look in, but invalid text is still refused.
                None => {
                    let mut scratch = String::new();
                    for (at, &(kind, raw)) in valid.iter().enumerate() {
                        if let Err(e) = normalise_into(kind, raw, rules, &mut scratch) {
                            found(at, Err(e.into()));
                        }
                    }
                }
            },
        )
    }
}

/// A batch's queries with the texts that lie inside the results array copied
/// out (and the query array itself, when it does): the results are written
/// while the answers still refer to the texts, and a caller passing back
/// `matched` of the results it asks to be filled must get its answers, not
/// its own text overwritten.
struct Staged {
    queries: Vec<blocklist_query>,
    /// The copied texts, back to back; never grown once `queries` points into it.
    _texts: Vec<u8>,
}

impl Staged {
    /// The copies, if anything of `given` lies inside `output` (start, bytes).
    fn if_inside(given: &[blocklist_query], output: (*const u8, usize)) -> Option<Staged> {
        // Only a text that will be read is copied: one of a known kind and an
        // accepted length (the others are refused without being read).
        // The overlap first: it is what nearly every query fails.
        let copied = |q: &blocklist_query| {
            overlaps((q.data.cast(), q.len), output)
                && !q.data.is_null()
                && (1..=BLOCKLIST_MAX_INPUT_LEN).contains(&q.len)
                && !matches!(Kind::from_code(q.kind), Kind::Other(_))
        };
        let array = (given.as_ptr().cast::<u8>(), std::mem::size_of_val(given));
        if !overlaps(array, output) && !given.iter().any(copied) {
            return None;
        }
        let mut texts = Vec::with_capacity(given.iter().filter(|q| copied(q)).map(|q| q.len).sum());
        for q in given.iter().filter(|q| copied(q)) {
            // SAFETY: the caller guarantees `data` is valid for `len` bytes.
            texts.extend_from_slice(unsafe {
                std::slice::from_raw_parts(q.data.cast::<u8>(), q.len)
            });
        }
        let mut at = 0;
        let queries = given
            .iter()
            .map(|q| {
                if !copied(q) {
                    return *q;
                }
                at += q.len;
                blocklist_query {
                    data: texts[at - q.len..].as_ptr().cast(),
                    ..*q
                }
            })
            .collect();
        Some(Staged {
            queries,
            _texts: texts,
        })
    }
}

/// How a batch's `answer` reports a valid query (by its position among the
/// valid ones) that is listed, or that failed; the others are
/// "not listed".
pub(crate) type Found<'f, 'h> = &'f mut dyn FnMut(usize, Result<Hit<'h>, Error>);

/// What the batch entry points share: checks the arrays, takes each query's
/// kind and its text (through `text`), writes every result as a miss (a
/// refused query's with its error) and then the valid ones' answers from
/// `answer` (all from one index) over theirs, and makes the first bad item's
/// message the thread's last error.
/// Nothing is written once the call fails (bad arguments, a withheld index),
/// so a failure leaves `results` untouched.
///
/// # Safety
/// As `blocklist_check_batch`.
pub(crate) unsafe fn run_batch(
    handle: *const blocklist_handle,
    queries: *const blocklist_query,
    n: usize,
    results: *mut blocklist_check_result,
    text: impl for<'a> Fn(Kind, &'a blocklist_query) -> Result<&'a str, Error>,
    answer: impl for<'h> FnOnce(
        Option<&'h LookupIndex>,
        &Rules,
        Timestamp,
        &[(Kind, &'h str)],
        Found<'_, 'h>,
    ),
) -> blocklist_result {
    ffi_guard(|| {
        let handle = try_ref(handle, "handle")?;
        if n > BLOCKLIST_MAX_BATCH {
            return Err(Error::new(
                BLOCKLIST_ERR_BATCH_TOO_LARGE,
                format!(
                    "batch of {n} queries is more than BLOCKLIST_MAX_BATCH ({BLOCKLIST_MAX_BATCH})"
                ),
            ));
        }
        // SAFETY: the caller guarantees `queries` holds `n` elements.
        let given = unsafe { try_slice(queries, n, "queries")? };
        if results.is_null() {
            return Err(null("results"));
        }
        // SAFETY: the caller guarantees `results` holds `n` elements, each
        // its first one's `size` long.
        let mut results = unsafe { Answers::at(results, n)? };
        let staged = Staged::if_inside(given, results.span());
        let queries = staged.as_ref().map_or(given, |s| &s.queries);
        let now = handle.now();
        let snapshot = handle.snapshot();
        let data = snapshot.data(now)?;
        // One pass over the queries: each result is written as a miss (nearly
        // every query is one), or with its error, and the valid queries are
        // gathered in order with their positions. No text is read from
        // `results` (see `Staged`), so the answers can follow.
        let mut valid: Vec<(Kind, &str)> = Vec::with_capacity(n);
        let mut positions: Vec<usize> = Vec::with_capacity(n);
        let mut first_error: Option<(usize, Error)> = None;
        let mut failed = |at: usize, e: Error, results: &mut Answers| {
            results
                .item(at)
                .write(e.code, Kind::from_code(queries[at].kind), &data, None);
            if first_error.as_ref().is_none_or(|(first, _)| at < *first) {
                first_error = Some((at, e));
            }
        };
        for (at, query) in queries.iter().enumerate() {
            match try_kind(query.kind).and_then(|kind| Ok((kind, text(kind, query)?))) {
                Ok((kind, text)) => {
                    results.item(at).write(BLOCKLIST_OK, kind, &data, None);
                    valid.push((kind, text));
                    positions.push(at);
                }
                Err(e) => failed(at, e, &mut results),
            }
        }
        let index = data.index.map(HeldIndex::index);
        answer(index, data.rules, now, &valid, &mut |item, outcome| {
            let at = positions[item];
            match outcome {
                Ok(hit) => results
                    .item(at)
                    .write_hit_over_miss(valid[item].0, &data, &hit),
                Err(e) => failed(at, e, &mut results),
            }
        });
        drop(snapshot);
        if let Some((at, e)) = first_error {
            set_last_error(&Error::new(
                e.code,
                format!("batch item {at}: {}", e.message),
            ));
        }
        Ok(())
    })
}
