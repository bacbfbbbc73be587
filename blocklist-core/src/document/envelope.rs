//! The signed envelope every document travels in.
//!
//! ```text
//! magic "BLKL" | format 3 | type | reserved 0 0 | payload length (u64 LE) | payload
//! | signature count (u8) | count x (key id 32 bytes | ed25519 signature 64 bytes)
//! ```
//!
//! Each signature is over `"blocklist v1 " + type name + "\0" + SHA-256(header + payload)`,
//! so a delta signature can never pass for a manifest's, and signatures over a
//! large snapshot cost one hash pass. See `docs/FORMAT.md`.

use std::io::{Read, Write};

use sha2::{Digest as _, Sha256 as Sha2};

use crate::digest::Sha256;
use crate::document::{DecodeError, DocType, EncodeError};
use crate::keys::{KeyId, SignError, Signer};

/// The first four bytes of every document.
pub const MAGIC: [u8; 4] = *b"BLKL";
/// The envelope format this build writes: 3 since the state digest is
/// LtHash16 ([`crate::Commitment`]), so that a reader that would check it
/// as the lane sum refuses the documents instead of calling every state
/// wrong. 2 (agencies are principals: a reader of version 1 alone would
/// ignore the extensions carrying agencies' signatures, E1) and 1 are read
/// too, their state digests as the lane sum they carry.
pub const FORMAT_VERSION: u8 = 3;
/// The oldest envelope format this build reads.
pub const OLDEST_FORMAT_VERSION: u8 = 1;
/// Bytes before the payload.
pub const HEADER_LEN: usize = 16;
const SIGNATURE_LEN: usize = 32 + 64;

/// One signature in an envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    /// The signing key's id.
    pub key_id: KeyId,
    /// The ed25519 signature.
    pub bytes: [u8; 64],
}

/// A parsed, not yet verified, envelope.
#[derive(Clone, Debug)]
pub struct Envelope<'a> {
    /// The format version in the header.
    pub format: u8,
    /// The document type in the header.
    pub doc_type: DocType,
    /// The payload bytes.
    pub payload: &'a [u8],
    /// The signatures, sorted by key id, one per key.
    pub signatures: Vec<Signature>,
    /// The message every signature must be over.
    pub(crate) message: Vec<u8>,
}

/// The fixed-size start of an envelope: enough to judge a file's type and
/// size before reading it whole (the daemon's drop folder caps by type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The format version (which [`crate::Commitment`] a state digest is).
    pub format: u8,
    /// The document type.
    pub doc_type: DocType,
    /// The payload length the header announces (unchecked against any cap).
    pub payload_len: u64,
}

impl Header {
    /// The fewest bytes a complete document with this header takes: header,
    /// payload, signature count and one signature (saturating, as the
    /// announced length is untrusted).
    pub fn min_document_len(&self) -> u64 {
        (HEADER_LEN as u64)
            .saturating_add(self.payload_len)
            .saturating_add(1 + SIGNATURE_LEN as u64)
    }
}

/// Reads and checks the header (magic, format version, type, reserved bytes,
/// payload length) from the first [`HEADER_LEN`] bytes of `bytes`.
///
/// ```
/// use blocklist_core::document::{envelope, DocType};
/// let header = envelope::parse_header(b"BLKL\x03\x03\0\0\x10\0\0\0\0\0\0\0").unwrap();
/// assert_eq!((header.format, header.doc_type, header.payload_len), (3, DocType::Delta, 16));
/// // Versions 1 and 2, written before the state digest was LtHash16, are read too.
/// assert!(envelope::parse_header(b"BLKL\x02\x03\0\0\x10\0\0\0\0\0\0\0").is_ok());
/// assert!(envelope::parse_header(b"BLKL\x01\x03\0\0\x10\0\0\0\0\0\0\0").is_ok());
/// assert!(envelope::parse_header(b"<html>not a document").is_err());
/// ```
pub fn parse_header(bytes: &[u8]) -> Result<Header, DecodeError> {
    read_header(&mut Reader {
        bytes,
        pos: 0,
        doc: "document",
    })
}

/// Reads the envelope's structure (header, payload bounds, signatures); checks
/// no signature.
pub fn parse(bytes: &[u8]) -> Result<Envelope<'_>, DecodeError> {
    let mut reader = Reader {
        bytes,
        pos: 0,
        doc: "document",
    };
    let Header {
        format,
        doc_type,
        payload_len,
    } = read_header(&mut reader)?;
    let payload = reader.take("payload", payload_len)?;
    let digest = Sha256::of(&bytes[..reader.pos]);
    let count = reader.take("signature count", 1)?[0];
    let mut signatures = Vec::with_capacity(count.into());
    for _ in 0..count {
        let raw = reader.take("signature", SIGNATURE_LEN as u64)?;
        let signature = Signature {
            key_id: KeyId(raw[..32].try_into().expect("32")),
            bytes: raw[32..].try_into().expect("64"),
        };
        if signatures
            .last()
            .is_some_and(|prev: &Signature| prev.key_id >= signature.key_id)
        {
            return Err(DecodeError::SignatureOrder {
                doc: doc_type.name(),
            });
        }
        signatures.push(signature);
    }
    let trailing = bytes.len() - reader.pos;
    if trailing != 0 {
        return Err(DecodeError::TrailingBytes {
            doc: doc_type.name(),
            count: trailing as u64,
        });
    }
    Ok(Envelope {
        format,
        doc_type,
        payload,
        signatures,
        message: signing_message(doc_type, &digest),
    })
}

/// An envelope read from a stream ([`scan`]): the payload was hashed as it
/// passed and is not held, so a snapshot of any size costs a fixed amount of
/// memory to check.
#[derive(Clone, Debug)]
pub struct Scanned {
    /// The header.
    pub header: Header,
    /// The signatures, sorted by key id, one per key.
    pub signatures: Vec<Signature>,
    /// SHA-256 of the header and payload: what the signatures sign (within
    /// the signed message).
    pub signed_digest: Sha256,
    /// SHA-256 of the whole file.
    pub file_sha256: Sha256,
    /// The message every signature must be over.
    pub(crate) message: Vec<u8>,
}

/// Reads an envelope's structure from `reader` as [`parse`] does from bytes,
/// hashing the payload in fixed-size pieces instead of holding it; checks no
/// signature.
///
/// ```
/// use blocklist_core::document::{envelope, DocType};
/// use blocklist_core::SecretKey;
/// let key = SecretKey::generate().unwrap();
/// let bytes = envelope::seal(DocType::Snapshot, b"payload", &[&key]).unwrap();
/// let scanned = envelope::scan(&mut &bytes[..]).unwrap();
/// assert_eq!(scanned.header.payload_len, 7);
/// assert_eq!(scanned.file_sha256, blocklist_core::Sha256::of(&bytes));
/// ```
pub fn scan(reader: &mut impl Read) -> Result<Scanned, DecodeError> {
    let mut file = Sha2::new();
    let mut read = |field: &'static str, doc: &'static str, buf: &mut [u8]| {
        read_full(reader, buf).map_err(|e| match e {
            Short(available) => DecodeError::Truncated {
                doc,
                field,
                needed: buf.len() as u64,
                available,
            },
            Failed(e) => DecodeError::Read {
                doc,
                reason: e.to_string(),
            },
        })?;
        file.update(&*buf);
        Ok::<_, DecodeError>(())
    };
    let mut head = [0u8; HEADER_LEN];
    if let Err(e) = read("header", "document", &mut head) {
        // A short header is judged as `parse` judges the same bytes: a wrong
        // magic, format or type before the missing field, else truncated.
        return Err(match e {
            DecodeError::Truncated { available, .. } => {
                let read = usize::try_from(available).map_or(HEADER_LEN, |n| n.min(HEADER_LEN));
                parse_header(&head[..read]).err().unwrap_or(e)
            }
            e => e,
        });
    }
    let header = parse_header(&head)?;
    let doc = header.doc_type.name();
    let mut signed = Sha2::new();
    signed.update(head);
    let mut chunk = vec![0u8; SCAN_CHUNK];
    let mut left = header.payload_len;
    while left > 0 {
        let n = left.min(SCAN_CHUNK as u64) as usize;
        read("payload", doc, &mut chunk[..n])?;
        signed.update(&chunk[..n]);
        left -= n as u64;
    }
    let signed_digest = Sha256(signed.finalize().into());
    let mut count = [0u8];
    read("signature count", doc, &mut count)?;
    let mut signatures: Vec<Signature> = Vec::with_capacity(count[0].into());
    for _ in 0..count[0] {
        let mut raw = [0u8; SIGNATURE_LEN];
        read("signature", doc, &mut raw)?;
        let signature = Signature {
            key_id: KeyId(raw[..32].try_into().expect("32")),
            bytes: raw[32..].try_into().expect("64"),
        };
        if signatures
            .last()
            .is_some_and(|prev| prev.key_id >= signature.key_id)
        {
            return Err(DecodeError::SignatureOrder { doc });
        }
        signatures.push(signature);
    }
    let trailing = std::io::copy(reader, &mut std::io::sink()).map_err(|e| DecodeError::Read {
        doc,
        reason: e.to_string(),
    })?;
    if trailing != 0 {
        return Err(DecodeError::TrailingBytes {
            doc,
            count: trailing,
        });
    }
    Ok(Scanned {
        header,
        signatures,
        message: signing_message(header.doc_type, &signed_digest),
        signed_digest,
        file_sha256: Sha256(file.finalize().into()),
    })
}

/// The size of the pieces [`scan`] hashes a payload in.
const SCAN_CHUNK: usize = 256 << 10;

/// Why [`read_full`] stopped.
pub(crate) enum ReadFailure {
    /// The input ended after this many bytes.
    Short(u64),
    /// The input could not be read.
    Failed(std::io::Error),
}
pub(crate) use ReadFailure::{Failed, Short};

/// Fills `buf` from `reader`, as `read_exact` does, but telling a short input
/// (how short) from a failed read.
pub(crate) fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> Result<(), ReadFailure> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Err(Short(filled as u64)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Failed(e)),
        }
    }
    Ok(())
}

/// The header fields, leaving `reader` at the payload.
fn read_header(reader: &mut Reader<'_>) -> Result<Header, DecodeError> {
    let magic = reader.take("magic", 4)?;
    if magic != MAGIC {
        return Err(DecodeError::BadMagic {
            found: magic.to_vec(),
        });
    }
    let format = reader.take("format version", 1)?[0];
    if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&format) {
        return Err(DecodeError::UnsupportedFormat {
            found: format,
            supported: FORMAT_VERSION,
        });
    }
    let doc_type = DocType::from_code(reader.take("document type", 1)?[0])?;
    reader.doc = doc_type.name();
    let reserved = reader.take("reserved bytes", 2)?;
    if reserved != [0, 0] {
        return Err(DecodeError::ReservedBits {
            doc: doc_type.name(),
            found: [reserved[0], reserved[1]],
        });
    }
    let payload_len = u64::from_le_bytes(reader.take("payload length", 8)?.try_into().expect("8"));
    Ok(Header {
        format,
        doc_type,
        payload_len,
    })
}

/// Wraps `payload` in an envelope of [`FORMAT_VERSION`] signed by each of
/// `keys`. Each signature is checked against its key's public half before it
/// is written, so a device that signs with another key than it claims (or
/// another EdDSA variant) is caught at the centre, not by every client.
pub fn seal<S: Signer + ?Sized>(
    doc_type: DocType,
    payload: &[u8],
    keys: &[&S],
) -> Result<Vec<u8>, EncodeError> {
    seal_format(FORMAT_VERSION, doc_type, payload, keys)
}

/// [`seal`] in envelope format `format`, one this build reads: for tests and
/// tools that must write what an older build wrote (a format-2 document
/// carries the lane sum as its state digest, which its caller computes).
///
/// ```
/// use blocklist_core::document::{envelope, DocType};
/// use blocklist_core::SecretKey;
/// let key = SecretKey::generate().unwrap();
/// let bytes = envelope::seal_format(2, DocType::Delta, b"payload", &[&key]).unwrap();
/// assert_eq!(envelope::parse(&bytes).unwrap().format, 2);
/// assert!(envelope::seal_format(9, DocType::Delta, b"payload", &[&key]).is_err());
/// ```
pub fn seal_format<S: Signer + ?Sized>(
    format: u8,
    doc_type: DocType,
    payload: &[u8],
    keys: &[&S],
) -> Result<Vec<u8>, EncodeError> {
    if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&format) {
        return Err(EncodeError::Invalid {
            doc: doc_type.name(),
            field: "format version",
            reason: format!("{format} is not one this build reads ({OLDEST_FORMAT_VERSION} to {FORMAT_VERSION})"),
        });
    }
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + 1 + keys.len() * SIGNATURE_LEN);
    out.extend_from_slice(&header(format, doc_type, payload.len() as u64));
    out.extend_from_slice(payload);
    out.extend_from_slice(&signature_block(doc_type, &Sha256::of(&out), keys)?);
    Ok(out)
}

/// The header of a document of `payload_len` payload bytes.
fn header(format: u8, doc_type: DocType, payload_len: u64) -> [u8; HEADER_LEN] {
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(&MAGIC);
    header[4] = format;
    header[5] = doc_type.code();
    header[8..].copy_from_slice(&payload_len.to_le_bytes());
    header
}

/// The signature count and signatures over `signed` (the digest of header
/// and payload), each checked against its key's public half.
fn signature_block<S: Signer + ?Sized>(
    doc_type: DocType,
    signed: &Sha256,
    keys: &[&S],
) -> Result<Vec<u8>, EncodeError> {
    let mut signers: Vec<_> = keys.iter().map(|k| (k.public_key(), *k)).collect();
    signers.sort_by_key(|(public, _)| public.id());
    signers.dedup_by_key(|(public, _)| public.id());
    if signers.is_empty() || signers.len() > usize::from(u8::MAX) || signers.len() != keys.len() {
        return Err(EncodeError::SignerCount {
            doc: doc_type.name(),
            count: keys.len(),
        });
    }
    let message = signing_message(doc_type, signed);
    let mut out = Vec::with_capacity(1 + signers.len() * SIGNATURE_LEN);
    out.push(signers.len() as u8);
    for (public, key) in signers {
        let failed = |source: SignError| EncodeError::Sign {
            doc: doc_type.name(),
            key: public.id(),
            source,
        };
        let signature = key.sign(&message).map_err(failed)?;
        if !public.verifies(&message, &signature) {
            return Err(failed(SignError {
                signer: format!("key {}", public.id()),
                reason: "the signature does not verify under the key's public half".to_owned(),
            }));
        }
        out.extend_from_slice(&public.id().0);
        out.extend_from_slice(&signature);
    }
    Ok(out)
}

/// [`seal`] for a payload too large to hold (a snapshot of millions of
/// entries): the payload is written through it as it is made, hashed on the
/// way, and the signatures follow. Its length must be known first, since the
/// header that announces it is hashed before it.
///
/// ```
/// use std::io::Write;
/// use blocklist_core::document::{envelope, envelope::SealWriter, DocType};
/// use blocklist_core::{SecretKey, Sha256};
/// let key = SecretKey::generate().unwrap();
/// let mut writer = SealWriter::begin(Vec::new(), DocType::Delta, 7).unwrap();
/// writer.write_all(b"pay").unwrap();
/// writer.write_all(b"load").unwrap();
/// let (bytes, sealed) = writer.finish(&[&key]).unwrap();
/// assert_eq!(bytes, envelope::seal(DocType::Delta, b"payload", &[&key]).unwrap());
/// assert_eq!((sealed.sha256, sealed.size), (Sha256::of(&bytes), bytes.len() as u64));
/// ```
pub struct SealWriter<W> {
    out: W,
    doc_type: DocType,
    signed: Sha2,
    size: u64,
    left: u64,
}

/// What [`SealWriter::finish`] wrote: the file's digest and size, as a
/// manifest lists it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sealed {
    /// SHA-256 of the whole document.
    pub sha256: Sha256,
    /// Its length in bytes.
    pub size: u64,
}

impl<W: Write> SealWriter<W> {
    /// Writes the header of a document of `doc_type` (in [`FORMAT_VERSION`])
    /// whose payload is `payload_len` bytes.
    pub fn begin(
        out: W,
        doc_type: DocType,
        payload_len: u64,
    ) -> Result<SealWriter<W>, EncodeError> {
        let mut writer = SealWriter {
            out,
            doc_type,
            signed: Sha2::new(),
            size: 0,
            // The header goes through the same hashing writes as the
            // payload, counted against its own length.
            left: HEADER_LEN as u64,
        };
        writer
            .write_all(&header(FORMAT_VERSION, doc_type, payload_len))
            .map_err(|e| writer.failed(&e))?;
        writer.left = payload_len;
        Ok(writer)
    }

    /// Signs what was written with each of `keys` and writes the
    /// signatures, once exactly the announced payload was written.
    pub fn finish<S: Signer + ?Sized>(mut self, keys: &[&S]) -> Result<(W, Sealed), EncodeError> {
        if self.left != 0 {
            return Err(EncodeError::Invalid {
                doc: self.doc_type.name(),
                field: "payload",
                reason: format!(
                    "{} bytes short of the length its header announces",
                    self.left
                ),
            });
        }
        let mut file = self.signed.clone();
        let signed = Sha256(std::mem::take(&mut self.signed).finalize().into());
        let block = signature_block(self.doc_type, &signed, keys)?;
        file.update(&block);
        self.out.write_all(&block).map_err(|e| self.failed(&e))?;
        Ok((
            self.out,
            Sealed {
                sha256: Sha256(file.finalize().into()),
                size: self.size + block.len() as u64,
            },
        ))
    }

    /// A write error as an [`EncodeError`].
    pub(crate) fn failed(&self, error: &std::io::Error) -> EncodeError {
        EncodeError::Write {
            doc: self.doc_type.name(),
            reason: error.to_string(),
        }
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(std::io::Error::other(format!(
                "{} bytes written past the payload length the header announces",
                buf.len() as u64 - self.left
            )));
        }
        let n = self.out.write(buf)?;
        self.signed.update(&buf[..n]);
        self.size += n as u64;
        self.left -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

fn signing_message(doc_type: DocType, digest: &Sha256) -> Vec<u8> {
    [
        b"blocklist v1 ",
        doc_type.name().as_bytes(),
        b"\0",
        &digest.0,
    ]
    .concat()
}

/// A cursor that turns running out of input into [`DecodeError::Truncated`].
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    doc: &'static str,
}

impl<'a> Reader<'a> {
    fn take(&mut self, field: &'static str, len: u64) -> Result<&'a [u8], DecodeError> {
        let available = (self.bytes.len() - self.pos) as u64;
        if len > available {
            return Err(DecodeError::Truncated {
                doc: self.doc,
                field,
                needed: len,
                available,
            });
        }
        let start = self.pos;
        self.pos += len as usize;
        Ok(&self.bytes[start..self.pos])
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::keys::{PublicKey, SecretKey};

    #[test]
    fn a_sealed_payload_must_be_as_long_as_announced() {
        let key = SecretKey::from_seed(&[7; 32]);
        let mut sealer = SealWriter::begin(Vec::new(), DocType::Snapshot, 3).unwrap();
        assert!(sealer.write_all(b"four").is_err());
        let mut sealer = SealWriter::begin(Vec::new(), DocType::Snapshot, 3).unwrap();
        sealer.write_all(b"ab").unwrap();
        let err = sealer.finish(&[&key]).err().unwrap();
        assert!(err.to_string().contains("1 bytes short"), "{err}");
    }

    /// A device that claims one key and signs with another (a token whose
    /// public key object belongs to another private key), or fails.
    struct Device {
        claims: PublicKey,
        signs_with: Option<SecretKey>,
    }

    impl Signer for Device {
        fn public_key(&self) -> PublicKey {
            self.claims
        }

        fn sign(&self, message: &[u8]) -> Result<[u8; 64], SignError> {
            match &self.signs_with {
                Some(key) => Signer::sign(key, message),
                None => Err(SignError {
                    signer: "test device".to_owned(),
                    reason: "CKR_DEVICE_REMOVED".to_owned(),
                }),
            }
        }
    }

    #[test]
    fn a_signature_that_does_not_verify_under_the_claimed_key_is_refused() {
        let claimed = SecretKey::from_seed(&[1; 32]);
        let device = Device {
            claims: claimed.public_key(),
            signs_with: Some(SecretKey::from_seed(&[2; 32])),
        };
        let err = seal(DocType::Delta, b"payload", &[&device]).unwrap_err();
        assert!(
            matches!(&err, EncodeError::Sign { key, .. } if *key == claimed.public_key().id()),
            "{err:?}"
        );
        assert!(err.to_string().contains("does not verify"), "{err}");
    }

    #[test]
    fn a_failing_signer_is_named_and_file_keys_mix_with_devices() {
        let file_key = SecretKey::from_seed(&[3; 32]);
        let broken = Device {
            claims: SecretKey::from_seed(&[4; 32]).public_key(),
            signs_with: None,
        };
        let err = seal(
            DocType::Manifest,
            b"m",
            &[&file_key as &dyn Signer, &broken],
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "manifest: signing with key {} failed: test device could not sign: CKR_DEVICE_REMOVED",
                broken.claims.id()
            )
        );
        let honest = Device {
            claims: SecretKey::from_seed(&[4; 32]).public_key(),
            signs_with: Some(SecretKey::from_seed(&[4; 32])),
        };
        let bytes = seal(
            DocType::Manifest,
            b"m",
            &[&file_key as &dyn Signer, &honest],
        )
        .unwrap();
        assert_eq!(parse(&bytes).unwrap().signatures.len(), 2);
    }

    proptest! {
        /// `scan` reads a stream as `parse` reads bytes: the same envelope,
        /// or a refusal for the same input.
        #[test]
        fn scan_and_parse_agree(
            payload in proptest::collection::vec(any::<u8>(), 0..64),
            signers in 1usize..3,
            cut in any::<prop::sample::Index>(),
            flip in any::<Option<(prop::sample::Index, u8)>>(),
        ) {
            let keys: Vec<SecretKey> = (0..signers).map(|i| SecretKey::from_seed(&[i as u8 + 1; 32])).collect();
            let mut bytes = seal(DocType::Snapshot, &payload, &keys.iter().collect::<Vec<_>>()).unwrap();
            if let Some((at, byte)) = flip {
                let i = at.index(bytes.len());
                bytes[i] ^= byte;
            }
            let len = bytes.len();
            for input in [&bytes[..], &bytes[..cut.index(len)]] {
                match (parse(input), scan(&mut &input[..])) {
                    (Ok(parsed), Ok(scanned)) => {
                        prop_assert_eq!(parsed.doc_type, scanned.header.doc_type);
                        prop_assert_eq!(parsed.payload.len() as u64, scanned.header.payload_len);
                        prop_assert_eq!(parsed.signatures, scanned.signatures);
                        prop_assert_eq!(parsed.message, scanned.message);
                        prop_assert_eq!(Sha256::of(input), scanned.file_sha256);
                    }
                    // The same refusal (a truncation may name another field).
                    (Err(a), Err(b)) => prop_assert_eq!(
                        std::mem::discriminant(&a),
                        std::mem::discriminant(&b),
                        "parse {:?}, scan {:?}", a, b
                    ),
                    (a, b) => prop_assert!(false, "parse {:?}, scan {:?}", a.map(|_| ()), b.map(|_| ())),
                }
            }
        }
    }
}
