//! The feed's heartbeat: when the daemon last confirmed the newest signed
//! manifest, and until when that makes its data fresh, in a tiny mapped file
//! beside the index (`lookup.beat`) that every reader loads with one atomic
//! read per lookup; and a generation number the daemon bumps each time it
//! publishes a new index version, so that a reader in another process learns
//! of it at once instead of at its next `stat` of the index path: a reader's
//! thread sleeps on the generation ([`Heartbeat::wait_for_generation`], a
//! futex on the shared page on Linux) and the daemon wakes it.
//!
//! Freshness is a property of the *feed*, not of the data's age: a quiet list
//! that the centre keeps re-signing is fresh however old its last change, and
//! a frozen feed goes stale even while the data is young. Only the daemon
//! knows the feed, so it writes the heartbeat; the daemon's HTTP answers and
//! the C library derive freshness from it with the same function
//! ([`Beat::freshness`]), so the two never disagree.
//!
//! # File layout (64 bytes, little-endian)
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 8 | magic `BLKBEAT1` |
//! | 8 | 8 | `confirmed_at`: Unix seconds when the daemon last verified a signed manifest announcing the version it holds |
//! | 16 | 8 | `fresh_until`: Unix seconds until which lookups are fresh (0: no data yet) |
//! | 24 | 8 | `generation`: bumped after each index version the daemon publishes (0 until the first) |
//! | 32 | 32 | reserved, zero |
//!
//! The file is created whole (written beside, renamed into place) and then
//! only ever updated in place, by the one daemon that owns the folder, with
//! aligned 8-byte atomic stores through a shared mapping: a reader sees each
//! field old or new, never torn. Freshness reads `fresh_until` alone, so a
//! reader that sees one field updated and not the other still answers right.
//!
//! The daemon wakes the threads sleeping on `generation` (a futex on its low
//! 32 bits, keyed by the file and offset, so across processes) after each
//! bump.
//!
//! `generation` says only "look again": a reader that sees it change reloads
//! the index the usual way (a `stat` of the path, then validation), so it
//! needs no knowledge of how the daemon publishes, and the daemon bumps it
//! after the new version is in place (renamed), so a reader that sees the
//! bump finds the new file. Files written before the field existed hold 0
//! there for good: readers of those fall back on their periodic `stat`, and
//! readers from before the field ignore it (it was reserved, zero).

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use memmap2::{Mmap, MmapMut};

use super::atomic::replace_file;
use super::error::IndexError;
use super::layer::open_regular;
use crate::entry::Timestamp;

/// The heartbeat's file name in a data folder (beside `lookup.idx`).
pub const HEARTBEAT_FILE: &str = "lookup.beat";

const MAGIC: [u8; 8] = *b"BLKBEAT1";
const LEN: usize = 64;
const CONFIRMED_AT: usize = 8;
const FRESH_UNTIL: usize = 16;
const GENERATION: usize = 24;

/// How fresh an answer is: the same three states over HTTP and in C.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// The daemon confirmed the newest signed manifest recently enough.
    Fresh,
    /// The feed has not been confirmed within its bound: answers come from
    /// the last good version, which may miss recent listings.
    Stale,
    /// No list version has been applied yet.
    NoData,
}

impl Freshness {
    /// The lower-case name used on the wire (`fresh`, `stale`, `no_data`).
    pub fn as_str(self) -> &'static str {
        match self {
            Freshness::Fresh => "fresh",
            Freshness::Stale => "stale",
            Freshness::NoData => "no_data",
        }
    }
}

/// One reading of the heartbeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Beat {
    /// When the daemon last verified a signed manifest announcing the version it holds.
    pub confirmed_at: Timestamp,
    /// Until when answers are fresh; `Timestamp(0)` before the first version.
    pub fresh_until: Timestamp,
}

impl Beat {
    /// The freshness of an answer given at `now`.
    ///
    /// ```
    /// use blocklist_lookup::index::{Beat, Freshness};
    /// use blocklist_lookup::Timestamp;
    ///
    /// let beat = Beat { confirmed_at: Timestamp(100), fresh_until: Timestamp(200) };
    /// assert_eq!(beat.freshness(Timestamp(200)), Freshness::Fresh);
    /// assert_eq!(beat.freshness(Timestamp(201)), Freshness::Stale);
    /// let none = Beat { confirmed_at: Timestamp(0), fresh_until: Timestamp(0) };
    /// assert_eq!(none.freshness(Timestamp(1)), Freshness::NoData);
    /// ```
    #[inline]
    pub fn freshness(&self, now: Timestamp) -> Freshness {
        freshness(self.fresh_until.0, now)
    }
}

#[inline]
fn freshness(fresh_until: u64, now: Timestamp) -> Freshness {
    match fresh_until {
        0 => Freshness::NoData,
        until if now.0 <= until => Freshness::Fresh,
        _ => Freshness::Stale,
    }
}

/// The heartbeat as a reader maps it (the C library, the daemon's API).
#[derive(Debug)]
pub struct Heartbeat {
    map: Mmap,
    path: PathBuf,
}

impl Heartbeat {
    /// Maps the heartbeat in `data_dir`; `Ok(None)` when there is none (no
    /// daemon has run there: the caller falls back on its own rule).
    pub fn open(data_dir: &Path) -> Result<Option<Heartbeat>, IndexError> {
        let path = data_dir.join(HEARTBEAT_FILE);
        // Non-blocking and regular files only: a FIFO there must not hang the reader.
        let (file, meta) = match open_regular(&path) {
            Ok(opened) => opened,
            Err(IndexError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        let len = meta.len();
        if len != LEN as u64 {
            return Err(IndexError::Truncated {
                path,
                actual: len,
                expected: LEN as u64,
            });
        }
        // SAFETY: the daemon never truncates or rewrites this file other than
        // through aligned atomic stores (module doc); a replacement by rename
        // leaves this mapping on the old inode.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| IndexError::io(&path, "map", e))?;
        if map[..8] != MAGIC {
            let mut found = [0; 8];
            found.copy_from_slice(&map[..8]);
            return Err(IndexError::BadMagic { path, found });
        }
        Ok(Some(Heartbeat { map, path }))
    }

    /// The current reading: two atomic loads.
    #[inline]
    pub fn read(&self) -> Beat {
        Beat {
            confirmed_at: Timestamp(load(&self.map, CONFIRMED_AT)),
            fresh_until: Timestamp(load(&self.map, FRESH_UNTIL)),
        }
    }

    /// The freshness at `now`: one atomic load.
    #[inline]
    pub fn freshness(&self, now: Timestamp) -> Freshness {
        freshness(load(&self.map, FRESH_UNTIL), now)
    }

    /// The index generation: changes each time the daemon publishes a new
    /// index version (one atomic load; 0 in a file from before the field).
    /// A change means "reload now"; its value means nothing else.
    #[inline]
    pub fn generation(&self) -> u64 {
        load(&self.map, GENERATION)
    }

    /// Sleeps until the generation is no longer `seen` (the daemon wakes
    /// the sleepers of every process after each bump), `timeout` passes, or
    /// spuriously; returns at once if it already moved. The caller loads
    /// [`generation`](Self::generation) again after.
    pub fn wait_for_generation(&self, seen: u64, timeout: Duration) {
        futex::wait(generation_word(&self.map), seen, timeout);
    }

    /// Wakes every thread sleeping in
    /// [`wait_for_generation`](Self::wait_for_generation) on this file, in
    /// any process: for a reader stopping its own sleeping thread.
    pub fn wake_waiters(&self) {
        futex::wake(generation_word(&self.map));
    }

    /// The file this heartbeat was mapped from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The daemon's side: creates the heartbeat and updates it in place.
#[derive(Debug)]
pub struct HeartbeatWriter {
    map: MmapMut,
}

impl HeartbeatWriter {
    /// Creates a fresh heartbeat in `data_dir` (replacing any, so a file left
    /// in a bad state by someone else is not trusted) saying `NoData` until
    /// the first [`HeartbeatWriter::beat`]. Only the folder's one writer (the
    /// daemon holding its lock) may call this.
    pub fn create(data_dir: &Path) -> Result<HeartbeatWriter, IndexError> {
        let path = data_dir.join(HEARTBEAT_FILE);
        replace_file(&path, |out| {
            let mut bytes = [0u8; LEN];
            bytes[..8].copy_from_slice(&MAGIC);
            out.write_all(&bytes)
                .map_err(|e| IndexError::io(&path, "write", e))
        })?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| IndexError::io(&path, "open", e))?;
        // SAFETY: this process is the folder's one writer, the file has the
        // fixed length just written, and it is only changed through this map.
        let map =
            unsafe { MmapMut::map_mut(&file) }.map_err(|e| IndexError::io(&path, "map", e))?;
        Ok(HeartbeatWriter { map })
    }

    /// Records a confirmation: readers see `beat` from their next lookup on.
    /// Not durable on purpose (it changes every poll; after a crash the
    /// daemon creates the file anew).
    pub fn beat(&self, beat: Beat) {
        // fresh_until first: it alone decides freshness.
        store(&self.map, FRESH_UNTIL, beat.fresh_until.0);
        store(&self.map, CONFIRMED_AT, beat.confirmed_at.0);
    }

    /// Tells readers that a new index version is in place: bumps the
    /// generation ([`Heartbeat::generation`]) and returns it. Call it after
    /// the version is published (renamed into place), never before: a reader
    /// that sees the bump looks at the path at once.
    pub fn index_published(&self) -> u64 {
        // One writer (the folder's daemon), so a load and a store suffice.
        let generation = load(&self.map, GENERATION).wrapping_add(1);
        store(&self.map, GENERATION, generation);
        futex::wake(generation_word(&self.map));
        generation
    }

    /// The current reading.
    pub fn read(&self) -> Beat {
        Beat {
            confirmed_at: Timestamp(load(&self.map, CONFIRMED_AT)),
            fresh_until: Timestamp(load(&self.map, FRESH_UNTIL)),
        }
    }
}

fn field(bytes: &[u8], offset: usize) -> &AtomicU64 {
    let slot = &bytes[offset..offset + 8];
    // SAFETY: the map is page-aligned and offsets are multiples of 8, so the
    // slot is aligned for AtomicU64 and lies within the map;
    // concurrent access to it goes only through atomics.
    debug_assert_eq!(slot.as_ptr().align_offset(8), 0);
    unsafe { &*slot.as_ptr().cast::<AtomicU64>() }
}

/// The 32 bits of the generation a futex sleeps on: its first four bytes
/// (the low half, the file being little-endian).
fn generation_word(bytes: &[u8]) -> &AtomicU32 {
    let slot = &bytes[GENERATION..GENERATION + 4];
    // SAFETY: as in `field`: aligned (the map is page-aligned, the offset a
    // multiple of 8), within the map, only ever accessed through atomics.
    unsafe { &*slot.as_ptr().cast::<AtomicU32>() }
}

/// Sleeping on a word of a shared mapping until another process changes it.
#[cfg(target_os = "linux")]
mod futex {
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    /// `FUTEX_WAIT` on `word` while it holds the first four bytes of
    /// `seen` as stored (not private: the sleepers and the waker are in
    /// different processes, which share the page through the file).
    pub(super) fn wait(word: &AtomicU32, seen: u64, timeout: Duration) {
        let expected = u32::from_ne_bytes([0, 1, 2, 3].map(|i| seen.to_le_bytes()[i]));
        let timeout = libc::timespec {
            tv_sec: libc::time_t::try_from(timeout.as_secs()).unwrap_or(libc::time_t::MAX),
            tv_nsec: libc::c_long::from(timeout.subsec_nanos()),
        };
        // SAFETY: `word` is a live, aligned 32-bit word; the kernel only
        // reads it. Every outcome (woken, timed out, the word already
        // changed, interrupted) means "look again", so the result is unused.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                libc::FUTEX_WAIT,
                expected,
                &timeout as *const libc::timespec,
            );
        }
    }

    /// `FUTEX_WAKE` of every sleeper on `word`, in any process.
    pub(super) fn wake(word: &AtomicU32) {
        // SAFETY: `word` is a live, aligned 32-bit word; waking touches no memory.
        unsafe {
            libc::syscall(libc::SYS_futex, word.as_ptr(), libc::FUTEX_WAKE, i32::MAX);
        }
    }
}

/// Without futexes: sleep out the timeout (the caller's periodic look).
#[cfg(not(target_os = "linux"))]
mod futex {
    use std::sync::atomic::AtomicU32;
    use std::time::Duration;

    pub(super) fn wait(_word: &AtomicU32, _seen: u64, timeout: Duration) {
        std::thread::sleep(timeout);
    }

    pub(super) fn wake(_word: &AtomicU32) {}
}

#[inline]
fn load(bytes: &[u8], offset: usize) -> u64 {
    u64::from_le(field(bytes, offset).load(Ordering::Acquire))
}

fn store(bytes: &[u8], offset: usize, value: u64) {
    field(bytes, offset).store(value.to_le(), Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_sees_each_beat_the_writer_records() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Heartbeat::open(dir.path()).unwrap().is_none());
        let writer = HeartbeatWriter::create(dir.path()).unwrap();
        let reader = Heartbeat::open(dir.path()).unwrap().unwrap();
        assert_eq!(reader.freshness(Timestamp(5)), Freshness::NoData);
        writer.beat(Beat {
            confirmed_at: Timestamp(10),
            fresh_until: Timestamp(20),
        });
        assert_eq!(reader.read(), writer.read());
        assert_eq!(reader.freshness(Timestamp(20)), Freshness::Fresh);
        assert_eq!(reader.freshness(Timestamp(21)), Freshness::Stale);
    }

    #[test]
    fn a_reader_sees_each_generation_the_writer_publishes() {
        let dir = tempfile::tempdir().unwrap();
        let writer = HeartbeatWriter::create(dir.path()).unwrap();
        let reader = Heartbeat::open(dir.path()).unwrap().unwrap();
        assert_eq!(reader.generation(), 0);
        assert_eq!(writer.index_published(), 1);
        assert_eq!(writer.index_published(), 2);
        assert_eq!(reader.generation(), 2);
        // Beats leave the generation alone, and the other way round.
        let beat = Beat {
            confirmed_at: Timestamp(10),
            fresh_until: Timestamp(20),
        };
        writer.beat(beat);
        assert_eq!((reader.generation(), reader.read()), (2, beat));
    }

    #[test]
    fn a_thread_sleeping_on_the_generation_wakes_when_the_writer_publishes() {
        let dir = tempfile::tempdir().unwrap();
        let writer = HeartbeatWriter::create(dir.path()).unwrap();
        let reader = Heartbeat::open(dir.path()).unwrap().unwrap();
        // Unchanged: it sleeps (out the timeout here, nobody publishing).
        let started = std::time::Instant::now();
        reader.wait_for_generation(0, Duration::from_millis(50));
        assert!(
            started.elapsed() >= Duration::from_millis(40),
            "did not sleep"
        );
        // Already moved: no sleep at all.
        writer.index_published();
        let started = std::time::Instant::now();
        reader.wait_for_generation(0, Duration::from_secs(60));
        assert!(started.elapsed() < Duration::from_secs(30));
        // Woken by the next publication, long before the timeout.
        std::thread::scope(|s| {
            let sleeper = s.spawn(|| {
                let started = std::time::Instant::now();
                reader.wait_for_generation(1, Duration::from_secs(60));
                (started.elapsed(), reader.generation())
            });
            while !sleeper.is_finished() {
                std::thread::sleep(Duration::from_millis(10));
                writer.index_published();
            }
            let (slept, generation) = sleeper.join().unwrap();
            assert!(slept < Duration::from_secs(30), "slept {slept:?}");
            assert!(generation >= 2);
        });
    }

    #[test]
    fn a_file_from_before_the_generation_reads_as_generation_zero() {
        // The layout of the first heartbeat: magic, two times, zeros.
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = [0u8; LEN];
        bytes[..8].copy_from_slice(&MAGIC);
        bytes[CONFIRMED_AT..CONFIRMED_AT + 8].copy_from_slice(&10u64.to_le_bytes());
        bytes[FRESH_UNTIL..FRESH_UNTIL + 8].copy_from_slice(&20u64.to_le_bytes());
        std::fs::write(dir.path().join(HEARTBEAT_FILE), bytes).unwrap();
        let reader = Heartbeat::open(dir.path()).unwrap().unwrap();
        assert_eq!(reader.generation(), 0);
        assert_eq!(reader.freshness(Timestamp(20)), Freshness::Fresh);
    }

    #[test]
    fn a_file_of_the_wrong_size_or_magic_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HEARTBEAT_FILE);
        std::fs::write(&path, [0u8; 10]).unwrap();
        assert!(matches!(
            Heartbeat::open(dir.path()),
            Err(IndexError::Truncated { .. })
        ));
        std::fs::write(&path, [0u8; LEN]).unwrap();
        assert!(matches!(
            Heartbeat::open(dir.path()),
            Err(IndexError::BadMagic { .. })
        ));
    }
}
