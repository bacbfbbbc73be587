//! [`Published`]: a value replaced whole by one writer (a handle's reload
//! thread) and read by any number of threads, a read costing no locked
//! instruction.
//!
//! # Why not `arc-swap`
//!
//! `ArcSwap::load` takes a debt slot with a locked instruction and pays it
//! back with another one: two of a canonical check's fixed costs, paid on
//! every call to guard against a swap that comes once a minute at most.
//!
//! # How: hazard pointers with an asymmetric fence
//!
//! Each reading thread owns a slot (taken from a process-wide list on its
//! first read, given back when the thread exits). A read loads the current
//! pointer, stores it in its slot (the hazard), loads the current pointer
//! again and starts over if it changed; it then uses the value and clears
//! its slot. The writer replaces the pointer, then frees each old value that
//! no slot holds; one still held is kept and looked at again later
//! ([`Published::reclaim`]).
//!
//! The reader's store of its hazard and its second load of the pointer need
//! a full fence between them (a CPU may perform a load before an earlier
//! store to another place), which would be the locked instruction again.
//! Instead the writer, after replacing the pointer and before reading the
//! slots, makes every thread of the process run a full fence at once:
//! `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` (Linux 4.14). After it,
//! each reader has either stored its hazard where the writer's scan sees it
//! (the old value is kept), or not yet made its second load, which then sees
//! the new pointer (it starts over on the new value). Where `membarrier` is
//! not available both sides run an ordinary full fence: one locked
//! instruction per read instead of two.
//!
//! A read must not start another read on the same thread (its slot holds
//! one hazard); the crate holds a [`Reading`] for one lookup, in the entry
//! point's own body (a guard, not a closure: the compiler left a closure
//! around a whole lookup out of line, costing a call and the spilling of its
//! captures on every check).

use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr;
use std::sync::atomic::{compiler_fence, fence, AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};

/// A value readers see whole, old or new, replaced by [`Published::replace`].
pub(crate) struct Published<T> {
    /// Owns one strong count of the current value (`Arc::into_raw`).
    current: AtomicPtr<T>,
    /// Old values, each owning one strong count, that a reader may still
    /// hold; the lock also orders writers and [`Published::load_full`].
    retired: Mutex<Vec<*mut T>>,
}

// SAFETY: the raw pointers are strong counts of `Arc<T>`s, shared and sent
// as the `Arc`s would be.
unsafe impl<T: Send + Sync> Send for Published<T> {}
// SAFETY: as above; readers only ever get `&T`.
unsafe impl<T: Send + Sync> Sync for Published<T> {}

impl<T> Published<T> {
    pub(crate) fn new(value: Arc<T>) -> Published<T> {
        ASYMMETRIC_READY.call_once(|| {
            ASYMMETRIC.store(membarrier::register(), Ordering::Relaxed);
        });
        Published {
            current: AtomicPtr::new(Arc::into_raw(value).cast_mut()),
            retired: Mutex::new(Vec::new()),
        }
    }

    /// The current value, alive until the [`Reading`] drops. Start no other
    /// read on this thread while it is held (see the module doc).
    #[inline]
    pub(crate) fn read(&self) -> Reading<'_, T> {
        let held = match SLOT.try_with(|lease| lease.0) {
            Ok(slot) => {
                debug_assert!(
                    slot.hazard.load(Ordering::Relaxed).is_null(),
                    "a read inside a read"
                );
                let value = self.protect(slot);
                (Some(Cleared(slot)), value)
            }
            // The thread's storage is being torn down (a check from a
            // thread-local destructor): no slot, take a strong count.
            Err(_) => (None, Arc::into_raw(self.load_full())),
        };
        Reading {
            value: held.1,
            slot: held.0,
            _from: PhantomData,
        }
    }

    /// The current value, with `slot` holding it as a hazard.
    #[inline]
    fn protect(&self, slot: &Slot) -> *const T {
        let mut value = self.current.load(Ordering::Acquire);
        loop {
            slot.hazard.store(value.cast(), Ordering::Release);
            if ASYMMETRIC.load(Ordering::Relaxed) {
                // The writer's membarrier is the fence (module doc).
                compiler_fence(Ordering::SeqCst);
            } else {
                fence(Ordering::SeqCst);
            }
            let again = self.current.load(Ordering::Acquire);
            if again == value {
                // The later load, equal: the caller's next loads through it
                // then need not wait for `value` to come back from wherever
                // the compiler kept it during the store.
                return again;
            }
            value = again;
        }
    }

    /// The current value as a strong count: for callers that keep it, and
    /// for slow paths (it takes the writers' lock).
    pub(crate) fn load_full(&self) -> Arc<T> {
        let _writers = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        let value = self.current.load(Ordering::Acquire);
        // SAFETY: `current` owns a strong count and cannot be replaced (and
        // that count dropped) while the lock is held.
        unsafe {
            Arc::increment_strong_count(value);
            Arc::from_raw(value)
        }
    }

    /// Makes `value` the current value, then frees the old ones no reader
    /// holds any more.
    pub(crate) fn replace(&self, value: Arc<T>) {
        let mut retired = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        let old = self
            .current
            .swap(Arc::into_raw(value).cast_mut(), Ordering::AcqRel);
        retired.push(old);
        reclaim(&mut retired);
    }

    /// Frees the old values that readers held at the last replace and have
    /// let go of since: called now and then (each reload tick), so that an
    /// index replaced during a read is unmapped soon after, not at the next
    /// replace.
    pub(crate) fn reclaim(&self) {
        let mut retired = self.retired.lock().unwrap_or_else(PoisonError::into_inner);
        if !retired.is_empty() {
            reclaim(&mut retired);
        }
    }
}

impl<T> Drop for Published<T> {
    fn drop(&mut self) {
        // `&mut self`: no reader is left (`blocklist_close` is the last call).
        let retired = self
            .retired
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        for value in retired.drain(..).chain([*self.current.get_mut()]) {
            // SAFETY: each owns one strong count, dropped once here.
            drop(unsafe { Arc::from_raw(value) });
        }
    }
}

/// Frees each of `retired` that no slot holds (all of them owning one
/// strong count, none the current value).
fn reclaim<T>(retired: &mut Vec<*mut T>) {
    if ASYMMETRIC.load(Ordering::Relaxed) {
        if !membarrier::fence_all_threads() {
            // Readers may not have fenced: free nothing now, try again later.
            return;
        }
    } else {
        fence(Ordering::SeqCst);
    }
    let slots = SLOTS.lock().unwrap_or_else(PoisonError::into_inner);
    let mut unreachable = Vec::new();
    retired.retain(|&value| {
        let held = slots
            .iter()
            .any(|slot| slot.hazard.load(Ordering::Acquire) == value.cast());
        if !held {
            unreachable.push(value);
        }
        held
    });
    // Not under the slots' lock: dropping an index unmaps it.
    drop(slots);
    for value in unreachable {
        // SAFETY: retired, so no new reader can find it, and no slot held it
        // after the fence: nobody can reach it any more.
        drop(unsafe { Arc::from_raw(value) });
    }
}

/// Whether readers rely on the writer's membarrier (decided once, when the
/// first `Published` is made, before any read).
static ASYMMETRIC: AtomicBool = AtomicBool::new(false);
static ASYMMETRIC_READY: Once = Once::new();

/// One reading thread's hazard, alone on its cache lines (two, for the
/// adjacent-line prefetcher): every read writes it twice, and a line shared
/// with another thread's slot would bounce between their cores.
#[repr(align(128))]
struct Slot {
    /// The value the thread is reading, or null.
    hazard: AtomicPtr<()>,
    /// No thread owns the slot.
    free: AtomicBool,
}

/// Every slot ever made: slots are never freed, only reused, so the writer
/// may read one whose thread has just exited.
static SLOTS: Mutex<Vec<&'static Slot>> = Mutex::new(Vec::new());

/// A thread's slot, given back when the thread exits.
struct Lease(&'static Slot);

impl Lease {
    fn take() -> Lease {
        Lease(take_from(
            &mut SLOTS.lock().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

/// A free slot of `slots`, or a new one added to them.
fn take_from(slots: &mut Vec<&'static Slot>) -> &'static Slot {
    let reused = slots.iter().find(|slot| {
        slot.free
            .compare_exchange(true, false, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    });
    reused.copied().unwrap_or_else(|| {
        let slot: &'static Slot = Box::leak(Box::new(Slot {
            hazard: AtomicPtr::new(ptr::null_mut()),
            free: AtomicBool::new(false),
        }));
        slots.push(slot);
        slot
    })
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.0.hazard.store(ptr::null_mut(), Ordering::Release);
        self.0.free.store(true, Ordering::Release);
    }
}

thread_local! {
    static SLOT: Lease = Lease::take();
}

/// Empties a slot at the end of a read, also when it unwinds.
struct Cleared(&'static Slot);

/// A read of a [`Published`] value ([`Published::read`]): the value, alive
/// while this is held. Not `Send`: it holds its thread's slot.
pub(crate) struct Reading<'p, T> {
    /// The value: held by `slot`'s hazard, or, without a slot, a strong
    /// count this reading owns (`Arc::into_raw`).
    value: *const T,
    slot: Option<Cleared>,
    _from: PhantomData<&'p Published<T>>,
}

impl<T> Deref for Reading<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: alive while `self` is (see `value`).
        unsafe { &*self.value }
    }
}

impl<T> Drop for Reading<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if self.slot.is_none() {
            // SAFETY: the strong count this reading owns, dropped once.
            drop(unsafe { Arc::from_raw(self.value) });
        }
        // Otherwise `slot` empties the hazard as it drops, after this.
    }
}

impl Drop for Cleared {
    #[inline]
    fn drop(&mut self) {
        self.0.hazard.store(ptr::null_mut(), Ordering::Release);
    }
}

#[cfg(target_os = "linux")]
mod membarrier {
    // From linux/membarrier.h (not in every libc crate version).
    const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    fn call(command: libc::c_long) -> bool {
        // SAFETY: membarrier takes two integers and touches no memory of ours.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                command,
                0 as libc::c_long,
                0 as libc::c_long,
            ) == 0
        }
    }

    /// Registers the process for expedited barriers; false where the kernel
    /// (or a seccomp filter) refuses.
    pub(super) fn register() -> bool {
        call(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED)
    }

    /// A full fence on every running thread of the process. Registers again
    /// first: a child forked after the first registration is not registered
    /// (registering twice is allowed and cheap).
    pub(super) fn fence_all_threads() -> bool {
        register() && call(MEMBARRIER_CMD_PRIVATE_EXPEDITED)
    }
}

#[cfg(not(target_os = "linux"))]
mod membarrier {
    pub(super) fn register() -> bool {
        false
    }

    pub(super) fn fence_all_threads() -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Barrier;

    /// A value that counts its drops and says whether it is still whole.
    struct Tracked {
        serial: usize,
        pattern: Vec<usize>,
        dropped: Arc<AtomicUsize>,
    }

    impl Tracked {
        fn new(serial: usize, dropped: &Arc<AtomicUsize>) -> Arc<Tracked> {
            Arc::new(Tracked {
                serial,
                pattern: vec![serial; 64],
                dropped: Arc::clone(dropped),
            })
        }

        fn whole(&self) -> bool {
            self.pattern.iter().all(|&p| p == self.serial)
        }
    }

    impl Drop for Tracked {
        fn drop(&mut self) {
            self.pattern.fill(usize::MAX);
            self.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn readers_see_whole_values_while_a_writer_replaces_them_and_every_old_one_is_freed() {
        let dropped = Arc::new(AtomicUsize::new(0));
        let published = Published::new(Tracked::new(0, &dropped));
        const REPLACES: usize = 20_000;
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            let readers: Vec<_> = (0..4)
                .map(|_| {
                    s.spawn(|| {
                        let (mut reads, mut last) = (0u64, 0);
                        while !done.load(Ordering::Relaxed) {
                            let serial = {
                                let v = published.read();
                                assert!(v.whole(), "read a freed value");
                                v.serial
                            };
                            assert!(serial >= last, "went back from {last} to {serial}");
                            last = serial;
                            reads += 1;
                        }
                        reads
                    })
                })
                .collect();
            for serial in 1..=REPLACES {
                published.replace(Tracked::new(serial, &dropped));
            }
            done.store(true, Ordering::Relaxed);
            for reader in readers {
                assert!(reader.join().unwrap() > 0);
            }
        });
        published.reclaim();
        assert_eq!(
            dropped.load(Ordering::SeqCst),
            REPLACES,
            "all but the current freed"
        );
        assert_eq!(published.load_full().serial, REPLACES);
        drop(published);
        assert_eq!(dropped.load(Ordering::SeqCst), REPLACES + 1);
    }

    #[test]
    fn a_value_replaced_during_a_read_lives_until_the_read_ends_then_is_freed() {
        let dropped = Arc::new(AtomicUsize::new(0));
        let published = Published::new(Tracked::new(1, &dropped));
        let (inside, replaced) = (Barrier::new(2), Barrier::new(2));
        std::thread::scope(|s| {
            let reader = s.spawn(|| {
                let v = published.read();
                inside.wait();
                replaced.wait();
                assert!(v.whole());
                v.serial
            });
            inside.wait();
            published.replace(Tracked::new(2, &dropped));
            assert_eq!(dropped.load(Ordering::SeqCst), 0, "held by the reader");
            replaced.wait();
            assert_eq!(reader.join().unwrap(), 1);
        });
        published.reclaim();
        assert_eq!(dropped.load(Ordering::SeqCst), 1);
        assert_eq!(published.read().serial, 2);
    }

    #[test]
    fn a_slot_given_back_is_emptied_and_taken_again_before_a_new_one_is_made() {
        let mut slots = Vec::new();
        let first = Lease(take_from(&mut slots));
        let second = take_from(&mut slots);
        assert_eq!(slots.len(), 2);
        let slot = first.0;
        slot.hazard
            .store(ptr::NonNull::dangling().as_ptr(), Ordering::Relaxed);
        drop(first); // as when its thread exits
        assert!(slot.hazard.load(Ordering::Relaxed).is_null());
        assert!(ptr::eq(take_from(&mut slots), slot));
        assert!(!ptr::eq(take_from(&mut slots), second));
        assert_eq!(slots.len(), 3);
    }
}
