//! `blocklist_check_key` on keys of arbitrary bytes: a key is caller
//! memory, so whatever it holds the answer is the one its text gets from
//! `blocklist_check_canonical`, or a typed error; never a crash, never a
//! hit its text does not have.

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

/// The key's answer equals its text's, or is a typed refusal of a key no
/// text stands behind.
fn answers_as_its_text(key: &blocklist_key) {
    let (mut by_key, mut by_text) = (result(), result());
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
    // SAFETY: `len` bytes of the key's buffer.
    let text_code = unsafe {
        blocklist_check_canonical(
            handle(),
            key.kind,
            key.canonical.as_ptr(),
            len,
            &mut by_text,
        )
    };
    assert_eq!(code, text_code);
    if code == BLOCKLIST_OK {
        assert_eq!(by_key.listed, by_text.listed);
        assert_eq!(by_key.reason, by_text.reason);
        assert_eq!(by_key.matched[..], by_text.matched[..]);
    }
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
        answers_as_its_text(&key);
    }

    #[test]
    fn a_made_key_with_any_byte_changed_answers_as_its_text_or_is_refused(
        which in 0usize..3,
        at in 4usize..std::mem::size_of::<blocklist_key>(),
        byte in any::<u8>(),
    ) {
        let (kind, text) = LISTED[which];
        let mut key = made(kind, text);
        answers_as_its_text(&key);
        // SAFETY: a key is plain bytes; `at` is within it.
        unsafe { std::ptr::from_mut(&mut key).cast::<u8>().add(at).write(byte) };
        answers_as_its_text(&key);
    }
}
