//! What a replica can say about one identifier beyond a lookup's answer, for
//! `GET /v1/history`: its listing as stored (expired or not) and every
//! override that removed a listing of it (`docs/FORMAT.md` W7), with the
//! decision and who signed it, so that an operator can tell a customer why
//! a number stopped matching. Read from the replica's store, not from the
//! lookup index: it serves people, not the payment path.

use std::path::Path;

use blocklist_core::document::Version;
use blocklist_core::store::{AppliedOverride, Store, StoreError};
use blocklist_core::{EntryMeta, Identifier};
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
    /// Its listing, if the replica holds one (expired listings included).
    pub listing: Option<Listing>,
    /// Every override that removed a listing of it, oldest first.
    pub overrides: Vec<OverrideView>,
}

/// A listing as stored.
#[derive(Debug, Serialize)]
pub struct Listing {
    /// The agency whose listing it is.
    pub agency: String,
    /// Why (the reason's name, or its code).
    pub reason: String,
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

/// Reads `id`'s history from the store at `path`.
pub fn read(path: &Path, id: &Identifier) -> Result<History, StoreError> {
    // One read transaction: the listing and the overrides of one version.
    let store = Store::read_view(path)?;
    let state = store.state()?;
    Ok(History {
        version: state.version.map(Version::get),
        kind: id.kind().to_string(),
        value: id.as_str().to_owned(),
        listing: store.listed(id)?.map(|meta: EntryMeta| Listing {
            agency: meta.agency.to_string(),
            reason: meta.reason.to_string(),
            listed_at: meta.listed_at.0,
            expires_at: meta.expires_at.map(|t| t.0),
        }),
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
