//! Submission vectors (`docs/FORMAT.md`, "Submission (type 6)", U1-U6):
//! agencies' signed submissions checked against an agency registry signed
//! under root 1. The check is `submission ROOTS REGISTRY NOW`.

use blocklist_core::document::*;
use blocklist_core::verify::{verify_submission, SubmissionError};
use blocklist_core::*;

use super::{encode, key, registries, seal, variant_of, Cases, DAY, LIST, T0};

/// The registry every submission vector is checked against.
pub(super) const REGISTRY: &str = "valid/registry-1-agencies.registry";

/// The wire structs of a submission, written from docs/FORMAT.md.
mod wire {
    use serde::Serialize;

    #[derive(Serialize, Clone, Debug)]
    pub struct Group {
        pub kind: u16,
        pub reason: u16,
        pub expires_at: Option<u64>,
        pub values: Vec<String>,
    }

    #[derive(Serialize, Clone, Debug)]
    pub struct Removals {
        pub kind: u16,
        pub why: u16,
        pub values: Vec<String>,
    }

    #[derive(Serialize, Clone, Debug)]
    pub struct Submission {
        pub list: String,
        pub agency: String,
        pub sequence: u64,
        pub created_at: u64,
        pub urgent: u8,
        pub adds: Vec<Group>,
        pub updates: Vec<Group>,
        pub removes: Vec<Removals>,
        pub extensions: Vec<super::super::wire::Extension>,
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| v.to_string()).collect()
}

/// th-aoc's base submission: two numbers and a domain added, one number
/// updated, one removed as cleared.
fn base() -> wire::Submission {
    wire::Submission {
        list: LIST.into(),
        agency: "th-aoc".into(),
        sequence: T0 * 1_000_000,
        created_at: T0,
        urgent: 0,
        adds: vec![
            wire::Group {
                kind: 2,
                reason: 2,
                expires_at: None,
                values: strings(&["+12015550123", "+66812345678"]),
            },
            wire::Group {
                kind: 3,
                reason: 4,
                expires_at: Some(T0 + 90 * DAY),
                values: strings(&["scam.example"]),
            },
        ],
        updates: vec![wire::Group {
            kind: 2,
            reason: 3,
            expires_at: Some(T0 + 30 * DAY),
            values: strings(&["+66812345679"]),
        }],
        removes: vec![wire::Removals {
            kind: 2,
            why: 1,
            values: strings(&["+66812345670"]),
        }],
        extensions: vec![],
    }
}

/// The submission vectors: the registry, then submissions valid and refused.
pub(super) fn cases(c: &mut Cases) {
    let (root_key, stranger) = (key(1), key(5));
    // The seeds of the registry vectors' agencies, and one more for th-dsi.
    let (bank_key, aoc_key, dsi_key) = (key(6), key(7), key(9));
    let agency = |id: &str, name: &str, kinds: Vec<Kind>, key: &SecretKey| {
        AgencyEntry::new(
            Agency::new(id).unwrap(),
            name,
            kinds,
            vec![key.public_key()],
        )
        .unwrap()
    };
    let mut dsi = agency(
        "th-dsi",
        "Department of Special Investigation",
        vec![Kind::Number],
        &dsi_key,
    );
    dsi.revoke_key(&dsi_key.public_key().id(), Timestamp(T0 + 10 * DAY))
        .unwrap();
    let registry = Registry::new(
        ListId::new(LIST).unwrap(),
        Version::FIRST,
        Timestamp(T0 - DAY),
        vec![
            agency(
                "th-aoc",
                "Anti-Online Scam Centre",
                vec![Kind::Number, Kind::Domain],
                &aoc_key,
            ),
            agency(
                "bank-004",
                "Bank 004 fraud team",
                vec![Kind::Account],
                &bank_key,
            ),
            dsi,
        ],
        vec![],
    )
    .unwrap();
    let r1 = "valid/root-1.root";
    c.add(
        "U1",
        REGISTRY,
        &format!("registry {r1} -"),
        "ok",
        &registry.sign(&[&root_key]).unwrap(),
    );

    let check = |now: u64| format!("submission {r1} {REGISTRY} {now}");
    let submission = |c: &mut Cases,
                      rule,
                      file: &str,
                      expected: &str,
                      signers: &[&SecretKey],
                      edit: &dyn Fn(&mut wire::Submission)| {
        let mut doc = base();
        edit(&mut doc);
        c.add(
            rule,
            file,
            &check(T0),
            expected,
            &seal(DocType::Submission, &encode(&doc), signers),
        );
    };

    // The wire structs and the library agree.
    let payload = encode(&base());
    let library = Submission::decode_payload(&payload).expect("the base submission decodes");
    assert_eq!(
        library.encode_payload().unwrap(),
        payload,
        "FORMAT.md's wire structs"
    );
    let valid = seal(DocType::Submission, &payload, &[&aoc_key]);
    c.add(
        "U1",
        "valid/submission-th-aoc.submission",
        &check(T0),
        "ok",
        &valid,
    );
    c.add(
        "U1",
        "valid/submission-th-aoc.submission",
        &check(T0 + 29 * DAY),
        "ok",
        &valid,
    );

    let mut unsigned = valid[..valid.len() - 97].to_vec();
    unsigned.push(0);
    c.add(
        "U1",
        "submission/no-signature.submission",
        &check(T0),
        "!SignatureCount",
        &unsigned,
    );
    submission(
        c,
        "U1",
        "submission/two-signatures.submission",
        "!SignatureCount",
        &[&aoc_key, &bank_key],
        &|_| {},
    );
    submission(
        c,
        "U1",
        "submission/stranger-key.submission",
        "!UnknownKey",
        &[&stranger],
        &|_| {},
    );
    submission(
        c,
        "U1",
        "submission/names-another-agency.submission",
        "!AgencyMismatch",
        &[&bank_key],
        &|_| {},
    );
    submission(
        c,
        "U1",
        "submission/kind-out-of-scope.submission",
        "!Unauthorised.KindOutOfScope",
        &[&dsi_key],
        &|d| {
            d.agency = "th-dsi".into();
        },
    );
    let dsi_numbers = |d: &mut wire::Submission| {
        d.agency = "th-dsi".into();
        d.adds.truncate(1);
    };
    let dsi_bytes = {
        let mut doc = base();
        dsi_numbers(&mut doc);
        seal(DocType::Submission, &encode(&doc), &[&dsi_key])
    };
    let revoked = "valid/submission-th-dsi.submission";
    c.add("U1", revoked, &check(T0), "ok", &dsi_bytes);
    c.add(
        "U1",
        revoked,
        &check(T0 + 10 * DAY),
        "!Unauthorised.KeyRevoked",
        &dsi_bytes,
    );
    let mut changed = valid.clone();
    changed[envelope::HEADER_LEN + 3] ^= 1;
    c.add(
        "H3",
        "submission/payload-byte-changed.submission",
        &check(T0),
        "!BadSignature",
        &changed,
    );
    let mut as_delta = valid.clone();
    as_delta[5] = DocType::Delta.code();
    c.add(
        "H1",
        "submission/type-delta.submission",
        &check(T0),
        "!WrongDocument",
        &as_delta,
    );

    submission(
        c,
        "U2",
        "submission/other-list.submission",
        "!WrongList",
        &[&aoc_key],
        &|d| d.list = "other".into(),
    );
    submission(
        c,
        "U2",
        "submission/sequence-0.submission",
        "!Malformed.Invalid",
        &[&aoc_key],
        &|d| d.sequence = 0,
    );
    submission(
        c,
        "U2",
        "submission/urgent-byte-2.submission",
        "!Malformed.Payload",
        &[&aoc_key],
        &|d| d.urgent = 2,
    );
    submission(
        c,
        "U2",
        "submission/no-operations.submission",
        "!Empty",
        &[&aoc_key],
        &|d| {
            d.adds.clear();
            d.updates.clear();
            d.removes.clear();
        },
    );
    submission(
        c,
        "U3",
        "submission/groups-not-ascending.submission",
        "!Malformed.Invalid",
        &[&aoc_key],
        &|d| d.adds.swap(0, 1),
    );
    submission(
        c,
        "U3",
        "submission/values-not-ascending.submission",
        "!Malformed.Invalid",
        &[&aoc_key],
        &|d| d.adds[0].values.reverse(),
    );
    submission(
        c,
        "U3",
        "submission/empty-group.submission",
        "!Malformed.Invalid",
        &[&aoc_key],
        &|d| d.removes[0].values.clear(),
    );
    submission(
        c,
        "U3",
        "submission/added-and-removed.submission",
        "!Malformed.Invalid",
        &[&aoc_key],
        &|d| {
            d.removes[0].values = strings(&["+66812345678"]);
        },
    );
    submission(
        c,
        "U3",
        "submission/number-not-canonical.submission",
        "!Malformed.Identifier.NotCanonical",
        &[&aoc_key],
        &|d| {
            d.adds[0].values = strings(&["+12015550123", "0812345678"]);
        },
    );
    submission(
        c,
        "U4",
        "submission/expires-after-2106.submission",
        "!Malformed.Invalid",
        &[&aoc_key],
        &|d| {
            d.updates[0].expires_at = Some(u64::from(u32::MAX));
        },
    );
    let mut soon = base();
    soon.updates[0].expires_at = Some(T0 + 1);
    let soon = seal(DocType::Submission, &encode(&soon), &[&aoc_key]);
    let expires = "valid/submission-expires-a-second-after.submission";
    c.add("U5", expires, &check(T0), "ok", &soon);
    c.add("U5", expires, &check(T0 + 1), "!ExpiresOnArrival", &soon);
    submission(
        c,
        "U6",
        "valid/submission-unknown-why.submission",
        "ok",
        &[&aoc_key],
        &|d| d.removes[0].why = 99,
    );
}

/// Runs a `submission ROOTS REGISTRY NOW` check: "ok" or "!" and the refusal.
pub(super) fn run(chain: &str, registry: &str, now: &str, bytes: &[u8]) -> String {
    let verifier = registries(chain, registry);
    let registry = verifier.registry().expect("the vectors' registry verifies");
    let list = ListId::new(LIST).unwrap();
    match verify_submission(bytes, registry, &list, Timestamp(now.parse().unwrap())) {
        Ok(_) => "ok".to_owned(),
        Err(e) => format!("!{}", refusal(&e)),
    }
}

/// The refusal as the vector files name it (`Unauthorised.KeyRevoked`).
pub(super) fn refusal(error: &SubmissionError) -> String {
    match error {
        SubmissionError::Malformed { source } => match source {
            DecodeError::Identifier { source, .. } => {
                format!(
                    "Malformed.Identifier.{}",
                    variant_of(&format!("{source:?}"))
                )
            }
            other => format!("Malformed.{}", variant_of(&format!("{other:?}"))),
        },
        SubmissionError::Unauthorised { source, .. } => {
            format!("Unauthorised.{}", variant_of(&format!("{source:?}")))
        }
        other => variant_of(&format!("{other:?}")).to_owned(),
    }
}

#[test]
fn a_submission_is_decoded_only_after_its_signature_checks_out() {
    // A stranger's submission with a payload that does not decode: refused
    // for the key, before the payload is read.
    let bytes = seal(DocType::Submission, b"\xff\xff", &[&key(5)]);
    let ran = run("valid/root-1.root", REGISTRY, &T0.to_string(), &bytes);
    assert_eq!(ran, "!UnknownKey");
}
