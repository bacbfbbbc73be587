//! [`Registry`]: the agencies that may report to a list, their keys and what
//! each may list (`docs/FORMAT.md`, "Agency registry").
//!
//! A registry is a whole-state document, signed like a trust root by a
//! threshold of root keys: the centre's online publish keys can neither add
//! an agency nor give one a key. Its invariants (ids ascending, a key in one
//! agency at most, kinds and keys ascending and non-empty) hold for every
//! `Registry` that exists, since [`Registry::new`] and the decoder are the only
//! ways to make one; the rules between one version and the next are
//! [`Registry::check_follows`].

use serde::{Deserialize, Serialize};

use crate::document::{
    decode_canonical, encode_wire, DecodeError, DocType, Document, EncodeError, Extension, ListId,
    Version,
};
use crate::entry::{Agency, Timestamp};
use crate::keys::{KeyId, PublicKey};
use crate::kind::Kind;

/// The longest display name of an agency, in bytes.
pub const MAX_AGENCY_NAME: usize = 128;

/// One key of an agency, and when it stopped being valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgencyKey {
    /// The public key.
    pub key: PublicKey,
    /// Uses at or after this time are refused; `None` while it is valid.
    pub revoked_at: Option<Timestamp>,
}

impl AgencyKey {
    /// Whether a use at `at` is refused because the key was revoked by then.
    pub fn revoked_by(&self, at: Timestamp) -> Option<Timestamp> {
        self.revoked_at.filter(|since| *since <= at)
    }
}

/// One agency: its id (the text listings carry), display name, the kinds it
/// may list, its keys, and whether it is revoked.
///
/// ```
/// use blocklist_core::document::AgencyEntry;
/// use blocklist_core::{Agency, Kind, SecretKey, Timestamp};
/// let key = SecretKey::generate().unwrap().public_key();
/// let mut bank = AgencyEntry::new(Agency::new("bank-004").unwrap(), "Bank 004 fraud team",
///                                 vec![Kind::Account], vec![key]).unwrap();
/// assert!(bank.may_list(Kind::Account) && !bank.may_list(Kind::Number));
/// bank.revoke_key(&key.id(), Timestamp(100)).unwrap();
/// assert_eq!(bank.key(&key.id()).unwrap().revoked_by(Timestamp(100)), Some(Timestamp(100)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgencyEntry {
    id: Agency,
    name: String,
    kinds: Vec<Kind>,
    keys: Vec<AgencyKey>,
    revoked_at: Option<Timestamp>,
}

impl AgencyEntry {
    /// A new, active agency with `keys` (any order, none twice) that may list `kinds`
    /// (any order, none twice).
    pub fn new(
        id: Agency,
        name: &str,
        mut kinds: Vec<Kind>,
        keys: Vec<PublicKey>,
    ) -> Result<AgencyEntry, EncodeError> {
        kinds.sort_by_key(|k| k.code());
        let mut keys: Vec<AgencyKey> = keys
            .into_iter()
            .map(|key| AgencyKey {
                key,
                revoked_at: None,
            })
            .collect();
        keys.sort_by_key(|k| k.key.id());
        let entry = AgencyEntry {
            id,
            name: name.to_owned(),
            kinds,
            keys,
            revoked_at: None,
        };
        entry
            .check()
            .map_err(|(field, reason)| encode_invalid(field, reason))?;
        Ok(entry)
    }

    /// The agency's id.
    pub fn id(&self) -> &Agency {
        &self.id
    }

    /// Its display name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kinds it may list, ascending by code.
    pub fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    /// Its keys, ascending by key id, revoked ones included.
    pub fn keys(&self) -> &[AgencyKey] {
        &self.keys
    }

    /// When the agency was revoked: every use at or after it is refused.
    pub fn revoked_at(&self) -> Option<Timestamp> {
        self.revoked_at
    }

    /// Whether it may list `kind`.
    pub fn may_list(&self, kind: Kind) -> bool {
        self.kinds.contains(&kind)
    }

    /// The key with id `id`, if the agency has it.
    pub fn key(&self, id: &KeyId) -> Option<&AgencyKey> {
        self.keys
            .binary_search_by_key(id, |k| k.key.id())
            .ok()
            .map(|i| &self.keys[i])
    }

    /// Gives the agency one more key.
    pub fn add_key(&mut self, key: PublicKey) -> Result<(), EncodeError> {
        match self.keys.binary_search_by_key(&key.id(), |k| k.key.id()) {
            Ok(_) => Err(encode_invalid(
                "agency keys",
                format!("agency {} already has key {}", self.id, key.id()),
            )),
            Err(at) => {
                self.keys.insert(
                    at,
                    AgencyKey {
                        key,
                        revoked_at: None,
                    },
                );
                Ok(())
            }
        }
    }

    /// Revokes the agency from `at` on. A revocation is permanent, so an
    /// agency already revoked keeps its time and this is refused.
    pub fn revoke(&mut self, at: Timestamp) -> Result<(), EncodeError> {
        if let Some(since) = self.revoked_at {
            return Err(encode_invalid(
                "agency",
                format!("agency {} is already revoked since {since}", self.id),
            ));
        }
        self.revoked_at = Some(at);
        Ok(())
    }

    /// Revokes one of its keys from `at` on (permanent, as [`Self::revoke`]).
    pub fn revoke_key(&mut self, id: &KeyId, at: Timestamp) -> Result<(), EncodeError> {
        let agency = self.id.clone();
        let key = self
            .keys
            .iter_mut()
            .find(|k| k.key.id() == *id)
            .ok_or_else(|| {
                encode_invalid("agency keys", format!("agency {agency} has no key {id}"))
            })?;
        if let Some(since) = key.revoked_at {
            return Err(encode_invalid(
                "agency keys",
                format!("key {id} of agency {agency} is already revoked since {since}"),
            ));
        }
        key.revoked_at = Some(at);
        Ok(())
    }

    /// The rules of one agency (AR1), as a field and a reason.
    fn check(&self) -> Result<(), (&'static str, String)> {
        let id = &self.id;
        if self.name.is_empty()
            || self.name.len() > MAX_AGENCY_NAME
            || self.name.chars().any(char::is_control)
        {
            return Err((
                "agency name",
                format!(
                    "agency {id}: name {:?} is not 1 to {MAX_AGENCY_NAME} bytes without a control character",
                    self.name
                ),
            ));
        }
        if self.kinds.is_empty() {
            return Err(("agency kinds", format!("agency {id} may list no kind")));
        }
        if self.kinds.windows(2).any(|w| w[0].code() >= w[1].code()) {
            return Err((
                "agency kinds",
                format!("agency {id}: kinds not strictly ascending"),
            ));
        }
        if self.keys.is_empty() {
            return Err(("agency keys", format!("agency {id} has no key")));
        }
        if self.keys.windows(2).any(|w| w[0].key.id() >= w[1].key.id()) {
            return Err((
                "agency keys",
                format!("agency {id}: keys not strictly ascending by key id"),
            ));
        }
        Ok(())
    }
}

/// Who may report to a list: every agency ever registered, active or
/// revoked, signed by a threshold of the current trust root's root keys.
///
/// ```
/// use blocklist_core::document::*;
/// use blocklist_core::{Agency, Kind, SecretKey, Timestamp};
/// let key = SecretKey::generate().unwrap().public_key();
/// let aoc = AgencyEntry::new(Agency::new("th-aoc").unwrap(), "Anti-Online Scam Centre",
///                            vec![Kind::Number, Kind::Domain], vec![key]).unwrap();
/// let registry = Registry::new(ListId::new("demo").unwrap(), Version::FIRST, Timestamp(10),
///                              vec![aoc], vec![]).unwrap();
/// assert_eq!(registry.authorise(&key.id(), Kind::Number, Timestamp(20)).unwrap().id().as_str(), "th-aoc");
/// let refused = registry.authorise(&key.id(), Kind::Account, Timestamp(20)).unwrap_err();
/// assert_eq!(refused.to_string(), "agency th-aoc may not list account: it may list number, domain");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registry {
    /// The list.
    pub list: ListId,
    /// 1 for the first registry, then one more per change.
    pub version: Version,
    /// When it was signed.
    pub issued_at: Timestamp,
    agencies: Vec<AgencyEntry>,
    /// Every key id with the index of its agency, ascending by key id.
    by_key: Vec<(KeyId, usize)>,
    /// Fields added by later format revisions (kept, signed, not interpreted).
    pub extensions: Vec<Extension>,
}

/// Why a registry refuses a use of a key: which key, agency or kind, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryRefusal {
    /// No agency of the registry has the key.
    #[error("key {key} belongs to no agency of registry version {version}")]
    UnknownKey {
        /// The key's id.
        key: KeyId,
        /// The registry's version.
        version: Version,
    },
    /// The agency was revoked at or before the time of use.
    #[error("agency {agency} is revoked since {since} (used at {at})")]
    AgencyRevoked {
        /// The agency.
        agency: Agency,
        /// When it was revoked.
        since: Timestamp,
        /// The time of use.
        at: Timestamp,
    },
    /// The key was revoked at or before the time of use.
    #[error("key {key} of agency {agency} is revoked since {since} (used at {at})")]
    KeyRevoked {
        /// The agency.
        agency: Agency,
        /// The key's id.
        key: KeyId,
        /// When it was revoked.
        since: Timestamp,
        /// The time of use.
        at: Timestamp,
    },
    /// The agency may not list this kind.
    #[error("agency {agency} may not list {kind}: it may list {}", kind_names(.allowed))]
    KindOutOfScope {
        /// The agency.
        agency: Agency,
        /// The kind it tried to list.
        kind: Kind,
        /// The kinds it may list.
        allowed: Vec<Kind>,
    },
}

fn kind_names(kinds: &[Kind]) -> String {
    kinds
        .iter()
        .map(Kind::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A change from one registry version to the next that the rules forbid
/// (AR4, AR5): the registry's history is append-only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryChangeError {
    /// An agency of the previous version is missing.
    #[error("agency {agency} was dropped (an agency is revoked, never removed: AR4)")]
    AgencyDropped {
        /// The agency.
        agency: Agency,
    },
    /// A key of the previous version is missing from its agency.
    #[error("key {key} of agency {agency} was dropped (a key is revoked, never removed: AR4)")]
    KeyDropped {
        /// The agency that had it.
        agency: Agency,
        /// The key's id.
        key: KeyId,
    },
    /// A key of one agency now stands under another.
    #[error(
        "key {key} of agency {from} now stands under agency {to} (a key never changes agency: AR4)"
    )]
    KeyMoved {
        /// The agency that had it.
        from: Agency,
        /// The agency that has it now.
        to: Agency,
        /// The key's id.
        key: KeyId,
    },
    /// A revocation was lifted or its time changed.
    #[error(
        "the revocation of {what} changed from {was} to {now:?} (revocations are permanent: AR4)"
    )]
    RevocationChanged {
        /// The agency, or `key <id> of agency <id>`.
        what: String,
        /// The revocation time in the previous version.
        was: Timestamp,
        /// What the new version says.
        now: Option<Timestamp>,
    },
    /// A new revocation takes effect before the registry carrying it was issued.
    #[error("{what} is revoked from {revoked_at}, before this registry was issued at {issued_at} (a revocation never reaches back: AR5)")]
    RevokedInThePast {
        /// The agency, or `key <id> of agency <id>`.
        what: String,
        /// The revocation time.
        revoked_at: Timestamp,
        /// The registry's `issued_at`.
        issued_at: Timestamp,
    },
    /// Issued before the previous version.
    #[error("issued at {issued_at}, before the previous version's {previous} (AR4)")]
    IssuedBeforePrevious {
        /// The previous version's `issued_at`.
        previous: Timestamp,
        /// This one's.
        issued_at: Timestamp,
    },
}

impl Registry {
    /// A registry of `agencies` (any order; ids and keys must be unique).
    pub fn new(
        list: ListId,
        version: Version,
        issued_at: Timestamp,
        mut agencies: Vec<AgencyEntry>,
        extensions: Vec<Extension>,
    ) -> Result<Registry, EncodeError> {
        agencies.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        let by_key =
            index_keys(&agencies).map_err(|(field, reason)| encode_invalid(field, reason))?;
        Ok(Registry {
            list,
            version,
            issued_at,
            agencies,
            by_key,
            extensions,
        })
    }

    /// Every agency, ascending by id, revoked ones included.
    pub fn agencies(&self) -> &[AgencyEntry] {
        &self.agencies
    }

    /// The agency with id `id`.
    pub fn agency(&self, id: &str) -> Option<&AgencyEntry> {
        self.agencies
            .binary_search_by(|a| a.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.agencies[i])
    }

    /// The agency holding key `key`, and the key.
    pub fn key_owner(&self, key: &KeyId) -> Option<(&AgencyEntry, &AgencyKey)> {
        let at = self.by_key.binary_search_by_key(key, |(id, _)| *id).ok()?;
        let agency = &self.agencies[self.by_key[at].1];
        Some((agency, agency.key(key)?))
    }

    /// Whether the holder of `key` may list `kind` at time `at`: the agency it
    /// acts for, or why not. `at` is the time the centre accepted the
    /// submission; a use at or after a revocation time is refused, one before
    /// it allowed (AR6).
    pub fn authorise(
        &self,
        key: &KeyId,
        kind: Kind,
        at: Timestamp,
    ) -> Result<&AgencyEntry, RegistryRefusal> {
        let (agency, agency_key) = self.key_owner(key).ok_or(RegistryRefusal::UnknownKey {
            key: *key,
            version: self.version,
        })?;
        if let Some(since) = agency.revoked_at.filter(|since| *since <= at) {
            return Err(RegistryRefusal::AgencyRevoked {
                agency: agency.id.clone(),
                since,
                at,
            });
        }
        if let Some(since) = agency_key.revoked_by(at) {
            return Err(RegistryRefusal::KeyRevoked {
                agency: agency.id.clone(),
                key: *key,
                since,
                at,
            });
        }
        if !agency.may_list(kind) {
            return Err(RegistryRefusal::KindOutOfScope {
                agency: agency.id.clone(),
                kind,
                allowed: agency.kinds.clone(),
            });
        }
        Ok(agency)
    }

    /// Whether this registry may follow `previous` (`None`: it is the first):
    /// no agency or key dropped, no key moved, no revocation lifted or
    /// changed, no new revocation before `issued_at`, and not issued before
    /// `previous` (AR4, AR5). Versions and signatures are the verifier's.
    pub fn check_follows(&self, previous: Option<&Registry>) -> Result<(), RegistryChangeError> {
        use RegistryChangeError as E;
        let held_agency = |id: &Agency| previous.and_then(|p| p.agency(id.as_str()));
        if let Some(previous) = previous {
            if self.issued_at < previous.issued_at {
                return Err(E::IssuedBeforePrevious {
                    previous: previous.issued_at,
                    issued_at: self.issued_at,
                });
            }
            for old in &previous.agencies {
                let Some(new) = self.agency(old.id.as_str()) else {
                    return Err(E::AgencyDropped {
                        agency: old.id.clone(),
                    });
                };
                for old_key in &old.keys {
                    let id = old_key.key.id();
                    if new.key(&id).is_none() {
                        return Err(match self.key_owner(&id) {
                            Some((to, _)) => E::KeyMoved {
                                from: old.id.clone(),
                                to: to.id.clone(),
                                key: id,
                            },
                            None => E::KeyDropped {
                                agency: old.id.clone(),
                                key: id,
                            },
                        });
                    }
                }
            }
        }
        // Every revocation: kept as it was, or new and not reaching back.
        for agency in &self.agencies {
            let old = held_agency(&agency.id);
            let what = || format!("agency {}", agency.id);
            check_revocation(
                what,
                old.map(|o| o.revoked_at),
                agency.revoked_at,
                self.issued_at,
            )?;
            for key in &agency.keys {
                let id = key.key.id();
                let what = || format!("key {id} of agency {}", agency.id);
                let was = old.and_then(|o| o.key(&id)).map(|k| k.revoked_at);
                check_revocation(what, was, key.revoked_at, self.issued_at)?;
            }
        }
        Ok(())
    }
}

/// One revocation against the previous version's (`was`: `None` when the
/// agency or key is new, `Some(None)` when it was active).
fn check_revocation(
    what: impl Fn() -> String,
    was: Option<Option<Timestamp>>,
    now: Option<Timestamp>,
    issued_at: Timestamp,
) -> Result<(), RegistryChangeError> {
    match (was.flatten(), now) {
        (Some(was), now) if now != Some(was) => Err(RegistryChangeError::RevocationChanged {
            what: what(),
            was,
            now,
        }),
        (None, Some(revoked_at)) if revoked_at < issued_at => {
            Err(RegistryChangeError::RevokedInThePast {
                what: what(),
                revoked_at,
                issued_at,
            })
        }
        _ => Ok(()),
    }
}

/// Checks the rules of each agency and across them (AR1): ids strictly
/// ascending, each key in one agency at most. Returns the key index.
fn index_keys(agencies: &[AgencyEntry]) -> Result<Vec<(KeyId, usize)>, (&'static str, String)> {
    if let Some(w) = agencies
        .windows(2)
        .find(|w| w[0].id.as_str() >= w[1].id.as_str())
    {
        return Err((
            "agencies",
            format!("ids not strictly ascending ({} then {})", w[0].id, w[1].id),
        ));
    }
    let mut by_key = Vec::new();
    for (i, agency) in agencies.iter().enumerate() {
        agency.check()?;
        by_key.extend(agency.keys.iter().map(|k| (k.key.id(), i)));
    }
    by_key.sort_unstable();
    if let Some(w) = by_key.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err((
            "agency keys",
            format!(
                "key {} belongs to both {} and {}",
                w[0].0, agencies[w[0].1].id, agencies[w[1].1].id
            ),
        ));
    }
    Ok(by_key)
}

fn encode_invalid(field: &'static str, reason: String) -> EncodeError {
    EncodeError::Invalid {
        doc: DocType::Registry.name(),
        field,
        reason,
    }
}

#[derive(Serialize, Deserialize)]
struct WireAgencyKey {
    key: [u8; 32],
    revoked_at: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct WireAgency {
    id: String,
    name: String,
    kinds: Vec<u16>,
    keys: Vec<WireAgencyKey>,
    revoked_at: Option<u64>,
}

#[derive(Serialize, Deserialize)]
struct WireRegistry {
    list: String,
    version: u64,
    issued_at: u64,
    agencies: Vec<WireAgency>,
    extensions: Vec<Extension>,
}

impl WireAgency {
    fn from_entry(entry: &AgencyEntry) -> WireAgency {
        WireAgency {
            id: entry.id.as_str().to_owned(),
            name: entry.name.clone(),
            kinds: entry.kinds.iter().map(|k| k.code()).collect(),
            keys: entry
                .keys
                .iter()
                .map(|k| WireAgencyKey {
                    key: k.key.to_bytes(),
                    revoked_at: k.revoked_at.map(|t| t.0),
                })
                .collect(),
            revoked_at: entry.revoked_at.map(|t| t.0),
        }
    }

    fn into_entry(self) -> Result<AgencyEntry, DecodeError> {
        let doc = DocType::Registry;
        let id = Agency::new(&self.id).map_err(|e| doc.invalid("agency id", e.to_string()))?;
        let keys = self
            .keys
            .into_iter()
            .map(|k| {
                let key = PublicKey::from_bytes(&k.key)
                    .map_err(|e| doc.invalid("agency keys", format!("agency {id}: {e}")))?;
                Ok(AgencyKey {
                    key,
                    revoked_at: k.revoked_at.map(Timestamp),
                })
            })
            .collect::<Result<Vec<_>, DecodeError>>()?;
        Ok(AgencyEntry {
            id,
            name: self.name,
            kinds: self.kinds.into_iter().map(Kind::from_code).collect(),
            keys,
            revoked_at: self.revoked_at.map(Timestamp),
        })
    }
}

impl Document for Registry {
    const TYPE: DocType = DocType::Registry;

    fn encode_payload(&self) -> Result<Vec<u8>, EncodeError> {
        let wire = WireRegistry {
            list: self.list.as_str().to_owned(),
            version: self.version.get(),
            issued_at: self.issued_at.0,
            agencies: self.agencies.iter().map(WireAgency::from_entry).collect(),
            extensions: self.extensions.clone(),
        };
        encode_wire(Self::TYPE, &wire)
    }

    fn decode_payload(payload: &[u8]) -> Result<Self, DecodeError> {
        let doc = Self::TYPE;
        let wire: WireRegistry = decode_canonical(doc, payload)?;
        let agencies = wire
            .agencies
            .into_iter()
            .map(WireAgency::into_entry)
            .collect::<Result<Vec<_>, _>>()?;
        let by_key = index_keys(&agencies).map_err(|(field, reason)| doc.invalid(field, reason))?;
        Ok(Registry {
            list: ListId::decode(doc, &wire.list)?,
            version: Version::decode(doc, wire.version)?,
            issued_at: Timestamp(wire.issued_at),
            agencies,
            by_key,
            extensions: Extension::check(doc, wire.extensions)?,
        })
    }

    fn list(&self) -> &ListId {
        &self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;

    fn key(n: u8) -> PublicKey {
        SecretKey::from_seed(&[n; 32]).public_key()
    }

    fn agency(id: &str, kinds: Vec<Kind>, keys: Vec<PublicKey>) -> AgencyEntry {
        AgencyEntry::new(Agency::new(id).unwrap(), id, kinds, keys).unwrap()
    }

    fn registry(version: u64, issued_at: u64, agencies: Vec<AgencyEntry>) -> Registry {
        Registry::new(
            ListId::new("test").unwrap(),
            Version::new(version).unwrap(),
            Timestamp(issued_at),
            agencies,
            vec![],
        )
        .unwrap()
    }

    #[test]
    fn a_use_is_refused_from_the_revocation_time_and_allowed_before_it() {
        let mut bank = agency("bank-004", vec![Kind::Account], vec![key(1), key(2)]);
        bank.revoke_key(&key(1).id(), Timestamp(100)).unwrap();
        let r = registry(1, 50, vec![bank.clone()]);
        assert!(r
            .authorise(&key(1).id(), Kind::Account, Timestamp(99))
            .is_ok());
        assert!(matches!(
            r.authorise(&key(1).id(), Kind::Account, Timestamp(100)),
            Err(RegistryRefusal::KeyRevoked {
                since: Timestamp(100),
                ..
            })
        ));
        assert!(r
            .authorise(&key(2).id(), Kind::Account, Timestamp(100))
            .is_ok());
        bank.revoke(Timestamp(200)).unwrap();
        let r = registry(2, 60, vec![bank]);
        assert!(r
            .authorise(&key(2).id(), Kind::Account, Timestamp(199))
            .is_ok());
        let refused = r
            .authorise(&key(2).id(), Kind::Account, Timestamp(200))
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "agency bank-004 is revoked since @200 (used at @200)"
        );
        assert!(matches!(
            r.authorise(&key(3).id(), Kind::Account, Timestamp(0)),
            Err(RegistryRefusal::UnknownKey { .. })
        ));
    }

    #[test]
    fn a_key_in_two_agencies_or_an_agency_twice_cannot_be_made() {
        let a = agency("a", vec![Kind::Account], vec![key(1)]);
        let b = agency("b", vec![Kind::Number], vec![key(1)]);
        let err = Registry::new(
            ListId::new("test").unwrap(),
            Version::FIRST,
            Timestamp(0),
            vec![a.clone(), b],
            vec![],
        )
        .unwrap_err();
        assert!(err.to_string().contains("belongs to both a and b"), "{err}");
        let err = Registry::new(
            ListId::new("test").unwrap(),
            Version::FIRST,
            Timestamp(0),
            vec![a.clone(), a],
            vec![],
        )
        .unwrap_err();
        assert!(err.to_string().contains("not strictly ascending"), "{err}");
    }

    #[test]
    fn agency_names_kinds_and_keys_are_checked() {
        let id = || Agency::new("x").unwrap();
        for (name, kinds, keys) in [
            ("", vec![Kind::Account], vec![key(1)]),
            ("a\nb", vec![Kind::Account], vec![key(1)]),
            (&*"n".repeat(129), vec![Kind::Account], vec![key(1)]),
            ("ok", vec![], vec![key(1)]),
            ("ok", vec![Kind::Account, Kind::Account], vec![key(1)]),
            ("ok", vec![Kind::Account], vec![]),
            ("ok", vec![Kind::Account], vec![key(1), key(1)]),
        ] {
            assert!(
                AgencyEntry::new(id(), name, kinds, keys).is_err(),
                "{name:?}"
            );
        }
        assert!(
            AgencyEntry::new(id(), &"n".repeat(128), vec![Kind::Other(7)], vec![key(1)]).is_ok()
        );
    }

    #[test]
    fn history_is_append_only() {
        let a = agency("a", vec![Kind::Account], vec![key(1)]);
        let v1 = registry(1, 10, vec![a.clone()]);
        assert_eq!(v1.check_follows(None), Ok(()));
        // Dropping an agency or a key, moving a key.
        assert!(matches!(
            registry(2, 10, vec![agency("b", vec![Kind::Account], vec![key(2)])])
                .check_follows(Some(&v1)),
            Err(RegistryChangeError::AgencyDropped { .. })
        ));
        assert!(matches!(
            registry(2, 10, vec![agency("a", vec![Kind::Account], vec![key(2)])])
                .check_follows(Some(&v1)),
            Err(RegistryChangeError::KeyDropped { .. })
        ));
        assert!(matches!(
            registry(
                2,
                10,
                vec![
                    agency("a", vec![Kind::Account], vec![key(2)]),
                    agency("b", vec![Kind::Account], vec![key(1)]),
                ]
            )
            .check_follows(Some(&v1)),
            Err(RegistryChangeError::KeyMoved { .. })
        ));
        // Revoking from now on is fine; then it stays.
        let mut revoked = a.clone();
        revoked.revoke_key(&key(1).id(), Timestamp(20)).unwrap();
        let v2 = registry(2, 20, vec![revoked.clone()]);
        assert_eq!(v2.check_follows(Some(&v1)), Ok(()));
        assert!(matches!(
            registry(3, 30, vec![a.clone()]).check_follows(Some(&v2)),
            Err(RegistryChangeError::RevocationChanged { now: None, .. })
        ));
        let mut later = a.clone();
        later.revoke_key(&key(1).id(), Timestamp(25)).unwrap();
        assert!(matches!(
            registry(3, 30, vec![later]).check_follows(Some(&v2)),
            Err(RegistryChangeError::RevocationChanged { .. })
        ));
        assert_eq!(
            registry(3, 30, vec![revoked.clone()]).check_follows(Some(&v2)),
            Ok(())
        );
        // A new revocation never reaches back before its registry.
        assert!(matches!(
            registry(2, 21, vec![revoked]).check_follows(Some(&v1)),
            Err(RegistryChangeError::RevokedInThePast { .. })
        ));
        assert!(matches!(
            registry(2, 9, vec![a]).check_follows(Some(&v1)),
            Err(RegistryChangeError::IssuedBeforePrevious { .. })
        ));
    }

    #[test]
    fn the_payload_round_trips_canonically() {
        let mut a = agency(
            "th-aoc",
            vec![Kind::Domain, Kind::Number],
            vec![key(2), key(1)],
        );
        a.revoke_key(&key(2).id(), Timestamp(7)).unwrap();
        let mut b = agency("bank-004", vec![Kind::Account], vec![key(3)]);
        b.revoke(Timestamp(9)).unwrap();
        let r = registry(4, 5, vec![a, b]);
        let bytes = r.encode_payload().unwrap();
        assert_eq!(Registry::decode_payload(&bytes).unwrap(), r);
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(Registry::decode_payload(&trailing).is_err());
    }
}
