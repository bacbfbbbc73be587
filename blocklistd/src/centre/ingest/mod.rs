//! Reading agencies' reports: CSV, plain lists, hosts files, adblock filter
//! lists and dnsmasq lines, into normalised identifiers with the agency,
//! reason and expiry that list them.
//!
//! One parser per syntax (`csv`, `plain`, `hosts`, `adblock`, `dnsmasq`)
//! turns the text into `Row`s of raw text; `lines` does the line reading the
//! line-based ones share (byte-order marks, comments, blank lines, line
//! endings), the `csv` crate that of CSV. This module then fills in the
//! command line's [`Defaults`] and normalises each value with
//! [`Identifier::parse`]. A line that fails anywhere becomes an
//! [`InvalidLine`] naming its file and line number; reading never stops at
//! the first bad line, so an operator sees every problem at once.

mod adblock;
mod csv;
mod dnsmasq;
mod hosts;
pub(crate) mod lines;
mod plain;

pub use csv::{Column, CsvColumns};

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use blocklist_core::normalise::NormaliseError;
use blocklist_core::{Agency, EntryMeta, Identifier, Kind, Reason, Rules, Timestamp};

use crate::centre::CentreError;

/// An input file's syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// CSV with a header row (see the `csv` module).
    Csv,
    /// One identifier per line (see the `plain` module).
    Plain,
    /// A hosts file, domains only (see the `hosts` module).
    Hosts,
    /// An adblock filter list, `||domain^` rules only (see the `adblock` module).
    Adblock,
    /// dnsmasq `server=/domain/`, `local=` and `address=` lines (see the
    /// `dnsmasq` module).
    Dnsmasq,
}

impl Format {
    /// The syntax a file name suggests: `.csv` is CSV, `.hosts` or a file
    /// named `hosts` a hosts file, `.adblock` an adblock list, `.dnsmasq` dnsmasq
    /// lines, anything else a plain list.
    pub fn from_path(path: &Path) -> Format {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let is = |known: &str| ext.eq_ignore_ascii_case(known);
        if is("csv") {
            Format::Csv
        } else if is("hosts") || name == "hosts" {
            Format::Hosts
        } else if is("adblock") {
            Format::Adblock
        } else if is("dnsmasq") {
            Format::Dnsmasq
        } else {
            Format::Plain
        }
    }

    const ALL: [Format; 5] = [
        Format::Csv,
        Format::Plain,
        Format::Hosts,
        Format::Adblock,
        Format::Dnsmasq,
    ];

    /// Whether the syntax lists domains only.
    fn domains_only(self) -> bool {
        matches!(self, Format::Hosts | Format::Adblock | Format::Dnsmasq)
    }

    fn name(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Plain => "plain",
            Format::Hosts => "hosts",
            Format::Adblock => "adblock",
            Format::Dnsmasq => "dnsmasq",
        }
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .into_iter()
            .find(|format| format.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown input format {s:?}: expected csv, plain, hosts, adblock or dnsmasq"
                )
            })
    }
}

/// When an entry stops matching: a fixed time, or a duration from publishing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// At this time.
    At(Timestamp),
    /// This long after the publish.
    After(Duration),
}

impl Expiry {
    /// The expiry time for an entry published at `now`.
    pub fn resolve(self, now: Timestamp) -> Timestamp {
        match self {
            Expiry::At(t) => t,
            Expiry::After(d) => now.plus(d.as_secs()),
        }
    }
}

impl FromStr for Expiry {
    type Err = String;

    /// An RFC 3339 time (`2025-12-31T00:00:00Z`), a date (`2025-12-31`,
    /// midnight UTC), or a duration (`90d`, `12h`, `2weeks`).
    fn from_str(s: &str) -> Result<Expiry, String> {
        let s = s.trim();
        if let Ok(d) = humantime::parse_duration(s) {
            return Ok(Expiry::After(d));
        }
        let full = if s.len() == 10 {
            format!("{s}T00:00:00Z")
        } else {
            s.to_owned()
        };
        let time = humantime::parse_rfc3339(&full).map_err(|_| {
            format!("expiry {s:?} is neither an RFC 3339 time or date nor a duration like 90d")
        })?;
        let secs = time
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| format!("expiry {s:?} is before 1970"))?
            .as_secs();
        Ok(Expiry::At(Timestamp(secs)))
    }
}

/// What the command line supplies where a line does not say.
#[derive(Clone, Debug, Default)]
pub struct Defaults {
    /// The kind of plain-list values and of CSV rows without one.
    pub kind: Option<Kind>,
    /// The listing agency of rows without one.
    pub agency: Option<Agency>,
    /// The reason of rows without one.
    pub reason: Option<Reason>,
    /// The expiry of rows without one (`None`: never expires).
    pub expires: Option<Expiry>,
}

/// Where a line came from, shown as `file:line`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The input file.
    pub file: Arc<Path>,
    /// The line number, from 1.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// An input line that gives no valid entry, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidLine {
    /// Where it is.
    pub origin: Origin,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for InvalidLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.origin, self.reason)
    }
}

/// How an addition is listed (the publish adds the listing time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// Why.
    pub reason: Reason,
    /// By whom.
    pub agency: Agency,
    /// Until when (`None`: no expiry).
    pub expires_at: Option<Timestamp>,
}

/// An identifier to list.
#[derive(Clone, Debug)]
pub struct Addition {
    /// Where it was read.
    pub origin: Origin,
    /// What to list.
    pub id: Identifier,
    /// How.
    pub listing: Listing,
}

/// An identifier to unlist.
#[derive(Clone, Debug)]
pub struct Removal {
    /// Where it was read.
    pub origin: Origin,
    /// What to unlist.
    pub id: Identifier,
}

/// What a set of input files asks for, deduplicated.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Identifiers to list, in input order, each with the last line's listing.
    pub additions: Vec<Addition>,
    /// Identifiers to unlist, each once.
    pub removals: Vec<Removal>,
    /// Lines naming an identifier an earlier addition named (the later one wins).
    pub duplicates: usize,
}

/// Reads every file of additions and of removals (each with its syntax),
/// recording the lines that fail in `invalid`. An identifier both added and
/// removed is an invalid line (which did the sender mean?); one added twice
/// takes the later line's listing. `blocklist publish` and `blocklist
/// submit` read their inputs through this one function.
pub fn read_inputs(
    additions: &[(PathBuf, Format)],
    removals: &[(PathBuf, Format)],
    context: &ReadContext,
    invalid: &mut Vec<InvalidLine>,
) -> Result<Inputs, CentreError> {
    let mut removed: HashMap<Identifier, Origin> = HashMap::new();
    let mut out = Inputs::default();
    for (path, format) in removals {
        for removal in read_removals(path, *format, context, invalid)? {
            if !removed.contains_key(&removal.id) {
                removed.insert(removal.id.clone(), removal.origin.clone());
                out.removals.push(removal);
            }
        }
    }
    // Where each identifier stands in `out.additions`.
    let mut at: HashMap<Identifier, usize> = HashMap::new();
    for (path, format) in additions {
        for addition in read_additions(path, *format, context, invalid)? {
            if let Some(removed_at) = removed.get(&addition.id) {
                invalid.push(InvalidLine {
                    reason: format!("{} is also to be removed ({removed_at})", addition.id),
                    origin: addition.origin,
                });
                continue;
            }
            match at.get(&addition.id) {
                Some(&i) => {
                    out.additions[i] = addition;
                    out.duplicates += 1;
                }
                None => {
                    at.insert(addition.id.clone(), out.additions.len());
                    out.additions.push(addition);
                }
            }
        }
    }
    Ok(out)
}

/// The raw text of one entry, before defaults and normalisation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) kind: Option<String>,
    pub(crate) value: String,
    pub(crate) reason: Option<String>,
    pub(crate) agency: Option<String>,
    pub(crate) expires: Option<String>,
}

/// What reading needs besides the file: defaults, normalisation rules, and
/// the publish time that durations count from.
#[derive(Clone, Debug)]
pub struct ReadContext {
    /// Values for fields a line leaves out.
    pub defaults: Defaults,
    /// Normalisation rules (default region).
    pub rules: Rules,
    /// The publish time.
    pub now: Timestamp,
    /// How CSV inputs name their columns.
    pub csv: CsvColumns,
}

/// Reads a file of additions; every listed entry needs an agency.
pub fn read_additions(
    path: &Path,
    format: Format,
    context: &ReadContext,
    invalid: &mut Vec<InvalidLine>,
) -> Result<Vec<Addition>, CentreError> {
    let mut out = Vec::new();
    for_each_row(path, format, context, invalid, |origin, row| {
        let id = identifier(&row, format, context)?;
        let agency = row
            .agency
            .as_deref()
            .map(|a| Agency::new(a).map_err(|e| e.to_string()))
            .transpose()?
            .or_else(|| context.defaults.agency.clone())
            .ok_or("no agency: add an agency column or pass --agency")?;
        let reason = match row.reason.as_deref() {
            Some(name) => {
                Reason::from_name(name).ok_or_else(|| format!("unknown reason {name:?}"))?
            }
            None => context.defaults.reason.unwrap_or(Reason::UNSPECIFIED),
        };
        let expiry = row
            .expires
            .as_deref()
            .map(str::parse::<Expiry>)
            .transpose()?;
        let expires_at = expiry
            .or(context.defaults.expires)
            .map(|e| e.resolve(context.now));
        if expires_at.is_some_and(|t| t <= context.now) {
            return Err("expiry is in the past".to_owned());
        }
        if let Some(t) = expires_at.filter(|&t| t > EntryMeta::LAST_TIME) {
            return Err(format!(
                "expiry {} is after 2106-02-07, the last time an entry can carry",
                t.0
            ));
        }
        out.push(Addition {
            origin,
            id,
            listing: Listing {
                reason,
                agency,
                expires_at,
            },
        });
        Ok(())
    })?;
    Ok(out)
}

/// Reads a file of removals; only kind and value matter, other columns are ignored.
pub fn read_removals(
    path: &Path,
    format: Format,
    context: &ReadContext,
    invalid: &mut Vec<InvalidLine>,
) -> Result<Vec<Removal>, CentreError> {
    let mut out = Vec::new();
    for_each_row(path, format, context, invalid, |origin, row| {
        out.push(Removal {
            origin,
            id: removable(&row, format, context)?,
        });
        Ok(())
    })?;
    Ok(out)
}

/// [`identifier`] for a removal, which also takes a name the suffix list
/// now calls a private-section suffix: one listed before it joined the list
/// stays listed (readers accept it) until it is removed.
fn removable(row: &Row, format: Format, context: &ReadContext) -> Result<Identifier, String> {
    let kind = row_kind(row, format, context)?;
    match Identifier::parse(kind, &row.value, &context.rules) {
        Err(NormaliseError::PublicSuffix { suffix, .. }) => {
            Identifier::from_canonical(kind, &suffix)
        }
        parsed => parsed,
    }
    .map_err(|e| e.to_string())
}

fn identifier(row: &Row, format: Format, context: &ReadContext) -> Result<Identifier, String> {
    let kind = row_kind(row, format, context)?;
    Identifier::parse(kind, &row.value, &context.rules).map_err(|e| e.to_string())
}

fn row_kind(row: &Row, format: Format, context: &ReadContext) -> Result<Kind, String> {
    Ok(match (format, row.kind.as_deref()) {
        (format, _) if format.domains_only() => Kind::Domain,
        (_, Some(name)) => name.parse::<Kind>().map_err(|e| e.to_string())?,
        (_, None) => context
            .defaults
            .kind
            .ok_or("no kind: add a kind column or pass --kind")?,
    })
}

/// Reads `path` and calls `each` with every row, recording the rows that
/// fail (in the parser or in `each`) in `invalid`. Only an unreadable file
/// or a CSV header problem is an error.
fn for_each_row(
    path: &Path,
    format: Format,
    context: &ReadContext,
    invalid: &mut Vec<InvalidLine>,
    mut each: impl FnMut(Origin, Row) -> Result<(), String>,
) -> Result<(), CentreError> {
    if format.domains_only() && context.defaults.kind.is_some_and(|k| k != Kind::Domain) {
        return Err(CentreError::usage(format!(
            "{}: a {} file lists domains only, not --kind {}",
            path.display(),
            format.name(),
            context.defaults.kind.map_or("", |k| k.name())
        )));
    }
    let bytes = std::fs::read(path).map_err(CentreError::io("read", path))?;
    let file: Arc<Path> = Arc::from(path);
    let mut take = |line: usize, rows: Result<Vec<Row>, String>| {
        let origin = Origin {
            file: file.clone(),
            line,
        };
        let failed = match rows {
            Ok(rows) => rows
                .into_iter()
                .filter_map(|row| each(origin.clone(), row).err())
                .collect(),
            Err(reason) => vec![reason],
        };
        invalid.extend(failed.into_iter().map(|reason| InvalidLine {
            origin: origin.clone(),
            reason,
        }));
    };
    if format == Format::Csv {
        let rows = csv::rows(&bytes, &context.csv).map_err(|reason| CentreError::CsvHeader {
            file: path.to_owned(),
            reason,
        })?;
        for (line, row) in rows {
            take(line, row.map(|row| vec![row]));
        }
        return Ok(());
    }
    let domains = |names: Vec<&str>| {
        names
            .into_iter()
            .map(|name| Row {
                value: name.to_owned(),
                ..Row::default()
            })
            .collect()
    };
    for (line, text) in lines::data_lines(&bytes) {
        let rows = text.and_then(|text| match format {
            Format::Plain => Ok(vec![plain::parse_line(text)]),
            Format::Hosts => hosts::parse_line(text).map(domains),
            Format::Adblock => {
                adblock::parse_line(text).map(|name| domains(name.into_iter().collect()))
            }
            Format::Dnsmasq => dnsmasq::parse_line(text).map(domains),
            Format::Csv => unreachable!("read above"),
        });
        take(line, rows);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    /// A file of the shared test data beside the checkout (`../shared`, present
    /// on every machine and in CI; see its README for sources and licences).
    pub(crate) fn shared_testdata(path: &str) -> std::path::PathBuf {
        let full = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared/testdata")
            .join(path);
        assert!(
            full.exists(),
            "shared test data missing: {}",
            full.display()
        );
        full
    }

    fn context(kind: Option<Kind>) -> ReadContext {
        ReadContext {
            defaults: Defaults {
                kind,
                agency: Some(Agency::new("th-aoc").unwrap()),
                ..Defaults::default()
            },
            rules: Rules::default(),
            now: Timestamp(1_700_000_000),
            csv: CsvColumns::default(),
        }
    }

    fn additions(
        path: &Path,
        format: Format,
        kind: Option<Kind>,
    ) -> (Vec<Addition>, Vec<InvalidLine>) {
        let mut invalid = vec![];
        let read = read_additions(path, format, &context(kind), &mut invalid).unwrap();
        (read, invalid)
    }

    #[test]
    fn a_real_list_in_four_syntaxes_gives_the_same_8527_domains() {
        let dir = shared_testdata("domains");
        let ids = |name| -> HashSet<Identifier> {
            let path = dir.join(name);
            let (read, invalid) = additions(&path, Format::from_path(&path), Some(Kind::Domain));
            assert!(invalid.is_empty(), "{name}: {invalid:?}");
            read.into_iter().map(|a| a.id).collect()
        };
        let hosts = ids("scam.hosts");
        assert_eq!(hosts.len(), 8527);
        for other in ["scam.plain", "scam.adblock", "scam.dnsmasq"] {
            assert_eq!(hosts, ids(other), "{other}");
        }
    }

    #[test]
    fn a_csv_header_problem_is_an_error_naming_the_column_never_a_skipped_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(&path, "kind;value;colour\ndomain;a.example;red\n").unwrap();
        let mut invalid = vec![];
        let err = read_additions(&path, Format::Csv, &context(None), &mut invalid).unwrap_err();
        let shown = err.to_string();
        assert!(
            shown.contains("in.csv") && shown.contains("\"colour\""),
            "{shown}"
        );
        let mut context = context(None);
        context.csv.ignored.push("colour".into());
        let read = read_additions(&path, Format::Csv, &context, &mut invalid).unwrap();
        assert_eq!((read.len(), invalid.len()), (1, 0));
    }

    #[test]
    fn maintainer_rejected_lines_are_each_reported_with_file_and_line() {
        let path = &shared_testdata("domains/invalid-lines.txt");
        let bytes = std::fs::read(path).unwrap();
        // Every line the normaliser rejects (URL and host:port lines reduce to
        // their host and are accepted), each reported at its own line.
        let expected: Vec<usize> = lines::data_lines(&bytes)
            .filter(|(_, text)| {
                Identifier::parse(Kind::Domain, text.as_ref().unwrap(), &Rules::default()).is_err()
            })
            .map(|(line, _)| line)
            .collect();
        let (_, invalid) = additions(path, Format::Plain, Some(Kind::Domain));
        let reported: Vec<usize> = invalid.iter().map(|i| i.origin.line).collect();
        assert_eq!(reported, expected);
        assert!(invalid
            .iter()
            .all(|i| i.to_string().starts_with(&format!("{}:", path.display()))));
    }

    #[test]
    fn csv_columns_override_defaults_and_bad_cells_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(
            &path,
            "\u{feff}kind,value,reason,agency,expires\n\
             domain,a.example,phishing,bank-004,2030-01-01\n\
             domain,b.example,,,\n\
             domain,c.example,no_such_reason,,\n\
             domain,d.example,,bad agency,\n\
             domain,e.example,,,soon\n\
             domain,f.example,,,2200-01-01\n",
        )
        .unwrap();
        let (read, invalid) = additions(&path, Format::Csv, None);
        assert_eq!(read.len(), 2);
        assert_eq!(read[0].listing.agency.as_str(), "bank-004");
        assert_eq!(read[0].listing.reason, Reason::PHISHING);
        assert_eq!(read[0].listing.expires_at, Some(Timestamp(1_893_456_000)));
        assert_eq!(read[1].listing.agency.as_str(), "th-aoc");
        let lines: Vec<usize> = invalid.iter().map(|i| i.origin.line).collect();
        assert_eq!(lines, [4, 5, 6, 7]);
        assert!(
            invalid[3].to_string().contains("after 2106-02-07"),
            "{}",
            invalid[3]
        );
    }

    #[test]
    fn a_private_suffix_can_be_removed_but_not_listed() {
        // Listed before its platform joined the suffix list, it must stay removable.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        std::fs::write(&path, "github.io\nGitHub.io.\nco.th\n").unwrap();
        let (_, invalid) = additions(&path, Format::Plain, Some(Kind::Domain));
        assert_eq!(invalid.len(), 3, "{invalid:?}");
        let mut invalid = vec![];
        let removed = read_removals(
            &path,
            Format::Plain,
            &context(Some(Kind::Domain)),
            &mut invalid,
        )
        .unwrap();
        let ids: Vec<&str> = removed.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["github.io", "github.io"]);
        // An ICANN suffix was never listable by any suffix list.
        assert_eq!(invalid.len(), 1);
        assert!(
            invalid[0].reason.contains("public suffix"),
            "{}",
            invalid[0]
        );
    }

    #[test]
    fn plain_list_without_kind_is_invalid_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        std::fs::write(&path, "a.example\n").unwrap();
        let (_, invalid) = additions(&path, Format::Plain, None);
        assert!(invalid[0].reason.contains("--kind"));
    }

    #[test]
    fn expiry_accepts_dates_times_and_durations() {
        assert_eq!(
            "90d".parse(),
            Ok(Expiry::After(Duration::from_secs(90 * 86_400)))
        );
        assert_eq!("1970-01-02".parse(), Ok(Expiry::At(Timestamp(86_400))));
        assert_eq!(
            "1970-01-01T00:01:00Z".parse(),
            Ok(Expiry::At(Timestamp(60)))
        );
        assert!("tomorrow".parse::<Expiry>().is_err());
    }
}
