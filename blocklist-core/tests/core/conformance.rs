//! The conformance vectors of `blocklist-core/conformance/` (see its README):
//! identifiers to canonical forms, canonical text a document may carry, domain
//! matches, and signed documents that must verify or be refused. The tests
//! read the committed files, as another implementation would, and check this
//! one against them; the signed documents are generated here from fixed seed
//! keys, and a test keeps the committed files equal to what the generator
//! makes (`BLOCKLIST_BLESS=1` rewrites them).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod acknowledgements;
mod authorisations;
mod receipts;
mod submissions;

use blocklist_core::document::envelope::{self, HEADER_LEN};
use blocklist_core::document::*;
use blocklist_core::index::{IndexBuilder, LookupIndex};
use blocklist_core::normalise::{check_canonical, normalise};
use blocklist_core::store::{Store, StoreError};
use blocklist_core::verify::{Verified, Verifier, VerifyError};
use blocklist_core::*;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use serde::Serialize;
use sha2::{Digest as _, Sha512};

/// Rules whose vectors state what this code does not do yet (none now). A
/// mismatch on one of these is printed, not failed; a listed rule whose
/// vectors all pass fails the test, so that the list is shortened as the
/// code catches up.
const PENDING: &[&str] = &[];

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

/// One data line of a vector file: its line number and tab-separated fields.
struct Row {
    line: usize,
    fields: Vec<String>,
}

fn read_rows(name: &str, columns: usize) -> Vec<Row> {
    let path = conformance_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows: Vec<Row> = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .map(|(i, line)| {
            let fields: Vec<String> = line.split('\t').map(str::to_owned).collect();
            assert_eq!(
                fields.len(),
                columns,
                "{name}:{}: expected {columns} tab-separated fields, got {line:?}",
                i + 1
            );
            Row {
                line: i + 1,
                fields,
            }
        })
        .collect();
    assert!(!rows.is_empty(), "{name} holds no vectors");
    rows
}

/// Decodes the escapes of the text columns (see the README).
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let (decoded, used) = if let Some(t) = tail.strip_prefix("u{") {
            let end = t.find('}').expect("\\u{ is closed");
            let code = u32::from_str_radix(&t[..end], 16).expect("hex code point");
            (
                char::from_u32(code).expect("a scalar value").to_string(),
                2 + end + 1,
            )
        } else if let Some(t) = tail.strip_prefix("rep{") {
            let count_end = t.find('}').expect("\\rep{N} is closed");
            let count: usize = t[..count_end].parse().expect("a repeat count");
            let body = t[count_end + 1..]
                .strip_prefix('{')
                .expect("\\rep{N}{TEXT}");
            let body_end = body.find('}').expect("\\rep{N}{TEXT} is closed");
            (
                body[..body_end].repeat(count),
                4 + count_end + 1 + 1 + body_end + 1,
            )
        } else {
            let decoded = match tail.chars().next() {
                Some('s') => " ",
                Some('t') => "\t",
                Some('\\') => "\\",
                other => panic!("unknown escape \\{other:?} in {text:?}"),
            };
            (decoded.to_owned(), 1)
        };
        out.push_str(&decoded);
        rest = &tail[used..];
    }
    out.push_str(rest);
    out
}

/// The variant name a `Debug` rendering starts with (`WrongLength { .. }` -> `WrongLength`).
fn variant_of(debug: &str) -> &str {
    let end = debug
        .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .unwrap_or(debug.len());
    &debug[..end]
}

/// The refusal as the vector files name it: the error's variant, then the
/// variant of the error it wraps (`Malformed.Identifier.NotCanonical`).
fn verify_refusal(error: &VerifyError) -> String {
    match error {
        VerifyError::Malformed { source, .. } => match source {
            DecodeError::Identifier { source, .. } => {
                format!(
                    "Malformed.Identifier.{}",
                    variant_of(&format!("{source:?}"))
                )
            }
            other => format!("Malformed.{}", variant_of(&format!("{other:?}"))),
        },
        VerifyError::Authority { source } => {
            format!("Authority.{}", authorisations::refusal(source))
        }
        other => variant_of(&format!("{other:?}")).to_owned(),
    }
}

fn store_refusal(error: &StoreError) -> String {
    match error {
        StoreError::Refused { source, .. } => format!("Refused.{}", verify_refusal(source)),
        other => variant_of(&format!("{other:?}")).to_owned(),
    }
}

/// Mismatches by rule, checked against [`PENDING`].
#[derive(Default)]
struct Outcome {
    failures: BTreeMap<String, Vec<String>>,
    rules: BTreeMap<String, usize>,
}

impl Outcome {
    fn check(&mut self, rule: &str, at: String, expected: &str, got: &str) {
        *self.rules.entry(rule.to_owned()).or_default() += 1;
        if expected != got {
            self.failures
                .entry(rule.to_owned())
                .or_default()
                .push(format!("{at}: expected {expected}, got {got}"));
        }
    }

    fn finish(self, file: &str) {
        let mut failed = Vec::new();
        for (rule, failures) in &self.failures {
            let pending = PENDING.contains(&rule.as_str());
            for failure in failures {
                let tag = if pending { "pending" } else { "FAILED" };
                eprintln!("{file} [{rule}, {tag}] {failure}");
            }
            if !pending {
                failed.push(rule.clone());
            }
        }
        let caught_up: Vec<&str> = PENDING
            .iter()
            .copied()
            .filter(|rule| self.rules.contains_key(*rule) && !self.failures.contains_key(*rule))
            .collect();
        assert!(
            failed.is_empty(),
            "{file}: rules {failed:?} have failing vectors"
        );
        assert!(
            caught_up.is_empty(),
            "{file}: every vector of {caught_up:?} passes now: take them off PENDING"
        );
    }
}

fn kind_named(name: &str) -> Kind {
    name.parse().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn identifier_vectors_normalise_to_their_canonical_form_or_named_refusal() {
    let mut outcome = Outcome::default();
    for row in read_rows("identifiers.tsv", 5) {
        let [rule, kind, region, input, expected] = &row.fields[..] else {
            unreachable!()
        };
        let rules = Rules {
            default_region: region.clone(),
        };
        let kind = kind_named(kind);
        let got = match normalise(kind, &unescape(input), &rules) {
            Ok(canonical) => {
                // A canonical form is a fixed point, and what a document may carry.
                let again = normalise(kind, &canonical, &rules).ok();
                let accepted = check_canonical(kind, &canonical).is_ok();
                if again.as_deref() == Some(canonical.as_str()) && accepted {
                    canonical
                } else {
                    format!("{canonical} (not a fixed point: {again:?}, accepted {accepted})")
                }
            }
            Err(e) => format!("!{}", variant_of(&format!("{e:?}"))),
        };
        let at = format!("identifiers.tsv:{} {input:?}", row.line);
        outcome.check(rule, at, expected, &got);
    }
    outcome.finish("identifiers.tsv");
}

#[test]
fn canonical_vectors_are_accepted_or_refused_as_document_content() {
    let mut outcome = Outcome::default();
    for row in read_rows("canonical.tsv", 4) {
        let [rule, code, text, expected] = &row.fields[..] else {
            unreachable!()
        };
        let kind = Kind::from_code(code.parse().expect("a u16 kind code"));
        let got = match Identifier::from_canonical(kind, &unescape(text)) {
            Ok(_) => "ok".to_owned(),
            Err(e) => format!("!{}", variant_of(&format!("{e:?}"))),
        };
        let at = format!("canonical.tsv:{} {text:?}", row.line);
        outcome.check(rule, at, expected, &got);
    }
    outcome.finish("canonical.tsv");
}

#[test]
fn domain_match_vectors_match_the_expected_listed_entry() {
    let dir = tempfile::tempdir().unwrap();
    let now = Timestamp(1_760_000_000);
    let mut outcome = Outcome::default();
    for row in read_rows("matches.tsv", 4) {
        let [rule, listed, query, expected] = &row.fields[..] else {
            unreachable!()
        };
        let entries: Vec<(Kind, String, EntryMeta)> = listed
            .split(',')
            .map(|value| {
                let (value, expired) = match value.strip_prefix('~') {
                    Some(value) => (value, true),
                    None => (value, false),
                };
                let meta = EntryMeta {
                    reason: Reason::PHISHING,
                    agency: Agency::new("th-aoc").unwrap(),
                    listed_at: Timestamp(1_700_000_000),
                    expires_at: expired.then_some(now),
                };
                (Kind::Domain, value.to_owned(), meta)
            })
            .collect();
        let path = dir.path().join(format!("{}.idx", row.line));
        IndexBuilder::new(1, [0; 32], now)
            .seed(row.line as u64)
            .write(&path, || {
                entries.iter().map(|(k, v, m)| (*k, v.as_str(), m))
            })
            .unwrap();
        let index = LookupIndex::open(&path).unwrap();
        let got = index
            .lookup_canonical(Kind::Domain, query, now)
            .map_or("-".to_owned(), |hit| hit.matched.to_string());
        let at = format!("matches.tsv:{} {query:?} with {listed:?}", row.line);
        outcome.check(rule, at, expected, &got);
    }
    outcome.finish("matches.tsv");
}

// ---------------------------------------------------------------------------
// Signed documents

/// The list every document vector belongs to.
const LIST: &str = "conformance";
/// The time every document vector is made and checked at.
const T0: u64 = 1_760_000_000;
const DAY: u64 = 86_400;
/// `listed_at` of the entries.
const LISTED: u64 = T0 - 30 * DAY;

/// The key whose 32-byte seed is `n` repeated (see the README's key table).
fn key(n: u8) -> SecretKey {
    SecretKey::from_seed(&[n; 32])
}

/// The wire structs, written from docs/FORMAT.md rather than taken from the
/// library, so that a test also checks the document against the code: the
/// base delta encoded with them equals the library's encoding.
mod wire {
    use serde::Serialize;

    #[derive(Serialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
    pub struct Meta {
        pub reason: u16,
        pub agency: u32,
        pub listed_at: u64,
        pub expires_at: Option<u64>,
    }

    #[derive(Serialize, Clone, Debug)]
    pub struct Group {
        pub kind: u16,
        pub meta: Meta,
        pub values: Vec<String>,
    }

    #[derive(Serialize, Clone, Debug)]
    pub struct Keys {
        pub kind: u16,
        pub values: Vec<String>,
    }

    #[derive(Serialize, Clone, Debug)]
    pub struct Extension {
        pub tag: u16,
        pub data: Vec<u8>,
    }

    #[derive(Serialize, Clone, Debug)]
    pub struct Delta {
        pub list: String,
        pub version: u64,
        pub created_at: u64,
        pub state_digest: [u8; 32],
        pub state_entries: u64,
        pub agencies: Vec<String>,
        pub adds: Vec<Group>,
        pub updates: Vec<Group>,
        pub removes: Vec<Keys>,
        pub extensions: Vec<Extension>,
    }

    /// One agency's removed listings, in delta extension tag 4.
    #[derive(Serialize, Clone, Debug)]
    pub struct Removals {
        pub agency: String,
        pub keys: Vec<Keys>,
    }

    #[derive(Serialize, Clone, Debug)]
    pub struct Snapshot {
        pub list: String,
        pub version: u64,
        pub created_at: u64,
        pub state_digest: [u8; 32],
        pub state_entries: u64,
        pub agencies: Vec<String>,
        pub entries: Vec<Group>,
        pub extensions: Vec<Extension>,
    }

    #[derive(Serialize, Clone, Debug)]
    pub struct KeySet {
        pub keys: Vec<[u8; 32]>,
        pub threshold: u8,
    }

    #[derive(Serialize, Clone, Debug)]
    pub struct AgencyKey {
        pub key: [u8; 32],
        pub revoked_at: Option<u64>,
    }

    #[derive(Serialize, Clone, Debug)]
    pub struct Agency {
        pub id: String,
        pub name: String,
        pub kinds: Vec<u16>,
        pub keys: Vec<AgencyKey>,
        pub revoked_at: Option<u64>,
    }

    #[derive(Serialize, Clone, Debug)]
    pub struct Registry {
        pub list: String,
        pub version: u64,
        pub issued_at: u64,
        pub agencies: Vec<Agency>,
        pub extensions: Vec<Extension>,
    }

    #[derive(Serialize, Clone, Debug)]
    pub struct Root {
        pub list: String,
        pub version: u64,
        pub issued_at: u64,
        pub expires_at: u64,
        pub root_keys: KeySet,
        pub publish_keys: KeySet,
        pub extensions: Vec<Extension>,
    }
}

/// The canonical hash of each entry of `groups` under `agencies`, as
/// docs/FORMAT.md (S1) says, independently of the library.
fn entry_hashes(agencies: &[String], groups: &[wire::Group]) -> Vec<[u8; 32]> {
    let mut hashes = vec![];
    for group in groups {
        for value in &group.values {
            let agency = agencies[group.meta.agency as usize].as_bytes();
            let mut h = sha2::Sha256::new();
            h.update(b"blocklist entry v1\0");
            h.update(group.kind.to_le_bytes());
            h.update((value.len() as u32).to_le_bytes());
            h.update(value.as_bytes());
            h.update(group.meta.reason.to_le_bytes());
            h.update([agency.len() as u8]);
            h.update(agency);
            h.update(group.meta.listed_at.to_le_bytes());
            match group.meta.expires_at {
                None => h.update([0]),
                Some(t) => {
                    h.update([1]);
                    h.update(t.to_le_bytes());
                }
            }
            hashes.push(h.finalize().into());
        }
    }
    hashes
}

/// The state digest (format 3: LtHash16, S2) and count of `groups` under
/// `agencies`, computed as docs/FORMAT.md says, independently of the library.
fn digest_of(agencies: &[String], groups: &[wire::Group]) -> ([u8; 32], u64) {
    let hashes = entry_hashes(agencies, groups);
    let mut lanes = [0u16; 1024];
    for hash in &hashes {
        let mut xof = blake3::Hasher::new();
        xof.update(b"blocklist lthash16 element v1\0");
        xof.update(hash);
        let mut element = [0u8; 2048];
        xof.finalize_xof().fill(&mut element);
        for (lane, bytes) in lanes.iter_mut().zip(element.chunks_exact(2)) {
            *lane = lane.wrapping_add(u16::from_le_bytes([bytes[0], bytes[1]]));
        }
    }
    let mut h = sha2::Sha256::new();
    h.update(b"blocklist state v2\0");
    for lane in lanes {
        h.update(lane.to_le_bytes());
    }
    (h.finalize().into(), hashes.len() as u64)
}

/// The state digest of formats 1 and 2 (the lane sum, S3) of `groups`
/// under `agencies`, computed as docs/FORMAT.md says.
fn lane_sum_of(agencies: &[String], groups: &[wire::Group]) -> [u8; 32] {
    let mut lanes = [0u64; 4];
    for hash in entry_hashes(agencies, groups) {
        for (lane, bytes) in lanes.iter_mut().zip(hash.chunks_exact(8)) {
            *lane = lane.wrapping_add(u64::from_le_bytes(bytes.try_into().unwrap()));
        }
    }
    let mut digest = [0u8; 32];
    for (out, lane) in digest.chunks_exact_mut(8).zip(lanes) {
        out.copy_from_slice(&lane.to_le_bytes());
    }
    digest
}

fn meta(reason: u16, agency: u32, expires_at: Option<u64>) -> wire::Meta {
    wire::Meta {
        reason,
        agency,
        listed_at: LISTED,
        expires_at,
    }
}

fn group(kind: u16, meta: wire::Meta, values: &[&str]) -> wire::Group {
    wire::Group {
        kind,
        meta,
        values: values.iter().map(|v| v.to_string()).collect(),
    }
}

/// Version 1 of the list: every kind, an entry that has already expired
/// (still counted in the digest), and two groups told apart by expiry alone
/// (no expiry first).
fn base_delta() -> wire::Delta {
    let agencies = vec!["bank-004".to_owned(), "th-aoc".to_owned()];
    let adds = vec![
        group(
            1,
            meta(1, 0, Some(T0 + 30 * DAY)),
            &["GB82WEST12345698765432", "TH:004:1234567890"],
        ),
        group(2, meta(2, 1, None), &["+12015550123", "+66812345678"]),
        group(3, meta(4, 1, None), &["scam.example", "xn--fa-hia.de"]),
        group(3, meta(4, 1, Some(T0 - DAY)), &["expired.example"]),
        group(99, meta(0, 1, None), &["opaque value"]),
    ];
    let (state_digest, state_entries) = digest_of(&agencies, &adds);
    wire::Delta {
        list: LIST.into(),
        version: 1,
        created_at: T0,
        state_digest,
        state_entries,
        agencies,
        adds,
        updates: vec![],
        removes: vec![],
        extensions: vec![],
    }
}

/// Entries of wire groups, as the library holds them.
fn entries_of(agencies: &[String], groups: &[wire::Group]) -> Vec<Entry> {
    groups
        .iter()
        .flat_map(|g| {
            g.values.iter().map(move |v| Entry {
                id: Identifier::from_canonical(Kind::from_code(g.kind), v).unwrap(),
                meta: EntryMeta {
                    reason: Reason(g.meta.reason),
                    agency: Agency::new(&agencies[g.meta.agency as usize]).unwrap(),
                    listed_at: Timestamp(g.meta.listed_at),
                    expires_at: g.meta.expires_at.map(Timestamp),
                },
            })
        })
        .collect()
}

/// The list `held` after `ops`: one listing per identifier and agency, a
/// removal naming no agency taking every listing of its identifier.
fn after_ops(held: &[Entry], ops: &[Op]) -> Vec<Entry> {
    let mut after: BTreeMap<(Identifier, Agency), Entry> = held
        .iter()
        .map(|e| ((e.id.clone(), e.meta.agency.clone()), e.clone()))
        .collect();
    for op in ops {
        match op {
            Op::Add(e) | Op::Update(e) => {
                after.insert((e.id.clone(), e.meta.agency.clone()), e.clone());
            }
            Op::Remove(id, agency) => after
                .retain(|(listed, by), _| listed != id || agency.as_ref().is_some_and(|a| a != by)),
        }
    }
    after.into_values().collect()
}

/// Delta extension tag 4 (docs/FORMAT.md); `blocklist_core::document`
/// does not export its constant.
const LISTING_REMOVALS_EXTENSION: u16 = 4;

/// Delta extension tag 4 holding `removals`, as FORMAT.md writes it.
fn listing_removals(removals: Vec<wire::Removals>) -> wire::Extension {
    wire::Extension {
        tag: LISTING_REMOVALS_EXTENSION,
        data: encode(&removals),
    }
}

/// `agency`'s listings of the `values` of kind `kind`, removed.
fn removals(agency: &str, kind: u16, values: &[&str]) -> wire::Removals {
    wire::Removals {
        agency: agency.into(),
        keys: vec![wire::Keys {
            kind,
            values: values.iter().map(|v| v.to_string()).collect(),
        }],
    }
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).unwrap()
}

fn seal(doc: DocType, payload: &[u8], keys: &[&SecretKey]) -> Vec<u8> {
    envelope::seal(doc, payload, keys).unwrap()
}

fn file_ref(version: u64, bytes: &[u8]) -> FileRef {
    FileRef {
        version: Version::new(version).unwrap(),
        sha256: Sha256::of(bytes),
        size: bytes.len() as u64,
    }
}

fn key_set(keys: &[&SecretKey], threshold: u8) -> KeySet {
    KeySet::new(keys.iter().map(|k| k.public_key()).collect(), threshold).unwrap()
}

/// Where the signature block of a one-signature document starts.
fn signature_at(bytes: &[u8]) -> usize {
    let payload_len = u64::from_le_bytes(bytes[8..16].try_into().unwrap()) as usize;
    HEADER_LEN + payload_len + 1 + 32
}

/// The message the one signature of `bytes` signs (FORMAT.md, "Signed
/// message"), whatever its header says.
fn signed_message(bytes: &[u8]) -> Vec<u8> {
    let header_and_payload = &bytes[..signature_at(bytes) - 33];
    [
        b"blocklist v1 ".as_slice(),
        DocType::from_code(bytes[5]).unwrap().name().as_bytes(),
        b"\0",
        &Sha256::of(header_and_payload).0,
    ]
    .concat()
}

/// Replaces the one signature of `bytes` with `(R, S)` where R is `r_bytes`
/// and S = k·a, k = SHA-512(R ‖ A ‖ message): a signature that passes the
/// cofactorless check [S]B = R + [k]A whenever R encodes the identity, which
/// is what strict verification refuses (R of small order).
fn with_identity_r(bytes: &[u8], signer: &SecretKey, r_bytes: [u8; 32]) -> Vec<u8> {
    let message = signed_message(bytes);
    let expanded: [u8; 64] = Sha512::digest(signer.to_seed()).into();
    let a = Scalar::from_bytes_mod_order(clamp_integer(expanded[..32].try_into().unwrap()));
    let public = signer.public_key().to_bytes();
    assert_eq!(EdwardsPoint::mul_base(&a).compress().to_bytes(), public);
    let k: [u8; 64] = Sha512::new()
        .chain_update(r_bytes)
        .chain_update(public)
        .chain_update(&message)
        .finalize()
        .into();
    let s = Scalar::from_bytes_mod_order_wide(&k) * a;
    let mut out = bytes.to_vec();
    let at = signature_at(bytes);
    out[at..at + 32].copy_from_slice(&r_bytes);
    out[at + 32..at + 64].copy_from_slice(s.as_bytes());
    out
}

/// Whether a plain (not strict) Ed25519 verification, `[S]B = R + [k]A`
/// with S reduced, accepts the one signature of `bytes`: as RFC 8032 and
/// OpenSSL verify, without the small-order checks.
fn cofactorless_accepts(bytes: &[u8], signer: &SecretKey) -> bool {
    use ed25519_dalek::Verifier as _;
    let at = signature_at(bytes);
    let message = signed_message(bytes);
    let key = ed25519_dalek::VerifyingKey::from_bytes(&signer.public_key().to_bytes()).unwrap();
    let signature = ed25519_dalek::Signature::from_bytes(bytes[at..at + 64].try_into().unwrap());
    key.verify(&message, &signature).is_ok()
}

/// A 32-byte encoding with y >= p (2^255 - 19) of a curve point of large
/// order: the non-canonical twin of the point with y - p, which no signer
/// ever produces and RFC 8032 decoding refuses.
fn non_canonical_key() -> [u8; 32] {
    (2u8..19)
        .map(|k| {
            let mut bytes = [0xFF; 32];
            bytes[0] = 0xED + k;
            bytes[31] = 0x7F;
            bytes
        })
        .find(|bytes| {
            ed25519_dalek::VerifyingKey::from_bytes(bytes).is_ok_and(|key| !key.is_weak())
        })
        .expect("some y in 2..19 is a point of large order")
}

/// One document vector: a file, how it is checked, and the answer.
struct DocCase {
    rule: &'static str,
    file: String,
    check: String,
    expected: String,
    bytes: Vec<u8>,
}

struct Cases(Vec<DocCase>);

impl Cases {
    fn add(&mut self, rule: &'static str, file: &str, check: &str, expected: &str, bytes: &[u8]) {
        self.0.push(DocCase {
            rule,
            file: file.to_owned(),
            check: check.to_owned(),
            expected: expected.to_owned(),
            bytes: bytes.to_vec(),
        });
    }
}

/// Every document vector, made from the fixed keys: deterministic (Ed25519
/// signatures are), so the committed files can be compared byte for byte.
fn document_cases() -> Cases {
    let (root_key, publish_key, root_key_2, publish_key_2, stranger) =
        (key(1), key(2), key(3), key(4), key(5));
    let list = ListId::new(LIST).unwrap();
    let root1 = TrustRoot {
        list: list.clone(),
        version: Version::FIRST,
        issued_at: Timestamp(T0),
        expires_at: Timestamp(T0 + 730 * DAY),
        root_keys: key_set(&[&root_key], 1),
        publish_keys: key_set(&[&publish_key], 1),
        override_keys: None,
        extensions: vec![],
    };
    let root2 = TrustRoot {
        version: Version::new(2).unwrap(),
        root_keys: key_set(&[&root_key_2], 1),
        publish_keys: key_set(&[&publish_key_2], 1),
        ..root1.clone()
    };
    let r1 = "valid/root-1.root";
    let r12 = "valid/root-1.root+valid/root-2.root";
    let root1_bytes = root1.sign(&[&root_key]).unwrap();
    let mut c = Cases(vec![]);
    c.add("V1", r1, "pin", "ok", &root1_bytes);
    let root2_bytes = root2.sign(&[&root_key, &root_key_2]).unwrap();
    c.add(
        "V2",
        "valid/root-2.root",
        &format!("rotate {r1}"),
        "ok",
        &root2_bytes,
    );
    c.add("V2", r1, &format!("rotate {r1}"), "!Replay", &root1_bytes);

    // Version 1, encoded from the wire structs; the library must agree.
    let base = base_delta();
    let payload1 = encode(&base);
    let entries1 = entries_of(&base.agencies, &base.adds);
    let library = Delta {
        list: list.clone(),
        version: Version::FIRST,
        created_at: Timestamp(T0),
        ops: entries1.iter().cloned().map(Op::Add).collect(),
        state: ListState::of(&entries1),
        submissions: vec![],
        overrides: vec![],
        extensions: vec![],
    };
    assert_eq!(
        library.encode_payload().unwrap(),
        payload1,
        "FORMAT.md's wire structs"
    );
    assert_eq!(
        (library.state.digest.0, library.state.entries),
        (base.state_digest, base.state_entries),
        "FORMAT.md's state digest"
    );
    let delta1 = seal(DocType::Delta, &payload1, &[&publish_key]);
    let d1 = "valid/delta-1.delta";
    c.add("V3", d1, &format!("delta {r1} 0"), "ok", &delta1);
    c.add("V3", d1, &format!("apply {r1}"), "ok", &delta1);
    c.add("V4", d1, &format!("delta {r1} 1"), "!Replay", &delta1);
    c.add("V4", d1, &format!("delta {r1} 2"), "!Rollback", &delta1);
    c.add(
        "V4",
        d1,
        &format!("snapshot {r1} 0"),
        "!WrongDocument",
        &delta1,
    );
    c.add("K1", d1, &format!("delta {r12} 0"), "!UnknownKey", &delta1);

    // Version 2: an update, a removal, an add.
    let mut after = entries1.clone();
    let updated = Entry {
        meta: EntryMeta {
            expires_at: Some(Timestamp(T0 + 60 * DAY)),
            ..after[1].meta.clone()
        },
        ..after[1].clone()
    };
    let removed = after[2].id.clone();
    let added = Entry {
        id: Identifier::from_canonical(Kind::Domain, "scam2.example").unwrap(),
        meta: EntryMeta {
            reason: Reason::FRAUD,
            agency: Agency::new("police").unwrap(),
            listed_at: Timestamp(T0),
            expires_at: None,
        },
    };
    after[1] = updated.clone();
    after.retain(|e| e.id != removed);
    after.push(added.clone());
    let delta2 = Delta {
        list: list.clone(),
        version: Version::new(2).unwrap(),
        created_at: Timestamp(T0 + 1),
        ops: vec![
            Op::Update(updated.clone()),
            Op::Remove(removed.clone(), None),
            Op::Add(added.clone()),
        ],
        state: ListState::of(&after),
        submissions: vec![],
        overrides: vec![],
        extensions: vec![],
    };
    let delta2_bytes = delta2.sign(&[&publish_key]).unwrap();
    let d2 = "valid/delta-2.delta";
    c.add("V3", d2, &format!("delta {r1} 1"), "ok", &delta2_bytes);
    c.add("V3", d2, &format!("apply {r1} {d1}"), "ok", &delta2_bytes);
    c.add("V4", d2, &format!("delta {r1} 0"), "!Gap", &delta2_bytes);

    let snapshot2 = Snapshot {
        list: list.clone(),
        version: Version::new(2).unwrap(),
        created_at: Timestamp(T0 + 1),
        entries: after.clone(),
        state: ListState::of(&after),
        sequences: Default::default(),
        overrides: vec![],
        origins: vec![],
        extensions: vec![],
    };
    let snapshot2_bytes = snapshot2.sign(&[&publish_key]).unwrap();
    let s2 = "valid/snapshot-2.snapshot";
    c.add(
        "V5",
        s2,
        &format!("snapshot {r1} 0"),
        "ok",
        &snapshot2_bytes,
    );
    c.add(
        "V5",
        s2,
        &format!("snapshot {r1} 1"),
        "ok",
        &snapshot2_bytes,
    );
    c.add(
        "V4",
        s2,
        &format!("snapshot {r1} 2"),
        "!Replay",
        &snapshot2_bytes,
    );
    c.add(
        "V4",
        s2,
        &format!("snapshot {r1} 3"),
        "!Rollback",
        &snapshot2_bytes,
    );

    let manifest = Manifest {
        list: list.clone(),
        serial: 7,
        version: Version::new(2).unwrap(),
        state: ListState::of(&after),
        issued_at: Timestamp(T0),
        expires_at: Timestamp(T0 + DAY),
        roots: vec![file_ref(1, &root1_bytes)],
        deltas: vec![file_ref(1, &delta1), file_ref(2, &delta2_bytes)],
        snapshots: vec![file_ref(2, &snapshot2_bytes)],
        registries: vec![],
        log: None,
        extensions: vec![],
    };
    let manifest_bytes = manifest.sign(&[&publish_key]).unwrap();
    registry_cases(&mut c, &manifest);
    let m = "valid/manifest-2.manifest";
    c.add(
        "V6",
        m,
        &format!("manifest {r1} {T0} -"),
        "ok",
        &manifest_bytes,
    );
    c.add(
        "V6",
        m,
        &format!("manifest {r1} {} 7", T0 + DAY - 1),
        "ok",
        &manifest_bytes,
    );
    c.add(
        "V6",
        m,
        &format!("manifest {r1} {T0} 8"),
        "!SerialRollback",
        &manifest_bytes,
    );
    c.add(
        "V6",
        m,
        &format!("manifest {r1} {} -", T0 + DAY),
        "!Expired",
        &manifest_bytes,
    );

    // Version 3 under root 2, signed by root 2's publish key.
    let delta3 = Delta {
        version: Version::new(3).unwrap(),
        ops: vec![],
        ..delta2.clone()
    };
    let delta3_bytes = delta3.sign(&[&publish_key_2]).unwrap();
    c.add(
        "K1",
        "valid/delta-3-root-2.delta",
        &format!("delta {r12} 2"),
        "ok",
        &delta3_bytes,
    );
    c.add(
        "K1",
        "valid/delta-3-root-2.delta",
        &format!("delta {r1} 2"),
        "!UnknownKey",
        &delta3_bytes,
    );

    // Content rules, each in a delta of version 1 signed by the publish key.
    let content =
        |c: &mut Cases, rule, file: &str, expected: &str, edit: &dyn Fn(&mut wire::Delta)| {
            let mut doc = base_delta();
            edit(&mut doc);
            let bytes = seal(DocType::Delta, &encode(&doc), &[&publish_key]);
            c.add(rule, file, &format!("delta {r1} 0"), expected, &bytes);
        };
    let restate = |d: &mut wire::Delta| {
        let (digest, count) = digest_of(&d.agencies, &d.adds);
        d.state_digest = digest;
        d.state_entries = count;
    };
    content(&mut c, "E1", "valid/delta-1-extensions.delta", "ok", &|d| {
        d.extensions = vec![
            wire::Extension {
                tag: 1,
                data: vec![1, 2, 3],
            },
            wire::Extension {
                tag: 9,
                data: vec![],
            },
        ]
    });
    content(
        &mut c,
        "E1",
        "payload/extensions-not-ascending.delta",
        "!Malformed.Invalid",
        &|d| {
            d.extensions = vec![
                wire::Extension {
                    tag: 9,
                    data: vec![],
                },
                wire::Extension {
                    tag: 1,
                    data: vec![],
                },
            ]
        },
    );
    content(
        &mut c,
        "C2",
        "valid/delta-1-private-suffix.delta",
        "ok",
        &|d| {
            d.adds[2].values = vec!["github.io".into(), "scam.example".into()];
            restate(d);
        },
    );
    content(&mut c, "D3", "valid/delta-1-underscore.delta", "ok", &|d| {
        d.adds[2].values = vec!["a_b.scam.example".into(), "scam.example".into()];
        restate(d);
    });
    content(
        &mut c,
        "G1",
        "payload/version-0.delta",
        "!Malformed.Invalid",
        &|d| d.version = 0,
    );
    content(
        &mut c,
        "G1",
        "payload/list-name-upper-case.delta",
        "!Malformed.Invalid",
        &|d| d.list = "Conformance".into(),
    );
    content(
        &mut c,
        "G1",
        "payload/other-list.delta",
        "!WrongList",
        &|d| d.list = "other".into(),
    );
    content(
        &mut c,
        "G2",
        "payload/groups-not-ascending.delta",
        "!Malformed.Invalid",
        &|d| d.adds.swap(0, 1),
    );
    content(
        &mut c,
        "G2",
        "payload/expiry-some-before-none.delta",
        "!Malformed.Invalid",
        &|d| d.adds.swap(2, 3),
    );
    content(
        &mut c,
        "G2",
        "payload/values-not-ascending.delta",
        "!Malformed.Invalid",
        &|d| d.adds[1].values.reverse(),
    );
    content(
        &mut c,
        "G2",
        "payload/value-twice-in-group.delta",
        "!Malformed.Invalid",
        &|d| d.adds[1].values = vec!["+66812345678".into(), "+66812345678".into()],
    );
    content(
        &mut c,
        "G2",
        "payload/empty-group.delta",
        "!Malformed.Invalid",
        &|d| d.adds.push(group(100, meta(0, 1, None), &[])),
    );
    content(
        &mut c,
        "G2",
        "payload/identifier-added-and-removed.delta",
        "!Malformed.Invalid",
        &|d| {
            d.removes = vec![wire::Keys {
                kind: 3,
                values: vec!["scam.example".into()],
            }]
        },
    );
    content(
        &mut c,
        "G3",
        "payload/agency-never-used.delta",
        "!Malformed.Invalid",
        &|d| d.agencies.push("zz-unused".into()),
    );
    content(
        &mut c,
        "G3",
        "payload/agencies-not-sorted.delta",
        "!Malformed.Invalid",
        &|d| {
            d.agencies.reverse();
            for g in &mut d.adds {
                g.meta.agency = 1 - g.meta.agency;
            }
        },
    );
    content(
        &mut c,
        "G3",
        "payload/agency-index-past-table.delta",
        "!Malformed.Invalid",
        &|d| d.adds[4].meta.agency = 2,
    );
    content(
        &mut c,
        "G3",
        "payload/agency-with-space.delta",
        "!Malformed.Invalid",
        &|d| d.agencies[1] = "th aoc".into(),
    );
    content(
        &mut c,
        "G4",
        "payload/listed-after-2106.delta",
        "!Malformed.Invalid",
        &|d| d.adds[4].meta.listed_at = u64::from(u32::MAX),
    );
    content(
        &mut c,
        "C1",
        "payload/number-not-canonical.delta",
        "!Malformed.Identifier.NotCanonical",
        &|d| d.adds[1].values = vec!["+12015550123".into(), "0812345678".into()],
    );
    content(
        &mut c,
        "C1",
        "payload/domain-public-suffix.delta",
        "!Malformed.Identifier.PublicSuffix",
        &|d| d.adds[2].values[0] = "co.th".into(),
    );
    content(
        &mut c,
        "N2",
        "payload/number-country-code-0.delta",
        "!Malformed.Identifier.CountryCodeStartsWithZero",
        &|d| {
            d.adds[1].values = vec!["+066812345678".into(), "+66812345678".into()];
            restate(d);
        },
    );
    content(
        &mut c,
        "C3",
        "payload/other-kind-control-character.delta",
        "!Malformed.Identifier.InvalidCharacter",
        &|d| d.adds[4].values[0] = "opaque\u{85}value".into(),
    );
    let mut doc = base_delta();
    let live: Vec<wire::Group> = doc
        .adds
        .iter()
        .filter(|g| g.meta.expires_at != Some(T0 - DAY))
        .cloned()
        .collect();
    (doc.state_digest, doc.state_entries) = digest_of(&doc.agencies, &live);
    let bytes = seal(DocType::Delta, &encode(&doc), &[&publish_key]);
    // Verification does not recompute a delta's state; applying it does.
    c.add(
        "S1",
        "state/digest-without-expired-entry.delta",
        &format!("delta {r1} 0"),
        "ok",
        &bytes,
    );
    c.add(
        "S1",
        "state/digest-without-expired-entry.delta",
        &format!("apply {r1}"),
        "!Refused.DigestMismatch",
        &bytes,
    );

    // Payload bytes that are not the canonical encoding, validly signed.
    let mut trailing = payload1.clone();
    trailing.push(0);
    c.add(
        "P1",
        "payload/trailing-byte.delta",
        &format!("delta {r1} 0"),
        "!Malformed.NonCanonical",
        &seal(DocType::Delta, &trailing, &[&publish_key]),
    );
    // The version varint (after the 1-byte length and 11 bytes of the list name) as 0x81 0x00.
    assert_eq!(
        payload1[..13],
        [&[11][..], LIST.as_bytes(), &[1]].concat()[..]
    );
    let mut overlong = payload1[..12].to_vec();
    overlong.extend_from_slice(&[0x81, 0x00]);
    overlong.extend_from_slice(&payload1[13..]);
    c.add(
        "P1",
        "payload/overlong-varint.delta",
        &format!("delta {r1} 0"),
        "!Malformed.NonCanonical",
        &seal(DocType::Delta, &overlong, &[&publish_key]),
    );

    // Envelope faults, on delta 1.
    let edit = |c: &mut Cases, rule, file: &str, expected: &str, f: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = delta1.clone();
        f(&mut bytes);
        c.add(rule, file, &format!("delta {r1} 0"), expected, &bytes);
    };
    edit(
        &mut c,
        "H1",
        "envelope/bad-magic.delta",
        "!Malformed.BadMagic",
        &|b| b[3] = b'X',
    );
    edit(
        &mut c,
        "H1",
        "envelope/format-version-4.delta",
        "!Malformed.UnsupportedFormat",
        &|b| b[4] = 4,
    );
    // Formats 1 and 2, as releases before the LtHash wrote them: their
    // state digest is the lane sum (S3), checked as such when applied, and
    // a format-3 delta may follow them (the upgrade path).
    let mut lane_summed = base.clone();
    lane_summed.state_digest = lane_sum_of(&base.agencies, &base.adds);
    let older = |format| {
        envelope::seal_format(
            format,
            DocType::Delta,
            &encode(&lane_summed),
            &[&publish_key],
        )
        .unwrap()
    };
    for format in [1, 2] {
        let file = format!("valid/format-version-{format}.delta");
        c.add("H1", &file, &format!("delta {r1} 0"), "ok", &older(format));
        c.add("S3", &file, &format!("apply {r1}"), "ok", &older(format));
    }
    c.add(
        "S1",
        d2,
        &format!("apply {r1} valid/format-version-2.delta"),
        "ok",
        &delta2_bytes,
    );
    // Each format's digest is checked as its own commitment, never the other's.
    c.add(
        "S1",
        "state/lane-sum-in-format-3.delta",
        &format!("apply {r1}"),
        "!Refused.DigestMismatch",
        &seal(DocType::Delta, &encode(&lane_summed), &[&publish_key]),
    );
    c.add(
        "S1",
        "state/lthash-in-format-2.delta",
        &format!("apply {r1}"),
        "!Refused.DigestMismatch",
        &envelope::seal_format(2, DocType::Delta, &payload1, &[&publish_key]).unwrap(),
    );
    let mut snapshot2_lane_sum = snapshot2.clone();
    snapshot2_lane_sum.state = StateAccumulator::of(&after).state(Commitment::LaneSum);
    let lane_summed_snapshot = snapshot2_lane_sum.encode_payload().unwrap();
    c.add(
        "S3",
        "valid/snapshot-2-format-2.snapshot",
        &format!("snapshot {r1} 0"),
        "ok",
        &envelope::seal_format(2, DocType::Snapshot, &lane_summed_snapshot, &[&publish_key])
            .unwrap(),
    );
    c.add(
        "S1",
        "state/lane-sum-in-format-3.snapshot",
        &format!("snapshot {r1} 0"),
        "!DigestMismatch",
        &seal(DocType::Snapshot, &lane_summed_snapshot, &[&publish_key]),
    );
    // Codes from 9 on are taken (receipts, ...): one no revision will use soon.
    edit(
        &mut c,
        "H1",
        "envelope/unknown-type-200.delta",
        "!Malformed.UnknownDocType",
        &|b| b[5] = 200,
    );
    edit(
        &mut c,
        "H1",
        "envelope/type-snapshot.delta",
        "!WrongDocument",
        &|b| b[5] = 4,
    );
    edit(
        &mut c,
        "H1",
        "envelope/reserved-bits.delta",
        "!Malformed.ReservedBits",
        &|b| b[7] = 1,
    );
    edit(
        &mut c,
        "H1",
        "envelope/trailing-byte.delta",
        "!Malformed.TrailingBytes",
        &|b| b.push(0),
    );
    edit(
        &mut c,
        "H1",
        "envelope/truncated.delta",
        "!Malformed.Truncated",
        &|b| {
            b.pop();
        },
    );
    edit(
        &mut c,
        "H1",
        "envelope/payload-length-past-end.delta",
        "!Malformed.Truncated",
        &|b| b[8..16].copy_from_slice(&u64::MAX.to_le_bytes()),
    );
    edit(
        &mut c,
        "H2",
        "envelope/no-signatures.delta",
        "!ThresholdNotMet",
        &|b| {
            let at = signature_at(b) - 33;
            b.truncate(at);
            b.push(0);
        },
    );
    edit(
        &mut c,
        "H2",
        "envelope/same-signature-twice.delta",
        "!Malformed.SignatureOrder",
        &|b| {
            let at = signature_at(b) - 33;
            let signature = b[at + 1..].to_vec();
            b[at] = 2;
            b.extend_from_slice(&signature);
        },
    );
    edit(
        &mut c,
        "H3",
        "signature/payload-byte-changed.delta",
        "!BadSignature",
        &|b| b[HEADER_LEN + 13] ^= 1,
    );
    edit(
        &mut c,
        "H3",
        "signature/s-plus-group-order.delta",
        "!BadSignature",
        &|b| {
            // S + L: the same point equation, the encoding strict verification refuses.
            const L: [u8; 32] = [
                0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
                0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
            ];
            let at = signature_at(b) + 32;
            let mut carry = 0u16;
            for i in 0..32 {
                let sum = u16::from(b[at + i]) + u16::from(L[i]) + carry;
                b[at + i] = sum as u8;
                carry = sum >> 8;
            }
        },
    );
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let small_r = with_identity_r(&delta1, &publish_key, identity);
    assert!(
        cofactorless_accepts(&small_r, &publish_key),
        "the vector tests strictness"
    );
    c.add(
        "H3",
        "signature/r-small-order.delta",
        &format!("delta {r1} 0"),
        "!BadSignature",
        &small_r,
    );
    let mut identity_signed = identity;
    identity_signed[31] = 0x80;
    c.add(
        "H3",
        "signature/r-small-order-non-canonical.delta",
        &format!("delta {r1} 0"),
        "!BadSignature",
        &with_identity_r(&delta1, &publish_key, identity_signed),
    );
    let mut as_manifest = seal(DocType::Manifest, &payload1, &[&publish_key]);
    as_manifest[5] = DocType::Delta.code();
    c.add(
        "H3",
        "signature/signed-as-manifest.delta",
        &format!("delta {r1} 0"),
        "!BadSignature",
        &as_manifest,
    );

    // Who may sign.
    let by = |keys: &[&SecretKey]| seal(DocType::Delta, &payload1, keys);
    c.add(
        "K1",
        "keys/stranger.delta",
        &format!("delta {r1} 0"),
        "!UnknownKey",
        &by(&[&stranger]),
    );
    c.add(
        "K1",
        "keys/root-key.delta",
        &format!("delta {r1} 0"),
        "!UnknownKey",
        &by(&[&root_key]),
    );
    c.add(
        "K1",
        "keys/stray-extra-signature.delta",
        &format!("delta {r1} 0"),
        "!UnknownKey",
        &by(&[&publish_key, &stranger]),
    );
    let root = |doc: &TrustRoot, keys: &[&SecretKey]| doc.sign(keys).unwrap();
    c.add(
        "R1",
        "root/root-1-signed-by-publish-key.root",
        "pin",
        "!UnknownKey",
        &root(&root1, &[&publish_key]),
    );
    c.add(
        "R1",
        "root/root-2-signed-by-old-root-keys-only.root",
        &format!("rotate {r1}"),
        "!ThresholdNotMet",
        &root(&root2, &[&root_key]),
    );
    c.add(
        "R1",
        "root/root-2-signed-by-new-root-keys-only.root",
        &format!("rotate {r1}"),
        "!ThresholdNotMet",
        &root(&root2, &[&root_key_2]),
    );
    let root3 = TrustRoot {
        version: Version::new(3).unwrap(),
        ..root2.clone()
    };
    c.add(
        "R2",
        "root/root-3-after-root-1.root",
        &format!("rotate {r1}"),
        "!Gap",
        &root(&root3, &[&root_key, &root_key_2]),
    );
    let other_list = TrustRoot {
        list: ListId::new("other").unwrap(),
        ..root2.clone()
    };
    c.add(
        "R2",
        "root/root-2-of-other-list.root",
        &format!("rotate {r1}"),
        "!WrongList",
        &root(&other_list, &[&root_key, &root_key_2]),
    );
    let two_of_two = TrustRoot {
        root_keys: key_set(&[&root_key, &stranger], 2),
        ..root1.clone()
    };
    c.add(
        "R1",
        "root/threshold-2-one-signature.root",
        "pin",
        "!ThresholdNotMet",
        &root(&two_of_two, &[&root_key]),
    );
    c.add(
        "R1",
        "valid/root-1-threshold-2.root",
        "pin",
        "ok",
        &root(&two_of_two, &[&root_key, &stranger]),
    );

    // Key sets the decoder refuses, encoded from the wire structs.
    let wire_root = |root_keys: wire::KeySet, publish_keys: wire::KeySet| {
        let doc = wire::Root {
            list: LIST.into(),
            version: 1,
            issued_at: T0,
            expires_at: T0 + 730 * DAY,
            root_keys,
            publish_keys,
            extensions: vec![],
        };
        seal(DocType::Root, &encode(&doc), &[&root_key])
    };
    let set = |keys: Vec<[u8; 32]>, threshold| wire::KeySet { keys, threshold };
    let own = || set(vec![root_key.public_key().to_bytes()], 1);
    assert_eq!(
        wire_root(own(), set(vec![publish_key.public_key().to_bytes()], 1)),
        root1_bytes
    );
    let mut pair = [publish_key.public_key(), stranger.public_key()];
    pair.sort_by_key(PublicKey::id);
    let (low, high) = (pair[0].to_bytes(), pair[1].to_bytes());
    c.add(
        "K2",
        "root/threshold-0.root",
        "pin",
        "!Malformed.Invalid",
        &wire_root(own(), set(vec![low], 0)),
    );
    c.add(
        "K2",
        "root/threshold-above-keys.root",
        "pin",
        "!Malformed.Invalid",
        &wire_root(own(), set(vec![low], 2)),
    );
    c.add(
        "K2",
        "root/no-keys.root",
        "pin",
        "!Malformed.Invalid",
        &wire_root(own(), set(vec![], 1)),
    );
    c.add(
        "K2",
        "root/keys-not-ascending-by-id.root",
        "pin",
        "!Malformed.Invalid",
        &wire_root(own(), set(vec![high, low], 1)),
    );
    c.add(
        "K2",
        "root/key-twice.root",
        "pin",
        "!Malformed.Invalid",
        &wire_root(own(), set(vec![low, low], 1)),
    );
    c.add(
        "K2",
        "root/key-small-order.root",
        "pin",
        "!Malformed.Invalid",
        &wire_root(own(), set(vec![identity], 1)),
    );
    let mut not_a_point = [0u8; 32];
    not_a_point[0] = 2;
    c.add(
        "K2",
        "root/key-not-a-point.root",
        "pin",
        "!Malformed.Invalid",
        &wire_root(own(), set(vec![not_a_point], 1)),
    );
    c.add(
        "K2",
        "root/key-not-canonical.root",
        "pin",
        "!Malformed.Invalid",
        &wire_root(own(), set(vec![non_canonical_key()], 1)),
    );

    // Snapshots whose entries do not give the signed state.
    let bad_snapshot = |state: ListState| {
        Snapshot {
            state,
            ..snapshot2.clone()
        }
        .sign(&[&publish_key])
        .unwrap()
    };
    let live: Vec<Entry> = after
        .iter()
        .filter(|e| e.meta.is_active(Timestamp(T0)))
        .cloned()
        .collect();
    assert!(
        live.len() < after.len(),
        "snapshot 2 holds an expired entry"
    );
    c.add(
        "S1",
        "state/snapshot-digest-without-expired-entry.snapshot",
        &format!("snapshot {r1} 0"),
        "!DigestMismatch",
        &bad_snapshot(ListState::of(&live)),
    );
    c.add(
        "S1",
        "state/snapshot-count-off-by-one.snapshot",
        &format!("snapshot {r1} 0"),
        "!DigestMismatch",
        &bad_snapshot(ListState {
            entries: after.len() as u64 + 1,
            ..ListState::of(&after)
        }),
    );

    // Operations that contradict the list they apply to.
    let op_case =
        |c: &mut Cases, rule, file: &str, ops: Vec<Op>, state: ListState, expected: &str| {
            let doc = Delta {
                ops,
                state,
                ..delta2.clone()
            };
            c.add(
                rule,
                file,
                &format!("apply {r1} {d1}"),
                expected,
                &doc.sign(&[&publish_key]).unwrap(),
            );
        };
    let plus = |extra: &Entry| {
        let mut all = entries1.clone();
        all.push(extra.clone());
        ListState::of(&all)
    };
    op_case(
        &mut c,
        "O1",
        "apply/add-of-listed.delta",
        vec![Op::Add(entries1[0].clone())],
        plus(&entries1[0]),
        "!Conflict",
    );
    op_case(
        &mut c,
        "O1",
        "apply/update-of-unlisted.delta",
        vec![Op::Update(added.clone())],
        plus(&added),
        "!Conflict",
    );
    op_case(
        &mut c,
        "O1",
        "apply/remove-of-unlisted.delta",
        vec![Op::Remove(added.id.clone(), None)],
        ListState::of(&entries1),
        "!Conflict",
    );
    op_case(
        &mut c,
        "O1",
        "valid/delta-2-update-unchanged.delta",
        vec![Op::Update(entries1[0].clone())],
        ListState::of(&entries1),
        "ok",
    );
    op_case(
        &mut c,
        "O1",
        "valid/delta-2-remove-expired.delta",
        vec![Op::Remove(
            entries1
                .iter()
                .find(|e| !e.meta.is_active(Timestamp(T0)))
                .unwrap()
                .id
                .clone(),
            None,
        )],
        ListState::of(&live_of(&entries1)),
        "ok",
    );

    // One identifier listed by several agencies (format 2): +66812345678,
    // th-aoc's in version 1, listed by `police` too in version 2; version 3
    // removes th-aoc's listing only (extension tag 4), police's stays.
    let shared = entries1
        .iter()
        .find(|e| e.id.as_str() == "+66812345678")
        .unwrap()
        .clone();
    let second = Entry {
        meta: EntryMeta {
            reason: Reason::FRAUD,
            agency: Agency::new("police").unwrap(),
            listed_at: Timestamp(T0),
            expires_at: None,
        },
        ..shared.clone()
    };
    let also_listed = vec![Op::Add(second.clone())];
    let two_listings = after_ops(&entries1, &also_listed);
    let d2_second = "valid/delta-2-second-agency.delta";
    op_case(
        &mut c,
        "O1",
        d2_second,
        also_listed,
        ListState::of(&two_listings),
        "ok",
    );
    op_case(
        &mut c,
        "O1",
        "apply/removal-of-agency-not-listing.delta",
        vec![Op::Remove(
            shared.id.clone(),
            Some(second.meta.agency.clone()),
        )],
        ListState::of(&entries1),
        "!Conflict",
    );
    let version3 = |ops: Vec<Op>, state_of: &[Op]| Delta {
        version: Version::new(3).unwrap(),
        state: ListState::of(&after_ops(&two_listings, state_of)),
        ops,
        ..delta2.clone()
    };
    let withdrawn = vec![Op::Remove(
        shared.id.clone(),
        Some(shared.meta.agency.clone()),
    )];
    let listing_removal = version3(withdrawn.clone(), &withdrawn);
    let removed_whole = vec![Op::Remove(shared.id.clone(), None)];
    let listing_removal_payload = listing_removal.encode_payload().unwrap();
    assert_eq!(
        listing_removal_payload,
        encode(&wire::Delta {
            list: LIST.into(),
            version: 3,
            created_at: T0 + 1,
            state_digest: listing_removal.state.digest.0,
            state_entries: listing_removal.state.entries,
            agencies: vec![],
            adds: vec![],
            updates: vec![],
            removes: vec![],
            extensions: vec![listing_removals(vec![removals(
                "th-aoc",
                2,
                &["+66812345678"]
            )])],
        }),
        "FORMAT.md's delta extension tag 4"
    );
    let d3 = "valid/delta-3-listing-removal.delta";
    let listing_removal = seal(DocType::Delta, &listing_removal_payload, &[&publish_key]);
    c.add("V3", d3, &format!("delta {r1} 2"), "ok", &listing_removal);
    let after_second = format!("apply {r1} {d1} {d2_second}");
    c.add("O1", d3, &after_second, "ok", &listing_removal);
    let signed3 = |ops, state_of: &[Op]| version3(ops, state_of).sign(&[&publish_key]).unwrap();
    c.add(
        "S1",
        "state/listing-removal-digest-without-other-listing.delta",
        &after_second,
        "!Refused.DigestMismatch",
        &signed3(withdrawn.clone(), &removed_whole),
    );
    c.add(
        "O1",
        "valid/delta-3-whole-removal.delta",
        &after_second,
        "ok",
        &signed3(removed_whole.clone(), &removed_whole),
    );

    // Extension tag 4's form, each a change to version 1 (+66899999999 is
    // not listed: verifying a delta does not look at the list).
    let unlisted = "+66899999999";
    let invalid = "!Malformed.Invalid";
    let by_two = [
        removals("bank-004", 2, &[unlisted]),
        removals("th-aoc", 2, &[unlisted]),
    ];
    content(
        &mut c,
        "G2",
        "valid/delta-1-removals-two-agencies.delta",
        "ok",
        &|d| d.extensions = vec![listing_removals(by_two.to_vec())],
    );
    content(
        &mut c,
        "G2",
        "payload/removals-agencies-not-ascending.delta",
        invalid,
        &|d| {
            let mut reversed = by_two.to_vec();
            reversed.reverse();
            d.extensions = vec![listing_removals(reversed)];
        },
    );
    content(
        &mut c,
        "G2",
        "payload/removals-agency-removes-nothing.delta",
        invalid,
        &|d| {
            d.extensions = vec![listing_removals(vec![wire::Removals {
                agency: "th-aoc".into(),
                keys: vec![],
            }])]
        },
    );
    content(
        &mut c,
        "G3",
        "payload/removals-agency-with-space.delta",
        invalid,
        &|d| d.extensions = vec![listing_removals(vec![removals("th aoc", 2, &[unlisted])])],
    );
    content(
        &mut c,
        "E1",
        "payload/removals-extension-empty.delta",
        invalid,
        &|d| d.extensions = vec![listing_removals(vec![])],
    );
    content(
        &mut c,
        "G2",
        "valid/delta-1-add-and-other-agency-removal.delta",
        "ok",
        &|d| {
            d.extensions = vec![listing_removals(vec![removals(
                "bank-004",
                2,
                &["+66812345678"],
            )])]
        },
    );
    content(
        &mut c,
        "G2",
        "payload/listing-added-and-removed.delta",
        invalid,
        &|d| {
            d.extensions = vec![listing_removals(vec![removals(
                "th-aoc",
                2,
                &["+66812345678"],
            )])]
        },
    );
    content(
        &mut c,
        "G2",
        "payload/identifier-removed-whole-and-by-agency.delta",
        invalid,
        &|d| {
            d.removes = by_two[0].keys.clone();
            d.extensions = vec![listing_removals(vec![removals("th-aoc", 2, &[unlisted])])];
        },
    );

    // Snapshots of version 1 (V5): bank-004 lists +66812345678 beside
    // th-aoc, or th-aoc lists it twice (in two groups).
    let snapshot_of = |entries: Vec<wire::Group>| {
        let (state_digest, state_entries) = digest_of(&base.agencies, &entries);
        wire::Snapshot {
            list: LIST.into(),
            version: 1,
            created_at: T0,
            state_digest,
            state_entries,
            agencies: base.agencies.clone(),
            entries,
            extensions: vec![],
        }
    };
    let mut groups = base.adds.clone();
    groups.insert(1, group(2, meta(2, 0, None), &["+66812345678"]));
    let two_agencies = snapshot_of(groups);
    let listed = entries_of(&base.agencies, &two_agencies.entries);
    let library = Snapshot {
        list: list.clone(),
        version: Version::FIRST,
        created_at: Timestamp(T0),
        state: ListState::of(&listed),
        entries: listed,
        sequences: Default::default(),
        overrides: vec![],
        origins: vec![],
        extensions: vec![],
    };
    assert_eq!(
        library.encode_payload().unwrap(),
        encode(&two_agencies),
        "FORMAT.md's snapshot"
    );
    let snapshot = |doc: &wire::Snapshot| seal(DocType::Snapshot, &encode(doc), &[&publish_key]);
    c.add(
        "V5",
        "valid/snapshot-1-two-agencies.snapshot",
        &format!("snapshot {r1} 0"),
        "ok",
        &snapshot(&two_agencies),
    );
    let mut groups = base.adds.clone();
    groups.insert(
        2,
        group(2, meta(2, 1, Some(T0 + 30 * DAY)), &["+66812345678"]),
    );
    c.add(
        "G2",
        "payload/snapshot-listing-twice.snapshot",
        &format!("snapshot {r1} 0"),
        invalid,
        &snapshot(&snapshot_of(groups)),
    );
    submissions::cases(&mut c);
    acknowledgements::cases(&mut c);
    receipts::cases(&mut c);
    authorisations::cases(&mut c, &root1);
    c
}

/// The registry vectors (AR1-AR6), and a manifest listing registries (E1).
/// Keys: `06` is bank-004's, `07` and `08` are th-aoc's (see the README).
fn registry_cases(c: &mut Cases, manifest2: &Manifest) {
    let (root_key, publish_key, root_key_2, stranger) = (key(1), key(2), key(3), key(5));
    let r1 = "valid/root-1.root";
    let r12 = "valid/root-1.root+valid/root-2.root";
    let (bank, aoc_1, aoc_2) = (key(6), key(7), key(8));
    let agency_key = |k: &SecretKey, revoked_at| wire::AgencyKey {
        key: k.public_key().to_bytes(),
        revoked_at,
    };
    let bank_004 = wire::Agency {
        id: "bank-004".into(),
        name: "Bank 004 fraud team".into(),
        kinds: vec![1],
        keys: vec![agency_key(&bank, None)],
        revoked_at: None,
    };
    let mut aoc_keys = vec![agency_key(&aoc_1, None), agency_key(&aoc_2, None)];
    aoc_keys.sort_by_key(|k| PublicKey::from_bytes(&k.key).unwrap().id());
    let th_aoc = wire::Agency {
        id: "th-aoc".into(),
        name: "Anti-Online Scam Operations Centre".into(),
        kinds: vec![2, 3],
        keys: aoc_keys,
        revoked_at: None,
    };
    let v1 = wire::Registry {
        list: LIST.into(),
        version: 1,
        issued_at: T0,
        agencies: vec![bank_004.clone(), th_aoc.clone()],
        extensions: vec![],
    };
    let sealed =
        |doc: &wire::Registry, keys: &[&SecretKey]| seal(DocType::Registry, &encode(doc), keys);
    let reg1 = "valid/registry-1.registry";
    let v1_bytes = sealed(&v1, &[&root_key]);
    // The library makes the same bytes from its own types.
    let library = Registry::decode_payload(&encode(&v1)).unwrap();
    assert_eq!(library.sign(&[&root_key]).unwrap(), v1_bytes);
    c.add("AR3", reg1, &format!("registry {r1} -"), "ok", &v1_bytes);
    c.add(
        "AR3",
        reg1,
        &format!("registry {r1} {reg1}"),
        "!Replay",
        &v1_bytes,
    );

    // Version 2: th-aoc's second key revoked from a day on, bank-004 from two.
    let revoke_at = T0 + DAY;
    let revoked_key = |agency: &wire::Agency, k: &SecretKey, at| {
        let mut agency = agency.clone();
        for key in &mut agency.keys {
            if key.key == k.public_key().to_bytes() {
                key.revoked_at = Some(at);
            }
        }
        agency
    };
    let v2 = wire::Registry {
        version: 2,
        issued_at: revoke_at,
        agencies: vec![
            wire::Agency {
                revoked_at: Some(T0 + 2 * DAY),
                ..bank_004.clone()
            },
            revoked_key(&th_aoc, &aoc_2, revoke_at),
        ],
        ..v1.clone()
    };
    let reg2 = "valid/registry-2.registry";
    let v2_bytes = sealed(&v2, &[&root_key]);
    c.add(
        "AR3",
        reg2,
        &format!("registry {r1} {reg1}"),
        "ok",
        &v2_bytes,
    );
    c.add("AR3", reg2, &format!("registry {r1} -"), "!Gap", &v2_bytes);
    c.add(
        "AR3",
        reg1,
        &format!("registry {r1} {reg1}+{reg2}"),
        "!Rollback",
        &v1_bytes,
    );

    // Who may sign (AR2).
    c.add(
        "AR2",
        "registry/signed-by-publish-key.registry",
        &format!("registry {r1} -"),
        "!UnknownKey",
        &sealed(&v1, &[&publish_key]),
    );
    c.add(
        "AR2",
        "registry/stray-extra-signature.registry",
        &format!("registry {r1} -"),
        "!UnknownKey",
        &sealed(&v1, &[&root_key, &stranger]),
    );
    let mut unsigned = v1_bytes.clone();
    unsigned.truncate(signature_at(&v1_bytes) - 33);
    unsigned.push(0);
    c.add(
        "AR2",
        "registry/no-signatures.registry",
        &format!("registry {r1} -"),
        "!ThresholdNotMet",
        &unsigned,
    );
    c.add(
        "AR2",
        reg1,
        &format!("registry {r12} -"),
        "!UnknownKey",
        &v1_bytes,
    );
    c.add(
        "AR2",
        "valid/registry-1-root-2.registry",
        &format!("registry {r12} -"),
        "ok",
        &sealed(&v1, &[&root_key_2]),
    );
    let mut as_root = seal(DocType::Root, &encode(&v1), &[&root_key]);
    as_root[5] = DocType::Registry.code();
    c.add(
        "H3",
        "registry/signed-as-root.registry",
        &format!("registry {r1} -"),
        "!BadSignature",
        &as_root,
    );
    c.add(
        "G1",
        "registry/other-list.registry",
        &format!("registry {r1} -"),
        "!WrongList",
        &sealed(
            &wire::Registry {
                list: "other".into(),
                ..v1.clone()
            },
            &[&root_key],
        ),
    );

    // Form (AR1), each a change to version 1.
    let form =
        |c: &mut Cases, rule, file: &str, expected: &str, f: &dyn Fn(&mut wire::Registry)| {
            let mut doc = v1.clone();
            f(&mut doc);
            let bytes = sealed(&doc, &[&root_key]);
            c.add(rule, file, &format!("registry {r1} -"), expected, &bytes);
        };
    let invalid = "!Malformed.Invalid";
    form(c, "G1", "registry/version-0.registry", invalid, &|d| {
        d.version = 0
    });
    form(
        c,
        "AR1",
        "registry/agencies-not-ascending.registry",
        invalid,
        &|d| d.agencies.reverse(),
    );
    form(c, "AR1", "registry/agency-twice.registry", invalid, &|d| {
        d.agencies[1] = wire::Agency {
            keys: vec![agency_key(&aoc_1, None)],
            ..d.agencies[0].clone()
        }
    });
    form(
        c,
        "AR1",
        "registry/agency-id-with-space.registry",
        invalid,
        &|d| d.agencies[0].id = "bank 004".into(),
    );
    form(c, "AR1", "registry/name-empty.registry", invalid, &|d| {
        d.agencies[0].name.clear()
    });
    form(
        c,
        "AR1",
        "registry/name-129-bytes.registry",
        invalid,
        &|d| d.agencies[0].name = "n".repeat(129),
    );
    form(
        c,
        "AR1",
        "registry/name-control-character.registry",
        invalid,
        &|d| d.agencies[0].name = "Bank\u{85}004".into(),
    );
    form(c, "AR1", "registry/kinds-empty.registry", invalid, &|d| {
        d.agencies[0].kinds.clear()
    });
    form(
        c,
        "AR1",
        "registry/kinds-not-ascending.registry",
        invalid,
        &|d| d.agencies[1].kinds.reverse(),
    );
    form(c, "AR1", "registry/keys-empty.registry", invalid, &|d| {
        d.agencies[0].keys.clear()
    });
    form(
        c,
        "AR1",
        "registry/keys-not-ascending.registry",
        invalid,
        &|d| d.agencies[1].keys.reverse(),
    );
    form(
        c,
        "AR1",
        "registry/key-small-order.registry",
        invalid,
        &|d| {
            let mut identity = [0u8; 32];
            identity[0] = 1;
            d.agencies[0].keys[0].key = identity;
        },
    );
    form(
        c,
        "AR1",
        "registry/key-in-two-agencies.registry",
        invalid,
        &|d| d.agencies[0].keys = vec![agency_key(&aoc_1, None)],
    );
    form(
        c,
        "E1",
        "registry/extensions-not-ascending.registry",
        invalid,
        &|d| {
            d.extensions = vec![
                wire::Extension {
                    tag: 2,
                    data: vec![],
                },
                wire::Extension {
                    tag: 1,
                    data: vec![],
                },
            ]
        },
    );
    form(
        c,
        "AR1",
        "valid/registry-1-unknown-kind-and-extension.registry",
        "ok",
        &|d| {
            d.agencies[0].kinds.push(99);
            d.extensions = vec![wire::Extension {
                tag: 7,
                data: vec![1, 2],
            }];
        },
    );
    let mut trailing = encode(&v1);
    trailing.push(0);
    c.add(
        "P1",
        "registry/trailing-byte.registry",
        &format!("registry {r1} -"),
        "!Malformed.NonCanonical",
        &seal(DocType::Registry, &trailing, &[&root_key]),
    );

    // History (AR4, AR5): each a version 2 after registry-1, or 3 after 2.
    let next = |c: &mut Cases, rule, file: &str, after_2: bool, f: &dyn Fn(&mut wire::Registry)| {
        let (mut doc, held) = if after_2 {
            (
                wire::Registry {
                    version: 3,
                    ..v2.clone()
                },
                format!("{reg1}+{reg2}"),
            )
        } else {
            (
                wire::Registry {
                    version: 2,
                    ..v1.clone()
                },
                reg1.to_owned(),
            )
        };
        f(&mut doc);
        let bytes = sealed(&doc, &[&root_key]);
        c.add(
            rule,
            file,
            &format!("registry {r1} {held}"),
            "!RegistryChange",
            &bytes,
        );
    };
    next(c, "AR4", "registry/agency-dropped.registry", false, &|d| {
        d.agencies.remove(0);
    });
    next(c, "AR4", "registry/kind-dropped.registry", false, &|d| {
        d.agencies[1].kinds.pop();
    });
    next(c, "AR4", "registry/key-dropped.registry", false, &|d| {
        d.agencies[1].keys.pop();
    });
    next(c, "AR4", "registry/key-moved.registry", false, &|d| {
        let moved = d.agencies[1].keys.pop().unwrap();
        d.agencies[0].keys.push(moved);
        d.agencies[0]
            .keys
            .sort_by_key(|k| PublicKey::from_bytes(&k.key).unwrap().id());
    });
    next(
        c,
        "AR4",
        "registry/revocation-lifted.registry",
        true,
        &|d| {
            d.agencies[0].revoked_at = None;
        },
    );
    next(
        c,
        "AR4",
        "registry/key-revocation-moved-later.registry",
        true,
        &|d| {
            d.agencies[1] = revoked_key(&th_aoc, &aoc_2, revoke_at + 1);
        },
    );
    next(
        c,
        "AR4",
        "registry/issued-before-previous.registry",
        false,
        &|d| {
            d.issued_at = T0 - 1;
        },
    );
    next(
        c,
        "AR5",
        "registry/revoked-before-issued.registry",
        false,
        &|d| {
            d.issued_at = T0 + DAY;
            d.agencies[0].revoked_at = Some(T0 + DAY - 1);
        },
    );
    form(
        c,
        "AR5",
        "registry/version-1-revoked-before-issued.registry",
        "!RegistryChange",
        &|d| d.agencies[0].keys[0].revoked_at = Some(T0 - 1),
    );

    // Authorisation (AR6) under registry 2 (taken after registry 1).
    let held = reg1;
    for (seed, kind, at, expected) in [
        ("06", "account", T0 + 2 * DAY - 1, "ok"),
        ("06", "account", T0 + 2 * DAY, "!AgencyRevoked"),
        ("06", "number", T0, "!KindOutOfScope"),
        ("08", "domain", revoke_at - 1, "ok"),
        ("08", "domain", revoke_at, "!KeyRevoked"),
        ("07", "domain", revoke_at, "ok"),
        ("07", "account", T0, "!KindOutOfScope"),
        ("05", "number", T0, "!UnknownKey"),
    ] {
        c.add(
            "AR6",
            reg2,
            &format!("authorise {r1} {held} {seed} {kind} {at}"),
            expected,
            &v2_bytes,
        );
    }

    // A manifest listing the registries (E1, tag 1), and one whose tag 1 holds an empty list.
    let with_registries = Manifest {
        serial: manifest2.serial + 1,
        registries: vec![file_ref(1, &v1_bytes), file_ref(2, &v2_bytes)],
        log: None,
        ..manifest2.clone()
    };
    c.add(
        "E1",
        "valid/manifest-2-registries.manifest",
        &format!("manifest {r1} {T0} -"),
        "ok",
        &with_registries.sign(&[&publish_key]).unwrap(),
    );
    let mut payload = manifest2.encode_payload().unwrap();
    // The payload ends with its extension list: none, made one (tag 1, an empty list).
    assert_eq!(payload.pop(), Some(0));
    payload.extend_from_slice(&[1, REGISTRIES_EXTENSION as u8, 1, 0]);
    c.add(
        "E1",
        "manifest/registries-extension-empty.manifest",
        &format!("manifest {r1} {T0} -"),
        "!Malformed.Invalid",
        &seal(DocType::Manifest, &payload, &[&publish_key]),
    );
}

fn live_of(entries: &[Entry]) -> Vec<Entry> {
    entries
        .iter()
        .filter(|e| e.meta.is_active(Timestamp(T0)))
        .cloned()
        .collect()
}

/// documents.tsv as the generator writes it.
fn documents_table(cases: &Cases) -> String {
    let mut out = String::from(
        "# Signed documents that must verify or must be refused (see README.md).\n\
         # Columns, tab-separated: rule, file, check, expected.\n\
         # Generated by blocklist-core/tests/core/conformance.rs (BLOCKLIST_BLESS=1); do not edit.\n",
    );
    for case in &cases.0 {
        out.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            case.rule, case.file, case.check, case.expected
        ));
    }
    out
}

#[test]
fn committed_document_vectors_are_what_the_generator_makes() {
    let cases = document_cases();
    let dir = conformance_dir().join("documents");
    let mut files: BTreeMap<&str, &[u8]> = BTreeMap::new();
    for case in &cases.0 {
        let previous = files.insert(&case.file, &case.bytes);
        assert!(
            previous.is_none_or(|p| p == case.bytes.as_slice()),
            "{} is made twice with different bytes",
            case.file
        );
    }
    let table = documents_table(&cases);
    if std::env::var_os("BLOCKLIST_BLESS").is_some() {
        let _ = std::fs::remove_dir_all(&dir);
        for (file, bytes) in &files {
            let path = dir.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        std::fs::write(conformance_dir().join("documents.tsv"), &table).unwrap();
    }
    for (file, bytes) in &files {
        let path = dir.join(file);
        let committed = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (BLOCKLIST_BLESS=1 writes it)", path.display()));
        assert!(
            committed == *bytes,
            "{file} differs from the generator's (BLOCKLIST_BLESS=1 rewrites it)"
        );
    }
    assert_eq!(
        std::fs::read_to_string(conformance_dir().join("documents.tsv")).unwrap(),
        table,
        "documents.tsv differs from the generator's (BLOCKLIST_BLESS=1 rewrites it)"
    );
}

/// A verifier pinned to the first of `chain` (`a.root+b.root`) and rotated through the rest.
fn verifier(chain: &str) -> Verifier {
    let read = |file: &str| std::fs::read(conformance_dir().join("documents").join(file)).unwrap();
    let mut files = chain.split('+');
    let mut verifier =
        Verifier::pin(&read(files.next().unwrap())).expect("the chain's first root pins");
    for file in files {
        verifier.rotate(&read(file)).expect("the chain rotates");
    }
    verifier
}

/// A verifier at `chain` that has accepted the registries `held` (`a+b`, or `-` for none).
fn registries(chain: &str, held: &str) -> Verifier {
    let mut verifier = verifier(chain);
    for file in held.split('+').filter(|f| *f != "-") {
        let bytes = std::fs::read(conformance_dir().join("documents").join(file)).unwrap();
        verifier
            .accept_registry(&bytes)
            .unwrap_or_else(|e| panic!("{file} is accepted as the next registry: {e}"));
    }
    verifier
}

fn version(n: &str) -> Option<Version> {
    Version::new(n.parse().expect("a version number"))
}

/// Runs one check of documents.tsv on `bytes`: "ok" or "!" and the refusal.
fn run_check(check: &str, bytes: &[u8]) -> String {
    let words: Vec<&str> = check.split(' ').collect();
    let verdict = |r: Result<(), VerifyError>| match r {
        Ok(()) => "ok".to_owned(),
        Err(e) => format!("!{}", verify_refusal(&e)),
    };
    match words[..] {
        ["pin"] => verdict(Verifier::pin(bytes).map(drop)),
        ["rotate", chain] => verdict(verifier(chain).rotate(bytes).map(drop)),
        ["delta", chain, held] => verdict(verifier(chain).delta(bytes, version(held)).map(drop)),
        ["snapshot", chain, held] => {
            verdict(verifier(chain).snapshot(bytes, version(held)).map(drop))
        }
        ["snapshot-registered", chain, held] => {
            verdict(registries(chain, held).snapshot(bytes, None).map(drop))
        }
        ["registry", chain, held] => {
            verdict(registries(chain, held).check_registry(bytes).map(drop))
        }
        ["authorise", chain, held, seed, kind, at] => {
            let mut verifier = registries(chain, held);
            let registry = match verifier.accept_registry(bytes) {
                Ok(registry) => registry,
                Err(e) => return format!("!{}", verify_refusal(&e)),
            };
            let seed = u8::from_str_radix(seed, 16).expect("a seed byte in hex");
            match registry.authorise(
                &key(seed).public_key().id(),
                kind_named(kind),
                Timestamp(at.parse().expect("a time")),
            ) {
                Ok(_) => "ok".to_owned(),
                Err(e) => format!("!{}", variant_of(&format!("{e:?}"))),
            }
        }
        ["manifest", chain, now, seen] => verdict(
            verifier(chain)
                .manifest(bytes, Timestamp(now.parse().unwrap()), seen.parse().ok())
                .map(drop),
        ),
        ["submission", chain, registry, now] => submissions::run(chain, registry, now, bytes),
        ["acknowledgement", chain] => verdict(verifier(chain).acknowledgement(bytes).map(drop)),
        ["receipt", keys] => receipts::run(keys, bytes),
        ["apply", chain, ref before @ ..] => apply(verifier(chain), before, bytes),
        ["apply-registered", chain, held, ref before @ ..] => {
            apply(registries(chain, held), before, bytes)
        }
        _ => panic!("unknown check {check:?}"),
    }
}

/// Runs an `apply` check with `verifier`: starting from the empty list,
/// verifies and applies each file of `before` as a delta (each must succeed),
/// then `bytes`: "ok" or "!" and the refusal.
fn apply(verifier: Verifier, before: &[&str], bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(dir.path().join("list.db"), verifier.root().list.as_str()).unwrap();
    let mut held = None;
    let mut apply = |bytes: &[u8]| -> Result<(), String> {
        let delta: Verified<Delta> = verifier
            .delta(bytes, held)
            .map_err(|e| format!("!{}", verify_refusal(&e)))?;
        store
            .apply_delta(&delta, "conformance")
            .map_err(|e| format!("!{}", store_refusal(&e)))?;
        held = Some(delta.version);
        Ok(())
    };
    for file in before {
        let earlier = std::fs::read(conformance_dir().join("documents").join(file)).unwrap();
        apply(&earlier).unwrap_or_else(|e| panic!("{file} applies: {e}"));
    }
    apply(bytes).map_or_else(|e| e, |()| "ok".to_owned())
}

#[test]
fn document_vectors_verify_or_are_refused_for_the_named_reason() {
    let mut outcome = Outcome::default();
    for row in read_rows("documents.tsv", 4) {
        let [rule, file, check, expected] = &row.fields[..] else {
            unreachable!()
        };
        let bytes = std::fs::read(conformance_dir().join("documents").join(file)).unwrap();
        let got = run_check(check, &bytes);
        let at = format!("documents.tsv:{} {file} ({check})", row.line);
        outcome.check(rule, at, expected, &got);
    }
    outcome.finish("documents.tsv");
}
