//! Acknowledgement vectors (`docs/FORMAT.md`, "Acknowledgement (type 7)",
//! AK1-AK3): the centre's receipt for a submission, checked against a trust
//! root chain. The check is `acknowledgement ROOTS`.

use blocklist_core::document::*;

use super::{encode, key, seal, Cases, LIST, T0};

/// The wire struct of an acknowledgement, written from docs/FORMAT.md.
#[derive(serde::Serialize, Clone, Debug)]
struct Wire {
    list: String,
    submission_sha256: [u8; 32],
    agency: String,
    sequence: u64,
    accepted_at: u64,
    version: u64,
    extensions: Vec<super::wire::Extension>,
}

/// An acknowledgement of a th-aoc submission, to be in version 3. The
/// digest is of a fixed text: the check verifies the receipt alone, and
/// tying it to a submission file is a comparison of digests.
fn base() -> Wire {
    Wire {
        list: LIST.into(),
        submission_sha256: blocklist_core::Sha256::of(b"a th-aoc submission").0,
        agency: "th-aoc".into(),
        sequence: T0 * 1_000_000,
        accepted_at: T0 + 60,
        version: 3,
        extensions: vec![],
    }
}

/// The acknowledgement vectors: valid, then refused.
pub(super) fn cases(c: &mut Cases) {
    let (root_key, publish_key, stranger) = (key(1), key(2), key(5));
    let r1 = "valid/root-1.root";
    let check = format!("acknowledgement {r1}");
    let ack = |wire: &Wire, signers: &[&blocklist_core::SecretKey]| {
        seal(DocType::Acknowledgement, &encode(wire), signers)
    };
    c.add(
        "AK2",
        "valid/acknowledgement-1.acknowledgement",
        &check,
        "ok",
        &ack(&base(), &[&publish_key]),
    );
    c.add(
        "K1",
        "valid/acknowledgement-1.acknowledgement",
        "acknowledgement valid/root-1.root+valid/root-2.root",
        "!UnknownKey",
        &ack(&base(), &[&publish_key]),
    );
    c.add(
        "AK2",
        "acknowledgement/signed-by-root-key.acknowledgement",
        &check,
        "!UnknownKey",
        &ack(&base(), &[&root_key]),
    );
    c.add(
        "AK2",
        "acknowledgement/signed-by-stranger.acknowledgement",
        &check,
        "!UnknownKey",
        &ack(&base(), &[&stranger]),
    );
    let mut other_list = base();
    other_list.list = "another-list".into();
    c.add(
        "G1",
        "acknowledgement/other-list.acknowledgement",
        &check,
        "!WrongList",
        &ack(&other_list, &[&publish_key]),
    );
    let mut version_0 = base();
    version_0.version = 0;
    c.add(
        "AK1",
        "acknowledgement/version-0.acknowledgement",
        &check,
        "!Malformed.Invalid",
        &ack(&version_0, &[&publish_key]),
    );
    let mut sequence_0 = base();
    sequence_0.sequence = 0;
    c.add(
        "AK1",
        "acknowledgement/sequence-0.acknowledgement",
        &check,
        "!Malformed.Invalid",
        &ack(&sequence_0, &[&publish_key]),
    );
    let mut bad_agency = base();
    bad_agency.agency = "th aoc".into();
    c.add(
        "AK1",
        "acknowledgement/agency-not-an-id.acknowledgement",
        &check,
        "!Malformed.Invalid",
        &ack(&bad_agency, &[&publish_key]),
    );
    let mut payload = encode(&base());
    payload.push(0);
    c.add(
        "P1",
        "acknowledgement/trailing-byte.acknowledgement",
        &check,
        "!Malformed.NonCanonical",
        &seal(DocType::Acknowledgement, &payload, &[&publish_key]),
    );
}
