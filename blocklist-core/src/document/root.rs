//! [`TrustRoot`]: who may sign, and how many must agree.

use serde::{Deserialize, Serialize};

use crate::document::{
    decode_canonical, encode_wire, DecodeError, DocType, Document, EncodeError, Extension, ListId,
    Version,
};
use crate::entry::Timestamp;
use crate::keys::{KeyId, PublicKey, SecretKey};

/// Keys and how many of them must sign (m of n). Keys are distinct and kept
/// sorted by id; the threshold is 1..=n. These rules hold for every `KeySet`
/// that exists, since [`KeySet::new`] and the decoder are the only ways to make one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySet {
    keys: Vec<PublicKey>,
    threshold: u8,
}

impl KeySet {
    /// A key set requiring `threshold` of `keys`.
    ///
    /// ```
    /// use blocklist_core::{SecretKey, document::KeySet};
    /// let (a, b) = (SecretKey::generate().unwrap(), SecretKey::generate().unwrap());
    /// assert!(KeySet::new(vec![a.public_key(), b.public_key()], 2).is_ok());
    /// assert!(KeySet::new(vec![a.public_key()], 2).is_err());
    /// ```
    pub fn new(mut keys: Vec<PublicKey>, threshold: u8) -> Result<KeySet, EncodeError> {
        let invalid = |reason: String| EncodeError::Invalid {
            doc: DocType::Root.name(),
            field: "key set",
            reason,
        };
        keys.sort_by_key(PublicKey::id);
        if keys.windows(2).any(|w| w[0].id() == w[1].id()) {
            return Err(invalid("a key is listed twice".into()));
        }
        if keys.len() > usize::from(u8::MAX)
            || threshold == 0
            || usize::from(threshold) > keys.len()
        {
            return Err(invalid(format!(
                "threshold {threshold} of {} keys (need 1 <= threshold <= keys <= 255)",
                keys.len()
            )));
        }
        Ok(KeySet { keys, threshold })
    }

    /// The keys, sorted by id.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// How many distinct keys must sign.
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// The key with id `id`, if it is in the set.
    pub fn get(&self, id: &KeyId) -> Option<&PublicKey> {
        self.keys
            .binary_search_by_key(id, PublicKey::id)
            .ok()
            .map(|i| &self.keys[i])
    }
}

/// The keys a client trusts for one list. Root keys (kept offline) sign the
/// next trust root; publish keys (online) sign manifests, deltas and snapshots;
/// override keys (offline, held by the people who decide appeals), when the
/// root names them, sign the overrides that remove an agency's listing
/// without that agency ([`crate::document::Override`]).
/// A new root is accepted only when a threshold of the current root keys and a
/// threshold of its own root keys sign it, which is how keys are rotated and a
/// compromised key revoked. Expiry is advisory: clients warn ahead of it and
/// never stop answering lookups because of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustRoot {
    /// The list.
    pub list: ListId,
    /// 1 for the first root, then one more per rotation.
    pub version: Version,
    /// When it was signed.
    pub issued_at: Timestamp,
    /// When clients start warning that it is due for rotation.
    pub expires_at: Timestamp,
    /// Who signs the next root.
    pub root_keys: KeySet,
    /// Who signs manifests, deltas and snapshots.
    pub publish_keys: KeySet,
    /// Who signs overrides (`None`: no override can be made under this
    /// root). Carried in extension [`OVERRIDE_KEYS_EXTENSION`].
    pub override_keys: Option<KeySet>,
    /// Fields added by later format revisions (kept, signed, not interpreted).
    pub extensions: Vec<Extension>,
}

impl TrustRoot {
    /// A first root where one key holds both roles (for tests and small setups).
    pub fn single_key(
        list: ListId,
        key: &SecretKey,
        issued_at: Timestamp,
        expires_at: Timestamp,
    ) -> TrustRoot {
        let set = KeySet {
            keys: vec![key.public_key()],
            threshold: 1,
        };
        TrustRoot {
            list,
            version: Version::FIRST,
            issued_at,
            expires_at,
            root_keys: set.clone(),
            publish_keys: set,
            override_keys: None,
            extensions: vec![],
        }
    }
}

/// The root extension tag of [`TrustRoot::override_keys`].
pub const OVERRIDE_KEYS_EXTENSION: u16 = 1;

#[derive(Serialize, Deserialize)]
struct WireKeySet {
    keys: Vec<[u8; 32]>,
    threshold: u8,
}

#[derive(Serialize, Deserialize)]
struct WireRoot {
    list: String,
    version: u64,
    issued_at: u64,
    expires_at: u64,
    root_keys: WireKeySet,
    publish_keys: WireKeySet,
    extensions: Vec<Extension>,
}

impl WireKeySet {
    fn from_set(set: &KeySet) -> WireKeySet {
        WireKeySet {
            keys: set.keys.iter().map(PublicKey::to_bytes).collect(),
            threshold: set.threshold,
        }
    }

    fn into_set(self, field: &'static str) -> Result<KeySet, DecodeError> {
        let doc = DocType::Root;
        let keys = self
            .keys
            .iter()
            .map(|k| PublicKey::from_bytes(k).map_err(|e| doc.invalid(field, e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        if keys.windows(2).any(|w| w[0].id() >= w[1].id()) {
            return Err(doc.invalid(field, "keys not strictly ascending by id"));
        }
        KeySet::new(keys, self.threshold).map_err(|e| doc.invalid(field, e.to_string()))
    }
}

impl Document for TrustRoot {
    const TYPE: DocType = DocType::Root;

    fn encode_payload(&self) -> Result<Vec<u8>, EncodeError> {
        let wire = WireRoot {
            list: self.list.as_str().to_owned(),
            version: self.version.get(),
            issued_at: self.issued_at.0,
            expires_at: self.expires_at.0,
            root_keys: WireKeySet::from_set(&self.root_keys),
            publish_keys: WireKeySet::from_set(&self.publish_keys),
            extensions: Extension::place(
                Self::TYPE,
                &self.extensions,
                OVERRIDE_KEYS_EXTENSION,
                "override keys",
                &self
                    .override_keys
                    .iter()
                    .map(WireKeySet::from_set)
                    .collect::<Vec<_>>(),
            )?,
        };
        encode_wire(Self::TYPE, &wire)
    }

    fn decode_payload(payload: &[u8]) -> Result<Self, DecodeError> {
        let doc = Self::TYPE;
        let wire: WireRoot = decode_canonical(doc, payload)?;
        let mut extensions = Extension::check(doc, wire.extensions)?;
        let mut override_keys = Extension::take(
            doc,
            &mut extensions,
            OVERRIDE_KEYS_EXTENSION,
            "override keys",
        )?;
        if override_keys.len() > 1 {
            return Err(doc.invalid("override keys", "more than one key set"));
        }
        Ok(TrustRoot {
            list: ListId::decode(doc, &wire.list)?,
            version: Version::decode(doc, wire.version)?,
            issued_at: Timestamp(wire.issued_at),
            expires_at: Timestamp(wire.expires_at),
            root_keys: wire.root_keys.into_set("root keys")?,
            publish_keys: wire.publish_keys.into_set("publish keys")?,
            override_keys: override_keys
                .pop()
                .map(|set: WireKeySet| set.into_set("override keys"))
                .transpose()?,
            extensions,
        })
    }

    fn list(&self) -> &ListId {
        &self.list
    }
}
