//! [`Record`]: one entry of the log, a published file named by its type,
//! version, SHA-256 and size, as one line of text (so that anyone reading
//! the entry bundles with a text editor sees what was published).

use std::fmt;

use crate::document::{DocType, FileRef, Manifest, Version};
use crate::log::LogError;
use crate::Sha256;

/// The most bytes one record can take (`registry`, two 20-digit numbers and
/// 64 hex digits, spaces and the newline): a reader refuses a longer entry
/// before looking at it.
pub const MAX_RECORD_LEN: usize = 128;

/// One published file, as the log records it: `<type> <version> <sha256 hex>
/// <size>\n`, e.g. `delta 42 ab…ef 193\n`.
///
/// ```
/// use blocklist_core::document::{DocType, FileRef, Version};
/// use blocklist_core::log::Record;
/// use blocklist_core::Sha256;
/// let file = FileRef { version: Version::new(42).unwrap(), sha256: Sha256([0xab; 32]), size: 193 };
/// let record = Record { doc: DocType::Delta, file };
/// let line = record.to_bytes();
/// assert_eq!(line, format!("delta 42 {} 193\n", "ab".repeat(32)).into_bytes());
/// assert_eq!(Record::parse(0, &line).unwrap(), record);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Record {
    /// The file's document type: a root, a registry, a delta or a snapshot.
    pub doc: DocType,
    /// The file, as a manifest lists it.
    pub file: FileRef,
}

/// The document types the log records (those a publish directory keeps
/// under immutable names), in the order a directory's files are first
/// recorded in.
pub const RECORD_ORDER: [DocType; 4] = [
    DocType::Root,
    DocType::Registry,
    DocType::Snapshot,
    DocType::Delta,
];

impl Record {
    /// The files `manifest` lists, as records, in [`RECORD_ORDER`], each
    /// type ascending by version.
    pub fn listed_by(manifest: &Manifest) -> Vec<Record> {
        RECORD_ORDER
            .into_iter()
            .flat_map(|doc| {
                let files = match doc {
                    DocType::Root => &manifest.roots,
                    DocType::Registry => &manifest.registries,
                    DocType::Snapshot => &manifest.snapshots,
                    _ => &manifest.deltas,
                };
                files.iter().map(move |&file| Record { doc, file })
            })
            .collect()
    }

    /// The record's one encoding.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Reads the entry at `index` (named in the error), refusing anything
    /// but a record in the form [`Record::to_bytes`] writes.
    pub fn parse(index: u64, bytes: &[u8]) -> Result<Record, LogError> {
        let refuse = |reason: &str| LogError::Record {
            index,
            reason: reason.to_owned(),
        };
        if bytes.len() > MAX_RECORD_LEN {
            return Err(refuse("longer than any record"));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| refuse("not UTF-8"))?;
        let line = text
            .strip_suffix('\n')
            .ok_or_else(|| refuse("does not end in a newline"))?;
        let fields: Vec<&str> = line.split(' ').collect();
        let [doc, version, sha256, size] = fields[..] else {
            return Err(refuse("is not four fields separated by single spaces"));
        };
        let doc = RECORD_ORDER
            .into_iter()
            .find(|d| d.name() == doc)
            .ok_or_else(|| refuse("names no type the log records"))?;
        let version = decimal(version)
            .and_then(Version::new)
            .ok_or_else(|| refuse("version is not a decimal number from 1"))?;
        let sha256 =
            Sha256::from_hex(sha256).ok_or_else(|| refuse("digest is not 64 hex digits"))?;
        let size = decimal(size).ok_or_else(|| refuse("size is not a decimal number"))?;
        let record = Record {
            doc,
            file: FileRef {
                version,
                sha256,
                size,
            },
        };
        // Upper-case hex is the one spelling left that the fields accept.
        if record.to_bytes() != bytes {
            return Err(refuse("not in canonical form"));
        }
        Ok(record)
    }
}

/// A decimal number without a sign or a leading zero (other than "0").
fn decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} {} {} {}",
            self.doc.name(),
            self.file.version,
            self.file.sha256,
            self.file.size
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_bytes_are_refused_or_are_a_canonical_record(
            bytes in proptest::collection::vec(any::<u8>(), 0..160),
            line in "(root|registry|snapshot|delta|x) [0-9]{1,21} [0-9a-fA-F]{63,65} [0-9+-]{1,21}\n?",
        ) {
            for input in [bytes, line.into_bytes()] {
                if let Ok(record) = Record::parse(7, &input) {
                    prop_assert_eq!(record.to_bytes(), input);
                }
            }
        }

        #[test]
        fn every_record_round_trips_within_the_bound(
            doc in 0usize..4, version in 1u64.., sha256 in any::<[u8; 32]>(), size in any::<u64>(),
        ) {
            let record = Record {
                doc: RECORD_ORDER[doc],
                file: FileRef { version: Version::new(version).unwrap(), sha256: Sha256(sha256), size },
            };
            let bytes = record.to_bytes();
            prop_assert!(bytes.len() <= MAX_RECORD_LEN);
            prop_assert_eq!(Record::parse(0, &bytes).unwrap(), record);
        }
    }

    #[test]
    fn only_the_canonical_line_is_a_record() {
        let hex = "ab".repeat(32);
        for good in [
            format!("root 1 {hex} 0\n"),
            format!("registry 18446744073709551615 {hex} 18446744073709551615\n"),
            format!("snapshot 7 {hex} 160000000\n"),
        ] {
            let record = Record::parse(3, good.as_bytes()).unwrap();
            assert_eq!(record.to_bytes(), good.as_bytes());
            assert!(good.len() <= MAX_RECORD_LEN);
        }
        for bad in [
            format!("delta 42 {hex} 193"),
            format!("delta 042 {hex} 193\n"),
            format!("delta 0 {hex} 193\n"),
            format!("delta 42 {} 193\n", "AB".repeat(32)),
            format!("delta  42 {hex} 193\n"),
            format!("delta 42 {hex} 193 \n"),
            format!("manifest 42 {hex} 193\n"),
            format!("override 42 {hex} 193\n"),
            format!("delta 42 {hex} +193\n"),
            format!("delta 42 {hex} 18446744073709551616\n"),
            format!("delta 42 {hex} 193\r\n"),
        ] {
            let err = Record::parse(3, bad.as_bytes()).unwrap_err();
            assert!(err.to_string().starts_with("log entry 3: "), "{err}");
        }
    }
}
