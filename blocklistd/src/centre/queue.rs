//! The intake service's durable queue: every submission and override it
//! accepted, in a SQLite file in the directory's private folder
//! (`.centre/intake.sqlite`, never served), from acceptance until a version
//! carries it (or a publish refuses it), and after, so `GET
//! /v1/submissions/{id}` and `GET /v1/overrides/{id}` can say which
//! version did.
//!
//! A submission or override is inserted, and the insert committed with
//! `synchronous=FULL`, before the service answers: what the centre
//! acknowledged survives a SIGKILL or a power cut. The identifiers named by
//! queued work, submissions and overrides alike, are kept in one table
//! keyed by identifier, so new work naming one of them is refused by a
//! lookup per identifier (queued work is disjoint: each is judged against
//! the list as it is, and one delta takes one word per listing, W3).
//!
//! Sequences and versions are `u64`s stored in SQLite's signed 64-bit
//! integers bit for bit; the queue compares them in Rust, never in SQL.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use blocklist_core::keys::KeyId;
use blocklist_core::{Identifier, Sha256, Timestamp};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension as _};

use crate::centre::publish_dir::{PublishDir, CENTRE_DIR};
use crate::centre::CentreError;

/// The queue's file, in [`CENTRE_DIR`].
const QUEUE_FILE: &str = "intake.sqlite";

/// How long a statement waits for another connection's write (the
/// service's reader and writer, a `blocklist publish` counting).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS submissions (
    arrival INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    bytes BLOB NOT NULL,
    agency TEXT NOT NULL,
    key_id BLOB NOT NULL,
    sequence INTEGER NOT NULL,
    urgent INTEGER NOT NULL,
    accepted_at INTEGER NOT NULL,
    promised_version INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'published', 'refused')),
    version INTEGER,
    reason TEXT,
    ack BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS submissions_queued ON submissions (state) WHERE state = 'queued';
CREATE TABLE IF NOT EXISTS overrides (
    arrival INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    bytes BLOB NOT NULL,
    decision TEXT NOT NULL,
    made_at INTEGER NOT NULL,
    removals INTEGER NOT NULL,
    accepted_at INTEGER NOT NULL,
    promised_version INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'published', 'refused')),
    version INTEGER,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS overrides_decision ON overrides (decision);
-- `submission`: the id of the queued submission or override naming it
-- (named so before overrides were queued; kept, so older files open as they are).
CREATE TABLE IF NOT EXISTS queued_ids (
    identifier TEXT PRIMARY KEY,
    submission TEXT NOT NULL
);
";

/// The queue's schema ([`SCHEMA`], then [`MIGRATIONS`]), kept in `PRAGMA
/// user_version`: a release that reads an older one migrates it, and none
/// reads a newer one, whose rows it could misread.
const SCHEMA_VERSION: u32 = 2;

/// What makes schema `n + 2` of schema `n + 1` (schema 1 is [`SCHEMA`]).
const MIGRATIONS: [&str; 1] = [
    // 2: how many listings an override updates, beside those it removes
    // (an override queued before counted none).
    "ALTER TABLE overrides ADD COLUMN updates INTEGER NOT NULL DEFAULT 0;",
];

/// The tables of queued work, each with `id`, `state`, `version`, `reason`.
const WORK_TABLES: [&str; 2] = ["submissions", "overrides"];

/// What a queued piece of work is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Work {
    /// An agency's submission.
    Submission,
    /// An override.
    Override,
}

impl std::fmt::Display for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Work::Submission => "submission",
            Work::Override => "override",
        })
    }
}

/// Queued work naming an identifier, as messages name it: `queued override ID`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedWork {
    /// What it is.
    pub work: Work,
    /// Its id.
    pub id: String,
}

impl std::fmt::Display for QueuedWork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "queued {} {}", self.work, self.id)
    }
}

/// Where a queued submission or override stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Accepted, waiting for the next publish.
    Queued,
    /// Carried by a version (or changed nothing in the version in force).
    Published,
    /// Refused when the service published it (its agency's key revoked
    /// from before its acceptance, say); nothing of it applied.
    Refused,
}

impl State {
    /// Its name, in the queue and in the service's answers.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Published => "published",
            State::Refused => "refused",
        }
    }

    fn parse(text: &str) -> Option<State> {
        [State::Queued, State::Published, State::Refused]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// One submission the service accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The SHA-256 of its bytes, in hex.
    pub id: String,
    /// The agency its signature belongs to.
    pub agency: String,
    /// Its signing key.
    pub key: KeyId,
    /// Its sequence.
    pub sequence: u64,
    /// Whether it asked to be published at once.
    pub urgent: bool,
    /// When the centre accepted it.
    pub accepted_at: Timestamp,
    /// The latest version its acknowledgement promises.
    pub promised_version: u64,
    /// Where it stands.
    pub state: State,
    /// The version that carried it, once published.
    pub version: Option<u64>,
    /// Why it was refused, when so.
    pub reason: Option<String>,
    /// The signed acknowledgement sent for it.
    pub ack: Vec<u8>,
}

/// One override the service accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OverrideRecord {
    /// The SHA-256 of its bytes, in hex.
    pub id: String,
    /// The SHA-256 of its payload (the decision, whatever signatures the
    /// file carries), which replicas remember once applied (W7).
    pub decision: Sha256,
    /// When its signers made it.
    pub made_at: Timestamp,
    /// How many listings it removes.
    pub removals: u64,
    /// How many listings it updates.
    pub updates: u64,
    /// When the centre accepted it.
    pub accepted_at: Timestamp,
    /// The version the service answered will carry it.
    pub promised_version: u64,
    /// Where it stands.
    pub state: State,
    /// The version that carried it, once published.
    pub version: Option<u64>,
    /// Why it was refused, when so.
    pub reason: Option<String>,
}

/// A queued override, to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuedOverride {
    /// Its id.
    pub id: String,
    /// The signed override.
    pub bytes: Vec<u8>,
    /// Its decision's SHA-256.
    pub decision: Sha256,
}

/// A queued submission, to publish: its id, bytes and acceptance time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    /// Its id.
    pub id: String,
    /// The signed submission.
    pub bytes: Vec<u8>,
    /// When the centre accepted it.
    pub accepted_at: Timestamp,
    /// Its signing key.
    pub key: KeyId,
    /// Its sequence.
    pub sequence: u64,
}

/// Work waiting for a publish, as [`Queue::waiting`] lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Waiting {
    /// A submission or an override.
    pub work: Work,
    /// Its id.
    pub id: String,
    /// The submitting agency (none for an override).
    pub agency: Option<String>,
    /// Whether it is published at once (overrides always are).
    pub urgent: bool,
    /// When the centre accepted it.
    pub accepted_at: Timestamp,
    /// The version its acceptance promised.
    pub promised_version: u64,
}

/// The queue of a publish directory, open.
#[derive(Debug)]
pub struct Queue {
    conn: Connection,
    path: PathBuf,
}

/// The queue's path in `dir`.
pub fn path(dir: &PublishDir) -> PathBuf {
    dir.path().join(CENTRE_DIR).join(QUEUE_FILE)
}

/// How many submissions and overrides wait in `dir`'s queue (none when the intake
/// service never ran there; the file is not created).
pub fn queued(dir: &PublishDir) -> Result<u64, CentreError> {
    let path = path(dir);
    if !path.exists() {
        return Ok(0);
    }
    Queue::open_path(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)?.queued_count()
}

/// The error for a failure of the queue's database at `path`.
fn queue_error(path: &Path) -> impl Fn(rusqlite::Error) -> CentreError + Copy + '_ {
    |source| CentreError::Queue {
        path: path.to_owned(),
        source,
    }
}

/// Reads a `u64` stored bit for bit in a signed column (the receipts'
/// file stores its numbers so too).
pub(crate) fn unsigned(n: i64) -> u64 {
    n as u64
}

/// Stores a `u64` bit for bit in a signed column.
pub(crate) fn signed(n: u64) -> i64 {
    n as i64
}

impl Queue {
    /// Opens `dir`'s queue, creating it the first time.
    ///
    /// ```
    /// use blocklistd::centre::{queue::Queue, PublishDir};
    /// let tmp = tempfile::tempdir().unwrap();
    /// let dir = PublishDir::create(&tmp.path().join("pub")).unwrap();
    /// let queue = Queue::open(&dir).unwrap();
    /// assert_eq!(queue.queued_count().unwrap(), 0);
    /// ```
    pub fn open(dir: &PublishDir) -> Result<Queue, CentreError> {
        Queue::open_path(
            &path(dir),
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )
    }

    fn open_path(path: &Path, flags: OpenFlags) -> Result<Queue, CentreError> {
        let fail = queue_error(path);
        let mut conn = Connection::open_with_flags(path, flags).map_err(fail)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        // WAL: the service's reader answers GETs while its writer commits;
        // FULL: a commit is on disk before the acknowledgement is sent.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(fail)?;
        let schema = |conn: &Connection| -> Result<u32, CentreError> {
            conn.query_row("PRAGMA user_version", [], |r| r.get(0))
                .map_err(fail)
        };
        if schema(&conn)? < SCHEMA_VERSION {
            // IMMEDIATE: one opener at a time creates (or numbers) the schema.
            let tx = conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(fail)?;
            // Read again under the lock: another opener may have migrated it.
            let found = schema(&tx)?;
            // A queue made before the schema was numbered (0) has schema 1.
            if found == 0 {
                tx.execute_batch(SCHEMA).map_err(fail)?;
            }
            for migration in MIGRATIONS.iter().skip(found.max(1) as usize - 1) {
                tx.execute_batch(migration).map_err(fail)?;
            }
            tx.pragma_update(None, "user_version", SCHEMA_VERSION)
                .map_err(fail)?;
            tx.commit().map_err(fail)?;
        }
        let found = schema(&conn)?;
        if found != SCHEMA_VERSION {
            return Err(CentreError::Inconsistent {
                file: path.display().to_string(),
                reason: format!(
                    "is a queue of schema {found}, made by a newer release; this one reads {SCHEMA_VERSION}: run the newer release, or publish what it queued with it first"
                ),
            });
        }
        Ok(Queue {
            conn,
            path: path.to_owned(),
        })
    }

    fn fail(&self) -> impl Fn(rusqlite::Error) -> CentreError + '_ {
        queue_error(&self.path)
    }

    /// How many submissions and overrides are queued.
    pub fn queued_count(&self) -> Result<u64, CentreError> {
        self.conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM submissions WHERE state = 'queued') \
                 + (SELECT COUNT(*) FROM overrides WHERE state = 'queued')",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map(unsigned)
            .map_err(self.fail())
    }

    /// The work waiting for a publish, submissions and overrides in the
    /// order they arrived in each, without their files: what the operator's
    /// page lists.
    pub fn waiting(&self) -> Result<Vec<Waiting>, CentreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT 0, id, agency, urgent, accepted_at, promised_version, arrival \
                 FROM submissions WHERE state = 'queued' \
                 UNION ALL SELECT 1, id, NULL, 1, accepted_at, promised_version, arrival \
                 FROM overrides WHERE state = 'queued' ORDER BY 1, 7",
            )
            .map_err(self.fail())?;
        let rows = statement
            .query_map([], |row| {
                Ok(Waiting {
                    work: if row.get::<_, i64>(0)? == 0 {
                        Work::Submission
                    } else {
                        Work::Override
                    },
                    id: row.get(1)?,
                    agency: row.get(2)?,
                    urgent: row.get(3)?,
                    accepted_at: Timestamp(unsigned(row.get(4)?)),
                    promised_version: unsigned(row.get(5)?),
                })
            })
            .map_err(self.fail())?;
        rows.collect::<Result<_, _>>().map_err(self.fail())
    }

    /// Adds `record` (queued) and the identifiers it names, in one
    /// transaction, committed when this returns.
    pub fn insert(
        &mut self,
        record: &Record,
        bytes: &[u8],
        ids: &[Identifier],
    ) -> Result<(), CentreError> {
        self.insert_with(&record.id, record.state, ids, |tx| {
            tx.execute(
                "INSERT INTO submissions (id, bytes, agency, key_id, sequence, urgent, accepted_at, \
                 promised_version, state, version, reason, ack) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    record.id,
                    bytes,
                    record.agency,
                    &record.key.0[..],
                    signed(record.sequence),
                    record.urgent,
                    signed(record.accepted_at.0),
                    signed(record.promised_version),
                    record.state.as_str(),
                    record.version.map(signed),
                    record.reason,
                    record.ack,
                ],
            )
        })
    }

    /// Adds `record` (queued) and the identifiers it names, in one
    /// transaction, committed when this returns.
    pub fn insert_override(
        &mut self,
        record: &OverrideRecord,
        bytes: &[u8],
        ids: &[Identifier],
    ) -> Result<(), CentreError> {
        self.insert_with(&record.id, record.state, ids, |tx| {
            tx.execute(
                "INSERT INTO overrides (id, bytes, decision, made_at, removals, accepted_at, \
                 promised_version, state, version, reason, updates) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    record.id,
                    bytes,
                    record.decision.to_string(),
                    signed(record.made_at.0),
                    signed(record.removals),
                    signed(record.accepted_at.0),
                    signed(record.promised_version),
                    record.state.as_str(),
                    record.version.map(signed),
                    record.reason,
                    signed(record.updates),
                ],
            )
        })
    }

    /// Runs `insert` (the row of work `id`, in `state`) and, for queued
    /// work, names its identifiers, in one transaction committed when this
    /// returns.
    fn insert_with(
        &mut self,
        id: &str,
        state: State,
        ids: &[Identifier],
        insert: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<usize>,
    ) -> Result<(), CentreError> {
        // The field, not `self.fail()`: the transaction borrows the connection.
        let fail = queue_error(&self.path);
        let tx = self.conn.transaction().map_err(fail)?;
        insert(&tx).map_err(fail)?;
        if state == State::Queued {
            name_queued(&tx, id, ids).map_err(fail)?;
        }
        tx.commit().map_err(fail)
    }

    /// The submission of id `id`, if the service ever accepted it.
    pub fn get(&self, id: &str) -> Result<Option<Record>, CentreError> {
        self.conn
            .query_row(
                "SELECT id, agency, key_id, sequence, urgent, accepted_at, promised_version, \
                 state, version, reason, ack FROM submissions WHERE id = ?1",
                [id],
                |row| {
                    let key: Vec<u8> = row.get(2)?;
                    let state: String = row.get(7)?;
                    Ok((
                        Record {
                            id: row.get(0)?,
                            agency: row.get(1)?,
                            key: KeyId(key.as_slice().try_into().unwrap_or([0; 32])),
                            sequence: unsigned(row.get(3)?),
                            urgent: row.get(4)?,
                            accepted_at: Timestamp(unsigned(row.get(5)?)),
                            promised_version: unsigned(row.get(6)?),
                            state: State::Queued,
                            version: row.get::<_, Option<i64>>(8)?.map(unsigned),
                            reason: row.get(9)?,
                            ack: row.get(10)?,
                        },
                        key.len(),
                        state,
                    ))
                },
            )
            .optional()
            .map_err(self.fail())?
            .map(|(mut record, key_len, state)| {
                record.state = State::parse(&state)
                    .filter(|_| key_len == 32)
                    .ok_or_else(|| {
                        self.damaged(format!(
                            "submission {id} has state {state:?} and a {key_len}-byte key id"
                        ))
                    })?;
                Ok(record)
            })
            .transpose()
    }

    /// The override of id `id`, if the service ever accepted it.
    pub fn get_override(&self, id: &str) -> Result<Option<OverrideRecord>, CentreError> {
        self.conn
            .query_row(
                "SELECT id, decision, made_at, removals, accepted_at, promised_version, \
                 state, version, reason, updates FROM overrides WHERE id = ?1",
                [id],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        unsigned(row.get(2)?),
                        unsigned(row.get(3)?),
                        unsigned(row.get(4)?),
                        unsigned(row.get(5)?),
                        row.get::<_, String>(6)?,
                        row.get::<_, Option<i64>>(7)?.map(unsigned),
                        row.get::<_, Option<String>>(8)?,
                        unsigned(row.get(9)?),
                    ))
                },
            )
            .optional()
            .map_err(self.fail())?
            .map(
                |(
                    id,
                    decision,
                    made_at,
                    removals,
                    accepted_at,
                    promised,
                    state,
                    version,
                    reason,
                    updates,
                )| {
                    let bad = || {
                        self.damaged(format!(
                            "override {id} has state {state:?} or decision {decision:?}"
                        ))
                    };
                    Ok(OverrideRecord {
                        decision: Sha256::from_hex(&decision).ok_or_else(bad)?,
                        state: State::parse(&state).ok_or_else(bad)?,
                        id,
                        made_at: Timestamp(made_at),
                        removals,
                        updates,
                        accepted_at: Timestamp(accepted_at),
                        promised_version: promised,
                        version,
                        reason,
                    })
                },
            )
            .transpose()
    }

    /// The id of a queued override of decision `decision` (its payload's
    /// SHA-256), if any: the same decision under other signatures.
    pub fn queued_decision(&self, decision: &Sha256) -> Result<Option<String>, CentreError> {
        self.conn
            .query_row(
                "SELECT id FROM overrides WHERE decision = ?1 AND state = 'queued'",
                [decision.to_string()],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.fail())
    }

    /// The queued overrides, in the order they arrived.
    pub fn queued_overrides(&self) -> Result<Vec<QueuedOverride>, CentreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT id, bytes, decision FROM overrides WHERE state = 'queued' ORDER BY arrival",
            )
            .map_err(self.fail())?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Vec<u8>>(1)?,
                    row.get::<_, String>(2)?,
                ))
            })
            .map_err(self.fail())?;
        let mut queued = Vec::new();
        for row in rows {
            let (id, bytes, decision) = row.map_err(self.fail())?;
            let decision = Sha256::from_hex(&decision)
                .ok_or_else(|| self.damaged(format!("override {id} has decision {decision:?}")))?;
            queued.push(QueuedOverride {
                id,
                bytes,
                decision,
            });
        }
        Ok(queued)
    }

    /// An [`CentreError::Inconsistent`] about this queue.
    fn damaged(&self, reason: String) -> CentreError {
        CentreError::Inconsistent {
            file: self.path.display().to_string(),
            reason,
        }
    }

    /// The newest sequence queued per signing key.
    pub fn queued_sequences(&self) -> Result<BTreeMap<KeyId, u64>, CentreError> {
        let mut statement = self
            .conn
            .prepare("SELECT key_id, sequence FROM submissions WHERE state = 'queued'")
            .map_err(self.fail())?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, Vec<u8>>(0)?, unsigned(row.get(1)?)))
            })
            .map_err(self.fail())?;
        let mut newest = BTreeMap::new();
        for row in rows {
            let (key, sequence) = row.map_err(self.fail())?;
            let key = KeyId(key.as_slice().try_into().map_err(|_| self.bad_key())?);
            let last = newest.entry(key).or_insert(sequence);
            *last = (*last).max(sequence);
        }
        Ok(newest)
    }

    fn bad_key(&self) -> CentreError {
        self.damaged("a queued submission's key id is not 32 bytes".to_owned())
    }

    /// The first of `ids` that queued work (a submission or an override)
    /// names, and that work.
    pub fn named_by_queued(
        &self,
        ids: &[Identifier],
    ) -> Result<Option<(Identifier, QueuedWork)>, CentreError> {
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT submission, EXISTS (SELECT 1 FROM overrides o WHERE o.id = q.submission) \
                 FROM queued_ids q WHERE identifier = ?1",
            )
            .map_err(self.fail())?;
        for id in ids {
            let other: Option<(String, bool)> = statement
                .query_row([id.to_string()], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
                .map_err(self.fail())?;
            if let Some((other, is_override)) = other {
                let work = if is_override {
                    Work::Override
                } else {
                    Work::Submission
                };
                return Ok(Some((id.clone(), QueuedWork { work, id: other })));
            }
        }
        Ok(None)
    }

    /// The queued submissions, in the order they arrived.
    pub fn queued(&self) -> Result<Vec<Queued>, CentreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT id, bytes, accepted_at, key_id, sequence FROM submissions \
                 WHERE state = 'queued' ORDER BY arrival",
            )
            .map_err(self.fail())?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Vec<u8>>(1)?,
                    unsigned(row.get(2)?),
                    row.get::<_, Vec<u8>>(3)?,
                    unsigned(row.get(4)?),
                ))
            })
            .map_err(self.fail())?;
        let mut queued = Vec::new();
        for row in rows {
            let (id, bytes, accepted_at, key, sequence) = row.map_err(self.fail())?;
            queued.push(Queued {
                id,
                bytes,
                accepted_at: Timestamp(accepted_at),
                key: KeyId(key.as_slice().try_into().map_err(|_| self.bad_key())?),
                sequence,
            });
        }
        Ok(queued)
    }

    /// Marks queued submissions and overrides (by id: each is in one table)
    /// `published` in `version` and `refused` with their reasons, in one
    /// transaction, freeing the identifiers they named; the overrides
    /// `deferred` (left out of a version that re-anchors the chain) stay
    /// queued, now promised the version after `version`.
    pub fn settle(
        &mut self,
        published: &[String],
        version: u64,
        refused: &[(String, String)],
        deferred: &[String],
    ) -> Result<(), CentreError> {
        // The field, not `self.fail()`: the transaction borrows the connection.
        let fail = queue_error(&self.path);
        let tx = self.conn.transaction().map_err(fail)?;
        for table in WORK_TABLES {
            for id in published {
                tx.execute(
                    &format!("UPDATE {table} SET state = 'published', version = ?2 WHERE id = ?1 AND state = 'queued'"),
                    params![id, signed(version)],
                )
                .map_err(fail)?;
            }
            for (id, reason) in refused {
                tx.execute(
                    &format!("UPDATE {table} SET state = 'refused', reason = ?2 WHERE id = ?1 AND state = 'queued'"),
                    params![id, reason],
                )
                .map_err(fail)?;
            }
        }
        for id in published.iter().chain(refused.iter().map(|(id, _)| id)) {
            tx.execute("DELETE FROM queued_ids WHERE submission = ?1", [id])
                .map_err(fail)?;
        }
        for id in deferred {
            tx.execute(
                "UPDATE overrides SET promised_version = ?2 WHERE id = ?1 AND state = 'queued'",
                params![id, signed(version.saturating_add(1))],
            )
            .map_err(fail)?;
        }
        tx.commit().map_err(fail)
    }
}

/// Records, in `tx`, that queued work `work` names `ids`.
fn name_queued(
    tx: &rusqlite::Transaction<'_>,
    work: &str,
    ids: &[Identifier],
) -> Result<(), rusqlite::Error> {
    let mut named =
        tx.prepare("INSERT INTO queued_ids (identifier, submission) VALUES (?1, ?2)")?;
    for id in ids {
        named.execute(params![id.to_string(), work])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use blocklist_core::Kind;
    use proptest::prelude::*;

    use super::*;

    fn number(i: u8) -> Identifier {
        Identifier::from_canonical(Kind::Number, &format!("+668123456{i:02}")).unwrap()
    }

    fn record(n: u8, sequence: u64) -> Record {
        Record {
            id: format!("{n:02x}").repeat(32),
            agency: "th-aoc".to_owned(),
            key: KeyId([n % 3; 32]),
            sequence,
            urgent: n % 2 == 0,
            accepted_at: Timestamp(1_700_000_000 + u64::from(n)),
            promised_version: u64::from(n) + 1,
            state: State::Queued,
            version: None,
            reason: None,
            ack: vec![n; 9],
        }
    }

    #[test]
    fn a_plain_publish_counts_nothing_where_the_service_never_ran_and_creates_no_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PublishDir::create(&tmp.path().join("pub")).unwrap();
        assert_eq!(queued(&dir).unwrap(), 0);
        assert!(!path(&dir).exists());
    }

    #[test]
    fn a_queue_made_before_its_schema_was_numbered_opens_and_one_of_a_newer_release_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PublishDir::create(&tmp.path().join("pub")).unwrap();
        // As a release before the number made it: the tables, user_version 0.
        std::fs::create_dir_all(path(&dir).parent().unwrap()).unwrap();
        Connection::open(path(&dir))
            .unwrap()
            .execute_batch(SCHEMA)
            .unwrap();
        Queue::open(&dir)
            .unwrap()
            .insert(&record(1, 1), b"file", &[])
            .unwrap();
        assert_eq!(
            queued(&dir).unwrap(),
            1,
            "its rows are read after numbering"
        );
        Connection::open(path(&dir))
            .unwrap()
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let refused = Queue::open(&dir).unwrap_err().to_string();
        assert!(
            refused.contains("is a queue of schema 3, made by a newer release; this one reads 2"),
            "{refused}"
        );
    }

    #[test]
    fn a_queue_of_schema_1_gains_the_updates_column_and_its_overrides_count_none() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PublishDir::create(&tmp.path().join("pub")).unwrap();
        // As release 1 left it: an override queued without an update count.
        std::fs::create_dir_all(path(&dir).parent().unwrap()).unwrap();
        let old = Connection::open(path(&dir)).unwrap();
        old.execute_batch(SCHEMA).unwrap();
        old.pragma_update(None, "user_version", 1).unwrap();
        let queued = override_record(1);
        old.execute(
            "INSERT INTO overrides (id, bytes, decision, made_at, removals, accepted_at, \
             promised_version, state) VALUES (?1, x'00', ?2, 1700000000, 2, 1700000001, 4, 'queued')",
            params![queued.id, queued.decision.to_string()],
        )
        .unwrap();
        drop(old);
        let queue = Queue::open(&dir).unwrap();
        let read = queue.get_override(&queued.id).unwrap().unwrap();
        assert_eq!(
            read,
            OverrideRecord {
                updates: 0,
                ..queued
            }
        );
        let version: u32 = queue
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    proptest! {
        /// Records inserted come back as they went in, after the queue is
        /// closed and opened again; settling moves them out of the queue
        /// and frees their identifiers; sequences are compared as `u64`s.
        #[test]
        fn records_round_trip_across_reopening_and_settle(
            sequences in prop::collection::vec(1u64..=u64::MAX, 1..12),
            published in prop::collection::vec(any::<bool>(), 12),
        ) {
            let tmp = tempfile::tempdir().unwrap();
            let dir = PublishDir::create(&tmp.path().join("pub")).unwrap();
            let records: Vec<Record> = sequences.iter().enumerate().map(|(n, &s)| record(n as u8, s)).collect();
            {
                let mut queue = Queue::open(&dir).unwrap();
                for (n, r) in records.iter().enumerate() {
                    queue.insert(r, &[n as u8; 5], &[number(n as u8)]).unwrap();
                }
            }
            let mut queue = Queue::open(&dir).unwrap();
            prop_assert_eq!(queued(&dir).unwrap(), records.len() as u64);
            for r in &records {
                prop_assert_eq!(queue.get(&r.id).unwrap(), Some(r.clone()));
            }
            let mut newest: BTreeMap<KeyId, u64> = BTreeMap::new();
            for r in &records {
                let last = newest.entry(r.key).or_insert(r.sequence);
                *last = (*last).max(r.sequence);
            }
            prop_assert_eq!(queue.queued_sequences().unwrap(), newest);
            let waiting = queue.queued().unwrap();
            prop_assert_eq!(waiting.iter().map(|q| q.id.clone()).collect::<Vec<_>>(),
                records.iter().map(|r| r.id.clone()).collect::<Vec<_>>());
            prop_assert_eq!(&waiting[0].bytes, &vec![0u8; 5]);

            let done: Vec<String> = records.iter().zip(&published)
                .filter(|(_, p)| **p).map(|(r, _)| r.id.clone()).collect();
            let refused: Vec<(String, String)> = records.iter().zip(&published)
                .filter(|(_, p)| !**p).map(|(r, _)| (r.id.clone(), "revoked".to_owned())).collect();
            prop_assert!(refused.iter().all(|(id, _)| !done.contains(id)));
            queue.settle(&done, 7, &refused, &[]).unwrap();
            drop(queue);
            let queue = Queue::open(&dir).unwrap();
            prop_assert_eq!(queue.queued_count().unwrap(), 0);
            let all: Vec<Identifier> = (0..records.len() as u8).map(number).collect();
            prop_assert_eq!(queue.named_by_queued(&all).unwrap(), None);
            for (r, p) in records.iter().zip(&published) {
                let got = queue.get(&r.id).unwrap().unwrap();
                if *p {
                    prop_assert_eq!((got.state, got.version), (State::Published, Some(7)));
                } else {
                    prop_assert_eq!((got.state, got.reason.as_deref()), (State::Refused, Some("revoked")));
                }
            }
        }
    }

    #[test]
    fn an_identifier_a_queued_submission_names_is_found_with_that_submission() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PublishDir::create(&tmp.path().join("pub")).unwrap();
        let mut queue = Queue::open(&dir).unwrap();
        let first = record(1, 5);
        queue.insert(&first, b"x", &[number(1), number(2)]).unwrap();
        let named = queue.named_by_queued(&[number(3), number(2)]).unwrap();
        assert_eq!(
            named,
            Some((
                number(2),
                QueuedWork {
                    work: Work::Submission,
                    id: first.id.clone()
                }
            ))
        );
        assert_eq!(
            named.unwrap().1.to_string(),
            format!("queued submission {}", first.id)
        );
        assert_eq!(queue.named_by_queued(&[number(3)]).unwrap(), None);
    }

    fn override_record(n: u8) -> OverrideRecord {
        OverrideRecord {
            id: format!("{n:02x}").repeat(32),
            decision: Sha256::of(&[n]),
            made_at: Timestamp(1_700_000_000),
            removals: 2,
            updates: 1,
            accepted_at: Timestamp(1_700_000_001),
            promised_version: 4,
            state: State::Queued,
            version: None,
            reason: None,
        }
    }

    #[test]
    fn a_queued_override_is_counted_found_by_its_identifiers_and_decision_and_settled_with_submissions(
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PublishDir::create(&tmp.path().join("pub")).unwrap();
        let decided = override_record(7);
        let submitted = record(1, 5);
        {
            let mut queue = Queue::open(&dir).unwrap();
            queue.insert(&submitted, b"s", &[number(1)]).unwrap();
            queue
                .insert_override(&decided, b"o", &[number(2), number(3)])
                .unwrap();
        }
        // Counted with the submissions: a plain publish refuses while it waits.
        assert_eq!(queued(&dir).unwrap(), 2);
        let mut queue = Queue::open(&dir).unwrap();
        assert_eq!(
            queue.get_override(&decided.id).unwrap(),
            Some(decided.clone())
        );
        assert_eq!(queue.get_override(&submitted.id).unwrap(), None);
        let (_, work) = queue.named_by_queued(&[number(3)]).unwrap().unwrap();
        assert_eq!(work.to_string(), format!("queued override {}", decided.id));
        assert_eq!(
            queue.queued_decision(&decided.decision).unwrap(),
            Some(decided.id.clone())
        );
        assert_eq!(
            queue.queued_overrides().unwrap(),
            vec![QueuedOverride {
                id: decided.id.clone(),
                bytes: b"o".to_vec(),
                decision: decided.decision,
            }]
        );

        queue
            .settle(&[decided.id.clone(), submitted.id.clone()], 9, &[], &[])
            .unwrap();
        assert_eq!(queue.queued_count().unwrap(), 0);
        assert_eq!(
            queue.named_by_queued(&[number(2), number(1)]).unwrap(),
            None
        );
        assert_eq!(queue.queued_decision(&decided.decision).unwrap(), None);
        let settled = queue.get_override(&decided.id).unwrap().unwrap();
        assert_eq!(
            (settled.state, settled.version),
            (State::Published, Some(9))
        );
        assert_eq!(queue.get(&submitted.id).unwrap().unwrap().version, Some(9));
    }

    #[test]
    fn an_override_left_out_of_a_reanchoring_version_is_promised_the_next_one() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PublishDir::create(&tmp.path().join("pub")).unwrap();
        let mut queue = Queue::open(&dir).unwrap();
        let deferred = override_record(2);
        queue
            .insert_override(&deferred, b"o", &[number(2)])
            .unwrap();
        queue
            .settle(&[], 4, &[], std::slice::from_ref(&deferred.id))
            .unwrap();
        let standing = queue.get_override(&deferred.id).unwrap().unwrap();
        assert_eq!(
            (standing.state, standing.promised_version),
            (State::Queued, 5)
        );
        assert_eq!(
            queue
                .named_by_queued(&[number(2)])
                .unwrap()
                .map(|(_, w)| w.id),
            Some(deferred.id),
            "it still holds its identifiers"
        );
    }

    #[test]
    fn a_queue_file_made_before_overrides_opens_and_takes_them() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PublishDir::create(&tmp.path().join("pub")).unwrap();
        let submitted = record(1, 5);
        {
            let mut queue = Queue::open(&dir).unwrap();
            queue.insert(&submitted, b"s", &[number(1)]).unwrap();
            // As that release left it: no overrides table, no schema number.
            queue
                .conn
                .execute_batch("DROP TABLE overrides; PRAGMA user_version = 0")
                .unwrap();
        }
        let mut queue = Queue::open(&dir).unwrap();
        assert_eq!(queue.get(&submitted.id).unwrap(), Some(submitted));
        queue
            .insert_override(&override_record(2), b"o", &[number(2)])
            .unwrap();
        assert_eq!(queue.queued_count().unwrap(), 2);
    }
}
