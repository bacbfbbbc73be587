//! Domain names: to lower-case ASCII (UTS #46 ToASCII), checked against the
//! hostname rules and the public suffix list.
//!
//! IDNA settings, and why:
//! - nontransitional processing (idna 1.x has no other): `faß.de` stays
//!   `xn--fa-hia.de`, as browsers resolve it since 2017, not `fass.de`;
//! - `UseSTD3ASCIIRules` (STD3's deny list), less the underscore: hostnames
//!   are LDH (letters, digits, hyphen), plus `_` as below;
//! - `CheckHyphens` only for the first and last position
//!   (`Hyphens::CheckFirstLast`): `--` in positions 3-4 is in real hostnames
//!   (YouTube CDN nodes `r4---sn-….googlevideo.com`) and must stay listable;
//! - `VerifyDnsLength` (`DnsLength::Verify`): a name DNS cannot carry is no
//!   host; the one trailing root dot is removed before, as it names the same host;
//! - `CheckBidi` and `CheckJoiners` are always on in idna 1.x.
//!
//! Underscores: taken in the labels left of the registrable domain, refused
//! in it and in the public suffix. RFC 952/1123 hostnames have no `_`, but
//! DNS carries it, browsers resolve such hosts, and scams use them
//! (`bluewin_login_accountsmail.godaddysites.com`, on a site builder whose
//! customers name their own subdomains). No registry hands out a
//! registrable domain with `_`, so one there is a mistake.
//!
//! `www.` is kept: `www.x.example` and `x.example` are different entries, and
//! listing the parent already catches the child.

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};

use super::error::{excerpt, offset_in, NormaliseError};
use super::host::{self, NoHost};
use super::suffix;
use crate::kind::Kind;

const KIND: Kind = Kind::Domain;

/// STD3's deny list (every ASCII character but letters, digits, `-` and `.`,
/// control characters and space included), less `_`.
const STD3_BUT_UNDERSCORE: AsciiDenyList =
    AsciiDenyList::new(true, "!\"#$%&'()*+,/:;<=>?@[\\]^`{|}~");

/// What a [`NormaliseError::InvalidLabel`] says of a label with `_` where
/// none may stand: the rule itself.
const UNDERSCORE_RULE: &str =
    "has an underscore, which is allowed only in the labels left of the registrable domain";

/// The longest domain name in text form, without the root dot (RFC 1035 §2.3.4).
const MAX_NAME_BYTES: usize = 253;
/// The longest label (RFC 1035 §2.3.4).
const MAX_LABEL_BYTES: usize = 63;

/// Normalises a domain, or the host of a URL (already trimmed, non-empty), into `out`.
pub(super) fn normalise(text: &str, out: &mut String) -> Result<(), NormaliseError> {
    let host = host::host_of(text).map_err(|why| no_host(text, why))?;
    let host = host.strip_suffix('.').unwrap_or(&host);
    if host.is_empty() {
        return Err(malformed(text, "it has no host name"));
    }
    // ASCII input gets a precise error here. In Unicode input an ASCII
    // character may still combine into a valid one ('=' + U+0338 is '≠'),
    // so there idna decides.
    let ascii = host.is_ascii();
    if let Some(at) = host.bytes().position(|b| ascii && !is_host_byte(b)) {
        return Err(NormaliseError::InvalidCharacter {
            kind: KIND,
            input: excerpt(text),
            ch: char::from(host.as_bytes()[at]),
            at: offset_in(text, host) + at,
        });
    }
    if ascii && !has_ace_label(host) {
        // The fast path: plain ASCII needs no mapping beyond lower case.
        out.extend(host.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        let ascii = Uts46::new()
            .to_ascii(
                host.as_bytes(),
                STD3_BUT_UNDERSCORE,
                Hyphens::CheckFirstLast,
                DnsLength::Verify,
            )
            .ok()
            .filter(|ascii| !ascii.split('.').any(decodes_to_ace_prefix))
            .ok_or_else(|| NormaliseError::Idna {
                kind: KIND,
                input: excerpt(text),
            })?;
        out.push_str(&ascii);
    }
    check_name(out, text)
}

/// Letters, digits, `-`, `.`, and `_` (whose place `check_name` checks).
fn is_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')
}

/// Whether a label starts with the IDNA ACE prefix `xn--`: such a label must
/// be decoded and checked by idna, or an invalid one would pass as is.
fn has_ace_label(host: &str) -> bool {
    host.split('.').any(|label| {
        label
            .get(..4)
            .is_some_and(|p| p.eq_ignore_ascii_case("xn--"))
    })
}

/// UTS #46 validity criterion V4, which idna 1.1 skips unless CheckHyphens
/// is fully on: a label must not begin with `xn--` once decoded
/// (`xn--xn--a--gua` decodes to `xn--a-ä`).
fn decodes_to_ace_prefix(label: &str) -> bool {
    label
        .strip_prefix("xn--")
        .and_then(idna::punycode::decode_to_string)
        .is_some_and(|decoded| decoded.starts_with("xn--"))
}

/// Checks a lower-case name of LDH labels and `_`: lengths, hyphens, IP
/// addresses, number of labels, underscores, public suffix.
fn check_name(name: &str, text: &str) -> Result<(), NormaliseError> {
    if name.len() > MAX_NAME_BYTES {
        return Err(NormaliseError::WrongLength {
            kind: KIND,
            input: excerpt(text),
            part: "domain name",
            len: name.len(),
            expected: "at most 253 bytes",
        });
    }
    for label in name.split('.') {
        let problem = if label.is_empty() {
            "is empty"
        } else if label.starts_with('-') || label.ends_with('-') {
            "starts or ends with a hyphen"
        } else if label.len() > MAX_LABEL_BYTES {
            return Err(NormaliseError::WrongLength {
                kind: KIND,
                input: excerpt(text),
                part: "label",
                len: label.len(),
                expected: "1 to 63 bytes",
            });
        } else {
            continue;
        };
        return Err(NormaliseError::InvalidLabel {
            kind: KIND,
            input: excerpt(text),
            label: excerpt(label),
            problem,
        });
    }
    let tld = name.rsplit('.').next().unwrap_or(name);
    if is_numeric_label(tld) {
        return Err(NormaliseError::IpAddress {
            kind: KIND,
            input: excerpt(text),
        });
    }
    if !name.contains('.') {
        return Err(NormaliseError::SingleLabel {
            kind: KIND,
            input: excerpt(text),
        });
    }
    let registrable = suffix::registrable_start(name);
    // Before the suffix test, so that a reader, which takes a private
    // suffix from the centre (`check_canonical`), refuses one with `_` too.
    let registrable_part = &name[registrable.unwrap_or(0)..];
    if registrable_part.as_bytes().contains(&b'_') {
        return Err(misplaced_underscore(registrable_part, text));
    }
    if registrable.is_none() {
        return Err(NormaliseError::PublicSuffix {
            kind: KIND,
            input: excerpt(text),
            suffix: name.to_owned(),
        });
    }
    Ok(())
}

/// The error for an underscore in `registrable_part` (the registrable
/// domain, or a whole name that is a public suffix), naming its label.
#[cold]
fn misplaced_underscore(registrable_part: &str, text: &str) -> NormaliseError {
    let label = registrable_part
        .split('.')
        .find(|label| label.contains('_'))
        .unwrap_or(registrable_part);
    NormaliseError::InvalidLabel {
        kind: KIND,
        input: excerpt(text),
        label: excerpt(label),
        problem: UNDERSCORE_RULE,
    }
}

/// A last label that is a number (`1`, `0x7f`): URL parsers then read the
/// whole host as an IPv4 address (WHATWG "ends in a number"), and no TLD is numeric.
fn is_numeric_label(label: &str) -> bool {
    let hex = label.strip_prefix("0x");
    match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => label.bytes().all(|b| b.is_ascii_digit()),
    }
}

fn no_host(text: &str, why: NoHost) -> NormaliseError {
    let input = excerpt(text);
    match why {
        NoHost::EmailAddress => NormaliseError::EmailAddress { kind: KIND, input },
        NoHost::IpLiteral => NormaliseError::IpAddress { kind: KIND, input },
        NoHost::BadPort => malformed(text, "the port is not a number from 0 to 65535"),
        NoHost::EmptyHost => malformed(text, "the url has no host"),
        NoHost::BadUrl(_) => malformed(
            text,
            "it is not a valid URL by the WHATWG URL Standard (a browser would refuse it too)",
        ),
    }
}

fn malformed(text: &str, problem: &'static str) -> NormaliseError {
    NormaliseError::Malformed {
        kind: KIND,
        input: excerpt(text),
        problem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_last_labels_are_ip_like() {
        assert!(is_numeric_label("40"));
        assert!(is_numeric_label("0x7f"));
        assert!(!is_numeric_label("com"));
        assert!(!is_numeric_label("0xg"));
    }

    #[test]
    fn the_deny_list_is_std3_but_for_the_underscore() {
        let idna = |deny, label: &str| {
            Uts46::new()
                .to_ascii(
                    label.as_bytes(),
                    deny,
                    Hyphens::CheckFirstLast,
                    DnsLength::Ignore,
                )
                .is_ok()
        };
        for byte in 0..0x80u8 {
            // A non-ASCII letter sends the label through the full mapping.
            let label = format!("é{}x", char::from(byte));
            let ours = idna(STD3_BUT_UNDERSCORE, &label);
            assert_eq!(
                ours,
                byte == b'_' || idna(AsciiDenyList::STD3, &label),
                "{byte:#x}"
            );
        }
    }

    #[test]
    fn ace_labels_are_found_in_any_case() {
        assert!(has_ace_label("XN--fa-hia.de"));
        assert!(has_ace_label("a.xn--p1ai"));
        assert!(!has_ace_label("xn-a.com"));
    }
}
