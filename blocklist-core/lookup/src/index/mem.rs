//! The only unsafe code of the index: typed views of mapped bytes, and the
//! prefetch hint. Everything else works on the slices these return.

/// A type whose every bit pattern is a valid value and which has no padding,
/// so it can be viewed from, and written as, raw bytes.
///
/// # Safety
/// Implementors must be `#[repr(C)]`, contain only integers (or arrays of
/// them), and have no padding bytes.
pub(crate) unsafe trait Plain: Copy + 'static {}

/// Views `bytes` as a slice of `T`, or `None` when the length is not a whole
/// number of `T` or the start is not aligned for `T`.
pub(crate) fn view<T: Plain>(bytes: &[u8]) -> Option<&[T]> {
    let size = std::mem::size_of::<T>();
    let aligned = bytes.as_ptr().align_offset(std::mem::align_of::<T>()) == 0;
    if size == 0 || bytes.len() % size != 0 || !aligned {
        return None;
    }
    // SAFETY: the pointer is aligned for T and covers len/size whole Ts within
    // `bytes`; `T: Plain` makes any bit pattern a valid T; the result borrows
    // `bytes`, so it cannot outlive the memory.
    Some(unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<T>(), bytes.len() / size) })
}

/// The bytes of a slice of `T`, for writing a section to disk.
pub(crate) fn bytes_of<T: Plain>(items: &[T]) -> &[u8] {
    // SAFETY: `T: Plain` has no padding, so every byte is initialised; u8 has
    // alignment 1; the length is exactly the slice's size in bytes.
    unsafe { std::slice::from_raw_parts(items.as_ptr().cast::<u8>(), std::mem::size_of_val(items)) }
}

/// Asks the CPU to start loading the cache line holding `item`, so that a
/// later read overlaps with other work. A hint only: it never faults.
///
/// ```
/// let keys = vec![0u64; 1 << 20];
/// blocklist_lookup::index::prefetch(&keys[12_345]); // ... other work, then read it
/// assert_eq!(keys[12_345], 0);
/// ```
#[inline(always)]
pub fn prefetch<T>(item: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching has no architectural effect and cannot fault; the
    // pointer comes from a live reference anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((item as *const T).cast::<i8>());
    }
    // Portable fallback: no hint; lookups are correct either way, only slower in batches.
    #[cfg(not(target_arch = "x86_64"))]
    let _ = item;
}

/// Maps an index file read-only.
pub(crate) fn map_file(file: &std::fs::File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: mapping is only undefined behaviour if the file changes while
    // mapped. Index files are never written in place: writers create a new
    // file and rename it over the old one (see `atomic`), which leaves the
    // mapped inode untouched. Truncating an index file in place is outside
    // the contract (documented in the module overview).
    unsafe { memmap2::Mmap::map(file) }
}

/// A memory map with typed views of two of its sections. The views point into
/// the mapped pages, which stay where they are for as long as the `Mmap`
/// lives, however this struct moves; they are handed out only borrowed from it.
pub(crate) struct MappedSections<A: Plain, B: Plain> {
    first: *const [A],
    second: *const [B],
    /// Owns the pages the views point into; never read directly.
    _map: memmap2::Mmap,
}

// SAFETY: the pointers are read-only views into `map`, which is Send + Sync
// and never mutated; A and B are plain integers.
unsafe impl<A: Plain, B: Plain> Send for MappedSections<A, B> {}
// SAFETY: as above; shared reads of immutable memory.
unsafe impl<A: Plain, B: Plain> Sync for MappedSections<A, B> {}

impl<A: Plain, B: Plain> MappedSections<A, B> {
    /// Views the two byte ranges of `map`; `None` if a range is out of bounds,
    /// misaligned for its type, or not a whole number of items.
    pub(crate) fn new(
        map: memmap2::Mmap,
        first: std::ops::Range<usize>,
        second: std::ops::Range<usize>,
    ) -> Option<Self> {
        let first: *const [A] = view::<A>(map.get(first)?)?;
        let second: *const [B] = view::<B>(map.get(second)?)?;
        Some(MappedSections {
            first,
            second,
            _map: map,
        })
    }

    #[inline(always)]
    pub(crate) fn first(&self) -> &[A] {
        // SAFETY: made by `view` from `map`, which lives as long as `self`.
        unsafe { &*self.first }
    }

    #[inline(always)]
    pub(crate) fn second(&self) -> &[B] {
        // SAFETY: as for `first`.
        unsafe { &*self.second }
    }
}
