//! Replicas' receipts at the centre: the replicas it knows (registered by
//! `blocklist replicas add`, each by its identity key), the newest receipt
//! each one sent (checked, then kept), and each one's standing: the version
//! it serves and how far behind the newest it is.
//!
//! Both live in a SQLite file in the directory's private folder
//! (`.centre/receipts.sqlite`, never served; numbers stored as the queue
//! stores them, `u64` bit for bit in SQLite's signed integers, compared in
//! Rust). A receipt is taken when its
//! key is registered and its signature valid (FORMAT.md RC1-RC2), its list
//! is this directory's, its version is published and its state is the one
//! the centre signed for that version (RC3): the manifest's for the newest
//! version, the listed delta's for an older one. Only the newest receipt of
//! each replica is kept: an older one than that (by version, then time of
//! apply) is refused as stale, the same bytes again are taken as known.
//!
//! The lag of a replica is counted in versions (the newest published minus
//! the one it holds) and in seconds: how long ago the centre published the
//! first version the replica lacks, read from that version's delta
//! (unknown when it is not listed: pruned, or covered by a snapshot alone;
//! a later delta's time would understate the lag).

use std::path::{Path, PathBuf};

use blocklist_core::document::{FileRef, ListId, ListState, Manifest, Receipt, Version};
use blocklist_core::keys::KeyId;
use blocklist_core::verify::{read_unverified, verify_receipt, ReceiptError};
use blocklist_core::{PublicKey, Timestamp};
use rusqlite::{params, Connection, OptionalExtension as _};

use crate::centre::publish_dir::CENTRE_DIR;
use crate::centre::queue::{signed, unsigned};
use crate::centre::source::Source as _;
use crate::centre::{delta_head, publish, CentreError, PublishDir};

/// The file of replicas and receipts, in [`CENTRE_DIR`].
const RECEIPTS_FILE: &str = "receipts.sqlite";

/// The most bytes a receipt takes: its payload is under 250 bytes, and one
/// signature; the rest is room for extensions of later revisions.
pub const MAX_RECEIPT_SIZE: u64 = 4 << 10;

/// How long a statement waits for another connection's write (the service
/// and a `blocklist replicas` command).
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS replicas (
    key_id BLOB PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    public_key BLOB NOT NULL,
    added_at INTEGER NOT NULL
);
-- The newest receipt of each replica; removed with it.
CREATE TABLE IF NOT EXISTS receipts (
    key_id BLOB PRIMARY KEY REFERENCES replicas (key_id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    applied_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    bytes BLOB NOT NULL
);
";

/// Why a receipt was refused: each names the replica and what it offered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReceiptRefusal {
    /// Not a receipt signed by a registered replica's key, or of another list.
    #[error(transparent)]
    Signature(#[from] ReceiptError),
    /// A version the centre has not published.
    #[error("replica {replica} says it applied version {version}, but the newest published is {} (RC3)", newest.map_or_else(|| "none".to_owned(), |v| v.to_string()))]
    Unpublished {
        /// The replica's name.
        replica: String,
        /// The version offered.
        version: Version,
        /// The newest version published.
        newest: Option<Version>,
    },
    /// A published version whose state the centre can no longer read: no
    /// listed delta of that version (pruned).
    #[error("replica {replica} says it applied version {version}, which the manifest lists no delta of any more: its state cannot be checked (the replica's next receipt can)")]
    Unlisted {
        /// The replica's name.
        replica: String,
        /// The version offered.
        version: Version,
    },
    /// A state other than the one the centre signed for that version.
    #[error("replica {replica} holds version {version} with state {offered}, but the centre published {published} (RC3): the replica diverged, or the receipt lies")]
    StateMismatch {
        /// The replica's name.
        replica: String,
        /// The version.
        version: Version,
        /// The state the centre signed (digest and entries).
        published: String,
        /// The state the receipt names.
        offered: String,
    },
    /// Older than the receipt kept for the replica (no regression).
    #[error("replica {replica} sent a receipt of version {offered} applied at {offered_at}, older than the one kept (version {kept}, applied at {kept_at}): ignored")]
    Stale {
        /// The replica's name.
        replica: String,
        /// The version offered.
        offered: u64,
        /// When the offered one says it applied.
        offered_at: u64,
        /// The version kept.
        kept: u64,
        /// When the kept one says it applied.
        kept_at: u64,
    },
}

/// A registered replica.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Replica {
    /// The operator's name for it (1 to 64 of `a-z 0-9 . _ -`).
    pub name: String,
    /// Its identity key.
    pub key: PublicKey,
    /// When it was registered.
    pub added_at: Timestamp,
}

/// A receipt taken.
#[derive(Clone, Debug)]
pub struct Taken {
    /// The replica's name.
    pub replica: String,
    /// The receipt.
    pub receipt: Receipt,
    /// Whether the same bytes were taken before.
    pub known: bool,
}

/// Where one replica stands, by its newest receipt.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Standing {
    /// The replica's name.
    pub name: String,
    /// Its key id (hex).
    pub replica_id: String,
    /// The version its newest receipt names (`None`: no receipt yet).
    pub version: Option<u64>,
    /// When it applied that version, by its clock (Unix seconds).
    pub applied_at: Option<u64>,
    /// When the centre took the receipt (Unix seconds).
    pub received_at: Option<u64>,
    /// The newest published version minus the one it holds.
    pub lag_versions: u64,
    /// How long ago the first version it lacks was published (0 when it
    /// holds the newest; `None` when no listed delta says).
    pub lag_seconds: Option<u64>,
}

/// What the directory published, as receipts are checked against it.
struct Published {
    list: ListId,
    manifest: Option<Manifest>,
}

impl Published {
    /// Reads `dir`'s list (from its trust roots, checked) and manifest (the
    /// centre's own, as `delta_head` reads its deltas: unverified).
    fn read(dir: &PublishDir) -> Result<Published, CentreError> {
        let list = publish::newest_root(dir)?.root().list.clone();
        let manifest =
            match dir.read_manifest()? {
                Some(bytes) => Some(read_unverified::<Manifest>(&bytes).map_err(|source| {
                    CentreError::Verify {
                        file: dir.name(blocklist_core::document::MANIFEST_PATH),
                        source,
                    }
                })?),
                None => None,
            };
        Ok(Published { list, manifest })
    }

    fn newest(&self) -> Option<Version> {
        self.manifest.as_ref().map(|m| m.version)
    }

    /// The listed delta of the version after `held`.
    fn delta_after(&self, held: Option<Version>) -> Option<&FileRef> {
        let next = held.map_or(1, |v| v.get().saturating_add(1));
        self.manifest
            .as_ref()?
            .deltas
            .iter()
            .find(|d| d.version.get() == next)
    }

    /// The state published at `version`, if the centre can still read it.
    fn state_at(
        &self,
        dir: &PublishDir,
        version: Version,
    ) -> Result<Option<ListState>, CentreError> {
        let Some(manifest) = &self.manifest else {
            return Ok(None);
        };
        if manifest.version == version {
            return Ok(Some(manifest.state));
        }
        match manifest.deltas.iter().find(|d| d.version == version) {
            Some(file) => Ok(Some(delta_head::read(dir, file)?.state)),
            None => Ok(None),
        }
    }

    /// How many versions `held` is behind, and for how long.
    fn lag(
        &self,
        dir: &PublishDir,
        held: Option<Version>,
        now: Timestamp,
    ) -> Result<(u64, Option<u64>), CentreError> {
        let newest = self.newest().map_or(0, Version::get);
        let versions = newest.saturating_sub(held.map_or(0, Version::get));
        if versions == 0 {
            return Ok((0, Some(0)));
        }
        let seconds = match self.delta_after(held) {
            Some(file) => Some(
                now.0
                    .saturating_sub(delta_head::read(dir, file)?.created_at.0),
            ),
            None => None,
        };
        Ok((versions, seconds))
    }
}

/// The replicas and receipts of a publish directory, open.
#[derive(Debug)]
pub struct ReceiptBook {
    conn: Connection,
    path: PathBuf,
}

/// The newest receipt kept of a replica: its version, time of apply and bytes.
struct Kept {
    version: u64,
    applied_at: u64,
    received_at: u64,
    bytes: Vec<u8>,
}

impl ReceiptBook {
    /// Opens `dir`'s replicas and receipts, creating the file the first time.
    ///
    /// ```
    /// use blocklistd::centre::{receipts::ReceiptBook, PublishDir};
    /// use blocklist_core::{SecretKey, Timestamp};
    /// let tmp = tempfile::tempdir().unwrap();
    /// let dir = PublishDir::create(&tmp.path().join("pub")).unwrap();
    /// let mut book = ReceiptBook::open(&dir).unwrap();
    /// let key = SecretKey::generate().unwrap().public_key();
    /// book.add_replica("bank-a", &key, Timestamp(5)).unwrap();
    /// assert_eq!(book.replicas().unwrap()[0].name, "bank-a");
    /// ```
    pub fn open(dir: &PublishDir) -> Result<ReceiptBook, CentreError> {
        let path = dir.path().join(CENTRE_DIR).join(RECEIPTS_FILE);
        let fail = book_error(&path);
        let conn = Connection::open(&path).map_err(fail)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(fail)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(fail)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(fail)?;
        conn.execute_batch(SCHEMA).map_err(fail)?;
        Ok(ReceiptBook { conn, path })
    }

    fn fail(&self) -> impl Fn(rusqlite::Error) -> CentreError + '_ {
        book_error(&self.path)
    }

    /// Registers replica `name` by its identity key. A name or key
    /// registered already is refused: remove it first.
    pub fn add_replica(
        &mut self,
        name: &str,
        key: &PublicKey,
        now: Timestamp,
    ) -> Result<(), CentreError> {
        check_name(name)?;
        if let Some(other) = self.replicas()?.into_iter().find(|r| r.key == *key) {
            return Err(CentreError::usage(format!(
                "key {} is registered already, as replica {}",
                key.id(),
                other.name
            )));
        }
        let added = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO replicas (key_id, name, public_key, added_at) VALUES (?1, ?2, ?3, ?4)",
                params![&key.id().0[..], name, &key.to_bytes()[..], signed(now.0)],
            )
            .map_err(self.fail())?;
        if added == 0 {
            return Err(CentreError::usage(format!(
                "replica {name} is registered already (blocklist replicas remove it first)"
            )));
        }
        Ok(())
    }

    /// Forgets replica `name` and its receipt; false when none has that name.
    pub fn remove_replica(&mut self, name: &str) -> Result<bool, CentreError> {
        self.conn
            .execute("DELETE FROM replicas WHERE name = ?1", [name])
            .map(|n| n > 0)
            .map_err(self.fail())
    }

    /// The registered replicas, by name.
    pub fn replicas(&self) -> Result<Vec<Replica>, CentreError> {
        let mut statement = self
            .conn
            .prepare("SELECT name, public_key, added_at FROM replicas ORDER BY name")
            .map_err(self.fail())?;
        let rows = statement
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, Vec<u8>>(1)?,
                    row.get::<_, i64>(2)?,
                ))
            })
            .map_err(self.fail())?;
        let mut replicas = Vec::new();
        for row in rows {
            let (name, key, added_at) = row.map_err(self.fail())?;
            let key = <[u8; 32]>::try_from(key.as_slice())
                .ok()
                .and_then(|bytes| PublicKey::from_bytes(&bytes).ok())
                .ok_or_else(|| CentreError::Inconsistent {
                    file: self.path.display().to_string(),
                    reason: format!("replica {name} has no valid public key"),
                })?;
            replicas.push(Replica {
                name,
                key,
                added_at: Timestamp(unsigned(added_at)),
            });
        }
        Ok(replicas)
    }

    fn kept(&self, key: &KeyId) -> Result<Option<Kept>, CentreError> {
        self.conn
            .query_row(
                "SELECT version, applied_at, received_at, bytes FROM receipts WHERE key_id = ?1",
                [&key.0[..]],
                |row| {
                    Ok(Kept {
                        version: unsigned(row.get(0)?),
                        applied_at: unsigned(row.get(1)?),
                        received_at: unsigned(row.get(2)?),
                        bytes: row.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(self.fail())
    }

    /// Checks the receipt `bytes` (called `shown` in messages) against the
    /// registered replicas and what `dir` published, and keeps it as its
    /// replica's newest. Refused (a [`CentreError::Receipt`] naming why),
    /// nothing changes.
    pub fn take(
        &mut self,
        dir: &PublishDir,
        bytes: &[u8],
        shown: &str,
        now: Timestamp,
    ) -> Result<Taken, CentreError> {
        let refused = |source: ReceiptRefusal| CentreError::Receipt {
            shown: shown.to_owned(),
            source: Box::new(source),
        };
        let published = Published::read(dir)?;
        let replicas = self.replicas()?;
        let verified = verify_receipt(bytes, &published.list, |id| {
            replicas.iter().find(|r| r.key.id() == *id).map(|r| r.key)
        })
        .map_err(|e| refused(e.into()))?;
        let receipt = verified.into_inner();
        let replica = replicas
            .iter()
            .find(|r| r.key.id() == receipt.replica)
            .expect("verified against these replicas")
            .name
            .clone();
        if published
            .newest()
            .is_none_or(|newest| receipt.version > newest)
        {
            return Err(refused(ReceiptRefusal::Unpublished {
                replica,
                version: receipt.version,
                newest: published.newest(),
            }));
        }
        match published.state_at(dir, receipt.version)? {
            None => {
                return Err(refused(ReceiptRefusal::Unlisted {
                    replica,
                    version: receipt.version,
                }))
            }
            Some(state) if state != receipt.state => {
                return Err(refused(ReceiptRefusal::StateMismatch {
                    replica,
                    version: receipt.version,
                    published: format!("{} ({} entries)", state.digest, state.entries),
                    offered: format!(
                        "{} ({} entries)",
                        receipt.state.digest, receipt.state.entries
                    ),
                }))
            }
            Some(_) => {}
        }
        let offered = (receipt.version.get(), receipt.applied_at.0);
        if let Some(kept) = self.kept(&receipt.replica)? {
            if kept.bytes == bytes {
                return Ok(Taken {
                    replica,
                    receipt,
                    known: true,
                });
            }
            if offered <= (kept.version, kept.applied_at) {
                return Err(refused(ReceiptRefusal::Stale {
                    replica,
                    offered: offered.0,
                    offered_at: offered.1,
                    kept: kept.version,
                    kept_at: kept.applied_at,
                }));
            }
        }
        self.conn
            .execute(
                "INSERT OR REPLACE INTO receipts (key_id, version, applied_at, received_at, bytes) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    &receipt.replica.0[..],
                    signed(offered.0),
                    signed(offered.1),
                    signed(now.0),
                    bytes
                ],
            )
            .map_err(self.fail())?;
        Ok(Taken {
            replica,
            receipt,
            known: false,
        })
    }

    /// Where each registered replica stands at `now`, the laggards first
    /// (most versions behind, then longest behind, then by name).
    pub fn standings(
        &self,
        dir: &PublishDir,
        now: Timestamp,
    ) -> Result<Vec<Standing>, CentreError> {
        let published = Published::read(dir)?;
        let mut standings = Vec::new();
        for replica in self.replicas()? {
            let kept = self.kept(&replica.key.id())?;
            let held = kept.as_ref().and_then(|k| Version::new(k.version));
            let (lag_versions, lag_seconds) = published.lag(dir, held, now)?;
            standings.push(Standing {
                name: replica.name,
                replica_id: hex::encode(replica.key.id().0),
                version: kept.as_ref().map(|k| k.version),
                applied_at: kept.as_ref().map(|k| k.applied_at),
                received_at: kept.as_ref().map(|k| k.received_at),
                lag_versions,
                lag_seconds,
            });
        }
        // An unknown lag sorts as the longest: nothing shows it is short.
        let behind = |s: &Standing| (s.lag_versions, s.lag_seconds.unwrap_or(u64::MAX));
        standings.sort_by(|a, b| behind(b).cmp(&behind(a)).then_with(|| a.name.cmp(&b.name)));
        Ok(standings)
    }
}

/// Where each replica registered in the publish directory at `path` stands
/// at `now`, the laggards first: what `blocklist receipts` shows.
///
/// ```
/// use blocklistd::centre::receipts;
/// let tmp = tempfile::tempdir().unwrap();
/// assert!(receipts::standings(&tmp.path().join("missing"), blocklist_core::Timestamp(0)).is_err());
/// ```
pub fn standings(path: &Path, now: Timestamp) -> Result<Vec<Standing>, CentreError> {
    let dir = PublishDir::open(path)?;
    ReceiptBook::open(&dir)?.standings(&dir, now)
}

/// Whether a replica's standing is behind by more than `alert` seconds: a
/// lag of unknown length counts as behind.
pub fn lagging(standing: &Standing, alert: u64) -> bool {
    standing.lag_versions > 0 && standing.lag_seconds.is_none_or(|s| s > alert)
}

/// Refuses a replica name that is not 1 to 64 of `a-z 0-9 . _ -` (it is a
/// metrics label and a line of a table): a list name's syntax, checked by
/// the list name's check.
fn check_name(name: &str) -> Result<(), CentreError> {
    ListId::new(name).map(|_| ()).map_err(|_| {
        CentreError::usage(format!(
            "replica name {name:?} is not 1 to 64 of a-z 0-9 . _ -"
        ))
    })
}

/// The error for a failure of the receipts' database at `path`.
fn book_error(path: &Path) -> impl Fn(rusqlite::Error) -> CentreError + Copy + '_ {
    |source| CentreError::Receipts {
        path: path.to_owned(),
        source,
    }
}

/// The replicas' standings in the Prometheus text format, as the intake
/// service's `GET /metrics` answers: each replica's version and lag, and
/// how many are behind by more than `alert` seconds ([`lagging`]).
///
/// ```
/// use blocklistd::centre::receipts::{metrics, Standing};
/// let late = Standing { name: "bank-a".into(), replica_id: "ab".into(), version: Some(3),
///     applied_at: Some(1), received_at: Some(2), lag_versions: 2, lag_seconds: Some(7200) };
/// let text = metrics(&[late], 3600);
/// assert!(text.contains("blocklist_replicas_lagging 1\n"));
/// assert!(text.contains("blocklist_replica_version{replica=\"bank-a\"} 3\n"));
/// ```
pub fn metrics(standings: &[Standing], alert: u64) -> String {
    use std::fmt::Write as _;

    use crate::prometheus::{header, label_value};

    let mut out = String::new();
    let each =
        |out: &mut String, name: &str, help: &str, value: &dyn Fn(&Standing) -> Option<u64>| {
            header(out, name, "gauge", help);
            for standing in standings {
                if let Some(value) = value(standing) {
                    let _ = writeln!(
                        out,
                        "{name}{{replica=\"{}\"}} {value}",
                        label_value(&standing.name)
                    );
                }
            }
        };
    each(
        &mut out,
        "blocklist_replica_version",
        "The version each registered replica's newest receipt says it applied (0: no receipt yet).",
        &|s| Some(s.version.unwrap_or(0)),
    );
    each(
        &mut out,
        "blocklist_replica_lag_versions",
        "How many versions each replica is behind the newest published.",
        &|s| Some(s.lag_versions),
    );
    each(
        &mut out,
        "blocklist_replica_lag_seconds",
        "How long ago the first version each replica lacks was published (absent when unknown).",
        &|s| s.lag_seconds,
    );
    header(
        &mut out,
        "blocklist_replicas_lagging",
        "gauge",
        "Registered replicas behind by more than --lag-alert (or by an unknown time).",
    );
    let lagging = standings.iter().filter(|s| lagging(s, alert)).count();
    let _ = writeln!(out, "blocklist_replicas_lagging {lagging}");
    header(
        &mut out,
        "blocklist_replicas_lag_alert_seconds",
        "gauge",
        "The lag past which a replica counts as lagging (--lag-alert).",
    );
    let _ = writeln!(out, "blocklist_replicas_lag_alert_seconds {alert}");
    out
}

#[cfg(test)]
mod tests {
    use blocklist_core::SecretKey;

    use super::*;

    fn book() -> (tempfile::TempDir, ReceiptBook) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PublishDir::create(&tmp.path().join("pub")).unwrap();
        let book = ReceiptBook::open(&dir).unwrap();
        (tmp, book)
    }

    #[test]
    fn a_name_or_key_registered_twice_or_a_name_that_is_no_label_is_refused() {
        let (_tmp, mut book) = book();
        let (a, b) = (
            SecretKey::generate().unwrap().public_key(),
            SecretKey::generate().unwrap().public_key(),
        );
        book.add_replica("bank-a", &a, Timestamp(1)).unwrap();
        let again = book.add_replica("bank-a", &b, Timestamp(2)).unwrap_err();
        assert!(again.to_string().contains("registered already"), "{again}");
        let same_key = book.add_replica("bank-b", &a, Timestamp(2)).unwrap_err();
        assert!(
            same_key.to_string().contains("as replica bank-a"),
            "{same_key}"
        );
        let label = book
            .add_replica("Bank \"A\"", &b, Timestamp(2))
            .unwrap_err();
        assert!(label.to_string().contains("a-z 0-9"), "{label}");
        assert!(book.remove_replica("bank-a").unwrap());
        assert!(!book.remove_replica("bank-a").unwrap());
        book.add_replica("bank-b", &a, Timestamp(3)).unwrap();
        assert_eq!(book.replicas().unwrap().len(), 1);
    }

    #[test]
    fn an_unknown_lag_counts_as_behind_and_exports_no_seconds() {
        let standing = |name: &str, lag_versions, lag_seconds| Standing {
            name: name.into(),
            replica_id: String::new(),
            version: None,
            applied_at: None,
            received_at: None,
            lag_versions,
            lag_seconds,
        };
        assert!(lagging(&standing("a", 1, None), 3600));
        assert!(!lagging(&standing("a", 1, Some(10)), 3600));
        assert!(!lagging(&standing("a", 0, Some(0)), 0));
        let text = metrics(&[standing("a", 2, None)], 60);
        assert!(!text.contains("blocklist_replica_lag_seconds{"), "{text}");
        assert!(text.contains("blocklist_replicas_lagging 1\n"), "{text}");
    }
}
