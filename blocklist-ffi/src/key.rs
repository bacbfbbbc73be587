//! `blocklist_key`: an identifier normalised and hashed once
//! (`blocklist_make_key`, when a payee is registered, say), then checked
//! on every payment by `blocklist_check_key` with neither normalisation,
//! shape test nor hash: the cheapest check there is.
//!
//! A key is caller memory, so nothing in it is trusted to size or index
//! anything: its length is checked against its buffer and its kind against
//! the kinds, and its hash is used only when a seal over the hash, the
//! seed, the kind and the length matches (a key from uninitialised or
//! corrupt memory fails it, about 2⁻⁶⁴ odds otherwise) and the seed is the
//! served index's. Any other key is checked the slow way, as
//! `blocklist_check_canonical` checks its text.
//!
//! The seal leaves the text out, so that a number's or account's miss
//! reads the key's 40-byte header alone: each key the caller checks is
//! often a cache miss of its own, and the text is a line further on. A
//! sealed key therefore answers for the identifier it was made from. The
//! text is read where the answer depends on it: a domain's parents, and a
//! listed answer, which is confirmed by hashing the text again (hits are
//! rare, so this costs nothing that measures), so a hash that is not the
//! text's can never make a hit.
//!
//! A domain's miss probes its parents (from its text) unless none of them
//! may answer for it: a name that is its own registrable domain, as nearly
//! every domain checked is. `blocklist_make_key` works that out against
//! its suffix list and marks such a key's seal (the seal xored with a mark
//! that names the list), so that the check of its miss probes the name
//! alone and reads no text, with the key's size and fields as in ABI 1. A
//! library with another suffix list, or one from before the mark, finds
//! the seal matching neither way and checks the key by its text: slower,
//! never a different answer.

use std::ffi::c_char;

use blocklist_lookup::index::{key_hash, prefetch, HeldIndex, Hit, KeyHash, Sought};
use blocklist_lookup::normalise::{answering_parents, normalise_into, SUFFIX_LIST_ID};
use blocklist_lookup::{Kind, Timestamp};

use crate::args::{null, overlaps, try_identifier_bytes, try_kind, try_ref, try_utf8};
use crate::boundary::ffi_guard;
use crate::canonical::{not_canonical, try_canonical};
use crate::check::Answer;
use crate::codes::{blocklist_result, BLOCKLIST_ERR_NOT_CANONICAL, BLOCKLIST_OK};
use crate::error::Error;
use crate::handle::blocklist_handle;
use crate::sized::{caller_size, write_output, Growable};
use crate::types::{blocklist_check_result, blocklist_kind, BLOCKLIST_MATCHED_MAX, RESULT_SIZE};

/// Bytes of `blocklist_key` in ABI 1: the least `size` a caller may give.
pub const BLOCKLIST_KEY_MIN_SIZE: usize = 296;

const _: () = assert!(BLOCKLIST_KEY_MIN_SIZE == std::mem::size_of::<blocklist_key>());

/// An identifier in canonical form with its hash under the served index's
/// seed, made by `blocklist_make_key` and checked by `blocklist_check_key`.
/// Caller-owned plain data: store it (with the payee, say), copy it, check
/// it from any thread. Set `size` before making one
/// (`blocklist_key k = BLOCKLIST_KEY_INIT;`). Read `kind`, `len` and
/// `canonical`; never change a field: a key answers for the identifier it
/// was made from (a changed `kind`, `len`, `seed`, `hash` or `seal` has
/// it checked the slow way, by its text, or refused; a changed text alone
/// is seen only when the answer reads it, on a hit or for a domain).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct blocklist_key {
    /// `sizeof(blocklist_key)` as the caller was compiled (see the growth rule).
    pub size: u32,
    /// `BLOCKLIST_KIND_*`.
    pub kind: blocklist_kind,
    /// The length of `canonical` in bytes, without its NUL.
    pub len: u16,
    /// The seed of the index the hash was made under (0 with no index);
    /// a key made under another seed is hashed again on every check, so
    /// make it again after the daemon writes a new full index
    /// (`blocklist_status.list_version` tells when a check is slower).
    pub seed: u64,
    /// The hash of the canonical form under `seed`.
    pub hash: [u64; 2],
    /// A seal over `kind`, `len`, `seed` and `hash`, so that a key from
    /// corrupt memory is not trusted; for a domain that no parent may
    /// answer for (its own registrable domain), marked so that its check
    /// probes no parent (a library with another suffix list checks such a
    /// key by its text).
    pub seal: u64,
    /// The canonical form, NUL-terminated (as `blocklist_normalise` writes it).
    pub canonical: [c_char; BLOCKLIST_MATCHED_MAX],
}

// SAFETY: repr(C), the u32 size first, integers and arrays of them only.
unsafe impl Growable for blocklist_key {
    const MIN_SIZE: usize = BLOCKLIST_KEY_MIN_SIZE;
    const NAME: &'static str = "blocklist_key";
}

/// Random odd constants keying the seal (not a secret: the seal guards
/// against corrupt memory, not against the caller, who owns the key).
const SEAL: [u64; 4] = [
    0x9E6C_63D0_676A_9A99,
    0xC2B2_AE3D_27D4_EB4F,
    0x1656_67B1_9E37_79F9,
    0xD6E8_FEB8_6659_FD93,
];

/// Xored into the seal of a domain's key when no parent of the domain may
/// answer for it under this library's suffix list (see the module doc):
/// made from the list's id, so that a library with another list does not
/// take the mark for its own.
const NO_PARENT_MARK: u64 = fold_mul(SUFFIX_LIST_ID as u64 ^ SEAL[0], SEAL[3]) | 1;

/// The 64-bit fold of a 128-bit product.
#[inline(always)]
const fn fold_mul(a: u64, b: u64) -> u64 {
    let product = a as u128 * b as u128;
    (product >> 64) as u64 ^ product as u64
}

/// The seal of `key`'s header: the hash, the seed, the kind and the length.
#[inline(always)]
fn seal_of(key: &blocklist_key) -> u64 {
    fold_mul(key.hash[0] ^ SEAL[0], key.hash[1] ^ SEAL[1])
        ^ fold_mul(
            key.seed ^ SEAL[2],
            (u64::from(key.len) << 16 | u64::from(key.kind)) ^ SEAL[3],
        )
}

/// Normalises an identifier of `kind` (as `blocklist_check` does) and
/// stores it in `*key` with its hash under the served index's seed: the
/// work every check of it would repeat, done once.
///
/// ```c
/// blocklist_key payee = BLOCKLIST_KEY_INIT;
/// if (blocklist_make_key(h, BLOCKLIST_KIND_ACCOUNT, text, len, &payee) == BLOCKLIST_OK) {
///   blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
///   blocklist_check_key(h, &payee, &r);   // on every payment
/// }
/// ```
///
/// Errors (nothing written): `BLOCKLIST_ERR_NULL_POINTER`,
/// `BLOCKLIST_ERR_STRUCT_SIZE`, the argument errors of `blocklist_check`,
/// the 2xx codes when the text is not a valid identifier of the kind,
/// `BLOCKLIST_ERR_INDEX_MODIFIED` (as `blocklist_check`).
///
/// Ownership: borrows `data` for the call; the caller owns `*key`.
/// Thread-safety: any number of threads at once.
///
/// # Safety
/// `handle` NULL or open; `data` NULL or valid for `len` bytes; `key` NULL
/// or valid for writing `key->size` bytes.
#[no_mangle]
pub unsafe extern "C" fn blocklist_make_key(
    handle: *const blocklist_handle,
    kind: blocklist_kind,
    data: *const c_char,
    len: usize,
    key: *mut blocklist_key,
) -> blocklist_result {
    ffi_guard(|| {
        let handle = try_ref(handle, "handle")?;
        let kind = try_kind(kind)?;
        // SAFETY: the caller guarantees `data` is valid for `len` bytes.
        let raw = try_utf8(unsafe { try_identifier_bytes(data, len)? })?;
        if key.is_null() {
            return Err(null("key"));
        }
        // SAFETY: non-NULL, and valid for its `size` bytes per the contract.
        let size = unsafe { caller_size(key)? };
        let mut canonical = String::new();
        normalise_into(kind, raw, handle.rules(), &mut canonical)?;
        let seed = handle
            .snapshot()
            .data(handle.now())?
            .index
            .map_or(0, HeldIndex::seed);
        let made = make(kind, &canonical, seed);
        // SAFETY: as above; `data` was read whole before this write.
        unsafe { write_output(key, size, &made) };
        Ok(())
    })
}

/// The key of `canonical` (at most `BLOCKLIST_MATCHED_MAX - 1` bytes, as
/// every canonical form is) under `seed`, as `blocklist_make_key` makes it
/// (public for the benchmark, whose Rust side checks the same keys).
pub fn make(kind: Kind, canonical: &str, seed: u64) -> blocklist_key {
    let hash = key_hash(seed, kind, canonical);
    let mut key = blocklist_key {
        size: std::mem::size_of::<blocklist_key>() as u32,
        kind: kind.code(),
        len: canonical.len() as u16,
        seed,
        hash: [hash.fingerprint, hash.position],
        seal: 0,
        canonical: [0; BLOCKLIST_MATCHED_MAX],
    };
    for (slot, byte) in key.canonical.iter_mut().zip(canonical.as_bytes()) {
        *slot = *byte as c_char;
    }
    let no_parent = kind == Kind::Domain && answering_parents(canonical) == 0;
    key.seal = seal_of(&key) ^ if no_parent { NO_PARENT_MARK } else { 0 };
    key
}

/// Whether `key`'s seal holds, and then whether the parents of a domain
/// may answer for it (false when the seal carries the mark): `None` for a
/// key whose hash may not be used. Public for the benchmark, whose Rust
/// side reads the same answer from the same seal.
#[inline(always)]
pub fn sealed_parents(key: &blocklist_key) -> Option<bool> {
    let sealed = seal_of(key);
    if key.seal == sealed {
        Some(true)
    } else if key.seal == sealed ^ NO_PARENT_MARK {
        Some(false)
    } else {
        None
    }
}

/// Checks a key from `blocklist_make_key`: the answer `blocklist_check`
/// gives for the identifier the key was made from, without normalising or
/// hashing it again (unless the daemon has since written a new full index
/// under another seed: then its text is hashed on each check, as
/// `blocklist_check_canonical` would, until made again). A number's or
/// account's miss reads only the key's fixed fields, not its text, and so
/// does a domain's that no parent may answer for (its own registrable
/// domain, as `blocklist_make_key` found by its suffix list; a key made by
/// a library with another list is checked by its text): change no field of
/// a key (make a new one instead). Check `out->freshness` on every answer.
///
/// ```c
/// blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
/// if (blocklist_check_key(h, &payee, &r) == BLOCKLIST_OK && r.listed) {
///   hold_payment(r.matched, r.reason);
/// }
/// ```
///
/// Errors (nothing written to `*out`): `BLOCKLIST_ERR_NULL_POINTER`,
/// `BLOCKLIST_ERR_STRUCT_SIZE`, `BLOCKLIST_ERR_UNKNOWN_KIND` and
/// `BLOCKLIST_ERR_NOT_CANONICAL` (a key that was not made by
/// `blocklist_make_key`, or was changed since), `BLOCKLIST_ERR_INDEX_MODIFIED`
/// (as `blocklist_check`).
///
/// Ownership: borrows `key` for the call. Thread-safety: as `blocklist_check`.
///
/// # Safety
/// `handle` NULL or open; `key` NULL or valid for reading `key->size` bytes;
/// `out` NULL or valid for writing `out->size` bytes.
#[no_mangle]
pub unsafe extern "C" fn blocklist_check_key(
    handle: *const blocklist_handle,
    key: *const blocklist_key,
    out: *mut blocklist_check_result,
) -> blocklist_result {
    ffi_guard(|| {
        let handle = try_ref(handle, "handle")?;
        if key.is_null() {
            return Err(null("key"));
        }
        // SAFETY: non-NULL, and valid for its `size` bytes, at least ours.
        unsafe { caller_size(key)? };
        let snapshot = handle.snapshot();
        // The filter line first (any hash is safe to seek), so that the
        // checks and the freshness below run while it loads.
        let sought = snapshot.index().map(|index| {
            // SAFETY: valid for `size_of::<blocklist_key>()` bytes (above).
            let key = unsafe { &*key };
            // A domain's miss may read its text too (its parents, unless its
            // seal says none may answer, which is known only once the seal
            // is tested), for many keys a line past the header: requested
            // now, beside the filter line, not once the probe has missed.
            if key.kind == Kind::Domain.code() {
                let last = usize::from(key.len).clamp(1, BLOCKLIST_MATCHED_MAX) - 1;
                prefetch(&key.canonical[0]);
                prefetch(&key.canonical[last]);
            }
            index.seek(hash_of(key))
        });
        // A key inside the result it asks to be filled is copied first: the
        // answer borrows its text while the result is written.
        let copied;
        // SAFETY: valid for `size_of::<blocklist_key>()` bytes (checked just
        // above), any bit pattern a valid key.
        let key = if overlaps(
            (key.cast(), size_of::<blocklist_key>()),
            (out.cast(), RESULT_SIZE),
        ) {
            copied = unsafe { *key };
            &copied
        } else {
            unsafe { &*key }
        };
        let kind = try_kind(key.kind)?;
        let text = key_text(key)?;
        // SAFETY: the caller guarantees `out` is valid for its `size` bytes.
        let mut out = unsafe { Answer::at(out)? };
        let now = handle.now();
        let data = snapshot.data(now)?;
        // `sought` was made exactly when there is an index.
        let hit = match (data.index, sought) {
            (Some(index), Some(sought)) => {
                match lookup_sealed(index, kind, key, &sought, text, now) {
                    Some(answer) => answer,
                    None => by_text(index, kind, text, now)?,
                }
            }
            _ => try_canonical(kind, text).map(|_| None)?,
        };
        out.write(BLOCKLIST_OK, kind, &data, hit.as_ref());
        Ok(())
    })
}

/// The answer for a key whose hash may not be used: its text's, as
/// `blocklist_check_canonical` gives it. Out of line, as no key a library
/// made and nothing changed since takes this path (but after a new seed).
#[cold]
#[inline(never)]
fn by_text<'a>(
    index: &'a HeldIndex,
    kind: Kind,
    text: &'a [u8],
    now: Timestamp,
) -> Result<Option<Hit<'a>>, Error> {
    index
        .lookup_shaped(kind, text, now)
        .ok_or_else(|| not_canonical(kind, text))
}

/// The hash the key carries (not yet known to be its text's).
#[inline(always)]
fn hash_of(key: &blocklist_key) -> KeyHash {
    KeyHash {
        fingerprint: key.hash[0],
        position: key.hash[1],
    }
}

/// Where the key's text lies: `len` bytes of its buffer, 1 to
/// `BLOCKLIST_MATCHED_MAX - 1` (the bytes themselves are not read here).
#[inline(always)]
fn key_text(key: &blocklist_key) -> Result<&[u8], Error> {
    let len = usize::from(key.len);
    if len == 0 || len >= BLOCKLIST_MATCHED_MAX {
        return Err(Error::new(
            BLOCKLIST_ERR_NOT_CANONICAL,
            format!(
                "blocklist_key.len is {len}, not 1 to {}: a key not made by blocklist_make_key",
                BLOCKLIST_MATCHED_MAX - 1
            ),
        ));
    }
    // SAFETY: `c_char` and `u8` have the same layout; `len` is within the buffer.
    Ok(unsafe { std::slice::from_raw_parts(key.canonical.as_ptr().cast::<u8>(), len) })
}

/// The lookup with the key's hash (`sought`: the hash the key carries and
/// its filter block): `Some(answer)`, or `None` when the hash
/// may not be used (the caller then looks up the text): the key is not
/// sealed (either way, see [`sealed_parents`]) under this index's seed,
/// its text is needed and is not ASCII (no
/// canonical form), or a hit shows the hash is not the text's (a hit must
/// never come from a hash the key's text does not have).
#[inline(always)]
fn lookup_sealed<'a>(
    index: &'a HeldIndex,
    kind: Kind,
    key: &blocklist_key,
    sought: &Sought<'a>,
    text: &'a [u8],
    now: Timestamp,
) -> Option<Option<Hit<'a>>> {
    if key.seed != index.seed() {
        return None;
    }
    let parents_may_answer = sealed_parents(key)?;
    // SAFETY: ASCII is UTF-8.
    let canonical = || {
        text.is_ascii()
            .then(|| unsafe { std::str::from_utf8_unchecked(text) })
    };
    match index.lookup_sought(kind, sought, parents_may_answer, now, canonical)? {
        None => Some(None),
        Some(hit) if key_hash(index.seed(), kind, canonical()?) == hash_of(key) => Some(Some(hit)),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_sealed_and_any_changed_header_field_breaks_the_seal() {
        let key = make(Kind::Number, "+66812345678", 7);
        assert_eq!(key.seal, seal_of(&key));
        let mut changed = key;
        changed.hash[0] ^= 1;
        assert_ne!(changed.seal, seal_of(&changed));
        let mut changed = key;
        changed.hash[1] ^= 1 << 63;
        assert_ne!(changed.seal, seal_of(&changed));
        let mut changed = key;
        changed.seed ^= 1;
        assert_ne!(changed.seal, seal_of(&changed));
        let mut changed = key;
        changed.len -= 1;
        assert_ne!(changed.seal, seal_of(&changed));
        let mut changed = key;
        changed.kind = Kind::Account.code();
        assert_ne!(changed.seal, seal_of(&changed));
    }

    #[test]
    fn a_domain_no_parent_may_answer_for_is_marked_and_the_mark_is_sealed() {
        for (kind, text, parents_may_answer) in [
            (Kind::Domain, "scam.co.th", false),
            (Kind::Domain, "scam.com", false),
            (Kind::Domain, "www.scam.co.th", true),
            (Kind::Number, "+66812345678", true),
        ] {
            let key = make(kind, text, 7);
            assert_eq!(sealed_parents(&key), Some(parents_may_answer), "{text}");
            let mut changed = key;
            changed.len -= 1;
            assert_eq!(sealed_parents(&changed), None, "{text}");
        }
    }
}
