//! The keys a query probes beyond the identifier itself: for a domain, each
//! parent that still has two labels (`a.b.scam.co.th` goes on to
//! `b.scam.co.th`, `scam.co.th`, `co.th`), most specific first; and whether
//! a parent that is listed may answer for the query.
//!
//! A parent answers only up to the query's registrable domain (its public
//! suffix plus one label), for ICANN and private suffix rules alike: with
//! `amazonaws.com` listed, `analytics.s3.amazonaws.com` is a site of its own
//! under the public suffix `s3.amazonaws.com`, not part of the listed one.
//! The walk does not work out the registrable domain: misses (most queries)
//! and hits on the identifier itself never need it. A single lookup ends it
//! early at a parent that is a short rule of the suffix list by itself
//! (`co.th`, `com.au`: up to eight bytes, found in a table of those, one
//! multiply and a load; [`ends_at`]), since neither it nor any shorter
//! parent may answer: on a mix of names under `.co.th` that parent was the
//! only one probed, and hashing it (a 5-byte key takes xxh3-128's short
//! path) cost more than the rest of the walk. A batch stages every parent
//! (its probes overlap; the test there measured 34 instructions more an
//! item). A longer parent that is a public suffix is probed (the centre
//! refuses to list one, so its probe answers no). Only a parent that is
//! listed costs the suffix-list walk ([`parent_may_answer`]); the first such
//! parent decides, as every later one is higher still.
//!
//! The suffix list is the reader's own, so readers whose lists differ in
//! date can differ on a name under a suffix that joined the list after its
//! parent was listed (`github.io` listed by a centre with an older list
//! still takes the name itself, not `pages.github.io`: see
//! `normalise::check_canonical`). Erring that way keeps a hosting
//! platform's customers from being blocked for its own listing.
//!
//! A domain of up to 64 bytes (nearly all) is walked from a bit mask of its
//! dots, found eight bytes at a time: a `memchr` per label costs a branch
//! mispredict or two per query, since label lengths vary from query to query,
//! and that was most of what a domain miss cost beyond a number's.
//!
//! Callers probe the identifier itself before asking for its parents. The
//! test of the kind here is a branch that mispredicts on a mix of kinds (one
//! query in three); taken once the first probe's load is in flight, its cost
//! hides under that load. Computing every kind's dot mask instead, to mask it
//! by kind without a branch, measured 3 ns slower for numbers and no faster
//! on the mix.

use crate::kind::Kind;
use crate::normalise::{ends_in_short_rule, registrable_start};

/// The parents of `canonical` as a query of `kind`: none unless it is a domain.
#[inline(always)]
pub(super) fn parents(kind: Kind, canonical: &str) -> Parents<'_> {
    let starts = if kind != Kind::Domain {
        Starts::Mask(0)
    } else if let Some(dots) = dot_mask(canonical.as_bytes()) {
        // Every dot but the last starts a parent, one byte after it.
        let below_last = u64::MAX.checked_shr(dots.leading_zeros() + 1).unwrap_or(0);
        Starts::Mask((dots & below_last) << 1)
    } else {
        let last_dot = canonical.rfind('.').unwrap_or(0);
        Starts::Scan {
            next: canonical[..last_dot].find('.').map(|dot| dot + 1),
            last_dot,
        }
    };
    Parents {
        text: canonical,
        starts,
    }
}

/// Whether a walk over the parents of `canonical` may end at `parent`:
/// it is a short rule of the suffix list by itself, so neither it nor any
/// later (shorter) parent may answer for `canonical`.
#[inline(always)]
pub(super) fn ends_at(canonical: &str, parent: &str) -> bool {
    ends_in_short_rule(canonical, parent.len())
}

/// Whether a listed `matched`, the query `canonical` itself or one of its
/// [`parents`], may answer for the query: the query always, a parent only
/// when it is the query's registrable domain or below it. Never true for a
/// parent of a query that is itself a public suffix.
#[inline(always)]
pub(super) fn parent_may_answer(canonical: &str, matched: &str) -> bool {
    matched.len() == canonical.len() || parent_within_registrable(canonical, matched)
}

/// [`parent_may_answer`] for a parent: kept out of line, as only a listed
/// parent pays for the suffix-list walk.
#[inline(never)]
fn parent_within_registrable(canonical: &str, parent: &str) -> bool {
    let parent_start = canonical.len() - parent.len();
    registrable_start(canonical).is_some_and(|start| parent_start <= start)
}

/// Iterator over a query's parents (see [`parents`]).
pub(super) struct Parents<'a> {
    text: &'a str,
    starts: Starts,
}

/// Where the remaining candidates start.
enum Starts {
    /// Bit `i` set: a candidate starts at byte `i`.
    Mask(u64),
    /// Names longer than the mask: found one `find` at a time.
    Scan {
        next: Option<usize>,
        last_dot: usize,
    },
}

impl<'a> Iterator for Parents<'a> {
    type Item = &'a str;

    #[inline(always)]
    fn next(&mut self) -> Option<&'a str> {
        let start = match &mut self.starts {
            Starts::Mask(mask) => {
                if *mask == 0 {
                    return None;
                }
                let start = mask.trailing_zeros() as usize;
                *mask &= *mask - 1;
                start
            }
            Starts::Scan { next, last_dot } => {
                let here = (*next)?;
                *next = self.text[here..*last_dot]
                    .find('.')
                    .map(|dot| here + dot + 1);
                here
            }
        };
        // A start is 0 or one past an ASCII dot: always a char boundary.
        Some(&self.text[start..])
    }
}

/// Bit `i` set where `bytes[i]` is a dot, for `bytes` of at most 64 bytes;
/// `None` for longer ones.
///
/// Reads overlapping 8-byte words at `min(8k, len - 8)`, a fixed number of
/// them per length class, so the work does not branch on the exact length.
#[inline]
fn dot_mask(bytes: &[u8]) -> Option<u64> {
    let len = bytes.len();
    let words = match len {
        0..=7 => return Some(short_dot_mask(bytes)),
        8..=32 => 4,
        33..=64 => 8,
        _ => return None,
    };
    let mut mask = 0;
    for k in 0..words {
        let at = (8 * k).min(len - 8);
        let word = u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        mask |= u64::from(dots_in_word(word)) << at;
    }
    Some(mask)
}

/// [`dot_mask`] for names under eight bytes, which are rare.
#[cold]
fn short_dot_mask(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'.')
        .fold(0, |mask, (i, _)| mask | 1 << i)
}

/// Bit `i` set where byte `i` (little-endian) of `word` is a dot.
#[inline(always)]
fn dots_in_word(word: u64) -> u8 {
    const LOW7: u64 = 0x7F7F_7F7F_7F7F_7F7F;
    let zeroed = word ^ 0x2E2E_2E2E_2E2E_2E2E;
    // High bit of each byte set exactly where that byte of `zeroed` is zero
    // (no carries between bytes, unlike the shorter `haszero` trick).
    let flags = !(((zeroed & LOW7) + LOW7) | zeroed | LOW7);
    // Gather the eight flag bits into one byte: each lands at bit 56 + i and
    // no two partial products overlap, so nothing carries.
    ((flags >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn domain_walk(domain: &str) -> Parents<'_> {
        parents(Kind::Domain, domain)
    }

    /// The walk by definition: what follows each dot but the last.
    fn reference(domain: &str) -> Vec<&str> {
        let last_dot = domain.rfind('.').unwrap_or(0);
        domain
            .match_indices('.')
            .filter(|&(i, _)| i < last_dot)
            .map(|(i, _)| &domain[i + 1..])
            .collect()
    }

    #[test]
    fn a_domain_walk_stops_at_two_labels() {
        let walk: Vec<&str> = domain_walk("a.b.scam.co.th").collect();
        assert_eq!(walk, ["b.scam.co.th", "scam.co.th", "co.th"]);
        assert_eq!(domain_walk("scam.com").count(), 0);
        assert_eq!(domain_walk("localhost").count(), 0);
    }

    #[test]
    fn a_walk_may_end_at_a_short_rule_as_no_later_parent_may_answer() {
        let ended = |query| domain_walk(query).position(|parent| ends_at(query, parent));
        assert_eq!(ended("a.b.scam.co.th"), Some(2));
        assert_eq!(ended("scam.co.th"), Some(0));
        assert_eq!(ended("a.scam.example"), None);
        // What the end leaves out could never answer.
        for query in [
            "a.b.scam.co.th",
            "x.com.au",
            "a.b.c.ac.uk",
            "deep.a.github.io",
        ] {
            for parent in domain_walk(query).skip_while(|parent| !ends_at(query, parent)) {
                assert!(!parent_may_answer(query, parent), "{query} {parent}");
            }
        }
    }

    #[test]
    fn a_parent_answers_only_up_to_the_registrable_domain() {
        let query = "a.b.analytics.s3.amazonaws.com";
        for (matched, answers) in [
            (query, true),
            ("b.analytics.s3.amazonaws.com", true),
            ("analytics.s3.amazonaws.com", true),
            ("s3.amazonaws.com", false),
            ("amazonaws.com", false),
        ] {
            assert_eq!(parent_may_answer(query, matched), answers, "{matched}");
        }
        // A query that is itself a public suffix: only itself.
        assert!(parent_may_answer("s3.amazonaws.com", "s3.amazonaws.com"));
        assert!(!parent_may_answer("s3.amazonaws.com", "amazonaws.com"));
    }

    #[test]
    fn every_byte_of_every_word_is_seen() {
        for byte in 0..=255u8 {
            for at in 0..8 {
                let mut word = [b'a'; 8];
                word[at] = byte;
                let expected = if byte == b'.' { 1 << at } else { 0 };
                assert_eq!(dots_in_word(u64::from_le_bytes(word)), expected);
            }
        }
    }

    proptest! {
        #[test]
        fn the_walk_matches_its_definition_at_every_length(
            domain in "([a-z0-9-]{0,12}\\.){0,20}[a-z0-9]{0,12}",
        ) {
            prop_assert_eq!(domain_walk(&domain).collect::<Vec<_>>(), reference(&domain));
        }

        #[test]
        fn other_kinds_have_no_parents(
            text in "([a-z0-9:+]{0,12}\\.){0,20}[a-z0-9]{0,12}",
        ) {
            for kind in [Kind::Account, Kind::Number, Kind::Other(9)] {
                prop_assert_eq!(parents(kind, &text).count(), 0);
            }
        }
    }
}
