//! The signed envelope every document travels in.
//!
//! ```text
//! magic "BLKL" | format 1 | type | reserved 0 0 | payload length (u64 LE) | payload
//! | signature count (u8) | count x (key id 32 bytes | ed25519 signature 64 bytes)
//! ```
//!
//! Each signature is over `"blocklist v1 " + type name + "\0" + SHA-256(header + payload)`,
//! so a delta signature can never pass for a manifest's, and signatures over a
//! large snapshot cost one hash pass. See `docs/FORMAT.md`.

use crate::digest::Sha256;
use crate::document::{DecodeError, DocType, EncodeError};
use crate::keys::{KeyId, SecretKey};

/// The first four bytes of every document.
pub const MAGIC: [u8; 4] = *b"BLKL";
/// The envelope format this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
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
/// let header = envelope::parse_header(b"BLKL\x01\x03\0\0\x10\0\0\0\0\0\0\0").unwrap();
/// assert_eq!((header.doc_type, header.payload_len), (DocType::Delta, 16));
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
        doc_type,
        payload,
        signatures,
        message: signing_message(doc_type, &digest),
    })
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
    if format != FORMAT_VERSION {
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
        doc_type,
        payload_len,
    })
}

/// Wraps `payload` in an envelope signed by each of `keys`.
pub fn seal(
    doc_type: DocType,
    payload: &[u8],
    keys: &[&SecretKey],
) -> Result<Vec<u8>, EncodeError> {
    let mut signers: Vec<_> = keys.iter().map(|k| (k.public_key().id(), *k)).collect();
    signers.sort_by_key(|(id, _)| *id);
    signers.dedup_by_key(|(id, _)| *id);
    if signers.is_empty() || signers.len() > usize::from(u8::MAX) || signers.len() != keys.len() {
        return Err(EncodeError::SignerCount {
            doc: doc_type.name(),
            count: keys.len(),
        });
    }
    let mut out =
        Vec::with_capacity(HEADER_LEN + payload.len() + 1 + signers.len() * SIGNATURE_LEN);
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_VERSION);
    out.push(doc_type.code());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(payload);
    let message = signing_message(doc_type, &Sha256::of(&out));
    out.push(signers.len() as u8);
    for (id, key) in signers {
        out.extend_from_slice(&id.0);
        out.extend_from_slice(&key.sign(&message));
    }
    Ok(out)
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
