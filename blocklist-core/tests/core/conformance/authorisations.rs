//! Authorisation vectors (`docs/FORMAT.md`, "Delta (type 3)", extension tags
//! 2 and 3, and "Authorisation", W1-W7): deltas carrying agencies' signed
//! submissions, or overrides signed by a threshold of the root's override
//! keys (root extension tag 1), applied from the empty list by a reader that
//! holds the agency registry of the submission vectors. The check is
//! `apply-registered ROOTS REGISTRY FILE...`; a reader without a registry
//! runs the plain `delta` check.

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use blocklist_core::document::*;
use blocklist_core::verify::AuthorityError;
use blocklist_core::*;

use super::submissions::{self, REGISTRY};
use super::{
    after_ops, encode, key, key_set, seal, variant_of, verify_refusal, wire, Cases, DAY, LIST, T0,
};

/// An override's removed listing as docs/FORMAT.md writes it.
#[derive(serde::Serialize)]
struct WireListing {
    kind: u16,
    value: String,
    agency: String,
    listed_at: u64,
}

/// An override as docs/FORMAT.md writes it.
#[derive(serde::Serialize)]
struct WireOverride {
    list: String,
    made_at: u64,
    why: u16,
    note: String,
    removals: Vec<WireListing>,
    extensions: Vec<wire::Extension>,
}

/// An override's update as docs/FORMAT.md writes it (override extension
/// tag 1).
#[derive(serde::Serialize)]
struct WireUpdate {
    listing: WireListing,
    from_reason: u16,
    from_expires_at: Option<u64>,
    reason: u16,
    expires_at: Option<u64>,
}

impl WireUpdate {
    /// `update` as FORMAT.md writes it (OV4).
    fn of(update: &ListingUpdate) -> WireUpdate {
        let listing = &update.listing;
        WireUpdate {
            listing: WireListing {
                kind: listing.id.kind().code(),
                value: listing.id.as_str().into(),
                agency: listing.agency.as_str().into(),
                listed_at: listing.listed_at.0,
            },
            from_reason: update.from_reason.0,
            from_expires_at: update.from_expires_at.map(|t| t.0),
            reason: update.reason.0,
            expires_at: update.expires_at.map(|t| t.0),
        }
    }
}

/// A carried submission as docs/FORMAT.md writes it.
#[derive(serde::Serialize)]
struct WireCarried {
    accepted_at: u64,
    file: Vec<u8>,
}

fn number(tail: &str) -> Identifier {
    Identifier::from_canonical(Kind::Number, &format!("+668123456{tail}")).unwrap()
}

fn domain(name: &str) -> Identifier {
    Identifier::from_canonical(Kind::Domain, name).unwrap()
}

fn list() -> ListId {
    ListId::new(LIST).unwrap()
}

fn listing(id: Identifier, reason: Reason, expires_at: Option<u64>) -> SubmissionOp {
    SubmissionOp::Add(ListingRequest {
        id,
        reason,
        expires_at: expires_at.map(Timestamp),
    })
}

fn removal(id: Identifier) -> SubmissionOp {
    SubmissionOp::Remove(RemovalRequest {
        id,
        why: RemovalReason::CLEARED,
    })
}

fn entry(
    id: Identifier,
    reason: Reason,
    agency: &str,
    listed_at: u64,
    expires_at: Option<u64>,
) -> Entry {
    Entry {
        id,
        meta: EntryMeta {
            reason,
            agency: Agency::new(agency).unwrap(),
            listed_at: Timestamp(listed_at),
            expires_at: expires_at.map(Timestamp),
        },
    }
}

/// `agency`'s submission of `ops`, signed by `signer`, sequence number `n`
/// of the vectors (`T0 * 1_000_000 + n`), as the centre carries it when it
/// accepted it at `accepted_at`.
fn carried(
    agency: &str,
    signer: &SecretKey,
    n: u64,
    accepted_at: u64,
    ops: Vec<SubmissionOp>,
) -> CarriedSubmission {
    let submission = Submission {
        list: list(),
        agency: Agency::new(agency).unwrap(),
        sequence: NonZeroU64::new(T0 * 1_000_000 + n).unwrap(),
        created_at: Timestamp(accepted_at - 60),
        urgent: false,
        ops,
        extensions: vec![],
    };
    CarriedSubmission {
        accepted_at: Timestamp(accepted_at),
        file: submission.sign(&[signer]).unwrap(),
    }
}

/// Delta `version` made at `created_at`: `ops` on the list `held`, carrying
/// `carried`, with the state digest of the result, signed by root 1's
/// publish key.
fn delta(
    version: u64,
    created_at: u64,
    held: &[Entry],
    ops: Vec<Op>,
    carried: Vec<CarriedSubmission>,
) -> Delta {
    let state = ListState::of(&after_ops(held, &ops));
    Delta {
        list: list(),
        version: Version::new(version).unwrap(),
        created_at: Timestamp(created_at),
        ops,
        state,
        submissions: carried,
        overrides: vec![],
        extensions: vec![],
    }
}

fn signed(delta: &Delta) -> Vec<u8> {
    delta.sign(&[&key(2)]).unwrap()
}

/// The check `apply-registered` under `roots` and the agency registry,
/// after the deltas `before`.
fn registered(roots: &str, before: &[&str]) -> String {
    let mut check = format!("apply-registered {roots} {REGISTRY}");
    for file in before {
        check.push(' ');
        check.push_str(file);
    }
    check
}

/// `payload`, a document's without extensions, with one of `tag` holding
/// `data`: a field a later revision added, as FORMAT.md describes it.
fn with_extension(payload: &[u8], tag: u16, data: Vec<u8>) -> Vec<u8> {
    let mut payload = payload.to_vec();
    assert_eq!(payload.pop(), Some(0), "no extensions");
    payload.extend(encode(&vec![wire::Extension { tag, data }]));
    payload
}

/// The authorisation vectors. Version 1 carries th-aoc's submission listing
/// three identifiers (one expiring an hour after `T0`); each version 2 is
/// applied after it, a day later. `root1` is `valid/root-1.root`.
pub(super) fn cases(c: &mut Cases, root1: &TrustRoot) {
    let (stranger, aoc, dsi) = (key(5), key(7), key(9));
    let r1 = "valid/root-1.root";
    let registered = |before: &[&str]| registered(r1, before);

    // Version 1: th-aoc's listings, accepted a minute before the delta.
    let accepted1 = T0 - 60;
    let asked1 = vec![
        listing(number("78"), Reason::SCAM_CALL, None),
        listing(number("79"), Reason::SCAM_CALL, Some(T0 + 3600)),
        listing(domain("scam.example"), Reason::PHISHING, None),
    ];
    let aoc1 = carried("th-aoc", &aoc, 1, accepted1, asked1.clone());
    let held1 = vec![
        entry(number("78"), Reason::SCAM_CALL, "th-aoc", accepted1, None),
        entry(
            number("79"),
            Reason::SCAM_CALL,
            "th-aoc",
            accepted1,
            Some(T0 + 3600),
        ),
        entry(
            domain("scam.example"),
            Reason::PHISHING,
            "th-aoc",
            accepted1,
            None,
        ),
    ];
    let adds1: Vec<Op> = held1.iter().cloned().map(Op::Add).collect();
    let version1 = delta(1, T0, &[], adds1.clone(), vec![aoc1.clone()]);

    // Extension tag 2 as FORMAT.md describes it: the delta without it, its
    // (empty) extension list replaced by one of tag 2.
    let bare = Delta {
        submissions: vec![],
        overrides: vec![],
        ..version1.clone()
    }
    .encode_payload()
    .unwrap();
    let with_extension = |data| with_extension(&bare, SUBMISSIONS_EXTENSION, data);
    let carried_wire = encode(&vec![WireCarried {
        accepted_at: accepted1,
        file: aoc1.file.clone(),
    }]);
    let payload1 = version1.encode_payload().unwrap();
    assert_eq!(
        with_extension(carried_wire.clone()),
        payload1,
        "FORMAT.md's delta extension tag 2"
    );
    assert_eq!(Delta::decode_payload(&payload1).unwrap(), version1);
    let d1 = "valid/authority-1.delta";
    let delta1 = signed(&version1);
    c.add("W5", d1, &registered(&[]), "ok", &delta1);
    c.add(
        "W2",
        d1,
        &format!("delta {r1} 0"),
        "!Authority.NoRegistry",
        &delta1,
    );
    let publish = key(2);
    c.add(
        "E1",
        "payload/submissions-extension-empty.delta",
        &format!("delta {r1} 0"),
        "!Malformed.Invalid",
        &seal(DocType::Delta, &with_extension(vec![0]), &[&publish]),
    );
    let mut trailing = carried_wire;
    trailing.push(0);
    c.add(
        "E1",
        "payload/submissions-extension-trailing-byte.delta",
        &format!("delta {r1} 0"),
        "!Malformed.NonCanonical",
        &seal(DocType::Delta, &with_extension(trailing), &[&publish]),
    );

    // W2, W3: carried submissions that do not verify, or overlap.
    // Each breaks the one rule it is named after: the delta makes what the
    // carried submissions would ask for if they verified.
    let refused1 = |c: &mut Cases, rule, file: &str, expected: &str, carried| {
        c.add(
            rule,
            file,
            &registered(&[]),
            expected,
            &signed(&delta(1, T0, &[], adds1.clone(), carried)),
        );
    };
    refused1(
        c,
        "W2",
        "authority/carried-by-stranger-key.delta",
        "!Authority.Submission.UnknownKey",
        vec![carried("th-aoc", &stranger, 1, accepted1, asked1.clone())],
    );
    let mut changed = aoc1.clone();
    changed.file[envelope::HEADER_LEN + 3] ^= 1;
    refused1(
        c,
        "W2",
        "authority/carried-payload-byte-changed.delta",
        "!Authority.Submission.BadSignature",
        vec![changed],
    );
    let late = T0 + 1;
    let late_adds = held1
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.meta.listed_at = Timestamp(late);
            Op::Add(e)
        })
        .collect();
    c.add(
        "W2",
        "authority/accepted-after-delta.delta",
        &registered(&[]),
        "!Authority.AcceptedAfterDelta",
        &signed(&delta(
            1,
            T0,
            &[],
            late_adds,
            vec![carried("th-aoc", &aoc, 1, late, asked1.clone())],
        )),
    );
    // th-dsi's key is revoked from T0 + 10 days: judged at acceptance.
    let revoked_at = T0 + 10 * DAY;
    let dsi_listing = entry(number("77"), Reason::SCAM_CALL, "th-dsi", revoked_at, None);
    c.add(
        "W2",
        "authority/carried-key-revoked-at-acceptance.delta",
        &registered(&[]),
        "!Authority.Submission.Unauthorised.KeyRevoked",
        &signed(&delta(
            1,
            revoked_at,
            &[],
            vec![Op::Add(dsi_listing)],
            vec![carried(
                "th-dsi",
                &dsi,
                1,
                revoked_at,
                vec![listing(number("77"), Reason::SCAM_CALL, None)],
            )],
        )),
    );
    refused1(
        c,
        "W3",
        "authority/identifier-named-twice.delta",
        "!Authority.NamedTwice",
        vec![
            aoc1.clone(),
            carried(
                "th-aoc",
                &aoc,
                2,
                accepted1,
                vec![listing(number("78"), Reason::SCAM_CALL, None)],
            ),
        ],
    );

    // W1: a delta dated before registry version 1 (issued at T0 - 1 day) is
    // the labels' history, not judged; every delta after a judged one is.
    let early = T0 - 2 * DAY;
    let labelled = entry(number("78"), Reason::SCAM_CALL, "th-aoc", early, None);
    let before = "valid/authority-1-before-registry.delta";
    c.add(
        "W1",
        before,
        &registered(&[]),
        "ok",
        &signed(&delta(
            1,
            early,
            &[],
            vec![Op::Add(labelled.clone())],
            vec![],
        )),
    );
    c.add(
        "W1",
        "authority/removal-after-registry-without-submission.delta",
        &registered(&[before]),
        "!Refused.Authority.Unauthorised",
        &signed(&delta(
            2,
            T0,
            std::slice::from_ref(&labelled),
            vec![Op::Remove(number("78"), None)],
            vec![],
        )),
    );
    c.add(
        "W1",
        "authority/backdated-removal-without-submission.delta",
        &registered(&["valid/authority-1.delta"]),
        "!Refused.Authority.Unauthorised",
        &signed(&delta(
            2,
            early,
            &held1,
            vec![Op::Remove(number("78"), None)],
            vec![],
        )),
    );

    // Version 2, a day later, after version 1.
    let day = T0 + DAY;
    let accepted2 = day - 60;
    let after1 = registered(&[d1]);
    let version2 = |c: &mut Cases, rule, file: &str, expected: &str, ops, carried| {
        c.add(
            rule,
            file,
            &after1,
            expected,
            &signed(&delta(2, day, &held1, ops, carried)),
        );
    };
    version2(
        c,
        "W5",
        "valid/authority-2-own-removal.delta",
        "ok",
        vec![Op::Remove(number("78"), None)],
        vec![carried(
            "th-aoc",
            &aoc,
            2,
            accepted2,
            vec![removal(number("78"))],
        )],
    );
    version2(
        c,
        "W5",
        "valid/authority-2-asked-unchanged.delta",
        "ok",
        vec![],
        vec![carried(
            "th-aoc",
            &aoc,
            2,
            accepted2,
            vec![listing(number("78"), Reason::SCAM_CALL, None)],
        )],
    );
    version2(
        c,
        "W4",
        "authority/replayed-submission.delta",
        "!Refused.Authority.Replayed",
        vec![],
        vec![aoc1.clone()],
    );
    version2(
        c,
        "W5",
        "authority/removal-by-another-agency.delta",
        "!Refused.Authority.Refused.OwnedByAnother",
        vec![Op::Remove(number("78"), None)],
        vec![carried(
            "th-dsi",
            &dsi,
            1,
            accepted2,
            vec![removal(number("78"))],
        )],
    );
    let new_listing = |reason| entry(number("70"), reason, "th-aoc", accepted2, None);
    version2(
        c,
        "W5",
        "authority/add-not-as-asked.delta",
        "!Refused.Authority.NotAsked",
        vec![Op::Add(new_listing(Reason::FRAUD))],
        vec![carried(
            "th-aoc",
            &aoc,
            2,
            accepted2,
            vec![listing(number("70"), Reason::SCAM_CALL, None)],
        )],
    );
    version2(
        c,
        "W5",
        "authority/carried-add-unmade.delta",
        "!Refused.Authority.Unmade",
        vec![Op::Add(new_listing(Reason::SCAM_CALL))],
        vec![carried(
            "th-aoc",
            &aoc,
            2,
            accepted2,
            vec![
                listing(number("70"), Reason::SCAM_CALL, None),
                listing(number("71"), Reason::SCAM_CALL, None),
            ],
        )],
    );
    version2(
        c,
        "W6",
        "authority/removal-without-submission.delta",
        "!Refused.Authority.Unauthorised",
        vec![Op::Remove(number("78"), None)],
        vec![],
    );
    version2(
        c,
        "W6",
        "authority/add-in-agency-name.delta",
        "!Refused.Authority.Unauthorised",
        vec![Op::Add(entry(
            number("77"),
            Reason::SCAM_CALL,
            "th-dsi",
            day,
            None,
        ))],
        vec![],
    );
    version2(
        c,
        "W6",
        "authority/agency-listing-moved-to-label.delta",
        "!Refused.Authority.Unauthorised",
        vec![
            Op::Remove(number("78"), Some(Agency::new("th-aoc").unwrap())),
            Op::Add(entry(
                number("78"),
                Reason::SCAM_CALL,
                "centre-desk",
                accepted1,
                None,
            )),
        ],
        vec![],
    );
    version2(
        c,
        "W6",
        "valid/authority-2-expired-removal.delta",
        "ok",
        vec![Op::Remove(number("79"), None)],
        vec![],
    );
    version2(
        c,
        "W6",
        "valid/authority-2-label.delta",
        "ok",
        vec![Op::Add(entry(
            number("77"),
            Reason::SCAM_CALL,
            "centre-desk",
            day,
            None,
        ))],
        vec![],
    );
    override_cases(c, root1, &held1);
    snapshot_sequences(c);
    snapshot_past_overrides(c);
    snapshot_origins(c, &held1, &aoc1);
    snapshot_override_updates(c, &held1, &aoc1);
    two_agency_cases(c, &held1);
}

/// One identifier listed by two agencies (format 2): version 2, a day after
/// `valid/authority-1.delta` (which lists `held1`), carries th-aoc's and
/// th-dsi's submissions each listing `+66812345676` (W3 keys on the
/// listing); each version 3, two days after version 1, changes one or both
/// of those listings.
fn two_agency_cases(c: &mut Cases, held1: &[Entry]) {
    let (aoc, dsi) = (key(7), key(9));
    let r1 = "valid/root-1.root";
    let (day, d1) = (T0 + DAY, "valid/authority-1.delta");
    let accepted2 = day - 60;
    let shared = number("76");
    let listed = |agency| entry(shared.clone(), Reason::SCAM_CALL, agency, accepted2, None);
    let (by_aoc, by_dsi) = (listed("th-aoc"), listed("th-dsi"));
    let asked = vec![listing(shared.clone(), Reason::SCAM_CALL, None)];
    let both = delta(
        2,
        day,
        held1,
        vec![Op::Add(by_aoc.clone()), Op::Add(by_dsi.clone())],
        vec![
            carried("th-aoc", &aoc, 2, accepted2, asked.clone()),
            carried("th-dsi", &dsi, 1, accepted2, asked),
        ],
    );
    let d2 = "valid/authority-2-two-agencies.delta";
    c.add("W3", d2, &registered(r1, &[d1]), "ok", &signed(&both));

    let held2 = after_ops(held1, &both.ops);
    let (day2, before) = (T0 + 2 * DAY, [d1, d2]);
    let accepted3 = day2 - 60;
    let aoc_removal = || carried("th-aoc", &aoc, 3, accepted3, vec![removal(shared.clone())]);
    let remove =
        |agency: Option<&Entry>| Op::Remove(shared.clone(), agency.map(|e| e.meta.agency.clone()));
    let version3 = |c: &mut Cases, rule, file: &str, expected: &str, ops| {
        c.add(
            rule,
            file,
            &registered(r1, &before),
            expected,
            &signed(&delta(3, day2, &held2, ops, vec![aoc_removal()])),
        );
    };
    version3(
        c,
        "W5",
        "valid/authority-3-one-agency-removal.delta",
        "ok",
        vec![remove(Some(&by_aoc))],
    );
    version3(
        c,
        "W6",
        "authority/removal-of-other-agency-listing.delta",
        "!Refused.Authority.Unauthorised",
        vec![remove(Some(&by_dsi))],
    );
    version3(
        c,
        "W6",
        "authority/whole-removal-asked-by-one-agency.delta",
        "!Refused.Authority.Refused.OwnedByAnother",
        vec![remove(None)],
    );

    // An override removing both listings, made an hour before version 3,
    // signed by the override keys `0a` and `0b`.
    let judges = [key(0x0a), key(0x0b)];
    let upheld = decision(day2 - 3600, vec![named(&by_aoc), named(&by_dsi)]);
    let wire_listing = |e: &Entry| WireListing {
        kind: e.id.kind().code(),
        value: e.id.as_str().into(),
        agency: e.meta.agency.as_str().into(),
        listed_at: e.meta.listed_at.0,
    };
    let wire_override = |removals: Vec<WireListing>| WireOverride {
        list: LIST.into(),
        made_at: upheld.made_at.0,
        why: upheld.why.0,
        note: upheld.note.clone(),
        removals,
        extensions: vec![],
    };
    assert_eq!(
        upheld.encode_payload().unwrap(),
        encode(&wire_override(vec![
            wire_listing(&by_aoc),
            wire_listing(&by_dsi)
        ])),
        "FORMAT.md's override: two agencies' listings of one identifier"
    );
    let overriding = |c: &mut Cases, rule, file: &str, expected: &str, removals| {
        let file_bytes = seal(
            DocType::Override,
            &encode(&wire_override(removals)),
            &[&judges[0], &judges[1]],
        );
        let doc = Delta {
            overrides: vec![file_bytes],
            ..delta(
                3,
                day2,
                &held2,
                vec![remove(Some(&by_aoc)), remove(Some(&by_dsi))],
                vec![],
            )
        };
        c.add(
            rule,
            file,
            &registered(OVERRIDE_ROOTS, &before),
            expected,
            &signed(&doc),
        );
    };
    overriding(
        c,
        "W7",
        "valid/authority-3-override-two-agencies.delta",
        "ok",
        vec![wire_listing(&by_aoc), wire_listing(&by_dsi)],
    );
    overriding(
        c,
        "OV2",
        "authority/override-agencies-not-ascending.delta",
        "!Authority.Override.Malformed.Invalid",
        vec![wire_listing(&by_dsi), wire_listing(&by_aoc)],
    );
    overriding(
        c,
        "OV2",
        "authority/override-listing-twice.delta",
        "!Authority.Override.Malformed.Invalid",
        vec![wire_listing(&by_aoc), wire_listing(&by_aoc)],
    );
}

/// Root 1 naming the override keys `0a`-`0c`, two of which must sign.
const OVERRIDE_ROOTS: &str = "valid/root-1-override-keys.root";

/// The listing `entry` as an override names it.
fn named(entry: &Entry) -> ListingRef {
    ListingRef {
        id: entry.id.clone(),
        agency: entry.meta.agency.clone(),
        listed_at: entry.meta.listed_at,
    }
}

/// The override of the vectors, made at `made_at`, removing `removals`.
fn decision(made_at: u64, removals: Vec<ListingRef>) -> Override {
    Override {
        list: list(),
        made_at: Timestamp(made_at),
        why: RemovalReason::APPEAL_UPHELD,
        note: "Appeal 2026/114 upheld by the review board".into(),
        removals,
        updates: vec![],
        extensions: vec![],
    }
}

/// The override vectors (OV1, W7): version 2, a day after `valid/authority-1.delta`
/// (which lists `held1`), removes th-aoc's listing of `+66812345678` without a
/// submission of th-aoc, carrying an override (extension tag 3) made an hour
/// before. The keys of seeds `0a`, `0b` and `0c` are the override keys of
/// `valid/root-1-override-keys.root` (root 1 with root extension tag 1), two
/// of which must sign.
fn override_cases(c: &mut Cases, root1: &TrustRoot, held1: &[Entry]) {
    let judges = [key(0x0a), key(0x0b), key(0x0c)];
    let root = TrustRoot {
        override_keys: Some(key_set(&[&judges[0], &judges[1], &judges[2]], 2)),
        ..root1.clone()
    };
    let mut by_id = judges.iter().map(SecretKey::public_key).collect::<Vec<_>>();
    by_id.sort_by_key(PublicKey::id);
    let tag1 = encode(&vec![wire::KeySet {
        keys: by_id.iter().map(PublicKey::to_bytes).collect(),
        threshold: 2,
    }]);
    let payload = root.encode_payload().unwrap();
    assert_eq!(
        with_extension(
            &root1.encode_payload().unwrap(),
            OVERRIDE_KEYS_EXTENSION,
            tag1
        ),
        payload,
        "root extension tag 1: a list of one key set"
    );
    let roots = OVERRIDE_ROOTS;
    c.add("OV1", roots, "pin", "ok", &root.sign(&[&key(1)]).unwrap());

    let (day, d1) = (T0 + DAY, "valid/authority-1.delta");
    let named = named(&held1[0]);
    let decision = |made_at, named: &ListingRef| decision(made_at, vec![named.clone()]);
    let upheld = decision(day - 3600, &named);
    let removal = |overrides| Delta {
        overrides,
        ..delta(
            2,
            day,
            held1,
            vec![Op::Remove(named.id.clone(), None)],
            vec![],
        )
    };
    let valid = removal(vec![upheld.sign(&[&judges[0], &judges[1]]).unwrap()]);
    let bare = removal(vec![]).encode_payload().unwrap();
    assert_eq!(
        with_extension(&bare, OVERRIDES_EXTENSION, encode(&valid.overrides)),
        valid.encode_payload().unwrap(),
        "delta extension tag 3: the override files"
    );
    let valid = signed(&valid);
    let file = "valid/authority-2-override.delta";
    c.add("W7", file, &registered(roots, &[d1]), "ok", &valid);
    c.add(
        "W7",
        file,
        &format!("delta {roots} 1"),
        "!Authority.NoRegistry",
        &valid,
    );
    c.add(
        "OV1",
        file,
        &registered("valid/root-1.root", &[d1]),
        "!Authority.Override.NoOverrideKeys",
        &valid,
    );
    let refused = |c: &mut Cases,
                   rule,
                   file: &str,
                   expected: &str,
                   decision: &Override,
                   by: &[&SecretKey]| {
        c.add(
            rule,
            file,
            &registered(roots, &[d1]),
            expected,
            &signed(&removal(vec![decision.sign(by).unwrap()])),
        );
    };
    refused(
        c,
        "OV1",
        "authority/override-signed-by-publish-key.delta",
        "!Authority.Override.UnknownKey",
        &upheld,
        &[&key(2)],
    );
    refused(
        c,
        "OV1",
        "authority/override-signed-by-one-override-key.delta",
        "!Authority.Override.ThresholdNotMet",
        &upheld,
        &[&judges[2]],
    );
    refused(
        c,
        "W7",
        "authority/override-made-after-delta.delta",
        "!Authority.OverrideAfterDelta",
        // Later than the delta by more than the clock skew allowed (300 s).
        &decision(day + 301, &named),
        &[&judges[0], &judges[1]],
    );
    let stale = ListingRef {
        listed_at: Timestamp(named.listed_at.0 - DAY),
        ..named.clone()
    };
    refused(
        c,
        "W7",
        "authority/override-of-stale-listing.delta",
        "!Refused.Authority.NotOverridden",
        &decision(day - 3600, &stale),
        &[&judges[0], &judges[1]],
    );
    override_update_cases(c, &judges, held1, &upheld);
    c.add(
        "E1",
        "payload/overrides-extension-empty.delta",
        &format!("delta {roots} 1"),
        "!Malformed.Invalid",
        &seal(
            DocType::Delta,
            &with_extension(&bare, OVERRIDES_EXTENSION, vec![0]),
            &[&key(2)],
        ),
    );
}

/// The override update vectors (OV4, W7): version 2, a day after
/// `valid/authority-1.delta`, gives th-aoc's listing of `+66812345678`
/// (`held1[0]`) another reason and an expiry in thirty days, without a
/// submission of th-aoc, carrying an override made an hour before whose
/// extension tag 1 holds that update and that removes nothing; `upheld` is
/// the removal vectors' override of the same listing.
fn override_update_cases(
    c: &mut Cases,
    judges: &[SecretKey; 3],
    held1: &[Entry],
    upheld: &Override,
) {
    let (day, roots) = (T0 + DAY, OVERRIDE_ROOTS);
    let held = &held1[0];
    let update = ListingUpdate {
        listing: named(held),
        from_reason: held.meta.reason,
        from_expires_at: held.meta.expires_at,
        reason: Reason::FRAUD,
        expires_at: Some(Timestamp(day + 30 * DAY)),
    };
    let court = Override {
        note: "Court order 2026/31: term shortened".into(),
        removals: vec![],
        updates: vec![update.clone()],
        ..upheld.clone()
    };
    let wire_update = WireUpdate::of(&update);
    let bare = WireOverride {
        list: LIST.into(),
        made_at: court.made_at.0,
        why: court.why.0,
        note: court.note.clone(),
        removals: vec![],
        extensions: vec![],
    };
    let payload = court.encode_payload().unwrap();
    assert_eq!(
        with_extension(
            &encode(&bare),
            UPDATES_EXTENSION,
            encode(&vec![wire_update])
        ),
        payload,
        "override extension tag 1: the updates"
    );
    let by = [&judges[0], &judges[1]];
    let updated = Entry {
        id: held.id.clone(),
        meta: update.meta(),
    };
    let delta_of = |ops: Vec<Op>, file: Vec<u8>| {
        signed(&Delta {
            overrides: vec![file],
            ..delta(2, day, held1, ops, vec![])
        })
    };
    let d1 = "valid/authority-1.delta";
    let check = registered(roots, &[d1]);
    let file = seal(DocType::Override, &payload, &by);
    c.add(
        "W7",
        "valid/authority-2-override-update.delta",
        &check,
        "ok",
        &delta_of(vec![Op::Update(updated.clone())], file.clone()),
    );
    let mut otherwise = updated.clone();
    otherwise.meta.expires_at = Some(Timestamp(day + 60 * DAY));
    c.add(
        "W7",
        "authority/override-update-not-as-decided.delta",
        &check,
        "!Refused.Authority.NotUpdatedAsDecided",
        &delta_of(vec![Op::Update(otherwise)], file.clone()),
    );
    // Decided over another entry than the one held: the agency changed its
    // listing since, or the update is carried again (W7, OV4).
    let changed = Override {
        updates: vec![ListingUpdate {
            from_reason: Reason(held.meta.reason.0 + 1),
            ..update.clone()
        }],
        ..court.clone()
    };
    c.add(
        "W7",
        "authority/override-update-from-another-entry.delta",
        &check,
        "!Refused.Authority.NotUpdatedAsDecided",
        &delta_of(
            vec![Op::Update(updated.clone())],
            seal(DocType::Override, &changed.encode_payload().unwrap(), &by),
        ),
    );
    c.add(
        "W7",
        "authority/override-update-unmade.delta",
        &check,
        "!Refused.Authority.NotUpdatedAsDecided",
        &delta_of(vec![], file),
    );
    // The listing removed by the override's removals and updated by its
    // extension, and the extension written empty: both malformed (OV4).
    let both = with_extension(
        &upheld.encode_payload().unwrap(),
        UPDATES_EXTENSION,
        encode(&vec![WireUpdate::of(&update)]),
    );
    let empty = with_extension(&encode(&bare), UPDATES_EXTENSION, vec![0]);
    // An expiry not after the override was made: a removal written as an
    // update (OV4).
    let expired = with_extension(
        &encode(&bare),
        UPDATES_EXTENSION,
        encode(&vec![WireUpdate::of(&ListingUpdate {
            expires_at: Some(court.made_at),
            ..update.clone()
        })]),
    );
    for (file, payload) in [
        (
            "authority/override-removes-and-updates-a-listing.delta",
            both,
        ),
        ("authority/override-updates-extension-empty.delta", empty),
        (
            "authority/override-update-expires-before-made.delta",
            expired,
        ),
    ] {
        c.add(
            "OV4",
            file,
            &check,
            "!Authority.Override.Malformed.Invalid",
            &delta_of(
                vec![Op::Update(updated.clone())],
                seal(DocType::Override, &payload, &by),
            ),
        );
    }
}

/// Snapshot extension tag 1 (W4): the agency sequences applied up to the
/// snapshot's version, as FORMAT.md writes them, and its form refused.
/// Version 1 of the list, empty, made at T0: the snapshot the tail's
/// vectors fill.
fn empty_snapshot() -> Snapshot {
    Snapshot {
        list: list(),
        version: Version::FIRST,
        created_at: Timestamp(T0),
        entries: vec![],
        state: ListState::of([]),
        sequences: BTreeMap::new(),
        overrides: vec![],
        origins: vec![],
        extensions: vec![],
    }
}

fn snapshot_sequences(c: &mut Cases) {
    #[derive(serde::Serialize)]
    struct WireSequence {
        key: [u8; 32],
        sequence: u64,
    }
    let (r1, publish) = ("valid/root-1.root", key(2));
    let (aoc, dsi) = (key(7).public_key().id(), key(9).public_key().id());
    let snapshot = Snapshot {
        sequences: [(aoc, 3), (dsi, 1)].into(),
        ..empty_snapshot()
    };
    let payload = snapshot.encode_payload().unwrap();
    let bare = Snapshot {
        sequences: BTreeMap::new(),
        ..snapshot.clone()
    }
    .encode_payload()
    .unwrap();
    let with_sequences = |sequences: &[(KeyId, u64)]| {
        let mut payload = bare.clone();
        assert_eq!(payload.pop(), Some(0), "no extensions");
        let wire: Vec<WireSequence> = sequences
            .iter()
            .map(|(key, sequence)| WireSequence {
                key: key.0,
                sequence: *sequence,
            })
            .collect();
        payload.extend(encode(&vec![wire::Extension {
            tag: SEQUENCES_EXTENSION,
            data: encode(&wire),
        }]));
        payload
    };
    let mut ascending = [(aoc, 3), (dsi, 1)];
    ascending.sort();
    assert_eq!(
        with_sequences(&ascending),
        payload,
        "FORMAT.md's snapshot extension tag 1"
    );
    let check = format!("snapshot {r1} 0");
    c.add(
        "W4",
        "valid/snapshot-1-sequences.snapshot",
        &check,
        "ok",
        &seal(DocType::Snapshot, &payload, &[&publish]),
    );
    let (low, high) = (ascending[0], ascending[1]);
    c.add(
        "W4",
        "payload/snapshot-sequences-not-ascending.snapshot",
        &check,
        "!Malformed.Invalid",
        &seal(
            DocType::Snapshot,
            &with_sequences(&[high, low]),
            &[&publish],
        ),
    );
    c.add(
        "E1",
        "payload/snapshot-sequences-empty.snapshot",
        &check,
        "!Malformed.Invalid",
        &seal(DocType::Snapshot, &with_sequences(&[]), &[&publish]),
    );
}

/// Snapshot extension tag 3 (W8): version 1 as a snapshot, th-aoc's three
/// listings with the submission they come from, checked by a reader that
/// holds the agency registry (`snapshot-registered ROOTS REGISTRY`); and
/// what W8 refuses.
fn snapshot_origins(c: &mut Cases, held1: &[Entry], aoc1: &CarriedSubmission) {
    #[derive(serde::Serialize)]
    struct WireOrigin {
        version: u64,
        accepted_at: u64,
        file: Vec<u8>,
    }
    #[derive(serde::Serialize)]
    struct WireSequence {
        key: [u8; 32],
        sequence: u64,
    }
    let (r1, publish) = ("valid/root-1.root", key(2));
    let aoc_key = key(7).public_key().id();
    let origin = |carried: &CarriedSubmission| Origin {
        version: Version::FIRST,
        submission: carried.clone(),
    };
    let of = |entries: Vec<Entry>, sequence: Option<u64>, origins: Vec<Origin>| Snapshot {
        state: ListState::of(&entries),
        entries,
        sequences: sequence.map(|s| (aoc_key, s)).into_iter().collect(),
        origins,
        ..empty_snapshot()
    };
    let sequence = T0 * 1_000_000 + 1;
    let traced = of(held1.to_vec(), Some(sequence), vec![origin(aoc1)]);
    let payload = traced.encode_payload().unwrap();
    // The payload as FORMAT.md writes it: th-aoc's sequence (tag 1), then
    // `origins` in the order given (tag 3).
    let with_origins = |origins: &[&Origin]| {
        let mut payload = of(held1.to_vec(), None, vec![]).encode_payload().unwrap();
        assert_eq!(payload.pop(), Some(0), "no extensions");
        let wire: Vec<WireOrigin> = origins
            .iter()
            .map(|o| WireOrigin {
                version: o.version.get(),
                accepted_at: o.submission.accepted_at.0,
                file: o.submission.file.clone(),
            })
            .collect();
        payload.extend(encode(&vec![
            wire::Extension {
                tag: SEQUENCES_EXTENSION,
                data: encode(&vec![WireSequence {
                    key: aoc_key.0,
                    sequence,
                }]),
            },
            wire::Extension {
                tag: ORIGINS_EXTENSION,
                data: encode(&wire),
            },
        ]));
        payload
    };
    let expected = with_origins(&[&origin(aoc1)]);
    assert_eq!(expected, payload, "FORMAT.md's snapshot extension tag 3");
    let registered = format!("snapshot-registered {r1} {REGISTRY}");
    let sealed = |snapshot: &Snapshot| snapshot.sign(&[&publish]).unwrap();
    let file = "valid/snapshot-1-origins.snapshot";
    c.add("W8", file, &registered, "ok", &sealed(&traced));
    c.add(
        "W8",
        file,
        &format!("snapshot {r1} 0"),
        "!Authority.OriginsWithoutRegistry",
        &sealed(&traced),
    );
    c.add(
        "W8",
        "authority/snapshot-without-origins.snapshot",
        &registered,
        "!Authority.Untraced",
        &sealed(&of(held1.to_vec(), Some(sequence), vec![])),
    );
    let mut changed = held1.to_vec();
    changed[0].meta.reason = Reason::FRAUD;
    c.add(
        "W8",
        "authority/snapshot-entry-not-as-asked.snapshot",
        &registered,
        "!Authority.NotAsAsked",
        &sealed(&of(changed, Some(sequence), vec![origin(aoc1)])),
    );
    let mut backdated = held1.to_vec();
    backdated[0].meta.listed_at = Timestamp(T0 - 120);
    c.add(
        "W8",
        "authority/snapshot-listing-backdated.snapshot",
        &registered,
        "!Authority.Untraced",
        &sealed(&of(backdated, Some(sequence), vec![origin(aoc1)])),
    );
    c.add(
        "W8",
        "authority/snapshot-origin-after-sequence.snapshot",
        &registered,
        "!Authority.OriginAfterSequence",
        &sealed(&of(held1.to_vec(), None, vec![origin(aoc1)])),
    );
    let mut changed = aoc1.clone();
    changed.file[envelope::HEADER_LEN + 3] ^= 1;
    c.add(
        "W8",
        "authority/snapshot-origin-payload-byte-changed.snapshot",
        &registered,
        "!Authority.Origin.BadSignature",
        &sealed(&of(held1.to_vec(), Some(sequence), vec![origin(&changed)])),
    );
    // Two origins, written in the wrong order: refused as malformed.
    let second = carried(
        "th-aoc",
        &key(7),
        2,
        T0 - 30,
        vec![listing(number("80"), Reason::SCAM_CALL, None)],
    );
    let mut both = [origin(aoc1), origin(&second)];
    both.sort_by_key(|o| Sha256::of(&o.submission.file));
    let reversed = with_origins(&[&both[1], &both[0]]);
    c.add(
        "W8",
        "payload/snapshot-origins-not-ascending.snapshot",
        &registered,
        "!Malformed.Invalid",
        &seal(DocType::Snapshot, &reversed, &[&publish]),
    );
}

/// The W8 side of override updates: version 2 as a snapshot, made a day
/// after version 1, holding th-aoc's listing of `held1[0]` (traced to
/// `aoc1`) as a past override of version 2, signed by two of the judges of
/// `valid/root-1-override-keys.root`, updated it; and what W8 refuses.
fn snapshot_override_updates(c: &mut Cases, held1: &[Entry], aoc1: &CarriedSubmission) {
    let (judges, publish) = ([key(0x0a), key(0x0b)], key(2));
    let held = &held1[0];
    let update = ListingUpdate {
        listing: named(held),
        from_reason: held.meta.reason,
        from_expires_at: held.meta.expires_at,
        reason: Reason::FRAUD,
        expires_at: Some(Timestamp(T0 + 30 * DAY)),
    };
    let court = |updates: Vec<ListingUpdate>| Override {
        note: "Court order 2026/31: term shortened".into(),
        updates,
        ..decision(T0 + DAY - 3600, vec![])
    };
    let updated = |meta: EntryMeta| {
        let mut entries = held1.to_vec();
        entries[0].meta = meta;
        entries
    };
    let snapshot = |entries: Vec<Entry>, version: u64, file: Vec<u8>| {
        Snapshot {
            version: Version::new(2).unwrap(),
            created_at: Timestamp(T0 + DAY),
            state: ListState::of(&entries),
            entries,
            sequences: [(key(7).public_key().id(), T0 * 1_000_000 + 1)].into(),
            overrides: vec![PastOverride {
                version: Version::new(version).unwrap(),
                file,
            }],
            origins: vec![Origin {
                version: Version::FIRST,
                submission: aoc1.clone(),
            }],
            ..empty_snapshot()
        }
        .sign(&[&publish])
        .unwrap()
    };
    let by_judges = court(vec![update.clone()])
        .sign(&[&judges[0], &judges[1]])
        .unwrap();
    let check = format!("snapshot-registered {OVERRIDE_ROOTS} {REGISTRY}");
    let cases = [
        (
            "valid/snapshot-2-override-update.snapshot",
            "ok",
            snapshot(updated(update.meta()), 2, by_judges.clone()),
        ),
        // The entry th-aoc asked for, not the board's update of it since.
        (
            "authority/snapshot-entry-not-as-overridden.snapshot",
            "!Authority.NotAsOverridden",
            snapshot(held1.to_vec(), 2, by_judges.clone()),
        ),
        // An update of th-aoc's listing of another time names this one no
        // more: the listing is th-aoc's word (accepted_at == listed_at).
        (
            "valid/snapshot-2-override-update-of-another-listing.snapshot",
            "ok",
            snapshot(
                held1.to_vec(),
                2,
                court(vec![ListingUpdate {
                    listing: ListingRef {
                        listed_at: Timestamp(held.meta.listed_at.0 - 1),
                        ..named(held)
                    },
                    ..update.clone()
                }])
                .sign(&[&judges[0], &judges[1]])
                .unwrap(),
            ),
        ),
        // Carried by the version of the origin naming the listing (W3).
        (
            "authority/snapshot-overridden-twice-in-a-version.snapshot",
            "!Authority.OverriddenTwice",
            snapshot(updated(update.meta()), 1, by_judges.clone()),
        ),
        // Signed by the publish key, which is no override key (OV1).
        (
            "authority/snapshot-past-override-update-by-publish-key.snapshot",
            "!Authority.PastOverrideUnsigned.UnknownKey",
            snapshot(
                updated(update.meta()),
                2,
                court(vec![update.clone()]).sign(&[&publish]).unwrap(),
            ),
        ),
        // Decided over another entry than th-aoc's add left.
        (
            "authority/snapshot-override-update-from-another-entry.snapshot",
            "!Authority.OverriddenFromAnother",
            snapshot(
                updated(update.meta()),
                2,
                court(vec![ListingUpdate {
                    from_reason: Reason::MALWARE,
                    ..update.clone()
                }])
                .sign(&[&judges[0], &judges[1]])
                .unwrap(),
            ),
        ),
    ];
    for (file, expected, bytes) in cases {
        c.add("W8", file, &check, expected, &bytes);
    }
}

/// Snapshot extension tag 2: the overrides applied up to the snapshot's
/// version, each with the version that applied it (W7), ascending by
/// version, then by the file's SHA-256.
fn snapshot_past_overrides(c: &mut Cases) {
    #[derive(serde::Serialize)]
    struct WirePastOverride {
        version: u64,
        file: Vec<u8>,
    }
    let (r1, publish, judge) = ("valid/root-1.root", key(2), key(11));
    let decision = |note: &str| Override {
        list: list(),
        made_at: Timestamp(T0),
        why: RemovalReason::APPEAL_UPHELD,
        note: note.into(),
        removals: vec![ListingRef {
            id: number("78"),
            agency: Agency::new("th-aoc").unwrap(),
            listed_at: Timestamp(T0 - DAY),
        }],
        updates: vec![],
        extensions: vec![],
    };
    let files = [decision("appeal 1"), decision("appeal 2")].map(|d| d.sign(&[&judge]).unwrap());
    let mut past: Vec<PastOverride> = files
        .iter()
        .map(|file| PastOverride {
            version: Version::FIRST,
            file: file.clone(),
        })
        .collect();
    past.sort_by_key(|o| Sha256::of(&o.file));
    let snapshot = Snapshot {
        overrides: past.clone(),
        ..empty_snapshot()
    };
    let payload = snapshot.encode_payload().unwrap();
    let with_past = |past: &[&PastOverride]| {
        let mut payload = Snapshot {
            overrides: vec![],
            ..snapshot.clone()
        }
        .encode_payload()
        .unwrap();
        assert_eq!(payload.pop(), Some(0), "no extensions");
        let wire: Vec<WirePastOverride> = past
            .iter()
            .map(|o| WirePastOverride {
                version: o.version.get(),
                file: o.file.clone(),
            })
            .collect();
        payload.extend(encode(&vec![wire::Extension {
            tag: PAST_OVERRIDES_EXTENSION,
            data: encode(&wire),
        }]));
        payload
    };
    assert_eq!(
        with_past(&[&past[0], &past[1]]),
        payload,
        "FORMAT.md's snapshot extension tag 2"
    );
    let check = format!("snapshot {r1} 0");
    c.add(
        "W7",
        "valid/snapshot-1-past-overrides.snapshot",
        &check,
        "ok",
        &seal(DocType::Snapshot, &payload, &[&publish]),
    );
    c.add(
        "W7",
        "payload/snapshot-past-overrides-not-ascending.snapshot",
        &check,
        "!Malformed.Invalid",
        &seal(
            DocType::Snapshot,
            &with_past(&[&past[1], &past[0]]),
            &[&publish],
        ),
    );
}

/// The refusal as the vector files name it, after `Authority.`
/// (`Submission.UnknownKey`, `Refused.OwnedByAnother`, `Override.UnknownKey`).
pub(super) fn refusal(error: &AuthorityError) -> String {
    match error {
        AuthorityError::Submission { source, .. } => {
            format!("Submission.{}", submissions::refusal(source))
        }
        AuthorityError::Refused { source, .. } => {
            format!("Refused.{}", variant_of(&format!("{source:?}")))
        }
        AuthorityError::Override { source, .. } => format!("Override.{}", verify_refusal(source)),
        AuthorityError::Origin { source, .. } => {
            format!("Origin.{}", submissions::refusal(source))
        }
        AuthorityError::PastOverrideUnsigned { source, .. } => {
            format!("PastOverrideUnsigned.{}", verify_refusal(source))
        }
        other => variant_of(&format!("{other:?}")).to_owned(),
    }
}
