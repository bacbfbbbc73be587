//! Overrides with real processes: an appeal board holding two of three
//! override keys removes an agency's listing that another agency may not
//! remove; the daemon checks the override's signatures, applies it, and
//! shows it in `/v1/history`; the same override offered again once the
//! agency has listed the number anew is refused. Over the intake service,
//! the board's override update gives an agency's listing another reason
//! and term, which the daemon answers and shows as the board's; the
//! agency's own update after it passes, and the override again does not.

use std::path::{Path, PathBuf};

use crate::daemon::{polling, Site};
use crate::intake::{json_of, resigned, Intake};
use crate::submissions::{
    aoc_lists_a_number, centre_with_agencies, dsi_removes_aocs_number, list_numbers, submit,
};
use crate::support::{fails, ok, s, Centre, Server};

/// Three override keys (judge-a, -b, -c), their secret files.
pub fn appeal_board(centre: &Centre) -> [PathBuf; 3] {
    ["judge-a", "judge-b", "judge-c"].map(|name| {
        let prefix = centre.tmp.path().join(name);
        ok(&["keygen", s(&prefix)]);
        prefix.with_extension("key")
    })
}

/// The root keys give `board` 2 of 3 override keys (the next root), and a
/// refresh lists it; returns the board's public key files.
pub fn seat_board(centre: &Centre, board: &[PathBuf; 3]) -> Vec<PathBuf> {
    let mut rotate = vec!["rotate", s(&centre.dir), "--sign-with", s(&centre.root_key)];
    let publics: Vec<PathBuf> = board.iter().map(|k| k.with_extension("pub")).collect();
    for public in &publics {
        rotate.extend(["--add-override-key", s(public)]);
    }
    rotate.extend(["--override-threshold", "2"]);
    ok(&rotate);
    ok(&["refresh", s(&centre.dir), "--key", s(&centre.publish_key)]);
    publics
}

/// `blocklist override` of th-aoc's number, to `decision`, signed by `signers`.
pub fn override_args<'a>(
    centre: &'a Centre,
    decision: &'a Path,
    signers: &[&'a Path],
) -> Vec<&'a str> {
    let mut args = vec![
        "override",
        s(&centre.dir),
        "--kind",
        "number",
        "081 234 5678",
        "--why",
        "appeal_upheld",
        "--note",
        "Appeal 2026/114 upheld by the review board",
        "-o",
        s(decision),
    ];
    for key in signers {
        args.extend(["--sign-with", s(key)]);
    }
    args
}

#[test]
fn an_override_removes_an_agencys_listing_and_the_daemon_shows_who_decided() {
    let (centre, aoc_key, dsi_key) = centre_with_agencies();
    let (numbers, listing) = aoc_lists_a_number(&centre, &aoc_key);
    ok(&centre.publish_args(&["--submission", s(&listing)]));
    let server = Server::start(&centre.dir);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    daemon.wait_version(1);

    // th-dsi may not remove th-aoc's listing, at the centre.
    let removal = dsi_removes_aocs_number(&centre, &dsi_key, &numbers);
    let refused = fails(&centre.publish_args(&["--submission", s(&removal)]));
    assert!(refused.contains("th-dsi may not remove it"), "{refused}");

    // No override can be made before the root names override keys.
    let decision = centre.tmp.path().join("appeal-114.override");
    let board = appeal_board(&centre);
    let none = fails(&override_args(&centre, &decision, &[&board[0], &board[1]]));
    assert!(none.contains("names no override keys"), "{none}");

    // The root keys give the board 2 of 3 override keys.
    let publics = seat_board(&centre, &board);
    let root = ok(&["inspect", s(&centre.files("roots")[1])]);
    assert!(root.contains("override keys: 2 of 3"), "{root}");

    // One judge is not enough; the publish key is no override key.
    let one = fails(&override_args(&centre, &decision, &[&board[0]]));
    assert!(
        one.contains("1 override key(s) given, trust root 2 needs 2"),
        "{one}"
    );
    let publisher = fails(&override_args(
        &centre,
        &decision,
        &[&centre.publish_key, &board[1]],
    ));
    assert!(publisher.contains("is not a override key"), "{publisher}");

    // Two judges decide; the centre publishes the override.
    ok(&override_args(&centre, &decision, &[&board[0], &board[2]]));
    let shown = ok(&["inspect", s(&decision)]);
    assert!(
        shown.contains("removes: number:+66812345678 listed by th-aoc"),
        "{shown}"
    );
    ok(&centre.publish_args(&["--override", s(&decision)]));
    let delta = ok(&["inspect", s(centre.files("deltas").last().unwrap())]);
    assert!(delta.contains("carried override:"), "{delta}");

    daemon.wait_version(2);
    assert!(!daemon.listed("number", "081-234-5678"));
    let history = daemon.json("/v1/history?kind=number&value=0812345678");
    assert_eq!(history["listings"], serde_json::json!([]), "{history:#}");
    let decided = &history["overrides"][0];
    assert_eq!(decided["version"], 2, "{history:#}");
    assert_eq!(decided["agency"], "th-aoc");
    assert_eq!(decided["why"], "appeal_upheld");
    assert_eq!(
        decided["note"],
        "Appeal 2026/114 upheld by the review board"
    );
    assert_eq!(
        decided["signers"].as_array().unwrap().len(),
        2,
        "{history:#}"
    );

    // th-aoc lists the number again: a new listing, which the old override
    // does not name, so offering it again is refused.
    let again = list_numbers(
        &centre,
        "th-aoc",
        &aoc_key,
        "aoc-2.submission",
        &numbers,
        "scam_call",
    );
    ok(&centre.publish_args(&["--submission", s(&again)]));
    daemon.wait_version(3);
    assert!(daemon.listed("number", "081-234-5678"));
    let replayed = fails(&centre.publish_args(&["--override", s(&decision)]));
    assert!(replayed.contains("make a new override"), "{replayed}");
    let history = daemon.json("/v1/history?kind=number&value=0812345678");
    assert_eq!(history["listings"][0]["agency"], "th-aoc", "{history:#}");
    assert_eq!(history["overrides"].as_array().unwrap().len(), 1);
    assert!(daemon.stop());

    // The auditor's replay checks the override too (W7).
    ok(&["verify", s(&centre.dir), "--root", s(&centre.first_root())]);
    // A judge leaves. The new root would refuse the override the listed
    // delta carries (one of its two signers is gone), so the next refresh
    // re-anchors the chain on a snapshot, which still verifies end to end.
    ok(&[
        "rotate",
        s(&centre.dir),
        "--sign-with",
        s(&centre.root_key),
        "--remove-override-key",
        s(&publics[0]),
    ]);
    ok(&["refresh", s(&centre.dir), "--key", s(&centre.publish_key)]);
    let manifest = ok(&["inspect", s(&centre.dir.join("manifest"))]);
    assert!(manifest.contains("snapshots/4-"), "{manifest}");
    assert!(!manifest.contains("deltas/2-"), "{manifest}");
    ok(&["verify", s(&centre.dir), "--root", s(&centre.first_root())]);
    // The snapshot carries the override: a replica that starts from it
    // shows it all the same.
    let shown = ok(&["inspect", s(&centre.files("snapshots")[0])]);
    assert!(shown.contains("past override: version 2"), "{shown}");
    let newcomer = Site::new();
    let daemon = newcomer.start(&polling(&centre.first_root(), &[&server.url]));
    daemon.wait_version(4);
    let history = daemon.json("/v1/history?kind=number&value=0812345678");
    assert_eq!(history["overrides"][0]["version"], 2, "{history:#}");
    assert_eq!(history["overrides"][0]["note"], decided["note"]);
    assert!(daemon.stop());
}

/// th-aoc's urgent listing of the numbers in `numbers` for `reason`, as
/// `name`: the intake service publishes it at once.
fn aoc_lists_at_once(
    centre: &Centre,
    aoc_key: &Path,
    name: &str,
    numbers: &Path,
    reason: &str,
) -> PathBuf {
    submit(
        centre,
        "th-aoc",
        aoc_key,
        name,
        &[
            "--kind",
            "number",
            "--reason",
            reason,
            "--urgent",
            s(numbers),
        ],
    )
}

/// POSTs `file` to the intake service's `path` and waits until it is
/// published: the version that carried it.
fn published(intake: &Intake, path: &str, file: &Path) -> u64 {
    let (status, location, body) = intake.post_to(path, file);
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&body));
    let location = location.expect("a Location header");
    intake.wait_state(&location, "published")["version"]
        .as_u64()
        .unwrap()
}

#[test]
fn an_override_update_over_the_intake_service_changes_an_agencys_listing_which_the_daemon_answers_and_shows(
) {
    let (centre, aoc_key, _) = centre_with_agencies();
    let board = appeal_board(&centre);
    seat_board(&centre, &board);
    let intake = Intake::start(&centre, "3600s", &[]);
    let numbers = centre.input("numbers.txt", b"081 234 5678\n");
    let listing = aoc_lists_at_once(&centre, &aoc_key, "aoc-1.submission", &numbers, "scam_call");
    let listed = published(&intake, "/v1/submissions", &listing);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&intake.url]));
    daemon.wait_version(listed);

    // A court shortens th-aoc's term and corrects its reason: two judges
    // sign an update of th-aoc's listing, which stays th-aoc's.
    let order = centre.tmp.path().join("order-2026-31.override");
    let note = "Court order 2026/31: term shortened";
    let mut args = vec![
        "override",
        s(&centre.dir),
        "--kind",
        "number",
        "081 234 5678",
        "--agency",
        "th-aoc",
        "--set-reason",
        "fraud",
        "--set-expires",
        "30d",
        "--why",
        "appeal_upheld",
        "--note",
        note,
        "-o",
        s(&order),
    ];
    for key in [&board[0], &board[2]] {
        args.extend(["--sign-with", s(key)]);
    }
    // th-dsi does not list the number: nothing of its to update.
    let of_dsi: Vec<&str> = args
        .iter()
        .map(|a| if *a == "th-aoc" { "th-dsi" } else { a })
        .collect();
    let unlisted = fails(&of_dsi);
    assert!(
        unlisted.contains("number +66812345678 is not listed by th-dsi"),
        "{unlisted}"
    );
    let made = blocklist_core::Timestamp::now().0;
    ok(&args);
    let shown = ok(&["inspect", s(&order)]);
    assert!(
        shown.contains("updates: number:+66812345678 listed by th-aoc")
            && shown.contains("to reason=fraud expires="),
        "{shown}"
    );
    let (status, location, body) = intake.post_to("/v1/overrides", &order);
    let accepted = json_of(&body);
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["removals"], 0, "{accepted}");
    assert_eq!(accepted["updates"], 1, "{accepted}");
    let updated = intake.wait_state(&location.unwrap(), "published")["version"]
        .as_u64()
        .unwrap();
    daemon.wait_version(updated);

    // The daemon answers with the board's reason and term...
    let answer = daemon.json("/v1/check?kind=number&value=0812345678");
    assert_eq!(answer["listed"], true, "{answer:#}");
    assert_eq!(answer["reason"], "fraud", "{answer:#}");
    assert_eq!(answer["agency"], "th-aoc", "{answer:#}");
    let expires = answer["expires_at"].as_u64().unwrap();
    let thirty_days = 30 * 86_400;
    assert!(
        (made + thirty_days..made + thirty_days + 120).contains(&expires),
        "{answer:#}"
    );
    // ...and shows who decided it.
    let history = daemon.json("/v1/history?kind=number&value=0812345678");
    assert_eq!(history["listings"][0]["reason"], "fraud", "{history:#}");
    let decided = &history["overrides"][0];
    assert_eq!(decided["change"], "updated", "{history:#}");
    assert_eq!(decided["version"], updated, "{history:#}");
    assert_eq!(decided["agency"], "th-aoc");
    assert_eq!(decided["reason"], "fraud");
    assert_eq!(decided["expires_at"], expires);
    assert_eq!(decided["note"], note);
    assert_eq!(decided["signers"].as_array().unwrap().len(), 2);
    assert_eq!(
        decided["override_sha256"],
        blocklist_core::Sha256::of(&std::fs::read(&order).unwrap()).to_string()
    );

    // th-aoc's own update of its listing after it still passes.
    let own = aoc_lists_at_once(&centre, &aoc_key, "aoc-2.submission", &numbers, "scam_call");
    let owned = published(&intake, "/v1/submissions", &own);
    daemon.wait_version(owned);
    let answer = daemon.json("/v1/check?kind=number&value=0812345678");
    assert_eq!(answer["reason"], "scam_call", "{answer:#}");
    assert_eq!(answer["expires_at"], serde_json::Value::Null, "{answer:#}");

    // The court's order carried again (by other judges) would undo it: a replay.
    let again = resigned(&centre, &order, &[&board[1], &board[2]], "again.override");
    let (status, _, body) = intake.post_to("/v1/overrides", &again);
    let error = json_of(&body)["error"].as_str().unwrap().to_owned();
    assert_eq!(status, 409, "{error}");
    assert!(
        error.contains(&format!(
            "the same decision was applied in version {updated}"
        )),
        "{error}"
    );
    assert!(daemon.stop());
    ok(&["verify", s(&centre.dir), "--root", s(&centre.first_root())]);

    // A proof bundle tells the update as the board's, in words.
    let bundle = centre.tmp.path().join("number.proof");
    ok(&[
        "prove",
        s(&centre.dir),
        "number",
        "0812345678",
        "-o",
        s(&bundle),
    ]);
    let words = ok(&[
        "verify-proof",
        s(&bundle),
        "--root",
        s(&centre.first_root()),
    ]);
    for said in [
        &format!("- version {updated}, published "),
        "th-aoc's listing updated: now for fraud, expiring ",
        &format!("by override, over th-aoc's head: because appeal_upheld, \"{note}\"; signed "),
        &format!("- version {owned}, published "),
        "th-aoc's listing updated: now for scam_call, never expiring; asked by th-aoc",
    ] {
        assert!(words.contains(said), "{said:?} not in:\n{words}");
    }
}

#[test]
fn an_override_update_needs_an_agency_and_one_made_before_the_agencys_own_update_is_refused_at_publish(
) {
    let (centre, aoc_key, _) = centre_with_agencies();
    let (numbers, listing) = aoc_lists_a_number(&centre, &aoc_key);
    ok(&centre.publish_args(&["--submission", s(&listing)]));
    let board = appeal_board(&centre);
    seat_board(&centre, &board);
    let order = centre.tmp.path().join("order.override");
    let mut args = override_args(&centre, &order, &[&board[0], &board[1]]);
    // Without --agency an update would touch every agency's listing.
    args.extend(["--set-expires", "30d"]);
    let unnamed = fails(&args);
    assert!(unnamed.contains("--agency"), "{unnamed}");
    // An expiry already passed is a removal, not an update.
    let mut past = args.clone();
    past.extend(["--agency", "th-aoc"]);
    *past.iter_mut().find(|a| **a == "30d").unwrap() = "2020-01-01";
    let expired = fails(&past);
    assert!(expired.contains("is not after now"), "{expired}");
    args.extend(["--agency", "th-aoc"]);
    ok(&args);
    // th-aoc changes its listing before the publish: the board's update,
    // decided over the old entry, would silently undo that change.
    let own = list_numbers(
        &centre,
        "th-aoc",
        &aoc_key,
        "aoc-2.submission",
        &numbers,
        "fraud",
    );
    ok(&centre.publish_args(&["--submission", s(&own)]));
    let stale = fails(&centre.publish_args(&["--override", s(&order)]));
    assert!(
        stale.contains("the listing changed since the board decided: make a new override"),
        "{stale}"
    );
}

#[test]
fn an_override_update_of_an_expired_listing_is_refused_unless_the_board_says_expired() {
    let (centre, aoc_key, _) = centre_with_agencies();
    let numbers = centre.input("numbers.txt", b"081 234 5678\n");
    let listing = submit(
        &centre,
        "th-aoc",
        &aoc_key,
        "aoc-1.submission",
        &[
            "--kind",
            "number",
            "--reason",
            "scam_call",
            "--expires",
            "2s",
            s(&numbers),
        ],
    );
    ok(&centre.publish_args(&["--submission", s(&listing)]));
    let board = appeal_board(&centre);
    seat_board(&centre, &board);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let order = centre.tmp.path().join("order.override");
    let mut args = override_args(&centre, &order, &[&board[0], &board[1]]);
    args.extend(["--agency", "th-aoc", "--set-expires", "30d"]);
    // Updating it would list it again: the board must say so.
    let refused = fails(&args);
    assert!(
        refused.contains("number +66812345678 of th-aoc expired at")
            && refused.contains("--expired"),
        "{refused}"
    );
    args.push("--expired");
    ok(&args);
}
