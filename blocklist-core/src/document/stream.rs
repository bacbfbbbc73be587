//! Reading a canonical postcard payload from a byte stream, one field at a
//! time, so that a payload far larger than memory can be decoded in bounded
//! memory (a snapshot of millions of entries).
//!
//! The in-memory decoders check canonical form by re-encoding what they
//! decoded; a stream cannot be re-encoded whole, so this reader refuses every
//! non-canonical form as it meets it: an over-long varint (a last byte of
//! zero after the first), a varint past its type's range, an `Option` tag
//! other than 0 or 1, a string that is not UTF-8, and bytes left over after
//! the last field. Those are exactly the forms postcard 1.x can write
//! differently (`docs/FORMAT.md`, P1).

use std::io::Read;

use crate::document::envelope::{read_full, Failed, Short};
use crate::document::{DecodeError, DocType};

/// A payload of known length read from `inner`, field by field.
pub(crate) struct PayloadReader<R> {
    inner: R,
    /// Payload bytes not read yet.
    left: u64,
    doc: DocType,
}

impl<R: Read> PayloadReader<R> {
    /// Reads a payload of `len` bytes from `inner` (placed at its first byte).
    pub(crate) fn new(doc: DocType, inner: R, len: u64) -> Self {
        PayloadReader {
            inner,
            left: len,
            doc,
        }
    }

    /// Fills `buf` from the payload.
    fn fill(&mut self, field: &'static str, buf: &mut [u8]) -> Result<(), DecodeError> {
        let needed = buf.len() as u64;
        if needed > self.left {
            return Err(self.truncated(field, needed, self.left));
        }
        read_full(&mut self.inner, buf).map_err(|e| match e {
            Short(available) => self.truncated(field, needed, available),
            Failed(e) => DecodeError::Read {
                doc: self.doc.name(),
                reason: e.to_string(),
            },
        })?;
        self.left -= needed;
        Ok(())
    }

    fn truncated(&self, field: &'static str, needed: u64, available: u64) -> DecodeError {
        DecodeError::Truncated {
            doc: self.doc.name(),
            field,
            needed,
            available,
        }
    }

    fn payload_error(&self, field: &'static str, reason: &str) -> DecodeError {
        DecodeError::Payload {
            doc: self.doc.name(),
            reason: format!("{field}: {reason}"),
        }
    }

    /// One raw byte.
    pub(crate) fn byte(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let mut b = [0u8];
        self.fill(field, &mut b)?;
        Ok(b[0])
    }

    /// An unsigned LEB128 varint of at most `bits` bits, in its one shortest form.
    fn varint(&mut self, field: &'static str, bits: u32) -> Result<u64, DecodeError> {
        let max_bytes = bits.div_ceil(7);
        let mut value: u64 = 0;
        for i in 0..max_bytes {
            let b = self.byte(field)?;
            let low = u64::from(b & 0x7f);
            let shift = 7 * i;
            // Bits that would land past the type's width.
            if shift + 7 > bits && low >> (bits - shift) != 0 {
                return Err(self.payload_error(field, "varint out of range"));
            }
            value |= low << shift;
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err(DecodeError::NonCanonical {
                        doc: self.doc.name(),
                    });
                }
                return Ok(value);
            }
        }
        Err(self.payload_error(field, "varint too long"))
    }

    /// A `u16` varint.
    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(self.varint(field, 16)? as u16)
    }

    /// A `u32` varint.
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(self.varint(field, 32)? as u32)
    }

    /// A `u64` varint.
    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        self.varint(field, 64)
    }

    /// A sequence length (a `usize` varint).
    pub(crate) fn len(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        self.varint(field, usize::BITS)
    }

    /// An `Option<u64>`: tag 0, or tag 1 then the value.
    pub(crate) fn option_u64(&mut self, field: &'static str) -> Result<Option<u64>, DecodeError> {
        match self.byte(field)? {
            0 => Ok(None),
            1 => Ok(Some(self.u64(field)?)),
            _ => Err(self.payload_error(field, "option tag is neither 0 nor 1")),
        }
    }

    /// `N` raw bytes.
    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        self.fill(field, &mut out)?;
        Ok(out)
    }

    /// A length-prefixed byte string (never allocating more than the payload has left).
    pub(crate) fn bytes(&mut self, field: &'static str) -> Result<Vec<u8>, DecodeError> {
        let len = self.len(field)?;
        if len > self.left {
            return Err(self.truncated(field, len, self.left));
        }
        let mut out = vec![0u8; len as usize];
        self.fill(field, &mut out)?;
        Ok(out)
    }

    /// A length-prefixed UTF-8 string.
    pub(crate) fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let bytes = self.bytes(field)?;
        String::from_utf8(bytes).map_err(|_| self.payload_error(field, "not UTF-8"))
    }

    /// Reads only the next `len` bytes (a byte string read field by field)
    /// until [`Self::end_limit`]: every length within is checked against
    /// what is left of them. Returns the bytes after them, for `end_limit`.
    pub(crate) fn limit(&mut self, field: &'static str, len: u64) -> Result<u64, DecodeError> {
        if len > self.left {
            return Err(self.truncated(field, len, self.left));
        }
        let after = self.left - len;
        self.left = len;
        Ok(after)
    }

    /// Ends a [`Self::limit`]: its bytes must all have been read.
    pub(crate) fn end_limit(&mut self, field: &'static str, after: u64) -> Result<(), DecodeError> {
        if self.left != 0 {
            return Err(self.payload_error(field, &format!("{} bytes after its end", self.left)));
        }
        self.left = after;
        Ok(())
    }

    /// Ends the read: every byte of the payload must have been read.
    pub(crate) fn finish(self) -> Result<R, DecodeError> {
        if self.left != 0 {
            return Err(DecodeError::Payload {
                doc: self.doc.name(),
                reason: format!("{} bytes after the last field", self.left),
            });
        }
        Ok(self.inner)
    }
}
