//! Ed25519 keys: [`Signer`] and [`SecretKey`] for the centre, [`PublicKey`] and [`KeyId`] for everyone.

use std::fmt;

use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};

use crate::digest::Sha256;

/// A key's id: SHA-256 over a context string and the public key, so it is
/// derived from the key and can never be claimed for another one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 32]);

impl KeyId {
    /// The short form people read in logs and errors (first 8 bytes, hex).
    pub fn short(&self) -> String {
        hex::encode(&self.0[..8])
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.short())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.short())
    }
}

/// An Ed25519 public key that is a valid curve point, with its id.
///
/// ```
/// use blocklist_core::SecretKey;
/// let secret = SecretKey::generate().unwrap();
/// let public = secret.public_key();
/// assert_eq!(public.id(), secret.public_key().id());
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
    id: KeyId,
}

/// Bytes that are not an Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ed25519 public key {hex}")]
pub struct InvalidPublicKey {
    /// The bytes, hex-encoded.
    pub hex: String,
}

impl PublicKey {
    /// Parses a 32-byte compressed Edwards point; weak (small-order) keys are refused.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<PublicKey, InvalidPublicKey> {
        let invalid = || InvalidPublicKey {
            hex: hex::encode(bytes),
        };
        let key = VerifyingKey::from_bytes(bytes).map_err(|_| invalid())?;
        if key.is_weak() || !y_is_canonical(bytes) {
            return Err(invalid());
        }
        Ok(PublicKey {
            key,
            id: KeyId(Sha256::of_parts(&[b"blocklist key v1\0", bytes]).0),
        })
    }

    /// The 32 key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// Whether `signature` is this key's strict (non-malleable) signature of `message`.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        self.key.verify_strict(message, &signature).is_ok()
    }
}

/// Whether the encoded y coordinate (the low 255 bits) is below the field
/// prime 2^255 - 19. ed25519-dalek decodes y modulo p, so `y + p` decodes to
/// the same point; RFC 8032 (5.1.3) refuses it, and so must we, or two readers
/// of one trust root could disagree on whether it is valid.
fn y_is_canonical(bytes: &[u8; 32]) -> bool {
    // y >= p exactly when the 255 bits are 0x7fff...ffed through 0x7fff...ffff.
    let top_all_ones = bytes[31] & 0x7f == 0x7f && bytes[1..31].iter().all(|&b| b == 0xff);
    !(top_all_ones && bytes[0] >= 0xed)
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.id.short())
    }
}

/// Anything that holds an Ed25519 key and signs with it: a [`SecretKey`] in
/// memory, or a key that never leaves a hardware token (the centre's
/// `blocklistd::centre::pkcs11`). Documents are signed through this trait, so
/// every kind of key takes the one signing path.
///
/// ```
/// use blocklist_core::keys::{SecretKey, Signer};
/// let key = SecretKey::generate().unwrap();
/// let signer: &dyn Signer = &key;
/// let signature = signer.sign(b"message").unwrap();
/// assert_eq!(signature.len(), 64);
/// assert_eq!(signer.public_key(), key.public_key());
/// ```
pub trait Signer {
    /// The public half of the key, as known before any signing.
    fn public_key(&self) -> PublicKey;

    /// The pure Ed25519 (RFC 8032) signature of `message`. A device can fail
    /// here (removed, logged out, out of sessions); a key in memory never does.
    fn sign(&self, message: &[u8]) -> Result<[u8; 64], SignError>;
}

/// A [`Signer`] could not sign.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{signer} could not sign: {reason}")]
pub struct SignError {
    /// Where the key is held (a token and object), as its owner names it.
    pub signer: String,
    /// What the device said (for a token, the function and its return code).
    pub reason: String,
}

/// An Ed25519 signing key. It never prints its bytes; it is wiped from memory on drop.
pub struct SecretKey(SigningKey);

/// The operating system could not supply randomness for a new key.
#[derive(Debug, thiserror::Error)]
#[error("no randomness for key generation: {reason}")]
pub struct KeygenError {
    /// What the OS said.
    pub reason: String,
}

impl SecretKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<SecretKey, KeygenError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| KeygenError {
            reason: e.to_string(),
        })?;
        let key = SecretKey::from_seed(&seed);
        seed.fill(0);
        Ok(key)
    }

    /// The key for a 32-byte seed (as stored in a key file).
    pub fn from_seed(seed: &[u8; 32]) -> SecretKey {
        SecretKey(SigningKey::from_bytes(seed))
    }

    /// The 32-byte seed, for writing to a key file.
    pub fn to_seed(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_bytes(&self.0.verifying_key().to_bytes())
            .expect("a signing key's own public key is valid")
    }
}

impl Signer for SecretKey {
    fn public_key(&self) -> PublicKey {
        SecretKey::public_key(self)
    }

    fn sign(&self, message: &[u8]) -> Result<[u8; 64], SignError> {
        Ok(self.0.sign(message).to_bytes())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey(for {})", self.public_key().id().short())
    }
}
