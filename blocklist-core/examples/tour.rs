//! A tour of the whole chain on embedded data, with no setup: a demo centre
//! signs two versions of a list, a client verifies them, applies them to its
//! SQLite replica, publishes the lookup index and checks identifiers in the
//! forms people type them. Tampered, replayed and out-of-order files are shown
//! being refused.
//!
//! `cargo run --release -p blocklist-core --example tour [DATA_DIR]`
//! (without DATA_DIR the replica lives in a temporary folder).

use std::time::Instant;

use blocklist_core::document::*;
use blocklist_core::index::LiveIndex;
use blocklist_core::replica::Replica;
use blocklist_core::verify::Verifier;
use blocklist_core::*;

const SCAM_DOMAINS: &str = include_str!("data/scam-domains.txt");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let data = std::env::args_os()
        .nth(1)
        .map_or_else(|| temp.path().to_path_buf(), Into::into);
    let rules = Rules::default();
    let now = Timestamp::now();

    // The centre: one key for both roles here (real centres keep root keys offline).
    let key = SecretKey::generate()?;
    let list = ListId::new("th-national")?;
    let root =
        TrustRoot::single_key(list.clone(), &key, now, now.plus(365 * 86_400)).sign(&[&key])?;
    println!("centre: list {list}, key {}", key.public_key().id());

    let meta = |reason, agency: &str, expires_at| EntryMeta {
        reason,
        agency: Agency::new(agency).expect("valid agency"),
        listed_at: now,
        expires_at,
    };
    let mut v1 = Vec::new();
    for line in SCAM_DOMAINS.lines() {
        let id = Identifier::parse(Kind::Domain, line, &rules)?;
        v1.push(Entry {
            id,
            meta: meta(Reason::FRAUD, "blocklistproject", None),
        });
    }
    for (kind, raw, reason, agency) in [
        (Kind::Number, "081-234-5678", Reason::SCAM_CALL, "th-police"),
        (
            Kind::Number,
            "+66 2 123 4567",
            Reason::IMPERSONATION,
            "th-aoc",
        ),
        (
            Kind::Account,
            "004 123-4-56789-0",
            Reason::MULE_ACCOUNT,
            "bank-004",
        ),
        (
            Kind::Account,
            "GB82 WEST 1234 5698 7654 32",
            Reason::MULE_ACCOUNT,
            "th-aoc",
        ),
        (Kind::Domain, "ธนาคาร-ปลอม.com", Reason::PHISHING, "th-aoc"),
    ] {
        v1.push(Entry {
            id: Identifier::parse(kind, raw, &rules)?,
            meta: meta(reason, agency, None),
        });
    }
    // The centre follows the list's state change by change (a sum: an
    // entry in or out costs the same whatever the list's size).
    let mut state = StateAccumulator::of(&v1);
    let delta1 = Delta {
        list: list.clone(),
        version: Version::FIRST,
        created_at: now,
        ops: v1.iter().cloned().map(Op::Add).collect(),
        state: state.state(Commitment::CURRENT),
        submissions: vec![],
        overrides: vec![],
        extensions: vec![],
    };
    let delta1 = delta1.sign(&[&key])?;

    // Version 2: a number is unlisted, an account freeze gets an expiry in the past
    // (so it stops matching at once), a new number is listed.
    let unlisted = v1[v1.len() - 5].clone();
    let mut frozen = v1[v1.len() - 3].clone();
    frozen.meta.expires_at = Some(Timestamp(now.0 - 1));
    let added = Entry {
        id: Identifier::parse(Kind::Number, "0066 98 765 4321", &rules)?,
        meta: meta(Reason::SCAM_SMS, "telco-ais", None),
    };
    state.remove(&unlisted);
    state.remove(&v1[v1.len() - 3]);
    state.add(&frozen);
    state.add(&added);
    let delta2 = Delta {
        list,
        version: Version::new(2).expect("2"),
        created_at: now,
        ops: vec![
            Op::Remove(unlisted.id, None),
            Op::Update(frozen),
            Op::Add(added),
        ],
        state: state.state(Commitment::CURRENT),
        submissions: vec![],
        overrides: vec![],
        extensions: vec![],
    }
    .sign(&[&key])?;
    println!(
        "centre: delta 1 ({} entries, {} bytes), delta 2 (3 operations, {} bytes)\n",
        v1.len(),
        delta1.len(),
        delta2.len()
    );

    // A client: pins the root, refuses what does not verify, applies what does.
    let verifier = Verifier::pin(&root)?;
    let mut replica = Replica::open(&data, "th-national")?;
    let mut tampered = delta1.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    println!(
        "client: tampered delta 1 -> {}",
        verifier.delta(&tampered, None).unwrap_err()
    );
    println!(
        "client: delta 2 first    -> {}",
        verifier.delta(&delta2, None).unwrap_err()
    );
    for (name, bytes) in [("delta 1", &delta1), ("delta 2", &delta2)] {
        let held = replica.state()?.version;
        let verified = verifier.delta(bytes, held)?;
        let applied = replica.apply_delta(&verified, name)?;
        println!("client: {name:<16} -> {applied:?}");
    }
    println!(
        "client: delta 2 again    -> {}",
        verifier
            .delta(&delta2, replica.state()?.version)
            .unwrap_err()
    );
    let held = replica.state()?;
    println!(
        "client: holds version {} ({} entries, digest {}), index at {}\n",
        held.version.map_or(0, |v| v.get()),
        held.state.entries,
        &held.state.digest.to_string()[..16],
        replica.index_path().display()
    );

    // Lookups, from raw text as a payment or a call presents it.
    let index = LiveIndex::open(replica.index_path())?;
    let index = index.load();
    let first = SCAM_DOMAINS.lines().next().unwrap_or_default();
    let subdomain = format!("secure.{}.", first.to_uppercase());
    for (kind, raw, note) in [
        (Kind::Number, "+66 81 234 5678", "unlisted in version 2"),
        (Kind::Number, "02-123-4567", "listed in version 1"),
        (
            Kind::Number,
            "098 765 4321",
            "added in version 2 as 0066 98 765 4321",
        ),
        (Kind::Number, "081-234-5679", "never listed"),
        (
            Kind::Account,
            "004/1234567890",
            "freeze expired in version 2",
        ),
        (Kind::Account, "GB82WEST12345698765432", "an IBAN"),
        (
            Kind::Domain,
            "https://login.WWW.ธนาคาร-ปลอม.com/verify",
            "URL under a listed IDN",
        ),
        (
            Kind::Domain,
            subdomain.as_str(),
            "subdomain of a listed name",
        ),
        (Kind::Domain, "example.org", "never listed"),
        (Kind::Domain, "co.th", "a public suffix"),
    ] {
        let verdict = match index.check(kind, raw, &rules, Timestamp::now()) {
            Ok(Some(hit)) => format!(
                "LISTED as {} ({}, by {})",
                hit.matched, hit.reason, hit.agency
            ),
            Ok(None) => "not listed".to_owned(),
            Err(e) => format!("refused: {e}"),
        };
        println!("  {kind:<7} {raw:<42} [{note}]\n          -> {verdict}");
    }

    let probes: Vec<String> = (0..1_000_000u64)
        .map(|i| format!("+6681{:07}", i % 10_000_000))
        .collect();
    let started = Instant::now();
    let hits = probes
        .iter()
        .filter(|p| index.lookup_canonical(Kind::Number, p, now).is_some())
        .count();
    let per = started.elapsed().as_nanos() as f64 / probes.len() as f64;
    println!(
        "\n{} lookups of canonical numbers: {hits} listed, {per:.0} ns each",
        probes.len()
    );
    Ok(())
}
