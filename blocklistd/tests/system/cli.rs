use std::os::unix::fs::PermissionsExt as _;

use crate::support::*;

#[test]
fn every_subcommand_help_has_an_example() {
    for sub in [
        "keygen",
        "init",
        "rotate",
        "agency",
        "publish",
        "refresh",
        "snapshot",
        "prune",
        "serve",
        "replicas",
        "receipts",
        "verify",
        "inspect",
        "verify-ack",
        "completions",
        "man",
    ] {
        let out = ok(&[sub, "--help"]);
        assert!(
            out.contains("Example"),
            "{sub} --help has no example:\n{out}"
        );
    }
}

#[test]
fn keygen_never_prints_the_secret_and_readable_keys_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("k");
    let out = ok(&["keygen", s(&prefix)]);
    let secret = std::fs::read_to_string(prefix.with_extension("key")).unwrap();
    let hex = secret.split_whitespace().nth(1).unwrap();
    assert!(!out.contains(hex), "keygen printed the secret");
    let key = prefix.with_extension("key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = fails(&[
        "init",
        s(&tmp.path().join("d")),
        "--list",
        "x",
        "--root-key",
        s(&key),
        "--publish-key",
        s(&key),
    ]);
    assert!(
        err.contains("must not be readable by group or others"),
        "{err}"
    );
}

#[test]
fn refresh_resigns_with_a_higher_serial_and_prune_drops_covered_deltas() {
    let centre = Centre::new();
    for i in 0..5 {
        let input = centre.input("in.txt", format!("v{i}.example\n").as_bytes());
        ok(&centre.publish_args(&[
            "--kind",
            "domain",
            "--agency",
            "th-aoc",
            "--snapshot-every",
            "2",
            s(&input),
        ]));
    }
    let out = ok(&["refresh", s(&centre.dir), "--key", s(&centre.publish_key)]);
    assert!(out.contains("no changes: manifest re-signed"), "{out}");
    // Five publishes, two of them followed by a manifest listing their
    // snapshot (written after the delta is out), then the refresh.
    assert!(out.contains("manifest serial 8"), "{out}");
    assert_eq!(centre.files("snapshots").len(), 2, "snapshots at 2 and 4");

    let out = ok(&[
        "prune",
        s(&centre.dir),
        "--key",
        s(&centre.publish_key),
        "--keep",
        "1",
    ]);
    assert!(out.contains("chain now starts at snapshot 4"), "{out}");
    assert_eq!(centre.files("deltas").len(), 1, "only delta 5 is left");
    assert_eq!(centre.files("snapshots").len(), 1);
    let out = ok(&["verify", s(&centre.dir), "--root", s(&centre.first_root())]);
    assert!(out.contains("version 5"), "{out}");
    assert!(out.contains("1 delta(s), 1 snapshot(s)"), "{out}");
    let input = centre.input("in.txt", b"after-prune.example\n");
    ok(&centre.publish_args(&["--kind", "domain", "--agency", "th-aoc", s(&input)]));
}

#[test]
fn rotating_the_publish_key_reanchors_on_a_snapshot_the_new_key_signs() {
    let centre = Centre::new();
    let input = centre.input("a.txt", b"before.example\n");
    ok(&centre.publish_args(&["--kind", "domain", "--agency", "th-aoc", s(&input)]));
    let new_key = centre.tmp.path().join("publish2");
    ok(&["keygen", s(&new_key)]);
    let old_pub = centre.publish_key.with_extension("pub");
    ok(&[
        "rotate",
        s(&centre.dir),
        "--sign-with",
        s(&centre.root_key),
        "--add-publish-key",
        s(&new_key.with_extension("pub")),
        "--remove-publish-key",
        s(&old_pub),
    ]);
    // The revoked key can no longer publish.
    let err = fails(&centre.publish_args(&["--kind", "domain", "--agency", "a", s(&input)]));
    assert!(
        err.contains("is not a publish key of trust root 2"),
        "{err}"
    );
    let out = ok(&[
        "refresh",
        s(&centre.dir),
        "--key",
        s(&new_key.with_extension("key")),
    ]);
    assert!(out.contains("published version 2"), "{out}");
    let out = ok(&["verify", s(&centre.dir), "--root", s(&centre.first_root())]);
    assert!(
        out.contains("2 root(s), 0 delta(s), 1 snapshot(s)"),
        "{out}"
    );
}

#[test]
fn inspect_shows_counts_and_json() {
    let centre = Centre::new();
    let input = centre.input("a.txt", b"one.example\ntwo.example\n");
    ok(&centre.publish_args(&["--kind", "domain", "--agency", "th-aoc", s(&input)]));
    let delta = centre.files("deltas")[0].clone();
    let text = ok(&["inspect", s(&delta)]);
    assert!(text.contains("delta of list th-test"), "{text}");
    assert!(text.contains("domain: add 2"), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["inspect", "--json", s(&delta)])).unwrap();
    assert_eq!(json["type"], "delta");
    assert_eq!(json["counts"]["domain"]["add"], 2);
    let manifest = ok(&["inspect", s(&centre.dir.join("manifest"))]);
    assert!(manifest.contains("serial: 1"), "{manifest}");
}

#[test]
fn a_version_listed_by_more_agencies_than_an_index_can_name_is_refused_before_signing() {
    use blocklist_core::index::MAX_AGENCIES;
    let centre = Centre::new();
    let rows: String = (0..=MAX_AGENCIES)
        .map(|i| format!("domain,a{i}.example,agency-{i}\n"))
        .collect();
    let input = centre.input("many.csv", format!("kind,value,agency\n{rows}").as_bytes());
    let err = fails(&centre.publish_args(&[s(&input)]));
    assert!(
        err.contains(&format!("{} agency records", MAX_AGENCIES + 1))
            && err.contains("nothing published"),
        "{err}"
    );
    assert!(centre.files("deltas").is_empty() && centre.files("snapshots").is_empty());
    // One agency fewer is published (and every replica can index it).
    let last = format!("a{MAX_AGENCIES}.example");
    let fewer: String = rows
        .lines()
        .filter(|l| !l.contains(&last))
        .map(|l| format!("{l}\n"))
        .collect();
    let input = centre.input(
        "fewer.csv",
        format!("kind,value,agency\n{fewer}").as_bytes(),
    );
    ok(&centre.publish_args(&[s(&input)]));
    assert_eq!(centre.files("deltas").len(), 1);
}

/// Runs `blocklist args...` with standard output a pipe whose reader is gone
/// before the command writes (what `| head -1` becomes once head has its line).
fn run_with_stdout_closed(args: &[&str]) -> std::process::Output {
    let mut child = blocklist()
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run blocklist");
    // The child's copy of the read end is closed on exec: dropping ours leaves
    // the pipe without a reader, so every write of the child fails with EPIPE.
    drop(child.stdout.take());
    child.wait_with_output().expect("wait for blocklist")
}

#[test]
fn a_closed_stdout_neither_panics_nor_fails_any_command() {
    let centre = Centre::new();
    let input = centre.input("a.txt", b"one.example\n");
    let publish = centre.publish_args(&["--kind", "domain", "--agency", "th-aoc", s(&input)]);
    let root = centre.first_root();
    let key = centre.tmp.path().join("k2");
    let manifest = centre.dir.join("manifest");
    let commands: [Vec<&str>; 6] = [
        publish,
        vec!["refresh", s(&centre.dir), "--key", s(&centre.publish_key)],
        vec!["verify", s(&centre.dir), "--root", s(&root)],
        vec!["inspect", s(&manifest)],
        vec!["inspect", "--json", s(&manifest)],
        vec!["keygen", s(&key)],
    ];
    for args in &commands {
        let out = run_with_stdout_closed(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("panicked"),
            "blocklist {args:?} with stdout closed: {:?}\n{stderr}",
            out.status
        );
    }
    // The work was done although nothing could be reported.
    assert_eq!(centre.files("deltas").len(), 1);
    assert!(key.with_extension("key").exists());
    let out = ok(&["verify", s(&centre.dir), "--root", s(&root)]);
    assert!(out.contains("version 1 (manifest serial 2"), "{out}");
}

#[test]
fn a_spreadsheet_csv_with_its_own_columns_publishes_through_columns_and_ignore_column() {
    let centre = Centre::new();
    // A bank's export: semicolons, a byte-order mark, its own names, a notes column.
    let input = centre.input(
        "export.csv",
        "\u{feff}MSISDN;Category;Notes\n\"081-234-5678\";scam_call;\"called twice; then SMS\"\n"
            .as_bytes(),
    );
    let unknown = fails(&centre.publish_args(&[
        "--kind",
        "number",
        "--agency",
        "bank-004",
        "--skip-invalid",
        s(&input),
    ]));
    assert!(
        unknown.contains("export.csv") && unknown.contains("\"MSISDN\""),
        "{unknown}"
    );
    let out = ok(&centre.publish_args(&[
        "--kind",
        "number",
        "--agency",
        "bank-004",
        "--columns",
        "value=MSISDN,reason=Category",
        "--ignore-column",
        "Notes",
        s(&input),
    ]));
    assert!(out.contains("published version 1: 1 added"), "{out}");
    assert!(out.contains("read for region TH (--region)"), "{out}");
    let delta = &centre.files("deltas")[0];
    let shown = ok(&["inspect", s(delta)]);
    assert!(
        shown.contains("+66812345678") && shown.contains("scam_call"),
        "{shown}"
    );
}

#[test]
fn publish_says_which_region_national_numbers_are_read_for() {
    let centre = Centre::new();
    let input = centre.input("us.txt", b"(212) 736-5000\n");
    let args = ["--kind", "number", "--agency", "ftc", "--region", "us"];
    let out = ok(&centre.publish_args(&[&args[..], &[s(&input)]].concat()));
    assert!(out.contains("read for region US (--region)"), "{out}");
    let shown = ok(&["inspect", s(&centre.files("deltas")[0])]);
    assert!(shown.contains("+12127365000"), "{shown}");
}

#[test]
fn completions_and_man_pages_come_from_the_clap_definitions_of_both_binaries() {
    let bash = ok(&["completions", "bash"]);
    assert!(
        bash.contains("publish") && bash.contains("--ignore-column"),
        "{bash}"
    );
    let checked = std::process::Command::new("bash")
        .args(["-n", "-c", &bash])
        .status()
        .unwrap();
    assert!(checked.success(), "the bash script does not parse");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        assert!(ok(&["completions", shell]).contains("snapshot"), "{shell}");
    }
    let tmp = tempfile::tempdir().unwrap();
    ok(&["man", s(tmp.path())]);
    let daemon = std::process::Command::new(env!("CARGO_BIN_EXE_blocklistd"))
        .args(["--man", s(tmp.path())])
        .status()
        .unwrap();
    assert!(daemon.success());
    let completions = std::process::Command::new(env!("CARGO_BIN_EXE_blocklistd"))
        .args(["--print-completions", "bash"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&completions.stdout).contains("--print-default-config"));
    for (page, name) in [
        ("blocklist.1", "blocklist"),
        ("blocklist-publish.1", "blocklist-publish"),
        ("blocklistd.8", "blocklistd"),
    ] {
        let roff = std::fs::read_to_string(tmp.path().join(page)).unwrap();
        assert!(
            roff.starts_with(".ie") || roff.contains(".TH"),
            "{page}: {roff}"
        );
        assert!(roff.contains(name), "{page}");
        // Rendered by the system's man, where there is one.
        if let Ok(shown) = std::process::Command::new("man")
            .args(["-l", s(&tmp.path().join(page))])
            .env("MANWIDTH", "80")
            .output()
        {
            assert!(
                shown.status.success(),
                "{page}: {}",
                String::from_utf8_lossy(&shown.stderr)
            );
            assert!(
                String::from_utf8_lossy(&shown.stdout).contains("SYNOPSIS"),
                "{page}"
            );
        }
    }
}

/// `verify-ack` checks the centre's acknowledgement offline against the
/// root chain and, given the submission, that it is of those bytes; the
/// conformance vectors serve as the files.
#[test]
fn verify_ack_accepts_the_centres_receipt_and_refuses_another_root_or_submission() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../blocklist-core/conformance/documents");
    let ack = docs.join("valid/acknowledgement-1.acknowledgement");
    let (root1, root2) = (
        docs.join("valid/root-1.root"),
        docs.join("valid/root-2.root"),
    );
    let out = ok(&["verify-ack", s(&ack), "--root", s(&root1)]);
    assert!(
        out.contains("valid acknowledgement")
            && out.contains("agency th-aoc")
            && out.contains("in version 3"),
        "{out}"
    );
    let err = fails(&[
        "verify-ack",
        s(&ack),
        "--root",
        s(&root1),
        "--root",
        s(&root2),
    ]);
    assert!(err.contains("not a publish key of trust root 2"), "{err}");
    let other = docs.join("valid/submission-th-aoc.submission");
    let err = fails(&[
        "verify-ack",
        s(&ack),
        "--root",
        s(&root1),
        "--submission",
        s(&other),
    ]);
    assert!(err.contains("the submission given has"), "{err}");
    let shown = ok(&["inspect", s(&ack)]);
    assert!(
        shown.starts_with("acknowledgement of list conformance"),
        "{shown}"
    );
}
