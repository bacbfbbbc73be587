//! Applying verified deltas and snapshots, each in one transaction.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use rusqlite::{params, OptionalExtension, Statement, Transaction, TransactionBehavior};

use crate::commitment::{Commitment, StateAccumulator};
use crate::document::{Delta, DocType, ListState, Op, Origin, SnapshotTail, Version};
use crate::entry::{Agency, Entry, EntryMeta, Reason, Timestamp};
use crate::identifier::Identifier;
use crate::keys::KeyId;
use crate::store::origins::{self, DeltaOrigins, Recorded, SnapshotOrigins, Tracer};
use crate::store::overrides;
use crate::store::sort::{EntrySorter, SORT_BUFFER};
use crate::store::{
    meta_from_row, read_listings, read_state, sqlite, Store, StoreError, BUSY_TIMEOUT,
};
use crate::verify::authority::Listing;
use crate::verify::provenance::{OriginOp, OriginOrder, Provenance, SignedOrigin};
use crate::verify::{
    check_state, stale, Authority, AuthorityError, SnapshotFile, SnapshotRest, Verified,
    VerifyError,
};

/// What an apply did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The store moved to this version and state.
    Applied {
        /// The new version.
        version: Version,
        /// The new state.
        state: ListState,
    },
    /// The same file was applied before: nothing changed.
    AlreadyApplied {
        /// Its version.
        version: Version,
    },
}

/// How far a snapshot apply has come, for a person watching a bootstrap.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Entries read and checked so far (a snapshot's entries are written to
    /// the table in key order once all are read).
    pub done: u64,
    /// Entries in the snapshot.
    pub total: u64,
    /// Time since the apply started.
    pub elapsed: Duration,
}

impl Progress {
    /// Entries written per second so far.
    pub fn rate(&self) -> f64 {
        self.done as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Entries between two progress reports.
const PROGRESS_EVERY: u64 = 100_000;

/// Follows a snapshot apply, to build something else from the same entries
/// without reading them again (the replica builds its lookup index so).
pub trait SnapshotFollower {
    /// Each batch of entries as it is decoded and checked, in wire order,
    /// on the applying thread. They are not yet known to be the signed ones.
    fn entries(&mut self, batch: &[Entry]);

    /// Every entry was read, and they are the signed ones; the store now
    /// writes them in key order and commits (or fails and commits nothing).
    fn verified(&mut self);
}

/// Follows nothing.
impl SnapshotFollower for () {
    fn entries(&mut self, _: &[Entry]) {}

    fn verified(&mut self) {}
}

impl Store {
    /// Applies a verified delta: it must take the store's version V to V+1, every
    /// operation must fit the stored list, and the result must match the delta's
    /// signed state digest. All of it commits, or none of it does.
    pub fn apply_delta(
        &mut self,
        delta: &Verified<Delta>,
        source: &str,
    ) -> Result<Applied, StoreError> {
        let path = self.path.clone();
        let tx = self.begin()?;
        let held = read_state(&tx, &path)?;
        check_list(&path, &held.list, delta.list.as_str())?;
        if let Some(done) = already_applied(
            &tx,
            &path,
            DocType::Delta,
            held.version,
            delta.version,
            delta.file_sha256().0,
        )? {
            return Ok(done);
        }
        let trusted = held.version.map_or(0, Version::get);
        if delta.version.get() != trusted + 1 {
            return Err(refused(
                &path,
                VerifyError::Gap {
                    doc: DocType::Delta,
                    trusted,
                    offered: delta.version.get(),
                },
            ));
        }
        let mut state = held.commitments;
        let version = delta.version.get();
        // In the table's key order (kind, value, agency, as SQLite compares
        // them): a large delta's changes then walk the B-tree from one end to
        // the other, each leaf page read and dirtied once while it is at hand,
        // instead of a random page per change (a delta comes ordered by its
        // groups' metadata, not by key). Listings are distinct within a
        // delta and the digest does not depend on order, so the result is the
        // same.
        let mut ops: Vec<&Op> = delta.ops.iter().collect();
        ops.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
        // Who asked for each change (W1-W7), judged against the rows the
        // changes find, in this transaction.
        let authority = delta
            .authority()
            .filter(|authority| authority.judges(held.data_time));
        let unauthorised = |source| {
            refused(
                &path,
                VerifyError::Authority {
                    source: Box::new(source),
                },
            )
        };
        if let Some(authority) = authority {
            authority
                .check_made(Timestamp::now())
                .map_err(unauthorised)?;
            record_sequences(&tx, &path, authority)?.map_err(unauthorised)?;
            overrides::check_replays(&tx, &path, authority)?.map_err(unauthorised)?;
        }
        let origins = DeltaOrigins::new(
            &tx,
            &path,
            delta,
            authority,
            to_db(&path, "version", version)?,
        )?;
        // The listings removals naming no agency took out (see Authority::unmade).
        let mut removed_whole = std::collections::HashSet::new();
        for op in ops {
            let conflict = |verb: &'static str, state: &'static str| StoreError::Conflict {
                path: path.clone(),
                version,
                op: verb,
                id: op.id().to_string(),
                state,
            };
            // One B-tree visit per operation: an add is a bare insert (a key
            // clash is the conflict); a remove or update takes the old rows out
            // with DELETE .. RETURNING, since the digest needs them.
            let authorise = |old: Option<&Entry>| match authority {
                Some(authority) => authority.check(op, old).map_err(unauthorised),
                None => Ok(()),
            };
            match op {
                Op::Add(new) => {
                    if !insert(&tx, &path, new)? {
                        return Err(conflict("adds", "already listed by that agency"));
                    }
                    authorise(None)?;
                    origins.added(&tx, &path, new)?;
                    state.add(new);
                }
                Op::Update(new) => {
                    let (old, recorded) = take(&tx, &path, &new.id, Some(&new.meta.agency))?
                        .pop()
                        .ok_or_else(|| conflict("updates", "not listed by that agency"))?;
                    authorise(Some(&old))?;
                    state.remove(&old);
                    insert(&tx, &path, new)?;
                    origins.updated(&tx, &path, new, recorded)?;
                    state.add(new);
                }
                Op::Remove(id, agency) => {
                    let taken = take(&tx, &path, id, agency.as_ref())?;
                    if taken.is_empty() {
                        return Err(conflict("removes", "not listed by that agency"));
                    }
                    for (old, _) in taken {
                        authorise(Some(&old))?;
                        state.remove(&old);
                        if agency.is_none() {
                            removed_whole.insert((old.id, old.meta.agency));
                        }
                    }
                }
            }
        }
        if let Some(authority) = authority {
            // The listings no operation named are as they were.
            for listing in authority
                .unmade()
                .iter()
                .filter(|l| !removed_whole.contains(*l))
            {
                let current = read_listings(&tx, &path, &listing.0)?;
                authority
                    .check_unmade(listing, &current)
                    .map_err(unauthorised)?;
            }
            let at = to_db(&path, "version", version)?;
            overrides::record(&tx, &path, authority, &delta.overrides, at)?;
        }
        check_state(
            &format!("state after delta {version}"),
            &delta.state,
            &state.state(delta.commitment()),
        )
        .map_err(|e| refused(&path, e))?;
        commit(
            tx,
            &path,
            Made {
                doc: DocType::Delta,
                version: delta.version,
                signed: delta.state,
                data_time: delta.created_at,
                file_sha256: delta.file_sha256().0,
            },
            &state,
            source,
        )
    }

    /// Replaces the whole list with a verified snapshot file newer than what
    /// the store holds, reporting progress every 100,000 entries. All or
    /// nothing, in memory that does not grow with the snapshot.
    ///
    /// The entries stream from the file: one thread decodes and checks them
    /// (canonical form) in batches of 4,096 while this one sorts them into
    /// key order (in a bounded buffer and sorted runs in a scratch file
    /// beside the database, see `sort`), and whichever has the time sums
    /// their state commitments. Once every byte read
    /// proved to be the signed one
    /// ([`SnapshotEntries::finish`](crate::verify::SnapshotEntries::finish))
    /// and the entries gave the signed state digest (in the commitment the
    /// snapshot's format names), they are appended to the table in key
    /// order, each row written once, and no identifier may come twice; then
    /// it all commits, in one transaction that any failure rolls back.
    pub fn apply_snapshot(
        &mut self,
        snapshot: &Verified<SnapshotFile>,
        source: &str,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<Applied, StoreError> {
        self.apply_snapshot_followed(snapshot, source, progress, &mut ())
    }

    /// [`Store::apply_snapshot`], showing the entries to `follower` as they
    /// stream and telling it when they proved to be the signed ones.
    ///
    /// Into a store that holds no version yet, it runs with a rollback
    /// journal instead of WAL (when no other connection has the database
    /// open): the pages it adds past the file's end need no journal, so each
    /// is written once, where WAL writes it to the log and then again to the
    /// database. A crash still leaves the empty store: the journal restores
    /// the file's first pages and its length. WAL is back once it is done.
    pub fn apply_snapshot_followed(
        &mut self,
        snapshot: &Verified<SnapshotFile>,
        source: &str,
        progress: &mut dyn FnMut(Progress),
        follower: &mut dyn SnapshotFollower,
    ) -> Result<Applied, StoreError> {
        let bulk = self.state()?.version.is_none() && self.leave_wal();
        let applied = self.apply_snapshot_entries(snapshot, source, progress, follower);
        if bulk {
            // Best effort: the outcome stands either way, and opening the
            // store sets WAL again.
            let _ = self.set_journal_mode("wal");
        }
        applied
    }

    /// Switches to a rollback journal, unless another connection has the
    /// database open (SQLite needs it to itself to leave WAL): not worth
    /// waiting for.
    fn leave_wal(&self) -> bool {
        let _ = self.conn.busy_timeout(Duration::ZERO);
        let left = self.set_journal_mode("delete").unwrap_or(false);
        let _ = self.conn.busy_timeout(BUSY_TIMEOUT);
        left
    }

    /// Switches the journal mode; `false` if SQLite kept the old one.
    fn set_journal_mode(&self, mode: &str) -> Result<bool, StoreError> {
        let now: String = self
            .conn
            .pragma_update_and_check(None, "journal_mode", mode, |r| r.get(0))
            .map_err(sqlite(&self.path, "set journal mode"))?;
        Ok(now.eq_ignore_ascii_case(mode))
    }

    fn apply_snapshot_entries(
        &mut self,
        snapshot: &Verified<SnapshotFile>,
        source: &str,
        progress: &mut dyn FnMut(Progress),
        follower: &mut dyn SnapshotFollower,
    ) -> Result<Applied, StoreError> {
        let path = self.path.clone();
        let started = Instant::now();
        let head = snapshot.head();
        let tx = self.begin()?;
        let held = read_state(&tx, &path)?;
        check_list(&path, &held.list, head.list.as_str())?;
        if let Some(done) = already_applied(
            &tx,
            &path,
            DocType::Snapshot,
            held.version,
            head.version,
            snapshot.file_sha256().0,
        )? {
            return Ok(done);
        }
        let legacy_kept = origins::keep_legacy(
            &tx,
            &path,
            snapshot.provenance(),
            held.version.map(|_| held.data_time),
        )?;
        tx.execute("DELETE FROM entries", [])
            .map_err(sqlite(&path, "clear entries"))?;
        let total = head.state.entries;
        // Created while the write transaction is held: one per store at a time.
        let mut sorter = EntrySorter::new(scratch_path(&path), SORT_BUFFER);
        let mut origins = SnapshotOrigins::new(&path);
        // The entries' state, summed here or by the reading thread,
        // whichever has the time (see `read_snapshot`).
        let mut state = StateAccumulator::default();
        let (read, sorted) = std::thread::scope(|scope| {
            let (sender, received) = mpsc::sync_channel::<Read>(BATCHES_IN_FLIGHT);
            let reader = scope.spawn(move || read_snapshot(snapshot, sender));
            let mut done = 0;
            let sorted = received.into_iter().try_for_each(|read| match read {
                Read::Entries { batch, summed } => {
                    follower.entries(&batch);
                    for entry in &batch {
                        if !summed {
                            state.add(entry);
                        }
                        sorter.push(entry)?;
                        done += 1;
                        if done % PROGRESS_EVERY == 0 || done == total {
                            progress(Progress {
                                done,
                                total,
                                elapsed: started.elapsed(),
                            });
                        }
                    }
                    Ok::<(), StoreError>(())
                }
                Read::Origin(origin) => origins.keep(&tx, &path, &origin),
                Read::Ops(ops) => origins.push(&path, ops),
            });
            let read = reader
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (read, sorted)
        });
        // A decode error ends the batches early, so it is the cause to report
        // before anything the sorter saw.
        let (summed, tail) = read.map_err(|e| refused(&path, e))?;
        sorted?;
        state.absorb(&summed);
        check_state(
            &format!("snapshot {} entries", head.version),
            &head.state,
            &state.state(snapshot.commitment()),
        )
        .map_err(|e| refused(&path, e))?;
        follower.verified();
        // Each listing is traced to its origins (W8) as its row is appended,
        // and the row records them.
        let mut tracer = origins.tracer(&path, snapshot.provenance(), &tail)?;
        append_sorted(&tx, &path, sorter, state.entries(), tracer.as_mut())?;
        if let Some(tracer) = tracer {
            tracer.finish()?;
        }
        for (key, sequence) in &tail.sequences {
            record_sequence(&tx, &path, key, *sequence)?;
        }
        overrides::record_past(&tx, &path, &tail.overrides)?;
        origins::check_snapshot(&tx, &path, snapshot.provenance(), &tail, legacy_kept)?;
        commit(
            tx,
            &path,
            Made {
                doc: DocType::Snapshot,
                version: head.version,
                signed: head.state,
                data_time: head.created_at,
                file_sha256: snapshot.file_sha256().0,
            },
            &state,
            source,
        )
    }

    fn begin(&mut self) -> Result<Transaction<'_>, StoreError> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite(&self.path, "begin transaction"))
    }
}

/// Entries decoded and inserted at a time during a snapshot apply.
const BATCH: usize = 4096;
/// Batches decoded ahead of the inserts: enough to keep both threads busy,
/// few enough that memory stays a few megabytes.
const BATCHES_IN_FLIGHT: usize = 4;

/// The reading half of a snapshot apply: decodes the entries in batches,
/// sends them to the writer, and returns the state of those it summed and
/// what the snapshot says after them (agency sequences, past overrides)
/// once the whole file proved to be the signed one. Stops early when the
/// writer has.
///
/// Summing an entry's state (its LtHash element above all) costs about as
/// much as decoding it, so each batch is summed by whichever thread has
/// the time: the writer, unless it is behind (the batches in flight are as
/// many as allowed), and then this one, before it waits.
fn read_snapshot(
    snapshot: &Verified<SnapshotFile>,
    sender: mpsc::SyncSender<Read>,
) -> Result<(StateAccumulator, SnapshotTail), VerifyError> {
    // The writer failed: its error is the one to report.
    let writer_failed = |state| Ok((state, SnapshotTail::default()));
    let mut entries = snapshot.entries()?;
    let mut state = StateAccumulator::default();
    loop {
        let mut batch = Vec::with_capacity(BATCH);
        let more = entries.read_entries(&mut batch, BATCH)?;
        if !batch.is_empty() {
            let sent = match sender.try_send(Read::Entries {
                batch,
                summed: false,
            }) {
                Err(mpsc::TrySendError::Full(Read::Entries { batch, .. })) => {
                    for entry in &batch {
                        state.add(entry);
                    }
                    sender.send(Read::Entries {
                        batch,
                        summed: true,
                    })
                }
                Err(mpsc::TrySendError::Full(_) | mpsc::TrySendError::Disconnected(_)) => {
                    return writer_failed(state);
                }
                Ok(()) => Ok(()),
            };
            if sent.is_err() {
                return writer_failed(state);
            }
        }
        if !more {
            break;
        }
    }
    let mut rest = entries.finish()?;
    let unauthorised = |source| VerifyError::Authority {
        source: Box::new(source),
    };
    match snapshot.provenance() {
        None => Provenance::none_carried(rest.origins_left()).map_err(unauthorised)?,
        Some(provenance) => {
            if !read_origins(&mut rest, provenance, &sender)? {
                return writer_failed(state);
            }
        }
    }
    drop(sender);
    let tail = rest.finish()?;
    Ok((state, tail))
}

/// Reads the origins (W8) left in `rest`, verifies them under `provenance`
/// and hands each over with its operations; `false` when the writer
/// stopped.
///
/// Two at a time: the second is verified on a thread of its own when both
/// are of a size worth handing over and holding together ([`HAND_OVER`]),
/// since verifying is most of what an origin costs (the signature, the
/// decode, the canonical form and uniqueness of each identifier) and the
/// writer has little else to do while the origins stream. Each is placed
/// among the others in order ([`OriginOrder::place`]), so the first refusal
/// is the one reported, as when one thread verifies them all.
fn read_origins(
    rest: &mut SnapshotRest<'_>,
    provenance: &Provenance,
    sender: &mpsc::SyncSender<Read>,
) -> Result<bool, VerifyError> {
    // Small (a sequence per agency key), and needed beside the origins as
    // they are read.
    let sequences = rest.tail().sequences.clone();
    let sequences = &sequences;
    let mut order = OriginOrder::default();
    let mut index = 0;
    std::thread::scope(|scope| {
        let (jobs, to_verify) = mpsc::sync_channel::<(usize, Origin)>(1);
        let (results, verified) = mpsc::sync_channel(1);
        // Without a thread (the system refused one), every origin is
        // verified here.
        let helper = std::thread::Builder::new()
            .name("origin-verify".into())
            .spawn_scoped(scope, move || {
                for (index, origin) in to_verify {
                    let signed = provenance.signed_origin(index, &origin, sequences);
                    if results.send((origin, signed)).is_err() {
                        break;
                    }
                }
            })
            .is_ok();
        while let Some(first) = rest.next_origin()? {
            // Read ahead only beside a first of bounded size: two large
            // ones are verified in turn, each held alone.
            let second = if !(helper && first.submission.file.len() < HAND_OVER.end) {
                Second::Unread
            } else {
                match rest.next_origin() {
                    Ok(Some(origin)) if HAND_OVER.contains(&origin.submission.file.len()) => {
                        match jobs.send((index + 1, origin)) {
                            Ok(()) => Second::Aside,
                            Err(mpsc::SendError((_, origin))) => Second::Here(origin),
                        }
                    }
                    Ok(Some(origin)) => Second::Here(origin),
                    Ok(None) => Second::None,
                    Err(e) => Second::Failed(e),
                }
            };
            let signed = provenance.signed_origin(index, &first, sequences);
            if !hand_over(sender, &mut order, &mut index, first, signed)? {
                return Ok(false);
            }
            let (origin, signed) = match second {
                Second::Aside => verified.recv().expect("the verifying thread answers"),
                Second::Here(origin) => {
                    let signed = provenance.signed_origin(index, &origin, sequences);
                    (origin, signed)
                }
                Second::Unread => continue,
                Second::None => break,
                Second::Failed(e) => return Err(e),
            };
            if !hand_over(sender, &mut order, &mut index, origin, signed)? {
                return Ok(false);
            }
        }
        Ok(true)
    })
}

/// Origin files whose second of two [`read_origins`] verifies on a thread of
/// its own: from some 2,000 operations (below, the hand-over costs more
/// than it saves) to some 250,000 (above, a second submission, its file
/// and its decoded operations, would add more than 50 MB to the peak
/// memory; a submission may ask up to a million).
const HAND_OVER: std::ops::Range<usize> = (64 << 10)..(8 << 20);

/// Where the second of [`read_origins`]' two origins is.
enum Second {
    /// Not read yet: the first is verified alone.
    Unread,
    /// Being verified on the other thread.
    Aside,
    /// Read, to be verified here.
    Here(Origin),
    /// There is none.
    None,
    /// It could not be read: reported after the first is handed over, as
    /// when one thread reads and verifies them in turn.
    Failed(VerifyError),
}

/// Places origin number `index` (`signed`, as verified) after those before
/// it and hands it over with its operations; `false` when the writer
/// stopped.
fn hand_over(
    sender: &mpsc::SyncSender<Read>,
    order: &mut OriginOrder,
    index: &mut usize,
    origin: Origin,
    signed: Result<SignedOrigin, AuthorityError>,
) -> Result<bool, VerifyError> {
    let unauthorised = |source| VerifyError::Authority {
        source: Box::new(source),
    };
    let ops = order
        .place(signed.map_err(unauthorised)?)
        .map_err(unauthorised)?;
    *index += 1;
    if sender.send(Read::Origin(origin)).is_err() {
        return Ok(false);
    }
    // In batches: a submission may ask up to a million.
    let mut ops = ops.into_iter();
    loop {
        let batch: Vec<_> = ops.by_ref().take(BATCH).collect();
        if batch.is_empty() {
            return Ok(true);
        }
        if sender.send(Read::Ops(batch)).is_err() {
            return Ok(false);
        }
    }
}

/// What the thread reading a snapshot hands the one applying it, in the
/// snapshot's order.
enum Read {
    /// A batch of entries, decoded and checked, their state `summed` by
    /// the reading thread or to be summed by the writer.
    Entries { batch: Vec<Entry>, summed: bool },
    /// An origin (W8), verified.
    Origin(Origin),
    /// Operations of the origin last handed over.
    Ops(Vec<(Listing, OriginOp)>),
}

/// Where a snapshot apply keeps its sorted runs: beside the database, as
/// SQLite keeps its journal (unlinked as soon as it is created).
fn scratch_path(db: &std::path::Path) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-sort");
    name.into()
}

/// Rows inserted by one statement when a snapshot's rows are appended: one
/// statement per row spends more in SQLite's statement machinery than in
/// the B-tree.
const ROWS_PER_INSERT: usize = 64;

/// Appends the sorted entries to the (empty) table, `ROWS_PER_INSERT` rows
/// a statement, each with the origins `tracer` gives it, if any, and
/// refuses a snapshot that names a listing twice.
fn append_sorted(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    sorter: EntrySorter,
    total: u64,
    mut tracer: Option<&mut Tracer<'_>>,
) -> Result<(), StoreError> {
    let mut out = Appender::new(tx, path, total)?;
    // The listings of one identifier: the sort leaves them in no order of
    // agency, which the store's key and the origins' operations follow.
    let mut identifier = (0u16, String::new());
    let mut listings: Vec<EntryMeta> = Vec::new();
    sorter.for_each_sorted(|row| {
        if !listings.is_empty() && (identifier.0, identifier.1.as_bytes()) != row.key() {
            out.identifier(
                identifier.0,
                &identifier.1,
                &mut listings,
                tracer.as_deref_mut(),
            )?;
        }
        if listings.is_empty() {
            identifier.0 = row.kind;
            identifier.1.clear();
            identifier.1.push_str(row.value);
        }
        listings.push(EntryMeta {
            reason: Reason(row.reason),
            agency: row.agency.clone(),
            listed_at: Timestamp(row.listed_at),
            expires_at: row.expires_at.map(Timestamp),
        });
        Ok(())
    })?;
    if !listings.is_empty() {
        out.identifier(identifier.0, &identifier.1, &mut listings, tracer)?;
    }
    Ok(())
}

/// The statements [`append_sorted`] appends rows with.
struct Appender<'t> {
    path: &'t std::path::Path,
    /// Of `ROWS_PER_INSERT` rows, then of one for the last rows.
    many: Statement<'t>,
    one: Statement<'t>,
    /// Rows appended by `many` in all, and so far.
    in_many: u64,
    appended: u64,
}

impl<'t> Appender<'t> {
    fn new(
        tx: &'t Transaction<'_>,
        path: &'t std::path::Path,
        total: u64,
    ) -> Result<Appender<'t>, StoreError> {
        // OR FAIL: a clash ends the statement without undoing its earlier
        // rows (the whole transaction is rolled back then), so SQLite keeps
        // no statement journal of the pages each statement touches.
        const COLUMNS: &str = "INSERT OR FAIL INTO entries
             (kind, value, reason, agency, listed_at, expires_at, added, set_by) VALUES ";
        let prepare = |rows: usize| {
            let values = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; rows].join(", ");
            tx.prepare(&format!("{COLUMNS}{values}"))
                .map_err(sqlite(path, "prepare insert"))
        };
        Ok(Appender {
            path,
            many: prepare(ROWS_PER_INSERT)?,
            one: prepare(1)?,
            in_many: total - total % ROWS_PER_INSERT as u64,
            appended: 0,
        })
    }

    /// Appends the listings of the identifier `value` of the kind whose code
    /// is `kind` (`listings`, emptied) in key order, each with the origins
    /// `tracer` gives it; refuses two by one agency.
    fn identifier(
        &mut self,
        kind: u16,
        value: &str,
        listings: &mut Vec<EntryMeta>,
        mut tracer: Option<&mut Tracer<'_>>,
    ) -> Result<(), StoreError> {
        listings.sort_unstable_by(|a, b| a.agency.as_str().cmp(b.agency.as_str()));
        if let Some(twice) = listings.windows(2).find(|w| w[0].agency == w[1].agency) {
            let kind = crate::kind::Kind::from_code(kind);
            return Err(named_twice(
                self.path,
                &format!("{kind}:{value} of {}", twice[0].agency),
            ));
        }
        for meta in listings.drain(..) {
            let origins = match tracer.as_deref_mut() {
                Some(tracer) => tracer.listing(kind, value, &meta)?,
                None => None,
            };
            self.row(kind, value, &meta, origins.unwrap_or_default())?;
        }
        Ok(())
    }

    /// Appends one row.
    fn row(
        &mut self,
        kind: u16,
        value: &str,
        meta: &EntryMeta,
        origins: Recorded,
    ) -> Result<(), StoreError> {
        let path = self.path;
        let listed_at = to_db(path, "listed_at", meta.listed_at.0)?;
        let expires_at = meta
            .expires_at
            .map(|t| to_db(path, "expires_at", t.0))
            .transpose()?;
        let (stmt, slot) = if self.appended < self.in_many {
            let slot = (self.appended % ROWS_PER_INSERT as u64) as usize;
            (&mut self.many, slot)
        } else {
            (&mut self.one, 0)
        };
        let first = slot * 8 + 1;
        (|| {
            stmt.raw_bind_parameter(first, kind)?;
            stmt.raw_bind_parameter(first + 1, value)?;
            stmt.raw_bind_parameter(first + 2, meta.reason.0)?;
            stmt.raw_bind_parameter(first + 3, meta.agency.as_str())?;
            stmt.raw_bind_parameter(first + 4, listed_at)?;
            stmt.raw_bind_parameter(first + 5, expires_at)?;
            stmt.raw_bind_parameter(first + 6, origins.added)?;
            stmt.raw_bind_parameter(first + 7, origins.set_by)
        })()
        .map_err(sqlite(path, "bind entry"))?;
        if stmt.parameter_count() == first + 7 {
            stmt.raw_execute().map_err(sqlite(path, "insert entries"))?;
        }
        self.appended += 1;
        Ok(())
    }
}

/// The refusal of a snapshot that names `id` twice.
fn named_twice(path: &std::path::Path, id: &str) -> StoreError {
    refused(
        path,
        VerifyError::Malformed {
            doc: DocType::Snapshot,
            source: DocType::Snapshot
                .invalid("identifiers", format!("{id} appears more than once")),
        },
    )
}

/// `Some` when `offered` is at or below the held version: a no-op if the log
/// shows this very file applied, refused otherwise.
fn already_applied(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    doc: DocType,
    held: Option<Version>,
    offered: Version,
    file_sha256: [u8; 32],
) -> Result<Option<Applied>, StoreError> {
    let Some(held) = held.filter(|h| offered <= *h) else {
        return Ok(None);
    };
    let logged: Option<Vec<u8>> = tx
        .query_row(
            "SELECT file_sha256 FROM applied WHERE version = ?1",
            [to_db(path, "version", offered.get())?],
            |r| r.get(0),
        )
        .optional()
        .map_err(sqlite(path, "read log"))?;
    if logged.as_deref() == Some(file_sha256.as_slice()) {
        return Ok(Some(Applied::AlreadyApplied { version: offered }));
    }
    Err(refused(path, stale(doc, held, offered)))
}

/// The document an apply commits.
struct Made {
    doc: DocType,
    version: Version,
    /// The state it signed (logged as signed, in its format's commitment).
    signed: ListState,
    data_time: Timestamp,
    file_sha256: [u8; 32],
}

/// Moves the store to `made`'s version, holding `state`, and logs it.
fn commit(
    tx: Transaction<'_>,
    path: &std::path::Path,
    made: Made,
    state: &StateAccumulator,
    source: &str,
) -> Result<Applied, StoreError> {
    let v = to_db(path, "version", made.version.get())?;
    let entries = to_db(path, "entry count", state.entries())?;
    let data_time = to_db(path, "created_at", made.data_time.0)?;
    let now = to_db(path, "clock", Timestamp::now().0)?;
    tx.execute(
        "UPDATE list_state SET version = ?1, digest = ?2, entries = ?3, data_time = ?4, lthash = ?5
         WHERE id = 1",
        params![
            v,
            state.lane_sum().digest().0.as_slice(),
            entries,
            data_time,
            state.lthash().to_bytes().as_slice()
        ],
    )
    .map_err(sqlite(path, "update state"))?;
    tx.execute(
        "INSERT OR REPLACE INTO applied (version, document, digest, entries, file_sha256, applied_at, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![v, made.doc.name(), made.signed.digest.0.as_slice(), entries, made.file_sha256.as_slice(), now, source],
    )
    .map_err(sqlite(path, "log version"))?;
    tx.commit().map_err(sqlite(path, "commit"))?;
    Ok(Applied::Applied {
        version: made.version,
        state: state.state(Commitment::CURRENT),
    })
}

/// `op`'s listing as the entries table orders its primary key (a removal
/// of every listing sorts before them).
fn key(op: &Op) -> (u16, &str, &str) {
    let (id, agency) = op.listing();
    (
        id.kind().code(),
        id.as_str(),
        agency.map_or("", Agency::as_str),
    )
}

/// Deletes `agency`'s listing of `id` (every listing of it, for `None`)
/// and returns what it deleted, with the origins its row recorded.
fn take(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    id: &Identifier,
    agency: Option<&Agency>,
) -> Result<Vec<(Entry, Recorded)>, StoreError> {
    let fail = sqlite(path, "take entry");
    // ?3 NULL: every agency's.
    let mut stmt = tx
        .prepare_cached(
            "DELETE FROM entries WHERE kind = ?1 AND value = ?2 AND (?3 IS NULL OR agency = ?3)
             RETURNING reason, agency, listed_at, expires_at, added, set_by",
        )
        .map_err(&fail)?;
    let rows = stmt
        .query_map(
            params![id.kind().code(), id.as_str(), agency.map(Agency::as_str)],
            |r| {
                let recorded = Recorded {
                    added: r.get(4)?,
                    set_by: r.get(5)?,
                };
                Ok(((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?), recorded))
            },
        )
        .map_err(&fail)?;
    rows.map(|row| {
        let (meta, recorded) = row.map_err(&fail)?;
        let entry = Entry {
            id: id.clone(),
            meta: meta_from_row(path, meta)?,
        };
        Ok((entry, recorded))
    })
    .collect()
}

/// Inserts `entry`; `false` when its agency already lists its identifier.
fn insert(tx: &Transaction<'_>, path: &std::path::Path, entry: &Entry) -> Result<bool, StoreError> {
    let inserted = write_entry(
        tx,
        path,
        "INSERT INTO entries (kind, value, reason, agency, listed_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
        entry,
    )?;
    Ok(inserted == 1)
}

/// Runs `sql` (an insert taking kind, value, reason, agency, listed_at and
/// expires_at as ?1..?6) for `entry`; returns the rows changed.
fn write_entry(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    sql: &str,
    entry: &Entry,
) -> Result<usize, StoreError> {
    let EntryMeta {
        reason,
        agency,
        listed_at,
        expires_at,
    } = &entry.meta;
    let listed_at = to_db(path, "listed_at", listed_at.0)?;
    let expires_at = expires_at
        .map(|t| to_db(path, "expires_at", t.0))
        .transpose()?;
    tx.prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.execute(params![
                entry.id.kind().code(),
                entry.id.as_str(),
                reason.0,
                agency.as_str(),
                listed_at,
                expires_at,
            ])
        })
        .map_err(sqlite(path, "insert entry"))
}

fn check_list(path: &std::path::Path, held: &str, offered: &str) -> Result<(), StoreError> {
    if held != offered {
        return Err(StoreError::WrongList {
            path: path.to_path_buf(),
            expected: held.to_owned(),
            found: offered.to_owned(),
        });
    }
    Ok(())
}

pub(super) fn to_db(
    path: &std::path::Path,
    field: &'static str,
    value: u64,
) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::OutOfRange {
        path: path.to_path_buf(),
        field,
        value,
    })
}

/// Records the sequence of each submission `authority` carries as the newest
/// of its key: the inner error is a replay (W4), a sequence at or below the
/// newest applied.
fn record_sequences(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    authority: &Authority,
) -> Result<Result<(), AuthorityError>, StoreError> {
    let mut applied = std::collections::HashMap::new();
    for signer in authority.signers() {
        let sequence: Option<i64> = tx
            .prepare_cached("SELECT sequence FROM agency_sequences WHERE key_id = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([signer.key.0.as_slice()], |r| r.get(0))
                    .optional()
            })
            .map_err(sqlite(path, "read agency sequence"))?;
        applied.extend(sequence.map(|s| (signer.key, s as u64)));
    }
    if let Err(replay) = authority.check_sequences(|key| applied.get(key).copied()) {
        return Ok(Err(replay));
    }
    for signer in authority.signers() {
        record_sequence(tx, path, &signer.key, signer.sequence)?;
    }
    Ok(Ok(()))
}

/// Records `sequence` as applied from `key`, unless a newer one is.
fn record_sequence(
    tx: &Transaction<'_>,
    path: &std::path::Path,
    key: &KeyId,
    sequence: u64,
) -> Result<(), StoreError> {
    let sequence = to_db(path, "sequence", sequence)?;
    tx.prepare_cached(
        "INSERT INTO agency_sequences (key_id, sequence) VALUES (?1, ?2)
         ON CONFLICT (key_id) DO UPDATE SET sequence = MAX(sequence, excluded.sequence)",
    )
    .and_then(|mut stmt| stmt.execute(params![key.0.as_slice(), sequence]))
    .map_err(sqlite(path, "record agency sequence"))?;
    Ok(())
}

pub(super) fn refused(path: &std::path::Path, source: VerifyError) -> StoreError {
    StoreError::Refused {
        path: path.to_path_buf(),
        source,
    }
}
