//! Digests: [`Sha256`] of files, and the [`StateDigest`] a document signs for a whole list.

use std::fmt;

use sha2::{Digest as _, Sha256 as Sha256Hasher};

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

/// The 32 bytes a signed document carries for a whole list state (every
/// entry with its metadata): which commitment they are depends on the
/// document's format ([`crate::Commitment`]), and
/// [`crate::StateAccumulator`] computes them, following the list change
/// by change.
///
/// ```
/// use blocklist_core::StateDigest;
/// assert_eq!(StateDigest([0xab; 32]).to_string(), "ab".repeat(32));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StateDigest(pub [u8; 32]);

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
