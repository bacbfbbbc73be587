//! How a replica follows the log. It keeps the newest checkpoint it verified
//! and the right edge of that tree ([`LogHead`]). A newer checkpoint is taken
//! only with the entries between the two sizes: appended to the edge held,
//! they must give the new root. That is a proof of consistency (the new tree
//! holds the old one unchanged, since its root was computed over the old
//! leaves), and it leaves the replica holding every record published, so it
//! can check that each file it applies is one of them.

use crate::document::{KeySet, ListId};
use crate::log::checkpoint::SignedCheckpoint;
use crate::log::record::{Record, MAX_RECORD_LEN};
use crate::log::tiles::{decode_bundle, entries_path, TILE_WIDTH};
use crate::log::tree::{leaf_hash, Frontier};
use crate::log::LogError;

/// The most bytes an entry bundle can hold: 256 records of the longest
/// form, each after its 2-byte length. A follower fetches no more.
pub const MAX_BUNDLE_SIZE: u64 = TILE_WIDTH * (2 + MAX_RECORD_LEN as u64);

/// The newest checkpoint a replica verified, with the right edge of its tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogHead {
    checkpoint: SignedCheckpoint,
    frontier: Frontier,
}

/// An entry bundle to fetch to extend a log: its path under `log/`, how many
/// entries its name says it holds, and how many of them the log held already.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleFetch {
    /// The path under `log/`.
    pub path: String,
    /// The entries it holds.
    pub width: u64,
    /// The first entries, already held, to skip.
    pub skip: usize,
}

impl BundleFetch {
    /// The new entries of the bundle's `bytes`, refusing a bundle that does
    /// not hold what its name says (each entry at most a record's length).
    pub fn new_entries(&self, bytes: &[u8]) -> Result<Vec<Vec<u8>>, LogError> {
        let mut entries = decode_bundle(&self.path, bytes, self.width, MAX_RECORD_LEN)?;
        Ok(entries.split_off(self.skip))
    }
}

/// The entry bundles that hold entries `from..to`, in order.
///
/// ```
/// use blocklist_core::log::follow::bundles_between;
/// let fetches = bundles_between(250, 600);
/// let paths: Vec<_> = fetches.iter().map(|f| (f.path.as_str(), f.skip)).collect();
/// assert_eq!(paths, [("tile/entries/000", 250), ("tile/entries/001", 0), ("tile/entries/002.p/88", 0)]);
/// ```
pub fn bundles_between(from: u64, to: u64) -> Vec<BundleFetch> {
    let mut fetches = Vec::new();
    let mut at = from;
    while at < to {
        let n = at / TILE_WIDTH;
        let width = (to - n * TILE_WIDTH).min(TILE_WIDTH);
        fetches.push(BundleFetch {
            path: entries_path(n, width),
            width,
            skip: (at - n * TILE_WIDTH) as usize,
        });
        at = n * TILE_WIDTH + width;
    }
    fetches
}

impl LogHead {
    /// A head kept from an earlier run: `frontier` must be the edge of the
    /// tree `checkpoint` names.
    pub fn restore(checkpoint: SignedCheckpoint, frontier: Frontier) -> Result<LogHead, LogError> {
        let head = checkpoint.checkpoint();
        if frontier.size() != head.size || frontier.root() != head.root {
            return Err(LogError::Checkpoint {
                reason: format!(
                    "the kept edge of the log (size {}) does not give the kept checkpoint's root (size {})",
                    frontier.size(),
                    head.size
                ),
            });
        }
        Ok(LogHead {
            checkpoint,
            frontier,
        })
    }

    /// Takes `offered`, `list`'s checkpoint signed by a threshold of `keys`,
    /// after `held` (`None`: nothing verified yet, so the whole log is
    /// checked from its first entry), given the entries from `held`'s size to
    /// `offered`'s, in order. Returns the new head and the new entries'
    /// records; refuses a log that shrank, a fork, and any entry that is not
    /// a record.
    pub fn extend(
        held: Option<&LogHead>,
        offered: SignedCheckpoint,
        list: &ListId,
        keys: &KeySet,
        entries: Vec<Vec<u8>>,
    ) -> Result<(LogHead, Vec<Record>), LogError> {
        offered.verify(list, keys)?;
        let mut frontier = held.map_or_else(Frontier::default, |h| h.frontier.clone());
        let head = offered.checkpoint();
        if head.size < frontier.size() {
            return Err(LogError::Shrank {
                held: frontier.size(),
                offered: head.size,
            });
        }
        if entries.len() as u64 != head.size - frontier.size() {
            return Err(LogError::Checkpoint {
                reason: format!(
                    "{} entries were given to extend the log from size {} to {}",
                    entries.len(),
                    frontier.size(),
                    head.size
                ),
            });
        }
        let held_size = frontier.size();
        let mut records = Vec::with_capacity(entries.len());
        for entry in &entries {
            records.push(Record::parse(frontier.size(), entry)?);
            frontier.push(leaf_hash(entry));
        }
        if frontier.root() != head.root {
            return Err(LogError::Fork {
                held: held_size,
                size: head.size,
                offered: head.root,
                computed: frontier.root(),
            });
        }
        Ok((
            LogHead {
                checkpoint: offered,
                frontier,
            },
            records,
        ))
    }

    /// The checkpoint.
    pub fn checkpoint(&self) -> &SignedCheckpoint {
        &self.checkpoint
    }

    /// The right edge of its tree.
    pub fn frontier(&self) -> &Frontier {
        &self.frontier
    }
}
