//! The intake service (`blocklist serve DIR --intake`): agencies' signed
//! submissions and the override keys' signed overrides taken over HTTP
//! ([`routes`]) and from a drop folder ([`inbox`]), queued durably
//! ([`crate::centre::queue`]) and published on the operator's cadence, at
//! once for urgent submissions and for overrides (decisions already made).
//!
//! Each submission is judged as it arrives, exactly as `blocklist publish
//! --submission` judges one ([`Judge`]), against the newest agency registry
//! and the list as it is, and further against the queue: its sequence must
//! be above its key's queued ones, and it may name no identifier queued
//! work (a submission or an override) names (so that each queued
//! submission's judgement against the list stays exact until it is
//! published). Accepted, it is committed
//! to the queue, then answered with the centre's signed acknowledgement
//! ([`acknowledge`]) promising the next version: the directory's newest
//! plus one. The promise holds because only the service makes a version
//! while anything is queued (`blocklist publish` refuses, see
//! [`PublishedBy`]), and it publishes all queued work together.
//!
//! The publisher wakes on a new submission (the cadence starts then), on
//! an urgent one or an override (at once), and otherwise sleeps. It
//! re-judges each queued submission at its own acceptance time (a key
//! revoked since then does not undo it; one revoked from before does), and
//! each queued override under the newest root, in one publish, which leaves
//! a refused one out. A publish that fails (a token unplugged) is logged and
//! retried at the next tick; the queue stays as it was. Whatever is queued
//! when the service starts is published at once.
//!
//! An override is judged as `blocklist publish --override` judges one
//! ([`overrides::judge`]), and further against the queue: no queued
//! submission or override may name an identifier it names, nor may a
//! queued override carry the same decision; a queued submission may name
//! no identifier a queued override names. So each listing of a version has
//! one word on it (W3), and each queued piece of work is judged against the
//! list exactly as the version will find it. Overrides carry no agency or
//! sequence, so they get no signed acknowledgement: the answer (JSON) says
//! which version will carry one.
//!
//! Acceptances and publishes take turns (under one lock, held by the writer), so the
//! version promised is the one the next publish makes.
//!
//! Replicas' receipts arrive the same two ways (`POST /v1/receipts`, or a
//! `NAME.receipt` file a courier carries from a daemon's outbox into the
//! drop folder) and are checked and kept by [`crate::centre::receipts`],
//! beside the queue and without its lock: a receipt changes no version.
//! `GET /metrics` shows each registered replica's version and lag.

pub mod inbox;
pub mod page;
pub mod routes;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use blocklist_core::document::{envelope, DocType, Version};
use blocklist_core::log::Witness;
use blocklist_core::{Identifier, Sha256, Signer, Timestamp};
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tracing::{info, warn};

use crate::centre::acknowledge;
use crate::centre::intake::{self, Judge, PublishedBy, SubmissionInput};
use crate::centre::log;
use crate::centre::overrides::{self, OverrideInput};
use crate::centre::overview::{Overview, Overviews};
use crate::centre::publish::{self, Current, PublishOptions, PublishReport};
use crate::centre::queue::{OverrideRecord, Queue, Record, State};
use crate::centre::receipts::{self, ReceiptBook, Taken};
use crate::centre::{CentreError, PublishDir};
use crate::serve_dir::ServeConfig;

/// The default cadence: a minute, so a report reaches the daemons within
/// about a minute and a busy hour makes at most sixty versions.
pub const DEFAULT_PUBLISH_EVERY: Duration = Duration::from_secs(60);

/// The default cap on a submission's size: 64 MiB holds about a million
/// operations (docs/FORMAT.md, U4 allows 1 GiB), far more than one report
/// carries, and bounds what one request holds in memory.
pub const DEFAULT_MAX_SUBMISSION_BYTES: u64 = 64 << 20;

/// A replica an hour behind counts as lagging: at the default cadence it
/// missed sixty versions, past any poll interval or push hiccup; a site
/// fed by courier is expected to be behind longer, and its operators raise
/// it (`--lag-alert`).
pub const DEFAULT_LAG_ALERT: Duration = Duration::from_secs(3600);

/// How long an acceptance waits for the directory's lock (a `blocklist
/// snapshot` or `agency` command holding it for a moment).
const LOCK_PATIENCE: Duration = Duration::from_secs(30);

/// What the intake service needs besides the directory.
#[derive(Debug)]
pub struct IntakeConfig {
    /// How the publisher publishes: the publish keys (which also sign
    /// acknowledgements), manifest lifetime, history; its submissions and
    /// time are set at each tick.
    pub publish: PublishOptions,
    /// How long the first submission queued waits for the publish that
    /// carries it (urgent ones do not wait).
    pub publish_every: Duration,
    /// The largest submission taken, in bytes.
    pub max_submission_bytes: u64,
    /// The witnesses whose cosignatures of the log's checkpoint the service
    /// takes (`POST /v1/cosignatures`); none: it takes none.
    pub witnesses: Vec<Witness>,
    /// How far behind a replica may be before `GET /metrics` counts it lagging.
    pub lag_alert: Duration,
}

/// What became of a submission ([`Record`], its acknowledgement included)
/// or an override ([`OverrideRecord`]) offered.
#[derive(Debug)]
pub enum Offered<R = Record> {
    /// Newly accepted and queued: its record.
    Accepted(R),
    /// Accepted before (the same bytes): its record as it stands.
    Known(R),
}

/// Either kind of work offered, as the drop folder takes a file of either.
#[derive(Debug)]
pub enum OfferedWork {
    /// A submission.
    Submission(Offered<Record>),
    /// An override.
    Override(Offered<OverrideRecord>),
    /// A replica's receipt.
    Receipt(Taken),
}

/// The running service's state, shared by its HTTP handlers, its drop
/// folder and its publisher.
#[derive(Debug)]
pub struct Intake {
    dir: PublishDir,
    /// Acceptances and publishes take turns under it: an acceptance reads
    /// the newest version and queues its promise of the next one; a publish
    /// takes every queued submission and override into that version. It holds the
    /// queue's writing connection and the publish options.
    writer: Mutex<Writer>,
    /// The queue's reading connection, for status answers while a publish
    /// holds the writer.
    reader: Mutex<Queue>,
    /// Wakes the publisher for a submission queued: the cadence starts.
    queued: Notify,
    /// Wakes the publisher for an urgent submission or an override: it
    /// publishes at once.
    urgent: Notify,
    publish_every: Duration,
    max_submission_bytes: u64,
    witnesses: Vec<Witness>,
    /// The replicas and their receipts: apart from the writer, since a
    /// receipt waits for no publish.
    receipts: Mutex<ReceiptBook>,
    lag_alert: Duration,
    /// What the operator's page keeps between loads.
    overviews: Overviews,
}

#[derive(Debug)]
struct Writer {
    queue: Queue,
    publish: PublishOptions,
}

/// Locks `mutex`, taking it over from a holder that panicked: the queue's
/// transactions leave it consistent whatever happened in between.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Intake {
    /// Opens the service's queue in `dir` (created the first time).
    pub fn open(dir: PublishDir, config: IntakeConfig) -> Result<Intake, CentreError> {
        let mut publish = config.publish;
        publish.by = PublishedBy::IntakeService;
        Ok(Intake {
            writer: Mutex::new(Writer {
                queue: Queue::open(&dir)?,
                publish,
            }),
            reader: Mutex::new(Queue::open(&dir)?),
            receipts: Mutex::new(ReceiptBook::open(&dir)?),
            dir,
            queued: Notify::new(),
            urgent: Notify::new(),
            publish_every: config.publish_every,
            max_submission_bytes: config.max_submission_bytes,
            witnesses: config.witnesses,
            lag_alert: config.lag_alert,
            overviews: Overviews::default(),
        })
    }

    /// Checks the replica's receipt `bytes` (called `shown` in messages)
    /// and keeps it as its replica's newest (see [`ReceiptBook::take`]).
    /// Blocks: run it off the async threads.
    pub fn offer_receipt(&self, bytes: &[u8], shown: &str) -> Result<Taken, CentreError> {
        let taken = lock(&self.receipts).take(&self.dir, bytes, shown, Timestamp::now())?;
        if !taken.known {
            info!(
                replica = %taken.replica,
                version = taken.receipt.version.get(),
                applied_at = taken.receipt.applied_at.0,
                "receipt taken"
            );
        }
        Ok(taken)
    }

    /// The replicas' standings in the Prometheus text format (`GET
    /// /metrics`). Blocks: run it off the async threads.
    pub fn metrics(&self) -> Result<String, CentreError> {
        let standings = lock(&self.receipts).standings(&self.dir, Timestamp::now())?;
        Ok(receipts::metrics(&standings, self.lag_alert.as_secs()))
    }

    /// What the operator's page shows now ([`page`]). Blocks: run it off
    /// the async threads.
    pub fn overview(&self) -> Result<Overview, CentreError> {
        // Each lock for its own read: the page's counting holds neither,
        // so status answers and receipts do not wait for it.
        let waiting = lock(&self.reader).waiting()?;
        let propagation = lock(&self.receipts).standings(&self.dir, Timestamp::now())?;
        self.overviews
            .gather(&self.dir, waiting, propagation, self.lag_alert)
    }

    /// Adds to the log's checkpoint the cosignatures `bytes` carries (a
    /// copy of it, as `blocklist witness` writes it, called `shown`) of the
    /// witnesses the service knows, and returns its size and who cosigned: what
    /// `blocklist cosign` does with a file, for a witness that reaches the
    /// centre over HTTP. Lines of other names are dropped, so a stranger
    /// cannot grow the checkpoint past what replicas read. Blocks: run it
    /// off the async threads.
    pub fn offer_cosignatures(
        &self,
        bytes: &[u8],
        shown: &str,
    ) -> Result<(u64, Vec<String>), CentreError> {
        if self.witnesses.is_empty() {
            return Err(CentreError::NoWitnesses);
        }
        let lock = self.dir.lock_waiting(LOCK_PATIENCE)?;
        log::take_cosignatures(&self.dir, &lock, bytes, shown, &self.witnesses)
    }

    /// The largest submission taken, in bytes.
    pub fn max_submission_bytes(&self) -> u64 {
        self.max_submission_bytes
    }

    /// Runs `accept` under the writer and the directory's lock, with the
    /// directory as it stands and the version the next publish will make;
    /// work offered again (the same bytes) returns the record `known` finds.
    fn admit<R>(
        &self,
        known: impl FnOnce(&Queue) -> Result<Option<R>, CentreError>,
        accept: impl FnOnce(&mut Writer, &Current, Version) -> Result<R, CentreError>,
    ) -> Result<Offered<R>, CentreError> {
        let mut writer = lock(&self.writer);
        if let Some(record) = known(&writer.queue)? {
            return Ok(Offered::Known(record));
        }
        let dir_lock = self.dir.lock_waiting(LOCK_PATIENCE)?;
        let current = publish::current(&self.dir, &dir_lock, &writer.publish.keys)?;
        let promised = current.version.map_or(Version::FIRST, Version::next);
        // Committed under the directory's lock: a `blocklist publish` sees
        // it queued, and refuses to make the version it is promised.
        accept(&mut writer, &current, promised).map(Offered::Accepted)
    }

    /// Judges and queues the submission `bytes` (called `shown` in
    /// messages), returning its signed acknowledgement in the record; the
    /// same bytes offered again return the record kept. Refused (the
    /// error names the rule), nothing of it is kept. Blocks: run it off
    /// the async threads.
    pub fn offer(&self, bytes: Vec<u8>, shown: &str) -> Result<Offered, CentreError> {
        let id = Sha256::of(&bytes).to_string();
        let offered = self.admit(
            |queue| queue.get(&id),
            |writer, current, promised| {
                let mut judge = Judge::new(&self.dir, &current.verifier, current.state.store())?;
                for (key, sequence) in writer.queue.queued_sequences()? {
                    judge.hold(key, sequence);
                }
                let input = SubmissionInput {
                    name: shown.to_owned(),
                    bytes,
                    accepted_at: Timestamp::now(),
                };
                let judged = judge.judge(&input, current.state.store())?;
                refuse_overlap(&writer.queue, shown, &judged.ids)?;
                let signers: Vec<&dyn Signer> = writer
                    .publish
                    .keys
                    .iter()
                    .map(|k| k as &dyn Signer)
                    .collect();
                let submission = &judged.submission;
                let sequence = std::num::NonZeroU64::new(submission.sequence)
                    .expect("a verified submission's sequence is non-zero");
                let ack = acknowledge::sign(
                    &current.verifier.root().list,
                    &input.bytes,
                    &submission.agency,
                    sequence,
                    input.accepted_at,
                    promised,
                    &signers,
                )?;
                let record = Record {
                    id: id.clone(),
                    agency: submission.agency.to_string(),
                    key: judged.key,
                    sequence: submission.sequence,
                    urgent: submission.urgent,
                    accepted_at: input.accepted_at,
                    promised_version: promised.get(),
                    state: State::Queued,
                    version: None,
                    reason: None,
                    ack,
                };
                writer.queue.insert(&record, &input.bytes, &judged.ids)?;
                Ok(record)
            },
        )?;
        if let Offered::Accepted(record) = &offered {
            info!(
                id = %record.id,
                agency = %record.agency,
                sequence = record.sequence,
                urgent = record.urgent,
                promised_version = record.promised_version,
                "submission accepted"
            );
            if record.urgent {
                self.urgent.notify_one();
            } else {
                self.queued.notify_one();
            }
        }
        Ok(offered)
    }

    /// Judges and queues the override `bytes` (called `shown` in messages)
    /// as `blocklist publish --override` would publish it now, and wakes
    /// the publisher at once; the same bytes offered again return the
    /// record kept. Refused (the error names the rule and the listing),
    /// nothing of it is kept. Blocks: run it off the async threads.
    pub fn offer_override(
        &self,
        bytes: Vec<u8>,
        shown: &str,
    ) -> Result<Offered<OverrideRecord>, CentreError> {
        let id = Sha256::of(&bytes).to_string();
        let offered = self.admit(
            |queue| queue.get_override(&id),
            |writer, current, promised| {
                // Replicas refuse an override in a delta when they hold no
                // registry (W7), as they refuse a submission.
                intake::newest_registry(&self.dir, &current.verifier)?;
                let input = OverrideInput {
                    name: shown.to_owned(),
                    bytes,
                };
                let now = Timestamp::now();
                let judged =
                    overrides::judge(&current.verifier, current.state.store(), &input, now)?;
                if let Some(other) = writer.queue.queued_decision(&judged.decision)? {
                    return Err(CentreError::OverrideQueued {
                        file: shown.to_owned(),
                        queued: other,
                    });
                }
                refuse_overlap(&writer.queue, shown, &judged.ids)?;
                // A version that re-anchors the chain carries no override:
                // the service makes the one after it at once.
                let promised = if current.reanchors {
                    promised.next()
                } else {
                    promised
                };
                let record = OverrideRecord {
                    id: id.clone(),
                    decision: judged.decision,
                    made_at: judged.made_at,
                    removals: judged.removals as u64,
                    updates: (judged.changes.len() - judged.removals) as u64,
                    accepted_at: now,
                    promised_version: promised.get(),
                    state: State::Queued,
                    version: None,
                    reason: None,
                };
                writer
                    .queue
                    .insert_override(&record, &input.bytes, &judged.ids)?;
                Ok(record)
            },
        )?;
        if let Offered::Accepted(record) = &offered {
            info!(
                id = %record.id,
                removals = record.removals,
                updates = record.updates,
                promised_version = record.promised_version,
                "override accepted"
            );
            self.urgent.notify_one();
        }
        Ok(offered)
    }

    /// Offers `bytes` as what its envelope says it is: an override, a
    /// receipt, or else a submission (whose verification names what
    /// anything else is not).
    pub fn offer_any(&self, bytes: Vec<u8>, shown: &str) -> Result<OfferedWork, CentreError> {
        match envelope::parse_header(&bytes).map(|header| header.doc_type) {
            Ok(DocType::Override) => self.offer_override(bytes, shown).map(OfferedWork::Override),
            Ok(DocType::Receipt) => self.offer_receipt(&bytes, shown).map(OfferedWork::Receipt),
            _ => self.offer(bytes, shown).map(OfferedWork::Submission),
        }
    }

    /// The record of submission `id`, if the service ever accepted it.
    pub fn status(&self, id: &str) -> Result<Option<Record>, CentreError> {
        lock(&self.reader).get(id)
    }

    /// The record of override `id`, if the service ever accepted it.
    pub fn override_status(&self, id: &str) -> Result<Option<OverrideRecord>, CentreError> {
        lock(&self.reader).get_override(id)
    }

    /// Publishes every queued submission and override in one version (two,
    /// when the first re-anchors the chain on a snapshot, which carries no
    /// override), returning how much is still queued (none, unless a
    /// publish failed). Blocks.
    pub fn publish_queue(&self) -> Result<u64, CentreError> {
        let mut writer = lock(&self.writer);
        // The second publish cannot re-anchor again: the first did.
        if self.publish_once(&mut writer)? {
            self.publish_once(&mut writer)?;
        }
        writer.queue.queued_count()
    }

    /// Publishes what is queued in one version; true when overrides were
    /// left for the next one (this version re-anchored the chain).
    fn publish_once(&self, writer: &mut Writer) -> Result<bool, CentreError> {
        let queued = writer.queue.queued()?;
        let queued_overrides = writer.queue.queued_overrides()?;
        if queued.is_empty() && queued_overrides.is_empty() {
            return Ok(false);
        }
        // Queued work its record shows applied was published by a run
        // killed before it could say so: the version in force carried it
        // (nothing else publishes while it is queued). A submission is
        // recorded by its key's sequence, an override by its decision.
        let (recorded, version, applied) = {
            let dir_lock = self.dir.lock_waiting(LOCK_PATIENCE)?;
            let current = publish::current(&self.dir, &dir_lock, &writer.publish.keys)?;
            let store = current.state.store();
            let recorded = intake::recorded_sequences(&self.dir, store)?;
            let mut applied = Vec::new();
            for queued in &queued_overrides {
                if let Some(version) = store.override_applied(&queued.decision)? {
                    applied.push((queued.id.clone(), version));
                }
            }
            (recorded, current.version, applied)
        };
        let (carried, waiting): (Vec<_>, Vec<_>) = queued
            .into_iter()
            .partition(|q| recorded.get(&q.key).is_some_and(|&last| q.sequence <= last));
        if !carried.is_empty() {
            let ids: Vec<String> = carried.into_iter().map(|q| q.id).collect();
            let version = version.map_or(0, Version::get);
            writer.queue.settle(&ids, version, &[], &[])?;
            for id in &ids {
                info!(%id, version, "submission published (by a run stopped before it said so)");
            }
        }
        for (id, version) in &applied {
            writer
                .queue
                .settle(std::slice::from_ref(id), *version, &[], &[])?;
            info!(%id, version, "override published (by a run stopped before it said so)");
        }
        let waiting_overrides: Vec<OverrideInput> = queued_overrides
            .into_iter()
            .filter(|q| !applied.iter().any(|(id, _)| *id == q.id))
            .map(|q| OverrideInput {
                name: q.id,
                bytes: q.bytes,
            })
            .collect();
        if waiting.is_empty() && waiting_overrides.is_empty() {
            return Ok(false);
        }
        writer.publish.submissions = waiting
            .into_iter()
            .map(|q| SubmissionInput {
                name: q.id,
                bytes: q.bytes,
                accepted_at: q.accepted_at,
            })
            .collect();
        writer.publish.overrides = waiting_overrides;
        writer.publish.context.now = Timestamp::now();
        let published = publish::publish(self.dir.path(), &writer.publish);
        writer.publish.submissions.clear();
        writer.publish.overrides.clear();
        let report = published?;
        self.settle(writer, &report)?;
        Ok(!report.deferred.is_empty())
    }

    /// Marks the submissions and overrides `report` names published or refused.
    fn settle(&self, writer: &mut Writer, report: &PublishReport) -> Result<(), CentreError> {
        let version = report
            .in_force
            .expect("a publish of queued work leaves a version in force")
            .get();
        let published: Vec<String> = report
            .submissions
            .iter()
            .map(|s| s.name.clone())
            .chain(report.overrides.iter().cloned())
            .collect();
        let refused: Vec<(String, String)> = report
            .refused
            .iter()
            .map(|r| (r.name.clone(), r.reason.clone()))
            .collect();
        writer
            .queue
            .settle(&published, version, &refused, &report.deferred)?;
        for taken in &report.submissions {
            info!(id = %taken.name, agency = %taken.agency, version, "submission published");
        }
        for id in &report.overrides {
            info!(%id, version, "override published");
        }
        for refused in &report.refused {
            warn!(id = %refused.name, reason = %refused.reason, "queued work refused when published; nothing of it applied");
        }
        Ok(())
    }

    /// Publishes the queue on the cadence until `stop` turns true: idle
    /// (nothing queued), it waits on its wake-ups alone.
    async fn publisher(self: Arc<Intake>, mut stop: watch::Receiver<bool>) {
        let every = self.publish_every;
        let started_with = {
            let intake = self.clone();
            tokio::task::spawn_blocking(move || lock(&intake.reader).queued_count()).await
        };
        let mut due = match started_with {
            Ok(Ok(0)) => None,
            _ => Some(Instant::now()),
        };
        loop {
            // Far off when nothing is due: the branch is disabled then.
            let at = due.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
            tokio::select! {
                biased;
                () = stopped(&mut stop) => break,
                () = self.urgent.notified() => due = Some(Instant::now()),
                () = self.queued.notified() => {
                    due.get_or_insert_with(|| Instant::now() + every);
                }
                () = tokio::time::sleep_until(at), if due.is_some() => {
                    let intake = self.clone();
                    let left = tokio::task::spawn_blocking(move || intake.publish_queue()).await;
                    due = match left {
                        Ok(Ok(0)) => None,
                        Ok(Ok(_)) => Some(Instant::now() + every),
                        Ok(Err(error)) => {
                            warn!(%error, retry_in = ?every, "publishing the intake queue failed; it stays queued");
                            Some(Instant::now() + every)
                        }
                        Err(error) => {
                            warn!(%error, "the intake publisher panicked; retrying at the next tick");
                            Some(Instant::now() + every)
                        }
                    };
                }
            }
        }
    }
}

/// Refuses work (called `shown`) naming any of `ids` that queued work names.
fn refuse_overlap(queue: &Queue, shown: &str, ids: &[Identifier]) -> Result<(), CentreError> {
    match queue.named_by_queued(ids)? {
        Some((named, other)) => Err(CentreError::Overlap {
            file: shown.to_owned(),
            id: named.to_string(),
            other: other.to_string(),
        }),
        None => Ok(()),
    }
}

/// Completes once `stop` turns true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is dropped here, not held across awaits.
    let _ = stop.wait_for(|s| *s).await;
}

/// The intake service set up to run: its drop folder (if any) watched.
#[derive(Debug)]
pub struct Running {
    intake: Arc<Intake>,
    inbox: Option<inbox::Inbox>,
}

impl Running {
    /// Watches `drop_folder` (created if need be) for `intake`.
    pub fn start(intake: Intake, drop_folder: Option<PathBuf>) -> Result<Running, CentreError> {
        Ok(Running {
            intake: Arc::new(intake),
            inbox: drop_folder.map(inbox::Inbox::open).transpose()?,
        })
    }

    /// Serves `serve.dir` on `listener` with the intake service: the
    /// directory's files, `POST /v1/submissions`, `GET
    /// /v1/submissions/{id}`, `POST /v1/overrides`, `GET
    /// /v1/overrides/{id}`, `POST /v1/receipts`, `GET /metrics`, the drop
    /// folder, and the publisher, until
    /// `shutdown` completes (a publish under way finishes first).
    pub async fn serve(
        self,
        serve: ServeConfig,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), CentreError> {
        let Running { intake, inbox } = self;
        let (stop_tx, stop) = watch::channel(false);
        let mut tasks = tokio::task::JoinSet::new();
        if let Some(inbox) = inbox {
            tasks.spawn(inbox.run(intake.clone(), stop.clone()));
        }
        tasks.spawn(intake.clone().publisher(stop));
        info!(dir = %serve.dir.display(), every = ?intake.publish_every, "intake service running");
        let served =
            crate::serve_dir::run_with(serve, routes::routes(intake), listener, async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            })
            .await;
        while tasks.join_next().await.is_some() {}
        served.map_err(|source| CentreError::Serve {
            action: "serve".to_owned(),
            source,
        })
    }
}
