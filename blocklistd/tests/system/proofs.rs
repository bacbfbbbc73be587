//! Proofs for people: a number listed by th-aoc's signed submission,
//! updated by th-aoc, and removed by an override of two judges, with an
//! unrelated version between; `blocklist prove` writes the bundle and
//! `blocklist verify-proof` checks it offline against the first trust root
//! and tells the history in words (and JSON); every flipped byte of the
//! bundle is refused. Then a witness's cosignature checked when named, a
//! history after its first deltas were pruned, and th-aoc's own removal.

use std::time::Instant;

use blocklist_core::proof::verify_bundle;

use crate::overrides::{appeal_board, override_args, seat_board};
use crate::submissions::{aoc_lists_a_number, centre_with_agencies, list_numbers, submit};
use crate::support::{fails, ok, s};
use crate::transparency_log::witness;

#[test]
fn a_bundle_proves_a_listing_its_update_and_its_removal_by_override_and_refuses_any_flipped_byte() {
    let (centre, aoc_key, dsi_key) = centre_with_agencies();
    // Version 1: th-aoc lists 081 234 5678 for scam calls.
    let (numbers, listing) = aoc_lists_a_number(&centre, &aoc_key);
    ok(&centre.publish_args(&["--submission", s(&listing)]));
    // Version 2: th-dsi lists another number; the bundle need not carry it.
    let other = centre.input("other.txt", b"082 222 3333\n");
    let dsi = list_numbers(
        &centre,
        "th-dsi",
        &dsi_key,
        "dsi-1.submission",
        &other,
        "fraud",
    );
    ok(&centre.publish_args(&["--submission", s(&dsi)]));
    // Version 3: th-aoc updates its listing: fraud now.
    let update = submit(
        &centre,
        "th-aoc",
        &aoc_key,
        "aoc-update.submission",
        &[
            "--kind",
            "number",
            "--reason",
            "fraud",
            "--update",
            s(&numbers),
        ],
    );
    ok(&centre.publish_args(&["--submission", s(&update)]));
    // Version 4: two of three judges remove it over th-aoc's head.
    let board = appeal_board(&centre);
    seat_board(&centre, &board);
    let decision = centre.tmp.path().join("appeal-114.override");
    ok(&override_args(&centre, &decision, &[&board[0], &board[2]]));
    ok(&centre.publish_args(&["--override", s(&decision)]));

    let bundle = centre.tmp.path().join("number.proof");
    let made = ok(&[
        "prove",
        s(&centre.dir),
        "number",
        "081-234-5678",
        "-o",
        s(&bundle),
    ]);
    assert!(
        made.contains("up to version 4, 3 delta(s) of the 4 held that changed it"),
        "{made}"
    );
    let root = centre.first_root();
    let inspected = fails(&["inspect", s(&bundle)]);
    assert!(inspected.contains("is a proof bundle, not a signed document: check and read it with blocklist verify-proof"), "{inspected}");
    let words = ok(&["verify-proof", s(&bundle), "--root", s(&root)]);
    for said in [
        "number:+66812345678 on list th-test, up to version 4:",
        "- version 1, published ",
        "listed by th-aoc for scam_call, never expiring; asked by th-aoc (Anti-Online Scam Centre) in its submission ",
        "- version 3, published ",
        "th-aoc's listing updated: now for fraud, never expiring; asked by th-aoc",
        "- version 4, published ",
        "th-aoc's listing (for fraud, listed ",
        "removed; by override, over th-aoc's head: because appeal_upheld, \"Appeal 2026/114 upheld by the review board\"; signed ",
        "by 2 override key(s)",
        "At version 4: not listed.",
        "Proven: every change above is in a delta signed by the centre's publish keys",
        "trust root 2 signed",
        "Not proven: that no other version changed this identifier.",
    ] {
        assert!(words.contains(said), "{said:?} not in:\n{words}");
    }
    assert!(!words.contains("version 2,"), "{words}");

    let json: serde_json::Value = serde_json::from_str(&ok(&[
        "verify-proof",
        s(&bundle),
        "--root",
        s(&root),
        "--json",
    ]))
    .unwrap();
    assert_eq!(json["listed"], false, "{json:#}");
    let changes: Vec<_> = json["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["version"].as_u64().unwrap(),
                e["change"].as_str().unwrap(),
                e["by"]["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            (1, "listed", "agency"),
            (3, "updated", "agency"),
            (4, "removed", "override")
        ]
    );

    // Up to version 3 (the newest version at or before its time, too):
    // still listed, for fraud.
    let at_3 = centre.tmp.path().join("number-3.proof");
    ok(&[
        "prove",
        s(&centre.dir),
        "number",
        "0812345678",
        "--at",
        "3",
        "-o",
        s(&at_3),
    ]);
    let words = ok(&["verify-proof", s(&at_3), "--root", s(&root)]);
    assert!(
        words.contains("At version 3: listed by th-aoc for fraud since "),
        "{words}"
    );
    assert!(!words.contains("version 4"), "{words}");
    let far = fails(&[
        "prove",
        s(&centre.dir),
        "number",
        "0812345678",
        "--at",
        "1970-01-02T00:00:00Z",
        "-o",
        s(&at_3),
    ]);
    assert!(far.contains("no delta held"), "{far}");

    // Another root than the list's: refused, naming it.
    let stranger = crate::support::Centre::new();
    let refused = fails(&[
        "verify-proof",
        s(&bundle),
        "--root",
        s(&stranger.first_root()),
    ]);
    assert!(refused.contains("is not the trust root given"), "{refused}");

    // Every byte flipped, in process (the CLI for a few): each refused.
    let bytes = std::fs::read(&bundle).unwrap();
    let root_bytes = std::fs::read(&root).unwrap();
    verify_bundle(&bytes, &root_bytes).unwrap();
    let started = Instant::now();
    for at in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x01;
        assert!(
            verify_bundle(&flipped, &root_bytes).is_err(),
            "byte {at} of {} flipped and still verified",
            bytes.len()
        );
    }
    eprintln!(
        "{} bytes flipped one at a time, each refused, in {:?}",
        bytes.len(),
        started.elapsed()
    );
    for at in [0, 20, bytes.len() / 2, bytes.len() - 1] {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x80;
        let path = centre.tmp.path().join(format!("flipped-{at}.proof"));
        std::fs::write(&path, &flipped).unwrap();
        let refused = fails(&["verify-proof", s(&path), "--root", s(&root)]);
        assert!(refused.contains("error: "), "{refused}");
        assert!(refused.contains(s(&path)), "{refused}");
    }

    // A witness cosigns the checkpoint: a bundle made now carries its line,
    // which verify-proof checks when the witness is named, and refuses
    // once changed.
    let keys = centre.tmp.path().join("witness");
    ok(&["keygen", s(&keys)]);
    let vkey = ok(&[
        "witness-key",
        "--name",
        "witness.example",
        "--key",
        s(&keys.with_extension("pub")),
    ]);
    let vkey = vkey.trim();
    let cosigned = centre.tmp.path().join("witness.checkpoint");
    let state = centre.tmp.path().join("witness-state");
    witness(
        &centre,
        &keys.with_extension("key"),
        &state,
        s(&centre.dir),
        &cosigned,
    )
    .unwrap();
    ok(&["cosign", s(&centre.dir), s(&cosigned)]);
    let witnessed = centre.tmp.path().join("witnessed.proof");
    ok(&[
        "prove",
        s(&centre.dir),
        "number",
        "0812345678",
        "-o",
        s(&witnessed),
    ]);
    let words = ok(&[
        "verify-proof",
        s(&witnessed),
        "--root",
        s(&root),
        "--witness",
        vkey,
    ]);
    assert!(
        words.contains("Witnessed: the checkpoint is cosigned by witness.example."),
        "{words}"
    );
    let unnamed = ok(&["verify-proof", s(&witnessed), "--root", s(&root)]);
    assert!(!unnamed.contains("Witnessed"), "{unnamed}");
    let mut bytes = std::fs::read(&witnessed).unwrap();
    let line = "\u{2014} witness.example ".as_bytes();
    let at = bytes.windows(line.len()).position(|w| w == line).unwrap() + line.len() + 20;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&witnessed, &bytes).unwrap();
    let refused = fails(&[
        "verify-proof",
        s(&witnessed),
        "--root",
        s(&root),
        "--witness",
        vkey,
    ]);
    assert!(refused.contains("witness witness.example"), "{refused}");

    // Once the deltas that listed it are pruned, no bundle shows them, and
    // prove says so.
    ok(&["snapshot", s(&centre.dir), "--key", s(&centre.publish_key)]);
    let update = submit(
        &centre,
        "th-aoc",
        &aoc_key,
        "aoc-again.submission",
        &["--kind", "number", "--reason", "scam_sms", s(&numbers)],
    );
    ok(&centre.publish_args(&["--submission", s(&update)]));
    ok(&[
        "prune",
        s(&centre.dir),
        "--key",
        s(&centre.publish_key),
        "--keep",
        "1",
    ]);
    let out = crate::support::run(&[
        "prove",
        s(&centre.dir),
        "number",
        "0812345678",
        "-o",
        s(&witnessed),
    ]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{said}");
    assert!(
        said.contains("note: deltas before version 5 were pruned from "),
        "{said}"
    );
    let words = ok(&["verify-proof", s(&witnessed), "--root", s(&root)]);
    assert!(words.contains("- version 5, published "), "{words}");
    assert!(words.contains("listed by th-aoc for scam_sms"), "{words}");
    assert!(!words.contains("version 1,"), "{words}");

    // th-aoc removes its new listing itself: the reason it gave is shown.
    let removal = crate::submissions::remove_numbers(
        &centre,
        "th-aoc",
        &aoc_key,
        "aoc-remove.submission",
        &numbers,
        "cleared",
    );
    ok(&centre.publish_args(&["--submission", s(&removal)]));
    ok(&[
        "prove",
        s(&centre.dir),
        "number",
        "0812345678",
        "-o",
        s(&witnessed),
    ]);
    let words = ok(&["verify-proof", s(&witnessed), "--root", s(&root)]);
    assert!(
        words.contains("- version 6, published ")
            && words.contains("th-aoc's listing (for scam_sms, listed ")
            && words.contains("removed; because cleared: asked by th-aoc (Anti-Online Scam Centre) in its submission "),
        "{words}"
    );
    assert!(words.contains("At version 6: not listed."), "{words}");
}
