//! Integration tests of the lookup index: real files in temporary directories.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use blocklist_lookup::index::{
    key_hash, Hit, IndexBuilder, IndexError, IndexHeader, LookupIndex, FORMAT_VERSION,
};
use blocklist_lookup::normalise::{answering_parents, domain_candidates, has_canonical_shape};
use blocklist_lookup::{Agency, EntryMeta, Identifier, Kind, Reason, Rules, Standing, Timestamp};

const NOW: Timestamp = Timestamp(1_750_000_000);

/// `lookup_batch`'s hits spread out to one answer per key, as single lookups
/// give them; also checks that the hits come in order.
fn batch_answers<'a>(
    index: &'a LookupIndex,
    keys: &[(Kind, &'a str)],
    now: Timestamp,
) -> Vec<Option<Hit<'a>>> {
    let mut hits = Vec::new();
    index.lookup_batch(keys, now, &mut hits);
    assert!(
        hits.windows(2).all(|w| w[0].0 < w[1].0),
        "hits out of order"
    );
    let mut answers = vec![None; keys.len()];
    for (at, hit) in hits {
        answers[at] = Some(hit);
    }
    answers
}

fn meta(reason: Reason, agency: &str, listed_at: u64, expires_at: Option<u64>) -> EntryMeta {
    EntryMeta {
        reason,
        agency: Agency::new(agency).expect("valid agency"),
        listed_at: Timestamp(listed_at),
        expires_at: expires_at.map(Timestamp),
    }
}

/// The canonical form of `raw`, as the store would hold it.
fn canon(kind: Kind, raw: &str) -> String {
    Identifier::parse(kind, raw, &Rules::default())
        .expect("valid identifier")
        .as_str()
        .to_owned()
}

type Listed = Vec<(Kind, String, EntryMeta)>;

/// Writes an index of `entries` at `dir/name` with a fixed seed.
fn write_index(dir: &Path, name: &str, version: u64, entries: &Listed) -> PathBuf {
    let path = dir.join(name);
    IndexBuilder::new(version, [version as u8; 32], Timestamp(1_700_000_000))
        .seed(version)
        .write(&path, || {
            entries.iter().map(|(k, v, m)| (*k, v.as_str(), m))
        })
        .expect("index written");
    path
}

fn sample_entries() -> Listed {
    vec![
        (
            Kind::Account,
            canon(Kind::Account, "TH:004:1234567890"),
            meta(Reason::MULE_ACCOUNT, "th-aoc", 1_700_000_000, None),
        ),
        (
            Kind::Number,
            canon(Kind::Number, "+66812345678"),
            meta(
                Reason::SCAM_CALL,
                "th-nbtc",
                1_700_000_100,
                Some(1_800_000_000),
            ),
        ),
        (
            Kind::Domain,
            canon(Kind::Domain, "phish-bank.co.th"),
            meta(Reason::PHISHING, "th-etda", 1_700_000_200, None),
        ),
        (
            Kind::Other(77),
            "sender-x".into(),
            meta(Reason(900), "bank-004", 1_700_000_300, None),
        ),
    ]
}

// Building, opening and looking up: every kind, metadata, parents, expiry, batches.
mod round_trip {
    use super::*;

    #[test]
    fn every_kind_is_found_with_its_metadata_and_header_fields_survive() {
        let dir = tempfile::tempdir().unwrap();
        let entries = sample_entries();
        let path = write_index(dir.path(), "list.idx", 7, &entries);
        let index = LookupIndex::open(&path).unwrap();

        assert_eq!(index.header().list_version, 7);
        assert_eq!(index.header().state_digest, [7; 32]);
        assert_eq!(index.header().created_at, Timestamp(1_700_000_000));
        assert_eq!(index.header().entries, entries.len() as u64);
        for (kind, value, meta) in &entries {
            let hit = index.lookup_canonical(*kind, value, NOW).expect("listed");
            assert_eq!((hit.kind, hit.matched.as_ref()), (*kind, value.as_str()));
            assert_eq!(&hit.meta(), meta);
        }
        assert!(index.lookup_canonical(Kind::Account, "nope", NOW).is_none());
        // The same text under another kind is a different key.
        assert!(index
            .lookup_canonical(Kind::Number, &entries[0].1, NOW)
            .is_none());
    }

    #[test]
    fn raw_input_is_normalised_before_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_index(dir.path(), "list.idx", 1, &sample_entries());
        let index = LookupIndex::open(&path).unwrap();
        let rules = Rules::default();
        for (kind, raw) in [
            (Kind::Account, " TH:004:1234567890 "),
            (Kind::Number, "+66812345678"),
            (Kind::Domain, "PHISH-BANK.CO.TH"),
        ] {
            let hit = index.check(kind, raw, &rules, NOW).unwrap();
            assert_eq!(
                hit.map(|h| h.matched.into_owned()),
                Some(canon(kind, raw)),
                "{raw}"
            );
        }
        assert!(index.check(Kind::Number, "  ", &rules, NOW).is_err());
    }

    #[test]
    fn a_listed_parent_domain_catches_its_children_but_not_the_reverse() {
        let dir = tempfile::tempdir().unwrap();
        let parent = canon(Kind::Domain, "example.co.th");
        let child = canon(Kind::Domain, "www.shop.example.co.th");
        let listed_child = canon(Kind::Domain, "login.other.co.th");
        let entries = vec![
            (
                Kind::Domain,
                parent.clone(),
                meta(Reason::PHISHING, "th-etda", 1, None),
            ),
            (
                Kind::Domain,
                listed_child,
                meta(Reason::FRAUD, "th-etda", 2, None),
            ),
        ];
        let index = LookupIndex::open(write_index(dir.path(), "list.idx", 1, &entries)).unwrap();

        // The normaliser decides which parents count; the index must follow it.
        let expected = domain_candidates(&child).find(|c| *c == parent);
        let hit = index.lookup_canonical(Kind::Domain, &child, NOW);
        assert_eq!(
            hit.map(|h| h.matched.into_owned()),
            expected.map(str::to_owned)
        );
        let other_parent = canon(Kind::Domain, "other.co.th");
        assert!(index
            .lookup_canonical(Kind::Domain, &other_parent, NOW)
            .is_none());
    }

    #[test]
    fn an_entry_stops_matching_exactly_at_its_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let value = canon(Kind::Number, "+66899999999");
        let entries = vec![(
            Kind::Number,
            value.clone(),
            meta(Reason::SCAM_SMS, "th-nbtc", 100, Some(200)),
        )];
        let index = LookupIndex::open(write_index(dir.path(), "list.idx", 1, &entries)).unwrap();
        assert!(index
            .lookup_canonical(Kind::Number, &value, Timestamp(199))
            .is_some());
        assert!(index
            .lookup_canonical(Kind::Number, &value, Timestamp(200))
            .is_none());
        assert!(index
            .lookup_canonical(Kind::Number, &value, Timestamp(201))
            .is_none());
        assert!(index
            .lookup_canonical(Kind::Number, &value, Timestamp(u64::MAX))
            .is_none());
    }

    #[test]
    fn entries_without_expiry_match_even_after_2106() {
        let dir = tempfile::tempdir().unwrap();
        let entries = sample_entries();
        let index = LookupIndex::open(write_index(dir.path(), "list.idx", 1, &entries)).unwrap();
        assert!(index
            .lookup_canonical(Kind::Account, &entries[0].1, Timestamp(u64::MAX))
            .is_some());
    }

    #[test]
    fn batch_answers_equal_single_answers() {
        let dir = tempfile::tempdir().unwrap();
        let mut entries = sample_entries();
        for i in 0..300u64 {
            let expires = (i % 3 == 0).then_some(NOW.0); // expired at NOW
            entries.push((
                Kind::Number,
                format!("+6681{i:07}"),
                meta(Reason::SCAM_CALL, "th-nbtc", i, expires),
            ));
        }
        let index = LookupIndex::open(write_index(dir.path(), "list.idx", 1, &entries)).unwrap();
        let mut texts: Vec<(Kind, String)> =
            entries.iter().map(|(k, v, _)| (*k, v.clone())).collect();
        texts.extend((0..300).map(|i| (Kind::Number, format!("+6682{i:07}"))));
        texts.push((Kind::Domain, canon(Kind::Domain, "a.b.phish-bank.co.th")));
        let keys: Vec<(Kind, &str)> = texts.iter().map(|(k, v)| (*k, v.as_str())).collect();

        let batch = batch_answers(&index, &keys, NOW);
        let single: Vec<_> = keys
            .iter()
            .map(|(k, v)| index.lookup_canonical(*k, v, NOW))
            .collect();
        assert_eq!(batch, single);
        let parent_caught = usize::from(single.last().unwrap().is_some());
        assert_eq!(
            batch.iter().filter(|h| h.is_some()).count(),
            4 + 200 + parent_caught
        );

        let mut raw = keys.clone();
        raw.push((Kind::Account, ""));
        let checked = index.check_batch(&raw, &Rules::default(), NOW);
        let one_by_one: Vec<_> = raw
            .iter()
            .map(|(k, v)| index.check(*k, v, &Rules::default(), NOW))
            .collect();
        assert_eq!(checked, one_by_one);
        assert!(checked.last().unwrap().is_err());
    }

    #[test]
    fn an_empty_list_gives_a_valid_index_that_lists_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let index = LookupIndex::open(write_index(dir.path(), "list.idx", 1, &Vec::new())).unwrap();
        assert_eq!(index.header().entries, 0);
        assert!(index
            .lookup_canonical(Kind::Number, "+66812345678", NOW)
            .is_none());
    }
}

// What the builder refuses.
mod build_errors {
    use super::*;

    fn build(entries: &Listed) -> Result<(), IndexError> {
        let dir = tempfile::tempdir().unwrap();
        IndexBuilder::new(1, [0; 32], Timestamp(0))
            .write(&dir.path().join("x.idx"), || {
                entries.iter().map(|(k, v, m)| (*k, v.as_str(), m))
            })
            .map(drop)
    }

    #[test]
    fn times_beyond_32_bit_seconds_are_rejected_naming_the_entry() {
        let late_listing = vec![(
            Kind::Number,
            "+66800000001".into(),
            meta(Reason::FRAUD, "a", 1 << 32, None),
        )];
        assert!(matches!(
            build(&late_listing),
            Err(IndexError::TimeOutOfRange { field: "listed_at", ref value, .. }) if value == "+66800000001"
        ));
        let late_expiry = vec![(
            Kind::Number,
            "x".into(),
            meta(Reason::FRAUD, "a", 1, Some(u64::from(u32::MAX))),
        )];
        assert!(matches!(
            build(&late_expiry),
            Err(IndexError::TimeOutOfRange {
                field: "expires_at",
                ..
            })
        ));
    }
}

// An identifier listed by several agencies: one record, the listing that
// stands for it and the count (`Standing`), however its listings come.
mod several_agencies {
    use super::*;
    use proptest::prelude::*;

    const AGENCIES: [&str; 4] = ["bank-004", "th-aoc", "th-dsi", "th-nbtc"];

    #[test]
    fn the_longest_matching_listing_stands_and_the_count_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.idx");
        let listings = [
            (
                Kind::Number,
                "+66800000001",
                meta(Reason::FRAUD, "th-aoc", 10, Some(500)),
            ),
            (
                Kind::Number,
                "+66800000002",
                meta(Reason::FRAUD, "th-aoc", 10, None),
            ),
            (
                Kind::Number,
                "+66800000001",
                meta(Reason::SCAM_CALL, "th-dsi", 20, Some(900)),
            ),
            (
                Kind::Number,
                "+66800000001",
                meta(Reason::MULE_ACCOUNT, "bank-004", 5, Some(100)),
            ),
        ];
        IndexBuilder::new(1, [0; 32], Timestamp(0))
            .write(&path, || listings.iter().map(|(k, v, m)| (*k, *v, m)))
            .unwrap();
        let index = LookupIndex::open(&path).unwrap();
        assert_eq!(index.header().entries, 2, "one record per identifier");
        // Until 900 th-dsi's listing is in force, and stands.
        let hit = index
            .lookup_canonical(Kind::Number, "+66800000001", Timestamp(600))
            .unwrap();
        assert_eq!(
            (hit.agency.as_str(), hit.listings, hit.reason),
            ("th-dsi", 3, Reason::SCAM_CALL)
        );
        assert!(index
            .lookup_canonical(Kind::Number, "+66800000001", Timestamp(900))
            .is_none());
        let alone = index
            .lookup_canonical(Kind::Number, "+66800000002", Timestamp(600))
            .unwrap();
        assert_eq!((alone.agency.as_str(), alone.listings), ("th-aoc", 1));
    }

    #[test]
    fn one_agencys_listing_given_twice_is_refused_naming_the_agency() {
        let dir = tempfile::tempdir().unwrap();
        let twice = [
            (
                Kind::Number,
                "+66800000001",
                meta(Reason::FRAUD, "th-aoc", 10, None),
            ),
            (
                Kind::Number,
                "+66800000001",
                meta(Reason::SCAM_CALL, "th-dsi", 10, None),
            ),
            (
                Kind::Number,
                "+66800000001",
                meta(Reason::FRAUD, "th-aoc", 20, Some(90)),
            ),
        ];
        let err = IndexBuilder::new(1, [0; 32], Timestamp(0))
            .write(&dir.path().join("x.idx"), || {
                twice.iter().map(|(k, v, m)| (*k, *v, m))
            })
            .unwrap_err();
        assert!(
            matches!(&err, IndexError::DuplicateListing { agency } if agency.as_str() == "th-aoc"),
            "{err}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Listings of a few identifiers by random agencies, fed in a random
        /// order to the builder and to the streaming hasher: every lookup
        /// answers with `Standing::of` its listings, at any time.
        #[test]
        fn lookups_answer_the_standing_of_every_listing(
            listed in prop::collection::btree_map(
                (0u8..12, 0usize..4),
                (1u64..50, prop::option::of(1u64..100)),
                1..40,
            ),
            order in any::<u64>(),
            now in 0u64..110,
        ) {
            let value = |i: u8| format!("+668000000{i:02}");
            let mut listings: Vec<(Kind, String, EntryMeta)> = listed
                .iter()
                .map(|(&(i, a), &(at, exp))| (Kind::Number, value(i), meta(Reason::FRAUD, AGENCIES[a], at, exp)))
                .collect();
            // A shuffle: listings of one identifier need not come together.
            let mut rng = order;
            for i in (1..listings.len()).rev() {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                listings.swap(i, (rng >> 33) as usize % (i + 1));
            }
            let dir = tempfile::tempdir().unwrap();
            let (written, hashed) = (dir.path().join("w.idx"), dir.path().join("h.idx"));
            let builder = IndexBuilder::new(1, [0; 32], Timestamp(0)).seed(order);
            builder.write(&written, || listings.iter().map(|(k, v, m)| (*k, v.as_str(), m))).unwrap();
            let mut hasher = builder.hasher(listings.len() as u64).unwrap();
            for (k, v, m) in &listings {
                hasher.add(*k, v, m).unwrap();
            }
            prop_assume!(builder.write_hashed(&hashed, hasher).unwrap().is_some());
            for path in [&written, &hashed] {
                let index = LookupIndex::open(path).unwrap();
                for i in 0u8..12 {
                    let of_i = listings.iter().filter(|(_, v, _)| *v == value(i)).map(|(_, _, m)| m.clone());
                    let want = Standing::of(of_i).filter(|s| s.meta.is_active(Timestamp(now)));
                    let v = value(i);
                    let got = index.lookup_canonical(Kind::Number, &v, Timestamp(now));
                    prop_assert_eq!(
                        got.map(|h| Standing { meta: h.meta(), listings: h.listings }),
                        want,
                        "{}", value(i)
                    );
                }
            }
        }
    }
}

// A filter "maybe" must never turn into "listed".
mod filter_false_positives {
    use super::*;

    #[test]
    fn keys_the_filter_lets_through_are_still_answered_not_listed() {
        let dir = tempfile::tempdir().unwrap();
        let entries: Listed = (0..5_000)
            .map(|i| {
                (
                    Kind::Account,
                    format!("th:004:{i:010}"),
                    meta(Reason::MULE_ACCOUNT, "a", 1, None),
                )
            })
            .collect();
        let index = LookupIndex::open(write_index(dir.path(), "list.idx", 1, &entries)).unwrap();
        let mut false_positives = 0;
        for i in 0..400_000u64 {
            let probe = format!("th:005:{i:010}");
            if index.filter_admits(Kind::Account, &probe) {
                false_positives += 1;
                assert!(
                    index.lookup_canonical(Kind::Account, &probe, NOW).is_none(),
                    "{probe}"
                );
                let mut batch = Vec::new();
                index.lookup_batch(&[(Kind::Account, &probe)], NOW, &mut batch);
                assert!(batch.is_empty(), "{probe}");
            }
        }
        // About 0.1% of 400k: the test really exercised false positives.
        assert!(
            false_positives > 50,
            "only {false_positives} filter false positives found"
        );
    }
}

// Damaged files are refused with typed errors, never a panic.
mod corruption {
    use super::*;

    /// Offset of the checksum in the header; it covers every other byte.
    const CHECKSUM_AT: usize = 152;

    fn written() -> (tempfile::TempDir, PathBuf, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = write_index(dir.path(), "list.idx", 3, &sample_entries());
        let bytes = std::fs::read(&path).unwrap();
        (dir, path, bytes)
    }

    /// Recomputes the checksum, as a forger (or a buggy writer) would.
    fn reseal(bytes: &mut [u8]) {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(&bytes[..CHECKSUM_AT]);
        hasher.update(&bytes[CHECKSUM_AT + 8..]);
        let sum = hasher.digest();
        bytes[CHECKSUM_AT..CHECKSUM_AT + 8].copy_from_slice(&sum.to_le_bytes());
    }

    fn open_bytes(path: &Path, bytes: &[u8]) -> IndexError {
        // Index files are written read-only (0444): replace, do not overwrite.
        let _ = std::fs::remove_file(path);
        std::fs::write(path, bytes).unwrap();
        LookupIndex::open(path).expect_err("damaged file must be refused")
    }

    fn u64_at(bytes: &[u8], at: usize) -> usize {
        u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize
    }

    /// The offset of the first table bucket whose first slot is taken.
    fn first_taken_bucket(bytes: &[u8]) -> usize {
        let table = u64_at(bytes, 104);
        (table..bytes.len())
            .step_by(64)
            .find(|&b| bytes[b..b + 8] != [0; 8])
            .expect("a bucket whose first slot is taken")
    }

    #[test]
    fn a_truncated_file_is_reported_with_both_lengths() {
        let (_dir, path, bytes) = written();
        for len in [0, 100, 256, bytes.len() - 1] {
            match open_bytes(&path, &bytes[..len]) {
                IndexError::Truncated {
                    path: p, actual, ..
                } => assert_eq!((p, actual), (path.clone(), len as u64)),
                other => panic!("length {len}: {other}"),
            }
        }
    }

    #[test]
    fn every_flipped_byte_is_caught() {
        let (_dir, path, bytes) = written();
        for at in (0..bytes.len()).step_by(7) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x40;
            let err = open_bytes(&path, &damaged);
            assert!(
                matches!(
                    err,
                    IndexError::ChecksumMismatch { .. }
                        | IndexError::BadMagic { .. }
                        | IndexError::UnsupportedVersion { .. }
                        | IndexError::Corrupt { .. }
                        | IndexError::Truncated { .. }
                ),
                "byte {at}: {err}"
            );
        }
    }

    #[test]
    fn a_flipped_body_byte_is_a_checksum_mismatch() {
        let (_dir, path, mut bytes) = written();
        let near_end = bytes.len() - 3;
        bytes[near_end] ^= 1;
        assert!(matches!(
            open_bytes(&path, &bytes),
            IndexError::ChecksumMismatch { .. }
        ));
    }

    #[test]
    fn wrong_magic_and_wrong_version_are_named() {
        let (_dir, path, bytes) = written();
        let mut other = bytes.clone();
        other[0] = b'X';
        assert!(
            matches!(open_bytes(&path, &other), IndexError::BadMagic { found, .. } if found[0] == b'X')
        );
        // Earlier versions (1: no home offsets, filter keyed on the position
        // hash; 2: xxh3-128 for every key length; 3: a short-key hash whose
        // length mixing let some keys collide under every seed) and a future
        // version are refused by number.
        for found in [1, 2, 3, FORMAT_VERSION + 1] {
            let mut other = bytes.clone();
            other[8] = found;
            let err = open_bytes(&path, &other);
            assert!(
                matches!(err, IndexError::UnsupportedVersion { found: f, supported: FORMAT_VERSION, .. } if f == found),
                "{err}"
            );
        }
    }

    #[test]
    fn a_resealed_file_naming_an_unknown_agency_is_refused_at_open() {
        let (_dir, path, mut bytes) = written();
        let bucket = first_taken_bucket(&bytes);
        // Agency of slot 0: after 3 fingerprints, 2 × 3 times, 3 reasons.
        bytes[bucket + 54..bucket + 56].copy_from_slice(&999u16.to_le_bytes());
        reseal(&mut bytes);
        let err = open_bytes(&path, &bytes);
        assert!(
            matches!(err, IndexError::Corrupt { ref detail, .. } if detail.contains("agency")),
            "{err}"
        );
    }

    #[test]
    fn a_resealed_file_with_a_spill_past_the_table_is_refused_at_open() {
        let (_dir, path, mut bytes) = written();
        let (table, buckets) = (u64_at(&bytes, 104), u64_at(&bytes, 112));
        let last = table + (buckets - 1) * 64;
        // The spill byte ends the bucket.
        bytes[last + 63] = 1;
        reseal(&mut bytes);
        let err = open_bytes(&path, &bytes);
        assert!(
            matches!(err, IndexError::Corrupt { ref detail, .. } if detail.contains("spill")),
            "{err}"
        );
    }

    #[test]
    fn a_resealed_file_with_an_entry_beyond_its_homes_spill_is_refused_at_open() {
        let (_dir, path, mut bytes) = written();
        let bucket = first_taken_bucket(&bytes);
        // Home offset of slot 0 (bytes 60..63 hold the three offsets): claim
        // a home two buckets back, whose spill does not reach here.
        bytes[bucket + 60] = 2;
        reseal(&mut bytes);
        let err = open_bytes(&path, &bytes);
        assert!(
            matches!(err, IndexError::Corrupt { ref detail, .. } if detail.contains("home offset")),
            "{err}"
        );
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent.idx");
        let err = LookupIndex::open(&path).unwrap_err();
        assert!(
            matches!(err, IndexError::Io { path: ref p, action: "open", .. } if *p == path),
            "{err}"
        );
    }
}

// Hot reloads under concurrent readers.
mod live {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    use blocklist_lookup::index::LiveIndex;

    use super::*;

    fn reference() -> (Listed, Vec<String>) {
        let listed = (0..2_000u64)
            .map(|i| {
                let expires = (i % 5 == 0).then_some(NOW.0 + 1_000_000);
                let m = meta(Reason((i % 7) as u16), "th-aoc", 1_000 + i, expires);
                (Kind::Number, format!("+6690{i:07}"), m)
            })
            .collect();
        let unlisted = (0..2_000).map(|i| format!("+6691{i:07}")).collect();
        (listed, unlisted)
    }

    /// Version `v` of the list: the reference set plus extras that differ
    /// between even and odd versions.
    fn version(reference: &Listed, v: u64) -> Listed {
        let mut entries = reference.clone();
        let extra = |i| {
            (
                Kind::Account,
                format!("th:{:03}:{i:010}", v % 2),
                meta(Reason::FRAUD, "bank-004", v, None),
            )
        };
        entries.extend((0..500).map(extra));
        entries
    }

    #[test]
    fn readers_always_answer_correctly_while_the_index_is_swapped_repeatedly() {
        let dir = tempfile::tempdir().unwrap();
        let (listed, unlisted) = reference();
        let path = write_index(dir.path(), "list.idx", 1, &version(&listed, 1));
        let live = Arc::new(LiveIndex::open(&path).unwrap());
        let listed = Arc::new(listed);
        let unlisted = Arc::new(unlisted);
        let stop = Arc::new(AtomicBool::new(false));
        let lookups = Arc::new(AtomicUsize::new(0));

        let readers: Vec<_> = (0..8)
            .map(|t| {
                let (live, listed, unlisted) = (live.clone(), listed.clone(), unlisted.clone());
                let (stop, lookups) = (stop.clone(), lookups.clone());
                std::thread::spawn(move || {
                    let mut i = t * 97;
                    while !stop.load(Ordering::Relaxed) {
                        let index = live.load();
                        let (kind, value, meta) = &listed[i % listed.len()];
                        let hit = index
                            .lookup_canonical(*kind, value, NOW)
                            .expect("reference entry listed");
                        assert_eq!(&hit.meta(), meta);
                        let absent = &unlisted[i % unlisted.len()];
                        assert!(index.lookup_canonical(Kind::Number, absent, NOW).is_none());
                        i += 1;
                        lookups.fetch_add(1, Ordering::Relaxed);
                    }
                })
            })
            .collect();

        for v in 2..=61 {
            write_index(dir.path(), "list.idx", v, &version(&listed, v));
            let reloaded = live.reload().expect("valid newer index swaps in");
            assert_eq!((reloaded.previous_version, reloaded.version), (v - 1, v));
        }
        stop.store(true, Ordering::Relaxed);
        for reader in readers {
            reader
                .join()
                .expect("reader thread saw only correct answers");
        }
        assert_eq!(live.load().header().list_version, 61);
        assert!(lookups.load(Ordering::Relaxed) > 0);
    }

    #[test]
    fn a_corrupt_replacement_is_refused_and_the_old_index_kept() {
        let dir = tempfile::tempdir().unwrap();
        let entries = sample_entries();
        let path = write_index(dir.path(), "list.idx", 1, &entries);
        let live = LiveIndex::open(&path).unwrap();

        let staging = write_index(dir.path(), "staging.idx", 2, &entries);
        let mut bytes = std::fs::read(&staging).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xFF;
        std::fs::write(&staging, &bytes).unwrap();
        std::fs::rename(&staging, &path).unwrap();

        assert!(matches!(
            live.reload_if_changed(),
            Err(IndexError::ChecksumMismatch { .. })
        ));
        assert_eq!(live.load().header().list_version, 1);
        assert!(live
            .load()
            .lookup_canonical(entries[0].0, &entries[0].1, NOW)
            .is_some());
        // The refused file is not retried until it is replaced.
        assert!(live.reload_if_changed().unwrap().is_none());
        write_index(dir.path(), "list.idx", 2, &entries);
        assert_eq!(
            live.reload_if_changed().unwrap().map(|r| r.version),
            Some(2)
        );
    }

    #[test]
    fn a_refused_first_file_is_not_validated_again_until_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let entries = sample_entries();
        let path = write_index(dir.path(), "list.idx", 1, &entries);
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x01;
        std::fs::remove_file(&path).unwrap(); // written read-only (0444)
        std::fs::write(&path, &bytes).unwrap();
        let mut refused = None;
        assert!(matches!(
            LiveIndex::open_unless_refused(&path, &mut refused),
            Err(IndexError::ChecksumMismatch { .. })
        ));
        assert!(refused.is_some());
        for _ in 0..3 {
            assert!(LiveIndex::open_unless_refused(&path, &mut refused)
                .unwrap()
                .is_none());
        }
        write_index(dir.path(), "list.idx", 2, &entries);
        let live = LiveIndex::open_unless_refused(&path, &mut refused)
            .unwrap()
            .expect("the replacement opens");
        assert_eq!(live.load().header().list_version, 2);
        // Once serving, later files go through the reloads.
        write_index(dir.path(), "list.idx", 3, &entries);
        assert_eq!(
            live.reload_if_changed().unwrap().map(|r| r.version),
            Some(3)
        );
    }

    #[test]
    fn an_older_version_is_refused_naming_both_versions() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_index(dir.path(), "list.idx", 5, &sample_entries());
        let live = LiveIndex::open(&path).unwrap();
        write_index(dir.path(), "list.idx", 4, &sample_entries());
        assert!(matches!(
            live.reload(),
            Err(IndexError::Stale {
                current: 5,
                offered: 4,
                ..
            })
        ));
        assert_eq!(live.load().header().list_version, 5);
        // The same version again is accepted (a rebuild).
        write_index(dir.path(), "list.idx", 5, &sample_entries());
        assert_eq!(live.reload().unwrap().version, 5);
    }

    #[test]
    fn a_reader_holding_the_old_index_keeps_answering_after_a_swap() {
        let dir = tempfile::tempdir().unwrap();
        let entries = sample_entries();
        let path = write_index(dir.path(), "list.idx", 1, &entries);
        let live = LiveIndex::open(&path).unwrap();
        let old = live.load();
        write_index(dir.path(), "list.idx", 2, &Vec::new());
        live.reload().unwrap();
        assert!(live
            .load()
            .lookup_canonical(entries[0].0, &entries[0].1, NOW)
            .is_none());
        assert!(old
            .lookup_canonical(entries[0].0, &entries[0].1, NOW)
            .is_some());
    }
}

// Build + lookup against a HashMap model.
mod model {
    use proptest::prelude::*;

    use super::*;

    fn kind() -> impl Strategy<Value = Kind> {
        prop_oneof![
            Just(Kind::Account),
            Just(Kind::Number),
            Just(Kind::Domain),
            Just(Kind::Other(9))
        ]
    }

    /// Small alphabets, so queries often hit listed values and listed parents.
    fn value(kind: Kind) -> BoxedStrategy<String> {
        match kind {
            Kind::Domain => (
                "[ab]{1,2}",
                prop::option::of("[ab]{1,2}"),
                prop_oneof![Just("co.th"), Just("com")],
            )
                .prop_map(|(a, b, tld)| match b {
                    Some(b) => format!("{a}.{b}.{tld}"),
                    None => format!("{a}.{tld}"),
                })
                .boxed(),
            _ => "[0-3]{1,3}".boxed(),
        }
    }

    pub(super) fn key() -> impl Strategy<Value = (Kind, String)> {
        kind().prop_flat_map(|k| value(k).prop_map(move |v| (k, v)))
    }

    pub(super) fn entry_meta() -> impl Strategy<Value = EntryMeta> {
        (
            0u16..10,
            0usize..3,
            0u64..1_000,
            prop::option::of(0u64..1_000),
        )
            .prop_map(|(r, a, listed, expires)| {
                meta(Reason(r), ["a", "b", "c"][a], listed, expires)
            })
    }

    pub(super) type Model = HashMap<(Kind, String), EntryMeta>;

    /// The answer the index must give: the first candidate listed and active.
    /// A domain's candidates are its parents from itself up to its
    /// registrable domain, inclusive (just itself when it is a public suffix).
    pub(super) fn model_answer(
        model: &Model,
        kind: Kind,
        value: &str,
        now: Timestamp,
    ) -> Option<(String, EntryMeta)> {
        let mut candidates: Vec<&str> = vec![value];
        if kind == Kind::Domain {
            candidates.extend(domain_candidates(value).skip(1));
        }
        candidates.into_iter().find_map(|c| {
            let listed = model
                .get(&(kind, c.to_owned()))
                .filter(|m| m.is_active(now));
            listed.map(|m| (c.to_owned(), m.clone()))
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn index_answers_like_a_hashmap(
            listed in prop::collection::hash_map(key(), entry_meta(), 0..60),
            queries in prop::collection::vec(key(), 0..60),
            now in 0u64..1_100,
            seed in any::<u64>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("model.idx");
            IndexBuilder::new(1, [0; 32], Timestamp(0))
                .seed(seed)
                .write(&path, || listed.iter().map(|((k, v), m)| (*k, v.as_str(), m)))
                .unwrap();
            let index = LookupIndex::open(&path).unwrap();
            let now = Timestamp(now);
            let all: Vec<(Kind, String)> = listed.keys().cloned().chain(queries).collect();
            let keys: Vec<(Kind, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let batch = batch_answers(&index, &keys, now);
            for (i, (kind, value)) in keys.iter().enumerate() {
                let got = index
                    .lookup_canonical(*kind, value, now)
                    .map(|h| (h.matched.clone().into_owned(), h.meta()));
                prop_assert_eq!(&got, &model_answer(&listed, *kind, value, now), "{} {}", kind, value);
                let batched = batch[i].as_ref().map(|h| (h.matched.clone().into_owned(), h.meta()));
                prop_assert_eq!(batched, got);
            }
        }
    }
}

// Incremental updates: answers like a full build of the same entries.
mod update {
    use proptest::prelude::*;

    use super::model::{entry_meta, key, model_answer, Model};
    use super::*;

    /// Applies `removed` then `added` to the index at `path`, in place.
    fn update(
        path: &Path,
        version: u64,
        removed: &[(Kind, String)],
        added: &[(Kind, String, EntryMeta)],
    ) -> Result<(), IndexError> {
        let old = LookupIndex::open(path).unwrap();
        old.write_updated(
            path,
            version,
            [version as u8; 32],
            Timestamp(version),
            removed.iter().map(|(k, v)| (*k, v.as_str())),
            added.iter().map(|(k, v, m)| (*k, v.as_str(), m)),
        )
        .map(drop)
    }

    fn numbers(range: std::ops::Range<u64>, expires_at: Option<u64>) -> Listed {
        range
            .map(|i| {
                let m = meta(Reason::SCAM_CALL, "th-nbtc", i, expires_at);
                (Kind::Number, format!("+6681{i:07}"), m)
            })
            .collect()
    }

    #[test]
    fn removing_updating_and_adding_thousands_answers_like_a_full_build() {
        let dir = tempfile::tempdir().unwrap();
        let listed = numbers(0..20_000, None);
        let path = write_index(dir.path(), "list.idx", 1, &listed);
        // Remove 0..2000, re-list 2000..4000 with an expiry and another
        // agency, add 20000..22000.
        let removed: Vec<(Kind, String)> = listed[..4_000]
            .iter()
            .map(|(k, v, _)| (*k, v.clone()))
            .collect();
        let mut added = numbers(2_000..4_000, Some(NOW.0 + 10));
        added
            .iter_mut()
            .for_each(|e| e.2.agency = Agency::new("new-agency").unwrap());
        added.extend(numbers(20_000..22_000, None));
        update(&path, 2, &removed, &added).unwrap();

        let index = LookupIndex::open(&path).unwrap();
        assert_eq!(index.header().list_version, 2);
        assert_eq!(index.header().state_digest, [2; 32]);
        assert_eq!(index.header().created_at, Timestamp(2));
        assert_eq!(index.header().entries, 20_000);
        for (kind, value, m) in numbers(0..22_000, None) {
            let got = index.lookup_canonical(kind, &value, NOW).map(|h| h.meta());
            let i = m.listed_at.0;
            let expected = match i {
                0..2_000 => None,
                2_000..4_000 => Some(added[(i - 2_000) as usize].2.clone()),
                _ => Some(m),
            };
            assert_eq!(got, expected, "{value}");
        }
        // The re-listed entries expire with their new metadata.
        assert!(index
            .lookup_canonical(Kind::Number, &listed[2_000].1, Timestamp(NOW.0 + 10))
            .is_none());
    }

    #[test]
    fn removing_an_unlisted_identifier_is_refused_by_name_and_the_file_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_index(dir.path(), "list.idx", 1, &sample_entries());
        let before = std::fs::read(&path).unwrap();
        let err = update(&path, 2, &[(Kind::Number, "+66800000009".into())], &[]).unwrap_err();
        assert!(
            matches!(err, IndexError::NotInIndex { kind: Kind::Number, ref value } if value == "+66800000009"),
            "{err}"
        );
        // Same text, other kind: not the listed entry either.
        let account = sample_entries()[0].1.clone();
        assert!(matches!(
            update(&path, 2, &[(Kind::Number, account)], &[]),
            Err(IndexError::NotInIndex { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn adding_a_listed_identifier_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let entries = sample_entries();
        let path = write_index(dir.path(), "list.idx", 1, &entries);
        let err = update(&path, 2, &[], &entries[1..2]).unwrap_err();
        assert!(
            matches!(err, IndexError::DuplicateEntry { kind: Kind::Number, ref value } if *value == entries[1].1),
            "{err}"
        );
        // Twice in one change set.
        let twice = [numbers(5..6, None), numbers(5..6, None)].concat();
        assert!(matches!(
            update(&path, 2, &[], &twice),
            Err(IndexError::DuplicateEntry { .. })
        ));
    }

    #[test]
    fn growing_past_the_tables_size_asks_for_a_full_build() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_index(dir.path(), "list.idx", 1, &numbers(0..1_000, None));
        let err = update(&path, 2, &[], &numbers(1_000..1_200, None)).unwrap_err();
        assert!(
            matches!(err, IndexError::UpdateNeedsRebuild { entries, slots } if entries > slots * 9 / 10),
            "{err}"
        );
        // A 5% growth fits.
        update(&path, 2, &[], &numbers(1_000..1_050, None)).unwrap();
    }

    /// One change to the list: picks an entry by index where it needs one.
    #[derive(Clone, Debug)]
    enum Change {
        Remove(prop::sample::Index),
        Relist(prop::sample::Index, EntryMeta),
        Add((Kind, String), EntryMeta),
    }

    fn change() -> impl Strategy<Value = Change> {
        prop_oneof![
            any::<prop::sample::Index>().prop_map(Change::Remove),
            (any::<prop::sample::Index>(), entry_meta()).prop_map(|(i, m)| Change::Relist(i, m)),
            (key(), entry_meta()).prop_map(|(k, m)| Change::Add(k, m)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn a_sequence_of_updates_answers_like_a_full_build_of_the_same_entries(
            initial in prop::collection::hash_map(key(), entry_meta(), 0..60),
            steps in prop::collection::vec(prop::collection::vec(change(), 0..12), 1..5),
            queries in prop::collection::vec(key(), 0..40),
            now in 0u64..1_100,
            seed in any::<u64>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("updated.idx");
            let mut model: Model = initial;
            let build = |model: &Model, path: &Path, version: u64| {
                IndexBuilder::new(version, [version as u8; 32], Timestamp(version))
                    .seed(seed)
                    .write(path, || model.iter().map(|((k, v), m)| (*k, v.as_str(), m)))
                    .unwrap();
            };
            build(&model, &path, 1);
            for (step, changes) in steps.iter().enumerate() {
                let version = step as u64 + 2;
                let (mut removed, mut added) = (Vec::new(), Vec::new());
                let mut next = model.clone();
                for change in changes {
                    let mut listed: Vec<&(Kind, String)> = next.keys().collect();
                    listed.sort();
                    match change {
                        Change::Remove(i) | Change::Relist(i, _) if !listed.is_empty() => {
                            let key = listed[i.index(listed.len())].clone();
                            // Changes of one step touch each key once, as a
                            // delta between two list states does.
                            if removed.contains(&key) || added.iter().any(|(k, v, _)| (k, v) == (&key.0, &key.1)) {
                                continue;
                            }
                            next.remove(&key);
                            removed.push(key.clone());
                            if let Change::Relist(_, m) = change {
                                next.insert(key.clone(), m.clone());
                                added.push((key.0, key.1, m.clone()));
                            }
                        }
                        Change::Add(key, m) if !next.contains_key(key) && !removed.contains(key) => {
                            next.insert(key.clone(), m.clone());
                            added.push((key.0, key.1.clone(), m.clone()));
                        }
                        _ => {}
                    }
                }
                match update(&path, version, &removed, &added) {
                    Ok(()) => {}
                    // What the caller does: build in full.
                    Err(IndexError::UpdateNeedsRebuild { .. }) => build(&next, &path, version),
                    Err(e) => panic!("step {step}: {e}"),
                }
                model = next;
            }
            let updated = LookupIndex::open(&path).unwrap();
            let fresh_path = dir.path().join("fresh.idx");
            build(&model, &fresh_path, 99);
            let fresh = LookupIndex::open(&fresh_path).unwrap();
            prop_assert_eq!(updated.header().entries, model.len() as u64);
            let now = Timestamp(now);
            let all: Vec<(Kind, String)> = model.keys().cloned().chain(queries).collect();
            let keys: Vec<(Kind, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let batch = batch_answers(&updated, &keys, now);
            for (i, (kind, value)) in keys.iter().enumerate() {
                let answer = |index: &LookupIndex| {
                    index.lookup_canonical(*kind, value, now).map(|h| (h.matched.clone().into_owned(), h.meta()))
                };
                let got = answer(&updated);
                prop_assert_eq!(&got, &model_answer(&model, *kind, value, now), "{} {}", kind, value);
                prop_assert_eq!(&got, &answer(&fresh));
                let batched = batch[i].as_ref().map(|h| (h.matched.clone().into_owned(), h.meta()));
                prop_assert_eq!(batched, got);
            }
        }
    }
}

// Parent matching stops at the query's registrable domain (issue 15, item 2):
// a listed name never catches the names under a public suffix below it.
mod registrable_domain_limit {
    use proptest::prelude::*;

    use super::model::{entry_meta, model_answer, Model};
    use super::*;

    fn listing(values: &[&str]) -> Listed {
        values
            .iter()
            .map(|v| {
                let m = meta(Reason::PHISHING, "th-etda", 1, None);
                (Kind::Domain, (*v).to_owned(), m)
            })
            .collect()
    }

    /// What each path answers for `query`: the matched name, or `None`.
    /// `lookup_canonical`, `lookup_batch`, and for a listable name `check`
    /// and `check_batch` (the HTTP API's and the C library's paths) agree.
    fn matched(index: &LookupIndex, query: &str) -> Option<String> {
        let single = index
            .lookup_canonical(Kind::Domain, query, NOW)
            .map(|h| h.matched.into_owned());
        let batch = batch_answers(index, &[(Kind::Domain, query)], NOW);
        assert_eq!(batch[0].as_ref().map(|h| h.matched.to_string()), single);
        if let Some(shaped) = index.lookup_shaped(Kind::Domain, query.as_bytes(), NOW) {
            assert_eq!(shaped.map(|h| h.matched.into_owned()), single, "{query}");
        }
        // With the key hashed ahead, walking every parent or, as a key
        // that knows it may, none when no parent may answer.
        let key = key_hash(index.seed(), Kind::Domain, query);
        for parents_may_answer in [true, answering_parents(query) > 0] {
            let hashed =
                index.lookup_hashed(Kind::Domain, &key, parents_may_answer, NOW, || Some(query));
            assert_eq!(
                hashed.expect("text given").map(|h| h.matched.into_owned()),
                single,
                "{query}"
            );
        }
        let rules = Rules::default();
        if let Ok(checked) = index.check(Kind::Domain, query, &rules, NOW) {
            assert_eq!(checked.map(|h| h.matched.into_owned()), single, "{query}");
            let batch = index.check_batch(&[(Kind::Domain, query)], &rules, NOW);
            let batch = batch[0].as_ref().unwrap().as_ref();
            assert_eq!(batch.map(|h| h.matched.to_string()), single, "{query}");
        }
        single
    }

    /// Each `(query, expected match)` against an index of `listed`.
    fn assert_answers(listed: &[&str], cases: &[(&str, Option<&str>)]) {
        let dir = tempfile::tempdir().unwrap();
        let path = write_index(dir.path(), "list.idx", 1, &listing(listed));
        let index = LookupIndex::open(&path).unwrap();
        for (query, want) in cases {
            let want = want.map(str::to_owned);
            assert_eq!(matched(&index, query), want, "{query} against {listed:?}");
        }
    }

    #[test]
    fn a_listed_platform_domain_does_not_catch_its_customers_under_a_private_suffix() {
        // s3.amazonaws.com is a private-section rule, *.compute.amazonaws.com a
        // private wildcard; foo.amazonaws.com is under no rule.
        let cases = [
            ("amazonaws.com", Some("amazonaws.com")),
            ("foo.amazonaws.com", Some("amazonaws.com")),
            ("a.foo.amazonaws.com", Some("amazonaws.com")),
            ("analytics.s3.amazonaws.com", None),
            ("a.analytics.s3.amazonaws.com", None),
            ("s3.amazonaws.com", None),
            ("x.eu-1.compute.amazonaws.com", None),
        ];
        assert_answers(&["amazonaws.com"], &cases);
        // blob.core.windows.net is a private rule; core.windows.net is not.
        let cases = [
            ("core.windows.net", Some("core.windows.net")),
            ("foo.core.windows.net", Some("core.windows.net")),
            ("myaccount.blob.core.windows.net", None),
        ];
        assert_answers(&["core.windows.net"], &cases);
    }

    #[test]
    fn a_listed_name_does_not_catch_names_under_an_icann_suffix_below_it() {
        // os.hedmark.no is an ICANN rule under .no; hedmark.no is registrable.
        let cases = [
            ("hedmark.no", Some("hedmark.no")),
            ("foo.hedmark.no", Some("hedmark.no")),
            ("shop.os.hedmark.no", None),
            ("www.shop.os.hedmark.no", None),
        ];
        assert_answers(&["hedmark.no"], &cases);
        // *.kawasaki.jp with the exception !city.kawasaki.jp.
        let cases = [
            ("kawasaki.jp", Some("kawasaki.jp")),
            ("shop.ward.kawasaki.jp", None),
            ("city.kawasaki.jp", None),
            ("a.city.kawasaki.jp", None),
        ];
        assert_answers(&["kawasaki.jp"], &cases);
    }

    #[test]
    fn wildcard_and_exception_rules_set_where_matching_stops() {
        // *.ck makes every x.ck a suffix; !www.ck makes www.ck registrable.
        // foo.ck can only be in an index a suffix list of another date
        // listed; it catches only itself.
        let cases = [
            ("a.www.ck", Some("www.ck")),
            ("b.a.www.ck", Some("www.ck")),
            ("a.scam.bar.ck", Some("scam.bar.ck")),
            ("scam.foo.ck", None),
            ("a.scam.foo.ck", None),
            ("foo.ck", Some("foo.ck")),
        ];
        assert_answers(&["www.ck", "scam.bar.ck", "foo.ck"], &cases);
        let cases = [
            ("a.city.kawasaki.jp", Some("city.kawasaki.jp")),
            ("shop.ward.kawasaki.jp", None),
        ];
        assert_answers(&["city.kawasaki.jp", "ward.kawasaki.jp"], &cases);
    }

    /// Names around suffix rules of every sort: plain and wildcard, ICANN and
    /// private, with an exception; and names under none.
    fn domain() -> impl Strategy<Value = String> {
        let bases = [
            "amazonaws.com",
            "s3.amazonaws.com",
            "compute.amazonaws.com",
            "core.windows.net",
            "blob.core.windows.net",
            "hedmark.no",
            "os.hedmark.no",
            "www.ck",
            "b.ck",
            "city.kawasaki.jp",
            "ward.kawasaki.jp",
            "github.io",
            "scam.co.th",
            "example.com",
        ];
        (
            prop::collection::vec("[ab]", 0..4),
            prop::sample::select(bases.to_vec()),
        )
            .prop_map(|(labels, base)| {
                labels
                    .iter()
                    .map(|l| format!("{l}."))
                    .chain([base.to_owned()])
                    .collect()
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn parent_matches_stop_at_the_registrable_domain_like_a_naive_walk(
            listed in prop::collection::hash_map(domain(), entry_meta(), 0..40),
            queries in prop::collection::vec(domain(), 0..60),
            now in 0u64..1_100,
        ) {
            let model: Model = listed.into_iter().map(|(v, m)| ((Kind::Domain, v), m)).collect();
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("model.idx");
            IndexBuilder::new(1, [0; 32], Timestamp(0))
                .write(&path, || model.iter().map(|((k, v), m)| (*k, v.as_str(), m)))
                .unwrap();
            let index = LookupIndex::open(&path).unwrap();
            let now = Timestamp(now);
            let all: Vec<&str> = model.keys().map(|(_, v)| v.as_str()).chain(queries.iter().map(String::as_str)).collect();
            let keys: Vec<(Kind, &str)> = all.iter().map(|v| (Kind::Domain, *v)).collect();
            let batch = batch_answers(&index, &keys, now);
            for (i, value) in all.iter().enumerate() {
                let got = index
                    .lookup_canonical(Kind::Domain, value, now)
                    .map(|h| (h.matched.clone().into_owned(), h.meta()));
                prop_assert_eq!(&got, &model_answer(&model, Kind::Domain, value, now), "{}", value);
                let batched = batch[i].as_ref().map(|h| (h.matched.clone().into_owned(), h.meta()));
                prop_assert_eq!(batched, got);
            }
        }
    }
}

// Overlays (issue 16): a version as recent changes stacked on a base answers
// like the list it stands for, through overlay rewrites, merges and reloads.
mod overlay {
    use blocklist_lookup::index::{Change, LiveIndex};
    use proptest::prelude::*;

    use super::model::{entry_meta, key, model_answer, Model};
    use super::*;

    /// One step's change: a key (often one already listed) and what becomes
    /// of it (`None`: removed).
    fn step() -> impl Strategy<Value = Vec<((Kind, String), Option<EntryMeta>)>> {
        prop::collection::vec((key(), prop::option::weighted(0.7, entry_meta())), 0..16)
    }

    /// The header of version `version` of `model`.
    fn header_at(version: u64, model: &Model) -> IndexHeader {
        IndexHeader::new(
            version,
            [version as u8; 32],
            Timestamp(version),
            model.len() as u64,
        )
    }

    /// Adopts a full build of `model` as the base of `published`, with an
    /// empty overlay on it.
    fn publish_base(dir: &Path, published: &Path, model: &Model, version: u64, seed: u64) {
        let built = dir.join("built.idx");
        IndexBuilder::new(version, [version as u8; 32], Timestamp(version))
            .seed(seed)
            .write(&built, || {
                model.iter().map(|((k, v), m)| (*k, v.as_str(), m))
            })
            .unwrap();
        let base = LookupIndex::adopt_base(&built, published).unwrap();
        base.write_overlay(published, published, &header_at(version, model), [])
            .unwrap();
    }

    fn assert_answers_like(
        index: &LookupIndex,
        model: &Model,
        queries: &[(Kind, String)],
        now: Timestamp,
    ) -> Result<(), TestCaseError> {
        prop_assert_eq!(index.header().entries, model.len() as u64);
        let all: Vec<(Kind, String)> = model
            .keys()
            .cloned()
            .chain(queries.iter().cloned())
            .collect();
        let keys: Vec<(Kind, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let batch = batch_answers(index, &keys, now);
        for (i, (kind, value)) in keys.iter().enumerate() {
            let got = index
                .lookup_canonical(*kind, value, now)
                .map(|h| (h.matched.clone().into_owned(), h.meta()));
            prop_assert_eq!(
                &got,
                &model_answer(model, *kind, value, now),
                "{} {}",
                kind,
                value
            );
            let batched = batch[i]
                .as_ref()
                .map(|h| (h.matched.clone().into_owned(), h.meta()));
            prop_assert_eq!(&batched, &got);
            // The guarded lookup answers alike for text of a canonical
            // shape, and refuses the rest.
            let shaped = index
                .lookup_shaped(*kind, value.as_bytes(), now)
                .map(|hit| hit.map(|h| (h.matched.clone().into_owned(), h.meta())));
            let expected = has_canonical_shape(*kind, value).then_some(got.clone());
            prop_assert_eq!(shaped, expected);
            // So does the lookup with the key hashed ahead, told whether a
            // domain's parents may answer or not; without its text it
            // answers a miss that walks no parents, and nothing else.
            let key = key_hash(index.seed(), *kind, value);
            let walks = *kind == Kind::Domain && answering_parents(value) > 0;
            for parents_may_answer in [true, walks] {
                let hashed = index
                    .lookup_hashed(*kind, &key, parents_may_answer, now, || Some(*value))
                    .map(|hit| hit.map(|h| (h.matched.clone().into_owned(), h.meta())));
                prop_assert_eq!(hashed, Some(got.clone()));
            }
            let textless = index.lookup_hashed(*kind, &key, true, now, || None);
            let answers_without_text = got.is_none() && *kind != Kind::Domain;
            prop_assert_eq!(textless.is_some(), answers_without_text);
            let textless = index.lookup_hashed(*kind, &key, walks, now, || None);
            prop_assert_eq!(textless.is_some(), got.is_none() && !walks);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn an_overlay_stack_answers_like_the_list_through_changes_merges_and_reloads(
            initial in prop::collection::hash_map(key(), entry_meta(), 0..40),
            steps in prop::collection::vec((step(), any::<bool>()), 1..8),
            queries in prop::collection::vec(key(), 0..30),
            now in 0u64..1_100,
            seed in any::<u64>(),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let published = dir.path().join("lookup.idx");
            let now = Timestamp(now);
            let mut model: Model = initial;
            publish_base(dir.path(), &published, &model, 1, seed);
            let live = LiveIndex::open(&published).unwrap();
            for (at, (changes, merge)) in steps.iter().enumerate() {
                let version = at as u64 + 2;
                let current = live.load_full();
                for ((kind, value), meta) in changes {
                    match meta {
                        Some(meta) => model.insert((*kind, value.clone()), meta.clone()),
                        None => model.remove(&(*kind, value.clone())),
                    };
                }
                let changes = changes.iter().map(|((kind, value), meta)| Change {
                    kind: *kind,
                    value: value.clone(),
                    standing: meta.clone().map(Standing::one),
                });
                let staged = dir.path().join("staged.idx");
                current
                    .write_overlay(&published, &staged, &header_at(version, &model), changes)
                    .unwrap();
                std::fs::rename(&staged, &published).unwrap();
                if *merge {
                    // What a merge does: the whole version as a new base,
                    // then an overlay of nothing on it (or, when the list
                    // outgrew the base's table, a full build).
                    let stacked = LookupIndex::open(&published).unwrap();
                    let merged = dir.path().join("merged.idx");
                    let updated = stacked.write_updated(&merged, version, [version as u8; 32], Timestamp(version),
                        std::iter::empty::<(Kind, &str)>(), std::iter::empty::<(Kind, &str, &EntryMeta)>());
                    match updated {
                        Ok(_) => {
                            let base = LookupIndex::adopt_base(&merged, &published).unwrap();
                            prop_assert_eq!(base.overlay_changes(), vec![]);
                            assert_answers_like(&base, &model, &queries, now)?;
                            base.write_overlay(&published, &published, &header_at(version, &model), [])
                                .unwrap();
                        }
                        Err(IndexError::UpdateNeedsRebuild { .. }) => publish_base(dir.path(), &published, &model, version, seed),
                        Err(e) => panic!("merge at {version}: {e}"),
                    }
                }
                let reloaded = live.reload_if_changed().unwrap().expect("a new overlay");
                prop_assert_eq!(reloaded.version, version);
                let served = live.load_full();
                if !*merge {
                    prop_assert_eq!(served.base_path(), current.base_path());
                }
                assert_answers_like(&served, &model, &queries, now)?;
                // A reader opening afresh (another process) sees the same.
                assert_answers_like(&LookupIndex::open(&published).unwrap(), &model, &queries, now)?;
            }
        }
    }

    #[test]
    fn an_overlay_whose_base_is_missing_or_another_is_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let published = dir.path().join("lookup.idx");
        let entries: Model = (0..10)
            .map(|i| {
                (
                    (Kind::Number, format!("+6681{i:07}")),
                    meta(Reason::SCAM_CALL, "th-nbtc", i, None),
                )
            })
            .collect();
        publish_base(dir.path(), &published, &entries, 1, 7);
        let index = LookupIndex::open(&published).unwrap();
        let base = index.base_path().to_owned();
        assert!(base
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("lookup.idx.base-"));

        // Another full index put where the base should be.
        let other = dir.path().join("other.idx");
        IndexBuilder::new(1, [1; 32], Timestamp(1))
            .seed(7)
            .write(&other, std::iter::empty::<(Kind, &str, &EntryMeta)>)
            .unwrap();
        std::fs::rename(&other, &base).unwrap();
        let err = LookupIndex::open(&published).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("{:#018x}", index.base_checksum())),
            "{err}"
        );

        std::fs::remove_file(&base).unwrap();
        let err = LookupIndex::open(&published).unwrap_err();
        assert!(
            matches!(&err, IndexError::Io { path, .. } if *path == base),
            "{err}"
        );
        // The reader that held the pair keeps answering from it.
        assert!(index
            .lookup_canonical(Kind::Number, &entries.keys().next().unwrap().1, NOW)
            .is_some());
    }

    #[test]
    fn an_overlay_is_written_only_on_a_base_at_its_base_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_index(
            dir.path(),
            "lookup.idx",
            1,
            &vec![(
                Kind::Number,
                "+66812345678".to_owned(),
                meta(Reason::SCAM_CALL, "th-nbtc", 1, None),
            )],
        );
        let full = LookupIndex::open(&path).unwrap();
        let err = full
            .write_overlay(
                &path,
                &path,
                &IndexHeader::new(2, [2; 32], Timestamp(2), 1),
                [],
            )
            .unwrap_err();
        assert!(matches!(err, IndexError::BaseNotPlaced { .. }), "{err}");
    }
}
