//! One identifier's history in a synthetic log, for the proof bundle's
//! tests and benchmark: th-aoc lists a number by a signed submission,
//! updates it, and two of three judges remove it by override, at versions
//! spread over a log of `versions` deltas whose other records are
//! synthetic (no delta is made for them: the log holds only their
//! records). Each carried delta also lists `others` other numbers, by the
//! same submission, so that its size is a real delta's.

use std::num::NonZeroU64;

use blocklist_core::document::*;
use blocklist_core::log::checkpoint::{origin, Checkpoint, SignedCheckpoint};
use blocklist_core::log::tree::{leaf_hash, root_of};
use blocklist_core::log::Record;
use blocklist_core::proof::{LoggedFile, LoggedRecord, ProofBundle};
use blocklist_core::*;

/// The history's parts.
pub struct History {
    /// The trust root a reader holds.
    pub root: Vec<u8>,
    /// The bundle of the number's whole history.
    pub bundle: ProofBundle,
    /// The log's leaf hashes (for bundles of other parts of the history).
    pub leaves: Vec<Sha256>,
    /// The versions that listed, updated and removed it.
    pub changed: [Version; 3],
}

/// The number the history is of.
pub fn number() -> Identifier {
    Identifier::from_canonical(Kind::Number, "+66812345678").expect("canonical")
}

/// The history in a log of `versions` deltas (at least 3), each carried one
/// changing `others` other numbers too.
pub fn history(versions: u64, others: usize) -> History {
    made(versions, others, false)
}

/// [`history`], but the update is the centre's forgery: no submission asks
/// for it, and its delta is dated before the agency registry, as if made
/// when the listing was still a label's.
#[allow(dead_code)] // The tests' alone: the benchmark shares this file.
pub fn history_with_backdated_update(versions: u64) -> History {
    made(versions, 0, true)
}

fn made(versions: u64, others: usize, backdated_update: bool) -> History {
    assert!(versions >= 3);
    let key = |seed: u8| SecretKey::from_seed(&[seed; 32]);
    let (root_key, publish, aoc) = (key(1), key(2), key(3));
    let judges = [key(4), key(5), key(6)];
    let list = ListId::new("th-test").expect("list");
    let t0 = Timestamp(1_780_000_000);
    let set = |keys: &[&SecretKey], threshold| {
        KeySet::new(keys.iter().map(|k| k.public_key()).collect(), threshold).expect("key set")
    };
    let root = TrustRoot {
        list: list.clone(),
        version: Version::FIRST,
        issued_at: t0,
        expires_at: Timestamp(u32::MAX.into()),
        root_keys: set(&[&root_key], 1),
        publish_keys: set(&[&publish], 1),
        override_keys: Some(set(&[&judges[0], &judges[1], &judges[2]], 2)),
        extensions: vec![],
    }
    .sign(&[&root_key])
    .expect("root");
    let agency = Agency::new("th-aoc").expect("agency");
    let registry = Registry::new(
        list.clone(),
        Version::FIRST,
        t0,
        vec![AgencyEntry::new(
            agency.clone(),
            "Anti-Online Scam Centre",
            vec![Kind::Number],
            vec![aoc.public_key()],
        )
        .expect("agency")],
        vec![],
    )
    .expect("registry")
    .sign(&[&root_key])
    .expect("registry");

    let id = number();
    let changed =
        [versions / 10 + 1, versions / 2 + 1, versions].map(|v| Version::new(v).expect("not 0"));
    let at = |v: Version| t0.plus(v.get());
    let others: Vec<Identifier> = (0..others as u64)
        .map(|i| {
            Identifier::from_canonical(Kind::Number, &format!("+669{:08}", i)).expect("canonical")
        })
        .collect();
    let listed = EntryMeta {
        reason: Reason::SCAM_CALL,
        agency: agency.clone(),
        listed_at: at(changed[0]),
        expires_at: None,
    };
    let updated = EntryMeta {
        reason: Reason::FRAUD,
        ..listed.clone()
    };
    // Each of th-aoc's deltas: the number and the others, asked by one submission.
    let agency_delta = |version: Version,
                        sequence: u64,
                        op: fn(ListingRequest) -> SubmissionOp,
                        meta: &EntryMeta,
                        make: fn(Entry) -> Op| {
        let request = |id: &Identifier| ListingRequest {
            id: id.clone(),
            reason: meta.reason,
            expires_at: None,
        };
        let submission = Submission {
            list: list.clone(),
            agency: agency.clone(),
            sequence: NonZeroU64::new(sequence).expect("not 0"),
            created_at: at(version),
            urgent: false,
            ops: std::iter::once(&id)
                .chain(&others)
                .map(|i| op(request(i)))
                .collect(),
            extensions: vec![],
        }
        .sign(&[&aoc])
        .expect("submission");
        Delta {
            list: list.clone(),
            version,
            created_at: at(version),
            ops: std::iter::once(&id)
                .chain(&others)
                .map(|i| {
                    make(Entry {
                        id: i.clone(),
                        meta: EntryMeta {
                            listed_at: at(changed[0]),
                            ..meta.clone()
                        },
                    })
                })
                .collect(),
            state: ListState::default(),
            submissions: vec![CarriedSubmission {
                accepted_at: at(version),
                file: submission,
            }],
            overrides: vec![],
            extensions: vec![],
        }
        .sign(&[&publish])
        .expect("delta")
    };
    let decision = Override {
        list: list.clone(),
        made_at: at(changed[2]),
        why: RemovalReason::APPEAL_UPHELD,
        note: "Appeal 2026/114 upheld by the review board".to_owned(),
        removals: vec![ListingRef {
            id: id.clone(),
            agency: agency.clone(),
            listed_at: listed.listed_at,
        }],
        updates: vec![],
        extensions: vec![],
    }
    .sign(&[&judges[0], &judges[2]])
    .expect("override");
    let removal = Delta {
        list: list.clone(),
        version: changed[2],
        created_at: at(changed[2]),
        ops: vec![Op::Remove(id.clone(), Some(agency.clone()))],
        state: ListState::default(),
        submissions: vec![],
        overrides: vec![decision],
        extensions: vec![],
    }
    .sign(&[&publish])
    .expect("delta");
    let update = if backdated_update {
        Delta {
            list: list.clone(),
            version: changed[1],
            created_at: Timestamp(t0.0 - 1),
            ops: vec![Op::Update(Entry {
                id: id.clone(),
                meta: updated.clone(),
            })],
            state: ListState::default(),
            submissions: vec![],
            overrides: vec![],
            extensions: vec![],
        }
        .sign(&[&publish])
        .expect("delta")
    } else {
        agency_delta(changed[1], 2, SubmissionOp::Update, &updated, Op::Update)
    };
    let deltas = [
        agency_delta(changed[0], 1, SubmissionOp::Add, &listed, Op::Add),
        update,
        removal,
    ];

    // The log: the root, the registry, then one record per version.
    let record = |doc, version, bytes: &[u8]| Record {
        doc,
        file: FileRef {
            version,
            sha256: Sha256::of(bytes),
            size: bytes.len() as u64,
        },
    };
    let mut records = vec![
        record(DocType::Root, Version::FIRST, &root),
        record(DocType::Registry, Version::FIRST, &registry),
    ];
    for v in 1..=versions {
        let version = Version::new(v).expect("not 0");
        records.push(match changed.iter().position(|c| *c == version) {
            Some(i) => record(DocType::Delta, version, &deltas[i]),
            None => record(DocType::Delta, version, &v.to_le_bytes()),
        });
    }
    let leaves: Vec<Sha256> = records.iter().map(|r| leaf_hash(&r.to_bytes())).collect();
    let checkpoint = SignedCheckpoint::sign(
        Checkpoint {
            origin: origin(&list),
            size: leaves.len() as u64,
            root: root_of(&leaves),
        },
        &[&publish as &dyn Signer],
    )
    .expect("checkpoint");
    let logged =
        |index: u64, file: Vec<u8>| LoggedFile::new(index, &leaves, file).expect("in the log");
    let last = leaves.len() as u64 - 1;
    let bundle = ProofBundle {
        list,
        id,
        at: changed[2],
        at_record: LoggedRecord {
            index: last,
            path: blocklist_core::log::tree::inclusion_proof(last, &leaves).expect("in the log"),
            sha256: records[last as usize].file.sha256,
            size: records[last as usize].file.size,
        },
        roots: vec![logged(0, root.clone())],
        registries: vec![logged(1, registry)],
        deltas: deltas
            .into_iter()
            .zip(changed)
            .map(|(file, v)| logged(v.get() + 1, file))
            .collect(),
        checkpoint: checkpoint.as_bytes().to_vec(),
    };
    History {
        root,
        bundle,
        leaves,
        changed,
    }
}
