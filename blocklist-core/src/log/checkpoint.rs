//! The log's signed head: a C2SP checkpoint (origin, tree size, root hash,
//! one line each) in a C2SP signed note, signed by the trust root's publish
//! keys. Witnesses add their own signature lines to the same text; a reader
//! checks the lines of the keys it knows and keeps the others.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::document::EncodeError;
use crate::document::{KeySet, ListId};
use crate::keys::{PublicKey, Signer};
use crate::log::LogError;
use crate::Sha256;

/// The most bytes a signed checkpoint may hold: three short lines and a
/// few dozen signature lines.
pub const MAX_CHECKPOINT_LEN: usize = 16 << 10;

/// The signed-note signature type of an Ed25519 key (C2SP signed-note).
const ED25519_TYPE: u8 = 0x01;

/// What a checkpoint says: whose log, how many entries, and their root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name, `blocklist/<list>` ([`origin`]).
    pub origin: String,
    /// The number of entries.
    pub size: u64,
    /// The root of the tree of those entries.
    pub root: Sha256,
}

/// The origin line of `list`'s log. It starts `blocklist/`, so a note's
/// text never begins as a document's signed message (`blocklist v1 `) does:
/// a publish key's signature of one is never a signature of the other.
pub fn origin(list: &ListId) -> String {
    format!("blocklist/{}", list.as_str())
}

impl Checkpoint {
    /// The note text the keys sign.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root.0)
        )
    }
}

/// One signature line of a note: the key's name, then its 4-byte key id and
/// the signature (for a key of another type, whatever that type puts there).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct NoteSignature {
    pub(super) name: String,
    pub(super) blob: Vec<u8>,
}

/// A checkpoint and the signature lines under it, as one signed note.
///
/// ```
/// use blocklist_core::document::{KeySet, ListId};
/// use blocklist_core::keys::{SecretKey, Signer};
/// use blocklist_core::log::checkpoint::{origin, Checkpoint, SignedCheckpoint};
/// use blocklist_core::Sha256;
/// let key = SecretKey::generate().unwrap();
/// let list = ListId::new("demo").unwrap();
/// let head = Checkpoint { origin: origin(&list), size: 3, root: Sha256::of(b"root") };
/// let signed = SignedCheckpoint::sign(head, &[&key as &dyn Signer]).unwrap();
/// let parsed = SignedCheckpoint::parse(signed.as_bytes()).unwrap();
/// let keys = KeySet::new(vec![key.public_key()], 1).unwrap();
/// parsed.verify(&list, &keys).unwrap();
/// assert_eq!(parsed.checkpoint().size, 3);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedCheckpoint {
    checkpoint: Checkpoint,
    pub(super) signatures: Vec<NoteSignature>,
    bytes: Vec<u8>,
}

/// A key's 4-byte id under `name` (C2SP signed-note: the first bytes of
/// SHA-256 of the name, a newline, the type byte and the key).
fn note_key_id(name: &str, key: &PublicKey) -> [u8; 4] {
    key_id_of_type(name, ED25519_TYPE, key)
}

/// A key's 4-byte id under `name` for its signature type `kind`.
pub(super) fn key_id_of_type(name: &str, kind: u8, key: &PublicKey) -> [u8; 4] {
    let digest = Sha256::of_parts(&[name.as_bytes(), b"\n", &[kind], &key.to_bytes()]);
    digest.0[..4].try_into().expect("4 of 32 bytes")
}

impl SignedCheckpoint {
    /// Signs `checkpoint` with each of `signers` (under the origin as the
    /// key name, lines in key id order); a key that fails to sign is named.
    pub fn sign(
        checkpoint: Checkpoint,
        signers: &[&dyn Signer],
    ) -> Result<SignedCheckpoint, EncodeError> {
        let body = checkpoint.body();
        let mut signatures = Vec::new();
        for signer in signers {
            let id = note_key_id(&checkpoint.origin, &signer.public_key());
            let signature = signer
                .sign(body.as_bytes())
                .map_err(|source| EncodeError::Sign {
                    doc: "log checkpoint",
                    key: signer.public_key().id(),
                    source,
                })?;
            signatures.push(NoteSignature {
                name: checkpoint.origin.clone(),
                blob: [&id[..], &signature].concat(),
            });
        }
        signatures.sort_by(|a, b| a.blob[..4].cmp(&b.blob[..4]));
        Ok(SignedCheckpoint::with_lines(checkpoint, signatures))
    }

    /// The note of `checkpoint` under `signatures`, in that order.
    pub(super) fn with_lines(
        checkpoint: Checkpoint,
        signatures: Vec<NoteSignature>,
    ) -> SignedCheckpoint {
        let bytes = render(&checkpoint.body(), &signatures);
        SignedCheckpoint {
            checkpoint,
            signatures,
            bytes,
        }
    }

    /// Reads a signed checkpoint, refusing anything but one in the form
    /// [`SignedCheckpoint::sign`] writes (signature lines of other keys, a
    /// witness's, are kept). Signatures are not checked here.
    pub fn parse(bytes: &[u8]) -> Result<SignedCheckpoint, LogError> {
        let refuse = |reason: &str| LogError::Checkpoint {
            reason: reason.to_owned(),
        };
        if bytes.len() > MAX_CHECKPOINT_LEN {
            return Err(refuse("longer than any checkpoint"));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| refuse("not UTF-8"))?;
        let (body, lines) = text
            .split_once("\n\n")
            .ok_or_else(|| refuse("no blank line between the text and its signatures"))?;
        let mut fields = body.split('\n');
        let (Some(origin), Some(size), Some(root), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(refuse("the text is not three lines (origin, size, root)"));
        };
        if !is_key_name(origin) {
            return Err(refuse("the origin is empty or holds a space or a '+'"));
        }
        let size = size
            .parse::<u64>()
            .ok()
            .filter(|n| n.to_string() == size)
            .ok_or_else(|| refuse("the size is not a decimal number"))?;
        let root = STANDARD
            .decode(root)
            .ok()
            .and_then(|r| <[u8; 32]>::try_from(r).ok())
            .ok_or_else(|| refuse("the root is not 32 bytes in base64"))?;
        let mut signatures = Vec::new();
        for line in lines.split_terminator('\n') {
            let (name, blob) = line
                .strip_prefix("\u{2014} ")
                .and_then(|l| l.split_once(' '))
                .ok_or_else(|| refuse("a signature line is not \"\u{2014} <name> <base64>\""))?;
            let blob = STANDARD
                .decode(blob)
                .ok()
                .filter(|b| b.len() > 4 && is_key_name(name))
                .ok_or_else(|| refuse("a signature line's name or base64 is malformed"))?;
            signatures.push(NoteSignature {
                name: name.to_owned(),
                blob,
            });
        }
        if signatures.is_empty() {
            return Err(refuse("no signature lines"));
        }
        let checkpoint = Checkpoint {
            origin: origin.to_owned(),
            size,
            root: Sha256(root),
        };
        if render(&checkpoint.body(), &signatures) != bytes {
            return Err(refuse("not in canonical form"));
        }
        Ok(SignedCheckpoint {
            checkpoint,
            signatures,
            bytes: bytes.to_vec(),
        })
    }

    /// Checks that the checkpoint is `list`'s and that at least the
    /// threshold of `keys` (the publish keys of the root in force) signed it.
    /// A line of one of those keys that does not verify refuses it; lines
    /// of other keys (witnesses) are left for their readers.
    pub fn verify(&self, list: &ListId, keys: &KeySet) -> Result<(), LogError> {
        let expected = origin(list);
        if self.checkpoint.origin != expected {
            return Err(LogError::Origin {
                expected,
                found: self.checkpoint.origin.clone(),
            });
        }
        let body = self.checkpoint.body();
        let mut signed_by = Vec::new();
        for line in self.signatures.iter().filter(|s| s.name == expected) {
            let Some(key) = keys
                .keys()
                .iter()
                .find(|k| line.blob[..4] == note_key_id(&expected, k))
            else {
                continue;
            };
            let signature: Option<&[u8; 64]> = line.blob[4..].try_into().ok();
            if !signature.is_some_and(|s| key.verifies(body.as_bytes(), s)) {
                return Err(LogError::Signature {
                    size: self.checkpoint.size,
                    reason: format!(
                        "the signature of publish key {} does not verify",
                        key.id().short()
                    ),
                });
            }
            if !signed_by.contains(&key.id()) {
                signed_by.push(key.id());
            }
        }
        if signed_by.len() < usize::from(keys.threshold()) {
            return Err(LogError::Signature {
                size: self.checkpoint.size,
                reason: format!(
                    "signed by {} of the publish keys, {} needed",
                    signed_by.len(),
                    keys.threshold()
                ),
            });
        }
        Ok(())
    }

    /// What the checkpoint says.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// How many signature lines the note carries (the publish keys' and
    /// witnesses' alike).
    pub fn lines(&self) -> usize {
        self.signatures.len()
    }

    /// The key names of the note's signature lines, in their order: the
    /// log's origin for the publish keys' lines, a witness's name for each
    /// of its cosignatures. Unverified: [`SignedCheckpoint::verify`] and
    /// the witness rules say which of them count.
    pub fn signer_names(&self) -> impl Iterator<Item = &str> {
        self.signatures.iter().map(|s| s.name.as_str())
    }

    /// The note's bytes, as signed and served.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// A signed-note key name: not empty, no Unicode space, no `+`.
pub(super) fn is_key_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn render(body: &str, signatures: &[NoteSignature]) -> Vec<u8> {
    let mut text = format!("{body}\n");
    for s in signatures {
        text.push_str(&format!(
            "\u{2014} {} {}\n",
            s.name,
            STANDARD.encode(&s.blob)
        ));
    }
    text.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SecretKey;
    use proptest::prelude::*;

    proptest! {
        /// A signed checkpoint with bytes changed, cut or added: refused,
        /// or read back as exactly those bytes, and never a panic.
        #[test]
        fn changed_checkpoints_are_refused_or_read_as_they_are(
            edits in proptest::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 0..4),
            junk in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let key = SecretKey::from_seed(&[1; 32]);
            let list = ListId::new("demo").unwrap();
            let keys = KeySet::new(vec![key.public_key()], 1).unwrap();
            let mut bytes = signed(&[&key]).as_bytes().to_vec();
            for (at, byte, how) in edits {
                let at = at % (bytes.len() + 1);
                match how {
                    0 if at < bytes.len() => bytes[at] = byte,
                    1 => bytes.insert(at, byte),
                    _ => bytes.truncate(at),
                }
            }
            for input in [bytes, junk] {
                if let Ok(parsed) = SignedCheckpoint::parse(&input) {
                    prop_assert_eq!(parsed.as_bytes(), &input[..]);
                    let _ = parsed.verify(&list, &keys);
                }
            }
        }
    }

    fn signed(keys: &[&SecretKey]) -> SignedCheckpoint {
        let head = Checkpoint {
            origin: origin(&ListId::new("demo").unwrap()),
            size: 12,
            root: Sha256::of(b"r"),
        };
        let signers: Vec<&dyn Signer> = keys.iter().map(|k| *k as &dyn Signer).collect();
        SignedCheckpoint::sign(head, &signers).unwrap()
    }

    #[test]
    fn a_threshold_of_publish_keys_must_sign_and_other_lines_are_kept_unread() {
        let (a, b, other) = (
            SecretKey::from_seed(&[1; 32]),
            SecretKey::from_seed(&[2; 32]),
            SecretKey::from_seed(&[3; 32]),
        );
        let list = ListId::new("demo").unwrap();
        let keys = KeySet::new(vec![a.public_key(), b.public_key()], 2).unwrap();
        signed(&[&a, &b]).verify(&list, &keys).unwrap();
        let one = signed(&[&a, &other]);
        let err = one.verify(&list, &keys).unwrap_err().to_string();
        assert!(
            err.contains("signed by 1 of the publish keys, 2 needed"),
            "{err}"
        );
        // A witness's line (another name) is kept and ignored.
        let mut text = String::from_utf8(signed(&[&a, &b]).as_bytes().to_vec()).unwrap();
        text.push_str(&format!(
            "\u{2014} witness.example {}\n",
            STANDARD.encode([7u8; 72])
        ));
        let with_witness = SignedCheckpoint::parse(text.as_bytes()).unwrap();
        with_witness.verify(&list, &keys).unwrap();
        assert_eq!(with_witness.as_bytes(), text.as_bytes());
        // Another list's log.
        let err = with_witness
            .verify(&ListId::new("other").unwrap(), &keys)
            .unwrap_err();
        assert!(matches!(err, LogError::Origin { .. }), "{err}");
    }

    #[test]
    fn a_changed_text_or_signature_is_refused() {
        let key = SecretKey::from_seed(&[1; 32]);
        let list = ListId::new("demo").unwrap();
        let keys = KeySet::new(vec![key.public_key()], 1).unwrap();
        let good = String::from_utf8(signed(&[&key]).as_bytes().to_vec()).unwrap();
        let bigger = good.replacen("\n12\n", "\n13\n", 1);
        let err = SignedCheckpoint::parse(bigger.as_bytes())
            .unwrap()
            .verify(&list, &keys)
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not verify"), "{err}");
        for (bad, says) in [
            (good.replacen("\n12\n", "\n012\n", 1), "size"),
            (good.replacen("\n\n", "\nextra\n\n", 1), "three lines"),
            (good.replacen("\u{2014} ", "- ", 1), "signature line"),
            (
                good.split("\n\n").next().unwrap().to_owned() + "\n\n",
                "no signature lines",
            ),
            (
                good.replacen("blocklist/demo\n", "blocklist demo\n", 1),
                "origin",
            ),
        ] {
            let err = SignedCheckpoint::parse(bad.as_bytes())
                .unwrap_err()
                .to_string();
            assert!(err.contains(says), "{says}: {err}");
        }
    }
}
