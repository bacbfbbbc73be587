//! What a replica can say about one identifier beyond a lookup's answer, for
//! `GET /v1/history`: its listings as stored (expired or not) and every
//! override that removed or updated a listing of it (`docs/FORMAT.md` W7), with the
//! decision and who signed it, so that an operator can tell a customer why
//! a number stopped matching. Read from the replica's store, not from the
//! lookup index: it serves people, not the payment path.

use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::Mutex;

use blocklist_core::document::Version;
use blocklist_core::store::{AppliedOverride, OverrideChange, Store, StoreError};
use blocklist_core::{EntryMeta, Identifier, Reason};
use serde::Serialize;

/// The history of one identifier, as `/v1/history` answers it.
#[derive(Debug, Serialize)]
pub struct History {
    /// The version the replica holds.
    pub version: Option<u64>,
    /// The identifier's kind.
    pub kind: String,
    /// Its canonical value.
    pub value: String,
    /// Its listings, one per agency, by agency (expired listings included;
    /// empty when not listed).
    pub listings: Vec<Listing>,
    /// Every override that removed or updated a listing of it, oldest first.
    pub overrides: Vec<OverrideView>,
}

/// A listing as stored.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Listing {
    /// The agency whose listing it is.
    pub agency: String,
    /// Why (the reason's name, or its code in decimal).
    pub reason: Cow<'static, str>,
    /// When it was listed.
    pub listed_at: u64,
    /// When it stops matching.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
}

/// One override that removed or updated a listing of the identifier.
#[derive(Debug, Serialize)]
pub struct OverrideView {
    /// The version whose delta carried it.
    pub version: u64,
    /// What it did to the listing: `removed`, or `updated` (to `reason`
    /// and `expires_at`).
    pub change: &'static str,
    /// For an update, the reason it gave the listing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<Cow<'static, str>>,
    /// For an update, the expiry it gave the listing (absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The agency whose listing it removed or updated (the listing stays
    /// that agency's).
    pub agency: String,
    /// When that listing was made.
    pub listed_at: u64,
    /// When the override was made.
    pub made_at: u64,
    /// Why.
    pub why: String,
    /// The decision in words.
    pub note: String,
    /// The override keys that signed it (key ids, hex).
    pub signers: Vec<String>,
    /// SHA-256 of the override file, hex.
    pub override_sha256: String,
}

impl Listing {
    /// The listing `meta` says.
    pub fn of(meta: &EntryMeta) -> Listing {
        Listing {
            agency: meta.agency.to_string(),
            reason: reason_text(meta.reason),
            listed_at: meta.listed_at.0,
            expires_at: meta.expires_at.map(|t| t.0),
        }
    }
}

/// A reason as answers give it: its name, or its code in decimal for a
/// code newer than this build.
pub fn reason_text(reason: Reason) -> Cow<'static, str> {
    reason
        .name()
        .map_or_else(|| Cow::Owned(reason.0.to_string()), Cow::Borrowed)
}

/// Read connections to the replica's store, kept between requests: opening
/// one (the file, the schema check) costs more than the few rows a request
/// reads. The store file is never replaced while the daemon runs, and a kept
/// connection holds no read open between requests, so checkpoints pass.
pub struct Readers {
    path: PathBuf,
    idle: Mutex<Vec<Store>>,
}

/// Most connections kept idle: as many as requests that read at once, in
/// practice (each read is a few index seeks).
const MAX_IDLE_READERS: usize = 4;

impl Readers {
    /// Readers of the store at `path` (opened as requests need them).
    pub fn new(path: PathBuf) -> Readers {
        Readers {
            path,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// Runs `read` in one read transaction of the version committed now, on
    /// a kept connection or a new one.
    fn read<T>(&self, read: impl FnOnce(&Store) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let kept = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let store = match kept {
            Some(store) => store,
            None => Store::reader(&self.path)?,
        };
        store.begin_read()?;
        let out = read(&store);
        if store.end_read() && out.is_ok() {
            let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
            if idle.len() < MAX_IDLE_READERS {
                idle.push(store);
            }
        }
        out
    }
}

/// Every listing of each of `ids` in the store, by agency, read at one
/// version, if that is `version` (`None` otherwise: the store is one apply
/// ahead of the index that answered).
pub fn listings(
    readers: &Readers,
    version: u64,
    ids: &[Identifier],
) -> Result<Option<Vec<Vec<Listing>>>, StoreError> {
    readers.read(|store| {
        if store.state()?.version.map(Version::get) != Some(version) {
            return Ok(None);
        }
        let read = ids
            .iter()
            .map(|id| Ok(store.listed(id)?.iter().map(Listing::of).collect()));
        read.collect::<Result<_, StoreError>>().map(Some)
    })
}

/// Reads `id`'s history from the store.
pub fn read(readers: &Readers, id: &Identifier) -> Result<History, StoreError> {
    // One read transaction: the listing and the overrides of one version.
    readers.read(|store| history_in(store, id))
}

fn history_in(store: &Store, id: &Identifier) -> Result<History, StoreError> {
    let state = store.state()?;
    Ok(History {
        version: state.version.map(Version::get),
        kind: id.kind().to_string(),
        value: id.as_str().to_owned(),
        listings: store.listed(id)?.iter().map(Listing::of).collect(),
        overrides: store
            .overrides_of(id)?
            .into_iter()
            .map(|o: AppliedOverride| {
                let (change, reason, expires_at) = match o.change {
                    OverrideChange::Removed => ("removed", None, None),
                    OverrideChange::Updated { reason, expires_at } => (
                        "updated",
                        Some(reason_text(reason)),
                        expires_at.map(|t| t.0),
                    ),
                };
                OverrideView {
                    version: o.version.get(),
                    change,
                    reason,
                    expires_at,
                    agency: o.listing.agency.to_string(),
                    listed_at: o.listing.listed_at.0,
                    made_at: o.made_at.0,
                    why: o.why.to_string(),
                    note: o.note,
                    signers: o.signers.iter().map(ToString::to_string).collect(),
                    override_sha256: o.file_sha256.to_string(),
                }
            })
            .collect(),
    })
}
