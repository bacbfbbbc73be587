//! What the lookup benchmarks of `blocklist-core` and `blocklist-ffi` share:
//! test data, the fence between timed calls, and the baselines' hashing and
//! memory. Each includes this file with `#[path]`; a crate of its own would
//! sit in a dev-dependency cycle with `blocklist-core`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use blocklist_lookup::Kind;

/// SplitMix64: a small, fast, reproducible generator for test data.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

/// Between the calls of a timed group (as `FENCE()` in `bench.c`): the next
/// call starts when this one has finished, as when each is timed alone, so a
/// group's median is one call's latency, not the overlap of many calls'
/// cache misses.
#[inline(always)]
pub fn fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: lfence only orders instructions; every x86-64 CPU has it.
    unsafe {
        std::arch::x86_64::_mm_lfence()
    };
}

/// The 64-bit key the u64 baselines use: xxh3 of the text, the kind as seed.
#[inline(always)]
pub fn baseline_hash(kind: Kind, text: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(text.as_bytes(), u64::from(kind.code()))
}

/// An Fx-style multiply hasher for keys that are already uniform hashes.
#[derive(Default)]
pub struct MixHasher(u64);

impl Hasher for MixHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x517C_C1B7_2722_0A95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The `HashSet<u64>` baseline.
pub type BaselineSet = HashSet<u64, BuildHasherDefault<MixHasher>>;

/// The benchmarks' global allocator: the system's, asking for transparent
/// huge pages on every allocation of 2 MiB or more (`MADV_HUGEPAGE`; this
/// kernel gives them only on request). The index is a file map, which the
/// kernel maps with 2 MiB pages here by itself; without this the baselines'
/// heap memory would pay a TLB miss on most random probes that the index
/// does not, and the comparison would flatter the index.
pub struct HugePages;

const HUGE_PAGE: usize = 2 << 20;

impl HugePages {
    /// Advises the whole huge pages inside `len` bytes at `at`, before they
    /// are first touched (a page already faulted in stays small).
    fn advise(at: *mut u8, len: usize) {
        #[cfg(target_os = "linux")]
        if len >= HUGE_PAGE {
            let start = (at as usize).next_multiple_of(HUGE_PAGE);
            let end = (at as usize + len) & !(HUGE_PAGE - 1);
            if end > start {
                // SAFETY: the range lies inside an allocation we own; the
                // advice changes how it is backed, never its contents.
                unsafe {
                    libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE)
                };
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (at, len);
    }
}

/// How much of this process's heap the kernel backs with huge pages, for the
/// report ("unknown" where `/proc/self/smaps_rollup` is not readable).
pub fn huge_page_heap() -> String {
    std::fs::read_to_string("/proc/self/smaps_rollup")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("AnonHugePages:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(format!("{} MiB", kib / 1024))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

// SAFETY: every call is forwarded to `System` unchanged; `advise` only adds
// a hint about memory `System` just returned.
unsafe impl GlobalAlloc for HugePages {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let at = unsafe { System.alloc(layout) };
        if !at.is_null() {
            Self::advise(at, layout.size());
        }
        at
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        let at = unsafe { System.alloc_zeroed(layout) };
        if !at.is_null() {
            Self::advise(at, layout.size());
        }
        at
    }

    unsafe fn dealloc(&self, at: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(at, layout) }
    }

    unsafe fn realloc(&self, at: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded contract.
        let moved = unsafe { System.realloc(at, layout, new_size) };
        if !moved.is_null() {
            Self::advise(moved, new_size);
        }
        moved
    }
}
