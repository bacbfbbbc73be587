//! Agencies' signed submissions at the centre, as processes: two registered
//! agencies, `blocklist submit` at each, `blocklist publish --submission`
//! enforcing who owns each listing, and refusals that apply nothing.

use std::path::{Path, PathBuf};

use crate::daemon::{polling, Site};
use crate::docs_walkthroughs::{run_script, walkthrough_blocks};
use crate::support::{fails, ok, s, Centre, Server};

/// Registers th-aoc (numbers and domains) and th-dsi (numbers) with
/// `blocklist agency add`, signed by the centre's root key.
pub fn register(centre: &Centre, aoc: &Path, dsi: &Path) {
    for (id, name, kinds, key) in [
        ("th-aoc", "Anti-Online Scam Centre", "number,domain", aoc),
        (
            "th-dsi",
            "Department of Special Investigation",
            "number",
            dsi,
        ),
    ] {
        ok(&[
            "agency",
            "add",
            s(&centre.dir),
            "--id",
            id,
            "--name",
            name,
            "--kinds",
            kinds,
            "--key",
            s(&key.with_extension("pub")),
            "--sign-with",
            s(&centre.root_key),
        ]);
    }
}

/// `blocklist submit` as `agency` with its key, for numbers unless `extra` says otherwise.
pub fn submit(centre: &Centre, agency: &str, key: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let out = centre.tmp.path().join(name);
    let mut args = vec![
        "submit",
        "--list",
        "th-test",
        "--agency",
        agency,
        "--key",
        s(key),
        "-o",
        s(&out),
    ];
    args.extend_from_slice(extra);
    ok(&args);
    out
}

/// `blocklist submit` as `agency`: the numbers in `file` listed for `reason`.
pub fn list_numbers(
    centre: &Centre,
    agency: &str,
    key: &Path,
    name: &str,
    file: &Path,
    reason: &str,
) -> PathBuf {
    submit(
        centre,
        agency,
        key,
        name,
        &["--kind", "number", "--reason", reason, s(file)],
    )
}

/// th-aoc's signed listing of 081 234 5678 (a scam call): the input file
/// and the submission.
pub fn aoc_lists_a_number(centre: &Centre, aoc_key: &Path) -> (PathBuf, PathBuf) {
    let numbers = centre.input("numbers.txt", b"081 234 5678\n");
    let listing = list_numbers(
        centre,
        "th-aoc",
        aoc_key,
        "aoc-1.submission",
        &numbers,
        "scam_call",
    );
    (numbers, listing)
}

/// th-dsi's signed removal (an error, it says) of the numbers in `numbers`,
/// which th-aoc lists ([`aoc_lists_a_number`]).
pub fn dsi_removes_aocs_number(centre: &Centre, dsi_key: &Path, numbers: &Path) -> PathBuf {
    remove_numbers(
        centre,
        "th-dsi",
        dsi_key,
        "dsi-remove.submission",
        numbers,
        "error",
    )
}

/// Revokes th-dsi's key (the `.pub` beside `dsi_key`) from now, signed by
/// the centre's root key.
pub fn revoke_dsi_key(centre: &Centre, dsi_key: &Path) {
    ok(&[
        "agency",
        "revoke",
        s(&centre.dir),
        "--id",
        "th-dsi",
        "--key",
        s(&dsi_key.with_extension("pub")),
        "--sign-with",
        s(&centre.root_key),
    ]);
}

/// `blocklist submit` as `agency`: the numbers in `file` removed, `why`.
pub fn remove_numbers(
    centre: &Centre,
    agency: &str,
    key: &Path,
    name: &str,
    file: &Path,
    why: &str,
) -> PathBuf {
    submit(
        centre,
        agency,
        key,
        name,
        &["--kind", "number", "--remove", s(file), "--why", why],
    )
}

/// Key pairs for th-aoc and th-dsi in the centre's temp folder; their
/// secret key files.
pub fn agency_keys(centre: &Centre) -> (PathBuf, PathBuf) {
    let keys = ["th-aoc", "th-dsi"].map(|id| {
        let prefix = centre.tmp.path().join(id);
        ok(&["keygen", s(&prefix)]);
        prefix.with_extension("key")
    });
    let [aoc, dsi] = keys;
    (aoc, dsi)
}

/// A centre with th-aoc (numbers, domains) and th-dsi (numbers) registered;
/// their secret key files.
pub fn centre_with_agencies() -> (Centre, PathBuf, PathBuf) {
    let centre = Centre::new();
    let (aoc, dsi) = agency_keys(&centre);
    register(&centre, &aoc, &dsi);
    (centre, aoc, dsi)
}

pub fn manifest_version(centre: &Centre) -> String {
    let shown = ok(&["inspect", s(&centre.dir.join("manifest"))]);
    shown
        .lines()
        .find_map(|l| l.strip_prefix("version: "))
        .unwrap()
        .to_owned()
}

#[test]
fn an_agency_is_not_registered_under_a_label_listed_since_agencies_became_principals() {
    let (centre, _, _) = centre_with_agencies();
    let desk = centre.tmp.path().join("desk");
    ok(&["keygen", s(&desk)]);
    // Registry 1 may be dated a second ahead (after the newest manifest):
    // past it, what the label lists is dated since agencies are principals.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let domains = centre.input("desk.txt", b"desk-scam.example\n");
    ok(&centre.publish_args(&["--kind", "domain", "--agency", "th-desk", s(&domains)]));
    let err = fails(&[
        "agency",
        "add",
        s(&centre.dir),
        "--id",
        "th-desk",
        "--name",
        "Desk",
        "--kinds",
        "domain",
        "--key",
        s(&desk.with_extension("pub")),
        "--sign-with",
        s(&centre.root_key),
    ]);
    assert!(
        err.contains("holds listings under the label th-desk")
            && err.contains("register the agency under another id"),
        "{err}"
    );
}

#[test]
fn an_agency_lists_another_cannot_remove_it_and_the_owner_can() {
    let centre = Centre::new();
    let (aoc_key, dsi_key) = agency_keys(&centre);
    // Nothing is accepted before agencies are registered.
    let (numbers, listing) = aoc_lists_a_number(&centre, &aoc_key);
    let err = fails(&centre.publish_args(&["--submission", s(&listing)]));
    assert!(err.contains("no agency registry"), "{err}");
    register(&centre, &aoc_key, &dsi_key);

    // th-aoc lists the number.
    let out = ok(&centre.publish_args(&["--submission", s(&listing)]));
    assert!(
        out.contains("submission") && out.contains("of th-aoc, 1 operation(s)"),
        "{out}"
    );
    assert!(out.contains("published version 1: 1 added"), "{out}");
    let delta = ok(&["inspect", s(&centre.files("deltas")[0])]);
    assert!(
        delta.contains("add number:+66812345678 reason=scam_call agency=th-aoc"),
        "{delta}"
    );
    // A daemon following the centre answers with th-aoc.
    let server = Server::start(&centre.dir);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    daemon.wait_version(1);
    let answer = daemon.json("/v1/check?kind=number&value=081-234-5678");
    assert_eq!(answer["agency"], "th-aoc", "{answer}");

    // The same file again is a replay, even with the sequences file lost (a
    // publish killed before it wrote it): the centre's store recorded the
    // sequence with the delta that carried the submission.
    std::fs::remove_file(centre.dir.join(".centre/submission-sequences")).unwrap();
    let err = fails(&centre.publish_args(&["--submission", s(&listing)]));
    assert!(
        err.contains("is not newer than submission") && err.contains("a replay"),
        "{err}"
    );

    // th-dsi may list numbers, but not remove th-aoc's: refused whole, naming th-aoc.
    let removal = dsi_removes_aocs_number(&centre, &dsi_key, &numbers);
    let err = fails(&centre.publish_args(&["--submission", s(&removal)]));
    assert!(
        err.contains("number +66812345678 is listed by th-aoc; th-dsi may not remove it"),
        "{err}"
    );
    assert!(err.contains("nothing of it applied"), "{err}");
    assert_eq!(manifest_version(&centre), "1");

    // A kind outside th-dsi's scope.
    let accounts = centre.input("accounts.txt", b"004-1234567890\n");
    let out_of_scope = submit(
        &centre,
        "th-dsi",
        &dsi_key,
        "dsi-accounts.submission",
        &[
            "--kind",
            "account",
            "--reason",
            "mule_account",
            s(&accounts),
        ],
    );
    let err = fails(&centre.publish_args(&["--submission", s(&out_of_scope)]));
    assert!(err.contains("agency th-dsi may not list account"), "{err}");

    // A submission changed after signing.
    let more = centre.input("more.txt", b"0812345679\n");
    let tampered = submit(
        &centre,
        "th-aoc",
        &aoc_key,
        "aoc-2.submission",
        &["--kind", "number", s(&more)],
    );
    let mut bytes = std::fs::read(&tampered).unwrap();
    let at = bytes
        .windows(12)
        .position(|w| w == b"+66812345679")
        .unwrap();
    bytes[at + 11] = b'8';
    std::fs::write(&tampered, bytes).unwrap();
    let err = fails(&centre.publish_args(&["--submission", s(&tampered)]));
    assert!(
        err.contains("bad signature") && err.contains("th-aoc"),
        "{err}"
    );
    assert_eq!(manifest_version(&centre), "1");

    // th-aoc removes its own listing.
    let own = remove_numbers(
        &centre,
        "th-aoc",
        &aoc_key,
        "aoc-remove.submission",
        &numbers,
        "cleared",
    );
    let out = ok(&centre.publish_args(&["--submission", s(&own)]));
    assert!(
        out.contains("published version 2: 0 added, 0 updated, 1 removed"),
        "{out}"
    );
    ok(&["verify", s(&centre.dir), "--root", s(&centre.first_root())]);
    daemon.wait_version(2);
    assert!(!daemon.listed("number", "081-234-5678"));
    assert!(daemon.stop());

    // Once th-dsi's key is revoked, its submissions are refused from then on.
    revoke_dsi_key(&centre, &dsi_key);
    let late = submit(
        &centre,
        "th-dsi",
        &dsi_key,
        "dsi-late.submission",
        &["--kind", "number", s(&numbers)],
    );
    let err = fails(&centre.publish_args(&["--submission", s(&late)]));
    assert!(err.contains("of agency th-dsi is revoked since"), "{err}");
}

#[test]
fn the_centre_docs_submission_walkthrough_lists_refuses_and_removes() {
    let tmp = tempfile::tempdir().unwrap();
    let [readme]: [String; 1] = walkthrough_blocks("README.md").try_into().unwrap();
    let [quick_start, submissions]: [String; 2] =
        walkthrough_blocks("docs/CENTRE.md").try_into().unwrap();
    run_script(tmp.path(), &readme);
    run_script(tmp.path(), &quick_start);
    let report = run_script(tmp.path(), &submissions);
    assert!(report.contains("agency: th-aoc"), "{report}");
    assert!(report.contains("refused: nothing applied"), "{report}");
    let removed = report
        .rfind("1 removed")
        .expect("th-aoc's removal published");
    assert!(
        removed > report.find("refused: nothing applied").unwrap(),
        "{report}"
    );
    // th-aoc's listing came and went; the README's stays, under its label.
    let pub_dir = tmp.path().join("pub");
    let manifest = ok(&["inspect", s(&pub_dir.join("manifest"))]);
    assert!(manifest.contains("version: 4"), "{manifest}");
}
