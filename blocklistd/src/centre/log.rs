//! The centre's side of the transparency log (docs/FORMAT.md, "Transparency
//! log"): every file a manifest lists is recorded in `log/` before that
//! manifest is written, and the manifest carries the checkpoint.
//!
//! What goes in: the files the new manifest lists that the one before it did
//! not (those it listed are recorded already), less any a killed run
//! recorded past that manifest's checkpoint. A directory published before
//! the log records, at its first manifest after the upgrade, every file it
//! holds, oldest first by type: roots, registries, snapshots, deltas.
//!
//! Order of writes: tiles (full ones are new paths, partial ones new widths),
//! then `log/checkpoint`, then the manifest. A run killed before the manifest
//! leaves a log that is ahead of it, never one that lacks a listed file, and
//! the next run goes on from the checkpoint it finds.

use std::collections::HashSet;

use blocklist_core::document::{
    parse_file_name, DocType, FileRef, KeySet, ListId, Manifest, FOLDER_TYPES, MANIFEST_PATH,
};
use blocklist_core::log::checkpoint::{origin, MAX_CHECKPOINT_LEN};
use blocklist_core::log::follow::{bundles_between, MAX_BUNDLE_SIZE};
use blocklist_core::log::record::RECORD_ORDER;
use blocklist_core::log::tiles::TileFile;
use blocklist_core::log::{
    Checkpoint, Frontier, LogError, LogHead, Record, SignedCheckpoint, TiledLog, Witness,
    CHECKPOINT_PATH, LOG_DIR,
};
use blocklist_core::{Sha256, Signer};

use crate::centre::keys::CentreKey;
use crate::centre::publish::newest_root;
use crate::centre::publish_dir::{DirLock, PublishDir};
use crate::centre::source::{self, Source};
use crate::centre::CentreError;
use crate::daemon::log::KeptLog;

/// The log of a publish directory, as its checkpoint and edge tiles say.
pub struct Log {
    tiles: TiledLog,
    checkpoint: Option<SignedCheckpoint>,
}

impl Log {
    /// Reads `dir`'s log: its checkpoint, and the tiles at the edge it
    /// names, which must give its root. A directory without a log has an
    /// empty one.
    pub fn open(dir: &PublishDir) -> Result<Log, CentreError> {
        let rel = format!("{LOG_DIR}/{CHECKPOINT_PATH}");
        let bytes = match std::fs::read(dir.path().join(&rel)) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Log {
                    tiles: TiledLog::default(),
                    checkpoint: None,
                })
            }
            Err(e) => return Err(CentreError::io("read", dir.path().join(&rel))(e)),
        };
        let broken = |source| CentreError::Log {
            file: dir.name(&rel),
            source,
        };
        let checkpoint = SignedCheckpoint::parse(&bytes).map_err(broken)?;
        let head = checkpoint.checkpoint();
        let tiles = TiledLog::load(head.size, |path| read_tile(dir, path)).map_err(broken)?;
        if tiles.root() != head.root {
            return Err(CentreError::Inconsistent {
                file: dir.name(&rel),
                reason: format!(
                    "the log's tiles give root {} at size {}, the checkpoint says {}",
                    tiles.root(),
                    head.size,
                    head.root
                ),
            });
        }
        Ok(Log {
            tiles,
            checkpoint: Some(checkpoint),
        })
    }

    /// The number of records.
    pub fn size(&self) -> u64 {
        self.tiles.size()
    }

    /// Records every file `manifest` lists that the log lacks (see the
    /// module's introduction; `previous` is the manifest it replaces), and
    /// returns the checkpoint, signed by `signers`, for `manifest` to carry.
    pub fn record_listed(
        mut self,
        dir: &PublishDir,
        lock: &DirLock,
        previous: Option<&Manifest>,
        manifest: &Manifest,
        signers: &[&CentreKey],
    ) -> Result<SignedCheckpoint, CentreError> {
        let (candidates, since) = match previous.and_then(|p| p.log.as_ref().map(|l| (p, l))) {
            Some((previous, log)) => {
                let before: HashSet<Record> = Record::listed_by(previous).into_iter().collect();
                let new = Record::listed_by(manifest)
                    .into_iter()
                    .filter(|r| !before.contains(r))
                    .collect();
                (new, log.checkpoint().size)
            }
            None => (held_and_listed(dir, manifest)?, 0),
        };
        let recorded: HashSet<Record> = records(dir, since, self.size())?.into_iter().collect();
        let mut written = Vec::new();
        for record in candidates.into_iter().filter(|r| !recorded.contains(r)) {
            written.extend(self.tiles.append(record.to_bytes()));
        }
        let head = Checkpoint {
            origin: origin(&manifest.list),
            size: self.tiles.size(),
            root: self.tiles.root(),
        };
        // A manifest written again over the same log (a refresh) carries
        // the note as it is, with any cosignatures `cosign` added to it.
        if let Some(kept) = self.checkpoint.take().filter(|c| *c.checkpoint() == head) {
            return Ok(kept);
        }
        let signers: Vec<&dyn Signer> = signers.iter().map(|k| *k as &dyn Signer).collect();
        let what = format!("the log checkpoint at size {}", head.size);
        let checkpoint = SignedCheckpoint::sign(head, &signers)
            .map_err(|source| CentreError::Encode { what, source })?;
        self.write(dir, lock, written, &checkpoint)?;
        Ok(checkpoint)
    }

    /// Writes `full` (the tiles filled since the log was opened), the
    /// partial tiles at its edge now, then `checkpoint`: in that order, so
    /// that no checkpoint ever names a tile not yet written.
    fn write(
        &self,
        dir: &PublishDir,
        lock: &DirLock,
        full: Vec<TileFile>,
        checkpoint: &SignedCheckpoint,
    ) -> Result<(), CentreError> {
        for (path, bytes) in full.into_iter().chain(self.tiles.edge_tiles()) {
            dir.write_log_file(lock, &format!("{LOG_DIR}/{path}"), &bytes)?;
        }
        dir.write_log_file(
            lock,
            &format!("{LOG_DIR}/{CHECKPOINT_PATH}"),
            checkpoint.as_bytes(),
        )
    }
}

/// Adds to `dir`'s `log/checkpoint` the witnesses' cosignatures in `files`
/// (each a copy of that checkpoint from `blocklist witness`), under the
/// directory's lock, and returns the note as written. A copy of another
/// checkpoint is refused, naming both sizes: the witness cosigns the current
/// one on its next run.
pub fn add_cosignatures(
    dir: &std::path::Path,
    files: &[std::path::PathBuf],
) -> Result<SignedCheckpoint, CentreError> {
    let published = PublishDir::open(dir)?;
    let lock = published.lock()?;
    rewrite_checkpoint(&published, &lock, |mut note| {
        for file in files {
            let refused = |source| CentreError::Log {
                file: file.display().to_string(),
                source,
            };
            let bytes = source::read_file(file, MAX_CHECKPOINT_LEN as u64)?;
            let cosigned = SignedCheckpoint::parse(&bytes).map_err(refused)?;
            note = note.with_lines_of(&cosigned).map_err(refused)?;
        }
        Ok(note)
    })
}

/// Adds to `dir`'s `log/checkpoint` the cosignatures `offered` (a copy of
/// it, called `shown`) carries of the `known` witnesses, under `lock`, and
/// returns its size and who cosigned: what the intake service takes from a
/// witness over HTTP. Lines of other names are dropped; a copy of another
/// checkpoint, a line of a known witness that does not verify, or a copy no
/// known witness cosigned is refused, and nothing is written.
pub fn take_cosignatures(
    dir: &PublishDir,
    lock: &DirLock,
    offered: &[u8],
    shown: &str,
    known: &[Witness],
) -> Result<(u64, Vec<String>), CentreError> {
    let refused = |source| CentreError::Cosignature {
        shown: shown.to_owned(),
        source,
    };
    let copy = SignedCheckpoint::parse(offered).map_err(refused)?;
    let mut by = Vec::new();
    let note = rewrite_checkpoint(dir, lock, |note| {
        let (note, cosigned) = note.with_cosignatures_of(&copy, known).map_err(refused)?;
        by = cosigned;
        Ok(note)
    })?;
    Ok((note.checkpoint().size, by))
}

/// Writes `dir`'s `log/checkpoint` again as `change` makes it from the one
/// it holds, under `lock`.
fn rewrite_checkpoint(
    dir: &PublishDir,
    lock: &DirLock,
    change: impl FnOnce(SignedCheckpoint) -> Result<SignedCheckpoint, CentreError>,
) -> Result<SignedCheckpoint, CentreError> {
    let rel = format!("{LOG_DIR}/{CHECKPOINT_PATH}");
    let note = Log::open(dir)?
        .checkpoint
        .ok_or_else(|| CentreError::Inconsistent {
            file: dir.name(&rel),
            reason: "the directory has no log yet: publish first".to_owned(),
        })?;
    let note = change(note)?;
    dir.write_log_file(lock, &rel, note.as_bytes())?;
    Ok(note)
}

/// What [`restore_from`] did.
#[derive(Debug)]
pub struct Restored {
    /// The log's size before.
    pub from: u64,
    /// Its size after: the size of the checkpoint given.
    pub to: u64,
    /// The records taken back of files the directory no longer holds
    /// (published after its backup was taken, then lost with the host).
    pub lost: Vec<Record>,
}

/// Takes back into the publish directory `dir`, restored from a backup, the
/// log `from` holds: a replica's `log.db` (a path ending `.db`), or a URL or
/// folder serving `log/` (a mirror, a CDN). The log given must begin with
/// the directory's own and be signed by a threshold of the newest root's
/// publish keys. Without this a restored centre would publish a fork of the
/// history its replicas saw, and they would refuse it.
pub fn restore_from(dir: &std::path::Path, from: &str) -> Result<Restored, CentreError> {
    let (checkpoint, entries) = if from.ends_with(".db") {
        KeptLog::exported(std::path::Path::new(from)).map_err(|e| CentreError::Inconsistent {
            file: from.to_owned(),
            reason: e.to_string(),
        })?
    } else {
        fetch(source::open(from)?.as_ref())?
    };
    let published = PublishDir::open(dir)?;
    let lock = published.lock()?;
    let newest = newest_root(&published)?;
    let root = newest.root();
    restore(
        &published,
        &lock,
        checkpoint,
        entries,
        &root.list,
        &root.publish_keys,
    )
}

/// [`restore_from`]'s work: `checkpoint` and `entries` (all of them, from
/// the first) are the log to take back into `dir`'s.
fn restore(
    dir: &PublishDir,
    lock: &DirLock,
    checkpoint: SignedCheckpoint,
    entries: Vec<Vec<u8>>,
    list: &ListId,
    keys: &KeySet,
) -> Result<Restored, CentreError> {
    let file = dir.name(&format!("{LOG_DIR}/{CHECKPOINT_PATH}"));
    let broken = |source| CentreError::Log {
        file: file.clone(),
        source,
    };
    let mut log = Log::open(dir)?;
    let from = log.size();
    if checkpoint.checkpoint().size < from {
        return Err(broken(LogError::Shrank {
            held: from,
            offered: checkpoint.checkpoint().size,
        }));
    }
    // Taken before the entries go to `extend`, checked after it, so a log
    // that fails its signature is refused as such.
    let prefix_root = entries
        .get(..from as usize)
        .map(|prefix| Frontier::of_entries(prefix).root());
    let (_, records) =
        LogHead::extend(None, checkpoint.clone(), list, keys, entries).map_err(broken)?;
    if prefix_root != Some(log.tiles.root()) {
        return Err(CentreError::Inconsistent {
            file,
            reason: format!(
                "the log given does not begin with the {from} entries this directory's log holds: it is another history, not the one this directory lost"
            ),
        });
    }
    let mut full = Vec::new();
    for record in &records[from as usize..] {
        // A record is only ever read from its one canonical spelling, so
        // these are the entries' bytes.
        full.extend(log.tiles.append(record.to_bytes()));
    }
    log.write(dir, lock, full, &checkpoint)?;
    let lost = records[from as usize..]
        .iter()
        .filter(|r| !dir.holds(r.doc, &r.file))
        .copied()
        .collect();
    Ok(Restored {
        from,
        to: checkpoint.checkpoint().size,
        lost,
    })
}

/// The checkpoint and every entry of the log `source` publishes (a mirror,
/// a CDN, another copy of the directory).
fn fetch(source: &dyn Source) -> Result<(SignedCheckpoint, Vec<Vec<u8>>), CentreError> {
    let rel = format!("{LOG_DIR}/{CHECKPOINT_PATH}");
    let checkpoint = SignedCheckpoint::parse(&source.fetch(
        &rel,
        blocklist_core::log::checkpoint::MAX_CHECKPOINT_LEN as u64,
    )?)
    .map_err(|e| CentreError::Log {
        file: source.name(&rel),
        source: e,
    })?;
    let entries = entries(source, 0, checkpoint.checkpoint().size)?;
    Ok((checkpoint, entries))
}

/// The records `from..to` of the log `source` publishes.
fn records(source: &dyn Source, from: u64, to: u64) -> Result<Vec<Record>, CentreError> {
    entries(source, from, to)?
        .iter()
        .zip(from..)
        .map(|(entry, index)| {
            Record::parse(index, entry).map_err(|e| CentreError::Log {
                file: source.name(&format!("{LOG_DIR}/tile/entries")),
                source: e,
            })
        })
        .collect()
}

/// The entries `from..to` of the log `source` publishes, read from its
/// entry bundles.
pub(crate) fn entries(
    source: &dyn Source,
    from: u64,
    to: u64,
) -> Result<Vec<Vec<u8>>, CentreError> {
    let mut entries = Vec::new();
    for fetch in bundles_between(from, to) {
        let rel = format!("{LOG_DIR}/{}", fetch.path);
        let bundle = source.fetch(&rel, MAX_BUNDLE_SIZE)?;
        entries.extend(fetch.new_entries(&bundle).map_err(|e| CentreError::Log {
            file: source.name(&rel),
            source: e,
        })?);
    }
    Ok(entries)
}

/// What `verify` found of a log.
#[derive(Debug)]
pub struct LogAudit {
    /// The files it records.
    pub size: u64,
    /// Its root.
    pub root: Sha256,
}

/// `verify`'s check of the log behind `manifest` (verified, from `source`):
/// its checkpoint is signed by a threshold of `keys` (the publish keys of
/// the root in force), its entries from the first give its root, and it
/// records every file the manifest lists. With `since` (a checkpoint of the
/// same log kept earlier, by a replica or a witness), the log must extend
/// it. `None` for a feed published before the log (an error with `since`).
pub fn audit(
    source: &dyn Source,
    manifest: &Manifest,
    keys: &KeySet,
    since: Option<&SignedCheckpoint>,
) -> Result<Option<LogAudit>, CentreError> {
    let file = source.name(MANIFEST_PATH);
    let broken = |source| CentreError::Log {
        file: file.clone(),
        source,
    };
    let Some(offered) = &manifest.log else {
        return match since {
            None => Ok(None),
            Some(_) => Err(broken(LogError::Checkpoint {
                reason: "the manifest carries none to check against the one given".to_owned(),
            })),
        };
    };
    let entries = entries(source, 0, offered.checkpoint().size)?;
    if let Some(since) = since.map(SignedCheckpoint::checkpoint) {
        if since.origin != offered.checkpoint().origin {
            return Err(broken(LogError::Origin {
                expected: since.origin.clone(),
                found: offered.checkpoint().origin.clone(),
            }));
        }
        let Some(prefix) = entries.get(..since.size as usize) else {
            return Err(broken(LogError::Shrank {
                held: since.size,
                offered: offered.checkpoint().size,
            }));
        };
        let edge = Frontier::of_entries(prefix);
        if edge.root() != since.root {
            return Err(broken(LogError::Fork {
                held: since.size,
                size: since.size,
                offered: since.root,
                computed: edge.root(),
            }));
        }
    }
    let (head, records) =
        LogHead::extend(None, offered.clone(), &manifest.list, keys, entries).map_err(broken)?;
    let recorded: HashSet<Record> = records.into_iter().collect();
    if let Some(missing) = Record::listed_by(manifest)
        .into_iter()
        .find(|r| !recorded.contains(r))
    {
        return Err(broken(LogError::NotIncluded {
            file: missing.file.path(missing.doc),
            size: offered.checkpoint().size,
        }));
    }
    let root = head.frontier().root();
    Ok(Some(LogAudit {
        size: offered.checkpoint().size,
        root,
    }))
}

/// Every file `dir` holds and every file `manifest` lists, in
/// [`RECORD_ORDER`] and by version: what the first log records.
fn held_and_listed(dir: &PublishDir, manifest: &Manifest) -> Result<Vec<Record>, CentreError> {
    let mut all: Vec<Record> = Vec::new();
    for doc in FOLDER_TYPES {
        for (_, rel) in dir.files(doc)? {
            let name = rel.rsplit('/').next().unwrap_or(&rel);
            let Some((version, sha256)) = parse_file_name(doc, name) else {
                continue;
            };
            let path = dir.path().join(&rel);
            let size = std::fs::metadata(&path)
                .map_err(CentreError::io("read", &path))?
                .len();
            all.push(Record {
                doc,
                file: FileRef {
                    version,
                    sha256,
                    size,
                },
            });
        }
    }
    all.extend(Record::listed_by(manifest));
    let rank = |doc: DocType| RECORD_ORDER.iter().position(|&d| d == doc);
    all.sort_by_key(|r| (rank(r.doc), r.file.version, r.file.sha256.0));
    all.dedup();
    Ok(all)
}

fn read_tile(dir: &PublishDir, path: &str) -> Result<Vec<u8>, LogError> {
    std::fs::read(dir.path().join(LOG_DIR).join(path)).map_err(|e| LogError::Tile {
        path: path.to_owned(),
        reason: format!("cannot be read: {e}"),
    })
}
