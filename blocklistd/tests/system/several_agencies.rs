//! One number listed by two agencies, as processes: th-aoc and th-dsi each
//! list it through `blocklist publish --submission`; a daemon following the
//! centre over loopback answers with both listings (HTTP: every one, the
//! standing one first; C: the standing one and the count) until the last
//! is removed, and each agency may remove only its own.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::daemon::{polling, Daemon, Site};
use crate::submissions::{
    centre_with_agencies, list_numbers, manifest_version, remove_numbers, submit,
};
use crate::support::{fails, ok, s, Centre, Server};

/// A bank's C lookup of one number in the index blocklistd keeps, printing
/// what `blocklist_check` answers as `key=value` words (compiled with
/// strict warnings and sanitizers).
const PROBE_C: &str = r#"#include <stdio.h>
#include <string.h>

#include "blocklist.h"

/* Usage: probe DATA_DIR NUMBER */
int main(int argc, char **argv) {
  blocklist_handle *h = NULL;
  blocklist_check_result r = BLOCKLIST_CHECK_RESULT_INIT;
  blocklist_result rc;
  if (argc != 3) {
    fprintf(stderr, "usage: %s DATA_DIR NUMBER\n", argv[0]);
    return 2;
  }
  rc = blocklist_open(argv[1], &h);
  if (rc != BLOCKLIST_OK) {
    fprintf(stderr, "open %s: %s\n", argv[1], blocklist_error_message(rc));
    return 1;
  }
  rc = blocklist_check(h, BLOCKLIST_KIND_NUMBER, argv[2], strlen(argv[2]), &r);
  blocklist_close(h);
  if (rc != BLOCKLIST_OK) {
    fprintf(stderr, "check %s: %s\n", argv[2], blocklist_error_message(rc));
    return 1;
  }
  printf("version=%llu listed=%u listings=%u agency=%s\n",
         (unsigned long long)r.list_version, (unsigned)r.listed,
         (unsigned)r.listings, r.agency);
  return 0;
}
"#;

/// The number both agencies list, as a customer types it and canonical.
const TYPED: &str = "081-234-5678";
const CANONICAL: &str = "+66812345678";

/// The readers of one daemon: its HTTP API and a C program on its data folder.
struct Readers<'a> {
    daemon: &'a Daemon,
    data: PathBuf,
    probe: PathBuf,
}

impl Readers<'_> {
    /// Waits for `version`, then checks that every reader answers the
    /// number as listed by `agencies` (the standing listing first; none:
    /// not listed), and returns the HTTP answer.
    fn expect_listed_by(&self, version: u64, agencies: &[&str]) -> Value {
        self.daemon.wait_version(version);
        let answer = self
            .daemon
            .json(&format!("/v1/check?kind=number&value={TYPED}"));
        let (code, batch) = self.daemon.post(
            "/v1/check",
            &serde_json::json!({"kind": "number", "values": [TYPED]}),
        );
        assert_eq!(code, 200, "{batch}");
        // C: the standing listing's agency and the count (0 and "" on a miss).
        let standing = agencies.first().copied().unwrap_or_default();
        let expected = CAnswer {
            version,
            listed: !agencies.is_empty(),
            listings: agencies.len(),
            agency: standing.to_owned(),
        };
        assert_eq!(self.c_check(), expected);
        if agencies.is_empty() {
            assert_eq!(answer["listed"], false, "{answer:#}");
            assert_eq!(answer["listings"], Value::Null, "{answer:#}");
            assert_eq!(batch["results"][0]["listed"], false, "{batch:#}");
            return answer;
        }
        assert_eq!(answer["listed"], true, "{answer:#}");
        assert_eq!(answer["agency"], standing, "{answer:#}");
        assert_eq!(listed_by(&answer["listings"]), agencies, "{answer:#}");
        assert_eq!(
            listed_by(&batch["results"][0]["listings"]),
            agencies,
            "{batch:#}"
        );
        answer
    }

    /// `GET /v1/history` of the number.
    fn history(&self) -> Value {
        self.daemon
            .json(&format!("/v1/history?kind=number&value={TYPED}"))
    }

    /// The C program's answer.
    fn c_check(&self) -> CAnswer {
        let out = Command::new(&self.probe)
            .args([s(&self.data), CANONICAL])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "probe failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let word = |key: &str| {
            text.split_whitespace()
                .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
                .unwrap_or_else(|| panic!("no {key} in {text:?}"))
        };
        CAnswer {
            version: word("version").parse().unwrap(),
            listed: word("listed") == "1",
            listings: word("listings").parse().unwrap(),
            agency: word("agency").to_owned(),
        }
    }
}

/// What `blocklist_check` answered.
#[derive(Debug, PartialEq)]
struct CAnswer {
    version: u64,
    listed: bool,
    listings: usize,
    agency: String,
}

/// The agencies of a `listings` array, in its order.
fn listed_by(listings: &Value) -> Vec<&str> {
    listings
        .as_array()
        .unwrap_or_else(|| panic!("no listings: {listings}"))
        .iter()
        .map(|l| l["agency"].as_str().unwrap())
        .collect()
}

/// `blocklist publish --submission FILE`, returning its report.
fn publish(centre: &Centre, submission: &Path) -> String {
    ok(&centre.publish_args(&["--submission", s(submission)]))
}

#[test]
fn a_number_two_agencies_list_keeps_matching_until_the_last_listing_is_removed() {
    let (centre, aoc_key, dsi_key) = centre_with_agencies();
    let probe = centre.tmp.path().join("probe");
    blocklist_tests::compile_c(&centre.input("probe.c", PROBE_C.as_bytes()), &probe, true);

    // th-aoc lists the number, for 30 days.
    let numbers = centre.input("numbers.txt", b"081 234 5678\n");
    let aoc_listing = submit(
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
            "30d",
            s(&numbers),
        ],
    );
    let out = publish(&centre, &aoc_listing);
    assert!(out.contains("published version 1: 1 added"), "{out}");

    let server = Server::start(&centre.dir);
    let site = Site::new();
    let daemon = site.start(&polling(&centre.first_root(), &[&server.url]));
    let readers = Readers {
        daemon: &daemon,
        data: site.data(),
        probe,
    };
    readers.expect_listed_by(1, &["th-aoc"]);

    // th-dsi may not remove th-aoc's listing: refused whole, naming th-aoc.
    let dsi_removal = remove_numbers(
        &centre,
        "th-dsi",
        &dsi_key,
        "dsi-remove-1.submission",
        &numbers,
        "error",
    );
    let err = fails(&centre.publish_args(&["--submission", s(&dsi_removal)]));
    assert!(
        err.contains("number +66812345678 is listed by th-aoc; th-dsi may not remove it")
            && err.contains("nothing of it applied"),
        "{err}"
    );
    assert_eq!(manifest_version(&centre), "1");

    // th-dsi lists it too, with no expiry: accepted beside th-aoc's. Its
    // listing matches longer, so it stands (before th-aoc's, listed
    // earlier and first by id).
    let dsi_listing = list_numbers(
        &centre,
        "th-dsi",
        &dsi_key,
        "dsi-1.submission",
        &numbers,
        "fraud",
    );
    let out = publish(&centre, &dsi_listing);
    assert!(out.contains("published version 2: 1 added"), "{out}");
    assert!(out.contains("; 2 entries"), "{out}");
    let answer = readers.expect_listed_by(2, &["th-dsi", "th-aoc"]);
    assert_eq!(answer["reason"], "fraud", "{answer:#}");
    assert_eq!(answer["expires_at"], Value::Null, "{answer:#}");
    let [dsi, aoc] = [&answer["listings"][0], &answer["listings"][1]];
    assert_eq!(
        (&dsi["reason"], &dsi["expires_at"]),
        (&Value::from("fraud"), &Value::Null),
        "{answer:#}"
    );
    assert_eq!(aoc["reason"], "scam_call", "{answer:#}");
    let aoc_expiry = aoc["expires_at"].as_u64().expect("th-aoc's expiry");
    let aoc_listed_at = aoc["listed_at"].as_u64().unwrap();
    assert!(
        aoc_expiry >= aoc_listed_at + 29 * 86_400
            && aoc_listed_at <= dsi["listed_at"].as_u64().unwrap(),
        "{answer:#}"
    );
    // /v1/history shows both listings, and no override.
    let history = readers.history();
    let mut in_history = listed_by(&history["listings"]);
    in_history.sort_unstable();
    assert_eq!(in_history, ["th-aoc", "th-dsi"], "{history:#}");
    assert_eq!(history["value"], CANONICAL, "{history:#}");
    assert_eq!(history["overrides"], serde_json::json!([]), "{history:#}");

    // th-aoc removes its own listing: the number still matches, on th-dsi's.
    let aoc_removal = remove_numbers(
        &centre,
        "th-aoc",
        &aoc_key,
        "aoc-remove.submission",
        &numbers,
        "cleared",
    );
    let out = publish(&centre, &aoc_removal);
    assert!(
        out.contains("published version 3: 0 added, 0 updated, 1 removed"),
        "{out}"
    );
    let shown = ok(&["inspect", s(centre.files("deltas").last().unwrap())]);
    assert!(
        shown.contains("remove number:+66812345678 as listed by th-aoc"),
        "{shown}"
    );
    readers.expect_listed_by(3, &["th-dsi"]);
    let history = readers.history();
    assert_eq!(listed_by(&history["listings"]), ["th-dsi"], "{history:#}");

    // th-aoc's listing is gone; removing it again is removing th-dsi's:
    // refused, naming th-dsi.
    let again = remove_numbers(
        &centre,
        "th-aoc",
        &aoc_key,
        "aoc-remove-again.submission",
        &numbers,
        "cleared",
    );
    let err = fails(&centre.publish_args(&["--submission", s(&again)]));
    assert!(
        err.contains("number +66812345678 is listed by th-dsi; th-aoc may not remove it"),
        "{err}"
    );
    assert_eq!(manifest_version(&centre), "3");

    // th-dsi removes its own, the last: the number no longer matches.
    let dsi_removal = remove_numbers(
        &centre,
        "th-dsi",
        &dsi_key,
        "dsi-remove-2.submission",
        &numbers,
        "cleared",
    );
    let out = publish(&centre, &dsi_removal);
    assert!(
        out.contains("published version 4: 0 added, 0 updated, 1 removed"),
        "{out}"
    );
    readers.expect_listed_by(4, &[]);
    let history = readers.history();
    assert_eq!(history["listings"], serde_json::json!([]), "{history:#}");
    assert!(daemon.stop());

    // An auditor's replay of the whole chain agrees.
    ok(&["verify", s(&centre.dir), "--root", s(&centre.first_root())]);
}
