//! Digests: [`Sha256`] of files, and the [`StateDigest`] of a whole list.

use std::fmt;

use sha2::{Digest as _, Sha256 as Sha256Hasher};

use crate::entry::Entry;

/// A SHA-256 digest, shown as lower-case hex.
///
/// ```
/// use blocklist_core::Sha256;
/// let d = Sha256::of(b"abc");
/// assert!(d.to_string().starts_with("ba7816bf"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Sha256(pub [u8; 32]);

impl Sha256 {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256 {
        Sha256(Sha256Hasher::digest(bytes).into())
    }

    /// The digest of the concatenation of `parts`, without copying them together.
    pub fn of_parts(parts: &[&[u8]]) -> Sha256 {
        let mut h = Sha256Hasher::new();
        for part in parts {
            h.update(part);
        }
        Sha256(h.finalize().into())
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Option<Sha256> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(Sha256(out))
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({self})")
    }
}

/// A digest of a whole list state (every entry with its metadata), updated
/// entry by entry so that applying a delta costs the size of the delta, not of
/// the list.
///
/// It is a multiset hash: the lane-wise sum (mod 2^64) of the SHA-256 of each
/// entry's canonical bytes. Order does not matter, adding then removing an entry
/// restores the digest, and two replicas holding the same entries always agree.
/// It detects divergence (a lost or doubled operation, a store edited by hand);
/// it is not what makes the list trustworthy: the signatures over the documents
/// that carry it are.
///
/// ```
/// use blocklist_core::*;
/// let rules = Rules::default();
/// let entry = Entry {
///     id: Identifier::parse(Kind::Domain, "scam.example", &rules).unwrap(),
///     meta: EntryMeta { reason: Reason::PHISHING, agency: Agency::new("th-aoc").unwrap(),
///                       listed_at: Timestamp(1), expires_at: None },
/// };
/// let mut state = StateDigest::EMPTY;
/// state.add(&entry);
/// assert_ne!(state, StateDigest::EMPTY);
/// state.remove(&entry);
/// assert_eq!(state, StateDigest::EMPTY);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StateDigest(pub [u8; 32]);

impl StateDigest {
    /// The digest of the empty list.
    pub const EMPTY: StateDigest = StateDigest([0; 32]);

    /// Adds `entry` to the digested multiset.
    pub fn add(&mut self, entry: &Entry) {
        self.combine(&entry_hash(entry), u64::wrapping_add);
    }

    /// Removes `entry` (exactly as it was added) from the digested multiset.
    pub fn remove(&mut self, entry: &Entry) {
        self.combine(&entry_hash(entry), u64::wrapping_sub);
    }

    fn combine(&mut self, hash: &[u8; 32], op: fn(u64, u64) -> u64) {
        for (lane, h) in self.0.chunks_exact_mut(8).zip(hash.chunks_exact(8)) {
            let a = u64::from_le_bytes(lane.try_into().expect("8-byte lane"));
            let b = u64::from_le_bytes(h.try_into().expect("8-byte lane"));
            lane.copy_from_slice(&op(a, b).to_le_bytes());
        }
    }
}

impl fmt::Display for StateDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for StateDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StateDigest({self})")
    }
}

/// SHA-256 over an entry's canonical bytes, as specified in `docs/FORMAT.md`:
/// every variable field is length-prefixed so no two entries share bytes.
fn entry_hash(entry: &Entry) -> [u8; 32] {
    let mut h = Sha256Hasher::new();
    h.update(b"blocklist entry v1\0");
    h.update(entry.id.kind().code().to_le_bytes());
    let value = entry.id.as_str().as_bytes();
    h.update((value.len() as u32).to_le_bytes());
    h.update(value);
    h.update(entry.meta.reason.0.to_le_bytes());
    let agency = entry.meta.agency.as_str().as_bytes();
    h.update([agency.len() as u8]);
    h.update(agency);
    h.update(entry.meta.listed_at.0.to_le_bytes());
    match entry.meta.expires_at {
        None => h.update([0]),
        Some(t) => {
            h.update([1]);
            h.update(t.0.to_le_bytes());
        }
    }
    h.finalize().into()
}
