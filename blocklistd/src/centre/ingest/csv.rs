//! CSV with a header row naming the columns, in any order, read with the
//! `csv` crate:
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
//! quoting (`"a, b"`, `"say ""hi"""`, a quoted field may span lines). The
//! separator is whichever of `,`, `;` and tab the header row uses most
//! (spreadsheets in many locales write `;`). A UTF-8 byte-order mark, blank
//! lines and lines starting with `#` are skipped.
//!
//! A file's own column names are mapped to these with `--columns`
//! (`value=msisdn,agency=unit`), and columns not read are named with
//! `--ignore-column`. Any other column is an error naming it: a header problem
//! stops the publish whatever `--skip-invalid` says, since no row of the file
//! can be read right without its header.

use std::str::FromStr;

use crate::centre::ingest::Row;

/// The fields a CSV row can give.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    /// The entry's kind (`account`, `number`, `domain`).
    Kind,
    /// The identifier.
    Value,
    /// The reason (a name such as `phishing`, or a code).
    Reason,
    /// The listing agency.
    Agency,
    /// The expiry (RFC 3339 time, date, or duration like `90d`).
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

    fn named(name: &str) -> Option<Column> {
        Self::ALL
            .iter()
            .find(|(_, known)| known.eq_ignore_ascii_case(name))
            .map(|(c, _)| *c)
    }

    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(c, _)| *c == self)
            .map_or("", |(_, n)| n)
    }
}

/// How the columns of CSV inputs are named, from the command line.
///
/// ```
/// use blocklistd::centre::ingest::CsvColumns;
/// let columns: CsvColumns = "value=msisdn,agency=reporting unit".parse().unwrap();
/// assert_eq!(columns.renamed.len(), 2);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CsvColumns {
    /// Fields read from a column of another name (`--columns value=msisdn`).
    pub renamed: Vec<(Column, String)>,
    /// Header names of columns not read (`--ignore-column notes`).
    pub ignored: Vec<String>,
}

impl FromStr for CsvColumns {
    type Err = String;

    /// `FIELD=HEADER[,FIELD=HEADER...]`, fields being `kind`, `value`,
    /// `reason`, `agency` and `expires`.
    fn from_str(s: &str) -> Result<CsvColumns, String> {
        let mut renamed = Vec::new();
        for pair in s.split(',') {
            let (field, header) = pair
                .split_once('=')
                .ok_or_else(|| format!("{pair:?}: expected FIELD=HEADER, e.g. value=msisdn"))?;
            let column = Column::named(field.trim()).ok_or_else(|| {
                format!("{field:?} is not a field (kind, value, reason, agency, expires)")
            })?;
            if renamed.iter().any(|(c, _)| *c == column) {
                return Err(format!("{field:?} is mapped twice"));
            }
            renamed.push((column, header.trim().to_owned()));
        }
        Ok(CsvColumns {
            renamed,
            ignored: Vec::new(),
        })
    }
}

/// Where each field of a row is: `None` for a column not read.
#[derive(Debug)]
struct Layout(Vec<Option<Column>>);

impl Layout {
    /// Reads the header row: every column is a field (by its name or by
    /// `--columns`) or ignored by name; anything else is an error naming it.
    fn new(header: &[String], columns: &CsvColumns) -> Result<Layout, String> {
        for (column, from) in &columns.renamed {
            if !header.iter().any(|name| name.eq_ignore_ascii_case(from)) {
                return Err(format!(
                    "--columns {}={from}: the header has no column {from:?} (it has {})",
                    column.name(),
                    header.join(", ")
                ));
            }
        }
        let mut layout = Vec::new();
        for name in header {
            let renamed = columns
                .renamed
                .iter()
                .find(|(_, from)| from.eq_ignore_ascii_case(name))
                .map(|(c, _)| *c);
            let own = Column::named(name).filter(|c| !columns.renamed.iter().any(|(r, _)| r == c));
            let column = match renamed.or(own) {
                Some(column) => Some(column),
                None if columns.ignored.iter().any(|i| i.eq_ignore_ascii_case(name)) => None,
                None => {
                    return Err(format!(
                        "unknown column {name:?} in the header (known: kind, value, reason, agency, expires): map it with --columns FIELD={name} or skip it with --ignore-column {name:?}"
                    ))
                }
            };
            if column.is_some() && layout.contains(&column) {
                return Err(format!("column {name:?} appears twice in the header"));
            }
            layout.push(column);
        }
        if !layout.contains(&Some(Column::Value)) {
            return Err(
                "the header has no \"value\" column (name one with --columns value=HEADER)"
                    .to_owned(),
            );
        }
        Ok(Layout(layout))
    }

    /// Reads a data row; empty fields are left to the defaults.
    fn row(&self, fields: &[String]) -> Result<Row, String> {
        if fields.len() != self.0.len() {
            return Err(format!(
                "{} fields, the header has {}",
                fields.len(),
                self.0.len()
            ));
        }
        let mut row = Row::default();
        for (column, field) in self.0.iter().zip(fields) {
            let present = (!field.is_empty()).then(|| field.clone());
            match column {
                Some(Column::Kind) => row.kind = present,
                Some(Column::Value) => row.value = field.clone(),
                Some(Column::Reason) => row.reason = present,
                Some(Column::Agency) => row.agency = present,
                Some(Column::Expires) => row.expires = present,
                None => {}
            }
        }
        Ok(row)
    }
}

/// A row and the line it starts on, or what is wrong with it.
pub(crate) type NumberedRow = (usize, Result<Row, String>);

/// The rows of a CSV file. An error is a header problem (the file cannot be
/// read); a row's own problems are returned in its place.
pub(crate) fn rows(bytes: &[u8], columns: &CsvColumns) -> Result<Vec<NumberedRow>, String> {
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err("file is UTF-16: save it as UTF-8".to_owned());
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(separator(bytes))
        .comment(Some(b'#'))
        .flexible(true)
        .trim(::csv::Trim::All)
        .from_reader(bytes);
    let header = reader
        .byte_headers()
        .map_err(|e| format!("header: {e}"))?
        .iter()
        .map(|name| {
            String::from_utf8(name.to_vec()).map_err(|_| "the header is not valid UTF-8".to_owned())
        })
        .collect::<Result<Vec<_>, _>>()?;
    if header.iter().all(String::is_empty) {
        return Err("no header row (the first line names the columns, e.g. kind,value)".to_owned());
    }
    let layout = Layout::new(&header, columns)?;
    let lines = Lines::new(bytes);
    let mut out = Vec::new();
    let mut record = ::csv::ByteRecord::new();
    loop {
        let read = reader.read_byte_record(&mut record);
        let line = record
            .position()
            .map_or(0, |p| lines.of_record_at(p.byte()));
        match read {
            Ok(false) => break,
            Ok(true) => {
                let fields: Result<Vec<String>, String> = record
                    .iter()
                    .enumerate()
                    .map(|(i, field)| {
                        String::from_utf8(field.to_vec())
                            .map_err(|_| format!("field {} is not valid UTF-8", i + 1))
                    })
                    .collect();
                out.push((line, fields.and_then(|f| layout.row(&f))));
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| lines.of_record_at(p.byte()));
                out.push((line, Err(e.to_string())));
            }
        }
    }
    Ok(out)
}

/// Line numbers of records. The reader places a record where it began
/// looking for it, before the blank and comment lines it skipped.
struct Lines<'a> {
    bytes: &'a [u8],
    /// Where each line after the first starts.
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(bytes: &'a [u8]) -> Lines<'a> {
        let starts = bytes
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'\n')
            .map(|(i, _)| i + 1)
            .collect();
        Lines { bytes, starts }
    }

    /// The line (from 1) of the first data line at or after `offset`.
    fn of_record_at(&self, offset: u64) -> usize {
        let mut at = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        loop {
            let end = self.bytes[at..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(self.bytes.len(), |i| at + i);
            let line = self.bytes[at..end].trim_ascii();
            if end == self.bytes.len() || !(line.is_empty() || line.starts_with(b"#")) {
                break;
            }
            at = end + 1;
        }
        self.starts.partition_point(|&start| start <= at) + 1
    }
}

/// The separator the header row uses most, outside quotes (`,` by default).
fn separator(bytes: &[u8]) -> u8 {
    let header = bytes
        .split(|&b| b == b'\n')
        .find(|line| {
            let line = line.trim_ascii();
            !line.is_empty() && !line.starts_with(b"#")
        })
        .unwrap_or_default();
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for &b in header {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            if let Some((_, n)) = counts.iter_mut().find(|(c, _)| *c == b) {
                *n += 1;
            }
        }
    }
    // The first of the most used: `,` wins ties.
    counts
        .iter()
        .fold(
            (b',', 0),
            |best, &(c, n)| if n > best.1 { (c, n) } else { best },
        )
        .0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read(text: &str, columns: &CsvColumns) -> Result<Vec<NumberedRow>, String> {
        rows(text.as_bytes(), columns)
    }

    fn values(text: &str) -> Vec<(usize, String)> {
        read(text, &CsvColumns::default())
            .unwrap()
            .into_iter()
            .map(|(line, row)| (line, row.unwrap().value))
            .collect()
    }

    #[test]
    fn header_in_any_order_and_case_with_optional_columns() {
        let rows = read("Value, KIND\nscam.example,domain\n", &CsvColumns::default()).unwrap();
        let row = rows[0].1.as_ref().unwrap();
        assert_eq!(row.value, "scam.example");
        assert_eq!(row.kind.as_deref(), Some("domain"));
        assert_eq!(row.agency, None);
    }

    #[test]
    fn semicolons_tabs_a_bom_comments_blank_lines_and_quoted_newlines() {
        let text = "\u{feff}# exported 2026-12-01\nkind;value;reason\n\ndomain;a.example;phishing\n\"domain\";\"b.example\";\"a; b\"\n";
        assert_eq!(
            values(text),
            [(4, "a.example".into()), (5, "b.example".into())]
        );
        assert_eq!(
            values("value\tkind\nc.example\tdomain\n"),
            [(2, "c.example".into())]
        );
        let spanning = "value,reason\n\"d.example\",\"two\nlines\"\ne.example,\n";
        assert_eq!(
            values(spanning),
            [(2, "d.example".into()), (4, "e.example".into())]
        );
    }

    #[test]
    fn columns_are_mapped_and_ignored_by_name() {
        let mut columns: CsvColumns = "value=MSISDN,agency=Unit".parse().unwrap();
        columns.ignored.push("notes".into());
        let text = "msisdn,unit,notes,reason\n0812345678,th-police,called twice,scam_call\n";
        let rows = read(text, &columns).unwrap();
        let row = rows[0].1.as_ref().unwrap();
        assert_eq!(row.value, "0812345678");
        assert_eq!(row.agency.as_deref(), Some("th-police"));
        assert_eq!(row.reason.as_deref(), Some("scam_call"));
    }

    #[test]
    fn header_errors_name_the_column() {
        let err = |text: &str, columns: &CsvColumns| read(text, columns).unwrap_err();
        let none = CsvColumns::default();
        let unknown = err("kind,value,colour\n", &none);
        assert!(
            unknown.contains("\"colour\"") && unknown.contains("--ignore-column"),
            "{unknown}"
        );
        assert!(err("kind,agency\n", &none).contains("no \"value\""));
        assert!(err("value,value\n", &none).contains("twice"));
        assert!(err("", &none).contains("no header"));
        let mapped: CsvColumns = "value=msisdn".parse().unwrap();
        assert!(err("phone\n", &mapped).contains("no column \"msisdn\""));
        assert!("colour=x"
            .parse::<CsvColumns>()
            .unwrap_err()
            .contains("not a field"));
        assert!("value"
            .parse::<CsvColumns>()
            .unwrap_err()
            .contains("FIELD=HEADER"));
    }

    #[test]
    fn a_row_with_another_field_count_or_bad_utf8_is_an_error_in_its_place() {
        let rows = rows(
            b"kind,value\ndomain,a.example,extra\ndomain,\xff.example\ndomain,b.example\n",
            &CsvColumns::default(),
        )
        .unwrap();
        assert!(rows[0].1.as_ref().unwrap_err().contains("3 fields"));
        assert_eq!(rows[1].0, 3);
        assert!(rows[1].1.as_ref().unwrap_err().contains("not valid UTF-8"));
        assert_eq!(rows[2].1.as_ref().unwrap().value, "b.example");
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = rows(&bytes, &CsvColumns::default());
        }

        #[test]
        fn what_the_csv_writer_writes_reads_back(
            fields in proptest::collection::vec("[^#\u{feff}]*", 1..6),
            separator in prop_oneof![Just(b','), Just(b';')],
        ) {
            let mut writer = ::csv::WriterBuilder::new()
                .delimiter(separator)
                .quote_style(::csv::QuoteStyle::Always)
                .from_writer(vec![]);
            writer.write_record(["value", "reason"]).unwrap();
            for field in &fields {
                writer.write_record([field.as_str(), "x"]).unwrap();
            }
            let bytes = writer.into_inner().unwrap();
            let read = rows(&bytes, &CsvColumns::default()).unwrap();
            let values: Vec<String> = read.into_iter().map(|(_, row)| row.unwrap().value).collect();
            let expected: Vec<String> = fields
                .iter()
                .map(|f| f.trim_matches(|c: char| c.is_ascii_whitespace()).to_owned())
                .collect();
            prop_assert_eq!(values, expected);
        }
    }
}
