//! Checkpoints on a thread of the store's own, after the commit instead of in it.
//!
//! In WAL mode a commit appends the changed pages to the `-wal` file and
//! fsyncs it: from then on the version survives a crash or a power loss. A
//! checkpoint later copies those pages into the database file so the WAL can
//! start over. SQLite's automatic checkpoint does that inside the commit call
//! that took the WAL past 1,000 pages, so the apply waited for it: a
//! 100k-change delta at 10M entries changes ~65k pages, and copying them
//! (265 MB read, written and fsynced again) took as long as the apply
//! itself. Here the commit only asks, and a thread with its own connection
//! does the same passive checkpoint while the caller goes on.
//!
//! Nothing about safety changes: a checkpoint is SQLite's own crash-safe
//! protocol whichever connection runs it, a killed process leaves the WAL to
//! the next open, and readers see committed versions whether their pages
//! are in the WAL or the database file.

use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;

use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;
use rusqlite::Connection;

use crate::store::{sqlite, StoreError};

/// WAL pages past which a commit asks for a checkpoint: SQLite's default
/// automatic checkpoint threshold, so small deltas checkpoint as often as
/// before.
const CHECKPOINT_AT: i32 = 1000;

/// The checkpointing thread of a store's writing connection. Dropped after
/// that connection, it finishes the checkpoint under way and ends.
pub(super) struct Checkpointer {
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Replaces `conn`'s automatic checkpoint with requests to a new thread,
    /// which checkpoints the database at `path` through a connection of its
    /// own. The thread ends when `conn` closes (its hook holds the only
    /// sender).
    pub(super) fn start(conn: &mut Connection, path: &Path) -> Result<Checkpointer, StoreError> {
        // One request waiting is enough: a checkpoint copies every page
        // committed before it starts.
        let (request, requests) = mpsc::sync_channel::<()>(1);
        conn.wal_hook(Some(move |_: &mut Wal, pages| {
            if pages >= CHECKPOINT_AT {
                let _ = request.try_send(());
            }
            Ok(())
        }))
        .map_err(sqlite(path, "set checkpoint hook"))?;
        let own_path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("store-checkpoint".into())
            .spawn(move || {
                // Opened at the first request, not before: while another
                // connection has the database open, a bootstrap cannot leave
                // WAL, and writes every page twice (see
                // `Store::apply_snapshot_followed`).
                let mut own = None;
                for () in requests {
                    if own.is_none() {
                        own = open(&own_path).ok();
                    }
                    // Failing (an I/O error) loses nothing: the pages stay in
                    // the WAL, readers find them there, and the next request
                    // or open tries again, as SQLite's own automatic
                    // checkpoint would.
                    if let Some(own) = &own {
                        let _ = own.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE);
                    }
                }
            })
            .map_err(|source| StoreError::Thread {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Checkpointer {
            thread: Some(thread),
        })
    }
}

/// The checkpointing connection to the database at `path`.
fn open(path: &Path) -> rusqlite::Result<Connection> {
    let own = Connection::open(path)?;
    // FULL, as the writer: the database file is fsynced before the WAL
    // that a checkpoint copied may start over.
    own.pragma_update(None, "synchronous", "FULL")?;
    Ok(own)
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
