//! CSV with a header row naming the columns, in any order:
//!
//! ```text
//! kind,value,reason,agency,expires
//! account,TH:004:1234567890,mule_account,th-aoc,90d
//! number,"081 234 5678",scam_call,th-nbtc,
//! domain,scam.example,phishing,,2025-12-31
//! ```
//!
//! `value` is required; `kind`, `reason`, `agency` and `expires` may be absent
//! or empty, and then take the command line's defaults. Fields follow RFC 4180
//! quoting (`"a, b"`, `"say ""hi"""`) within one line; a field spanning lines is
//! an error.

use crate::centre::ingest::Row;

/// The columns this reader knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Kind,
    Value,
    Reason,
    Agency,
    Expires,
}

impl Column {
    const ALL: [(Column, &'static str); 5] = [
        (Column::Kind, "kind"),
        (Column::Value, "value"),
        (Column::Reason, "reason"),
        (Column::Agency, "agency"),
        (Column::Expires, "expires"),
    ];
}

/// A file's header: which column is where.
#[derive(Debug)]
pub(crate) struct Header(Vec<Column>);

impl Header {
    /// Reads the header row.
    pub(crate) fn parse(line: &str) -> Result<Header, String> {
        let mut columns = Vec::new();
        for name in split_fields(line)? {
            let name = name.trim();
            let column = Column::ALL
                .iter()
                .find(|(_, known)| known.eq_ignore_ascii_case(name))
                .map(|(c, _)| *c)
                .ok_or_else(|| {
                    format!("unknown column {name:?} in header (known: kind, value, reason, agency, expires)")
                })?;
            if columns.contains(&column) {
                return Err(format!("column {name:?} appears twice in header"));
            }
            columns.push(column);
        }
        if !columns.contains(&Column::Value) {
            return Err("header has no \"value\" column".to_owned());
        }
        Ok(Header(columns))
    }

    /// Reads a data row; empty fields are left to the defaults.
    pub(crate) fn row(&self, line: &str) -> Result<Row, String> {
        let fields = split_fields(line)?;
        if fields.len() != self.0.len() {
            return Err(format!(
                "{} fields, the header has {}",
                fields.len(),
                self.0.len()
            ));
        }
        let mut row = Row::default();
        for (column, field) in self.0.iter().zip(fields) {
            let field = field.trim().to_owned();
            let present = (!field.is_empty()).then(|| field.clone());
            match column {
                Column::Kind => row.kind = present,
                Column::Value => row.value = field,
                Column::Reason => row.reason = present,
                Column::Agency => row.agency = present,
                Column::Expires => row.expires = present,
            }
        }
        Ok(row)
    }
}

/// Splits one CSV line into fields, undoing RFC 4180 quoting.
pub(crate) fn split_fields(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    // Whether the current field was quoted: text after its closing quote is an error.
    let mut closed = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => {
                quoted = false;
                closed = true;
            }
            (true, c) => field.push(c),
            (false, ',') => {
                fields.push(std::mem::take(&mut field));
                closed = false;
            }
            (false, '"') if field.trim().is_empty() && !closed => {
                field.clear();
                quoted = true;
            }
            (false, c) if closed && !c.is_whitespace() => {
                return Err(format!(
                    "text after a closing quote in field {}",
                    fields.len() + 1
                ));
            }
            (false, c) => field.push(c),
        }
    }
    if quoted {
        return Err("unterminated quote (a field cannot span lines)".to_owned());
    }
    fields.push(field);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_in_any_order_and_case_with_optional_columns() {
        let header = Header::parse("Value, KIND").unwrap();
        let row = header.row("scam.example,domain").unwrap();
        assert_eq!(row.value, "scam.example");
        assert_eq!(row.kind.as_deref(), Some("domain"));
        assert_eq!(row.agency, None);
    }

    #[test]
    fn header_errors_name_the_problem() {
        assert!(Header::parse("kind,value,colour")
            .unwrap_err()
            .contains("\"colour\""));
        assert!(Header::parse("kind,agency")
            .unwrap_err()
            .contains("no \"value\""));
        assert!(Header::parse("value,value").unwrap_err().contains("twice"));
    }

    #[test]
    fn empty_fields_fall_back_to_defaults() {
        let header = Header::parse("kind,value,reason,agency,expires").unwrap();
        let row = header.row("number,\"081 234 5678\",,,").unwrap();
        assert_eq!(row.value, "081 234 5678");
        assert_eq!((row.reason, row.agency, row.expires), (None, None, None));
    }

    #[test]
    fn wrong_field_count_and_bad_quotes_are_errors() {
        let header = Header::parse("kind,value").unwrap();
        assert!(header
            .row("domain,a.example,extra")
            .unwrap_err()
            .contains("3 fields"));
        assert!(split_fields("\"open").unwrap_err().contains("unterminated"));
        assert!(split_fields("\"a\"b")
            .unwrap_err()
            .contains("closing quote"));
    }

    fn quote(field: &str) -> String {
        format!("\"{}\"", field.replace('"', "\"\""))
    }

    proptest! {
        #[test]
        fn never_panics(line in "\\PC*") {
            let _ = split_fields(&line);
            if let Ok(header) = Header::parse("kind,value,reason,agency,expires") {
                let _ = header.row(&line);
            }
        }

        #[test]
        fn quoted_fields_round_trip(fields in proptest::collection::vec("[^\r\n]*", 1..6)) {
            let line = fields.iter().map(|f| quote(f)).collect::<Vec<_>>().join(",");
            prop_assert_eq!(split_fields(&line).unwrap(), fields);
        }

        #[test]
        fn plain_fields_round_trip(fields in proptest::collection::vec("[^\",\r\n]*", 1..6)) {
            let line = fields.join(",");
            prop_assert_eq!(split_fields(&line).unwrap(), fields);
        }
    }
}
