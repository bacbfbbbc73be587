//! Plain lists: one identifier per line, all of one kind (given by `--kind`).
//!
//! ```text
//! # scam domains, 2024-05
//! scam.example
//! 081-234-5678
//! ```
//!
//! The whole line is the value (phone numbers and accounts are often written
//! with spaces); the normaliser decides whether it is valid.

use crate::centre::ingest::Row;

/// The row a plain-list line gives.
pub(crate) fn parse_line(line: &str) -> Row {
    Row {
        value: line.to_owned(),
        ..Row::default()
    }
}
