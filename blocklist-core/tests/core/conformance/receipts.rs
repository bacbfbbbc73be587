//! Receipt vectors (`docs/FORMAT.md`, "Receipt (type 9)", RC1-RC2): a
//! replica's signed statement of the version it applied, checked against
//! the replica keys a centre registered. The check is `receipt KEYS`.

use blocklist_core::document::*;
use blocklist_core::verify::{verify_receipt, ReceiptError};

use super::{encode, key, seal, variant_of, Cases, LIST, T0};

/// The wire struct of a receipt, written from docs/FORMAT.md.
#[derive(serde::Serialize, Clone, Debug)]
struct Wire {
    list: String,
    version: u64,
    state_digest: [u8; 32],
    state_entries: u64,
    log: Option<WireLog>,
    applied_at: u64,
    replica: [u8; 32],
    extensions: Vec<super::wire::Extension>,
}

#[derive(serde::Serialize, Clone, Debug)]
struct WireLog {
    size: u64,
    root: [u8; 32],
}

/// The replica key of the vectors: seed `0d`.
const REPLICA: u8 = 0x0d;

/// Replica `0d`'s receipt of version 2. The state and log are fixed bytes:
/// the check verifies the receipt alone; whether they are what the centre
/// published is the centre's question (RC3).
fn base() -> Wire {
    Wire {
        list: LIST.into(),
        version: 2,
        state_digest: blocklist_core::Sha256::of(b"the state at version 2").0,
        state_entries: 7,
        log: Some(WireLog {
            size: 5,
            root: blocklist_core::Sha256::of(b"the log's root").0,
        }),
        applied_at: T0 + 30,
        replica: key(REPLICA).public_key().id().0,
        extensions: vec![],
    }
}

/// The receipt vectors: valid, then refused.
pub(super) fn cases(c: &mut Cases) {
    let (replica, stranger) = (key(REPLICA), key(5));
    let check = format!("receipt {REPLICA:02x}");
    let receipt = |wire: &Wire, signers: &[&blocklist_core::SecretKey]| {
        seal(DocType::Receipt, &encode(wire), signers)
    };
    c.add(
        "RC2",
        "valid/receipt-2.receipt",
        &check,
        "ok",
        &receipt(&base(), &[&replica]),
    );
    let mut no_log = base();
    no_log.log = None;
    c.add(
        "RC1",
        "valid/receipt-2-no-log.receipt",
        &check,
        "ok",
        &receipt(&no_log, &[&replica]),
    );
    c.add(
        "RC2",
        "valid/receipt-2.receipt",
        "receipt 05",
        "!UnknownReplica",
        &receipt(&base(), &[&replica]),
    );
    c.add(
        "RC2",
        "receipt/signed-by-stranger.receipt",
        &check,
        "!UnknownReplica",
        &receipt(&base(), &[&stranger]),
    );
    let mut signers = [&replica, &stranger];
    signers.sort_by_key(|k| k.public_key().id());
    c.add(
        "RC2",
        "receipt/two-signatures.receipt",
        &check,
        "!SignatureCount",
        &receipt(&base(), &signers),
    );
    let mut other_replica = base();
    other_replica.replica = stranger.public_key().id().0;
    c.add(
        "RC2",
        "receipt/names-another-replica.receipt",
        &check,
        "!ReplicaMismatch",
        &receipt(&other_replica, &[&replica]),
    );
    let mut other_list = base();
    other_list.list = "another-list".into();
    c.add(
        "G1",
        "receipt/other-list.receipt",
        &check,
        "!WrongList",
        &receipt(&other_list, &[&replica]),
    );
    let mut version_0 = base();
    version_0.version = 0;
    c.add(
        "RC1",
        "receipt/version-0.receipt",
        &check,
        "!Malformed.Invalid",
        &receipt(&version_0, &[&replica]),
    );
    let mut payload = encode(&base());
    // The log's Option tag (after list, version 2, digest, entries 7): 2 is no tag.
    let tag = 1 + LIST.len() + 1 + 32 + 1;
    assert_eq!(payload[tag], 1);
    payload[tag] = 2;
    c.add(
        "RC1",
        "receipt/log-tag-2.receipt",
        &check,
        "!Malformed.Payload",
        &seal(DocType::Receipt, &payload, &[&replica]),
    );
    let mut payload = encode(&base());
    payload.push(0);
    c.add(
        "P1",
        "receipt/trailing-byte.receipt",
        &check,
        "!Malformed.NonCanonical",
        &seal(DocType::Receipt, &payload, &[&replica]),
    );
}

/// Runs a `receipt KEYS` check: the replica keys registered are those of
/// the seed bytes KEYS (hex, joined by `+`).
pub(super) fn run(keys: &str, bytes: &[u8]) -> String {
    let registered: Vec<_> = keys
        .split('+')
        .map(|seed| key(u8::from_str_radix(seed, 16).expect("a seed byte in hex")).public_key())
        .collect();
    let list = ListId::new(LIST).unwrap();
    match verify_receipt(bytes, &list, |id| {
        registered.iter().find(|k| k.id() == *id).copied()
    }) {
        Ok(_) => "ok".to_owned(),
        Err(ReceiptError::Malformed { source }) => {
            format!("!Malformed.{}", variant_of(&format!("{source:?}")))
        }
        Err(other) => format!("!{}", variant_of(&format!("{other:?}"))),
    }
}
