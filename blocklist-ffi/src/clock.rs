//! The time a check is answered at, read cheaply: from the kernel's coarse
//! clock, or from a `KeptClock` a handle's reload thread keeps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Once;

use blocklist_lookup::Timestamp;

/// Seconds since the Unix epoch, from the kernel's coarse real-time clock on
/// Linux. Expiry and freshness are decided in whole seconds, so its few
/// milliseconds of resolution lose nothing, while the precise clock
/// (`SystemTime::now`, ~30 ns here) would be a tenth of a check's cost.
pub fn now() -> Timestamp {
    #[cfg(target_os = "linux")]
    {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec for the call.
        if unsafe { libc::clock_gettime(libc::CLOCK_REALTIME_COARSE, &mut ts) } == 0 {
            return Timestamp(u64::try_from(ts.tv_sec).unwrap_or(0));
        }
    }
    Timestamp::now()
}

/// The time as a handle's reload thread last read it ([`now`], at least
/// every 100 ms), so that a check reads one word instead of calling the
/// clock (~5 ns of a ~75 ns canonical check). It lags the clock by at most
/// that, or by the length of a reload in progress (tens of milliseconds at
/// 10 million entries): nothing for expiry and freshness, which are whole
/// seconds against bounds of minutes or more.
///
/// Where no thread keeps it (no reload thread, one that has stopped, a child
/// forked since, which has no threads but the forking one) checks read the
/// clock.
pub(crate) struct KeptClock {
    /// The seconds last read, or 0 while no thread keeps them.
    seconds: AtomicU64,
    /// [`FORKS`] when the clock was made: a child forked since sees another count.
    forks: u64,
}

/// Children forked since the process started, counted in each child by a
/// `pthread_atfork` handler: a kept clock made before the fork stops there.
static FORKS: AtomicU64 = AtomicU64::new(0);
static COUNTING_FORKS: Once = Once::new();

extern "C" fn count_fork() {
    FORKS.fetch_add(1, Ordering::Relaxed);
}

impl KeptClock {
    /// A clock no thread keeps yet (checks read the clock).
    pub(crate) fn new() -> KeptClock {
        COUNTING_FORKS.call_once(|| {
            // SAFETY: registers a handler that only increments an atomic,
            // which is async-signal-safe as a child handler must be. On
            // failure (out of memory) no clock is ever kept: see `keep`.
            if unsafe { libc::pthread_atfork(None, None, Some(count_fork)) } != 0 {
                FORKS.store(u64::MAX, Ordering::Relaxed);
            }
        });
        KeptClock {
            seconds: AtomicU64::new(0),
            forks: FORKS.load(Ordering::Relaxed),
        }
    }

    /// The time a check is answered at: the kept seconds if a thread of this
    /// process keeps them, else the clock.
    #[inline]
    pub(crate) fn now(&self) -> Timestamp {
        let kept = self.seconds.load(Ordering::Relaxed);
        if kept != 0 && FORKS.load(Ordering::Relaxed) == self.forks {
            Timestamp(kept)
        } else {
            now()
        }
    }

    /// Reads the clock for the checks to come: called by the keeping thread
    /// each time it wakes. Keeps nothing where forks are not counted (the
    /// handler could not be registered), as a child could not tell the
    /// clock is not kept for it: tested here, once a tick, rather than by
    /// every check.
    pub(crate) fn keep(&self) {
        if self.forks != u64::MAX {
            self.seconds.store(now().0, Ordering::Relaxed);
        }
    }

    /// The keeping thread is stopping: checks read the clock again.
    pub(crate) fn release(&self) {
        self.seconds.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_coarse_clock_agrees_with_the_precise_one_to_the_second() {
        let precise = blocklist_lookup::Timestamp::now().0;
        let coarse = super::now().0;
        assert!(coarse.abs_diff(precise) <= 1, "{coarse} vs {precise}");
    }

    #[test]
    fn a_kept_clock_answers_what_was_kept_and_the_clock_once_released() {
        let clock = KeptClock::new();
        // Not kept yet: the clock itself.
        assert!(clock.now().0.abs_diff(now().0) <= 1);
        clock.keep();
        clock.seconds.store(1_000, Ordering::Relaxed); // as if the thread had stalled
        assert_eq!(clock.now(), Timestamp(1_000));
        clock.release();
        assert!(clock.now().0.abs_diff(now().0) <= 1);
    }

    #[test]
    fn a_clock_kept_before_a_fork_is_not_trusted_in_the_child() {
        let clock = KeptClock::new();
        clock.seconds.store(1_000, Ordering::Relaxed);
        // SAFETY: the child only loads atomics, calls the vDSO clock and exits.
        match unsafe { libc::fork() } {
            0 => {
                let code = i32::from(clock.now() == Timestamp(1_000));
                // SAFETY: leaves the child at once, running no Rust destructors.
                unsafe { libc::_exit(code) }
            }
            -1 => panic!("fork failed"),
            child => {
                let mut status = 0;
                // SAFETY: waits for our own child, writing into a local.
                assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
                assert!(libc::WIFEXITED(status));
                assert_eq!(
                    libc::WEXITSTATUS(status),
                    0,
                    "the child trusted the parent's kept clock"
                );
            }
        }
        assert_eq!(clock.now(), Timestamp(1_000), "the parent still does");
    }
}
