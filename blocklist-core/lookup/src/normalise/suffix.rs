//! The public suffix list: which names are open for anyone to register
//! under (`com`, `co.th`, `github.io`), and so where a registrable domain
//! (eTLD+1) begins.
//!
//! The list (`data/public_suffix_list.dat`, MPL-2.0, see `data/README.md`)
//! is compiled by the build script into a static table (`build/suffixes.rs`):
//! nothing is parsed, built or allocated at run time. Both sections are
//! used: a private suffix such as `github.io` is as unsafe to list as
//! `co.th`. The section of each rule is kept too: private suffixes (hosting
//! platforms) join the list over time, so signed data from a centre with an
//! older list may hold one (see `check_canonical`), while ICANN suffixes
//! never may.

// The rule flags (NORMAL, WILDCARD, EXCEPTION, ICANN_NORMAL,
// ICANN_WILDCARD) come with the table from `build/suffixes.rs`.

/// A slot of the table: a rule's name in [`SUFFIX_NAMES`] (`len` 0: an
/// empty slot) and its flags.
struct Slot {
    offset: u32,
    len: u16,
    flags: u8,
}

include!(concat!(env!("OUT_DIR"), "/suffixes.rs"));

/// The flags of the rule named `suffix` (0 for none). Every domain lookup
/// probes once per label: one xxh3 pass and, the table being at most half
/// full, a slot or two.
fn flags(suffix: &str) -> u8 {
    let mut at = xxhash_rust::xxh3::xxh3_64(suffix.as_bytes()) as usize & SUFFIX_MASK;
    loop {
        let slot = &SUFFIX_SLOTS[at];
        if slot.len == 0 {
            return 0;
        }
        let start = slot.offset as usize;
        if SUFFIX_NAMES.get(start..start + usize::from(slot.len)) == Some(suffix) {
            return slot.flags;
        }
        at = (at + 1) & SUFFIX_MASK;
    }
}

/// Whether the last `len` bytes of the canonical domain `text` (one of its
/// parents) are a plain rule of the list by themselves (`co.th`): then that
/// parent is a public suffix of `text` or inside one, so neither it nor any
/// shorter parent may answer for `text`, and a parent walk can end there
/// without hashing it. Known from a table of the rules of up to eight bytes
/// with a dot (`build/suffixes.rs`): `false` says nothing of longer names.
#[inline(always)]
pub(crate) fn ends_in_short_rule(text: &str, len: usize) -> bool {
    let bytes = text.as_bytes();
    if len > 8 || len > bytes.len() {
        return false;
    }
    let word = match bytes.len().checked_sub(8) {
        // The eight bytes ending the text, shifted down to the last `len`.
        Some(at) => {
            let last = u64::from_le_bytes(bytes[at..].try_into().expect("8 bytes"));
            last.checked_shr(8 * (8 - len) as u32).unwrap_or(0)
        }
        None => short_word(&bytes[bytes.len() - len..]),
    };
    let mut at = (word.wrapping_mul(SHORT_RULE_MUL) >> SHORT_RULE_SHIFT) as usize;
    loop {
        match SHORT_RULES[at] {
            0 => return false,
            slot if slot == word => return true,
            _ => at = (at + 1) & (SHORT_RULES.len() - 1),
        }
    }
}

/// [`ends_in_short_rule`]'s word for a text under eight bytes (rare).
#[cold]
fn short_word(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(word)
}

/// Where the public suffix of `name` starts, by byte offset: the longest
/// matching rule, an exception rule prevailing, and the TLD by default.
fn public_suffix_start(name: &str) -> usize {
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
    let own = flags(name);
    let parent = name.split_once('.').map_or(0, |(_, parent)| flags(parent));
    let by_icann = own & ICANN_NORMAL != 0 || parent & ICANN_WILDCARD != 0;
    let by_any = own & NORMAL != 0 || parent & WILDCARD != 0;
    by_any && !by_icann
}

/// How many parents of the canonical `domain` may answer for it: those down
/// to its registrable domain ([`domain_candidates`] but the name itself).
/// 0 for a name that is its own registrable domain (nearly every domain
/// checked), whose miss then needs no parent probed.
///
/// ```
/// use blocklist_lookup::normalise::answering_parents;
/// assert_eq!(answering_parents("www.scam.co.th"), 1);
/// assert_eq!(answering_parents("scam.co.th"), 0);
/// assert_eq!(answering_parents("co.th"), 0);
/// ```
pub fn answering_parents(domain: &str) -> usize {
    domain_candidates(domain).count().saturating_sub(1)
}

/// The canonical domain `domain`, then each parent domain down to its
/// registrable domain (eTLD+1), never past it: what a lookup must try so
/// that a listed parent catches its children. Nothing for a public suffix.
///
/// Allocation-free: the suffix list is a static table.
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
    fn the_table_holds_every_rule_in_ascii_and_finds_each() {
        let rules: Vec<&Slot> = SUFFIX_SLOTS.iter().filter(|s| s.len > 0).collect();
        assert!(rules.len() > 9_000);
        assert!(SUFFIX_SLOTS.len() >= 2 * rules.len(), "at most half full");
        for slot in rules {
            let start = slot.offset as usize;
            let name = &SUFFIX_NAMES[start..start + usize::from(slot.len)];
            assert!(name.is_ascii(), "{name}");
            assert_eq!(flags(name), slot.flags, "{name}");
        }
        assert_eq!(flags("no-such-suffix.example"), 0);
        assert_eq!(flags("co.th"), NORMAL | ICANN_NORMAL);
        assert_eq!(flags("github.io"), NORMAL);
    }

    #[test]
    fn the_short_rule_table_holds_exactly_the_short_plain_rules_with_a_dot() {
        let is_rule = |name: &str| {
            let flags = flags(name);
            name.contains('.') && flags & NORMAL != 0 && flags & EXCEPTION == 0
        };
        let mut found = 0;
        for slot in SUFFIX_SLOTS.iter().filter(|s| s.len > 0) {
            let start = slot.offset as usize;
            let name = &SUFFIX_NAMES[start..start + usize::from(slot.len)];
            if name.len() > 8 {
                continue;
            }
            // Read as the last bytes of a longer text, and of a short one.
            let long = format!("abcdefgh.{name}");
            assert_eq!(
                ends_in_short_rule(&long, name.len()),
                is_rule(name),
                "{name}"
            );
            assert_eq!(
                ends_in_short_rule(name, name.len()),
                is_rule(name),
                "{name}"
            );
            found += usize::from(is_rule(name));
        }
        assert!(found > 100, "{found}");
        assert!(ends_in_short_rule("scam.co.th", 5));
        assert!(!ends_in_short_rule("scam.co.th", 6));
        assert!(!ends_in_short_rule("a.scam.com", 8));
        assert!(!ends_in_short_rule("www.ck", 6), "an exception rule");
        assert!(
            !ends_in_short_rule("a.b.ck", 4),
            "a wildcard's name, not a rule of its own"
        );
        assert!(
            !ends_in_short_rule("a.s3.amazonaws.com", 17),
            "longer than the table"
        );
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
