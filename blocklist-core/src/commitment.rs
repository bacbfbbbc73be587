//! State commitments: the 32-byte [`StateDigest`] a document signs for a
//! whole list, and the [`StateAccumulator`] that stores and the centre keep
//! so that a change costs what it changes, not the size of the list.
//!
//! Documents of format 3 carry [`LtHash16`] (Lewi et al., "Securing Update
//! Propagation with Homomorphic Hashing", 2019): each entry is expanded by
//! BLAKE3's extended output into 1024 lanes of 16 bits, a list is the
//! lane-wise sum (mod 2^16) of its entries, and the digest is SHA-256 of the
//! 2048-byte sum. Finding two lists with one sum is as hard as the lattice
//! problem the paper reduces it to (about 200 bits of security at these
//! parameters). Documents of formats 1 and 2 carry the [`LaneSum`], four
//! 64-bit lanes, which a generalized-birthday attack collides: it is kept
//! only to read them. `docs/FORMAT.md` ("State commitment") specifies both.

use std::fmt;

use sha2::{Digest as _, Sha256 as Sha256Hasher};

use crate::digest::StateDigest;
use crate::document::ListState;
use crate::entry::Entry;

/// The first envelope format whose documents carry [`Commitment::LtHash16`].
pub const LTHASH_SINCE_FORMAT: u8 = 3;

/// Which commitment a document's state digest is, by the format of the
/// envelope that carries it.
///
/// ```
/// use blocklist_core::Commitment;
/// assert_eq!(Commitment::of_format(2), Commitment::LaneSum);
/// assert_eq!(Commitment::of_format(3), Commitment::CURRENT);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Commitment {
    /// Formats 1 and 2: the [`LaneSum`] of the entries.
    LaneSum,
    /// Format 3 on: the [`LtHash16`] digest of the entries.
    LtHash16,
}

impl Commitment {
    /// The commitment of the documents this build writes.
    pub const CURRENT: Commitment = Commitment::LtHash16;

    /// The commitment documents of envelope format `format` carry.
    pub const fn of_format(format: u8) -> Commitment {
        if format >= LTHASH_SINCE_FORMAT {
            Commitment::LtHash16
        } else {
            Commitment::LaneSum
        }
    }
}

impl fmt::Display for Commitment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Commitment::LaneSum => "lane sum",
            Commitment::LtHash16 => "lthash16",
        })
    }
}

/// Whether an entry joins a multiset or leaves it.
#[derive(Clone, Copy)]
enum Sign {
    Add,
    Remove,
}

/// Lanes of an [`LtHash16`].
pub const LTHASH_LANES: usize = 1024;
/// Bytes of an [`LtHash16`]: its lanes, little-endian, in order.
pub const LTHASH_BYTES: usize = 2 * LTHASH_LANES;

/// What an entry's canonical hash is prefixed with before BLAKE3 expands it.
const ELEMENT_DOMAIN: &[u8] = b"blocklist lthash16 element v1\0";
/// What the 2048 bytes of the sum are prefixed with before SHA-256 digests them.
const DIGEST_DOMAIN: &[u8] = b"blocklist state v2\0";

/// The LtHash of a multiset of entries with 1024 lanes of 16 bits: adding
/// and removing an entry each cost one BLAKE3 expansion and 1024 additions,
/// whatever the size of the list. Order does not matter, and adding then
/// removing an entry restores the sum.
///
/// ```
/// use blocklist_core::*;
/// let rules = Rules::default();
/// let entry = Entry {
///     id: Identifier::parse(Kind::Domain, "scam.example", &rules).unwrap(),
///     meta: EntryMeta { reason: Reason::PHISHING, agency: Agency::new("th-aoc").unwrap(),
///                       listed_at: Timestamp(1), expires_at: None },
/// };
/// let mut sum = LtHash16::default();
/// let empty = sum.digest();
/// sum.add(&entry);
/// assert_ne!(sum.digest(), empty);
/// sum.remove(&entry);
/// assert_eq!(sum.digest(), empty);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct LtHash16 {
    lanes: Box<[u16; LTHASH_LANES]>,
}

impl Default for LtHash16 {
    fn default() -> Self {
        LtHash16 {
            lanes: Box::new([0; LTHASH_LANES]),
        }
    }
}

impl LtHash16 {
    /// Adds `entry` to the multiset.
    pub fn add(&mut self, entry: &Entry) {
        self.combine(&entry_hash(entry), Sign::Add);
    }

    /// Removes `entry` (exactly as it was added) from the multiset.
    pub fn remove(&mut self, entry: &Entry) {
        self.combine(&entry_hash(entry), Sign::Remove);
    }

    /// The 32 bytes documents carry: SHA-256 of the domain string and the
    /// lanes' bytes.
    pub fn digest(&self) -> StateDigest {
        let mut h = Sha256Hasher::new();
        h.update(DIGEST_DOMAIN);
        h.update(self.to_bytes());
        StateDigest(h.finalize().into())
    }

    /// The lanes, each little-endian, in order.
    pub fn to_bytes(&self) -> [u8; LTHASH_BYTES] {
        let mut out = [0u8; LTHASH_BYTES];
        for (bytes, lane) in out.chunks_exact_mut(2).zip(self.lanes.iter()) {
            bytes.copy_from_slice(&lane.to_le_bytes());
        }
        out
    }

    /// The sum whose bytes ([`LtHash16::to_bytes`]) are `bytes`; `None`
    /// unless there are exactly [`LTHASH_BYTES`].
    pub fn from_bytes(bytes: &[u8]) -> Option<LtHash16> {
        if bytes.len() != LTHASH_BYTES {
            return None;
        }
        let mut sum = LtHash16::default();
        for (lane, b) in sum.lanes.iter_mut().zip(bytes.chunks_exact(2)) {
            *lane = u16::from_le_bytes([b[0], b[1]]);
        }
        Some(sum)
    }

    /// Adds (or subtracts) the element of the entry whose canonical hash is
    /// `hash`: BLAKE3's 2048 bytes of output for it, read as lanes. One loop
    /// per sign, each with its operation written out, so the compiler makes
    /// it a few vector additions: an operation passed as a function pointer
    /// was called once a lane, and cost twice the hashing.
    fn combine(&mut self, hash: &[u8; 32], sign: Sign) {
        let mut element = [0u8; LTHASH_BYTES];
        let mut xof = blake3::Hasher::new();
        xof.update(ELEMENT_DOMAIN);
        xof.update(hash);
        xof.finalize_xof().fill(&mut element);
        let lanes = self.lanes.iter_mut();
        let terms = element
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]));
        match sign {
            Sign::Add => lanes.zip(terms).for_each(|(l, t)| *l = l.wrapping_add(t)),
            Sign::Remove => lanes.zip(terms).for_each(|(l, t)| *l = l.wrapping_sub(t)),
        }
    }
}

impl fmt::Debug for LtHash16 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LtHash16({})", self.digest())
    }
}

/// The commitment of formats 1 and 2: the lane-wise sum (mod 2^64) of four
/// little-endian 64-bit lanes of each entry's canonical SHA-256. It detects
/// a lost or doubled operation but binds nothing (sums over so few lanes
/// fall to generalized-birthday attacks): kept only to check documents of
/// those formats.
///
/// ```
/// use blocklist_core::{LaneSum, StateDigest};
/// assert_eq!(LaneSum::default().digest(), StateDigest([0; 32]));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct LaneSum([u64; 4]);

impl LaneSum {
    /// Adds `entry` to the multiset.
    pub fn add(&mut self, entry: &Entry) {
        self.combine(&entry_hash(entry), Sign::Add);
    }

    /// Removes `entry` (exactly as it was added) from the multiset.
    pub fn remove(&mut self, entry: &Entry) {
        self.combine(&entry_hash(entry), Sign::Remove);
    }

    /// The lanes, little-endian: what documents of formats 1 and 2 carry.
    pub fn digest(&self) -> StateDigest {
        let mut out = [0u8; 32];
        for (bytes, lane) in out.chunks_exact_mut(8).zip(self.0) {
            bytes.copy_from_slice(&lane.to_le_bytes());
        }
        StateDigest(out)
    }

    /// The sum whose digest is `digest`.
    pub fn from_digest(digest: StateDigest) -> LaneSum {
        let mut lanes = [0u64; 4];
        for (lane, b) in lanes.iter_mut().zip(digest.0.chunks_exact(8)) {
            *lane = u64::from_le_bytes(b.try_into().expect("8-byte lane"));
        }
        LaneSum(lanes)
    }

    fn combine(&mut self, hash: &[u8; 32], sign: Sign) {
        for (lane, b) in self.0.iter_mut().zip(hash.chunks_exact(8)) {
            let term = u64::from_le_bytes(b.try_into().expect("8-byte lane"));
            *lane = match sign {
                Sign::Add => lane.wrapping_add(term),
                Sign::Remove => lane.wrapping_sub(term),
            };
        }
    }
}

/// Every commitment to a list and its count, kept together so that one
/// entry hash feeds both: a store holding it checks a document of any
/// format, and a replica upgraded with format-2 history takes a format-2
/// delta, then format-3 ones, without recomputing anything.
///
/// ```
/// use blocklist_core::*;
/// use blocklist_core::document::ListState;
/// let rules = Rules::default();
/// let entry = Entry {
///     id: Identifier::parse(Kind::Domain, "scam.example", &rules).unwrap(),
///     meta: EntryMeta { reason: Reason::PHISHING, agency: Agency::new("th-aoc").unwrap(),
///                       listed_at: Timestamp(1), expires_at: None },
/// };
/// let mut held = StateAccumulator::default();
/// held.add(&entry);
/// assert_eq!(held.state(Commitment::CURRENT), ListState::of([&entry]));
/// assert_eq!(held.state(Commitment::LaneSum).entries, 1);
/// held.remove(&entry);
/// assert_eq!(held, StateAccumulator::default());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct StateAccumulator {
    lthash: LtHash16,
    lane_sum: LaneSum,
    entries: u64,
}

impl StateAccumulator {
    /// The commitments to exactly `entries`.
    pub fn of<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> StateAccumulator {
        let mut held = StateAccumulator::default();
        for entry in entries {
            held.add(entry);
        }
        held
    }

    /// The commitments taken up again from their parts (as a store keeps them).
    pub fn from_parts(lthash: LtHash16, lane_sum: LaneSum, entries: u64) -> StateAccumulator {
        StateAccumulator {
            lthash,
            lane_sum,
            entries,
        }
    }

    /// Adds `entry`.
    pub fn add(&mut self, entry: &Entry) {
        let hash = entry_hash(entry);
        self.lthash.combine(&hash, Sign::Add);
        self.lane_sum.combine(&hash, Sign::Add);
        self.entries += 1;
    }

    /// Removes `entry`, exactly as it was added.
    pub fn remove(&mut self, entry: &Entry) {
        let hash = entry_hash(entry);
        self.lthash.combine(&hash, Sign::Remove);
        self.lane_sum.combine(&hash, Sign::Remove);
        self.entries -= 1;
    }

    /// Adds every entry `other` holds: the commitments are sums, so entries
    /// summed apart (on two threads, say) add up to the same.
    pub fn absorb(&mut self, other: &StateAccumulator) {
        for (lane, &term) in self.lthash.lanes.iter_mut().zip(other.lthash.lanes.iter()) {
            *lane = lane.wrapping_add(term);
        }
        for (lane, term) in self.lane_sum.0.iter_mut().zip(other.lane_sum.0) {
            *lane = lane.wrapping_add(term);
        }
        self.entries += other.entries;
    }

    /// What a document carrying `commitment` says of this list.
    pub fn state(&self, commitment: Commitment) -> ListState {
        let digest = match commitment {
            Commitment::LaneSum => self.lane_sum.digest(),
            Commitment::LtHash16 => self.lthash.digest(),
        };
        ListState {
            digest,
            entries: self.entries,
        }
    }

    /// The LtHash of the entries.
    pub fn lthash(&self) -> &LtHash16 {
        &self.lthash
    }

    /// The lane sum of the entries.
    pub fn lane_sum(&self) -> LaneSum {
        self.lane_sum
    }

    /// How many entries.
    pub fn entries(&self) -> u64 {
        self.entries
    }
}

/// SHA-256 over an entry's canonical bytes, as specified in `docs/FORMAT.md`:
/// every variable field is length-prefixed so no two entries share bytes.
fn entry_hash(entry: &Entry) -> [u8; 32] {
    let mut h = Sha256Hasher::new();
    h.update(b"blocklist entry v1\0");
    h.update(entry.id.kind().code().to_le_bytes());
    let value = entry.id.as_str().as_bytes();
    h.update((value.len() as u32).to_le_bytes());
    h.update(value);
    h.update(entry.meta.reason.0.to_le_bytes());
    let agency = entry.meta.agency.as_str().as_bytes();
    h.update([agency.len() as u8]);
    h.update(agency);
    h.update(entry.meta.listed_at.0.to_le_bytes());
    match entry.meta.expires_at {
        None => h.update([0]),
        Some(t) => {
            h.update([1]);
            h.update(t.0.to_le_bytes());
        }
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::entry::{Agency, EntryMeta, Reason, Timestamp};
    use crate::identifier::Identifier;
    use crate::kind::Kind;

    /// Entry `n`: a domain, listed by one of three agencies, some expiring.
    fn entry(n: u16) -> Entry {
        Entry {
            id: Identifier::from_canonical(Kind::Domain, &format!("d{}.example", n / 3)).unwrap(),
            meta: EntryMeta {
                reason: Reason::PHISHING,
                agency: Agency::new(["th-aoc", "th-dsi", "bank-004"][usize::from(n % 3)]).unwrap(),
                listed_at: Timestamp(1_700_000_000 + u64::from(n)),
                expires_at: (n % 5 == 0).then_some(Timestamp(1_800_000_000)),
            },
        }
    }

    /// The known answers docs/FORMAT.md (S2) gives, computed there by an
    /// implementation of its text alone: the empty list, its example entry,
    /// and the example with a second entry.
    #[test]
    fn the_commitments_of_the_format_examples_are_the_documented_ones() {
        let example = Entry {
            id: Identifier::from_canonical(Kind::Domain, "scam.example").unwrap(),
            meta: EntryMeta {
                reason: Reason(1),
                agency: Agency::new("th-aoc").unwrap(),
                listed_at: Timestamp(1_700_000_000),
                expires_at: None,
            },
        };
        let second = Entry {
            id: Identifier::from_canonical(Kind::Number, "+66812345678").unwrap(),
            meta: EntryMeta {
                reason: Reason(2),
                agency: Agency::new("th-dsi").unwrap(),
                listed_at: Timestamp(1_700_000_001),
                expires_at: Some(Timestamp(1_800_000_000)),
            },
        };
        let digests = |held: &StateAccumulator| {
            [Commitment::LtHash16, Commitment::LaneSum].map(|c| held.state(c).digest.to_string())
        };
        let mut held = StateAccumulator::default();
        assert_eq!(
            digests(&held),
            [
                "cd9a15df5b52bba117e3fc3f93c381d1f896b3e60393afc2ced7593169c27c6b",
                "0000000000000000000000000000000000000000000000000000000000000000",
            ]
        );
        held.add(&example);
        assert_eq!(
            hex::encode(&held.lthash().to_bytes()[..8]),
            "a271b7446cc3fef4"
        );
        assert_eq!(
            digests(&held),
            [
                "16629db6e56f961b5310a006b93cb8702d1ba5961914fe2100d251916578ccec",
                "799eafa1f1e7880239a93c4a78b9e760e30d2003285927393582270afdc6b8a6",
            ]
        );
        held.add(&second);
        assert_eq!(
            digests(&held),
            [
                "1265afdcdde4a6149ad93401947915056d56b3749fccef6c1fea42bf4017b80c",
                "503b5d3eba5c2b66c0f4730c7c05658037fe28138140abc8c2ce20327597e589",
            ]
        );
    }

    #[test]
    fn lanes_survive_their_bytes_and_no_other_length_is_taken() {
        let held = StateAccumulator::of(&(0..50).map(entry).collect::<Vec<_>>());
        let bytes = held.lthash().to_bytes();
        assert_eq!(LtHash16::from_bytes(&bytes).as_ref(), Some(held.lthash()));
        assert_eq!(LtHash16::from_bytes(&bytes[1..]), None);
        assert_eq!(
            LaneSum::from_digest(held.lane_sum().digest()),
            held.lane_sum()
        );
    }

    proptest! {
        /// The order entries come in does not matter.
        #[test]
        fn order_does_not_matter(
            picks in proptest::collection::btree_set(0u16..600, 0..60),
            seed in any::<u64>(),
        ) {
            let entries: Vec<Entry> = picks.into_iter().map(entry).collect();
            let mut shuffled = entries.clone();
            // A deterministic shuffle from the seed.
            let mut s = seed | 1;
            for i in (1..shuffled.len()).rev() {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                shuffled.swap(i, (s % (i as u64 + 1)) as usize);
            }
            prop_assert_eq!(StateAccumulator::of(&entries), StateAccumulator::of(&shuffled));
        }

        /// Entries summed in two parts, absorbed one into the other, give
        /// the commitments of them all.
        #[test]
        fn parts_absorbed_give_the_whole(
            picks in proptest::collection::btree_set(0u16..600, 0..60),
            split in any::<prop::sample::Index>(),
        ) {
            let entries: Vec<Entry> = picks.into_iter().map(entry).collect();
            let (first, second) = entries.split_at(split.index(entries.len() + 1));
            let mut parts = StateAccumulator::of(first);
            parts.absorb(&StateAccumulator::of(second));
            prop_assert_eq!(parts, StateAccumulator::of(&entries));
        }

        /// Adding then removing an entry restores every commitment.
        #[test]
        fn adding_then_removing_restores(
            picks in proptest::collection::btree_set(0u16..600, 0..40),
            extra in 600u16..700,
        ) {
            let before = StateAccumulator::of(&picks.into_iter().map(entry).collect::<Vec<_>>());
            let mut after = before.clone();
            after.add(&entry(extra));
            prop_assert_ne!(after.state(Commitment::LtHash16), before.state(Commitment::LtHash16));
            after.remove(&entry(extra));
            prop_assert_eq!(after, before);
        }

        /// A state followed change by change through random deltas equals
        /// the one computed from the entries it ends with.
        #[test]
        fn following_the_changes_equals_computing_from_scratch(
            start in proptest::collection::btree_set(0u16..300, 0..40),
            deltas in proptest::collection::vec(
                proptest::collection::vec((0u16..300, any::<bool>()), 0..20), 1..5),
        ) {
            let mut held: std::collections::BTreeSet<u16> = start;
            let mut followed = StateAccumulator::of(&held.iter().map(|n| entry(*n)).collect::<Vec<_>>());
            for delta in deltas {
                for (n, add) in delta {
                    match (add, held.contains(&n)) {
                        (true, false) => {
                            held.insert(n);
                            followed.add(&entry(n));
                        }
                        (false, true) => {
                            held.remove(&n);
                            followed.remove(&entry(n));
                        }
                        // An update: the entry leaves in its old form and
                        // comes back in its new one (here the same).
                        (true, true) => {
                            followed.remove(&entry(n));
                            followed.add(&entry(n));
                        }
                        (false, false) => {}
                    }
                }
            }
            let computed = StateAccumulator::of(&held.iter().map(|n| entry(*n)).collect::<Vec<_>>());
            prop_assert_eq!(followed, computed);
        }
    }
}
