//! Witness cosignatures (C2SP tlog-cosignature, `cosignature/v1`): an
//! independent party (a regulator, the central bank) that has checked a
//! checkpoint extends every one it cosigned before adds its own signature
//! line to the checkpoint's note. A replica that requires k of n named
//! witnesses takes a checkpoint only with k of their cosignatures, so a
//! centre can show a fork only to replicas that trust no witness, or by
//! fooling k witnesses at once.
//!
//! A cosignature signs `cosignature/v1\ntime <seconds>\n` followed by the
//! checkpoint's text; its line holds the key id (signature type 0x04), the
//! time (8 bytes, big-endian) and the Ed25519 signature. A witness is named
//! to a replica by its verifier key, `<name>+<key id hex>+<base64 of 0x04
//! and the key>`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::document::EncodeError;
use crate::keys::{PublicKey, Signer};
use crate::log::checkpoint::{is_key_name, key_id_of_type, NoteSignature, SignedCheckpoint};
use crate::log::LogError;

/// The signed-note signature type of a `cosignature/v1` key.
const COSIGNATURE_TYPE: u8 = 0x04;

/// Key id, time, signature.
const COSIGNATURE_LEN: usize = 4 + 8 + 64;

/// A witness: the name its lines carry and its public key.
///
/// ```
/// use blocklist_core::keys::SecretKey;
/// use blocklist_core::log::witness::Witness;
/// let key = SecretKey::generate().unwrap();
/// let witness = Witness::new("witness.regulator.example", key.public_key()).unwrap();
/// let vkey = witness.vkey();
/// assert!(vkey.starts_with("witness.regulator.example+"));
/// assert_eq!(Witness::parse_vkey(&vkey).unwrap(), witness);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witness {
    name: String,
    key: PublicKey,
}

impl Witness {
    /// A witness named `name` (a signed-note key name: no space, no `+`).
    pub fn new(name: &str, key: PublicKey) -> Result<Witness, LogError> {
        if !is_key_name(name) {
            return Err(LogError::Witness {
                witness: name.to_owned(),
                reason: "a witness name is not empty and holds no space or '+'".to_owned(),
            });
        }
        Ok(Witness {
            name: name.to_owned(),
            key,
        })
    }

    /// Reads a verifier key, `<name>+<key id hex>+<base64 of 0x04 and the
    /// key>`, refusing one whose id is not its name's and key's.
    pub fn parse_vkey(vkey: &str) -> Result<Witness, LogError> {
        let refuse = |reason: &str| LogError::Witness {
            witness: vkey.to_owned(),
            reason: reason.to_owned(),
        };
        // The name and id hold no '+'; base64 may.
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(refuse("a verifier key is <name>+<key id>+<key>"));
        };
        let key = STANDARD
            .decode(key)
            .ok()
            .and_then(|k| <[u8; 33]>::try_from(k).ok())
            .filter(|k| k[0] == COSIGNATURE_TYPE)
            .ok_or_else(|| {
                refuse("the key is not base64 of 0x04 and 32 bytes (a cosignature/v1 key)")
            })?;
        let key = PublicKey::from_bytes(key[1..].try_into().expect("32 of 33 bytes"))
            .map_err(|e| refuse(&e.to_string()))?;
        let witness = Witness::new(name, key)?;
        if id != hex::encode(witness.key_id()) {
            return Err(refuse("the key id is not the one of its name and key"));
        }
        Ok(witness)
    }

    /// Its verifier key, as [`Witness::parse_vkey`] reads it.
    pub fn vkey(&self) -> String {
        let mut key = vec![COSIGNATURE_TYPE];
        key.extend_from_slice(&self.key.to_bytes());
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id()),
            STANDARD.encode(key)
        )
    }

    /// The name its lines carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> [u8; 4] {
        key_id_of_type(&self.name, COSIGNATURE_TYPE, &self.key)
    }

    /// The time this witness cosigned `checkpoint` at, if a line of its
    /// verifies; a line of its that does not verify refuses the checkpoint.
    fn cosigned(&self, checkpoint: &SignedCheckpoint) -> Result<Option<u64>, LogError> {
        let id = self.key_id();
        let body = checkpoint.checkpoint().body();
        let mut at = None;
        for line in &checkpoint.signatures {
            if line.name != self.name || line.blob[..4] != id {
                continue;
            }
            let verified = <[u8; COSIGNATURE_LEN]>::try_from(&line.blob[..])
                .ok()
                .and_then(|blob| {
                    let time = u64::from_be_bytes(blob[4..12].try_into().expect("8 bytes"));
                    let signature: [u8; 64] = blob[12..].try_into().expect("64 bytes");
                    self.key
                        .verifies(message(&body, time).as_bytes(), &signature)
                        .then_some(time)
                });
            match verified {
                Some(time) => at = Some(time),
                None => {
                    return Err(LogError::Witness {
                        witness: self.name.clone(),
                        reason: format!(
                            "its cosignature of the checkpoint at size {} does not verify",
                            checkpoint.checkpoint().size
                        ),
                    })
                }
            }
        }
        Ok(at)
    }
}

/// The witnesses a replica requires: at least `needed` of them must have
/// cosigned a checkpoint before it is taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Witnesses {
    witnesses: Vec<Witness>,
    needed: usize,
}

impl Witnesses {
    /// `needed` of `witnesses` (each named once; 1 to all of them).
    pub fn new(witnesses: Vec<Witness>, needed: usize) -> Result<Witnesses, LogError> {
        let refuse = |reason: String| LogError::Witness {
            witness: witnesses
                .iter()
                .map(Witness::name)
                .collect::<Vec<_>>()
                .join(", "),
            reason,
        };
        if needed == 0 || needed > witnesses.len() {
            return Err(refuse(format!(
                "{needed} of {} witnesses cannot be required",
                witnesses.len()
            )));
        }
        for (i, w) in witnesses.iter().enumerate() {
            if witnesses[..i]
                .iter()
                .any(|o| o.name == w.name || o.key == w.key)
            {
                return Err(refuse(format!("{} is named twice", w.name)));
            }
        }
        Ok(Witnesses { witnesses, needed })
    }

    /// Checks that at least the number needed cosigned `checkpoint`, and
    /// returns who did. A cosignature of a named witness that does not
    /// verify refuses it; lines of others are ignored.
    pub fn check(&self, checkpoint: &SignedCheckpoint) -> Result<Vec<&str>, LogError> {
        let mut cosigned = Vec::new();
        for witness in &self.witnesses {
            if witness.cosigned(checkpoint)?.is_some() {
                cosigned.push(witness.name());
            }
        }
        if cosigned.len() < self.needed {
            return Err(LogError::Witnesses {
                size: checkpoint.checkpoint().size,
                cosigned: cosigned.len(),
                needed: self.needed,
                named: self
                    .witnesses
                    .iter()
                    .map(Witness::name)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        Ok(cosigned)
    }
}

/// What a cosignature at `time` signs.
fn message(body: &str, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{body}")
}

impl SignedCheckpoint {
    /// This note with `witness`'s cosignature at `time` (seconds since the
    /// epoch) added, in place of any earlier one of the same key.
    ///
    /// ```
    /// use blocklist_core::document::{KeySet, ListId};
    /// use blocklist_core::keys::{SecretKey, Signer};
    /// use blocklist_core::log::checkpoint::{origin, Checkpoint, SignedCheckpoint};
    /// use blocklist_core::log::witness::{Witness, Witnesses};
    /// use blocklist_core::Sha256;
    /// let (publish, witness_key) = (SecretKey::generate().unwrap(), SecretKey::generate().unwrap());
    /// let head = Checkpoint { origin: origin(&ListId::new("demo").unwrap()), size: 3, root: Sha256::of(b"r") };
    /// let signed = SignedCheckpoint::sign(head, &[&publish as &dyn Signer]).unwrap();
    /// let witness = Witness::new("witness.example", witness_key.public_key()).unwrap();
    /// let required = Witnesses::new(vec![witness], 1).unwrap();
    /// assert!(required.check(&signed).is_err());
    /// let cosigned = signed.cosign("witness.example", &witness_key, 1_700_000_000).unwrap();
    /// assert_eq!(required.check(&cosigned).unwrap(), ["witness.example"]);
    /// ```
    pub fn cosign(
        &self,
        witness: &str,
        signer: &dyn Signer,
        time: u64,
    ) -> Result<SignedCheckpoint, EncodeError> {
        let id = key_id_of_type(witness, COSIGNATURE_TYPE, &signer.public_key());
        let body = self.checkpoint().body();
        let signature = signer
            .sign(message(&body, time).as_bytes())
            .map_err(|source| EncodeError::Sign {
                doc: "log cosignature",
                key: signer.public_key().id(),
                source,
            })?;
        let mut lines: Vec<NoteSignature> = self
            .signatures
            .iter()
            .filter(|l| !(l.name == witness && l.blob[..4] == id))
            .cloned()
            .collect();
        lines.push(NoteSignature {
            name: witness.to_owned(),
            blob: [&id[..], &time.to_be_bytes(), &signature].concat(),
        });
        Ok(SignedCheckpoint::with_lines(
            self.checkpoint().clone(),
            lines,
        ))
    }

    /// This note with the signature lines of `other`, a note of the same
    /// checkpoint (a witness's cosigned copy), that it lacks.
    pub fn with_lines_of(&self, other: &SignedCheckpoint) -> Result<SignedCheckpoint, LogError> {
        self.same_checkpoint(other)?;
        Ok(self.with_new_lines(other.signatures.iter()))
    }

    /// This note with the cosignatures in `other`, a note of the same
    /// checkpoint, of those of `known` that cosigned it there, and the
    /// names of those witnesses: what a centre takes from a party it cannot
    /// vouch for (lines of other names are dropped, so a stranger cannot
    /// grow the checkpoint). A line of a known witness that does not verify
    /// refuses the note, and so does one that no known witness cosigned.
    ///
    /// ```
    /// use blocklist_core::document::ListId;
    /// use blocklist_core::keys::{SecretKey, Signer};
    /// use blocklist_core::log::checkpoint::{origin, Checkpoint, SignedCheckpoint};
    /// use blocklist_core::log::witness::Witness;
    /// use blocklist_core::Sha256;
    /// let keys = [SecretKey::generate().unwrap(), SecretKey::generate().unwrap(), SecretKey::generate().unwrap()];
    /// let head = Checkpoint { origin: origin(&ListId::new("demo").unwrap()), size: 3, root: Sha256::of(b"r") };
    /// let signed = SignedCheckpoint::sign(head, &[&keys[0] as &dyn Signer]).unwrap();
    /// let known = [Witness::new("witness.example", keys[1].public_key()).unwrap()];
    /// let copy = signed.cosign("witness.example", &keys[1], 1_700_000_000).unwrap()
    ///     .cosign("stranger.example", &keys[2], 1_700_000_000).unwrap();
    /// let (taken, by) = signed.with_cosignatures_of(&copy, &known).unwrap();
    /// assert_eq!(by, ["witness.example"]);
    /// assert!(!String::from_utf8_lossy(taken.as_bytes()).contains("stranger.example"));
    /// ```
    pub fn with_cosignatures_of(
        &self,
        other: &SignedCheckpoint,
        known: &[Witness],
    ) -> Result<(SignedCheckpoint, Vec<String>), LogError> {
        self.same_checkpoint(other)?;
        let mut by = Vec::new();
        let mut lines = Vec::new();
        for witness in known {
            if witness.cosigned(other)?.is_some() {
                let id = witness.key_id();
                lines.extend(
                    other
                        .signatures
                        .iter()
                        .filter(|l| l.name == witness.name && l.blob[..4] == id),
                );
                by.push(witness.name.clone());
            }
        }
        if by.is_empty() {
            return Err(LogError::Witness {
                witness: known
                    .iter()
                    .map(Witness::name)
                    .collect::<Vec<_>>()
                    .join(", "),
                reason: format!(
                    "none of them cosigned the checkpoint at size {} offered",
                    other.checkpoint().size
                ),
            });
        }
        Ok((self.with_new_lines(lines.into_iter()), by))
    }

    fn same_checkpoint(&self, other: &SignedCheckpoint) -> Result<(), LogError> {
        if other.checkpoint() != self.checkpoint() {
            return Err(LogError::Checkpoint {
                reason: format!(
                    "the cosigned checkpoint (size {}) is not this log's checkpoint (size {}): cosign the current one",
                    other.checkpoint().size,
                    self.checkpoint().size
                ),
            });
        }
        Ok(())
    }

    /// This note with those of `new` it lacks (by name and key id).
    fn with_new_lines<'a>(&self, new: impl Iterator<Item = &'a NoteSignature>) -> SignedCheckpoint {
        let mut lines = self.signatures.clone();
        for line in new {
            if !lines
                .iter()
                .any(|l| l.name == line.name && l.blob[..4] == line.blob[..4])
            {
                lines.push(line.clone());
            }
        }
        SignedCheckpoint::with_lines(self.checkpoint().clone(), lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::ListId;
    use crate::keys::SecretKey;
    use crate::log::checkpoint::{origin, Checkpoint};
    use crate::Sha256;

    fn checkpoint(size: u64) -> SignedCheckpoint {
        let head = Checkpoint {
            origin: origin(&ListId::new("demo").unwrap()),
            size,
            root: Sha256::of(&size.to_be_bytes()),
        };
        SignedCheckpoint::sign(head, &[&SecretKey::from_seed(&[1; 32]) as &dyn Signer]).unwrap()
    }

    fn witness(seed: u8, name: &str) -> (SecretKey, Witness) {
        let key = SecretKey::from_seed(&[seed; 32]);
        let witness = Witness::new(name, key.public_key()).unwrap();
        (key, witness)
    }

    #[test]
    fn k_of_n_named_witnesses_must_cosign_and_a_bad_line_of_one_refuses() {
        let (ka, a) = witness(2, "a.example");
        let (kb, b) = witness(3, "b.example");
        let (kc, _) = witness(4, "c.example");
        let required = Witnesses::new(vec![a.clone(), b.clone()], 2).unwrap();
        let signed = checkpoint(5);
        let one = signed.cosign("a.example", &ka, 10).unwrap();
        let err = required.check(&one).unwrap_err().to_string();
        assert!(
            err.contains("cosigned by 1 of the 2 witnesses needed"),
            "{err}"
        );
        // An unnamed witness's line counts for nothing.
        let other = one.cosign("c.example", &kc, 10).unwrap();
        assert!(required.check(&other).is_err());
        let both = other.cosign("b.example", &kb, 11).unwrap();
        assert_eq!(required.check(&both).unwrap(), ["a.example", "b.example"]);
        // Read back from its bytes, as a replica does.
        let parsed = SignedCheckpoint::parse(both.as_bytes()).unwrap();
        assert_eq!(required.check(&parsed).unwrap().len(), 2);
        // A cosignature of another checkpoint, carried over: refused.
        let moved = checkpoint(6).with_lines_of(&checkpoint(6)).unwrap();
        let text = String::from_utf8(moved.as_bytes().to_vec()).unwrap()
            + &String::from_utf8(both.as_bytes().to_vec())
                .unwrap()
                .lines()
                .filter(|l| l.contains("a.example"))
                .map(|l| format!("{l}\n"))
                .collect::<String>();
        let err = required
            .check(&SignedCheckpoint::parse(text.as_bytes()).unwrap())
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not verify"), "{err}");
        // Cosigning again replaces the line.
        let again = both.cosign("a.example", &ka, 12).unwrap();
        assert_eq!(again.signatures.len(), both.signatures.len());
        assert_eq!(a.cosigned(&again).unwrap(), Some(12));
    }

    #[test]
    fn cosigned_copies_merge_into_the_note_of_the_same_checkpoint_only() {
        let (ka, a) = witness(2, "a.example");
        let (kb, b) = witness(3, "b.example");
        let signed = checkpoint(5);
        let from_a = signed.cosign("a.example", &ka, 10).unwrap();
        let from_b = signed.cosign("b.example", &kb, 10).unwrap();
        let merged = signed
            .with_lines_of(&from_a)
            .unwrap()
            .with_lines_of(&from_b)
            .unwrap()
            .with_lines_of(&from_a)
            .unwrap();
        assert_eq!(merged.signatures.len(), 3);
        let required = Witnesses::new(vec![a, b], 2).unwrap();
        assert_eq!(required.check(&merged).unwrap().len(), 2);
        let err = checkpoint(6)
            .with_lines_of(&from_a)
            .unwrap_err()
            .to_string();
        assert!(err.contains("size 5") && err.contains("size 6"), "{err}");
    }

    proptest::proptest! {
        /// Any text is refused as a verifier key or read back as itself.
        #[test]
        fn verifier_keys_are_refused_or_read_as_written(text in "\\PC{0,80}") {
            if let Ok(witness) = Witness::parse_vkey(&text) {
                proptest::prop_assert_eq!(witness.vkey(), text);
            }
        }

        /// A cosigned note with bytes changed: refused, or its witness line
        /// verifies only where the bytes it signs are unchanged.
        #[test]
        fn changed_cosignatures_never_verify(at in 0usize..400, byte in proptest::prelude::any::<u8>()) {
            let (key, w) = witness(9, "w.example");
            let cosigned = checkpoint(5).cosign("w.example", &key, 10).unwrap();
            let mut bytes = cosigned.as_bytes().to_vec();
            let at = at % bytes.len();
            bytes[at] = byte;
            let required = Witnesses::new(vec![w], 1).unwrap();
            if let Ok(note) = SignedCheckpoint::parse(&bytes) {
                if required.check(&note).is_ok() {
                    proptest::prop_assert_eq!(note.checkpoint(), cosigned.checkpoint());
                }
            }
        }
    }

    #[test]
    fn every_verifier_key_reads_back_whatever_its_base64_holds() {
        for seed in 0..=255u8 {
            let (_, w) = witness(seed, "w.example");
            assert_eq!(Witness::parse_vkey(&w.vkey()).unwrap(), w);
        }
    }

    #[test]
    fn verifier_keys_and_witness_sets_are_checked() {
        let (_, a) = witness(2, "a.example");
        let vkey = a.vkey();
        let wrong_id = {
            let mut parts: Vec<&str> = vkey.split('+').collect();
            parts[1] = "00000000";
            parts.join("+")
        };
        for bad in [
            "a.example",
            wrong_id.as_str(),
            "a.example+00000000+AAAA",
            &vkey.replacen("a.example", "b.example", 1),
        ] {
            assert!(Witness::parse_vkey(bad).is_err(), "{bad}");
        }
        assert!(Witness::new("two words", a.key).is_err());
        assert!(Witnesses::new(vec![a.clone()], 0).is_err());
        assert!(Witnesses::new(vec![a.clone()], 2).is_err());
        assert!(Witnesses::new(vec![a.clone(), a], 1).is_err());
    }
}
