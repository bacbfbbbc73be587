//! The growth rule of the structs that cross the boundary with a `size`
//! field (`blocklist_check_result`, `blocklist_status`, `blocklist_options`,
//! `blocklist_key`), in one place:
//!
//! - the caller sets `size` to `sizeof` the struct as it was compiled (the
//!   `_INIT` macros do) before the call; the library never writes it;
//! - a `size` below the struct's size in ABI 1 (`*_MIN_SIZE`) is refused
//!   with `BLOCKLIST_ERR_STRUCT_SIZE`: the caller did not set it;
//! - an output is written up to the smaller of the caller's size and the
//!   library's: an older program's smaller struct gets the fields it knows
//!   and nothing past them, a newer program's larger one keeps what it put
//!   in the fields this library does not know;
//! - an input is read up to the smaller of the two sizes, the fields past
//!   the caller's size taking their defaults; bytes past the library's size
//!   must be zero (a newer program asking for something this library cannot
//!   do is refused, never ignored), and `size` is at most
//!   `BLOCKLIST_STRUCT_MAX_SIZE` so that a wild one is never read through.
//!
//! The rule is Linux's for its extensible system call structs
//! (`copy_struct_from_user`), with the size in the struct.

use std::mem::{align_of, size_of};

use crate::codes::BLOCKLIST_ERR_STRUCT_SIZE;
use crate::error::Error;

/// The largest `size` an input struct may give: far above any struct of
/// this library, low enough that a `size` read from uninitialised memory is
/// refused rather than followed.
pub const BLOCKLIST_STRUCT_MAX_SIZE: usize = 4096;

/// A struct with the caller's `size` in its first four bytes.
///
/// # Safety
/// `Self` is `repr(C)`, starts with a `u32` size field, and is valid for any
/// bit pattern (integers and arrays of them only).
pub(crate) unsafe trait Growable: Copy {
    /// Its size in ABI 1: the least `size` accepted.
    const MIN_SIZE: usize;
    /// Its C name, for messages.
    const NAME: &'static str;
}

/// The `size` the caller gave the struct at `ptr` (non-NULL), if at least
/// the ABI-1 size.
///
/// # Safety
/// `ptr` is valid for reads of at least its first four bytes.
#[inline(always)]
pub(crate) unsafe fn caller_size<T: Growable>(ptr: *const T) -> Result<usize, Error> {
    // SAFETY: per the contract; unaligned, as caller memory may be anything.
    let size = unsafe { ptr.cast::<u32>().read_unaligned() } as usize;
    if size < T::MIN_SIZE {
        return Err(too_small::<T>(size));
    }
    Ok(size)
}

#[cold]
fn too_small<T: Growable>(size: usize) -> Error {
    Error::new(
        BLOCKLIST_ERR_STRUCT_SIZE,
        format!(
            "{}.size is {size}, less than its size in ABI 1 ({}): set it to sizeof \
             (initialise with the _INIT macro)",
            T::NAME,
            T::MIN_SIZE
        ),
    )
}

/// Writes `value` over the caller's struct at `out`, whose `size` is `size`
/// (from [`caller_size`]): every field up to the smaller of the two sizes,
/// the size field excepted.
///
/// # Safety
/// `out` is valid for writes of `size` bytes.
pub(crate) unsafe fn write_output<T: Growable>(out: *mut T, size: usize, value: &T) {
    let end = size.min(size_of::<T>());
    let from = std::ptr::from_ref(value).cast::<u8>();
    // SAFETY: both ranges lie within their structs (`end` bounds both); the
    // library's value is a local, never the caller's memory.
    unsafe {
        std::ptr::copy_nonoverlapping(
            from.add(size_of::<u32>()),
            out.cast::<u8>().add(size_of::<u32>()),
            end - size_of::<u32>(),
        );
    }
}

/// Reads the caller's input struct at `ptr` (non-NULL) under the growth
/// rule: its fields up to the smaller size, `default`'s past the caller's.
///
/// # Safety
/// `ptr` is valid for reads of its `size` bytes.
pub(crate) unsafe fn read_input<T: Growable>(ptr: *const T, default: T) -> Result<T, Error> {
    // SAFETY: forwarded contract.
    let size = unsafe { caller_size(ptr)? };
    if size > BLOCKLIST_STRUCT_MAX_SIZE {
        return Err(Error::new(
            BLOCKLIST_ERR_STRUCT_SIZE,
            format!(
                "{}.size is {size}, more than BLOCKLIST_STRUCT_MAX_SIZE ({BLOCKLIST_STRUCT_MAX_SIZE})",
                T::NAME
            ),
        ));
    }
    let known = size.min(size_of::<T>());
    // SAFETY: the caller's struct is valid for `size` bytes per the contract.
    let past = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>().add(known), size - known) };
    if let Some(at) = past.iter().position(|&b| b != 0) {
        return Err(Error::new(
            BLOCKLIST_ERR_STRUCT_SIZE,
            format!(
                "{}: byte {} is set, past the {} bytes this library knows (libblocklist {}): \
                 a field it cannot honour",
                T::NAME,
                known + at,
                size_of::<T>(),
                env!("CARGO_PKG_VERSION")
            ),
        ));
    }
    let mut value = default;
    // SAFETY: `known` bytes are within both structs; `T` is valid for any
    // bit pattern (the trait's contract).
    unsafe {
        std::ptr::copy_nonoverlapping(
            ptr.cast::<u8>(),
            std::ptr::from_mut(&mut value).cast::<u8>(),
            known,
        );
    }
    Ok(value)
}

/// The stride of a caller's array of `T` whose first element gives `size`:
/// refused unless a multiple of `T`'s alignment, so every element is
/// aligned, and at most [`BLOCKLIST_STRUCT_MAX_SIZE`], so a `size` left
/// uninitialised never spreads the writes gigabytes apart.
pub(crate) fn stride<T: Growable>(size: usize) -> Result<usize, Error> {
    if size > BLOCKLIST_STRUCT_MAX_SIZE {
        return Err(Error::new(
            BLOCKLIST_ERR_STRUCT_SIZE,
            format!(
                "{}.size is {size}, more than BLOCKLIST_STRUCT_MAX_SIZE \
                 ({BLOCKLIST_STRUCT_MAX_SIZE}): set it with the _INIT macro",
                T::NAME
            ),
        ));
    }
    if size % align_of::<T>() != 0 {
        return Err(Error::new(
            BLOCKLIST_ERR_STRUCT_SIZE,
            format!(
                "{}.size is {size}: in an array it must be a multiple of {}",
                T::NAME,
                align_of::<T>()
            ),
        ));
    }
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A struct grown by one field since its ABI-1 size (`extra`).
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Grown {
        size: u32,
        old: u32,
        extra: u64,
    }
    // SAFETY: repr(C), a u32 size first, integers only.
    unsafe impl Growable for Grown {
        const MIN_SIZE: usize = 8;
        const NAME: &'static str = "grown";
    }

    const DEFAULT: Grown = Grown {
        size: 0,
        old: 1,
        extra: 2,
    };

    #[test]
    fn an_older_callers_input_gets_defaults_for_the_fields_it_lacks() {
        let old = [8u32, 7];
        let read = unsafe { read_input(old.as_ptr().cast::<Grown>(), DEFAULT) }.unwrap();
        assert_eq!((read.old, read.extra), (7, 2));
    }

    #[test]
    fn a_newer_callers_input_is_refused_only_when_it_sets_unknown_fields() {
        let mut newer = [24u32, 7, 9, 0, 0, 0];
        let read = unsafe { read_input(newer.as_ptr().cast::<Grown>(), DEFAULT) }.unwrap();
        assert_eq!((read.old, read.extra), (7, 9));
        newer[5] = 1;
        let refused = unsafe { read_input(newer.as_ptr().cast::<Grown>(), DEFAULT) };
        assert_eq!(refused.unwrap_err().code, BLOCKLIST_ERR_STRUCT_SIZE);
    }

    #[test]
    fn a_size_under_the_abi_1_size_or_over_the_maximum_is_refused() {
        for size in [0u32, 4, 7, 4097, u32::MAX] {
            let bytes = [size, 0, 0, 0];
            let refused = unsafe { read_input(bytes.as_ptr().cast::<Grown>(), DEFAULT) };
            assert_eq!(
                refused.unwrap_err().code,
                BLOCKLIST_ERR_STRUCT_SIZE,
                "{size}"
            );
        }
    }

    #[test]
    fn a_stride_past_the_maximum_or_off_alignment_is_refused() {
        assert_eq!(stride::<Grown>(16).unwrap(), 16);
        assert_eq!(stride::<Grown>(BLOCKLIST_STRUCT_MAX_SIZE).unwrap(), 4096);
        for size in [12, BLOCKLIST_STRUCT_MAX_SIZE + 8, 0x1000_0008] {
            assert_eq!(
                stride::<Grown>(size).unwrap_err().code,
                BLOCKLIST_ERR_STRUCT_SIZE,
                "{size}"
            );
        }
    }

    #[test]
    fn an_older_callers_output_is_written_up_to_its_size_and_no_further() {
        let mut old = [8u32, 0, 0xAAAA_AAAA, 0xAAAA_AAAA];
        let size = unsafe { caller_size(old.as_ptr().cast::<Grown>()) }.unwrap();
        unsafe { write_output(old.as_mut_ptr().cast::<Grown>(), size, &DEFAULT) };
        assert_eq!(old, [8, 1, 0xAAAA_AAAA, 0xAAAA_AAAA]);
    }
}
