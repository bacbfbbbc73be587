//! `blocklist_check_key` on keys of arbitrary bytes: a key is caller
//! memory, so whatever it holds the answer is the one its text gets from
//! `blocklist_check_canonical`, the one the identifier it was made from
//! gets (a sealed key's miss reads no text), or a typed error; never a
//! crash, never a hit its text does not have.

use std::ffi::c_char;
use std::sync::OnceLock;

use blocklist::canonical::blocklist_check_canonical;
use blocklist::codes::{BLOCKLIST_ERR_NOT_CANONICAL, BLOCKLIST_ERR_UNKNOWN_KIND, BLOCKLIST_OK};
use blocklist::handle::{blocklist_handle, blocklist_open};
use blocklist::key::{blocklist_check_key, blocklist_key, blocklist_make_key};
use blocklist::types::{blocklist_check_result, BLOCKLIST_MATCHED_MAX};
use blocklist_lookup::index::IndexBuilder;
use blocklist_lookup::{Agency, EntryMeta, Kind, Reason, Timestamp};
use proptest::prelude::*;

const LISTED: [(Kind, &str); 3] = [
    (Kind::Number, "+66812345678"),
    (Kind::Account, "TH:004:1234567890"),
    (Kind::Domain, "scam.example"),
];

/// A handle on an index listing [`LISTED`], shared by every case.
struct Fixture {
    handle: *mut blocklist_handle,
    _dir: tempfile::TempDir,
}
// SAFETY: a handle may be used from any thread (the header's contract).
unsafe impl Send for Fixture {}
// SAFETY: as above.
unsafe impl Sync for Fixture {}

fn handle() -> *const blocklist_handle {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("lookup.idx");
            let meta = EntryMeta {
                reason: Reason::PHISHING,
                agency: Agency::new("th-dga").expect("agency"),
                listed_at: Timestamp(1_700_000_000),
                expires_at: None,
            };
            IndexBuilder::new(1, [0; 32], Timestamp::now())
                .write(&path, || LISTED.iter().map(|(k, v)| (*k, *v, &meta)))
                .expect("build the index");
            let c_path = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
            let mut handle = std::ptr::null_mut();
            // SAFETY: valid arguments.
            assert_eq!(
                unsafe { blocklist_open(c_path.as_ptr(), &mut handle) },
                BLOCKLIST_OK
            );
            Fixture { handle, _dir: dir }
        })
        .handle
}

fn result() -> blocklist_check_result {
    // SAFETY: all-zero bytes are a valid result.
    let mut r: blocklist_check_result = unsafe { std::mem::zeroed() };
    r.size = std::mem::size_of::<blocklist_check_result>() as u32;
    r
}

/// The answer of `blocklist_check_canonical` for `kind` and `text`.
fn text_answer(kind: u16, text: &[c_char]) -> (i32, blocklist_check_result) {
    let mut out = result();
    // SAFETY: valid handle, text and result.
    let code =
        unsafe { blocklist_check_canonical(handle(), kind, text.as_ptr(), text.len(), &mut out) };
    (code, out)
}

/// Whether two answers agree on what a caller reads.
fn same(a: &(i32, blocklist_check_result), b: &(i32, blocklist_check_result)) -> bool {
    a.0 == b.0
        && (a.0 != BLOCKLIST_OK
            || (a.1.listed == b.1.listed
                && a.1.reason == b.1.reason
                && a.1.matched[..] == b.1.matched[..]))
}

/// The key's answer equals its text's, or is a typed refusal of a key no
/// text stands behind, or (for a key made from `origin` by the library and
/// changed since) is the miss `origin` gets; a hit is always its text's.
fn answers_as_its_text(key: &blocklist_key, origin: Option<&blocklist_key>) {
    let mut by_key = result();
    // SAFETY: valid handle, key and result.
    let code = unsafe { blocklist_check_key(handle(), key, &mut by_key) };
    let len = usize::from(key.len);
    if len == 0
        || len >= BLOCKLIST_MATCHED_MAX
        || matches!(Kind::from_code(key.kind), Kind::Other(_))
    {
        assert!(
            [BLOCKLIST_ERR_NOT_CANONICAL, BLOCKLIST_ERR_UNKNOWN_KIND].contains(&code),
            "{code}"
        );
        return;
    }
    let by_key = (code, by_key);
    let by_text = text_answer(key.kind, &key.canonical[..len]);
    if code == BLOCKLIST_OK && by_key.1.listed == 1 {
        assert!(same(&by_key, &by_text), "a hit its text does not have");
        return;
    }
    let by_origin = origin.map(|o| text_answer(o.kind, &o.canonical[..usize::from(o.len)]));
    assert!(
        same(&by_key, &by_text) || by_origin.is_some_and(|o| same(&by_key, &o)),
        "answered {code}, its text {}, its origin {:?}",
        by_text.0,
        by_origin.map(|o| o.0)
    );
}

/// A key made from `text` by the library.
fn made(kind: Kind, text: &str) -> blocklist_key {
    // SAFETY: all-zero bytes are a valid key.
    let mut key: blocklist_key = unsafe { std::mem::zeroed() };
    key.size = std::mem::size_of::<blocklist_key>() as u32;
    // SAFETY: valid arguments.
    let code = unsafe {
        blocklist_make_key(
            handle(),
            kind.code(),
            text.as_ptr().cast::<c_char>(),
            text.len(),
            &mut key,
        )
    };
    assert_eq!(code, BLOCKLIST_OK);
    key
}

/// Identifiers the index does not list, one per kind.
const UNLISTED: [(Kind, &str); 3] = [
    (Kind::Number, "+66812345679"),
    (Kind::Account, "TH:004:1234567891"),
    (Kind::Domain, "www.not-scam.example"),
];

proptest! {
    #[test]
    fn a_key_of_random_bytes_answers_as_its_text_or_is_refused(
        bytes in proptest::collection::vec(any::<u8>(), std::mem::size_of::<blocklist_key>()),
        kind in 0u16..5,
        len in 0u16..300,
    ) {
        // SAFETY: any bytes are a valid key.
        let mut key: blocklist_key = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
        key.size = std::mem::size_of::<blocklist_key>() as u32;
        key.kind = kind;
        key.len = len;
        answers_as_its_text(&key, None);
    }

    #[test]
    fn a_made_key_with_any_byte_changed_never_hits_but_as_its_text(
        which in 0usize..6,
        at in 4usize..std::mem::size_of::<blocklist_key>(),
        byte in any::<u8>(),
    ) {
        let (kind, text) = LISTED.iter().chain(&UNLISTED).nth(which).copied().unwrap();
        let made = made(kind, text);
        answers_as_its_text(&made, None);
        let mut key = made;
        // SAFETY: a key is plain bytes; `at` is within it.
        unsafe { std::ptr::from_mut(&mut key).cast::<u8>().add(at).write(byte) };
        answers_as_its_text(&key, Some(&made));
    }
}

/// A number's or account's miss is answered from the key's header, and so
/// is a domain's that no parent may answer for: its text is not read, so a
/// text changed to a listed identifier (or to bytes that are no text at
/// all) answers for the identifier the key was made from.
#[test]
fn a_sealed_keys_miss_answers_for_the_identifier_it_was_made_from() {
    let registrable = [(Kind::Domain, "scan.example")];
    let unlisted = UNLISTED.iter().take(2).chain(&registrable);
    for ((kind, unlisted), (_, listed)) in unlisted.zip(&LISTED) {
        let no_text = vec![0xFF; unlisted.len()];
        for changed in [listed.as_bytes(), &no_text] {
            let mut key = made(*kind, unlisted);
            assert_eq!(changed.len(), usize::from(key.len));
            for (slot, byte) in key.canonical.iter_mut().zip(changed) {
                *slot = *byte as c_char;
            }
            let mut out = result();
            // SAFETY: valid handle, key and result.
            let code = unsafe { blocklist_check_key(handle(), &key, &mut out) };
            assert_eq!((code, out.listed), (BLOCKLIST_OK, 0), "{kind} {changed:?}");
        }
    }
}
