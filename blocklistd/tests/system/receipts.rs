//! Signed apply receipts: two daemons registered at the centre by their
//! identity keys (one only after its first receipt was refused, which a
//! retry then delivers), one posting its receipts to the intake service, one
//! writing them to an outbox folder that a courier (the test) carries into
//! the intake drop folder; `blocklist receipts --json` and `GET /metrics`
//! show both with their versions, the laggard first. Receipts from an
//! unregistered key, of a version not published, of a wrong state, or older
//! than the one kept are refused.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use blocklist_core::document::{
    Delta, DocType, Document as _, ListId, ListState, Manifest, Receipt, Version,
};
use blocklist_core::verify::read_unverified;
use blocklist_core::{SecretKey, Timestamp};
use serde_json::Value;

use crate::daemon::{polling, publish, Daemon, Site};
use crate::intake::{deliver, rendered_by_chromium, Intake};
use crate::support::*;

/// `blocklistd --print-identity` for the site's config: the public key it prints.
fn identity(config: &Path) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_blocklistd"))
        .args(["--config", s(config), "--print-identity"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("public key: "))
        .unwrap_or_else(|| panic!("no public key in {text}"))
        .to_owned()
}

/// `blocklist receipts DIR --json`.
fn standings(centre: &Centre) -> Vec<Value> {
    let text = ok(&["receipts", s(&centre.dir), "--json"]);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The version `blocklist receipts` shows for `replica` (0: none).
fn version_of(centre: &Centre, replica: &str) -> u64 {
    standings(centre)
        .iter()
        .find(|s| s["name"] == replica)
        .and_then(|s| s["version"].as_u64())
        .unwrap_or(0)
}

/// Polls until `replica`'s receipt of `version` is taken (at most 30 s).
fn wait_receipt(centre: &Centre, intake: &Intake, daemon: &Daemon, replica: &str, version: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while version_of(centre, replica) != version {
        assert!(
            Instant::now() < deadline,
            "no receipt of version {version} from {replica}: {:#?}\nintake log:\n{}\ndaemon log:\n{}",
            standings(centre),
            intake.log_text(),
            daemon.log_text()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The newest version and state the centre published.
fn published(centre: &Centre) -> (Version, ListState) {
    let manifest: Manifest =
        read_unverified(&std::fs::read(centre.dir.join("manifest")).unwrap()).unwrap();
    (manifest.version, manifest.state)
}

/// A receipt of `version` and `state` signed by `key`, written to a file.
fn receipt_file(
    centre: &Centre,
    name: &str,
    key: &SecretKey,
    version: u64,
    state: ListState,
) -> PathBuf {
    let receipt = Receipt {
        list: ListId::new("th-test").unwrap(),
        version: Version::new(version).unwrap(),
        state,
        log: None,
        applied_at: Timestamp::now(),
        replica: key.public_key().id(),
        extensions: vec![],
    };
    centre.input(name, &receipt.sign(&[key]).unwrap())
}

/// The body of a refusal as text.
fn refusal(answer: &(u16, Option<String>, Vec<u8>)) -> String {
    String::from_utf8_lossy(&answer.2).into_owned()
}

#[test]
fn receipts_from_two_daemons_one_over_http_one_through_an_outbox_are_shown_with_their_versions() {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["one.example"], &[]);
    let intake_drop = centre.tmp.path().join("intake-inbox");
    let intake = Intake::start(&centre, "3600s", &["--intake-drop", s(&intake_drop)]);

    // Bank A posts its receipts; bank B writes them to an outbox.
    let bank_a = Site::new();
    let config_a = bank_a.write_config(&format!(
        "{}\n[receipts]\nurl = {:?}\nretry_initial = \"100ms\"\nretry_max = \"500ms\"\n",
        polling(&centre.first_root(), &[&intake.url]),
        intake.url
    ));
    let bank_b = Site::new();
    let outbox = bank_b.tmp.path().join("outbox");
    let config_b = bank_b.write_config(&format!(
        "{}\n[receipts]\noutbox = {:?}\n",
        polling(&centre.first_root(), &[&intake.url]),
        outbox.display().to_string()
    ));
    // The documented step: each daemon's identity, registered at the centre.
    let register = |name: &str, config: &Path| {
        let key = identity(config);
        let said = ok(&[
            "replicas",
            "add",
            s(&centre.dir),
            "--name",
            name,
            "--key",
            &key,
        ]);
        assert!(
            said.contains(&format!("registered replica {name}")),
            "{said}"
        );
    };
    register("bank-b", &config_b);
    let a = Daemon::spawn(&config_a, &bank_a.log());
    let b = Daemon::spawn(&config_b, &bank_b.log());
    assert_eq!(a.status()["replica_id"].as_str().unwrap().len(), 64);
    a.wait_version(1);
    b.wait_version(1);
    let mode = std::fs::metadata(bank_a.data().join("identity.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Bank A's first receipt is refused (403) until it is registered, and
    // a retry delivers it once it is.
    // Its status says so, as the log does.
    a.wait_status("a receipt refused as unregistered", |status| {
        status["receipt"]["state"] == "sending"
            && status["receipt"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("register this replica"))
    });
    register("bank-a", &config_a);
    wait_receipt(&centre, &intake, &a, "bank-a", 1);
    a.wait_status("the receipt shown delivered", |status| {
        status["receipt"]["state"] == "delivered" && status["receipt"]["version"] == 1
    });
    publish(&centre, "v2.txt", &["one.example", "two.example"], &[]);
    a.wait_version(2);
    b.wait_version(2);
    wait_receipt(&centre, &intake, &a, "bank-a", 2);

    // The courier carries bank B's outbox into the centre's drop folder.
    let carried = |daemon: &Daemon, version: u64| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let files: Vec<PathBuf> = std::fs::read_dir(&outbox)
                .map(|d| d.map(|e| e.unwrap().path()).collect())
                .unwrap_or_default();
            let receipts: Vec<&PathBuf> = files
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e == "receipt"))
                .collect();
            if let [file] = receipts[..] {
                let receipt: Receipt = read_unverified(&std::fs::read(file).unwrap()).unwrap();
                if receipt.version.get() == version {
                    let name = file.file_name().unwrap().to_str().unwrap().to_owned();
                    deliver(&intake_drop, file, &name);
                    return name;
                }
            }
            assert!(
                Instant::now() < deadline,
                "no receipt of version {version} in the outbox: {files:?}\n{}",
                daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let name = carried(&b, 2);
    b.wait_status("the receipt shown written to the outbox", |status| {
        status["receipt"]["state"] == "written" && status["receipt"]["version"] == 2
    });
    wait_receipt(&centre, &intake, &b, "bank-b", 2);
    // The centre keeps the receipt, then writes its answer, then moves the
    // file: the move says the answer is there.
    let moved = intake_drop.join("accepted").join(&name);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !moved.is_file() {
        assert!(Instant::now() < deadline, "{name} never moved to accepted/");
        std::thread::sleep(Duration::from_millis(20));
    }
    let answer =
        std::fs::read_to_string(intake_drop.join(format!("{name}.accepted.json"))).unwrap();
    assert!(answer.contains("\"replica\": \"bank-b\""), "{answer}");

    // Both shown with their versions, nothing behind.
    let shown = standings(&centre);
    assert_eq!(shown.len(), 2, "{shown:#?}");
    for standing in &shown {
        assert_eq!(standing["version"], 2, "{standing}");
        assert_eq!(standing["lag_versions"], 0, "{standing}");
    }
    let table = ok(&["receipts", s(&centre.dir)]);
    assert!(
        table.contains("bank-a") && table.contains("bank-b"),
        "{table}"
    );

    // A third version: bank A says so at once, bank B's receipt waits for
    // the courier, so bank B is behind, and listed first.
    publish(&centre, "v3.txt", &["three.example"], &[]);
    a.wait_version(3);
    b.wait_version(3);
    wait_receipt(&centre, &intake, &a, "bank-a", 3);
    let shown = standings(&centre);
    assert_eq!(shown[0]["name"], "bank-b", "{shown:#?}");
    assert_eq!(shown[0]["lag_versions"], 1, "{shown:#?}");
    assert!(shown[0]["lag_seconds"].as_u64().is_some(), "{shown:#?}");
    let metrics = reqwest::blocking::get(format!("{}/metrics", intake.url))
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("blocklist_replica_version{replica=\"bank-a\"} 3\n")
            && metrics.contains("blocklist_replica_version{replica=\"bank-b\"} 2\n")
            && metrics.contains("blocklist_replica_lag_versions{replica=\"bank-b\"} 1\n")
            // Behind by a version published seconds ago: under the default alert of an hour.
            && metrics.contains("blocklist_replicas_lagging 0\n"),
        "{metrics}"
    );
    // The operator's page shows the same, bank B first.
    let propagation = [
        "<tr><td>bank-b</td>",
        "<td class=\"n\">2</td>",
        "<tr><td>bank-a</td>",
        "<td class=\"n\">3</td>",
    ];
    let page = reqwest::blocking::get(format!("{}/operator", intake.url))
        .unwrap()
        .text()
        .unwrap();
    let dom = rendered_by_chromium(
        &format!("{}/operator", intake.url),
        &centre.tmp.path().join("chromium"),
    );
    for shown in [Some(&page), dom.as_ref()].into_iter().flatten() {
        let table = &shown[shown.find("id=\"propagation\"").unwrap_or(0)..];
        // Each cell after the one before it: a lag of 2 or 3 seconds in bank
        // B's row must not pass for a version.
        let mut rest = table;
        for cell in propagation {
            let at = rest.find(cell).unwrap_or_else(|| {
                panic!("bank B (behind) first, each with its version: no {cell} after the cells before it in {table}")
            });
            rest = &rest[at + cell.len()..];
        }
    }
    carried(&b, 3);
    wait_receipt(&centre, &intake, &b, "bank-b", 3);
    assert!(a.stop() && b.stop());
}

#[test]
fn receipts_from_an_unregistered_key_of_an_unpublished_version_a_wrong_state_or_older_than_kept_are_refused(
) {
    let centre = Centre::new();
    publish(&centre, "v1.txt", &["one.example"], &[]);
    publish(&centre, "v2.txt", &["one.example", "two.example"], &[]);
    let intake_drop = centre.tmp.path().join("intake-inbox");
    let intake = Intake::start(&centre, "3600s", &["--intake-drop", s(&intake_drop)]);
    let (version, state) = published(&centre);
    assert_eq!(version.get(), 2);
    let key = SecretKey::generate().unwrap();

    let stranger = receipt_file(&centre, "stranger.receipt", &key, 2, state);
    let answer = intake.post_to("/v1/receipts", &stranger);
    assert_eq!(answer.0, 403, "{}", refusal(&answer));
    assert!(
        refusal(&answer).contains("no registered replica"),
        "{}",
        refusal(&answer)
    );

    ok(&[
        "replicas",
        "add",
        s(&centre.dir),
        "--name",
        "probe",
        "--key",
        &hex::encode(key.public_key().to_bytes()),
    ]);
    let ahead = receipt_file(&centre, "ahead.receipt", &key, 3, state);
    let answer = intake.post_to("/v1/receipts", &ahead);
    assert_eq!(answer.0, 422, "{}", refusal(&answer));
    assert!(
        refusal(&answer).contains("newest published is 2"),
        "{}",
        refusal(&answer)
    );

    let wrong = ListState {
        entries: state.entries + 1,
        ..state
    };
    let diverged = receipt_file(&centre, "diverged.receipt", &key, 2, wrong);
    let answer = intake.post_to("/v1/receipts", &diverged);
    assert_eq!(answer.0, 422, "{}", refusal(&answer));
    assert!(refusal(&answer).contains("state"), "{}", refusal(&answer));

    // A good one is taken (202, 200 again); an older one is refused (409).
    let good = receipt_file(&centre, "good.receipt", &key, 2, state);
    assert_eq!(intake.post_to("/v1/receipts", &good).0, 202);
    assert_eq!(intake.post_to("/v1/receipts", &good).0, 200);
    let v1_state = {
        let manifest: Manifest =
            read_unverified(&std::fs::read(centre.dir.join("manifest")).unwrap()).unwrap();
        let first = manifest.deltas[0].path(DocType::Delta);
        read_unverified::<Delta>(&std::fs::read(centre.dir.join(first)).unwrap())
            .unwrap()
            .state
    };
    let older = receipt_file(&centre, "older.receipt", &key, 1, v1_state);
    let answer = intake.post_to("/v1/receipts", &older);
    assert_eq!(answer.0, 409, "{}", refusal(&answer));
    assert_eq!(version_of(&centre, "probe"), 2);

    // Through the drop folder, the same refusals land in refused/.
    deliver(&intake_drop, &ahead, "ahead.receipt");
    let error = intake_drop.join("refused").join("ahead.receipt.error");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !error.is_file() {
        assert!(Instant::now() < deadline, "{}", intake.log_text());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(std::fs::read_to_string(&error)
        .unwrap()
        .contains("newest published is 2"));

    ok(&["replicas", "remove", s(&centre.dir), "--name", "probe"]);
    assert!(standings(&centre).is_empty());
    assert_eq!(intake.post_to("/v1/receipts", &good).0, 403);
}

#[test]
fn an_identity_key_others_can_read_stops_the_daemon_naming_the_file() {
    let site = Site::new();
    let config = site.write_config("[drop]\nenabled = true\n");
    identity(&config);
    let key = site.data().join("identity.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_blocklistd"))
        .args(["--config", s(&config)])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let error = String::from_utf8_lossy(&out.stderr);
    assert!(
        error.contains("identity.key") && error.contains("640"),
        "{error}"
    );
}
