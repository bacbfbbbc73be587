//! Watching a drop folder for new files: the daemon's inbox of published
//! files and the centre's inbox of agencies' submissions wake on the same
//! events, and ignore the same ones (their own reads and moves).

use std::path::{Path, PathBuf};

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
use notify::Watcher as _;
use tokio::sync::mpsc;

/// Watches `dir` and its `subfolders` (names inside it); every event that
/// can mean a new or changed file there sends a (coalesced) "look now" on
/// `tx`. Folders of `dir` not named (where processed files are moved) wake
/// nothing. The watcher stops when dropped.
pub fn watch(
    dir: &Path,
    subfolders: &[&str],
    tx: mpsc::Sender<()>,
) -> notify::Result<notify::RecommendedWatcher> {
    // The watcher names files by an absolute path, whatever form the folder
    // was given in (the daemon's embedded default is `./blocklistd-data/inbox`):
    // the folder is matched in each form it may take.
    let mut forms = vec![dir.to_owned()];
    forms.extend(std::path::absolute(dir).ok());
    forms.extend(dir.canonicalize().ok());
    forms.dedup();
    let watched: Vec<PathBuf> = forms
        .iter()
        .flat_map(|form| {
            std::iter::once(form.clone()).chain(subfolders.iter().map(|sub| form.join(sub)))
        })
        .collect();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        // An error may mean events were missed: look, as on a rescan.
        if event.as_ref().map_or(true, |event| wakes(&watched, event)) {
            // A full channel already holds a "look now".
            let _ = tx.try_send(());
        }
    })?;
    let mode = if subfolders.is_empty() {
        notify::RecursiveMode::NonRecursive
    } else {
        notify::RecursiveMode::Recursive
    };
    watcher.watch(dir, mode)?;
    Ok(watcher)
}

/// Whether `event` can mean a new or changed file in one of the `watched`
/// folders: a file created, written (data modified, or closed after
/// writing) or moved in. Opens and reads (each round's own: inotify reports
/// opening a directory), metadata changes, removals, moves out and anything
/// in other folders (the watcher's owner's own moves) do not wake a round:
/// waking on them made an idle daemon loop.
fn wakes(watched: &[PathBuf], event: &notify::Event) -> bool {
    if event.need_rescan() {
        return true;
    }
    let may_add = match event.kind {
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Data(_) | ModifyKind::Any) => true,
        EventKind::Modify(ModifyKind::Name(mode)) => mode != RenameMode::From,
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        _ => false,
    };
    // A rename reporting both ends lists the destination last.
    may_add
        && event
            .paths
            .last()
            .and_then(|p| p.parent())
            .is_some_and(|dir| watched.iter().any(|w| dir == w))
}
