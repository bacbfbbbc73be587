//! What a program asks at run time to learn which library it runs against:
//! the version string, the version as one comparable number, and the ABI
//! version. The header's `BLOCKLIST_VERSION_*` macros say what it was
//! compiled against; they come from the same crate version (see
//! `tests/header.rs`, which writes them).

use std::ffi::{c_char, CStr};

/// The ABI version: the `N` of the shared library's SONAME
/// (`libblocklist.so.N`). It changes only when a program compiled against an
/// older header could break (a struct shrinking or reordered, a function
/// removed or changing meaning); structs growing under the rule atop the
/// header, and new functions, keep it.
pub const BLOCKLIST_ABI_VERSION: u32 = 1;

/// The library version ("0.1.0"), a static NUL-terminated string (never free it).
///
/// Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn blocklist_version() -> *const c_char {
    VERSION.as_ptr()
}

/// The library's version as one number, `major * 10000 + minor * 100 +
/// patch`: compare it with `BLOCKLIST_VERSION_NUMBER`, the version the
/// program was compiled against.
///
/// ```c
/// if (blocklist_abi_version() != BLOCKLIST_ABI_VERSION) abort();
/// if (blocklist_version_number() < BLOCKLIST_VERSION_NUMBER)
///   fprintf(stderr, "libblocklist %s is older than the header\n", blocklist_version());
/// ```
///
/// Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn blocklist_version_number() -> u32 {
    VERSION_NUMBER
}

/// The library's ABI version (`BLOCKLIST_ABI_VERSION` of the header it was
/// built with): a program compiled against another ABI version must not use it.
///
/// Thread-safety: any thread.
#[no_mangle]
pub extern "C" fn blocklist_abi_version() -> u32 {
    BLOCKLIST_ABI_VERSION
}

const VERSION: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
        Ok(version) => version,
        Err(_) => panic!("the crate version holds a NUL"),
    };

const VERSION_NUMBER: u32 = number(env!("CARGO_PKG_VERSION_MAJOR")) * 10_000
    + number(env!("CARGO_PKG_VERSION_MINOR")) * 100
    + number(env!("CARGO_PKG_VERSION_PATCH"));

/// A decimal version part below 100, read at compile time.
const fn number(digits: &str) -> u32 {
    let bytes = digits.as_bytes();
    let mut value = 0;
    let mut at = 0;
    while at < bytes.len() {
        assert!(bytes[at].is_ascii_digit(), "a version part is not a number");
        value = value * 10 + (bytes[at] - b'0') as u32;
        at += 1;
    }
    assert!(value < 100, "a version part does not fit two digits");
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_number_spells_the_version_string() {
        let parts: Vec<u32> = VERSION
            .to_str()
            .unwrap()
            .split(['.', '-'])
            .take(3)
            .map(|p| p.parse().unwrap())
            .collect();
        assert_eq!(
            blocklist_version_number(),
            parts[0] * 10_000 + parts[1] * 100 + parts[2]
        );
    }
}
