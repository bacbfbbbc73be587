//! The intake service (`blocklist serve --intake`) as a process: agencies
//! POST submissions and drop them in a folder, each answered with a signed
//! acknowledgement that verifies; the queue published on the cadence, at
//! once for urgent ones, after a SIGKILL and restart, to a daemon following
//! the same server; refusals that apply nothing; an idle service asleep.
//! Overrides POSTed and dropped: published at once with the queue, shown by
//! the daemon; refused while a queued submission names their listing, when
//! not signed by override keys, and when replayed.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::daemon::{polling, Site};
use crate::overrides::{appeal_board, override_args, seat_board};
use crate::submissions::{
    aoc_lists_a_number, centre_with_agencies, dsi_removes_aocs_number, list_numbers,
    manifest_version, submit,
};
use crate::support::*;
use crate::transparency_log::witness;

/// `blocklist serve DIR --intake` on a free port, with its log in a file;
/// stopped (SIGTERM) on drop.
pub struct Intake {
    child: Child,
    pub url: String,
    log: PathBuf,
}

impl Intake {
    /// Starts the service on `centre`'s directory, publishing every
    /// `every`, with `extra` options.
    pub fn start(centre: &Centre, every: &str, extra: &[&str]) -> Intake {
        let log = centre.tmp.path().join("intake.log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut command = blocklist();
        command
            .args([
                "serve",
                s(&centre.dir),
                "--listen",
                "127.0.0.1:0",
                "--intake",
                "--key",
                s(&centre.publish_key),
                "--publish-every",
                every,
            ])
            .args(extra)
            .env("RUST_LOG", "info")
            .stderr(log_file);
        let (child, url) = blocklist_tests::spawn_listening(&mut command, || {
            std::fs::read_to_string(&log).unwrap_or_default()
        });
        Intake { child, url, log }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// POSTs the submission file, returning the status, `Location` and body.
    pub fn post(&self, file: &Path) -> (u16, Option<String>, Vec<u8>) {
        self.post_to("/v1/submissions", file)
    }

    /// POSTs `file` to `path`, returning the status, `Location` and body.
    pub fn post_to(&self, path: &str, file: &Path) -> (u16, Option<String>, Vec<u8>) {
        let response = reqwest::blocking::Client::new()
            .post(format!("{}{path}", self.url))
            .body(std::fs::read(file).unwrap())
            .send()
            .unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        (status, location, response.bytes().unwrap().to_vec())
    }

    /// `GET` of `path`: the status and JSON body.
    fn get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::blocking::get(format!("{}{path}", self.url)).unwrap();
        let status = response.status().as_u16();
        let text = response.text().unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}")),
        )
    }

    /// Polls `GET location` until its state is `state` (at most 30 s).
    pub fn wait_state(&self, location: &str, state: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (status, body) = self.get(location);
            if status == 200 && body["state"] == state {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{location} never {state}: {body}; log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL: no drain, no goodbye.
    fn kill(mut self) {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

impl Drop for Intake {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            // SAFETY: signalling our own child by its pid.
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
            let _ = self.child.wait();
        }
    }
}

/// Writes `bytes` to `name` in the temp folder and checks it with
/// `blocklist verify-ack` against the first root and `submission`.
fn verify_ack(centre: &Centre, name: &str, bytes: &[u8], submission: &Path) -> String {
    let ack = centre.input(name, bytes);
    ok(&[
        "verify-ack",
        s(&ack),
        "--root",
        s(&centre.first_root()),
        "--submission",
        s(submission),
    ])
}

/// th-aoc's listing of 081 234 5679, accepted (202) by a service publishing
/// hourly, which is then killed: the centre, the submission file, its
/// `Location` and its acknowledgement.
fn queued_then_killed() -> (Centre, PathBuf, String, Vec<u8>) {
    let (centre, aoc_key, _) = centre_with_agencies();
    let intake = Intake::start(&centre, "3600s", &[]);
    let numbers = centre.input("numbers.txt", b"0812345679\n");
    let listing = list_numbers(
        &centre,
        "th-aoc",
        &aoc_key,
        "aoc.submission",
        &numbers,
        "scam_call",
    );
    let (status, location, ack) = intake.post(&listing);
    assert_eq!(status, 202);
    intake.kill();
    (centre, listing, location.unwrap(), ack)
}

/// Polls until `done` holds (at most 30 s).
fn wait_for(what: &str, intake: &Intake, done: impl Fn() -> bool) {
    wait_until(what, || intake.log_text(), done);
}

/// Copies `file` into the drop folder `inbox` as `name`, written under a
/// temporary name and renamed in: never judged half-written.
pub fn deliver(inbox: &Path, file: &Path, name: &str) {
    let tmp = inbox.join(format!("{name}.tmp"));
    std::fs::copy(file, &tmp).unwrap();
    std::fs::rename(&tmp, inbox.join(name)).unwrap();
}

/// th-aoc's urgent submission listing `urgent-scam.example`.
fn urgent_listing(centre: &Centre, aoc_key: &Path) -> PathBuf {
    let domains = centre.input("domains.txt", b"urgent-scam.example\n");
    submit(
        centre,
        "th-aoc",
        aoc_key,
        "aoc-urgent.submission",
        &[
            "--kind",
            "domain",
            "--reason",
            "phishing",
            "--urgent",
            s(&domains),
        ],
    )
}

#[test]
fn a_posted_listing_is_acknowledged_queued_and_published_with_an_urgent_one_and_another_agencys_removal_is_refused(
) {
    let (centre, aoc_key, dsi_key) = centre_with_agencies();
    // An hour's cadence: only the urgent submission makes the service publish.
    let intake = Intake::start(&centre, "3600s", &[]);
    let (numbers, listing) = aoc_lists_a_number(&centre, &aoc_key);
    let (status, location, ack) = intake.post(&listing);
    assert_eq!(status, 202, "{}", String::from_utf8_lossy(&ack));
    let location = location.expect("a Location header");
    let verified = verify_ack(&centre, "aoc-1.ack", &ack, &listing);
    assert!(
        verified.contains("of agency th-aoc") && verified.contains("in version 1 at the latest"),
        "{verified}"
    );
    let (_, queued) = intake.get(&location);
    assert_eq!(queued["state"], "queued", "{queued}");
    assert_eq!(queued["agency"], "th-aoc");
    let promised = queued["promised_version"].as_u64().unwrap();
    // A retry of the same bytes is answered with the same acknowledgement.
    let (again, again_location, again_ack) = intake.post(&listing);
    assert_eq!(
        (again, again_location.as_deref(), &again_ack),
        (200, Some(location.as_str()), &ack)
    );

    // An urgent submission is published at once, the queued one with it.
    let urgent = urgent_listing(&centre, &aoc_key);
    let (status, urgent_location, _) = intake.post(&urgent);
    assert_eq!(status, 202);
    let published = intake.wait_state(&location, "published");
    let version = published["version"].as_u64().unwrap();
    assert!(version <= promised, "{published}");
    let urgent_published = intake.wait_state(&urgent_location.unwrap(), "published");
    assert_eq!(urgent_published["version"].as_u64(), Some(version));
    ok(&["verify", s(&centre.dir), "--root", s(&centre.first_root())]);

    // A daemon following the same server answers both, as th-aoc's.
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&intake.url]));
    daemon.wait_version(version);
    let answer = daemon.json("/v1/check?kind=number&value=081-234-5678");
    assert_eq!(answer["agency"], "th-aoc", "{answer}");
    assert!(daemon.listed("domain", "urgent-scam.example"));

    // th-dsi may not remove th-aoc's listing: refused naming owner and rule, nothing kept.
    let removal = dsi_removes_aocs_number(&centre, &dsi_key, &numbers);
    let (status, refused_location, body) = intake.post(&removal);
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    assert!(refused_location.is_none());
    let body: Value = serde_json::from_slice(&body).unwrap();
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains("number +66812345678 is listed by th-aoc; th-dsi may not remove it")
            && error.contains("nothing of it applied"),
        "{body}"
    );
    assert_eq!(
        body["refused"][0],
        "number +66812345678 is listed by th-aoc; th-dsi may not remove it"
    );
    let id = blocklist_core::Sha256::of(&std::fs::read(&removal).unwrap()).to_string();
    assert_eq!(intake.get(&format!("/v1/submissions/{id}")).0, 404);
    assert_eq!(manifest_version(&centre), version.to_string());
    assert!(daemon.listed("number", "081-234-5678"));
    // Junk is refused naming what it is not.
    let junk = centre.input("junk.submission", b"not a submission");
    let (status, _, body) = intake.post(&junk);
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&body));
    let log = intake.log_text();
    assert!(
        log.contains("submission accepted") && log.contains("submission published"),
        "{log}"
    );
    assert!(log.contains("submission refused"), "{log}");

    // `submit --send` posts the file it writes and keeps the acknowledgement.
    let more = centre.input("more.txt", b"0812345671\n");
    let sent = centre.tmp.path().join("sent.submission");
    let out = ok(&[
        "submit",
        "--list",
        "th-test",
        "--agency",
        "th-aoc",
        "--key",
        s(&aoc_key),
        "--kind",
        "number",
        s(&more),
        "-o",
        s(&sent),
        "--send",
        &intake.url,
    ]);
    assert!(
        out.contains("accepted; acknowledgement written to"),
        "{out}"
    );
    verify_ack(
        &centre,
        "sent-copy.ack",
        &std::fs::read(sent.with_extension("ack")).unwrap(),
        &sent,
    );
    let refused = fails(&[
        "submit",
        "--list",
        "th-test",
        "--agency",
        "th-dsi",
        "--key",
        s(&dsi_key),
        "--kind",
        "number",
        "--remove",
        s(&numbers),
        "--why",
        "error",
        "-o",
        s(&centre.tmp.path().join("dsi-sent.submission")),
        "--send",
        &intake.url,
    ]);
    assert!(
        refused.contains("refused (403 Forbidden)") && refused.contains("th-dsi may not remove it"),
        "{refused}"
    );
    assert!(daemon.stop());
}

#[test]
fn a_queued_submission_survives_sigkill_a_plain_publish_is_refused_and_the_restart_publishes_it_as_promised(
) {
    let (centre, listing, location, ack) = queued_then_killed();

    // The acknowledgement promises the next version: a plain publish may not make it.
    let other = centre.input("other.txt", b"other.example\n");
    let err =
        fails(&centre.publish_args(&["--kind", "domain", "--agency", "centre-desk", s(&other)]));
    assert!(
        err.contains("1 submission(s) or override(s) accepted by the intake service wait in")
            && err.contains("only the service publishes it")
            && err.contains("nothing published"),
        "{err}"
    );

    // The restart publishes the queue at once; while something else holds
    // the directory's lock (an `agency` command, say), it waits, rather than
    // leave the queue for another hour's cadence.
    let dir = blocklistd::centre::PublishDir::open(&centre.dir).unwrap();
    let held = dir.lock().unwrap();
    let restarted = Intake::start(&centre, "3600s", &[]);
    std::thread::sleep(Duration::from_millis(1_500));
    drop(held);
    let published = restarted.wait_state(&location, "published");
    assert_eq!(
        published["version"], published["promised_version"],
        "{published}"
    );
    assert_eq!(published["version"], 1);
    verify_ack(&centre, "aoc.ack", &ack, &listing);
    let delta = ok(&["inspect", s(&centre.files("deltas")[0])]);
    assert!(delta.contains("add number:+66812345679"), "{delta}");
    // The queue is empty again: the operator may publish.
    ok(&centre.publish_args(&["--kind", "domain", "--agency", "centre-desk", s(&other)]));
}

#[test]
fn a_submission_refused_when_published_is_answered_409_with_its_reason_when_sent_again() {
    let (centre, listing, location, _) = queued_then_killed();
    // A publish that refused it (a revocation from before its acceptance,
    // say), recorded as the service records one.
    let id = location.rsplit('/').next().unwrap().to_owned();
    let dir = blocklistd::centre::PublishDir::open(&centre.dir).unwrap();
    blocklistd::centre::queue::Queue::open(&dir)
        .unwrap()
        .settle(&[], 0, &[(id.clone(), "key revoked".to_owned())], &[])
        .unwrap();

    let inbox = centre.tmp.path().join("inbox");
    let restarted = Intake::start(&centre, "3600s", &["--intake-drop", s(&inbox)]);
    let (status, _, body) = restarted.post(&listing);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(status, 409, "{body}");
    let said = body["error"].as_str().unwrap();
    let refused_before = |said: &str| {
        said.contains(&format!("submission {id} was accepted at"))
            && said.contains("then refused when published, nothing of it applied: key revoked")
    };
    assert!(refused_before(said), "{body}");
    // Dropped in the folder, it is refused the same way, not acknowledged.
    deliver(&inbox, &listing, "again.submission");
    let error = inbox.join("refused/again.submission.error");
    wait_for("the dropped copy refused", &restarted, || error.is_file());
    let said = std::fs::read_to_string(&error).unwrap();
    assert!(refused_before(&said), "{said}");
    assert!(!inbox.join("again.ack").exists());
}

#[test]
fn a_dropped_submission_gets_its_ack_and_is_published_and_a_refused_one_lands_in_refused_with_its_error(
) {
    let (centre, aoc_key, dsi_key) = centre_with_agencies();
    let inbox = centre.tmp.path().join("inbox");
    let intake = Intake::start(&centre, "1s", &["--intake-drop", s(&inbox)]);
    let numbers = centre.input("numbers.txt", b"0812345670\n");
    let listing = list_numbers(
        &centre,
        "th-aoc",
        &aoc_key,
        "aoc.submission",
        &numbers,
        "scam_call",
    );
    deliver(&inbox, &listing, "2026-12-05.submission");
    let ack = inbox.join("2026-12-05.ack");
    wait_for("the acknowledgement", &intake, || ack.exists());
    wait_for("the submission moved to accepted/", &intake, || {
        inbox.join("accepted/2026-12-05.submission").exists()
    });
    assert!(!inbox.join("2026-12-05.submission").exists());
    verify_ack(
        &centre,
        "dropped.ack",
        &std::fs::read(&ack).unwrap(),
        &listing,
    );
    // Published on the cadence.
    wait_for("version 1", &intake, || {
        centre.dir.join("manifest").exists() && manifest_version(&centre) == "1"
    });

    let removal = dsi_removes_aocs_number(&centre, &dsi_key, &numbers);
    deliver(&inbox, &removal, "dsi.submission");
    let error = inbox.join("refused/dsi.submission.error");
    wait_for("the refusal", &intake, || {
        error.exists() && inbox.join("refused/dsi.submission").exists()
    });
    let reason = std::fs::read_to_string(&error).unwrap();
    assert!(
        reason.contains("number +66812345670 is listed by th-aoc; th-dsi may not remove it"),
        "{reason}"
    );
    assert!(!inbox.join("dsi.ack").exists());
    assert_eq!(manifest_version(&centre), "1");
}

/// A centre whose number 081 234 5678 th-aoc lists (version 1), whose root
/// gives an appeal board 2 of 3 override keys, with the board's decision to
/// remove that listing (signed by judges a and b): the centre, th-aoc's key
/// and number file, the board's key files, and the override file.
fn board_overrides_aocs_number() -> (Centre, PathBuf, PathBuf, [PathBuf; 3], PathBuf) {
    let (centre, aoc_key, _) = centre_with_agencies();
    let (numbers, listing) = aoc_lists_a_number(&centre, &aoc_key);
    ok(&centre.publish_args(&["--submission", s(&listing)]));
    let board = appeal_board(&centre);
    seat_board(&centre, &board);
    let decision = centre.tmp.path().join("appeal-114.override");
    ok(&override_args(&centre, &decision, &[&board[0], &board[1]]));
    (centre, aoc_key, numbers, board, decision)
}

/// The decision in `decision`, signed again by `keys`: other bytes, the
/// same decision.
pub fn resigned(centre: &Centre, decision: &Path, keys: &[&Path], name: &str) -> PathBuf {
    use blocklist_core::document::{envelope, Document as _, Override};
    let bytes = std::fs::read(decision).unwrap();
    let doc = Override::decode_payload(envelope::parse(&bytes).unwrap().payload).unwrap();
    let keys: Vec<_> = keys
        .iter()
        .map(|k| blocklistd::centre::keyfile::read_secret(k).unwrap())
        .collect();
    let signers: Vec<_> = keys.iter().collect();
    centre.input(name, &doc.sign(&signers).unwrap())
}

/// The JSON body of an answer.
pub fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)))
}

#[test]
fn a_posted_override_is_refused_while_a_queued_submission_names_its_listing_then_published_at_once_with_the_queue_and_shown_by_the_daemon(
) {
    let (centre, aoc_key, numbers, board, decision) = board_overrides_aocs_number();
    let intake = Intake::start(&centre, "3600s", &[]);
    let queue = || {
        blocklistd::centre::queue::queued(
            &blocklistd::centre::PublishDir::open(&centre.dir).unwrap(),
        )
        .unwrap()
    };

    // Signed by the publish key, which is no override key: refused naming
    // the rule, nothing queued.
    let forged = resigned(
        &centre,
        &decision,
        &[&centre.publish_key],
        "forged.override",
    );
    let (status, location, body) = intake.post_to("/v1/overrides", &forged);
    let error = json_of(&body)["error"].as_str().unwrap().to_owned();
    assert_eq!((status, location), (422, None), "{error}");
    assert!(
        error.contains("which is not a override key of trust root 2")
            && error.contains("refused by OV1")
            && error.contains("nothing of it applied"),
        "{error}"
    );
    let id = blocklist_core::Sha256::of(&std::fs::read(&forged).unwrap()).to_string();
    assert_eq!(intake.get(&format!("/v1/overrides/{id}")).0, 404);
    assert_eq!(queue(), 0);

    // th-aoc's change of its listing waits for the hourly cadence; the
    // override naming that listing is refused while it waits (W3).
    let update = list_numbers(
        &centre,
        "th-aoc",
        &aoc_key,
        "aoc-2.submission",
        &numbers,
        "fraud",
    );
    let (status, update_location, _) = intake.post(&update);
    assert_eq!(status, 202);
    let update_location = update_location.unwrap();
    let update_id = update_location.rsplit('/').next().unwrap();
    let (status, _, body) = intake.post_to("/v1/overrides", &decision);
    let error = json_of(&body)["error"].as_str().unwrap().to_owned();
    assert_eq!(status, 409, "{error}");
    assert!(
        error.contains(&format!(
            "number:+66812345678 is also named by queued submission {update_id}, not published yet"
        )) && error.contains("nothing of it applied"),
        "{error}"
    );
    assert_eq!(queue(), 1);
    // Nor may the operator publish it: the message points to the service.
    let refused = fails(&centre.publish_args(&["--override", s(&decision)]));
    assert!(
        refused.contains("1 submission(s) or override(s) accepted by the intake service wait in")
            && refused.contains("POST it to /v1/overrides, or drop it in the intake folder"),
        "{refused}"
    );

    // An urgent submission publishes the queue (version 2); another
    // listing then waits for the cadence (version 3 promised).
    let urgent = urgent_listing(&centre, &aoc_key);
    assert_eq!(intake.post(&urgent).0, 202);
    assert_eq!(
        intake.wait_state(&update_location, "published")["version"],
        2
    );
    let other = centre.input(
        "other.txt",
        b"0812345679
",
    );
    let waiting = list_numbers(
        &centre,
        "th-aoc",
        &aoc_key,
        "aoc-3.submission",
        &other,
        "scam_call",
    );
    let (status, waiting_location, _) = intake.post(&waiting);
    assert_eq!(status, 202);

    // The override now: accepted, promised the next version, and published
    // at once (a decision already made), with the queued listing.
    let (status, location, body) = intake.post_to("/v1/overrides", &decision);
    let accepted = json_of(&body);
    assert_eq!(status, 202, "{accepted}");
    let location = location.expect("a Location header");
    let id = blocklist_core::Sha256::of(&std::fs::read(&decision).unwrap()).to_string();
    assert_eq!(location, format!("/v1/overrides/{id}"));
    assert_eq!(accepted["promised_version"], 3, "{accepted}");
    assert_eq!(accepted["removals"], 1, "{accepted}");
    let published = intake.wait_state(&location, "published");
    assert_eq!(published["version"], 3, "{published}");
    let waited = intake.wait_state(&waiting_location.unwrap(), "published");
    assert_eq!(waited["version"], 3, "{waited}");
    let delta = ok(&["inspect", s(centre.files("deltas").last().unwrap())]);
    assert!(
        delta.contains("carried override:") && delta.contains("carried submission:"),
        "{delta}"
    );
    let log = intake.log_text();
    assert!(
        log.contains("override accepted") && log.contains("override published"),
        "{log}"
    );

    // Sent again: the same bytes answer where it stands; the same decision
    // signed by other judges is a replay.
    let (status, _, body) = intake.post_to("/v1/overrides", &decision);
    assert_eq!(
        (status, &json_of(&body)["state"]),
        (200, &Value::from("published"))
    );
    let again = resigned(
        &centre,
        &decision,
        &[&board[1], &board[2]],
        "again.override",
    );
    let (status, _, body) = intake.post_to("/v1/overrides", &again);
    let error = json_of(&body)["error"].as_str().unwrap().to_owned();
    assert_eq!(status, 409, "{error}");
    assert!(
        error.contains("the same decision was applied in version 3") && error.contains("(W7)"),
        "{error}"
    );
    assert_eq!(queue(), 0);

    // A daemon following the service shows the removal as the board's.
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&intake.url]));
    daemon.wait_version(3);
    assert!(!daemon.listed("number", "081-234-5678"));
    assert!(daemon.listed("number", "081-234-5679"));
    let history = daemon.json("/v1/history?kind=number&value=0812345678");
    assert_eq!(history["listings"], serde_json::json!([]), "{history:#}");
    assert_eq!(history["overrides"][0]["version"], 3, "{history:#}");
    assert_eq!(history["overrides"][0]["agency"], "th-aoc");
    assert_eq!(
        history["overrides"][0]["note"],
        "Appeal 2026/114 upheld by the review board"
    );
    assert!(daemon.stop());
    ok(&["verify", s(&centre.dir), "--root", s(&centre.first_root())]);
}

#[test]
fn a_dropped_override_is_judged_by_its_type_published_at_once_and_a_forged_one_lands_in_refused() {
    let (centre, _, _, _, decision) = board_overrides_aocs_number();
    let inbox = centre.tmp.path().join("inbox");
    let intake = Intake::start(&centre, "3600s", &["--intake-drop", s(&inbox)]);

    // Named as a submission, signed by the publish key: judged as the
    // override its envelope says it is, and refused naming the rule.
    let forged = resigned(
        &centre,
        &decision,
        &[&centre.publish_key],
        "forged.override",
    );
    // The same bytes dropped again as `forged.override`: each refusal keeps
    // its own answer, neither written over the other's.
    deliver(&inbox, &forged, "forged.submission");
    deliver(&inbox, &forged, "forged.override");
    for name in ["forged.submission", "forged.override"] {
        let error = inbox.join(format!("refused/{name}.error"));
        wait_for("the refusal", &intake, || {
            error.exists() && inbox.join("refused").join(name).exists()
        });
        let reason = std::fs::read_to_string(&error).unwrap();
        assert!(reason.contains("refused by OV1"), "{name}: {reason}");
    }

    deliver(&inbox, &decision, "appeal-114.override");
    let receipt = inbox.join("appeal-114.override.accepted.json");
    wait_for("the receipt", &intake, || {
        receipt.exists() && inbox.join("accepted/appeal-114.override").exists()
    });
    let accepted: Value = serde_json::from_slice(&std::fs::read(&receipt).unwrap()).unwrap();
    assert_eq!(accepted["promised_version"], 2, "{accepted}");
    // Published at once, though the cadence is an hour.
    let location = format!("/v1/overrides/{}", accepted["id"].as_str().unwrap());
    assert_eq!(intake.wait_state(&location, "published")["version"], 2);
    assert_eq!(manifest_version(&centre), "2");
    let delta = ok(&["inspect", s(centre.files("deltas").last().unwrap())]);
    assert!(
        delta.contains("carried override:") && delta.contains("remove number:+66812345678"),
        "{delta}"
    );
}

#[test]
fn a_queued_override_refuses_a_submission_naming_its_identifier_and_a_copy_of_its_decision_until_published(
) {
    use blocklistd::centre::ingest::ReadContext;
    use blocklistd::centre::publish::{History, PublishOptions};
    use blocklistd::centre::service::{self, Offered};
    let (centre, aoc_key, numbers, board, decision) = board_overrides_aocs_number();
    // The service in this process, its publisher not running: what it
    // queues stays queued until the test publishes it.
    let intake = service::Intake::open(
        blocklistd::centre::PublishDir::open(&centre.dir).unwrap(),
        service::IntakeConfig {
            publish: PublishOptions {
                keys: vec![
                    blocklistd::centre::keyfile::read_secret(&centre.publish_key)
                        .unwrap()
                        .into(),
                ],
                additions: vec![],
                removals: vec![],
                submissions: vec![],
                overrides: vec![],
                by: Default::default(),
                context: ReadContext {
                    defaults: Default::default(),
                    rules: Default::default(),
                    now: blocklist_core::Timestamp::now(),
                    csv: Default::default(),
                },
                skip_invalid: false,
                snapshot_every: std::num::NonZeroU64::MAX,
                manifest_lifetime: Duration::from_secs(86_400),
                history: History::default(),
            },
            publish_every: Duration::from_secs(3600),
            max_submission_bytes: service::DEFAULT_MAX_SUBMISSION_BYTES,
            witnesses: vec![],
            lag_alert: service::DEFAULT_LAG_ALERT,
        },
    )
    .unwrap();
    let Offered::Accepted(queued) = intake
        .offer_override(std::fs::read(&decision).unwrap(), "appeal-114.override")
        .unwrap()
    else {
        panic!("a new override is accepted")
    };

    let update = list_numbers(
        &centre,
        "th-aoc",
        &aoc_key,
        "aoc-2.submission",
        &numbers,
        "fraud",
    );
    let refused = intake
        .offer(std::fs::read(&update).unwrap(), "aoc-2.submission")
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains(&format!(
            "number:+66812345678 is also named by queued override {}, not published yet",
            queued.id
        )),
        "{refused}"
    );
    let copy = resigned(&centre, &decision, &[&board[1], &board[2]], "copy.override");
    let refused = intake
        .offer_override(std::fs::read(&copy).unwrap(), "copy.override")
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains(&format!(
            "the same decision is queued as override {}",
            queued.id
        )),
        "{refused}"
    );

    assert_eq!(intake.publish_queue().unwrap(), 0);
    let published = intake.override_status(&queued.id).unwrap().unwrap();
    assert_eq!(
        (published.state, published.version),
        (
            blocklistd::centre::queue::State::Published,
            Some(queued.promised_version)
        )
    );
    // Published, the override's listing is gone: th-aoc may list the number anew.
    assert!(matches!(
        intake.offer(std::fs::read(&update).unwrap(), "aoc-2.submission"),
        Ok(Offered::Accepted(_))
    ));
}

#[test]
fn a_witness_posts_its_cosignature_and_only_the_lines_of_witnesses_the_centre_knows_are_taken() {
    let (centre, aoc_key, _) = centre_with_agencies();
    let (_, listing) = aoc_lists_a_number(&centre, &aoc_key);
    ok(&centre.publish_args(&["--submission", s(&listing)]));
    let keygen = |name: &str| {
        let keys = centre.tmp.path().join(name);
        ok(&["keygen", s(&keys)]);
        keys
    };
    let (known, stranger) = (keygen("witness"), keygen("stranger"));
    let vkey = ok(&[
        "witness-key",
        "--name",
        "witness.example",
        "--key",
        s(&known.with_extension("pub")),
    ]);
    let intake = Intake::start(&centre, "1h", &["--witness", vkey.trim()]);
    let checkpoint = centre.dir.join("log/checkpoint");
    let cosigned_by = |keys: &Path| {
        let out = keys.with_extension("checkpoint");
        let state = keys.with_extension("state");
        witness(
            &centre,
            &keys.with_extension("key"),
            &state,
            s(&centre.dir),
            &out,
        )
        .unwrap();
        out
    };

    // Another key under the known witness's name: its line is no known
    // witness's, so the copy is refused and the checkpoint stays as it was.
    let before = std::fs::read(&checkpoint).unwrap();
    let (status, _, body) = intake.post_to("/v1/cosignatures", &cosigned_by(&stranger));
    assert_eq!(status, 422, "{}", String::from_utf8_lossy(&body));
    assert!(
        json_of(&body)["error"]
            .as_str()
            .unwrap()
            .contains("none of them cosigned"),
        "{}",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(std::fs::read(&checkpoint).unwrap(), before);

    // The known witness's copy: its line is added, as `blocklist cosign` would.
    let copy = cosigned_by(&known);
    let (status, _, body) = intake.post_to("/v1/cosignatures", &copy);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    assert_eq!(json_of(&body)["cosigned_by"][0], "witness.example");
    let note = std::fs::read_to_string(&checkpoint).unwrap();
    assert!(note.contains("\u{2014} witness.example "), "{note}");

    // Once the centre publishes again, that copy is of an older checkpoint.
    let (status, location, _) = intake.post(&urgent_listing(&centre, &aoc_key));
    assert_eq!(status, 202);
    intake.wait_state(&location.unwrap(), "published");
    let (status, _, body) = intake.post_to("/v1/cosignatures", &copy);
    assert_eq!(status, 409, "{}", String::from_utf8_lossy(&body));
}

/// CPU time (user + system, in clock ticks) of process `pid`.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command's closing parenthesis; utime and stime are
    // the 14th and 15th of the whole line.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn an_idle_intake_service_with_an_empty_queue_sleeps() {
    let (centre, _, _) = centre_with_agencies();
    let inbox = centre.tmp.path().join("inbox");
    let intake = Intake::start(&centre, "1s", &["--intake-drop", s(&inbox)]);
    // Past start-up (its first drop folder round), then idle for 3 seconds.
    wait_for("the drop folder watched", &intake, || {
        intake
            .log_text()
            .contains("watching the intake drop folder")
    });
    std::thread::sleep(Duration::from_millis(500));
    let before = cpu_ticks(intake.child.id());
    std::thread::sleep(Duration::from_secs(3));
    let used = cpu_ticks(intake.child.id()) - before;
    // A polling loop would use tens of ticks (a tick is 10 ms).
    assert!(used <= 2, "{used} ticks of CPU in 3 idle seconds");
}

/// The operator's page as a browser gets it: Debian's Chromium, headless,
/// printing the DOM it built from `url` (`None` where Chromium is absent).
pub fn rendered_by_chromium(url: &str, profile: &Path) -> Option<String> {
    let chromium = Path::new("/usr/bin/chromium");
    if !chromium.exists() {
        eprintln!("skipping the browser check: /usr/bin/chromium is not installed (Debian package chromium)");
        return None;
    }
    let output = std::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--timeout=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", url])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).unwrap())
}

#[test]
fn the_operator_page_shows_the_version_the_listings_by_agency_the_recent_versions_and_the_queue_in_a_browser(
) {
    let (centre, aoc_key, _) = centre_with_agencies();
    let intake = Intake::start(&centre, "3600s", &[]);
    let page = || {
        let response = reqwest::blocking::get(format!("{}/operator", intake.url)).unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        response.text().unwrap()
    };
    let (_, listing) = aoc_lists_a_number(&centre, &aoc_key);
    let (status, location, _) = intake.post(&listing);
    assert_eq!(status, 202);
    let queued = page();
    let id = location.unwrap().rsplit('/').next().unwrap().to_owned();
    assert!(
        queued.contains(&format!(
            "<td>submission</td><td><code>{id}</code></td><td>th-aoc</td><td>no</td>"
        )),
        "{queued}"
    );

    // The urgent one is published at once, and the queued one with it.
    let (status, location, _) = intake.post(&urgent_listing(&centre, &aoc_key));
    assert_eq!(status, 202);
    let published = intake.wait_state(&location.unwrap(), "published");
    let version = published["version"].as_u64().unwrap();
    let expected = [
        format!("<td id=\"version\">{version}</td>"),
        // th-aoc: no account, one number, one domain.
        "<tr><td>th-aoc</td><td class=\"n\">0</td><td class=\"n\">1</td><td class=\"n\">1</td><td class=\"n\">0</td><td class=\"n\">2</td></tr>".to_owned(),
        // The version: two listings added, from two submissions, no override.
        format!("<tr><td>{version}</td>"),
        "<td class=\"n\">2</td><td class=\"n\">0</td><td class=\"n\">0</td><td class=\"n\">2</td><td class=\"n\">0</td>".to_owned(),
        "Nothing queued.".to_owned(),
    ];
    let served = page();
    for shown in &expected {
        assert!(served.contains(shown), "{shown} not in\n{served}");
    }
    let Some(dom) = rendered_by_chromium(
        &format!("{}/operator", intake.url),
        &centre.tmp.path().join("chromium"),
    ) else {
        return;
    };
    for shown in &expected {
        assert!(
            dom.contains(shown),
            "{shown} not in the browser's DOM\n{dom}"
        );
    }
    assert!(dom.contains("<title>"), "{dom}");
}
