//! The public suffix list: which names are open for anyone to register
//! under (`com`, `co.th`, `github.io`), and so where a registrable domain
//! (eTLD+1) begins.
//!
//! The list is embedded from `data/public_suffix_list.dat` (MPL-2.0, see
//! `data/README.md`) and parsed once. Both sections are used: a private
//! suffix such as `github.io` is as unsafe to list as `co.th`. The section
//! of each rule is kept too: private suffixes (hosting platforms) join the
//! list over time, so signed data from a centre with an older list may hold
//! one (see `check_canonical`), while ICANN suffixes never may.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::OnceLock;

/// The list as published by publicsuffix.org.
const LIST: &str = include_str!("../../data/public_suffix_list.dat");

/// A plain rule (`co.th`).
const NORMAL: u8 = 1;
/// A wildcard rule (`*.ck`), stored under its parent (`ck`).
const WILDCARD: u8 = 2;
/// An exception rule (`!www.ck`): the name is registrable after all.
const EXCEPTION: u8 = 4;
/// Set beside `NORMAL` for a plain rule of the ICANN section.
const ICANN_NORMAL: u8 = 8;
/// Set beside `WILDCARD` for a wildcard rule of the ICANN section.
const ICANN_WILDCARD: u8 = 16;

/// Rule flags by ASCII (punycode) name.
type Rules = HashMap<Box<str>, u8, BuildHasherDefault<SuffixHasher>>;

/// Every domain lookup probes the rules once per label, so the default
/// SipHash (built for untrusted keys, ~20 ns a probe) would be a large part of
/// a lookup. The keys here are the fixed, public list: xxh3 in one pass is enough.
#[derive(Default)]
struct SuffixHasher(u64);

impl Hasher for SuffixHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    fn write_u8(&mut self, byte: u8) {
        // `str` hashing ends with a 0xff marker: fold it in without a second pass.
        self.0 = self.0.rotate_left(8) ^ u64::from(byte);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

fn rules() -> &'static Rules {
    static RULES: OnceLock<Rules> = OnceLock::new();
    RULES.get_or_init(|| parse(LIST))
}

/// Parses the list format: one rule per line, `//` comments (two of which
/// mark where the ICANN and the private sections begin), rules in Unicode
/// (converted to punycode here, to match canonical domains).
fn parse(list: &str) -> Rules {
    let mut rules = Rules::with_capacity_and_hasher(10_000, Default::default());
    // Rules before any section mark count as ICANN's: the stricter reading.
    let mut private = false;
    for line in list.lines() {
        let Some(rule) = line.split_whitespace().next() else {
            continue;
        };
        if rule.starts_with("//") {
            if line.contains("===BEGIN PRIVATE DOMAINS===") {
                private = true;
            } else if line.contains("===BEGIN ICANN DOMAINS===") {
                private = false;
            }
            continue;
        }
        let icann = |flag| if private { 0 } else { flag };
        let (flag, name) = if let Some(name) = rule.strip_prefix('!') {
            (EXCEPTION, name)
        } else if let Some(name) = rule.strip_prefix("*.") {
            (WILDCARD | icann(ICANN_WILDCARD), name)
        } else {
            (NORMAL | icann(ICANN_NORMAL), rule)
        };
        // A rule idna refuses can match no canonical domain; keeping its
        // text unconverted is harmless (a unit test checks there are none).
        let name = idna::domain_to_ascii(name).unwrap_or_else(|_| name.to_owned());
        *rules.entry(name.into_boxed_str()).or_insert(0) |= flag;
    }
    rules
}

/// Where the public suffix of `name` starts, by byte offset: the longest
/// matching rule, an exception rule prevailing, and the TLD by default.
fn public_suffix_start(name: &str) -> usize {
    let rules = rules();
    let flags = |suffix: &str| rules.get(suffix).copied().unwrap_or(0);
    let mut start = name.rfind('.').map_or(0, |dot| dot + 1);
    let mut suffix_start = start;
    let mut parent_flags = flags(&name[start..]);
    while start > 0 {
        let next = name[..start - 1].rfind('.').map_or(0, |dot| dot + 1);
        let here = flags(&name[next..]);
        if here & EXCEPTION != 0 {
            return start;
        }
        if here & NORMAL != 0 || parent_flags & WILDCARD != 0 {
            suffix_start = next;
        }
        parent_flags = here;
        start = next;
    }
    suffix_start
}

/// Where the registrable domain (eTLD+1) of the canonical `name` starts, or
/// `None` when `name` is itself a public suffix.
pub(crate) fn registrable_start(name: &str) -> Option<usize> {
    let suffix_start = public_suffix_start(name);
    let before = suffix_start.checked_sub(1)?;
    Some(name[..before].rfind('.').map_or(0, |dot| dot + 1))
}

/// Whether `name`, a public suffix, is one by rules of the list's private
/// section only (`github.io`, `s3.amazonaws.com`), and by no ICANN rule
/// (`co.th`, a name under `*.ck`).
pub(crate) fn is_private_suffix(name: &str) -> bool {
    let rules = rules();
    let flags = |suffix: &str| rules.get(suffix).copied().unwrap_or(0);
    let own = flags(name);
    let parent = name.split_once('.').map_or(0, |(_, parent)| flags(parent));
    let by_icann = own & ICANN_NORMAL != 0 || parent & ICANN_WILDCARD != 0;
    let by_any = own & NORMAL != 0 || parent & WILDCARD != 0;
    by_any && !by_icann
}

/// The canonical domain `domain`, then each parent domain down to its
/// registrable domain (eTLD+1), never past it: what a lookup must try so
/// that a listed parent catches its children. Nothing for a public suffix.
///
/// Allocation-free: the suffix list is parsed once, on first use.
///
/// ```
/// use blocklist_lookup::normalise::domain_candidates;
/// let got: Vec<&str> = domain_candidates("a.b.scam.co.th").collect();
/// assert_eq!(got, ["a.b.scam.co.th", "b.scam.co.th", "scam.co.th"]);
/// assert_eq!(domain_candidates("co.th").count(), 0);
/// ```
pub fn domain_candidates(domain: &str) -> impl Iterator<Item = &str> {
    let last = if domain.is_empty() {
        None
    } else {
        registrable_start(domain)
    };
    let mut next = last.map(|_| 0);
    std::iter::from_fn(move || {
        let start = next?;
        let last = last?;
        next = domain[start..]
            .find('.')
            .map(|dot| start + dot + 1)
            .filter(|&parent| parent <= last);
        Some(&domain[start..])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_of_the_list_converts_to_ascii() {
        assert!(rules().len() > 9_000);
        assert!(rules().keys().all(|k| k.is_ascii()), "a rule failed idna");
    }

    #[test]
    fn wildcard_and_exception_rules_apply() {
        // *.ck and !www.ck
        assert_eq!(registrable_start("a.b.ck"), Some(0));
        assert_eq!(registrable_start("b.ck"), None);
        assert_eq!(registrable_start("www.ck"), Some(0));
        assert_eq!(registrable_start("a.www.ck"), Some(2));
    }

    #[test]
    fn private_suffixes_are_told_from_icann_ones() {
        for private in ["github.io", "blogspot.com", "s3.amazonaws.com"] {
            assert!(is_private_suffix(private), "{private}");
        }
        // A plain ICANN rule, an ICANN wildcard (*.ck), a TLD by default,
        // and a registrable name.
        for other in ["co.th", "com.au", "b.ck", "com", "example", "scam.co.th"] {
            assert!(!is_private_suffix(other), "{other}");
        }
    }

    #[test]
    fn unlisted_tld_is_a_public_suffix_by_default() {
        assert_eq!(registrable_start("scam.example"), Some(0));
        assert_eq!(registrable_start("example"), None);
    }

    #[test]
    fn candidates_stop_at_the_registrable_domain() {
        let got: Vec<&str> = domain_candidates("a.b.scam.example").collect();
        assert_eq!(got, ["a.b.scam.example", "b.scam.example", "scam.example"]);
        let got: Vec<&str> = domain_candidates("user.github.io").collect();
        assert_eq!(got, ["user.github.io"]);
        assert_eq!(domain_candidates("").count(), 0);
    }
}
