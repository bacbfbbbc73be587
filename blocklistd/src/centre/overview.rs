//! What the operator's page shows of a publish directory: the version in
//! force and the log's checkpoint, the listings by agency and kind, the
//! recent versions with what each changed, the work waiting for a publish,
//! and where each replica stands by its receipts. Read from the directory's own files and stores, never
//! verified again (the publisher verified them), and never written.
//!
//! Two parts cost more than a page load should: counting listings reads
//! the whole list, and counting a delta's changes decodes it. [`Overviews`]
//! keeps both, the counts for the version they were read at and each
//! delta's summary for good (a published delta never changes), so a page
//! costs what changed since the last one.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use blocklist_core::document::{Delta, FileRef, Manifest, Op, Version};
use blocklist_core::log::{SignedCheckpoint, CHECKPOINT_PATH, LOG_DIR};
use blocklist_core::store::Store;
use blocklist_core::verify::read_unverified;
use blocklist_core::{Kind, Sha256, StateDigest, Timestamp};

use crate::centre::chain::unverified_manifest;
use crate::centre::queue::Waiting;
use crate::centre::receipts::Standing;
use crate::centre::source::Source as _;
use crate::centre::{delta_head, CentreError, PublishDir};

/// How many recent versions the page lists.
pub const RECENT_VERSIONS: usize = 20;

/// The largest delta whose changes are counted: one this large is a bulk
/// load (the first delta of a 10M-entry list is 200 MB), shown without
/// counts rather than decoded for a page.
const MAX_COUNTED_DELTA: u64 = 64 << 20;

/// The page's facts, gathered at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Overview {
    /// The list's name.
    pub list: String,
    /// The version in force, from the newest manifest (none: nothing published).
    pub current: Option<Current>,
    /// The log's checkpoint as served (`log/checkpoint`, cosignatures included).
    pub log: Option<LogCheckpoint>,
    /// Listings per agency, by kind, at the version the centre's store holds.
    pub listings: Vec<AgencyListings>,
    /// The newest versions first, at most [`RECENT_VERSIONS`].
    pub versions: Vec<VersionSummary>,
    /// Submissions, then overrides, waiting for a publish.
    pub waiting: Vec<Waiting>,
    /// Each registered replica's standing by its newest receipt, the
    /// laggards first.
    pub propagation: Vec<Standing>,
    /// A replica behind by more than this many seconds is lagging
    /// ([`crate::centre::receipts::lagging`]).
    pub lag_alert: u64,
}

/// The version in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Current {
    /// Its number.
    pub version: Version,
    /// When its manifest was issued.
    pub issued_at: Timestamp,
    /// When that manifest expires.
    pub expires_at: Timestamp,
    /// How many listings it holds.
    pub entries: u64,
    /// Its signed state digest.
    pub digest: StateDigest,
}

/// The log's head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogCheckpoint {
    /// How many records the log holds.
    pub size: u64,
    /// The root of their tree.
    pub root: Sha256,
    /// The names of the witnesses whose cosignatures it carries.
    pub cosigned_by: Vec<String>,
}

/// One agency's listings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgencyListings {
    /// The agency (or, for listings made before agencies were principals, its label).
    pub agency: String,
    /// Bank accounts, phone numbers, domains, and kinds this build does not know.
    pub by_kind: [u64; 4],
}

impl AgencyListings {
    /// All its listings.
    pub fn total(&self) -> u64 {
        self.by_kind.iter().sum()
    }
}

/// The column of `kind` in [`AgencyListings::by_kind`].
fn column(kind: Kind) -> usize {
    match kind {
        Kind::Account => 0,
        Kind::Number => 1,
        Kind::Domain => 2,
        Kind::Other(_) => 3,
    }
}

/// What one version changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionSummary {
    /// Its number.
    pub version: Version,
    /// When the centre made it.
    pub created_at: Timestamp,
    /// Listings after it.
    pub entries: u64,
    /// Its delta's size in bytes.
    pub bytes: u64,
    /// What its delta did, unless the delta is too large to count for a page.
    pub changes: Option<Changes>,
}

/// A delta's operations and what it carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Listings added.
    pub adds: u64,
    /// Listings whose entry changed.
    pub updates: u64,
    /// Listings removed.
    pub removes: u64,
    /// Agencies' signed submissions carried.
    pub submissions: u64,
    /// Signed overrides carried.
    pub overrides: u64,
}

impl Changes {
    fn of(delta: &Delta) -> Changes {
        let mut changes = Changes {
            submissions: delta.submissions.len() as u64,
            overrides: delta.overrides.len() as u64,
            ..Changes::default()
        };
        for op in &delta.ops {
            *match op {
                Op::Add(_) => &mut changes.adds,
                Op::Update(_) => &mut changes.updates,
                Op::Remove(..) => &mut changes.removes,
            } += 1;
        }
        changes
    }
}

/// What [`Overviews`] keeps between pages.
#[derive(Debug, Default)]
struct Kept {
    listings: Option<(Option<Version>, Vec<AgencyListings>)>,
    versions: BTreeMap<Version, VersionSummary>,
}

/// Gathers [`Overview`]s of one directory, keeping what is costly to read
/// again (see the module's overview).
#[derive(Debug, Default)]
pub struct Overviews {
    kept: Mutex<Kept>,
}

impl Overviews {
    /// The overview of `dir` now, with the work `waiting` in its queue, the
    /// replicas' `propagation` and the `lag_alert` that marks laggards.
    /// Blocks (files and SQLite): call it off the async threads.
    pub fn gather(
        &self,
        dir: &PublishDir,
        waiting: Vec<Waiting>,
        propagation: Vec<Standing>,
        lag_alert: Duration,
    ) -> Result<Overview, CentreError> {
        let manifest = match dir.read_manifest()? {
            Some(bytes) => Some(unverified_manifest(dir, &bytes)?),
            None => None,
        };
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let listings = listings(dir, &mut kept)?;
        let versions = match &manifest {
            Some(m) => recent_versions(dir, m, &mut kept.versions)?,
            None => vec![],
        };
        drop(kept);
        Ok(Overview {
            list: manifest
                .as_ref()
                .map_or_else(String::new, |m| m.list.as_str().to_owned()),
            current: manifest.as_ref().map(|m| Current {
                version: m.version,
                issued_at: m.issued_at,
                expires_at: m.expires_at,
                entries: m.state.entries,
                digest: m.state.digest,
            }),
            log: log_head(dir)?,
            listings,
            versions,
            waiting,
            propagation,
            lag_alert: lag_alert.as_secs(),
        })
    }
}

/// The listings by agency and kind at the version the centre's store holds,
/// counted again only when that version moved.
fn listings(dir: &PublishDir, kept: &mut Kept) -> Result<Vec<AgencyListings>, CentreError> {
    let path = dir.state_path();
    if !path.exists() {
        return Ok(vec![]);
    }
    let store = Store::read_view(&path)?;
    let version = store.state()?.version;
    if let Some((at, counted)) = &kept.listings {
        if *at == version {
            return Ok(counted.clone());
        }
    }
    let mut counted: Vec<AgencyListings> = Vec::new();
    for (agency, kind, n) in store.listings_by_agency_and_kind()? {
        if counted.last().is_none_or(|last| last.agency != agency) {
            counted.push(AgencyListings {
                agency,
                by_kind: [0; 4],
            });
        }
        let last = counted.last_mut().expect("pushed above");
        last.by_kind[column(kind)] += n;
    }
    kept.listings = Some((version, counted.clone()));
    Ok(counted)
}

/// The newest versions `manifest` lists deltas of, newest first.
fn recent_versions(
    dir: &PublishDir,
    manifest: &Manifest,
    kept: &mut BTreeMap<Version, VersionSummary>,
) -> Result<Vec<VersionSummary>, CentreError> {
    let recent: Vec<&FileRef> = manifest.deltas.iter().rev().take(RECENT_VERSIONS).collect();
    let mut summaries = Vec::with_capacity(recent.len());
    for file in recent {
        let summary = match kept.get(&file.version) {
            Some(summary) => *summary,
            None => {
                let summary = summarise(dir, file)?;
                kept.insert(file.version, summary);
                summary
            }
        };
        summaries.push(summary);
    }
    // Versions no longer listed (pruned) are not shown again.
    if let Some(oldest) = summaries.last().map(|s| s.version) {
        kept.retain(|v, _| *v >= oldest);
    }
    Ok(summaries)
}

/// What the delta `file` names did.
fn summarise(dir: &PublishDir, file: &FileRef) -> Result<VersionSummary, CentreError> {
    let head = delta_head::read(dir, file)?;
    let changes = if file.size <= MAX_COUNTED_DELTA {
        let rel = file.path(blocklist_core::document::DocType::Delta);
        let delta: Delta =
            read_unverified(&dir.read(&rel)?).map_err(|source| CentreError::Verify {
                file: dir.name(&rel),
                source,
            })?;
        Some(Changes::of(&delta))
    } else {
        None
    };
    Ok(VersionSummary {
        version: head.version,
        created_at: head.created_at,
        entries: head.state.entries,
        bytes: file.size,
        changes,
    })
}

/// The checkpoint `log/checkpoint` holds, if the directory has a log.
fn log_head(dir: &PublishDir) -> Result<Option<LogCheckpoint>, CentreError> {
    let rel = format!("{LOG_DIR}/{CHECKPOINT_PATH}");
    if !dir.path().join(&rel).exists() {
        return Ok(None);
    }
    let signed =
        SignedCheckpoint::parse(&dir.read(&rel)?).map_err(|source| CentreError::Inconsistent {
            file: dir.name(&rel),
            reason: source.to_string(),
        })?;
    let head = signed.checkpoint();
    Ok(Some(LogCheckpoint {
        size: head.size,
        root: head.root,
        cosigned_by: signed
            .signer_names()
            .filter(|name| *name != head.origin)
            .map(str::to_owned)
            .collect(),
    }))
}
