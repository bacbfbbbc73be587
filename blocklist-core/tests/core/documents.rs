//! Signed documents: round trips, tampering, version rules, key rotation.

use blocklist_core::document::*;
use blocklist_core::verify::{check_file, Role, Verifier, VerifyError};
use blocklist_core::*;
use proptest::prelude::*;

use crate::support::*;

fn sample_entries() -> Vec<Entry> {
    vec![
        entry(Kind::Number, "081-234-5678", "th-aoc", None),
        entry(
            Kind::Account,
            "004 123-4-56789-0",
            "bank-004",
            Some(1_790_000_000),
        ),
        entry(Kind::Domain, "Scam.Example.com.", "th-aoc", None),
        entry(
            Kind::Domain,
            "phish.example.net",
            "police",
            Some(1_800_000_000),
        ),
    ]
}

fn first_delta(c: &Centre) -> Vec<u8> {
    let entries = sample_entries();
    let state = ListState::of(&entries);
    c.sign(&delta(1, entries.into_iter().map(Op::Add).collect(), state))
}

/// A registry of agencies `agency-<n>` (duplicates dropped), each with its
/// kinds, that many keys of its own, and revoked or not.
fn arb_registry(agencies: &[(u8, Vec<u16>, usize, bool)]) -> Registry {
    let mut seen = std::collections::HashSet::new();
    let entries = agencies
        .iter()
        .filter(|(n, ..)| seen.insert(*n))
        .map(|(n, kinds, keys, revoked)| {
            let mut kinds: Vec<Kind> = kinds.iter().map(|&k| Kind::from_code(k)).collect();
            kinds.sort_by_key(|k| k.code());
            kinds.dedup();
            let keys = (0..*keys)
                .map(|i| {
                    let mut seed = [0u8; 32];
                    seed[..2].copy_from_slice(&[*n, i as u8 + 1]);
                    SecretKey::from_seed(&seed).public_key()
                })
                .collect();
            let mut entry = AgencyEntry::new(
                Agency::new(&format!("agency-{n}")).unwrap(),
                "An agency",
                kinds,
                keys,
            )
            .unwrap();
            if *revoked {
                entry.revoke(Timestamp(u64::from(*n))).unwrap();
            }
            entry
        })
        .collect();
    Registry::new(list(), Version::FIRST, NOW, entries, vec![]).unwrap()
}

fn manifest(serial: u64, expires_at: Timestamp) -> Manifest {
    let r = FileRef {
        version: Version::FIRST,
        sha256: Sha256([7; 32]),
        size: 123,
    };
    Manifest {
        list: list(),
        serial,
        version: Version::FIRST,
        state: ListState::default(),
        issued_at: NOW,
        expires_at,
        roots: vec![r],
        deltas: vec![r],
        snapshots: vec![],
        registries: vec![],
        log: None,
        extensions: vec![],
    }
}

#[test]
fn every_document_round_trips_through_sign_and_verify() {
    let c = Centre::new();
    let entries = sample_entries();
    let d = delta(
        1,
        entries.iter().cloned().map(Op::Add).collect(),
        ListState::of(&entries),
    );
    let got = c.verifier.delta(&d.sign(&[&c.key]).unwrap(), None).unwrap();
    let mut want = d.ops.clone();
    let mut have = got.ops.clone();
    want.sort_by(|a, b| a.id().cmp(b.id()));
    have.sort_by(|a, b| a.id().cmp(b.id()));
    assert_eq!(have, want);
    assert_eq!(got.state, d.state);

    let s = Snapshot {
        list: list(),
        version: Version::new(5).unwrap(),
        created_at: NOW,
        entries: entries.clone(),
        state: ListState::of(&entries),
        sequences: Default::default(),
        overrides: vec![],
        origins: vec![],
        extensions: vec![Extension {
            tag: 9,
            data: vec![1, 2, 3],
        }],
    };
    let got = c
        .verifier
        .snapshot(&s.sign(&[&c.key]).unwrap(), None)
        .unwrap();
    assert_eq!(got.entries.len(), 4);
    assert_eq!(got.computed_state(Commitment::CURRENT), s.state);
    assert_eq!(got.extensions, s.extensions);

    let m = manifest(3, NOW.plus(3600));
    let got = c
        .verifier
        .manifest(&m.sign(&[&c.key]).unwrap(), NOW, None)
        .unwrap();
    assert_eq!(*got, m);

    assert_eq!(c.verifier.root().version, Version::FIRST);
}

#[test]
fn encoding_is_deterministic_whatever_the_op_order() {
    let entries = sample_entries();
    let state = ListState::of(&entries);
    let forward = delta(1, entries.iter().cloned().map(Op::Add).collect(), state);
    let backward = delta(
        1,
        entries.iter().rev().cloned().map(Op::Add).collect(),
        state,
    );
    assert_eq!(
        forward.encode_payload().unwrap(),
        backward.encode_payload().unwrap()
    );
}

#[test]
fn every_single_byte_change_of_a_signed_delta_is_rejected() {
    let c = Centre::new();
    let good = first_delta(&c);
    assert!(c.verifier.delta(&good, None).is_ok());
    for pos in 0..good.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[pos] ^= flip;
            assert!(
                c.verifier.delta(&bad, None).is_err(),
                "flipping byte {pos} with {flip:#x} was accepted"
            );
        }
    }
}

#[test]
fn every_truncation_of_a_signed_delta_is_rejected_as_malformed() {
    let c = Centre::new();
    let good = first_delta(&c);
    for len in 0..good.len() {
        match c.verifier.delta(&good[..len], None) {
            Err(VerifyError::Malformed { .. }) => {}
            other => panic!("truncated to {len} bytes: {other:?}"),
        }
    }
    let mut longer = good.clone();
    longer.push(0);
    assert!(matches!(
        c.verifier.delta(&longer, None),
        Err(VerifyError::Malformed {
            source: DecodeError::TrailingBytes { count: 1, .. },
            ..
        })
    ));
}

#[test]
fn delta_versions_refuse_replay_rollback_and_gap() {
    let c = Centre::new();
    let bytes = delta(5, vec![], ListState::default())
        .sign(&[&c.key])
        .unwrap();
    let v = |n| Version::new(n);
    assert!(c.verifier.delta(&bytes, v(4)).is_ok());
    assert!(matches!(
        c.verifier.delta(&bytes, v(5)),
        Err(VerifyError::Replay { version: 5, .. })
    ));
    assert!(matches!(
        c.verifier.delta(&bytes, v(9)),
        Err(VerifyError::Rollback {
            trusted: 9,
            offered: 5,
            ..
        })
    ));
    assert!(matches!(
        c.verifier.delta(&bytes, v(2)),
        Err(VerifyError::Gap {
            trusted: 2,
            offered: 5,
            ..
        })
    ));
    assert!(matches!(
        c.verifier.delta(&bytes, None),
        Err(VerifyError::Gap {
            trusted: 0,
            offered: 5,
            ..
        })
    ));
}

#[test]
fn snapshots_must_be_newer_and_match_their_digest() {
    let c = Centre::new();
    let entries = sample_entries();
    let mut s = Snapshot {
        list: list(),
        version: Version::new(7).unwrap(),
        created_at: NOW,
        entries: entries.clone(),
        state: ListState::of(&entries),
        sequences: Default::default(),
        overrides: vec![],
        origins: vec![],
        extensions: vec![],
    };
    let bytes = s.sign(&[&c.key]).unwrap();
    assert!(c.verifier.snapshot(&bytes, Version::new(6)).is_ok());
    assert!(matches!(
        c.verifier.snapshot(&bytes, Version::new(7)),
        Err(VerifyError::Replay { .. })
    ));
    assert!(matches!(
        c.verifier.snapshot(&bytes, Version::new(8)),
        Err(VerifyError::Rollback {
            trusted: 8,
            offered: 7,
            ..
        })
    ));
    s.state = ListState::of(&entries[1..]);
    let lying = s.sign(&[&c.key]).unwrap();
    assert!(matches!(
        c.verifier.snapshot(&lying, None),
        Err(VerifyError::DigestMismatch { .. })
    ));
}

#[test]
fn manifests_expire_and_refuse_older_serials() {
    let c = Centre::new();
    let bytes = manifest(10, NOW.plus(60)).sign(&[&c.key]).unwrap();
    assert!(c.verifier.manifest(&bytes, NOW, Some(10)).is_ok());
    assert!(matches!(
        c.verifier.manifest(&bytes, NOW.plus(60), None),
        Err(VerifyError::Expired { serial: 10, .. })
    ));
    assert!(matches!(
        c.verifier.manifest(&bytes, NOW, Some(11)),
        Err(VerifyError::SerialRollback {
            seen: 11,
            offered: 10,
            ..
        })
    ));
}

#[test]
fn wrong_key_wrong_type_and_wrong_list_are_refused() {
    let c = Centre::new();
    let stranger = SecretKey::generate().unwrap();
    let d = delta(1, vec![], ListState::default());
    assert!(matches!(
        c.verifier.delta(&d.sign(&[&stranger]).unwrap(), None),
        Err(VerifyError::UnknownKey {
            role: Role::Publish,
            ..
        })
    ));
    assert!(matches!(
        c.verifier
            .delta(&d.sign(&[&c.key, &stranger]).unwrap(), None),
        Err(VerifyError::UnknownKey { .. })
    ));
    let as_manifest = manifest(1, NOW.plus(60)).sign(&[&c.key]).unwrap();
    assert!(matches!(
        c.verifier.delta(&as_manifest, None),
        Err(VerifyError::WrongDocument {
            expected: DocType::Delta,
            found: DocType::Manifest
        })
    ));
    let mut other = d.clone();
    other.list = ListId::new("my-other-list").unwrap();
    assert!(matches!(
        c.verifier.delta(&other.sign(&[&c.key]).unwrap(), None),
        Err(VerifyError::WrongList { .. })
    ));
}

#[test]
fn a_signature_moved_to_another_document_type_is_bad() {
    let c = Centre::new();
    let payload = delta(1, vec![], ListState::default())
        .encode_payload()
        .unwrap();
    let mut bytes = envelope::seal(DocType::Delta, &payload, &[&c.key]).unwrap();
    // Same payload and signature, type byte relabelled as a snapshot.
    bytes[5] = DocType::Snapshot.code();
    assert!(c.verifier.snapshot(&bytes, None).is_err());
}

fn keyset(keys: &[&SecretKey], threshold: u8) -> KeySet {
    KeySet::new(keys.iter().map(|k| k.public_key()).collect(), threshold).unwrap()
}

fn root(version: u64, root_keys: KeySet, publish_keys: KeySet) -> TrustRoot {
    TrustRoot {
        list: list(),
        version: Version::new(version).unwrap(),
        issued_at: NOW,
        expires_at: NOW.plus(86_400),
        root_keys,
        publish_keys,
        override_keys: None,
        extensions: vec![],
    }
}

#[test]
fn threshold_signatures_are_counted_per_distinct_key() {
    let [a, b, c, p] = std::array::from_fn(|_| SecretKey::generate().unwrap());
    let r = root(1, keyset(&[&a, &b, &c], 2), keyset(&[&p], 1));
    assert!(matches!(
        Verifier::pin(&r.sign(&[&a]).unwrap()),
        Err(VerifyError::ThresholdNotMet {
            valid: 1,
            threshold: 2,
            role: Role::Root,
            ..
        })
    ));
    let verifier = Verifier::pin(&r.sign(&[&a, &c]).unwrap()).unwrap();
    // Root keys do not sign deltas.
    let d = delta(1, vec![], ListState::default());
    assert!(matches!(
        verifier.delta(&d.sign(&[&a]).unwrap(), None),
        Err(VerifyError::UnknownKey {
            role: Role::Publish,
            ..
        })
    ));
    assert!(verifier.delta(&d.sign(&[&p]).unwrap(), None).is_ok());
    // A signer listed twice is refused before signing.
    assert!(matches!(
        d.sign(&[&p, &p]),
        Err(EncodeError::SignerCount { .. })
    ));
}

#[test]
fn key_rotation_needs_old_and_new_thresholds_and_revokes_old_publish_keys() {
    let [a, b, p1, p2, x] = std::array::from_fn(|_| SecretKey::generate().unwrap());
    let v1 = root(1, keyset(&[&a], 1), keyset(&[&p1], 1));
    let mut verifier = Verifier::pin(&v1.sign(&[&a]).unwrap()).unwrap();
    let v2 = root(2, keyset(&[&b], 1), keyset(&[&p2], 1));

    // Only the new key: the old root never agreed.
    assert!(matches!(
        verifier.rotate(&v2.sign(&[&b]).unwrap()),
        Err(VerifyError::UnknownKey { .. }) | Err(VerifyError::ThresholdNotMet { .. })
    ));
    // Only the old key: nobody shows they hold the new one.
    assert!(matches!(
        verifier.rotate(&v2.sign(&[&a]).unwrap()),
        Err(VerifyError::ThresholdNotMet { .. })
    ));
    // An outsider's extra signature is refused.
    assert!(verifier.rotate(&v2.sign(&[&a, &b, &x]).unwrap()).is_err());
    // Skipping a version is a gap.
    let v3 = root(3, keyset(&[&b], 1), keyset(&[&p2], 1));
    assert!(matches!(
        verifier.rotate(&v3.sign(&[&a, &b]).unwrap()),
        Err(VerifyError::Gap {
            trusted: 1,
            offered: 3,
            ..
        })
    ));
    assert_eq!(verifier.root().version, Version::FIRST);

    let d = delta(1, vec![], ListState::default());
    assert!(verifier.delta(&d.sign(&[&p1]).unwrap(), None).is_ok());
    verifier.rotate(&v2.sign(&[&a, &b]).unwrap()).unwrap();
    assert_eq!(verifier.root().version.get(), 2);
    // The old publish key is revoked; the new one signs.
    assert!(matches!(
        verifier.delta(&d.sign(&[&p1]).unwrap(), None),
        Err(VerifyError::UnknownKey { .. })
    ));
    assert!(verifier.delta(&d.sign(&[&p2]).unwrap(), None).is_ok());
    // The same rotation again is a replay.
    assert!(matches!(
        verifier.rotate(&v2.sign(&[&a, &b]).unwrap()),
        Err(VerifyError::Replay { .. })
    ));
}

#[test]
fn files_must_match_size_and_digest_in_the_manifest() {
    let bytes = b"some delta bytes".to_vec();
    let r = FileRef {
        version: Version::FIRST,
        sha256: Sha256::of(&bytes),
        size: bytes.len() as u64,
    };
    assert!(check_file("deltas/1", &bytes, &r).is_ok());
    assert!(matches!(
        check_file("deltas/1", &bytes[1..], &r),
        Err(VerifyError::DigestMismatch { .. })
    ));
    let mut flipped = bytes.clone();
    flipped[0] ^= 1;
    let err = check_file("deltas/1", &flipped, &r).unwrap_err();
    assert!(err.to_string().contains("deltas/1"), "{err}");
}

#[test]
fn decoders_refuse_non_canonical_payloads() {
    let entries = sample_entries();
    let d = delta(
        1,
        entries.into_iter().map(Op::Add).collect(),
        ListState::default(),
    );
    let payload = d.encode_payload().unwrap();
    assert!(Delta::decode_payload(&payload).is_ok());
    // An over-long varint for the version (1 as 0x81 0x00) decodes to the same
    // value but is not the canonical encoding.
    let list_len = payload[0] as usize;
    let at = 1 + list_len;
    assert_eq!(payload[at], 1);
    let mut long = payload[..at].to_vec();
    long.extend_from_slice(&[0x81, 0x00]);
    long.extend_from_slice(&payload[at + 1..]);
    assert!(Delta::decode_payload(&long).is_err());
}

#[test]
fn a_delta_cannot_name_one_identifier_twice() {
    let e = entry(Kind::Number, "0812345678", "th-aoc", None);
    let d = delta(
        1,
        vec![Op::Add(e.clone()), Op::Remove(e.id.clone(), None)],
        ListState::default(),
    );
    assert!(matches!(
        d.encode_payload(),
        Err(EncodeError::DuplicateIdentifier { version: 1, .. })
    ));
}

#[test]
fn times_past_what_replicas_store_are_refused_on_encode_and_decode() {
    // The last storable time is encoded, decoded and indexed like any other.
    let last = EntryMeta::LAST_TIME.0;
    let ok = entry(Kind::Number, "0812345678", "th-aoc", Some(last));
    let d = delta(1, vec![Op::Add(ok.clone())], ListState::default());
    let payload = d.encode_payload().unwrap();
    assert_eq!(Delta::decode_payload(&payload).unwrap(), d);
    let dir = tempfile::tempdir().unwrap();
    blocklist_core::index::IndexBuilder::new(1, [0; 32], NOW)
        .write(&dir.path().join("i.idx"), || {
            std::iter::once((ok.id.kind(), ok.id.as_str(), &ok.meta))
        })
        .unwrap();

    // One second later (2200 would do the same, or a time in milliseconds).
    let mut late = ok.clone();
    late.meta.expires_at = Some(Timestamp(last + 1));
    let refused = delta(1, vec![Op::Update(late)], ListState::default()).encode_payload();
    match refused {
        Err(EncodeError::Invalid { field, reason, .. }) => {
            assert_eq!(field, "expires_at");
            assert!(
                reason.contains("+66812345678") && reason.contains("4294967295"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    let mut early_listing = ok.clone();
    early_listing.meta.listed_at = Timestamp(1_750_000_000_000); // milliseconds
    let refused = delta(1, vec![Op::Add(early_listing)], ListState::default()).encode_payload();
    assert!(
        matches!(
            refused,
            Err(EncodeError::Invalid {
                field: "listed_at",
                ..
            })
        ),
        "{refused:?}"
    );

    // A centre that signs one anyway: the replica refuses it at decode,
    // before the store sees it. The varint of u32::MAX - 1 becomes u32::MAX.
    let at = payload
        .windows(5)
        .position(|w| w == [0xFE, 0xFF, 0xFF, 0xFF, 0x0F])
        .expect("expires_at in the payload");
    let mut patched = payload.clone();
    patched[at] = 0xFF;
    match Delta::decode_payload(&patched) {
        Err(DecodeError::Invalid { field, reason, .. }) => {
            assert_eq!(field, "expires_at");
            assert!(reason.contains("4294967295"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    let id = prop_oneof![
        "8[0-9]{8}".prop_map(|n| (Kind::Number, format!("0{n}"))),
        "[0-9]{10}".prop_map(|n| (Kind::Account, format!("004/{n}"))),
        "[a-z]{1,12}(-[a-z0-9]{1,5})?".prop_map(|l| (Kind::Domain, format!("{l}.example.com"))),
    ];
    (
        id,
        0u16..10,
        prop::sample::select(vec!["th-aoc", "police", "bank-004"]),
        1_700_000_000u64..1_800_000_000,
        prop::option::of(1_800_000_000u64..1_900_000_000),
    )
        .prop_map(|((kind, raw), reason, agency, listed, expires)| Entry {
            id: Identifier::parse(kind, &raw, &Rules::default()).unwrap(),
            meta: EntryMeta {
                reason: Reason(reason),
                agency: Agency::new(agency).unwrap(),
                listed_at: Timestamp(listed),
                expires_at: expires.map(Timestamp),
            },
        })
}

proptest! {
    #[test]
    fn delta_encode_decode_is_a_canonical_round_trip(
        entries in prop::collection::vec(arb_entry(), 0..40),
        kinds in prop::collection::vec(0u8..3, 40),
        version in 1u64..u64::MAX,
        carried in prop::collection::vec((any::<u64>(), prop::collection::vec(any::<u8>(), 0..64)), 0..3),
    ) {
        let mut seen = std::collections::HashSet::new();
        let ops: Vec<Op> = entries
            .into_iter()
            .filter(|e| seen.insert(e.id.clone()))
            .zip(kinds)
            .map(|(e, k)| match k { 0 => Op::Add(e), 1 => Op::Update(e), _ => Op::Remove(e.id, None) })
            .collect();
        // Carried submissions are opaque to the decoder (verified later, W2).
        let d = Delta {
            submissions: carried
                .into_iter()
                .map(|(at, file)| CarriedSubmission { accepted_at: Timestamp(at), file })
                .collect(),
            ..delta(version, ops, ListState::default())
        };
        let bytes = d.encode_payload().unwrap();
        let back = Delta::decode_payload(&bytes).unwrap();
        prop_assert_eq!(back.encode_payload().unwrap(), bytes);
        prop_assert_eq!(&back.submissions, &d.submissions);
        let mut want = d.ops.clone();
        let mut have = back.ops.clone();
        want.sort_by(|a, b| a.id().cmp(b.id()));
        have.sort_by(|a, b| a.id().cmp(b.id()));
        prop_assert_eq!(have, want);
    }

    #[test]
    fn snapshot_encode_decode_round_trips_and_keeps_the_digest(
        entries in prop::collection::vec(arb_entry(), 0..40),
        sequences in prop::collection::btree_map(any::<[u8; 32]>(), any::<u64>(), 0..4),
    ) {
        let mut seen = std::collections::HashSet::new();
        let entries: Vec<Entry> = entries.into_iter().filter(|e| seen.insert(e.id.clone())).collect();
        let s = Snapshot {
            list: list(), version: Version::FIRST, created_at: NOW,
            state: ListState::of(&entries), entries,
            sequences: sequences.into_iter().map(|(k, v)| (KeyId(k), v)).collect(),
            overrides: vec![],
            origins: vec![],
            extensions: vec![],
        };
        let bytes = s.encode_payload().unwrap();
        let back = Snapshot::decode_payload(&bytes).unwrap();
        prop_assert_eq!(back.encode_payload().unwrap(), bytes);
        prop_assert_eq!(back.computed_state(Commitment::CURRENT), s.state);
        prop_assert_eq!(back.sequences, s.sequences);
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = envelope::parse(&bytes);
        let _ = Delta::decode_payload(&bytes);
        let _ = Snapshot::decode_payload(&bytes);
        let _ = Manifest::decode_payload(&bytes);
        let _ = TrustRoot::decode_payload(&bytes);
        let _ = Registry::decode_payload(&bytes);
    }

    #[test]
    fn registry_payloads_changed_anywhere_are_refused_or_canonical(
        agencies in prop::collection::vec((0u8..20, prop::collection::vec(1u16..6, 1..4), 1usize..4, any::<bool>()), 0..6),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let registry = arb_registry(&agencies);
        let bytes = registry.encode_payload().unwrap();
        prop_assert_eq!(Registry::decode_payload(&bytes).unwrap(), registry);
        if !bytes.is_empty() {
            let mut changed = bytes.clone();
            changed[at.index(bytes.len())] = byte;
            if let Ok(back) = Registry::decode_payload(&changed) {
                prop_assert_eq!(back.encode_payload().unwrap(), changed);
            }
        }
    }
}
