//! Why bytes are not a well-formed document, or a document cannot be encoded.

use crate::document::DocType;
use crate::keys::{KeyId, SignError};
use crate::normalise::NormaliseError;

/// Bytes that are not a well-formed, canonical document. Each variant names the
/// document type it was reading (when known) and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends before a field it announces.
    #[error("truncated {doc}: {field} needs {needed} bytes, only {available} left")]
    Truncated {
        /// The document type, or "document" when the header is unread.
        doc: &'static str,
        /// The field being read.
        field: &'static str,
        /// Bytes the field needs.
        needed: u64,
        /// Bytes there were.
        available: u64,
    },
    /// Not a blocklist document at all.
    #[error("not a blocklist document: magic bytes {found:02x?}, expected \"BLKL\"")]
    BadMagic {
        /// The first bytes found.
        found: Vec<u8>,
    },
    /// A format version this build does not read.
    #[error(
        "unsupported document format version {found} (this build reads versions 1 to {supported})"
    )]
    UnsupportedFormat {
        /// The version byte found.
        found: u8,
        /// The newest version this build reads.
        supported: u8,
    },
    /// A document type byte that names no type.
    #[error("unknown document type code {code}")]
    UnknownDocType {
        /// The type byte found.
        code: u8,
    },
    /// The header's reserved bytes are not zero.
    #[error("{doc}: reserved header bytes are {found:02x?}, must be zero in format version 1")]
    ReservedBits {
        /// The document type.
        doc: &'static str,
        /// The reserved bytes found.
        found: [u8; 2],
    },
    /// Bytes after the last signature.
    #[error("{doc}: {count} unexpected bytes after the signatures")]
    TrailingBytes {
        /// The document type.
        doc: &'static str,
        /// How many extra bytes.
        count: u64,
    },
    /// The payload does not decode.
    #[error("{doc}: payload does not decode: {reason}")]
    Payload {
        /// The document type.
        doc: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// The payload decodes but is not the one canonical encoding of its content.
    #[error("{doc}: payload is not in canonical form")]
    NonCanonical {
        /// The document type.
        doc: &'static str,
    },
    /// A field breaks a rule of the format.
    #[error("{doc}: invalid {field}: {reason}")]
    Invalid {
        /// The document type.
        doc: &'static str,
        /// The field.
        field: &'static str,
        /// What rule it breaks.
        reason: String,
    },
    /// An identifier in the document is not in canonical form.
    #[error("{doc}: identifier #{index} is invalid: {source}")]
    Identifier {
        /// The document type.
        doc: &'static str,
        /// Its position among the document's identifiers.
        index: u64,
        /// Why it is invalid (boxed: it is large, and this path is rare).
        source: Box<NormaliseError>,
    },
    /// The file a document is read from as it streams could not be read.
    #[error("cannot read {doc}: {reason}")]
    Read {
        /// The document type.
        doc: &'static str,
        /// The I/O error.
        reason: String,
    },
    /// Signatures are not sorted by key id, or a key signed twice.
    #[error("{doc}: signatures must be sorted by key id with at most one per key")]
    SignatureOrder {
        /// The document type.
        doc: &'static str,
    },
}

/// A document that cannot be encoded (the centre's mistake, caught before signing).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The same identifier appears twice in one document.
    #[error("{doc} version {version}: {id} appears more than once")]
    DuplicateIdentifier {
        /// The document type.
        doc: &'static str,
        /// The document's version.
        version: u64,
        /// The identifier, as `kind:value`.
        id: String,
    },
    /// A field breaks a rule of the format.
    #[error("{doc}: invalid {field}: {reason}")]
    Invalid {
        /// The document type.
        doc: &'static str,
        /// The field.
        field: &'static str,
        /// What rule it breaks.
        reason: String,
    },
    /// No signing key was given, or more than a document can carry.
    #[error("{doc}: needs 1 to 255 distinct signing keys, got {count}")]
    SignerCount {
        /// The document type.
        doc: &'static str,
        /// How many were given.
        count: usize,
    },
    /// A document written as it is made could not be written out.
    #[error("{doc}: writing failed: {reason}")]
    Write {
        /// The document type.
        doc: &'static str,
        /// The I/O error.
        reason: String,
    },
    /// A signing key (a token's, typically) failed to sign.
    #[error("{doc}: signing with key {key} failed: {source}")]
    Sign {
        /// The document type.
        doc: &'static str,
        /// The key that failed.
        key: KeyId,
        /// What its holder said.
        source: SignError,
    },
}

impl DocType {
    pub(crate) fn invalid(self, field: &'static str, reason: impl Into<String>) -> DecodeError {
        DecodeError::Invalid {
            doc: self.name(),
            field,
            reason: reason.into(),
        }
    }
}
