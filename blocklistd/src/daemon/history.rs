//! What a replica can say about one identifier beyond a lookup's answer, for
//! `GET /v1/history`: its listings as stored (expired or not) and every
//! override that removed a listing of it (`docs/FORMAT.md` W7), with the
//! decision and who signed it, so that an operator can tell a customer why
//! a number stopped matching. Read from the replica's store, not from the
//! lookup index: it serves people, not the payment path.

use std::borrow::Cow;
use std::path::Path;

use blocklist_core::document::Version;
use blocklist_core::store::{AppliedOverride, Store, StoreError};
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
    /// Every override that removed a listing of it, oldest first.
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

/// One override that removed a listing of the identifier.
#[derive(Debug, Serialize)]
pub struct OverrideView {
    /// The version whose delta carried it.
    pub version: u64,
    /// The agency whose listing it removed.
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

/// Every listing of each of `ids` in the store at `path`, by agency, read
/// at one version, if that is `version` (`None` otherwise: the store is
/// one apply ahead of the index that answered).
pub fn listings(
    path: &Path,
    version: u64,
    ids: &[Identifier],
) -> Result<Option<Vec<Vec<Listing>>>, StoreError> {
    let store = Store::read_view(path)?;
    if store.state()?.version.map(Version::get) != Some(version) {
        return Ok(None);
    }
    let read = ids
        .iter()
        .map(|id| Ok(store.listed(id)?.iter().map(Listing::of).collect()));
    read.collect::<Result<_, StoreError>>().map(Some)
}

/// Reads `id`'s history from the store at `path`.
pub fn read(path: &Path, id: &Identifier) -> Result<History, StoreError> {
    // One read transaction: the listing and the overrides of one version.
    let store = Store::read_view(path)?;
    let state = store.state()?;
    Ok(History {
        version: state.version.map(Version::get),
        kind: id.kind().to_string(),
        value: id.as_str().to_owned(),
        listings: store.listed(id)?.iter().map(Listing::of).collect(),
        overrides: store
            .overrides_of(id)?
            .into_iter()
            .map(|o: AppliedOverride| OverrideView {
                version: o.version.get(),
                agency: o.listing.agency.to_string(),
                listed_at: o.listing.listed_at.0,
                made_at: o.made_at.0,
                why: o.why.to_string(),
                note: o.note,
                signers: o.signers.iter().map(ToString::to_string).collect(),
                override_sha256: o.file_sha256.to_string(),
            })
            .collect(),
    })
}
