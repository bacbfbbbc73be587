//! Phone numbers: any written form to E.164 (`+66812345678`).
//!
//! Reads `+<country code>…`, the region's dialling prefix (`001 44…` in
//! Thailand, `011 44…` in the US), the ITU `00` prefix (`0066…`) and
//! national numbers of any region of libphonenumber's metadata, with the
//! trunk prefix where the region writes one (`081-234-5678` in Thailand,
//! `020 7946 0958` in Britain, `(212) 555-1234` in the US). Thai numbers are
//! checked against the Thai numbering plan (a fast path with its own rules),
//! national numbers of other regions by their metadata's lengths, and
//! international numbers by E.164 length.

use super::error::{excerpt, NormaliseError};
use super::region::Region;
use super::{calling_codes, thai_plan, Rules};
use crate::kind::Kind;

const KIND: Kind = Kind::Number;

/// The longest E.164 number, country code included (ITU-T E.164 §6.1).
const E164_MAX_DIGITS: usize = 15;

/// The shortest national number we accept for a country without its own
/// plan here: Niue, Tokelau and others use 4 digits.
const MIN_NATIONAL_DIGITS: usize = 4;

/// Digits kept while scanning: a 3-digit dialling prefix plus a full E.164
/// number. More digits are only counted, for the error.
const SCAN_DIGITS: usize = 3 + E164_MAX_DIGITS;

/// The digits of a number and what its punctuation said.
struct Scanned {
    /// ASCII digits, in order.
    digits: [u8; SCAN_DIGITS],
    len: usize,
    /// Whether it started with '+'.
    plus: bool,
    /// Where a "(0)" group starts, in `digits`: the trunk prefix printed
    /// inside an international number, as in `+44 (0)20 7946 0958`.
    zero_group: Option<usize>,
}

impl Scanned {
    fn digits(&self) -> &[u8] {
        &self.digits[..self.len]
    }
}

/// Keeps the digits of `text` (ASCII or Thai digits) and checks the rest is
/// separators: space, '-', '.', and balanced '(' ')'. A '+' may only lead.
fn scan(text: &str) -> Result<Scanned, NormaliseError> {
    let mut s = Scanned {
        digits: [0; SCAN_DIGITS],
        len: 0,
        plus: false,
        zero_group: None,
    };
    let mut total_digits = 0;
    let mut open_paren: Option<usize> = None;
    for (at, ch) in text.char_indices() {
        let digit = match ch {
            '0'..='9' => Some(ch as u8),
            // Thai digits ๐..๙ (U+0E50..U+0E59) appear in Thai-language documents.
            '\u{0E50}'..='\u{0E59}' => Some(b'0' + (ch as u32 - 0x0E50) as u8),
            _ => None,
        };
        match (digit, ch) {
            (Some(d), _) => {
                if let Some(slot) = s.digits.get_mut(total_digits) {
                    *slot = d;
                    s.len += 1;
                }
                total_digits += 1;
            }
            (None, '+') if total_digits == 0 && !s.plus && open_paren.is_none() => s.plus = true,
            (None, ' ' | '-' | '.') => {}
            (None, '(') if open_paren.is_none() => open_paren = Some(total_digits),
            (None, ')') => {
                let start = open_paren
                    .take()
                    .ok_or_else(|| malformed(text, "a ')' closes no '('"))?;
                if total_digits == start + 1 && s.digits.get(start) == Some(&b'0') {
                    s.zero_group = Some(start);
                }
            }
            _ => return Err(invalid_char(text, ch, at)),
        }
    }
    if open_paren.is_some() {
        return Err(malformed(text, "a '(' is never closed"));
    }
    if total_digits == 0 {
        return Err(malformed(text, "it has no digits"));
    }
    if total_digits > SCAN_DIGITS {
        return Err(NormaliseError::WrongLength {
            kind: KIND,
            input: excerpt(text),
            part: "number",
            len: total_digits,
            expected: "at most 15 digits after the international prefix (e.164)",
        });
    }
    Ok(s)
}

/// A number split into country code and national significant number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct E164<'a> {
    country_code: &'a [u8],
    national: &'a [u8],
}

impl E164<'_> {
    fn write(self, out: &mut String) {
        out.push('+');
        out.extend(
            self.country_code
                .iter()
                .chain(self.national)
                .map(|&b| char::from(b)),
        );
    }

    fn to_text(self) -> String {
        let mut s = String::with_capacity(E164_MAX_DIGITS + 1);
        self.write(&mut s);
        s
    }
}

/// What is wrong with a reading of the digits, before the input is attached.
#[derive(Debug)]
enum Problem {
    UnknownCountryCode(String),
    CountryCodeStartsWithZero,
    Length { len: usize, expected: &'static str },
    Unallocated(&'static str),
}

impl Problem {
    fn into_error(self, text: &str) -> NormaliseError {
        let input = excerpt(text);
        match self {
            Problem::UnknownCountryCode(digits) => NormaliseError::UnknownCountryCode {
                kind: KIND,
                input,
                digits,
            },
            Problem::CountryCodeStartsWithZero => {
                NormaliseError::CountryCodeStartsWithZero { kind: KIND, input }
            }
            Problem::Length { len, expected } => NormaliseError::WrongLength {
                kind: KIND,
                input,
                part: "national number",
                len,
                expected,
            },
            Problem::Unallocated(region) => NormaliseError::UnallocatedNumber {
                kind: KIND,
                input,
                region,
            },
        }
    }
}

/// Checks a national significant number against its country's plan: the
/// Thai plan for +66, the fixed 10 digits of +1 (NANP) and +7, and the
/// E.164 length bounds for the rest.
fn check_national(country_code: &[u8], national: &[u8]) -> Result<(), Problem> {
    let len = national.len();
    match country_code {
        b"66" => match thai_plan::is_allocated(national) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Problem::Unallocated("TH")),
            Err(thai_plan::LengthMismatch) => Err(Problem::Length {
                len,
                expected: thai_plan::EXPECTED_LENGTHS,
            }),
        },
        // NANP: 3-digit area code and 3-digit exchange, each starting 2-9, then 4 digits.
        b"1" => match national {
            [a, _, _, e, ..] if len == 10 => {
                if matches!(a, b'2'..=b'9') && matches!(e, b'2'..=b'9') {
                    Ok(())
                } else {
                    Err(Problem::Unallocated("NANP (+1)"))
                }
            }
            _ => Err(Problem::Length {
                len,
                expected: "10 digits after +1",
            }),
        },
        b"7" if len != 10 => Err(Problem::Length {
            len,
            expected: "10 digits after +7",
        }),
        _ if len < MIN_NATIONAL_DIGITS || country_code.len() + len > E164_MAX_DIGITS => {
            Err(Problem::Length {
                len,
                expected: "at least 4 digits, and at most 15 with the country code (e.164)",
            })
        }
        _ => Ok(()),
    }
}

/// Reads `digits` as country code then national number. `zero_group` is
/// where a "(0)" group starts, relative to `digits`.
fn international(digits: &[u8], zero_group: Option<usize>) -> Result<E164<'_>, Problem> {
    if digits.first() == Some(&b'0') {
        return Err(Problem::CountryCodeStartsWithZero);
    }
    let (country_code, mut national) = calling_codes::split(digits).ok_or_else(|| {
        let head = &digits[..digits.len().min(3)];
        Problem::UnknownCountryCode(head.iter().map(|&b| char::from(b)).collect())
    })?;
    // "+44 (0)20…": the trunk prefix is printed for national callers and is not dialled.
    // "+66 081…": Thai national numbers never start with 0, so a leading 0 is
    // the trunk prefix written by mistake.
    let trunk_printed = zero_group == Some(country_code.len())
        || (country_code == b"66" && national.first() == Some(&b'0'));
    if trunk_printed {
        national = &national[1..];
    }
    check_national(country_code, national)?;
    Ok(E164 {
        country_code,
        national,
    })
}

/// Checks a national significant number read in `region`: the region's
/// national lengths, then its country's plan. Thailand's plan, stricter than
/// the metadata's lengths and with its own words for them, decides alone.
fn check_in_region(region: &Region, national: &[u8]) -> Result<(), Problem> {
    if region.code != "TH" && !region.allows_national_length(national.len()) {
        return Err(Problem::Length {
            len: national.len(),
            expected: region.expected_lengths,
        });
    }
    check_national(region.country_code, national)
}

/// The reading of `digits` after one of the region's dialling prefixes: the
/// first prefix, longest first, after which the number is valid, else the
/// longest one's problem.
fn after_dialling_prefix<'a>(
    digits: &'a [u8],
    zero_group: Option<usize>,
    region: &Region,
) -> Option<(usize, Result<E164<'a>, Problem>)> {
    let mut first_failure = None;
    for n in region.dialling_prefix_lens(digits) {
        match international(&digits[n..], zero_group.and_then(|z| z.checked_sub(n))) {
            Ok(number) => return Some((n, Ok(number))),
            Err(problem) => {
                first_failure.get_or_insert((n, Err(problem)));
            }
        }
    }
    first_failure
}

/// Reads a number written without '+', by the rules of `region`.
fn from_region<'a>(
    s: &'a Scanned,
    region: &Region,
    text: &str,
) -> Result<E164<'a>, NormaliseError> {
    let digits = s.digits();
    let national_number = |national| E164 {
        country_code: region.country_code,
        national,
    };
    let dialled = after_dialling_prefix(digits, s.zero_group, region);
    if let Some(rest) = digits.strip_prefix(b"00") {
        let itu = international(rest, s.zero_group.and_then(|z| z.checked_sub(2)));
        return match (itu, dialled) {
            (Ok(itu), None) => Ok(itu),
            // "0066 2…" is a Thai number in ITU form; read as dialling prefix
            // 006 it would become +62 (Indonesia). A number valid in the
            // region's own plan wins: nobody dials abroad to reach home.
            (Ok(itu), Some(_)) if itu.country_code == region.country_code => Ok(itu),
            (Ok(itu), Some((_, Err(_)))) => Ok(itu),
            // Where 00 is the region's own dialling prefix (Britain, Germany)
            // both readings are one.
            (Ok(itu), Some((_, Ok(dialled)))) if itu == dialled => Ok(itu),
            (Err(_), Some((_, Ok(dialled)))) => Ok(dialled),
            (Ok(itu), Some((n, Ok(dialled)))) => {
                Err(NormaliseError::AmbiguousInternationalPrefix {
                    kind: KIND,
                    input: excerpt(text),
                    itu: itu.to_text(),
                    dialled: dialled.to_text(),
                    prefix: digits[..n].iter().map(|&b| char::from(b)).collect(),
                })
            }
            // Both readings fail: the dialling prefix is the region's own rule, so its problem is reported.
            (Err(_), Some((_, Err(problem)))) | (Err(problem), None) => {
                Err(problem.into_error(text))
            }
        };
    }
    if let Some((_, reading)) = dialled {
        return reading.map_err(|p| p.into_error(text));
    }
    // After a trunk prefix (longest first: "180020" before "0" in Britain).
    let mut trunk_problem = None;
    for n in region.trunk_prefix_lens(digits) {
        let national = &digits[n..];
        match check_in_region(region, national) {
            Ok(()) => return Ok(national_number(national)),
            Err(problem) => {
                trunk_problem.get_or_insert(problem);
            }
        }
    }
    if region.code == "TH" {
        if thai_plan::is_short_code(digits) {
            return Err(NormaliseError::ShortCode {
                kind: KIND,
                input: excerpt(text),
            });
        }
        if thai_plan::is_toll_free_or_premium(digits) {
            return Ok(national_number(digits));
        }
    }
    if !region.trunk_prefix_required {
        // "212-555-1234": the national number as it stands, the trunk
        // prefix (if the region has one) being optional.
        return match (check_in_region(region, digits), trunk_problem) {
            (Ok(()), _) => Ok(national_number(digits)),
            (Err(problem), None) | (Err(_), Some(problem)) => Err(problem.into_error(text)),
        };
    }
    if let Some(problem) = trunk_problem {
        return Err(problem.into_error(text));
    }
    // "66812345678": the country code without '+', common in SMS gateway
    // exports. Taken only where national numbers are written with a trunk
    // prefix (these digits have none, so they are no national number) and
    // when the rest is valid in the region's plan.
    if let Some(national) = digits.strip_prefix(region.country_code) {
        if check_in_region(region, national).is_ok() {
            return Ok(national_number(national));
        }
    }
    Err(NormaliseError::MissingTrunkPrefix {
        kind: KIND,
        input: excerpt(text),
        region: region.code,
        prefix: region.trunk_prefix,
    })
}

/// Normalises a phone number (already trimmed, non-empty) into `out`.
pub(super) fn normalise(text: &str, rules: &Rules, out: &mut String) -> Result<(), NormaliseError> {
    let scanned = scan(text)?;
    let number = if scanned.plus {
        international(scanned.digits(), scanned.zero_group).map_err(|p| p.into_error(text))?
    } else {
        from_region(&scanned, Region::of(KIND, rules)?, text)?
    };
    number.write(out);
    Ok(())
}

fn malformed(text: &str, problem: &'static str) -> NormaliseError {
    NormaliseError::Malformed {
        kind: KIND,
        input: excerpt(text),
        problem,
    }
}

fn invalid_char(text: &str, ch: char, at: usize) -> NormaliseError {
    NormaliseError::InvalidCharacter {
        kind: KIND,
        input: excerpt(text),
        ch,
        at,
    }
}
