//! [`LiveIndex`]: the index currently being served, replaced by newer files
//! without ever blocking a reader.
//!
//! Readers `load()` the current [`LookupIndex`] lock-free (an `arc-swap`
//! guard) and keep using it for as long as they hold it, even after a reload
//! has swapped in a newer one: each index owns its maps (the writer renames
//! a new file into place, so the old inode lives on until its last reader
//! lets go). A new overlay on the base already served shares that base's
//! map, so a reload costs the overlay's size, not the list's. A reload opens and fully validates the new file
//! before the swap, so a reader sees the old index or the new one, never a
//! mixture, and a corrupt or older file is refused while the old one is kept.
//!
//! Mapping is sound only while nobody writes the mapped file in place, which
//! no writer of this crate does, but `cp` over the path or a backup restore
//! does: each poll also `fstat`s the served file, and one that changed is
//! replaced by a valid file at the path or, failing that, retired
//! ([`LookupIndex::is_intact`]) so its answers are withheld.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::{ArcSwap, Guard};

use super::error::IndexError;
use super::identity::FileIdentity;
use super::lookup::{open_stack, LookupIndex};

/// What a successful reload did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reloaded {
    /// The list version served before.
    pub previous_version: u64,
    /// The list version served now.
    pub version: u64,
}

/// The served index at a path, reloadable while readers run.
///
/// ```
/// # use blocklist_lookup::index::{IndexBuilder, LiveIndex};
/// # use blocklist_lookup::{Agency, EntryMeta, Identifier, Kind, Reason, Rules, Timestamp};
/// # let meta = EntryMeta { reason: Reason::PHISHING, agency: Agency::new("th-aoc").unwrap(),
/// #     listed_at: Timestamp(1_700_000_000), expires_at: None };
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("list.idx");
/// # let domain = Identifier::parse(Kind::Domain, "phish-bank.co.th", &Rules::default()).unwrap();
/// let entries = [(domain.kind(), domain.as_str(), &meta)];
/// IndexBuilder::new(1, [0; 32], Timestamp(0)).write(&path, || entries.iter().copied())?;
/// let live = LiveIndex::open(&path)?;
/// assert_eq!(live.load().header().list_version, 1);
///
/// IndexBuilder::new(2, [0; 32], Timestamp(0)).write(&path, || entries.iter().copied())?;
/// let reloaded = live.reload_if_changed()?.expect("the file was replaced");
/// assert_eq!(reloaded.version, 2);
/// assert!(live.reload_if_changed()?.is_none()); // unchanged since
/// # Ok::<(), blocklist_lookup::index::IndexError>(())
/// ```
pub struct LiveIndex {
    path: PathBuf,
    /// The index readers see; replaced whole, never changed in place.
    current: ArcSwap<LookupIndex>,
    /// Held by reloads only (readers never touch it), so two reloads cannot
    /// race to swap; holds the identity of the file last tried, so polling
    /// skips a file it has already served or refused.
    last_tried: Mutex<FileIdentity>,
}

impl std::fmt::Debug for LiveIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveIndex")
            .field("path", &self.path)
            .field("version", &self.load().header().list_version)
            .finish_non_exhaustive()
    }
}

impl LiveIndex {
    /// Opens the index file at `path` to serve it.
    pub fn open(path: impl AsRef<Path>) -> Result<LiveIndex, IndexError> {
        let path = path.as_ref();
        let (identity, index) = open_stack(path, None)?;
        Ok(LiveIndex::serving(path, identity, index?))
    }

    /// Like [`open`](Self::open) for a poller waiting for its first valid
    /// file: `Ok(None)`, after one `stat`, while `path` still names the file
    /// `refused` records; on a refusal, records the file tried there. Without
    /// it, each poll would validate the same refused file again (tens of
    /// milliseconds at 10 million entries).
    pub fn open_unless_refused(
        path: impl AsRef<Path>,
        refused: &mut Option<FileIdentity>,
    ) -> Result<Option<LiveIndex>, IndexError> {
        let path = path.as_ref();
        if let Some(known) = refused {
            let meta = std::fs::metadata(path).map_err(|e| IndexError::io(path, "stat", e))?;
            if FileIdentity::of(&meta) == *known {
                return Ok(None);
            }
        }
        let (identity, index) = open_stack(path, None)?;
        match index {
            Ok(index) => Ok(Some(LiveIndex::serving(path, identity, index))),
            Err(e) => {
                *refused = Some(identity);
                Err(e)
            }
        }
    }

    fn serving(path: &Path, identity: FileIdentity, index: LookupIndex) -> LiveIndex {
        LiveIndex {
            path: path.to_owned(),
            current: ArcSwap::from_pointee(index),
            last_tried: Mutex::new(identity),
        }
    }

    /// The index being served. Lock-free and cheap; hold the guard only for
    /// the lookups at hand (a held guard keeps its index's map alive).
    pub fn load(&self) -> Guard<Arc<LookupIndex>> {
        self.current.load()
    }

    /// The index being served, as an owned reference (for a caller that
    /// keeps it beside other state it swaps whole).
    pub fn load_full(&self) -> Arc<LookupIndex> {
        self.current.load_full()
    }

    /// The path being served.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens the file at the path now and swaps it in if it validates and its
    /// list version is not older than the one served. On error the served
    /// index is unchanged, unless its own file was overwritten in place (see
    /// [`reload_if_changed`](Self::reload_if_changed)).
    pub fn reload(&self) -> Result<Reloaded, IndexError> {
        let mut last_tried = self
            .last_tried
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.current.load_full();
        let overwritten = overwritten(&current)?;
        self.judge(&current, overwritten, self.reload_locked(&mut last_tried))
    }

    /// Reloads only if the path now names a different file than the one last
    /// tried, or the served file was written in place (one `stat` and one
    /// `fstat`, cheap enough to poll often). `Ok(None)` when unchanged.
    ///
    /// A served file written in place (a `cp` over it, a backup restore:
    /// writers only ever rename new files into place) is replaced by the file
    /// now at the path if that validates and is not older; otherwise the
    /// served index is retired ([`LookupIndex::is_intact`] turns false, for
    /// good) and this returns [`IndexError::ModifiedInPlace`] until a valid
    /// file is published. Lookups between the write and this poll read
    /// whatever the writer left in the map (docs/DAEMON.md, "Index files").
    pub fn reload_if_changed(&self) -> Result<Option<Reloaded>, IndexError> {
        let mut last_tried = self
            .last_tried
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let current = self.current.load_full();
        let overwritten = overwritten(&current)?;
        let outcome = match std::fs::metadata(&self.path) {
            Ok(meta) if *last_tried == FileIdentity::of(&meta) && !overwritten => return Ok(None),
            Ok(_) => self.reload_locked(&mut last_tried),
            Err(e) => Err(IndexError::io(&self.path, "stat", e)),
        };
        self.judge(&current, overwritten, outcome).map(Some)
    }

    /// A reload's outcome, given the index served when it started: a failure
    /// while that index's file is overwritten (or was, earlier) retires it.
    fn judge(
        &self,
        current: &LookupIndex,
        overwritten: bool,
        outcome: Result<Reloaded, IndexError>,
    ) -> Result<Reloaded, IndexError> {
        match outcome {
            Err(reason) if overwritten || !current.is_intact() => {
                current.retire();
                Err(IndexError::ModifiedInPlace {
                    path: current.path().to_owned(),
                    reason: Box::new(reason),
                })
            }
            outcome => outcome,
        }
    }

    fn reload_locked(&self, last_tried: &mut FileIdentity) -> Result<Reloaded, IndexError> {
        let held = self.current.load_full();
        let (identity, index) = open_stack(&self.path, Some(&held))?;
        // Remember the file even if it is refused: it is not retried until replaced.
        *last_tried = identity;
        let index = index?;
        let previous_version = held.header().list_version;
        let version = index.header().list_version;
        if version < previous_version {
            return Err(IndexError::Stale {
                path: self.path.clone(),
                current: previous_version,
                offered: version,
            });
        }
        self.current.store(Arc::new(index));
        Ok(Reloaded {
            previous_version,
            version,
        })
    }
}

/// Whether `index`, still trusted, has had its file written since it was
/// validated.
fn overwritten(index: &LookupIndex) -> Result<bool, IndexError> {
    Ok(index.is_intact() && index.file_changed()?)
}
