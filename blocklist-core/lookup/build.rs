//! Generates the region tables for national phone numbers from
//! libphonenumber's `data/PhoneNumberMetadata.xml` (see `data/README.md`),
//! and the public suffix table (`build/suffixes.rs`).
//!
//! Why tables and not the `phonenumber` crate: that crate parses with
//! regular expressions compiled on first use and deserialises its whole
//! metadata database lazily on the first call, which is microseconds per
//! number and a stall on the first lookup of a C caller. Normalisation sits
//! on the lookup path, so the few facts national input needs (calling code,
//! international and trunk prefixes, national lengths) are compiled here into
//! static tables: nothing is built at run time.
//!
//! The prefix patterns of the metadata are small regular expressions over
//! digits with a finite language; each is expanded into its alternatives, one
//! digit set per position. A pattern this expander cannot read fails the
//! build, naming the region, instead of being approximated.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

#[path = "build/suffixes.rs"]
mod suffixes;

const METADATA: &str = "data/PhoneNumberMetadata.xml";

/// The libphonenumber release the metadata file comes from (`data/README.md`).
const METADATA_VERSION: &str = "v9.0.33";

/// More alternatives than any prefix pattern of the metadata has: a pattern
/// past it is not a prefix list and would bloat the tables.
const MAX_ALTERNATIVES: usize = 256;

/// The longest E.164 number, country code included.
const E164_MAX_DIGITS: usize = 15;

/// The fewest national digits taken for a region whose metadata gives no
/// lengths (as `number.rs` does for countries without a plan).
const MIN_NATIONAL_DIGITS: usize = 4;

fn main() {
    println!("cargo::rerun-if-changed={METADATA}");
    println!("cargo::rerun-if-changed=build.rs");
    let xml =
        std::fs::read_to_string(METADATA).unwrap_or_else(|e| panic!("cannot read {METADATA}: {e}"));
    // The file opens with its DTD (element declarations, no entities).
    let options = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..roxmltree::ParsingOptions::default()
    };
    let doc = roxmltree::Document::parse_with_options(&xml, options)
        .unwrap_or_else(|e| panic!("{METADATA} is not well-formed XML: {e}"));
    let mut regions = BTreeMap::new();
    for territory in doc.descendants().filter(|n| n.has_tag_name("territory")) {
        let id = attr(territory, "id").unwrap_or_default();
        // "001" and the like are non-geographic entities (+800, +882...):
        // reached only in international form, never a default region.
        if id.len() == 2 && id.bytes().all(|b| b.is_ascii_uppercase()) {
            regions.insert(id.to_owned(), Region::read(territory));
        }
    }
    assert!(
        !regions.is_empty() && regions.len() < usize::from(NO_REGION),
        "{METADATA}: {} regions, expected 1 to {}",
        regions.len(),
        NO_REGION - 1
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out.join("regions.rs"), render(&regions))
        .unwrap_or_else(|e| panic!("cannot write the region tables: {e}"));
    suffixes::generate(&out);
}

/// A slot of the code index with no region.
const NO_REGION: u8 = u8::MAX;

/// What the normaliser needs of one territory.
struct Region {
    country_code: String,
    dialling_prefixes: Vec<Vec<u16>>,
    trunk_prefix: String,
    trunk_prefixes: Vec<Vec<u16>>,
    trunk_prefix_required: bool,
    national_lengths: u32,
}

impl Region {
    fn read(territory: roxmltree::Node) -> Region {
        let id = attr(territory, "id").unwrap_or_default();
        let country_code = attr(territory, "countryCode")
            .unwrap_or_else(|| panic!("{id}: no countryCode"))
            .to_owned();
        assert!(
            !country_code.is_empty()
                && country_code.len() <= 3
                && !country_code.starts_with('0')
                && country_code.bytes().all(|b| b.is_ascii_digit()),
            "{id}: country code {country_code:?}"
        );
        let dialling_prefixes = attr(territory, "internationalPrefix")
            .map(|p| expand(id, p))
            .unwrap_or_default();
        let trunk_prefix = attr(territory, "nationalPrefix").unwrap_or_default();
        assert!(
            trunk_prefix.bytes().all(|b| b.is_ascii_digit()),
            "{id}: national prefix {trunk_prefix:?}"
        );
        // A transform rule rewrites what the pattern captures (an area code
        // put in front of a local number, a carrier code dropped): beyond a
        // prefix to strip, so only the plain national prefix is used there.
        let trunk_prefixes = match (
            attr(territory, "nationalPrefixForParsing"),
            attr(territory, "nationalPrefixTransformRule"),
        ) {
            (Some(pattern), None) => expand(id, pattern),
            _ if trunk_prefix.is_empty() => Vec::new(),
            _ => expand(id, trunk_prefix),
        };
        Region {
            country_code,
            dialling_prefixes,
            trunk_prefix: trunk_prefix.to_owned(),
            trunk_prefixes,
            trunk_prefix_required: !trunk_prefix.is_empty() && formats_need_trunk_prefix(territory),
            national_lengths: national_lengths(territory),
        }
    }
}

/// Whether a national number of the territory is written with its trunk
/// prefix: some number format prints it (`$NP` in its
/// `nationalPrefixFormattingRule`, its own or the territory's) and does not
/// call it optional. Thailand, Britain, Germany and Japan do; the NANP does
/// not (`212-555-1234` is complete without the `1`).
fn formats_need_trunk_prefix(territory: roxmltree::Node) -> bool {
    let rule_of_territory = attr(territory, "nationalPrefixFormattingRule");
    let optional_in_territory = attr(territory, "nationalPrefixOptionalWhenFormatting");
    territory
        .descendants()
        .filter(|n| n.has_tag_name("numberFormat"))
        .any(|format| {
            let rule = attr(format, "nationalPrefixFormattingRule").or(rule_of_territory);
            let optional =
                attr(format, "nationalPrefixOptionalWhenFormatting").or(optional_in_territory);
            rule.is_some_and(|r| r.contains("$NP")) && optional != Some("true")
        })
}

/// The national significant number lengths of every number type, as a bit
/// set (bit `n`: `n` digits). Lengths valid only for local dialling (without
/// the area code) are left out: they cannot be written in E.164.
fn national_lengths(territory: roxmltree::Node) -> u32 {
    let id = attr(territory, "id").unwrap_or_default();
    let mut lengths = 0u32;
    for spec in territory
        .children()
        .filter(|n| n.is_element() && !n.has_tag_name("availableFormats"))
        .flat_map(|t| t.children().filter(|n| n.has_tag_name("possibleLengths")))
        .filter_map(|n| attr(n, "national"))
    {
        for part in spec.split(',').map(str::trim) {
            let (lo, hi) = match part.strip_prefix('[').and_then(|p| p.strip_suffix(']')) {
                Some(range) => range
                    .split_once('-')
                    .unwrap_or_else(|| panic!("{id}: possible lengths {spec:?}")),
                None => (part, part),
            };
            let (lo, hi): (i32, i32) = (number(id, lo), number(id, hi));
            // "-1": the type has no numbers.
            if lo < 0 {
                continue;
            }
            assert!(lo <= hi && hi < 32, "{id}: possible lengths {spec:?}");
            for len in lo..=hi {
                lengths |= 1 << len;
            }
        }
    }
    if lengths == 0 {
        let cc_len = attr(territory, "countryCode").map_or(1, str::len);
        for len in MIN_NATIONAL_DIGITS..=E164_MAX_DIGITS - cc_len {
            lengths |= 1 << len;
        }
    }
    lengths
}

fn number(id: &str, text: &str) -> i32 {
    text.parse()
        .unwrap_or_else(|e| panic!("{id}: length {text:?}: {e}"))
}

fn attr<'a>(node: roxmltree::Node<'a, '_>, name: &str) -> Option<&'a str> {
    node.attribute(name)
}

/// One digit set (bit `d`: digit `d`) per position of a prefix.
type Prefix = Vec<u16>;

const ANY_DIGIT: u16 = 0x3ff;

/// Every string of digit sets `pattern` matches, longest first. Reads the
/// regular-expression subset the metadata's prefix patterns use: digits,
/// `\d`, classes `[0-35-9]`, groups `(...)` and `(?:...)` with `|`, and the
/// quantifiers `?`, `{n}`, `{n,m}`. Whitespace is layout, as in
/// libphonenumber.
fn expand(id: &str, pattern: &str) -> Vec<Prefix> {
    let chars: Vec<char> = pattern.chars().filter(|c| !c.is_whitespace()).collect();
    let mut parser = Parser {
        id,
        pattern,
        chars: &chars,
        at: 0,
    };
    let mut alternatives = parser.alternation();
    if parser.at != chars.len() {
        parser.fail("an unmatched ')'");
    }
    alternatives.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    alternatives.dedup();
    alternatives
}

struct Parser<'a> {
    id: &'a str,
    pattern: &'a str,
    chars: &'a [char],
    at: usize,
}

impl Parser<'_> {
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{}: cannot expand {:?} at {}: {what}",
            self.id, self.pattern, self.at
        )
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.at += 1;
        c
    }

    fn alternation(&mut self) -> Vec<Prefix> {
        let mut all = self.sequence();
        while self.peek() == Some('|') {
            self.at += 1;
            all.extend(self.sequence());
            self.check_size(all.len());
        }
        all
    }

    fn sequence(&mut self) -> Vec<Prefix> {
        let mut all = vec![Vec::new()];
        while !matches!(self.peek(), None | Some('|' | ')')) {
            let atom = self.atom();
            let atom = self.quantified(atom);
            all = all
                .iter()
                .flat_map(|head| {
                    atom.iter()
                        .map(move |tail| head.iter().chain(tail).copied().collect())
                })
                .collect();
            self.check_size(all.len());
        }
        all
    }

    fn atom(&mut self) -> Vec<Prefix> {
        match self.next() {
            Some(d @ '0'..='9') => vec![vec![1 << (d as u32 - '0' as u32)]],
            Some('\\') if self.next() == Some('d') => vec![vec![ANY_DIGIT]],
            Some('[') => vec![vec![self.class()]],
            Some('(') => {
                if self.peek() == Some('?') {
                    self.at += 1;
                    if self.next() != Some(':') {
                        self.fail("only (?: groups are read");
                    }
                }
                let inner = self.alternation();
                if self.next() != Some(')') {
                    self.fail("a '(' is never closed");
                }
                inner
            }
            _ => self.fail("not a digit, \\d, class or group"),
        }
    }

    fn class(&mut self) -> u16 {
        let mut set = 0u16;
        loop {
            let lo = match self.next() {
                Some(']') if set != 0 => return set,
                Some(d @ '0'..='9') => d as u32 - '0' as u32,
                _ => self.fail("a class holds digits and ranges only"),
            };
            let hi = if self.peek() == Some('-') {
                self.at += 1;
                match self.next() {
                    Some(d @ '0'..='9') => d as u32 - '0' as u32,
                    _ => self.fail("a range ends with a digit"),
                }
            } else {
                lo
            };
            for d in lo..=hi {
                set |= 1 << d;
            }
        }
    }

    fn quantified(&mut self, atom: Vec<Prefix>) -> Vec<Prefix> {
        let (min, max) = match self.peek() {
            Some('?') => {
                self.at += 1;
                (0, 1)
            }
            Some('{') => {
                self.at += 1;
                let mut bounds = String::new();
                loop {
                    match self.next() {
                        Some('}') => break,
                        Some(c) => bounds.push(c),
                        None => self.fail("a '{' is never closed"),
                    }
                }
                let (lo, hi) = bounds.split_once(',').unwrap_or((&bounds, &bounds));
                match (lo.parse::<usize>(), hi.parse::<usize>()) {
                    (Ok(lo), Ok(hi)) if lo <= hi => (lo, hi),
                    _ => self.fail("a repeat is {n} or {n,m}"),
                }
            }
            Some('*' | '+') => self.fail("unbounded repeats have no finite expansion"),
            _ => return atom,
        };
        let mut all = Vec::new();
        let mut repeated: Vec<Prefix> = vec![Vec::new()];
        for count in 0..=max {
            if count >= min {
                all.extend(repeated.iter().cloned());
            }
            repeated = repeated
                .iter()
                .flat_map(|head| {
                    atom.iter()
                        .map(move |tail| head.iter().chain(tail).copied().collect())
                })
                .collect();
            self.check_size(all.len() + repeated.len());
        }
        all
    }

    fn check_size(&self, len: usize) {
        if len > MAX_ALTERNATIVES {
            self.fail("more alternatives than a prefix list has");
        }
    }
}

/// The generated Rust source: the regions sorted by code, and an index from
/// code to position.
fn render(regions: &BTreeMap<String, Region>) -> String {
    let mut s = String::new();
    let codes: Vec<&str> = regions.keys().map(String::as_str).collect();
    writeln!(
        s,
        "// Generated by build.rs from {METADATA} (libphonenumber {METADATA_VERSION}); do not edit.\n"
    )
    .unwrap();
    writeln!(
        s,
        "/// The regions national numbers can be read for, for error messages.\n\
         const SUPPORTED_NUMBER_REGIONS: &str = \"the {} regions of libphonenumber {METADATA_VERSION} \
         (ISO 3166 alpha-2 codes such as TH, US, GB)\";\n",
        regions.len()
    )
    .unwrap();
    writeln!(s, "static REGIONS: [Region; {}] = [", regions.len()).unwrap();
    for (code, r) in regions {
        writeln!(
            s,
            "    Region {{\n        code: {code:?},\n        country_code: b{:?},\n        \
             dialling_prefixes: {},\n        trunk_prefix: {:?},\n        trunk_prefixes: {},\n        \
             trunk_prefix_required: {},\n        national_lengths: NationalLengths({:#x}),\n        \
             expected_lengths: {:?},\n    }},",
            r.country_code,
            prefixes(&r.dialling_prefixes),
            r.trunk_prefix,
            prefixes(&r.trunk_prefixes),
            r.trunk_prefix_required,
            r.national_lengths,
            expected_lengths(code, r),
        )
        .unwrap();
    }
    writeln!(s, "];\n").unwrap();
    let mut index = [NO_REGION; 26 * 26];
    for (position, code) in codes.iter().enumerate() {
        let b = code.as_bytes();
        index[usize::from(b[0] - b'A') * 26 + usize::from(b[1] - b'A')] =
            u8::try_from(position).expect("fewer regions than NO_REGION");
    }
    writeln!(
        s,
        "/// Position in `REGIONS` of each code `XY` at `(X - 'A') * 26 + (Y - 'A')`, \
         {NO_REGION} where there is none.\nstatic REGION_INDEX: [u8; 676] = {index:?};"
    )
    .unwrap();
    s
}

fn prefixes(all: &[Prefix]) -> String {
    let mut s = String::from("&[");
    for prefix in all {
        s.push_str("&[");
        for set in prefix {
            write!(s, "DigitSet({set:#x}),").unwrap();
        }
        s.push_str("],");
    }
    s.push(']');
    s
}

/// The lengths a region allows, in words: "9 or 10 digits (region CL)".
fn expected_lengths(code: &str, r: &Region) -> String {
    // Runs of three or more lengths are written "4 to 13".
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for len in (0..32).filter(|len| r.national_lengths & (1 << len) != 0) {
        match runs.last_mut() {
            Some((_, hi)) if *hi + 1 == len => *hi = len,
            _ => runs.push((len, len)),
        }
    }
    let lengths: Vec<String> = runs
        .into_iter()
        .flat_map(|(lo, hi)| match hi - lo {
            0 => vec![lo.to_string()],
            1 => vec![lo.to_string(), hi.to_string()],
            _ => vec![format!("{lo} to {hi}")],
        })
        .collect();
    let list = match lengths.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => unreachable!("every region has lengths"),
    };
    let after = match (r.trunk_prefix.as_str(), r.trunk_prefix_required) {
        ("", _) => String::new(),
        (prefix, true) => format!(" after the trunk prefix {prefix}"),
        (prefix, false) => format!(", with or without the trunk prefix {prefix}"),
    };
    format!(
        "{list} digits in region {code} (+{}){after}",
        r.country_code
    )
}
